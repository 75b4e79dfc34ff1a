//! RDB opcodes, value type bytes and small format constants (RDB 10).

/// The RDB version this crate writes and the newest it reads.
pub const RDB_VERSION: u32 = 10;

/// Function library (source code only).
pub const OP_FUNCTION2: u8 = 245;
/// Pre-GA function format (7.0 refuses it).
pub const OP_FUNCTION_PRE_GA: u8 = 246;
/// Module auxiliary data.
pub const OP_MODULE_AUX: u8 = 247;
/// LRU idle time of the next key.
pub const OP_IDLE: u8 = 248;
/// LFU counter of the next key.
pub const OP_FREQ: u8 = 249;
/// Auxiliary field.
pub const OP_AUX: u8 = 250;
/// Hash table size hints.
pub const OP_RESIZEDB: u8 = 251;
/// Expire in milliseconds for the next key.
pub const OP_EXPIRETIME_MS: u8 = 252;
/// Expire in seconds for the next key (old files).
pub const OP_EXPIRETIME: u8 = 253;
/// Database switch.
pub const OP_SELECTDB: u8 = 254;
/// End of file (checksum follows).
pub const OP_EOF: u8 = 255;

/// Value type bytes.
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Quicklist 2 node containers.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// Module serialization opcodes.
pub const MODULE_OPCODE_EOF: u64 = 0;
pub const MODULE_OPCODE_SINT: u64 = 1;
pub const MODULE_OPCODE_UINT: u64 = 2;
pub const MODULE_OPCODE_FLOAT: u64 = 3;
pub const MODULE_OPCODE_DOUBLE: u64 = 4;
pub const MODULE_OPCODE_STRING: u64 = 5;

/// Stream entry flags inside listpack nodes.
pub const STREAM_ITEM_FLAG_DELETED: i64 = 1;
pub const STREAM_ITEM_FLAG_SAMEFIELDS: i64 = 2;

/// Type names redis-check-rdb prints ("Reading type N (name)").
pub fn type_name(t: i32) -> &'static str {
    match t {
        0 => "string",
        1 => "list-linked",
        2 => "set-hashtable",
        3 => "zset-v1",
        4 => "hash-hashtable",
        5 => "zset-v2",
        6 => "module-pre-release",
        7 => "module-value",
        8 => "",
        9 => "hash-zipmap",
        10 => "list-ziplist",
        11 => "set-intset",
        12 => "zset-ziplist",
        13 => "hash-ziplist",
        14 => "quicklist",
        15 => "stream",
        16 => "hash-listpack",
        17 => "zset-listpack",
        18 => "quicklist-v2",
        // 7.0's redis-check-rdb has no name for the 7.0 stream encoding
        // (or anything newer) and prints this.
        _ => "unknown",
    }
}
