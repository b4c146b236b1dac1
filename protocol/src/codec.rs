//! A tokio-util codec over [`Frame`]: decode frames from a byte stream, encode frames into it.
//! For clients of RESP servers (the proxy's backend connections, replication, tests).

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::Error;
use crate::frame::{check, Check, Frame, FrameLimits};

/// A failure of a [`FrameCodec`] stream: the socket, or the peer broke the protocol (then the
/// connection is unusable and must be closed).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Protocol(#[from] Error),
}

/// Decodes and encodes RESP2/RESP3 [`Frame`]s.
#[derive(Debug, Default)]
pub struct FrameCodec {
    limits: FrameLimits,
    /// Don't re-check before the buffer holds this many bytes: a large frame arriving in many
    /// reads is then not re-scanned from its start on every read.
    wait_for: usize,
}

impl FrameCodec {
    pub fn new(limits: FrameLimits) -> Self {
        FrameCodec { limits, wait_for: 0 }
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        if src.is_empty() || src.len() < self.wait_for {
            return Ok(None);
        }
        match check(src, &self.limits)? {
            Check::Incomplete { min_len } => {
                self.wait_for = min_len;
                src.reserve(min_len.saturating_sub(src.len()).min(self.limits.max_line));
                Ok(None)
            }
            Check::Complete(_) => {
                self.wait_for = 0;
                Ok(Frame::parse(src, &self.limits)?)
            }
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame.encode(dst);
        Ok(())
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Frames encoded by one side of a small-buffered pipe and decoded by the other, read by
    /// read as `FramedRead` would (without pulling in a futures crate for its Stream API).
    #[tokio::test]
    async fn frames_cross_a_byte_stream() {
        let (mut client, mut server) = tokio::io::duplex(7);
        let frames = vec![
            Frame::command(["SET", "k", "v"]),
            Frame::Map(vec![(Frame::Bulk(Bytes::from_static(b"a")), Frame::Double(1.25))]),
            Frame::Bulk(Bytes::from(vec![b'x'; 100_000])),
            Frame::NullArray,
        ];
        let sent = frames.clone();
        let writer = tokio::spawn(async move {
            let mut codec = FrameCodec::default();
            let mut out = BytesMut::new();
            for f in sent {
                codec.encode(f, &mut out).unwrap();
            }
            client.write_all(&out).await.unwrap();
        });
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        loop {
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                got.push(f);
            }
            if server.read_buf(&mut buf).await.unwrap() == 0 {
                break;
            }
        }
        writer.await.unwrap();
        assert!(buf.is_empty());
        assert_eq!(got, frames);
    }

    #[test]
    fn decoder_waits_without_rescanning_and_errors_on_garbage() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&b"$10\r\n01234"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(codec.wait_for, 17);
        buf.extend_from_slice(b"56789\r\n");
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(Frame::Bulk(Bytes::from_static(b"0123456789")))
        );
        let mut bad = BytesMut::from(&b"*abc\r\n"[..]);
        assert!(matches!(codec.decode(&mut bad), Err(CodecError::Protocol(_))));
    }
}
