//! Per-key access metadata for eviction and `OBJECT IDLETIME/FREQ`.
//!
//! Every entry carries one 32-bit word, read according to the configured
//! policy as upstream does with its 24-bit `lru` field:
//! - LRU policies: the LRU clock (seconds, 24 bits) of the last access;
//! - LFU policies: `minutes << 8 | counter`, where `minutes` is the time of
//!   the last decay (16 bits of Unix minutes) and `counter` a logarithmic
//!   access counter (new keys start at 5; each access increments it with
//!   probability `1 / ((counter - 5) * lfu-log-factor + 1)`; it decays by
//!   one per `lfu-decay-time` minutes without access).

/// Starting counter of a new key under LFU.
pub const LFU_INIT: u32 = 5;

/// How access metadata is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AccessPolicy {
    #[default]
    Lru,
    Lfu {
        log_factor: u32,
        decay_minutes: u32,
    },
}

/// The 24-bit LRU clock in seconds.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u64 & ((1 << 24) - 1)) as u32
}

fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u64 & 0xffff) as u32
}

/// The metadata word for a key created now.
pub fn initial(policy: AccessPolicy, now_ms: i64) -> u32 {
    match policy {
        AccessPolicy::Lru => lru_clock(now_ms),
        AccessPolicy::Lfu { .. } => (minutes(now_ms) << 8) | LFU_INIT,
    }
}

/// Seconds since the last access under LRU (the clock wraps every 194 days).
pub fn idle_seconds(word: u32, now_ms: i64) -> u64 {
    let clock = lru_clock(now_ms);
    u64::from(if clock >= word {
        clock - word
    } else {
        clock + (1 << 24) - word
    })
}

/// The LFU counter after applying decay, without recording an access.
pub fn lfu_decayed(word: u32, decay_minutes: u32, now_ms: i64) -> u32 {
    let last = word >> 8;
    let counter = word & 0xff;
    let now = minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        65536 - last + now
    };
    // lfu-decay-time 0 means "never decay".
    let periods = elapsed.checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// The metadata word `RESTORE … IDLETIME`/`FREQ` (and the RDB's idle and
/// frequency fields) give a key, as upstream's `objectSetLRUOrLFU`: under
/// LFU the frequency (0–255) if given, otherwise under LRU an access
/// `idle_secs` ago if given; `None` when the policy has no use for what
/// was given.
pub fn restored(
    policy: AccessPolicy,
    now_ms: i64,
    idle_secs: Option<i64>,
    freq: Option<i64>,
) -> Option<u32> {
    match policy {
        AccessPolicy::Lfu { .. } => {
            let f = freq?.clamp(0, 255) as u32;
            Some((minutes(now_ms) << 8) | f)
        }
        AccessPolicy::Lru => {
            let idle = idle_secs?.max(0) as u64 % (1 << 24);
            let clock = u64::from(lru_clock(now_ms));
            let at = (clock + (1 << 24) - idle) % (1 << 24);
            Some(at as u32)
        }
    }
}

/// The metadata word after an access. `r` is a uniform random number in
/// [0, 1) used by the LFU probabilistic increment.
pub fn touch(policy: AccessPolicy, word: u32, now_ms: i64, r: f64) -> u32 {
    match policy {
        AccessPolicy::Lru => lru_clock(now_ms),
        AccessPolicy::Lfu {
            log_factor,
            decay_minutes,
        } => {
            let mut c = lfu_decayed(word, decay_minutes, now_ms);
            if c < 255 {
                let base = c.saturating_sub(LFU_INIT) as f64;
                let p = 1.0 / (base * f64::from(log_factor) + 1.0);
                if r < p {
                    c += 1;
                }
            }
            (minutes(now_ms) << 8) | c
        }
    }
}

/// Eviction score: larger means a better victim (idle time for LRU,
/// inverted frequency for LFU), like upstream's eviction pool ordering.
pub fn evict_score(policy: AccessPolicy, word: u32, now_ms: i64) -> u64 {
    match policy {
        AccessPolicy::Lru => idle_seconds(word, now_ms),
        AccessPolicy::Lfu { decay_minutes, .. } => {
            255 - u64::from(lfu_decayed(word, decay_minutes, now_ms))
        }
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
