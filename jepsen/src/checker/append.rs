//! The list-append checker: RPUSH of unique values and LRANGE reads, single-key, in the style
//! of Elle's list-append reasoning.
//!
//! A list only grows at its end, so every read of a key must be a prefix of one order: the
//! longest read's. Per key:
//! - **incompatible**: a read that is not a prefix of the longest read (values reordered, or a
//!   different history of appends);
//! - **duplicate**: a value twice in one read;
//! - **phantom**: a read value never appended to that key; **failed-applied**: a read value
//!   whose appends all failed;
//! - **lost**: a value acknowledged (or already read) before the final read — the ok read
//!   invoked last — began, missing from it;
//! - **stale read**: a read missing a value acknowledged (or read) before it began that the
//!   final read does have (so it was not lost, the read just did not see it).
//!
//! Appends with an unknown outcome (info) may be present or absent.

use std::collections::{BTreeMap, HashSet};

use crate::checker::elements::{Elements, Workload};
use crate::checker::{bump, check_by_key, Anomaly, AnomalyKind, CheckResult, Checker};
use crate::error::Result;
use crate::history::{Operation, F};

/// The list-append workload: RPUSH writes values, LRANGE reads them.
const APPEND: Workload = Workload {
    checker: "append",
    write: F::Append,
    write_value: "an append's value to be an integer",
    nil_read_is_empty: true,
    elements: "values",
    writes: "appends",
    holds: "has",
    never_written: "were never appended",
    failed_with_reads: false,
};

/// The list-append checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppendChecker;

impl Checker for AppendChecker {
    fn name(&self) -> &'static str {
        "append"
    }

    fn check(&self, ops: &[Operation]) -> Result<CheckResult> {
        check_by_key(self.name(), ops, check_key)
    }
}

fn check_key(
    key: Option<&str>,
    ops: &[&Operation],
    anomalies: &mut Vec<Anomaly>,
    stats: &mut BTreeMap<String, i64>,
) -> Result<()> {
    let elements = Elements::collect(ops, &APPEND)?;
    let (appends, reads) = (&elements.writes, &elements.reads);
    bump(stats, "appends", appends.len());
    bump(stats, "reads", reads.len());
    let duplicated = elements.check_reads(key, &APPEND, anomalies, stats);
    if duplicated > 0 {
        bump(stats, "duplicated", duplicated);
    }

    // Every read must be a prefix of the longest one.
    let Some(&(longest, order)) =
        reads.iter().max_by_key(|(op, values)| (values.len(), std::cmp::Reverse(op.invoke_index)))
    else {
        if !appends.is_empty() {
            anomalies.push(Anomaly::new(
                AnomalyKind::Inconclusive,
                key,
                format!("{} appends but no successful read", appends.len()),
            ));
        }
        return Ok(());
    };
    let mut incompatible = 0;
    for &(read, values) in reads {
        if values != &order[..values.len()] {
            incompatible += 1;
            let at = values.iter().zip(order).position(|(a, b)| a != b).unwrap_or(0);
            anomalies.push(
                Anomaly::new(
                    AnomalyKind::Incompatible,
                    key,
                    format!(
                        "read {read} is not a prefix of the longest read {longest}: they differ \
                         at position {at} ({} vs {})",
                        values[at], order[at]
                    ),
                )
                .with_elements(vec![values[at], order[at]])
                .with_ops(vec![read.clone(), longest.clone()]),
            );
        }
    }
    bump(stats, "incompatible-reads", incompatible);

    let visible = elements.visible();
    let last = elements.final_read().expect("reads not empty");
    let in_final: HashSet<i64> = last.1.iter().copied().collect();
    let mut stale = 0;
    for &(read, values) in reads {
        if read.invoke_index == last.0.invoke_index {
            continue;
        }
        let have: HashSet<i64> = values.iter().copied().collect();
        let mut missed: Vec<i64> = visible
            .before(read.start)
            .filter(|v| !have.contains(v) && in_final.contains(v))
            .collect();
        if missed.is_empty() {
            continue;
        }
        stale += 1;
        missed.sort_unstable();
        let context = elements.writes_of(&missed);
        anomalies.push(
            Anomaly::new(
                AnomalyKind::StaleRead,
                key,
                format!(
                    "read {read} misses {} values acknowledged or read before it began",
                    missed.len()
                ),
            )
            .with_elements(missed)
            .with_ops(vec![read.clone()])
            .with_context(context),
        );
    }
    bump(stats, "stale-reads", stale);
    elements.check_lost(key, &APPEND, last, &visible, anomalies, stats);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::test_support::Builder;
    use crate::checker::Validity;
    use crate::error::Error;
    use crate::history::Value;

    fn append(b: &mut Builder, p: u64, v: i64) -> &mut Builder {
        b.done(p, F::Append, "l", Value::Int(v), Value::Int(v))
    }

    fn read<'a>(b: &'a mut Builder, p: u64, vs: &[i64]) -> &'a mut Builder {
        b.done(p, F::Read, "l", Value::Null, Value::List(vs.to_vec()))
    }

    fn check(b: &Builder) -> CheckResult {
        AppendChecker.check(&b.operations()).unwrap()
    }

    fn kinds(r: &CheckResult) -> Vec<AnomalyKind> {
        r.anomalies.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn growing_prefixes_are_valid() {
        let mut b = Builder::new();
        b.done(0, F::Read, "l", Value::Null, Value::Null);
        append(&mut b, 0, 1);
        read(&mut b, 1, &[1]);
        append(&mut b, 1, 2);
        b.invoke(2, F::Append, "l", Value::Int(3)).info(2);
        b.invoke(3, F::Append, "l", Value::Int(4)).fail(3);
        read(&mut b, 0, &[1, 2]);
        b.invoke(0, F::Append, "l", Value::Int(5));
        read(&mut b, 1, &[1, 2, 5]); // concurrent with its append: fine
        b.ok_same(0);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!((r.stats["appends"], r.stats["reads"], r.stats["lost"]), (5, 4, 0));
    }

    #[test]
    fn lost_append_is_invalid() {
        let mut b = Builder::new();
        append(&mut b, 0, 1);
        append(&mut b, 1, 2);
        append(&mut b, 0, 3);
        read(&mut b, 2, &[1, 3]);
        let r = check(&b);
        // 3 after 1 skipping the acknowledged 2: lost (the only read is the final one).
        assert_eq!(kinds(&r), vec![AnomalyKind::Lost]);
        assert_eq!(r.anomalies[0].elements, vec![2]);
    }

    #[test]
    fn value_read_then_gone_is_lost_and_incompatible() {
        let mut b = Builder::new();
        b.invoke(0, F::Append, "l", Value::Int(1)).info(0);
        read(&mut b, 1, &[1]);
        append(&mut b, 0, 2);
        read(&mut b, 1, &[2]);
        let r = check(&b);
        let mut k = kinds(&r);
        k.sort();
        assert_eq!(k, vec![AnomalyKind::Lost, AnomalyKind::Incompatible]);
        assert_eq!(r.anomalies_of(AnomalyKind::Lost).next().unwrap().elements, vec![1]);
    }

    #[test]
    fn reordered_append_is_incompatible() {
        let mut b = Builder::new();
        append(&mut b, 0, 1);
        append(&mut b, 0, 2);
        b.invoke(2, F::Append, "l", Value::Int(3)).info(2);
        read(&mut b, 1, &[1, 2]);
        read(&mut b, 1, &[2, 1, 3]);
        let r = check(&b);
        assert_eq!(kinds(&r), vec![AnomalyKind::Incompatible]);
        let a = &r.anomalies[0];
        assert_eq!(a.elements, vec![1, 2]);
        assert_eq!(a.ops.len(), 2);
        assert_eq!(a.ops[1].output, Value::List(vec![2, 1, 3]));
    }

    #[test]
    fn duplicated_value_is_invalid() {
        let mut b = Builder::new();
        append(&mut b, 0, 1);
        append(&mut b, 0, 2);
        read(&mut b, 1, &[1, 2, 2]);
        let r = check(&b);
        assert_eq!(kinds(&r), vec![AnomalyKind::Duplicate]);
        assert_eq!(r.anomalies[0].elements, vec![2]);
    }

    #[test]
    fn phantom_and_failed_values_are_invalid() {
        let mut b = Builder::new();
        append(&mut b, 0, 1);
        b.invoke(1, F::Append, "l", Value::Int(2)).fail(1);
        read(&mut b, 1, &[1, 2, 42]);
        let r = check(&b);
        assert_eq!(r.anomalies_of(AnomalyKind::Phantom).next().unwrap().elements, vec![42]);
        assert_eq!(r.anomalies_of(AnomalyKind::FailedApplied).next().unwrap().elements, vec![2]);
    }

    #[test]
    fn read_missing_an_earlier_acknowledged_append_is_stale() {
        let mut b = Builder::new();
        append(&mut b, 0, 1);
        append(&mut b, 0, 2);
        read(&mut b, 1, &[1]); // began after 2 was acknowledged
        read(&mut b, 1, &[1, 2]);
        let r = check(&b);
        assert_eq!(kinds(&r), vec![AnomalyKind::StaleRead]);
        let a = &r.anomalies[0];
        assert_eq!(a.elements, vec![2]);
        assert_eq!(a.ops[0].output, Value::List(vec![1]));
        assert_eq!(a.context[0].value, Value::Int(2));
        // A read missing a value another read already returned is stale too.
        let mut b = Builder::new();
        b.invoke(0, F::Append, "l", Value::Int(1));
        read(&mut b, 1, &[1]);
        read(&mut b, 2, &[]);
        b.ok_same(0);
        read(&mut b, 1, &[1]);
        assert_eq!(kinds(&check(&b)), vec![AnomalyKind::StaleRead]);
    }

    #[test]
    fn no_read_is_unknown() {
        let mut b = Builder::new();
        append(&mut b, 0, 1);
        assert_eq!(check(&b).valid, Validity::Unknown);
    }

    #[test]
    fn wrong_operations_are_errors() {
        let mut b = Builder::new();
        b.done(0, F::Incr, "l", Value::Int(1), Value::Int(1));
        assert!(matches!(AppendChecker.check(&b.operations()), Err(Error::UnsupportedOp { .. })));
    }
}
