//! One database: the main table, the expiry table, lazy expiry on access and
//! the sampling used by active expiry.
//!
//! The expiry policy (lazy and active) lives in [`crate::Keyspace`], which
//! records every expiry-driven deletion; this module only stores deadlines.
//!
//! # Point-in-time snapshots without fork
//!
//! While a snapshot runs (see [`crate::snapshot`]), every entry carries the
//! epoch it was last saved or written in. A snapshot iterates the table in
//! small steps and saves entries whose epoch is older than its own, marking
//! them. Every write path below (`get_mut`, `set`, `remove`, `insert_entry`,
//! `set_expire`, `persist`, `clear`) first hands the *old* version of a not
//! yet saved entry to the snapshot (`cow` queue) and stamps the new one with
//! the current epoch, which the iteration then skips. So the snapshot sees
//! exactly the dataset of its start, copies only entries written during it,
//! and never stops the server for longer than one step.

use rand::Rng;

use crate::dict::Dict;
use crate::key::Key;
use crate::lazyfree::LazyFree;
use crate::slots::{SlotFn, SlotIndex, SlotLists};
use crate::value::Value;

/// A value with its per-key metadata.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Access metadata (LRU clock or LFU counter, see [`crate::access`]).
    pub lru: u32,
    /// Snapshot epoch of the last save or write (see the module docs).
    pub epoch: u32,
}

impl Entry {
    /// A new entry (epoch stamped by the database on insertion).
    pub fn new(value: Value, lru: u32) -> Entry {
        Entry {
            value,
            lru,
            epoch: 0,
        }
    }
}

/// An entry saved for a running snapshot before it was changed.
#[derive(Debug)]
pub struct Preimage {
    pub key: Key,
    pub entry: Entry,
    pub expire_at: Option<i64>,
}

/// One numbered database.
#[derive(Debug)]
pub struct Db {
    map: Dict<Key, Entry>,
    expires: Dict<Key, i64>,
    /// Running average TTL estimate reported by `INFO keyspace`.
    pub avg_ttl: i64,
    /// Identity that follows the database through `SWAPDB`.
    pub(crate) tag: u64,
    /// Epoch of the running snapshot, 0 when none runs.
    pub(crate) snap_epoch: u32,
    /// Old versions of entries changed during the running snapshot.
    pub(crate) cow: Vec<Preimage>,
    /// `lazyfree-lazy-server-del`: values the server itself deletes or
    /// overwrites are freed by this thread when they are big.
    pub(crate) lazy_server_del: Option<LazyFree>,
    /// Keys per cluster hash slot, in cluster mode: lists threaded through
    /// `map`'s entry positions, kept in step with every insertion (which
    /// appends) and removal (which moves the last entry), see `slots.rs`.
    slots: Option<Box<SlotLists>>,
}

impl Default for Db {
    fn default() -> Db {
        Db {
            map: keyspace_table(0),
            expires: keyspace_table(0),
            avg_ttl: 0,
            tag: 0,
            snap_epoch: 0,
            cow: Vec::new(),
            lazy_server_del: None,
            slots: None,
        }
    }
}

/// A key or deadline table: its growth respects the keyspace budget
/// ([`crate::dict::set_keyspace_grow_budget`]).
fn keyspace_table<V>(capacity: usize) -> Dict<Key, V> {
    let mut d = Dict::with_capacity(capacity);
    d.set_budgeted();
    d
}

impl Db {
    /// `MEMORY STATS` `overhead.hashtable.main` / `.expires`: bytes the
    /// key and deadline tables take besides the keys and values.
    pub fn table_overheads(&self) -> (usize, usize) {
        (self.map.mem_usage(), self.expires.mem_usage())
    }

    /// `DEBUG HTSTATS`: the statistics of the key table and of the
    /// deadline table, in upstream's words.
    pub fn htstats(&self) -> String {
        format!(
            "[Dictionary HT]\n{}[Expires HT]\n{}",
            self.map.stats_text(),
            self.expires.stats_text()
        )
    }

    /// Turns on the keys-per-slot index (cluster mode), indexing the keys
    /// already present; `slot_of` maps a key to its hash slot.
    pub fn enable_slot_index(&mut self, slot_of: SlotFn) {
        self.slots = Some(Box::new(SlotLists::new(slot_of)));
        self.index_appended();
    }

    /// The keys-per-slot index, when on.
    pub fn slot_index(&self) -> Option<SlotIndex<'_>> {
        self.slots
            .as_deref()
            .map(|lists| SlotIndex::new(lists, &self.map))
    }

    /// Indexes the entries appended to the table since the slot index
    /// last saw it (insertions append at the end; nothing else grows the
    /// table). A no-op when the index is off.
    #[inline]
    fn index_appended(&mut self) {
        if let Some(ix) = &mut self.slots {
            for p in ix.len()..self.map.len() {
                if let Some((k, _)) = self.map.get_index(p) {
                    ix.push(k);
                }
            }
        }
    }

    /// An empty database with an identity tag.
    pub fn with_tag(tag: u64) -> Db {
        Db {
            tag,
            ..Db::default()
        }
    }

    /// Replaces this database's keys and deadlines with copies of `src`'s
    /// (the dataset of a `SCRIPT DEBUG YES` session, which works on a
    /// copy of its own as upstream's forked session works on the fork's).
    pub(crate) fn copy_data_from(&mut self, src: &Db) {
        self.map = src.map.clone();
        self.expires = src.expires.clone();
        self.avg_ttl = src.avg_ttl;
    }

    /// Pre-sizes an empty database for `keys` keys, `volatile` of them with a
    /// deadline (loading uses the RDB's RESIZEDB hint). No-op otherwise.
    pub fn reserve(&mut self, keys: usize, volatile: usize) {
        if self.map.is_empty() {
            self.map = keyspace_table(keys);
        }
        if self.expires.is_empty() {
            self.expires = keyspace_table(volatile);
        }
    }

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

    /// Mutable access for writing (saves the old version for a running
    /// snapshot first).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.snap_epoch != 0 {
            self.preserve(key);
        }
        let epoch = self.snap_epoch;
        let e = self.map.get_mut(key)?;
        if epoch != 0 {
            e.epoch = epoch;
        }
        Some(e)
    }

    /// Mutable access that is not a logical change (access metadata only).
    pub(crate) fn get_mut_untracked(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// If a snapshot runs and `key` holds an entry it has not saved yet,
    /// copies that entry (with its deadline) to the snapshot's queue.
    fn preserve(&mut self, key: &[u8]) {
        let epoch = self.snap_epoch;
        let Some((k, e)) = self.map.get_key_value(key) else {
            return;
        };
        if e.epoch >= epoch {
            return;
        }
        let pre = Preimage {
            key: k.clone(),
            entry: e.clone(),
            expire_at: self.expire_at(key),
        };
        if let Some(e) = self.map.get_mut(key) {
            e.epoch = epoch;
        }
        self.cow.push(pre);
    }

    /// True when `key` exists (no expiry check).
    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Stores `value` under `key`, replacing any old value. The deadline is
    /// kept only when `keep_ttl` is set (upstream `setKey` semantics).
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, lru: u32) {
        if self.snap_epoch != 0 {
            self.preserve(key);
        }
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        let epoch = self.snap_epoch;
        let fresh = Entry { value, lru, epoch };
        match self.map.insert_or_get_mut(key, || Key::new(key), fresh) {
            Ok(()) => self.index_appended(),
            Err((e, new)) => {
                let old = std::mem::replace(&mut e.value, new.value);
                e.lru = lru;
                e.epoch = e.epoch.max(epoch);
                if let Some(lf) = &self.lazy_server_del {
                    lf.free_value(old);
                }
            }
        }
    }

    /// Deletes `key` on the server's own account (a command's implicit
    /// delete, not `DEL`): the value is freed in the background with
    /// `lazyfree-lazy-server-del`. Returns true if the key existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        match self.remove(key) {
            Some((_, e, _)) => {
                if let Some(lf) = &self.lazy_server_del {
                    lf.free_value(e.value);
                }
                true
            }
            None => false,
        }
    }

    /// Inserts an entry under `key` (used by RENAME/MOVE/COPY and loading).
    pub fn insert_entry(&mut self, key: impl Into<Key>, mut entry: Entry, expire_at: Option<i64>) {
        let key: Key = key.into();
        if self.snap_epoch != 0 {
            self.preserve(&key);
        }
        entry.epoch = self.snap_epoch;
        self.replace_deadline(&key, expire_at);
        self.map.insert(key, entry);
        self.index_appended();
    }

    /// Makes `expire_at` the deadline of `key` (none: persistent).
    fn replace_deadline(&mut self, key: &Key, expire_at: Option<i64>) {
        match expire_at {
            Some(t) => {
                self.expires.insert(key.clone(), t);
            }
            None if !self.expires.is_empty() => {
                self.expires.remove(key);
            }
            None => {}
        }
    }

    /// [`Db::insert_entry`] for a batch, in order, with the table's
    /// batched insertion (see [`Dict::insert_batch`]); used by loading.
    pub fn insert_entries(&mut self, batch: Vec<(Key, Entry, Option<i64>)>) {
        if self.snap_epoch != 0 {
            for (k, e, t) in batch {
                self.insert_entry(k, e, t);
            }
            return;
        }
        let mut pairs = Vec::with_capacity(batch.len());
        for (key, mut entry, expire_at) in batch {
            entry.epoch = 0;
            self.replace_deadline(&key, expire_at);
            pairs.push((key, entry));
        }
        self.map.insert_batch(pairs);
        self.index_appended();
    }

    /// Removes `key`; returns the entry and its deadline.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Key, Entry, Option<i64>)> {
        let (i, k, e) = self.map.remove_indexed(key)?;
        if let Some(ix) = &mut self.slots {
            // The table moved its last entry into `i` unless `i` was last.
            let moved = self.map.get_index(i).map(|(m, _)| m.as_ref());
            ix.remove(i, &k, moved);
        }
        let exp = if self.expires.is_empty() {
            None
        } else {
            self.expires.remove(key).map(|(_, t)| t)
        };
        if self.snap_epoch != 0 && e.epoch < self.snap_epoch {
            // The snapshot still needs this entry: hand it over (a clone
            // only because the caller gets the entry too).
            self.cow.push(Preimage {
                key: k.clone(),
                entry: e.clone(),
                expire_at: exp,
            });
        }
        Some((k, e, exp))
    }

    /// Sets the deadline of an existing key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        if self.snap_epoch != 0 {
            self.preserve(key);
        }
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
        if self.expires.is_empty() {
            return false;
        }
        if self.snap_epoch != 0 {
            self.preserve(key);
        }
        self.expires.remove(key).is_some()
    }

    /// Deletes everything, handing the contents to `lf`'s thread to free
    /// (as one job counting one object per key). Returns the number of
    /// keys removed.
    pub fn clear_lazy(&mut self, lf: &LazyFree) -> usize {
        let n = self.map.len();
        if n == 0 {
            self.clear();
            return 0;
        }
        let mut map = std::mem::replace(&mut self.map, keyspace_table(0));
        let mut expires = std::mem::replace(&mut self.expires, keyspace_table(0));
        self.avg_ttl = 0;
        if let Some(ix) = &mut self.slots {
            ix.clear();
        }
        if self.snap_epoch == 0 {
            lf.free(Box::new((map, expires)), n as u64);
            return n;
        }
        // Entries the running snapshot has not saved yet move to it; the
        // rest goes to the thread.
        let epoch = self.snap_epoch;
        let mut rest = Vec::new();
        for (k, e) in map.drain() {
            if e.epoch < epoch {
                let expire_at = expires.remove(&k).map(|(_, t)| t);
                self.cow.push(Preimage {
                    key: k,
                    entry: e,
                    expire_at,
                });
            } else {
                rest.push(e);
            }
        }
        lf.free(Box::new((rest, expires)), n as u64);
        n
    }

    /// Deletes everything.
    pub fn clear(&mut self) {
        let mut map = std::mem::replace(&mut self.map, keyspace_table(0));
        let mut expires = std::mem::replace(&mut self.expires, keyspace_table(0));
        self.avg_ttl = 0;
        if let Some(ix) = &mut self.slots {
            ix.clear();
        }
        if self.snap_epoch != 0 {
            // Entries the running snapshot has not saved yet move to it.
            let epoch = self.snap_epoch;
            for (k, e) in map.drain() {
                if e.epoch < epoch {
                    let expire_at = expires.remove(&k).map(|(_, t)| t);
                    self.cow.push(Preimage {
                        key: k,
                        entry: e,
                        expire_at,
                    });
                }
            }
        }
    }

    /// Iterates over all entries (including logically expired ones).
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.map.iter()
    }

    /// A uniformly chosen key (may be logically expired).
    pub fn random_key(&self, rng: &mut impl Rng) -> Option<Key> {
        self.map.random_entry(rng).map(|(k, _)| k.clone())
    }

    /// One step of a `SCAN` iteration: visits buckets until about `count`
    /// keys were seen or the iteration ends. Returns the next cursor (0 when
    /// done). Every key present during the whole iteration is visited.
    pub fn scan(&self, mut cursor: u64, count: usize, mut f: impl FnMut(&Key, &Entry)) -> u64 {
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
    pub fn sample_keys(&self, n: usize, rng: &mut impl Rng) -> Vec<(Key, u32)> {
        self.map
            .sample(n, rng)
            .into_iter()
            .map(|(k, e)| (k.clone(), e.lru))
            .collect()
    }

    /// Up to `n` random keys that have a deadline, for the active expiry cycle.
    pub fn sample_volatile(&self, n: usize, rng: &mut impl Rng) -> Vec<(Key, i64)> {
        self.expires
            .sample(n, rng)
            .into_iter()
            .map(|(k, t)| (k.clone(), *t))
            .collect()
    }

    /// One step of a snapshot's iteration: visits buckets from `cursor`,
    /// passes every entry the snapshot has not saved yet to `save` (with its
    /// deadline) and marks it saved. Returns the next cursor (0 when done).
    pub fn snapshot_step(
        &mut self,
        cursor: u64,
        max_entries: usize,
        mut save: impl FnMut(&Key, &Entry, Option<i64>),
    ) -> u64 {
        let epoch = self.snap_epoch;
        let expires = &self.expires;
        let volatile = !expires.is_empty();
        let mut saved = 0usize;
        let mut cursor = cursor;
        // One pass: each unsaved entry is marked and handed over where the
        // scan finds it (a second lookup per key cost a third of a save).
        loop {
            cursor = self.map.scan_mut(cursor, |k, e| {
                if e.epoch < epoch {
                    e.epoch = epoch;
                    let exp = if volatile {
                        expires.get(k.as_ref()).copied()
                    } else {
                        None
                    };
                    save(k, e, exp);
                    saved += 1;
                }
            });
            if cursor == 0 || saved >= max_entries {
                break;
            }
        }
        cursor
    }

    /// Takes the queued old versions of changed entries.
    pub fn take_preimages(&mut self) -> Vec<Preimage> {
        std::mem::take(&mut self.cow)
    }

    /// Moves a little of any rehash in progress forward (cron).
    pub fn rehash_step(&mut self, budget: std::time::Duration) {
        self.map.rehash_for(budget);
        self.expires.rehash_for(budget);
    }
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
