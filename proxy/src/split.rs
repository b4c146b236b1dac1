//! Multi-key commands across shards: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH are split into
//! one command per shard (each with the keys that shard owns, in their order), sent in
//! parallel, and the replies merged back in argument order: MGET's values placed where their
//! keys were, MSET's `+OK` once all said so, the counts of the others summed. An error from any
//! shard is the reply.

use bytes::{BufMut, Bytes, BytesMut};
use protocol::command::CommandSpec;
use protocol::frame::{check, Check, FrameLimits};
use protocol::{key_hash_slot, ReplyWriter};

use crate::router::Routes;

/// How a split command's replies merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value per key, in key order.
    Mget,
    /// Key/value pairs; `+OK`.
    Mset,
    /// An integer per shard, summed (DEL, UNLINK, EXISTS, TOUCH).
    Sum,
}

impl Kind {
    /// The split kind of a command, if it is one the proxy splits.
    pub fn of(spec: &CommandSpec) -> Option<Kind> {
        match spec.name {
            "mget" => Some(Kind::Mget),
            "mset" => Some(Kind::Mset),
            "del" | "unlink" | "exists" | "touch" => Some(Kind::Sum),
            _ => None,
        }
    }

    /// Arguments per key (MSET's value travels with its key).
    fn step(self) -> usize {
        if self == Kind::Mset {
            2
        } else {
            1
        }
    }
}

/// One shard's share of a split command.
#[derive(Debug)]
pub struct Part {
    /// The slot of its first key: where it is routed (all its keys are on one shard).
    pub slot: u16,
    pub cmd: Bytes,
    /// Argument indexes of its keys.
    pub keys: Vec<usize>,
    /// Its keys are in more than one slot.
    pub multi_slot: bool,
}

/// A command split over shards.
#[derive(Debug)]
pub struct Split {
    pub kind: Kind,
    pub parts: Vec<Part>,
    /// For MGET: per key, in argument order, (part, index within the part).
    order: Vec<(u32, u32)>,
}

/// Splits `args` by the shard of each key under `routes`. Keys of unowned slots are grouped by
/// slot (their part waits for a table that places them).
pub fn split(kind: Kind, args: &[Bytes], routes: &Routes, enc: &mut BytesMut) -> Split {
    let keys = (1..args.len()).step_by(kind.step());
    split_keys(
        kind,
        args,
        keys,
        |slot| routes.shard_of(slot).unwrap_or(usize::MAX - usize::from(slot)),
        enc,
    )
}

/// Splits the keys of one part by slot: for a part that a MOVED showed to span shards the
/// table had as one (each single-slot part then follows its own MOVED).
pub fn split_by_slot(kind: Kind, args: &[Bytes], part: &Part, enc: &mut BytesMut) -> Split {
    split_keys(kind, args, part.keys.iter().copied(), usize::from, enc)
}

/// Groups the keys at argument indexes `keys` by `group_of(slot)`, one part per group in
/// order of first appearance.
fn split_keys(
    kind: Kind,
    args: &[Bytes],
    keys: impl Iterator<Item = usize>,
    group_of: impl Fn(u16) -> usize,
    enc: &mut BytesMut,
) -> Split {
    let step = kind.step();
    // (group, slot of first key, argument indexes of its keys, more than one slot)
    let mut groups: Vec<(usize, u16, Vec<usize>, bool)> = Vec::new();
    let mut order = Vec::new();
    for i in keys {
        let slot = key_hash_slot(&args[i]);
        let group = group_of(slot);
        let g = match groups.iter().position(|(k, _, _, _)| *k == group) {
            Some(g) => g,
            None => {
                groups.push((group, slot, Vec::new(), false));
                groups.len() - 1
            }
        };
        if kind == Kind::Mget {
            order.push((g as u32, groups[g].2.len() as u32));
        }
        groups[g].3 |= slot != groups[g].1;
        groups[g].2.push(i);
    }
    let parts = groups
        .into_iter()
        .map(|(_, slot, keys, multi_slot)| {
            encode_header(enc, 1 + keys.len() * step);
            put_bulk(enc, &args[0]);
            for &k in &keys {
                for a in &args[k..k + step] {
                    put_bulk(enc, a);
                }
            }
            Part { slot, cmd: enc.split().freeze(), keys, multi_slot }
        })
        .collect();
    Split { kind, parts, order }
}

fn encode_header(enc: &mut BytesMut, n: usize) {
    let mut b = itoa::Buffer::new();
    enc.put_u8(b'*');
    enc.put_slice(b.format(n).as_bytes());
    enc.put_slice(b"\r\n");
}

/// Appends one bulk string.
pub fn put_bulk(enc: &mut BytesMut, arg: &[u8]) {
    let mut b = itoa::Buffer::new();
    enc.reserve(arg.len() + 16);
    enc.put_u8(b'$');
    enc.put_slice(b.format(arg.len()).as_bytes());
    enc.put_slice(b"\r\n");
    enc.put_slice(arg);
    enc.put_slice(b"\r\n");
}

/// Encodes a whole command as an array of bulk strings.
pub fn encode_command(enc: &mut BytesMut, args: &[Bytes]) -> Bytes {
    encode_into(enc, args);
    enc.split().freeze()
}

/// Appends a whole command to `enc`, as an array of bulk strings.
pub fn encode_into(enc: &mut BytesMut, args: &[impl AsRef<[u8]>]) {
    encode_header(enc, args.len());
    for a in args {
        put_bulk(enc, a.as_ref());
    }
}

fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-' | b'!'))
}

/// Merges the parts' replies (in part order) into the reply of the whole command.
pub fn merge(split: &Split, replies: &[Bytes], out: &mut ReplyWriter) {
    if let Some(err) = replies.iter().find(|r| is_error(r)) {
        out.raw(err);
        return;
    }
    match split.kind {
        Kind::Mset => out.ok(),
        Kind::Sum => {
            let mut sum = 0i64;
            for r in replies {
                match integer(r) {
                    Some(n) => sum += n,
                    None => return out.error("ERR unexpected reply from a backend"),
                }
            }
            out.integer(sum);
        }
        Kind::Mget => {
            let mut elements: Vec<Vec<&[u8]>> = Vec::with_capacity(replies.len());
            for r in replies {
                match array_elements(r) {
                    Some(e) => elements.push(e),
                    None => return out.error("ERR unexpected reply from a backend"),
                }
            }
            out.array(split.order.len());
            for &(p, j) in &split.order {
                match elements.get(p as usize).and_then(|e| e.get(j as usize)) {
                    Some(e) => out.raw(e),
                    None => out.null(),
                }
            }
        }
    }
}

/// The value of an integer reply `:n`.
pub fn integer(reply: &[u8]) -> Option<i64> {
    let body = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    protocol::number::parse_i64(body)
}

/// The encoded elements of an array reply.
pub fn array_elements(reply: &[u8]) -> Option<Vec<&[u8]>> {
    let rest = reply.strip_prefix(b"*")?;
    let nl = rest.iter().position(|&c| c == b'\r')?;
    let n = usize::try_from(protocol::number::parse_i64(&rest[..nl])?).ok()?;
    let mut at = 1 + nl + 2;
    let limits = FrameLimits::default();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match check(&reply[at..], &limits).ok()? {
            Check::Complete(len) => {
                out.push(&reply[at..at + len]);
                at += len;
            }
            Check::Incomplete { .. } => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mget_elements_go_back_in_key_order() {
        let split = Split { kind: Kind::Mget, parts: vec![], order: vec![(1, 0), (0, 0), (1, 1)] };
        let replies = [
            Bytes::from_static(b"*1\r\n$1\r\nb\r\n"),
            Bytes::from_static(b"*2\r\n$1\r\na\r\n$-1\r\n"),
        ];
        let mut out = ReplyWriter::new(false);
        merge(&split, &replies, &mut out);
        assert_eq!(out.buffer(), b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n");
    }

    #[test]
    fn counts_sum_and_errors_win() {
        let split = Split { kind: Kind::Sum, parts: vec![], order: vec![] };
        let mut out = ReplyWriter::new(false);
        merge(&split, &[Bytes::from_static(b":2\r\n"), Bytes::from_static(b":3\r\n")], &mut out);
        assert_eq!(out.buffer(), b":5\r\n");
        let mut out = ReplyWriter::new(false);
        merge(
            &split,
            &[Bytes::from_static(b":2\r\n"), Bytes::from_static(b"-ERR x\r\n")],
            &mut out,
        );
        assert_eq!(out.buffer(), b"-ERR x\r\n");
    }
}
