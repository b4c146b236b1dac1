//! Errors of the config service.

/// What can go wrong in the config service outside of Raft's own errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening or reading the sled database failed (wraps openraft's error so that storage
    /// failures look the same wherever they surface).
    #[error("storage: {0}")]
    Storage(#[from] openraft::StorageError<crate::RaftNodeId>),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
