//! Keyspace-wide commands: sent to every shard's master and the replies merged, so that the
//! cluster answers as one big server.
//!
//! - SCAN walks the shards one after the other. The proxy's cursor is the backend's cursor
//!   shifted left by [`SHARD_BITS`] with the shard's index (its place in the routing table) in
//!   the low bits; when a shard's scan ends the cursor moves to the next shard's start, and the
//!   last shard's end is cursor 0. MATCH, COUNT and TYPE go to the backend as they are. Since
//!   each backend's SCAN returns every key present throughout its scan, so does the whole one
//!   (as long as the slots stay on their shards meanwhile).
//! - KEYS concatenates, DBSIZE and SLOWLOG LEN add up, RANDOMKEY picks among the shards' random
//!   keys, FLUSHDB/FLUSHALL and SLOWLOG RESET need every shard's `+OK`.
//! - SLOWLOG GET merges the shards' entries, newest first, and keeps the count asked for.
//! - INFO: the proxy's own `server`, `clients`, `cluster` and `proxy` sections, and the
//!   shards' `memory`, `stats`, `cpu`, `commandstats`, `errorstats` and `keyspace` summed
//!   (averages, ratios and percentages averaged instead).
//!
//! Requests go over the client's own shared backend connections (so they stay in order with
//! its other commands); any shard's error is the reply.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use protocol::command::CommandSpec;
use protocol::frame::{Frame, FrameLimits};
use protocol::ReplyWriter;

use crate::router::Routes;
use crate::server::Shared;
use crate::split::{array_elements, encode_command, integer};

/// Low bits of the proxy's SCAN cursor that hold the shard index (up to 1024 shards).
pub const SHARD_BITS: u32 = 10;
const SHARD_MASK: u64 = (1 << SHARD_BITS) - 1;

/// How a fanned-out command's replies merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SCAN on one shard, from the backend cursor.
    Scan { shard: usize, cursor: u64 },
    /// Arrays concatenated (KEYS).
    Concat,
    /// Integers summed (DBSIZE, SLOWLOG LEN).
    Sum,
    /// One of the shards' non-null replies (RANDOMKEY).
    Random,
    /// `+OK` from every shard (FLUSHDB, FLUSHALL, SLOWLOG RESET).
    AllOk,
    /// INFO's sections merged.
    Info,
    /// SLOWLOG GET's entries merged, newest first; `None`: all of them.
    Slowlog { count: Option<usize> },
}

impl Kind {
    /// The fan-out of a command, if it is one; an error reply for bad arguments the proxy
    /// checks itself (SCAN's cursor, SLOWLOG GET's count).
    pub fn of(spec: &CommandSpec, args: &[Bytes]) -> Result<Option<Kind>, String> {
        Ok(Some(match spec.name {
            "scan" => {
                let cursor = parse_cursor(&args[1]).ok_or("ERR invalid cursor")?;
                Kind::Scan { shard: (cursor & SHARD_MASK) as usize, cursor: cursor >> SHARD_BITS }
            }
            "keys" => Kind::Concat,
            "dbsize" | "slowlog|len" => Kind::Sum,
            "randomkey" => Kind::Random,
            "flushdb" | "flushall" | "slowlog|reset" => Kind::AllOk,
            "info" => Kind::Info,
            "slowlog|get" => {
                let count = match args.get(2) {
                    None => Some(10),
                    Some(a) => match protocol::number::parse_i64(a) {
                        Some(-1) => None,
                        Some(n) if n >= 0 => Some(n as usize),
                        Some(_) => {
                            return Err("ERR count should be greater than or equal to -1".into())
                        }
                        None => return Err("ERR value is not an integer or out of range".into()),
                    },
                };
                Kind::Slowlog { count }
            }
            _ => return Ok(None),
        }))
    }
}

/// A SCAN cursor as Redis reads it: decimal digits of a u64 (an empty one is 0).
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let digits = arg.strip_prefix(b"+").unwrap_or(arg);
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The requests of a fan-out: (shard index, encoded command). SCAN goes to the one shard its
/// cursor names, with the backend's cursor; a cursor naming no shard of this table gets none.
pub fn requests(
    kind: Kind,
    args: &[Bytes],
    routes: &Routes,
    enc: &mut BytesMut,
) -> Vec<(usize, Bytes)> {
    let shards = routes.table.shards.len();
    match kind {
        Kind::Scan { shard, cursor } => {
            if shard >= shards {
                return Vec::new();
            }
            let mut a = args.to_vec();
            a[1] = Bytes::from(cursor.to_string());
            vec![(shard, encode_command(enc, &a))]
        }
        _ => {
            let cmd = encode_command(enc, args);
            (0..shards).map(|i| (i, cmd.clone())).collect()
        }
    }
}

fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-' | b'!'))
}

/// Merges the replies (in the order of [`requests`]) into `out`.
pub fn merge(
    shared: &Shared,
    kind: Kind,
    args: &[Bytes],
    replies: &[(usize, Bytes)],
    out: &mut ReplyWriter,
) {
    if let Some((_, err)) = replies.iter().find(|(_, r)| is_error(r)) {
        return out.raw(err);
    }
    let unexpected = |out: &mut ReplyWriter| out.error("ERR unexpected reply from a backend");
    match kind {
        Kind::Scan { shard, .. } => {
            let Some((_, reply)) = replies.first() else {
                // The cursor named a shard this table does not have: the scan is over.
                out.array(2);
                out.bulk(b"0");
                out.array(0);
                return;
            };
            let Some(parts) = array_elements(reply).filter(|p| p.len() == 2) else {
                return unexpected(out);
            };
            let Some(next) = bulk_text(parts[0]).and_then(|t| parse_cursor(&t)) else {
                return unexpected(out);
            };
            let shards = shared.router.routes().table.shards.len() as u64;
            let cursor = if next != 0 {
                if next >> (64 - SHARD_BITS) != 0 {
                    return out
                        .error("ERR a backend's SCAN cursor is too large for the proxy's cursor");
                }
                next << SHARD_BITS | shard as u64
            } else if (shard as u64 + 1) < shards {
                shard as u64 + 1
            } else {
                0
            };
            out.array(2);
            out.bulk(cursor.to_string().as_bytes());
            out.raw(parts[1]);
        }
        Kind::Concat => {
            let mut all = Vec::new();
            for (_, r) in replies {
                match array_elements(r) {
                    Some(e) => all.extend(e),
                    None => return unexpected(out),
                }
            }
            out.array(all.len());
            for e in all {
                out.raw(e);
            }
        }
        Kind::Sum => {
            let mut sum = 0i64;
            for (_, r) in replies {
                match integer(r) {
                    Some(n) => sum += n,
                    None => return unexpected(out),
                }
            }
            out.integer(sum);
        }
        Kind::Random => {
            let found: Vec<&Bytes> = replies
                .iter()
                .map(|(_, r)| r)
                .filter(|r| r.first() == Some(&b'$') && !r.starts_with(b"$-1"))
                .collect();
            if found.is_empty() {
                return out.null();
            }
            let pick = RandomState::new().build_hasher().finish() as usize % found.len();
            out.raw(found[pick]);
        }
        Kind::AllOk => out.ok(),
        Kind::Slowlog { count } => {
            let mut entries = Vec::new();
            for (_, r) in replies {
                let Some(list) = array_elements(r) else { return unexpected(out) };
                for e in list {
                    let fields = array_elements(e).unwrap_or_default();
                    let id = fields.first().and_then(|f| integer(f)).unwrap_or(0);
                    let at = fields.get(1).and_then(|f| integer(f)).unwrap_or(0);
                    entries.push((at, id, e));
                }
            }
            entries.sort_by_key(|&(at, id, _)| std::cmp::Reverse((at, id)));
            entries.truncate(count.unwrap_or(usize::MAX));
            out.array(entries.len());
            for (_, _, e) in entries {
                out.raw(e);
            }
        }
        Kind::Info => {
            let texts: Vec<String> = replies
                .iter()
                .filter_map(|(_, r)| bulk_text(r))
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .collect();
            let text = info(shared, args, &texts);
            out.verbatim("txt", text.as_bytes());
        }
    }
}

/// The text of a bulk or verbatim string reply.
fn bulk_text(reply: &[u8]) -> Option<Bytes> {
    let mut buf = BytesMut::from(reply);
    match Frame::parse(&mut buf, &FrameLimits::default()).ok()?? {
        Frame::Bulk(b) => Some(b),
        Frame::Verbatim { text, .. } => Some(text),
        _ => None,
    }
}

/// INFO's sections in the order Redis prints them; which the proxy writes itself; whether
/// `INFO` without arguments (`default`) includes them.
const SECTIONS: &[(&str, &str, bool, bool)] = &[
    ("server", "Server", true, true),
    ("clients", "Clients", true, true),
    ("memory", "Memory", false, true),
    ("stats", "Stats", false, true),
    ("cpu", "CPU", false, true),
    ("cluster", "Cluster", true, true),
    ("proxy", "Proxy", true, true),
    ("commandstats", "Commandstats", false, false),
    ("errorstats", "Errorstats", false, true),
    ("keyspace", "Keyspace", false, true),
];

/// The text of INFO for `args` from the shards' INFO texts.
fn info(shared: &Shared, args: &[Bytes], shards: &[String]) -> String {
    let words: Vec<String> =
        args[1..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let wanted = |name: &str, default: bool| {
        if words.is_empty() {
            return default;
        }
        words.iter().any(|w| match w.as_str() {
            "all" | "everything" => true,
            "default" => default,
            w => w == name,
        })
    };
    let parsed: Vec<Vec<Section>> = shards.iter().map(|t| sections(t)).collect();
    let mut out = Vec::new();
    for &(name, title, own, default) in SECTIONS {
        if !wanted(name, default) {
            continue;
        }
        let lines = if own {
            own_section(shared, name)
        } else {
            let per_shard: Vec<&[(String, String)]> = parsed
                .iter()
                .filter_map(|s| s.iter().find(|(n, _)| n == name).map(|(_, f)| f.as_slice()))
                .collect();
            summed(&per_shard)
        };
        let mut s = format!("# {title}\r\n");
        for (k, v) in lines {
            s.push_str(&format!("{k}:{v}\r\n"));
        }
        out.push(s);
    }
    out.join("\r\n")
}

/// An INFO section: its lower-case name and its `key:value` lines in order.
type Section = (String, Vec<(String, String)>);

/// The sections of an INFO text.
fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(title) = line.strip_prefix("# ") {
            out.push((title.trim().to_ascii_lowercase(), Vec::new()));
        } else if let (Some((k, v)), Some(last)) = (line.split_once(':'), out.last_mut()) {
            last.1.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// Whether a field is an average or a ratio, which is averaged over shards, not added up.
fn averaged(name: &str) -> bool {
    ["avg", "per_call", "ratio", "perc", "frag"].iter().any(|w| name.contains(w))
}

/// A number as INFO shows it: integers as integers, others with two decimals.
fn number(v: f64, int: bool) -> String {
    if int {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

fn parse_number(v: &str) -> Option<(f64, bool)> {
    if let Ok(i) = v.parse::<i64>() {
        return Some((i as f64, true));
    }
    v.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| (f, false))
}

/// A summed field: a number, or a `k=v,k=v` list (keyspace, commandstats) summed per `k`.
/// Values that are neither (versions, human-readable sizes) are left out.
enum Sum {
    Number { total: f64, int: bool, n: u32 },
    List(Vec<(String, f64, bool, u32)>),
}

fn summed(shards: &[&[(String, String)]]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, Sum)> = Vec::new();
    for lines in shards {
        for (k, v) in lines.iter() {
            let at = fields.iter().position(|(name, _)| name == k);
            if let Some((x, int)) = parse_number(v) {
                match at.map(|i| &mut fields[i].1) {
                    Some(Sum::Number { total, int: i, n }) => {
                        *total += x;
                        *i &= int;
                        *n += 1;
                    }
                    Some(Sum::List(_)) => {}
                    None => fields.push((k.clone(), Sum::Number { total: x, int, n: 1 })),
                }
                continue;
            }
            let list: Option<Vec<(String, f64, bool)>> = v
                .split(',')
                .map(|kv| {
                    let (a, b) = kv.split_once('=')?;
                    let (x, int) = parse_number(b)?;
                    Some((a.to_string(), x, int))
                })
                .collect();
            let Some(list) = list else { continue };
            let i = match at {
                Some(i) => i,
                None => {
                    fields.push((k.clone(), Sum::List(Vec::new())));
                    fields.len() - 1
                }
            };
            if let Sum::List(have) = &mut fields[i].1 {
                for (a, x, int) in list {
                    match have.iter_mut().find(|(n, ..)| *n == a) {
                        Some((_, total, i, n)) => {
                            *total += x;
                            *i &= int;
                            *n += 1;
                        }
                        None => have.push((a, x, int, 1)),
                    }
                }
            }
        }
    }
    let value = |name: &str, total: f64, int: bool, n: u32| {
        if averaged(name) {
            number(total / f64::from(n.max(1)), int)
        } else {
            number(total, int)
        }
    };
    fields
        .into_iter()
        .map(|(k, s)| {
            let v = match s {
                Sum::Number { total, int, n } => value(&k, total, int, n),
                Sum::List(list) => list
                    .iter()
                    .map(|(a, total, int, n)| format!("{a}={}", value(a, *total, *int, *n)))
                    .collect::<Vec<_>>()
                    .join(","),
            };
            (k, v)
        })
        .collect()
}

/// The proxy's own INFO sections.
fn own_section(shared: &Shared, name: &str) -> Vec<(String, String)> {
    let kv = |k: &str, v: String| (k.to_string(), v);
    let uptime = shared.started.elapsed().as_secs();
    let port = protocol::addr::split_host_port(&shared.announce).map_or(0, |(_, p)| p);
    match name {
        "server" => vec![
            kv("redis_version", protocol::redis_text::REDIS_VERSION.into()),
            kv("redis_mode", "cluster".into()),
            kv("rcluster_version", env!("CARGO_PKG_VERSION").into()),
            kv("rcluster_role", "proxy".into()),
            kv("arch_bits", (usize::BITS).to_string()),
            kv("process_id", std::process::id().to_string()),
            kv("run_id", shared.node_id.clone()),
            kv("tcp_port", port.to_string()),
            kv("uptime_in_seconds", uptime.to_string()),
            kv("uptime_in_days", (uptime / 86400).to_string()),
        ],
        "clients" => vec![
            kv("connected_clients", shared.clients.load(Ordering::Relaxed).to_string()),
            kv("maxclients", shared.config.maxclients.to_string()),
            kv("blocked_clients", shared.blocked_clients().to_string()),
        ],
        "cluster" => vec![kv("cluster_enabled", "1".into())],
        "proxy" => {
            let routes = shared.router.routes();
            let connected: u64 = shared.router.pool_stats().iter().map(|(_, p)| p.connected).sum();
            vec![
                kv("proxy_id", shared.node_id.clone()),
                kv("proxy_announce", shared.announce.clone()),
                kv("routing_epoch", shared.router.epoch().to_string()),
                kv(
                    "routing_age_seconds",
                    shared.router.age().map_or("-1".into(), |a| a.as_secs().to_string()),
                ),
                kv("shards", routes.table.shards.len().to_string()),
                kv("backend_connections", connected.to_string()),
                kv("blocking_connections", shared.blocked_clients().to_string()),
                kv("max_blocking_connections", shared.config.max_blocking_connections.to_string()),
            ]
            .into_iter()
            .chain(crate::pubsub::info(shared))
            .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_as_redis_reads_them() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b"-1"), None);
    }

    #[test]
    fn info_fields_sum_and_averages_average() {
        let a = vec![
            ("keyspace_hits".to_string(), "3".to_string()),
            ("instantaneous_input_kbps".to_string(), "1.50".to_string()),
            ("db0".to_string(), "keys=2,expires=1,avg_ttl=100".to_string()),
            ("mem_fragmentation_ratio".to_string(), "1.00".to_string()),
            ("used_memory_human".to_string(), "1.2M".to_string()),
        ];
        let b = vec![
            ("keyspace_hits".to_string(), "4".to_string()),
            ("instantaneous_input_kbps".to_string(), "0.25".to_string()),
            ("db0".to_string(), "keys=5,expires=0,avg_ttl=300".to_string()),
            ("mem_fragmentation_ratio".to_string(), "2.00".to_string()),
        ];
        let got = summed(&[&a, &b]);
        let get = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("keyspace_hits"), Some("7"));
        assert_eq!(get("instantaneous_input_kbps"), Some("1.75"));
        assert_eq!(get("db0"), Some("keys=7,expires=1,avg_ttl=200"));
        assert_eq!(get("mem_fragmentation_ratio"), Some("1.50"));
        assert_eq!(get("used_memory_human"), None);
    }

    #[test]
    fn info_text_splits_into_sections() {
        let s = sections("# Stats\r\na:1\r\nb:2\r\n\r\n# Keyspace\r\ndb0:keys=1\r\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "stats");
        assert_eq!(s[0].1, vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(s[1].1, vec![("db0".into(), "keys=1".into())]);
    }
}
