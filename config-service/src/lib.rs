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
//! - [`error`]: this crate's error type.
//! - this file: the Raft type configuration ([`TypeConfig`]) shared by all of the above.
//!
//! Still to come (issue 5): the HTTP API (Raft transport, routing long-poll, heartbeats, admin
//! routes) and the leader-only controllers that propose commands.

pub mod error;
pub mod map;
pub mod store;

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
