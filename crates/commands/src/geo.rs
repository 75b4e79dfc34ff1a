//! Geospatial commands (placeholder: the family lands here).

use crate::table::Handler;

/// The geospatial commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
