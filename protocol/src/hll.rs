//! Redis's HyperLogLog string format, bit for bit, so that GET of an HLL returns what
//! redis-server returns for the same PFADDs (and a value copied between the two servers keeps
//! working).
//!
//! # Layout
//! A 16-byte header — `HYLL`, the encoding (0 dense, 1 sparse), three zero bytes, and the
//! cached cardinality (8 bytes little endian; the top bit of the last byte set means "stale") —
//! then the 16384 registers of 6 bits:
//! - dense: the registers packed LSB first, 12288 bytes;
//! - sparse: run-length opcodes — `00xxxxxx` a run of 1..=64 zero registers, `01xxxxxx
//!   yyyyyyyy` a run of 1..=16384 zero registers, `1vvvvvxx` a run of 1..=4 registers holding
//!   the value 1..=32.
//!
//! An element hashes with MurmurHash64A (seed `0xadc83b19`): the low 14 bits pick the register,
//! the run of zero bits above them (plus one) is the value. A sparse value becomes dense when a
//! value above 32 arrives or when it would grow past `hll-sparse-max-bytes`. The estimator is
//! Ertl's ("New cardinality estimation algorithms for HyperLogLog sketches"), as Redis 7.0 uses.

/// Header bytes.
pub const HDR: usize = 16;
/// Bits of the register index.
const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
/// Bits of hash left for the zero-run count.
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const SEED: u64 = 0xadc8_3b19;
const ZERO_MAX: usize = 64;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A value that is not a well-formed sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A as Redis uses it (little-endian blocks).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element updates and the value it offers.
pub fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // A sentinel bit bounds the count at Q + 1.
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty sketch: sparse, one run of 16384 zero registers, cache valid at 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    push_xzero(&mut v, REGISTERS);
    v
}

/// Redis's `isHLLObjectOrReply` checks on the bytes of a string.
pub fn is_valid(v: &[u8]) -> bool {
    v.len() >= HDR
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

pub fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// The cached cardinality, when valid.
pub fn cached(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().expect("8 bytes")))
}

pub fn set_cache(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let lo = regs[byte] >> shift;
    let hi = regs.get(byte + 1).map_or(0, |&b| ((b as u16) << (8 - shift)) as u8);
    (lo | hi) & REGISTER_MAX
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    regs[byte] &= !(REGISTER_MAX << shift);
    regs[byte] |= v << shift;
    if let Some(next) = regs.get_mut(byte + 1) {
        let spill = 8 - shift;
        *next &= !((REGISTER_MAX as u16) >> spill) as u8;
        *next |= ((v as u16) >> spill) as u8;
    }
}

/// Raises register `i` of dense registers to `count`; true if it changed.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if dense_get(regs, i) < count {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push(0x40 | (l >> 8) as u8);
    v.push(l as u8);
}

fn val_op(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

/// One decoded sparse opcode.
#[derive(Clone, Copy)]
enum Op {
    /// A run of zero registers; `wide` for the two-byte form.
    Zero {
        len: usize,
        wide: bool,
    },
    Val {
        value: u8,
        len: usize,
    },
}

impl Op {
    fn read(b: &[u8], p: usize) -> Result<Op, Corrupt> {
        let op = b[p];
        Ok(match op & 0xc0 {
            0x00 => Op::Zero { len: (op & 0x3f) as usize + 1, wide: false },
            0x40 => {
                let lo = *b.get(p + 1).ok_or(Corrupt)?;
                Op::Zero { len: ((((op & 0x3f) as usize) << 8) | lo as usize) + 1, wide: true }
            }
            _ => Op::Val { value: ((op >> 2) & 0x1f) + 1, len: (op & 3) as usize + 1 },
        })
    }

    fn size(&self) -> usize {
        match self {
            Op::Zero { wide: true, .. } => 2,
            _ => 1,
        }
    }

    fn len(&self) -> usize {
        match *self {
            Op::Zero { len, .. } | Op::Val { len, .. } => len,
        }
    }
}

/// Calls `f(first_register, op)` for every opcode; checks they cover exactly the registers.
fn for_each_op(sparse: &[u8], mut f: impl FnMut(usize, Op)) -> Result<(), Corrupt> {
    let (mut p, mut idx) = (0, 0);
    while p < sparse.len() {
        let op = Op::read(sparse, p)?;
        if idx + op.len() > REGISTERS {
            return Err(Corrupt);
        }
        f(idx, op);
        idx += op.len();
        p += op.size();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Converts a sparse sketch to dense in place (header kept, encoding changed).
pub fn to_dense(v: &mut Vec<u8>) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&v[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    for_each_op(&v[HDR..], |first, op| {
        if let Op::Val { value, len } = op {
            for i in first..first + len {
                dense_put(regs, i, value);
            }
        }
    })?;
    *v = dense;
    Ok(())
}

/// Redis's `hllSparseSet`: raises register `index` to `count` in a sparse sketch, splitting
/// the opcode that covers it and merging equal neighbours afterwards, exactly as Redis does so
/// that the bytes match. Promotes to dense when needed. True if the register changed.
fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Find the opcode covering `index`, and the one before it.
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let op = loop {
        if p >= v.len() {
            return Err(Corrupt);
        }
        let op = Op::read(v, p)?;
        if index < first + op.len() {
            break op;
        }
        prev = Some(p);
        p += op.size();
        first += op.len();
    };
    let last = first + op.len() - 1;
    match op {
        Op::Val { value, .. } if value >= count => return Ok(false),
        Op::Val { len: 1, .. } | Op::Zero { len: 1, wide: false } => {
            v[p] = val_op(count, 1);
        }
        _ => {
            // Split into up to three opcodes: what precedes the register, the register,
            // what follows it.
            let mut seq: smallvec::SmallVec<[u8; 5]> = smallvec::SmallVec::new();
            let run = |seq: &mut smallvec::SmallVec<[u8; 5]>, len: usize| match op {
                Op::Val { value, .. } => seq.push(val_op(value, len)),
                Op::Zero { .. } if len > ZERO_MAX => {
                    let l = len - 1;
                    seq.push(0x40 | (l >> 8) as u8);
                    seq.push(l as u8);
                }
                Op::Zero { .. } => seq.push((len - 1) as u8),
            };
            if index != first {
                run(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                run(&mut seq, last - index);
            }
            let old = op.size();
            if seq.len() > old && v.len() + seq.len() - old > max_bytes {
                return promote(v, index, count);
            }
            v.splice(p..p + old, seq);
        }
    }
    // Merge adjacent equal VAL opcodes, scanning up to five opcodes from the previous one.
    let mut q = prev.unwrap_or(HDR);
    let mut scan = 5;
    while q < v.len() && scan > 0 {
        scan -= 1;
        match Op::read(v, q)? {
            Op::Zero { wide, .. } => {
                q += if wide { 2 } else { 1 };
                continue;
            }
            Op::Val { value, len } => {
                if q + 1 < v.len() {
                    if let Op::Val { value: v2, len: l2 } = Op::read(v, q + 1)? {
                        if value == v2 && len + l2 <= VAL_MAX_LEN {
                            v[q + 1] = val_op(value, len + l2);
                            v.remove(q);
                            continue;
                        }
                    }
                }
                q += 1;
            }
        }
    }
    invalidate_cache(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(v)?;
    dense_set(&mut v[HDR..], index, count);
    Ok(true)
}

/// Raises register `index` to `count` (PFADD of one element, PFMERGE of one register).
pub fn set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if v[4] == DENSE {
        Ok(dense_set(&mut v[HDR..], index, count))
    } else {
        sparse_set(v, index, count, max_bytes)
    }
}

/// Adds one element.
pub fn add(v: &mut Vec<u8>, element: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = register_of(element);
    set(v, index, count, max_bytes)
}

/// Raises `max[i]` to register `i` of sketch `v` (PFCOUNT of several keys, PFMERGE).
pub fn merge_into(max: &mut [u8], v: &[u8]) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&v[HDR..], i));
        }
        Ok(())
    } else {
        for_each_op(&v[HDR..], |first, op| {
            if let Op::Val { value, len } = op {
                for m in &mut max[first..first + len] {
                    *m = (*m).max(value);
                }
            }
        })
    }
}

/// The cardinality estimate of a sketch.
pub fn count(v: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if v[4] == DENSE {
        for i in 0..REGISTERS {
            histo[dense_get(&v[HDR..], i) as usize] += 1;
        }
    } else {
        for_each_op(&v[HDR..], |_, op| match op {
            Op::Zero { len, .. } => histo[0] += len as u32,
            Op::Val { value, len } => histo[value as usize] += len as u32,
        })?;
    }
    Ok(estimate(&histo))
}

/// The cardinality estimate of plain registers, one byte each.
pub fn count_registers(regs: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs {
        histo[r as usize] += 1;
    }
    estimate(&histo)
}

/// Ertl's improved raw estimator over the register histogram.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histo[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_redis_registers() {
        // From redis-server 7.0.15: PFADD h a → one VAL opcode for register 0x31a6>>... (the
        // bytes GET returned: 71 a6 84 4e 57 after the header).
        let mut v = new_sparse();
        assert!(add(&mut v, b"a", 3000).unwrap());
        assert_eq!(&v[HDR..], &[0x71, 0xa6, 0x84, 0x4e, 0x57]);
        assert_eq!(v[15], 0x80);
        assert!(!add(&mut v, b"a", 3000).unwrap());
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        for i in 0..2000 {
            add(&mut sparse, format!("e{i}").as_bytes(), usize::MAX).unwrap();
        }
        assert_eq!(sparse[4], SPARSE);
        let mut dense = sparse.clone();
        to_dense(&mut dense).unwrap();
        assert_eq!(count(&sparse), count(&dense));
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &sparse).unwrap();
        assert_eq!(count_registers(&max), count(&dense).unwrap());
        let n = count(&dense).unwrap();
        assert!((1900..2100).contains(&n), "{n}");
    }

    #[test]
    fn corrupt_sparse_is_reported() {
        let mut v = new_sparse();
        v.truncate(HDR + 1);
        assert_eq!(count(&v), Err(Corrupt));
        assert!(!is_valid(b"HYLL\x00short"));
        assert!(is_valid(&new_sparse()));
    }
}
