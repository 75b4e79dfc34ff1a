//! Multi-part append-only file persistence, as Redis 7.0 lays it out:
//! `<dir>/<appenddirname>/` holding a manifest, one base file (RDB
//! preamble `.base.rdb` or RESP `.base.aof`) and incr files
//! (`.incr.aof`).
//!
//! - [`manifest`]: parsing/writing the manifest with upstream's rules and
//!   messages, file naming, and the directory operations ([`AofDir`]):
//!   open the incr file on start, open a new incr when a rewrite starts,
//!   install a rewritten base (old files become history), delete history,
//!   atomic manifest replacement.
//! - [`command`]: the exact bytes of the command stream ([`Feeder`]
//!   tracks the selected db and `#TS:` annotations).
//! - [`reader`]: an incremental command reader with upstream's loader
//!   rules, reporting clean end, truncated tail or corrupt data.
//! - [`writer`]: [`AofWriter`], the durable group-commit writer
//!   (`appendfsync always|everysec|no`, `no-appendfsync-on-rewrite`).
//! - [`rewrite`]: the temp base file written by a rewrite, with
//!   `aof-rewrite-incremental-fsync`.
//!
//! This crate knows files, not the engine: the server decides what to
//! append and replays what the reader yields.

pub mod command;
pub mod manifest;
pub mod reader;
pub mod rewrite;
pub mod writer;

pub use command::{Feeder, AOF_REWRITE_ITEMS_PER_CMD};
pub use manifest::{AofDir, AofInfo, FileType, Manifest, ManifestError};
pub use reader::{has_rdb_preamble, AofReader, Command, End, Event};
pub use rewrite::RewriteFile;
pub use writer::{
    AofError, AofHandle, AofStats, AofWriter, Commit, DurableCallback, DurableHook, FsyncPolicy,
};
