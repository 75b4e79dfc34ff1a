//! Hash commands (placeholder: the hash family lands here; the type
//! API lives in `redis_storage::hash`).

use crate::table::Handler;

/// The hash commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
