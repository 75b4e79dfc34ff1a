//! `cargo xtask bench cluster`: Redis Cluster, our redis-server against
//! Debian's 7.0.15 (`/usr/bin/redis-server`), measured in the same run.
//! Three parts, each reported as medians per side and the ratio
//! ours/reference:
//!
//! - **throughput**: a 3-primary cluster per side, driven by the reference
//!   `redis-benchmark --cluster -t set,get -c 50 -r 100000` at `-P 16` and
//!   `-P 1`; requests/s per test and server CPU µs per request (the three
//!   nodes' utime+stime from /proc);
//! - **failover**: per round, a fresh cluster of 3 primaries + 3 replicas
//!   (`cluster-node-timeout 2000`); one primary is killed with SIGKILL at
//!   T0 and every surviving node is polled (`CLUSTER INFO` and
//!   `CLUSTER NODES`, every 10 ms) until each reports `cluster_state:ok`
//!   and sees the killed primary's replica as a master owning its slots;
//!   also when the first survivor flagged the primary `fail` and when the
//!   replica called itself master;
//! - **memory**: `used_memory` growth for `DEBUG POPULATE N` on a
//!   cluster-enabled node (owning all slots) and on a standalone node of
//!   the same implementation; the difference per key is what the
//!   keys-per-slot index costs.
//!
//! Every process listens on 127.0.0.1 with a client port in 18000-18999
//! and its cluster bus on the client port + 10000 (28000-28999), both
//! checked free before use and never reused within a run. Every server and
//! redis-benchmark is killed by PID (with any forked child) when its guard
//! drops, on success, error or panic alike. Every wait is bounded: a side
//! that does not fail over within [`FAILOVER_LIMIT`] is reported as
//! `failed: <why>` (its logs kept under `<target>/bench/cluster-failed/`)
//! and its remaining rounds are skipped; a failed part makes the section
//! fail after the table is complete, with the table in the error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis_testkit::process::{children, signal};

use crate::bench::client::encode;
use crate::bench::report::{self, fmt, median, ratio, Table};
use crate::bench::server::{copy_tree, cpu_ticks, fresh_dir, Side};
use crate::bench::Ctx;
use crate::json::Json;

/// Client ports; the bus port is the client port + [`BUS_OFFSET`].
const FIRST_PORT: u16 = 18000;
const LAST_PORT: u16 = 18999;
const BUS_OFFSET: u16 = 10000;
const BENCHMARK: &str = "/usr/bin/redis-benchmark";
const NODE_TIMEOUT_MS: u64 = 2000;
const PRIMARIES: usize = 3;
const CLIENTS: &str = "50";
/// `redis-benchmark -r`: keys `key:{tag}:000000000000..99999`.
const KEYSPACE: &str = "100000";
const TESTS: &str = "set,get";

/// How long a process may take to answer its first PING.
const START_LIMIT: Duration = Duration::from_secs(15);
/// How long a new cluster may take until every node agrees and is ok.
const FORM_LIMIT: Duration = Duration::from_secs(30);
/// Quiet time between a converged cluster and the kill.
const SETTLE: Duration = Duration::from_secs(1);
/// A side that has not failed over this long after the kill fails.
const FAILOVER_LIMIT: Duration = Duration::from_secs(30);
/// Longest single redis-benchmark run.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Read/write timeout of the polling connections.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// DEBUG POPULATE of a million keys may take a while on a debug build.
const POPULATE_TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(10);
const SETUP_POLL: Duration = Duration::from_millis(20);

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Ours => "ours",
        Side::Ref => "reference",
    }
}

// ---------------------------------------------------------------- ports

/// Hands out client ports from 18000-18999 whose bus port is free too,
/// starting at an offset derived from our PID (so two runs rarely meet)
/// and never the same port twice in a run.
struct Ports {
    next: u16,
    handed: usize,
}

impl Ports {
    fn new() -> Ports {
        let span = u32::from(LAST_PORT - FIRST_PORT) + 1;
        let offset = (std::process::id() * 37) % span;
        Ports {
            next: FIRST_PORT + offset as u16,
            handed: 0,
        }
    }

    fn free(port: u16) -> bool {
        TcpListener::bind(("127.0.0.1", port)).is_ok()
    }

    fn take(&mut self) -> Result<u16, String> {
        let span = usize::from(LAST_PORT - FIRST_PORT) + 1;
        while self.handed < span {
            let p = self.next;
            self.next = if p >= LAST_PORT { FIRST_PORT } else { p + 1 };
            self.handed += 1;
            if p != 6379 && Ports::free(p) && Ports::free(p + BUS_OFFSET) {
                return Ok(p);
            }
        }
        Err(format!(
            "no free port pair left in {FIRST_PORT}-{LAST_PORT} (+{BUS_OFFSET})"
        ))
    }
}

// ---------------------------------------------------------------- processes

/// Kills `child` and every process it forked (a diskless-sync or BGSAVE
/// child) by PID, then reaps it.
fn kill_tree(child: &mut Child) {
    let pid = child.id();
    let kids = children(pid);
    let _ = child.kill();
    let _ = child.wait();
    for k in kids {
        signal(k, "-9");
    }
}

/// A server in its own directory (stdout and stderr to `stdout` there, its
/// log to `log`); killed by PID with its children and reaped on drop.
struct Node {
    label: String,
    port: u16,
    dir: PathBuf,
    child: Child,
    dead: bool,
}

impl Node {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn probe(&self) -> Result<Probe, String> {
        Probe::connect(self.addr(), PROBE_TIMEOUT).map_err(|e| format!("{}: {e}", self.label))
    }

    /// One command on a fresh connection.
    fn cmd(&self, args: &[&str]) -> Result<String, String> {
        self.probe()?
            .cmd(args)
            .map_err(|e| format!("{}: {e}", self.label))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL by PID (children too), then reap.
    fn kill(&mut self) {
        if !self.dead {
            kill_tree(&mut self.child);
            self.dead = true;
        }
    }

    /// Polls PING until +PONG; fails early when the process exits.
    fn wait_ready(&mut self) -> Result<(), String> {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| e.to_string())? {
                self.dead = true;
                return Err(format!(
                    "{} exited ({st}) before answering PING\n{}",
                    self.label,
                    self.tail(20)
                ));
            }
            if let Ok(mut p) = Probe::connect(self.addr(), PROBE_TIMEOUT) {
                if p.cmd(&["PING"]).is_ok_and(|r| r == "PONG") {
                    return Ok(());
                }
            }
            if t0.elapsed() > START_LIMIT {
                return Err(format!(
                    "{} did not answer PING within {START_LIMIT:?}\n{}",
                    self.label,
                    self.tail(20)
                ));
            }
            std::thread::sleep(SETUP_POLL);
        }
    }

    /// The last `n` lines of the log and of stdout/stderr.
    fn tail(&self, n: usize) -> String {
        let mut out = format!(
            "--- {} (port {}, pid {})\n",
            self.label,
            self.port,
            self.child.id()
        );
        for file in ["log", "stdout"] {
            let text = std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
            if !text.trim().is_empty() {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(n);
                out.push_str(&lines[from..].join("\n"));
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns a server of `bin` in `root/<name>` on a fresh port pair and waits
/// until it answers; retries on another port when the port was taken
/// meanwhile. `cluster`: with `cluster-enabled yes` and the bus on port +
/// 10000.
fn start_node(
    bin: &Path,
    label: &str,
    root: &Path,
    name: &str,
    ports: &mut Ports,
    cluster: bool,
) -> Result<Node, String> {
    let dir = root.join(name);
    let d = dir
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", dir.display()))?
        .to_string();
    let mut last = String::new();
    for _ in 0..4 {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{d}: {e}"))?;
        let port = ports.take()?;
        let mut cmd = Command::new(bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--enable-debug-command", "local"])
            .args(["--dir", &d, "--logfile", &format!("{d}/log")]);
        if cluster {
            cmd.args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
                .args(["--cluster-port", &(port + BUS_OFFSET).to_string()]);
        }
        let out =
            std::fs::File::create(dir.join("stdout")).map_err(|e| format!("{d}/stdout: {e}"))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("{label}: spawn {}: {e}", bin.display()))?;
        let mut node = Node {
            label: label.to_string(),
            port,
            dir: dir.clone(),
            child,
            dead: false,
        };
        match node.wait_ready() {
            Ok(()) => return Ok(node),
            Err(e) => last = e,
        }
        if !last.to_ascii_lowercase().contains("in use") {
            break;
        }
    }
    Err(last)
}

/// A scratch directory removed on drop; owners declare it after their
/// nodes so that the processes are gone first.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- RESP

/// A connection with short timeouts, so that a hung node cannot stall a
/// poll; replies come back as text (arrays joined by newlines, errors as
/// `Err`). After an error the connection may be out of step: drop it.
struct Probe {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Probe {
    fn connect(addr: SocketAddr, timeout: Duration) -> Result<Probe, String> {
        let s = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_read_timeout(Some(timeout))
            .and_then(|_| s.set_write_timeout(Some(timeout)))
            .and_then(|_| s.set_nodelay(true))
            .map_err(|e| e.to_string())?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Probe {
            reader: BufReader::new(s),
            writer,
        })
    }

    fn cmd(&mut self, args: &[&str]) -> Result<String, String> {
        let mut out = Vec::new();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        encode(&mut out, &a);
        self.writer
            .write_all(&out)
            .map_err(|e| format!("write: {e}"))?;
        self.reply().map_err(|e| format!("{}: {e}", args.join(" ")))
    }

    fn reply(&mut self) -> Result<String, String> {
        let mut l = Vec::new();
        self.reader
            .read_until(b'\n', &mut l)
            .map_err(|e| format!("read: {e}"))?;
        if !l.ends_with(b"\r\n") {
            return Err("connection closed mid-reply".into());
        }
        l.truncate(l.len() - 2);
        let l = String::from_utf8_lossy(&l).into_owned();
        let (kind, rest) = l.split_at_checked(1).ok_or("empty reply line")?;
        let num = || {
            rest.parse::<i64>()
                .map_err(|_| format!("bad length in {l:?}"))
        };
        match kind {
            "+" | ":" => Ok(rest.to_string()),
            "-" => Err(format!("-{rest}")),
            "$" => {
                let n = num()?;
                if n < 0 {
                    return Ok(String::new());
                }
                let mut b = vec![0u8; n as usize + 2];
                self.reader
                    .read_exact(&mut b)
                    .map_err(|e| format!("read: {e}"))?;
                b.truncate(n as usize);
                Ok(String::from_utf8_lossy(&b).into_owned())
            }
            "*" => {
                let n = num()?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(self.reply()?);
                }
                Ok(items.join("\n"))
            }
            _ => Err(format!("unexpected reply {l:?}")),
        }
    }
}

/// The value of `field:` in INFO-style text.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

// ---------------------------------------------------------------- clusters

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq)]
struct NodeLine {
    id: String,
    port: u16,
    flags: Vec<String>,
    master: String,
    link: String,
    slots: Vec<(u16, u16)>,
}

impl NodeLine {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn describe(&self) -> String {
        let slots: Vec<String> = self.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        format!(
            "{}:{} {} {}",
            self.port,
            self.link,
            self.flags.join(","),
            slots.join(",")
        )
    }
}

/// Parses `CLUSTER NODES`; migrating/importing entries (`[...]`) are
/// skipped.
fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let addr = f[1].split('@').next()?;
            let port = addr.rsplit_once(':')?.1.parse().ok()?;
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => {
                        let n = s.parse().ok()?;
                        Some((n, n))
                    }
                })
                .collect();
            Some(NodeLine {
                id: f[0].to_string(),
                port,
                flags: f[2].split(',').map(str::to_string).collect(),
                master: f[3].to_string(),
                link: f[7].to_string(),
                slots,
            })
        })
        .collect()
}

/// True when `slots` cover every slot of `a..=b`.
fn covers(slots: &[(u16, u16)], (a, b): (u16, u16)) -> bool {
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    let mut need = u32::from(a);
    for (x, y) in sorted {
        if u32::from(x) <= need && u32::from(y) >= need {
            need = u32::from(y) + 1;
        }
        if need > u32::from(b) {
            return true;
        }
    }
    need > u32::from(b)
}

/// The slot ranges of `n` primaries, split evenly like `redis-cli --cluster
/// create` does (3: 0-5460, 5461-10922, 10923-16383).
fn slot_ranges(n: usize) -> Vec<(u16, u16)> {
    let per = 16384.0 / n as f64;
    let mut out = Vec::new();
    let (mut first, mut cursor) = (0u16, 0.0f64);
    for i in 0..n {
        let last = if i + 1 == n {
            16383
        } else {
            (cursor + per - 1.0).round().min(16383.0) as u16
        };
        out.push((first, last));
        first = last.saturating_add(1);
        cursor += per;
    }
    out
}

/// A cluster of one side: primaries first, then `replicas[i]` of primary
/// `i`; the processes go before the directory on drop.
struct Cluster {
    nodes: Vec<Node>,
    ids: Vec<String>,
    ranges: Vec<(u16, u16)>,
    primaries: usize,
    /// From the first spawn until every node agreed and was ok.
    formed: Duration,
    _scratch: Scratch,
}

impl Cluster {
    /// Starts `primaries` + `replicas` nodes and joins them by hand:
    /// `ADDSLOTSRANGE` split evenly, `SET-CONFIG-EPOCH`, `MEET`, then
    /// `REPLICATE`; waits (bounded) until [`Cluster::converged`].
    fn build(
        bin: &Path,
        side: Side,
        primaries: usize,
        replicas: usize,
        ports: &mut Ports,
    ) -> Result<Cluster, String> {
        let scratch = Scratch(fresh_dir()?);
        let t0 = Instant::now();
        let mut nodes = Vec::new();
        for i in 0..primaries + replicas {
            let (label, name) = if i < primaries {
                (
                    format!("primary {} ({})", i + 1, side_name(side)),
                    format!("p{i}"),
                )
            } else {
                let r = i - primaries;
                (
                    format!("replica {} ({})", r + 1, side_name(side)),
                    format!("r{r}"),
                )
            };
            nodes.push(start_node(bin, &label, &scratch.0, &name, ports, true)?);
        }
        let ranges = slot_ranges(primaries);
        let mut c = Cluster {
            nodes,
            ids: Vec::new(),
            ranges,
            primaries,
            formed: Duration::ZERO,
            _scratch: scratch,
        };
        if let Err(e) = c.join(t0) {
            return Err(format!("{e}\n{}", c.tails(30)));
        }
        c.formed = t0.elapsed();
        Ok(c)
    }

    fn join(&mut self, t0: Instant) -> Result<(), String> {
        for n in &self.nodes {
            self.ids.push(n.cmd(&["CLUSTER", "MYID"])?);
        }
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            let n = &self.nodes[i];
            n.cmd(&["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()])?;
            // Distinct epochs, as redis-cli does; a refusal is harmless.
            let _ = n.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()]);
        }
        let first = &self.nodes[0];
        for n in &self.nodes[1..] {
            first.cmd(&[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &n.port.to_string(),
                &(n.port + BUS_OFFSET).to_string(),
            ])?;
        }
        let total = self.nodes.len().to_string();
        self.wait(t0, "every node to know every other", |c| {
            for n in &c.nodes {
                let info = n.cmd(&["CLUSTER", "INFO"])?;
                let known = field(&info, "cluster_known_nodes").unwrap_or("?");
                if known != total {
                    return Ok(Some(format!("{} knows {known} nodes", n.label)));
                }
            }
            Ok(None)
        })?;
        for r in self.primaries..self.nodes.len() {
            let master = &self.ids[(r - self.primaries) % self.primaries];
            self.wait(t0, "REPLICATE to be accepted", |c| {
                Ok(c.nodes[r]
                    .cmd(&["CLUSTER", "REPLICATE", master])
                    .err()
                    .map(|e| format!("REPLICATE: {e}")))
            })?;
        }
        self.wait(t0, "the cluster to converge", |c| c.converged())
    }

    /// Polls `pending` every 20 ms until it reports nothing missing;
    /// bounded by [`FORM_LIMIT`] from `t0`.
    fn wait(
        &self,
        t0: Instant,
        what: &str,
        mut pending: impl FnMut(&Cluster) -> Result<Option<String>, String>,
    ) -> Result<(), String> {
        loop {
            let missing = match pending(self) {
                Ok(None) => return Ok(()),
                Ok(Some(m)) => m,
                Err(e) => e,
            };
            if t0.elapsed() > FORM_LIMIT {
                return Err(format!(
                    "timed out after {FORM_LIMIT:?} waiting for {what}: {missing}"
                ));
            }
            std::thread::sleep(SETUP_POLL);
        }
    }

    /// What is still missing before the cluster is fully formed, or `None`:
    /// every node `cluster_state:ok`, knows all nodes connected and without
    /// failure flags, each primary with its slots and each replica attached
    /// to its primary; every replica's link is up.
    fn converged(&self) -> Result<Option<String>, String> {
        for n in &self.nodes {
            let info = n.cmd(&["CLUSTER", "INFO"])?;
            if field(&info, "cluster_state") != Some("ok") {
                return Ok(Some(format!("{} is not ok", n.label)));
            }
            let lines = parse_nodes(&n.cmd(&["CLUSTER", "NODES"])?);
            if lines.len() != self.nodes.len() {
                return Ok(Some(format!("{} lists {} nodes", n.label, lines.len())));
            }
            for (i, id) in self.ids.iter().enumerate() {
                let Some(l) = lines.iter().find(|l| &l.id == id) else {
                    return Ok(Some(format!("{} does not list node {}", n.label, i + 1)));
                };
                let bad = ["fail", "fail?", "handshake", "noaddr"]
                    .iter()
                    .any(|f| l.has(f));
                let role_ok = if i < self.primaries {
                    l.has("master") && l.slots == [self.ranges[i]]
                } else {
                    l.has("slave") && l.master == self.ids[(i - self.primaries) % self.primaries]
                };
                if bad || l.link != "connected" || !role_ok {
                    return Ok(Some(format!("{} sees {}", n.label, l.describe())));
                }
            }
        }
        for n in &self.nodes[self.primaries..] {
            let info = n.cmd(&["INFO", "replication"])?;
            if field(&info, "master_link_status") != Some("up") {
                return Ok(Some(format!("{}: link not up", n.label)));
            }
        }
        Ok(None)
    }

    fn tails(&self, n: usize) -> String {
        self.nodes.iter().map(|p| p.tail(n)).collect()
    }

    /// Kills every node and copies the directory under
    /// `<target>/bench/cluster-failed/<what>`; returns where.
    fn keep_logs(&mut self, what: &str) -> String {
        for n in self.nodes.iter_mut() {
            n.kill();
        }
        let keep = crate::bench::target_dir()
            .join("bench/cluster-failed")
            .join(what);
        let _ = std::fs::remove_dir_all(&keep);
        match copy_tree(&self._scratch.0, &keep) {
            Ok(()) => format!("all logs kept in {}", keep.display()),
            Err(e) => format!("logs not kept: {e}"),
        }
    }
}

// ---------------------------------------------------------------- figures

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

/// One row of the table: samples per side (index [`Side::idx`]), or why a
/// side has none.
struct Figure {
    key: String,
    label: String,
    better: Better,
    prec: usize,
    samples: [Vec<f64>; 2],
    error: [Option<String>; 2],
}

impl Figure {
    fn new(key: &str, label: &str, better: Better, prec: usize) -> Figure {
        Figure {
            key: key.to_string(),
            label: label.to_string(),
            better,
            prec,
            samples: [Vec::new(), Vec::new()],
            error: [None, None],
        }
    }

    fn fail(&mut self, side: Side, why: &str) {
        self.error[side.idx()].get_or_insert_with(|| why.to_string());
    }

    fn stats(&self, side: Side) -> (Option<f64>, Option<f64>, Option<f64>) {
        let v = &self.samples[side.idx()];
        (
            median(v),
            v.iter().copied().reduce(f64::min),
            v.iter().copied().reduce(f64::max),
        )
    }

    fn row(&self) -> Vec<String> {
        let cell = |side: Side| {
            let (m, lo, hi) = self.stats(side);
            match (&self.error[side.idx()], m) {
                (Some(_), None) => ("failed".to_string(), String::new()),
                _ => (
                    fmt(m, self.prec),
                    if self.samples[side.idx()].len() > 1 {
                        format!("{}–{}", fmt(lo, self.prec), fmt(hi, self.prec))
                    } else {
                        String::new()
                    },
                ),
            }
        };
        let (o, orange) = cell(Side::Ours);
        let (r, rrange) = cell(Side::Ref);
        vec![
            self.label.clone(),
            o,
            orange,
            r,
            rrange,
            fmt(ratio(self.stats(Side::Ours).0, self.stats(Side::Ref).0), 2),
            match self.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
            }
            .to_string(),
        ]
    }

    fn json(&self) -> (String, Json) {
        let (om, omin, omax) = self.stats(Side::Ours);
        let (rm, rmin, rmax) = self.stats(Side::Ref);
        let list = |v: &[f64]| Json::Arr(v.iter().map(|x| report::num(Some(*x))).collect());
        let err = |e: &Option<String>| e.as_deref().map_or(Json::Null, report::s);
        (
            self.key.clone(),
            report::obj(vec![
                ("ours", report::num(om)),
                ("reference", report::num(rm)),
                ("ratio", report::num(ratio(om, rm))),
                ("ours_min", report::num(omin)),
                ("ours_max", report::num(omax)),
                ("reference_min", report::num(rmin)),
                ("reference_max", report::num(rmax)),
                ("ours_samples", list(&self.samples[0])),
                ("reference_samples", list(&self.samples[1])),
                ("ours_error", err(&self.error[0])),
                ("reference_error", err(&self.error[1])),
            ]),
        )
    }
}

// ---------------------------------------------------------------- throughput

/// A redis-benchmark process, killed by PID when dropped.
struct Bench(Child);

impl Drop for Bench {
    fn drop(&mut self) {
        kill_tree(&mut self.0);
    }
}

/// `(test, requests/s)` rows of redis-benchmark's `--csv` output.
fn parse_csv(out: &str) -> Vec<(String, f64)> {
    crate::bench::tool::parse_csv(out)
        .into_iter()
        .map(|(test, rps, _)| (test, rps))
        .collect()
}

/// One bounded `redis-benchmark --cluster` run against `c`; returns the
/// CSV rows and the CPU ticks all nodes spent meanwhile.
fn bench_run(c: &Cluster, pipeline: u32, n: u64) -> Result<(Vec<(String, f64)>, u64), String> {
    let what = format!("redis-benchmark --cluster -t {TESTS} -P {pipeline}");
    let cpu =
        |c: &Cluster| -> Result<u64, String> { c.nodes.iter().map(|n| cpu_ticks(n.pid())).sum() };
    let before = cpu(c)?;
    let child = Command::new(BENCHMARK)
        .args(["-h", "127.0.0.1", "-p", &c.nodes[0].port.to_string()])
        .args(["--cluster", "-t", TESTS, "-c", CLIENTS, "-r", KEYSPACE])
        .args(["-n", &n.to_string(), "-P", &pipeline.to_string(), "--csv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{BENCHMARK}: {e}"))?;
    let mut b = Bench(child);
    // The output is a few hundred bytes: it fits the pipe while we wait.
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(st) = b.0.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if Instant::now() > deadline {
            return Err(format!("{what} took over {RUN_LIMIT:?}"));
        }
        std::thread::sleep(SETUP_POLL);
    };
    let after = cpu(c)?;
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = b.0.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = b.0.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let rows = parse_csv(&out);
    if !status.success() || rows.is_empty() {
        return Err(format!(
            "{what}: {status}, no CSV rows\n{}{}",
            out.trim_end(),
            err.trim_end()
        ));
    }
    Ok((rows, after.saturating_sub(before)))
}

fn throughput(ctx: &Ctx, ports: &mut Ports) -> (Vec<Figure>, [u64; 2]) {
    // In cluster mode redis-benchmark runs threads, which stop on its
    // 250 ms throughput timer: its elapsed time is a multiple of 250 ms,
    // so a run must last seconds for that step to stay small (~5 s each
    // on this machine at full size; quick runs are a smoke test).
    let pipelines: [(u32, u64); 2] = if ctx.opts.quick {
        [(16, 500_000), (1, 150_000)]
    } else {
        [(16, 2_000_000), (1, 400_000)]
    };
    let mut figs = Vec::new();
    for (p, _) in pipelines {
        for t in ["SET", "GET"] {
            figs.push(Figure::new(
                &format!("{}_p{p}_rps", t.to_lowercase()),
                &format!("{t} -P {p} (req/s)"),
                Better::Higher,
                0,
            ));
        }
    }
    for (p, _) in pipelines {
        figs.push(Figure::new(
            &format!("cpu_p{p}_us_per_request"),
            &format!("server CPU -P {p} (µs/req)"),
            Better::Lower,
            2,
        ));
    }
    let mut clusters: [Option<Cluster>; 2] = [None, None];
    for side in Side::BOTH {
        match Cluster::build(ctx.bin(side), side, PRIMARIES, 0, ports) {
            Ok(c) => clusters[side.idx()] = Some(c),
            Err(e) => {
                let why = format!("cluster not formed: {e}");
                figs.iter_mut().for_each(|f| f.fail(side, &why));
            }
        }
    }
    let rounds = ctx.opts.rounds as usize;
    for round in 0..rounds {
        for (pi, (p, n)) in pipelines.into_iter().enumerate() {
            for side in Side::order(round + pi) {
                let Some(c) = &clusters[side.idx()] else {
                    continue;
                };
                match bench_run(c, p, n) {
                    Ok((rows, ticks)) => {
                        for (name, rps) in rows {
                            let label = format!("{name} -P {p} (req/s)");
                            if let Some(f) = figs.iter_mut().find(|f| f.label == label) {
                                f.samples[side.idx()].push(rps);
                            }
                        }
                        let us = ticks as f64 / ctx.tick * 1e6 / (2 * n) as f64;
                        let label = format!("server CPU -P {p} (µs/req)");
                        if let Some(f) = figs.iter_mut().find(|f| f.label == label) {
                            f.samples[side.idx()].push(us);
                        }
                    }
                    Err(e) => {
                        let why = format!("{e}\n{}", c.tails(20));
                        figs.iter_mut().for_each(|f| f.fail(side, &why));
                        clusters[side.idx()] = None;
                    }
                }
            }
        }
        eprintln!(
            "bench: cluster throughput round {}/{rounds} done",
            round + 1
        );
    }
    (figs, [pipelines[0].1, pipelines[1].1])
}

// ---------------------------------------------------------------- failover

/// The figures of one failover round, in seconds after the kill.
struct Failover {
    /// The first survivor flagging the killed primary `fail`.
    fail_flag: Option<f64>,
    /// The replica calling itself master.
    promoted: Option<f64>,
    /// Every survivor ok, seeing the replica as master of the slots.
    all_ok: f64,
    /// Setup: first spawn until the cluster agreed.
    formed: f64,
}

/// One round: build 3+3, kill primary `victim`, poll the survivors.
fn failover_round(
    ctx: &Ctx,
    side: Side,
    turn: usize,
    ports: &mut Ports,
) -> Result<Failover, String> {
    let mut c = Cluster::build(ctx.bin(side), side, PRIMARIES, PRIMARIES, ports)?;
    std::thread::sleep(SETTLE);
    if let Some(what) = c.converged()? {
        return Err(format!("cluster changed while settling: {what}"));
    }
    let victim = turn % PRIMARIES;
    let replica = PRIMARIES + victim;
    let victim_id = c.ids[victim].clone();
    let replica_id = c.ids[replica].clone();
    let range = c.ranges[victim];
    let survivors: Vec<usize> = (0..c.nodes.len()).filter(|&i| i != victim).collect();
    let mut probes: Vec<Option<Probe>> = survivors.iter().map(|_| None).collect();
    let mut last: Vec<String> = survivors.iter().map(|_| String::new()).collect();
    let (mut fail_flag, mut promoted) = (None, None);

    // T0: the kill (SIGKILL, then reap).
    let t0 = Instant::now();
    c.nodes[victim].kill();
    let result = loop {
        let mut done = true;
        for (k, &i) in survivors.iter().enumerate() {
            let node = &c.nodes[i];
            if probes[k].is_none() {
                probes[k] = node.probe().ok();
            }
            let Some(p) = probes[k].as_mut() else {
                done = false;
                last[k] = format!("{}: cannot connect", node.label);
                continue;
            };
            let view = p.cmd(&["CLUSTER", "INFO"]).and_then(|info| {
                let nodes = p.cmd(&["CLUSTER", "NODES"])?;
                Ok((
                    field(&info, "cluster_state") == Some("ok"),
                    parse_nodes(&nodes),
                ))
            });
            let at = t0.elapsed().as_secs_f64();
            let (ok, lines) = match view {
                Ok(v) => v,
                Err(e) => {
                    probes[k] = None;
                    done = false;
                    last[k] = format!("{}: {e}", node.label);
                    continue;
                }
            };
            let victim_line = lines.iter().find(|l| l.id == victim_id);
            if fail_flag.is_none() && victim_line.is_some_and(|l| l.has("fail")) {
                fail_flag = Some(at);
            }
            let rl = lines.iter().find(|l| l.id == replica_id);
            if i == replica && promoted.is_none() && rl.is_some_and(|l| l.has("master")) {
                promoted = Some(at);
            }
            let served = rl.is_some_and(|l| l.has("master") && covers(&l.slots, range));
            if !(ok && served) {
                done = false;
                last[k] = format!(
                    "{}: cluster_state {}, replica {}, old primary {}",
                    node.label,
                    if ok { "ok" } else { "fail" },
                    rl.map_or("unknown".into(), NodeLine::describe),
                    victim_line.map_or("unknown".into(), NodeLine::describe),
                );
            }
        }
        if done {
            break Ok(t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() > FAILOVER_LIMIT {
            break Err(format!(
                "no failover within {FAILOVER_LIMIT:?} after kill -9 of primary {} (first `fail` flag: {}, replica promoted: {}); last seen:\n  {}",
                victim + 1,
                fail_flag.map_or("never".into(), |t: f64| format!("{t:.3} s")),
                promoted.map_or("never".into(), |t: f64| format!("{t:.3} s")),
                last.iter().filter(|l| !l.is_empty()).cloned().collect::<Vec<_>>().join("\n  ")
            ));
        }
        std::thread::sleep(POLL);
    };
    drop(probes);
    match result {
        Ok(all_ok) => Ok(Failover {
            fail_flag,
            promoted,
            all_ok,
            formed: c.formed.as_secs_f64(),
        }),
        Err(e) => {
            let tails = c.tails(25);
            let kept = c.keep_logs(&format!("{}-round{}", side_name(side), turn + 1));
            Err(format!("{e}\n{tails}({kept})"))
        }
    }
}

fn failover(ctx: &Ctx, ports: &mut Ports) -> Vec<Figure> {
    let mut figs = vec![
        Figure::new(
            "failover_fail_flag_s",
            "failover: first `fail` flag (s)",
            Better::Lower,
            3,
        ),
        Figure::new(
            "failover_promoted_s",
            "failover: replica promoted (s)",
            Better::Lower,
            3,
        ),
        Figure::new(
            "failover_all_ok_s",
            "failover: all survivors ok (s)",
            Better::Lower,
            3,
        ),
        Figure::new(
            "failover_setup_s",
            "setup: 3+3 cluster formed (s)",
            Better::Lower,
            3,
        ),
    ];
    let rounds = ctx.opts.sentinel_rounds as usize;
    for turn in 0..rounds {
        for side in Side::order(turn) {
            if figs[2].error[side.idx()].is_some() {
                continue; // failed before: do not wait for it again
            }
            match failover_round(ctx, side, turn, ports) {
                Ok(f) => {
                    eprintln!(
                        "bench: cluster failover round {}/{rounds} {side:?}: fail flag {} s, promoted {} s, all ok {:.3} s (setup {:.2} s)",
                        turn + 1,
                        fmt(f.fail_flag, 3),
                        fmt(f.promoted, 3),
                        f.all_ok,
                        f.formed
                    );
                    let i = side.idx();
                    figs[0].samples[i].extend(f.fail_flag);
                    figs[1].samples[i].extend(f.promoted);
                    figs[2].samples[i].push(f.all_ok);
                    figs[3].samples[i].push(f.formed);
                }
                Err(e) => {
                    // The log tails follow in the section's error.
                    eprintln!(
                        "bench: cluster failover round {}/{rounds} {side:?}: failed: {}",
                        turn + 1,
                        e.split("\n--- ").next().unwrap_or("")
                    );
                    let why = format!("round {}: {e}", turn + 1);
                    figs.iter_mut().for_each(|f| f.fail(side, &why));
                }
            }
        }
    }
    figs
}

// ---------------------------------------------------------------- memory

/// `used_memory` growth per key for `DEBUG POPULATE n` on a cluster node
/// (owning every slot) and on a standalone node of `side`.
fn memory_side(ctx: &Ctx, side: Side, n: u64, ports: &mut Ports) -> Result<[f64; 2], String> {
    let scratch = Scratch(fresh_dir()?);
    let bin = ctx.bin(side);
    let mut out = [0.0; 2];
    for (k, cluster) in [true, false].into_iter().enumerate() {
        let kind = if cluster { "cluster" } else { "standalone" };
        let label = format!("{kind} node ({})", side_name(side));
        let node = start_node(bin, &label, &scratch.0, kind, ports, cluster)?;
        let mut p = Probe::connect(node.addr(), POPULATE_TIMEOUT)?;
        if cluster {
            p.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])?;
            let t0 = Instant::now();
            while field(&p.cmd(&["CLUSTER", "INFO"])?, "cluster_state") != Some("ok") {
                if t0.elapsed() > FORM_LIMIT {
                    return Err(format!("{label}: not ok within {FORM_LIMIT:?}"));
                }
                std::thread::sleep(SETUP_POLL);
            }
        }
        let used = |p: &mut Probe| -> Result<f64, String> {
            let info = p.cmd(&["INFO", "memory"])?;
            field(&info, "used_memory")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{label}: INFO memory has no used_memory"))
        };
        let before = used(&mut p)?;
        p.cmd(&["DEBUG", "POPULATE", &n.to_string()])
            .map_err(|e| format!("{label}: {e}"))?;
        let size = p.cmd(&["DBSIZE"])?;
        if size != n.to_string() {
            return Err(format!("{label}: DBSIZE {size} after DEBUG POPULATE {n}"));
        }
        out[k] = (used(&mut p)? - before) / n as f64;
    }
    Ok(out)
}

fn memory(ctx: &Ctx, ports: &mut Ports) -> (Vec<Figure>, u64) {
    let n = ctx.opts.keys();
    let mut figs = vec![
        Figure::new(
            "cluster_node_bytes_per_key",
            "memory: cluster node (B/key)",
            Better::Lower,
            1,
        ),
        Figure::new(
            "standalone_bytes_per_key",
            "memory: standalone (B/key)",
            Better::Lower,
            1,
        ),
        Figure::new(
            "slot_index_bytes_per_key",
            "memory: slot index (B/key)",
            Better::Lower,
            1,
        ),
    ];
    for side in Side::BOTH {
        match memory_side(ctx, side, n, ports) {
            Ok([cluster, standalone]) => {
                eprintln!(
                    "bench: cluster memory {side:?}: {cluster:.1} B/key in cluster mode, {standalone:.1} standalone"
                );
                let i = side.idx();
                figs[0].samples[i].push(cluster);
                figs[1].samples[i].push(standalone);
                figs[2].samples[i].push(cluster - standalone);
            }
            Err(e) => figs.iter_mut().for_each(|f| f.fail(side, &e)),
        }
    }
    (figs, n)
}

// ---------------------------------------------------------------- section

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    if !Path::new(BENCHMARK).is_file() {
        return Err(format!("{BENCHMARK} missing"));
    }
    let mut ports = Ports::new();
    let started = Instant::now();
    let (tput, tput_n) = throughput(ctx, &mut ports);
    eprintln!(
        "bench: cluster throughput done after {:.0?}",
        started.elapsed()
    );
    let fail = failover(ctx, &mut ports);
    eprintln!(
        "bench: cluster failover done after {:.0?}",
        started.elapsed()
    );
    let (mem, keys) = memory(ctx, &mut ports);

    let rounds = ctx.opts.rounds;
    let fo_rounds = ctx.opts.sentinel_rounds;
    let mut t = Table::new(
        &format!("cluster: 3 primaries, ours vs reference ({rounds} throughput round(s), {fo_rounds} failover round(s) per side)"),
        &[
            "figure",
            "ours",
            "ours min–max",
            "ref",
            "ref min–max",
            "ratio",
            "better",
        ],
    );
    let mut errors = Vec::new();
    let mut json = Vec::new();
    for (part, figs) in [("throughput", &tput), ("failover", &fail), ("memory", &mem)] {
        let mut obj = Vec::new();
        for f in figs.iter() {
            t.row(f.row());
            obj.push(f.json());
        }
        for side in Side::BOTH {
            // One message per part and side (every figure has the same).
            if let Some(e) = figs.iter().find_map(|f| f.error[side.idx()].clone()) {
                t.notes.push(format!(
                    "{part} ({}) failed: {}",
                    side_name(side),
                    first_line(&e)
                ));
                errors.push(format!("{part} ({}) failed: {e}", side_name(side)));
            }
        }
        json.push((part.to_string(), Json::Obj(obj)));
    }
    t.notes.push(format!(
        "throughput: reference redis-benchmark --cluster -t {TESTS} -c {CLIENTS} -r {KEYSPACE}, -n {} at -P 16 and -n {} at -P 1 (its clock ticks in 250 ms steps); CPU = the 3 nodes' utime+stime per request.",
        tput_n[0], tput_n[1]
    ));
    t.notes.push(format!(
        "failover: 3+3 nodes, cluster-node-timeout {NODE_TIMEOUT_MS}; seconds after kill -9 of a primary until every survivor says cluster_state:ok with the replica serving its slots (polled every {} ms).",
        POLL.as_millis()
    ));
    t.notes.push(format!(
        "memory: used_memory growth per key for DEBUG POPULATE {keys}; slot index = cluster node - standalone."
    ));
    json.push((
        "settings".to_string(),
        report::obj(vec![
            ("throughput_rounds", Json::Num(rounds.to_string())),
            ("failover_rounds", Json::Num(fo_rounds.to_string())),
            ("node_timeout_ms", Json::Num(NODE_TIMEOUT_MS.to_string())),
            ("keys", Json::Num(keys.to_string())),
        ]),
    ));
    if errors.is_empty() {
        Ok((t, Json::Obj(json)))
    } else {
        Err(format!("{}\n{}", t.render(), errors.join("\n")))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[cfg(test)]
#[path = "bench_cluster_tests.rs"]
mod tests;
