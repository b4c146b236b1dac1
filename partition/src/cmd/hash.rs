//! Hash commands (Redis 7.0's `t_hash.c`): HSET and friends, counters, HRANDFIELD, HSCAN.
//!
//! Each command checks its arguments, the key's type and the key's existence in Redis's order,
//! which decides the error a client sees when several things are wrong. Keys are created only
//! once nothing can fail any more, and a hash emptied by HDEL is deleted at once.
//!
//! Also here, shared with the set family: the HSCAN/SSCAN option parser, the config reader for
//! the encoding thresholds and the per-command random generator.

use bytes::Bytes;

use super::string::longdouble::LongDouble;
use super::{is, lookup_read, lookup_write, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::time::lru_clock;
use crate::types::hash::{Hash, Limits};
use crate::types::listpack::Elem;
use crate::value::Value;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hdel", hdel),
    ("hexists", hexists),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hgetall", hgetall),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

/// The `hash-max-listpack-*` limits.
fn limits(ctx: &Ctx) -> Limits {
    ctx.state.encodings.hash
}

/// A small xorshift generator seeded from the server's random source once per command, so
/// sampling can run while the value being sampled is borrowed from the state.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(ctx: &mut Ctx) -> Rng {
        Rng(ctx.state.random() | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// HSCAN/SSCAN's options after the cursor (Redis's `scanGenericCommand` for a key's value:
/// MATCH and COUNT, no TYPE).
pub(super) struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
}

pub(super) fn parse_scan_options(args: &[Bytes]) -> Result<ScanOptions<'_>, CmdError> {
    let mut opts = ScanOptions { count: 10, pattern: None };
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            let n = parse_int(&args[i + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            opts.count = n as usize;
        } else if is(&args[i], "match") && has_value {
            let p = &args[i + 1][..];
            opts.pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

/// Writes a SCAN-shaped reply: the cursor, then the elements.
pub(super) fn reply_scan(ctx: &mut Ctx, cursor: u64, items: &[Vec<u8>]) {
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    ctx.out.array(items.len());
    for item in items {
        ctx.out.bulk(item);
    }
}

/// The hash at `key` for reading, `None` when absent; WRONGTYPE for another type.
fn read<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a Hash>, CmdError> {
    match lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_hash()?)),
    }
}

/// Redis's `hashTypeLookupWriteOrCreate` split in two: fails with WRONGTYPE before anything is
/// created; the key is created by [`write`] only when the command is sure to succeed.
fn check_writable(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    if let Some(e) = lookup_write(ctx.state, key, ctx.now_ms) {
        e.value.as_hash()?;
    }
    Ok(())
}

/// The hash at `key`, created empty when absent (after [`check_writable`]).
fn write<'a>(ctx: &'a mut Ctx, key: &[u8]) -> &'a mut Hash {
    let now = ctx.now_ms;
    let (entry, _) = ctx
        .state
        .keyspace
        .get_or_insert_with(key, now, || Entry::new(Value::Hash(Hash::default()), lru_clock(now)));
    entry.value.as_hash_mut().expect("checked by check_writable")
}

/// Reports a write to `key` (signal, event, dirty count).
fn written(ctx: &mut Ctx, key: &[u8], event: &str, dirty: u64) {
    ctx.signal_modified(key);
    ctx.notify(notify::HASH, event, key);
    ctx.dirty(dirty);
}

/// HSET and HMSET: sets every pair; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx, args: &[Bytes]) -> Result<i64, CmdError> {
    if args.len() % 2 == 1 {
        return Err(CmdError::WrongArity(String::from_utf8_lossy(&args[0]).to_lowercase()));
    }
    let key = &args[1];
    let limits = limits(ctx);
    let now = ctx.now_ms;
    // One lookup that creates: a key of another type fails before anything changes, and a new
    // key always receives at least one field.
    if ctx.state.keyspace.expire_if_needed(key, now) {
        super::fold_expired(ctx.state);
    }
    let (entry, inserted) = ctx
        .state
        .keyspace
        .get_or_insert_with(key, now, || Entry::new(Value::Hash(Hash::default()), lru_clock(now)));
    if !inserted {
        entry.touch(now);
    }
    let h = entry.value.as_hash_mut()?;
    h.convert_for(args[2..].iter().map(|a| &a[..]), limits);
    let mut created = 0;
    for pair in args[2..].chunks_exact(2) {
        created += i64::from(h.set(&pair[0], &pair[1], limits));
    }
    h.trim();
    written(ctx, key, "hset", (args.len() as u64 - 2) / 2);
    Ok(created)
}

fn hset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let created = set_pairs(ctx, args)?;
    ctx.out.integer(created);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_pairs(ctx, args)?;
    ctx.out.simple("OK");
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, field, value) = (&args[1], &args[2], &args[3]);
    check_writable(ctx, key)?;
    let limits = limits(ctx);
    let h = write(ctx, key);
    if h.contains(field) {
        ctx.out.integer(0);
        return Ok(());
    }
    h.convert_for([&field[..], &value[..]], limits);
    h.set(field, value, limits);
    h.trim();
    written(ctx, key, "hset", 1);
    ctx.out.integer(1);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let field = &args[2];
    let out = &mut *ctx.out;
    match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        None => out.null(),
        Some(e) => match e.value.as_hash()?.get(field) {
            Some(v) => v.reply(out),
            None => out.null(),
        },
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let out = &mut *ctx.out;
    let h = match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        None => None,
        Some(e) => Some(e.value.as_hash()?),
    };
    out.array(args.len() - 2);
    for field in &args[2..] {
        match h.and_then(|h| h.get(field)) {
            Some(v) => v.reply(out),
            None => out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(e) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let h = e.value.as_hash_mut()?;
    let mut deleted = 0;
    for field in &args[2..] {
        if h.remove(field) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        h.trim();
        ctx.signal_modified(key);
        ctx.notify(notify::HASH, "hdel", key);
        ctx.remove_if_empty(key);
        ctx.dirty(deleted);
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = read(ctx, &args[1])?.is_some_and(|h| h.contains(&args[2]));
    ctx.out.integer(i64::from(found));
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1])?.map_or(0, Hash::len);
    ctx.out.integer(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1])?.and_then(|h| h.get(&args[2])).map_or(0, |v| v.text_len());
    ctx.out.integer(n as i64);
    Ok(())
}

/// HKEYS, HVALS, HGETALL (Redis's `genericHgetallCommand`).
fn getall(ctx: &mut Ctx, args: &[Bytes], keys: bool, values: bool) -> CmdResult {
    let out = &mut *ctx.out;
    let Some(e) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        if keys && values {
            out.map(0);
        } else {
            out.empty_array();
        }
        return Ok(());
    };
    let h = e.value.as_hash()?;
    if keys && values {
        out.map(h.len());
    } else {
        out.array(h.len());
    }
    for (f, v) in h.iter() {
        if keys {
            f.reply(out);
        }
        if values {
            v.reply(out);
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall(ctx, args, true, false)
}

fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall(ctx, args, false, true)
}

fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall(ctx, args, true, true)
}

fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    let incr = parse_int(&args[3])?;
    let current = match lookup_write(ctx.state, key, ctx.now_ms) {
        None => 0,
        Some(e) => match e.value.as_hash()?.get(field) {
            None => 0,
            Some(v) => v.as_int().ok_or_else(|| CmdError::err("hash value is not an integer"))?,
        },
    };
    let value = current.checked_add(incr).ok_or(CmdError::Overflow)?;
    let limits = limits(ctx);
    let text = itoa::Buffer::new().format(value).as_bytes().to_vec();
    let h = write(ctx, key);
    h.set(field, &text, limits);
    h.trim();
    ctx.out.integer(value);
    written(ctx, key, "hincrby", 1);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    let incr = LongDouble::parse(&args[3]).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::err("value is NaN or Infinity"));
    }
    let current = match lookup_write(ctx.state, key, ctx.now_ms) {
        None => None,
        Some(e) => match e.value.as_hash()?.get(field) {
            None => None,
            Some(v) => {
                let mut buf = itoa::Buffer::new();
                let parsed = LongDouble::parse(v.bytes(&mut buf));
                Some(parsed.ok_or_else(|| CmdError::err("hash value is not a float"))?)
            }
        },
    };
    let sum = match current {
        Some(v) => v.plus(incr),
        None => incr,
    };
    if !sum.is_finite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    let text = sum.to_human_string();
    let limits = limits(ctx);
    let h = write(ctx, key);
    h.set(field, text.as_bytes(), limits);
    h.trim();
    ctx.out.bulk(text.as_bytes());
    // Replicas and the AOF get the result, never the arithmetic to redo.
    ctx.state.propagation.rewrite(&[&b"HSET"[..], key, field, text.as_bytes()]);
    written(ctx, key, "hincrbyfloat", 1);
    Ok(())
}

fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() == 2 {
        let mut rng = Rng::new(ctx);
        let out = &mut *ctx.out;
        match lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) {
            None => out.null(),
            Some(e) => match e.value.as_hash()?.random(|| rng.next()) {
                Some((f, _)) => f.reply(out),
                None => out.null(),
            },
        }
        return Ok(());
    }
    let count = parse_int(&args[2])?;
    if count == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        ));
    }
    let with_values = match args.len() {
        3 => false,
        4 if is(&args[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if with_values && count < -(i64::MAX / 2) {
        return Err(CmdError::err("value is out of range"));
    }
    let mut rng = Rng::new(ctx);
    let out = &mut *ctx.out;
    let Some(e) = lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) else {
        out.empty_array();
        return Ok(());
    };
    let h = e.value.as_hash()?;
    let pairs_header = |out: &mut protocol::ReplyWriter, n: usize| {
        if with_values && !out.resp3() {
            out.array(n * 2);
        } else {
            out.array(n);
        }
    };
    let reply_pair = |out: &mut protocol::ReplyWriter, f: Elem, v: Elem| {
        if with_values && out.resp3() {
            out.array(2);
        }
        f.reply(out);
        if with_values {
            v.reply(out);
        }
    };
    if count == 0 || h.is_empty() {
        out.empty_array();
        return Ok(());
    }
    let size = h.len();
    if count < 0 {
        // Repeats allowed: `-count` independent picks.
        let n = count.unsigned_abs() as usize;
        pairs_header(out, n);
        for _ in 0..n {
            let (f, v) = h.random(|| rng.next()).expect("not empty");
            reply_pair(out, f, v);
        }
        return Ok(());
    }
    let count = count as usize;
    if count >= size {
        pairs_header(out, size);
        for (f, v) in h.iter() {
            reply_pair(out, f, v);
        }
        return Ok(());
    }
    pairs_header(out, count);
    if count * 3 > size {
        // Selection sampling in one pass: each pair is taken with probability
        // needed / remaining, which picks a uniform subset of exactly `count`.
        let mut needed = count;
        for (i, (f, v)) in h.iter().enumerate() {
            if needed == 0 {
                break;
            }
            if rng.below((size - i) as u64) < needed as u64 {
                reply_pair(out, f, v);
                needed -= 1;
            }
        }
    } else {
        // Few of many: random picks until `count` distinct fields were drawn.
        let mut seen: std::collections::HashSet<Vec<u8>, ahash::RandomState> = Default::default();
        while seen.len() < count {
            let (f, v) = h.random(|| rng.next()).expect("not empty");
            if seen.insert(f.to_vec()) {
                reply_pair(out, f, v);
            }
        }
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = super::keyspace::parse_cursor(&args[2])?;
    let Some(e) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let h = e.value.as_hash()?;
    let opts = parse_scan_options(args)?;
    let mut items = Vec::new();
    let cursor = h.scan(cursor, opts.count, |f, v| {
        let f = f.to_vec();
        if opts.pattern.is_none_or(|p| crate::glob::matches(p, &f, false)) {
            items.push(f);
            items.push(v.to_vec());
        }
    });
    reply_scan(ctx, cursor, &items);
    Ok(())
}
