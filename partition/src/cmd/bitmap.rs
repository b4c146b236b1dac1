//! Bitmap commands: strings used as arrays of bits (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP) and
//! of packed integers (BITFIELD, BITFIELD_RO).
//!
//! As in Redis, bit 0 is the most significant bit of byte 0, strings grow with zero bytes when a
//! write reaches past their end, and reads past the end see zeros. Offsets are capped at
//! `proto-max-bulk-len` bytes so no argument can make the server allocate more than that. The
//! checks happen in Redis's order (`bitops.c`), which decides the error a client sees first.

use bytes::Bytes;

use super::{is, parse_int, Ctx, Handler};
use super::{lookup_read, lookup_write};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::state::State;
use crate::time::lru_clock;
use crate::value::{StrRef, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("bitfield", bitfield),
    ("bitfield_ro", bitfield_ro),
];

const BIT_OFFSET_ERR: &str = "bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument`: a bit offset below `max_bytes * 8`. With `bits > 0`
/// (BITFIELD), `#N` means the N-th field of that width.
pub fn parse_bit_offset(arg: &[u8], bits: u32, max_bytes: u64) -> Result<u64, CmdError> {
    let use_hash = bits > 0 && arg.first() == Some(&b'#');
    let digits = if use_hash { &arg[1..] } else { arg };
    let mut offset =
        protocol::number::parse_i64(digits).ok_or_else(|| CmdError::err(BIT_OFFSET_ERR))?;
    if use_hash {
        // Redis multiplies in C's wrapping arithmetic; a wrapped product is then range-checked.
        offset = offset.wrapping_mul(bits as i64);
    }
    if offset < 0 || (offset as u64 >> 3) >= max_bytes {
        return Err(CmdError::err(BIT_OFFSET_ERR));
    }
    Ok(offset as u64)
}

fn max_bytes(ctx: &Ctx) -> u64 {
    ctx.server.config().proto_max_bulk_len as u64
}

/// Redis's `lookupStringForBitCommand`: the string at `key` made long enough to hold bit
/// `max_bit` (created as a zeroed `raw` string when missing). The flag tells whether the key
/// was created or grew.
fn string_for_bits<'s>(
    state: &'s mut State,
    key: &[u8],
    now_ms: u64,
    max_bit: u64,
) -> Result<(&'s mut crate::value::StrBuf, bool), CmdError> {
    let need = (max_bit >> 3) as usize + 1;
    let exists = match lookup_write(state, key, now_ms) {
        Some(entry) => {
            entry.value.string_len()?;
            true
        }
        None => false,
    };
    if !exists {
        let entry = Entry::new(Value::raw_string(vec![0; need]), lru_clock(now_ms));
        state.keyspace.set(key, entry);
    }
    let entry = state.keyspace.get(key, now_ms).expect("present");
    let data = entry.value.string_mut()?;
    let grew = data.len() < need;
    if grew {
        data.resize(need, 0);
    }
    Ok((data, !exists || grew))
}

fn setbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(&args[2], 0, max_bytes(ctx))?;
    let bad_bit = || CmdError::err("bit is not an integer or out of range");
    let on = protocol::number::parse_i64(&args[3]).ok_or_else(bad_bit)?;
    if on & !1 != 0 {
        return Err(bad_bit());
    }
    let (data, dirty) = string_for_bits(ctx.state, &args[1], ctx.now_ms, offset)?;
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let was = data[byte] & mask != 0;
    if dirty || was != (on == 1) {
        if on == 1 {
            data[byte] |= mask;
        } else {
            data[byte] &= !mask;
        }
        ctx.state.dirty += 1;
        ctx.changed(notify::STRING, "setbit", &args[1]);
    }
    ctx.out.integer(was as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(&args[2], 0, max_bytes(ctx))?;
    let bit = match lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) {
        None => false,
        Some(entry) => {
            let s = entry.value.as_string()?;
            let byte = (offset >> 3) as usize;
            byte < s.len() && s[byte] & (1 << (7 - (offset & 7))) != 0
        }
    };
    ctx.out.integer(bit as i64);
    Ok(())
}

/// Number of set bits.
pub fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        n += u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64;
    }
    n + chunks.remainder().iter().map(|b| b.count_ones() as u64).sum::<u64>()
}

/// Redis's `redisBitpos`: position of the first bit equal to `bit`. When there is none, -1 for
/// a set bit and `8 * len` for a clear bit (the string is taken as zero-padded on the right).
pub fn first_bit(s: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0u8 } else { 0xff };
    // Whole words of the byte to skip are passed over eight at a time.
    let mut i = 0;
    let words = s.chunks_exact(8);
    for w in words {
        if w.iter().any(|&b| b != skip) {
            break;
        }
        i += 8;
    }
    while i < s.len() && s[i] == skip {
        i += 1;
    }
    if i == s.len() {
        return if bit { -1 } else { s.len() as i64 * 8 };
    }
    let b = s[i];
    let within = if bit { b.leading_zeros() } else { b.leading_ones() };
    (i * 8) as i64 + within as i64
}

/// Whether a range counts bits or bytes.
fn parse_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Clamps a BITCOUNT/BITPOS range as Redis does. Returns the byte range plus the masks of the
/// bits outside a BIT range in its first and last byte, or `None` when the range is empty.
fn clamp_bit_range(
    mut start: i64,
    mut end: i64,
    len: usize,
    in_bits: bool,
) -> Option<(usize, usize, u8, u8)> {
    let mut total = len as i64;
    if in_bits {
        total <<= 3;
    }
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if in_bits && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    if start > end {
        None
    } else {
        Some((start as usize, end as usize, first_mask, last_mask))
    }
}

/// `BITCOUNT key [start end [BYTE|BIT]]`
fn bitcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(entry) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let s = entry.value.as_string()?;
    let range = match args.len() {
        2 => (!s.is_empty()).then(|| (0, s.len() - 1, 0, 0)),
        4 | 5 => {
            let start = parse_int(&args[2])?;
            let end = parse_int(&args[3])?;
            // Redis answers 0 here before even looking at the unit argument.
            if start < 0 && end < 0 && start > end {
                ctx.out.integer(0);
                return Ok(());
            }
            let in_bits = if args.len() == 5 { parse_unit(&args[4])? } else { false };
            clamp_bit_range(start, end, s.len(), in_bits)
        }
        _ => return Err(CmdError::Syntax),
    };
    let count = match range {
        None => 0,
        Some((start, end, first_mask, last_mask)) => {
            let mut count = popcount(&s[start..=end]);
            // Bits of the edge bytes outside a BIT range were counted: take them off.
            count -= (s[start] & first_mask).count_ones() as u64;
            count -= (s[end] & last_mask).count_ones() as u64;
            count
        }
    };
    ctx.out.integer(count as i64);
    Ok(())
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`
fn bitpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bit = parse_int(&args[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::err("The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let Some(entry) = lookup_read(ctx.state, &args[1], ctx.now_ms, !ctx.client.no_touch) else {
        // A missing key is an infinite run of zeros.
        ctx.out.integer(if bit { -1 } else { 0 });
        return Ok(());
    };
    let s = entry.value.as_string()?;
    let mut end_given = false;
    let range = match args.len() {
        3 => (!s.is_empty()).then(|| (0, s.len() - 1, 0, 0)),
        4..=6 => {
            let start = parse_int(&args[3])?;
            let in_bits = if args.len() == 6 { parse_unit(&args[5])? } else { false };
            let end = if args.len() >= 5 {
                end_given = true;
                parse_int(&args[4])?
            } else if in_bits {
                ((s.len() as i64) << 3) + 7
            } else {
                s.len() as i64 - 1
            };
            clamp_bit_range(start, end, s.len(), in_bits)
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = match range {
        // An empty range holds neither a 0 nor a 1.
        None => -1,
        Some((start, end, first_mask, last_mask)) => {
            bitpos_in_range(&s, start, end, first_mask, last_mask, bit, end_given)
        }
    };
    ctx.out.integer(pos);
    Ok(())
}

/// The search of Redis's `bitposCommand` over the bytes `start..=end`, with the masked-out
/// bits of the edge bytes (a BIT range) treated as not matching.
fn bitpos_in_range(
    s: &[u8],
    mut start: usize,
    end: usize,
    first_mask: u8,
    last_mask: u8,
    bit: bool,
    end_given: bool,
) -> i64 {
    let masked = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let mut bytes = end - start + 1;
    let pos = 'found: {
        if first_mask != 0 {
            let mut tmp = masked(s[start], first_mask);
            if last_mask != 0 && bytes == 1 {
                tmp = masked(tmp, last_mask);
            }
            let pos = first_bit(&[tmp], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - usize::from(last_mask != 0);
        if whole > 0 {
            let pos = first_bit(&s[start..start + whole], bit);
            if bytes == whole || (pos != -1 && pos != (whole as i64) << 3) {
                break 'found pos;
            }
            start += whole;
            bytes -= whole;
        }
        first_bit(&[masked(s[end], last_mask)], bit)
    };
    // With an explicit end the bits right of the range are not zero padding: no clear bit
    // found means none.
    if end_given && !bit && pos == (bytes as i64) << 3 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + ((start as i64) << 3)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// `BITOP op destkey key [key ...]`
fn bitop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let op = if is(&args[1], "and") {
        BitOp::And
    } else if is(&args[1], "or") {
        BitOp::Or
    } else if is(&args[1], "xor") {
        BitOp::Xor
    } else if is(&args[1], "not") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::err("BITOP NOT must be called with a single source key."));
    }
    let now = ctx.now_ms;
    let sources = &args[3..];
    for key in sources {
        if let Some(entry) = lookup_read(ctx.state, key, now, !ctx.client.no_touch) {
            entry.value.as_string()?;
        }
    }
    let result = {
        let ks = &ctx.state.keyspace;
        let mut strings: Vec<Option<StrRef>> = Vec::with_capacity(sources.len());
        for key in sources {
            strings.push(ks.peek(key, now).map(|e| e.value.as_string()).transpose()?);
        }
        let slices: Vec<&[u8]> = strings.iter().map(|s| s.as_deref().unwrap_or(b"")).collect();
        bitop_compute(op, &slices)
    };
    let dest = &args[2];
    let len = result.len();
    if len > 0 {
        ctx.state.keyspace.set(dest, Entry::new(Value::raw_string(result), lru_clock(now)));
        ctx.state.dirty += 1;
        ctx.changed(notify::STRING, "set", dest);
    } else if ctx.state.keyspace.remove(dest).is_some() {
        ctx.state.dirty += 1;
        ctx.changed(notify::GENERIC, "del", dest);
    }
    ctx.out.integer(len as i64);
    Ok(())
}

/// The result of a BITOP over `sources` (missing keys are empty): as long as the longest source,
/// shorter ones padded with zeros.
pub fn bitop_compute(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let max_len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; max_len];
    let byte = |s: &[u8], j: usize| s.get(j).copied().unwrap_or(0);
    for (j, o) in out.iter_mut().enumerate() {
        let mut v = byte(sources[0], j);
        match op {
            BitOp::Not => v = !v,
            BitOp::And => sources[1..].iter().for_each(|s| v &= byte(s, j)),
            BitOp::Or => sources[1..].iter().for_each(|s| v |= byte(s, j)),
            BitOp::Xor => sources[1..].iter().for_each(|s| v ^= byte(s, j)),
        }
        *o = v;
    }
    out
}

/// What BITFIELD does when a value does not fit its field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One BITFIELD operation, parsed.
struct Field {
    op: FieldOp,
    offset: u64,
    bits: u32,
    signed: bool,
    /// The SET value or INCRBY increment.
    arg: i64,
    overflow: Overflow,
}

/// Reads an unsigned field of `bits` bits at bit `offset`; bytes past the end read as zero.
pub fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let pos = offset + i;
        let byte = s.get((pos >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (pos & 7))) & 1) as u64;
    }
    v
}

/// Reads a signed (two's complement) field.
pub fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `offset`; `s` must be long enough.
pub fn set_field(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let bit = (v >> (bits as u64 - 1 - i)) & 1;
        let pos = offset + i;
        let byte = &mut s[(pos >> 3) as usize];
        let mask = 1u8 << (7 - (pos & 7));
        *byte = (*byte & !mask) | if bit == 1 { mask } else { 0 };
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: 0 if `value + incr` fits in `bits` unsigned bits,
/// else 1 (overflow) or -1 (underflow) with the value to store for WRAP and SAT.
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i32, u64) {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrap = || {
        let mask = if bits == 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > max_incr) {
        let limit = match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        };
        (1, limit)
    } else if incr < 0 && incr < min_incr {
        let limit = match ow {
            Overflow::Wrap => wrap(),
            _ => 0,
        };
        (-1, limit)
    } else {
        (0, 0)
    }
}

/// Redis's `checkSignedBitfieldOverflow`, the signed counterpart of [`unsigned_overflow`].
pub fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, i64) {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        (1, if ow == Overflow::Wrap { wrap() } else { max })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        (-1, if ow == Overflow::Wrap { wrap() } else { min })
    } else {
        (0, 0)
    }
}

/// Redis's `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`.
fn parse_field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || {
        CmdError::err(
            "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = protocol::number::parse_i64(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn bitfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx, args: &[Bytes], ro_command: bool) -> CmdResult {
    let max = max_bytes(ctx);
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut read_only = true;
    let mut highest_write: u64 = 0;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = &args[j];
        let op = if is(sub, "get") && remaining >= 2 {
            FieldOp::Get
        } else if is(sub, "set") && remaining >= 3 {
            FieldOp::Set
        } else if is(sub, "incrby") && remaining >= 3 {
            FieldOp::IncrBy
        } else if is(sub, "overflow") && remaining >= 1 {
            let kind = &args[j + 1];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = parse_field_type(&args[j + 1])?;
        let offset = parse_bit_offset(&args[j + 2], bits, max)?;
        let mut arg = 0;
        if op != FieldOp::Get {
            read_only = false;
            highest_write = highest_write.max(offset + bits as u64 - 1);
            arg = parse_int(&args[j + 3])?;
        }
        fields.push(Field { op, offset, bits, signed, arg, overflow });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    let now = ctx.now_ms;
    if read_only {
        let s = match lookup_read(ctx.state, &args[1], now, !ctx.client.no_touch) {
            Some(entry) => Some(entry.value.as_string()?),
            None => None,
        };
        let s: &[u8] = s.as_deref().unwrap_or(b"");
        ctx.out.array(fields.len());
        for f in &fields {
            ctx.out.integer(read_field(s, f));
        }
        return Ok(());
    }
    if ro_command {
        return Err(CmdError::err("BITFIELD_RO only supports the GET subcommand"));
    }
    let (data, created_or_grew) = string_for_bits(ctx.state, &args[1], now, highest_write)?;
    let mut changes = 0u64;
    ctx.out.array(fields.len());
    for f in &fields {
        if f.op == FieldOp::Get {
            ctx.out.integer(read_field(data, f));
            continue;
        }
        // SET replies with the old value, INCRBY with the new one; both store the new one.
        let (old, new, reply, overflowed) = if f.signed {
            let old = get_signed(data, f.offset, f.bits);
            let (wanted, incr) = if f.op == FieldOp::IncrBy { (old, f.arg) } else { (f.arg, 0) };
            let (of, limit) = signed_overflow(wanted, incr, f.bits, f.overflow);
            let new = if of != 0 { limit } else { wanted.wrapping_add(incr) };
            let reply = if f.op == FieldOp::IncrBy { new } else { old };
            (old as u64, new as u64, reply, of != 0)
        } else {
            let old = get_unsigned(data, f.offset, f.bits);
            let (wanted, incr) =
                if f.op == FieldOp::IncrBy { (old, f.arg) } else { (f.arg as u64, 0) };
            let (of, limit) = unsigned_overflow(wanted, incr, f.bits, f.overflow);
            let new = if of != 0 { limit } else { wanted.wrapping_add(incr as u64) };
            let reply = if f.op == FieldOp::IncrBy { new as i64 } else { old as i64 };
            (old, new, reply, of != 0)
        };
        if overflowed && f.overflow == Overflow::Fail {
            ctx.out.null();
            continue;
        }
        ctx.out.integer(reply);
        set_field(data, f.offset, f.bits, new);
        if created_or_grew || old != new {
            changes += 1;
        }
    }
    ctx.state.dirty += changes;
    if changes > 0 {
        ctx.changed(notify::STRING, "setbit", &args[1]);
    }
    Ok(())
}

fn read_field(s: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(s, f.offset, f.bits)
    } else {
        get_unsigned(s, f.offset, f.bits) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcount_counts_every_byte() {
        let s: Vec<u8> = (0..=255u8).collect();
        assert_eq!(popcount(&s), 1024);
        assert_eq!(popcount(b""), 0);
        assert_eq!(popcount(b"foobar"), 26);
    }

    #[test]
    fn first_bit_finds_positions() {
        assert_eq!(first_bit(&[0xff, 0xf0, 0x00], false), 12);
        assert_eq!(first_bit(&[0x00, 0x00, 0x01], true), 23);
        assert_eq!(first_bit(&[0x00; 20], true), -1);
        assert_eq!(first_bit(&[0xff; 20], false), 160);
        let mut long = vec![0u8; 100];
        long[77] = 0x20;
        assert_eq!(first_bit(&long, true), 77 * 8 + 2);
    }

    #[test]
    fn bit_ranges_match_redis() {
        // "foobar": BITCOUNT 1 1 = 6, BITCOUNT 5 30 BIT = 17 (Redis documentation).
        let s = b"foobar";
        let (a, b, f, l) = clamp_bit_range(5, 30, s.len(), true).unwrap();
        let n =
            popcount(&s[a..=b]) - (s[a] & f).count_ones() as u64 - (s[b] & l).count_ones() as u64;
        assert_eq!(n, 17);
        assert_eq!(clamp_bit_range(0, -1, 0, false), None);
        // Redis documentation examples of BITPOS on "\xff\xf0\x00".
        let s = [0xffu8, 0xf0, 0x00];
        let pos = |start, end, bits, bit, given| {
            clamp_bit_range(start, end, 3, bits)
                .map_or(-1, |(a, b, f, l)| bitpos_in_range(&s, a, b, f, l, bit, given))
        };
        assert_eq!(pos(0, 2, false, false, false), 12);
        assert_eq!(pos(2, -1, false, true, true), -1);
        assert_eq!(pos(7, 15, true, false, true), 12);
        let s2 = [0x00u8, 0xff, 0xf0];
        let pos2 = |start, end, bits, bit, given| {
            clamp_bit_range(start, end, 3, bits)
                .map_or(-1, |(a, b, f, l)| bitpos_in_range(&s2, a, b, f, l, bit, given))
        };
        assert_eq!(pos2(0, 2, false, true, false), 8);
        assert_eq!(pos2(2, 2, false, true, true), 16);
        assert_eq!(pos2(7, 15, true, true, true), 8);
    }

    #[test]
    fn bit_offsets_are_capped() {
        let max = 512 * 1024 * 1024;
        assert_eq!(parse_bit_offset(b"4294967295", 0, max), Ok(4294967295));
        assert!(parse_bit_offset(b"4294967296", 0, max).is_err());
        assert!(parse_bit_offset(b"-1", 0, max).is_err());
        assert!(parse_bit_offset(b"#3", 0, max).is_err());
        assert_eq!(parse_bit_offset(b"#3", 8, max), Ok(24));
    }

    #[test]
    fn fields_round_trip() {
        let mut s = vec![0u8; 4];
        set_field(&mut s, 3, 10, 0x3ff);
        assert_eq!(get_unsigned(&s, 3, 10), 0x3ff);
        assert_eq!(get_signed(&s, 3, 10), -1);
        assert_eq!(s, [0b0001_1111, 0b1111_1000, 0, 0]);
        // Reads past the end see zeros.
        assert_eq!(get_unsigned(&s, 28, 16), 0);
        set_field(&mut s, 0, 32, 0x8000_0001);
        assert_eq!(get_signed(&s, 0, 32), i32::MIN as i64 + 1);
    }

    #[test]
    fn overflow_rules_match_redis() {
        // u8: 250 + 10 wraps to 4, saturates at 255; 5 - 10 wraps to 251, saturates at 0.
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (1, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (1, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), (-1, 251));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (-1, 0));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Fail).0, 0);
        // SET u8 -1: the value is taken as a huge unsigned number.
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Overflow::Sat), (1, 255));
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Overflow::Wrap), (1, 255));
        // i8: 120 + 10 wraps to -126, saturates at 127; -120 - 10 saturates at -128.
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), (1, -126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), (1, 127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), (-1, -128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), (1, i64::MIN));
        assert_eq!(signed_overflow(i64::MIN, -1, 64, Overflow::Sat), (-1, i64::MIN));
        assert_eq!(signed_overflow(-5, 3, 64, Overflow::Fail).0, 0);
    }

    #[test]
    fn bitop_pads_shorter_sources() {
        assert_eq!(bitop_compute(BitOp::And, &[b"\xff\xff", b"\x0f"]), b"\x0f\x00");
        assert_eq!(bitop_compute(BitOp::Or, &[b"\xf0", b"", b"\x00\x01"]), b"\xf0\x01");
        assert_eq!(bitop_compute(BitOp::Xor, &[b"\xff", b"\x0f"]), b"\xf0");
        assert_eq!(bitop_compute(BitOp::Not, &[b"\x0f"]), b"\xf0");
        assert!(bitop_compute(BitOp::And, &[b"", b""]).is_empty());
    }
}
