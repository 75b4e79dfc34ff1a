//! Tests of `latency.rs`.

use super::*;

#[test]
fn samples_below_the_threshold_or_with_the_monitor_off_are_ignored() {
    let mut m = LatencyMonitor::default();
    m.add_if_needed(0, "command", 100, 1000);
    m.add_if_needed(10, "command", 9, 1000);
    assert!(m.events.is_empty());
    m.add_if_needed(10, "command", 10, 1000);
    assert_eq!(m.events["command"].samples().len(), 1);
}

#[test]
fn one_sample_per_second_keeps_the_worst_and_the_ring_wraps() {
    let mut m = LatencyMonitor::default();
    m.add_if_needed(1, "e", 5, 100);
    m.add_if_needed(1, "e", 9, 100);
    m.add_if_needed(1, "e", 3, 100);
    let s = &m.events["e"];
    assert_eq!(
        s.samples(),
        vec![Sample {
            time: 100,
            latency: 9
        }]
    );
    for t in 0..200 {
        m.add_if_needed(1, "e", 1 + t as u64 % 7, 1000 + t);
    }
    let s = &m.events["e"];
    assert_eq!(s.samples().len(), HISTORY_LEN);
    assert_eq!(s.samples()[0].time, 1000 + 200 - HISTORY_LEN as i64);
    assert_eq!(s.latest().time, 1199);
    assert_eq!(s.max, 9);
}

#[test]
fn reset_named_and_all() {
    let mut m = LatencyMonitor::default();
    m.add_if_needed(1, "a", 5, 1);
    m.add_if_needed(1, "b", 5, 1);
    m.add_if_needed(1, "c", 5, 1);
    assert_eq!(m.reset(&["a".into(), "zzz".into()]), 1);
    assert_eq!(m.reset(&[]), 2);
    assert!(m.events.is_empty());
}

#[test]
fn graph_layout_matches_upstreams_shape() {
    let mut m = LatencyMonitor::default();
    for (i, ms) in [10u64, 30, 20, 30, 40, 50].iter().enumerate() {
        m.add_if_needed(1, "command", *ms, 1000 + i as i64);
    }
    let g = m.graph("command", 1012).unwrap();
    let expected = "command - high 50 ms, low 10 ms (all time high 50 ms)\n".to_string()
        + &"-".repeat(80)
        + "\n    _#\n _ _||\n |_|||\n_|||||\n      \n111987\n210sss\nsss   \n";
    assert_eq!(g, expected);
    assert!(m.graph("nothing", 0).is_none());
}

#[test]
fn doctor_mentions_every_event() {
    let mut m = LatencyMonitor::default();
    assert!(m.doctor(1, 10000).contains("No latency spike"));
    m.add_if_needed(1, "command", 20, 1);
    m.add_if_needed(1, "expire-cycle", 20, 2);
    let d = m.doctor(1, 10000);
    assert!(d.contains("1. command: 1 latency spikes"), "{d}");
    assert!(d.contains("2. expire-cycle"), "{d}");
    assert!(d.contains("slowlog-log-slower-than 1000"), "{d}");
}
