//! The keyspace: databases, values and expiry. Synchronous by design: nothing
//! here awaits, so the server can run a whole batch of commands under one
//! lock and a later split into per-slot shards stays possible.
//!
//! # Layout
//! - [`access`]: per-key LRU/LFU metadata for eviction and `OBJECT`.
//! - [`key`]: the compact key type (short keys inline, no allocation).
//! - [`keyspace`]: the set of numbered databases plus keyspace-wide counters.
//! - [`lazyfree`]: freeing large values and emptied databases on a thread.
//! - [`dict`]: the incrementally rehashed hash table with SCAN cursors;
//!   [`segvec`]: its segmented entry storage.
//! - [`digest`]: `DEBUG DIGEST` primitives compatible with upstream.
//! - [`db`]: one database: the main table, the expiry table, lazy and active expiry.
//! - [`snapshot`]: incremental point-in-time snapshots (no fork, no copy).
//! - [`slots`]: keys per cluster hash slot (cluster mode only).
//! - [`value`]: the value enum shared by every type module.
//! - [`string`]: the string type API (encodings `int`, `embstr`, `raw`);
//!   [`list`], [`hash`], [`set`], [`zset`]: the collection types.

pub mod access;
pub mod db;
pub mod dict;
pub mod digest;
pub mod hash;
pub mod key;
pub mod keyspace;
pub mod lazyfree;
pub mod list;
pub mod segvec;
pub mod set;
pub mod slots;
pub mod snapshot;
pub mod stream;
pub mod string;
pub mod value;
pub mod zset;

pub use db::{Db, Entry, Preimage};
pub use key::Key;
pub use keyspace::Keyspace;
pub use snapshot::Snapshot;
pub use value::Value;
