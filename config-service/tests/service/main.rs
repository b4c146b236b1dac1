//! Integration tests of the config service, one binary for the crate.

mod api;
mod failover;
mod raft_group;
mod storage;
mod util;
