//! SORT and SORT_RO: sort the elements of a list, set or sorted set numerically or
//! byte-wise, optionally by the values of other keys (`BY pattern`), project other keys'
//! values (`GET pattern`), and for SORT store the result as a list (`STORE`).
//!
//! Behaviour matches Redis 7.0's `t_sort.c`, including its quirks:
//! - `BY` with a pattern that has no `*` (`BY nosort`) does not sort: lists and sorted sets keep
//!   their own order (reversed by DESC, LIMIT taken from that order), sets keep their
//!   iteration order and ignore DESC — except with STORE, where a set is sorted byte-wise so
//!   the stored result is deterministic.
//! - Numbers are read with C's `strtod` (leading white space, hexadecimal and `inf` accepted,
//!   the text ends at a NUL byte, underflow and overflow refused); equal scores are ordered by
//!   the elements' bytes.
//! - ALPHA compares with `strcoll` in the C locale, that is byte order up to the first NUL,
//!   except when storing, where whole byte strings are compared.
//! - Patterns are C strings for finding `*` and `->` (a NUL ends the search), while the key
//!   built from them keeps every byte; a missing key, or one of the wrong type, gives a null in
//!   GET output, an empty string in a stored list, and sorts as 0 (numeric) or first (ALPHA).
//! - Sorting a sorted set converts it to the skiplist encoding, as Redis does.

use std::cmp::Ordering;

use bytes::Bytes;

use super::{is, lookup_read, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::state::State;
use crate::time::lru_clock;
use crate::types::list::List;
use crate::value::Value;

pub const COMMANDS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

fn sort(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}

/// The options of one SORT command.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    by: Option<&'a [u8]>,
    /// BY named a pattern without `*`: keep the source's order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// Parses the options, in any order; the last of a repeated option wins (GET accumulates).
/// STORE is an unknown option for SORT_RO.
fn parse_options(args: &[Bytes], readonly: bool) -> Result<Options<'_>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let a = &args[j][..];
        let left = args.len() - j - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit_start = parse_int(&args[j + 1])?;
            o.limit_count = parse_int(&args[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(&args[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            o.by = Some(&args[j + 1]);
            o.dontsort = !c_str(&args[j + 1]).contains(&b'*');
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(&args[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// One element to sort with what it is compared by.
struct Item {
    elem: Vec<u8>,
    /// Numeric sort key (0 when the BY key is missing).
    score: f64,
    /// ALPHA with BY: the BY value, `None` when missing (sorts first).
    by_value: Option<Vec<u8>>,
}

impl Item {
    fn new(elem: Vec<u8>) -> Item {
        Item { elem, score: 0.0, by_value: None }
    }
}

/// The source's elements. List and sorted set without sorting take only the window
/// `start..=end` in the requested direction (Redis's shortcut, which also decides the order);
/// everything else takes all elements. Returns the items and whether the window was applied.
fn load(
    value: Option<&mut Value>,
    dontsort: bool,
    desc: bool,
    window: Option<(usize, usize)>,
) -> (Vec<Item>, bool) {
    let mut buf = itoa::Buffer::new();
    let mut items = Vec::new();
    match value {
        None => (items, false),
        Some(Value::List(list)) if dontsort => {
            if let Some((start, end)) = window {
                let n = end - start + 1;
                if desc {
                    let from = list.len() - 1 - start;
                    for e in list.iter_rev_from(from).take(n) {
                        items.push(Item::new(e.bytes(&mut buf).to_vec()));
                    }
                } else {
                    for e in list.iter_from(start).take(n) {
                        items.push(Item::new(e.bytes(&mut buf).to_vec()));
                    }
                }
            }
            (items, true)
        }
        Some(Value::List(list)) => {
            items.extend(list.iter().map(|e| Item::new(e.bytes(&mut buf).to_vec())));
            (items, false)
        }
        Some(Value::Set(set)) => {
            items.extend(set.iter().map(|e| Item::new(e.bytes(&mut buf).to_vec())));
            (items, false)
        }
        Some(Value::ZSet(z)) if dontsort => {
            if let Some((start, end)) = window {
                let first = if desc { z.len() - 1 - start } else { start };
                let mut pos = z.at(first);
                for _ in start..=end {
                    let Some(p) = pos else { break };
                    items.push(Item::new(z.member(p).bytes(&mut buf).to_vec()));
                    pos = z.step(p, desc);
                }
            }
            (items, true)
        }
        Some(Value::ZSet(z)) => {
            items.extend(z.iter().map(|(m, _)| Item::new(m.bytes(&mut buf).to_vec())));
            (items, false)
        }
        Some(_) => (items, false),
    }
}

/// Redis's LIMIT arithmetic over `len` elements: the inclusive output window, `None` when it
/// is empty. Saturating, so `LIMIT 1 9223372036854775807` means "to the end".
fn window(start: i64, count: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = start.max(0);
    let mut end = if count < 0 { len - 1 } else { start.saturating_add(count).saturating_sub(1) };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    (end >= start && start >= 0).then_some((start as usize, end as usize))
}

fn sort_generic(ctx: &mut Ctx, args: &[Bytes], readonly: bool) -> CmdResult {
    let mut o = parse_options(args, readonly)?;
    let now = ctx.now_ms;
    let touch = !ctx.client.no_touch;
    let key = &args[1];

    let mut value = match lookup_read(ctx.state, key, now, touch) {
        Some(entry) => match &mut entry.value {
            v @ (Value::List(_) | Value::Set(_) | Value::ZSet(_)) => Some(v),
            _ => return Err(CmdError::WrongType),
        },
        None => None,
    };
    // A stored result must not depend on a set's iteration order.
    if o.dontsort && o.store.is_some() && matches!(value, Some(Value::Set(_))) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match value.as_deref_mut() {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => {
            z.convert();
            z.len()
        }
        _ => 0,
    };
    let win = window(o.limit_start, o.limit_count, len);
    let (mut items, windowed) = load(value, o.dontsort, o.desc, win);
    // The output window within `items`.
    let out_range = if windowed { (!items.is_empty()).then(|| (0, items.len() - 1)) } else { win };

    let mut bad_score = false;
    if !o.dontsort {
        let mut key_buf = Vec::new();
        for item in &mut items {
            let by_value = match o.by {
                Some(pattern) => {
                    match with_pattern(
                        ctx.state,
                        pattern,
                        &item.elem,
                        &mut key_buf,
                        now,
                        touch,
                        |v| v.map(<[u8]>::to_vec),
                    ) {
                        Some(v) => v,
                        None => continue,
                    }
                }
                None => {
                    if !o.alpha {
                        match strtod_exact(&item.elem) {
                            Some(d) => item.score = d,
                            None => bad_score = true,
                        }
                    }
                    continue;
                }
            };
            if o.alpha {
                item.by_value = Some(by_value);
            } else {
                match strtod_exact(&by_value) {
                    Some(d) => item.score = d,
                    None => bad_score = true,
                }
            }
        }
        if bad_score {
            return Err(CmdError::err("One or more scores can't be converted into double"));
        }
        let binary = o.store.is_some();
        let by = o.by.is_some();
        items.sort_by(|a, b| {
            let c = compare(a, b, o.alpha, by, binary);
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    let selected: &[Item] = match out_range {
        Some((start, end)) => &items[start..=end],
        None => &[],
    };
    match o.store {
        None => reply(ctx, selected, &o.gets),
        Some(dst) => store(ctx, selected, &o.gets, dst),
    }
}

/// Redis's `sortCompare` before DESC is applied.
fn compare(a: &Item, b: &Item, alpha: bool, by: bool, binary: bool) -> Ordering {
    let text = |x: &[u8], y: &[u8]| if binary { x.cmp(y) } else { c_str(x).cmp(c_str(y)) };
    if !alpha {
        // Scores are never NaN here; equal scores fall back to the elements' bytes.
        a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.elem.cmp(&b.elem))
    } else if by {
        match (&a.by_value, &b.by_value) {
            (Some(x), Some(y)) => text(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    } else {
        text(&a.elem, &b.elem)
    }
}

/// Writes the selected elements, or for each the GET values (null when missing).
fn reply(ctx: &mut Ctx, selected: &[Item], gets: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    let touch = !ctx.client.no_touch;
    ctx.out.array(selected.len() * gets.len().max(1));
    let mut key_buf = Vec::new();
    for item in selected {
        if gets.is_empty() {
            ctx.out.bulk(&item.elem);
        }
        for pattern in gets {
            let out = &mut *ctx.out;
            with_pattern(ctx.state, pattern, &item.elem, &mut key_buf, now, touch, |v| match v {
                Some(v) => out.bulk(v),
                None => out.null(),
            });
        }
    }
    Ok(())
}

/// Stores the result as a list at `dst` (an empty string for a missing GET value), or deletes
/// `dst` when the result is empty; replies the number of elements stored.
fn store(ctx: &mut Ctx, selected: &[Item], gets: &[&[u8]], dst: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    let touch = !ctx.client.no_touch;
    let fill = ctx.state.encodings.list_max_listpack_size;
    let mut list = List::new(fill);
    let mut key_buf = Vec::new();
    for item in selected {
        if gets.is_empty() {
            list.push_back(&item.elem);
        }
        for pattern in gets {
            with_pattern(ctx.state, pattern, &item.elem, &mut key_buf, now, touch, |v| {
                list.push_back(v.unwrap_or_default())
            });
        }
    }
    let n = list.len();
    if n > 0 {
        ctx.state.keyspace.set(dst, Entry::new(Value::List(Box::new(list)), lru_clock(now)));
        ctx.signal_modified(dst);
        ctx.notify(notify::LIST, "sortstore", dst);
        ctx.dirty(n as u64);
    } else {
        if ctx.state.keyspace.expire_if_needed(dst, now) {
            super::fold_expired(ctx.state);
        }
        if ctx.state.keyspace.remove(dst).is_some() {
            ctx.signal_modified(dst);
            ctx.notify(notify::GENERIC, "del", dst);
            ctx.dirty(1);
        }
    }
    ctx.out.integer(n as i64);
    Ok(())
}

/// The bytes of `b` as C sees them: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// Redis's `lookupKeyByPattern`: calls `f` with the value `pattern` designates for `elem`.
/// `#` is the element itself; otherwise the first `*` is replaced by the element and, when
/// `->field` follows it, the field of that hash is read, else the string at that key. `None`
/// when the pattern has no `*`, the key is missing, or it holds another type. `key_buf` is
/// scratch space reused between calls.
fn with_pattern<R>(
    state: &mut State,
    pattern: &[u8],
    elem: &[u8],
    key_buf: &mut Vec<u8>,
    now: u64,
    touch: bool,
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> R {
    let c = c_str(pattern);
    if c == b"#" {
        return f(Some(elem));
    }
    let Some(star) = c.iter().position(|&b| b == b'*') else {
        return f(None);
    };
    // "->" counts only with at least one (non-NUL) byte after it; the field runs to the end.
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&i| i + 2 < c.len());
    let (key_tail, field) = match arrow {
        Some(i) => (&pattern[star + 1..i], Some(&pattern[i + 2..])),
        None => (&pattern[star + 1..], None),
    };
    key_buf.clear();
    key_buf.extend_from_slice(&pattern[..star]);
    key_buf.extend_from_slice(elem);
    key_buf.extend_from_slice(key_tail);
    let Some(entry) = lookup_read(state, key_buf, now, touch) else {
        return f(None);
    };
    match field {
        Some(field) => match entry.value.as_hash() {
            Ok(h) => {
                let mut buf = itoa::Buffer::new();
                match h.get(field) {
                    Some(v) => f(Some(v.bytes(&mut buf))),
                    None => f(None),
                }
            }
            Err(_) => f(None),
        },
        None => match entry.value.as_string() {
            Ok(s) => f(Some(&s)),
            Err(_) => f(None),
        },
    }
}

/// C's `strtod` over the whole text (Redis checks that it stopped at the terminating NUL), as
/// glibc reads it: leading white space, a sign, decimal or hexadecimal (`0x…p…`) notation,
/// `inf`/`infinity`; `None` for anything else, NaN, overflow, or an inexact result below the
/// normal range (glibc's ERANGE). The empty text reads as 0, as strtod converts nothing and
/// stops on the NUL.
fn strtod_exact(text: &[u8]) -> Option<f64> {
    let s = c_str(text);
    if s.is_empty() {
        return Some(0.0);
    }
    let s =
        &s[s.iter().position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?..];
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        hex_float(&body[2..])?
    } else {
        decimal(body)?
    };
    Some(if neg { -v } else { v })
}

/// Decimal strtod syntax without sign: digits with an optional point (at least one digit),
/// then an optional exponent with at least one digit.
fn decimal(body: &[u8]) -> Option<f64> {
    let mantissa_end = body.iter().position(|&b| b == b'e' || b == b'E').unwrap_or(body.len());
    let (mantissa, exponent) = body.split_at(mantissa_end);
    let digits = mantissa.iter().filter(|b| b.is_ascii_digit()).count();
    let points = mantissa.iter().filter(|&&b| b == b'.').count();
    if digits == 0 || digits + points != mantissa.len() || points > 1 {
        return None;
    }
    if !exponent.is_empty() {
        let e = exponent[1..].strip_prefix(b"+").or_else(|| exponent[1..].strip_prefix(b"-"));
        let e = e.unwrap_or(&exponent[1..]);
        if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    let v: f64 = std::str::from_utf8(body).ok()?.parse().ok()?;
    let nonzero = mantissa.iter().any(|&b| (b'1'..=b'9').contains(&b));
    // Overflow, or underflow to zero or to a subnormal (practically never exact in decimal).
    if v.is_infinite() || (nonzero && v.abs() < f64::MIN_POSITIVE) {
        return None;
    }
    Some(v)
}

/// A hexadecimal float after `0x`: hex digits with an optional point (at least one digit),
/// then an optional binary exponent `p[+-]digits`. Rounded to nearest even; `None` on overflow
/// or inexact underflow, like glibc.
fn hex_float(body: &[u8]) -> Option<f64> {
    let p_at = body.iter().position(|&b| b == b'p' || b == b'P').unwrap_or(body.len());
    let (mantissa, exponent) = body.split_at(p_at);
    let mut exp: i64 = 0;
    if !exponent.is_empty() {
        let e = &exponent[1..];
        let (eneg, digits) = match e.first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            _ => (false, e),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut n: i64 = 0;
        for d in digits {
            n = (n * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        exp = if eneg { -n } else { n };
    }
    // Significant bits in `mant` (at most 64 kept); `sticky` records dropped nonzero bits.
    let (mut mant, mut sticky, mut digits, mut seen_point) = (0u64, false, 0usize, false);
    for &b in mantissa {
        if b == b'.' {
            if seen_point {
                return None;
            }
            seen_point = true;
            continue;
        }
        let d = u64::from((b as char).to_digit(16)?);
        digits += 1;
        if mant >> 60 == 0 {
            mant = mant << 4 | d;
            if seen_point {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                exp += 4;
            }
        }
    }
    if digits == 0 {
        return None;
    }
    if mant == 0 {
        return Some(0.0);
    }
    // Value = mant × 2^exp (+ sticky). Position of the top bit as a binary exponent:
    let top = exp + 63 - i64::from(mant.leading_zeros());
    if top > 1023 {
        return None;
    }
    // Bits the result can keep: 53, fewer in the subnormal range.
    let keep = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep <= 0 {
        // Below half the smallest subnormal (or exactly at it: rounds to even, zero).
        return None;
    }
    let bits = 64 - i64::from(mant.leading_zeros());
    let drop = bits - keep;
    let (mut m, inexact) = if drop > 0 {
        let dropped = mant & ((1u64 << drop) - 1);
        let half = 1u64 << (drop - 1);
        let mut m = mant >> drop;
        if dropped > half || (dropped == half && (sticky || m & 1 == 1)) {
            m += 1;
        }
        (m, dropped != 0 || sticky)
    } else {
        (mant << -drop, sticky)
    };
    let mut scale = top - (keep - 1);
    if m >> keep != 0 {
        // Rounding carried into a new bit.
        m >>= 1;
        scale += 1;
    }
    if inexact && top < -1022 {
        return None;
    }
    if scale + 63 - i64::from(m.leading_zeros()) > 1023 {
        return None;
    }
    Some(ldexp(m as f64, scale))
}

/// `x × 2^e` for `e` in about ±1100, exact whenever the result is representable: each factor
/// is a normal power of two.
fn ldexp(x: f64, e: i64) -> f64 {
    let pow = |n: i64| 2f64.powi(n as i32);
    if e < -1000 {
        x * pow(-1000) * pow(e + 1000)
    } else if e > 1000 {
        x * pow(1000) * pow(e - 1000)
    } else {
        x * pow(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_reads_as_glibc() {
        let ok: &[(&[u8], f64)] = &[
            (b"", 0.0),
            (b"1.5", 1.5),
            (b" 7", 7.0),
            (b"\t5", 5.0),
            (b"+.5", 0.5),
            (b"5.", 5.0),
            (b"-0", -0.0),
            (b"0x10", 16.0),
            (b"-0x10", -16.0),
            (b"0x1p3", 8.0),
            (b"0x1.8", 1.5),
            (b"0X1P-2", 0.25),
            (b"INF", f64::INFINITY),
            (b"-infinity", f64::NEG_INFINITY),
            (b"1e308", 1e308),
            (b"0e-400", 0.0),
            (b"2.2250738585072014e-308", f64::MIN_POSITIVE),
            (b"5\0junk", 5.0),
        ];
        for (text, want) in ok {
            assert_eq!(strtod_exact(text), Some(*want), "{}", String::from_utf8_lossy(text));
        }
        assert_eq!(strtod_exact(b"0x1p-1070"), Some(f64::from_bits(16)));
        let bad: &[&[u8]] = &[
            b"a",
            b"1 ",
            b"   ",
            b"+",
            b".",
            b"1e",
            b"0x",
            b"0x1p",
            b"0xg",
            b"nan",
            b"nan(12)",
            b"infinit",
            b"1.8e308",
            b"4e-320",
            b"1e-310",
            b"0x1p-1080",
            b"0x1p1030",
            b"1_0",
        ];
        for text in bad {
            assert_eq!(strtod_exact(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn limit_window_as_redis() {
        assert_eq!(window(0, -1, 7), Some((0, 6)));
        assert_eq!(window(2, i64::MAX, 7), Some((2, 6)));
        assert_eq!(window(-3, 2, 7), Some((0, 1)));
        assert_eq!(window(6, 2, 7), Some((6, 6)));
        assert_eq!(window(7, 2, 7), None);
        assert_eq!(window(0, 0, 7), None);
        assert_eq!(window(0, -1, 0), None);
    }
}
