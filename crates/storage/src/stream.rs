//! Stream type API (placeholder until the stream family lands: the type
//! module owner replaces this file with the real representation).

use crate::digest::{self as dg, DIGEST_LEN};

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamValue {}

impl StreamValue {
    /// Number of entries.
    pub fn len(&self) -> usize {
        0
    }

    /// True without entries (streams may exist empty, unlike collections).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        0
    }

    /// The type-specific part of `DEBUG DIGEST` (see [`crate::digest`]).
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        dg::begin_object(d, dg::ObjType::Stream);
    }
}
