//! The operation record and the `history.jsonl` format.
//!
//! A run's history is a sequence of [`Op`] records, one JSON object per line, in the order they
//! were recorded: every logical client (a *process*) records an `invoke` before it sends a
//! request and exactly one completion after it: `ok` (it took effect, with the result), `fail`
//! (it certainly did not take effect) or `info` (the outcome is unknown: a timeout or a broken
//! connection is never assumed to have failed). A process has at most one operation in flight.
//!
//! ```text
//! {"index":0,"time":1200,"process":3,"kind":"invoke","f":"write","key":"r7","value":42}
//! {"index":1,"time":9800,"process":3,"kind":"ok","f":"write","key":"r7","value":42}
//! {"index":2,"time":9900,"process":3,"kind":"invoke","f":"read","key":"r7"}
//! {"index":3,"time":1000000000,"process":3,"kind":"info","f":"read","key":"r7","error":"timeout"}
//! ```
//!
//! Checkers do not read raw records: [`History::operations`] pairs every invoke with its
//! completion into an [`Operation`] (an invoke never completed becomes `info`) and rejects
//! histories that break the rules above with an [`Error`] instead of a panic.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a record says about its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// The client is about to send the request.
    Invoke,
    /// The operation took effect; the record carries its result.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// The outcome is unknown: it may have taken effect at any time after its invoke, or never.
    Info,
}

/// How a paired [`Operation`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

/// The function an operation applies. Which values go with which function is documented on
/// [`Value`]; each checker models a few of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum F {
    /// Read a register (GET), a set (SMEMBERS), a list (LRANGE 0 -1) or a counter (GET).
    Read,
    /// Write a register (SET).
    Write,
    /// Compare-and-set a register.
    Cas,
    /// Add an element to a set (SADD).
    Add,
    /// Append a value to a list (RPUSH).
    Append,
    /// Increment a counter (INCRBY).
    Incr,
}

impl fmt::Display for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            F::Read => "read",
            F::Write => "write",
            F::Cas => "cas",
            F::Add => "add",
            F::Append => "append",
            F::Incr => "incr",
        })
    }
}

/// The value of a record. In JSON it is `null`, an integer, an array of integers, or
/// `{"old": …, "new": …}`, so the common cases stay readable.
///
/// | f | invoke value | ok value |
/// |---|---|---|
/// | `read` (register, counter) | `Null` | `Int` read, `Null` = nil |
/// | `read` (set, list) | `Null` | `List` of the elements, in the server's order |
/// | `write` | `Int` written | the same |
/// | `cas` | `Cas { old, new }` (`old: None` = the key is absent) | the same; a cas that did not match is `fail` |
/// | `add`, `append` | `Int` element | the same |
/// | `incr` | `Int` amount | `Int` value after the increment (INCRBY's reply), or `Null` |
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    #[default]
    Null,
    Int(i64),
    List(Vec<i64>),
    Cas {
        old: Option<i64>,
        new: i64,
    },
}

impl Value {
    /// Whether this is [`Value::Null`] (serde's `skip_serializing_if` needs a function).
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("nil"),
            Value::Int(v) => write!(f, "{v}"),
            Value::List(vs) => write!(f, "{vs:?}"),
            Value::Cas { old: Some(old), new } => write!(f, "{old}->{new}"),
            Value::Cas { old: None, new } => write!(f, "nil->{new}"),
        }
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, 0-based, assigned by the [`Recorder`].
    pub index: u64,
    /// Monotonic nanoseconds since the start of the run.
    pub time: u64,
    /// The logical client.
    pub process: u64,
    pub kind: OpKind,
    pub f: F,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
    /// Why an operation failed or has an unknown outcome (for the report only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// An invoke; `index` and `time` are stamped by the [`Recorder`].
    pub fn invoke(process: u64, f: F, key: Option<&str>, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process,
            kind: OpKind::Invoke,
            f,
            key: key.map(str::to_owned),
            value,
            error: None,
        }
    }

    /// The `ok` completion of this invoke, with its result.
    pub fn ok(&self, value: Value) -> Op {
        self.complete(OpKind::Ok, value, None)
    }

    /// The `fail` completion of this invoke: it certainly did not take effect.
    pub fn fail(&self, error: impl Into<String>) -> Op {
        self.complete(OpKind::Fail, self.value.clone(), Some(error.into()))
    }

    /// The `info` completion of this invoke: its outcome is unknown.
    pub fn info(&self, error: impl Into<String>) -> Op {
        self.complete(OpKind::Info, self.value.clone(), Some(error.into()))
    }

    fn complete(&self, kind: OpKind, value: Value, error: Option<String>) -> Op {
        Op { kind, value, error, ..self.clone() }
    }
}

/// Writes operations to a `history.jsonl`, one line each, flushed at once so that a run that
/// crashes leaves every operation it recorded on disk.
pub struct HistoryWriter<W: Write> {
    out: BufWriter<W>,
}

impl HistoryWriter<File> {
    /// Creates (truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|source| Error::Io {
            context: format!("creating {}", path.display()),
            source,
        })?;
        Ok(HistoryWriter::new(file))
    }
}

impl<W: Write> HistoryWriter<W> {
    pub fn new(out: W) -> Self {
        HistoryWriter { out: BufWriter::new(out) }
    }

    /// Appends one operation as a JSON line and flushes it.
    pub fn write(&mut self, op: &Op) -> Result<()> {
        serde_json::to_writer(&mut self.out, op)
            .map_err(|source| Error::Encode { index: op.index, source })?;
        self.out.write_all(b"\n").and_then(|()| self.out.flush()).map_err(|source| Error::Io {
            context: format!("writing operation {}", op.index),
            source,
        })
    }

    /// The underlying writer (everything is already flushed).
    pub fn into_inner(self) -> Result<W> {
        self.out.into_inner().map_err(|e| Error::Io {
            context: "flushing the history".to_owned(),
            source: e.into_error(),
        })
    }
}

/// Stamps operations with their index and time, writes them out and keeps the history in
/// memory for the checkers. Clients share one recorder (behind a mutex): stamping the time under
/// the same lock that orders the records makes `index` and `time` agree, and since an invoke is
/// recorded before its request is sent and a completion after its reply arrived, every
/// operation's interval covers the real one — which can only make a checker more lenient, never
/// report a false anomaly.
pub struct Recorder<W: Write> {
    writer: HistoryWriter<W>,
    start: Instant,
    history: History,
}

impl Recorder<File> {
    /// A recorder writing to a new file at `path`; time 0 is now.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Recorder::new(HistoryWriter::create(path)?, Instant::now()))
    }
}

impl<W: Write> Recorder<W> {
    /// A recorder whose time 0 is `start` (the run's start).
    pub fn new(writer: HistoryWriter<W>, start: Instant) -> Self {
        Recorder { writer, start, history: History::default() }
    }

    /// Records `op` now: stamps `index` and `time`, writes it, and returns the stamped record
    /// (keep an invoke to build its completion with [`Op::ok`], [`Op::fail`], [`Op::info`]).
    pub fn record(&mut self, op: Op) -> Result<Op> {
        let time = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Never go back in time, even if the caller's `start` is later than a previous stamp.
        let time = self.history.ops.last().map_or(time, |last| time.max(last.time));
        self.record_at(op, time)
    }

    /// Records `op` with an explicit time (monotonic nanoseconds since the run's start).
    pub fn record_at(&mut self, mut op: Op, time: u64) -> Result<Op> {
        op.index = self.history.ops.len() as u64;
        op.time = time;
        self.writer.write(&op)?;
        self.history.ops.push(op.clone());
        Ok(op)
    }

    /// The history recorded so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Ends the recording: the history and the underlying writer.
    pub fn finish(self) -> Result<(History, W)> {
        Ok((self.history, self.writer.into_inner()?))
    }
}

/// A whole history: the records in the order they were recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub ops: Vec<Op>,
}

impl History {
    pub fn from_ops(ops: Vec<Op>) -> Self {
        History { ops }
    }

    /// Reads a `history.jsonl` file. Blank lines are skipped; errors name the line.
    pub fn read_jsonl(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
        History::from_reader(BufReader::new(file), &path.display().to_string())
    }

    /// Parses `history.jsonl` text from `reader`; `name` is used in errors (a file name).
    pub fn from_reader(reader: impl BufRead, name: &str) -> Result<Self> {
        let mut ops = Vec::new();
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|source| Error::Io {
                context: format!("reading {name} line {}", n + 1),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let op = serde_json::from_str(&line).map_err(|source| Error::Parse {
                file: name.to_owned(),
                line: n + 1,
                source,
            })?;
            ops.push(op);
        }
        Ok(History { ops })
    }

    /// Writes the whole history as `history.jsonl`.
    pub fn write_jsonl(&self, out: impl Write) -> Result<()> {
        let mut writer = HistoryWriter::new(out);
        for op in &self.ops {
            writer.write(op)?;
        }
        Ok(())
    }

    /// Pairs every invoke with its completion, in invoke order. An invoke with no completion
    /// by the end of the history is `info` (the run ended before its outcome was known).
    pub fn operations(&self) -> Result<Vec<Operation>> {
        let mut operations: Vec<Operation> = Vec::new();
        // process → position in `operations` of its outstanding invoke.
        let mut outstanding: HashMap<u64, usize> = HashMap::new();
        for op in &self.ops {
            match op.kind {
                OpKind::Invoke => {
                    if let Some(&at) = outstanding.get(&op.process) {
                        return Err(Error::AlreadyOutstanding {
                            index: op.index,
                            process: op.process,
                            outstanding: operations[at].invoke_index,
                        });
                    }
                    outstanding.insert(op.process, operations.len());
                    operations.push(Operation {
                        process: op.process,
                        f: op.f,
                        key: op.key.clone(),
                        value: op.value.clone(),
                        output: Value::Null,
                        outcome: Outcome::Info,
                        invoke_index: op.index,
                        complete_index: None,
                        start: op.time,
                        end: None,
                        error: None,
                    });
                }
                kind => {
                    let Some(at) = outstanding.remove(&op.process) else {
                        return Err(Error::CompletionWithoutInvoke {
                            index: op.index,
                            process: op.process,
                        });
                    };
                    let operation = &mut operations[at];
                    let mismatch = |detail: String| Error::CompletionMismatch {
                        index: op.index,
                        process: op.process,
                        detail,
                    };
                    if op.f != operation.f {
                        return Err(mismatch(format!("f {} after {}", op.f, operation.f)));
                    }
                    if op.key != operation.key {
                        return Err(mismatch(format!(
                            "key {:?} after {:?}",
                            op.key, operation.key
                        )));
                    }
                    if op.time < operation.start {
                        return Err(mismatch(format!(
                            "completed at {} before its invoke at {}",
                            op.time, operation.start
                        )));
                    }
                    operation.outcome = match kind {
                        OpKind::Ok => Outcome::Ok,
                        OpKind::Fail => Outcome::Fail,
                        _ => Outcome::Info,
                    };
                    operation.output = op.value.clone();
                    operation.complete_index = Some(op.index);
                    operation.end = Some(op.time);
                    operation.error.clone_from(&op.error);
                }
            }
        }
        Ok(operations)
    }
}

/// An invoke paired with its completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub process: u64,
    pub f: F,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The invoke's value (the argument).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
    /// The completion's value (the result); `Null` if the operation never completed.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub output: Value,
    pub outcome: Outcome,
    pub invoke_index: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_index: Option<u64>,
    /// Invoke time.
    pub start: u64,
    /// Completion time, if it completed (for `info` only the time its outcome became unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Operation {
    /// The time by which the operation had certainly taken effect or certainly not: its
    /// completion time for `ok` and `fail`, `None` (+∞) for `info`, which may take effect later.
    pub fn known_end(&self) -> Option<u64> {
        match self.outcome {
            Outcome::Ok | Outcome::Fail => self.end,
            Outcome::Info => None,
        }
    }

    /// Whether the operation completed (`ok` or `fail`) before `time`.
    pub fn completed_before(&self, time: u64) -> bool {
        self.known_end().is_some_and(|end| end < time)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} p{} {}", self.invoke_index, self.process, self.f)?;
        if let Some(key) = &self.key {
            write!(f, " {key}")?;
        }
        if !self.value.is_null() {
            write!(f, " {}", self.value)?;
        }
        let outcome = match self.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        write!(f, " → {outcome}")?;
        if self.outcome == Outcome::Ok && self.f == F::Read
            || self.f == F::Incr && !self.output.is_null()
        {
            write!(f, " {}", self.output)?;
        }
        match self.end {
            Some(end) => write!(f, " [{}, {}]", self.start, end),
            None => write!(f, " [{}, …]", self.start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        let mut r = Recorder::new(HistoryWriter::new(Vec::new()), Instant::now());
        let w = r.record_at(Op::invoke(0, F::Write, Some("k"), Value::Int(1)), 10).unwrap();
        let rd = r.record_at(Op::invoke(1, F::Read, Some("k"), Value::Null), 11).unwrap();
        r.record_at(w.ok(Value::Int(1)), 20).unwrap();
        r.record_at(rd.info("timeout"), 30).unwrap();
        let c = r
            .record_at(Op::invoke(0, F::Cas, Some("k"), Value::Cas { old: None, new: 2 }), 40)
            .unwrap();
        r.record_at(c.fail("mismatch"), 41).unwrap();
        r.record_at(Op::invoke(2, F::Append, Some("l"), Value::Int(7)), 50).unwrap();
        r.finish().unwrap().0
    }

    #[test]
    fn jsonl_round_trips_and_lines_are_readable() {
        let history = sample();
        let mut out = Vec::new();
        history.write_jsonl(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"index":0,"time":10,"process":0,"kind":"invoke","f":"write","key":"k","value":1}"#
        );
        assert!(text.contains(r#""value":{"old":null,"new":2}"#), "{text}");
        assert!(text.contains(r#""error":"timeout""#), "{text}");
        let back = History::from_reader(text.as_bytes(), "mem").unwrap();
        assert_eq!(back, history);
    }

    #[test]
    fn recorder_writes_each_op_as_it_goes() {
        let mut r = Recorder::new(HistoryWriter::new(Vec::new()), Instant::now());
        let a = r.record(Op::invoke(0, F::Read, Some("k"), Value::Null)).unwrap();
        let b = r.record(a.ok(Value::List(vec![1, 2]))).unwrap();
        assert_eq!((a.index, b.index), (0, 1));
        assert!(b.time >= a.time);
        let (history, bytes) = r.finish().unwrap();
        assert_eq!(history.ops.len(), 2);
        let back = History::from_reader(&bytes[..], "mem").unwrap();
        assert_eq!(back, history);
    }

    #[test]
    fn recorder_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("jepsen-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let mut r = Recorder::create(&path).unwrap();
        let a = r.record(Op::invoke(4, F::Incr, Some("c"), Value::Int(3))).unwrap();
        r.record(a.ok(Value::Int(3))).unwrap();
        let (history, _) = r.finish().unwrap();
        assert_eq!(History::read_jsonl(&path).unwrap(), history);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parse_errors_name_the_line() {
        let text = "{\"index\":0,\"time\":1,\"process\":0,\"kind\":\"invoke\",\"f\":\"read\"}\n\n\
                    {\"index\":1,\"time\":2,\"process\":0,\"kind\":\"maybe\",\"f\":\"read\"}\n";
        let err = History::from_reader(text.as_bytes(), "history.jsonl").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
        assert!(err.to_string().starts_with("history.jsonl:3:"), "{err}");
        let err = History::read_jsonl(Path::new("/nonexistent/history.jsonl")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/history.jsonl"), "{err}");
    }

    #[test]
    fn pairs_invokes_with_completions() {
        let ops = sample().operations().unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(
            (ops[0].outcome, ops[0].end, ops[0].known_end()),
            (Outcome::Ok, Some(20), Some(20))
        );
        assert_eq!(ops[1].outcome, Outcome::Info);
        assert_eq!((ops[1].end, ops[1].known_end()), (Some(30), None));
        assert_eq!(ops[1].error.as_deref(), Some("timeout"));
        assert_eq!(ops[2].outcome, Outcome::Fail);
        // Never completed: info, with no end at all.
        assert_eq!(
            (ops[3].outcome, ops[3].end, ops[3].complete_index),
            (Outcome::Info, None, None)
        );
        assert!(ops[0].completed_before(21) && !ops[0].completed_before(20));
        assert_eq!(ops[0].to_string(), "#0 p0 write k 1 → ok [10, 20]");
    }

    fn op(index: u64, process: u64, kind: OpKind, f: F) -> Op {
        Op { index, time: index, process, kind, f, key: None, value: Value::Null, error: None }
    }

    #[test]
    fn completion_without_invoke_is_an_error() {
        let h = History::from_ops(vec![op(0, 1, OpKind::Ok, F::Read)]);
        assert!(matches!(
            h.operations(),
            Err(Error::CompletionWithoutInvoke { index: 0, process: 1 })
        ));
        // The second completion of one invoke has no invoke either.
        let h = History::from_ops(vec![
            op(0, 1, OpKind::Invoke, F::Read),
            op(1, 1, OpKind::Ok, F::Read),
            op(2, 1, OpKind::Fail, F::Read),
        ]);
        assert!(matches!(h.operations(), Err(Error::CompletionWithoutInvoke { index: 2, .. })));
    }

    #[test]
    fn two_outstanding_ops_are_an_error() {
        let h = History::from_ops(vec![
            op(0, 1, OpKind::Invoke, F::Read),
            op(1, 2, OpKind::Invoke, F::Read),
            op(2, 1, OpKind::Invoke, F::Write),
        ]);
        let err = h.operations().unwrap_err();
        assert!(
            matches!(err, Error::AlreadyOutstanding { index: 2, process: 1, outstanding: 0 }),
            "{err}"
        );
    }

    #[test]
    fn mismatched_completion_is_an_error() {
        let h = History::from_ops(vec![
            op(0, 1, OpKind::Invoke, F::Read),
            op(1, 1, OpKind::Ok, F::Write),
        ]);
        assert!(matches!(h.operations(), Err(Error::CompletionMismatch { index: 1, .. })));
        let mut done = op(1, 1, OpKind::Ok, F::Read);
        done.key = Some("other".into());
        let h = History::from_ops(vec![op(0, 1, OpKind::Invoke, F::Read), done]);
        assert!(matches!(h.operations(), Err(Error::CompletionMismatch { .. })));
        let mut early = op(1, 1, OpKind::Ok, F::Read);
        early.time = 0;
        let mut late = op(0, 1, OpKind::Invoke, F::Read);
        late.time = 5;
        let h = History::from_ops(vec![late, early]);
        assert!(matches!(h.operations(), Err(Error::CompletionMismatch { .. })));
    }
}
