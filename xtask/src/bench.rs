//! `cargo xtask bench`: our release server against the reference, both
//! started with equal settings (no persistence, loopback, free ports),
//! driven by the reference `redis-benchmark`. Runs alternate between the
//! two servers per test and round so that noise from other load on the
//! machine hits both sides alike. Reports median requests/s, median p99
//! latency and server CPU time per request (utime+stime from
//! /proc/<pid>/stat). This is the only place performance is measured; no
//! test asserts on timings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis_testkit::{ServerKind, TestServer};

const BENCHMARK: &str = "/usr/bin/redis-benchmark";
const TESTS: &[&str] = &["set", "get", "incr", "mset", "ping"];
const PIPELINES: &[u32] = &[1, 16];
const CLIENTS: &str = "50";

struct Options {
    requests: u64,
    rounds: u32,
    budget: Duration,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        requests: 20_000,
        rounds: 3,
        budget: Duration::from_secs(120),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => {
                o.requests = 2_000;
                o.rounds = 1;
                o.budget = Duration::from_secs(20);
            }
            "--requests" => {
                o.requests = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--requests N")?
            }
            "--rounds" => o.rounds = it.next().and_then(|v| v.parse().ok()).ok_or("--rounds R")?,
            other => return Err(format!("unknown bench option {other}")),
        }
    }
    Ok(o)
}

/// utime + stime of a process in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name may contain spaces; fields are counted after ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("bad /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime is field 14, stime field 15.
    let ut: u64 = f.get(11).and_then(|v| v.parse().ok()).ok_or("utime")?;
    let st: u64 = f.get(12).and_then(|v| v.parse().ok()).ok_or("stime")?;
    Ok(ut + st)
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Parses `--csv` output; p99 is `None` when the column is absent.
fn parse_csv(out: &str) -> Vec<Row> {
    let mut lines = out.lines().filter(|l| l.starts_with('"'));
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim_matches('"').to_string())
        .collect();
    let p99_col = cols.iter().position(|c| c == "p99_latency_ms");
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(|c| c.trim_matches('"')).collect();
            let rps = f.get(1)?.parse().ok()?;
            let p99 = p99_col.and_then(|i| f.get(i)?.parse().ok());
            Some((f[0].to_string(), rps, p99))
        })
        .collect()
}

/// One CSV row of redis-benchmark: test name, requests/s, p99 in ms.
type Row = (String, f64, Option<f64>);

#[derive(Default)]
struct Samples {
    rps: Vec<f64>,
    p99: Vec<f64>,
    cpu_ticks: f64,
    requests: u64,
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    Some(s[s.len() / 2])
}

/// Runs one redis-benchmark invocation against `server`, bounded in time.
fn bench_once(
    server: &TestServer,
    test: &str,
    pipeline: u32,
    n: u64,
) -> Result<(Vec<Row>, u64), String> {
    let before = cpu_ticks(server.pid())?;
    let mut child = Command::new(BENCHMARK)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port().to_string(),
            "-t",
            test,
            "-c",
            CLIENTS,
        ])
        .args(["-n", &n.to_string(), "-P", &pipeline.to_string(), "--csv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{BENCHMARK}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "redis-benchmark -t {test} -P {pipeline} took over 60 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let after = cpu_ticks(server.pid())?;
    if !out.status.success() {
        return Err(format!(
            "redis-benchmark -t {test} -P {pipeline} failed: {}",
            out.status
        ));
    }
    let rows = parse_csv(&String::from_utf8_lossy(&out.stdout));
    if rows.is_empty() {
        return Err(format!(
            "redis-benchmark -t {test} -P {pipeline} printed no CSV rows"
        ));
    }
    Ok((rows, after.saturating_sub(before)))
}

fn target_dir() -> PathBuf {
    let root = crate::repo_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d), // join keeps absolute paths as they are
        None => root.join("target"),
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse_options(args)?;
    if !std::path::Path::new(BENCHMARK).is_file() {
        return Err(format!(
            "{BENCHMARK} missing: run `cargo xtask test` (installs redis-tools) first"
        ));
    }
    // REDIS_RS_BIN_DIR selects another "ours" (as in the tests), e.g.
    // /usr/bin to check the harness itself; otherwise build a release.
    let ours_bin = match std::env::var_os("REDIS_RS_BIN_DIR") {
        Some(dir) => PathBuf::from(dir).join("redis-server"),
        None => {
            let status = Command::new(crate::cargo())
                .args(["build", "--release", "-p", "redis-server"])
                .current_dir(crate::repo_root())
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("release build of redis-server failed".into());
            }
            target_dir().join("release/redis-server")
        }
    };
    if !ours_bin.is_file() {
        return Err(format!("{} not found", ours_bin.display()));
    }
    let ours = TestServer::start_binary(ServerKind::Ours, &ours_bin, &[]);
    let reference = TestServer::start(ServerKind::Reference, &[]);
    let tick = clock_ticks_per_sec();
    // (row name, pipeline, side) -> samples; side 0 = ours, 1 = reference.
    let mut data: BTreeMap<(String, u32, usize), Samples> = BTreeMap::new();
    let started = Instant::now();
    let mut stopped_early = false;
    'rounds: for round in 0..opts.rounds {
        for &pipeline in PIPELINES {
            for (ti, test) in TESTS.iter().enumerate() {
                if started.elapsed() > opts.budget {
                    stopped_early = true;
                    break 'rounds;
                }
                // Alternate who goes first so warm-up and drift even out.
                let order: [usize; 2] = if (round as usize + ti).is_multiple_of(2) {
                    [0, 1]
                } else {
                    [1, 0]
                };
                for side in order {
                    let server = if side == 0 { &ours } else { &reference };
                    let (rows, ticks) = bench_once(server, test, pipeline, opts.requests)?;
                    let per_row_requests = opts.requests;
                    let n_rows = rows.len() as u64;
                    for (name, rps, p99) in rows {
                        let s = data.entry((name, pipeline, side)).or_default();
                        s.rps.push(rps);
                        s.p99.extend(p99);
                        // CPU of one invocation is shared by its rows.
                        s.cpu_ticks += ticks as f64 / n_rows as f64;
                        s.requests += per_row_requests;
                    }
                }
            }
        }
        eprintln!(
            "bench: round {} done after {:.0?}",
            round + 1,
            started.elapsed()
        );
    }
    drop(ours);
    drop(reference);

    println!(
        "\n{:<18} {:>3} {:>12} {:>12} {:>7} {:>17} {:>17}",
        "test", "P", "ours rps", "ref rps", "ratio", "p99 ms ours/ref", "cpu us/req o/r"
    );
    let mut keys: Vec<(String, u32)> = data.keys().map(|(n, p, _)| (n.clone(), *p)).collect();
    keys.dedup();
    for (name, p) in keys {
        let o = data.get(&(name.clone(), p, 0));
        let r = data.get(&(name.clone(), p, 1));
        let rps = |s: Option<&Samples>| s.and_then(|s| median(&s.rps));
        let p99 = |s: Option<&Samples>| s.and_then(|s| median(&s.p99));
        let cpu = |s: Option<&Samples>| {
            s.filter(|s| s.requests > 0)
                .map(|s| s.cpu_ticks / tick * 1e6 / s.requests as f64)
        };
        let fmt = |v: Option<f64>, prec: usize| {
            v.map(|v| format!("{v:.prec$}"))
                .unwrap_or_else(|| "-".into())
        };
        let ratio = match (rps(o), rps(r)) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        println!(
            "{:<18} {:>3} {:>12} {:>12} {:>7} {:>17} {:>17}",
            name,
            p,
            fmt(rps(o), 0),
            fmt(rps(r), 0),
            ratio,
            format!("{}/{}", fmt(p99(o), 3), fmt(p99(r), 3)),
            format!("{}/{}", fmt(cpu(o), 2), fmt(cpu(r), 2)),
        );
    }
    println!(
        "\n{} requests per run, {} clients, {} round(s){}; CPU resolution is one clock tick ({:.0} us), so short runs are coarse.",
        opts.requests,
        CLIENTS,
        opts.rounds,
        if stopped_early { " (stopped early: time budget reached)" } else { "" },
        1e6 / tick
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_with_p99() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"PING_INLINE\",\"666666.69\",\"1.051\",\"0.352\",\"1.071\",\"1.551\",\"1.615\",\"1.727\"\n\"MSET (10 keys)\",\"200000.00\",\"3.299\",\"0.536\",\"3.607\",\"4.271\",\"4.343\",\"4.367\"\n";
        let rows = parse_csv(out);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], ("PING_INLINE".to_string(), 666666.69, Some(1.615)));
        assert_eq!(rows[1].0, "MSET (10 keys)");
        assert_eq!(rows[1].2, Some(4.343));
        // Older versions print only test and rps.
        assert_eq!(
            parse_csv("\"test\",\"rps\"\n\"SET\",\"10.5\"\n"),
            vec![("SET".to_string(), 10.5, None)]
        );
        assert!(parse_csv("garbage").is_empty());
    }

    #[test]
    fn own_cpu_ticks_are_readable() {
        let t = cpu_ticks(std::process::id()).expect("read own /proc stat");
        // Burn a little CPU; the counter must not go backwards.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_ticks(std::process::id()).expect("again") >= t);
    }

    #[test]
    fn options() {
        let o = parse_options(&["--quick".into()]).unwrap();
        assert_eq!((o.requests, o.rounds), (2_000, 1));
        let o = parse_options(&[
            "--requests".into(),
            "5".into(),
            "--rounds".into(),
            "2".into(),
        ])
        .unwrap();
        assert_eq!((o.requests, o.rounds), (5, 2));
        assert!(parse_options(&["--bogus".into()]).is_err());
        assert!(median(&[]).is_none());
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
