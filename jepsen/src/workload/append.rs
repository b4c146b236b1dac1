//! The list-append workload: RPUSH of unique values and LRANGE reads on rotating keys (each
//! retired after a few hundred operations, so reads stay short), and a final read of every key.

use rand::rngs::StdRng;
use rand::Rng;

use super::{Generator, Invocation, RotatingKeys};
use crate::history::{Value, F};

/// Operations per key before it is retired.
const OPS_PER_KEY: usize = 200;

pub struct AppendGen {
    keys: RotatingKeys,
    next_value: i64,
}

impl AppendGen {
    pub fn new(keys: usize) -> Self {
        AppendGen { keys: RotatingKeys::new("append", keys, OPS_PER_KEY), next_value: 0 }
    }
}

impl Generator for AppendGen {
    fn next(&mut self, rng: &mut StdRng) -> Invocation {
        let (_, key) = self.keys.pick(rng);
        if rng.random_range(0..10) < 3 {
            return Invocation { f: F::Read, key, value: Value::Null };
        }
        self.next_value += 1;
        Invocation { f: F::Append, key, value: Value::Int(self.next_value) }
    }

    fn final_reads(&self) -> Vec<Invocation> {
        self.keys.all().map(|key| Invocation { f: F::Read, key, value: Value::Null }).collect()
    }
}
