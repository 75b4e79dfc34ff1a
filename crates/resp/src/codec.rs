//! tokio-util codec glue: [`FrameCodec`] decodes replies and encodes frames
//! or requests, and [`encode_request`] writes a command as a multibulk array.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::decode::{DecodeError, DecodeLimits, Scanner};
use crate::frame::{Frame, Protocol};
use crate::write::{write_array_len, write_bulk};

/// Writes `args` as a request: `*<n>\r\n` then one bulk string per argument.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let payload: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(payload + 16);
    write_array_len(out, args.len());
    for arg in args {
        write_bulk(out, arg.as_ref());
    }
}

/// Error of [`FrameCodec`]: bad input or a failed socket.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Codec for a RESP connection.
///
/// Decoding yields [`Frame`]s (see [`crate::decode`] for how attributes are
/// delivered) and keeps its [`Scanner`] between calls, so a large reply
/// arriving in pieces is walked once. Encoding accepts frames (written for
/// the codec's protocol) and requests given as a slice of arguments.
#[derive(Debug, Default, Clone)]
pub struct FrameCodec {
    proto: Protocol,
    limits: DecodeLimits,
    scanner: Scanner,
}

impl FrameCodec {
    /// A codec encoding frames for `proto`, with default decode limits.
    pub fn new(proto: Protocol) -> FrameCodec {
        FrameCodec {
            proto,
            limits: DecodeLimits::default(),
            scanner: Scanner::default(),
        }
    }

    /// A codec with explicit decode limits.
    pub fn with_limits(proto: Protocol, limits: DecodeLimits) -> FrameCodec {
        FrameCodec {
            proto,
            limits,
            scanner: Scanner::default(),
        }
    }

    /// The protocol frames are encoded for.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// Switches the encoding protocol (after a successful `HELLO`).
    pub fn set_protocol(&mut self, proto: Protocol) {
        self.proto = proto;
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let limits = self.limits;
        Ok(self.scanner.decode(src, &limits)?)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        item.encode(self.proto, dst);
        Ok(())
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        item.encode(self.proto, dst);
        Ok(())
    }
}

/// Requests: a slice of arguments is sent as a multibulk array.
impl<A: AsRef<[u8]>> Encoder<&[A]> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, args: &[A], dst: &mut BytesMut) -> Result<(), std::io::Error> {
        encode_request(args, dst);
        Ok(())
    }
}
