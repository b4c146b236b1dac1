//! `jepsen`: Jepsen-style fault tests for rcluster. This part holds what needs no cluster: the
//! history of client operations a run records, and the checkers that judge it. Cluster control,
//! clients and nemeses build on it: clients record through a [`Recorder`], the runner pairs
//! the history with [`History::operations`] and hands it to the workload's [`Checker`], whose
//! [`CheckResult`] is what `results.json` holds.
//!
//! # Layout
//! - [`history`]: the operation record ([`Op`]: invoke / ok / fail / info), the `history.jsonl`
//!   format (writer, reader with line-numbered errors, a recorder stamping indexes and monotonic
//!   times) and the pairing of invokes with completions into [`Operation`]s, with validation.
//! - [`checker`]: the [`Checker`] trait and the shared result types ([`CheckResult`],
//!   [`Anomaly`], [`Validity`]: `true | false | "unknown"`).
//!   - [`checker::register`]: linearizability of read/write/cas registers per key
//!     (Wing–Gong/Lowe search with a memo, a state limit that yields `unknown`).
//!   - [`checker::set`]: SADD + final reads: lost, phantom, duplicated elements.
//!   - [`checker::append`]: RPUSH + LRANGE: lost, duplicated, reordered (incompatible) values,
//!     phantoms and stale reads.
//!   - [`checker::counter`]: INCRBY + reads within the bounds the increments allow.
//!   - `checker::elements` (private): the rules the set and append checkers share (duplicate,
//!     phantom, failed-applied and lost elements), so the two cannot drift apart.
//! - [`timeline`]: the nemesis timeline ([`Fault`]s with their interval and whether they were
//!   installed), written as `nemesis.json` and shaded in the report's plots.
//! - [`error`]: the errors of malformed histories (never anomalies of the cluster).

pub mod checker;
pub mod error;
pub mod history;
pub mod timeline;

pub use checker::{
    Anomaly, AnomalyKind, AppendChecker, CheckResult, Checker, CounterChecker, Counts,
    RegisterChecker, SetChecker, Validity,
};
pub use error::{Error, Result};
pub use history::{History, HistoryWriter, Op, OpKind, Operation, Outcome, Recorder, Value, F};
pub use timeline::{Fault, FaultStatus, Timeline};
