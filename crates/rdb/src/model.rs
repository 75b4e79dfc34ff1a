//! The neutral value model the reader produces and the writer consumes.
//!
//! It deliberately knows nothing about in-memory encodings (listpack,
//! quicklist, ...): the server maps its own types to and from these plain
//! collections, and the writer picks RDB encodings by the thresholds in
//! [`crate::WriterOptions`].

use bytes::Bytes;

/// A stream entry ID `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// Builds an ID.
    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// True for `0-0`.
    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The 16-byte big-endian form RDB uses for node keys and PEL IDs.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Inverse of [`StreamId::to_be_bytes`]; `None` unless exactly 16 bytes.
    pub fn from_be_slice(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        Some(StreamId::new(
            u64::from_be_bytes(ms),
            u64::from_be_bytes(seq),
        ))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One live stream entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry {
    /// Its ID.
    pub id: StreamId,
    /// Field/value pairs in insertion order.
    pub fields: Vec<(Bytes, Bytes)>,
}

/// A pending (delivered, not acknowledged) entry of a consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEntry {
    /// The entry ID.
    pub id: StreamId,
    /// Unix time in milliseconds of the last delivery.
    pub delivery_time_ms: i64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConsumer {
    /// Consumer name.
    pub name: Bytes,
    /// Unix time in milliseconds the consumer was last seen.
    pub seen_time_ms: i64,
    /// IDs of the group PEL entries owned by this consumer.
    pub pending: Vec<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamGroup {
    /// Group name.
    pub name: Bytes,
    /// Last delivered ID.
    pub last_id: StreamId,
    /// Logical read counter (`entries-read`); -1 when unknown.
    pub entries_read: i64,
    /// The group's pending entries list, sorted by ID.
    pub pel: Vec<PendingEntry>,
    /// Consumers; every PEL entry is owned by exactly one of them.
    pub consumers: Vec<StreamConsumer>,
}

/// Everything RDB 10 (`STREAM_LISTPACKS_2`) stores about a stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    /// Live entries in ID order (deleted ones are not kept).
    pub entries: Vec<StreamEntry>,
    /// Greatest ID ever added.
    pub last_id: StreamId,
    /// First live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// Greatest ID ever deleted.
    pub max_deleted_id: StreamId,
    /// Count of entries ever added.
    pub entries_added: u64,
    /// Consumer groups.
    pub groups: Vec<StreamGroup>,
}

/// A value as stored in RDB.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    /// A string.
    String(Bytes),
    /// A list, head first.
    List(Vec<Bytes>),
    /// A set (order irrelevant).
    Set(Vec<Bytes>),
    /// A sorted set as member/score pairs (any order).
    ZSet(Vec<(Bytes, f64)>),
    /// A hash as field/value pairs.
    Hash(Vec<(Bytes, Bytes)>),
    /// A stream.
    Stream(StreamValue),
    /// A module value (`MODULE_2`), kept raw so it can be written back.
    Module {
        /// 64-bit module type ID (9-char name + 10-bit encoding version).
        module_id: u64,
        /// The serialized opcode stream after the ID, up to and including
        /// the module EOF opcode.
        raw: Bytes,
    },
}

impl RdbValue {
    /// True for a collection with no elements. Loaders must skip such keys
    /// (upstream drops them as "empty keys"); streams may be empty.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            RdbValue::List(v) | RdbValue::Set(v) => v.is_empty(),
            RdbValue::ZSet(v) => v.is_empty(),
            RdbValue::Hash(v) => v.is_empty(),
            RdbValue::String(_) | RdbValue::Stream(_) | RdbValue::Module { .. } => false,
        }
    }

    /// Lowercase type name as `TYPE` reports it.
    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::String(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::ZSet(_) => "zset",
            RdbValue::Hash(_) => "hash",
            RdbValue::Stream(_) => "stream",
            RdbValue::Module { .. } => "module",
        }
    }
}

/// One key with its value and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RdbEntry {
    /// Database number (from the last SELECTDB).
    pub db: u32,
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: RdbValue,
    /// Absolute expire time, Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (IDLE opcode).
    pub lru_idle: Option<u64>,
    /// LFU logarithmic counter (FREQ opcode).
    pub lfu_freq: Option<u8>,
}

/// Module auxiliary data (MODULE_AUX opcode), kept raw.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleAux {
    /// 64-bit module type ID.
    pub module_id: u64,
    /// When the module asked to be called (before/after keys).
    pub when: u64,
    /// Raw opcode stream up to and including the module EOF opcode.
    pub raw: Bytes,
}

/// Decodes the 9-character module name from a module type ID.
pub fn module_name(module_id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = module_id >> 10;
    let mut name = [0u8; 9];
    for slot in name.iter_mut().rev() {
        *slot = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// One item of an RDB file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbItem {
    /// An AUX field (`redis-ver`, `redis-bits`, `ctime`, `used-mem`,
    /// `repl-stream-db`, `repl-id`, `repl-offset`, `aof-base`, ...).
    Aux {
        /// Field name.
        key: Bytes,
        /// Field value (integers are returned as decimal text).
        value: Bytes,
    },
    /// SELECTDB: the following entries belong to this database.
    SelectDb(u32),
    /// RESIZEDB hint for the current database.
    ResizeDb {
        /// Number of keys.
        db_size: u64,
        /// Number of keys with an expire.
        expires_size: u64,
    },
    /// A function library (FUNCTION2 opcode): its source code.
    Function(Bytes),
    /// Module auxiliary data.
    ModuleAux(ModuleAux),
    /// A key.
    Entry(RdbEntry),
}
