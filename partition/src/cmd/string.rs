//! String commands: GET/SET and their variants, counters, ranges, MGET/MSET, LCS.
//!
//! Every command matches Redis 7.0's `t_string.c`, including the order in which it checks its
//! arguments, the key's type and the key's existence — that order decides which error a client
//! sees when several things are wrong at once. GET, SET, INCR, MGET and MSET are on the
//! benchmarked hot path: they borrow the stored bytes for replies and allocate only the stored
//! value itself.
//!
//! # Layout
//! - this file: lookups shared with the bitmap family, and the commands.
//! - [`lcs`]: the LCS command and its dynamic-programming core.
//! - [`longdouble`]: the 80-bit `long double` arithmetic INCRBYFLOAT needs to print what Redis
//!   prints.

pub mod lcs;
pub mod longdouble;

use bytes::Bytes;

use super::{is, lookup_read, lookup_write, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::time::lru_clock;
use crate::value::Value;
use protocol::ReplyWriter;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    ("substr", getrange),
    ("setrange", setrange),
    ("lcs", lcs::lcs),
];

/// Fails with Redis's size error when a string of `len + extra` bytes would exceed
/// `proto-max-bulk-len` (Redis's `checkStringLength`).
pub(crate) fn check_string_length(ctx: &Ctx, len: u64, extra: u64) -> CmdResult {
    let max = ctx.server.config().proto_max_bulk_len as u64;
    match len.checked_add(extra) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CmdError::err("string exceeds maximum allowed size (proto-max-bulk-len)")),
    }
}

/// Appends a string value to the reply as a bulk string, without copying it.
fn reply_string(out: &mut ReplyWriter, v: &Value) -> CmdResult {
    match v {
        Value::Int(i) => out.bulk_integer(*i),
        other => out.bulk(&other.as_string()?),
    }
    Ok(())
}

/// Redis's `getGenericCommand`: replies with the string at `key`, or null when absent.
fn get_generic(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    match lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) {
        None => ctx.out.null(),
        Some(entry) => reply_string(ctx.out, &entry.value)?,
    }
    Ok(())
}

fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_generic(ctx, &args[1])
}

// Flags of SET and GETEX options (Redis's OBJ_* flags).
const NX: u16 = 1 << 0;
const XX: u16 = 1 << 1;
const EX: u16 = 1 << 2;
const PX: u16 = 1 << 3;
const KEEPTTL: u16 = 1 << 4;
const GET: u16 = 1 << 5;
const EXAT: u16 = 1 << 6;
const PXAT: u16 = 1 << 7;
const PERSIST: u16 = 1 << 8;
const ANY_EXPIRE: u16 = EX | PX | EXAT | PXAT;

/// Parsed options of SET or GETEX.
struct ExtOptions<'a> {
    flags: u16,
    /// The EX/PX/EXAT/PXAT argument, not yet validated (Redis validates it later).
    expire: Option<&'a [u8]>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`. Options may repeat and each is accepted only
/// when it does not conflict with one seen before; anything else is a syntax error.
fn parse_ext_options(args: &[Bytes], for_set: bool) -> Result<ExtOptions<'_>, CmdError> {
    let mut flags = 0u16;
    let mut expire = None;
    let mut j = if for_set { 3 } else { 2 };
    while j < args.len() {
        let opt = &args[j];
        let next = args.get(j + 1);
        let set_expire = |kind: u16, conflicts: u16| -> Option<u16> {
            (flags & conflicts == 0 && next.is_some()).then_some(kind)
        };
        let expire_kind = if is(opt, "ex") {
            set_expire(EX, KEEPTTL | PERSIST | EXAT | PX | PXAT)
        } else if is(opt, "px") {
            set_expire(PX, KEEPTTL | PERSIST | EX | EXAT | PXAT)
        } else if is(opt, "exat") {
            set_expire(EXAT, KEEPTTL | PERSIST | EX | PX | PXAT)
        } else if is(opt, "pxat") {
            set_expire(PXAT, KEEPTTL | PERSIST | EX | EXAT | PX)
        } else {
            None
        };
        if let Some(kind) = expire_kind {
            flags |= kind;
            expire = next.map(|b| b.as_ref());
            j += 2;
            continue;
        }
        if for_set && is(opt, "nx") && flags & XX == 0 {
            flags |= NX;
        } else if for_set && is(opt, "xx") && flags & NX == 0 {
            flags |= XX;
        } else if for_set && is(opt, "get") {
            flags |= GET;
        } else if for_set && is(opt, "keepttl") && flags & (PERSIST | ANY_EXPIRE) == 0 {
            flags |= KEEPTTL;
        } else if !for_set && is(opt, "persist") && flags & (KEEPTTL | ANY_EXPIRE) == 0 {
            flags |= PERSIST;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(ExtOptions { flags, expire })
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline (Unix ms) an EX/PX/EXAT/PXAT
/// argument asks for. `cmd` names the command in the error text.
fn expire_deadline(arg: &[u8], flags: u16, now_ms: u64, cmd: &str) -> Result<u64, CmdError> {
    let n = parse_int(arg)?;
    let invalid = || CmdError::err(format!("invalid expire time in '{cmd}' command"));
    let seconds = flags & (EX | EXAT) != 0;
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if flags & (EX | PX) != 0 {
        ms = ms.checked_add(now_ms as i64).ok_or_else(invalid)?;
    }
    Ok(ms as u64)
}

/// What SET-like commands reply when they set the key, and when NX/XX stops them.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK`, or null when not set (SET, SETEX, PSETEX).
    OkOrNull,
    /// `:1` / `:0` (SETNX).
    OneOrZero,
}

/// Redis's `setGenericCommand`.
fn set_generic(
    ctx: &mut Ctx,
    flags: u16,
    key: &[u8],
    value: &[u8],
    expire: Option<&[u8]>,
    cmd: &str,
    reply: SetReply,
) -> CmdResult {
    let now = ctx.now_ms;
    let deadline = match expire {
        Some(arg) => Some(expire_deadline(arg, flags, now, cmd)?),
        None => None,
    };
    if flags & GET != 0 {
        // The old value is the reply; it is written before the key changes, so nothing is
        // copied. Nothing can fail after this point.
        get_generic(ctx, key)?;
    }
    // Only NX/XX need to know whether the key exists; a plain SET overwrites, and the store
    // below looks the key up anyway. Lazy expiry still runs (and is counted) as in Redis.
    let found = if flags & (NX | XX) != 0 {
        lookup_write(ctx.state, key, now).is_some()
    } else {
        if ctx.state.keyspace.expire_if_needed(key, now) {
            super::fold_expired(ctx.state);
        }
        false
    };
    if (flags & NX != 0 && found) || (flags & XX != 0 && !found) {
        if flags & GET == 0 {
            match reply {
                SetReply::OkOrNull => ctx.out.null(),
                SetReply::OneOrZero => ctx.out.integer(0),
            }
        }
        return Ok(());
    }
    let ks = &mut ctx.state.keyspace;
    let entry = Entry::new(Value::string(value), lru_clock(now));
    if flags & KEEPTTL != 0 {
        ks.set_keep_ttl(key, entry);
    } else {
        ks.set(key, entry);
    }
    if let Some(at) = deadline {
        ks.set_expire(key, at);
        // A replay must not restart a relative TTL: replicas and the AOF get the deadline.
        let at = itoa::Buffer::new().format(at).to_owned();
        ctx.state.propagation.rewrite(&[&b"SET"[..], key, value, b"PXAT", at.as_bytes()]);
    }
    ctx.state.dirty += 1;
    ctx.changed(notify::STRING, "set", key);
    if deadline.is_some() {
        ctx.notify(notify::GENERIC, "expire", key);
    }
    if flags & GET == 0 {
        match reply {
            SetReply::OkOrNull => ctx.out.ok(),
            SetReply::OneOrZero => ctx.out.integer(1),
        }
    }
    Ok(())
}

fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (flags, expire) = if args.len() > 3 {
        let opts = parse_ext_options(args, true)?;
        (opts.flags, opts.expire)
    } else {
        (0, None)
    };
    set_generic(ctx, flags, &args[1], &args[2], expire, "set", SetReply::OkOrNull)
}

fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_generic(ctx, NX, &args[1], &args[2], None, "setnx", SetReply::OneOrZero)
}

fn setex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_generic(ctx, EX, &args[1], &args[3], Some(&args[2]), "setex", SetReply::OkOrNull)
}

fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_generic(ctx, PX, &args[1], &args[3], Some(&args[2]), "psetex", SetReply::OkOrNull)
}

fn getset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_generic(ctx, &args[1])?;
    let entry = Entry::new(Value::string(&args[2]), lru_clock(ctx.now_ms));
    ctx.state.keyspace.set(&args[1], entry);
    ctx.state.dirty += 1;
    ctx.changed(notify::STRING, "set", &args[1]);
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_generic(ctx, &args[1])?;
    if ctx.state.keyspace.remove(&args[1]).is_some() {
        ctx.state.dirty += 1;
        ctx.changed(notify::GENERIC, "del", &args[1]);
    }
    Ok(())
}

fn getex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let opts = parse_ext_options(args, false)?;
    let key = &args[1];
    let now = ctx.now_ms;
    let Some(entry) = lookup_read(ctx.state, key, now, !ctx.client.no_touch) else {
        ctx.out.null();
        return Ok(());
    };
    entry.value.as_string()?;
    // As in Redis, a bad expire time is reported only for an existing string key.
    let deadline = match opts.expire {
        Some(arg) => Some(expire_deadline(arg, opts.flags, now, "getex")?),
        None => None,
    };
    reply_string(ctx.out, &entry.value)?;
    let ks = &mut ctx.state.keyspace;
    match deadline {
        Some(at) if opts.flags & (EXAT | PXAT) != 0 && at <= now => {
            ks.remove(key);
            ctx.state.propagation.rewrite(&[&b"DEL"[..], key]);
            ctx.state.dirty += 1;
            ctx.changed(notify::GENERIC, "del", key);
        }
        Some(at) => {
            ks.set_expire(key, at);
            let at = itoa::Buffer::new().format(at).to_owned();
            ctx.state.propagation.rewrite(&[&b"PEXPIREAT"[..], key, at.as_bytes()]);
            ctx.state.dirty += 1;
            ctx.changed(notify::GENERIC, "expire", key);
        }
        None if opts.flags & PERSIST != 0 && ks.persist(key) => {
            ctx.state.propagation.rewrite(&[&b"PERSIST"[..], key]);
            ctx.state.dirty += 1;
            ctx.changed(notify::GENERIC, "persist", key);
        }
        None => {}
    }
    Ok(())
}

fn mget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        match lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) {
            Some(entry) if entry.value.is_string() => reply_string(ctx.out, &entry.value)?,
            // MGET answers null for keys of other types rather than failing.
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// Redis's `msetGenericCommand`.
fn mset_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(if nx { "msetnx" } else { "mset" }.into()));
    }
    let now = ctx.now_ms;
    if nx {
        for pair in args[1..].chunks(2) {
            if lookup_write(ctx.state, &pair[0], now).is_some() {
                ctx.out.integer(0);
                return Ok(());
            }
        }
    }
    let lru = lru_clock(now);
    for pair in args[1..].chunks(2) {
        ctx.state.keyspace.set(&pair[0], Entry::new(Value::string(&pair[1]), lru));
        ctx.changed(notify::STRING, "set", &pair[0]);
    }
    ctx.state.dirty += (args.len() / 2) as u64;
    if nx {
        ctx.out.integer(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    mset_generic(ctx, args, false)
}

fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    mset_generic(ctx, args, true)
}

fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = parse_int(&args[2])?;
    incr_by(ctx, &args[1], by)
}

fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = parse_int(&args[2])?;
    // Negating i64::MIN overflows; Redis has a message of its own for it.
    if by == i64::MIN {
        return Err(CmdError::err("decrement would overflow"));
    }
    incr_by(ctx, &args[1], -by)
}

/// INCR/DECR/INCRBY/DECRBY: adds `by` to the integer stored at `key`, keeping its TTL.
pub fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now_ms;
    let next = match lookup_write(ctx.state, key, now) {
        Some(entry) => {
            let current = match &entry.value {
                Value::Int(i) => *i,
                other => {
                    protocol::number::parse_i64(&other.as_string()?).ok_or(CmdError::NotInteger)?
                }
            };
            let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
            // The result is always `int` encoded, as Redis stores it.
            entry.value = Value::Int(next);
            next
        }
        None => {
            ctx.state.keyspace.set_keep_ttl(key, Entry::new(Value::Int(by), lru_clock(now)));
            by
        }
    };
    ctx.state.dirty += 1;
    ctx.changed(notify::STRING, "incrby", key);
    ctx.out.integer(next);
    Ok(())
}

fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use longdouble::LongDouble;
    let key = &args[1];
    let now = ctx.now_ms;
    let current = match lookup_write(ctx.state, key, now) {
        Some(entry) => {
            Some(LongDouble::parse(&entry.value.as_string()?).ok_or(CmdError::NotFloat)?)
        }
        None => None,
    };
    let incr = LongDouble::parse(&args[2]).ok_or(CmdError::NotFloat)?;
    let sum = match current {
        Some(v) => v.plus(incr),
        None => incr,
    };
    if !sum.is_finite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    let text = sum.to_human_string();
    ctx.out.bulk(text.as_bytes());
    // Replicas and the AOF get the result, never the arithmetic to redo.
    ctx.state.propagation.rewrite(&[&b"SET"[..], key, text.as_bytes(), b"KEEPTTL"]);
    // Redis builds the new value as a plain string object (never `int` encoded) and keeps
    // the key's TTL.
    let entry = Entry::new(Value::plain_string(text.into_bytes()), lru_clock(now));
    ctx.state.keyspace.set_keep_ttl(key, entry);
    ctx.state.dirty += 1;
    ctx.changed(notify::STRING, "incrbyfloat", key);
    Ok(())
}

fn append(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, tail) = (&args[1], &args[2]);
    let now = ctx.now_ms;
    let current_len = match lookup_write(ctx.state, key, now) {
        Some(entry) => Some(entry.value.string_len()?),
        None => None,
    };
    let total = match current_len {
        None => {
            let entry = Entry::new(Value::string(tail), lru_clock(now));
            ctx.state.keyspace.set(key, entry);
            tail.len()
        }
        Some(len) => {
            check_string_length(ctx, len as u64, tail.len() as u64)?;
            let entry = ctx.state.keyspace.get(key, now).expect("looked up above");
            let data = entry.value.string_mut()?;
            data.extend_from_slice(tail);
            data.len()
        }
    };
    ctx.state.dirty += 1;
    ctx.changed(notify::STRING, "append", key);
    ctx.out.integer(total as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        Some(entry) => entry.value.string_len()?,
        None => 0,
    };
    ctx.out.integer(len as i64);
    Ok(())
}

/// The byte range `start..=end` of a string of `len` bytes selected by GETRANGE's possibly
/// negative indices, or `None` when it is empty (Redis's clamping rules).
pub(crate) fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut start = if start < 0 { len.saturating_add(start) } else { start };
    let mut end = if end < 0 { len.saturating_add(end) } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        None
    } else {
        Some((start as usize, end as usize))
    }
}

/// GETRANGE and its old name SUBSTR.
fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = parse_int(&args[2])?;
    let end = parse_int(&args[3])?;
    let Some(entry) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = entry.value.as_string()?;
    match clamp_range(start, end, s.len()) {
        Some((from, to)) => ctx.out.bulk(&s[from..=to]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, patch) = (&args[1], &args[3]);
    let offset = parse_int(&args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let offset = offset as u64;
    let now = ctx.now_ms;
    let current_len = match lookup_write(ctx.state, key, now) {
        Some(entry) => Some(entry.value.string_len()?),
        None => None,
    };
    if patch.is_empty() {
        // Setting nothing changes nothing, not even a missing key.
        ctx.out.integer(current_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_string_length(ctx, offset, patch.len() as u64)?;
    let offset = offset as usize;
    let end = offset + patch.len();
    let len = match current_len {
        None => {
            let mut data = vec![0u8; end];
            data[offset..].copy_from_slice(patch);
            ctx.state.keyspace.set(key, Entry::new(Value::raw_string(data), lru_clock(now)));
            end
        }
        Some(_) => {
            let entry = ctx.state.keyspace.get(key, now).expect("looked up above");
            let data = entry.value.string_mut()?;
            if data.len() < end {
                data.resize(end, 0);
            }
            data[offset..end].copy_from_slice(patch);
            data.len()
        }
    };
    ctx.state.dirty += 1;
    ctx.changed(notify::STRING, "setrange", key);
    ctx.out.integer(len as i64);
    Ok(())
}
