//! Errors of the cluster bus codec.
//!
//! Upstream treats two kinds of bad input differently: a wrong
//! signature or a declared length below the minimum, seen by the link
//! reader in the first 8 bytes, closes the link (the stream can no
//! longer be framed); any other invalid packet (`clusterIsValidPacket`
//! failing) is dropped and the link stays up. [`BusError::closes_link`]
//! tells which is which.

use thiserror::Error;

/// Why a packet could not be framed, decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BusError {
    /// Fewer bytes than a field needs (fewer than the 8 framing bytes,
    /// or a body shorter than its fixed part).
    #[error("truncated cluster bus packet: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        available: usize,
    },
    /// The first 4 bytes are not `RCmb`.
    #[error("bad cluster bus signature {0:?}")]
    BadSignature([u8; 4]),
    /// `totlen` is below the header size (`CLUSTERMSG_MIN_LEN`).
    #[error("cluster bus packet length {0} is below the minimum")]
    LengthBelowMinimum(u32),
    /// `totlen` differs from the size of the buffer given to `decode`.
    #[error("cluster bus packet declares {declared} bytes but {actual} were given")]
    LengthMismatch {
        /// The header's `totlen`.
        declared: u32,
        /// The buffer's length.
        actual: usize,
    },
    /// Protocol version other than 1.
    #[error("unsupported cluster bus protocol version {0}")]
    BadVersion(u16),
    /// `totlen` differs from what the type and its counters imply.
    #[error(
        "invalid cluster bus packet of type {msg_type}: length {declared}, expected {expected}"
    )]
    BadLength {
        /// The message type.
        msg_type: u16,
        /// The header's `totlen`.
        declared: u32,
        /// The length the type, counts and inner lengths imply.
        expected: u64,
    },
    /// A malformed ping extension.
    #[error("invalid ping extension: {0}")]
    BadExtension(&'static str),
    /// The message does not fit the wire's field widths.
    #[error("cluster bus message too large to encode: {0}")]
    TooLarge(&'static str),
}

impl BusError {
    /// Whether upstream would close the link on this error (framing
    /// lost) rather than drop the one packet.
    pub fn closes_link(&self) -> bool {
        matches!(
            self,
            BusError::BadSignature(_) | BusError::LengthBelowMinimum(_)
        )
    }
}
