//! Set commands (Redis 7.0's `t_set.c`): SADD and friends, random sampling (SRANDMEMBER,
//! SPOP), the algebra (SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD), SSCAN.
//!
//! Each command checks its arguments, the key's type and the key's existence in Redis's order.
//! Results of the algebra are built as a fresh set the way Redis builds its destination (an
//! intset while every member is an integer and there are few enough), which is also what the
//! STORE forms keep.

use bytes::Bytes;

use super::hash::{parse_scan_options, reply_scan, Rng};
use super::{is, lookup_read, lookup_write, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::time::lru_clock;
use crate::types::listpack::Elem;
use crate::types::set::Set;
use crate::value::Value;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("scard", scard),
    ("sismember", sismember),
    ("smismember", smismember),
    ("smembers", smembers),
    ("srandmember", srandmember),
    ("spop", spop),
    ("smove", smove),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sinterstore", sinterstore),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

fn max_intset(ctx: &Ctx) -> usize {
    ctx.state.encodings.set_max_intset_entries
}

/// The set at `key` for reading, `None` when absent; WRONGTYPE for another type.
fn read<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a Set>, CmdError> {
    match lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_set()?)),
    }
}

fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let max = max_intset(ctx);
    // One lookup that creates: a key of another type fails before anything changes, and a new
    // key always receives at least its first member.
    if ctx.state.keyspace.expire_if_needed(key, now) {
        super::fold_expired(ctx.state);
    }
    let (entry, inserted) = ctx.state.keyspace.get_or_insert_with(key, now, || {
        Entry::new(Value::Set(Set::for_member(&args[2])), lru_clock(now))
    });
    if !inserted {
        entry.touch(now);
    }
    let set = entry.value.as_set_mut()?;
    let mut added = 0;
    for m in &args[2..] {
        added += u64::from(set.add(m, max));
    }
    if added > 0 {
        ctx.signal_modified(key);
        ctx.notify(notify::SET, "sadd", key);
        ctx.dirty(added);
    }
    ctx.out.integer(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(e) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let set = e.value.as_set_mut()?;
    let mut removed = 0;
    for m in &args[2..] {
        if set.remove(m) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        set.shrink();
        ctx.signal_modified(key);
        ctx.notify(notify::SET, "srem", key);
        ctx.remove_if_empty(key);
        ctx.dirty(removed);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1])?.map_or(0, Set::len);
    ctx.out.integer(n as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = read(ctx, &args[1])?.is_some_and(|s| s.contains(&args[2]));
    ctx.out.integer(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let out = &mut *ctx.out;
    let set = match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        None => None,
        Some(e) => Some(e.value.as_set()?),
    };
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.integer(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let out = &mut *ctx.out;
    match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        None => out.set(0),
        Some(e) => {
            let set = e.value.as_set()?;
            out.set(set.len());
            for m in set.iter() {
                m.reply(out);
            }
        }
    }
    Ok(())
}

/// Parses SRANDMEMBER's count (any `i64` but `i64::MIN`, whose negation does not exist).
fn parse_signed_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_int(arg)?;
    if n == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        ));
    }
    Ok(n)
}

fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        Some(arg) => Some(parse_signed_count(arg)?),
        None => None,
    };
    let mut rng = Rng::new(ctx);
    let out = &mut *ctx.out;
    let entry = lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch);
    let Some(count) = count else {
        match entry {
            None => out.null(),
            Some(e) => match e.value.as_set()?.random(|| rng.next()) {
                Some(m) => m.reply(out),
                None => out.null(),
            },
        }
        return Ok(());
    };
    let Some(e) = entry else {
        out.empty_array();
        return Ok(());
    };
    let set = e.value.as_set()?;
    if count == 0 || set.is_empty() {
        out.empty_array();
        return Ok(());
    }
    if count < 0 {
        // Repeats allowed: `-count` independent picks.
        let n = count.unsigned_abs() as usize;
        out.array(n);
        for _ in 0..n {
            set.random(|| rng.next()).expect("not empty").reply(out);
        }
        return Ok(());
    }
    let count = count as usize;
    let size = set.len();
    if count >= size {
        out.array(size);
        set.iter().for_each(|m| m.reply(out));
        return Ok(());
    }
    out.array(count);
    sample_distinct(set, count, &mut rng, |m| m.reply(out));
    Ok(())
}

/// Visits `count` distinct members chosen at random (`count < set.len()`).
fn sample_distinct(set: &Set, count: usize, rng: &mut Rng, mut visit: impl FnMut(Elem)) {
    let size = set.len();
    if count * 3 > size {
        // Selection sampling in one pass: each member is taken with probability
        // needed / remaining, which picks a uniform subset of exactly `count`.
        let mut needed = count;
        for (i, m) in set.iter().enumerate() {
            if needed == 0 {
                break;
            }
            if rng.below((size - i) as u64) < needed as u64 {
                visit(m);
                needed -= 1;
            }
        }
    } else {
        // Few of many: random picks until `count` distinct members were drawn.
        let mut seen: std::collections::HashSet<Vec<u8>, ahash::RandomState> = Default::default();
        while seen.len() < count {
            let m = set.random(|| rng.next()).expect("not empty");
            if seen.insert(m.to_vec()) {
                visit(m);
            }
        }
    }
}

fn spop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => spop_one(ctx, &args[1]),
        3 => spop_count(ctx, &args[1], &args[2]),
        _ => Err(CmdError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut rng = Rng::new(ctx);
    let Some(e) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.null();
        return Ok(());
    };
    let set = e.value.as_set_mut()?;
    let member = set.pop_random(|| rng.next()).expect("stored sets are never empty");
    ctx.out.bulk(&member);
    // Replicas and the AOF get the member chosen, not another random choice.
    ctx.state.propagation.rewrite(&[&b"SREM"[..], key, &member]);
    ctx.notify(notify::SET, "spop", key);
    ctx.remove_if_empty(key);
    ctx.signal_modified(key);
    ctx.dirty(1);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, key: &[u8], count: &[u8]) -> CmdResult {
    let count = parse_int(count).unwrap_or(-1);
    if count < 0 {
        return Err(CmdError::err("value is out of range, must be positive"));
    }
    let count = count as usize;
    let mut rng = Rng::new(ctx);
    // Replicas and the AOF get the members chosen (SREM), not another random choice.
    let propagate = ctx.state.propagation.enabled;
    let out = &mut *ctx.out;
    let Some(e) = lookup_write(ctx.state, key, ctx.now_ms) else {
        out.set(0);
        return Ok(());
    };
    let set = e.value.as_set_mut()?;
    if count == 0 {
        out.set(0);
        return Ok(());
    }
    let size = set.len();
    let mut popped: Vec<Vec<u8>> = Vec::new();
    if count >= size {
        // The whole set goes.
        out.set(size);
        set.iter().for_each(|m| m.reply(out));
        ctx.state.keyspace.remove(key);
        ctx.state.propagation.rewrite(&[&b"DEL"[..], key]);
        ctx.notify(notify::SET, "spop", key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        let remaining = size - count;
        out.set(count);
        if remaining * 5 > count {
            // Few to pop: pop them one by one.
            for _ in 0..count {
                let m = set.pop_random(|| rng.next()).expect("not empty");
                out.bulk(&m);
                if propagate {
                    popped.push(m);
                }
            }
        } else {
            // Most of the set goes: move the few that stay into a new set (of the same
            // encoding) and reply with everything left in the old one.
            let mut kept = match set {
                Set::Ints(_) => Set::default(),
                Set::Table(_) => Set::Table(Default::default()),
            };
            for _ in 0..remaining {
                let m = set.pop_random(|| rng.next()).expect("not empty");
                kept.add(&m, usize::MAX);
            }
            set.iter().for_each(|m| m.reply(out));
            if propagate {
                popped.extend(set.iter().map(|m| m.to_vec()));
            }
            *set = kept;
        }
        set.shrink();
        if propagate {
            let mut srem = vec![b"SREM".to_vec(), key.to_vec()];
            srem.append(&mut popped);
            ctx.state.propagation.rewrite(&srem);
        }
        ctx.notify(notify::SET, "spop", key);
    }
    ctx.signal_modified(key);
    ctx.dirty(count as u64);
    Ok(())
}

fn smove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let now = ctx.now_ms;
    match lookup_write(ctx.state, src, now) {
        None => {
            ctx.out.integer(0);
            return Ok(());
        }
        Some(e) => {
            e.value.as_set()?;
        }
    }
    if let Some(e) = lookup_write(ctx.state, dst, now) {
        e.value.as_set()?;
    }
    let src_set = ctx.state.keyspace.get_unchecked(src).expect("looked up").value.as_set_mut()?;
    if src == dst {
        let found = src_set.contains(member);
        ctx.out.integer(i64::from(found));
        return Ok(());
    }
    if !src_set.remove(member) {
        ctx.out.integer(0);
        return Ok(());
    }
    src_set.shrink();
    ctx.notify(notify::SET, "srem", src);
    ctx.remove_if_empty(src);
    ctx.signal_modified(src);
    ctx.signal_modified(dst);
    ctx.dirty(1);
    let max = max_intset(ctx);
    let (entry, _) = ctx.state.keyspace.get_or_insert_with(dst, now, || {
        Entry::new(Value::Set(Set::for_member(member)), lru_clock(now))
    });
    if entry.value.as_set_mut()?.add(member, max) {
        ctx.dirty(1);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.out.integer(1);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Looks up every key (counting hits and misses, checking types) and returns which exist.
/// Destination commands look their sources up for writing, as Redis does.
fn lookup_sets(ctx: &mut Ctx, keys: &[Bytes], for_store: bool) -> Result<Vec<bool>, CmdError> {
    let now = ctx.now_ms;
    let touch = !ctx.client.no_touch;
    keys.iter()
        .map(|k| {
            let e = if for_store {
                lookup_write(ctx.state, k, now)
            } else {
                lookup_read(ctx.state, k, now, touch)
            };
            match e {
                None => Ok(false),
                Some(e) => e.value.as_set().map(|_| true),
            }
        })
        .collect()
}

/// The result of `op` over the sets at `keys` (already looked up), built as Redis builds a
/// destination set.
fn compute(ctx: &mut Ctx, keys: &[Bytes], exists: &[bool], op: Op) -> Set {
    let max = max_intset(ctx);
    let now = ctx.now_ms;
    let sets: Vec<Option<&Set>> = keys
        .iter()
        .zip(exists)
        .map(|(k, &e)| {
            if e {
                ctx.state.keyspace.peek(k, now).and_then(|e| e.value.as_set().ok())
            } else {
                None
            }
        })
        .collect();
    let mut result = Set::default();
    let mut buf = itoa::Buffer::new();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return result;
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            for m in sets[0].iter() {
                let bytes = m.bytes(&mut buf);
                if sets[1..].iter().all(|s| s.contains(bytes)) {
                    result.add(bytes, max);
                }
            }
        }
        Op::Union => {
            for s in sets.into_iter().flatten() {
                for m in s.iter() {
                    result.add(m.bytes(&mut buf), max);
                }
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                for m in first.iter() {
                    let bytes = m.bytes(&mut buf);
                    if !sets[1..].iter().flatten().any(|s| s.contains(bytes)) {
                        result.add(bytes, max);
                    }
                }
            }
        }
    }
    result.shrink();
    result
}

/// SINTER, SUNION, SDIFF.
fn algebra(ctx: &mut Ctx, keys: &[Bytes], op: Op) -> CmdResult {
    let exists = lookup_sets(ctx, keys, false)?;
    let result = compute(ctx, keys, &exists, op);
    ctx.out.set(result.len());
    for m in result.iter() {
        m.reply(ctx.out);
    }
    Ok(())
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the destination is overwritten with the result, or
/// deleted when the result is empty.
fn algebra_store(ctx: &mut Ctx, args: &[Bytes], op: Op, event: &str) -> CmdResult {
    let (dst, keys) = (&args[1], &args[2..]);
    let exists = lookup_sets(ctx, keys, true)?;
    let result = compute(ctx, keys, &exists, op);
    let n = result.len();
    let now = ctx.now_ms;
    if n == 0 {
        if ctx.state.keyspace.expire_if_needed(dst, now) {
            super::fold_expired(ctx.state);
        }
        if ctx.state.keyspace.remove(dst).is_some() {
            ctx.signal_modified(dst);
            ctx.notify(notify::GENERIC, "del", dst);
            ctx.dirty(1);
        }
    } else {
        let entry = Entry::new(Value::Set(result), lru_clock(now));
        ctx.state.keyspace.set(dst, entry);
        ctx.signal_modified(dst);
        ctx.notify(notify::SET, event, dst);
        ctx.dirty(1);
    }
    ctx.out.integer(n as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Op::Inter)
}

fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Op::Union)
}

fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Op::Diff)
}

fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, args, Op::Inter, "sinterstore")
}

fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, args, Op::Union, "sunionstore")
}

fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, args, Op::Diff, "sdiffstore")
}

fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numkeys = parse_int(&args[1])
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::err("numkeys should be greater than 0"))?;
    if numkeys as u64 > (args.len() - 2) as u64 {
        return Err(CmdError::err("Number of keys can't be greater than number of args"));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if is(&args[j], "limit") && j + 1 < args.len() {
            limit = parse_int(&args[j + 1])
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::err("LIMIT can't be negative"))?
                as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys = &args[2..2 + numkeys];
    let exists = lookup_sets(ctx, keys, false)?;
    if exists.contains(&false) {
        ctx.out.integer(0);
        return Ok(());
    }
    let now = ctx.now_ms;
    let mut sets: Vec<&Set> = keys
        .iter()
        .filter_map(|k| ctx.state.keyspace.peek(k, now).and_then(|e| e.value.as_set().ok()))
        .collect();
    sets.sort_by_key(|s| s.len());
    let mut n = 0usize;
    let mut buf = itoa::Buffer::new();
    for m in sets[0].iter() {
        let bytes = m.bytes(&mut buf);
        if sets[1..].iter().all(|s| s.contains(bytes)) {
            n += 1;
            if n == limit {
                break;
            }
        }
    }
    ctx.out.integer(n as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = super::keyspace::parse_cursor(&args[2])?;
    let Some(e) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let set = e.value.as_set()?;
    let opts = parse_scan_options(args)?;
    let mut items = Vec::new();
    let cursor = set.scan(cursor, opts.count, |m| {
        let m = m.to_vec();
        if opts.pattern.is_none_or(|p| crate::glob::matches(p, &m, false)) {
            items.push(m);
        }
    });
    reply_scan(ctx, cursor, &items);
    Ok(())
}
