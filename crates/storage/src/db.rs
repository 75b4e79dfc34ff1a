//! One database: the main table, the expiry table, lazy expiry on access and
//! the sampling used by active expiry.
//!
//! The expiry policy (lazy and active) lives in [`crate::Keyspace`], which
//! records every expiry-driven deletion; this module only stores deadlines.

use bytes::Bytes;
use rand::Rng;

use crate::dict::Dict;
use crate::value::Value;

/// A value with its per-key metadata.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// LRU clock (seconds) of the last access, for `OBJECT IDLETIME`.
    pub lru: u32,
}

/// One numbered database.
#[derive(Debug, Default)]
pub struct Db {
    map: Dict<Bytes, Entry>,
    expires: Dict<Bytes, i64>,
    /// Running average TTL estimate reported by `INFO keyspace`.
    pub avg_ttl: i64,
}

impl Db {
    /// Number of keys, including logically expired keys not yet deleted.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a deadline.
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// The absolute deadline of `key` in Unix milliseconds.
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        // Most datasets have no volatile keys: skip hashing the key twice.
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// True when `key` has a deadline at or before `now`.
    pub fn is_expired(&self, key: &[u8], now: i64) -> bool {
        !self.expires.is_empty() && matches!(self.expires.get(key), Some(&t) if t <= now)
    }

    /// Looks `key` up without expiring it (caller already did).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Mutable access without expiry check.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// True when `key` exists (no expiry check).
    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Stores `value` under `key`, replacing any old value. The deadline is
    /// kept only when `keep_ttl` is set (upstream `setKey` semantics).
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, lru: u32) {
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        match self.map.get_mut(key) {
            Some(e) => {
                e.value = value;
                e.lru = lru;
            }
            None => {
                self.map
                    .insert(Bytes::copy_from_slice(key), Entry { value, lru });
            }
        }
    }

    /// Inserts an entry with an already-owned key (used by RENAME/MOVE/COPY).
    pub fn insert_entry(&mut self, key: Bytes, entry: Entry, expire_at: Option<i64>) {
        match expire_at {
            Some(t) => {
                self.expires.insert(key.clone(), t);
            }
            None => {
                self.expires.remove(&key);
            }
        }
        self.map.insert(key, entry);
    }

    /// Removes `key`; returns the entry and its deadline.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Bytes, Entry, Option<i64>)> {
        let (k, e) = self.map.remove(key)?;
        let exp = self.expires.remove(key).map(|(_, t)| t);
        Some((k, e, exp))
    }

    /// Sets the deadline of an existing key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        match self.map.get_key_value(key) {
            Some((k, _)) => {
                let k = k.clone();
                self.expires.insert(k, at_ms);
                true
            }
            None => false,
        }
    }

    /// Removes the deadline; returns true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove(key).is_some()
    }

    /// Deletes everything.
    pub fn clear(&mut self) {
        self.map = Dict::new();
        self.expires = Dict::new();
        self.avg_ttl = 0;
    }

    /// Iterates over all entries (including logically expired ones).
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter()
    }

    /// A uniformly chosen key (may be logically expired).
    pub fn random_key(&self, rng: &mut impl Rng) -> Option<Bytes> {
        self.map.random_entry(rng).map(|(k, _)| k.clone())
    }

    /// One step of a `SCAN` iteration: visits buckets until about `count`
    /// keys were seen or the iteration ends. Returns the next cursor (0 when
    /// done). Every key present during the whole iteration is visited.
    pub fn scan(&self, mut cursor: u64, count: usize, mut f: impl FnMut(&Bytes, &Entry)) -> u64 {
        let mut seen = 0;
        // Upstream bounds the work per call to 10 × COUNT buckets so a sparse
        // table cannot make one call walk it all.
        let mut budget = count.max(1).saturating_mul(10);
        loop {
            cursor = self.map.scan(cursor, |k, e| {
                seen += 1;
                f(k, e);
            });
            budget -= 1;
            if cursor == 0 || seen >= count || budget == 0 {
                return cursor;
            }
        }
    }

    /// Up to `n` random keys with their access metadata, for eviction.
    pub fn sample_keys(&self, n: usize, rng: &mut impl Rng) -> Vec<(Bytes, u32)> {
        self.map
            .sample(n, rng)
            .into_iter()
            .map(|(k, e)| (k.clone(), e.lru))
            .collect()
    }

    /// Up to `n` random keys that have a deadline, for the active expiry cycle.
    pub fn sample_volatile(&self, n: usize, rng: &mut impl Rng) -> Vec<(Bytes, i64)> {
        self.expires
            .sample(n, rng)
            .into_iter()
            .map(|(k, t)| (k.clone(), *t))
            .collect()
    }

    /// Moves a little of any rehash in progress forward (cron).
    pub fn rehash_step(&mut self, budget: std::time::Duration) {
        self.map.rehash_for(budget);
        self.expires.rehash_for(budget);
    }
}
