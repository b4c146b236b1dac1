//! Integration tests of the partition server: a real server on an ephemeral loopback port,
//! driven by real clients (the `redis` crate, raw TCP, `redis-cli`). One test binary for the
//! crate keeps link times down; each family has its own module.

mod util;

mod bitmap;
mod client;
mod command;
mod connection;
mod geo;
mod hash;
mod hll;
mod keyspace;
mod list;
mod protocol;
mod server;
mod set;
mod string;
mod tools;
mod zset;
