//! Read-only aggregates over keys in several slots, computed in the proxy: SINTER, SUNION,
//! SDIFF, SINTERCARD, ZUNION, ZINTER, ZDIFF, ZINTERCARD and PFCOUNT of several keys. (When
//! the keys share a slot the command goes to its shard as any other; only a command that
//! would be `-CROSSSLOT` comes here.)
//!
//! Each distinct key's contents are fetched from its shard in parallel over the client's own
//! shared connections (so the fetches see the client's earlier writes): `SMEMBERS` for the
//! set commands, `ZRANGE key 0 -1 WITHSCORES` for the sorted-set ones (a key that turns out to
//! be a set is fetched again with `SMEMBERS`: Redis takes sets there too, scored 1), `GET` of
//! the HyperLogLog string for PFCOUNT, whose registers are merged with [`protocol::hll`]. Then
//! the result is computed as Redis 7.0's `t_set.c`, `t_zset.c` and `hyperloglog.c` do — the
//! same argument checks and texts in the same order, WRONGTYPE when a key holds another type
//! (the backend's own reply), sorted-set results ordered by score then member, scores
//! formatted as Redis does, RESP3 shapes (sets as `~`, WITHSCORES as pairs).
//!
//! Not atomic: each key is read at a slightly different moment, so a concurrent write may be
//! seen for one key and not another. The bytes fetched for one command are capped
//! (`--aggregate-max-bytes`); beyond it the client gets an error and the rest is dropped.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use protocol::command::CommandSpec;
use protocol::frame::{check, Check, FrameLimits};
use protocol::number::{parse_f64, parse_i64};
use protocol::{hll, key_hash_slot, ReplyWriter};

use crate::forward::{self, Attempt, Req};
use crate::metrics::ErrorKind;
use crate::server::Shared;
use crate::split;

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sinter,
    Sunion,
    Sdiff,
    Sintercard,
    Zunion,
    Zinter,
    Zdiff,
    Zintercard,
    Pfcount,
}

impl Kind {
    /// The aggregate a command is, if the proxy can compute it across slots.
    pub fn of(spec: &CommandSpec) -> Option<Kind> {
        Some(match spec.name {
            "sinter" => Kind::Sinter,
            "sunion" => Kind::Sunion,
            "sdiff" => Kind::Sdiff,
            "sintercard" => Kind::Sintercard,
            "zunion" => Kind::Zunion,
            "zinter" => Kind::Zinter,
            "zdiff" => Kind::Zdiff,
            "zintercard" => Kind::Zintercard,
            "pfcount" => Kind::Pfcount,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Sinter => "sinter",
            Kind::Sunion => "sunion",
            Kind::Sdiff => "sdiff",
            Kind::Sintercard => "sintercard",
            Kind::Zunion => "zunion",
            Kind::Zinter => "zinter",
            Kind::Zdiff => "zdiff",
            Kind::Zintercard => "zintercard",
            Kind::Pfcount => "pfcount",
        }
    }

    fn sorted_sets(self) -> bool {
        matches!(self, Kind::Zunion | Kind::Zinter | Kind::Zdiff | Kind::Zintercard)
    }

    /// The command that fetches one key's contents.
    fn fetch_command(self, key: &[u8]) -> Vec<&[u8]> {
        match self {
            Kind::Pfcount => vec![b"GET", key],
            k if k.sorted_sets() => vec![b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
            _ => vec![b"SMEMBERS", key],
        }
    }
}

/// ZUNION/ZINTER's AGGREGATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// A parsed aggregate command.
#[derive(Debug)]
struct Request {
    kind: Kind,
    /// Argument indexes of the keys, in order (a key named twice counts twice, as in Redis).
    keys: Vec<usize>,
    /// Per key (sorted-set commands).
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// SINTERCARD/ZINTERCARD's LIMIT; 0: none.
    limit: u64,
    /// An error in the options that Redis only reports once every key's type has been
    /// checked (the sorted-set commands parse their options after looking the keys up).
    late_error: Option<String>,
}

const SYNTAX: &str = "ERR syntax error";

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis's `getPositiveLongFromObjectOrReply` with `LIMIT can't be negative`.
fn parse_limit(arg: &[u8]) -> Result<u64, String> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err("ERR LIMIT can't be negative".into()),
    }
}

/// Checks `args` as Redis does before (and, for `late_error`, after) looking the keys up.
fn parse(kind: Kind, args: &[Bytes]) -> Result<Request, String> {
    let mut r = Request {
        kind,
        keys: Vec::new(),
        weights: Vec::new(),
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
        late_error: None,
    };
    match kind {
        Kind::Sinter | Kind::Sunion | Kind::Sdiff | Kind::Pfcount => {
            r.keys = (1..args.len()).collect();
        }
        Kind::Sintercard => {
            // t_set.c, sinterCardCommand: numkeys, then LIMIT, then the keys' types.
            let numkeys = parse_i64(&args[1])
                .filter(|&n| n >= 1)
                .ok_or("ERR numkeys should be greater than 0")?;
            if numkeys > (args.len() - 2) as i64 {
                return Err("ERR Number of keys can't be greater than number of args".into());
            }
            let first = 2 + numkeys as usize;
            r.keys = (2..first).collect();
            let mut j = first;
            while j < args.len() {
                if is(&args[j], "limit") && j + 1 < args.len() {
                    r.limit = parse_limit(&args[j + 1])?;
                    j += 2;
                } else {
                    return Err(SYNTAX.into());
                }
            }
        }
        Kind::Zunion | Kind::Zinter | Kind::Zdiff | Kind::Zintercard => {
            // t_zset.c, zunionInterDiffGenericCommand: numkeys, the keys' types, then options.
            let numkeys =
                parse_i64(&args[1]).ok_or("ERR value is not an integer or out of range")?;
            if numkeys < 1 {
                return Err(format!(
                    "ERR at least 1 input key is needed for '{}' command",
                    kind.name()
                ));
            }
            if numkeys > (args.len() - 2) as i64 {
                return Err(SYNTAX.into());
            }
            let n = numkeys as usize;
            r.keys = (2..2 + n).collect();
            r.weights = vec![1.0; n];
            r.late_error = zset_options(&mut r, &args[2 + n..]).err();
        }
    }
    Ok(r)
}

/// WEIGHTS, AGGREGATE, WITHSCORES, LIMIT as `zunionInterDiffGenericCommand` takes them.
fn zset_options(r: &mut Request, opts: &[Bytes]) -> Result<(), String> {
    let card = r.kind == Kind::Zintercard;
    let weighted = !card && r.kind != Kind::Zdiff;
    let n = r.keys.len();
    let mut j = 0;
    while j < opts.len() {
        let left = opts.len() - j;
        if weighted && left > n && is(&opts[j], "weights") {
            for (i, w) in opts[j + 1..=j + n].iter().enumerate() {
                r.weights[i] = parse_f64(w).ok_or("ERR weight value is not a float")?;
            }
            j += 1 + n;
        } else if weighted && left >= 2 && is(&opts[j], "aggregate") {
            let a = &opts[j + 1];
            r.aggregate = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX.into());
            };
            j += 2;
        } else if !card && is(&opts[j], "withscores") {
            r.withscores = true;
            j += 1;
        } else if card && left >= 2 && is(&opts[j], "limit") {
            r.limit = parse_limit(&opts[j + 1])?;
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    Ok(())
}

/// One distinct key's fetch.
struct Fetch {
    key: Bytes,
    req: Req,
    attempt: Attempt,
}

/// An aggregate whose fetches were sent; [`finish`] computes its reply.
pub struct Gather {
    request: Request,
    fetches: Vec<Fetch>,
    /// Per key of the request, the index of its fetch.
    fetch_of: Vec<usize>,
}

/// Checks the command and sends a fetch for each distinct key (on the client's connections:
/// protocol `resp3`, client id `client`). An error reply's text when the arguments are wrong.
pub async fn start(
    shared: &Shared,
    kind: Kind,
    args: &[Bytes],
    resp3: bool,
    client: u64,
    enc: &mut BytesMut,
) -> Result<Gather, String> {
    let request = parse(kind, args).inspect_err(|_| shared.metrics.error(ErrorKind::Other))?;
    let mut fetches: Vec<Fetch> = Vec::new();
    let mut fetch_of = Vec::with_capacity(request.keys.len());
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for &i in &request.keys {
        let key = &args[i];
        if let Some(&f) = seen.get(&key[..]) {
            fetch_of.push(f);
            continue;
        }
        split::encode_into(enc, &kind.fetch_command(key));
        let req = Req {
            cmd: enc.split().freeze(),
            slot: Some(key_hash_slot(key)),
            readonly: true,
            resp3,
            client,
        };
        let attempt = forward::send(shared, &req).await;
        seen.insert(key, fetches.len());
        fetch_of.push(fetches.len());
        fetches.push(Fetch { key: key.clone(), req, attempt });
    }
    Ok(Gather { request, fetches, fetch_of })
}

fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-' | b'!'))
}

/// Waits for the fetches (following redirections as any read), computes the reply into
/// `out`.
pub async fn finish(shared: &Shared, g: Gather, out: &mut ReplyWriter) {
    let cap = shared.config.aggregate_max_bytes;
    let kind = g.request.kind;
    let mut total = 0usize;
    // Per fetch: its reply, and whether a sorted-set command found a plain set there.
    let mut replies: Vec<(Bytes, bool)> = Vec::with_capacity(g.fetches.len());
    for Fetch { key, req, attempt } in g.fetches {
        let mut reply = forward::complete(shared, &req, attempt).await;
        let mut plain_set = false;
        if kind.sorted_sets() && reply.starts_with(b"-WRONGTYPE") {
            // ZUNION & co. take sets too: try it as one.
            let mut enc = BytesMut::new();
            split::encode_into(&mut enc, &[&b"SMEMBERS"[..], &key]);
            let again = Req { cmd: enc.freeze(), ..req };
            reply = forward::complete(shared, &again, forward::send(shared, &again).await).await;
            plain_set = true;
        }
        total = total.saturating_add(reply.len());
        if total > cap {
            shared.metrics.error(ErrorKind::Other);
            return out.error(&format!(
                "ERR the keys of '{}' hold more than {cap} bytes, more than the proxy gathers \
                 for one command across slots (--aggregate-max-bytes)",
                kind.name()
            ));
        }
        replies.push((reply, plain_set));
    }
    if kind == Kind::Pfcount {
        return pfcount(&g.fetch_of, &replies, out);
    }
    // The first error in key order is the reply (WRONGTYPE, or a backend out of reach).
    for &f in &g.fetch_of {
        if is_error(&replies[f].0) {
            return out.raw(&replies[f].0);
        }
    }
    if let Some(text) = &g.request.late_error {
        return out.error(text);
    }
    if kind.sorted_sets() {
        let mut sources = Vec::with_capacity(replies.len());
        for (reply, plain_set) in &replies {
            match scored(reply, *plain_set) {
                Some(s) => sources.push(s),
                None => return out.error("ERR unexpected reply from a backend"),
            }
        }
        zset_result(&g.request, &g.fetch_of, &sources, out);
    } else {
        let mut sets = Vec::with_capacity(replies.len());
        for (reply, _) in &replies {
            match elements(reply).and_then(|e| e.into_iter().map(bulk_body).collect()) {
                Some(members) => sets.push(members),
                None => return out.error("ERR unexpected reply from a backend"),
            }
        }
        set_result(&g.request, &g.fetch_of, &sets, out);
    }
}

/// SINTER, SUNION, SDIFF, SINTERCARD (`t_set.c`) over each key's members.
fn set_result(r: &Request, fetch_of: &[usize], sets: &[Vec<&[u8]>], out: &mut ReplyWriter) {
    let of = |k: usize| &sets[fetch_of[k]];
    let n = fetch_of.len();
    match r.kind {
        Kind::Sinter | Kind::Sintercard => {
            // Walk the smallest set, look the others up (as Redis does; the order of a set's
            // members is unspecified anyway).
            let smallest = (0..n).min_by_key(|&k| of(k).len()).unwrap_or(0);
            let others: Vec<HashSet<&[u8]>> = (0..n)
                .filter(|&k| fetch_of[k] != fetch_of[smallest])
                .map(|k| of(k).iter().copied().collect())
                .collect();
            let limit = if r.kind == Kind::Sintercard && r.limit > 0 { r.limit } else { u64::MAX };
            let mut found = Vec::new();
            for &m in of(smallest) {
                if found.len() as u64 >= limit {
                    break;
                }
                if others.iter().all(|s| s.contains(m)) {
                    found.push(m);
                }
            }
            if r.kind == Kind::Sintercard {
                out.integer(found.len() as i64);
            } else {
                put_set(out, &found);
            }
        }
        Kind::Sunion => {
            let mut seen = HashSet::new();
            let mut all = Vec::new();
            for k in 0..n {
                for &m in of(k) {
                    if seen.insert(m) {
                        all.push(m);
                    }
                }
            }
            put_set(out, &all);
        }
        _ => {
            let removed: HashSet<&[u8]> = (1..n).flat_map(|k| of(k).iter().copied()).collect();
            let left: Vec<&[u8]> = of(0).iter().copied().filter(|m| !removed.contains(m)).collect();
            put_set(out, &left);
        }
    }
}

fn put_set(out: &mut ReplyWriter, members: &[&[u8]]) {
    out.set(members.len());
    for m in members {
        out.bulk(m);
    }
}

/// Redis's `zunionInterAggregate`: SUM turns +inf + -inf (NaN) into 0.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value
            }
        }
    }
}

/// A weighted score, NaN (0 × inf) as 0, as Redis computes it.
fn weighted(weight: f64, score: f64) -> f64 {
    let s = weight * score;
    if s.is_nan() {
        0.0
    } else {
        s
    }
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD (`t_zset.c`) over each key's (member, score) pairs.
fn zset_result(
    r: &Request,
    fetch_of: &[usize],
    sources: &[Vec<(&[u8], f64)>],
    out: &mut ReplyWriter,
) {
    // (the key's source, its weight), sorted by size, smallest first, for union and
    // intersection as Redis sorts them (the order of a floating-point SUM follows it).
    let mut order: Vec<(usize, f64)> =
        fetch_of.iter().copied().zip(r.weights.iter().copied()).collect();
    if r.kind != Kind::Zdiff {
        order.sort_by_key(|&(s, _)| sources[s].len());
    }
    let mut result: Vec<(&[u8], f64)> = Vec::new();
    match r.kind {
        Kind::Zunion => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            for &(s, w) in &order {
                for &(m, score) in &sources[s] {
                    let score = weighted(w, score);
                    acc.entry(m).and_modify(|t| aggregate(t, score, r.aggregate)).or_insert(score);
                }
            }
            result.extend(acc);
        }
        Kind::Zinter | Kind::Zintercard => {
            let (first, w0) = order[0];
            // (source, weight, member → score) of every key but the first.
            type Lookup<'a> = (usize, f64, HashMap<&'a [u8], f64>);
            let lookups: Vec<Lookup> = order[1..]
                .iter()
                .map(|&(s, w)| (s, w, sources[s].iter().copied().collect()))
                .collect();
            let limit = if r.kind == Kind::Zintercard && r.limit > 0 { r.limit } else { u64::MAX };
            'members: for &(m, score) in &sources[first] {
                if result.len() as u64 >= limit {
                    break;
                }
                let mut total = weighted(w0, score);
                for (s, w, map) in &lookups {
                    // The same key again: Redis reads the score it is iterating.
                    let value = if *s == first { Some(score) } else { map.get(m).copied() };
                    match value {
                        Some(v) => aggregate(&mut total, v * w, r.aggregate),
                        None => continue 'members,
                    }
                }
                result.push((m, total));
            }
            if r.kind == Kind::Zintercard {
                return out.integer(result.len() as i64);
            }
        }
        _ => {
            let removed: HashSet<&[u8]> =
                order[1..].iter().flat_map(|&(s, _)| sources[s].iter().map(|&(m, _)| m)).collect();
            result.extend(sources[order[0].0].iter().filter(|(m, _)| !removed.contains(m)));
        }
    }
    result.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal).then(a.0.cmp(b.0)));
    let resp3 = out.resp3();
    out.array(if r.withscores && !resp3 { result.len() * 2 } else { result.len() });
    for (m, score) in result {
        if r.withscores && resp3 {
            out.array(2);
        }
        out.bulk(m);
        if r.withscores {
            out.double(score);
        }
    }
}

/// PFCOUNT of several keys: the estimate of their union (`hyperloglog.c`, pfcountCommand).
fn pfcount(fetch_of: &[usize], replies: &[(Bytes, bool)], out: &mut ReplyWriter) {
    let mut max = vec![0u8; hll::REGISTERS];
    for &f in fetch_of {
        let reply = &replies[f].0;
        if matches!(&reply[..], b"$-1\r\n" | b"_\r\n") {
            continue;
        }
        // Checked key by key, as Redis does: the first bad key's error is the reply.
        if is_error(reply) {
            return out.raw(reply);
        }
        let Some(v) = bulk_body(reply) else {
            return out.error("ERR unexpected reply from a backend");
        };
        if !hll::is_valid(v) {
            return out.error("WRONGTYPE Key is not a valid HyperLogLog string value.");
        }
        if hll::merge_into(&mut max, v).is_err() {
            return out.error("INVALIDOBJ Corrupted HLL object detected");
        }
    }
    out.integer(hll::count_registers(&max) as i64);
}

/// The encoded elements of an array or set reply (`*n`, `~n`).
fn elements(reply: &[u8]) -> Option<Vec<&[u8]>> {
    if !matches!(reply.first(), Some(b'*' | b'~')) {
        return None;
    }
    let nl = reply.iter().position(|&c| c == b'\r')?;
    let n = usize::try_from(parse_i64(&reply[1..nl])?).ok()?;
    let mut at = nl + 2;
    let limits = FrameLimits::default();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match check(reply.get(at..)?, &limits).ok()? {
            Check::Complete(len) => {
                out.push(&reply[at..at + len]);
                at += len;
            }
            Check::Incomplete { .. } => return None,
        }
    }
    Some(out)
}

/// The payload of a bulk string `$len\r\n…\r\n`.
fn bulk_body(el: &[u8]) -> Option<&[u8]> {
    if el.first() != Some(&b'$') {
        return None;
    }
    let nl = el.iter().position(|&c| c == b'\r')?;
    let len = usize::try_from(parse_i64(&el[1..nl])?).ok()?;
    el.get(nl + 2..nl + 2 + len)
}

/// A score: a bulk string (RESP2) or a double (RESP3).
fn score_of(el: &[u8]) -> Option<f64> {
    match el.first() {
        Some(b',') => parse_f64(el[1..].strip_suffix(b"\r\n")?),
        _ => parse_f64(bulk_body(el)?),
    }
}

/// A key's (member, score) pairs from `ZRANGE … WITHSCORES` (flat in RESP2, pairs in RESP3),
/// or from `SMEMBERS` when the key is a plain set (`plain_set`, every score 1).
fn scored(reply: &[u8], plain_set: bool) -> Option<Vec<(&[u8], f64)>> {
    let els = elements(reply)?;
    if plain_set {
        return els.into_iter().map(|e| Some((bulk_body(e)?, 1.0))).collect();
    }
    if els.first().is_some_and(|e| e.first() == Some(&b'*')) {
        els.into_iter()
            .map(|pair| match elements(pair)?.as_slice() {
                [m, s] => Some((bulk_body(m)?, score_of(s)?)),
                _ => None,
            })
            .collect()
    } else {
        els.chunks(2)
            .map(|pair| match pair {
                [m, s] => Some((bulk_body(m)?, score_of(s)?)),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn arguments_are_checked_as_redis_checks_them() {
        let p = |a: &[&str]| {
            let a = args(a);
            let kind = Kind::of(protocol::command::lookup(&a[0]).unwrap()).unwrap();
            parse(kind, &a).map(|r| (r.keys, r.limit, r.late_error))
        };
        assert_eq!(p(&["sinter", "a", "b"]), Ok((vec![1, 2], 0, None)));
        assert_eq!(p(&["sintercard", "2", "a", "b", "LIMIT", "3"]), Ok((vec![2, 3], 3, None)));
        assert_eq!(
            p(&["sintercard", "0", "a"]).unwrap_err(),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(
            p(&["sintercard", "3", "a"]).unwrap_err(),
            "ERR Number of keys can't be greater than number of args"
        );
        assert_eq!(
            p(&["sintercard", "1", "a", "limit", "-1"]).unwrap_err(),
            "ERR LIMIT can't be negative"
        );
        assert_eq!(p(&["sintercard", "1", "a", "foo"]).unwrap_err(), SYNTAX);
        assert_eq!(
            p(&["zunion", "0", "a"]).unwrap_err(),
            "ERR at least 1 input key is needed for 'zunion' command"
        );
        assert_eq!(
            p(&["zunion", "x", "a"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(p(&["zunion", "3", "a"]).unwrap_err(), SYNTAX);
        // Option errors come after the keys' types are checked.
        assert_eq!(
            p(&["zunion", "1", "a", "weights", "x"]),
            Ok((vec![2], 0, Some("ERR weight value is not a float".into())))
        );
        assert_eq!(p(&["zdiff", "1", "a", "weights", "1"]), Ok((vec![2], 0, Some(SYNTAX.into()))));
        assert_eq!(
            p(&["zintercard", "1", "a", "withscores"]),
            Ok((vec![2], 0, Some(SYNTAX.into())))
        );
        assert_eq!(p(&["zintercard", "2", "a", "b", "limit", "5"]), Ok((vec![2, 3], 5, None)));
    }

    #[test]
    fn scores_parse_in_both_protocols() {
        let resp2 = b"*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nb\r\n$3\r\ninf\r\n";
        assert_eq!(
            scored(resp2, false).unwrap(),
            vec![(&b"a"[..], 1.5), (&b"b"[..], f64::INFINITY)]
        );
        let resp3 = b"*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,-inf\r\n";
        assert_eq!(
            scored(resp3, false).unwrap(),
            vec![(&b"a"[..], 1.5), (&b"b"[..], f64::NEG_INFINITY)]
        );
        assert_eq!(scored(b"~1\r\n$1\r\nx\r\n", true).unwrap(), vec![(&b"x"[..], 1.0)]);
        assert_eq!(scored(b"*0\r\n", false).unwrap(), vec![]);
    }

    #[test]
    fn sums_of_opposite_infinities_are_zero() {
        let mut t = f64::INFINITY;
        aggregate(&mut t, f64::NEG_INFINITY, Aggregate::Sum);
        assert_eq!(t, 0.0);
        assert_eq!(weighted(0.0, f64::INFINITY), 0.0);
        let mut t = 2.0;
        aggregate(&mut t, 1.0, Aggregate::Min);
        assert_eq!(t, 1.0);
        aggregate(&mut t, 3.0, Aggregate::Max);
        assert_eq!(t, 3.0);
    }
}
