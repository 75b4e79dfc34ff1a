//! Sorted set commands (placeholder: the sorted set family lands here; the type
//! API lives in `redis_storage::zset`).

use crate::table::Handler;

/// The sorted set commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
