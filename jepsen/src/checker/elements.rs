//! The reasoning the set and list-append checkers share. Both workloads write unique integer
//! elements to a key and read the key back as a list of them, so the same rules find an element
//! listed twice in one read (duplicate), one no write explains (phantom, failed-applied) and one
//! certainly in the key before the final read that the final read lacks (lost). Kept here once so
//! the two checkers cannot drift apart on those rules; each keeps only what its data type adds
//! (the set's unknown-outcome counts, the list's order and stale reads) and its own words.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::checker::{bump, Anomaly, AnomalyKind, MAX_OPS};
use crate::error::{Error, Result};
use crate::history::{Operation, Outcome, Value, F};

/// What tells one workload of unique elements from the other: how its history is read and how
/// its findings are worded. The words are the checker's own (adds of elements, appends of
/// values) so that its reports read as they always have.
pub(crate) struct Workload {
    /// The checker's name, in errors.
    pub checker: &'static str,
    /// The operation that writes one element.
    pub write: F,
    /// What a write's value must be, for [`Error::BadValue`].
    pub write_value: &'static str,
    /// Whether a nil read is an empty one: LRANGE of a missing key is an empty list and a client
    /// may record it as nil, while SMEMBERS always replies with a set.
    pub nil_read_is_empty: bool,
    /// The elements' name in explanations (`elements`, `values`).
    pub elements: &'static str,
    /// The writes' name in explanations (`adds`, `appends`).
    pub writes: &'static str,
    /// How a duplicate's explanation says a read holds elements (`lists`, `has`).
    pub holds: &'static str,
    /// How a phantom's explanation ends: "… were read that {never_written}".
    pub never_written: &'static str,
    /// Whether a failed-applied anomaly lists, after the failed writes, the reads that showed
    /// them applied (the set checker's reports do, the list checker's do not).
    pub failed_with_reads: bool,
}

/// One key's writes and ok reads.
pub(crate) struct Elements<'a> {
    /// Every write of each element, in invoke order.
    pub writes: HashMap<i64, Vec<&'a Operation>>,
    /// The ok reads, in invoke order, with the elements each returned.
    pub reads: Vec<(&'a Operation, &'a [i64])>,
}

impl<'a> Elements<'a> {
    /// Sorts one key's operations into writes and reads; a read that did not complete ok says
    /// nothing about the key and is left out.
    pub fn collect(ops: &[&'a Operation], workload: &Workload) -> Result<Self> {
        let bad = |op: &Operation, expected| Error::BadValue {
            checker: workload.checker,
            index: op.invoke_index,
            expected,
        };
        let mut elements = Elements { writes: HashMap::new(), reads: Vec::new() };
        for &op in ops {
            match op.f {
                f if f == workload.write => match op.value {
                    Value::Int(e) => elements.writes.entry(e).or_default().push(op),
                    _ => return Err(bad(op, workload.write_value)),
                },
                F::Read if op.outcome != Outcome::Ok => {}
                F::Read => match &op.output {
                    Value::List(read) => elements.reads.push((op, read)),
                    Value::Null if workload.nil_read_is_empty => elements.reads.push((op, &[])),
                    _ => return Err(bad(op, "a read's result to be a list of integers")),
                },
                f => {
                    return Err(Error::UnsupportedOp {
                        checker: workload.checker,
                        index: op.invoke_index,
                        f,
                    })
                }
            }
        }
        Ok(elements)
    }

    /// Whether some write of `e` was acknowledged.
    pub fn acknowledged(&self, e: i64) -> bool {
        self.writes.get(&e).is_some_and(|w| w.iter().any(|o| o.outcome == Outcome::Ok))
    }

    /// Whether `e` was written and every write of it failed, so it was certainly never applied.
    fn all_failed(&self, e: i64) -> bool {
        self.writes.get(&e).is_some_and(|w| w.iter().all(|o| o.outcome == Outcome::Fail))
    }

    /// The writes of `elements`, at most [`MAX_OPS`] of them.
    pub fn writes_of<'e>(&self, elements: impl IntoIterator<Item = &'e i64>) -> Vec<Operation> {
        elements
            .into_iter()
            .filter_map(|e| self.writes.get(e))
            .flatten()
            .map(|&o| o.clone())
            .take(MAX_OPS)
            .collect()
    }

    /// The final read: the ok read invoked last, the one every earlier acknowledgement must show.
    pub fn final_read(&self) -> Option<(&'a Operation, &'a [i64])> {
        self.reads.iter().copied().max_by_key(|(op, _)| (op.start, op.invoke_index))
    }

    /// Checks each read on its own: duplicates, then elements no write explains (phantom and
    /// failed-applied, one anomaly each for the whole key). Returns how many elements were
    /// duplicated over all reads, which the list checker keeps as a stat and the set checker
    /// does not.
    pub fn check_reads(
        &self,
        key: Option<&str>,
        workload: &Workload,
        anomalies: &mut Vec<Anomaly>,
        stats: &mut BTreeMap<String, i64>,
    ) -> usize {
        let Workload { elements: noun, writes, .. } = workload;
        let mut duplicated = 0;
        let mut phantom: BTreeSet<i64> = BTreeSet::new();
        let mut phantom_reads = Vec::new();
        let mut failed: BTreeSet<i64> = BTreeSet::new();
        let mut failed_reads = Vec::new();
        for &(read, elements) in &self.reads {
            let mut seen = HashSet::new();
            let dups: BTreeSet<i64> =
                elements.iter().copied().filter(|e| !seen.insert(*e)).collect();
            if !dups.is_empty() {
                duplicated += dups.len();
                anomalies.push(
                    Anomaly::new(
                        AnomalyKind::Duplicate,
                        key,
                        format!(
                            "read {read} {} {} {noun} more than once",
                            workload.holds,
                            dups.len()
                        ),
                    )
                    .with_elements(dups.into_iter().collect())
                    .with_ops(vec![read.clone()]),
                );
            }
            let never: Vec<i64> =
                elements.iter().copied().filter(|e| !self.writes.contains_key(e)).collect();
            if !never.is_empty() {
                phantom.extend(never);
                phantom_reads.push(read.clone());
            }
            let applied: Vec<i64> =
                elements.iter().copied().filter(|&e| self.all_failed(e)).collect();
            if !applied.is_empty() {
                failed.extend(applied);
                failed_reads.push(read.clone());
            }
        }
        if !phantom.is_empty() {
            bump(stats, "phantom", phantom.len());
            phantom_reads.truncate(MAX_OPS);
            anomalies.push(
                Anomaly::new(
                    AnomalyKind::Phantom,
                    key,
                    format!("{} {noun} were read that {}", phantom.len(), workload.never_written),
                )
                .with_elements(phantom.into_iter().collect())
                .with_ops(phantom_reads),
            );
        }
        if !failed.is_empty() {
            bump(stats, "failed-applied", failed.len());
            let mut involved = self.writes_of(&failed);
            if workload.failed_with_reads {
                involved.extend(failed_reads);
                involved.truncate(MAX_OPS);
            }
            anomalies.push(
                Anomaly::new(
                    AnomalyKind::FailedApplied,
                    key,
                    format!("{} {noun} were read although their {writes} failed", failed.len()),
                )
                .with_elements(failed.into_iter().collect())
                .with_ops(involved),
            );
        }
        duplicated
    }

    /// When each element was certainly in the key: the earliest end of an acknowledged write of
    /// it or of a read that returned it.
    pub fn visible(&self) -> Visible {
        let mut visible: HashMap<i64, u64> = HashMap::new();
        let mut saw = |e: i64, at: Option<u64>| {
            if let Some(at) = at {
                visible.entry(e).and_modify(|t| *t = (*t).min(at)).or_insert(at);
            }
        };
        for (&e, ops) in &self.writes {
            for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
                saw(e, op.end);
            }
        }
        for &(read, elements) in &self.reads {
            for &e in elements {
                saw(e, read.end);
            }
        }
        let mut by_time: Vec<(u64, i64)> = visible.into_iter().map(|(e, t)| (t, e)).collect();
        by_time.sort_unstable();
        Visible(by_time)
    }

    /// Reports the elements certainly in the key before the final read `last` began that it
    /// lacks, and counts them in the `lost` stat.
    pub fn check_lost(
        &self,
        key: Option<&str>,
        workload: &Workload,
        (last, final_elements): (&Operation, &[i64]),
        visible: &Visible,
        anomalies: &mut Vec<Anomaly>,
        stats: &mut BTreeMap<String, i64>,
    ) {
        let present: HashSet<i64> = final_elements.iter().copied().collect();
        let mut lost: Vec<i64> =
            visible.before(last.start).filter(|e| !present.contains(e)).collect();
        bump(stats, "lost", lost.len());
        if lost.is_empty() {
            return;
        }
        lost.sort_unstable();
        let mut involved = vec![last.clone()];
        involved.extend(self.writes_of(&lost));
        involved.truncate(MAX_OPS);
        anomalies.push(
            Anomaly::new(
                AnomalyKind::Lost,
                key,
                format!(
                    "{} {} acknowledged or read before the final read {last} are missing from it",
                    lost.len(),
                    workload.elements
                ),
            )
            .with_elements(lost)
            .with_ops(involved),
        );
    }
}

/// The elements of one key by the time each was certainly in it, earliest first.
pub(crate) struct Visible(Vec<(u64, i64)>);

impl Visible {
    /// The elements certainly in the key before `start`.
    pub fn before(&self, start: u64) -> impl Iterator<Item = i64> + '_ {
        self.0.iter().take_while(move |&&(t, _)| t < start).map(|&(_, e)| e)
    }
}
