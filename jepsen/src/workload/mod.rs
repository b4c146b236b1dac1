//! Workloads: what the clients do, how each operation maps onto Redis commands, and which
//! checker judges the history.
//!
//! A workload is a shared generator of [`Invocation`]s (every client draws its next operation
//! from it, so keys and unique values are handed out once), the final reads a run makes after
//! healing, and the checker. [`apply`] runs one invocation on a connection and says how it
//! ended; that mapping is where an outcome is classified, and it never calls an operation
//! failed unless it certainly did not take effect.
//!
//! # Layout
//! - `register`: GET / SET / compare-and-set (WATCH, GET, MULTI, SET, EXEC) on rotating keys;
//!   linearizability.
//! - `set`: SADD of unique elements on a few keys, final SMEMBERS.
//! - `append`: RPUSH of unique values and LRANGE reads on rotating keys.
//! - `counter`: INCRBY and GET on a few keys.

mod append;
mod counter;
mod register;
mod set;

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;

use crate::checker::{AppendChecker, Checker, CounterChecker, RegisterChecker, SetChecker};
use crate::client::{CallError, Conn};
use crate::history::{Value, F};

/// The workloads the runner knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Register,
    Set,
    Append,
    Counter,
}

impl FromStr for WorkloadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "register" => Ok(WorkloadKind::Register),
            "set" => Ok(WorkloadKind::Set),
            "append" => Ok(WorkloadKind::Append),
            "counter" => Ok(WorkloadKind::Counter),
            _ => Err(format!("unknown workload {s:?}: register, set, append or counter")),
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Set => "set",
            WorkloadKind::Append => "append",
            WorkloadKind::Counter => "counter",
        })
    }
}

/// One operation a client is about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub f: F,
    pub key: String,
    pub value: Value,
}

/// How an operation ended, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Ok(Value),
    /// It certainly did not take effect.
    Fail(String),
    /// Its outcome is unknown; the connection must be dropped.
    Info(String),
}

/// The generator side of a workload.
pub trait Generator: Send {
    /// The next operation for some client.
    fn next(&mut self, rng: &mut StdRng) -> Invocation;
    /// The reads to make after the cluster healed: one per key whose final state is checked.
    fn final_reads(&self) -> Vec<Invocation>;
}

/// The generator of a workload.
pub fn generator(kind: WorkloadKind, keys: usize) -> Box<dyn Generator> {
    match kind {
        WorkloadKind::Register => Box::new(register::RegisterGen::new(keys)),
        WorkloadKind::Set => Box::new(set::SetGen::new(keys)),
        WorkloadKind::Append => Box::new(append::AppendGen::new(keys)),
        WorkloadKind::Counter => Box::new(counter::CounterGen::new(keys)),
    }
}

/// The checker of a workload.
pub fn checker(kind: WorkloadKind) -> Box<dyn Checker + Send> {
    match kind {
        WorkloadKind::Register => Box::new(RegisterChecker::default()),
        WorkloadKind::Set => Box::new(SetChecker),
        WorkloadKind::Append => Box::new(AppendChecker),
        WorkloadKind::Counter => Box::new(CounterChecker),
    }
}

/// Runs one invocation on a connection.
pub async fn apply(kind: WorkloadKind, conn: &mut Conn, inv: &Invocation) -> Completion {
    match (kind, inv.f) {
        (WorkloadKind::Register, F::Cas) => register::cas(conn, inv).await,
        (_, F::Read) => read(kind, conn, inv).await,
        (_, F::Write) => write(conn, &["SET", &inv.key, &int(&inv.value)], inv).await,
        (_, F::Add) => write(conn, &["SADD", &inv.key, &int(&inv.value)], inv).await,
        (_, F::Append) => write(conn, &["RPUSH", &inv.key, &int(&inv.value)], inv).await,
        (_, F::Incr) => match conn.call(&["INCRBY", &inv.key, &int(&inv.value)]).await {
            Ok(reply) => match crate::client::as_int(&reply) {
                Ok(Some(v)) => Completion::Ok(Value::Int(v)),
                // The write happened, its result is not what INCRBY returns: keep it unknown.
                Ok(None) | Err(_) => Completion::Info(format!("odd INCRBY reply {reply:?}")),
            },
            Err(e) => write_error(e),
        },
        (_, F::Cas) => Completion::Fail(format!("the {kind} workload has no cas")),
    }
}

async fn read(kind: WorkloadKind, conn: &mut Conn, inv: &Invocation) -> Completion {
    let reply = match kind {
        WorkloadKind::Register | WorkloadKind::Counter => conn.call(&["GET", &inv.key]).await,
        WorkloadKind::Set => conn.call(&["SMEMBERS", &inv.key]).await,
        WorkloadKind::Append => conn.call(&["LRANGE", &inv.key, "0", "-1"]).await,
    };
    let reply = match reply {
        Ok(reply) => reply,
        // A read changes nothing: whatever went wrong, it did not take effect. A broken
        // connection still has to be replaced.
        Err(e @ (CallError::Timeout | CallError::Io(_))) => return Completion::Info(e.to_string()),
        Err(e) => return Completion::Fail(e.to_string()),
    };
    let value = match kind {
        WorkloadKind::Register | WorkloadKind::Counter => {
            crate::client::as_int(&reply).map(|v| v.map_or(Value::Null, Value::Int))
        }
        WorkloadKind::Set | WorkloadKind::Append => {
            crate::client::as_ints(&reply).map(|mut vs| {
                if kind == WorkloadKind::Set {
                    vs.sort_unstable(); // SMEMBERS has no order; sorted keeps reports readable
                }
                Value::List(vs)
            })
        }
    };
    match value {
        Ok(v) => Completion::Ok(v),
        Err(why) => Completion::Fail(why),
    }
}

async fn write(conn: &mut Conn, args: &[&str], inv: &Invocation) -> Completion {
    match conn.call(args).await {
        Ok(_) => Completion::Ok(inv.value.clone()),
        Err(e) => write_error(e),
    }
}

/// A write's error: failed only if it certainly did not take effect.
fn write_error(e: CallError) -> Completion {
    if e.certainly_not_applied() {
        Completion::Fail(e.to_string())
    } else {
        Completion::Info(e.to_string())
    }
}

fn int(v: &Value) -> String {
    match v {
        Value::Int(v) => v.to_string(),
        other => other.to_string(),
    }
}

/// Keys that are retired after a number of operations, so that no key's history grows past
/// what its checker handles; a fresh key takes each retired one's place.
#[derive(Debug)]
struct RotatingKeys {
    prefix: &'static str,
    active: Vec<(u64, usize)>,
    next_id: u64,
    ops_per_key: usize,
}

impl RotatingKeys {
    fn new(prefix: &'static str, count: usize, ops_per_key: usize) -> Self {
        let count = count.max(1);
        RotatingKeys {
            prefix,
            active: (0..count as u64).map(|id| (id, ops_per_key)).collect(),
            next_id: count as u64,
            ops_per_key,
        }
    }

    /// A key for one more operation, and its id.
    fn pick(&mut self, rng: &mut StdRng) -> (u64, String) {
        use rand::Rng;
        let i = rng.random_range(0..self.active.len());
        let (id, left) = &mut self.active[i];
        let picked = *id;
        *left -= 1;
        if *left == 0 {
            self.active[i] = (self.next_id, self.ops_per_key);
            self.next_id += 1;
        }
        (picked, self.name(picked))
    }

    fn name(&self, id: u64) -> String {
        format!("jepsen:{}:{id}", self.prefix)
    }

    /// Every key handed out so far.
    fn all(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.next_id).map(|id| self.name(id))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn rotating_keys_retire_after_their_budget() {
        let mut keys = RotatingKeys::new("r", 2, 3);
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..30 {
            *counts.entry(keys.pick(&mut rng).1).or_insert(0) += 1;
        }
        assert!(counts.values().all(|&n| n <= 3), "{counts:?}");
        assert_eq!(counts.values().sum::<i32>(), 30);
        assert_eq!(keys.all().count() as u64, keys.next_id);
        assert!(keys.next_id >= 10, "30 picks at 3 per key need at least 10 keys");
    }
}
