//! List commands (placeholder: the list family lands here; the type
//! API lives in `redis_storage::list`).

use crate::table::Handler;

/// The list commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
