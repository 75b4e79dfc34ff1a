//! Unit tests of `hdr.rs` (kept apart so the module holds only
//! library code).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn layout_of_upstream_defaults() {
    let l = Layout::latency(3);
    assert_eq!(l.unit_magnitude, 3);
    assert_eq!(l.sub_bucket_count, 2048);
    assert_eq!(l.counts_len, 10 * 1024);
    assert_eq!(l.highest_equivalent(100), 103);
    assert_eq!(l.lowest_equivalent(100), 96);
    assert_eq!(l.highest_equivalent(20_000), 20_015);
    let l1 = Layout::latency(1);
    assert_eq!(l1.sub_bucket_count, 32);
    assert_eq!(l1.highest_equivalent(400), 415);
    assert_eq!(l1.highest_equivalent(600), 607);
}

#[test]
fn summary_values() {
    let mut h = Histogram::new(Layout::latency(3));
    for v in [150, 380, 390, 400, 967] {
        h.record(v, 1);
    }
    assert_eq!(h.min(), 144);
    assert_eq!(h.max(), 967);
    assert_eq!(h.value_at_percentile(50.0), 391);
    assert_eq!(h.total(), 5);
    let empty = Histogram::new(Layout::latency(3));
    assert!(empty.mean().is_nan());
    assert_eq!(empty.value_at_percentile(50.0), 0);
}

/// The rows upstream printed for a run whose samples we rebuild from
/// its own cumulative counts (one value per distinct row).
#[test]
fn rows_like_upstream() {
    let mut h = Histogram::new(Layout::latency(3));
    h.record(150, 2);
    h.record(380, 1019);
    h.record(410, 530);
    h.record(440, 207);
    h.record(960, 242);
    let p = h.percentile_rows(1);
    assert_eq!(p[0], (0.0, 151, 2));
    assert_eq!(p[1], (50.0, 383, 1021));
    assert_eq!(p[2], (75.0, 415, 1551));
    let last = p[p.len() - 1];
    assert_eq!(last, (100.0, 967, 2000));
    assert_eq!(p[p.len() - 2].1, 967);
    let l = h.linear_rows(100, 2000, 1000);
    // Rows with unchanged counts are filtered by the report; the raw
    // iteration starts at 0.103 and ends at the first level past the max.
    assert_eq!(l[0], (103, 0));
    assert_eq!(l[l.len() - 1], (1007, 2000));
}

#[test]
fn linear_widens_after_two_ms() {
    let mut h = Histogram::new(Layout::latency(4));
    h.record(1_800, 950);
    h.record(3_000, 14);
    h.record(3_700, 36);
    let l = h.linear_rows(100, 2000, 1000);
    let values: Vec<i64> = l.iter().map(|r| r.0).collect();
    assert!(values.contains(&3_103), "{values:?}");
    assert_eq!(*values.last().unwrap(), 4_103);
}

#[test]
fn atomic_snapshot() {
    let a = AtomicHistogram::new(Layout::latency(3));
    a.record(100, 3);
    a.record(0, 1);
    let s = a.snapshot();
    assert_eq!((s.total(), s.min(), s.max()), (4, 0, 103));
    a.reset();
    assert_eq!(a.snapshot().total(), 0);
}
