//! The snapshot format: every key of a keyspace with its value and expiry deadline, behind a
//! header and followed by a checksum. It is the SAVE/BGSAVE file, the base file of an AOF
//! rewrite and what a master streams to a replica in a full resync.
//!
//! Why our own format and not RDB: an RDB file stores values in their encodings (listpack and
//! intset blobs in Redis's exact byte layout), which ties the file to `listpack.c`; ours stores
//! what a value *means* (strings, elements in order, members, scores, pairs) and [`load`]
//! rebuilds each value with the loading server's compact-encoding limits, as Redis does for
//! the RDB types that are not blobs. One reader, one writer, no per-encoding cases in the file.
//!
//! # Format (version 1)
//! All integers are unsigned LEB128 varints ("varint": 7 bits per byte, least significant
//! group first, the high bit set on every byte but the last; at most 10 bytes, and a value
//! must fit in 64 bits) unless said otherwise. A *string* is a varint byte length followed by
//! that many bytes (any bytes; nothing is NUL-terminated).
//!
//! ```text
//! file    = magic version meta record* END crc32
//! magic   = "RCLSNAP\0"                      8 bytes
//! version = varint                            1
//! meta    = created_unix_ms:varint  repl_id:string  repl_offset:varint
//!           aux_count:varint  (name:string value:string){aux_count}
//!                                             repl_id, names and values are UTF-8
//! record  = op [expire_at:varint] key:string payload
//! op      = type | 0x80 when an expiry follows (expire_at: absolute deadline, Unix ms)
//! type    = 0 string | 1 list | 2 set | 3 zset | 4 hash   (Redis's OBJ_* numbers)
//! payload = string:  value:string
//!           list:    count:varint element:string{count}          head to tail
//!           set:     count:varint member:string{count}           any order
//!           zset:    count:varint (member:string score:f64){count}   any order
//!           hash:    count:varint (field:string value:string){count} any order
//! f64     = 8 bytes, the IEEE-754 bits little-endian (so -0.0, ±inf survive; NaN is refused)
//! END     = 0xFF                              1 byte
//! crc32   = CRC-32/ISO-HDLC (zlib's `crc32`, polynomial 0x04C11DB7 reflected, initial
//!           and final xor 0xFFFFFFFF) of every byte from the magic through END,
//!           4 bytes little-endian; nothing may follow it
//! ```
//!
//! Integers stored as strings are written as their decimal text (an `int`-encoded string, an
//! intset member, a listpack integer entry), so a reader sees byte strings only.
//!
//! # Loading
//! [`load`] rebuilds values as Redis 7.0's `rdbLoadObject` does for the non-blob RDB types, so
//! OBJECT ENCODING after a reload answers what redis-server answers after DEBUG RELOAD:
//! - strings go through `tryObjectEncoding`: `int` for an integer's canonical text, else
//!   `embstr`/`raw` by length (a short string made `raw` by APPEND reloads as `embstr`);
//! - lists are pushed tail-wise into nodes sized by `list-max-listpack-size`;
//! - sets start as an intset when the count fits `set-max-intset-entries` and convert at the
//!   first non-integer member; hashes start as a listpack when the count fits
//!   `hash-max-listpack-entries` and convert at the first long field or value;
//! - sorted sets end as a listpack when the count and every member fit the
//!   `zset-max-listpack-*` limits, else a skiplist. (A listpack keeps an integral score as an
//!   integer, so a -0 score reads back as 0 there, as after ZADD into a listpack in
//!   redis-server; a skiplist keeps -0.)
//!
//! Keys whose deadline is before `now_ms` are dropped (a key lives through the millisecond of
//! its deadline, as lazy expiry has it), as a Redis master does when it loads an RDB. (A replica that loads the same stream drops them too: its master sends a DEL
//! for each when it expires it, and DEL of a missing key changes nothing.) An aggregate with no
//! elements is skipped, as Redis skips empty keys. Duplicate keys, members or fields, and NaN
//! scores are corruption and fail the load.
//!
//! `load` streams: keys go into the keyspace as they are read, and the checksum is checked at
//! the end. On error the keyspace holds whatever was read before the failure and the caller
//! must empty it again. Memory is bounded by the input, whatever a length claims: nothing is
//! preallocated from a length or count, buffers grow only as bytes arrive.

use std::io::{self, Read, Write};

use crate::keyspace::{Entry, Keyspace};
use crate::state::Encodings;
use crate::time::lru_clock;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::listpack::Elem;
use crate::types::set::Set;
use crate::types::zset::ZSet;
use crate::value::Value;

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"RCLSNAP\0";

/// The format version this module writes and reads.
pub const VERSION: u64 = 1;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
/// Set in a record's op byte when an expiry deadline follows it.
const HAS_EXPIRY: u8 = 0x80;
/// The op byte that ends the records.
const END: u8 = 0xFF;

/// Size of the write buffer and of the read buffer. On the stack when writing: `write` runs in
/// a forked child and stays off the allocator.
const BUF_SIZE: usize = 16 * 1024;

/// Metadata stored in the snapshot header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// When the snapshot was started (Unix ms).
    pub created_unix_ms: u64,
    /// The replication ID and offset the data corresponds to (what a replica continues from
    /// after a full resync, and what a restarted master resumes as).
    pub repl_id: String,
    pub repl_offset: u64,
    /// Free-form fields (the writer's version, the reason for the save …), kept in order.
    pub aux: Vec<(String, String)>,
}

/// Why a snapshot could not be loaded, and where: the byte offset of the failing record (of the
/// header field, checksum or trailing byte when the failure is not in a record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at offset {offset}")]
pub struct LoadError {
    pub offset: u64,
    pub reason: String,
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes every key of `keyspace` with its value and absolute expiry deadline (Unix ms) to `w`;
/// returns the bytes written. Keys past their deadline but not yet deleted are written too,
/// with that deadline: [`load`] drops them (this function has no clock, on purpose).
///
/// Safe to call in a `fork()`ed child of a multi-threaded process: it takes no lock, does not
/// log, and does not allocate (a fixed buffer on the stack batches small writes and feeds the
/// checksum, so `w` needs no `BufWriter` of its own; one is harmless). It iterates the
/// keyspace and values with their borrowing iterators; the one shared thing it reads is the
/// dict hash seed (to look deadlines up), set once before the first key existed.
pub fn write(keyspace: &Keyspace, meta: &Meta, w: &mut impl Write) -> io::Result<u64> {
    let mut out = Output { w, buf: [0; BUF_SIZE], len: 0, crc: crc32fast::Hasher::new(), total: 0 };
    out.put(MAGIC)?;
    out.varint(VERSION)?;
    out.varint(meta.created_unix_ms)?;
    out.string(meta.repl_id.as_bytes())?;
    out.varint(meta.repl_offset)?;
    out.varint(meta.aux.len() as u64)?;
    for (name, value) in &meta.aux {
        out.string(name.as_bytes())?;
        out.string(value.as_bytes())?;
    }
    for (key, entry) in keyspace.iter() {
        let expiry = keyspace.expire_at(key);
        let flag = if expiry.is_some() { HAS_EXPIRY } else { 0 };
        out.put(&[type_of(&entry.value) | flag])?;
        if let Some(at) = expiry {
            out.varint(at)?;
        }
        out.string(key)?;
        write_payload(&mut out, &entry.value)?;
    }
    out.put(&[END])?;
    out.flush()?;
    let crc = out.crc.clone().finalize();
    out.w.write_all(&crc.to_le_bytes())?;
    out.total += 4;
    Ok(out.total)
}

fn type_of(value: &Value) -> u8 {
    match value {
        Value::Int(_) | Value::Str { .. } => TYPE_STRING,
        Value::List(_) => TYPE_LIST,
        Value::Set(_) => TYPE_SET,
        Value::ZSet(_) => TYPE_ZSET,
        Value::Hash(_) => TYPE_HASH,
    }
}

fn write_payload<W: Write>(out: &mut Output<'_, W>, value: &Value) -> io::Result<()> {
    match value {
        Value::Int(i) => out.string(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Str { data, .. } => out.string(data),
        Value::List(list) => {
            out.varint(list.len() as u64)?;
            list.iter().try_for_each(|e| out.elem(e))
        }
        // Matched by encoding rather than through `Set::iter`/`Hash::iter`, which box their
        // table iterators: one allocation per key is what this function must not do.
        Value::Set(set) => {
            out.varint(set.len() as u64)?;
            match set {
                Set::Ints(ints) => ints.iter().try_for_each(|v| out.elem(Elem::Int(v))),
                Set::Table(d) => d.iter().try_for_each(|(m, _)| out.string(m)),
            }
        }
        Value::ZSet(zset) => {
            out.varint(zset.len() as u64)?;
            zset.iter().try_for_each(|(m, score)| {
                out.elem(m)?;
                out.put(&score.to_bits().to_le_bytes())
            })
        }
        Value::Hash(hash) => {
            out.varint(hash.len() as u64)?;
            match hash {
                // Fields and values alternate in the listpack, as the format wants them.
                Hash::Listpack(lp) => lp.iter().try_for_each(|e| out.elem(e)),
                Hash::Table(d) => d.iter().try_for_each(|(f, v)| {
                    out.string(f)?;
                    out.string(v)
                }),
            }
        }
    }
}

/// The write side: a fixed buffer in front of `w`, with the running checksum and byte count.
struct Output<'w, W: Write> {
    w: &'w mut W,
    buf: [u8; BUF_SIZE],
    len: usize,
    crc: crc32fast::Hasher,
    total: u64,
}

impl<W: Write> Output<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.len + bytes.len() > BUF_SIZE {
            self.flush()?;
            if bytes.len() > BUF_SIZE {
                // A big string goes straight through rather than in buffer-sized pieces.
                self.crc.update(bytes);
                self.total += bytes.len() as u64;
                return self.w.write_all(bytes);
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let pending = &self.buf[..self.len];
        self.crc.update(pending);
        self.total += pending.len() as u64;
        self.len = 0;
        self.w.write_all(pending)
    }

    fn varint(&mut self, mut v: u64) -> io::Result<()> {
        let mut bytes = [0u8; 10];
        let mut n = 0;
        loop {
            let group = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                bytes[n] = group;
                n += 1;
                break;
            }
            bytes[n] = group | 0x80;
            n += 1;
        }
        self.put(&bytes[..n])
    }

    fn string(&mut self, s: &[u8]) -> io::Result<()> {
        self.varint(s.len() as u64)?;
        self.put(s)
    }

    fn elem(&mut self, e: Elem) -> io::Result<()> {
        self.string(e.bytes(&mut itoa::Buffer::new()))
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Loads a snapshot from `r` into `keyspace`, which the caller has emptied, and returns its
/// metadata. Values are rebuilt with the limits in `encodings` (see the module doc); with
/// `drop_expired`, keys whose deadline is before `now_ms` are dropped (a master loading its
/// own snapshot), else kept for their master's `DEL` (a replica) or a later command (an AOF
/// base); loaded keys get `now_ms` as their last access.
///
/// `r` must end where the snapshot ends (bytes after the checksum are an error): a caller
/// reading a snapshot from a longer stream bounds it with [`Read::take`]. No `BufReader`
/// needed: reads go through an internal buffer. On error `keyspace` holds a partial load.
pub fn load(
    r: &mut impl Read,
    keyspace: &mut Keyspace,
    encodings: &Encodings,
    now_ms: u64,
    drop_expired: bool,
) -> Result<Meta, LoadError> {
    let mut input = Input::new(r);

    let mut magic = [0u8; 8];
    input.exact(&mut magic).map_err(at(0))?;
    if &magic != MAGIC {
        return Err(LoadError { offset: 0, reason: "not a snapshot (bad magic)".into() });
    }
    let start = input.offset();
    let version = input.varint().map_err(at(start))?;
    if version != VERSION {
        return Err(LoadError { offset: start, reason: format!("unsupported version {version}") });
    }
    let start = input.offset();
    let meta = read_meta(&mut input).map_err(at(start))?;

    let mut loader = Loader {
        encodings,
        now_ms: if drop_expired { now_ms } else { 0 },
        lru: lru_clock(now_ms),
        key: Vec::new(),
        a: Vec::new(),
        b: Vec::new(),
        arena: Vec::new(),
        members: Vec::new(),
    };
    loop {
        let start = input.offset();
        let op = input.u8().map_err(at(start))?;
        if op == END {
            break;
        }
        loader.record(op, &mut input, keyspace).map_err(at(start))?;
    }

    let start = input.offset();
    let computed = input.checksum();
    let mut stored = [0u8; 4];
    input.exact(&mut stored).map_err(at(start))?;
    if u32::from_le_bytes(stored) != computed {
        return Err(LoadError { offset: start, reason: "checksum mismatch".into() });
    }
    let start = input.offset();
    match input.u8() {
        Err(Fail::Eof) => Ok(meta),
        Ok(_) => {
            Err(LoadError { offset: start, reason: "trailing bytes after the checksum".into() })
        }
        Err(e) => Err(at(start)(e)),
    }
}

/// Attaches the offset of what was being read to a failure.
fn at(offset: u64) -> impl FnOnce(Fail) -> LoadError {
    move |fail| LoadError { offset, reason: fail.into() }
}

fn read_meta<R: Read>(input: &mut Input<'_, R>) -> Result<Meta, Fail> {
    let created_unix_ms = input.varint()?;
    let repl_id = input.utf8("replication ID")?;
    let repl_offset = input.varint()?;
    let count = input.varint()?;
    let mut aux = Vec::new();
    for _ in 0..count {
        let name = input.utf8("aux field name")?;
        let value = input.utf8("aux field value")?;
        aux.push((name, value));
    }
    Ok(Meta { created_unix_ms, repl_id, repl_offset, aux })
}

/// Builds values from records; owns the scratch buffers reused from one record to the next.
struct Loader<'e> {
    encodings: &'e Encodings,
    now_ms: u64,
    lru: u32,
    key: Vec<u8>,
    a: Vec<u8>,
    b: Vec<u8>,
    /// A small sorted set's members back to back, and (start, end, score) of each.
    arena: Vec<u8>,
    members: Vec<(usize, usize, f64)>,
}

impl Loader<'_> {
    fn record<R: Read>(
        &mut self,
        op: u8,
        input: &mut Input<'_, R>,
        keyspace: &mut Keyspace,
    ) -> Result<(), Fail> {
        let expiry = if op & HAS_EXPIRY != 0 { Some(input.varint()?) } else { None };
        input.string_into(&mut self.key)?;
        let value = match op & !HAS_EXPIRY {
            TYPE_STRING => {
                input.string_into(&mut self.a)?;
                Some(Value::string(&self.a))
            }
            TYPE_LIST => self.list(input)?,
            TYPE_SET => self.set(input)?,
            TYPE_ZSET => self.zset(input)?,
            TYPE_HASH => self.hash(input)?,
            t => return Err(Fail::Bad(format!("unknown record type {t:#04x}"))),
        };
        let Some(value) = value else { return Ok(()) };
        if expiry.is_some_and(|at| at < self.now_ms) {
            return Ok(());
        }
        let before = keyspace.len();
        keyspace.set(&self.key, Entry::new(value, self.lru));
        if keyspace.len() == before {
            return Err(Fail::Bad("duplicate key".into()));
        }
        if let Some(at) = expiry {
            keyspace.set_expire(&self.key, at);
        }
        Ok(())
    }

    fn list<R: Read>(&mut self, input: &mut Input<'_, R>) -> Result<Option<Value>, Fail> {
        let count = input.varint()?;
        let mut list = List::new(self.encodings.list_max_listpack_size);
        for _ in 0..count {
            input.string_into(&mut self.a)?;
            list.push_back(&self.a);
        }
        Ok((!list.is_empty()).then(|| Value::List(Box::new(list))))
    }

    fn set<R: Read>(&mut self, input: &mut Input<'_, R>) -> Result<Option<Value>, Fail> {
        let count = input.varint()?;
        let max = self.encodings.set_max_intset_entries;
        // Redis's rule: too many members for an intset means a table from the start, even
        // when they are all integers.
        let mut set =
            if count > max as u64 { Set::Table(Default::default()) } else { Set::default() };
        for _ in 0..count {
            input.string_into(&mut self.a)?;
            if !set.add(&self.a, max) {
                return Err(Fail::Bad("duplicate set member".into()));
            }
        }
        Ok((!set.is_empty()).then(|| Value::Set(set)))
    }

    fn zset<R: Read>(&mut self, input: &mut Input<'_, R>) -> Result<Option<Value>, Fail> {
        let count = input.varint()?;
        let limits = self.encodings.zset;
        let mut zset = ZSet::new();
        // Redis loads every sorted set into a skiplist and converts it to a listpack afterwards
        // when the count and the longest member fit. Inserting into a listpack first would not
        // do: a listpack stores an integral score as an integer, so a skiplist's -0 would
        // come back as 0. So: a skiplist from the start when the count says so, else the
        // members are read first (into scratch space reused across keys) and the encoding
        // picked from them.
        if count > limits.entries as u64 {
            zset.convert();
            for _ in 0..count {
                input.string_into(&mut self.a)?;
                let score = input.score()?;
                zadd(&mut zset, &self.a, score)?;
            }
        } else {
            self.arena.clear();
            self.members.clear();
            for _ in 0..count {
                let from = self.arena.len();
                input.string_append(&mut self.arena)?;
                self.members.push((from, self.arena.len(), input.score()?));
            }
            if self.members.iter().any(|&(from, to, _)| to - from > limits.value) {
                zset.convert();
            }
            for &(from, to, score) in &self.members {
                zadd(&mut zset, &self.arena[from..to], score)?;
            }
        }
        Ok((!zset.is_empty()).then(|| Value::ZSet(zset)))
    }

    fn hash<R: Read>(&mut self, input: &mut Input<'_, R>) -> Result<Option<Value>, Fail> {
        let count = input.varint()?;
        let limits = self.encodings.hash;
        let mut hash = if count > limits.max_entries as u64 {
            Hash::Table(Default::default())
        } else {
            Hash::new()
        };
        for _ in 0..count {
            input.string_into(&mut self.a)?;
            input.string_into(&mut self.b)?;
            if !hash.set(&self.a, &self.b, limits) {
                return Err(Fail::Bad("duplicate hash field".into()));
            }
        }
        hash.trim();
        Ok((!hash.is_empty()).then(|| Value::Hash(hash)))
    }
}

/// Adds a member read from a snapshot to a set already in its final encoding.
fn zadd(zset: &mut ZSet, member: &[u8], score: f64) -> Result<(), Fail> {
    if score.is_nan() {
        return Err(Fail::Bad("NaN score in a sorted set".into()));
    }
    if zset.score(member).is_some() {
        return Err(Fail::Bad("duplicate sorted set member".into()));
    }
    zset.insert(member, score, crate::types::zset::Limits::NONE);
    Ok(())
}

/// Why a read failed, before the offset is attached.
enum Fail {
    Eof,
    Io(io::Error),
    Bad(String),
}

impl From<Fail> for String {
    fn from(f: Fail) -> String {
        match f {
            Fail::Eof => "snapshot truncated".into(),
            Fail::Io(e) => format!("read failed: {e}"),
            Fail::Bad(reason) => reason,
        }
    }
}

/// The read side: a buffer over `r` that knows the offset of the next byte and checksums the
/// bytes consumed.
struct Input<'r, R: Read> {
    r: &'r mut R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// Offset in the file of `buf[0]`.
    base: u64,
    crc: crc32fast::Hasher,
    /// `buf[..hashed]` has been fed to `crc`.
    hashed: usize,
}

impl<'r, R: Read> Input<'r, R> {
    fn new(r: &'r mut R) -> Self {
        Input {
            r,
            buf: vec![0; BUF_SIZE],
            pos: 0,
            filled: 0,
            base: 0,
            crc: crc32fast::Hasher::new(),
            hashed: 0,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The checksum of every byte consumed so far.
    fn checksum(&mut self) -> u32 {
        self.crc.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
        self.crc.clone().finalize()
    }

    /// Refills the (fully consumed) buffer; `Eof` when the input has nothing more.
    fn refill(&mut self) -> Result<(), Fail> {
        debug_assert_eq!(self.pos, self.filled);
        self.crc.update(&self.buf[self.hashed..self.filled]);
        self.base += self.filled as u64;
        self.pos = 0;
        self.filled = 0;
        self.hashed = 0;
        loop {
            match self.r.read(&mut self.buf) {
                Ok(0) => return Err(Fail::Eof),
                Ok(n) => {
                    self.filled = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Fail::Io(e)),
            }
        }
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, Fail> {
        if self.pos == self.filled {
            self.refill()?;
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn exact(&mut self, out: &mut [u8]) -> Result<(), Fail> {
        let mut done = 0;
        while done < out.len() {
            if self.pos == self.filled {
                self.refill()?;
            }
            let n = (out.len() - done).min(self.filled - self.pos);
            out[done..done + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
        }
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Fail> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.u8()?;
            // The tenth byte holds bit 63 only.
            if shift == 63 && b > 1 {
                return Err(Fail::Bad("varint overflows 64 bits".into()));
            }
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    /// Reads a string into `out` (replacing its contents).
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), Fail> {
        out.clear();
        self.string_append(out)
    }

    /// Reads a string onto the end of `out`. `out` grows with the bytes that arrive, never by
    /// the length the input claims.
    fn string_append(&mut self, out: &mut Vec<u8>) -> Result<(), Fail> {
        let mut left = self.varint()?;
        while left > 0 {
            if self.pos == self.filled {
                self.refill()?;
            }
            let n = left.min((self.filled - self.pos) as u64) as usize;
            out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            left -= n as u64;
        }
        Ok(())
    }

    fn score(&mut self) -> Result<f64, Fail> {
        let mut bits = [0u8; 8];
        self.exact(&mut bits)?;
        Ok(f64::from_bits(u64::from_le_bytes(bits)))
    }

    fn utf8(&mut self, what: &str) -> Result<String, Fail> {
        let mut bytes = Vec::new();
        self.string_into(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| Fail::Bad(format!("{what} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{hash, zset};

    /// Redis 7.0's default limits.
    fn defaults() -> Encodings {
        Encodings::default()
    }

    fn meta() -> Meta {
        Meta {
            created_unix_ms: 1_700_000_000_123,
            repl_id: "8f2c0e2b6a7d4f19b3e5c1a09d8e7f6a5b4c3d2e".into(),
            repl_offset: 123_456_789,
            aux: vec![("rcluster-ver".into(), "0.1.0".into()), ("".into(), "é".into())],
        }
    }

    fn snapshot(ks: &Keyspace, meta: &Meta) -> Vec<u8> {
        let mut out = Vec::new();
        let n = write(ks, meta, &mut out).expect("write to a Vec");
        assert_eq!(n, out.len() as u64, "write reports the bytes it wrote");
        out
    }

    fn reload(bytes: &[u8], enc: &Encodings, now_ms: u64) -> Result<(Keyspace, Meta), LoadError> {
        let mut ks = Keyspace::new();
        let meta = load(&mut &bytes[..], &mut ks, enc, now_ms, true)?;
        Ok((ks, meta))
    }

    /// The error loading `bytes` gives (with the default limits); fails the test if it loads.
    fn must_fail(bytes: &[u8], what: &str) -> LoadError {
        match reload(bytes, &defaults(), 0) {
            Ok(_) => panic!("{what}: loaded"),
            Err(e) => e,
        }
    }

    fn put(ks: &mut Keyspace, key: &[u8], value: Value) {
        ks.set(key, Entry::new(value, 0));
    }

    fn list_of(items: &[&[u8]], fill: i64) -> Value {
        let mut l = List::new(fill);
        items.iter().for_each(|i| l.push_back(i));
        Value::List(Box::new(l))
    }

    fn set_of(items: &[&[u8]], max_intset: usize) -> Value {
        let mut s = Set::for_member(items[0]);
        items.iter().for_each(|m| {
            s.add(m, max_intset);
        });
        Value::Set(s)
    }

    fn zset_of(items: &[(&[u8], f64)], limits: zset::Limits) -> Value {
        let mut z = ZSet::new();
        items.iter().for_each(|&(m, s)| z.insert(m, s, limits));
        Value::ZSet(z)
    }

    fn hash_of(items: &[(&[u8], &[u8])], limits: hash::Limits) -> Value {
        let mut h = Hash::new();
        items.iter().for_each(|&(f, v)| {
            h.set(f, v, limits);
        });
        Value::Hash(h)
    }

    /// A keyspace with every type in every encoding, and some keys with deadlines.
    fn every_type() -> Keyspace {
        let enc = defaults();
        let mut ks = Keyspace::new();
        let binary: Vec<u8> = (0..=255u8).collect();
        put(&mut ks, b"", Value::string(b"the empty key"));
        put(&mut ks, b"empty", Value::string(b""));
        put(&mut ks, b"int", Value::string(b"-9223372036854775808"));
        put(&mut ks, b"int:max", Value::Int(i64::MAX));
        put(&mut ks, b"not-int", Value::string(b"007"));
        put(&mut ks, b"embstr", Value::string(&[b'e'; 44]));
        put(&mut ks, b"raw", Value::string(&[b'r'; 45]));
        put(&mut ks, b"raw:short", Value::raw_string(b"ab".to_vec()));
        put(&mut ks, &binary, Value::string(&binary));
        put(&mut ks, b"big", Value::string(&vec![b'x'; 3 * BUF_SIZE + 7]));

        let fill = enc.list_max_listpack_size;
        put(&mut ks, b"list", list_of(&[b"a", b"", b"12", b"-7", &binary, b"a"], fill));
        let many: Vec<Vec<u8>> = (0..5000).map(|i| format!("element-{i}").into_bytes()).collect();
        let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        put(&mut ks, b"list:big", list_of(&many, fill));

        put(&mut ks, b"set:ints", set_of(&[b"1", b"-5", b"70000", b"9223372036854775807"], 512));
        put(&mut ks, b"set:strs", set_of(&[b"a", b"", &binary, b"1"], 512));
        let nums: Vec<Vec<u8>> = (0..600).map(|i| i.to_string().into_bytes()).collect();
        let nums: Vec<&[u8]> = nums.iter().map(Vec::as_slice).collect();
        put(&mut ks, b"set:many-ints", set_of(&nums, enc.set_max_intset_entries));

        let scores: &[(&[u8], f64)] = &[
            (b"inf", f64::INFINITY),
            (b"-inf", f64::NEG_INFINITY),
            (b"frac", 0.1),
            (b"neg", -2.5),
            (b"tiny", 5e-324),
            (b"12", 12.0),
            (b"", 3.0),
        ];
        put(&mut ks, b"zset:small", zset_of(scores, enc.zset));
        let mut big: Vec<(Vec<u8>, f64)> =
            (0..300).map(|i| (format!("m{i}").into_bytes(), i as f64 / 7.0)).collect();
        big.push((b"negzero".to_vec(), -0.0));
        big.push((b"inf".to_vec(), f64::INFINITY));
        big.push((b"-inf".to_vec(), f64::NEG_INFINITY));
        let big: Vec<(&[u8], f64)> = big.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
        put(&mut ks, b"zset:big", zset_of(&big, enc.zset));
        put(&mut ks, b"zset:long", zset_of(&[(&[b'm'; 65], 1.0), (b"x", 2.0)], enc.zset));

        put(&mut ks, b"hash:small", hash_of(&[(b"f", b"v"), (b"n", b"42"), (b"", b"")], enc.hash));
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            (0..700).map(|i| (format!("f{i}").into_bytes(), i.to_string().into_bytes())).collect();
        let pairs: Vec<(&[u8], &[u8])> =
            pairs.iter().map(|(f, v)| (f.as_slice(), v.as_slice())).collect();
        put(&mut ks, b"hash:big", hash_of(&pairs, enc.hash));
        put(&mut ks, b"hash:long", hash_of(&[(b"f", &[b'v'; 65]), (&binary, b"1")], enc.hash));

        ks.set_expire(b"list", 4_000_000_000_000);
        ks.set_expire(b"hash:small", 4_000_000_000_001);
        ks.set_expire(b"", 1);
        ks
    }

    /// Asserts that `b` holds the same keys, values, encodings and deadlines as `a`.
    fn assert_same(a: &Keyspace, b: &Keyspace) {
        assert_eq!(a.len(), b.len());
        assert_eq!(a.volatile_len(), b.volatile_len());
        for (key, entry) in a.iter() {
            let other = b.peek(key, 0).unwrap_or_else(|| panic!("key {key:?} lost"));
            assert_eq!(entry.value, other.value, "value of {key:?}");
            assert_eq!(entry.value.encoding(), other.value.encoding(), "encoding of {key:?}");
            assert_eq!(a.expire_at(key), b.expire_at(key), "deadline of {key:?}");
            if let (Value::ZSet(x), Value::ZSet(y)) = (&entry.value, &other.value) {
                let bits = |z: &ZSet| z.iter().map(|(_, s)| s.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(x), bits(y), "score bits of {key:?} (-0.0 stays -0.0)");
            }
        }
    }

    #[test]
    fn round_trips_every_type_and_encoding() {
        let ks = every_type();
        let bytes = snapshot(&ks, &meta());
        let (loaded, m) = reload(&bytes, &defaults(), 0).expect("load");
        assert_eq!(m, meta());
        // A short raw string reloads as embstr, as tryObjectEncoding makes it in Redis.
        let raw = loaded.peek(b"raw:short", 0).expect("present");
        assert_eq!(raw.value.encoding(), "embstr");
        let mut expected = every_type();
        put(&mut expected, b"raw:short", Value::string(b"ab"));
        assert_same(&expected, &loaded);
        assert_eq!(crate::digest::dataset(&ks), crate::digest::dataset(&loaded));
        let encodings: Vec<(&str, &str)> = [
            "int",
            "not-int",
            "embstr",
            "raw",
            "list",
            "set:ints",
            "set:strs",
            "set:many-ints",
            "zset:small",
            "zset:big",
            "zset:long",
            "hash:small",
            "hash:big",
            "hash:long",
        ]
        .iter()
        .map(|k| (*k, loaded.peek(k.as_bytes(), 0).expect("present").value.encoding()))
        .collect();
        assert_eq!(
            encodings,
            [
                ("int", "int"),
                ("not-int", "embstr"),
                ("embstr", "embstr"),
                ("raw", "raw"),
                ("list", "quicklist"),
                ("set:ints", "intset"),
                ("set:strs", "hashtable"),
                ("set:many-ints", "hashtable"),
                ("zset:small", "listpack"),
                ("zset:big", "skiplist"),
                ("zset:long", "skiplist"),
                ("hash:small", "listpack"),
                ("hash:big", "hashtable"),
                ("hash:long", "hashtable"),
            ]
        );
    }

    #[test]
    fn empty_keyspace_round_trips() {
        let bytes = snapshot(&Keyspace::new(), &Meta::default());
        let (loaded, m) = reload(&bytes, &defaults(), 0).expect("load");
        assert!(loaded.is_empty());
        assert_eq!(m, Meta::default());
    }

    #[test]
    fn values_are_rebuilt_with_the_loading_limits() {
        let ks = every_type();
        let bytes = snapshot(&ks, &meta());
        let tight = Encodings {
            hash: hash::Limits { max_entries: 2, max_value: 64 },
            zset: zset::Limits { entries: 4, value: 64 },
            set_max_intset_entries: 3,
            list_max_listpack_size: 5,
            hll_sparse_max_bytes: 3000,
        };
        let (loaded, _) = reload(&bytes, &tight, 0).expect("load");
        let encoding = |k: &[u8]| loaded.peek(k, 0).expect("present").value.encoding();
        assert_eq!(encoding(b"hash:small"), "hashtable");
        assert_eq!(encoding(b"zset:small"), "skiplist");
        assert_eq!(encoding(b"set:ints"), "hashtable");
        let Value::List(list) = &loaded.peek(b"list:big", 0).expect("present").value else {
            panic!("a list")
        };
        // Five entries per node, as a list created under `list-max-listpack-size 5`.
        assert_eq!(list.node_count(), 1000);

        let loose = Encodings {
            hash: hash::Limits { max_entries: 1000, max_value: 64 },
            zset: zset::Limits { entries: 1000, value: 64 },
            set_max_intset_entries: 1000,
            ..defaults()
        };
        let (loaded, _) = reload(&bytes, &loose, 0).expect("load");
        let encoding = |k: &[u8]| loaded.peek(k, 0).expect("present").value.encoding();
        assert_eq!(encoding(b"hash:big"), "listpack");
        assert_eq!(encoding(b"zset:big"), "listpack");
        assert_eq!(encoding(b"zset:long"), "skiplist", "a member longer than the limit");
        assert_eq!(encoding(b"set:many-ints"), "intset");
        // A listpack stores an integral score as an integer, so -0 becomes 0, as in Redis:
        // the one thing a reload into another encoding changes.
        let zset = loaded.peek(b"zset:big", 0).expect("present").value.as_zset().ok().cloned();
        let score = zset.and_then(|z| z.score(b"negzero")).expect("member kept");
        assert_eq!(score.to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn lists_keep_their_fill_across_nodes() {
        let mut ks = Keyspace::new();
        let items: Vec<Vec<u8>> = (0..20_000).map(|i| format!("{i:08}").into_bytes()).collect();
        let items: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        put(&mut ks, b"l", list_of(&items, -1));
        let bytes = snapshot(&ks, &Meta::default());
        for fill in [-1, -2, -5, 1, 128] {
            let enc = Encodings { list_max_listpack_size: fill, ..defaults() };
            let (loaded, _) = reload(&bytes, &enc, 0).expect("load");
            let Value::List(got) = &loaded.peek(b"l", 0).expect("present").value else {
                panic!("a list")
            };
            let Value::List(want) = list_of(&items, fill) else { unreachable!() };
            assert!(got.iter().eq(want.iter()), "elements in order (fill {fill})");
            assert_eq!(got.node_count(), want.node_count(), "nodes for fill {fill}");
            assert!(got.node_count() > 1);
        }
    }

    #[test]
    fn deadlines_are_absolute_and_past_ones_dropped() {
        let ks = every_type();
        let bytes = snapshot(&ks, &meta());
        let (kept, _) = reload(&bytes, &defaults(), 1).expect("load");
        assert_eq!(kept.expire_at(b""), Some(1), "alive during the millisecond of its deadline");
        let (loaded, _) = reload(&bytes, &defaults(), 2).expect("load");
        assert!(loaded.peek(b"", 0).is_none(), "expired key dropped");
        assert_eq!(loaded.len(), ks.len() - 1);
        assert_eq!(loaded.expire_at(b"list"), Some(4_000_000_000_000));
        assert_eq!(loaded.expire_at(b"hash:small"), Some(4_000_000_000_001));
        assert_eq!(loaded.expire_at(b"raw"), None);
    }

    #[test]
    fn loaded_keys_get_the_load_time_as_last_access() {
        let ks = every_type();
        let bytes = snapshot(&ks, &meta());
        let now = 1_700_000_000_000;
        let (loaded, _) = reload(&bytes, &defaults(), now).expect("load");
        assert!(loaded.iter().all(|(_, e)| e.lru == lru_clock(now)));
    }

    #[test]
    fn flipping_any_byte_is_detected() {
        let mut ks = Keyspace::new();
        put(&mut ks, b"s", Value::string(b"hello"));
        put(&mut ks, b"n", Value::Int(-42));
        put(&mut ks, b"l", list_of(&[b"a", b"7"], -2));
        put(&mut ks, b"z", zset_of(&[(b"m", 1.5)], defaults().zset));
        put(&mut ks, b"h", hash_of(&[(b"f", b"v")], defaults().hash));
        put(&mut ks, b"t", set_of(&[b"1", b"x"], 512));
        ks.set_expire(b"s", 4_000_000_000_000);
        let bytes = snapshot(&ks, &meta());
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                let err = reload(&bad, &defaults(), 0)
                    .err()
                    .unwrap_or_else(|| panic!("byte {i} ^ {flip:#x} went unnoticed"));
                assert!(err.offset <= bytes.len() as u64, "{err}");
            }
        }
    }

    #[test]
    fn truncation_anywhere_is_an_error() {
        // Every type in every encoding, kept small with tiny limits, cut at every byte.
        let tiny = Encodings {
            hash: hash::Limits { max_entries: 2, max_value: 8 },
            zset: zset::Limits { entries: 2, value: 8 },
            set_max_intset_entries: 2,
            list_max_listpack_size: 2,
            ..defaults()
        };
        let mut ks = Keyspace::new();
        put(&mut ks, b"s", Value::string(b"v"));
        put(&mut ks, b"n", Value::Int(-1234567));
        put(&mut ks, b"l", list_of(&[b"a", b"7", b"", b"long element"], 2));
        put(&mut ks, b"zl", zset_of(&[(b"m", 1.5), (b"n", f64::NEG_INFINITY)], tiny.zset));
        put(&mut ks, b"zs", zset_of(&[(b"m", -0.0), (b"n", 2.0), (b"o", 0.25)], tiny.zset));
        put(&mut ks, b"hl", hash_of(&[(b"f", b"v"), (b"g", b"12")], tiny.hash));
        put(&mut ks, b"ht", hash_of(&[(b"f", b"v"), (b"g", b"1"), (b"h", b"")], tiny.hash));
        put(&mut ks, b"si", set_of(&[b"1", b"-2"], 2));
        put(&mut ks, b"st", set_of(&[b"1", b"2", b"3"], 2));
        ks.set_expire(b"l", 4_000_000_000_000);
        let bytes = snapshot(&ks, &meta());
        let (loaded, _) = reload(&bytes, &tiny, 0).expect("the whole snapshot loads");
        assert_same(&ks, &loaded);
        for cut in 0..bytes.len() {
            let err = reload(&bytes[..cut], &tiny, 0)
                .err()
                .unwrap_or_else(|| panic!("cut at {cut} loaded"));
            assert!(err.reason.contains("truncated"), "cut {cut}: {err}");
            assert!(err.offset <= cut as u64, "offset {} past the cut {cut}", err.offset);
        }
        // And a sample of cuts through the big values.
        let bytes = snapshot(&every_type(), &meta());
        for cut in (0..bytes.len()).step_by(bytes.len() / 50) {
            let err = must_fail(&bytes[..cut], "truncated");
            assert!(err.reason.contains("truncated"), "cut {cut}: {err}");
        }
    }

    /// The bytes of a snapshot whose records are `records` (each an op byte and what follows),
    /// with a correct checksum.
    fn handmade(records: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write(&Keyspace::new(), &Meta::default(), &mut out).expect("write");
        out.truncate(out.len() - 5);
        out.extend_from_slice(records);
        out.push(END);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let group = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                out.push(group);
                return out;
            }
            out.push(group | 0x80);
        }
    }

    #[test]
    fn header_errors_name_their_offset() {
        let bytes = snapshot(&every_type(), &meta());
        let mut bad = bytes.clone();
        bad[0] = b'X';
        let err = must_fail(&bad, "bad magic");
        assert_eq!(err.to_string(), "not a snapshot (bad magic) at offset 0");

        let mut bad = bytes.clone();
        bad[8] = 2;
        let err = must_fail(&bad, "future version");
        assert_eq!(err.to_string(), "unsupported version 2 at offset 8");

        let mut bad = bytes.clone();
        bad.push(0);
        let err = must_fail(&bad, "trailing garbage");
        assert_eq!(err.offset, bytes.len() as u64);
        assert!(err.reason.contains("trailing"));

        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let err = must_fail(&bad, "bad checksum");
        assert_eq!(err.offset, bytes.len() as u64 - 4);
        assert_eq!(err.reason, "checksum mismatch");

        let mut bad = bytes;
        bad[9] = 0x80; // created_unix_ms: a varint that never ends (every byte continues)
        bad[10..21].fill(0xFF);
        let err = must_fail(&bad, "overlong varint");
        assert_eq!(err.to_string(), "varint overflows 64 bits at offset 9");
    }

    #[test]
    fn record_errors_name_the_record() {
        let header = handmade(&[]).len() as u64 - 5;
        let mut records = vec![TYPE_STRING, 1, b'k', 1, b'v'];
        let second = header + records.len() as u64;
        records.extend_from_slice(&[0x09, 1, b'k']);
        let err = must_fail(&handmade(&records), "unknown type");
        assert_eq!(err.to_string(), format!("unknown record type 0x09 at offset {second}"));

        let dup = [TYPE_STRING, 1, b'k', 1, b'v', TYPE_STRING, 1, b'k', 1, b'w'];
        let err = must_fail(&handmade(&dup), "duplicate key");
        assert_eq!((err.offset, err.reason.as_str()), (second, "duplicate key"));

        let mut nan = vec![TYPE_ZSET, 1, b'z', 1, 1, b'm'];
        nan.extend_from_slice(&f64::NAN.to_bits().to_le_bytes());
        let err = must_fail(&handmade(&nan), "NaN");
        assert_eq!(err.offset, header);

        for dup in [
            vec![TYPE_SET, 1, b's', 2, 1, b'1', 1, b'1'],
            vec![TYPE_SET, 1, b's', 2, 1, b'a', 1, b'a'],
            vec![TYPE_HASH, 1, b'h', 2, 1, b'f', 0, 1, b'f', 0],
            vec![
                TYPE_ZSET, 1, b'z', 2, 1, b'm', 0, 0, 0, 0, 0, 0, 0, 0, 1, b'm', 0, 0, 0, 0, 0, 0,
                0, 0,
            ],
        ] {
            let err = must_fail(&handmade(&dup), "duplicate element");
            assert!(err.reason.starts_with("duplicate"), "{err}");
        }
    }

    #[test]
    fn empty_aggregates_are_skipped() {
        let records = [TYPE_LIST, 1, b'l', 0, TYPE_HASH, 1, b'h', 0, TYPE_STRING, 1, b'k', 0];
        let (loaded, _) = reload(&handmade(&records), &defaults(), 0).expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.peek(b"k", 0).map(|e| e.value.clone()), Some(Value::string(b"")));
    }

    #[test]
    fn hostile_lengths_fail_without_allocating_them() {
        let huge = [1u64 << 60, 1 << 34, u64::MAX];
        for n in huge {
            let mut cases = Vec::new();
            // A key, a value, and element counts that claim far more than the input holds.
            cases.push([&[TYPE_STRING][..], &varint(n)].concat());
            cases.push([&[TYPE_STRING, 1, b'k'][..], &varint(n), b"abc"].concat());
            for t in [TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_HASH] {
                cases.push([&[t, 1, b'k'][..], &varint(n), &[1, b'a']].concat());
            }
            for records in cases {
                let started = std::time::Instant::now();
                let err = must_fail(&handmade(&records), "hostile length");
                assert!(err.reason.contains("truncated"), "{err}");
                assert!(started.elapsed() < std::time::Duration::from_secs(5));
            }
        }
        let mut aux = MAGIC.to_vec();
        aux.extend_from_slice(&[1, 0, 0, 0]);
        aux.extend_from_slice(&varint(1 << 60));
        let err = must_fail(&aux, "hostile aux count");
        assert_eq!(err.offset, 9);
        // Reserving 2^34 bytes would not fail (memory is overcommitted) but would show in the
        // process's peak virtual size: nothing near that was ever reserved.
        #[cfg(target_os = "linux")]
        {
            let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
            let peak_kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmPeak:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .expect("VmPeak");
            assert!(peak_kb < 8 << 20, "peak virtual size {peak_kb} kB");
        }
    }

    #[test]
    fn random_keyspaces_round_trip() {
        let mut x = 0x9E3779B97F4A7C15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let enc = defaults();
        for round in 0..8 {
            let mut ks = Keyspace::new();
            for k in 0..150 {
                let key = format!("k{round}:{k}").into_bytes();
                let n = (rand() % 40) as usize + 1;
                let text = |r: u64| -> Vec<u8> {
                    match r % 4 {
                        0 => (r % 1000).to_string().into_bytes(),
                        1 => vec![(r >> 8) as u8; (r % 70) as usize],
                        _ => format!("v{}", r % 500).into_bytes(),
                    }
                };
                let value = match rand() % 5 {
                    0 => Value::string(&text(rand())),
                    1 => {
                        let mut l = List::new(enc.list_max_listpack_size);
                        (0..n).for_each(|_| l.push_back(&text(rand())));
                        Value::List(Box::new(l))
                    }
                    2 => {
                        let mut s = Set::for_member(b"1");
                        (0..n).for_each(|_| {
                            s.add(&text(rand()), 16);
                        });
                        Value::Set(s)
                    }
                    3 => {
                        let mut z = ZSet::new();
                        for _ in 0..n {
                            let m = text(rand());
                            if z.score(&m).is_none() {
                                let s = (rand() % 2000) as f64 / 8.0 - 100.0;
                                z.insert(&m, s, zset::Limits { entries: 16, value: 64 });
                            }
                        }
                        Value::ZSet(z)
                    }
                    _ => {
                        let mut h = Hash::new();
                        (0..n).for_each(|_| {
                            h.set(&text(rand()), &text(rand()), hash::Limits::default());
                        });
                        Value::Hash(h)
                    }
                };
                put(&mut ks, &key, value);
                if rand() % 4 == 0 {
                    ks.set_expire(&key, rand() % 1_000_000 + 1);
                }
            }
            let bytes = snapshot(&ks, &meta());
            let enc = Encodings {
                zset: zset::Limits { entries: 16, value: 64 },
                set_max_intset_entries: 16,
                ..defaults()
            };
            let (loaded, _) = reload(&bytes, &enc, 0).expect("load");
            assert_eq!(loaded.len(), ks.len());
            assert_eq!(crate::digest::dataset(&ks), crate::digest::dataset(&loaded));
            for (key, entry) in ks.iter() {
                let other = loaded.peek(key, 0).expect("present");
                assert_eq!(entry.value.type_name(), other.value.type_name());
                assert_eq!(ks.expire_at(key), loaded.expire_at(key));
            }
        }
    }
}
