//! Pieces shared by every binary of the suite that need no I/O runtime.
//!
//! # Layout
//! - [`args`]: splitting a line into arguments with upstream's quoting rules
//!   (used by inline requests, `redis.conf` and `redis-cli`).

pub mod args;
