//! Hash type API (upstream `t_hash.c`, storage half).
//!
//! Two representations, chosen like the reference chooses its encodings:
//!
//! * **packed** (`OBJECT ENCODING` "listpack"): one flat byte vector holding
//!   `field, value, field, value, …`, each element prefixed by its length as
//!   an LEB128 varint. Lookups are linear scans, which is cheap because the
//!   form is only used while the hash has at most `hash-max-listpack-entries`
//!   fields and every field and value is at most `hash-max-listpack-value`
//!   bytes. New fields are appended and updates happen in place, so the
//!   iteration order is insertion order, exactly like upstream's listpack
//!   (replies of HGETALL/HKEYS on small hashes therefore match byte for
//!   byte). The vector is grown with `reserve_exact` so small hashes carry
//!   no doubling slack: memory per small hash is what the data needs plus
//!   one length byte per element.
//! * **table** ("hashtable"): a [`Dict`] from field to value, used once
//!   either limit is exceeded. Like upstream, a hash never converts back.
//!
//! The thresholds are passed in by the caller ([`HashLimits`]) because the
//! storage crate does not know the configuration.

use bytes::Bytes;
use rand::Rng;

use crate::dict::{self, Dict};
use crate::digest::{self as dg, DIGEST_LEN};

/// The configured conversion thresholds (`hash-max-listpack-entries`,
/// `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for HashLimits {
    /// The reference server's defaults.
    fn default() -> Self {
        HashLimits {
            max_entries: 512,
            max_value: 64,
        }
    }
}

/// The packed small form: see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    buf: Vec<u8>,
    /// Number of field/value pairs.
    pairs: usize,
}

/// Appends `len` as an LEB128 varint.
fn put_len(buf: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// Encoded size of one element.
fn elem_size(len: usize) -> usize {
    let mut n = 1;
    let mut l = len >> 7;
    while l != 0 {
        n += 1;
        l >>= 7;
    }
    n + len
}

/// Reads the element starting at `pos`: its bytes and the next position.
/// `None` at the end of the buffer (or on a malformed buffer, which the
/// writer never produces).
fn read_elem(buf: &[u8], mut pos: usize) -> Option<(&[u8], usize)> {
    let mut len = 0usize;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(pos)?;
        pos += 1;
        len |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let end = pos.checked_add(len)?;
    Some((buf.get(pos..end)?, end))
}

/// Where one pair lives in the packed buffer.
struct PairPos {
    start: usize,
    value_start: usize,
    end: usize,
}

impl Packed {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// True when there is no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// Iterates over the pairs in insertion order.
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    fn find(&self, field: &[u8]) -> Option<PairPos> {
        let mut pos = 0;
        while let Some((f, vpos)) = read_elem(&self.buf, pos) {
            let (_, end) = read_elem(&self.buf, vpos)?;
            if f == field {
                return Some(PairPos {
                    start: pos,
                    value_start: vpos,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let p = self.find(field)?;
        read_elem(&self.buf, p.value_start).map(|(v, _)| v)
    }

    /// Sets `field`; true if it was new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(p) => {
                let mut enc = Vec::with_capacity(elem_size(value.len()));
                put_len(&mut enc, value.len());
                enc.extend_from_slice(value);
                let old = p.end - p.value_start;
                if enc.len() > old {
                    self.buf.reserve_exact(enc.len() - old);
                }
                self.buf.splice(p.value_start..p.end, enc);
                false
            }
            None => {
                self.buf
                    .reserve_exact(elem_size(field.len()) + elem_size(value.len()));
                put_len(&mut self.buf, field.len());
                self.buf.extend_from_slice(field);
                put_len(&mut self.buf, value.len());
                self.buf.extend_from_slice(value);
                self.pairs += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(p) => {
                self.buf.drain(p.start..p.end);
                self.pairs -= 1;
                // Give memory back when a hash shrinks a lot, like the
                // listpack that is reallocated on every deletion.
                if self.buf.capacity() > 2 * self.buf.len() + 64 {
                    self.buf.shrink_to_fit();
                }
                true
            }
            None => false,
        }
    }
}

/// Iterator over the pairs of a [`Packed`] hash.
#[derive(Clone, Debug)]
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (f, vpos) = read_elem(self.buf, self.pos)?;
        let (v, end) = read_elem(self.buf, vpos)?;
        self.pos = end;
        Some((f, v))
    }
}

/// A hash value.
#[derive(Clone, Debug)]
pub enum HashValue {
    /// "listpack": small hashes.
    Packed(Packed),
    /// "hashtable": boxed so the value enum stays small.
    Table(Box<Dict<Bytes, Bytes>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Packed(Packed::default())
    }
}

/// Iterator over the pairs of a hash (insertion order for the packed
/// form, table order otherwise).
pub enum HashIter<'a> {
    Packed(PackedIter<'a>),
    Table(dict::Iter<'a, Bytes, Bytes>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(it) => it.next(),
            HashIter::Table(it) => it.next().map(|(k, v)| (k.as_ref(), v.as_ref())),
        }
    }
}

impl HashValue {
    /// An empty hash in the small form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.len(),
            HashValue::Table(t) => t.len(),
        }
    }

    /// True when empty (empty collections are never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Packed(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.buf.capacity(),
            HashValue::Table(t) => {
                t.mem_usage()
                    + t.iter()
                        .map(|(k, v)| bytes_heap(k) + bytes_heap(v))
                        .sum::<usize>()
            }
        }
    }

    /// The type-specific part of `DEBUG DIGEST` (see [`crate::digest`]).
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        dg::begin_object(d, dg::ObjType::Hash);
        for (f, v) in self.iter() {
            dg::xor_digest(d, &dg::pair_digest(f, v));
        }
    }

    /// Iterates over `(field, value)` pairs.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            HashValue::Packed(p) => HashIter::Packed(p.iter()),
            HashValue::Table(t) => HashIter::Table(t.iter()),
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Packed(p) => p.get(field),
            HashValue::Table(t) => t.get(field).map(|v| v.as_ref()),
        }
    }

    /// True if `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts the small form to the table form (no-op if already).
    pub fn convert_to_table(&mut self) {
        if let HashValue::Packed(p) = self {
            let mut t = Dict::with_capacity(p.len());
            for (f, v) in p.iter() {
                t.insert(Bytes::copy_from_slice(f), Bytes::copy_from_slice(v));
            }
            *self = HashValue::Table(Box::new(t));
        }
    }

    /// Sets `field` to `value`; returns true if the field is new. A field
    /// or value longer than `lim.max_value` converts to the table form
    /// first, a length above `lim.max_entries` afterwards.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: HashLimits) -> bool {
        if matches!(self, HashValue::Packed(_))
            && (field.len() > lim.max_value || value.len() > lim.max_value)
        {
            self.convert_to_table();
        }
        let new = match self {
            HashValue::Packed(p) => p.set(field, value),
            HashValue::Table(t) => match t.get_mut(field) {
                Some(v) => {
                    *v = Bytes::copy_from_slice(value);
                    false
                }
                None => {
                    t.insert(Bytes::copy_from_slice(field), Bytes::copy_from_slice(value));
                    true
                }
            },
        };
        if matches!(self, HashValue::Packed(_)) && self.len() > lim.max_entries {
            self.convert_to_table();
        }
        new
    }

    /// Removes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Packed(p) => p.remove(field),
            HashValue::Table(t) => t.remove(field).is_some(),
        }
    }

    /// A uniformly chosen pair.
    pub fn random_pair<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(p) => {
                if p.is_empty() {
                    return None;
                }
                p.iter().nth(rng.gen_range(0..p.len()))
            }
            HashValue::Table(t) => t.random_entry(rng).map(|(k, v)| (k.as_ref(), v.as_ref())),
        }
    }

    /// `n` distinct pairs chosen uniformly (all of them when `n >= len`,
    /// in iteration order).
    pub fn random_distinct<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(p) => {
                let all: Vec<_> = p.iter().collect();
                if n >= all.len() {
                    return all;
                }
                rand::seq::index::sample(rng, all.len(), n)
                    .into_iter()
                    .filter_map(|i| all.get(i).copied())
                    .collect()
            }
            HashValue::Table(t) => t
                .sample(n, rng)
                .into_iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect(),
        }
    }

    /// One step of `HSCAN`: calls `f` for about `count` pairs and returns
    /// the next cursor (0 when done). The small form is reported whole in
    /// one call with cursor 0, like upstream's listpack.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            HashValue::Packed(p) => {
                for (k, v) in p.iter() {
                    f(k, v);
                }
                0
            }
            HashValue::Table(t) => {
                let mut cursor = cursor;
                let mut seen = 0usize;
                // Upstream bounds the work per call to 10 × COUNT buckets.
                let mut budget = count.max(1).saturating_mul(10);
                loop {
                    cursor = t.scan(cursor, |k, v| {
                        seen += 1;
                        f(k, v);
                    });
                    budget -= 1;
                    if cursor == 0 || seen >= count || budget == 0 {
                        return cursor;
                    }
                }
            }
        }
    }
}

/// Heap bytes of a stored `Bytes` (its data; the handle is in the table).
fn bytes_heap(b: &Bytes) -> usize {
    b.len()
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
