//! The counter workload: INCRBY of small random amounts and GET reads on a few keys, and a
//! final read of each.

use rand::rngs::StdRng;
use rand::Rng;

use super::{Generator, Invocation};
use crate::history::{Value, F};

pub struct CounterGen {
    keys: usize,
}

impl CounterGen {
    pub fn new(keys: usize) -> Self {
        CounterGen { keys: keys.max(1) }
    }

    fn key(i: usize) -> String {
        format!("jepsen:counter:{i}")
    }
}

impl Generator for CounterGen {
    fn next(&mut self, rng: &mut StdRng) -> Invocation {
        let key = Self::key(rng.random_range(0..self.keys));
        if rng.random_range(0..10) < 3 {
            return Invocation { f: F::Read, key, value: Value::Null };
        }
        Invocation { f: F::Incr, key, value: Value::Int(rng.random_range(1..=5)) }
    }

    fn final_reads(&self) -> Vec<Invocation> {
        (0..self.keys)
            .map(|i| Invocation { f: F::Read, key: Self::key(i), value: Value::Null })
            .collect()
    }
}
