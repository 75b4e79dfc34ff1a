//! The reports line for line: ours and Debian's `redis-benchmark` run
//! with the same arguments against the same reference server, and their
//! outputs, with numbers replaced and progress lines dropped (see
//! `common::structure`), must be identical — for the default report, `-q`
//! and `--csv`, and with the options that change the report (threads,
//! pipelining, keep-alive, precision, a command line).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_same_structure, both, text, Server};

fn compare(s: &Server, args: &[&str]) -> String {
    let (ours, upstream) = both(s.port, args);
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&ours.stderr)
    );
    assert_eq!(upstream.status.code(), Some(0), "{args:?}");
    assert_eq!(ours.stderr, upstream.stderr, "{args:?}");
    assert_same_structure(
        &format!("{args:?}"),
        &text(&ours.stdout),
        &text(&upstream.stdout),
    );
    text(&ours.stdout)
}

/// The percentages of "Latency by percentile distribution" halve the
/// distance to 100 at each step, as upstream's iterator does.
fn check_percentile_rows(report: &str) {
    let mut allowed = vec![0.0f64];
    let mut p = 0.0f64;
    while p < 99.9999 {
        let temp = ((100.0 / (100.0 - p)).ln() / 2f64.ln()) as i64 + 1;
        p += 100.0 / 2f64.powi(temp as i32);
        allowed.push(p);
    }
    let mut in_block = false;
    let mut rows = 0;
    for line in report
        .split('\n')
        .map(|l| l.rsplit('\r').next().unwrap_or_default())
    {
        if line == "Latency by percentile distribution:" {
            in_block = true;
            continue;
        }
        if in_block && line.is_empty() {
            in_block = false;
        }
        if in_block {
            let pct: f64 = line.split('%').next().unwrap().parse().unwrap();
            assert!(
                pct == 100.0 || allowed.iter().any(|a| (a - pct).abs() < 0.0006),
                "{line}"
            );
            rows += 1;
        }
    }
    assert!(rows >= 2, "{report}");
}

#[test]
fn default_report() {
    let s = Server::start(&[]);
    let out = compare(&s, &["-n", "2000", "-t", "set,get"]);
    assert!(
        out.contains("====== SET ======\n  2000 requests completed in "),
        "{out}"
    );
    assert!(out.contains("\n  50 parallel clients\n  3 bytes payload\n  keep alive: 1\n  host configuration \"save\": \n  host configuration \"appendonly\": no\n  multi-thread: no\n\nLatency by percentile distribution:\n"), "{out}");
    assert!(out.contains("\nSummary:\n  throughput summary: "), "{out}");
    assert!(out.contains("  latency summary (msec):\n          avg       min       p50       p95       p99       max\n"));
    assert!(out.ends_with("\n\n"), "{out}");
    check_percentile_rows(&out);
}

#[test]
fn quiet_report() {
    let s = Server::start(&[]);
    let out = compare(&s, &["-n", "300", "-q"]);
    let lines: Vec<String> = out
        .split('\n')
        .map(|l| l.rsplit('\r').next().unwrap_or_default().to_string())
        .collect();
    let titles: Vec<&str> = lines
        .iter()
        .filter_map(|l| {
            l.split(": ")
                .next()
                .filter(|_| l.contains(" requests per second, p50="))
        })
        .collect();
    assert_eq!(
        titles,
        [
            "PING_INLINE",
            "PING_MBULK",
            "SET",
            "GET",
            "INCR",
            "LPUSH",
            "RPUSH",
            "LPOP",
            "RPOP",
            "SADD",
            "HSET",
            "SPOP",
            "ZADD",
            "ZPOPMIN",
            "LPUSH (needed to benchmark LRANGE)",
            "LRANGE_100 (first 100 elements)",
            "LRANGE_300 (first 300 elements)",
            "LRANGE_500 (first 500 elements)",
            "LRANGE_600 (first 600 elements)",
            "MSET (10 keys)"
        ]
    );
    for l in lines.iter().filter(|l| l.contains("requests per second")) {
        let msec = l.rsplit("p50=").next().unwrap();
        assert!(msec.ends_with(" msec"), "{l}");
        assert_eq!(
            msec.split('.').nth(1).unwrap().len(),
            " msec".len() + 3,
            "{l}"
        );
    }
}

#[test]
fn csv_report() {
    let s = Server::start(&[]);
    let out = compare(&s, &["-n", "300", "--csv"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 20, "{out}");
    for r in rows {
        let fields: Vec<&str> = r.split("\",\"").collect();
        assert_eq!(fields.len(), 8, "{r}");
        assert!(r.starts_with('"') && r.ends_with('"'), "{r}");
    }
    assert!(!out.contains('\r'), "no progress lines in CSV mode");
}

#[test]
fn report_variants() {
    let s = Server::start(&[]);
    let out = compare(
        &s,
        &[
            "-n",
            "1000",
            "-P",
            "10",
            "--threads",
            "2",
            "-t",
            "lpush,lrange_100",
        ],
    );
    assert!(out.contains("  multi-thread: yes\n  threads: 2\n"), "{out}");
    compare(&s, &["-n", "300", "-c", "5", "-k", "0", "-t", "get"]);
    let out = compare(
        &s,
        &[
            "-n",
            "500",
            "-c",
            "5",
            "-r",
            "100",
            "set",
            "k:__rand_int__",
            "v",
        ],
    );
    assert!(
        out.contains("====== set k:__rand_int__ v ======\n"),
        "{out}"
    );
    assert!(out.contains("\n  41 bytes payload\n"), "{out}");
    compare(
        &s,
        &["-n", "500", "-d", "100", "-t", "mset", "--precision", "1"],
    );
    compare(&s, &["-n", "500", "-t", "get", "--precision", "4", "--csv"]);
    compare(
        &s,
        &[
            "-n",
            "500",
            "-3",
            "--dbnum",
            "2",
            "--enable-tracking",
            "-t",
            "get,set",
            "-q",
        ],
    );
    compare(&s, &["-n", "200", "-c", "0", "-t", "ping_mbulk"]);
}
