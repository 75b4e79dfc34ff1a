//! `maxmemory` and key eviction (upstream `evict.c`): before a command runs,
//! while the allocator reports more than `maxmemory` bytes in use, sample
//! `maxmemory-samples` keys per database according to `maxmemory-policy`,
//! evict the best candidate, propagate a `DEL` and fire the `evicted`
//! notification. Commands flagged `denyoom` are refused with `-OOM` when
//! nothing more can be evicted. `maxmemory-eviction-tenacity` bounds the
//! time one command spends evicting, `lazyfree-lazy-eviction` frees the
//! evicted values on the lazy-free thread (and propagates `UNLINK`), and
//! a replica with `replica-ignore-maxmemory` leaves eviction to its
//! primary.

use std::time::{Duration, Instant};

use bytes::Bytes;
use redis_storage::access::{self, AccessPolicy};

use crate::state::State;

/// How long one call may evict for `maxmemory-eviction-tenacity`: 50 µs
/// per unit up to 10 (500 µs, the default), then growing by 15% per unit,
/// and without limit at 100 (the curve upstream documents).
pub fn eviction_time_limit(tenacity: i64) -> Option<Duration> {
    match tenacity {
        t if t <= 10 => Some(Duration::from_micros(50 * t.max(0) as u64)),
        t if t < 100 => Some(Duration::from_micros(
            (500.0 * 1.15f64.powi((t - 10) as i32)) as u64,
        )),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    AllKeys,
    Volatile,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rank {
    Access,
    Random,
    Ttl,
}

fn parse_policy(p: &str) -> Option<(Pool, Rank)> {
    Some(match p {
        "allkeys-lru" | "allkeys-lfu" => (Pool::AllKeys, Rank::Access),
        "volatile-lru" | "volatile-lfu" => (Pool::Volatile, Rank::Access),
        "allkeys-random" => (Pool::AllKeys, Rank::Random),
        "volatile-random" => (Pool::Volatile, Rank::Random),
        "volatile-ttl" => (Pool::Volatile, Rank::Ttl),
        _ => return None,
    })
}

/// The access policy implied by the configuration.
pub fn access_policy(maxmemory_policy: &str, log_factor: i64, decay: i64) -> AccessPolicy {
    if maxmemory_policy.ends_with("lfu") {
        AccessPolicy::Lfu {
            log_factor: log_factor.clamp(0, i64::from(u32::MAX)) as u32,
            decay_minutes: decay.clamp(0, i64::from(u32::MAX)) as u32,
        }
    } else {
        AccessPolicy::Lru
    }
}

impl State {
    /// Bytes counted against `maxmemory`: everything but what upstream
    /// leaves out (see [`State::mem_not_counted_for_evict`]).
    pub fn memory_for_eviction(&self) -> u64 {
        ((self.used_memory)() as u64)
            .saturating_sub(self.mem_not_counted_for_evict())
            .saturating_sub(self.clients_freeing)
    }

    /// `mem_not_counted_for_evict`: output owed to replicas and the AOF
    /// batch being built, which are transient and must not evict the
    /// dataset. (Read before every write under `maxmemory`, so the AOF
    /// writer's queue, behind its lock, is left out.)
    pub fn mem_not_counted_for_evict(&self) -> u64 {
        let aof = self.aof.as_ref().map_or(0, |a| a.buf.len());
        (self.repl.owed_to_replicas() + aof) as u64
    }

    /// `CONFIG SET maxmemory` below the memory in use: upstream warns and
    /// starts evicting at once (its eviction time proc), not at the next
    /// write, so keyspace events of evicted keys arrive right away.
    pub fn maxmemory_changed(&mut self, now: i64) {
        let max = self.cached.maxmemory;
        let used = self.memory_for_eviction();
        if max > 0 && (max as u64) < used {
            self.log_warning(&format!(
                "WARNING: the new maxmemory value set via CONFIG SET ({max}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
            ));
            if self.repl.exec_ops.is_some() || self.scripting.run.is_some() {
                // Inside EXEC or a script the commands after this one run
                // first, as upstream's time proc only runs between
                // commands: the cron (or the next command) evicts.
                self.evict_running = true;
            } else {
                self.perform_evictions(now);
            }
        }
    }

    /// Evicts keys until memory is under `maxmemory`. Returns false when
    /// still over the limit (nothing evictable, or `noeviction`): writes
    /// are then refused with `-OOM`.
    ///
    /// A replica with `replica-ignore-maxmemory` never evicts (its
    /// primary's deletions keep it in line) and so never refuses writes.
    /// Each call evicts for at most `maxmemory-eviction-tenacity`'s time;
    /// if memory is still over then, the call reports success and the
    /// cron goes on evicting (upstream's eviction time proc), so one
    /// command cannot stall the server.
    pub fn perform_evictions(&mut self, now: i64) -> bool {
        let max = self.cached.maxmemory;
        if max <= 0 || (self.master.is_some() && self.cached.replica_ignore_maxmemory) {
            redis_storage::dict::set_keyspace_grow_budget(u64::MAX);
            return true;
        }
        let max = max as u64;
        let mut used = self.memory_for_eviction();
        if used > max {
            // Only when over: a walk over the clients.
            used = used.saturating_sub(self.reply_buffer_allowance());
        }
        if used <= max {
            self.note_under_maxmemory();
            redis_storage::dict::set_keyspace_grow_budget(max - used);
            return true;
        }
        let ok = self.evict_over(now, max);
        // What the keyspace tables may take to grow from here.
        let left = max.saturating_sub(self.memory_for_eviction());
        redis_storage::dict::set_keyspace_grow_budget(left);
        ok
    }

    /// Evicts while memory is over `max` (see [`State::perform_evictions`]).
    fn evict_over(&mut self, now: i64, max: u64) -> bool {
        if self.evict_exceeded_since.is_none() {
            self.evict_exceeded_since = Some(Instant::now());
        }
        let policy = self.config.get_str("maxmemory-policy").to_string();
        let Some((pool, rank)) = parse_policy(&policy) else {
            return false;
        };
        let samples = self.config.get_int("maxmemory-samples").clamp(1, 64) as usize;
        let limit = eviction_time_limit(self.cached.eviction_tenacity);
        let lazy = self.cached.lazy_eviction;
        let threshold = self.cached.latency_monitor_threshold;
        let start = Instant::now();
        let mut evicted = 0u64;
        // As upstream: what must go is measured once, and what a deletion
        // frees is measured around the deletion alone. The invalidation
        // messages, keyspace events and propagated DELs that follow it take
        // memory too (freed once written out); counting them would make
        // every eviction ask for more, and tracking clients could drain the
        // dataset.
        let allowance = self.reply_buffer_allowance();
        let to_free = self
            .memory_for_eviction()
            .saturating_sub(allowance)
            .saturating_sub(max);
        let mut freed = 0u64;
        // Invalidation messages queued by this cycle sit in output buffers
        // until written out; upstream's preallocated reply buffers take
        // them without allocating.
        let sent_at_start = self.tracking.sent_bytes();
        let result = loop {
            let Some((db, key)) = self.pick_victim(pool, rank, samples, now) else {
                // Values queued for the lazy-free thread may be about to
                // release enough: give it a moment, as upstream does.
                if self.lazyfree.pending() > 0 {
                    let wait = limit.unwrap_or(Duration::from_millis(1));
                    std::thread::sleep(wait.min(Duration::from_millis(5)));
                }
                break self.memory_for_eviction() <= max;
            };
            let del_start = Instant::now();
            let before = (self.used_memory)() as u64;
            let sent_before = self.tracking.sent_bytes();
            self.ks.delete(db, &key, lazy);
            // The key's tracking entry goes too (upstream frees it as part
            // of the deletion); the invalidations queued then are output,
            // not part of what the deletion freed.
            self.touch_key(db, &key);
            let queued = self.tracking.sent_bytes() - sent_before;
            freed += (before + queued).saturating_sub((self.used_memory)() as u64);
            self.latency_monitor.add_if_needed(
                threshold,
                "eviction-del",
                del_start.elapsed().as_millis() as u64,
                crate::state::unix_secs(),
            );
            self.stats.evicted_keys += 1;
            evicted += 1;
            crate::pubsub::notify(self, db, &key, 'e', "evicted", None);
            let cmd: &'static [u8] = if lazy { b"UNLINK" } else { b"DEL" };
            self.propagate(db, &[Bytes::from_static(cmd), key]);
            let queued_total = self.tracking.sent_bytes() - sent_at_start;
            let over = self
                .memory_for_eviction()
                .saturating_sub(allowance + queued_total);
            if freed >= to_free || over <= max {
                break true;
            }
            // Every 16 keys: out of time? Then the cron continues.
            if evicted % 16 == 0 && limit.is_some_and(|l| start.elapsed() >= l) {
                self.evict_running = true;
                break true;
            }
        };
        self.latency_monitor.add_if_needed(
            threshold,
            "eviction-cycle",
            start.elapsed().as_millis() as u64,
            crate::state::unix_secs(),
        );
        let now_used = self.memory_for_eviction();
        if now_used <= max || now_used.saturating_sub(self.reply_buffer_allowance()) <= max {
            self.note_under_maxmemory();
        }
        result
    }

    /// Memory is back under `maxmemory`: the time it was over is added to
    /// `total_eviction_exceeded_time`.
    fn note_under_maxmemory(&mut self) {
        if let Some(since) = self.evict_exceeded_since.take() {
            self.evict_exceeded_total_ms += since.elapsed().as_millis() as u64;
        }
    }

    /// (`total_eviction_exceeded_time`, `current_eviction_exceeded_time`)
    /// in milliseconds, for `INFO stats`.
    pub fn eviction_exceeded_ms(&self) -> (u64, u64) {
        let current = self
            .evict_exceeded_since
            .map_or(0, |s| s.elapsed().as_millis() as u64);
        (self.evict_exceeded_total_ms + current, current)
    }

    fn pick_victim(
        &mut self,
        pool: Pool,
        rank: Rank,
        samples: usize,
        now: i64,
    ) -> Option<(usize, Bytes)> {
        let policy = self.ks.policy;
        let mut best: Option<(u64, usize, Bytes)> = None;
        for db in 0..self.ks.dbs.len() {
            let d = &self.ks.dbs[db];
            let candidates: Vec<(Bytes, u64)> = match pool {
                Pool::AllKeys if d.is_empty() => continue,
                Pool::Volatile if d.expires_len() == 0 => continue,
                Pool::AllKeys => d
                    .sample_keys(samples, &mut self.rng)
                    .into_iter()
                    .map(|(k, word)| {
                        let score = match rank {
                            Rank::Access => access::evict_score(policy, word, now),
                            _ => 0,
                        };
                        (Bytes::from(k), score)
                    })
                    .collect(),
                Pool::Volatile => d
                    .sample_volatile(samples, &mut self.rng)
                    .into_iter()
                    .map(|(k, at)| {
                        let score = match rank {
                            // Sooner deadline = better victim.
                            Rank::Ttl => u64::MAX - (at.max(0) as u64),
                            Rank::Access => d
                                .get(&k)
                                .map_or(0, |e| access::evict_score(policy, e.lru, now)),
                            Rank::Random => 0,
                        };
                        (Bytes::from(k), score)
                    })
                    .collect(),
            };
            if rank == Rank::Random {
                if let Some((k, _)) = candidates.into_iter().next() {
                    return Some((db, k));
                }
                continue;
            }
            for (k, score) in candidates {
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, db, k));
                }
            }
        }
        best.map(|(_, db, k)| (db, k))
    }
}
