//! `config-service`: the brain of rcluster. It holds the cluster map (DESIGN.md, "The cluster
//! map") in a Raft-replicated state machine, so that every decision — a failover, an in-sync
//! set change, the cluster's layout — is taken once, by a quorum, and survives the loss of any
//! config server.
//!
//! This crate uses openraft 0.9 with its storage-v2 traits: the Raft log and the state machine
//! are two separate stores ([`store::LogStore`], [`store::StateMachineStore`]) over one sled
//! database in the node's data directory.
//!
//! # Layout
//! - [`map`]: the replicated state machine itself — [`map::ClusterMap`], the [`map::Command`]s
//!   that change it and their validation rules. Pure logic, no I/O; the place to read first.
//! - [`store`]: persistence for openraft — the log, vote, committed/purged log ids, the applied
//!   map and snapshots, in sled trees. Checked by openraft's storage test suite.
//! - [`node`]: one config server — the composition root ([`node::ConfigNode`]) and the entry
//!   point [`run`]: storage, Raft, forming the group on a first start, the background loops.
//! - [`config`]: the flags (`rcluster config-service …`) and the safety inequality between
//!   lease and failover timeout.
//! - [`network`]: the Raft transport, outbound (HTTP to the peers); [`http`]: every route
//!   served, inbound Raft transport included.
//! - [`health`]: what the leader observed from heartbeats (not replicated), and the fences that
//!   keep a master being replaced from getting another lease.
//! - [`leadership`]: "a quorum still followed this leader after instant T", before any lease.
//! - [`controller`]: the leader-only policies (failure detector and failover, formation,
//!   in-sync requests) and the loop that commits what they propose.
//! - [`admin`]: the `admin-api` crate's [`admin_api::Admin`] trait over this server.
//! - [`metrics`]: Prometheus counters and gauges.
//! - [`error`]: this crate's error type.
//! - this file: the Raft type configuration ([`TypeConfig`]) shared by all of the above.

pub mod admin;
pub mod config;
pub mod controller;
pub mod error;
pub mod health;
pub mod http;
pub mod leadership;
pub mod map;
pub mod metrics;
pub mod network;
pub mod node;
pub mod store;

pub use config::Config;
pub use node::{run, ConfigNode};

pub use error::{Error, Result};

/// A config server's id in the Raft group (not a partition server's [`map::NodeId`]).
pub type RaftNodeId = u64;

/// A config server as Raft members know it: its HTTP address, which serves both the API and
/// the Raft transport.
pub type RaftNode = openraft::BasicNode;

openraft::declare_raft_types!(
    /// The openraft type configuration of the config service: log entries carry a
    /// [`map::Command`], and applying one yields [`map::Applied`] (a response or the reason it
    /// was rejected, so a rejection travels back to the proposer like any response).
    pub TypeConfig:
        D = map::Command,
        R = map::Applied,
        NodeId = RaftNodeId,
        Node = RaftNode,
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

/// A Raft node of the config service.
pub type Raft = openraft::Raft<TypeConfig>;
