//! Integration tests of the proxy: real partition servers in-process behind a real proxy on
//! ephemeral loopback ports, driven by the `redis` crate and raw RESP. One test binary for the
//! crate keeps link times down; each concern has its own module.

mod util;

mod aggregate;
mod backend_auth;
mod blocking;
mod clients;
mod families;
mod fanout;
mod local;
mod metrics;
mod multikey;
mod pipeline;
mod pubsub;
mod read_from;
mod retry;
mod transaction;
