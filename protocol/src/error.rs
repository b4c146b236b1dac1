//! Protocol errors. Their `Display` texts are exactly what Redis replies (after `-ERR `), so a
//! server can send `format!("ERR {err}")` and match `redis-server` byte for byte.

/// A violation of the RESP protocol. After any of these the connection is closed, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    /// A malformed frame met by a client-side parser (a reply stream), not a Redis reply text.
    #[error("Protocol error: {0}")]
    Malformed(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
