//! Sorted set commands, as Redis 7.0's `t_zset.c` (plus ZRANK/ZREVRANK's WITHSCORE from 7.2).
//!
//! Arguments are checked in Redis's order (options, then ranges, then the key's type), so a
//! client sees the same error when several things are wrong. Range replies know their length
//! before the first element (ranks bound every range), so they are written straight into the
//! reply buffer without deferred headers or per-element allocation.
//!
//! # Layout
//! - parsing helpers: scores, score ranges, lex ranges, the listpack limits.
//! - ZADD/ZINCRBY, ZREM, point reads (ZSCORE, ZMSCORE, ZRANK, ZCARD, ZCOUNT, ZLEXCOUNT).
//! - the ZRANGE family (one generic implementation for all range commands and ZRANGESTORE),
//!   ZREMRANGEBY*.
//! - pops (ZPOPMIN/MAX, ZMPOP, their blocking forms), ZRANDMEMBER, ZSCAN.
//! - set algebra: ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD.

use std::collections::HashMap;

use bytes::Bytes;
use protocol::ReplyWriter;

use super::{is, lookup_read, lookup_write, parse_int, Ctx, Handler};
use crate::blocking::{parse_timeout, TimeoutReply};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::state::State;
use crate::time::lru_clock;
use crate::types::listpack::Elem;
use crate::types::zset::{LexBound, LexRange, Limits, ScoreRange, ScoreText, ZSet};
use crate::value::Value;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zrange", zrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zrevrange", zrevrange),
    ("zrangestore", zrangestore),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("zmpop", zmpop),
    ("bzmpop", bzmpop),
    ("zrandmember", zrandmember),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zintercard", zintercard),
    ("zscan", zscan),
];

// ---------------------------------------------------------------------------------------------
// Parsing and shared helpers

/// The `zset-max-listpack-*` limits.
pub(crate) fn limits(state: &State) -> Limits {
    state.encodings.zset
}

/// Parses a score as Redis's `getDoubleFromObject` (no NaN). Plain decimal text, the common
/// case, is parsed without the general parser's allocation.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let plain = !arg.is_empty()
        && arg.len() < 64
        && arg.iter().all(|&c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'));
    if plain {
        if let Ok(v) = std::str::from_utf8(arg).unwrap_or("x").parse::<f64>() {
            return Some(v);
        }
    }
    protocol::number::parse_f64(arg)
}

fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_score(arg).ok_or(CmdError::NotFloat)
}

/// One end of a score range: `(` makes it exclusive; the rest is read like `strtod`, where an
/// empty string reads as 0.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    if text.is_empty() {
        return Some((0.0, ex));
    }
    parse_score(text).map(|v| (v, ex))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let bad = || CmdError::err("min or max is not a float");
    let (min, minex) = parse_score_bound(min).ok_or_else(bad)?;
    let (max, maxex) = parse_score_bound(max).ok_or_else(bad)?;
    Ok(ScoreRange { min, max, minex, maxex })
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound<'_>> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Excl(&arg[1..])),
        b'[' => Some(LexBound::Incl(&arg[1..])),
        _ => None,
    }
}

fn parse_lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    let bad = || CmdError::err("min or max not valid string range item");
    Ok(LexRange {
        min: parse_lex_bound(min).ok_or_else(bad)?,
        max: parse_lex_bound(max).ok_or_else(bad)?,
    })
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default message.
fn positive_count(arg: &[u8]) -> Result<i64, CmdError> {
    match protocol::number::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::err("value is out of range, must be positive")),
    }
}

/// Redis's `getRangeLongFromObjectOrReply` with a custom message for 1..=LONG_MAX.
fn at_least_one(arg: &[u8], msg: &str) -> Result<i64, CmdError> {
    match protocol::number::parse_i64(arg) {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(CmdError::err(msg)),
    }
}

/// A score as a reply: a RESP3 double, a bulk string in RESP2; `%.17g` either way.
#[inline]
fn reply_score(out: &mut ReplyWriter, d: f64) {
    let text = ScoreText::g17(d);
    if out.resp3() {
        out.raw(b",");
        out.raw(&text);
        out.raw(b"\r\n");
    } else {
        out.bulk(&text);
    }
}

/// A member as a bulk string, with one capacity check (range replies write many).
#[inline]
fn reply_member(out: &mut ReplyWriter, m: Elem) {
    use bytes::BufMut;
    let mut ibuf = itoa::Buffer::new();
    let data = m.bytes(&mut ibuf);
    let mut lbuf = itoa::Buffer::new();
    let len = lbuf.format(data.len()).as_bytes();
    let total = data.len() + len.len() + 5;
    let b = out.buffer_mut();
    if total <= 96 {
        // Short members (the common case): assemble on the stack, append with one copy.
        let mut tmp = [0u8; 96];
        tmp[0] = b'$';
        let mut at = 1;
        for part in [len, b"\r\n", data, b"\r\n"] {
            tmp[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        b.put_slice(&tmp[..total]);
        return;
    }
    b.reserve(total);
    b.put_u8(b'$');
    b.put_slice(len);
    b.put_slice(b"\r\n");
    b.put_slice(data);
    b.put_slice(b"\r\n");
}

/// The sorted set at `key` for reading: `None` when missing, WRONGTYPE for other types.
fn read_zset<'a>(
    state: &'a mut State,
    key: &[u8],
    now_ms: u64,
    touch: bool,
) -> Result<Option<&'a ZSet>, CmdError> {
    match lookup_read(state, key, now_ms, touch) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_zset()?)),
    }
}

/// The sorted set at `key` for writing: `None` when missing, WRONGTYPE for other types.
fn write_zset<'a>(
    state: &'a mut State,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a mut ZSet>, CmdError> {
    match lookup_write(state, key, now_ms) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_zset_mut()?)),
    }
}

/// Stores `zs` at `dst` (replacing any value and TTL) or, when it is empty, deletes `dst`, as
/// the STORE commands do; replies with the stored length.
fn store_result(ctx: &mut Ctx, dst: &[u8], zs: ZSet, event: &str) {
    let n = zs.len();
    if n > 0 {
        let entry = Entry::new(Value::ZSet(zs), lru_clock(ctx.now_ms));
        ctx.state.keyspace.set(dst, entry);
        ctx.signal_modified(dst);
        ctx.notify(notify::ZSET, event, dst);
        ctx.dirty(1);
    } else if ctx.state.keyspace.remove(dst).is_some() {
        ctx.signal_modified(dst);
        ctx.notify(notify::GENERIC, "del", dst);
        ctx.dirty(1);
    }
    ctx.out.integer(n as i64);
}

/// Writes `n` elements from 0-based rank `start`, walking down when `rev`: members only, flat
/// member/score pairs (RESP2) or [member, score] arrays (RESP3).
fn reply_walk(out: &mut ReplyWriter, zs: &ZSet, start: usize, n: usize, rev: bool, scores: bool) {
    let pairs = scores && out.resp3();
    out.array(if scores && !pairs { n * 2 } else { n });
    // One growth step for the whole reply instead of several (a guess: short members).
    out.buffer_mut().reserve(n.min(zs.len()) * if scores { 40 } else { 16 });
    zs.walk(start, n, rev, scores, |m, s| {
        if pairs {
            out.array(2);
        }
        reply_member(out, m);
        if scores {
            reply_score(out, s);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;
const CH: u8 = 16;
const INCR: u8 = 32;

/// What one ZADD element did.
enum Outcome {
    Added,
    Updated,
    Nop,
}

fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut flags = 0u8;
    let mut idx = 2;
    while idx < args.len() {
        let a = &args[idx];
        let f = if is(a, "nx") {
            NX
        } else if is(a, "xx") {
            XX
        } else if is(a, "gt") {
            GT
        } else if is(a, "lt") {
            LT
        } else if is(a, "ch") {
            CH
        } else if is(a, "incr") {
            INCR
        } else {
            break;
        };
        flags |= f;
        idx += 1;
    }
    zadd_generic(ctx, &args[1], &args[idx..], flags)
}

fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, &args[1], &args[2..], INCR)
}

fn zadd_generic(ctx: &mut Ctx, key: &[u8], pairs: &[Bytes], flags: u8) -> CmdResult {
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let has = |f: u8| flags & f != 0;
    if has(NX) && has(XX) {
        return Err(CmdError::err("XX and NX options at the same time are not compatible"));
    }
    if (has(GT) && has(NX)) || (has(LT) && has(NX)) || (has(GT) && has(LT)) {
        return Err(CmdError::err("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if has(INCR) && pairs.len() > 2 {
        return Err(CmdError::err("INCR option supports a single increment-element pair"));
    }
    for pair in pairs.chunks_exact(2) {
        float_arg(&pair[0])?;
    }
    let now = ctx.now_ms;
    let zlimits = limits(ctx.state);
    let zs = match write_zset(ctx.state, key, now)? {
        Some(zs) => zs,
        None if has(XX) => {
            if has(INCR) {
                ctx.out.null();
            } else {
                ctx.out.integer(0);
            }
            return Ok(());
        }
        None => {
            let lru = lru_clock(now);
            let (entry, _) = ctx
                .state
                .keyspace
                .get_or_insert_with(key, now, || Entry::new(Value::ZSet(ZSet::default()), lru));
            entry.value.as_zset_mut()?
        }
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut new_score = 0.0;
    for pair in pairs.chunks_exact(2) {
        let mut score = parse_score(&pair[0]).unwrap_or(0.0);
        let member = &pair[1][..];
        let mut outcome = Outcome::Nop;
        let mut unchanged = false;
        zs.upsert(member, zlimits, |cur| match cur {
            Some(_) if has(NX) => Ok(None),
            Some(cur) => {
                if has(INCR) {
                    score += cur;
                    if score.is_nan() {
                        return Err(CmdError::err("resulting score is not a number (NaN)"));
                    }
                }
                if (has(LT) && score >= cur) || (has(GT) && score <= cur) {
                    return Ok(None);
                }
                new_score = score;
                if score != cur {
                    outcome = Outcome::Updated;
                } else {
                    unchanged = true;
                }
                Ok(Some(score))
            }
            None if has(XX) => Ok(None),
            None => {
                new_score = score;
                outcome = Outcome::Added;
                Ok(Some(score))
            }
        })?;
        if unchanged {
            processed += 1;
            continue;
        }
        match outcome {
            Outcome::Added => {
                added += 1;
                processed += 1;
            }
            Outcome::Updated => {
                updated += 1;
                processed += 1;
            }
            Outcome::Nop => {}
        }
    }
    if has(INCR) {
        if processed > 0 {
            reply_score(ctx.out, new_score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.integer(if has(CH) { added + updated } else { added });
    }
    let changed = (added + updated) as u64;
    if changed > 0 {
        ctx.signal_modified(key);
        ctx.notify(notify::ZSET, if has(INCR) { "zincr" } else { "zadd" }, key);
    }
    ctx.dirty(changed);
    Ok(())
}

fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(zs) = write_zset(ctx.state, key, ctx.now_ms)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut deleted = 0u64;
    for m in &args[2..] {
        if zs.remove(m).is_some() {
            deleted += 1;
            if zs.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(notify::ZSET, "zrem", key);
        ctx.remove_if_empty(key);
        ctx.signal_modified(key);
    }
    ctx.dirty(deleted);
    ctx.out.integer(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Point reads

fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n =
        read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)?.map_or(0, |z| z.len());
    ctx.out.integer(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&args[2], &args[3])?;
    let zs = read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)?;
    let n = zs.and_then(|z| z.score_ranks(&range)).map_or(0, |(a, b)| b - a + 1);
    ctx.out.integer(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&args[2], &args[3])?;
    let zs = read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)?;
    let n = zs.and_then(|z| z.lex_ranks(&range)).map_or(0, |(a, b)| b - a + 1);
    ctx.out.integer(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let zs = read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)?;
    match zs.and_then(|z| z.score(&args[2])) {
        Some(s) => reply_score(ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let zs = read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match zs.and_then(|z| z.score(m)) {
            Some(s) => reply_score(ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrank_generic(ctx, args, true)
}

/// ZRANK/ZREVRANK `key member [WITHSCORE]` as Redis 7.2.
fn zrank_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::WrongArity(if rev { "zrevrank" } else { "zrank" }.into()));
    }
    let with_score = match args.get(3) {
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Err(CmdError::Syntax),
        None => false,
    };
    let zs = read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)?;
    let found =
        zs.and_then(|z| z.rank(&args[2]).map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s)));
    match found {
        Some((r, s)) if with_score => {
            ctx.out.array(2);
            ctx.out.integer(r as i64);
            reply_score(ctx.out, s);
        }
        Some((r, _)) => ctx.out.integer(r as i64),
        None if with_score => ctx.out.null_array(),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The ZRANGE family

#[derive(Clone, Copy, PartialEq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The elements a range selects: `n` of them from 0-based rank `start`, walking down if `rev`.
struct Selection {
    start: usize,
    n: usize,
    rev: bool,
}

/// Applies LIMIT to `count` elements found between ranks `first..=last`.
fn limited(first: usize, last: usize, offset: i64, limit: i64, rev: bool) -> Selection {
    let total = last - first + 1;
    if offset < 0 || offset as u64 >= total as u64 {
        return Selection { start: 0, n: 0, rev };
    }
    let mut n = total - offset as usize;
    if limit >= 0 {
        n = n.min(limit as usize);
    }
    let start = if rev { last - offset as usize } else { first + offset as usize };
    Selection { start, n, rev }
}

/// Redis's `zrangeGenericCommand`: every ZRANGE variant. `key_idx` is the source key's index;
/// ZRANGESTORE has its destination at 1 and stores instead of replying.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    key_idx: usize,
    store: bool,
    mut by: By,
    mut rev: Option<bool>,
) -> CmdResult {
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = key_idx + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = parse_int(&args[j + 1])?;
            limit = parse_int(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if by == By::Auto && is(a, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(a, "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min_idx, mut max_idx) = (key_idx + 1, key_idx + 2);
    if rev && by != By::Rank {
        std::mem::swap(&mut min_idx, &mut max_idx);
    }
    enum Parsed<'a> {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange<'a>),
    }
    let parsed = match by {
        By::Score => Parsed::Score(parse_score_range(&args[min_idx], &args[max_idx])?),
        By::Lex => Parsed::Lex(parse_lex_range(&args[min_idx], &args[max_idx])?),
        _ => Parsed::Rank(parse_int(&args[min_idx])?, parse_int(&args[max_idx])?),
    };
    let now = ctx.now_ms;
    let zs = read_zset(ctx.state, &args[key_idx], now, !ctx.client.no_touch)?;
    let sel = match zs {
        None => Selection { start: 0, n: 0, rev },
        Some(zs) => match parsed {
            Parsed::Rank(start, end) => rank_selection(zs.len(), start, end, rev),
            Parsed::Score(range) => match zs.score_ranks(&range) {
                Some((a, b)) => limited(a, b, offset, limit, rev),
                None => Selection { start: 0, n: 0, rev },
            },
            Parsed::Lex(range) => match zs.lex_ranks(&range) {
                Some((a, b)) => limited(a, b, offset, limit, rev),
                None => Selection { start: 0, n: 0, rev },
            },
        },
    };
    if store {
        let items: Vec<(Vec<u8>, f64)> = match zs {
            Some(zs) if sel.n > 0 => {
                let mut out = Vec::with_capacity(sel.n);
                let mut pos = zs.at(sel.start);
                while let Some(p) = pos {
                    if out.len() == sel.n {
                        break;
                    }
                    out.push((zs.member(p).to_vec(), zs.score_at(p)));
                    pos = zs.step(p, sel.rev);
                }
                out
            }
            _ => Vec::new(),
        };
        let zs = ZSet::from_items(items.iter().map(|(m, s)| (&m[..], *s)), limits(ctx.state));
        store_result(ctx, &args[1], zs, "zrangestore");
        return Ok(());
    }
    match zs {
        Some(zs) if sel.n > 0 => reply_walk(ctx.out, zs, sel.start, sel.n, sel.rev, withscores),
        _ => ctx.out.empty_array(),
    }
    Ok(())
}

/// Redis's rank clamping: negative indexes count from the end; empty when out of range.
fn rank_selection(len: usize, start: i64, end: i64, rev: bool) -> Selection {
    let Some((start, end)) = clamp_ranks(len, start, end) else {
        return Selection { start: 0, n: 0, rev };
    };
    let n = end - start + 1;
    let first = if rev { len - 1 - start } else { start };
    Selection { start: first, n, rev }
}

/// Clamps `start..=end` (negative from the end) to `0..len`; `None` when empty.
fn clamp_ranks(len: usize, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    let llen = len as i64;
    if start < 0 {
        start += llen;
    }
    if end < 0 {
        end += llen;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, By::Auto, None)
}

fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 2, true, By::Auto, None)
}

fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, By::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, By::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, By::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, By::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, By::Lex, Some(true))
}

fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, end) = (parse_int(&args[2])?, parse_int(&args[3])?);
    zremrange(ctx, &args[1], "zremrangebyrank", |zs| clamp_ranks(zs.len(), start, end))
}

fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&args[2], &args[3])?;
    zremrange(ctx, &args[1], "zremrangebyscore", |zs| zs.score_ranks(&range))
}

fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&args[2], &args[3])?;
    zremrange(ctx, &args[1], "zremrangebylex", |zs| zs.lex_ranks(&range))
}

/// Removes the ranks `select` picks and replies with how many went.
fn zremrange(
    ctx: &mut Ctx,
    key: &[u8],
    event: &str,
    select: impl FnOnce(&ZSet) -> Option<(usize, usize)>,
) -> CmdResult {
    let Some(zs) = write_zset(ctx.state, key, ctx.now_ms)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let deleted = match select(zs) {
        Some((a, b)) => zs.remove_ranks(a, b),
        None => 0,
    };
    if deleted > 0 {
        ctx.notify(notify::ZSET, event, key);
        ctx.remove_if_empty(key);
        ctx.signal_modified(key);
    }
    ctx.dirty(deleted as u64);
    ctx.out.integer(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pops

/// How a pop replies.
#[derive(Clone, Copy, PartialEq)]
enum PopShape {
    /// ZPOPMIN/MAX: flat member/score list (pairs in RESP3 when a count was given).
    Plain { counted: bool },
    /// BZPOPMIN/MAX: [key, member, score].
    KeyFlat,
    /// ZMPOP/BZMPOP: [key, [[member, score] ...]].
    KeyNested,
}

/// Pops up to `count` elements from the first non-empty sorted set among `keys` and replies.
/// False (nothing written) when every key is missing.
fn pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    max: bool,
    count: usize,
    shape: PopShape,
) -> Result<bool, CmdError> {
    let now = ctx.now_ms;
    for key in keys {
        let Some(zs) = write_zset(ctx.state, key, now)? else { continue };
        let len = zs.len();
        let n = count.min(len);
        let out = &mut *ctx.out;
        let pairs = match shape {
            PopShape::Plain { counted } => counted && out.resp3(),
            PopShape::KeyFlat => false,
            PopShape::KeyNested => true,
        };
        match shape {
            PopShape::Plain { .. } => out.array(if pairs { n } else { n * 2 }),
            PopShape::KeyFlat => {
                out.array(3);
                out.bulk(key);
            }
            PopShape::KeyNested => {
                out.array(2);
                out.bulk(key);
                out.array(n);
            }
        }
        let start = if max { len - 1 } else { 0 };
        let mut pos = zs.at(start);
        for _ in 0..n {
            let Some(p) = pos else { break };
            if pairs {
                out.array(2);
            }
            reply_member(out, zs.member(p));
            reply_score(out, zs.score_at(p));
            pos = zs.step(p, max);
        }
        if n > 0 {
            if max {
                zs.remove_ranks(len - n, len - 1);
            } else {
                zs.remove_ranks(0, n - 1);
            }
            ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
            ctx.remove_if_empty(key);
            ctx.signal_modified(key);
            ctx.dirty(n as u64);
            // BZPOPMIN/MAX, ZMPOP and BZMPOP replay as the plain pop they amounted to.
            let n_text = itoa::Buffer::new().format(n).to_owned();
            let pop: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
            ctx.state.propagation.rewrite(&[pop, key, n_text.as_bytes()]);
        }
        return Ok(true);
    }
    Ok(false)
}

fn zpop(ctx: &mut Ctx, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        Some(a) => positive_count(a)? as usize,
        None => 1,
    };
    if count == 0 {
        // Redis checks the key's type before noticing there is nothing to pop.
        write_zset(ctx.state, &args[1], ctx.now_ms)?;
        ctx.out.empty_array();
        return Ok(());
    }
    let shape = PopShape::Plain { counted: args.len() == 3 };
    if !pop_first(ctx, &args[1..2], max, count, shape)? {
        ctx.out.empty_array();
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, true)
}

fn bzpop(ctx: &mut Ctx, args: &[Bytes], max: bool) -> CmdResult {
    let deadline = parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    if pop_first(ctx, keys, max, 1, PopShape::KeyFlat)? {
        return Ok(());
    }
    ctx.block(keys, "zset", deadline, TimeoutReply::NullArray)
}

fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, true)
}

/// ZMPOP/BZMPOP's `numkeys key... MIN|MAX [COUNT n]` from `at` (the numkeys index).
fn parse_mpop(args: &[Bytes], at: usize) -> Result<(&[Bytes], bool, usize), CmdError> {
    let numkeys = at_least_one(&args[at], "numkeys should be greater than 0")? as u64;
    let where_idx = (at as u64 + 1).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let max = if is(&args[where_idx], "min") {
        false
    } else if is(&args[where_idx], "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            count = Some(at_least_one(&args[j + 1], "count should be greater than 0")? as usize);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((&args[at + 1..where_idx], max, count.unwrap_or(1)))
}

fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(args, 1)?;
    if !pop_first(ctx, keys, max, count, PopShape::KeyNested)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis reads the timeout after the other arguments here (unlike BZPOPMIN).
    let (keys, max, count) = parse_mpop(args, 2)?;
    let deadline = parse_timeout(&args[1], ctx.now_ms)?;
    if pop_first(ctx, keys, max, count, PopShape::KeyNested)? {
        return Ok(());
    }
    ctx.block(keys, "zset", deadline, TimeoutReply::NullArray)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN

fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() == 2 {
        let zs = read_zset(ctx.state, key, ctx.now_ms, !ctx.client.no_touch)?;
        let pick = zs.filter(|z| !z.is_empty()).map(|z| z.len());
        match pick {
            None => ctx.out.null(),
            Some(len) => {
                let r = (ctx.state.random() % len as u64) as usize;
                let zs = read_zset(ctx.state, key, ctx.now_ms, false)?.expect("present");
                let p = zs.at(r).expect("in range");
                reply_member(ctx.out, zs.member(p));
            }
        }
        return Ok(());
    }
    let l = match protocol::number::parse_i64(&args[2]) {
        None => return Err(CmdError::NotInteger),
        Some(i64::MIN) => {
            return Err(CmdError::err(
                "value is out of range, value must between -9223372036854775807 and \
                 9223372036854775807",
            ))
        }
        Some(l) => l,
    };
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::err("value is out of range"));
    }
    let now = ctx.now_ms;
    let touch = !ctx.client.no_touch;
    let len = match read_zset(ctx.state, key, now, touch)? {
        Some(z) if l != 0 => z.len(),
        _ => {
            ctx.out.empty_array();
            return Ok(());
        }
    };
    // Ranks to reply, chosen first (random numbers need the state mutably).
    let ranks: Vec<usize> = if l < 0 {
        let n = l.unsigned_abs() as usize;
        (0..n).map(|_| (ctx.state.random() % len as u64) as usize).collect()
    } else if l as u64 >= len as u64 {
        (0..len).collect()
    } else {
        let n = l as usize;
        if n * 3 > len {
            // Partial Fisher-Yates over every rank.
            let mut all: Vec<usize> = (0..len).collect();
            for i in 0..n {
                let j = i + (ctx.state.random() % (len - i) as u64) as usize;
                all.swap(i, j);
            }
            all.truncate(n);
            all
        } else {
            let mut seen = std::collections::HashSet::with_capacity(n);
            let mut picked = Vec::with_capacity(n);
            while picked.len() < n {
                let r = (ctx.state.random() % len as u64) as usize;
                if seen.insert(r) {
                    picked.push(r);
                }
            }
            picked
        }
    };
    let zs = read_zset(ctx.state, key, now, false)?.expect("present");
    let out = &mut *ctx.out;
    let pairs = withscores && out.resp3();
    out.array(if withscores && !pairs { ranks.len() * 2 } else { ranks.len() });
    let sequential = l > 0 && ranks.len() == len;
    let mut walk = if sequential { zs.at(0) } else { None };
    for &r in &ranks {
        let p = match walk {
            Some(p) => {
                walk = zs.next(p);
                p
            }
            None => zs.at(r).expect("in range"),
        };
        if pairs {
            out.array(2);
        }
        reply_member(out, zs.member(p));
        if withscores {
            reply_score(out, zs.score_at(p));
        }
    }
    Ok(())
}

fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = super::keyspace::parse_cursor(&args[2])?;
    let Some(zs) = read_zset(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.empty_array();
        return Ok(());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
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
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut found: Vec<(Vec<u8>, ScoreText)> = Vec::new();
    let next = zs.scan(cursor, count, |m, s| {
        let mut buf = itoa::Buffer::new();
        let m = m.bytes(&mut buf);
        if pattern.is_none_or(|p| crate::glob::matches(p, m, false)) {
            found.push((m.to_vec(), s));
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len() * 2);
    for (m, s) in &found {
        out.bulk(m);
        out.bulk(s);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                // inf + -inf: Redis makes the sum 0 rather than NaN.
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => *acc = acc.min(v),
            Aggregate::Max => *acc = acc.max(v),
        }
    }
}

/// One input's elements with their weighted scores, copied out of the keyspace.
type Input = Vec<(Vec<u8>, f64)>;

/// Redis's `zunionInterDiffGenericCommand`. `dst` is the STORE destination; `numkeys_at` the
/// index of numkeys; `card` makes it ZINTERCARD.
fn set_op(
    ctx: &mut Ctx,
    args: &[Bytes],
    dst: Option<&[u8]>,
    numkeys_at: usize,
    op: SetOp,
    card: bool,
) -> CmdResult {
    let numkeys = parse_int(&args[numkeys_at])?;
    if numkeys < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        return Err(CmdError::err(format!("at least 1 input key is needed for '{name}' command")));
    }
    if numkeys as u64 > (args.len() - numkeys_at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let numkeys = numkeys as usize;
    let keys = &args[numkeys_at + 1..numkeys_at + 1 + numkeys];
    let now = ctx.now_ms;
    let touch = !ctx.client.no_touch;
    // Types first, as Redis: a wrong type wins over bad options.
    for key in keys {
        let entry = if dst.is_some() {
            lookup_write(ctx.state, key, now)
        } else {
            lookup_read(ctx.state, key, now, touch)
        };
        // Plain sets are accepted as inputs, every member scoring 1.
        if let Some(e) = entry {
            if !matches!(e.value, Value::Set(_)) {
                e.value.as_zset()?;
            }
        }
    }
    let mut weights = vec![1.0f64; numkeys];
    let mut aggregate = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_at + 1 + numkeys;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !card && remaining > numkeys && is(a, "weights") {
            for (k, w) in weights.iter_mut().enumerate() {
                *w = parse_score(&args[j + 1 + k])
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
            j += 1 + numkeys;
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(a, "aggregate") {
            let v = &args[j + 1];
            aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(a, "limit") {
            limit = match protocol::number::parse_i64(&args[j + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::err("LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // Copy the inputs out (weighted), then compute.
    let mut inputs: Vec<Option<Input>> = Vec::with_capacity(numkeys);
    for (key, &w) in keys.iter().zip(&weights) {
        let weighted = |s: f64| {
            let v = w * s;
            if v.is_nan() {
                0.0
            } else {
                v
            }
        };
        let input = match ctx.state.keyspace.peek(key, now).map(|e| &e.value) {
            None => None,
            Some(Value::Set(set)) => {
                Some(set.iter().map(|m| (m.to_vec(), weighted(1.0))).collect())
            }
            Some(other) => {
                Some(other.as_zset()?.iter().map(|(m, s)| (m.to_vec(), weighted(s))).collect())
            }
        };
        inputs.push(input);
    }
    let result: Vec<(Vec<u8>, f64)> = match op {
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for input in inputs.into_iter().flatten() {
                for (m, s) in input {
                    match acc.get_mut(&m) {
                        Some(a) => aggregate.apply(a, s),
                        None => {
                            acc.insert(m, s);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => {
            if inputs.iter().any(Option::is_none) {
                Vec::new()
            } else {
                let mut inputs: Vec<Input> = inputs.into_iter().flatten().collect();
                // Smallest first, as Redis sorts inputs by cardinality (stable).
                inputs.sort_by_key(Vec::len);
                let others: Vec<HashMap<&[u8], f64>> = inputs[1..]
                    .iter()
                    .map(|i| i.iter().map(|(m, s)| (&m[..], *s)).collect())
                    .collect();
                let mut out = Vec::new();
                'elems: for (m, s) in &inputs[0] {
                    let mut acc = *s;
                    for o in &others {
                        match o.get(&m[..]) {
                            Some(&v) => aggregate.apply(&mut acc, v),
                            None => continue 'elems,
                        }
                    }
                    out.push((m.clone(), acc));
                    if card && limit > 0 && out.len() >= limit {
                        break;
                    }
                }
                out
            }
        }
        SetOp::Diff => {
            let mut it = inputs.into_iter();
            match it.next().flatten() {
                None => Vec::new(),
                Some(first) => {
                    let others: Vec<std::collections::HashSet<Vec<u8>>> =
                        it.flatten().map(|i| i.into_iter().map(|(m, _)| m).collect()).collect();
                    first
                        .into_iter()
                        .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
                        .collect()
                }
            }
        }
    };
    if card {
        ctx.out.integer(result.len() as i64);
        return Ok(());
    }
    if let Some(dst) = dst {
        let zs = ZSet::from_items(result.iter().map(|(m, s)| (&m[..], *s)), limits(ctx.state));
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(ctx, dst, zs, event);
        return Ok(());
    }
    let mut result = result;
    result.sort_by(|a, b| crate::types::zset::order((&a.0, a.1), (&b.0, b.1)));
    let out = &mut *ctx.out;
    let pairs = withscores && out.resp3();
    out.array(if withscores && !pairs { result.len() * 2 } else { result.len() });
    for (m, s) in &result {
        if pairs {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            reply_score(out, *s);
        }
    }
    Ok(())
}

fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, None, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, None, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, None, 1, SetOp::Diff, false)
}

fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, Some(&args[1]), 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, Some(&args[1]), 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, Some(&args[1]), 2, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, None, 1, SetOp::Inter, true)
}
