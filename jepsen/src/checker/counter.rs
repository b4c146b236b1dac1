//! The counter checker: INCRBY with acknowledged, failed and unknown increments, and reads.
//!
//! For a read that ran over `[start, end]`, an increment is
//! - **certainly applied** if it was acknowledged before the read began (`ok`, completed before
//!   `start`);
//! - **possibly applied** if it was invoked before the read completed and did not fail
//!   (unknown outcomes, and acks that overlap the read);
//! - not applied otherwise (failed, or invoked after the read completed).
//!
//! So the value read must lie in `[certain + every possible negative amount, certain + every
//! possible positive amount]`, starting from 0 (a missing key reads as nil = 0). An ok INCRBY's
//! reply is a read too, one that certainly includes its own increment. The final read (the one
//! invoked last) is checked the same way; its bounds are in the stats.

use std::collections::BTreeMap;

use crate::checker::{bump, check_by_key, Anomaly, AnomalyKind, CheckResult, Checker};
use crate::error::{Error, Result};
use crate::history::{Operation, Outcome, Value, F};

/// The counter checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterChecker;

impl Checker for CounterChecker {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn check(&self, ops: &[Operation]) -> Result<CheckResult> {
        check_by_key(self.name(), ops, check_key)
    }
}

/// Running sums of the positive and the negative parts of the amounts, in some order.
struct Sums {
    times: Vec<u64>,
    /// `pos[i]`, `neg[i]`: sums over the first `i` increments.
    pos: Vec<i128>,
    neg: Vec<i128>,
}

impl Sums {
    fn new(mut items: Vec<(u64, i64)>) -> Self {
        items.sort_unstable();
        let mut sums = Sums { times: Vec::new(), pos: vec![0], neg: vec![0] };
        for (time, amount) in items {
            sums.times.push(time);
            let (p, n) = (sums.pos.last().copied().unwrap(), sums.neg.last().copied().unwrap());
            sums.pos.push(p + i128::from(amount.max(0)));
            sums.neg.push(n + i128::from(amount.min(0)));
        }
        sums
    }

    /// (positive, negative) sums over the increments whose time satisfies `before`, which must
    /// be true for a prefix of the times.
    fn upto(&self, before: impl Fn(u64) -> bool) -> (i128, i128) {
        let i = self.times.partition_point(|&t| before(t));
        (self.pos[i], self.neg[i])
    }
}

fn check_key(
    key: Option<&str>,
    ops: &[&Operation],
    anomalies: &mut Vec<Anomaly>,
    stats: &mut BTreeMap<String, i64>,
) -> Result<()> {
    let bad = |op: &Operation, expected| Error::BadValue {
        checker: "counter",
        index: op.invoke_index,
        expected,
    };
    let mut certain = Vec::new();
    let mut possible = Vec::new();
    // (op, value observed, the op's own amount if it is an increment's reply)
    let mut reads: Vec<(&Operation, i64, Option<i64>)> = Vec::new();
    for &op in ops {
        match op.f {
            F::Incr => {
                let Value::Int(amount) = op.value else {
                    return Err(bad(op, "an increment's value to be an integer"));
                };
                if op.outcome == Outcome::Fail {
                    continue;
                }
                possible.push((op.start, amount));
                if op.outcome == Outcome::Ok {
                    let end = op.end.expect("ok operations have an end");
                    certain.push((end, amount));
                    match op.output {
                        Value::Int(v) => reads.push((op, v, Some(amount))),
                        Value::Null => {}
                        _ => return Err(bad(op, "an increment's result to be an integer")),
                    }
                }
            }
            F::Read if op.outcome != Outcome::Ok => {}
            F::Read => match op.output {
                Value::Int(v) => reads.push((op, v, None)),
                Value::Null => reads.push((op, 0, None)),
                _ => return Err(bad(op, "a read's result to be an integer or null")),
            },
            f => {
                return Err(Error::UnsupportedOp { checker: "counter", index: op.invoke_index, f })
            }
        }
    }
    let certain = Sums::new(certain);
    let possible = Sums::new(possible);
    let bounds = |op: &Operation, own: Option<i64>| {
        let end = op.end.expect("ok operations have an end");
        let (mut c_pos, mut c_neg) = certain.upto(|t| t < op.start);
        if let Some(amount) = own {
            c_pos += i128::from(amount.max(0));
            c_neg += i128::from(amount.min(0));
        }
        let (p_pos, p_neg) = possible.upto(|t| t <= end);
        (c_pos + p_neg, p_pos + c_neg)
    };
    let mut out_of_bounds = 0;
    for &(op, value, own) in &reads {
        let (lower, upper) = bounds(op, own);
        if !(lower..=upper).contains(&i128::from(value)) {
            out_of_bounds += 1;
            anomalies.push(
                Anomaly::new(
                    AnomalyKind::OutOfBounds,
                    key,
                    format!(
                        "{} {op} read {value}, outside [{lower}, {upper}]: the increments \
                         acknowledged before it began and those that may have been applied by \
                         the time it returned",
                        if own.is_some() { "the reply of increment" } else { "read" },
                    ),
                )
                .with_elements(vec![value])
                .with_ops(vec![op.clone()]),
            );
        }
    }
    bump(stats, "reads", reads.len());
    bump(stats, "out-of-bounds", out_of_bounds);
    let last = reads
        .iter()
        .filter(|(_, _, own)| own.is_none())
        .max_by_key(|(op, _, _)| (op.start, op.invoke_index));
    match last {
        Some(&(op, value, _)) => {
            let (lower, upper) = bounds(op, None);
            let clamp = |v: i128| v.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
            // One key's final value is what the stats show; with many keys the last wins.
            stats.insert("final-value".to_owned(), value);
            stats.insert("final-lower".to_owned(), clamp(lower));
            stats.insert("final-upper".to_owned(), clamp(upper));
        }
        None if !possible.times.is_empty() => anomalies.push(Anomaly::new(
            AnomalyKind::Inconclusive,
            key,
            format!("{} increments but no successful read", possible.times.len()),
        )),
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::test_support::Builder;
    use crate::checker::Validity;

    fn incr(b: &mut Builder, p: u64, by: i64) -> &mut Builder {
        b.done(p, F::Incr, "c", Value::Int(by), Value::Null)
    }

    fn read(b: &mut Builder, p: u64, v: i64) -> &mut Builder {
        b.done(p, F::Read, "c", Value::Null, Value::Int(v))
    }

    fn check(b: &Builder) -> CheckResult {
        CounterChecker.check(&b.operations()).unwrap()
    }

    #[test]
    fn exact_sum_is_valid() {
        let mut b = Builder::new();
        b.done(0, F::Read, "c", Value::Null, Value::Null);
        incr(&mut b, 0, 2);
        incr(&mut b, 1, 3);
        b.invoke(2, F::Incr, "c", Value::Int(100)).fail(2);
        read(&mut b, 0, 5);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!(
            (r.stats["final-value"], r.stats["final-lower"], r.stats["final-upper"]),
            (5, 5, 5)
        );
    }

    #[test]
    fn unknown_increments_widen_the_bounds() {
        for (seen, valid) in [(1, true), (11, true), (31, true), (0, false), (32, false)] {
            let mut b = Builder::new();
            incr(&mut b, 0, 1);
            b.invoke(1, F::Incr, "c", Value::Int(10)).info(1);
            b.invoke(2, F::Incr, "c", Value::Int(20)); // never completes
            read(&mut b, 0, seen);
            let r = check(&b);
            assert_eq!(r.valid == Validity::Valid, valid, "read {seen}: {:?}", r.anomalies);
        }
    }

    #[test]
    fn increment_concurrent_with_a_read_may_be_either() {
        for seen in [0, 4] {
            let mut b = Builder::new();
            b.invoke(0, F::Incr, "c", Value::Int(4));
            read(&mut b, 1, seen);
            b.ok(0, Value::Null);
            read(&mut b, 1, 4);
            assert_eq!(check(&b).valid, Validity::Valid, "read {seen}");
        }
    }

    #[test]
    fn read_out_of_bounds_is_invalid() {
        // Lost increment: the acknowledged +3 is missing from a later read.
        let mut b = Builder::new();
        incr(&mut b, 0, 2);
        incr(&mut b, 1, 3);
        read(&mut b, 0, 2);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        let a = r.anomalies_of(AnomalyKind::OutOfBounds).next().unwrap();
        assert_eq!(a.elements, vec![2]);
        assert!(a.explanation.contains("outside [5, 5]"), "{}", a.explanation);
        // Double-applied increment (e.g. a retried INCRBY): above the upper bound.
        let mut b = Builder::new();
        incr(&mut b, 0, 2);
        read(&mut b, 0, 4);
        assert_eq!(check(&b).valid, Validity::Invalid);
        // A failed increment that was applied anyway.
        let mut b = Builder::new();
        b.invoke(0, F::Incr, "c", Value::Int(7)).fail(0);
        read(&mut b, 0, 7);
        assert_eq!(check(&b).valid, Validity::Invalid);
    }

    #[test]
    fn negative_amounts() {
        let mut b = Builder::new();
        incr(&mut b, 0, 10);
        b.invoke(1, F::Incr, "c", Value::Int(-4)).info(1);
        read(&mut b, 0, 6);
        // Within bounds: each read is bounded on its own (the earlier read of 6 showing the -4
        // applied is not carried over; the register checker is the one for orders).
        read(&mut b, 0, 10);
        assert_eq!(check(&b).valid, Validity::Valid);
        let mut b = Builder::new();
        incr(&mut b, 0, 10);
        incr(&mut b, 1, -4);
        read(&mut b, 0, 10);
        assert_eq!(check(&b).valid, Validity::Invalid);
    }

    #[test]
    fn increment_replies_are_reads() {
        let mut b = Builder::new();
        b.done(0, F::Incr, "c", Value::Int(2), Value::Int(2));
        b.done(0, F::Incr, "c", Value::Int(3), Value::Int(5));
        read(&mut b, 1, 5);
        assert_eq!(check(&b).valid, Validity::Valid);
        let mut b = Builder::new();
        b.done(0, F::Incr, "c", Value::Int(2), Value::Int(2));
        b.done(0, F::Incr, "c", Value::Int(3), Value::Int(3)); // lost the first +2
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.anomalies[0].explanation.starts_with("the reply of increment"));
    }

    #[test]
    fn no_read_is_unknown() {
        let mut b = Builder::new();
        incr(&mut b, 0, 1);
        assert_eq!(check(&b).valid, Validity::Unknown);
    }

    #[test]
    fn wrong_operations_are_errors() {
        let mut b = Builder::new();
        b.done(0, F::Cas, "c", Value::Int(1), Value::Null);
        assert!(matches!(CounterChecker.check(&b.operations()), Err(Error::UnsupportedOp { .. })));
        let mut b = Builder::new();
        b.done(0, F::Read, "c", Value::Null, Value::List(vec![]));
        assert!(matches!(CounterChecker.check(&b.operations()), Err(Error::BadValue { .. })));
    }
}
