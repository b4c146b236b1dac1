//! Linearizability of single-key registers (read / write / cas), by the Wing–Gong search with
//! Lowe's memo, as Porcupine does it.
//!
//! Each key is checked on its own (a register history is linearizable iff every key's is). The
//! key's operations become call and return events sorted by time; the search walks the list,
//! tries to linearize each pending call against the model, and backtracks when it meets the
//! return of an operation it has not linearized yet. A configuration — which operations are
//! linearized, plus the register's value — already explored is never explored again, so the
//! search stays polynomial on the histories real clients produce.
//!
//! What the outcomes mean to the model:
//! - `ok`: took effect once, between its invoke and its completion. An ok cas matched.
//! - `fail`: never took effect; dropped (a cas that did not match is a `fail`).
//! - `info`: may have taken effect at any time after its invoke, or never: its return is at +∞
//!   and the search succeeds once every `ok` operation is linearized. An `info` read observed
//!   nothing and is dropped.
//!
//! Shortcuts that keep the search small, each argued where it is defined and cross-checked
//! against brute force in the tests: info writes nobody observed are dropped
//! (`prune_unobserved`); an info write that is the only writer of a value an ok read returned
//! gets that read's return as its own (`bound_observed`); unobserved values are merged into
//! one (`merge_unobserved_values`); a read that fits is never backtracked over
//! (`Step::is_read`). Expect `unknown` past ~15 clients on one key: spread clients over keys.
//!
//! The register starts as nil. Equal timestamps count as concurrent (lenient: the recorder's
//! intervals already cover the real ones).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::checker::{by_key, Anomaly, AnomalyKind, CheckResult, Checker, Counts};
use crate::error::{Error, Result};
use crate::history::{Operation, Outcome, Value, F};

/// How many operations of the linearized prefix an explanation shows.
const CONTEXT_OPS: usize = 8;
/// How many operations that could not be placed an explanation shows.
const STUCK_OPS: usize = 10;

/// The register linearizability checker.
#[derive(Debug, Clone)]
pub struct RegisterChecker {
    /// The most configurations explored per key before giving up with `unknown`. Each costs a
    /// few dozen bytes of memo.
    pub max_states: u64,
}

impl Default for RegisterChecker {
    fn default() -> Self {
        RegisterChecker { max_states: 500_000 }
    }
}

impl Checker for RegisterChecker {
    fn name(&self) -> &'static str {
        "register"
    }

    fn check(&self, ops: &[Operation]) -> Result<CheckResult> {
        let mut anomalies = Vec::new();
        let mut stats = BTreeMap::new();
        let mut states = 0;
        let mut pruned = 0;
        let mut promoted = 0;
        let keys = by_key(ops);
        for (key, ops) in &keys {
            let mut reg = model_ops(ops)?;
            pruned += prune_unobserved(&mut reg);
            promoted += bound_observed(&mut reg);
            merge_unobserved_values(&mut reg);
            let search = Search::new(&reg);
            let (verdict, explored) = search.run(self.max_states);
            states += explored;
            match verdict {
                Verdict::Valid => {}
                Verdict::Unknown => anomalies.push(Anomaly::new(
                    AnomalyKind::Inconclusive,
                    *key,
                    format!(
                        "gave up after exploring {explored} configurations of {} operations \
                         (max_states = {})",
                        reg.len(),
                        self.max_states
                    ),
                )),
                Verdict::Invalid(stuck) => anomalies.push(explain(*key, &reg, &stuck)),
            }
        }
        stats.insert("keys".to_owned(), keys.len() as i64);
        stats.insert("states-explored".to_owned(), states as i64);
        stats.insert("info-ops-unobserved".to_owned(), pruned as i64);
        stats.insert("info-ops-observed".to_owned(), promoted as i64);
        Ok(CheckResult::new(self.name(), Counts::of(ops), stats, anomalies))
    }
}

/// What an operation does to the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Read(Option<i64>),
    Write(i64),
    /// `certain`: an ok cas, which must match; an info cas that does not match is simply not
    /// linearized at that point (a no-op is the same as never happening).
    Cas {
        old: Option<i64>,
        new: i64,
        certain: bool,
    },
}

impl Step {
    fn apply(self, state: Option<i64>) -> Option<Option<i64>> {
        match self {
            Step::Read(v) => (v == state).then_some(state),
            Step::Write(v) => Some(Some(v)),
            Step::Cas { old, new, .. } => (old == state).then_some(Some(new)),
        }
    }

    /// Whether this is a read. A read that fits the current configuration can be linearized
    /// next without losing any solution, so the search never backtracks to try another
    /// candidate in its place: if some linearization goes on from here with the read placed
    /// later, the read sees the same value there (nothing in between changed the register as far
    /// as it is concerned — it returns the current value), and moving it first breaks no
    /// real-time order (every operation that returned before it was invoked is already
    /// linearized, or it would not be a candidate). Without this, the reads concurrent with one
    /// value could be linearized in every one of their 2^k subsets, which is what makes
    /// read-heavy histories with many clients explode.
    fn is_read(self) -> bool {
        matches!(self, Step::Read(_))
    }

    /// The value this operation may leave in the register.
    fn writes(self) -> Option<i64> {
        match self {
            Step::Read(_) => None,
            Step::Write(v) | Step::Cas { new: v, .. } => Some(v),
        }
    }
}

struct RegOp<'a> {
    op: &'a Operation,
    step: Step,
    start: u64,
    /// `None`: +∞ (info).
    end: Option<u64>,
}

impl RegOp<'_> {
    /// Ok operations must be linearized; info ones may be left out.
    fn required(&self) -> bool {
        self.end.is_some()
    }
}

fn model_ops<'a>(ops: &[&'a Operation]) -> Result<Vec<RegOp<'a>>> {
    let bad = |op: &Operation, expected| Error::BadValue {
        checker: "register",
        index: op.invoke_index,
        expected,
    };
    let mut out = Vec::new();
    for &op in ops {
        if op.outcome == Outcome::Fail {
            continue;
        }
        let step = match op.f {
            F::Read if op.outcome == Outcome::Info => continue,
            F::Read => match op.output {
                Value::Null => Step::Read(None),
                Value::Int(v) => Step::Read(Some(v)),
                _ => return Err(bad(op, "a read's result to be an integer or null")),
            },
            F::Write => match op.value {
                Value::Int(v) => Step::Write(v),
                _ => return Err(bad(op, "a write's value to be an integer")),
            },
            F::Cas => match op.value {
                Value::Cas { old, new } => {
                    Step::Cas { old, new, certain: op.outcome == Outcome::Ok }
                }
                _ => return Err(bad(op, "a cas's value to be {old, new}")),
            },
            f => {
                return Err(Error::UnsupportedOp { checker: "register", index: op.invoke_index, f })
            }
        };
        // An ok op without an end cannot happen (pairing sets it); treat defensively as info.
        let end = match op.outcome {
            Outcome::Ok => op.end,
            _ => None,
        };
        out.push(RegOp { op, step, start: op.start, end });
    }
    Ok(out)
}

/// Drops the info writes and cas whose value nothing could have observed: no ok read returned
/// it and no cas expects it. Such an operation can always be moved to "never happened": between
/// it and the next change of the register only reads of its value (there are none) and cas
/// expecting it (none) could tell. This keeps the search from trying every subset of the many
/// timed-out writes a partition produces. Returns how many were dropped.
fn prune_unobserved(ops: &mut Vec<RegOp<'_>>) -> u64 {
    let before = ops.len();
    loop {
        let mut used: HashSet<i64> = HashSet::new();
        for op in ops.iter() {
            match op.step {
                Step::Read(Some(v)) | Step::Cas { old: Some(v), .. } => {
                    used.insert(v);
                }
                _ => {}
            }
        }
        let len = ops.len();
        ops.retain(|op| op.required() || op.step.writes().is_none_or(|v| used.contains(&v)));
        if ops.len() == len {
            return (before - ops.len()) as u64;
        }
    }
}

/// Gives an end to the info writes and cas that something certainly observed. If an info op
/// is the only one that ever writes `v` and an ok read returned `v` (or an ok cas expected it),
/// the info op took effect, and before that observer returned: it is an ordinary operation
/// ending at the earliest such return (an info cas then certainly matched). Without this every
/// observed timeout stays a candidate at every step of the search, and a partition's worth of
/// them makes the search exponential. Returns how many were bounded.
fn bound_observed(ops: &mut [RegOp<'_>]) -> u64 {
    let mut writers: HashMap<i64, usize> = HashMap::new();
    let mut observed: HashMap<i64, u64> = HashMap::new();
    for op in ops.iter() {
        if let Some(v) = op.step.writes() {
            *writers.entry(v).or_default() += 1;
        }
        let seen = match op.step {
            Step::Read(Some(v)) => Some(v),
            Step::Cas { old: Some(v), certain: true, .. } => Some(v),
            _ => None,
        };
        if let (Some(v), Some(end)) = (seen, op.end) {
            observed.entry(v).and_modify(|e| *e = (*e).min(end)).or_insert(end);
        }
    }
    let mut bounded = 0;
    for op in ops.iter_mut().filter(|op| !op.required()) {
        let Some(v) = op.step.writes() else { continue };
        let Some(&end) = observed.get(&v) else { continue };
        if writers[&v] != 1 {
            continue;
        }
        op.end = Some(end);
        if let Step::Cas { certain, .. } = &mut op.step {
            *certain = true;
        }
        bounded += 1;
    }
    bounded
}

/// A value nobody observes (no ok read returns it, no cas expects it) is, to the model, the
/// same as any other such value: no read or cas can succeed on it. Writing them all as one
/// value lets the memo see that configurations differing only in which unobserved write came
/// last are the same. The operations themselves (and so reports) keep their real values.
fn merge_unobserved_values(ops: &mut [RegOp<'_>]) {
    let mut observed: HashSet<i64> = HashSet::new();
    for op in ops.iter() {
        match op.step {
            Step::Read(Some(v)) | Step::Cas { old: Some(v), .. } => {
                observed.insert(v);
            }
            _ => {}
        }
    }
    // Any value outside what is observed will do as the representative.
    let Some(unseen) = (i64::MIN..).find(|v| !observed.contains(v)) else { return };
    for op in ops.iter_mut() {
        match &mut op.step {
            Step::Write(v) | Step::Cas { new: v, .. } if !observed.contains(v) => *v = unseen,
            _ => {}
        }
    }
}

/// Where the deepest branch of the search got stuck.
struct Stuck {
    /// The linearized prefix, in linearization order (indexes into the key's ops).
    linearized: Vec<usize>,
    state: Option<i64>,
    /// The operation whose return was reached before it could be linearized.
    blocked: usize,
    /// The calls pending at that point (each could not be linearized next), `blocked` included.
    pending: Vec<usize>,
}

enum Verdict {
    Valid,
    Invalid(Stuck),
    Unknown,
}

/// The event list of one key: node 0 is the head, node `2n + 1` the tail, the nodes between
/// are calls and returns in time order, doubly linked so that linearizing an operation lifts its
/// two events out and backtracking puts them back (dancing links).
struct Search<'o, 'a> {
    ops: &'o [RegOp<'a>],
    /// Index into `ops` of each node's operation (unused for head and tail).
    node_op: Vec<usize>,
    is_call: Vec<bool>,
    call_node: Vec<usize>,
    ret_node: Vec<usize>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl<'o, 'a> Search<'o, 'a> {
    fn new(ops: &'o [RegOp<'a>]) -> Self {
        let n = ops.len();
        // (time, returns after calls at equal times, op): equal times overlap.
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.start, 0, i));
            events.push((op.end.unwrap_or(u64::MAX), 1, i));
        }
        events.sort_unstable();
        let nodes = 2 * n + 2;
        let mut s = Search {
            ops,
            node_op: vec![usize::MAX; nodes],
            is_call: vec![false; nodes],
            call_node: vec![0; n],
            ret_node: vec![0; n],
            next: (1..=nodes).collect(),
            prev: (0..nodes).map(|i| i.wrapping_sub(1)).collect(),
        };
        for (pos, &(_, kind, i)) in events.iter().enumerate() {
            let node = pos + 1;
            s.node_op[node] = i;
            if kind == 0 {
                s.is_call[node] = true;
                s.call_node[i] = node;
            } else {
                s.ret_node[i] = node;
            }
        }
        s
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        self.prev[n] = x;
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_node[op]);
        self.unlink(self.ret_node[op]);
    }

    fn unlift(&mut self, op: usize) {
        self.relink(self.ret_node[op]);
        self.relink(self.call_node[op]);
    }

    /// Runs the search; also returns how many configurations it explored.
    fn run(mut self, max_states: u64) -> (Verdict, u64) {
        let n = self.ops.len();
        let tail = 2 * n + 1;
        let mut remaining = self.ops.iter().filter(|op| op.required()).count();
        let mut linearized = Bits::new(n);
        let mut memo: HashSet<(Option<i64>, u32, Box<[u64]>)> = HashSet::new();
        let mut stack: Vec<(usize, Option<i64>)> = Vec::new();
        let mut state: Option<i64> = None;
        let mut stuck: Option<Stuck> = None;
        let mut explored = 0u64;
        let mut entry = self.next[0];
        loop {
            if remaining == 0 {
                // Every info op left can be placed after everything else, or never.
                return (Verdict::Valid, explored);
            }
            if entry != tail && self.is_call[entry] {
                let op = self.node_op[entry];
                let mut dead_end = false;
                if let Some(new_state) = self.ops[op].step.apply(state) {
                    linearized.set(op);
                    if memo.insert((new_state, linearized.full_words(), linearized.rest())) {
                        explored += 1;
                        if explored > max_states {
                            return (Verdict::Unknown, explored - 1);
                        }
                        stack.push((op, state));
                        state = new_state;
                        self.lift(op);
                        if self.ops[op].required() {
                            remaining -= 1;
                        }
                        entry = self.next[0];
                        continue;
                    }
                    linearized.clear(op);
                    // A read that fits here but leads to a configuration already explored (and
                    // so failed): by the argument in `is_read`, this configuration fails too.
                    dead_end = self.ops[op].step.is_read();
                }
                if !dead_end {
                    entry = self.next[entry];
                    continue;
                }
            }
            // A return (or, defensively, the tail) before its call was linearized: this
            // branch cannot go on. Remember the deepest such point for the explanation.
            if stuck.as_ref().is_none_or(|s| stack.len() > s.linearized.len()) {
                let blocked = if entry == tail { usize::MAX } else { self.node_op[entry] };
                let mut pending = Vec::new();
                let mut node = self.next[0];
                while node != entry && node != tail {
                    if self.is_call[node] {
                        pending.push(self.node_op[node]);
                    }
                    node = self.next[node];
                }
                stuck = Some(Stuck {
                    linearized: stack.iter().map(|&(op, _)| op).collect(),
                    state,
                    blocked,
                    pending,
                });
            }
            // Undo the last choice and try the next candidate after it — except after a read,
            // which never needs an alternative (see `is_read`): undo further.
            loop {
                let Some((op, old_state)) = stack.pop() else {
                    let stuck = stuck.expect("recorded just above");
                    return (Verdict::Invalid(stuck), explored);
                };
                state = old_state;
                linearized.clear(op);
                self.unlift(op);
                if self.ops[op].required() {
                    remaining += 1;
                }
                if !self.ops[op].step.is_read() {
                    entry = self.next[self.call_node[op]];
                    break;
                }
            }
        }
    }
}

/// The set of linearized operations.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }

    /// The memo key is compact: operations are numbered in time order and linearized mostly
    /// in order, so the set is a run of full words, a few mixed ones, then zeros.
    fn full_words(&self) -> u32 {
        self.0.iter().take_while(|&&w| w == u64::MAX).count() as u32
    }

    fn rest(&self) -> Box<[u64]> {
        let full = self.full_words() as usize;
        let last = self.0.iter().rposition(|&w| w != 0).map_or(full, |i| i + 1).max(full);
        self.0[full..last].into()
    }
}

fn explain(key: Option<&str>, ops: &[RegOp<'_>], stuck: &Stuck) -> Anomaly {
    let show = |v: Option<i64>| v.map_or("nil".to_owned(), |v| v.to_string());
    // The search's state may be the stand-in for unobserved values: name the real one, that of
    // the last write or cas of the prefix.
    let state = stuck
        .linearized
        .iter()
        .rev()
        .find_map(|&i| match ops[i].op.value {
            Value::Int(v) if ops[i].op.f == F::Write => Some(Some(v)),
            Value::Cas { new, .. } => Some(Some(new)),
            _ => None,
        })
        .unwrap_or(stuck.state);
    let mut involved: Vec<usize> = Vec::new();
    if stuck.blocked != usize::MAX {
        involved.push(stuck.blocked);
    }
    involved.extend(stuck.pending.iter().copied().filter(|&i| i != stuck.blocked));
    let shown = involved.len().min(STUCK_OPS);
    let blocked = match stuck.blocked {
        usize::MAX => "the remaining operations".to_owned(),
        i => format!("operation {}", ops[i].op),
    };
    let explanation = format!(
        "not linearizable: the longest linearizable prefix has {} operations and leaves the \
         register at {}; then {} must take effect before it returns, but none of the {} pending \
         operations can be linearized next (the first {} are listed, the blocked one first; the \
         end of the prefix is the context)",
        stuck.linearized.len(),
        show(state),
        blocked,
        stuck.pending.len(),
        shown,
    );
    let context_from = stuck.linearized.len().saturating_sub(CONTEXT_OPS);
    Anomaly::new(AnomalyKind::NonLinearizable, key, explanation)
        .with_ops(involved[..shown].iter().map(|&i| ops[i].op.clone()).collect())
        .with_context(stuck.linearized[context_from..].iter().map(|&i| ops[i].op.clone()).collect())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::checker::test_support::Builder;
    use crate::checker::Validity;
    use crate::history::{History, Op};

    fn check(b: &Builder) -> CheckResult {
        RegisterChecker::default().check(&b.operations()).unwrap()
    }

    fn w(v: i64) -> Value {
        Value::Int(v)
    }

    fn cas(old: i64, new: i64) -> Value {
        Value::Cas { old: Some(old), new }
    }

    #[test]
    fn empty_history_is_valid() {
        assert_eq!(check(&Builder::new()).valid, Validity::Valid);
    }

    #[test]
    fn sequential_reads_writes_and_cas_are_valid() {
        let mut b = Builder::new();
        b.done(0, F::Read, "k", Value::Null, Value::Null)
            .done(0, F::Write, "k", w(1), w(1))
            .done(1, F::Read, "k", Value::Null, w(1))
            .done(1, F::Cas, "k", cas(1, 2), cas(1, 2))
            .done(0, F::Read, "k", Value::Null, w(2))
            .done(2, F::Cas, "k", Value::Cas { old: Some(7), new: 8 }, Value::Null);
        // The last cas was recorded ok although nothing ever held 7: invalid.
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.counts, Counts { ok: 6, fail: 0, info: 0 });

        let mut b = Builder::new();
        b.done(0, F::Write, "k", w(1), w(1))
            .done(1, F::Cas, "k", cas(1, 2), cas(1, 2))
            .invoke(2, F::Cas, "k", cas(1, 3))
            .fail(2)
            .done(0, F::Read, "k", Value::Null, w(2));
        assert_eq!(check(&b).valid, Validity::Valid, "a failed cas never happened");
    }

    #[test]
    fn ok_cas_that_cannot_have_matched_is_invalid() {
        let mut b = Builder::new();
        b.done(0, F::Write, "k", w(1), w(1)).done(1, F::Cas, "k", cas(2, 3), cas(2, 3));
        assert_eq!(check(&b).valid, Validity::Invalid);
        // From nil: cas with old = nil (SET NX-like) matches the initial register.
        let mut b = Builder::new();
        b.done(0, F::Cas, "k", Value::Cas { old: None, new: 5 }, Value::Null).done(
            1,
            F::Read,
            "k",
            Value::Null,
            w(5),
        );
        assert_eq!(check(&b).valid, Validity::Valid);
    }

    #[test]
    fn stale_read_is_invalid_and_explained() {
        let mut b = Builder::new();
        b.done(0, F::Write, "k", w(1), w(1)).done(1, F::Write, "k", w(2), w(2)).done(
            2,
            F::Read,
            "k",
            Value::Null,
            w(1),
        );
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        let a = &r.anomalies[0];
        assert_eq!((a.kind, a.key.as_deref()), (AnomalyKind::NonLinearizable, Some("k")));
        // The stuck read is named first; the prefix ends with write 2.
        assert_eq!((a.ops[0].f, &a.ops[0].output), (F::Read, &w(1)));
        assert_eq!(a.context.last().unwrap().value, w(2));
        assert!(a.explanation.contains("leaves the register at 2"), "{}", a.explanation);
    }

    #[test]
    fn nil_read_after_acknowledged_write_is_invalid() {
        let mut b = Builder::new();
        b.done(0, F::Write, "k", w(1), w(1)).done(1, F::Read, "k", Value::Null, Value::Null);
        assert_eq!(check(&b).valid, Validity::Invalid);
    }

    /// Two writes concurrent with three sequential reads: 1, 2, 2 is explained by w1 then w2,
    /// but 1, 2, 1 needs w1 to take effect twice. Only the search over orders can tell.
    #[test]
    fn concurrent_writes_observed_in_incompatible_orders() {
        let reads = |third: i64| {
            let mut b = Builder::new();
            b.invoke(0, F::Write, "k", w(1))
                .invoke(1, F::Write, "k", w(2))
                .done(2, F::Read, "k", Value::Null, w(1))
                .done(2, F::Read, "k", Value::Null, w(2))
                .done(2, F::Read, "k", Value::Null, w(third))
                .ok_same(1)
                .ok_same(0);
            b
        };
        assert_eq!(check(&reads(2)).valid, Validity::Valid);
        let r = check(&reads(1));
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.stats["states-explored"] > 2, "{:?}", r.stats);
        // Another process seeing the writes in the other order concurrently: also invalid.
        let mut b = Builder::new();
        b.invoke(0, F::Write, "k", w(1))
            .invoke(1, F::Write, "k", w(2))
            .ok_same(0)
            .ok_same(1)
            .done(2, F::Read, "k", Value::Null, w(1))
            .done(3, F::Read, "k", Value::Null, w(2));
        assert_eq!(check(&b).valid, Validity::Invalid);
    }

    #[test]
    fn unknown_write_observed_later_is_valid() {
        let history = |outcome: fn(&mut Builder, u64) -> &mut Builder| {
            let mut b = Builder::new();
            b.done(0, F::Write, "k", w(1), w(1)).invoke(1, F::Write, "k", w(2));
            outcome(&mut b, 1);
            // Long after the timeout, the write shows up (it was stuck in a queue).
            b.done(0, F::Read, "k", Value::Null, w(1)).done(0, F::Read, "k", Value::Null, w(2));
            b
        };
        assert_eq!(check(&history(Builder::info)).valid, Validity::Valid);
        assert_eq!(check(&history(Builder::fail)).valid, Validity::Invalid);
        // Never completed at all: the same as info.
        let mut b = Builder::new();
        b.invoke(1, F::Write, "k", w(2)).done(0, F::Read, "k", Value::Null, w(2));
        assert_eq!(check(&b).valid, Validity::Valid);
    }

    #[test]
    fn unknown_cas_may_or_may_not_apply() {
        for (seen, valid) in [(3, Validity::Valid), (1, Validity::Valid), (9, Validity::Invalid)] {
            let mut b = Builder::new();
            b.done(0, F::Write, "k", w(1), w(1)).invoke(1, F::Cas, "k", cas(1, 3)).info(1).done(
                0,
                F::Read,
                "k",
                Value::Null,
                w(seen),
            );
            assert_eq!(check(&b).valid, valid, "read {seen}");
        }
        // An info cas cannot apply when its old value was never there.
        let mut b = Builder::new();
        b.done(0, F::Write, "k", w(1), w(1)).invoke(1, F::Cas, "k", cas(5, 3)).info(1).done(
            0,
            F::Read,
            "k",
            Value::Null,
            w(3),
        );
        assert_eq!(check(&b).valid, Validity::Invalid);
    }

    #[test]
    fn info_reads_and_unobserved_info_writes_are_dropped() {
        let mut b = Builder::new();
        b.done(0, F::Write, "k", w(1), w(1));
        for p in 1..40 {
            b.invoke(p, F::Write, "k", w(100 + p as i64));
        }
        b.invoke(50, F::Read, "k", Value::Null).info(50).done(0, F::Read, "k", Value::Null, w(1));
        let r = check(&b);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.stats["info-ops-unobserved"], 39);
        assert_eq!(r.counts, Counts { ok: 2, fail: 0, info: 40 });
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut b = Builder::new();
        b.done(0, F::Write, "a", w(1), w(1))
            .done(1, F::Write, "b", w(1), w(1))
            .done(0, F::Write, "a", w(2), w(2))
            .done(1, F::Read, "b", Value::Null, w(1))
            .done(2, F::Read, "a", Value::Null, w(1));
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].key.as_deref(), Some("a"));
        assert_eq!(r.stats["keys"], 2);
    }

    #[test]
    fn state_limit_gives_unknown_not_a_verdict() {
        let mut b = Builder::new();
        b.invoke(0, F::Write, "k", w(1))
            .invoke(1, F::Write, "k", w(2))
            .done(2, F::Read, "k", Value::Null, w(1))
            .done(2, F::Read, "k", Value::Null, w(2))
            .done(2, F::Read, "k", Value::Null, w(1))
            .ok_same(1)
            .ok_same(0);
        let r = RegisterChecker { max_states: 2 }.check(&b.operations()).unwrap();
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.anomalies[0].kind, AnomalyKind::Inconclusive);
    }

    #[test]
    fn malformed_operations_are_errors() {
        let mut b = Builder::new();
        b.done(0, F::Add, "k", w(1), w(1));
        let err = RegisterChecker::default().check(&b.operations()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedOp { f: F::Add, .. }), "{err}");
        let mut b = Builder::new();
        b.done(0, F::Write, "k", Value::List(vec![1]), Value::Null);
        let err = RegisterChecker::default().check(&b.operations()).unwrap_err();
        assert!(matches!(err, Error::BadValue { .. }), "{err}");
    }

    /// A register history from a simulation: `processes` clients, each op taking effect at a
    /// random point of its interval (info ops: maybe never, maybe after their timeout).
    /// Written values are unique. Valid by construction.
    fn generate(seed: u64, n: usize, processes: u64, info_rate: f64) -> History {
        struct Gen {
            process: u64,
            f: F,
            start: u64,
            effect: Option<u64>,
            end: u64,
            info: bool,
            value: Value,
            output: Value,
            failed: bool,
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut free = vec![0u64; processes as usize];
        let mut gen = Vec::with_capacity(n);
        for _ in 0..n {
            let p = (0..processes as usize).min_by_key(|&p| free[p]).unwrap();
            let start = free[p] + rng.random_range(1..20);
            let effect = start + rng.random_range(0..50);
            let end = effect + rng.random_range(1..50);
            free[p] = end;
            let info = rng.random_bool(info_rate);
            let effect = match info {
                false => Some(effect),
                true if rng.random_bool(0.5) => None,
                true => Some(effect + rng.random_range(0..300)),
            };
            let f = match rng.random_range(0..10) {
                0..5 => F::Read,
                5..8 => F::Write,
                _ => F::Cas,
            };
            gen.push(Gen {
                process: p as u64,
                f,
                start,
                effect,
                end,
                info,
                value: Value::Null,
                output: Value::Null,
                failed: false,
            });
        }
        // Apply the effects in time order to find every value.
        let mut order: Vec<usize> = (0..n).filter(|&i| gen[i].effect.is_some()).collect();
        order.sort_by_key(|&i| gen[i].effect);
        let mut state: Option<i64> = None;
        let mut next_value = 1;
        let mut written = vec![];
        for i in order {
            let g = &mut gen[i];
            match g.f {
                F::Read => g.output = state.map_or(Value::Null, Value::Int),
                F::Write => {
                    g.value = Value::Int(next_value);
                    state = Some(next_value);
                    written.push(next_value);
                    next_value += 1;
                }
                _ => {
                    let old = if rng.random_bool(0.7) || written.is_empty() {
                        state
                    } else {
                        Some(written[rng.random_range(0..written.len())])
                    };
                    g.value = Value::Cas { old, new: next_value };
                    if old == state {
                        state = Some(next_value);
                    } else {
                        g.failed = true;
                    }
                    next_value += 1;
                }
            }
        }
        for g in gen.iter_mut().filter(|g| g.effect.is_none()) {
            // Never applied: any value will do, unique ones for writes.
            g.value = match g.f {
                F::Read => Value::Null,
                F::Write => Value::Int(next_value),
                _ => Value::Cas { old: Some(next_value + 1), new: next_value },
            };
            next_value += 2;
        }
        let mut events: Vec<(u64, bool, usize)> = Vec::new();
        for (i, g) in gen.iter().enumerate() {
            events.push((g.start, false, i));
            events.push((g.end, true, i));
        }
        events.sort();
        let mut recorder = crate::history::Recorder::new(
            crate::history::HistoryWriter::new(std::io::sink()),
            std::time::Instant::now(),
        );
        let mut invokes: Vec<Option<Op>> = vec![None; n];
        for (time, done, i) in events {
            let g = &gen[i];
            let op = if !done {
                Op::invoke(g.process, g.f, Some("r"), g.value.clone())
            } else {
                let invoke = invokes[i].take().unwrap();
                match () {
                    () if g.info => invoke.info("timeout"),
                    () if g.failed => invoke.fail("cas mismatch"),
                    () if g.f == F::Read => invoke.ok(g.output.clone()),
                    () => invoke.ok(g.value.clone()),
                }
            };
            let op = recorder.record_at(op, time).unwrap();
            if !done {
                invokes[i] = Some(op);
            }
        }
        recorder.finish().unwrap().0
    }

    #[test]
    fn generated_history_of_5000_ops_on_one_key_is_valid() {
        let history = generate(7, 5000, 5, 0.02);
        let ops = history.operations().unwrap();
        assert_eq!(ops.len(), 5000);
        let r = RegisterChecker::default().check(&ops).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert!(r.counts.info > 0 && r.counts.fail > 0, "{:?}", r.counts);
    }

    #[test]
    fn generated_history_with_an_injected_stale_read_is_invalid() {
        let mut history = generate(11, 5000, 5, 0.02);
        let ops = history.operations().unwrap();
        let ok_write = |o: &&Operation| o.f == F::Write && o.outcome == Outcome::Ok;
        let w1 = ops.iter().find(ok_write).unwrap();
        let w2 = ops.iter().filter(ok_write).find(|o| o.start > w1.end.unwrap()).unwrap();
        let read = ops[2500..]
            .iter()
            .find(|o| o.f == F::Read && o.outcome == Outcome::Ok && o.start > w2.end.unwrap())
            .unwrap();
        // The read returns the first value ever written, long overwritten.
        let at = read.complete_index.unwrap() as usize;
        history.ops[at].value = w1.value.clone();
        let r = RegisterChecker::default().check_history(&history).unwrap();
        assert_eq!(r.valid, Validity::Invalid, "{:?}", r.stats);
        let a = &r.anomalies[0];
        assert!(a.ops.iter().any(|o| o.invoke_index == read.invoke_index), "{}", a.explanation);
    }

    /// 10 clients on one key, 10% timeouts (many later observed). Beyond ~15 clients on one
    /// key the search can hit the default state limit (→ unknown): spread clients over keys.
    #[test]
    fn generated_history_with_many_clients_and_timeouts_is_valid() {
        for seed in 0..3 {
            let history = generate(seed, 2000, 10, 0.1);
            let r = RegisterChecker::default().check_history(&history).unwrap();
            assert_eq!(r.valid, Validity::Valid, "seed {seed}: {:?}", r.anomalies);
        }
    }

    /// Linearizable by brute force: some order of all ok ops and any subset of the info ops
    /// that respects real time and the register.
    fn brute_force(ops: &[Operation]) -> bool {
        let ops: Vec<&Operation> = ops
            .iter()
            .filter(|o| o.outcome != Outcome::Fail)
            .filter(|o| !(o.f == F::Read && o.outcome == Outcome::Info))
            .collect();
        fn go(ops: &[&Operation], used: &mut Vec<bool>, state: Option<i64>) -> bool {
            let required_left =
                ops.iter().zip(used.iter()).any(|(o, &u)| !u && o.outcome == Outcome::Ok);
            if !required_left {
                return true;
            }
            for i in 0..ops.len() {
                if used[i] {
                    continue;
                }
                let blocked = ops
                    .iter()
                    .zip(used.iter())
                    .any(|(x, &u)| !u && x.completed_before(ops[i].start));
                if blocked {
                    continue;
                }
                let o = ops[i];
                let next = match (&o.f, &o.value, &o.output) {
                    (F::Read, _, Value::Int(v)) => (state == Some(*v)).then_some(state),
                    (F::Read, _, _) => state.is_none().then_some(state),
                    (F::Write, Value::Int(v), _) => Some(Some(*v)),
                    (F::Cas, Value::Cas { old, new }, _) => (state == *old).then_some(Some(*new)),
                    _ => unreachable!(),
                };
                if let Some(next) = next {
                    used[i] = true;
                    if go(ops, used, next) {
                        return true;
                    }
                    used[i] = false;
                }
            }
            false
        }
        go(&ops, &mut vec![false; ops.len()], None)
    }

    /// The search with all its shortcuts agrees with brute force on thousands of small random
    /// histories (few values, so values repeat; every outcome).
    #[test]
    fn search_agrees_with_brute_force() {
        let mut rng = StdRng::seed_from_u64(42);
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..3000 {
            let mut b = Builder::new();
            let mut open = [false; 3];
            let value = |rng: &mut StdRng| rng.random_range(1..=3);
            for _ in 0..rng.random_range(4..14) {
                let p = rng.random_range(0..3);
                if open[p] {
                    open[p] = false;
                    match rng.random_range(0..10) {
                        0 => b.fail(p as u64),
                        1 | 2 => b.info(p as u64),
                        _ if b.is_read(p as u64) => {
                            let v = rng.random_range(0..=3);
                            b.ok(p as u64, if v == 0 { Value::Null } else { Value::Int(v) })
                        }
                        _ => b.ok_same(p as u64),
                    };
                } else {
                    open[p] = true;
                    let v = match rng.random_range(0..3) {
                        0 => (F::Read, Value::Null),
                        1 => (F::Write, Value::Int(value(&mut rng))),
                        _ => {
                            let old = rng.random_range(0..=3);
                            let old = (old > 0).then_some(old);
                            (F::Cas, Value::Cas { old, new: value(&mut rng) })
                        }
                    };
                    b.invoke(p as u64, v.0, "k", v.1);
                }
            }
            let ops = b.operations();
            let expected = brute_force(&ops);
            let got = RegisterChecker::default().check(&ops).unwrap().valid;
            assert_eq!(got == Validity::Valid, expected, "{:#?}", b.history());
            assert_ne!(got, Validity::Unknown);
            if expected {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(valid > 300 && invalid > 300, "{valid} valid, {invalid} invalid");
    }
}
