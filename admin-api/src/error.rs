//! Errors: [`ApiError`], what the server answers (a status and the shared JSON
//! [`ErrorBody`]); [`ClientError`], what [`crate::AdminClient`] returns; [`CliError`], what
//! `rcluster admin` prints before exiting non-zero.
//!
//! Statuses and codes are mapped here and nowhere else: 400 `invalid`, 404 `not_found`, 409
//! `conflict`, 421 `not_leader` (with the leader's address), 503 `no_quorum`, 500 `internal`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::error_body::{ErrorBody, NOT_LEADER};

/// An error answer of the admin API: the status and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({status}, code {})", body.error, body.code)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &str, error: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody { error: error.into(), code: code.into(), field: None, leader: None },
        }
    }

    /// 400 `invalid`: `field` (a JSON path such as `layout[1].slots`) is wrong.
    pub fn invalid(field: impl Into<String>, error: impl Into<String>) -> Self {
        let mut err = ApiError::new(StatusCode::BAD_REQUEST, "invalid", error);
        err.body.field = Some(field.into());
        err
    }

    /// 400 `invalid` about the request as a whole (no one field is at fault).
    pub fn bad_request(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", error)
    }

    /// 404 `not_found`.
    pub fn not_found(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", error)
    }

    /// 409 `conflict`: well-formed, but it conflicts with the current map.
    pub fn conflict(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", error)
    }

    /// 421 `not_leader`: this node cannot serve the request; `leader` is the leader's HTTP
    /// address (`host:port`) when known, where a client retries.
    pub fn not_leader(leader: Option<String>) -> Self {
        let error = match &leader {
            Some(addr) => format!("this node is not the leader; the leader is {addr}"),
            None => "this node is not the leader and knows no leader (an election?)".to_string(),
        };
        let mut err = ApiError::new(StatusCode::MISDIRECTED_REQUEST, NOT_LEADER, error);
        err.body.leader = leader;
        err
    }

    /// 503 `no_quorum`: the Raft group cannot commit or read right now.
    pub fn no_quorum(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_quorum", error)
    }

    /// 500 `internal`.
    pub fn internal(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// What [`crate::AdminClient`] returns.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The config service answered with an error.
    #[error("{} (HTTP {status}, code {}{})", body.error, body.code, field_suffix(body))]
    Api { status: StatusCode, body: ErrorBody },
    /// No endpoint could be reached (or none knew a leader).
    #[error("no config service endpoint answered (tried {}): {last}", tried.join(", "))]
    Unreachable { tried: Vec<String>, last: String },
    /// A write was sent but its answer did not come (a timeout or a broken connection): it may
    /// or may not have been applied, so it is not retried elsewhere.
    #[error("{method} {url}: no answer ({source}); the request may or may not have been applied")]
    OutcomeUnknown {
        method: reqwest::Method,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Leader redirects did not end at a leader.
    #[error("gave up after {hops} leader redirects (last at {last})")]
    TooManyRedirects { hops: usize, last: String },
    /// The answer was not what the API promises.
    #[error("{url} answered {status} with an unexpected body: {reason}")]
    UnexpectedBody { url: String, status: StatusCode, reason: String },
    /// An endpoint string that is not a usable base URL.
    #[error("invalid endpoint {0:?}")]
    BadEndpoint(String),
    /// The client was given no endpoint.
    #[error("no config service endpoint given")]
    NoEndpoints,
}

fn field_suffix(body: &ErrorBody) -> String {
    body.field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default()
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } | ClientError::UnexpectedBody { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

/// What `rcluster admin` fails with; its `Display` is the message printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// `health` found the node unhealthy.
    #[error("unhealthy: {0}")]
    Unhealthy(String),
    /// A bad command-line argument that clap cannot check.
    #[error("{0}")]
    Usage(String),
    #[error("cannot write the answer as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The result type of the client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
