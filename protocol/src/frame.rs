//! A whole RESP2/RESP3 value, for the client side of the protocol: the proxy reading backend
//! replies, replication streams, tests. (Servers parse requests with [`crate::request`] and
//! write replies with [`crate::reply`], which avoid building frames on the hot path.)
//!
//! Parsing is two-phase, as in mini-redis: [`check`] walks the buffer without allocating and
//! tells whether one complete frame is there (and how long it is), so "need more bytes" is not
//! an error; only then does [`Frame::parse`] build the value, slicing bulk payloads out of the
//! buffer without copying. Because nothing is allocated before the whole frame has arrived, a
//! peer announcing `*4294967295` costs nothing; [`FrameLimits`] also refuse absurd lengths and
//! deep nesting outright so garbage fails fast instead of waiting for bytes that never come.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::number::{format_double, parse_f64, parse_i64};

/// One RESP value. RESP2's two nulls stay distinct so a relayed reply is byte-identical.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(Bytes),
    /// `-CODE text` (a RESP3 blob error `!len` parses into this too)
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len` payload
    Bulk(Bytes),
    /// `$-1` (RESP2 null bulk string)
    NullBulk,
    /// `*-1` (RESP2 null array)
    NullArray,
    /// `*n`
    Array(Vec<Frame>),
    /// `_` (RESP3 null)
    Null,
    /// `,` (RESP3 double)
    Double(f64),
    /// `#t` / `#f`
    Boolean(bool),
    /// `(` (RESP3 big number, kept as its decimal text)
    BigNumber(Bytes),
    /// `=len fmt:text`
    Verbatim { format: [u8; 3], text: Bytes },
    /// `%n` key/value pairs
    Map(Vec<(Frame, Frame)>),
    /// `~n`
    Set(Vec<Frame>),
    /// `>n` out-of-band push
    Push(Vec<Frame>),
    /// `|n` attributes, attached to the value that follows them
    Attribute { attributes: Vec<(Frame, Frame)>, value: Box<Frame> },
}

/// Bounds on what a peer may send; exceeding one is a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The longest bulk string / verbatim string (Redis's `proto-max-bulk-len`, 512 MB).
    pub max_bulk_len: usize,
    /// The most elements (pairs for a map) one aggregate may announce.
    pub max_elements: usize,
    /// The longest line of a simple string, error, number or length header.
    pub max_line: usize,
    /// The deepest nesting of aggregates (and attributes).
    pub max_depth: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_elements: i32::MAX as usize,
            max_line: 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// The outcome of [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// One complete frame occupies the first `len` bytes.
    Complete(usize),
    /// More bytes are needed: at least `min_len` in total before checking again is useful.
    Incomplete { min_len: usize },
}

/// Walks one frame at the front of `buf` without allocating.
pub fn check(buf: &[u8], limits: &FrameLimits) -> Result<Check> {
    let mut cur = Cursor { buf, pos: 0, limits };
    match cur.skip_value(0) {
        Ok(()) => Ok(Check::Complete(cur.pos)),
        Err(Step::More(min_len)) => Ok(Check::Incomplete { min_len }),
        Err(Step::Bad(e)) => Err(e),
    }
}

impl Frame {
    /// Takes one complete frame off the front of `buf`; `Ok(None)` when more bytes are needed
    /// (`buf` is then untouched).
    pub fn parse(buf: &mut BytesMut, limits: &FrameLimits) -> Result<Option<Frame>> {
        match check(buf, limits)? {
            Check::Incomplete { .. } => Ok(None),
            Check::Complete(len) => {
                let bytes = buf.split_to(len).freeze();
                let mut cur = Cursor { buf: &bytes, pos: 0, limits };
                let frame = cur.read_value(&bytes).map_err(|e| match e {
                    Step::Bad(e) => e,
                    // `check` accepted these exact bytes, so building can't run short.
                    Step::More(_) => malformed("frame changed between check and parse"),
                })?;
                Ok(Some(frame))
            }
        }
    }

    /// A command as clients send it: an array of bulk strings.
    pub fn command<I, A>(args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: Into<Bytes>,
    {
        Frame::Array(args.into_iter().map(|a| Frame::Bulk(a.into())).collect())
    }

    /// Appends the RESP encoding. A simple string cannot hold CR or LF (they become spaces, as
    /// Redis does); an error that holds them is written as a RESP3 blob error (`!len`).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => {
                out.put_u8(b'+');
                put_line_sanitized(out, s);
            }
            Frame::Error(e) => {
                if e.iter().any(|&c| c == b'\r' || c == b'\n') {
                    put_header(out, b'!', e.len() as i64);
                    out.put_slice(e);
                    out.put_slice(b"\r\n");
                } else {
                    out.put_u8(b'-');
                    put_line_sanitized(out, e);
                }
            }
            Frame::Integer(n) => put_header(out, b':', *n),
            Frame::Bulk(b) => {
                put_header(out, b'$', b.len() as i64);
                out.reserve(b.len() + 2);
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Frame::NullBulk => out.put_slice(b"$-1\r\n"),
            Frame::NullArray => out.put_slice(b"*-1\r\n"),
            Frame::Array(items) => put_items(out, b'*', items),
            Frame::Null => out.put_slice(b"_\r\n"),
            Frame::Double(d) => {
                out.put_u8(b',');
                out.put_slice(format_double(*d).as_bytes());
                out.put_slice(b"\r\n");
            }
            Frame::Boolean(b) => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(n) => {
                out.put_u8(b'(');
                put_line_sanitized(out, n);
            }
            Frame::Verbatim { format, text } => {
                put_header(out, b'=', text.len() as i64 + 4);
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
            Frame::Map(pairs) => put_pairs(out, b'%', pairs),
            Frame::Set(items) => put_items(out, b'~', items),
            Frame::Push(items) => put_items(out, b'>', items),
            Frame::Attribute { attributes, value } => {
                put_pairs(out, b'|', attributes);
                value.encode(out);
            }
        }
    }

    /// The encoding as a fresh buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out
    }
}

fn put_header(out: &mut BytesMut, kind: u8, n: i64) {
    let mut b = itoa::Buffer::new();
    out.put_u8(kind);
    out.put_slice(b.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn put_items(out: &mut BytesMut, kind: u8, items: &[Frame]) {
    put_header(out, kind, items.len() as i64);
    for f in items {
        f.encode(out);
    }
}

fn put_pairs(out: &mut BytesMut, kind: u8, pairs: &[(Frame, Frame)]) {
    put_header(out, kind, pairs.len() as i64);
    for (k, v) in pairs {
        k.encode(out);
        v.encode(out);
    }
}

fn put_line_sanitized(out: &mut BytesMut, s: &[u8]) {
    out.reserve(s.len() + 2);
    for &c in s {
        out.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
    }
    out.put_slice(b"\r\n");
}

fn malformed(what: &str) -> Error {
    Error::Malformed(what.to_string())
}

/// Why a walk stopped: more bytes needed (with the least total length worth waiting for), or
/// a protocol error.
enum Step {
    More(usize),
    Bad(Error),
}

impl From<Error> for Step {
    fn from(e: Error) -> Step {
        Step::Bad(e)
    }
}

type StepResult<T> = std::result::Result<T, Step>;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a FrameLimits,
}

impl Cursor<'_> {
    /// The next line (without CRLF), advancing past it.
    fn line(&mut self) -> StepResult<&[u8]> {
        let start = self.pos;
        let rest = &self.buf[start..];
        let window = &rest[..rest.len().min(self.limits.max_line + 2)];
        match window.windows(2).position(|w| w == b"\r\n") {
            Some(i) if i <= self.limits.max_line => {
                self.pos = start + i + 2;
                Ok(&self.buf[start..start + i])
            }
            Some(_) => Err(malformed("line too long").into()),
            None if rest.len() > self.limits.max_line + 1 => Err(malformed("line too long").into()),
            None => Err(Step::More(self.buf.len() + 1)),
        }
    }

    /// A length header's value: -1 (null) or 0..=max.
    fn length(&mut self, max: usize, what: &str) -> StepResult<Option<usize>> {
        let line = self.line()?;
        match parse_i64(line) {
            Some(-1) => Ok(None),
            Some(n) if n >= 0 && n as u64 <= max as u64 => Ok(Some(n as usize)),
            _ => Err(Error::Malformed(format!("invalid {what} length")).into()),
        }
    }

    /// A payload of `len` bytes plus CRLF, returning its range.
    fn payload(&mut self, len: usize) -> StepResult<(usize, usize)> {
        let start = self.pos;
        let end = start + len;
        if self.buf.len() < end + 2 {
            return Err(Step::More(end + 2));
        }
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(malformed("payload not terminated by CRLF").into());
        }
        self.pos = end + 2;
        Ok((start, end))
    }

    fn kind(&mut self) -> StepResult<u8> {
        let Some(&kind) = self.buf.get(self.pos) else {
            return Err(Step::More(self.pos + 1));
        };
        self.pos += 1;
        Ok(kind)
    }

    fn enter(&self, depth: usize) -> StepResult<()> {
        if depth >= self.limits.max_depth {
            return Err(malformed("nesting too deep").into());
        }
        Ok(())
    }

    /// Phase one: skips a value, validating it, allocating nothing.
    fn skip_value(&mut self, depth: usize) -> StepResult<()> {
        match self.kind()? {
            b'+' | b'-' => {
                self.line()?;
            }
            b':' => {
                let line = self.line()?;
                parse_i64(line).ok_or_else(|| malformed("invalid integer"))?;
            }
            b'$' | b'!' => {
                if let Some(len) = self.length(self.limits.max_bulk_len, "bulk")? {
                    self.payload(len)?;
                }
            }
            b'=' => {
                let len = self.length(self.limits.max_bulk_len, "verbatim")?;
                let len = len.ok_or_else(|| malformed("invalid verbatim length"))?;
                let (start, end) = self.payload(len)?;
                check_verbatim(&self.buf[start..end])?;
            }
            b'_' => {
                if !self.line()?.is_empty() {
                    return Err(malformed("invalid null").into());
                }
            }
            b',' => {
                let line = self.line()?;
                parse_double(line)?;
            }
            b'#' => {
                let line = self.line()?;
                parse_bool(line)?;
            }
            b'(' => {
                let line = self.line()?;
                check_big_number(line)?;
            }
            b'*' | b'~' | b'>' => {
                self.enter(depth)?;
                if let Some(n) = self.length(self.limits.max_elements, "aggregate")? {
                    for _ in 0..n {
                        self.skip_value(depth + 1)?;
                    }
                }
            }
            b'%' | b'|' => {
                let kind = self.buf[self.pos - 1];
                self.enter(depth)?;
                let n = self.length(self.limits.max_elements, "map")?;
                let n = n.ok_or_else(|| malformed("invalid map length"))?;
                for _ in 0..n * 2 {
                    self.skip_value(depth + 1)?;
                }
                if kind == b'|' {
                    self.skip_value(depth + 1)?;
                }
            }
            other => {
                return Err(Error::Malformed(format!(
                    "unexpected byte '{}'",
                    (other as char).escape_default()
                ))
                .into())
            }
        }
        Ok(())
    }

    /// Phase two: builds a value from bytes `check` accepted (so lengths and nesting depth are
    /// already validated); `whole` is the same bytes as a `Bytes`, to slice payloads out of
    /// without copying.
    fn read_value(&mut self, whole: &Bytes) -> StepResult<Frame> {
        let slice = |s: &[u8]| whole.slice_ref(s);
        Ok(match self.kind()? {
            b'+' => Frame::Simple(slice(self.line()?)),
            b'-' => Frame::Error(slice(self.line()?)),
            b':' => Frame::Integer(parse_i64(self.line()?).ok_or_else(|| malformed("integer"))?),
            b'$' => match self.length(self.limits.max_bulk_len, "bulk")? {
                None => Frame::NullBulk,
                Some(len) => {
                    let (s, e) = self.payload(len)?;
                    Frame::Bulk(whole.slice(s..e))
                }
            },
            b'!' => match self.length(self.limits.max_bulk_len, "bulk")? {
                None => Frame::Null,
                Some(len) => {
                    let (s, e) = self.payload(len)?;
                    Frame::Error(whole.slice(s..e))
                }
            },
            b'=' => {
                let len = self.length(self.limits.max_bulk_len, "verbatim")?.unwrap_or(0);
                let (s, e) = self.payload(len)?;
                let format = [whole[s], whole[s + 1], whole[s + 2]];
                Frame::Verbatim { format, text: whole.slice(s + 4..e) }
            }
            b'_' => {
                self.line()?;
                Frame::Null
            }
            b',' => Frame::Double(parse_double(self.line()?)?),
            b'#' => Frame::Boolean(parse_bool(self.line()?)?),
            b'(' => Frame::BigNumber(slice(self.line()?)),
            kind @ (b'*' | b'~' | b'>') => {
                match self.length(self.limits.max_elements, "aggregate")? {
                    None if kind == b'*' => Frame::NullArray,
                    None => Frame::Null,
                    Some(n) => {
                        // `check` saw all n elements in the buffer, so n is bounded by its size.
                        let mut items = Vec::with_capacity(n);
                        for _ in 0..n {
                            items.push(self.read_value(whole)?);
                        }
                        match kind {
                            b'*' => Frame::Array(items),
                            b'~' => Frame::Set(items),
                            _ => Frame::Push(items),
                        }
                    }
                }
            }
            kind @ (b'%' | b'|') => {
                let n = self.length(self.limits.max_elements, "map")?.unwrap_or(0);
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.read_value(whole)?;
                    let v = self.read_value(whole)?;
                    pairs.push((k, v));
                }
                if kind == b'%' {
                    Frame::Map(pairs)
                } else {
                    let value = Box::new(self.read_value(whole)?);
                    Frame::Attribute { attributes: pairs, value }
                }
            }
            _ => return Err(malformed("unexpected type byte").into()),
        })
    }
}

fn check_verbatim(payload: &[u8]) -> StepResult<()> {
    if payload.len() < 4 || payload[3] != b':' {
        return Err(malformed("invalid verbatim string").into());
    }
    Ok(())
}

fn parse_double(line: &[u8]) -> StepResult<f64> {
    if line.eq_ignore_ascii_case(b"nan") || line.eq_ignore_ascii_case(b"-nan") {
        return Ok(f64::NAN);
    }
    parse_f64(line).ok_or_else(|| malformed("invalid double").into())
}

fn parse_bool(line: &[u8]) -> StepResult<bool> {
    match line {
        b"t" => Ok(true),
        b"f" => Ok(false),
        _ => Err(malformed("invalid boolean").into()),
    }
}

fn check_big_number(line: &[u8]) -> StepResult<()> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed("invalid big number").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// One frame of every type, nested aggregates included.
    fn samples() -> Vec<Frame> {
        vec![
            Frame::Simple(b("OK")),
            Frame::Simple(b("")),
            Frame::Error(b("ERR bad thing")),
            Frame::Error(b("ERR two\r\nlines")),
            Frame::Integer(0),
            Frame::Integer(i64::MIN),
            Frame::Integer(i64::MAX),
            Frame::Bulk(b("")),
            Frame::Bulk(Bytes::from_static(b"bin\r\n\0ary")),
            Frame::NullBulk,
            Frame::NullArray,
            Frame::Array(vec![]),
            Frame::Null,
            Frame::Double(1.5),
            Frame::Double(-0.1),
            Frame::Double(f64::INFINITY),
            Frame::Double(f64::NEG_INFINITY),
            Frame::Double(1e300),
            Frame::Boolean(true),
            Frame::Boolean(false),
            Frame::BigNumber(b("-3492890328409238509324850943850943825024385")),
            Frame::Verbatim { format: *b"txt", text: b("Some string\r\n") },
            Frame::Map(vec![(Frame::Bulk(b("k")), Frame::Integer(1))]),
            Frame::Set(vec![Frame::Integer(1), Frame::Bulk(b("x"))]),
            Frame::Push(vec![Frame::Bulk(b("message")), Frame::Bulk(b("ch"))]),
            Frame::Attribute {
                attributes: vec![(Frame::Simple(b("ttl")), Frame::Integer(3))],
                value: Box::new(Frame::Array(vec![Frame::Null, Frame::Double(2.0)])),
            },
            Frame::Array(vec![
                Frame::Map(vec![(
                    Frame::Simple(b("a")),
                    Frame::Set(vec![Frame::Array(vec![Frame::NullBulk])]),
                )]),
                Frame::Integer(-7),
            ]),
        ]
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Frame>> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(f) = Frame::parse(&mut buf, &FrameLimits::default())? {
            out.push(f);
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(out)
    }

    #[test]
    fn every_type_round_trips() {
        for f in samples() {
            let bytes = f.to_bytes();
            assert_eq!(parse_all(&bytes).unwrap(), vec![f.clone()], "{bytes:?}");
        }
        // NaN is never equal to itself: check it separately.
        let nan = parse_all(&Frame::Double(f64::NAN).to_bytes()).unwrap();
        assert!(matches!(nan[..], [Frame::Double(d)] if d.is_nan()));
    }

    #[test]
    fn encodes_exact_bytes() {
        let f = Frame::Array(vec![
            Frame::Bulk(b("GET")),
            Frame::Integer(-1),
            Frame::Map(vec![(Frame::Simple(b("a")), Frame::Boolean(true))]),
            Frame::Verbatim { format: *b"txt", text: b("hi") },
        ]);
        assert_eq!(
            &f.to_bytes()[..],
            b"*4\r\n$3\r\nGET\r\n:-1\r\n%1\r\n+a\r\n#t\r\n=6\r\ntxt:hi\r\n"
        );
        assert_eq!(&Frame::Simple(b("a\r\nb")).to_bytes()[..], b"+a  b\r\n");
        assert_eq!(&Frame::command(["SET", "k"]).to_bytes()[..], b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n");
    }

    #[test]
    fn every_split_point_parses_the_same() {
        let mut input = BytesMut::new();
        for f in samples() {
            f.encode(&mut input);
        }
        let whole = parse_all(&input).unwrap();
        assert_eq!(whole, samples());
        for cut in 0..input.len() {
            let limits = FrameLimits::default();
            let mut buf = BytesMut::from(&input[..cut]);
            let mut got = Vec::new();
            while let Some(f) = Frame::parse(&mut buf, &limits).unwrap() {
                got.push(f);
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(f) = Frame::parse(&mut buf, &limits).unwrap() {
                got.push(f);
            }
            assert_eq!(got, whole, "split at {cut}");
        }
    }

    #[test]
    fn incomplete_is_not_an_error() {
        let limits = FrameLimits::default();
        for partial in [&b""[..], b"*", b"*2\r\n", b"*2\r\n$3\r\nGE", b"$5\r\nhello\r", b":12"] {
            let mut buf = BytesMut::from(partial);
            assert_eq!(Frame::parse(&mut buf, &limits), Ok(None), "{partial:?}");
            assert_eq!(buf.len(), partial.len());
        }
        assert_eq!(check(b"$100\r\nab", &limits), Ok(Check::Incomplete { min_len: 108 }));
    }

    #[test]
    fn garbage_is_an_error() {
        for garbage in [
            &b"?\r\n"[..],
            b"*abc\r\n",
            b"$-5\r\n",
            b"$3\r\nabcd\r\n",
            b":12x\r\n",
            b"#x\r\n",
            b",1.2.3\r\n",
            b"(12a\r\n",
            b"_x\r\n",
            b"=2\r\nab\r\n",
            b"%-1\r\n",
            b"*1\r\n?\r\n",
        ] {
            assert!(parse_all(garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn absurd_lengths_fail_fast() {
        let limits = FrameLimits::default();
        assert!(check(b"$536870913\r\n", &limits).is_err());
        assert!(check(b"*99999999999\r\n", &limits).is_err());
        // A huge but allowed announcement waits for bytes and allocates nothing meanwhile.
        assert!(matches!(check(b"*2147483647\r\n", &limits), Ok(Check::Incomplete { .. })));
        let long_line = vec![b'+'; limits.max_line + 10];
        assert!(check(&long_line, &limits).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let limits = FrameLimits::default();
        let mut deep = b"*1\r\n".repeat(limits.max_depth - 1);
        deep.extend_from_slice(b":1\r\n");
        assert!(parse_all(&deep).is_ok());
        let mut too_deep = b"*1\r\n".repeat(limits.max_depth + 1);
        too_deep.extend_from_slice(b":1\r\n");
        assert!(parse_all(&too_deep).is_err());
        // Refused before the inner value arrives: no stack growth on a stream of `*1`.
        let stream = b"*1\r\n".repeat(100_000);
        assert!(check(&stream, &limits).is_err());
    }
}
