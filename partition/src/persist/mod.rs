//! Persistence: the snapshot file format and (to come) the append-only file.
//!
//! # Layout
//! - [`snapshot`]: the snapshot format — every key, its value and its expiry, with a checksum.
//!   It is the SAVE/BGSAVE file, the base of an AOF rewrite and what a full resync streams.

pub mod snapshot;
