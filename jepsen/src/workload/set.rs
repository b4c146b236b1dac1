//! The set workload: SADD of unique elements to a few keys, a rare SMEMBERS during the run, and
//! one final SMEMBERS per key after healing.

use rand::rngs::StdRng;
use rand::Rng;

use super::{Generator, Invocation};
use crate::history::{Value, F};

pub struct SetGen {
    keys: usize,
    next_element: i64,
}

impl SetGen {
    pub fn new(keys: usize) -> Self {
        SetGen { keys: keys.max(1), next_element: 0 }
    }

    fn key(i: usize) -> String {
        format!("jepsen:set:{i}")
    }
}

impl Generator for SetGen {
    fn next(&mut self, rng: &mut StdRng) -> Invocation {
        let key = Self::key(rng.random_range(0..self.keys));
        // Reads of a growing set are costly and only the final one decides lost elements; a
        // few mid-run reads still catch elements that were seen and then vanished.
        if rng.random_range(0..100) == 0 {
            return Invocation { f: F::Read, key, value: Value::Null };
        }
        self.next_element += 1;
        Invocation { f: F::Add, key, value: Value::Int(self.next_element) }
    }

    fn final_reads(&self) -> Vec<Invocation> {
        (0..self.keys)
            .map(|i| Invocation { f: F::Read, key: Self::key(i), value: Value::Null })
            .collect()
    }
}
