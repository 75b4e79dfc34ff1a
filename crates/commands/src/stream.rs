//! Stream commands (placeholder: the family lands here).

use crate::table::Handler;

/// The stream commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
