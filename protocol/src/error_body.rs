//! The JSON body of every error the config service's HTTP API returns, shared so that every
//! client (partition servers, proxies, the admin CLI) reads it the same way.

use serde::{Deserialize, Serialize};

/// `{ "error": "…", "code": "…" }`, plus the field at fault (400) or the leader's address (a
/// node that is not the leader answers 421 with it, so the client retries there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// A stable machine-readable code: `invalid`, `not_found`, `conflict`, `not_leader`,
    /// `no_quorum`, `internal`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The leader's HTTP address (`host:port`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

/// The code of a "not the leader" answer (status 421).
pub const NOT_LEADER: &str = "not_leader";
