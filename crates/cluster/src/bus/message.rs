//! Whole cluster bus messages: the per-type data after the header,
//! [`decode`] with 7.0's validity checks, [`encode`], and the framing
//! helpers the link reader uses.
//!
//! Data layouts after the 2256-byte header (integers in network order):
//!
//! - PING, PONG, MEET: `count` gossip entries of 104 bytes (node name
//!   40, ping_sent u32 and pong_received u32 in seconds, ip 46, port,
//!   cport, flags, pport, reserved u16), then, when `mflags[0]` has
//!   `EXT_DATA`, `extensions` ping extension records (see [`super::ext`]).
//! - FAIL: the failing node's name (40); total 2296.
//! - PUBLISH, PUBLISHSHARD: channel_len u32, message_len u32, then the
//!   channel and message bytes; total 2264 + both lengths.
//! - FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: nothing; 2256.
//! - UPDATE: configEpoch u64, node name 40, slot bitmap 2048; 4352.
//! - MODULE: module id u64, len u32, type u8, then `len` bytes; total
//!   2269 + len.
//!
//! A message of a type 7.0 does not know is accepted as well formed
//! (7.0 ignores it) and kept raw as [`Body::Unknown`].

use super::error::BusError;
use super::ext::{read_extensions, PingExt};
use super::header::{read_header, write_header, Framing, Header, HEADER_LEN, MIN_READ_LEN};
use super::header::{PROTOCOL_VERSION, SIGNATURE};
use super::types::{msg_flags, IpField, MessageType, NodeName, SlotBitmap};
use super::types::{IP_LEN, NAME_LEN, SLOT_BYTES};
use super::wire::{Put, Reader};

/// Size of one gossip entry (`clusterMsgDataGossip`).
pub const GOSSIP_LEN: usize = 104;
/// Size of a FAIL message.
pub const FAIL_LEN: usize = HEADER_LEN + NAME_LEN;
/// Size of an UPDATE message (also `sizeof(clusterMsg)`).
pub const UPDATE_LEN: usize = HEADER_LEN + 8 + NAME_LEN + SLOT_BYTES;
/// Size of the fixed part of PUBLISH/PUBLISHSHARD data (two lengths).
pub const PUBLISH_FIXED_LEN: usize = 8;
/// Size of the fixed part of MODULE data (id, length, type).
pub const MODULE_FIXED_LEN: usize = 13;

/// One gossip entry: what the sender knows of another node.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Gossip {
    /// The node's name.
    pub node: NodeName,
    /// When the sender last pinged it (unix seconds, 0 if no ping is
    /// pending).
    pub ping_sent: u32,
    /// When the sender last got its PONG (unix seconds).
    pub pong_received: u32,
    /// The node's IP as the sender knows it. Upstream copies the whole
    /// 46-byte buffer, so bytes after the NUL may be non-zero.
    pub ip: IpField,
    /// The node's client port.
    pub port: u16,
    /// The node's cluster bus port.
    pub cport: u16,
    /// The node's flags as the sender sees them (see `node_flags`).
    pub flags: u16,
    /// The node's plaintext port when `port` is TLS, else 0.
    pub pport: u16,
}

/// Data of PING, PONG and MEET.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PingData {
    /// Gossip entries (the header's `count`).
    pub gossip: Vec<Gossip>,
    /// Ping extensions (the header's `extensions`).
    pub extensions: Vec<PingExt>,
}

/// The data of a message, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `PING`.
    Ping(PingData),
    /// `PONG`.
    Pong(PingData),
    /// `MEET`.
    Meet(PingData),
    /// `FAIL`: `node` is failing.
    Fail {
        /// The failing node.
        node: NodeName,
    },
    /// `PUBLISH` propagation.
    Publish {
        /// The channel.
        channel: Vec<u8>,
        /// The message.
        message: Vec<u8>,
    },
    /// `SPUBLISH` propagation.
    PublishShard {
        /// The shard channel.
        channel: Vec<u8>,
        /// The message.
        message: Vec<u8>,
    },
    /// `FAILOVER_AUTH_REQUEST` (header only; `FORCEACK` in `mflags`).
    FailoverAuthRequest,
    /// `FAILOVER_AUTH_ACK` (header only).
    FailoverAuthAck,
    /// `UPDATE`: `node` serves `slots` at `config_epoch`.
    Update {
        /// The node's configEpoch.
        config_epoch: u64,
        /// The slots' owner.
        node: NodeName,
        /// Its slots.
        slots: SlotBitmap,
    },
    /// `MFSTART` (header only).
    MfStart,
    /// `MODULE`: a module's message.
    Module {
        /// The sending module's id.
        module_id: u64,
        /// The module's message type.
        module_type: u8,
        /// The payload.
        payload: Vec<u8>,
    },
    /// A type 7.0 does not know, kept raw (everything after the header).
    Unknown {
        /// The wire type (should not be one of 7.0's).
        msg_type: u16,
        /// The header's `count`.
        count: u16,
        /// The bytes after the header.
        data: Vec<u8>,
    },
}

impl Body {
    /// The wire type.
    pub fn msg_type(&self) -> u16 {
        let known = match self {
            Body::Ping(_) => MessageType::Ping,
            Body::Pong(_) => MessageType::Pong,
            Body::Meet(_) => MessageType::Meet,
            Body::Fail { .. } => MessageType::Fail,
            Body::Publish { .. } => MessageType::Publish,
            Body::PublishShard { .. } => MessageType::PublishShard,
            Body::FailoverAuthRequest => MessageType::FailoverAuthRequest,
            Body::FailoverAuthAck => MessageType::FailoverAuthAck,
            Body::Update { .. } => MessageType::Update,
            Body::MfStart => MessageType::MfStart,
            Body::Module { .. } => MessageType::Module,
            Body::Unknown { msg_type, .. } => return *msg_type,
        };
        known.as_u16()
    }

    /// The gossip/extension data of PING, PONG and MEET.
    pub fn ping_data(&self) -> Option<&PingData> {
        match self {
            Body::Ping(d) | Body::Pong(d) | Body::Meet(d) => Some(d),
            _ => None,
        }
    }
}

/// A whole cluster bus message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The sender's view.
    pub header: Header,
    /// The per-type data.
    pub body: Body,
}

impl Message {
    /// A message of `header` and `body`.
    pub fn new(header: Header, body: Body) -> Message {
        Message { header, body }
    }

    /// The wire type.
    pub fn msg_type(&self) -> u16 {
        self.body.msg_type()
    }

    /// The type, if 7.0 knows it.
    pub fn kind(&self) -> Option<MessageType> {
        MessageType::from_u16(self.msg_type())
    }

    /// The size [`try_encode`] produces (saturating).
    pub fn encoded_len(&self) -> usize {
        let data = match &self.body {
            Body::Ping(d) | Body::Pong(d) | Body::Meet(d) => {
                d.gossip.len().saturating_mul(GOSSIP_LEN).saturating_add(
                    d.extensions
                        .iter()
                        .fold(0usize, |acc, e| acc.saturating_add(e.encoded_len())),
                )
            }
            Body::Fail { .. } => NAME_LEN,
            Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
                PUBLISH_FIXED_LEN
                    .saturating_add(channel.len())
                    .saturating_add(message.len())
            }
            Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => 0,
            Body::Update { .. } => UPDATE_LEN - HEADER_LEN,
            Body::Module { payload, .. } => MODULE_FIXED_LEN.saturating_add(payload.len()),
            Body::Unknown { data, .. } => data.len(),
        };
        HEADER_LEN.saturating_add(data)
    }
}

/// Given the start of a link's receive buffer, the total length of the
/// message there: `Ok(None)` while fewer than 8 bytes are buffered,
/// `Ok(Some(totlen))` after. Like 7.0's reader, refuses a wrong
/// signature and a length below the header size; those errors mean the
/// link must be closed ([`BusError::closes_link`]).
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, BusError> {
    let Some(first) = buf.get(..MIN_READ_LEN) else {
        return Ok(None);
    };
    let mut r = Reader::new(first);
    let sig: [u8; 4] = r.array()?;
    if sig != SIGNATURE {
        return Err(BusError::BadSignature(sig));
    }
    let totlen = r.u32()?;
    if (totlen as usize) < HEADER_LEN {
        return Err(BusError::LengthBelowMinimum(totlen));
    }
    Ok(Some(totlen as usize))
}

/// How many more bytes the reader must get before `buf` starts with a
/// whole message: the rest of the 8 framing bytes first, then the rest
/// of the message. 0 means `&buf[..frame_len]` can be decoded.
pub fn bytes_needed(buf: &[u8]) -> Result<usize, BusError> {
    match frame_len(buf)? {
        None => Ok(MIN_READ_LEN - buf.len()),
        Some(total) => Ok(total.saturating_sub(buf.len())),
    }
}

fn bad_length(msg_type: u16, declared: u32, expected: u64) -> BusError {
    BusError::BadLength {
        msg_type,
        declared,
        expected,
    }
}

/// Decodes exactly one message: `buf` must be the whole message, no
/// more. Checks as 7.0 does (the reader's signature and minimum length,
/// then `clusterIsValidPacket`: totlen equal to the buffer, version 1,
/// the exact length each type implies), and also that ping extensions
/// are well formed (see [`super::ext`]). Never panics.
pub fn decode(buf: &[u8]) -> Result<Message, BusError> {
    let totlen = match frame_len(buf)? {
        Some(n) => n,
        None => {
            return Err(BusError::Truncated {
                needed: MIN_READ_LEN,
                available: buf.len(),
            })
        }
    };
    if totlen != buf.len() {
        return Err(BusError::LengthMismatch {
            declared: u32::try_from(totlen).unwrap_or(u32::MAX),
            actual: buf.len(),
        });
    }
    let (framing, header) = read_header(buf)?;
    if framing.version != PROTOCOL_VERSION {
        return Err(BusError::BadVersion(framing.version));
    }
    let data = buf.get(HEADER_LEN..).unwrap_or(&[]);
    let body = decode_body(&framing, &header, data)?;
    Ok(Message { header, body })
}

fn decode_body(framing: &Framing, header: &Header, data: &[u8]) -> Result<Body, BusError> {
    let t = framing.msg_type;
    let declared = framing.totlen;
    let header_len = HEADER_LEN as u64;
    let exact = |len: usize| -> Result<(), BusError> {
        if data.len() == len {
            Ok(())
        } else {
            Err(bad_length(t, declared, header_len + len as u64))
        }
    };
    let mut r = Reader::new(data);
    let Some(kind) = MessageType::from_u16(t) else {
        return Ok(Body::Unknown {
            msg_type: t,
            count: framing.count,
            data: data.to_vec(),
        });
    };
    Ok(match kind {
        MessageType::Ping | MessageType::Pong | MessageType::Meet => {
            let ping = decode_ping(framing, header, data)?;
            match kind {
                MessageType::Ping => Body::Ping(ping),
                MessageType::Pong => Body::Pong(ping),
                _ => Body::Meet(ping),
            }
        }
        MessageType::Fail => {
            exact(NAME_LEN)?;
            Body::Fail {
                node: NodeName(r.array()?),
            }
        }
        MessageType::Publish | MessageType::PublishShard => {
            if data.len() < PUBLISH_FIXED_LEN {
                return Err(bad_length(
                    t,
                    declared,
                    header_len + PUBLISH_FIXED_LEN as u64,
                ));
            }
            let channel_len = r.u32()?;
            let message_len = r.u32()?;
            let expected =
                PUBLISH_FIXED_LEN as u64 + u64::from(channel_len) + u64::from(message_len);
            if data.len() as u64 != expected {
                return Err(bad_length(t, declared, header_len + expected));
            }
            let channel = r.bytes(channel_len as usize)?.to_vec();
            let message = r.bytes(message_len as usize)?.to_vec();
            if kind == MessageType::Publish {
                Body::Publish { channel, message }
            } else {
                Body::PublishShard { channel, message }
            }
        }
        MessageType::FailoverAuthRequest => {
            exact(0)?;
            Body::FailoverAuthRequest
        }
        MessageType::FailoverAuthAck => {
            exact(0)?;
            Body::FailoverAuthAck
        }
        MessageType::MfStart => {
            exact(0)?;
            Body::MfStart
        }
        MessageType::Update => {
            exact(UPDATE_LEN - HEADER_LEN)?;
            let config_epoch = r.u64()?;
            let node = NodeName(r.array()?);
            let slots = SlotBitmap::from_array(r.array()?);
            Body::Update {
                config_epoch,
                node,
                slots,
            }
        }
        MessageType::Module => {
            if data.len() < MODULE_FIXED_LEN {
                return Err(bad_length(
                    t,
                    declared,
                    header_len + MODULE_FIXED_LEN as u64,
                ));
            }
            let module_id = r.u64()?;
            let len = r.u32()?;
            let module_type = r.u8()?;
            let expected = MODULE_FIXED_LEN as u64 + u64::from(len);
            if data.len() as u64 != expected {
                return Err(bad_length(t, declared, header_len + expected));
            }
            Body::Module {
                module_id,
                module_type,
                payload: r.bytes(len as usize)?.to_vec(),
            }
        }
    })
}

fn decode_ping(framing: &Framing, header: &Header, data: &[u8]) -> Result<PingData, BusError> {
    let t = framing.msg_type;
    let declared = framing.totlen;
    let gossip_len = usize::from(framing.count) * GOSSIP_LEN;
    let base = (HEADER_LEN + gossip_len) as u64;
    if data.len() < gossip_len {
        return Err(bad_length(t, declared, base));
    }
    let mut r = Reader::new(data);
    let mut gossip = Vec::with_capacity(usize::from(framing.count));
    for _ in 0..framing.count {
        gossip.push(read_gossip(&mut r)?);
    }
    let rest = r.rest();
    let has_ext_data = header.mflags[0] & msg_flags::EXT_DATA != 0;
    let extensions = if has_ext_data {
        let (exts, used) = read_extensions(rest, framing.extensions)?;
        if used != rest.len() {
            return Err(bad_length(t, declared, base + used as u64));
        }
        exts
    } else {
        if !rest.is_empty() {
            return Err(bad_length(t, declared, base));
        }
        if framing.extensions != 0 {
            // 7.0 would accept this length and then walk extensions
            // past the end of the packet.
            return Err(BusError::BadExtension(
                "extensions counted without the EXT_DATA flag",
            ));
        }
        Vec::new()
    };
    Ok(PingData { gossip, extensions })
}

fn read_gossip(r: &mut Reader<'_>) -> Result<Gossip, BusError> {
    let node = NodeName(r.array::<NAME_LEN>()?);
    let ping_sent = r.u32()?;
    let pong_received = r.u32()?;
    let ip = IpField(r.array::<IP_LEN>()?);
    let port = r.u16()?;
    let cport = r.u16()?;
    let flags = r.u16()?;
    let pport = r.u16()?;
    let _reserved = r.u16()?;
    Ok(Gossip {
        node,
        ping_sent,
        pong_received,
        ip,
        port,
        cport,
        flags,
        pport,
    })
}

fn write_gossip(out: &mut Vec<u8>, g: &Gossip) {
    out.extend_from_slice(g.node.as_bytes());
    out.put_u32(g.ping_sent);
    out.put_u32(g.pong_received);
    out.extend_from_slice(&g.ip.0);
    out.put_u16(g.port);
    out.put_u16(g.cport);
    out.put_u16(g.flags);
    out.put_u16(g.pport);
    out.put_u16(0);
}

/// Largest message the 32-bit `totlen` can describe.
const MAX_TOTLEN: usize = u32::MAX as usize;

/// Encodes `msg`, or fails with [`BusError::TooLarge`] if it does not
/// fit the wire's field widths (more than 65535 gossip entries or
/// extensions, a length past 32 bits).
pub fn try_encode(msg: &Message) -> Result<Vec<u8>, BusError> {
    if let Some(d) = msg.body.ping_data() {
        if d.gossip.len() > usize::from(u16::MAX) {
            return Err(BusError::TooLarge("more than 65535 gossip entries"));
        }
        if d.extensions.len() > usize::from(u16::MAX) {
            return Err(BusError::TooLarge("more than 65535 ping extensions"));
        }
    }
    if msg.encoded_len() > MAX_TOTLEN {
        return Err(BusError::TooLarge("message longer than 4 GiB"));
    }
    Ok(write_message(msg))
}

/// Encodes `msg`. Never panics: a message beyond the wire's field
/// widths (see [`try_encode`]) is cut down to a valid message (extra
/// gossip entries or extensions left out, payloads truncated to fit the
/// 32-bit length); use [`try_encode`] to be told instead.
pub fn encode(msg: &Message) -> Vec<u8> {
    match try_encode(msg) {
        Ok(bytes) => bytes,
        Err(_) => write_message(&clamp(msg)),
    }
}

/// A copy of `msg` cut down to fit the wire.
fn clamp(msg: &Message) -> Message {
    let budget = MAX_TOTLEN - HEADER_LEN;
    let cut = |bytes: &[u8], room: usize| bytes[..bytes.len().min(room)].to_vec();
    let body = match &msg.body {
        Body::Ping(d) => Body::Ping(clamp_ping(d, budget)),
        Body::Pong(d) => Body::Pong(clamp_ping(d, budget)),
        Body::Meet(d) => Body::Meet(clamp_ping(d, budget)),
        Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
            let room = budget - PUBLISH_FIXED_LEN;
            let channel = cut(channel, room);
            let message = cut(message, room - channel.len());
            if matches!(msg.body, Body::Publish { .. }) {
                Body::Publish { channel, message }
            } else {
                Body::PublishShard { channel, message }
            }
        }
        Body::Module {
            module_id,
            module_type,
            payload,
        } => Body::Module {
            module_id: *module_id,
            module_type: *module_type,
            payload: cut(payload, budget - MODULE_FIXED_LEN),
        },
        Body::Unknown {
            msg_type,
            count,
            data,
        } => Body::Unknown {
            msg_type: *msg_type,
            count: *count,
            data: cut(data, budget),
        },
        other => other.clone(),
    };
    Message {
        header: msg.header.clone(),
        body,
    }
}

fn clamp_ping(d: &PingData, budget: usize) -> PingData {
    let max_gossip = usize::from(u16::MAX).min(budget / GOSSIP_LEN);
    let gossip: Vec<Gossip> = d.gossip.iter().take(max_gossip).cloned().collect();
    let mut room = budget - gossip.len() * GOSSIP_LEN;
    let mut extensions = Vec::new();
    for ext in d.extensions.iter().take(usize::from(u16::MAX)) {
        let len = ext.encoded_len();
        if len > room {
            break;
        }
        room -= len;
        extensions.push(ext.clone());
    }
    PingData { gossip, extensions }
}

/// Writes a message that fits the wire (checked by the callers).
fn write_message(msg: &Message) -> Vec<u8> {
    let total = msg.encoded_len();
    let mut out = Vec::with_capacity(total);
    let mut header = msg.header.clone();
    let (count, extensions) = match &msg.body {
        Body::Ping(d) | Body::Pong(d) | Body::Meet(d) => {
            if !d.extensions.is_empty() {
                // Without it 7.0 ignores the extensions and then finds
                // the length wrong.
                header.mflags[0] |= msg_flags::EXT_DATA;
            }
            (d.gossip.len() as u16, d.extensions.len() as u16)
        }
        Body::Unknown { count, .. } => (*count, 0),
        _ => (0, 0),
    };
    let framing = Framing {
        totlen: u32::try_from(total).unwrap_or(u32::MAX),
        version: PROTOCOL_VERSION,
        msg_type: msg.msg_type(),
        count,
        extensions,
    };
    write_header(&mut out, framing, &header);
    match &msg.body {
        Body::Ping(d) | Body::Pong(d) | Body::Meet(d) => {
            for g in &d.gossip {
                write_gossip(&mut out, g);
            }
            for ext in &d.extensions {
                ext.write(&mut out);
            }
        }
        Body::Fail { node } => out.extend_from_slice(node.as_bytes()),
        Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
            out.put_u32(channel.len() as u32);
            out.put_u32(message.len() as u32);
            out.extend_from_slice(channel);
            out.extend_from_slice(message);
        }
        Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => {}
        Body::Update {
            config_epoch,
            node,
            slots,
        } => {
            out.put_u64(*config_epoch);
            out.extend_from_slice(node.as_bytes());
            out.extend_from_slice(slots.as_bytes());
        }
        Body::Module {
            module_id,
            module_type,
            payload,
        } => {
            out.put_u64(*module_id);
            out.put_u32(payload.len() as u32);
            out.push(*module_type);
            out.extend_from_slice(payload);
        }
        Body::Unknown { data, .. } => out.extend_from_slice(data),
    }
    out
}
