//! Errors of the config service.

use crate::map::Rejection;

/// What can go wrong in the config service outside of Raft's own errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening or reading the sled database failed (wraps openraft's error so that storage
    /// failures look the same wherever they surface).
    #[error("storage: {0}")]
    Storage(#[from] Box<openraft::StorageError<crate::RaftNodeId>>),
    /// This server is not the leader; `leader` is the leader's HTTP address when known.
    #[error("this config server is not the leader")]
    NotLeader { leader: Option<String> },
    /// No quorum answered in time: a change may or may not have been applied.
    #[error("no quorum: {0}")]
    NoQuorum(String),
    /// The map refused the command; nothing changed.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Raft stopped on this server (a storage failure or shutdown).
    #[error("raft: {0}")]
    Fatal(String),
    /// The settings are inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<openraft::StorageError<crate::RaftNodeId>> for Error {
    fn from(e: openraft::StorageError<crate::RaftNodeId>) -> Self {
        Error::Storage(Box::new(e))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
