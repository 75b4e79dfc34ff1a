//! Unit tests of `bench_cluster.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn nodes_slots_and_csv() {
    let text = "07c3 127.0.0.1:18001@28001 myself,master - 0 0 1 connected 0-5460 [93->-e7d]\n\
                    9f2a 127.0.0.1:18004@28004 slave 07c3 0 1700 1 connected\n\
                    e7d1 127.0.0.1:18002@28002 master,fail - 1 1 2 disconnected 5461-10922 10923\n";
    let n = parse_nodes(text);
    assert_eq!(n.len(), 3);
    assert_eq!(n[0].slots, vec![(0, 5460)]);
    assert!(n[0].has("myself") && n[0].has("master"));
    assert_eq!((n[1].port, n[1].master.as_str()), (18004, "07c3"));
    assert!(n[2].has("fail") && !n[2].has("fail?"));
    assert_eq!(n[2].link, "disconnected");
    assert!(covers(&n[2].slots, (5461, 10923)));
    assert!(!covers(&n[2].slots, (5461, 10924)));
    assert!(covers(&[(10, 20), (0, 9)], (0, 20)));
    assert_eq!(
        slot_ranges(3),
        vec![(0, 5460), (5461, 10922), (10923, 16383)]
    );
    let csv = "Cluster has 3 master nodes:\n\n\"test\",\"rps\",\"avg_latency_ms\"\n\"SET\",\"398406.41\",\"1.0\"\n\"GET\",\"787401.56\",\"0.6\"\n";
    assert_eq!(
        parse_csv(csv),
        vec![
            ("SET".to_string(), 398406.41),
            ("GET".to_string(), 787401.56)
        ]
    );
    assert_eq!(
        field("a:1\r\ncluster_state:ok\r\n", "cluster_state"),
        Some("ok")
    );
}

#[test]
fn ports_stay_in_range_and_figures_render() {
    let mut p = Ports::new();
    let a = p.take().unwrap();
    let b = p.take().unwrap();
    assert!((FIRST_PORT..=LAST_PORT).contains(&a) && a != b);
    let mut f = Figure::new("k", "label", Better::Lower, 1);
    f.samples[0] = vec![2.0, 4.0, 3.0];
    f.fail(Side::Ref, "why");
    let row = f.row();
    assert_eq!(row[1..4], ["3.0", "2.0–4.0", "failed"]);
    assert_eq!(row[6], "lower");
}
