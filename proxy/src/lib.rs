//! The rcluster proxy: one Redis endpoint for the whole cluster. Clients connect with any
//! Redis client; the proxy routes each command by the hash slot of its keys to the shard's
//! master over a few pipelined connections shared by all clients, splits multi-key commands
//! over shards, follows the config service's routing table and retries what is safe to retry.
//!
//! # Layout
//! - [`server`]: shared state, the accept loop and shutdown; [`run`] is the entry point.
//! - [`config`]: command-line flags and their checks.
//! - [`client`]: one client connection: parse a batch, send every command, write the replies
//!   in order with one write.
//! - [`clients`]: the registry of connected clients (CLIENT LIST/INFO/KILL).
//! - [`command`]: what happens to one command (local, routed by slot, split, refused).
//! - [`local`]: the commands the proxy answers itself (connection, COMMAND, CLUSTER).
//! - [`split`]: MGET/MSET/DEL/UNLINK/EXISTS/TOUCH across shards, and command encoding.
//! - [`aggregate`]: SINTER/SUNION/SDIFF/ZUNION/ZINTER/ZDIFF/…CARD and PFCOUNT across slots,
//!   computed in the proxy from each key's contents.
//! - [`fanout`]: keyspace-wide commands over every shard (SCAN, KEYS, DBSIZE, INFO, SLOWLOG …).
//! - [`transaction`]: MULTI/EXEC/DISCARD/WATCH/UNWATCH within one slot.
//! - [`blocking`]: blocking commands (BLPOP …), each on a connection of its own.
//! - [`pubsub`]: (P|S)SUBSCRIBE, PUBLISH and PUBSUB through one shared subscriber connection per
//!   backend, re-placed when the routing table changes.
//! - [`output_limit`]: client output-buffer limits (normal and pubsub), Redis's semantics.
//! - [`dedicated`]: a backend connection owned by one client (transactions, blocking).
//! - [`forward`]: sending a request and the retry rules (MOVED, TRYAGAIN, unknown outcomes).
//! - [`backend`]: pipelined, multiplexed backend connections.
//! - [`router`]: the routing table in force (atomically replaced) and the backend pools.
//! - [`control`]: the routing file, and the config service's long-poll and heartbeats.
//! - [`metrics`]: the Prometheus metrics, cheap to update on the request path.
//! - [`ops`]: the `--metrics-port` HTTP endpoint (`/metrics`, `/healthz`).
//! - [`error`]: start-up errors.

pub mod aggregate;
pub mod backend;
pub mod blocking;
pub mod client;
pub mod clients;
pub mod command;
pub mod config;
pub mod control;
pub mod dedicated;
pub mod error;
pub mod fanout;
pub mod forward;
pub mod local;
pub mod metrics;
pub mod ops;
pub mod output_limit;
pub mod pubsub;
pub mod router;
pub mod server;
pub mod split;
pub mod transaction;

pub use config::{Config, ReadFrom};
pub use error::{Error, Result};
pub use server::{run, run_with};
