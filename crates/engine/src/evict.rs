//! `maxmemory` and key eviction (upstream `evict.c`): before a command runs,
//! while the allocator reports more than `maxmemory` bytes in use, sample
//! `maxmemory-samples` keys per database according to `maxmemory-policy`,
//! evict the best candidate, propagate a `DEL` and fire the `evicted`
//! notification. Commands flagged `denyoom` are refused with `-OOM` when
//! nothing more can be evicted.

use bytes::Bytes;
use redis_storage::access::{self, AccessPolicy};

use crate::state::State;

/// Upper bound on evictions per command, so one command cannot stall the
/// server for long (upstream bounds the time with eviction tenacity).
const MAX_EVICTIONS_PER_CALL: usize = 10_000;

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
    /// Bytes counted against `maxmemory`.
    pub fn memory_for_eviction(&self) -> u64 {
        (self.used_memory)() as u64
    }

    /// Evicts keys until memory is under `maxmemory`. Returns false when
    /// still over the limit (nothing evictable, or `noeviction`).
    pub fn perform_evictions(&mut self, now: i64) -> bool {
        let max = self.cached.maxmemory;
        if max <= 0 || self.memory_for_eviction() <= max as u64 {
            return true;
        }
        let policy = self.config.get_str("maxmemory-policy").to_string();
        let Some((pool, rank)) = parse_policy(&policy) else {
            return false;
        };
        let samples = self.config.get_int("maxmemory-samples").clamp(1, 64) as usize;
        for _ in 0..MAX_EVICTIONS_PER_CALL {
            let Some((db, key)) = self.pick_victim(pool, rank, samples, now) else {
                return false;
            };
            self.ks.dbs[db].remove(&key);
            self.stats.evicted_keys += 1;
            self.touch_key(db, &key);
            crate::pubsub::notify(self, db, &key, 'e', "evicted", None);
            self.propagate(db, &[Bytes::from_static(b"DEL"), key]);
            if self.memory_for_eviction() <= max as u64 {
                return true;
            }
        }
        self.memory_for_eviction() <= max as u64
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
