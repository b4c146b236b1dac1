//! A whole RESP2/RESP3 value, for the client side of the protocol: the proxy reading backend
//! replies, replication streams, tests. (Servers parse requests with [`crate::request`] and
//! write replies with [`crate::reply`], which avoid building frames on the hot path.)

use bytes::Bytes;

/// One RESP value. RESP2's two nulls stay distinct so a relayed reply is byte-identical.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(Bytes),
    /// `-CODE text`
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
