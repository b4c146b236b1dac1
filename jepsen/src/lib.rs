//! `jepsen`: Jepsen-style fault tests for rcluster. The runner starts the project's
//! docker-compose cluster, lets concurrent clients run a workload through the proxies while a
//! nemesis partitions, kills and pauses containers, and records every operation; the checkers
//! then judge the history. Clients record through a [`Recorder`], the runner pairs the history
//! with [`History::operations`] and hands it to the workload's [`Checker`], whose
//! [`CheckResult`] is what `results.json` holds. The `jepsen` binary (`src/main.rs`) is the
//! command line: `jepsen test …`, `jepsen check <dir>`.
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
//! - [`runner`]: one run, start to finish (cluster up, clients, nemesis cycles, heal, final
//!   reads, check, the run's folder).
//! - [`table`]: the results matrix of many runs, as RESULTS.md shows it.
//! - [`compose`]: cluster control through the docker CLI (a fresh project per run, container
//!   ids, PIDs and addresses, kill/start/pause, logs).
//! - [`net`]: partitions as grudges, put in place with iptables in the containers' network
//!   namespaces.
//! - [`nemesis`]: the faults (partition-master, partition-config-leader, partition-halves,
//!   bridge, kill, pause, mix) and healing them.
//! - [`topology`]: who is master, replica and config leader, from the admin API.
//! - [`workload`]: the register, set, append and counter generators, how each operation maps
//!   onto Redis commands and how its outcome is classified.
//! - [`client`]: one RESP connection with a per-operation timeout, and which error replies
//!   certainly mean "not applied".
//! - [`timeline`]: the nemesis timeline ([`Fault`]s with their interval and whether they were
//!   installed), written as `nemesis.json` and shaded in the report's plots.
//! - [`report`]: the run report: `latency.svg` and `rate.svg` with the faults shaded, and
//!   `timeline.txt`, rendered from a run's folder by [`report::render`].
//! - [`error`]: the errors of malformed histories (never anomalies of the cluster).

pub mod checker;
pub mod client;
pub mod compose;
pub mod error;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod report;
pub mod runner;
pub mod table;
pub mod timeline;
pub mod topology;
pub mod workload;

pub use checker::{
    Anomaly, AnomalyKind, AppendChecker, CheckResult, Checker, CounterChecker, Counts,
    RegisterChecker, SetChecker, Validity,
};
pub use error::{Error, Result};
pub use history::{History, HistoryWriter, Op, OpKind, Operation, Outcome, Recorder, Value, F};
pub use timeline::{Fault, FaultStatus, Timeline};
