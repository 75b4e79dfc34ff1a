//! `Key`: the keyspace's key type. 24 bytes; keys of up to
//! [`Key::INLINE_MAX`] bytes (nearly all real keys) are stored inside it, so
//! the table entry is the only memory such a key costs. Longer keys live in
//! a boxed slice (16 bytes of header instead of the 32 of `Bytes`).
//!
//! It hashes and compares exactly like `[u8]`, so tables keyed by `Key` are
//! looked up with plain byte slices (`Borrow<[u8]>`), and it derefs to
//! `&[u8]` for callers. [`Key::to_bytes`] makes the owned `Bytes` that
//! replies and propagation need.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// Bytes held inline: what fits beside the length and the enum tag in 24.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

/// A key of the keyspace; see the module docs.
#[derive(Clone)]
pub struct Key(Repr);

impl Key {
    /// Longest key stored without an allocation.
    pub const INLINE_MAX: usize = INLINE;

    /// A key holding a copy of `b`.
    #[inline]
    pub fn new(b: &[u8]) -> Key {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Key(Repr::Inline {
                len: b.len() as u8,
                data,
            })
        } else {
            Key(Repr::Heap(Box::from(b)))
        }
    }

    /// The key's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..usize::from(*len).min(INLINE)],
            Repr::Heap(b) => b,
        }
    }

    /// The bytes as an owned `Bytes` (a copy).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }

    /// Heap bytes owned beyond the 24-byte header (for `MEMORY USAGE`).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }
}

impl Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialEq<[u8]> for Key {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<Bytes> for Key {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_bytes() == other.as_ref()
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Key {
    /// Exactly `<[u8] as Hash>::hash`, which `Borrow<[u8]>` lookups require.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Key {
        Key::new(b)
    }
}

impl From<&Bytes> for Key {
    fn from(b: &Bytes) -> Key {
        Key::new(b)
    }
}

impl From<Bytes> for Key {
    fn from(b: Bytes) -> Key {
        Key::new(&b)
    }
}

impl From<&Key> for Bytes {
    fn from(k: &Key) -> Bytes {
        k.to_bytes()
    }
}

impl From<Key> for Bytes {
    fn from(k: Key) -> Bytes {
        match k.0 {
            Repr::Inline { .. } => k.to_bytes(),
            // No copy: `Bytes` adopts the boxed slice.
            Repr::Heap(b) => Bytes::from(b),
        }
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
