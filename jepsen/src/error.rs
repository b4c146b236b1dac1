//! Errors of the harness: the history format and the checkers, and driving the cluster. A
//! malformed history is a harness bug, never an anomaly of the cluster, so it is an [`Error`]
//! and not an [`crate::checker::Anomaly`]; so is a cluster that cannot be started or a nemesis
//! command that cannot run.

use crate::history::F;

/// Everything that can go wrong reading, writing, pairing or checking a history, or running
/// the cluster it comes from.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Controlling the cluster failed: a docker or compose command failed or hung, a container
    /// is missing, the cluster did not become healthy, the admin API did not answer.
    #[error("cluster: {0}")]
    Cluster(String),
    /// Opening, reading or writing a history file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A line of `history.jsonl` is not an operation.
    #[error("{file}:{line}: not an operation: {source}")]
    Parse {
        file: String,
        /// 1-based line number.
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    /// A JSON file of a run (the nemesis timeline) could not be encoded or decoded.
    #[error("{file}: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// An operation could not be encoded as JSON.
    #[error("encoding operation {index}: {source}")]
    Encode {
        index: u64,
        #[source]
        source: serde_json::Error,
    },
    /// An ok/fail/info record for a process that has no outstanding invoke.
    #[error(
        "operation {index}: completion for process {process}, which has no outstanding invoke"
    )]
    CompletionWithoutInvoke { index: u64, process: u64 },
    /// An invoke for a process that still waits for the completion of an earlier invoke.
    #[error(
        "operation {index}: process {process} invokes while operation {outstanding} is still \
         outstanding (a process has at most one operation in flight)"
    )]
    AlreadyOutstanding { index: u64, process: u64, outstanding: u64 },
    /// A completion that does not describe the same operation as its invoke.
    #[error(
        "operation {index}: completion of process {process} does not match its invoke: {detail}"
    )]
    CompletionMismatch { index: u64, process: u64, detail: String },
    /// A checker was given an operation it does not model.
    #[error("operation {index}: the {checker} checker does not model `{f}` operations")]
    UnsupportedOp { checker: &'static str, index: u64, f: F },
    /// An operation whose value has the wrong shape for its function.
    #[error("operation {index}: the {checker} checker expects {expected}")]
    BadValue { checker: &'static str, index: u64, expected: &'static str },
}

impl Error {
    /// An I/O error on a file of the run.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io { context: path.display().to_string(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
