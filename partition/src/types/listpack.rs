//! A listpack: a sequence of small strings and integers packed into one byte buffer, the compact
//! encoding of small hashes, sorted sets and list nodes (Redis's `listpack.c`, same idea and the
//! same entry layout, not byte-for-byte the same file format).
//!
//! Why: a hash with five short fields costs one allocation of a few dozen bytes instead of a
//! table, five nodes and ten strings. Operations are O(n) in the entry count, which the
//! `*-max-listpack-*` limits keep small.
//!
//! # Entry layout
//! Each entry is `header payload backlen`. The header says what the payload is:
//!
//! | header                 | payload                       |
//! |------------------------|-------------------------------|
//! | `0xxxxxxx`             | none: the integer 0..=127     |
//! | `10xxxxxx`             | string of 0..=63 bytes        |
//! | `110xxxxx yyyyyyyy`    | none: a 13-bit signed integer |
//! | `1110xxxx yyyyyyyy`    | string of up to 4095 bytes    |
//! | `0xF0` + u32 LE length | longer string                 |
//! | `0xF1`..`0xF4`         | i16, i24, i32, i64 (LE)       |
//!
//! `backlen` is the length of header + payload, in 1–5 bytes written so that it can be read
//! backwards from the end of the entry (7 bits per byte; every byte but the first written has
//! its high bit set), which makes reverse iteration and popping from the tail O(1).
//!
//! A string is stored as an integer when it is the canonical decimal text of an `i64` (as
//! Redis's `string2ll` accepts), and reads back as that same text, so callers see byte strings
//! only.

use protocol::ReplyWriter;

/// One element read from a listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The element as bytes; integers are formatted into `buf`.
    pub fn bytes<'b>(&self, buf: &'b mut itoa::Buffer) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Elem::Int(i) => buf.format(i).as_bytes(),
            Elem::Str(s) => s,
        }
    }

    /// The element as an owned byte string.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// True when the element's text equals `other` (Redis's `lpCompare`).
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        match *self {
            Elem::Str(s) => s == other,
            Elem::Int(i) => protocol::number::parse_i64(other) == Some(i),
        }
    }

    /// Byte-wise ordering of the element's text against `other` (memcmp order, as Redis sorts
    /// members and fields).
    pub fn cmp_bytes(&self, other: &[u8]) -> std::cmp::Ordering {
        self.bytes(&mut itoa::Buffer::new()).cmp(other)
    }

    /// Length of the element's text.
    pub fn text_len(&self) -> usize {
        match *self {
            Elem::Int(i) => itoa::Buffer::new().format(i).len(),
            Elem::Str(s) => s.len(),
        }
    }

    /// Writes the element as a bulk string reply.
    pub fn reply(&self, out: &mut ReplyWriter) {
        match *self {
            Elem::Int(i) => out.bulk_integer(i),
            Elem::Str(s) => out.bulk(s),
        }
    }

    /// The element as an integer, if its text is one.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Elem::Int(i) => Some(i),
            Elem::Str(s) => protocol::number::parse_i64(s),
        }
    }
}

/// A packed sequence of elements. Positions are byte offsets of entries (from the first entry,
/// header excluded), valid until the next modification.
///
/// One pointer and a length: the buffer is allocated at its exact size and starts with the
/// entry count (LEB128, one byte below 128 entries), so a small hash or sorted set can live
/// inside the keyspace's value (no box around it), as Redis keeps a listpack behind its
/// 16-byte `robj`. An empty listpack holds no allocation at all.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Listpack {
    buf: Box<[u8]>,
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()))
            .finish()
    }
}

/// How a value will be encoded, computed once so that the size is known before writing.
#[derive(Clone, Copy)]
enum Encoded<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Encoded<'_> {
    fn of(value: &[u8]) -> Encoded<'_> {
        match protocol::number::parse_i64(value) {
            Some(i) => Encoded::Int(i),
            None => Encoded::Str(value),
        }
    }

    /// Header + payload bytes.
    fn size(&self) -> usize {
        match *self {
            Encoded::Int(i) => int_size(i),
            Encoded::Str(s) if s.len() <= 63 => 1 + s.len(),
            Encoded::Str(s) if s.len() <= 4095 => 2 + s.len(),
            Encoded::Str(s) => 5 + s.len(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Encoded::Int(i) => write_int(i, out),
            Encoded::Str(s) => {
                if s.len() <= 63 {
                    out.push(0x80 | s.len() as u8);
                } else if s.len() <= 4095 {
                    out.push(0xE0 | (s.len() >> 8) as u8);
                    out.push(s.len() as u8);
                } else {
                    out.push(0xF0);
                    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                }
                out.extend_from_slice(s);
            }
        }
        let size = self.size();
        write_backlen(size, out);
    }
}

fn int_size(i: i64) -> usize {
    if (0..=127).contains(&i) {
        1
    } else if (-4096..=4095).contains(&i) {
        2
    } else if i16::try_from(i).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&i) {
        4
    } else if i32::try_from(i).is_ok() {
        5
    } else {
        9
    }
}

fn write_int(i: i64, out: &mut Vec<u8>) {
    let b = i.to_le_bytes();
    match int_size(i) {
        1 => out.push(i as u8),
        2 => {
            let u = (i as u16) & 0x1FFF;
            out.push(0xC0 | (u >> 8) as u8);
            out.push(u as u8);
        }
        3 => {
            out.push(0xF1);
            out.extend_from_slice(&b[..2]);
        }
        4 => {
            out.push(0xF2);
            out.extend_from_slice(&b[..3]);
        }
        5 => {
            out.push(0xF3);
            out.extend_from_slice(&b[..4]);
        }
        _ => {
            out.push(0xF4);
            out.extend_from_slice(&b);
        }
    }
}

fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// Writes `len` so that it reads backwards: the last byte holds the lowest 7 bits.
fn write_backlen(len: usize, out: &mut Vec<u8>) {
    let n = backlen_size(len);
    for k in (0..n).rev() {
        let group = ((len >> (7 * k)) & 0x7F) as u8;
        // Every byte except the one read last (the first written) says "more before me".
        out.push(if k == n - 1 { group } else { group | 0x80 });
    }
}

/// Sign-extends the low `bits` bits of `v`.
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

impl Listpack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Length of the header and the entry count it holds.
    #[inline]
    fn header(&self) -> (usize, u32) {
        let Some(&b) = self.buf.first() else { return (0, 0) };
        if b < 0x80 {
            return (1, b as u32);
        }
        let mut count = 0u32;
        for (i, &b) in self.buf.iter().enumerate().take(5) {
            count |= ((b & 0x7F) as u32) << (7 * i);
            if b < 0x80 {
                return (i + 1, count);
            }
        }
        unreachable!("a header is at most 5 bytes")
    }

    /// The packed entries (the buffer past its header).
    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.header().0..]
    }

    #[inline]
    fn count(&self) -> u32 {
        self.header().1
    }

    /// The buffer as a `Vec` with room for `additional` more bytes, and the length of its
    /// header (one is created when empty), for a change that [`Listpack::close`] stores back.
    fn open(&mut self, additional: usize) -> (Vec<u8>, usize) {
        let hdr = self.header().0;
        let mut v = std::mem::take(&mut self.buf).into_vec();
        if v.is_empty() {
            v.reserve_exact(1 + additional);
            v.push(0);
            return (v, 1);
        }
        // Exact growth, as Redis reallocates a listpack to its exact size: the allocator's
        // size classes already round up, and doubling on top of that wasted up to half of
        // every small hash, sorted set and list node. Reallocating within a size class
        // happens in place, so this costs little.
        v.reserve_exact(additional);
        (v, hdr)
    }

    /// Stores back a buffer taken by [`Listpack::open`] (header `hdr` bytes long), now
    /// holding `count` entries. The buffer shrinks to its length; an empty listpack frees it.
    fn close(&mut self, mut v: Vec<u8>, hdr: usize, count: u32) {
        debug_assert_eq!(count == 0, v.len() == hdr);
        if count == 0 {
            self.buf = Box::default();
            return;
        }
        // The count as LEB128: one byte below 128 entries (every small hash and sorted set).
        let mut new = [0u8; 5];
        let mut n = 0;
        let mut c = count;
        loop {
            new[n] = (c & 0x7F) as u8;
            c >>= 7;
            n += 1;
            if c == 0 {
                break;
            }
            new[n - 1] |= 0x80;
        }
        if n == hdr {
            v[..n].copy_from_slice(&new[..n]);
        } else {
            // Crossing 128, 16384 … entries: rare, the entries move by a byte.
            v.splice(..hdr, new[..n].iter().copied());
        }
        self.buf = v.into_boxed_slice();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Size of the packed data in bytes (the `*-max-listpack-size` byte limit compares this).
    pub fn bytes(&self) -> usize {
        self.data().len()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Gives back spare capacity: a no-op, the buffer is always exactly as long as its data.
    pub fn shrink_to_fit(&mut self) {}

    /// Position of the first entry.
    pub fn first(&self) -> Option<usize> {
        (!self.buf.is_empty()).then_some(0)
    }

    /// Position of the last entry.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.bytes())
    }

    /// Position of the entry after the one at `pos`.
    pub fn next(&self, pos: usize) -> Option<usize> {
        let end = self.entry_end(pos);
        (end < self.bytes()).then_some(end)
    }

    /// Position of the entry before `pos` (`pos` may be the end, `self.bytes()`).
    pub fn prev(&self, pos: usize) -> Option<usize> {
        if pos == 0 {
            return None;
        }
        let data = self.data();
        let mut p = pos - 1;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = data[p];
            len |= ((b & 0x7F) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
            p -= 1;
        }
        Some(p - len)
    }

    /// Header + payload length of the entry at `pos`.
    fn entry_size(&self, pos: usize) -> usize {
        let b = &self.data()[pos..];
        match b[0] {
            0x00..=0x7F => 1,
            0x80..=0xBF => 1 + (b[0] & 0x3F) as usize,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 2 + ((((b[0] & 0x0F) as usize) << 8) | b[1] as usize),
            0xF0 => 5 + u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize,
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            _ => 9,
        }
    }

    /// Offset just past the entry at `pos` (including its backlen).
    fn entry_end(&self, pos: usize) -> usize {
        let size = self.entry_size(pos);
        pos + size + backlen_size(size)
    }

    /// The element at `pos`.
    pub fn get(&self, pos: usize) -> Elem<'_> {
        let b = &self.data()[pos..];
        let le = |n: usize| {
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(&b[1..1 + n]);
            u64::from_le_bytes(v)
        };
        match b[0] {
            0x00..=0x7F => Elem::Int(b[0] as i64),
            0x80..=0xBF => Elem::Str(&b[1..1 + (b[0] & 0x3F) as usize]),
            0xC0..=0xDF => Elem::Int(sign_extend(((b[0] as u64 & 0x1F) << 8) | b[1] as u64, 13)),
            0xE0..=0xEF => {
                let len = (((b[0] & 0x0F) as usize) << 8) | b[1] as usize;
                Elem::Str(&b[2..2 + len])
            }
            0xF0 => {
                let len = u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize;
                Elem::Str(&b[5..5 + len])
            }
            0xF1 => Elem::Int(sign_extend(le(2), 16)),
            0xF2 => Elem::Int(sign_extend(le(3), 24)),
            0xF3 => Elem::Int(sign_extend(le(4), 32)),
            _ => Elem::Int(le(8) as i64),
        }
    }

    /// Position of the entry at `index` (negative counts from the end, -1 is the last).
    pub fn seek(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let index = if index < 0 { len + index } else { index };
        if index < 0 || index >= len {
            return None;
        }
        if index < len / 2 {
            let mut pos = self.first()?;
            for _ in 0..index {
                pos = self.next(pos)?;
            }
            Some(pos)
        } else {
            let mut pos = self.last()?;
            for _ in 0..(len - 1 - index) {
                pos = self.prev(pos)?;
            }
            Some(pos)
        }
    }

    /// Elements front to back.
    pub fn iter(&self) -> Iter<'_> {
        Iter { lp: self, front: 0, back: self.bytes() }
    }

    /// (position, element) front to back.
    pub fn iter_pos(&self) -> impl Iterator<Item = (usize, Elem<'_>)> + '_ {
        let mut pos = self.first();
        std::iter::from_fn(move || {
            let p = pos?;
            pos = self.next(p);
            Some((p, self.get(p)))
        })
    }

    /// Inserts `value` before the entry at `pos` (`pos == self.bytes()` appends). Returns the
    /// position of the new entry.
    pub fn insert(&mut self, pos: usize, value: &[u8]) -> usize {
        // Encoded at the end and rotated into place: no temporary buffer (LPUSH is hot).
        let count = self.count() + 1;
        let enc = Encoded::of(value);
        let size = enc.size();
        let (mut v, hdr) = self.open(size + backlen_size(size));
        let old_len = v.len();
        enc.write(&mut v);
        let total = v.len() - old_len;
        v[hdr + pos..].rotate_right(total);
        self.close(v, hdr, count);
        pos
    }

    /// Inserts `a` then `b` before the entry at `pos` (`pos == self.bytes()` appends), with
    /// one reallocation: a hash field and its value, a sorted-set member and its score.
    pub fn insert_pair(&mut self, pos: usize, a: &[u8], b: &[u8]) {
        let count = self.count() + 2;
        let (ea, eb) = (Encoded::of(a), Encoded::of(b));
        let (sa, sb) = (ea.size(), eb.size());
        let (mut v, hdr) = self.open(sa + backlen_size(sa) + sb + backlen_size(sb));
        let old_len = v.len();
        ea.write(&mut v);
        eb.write(&mut v);
        let total = v.len() - old_len;
        v[hdr + pos..].rotate_right(total);
        self.close(v, hdr, count);
    }

    /// Moves the entries from index `at` on into a new listpack (splitting a list node).
    pub fn split_off(&mut self, at: usize) -> Listpack {
        let Some(pos) = self.seek(at as i64) else {
            return Listpack::new();
        };
        let count = self.count();
        let mut tail = Listpack::new();
        let (mut t, thdr) = tail.open(self.bytes() - pos);
        t.extend_from_slice(&self.data()[pos..]);
        tail.close(t, thdr, count - at as u32);
        let (mut v, hdr) = self.open(0);
        v.truncate(hdr + pos);
        self.close(v, hdr, at as u32);
        tail
    }

    /// Moves every entry of `other` to the end of this listpack (merging list nodes).
    pub fn append(&mut self, other: &mut Listpack) {
        let count = self.count() + other.count();
        let (mut v, hdr) = self.open(other.bytes());
        v.extend_from_slice(other.data());
        self.close(v, hdr, count);
        *other = Listpack::new();
    }

    pub fn push_back(&mut self, value: &[u8]) {
        let count = self.count() + 1;
        let enc = Encoded::of(value);
        let size = enc.size();
        let (mut v, hdr) = self.open(size + backlen_size(size));
        enc.write(&mut v);
        self.close(v, hdr, count);
    }

    pub fn push_front(&mut self, value: &[u8]) {
        self.insert(0, value);
    }

    /// Replaces the entry at `pos` with `value`; returns the position after it.
    pub fn replace(&mut self, pos: usize, value: &[u8]) -> usize {
        let end = self.entry_end(pos);
        let enc = Encoded::of(value);
        let size = enc.size();
        let mut entry = Vec::with_capacity(size + backlen_size(size));
        enc.write(&mut entry);
        let new_end = pos + entry.len();
        let count = self.count();
        let (mut v, hdr) = self.open(entry.len().saturating_sub(end - pos));
        v.splice(hdr + pos..hdr + end, entry);
        self.close(v, hdr, count);
        new_end
    }

    /// Deletes `n` consecutive entries starting at `pos` (fewer if the end comes first).
    /// Returns the position that now holds what followed, if anything does.
    pub fn delete(&mut self, pos: usize, n: usize) -> Option<usize> {
        let mut end = pos;
        let mut deleted = 0;
        while deleted < n && end < self.bytes() {
            end = self.entry_end(end);
            deleted += 1;
        }
        let count = self.count() - deleted as u32;
        let (mut v, hdr) = self.open(0);
        v.drain(hdr + pos..hdr + end);
        self.close(v, hdr, count);
        (pos < self.bytes()).then_some(pos)
    }

    /// Deletes the entries from index `start` on, `n` of them (LTRIM, LREM-style bulk cuts).
    pub fn delete_range(&mut self, start: usize, n: usize) {
        if let Some(pos) = self.seek(start as i64) {
            self.delete(pos, n);
        }
    }

    /// Position of the first entry at or after `pos` equal to `value`, looking only at every
    /// `skip + 1`-th entry (skip 1 finds hash fields among field/value pairs).
    pub fn find(&self, mut pos: Option<usize>, value: &[u8], skip: usize) -> Option<usize> {
        let wanted = Encoded::of(value);
        while let Some(p) = pos {
            let hit = match (wanted, self.get(p)) {
                (Encoded::Int(a), Elem::Int(b)) => a == b,
                (Encoded::Str(a), Elem::Str(b)) => a == b,
                _ => false,
            };
            if hit {
                return Some(p);
            }
            pos = self.next(p);
            for _ in 0..skip {
                pos = pos.and_then(|q| self.next(q));
            }
        }
        None
    }
}

/// Front-to-back (and back-to-front) iterator over a listpack's elements.
pub struct Iter<'a> {
    lp: &'a Listpack,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.front >= self.back {
            return None;
        }
        let e = self.lp.get(self.front);
        self.front = self.lp.entry_end(self.front);
        Some(e)
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let p = self.lp.prev(self.back)?;
        self.back = p;
        Some(self.lp.get(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_one_pointer_and_a_length() {
        assert_eq!(std::mem::size_of::<Listpack>(), 16);
        let mut lp = Listpack::new();
        assert_eq!(lp.heap_bytes(), 0);
        lp.push_back(b"abc");
        // Count + entry (header, 3 bytes, backlen), nothing spare.
        assert_eq!(lp.heap_bytes(), 1 + 5);
        for i in 1..200 {
            lp.push_back(b"x");
            assert_eq!(lp.len(), i + 1);
        }
        // 200 entries: a two-byte count.
        assert_eq!(lp.heap_bytes(), 2 + 5 + 199 * 3);
        assert_eq!(lp.get(lp.first().unwrap()), Elem::Str(b"abc"));
        lp.delete(0, 100);
        assert_eq!((lp.len(), lp.heap_bytes()), (100, 1 + 100 * 3));
        lp.delete(0, 99);
        lp.delete(0, 1);
        assert_eq!(lp.heap_bytes(), 0);
    }

    fn texts(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn round_trips_every_encoding() {
        let long_a = vec![b'a'; 64];
        let long_b = vec![b'b'; 5000];
        let values: Vec<Vec<u8>> = [
            &b""[..],
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"4096",
            b"-32768",
            b"32767",
            b"8388607",
            b"-8388608",
            b"2147483647",
            b"-2147483648",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"9223372036854775808",
            b"01",
            b"+1",
            b"hello",
            &long_a,
            &long_b,
        ]
        .iter()
        .map(|v| v.to_vec())
        .collect();
        let mut lp = Listpack::new();
        for v in &values {
            lp.push_back(v);
        }
        assert_eq!(lp.len(), values.len());
        assert_eq!(texts(&lp), values);
        let rev: Vec<Vec<u8>> = lp.iter().rev().map(|e| e.to_vec()).collect();
        let mut expected = values.clone();
        expected.reverse();
        assert_eq!(rev, expected);
        for (i, v) in values.iter().enumerate() {
            let pos = lp.seek(i as i64).unwrap();
            assert!(lp.get(pos).eq_bytes(v), "index {i}");
            assert_eq!(lp.find(lp.first(), v, 0), Some(pos));
        }
        assert_eq!(lp.seek(-1), lp.last());
        assert_eq!(lp.seek(values.len() as i64), None);
    }

    #[test]
    fn backlen_reads_back_across_sizes() {
        for len in [0usize, 60, 63, 64, 126, 127, 128, 4095, 4096, 16383, 16384, 20000] {
            let v = vec![b'x'; len];
            let mut lp = Listpack::new();
            lp.push_back(b"first");
            lp.push_back(&v);
            lp.push_back(b"7");
            let last = lp.last().unwrap();
            let middle = lp.prev(last).unwrap();
            assert_eq!(lp.get(middle), Elem::Str(&v));
            assert_eq!(lp.prev(middle), Some(0));
        }
    }

    #[test]
    fn insert_replace_delete() {
        let mut lp = Listpack::new();
        for v in ["a", "b", "c", "d"] {
            lp.push_back(v.as_bytes());
        }
        lp.push_front(b"start");
        lp.insert_pair(lp.bytes(), b"x", b"-7");
        lp.insert_pair(lp.seek(5).unwrap(), b"y", b"8");
        assert_eq!(lp.len(), 9);
        assert_eq!(texts(&lp)[4..], ["d", "y", "8", "x", "-7"].map(|s| s.as_bytes().to_vec()));
        let pos = lp.seek(5).unwrap();
        lp.delete(pos, 4);
        let pos = lp.seek(2).unwrap();
        lp.insert(pos, b"12345");
        assert_eq!(
            texts(&lp),
            ["start", "a", "12345", "b", "c", "d"].map(|s| s.as_bytes().to_vec())
        );
        let pos = lp.seek(3).unwrap();
        lp.replace(pos, &[b'z'; 100]);
        assert_eq!(lp.get(lp.seek(3).unwrap()), Elem::Str(&[b'z'; 100]));
        let pos = lp.seek(1).unwrap();
        let next = lp.delete(pos, 2).unwrap();
        assert_eq!(lp.get(next), Elem::Str(&[b'z'; 100]));
        assert_eq!(texts(&lp), [b"start".to_vec(), vec![b'z'; 100], b"c".to_vec(), b"d".to_vec()]);
        lp.delete_range(2, 10);
        assert_eq!(lp.len(), 2);
        lp.delete(0, 2);
        assert!(lp.is_empty());
        assert_eq!(lp.bytes(), 0);
        assert_eq!(lp.first(), None);
    }

    #[test]
    fn split_off_and_append() {
        let mut lp = Listpack::new();
        for v in ["a", "1", "bb", "-300", "c"] {
            lp.push_back(v.as_bytes());
        }
        let mut tail = lp.split_off(2);
        assert_eq!(texts(&lp), [b"a".to_vec(), b"1".to_vec()]);
        assert_eq!(texts(&tail), [b"bb".to_vec(), b"-300".to_vec(), b"c".to_vec()]);
        assert_eq!(tail.len(), 3);
        assert!(lp.split_off(2).is_empty());
        lp.append(&mut tail);
        assert!(tail.is_empty() && tail.bytes() == 0);
        assert_eq!(lp.len(), 5);
        assert_eq!(lp.get(lp.last().unwrap()), Elem::Str(b"c"));
        assert_eq!(lp.get(lp.seek(3).unwrap()), Elem::Int(-300));
    }

    #[test]
    fn find_with_skip_looks_at_fields_only() {
        let mut lp = Listpack::new();
        for v in ["f1", "v", "f2", "v", "f3", "1"] {
            lp.push_back(v.as_bytes());
        }
        // "v" is only a value: searching fields must not find it.
        assert_eq!(lp.find(lp.first(), b"v", 1), None);
        let pos = lp.find(lp.first(), b"f3", 1).unwrap();
        assert_eq!(lp.get(lp.next(pos).unwrap()), Elem::Int(1));
        assert_eq!(lp.find(lp.first(), b"1", 0), lp.last());
    }

    #[test]
    fn integers_compare_as_text() {
        let e = Elem::Int(-42);
        assert!(e.eq_bytes(b"-42"));
        assert!(!e.eq_bytes(b"-042"));
        assert_eq!(e.cmp_bytes(b"-5"), std::cmp::Ordering::Less);
        assert_eq!(e.text_len(), 3);
    }
}
