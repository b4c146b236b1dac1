//! The sorted set type: unique members ordered by (score, member).
//!
//! Two encodings, as in Redis 7.0:
//! - `listpack`: member, score pairs in one [`Listpack`], sorted, while the set has at most
//!   `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes. Scores are
//!   stored as text (an integer entry when the score is integral), as Redis stores them.
//! - `skiplist`: a [`SkipList`] for order and rank plus a [`Dict`] from member to score for
//!   O(1) lookups and a ZSCAN cursor with SCAN's guarantee.
//!
//! A set converts to `skiplist` when an insertion crosses a limit and never converts back,
//! except that results built by STORE commands are created in whichever encoding fits.
//!
//! Positions ([`Pos`]) let commands walk a range without allocating: a listpack byte offset or
//! a skiplist node id, valid until the next modification.

use super::listpack::{Elem, Listpack};
use super::skiplist::SkipList;
use crate::dict::Dict;

/// The `zset-max-listpack-*` limits, read from the config by commands that may convert.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Limits {
    /// Limits that never trigger a conversion (for sets already in the skiplist encoding).
    pub const NONE: Limits = Limits { entries: usize::MAX, value: usize::MAX };

    fn fit(&self, count: usize, max_len: usize) -> bool {
        count <= self.entries && max_len <= self.value
    }
}

/// A score interval (`ZRANGEBYSCORE` bounds, `(` making an end exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// True when no score can be inside.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LexBound<'a> {
    NegInf,
    PosInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

impl LexBound<'_> {
    /// Orders bounds: `-` before every string, `+` after.
    fn cmp_bound(&self, other: &LexBound) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        fn key<'x>(b: &LexBound<'x>) -> (u8, &'x [u8]) {
            match *b {
                LexBound::NegInf => (0, &b""[..]),
                LexBound::Incl(s) | LexBound::Excl(s) => (1, s),
                LexBound::PosInf => (2, &b""[..]),
            }
        }
        let (a, b) = (key(self), key(other));
        match a.0.cmp(&b.0) {
            Equal => a.1.cmp(b.1),
            o => o,
        }
    }

    fn exclusive(&self) -> bool {
        matches!(self, LexBound::Excl(_))
    }
}

/// A lexicographic interval (ZRANGEBYLEX).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl LexRange<'_> {
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= b,
            LexBound::Excl(b) => m > b,
        }
    }

    pub fn lte_max(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= b,
            LexBound::Excl(b) => m < b,
        }
    }

    pub fn is_empty(&self) -> bool {
        match self.min.cmp_bound(&self.max) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            std::cmp::Ordering::Less => false,
        }
    }
}

/// A position in a sorted set: valid until the set is modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    /// Byte offset of a member entry in the listpack.
    Lp(usize),
    /// Skiplist node id.
    Sl(u32),
}

/// The skiplist encoding: order and ranks in the list, member → score in the dict.
struct Big {
    dict: Dict<f64>,
    list: SkipList,
}

impl Big {
    fn new() -> Self {
        Big { dict: Dict::new(), list: SkipList::new() }
    }

    /// Inserts a member that is not present.
    fn insert(&mut self, member: &[u8], score: f64) {
        self.dict.insert_absent(member, score);
        self.list.insert(score, member);
    }
}

enum Repr {
    Lp(Listpack),
    Sl(Box<Big>),
}

/// A sorted set.
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { repr: Repr::Lp(Listpack::new()) }
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        match &self.repr {
            Repr::Lp(lp) => ZSet { repr: Repr::Lp(lp.clone()) },
            Repr::Sl(big) => {
                let mut dict = Dict::new();
                for (m, s) in big.dict.iter() {
                    dict.insert(m, *s);
                }
                ZSet { repr: Repr::Sl(Box::new(Big { dict, list: big.list.clone() })) }
            }
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|((a, x), (b, y))| x == y && a.eq_elem(&b))
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .key(&self.encoding())
            .value(&"")
            .entries(
                self.iter().map(|(m, s)| (String::from_utf8_lossy(&m.to_vec()).into_owned(), s)),
            )
            .finish()
    }
}

/// Element comparison across representations.
trait ElemEq {
    fn eq_elem(&self, other: &Elem) -> bool;
}

impl ElemEq for Elem<'_> {
    fn eq_elem(&self, other: &Elem) -> bool {
        match *other {
            Elem::Str(s) => self.eq_bytes(s),
            Elem::Int(i) => self.eq_bytes(itoa::Buffer::new().format(i).as_bytes()),
        }
    }
}

/// Stack-formatted text of a score, no allocation.
pub struct ScoreText {
    buf: [u8; 40],
    len: u8,
}

impl std::ops::Deref for ScoreText {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl ScoreText {
    fn from(text: &[u8]) -> ScoreText {
        let mut buf = [0u8; 40];
        buf[..text.len()].copy_from_slice(text);
        ScoreText { buf, len: text.len() as u8 }
    }

    /// C's `%.17g` with Redis's `inf`/`-inf` (what ZSCORE and WITHSCORES reply).
    pub fn g17(d: f64) -> ScoreText {
        if d.is_infinite() {
            return ScoreText::from(if d > 0.0 { b"inf" } else { b"-inf" });
        }
        if d.is_nan() {
            return ScoreText::from(b"nan");
        }
        if d == d.trunc() && d.abs() < 1e17 {
            if d == 0.0 && d.is_sign_negative() {
                return ScoreText::from(b"-0");
            }
            return ScoreText::from(itoa::Buffer::new().format(d as i64).as_bytes());
        }
        // `{:.16e}` gives the 17 significant digits printf would, correctly rounded.
        let mut sci = [0u8; 40];
        let n = {
            use std::io::Write;
            let mut w = &mut sci[..];
            write!(w, "{:.16e}", d).expect("fits");
            40 - w.len()
        };
        let sci = &sci[..n];
        let e_at = sci.iter().position(|&c| c == b'e').expect("exponent");
        let exp: i32 = std::str::from_utf8(&sci[e_at + 1..]).expect("ascii").parse().expect("int");
        let (neg, mant) = match sci[0] {
            b'-' => (true, &sci[1..e_at]),
            _ => (false, &sci[..e_at]),
        };
        let mut digits = [0u8; 17];
        let mut nd = 0;
        for &c in mant.iter().filter(|c| c.is_ascii_digit()) {
            digits[nd] = c;
            nd += 1;
        }
        while nd > 1 && digits[nd - 1] == b'0' {
            nd -= 1;
        }
        let mut out = ScoreText { buf: [0u8; 40], len: 0 };
        let mut push = |c: u8| {
            out.buf[out.len as usize] = c;
            out.len += 1;
        };
        if neg {
            push(b'-');
        }
        if !(-4..17).contains(&exp) {
            push(digits[0]);
            if nd > 1 {
                push(b'.');
                digits[1..nd].iter().for_each(|&c| push(c));
            }
            push(b'e');
            push(if exp < 0 { b'-' } else { b'+' });
            let a = exp.unsigned_abs();
            if a >= 100 {
                push(b'0' + (a / 100) as u8);
            }
            push(b'0' + (a / 10 % 10) as u8);
            push(b'0' + (a % 10) as u8);
        } else if exp >= 0 {
            let int_digits = exp as usize + 1;
            for k in 0..int_digits {
                push(digits.get(k).copied().filter(|_| k < nd).unwrap_or(b'0'));
            }
            if nd > int_digits {
                push(b'.');
                digits[int_digits..nd].iter().for_each(|&c| push(c));
            }
        } else {
            push(b'0');
            push(b'.');
            for _ in 0..(-exp - 1) {
                push(b'0');
            }
            digits[..nd].iter().for_each(|&c| push(c));
        }
        out
    }

    /// Redis's `d2string`, the text a listpack stores: an integral score in `i64` range as an
    /// integer (so `-0` becomes `0`), anything else as `%.17g`.
    fn stored(d: f64) -> ScoreText {
        if d == d.trunc() && d.abs() < 9.2e18 {
            return ScoreText::from(itoa::Buffer::new().format(d as i64).as_bytes());
        }
        ScoreText::g17(d)
    }
}

/// The score in a listpack entry.
fn lp_score(e: Elem) -> f64 {
    match e {
        Elem::Int(i) => i as f64,
        Elem::Str(s) => std::str::from_utf8(s).ok().and_then(|t| t.parse().ok()).unwrap_or(0.0),
    }
}

/// Text of a listpack member (integers formatted into `buf`).
fn lp_member<'a>(e: Elem<'a>, buf: &'a mut itoa::Buffer) -> &'a [u8] {
    e.bytes(buf)
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set built from `items` (any order, distinct members) in the encoding Redis gives a
    /// STORE command's result: listpack when it fits the limits, else skiplist.
    pub fn from_items<'a>(
        items: impl ExactSizeIterator<Item = (&'a [u8], f64)> + Clone,
        limits: Limits,
    ) -> ZSet {
        let count = items.len();
        let max_len = items.clone().map(|(m, _)| m.len()).max().unwrap_or(0);
        if count > 0 && limits.fit(count, max_len) {
            let mut sorted: Vec<(&[u8], f64)> = items.collect();
            sorted.sort_by(|a, b| order(*a, *b));
            let mut lp = Listpack::new();
            for (m, s) in sorted {
                lp.push_back(m);
                lp.push_back(&ScoreText::stored(s));
            }
            ZSet { repr: Repr::Lp(lp) }
        } else {
            let mut big = Big::new();
            for (m, s) in items {
                big.insert(m, s);
            }
            ZSet { repr: Repr::Sl(Box::new(big)) }
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Lp(lp) => lp.len() / 2,
            Repr::Sl(big) => big.list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Lp(_) => "listpack",
            Repr::Sl(_) => "skiplist",
        }
    }

    /// True while in the listpack encoding (insertions then need the limits).
    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Lp(_))
    }

    /// Heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Lp(lp) => lp.heap_bytes(),
            Repr::Sl(big) => {
                std::mem::size_of::<Big>()
                    + big.list.heap_bytes()
                    + big.dict.overhead_bytes()
                    + big.dict.iter().map(|(m, _)| m.len()).sum::<usize>()
            }
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Lp(lp) => {
                let pos = lp.find(lp.first(), member, 1)?;
                Some(lp_score(lp.get(lp.next(pos)?)))
            }
            Repr::Sl(big) => big.dict.get(member).copied(),
        }
    }

    /// Converts to the skiplist encoding (also SORT, which converts its source as Redis does).
    pub fn convert(&mut self) {
        if let Repr::Lp(lp) = &self.repr {
            let mut big = Big::new();
            let mut buf = itoa::Buffer::new();
            let mut it = lp.iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                big.insert(lp_member(m, &mut buf), lp_score(s));
            }
            self.repr = Repr::Sl(Box::new(big));
        }
    }

    /// Inserts a member that is not present, converting first when the listpack would cross
    /// `limits`.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) {
        if let Repr::Lp(lp) = &self.repr {
            if lp.len() / 2 + 1 > limits.entries || member.len() > limits.value {
                self.convert();
            }
        }
        match &mut self.repr {
            Repr::Lp(lp) => lp_insert(lp, member, score),
            Repr::Sl(big) => big.insert(member, score),
        }
    }

    /// ZADD's step for one member, looking it up once (in the skiplist encoding the member
    /// dict is a cache miss, and ZADD is hot). `decide` gets the current score (`None` when
    /// absent) and returns the score to store, or `None` to leave the set as it is; storing
    /// the current score again changes nothing. Inserting converts first when the listpack
    /// would cross `limits`. Returns the score `decide` was given.
    pub fn upsert<E>(
        &mut self,
        member: &[u8],
        limits: Limits,
        decide: impl FnOnce(Option<f64>) -> Result<Option<f64>, E>,
    ) -> Result<Option<f64>, E> {
        let cur = match &mut self.repr {
            Repr::Lp(lp) => {
                let pos = lp.find(lp.first(), member, 1);
                let cur = pos.map(|p| lp_score(lp.get(lp.next(p).expect("a member has a score"))));
                match (pos, cur, decide(cur)?) {
                    (Some(p), Some(c), Some(new)) => {
                        if new != c {
                            lp.delete(p, 2);
                            lp_insert(lp, member, new);
                        }
                        return Ok(cur);
                    }
                    (_, _, Some(new)) => (cur, new),
                    (_, _, None) => return Ok(cur),
                }
            }
            Repr::Sl(big) => {
                let Big { dict, list } = &mut **big;
                if let Some(s) = dict.get_mut(member) {
                    let cur = *s;
                    if let Some(new) = decide(Some(cur))? {
                        if new != cur {
                            *s = new;
                            list.update_score(cur, member, new);
                        }
                    }
                    return Ok(Some(cur));
                }
                if let Some(new) = decide(None)? {
                    big.insert(member, new);
                }
                return Ok(None);
            }
        };
        // Absent from the listpack: insert, converting when it would cross the limits.
        self.insert(member, cur.1, limits);
        Ok(cur.0)
    }

    /// Changes the score of a present member from `old` to `new`.
    pub fn set_score(&mut self, member: &[u8], old: f64, new: f64) {
        match &mut self.repr {
            Repr::Lp(lp) => {
                if let Some(pos) = lp.find(lp.first(), member, 1) {
                    lp.delete(pos, 2);
                }
                lp_insert(lp, member, new);
            }
            Repr::Sl(big) => {
                if let Some(s) = big.dict.get_mut(member) {
                    *s = new;
                }
                big.list.update_score(old, member, new);
            }
        }
    }

    /// Removes `member`; its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Lp(lp) => {
                let pos = lp.find(lp.first(), member, 1)?;
                let score = lp_score(lp.get(lp.next(pos)?));
                lp.delete(pos, 2);
                Some(score)
            }
            Repr::Sl(big) => {
                let (_, score) = big.dict.remove(member)?;
                big.list.delete(score, member);
                Some(score)
            }
        }
    }

    /// 0-based rank (ascending) and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Lp(lp) => {
                let mut rank = 0;
                let mut pos = lp.first();
                while let Some(p) = pos {
                    let sp = lp.next(p)?;
                    if lp.get(p).eq_bytes(member) {
                        return Some((rank, lp_score(lp.get(sp))));
                    }
                    rank += 1;
                    pos = lp.next(sp);
                }
                None
            }
            Repr::Sl(big) => {
                let score = *big.dict.get(member)?;
                Some((big.list.rank(score, member)? - 1, score))
            }
        }
    }

    /// Position of the element at 0-based `rank`.
    pub fn at(&self, rank: usize) -> Option<Pos> {
        match &self.repr {
            Repr::Lp(lp) => lp.seek(i64::try_from(rank.checked_mul(2)?).ok()?).map(Pos::Lp),
            Repr::Sl(big) => big.list.by_rank(rank.checked_add(1)?).map(Pos::Sl),
        }
    }

    /// The position after `pos` in ascending order.
    #[inline]
    pub fn next(&self, pos: Pos) -> Option<Pos> {
        match (&self.repr, pos) {
            (Repr::Lp(lp), Pos::Lp(p)) => lp.next(lp.next(p)?).map(Pos::Lp),
            (Repr::Sl(big), Pos::Sl(id)) => big.list.next(id).map(Pos::Sl),
            _ => None,
        }
    }

    /// The position before `pos` in ascending order.
    #[inline]
    pub fn prev(&self, pos: Pos) -> Option<Pos> {
        match (&self.repr, pos) {
            (Repr::Lp(lp), Pos::Lp(p)) => lp.prev(lp.prev(p)?).map(Pos::Lp),
            (Repr::Sl(big), Pos::Sl(id)) => big.list.prev(id).map(Pos::Sl),
            _ => None,
        }
    }

    /// One step in the direction of a (possibly reversed) walk.
    #[inline]
    pub fn step(&self, pos: Pos, rev: bool) -> Option<Pos> {
        if rev {
            self.prev(pos)
        } else {
            self.next(pos)
        }
    }

    /// The member at `pos`.
    #[inline]
    pub fn member(&self, pos: Pos) -> Elem<'_> {
        match (&self.repr, pos) {
            (Repr::Lp(lp), Pos::Lp(p)) => lp.get(p),
            (Repr::Sl(big), Pos::Sl(id)) => Elem::Str(big.list.get(id).0),
            _ => Elem::Str(b""),
        }
    }

    /// The score at `pos`.
    #[inline]
    pub fn score_at(&self, pos: Pos) -> f64 {
        match (&self.repr, pos) {
            (Repr::Lp(lp), Pos::Lp(p)) => lp.next(p).map_or(0.0, |s| lp_score(lp.get(s))),
            (Repr::Sl(big), Pos::Sl(id)) => big.list.get(id).1,
            _ => 0.0,
        }
    }

    /// Visits up to `n` elements from 0-based rank `start`, walking down when `rev`. Scores
    /// are read only when `scores` (a listpack stores them as text); otherwise `visit` gets 0.
    /// One loop per encoding: range replies spend their time here.
    pub fn walk(
        &self,
        start: usize,
        n: usize,
        rev: bool,
        scores: bool,
        mut visit: impl FnMut(Elem<'_>, f64),
    ) {
        match &self.repr {
            Repr::Lp(lp) => {
                let Some(mut p) =
                    i64::try_from(start.saturating_mul(2)).ok().and_then(|i| lp.seek(i))
                else {
                    return;
                };
                for k in 0..n {
                    let Some(sp) = lp.next(p) else { return };
                    let score = if scores { lp_score(lp.get(sp)) } else { 0.0 };
                    visit(lp.get(p), score);
                    if k + 1 == n {
                        return;
                    }
                    let step = if rev { lp.prev(p).and_then(|q| lp.prev(q)) } else { lp.next(sp) };
                    match step {
                        Some(q) => p = q,
                        None => return,
                    }
                }
            }
            Repr::Sl(big) => {
                let list = &big.list;
                let Some(mut id) = list.by_rank(start.saturating_add(1)) else { return };
                for k in 0..n {
                    let (m, score) = list.get(id);
                    visit(Elem::Str(m), score);
                    if k + 1 == n {
                        return;
                    }
                    let step = if rev { list.prev(id) } else { list.next(id) };
                    match step {
                        Some(q) => id = q,
                        None => return,
                    }
                }
            }
        }
    }

    /// Every (member, score) in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (Elem<'_>, f64)> + '_ {
        let mut pos = self.at(0);
        std::iter::from_fn(move || {
            let p = pos?;
            pos = self.next(p);
            Some((self.member(p), self.score_at(p)))
        })
    }

    /// The first element for which `below` is false (`below` holds for a prefix of the
    /// order), with its 0-based rank.
    fn first_where_not(&self, below: impl Fn(&[u8], f64) -> bool) -> Option<(Pos, usize)> {
        match &self.repr {
            Repr::Lp(lp) => {
                let mut buf = itoa::Buffer::new();
                let mut rank = 0;
                let mut pos = lp.first();
                while let Some(p) = pos {
                    let sp = lp.next(p)?;
                    if !below(lp_member(lp.get(p), &mut buf), lp_score(lp.get(sp))) {
                        return Some((Pos::Lp(p), rank));
                    }
                    rank += 1;
                    pos = lp.next(sp);
                }
                None
            }
            Repr::Sl(big) => {
                big.list.first_where_not(|s, m| below(m, s)).map(|(id, r)| (Pos::Sl(id), r - 1))
            }
        }
    }

    /// The last element for which `within` holds (`within` holds for a prefix of the order),
    /// with its 0-based rank.
    fn last_where(&self, within: impl Fn(&[u8], f64) -> bool) -> Option<(Pos, usize)> {
        match &self.repr {
            Repr::Lp(lp) => {
                let mut buf = itoa::Buffer::new();
                let mut found = None;
                let mut rank = 0;
                let mut pos = lp.first();
                while let Some(p) = pos {
                    let sp = lp.next(p)?;
                    if !within(lp_member(lp.get(p), &mut buf), lp_score(lp.get(sp))) {
                        break;
                    }
                    found = Some((Pos::Lp(p), rank));
                    rank += 1;
                    pos = lp.next(sp);
                }
                found
            }
            Repr::Sl(big) => {
                big.list.last_where(|s, m| within(m, s)).map(|(id, r)| (Pos::Sl(id), r - 1))
            }
        }
    }

    /// First (lowest) element inside `range`, with its 0-based rank.
    pub fn first_in_scores(&self, range: &ScoreRange) -> Option<(Pos, usize)> {
        if range.is_empty() {
            return None;
        }
        self.first_where_not(|_, s| !range.gte_min(s))
            .filter(|&(p, _)| range.lte_max(self.score_at(p)))
    }

    /// Last (highest) element inside `range`, with its 0-based rank.
    pub fn last_in_scores(&self, range: &ScoreRange) -> Option<(Pos, usize)> {
        if range.is_empty() {
            return None;
        }
        self.last_where(|_, s| range.lte_max(s)).filter(|&(p, _)| range.gte_min(self.score_at(p)))
    }

    /// First element inside the lexicographic `range` (meaningful when all scores are equal).
    pub fn first_in_lex(&self, range: &LexRange) -> Option<(Pos, usize)> {
        if range.is_empty() {
            return None;
        }
        let mut buf = itoa::Buffer::new();
        self.first_where_not(|m, _| !range.gte_min(m))
            .filter(|&(p, _)| range.lte_max(self.member(p).bytes(&mut buf)))
    }

    /// Last element inside the lexicographic `range`.
    pub fn last_in_lex(&self, range: &LexRange) -> Option<(Pos, usize)> {
        if range.is_empty() {
            return None;
        }
        let mut buf = itoa::Buffer::new();
        self.last_where(|m, _| range.lte_max(m))
            .filter(|&(p, _)| range.gte_min(self.member(p).bytes(&mut buf)))
    }

    /// 0-based rank bounds (inclusive) of the elements inside `range`, if any.
    pub fn score_ranks(&self, range: &ScoreRange) -> Option<(usize, usize)> {
        let (_, a) = self.first_in_scores(range)?;
        let (_, b) = self.last_in_scores(range)?;
        Some((a, b))
    }

    /// 0-based rank bounds (inclusive) of the elements inside the lexicographic `range`.
    pub fn lex_ranks(&self, range: &LexRange) -> Option<(usize, usize)> {
        let (_, a) = self.first_in_lex(range)?;
        let (_, b) = self.last_in_lex(range)?;
        Some((a, b))
    }

    /// Removes the elements of 0-based ranks `start..=end` (clamped); returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let len = self.len();
        if start > end || start >= len {
            return 0;
        }
        let end = end.min(len - 1);
        let n = end - start + 1;
        match &mut self.repr {
            Repr::Lp(lp) => lp.delete_range(start * 2, n * 2),
            Repr::Sl(big) => {
                let Big { dict, list } = &mut **big;
                list.delete_rank_range(start + 1, end + 1, |m| {
                    dict.remove(m);
                });
            }
        }
        n
    }

    /// One ZSCAN step: visits some elements and returns the next cursor (0 when done). A
    /// listpack is returned whole in one call, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Elem, ScoreText)) -> u64 {
        match &self.repr {
            Repr::Lp(lp) => {
                let mut it = lp.iter();
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    let text = match s {
                        Elem::Int(i) => ScoreText::from(itoa::Buffer::new().format(i).as_bytes()),
                        Elem::Str(t) => ScoreText::from(&t[..t.len().min(40)]),
                    };
                    visit(m, text);
                }
                0
            }
            Repr::Sl(big) => {
                let mut cursor = cursor;
                let mut visited = 0usize;
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = big.dict.scan(cursor, |m, s| {
                        visited += 1;
                        visit(Elem::Str(m), ScoreText::g17(*s));
                    });
                    if cursor == 0 || budget == 0 || visited >= count {
                        return cursor;
                    }
                    budget -= 1;
                }
            }
        }
    }
}

/// The order of a sorted set, as Redis compares: by score with `<` and `==` (so -0 and 0 are
/// the same score and tie on the member, unlike `f64::total_cmp`), then by member bytes. A
/// sorted set never holds NaN.
pub fn order(a: (&[u8], f64), b: (&[u8], f64)) -> std::cmp::Ordering {
    a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(b.0))
}

fn lp_insert(lp: &mut Listpack, member: &[u8], score: f64) {
    let mut buf = itoa::Buffer::new();
    let mut pos = lp.first();
    while let Some(p) = pos {
        let sp = lp.next(p).expect("pairs");
        let s = lp_score(lp.get(sp));
        if s > score || (s == score && lp_member(lp.get(p), &mut buf) > member) {
            lp.insert_pair(p, member, &ScoreText::stored(score));
            return;
        }
        pos = lp.next(sp);
    }
    lp.insert_pair(lp.bytes(), member, &ScoreText::stored(score));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn stays_small() {
        // Kept unboxed inside a keyspace value: a pointer and a length, no more.
        assert!(std::mem::size_of::<ZSet>() <= 16);
    }

    fn g(d: f64) -> String {
        String::from_utf8(ScoreText::g17(d).to_vec()).unwrap()
    }

    #[test]
    fn scores_print_as_printf_17g() {
        for d in [
            0.1,
            1.1,
            1.5,
            -2.25,
            1e-5,
            123456789012345678.0,
            1.2345678901234567e19,
            1e20,
            1e-300,
            5e-324,
            f64::MAX,
            0.000123,
            2.71,
            -1e16,
            99999999999999999.0,
        ] {
            assert_eq!(g(d), protocol::number::format_double(d), "{d:e}");
        }
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(12.0), "12");
        let mut x = 7u64;
        for _ in 0..2000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let d = f64::from_bits(x >> 2);
            if d.is_finite() {
                assert_eq!(g(d), protocol::number::format_double(d), "{d:e}");
            }
        }
    }

    /// Model: member → score; order derived by sorting.
    fn sorted(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<_> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
        v.sort_by(|a, b| order((&a.0, a.1), (&b.0, b.1)));
        v
    }

    fn contents(zs: &ZSet) -> Vec<(Vec<u8>, f64)> {
        zs.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn randomized_against_a_model_in_both_encodings() {
        let limits = Limits { entries: 16, value: 8 };
        let mut seed = 7u64;
        let mut rnd = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for round in 0..6 {
            let mut zs = ZSet::new();
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for step in 0..1500 {
                let member = if rnd() % 50 == 0 {
                    format!("long-member-{}", rnd() % 10).into_bytes()
                } else {
                    format!("{}", rnd() % (8 + round * 10)).into_bytes()
                };
                let score = (rnd() % 7) as f64 * 0.5 - 1.0;
                match rnd() % 5 {
                    0 | 1 => match zs.score(&member) {
                        Some(old) => {
                            zs.set_score(&member, old, score);
                            model.insert(member, score);
                        }
                        None => {
                            zs.insert(&member, score, limits);
                            model.insert(member, score);
                        }
                    },
                    2 => assert_eq!(zs.remove(&member), model.remove(&member)),
                    3 if !model.is_empty() => {
                        let a = rnd() as usize % model.len();
                        let b = (a + rnd() as usize % 3).min(model.len() - 1);
                        let want = sorted(&model);
                        assert_eq!(zs.remove_ranks(a, b), b - a + 1);
                        for (m, _) in &want[a..=b] {
                            model.remove(m);
                        }
                    }
                    _ => {}
                }
                if step % 50 == 0 || zs.len() < 3 {
                    let want = sorted(&model);
                    assert_eq!(contents(&zs), want);
                    assert_eq!(zs.len(), want.len());
                    for (i, (m, s)) in want.iter().enumerate() {
                        assert_eq!(zs.rank(m), Some((i, *s)));
                        let p = zs.at(i).unwrap();
                        assert!(zs.member(p).eq_bytes(m));
                    }
                    let range = ScoreRange { min: -0.5, max: 1.0, minex: true, maxex: false };
                    let inside: Vec<usize> = want
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, s))| range.gte_min(*s) && range.lte_max(*s))
                        .map(|(i, _)| i)
                        .collect();
                    let expect = inside.first().map(|&a| (a, *inside.last().unwrap()));
                    assert_eq!(zs.score_ranks(&range), expect);
                    // Reverse walk matches.
                    let mut back = Vec::new();
                    let mut pos = zs.len().checked_sub(1).and_then(|l| zs.at(l));
                    while let Some(p) = pos {
                        back.push(zs.member(p).to_vec());
                        pos = zs.prev(p);
                    }
                    back.reverse();
                    assert_eq!(back, want.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>());
                    let mut walked = Vec::new();
                    zs.walk(0, usize::MAX, false, true, |m, s| walked.push((m.to_vec(), s)));
                    assert_eq!(walked, want);
                    if !want.is_empty() {
                        let from = want.len() / 2;
                        let mut down = Vec::new();
                        zs.walk(from, 3, true, false, |m, _| down.push(m.to_vec()));
                        let expect: Vec<Vec<u8>> =
                            want[..=from].iter().rev().take(3).map(|(m, _)| m.clone()).collect();
                        assert_eq!(down, expect);
                    }
                    let copy = zs.clone();
                    assert_eq!(copy, zs);
                }
                if zs.len() > 16 {
                    assert_eq!(zs.encoding(), "skiplist");
                }
            }
        }
    }

    #[test]
    fn lex_ranges_on_equal_scores() {
        let mut zs = ZSet::new();
        for m in ["a", "b", "c", "d", "e"] {
            zs.insert(m.as_bytes(), 0.0, Limits::NONE);
        }
        let r = LexRange { min: LexBound::Excl(b"a"), max: LexBound::Incl(b"c") };
        assert_eq!(zs.lex_ranks(&r), Some((1, 2)));
        let r = LexRange { min: LexBound::NegInf, max: LexBound::PosInf };
        assert_eq!(zs.lex_ranks(&r), Some((0, 4)));
        let r = LexRange { min: LexBound::PosInf, max: LexBound::PosInf };
        assert_eq!(zs.lex_ranks(&r), None);
        let r = LexRange { min: LexBound::Incl(b"c"), max: LexBound::Excl(b"c") };
        assert!(r.is_empty());
        let big = ZSet::from_items(
            [(&b"a"[..], 0.0), (b"b", 0.0), (b"c", 0.0)].into_iter(),
            Limits { entries: 0, value: 0 },
        );
        assert_eq!(big.encoding(), "skiplist");
        let r = LexRange { min: LexBound::Incl(b"b"), max: LexBound::PosInf };
        assert_eq!(big.lex_ranks(&r), Some((1, 2)));
    }

    #[test]
    fn listpack_stores_scores_as_redis_does() {
        let mut zs = ZSet::new();
        zs.insert(b"a", -0.0, Limits::NONE);
        zs.insert(b"b", 123456789012345678.0, Limits::NONE);
        let mut seen = Vec::new();
        zs.scan(0, 10, |m, s| seen.push((m.to_vec(), s.to_vec())));
        assert_eq!(
            seen,
            vec![(b"a".to_vec(), b"0".to_vec()), (b"b".to_vec(), b"123456789012345680".to_vec())]
        );
    }
}
