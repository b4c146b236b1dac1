//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, KEYS, SCAN,
//! RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, TOUCH, COPY, OBJECT.
//!
//! Lookups follow Redis's three flavours, because clients can observe the difference in INFO
//! (`keyspace_hits`/`keyspace_misses`) and OBJECT IDLETIME/FREQ: a *read* counts a hit or miss
//! and records an access, a *no-touch read* (EXISTS, TYPE, TTL, OBJECT) counts but records
//! nothing, and a *write* lookup (DEL, RENAME, EXPIRE …) records an access without counting.
//! All of them apply lazy expiry first.

use bytes::Bytes;
use protocol::slot::{key_hash_slot, SLOT_COUNT};

/// Bits of a SCAN cursor that hold the slot (the keyspace's cursor layout).
const SLOT_BITS: u32 = SLOT_COUNT.trailing_zeros();

use super::{
    fold_expired, is, lookup_read, lookup_write, parse_int, subcommand, unknown_subcommand, Ctx,
    Handler,
};
use crate::error::{CmdError, CmdResult};
use crate::glob;
use crate::keyspace::{drop_in_background, Entry};
use crate::notify;
use crate::time::lru_clock;
use crate::value::Value;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", unlink),
    ("exists", exists),
    ("type", type_cmd),
    ("rename", rename),
    ("renamenx", renamenx),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("touch", touch),
    ("copy", copy),
    ("object", object),
];

/// Values holding more heap than this are freed on the lazy-free thread by UNLINK (and by DEL
/// with `lazyfree-lazy-user-del yes`); smaller ones are cheaper to free than to hand over.
const LAZYFREE_THRESHOLD_BYTES: usize = 64 * 1024;

/// A config parameter kept as text (`Config::other`), or `default` when unset.
fn config_text(ctx: &Ctx, name: &str, default: &str) -> String {
    ctx.server.config().other.get(name).cloned().unwrap_or_else(|| default.to_string())
}

/// Whether a yes/no parameter in `Config::other` is "yes" (unset = `default`).
fn config_yes(ctx: &Ctx, name: &str, default: bool) -> bool {
    ctx.server.config().other.get(name).map_or(default, |v| v.eq_ignore_ascii_case("yes"))
}

fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lazy = config_yes(ctx, "lazyfree-lazy-user-del", false);
    del_generic(ctx, &args[1..], lazy)
}

fn unlink(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    del_generic(ctx, &args[1..], true)
}

/// DEL/UNLINK: deletes each key, counting only keys that were live (an expired key is deleted
/// by lazy expiry and counted as expired, not as deleted, as in Redis).
fn del_generic(ctx: &mut Ctx, keys: &[Bytes], lazy: bool) -> CmdResult {
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    let mut deleted = 0i64;
    for key in keys {
        if state.keyspace.expire_if_needed(key, now) {
            continue;
        }
        if let Some(entry) = state.keyspace.remove(key) {
            deleted += 1;
            if lazy && entry.value.heap_bytes() > LAZYFREE_THRESHOLD_BYTES {
                drop_in_background(entry);
            }
            state.signal_modified(key);
            state.notify(notify::GENERIC, "del", key);
        }
    }
    fold_expired(state);
    state.dirty += deleted as u64;
    ctx.out.integer(deleted);
    Ok(())
}

/// EXISTS: how many of the keys exist; a key named twice counts twice.
fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let mut count = 0i64;
    for key in &args[1..] {
        if lookup_read(ctx.state, key, now, false).is_some() {
            count += 1;
        }
    }
    ctx.out.integer(count);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let name =
        lookup_read(ctx.state, &args[1], ctx.now_ms, false).map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
    Ok(())
}

fn rename(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// RENAME/RENAMENX: the value and its TTL move to the new name; an existing destination is
/// overwritten (RENAME) or left alone with a 0 reply (RENAMENX).
fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    if lookup_write(state, src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.integer(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if lookup_write(state, dst, now).is_some() {
        if nx {
            ctx.out.integer(0);
            return Ok(());
        }
        state.keyspace.remove(dst);
    }
    let expire = state.keyspace.expire_at(src);
    let entry = state.keyspace.remove(src).expect("looked up above");
    state.keyspace.set(dst, entry);
    if let Some(at) = expire {
        state.keyspace.set_expire(dst, at);
    }
    state.dirty += 1;
    ctx.changed(notify::GENERIC, "rename_from", src);
    ctx.changed(notify::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.integer(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// The only slot a key matching `pattern` can be in, when the pattern pins one: no wildcard
/// or escape before the end of its hash tag (or anywhere, without a tag). Lets KEYS and SCAN
/// walk one slot instead of 16384 for patterns like `{user:1}:*`.
fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &c) in pattern.iter().enumerate() {
        match c {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' if open.is_some() => {
                let start = open.expect("checked") + 1;
                if i == start {
                    // `{}` is no tag: the whole key is hashed, so keep looking for wildcards.
                    empty_tag = true;
                    open = None;
                } else {
                    return Some(key_hash_slot(&pattern[start - 1..=i]));
                }
            }
            _ => {}
        }
    }
    Some(key_hash_slot(pattern))
}

fn keys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1][..];
    let all = pattern == b"*";
    let now = ctx.now_ms;
    let ks = &ctx.state.keyspace;
    let wanted = |k: &[u8]| (all || glob::matches(pattern, k, false)) && !ks.is_expired(k, now);
    let found: Vec<&[u8]> = match pattern_slot(pattern) {
        Some(slot) => ks.slot_keys(slot).filter(|k| wanted(k)).collect(),
        None => ks.iter().map(|(k, _)| k).filter(|k| wanted(k)).collect(),
    };
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// Parses a SCAN cursor as Redis does with `strtoul`: an optional sign then decimal digits up
/// to the end (or an embedded NUL, where C stops reading); a negative number wraps around; an
/// empty cursor is 0; leading whitespace, junk or overflow is "invalid cursor".
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("invalid cursor");
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10).and_then(|n| n.checked_add((d - b'0') as u64)).ok_or_else(invalid)?;
    }
    Ok(if negative { n.wrapping_neg() } else { n })
}

fn scan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&args[1])?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            let n = parse_int(&args[i + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if is(&args[i], "match") && has_value {
            let p = &args[i + 1][..];
            pattern = if p == b"*" { None } else { Some(p) };
        } else if is(&args[i], "type") && has_value {
            type_filter = Some(&args[i + 1][..]);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let collect = |k: &[u8], _: &Entry| found.push(k.to_vec());
    match pattern.and_then(pattern_slot) {
        // A pattern that pins a slot scans that slot only: the cursor jumps to it and the scan
        // ends when that slot is done.
        Some(slot) => {
            let slot_mask = SLOT_COUNT as u64 - 1;
            let at = (cursor & slot_mask) as u16;
            let inner = match at.cmp(&slot) {
                std::cmp::Ordering::Less => Some(0),
                std::cmp::Ordering::Equal => Some(cursor >> SLOT_BITS),
                std::cmp::Ordering::Greater => None,
            };
            cursor = match inner {
                Some(inner) => match state.keyspace.scan_slot(slot, inner, count, collect) {
                    0 => 0,
                    next => (next << SLOT_BITS) | slot as u64,
                },
                None => 0,
            };
        }
        None => cursor = state.keyspace.scan(cursor, count, collect),
    }
    found.retain(|k| {
        if let Some(p) = pattern {
            if !glob::matches(p, k, false) {
                return false;
            }
        }
        if let Some(t) = type_filter {
            // A key that expired meanwhile reads as type "none", as in Redis.
            let name = lookup_read(state, k, now, false).map_or("none", |e| e.value.type_name());
            if !t.eq_ignore_ascii_case(name.as_bytes()) {
                return false;
            }
        }
        !state.keyspace.expire_if_needed(k, now)
    });
    fold_expired(state);
    ctx.out.array(2);
    let mut buf = itoa::Buffer::new();
    ctx.out.bulk(buf.format(cursor).as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    // Each expired pick is deleted, so this ends: at worst when the keyspace is empty. A
    // replica keeps expired keys (its master deletes them), so there it gives up after 100
    // expired picks and answers the last one, as Redis does.
    let mut tries = 100;
    let key = loop {
        let rng = &mut state.rng;
        let Some(key) = state.keyspace.random_key(|| rand::RngCore::next_u64(rng)) else {
            break None;
        };
        if !state.keyspace.expire_if_needed(&key, now) {
            break Some(key);
        }
        tries -= 1;
        if tries == 0 && state.keyspace.expiry == crate::keyspace::ExpiryMode::Hide {
            break Some(key);
        }
    };
    fold_expired(state);
    match key {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.integer(ctx.state.keyspace.len() as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL `[ASYNC|SYNC]`; without an argument, `lazyfree-lazy-user-flush` decides.
fn flush_is_async(ctx: &Ctx, args: &[Bytes]) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(config_yes(ctx, "lazyfree-lazy-user-flush", false)),
        2 if is(&args[1], "sync") => Ok(false),
        2 if is(&args[1], "async") => Ok(true),
        _ => Err(CmdError::Syntax),
    }
}

/// Empties the keyspace; an async flush hands the old keyspace to the lazy-free thread so a
/// big flush does not stall every client behind the command lock.
fn flush(ctx: &mut Ctx, async_free: bool) -> u64 {
    ctx.state.signal_flush();
    let keyspace = &mut ctx.state.keyspace;
    let removed = keyspace.len() as u64;
    if async_free {
        drop_in_background(keyspace.take());
    } else {
        keyspace.clear();
    }
    removed
}

fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let async_free = flush_is_async(ctx, args)?;
    let removed = flush(ctx, async_free);
    ctx.state.dirty += removed;
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let async_free = flush_is_async(ctx, args)?;
    let removed = flush(ctx, async_free);
    // Redis counts one more change for FLUSHALL itself (it is always propagated).
    ctx.state.dirty += removed + 1;
    ctx.out.ok();
    Ok(())
}

/// TOUCH: records an access to each existing key and counts them.
fn touch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let mut count = 0i64;
    for key in &args[1..] {
        if lookup_read(ctx.state, key, now, true).is_some() {
            count += 1;
        }
    }
    ctx.out.integer(count);
    Ok(())
}

/// COPY source destination [DB index] [REPLACE]. This server has only database 0.
fn copy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "db") && j + 1 < args.len() {
            let db = parse_int(&args[j + 1])?;
            if i32::try_from(db).is_err() {
                return Err(CmdError::err(
                    "value is out of range, value must between -2147483648 and 2147483647",
                ));
            }
            if db != 0 {
                return Err(CmdError::err("DB index is out of range"));
            }
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (src, dst) = (&args[1], &args[2]);
    if src == dst {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    let Some(entry) = lookup_read(state, src, now, !ctx.client.no_touch) else {
        ctx.out.integer(0);
        return Ok(());
    };
    // The copy is a new object: its own access clock and LFU counter.
    let copied = Entry::new(entry.value.clone(), lru_clock(now));
    let expire = state.keyspace.expire_at(src);
    if lookup_write(state, dst, now).is_some() {
        if !replace {
            ctx.out.integer(0);
            return Ok(());
        }
        state.keyspace.remove(dst);
    }
    state.keyspace.set(dst, copied);
    if let Some(at) = expire {
        state.keyspace.set_expire(dst, at);
    }
    state.dirty += 1;
    ctx.changed(notify::GENERIC, "copy_to", dst);
    ctx.out.integer(1);
    Ok(())
}

/// The `maxmemory-policy` flavour: LRU/LFU policies change what OBJECT reports.
fn policy_is(ctx: &Ctx, suffix: &str) -> bool {
    let policy = config_text(ctx, "maxmemory-policy", "noeviction").to_ascii_lowercase();
    policy.ends_with(suffix)
}

/// Whether integers 0..10000 are Redis's shared objects, which report a refcount of
/// `INT_MAX`. Redis stops sharing them when a maxmemory limit is set with an LRU/LFU policy,
/// because a shared object cannot carry a per-key access clock.
fn integers_shared(ctx: &Ctx) -> bool {
    let maxmemory = config_text(ctx, "maxmemory", "0");
    let limited = crate::config::parse_memory(&maxmemory).is_ok_and(|m| m > 0);
    !(limited && (policy_is(ctx, "-lru") || policy_is(ctx, "-lfu")))
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = super::spec("object");
    let sub = subcommand(spec, args)?;
    if sub.name == "object|help" {
        ctx.out.array(OBJECT_HELP.len());
        for line in OBJECT_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    if !matches!(
        sub.name,
        "object|encoding" | "object|freq" | "object|idletime" | "object|refcount"
    ) {
        return Err(unknown_subcommand("object", &args[1]));
    }
    // Configuration first: the entry borrows the state for the rest of the command.
    let now = ctx.now_ms;
    let lfu = policy_is(ctx, "-lfu");
    let decay: u64 = config_text(ctx, "lfu-decay-time", "1").parse().unwrap_or(1);
    let sharing = integers_shared(ctx);
    let Some(entry) = lookup_read(ctx.state, &args[2], now, false) else {
        ctx.out.null();
        return Ok(());
    };
    match sub.name {
        "object|encoding" => ctx.out.bulk(entry.value.encoding().as_bytes()),
        "object|refcount" => {
            let shared =
                sharing && matches!(entry.value, Value::Int(i) if (0..10_000).contains(&i));
            ctx.out.integer(if shared { i32::MAX as i64 } else { 1 });
        }
        "object|idletime" => {
            if lfu {
                return Err(CmdError::err(
                    "An LFU maxmemory policy is selected, idle time not tracked. Please note \
                     that when switching between policies at runtime LRU and LFU data will take \
                     some time to adjust.",
                ));
            }
            ctx.out.integer((entry.idle_ms(now) / 1000) as i64);
        }
        _ => {
            if !lfu {
                return Err(CmdError::err(
                    "An LFU maxmemory policy is not selected, access frequency not tracked. \
                     Please note that when switching between policies at runtime LRU and LFU \
                     data will take some time to adjust.",
                ));
            }
            ctx.out.integer(entry.lfu_counter(now, decay) as i64);
        }
    }
    Ok(())
}
