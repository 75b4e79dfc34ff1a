//! Conversions between the collection types of `redis-storage` and the
//! neutral model of `redis-rdb` (used by persistence, DUMP/RESTORE and
//! replication). Values are rebuilt through each type's own API so the
//! compact encodings and their thresholds apply exactly as for commands.

use bytes::Bytes;
use redis_storage::hash::{HashLimits, HashValue};
use redis_storage::set::SetValue;
use redis_storage::zset::{Limits as ZLimits, ZSetValue};

use crate::state::State;

/// Field/value pairs of a hash.
pub fn hash_pairs(h: &HashValue) -> Vec<(Bytes, Bytes)> {
    h.iter()
        .map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)))
        .collect()
}

/// Members of a set.
pub fn set_members(s: &SetValue) -> Vec<Bytes> {
    s.iter().map(|m| m.to_bytes()).collect()
}

/// Member/score pairs of a sorted set, in order.
pub fn zset_pairs(z: &ZSetValue) -> Vec<(Bytes, f64)> {
    z.to_vec()
}

fn limit(st: &State, name: &str) -> usize {
    st.config.get_int(name).max(0) as usize
}

/// A hash from loaded pairs.
pub fn hash_from(st: &State, pairs: Vec<(Bytes, Bytes)>) -> HashValue {
    let lim = HashLimits {
        max_entries: limit(st, "hash-max-listpack-entries"),
        max_value: limit(st, "hash-max-listpack-value"),
    };
    let mut h = HashValue::new();
    for (f, v) in pairs {
        h.set(&f, &v, lim);
    }
    h
}

/// A set from loaded members.
pub fn set_from(st: &State, members: Vec<Bytes>) -> SetValue {
    let max = limit(st, "set-max-intset-entries");
    let mut s = SetValue::new();
    for m in members {
        s.add(&m, max);
    }
    s
}

/// A sorted set from loaded pairs.
pub fn zset_from(st: &State, pairs: Vec<(Bytes, f64)>) -> ZSetValue {
    let lim = ZLimits {
        max_entries: limit(st, "zset-max-listpack-entries"),
        max_value: limit(st, "zset-max-listpack-value"),
    };
    let max_len = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSetValue::with_hint(pairs.len(), max_len, lim);
    for (m, s) in pairs {
        z.insert(&m, s, lim);
    }
    z
}

/// A stream in the RDB model (placeholder until the stream type lands:
/// its owner implements both directions).
pub fn stream_to_rdb(_s: &redis_storage::stream::StreamValue) -> Option<redis_rdb::StreamValue> {
    None
}

/// A stream from the RDB model (see [`stream_to_rdb`]).
pub fn stream_from_rdb(_s: redis_rdb::StreamValue) -> Option<redis_storage::stream::StreamValue> {
    None
}
