//! Sending one request to its backend and retrying it while that is safe (DESIGN.md, "Roles,
//! leases and failover", point 7). A read-only command goes where `--read-from` says (the
//! master, or a replica of its shard; with `replica-preferred` its retries go to the master).
//!
//! - `-MOVED <slot> <addr>`: the request was not run; it goes to `addr` at once and the
//!   routing table is refreshed.
//! - `-TRYAGAIN …` (a master without a lease), `-CLUSTERDOWN …`, `-READONLY …` (the table
//!   already names a promoted replica that has not taken its new role yet), `-LOADING …`, a
//!   refused connection, a slot no table places: the request was not run; it is retried when
//!   a newer table arrives or after a short backoff.
//! - The connection broke after the request was written: its outcome is unknown. A read-only
//!   command is retried; anything else gets an error saying so — never a second write.
//! - `-ASK` belongs to slot migrations (phase 2): it reaches the client as the error it is.
//!
//! Every retry happens before the retry deadline (`--retry-deadline-ms`); then the client
//! gets the last error.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::backend::{Failure, Reply, ReplyReceiver};
use crate::config::ReadFrom;
use crate::metrics::{ErrorKind, Metrics};
use crate::server::Shared;

/// One request to one backend.
#[derive(Debug, Clone)]
pub struct Req {
    /// The encoded command.
    pub cmd: Bytes,
    /// The slot it is routed by; `None`: any master.
    pub slot: Option<u16>,
    /// Read-only commands may be retried when their outcome is unknown.
    pub readonly: bool,
    /// Sent on the client's protocol version's connections.
    pub resp3: bool,
    /// The client, which picks the backend connection (keeps its commands in order).
    pub client: u64,
}

/// Why a request has no usable reply yet.
#[derive(Debug)]
pub enum Cause {
    /// `-MOVED`: the owner is at this address.
    Moved(String),
    /// `-TRYAGAIN` / `-CLUSTERDOWN` / `-READONLY` / `-LOADING` from the backend (its reply).
    Busy(Bytes),
    /// The table places the slot nowhere.
    NoRoute,
    Failed(Failure),
}

/// What a first attempt came to.
pub type Attempt = Result<ReplyReceiver, Cause>;

/// Sends `req` where the table in force routes it (a read-only command where `--read-from`
/// says).
pub async fn send(shared: &Shared, req: &Req) -> Attempt {
    send_reading_from(shared, req, shared.config.read_from).await
}

/// Sends `req` where the table in force routes it, a read-only command as `mode` says.
async fn send_reading_from(shared: &Shared, req: &Req, mode: ReadFrom) -> Attempt {
    let pool = {
        let routes = shared.router.routes();
        match req.slot {
            Some(slot) if req.readonly && mode != ReadFrom::Master => {
                routes.read_pool_for_slot(slot, mode, req.client, req.resp3).cloned()
            }
            Some(slot) => routes.pool_for_slot(slot).cloned(),
            None => routes.any_pool().cloned(),
        }
    };
    match pool {
        Some(pool) => Ok(pool.send(req.resp3, req.client, req.cmd.clone()).await),
        None => Err(Cause::NoRoute),
    }
}

/// Sorts a backend reply into a final one or a reason to retry.
fn classify(reply: Reply) -> Result<Bytes, Cause> {
    let bytes = reply.map_err(Cause::Failed)?;
    match not_run(&bytes) {
        Some(cause) => Err(cause),
        None => Ok(bytes),
    }
}

/// Why a reply says its command was not run and may go again: `-MOVED`, `-TRYAGAIN`,
/// `-CLUSTERDOWN`, `-READONLY`, `-LOADING`. `None` for any other reply.
pub fn not_run(bytes: &Bytes) -> Option<Cause> {
    if bytes.first() != Some(&b'-') {
        return None;
    }
    if let Some(rest) = bytes.strip_prefix(b"-MOVED ") {
        let text = String::from_utf8_lossy(rest);
        return text.split_ascii_whitespace().nth(1).map(|addr| Cause::Moved(addr.to_string()));
    }
    const NOT_RUN: [&[u8]; 4] = [b"-TRYAGAIN", b"-CLUSTERDOWN", b"-READONLY", b"-LOADING"];
    NOT_RUN.iter().any(|prefix| bytes.starts_with(prefix)).then(|| Cause::Busy(bytes.clone()))
}

/// Counts a reason to retry among the errors.
pub fn count(metrics: &Metrics, cause: &Cause) {
    let kind = match cause {
        Cause::Moved(_) => ErrorKind::Moved,
        Cause::Busy(reply) if reply.starts_with(b"-TRYAGAIN") => ErrorKind::TryAgain,
        Cause::Busy(reply) if reply.starts_with(b"-CLUSTERDOWN") => ErrorKind::ClusterDown,
        Cause::Busy(_) => ErrorKind::NotReady,
        Cause::NoRoute => ErrorKind::ClusterDown,
        Cause::Failed(Failure::NotSent(_)) => ErrorKind::BackendUnreachable,
        Cause::Failed(Failure::Unknown(_)) => ErrorKind::OutcomeUnknown,
    };
    metrics.error(kind);
}

async fn receive(rx: ReplyReceiver) -> Reply {
    // The connection task always answers; a dropped sender means it died mid-request.
    rx.await.unwrap_or_else(|_| Err(Failure::Unknown("the backend connection task ended".into())))
}

/// An error reply (RESP2 and RESP3 encode errors alike).
pub fn error(text: &str) -> Bytes {
    let mut w = protocol::ReplyWriter::new(false);
    w.error(text);
    w.buffer_mut().split().freeze()
}

/// The retry backoff: 10 ms doubling to 200 ms.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(10u64 << attempt.min(5)).min(Duration::from_millis(200))
}

/// Waits for the first attempt's reply and retries as the rules allow; the reply to give the
/// client.
pub async fn complete(shared: &Shared, req: &Req, first: Attempt) -> Bytes {
    match first_reply(shared, first).await {
        Ok(bytes) => bytes,
        Err(cause) => retry(shared, req, cause).await,
    }
}

/// The first attempt's reply, or why it must be retried (counted among the errors).
pub async fn first_reply(shared: &Shared, first: Attempt) -> Result<Bytes, Cause> {
    let reply = match first {
        Ok(rx) => classify(receive(rx).await),
        Err(cause) => Err(cause),
    };
    if let Err(cause) = &reply {
        count(&shared.metrics, cause);
    }
    reply
}

/// Retries `req` after `cause`, as the rules allow; the reply to give the client.
pub async fn retry(shared: &Shared, req: &Req, mut cause: Cause) -> Bytes {
    let deadline = Instant::now() + shared.config.retry_deadline();
    let mut attempt = 0u32;
    loop {
        if let Cause::Failed(Failure::Unknown(why)) = &cause {
            if !req.readonly {
                return error(&format!(
                    "ERR the connection to the backend broke after the command was sent ({why}): \
                     its outcome is unknown"
                ));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return give_up(cause);
        }
        let pool = match &cause {
            Cause::Moved(addr) => {
                shared.router.request_refresh();
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt).min(deadline - now)).await;
                }
                Some(shared.router.pool(addr))
            }
            Cause::Failed(Failure::Unknown(_)) if attempt == 0 => None,
            _ => {
                let epoch = shared.router.epoch();
                shared.router.wait_newer(epoch, backoff(attempt).min(deadline - now)).await;
                None
            }
        };
        attempt += 1;
        shared.metrics.retry();
        // `replica-preferred`: a replica failed it (down, loading …), so the master now.
        let mode = match shared.config.read_from {
            ReadFrom::ReplicaPreferred => ReadFrom::Master,
            mode => mode,
        };
        let sent = match pool {
            Some(pool) => Ok(pool.send(req.resp3, req.client, req.cmd.clone()).await),
            None => send_reading_from(shared, req, mode).await,
        };
        let reply = match sent {
            Ok(rx) => classify(receive(rx).await),
            Err(c) => Err(c),
        };
        match reply {
            Ok(bytes) => return bytes,
            Err(c) => {
                count(&shared.metrics, &c);
                cause = c;
            }
        }
    }
}

/// What one try of a command on a dedicated connection (a transaction, a blocking command)
/// came to, for [`retry_dedicated`].
pub enum Try<T> {
    /// Finished, well or not: what the client gets.
    Done(T),
    /// The backend ran none of it, for this reason; with the backend's own reply, given to the
    /// client if the deadline passes.
    NotRun(Cause, Option<Bytes>),
    /// A kept connection the backend had closed meanwhile: nothing ran; go again at once, to
    /// the same address.
    Stale,
}

/// Runs `try_at(addr)` on the master of `slot` (any master for `None`) until it is done: a
/// MOVED asks for a new table and goes at once to the address it names, anything else not run
/// waits for a newer table or the backoff — the rules of [`retry`], for the commands that do
/// not go through a pool. `Err`: the reply to give once the retry deadline has passed.
pub async fn retry_dedicated<T, F, Fut>(
    shared: &Shared,
    slot: Option<u16>,
    mut try_at: F,
) -> Result<T, Bytes>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Try<T>>,
{
    let deadline = Instant::now() + shared.config.retry_deadline();
    let mut moved_to: Option<String> = None;
    let mut attempt = 0u32;
    loop {
        let target = moved_to.take().or_else(|| {
            let routes = shared.router.routes();
            let pool = match slot {
                Some(slot) => routes.pool_for_slot(slot),
                None => routes.any_pool(),
            };
            pool.map(|p| p.addr().to_string())
        });
        let (cause, last) = match target {
            None => (Cause::NoRoute, None),
            Some(addr) => match try_at(addr.clone()).await {
                Try::Done(done) => return Ok(done),
                Try::Stale => {
                    moved_to = Some(addr);
                    continue;
                }
                Try::NotRun(cause, last) => (cause, last),
            },
        };
        count(&shared.metrics, &cause);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(last.unwrap_or_else(|| give_up(cause)));
        }
        moved_to = match cause {
            Cause::Moved(addr) => {
                shared.router.request_refresh();
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt).min(left)).await;
                }
                Some(addr)
            }
            _ => {
                let epoch = shared.router.epoch();
                shared.router.wait_newer(epoch, backoff(attempt).min(left)).await;
                None
            }
        };
        attempt += 1;
        shared.metrics.retry();
    }
}

/// The reply once the deadline has passed.
pub fn give_up(cause: Cause) -> Bytes {
    match cause {
        Cause::Busy(reply) => reply,
        Cause::NoRoute => error("CLUSTERDOWN Hash slot not served"),
        Cause::Moved(addr) => {
            error(&format!("TRYAGAIN still redirected to {addr} when the retry deadline passed"))
        }
        Cause::Failed(Failure::NotSent(why)) => {
            error(&format!("TRYAGAIN no backend reachable before the retry deadline: {why}"))
        }
        Cause::Failed(Failure::Unknown(why)) => {
            error(&format!("TRYAGAIN the backend connection broke and retries ran out: {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirections_and_unavailability_are_retried_other_errors_are_replies() {
        let c = classify(Ok(Bytes::from_static(b"-MOVED 12 10.0.0.1:7000\r\n")));
        assert!(matches!(c, Err(Cause::Moved(a)) if a == "10.0.0.1:7000"));
        assert!(matches!(
            classify(Ok(Bytes::from_static(b"-TRYAGAIN x\r\n"))),
            Err(Cause::Busy(_))
        ));
        assert!(matches!(
            classify(Ok(Bytes::from_static(b"-CLUSTERDOWN Hash slot not served\r\n"))),
            Err(Cause::Busy(_))
        ));
        assert!(matches!(
            classify(Ok(Bytes::from_static(
                b"-READONLY You can't write against a read only replica.\r\n"
            ))),
            Err(Cause::Busy(_))
        ));
        for final_reply in [&b"-ASK 12 h:1\r\n"[..], b"-ERR no\r\n", b"+OK\r\n", b"$-1\r\n"] {
            assert_eq!(classify(Ok(Bytes::copy_from_slice(final_reply))).unwrap(), final_reply);
        }
        assert_eq!(backoff(0), Duration::from_millis(10));
        assert_eq!(backoff(9), Duration::from_millis(200));
    }
}
