//! The reply encoder. Commands write their replies straight into the connection's output
//! buffer through a [`ReplyWriter`], which knows whether the client speaks RESP2 or RESP3 and
//! picks the right encoding for maps, sets, nulls, doubles and booleans — the same downgrades
//! `redis-server` makes for RESP2 clients. One buffer per connection means one `write` per
//! pipeline, not one per reply.

use bytes::{BufMut, BytesMut};

use crate::number::format_double;

/// Writes RESP replies into a buffer.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    buf: BytesMut,
    resp3: bool,
}

impl ReplyWriter {
    pub fn new(resp3: bool) -> Self {
        ReplyWriter { buf: BytesMut::with_capacity(16 * 1024), resp3 }
    }

    /// Whether the client negotiated RESP3 (`HELLO 3`).
    pub fn resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// The encoded bytes not yet sent.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Mutable access for the connection (to split off what is written to the socket).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `len` (used to retract a partly written reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string. Carriage returns and newlines would break the frame: they become spaces.
    pub fn simple(&mut self, s: &str) {
        self.buf.put_u8(b'+');
        self.put_line(s.as_bytes());
    }

    /// An error reply; `text` starts with its code, e.g. `ERR syntax error`, `WRONGTYPE ...`.
    pub fn error(&mut self, text: &str) {
        self.buf.put_u8(b'-');
        self.put_line(text.as_bytes());
    }

    pub fn integer(&mut self, v: i64) {
        self.buf.put_u8(b':');
        self.put_decimal(v);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.buf.put_u8(b'$');
        self.put_decimal(data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string holding the decimal text of an integer.
    pub fn bulk_integer(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// The null reply of a missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.buf.put_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null reply of a missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf.put_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len);
    }

    pub fn empty_array(&mut self) {
        self.buf.put_slice(b"*0\r\n");
    }

    /// A map of `len` pairs: `%len` in RESP3, a flat array of `2 * len` in RESP2.
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'%', len);
        } else {
            self.header(b'*', len * 2);
        }
    }

    /// A set: `~len` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len);
    }

    /// An out-of-band push (pub/sub messages): `>len` in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len);
    }

    /// A double as `%.17g`: `,` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.put_line(text.as_bytes());
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.integer(b as i64);
        }
    }

    /// A verbatim string (`=len\r\ntxt:...` in RESP3), a bulk string in RESP2. `format` is the
    /// three-letter type, `txt` or `mkd`.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3 {
            self.buf.put_u8(b'=');
            self.put_decimal((text.len() + 4) as i64);
            self.buf.put_slice(format.as_bytes());
            self.buf.put_u8(b':');
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Bytes that are already RESP-encoded (e.g. a reply relayed unchanged).
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.put_slice(encoded);
    }

    fn header(&mut self, kind: u8, len: usize) {
        self.buf.put_u8(kind);
        self.put_decimal(len as i64);
    }

    fn put_decimal(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.buf.put_slice(b.format(v).as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    fn put_line(&mut self, s: &[u8]) {
        self.buf.reserve(s.len() + 2);
        for &c in s {
            self.buf.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_downgrades_resp3_types() {
        let mut w = ReplyWriter::new(false);
        w.map(1);
        w.bulk(b"k");
        w.double(1.5);
        w.null();
        w.null_array();
        w.boolean(true);
        w.set(0);
        assert_eq!(w.buffer(), b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n$-1\r\n*-1\r\n:1\r\n*0\r\n");
    }

    #[test]
    fn resp3_uses_native_types() {
        let mut w = ReplyWriter::new(true);
        w.map(1);
        w.bulk(b"k");
        w.double(1.5);
        w.null();
        w.boolean(false);
        w.verbatim("txt", b"hi");
        assert_eq!(w.buffer(), b"%1\r\n$1\r\nk\r\n,1.5\r\n_\r\n#f\r\n=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn errors_cannot_break_the_frame() {
        let mut w = ReplyWriter::new(false);
        w.error("ERR bad\r\nthing");
        assert_eq!(w.buffer(), b"-ERR bad  thing\r\n");
    }
}
