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

fn to_rdb_id(id: redis_storage::stream::StreamId) -> redis_rdb::StreamId {
    redis_rdb::StreamId::new(id.ms, id.seq)
}

fn from_rdb_id(id: redis_rdb::StreamId) -> redis_storage::stream::StreamId {
    redis_storage::stream::StreamId::new(id.ms, id.seq)
}

/// A stream in the RDB model: live entries, counters, and every group with
/// its PEL and consumers.
pub fn stream_to_rdb(s: &redis_storage::stream::StreamValue) -> Option<redis_rdb::StreamValue> {
    use redis_rdb::{PendingEntry, StreamConsumer, StreamEntry, StreamGroup};
    use redis_storage::stream::StreamId;
    let mut entries = Vec::with_capacity(s.len());
    s.for_each(StreamId::MIN, StreamId::MAX, false, |e| {
        entries.push(StreamEntry {
            id: to_rdb_id(e.id),
            fields: e.to_pairs(),
        });
        true
    });
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| StreamGroup {
            name: name.clone(),
            last_id: to_rdb_id(g.last_id),
            entries_read: g.entries_read.map_or(-1, |n| n as i64),
            pel: g
                .pel
                .iter()
                .map(|(id, n)| PendingEntry {
                    id: to_rdb_id(*id),
                    delivery_time_ms: n.delivery_time,
                    delivery_count: n.delivery_count,
                })
                .collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(cname, c)| StreamConsumer {
                    name: cname.clone(),
                    seen_time_ms: c.seen_time,
                    pending: c.pel.iter().map(|id| to_rdb_id(*id)).collect(),
                })
                .collect(),
        })
        .collect();
    Some(redis_rdb::StreamValue {
        entries,
        last_id: to_rdb_id(s.last_id()),
        first_id: to_rdb_id(s.first_id()),
        max_deleted_id: to_rdb_id(s.max_deleted_id()),
        entries_added: s.entries_added(),
        groups,
    })
}

/// A stream from the RDB model (see [`stream_to_rdb`]). Entries are packed
/// with the default node limits, as the loading path has no configuration
/// at hand; `None` if the entries are not in ascending ID order.
pub fn stream_from_rdb(s: redis_rdb::StreamValue) -> Option<redis_storage::stream::StreamValue> {
    use redis_storage::stream::{Consumer, Group, Nack, NodeLimits, StreamValue};
    let mut v = StreamValue::new();
    let mut prev = None;
    for e in s.entries {
        let id = from_rdb_id(e.id);
        if prev.is_some_and(|p| id <= p) {
            return None;
        }
        prev = Some(id);
        let flat: Vec<Bytes> = e.fields.into_iter().flat_map(|(f, v)| [f, v]).collect();
        v.append(id, &flat, NodeLimits::default());
    }
    v.restore_meta(
        from_rdb_id(s.last_id),
        from_rdb_id(s.first_id),
        from_rdb_id(s.max_deleted_id),
        s.entries_added,
    );
    for g in s.groups {
        let mut group = Group::new(from_rdb_id(g.last_id), u64::try_from(g.entries_read).ok());
        let mut owners = std::collections::HashMap::new();
        for c in &g.consumers {
            for id in &c.pending {
                owners.insert(*id, c.name.clone());
            }
        }
        for c in &g.consumers {
            let mut consumer = Consumer {
                seen_time: c.seen_time_ms,
                ..Consumer::default()
            };
            for id in &c.pending {
                consumer.pel.insert(from_rdb_id(*id));
            }
            group.consumers.insert(c.name.clone(), consumer);
        }
        for p in g.pel {
            let id = from_rdb_id(p.id);
            // Every PEL entry has an owner in a valid file; an orphan is
            // attached to no consumer rather than rejected.
            let owner = owners.get(&p.id).cloned().unwrap_or_default();
            group.pel.insert(
                id,
                Nack {
                    consumer: owner,
                    delivery_time: p.delivery_time_ms,
                    delivery_count: p.delivery_count,
                },
            );
        }
        v.groups.insert(g.name, group);
    }
    Some(v)
}
