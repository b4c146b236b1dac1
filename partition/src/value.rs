//! The values stored under keys. Each data type is one variant; the string type keeps Redis's
//! three encodings visible (`int`, `embstr`, `raw`) because OBJECT ENCODING reports them and
//! clients and tests look at them.
//!
//! Commands of the string family reach a value's bytes only through [`Value::as_string`] and
//! [`Value::string_mut`], which fail with WRONGTYPE for every other type. The aggregate types
//! are boxed so that a value stays 32 bytes whatever its type; their families reach them through
//! `as_hash`/`as_hash_mut` and the like, which fail with WRONGTYPE in the same way.

use std::ops::Deref;

use crate::error::CmdError;
use crate::types::{hash::Hash, list::List, set::Set, zset::ZSet};

/// Strings up to this length created by SET report the `embstr` encoding, as in Redis.
pub const EMBSTR_MAX: usize = 44;

/// Longest text Redis tries to read as an integer for the `int` encoding: `i64::MIN` is 20 chars.
const INT_TEXT_MAX: usize = 20;

/// The bytes of a string value. Up to 22 bytes (most counters, flags, short tokens) live inside
/// the value itself: no allocation on SET and no pointer chase on GET.
pub use crate::strbuf::StrBuf;

/// A stored value. Kept at 24 bytes: the keyspace holds one per key, and with the key and the
/// chain link its node is 64 bytes (see [`crate::dict::Key`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string that is the canonical decimal text of an `i64` (Redis's `int` encoding).
    Int(i64),
    /// Any other string. Its `raw` marker ([`StrBuf::is_raw`]) is set once modified in place
    /// (APPEND, SETRANGE, SETBIT …) or built by a command that makes a raw object (BITOP,
    /// SETRANGE on a new key), which Redis reports as the `raw` encoding even for short
    /// strings.
    Str {
        data: StrBuf,
    },
    /// Small hashes, sets and sorted sets live here unboxed: their compact encodings are one
    /// pointer to an exactly sized buffer (listpack, intset) and their large encodings are
    /// boxed inside the type, so a 10-field hash costs its listpack and nothing more (Redis:
    /// a 16-byte `robj` and the listpack).
    Hash(Hash),
    List(Box<List>),
    Set(Set),
    ZSet(ZSet),
}

/// Generates the typed accessors of one aggregate variant: shared and mutable borrows that
/// fail with WRONGTYPE for any other type.
macro_rules! aggregate_accessors {
    ($variant:ident, $ty:ty, $get:ident, $get_mut:ident) => {
        #[doc = concat!("The value as a `", stringify!($ty), "`; WRONGTYPE for any other type.")]
        pub fn $get(&self) -> Result<&$ty, CmdError> {
            match self {
                Value::$variant(v) => Ok(v),
                _ => Err(CmdError::WrongType),
            }
        }

        #[doc = concat!("The value as a mutable `", stringify!($ty), "`; WRONGTYPE otherwise.")]
        pub fn $get_mut(&mut self) -> Result<&mut $ty, CmdError> {
            match self {
                Value::$variant(v) => Ok(v),
                _ => Err(CmdError::WrongType),
            }
        }
    };
}

/// The bytes of a string value: borrowed from the value, or the decimal text of an `int`
/// formatted on the stack, so reading a string never allocates.
#[derive(Debug, Clone, Copy)]
pub enum StrRef<'a> {
    Bytes(&'a [u8]),
    Int { buf: [u8; INT_TEXT_MAX], len: u8 },
}

impl StrRef<'static> {
    fn int(i: i64) -> StrRef<'static> {
        let mut b = itoa::Buffer::new();
        let text = b.format(i).as_bytes();
        let mut buf = [0u8; INT_TEXT_MAX];
        buf[..text.len()].copy_from_slice(text);
        StrRef::Int { buf, len: text.len() as u8 }
    }
}

impl Deref for StrRef<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            StrRef::Bytes(b) => b,
            StrRef::Int { buf, len } => &buf[..*len as usize],
        }
    }
}

impl Value {
    /// A string value encoded as Redis's `tryObjectEncoding` would (SET, MSET, GETSET, APPEND to
    /// a new key …): `int` when the text is an integer's canonical form, else `embstr`/`raw` by
    /// length.
    pub fn string(data: &[u8]) -> Value {
        if data.len() <= INT_TEXT_MAX {
            if let Some(i) = protocol::number::parse_i64(data) {
                return Value::Int(i);
            }
        }
        Value::Str { data: StrBuf::from_slice(data) }
    }

    /// A string built by a command that creates a plain string object without trying the `int`
    /// encoding (INCRBYFLOAT): `embstr` up to 44 bytes, else `raw`.
    pub fn plain_string(data: Vec<u8>) -> Value {
        Value::Str { data: StrBuf::from_vec(data) }
    }

    /// A string that Redis creates as a `raw` object whatever its length (BITOP's destination,
    /// SETRANGE/SETBIT/BITFIELD on a new key).
    pub fn raw_string(data: Vec<u8>) -> Value {
        Value::Str { data: StrBuf::from_vec(data).with_raw(true) }
    }

    /// The bytes of a string value; WRONGTYPE for any other type.
    pub fn as_string(&self) -> Result<StrRef<'_>, CmdError> {
        match self {
            Value::Int(i) => Ok(StrRef::int(*i)),
            Value::Str { data, .. } => Ok(StrRef::Bytes(data)),
            _ => Err(CmdError::WrongType),
        }
    }

    /// True for the string type (whatever its encoding).
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str { .. })
    }

    /// Length of a string value in bytes; WRONGTYPE for any other type.
    pub fn string_len(&self) -> Result<usize, CmdError> {
        match self {
            Value::Int(i) => Ok(int_len(*i)),
            Value::Str { data, .. } => Ok(data.len()),
            _ => Err(CmdError::WrongType),
        }
    }

    /// The bytes of a string value for modification in place, as Redis's
    /// `dbUnshareStringValue`: an `int` becomes its text, and the value reports `raw` from now
    /// on. WRONGTYPE for any other type.
    pub fn string_mut(&mut self) -> Result<&mut StrBuf, CmdError> {
        if !self.is_string() {
            return Err(CmdError::WrongType);
        }
        if let Value::Int(i) = *self {
            *self = Value::raw_string(StrRef::int(i).to_vec());
        }
        match self {
            Value::Str { data } => {
                data.set_raw(true);
                Ok(data)
            }
            _ => unreachable!("converted above"),
        }
    }

    /// The Redis type name (`TYPE`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str { .. } => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The encoding name (`OBJECT ENCODING`).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str { data } => {
                if !data.is_raw() && data.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Approximate heap bytes held by the value, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str { data, .. } if data.spilled() => data.capacity(),
            Value::Str { .. } => 0,
            Value::Hash(h) => h.heap_bytes(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::ZSet(z) => z.heap_bytes(),
        }
    }

    /// True for an aggregate with no elements left: such a key must be deleted (Redis never
    /// keeps an empty hash, list, set or sorted set).
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Int(_) | Value::Str { .. } => false,
            Value::Hash(h) => h.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }

    aggregate_accessors!(Hash, Hash, as_hash, as_hash_mut);
    aggregate_accessors!(List, List, as_list, as_list_mut);
    aggregate_accessors!(Set, Set, as_set, as_set_mut);
    aggregate_accessors!(ZSet, ZSet, as_zset, as_zset_mut);
}

/// Number of characters in the decimal text of `i`.
fn int_len(i: i64) -> usize {
    let digits = if i == 0 { 1 } else { i.unsigned_abs().ilog10() as usize + 1 };
    digits + usize::from(i < 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<crate::keyspace::Entry>(), 32);
    }

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Value::string(b"12345").encoding(), "int");
        assert_eq!(Value::string(b"-9223372036854775808").encoding(), "int");
        // Not canonical, or out of range: stored as text.
        assert_eq!(Value::string(b"012").encoding(), "embstr");
        assert_eq!(Value::string(b"+1").encoding(), "embstr");
        assert_eq!(Value::string(b"9223372036854775808").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Value::string(b"").encoding(), "embstr");
        assert_eq!(Value::plain_string(b"3".to_vec()).encoding(), "embstr");
        assert_eq!(Value::raw_string(b"ab".to_vec()).encoding(), "raw");
    }

    #[test]
    fn modifying_in_place_makes_raw() {
        let mut v = Value::string(b"-42");
        v.string_mut().unwrap().push(b'7');
        assert_eq!(v.encoding(), "raw");
        assert_eq!(&*v.as_string().unwrap(), b"-427");
        let mut v = Value::string(b"short");
        v.string_mut().unwrap();
        assert_eq!(v.encoding(), "raw");
    }

    #[test]
    fn int_text_is_formatted_without_allocation() {
        for i in [0, 7, -7, 10, 99, 100, i64::MAX, i64::MIN] {
            let v = Value::Int(i);
            assert_eq!(&*v.as_string().unwrap(), i.to_string().as_bytes());
            assert_eq!(v.string_len().unwrap(), i.to_string().len());
        }
    }
}
