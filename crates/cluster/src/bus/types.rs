//! Fixed-size fields of the cluster bus and the numeric constants that
//! Redis 7.0 puts on the wire: node names (40 bytes), IP strings (46
//! bytes, NUL padded), the 16384-bit slot bitmap, message types, node
//! flags, message flags and ping extension types.
//!
//! Names and IP fields are kept as raw byte arrays so that whatever a
//! peer sent (including bytes after an IP string's terminating NUL) is
//! re-encoded unchanged.

use std::fmt;

/// Length of a node name (a SHA-1 in hex), `CLUSTER_NAMELEN`.
pub const NAME_LEN: usize = 40;
/// Size of an IP string field, `NET_IP_STR_LEN` (room for an IPv6 text
/// address plus its NUL).
pub const IP_LEN: usize = 46;
/// Number of hash slots, `CLUSTER_SLOTS`.
pub const SLOTS: usize = 16384;
/// Size in bytes of a slot bitmap (`CLUSTER_SLOTS / 8`).
pub const SLOT_BYTES: usize = SLOTS / 8;

/// The 40-byte name of a cluster node as carried on the bus.
///
/// Redis names are 40 lowercase hex characters; the all-zero name
/// ([`NULL_NAME`]) means "no node" (a master's `slaveof` field).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(pub [u8; NAME_LEN]);

/// `CLUSTER_NODE_NULL_NAME`: forty NUL bytes, "no node".
pub const NULL_NAME: NodeName = NodeName([0; NAME_LEN]);

impl NodeName {
    /// The all-zero name, same as [`NULL_NAME`].
    pub const NULL: NodeName = NULL_NAME;

    /// Takes exactly [`NAME_LEN`] bytes, whatever they are.
    pub fn from_bytes(bytes: &[u8]) -> Option<NodeName> {
        let arr: [u8; NAME_LEN] = bytes.try_into().ok()?;
        Some(NodeName(arr))
    }

    /// Parses a textual node id: exactly 40 characters of `0-9a-f`, as
    /// upstream's `verifyClusterNodeId` accepts.
    pub fn parse(text: &str) -> Option<NodeName> {
        let name = NodeName::from_bytes(text.as_bytes())?;
        name.is_valid_id().then_some(name)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; NAME_LEN] {
        &self.0
    }

    /// Whether this is the all-zero "null name".
    pub fn is_null(&self) -> bool {
        self.0 == [0; NAME_LEN]
    }

    /// Whether the name is 40 characters of `0-9a-f`.
    pub fn is_valid_id(&self) -> bool {
        self.0
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    }

    /// The name as text (lossy for non-UTF-8 bytes).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl Default for NodeName {
    fn default() -> Self {
        NULL_NAME
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_null() {
            f.write_str("NodeName(null)")
        } else {
            write!(f, "NodeName({:?})", String::from_utf8_lossy(&self.0))
        }
    }
}

/// A 46-byte IP string field (`char ip[NET_IP_STR_LEN]`): text up to the
/// first NUL; an empty string (first byte NUL) means "not announced".
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpField(pub [u8; IP_LEN]);

impl IpField {
    /// All zeros: no address.
    pub const EMPTY: IpField = IpField([0; IP_LEN]);

    /// NUL-pads `text`; `None` if it does not fit with its terminator
    /// (more than 45 bytes) or contains a NUL.
    pub fn new(text: &str) -> Option<IpField> {
        let bytes = text.as_bytes();
        if bytes.len() >= IP_LEN || bytes.contains(&0) {
            return None;
        }
        let mut arr = [0; IP_LEN];
        arr[..bytes.len()].copy_from_slice(bytes);
        Some(IpField(arr))
    }

    /// The bytes before the first NUL (all 46 if there is none).
    pub fn text_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(IP_LEN);
        &self.0[..end]
    }

    /// The text before the first NUL (lossy for non-UTF-8 bytes).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.text_bytes()).into_owned()
    }

    /// Whether the field holds no address (first byte NUL).
    pub fn is_empty(&self) -> bool {
        self.0[0] == 0
    }
}

impl Default for IpField {
    fn default() -> Self {
        IpField::EMPTY
    }
}

impl fmt::Debug for IpField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpField({:?})", self.to_string_lossy())
    }
}

/// The 16384-bit slot bitmap (`unsigned char slots[2048]`). Slot `n` is
/// bit `n % 8` (least significant first) of byte `n / 8`, as upstream's
/// `bitmapTestBit`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SlotBitmap(Box<[u8; SLOT_BYTES]>);

impl SlotBitmap {
    /// No slot set.
    pub fn new() -> SlotBitmap {
        SlotBitmap(Box::new([0; SLOT_BYTES]))
    }

    /// Wraps a raw bitmap.
    pub fn from_array(bytes: [u8; SLOT_BYTES]) -> SlotBitmap {
        SlotBitmap(Box::new(bytes))
    }

    /// Takes exactly [`SLOT_BYTES`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<SlotBitmap> {
        let arr: [u8; SLOT_BYTES] = bytes.try_into().ok()?;
        Some(SlotBitmap(Box::new(arr)))
    }

    /// The raw 2048 bytes.
    pub fn as_bytes(&self) -> &[u8; SLOT_BYTES] {
        &self.0
    }

    /// Whether `slot` is set; slots past 16383 never are.
    pub fn get(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        self.0
            .get(slot / 8)
            .is_some_and(|byte| byte & (1 << (slot % 8)) != 0)
    }

    /// Sets `slot` (ignored past 16383).
    pub fn set(&mut self, slot: u16) {
        let slot = usize::from(slot);
        if let Some(byte) = self.0.get_mut(slot / 8) {
            *byte |= 1 << (slot % 8);
        }
    }

    /// Clears `slot` (ignored past 16383).
    pub fn clear(&mut self, slot: u16) {
        let slot = usize::from(slot);
        if let Some(byte) = self.0.get_mut(slot / 8) {
            *byte &= !(1 << (slot % 8));
        }
    }

    /// Sets every slot of `start..=end` (clamped to 16383).
    pub fn set_range(&mut self, start: u16, end: u16) {
        for slot in start..=end.min((SLOTS - 1) as u16) {
            self.set(slot);
        }
    }

    /// Number of slots set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Whether no slot is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The set slots as inclusive ranges, in order.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for slot in 0..SLOTS as u16 {
            if !self.get(slot) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 + 1 == slot => last.1 = slot,
                _ => out.push((slot, slot)),
            }
        }
        out
    }
}

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap::new()
    }
}

impl fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotBitmap[")?;
        for (i, (start, end)) in self.ranges().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        f.write_str("]")
    }
}

/// Message types (`CLUSTERMSG_TYPE_*`) of Redis 7.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MessageType {
    /// `PING`.
    Ping = 0,
    /// `PONG`, the reply to PING and MEET.
    Pong = 1,
    /// `MEET`: a PING that makes the receiver add the sender.
    Meet = 2,
    /// `FAIL`: mark a node as failing.
    Fail = 3,
    /// Pub/Sub `PUBLISH` propagation.
    Publish = 4,
    /// A replica asks masters for their vote.
    FailoverAuthRequest = 5,
    /// A master grants its vote.
    FailoverAuthAck = 6,
    /// Another node's slot configuration.
    Update = 7,
    /// A replica asks its master to pause for a manual failover.
    MfStart = 8,
    /// Module cluster API message.
    Module = 9,
    /// Sharded Pub/Sub `SPUBLISH` propagation (new in 7.0).
    PublishShard = 10,
}

/// Number of message types 7.0 knows (`CLUSTERMSG_TYPE_COUNT`).
pub const MESSAGE_TYPE_COUNT: u16 = 11;

impl MessageType {
    /// The type for a wire number, `None` for types 7.0 does not know.
    pub fn from_u16(value: u16) -> Option<MessageType> {
        Some(match value {
            0 => MessageType::Ping,
            1 => MessageType::Pong,
            2 => MessageType::Meet,
            3 => MessageType::Fail,
            4 => MessageType::Publish,
            5 => MessageType::FailoverAuthRequest,
            6 => MessageType::FailoverAuthAck,
            7 => MessageType::Update,
            8 => MessageType::MfStart,
            9 => MessageType::Module,
            10 => MessageType::PublishShard,
            _ => return None,
        })
    }

    /// The wire number.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// Upstream's name for the type (`clusterGetMessageTypeString`).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Ping => "ping",
            MessageType::Pong => "pong",
            MessageType::Meet => "meet",
            MessageType::Fail => "fail",
            MessageType::Publish => "publish",
            MessageType::FailoverAuthRequest => "auth-req",
            MessageType::FailoverAuthAck => "auth-ack",
            MessageType::Update => "update",
            MessageType::MfStart => "mfstart",
            MessageType::Module => "module",
            MessageType::PublishShard => "publishshard",
        }
    }
}

/// Node flags (`CLUSTER_NODE_*`) as sent in the header's and gossip
/// entries' `flags` fields.
pub mod node_flags {
    /// The node is a master.
    pub const MASTER: u16 = 1;
    /// The node is a replica.
    pub const SLAVE: u16 = 2;
    /// Failure suspected, not yet agreed.
    pub const PFAIL: u16 = 4;
    /// The node is believed to be failing.
    pub const FAIL: u16 = 8;
    /// The node is the sender itself.
    pub const MYSELF: u16 = 16;
    /// First PING not yet exchanged.
    pub const HANDSHAKE: u16 = 32;
    /// The node's address is unknown.
    pub const NOADDR: u16 = 64;
    /// A MEET is to be sent to this node.
    pub const MEET: u16 = 128;
    /// Master eligible for replica migration.
    pub const MIGRATE_TO: u16 = 256;
    /// Replica that will not try to fail over.
    pub const NOFAILOVER: u16 = 512;
}

/// Message flags of `mflags[0]` (`CLUSTERMSG_FLAG0_*`); `mflags[1]` and
/// `mflags[2]` are unused in 7.0.
pub mod msg_flags {
    /// Master paused for a manual failover.
    pub const PAUSED: u8 = 1 << 0;
    /// Give an ACK to AUTH_REQUEST even if the master is up.
    pub const FORCEACK: u8 = 1 << 1;
    /// The PING/PONG/MEET carries ping extensions (7.0 sets it only
    /// when it sends some; without it the extensions are not checked).
    pub const EXT_DATA: u8 = 1 << 2;
}

/// Cluster state byte of the header (`CLUSTER_OK`, `CLUSTER_FAIL`).
pub mod cluster_state {
    /// Everything looks ok.
    pub const OK: u8 = 0;
    /// The cluster can't work.
    pub const FAIL: u8 = 1;
}

/// Ping extension types. 7.0 knows only the hostname; later releases
/// add others (7.2: shard id 1, human nodename 2, forgotten node 3),
/// which 7.0 skips and which this codec keeps as raw extensions.
pub mod ext_type {
    /// `CLUSTERMSG_EXT_TYPE_HOSTNAME`: the announced hostname.
    pub const HOSTNAME: u16 = 0;
}
