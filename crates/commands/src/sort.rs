//! SORT commands (placeholder: the family lands here).

use crate::table::Handler;

/// The SORT commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
