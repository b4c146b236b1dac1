//! Command execution: the registry of handlers, the context a handler runs in, and dispatch
//! (lookup, arity and auth checks, timing for SLOWLOG and INFO commandstats).
//!
//! Each family lives in its own module and exports `COMMANDS: &[(&str, Handler)]`; the name
//! must exist in `protocol`'s command table, which supplies arity and flags.
//!
//! Handler contract: validate everything first, then either return `Err(CmdError)` having
//! written nothing, or write exactly one reply to `ctx.out` and return `Ok(())`.

pub mod bitmap;
pub mod client;
pub mod cluster;
pub mod command;
pub mod connection;
pub mod expire;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod list;
pub mod multi;
pub mod pubsub;
pub mod rcluster;
pub mod replication;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod zset;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use protocol::command::{flags, CommandSpec};
use protocol::ReplyWriter;

use crate::client::{Client, ReplyMode};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::server::Server;
use crate::state::{SlowlogEntry, State};

/// What a command handler may use.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub state: &'a mut State,
    pub client: &'a mut Client,
    pub out: &'a mut ReplyWriter,
    /// Unix milliseconds, read once per command (Redis caches `mstime` the same way).
    pub now_ms: u64,
}

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// The three things every write does besides changing data, as in Redis: count the change
/// (`dirty`: persistence and replication use it), signal the modified key (WATCH, blocked
/// clients), and publish the keyspace event.
impl Ctx<'_> {
    /// Redis's `signalModifiedKey`: a write changed `key`. Invalidates WATCHes on it and, when
    /// clients are blocked on it, marks it ready so they are served after this command.
    pub fn signal_modified(&mut self, key: &[u8]) {
        self.state.signal_modified(key);
    }

    /// Redis's `notifyKeyspaceEvent`: publishes `event` about `key` when `class` (a
    /// [`crate::notify`] flag) is enabled by `notify-keyspace-events`.
    pub fn notify(&mut self, class: u16, event: &str, key: &[u8]) {
        self.state.notify(class, event, key);
    }

    /// A write changed `key`: [`Ctx::signal_modified`] then [`Ctx::notify`], the pair nearly
    /// every write ends with.
    pub fn changed(&mut self, class: u16, event: &str, key: &[u8]) {
        self.signal_modified(key);
        self.notify(class, event, key);
    }

    /// Records `n` changes (Redis's `server.dirty += n`).
    pub fn dirty(&mut self, n: u64) {
        self.state.dirty += n;
    }

    /// Parks the client on `keys` until one is signalled or `deadline_ms` passes (see
    /// [`crate::blocking`]); a blocking handler calls this instead of replying when it finds
    /// nothing. Inside EXEC the client cannot wait, so the timeout reply is written at once.
    /// `waits_for` is the type the command pops (`"list"`, `"zset"`).
    pub fn block(
        &mut self,
        keys: &[Bytes],
        waits_for: &'static str,
        deadline_ms: Option<u64>,
        on_timeout: crate::blocking::TimeoutReply,
    ) -> CmdResult {
        if self.client.in_exec {
            crate::blocking::write_timeout_reply(self.out, on_timeout);
            return Ok(());
        }
        self.client.block = Some(crate::blocking::BlockRequest {
            keys: keys.to_vec(),
            waits_for,
            deadline_ms,
            on_timeout,
        });
        Ok(())
    }

    /// Deletes `key` when its aggregate value has become empty (Redis never keeps an empty
    /// hash, list, set or sorted set) and publishes the generic `del` event. True if deleted.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty =
            self.state.keyspace.get_unchecked(key).is_some_and(|e| e.value.is_empty_aggregate());
        if empty {
            self.state.keyspace.remove(key);
            self.notify(crate::notify::GENERIC, "del", key);
        }
        empty
    }
}

/// A registered command: its table entry and its handler.
pub struct Command {
    pub spec: &'static CommandSpec,
    pub handler: Handler,
}

/// Name → command. ahash rather than SipHash: this lookup runs for every command.
type Registry = HashMap<&'static str, Command, ahash::RandomState>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let families: &[&[(&'static str, Handler)]] = &[
            bitmap::COMMANDS,
            client::COMMANDS,
            cluster::COMMANDS,
            command::COMMANDS,
            connection::COMMANDS,
            expire::COMMANDS,
            geo::COMMANDS,
            hash::COMMANDS,
            hll::COMMANDS,
            keyspace::COMMANDS,
            list::COMMANDS,
            multi::COMMANDS,
            pubsub::COMMANDS,
            replication::COMMANDS,
            server::COMMANDS,
            set::COMMANDS,
            sort::COMMANDS,
            string::COMMANDS,
            zset::COMMANDS,
        ];
        let mut map = Registry::default();
        for family in families {
            for &(name, handler) in *family {
                let spec = protocol::command::lookup(name.as_bytes()).unwrap_or_else(|| {
                    panic!("command '{name}' is missing from the command table")
                });
                map.insert(spec.name, Command { spec, handler });
            }
        }
        map
    })
}

/// The registered command called `name` (any case).
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let name = std::str::from_utf8(&lower[..name.len()]).ok()?;
    registry().get(name)
}

/// Names of every command this server implements.
pub fn implemented() -> impl Iterator<Item = &'static Command> {
    registry().values()
}

/// What [`dispatch`] reports back to the connection.
pub struct Dispatched {
    /// When the command finished: the next command of the batch starts timing here, so a
    /// batch costs one clock read per command.
    pub finished: Instant,
    /// The full name of the command run (`get`, `client|list`), `NULL` when unknown, as
    /// CLIENT LIST's `cmd=` shows it.
    pub name: &'static str,
}

/// Runs one command and writes its reply. `started` is when it began (for a batch: when the
/// previous command finished).
pub fn dispatch(ctx: &mut Ctx, args: &[Bytes], started: Instant) -> Dispatched {
    let reply_start = ctx.out.len();
    let (name, result, finished) = match lookup(&args[0]) {
        None if is(&args[0], "rcluster") => {
            // The control plane's internal command: not in the command table.
            if let Err(e) = rcluster::rcluster(ctx, args) {
                let text = e.to_string();
                ctx.out.truncate(reply_start);
                ctx.out.error(&text);
            }
            ("rcluster", Ok(()), Instant::now())
        }
        None => {
            ctx.state.stats.rejected_calls += 1;
            (
                "NULL",
                Err(Rejected(CmdError::Other(protocol::redis_text::unknown_command(args)))),
                started,
            )
        }
        Some(cmd) => check_and_run(ctx, cmd, args, started),
    };
    if let Err(Rejected(e)) = result {
        // A command refused before it ran makes an open transaction fail at EXEC.
        if let Some(multi) = ctx.client.multi.as_mut() {
            multi.failed = true;
        }
        let text = e.to_string();
        ctx.out.truncate(reply_start);
        ctx.out.error(&text);
        ctx.state.stats.record_error(text.as_bytes());
    }
    finish_reply(ctx, reply_start);
    Dispatched { finished, name }
}

/// An error from the checks before a command runs (unknown, arity, authentication, context):
/// Redis's `rejectCommand`, which also dooms an open transaction.
struct Rejected(CmdError);

/// Checks arity, authentication and context, then runs the handler (or queues the command in
/// an open transaction) and accounts for it (INFO commandstats per subcommand, as Redis:
/// `cmdstat_config|get`; SLOWLOG). Errors of the handler itself are written here; only
/// rejections are returned.
fn check_and_run(
    ctx: &mut Ctx,
    cmd: &'static Command,
    args: &[Bytes],
    started: Instant,
) -> (&'static str, Result<(), Rejected>, Instant) {
    let mut spec = cmd.spec;
    if !spec.subcommands.is_empty() && args.len() > 1 {
        spec = spec.subcommand(&args[1]).unwrap_or(spec);
    }
    let reject = |ctx: &mut Ctx, e: CmdError| {
        ctx.state.stats.rejected_calls += 1;
        (spec.name, Err(Rejected(e)), started)
    };
    if !cmd.spec.arity_ok(args.len()) {
        return reject(ctx, CmdError::WrongArity(cmd.spec.name.to_string()));
    }
    if !ctx.client.authenticated && !cmd.spec.has(flags::NO_AUTH) {
        return reject(ctx, CmdError::Other("NOAUTH Authentication required.".into()));
    }
    if ctx.client.subscriptions.active()
        && !ctx.out.resp3()
        && !pubsub::allowed_in_subscribed_mode(cmd.spec.name)
    {
        return reject(
            ctx,
            CmdError::err(format!(
                "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
                 RESET are allowed in this context",
                spec.name
            )),
        );
    }
    if !ctx.client.obey && !ctx.client.in_exec && ctx.state.fence.is_fenced() {
        if let Some(refusal) = ctx.state.fence.check(spec, args, ctx.client.readonly) {
            return reject(ctx, CmdError::Other(refusal.text()));
        }
    }
    if ctx.client.obey {
        // The AOF being loaded, a master's stream: applied as they come.
    } else if let Some(text) = ctx.server.persistence.write_error() {
        if cmd.spec.has(flags::WRITE) || cmd.spec.name == "ping" {
            return reject(ctx, CmdError::Other(text));
        }
    }
    if !ctx.client.obey
        && cmd.spec.has(flags::WRITE)
        && ctx.server.replication.is_replica()
        && ctx.server.config().get("replica-read-only").as_deref() == Some("yes")
    {
        return reject(
            ctx,
            CmdError::Other("READONLY You can't write against a read only replica.".into()),
        );
    }
    // A replica does not evict (`replica-ignore-maxmemory`): its master's DELs do.
    if ctx.state.eviction.maxmemory > 0
        && !ctx.client.in_exec
        && !ctx.client.obey
        && !ctx.server.replication.is_replica()
        && oom_rejects(ctx, cmd)
    {
        return reject(
            ctx,
            CmdError::Other("OOM command not allowed when used memory > 'maxmemory'.".into()),
        );
    }
    if let Some(multi) = ctx.client.multi.as_mut() {
        if cmd.spec.has(flags::NO_MULTI) {
            return reject(ctx, CmdError::err("Command not allowed inside a transaction"));
        }
        if !multi::runs_inside_multi(cmd.spec.name) {
            multi.queue.push(args.to_vec());
            ctx.client.handle.info().multi = multi.queue.len() as i64;
            ctx.out.simple("QUEUED");
            return (spec.name, Ok(()), started);
        }
    }
    if cmd.spec.name == "client" {
        // CLIENT LIST/INFO show a connection's own current command; other commands publish
        // their name once per batch, which saves a lock per command.
        ctx.client.handle.info().last_cmd = spec.name;
    }
    let reply_start = ctx.out.len();
    let dirty_before = ctx.state.dirty;
    let result = (cmd.handler)(ctx, args);
    ctx.state.flush_created();
    // Keys the command's lookups expired go into the stream first (as DELs), then the
    // command itself if it changed anything (EXEC propagates its queue, not itself).
    ctx.state.fold_expired();
    let wrote = ctx.state.dirty != dirty_before;
    if wrote && spec.name != "exec" {
        ctx.state.propagation.command_done(args);
    } else {
        ctx.state.propagation.discard_rewrite();
    }
    if !ctx.client.obey && ctx.server.gates_replies() && spec.name != "exec" {
        gate_reply(ctx, spec, args, wrote);
    }
    let finished = Instant::now();
    let micros = finished.saturating_duration_since(started).as_micros() as u64;
    // A command that blocked is counted when it is served, as Redis does.
    if ctx.client.block.is_none() {
        let stats = &mut ctx.state.stats;
        stats.total_commands += 1;
        let per = stats.per_command.entry(spec.name).or_default();
        per.calls += 1;
        per.usec += micros;
        if result.is_err() {
            per.failed_calls += 1;
            stats.failed_calls += 1;
        }
    }
    if let Err(e) = result {
        let text = e.to_string();
        ctx.out.truncate(reply_start);
        ctx.out.error(&text);
        ctx.state.stats.record_error(text.as_bytes());
    }
    if !spec.has(flags::SKIP_SLOWLOG) {
        record_slow(ctx, args, micros);
    }
    (spec.name, Ok(()), finished)
}

/// Evicts what `maxmemory` requires before a command runs; true when the command must be
/// refused: memory is still over the limit and the command may grow it (Redis's `denyoom`),
/// or it would be queued in a transaction, or it is an EXEC of such commands.
fn oom_rejects(ctx: &mut Ctx, cmd: &Command) -> bool {
    if ctx.state.perform_evictions(ctx.now_ms) != crate::evict::Evicted::Fail {
        return false;
    }
    let name = cmd.spec.name;
    match &ctx.client.multi {
        Some(multi) if name == "exec" => multi
            .queue
            .iter()
            .any(|args| lookup(&args[0]).is_some_and(|c| c.spec.has(flags::DENYOOM))),
        Some(_) => !matches!(name, "discard" | "quit" | "reset"),
        None => cmd.spec.has(flags::DENYOOM),
    }
}

/// Applies CLIENT REPLY OFF/SKIP to the reply just written.
fn finish_reply(ctx: &mut Ctx, reply_start: usize) {
    match ctx.client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => ctx.out.truncate(reply_start),
        ReplyMode::Skip => {
            ctx.out.truncate(reply_start);
            ctx.client.reply_mode = ReplyMode::On;
        }
        // CLIENT REPLY SKIP itself sends no reply; the next command's is skipped.
        ReplyMode::SkipNext => {
            ctx.out.truncate(reply_start);
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    }
}

fn record_slow(ctx: &mut Ctx, args: &[Bytes], micros: u64) {
    let threshold = ctx.server.slowlog_threshold();
    if threshold < 0 || micros < threshold as u64 {
        return;
    }
    let max_len = ctx.server.config().slowlog_max_len;
    const MAX_ARGS: usize = 32;
    const MAX_ARG_LEN: usize = 128;
    let mut recorded: Vec<Vec<u8>> = Vec::new();
    let redacted = redacted_args(args);
    for (i, a) in args.iter().enumerate() {
        if redacted.contains(&i) {
            recorded.push(b"(redacted)".to_vec());
            continue;
        }
        if i == MAX_ARGS - 1 && args.len() > MAX_ARGS {
            recorded
                .push(format!("... ({} more arguments)", args.len() - MAX_ARGS + 1).into_bytes());
            break;
        }
        if a.len() > MAX_ARG_LEN {
            let mut v = a[..MAX_ARG_LEN].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
            recorded.push(v);
        } else {
            recorded.push(a.to_vec());
        }
    }
    let slowlog = &mut ctx.state.slowlog;
    let entry = SlowlogEntry {
        id: slowlog.next_id,
        unix_secs: ctx.now_ms / 1000,
        micros,
        args: recorded,
        peer: ctx.client.handle.addr.to_string(),
        client_name: ctx.client.handle.info.lock().map(|i| i.name.clone()).unwrap_or_default(),
    };
    slowlog.next_id += 1;
    slowlog.entries.push_front(entry);
    slowlog.entries.truncate(max_len);
}

/// Positions of arguments that must not be recorded (passwords), as Redis redacts them.
fn redacted_args(args: &[Bytes]) -> Vec<usize> {
    if is(&args[0], "auth") {
        return (1..args.len()).collect();
    }
    if is(&args[0], "hello") {
        return args
            .iter()
            .position(|a| is(a, "auth"))
            .map(|i| (i + 1..(i + 3).min(args.len())).collect())
            .unwrap_or_default();
    }
    if is(&args[0], "config") && args.len() > 2 && is(&args[1], "set") {
        return (2..args.len() - 1)
            .step_by(2)
            .filter(|&i| is(&args[i], "requirepass") || is(&args[i], "masterauth"))
            .map(|i| i + 1)
            .collect();
    }
    Vec::new()
}

/// The error for an unknown subcommand of `cmd`, as Redis words it.
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> CmdError {
    CmdError::Other(protocol::redis_text::unknown_subcommand(cmd, sub))
}

/// The table entry of a command this server implements, by its lower-case name (container
/// commands look their subcommands up in it).
pub fn spec(name: &str) -> &'static CommandSpec {
    lookup(name.as_bytes()).unwrap_or_else(|| panic!("command '{name}' is not registered")).spec
}

/// The table entry of the subcommand in `args[1]` of container command `cmd` (CLIENT, CONFIG,
/// OBJECT …), after checking its arity with Redis's error texts.
pub fn subcommand(
    cmd: &'static CommandSpec,
    args: &[Bytes],
) -> Result<&'static CommandSpec, CmdError> {
    let sub = cmd.subcommand(&args[1]).ok_or_else(|| unknown_subcommand(cmd.name, &args[1]))?;
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::WrongArity(sub.name.to_string()));
    }
    Ok(sub)
}

/// Undoes what a client holds in the server-wide state: its place among blocked clients, its
/// transaction and watched keys, its subscriptions (disconnection, RESET).
pub fn release_client(state: &mut State, client: &mut Client) {
    state.blocked.unpark(client.id());
    multi::discard_transaction(state, client);
    pubsub::unsubscribe_all(state, client);
}

/// Moves the count of keys lazy expiry deleted into INFO's `expired_keys`.
pub fn fold_expired(state: &mut State) {
    state.fold_expired();
}

/// Redis's `lookupKeyRead` (and, with `touch` false, `lookupKeyReadWithFlags(NOTOUCH)`): lazy
/// expiry, then a keyspace hit or miss; a read with `touch` records an access (LRU/LFU).
pub fn lookup_read<'a>(
    state: &'a mut State,
    key: &[u8],
    now_ms: u64,
    touch: bool,
) -> Option<&'a mut Entry> {
    if state.keyspace.expire_if_needed(key, now_ms) {
        fold_expired(state);
        state.stats.keyspace_misses += 1;
        return None;
    }
    match state.keyspace.get_unchecked(key) {
        Some(entry) => {
            state.stats.keyspace_hits += 1;
            if touch {
                entry.touch(now_ms);
            }
            Some(entry)
        }
        None => {
            state.stats.keyspace_misses += 1;
            None
        }
    }
}

/// Redis's `lookupKeyWrite`: lazy expiry and an access, no hit/miss accounting.
pub fn lookup_write<'a>(state: &'a mut State, key: &[u8], now_ms: u64) -> Option<&'a mut Entry> {
    if state.keyspace.expire_if_needed(key, now_ms) {
        fold_expired(state);
        return None;
    }
    let entry = state.keyspace.get_unchecked(key)?;
    entry.touch(now_ms);
    Some(entry)
}

/// Where a command's keys are among `args`: the command table's fixed positions, or its key
/// specs for commands whose keys move (ZUNIONSTORE, EVAL-like forms …).
pub fn key_indices(spec: &CommandSpec, args: &[Bytes]) -> Vec<usize> {
    spec.key_indices(args)
}

/// While replies are gated, what this command's reply must wait for (see
/// [`crate::in_flight`]): a write its own offset, a read the last in-flight write of its keys
/// (every write before it when it reads the whole keyspace).
fn gate_reply(ctx: &mut Ctx, spec: &CommandSpec, args: &[Bytes], wrote: bool) {
    let after = ctx.server.write_log.end() + ctx.state.propagation.pending_len() as u64;
    let need = if wrote {
        for i in key_indices(spec, args) {
            ctx.state.in_flight.record(&args[i], after);
        }
        after
    } else if spec.has(flags::READONLY) {
        let keys = key_indices(spec, args);
        if keys.is_empty() {
            after
        } else {
            keys.iter().map(|&i| ctx.state.in_flight.pending(&args[i])).max().unwrap_or(0)
        }
    } else {
        0
    };
    ctx.client.reply_needs = ctx.client.reply_needs.max(need);
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Parses an integer argument (Redis's "value is not an integer or out of range" on failure).
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    protocol::number::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Parses a float argument (Redis's "value is not a valid float" on failure).
pub fn parse_float(arg: &[u8]) -> Result<f64, CmdError> {
    protocol::number::parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// Client names may not contain spaces, newlines or other special characters (CLIENT SETNAME,
/// HELLO SETNAME).
pub fn validate_client_name(name: &[u8]) -> CmdResult {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(CmdError::err("Client names cannot contain spaces, newlines or special characters."))
    }
}
