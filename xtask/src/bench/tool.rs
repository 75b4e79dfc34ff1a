//! Driving the reference `redis-benchmark`: bounded foreground runs whose
//! `--csv` rows are parsed, and background load generators that are killed
//! by PID when their guard is dropped (also on error or panic).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::{cpu_ticks, Srv};

pub const BENCHMARK: &str = "/usr/bin/redis-benchmark";
pub const CLIENTS: &str = "50";
/// Longest a single foreground redis-benchmark run may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One CSV row of redis-benchmark: test name, requests/s, p99 in ms.
pub type Row = (String, f64, Option<f64>);

/// One CSV row with the latency columns the sections use (ms; `None`
/// when redis-benchmark is too old to print them).
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    pub test: String,
    pub rps: f64,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

/// Parses `--csv` output; p99 is `None` when the column is absent.
pub fn parse_csv(out: &str) -> Vec<Row> {
    parse_csv_rows(out)
        .into_iter()
        .map(|r| (r.test, r.rps, r.p99))
        .collect()
}

/// Parses `--csv` output with the p50 and p99 columns when present.
pub fn parse_csv_rows(out: &str) -> Vec<CsvRow> {
    let mut lines = out.lines().filter(|l| l.starts_with('"'));
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim_matches('"').to_string())
        .collect();
    let p50_col = cols.iter().position(|c| c == "p50_latency_ms");
    let p99_col = cols.iter().position(|c| c == "p99_latency_ms");
    lines
        .filter_map(|l| {
            // Test names such as "MSET (10 keys)" contain no commas, so a
            // plain split is enough.
            let f: Vec<&str> = l.split(',').map(|c| c.trim_matches('"')).collect();
            let col = |i: Option<usize>| i.and_then(|i| f.get(i)?.parse().ok());
            Some(CsvRow {
                test: f.first()?.to_string(),
                rps: f.get(1)?.parse().ok()?,
                p50: col(p50_col),
                p99: col(p99_col),
            })
        })
        .collect()
}

/// Runs `redis-benchmark -t <test> -P <pipeline> -n <n>` plus `extra`
/// against `server`, bounded in time; returns the rows and the server's
/// CPU ticks spent meanwhile.
pub fn run(
    server: &Srv,
    test: &str,
    pipeline: u32,
    n: u64,
    extra: &[&str],
) -> Result<(Vec<Row>, u64), String> {
    let mut args = vec!["-t", test];
    args.extend_from_slice(extra);
    let (rows, ticks) = run_args(
        (server.port(), server.pid()),
        &format!("-t {test}"),
        &args,
        pipeline,
        n,
    )?;
    Ok((rows_of(rows), ticks))
}

/// Runs `redis-benchmark -t <test> -P <pipeline> -n <n>` against whatever
/// listens on loopback `port` (a proxy, say), bounded in time; returns the
/// rows with their p50 and p99 and the CPU ticks process `pid` (the one
/// serving `port`) spent meanwhile.
pub fn run_at(
    port: u16,
    pid: u32,
    test: &str,
    pipeline: u32,
    n: u64,
) -> Result<(Vec<CsvRow>, u64), String> {
    run_args(
        (port, pid),
        &format!("-t {test}"),
        &["-t", test],
        pipeline,
        n,
    )
}

fn rows_of(rows: Vec<CsvRow>) -> Vec<Row> {
    rows.into_iter().map(|r| (r.test, r.rps, r.p99)).collect()
}

/// Runs `redis-benchmark -P <pipeline> -n <n> <command...>` (a custom
/// command, such as `EVALSHA <sha> 1 key`) against `server`, bounded in
/// time; returns the rows and the server's CPU ticks spent meanwhile.
pub fn run_command(
    server: &Srv,
    command: &[&str],
    pipeline: u32,
    n: u64,
) -> Result<(Vec<Row>, u64), String> {
    let (rows, ticks) = run_args(
        (server.port(), server.pid()),
        &command.join(" "),
        command,
        pipeline,
        n,
    )?;
    Ok((rows_of(rows), ticks))
}

/// Runs redis-benchmark with `args` against loopback `port`, bounded in
/// time; `pid` is the process whose CPU ticks are counted.
fn run_args(
    (port, pid): (u16, u32),
    label: &str,
    args: &[&str],
    pipeline: u32,
    n: u64,
) -> Result<(Vec<CsvRow>, u64), String> {
    let what = format!("redis-benchmark {label} -P {pipeline}");
    let before = cpu_ticks(pid)?;
    let mut child = Command::new(BENCHMARK)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", CLIENTS, "-n", &n.to_string()])
        .args(["-P", &pipeline.to_string(), "--csv"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{BENCHMARK}: {e}"))?;
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} took over {RUN_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let after = cpu_ticks(pid)?;
    if !out.status.success() {
        return Err(format!("{what} failed: {}", out.status));
    }
    let rows = parse_csv_rows(&String::from_utf8_lossy(&out.stdout));
    if rows.is_empty() {
        return Err(format!("{what} printed no CSV rows"));
    }
    Ok((rows, after.saturating_sub(before)))
}

/// A redis-benchmark running in the background as a load generator; it is
/// killed by PID when dropped.
pub struct Background(Child);

impl Background {
    /// SET load with random keys over `key:0..keyspace` (the strings
    /// dataset's keys) and 10-byte values, running until dropped.
    pub fn set_load(server: &Srv, keyspace: u64, clients: u32) -> Result<Background, String> {
        let child = Command::new(BENCHMARK)
            .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
            .args(["-t", "set", "-d", "10", "-r", &keyspace.to_string()])
            .args(["-c", &clients.to_string(), "-n", "1000000000", "-q"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{BENCHMARK}: {e}"))?;
        Ok(Background(child))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
#[path = "tool_tests.rs"]
mod tests;
