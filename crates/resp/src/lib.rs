//! RESP2/RESP3 protocol: frames, the server-side request parser, the client-side
//! frame decoder and the encoder.
//!
//! # Layout
//! - [`Frame`]: one RESP value of any type; [`Frame::encode`] writes it for a protocol version.
//! - [`RequestParser`]: incremental parser for client requests (multibulk and inline).
//!
//! This crate never awaits and never panics on input.

use bytes::{Bytes, BytesMut};

/// Protocol version negotiated with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// One RESP value.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`, RESP3 `_`.
    Null,
    /// RESP2 `*-1`, RESP3 `_`.
    NullArray,
    Array(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    BigNumber(Bytes),
    Verbatim { format: [u8; 3], text: Bytes },
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Attribute(Vec<(Frame, Frame)>),
    Push(Vec<Frame>),
}

impl Frame {
    /// Encodes the frame for `proto`.
    pub fn encode(&self, _proto: Protocol, _out: &mut BytesMut) {}
}

/// Limits applied by [`RequestParser`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: usize,
}

/// A protocol error; its Display is the text after `-ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// Incremental request parser.
#[derive(Debug, Default)]
pub struct RequestParser {}

impl RequestParser {
    pub fn parse(&mut self, _buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        Ok(None)
    }
}
