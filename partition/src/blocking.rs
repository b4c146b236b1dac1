//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, BLMPOP …): what a handler asks for when it finds
//! nothing to pop, and how long it waits.
//!
//! A blocking handler first tries to serve the command at once. When every key is empty it calls
//! [`crate::cmd::Ctx::block`] instead of replying. The client is then parked on its keys; when a
//! write signals one of them ([`crate::cmd::Ctx::signal_modified`]), the server runs the same
//! handler again with the same arguments for the parked clients, first come first served, right
//! after the write — before any other client's command — so an element pushed for a waiting
//! client cannot be taken by a client that arrived later. A handler that still finds nothing
//! calls `block` again and the client keeps its place. Inside MULTI/EXEC a client cannot wait:
//! `block` then writes the timeout reply at once, as Redis does.

use bytes::Bytes;

use crate::error::CmdError;

/// The reply a blocking command gives when it cannot wait (inside MULTI/EXEC). A client whose
/// wait times out always gets a null array instead, whatever the command, as Redis 7.0's
/// `replyToBlockedClientTimedOut` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null bulk string (BLMOVE, BRPOPLPUSH).
    Null,
    /// A null array (BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
    NullArray,
}

/// A handler's request to wait for one of `keys`.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// The type whose values the command pops (`"list"`, `"zset"`): a signalled key holding
    /// another type does not wake the client, as in Redis 7.0.
    pub waits_for: &'static str,
    /// Unix milliseconds; `None` waits forever.
    pub deadline_ms: Option<u64>,
    pub on_timeout: TimeoutReply,
}

/// Redis's `getTimeoutFromObjectOrReply` for timeouts in seconds (fractions allowed; 0 waits
/// forever): the deadline in Unix milliseconds, or `None` for no deadline.
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CmdError> {
    let secs = protocol::number::parse_f64(arg)
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // C's conversion of an out-of-range double yields i64::MIN on x86: "negative".
    let ms = if ms.is_finite() && ms < i64::MAX as f64 { ms as i64 } else { i64::MIN };
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(CmdError::err("timeout is out of range"));
    }
    Ok(Some(now_ms + ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"1.5", 1000).unwrap(), Some(2500));
        assert_eq!(parse_timeout(b"0.0001", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"-1", 0).unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(
            parse_timeout(b"abc", 0).unwrap_err().to_string(),
            "ERR timeout is not a float or out of range"
        );
        assert_eq!(parse_timeout(b"inf", 0).unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(
            parse_timeout(b"10", (i64::MAX - 5000) as u64).unwrap_err().to_string(),
            "ERR timeout is out of range"
        );
    }
}

/// A client parked by a blocking command.
#[derive(Debug)]
pub struct BlockedClient {
    pub handle: std::sync::Arc<crate::client::ClientHandle>,
    /// The command, re-run when one of its keys is signalled.
    pub args: Vec<Bytes>,
    pub request: BlockRequest,
}

/// The clients parked on keys, in arrival order per key, and the keys signalled since they
/// were last served.
#[derive(Debug, Default)]
pub struct Blocked {
    by_key: std::collections::HashMap<Vec<u8>, std::collections::VecDeque<u64>, ahash::RandomState>,
    clients: std::collections::HashMap<u64, BlockedClient, ahash::RandomState>,
    ready: Vec<Vec<u8>>,
}

impl Blocked {
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Number of blocked clients (INFO `blocked_clients`).
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Number of blocked clients with a timeout (INFO `clients_in_timeout_table`).
    pub fn with_deadline(&self) -> usize {
        self.clients.values().filter(|c| c.request.deadline_ms.is_some()).count()
    }

    /// Parks a client at the end of the queue of each of its keys.
    pub fn park(&mut self, client: BlockedClient) {
        let id = client.handle.id;
        for key in &client.request.keys {
            let queue = self.by_key.entry(key.to_vec()).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
            }
        }
        client.handle.info().blocked = true;
        self.clients.insert(id, client);
    }

    /// Removes a client from every queue; its record, if it was still parked.
    pub fn unpark(&mut self, id: u64) -> Option<BlockedClient> {
        let client = self.clients.remove(&id)?;
        for key in &client.request.keys {
            if let Some(queue) = self.by_key.get_mut(&key[..]) {
                queue.retain(|&c| c != id);
                if queue.is_empty() {
                    self.by_key.remove(&key[..]);
                }
            }
        }
        client.handle.info().blocked = false;
        Some(client)
    }

    /// True when `id` is still parked.
    pub fn contains(&self, id: u64) -> bool {
        self.clients.contains_key(&id)
    }

    /// Records that `key` was written: its clients are served after the current command.
    pub fn signal(&mut self, key: &[u8]) {
        if self.by_key.contains_key(key) && !self.ready.iter().any(|k| k == key) {
            self.ready.push(key.to_vec());
        }
    }

    /// True when some signalled key has clients to serve.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn take_ready(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.ready)
    }

    /// The clients parked on `key`, first come first.
    fn queue(&self, key: &[u8]) -> Vec<u64> {
        self.by_key.get(key).map(|q| q.iter().copied().collect()).unwrap_or_default()
    }

    /// The ids of every parked client.
    pub fn ids(&self) -> Vec<u64> {
        self.clients.keys().copied().collect()
    }
}

/// Serves the clients parked on the keys signalled so far (Redis's
/// `handleClientsBlockedOnKeys`): for each key, in order, its clients first come first served,
/// each by running its command again. A client whose command found data gets the reply in its
/// outbox and is unparked; one that finds nothing again keeps its place. Serving can signal
/// further keys (BLMOVE pushes to its destination), which are served in turn.
pub fn serve_ready(server: &crate::server::Server, state: &mut crate::state::State, now_ms: u64) {
    while state.blocked.has_ready() {
        for key in state.blocked.take_ready() {
            for id in state.blocked.queue(&key) {
                // Like Redis 7.0, wait on: a key that became some other type does not wake.
                let wanted = match state.blocked.clients.get(&id) {
                    Some(c) => c.request.waits_for,
                    None => continue,
                };
                let live = state
                    .keyspace
                    .peek(&key, now_ms)
                    .is_some_and(|e| e.value.type_name() == wanted);
                if !live {
                    continue;
                }
                serve_one(server, state, id, now_ms);
            }
        }
    }
}

/// Re-runs the command of parked client `id`; unparks it and delivers the reply if it was
/// served.
fn serve_one(
    server: &crate::server::Server,
    state: &mut crate::state::State,
    id: u64,
    now_ms: u64,
) {
    let Some(parked) = state.blocked.clients.get(&id) else { return };
    let handle = parked.handle.clone();
    let args = parked.args.clone();
    let resp3 = handle.info().resp >= 3;
    let mut client = crate::client::Client::new(handle.clone(), true);
    let mut out = protocol::ReplyWriter::new(resp3);
    let mut ctx = crate::cmd::Ctx { server, state, client: &mut client, out: &mut out, now_ms };
    crate::cmd::dispatch(&mut ctx, &args, std::time::Instant::now());
    if client.block.is_some() {
        return;
    }
    state.blocked.unpark(id);
    // A normal client has no output limit (`normal 0 0 0` by default): one reply.
    if !handle.outbox.push(out.buffer(), crate::client::BufferLimit::default(), 0) {
        handle.kill();
    }
}

/// The reply of a blocking command that cannot wait.
pub fn write_timeout_reply(out: &mut protocol::ReplyWriter, reply: TimeoutReply) {
    match reply {
        TimeoutReply::Null => out.null(),
        TimeoutReply::NullArray => out.null_array(),
    }
}
