//! Tests of `histogram.rs`.

use super::*;

#[test]
fn percentiles_are_monotonic_and_close() {
    let mut h = Histogram::default();
    for v in 1..=1000u64 {
        h.record(v);
    }
    let p50 = h.percentile(50.0);
    let p99 = h.percentile(99.0);
    assert!(p50 <= p99);
    assert!((450.0..=600.0).contains(&p50), "{p50}");
    assert!((950.0..=1150.0).contains(&p99), "{p99}");
}
