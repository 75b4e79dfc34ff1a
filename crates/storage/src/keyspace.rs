//! The numbered databases and keyspace-wide counters.

use bytes::Bytes;

use crate::access::{self, AccessPolicy};
use crate::db::{Db, Entry};
use crate::lazyfree::LazyFree;

/// All databases of a server.
#[derive(Debug)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// Keys deleted by expiry since the last drain: (db, key). The command
    /// layer drains it after every command to propagate `DEL`s.
    pub expired: Vec<(usize, Bytes)>,
    pub hits: u64,
    pub misses: u64,
    pub expired_keys: u64,
    /// True on a replica: expired keys are hidden but not deleted, since the
    /// primary's `DEL` is the authority.
    pub is_replica: bool,
    /// How per-key access metadata is kept (`maxmemory-policy`).
    pub policy: AccessPolicy,
    /// xorshift state for the LFU probabilistic increment.
    rng_state: u64,
    pub(crate) snapshot_running: bool,
    pub(crate) snapshot_epoch: u32,
    /// When set (`notify-keyspace-events` has `m`), read misses are
    /// recorded in [`Keyspace::missed`] for `keymiss` notifications.
    pub track_misses: bool,
    pub missed: Vec<(usize, Bytes)>,
    /// The lazy-free thread (see [`crate::lazyfree`]).
    pub lazyfree: LazyFree,
    /// `lazyfree-lazy-expire`: expired values are freed by the thread.
    pub lazy_expire: bool,
    /// Set while an ordinary client's command runs on a replica (a
    /// writable one: `replica-read-only no`): its write lookups delete the
    /// expired keys they meet, as upstream's `LOOKUP_WRITE` does there.
    pub local_writes: bool,
    /// Set while a replica applies its primary's stream, and while the AOF
    /// is loaded: no key counts as expired, whatever the clock says
    /// (upstream's `expireIfNeeded` for the master client, `keyIsExpired`
    /// while loading). The primary ran each command against keys live
    /// there and sends a `DEL` for those that expire, and the AOF replays
    /// the history in which they were live, so treating a key as gone
    /// (`INCR` starting from 0, `RPUSH` creating a list without its
    /// deadline) would diverge.
    pub expiry_frozen: bool,
    /// Keys given a deadline on a writable replica by its own clients: the
    /// replica expires them itself, since its primary never will
    /// (upstream's `slaveKeysWithExpire`).
    pub replica_expires: std::collections::HashSet<(usize, Bytes)>,
}

impl Keyspace {
    /// `n` empty databases.
    pub fn new(n: usize) -> Keyspace {
        Keyspace {
            dbs: (0..n.max(1)).map(|i| Db::with_tag(i as u64)).collect(),
            expired: Vec::new(),
            hits: 0,
            misses: 0,
            expired_keys: 0,
            is_replica: false,
            policy: AccessPolicy::Lru,
            rng_state: 0x9e37_79b9_7f4a_7c15,
            snapshot_running: false,
            snapshot_epoch: 0,
            track_misses: false,
            missed: Vec::new(),
            lazyfree: LazyFree::new(),
            lazy_expire: false,
            local_writes: false,
            expiry_frozen: false,
            replica_expires: std::collections::HashSet::new(),
        }
    }

    /// Copies every database's keys and deadlines from `from`, and
    /// whether it is a replica's (expired keys are then hidden, not
    /// deleted): the dataset of a `SCRIPT DEBUG YES` session. The
    /// databases keep their own identities; `from` is not changed.
    pub fn copy_data_from(&mut self, from: &Keyspace) {
        for (db, src) in self.dbs.iter_mut().zip(&from.dbs) {
            db.copy_data_from(src);
        }
        self.is_replica = from.is_replica;
        self.snapshot_epoch = from.snapshot_epoch;
    }

    /// Cluster mode: database 0 (the only one a cluster serves) keeps
    /// its keys per hash slot from now on (see [`crate::slots`]).
    pub fn enable_slot_index(&mut self, slot_of: crate::slots::SlotFn) {
        if let Some(db) = self.dbs.first_mut() {
            db.enable_slot_index(slot_of);
        }
    }

    /// Installs the lazy-free thread and which deletions use it
    /// (`lazyfree-lazy-expire`, `lazyfree-lazy-server-del`).
    pub fn set_lazyfree(&mut self, lf: &LazyFree, expire: bool, server_del: bool) {
        self.lazyfree = lf.clone();
        self.lazy_expire = expire;
        for db in &mut self.dbs {
            db.lazy_server_del = server_del.then(|| lf.clone());
        }
    }

    /// Deletes `key` and frees its value, in the background when `lazy`
    /// and the value is big (`UNLINK`, and the deletions whose
    /// `lazyfree-lazy-*` directive is on). Returns true if it existed.
    pub fn delete(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        match self.dbs[db].remove(key) {
            Some((_, e, _)) => {
                if lazy {
                    self.lazyfree.free_value(e.value);
                }
                true
            }
            None => false,
        }
    }

    /// Empties database `db`, its contents freed by the thread when
    /// `lazy`. Returns the number of keys removed.
    pub fn flush_db(&mut self, db: usize, lazy: bool) -> usize {
        let d = &mut self.dbs[db];
        if lazy {
            d.clear_lazy(&self.lazyfree)
        } else {
            let n = d.len();
            d.clear();
            n
        }
    }

    /// Number of databases.
    pub fn len(&self) -> usize {
        self.dbs.len()
    }

    /// Always false: a keyspace has at least one database.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Total keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }

    /// Exchanges two databases.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    /// Empties every database; returns the number of keys removed.
    pub fn flush_all(&mut self) -> usize {
        self.flush_all_lazy(false)
    }

    /// [`Keyspace::flush_all`], the contents freed by the thread when
    /// `lazy` (`FLUSHALL ASYNC`).
    pub fn flush_all_lazy(&mut self, lazy: bool) -> usize {
        (0..self.dbs.len()).map(|db| self.flush_db(db, lazy)).sum()
    }
}

impl Keyspace {
    /// Lazy expiry: if `key` is past its deadline, delete it (on a primary)
    /// and record the deletion. Returns true if the key is logically gone.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now: i64) -> bool {
        if self.expiry_frozen {
            return false;
        }
        let d = &mut self.dbs[db];
        if !d.is_expired(key, now) {
            return false;
        }
        if self.is_replica {
            return true;
        }
        self.delete_expired(db, key);
        true
    }

    /// Deletes an expired key and records it for the `expired` event and
    /// the propagated `DEL`.
    fn delete_expired(&mut self, db: usize, key: &[u8]) {
        if let Some((k, e, _)) = self.dbs[db].remove(key) {
            if self.lazy_expire {
                self.lazyfree.free_value(e.value);
            }
            self.expired.push((db, k.into()));
            self.expired_keys += 1;
        }
    }

    /// A writable replica's own cron over [`Keyspace::replica_expires`]:
    /// deletes the tracked keys past their deadline, forgets keys that
    /// went away or lost their deadline. Returns how many were deleted.
    pub fn expire_replica_local_keys(&mut self, now: i64) -> usize {
        if self.replica_expires.is_empty() {
            return 0;
        }
        let mut deleted = 0;
        let tracked: Vec<(usize, Bytes)> = self.replica_expires.iter().cloned().collect();
        for (db, k) in tracked {
            let keep = match self.dbs.get(db).and_then(|d| d.expire_at(&k)) {
                None => false,
                Some(_) if self.dbs[db].is_expired(&k, now) => {
                    self.delete_expired(db, &k);
                    deleted += 1;
                    false
                }
                Some(_) => true,
            };
            if !keep {
                self.replica_expires.remove(&(db, k));
            }
        }
        deleted
    }

    /// A uniform number in [0, 1) (xorshift64*; quality is ample for the
    /// LFU increment and it costs nothing on the read path).
    fn unit_random(&mut self) -> f64 {
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Records an access to an entry according to the policy.
    pub fn touch_entry(&mut self, db: usize, key: &[u8], now: i64) {
        let r = match self.policy {
            AccessPolicy::Lru => 0.0,
            AccessPolicy::Lfu { .. } => self.unit_random(),
        };
        let policy = self.policy;
        if let Some(e) = self.dbs[db].get_mut_untracked(key) {
            e.lru = access::touch(policy, e.lru, now, r);
        }
    }

    /// The metadata word for a key created now (what callers pass as `lru`).
    pub fn initial_access(&self, now: i64) -> u32 {
        access::initial(self.policy, now)
    }

    /// Looks a key up for reading: lazy expiry, hit/miss counters, access
    /// metadata (LRU clock or LFU counter).
    pub fn lookup_read(
        &mut self,
        db: usize,
        key: &[u8],
        now: i64,
        _lru: u32,
    ) -> Option<&mut Entry> {
        if self.expire_if_needed(db, key, now) {
            self.note_miss(db, key);
            return None;
        }
        let r = match self.policy {
            AccessPolicy::Lru => 0.0,
            AccessPolicy::Lfu { .. } => self.unit_random(),
        };
        let policy = self.policy;
        match self.dbs[db].get_mut_untracked(key) {
            Some(e) => {
                self.hits += 1;
                e.lru = access::touch(policy, e.lru, now, r);
                e.value.rehash_step();
                Some(e)
            }
            None => {
                self.misses += 1;
                // Field by field: `self.dbs` is still borrowed by the match.
                if self.track_misses {
                    self.missed.push((db, Bytes::copy_from_slice(key)));
                }
                None
            }
        }
    }

    /// Looks a key up for writing: lazy expiry only, no counters.
    pub fn lookup_write(&mut self, db: usize, key: &[u8], now: i64) -> Option<&mut Entry> {
        if self.is_replica && self.local_writes && self.dbs[db].is_expired(key, now) {
            // A writable replica's own write meets an expired key: it is
            // deleted and the write starts afresh.
            self.delete_expired(db, key);
            return None;
        }
        if self.expire_if_needed(db, key, now) && self.is_replica {
            return None;
        }
        self.dbs[db].get_mut(key)
    }

    /// True if `key` exists and is not expired (expires it lazily otherwise).
    pub fn exists(&mut self, db: usize, key: &[u8], now: i64) -> bool {
        !self.expire_if_needed(db, key, now) && self.dbs[db].contains(key)
    }

    /// [`Keyspace::exists`] counted as a read lookup that does not touch
    /// the access metadata (upstream's `LOOKUP_NOTOUCH`): hit/miss counters
    /// and, when tracked, the `keymiss` record.
    pub fn exists_read(&mut self, db: usize, key: &[u8], now: i64) -> bool {
        let found = self.exists(db, key, now);
        if found {
            self.hits += 1;
        } else {
            self.note_miss(db, key);
        }
        found
    }

    /// Counts a read miss found by a write-style lookup.
    pub fn note_miss(&mut self, db: usize, key: &[u8]) {
        self.misses += 1;
        if self.track_misses {
            self.missed.push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// A random live key of `db`.
    pub fn random_key(&mut self, db: usize, now: i64, rng: &mut impl rand::Rng) -> Option<Bytes> {
        // Bounded tries so a database made only of expired keys cannot keep
        // us looping (upstream bounds this on replicas too).
        for _ in 0..100 {
            let k = self.dbs[db].random_key(rng)?;
            if !self.expire_if_needed(db, &k, now) || self.is_replica {
                return Some(k.into());
            }
        }
        None
    }

    /// One pass of active expiry over every database: samples
    /// `cycle.per_sample` keys with a deadline and deletes the expired
    /// ones, repeating on a database while more than
    /// `cycle.acceptable_stale_percent` of the sample was expired
    /// (upstream's heuristic), until `cycle.time_limit` has passed.
    pub fn active_expire_cycle(
        &mut self,
        now: i64,
        cycle: &ExpireCycle,
        rng: &mut impl rand::Rng,
    ) -> ExpireCycleResult {
        let mut res = ExpireCycleResult::default();
        if self.is_replica {
            return res;
        }
        let start = std::time::Instant::now();
        'dbs: for db in 0..self.dbs.len() {
            // Bounded by the time limit; the round cap only guards against
            // a clock that does not move.
            for round in 0..100_000usize {
                if round % 16 == 15 && start.elapsed() >= cycle.time_limit {
                    res.time_cap_reached = true;
                    break 'dbs;
                }
                let sample = self.dbs[db].sample_volatile(cycle.per_sample.max(1), rng);
                if sample.is_empty() {
                    break;
                }
                let mut n = 0;
                for (k, t) in &sample {
                    if *t <= now && self.expire_if_needed(db, k, now) {
                        n += 1;
                    }
                }
                res.expired += n;
                res.sampled += sample.len();
                if n * 100 <= sample.len() * cycle.acceptable_stale_percent {
                    break;
                }
            }
        }
        res
    }
}

/// The knobs of one active expiry pass (derived from `hz` and
/// `active-expire-effort` by the server).
#[derive(Clone, Copy, Debug)]
pub struct ExpireCycle {
    /// Keys with a deadline sampled per round.
    pub per_sample: usize,
    /// A database is sampled again while more than this percentage of
    /// the last sample had expired.
    pub acceptable_stale_percent: usize,
    /// Wall time the pass may take.
    pub time_limit: std::time::Duration,
}

/// What one active expiry pass did.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpireCycleResult {
    /// Keys deleted.
    pub expired: usize,
    /// Keys looked at.
    pub sampled: usize,
    /// The pass stopped at its time limit.
    pub time_cap_reached: bool,
}
