//! The zset type: members ordered by score (ZADD …).
//!
//! SKELETON: replaced by the family's implementation (compact encoding + large encoding).

use super::listpack::Listpack;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZSet {
    lp: Listpack,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.lp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lp.is_empty()
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.lp.heap_bytes()
    }
}
