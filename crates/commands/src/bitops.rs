//! Bitmap and bitfield commands (placeholder: the family lands here).

use crate::table::Handler;

/// The bitmap and bitfield commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[];
