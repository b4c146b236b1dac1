//! List commands: pushes and pops at both ends (plain, counted, multi-key and blocking),
//! index access, ranges, searches, inserts, removals and moves between lists.
//!
//! Every command matches Redis 7.0's `t_list.c`: the order in which arguments, the key's type
//! and its existence are checked (which decides the error a client sees when several things
//! are wrong), the replies in RESP2 and RESP3, and the keyspace events. LPUSH and LPOP are on
//! the benchmarked hot path: a pop replies straight from the node it is removed from, and
//! nothing is allocated besides the stored element.
//!
//! Blocking commands follow [`crate::blocking`]: they serve at once when a key has elements,
//! and otherwise ask to wait with [`Ctx::block`]; the server re-runs them unchanged when one of
//! their keys is signalled.

use bytes::Bytes;

use super::{fold_expired, is, lookup_read, lookup_write, parse_int, Ctx, Handler};
use crate::blocking::{parse_timeout, TimeoutReply};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::state::State;
use crate::time::lru_clock;
use crate::types::list::{End, List};
use crate::value::Value;
use protocol::ReplyWriter;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

fn push_event(end: End) -> &'static str {
    match end {
        End::Front => "lpush",
        End::Back => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Front => "lpop",
        End::Back => "rpop",
    }
}

/// Redis's `getListPositionFromObjectOrReply`: LEFT or RIGHT, any case.
fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "left") {
        Ok(End::Front)
    } else if is(arg, "right") {
        Ok(End::Back)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Redis's `getRangeLongFromObjectOrReply` with a message: an integer in `min..=max`, or
/// `ERR <msg>` whether the text is no integer or out of range.
fn parse_range(arg: &[u8], min: i64, max: i64, msg: &str) -> Result<i64, CmdError> {
    match protocol::number::parse_i64(arg) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(CmdError::err(msg)),
    }
}

/// The list at `key` for pushing, created when absent; WRONGTYPE for another type. Call it
/// only once every other check has passed: it may create the key.
fn list_for_push<'a>(state: &'a mut State, key: &[u8], now: u64) -> Result<&'a mut List, CmdError> {
    if state.keyspace.expire_if_needed(key, now) {
        fold_expired(state);
    }
    // A new list takes `list-max-listpack-size` now; existing lists keep theirs, as in Redis.
    let fill = state.encodings.list_max_listpack_size;
    let (entry, created) = state.keyspace.get_or_insert_with(key, now, || {
        Entry::new(Value::List(Box::new(List::new(fill))), lru_clock(now))
    });
    if !created {
        entry.touch(now);
    }
    entry.value.as_list_mut()
}

/// The bookkeeping after elements were popped from `key` (Redis's `listElementsRemoved`): the
/// pop event, deleting the key when `emptied`, signalling it, counting the change.
fn elements_removed(ctx: &mut Ctx, key: &[u8], end: End, n: usize, emptied: bool) {
    ctx.notify(notify::LIST, pop_event(end), key);
    if emptied {
        ctx.remove_if_empty(key);
    }
    ctx.signal_modified(key);
    ctx.dirty(n as u64);
}

/// Writes the first `n` elements from `end` (in pop order) as an array and removes them.
fn pop_range_reply(out: &mut ReplyWriter, list: &mut List, end: End, n: usize) -> usize {
    let n = n.min(list.len());
    out.array(n);
    match end {
        End::Front => list.iter().take(n).for_each(|e| e.reply(out)),
        End::Back => list.iter().rev().take(n).for_each(|e| e.reply(out)),
    }
    match end {
        End::Front => list.remove_front(n),
        End::Back => list.remove_back(n),
    }
}

// ---- pushes ----

/// Redis's `pushGenericCommand`; `existing_only` for LPUSHX/RPUSHX.
fn push_generic(ctx: &mut Ctx, args: &[Bytes], end: End, existing_only: bool) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let list = if existing_only {
        match lookup_write(ctx.state, key, now) {
            Some(entry) => entry.value.as_list_mut()?,
            None => {
                ctx.out.integer(0);
                return Ok(());
            }
        }
    } else {
        list_for_push(ctx.state, key, now)?
    };
    for value in &args[2..] {
        list.push(end, value);
    }
    let len = list.len();
    ctx.out.integer(len as i64);
    ctx.signal_modified(key);
    ctx.notify(notify::LIST, push_event(end), key);
    ctx.dirty((args.len() - 2) as u64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, End::Front, false)
}

fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, End::Back, false)
}

fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, End::Front, true)
}

fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, End::Back, true)
}

// ---- pops ----

/// Redis's `popGenericCommand`: one element as a bulk string, or with a count an array (an
/// empty one for a count of 0, a null array for a missing key).
fn pop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    // The table's arity (-2) lets any number of arguments through; Redis takes one count.
    if args.len() > 3 {
        return Err(CmdError::WrongArity(pop_event(end).to_string()));
    }
    let count = match args.get(2) {
        Some(arg) => {
            Some(parse_range(arg, 0, i64::MAX, "value is out of range, must be positive")?)
        }
        None => None,
    };
    let key = &args[1];
    let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let list = entry.value.as_list_mut()?;
    let n = match count {
        Some(0) => {
            ctx.out.empty_array();
            return Ok(());
        }
        Some(count) => pop_range_reply(ctx.out, list, end, count as usize),
        None => {
            let Some(elem) = list.peek(end) else {
                ctx.out.null();
                return Ok(());
            };
            elem.reply(ctx.out);
            list.pop(end);
            1
        }
    };
    let emptied = list.is_empty();
    elements_removed(ctx, key, end, n, emptied);
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, End::Front)
}

fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, End::Back)
}

/// Pops from the first non-empty list among `keys` (BLPOP/BRPOP, count `None`: a [key,
/// element] pair; LMPOP/BLMPOP: [key, [elements…]]). Returns false, having written nothing,
/// when every key is empty. WRONGTYPE stops the scan at the first key of another type.
fn pop_first_nonempty(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: Option<usize>,
) -> Result<bool, CmdError> {
    for key in keys {
        let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
            continue;
        };
        let list = entry.value.as_list_mut()?;
        if list.is_empty() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        let n = match count {
            Some(count) => pop_range_reply(ctx.out, list, end, count),
            None => {
                list.peek(end).expect("non-empty list").reply(ctx.out);
                list.pop(end);
                1
            }
        };
        let emptied = list.is_empty();
        // BLPOP, BRPOP, LMPOP and BLMPOP replay as the plain pop they amounted to, so that a
        // replica never waits and never scans keys.
        let n_text = itoa::Buffer::new().format(n).to_owned();
        let pop: &[u8] = if end == End::Front { b"LPOP" } else { b"RPOP" };
        ctx.state.propagation.rewrite(&[pop, key, n_text.as_bytes()]);
        elements_removed(ctx, key, end, n, emptied);
        return Ok(true);
    }
    Ok(false)
}

/// Redis's `blockingPopGenericCommand` for BLPOP/BRPOP: the timeout is checked first, then the
/// keys in order.
fn bpop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let deadline = parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    if !pop_first_nonempty(ctx, keys, end, None)? {
        ctx.block(keys, "list", deadline, TimeoutReply::NullArray)?;
    }
    Ok(())
}

fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, args, End::Front)
}

fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, args, End::Back)
}

/// The arguments of LMPOP / BLMPOP after the timeout: the keys, the end, the count.
struct MpopArgs<'a> {
    keys: &'a [Bytes],
    end: End,
    count: usize,
}

/// Redis's `lmpopGenericCommand` parsing; `first` is the index of numkeys.
fn parse_mpop(args: &[Bytes], first: usize) -> Result<MpopArgs<'_>, CmdError> {
    let numkeys = parse_range(&args[first], 1, i64::MAX, "numkeys should be greater than 0")?;
    let where_idx = match (first as i64 + 1).checked_add(numkeys) {
        Some(i) if i < args.len() as i64 => i as usize,
        _ => return Err(CmdError::Syntax),
    };
    let end = parse_end(&args[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            count = Some(
                parse_range(&args[j], 1, i64::MAX, "count should be greater than 0")? as usize
            );
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(MpopArgs { keys: &args[first + 1..where_idx], end, count: count.unwrap_or(1) })
}

fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let m = parse_mpop(args, 1)?;
    if !pop_first_nonempty(ctx, m.keys, m.end, Some(m.count))? {
        ctx.out.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let m = parse_mpop(args, 2)?;
    let deadline = parse_timeout(&args[1], ctx.now_ms)?;
    if !pop_first_nonempty(ctx, m.keys, m.end, Some(m.count))? {
        ctx.block(m.keys, "list", deadline, TimeoutReply::NullArray)?;
    }
    Ok(())
}

// ---- moves ----

/// Redis's `lmoveGenericCommand`: pops from `src` at `from`, pushes onto `dst` at `to`
/// (creating it), replies with the element. Null when `src` is missing.
fn lmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let now = ctx.now_ms;
    let Some(entry) = lookup_write(ctx.state, src, now) else {
        ctx.out.null();
        return Ok(());
    };
    if entry.value.as_list()?.is_empty() {
        ctx.out.null();
        return Ok(());
    }
    if let Some(entry) = lookup_write(ctx.state, dst, now) {
        entry.value.as_list()?;
    }
    // Both types are right: nothing can fail from here on.
    let list = lookup_write(ctx.state, src, now).expect("checked above").value.as_list_mut()?;
    let value = list.peek(from).expect("non-empty list").to_vec();
    list.pop(from);
    list_for_push(ctx.state, dst, now)?.push(to, &value);
    ctx.signal_modified(dst);
    ctx.notify(notify::LIST, push_event(to), dst);
    ctx.out.bulk(&value);
    ctx.notify(notify::LIST, pop_event(from), src);
    if src != dst {
        ctx.remove_if_empty(src);
    }
    ctx.signal_modified(src);
    ctx.dirty(1);
    // BLMOVE and BRPOPLPUSH replay as the LMOVE they amounted to.
    let side = |end: End| -> &'static [u8] {
        if end == End::Front {
            b"LEFT"
        } else {
            b"RIGHT"
        }
    };
    ctx.state.propagation.rewrite(&[&b"LMOVE"[..], src, dst, side(from), side(to)]);
    Ok(())
}

fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    lmove_generic(ctx, &args[1], &args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, &args[1], &args[2], End::Back, End::Front)
}

/// Redis's `blmoveGenericCommand`: only the source's type is checked before waiting.
fn blmove_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    from: End,
    to: End,
    deadline: Option<u64>,
) -> CmdResult {
    let src = &args[1];
    let exists = match lookup_write(ctx.state, src, ctx.now_ms) {
        Some(entry) => !entry.value.as_list()?.is_empty(),
        None => false,
    };
    if exists {
        lmove_generic(ctx, src, &args[2], from, to)
    } else {
        ctx.block(std::slice::from_ref(src), "list", deadline, TimeoutReply::Null)
    }
}

fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    let deadline = parse_timeout(&args[5], ctx.now_ms)?;
    blmove_generic(ctx, args, from, to, deadline)
}

fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = parse_timeout(&args[3], ctx.now_ms)?;
    blmove_generic(ctx, args, End::Back, End::Front, deadline)
}

// ---- reads ----

fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        Some(entry) => entry.value.as_list()?.len(),
        None => 0,
    };
    ctx.out.integer(len as i64);
    Ok(())
}

/// Clamps Redis's `start`/`end` (negative from the end) to the list: the first index and how
/// many elements, or `None` for an empty range.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (start + len).max(0) } else { start };
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, (end - start + 1) as usize))
}

fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = parse_int(&args[2])?;
    let end = parse_int(&args[3])?;
    let Some(entry) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        ctx.out.empty_array();
        return Ok(());
    };
    let list = entry.value.as_list()?;
    match clamp_range(start, end, list.len()) {
        None => ctx.out.empty_array(),
        Some((first, n)) => {
            ctx.out.array(n);
            list.iter_from(first).take(n).for_each(|e| e.reply(ctx.out));
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(entry) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        ctx.out.null();
        return Ok(());
    };
    let list = entry.value.as_list()?;
    let index = parse_int(&args[2])?;
    match list.get(index) {
        Some(e) => e.reply(ctx.out),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis's `lposCommand`, including its arithmetic on RANK: a RANK of `i64::MIN` negates to
/// itself and then matches from the first hit, ignoring COUNT, as in Redis 7.0.
fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "rank") && more {
            j += 1;
            rank = parse_int(&args[j])?;
            if rank == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                ));
            }
        } else if is(&args[j], "count") && more {
            j += 1;
            count = Some(parse_range(&args[j], 0, i64::MAX, "COUNT can't be negative")?);
        } else if is(&args[j], "maxlen") && more {
            j += 1;
            maxlen = parse_range(&args[j], 0, i64::MAX, "MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let Some(entry) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        match count {
            Some(_) => ctx.out.empty_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let list = entry.value.as_list()?;
    let value = &args[2];
    let from_back = rank < 0;
    if from_back {
        rank = rank.wrapping_neg();
    }
    let len = list.len();
    let scan: Box<dyn Iterator<Item = _>> =
        if from_back { Box::new(list.iter().rev()) } else { Box::new(list.iter()) };
    let limit = if maxlen == 0 { usize::MAX } else { maxlen as usize };
    let mut matches: i64 = 0;
    let mut found: Vec<i64> = Vec::new();
    for (i, elem) in scan.take(limit).enumerate() {
        if !elem.eq_bytes(value) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let index = if from_back { len - 1 - i } else { i } as i64;
        match count {
            None => {
                ctx.out.integer(index);
                return Ok(());
            }
            Some(count) => {
                found.push(index);
                if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                    break;
                }
            }
        }
    }
    match count {
        None => ctx.out.null(),
        Some(_) => {
            ctx.out.array(found.len());
            found.iter().for_each(|&i| ctx.out.integer(i));
        }
    }
    Ok(())
}

// ---- edits ----

fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
        return Err(CmdError::NoSuchKey);
    };
    let list = entry.value.as_list_mut()?;
    let index = parse_int(&args[2])?;
    let index = list.resolve(index).ok_or_else(|| CmdError::err("index out of range"))?;
    list.set(index, &args[3]);
    ctx.out.ok();
    ctx.signal_modified(key);
    ctx.notify(notify::LIST, "lset", key);
    ctx.dirty(1);
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = &args[1];
    let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let list = entry.value.as_list_mut()?;
    let Some(pivot) = list.position(&args[3]) else {
        ctx.out.integer(-1);
        return Ok(());
    };
    list.insert(pivot + usize::from(after), &args[4]);
    ctx.out.integer(list.len() as i64);
    ctx.signal_modified(key);
    ctx.notify(notify::LIST, "linsert", key);
    ctx.dirty(1);
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = parse_int(&args[2])?;
    let key = &args[1];
    let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let list = entry.value.as_list_mut()?;
    let from = if count < 0 { End::Back } else { End::Front };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(&args[3], limit, from);
    let emptied = list.is_empty();
    ctx.out.integer(removed as i64);
    if removed > 0 {
        ctx.signal_modified(key);
        ctx.notify(notify::LIST, "lrem", key);
        ctx.dirty(removed as u64);
    }
    if emptied {
        ctx.remove_if_empty(key);
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = parse_int(&args[2])?;
    let end = parse_int(&args[3])?;
    let key = &args[1];
    let Some(entry) = lookup_write(ctx.state, key, ctx.now_ms) else {
        ctx.out.ok();
        return Ok(());
    };
    let list = entry.value.as_list_mut()?;
    let len = list.len();
    let (front, back) = match clamp_range(start, end, len) {
        None => (len, 0),
        Some((first, n)) => (first, len - first - n),
    };
    list.remove_front(front);
    list.remove_back(back);
    let emptied = list.is_empty();
    ctx.out.ok();
    ctx.notify(notify::LIST, "ltrim", key);
    if emptied {
        ctx.remove_if_empty(key);
    }
    ctx.signal_modified(key);
    ctx.dirty((front + back) as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_as_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 5)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 5)));
        assert_eq!(clamp_range(2, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(-2, -1, 5), Some((3, 2)));
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(clamp_range(0, -1, 0), None);
        assert_eq!(clamp_range(1, -6, 5), None);
    }
}
