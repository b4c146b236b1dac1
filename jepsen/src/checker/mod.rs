//! Checkers: each reads the paired [`Operation`]s of a history and returns a [`CheckResult`],
//! the shape `results.json` stores. A checker reports what it found as [`Anomaly`]s; whether the
//! history is valid follows from them alone ([`CheckResult::new`]), so no checker can claim
//! "valid" while listing an anomaly.

pub mod append;
pub mod counter;
mod elements;
pub mod register;
pub mod set;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Result;
use crate::history::{History, Operation, Outcome};

pub use append::AppendChecker;
pub use counter::CounterChecker;
pub use register::RegisterChecker;
pub use set::SetChecker;

/// A checker of one workload.
pub trait Checker {
    /// The checker's name in reports (`register`, `set`, `append`, `counter`).
    fn name(&self) -> &'static str;

    /// Checks paired operations (see [`History::operations`]).
    fn check(&self, ops: &[Operation]) -> Result<CheckResult>;

    /// Pairs the history's records, then checks them.
    fn check_history(&self, history: &History) -> Result<CheckResult> {
        self.check(&history.operations()?)
    }
}

/// The verdict. In JSON `true`, `false` or `"unknown"`, as Jepsen writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    Valid,
    Invalid,
    /// The checker could not decide (e.g. the search hit its state limit, or a final read is
    /// missing). Neither a pass nor a failure.
    Unknown,
}

impl Validity {
    /// The verdict of two checks together: invalid beats unknown beats valid.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            (Valid, Valid) => Valid,
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::Valid => "true",
            Validity::Invalid => "false",
            Validity::Unknown => "unknown",
        })
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Validity::Valid),
            Raw::Bool(false) => Ok(Validity::Invalid),
            Raw::Str(s) if s == "unknown" => Ok(Validity::Unknown),
            Raw::Str(s) => Err(serde::de::Error::custom(format!(
                "validity must be true, false or \"unknown\", not {s:?}"
            ))),
        }
    }
}

/// What kind of anomaly was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// No order of the operations explains what was observed (register).
    NonLinearizable,
    /// An acknowledged write (or one already observed) is missing from a later final read.
    Lost,
    /// An element that was never attempted was read.
    Phantom,
    /// An operation reported failed — certainly not applied — took effect after all.
    FailedApplied,
    /// A value appears twice in one read.
    Duplicate,
    /// Two reads that are not prefixes of one another: the list was reordered.
    Incompatible,
    /// A read missed a value acknowledged (or already read) before the read began.
    StaleRead,
    /// A counter read outside the range the increments allow.
    OutOfBounds,
    /// The checker could not decide (not an anomaly of the cluster, makes the result unknown).
    Inconclusive,
}

/// One thing a checker found, with the operations involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A sentence for the report.
    pub explanation: String,
    /// The elements concerned (lost, phantom, duplicated… values), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<i64>,
    /// The operations involved, the most telling first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<Operation>,
    /// Operations around them (e.g. the end of the longest linearizable prefix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<Operation>,
}

impl Anomaly {
    pub fn new(kind: AnomalyKind, key: Option<&str>, explanation: impl Into<String>) -> Self {
        Anomaly {
            kind,
            key: key.map(str::to_owned),
            explanation: explanation.into(),
            elements: Vec::new(),
            ops: Vec::new(),
            context: Vec::new(),
        }
    }

    pub fn with_elements(mut self, elements: Vec<i64>) -> Self {
        self.elements = elements;
        self
    }

    pub fn with_ops(mut self, ops: Vec<Operation>) -> Self {
        self.ops = ops;
        self
    }

    pub fn with_context(mut self, context: Vec<Operation>) -> Self {
        self.context = context;
        self
    }
}

/// How the operations a checker looked at ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    /// Unknown outcome, including operations that never completed.
    pub info: u64,
}

impl Counts {
    pub fn of<'a>(ops: impl IntoIterator<Item = &'a Operation>) -> Self {
        let mut counts = Counts::default();
        for op in ops {
            match op.outcome {
                Outcome::Ok => counts.ok += 1,
                Outcome::Fail => counts.fail += 1,
                Outcome::Info => counts.info += 1,
            }
        }
        counts
    }
}

/// The result of one checker, as stored in `results.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub checker: String,
    pub valid: Validity,
    pub counts: Counts,
    /// Checker-specific numbers (keys checked, lost elements, states explored…).
    #[serde(default)]
    pub stats: BTreeMap<String, i64>,
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
}

impl CheckResult {
    /// A result whose validity follows from its anomalies: any real anomaly makes it invalid;
    /// otherwise an [`AnomalyKind::Inconclusive`] one makes it unknown; none at all is valid.
    pub fn new(
        checker: &str,
        counts: Counts,
        stats: BTreeMap<String, i64>,
        anomalies: Vec<Anomaly>,
    ) -> Self {
        let valid = anomalies.iter().fold(Validity::Valid, |v, a| {
            v.and(match a.kind {
                AnomalyKind::Inconclusive => Validity::Unknown,
                _ => Validity::Invalid,
            })
        });
        CheckResult { checker: checker.to_owned(), valid, counts, stats, anomalies }
    }

    /// The anomalies of one kind.
    pub fn anomalies_of(&self, kind: AnomalyKind) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(move |a| a.kind == kind)
    }
}

/// How many operations an anomaly lists at most (its elements are always all listed), so a
/// report of a badly broken run stays readable.
pub(crate) const MAX_OPS: usize = 20;

/// Adds `by` to the stat `name`, creating it at 0 first: the per-key checks add up into one
/// result.
pub(crate) fn bump(stats: &mut BTreeMap<String, i64>, name: &str, by: usize) {
    *stats.entry(name.to_owned()).or_default() += by as i64;
}

/// Runs `check_key` on each key's operations, in key order, and gathers what they found into
/// one result: for the checkers that judge each key on its own and need nothing across keys.
pub(crate) fn check_by_key(
    checker: &str,
    ops: &[Operation],
    mut check_key: impl FnMut(
        Option<&str>,
        &[&Operation],
        &mut Vec<Anomaly>,
        &mut BTreeMap<String, i64>,
    ) -> Result<()>,
) -> Result<CheckResult> {
    let mut anomalies = Vec::new();
    let mut stats = BTreeMap::new();
    for (key, ops) in by_key(ops) {
        check_key(key, &ops, &mut anomalies, &mut stats)?;
    }
    Ok(CheckResult::new(checker, Counts::of(ops), stats, anomalies))
}

/// Groups operations by key, keys in sorted order, each group in invoke order.
pub(crate) fn by_key<'a>(
    ops: impl IntoIterator<Item = &'a Operation>,
) -> BTreeMap<Option<&'a str>, Vec<&'a Operation>> {
    let mut keys: BTreeMap<Option<&str>, Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        keys.entry(op.key.as_deref()).or_default().push(op);
    }
    keys
}

/// Builds hand-made histories for the checkers' tests: one clock tick per record.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::HashMap;

    use crate::history::{History, Op, Operation, Value, F};

    #[derive(Default)]
    pub struct Builder {
        ops: Vec<Op>,
        open: HashMap<u64, Op>,
    }

    impl Builder {
        pub fn new() -> Self {
            Builder::default()
        }

        fn push(&mut self, mut op: Op) -> Op {
            op.index = self.ops.len() as u64;
            op.time = op.index * 10;
            self.ops.push(op.clone());
            op
        }

        pub fn invoke(&mut self, process: u64, f: F, key: &str, value: Value) -> &mut Self {
            let op = self.push(Op::invoke(process, f, Some(key), value));
            self.open.insert(process, op);
            self
        }

        pub fn ok(&mut self, process: u64, value: Value) -> &mut Self {
            let invoke = self.open.remove(&process).expect("no open invoke");
            self.push(invoke.ok(value));
            self
        }

        /// Completes with the invoke's own value (writes, adds, appends).
        pub fn ok_same(&mut self, process: u64) -> &mut Self {
            let value = self.open[&process].value.clone();
            self.ok(process, value)
        }

        pub fn fail(&mut self, process: u64) -> &mut Self {
            let invoke = self.open.remove(&process).expect("no open invoke");
            self.push(invoke.fail("failed"));
            self
        }

        pub fn info(&mut self, process: u64) -> &mut Self {
            let invoke = self.open.remove(&process).expect("no open invoke");
            self.push(invoke.info("timeout"));
            self
        }

        /// Whether the open operation of `process` is a read.
        pub fn is_read(&self, process: u64) -> bool {
            self.open[&process].f == F::Read
        }

        /// A whole operation with no overlap: invoke and ok.
        pub fn done(
            &mut self,
            process: u64,
            f: F,
            key: &str,
            value: Value,
            out: Value,
        ) -> &mut Self {
            self.invoke(process, f, key, value).ok(process, out)
        }

        pub fn history(&self) -> History {
            History::from_ops(self.ops.clone())
        }

        pub fn operations(&self) -> Vec<Operation> {
            self.history().operations().unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_serialises_as_jepsen_does() {
        assert_eq!(serde_json::to_string(&Validity::Valid).unwrap(), "true");
        assert_eq!(serde_json::to_string(&Validity::Invalid).unwrap(), "false");
        assert_eq!(serde_json::to_string(&Validity::Unknown).unwrap(), "\"unknown\"");
        for v in [Validity::Valid, Validity::Invalid, Validity::Unknown] {
            let back: Validity = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back, v);
        }
        assert!(serde_json::from_str::<Validity>("\"maybe\"").is_err());
    }

    #[test]
    fn validity_follows_from_anomalies() {
        let none = CheckResult::new("x", Counts::default(), BTreeMap::new(), vec![]);
        assert_eq!(none.valid, Validity::Valid);
        let unsure = vec![Anomaly::new(AnomalyKind::Inconclusive, Some("k"), "too many states")];
        let r = CheckResult::new("x", Counts::default(), BTreeMap::new(), unsure.clone());
        assert_eq!(r.valid, Validity::Unknown);
        let mut both = unsure;
        both.push(Anomaly::new(AnomalyKind::Lost, None, "lost 3"));
        let r = CheckResult::new("x", Counts::default(), BTreeMap::new(), both);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies_of(AnomalyKind::Lost).count(), 1);
    }

    #[test]
    fn result_round_trips_through_json() {
        let r = CheckResult::new(
            "set",
            Counts { ok: 3, fail: 1, info: 2 },
            BTreeMap::from([("lost".to_owned(), 1)]),
            vec![Anomaly::new(AnomalyKind::Lost, Some("s"), "1 lost").with_elements(vec![4])],
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""valid":false"#) && json.contains(r#""kind":"lost""#), "{json}");
        assert_eq!(serde_json::from_str::<CheckResult>(&json).unwrap(), r);
    }
}
