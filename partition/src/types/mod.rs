//! The aggregate data types and their encodings. Each type keeps a compact encoding for small
//! values ([`listpack`], or an intset for sets of integers) and converts to a large encoding
//! (hash table, skiplist, quicklist) past the `*-max-listpack-*` / `set-max-intset-entries`
//! thresholds, as Redis does; OBJECT ENCODING reports which one a value uses.
//!
//! The types know nothing about commands: they are data structures with the operations the
//! command families (`cmd::hash`, `cmd::list` …) need.

pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod set;
pub mod skiplist;
pub mod zset;
