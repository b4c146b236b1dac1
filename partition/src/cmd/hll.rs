//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, as Redis 7.0's `hyperloglog.c`.
//!
//! A HyperLogLog is a string in Redis's own format ([`sketch`]), so GET, SET, DUMP-style
//! copies and replication see the same bytes as with redis-server. PFCOUNT of one key caches
//! the estimate in the header (a write, as in Redis); any change marks the cache stale.
//!
//! # Layout
//! - this file: the commands and the checks of a key's value.
//! - [`sketch`] (`protocol::hll`, shared with the proxy): the format — hashing, the sparse
//!   and dense registers, the estimator.

pub use protocol::hll as sketch;

use bytes::Bytes;

use super::{lookup_read, lookup_write, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::time::lru_clock;
use crate::value::{StrBuf, Value};

pub const COMMANDS: &[(&str, Handler)] =
    &[("pfadd", pfadd), ("pfcount", pfcount), ("pfmerge", pfmerge)];

fn invalid_hll() -> CmdError {
    CmdError::Other("WRONGTYPE Key is not a valid HyperLogLog string value.".into())
}

fn corrupt(_: sketch::Corrupt) -> CmdError {
    CmdError::Other("INVALIDOBJ Corrupted HLL object detected".into())
}

/// Redis's `isHLLObjectOrReply`: the bytes of a valid sketch; WRONGTYPE (the generic text) for
/// a non-string, WRONGTYPE (the HLL text) for a string that is not a sketch.
fn sketch_of(value: &Value) -> Result<&[u8], CmdError> {
    match value {
        Value::Str { data, .. } if sketch::is_valid(data) => Ok(data),
        v if v.is_string() => Err(invalid_hll()),
        _ => Err(CmdError::WrongType),
    }
}

/// `hll-sparse-max-bytes`.
fn sparse_max_bytes(ctx: &Ctx) -> usize {
    ctx.state.encodings.hll_sparse_max_bytes
}

/// Runs `f` on the bytes of a (validated) sketch value, in place: the buffer moves out of the
/// value and back, without a copy.
fn with_sketch<T>(value: &mut Value, f: impl FnOnce(&mut Vec<u8>) -> T) -> Result<T, CmdError> {
    let data = value.string_mut()?;
    let mut v = std::mem::take(data).into_vec();
    let out = f(&mut v);
    *data = StrBuf::from_vec(v);
    Ok(out)
}

fn pfadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let max_bytes = sparse_max_bytes(ctx);
    let add_all = |v: &mut Vec<u8>| -> Result<u64, sketch::Corrupt> {
        let mut updated = 0;
        for element in &args[2..] {
            updated += u64::from(sketch::add(v, element, max_bytes)?);
        }
        Ok(updated)
    };
    let updated = match lookup_write(ctx.state, key, now) {
        Some(entry) => {
            sketch_of(&entry.value)?;
            with_sketch(&mut entry.value, |v| {
                let updated = add_all(v);
                if matches!(updated, Ok(n) if n > 0) {
                    sketch::invalidate_cache(v);
                }
                updated
            })?
            .map_err(corrupt)?
        }
        None => {
            let mut v = sketch::new_sparse();
            // Adding to a new sketch cannot meet a corrupt encoding.
            let updated = 1 + add_all(&mut v).map_err(corrupt)?;
            sketch::invalidate_cache(&mut v);
            ctx.state.keyspace.set(key, Entry::new(Value::raw_string(v), lru_clock(now)));
            updated
        }
    };
    ctx.out.integer(i64::from(updated > 0));
    if updated > 0 {
        ctx.signal_modified(key);
        ctx.notify(notify::STRING, "pfadd", key);
        ctx.dirty(updated);
    }
    Ok(())
}

fn pfcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return pfcount_union(ctx, &args[1..]);
    }
    let key = &args[1];
    let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let v = sketch_of(&entry.value)?;
    if let Some(card) = sketch::cached(v) {
        ctx.out.integer(card as i64);
        return Ok(());
    }
    let card = sketch::count(v).map_err(corrupt)?;
    with_sketch(&mut entry.value, |v| sketch::set_cache(v, card))?;
    ctx.out.integer(card as i64);
    // Caching the estimate changes the string: a write, as Redis counts it.
    ctx.signal_modified(key);
    ctx.dirty(1);
    Ok(())
}

/// Raises `max` to the registers of every existing key among `keys`; true if any was dense.
fn merge_keys(ctx: &mut Ctx, keys: &[Bytes], max: &mut [u8]) -> Result<bool, CmdError> {
    let mut any_dense = false;
    for key in keys {
        let Some(entry) = lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) else {
            continue;
        };
        let v = sketch_of(&entry.value)?;
        any_dense |= v[4] == sketch::DENSE;
        sketch::merge_into(max, v).map_err(corrupt)?;
    }
    Ok(any_dense)
}

/// PFCOUNT of several keys: the estimate of their union, not cached anywhere.
fn pfcount_union(ctx: &mut Ctx, keys: &[Bytes]) -> CmdResult {
    let mut max = vec![0u8; sketch::REGISTERS];
    merge_keys(ctx, keys, &mut max)?;
    ctx.out.integer(sketch::count_registers(&max) as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut max = vec![0u8; sketch::REGISTERS];
    let any_dense = merge_keys(ctx, &args[1..], &mut max)?;
    let key = &args[1];
    let now = ctx.now_ms;
    let max_bytes = sparse_max_bytes(ctx);
    let write = |v: &mut Vec<u8>| -> Result<(), sketch::Corrupt> {
        if any_dense {
            sketch::to_dense(v)?;
        }
        for (i, &m) in max.iter().enumerate().filter(|(_, &m)| m > 0) {
            sketch::set(v, i, m, max_bytes)?;
        }
        sketch::invalidate_cache(v);
        Ok(())
    };
    match lookup_write(ctx.state, key, now) {
        // Already checked as a source above.
        Some(entry) => with_sketch(&mut entry.value, write)?.map_err(corrupt)?,
        None => {
            let mut v = sketch::new_sparse();
            write(&mut v).map_err(corrupt)?;
            ctx.state.keyspace.set(key, Entry::new(Value::raw_string(v), lru_clock(now)));
        }
    }
    ctx.out.ok();
    ctx.signal_modified(key);
    ctx.notify(notify::STRING, "pfadd", key);
    ctx.dirty(1);
    Ok(())
}
