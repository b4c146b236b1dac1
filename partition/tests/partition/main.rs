//! Integration tests of the partition server: a real server on an ephemeral loopback port,
//! driven by real clients (the `redis` crate, raw TCP, `redis-cli`). One test binary for the
//! crate keeps link times down; each family has its own module.

mod util;

/// The server under test counts its memory as the `rcluster` binary does.
#[global_allocator]
static ALLOCATOR: partition::alloc::Counting = partition::alloc::Counting;

mod bitmap;
mod blocking;
mod client;
mod command;
mod connection;
mod control_plane;
mod differential;
mod digest;
mod eviction;
mod fence;
mod geo;
mod hash;
mod hll;
mod keyspace;
mod list;
mod multi;
mod persistence;
mod protocol;
mod pubsub;
mod relay;
mod replication;
mod server;
mod set;
mod sort;
mod string;
mod tools;
mod zset;
