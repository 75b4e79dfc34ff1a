//! The numbered databases and keyspace-wide counters.

use bytes::Bytes;

use crate::access::{self, AccessPolicy};
use crate::db::{Db, Entry};

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
        let n = self.total_keys();
        for db in &mut self.dbs {
            db.clear();
        }
        n
    }
}

impl Keyspace {
    /// Lazy expiry: if `key` is past its deadline, delete it (on a primary)
    /// and record the deletion. Returns true if the key is logically gone.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now: i64) -> bool {
        let d = &mut self.dbs[db];
        if !d.is_expired(key, now) {
            return false;
        }
        if self.is_replica {
            return true;
        }
        if let Some((k, _, _)) = d.remove(key) {
            self.expired.push((db, k.into()));
            self.expired_keys += 1;
        }
        true
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

    /// One pass of active expiry over every database: samples keys with a
    /// deadline and deletes the expired ones, repeating on a database while
    /// more than a quarter of the sample was expired (upstream's heuristic),
    /// within `max_rounds` rounds per database.
    pub fn active_expire_cycle(
        &mut self,
        now: i64,
        per_sample: usize,
        max_rounds: usize,
        rng: &mut impl rand::Rng,
    ) -> usize {
        if self.is_replica {
            return 0;
        }
        let mut total = 0;
        for db in 0..self.dbs.len() {
            for _ in 0..max_rounds {
                let sample = self.dbs[db].sample_volatile(per_sample, rng);
                if sample.is_empty() {
                    break;
                }
                let mut n = 0;
                for (k, t) in &sample {
                    if *t <= now && self.expire_if_needed(db, k, now) {
                        n += 1;
                    }
                }
                total += n;
                if n * 4 <= sample.len() {
                    break;
                }
            }
        }
        total
    }
}
