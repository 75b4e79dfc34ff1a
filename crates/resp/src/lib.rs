//! RESP2/RESP3 protocol: frames, the server-side request parser, the client-side
//! frame decoder and the encoder.
//!
//! # Layout
//! - [`Frame`] / [`Protocol`] (`frame`): one RESP value of any type.
//! - [`Frame::encode`], [`format_double`] (`encode`): byte-exact replies as
//!   Redis 7.0 writes them, with RESP2 downgrades.
//! - [`write`]: hot-path writers that append one item without a `Frame`.
//! - [`RequestParser`] (`request`): incremental parser for client requests
//!   (multibulk and inline) with upstream's error texts.
//! - [`decode`] (`decode`): client-side reply decoder for all RESP3 types.
//! - [`FrameCodec`], [`encode_request`] (`codec`): tokio-util codec glue.
//!
//! This crate never awaits and never panics on input.

mod codec;
mod decode;
mod encode;
mod frame;
mod request;
pub mod write;

pub use codec::{encode_request, CodecError, FrameCodec};
pub use decode::{decode, decode_with, DecodeError, DecodeLimits, Scanner};
pub use encode::format_double;
pub use frame::{Frame, Protocol};
pub use request::{
    Limits, ProtocolError, RequestParser, INLINE_MAX, MAX_MULTIBULK_LEN, UNAUTH_MAX_BULK_LEN,
    UNAUTH_MAX_MULTIBULK_LEN,
};

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
