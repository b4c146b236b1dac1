//! Server parameters. As with `redis-server`, every parameter can be given as `--name value` on
//! the command line, as a `name value` line in a config file (the first argument, when it does
//! not start with `--`), or at run time with CONFIG SET. Parameters rcluster honours are typed
//! fields; Redis's other well-known parameters are kept as text so CONFIG GET reports them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The partition server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on (`bind`).
    pub bind: Vec<String>,
    pub port: u16,
    /// Working directory for data files (`dir`).
    pub dir: PathBuf,
    /// Password clients must give with AUTH/HELLO (`requirepass`); empty = none.
    pub requirepass: String,
    pub maxclients: usize,
    /// Close clients idle for this many seconds; 0 = never (`timeout`).
    pub timeout: u64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: usize,
    /// Background task frequency (`hz`), used by active expiry.
    pub hz: u32,
    /// Whether the active expiry cycle runs (`DEBUG SET-ACTIVE-EXPIRE`).
    pub active_expire: bool,
    /// `slowlog-log-slower-than` in microseconds; negative disables the slow log.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: usize,
    pub loglevel: String,
    /// Redis parameters accepted and reported but without effect here, by name.
    pub other: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 7000,
            dir: PathBuf::from("."),
            requirepass: String::new(),
            maxclients: 10000,
            timeout: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hz: 10,
            active_expire: true,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            loglevel: "notice".into(),
            other: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Builds a config from `redis-server`-style arguments: `[config-file] [--name value ...]`.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Config> {
        let mut config = Config::default();
        let mut args = args.iter().map(AsRef::as_ref).peekable();
        if let Some(first) = args.peek() {
            if !first.starts_with("--") {
                let path = args.next().expect("peeked");
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("can't read config file '{path}': {e}")))?;
                config.apply_file(&text)?;
            }
        }
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| Error::Config(format!("expected --name, got '{arg}'")))?;
            let mut values = Vec::new();
            while let Some(v) = args.peek() {
                if v.starts_with("--") {
                    break;
                }
                values.push(args.next().expect("peeked").to_string());
            }
            config.set(name, &values.join(" ")).map_err(Error::Config)?;
        }
        Ok(config)
    }

    /// Applies `name value` lines; `#` starts a comment.
    pub fn apply_file(&mut self, text: &str) -> Result<()> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let value = value.trim().trim_matches('"');
            self.set(name, value)
                .map_err(|e| Error::Config(format!("config file line {}: {e}", n + 1)))?;
        }
        Ok(())
    }

    /// Sets one parameter by its Redis name. The error text is what CONFIG SET reports.
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<(), String> {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "bind" => self.bind = value.split_whitespace().map(String::from).collect(),
            "port" => self.port = parse_num(value)?,
            "dir" => self.dir = PathBuf::from(value),
            "requirepass" => self.requirepass = value.to_string(),
            "maxclients" => self.maxclients = parse_num(value)?,
            "timeout" => self.timeout = parse_num(value)?,
            "proto-max-bulk-len" => self.proto_max_bulk_len = parse_memory(value)? as usize,
            "hz" => self.hz = parse_num::<u32>(value)?.clamp(1, 500),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = parse_num(value)?,
            "slowlog-max-len" => self.slowlog_max_len = parse_num(value)?,
            "loglevel" => self.loglevel = value.to_string(),
            _ => {
                self.other.insert(name, value.to_string());
            }
        }
        Ok(())
    }
}

fn parse_num<T: std::str::FromStr>(value: &str) -> std::result::Result<T, String> {
    value.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

/// Parses a memory size as Redis does: a number with an optional unit (`kb`, `mb`, `gb` are
/// powers of 1024; `k`, `m`, `g` powers of 1000), case-insensitive.
pub fn parse_memory(value: &str) -> std::result::Result<u64, String> {
    let v = value.to_ascii_lowercase();
    let units: [(&str, u64); 7] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
        ("b", 1),
    ];
    for (unit, mul) in units {
        if let Some(num) = v.strip_suffix(unit) {
            let n: u64 = num.parse().map_err(|_| "argument must be a memory value".to_string())?;
            return n.checked_mul(mul).ok_or_else(|| "argument must be a memory value".to_string());
        }
    }
    v.parse().map_err(|_| "argument must be a memory value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_like_redis_server() {
        let c = Config::from_args(&["--port", "7001", "--requirepass", "pw", "--save", "900", "1"])
            .unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.requirepass, "pw");
        assert_eq!(c.other.get("save").map(String::as_str), Some("900 1"));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("2gb").unwrap(), 2 << 30);
        assert_eq!(parse_memory("1k").unwrap(), 1000);
        assert_eq!(parse_memory("100").unwrap(), 100);
        assert!(parse_memory("x").is_err());
    }
}
