//! The snapshot format — TEMPORARY stand-in holding strings only, until the `snapshot`
//! branch (every type, checksummed) is merged. Not to land as is.

use std::io::{Read, Write};

use crate::keyspace::{Entry, Keyspace};
use crate::state::Encodings;
use crate::value::Value;

#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub created_unix_ms: u64,
    pub repl_id: String,
    pub repl_offset: u64,
    pub aux: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("{reason} at offset {offset}")]
pub struct LoadError {
    pub offset: u64,
    pub reason: String,
}

pub fn write(keyspace: &Keyspace, _meta: &Meta, w: &mut impl Write) -> std::io::Result<u64> {
    let mut n = 0;
    for (key, entry) in keyspace.iter() {
        let Ok(v) = entry.value.as_string() else {
            return Err(std::io::Error::other("stand-in snapshot holds strings only"));
        };
        let exp = keyspace.expire_at(key).map_or(0, |e| e + 1);
        w.write_all(&(key.len() as u64).to_le_bytes())?;
        w.write_all(key)?;
        w.write_all(&(v.len() as u64).to_le_bytes())?;
        w.write_all(&v)?;
        w.write_all(&exp.to_le_bytes())?;
        n += 24 + key.len() as u64 + v.len() as u64;
    }
    Ok(n)
}

pub fn load(
    r: &mut impl Read,
    keyspace: &mut Keyspace,
    _encodings: &Encodings,
    _now_ms: u64,
) -> Result<Meta, LoadError> {
    let mut all = Vec::new();
    r.read_to_end(&mut all).map_err(|e| LoadError { offset: 0, reason: e.to_string() })?;
    let mut at = 0usize;
    let bad = |at: usize| LoadError { offset: at as u64, reason: "truncated".into() };
    let u64_at = |at: usize| -> Result<u64, LoadError> {
        all.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).ok_or(bad(at))
    };
    while at < all.len() {
        let kl = u64_at(at)? as usize;
        let key = all.get(at + 8..at + 8 + kl).ok_or(bad(at))?.to_vec();
        at += 8 + kl;
        let vl = u64_at(at)? as usize;
        let v = all.get(at + 8..at + 8 + vl).ok_or(bad(at))?.to_vec();
        at += 8 + vl;
        let exp = u64_at(at)?;
        at += 8;
        keyspace.set(&key, Entry::new(Value::string(&v), 0));
        if exp > 0 {
            keyspace.set_expire(&key, exp - 1);
        }
    }
    Ok(Meta::default())
}
