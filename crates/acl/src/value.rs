//! A small RESP-like reply tree for the structured ACL replies
//! (`ACL GETUSER`, `ACL LOG`), so the engine can encode them for RESP2
//! or RESP3 without this crate depending on the protocol crate.

/// One reply value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A bulk string.
    Bulk(Vec<u8>),
    /// An integer.
    Integer(i64),
    /// A double (`age-seconds`); RESP2 sends it as a bulk string.
    Double(f64),
    /// An array.
    Array(Vec<Value>),
    /// A set (RESP3 `~`, an array in RESP2): `ACL GETUSER`'s `flags`.
    Set(Vec<Value>),
    /// A map (RESP3 `%`, a flat array of pairs in RESP2).
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// A bulk string from anything byte-like.
    pub fn bulk(b: impl AsRef<[u8]>) -> Value {
        Value::Bulk(b.as_ref().to_vec())
    }

    /// A map whose keys are bulk strings.
    pub fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::bulk(k), v))
                .collect(),
        )
    }
}
