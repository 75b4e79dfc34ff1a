//! The cluster bus codec: Redis 7.0's `clusterMsg` wire format, byte for
//! byte, so that our nodes and Redis 7.0 nodes can share a cluster.
//!
//! Pure functions, no I/O:
//!
//! - [`decode`] one whole message (validated as 7.0's
//!   `clusterIsValidPacket` does; errors, never panics);
//! - [`encode`] / [`try_encode`] a [`Message`];
//! - [`frame_len`] / [`bytes_needed`] for the link reader: the first 8
//!   bytes (signature, totlen) give the message length; a bad signature
//!   or a length below [`HEADER_LEN`] means the link must be closed.
//!
//! A message is a 2256-byte [`Header`] (see [`header`] for the field
//! table) followed by per-type data ([`Body`], see [`message`]);
//! PING/PONG/MEET carry gossip entries and 7.0's ping extensions
//! ([`PingExt`], see [`ext`]).
//!
//! Sizes, checked against packets captured from Redis 7.0.15 (the
//! fixtures in `bus/fixtures/`): header 2256; PING/PONG/MEET 2256 +
//! 104 × gossip + extensions; FAIL 2296; PUBLISH/PUBLISHSHARD 2264 +
//! channel + message; FAILOVER_AUTH_REQUEST/ACK and MFSTART 2256;
//! UPDATE 4352; MODULE 2269 + payload (from the layout only: no module
//! ran during the capture). The ignored tests of `bus::capture_tests` redo the
//! capture and also check the other direction: a 7.0 node accepts a
//! MEET, PINGs and PONGs encoded here and lists our fake node with its
//! slots and announced hostname.
//!
//! Re-encoding a decoded message gives back the same bytes, except in
//! fields 7.0 always sends as zeros (the header's and gossip entries'
//! reserved fields, an extension's unused half-word, a hostname's
//! padding, `count` outside PING/PONG/MEET and unknown types,
//! `extensions` outside PING/PONG/MEET), which `encode` writes as zeros.

pub mod error;
pub mod ext;
pub mod header;
pub mod message;
pub mod types;
mod wire;

#[cfg(test)]
mod capture_tests;
#[cfg(test)]
#[path = "bus_tests.rs"]
mod tests;

pub use error::BusError;
pub use ext::{PingExt, EXT_HEADER_LEN};
pub use header::{Header, HEADER_LEN, MIN_READ_LEN, PROTOCOL_VERSION, SIGNATURE};
pub use message::{
    bytes_needed, decode, encode, frame_len, try_encode, Body, Gossip, Message, PingData, FAIL_LEN,
    GOSSIP_LEN, MODULE_FIXED_LEN, PUBLISH_FIXED_LEN, UPDATE_LEN,
};
pub use types::{
    cluster_state, ext_type, msg_flags, node_flags, IpField, MessageType, NodeName, SlotBitmap,
    IP_LEN, MESSAGE_TYPE_COUNT, NAME_LEN, NULL_NAME, SLOTS, SLOT_BYTES,
};
