//! The set checker: SADD of unique elements, then reads (SMEMBERS) after the cluster healed.
//!
//! Per key, the *final read* is the ok read invoked last. An element is
//! - **lost** if it was acknowledged (its add completed ok) or already seen by a read that
//!   completed before the final read began, and the final read lacks it;
//! - **phantom** if some read has it but no add of it was ever invoked on that key;
//! - **failed-applied** if some read has it but every add of it failed (certainly not applied);
//! - a **duplicate** if one read lists it twice (a set has no duplicates).
//!
//! Adds with an unknown outcome (info) may be present or absent; they are counted both ways.
//! A key with adds and no ok read cannot be judged: the result is unknown.

use std::collections::{BTreeMap, HashSet};

use crate::checker::elements::{Elements, Workload};
use crate::checker::{bump, check_by_key, Anomaly, AnomalyKind, CheckResult, Checker};
use crate::error::Result;
use crate::history::{Operation, Outcome, F};

/// The set workload: SADD writes elements, SMEMBERS reads them.
const SET: Workload = Workload {
    checker: "set",
    write: F::Add,
    write_value: "an add's value to be an integer",
    nil_read_is_empty: false,
    elements: "elements",
    writes: "adds",
    holds: "lists",
    never_written: "no add ever wrote",
    failed_with_reads: true,
};

/// The set checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetChecker;

impl Checker for SetChecker {
    fn name(&self) -> &'static str {
        "set"
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
    let elements = Elements::collect(ops, &SET)?;
    let adds = &elements.writes;
    bump(stats, "attempted", adds.len());
    bump(stats, "acknowledged", adds.keys().filter(|&&e| elements.acknowledged(e)).count());
    elements.check_reads(key, &SET, anomalies, stats);

    let Some(last) = elements.final_read() else {
        if !adds.is_empty() {
            anomalies.push(Anomaly::new(
                AnomalyKind::Inconclusive,
                key,
                format!(
                    "{} adds but no successful read: nothing to check them against",
                    adds.len()
                ),
            ));
        }
        return Ok(());
    };
    let present: HashSet<i64> = last.1.iter().copied().collect();
    let unknown: Vec<i64> = adds
        .iter()
        .filter(|(&e, a)| !elements.acknowledged(e) && a.iter().any(|o| o.outcome == Outcome::Info))
        .map(|(&e, _)| e)
        .collect();
    bump(stats, "unknown", unknown.len());
    bump(stats, "unknown-present", unknown.iter().filter(|e| present.contains(e)).count());
    elements.check_lost(key, &SET, last, &elements.visible(), anomalies, stats);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::test_support::Builder;
    use crate::checker::{Counts, Validity};
    use crate::error::Error;
    use crate::history::Value;

    fn add(b: &mut Builder, p: u64, e: i64) -> &mut Builder {
        b.done(p, F::Add, "s", Value::Int(e), Value::Int(e))
    }

    fn read<'a>(b: &'a mut Builder, p: u64, es: &[i64]) -> &'a mut Builder {
        b.done(p, F::Read, "s", Value::Null, Value::List(es.to_vec()))
    }

    fn check(b: &Builder) -> CheckResult {
        SetChecker.check(&b.operations()).unwrap()
    }

    #[test]
    fn all_acknowledged_present_is_valid() {
        let mut b = Builder::new();
        add(&mut b, 0, 1);
        add(&mut b, 1, 2);
        b.invoke(2, F::Add, "s", Value::Int(3)).fail(2);
        read(&mut b, 0, &[2, 1]);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!((r.stats["attempted"], r.stats["acknowledged"], r.stats["lost"]), (3, 2, 0));
        assert_eq!(r.counts, Counts { ok: 3, fail: 1, info: 0 });
    }

    #[test]
    fn lost_acknowledged_add_is_invalid() {
        let mut b = Builder::new();
        add(&mut b, 0, 1);
        add(&mut b, 1, 2);
        add(&mut b, 0, 3);
        read(&mut b, 2, &[1, 3]);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        let lost: Vec<_> = r.anomalies_of(AnomalyKind::Lost).collect();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].elements, vec![2]);
        assert!(lost[0].ops.iter().any(|o| o.value == Value::Int(2)));
        assert_eq!(r.stats["lost"], 1);
    }

    #[test]
    fn element_read_earlier_then_gone_is_lost() {
        let mut b = Builder::new();
        b.invoke(0, F::Add, "s", Value::Int(5)).info(0);
        read(&mut b, 1, &[5]);
        read(&mut b, 1, &[]);
        let r = check(&b);
        assert_eq!(r.anomalies_of(AnomalyKind::Lost).next().unwrap().elements, vec![5]);
    }

    #[test]
    fn unknown_adds_may_be_either() {
        let mut b = Builder::new();
        b.invoke(0, F::Add, "s", Value::Int(1)).info(0);
        b.invoke(1, F::Add, "s", Value::Int(2)).info(1);
        b.invoke(3, F::Add, "s", Value::Int(4)); // never completed
        read(&mut b, 2, &[1, 4]);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!((r.stats["unknown"], r.stats["unknown-present"]), (3, 2));
    }

    #[test]
    fn add_concurrent_with_the_final_read_may_be_absent() {
        let mut b = Builder::new();
        b.invoke(0, F::Add, "s", Value::Int(1));
        read(&mut b, 1, &[]);
        b.ok_same(0);
        assert_eq!(check(&b).valid, Validity::Valid);
    }

    #[test]
    fn phantom_element_is_invalid() {
        let mut b = Builder::new();
        add(&mut b, 0, 1);
        read(&mut b, 1, &[1, 99]);
        let r = check(&b);
        assert_eq!(r.valid, Validity::Invalid);
        let a = r.anomalies_of(AnomalyKind::Phantom).next().unwrap();
        assert_eq!(a.elements, vec![99]);
        assert_eq!(r.stats["phantom"], 1);
    }

    #[test]
    fn failed_add_present_is_invalid() {
        let mut b = Builder::new();
        b.invoke(0, F::Add, "s", Value::Int(1)).fail(0);
        read(&mut b, 1, &[1]);
        let r = check(&b);
        assert_eq!(r.anomalies_of(AnomalyKind::FailedApplied).next().unwrap().elements, vec![1]);
    }

    #[test]
    fn duplicate_in_a_read_is_invalid() {
        let mut b = Builder::new();
        add(&mut b, 0, 1);
        read(&mut b, 1, &[1, 1]);
        let r = check(&b);
        assert_eq!(r.anomalies_of(AnomalyKind::Duplicate).next().unwrap().elements, vec![1]);
    }

    #[test]
    fn no_final_read_is_unknown() {
        let mut b = Builder::new();
        add(&mut b, 0, 1);
        b.invoke(1, F::Read, "s", Value::Null).info(1);
        assert_eq!(check(&b).valid, Validity::Unknown);
    }

    #[test]
    fn keys_are_separate_sets() {
        let mut b = Builder::new();
        add(&mut b, 0, 1);
        b.done(1, F::Read, "t", Value::Null, Value::List(vec![1]));
        read(&mut b, 1, &[1]);
        let r = check(&b);
        let a = r.anomalies_of(AnomalyKind::Phantom).next().unwrap();
        assert_eq!(a.key.as_deref(), Some("t"));
    }

    #[test]
    fn wrong_operations_are_errors() {
        let mut b = Builder::new();
        b.done(0, F::Write, "s", Value::Int(1), Value::Int(1));
        assert!(matches!(SetChecker.check(&b.operations()), Err(Error::UnsupportedOp { .. })));
        let mut b = Builder::new();
        b.done(0, F::Read, "s", Value::Null, Value::Int(1));
        assert!(matches!(SetChecker.check(&b.operations()), Err(Error::BadValue { .. })));
    }
}
