//! Tests of `report.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::hdr::Layout;

fn sample() -> Histogram {
    let mut h = Histogram::new(Layout::latency(3));
    h.record(150, 2);
    h.record(380, 1019);
    h.record(410, 530);
    h.record(440, 207);
    h.record(960, 242);
    h
}

#[test]
fn quiet_and_csv() {
    let h = sample();
    let input = Input {
        title: "SET",
        finished: 2000,
        totlatency_ms: 30,
        clients: 50,
        datasize: 3,
        keepalive: 1,
        server: None,
        cluster: None,
        threads: 0,
        last_printed_bytes: 0,
        hist: &h,
    };
    assert_eq!(
        render(&input, Mode::Quiet),
        " \rSET: 66666.67 requests per second, p50=0.383 msec\n"
    );
    let csv = render(&input, Mode::Csv);
    assert!(csv.starts_with("\"SET\",\"66666.67\",\""), "{csv}");
    assert!(
        csv.ends_with(",\"0.144\",\"0.383\",\"0.967\",\"0.967\",\"0.967\"\n"),
        "{csv}"
    );
}

#[test]
fn full_report_rows() {
    let h = sample();
    let cfg = ServerConfig {
        save: String::new(),
        appendonly: "no".into(),
    };
    let input = Input {
        title: "SET",
        finished: 2000,
        totlatency_ms: 30,
        clients: 50,
        datasize: 3,
        keepalive: 1,
        server: Some(&cfg),
        cluster: None,
        threads: 0,
        last_printed_bytes: 0,
        hist: &h,
    };
    let text = render(&input, Mode::Full);
    let want_head = " \r====== SET ======\n  2000 requests completed in 0.03 seconds\n  50 parallel clients\n  3 bytes payload\n  keep alive: 1\n  host configuration \"save\": \n  host configuration \"appendonly\": no\n  multi-thread: no\n\nLatency by percentile distribution:\n0.000% <= 0.151 milliseconds (cumulative count 2)\n50.000% <= 0.383 milliseconds (cumulative count 1021)\n75.000% <= 0.415 milliseconds (cumulative count 1551)\n87.500% <= 0.447 milliseconds (cumulative count 1758)\n93.750% <= 0.967 milliseconds (cumulative count 2000)\n100.000% <= 0.967 milliseconds (cumulative count 2000)\n\nCumulative distribution of latencies:\n0.000% <= 0.103 milliseconds (cumulative count 0)\n0.100% <= 0.207 milliseconds (cumulative count 2)\n51.050% <= 0.407 milliseconds (cumulative count 1021)\n";
    assert!(text.starts_with(want_head), "{text}");
    assert!(text.contains("\n100.000% <= 1.007 milliseconds (cumulative count 2000)\n\nSummary:\n  throughput summary: 66666.67 requests per second\n  latency summary (msec):\n          avg       min       p50       p95       p99       max\n"), "{text}");
}
