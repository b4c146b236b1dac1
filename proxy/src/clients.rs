//! The proxy's clients, for CLIENT LIST, CLIENT INFO and CLIENT KILL: each connection
//! registers a [`ClientHandle`] while it lives, updates it as it runs commands, and watches its
//! kill signal. The lines are in Redis's CLIENT LIST format; fields that describe Redis's own
//! buffers (qbuf, omem …) are written as 0, since the proxy's buffers are not Redis's. A client
//! subscribed to anything is of type `pubsub` (flag `P`, its `sub`/`psub`/`ssub` counts), as in
//! Redis; the others are `normal`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::watch;

/// One connected client as CLIENT LIST shows it.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i64,
    created: Instant,
    state: Mutex<State>,
    kill: watch::Sender<bool>,
}

#[derive(Debug)]
struct State {
    name: Option<Bytes>,
    last_active: Instant,
    /// The last command's full name (`client|list`).
    cmd: &'static str,
    resp3: bool,
    /// Commands queued inside MULTI, or `None` outside.
    multi: Option<usize>,
    blocked: bool,
    /// Channels, patterns and shard channels subscribed to.
    subs: [usize; 3],
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i64) -> ClientHandle {
        let now = Instant::now();
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: now,
            state: Mutex::new(State {
                name: None,
                last_active: now,
                cmd: "NULL",
                resp3: false,
                multi: None,
                blocked: false,
                subs: [0; 3],
            }),
            kill: watch::channel(false).0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a command about to run.
    pub fn ran(&self, cmd: &'static str) {
        let mut s = self.state();
        s.cmd = cmd;
        s.last_active = Instant::now();
    }

    /// Records the session's protocol and transaction after a command.
    pub fn session(&self, resp3: bool, multi: Option<usize>) {
        let mut s = self.state();
        s.resp3 = resp3;
        s.multi = multi;
    }

    pub fn set_name(&self, name: Option<Bytes>) {
        self.state().name = name;
    }

    pub fn set_blocked(&self, blocked: bool) {
        self.state().blocked = blocked;
    }

    /// The client's subscription counts: channels, patterns, shard channels.
    pub fn set_subscriptions(&self, subs: [usize; 3]) {
        self.state().subs = subs;
    }

    /// Subscribed to anything: Redis's `pubsub` client type.
    pub fn subscribed(&self) -> bool {
        self.state().subs.iter().any(|&n| n > 0)
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.kill.send_replace(true);
    }

    /// Completes once [`ClientHandle::kill`] was called.
    pub fn killed(&self) -> watch::Receiver<bool> {
        self.kill.subscribe()
    }

    /// Seconds since the connection was accepted.
    pub fn age(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// The CLIENT LIST line (without the newline).
    pub fn line(&self) -> String {
        let s = self.state();
        let mut flags = String::new();
        if s.multi.is_some() {
            flags.push('x');
        }
        if s.blocked {
            flags.push('b');
        }
        if s.subs.iter().any(|&n| n > 0) {
            flags.push('P');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let name = s.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd={} name={name} age={} idle={} flags={flags} db=0 sub={} \
             psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 \
             oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.age(),
            s.last_active.elapsed().as_secs(),
            s.subs[0],
            s.subs[1],
            s.subs[2],
            s.multi.map_or(-1, |n| n as i64),
            s.cmd,
            if s.resp3 { 3 } else { 2 },
        )
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl Registry {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a client until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, handle: Arc<ClientHandle>) -> Registered {
        self.map().insert(handle.id, handle.clone());
        Registered { registry: self.clone(), id: handle.id }
    }

    /// Every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map().values().cloned().collect()
    }
}

/// Removes a client from the registry when dropped.
pub struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.map().remove(&self.id);
    }
}

/// A `TYPE` filter of CLIENT LIST / CLIENT KILL.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum TypeFilter {
    /// No TYPE given.
    #[default]
    Any,
    Normal,
    PubSub,
    /// `master` or `replica`: no proxy client is one.
    Replication,
}

impl TypeFilter {
    pub fn parse(value: &str) -> Result<TypeFilter, String> {
        match value.to_ascii_lowercase().as_str() {
            "normal" => Ok(TypeFilter::Normal),
            "pubsub" => Ok(TypeFilter::PubSub),
            "master" | "slave" | "replica" => Ok(TypeFilter::Replication),
            _ => Err(format!("ERR Unknown client type '{value}'")),
        }
    }

    pub fn matches(self, c: &ClientHandle) -> bool {
        match self {
            TypeFilter::Any => true,
            TypeFilter::Normal => !c.subscribed(),
            TypeFilter::PubSub => c.subscribed(),
            TypeFilter::Replication => false,
        }
    }
}

/// CLIENT KILL's filters (the new form; the old `CLIENT KILL addr:port` is one ADDR filter).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub id: Option<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub kind: TypeFilter,
    pub skipme: bool,
    pub maxage: Option<u64>,
    pub user: Option<String>,
}

impl Filter {
    /// Parses `CLIENT KILL <filter> <value> …` (the arguments after KILL).
    pub fn parse(args: &[Bytes]) -> Result<Filter, String> {
        let mut f = Filter { skipme: true, ..Filter::default() };
        if !args.len().is_multiple_of(2) || args.is_empty() {
            return Err("ERR syntax error".into());
        }
        for pair in args.chunks(2) {
            let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
            let value = String::from_utf8_lossy(&pair[1]).into_owned();
            match key.as_str() {
                "id" => match value.parse::<i64>() {
                    Ok(n) if n > 0 => f.id = Some(n as u64),
                    _ => return Err("ERR client-id should be greater than 0".into()),
                },
                "addr" => f.addr = Some(value),
                "laddr" => f.laddr = Some(value),
                "type" => f.kind = TypeFilter::parse(&value)?,
                "skipme" => match value.to_ascii_lowercase().as_str() {
                    "yes" => f.skipme = true,
                    "no" => f.skipme = false,
                    _ => return Err("ERR syntax error".into()),
                },
                "maxage" => match value.parse::<u64>() {
                    Ok(n) => f.maxage = Some(n),
                    Err(_) => return Err("ERR value is not an integer or out of range".into()),
                },
                "user" => f.user = Some(value),
                _ => return Err("ERR syntax error".into()),
            }
        }
        Ok(f)
    }

    /// Whether `c` matches, `me` being the client asking.
    pub fn matches(&self, c: &ClientHandle, me: u64) -> bool {
        self.kind.matches(c)
            && !(self.skipme && c.id == me)
            && self.id.is_none_or(|id| id == c.id)
            && self.addr.as_deref().is_none_or(|a| a == c.addr.to_string())
            && self.laddr.as_deref().is_none_or(|a| a == c.laddr.to_string())
            && self.maxage.is_none_or(|m| c.age() >= m)
            && self.user.as_deref().is_none_or(|u| u == "default")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn kill_filters_parse_as_redis_checks_them() {
        let f = Filter::parse(&args(&["ID", "7", "skipme", "no"])).unwrap();
        assert_eq!(f.id, Some(7));
        assert!(!f.skipme);
        assert_eq!(
            Filter::parse(&args(&["id", "0"])).unwrap_err(),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(Filter::parse(&args(&["foo", "bar"])).unwrap_err(), "ERR syntax error");
        assert_eq!(Filter::parse(&args(&["id"])).unwrap_err(), "ERR syntax error");
        let c = ClientHandle::new(
            7,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6379".parse().unwrap(),
            9,
        );
        assert!(f.matches(&c, 7));
        assert!(!Filter::parse(&args(&["id", "7"])).unwrap().matches(&c, 7), "skipme by default");
        assert!(!Filter::parse(&args(&["type", "pubsub"])).unwrap().matches(&c, 1));
        assert!(Filter::parse(&args(&["type", "normal"])).unwrap().matches(&c, 1));
        c.set_subscriptions([1, 0, 0]);
        assert!(Filter::parse(&args(&["type", "pubsub"])).unwrap().matches(&c, 1));
        assert!(!Filter::parse(&args(&["type", "normal"])).unwrap().matches(&c, 1));
        assert!(c.line().contains(" flags=P db=0 sub=1 psub=0 ssub=0 "), "{}", c.line());
        assert!(Filter::parse(&args(&["addr", "127.0.0.1:5000"])).unwrap().matches(&c, 1));
        assert!(!Filter::parse(&args(&["laddr", "127.0.0.1:5000"])).unwrap().matches(&c, 1));
    }

    #[test]
    fn lines_follow_redis_format() {
        let c = ClientHandle::new(
            3,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6379".parse().unwrap(),
            9,
        );
        c.ran("client|list");
        c.set_name(Some(Bytes::from_static(b"app")));
        let line = c.line();
        assert!(line.starts_with("id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=app age=0 idle=0 flags=N db=0 "), "{line}");
        assert!(line.contains(" multi=-1 "), "{line}");
        assert!(line.ends_with(" cmd=client|list user=default redir=-1 resp=2"), "{line}");
        c.ran("set");
        c.session(true, Some(2));
        assert!(c.line().contains(" flags=x "));
        assert!(c.line().contains(" multi=2 "));
        assert!(c.line().ends_with("resp=3"));
    }
}
