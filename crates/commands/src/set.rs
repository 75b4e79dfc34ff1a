//! Set commands (placeholder: the set family lands here; the type
//! API lives in `redis_storage::set`).

use crate::table::Handler;

/// The set commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
