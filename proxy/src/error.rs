//! Errors of the proxy: start-up failures ([`Error`]). Failures of one request are replies,
//! not errors: see [`crate::backend::Failure`] and [`crate::forward`].

/// Why the proxy cannot start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("routing file {path}: {cause}")]
    RoutingFile { path: String, cause: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("http client: {0}")]
    Http(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
