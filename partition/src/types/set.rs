//! The set type: unique members (SADD …).
//!
//! SKELETON: replaced by the family's implementation (compact encoding + large encoding).

use super::listpack::Listpack;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Set {
    lp: Listpack,
}

impl Set {
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
