//! `cargo xtask bench sentinel`: how fast a Sentinel deployment fails over,
//! our redis-server + redis-sentinel against Debian's 7.0.15 (the
//! reference `redis-server`, as `redis-server <conf> --sentinel` for the
//! sentinels), measured in the same run.
//!
//! A round, for one side: on fresh loopback ports (picked by the kernel,
//! never in 21000-33000 nor 6379/26379) a primary and one replica, then
//! three sentinels watching the primary as `m` with quorum 2,
//! `down-after-milliseconds 1000` and `failover-timeout 10000`. Once every
//! sentinel lists the replica (link ok) and the two other sentinels, and
//! after a short settle, the client script `xtask/bench/sentinel_failover.py`
//! (redis-py from `.venv`) subscribes to `+switch-master` on every sentinel
//! and checks a write through `Sentinel(...).master_for('m')`. Then the
//! primary is killed with SIGKILL at T0 and the script reports, in seconds
//! after T0: T1, when sentinel 1 published `+switch-master` (and when the
//! last of the three did), and T2, the first `SET k v` accepted by the
//! redis-py client retrying every 10 ms.
//!
//! Rounds alternate ours/reference (the first side alternating per turn) so
//! that machine noise hits both; the table shows median and min–max per
//! side and the ratio of medians ours/reference (lower is better). Timings
//! are never asserted, but a round that does not fail over within 60 s
//! fails the section, with the tail of every process's log in the error
//! and all logs kept under `<target>/bench/sentinel-failed/`. Every process
//! is killed by PID when its guard drops, on success and on error alike.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::bench::client::{info_field, Client, Reply};
use crate::bench::report::{self, fmt, median, ratio, Table};
use crate::bench::server::{copy_tree, fresh_dir, Side};
use crate::bench::Ctx;
use crate::json::{self, Json};

const MASTER: &str = "m";
const QUORUM: u32 = 2;
const DOWN_AFTER_MS: u64 = 1000;
const FAILOVER_TIMEOUT_MS: u64 = 10_000;
const SENTINELS: usize = 3;
/// Ports other suites own; never used here (nor 6379 and 26379).
const RESERVED: RangeInclusive<u16> = 21000..=33000;
/// The reference server, also run as the reference sentinel.
const REFERENCE: &str = "/usr/bin/redis-server";
/// The client side of a round, relative to the workspace root.
const SCRIPT: &str = "xtask/bench/sentinel_failover.py";
const PYTHON: &str = ".venv/bin/python";

/// How long a process may take to answer its first PING.
const START_LIMIT: Duration = Duration::from_secs(15);
/// How long the replica may take to report `master_link_status:up`.
const SYNC_LIMIT: Duration = Duration::from_secs(30);
/// How long the sentinels may take to discover the replica and each other.
const DISCOVERY_LIMIT: Duration = Duration::from_secs(30);
/// Quiet time after discovery, before the kill.
const SETTLE: Duration = Duration::from_secs(1);
/// A round that has not failed over this long after the kill fails.
const FAILOVER_LIMIT: Duration = Duration::from_secs(60);
/// How long the client script may take to connect and report ready.
const CLIENT_READY_LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// The figures of one round, in seconds.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// `+switch-master` on sentinel 1 after the kill.
    t1: f64,
    /// `+switch-master` on the last of the three sentinels.
    t1_all: f64,
    /// First accepted `SET` of the redis-py client after the kill.
    t2: f64,
    /// From starting the first sentinel until every sentinel knew the
    /// replica and its two peers.
    discovery: f64,
    /// SET attempts of the client until T2.
    attempts: f64,
}

/// A spawned server or sentinel in its own directory (stdout and stderr to
/// `stdout` there, its log to `log`); killed by PID and reaped on drop.
/// Also the guard of the proxy section's proxies.
pub(crate) struct Proc {
    label: String,
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Proc {
    pub(crate) fn spawn(
        label: &str,
        mut cmd: Command,
        port: u16,
        dir: &Path,
    ) -> Result<Proc, String> {
        let out = File::create(dir.join("stdout"))
            .map_err(|e| format!("{}/stdout: {e}", dir.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("{label}: spawn {:?}: {e}", cmd.get_program()))?;
        Ok(Proc {
            label: label.to_string(),
            port,
            dir: dir.to_path_buf(),
            child,
        })
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn client(&self) -> Result<Client, String> {
        Client::connect(self.addr()).map_err(|e| format!("{}: {e}", self.label))
    }

    /// Polls PING until +PONG; fails early when the process exits.
    pub(crate) fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!(
                    "{} exited ({st}) before answering PING\n{}",
                    self.label,
                    self.tail(20)
                ));
            }
            if let Ok(mut c) = Client::connect(self.addr()) {
                if matches!(c.cmd(&["PING"]), Ok(Reply::Simple(ref s)) if s == "PONG") {
                    return Ok(());
                }
            }
            if t0.elapsed() > limit {
                return Err(format!(
                    "{} did not answer PING within {limit:?}\n{}",
                    self.label,
                    self.tail(20)
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL by PID, then reap (so the process is gone on return).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last `n` lines of the log file and of stdout/stderr.
    pub(crate) fn tail(&self, n: usize) -> String {
        let mut out = format!(
            "--- {} (port {}, pid {})\n",
            self.label,
            self.port,
            self.child.id()
        );
        for file in ["log", "stdout"] {
            let text = std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            out.push_str(&last_lines(&text, n));
        }
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    let mut s = lines[from..].join("\n");
    s.push('\n');
    s
}

/// The round's scratch directory, removed on drop (after the processes
/// in it: declare it before them).
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The client script: its stdout lines arrive on `lines`; killed by PID
/// and reaped on drop.
struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: PathBuf,
}

impl Script {
    fn spawn(python: &Path, script: &Path, ports: &[u16], dir: &Path) -> Result<Script, String> {
        let stderr = dir.join("client.stderr");
        let err = File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
        let mut child = Command::new(python)
            .arg(script)
            .args(["--sentinels", &list.join(","), "--master", MASTER])
            .args(["--limit", &FAILOVER_LIMIT.as_secs().to_string()])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::channel();
        if let Some(out) = stdout {
            // Ends at EOF, i.e. when the script exits or is killed.
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Script {
            child,
            stdin,
            lines,
            stderr,
        })
    }

    /// The next JSON line printed by the script, within `limit`.
    fn next_json(&self, limit: Duration) -> Result<Json, String> {
        let line = match self.lines.recv_timeout(limit) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("client script: no output within {limit:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err("client script exited without output".into())
            }
        };
        json::parse(&line).map_err(|e| format!("client script printed {line:?}: {e}"))
    }

    fn go(&mut self) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("client script has no stdin")?;
        stdin
            .write_all(b"go\n")
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("client script stdin: {e}"))
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        if text.trim().is_empty() {
            String::new()
        } else {
            format!("--- client script stderr\n{}", last_lines(&text, 20))
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now, chosen by the kernel, outside the
/// reserved range and not already used in this round.
pub(crate) fn pick_port(taken: &[u16]) -> Result<u16, String> {
    for _ in 0..1000 {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        if !RESERVED.contains(&port) && port != 6379 && port != 26379 && !taken.contains(&port) {
            return Ok(port);
        }
    }
    Err(format!(
        "no free port outside {RESERVED:?} after 1000 tries"
    ))
}

/// Starts a process in `root/<name>` on a fresh port, with the command
/// built by `make(port, dir)`, and waits until it answers PING; retries
/// with another port when the one picked was taken meanwhile.
pub(crate) fn start(
    label: &str,
    root: &Path,
    name: &str,
    taken: &mut Vec<u16>,
    make: &dyn Fn(u16, &Path) -> Result<Command, String>,
) -> Result<Proc, String> {
    let dir = root.join(name);
    let mut last = String::new();
    for _ in 0..4 {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = pick_port(taken)?;
        taken.push(port);
        let mut p = Proc::spawn(label, make(port, &dir)?, port, &dir)?;
        match p.wait_ready(START_LIMIT) {
            Ok(()) => return Ok(p),
            Err(e) => last = e,
        }
        if !last.to_ascii_lowercase().contains("in use") {
            break;
        }
    }
    Err(last)
}

pub(crate) fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()))
}

/// The data server's command: the same settings for both sides.
fn server_cmd(bin: &Path, port: u16, dir: &Path, primary: Option<u16>) -> Result<Command, String> {
    let d = path_str(dir)?;
    let mut cmd = Command::new(bin);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--repl-diskless-sync-delay", "0"])
        .args(["--dir", d, "--logfile", &format!("{d}/log")]);
    if let Some(p) = primary {
        cmd.args(["--replicaof", "127.0.0.1", &p.to_string()]);
    }
    Ok(cmd)
}

/// Writes `sentinel.conf` in `dir` and returns the command running it.
fn sentinel_cmd(
    side: Side,
    ours: &Path,
    port: u16,
    dir: &Path,
    primary: u16,
) -> Result<Command, String> {
    let d = path_str(dir)?;
    let conf = dir.join("sentinel.conf");
    let text = format!(
        "port {port}\nbind 127.0.0.1\ndir \"{d}\"\nlogfile \"{d}/log\"\n\
         sentinel monitor {MASTER} 127.0.0.1 {primary} {QUORUM}\n\
         sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n\
         sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n\
         sentinel parallel-syncs {MASTER} 1\n"
    );
    std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
    Ok(match side {
        Side::Ours => {
            let mut c = Command::new(ours);
            c.arg(&conf);
            c
        }
        Side::Ref => {
            let mut c = Command::new(REFERENCE);
            c.arg(&conf).arg("--sentinel");
            c
        }
    })
}

/// A flat RESP2 field/value array as pairs.
fn fields(r: &Reply) -> Vec<(String, String)> {
    let Reply::Array(Some(items)) = r else {
        return Vec::new();
    };
    let text = |r: &Reply| match r {
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        Reply::Simple(s) => s.clone(),
        Reply::Int(n) => n.to_string(),
        _ => String::new(),
    };
    items
        .chunks(2)
        .filter_map(|c| match c {
            [k, v] => Some((text(k), text(v))),
            _ => None,
        })
        .collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn entries(r: &Reply) -> Vec<Vec<(String, String)>> {
    match r {
        Reply::Array(Some(items)) => items.iter().map(fields).collect(),
        _ => Vec::new(),
    }
}

/// What a sentinel still misses before the round may start, or `None`
/// when it knows the replica (link ok) and both peers.
fn missing(c: &mut Client, replica: u16) -> Result<Option<String>, String> {
    let master = fields(&c.cmd(&["SENTINEL", "MASTER", MASTER])?);
    let flags = field(&master, "flags").unwrap_or("");
    if flags != "master" {
        return Ok(Some(format!("master flags {flags:?}")));
    }
    let replicas = entries(&c.cmd(&["SENTINEL", "REPLICAS", MASTER])?);
    let port = replica.to_string();
    let ok = replicas.len() == 1
        && replicas.iter().all(|r| {
            field(r, "port") == Some(port.as_str())
                && field(r, "flags") == Some("slave")
                && field(r, "master-link-status") == Some("ok")
        });
    if !ok {
        let seen: Vec<String> = replicas
            .iter()
            .map(|r| {
                format!(
                    "{}:{} {} link {}",
                    field(r, "ip").unwrap_or("?"),
                    field(r, "port").unwrap_or("?"),
                    field(r, "flags").unwrap_or("?"),
                    field(r, "master-link-status").unwrap_or("?")
                )
            })
            .collect();
        return Ok(Some(format!("replicas {seen:?}")));
    }
    let peers = entries(&c.cmd(&["SENTINEL", "SENTINELS", MASTER])?);
    let ok =
        peers.len() == SENTINELS - 1 && peers.iter().all(|p| field(p, "flags") == Some("sentinel"));
    if !ok {
        let seen: Vec<String> = peers
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    field(p, "port").unwrap_or("?"),
                    field(p, "flags").unwrap_or("?")
                )
            })
            .collect();
        return Ok(Some(format!("peer sentinels {seen:?}")));
    }
    Ok(None)
}

fn as_f64(j: Option<&Json>) -> Option<f64> {
    match j {
        Some(Json::Num(n)) => n.parse().ok(),
        _ => None,
    }
}

/// Everything one round needs that does not change between rounds.
struct Setup<'a> {
    ctx: &'a Ctx,
    ours_sentinel: &'a Path,
    python: PathBuf,
    script: PathBuf,
}

/// The steps of a round; processes are pushed into `procs` as they start
/// so the caller can report their logs when a step fails.
fn round_steps(
    s: &Setup,
    side: Side,
    root: &Path,
    procs: &mut Vec<Proc>,
    script_err: &mut String,
) -> Result<Sample, String> {
    let mut taken = Vec::new();
    let bin = s.ctx.bin(side).to_path_buf();
    let kind = match side {
        Side::Ours => "ours",
        Side::Ref => "reference",
    };
    let primary = start(
        &format!("primary ({kind})"),
        root,
        "primary",
        &mut taken,
        &|port, dir| server_cmd(&bin, port, dir, None),
    )?;
    let pport = primary.port;
    procs.push(primary);
    let replica = start(
        &format!("replica ({kind})"),
        root,
        "replica",
        &mut taken,
        &|port, dir| server_cmd(&bin, port, dir, Some(pport)),
    )?;
    let rport = replica.port;
    procs.push(replica);

    // The replica must be in sync before the sentinels look at it.
    let mut rc = procs[1].client()?;
    let t = Instant::now();
    while info_field(&rc.info("replication")?, "master_link_status") != Some("up") {
        if t.elapsed() > SYNC_LIMIT {
            return Err(format!("replica link not up within {SYNC_LIMIT:?}"));
        }
        std::thread::sleep(POLL);
    }
    drop(rc);

    let first_sentinel = Instant::now();
    let mut sentinel_ports = Vec::new();
    for i in 1..=SENTINELS {
        let p = start(
            &format!("sentinel {i} ({kind})"),
            root,
            &format!("sentinel{i}"),
            &mut taken,
            &|port, dir| sentinel_cmd(side, s.ours_sentinel, port, dir, pport),
        )?;
        sentinel_ports.push(p.port);
        procs.push(p);
    }

    // Every sentinel must know the replica and both peers.
    let mut clients = procs[2..]
        .iter()
        .map(Proc::client)
        .collect::<Result<Vec<_>, _>>()?;
    let discovery = loop {
        let mut pending = None;
        for (i, c) in clients.iter_mut().enumerate() {
            if let Some(what) = missing(c, rport)? {
                pending = Some(format!("sentinel {}: {what}", i + 1));
                break;
            }
        }
        let Some(what) = pending else {
            break first_sentinel.elapsed();
        };
        if first_sentinel.elapsed() > DISCOVERY_LIMIT {
            return Err(format!(
                "sentinels not ready within {DISCOVERY_LIMIT:?}: {what}"
            ));
        }
        std::thread::sleep(POLL);
    };
    drop(clients);
    std::thread::sleep(SETTLE);

    let mut script = Script::spawn(&s.python, &s.script, &sentinel_ports, root)?;
    let result = (|| {
        let ready = script.next_json(CLIENT_READY_LIMIT)?;
        if ready.get("ready") != Some(&Json::Bool(true)) {
            return Err(format!("client script not ready: {ready:?}"));
        }
        // T0: the kill; the script starts its clock when "go" arrives,
        // `lead` later.
        let t0 = Instant::now();
        procs[0].kill();
        script.go()?;
        let lead = t0.elapsed().as_secs_f64();
        let out = script.next_json(FAILOVER_LIMIT + Duration::from_secs(15))?;
        Ok((out, lead))
    })();
    let (out, lead) = match result {
        Ok(v) => v,
        Err(e) => {
            *script_err = script.stderr_tail();
            return Err(e);
        }
    };
    drop(script);

    let t1s: Vec<Option<f64>> = out
        .get("t1")
        .map(|a| a.as_array().iter().map(|v| as_f64(Some(v))).collect())
        .unwrap_or_default();
    let t2 = as_f64(out.get("t2"));
    let described = {
        let mut text = String::new();
        report::to_json(&out, 0, &mut text);
        text
    };
    let (Some(Some(t1)), Some(t2)) = (t1s.first().copied(), t2) else {
        return Err(format!(
            "no failover within {FAILOVER_LIMIT:?} after the kill (T1 per sentinel: {t1s:?}, T2: {t2:?}); client: {described}"
        ));
    };
    if t1s.len() != SENTINELS || t1s.iter().any(|t| t.is_none()) {
        return Err(format!(
            "not every sentinel switched within {FAILOVER_LIMIT:?}: {t1s:?}; client: {described}"
        ));
    }
    let t1s: Vec<f64> = t1s.into_iter().flatten().collect();
    if t1s.iter().any(|t| *t < 0.0) {
        return Err(format!("+switch-master before the kill: {described}"));
    }
    // The only replica must be the new master, as every sentinel says.
    let expect = format!("{MASTER} 127.0.0.1 {pport} 127.0.0.1 {rport}");
    let switches = out.get("switch").map(|a| a.as_array()).unwrap_or(&[]);
    if switches.iter().any(|v| v.as_str() != Some(expect.as_str())) {
        return Err(format!(
            "+switch-master payloads differ from {expect:?}: {described}"
        ));
    }
    let after = out
        .get("master_after")
        .map(|a| a.as_array())
        .and_then(|a| as_f64(a.get(1)));
    if after != Some(f64::from(rport)) {
        return Err(format!(
            "redis-py does not see the replica as the new master: {described}"
        ));
    }
    Ok(Sample {
        t1: t1 + lead,
        t1_all: t1s.iter().copied().fold(0.0, f64::max) + lead,
        t2: t2 + lead,
        discovery: discovery.as_secs_f64(),
        attempts: as_f64(out.get("attempts")).unwrap_or(0.0),
    })
}

/// One round; on failure every process is killed, the logs are kept under
/// `<target>/bench/sentinel-failed/` and their tails go into the error.
fn round(s: &Setup, side: Side, turn: usize) -> Result<Sample, String> {
    let root = Scratch(fresh_dir()?);
    let mut procs = Vec::new();
    let mut script_err = String::new();
    match round_steps(s, side, &root.0, &mut procs, &mut script_err) {
        Ok(sample) => Ok(sample),
        Err(e) => {
            for p in procs.iter_mut() {
                p.kill();
            }
            let keep = crate::bench::target_dir()
                .join("bench/sentinel-failed")
                .join(format!("{side:?}-round{}", turn + 1).to_lowercase());
            let _ = std::fs::remove_dir_all(&keep);
            let kept = match copy_tree(&root.0, &keep) {
                Ok(()) => format!("all logs kept in {}", keep.display()),
                Err(c) => format!("logs not kept: {c}"),
            };
            let tails: Vec<String> = procs.iter().map(|p| p.tail(30)).collect();
            Err(format!(
                "{side:?} round {}: {e}\n{}{script_err}({kept})",
                turn + 1,
                tails.join("")
            ))
        }
    }
}

/// Median, min and max of one figure per side.
fn stats(v: &[f64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    (
        median(v),
        v.iter().copied().reduce(f64::min),
        v.iter().copied().reduce(f64::max),
    )
}

fn range(min: Option<f64>, max: Option<f64>, prec: usize) -> String {
    format!("{}–{}", fmt(min, prec), fmt(max, prec))
}

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let root = crate::repo_root();
    let python = root.join(PYTHON);
    if !python.is_file() {
        return Err(format!(
            "{} missing: create it with redis-py (python3 -m venv .venv && .venv/bin/pip install redis)",
            python.display()
        ));
    }
    let script = root.join(SCRIPT);
    if !script.is_file() {
        return Err(format!("{} missing", script.display()));
    }
    let ours_sentinel = ctx
        .ours_sentinel
        .as_deref()
        .ok_or("our redis-sentinel was not built")?;
    let setup = Setup {
        ctx,
        ours_sentinel,
        python,
        script,
    };
    let rounds = ctx.opts.sentinel_rounds as usize;
    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for turn in 0..rounds {
        for side in Side::order(turn) {
            let s = round(&setup, side, turn)?;
            eprintln!(
                "bench: sentinel round {}/{rounds} {side:?}: T1 {:.3} s (all 3: {:.3} s), T2 {:.3} s after {} SET attempts; discovery {:.2} s",
                turn + 1,
                s.t1,
                s.t1_all,
                s.t2,
                s.attempts,
                s.discovery
            );
            samples[side.idx()].push(s);
        }
    }

    type Figure = (&'static str, &'static str, fn(&Sample) -> f64);
    let figures: [Figure; 5] = [
        ("t1_switch_master_s", "T1 +switch-master, sentinel 1", |s| {
            s.t1
        }),
        ("t1_all_sentinels_s", "T1 +switch-master, last of 3", |s| {
            s.t1_all
        }),
        ("t2_first_write_s", "T2 first SET accepted", |s| s.t2),
        ("set_attempts", "SET attempts until T2", |s| s.attempts),
        ("discovery_s", "setup: sentinels know all", |s| s.discovery),
    ];
    let mut t = Table::new(
        &format!("sentinel failover ({rounds} rounds per side)"),
        &[
            "figure",
            "ours",
            "ours min–max",
            "ref",
            "ref min–max",
            "ratio",
        ],
    );
    let mut json = vec![
        ("rounds".to_string(), Json::Num(rounds.to_string())),
        ("quorum".to_string(), Json::Num(QUORUM.to_string())),
        (
            "down_after_milliseconds".to_string(),
            Json::Num(DOWN_AFTER_MS.to_string()),
        ),
        (
            "failover_timeout_milliseconds".to_string(),
            Json::Num(FAILOVER_TIMEOUT_MS.to_string()),
        ),
    ];
    for (key, label, get) in figures {
        let o: Vec<f64> = samples[0].iter().map(get).collect();
        let r: Vec<f64> = samples[1].iter().map(get).collect();
        let (om, omin, omax) = stats(&o);
        let (rm, rmin, rmax) = stats(&r);
        let prec = if key == "set_attempts" { 0 } else { 3 };
        t.row(vec![
            label.to_string(),
            fmt(om, prec),
            range(omin, omax, prec),
            fmt(rm, prec),
            range(rmin, rmax, prec),
            fmt(ratio(om, rm), 2),
        ]);
        let list = |v: &[f64]| Json::Arr(v.iter().map(|x| report::num(Some(*x))).collect());
        json.push((
            key.to_string(),
            report::obj(vec![
                ("ours", report::num(om)),
                ("reference", report::num(rm)),
                ("ratio", report::num(ratio(om, rm))),
                ("ours_min", report::num(omin)),
                ("ours_max", report::num(omax)),
                ("reference_min", report::num(rmin)),
                ("reference_max", report::num(rmax)),
                ("ours_samples", list(&o)),
                ("reference_samples", list(&r)),
            ]),
        ));
    }
    t.notes.push(format!(
        "Seconds after kill -9 of the primary (T0); medians; ratio = ours/reference, lower is better. Per round: primary + 1 replica, {SENTINELS} sentinels, quorum {QUORUM}, down-after-milliseconds {DOWN_AFTER_MS}, failover-timeout {FAILOVER_TIMEOUT_MS}; sides interleaved."
    ));
    t.notes.push(
        "T2: redis-py Sentinel(..., socket_timeout=0.2).master_for('m', socket_timeout=0.2) retrying SET k v every 10 ms.".into(),
    );
    Ok((t, Json::Obj(json)))
}

#[cfg(test)]
#[path = "bench_sentinel_tests.rs"]
mod tests;
