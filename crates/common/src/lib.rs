//! Pieces shared by every binary of the suite that need no I/O runtime.
//!
//! # Layout
//! - [`args`]: splitting a line into arguments with upstream's quoting rules
//!   (used by inline requests, `redis.conf` and `redis-cli`).
//! - [`glob`]: upstream-compatible glob matching (`KEYS`, `CONFIG GET`, …).
//! - [`units`]: memory sizes with unit suffixes and `yes`/`no` flags.
//! - [`log`]: the exact layout of upstream's log lines and log levels;
//!   [`logger`]: the process log writing them.
//! - [`time`]: Unix time in milliseconds and seconds.
//! - [`os`]: `strerror`-style texts of I/O errors.
//! - [`sha256`]: password digests as ACL shows them; [`sha1`]: script ids.

pub mod args;
pub mod glob;
pub mod log;
pub mod logger;
pub mod os;
pub mod repr;
pub mod sha1;
pub mod sha256;
pub mod time;
pub mod units;
