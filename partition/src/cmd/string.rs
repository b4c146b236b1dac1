//! String commands.

use bytes::Bytes;

use super::{is, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::time::lru_clock;
use crate::value::Value;

pub const COMMANDS: &[(&str, Handler)] =
    &[("get", get), ("set", set), ("incr", incr), ("mset", mset)];

/// Appends the string value of `v` to the reply.
fn reply_string(ctx: &mut Ctx, v: &Value) {
    match v {
        Value::Int(i) => ctx.out.bulk_integer(*i),
        Value::Str { data, .. } => ctx.out.bulk(data),
    }
}

fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lru = lru_clock(ctx.now_ms);
    match ctx.state.keyspace.get(&args[1], ctx.now_ms) {
        None => {
            ctx.state.stats.keyspace_misses += 1;
            ctx.out.null();
        }
        Some(entry) => {
            entry.lru = lru;
            let value = &entry.value;
            match value {
                Value::Int(i) => ctx.out.bulk_integer(*i),
                Value::Str { data, .. } => ctx.out.bulk(data),
            }
            ctx.state.stats.keyspace_hits += 1;
        }
    }
    Ok(())
}

/// When a SET-like command sets an expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    None,
    KeepTtl,
    /// Absolute Unix milliseconds.
    At(u64),
}

fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let has_next = i + 1 < args.len();
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expiry == Expiry::None {
            expiry = Expiry::KeepTtl;
        } else if (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
            && expiry == Expiry::None
            && has_next
        {
            let n = parse_int(&args[i + 1])?;
            let invalid = || CmdError::err("invalid expire time in 'set' command");
            if n <= 0 {
                return Err(invalid());
            }
            let at = if is(a, "ex") {
                n.checked_mul(1000).and_then(|ms| ms.checked_add(ctx.now_ms as i64))
            } else if is(a, "px") {
                n.checked_add(ctx.now_ms as i64)
            } else if is(a, "exat") {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            expiry = Expiry::At(at.ok_or_else(invalid)? as u64);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let key = &args[1];
    let now = ctx.now_ms;
    let ks = &mut ctx.state.keyspace;
    let old = ks.get(key, now);
    if get {
        if let Some(e) = &old {
            if !matches!(e.value, Value::Int(_) | Value::Str { .. }) {
                return Err(CmdError::WrongType);
            }
        }
    }
    let exists = old.is_some();
    let old_value = if get { old.map(|e| e.value.clone()) } else { None };
    if (nx && exists) || (xx && !exists) {
        match (get, old_value) {
            (true, Some(v)) => reply_string(ctx, &v),
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    let entry = Entry::new(Value::string(args[2].as_ref()), lru_clock(now));
    match expiry {
        Expiry::KeepTtl => ks.set_keep_ttl(key, entry),
        _ => ks.set(key, entry),
    }
    if let Expiry::At(at) = expiry {
        ks.set_expire(key, at);
    }
    ctx.state.dirty += 1;
    match (get, old_value) {
        (false, _) => ctx.out.ok(),
        (true, Some(v)) => reply_string(ctx, &v),
        (true, None) => ctx.out.null(),
    }
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

/// INCR/DECR/INCRBY/DECRBY: adds `by` to the integer stored at `key`, keeping its TTL.
pub fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let lru = lru_clock(ctx.now_ms);
    let (entry, _) =
        ctx.state.keyspace.get_or_insert_with(key, ctx.now_ms, || Entry::new(Value::Int(0), lru));
    let current = match &entry.value {
        Value::Int(i) => *i,
        Value::Str { data, .. } => protocol::number::parse_i64(data).ok_or(CmdError::NotInteger)?,
    };
    let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
    entry.value = Value::Int(next);
    entry.lru = lru;
    ctx.state.dirty += 1;
    ctx.out.integer(next);
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() % 2 == 0 {
        return Err(CmdError::WrongArity("mset".into()));
    }
    let lru = lru_clock(ctx.now_ms);
    for pair in args[1..].chunks(2) {
        ctx.state.keyspace.set(&pair[0], Entry::new(Value::string(&pair[1]), lru));
    }
    ctx.state.dirty += (args.len() / 2) as u64;
    ctx.out.ok();
    Ok(())
}
