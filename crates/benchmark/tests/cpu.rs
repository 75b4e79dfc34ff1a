//! Client CPU per request, ours against Debian's `redis-benchmark`, with
//! the same arguments against the same reference server (ignored by
//! default: it measures, and wants a release build and a quiet machine):
//!
//! ```text
//! cargo test --release -p redis-benchmark --test cpu -- --ignored --nocapture
//! ```
//!
//! CPU time is the child's user + system time as bash's `times` reports
//! it; the runs alternate between the two binaries and the median counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{run, text, Server, OURS, UPSTREAM};

/// "0m1.250s" → seconds.
fn seconds(s: &str) -> f64 {
    let (m, rest) = s.split_once('m').unwrap();
    m.parse::<f64>().unwrap() * 60.0 + rest.trim_end_matches('s').parse::<f64>().unwrap()
}

/// CPU seconds of one run of `bin` with `args`.
fn cpu(bin: &str, port: u16, args: &[&str]) -> f64 {
    let p = port.to_string();
    let mut full = vec!["-c", "\"$0\" \"$@\" >/dev/null; times", bin, "-p", &p];
    full.extend_from_slice(args);
    let out = run("/bin/bash", &full);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Second line: the children's user and system time.
    let children = stdout.lines().nth(1).unwrap();
    children.split_whitespace().map(seconds).sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
#[ignore = "measurement: run with --ignored on a release build"]
fn cpu_per_request() {
    let s = Server::start(&[]);
    let cases: [(&[&str], f64); 2] = [
        (
            &[
                "-t", "set,get", "-n", "1000000", "-c", "50", "-P", "16", "-q",
            ],
            2e6,
        ),
        (&["-t", "set,get", "-n", "200000", "-c", "50", "-q"], 4e5),
    ];
    for (args, requests) in cases {
        let (mut ours, mut upstream) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            ours.push(cpu(OURS, s.port, args) / requests * 1e9);
            upstream.push(cpu(UPSTREAM, s.port, args) / requests * 1e9);
        }
        let (o, u) = (median(ours.clone()), median(upstream.clone()));
        println!("{args:?}: CPU ns/request ours {o:.0} {ours:.0?}, upstream {u:.0} {upstream:.0?}");
        assert!(o <= u, "ours {o:.0} ns/request > upstream {u:.0}");
    }
}
