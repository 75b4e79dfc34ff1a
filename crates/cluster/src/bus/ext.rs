//! Ping extensions (new in 7.0): optional records after the gossip
//! sections of PING, PONG and MEET, counted by the header's
//! `extensions` field and announced by the `EXT_DATA` message flag.
//!
//! Each record is an 8-byte header followed by its data, the whole
//! record a multiple of 8 bytes:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | length of the whole record, header included |
//! | 4 | 2 | type |
//! | 6 | 2 | unused (zeros) |
//! | 8 | length − 8 | data |
//!
//! 7.0 knows one type, the hostname (type 0: the `cluster-announce-hostname`
//! text, NUL terminated, zero padded to 8 bytes). It skips types it does
//! not know; so does this codec, keeping them as [`PingExt::Unknown`] so
//! that they are re-encoded unchanged.

use super::error::BusError;
use super::types::ext_type;
use super::wire::{Put, Reader};

/// Size of an extension record's header.
pub const EXT_HEADER_LEN: usize = 8;

/// One ping extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingExt {
    /// The sender's announced hostname (without its NUL).
    Hostname(Vec<u8>),
    /// A type 7.0 does not know: kept raw, data as received (a multiple
    /// of 8 bytes after decoding; `encode` zero-pads it otherwise).
    Unknown {
        /// The extension type.
        ext_type: u16,
        /// The data after the 8-byte record header.
        data: Vec<u8>,
    },
}

/// Rounds up to a multiple of 8 (`EIGHT_BYTE_ALIGN`), saturating.
pub(crate) fn align8(n: usize) -> usize {
    n.saturating_add(7) / 8 * 8
}

impl PingExt {
    /// The hostname extension for `name`.
    pub fn hostname(name: &str) -> PingExt {
        PingExt::Hostname(name.as_bytes().to_vec())
    }

    /// The wire type.
    pub fn ext_type(&self) -> u16 {
        match self {
            PingExt::Hostname(_) => ext_type::HOSTNAME,
            PingExt::Unknown { ext_type, .. } => *ext_type,
        }
    }

    /// Size of the data part once padded.
    fn padded_data_len(&self) -> usize {
        match self {
            // The name plus its NUL, padded.
            PingExt::Hostname(name) => align8(name.len().saturating_add(1)),
            PingExt::Unknown { data, .. } => align8(data.len()),
        }
    }

    /// Size of the whole record on the wire.
    pub fn encoded_len(&self) -> usize {
        EXT_HEADER_LEN.saturating_add(self.padded_data_len())
    }

    /// Appends the record; the caller has checked that its length fits
    /// in 32 bits.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let total = self.encoded_len();
        out.put_u32(u32::try_from(total).unwrap_or(u32::MAX));
        out.put_u16(self.ext_type());
        out.put_u16(0);
        match self {
            PingExt::Hostname(name) => out.extend_from_slice(name),
            PingExt::Unknown { data, .. } => out.extend_from_slice(data),
        }
        // NUL terminator (hostname) and padding.
        let written = out.len() - start;
        out.put_zeros(total.saturating_sub(written));
    }
}

/// Reads `count` extension records from the start of `data`; returns
/// them and the bytes they take (the caller checks that they end the
/// packet).
///
/// Checks as 7.0's `clusterIsValidPacket` (each length a multiple of 8
/// and within the packet, the records adding up to the packet's end)
/// and also what 7.0 takes on trust: that each record header is inside
/// the packet, that a length covers at least the record header (7.0
/// would loop on a zero length), and that a hostname is NUL terminated.
pub(crate) fn read_extensions(data: &[u8], count: u16) -> Result<(Vec<PingExt>, usize), BusError> {
    let mut r = Reader::new(data);
    let mut out = Vec::with_capacity(usize::from(count).min(data.len() / EXT_HEADER_LEN));
    for _ in 0..count {
        if r.remaining() < EXT_HEADER_LEN {
            return Err(BusError::BadExtension(
                "extension header past the end of the packet",
            ));
        }
        let length = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        let ext_type = r.u16()?;
        let _unused = r.u16()?;
        if length % 8 != 0 {
            return Err(BusError::BadExtension("length not a multiple of 8"));
        }
        if length < EXT_HEADER_LEN {
            return Err(BusError::BadExtension("length shorter than its header"));
        }
        let data_len = length - EXT_HEADER_LEN;
        if data_len > r.remaining() {
            return Err(BusError::BadExtension(
                "extension exceeds the packet length",
            ));
        }
        let payload = r.bytes(data_len)?;
        let ext = if ext_type == ext_type::HOSTNAME {
            let nul = payload
                .iter()
                .position(|&b| b == 0)
                .ok_or(BusError::BadExtension("hostname not NUL terminated"))?;
            PingExt::Hostname(payload[..nul].to_vec())
        } else {
            PingExt::Unknown {
                ext_type,
                data: payload.to_vec(),
            }
        };
        out.push(ext);
    }
    Ok((out, data.len() - r.remaining()))
}
