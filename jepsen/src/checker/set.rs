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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::checker::{by_key, Anomaly, AnomalyKind, CheckResult, Checker, Counts};
use crate::error::{Error, Result};
use crate::history::{Operation, Outcome, Value, F};

/// How many operations an anomaly lists at most (the elements are always all listed).
const MAX_OPS: usize = 20;

/// The set checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetChecker;

impl Checker for SetChecker {
    fn name(&self) -> &'static str {
        "set"
    }

    fn check(&self, ops: &[Operation]) -> Result<CheckResult> {
        let mut anomalies = Vec::new();
        let mut stats: BTreeMap<String, i64> = BTreeMap::new();
        for (key, ops) in by_key(ops) {
            check_key(key, &ops, &mut anomalies, &mut stats)?;
        }
        Ok(CheckResult::new(self.name(), Counts::of(ops), stats, anomalies))
    }
}

fn check_key(
    key: Option<&str>,
    ops: &[&Operation],
    anomalies: &mut Vec<Anomaly>,
    stats: &mut BTreeMap<String, i64>,
) -> Result<()> {
    let mut adds: HashMap<i64, Vec<&Operation>> = HashMap::new();
    let mut reads: Vec<(&Operation, &[i64])> = Vec::new();
    for &op in ops {
        match op.f {
            F::Add => match op.value {
                Value::Int(e) => adds.entry(e).or_default().push(op),
                _ => {
                    return Err(Error::BadValue {
                        checker: "set",
                        index: op.invoke_index,
                        expected: "an add's value to be an integer",
                    })
                }
            },
            F::Read if op.outcome != Outcome::Ok => {}
            F::Read => match &op.output {
                Value::List(elements) => reads.push((op, elements)),
                _ => {
                    return Err(Error::BadValue {
                        checker: "set",
                        index: op.invoke_index,
                        expected: "a read's result to be a list of integers",
                    })
                }
            },
            f => return Err(Error::UnsupportedOp { checker: "set", index: op.invoke_index, f }),
        }
    }
    let acknowledged =
        |e: &i64| adds.get(e).is_some_and(|a| a.iter().any(|o| o.outcome == Outcome::Ok));
    let all_failed =
        |e: &i64| adds.get(e).is_some_and(|a| a.iter().all(|o| o.outcome == Outcome::Fail));
    *stats.entry("attempted".to_owned()).or_default() += adds.len() as i64;
    *stats.entry("acknowledged".to_owned()).or_default() +=
        adds.keys().filter(|e| acknowledged(e)).count() as i64;

    let mut phantom: BTreeSet<i64> = BTreeSet::new();
    let mut phantom_reads = Vec::new();
    let mut failed_applied: BTreeSet<i64> = BTreeSet::new();
    let mut failed_reads = Vec::new();
    for &(read, elements) in &reads {
        let mut seen = HashSet::new();
        let duplicates: BTreeSet<i64> =
            elements.iter().copied().filter(|e| !seen.insert(*e)).collect();
        if !duplicates.is_empty() {
            anomalies.push(
                Anomaly::new(
                    AnomalyKind::Duplicate,
                    key,
                    format!("read {} lists {} elements more than once", read, duplicates.len()),
                )
                .with_elements(duplicates.into_iter().collect())
                .with_ops(vec![read.clone()]),
            );
        }
        let never: Vec<i64> = elements.iter().copied().filter(|e| !adds.contains_key(e)).collect();
        if !never.is_empty() {
            phantom.extend(never);
            phantom_reads.push(read.clone());
        }
        let failed: Vec<i64> = elements.iter().copied().filter(all_failed).collect();
        if !failed.is_empty() {
            failed_applied.extend(failed);
            failed_reads.push(read.clone());
        }
    }
    if !phantom.is_empty() {
        *stats.entry("phantom".to_owned()).or_default() += phantom.len() as i64;
        phantom_reads.truncate(MAX_OPS);
        anomalies.push(
            Anomaly::new(
                AnomalyKind::Phantom,
                key,
                format!("{} elements were read that no add ever wrote", phantom.len()),
            )
            .with_elements(phantom.into_iter().collect())
            .with_ops(phantom_reads),
        );
    }
    if !failed_applied.is_empty() {
        *stats.entry("failed-applied".to_owned()).or_default() += failed_applied.len() as i64;
        let mut involved: Vec<Operation> =
            failed_applied.iter().flat_map(|e| adds[e].iter().map(|&o| o.clone())).collect();
        involved.extend(failed_reads);
        involved.truncate(MAX_OPS);
        anomalies.push(
            Anomaly::new(
                AnomalyKind::FailedApplied,
                key,
                format!("{} elements were read although their adds failed", failed_applied.len()),
            )
            .with_elements(failed_applied.into_iter().collect())
            .with_ops(involved),
        );
    }

    let Some(&(last, final_elements)) =
        reads.iter().max_by_key(|(op, _)| (op.start, op.invoke_index))
    else {
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
    let present: HashSet<i64> = final_elements.iter().copied().collect();
    // Certainly in the set before the final read began: acknowledged, or already read.
    let mut visible: BTreeSet<i64> = adds
        .iter()
        .filter(|(_, a)| {
            a.iter().any(|o| o.outcome == Outcome::Ok && o.completed_before(last.start))
        })
        .map(|(&e, _)| e)
        .collect();
    for &(read, elements) in &reads {
        if read.completed_before(last.start) {
            visible.extend(elements.iter().copied());
        }
    }
    let lost: Vec<i64> = visible.into_iter().filter(|e| !present.contains(e)).collect();
    let unknown: Vec<i64> = adds
        .iter()
        .filter(|(e, a)| !acknowledged(e) && a.iter().any(|o| o.outcome == Outcome::Info))
        .map(|(&e, _)| e)
        .collect();
    let unknown_present = unknown.iter().filter(|e| present.contains(e)).count() as i64;
    *stats.entry("unknown".to_owned()).or_default() += unknown.len() as i64;
    *stats.entry("unknown-present".to_owned()).or_default() += unknown_present;
    *stats.entry("lost".to_owned()).or_default() += lost.len() as i64;
    if !lost.is_empty() {
        let mut involved = vec![last.clone()];
        involved.extend(lost.iter().filter_map(|e| adds.get(e)).flatten().map(|&o| o.clone()));
        involved.truncate(MAX_OPS);
        anomalies.push(
            Anomaly::new(
                AnomalyKind::Lost,
                key,
                format!(
                    "{} elements acknowledged or read before the final read {} are missing from it",
                    lost.len(),
                    last
                ),
            )
            .with_elements(lost)
            .with_ops(involved),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::test_support::Builder;
    use crate::checker::Validity;

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
