//! The partition server: rcluster's data server. It holds a shard's keyspace in memory and
//! executes Redis commands; run on its own it is a plain Redis-compatible server (the
//! "standard edition").
//!
//! # Layout
//! - [`server`]: shared state, the accept loop, graceful shutdown; [`run`] is the entry point.
//! - [`connection`]: one client connection: read, parse, run a batch under the command lock,
//!   write replies once per batch.
//! - [`client`]: the client registry (CLIENT LIST/KILL) and per-connection client state.
//! - [`cmd`]: command dispatch and one module per command family.
//! - [`state`]: everything commands touch, behind the one command lock.
//! - [`keyspace`]: keys by hash slot, expiry index, SCAN cursor; built on [`dict`], a hash table
//!   with a resize-safe scan cursor. [`value`]: the stored values; [`types`]: the aggregate
//!   types (hash, list, set, sorted set) and their compact and large encodings.
//! - [`expire`]: the active expiry cycle. [`time`]: clocks.
//! - [`persist`]: the snapshot file format. [`digest`]: DEBUG DIGEST, the order-independent
//!   checksum of the dataset that tells whether two servers hold the same data.
//! - [`fence`]: fenced roles (the lease, owned slots, routes for `-MOVED`); [`role`]: applying
//!   the control plane's decisions; [`heartbeat`]: the heartbeat client of the config service
//!   that drives them (`config-endpoints`).
//! - [`replication`]: master → replica replication and the in-sync set.
//! - [`config`]: server parameters (command line, config file, CONFIG SET).
//! - [`error`]: start-up errors and command error replies.

pub mod alloc;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod dict;
pub mod digest;
pub mod error;
pub mod evict;
pub mod expire;
pub mod fence;
pub mod glob;
pub mod heartbeat;
pub mod in_flight;
pub mod keyspace;
pub mod notify;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod replication;
pub mod role;
pub mod server;
pub mod state;
pub mod strbuf;
pub mod time;
pub mod types;
pub mod value;
pub mod write_log;

pub use config::Config;
pub use error::{Error, Result};
pub use server::{run, serve, Server};

/// The Redis version rcluster reports (HELLO, INFO): the version whose behaviour it matches.
pub const REDIS_VERSION: &str = protocol::REDIS_VERSION;
