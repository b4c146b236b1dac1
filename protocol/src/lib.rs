//! What every rcluster process shares: the RESP wire protocol, hash slots and the command
//! table. No I/O policy and no business logic live here.
//!
//! # Layout
//! - [`request`]: the server-side request parser (RESP multibulk and inline commands) with
//!   Redis's limits and error texts. Hot path: arguments are zero-copy slices of the read buffer.
//! - [`reply`]: the reply encoder, writing RESP2 or RESP3 straight into an output buffer.
//! - [`frame`]: a full RESP2/RESP3 value ([`Frame`]) and its incremental parser, for clients
//!   (proxy backends, replication, tests).
//! - [`codec`]: a tokio codec over [`Frame`].
//! - [`addr`]: the one `host:port` parser.
//! - [`slot`]: CRC16 (XMODEM) hash slots with Redis Cluster's `{hash tag}` rules.
//! - [`redis_text`]: Redis's exact texts for replies every server gives the same way.
//! - [`number`]: parsing and formatting numbers exactly as Redis does.
//! - [`hll`]: Redis's HyperLogLog string format (sparse and dense registers, the estimator),
//!   shared by the partition server (PFADD/PFCOUNT/PFMERGE) and the proxy (PFCOUNT across
//!   slots).
//! - [`command`]: the command table: arity, flags, key positions, and COMMAND INFO/DOCS data.
//! - [`routing`]: the routing table (which master serves each slot), as the config service
//!   hands it out and proxies load it.
//! - [`heartbeat`]: what partition servers and proxies report to the config service, and its
//!   answers (roles, leases).
//! - [`error_body`]: the JSON error body of the config service's HTTP API.
//! - [`error`]: protocol errors.

pub mod addr;
pub mod codec;
pub mod command;
pub mod error;
pub mod error_body;
pub mod frame;
pub mod heartbeat;
pub mod hll;
pub mod number;
pub mod redis_text;
pub mod reply;
pub mod request;
pub mod routing;
pub mod slot;

pub use codec::FrameCodec;
pub use error::{Error, Result};
pub use frame::{Frame, FrameLimits};
pub use redis_text::REDIS_VERSION;
pub use reply::ReplyWriter;
pub use request::{ParseLimits, RequestParser};
pub use slot::{key_hash_slot, SLOT_COUNT};
