//! The fixed 2256-byte header that starts every cluster bus message
//! (the part of upstream's `clusterMsg` before its data union).
//!
//! Layout, all integers in network byte order:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | signature `RCmb` |
//! | 4 | 4 | totlen (whole message) |
//! | 8 | 2 | version (1) |
//! | 10 | 2 | port (client port) |
//! | 12 | 2 | type |
//! | 14 | 2 | count (gossip entries) |
//! | 16 | 8 | currentEpoch |
//! | 24 | 8 | configEpoch |
//! | 32 | 8 | replication offset |
//! | 40 | 40 | sender name |
//! | 80 | 2048 | myslots bitmap |
//! | 2128 | 40 | slaveof name (zeros for a master) |
//! | 2168 | 46 | myip (NUL padded, zeros if not announced) |
//! | 2214 | 2 | extensions (ping extension count) |
//! | 2216 | 30 | reserved (zeros) |
//! | 2246 | 2 | pport (plaintext port when the port is TLS) |
//! | 2248 | 2 | cport (cluster bus port) |
//! | 2250 | 2 | flags (sender's node flags) |
//! | 2252 | 1 | state (cluster state seen by the sender) |
//! | 2253 | 3 | mflags |
//! | 2256 | … | data (per type) |

use super::error::BusError;
use super::types::{IpField, NodeName, SlotBitmap, IP_LEN, NAME_LEN, SLOT_BYTES};
use super::wire::{Put, Reader};

/// The signature that starts every message.
pub const SIGNATURE: [u8; 4] = *b"RCmb";
/// The protocol version 7.0 sends and accepts (`CLUSTER_PROTO_VER`).
pub const PROTOCOL_VERSION: u16 = 1;
/// Size of the header, and so the smallest valid message
/// (`CLUSTERMSG_MIN_LEN`).
pub const HEADER_LEN: usize = 2256;
/// Bytes the link reader needs before it knows a message's length
/// (`RCVBUF_MIN_READ_LEN`): signature and totlen.
pub const MIN_READ_LEN: usize = 8;
/// Size of the reserved `notused1` area of the header.
pub const HEADER_RESERVED_LEN: usize = 30;

/// Offsets of the header fields, as in the table of this module.
pub mod offsets {
    /// `sig`.
    pub const SIG: usize = 0;
    /// `totlen`.
    pub const TOTLEN: usize = 4;
    /// `ver`.
    pub const VER: usize = 8;
    /// `port`.
    pub const PORT: usize = 10;
    /// `type`.
    pub const TYPE: usize = 12;
    /// `count`.
    pub const COUNT: usize = 14;
    /// `currentEpoch`.
    pub const CURRENT_EPOCH: usize = 16;
    /// `configEpoch`.
    pub const CONFIG_EPOCH: usize = 24;
    /// `offset`.
    pub const OFFSET: usize = 32;
    /// `sender`.
    pub const SENDER: usize = 40;
    /// `myslots`.
    pub const MYSLOTS: usize = 80;
    /// `slaveof`.
    pub const SLAVEOF: usize = 2128;
    /// `myip`.
    pub const MYIP: usize = 2168;
    /// `extensions`.
    pub const EXTENSIONS: usize = 2214;
    /// `notused1`.
    pub const NOTUSED: usize = 2216;
    /// `pport`.
    pub const PPORT: usize = 2246;
    /// `cport`.
    pub const CPORT: usize = 2248;
    /// `flags`.
    pub const FLAGS: usize = 2250;
    /// `state`.
    pub const STATE: usize = 2252;
    /// `mflags`.
    pub const MFLAGS: usize = 2253;
    /// The data union.
    pub const DATA: usize = 2256;
}

/// The sender's view carried by every message. The fields that depend
/// on the message itself (signature, totlen, version, type, count,
/// extensions) are not here: `encode` computes them from the body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// The sender's client port (TLS port when TLS is on).
    pub port: u16,
    /// The sender's currentEpoch.
    pub current_epoch: u64,
    /// The sender's configEpoch (its master's, for a replica).
    pub config_epoch: u64,
    /// Master replication offset, or processed offset for a replica.
    pub offset: u64,
    /// The sender's node name.
    pub sender: NodeName,
    /// Slots served by the sender (by its master, for a replica).
    pub myslots: SlotBitmap,
    /// The sender's master; `None` is the null name (a master, or a
    /// replica whose master is unknown).
    pub slaveof: Option<NodeName>,
    /// The announced IP (`cluster-announce-ip`), empty if none.
    pub myip: IpField,
    /// Plaintext client port when `port` is the TLS one, else 0.
    pub pport: u16,
    /// The sender's cluster bus port.
    pub cport: u16,
    /// The sender's node flags (see `node_flags`).
    pub flags: u16,
    /// The cluster state as the sender sees it (see `cluster_state`).
    pub state: u8,
    /// Message flags; `mflags[0]` holds the `msg_flags` bits.
    pub mflags: [u8; 3],
}

/// The header fields that frame a message, as read from the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Framing {
    pub(crate) totlen: u32,
    pub(crate) version: u16,
    pub(crate) msg_type: u16,
    pub(crate) count: u16,
    pub(crate) extensions: u16,
}

/// Reads the whole header from the start of `buf` (at least
/// [`HEADER_LEN`] bytes, else `Truncated`). The signature is checked
/// by the caller.
pub(crate) fn read_header(buf: &[u8]) -> Result<(Framing, Header), BusError> {
    let mut r = Reader::new(buf);
    let _sig: [u8; 4] = r.array()?;
    let totlen = r.u32()?;
    let version = r.u16()?;
    let port = r.u16()?;
    let msg_type = r.u16()?;
    let count = r.u16()?;
    let current_epoch = r.u64()?;
    let config_epoch = r.u64()?;
    let offset = r.u64()?;
    let sender = NodeName(r.array::<NAME_LEN>()?);
    let myslots_raw: [u8; SLOT_BYTES] = r.array()?;
    let slaveof = NodeName(r.array::<NAME_LEN>()?);
    let myip = IpField(r.array::<IP_LEN>()?);
    let extensions = r.u16()?;
    let _reserved = r.bytes(HEADER_RESERVED_LEN)?;
    let pport = r.u16()?;
    let cport = r.u16()?;
    let flags = r.u16()?;
    let state = r.u8()?;
    let mflags: [u8; 3] = r.array()?;
    let framing = Framing {
        totlen,
        version,
        msg_type,
        count,
        extensions,
    };
    let header = Header {
        port,
        current_epoch,
        config_epoch,
        offset,
        sender,
        myslots: SlotBitmap::from_array(myslots_raw),
        slaveof: (!slaveof.is_null()).then_some(slaveof),
        myip,
        pport,
        cport,
        flags,
        state,
        mflags,
    };
    Ok((framing, header))
}

/// Appends the header; `totlen` is written as given (the caller may
/// patch it once the body is known).
pub(crate) fn write_header(out: &mut Vec<u8>, framing: Framing, h: &Header) {
    out.extend_from_slice(&SIGNATURE);
    out.put_u32(framing.totlen);
    out.put_u16(framing.version);
    out.put_u16(h.port);
    out.put_u16(framing.msg_type);
    out.put_u16(framing.count);
    out.put_u64(h.current_epoch);
    out.put_u64(h.config_epoch);
    out.put_u64(h.offset);
    out.extend_from_slice(h.sender.as_bytes());
    out.extend_from_slice(h.myslots.as_bytes());
    out.extend_from_slice(h.slaveof.unwrap_or(NodeName::NULL).as_bytes());
    out.extend_from_slice(&h.myip.0);
    out.put_u16(framing.extensions);
    out.put_zeros(HEADER_RESERVED_LEN);
    out.put_u16(h.pport);
    out.put_u16(h.cport);
    out.put_u16(h.flags);
    out.push(h.state);
    out.extend_from_slice(&h.mflags);
}
