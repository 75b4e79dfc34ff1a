//! HyperLogLog commands (placeholder: the family lands here).

use crate::table::Handler;

/// The HyperLogLog commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
