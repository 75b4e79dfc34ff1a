//! The value stored under a key. One variant per data type; each type's
//! operations live in its own module (`string.rs`, and later `list.rs`, …).

use crate::string::StrValue;

/// A stored value.
#[derive(Clone, Debug)]
pub enum Value {
    Str(StrValue),
}

impl Value {
    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }

    /// Approximate heap bytes used by the value, for `MEMORY USAGE`.
    pub fn mem_usage(&self) -> usize {
        match self {
            Value::Str(s) => s.mem_usage(),
        }
    }
}
