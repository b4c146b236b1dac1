//! [`StrBuf`], the bytes of a string value (and of a large hash's field values): short strings
//! inline, longer ones in an exactly or greedily sized heap buffer, in 24 bytes.
//!
//! Why not `Vec` or `SmallVec`: a keyspace node holds the key, the value and a chain link, and
//! the value had to drop from 32 to 24 bytes for the node to fit jemalloc's 64-byte class
//! (80 before, on every key). This type is 24 bytes whose first byte is a tag with unused
//! values, which lets [`crate::value::Value`] keep its own variant tag there and stay 24 bytes
//! too. It also carries the string's `raw` marker (Redis's `raw` encoding), so that the value
//! needs no separate flag.

use std::ops::{Deref, DerefMut};

/// Longest string kept inline.
pub const INLINE: usize = 22;

/// Bytes a string may hold past its length on the heap: growth is greedy as Redis's
/// `sdsMakeRoomFor` (double below 1 MB, then 1 MB more), which bounds the spare room by 1 MB.
const MAX_PREALLOC: usize = 1024 * 1024;

#[derive(Clone)]
enum Repr {
    /// `meta`: the length in the low 7 bits, the `raw` marker in the high bit.
    Inline { meta: u8, data: [u8; INLINE] },
    /// `buf` is the allocation; its last `spare` bytes are unused capacity.
    Heap { raw: bool, spare: u32, buf: Box<[u8]> },
}

/// A byte string of at most 24 bytes itself; see the module documentation.
#[derive(Clone)]
pub struct StrBuf(Repr);

impl Default for StrBuf {
    fn default() -> Self {
        StrBuf(Repr::Inline { meta: 0, data: [0; INLINE] })
    }
}

impl StrBuf {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_slice(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut data = [0; INLINE];
            data[..bytes.len()].copy_from_slice(bytes);
            StrBuf(Repr::Inline { meta: bytes.len() as u8, data })
        } else {
            StrBuf(Repr::Heap { raw: false, spare: 0, buf: bytes.into() })
        }
    }

    /// Takes `v`'s bytes (without copying when they need the heap).
    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.len() <= INLINE {
            Self::from_slice(&v)
        } else {
            StrBuf(Repr::Heap { raw: false, spare: 0, buf: v.into_boxed_slice() })
        }
    }

    /// The bytes as a `Vec` (without copying when they are on the heap).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { meta, data } => data[..(meta & 0x7F) as usize].to_vec(),
            Repr::Heap { spare, buf, .. } => {
                let len = buf.len() - spare as usize;
                let mut v = buf.into_vec();
                v.truncate(len);
                v
            }
        }
    }

    /// The string's `raw` marker (see [`crate::value::Value::Str`]).
    pub fn is_raw(&self) -> bool {
        match self.0 {
            Repr::Inline { meta, .. } => meta & 0x80 != 0,
            Repr::Heap { raw, .. } => raw,
        }
    }

    pub fn set_raw(&mut self, on: bool) {
        match &mut self.0 {
            Repr::Inline { meta, .. } => *meta = (*meta & 0x7F) | if on { 0x80 } else { 0 },
            Repr::Heap { raw, .. } => *raw = on,
        }
    }

    /// Builder form of [`StrBuf::set_raw`].
    pub fn with_raw(mut self, on: bool) -> Self {
        self.set_raw(on);
        self
    }

    /// True when the bytes are on the heap.
    pub fn spilled(&self) -> bool {
        matches!(self.0, Repr::Heap { .. })
    }

    /// Bytes the string can hold without reallocating.
    pub fn capacity(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => INLINE,
            Repr::Heap { buf, .. } => buf.len(),
        }
    }

    /// Sets the length to `len`, filling new bytes with `fill`, growing greedily as Redis's
    /// `sdsMakeRoomFor` does, so a string grown by repeated APPENDs costs amortized O(1).
    pub fn resize(&mut self, len: usize, fill: u8) {
        let raw = self.is_raw();
        let old = self.len();
        match &mut self.0 {
            Repr::Inline { meta, data } if len <= INLINE => {
                if len > old {
                    data[old..len].fill(fill);
                }
                *meta = (*meta & 0x80) | len as u8;
            }
            Repr::Heap { spare, buf, .. }
                if len <= buf.len() && buf.len() - len <= MAX_PREALLOC =>
            {
                if len > old {
                    let end = buf.len() - *spare as usize;
                    buf[end..len].fill(fill);
                }
                *spare = (buf.len() - len) as u32;
            }
            _ => {
                let cap = if len < MAX_PREALLOC { len * 2 } else { len + MAX_PREALLOC };
                let cap = if len < old { len } else { cap };
                let mut v = Vec::with_capacity(cap);
                v.extend_from_slice(&self[..old.min(len)]);
                v.resize(cap, 0);
                v[old.min(len)..len].fill(fill);
                self.0 = Repr::Heap { raw, spare: (cap - len) as u32, buf: v.into_boxed_slice() };
            }
        }
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let old = self.len();
        self.resize(old + bytes.len(), 0);
        self[old..].copy_from_slice(bytes);
    }

    pub fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }

    /// Gives back unused capacity.
    pub fn shrink_to_fit(&mut self) {
        if let Repr::Heap { spare, .. } = self.0 {
            if spare > 0 {
                let raw = self.is_raw();
                *self = StrBuf::from_slice(self).with_raw(raw);
            }
        }
    }
}

impl Deref for StrBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { meta, data } => &data[..(meta & 0x7F) as usize],
            Repr::Heap { spare, buf, .. } => &buf[..buf.len() - *spare as usize],
        }
    }
}

impl DerefMut for StrBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { meta, data } => &mut data[..(*meta & 0x7F) as usize],
            Repr::Heap { spare, buf, .. } => {
                let len = buf.len() - *spare as usize;
                &mut buf[..len]
            }
        }
    }
}

/// Equal when the bytes and the `raw` marker are.
impl PartialEq for StrBuf {
    fn eq(&self, other: &Self) -> bool {
        **self == **other && self.is_raw() == other.is_raw()
    }
}

impl std::fmt::Debug for StrBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_24_bytes_with_a_niche() {
        assert_eq!(std::mem::size_of::<StrBuf>(), 24);
        assert_eq!(std::mem::size_of::<Option<StrBuf>>(), 24);
    }

    #[test]
    fn grows_across_inline_and_heap_like_a_vec() {
        let mut s = StrBuf::new();
        let mut model = Vec::new();
        let mut x = 7u64;
        for step in 0..3000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            match (x >> 60) % 4 {
                0 => {
                    let b = (x >> 8) as u8;
                    s.push(b);
                    model.push(b);
                }
                1 => {
                    let n = (x >> 20) as usize % 40;
                    let bytes: Vec<u8> = (0..n as u8).collect();
                    s.extend_from_slice(&bytes);
                    model.extend_from_slice(&bytes);
                }
                2 => {
                    let n = (x >> 20) as usize % (model.len() + 30);
                    s.resize(n, 0xAB);
                    model.resize(n, 0xAB);
                }
                _ => {
                    if !model.is_empty() {
                        let i = (x >> 24) as usize % model.len();
                        s[i] = step as u8;
                        model[i] = step as u8;
                    }
                }
            }
            assert_eq!(&*s, &model[..]);
            assert!(s.capacity() >= s.len());
        }
        assert_eq!(s.clone().into_vec(), model);
        s.shrink_to_fit();
        assert_eq!(&*s, &model[..]);
        assert_eq!(StrBuf::from_vec(model.clone()).into_vec(), model);
    }

    #[test]
    fn raw_marker_survives_changes() {
        let mut s = StrBuf::from_slice(b"ab").with_raw(true);
        assert!(s.is_raw());
        s.extend_from_slice(&[b'x'; 40]);
        assert!(s.is_raw() && s.spilled());
        s.shrink_to_fit();
        assert!(s.is_raw());
        assert!(!StrBuf::from_slice(&[1; 30]).is_raw());
        assert_ne!(StrBuf::from_slice(&[1; 30]), StrBuf::from_slice(&[1; 30]).with_raw(true));
    }
}
