//! The register workload: reads, writes of unique values and compare-and-set on rotating keys,
//! checked for linearizability.
//!
//! Compare-and-set is `WATCH k`, `GET k`, and when the value is the expected one `MULTI`,
//! `SET k new`, `EXEC`: EXEC applies the SET only if nobody wrote `k` since the WATCH, so the
//! operation is atomic. It failed for certain when the value differed (nothing was written),
//! when EXEC answered nil (the watch fired) or when anything before EXEC went wrong; an EXEC
//! whose reply never came is unknown.

use std::collections::HashMap;

use protocol::frame::Frame;
use rand::rngs::StdRng;
use rand::Rng;

use super::{write_error, Completion, Generator, Invocation, RotatingKeys};
use crate::client::{as_int, CallError, Conn};
use crate::history::{Value, F};

/// Operations per key before it is retired: keeps every key's search small.
const OPS_PER_KEY: usize = 300;

pub struct RegisterGen {
    keys: RotatingKeys,
    next_value: i64,
    /// The last value generated for each key, the usual expected value of a cas.
    last: HashMap<u64, i64>,
}

impl RegisterGen {
    pub fn new(keys: usize) -> Self {
        RegisterGen {
            keys: RotatingKeys::new("register", keys, OPS_PER_KEY),
            next_value: 1,
            last: HashMap::new(),
        }
    }
}

impl Generator for RegisterGen {
    fn next(&mut self, rng: &mut StdRng) -> Invocation {
        let (id, key) = self.keys.pick(rng);
        let roll = rng.random_range(0..10);
        let (f, value) = if roll < 5 {
            (F::Read, Value::Null)
        } else {
            let new = self.next_value;
            self.next_value += 1;
            let old = self.last.insert(id, new);
            if roll < 8 {
                (F::Write, Value::Int(new))
            } else {
                (F::Cas, Value::Cas { old, new })
            }
        };
        Invocation { f, key, value }
    }

    fn final_reads(&self) -> Vec<Invocation> {
        Vec::new()
    }
}

/// Compare-and-set through WATCH / MULTI / EXEC.
pub async fn cas(conn: &mut Conn, inv: &Invocation) -> Completion {
    let Value::Cas { old, new } = inv.value else {
        return Completion::Fail(format!("a cas needs {{old, new}}, not {}", inv.value));
    };
    // Nothing before EXEC writes: any failure up to there is a certain failure (the connection
    // is dropped all the same when it broke).
    let before_exec = |e: CallError| match e {
        CallError::Reply(text) => Completion::Fail(text),
        other => Completion::Info(format!("before EXEC, nothing written: {other}")),
    };
    if let Err(e) = conn.call(&["WATCH", &inv.key]).await {
        return before_exec(e);
    }
    let current = match conn.call(&["GET", &inv.key]).await {
        Ok(reply) => match as_int(&reply) {
            Ok(v) => v,
            Err(why) => return Completion::Fail(why),
        },
        Err(e) => return before_exec(e),
    };
    if current != old {
        return match conn.call(&["UNWATCH"]).await {
            Ok(_) => Completion::Fail(format!("value is {current:?}")),
            Err(e) => before_exec(e),
        };
    }
    if let Err(e) = conn.call(&["MULTI"]).await {
        return before_exec(e);
    }
    match conn.call(&["SET", &inv.key, &new.to_string()]).await {
        Ok(Frame::Simple(s)) if &s[..] == b"QUEUED" => {}
        Ok(other) => {
            let _ = conn.call(&["DISCARD"]).await;
            return Completion::Fail(format!("SET inside MULTI answered {other:?}"));
        }
        Err(e) => {
            let _ = conn.call(&["DISCARD"]).await;
            return before_exec(e);
        }
    }
    match conn.call(&["EXEC"]).await {
        Ok(Frame::Array(replies)) if replies.len() == 1 => match &replies[0] {
            Frame::Simple(s) if &s[..] == b"OK" => Completion::Ok(inv.value.clone()),
            other => Completion::Info(format!("EXEC ran SET with reply {other:?}")),
        },
        Ok(Frame::NullArray) | Ok(Frame::Null) => Completion::Fail("the watch fired".into()),
        Ok(other) => Completion::Info(format!("odd EXEC reply {other:?}")),
        Err(e) => write_error(e),
    }
}
