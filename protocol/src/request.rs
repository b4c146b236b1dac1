//! The server-side request parser: RESP multibulk commands (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
//! and inline commands (`GET k\r\n`, what telnet sends), with Redis's limits and error texts.
//!
//! The parser is incremental: it remembers how far it has validated a partially received
//! command, so a command arriving in many small reads (or a huge pipeline) is scanned once, not
//! once per read. Arguments are returned as [`Bytes`] slices of the connection's read buffer,
//! so bulk payloads are never copied by the parser.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Error, Result};

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline command, and the longest length line.
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Limits applied while parsing; every one is a server parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`: the largest single argument (default 512 MB).
    pub max_bulk_len: usize,
    /// The most arguments in one command (default 1 048 576).
    pub max_multibulk_len: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_bulk_len: 512 * 1024 * 1024, max_multibulk_len: 1024 * 1024 }
    }
}

/// Where the parser stands inside a partially received multibulk command.
#[derive(Debug, Default)]
struct Pending {
    /// Arguments still to read.
    remaining: usize,
    /// Bytes of the buffer already validated (always a boundary between length lines/payloads).
    pos: usize,
    /// (offset, len) of each argument read so far.
    args: Vec<(usize, usize)>,
}

/// One connection's request parser. Call [`RequestParser::parse`] after each read.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: ParseLimits,
    pending: Option<Pending>,
}

impl RequestParser {
    pub fn new(limits: ParseLimits) -> Self {
        RequestParser { limits, pending: None }
    }

    pub fn set_limits(&mut self, limits: ParseLimits) {
        self.limits = limits;
    }

    /// Bytes the buffer must hold before the pending command can complete, when known (the end
    /// of a bulk payload being received). Lets the caller reserve once for a large argument.
    pub fn needed(&self, buf: &BytesMut) -> Option<usize> {
        let p = self.pending.as_ref()?;
        if buf.len() <= p.pos || buf[p.pos] != b'$' {
            return None;
        }
        let nl = find_crlf(&buf[p.pos..])?;
        let len = parse_len(&buf[p.pos + 1..p.pos + nl])?;
        usize::try_from(len).ok().map(|l| p.pos + nl + 2 + l + 2)
    }

    /// Takes the next complete command from the front of `buf`.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some(args))`: a command; `args` is empty for an
    /// empty inline line or `*0`/`*-1`, which Redis silently skips. `Err`: a protocol error; the
    /// connection must reply with it and close. `authenticated` is false while a password is
    /// required and not yet given: Redis then refuses big commands before reading them.
    pub fn parse(&mut self, buf: &mut BytesMut, authenticated: bool) -> Result<Option<Vec<Bytes>>> {
        if self.pending.is_none() {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {}
                Some(_) => return parse_inline(buf),
            }
            let Some(nl) = find_crlf(buf) else {
                if buf.len() > INLINE_MAX_SIZE {
                    return Err(Error::TooBigMultibulkCount);
                }
                return Ok(None);
            };
            if nl > INLINE_MAX_SIZE {
                return Err(Error::TooBigMultibulkCount);
            }
            let count = parse_len(&buf[1..nl]).ok_or(Error::InvalidMultibulkLength)?;
            if count > self.limits.max_multibulk_len as i64 {
                return Err(Error::InvalidMultibulkLength);
            }
            if count > 10 && !authenticated {
                return Err(Error::UnauthenticatedMultibulkLength);
            }
            if count <= 0 {
                buf.advance(nl + 2);
                return Ok(Some(Vec::new()));
            }
            let count = count as usize;
            // Don't trust the count for the allocation: grow as arguments really arrive.
            self.pending = Some(Pending {
                remaining: count,
                pos: nl + 2,
                args: Vec::with_capacity(count.min(64)),
            });
        }
        let pending = self.pending.as_mut().expect("pending set above");
        while pending.remaining > 0 {
            let pos = pending.pos;
            if pos >= buf.len() {
                return Ok(None);
            }
            if buf[pos] != b'$' {
                let got = buf[pos] as char;
                self.pending = None;
                return Err(Error::ExpectedDollar(got));
            }
            let Some(nl) = find_crlf(&buf[pos..]) else {
                if buf.len() - pos > INLINE_MAX_SIZE {
                    self.pending = None;
                    return Err(Error::TooBigBulkCount);
                }
                return Ok(None);
            };
            if nl > INLINE_MAX_SIZE {
                self.pending = None;
                return Err(Error::TooBigBulkCount);
            }
            let len = match parse_len(&buf[pos + 1..pos + nl]) {
                Some(len) if len >= 0 && len as u64 <= self.limits.max_bulk_len as u64 => {
                    len as usize
                }
                _ => {
                    self.pending = None;
                    return Err(Error::InvalidBulkLength);
                }
            };
            if len > 16384 && !authenticated {
                self.pending = None;
                return Err(Error::UnauthenticatedBulkLength);
            }
            let start = pos + nl + 2;
            // Like Redis, the two bytes after the payload are skipped, not checked.
            if buf.len() < start + len + 2 {
                return Ok(None);
            }
            pending.args.push((start, len));
            pending.pos = start + len + 2;
            pending.remaining -= 1;
        }
        let pending = self.pending.take().expect("pending set above");
        let frame = buf.split_to(pending.pos).freeze();
        Ok(Some(pending.args.iter().map(|&(off, len)| frame.slice(off..off + len)).collect()))
    }
}

/// Parses one inline command (a line of space-separated words, with Redis's quoting rules).
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(Error::TooBigInline);
        }
        return Ok(None);
    };
    if nl > INLINE_MAX_SIZE {
        return Err(Error::TooBigInline);
    }
    let mut end = nl;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    let args = split_args(&buf[..end]).ok_or(Error::UnbalancedQuotes);
    buf.advance(nl + 1);
    Ok(Some(args?.into_iter().map(Bytes::from).collect()))
}

/// Splits a line into arguments the way Redis's `sdssplitargs` does: spaces separate words;
/// `"..."` understands `\n \r \t \b \a \\ \" \xHH`; `'...'` understands `\'`; a closing quote
/// must be followed by a space or the end. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                let c = *line.get(i)?;
                if c == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or the end.
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                let c = *line.get(i)?;
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(&c) => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

/// Index of the `\r` of the first `\r\n`.
fn find_crlf(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\r') {
        let at = from + i;
        if at + 1 >= buf.len() {
            return None;
        }
        if buf[at + 1] == b'\n' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Redis's `string2ll` for length lines: optional `-`, digits, no leading zeros, no spaces.
fn parse_len(s: &[u8]) -> Option<i64> {
    crate::number::parse_i64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>> {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = p.parse(&mut buf, true)? {
            out.push(cmd);
        }
        Ok(out)
    }

    #[test]
    fn parses_multibulk_and_inline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nSET  a \"b c\"\r\nPING\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("SET"), Bytes::from("a"), Bytes::from("b c")]);
        assert_eq!(cmds[2], vec![Bytes::from("PING")]);
    }

    #[test]
    fn every_split_point_gives_the_same_commands() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\nECHO 'x y'\r\n*1\r\n$4\r\nPING\r\n";
        let whole = parse_all(input).unwrap();
        for cut in 0..input.len() {
            let mut p = RequestParser::default();
            let mut buf = BytesMut::from(&input[..cut]);
            let mut got = Vec::new();
            while let Some(c) = p.parse(&mut buf, true).unwrap() {
                got.push(c);
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(c) = p.parse(&mut buf, true).unwrap() {
                got.push(c);
            }
            assert_eq!(got, whole, "split at {cut}");
        }
    }

    #[test]
    fn errors_use_redis_texts() {
        assert_eq!(parse_all(b"*abc\r\n"), Err(Error::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1048577\r\n"), Err(Error::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(Error::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$x\r\n"), Err(Error::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$536870913\r\n"), Err(Error::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n+3\r\n"), Err(Error::ExpectedDollar('+')));
        assert_eq!(parse_all(b"SET \"a\r\n"), Err(Error::UnbalancedQuotes));
        assert_eq!(parse_all(&vec![b'a'; INLINE_MAX_SIZE + 1]), Err(Error::TooBigInline));
        let mut long = b"*".to_vec();
        long.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 1));
        assert_eq!(parse_all(&long), Err(Error::TooBigMultibulkCount));
    }

    #[test]
    fn unauthenticated_clients_get_small_limits() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(p.parse(&mut buf, false), Err(Error::UnauthenticatedMultibulkLength));
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(p.parse(&mut buf, false), Err(Error::UnauthenticatedBulkLength));
    }

    #[test]
    fn empty_commands_are_skipped() {
        let cmds = parse_all(b"*0\r\n\r\n*-1\r\n").unwrap();
        assert!(cmds.iter().all(|c| c.is_empty()));
        assert_eq!(cmds.len(), 3);
    }

    #[test]
    fn a_huge_announced_count_does_not_allocate_up_front() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1048576\r\n$1\r\na\r\n"[..]);
        assert_eq!(p.parse(&mut buf, true), Ok(None));
        assert!(p.pending.as_ref().unwrap().args.capacity() <= 64);
    }

    #[test]
    fn needed_reports_the_end_of_a_large_bulk() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$100000\r\nabc"[..]);
        assert_eq!(p.parse(&mut buf, true), Ok(None));
        assert_eq!(p.needed(&buf), Some(13 + 9 + 100_000 + 2));
    }
}
