//! Transactions through the proxy: MULTI, EXEC, DISCARD, WATCH, UNWATCH, for transactions
//! whose keys are all in one slot.
//!
//! The proxy queues the transaction itself: MULTI is answered `+OK`, each command is checked
//! as Redis checks it when queuing (unknown command, arity, NOAUTH) plus the proxy's own rule
//! that every key of the transaction hashes to one slot, and answered `+QUEUED` or with the
//! error — an error marks the transaction so that EXEC answers `-EXECABORT`, as Redis does
//! for errors while queuing. Nothing reaches a backend before EXEC, so a transaction refused
//! for its keys has applied nothing. EXEC opens a dedicated connection to the master of the
//! transaction's slot and sends `MULTI`, the queue and `EXEC`; the client gets EXEC's reply.
//! (After EXEC the connection is as new, and is kept for the next transaction: see
//! [`crate::dedicated::Idle`].)
//!
//! WATCH pins a dedicated connection to the master of its keys' slot at once (the backend
//! must see the WATCH before the client's later reads and writes); the transaction's slot is
//! then that slot, and EXEC runs on the pinned connection. EXEC, DISCARD, UNWATCH, RESET and
//! the client going away release the pinned connection by closing it, which makes the backend
//! forget the watched keys.
//!
//! An unwatched transaction refused by the backend as a whole before anything ran (a MOVED or
//! TRYAGAIN while queuing, so EXEC answered EXECABORT) is sent again where the routing table
//! says, within the retry deadline. A watched one is not (its WATCH was on that backend): EXEC
//! answers the null reply of a transaction whose watched keys changed, which WATCH loops retry.

use bytes::{Bytes, BytesMut};
use protocol::command::{flags, CommandSpec};
use protocol::ReplyWriter;

use crate::backend::Failure;
use crate::command::{self, Plan, Refusal, Session, CROSSSLOT};
use crate::dedicated::Dedicated;
use crate::forward::{self, Cause, Try};
use crate::metrics::ErrorKind;
use crate::server::Shared;
use crate::split;

/// The transaction state of one client.
#[derive(Debug, Default)]
pub struct Transaction {
    /// The connection WATCH pinned, and the slot of the watched keys.
    pin: Option<(Dedicated, u16)>,
    /// Open after MULTI until EXEC or DISCARD.
    multi: Option<Queue>,
}

/// The commands queued since MULTI.
#[derive(Debug, Default)]
struct Queue {
    /// The queued commands, encoded one after the other.
    cmds: BytesMut,
    count: usize,
    /// The slot of the keys so far.
    slot: Option<u16>,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    dirty: bool,
}

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

impl Transaction {
    /// MULTI was called and neither EXEC nor DISCARD since.
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Marks an open transaction as failed (EXEC will answer EXECABORT); nothing outside MULTI.
    pub fn flag(&mut self) {
        if let Some(q) = &mut self.multi {
            q.dirty = true;
        }
    }

    /// How many commands are queued inside MULTI; `None` outside.
    pub fn queued(&self) -> Option<usize> {
        self.multi.as_ref().map(|q| q.count)
    }

    /// A connection is pinned (keys are watched).
    pub fn pinned(&self) -> bool {
        self.pin.is_some()
    }

    /// Forgets the transaction and the watched keys (DISCARD, RESET): the pinned connection is
    /// closed.
    pub fn reset(&mut self) {
        self.pin = None;
        self.multi = None;
    }
}

/// The commands that run at once inside MULTI instead of being queued, as in Redis.
pub fn runs_inside_multi(name: &[u8]) -> bool {
    ["exec", "discard", "multi", "watch", "quit", "reset"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Handles MULTI, EXEC, DISCARD, WATCH and UNWATCH as commands run at once (not queued):
/// `Ok(Some(plan))` when `spec` is one of them (the reply written for [`Plan::Local`]).
pub fn control(
    session: &mut Session,
    spec: &CommandSpec,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<Option<Plan>, Refusal> {
    let tx = &mut session.tx;
    let err = |text: &str| (ErrorKind::Other, text.to_string());
    match spec.name {
        "multi" => {
            if tx.in_multi() {
                return Err(err("ERR MULTI calls can not be nested"));
            }
            let slot = tx.pin.as_ref().map(|(_, slot)| *slot);
            tx.multi = Some(Queue { slot, ..Queue::default() });
            out.ok();
        }
        "exec" => {
            if !tx.in_multi() {
                return Err(err("ERR EXEC without MULTI"));
            }
            return Ok(Some(Plan::Exec));
        }
        "discard" => {
            if !tx.in_multi() {
                return Err(err("ERR DISCARD without MULTI"));
            }
            tx.reset();
            out.ok();
        }
        "watch" => {
            if tx.in_multi() {
                return Err(err("ERR WATCH inside MULTI is not allowed"));
            }
            let slot = command::key_slot(spec, args)
                .map_err(|text| (ErrorKind::CrossSlot, text))?
                .ok_or_else(|| err("ERR wrong number of arguments for 'watch' command"))?;
            if let Some((_, pinned)) = &tx.pin {
                if *pinned != slot {
                    return Err((ErrorKind::CrossSlot, CROSSSLOT.to_string()));
                }
            }
            return Ok(Some(Plan::Watch { slot }));
        }
        "unwatch" => {
            tx.pin = None;
            out.ok();
        }
        _ => return Ok(None),
    }
    Ok(Some(Plan::Local))
}

/// Queues one command of an open transaction (the client checked [`Transaction::in_multi`] and
/// that it is not one of [`runs_inside_multi`]): writes `+QUEUED`, or the error that makes
/// EXEC answer EXECABORT.
pub fn queue(shared: &Shared, session: &mut Session, args: &[Bytes], out: &mut ReplyWriter) {
    let top = protocol::command::lookup(&args[0]);
    let checked = command::resolve(session, top, args)
        .inspect(|spec| session.handle.ran(spec.name))
        .and_then(|spec| queueable(spec, args))
        .and_then(|slot| push(shared, &mut session.tx, slot, args));
    match checked {
        Ok(()) => out.simple("QUEUED"),
        Err((kind, text)) => {
            shared.metrics.error(kind);
            session.tx.flag();
            out.error(&text);
        }
    }
}

/// The slot a command inside MULTI needs (`None`: it has no keys and runs wherever the
/// transaction does), or why the proxy cannot make it part of one shard's transaction.
fn queueable(spec: &'static CommandSpec, args: &[Bytes]) -> Result<Option<u16>, Refusal> {
    let in_tx = |why: &str| command::unsupported(spec, &format!("{why}, so not inside MULTI"));
    if spec.has(flags::PUBSUB) {
        return Err(in_tx("Pub/Sub is not part of a transaction through the proxy"));
    }
    command::refuse_unsupported(spec).map_err(|text| (ErrorKind::Unsupported, text))?;
    if crate::fanout::Kind::of(spec, args).ok().flatten().is_some() {
        return Err(in_tx("it needs every shard, and a transaction runs on one"));
    }
    if crate::local::answered_by_proxy(spec.name) {
        return Err(in_tx("the proxy answers it itself, and a transaction runs on a backend"));
    }
    command::key_slot(spec, args).map_err(|text| (ErrorKind::CrossSlot, text))
}

/// Adds a checked command to the queue: its keys must be in the transaction's slot, and the
/// queue within `--multi-max-bytes`.
fn push(
    shared: &Shared,
    tx: &mut Transaction,
    slot: Option<u16>,
    args: &[Bytes],
) -> Result<(), Refusal> {
    let q = tx.multi.as_mut().expect("queue() is only called inside MULTI");
    if let Some(slot) = slot {
        match q.slot {
            Some(s) if s != slot => return Err((ErrorKind::CrossSlot, CROSSSLOT.to_string())),
            _ => q.slot = Some(slot),
        }
    }
    let size: usize = args.iter().map(|a| a.len() + 16).sum::<usize>() + 16;
    let max = shared.config.multi_max_bytes;
    if q.cmds.len() + size > max {
        return Err((
            ErrorKind::Other,
            format!(
                "ERR the transaction's queued commands exceed the proxy's --multi-max-bytes \
                 ({max} bytes)"
            ),
        ));
    }
    split::encode_into(&mut q.cmds, args);
    q.count += 1;
    Ok(())
}

/// Runs EXEC: the queue on the pinned connection, or on a new one to the master of the
/// transaction's slot. Releases the pinned connection whatever happens. EXEC's reply.
pub async fn exec(shared: &Shared, session: &mut Session) -> Bytes {
    let resp3 = session.resp3;
    let tx = &mut session.tx;
    let queue = tx.multi.take().unwrap_or_default();
    let pin = tx.pin.take();
    if queue.dirty {
        return forward::error(EXECABORT);
    }
    let body = queue.cmds.freeze();
    if let Some((mut conn, _)) = pin {
        // A watched transaction is not sent elsewhere: its WATCH was on this backend. If the
        // backend ran none of it because its slot is not (or no longer) served there, it
        // failed as a transaction whose watched keys may have changed does: a null reply,
        // which a WATCH loop retries (by then with a fresh routing table).
        return match run(&mut conn, &body, queue.count).await {
            Ok(Ran::Reply(reply)) => {
                // EXEC forgot the watched keys: the connection is as new.
                shared.idle.give_back(conn);
                reply
            }
            Ok(Ran::NotRun(cause, _)) => {
                forward::count(&shared.metrics, &cause);
                shared.router.request_refresh();
                let mut w = ReplyWriter::new(resp3);
                w.null_array();
                w.buffer_mut().split().freeze()
            }
            Err(failure) => lost(failure),
        };
    }
    if queue.count == 0 {
        // Nothing queued and nothing watched: Redis answers an empty array.
        return Bytes::from_static(b"*0\r\n");
    }
    let (body, count) = (&body, queue.count);
    let done = forward::retry_dedicated(shared, queue.slot, |addr| async move {
        let mut conn = match shared.idle.take(&addr, resp3).await {
            Ok(conn) => conn,
            Err(failure) => return Try::NotRun(Cause::Failed(failure), None),
        };
        match run(&mut conn, body, count).await {
            Ok(Ran::Reply(reply)) => {
                shared.idle.give_back(conn);
                Try::Done(reply)
            }
            // A kept connection the backend had closed; nothing was run.
            Ok(Ran::NotRun(Cause::Failed(_), _)) if conn.reused() => Try::Stale,
            Ok(Ran::NotRun(cause, reply)) => Try::NotRun(cause, Some(reply)),
            Err(failure) => Try::Done(lost(failure)),
        }
    })
    .await;
    done.unwrap_or_else(|give_up| give_up)
}

/// What one attempt at EXEC came to.
enum Ran {
    /// EXEC's reply.
    Reply(Bytes),
    /// The backend ran none of it, for this reason: it may go again; else the reply.
    NotRun(Cause, Bytes),
}

/// MULTI, the queue and EXEC on `conn`. `Err` when the connection broke after the queue was
/// sent (the outcome is unknown).
async fn run(conn: &mut Dedicated, body: &Bytes, count: usize) -> Result<Ran, Failure> {
    // MULTI alone first: were it refused, the queue must not run as plain commands. Nothing
    // else was sent yet, so a failure here leaves nothing applied.
    let started = match conn.request(b"*1\r\n$5\r\nMULTI\r\n").await {
        Ok(reply) => reply,
        Err(Failure::NotSent(why) | Failure::Unknown(why)) => {
            let reply = forward::error(&format!(
                "ERR the connection to the backend broke at MULTI, before the transaction was \
                 sent ({why})"
            ));
            return Ok(Ran::NotRun(Cause::Failed(Failure::NotSent(why)), reply));
        }
    };
    if started.first() == Some(&b'-') {
        return Ok(match forward::not_run(&started) {
            Some(cause) => Ran::NotRun(cause, started),
            None => Ran::Reply(started),
        });
    }
    let mut bytes = BytesMut::with_capacity(body.len() + 16);
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    conn.send(&bytes).await?;
    let mut not_run = None;
    for _ in 0..count {
        let queued = conn.read_reply().await?;
        if not_run.is_none() {
            not_run = forward::not_run(&queued);
        }
    }
    let reply = conn.read_reply().await?;
    // EXECABORT: the backend discarded the whole queue; if that was for a command it did not
    // run (MOVED, TRYAGAIN …) rather than a real error, the transaction may go elsewhere.
    Ok(match not_run {
        Some(cause) if reply.starts_with(b"-EXECABORT") => Ran::NotRun(cause, reply),
        _ => Ran::Reply(reply),
    })
}

/// The reply when the connection broke after EXEC was sent.
fn lost(failure: Failure) -> Bytes {
    let why = match failure {
        Failure::NotSent(why) | Failure::Unknown(why) => why,
    };
    forward::error(&format!(
        "ERR the connection to the backend broke during EXEC ({why}): the transaction's outcome \
         is unknown"
    ))
}

/// Runs WATCH (already checked by [`control`]): on the pinned connection, pinning one to the
/// master of `slot` first if there is none. WATCH's reply.
pub async fn watch(shared: &Shared, session: &mut Session, slot: u16, args: &[Bytes]) -> Bytes {
    let mut enc = BytesMut::new();
    let cmd = split::encode_command(&mut enc, args);
    let resp3 = session.resp3;
    let tx = &mut session.tx;
    if let Some((conn, _)) = &mut tx.pin {
        return match conn.request(&cmd).await {
            Ok(reply) => reply,
            Err(failure) => {
                tx.pin = None;
                lost_watch(failure)
            }
        };
    }
    let cmd = &cmd;
    let done = forward::retry_dedicated(shared, Some(slot), |addr| async move {
        let mut conn = match shared.idle.take(&addr, resp3).await {
            Ok(conn) => conn,
            Err(failure) => return Try::NotRun(Cause::Failed(failure), None),
        };
        match conn.request(cmd).await {
            // A kept connection the backend had closed; WATCH again on a new one.
            Err(_) if conn.reused() => Try::Stale,
            Err(failure) => Try::Done((lost_watch(failure), None)),
            Ok(reply) => match forward::not_run(&reply) {
                // An error WATCH answered itself leaves nothing watched: nothing to pin.
                None if reply.first() == Some(&b'-') => Try::Done((reply, None)),
                None => Try::Done((reply, Some(conn))),
                Some(cause) => Try::NotRun(cause, None),
            },
        }
    })
    .await;
    match done {
        Ok((reply, pin)) => {
            tx.pin = pin.map(|conn| (conn, slot));
            reply
        }
        Err(give_up) => give_up,
    }
}

fn lost_watch(failure: Failure) -> Bytes {
    let why = match failure {
        Failure::NotSent(why) | Failure::Unknown(why) => why,
    };
    forward::error(&format!("ERR the connection to the backend broke during WATCH: {why}"))
}
