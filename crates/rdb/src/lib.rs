//! RDB persistence (format version 10, as written by Redis 7.0): a
//! streaming reader, a writer, DUMP/RESTORE payloads, and the logic behind
//! `redis-check-rdb`.
//!
//! - [`RdbReader`] yields [`RdbItem`]s one at a time from any `Read`.
//! - [`RdbWriter`] writes a file from [`RdbEntry`]s (see [`WriterOptions`]
//!   for the encodings chosen).
//! - [`dump_payload`] / [`parse_payload`] are DUMP and RESTORE.
//!
//! The value model ([`RdbValue`]) is independent of the server's storage
//! types; the server converts both ways.
//!
//! Notes for the server:
//! - Loading: skip entries whose value [`RdbValue::is_empty_collection`],
//!   and (as a master) keys whose `expire_ms` is already past; refuse a
//!   `SelectDb` beyond `databases`; a `Module` value without the module is
//!   an error ("no matching module", see [`module_name`]).
//! - Saving: header and `standard_aux`, then `repl-*` aux fields if any,
//!   `aux("aof-base", "0"|"1")`, functions, then per database
//!   `select_db` + `entry` for each key, then `finish`. Write to a temp
//!   file and rename, as upstream does.
//! - DUMP output equals the reference byte for byte when `rdbcompression`
//!   is off; with LZF on, long values compress differently (still valid).

pub mod check;
pub mod compact;
pub mod consts;
pub mod crc64;
mod error;
mod input;
pub mod lzf;
mod model;
pub mod numfmt;
mod payload;
mod reader;
mod writer;

pub use consts::RDB_VERSION;
pub use error::{Error, ErrorKind, Result};
pub use model::*;
pub use payload::{
    dump_payload, dump_payload_with, functions_payload, parse_functions_payload, parse_payload,
    parse_payload_checked, FunctionsPayloadError,
};
pub use reader::{is_object_type, read_all, ChecksumStatus, Progress, RdbFile, RdbReader};
pub use writer::{RdbWriter, WriterOptions, DEFAULT_PACKED_THRESHOLD};
