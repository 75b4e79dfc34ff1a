//! Tests of `access.rs`.

use super::*;

#[test]
fn restored_idle_and_freq() {
    let now = 1_700_000_000_000;
    let w = restored(AccessPolicy::Lru, now, Some(1000), None);
    assert_eq!(w.map(|w| idle_seconds(w, now)), Some(1000));
    assert_eq!(restored(AccessPolicy::Lru, now, None, Some(3)), None);
    let lfu = AccessPolicy::Lfu {
        log_factor: 10,
        decay_minutes: 1,
    };
    let w = restored(lfu, now, None, Some(100));
    assert_eq!(w.map(|w| lfu_decayed(w, 1, now)), Some(100));
    assert_eq!(restored(lfu, now, Some(5), None), None);
}

#[test]
fn lfu_counts_up_and_decays() {
    let p = AccessPolicy::Lfu {
        log_factor: 10,
        decay_minutes: 1,
    };
    let t0 = 1_000_000 * 60_000;
    let mut w = initial(p, t0);
    assert_eq!(w & 0xff, LFU_INIT);
    // With r = 0 every access increments.
    for _ in 0..10 {
        w = touch(p, w, t0, 0.0);
    }
    assert_eq!(w & 0xff, 15);
    // Three minutes later the counter decayed by three.
    assert_eq!(lfu_decayed(w, 1, t0 + 3 * 60_000), 12);
    // An improbable draw does not increment a high counter.
    assert_eq!(touch(p, w, t0, 0.99) & 0xff, 15);
}

#[test]
fn lru_idle() {
    let t = 5_000_000;
    let w = initial(AccessPolicy::Lru, t);
    assert_eq!(idle_seconds(w, t + 7_000), 7);
    assert!(
        evict_score(AccessPolicy::Lru, w, t + 9_000) > evict_score(AccessPolicy::Lru, w, t + 1_000)
    );
}
