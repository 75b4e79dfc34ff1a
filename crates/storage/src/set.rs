//! Set type API (upstream `t_set.c`, storage half).
//!
//! Two representations, like the reference's 7.0 encodings (7.0 has no
//! listpack sets; those arrived in 7.2):
//!
//! * **intset** ("intset"): a sorted `Vec<i64>` searched by binary search,
//!   used while every member is the canonical text of a 64-bit integer
//!   (upstream's `string2ll` rules: no sign `+`, no leading zeros, no `-0`,
//!   no spaces) and there are at most `set-max-intset-entries` members.
//!   Iteration is in ascending numeric order, as upstream's intset.
//! * **table** ("hashtable"): a [`Dict`] of member → `()`, used once a
//!   non-integer member arrives or the count limit is exceeded. Never
//!   converts back.
//!
//! Intset members are handed out as [`Member::Int`]; callers turn them into
//! decimal text where bytes are needed.

use std::borrow::Cow;

use bytes::Bytes;
use rand::Rng;

use crate::dict::{self, Dict};
use crate::digest::{self as dg, DIGEST_LEN};
use crate::string::{itoa_buf, parse_i64_strict};

/// Upstream's default `set-max-intset-entries`.
pub const DEFAULT_MAX_INTSET_ENTRIES: usize = 512;

/// One member as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (decimal text for integers).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Member::Int(i) => Bytes::copy_from_slice(itoa_buf(*i).as_bytes()),
            Member::Str(s) => Bytes::copy_from_slice(s),
        }
    }

    /// The member's bytes, borrowed when possible.
    pub fn as_cow(&self) -> Cow<'_, [u8]> {
        match self {
            Member::Int(i) => Cow::Owned(itoa_buf(*i).as_bytes().to_vec()),
            Member::Str(s) => Cow::Borrowed(s),
        }
    }
}

/// A set value.
#[derive(Clone, Debug)]
pub enum SetValue {
    /// Sorted integers.
    Ints(Vec<i64>),
    /// Boxed so the value enum stays small.
    Table(Box<Dict<Bytes, ()>>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(Vec::new())
    }
}

/// Iterator over the members of a set.
pub enum SetIter<'a> {
    Ints(std::slice::Iter<'a, i64>),
    Table(dict::Iter<'a, Bytes, ()>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Ints(it) => it.next().map(|&i| Member::Int(i)),
            SetIter::Table(it) => it.next().map(|(k, _)| Member::Str(k.as_ref())),
        }
    }
}

impl SetValue {
    /// An empty set (intset form: the first member decides).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len(),
            SetValue::Table(t) => t.len(),
        }
    }

    /// True when empty (empty collections are never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.capacity() * std::mem::size_of::<i64>(),
            SetValue::Table(t) => t.mem_usage() + t.keys().map(Bytes::len).sum::<usize>(),
        }
    }

    /// The type-specific part of `DEBUG DIGEST` (see [`crate::digest`]).
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        dg::begin_object(d, dg::ObjType::Set);
        for m in self.iter() {
            dg::xor_digest(d, &m.as_cow());
        }
    }

    /// Iterates over the members (ascending for the intset form).
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            SetValue::Ints(v) => SetIter::Ints(v.iter()),
            SetValue::Table(t) => SetIter::Table(t.iter()),
        }
    }

    /// Converts to the table form (no-op if already).
    pub fn convert_to_table(&mut self) {
        if let SetValue::Ints(v) = self {
            let mut t = Dict::with_capacity(v.len());
            for &i in v.iter() {
                t.insert(Bytes::copy_from_slice(itoa_buf(i).as_bytes()), ());
            }
            *self = SetValue::Table(Box::new(t));
        }
    }

    /// Adds `m`; true if it was new. A non-integer member converts the set
    /// to the table form; so does growing beyond `max_intset` members.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let SetValue::Ints(v) = self {
            match parse_i64_strict(m) {
                Some(i) => {
                    let Err(pos) = v.binary_search(&i) else {
                        return false;
                    };
                    v.reserve_exact(1);
                    v.insert(pos, i);
                    if v.len() > max_intset {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        match self {
            SetValue::Table(t) => {
                if t.contains_key(m) {
                    false
                } else {
                    t.insert(Bytes::copy_from_slice(m), ());
                    true
                }
            }
            SetValue::Ints(_) => false,
        }
    }

    /// Adds a member taken from another set.
    pub fn add_member(&mut self, m: Member<'_>, max_intset: usize) -> bool {
        match (m, &mut *self) {
            (Member::Int(i), SetValue::Ints(v)) => {
                let Err(pos) = v.binary_search(&i) else {
                    return false;
                };
                v.reserve_exact(1);
                v.insert(pos, i);
                if v.len() > max_intset {
                    self.convert_to_table();
                }
                true
            }
            _ => self.add(&m.as_cow(), max_intset),
        }
    }

    /// Removes `m`; true if it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => match parse_i64_strict(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    if v.capacity() > 2 * v.len() + 8 {
                        v.shrink_to_fit();
                    }
                    true
                }
                _ => false,
            },
            SetValue::Table(t) => t.remove(m).is_some(),
        }
    }

    /// True if `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => parse_i64_strict(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            SetValue::Table(t) => t.contains_key(m),
        }
    }

    /// True if `m` (a member of another set) is a member.
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (m, self) {
            (Member::Int(i), SetValue::Ints(v)) => v.binary_search(&i).is_ok(),
            (Member::Int(i), SetValue::Table(t)) => t.contains_key(itoa_buf(i).as_bytes()),
            (Member::Str(s), _) => self.contains(s),
        }
    }

    /// A uniformly chosen member.
    pub fn random_member<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Member<'_>> {
        match self {
            SetValue::Ints(v) => {
                if v.is_empty() {
                    None
                } else {
                    v.get(rng.gen_range(0..v.len())).map(|&i| Member::Int(i))
                }
            }
            SetValue::Table(t) => t.random_entry(rng).map(|(k, _)| Member::Str(k.as_ref())),
        }
    }

    /// `n` distinct members chosen uniformly (`n < len`).
    pub fn random_distinct<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<Member<'_>> {
        match self {
            SetValue::Ints(v) => {
                if n >= v.len() {
                    return v.iter().map(|&i| Member::Int(i)).collect();
                }
                rand::seq::index::sample(rng, v.len(), n)
                    .into_iter()
                    .filter_map(|i| v.get(i).map(|&x| Member::Int(x)))
                    .collect()
            }
            SetValue::Table(t) => t
                .sample(n, rng)
                .into_iter()
                .map(|(k, _)| Member::Str(k.as_ref()))
                .collect(),
        }
    }

    /// Removes and returns a uniformly chosen member.
    pub fn pop_random<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<Bytes> {
        let m = self.random_member(rng)?.to_bytes();
        self.remove(&m);
        Some(m)
    }

    /// One step of `SSCAN`: calls `f` for about `count` members and
    /// returns the next cursor (0 when done). An intset is reported whole
    /// in one call with cursor 0, like upstream.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        match self {
            SetValue::Ints(v) => {
                for &i in v {
                    f(Member::Int(i));
                }
                0
            }
            SetValue::Table(t) => {
                let mut cursor = cursor;
                let mut seen = 0usize;
                // Upstream bounds the work per call to 10 × COUNT buckets.
                let mut budget = count.max(1).saturating_mul(10);
                loop {
                    cursor = t.scan(cursor, |k, _| {
                        seen += 1;
                        f(Member::Str(k.as_ref()));
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

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
