//! Helpers shared by the integration tests: reference servers started on
//! kernel-chosen ports (never 21000–33000, 6379 or 26379) and killed by
//! PID when dropped, bounded runs of our binary and of Debian's
//! `redis-benchmark`, and the normalisation that turns a report into its
//! structure (numbers and progress lines removed).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use redis_testkit::{require_tool, run_bounded, run_bounded_with_input, ChildGuard, TempDir};

pub const OURS: &str = env!("CARGO_BIN_EXE_redis-benchmark");
pub const UPSTREAM: &str = "/usr/bin/redis-benchmark";
pub const SERVER: &str = "/usr/bin/redis-server";
pub const CLI: &str = "/usr/bin/redis-cli";
const HINT: &str = "install redis-server and redis-tools (cargo xtask test does)";

/// Longest any single tool run may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Fails (never skips) when Debian's tools are missing.
pub fn require_reference() {
    for t in [UPSTREAM, SERVER, CLI] {
        require_tool(t, HINT);
    }
}

/// A port the kernel reports free, outside the ranges other suites own.
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let p = l.local_addr().expect("local_addr").port();
        if !(21000..=33000).contains(&p) && p != 6379 && p != 26379 {
            return p;
        }
    }
}

/// True when a server answers PING (or NOAUTH) on `port`.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) => buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"),
        Err(_) => false,
    }
}

/// A reference `redis-server`, killed by PID when dropped.
pub struct Server {
    // Dropped first: the process dies before its directory is removed.
    _guard: ChildGuard,
    pub port: u16,
    pub dir: TempDir,
}

impl Server {
    /// Starts Debian's server with `extra` arguments on a free port.
    pub fn start(extra: &[&str]) -> Server {
        require_reference();
        for _ in 0..4 {
            let port = free_port();
            let dir = TempDir::new();
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                "--appendonly".into(),
                "no".into(),
                "--dir".into(),
                dir.path_str().into(),
                "--logfile".into(),
                format!("{}/log", dir.path_str()),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let mut guard = ChildGuard::spawn(
                Command::new(SERVER)
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            );
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if answers(port) {
                    return Server {
                        _guard: guard,
                        port,
                        dir,
                    };
                }
                if matches!(guard.0.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start {SERVER}");
    }

    /// `redis-cli` against this server; its stdout, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let port = self.port.to_string();
        let out = run_bounded(Command::new(CLI).args(["-p", &port]).args(args), RUN_LIMIT);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `INFO` field `name` (e.g. `total_connections_received`).
    pub fn info_field(&self, section: &str, name: &str) -> String {
        let info = self.cli(&["info", section]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

/// Runs `bin` with `args`, bounded in time.
pub fn run(bin: &str, args: &[&str]) -> Output {
    run_bounded(Command::new(bin).args(args), RUN_LIMIT)
}

/// Runs `bin` with `args` and `stdin`, bounded in time.
pub fn run_with_input(bin: &str, args: &[&str], stdin: &[u8]) -> Output {
    run_bounded_with_input(Command::new(bin).args(args), stdin, RUN_LIMIT)
}

/// Ours and upstream's with `-p port` and `args`.
pub fn both(port: u16, args: &[&str]) -> (Output, Output) {
    let p = port.to_string();
    let mut full = vec!["-p", &p];
    full.extend_from_slice(args);
    (run(OURS, &full), run(UPSTREAM, &full))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The structure of a report: each line as a terminal would leave it
/// (only what follows the last `\r`), every number (and `-nan`, `inf`)
/// replaced by `N`, cluster node ids by `ID`, and runs of identical lines
/// (rows of the distributions) collapsed into one.
pub fn structure(out: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in out.split('\n') {
        let line = raw.rsplit('\r').next().unwrap_or_default();
        let line = normalize_line(line);
        if lines.last() != Some(&line) {
            lines.push(line);
        }
    }
    lines
}

/// Appends a number's `N`; the blanks before it shrink to one, since
/// fixed-width columns (`%9.3f`) pad wider or narrower numbers differently.
fn push_number(out: &mut String) {
    if out.ends_with("  ") {
        let kept = out.trim_end_matches(' ').len();
        out.truncate(kept);
        out.push(' ');
    }
    out.push('N');
}

fn normalize_line(line: &str) -> String {
    let mut out = String::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // A 40-hex-digit node id.
        if i + 40 <= b.len()
            && b[i..i + 40]
                .iter()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            && (i + 40 == b.len() || !b[i + 40].is_ascii_alphanumeric())
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            out.push_str("ID");
            i += 40;
            continue;
        }
        if line[i..].starts_with("-nan") {
            push_number(&mut out);
            i += 4;
            continue;
        }
        if line[i..].starts_with("inf") && (i == 0 || !b[i - 1].is_ascii_alphabetic()) {
            push_number(&mut out);
            i += 3;
            continue;
        }
        let neg = b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if b[i].is_ascii_digit() || neg {
            i += usize::from(neg);
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            push_number(&mut out);
            continue;
        }
        let ch = line[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Asserts that two reports have the same structure, showing both.
pub fn assert_same_structure(what: &str, ours: &str, upstream: &str) {
    let (o, u) = (structure(ours), structure(upstream));
    if o != u {
        let first = o
            .iter()
            .zip(u.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(o.len().min(u.len()));
        panic!(
            "{what}: structure differs at line {first}:\n ours:     {:?}\n upstream: {:?}\n--- ours:\n{}\n--- upstream:\n{}",
            o.get(first),
            u.get(first),
            o.join("\n"),
            u.join("\n")
        );
    }
}

#[test]
fn structure_normalizes() {
    let s = structure(" \rSET: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r   \r====== SET ======\n50.000% <= 0.383 milliseconds (cumulative count 1021)\n75.000% <= 0.415 milliseconds (cumulative count 1551)\nMaster 0: cae71ff9ebc8a6d7fd5a84f5f1e9d1c42f4e7aaa 127.0.0.1:19510\nGET: inf requests per second, p50=0.1 msec\n       10.535     0.080\n");
    assert_eq!(
        s,
        vec![
            "====== SET ======",
            "N% <= N milliseconds (cumulative count N)",
            "Master N: ID N:N",
            "GET: N requests per second, pN=N msec",
            " N N",
            ""
        ]
    );
}
