//! Tests of `clients_mem.rs`.

use super::*;

#[test]
fn peaks_last_a_few_seconds() {
    let mut p = Peaks::default();
    p.note(100, 10, 500);
    p.note(101, 30, 5);
    assert_eq!(p.recent_max(101), (30, 500));
    assert_eq!(p.recent_max(107), (30, 500));
    assert_eq!(p.recent_max(108), (30, 5));
    assert_eq!(p.recent_max(200), (0, 0));
    // A slot reused for a new second starts afresh.
    p.note(108, 1, 1);
    assert_eq!(p.recent_max(108), (30, 5));
}
