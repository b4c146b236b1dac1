//! Replaying an incremental AOF file: its commands run one by one, as a client that the server
//! obeys, against the state being loaded.
//!
//! What a file may end with decides what a crash may leave: the last file may end in the
//! middle of a command (the power went while it was written) or inside a `MULTI` whose `EXEC`
//! never made it; that tail was never acknowledged (under `always`) or is within the second
//! `everysec` may lose, so it is cut off with a warning naming the offset, as Redis's
//! `aof-load-truncated yes`. Anything else that does not parse — garbage in the middle, a
//! command the server does not know, a tail in an earlier file — stops the start-up with an
//! error that names the file and the offset: nothing is dropped silently.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use bytes::BytesMut;
use protocol::{ParseLimits, ReplyWriter, RequestParser};

use crate::client::Client;
use crate::cmd::{self, Ctx};
use crate::server::Server;
use crate::state::State;

/// Why a file could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{file}: {reason} at offset {offset}")]
    Corrupt { file: String, offset: u64, reason: String },
    #[error("{file}: {cause}")]
    Io { file: String, cause: std::io::Error },
}

/// What was replayed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub commands: u64,
    /// Length of the valid part of the file.
    pub valid_len: u64,
    /// A torn tail was found after `valid_len` (only allowed in the last file).
    pub truncated: bool,
}

/// How much of the file is read at a time.
const CHUNK: usize = 1 << 20;

/// Replays `path` into `state`. `tail_may_be_torn`: this is the last file and a torn tail is
/// cut off instead of refused. The caller truncates the file to `valid_len` when
/// `truncated` is reported.
pub fn replay(
    server: &Server,
    state: &mut State,
    path: &Path,
    tail_may_be_torn: bool,
) -> Result<Replayed, ReplayError> {
    let name = path.display().to_string();
    let io = |cause| ReplayError::Io { file: name.clone(), cause };
    let corrupt =
        |offset: u64, reason: String| ReplayError::Corrupt { file: name.clone(), offset, reason };
    let file = File::open(path).map_err(io)?;
    // Exactly the bytes the file holds now (nothing appends while it loads).
    let len = file.metadata().map_err(io)?.len();
    let mut file = file.take(len);
    // Arguments as large as the server accepts from clients, and no more.
    let limits =
        ParseLimits { max_bulk_len: server.config().proto_max_bulk_len, ..ParseLimits::default() };
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::with_capacity(CHUNK);
    let mut fed = 0u64;
    let mut eof = false;
    let mut client = Client::internal();
    let mut out = ReplyWriter::default();
    let mut done = Replayed::default();
    // Where the command being parsed began, and where the open MULTI began.
    let mut command_start = 0u64;
    let mut multi_start: Option<u64> = None;
    let mut expect_start = true;
    loop {
        if expect_start && !buf.is_empty() && buf[0] != b'*' {
            return Err(corrupt(command_start, "expected a command ('*')".into()));
        }
        let parsed = parser
            .parse(&mut buf, true)
            .map_err(|e| corrupt(command_start, format!("bad command: {e}")))?;
        let Some(args) = parsed else {
            if eof {
                break;
            }
            expect_start = buf.is_empty() && expect_start;
            buf.reserve(CHUNK);
            let n = read_some(&mut file, &mut buf).map_err(io)?;
            fed += n as u64;
            eof = n == 0;
            continue;
        };
        let end = fed - buf.len() as u64;
        if args.is_empty() {
            return Err(corrupt(command_start, "empty command".into()));
        }
        if cmd::lookup(&args[0]).is_none() {
            return Err(corrupt(
                command_start,
                format!("unknown command '{}'", String::from_utf8_lossy(&args[0])),
            ));
        }
        if cmd::is(&args[0], "multi") {
            multi_start = Some(command_start);
        }
        let mut ctx = Ctx {
            server,
            state: &mut *state,
            client: &mut client,
            out: &mut out,
            now_ms: crate::time::unix_ms(),
        };
        cmd::dispatch(&mut ctx, &args, std::time::Instant::now());
        out.clear();
        if client.multi.is_none() {
            multi_start = None;
            done.valid_len = end;
        }
        done.commands += 1;
        command_start = end;
        expect_start = true;
    }
    let torn = fed > done.valid_len;
    if torn {
        let at = multi_start.unwrap_or(command_start).min(done.valid_len);
        if !tail_may_be_torn {
            return Err(corrupt(at, "the file ends in the middle of a command".into()));
        }
        done.truncated = true;
        if client.multi.is_some() {
            // The queued commands never ran: dropping them leaves the state as it was.
            cmd::multi::discard_transaction(state, &mut client);
        }
    }
    Ok(done)
}

fn read_some(file: &mut impl Read, buf: &mut BytesMut) -> std::io::Result<usize> {
    let start = buf.len();
    buf.resize(start + CHUNK, 0);
    loop {
        match file.read(&mut buf[start..]) {
            Ok(n) => {
                buf.truncate(start + n);
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
}
