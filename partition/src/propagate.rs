//! Propagation: every change to the dataset, as the commands that replay it, in the order the
//! changes happened. The AOF appends this stream and replicas apply it, so a replayed stream
//! must rebuild exactly the dataset the master holds — which is why some commands are written
//! to it in another form than the client sent, as Redis's `call()` / `alsoPropagate` do:
//!
//! - relative expiries become absolute (`EXPIRE k 10` → `PEXPIREAT k <ms>`, `SET … EX 10` →
//!   `SET … PXAT <ms>`): a replay a day later must not give the key a new lease of life;
//! - random choices become what was chosen (`SPOP` → `SREM` of the popped members);
//! - float arithmetic becomes its result (`INCRBYFLOAT` → `SET … KEEPTTL`), so that a replica
//!   never recomputes a value that could round differently;
//! - a served blocking command becomes its non-blocking form (`BLPOP` → `LPOP`), so a replica
//!   never waits;
//! - keys deleted by the master on its own (lazy and active expiry, eviction) become `DEL`,
//!   written before the command whose lookup deleted them;
//! - the writes of one EXEC are wrapped in `MULTI` … `EXEC`, so a replica applies them
//!   atomically too.
//!
//! The rule that decides *whether* a command is propagated is Redis's: it is when it changed
//! the dataset (`State::dirty` moved while it ran). Commands change the form through
//! [`Propagation::rewrite`]; the dispatcher does the rest.
//!
//! The commands of one batch collect here, under the command lock, as RESP; the connection
//! hands them to the [`crate::write_log::WriteLog`] at the end of the batch, still under the
//! lock, so the log's order is the execution order.

use bytes::{BufMut, BytesMut};

/// The commands propagated since the last [`Propagation::take`], plus the rewrite of the
/// command running now.
#[derive(Debug, Default)]
pub struct Propagation {
    /// Whether anyone consumes the stream (the AOF is on, or a replication backlog exists).
    /// While nobody does, commands are not encoded at all.
    pub enabled: bool,
    pending: BytesMut,
    /// The commands the running command must be propagated as, when not as sent (set by the
    /// command, taken by the dispatcher once it returns; empty: not at all).
    rewrite: Option<Vec<Vec<Vec<u8>>>>,
    /// Inside EXEC: whether `MULTI` was already written for this transaction. `MULTI` is
    /// written before the transaction's first write, so a transaction of reads leaves no
    /// trace.
    exec: Option<bool>,
}

impl Propagation {
    /// Appends one command to the stream (an expired or evicted key's `DEL`, a rewrite).
    pub fn push<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if !self.enabled {
            return;
        }
        if self.exec == Some(false) {
            self.exec = Some(true);
            encode(&mut self.pending, &[b"MULTI"]);
        }
        encode(&mut self.pending, args);
    }

    /// The running command is to be propagated as `args` instead of as sent.
    pub fn rewrite<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if !self.enabled {
            return;
        }
        let command = args.iter().map(|a| a.as_ref().to_vec()).collect();
        self.rewrite.get_or_insert_with(Vec::new).push(command);
    }

    /// The running command changed nothing that must be replayed (its `dirty` count is for
    /// the save points only).
    pub fn suppress(&mut self) {
        if self.enabled {
            self.rewrite = Some(Vec::new());
        }
    }

    /// Called by the dispatcher after a command that changed the dataset: propagates it as
    /// sent, or as rewritten.
    pub fn command_done<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        match self.rewrite.take() {
            None => self.push(args),
            Some(list) => {
                for command in list {
                    self.push(&command);
                }
            }
        }
    }

    /// Forgets a rewrite left by a command that in the end changed nothing.
    pub fn discard_rewrite(&mut self) {
        self.rewrite = None;
    }

    /// EXEC begins running its queue.
    pub fn begin_exec(&mut self) {
        self.exec = Some(false);
    }

    /// EXEC finished its queue: closes the `MULTI` it opened, if any write happened.
    pub fn end_exec(&mut self) {
        if self.exec.take() == Some(true) {
            encode(&mut self.pending, &[b"EXEC"]);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Bytes propagated and not yet in the write log.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The stream written since the last call, as one buffer (for the write log).
    pub fn take(&mut self) -> bytes::Bytes {
        self.pending.split().freeze()
    }
}

/// Appends `args` as a RESP array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    let mut n = itoa::Buffer::new();
    let size: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(size + 16);
    out.put_u8(b'*');
    out.put_slice(n.format(args.len()).as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.put_u8(b'$');
        out.put_slice(n.format(a.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Propagation {
        Propagation { enabled: true, ..Propagation::default() }
    }

    #[test]
    fn commands_are_resp_arrays() {
        let mut p = enabled();
        p.command_done(&[&b"SET"[..], b"k", b""]);
        assert_eq!(&p.take()[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        assert!(p.is_empty());
    }

    #[test]
    fn a_rewrite_replaces_the_command_once() {
        let mut p = enabled();
        p.rewrite(&["PEXPIREAT", "k", "100"]);
        p.command_done(&["EXPIRE", "k", "10"]);
        p.command_done(&["DEL", "k"]);
        assert_eq!(
            &p.take()[..],
            b"*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$3\r\n100\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
        );
    }

    #[test]
    fn suppressed_commands_leave_nothing() {
        let mut p = enabled();
        p.suppress();
        p.command_done(&["PFCOUNT", "k"]);
        assert!(p.is_empty());
    }

    #[test]
    fn exec_wraps_only_transactions_that_wrote() {
        let mut p = enabled();
        p.begin_exec();
        p.end_exec();
        assert!(p.is_empty(), "a transaction of reads leaves nothing");
        p.begin_exec();
        p.command_done(&["INCR", "a"]);
        p.command_done(&["INCR", "b"]);
        p.end_exec();
        let text = String::from_utf8(p.take().to_vec()).unwrap();
        assert!(text.starts_with("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR"), "{text}");
        assert!(text.ends_with("*1\r\n$4\r\nEXEC\r\n"), "{text}");
    }

    #[test]
    fn disabled_propagation_encodes_nothing() {
        let mut p = Propagation::default();
        p.rewrite(&["X"]);
        p.command_done(&["SET", "k", "v"]);
        assert!(p.is_empty());
    }
}
