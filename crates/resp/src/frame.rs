//! The value model: [`Protocol`] versions and the [`Frame`] enum that holds one
//! RESP value of any type, plus a few convenience constructors.

use bytes::Bytes;

/// Protocol version negotiated with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// One RESP value.
///
/// # Attributes
/// [`Frame::Attribute`] is out-of-band data that precedes the value it
/// describes. The encoder writes it as `|n` in RESP3 and drops it entirely in
/// RESP2, and it is never counted in the length of an enclosing
/// array/set/push (so `Array([Attribute(..), x, y])` is written as `*2`).
/// The decoder mirrors this: see [`crate::decode`].
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `+text`: must not contain CR or LF.
    Simple(Bytes),
    /// `-text`: the full error line, e.g. `ERR unknown command`.
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`, RESP3 `_`.
    Null,
    /// RESP2 `*-1`, RESP3 `_`.
    NullArray,
    Array(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    /// Decimal digits with an optional leading `-`.
    BigNumber(Bytes),
    /// RESP3 verbatim string; `format` is e.g. `*b"txt"` or `*b"mkd"`.
    Verbatim {
        format: [u8; 3],
        text: Bytes,
    },
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Attribute(Vec<(Frame, Frame)>),
    Push(Vec<Frame>),
}

impl Frame {
    /// A simple string (`+OK`).
    pub fn simple(text: impl Into<Bytes>) -> Frame {
        Frame::Simple(text.into())
    }

    /// An error line; `text` includes the code, e.g. `"ERR syntax error"`.
    pub fn error(text: impl Into<Bytes>) -> Frame {
        Frame::Error(text.into())
    }

    /// A bulk string.
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    /// The `+OK` reply, the most common one.
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// True for [`Frame::Null`] and [`Frame::NullArray`].
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullArray)
    }

    /// The frame as it will look to a client speaking `proto` after the
    /// encoder's RESP2 downgrades, with attributes dropped in RESP2. Useful
    /// for comparing a frame with what a RESP2 decoder reads back.
    /// Attributes inside arrays/sets/pushes vanish; a top-level attribute
    /// (which the RESP2 encoder writes as nothing at all) has no RESP2 value
    /// and is returned flattened like a map.
    pub fn downgrade(self, proto: Protocol) -> Frame {
        if proto == Protocol::Resp3 {
            return self;
        }
        let list = |items: Vec<Frame>| {
            Frame::Array(
                items
                    .into_iter()
                    .filter(|f| !matches!(f, Frame::Attribute(_)))
                    .map(|f| f.downgrade(proto))
                    .collect(),
            )
        };
        match self {
            Frame::Double(d) => Frame::Bulk(Bytes::from(crate::encode::format_double(d))),
            Frame::Boolean(b) => Frame::Integer(i64::from(b)),
            Frame::BigNumber(n) => Frame::Bulk(n),
            Frame::Verbatim { text, .. } => Frame::Bulk(text),
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => list(items),
            Frame::Map(pairs) | Frame::Attribute(pairs) => Frame::Array(
                pairs
                    .into_iter()
                    .flat_map(|(k, v)| [k.downgrade(proto), v.downgrade(proto)])
                    .collect(),
            ),
            other => other,
        }
    }
}
