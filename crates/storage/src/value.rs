//! The value stored under a key. One variant per data type; each type's
//! operations live in its own module (`string.rs`, `list.rs`, `hash.rs`,
//! `set.rs`, `zset.rs`, `stream.rs`).

use crate::digest::{self as dg, DIGEST_LEN};
use crate::hash::HashValue;
use crate::list::ListValue;
use crate::set::SetValue;
use crate::stream::StreamValue;
use crate::string::StrValue;
use crate::zset::ZSetValue;

/// A stored value.
#[derive(Clone, Debug)]
pub enum Value {
    Str(StrValue),
    List(ListValue),
    Hash(HashValue),
    Set(SetValue),
    ZSet(ZSetValue),
    /// Boxed: a stream header is large and rare; inline it would make every
    /// entry of the keyspace as big as a stream.
    Stream(Box<StreamValue>),
}

impl Value {
    /// One step of a resize in progress of this value's hash table, as
    /// upstream takes one on every lookup: a table only read from still
    /// finishes resizing (reads call this through the keyspace lookup).
    #[inline]
    pub fn rehash_step(&mut self) {
        self.rehash_steps(1);
    }

    /// `n` steps of a resize in progress (a command sampling `n` random
    /// members takes as many, as upstream's sampling does).
    #[inline]
    pub fn rehash_steps(&mut self, n: usize) {
        match self {
            Value::Hash(crate::hash::HashValue::Table(d)) if d.is_rehashing() => {
                d.rehash_steps(n);
            }
            Value::Set(crate::set::SetValue::Table(d)) if d.is_rehashing() => {
                d.rehash_steps(n);
            }
            Value::ZSet(z) => z.rehash_steps(n),
            _ => {}
        }
    }

    /// `DEBUG HTSTATS-KEY`: the statistics of the hash table holding this
    /// value (hashes, sets and sorted sets in their large encodings).
    pub fn table_stats(&self) -> Option<String> {
        match self {
            Value::Hash(crate::hash::HashValue::Table(d)) => Some(d.stats_text()),
            Value::Set(crate::set::SetValue::Table(d)) => Some(d.stats_text()),
            Value::ZSet(z) => z.table_stats(),
            _ => None,
        }
    }

    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
            Value::Stream(v) => v.encoding(),
        }
    }

    /// Approximate heap bytes used by the value, for `MEMORY USAGE`.
    pub fn mem_usage(&self) -> usize {
        match self {
            Value::Str(s) => s.mem_usage(),
            Value::List(v) => v.mem_usage(),
            Value::Hash(v) => v.mem_usage(),
            Value::Set(v) => v.mem_usage(),
            Value::ZSet(v) => v.mem_usage(),
            Value::Stream(v) => v.mem_usage(),
        }
    }

    /// The object part of `DEBUG DIGEST`: type code and content (the
    /// expire marker is added by the caller).
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        match self {
            Value::Str(s) => {
                dg::begin_object(d, dg::ObjType::String);
                s.with_bytes(|b| dg::mix_digest(d, b));
            }
            Value::List(v) => v.digest(d),
            Value::Hash(v) => v.digest(d),
            Value::Set(v) => v.digest(d),
            Value::ZSet(v) => v.digest(d),
            Value::Stream(v) => v.digest(d),
        }
    }
}
