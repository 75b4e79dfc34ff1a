//! `redis-cli --cluster`: our client against Debian's `/usr/bin/redis-cli`.
//!
//! Every scenario runs twice, on two equivalent clusters of Debian's
//! `/usr/bin/redis-server` nodes (one for the reference client, one for
//! ours), or both clients run on the same cluster when the command does not
//! change it. Outputs are compared after normalising what differs between
//! equivalent clusters: node ids and addresses become their index in the
//! cluster (`<N0>`, `<H0>`), listings whose order comes from the server's
//! node table are sorted, and progress dots while waiting are dropped.
//!
//! Nodes listen on client ports in 16000-17999 (bus port +10000), both
//! checked free first; each has its own temp dir and is killed by PID when
//! its guard drops, also when the test fails. Every wait is bounded.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis_testkit::{require_tool, run_bounded_with_input, ChildGuard, Conn, TempDir};

const REF_CLI: &str = "/usr/bin/redis-cli";
const REF_SERVER: &str = "/usr/bin/redis-server";
const HINT: &str = "install redis-server and redis-tools (cargo xtask test does)";

fn ours() -> PathBuf {
    redis_testkit::server::ours_binary("redis-cli")
}

fn reference() -> PathBuf {
    require_tool(REF_CLI, HINT)
}

// ---------------------------------------------------------------------------
// Ports and nodes

/// Client ports handed out so far; the next candidate.
static NEXT_PORT: Mutex<Option<u16>> = Mutex::new(None);

fn bindable(ip: &str, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

/// A client port in 16000..=17999 free on `ip` with its bus port (+10000).
fn free_port(ip: &str) -> u16 {
    let mut next = NEXT_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let start = next.unwrap_or(16000 + (std::process::id() % 90) as u16 * 20);
    let mut p = start;
    for _ in 0..2000 {
        let candidate = p;
        p = if p >= 17999 { 16000 } else { p + 1 };
        if bindable(ip, candidate) && bindable(ip, candidate + 10000) {
            *next = Some(p);
            return candidate;
        }
    }
    panic!("no free port pair in 16000-17999 on {ip}");
}

/// One `redis-server` in cluster mode. Field order matters: the process
/// is killed before its directory is removed.
struct Node {
    guard: ChildGuard,
    _dir: TempDir,
    ip: String,
    port: u16,
    id: String,
    pass: Option<String>,
}

impl Node {
    /// Starts a cluster-enabled reference server on `ip` and waits for it.
    fn start(ip: &str, extra: &[&str]) -> Node {
        require_tool(REF_SERVER, HINT);
        let pass = extra
            .windows(2)
            .find(|w| w[0] == "--requirepass")
            .map(|w| w[1].to_string());
        for _ in 0..5 {
            let port = free_port(ip);
            let dir = TempDir::new();
            let d = dir.path_str().to_string();
            let log = std::fs::File::create(dir.join("stdout")).unwrap();
            // A config file, so that CONFIG REWRITE (set-timeout) works.
            std::fs::write(dir.join("redis.conf"), b"").unwrap();
            let mut cmd = Command::new(REF_SERVER);
            cmd.arg(format!("{d}/redis.conf"))
                .args(["--port", &port.to_string(), "--bind", ip])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("{d}/nodes.conf")])
                .args(["--cluster-node-timeout", "2000"])
                .args(["--cluster-announce-ip", ip])
                .args(["--save", "", "--appendonly", "no", "--dir", &d])
                .args(["--logfile", &format!("{d}/log")])
                .args(["--enable-debug-command", "yes"])
                .args(extra)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            let mut child = ChildGuard::spawn(&mut cmd);
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut node = None;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.0.try_wait() {
                    break; // lost a port race: try another port
                }
                let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
                if let Ok(mut c) = Conn::connect(addr) {
                    if let Some(p) = &pass {
                        c.cmd(&["AUTH", p]);
                    }
                    if c.cmd(&["PING"]) == b"+PONG\r\n" {
                        let id = bulk(&c.cmd(&["CLUSTER", "MYID"]));
                        node = Some(id);
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Some(id) = node {
                return Node {
                    guard: child,
                    _dir: dir,
                    ip: ip.to_string(),
                    port,
                    id,
                    pass,
                };
            }
            let _ = child.0.kill();
        }
        panic!("could not start a cluster node on {ip}");
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Kills the server (SIGKILL) and waits until its port refuses.
    fn kill(&self) {
        assert!(redis_testkit::process::signal(self.guard.pid(), "-KILL"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Conn::connect(self.addr().parse().unwrap()).is_ok() {
            assert!(Instant::now() < deadline, "{} still answers", self.addr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn conn(&self) -> Conn {
        let mut c = Conn::connect(self.addr().parse().unwrap()).unwrap();
        if let Some(p) = &self.pass {
            assert_eq!(c.cmd(&["AUTH", p]), b"+OK\r\n");
        }
        c
    }

    fn cmd(&self, args: &[&str]) -> Vec<u8> {
        self.conn().cmd(args)
    }

    fn text(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    fn int(&self, args: &[&str]) -> i64 {
        let r = self.text(args);
        r.trim()
            .strip_prefix(':')
            .unwrap_or_else(|| panic!("{args:?}: {r}"))
            .parse()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) {
        let r = self.text(args);
        assert!(r.starts_with('+'), "{args:?} on {}: {r}", self.addr());
    }

    fn is_master(&self) -> bool {
        self.text(&["ROLE"]).contains("master")
    }
}

/// The payload of a bulk reply.
fn bulk(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    match s.split_once("\r\n") {
        Some((head, rest)) if head.starts_with('$') => rest.trim_end_matches("\r\n").to_string(),
        _ => s.into_owned(),
    }
}

// ---------------------------------------------------------------------------
// Clusters

struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// Nodes started but not joined, one on each of `ips`.
    fn spawn(ips: &[&str], extra: &[&str]) -> Cluster {
        Cluster {
            nodes: ips.iter().map(|ip| Node::start(ip, extra)).collect(),
        }
    }

    /// `masters` masters sharing the slots as `create` does, then
    /// `replicas` replicas (replica k replicates master k % masters).
    fn start(masters: usize, replicas: usize) -> Cluster {
        Self::start_with(masters, replicas, &[])
    }

    fn start_with(masters: usize, replicas: usize, extra: &[&str]) -> Cluster {
        let ips = vec!["127.0.0.1"; masters + replicas];
        let c = Cluster::spawn(&ips, extra);
        c.join(masters, masters);
        c
    }

    /// Gives the slots to the first `masters` nodes, makes the nodes from
    /// `replicas_from` on replicas (in turn of those masters), leaves the
    /// ones between as empty masters; meets them all and waits until stable.
    fn join(&self, masters: usize, replicas_from: usize) {
        let per = 16384f32 / masters as f32;
        let mut first = 0i64;
        let mut cursor = 0f32;
        for (k, n) in self.nodes[..masters].iter().enumerate() {
            let mut last = f64::from(cursor + per - 1.0).round() as i64;
            if k == masters - 1 {
                last = 16383;
            }
            n.ok(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &first.to_string(),
                &last.to_string(),
            ]);
            first = last + 1;
            cursor += per;
        }
        for (k, n) in self.nodes.iter().enumerate() {
            n.ok(&["CLUSTER", "SET-CONFIG-EPOCH", &(k + 1).to_string()]);
        }
        let first = &self.nodes[0];
        for n in &self.nodes[1..] {
            n.ok(&["CLUSTER", "MEET", &first.ip, &first.port.to_string()]);
        }
        self.wait_until("all nodes met", |c| {
            c.nodes.iter().all(|n| {
                let t = bulk(&n.cmd(&["CLUSTER", "NODES"]));
                t.lines().count() == c.nodes.len() && !t.contains("handshake")
            })
        });
        for (r, n) in self.nodes[replicas_from..].iter().enumerate() {
            let m = &self.nodes[r % masters];
            n.ok(&["CLUSTER", "REPLICATE", &m.id]);
        }
        self.wait_stable();
    }

    /// Polls `cond` for up to 30 s.
    fn wait_until(&self, what: &str, cond: impl Fn(&Cluster) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond(self) {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every node agrees on the slots and the roles, the state is ok, and
    /// replicas are in sync.
    /// Nodes outside the cluster (never joined, or reset) are left out.
    fn wait_stable(&self) {
        self.wait_until("a stable cluster", |c| {
            let joined: Vec<&Node> = c
                .nodes
                .iter()
                .filter(|n| {
                    let info = n.text(&["CLUSTER", "INFO"]);
                    !info.starts_with('-') && !info.contains("cluster_known_nodes:1\r\n")
                })
                .collect();
            let views: Vec<String> = joined
                .iter()
                .map(|n| view(&n.text(&["CLUSTER", "NODES"])))
                .collect();
            views.windows(2).all(|w| w[0] == w[1])
                && joined
                    .iter()
                    .all(|n| n.text(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        });
        self.wait_synced();
    }

    /// Replicas have caught up with their masters.
    fn wait_synced(&self) {
        self.wait_until("replicas in sync", |c| {
            c.nodes.iter().filter(|n| !n.is_master()).all(|n| {
                let info = n.text(&["INFO", "replication"]);
                let field = |name: &str| -> Option<String> {
                    info.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}:")))
                        .map(|v| v.trim().to_string())
                };
                if field("master_link_status").as_deref() != Some("up") {
                    return false;
                }
                let port = field("master_port").unwrap_or_default();
                let Some(m) = c.nodes.iter().find(|m| m.port.to_string() == port) else {
                    return false;
                };
                let minfo = m.text(&["INFO", "replication"]);
                let moff = minfo
                    .lines()
                    .find_map(|l| l.strip_prefix("master_repl_offset:"))
                    .map(|v| v.trim().to_string());
                moff.is_some() && moff == field("slave_repl_offset")
            })
        });
    }

    /// Sets `key` to `value`, following MOVED redirections.
    fn set(&self, key: &str, value: &str) {
        let mut node = &self.nodes[0];
        for _ in 0..5 {
            let r = node.text(&["SET", key, value]);
            if r == "+OK\r\n" {
                return;
            }
            let moved = r
                .strip_prefix("-MOVED ")
                .unwrap_or_else(|| panic!("SET {key}: {r}"));
            let addr = moved.trim().split(' ').nth(1).unwrap();
            node = self.nodes.iter().find(|n| n.addr() == addr).unwrap();
        }
        panic!("SET {key}: too many redirections");
    }

    /// The value of `key`, following MOVED redirections.
    fn get(&self, key: &str) -> Option<String> {
        let mut node = &self.nodes[0];
        for _ in 0..5 {
            let r = node.text(&["GET", key]);
            if let Some(moved) = r.strip_prefix("-MOVED ") {
                let addr = moved.trim().split(' ').nth(1).unwrap();
                node = self.nodes.iter().find(|n| n.addr() == addr).unwrap();
                continue;
            }
            return (r != "$-1\r\n").then(|| bulk(r.as_bytes()));
        }
        panic!("GET {key}: too many redirections");
    }

    /// Writes `n` keys `k0..` spread over the slots (and a few hash tags).
    fn fill(&self, n: usize) {
        for i in 0..n {
            let key = if i % 10 == 0 {
                format!("{{tag}}k{i}")
            } else {
                format!("k{i}")
            };
            self.set(&key, &format!("v{i}"));
        }
    }

    /// Every key written by `fill(n)` is there with its value.
    fn assert_filled(&self, n: usize) {
        for i in 0..n {
            let key = if i % 10 == 0 {
                format!("{{tag}}k{i}")
            } else {
                format!("k{i}")
            };
            assert_eq!(self.get(&key), Some(format!("v{i}")), "key {key}");
        }
        let total: i64 = self
            .nodes
            .iter()
            .filter(|n| n.is_master())
            .map(|n| n.int(&["DBSIZE"]))
            .sum();
        assert_eq!(total, n as i64, "keys in the masters");
    }

    fn addr(&self, i: usize) -> String {
        self.nodes[i].addr()
    }
}

/// A node's view of the cluster reduced to what must agree: each node's
/// id, role and slots.
fn view(nodes: &str) -> String {
    let mut lines: Vec<String> = bulk(nodes.as_bytes())
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let role = if f[2].contains("slave") {
                "slave"
            } else {
                "master"
            };
            let slots: Vec<&str> = f[8..]
                .iter()
                .copied()
                .filter(|s| !s.starts_with('['))
                .collect();
            format!("{} {role} {} {}", f[0], f[3], slots.join(","))
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

// ---------------------------------------------------------------------------
// Running the clients

#[derive(Debug, Clone, PartialEq, Eq)]
struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Runs `bin` with `args` and `stdin`, `TERM=dumb` (no colours) unless
/// `env` says otherwise; at most 3 minutes.
fn cli(bin: &Path, args: &[String], stdin: &[u8], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("TERM", "dumb")
        .env_remove("REDISCLI_AUTH")
        .env_remove("REDISCLI_CLUSTER_YES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded_with_input(&mut cmd, stdin, Duration::from_secs(180));
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Like [`cli`] but types `lines` one at a time, 300 ms apart, as a person
/// would: upstream reads each prompt's answer with one read(2) and would
/// misread answers that arrive together.
fn cli_typed(bin: &Path, args: &[String], lines: &[String]) -> Out {
    use std::io::{Read, Write};
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("TERM", "dumb")
        .env_remove("REDISCLI_AUTH")
        .env_remove("REDISCLI_CLUSTER_YES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut cmd);
    let mut stdin = child.0.stdin.take().unwrap();
    let lines = lines.to_vec();
    let writer = std::thread::spawn(move || {
        for l in lines {
            std::thread::sleep(Duration::from_millis(300));
            if stdin.write_all(format!("{l}\n").as_bytes()).is_err() {
                break;
            }
        }
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.0.stdout.take().unwrap()));
    let err = drain(Box::new(child.0.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{bin:?} {args:?} did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Out {
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        code: status.code().unwrap_or(-1),
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Replaces what differs between equivalent clusters.
struct Norm {
    pairs: Vec<(String, String)>,
    /// `replicates <Nx>` becomes `replicates <N?>` (random replica choice).
    any_master: bool,
    /// `Covering slot N with <Hx>` becomes `<H?>` (random master choice).
    any_cover: bool,
    /// Slot lists and counts are left out (after a random choice).
    any_slots: bool,
}

impl Norm {
    fn new(c: &Cluster) -> Norm {
        let mut pairs = Vec::new();
        for (i, n) in c.nodes.iter().enumerate() {
            pairs.push((n.id.clone(), format!("<N{i}>")));
        }
        for (i, n) in c.nodes.iter().enumerate() {
            pairs.push((format!("{}...", &n.id[..8]), format!("<N{i}>...")));
            pairs.push((n.addr(), format!("<H{i}>")));
            pairs.push((format!("{}-{}", n.ip, n.port), format!("<H{i}>")));
            pairs.push((format!("{} {}", n.ip, n.port), format!("<H{i}>")));
        }
        Norm {
            pairs,
            any_master: false,
            any_cover: false,
            any_slots: false,
        }
    }

    fn with(mut self, from: &str, to: &str) -> Norm {
        self.pairs.insert(0, (from.to_string(), to.to_string()));
        self
    }

    fn text(&self, s: &str) -> String {
        // What follows a prompt's answer starts a line of its own.
        let mut s = s.replace("(type 'yes' to accept): ", "(type 'yes' to accept): \n");
        for (from, to) in &self.pairs {
            s = s.replace(from.as_str(), to);
        }
        let mut lines: Vec<String> = Vec::new();
        for line in s.split('\n') {
            let waiting = lines
                .last()
                .is_some_and(|l| l.ends_with("Waiting for the cluster to join"));
            if waiting && line.chars().all(|c| c == '.') {
                lines.push("<dots>".into());
                continue;
            }
            let mut line = line.to_string();
            if self.any_master {
                if let Some(p) = line.find("replicates <N") {
                    line.truncate(p);
                    line.push_str("replicates <N?>");
                }
            }
            if self.any_cover && line.contains(">>> Covering slot ") {
                if let Some(p) = line.rfind(" with <H") {
                    line.truncate(p);
                    line.push_str(" with <H?>");
                }
            }
            if self.any_slots {
                if let Some(p) = line.find("   slots:") {
                    line.truncate(p);
                    line.push_str("   slots:<any>");
                }
                if let (Some(a), Some(b)) = (line.find(" keys | "), line.find(" slots | ")) {
                    if a < b {
                        line.replace_range(a + 8..b, "<n>");
                    }
                }
            }
            if let Some(p) = line.find("bytes to '") {
                if let Some(w) = line[..p].rfind("writing ") {
                    line.replace_range(w + 8..p, "<n> ");
                }
            }
            lines.push(line);
        }
        sort_runs(lines).join("\n")
    }

    fn out(&self, o: &Out) -> Out {
        Out {
            stdout: self.text(&o.stdout),
            stderr: self.text(&o.stderr),
            code: o.code,
        }
    }
}

/// Sorts what comes in the server's node-table order (or another order
/// that depends on hashing): runs of `M:`/`S:` node blocks, of per-node
/// summary lines, of per-node call results and of migration lines.
fn sort_runs(lines: Vec<String>) -> Vec<String> {
    fn block_start(l: &str) -> Option<usize> {
        let t = l.trim_start_matches(' ');
        (t.starts_with("M: ") || t.starts_with("S: ")).then(|| l.len() - t.len())
    }
    fn line_kind(l: &str) -> Option<&'static str> {
        if l.starts_with("<H") && l.contains("...) -> ") {
            Some("info")
        } else if l.starts_with("<H") && l.contains(">: ") {
            Some("call")
        } else if l.starts_with(">>> Node <H") {
            Some("backup")
        } else if l.starts_with("Migrating ") {
            Some("import")
        } else if l.starts_with(">>> Covering slot ") {
            Some("cover")
        } else if l.starts_with("SYNC sent to master") || l.starts_with("Transfer finished") {
            Some("sync")
        } else if l.starts_with("[WARNING] Node <H") && l.contains(" has slots in ") {
            Some("open")
        } else if l.starts_with("    <H") {
            Some("owners")
        } else {
            None
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(indent) = block_start(&lines[i]) {
            let cont = format!("{}   ", " ".repeat(indent));
            let mut blocks: Vec<Vec<String>> = Vec::new();
            while i < lines.len() && block_start(&lines[i]) == Some(indent) {
                let mut b = vec![lines[i].clone()];
                i += 1;
                while i < lines.len()
                    && lines[i].starts_with(&cont)
                    && block_start(&lines[i]).is_none()
                {
                    b.push(lines[i].clone());
                    i += 1;
                }
                blocks.push(b);
            }
            blocks.sort();
            out.extend(blocks.into_iter().flatten());
        } else if let Some(kind) = line_kind(&lines[i]) {
            let mut run = Vec::new();
            while i < lines.len() && line_kind(&lines[i]) == Some(kind) {
                run.push(lines[i].clone());
                i += 1;
            }
            run.sort();
            out.extend(run);
        } else {
            out.push(lines[i].clone());
            i += 1;
        }
    }
    out
}

/// Asserts equal outputs, showing both in full when they differ.
fn assert_same(what: &str, reference: &Out, ours: &Out) {
    if reference != ours {
        panic!(
            "{what}: outputs differ\n--- reference (exit {}):\n{}\n--- reference stderr:\n{}\n--- ours (exit {}):\n{}\n--- ours stderr:\n{}",
            reference.code, reference.stdout, reference.stderr, ours.code, ours.stdout, ours.stderr
        );
    }
}

/// Runs `scenario` with the reference client on a fresh cluster from
/// `make`, then with ours on another, and compares the normalised outputs
/// step by step. The scenario returns (label, output, normaliser) steps.
fn differential<F>(make: impl Fn() -> Cluster, scenario: F)
where
    F: Fn(&Path, &Cluster) -> Vec<(String, Out, Norm)>,
{
    let reference_steps: Vec<(String, Out)> = {
        let c = make();
        scenario(&reference(), &c)
            .into_iter()
            .map(|(label, out, norm)| (label, norm.out(&out)))
            .collect()
    };
    let our_steps: Vec<(String, Out)> = {
        let c = make();
        scenario(&ours(), &c)
            .into_iter()
            .map(|(label, out, norm)| (label, norm.out(&out)))
            .collect()
    };
    assert_eq!(reference_steps.len(), our_steps.len(), "step counts differ");
    for ((label, r), (_, o)) in reference_steps.iter().zip(our_steps.iter()) {
        // CLI_CLUSTER_DUMP=1 shows what was compared.
        if std::env::var_os("CLI_CLUSTER_DUMP").is_some() {
            eprintln!("=== {label} (exit {})\n{}{}", o.code, o.stdout, o.stderr);
        }
        assert_same(label, r, o);
    }
}

/// Runs both clients on the same cluster (read-only commands) and compares.
fn same_cluster(c: &Cluster, a: &[String], stdin: &[u8], norm: &Norm) {
    let r = cli(&reference(), a, stdin, &[]);
    let o = cli(&ours(), a, stdin, &[]);
    assert_same(&a.join(" "), &norm.out(&r), &norm.out(&o));
    let _ = c;
}

// ---------------------------------------------------------------------------
// Tests

/// Arguments the manager rejects before (or while) connecting, with no
/// cluster behind the address: same messages, streams and exit codes.
#[test]
fn bad_arguments_match_reference() {
    let dead = free_port("127.0.0.1").to_string();
    let addr = format!("127.0.0.1:{dead}");
    let cases: Vec<Vec<String>> = vec![
        args(&["--cluster", "help"]),
        args(&["--cluster"]),
        args(&["--cluster", "nosuch"]),
        args(&["--cluster", "create"]),
        args(&["--cluster", "create", &addr]),
        args(&["--cluster", "create", "nocolon", &addr]),
        args(&["--cluster", "check"]),
        args(&["--cluster", "check", "127.0.0.1"]),
        args(&["--cluster", "check", "a", "b", "c"]),
        args(&["--cluster", "check", &addr]),
        args(&["--cluster", "check", "127.0.0.1", &dead]),
        args(&["--cluster", "info", &addr]),
        args(&["--cluster", "fix", "x:0"]),
        args(&["--cluster", "reshard", "--cluster-yes"]),
        args(&["--cluster", "rebalance", "nohost"]),
        args(&["--cluster", "add-node", &addr]),
        args(&["--cluster", "add-node", "bad", &addr]),
        args(&["--cluster", "del-node", &addr]),
        args(&["--cluster", "del-node", "bad", "id"]),
        args(&["--cluster", "call", &addr]),
        args(&["--cluster", "call", "bad", "ping"]),
        args(&["--cluster", "set-timeout", &addr, "99"]),
        args(&["--cluster", "set-timeout", &addr, "1000"]),
        args(&["--cluster", "import", &addr]),
        args(&["--cluster", "import", &addr, "--cluster-from", "nohost"]),
        args(&["--cluster", "import", "bad", "--cluster-from", &addr]),
        args(&["--cluster", "backup", &addr]),
        args(&["--cluster", "backup", "bad", "/tmp"]),
        args(&["--cluster", "help", "--cluster", "help"]),
        args(&[
            "--cluster",
            "help",
            "--cluster-weight",
            "a=1",
            "--cluster-weight",
            "b=2",
        ]),
        args(&["--cluster", "check", &addr, "--cluster-bogus"]),
        args(&["--cluster", "check", "--cluster-yes", &addr]),
        args(&["--cluster", "call", &addr, "config", "get", "-1"]),
        args(&["-a", "secret", "--cluster", "info", &addr]),
    ];
    for a in cases {
        let r = cli(&reference(), &a, b"", &[]);
        let o = cli(&ours(), &a, b"", &[]);
        assert_same(&a.join(" "), &r, &o);
    }
}

/// `check`, `info`, `call` (all nodes, masters only, replicas only, an
/// error reply), `set-timeout` and `--cluster-search-multiple-owners` on
/// one cluster with replicas, both clients in turn; also with colours.
#[test]
fn check_info_call_set_timeout_on_one_cluster() {
    let c = Cluster::start(3, 3);
    c.fill(300);
    c.wait_synced();
    let norm = Norm::new(&c);
    let a0 = c.addr(0);
    let a1 = c.addr(1);
    for a in [
        args(&["--cluster", "check", &a0]),
        args(&[
            "--cluster",
            "check",
            "127.0.0.1",
            &c.nodes[4].port.to_string(),
        ]),
        args(&[
            "--cluster",
            "check",
            &a1,
            "--cluster-search-multiple-owners",
        ]),
        args(&["--cluster", "info", &a0]),
        args(&["--cluster", "call", &a0, "DBSIZE"]),
        args(&[
            "--cluster",
            "call",
            &a0,
            "GET",
            "k1",
            "--cluster-only-masters",
        ]),
        args(&[
            "--cluster",
            "call",
            &a0,
            "ECHO",
            "hi",
            "--cluster-only-replicas",
        ]),
        args(&["--cluster", "call", &a0, "NOSUCHCOMMAND", "x"]),
        args(&["--cluster", "set-timeout", &a0, "3000"]),
    ] {
        same_cluster(&c, &a, b"", &norm);
    }
    assert!(c.nodes[5]
        .text(&["CONFIG", "GET", "cluster-node-timeout"])
        .contains("3000"));
    // Colours follow TERM (an xterm), not whether stdout is a tty.
    let a = args(&["--cluster", "check", &a0]);
    let env = [("TERM", "xterm-256color")];
    let r = cli(&reference(), &a, b"", &env);
    let o = cli(&ours(), &a, b"", &env);
    assert!(
        o.stdout
            .contains("\x1b[32;1m[OK] All 16384 slots covered.\n\x1b[0m"),
        "{}",
        o.stdout
    );
    assert_same("check with colours", &norm.out(&r), &norm.out(&o));
}

/// `create` of three masters, with `--cluster-yes`, then `check`.
#[test]
fn create_without_replicas() {
    differential(
        || Cluster::spawn(&["127.0.0.1"; 3], &[]),
        |bin, c| {
            let norm = || Norm::new(c);
            let mut a = args(&["--cluster", "create"]);
            a.extend((0..3).map(|i| c.addr(i)));
            // REDISCLI_CLUSTER_YES=1 stands for --cluster-yes.
            let created = cli(bin, &a, b"", &[("REDISCLI_CLUSTER_YES", "1")]);
            c.wait_stable();
            let checked = cli(bin, &args(&["--cluster", "check", &c.addr(2)]), b"", &[]);
            vec![
                ("create".into(), created, norm()),
                ("check".into(), checked, norm()),
            ]
        },
    );
}

/// `create` with `--cluster-replicas 1` on one host: replicas land on
/// their master's host (the warning) after random swaps, so which master
/// a replica follows is not compared.
#[test]
fn create_with_replicas_on_one_host() {
    differential(
        || Cluster::spawn(&["127.0.0.1"; 6], &[]),
        |bin, c| {
            let mut a = args(&["--cluster", "create"]);
            a.extend((0..6).map(|i| c.addr(i)));
            a.extend(args(&["--cluster-replicas", "1", "--cluster-yes"]));
            let created = cli(bin, &a, b"", &[]);
            c.wait_stable();
            let mut norm = Norm::new(c);
            norm.any_master = true;
            assert_eq!(c.nodes.iter().filter(|n| n.is_master()).count(), 3);
            vec![("create".into(), created, norm)]
        },
    );
}

/// `create` with replicas over three loopback "hosts": the placement
/// avoids each master's host without random swaps, so it is compared
/// exactly, and no replica shares its master's address.
#[test]
fn create_with_replicas_across_hosts() {
    let ips = [
        "127.0.0.1",
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.3",
    ];
    differential(
        || Cluster::spawn(&ips, &[]),
        |bin, c| {
            let mut a = args(&["--cluster", "create"]);
            a.extend((0..6).map(|i| c.addr(i)));
            a.extend(args(&["--cluster-replicas", "1", "--cluster-yes"]));
            let created = cli(bin, &a, b"", &[]);
            c.wait_stable();
            for n in c.nodes.iter().filter(|n| !n.is_master()) {
                let info = n.text(&["INFO", "replication"]);
                let host = info
                    .lines()
                    .find_map(|l| l.strip_prefix("master_host:"))
                    .unwrap()
                    .trim()
                    .to_string();
                assert_ne!(
                    host,
                    n.ip,
                    "{} replicates a master on its own host",
                    n.addr()
                );
            }
            vec![("create".into(), created, Norm::new(c))]
        },
    );
}

/// The confirmation prompt of `create`: declined (nothing configured, exit
/// 0 as upstream), then accepted on stdin; and the refusals (too few
/// masters, a node that is not empty, a node not in cluster mode).
#[test]
fn create_prompt_and_refusals() {
    differential(
        || {
            let mut c = Cluster::spawn(&["127.0.0.1"; 4], &[]);
            c.nodes
                .push(Node::start("127.0.0.1", &["--cluster-enabled", "no"]));
            c
        },
        |bin, c| {
            let norm = || Norm::new(c);
            let mut a = args(&["--cluster", "create"]);
            a.extend((0..3).map(|i| c.addr(i)));
            let declined = cli(bin, &a, b"no\n", &[]);
            assert!(c.nodes[0]
                .text(&["CLUSTER", "INFO"])
                .contains("cluster_slots_assigned:0"));
            let mut too_few = a.clone();
            too_few.extend(args(&["--cluster-replicas", "1"]));
            let too_few = cli(bin, &too_few, b"", &[]);
            let mut not_cluster = a.clone();
            not_cluster.push(c.addr(4));
            let not_cluster = cli(bin, &not_cluster, b"", &[]);
            // A key outside any slot check: DEBUG POPULATE names no key.
            c.nodes[3].ok(&["DEBUG", "POPULATE", "1"]);
            let mut not_empty = a.clone();
            not_empty.push(c.addr(3));
            let not_empty = cli(bin, &not_empty, b"", &[]);
            let accepted = cli(bin, &a, b"yes\n", &[]);
            vec![
                ("create declined".into(), declined, norm()),
                ("create 3 nodes 1 replica".into(), too_few, norm()),
                ("create with a non-cluster node".into(), not_cluster, norm()),
                ("create with a non-empty node".into(), not_empty, norm()),
                ("create accepted".into(), accepted, norm()),
            ]
        },
    );
}

/// `reshard` with keys in the moved slots: by options (one source, then
/// `all` sources with a small pipeline), and by answering the prompts.
/// Every key is still there afterwards.
#[test]
fn reshard_with_keys() {
    differential(
        || {
            let c = Cluster::start(3, 0);
            c.fill(400);
            c
        },
        |bin, c| {
            let norm = || Norm::new(c);
            let a0 = c.addr(0);
            let (id0, id1, id2) = (&c.nodes[0].id, &c.nodes[1].id, &c.nodes[2].id);
            let one = cli(
                bin,
                &args(&[
                    "--cluster",
                    "reshard",
                    &a0,
                    "--cluster-from",
                    id0,
                    "--cluster-to",
                    id1,
                    "--cluster-slots",
                    "60",
                    "--cluster-yes",
                ]),
                b"",
                &[],
            );
            c.wait_stable();
            c.assert_filled(400);
            let all = cli(
                bin,
                &args(&[
                    "--cluster",
                    "reshard",
                    &a0,
                    "--cluster-from",
                    "all",
                    "--cluster-to",
                    id2,
                    "--cluster-slots",
                    "100",
                    "--cluster-yes",
                    "--cluster-pipeline",
                    "3",
                    "--cluster-timeout",
                    "5000",
                ]),
                b"",
                &[],
            );
            c.wait_stable();
            c.assert_filled(400);
            let answers = args(&["40", id0, id2, id0, "done", "yes"]);
            let prompted = cli_typed(bin, &args(&["--cluster", "reshard", &a0]), &answers);
            c.wait_stable();
            c.assert_filled(400);
            let declined = cli(
                bin,
                &args(&[
                    "--cluster",
                    "reshard",
                    &a0,
                    "--cluster-from",
                    id1,
                    "--cluster-to",
                    id0,
                    "--cluster-slots",
                    "5",
                ]),
                b"no\n",
                &[],
            );
            let unknown = cli(
                bin,
                &args(&[
                    "--cluster",
                    "reshard",
                    &a0,
                    "--cluster-to",
                    "nosuchid",
                    "--cluster-slots",
                    "5",
                ]),
                b"",
                &[],
            );
            let checked = cli(bin, &args(&["--cluster", "check", &a0]), b"", &[]);
            vec![
                ("reshard one source".into(), one, norm()),
                ("reshard from all".into(), all, norm()),
                ("reshard by prompts".into(), prompted, norm()),
                ("reshard declined".into(), declined, norm()),
                ("reshard to an unknown node".into(), unknown, norm()),
                ("check after reshard".into(), checked, norm()),
            ]
        },
    );
}

/// `rebalance`: nothing to do, `--cluster-simulate` with an empty master,
/// weights by id prefix (verbose), then a real rebalance; keys survive.
#[test]
fn rebalance_weights_and_simulate() {
    differential(
        || {
            // Three masters with the slots and an empty fourth one.
            let c = Cluster::spawn(&["127.0.0.1"; 4], &[]);
            c.join(3, 4);
            c.fill(300);
            c
        },
        |bin, c| {
            let norm = || Norm::new(c);
            let a0 = c.addr(0);
            let simulated = cli(
                bin,
                &args(&[
                    "--cluster",
                    "rebalance",
                    &a0,
                    "--cluster-use-empty-masters",
                    "--cluster-simulate",
                ]),
                b"",
                &[],
            );
            let w1 = format!("{}=2", &c.nodes[1].id[..10]);
            let w2 = format!("{}=0.5", &c.nodes[2].id[..6]);
            let weighted = cli(
                bin,
                &args(&[
                    "--verbose",
                    "--cluster",
                    "rebalance",
                    &a0,
                    "--cluster-weight",
                    &w1,
                    &w2,
                    "--cluster-simulate",
                    "--cluster-threshold",
                    "1",
                ]),
                b"",
                &[],
            );
            let no_such = cli(
                bin,
                &args(&["--cluster", "rebalance", &a0, "--cluster-weight", "zzzz=2"]),
                b"",
                &[],
            );
            let real = cli(
                bin,
                &args(&[
                    "--cluster",
                    "rebalance",
                    &a0,
                    "--cluster-use-empty-masters",
                    "--cluster-pipeline",
                    "5",
                ]),
                b"",
                &[],
            );
            c.wait_stable();
            c.assert_filled(300);
            assert!(c.nodes[3]
                .text(&["CLUSTER", "NODES"])
                .contains("myself,master"));
            let balanced = cli(bin, &args(&["--cluster", "rebalance", &a0]), b"", &[]);
            let info = cli(bin, &args(&["--cluster", "info", &a0]), b"", &[]);
            vec![
                ("rebalance simulate".into(), simulated, norm()),
                ("rebalance weights".into(), weighted, norm()),
                ("rebalance unknown weight".into(), no_such, norm()),
                ("rebalance".into(), real, norm()),
                ("rebalance balanced".into(), balanced, norm()),
                ("info after rebalance".into(), info, norm()),
            ]
        },
    );
}

/// `add-node` as a master, as a replica of the master with the fewest
/// replicas, as a replica of a given master; the refusals; then
/// `del-node` of a replica, of an empty master, of a master with slots
/// and of an unknown id.
#[test]
fn add_node_and_del_node() {
    differential(
        || {
            let mut c = Cluster::start(3, 0);
            for _ in 0..4 {
                c.nodes.push(Node::start("127.0.0.1", &[]));
            }
            c
        },
        |bin, c| {
            let norm = || Norm::new(c);
            let a0 = c.addr(0);
            let master = cli(
                bin,
                &args(&["--cluster", "add-node", &c.addr(3), &a0]),
                b"",
                &[],
            );
            c.wait_until("the new master known", |c| {
                c.nodes[..3]
                    .iter()
                    .all(|n| n.text(&["CLUSTER", "NODES"]).contains(&c.nodes[3].id))
            });
            c.wait_stable();
            let auto = cli(
                bin,
                &args(&["--cluster", "add-node", &c.addr(4), &a0, "--cluster-slave"]),
                b"",
                &[],
            );
            let given = cli(
                bin,
                &args(&[
                    "--cluster",
                    "add-node",
                    &c.addr(5),
                    &a0,
                    "--cluster-slave",
                    "--cluster-master-id",
                    &c.nodes[3].id,
                ]),
                b"",
                &[],
            );
            let third = cli(
                bin,
                &args(&[
                    "--cluster",
                    "add-node",
                    &c.addr(6),
                    &a0,
                    "--cluster-slave",
                    "--cluster-master-id",
                    &c.nodes[1].id,
                ]),
                b"",
                &[],
            );
            c.wait_stable();
            let again = cli(
                bin,
                &args(&["--cluster", "add-node", &c.addr(3), &a0]),
                b"",
                &[],
            );
            let no_master = cli(
                bin,
                &args(&[
                    "--cluster",
                    "add-node",
                    &c.addr(3),
                    &a0,
                    "--cluster-slave",
                    "--cluster-master-id",
                    "0123456789",
                ]),
                b"",
                &[],
            );
            let checked = cli(bin, &args(&["--cluster", "check", &a0]), b"", &[]);
            // Node 3's replica (node 5) moves to the master with the
            // fewest replicas (node 2, the only one without).
            let del_master = cli(
                bin,
                &args(&["--cluster", "del-node", &a0, &c.nodes[3].id]),
                b"",
                &[],
            );
            let del_replica = cli(
                bin,
                &args(&["--cluster", "del-node", &a0, &c.nodes[6].id]),
                b"",
                &[],
            );
            let del_full = cli(
                bin,
                &args(&["--cluster", "del-node", &a0, &c.nodes[2].id]),
                b"",
                &[],
            );
            let del_unknown = cli(
                bin,
                &args(&["--cluster", "del-node", &a0, "abcdef"]),
                b"",
                &[],
            );
            assert!(!c.nodes[0]
                .text(&["CLUSTER", "NODES"])
                .contains(&c.nodes[6].id));
            assert!(c.nodes[6]
                .text(&["CLUSTER", "INFO"])
                .contains("cluster_known_nodes:1"));
            c.wait_until("node 5 replicating node 2", |c| {
                c.nodes[5]
                    .text(&["CLUSTER", "NODES"])
                    .contains(&format!("myself,slave {}", c.nodes[2].id))
            });
            vec![
                ("add-node master".into(), master, norm()),
                ("add-node replica (auto)".into(), auto, norm()),
                ("add-node replica of id".into(), given, norm()),
                ("add-node another replica".into(), third, norm()),
                ("add-node not empty".into(), again, norm()),
                ("add-node unknown master".into(), no_master, norm()),
                ("check after add-node".into(), checked, norm()),
                ("del-node empty master".into(), del_master, norm()),
                ("del-node replica".into(), del_replica, norm()),
                ("del-node master with slots".into(), del_full, norm()),
                ("del-node unknown".into(), del_unknown, norm()),
            ]
        },
    );
}

/// `fix` of open slots left by hand: migrating + importing with keys on
/// the source (case 1), importing only (case 2), migrating only without
/// keys (case 4). Keys survive and `check` is clean afterwards.
#[test]
fn fix_open_slots() {
    differential(
        || {
            let c = Cluster::start(3, 0);
            c.fill(200);
            c
        },
        |bin, c| {
            let norm = || Norm::new(c);
            let a0 = c.addr(0);
            let (n0, n1, n2) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
            // {tag} hashes to 8338: node 1's slot. Twenty keys live there.
            let slot = "8338";
            n1.ok(&["CLUSTER", "SETSLOT", slot, "MIGRATING", &n2.id]);
            n2.ok(&["CLUSTER", "SETSLOT", slot, "IMPORTING", &n1.id]);
            let check_open = cli(bin, &args(&["--cluster", "check", &a0]), b"", &[]);
            let fixed1 = cli(bin, &args(&["--cluster", "fix", &a0]), b"", &[]);
            c.wait_stable();
            c.assert_filled(200);
            assert_eq!(n2.int(&["CLUSTER", "COUNTKEYSINSLOT", slot]), 20);
            // Importing only, on a node without keys.
            n0.ok(&["CLUSTER", "SETSLOT", "16000", "IMPORTING", &n2.id]);
            let fixed2 = cli(bin, &args(&["--cluster", "fix", &a0]), b"", &[]);
            c.wait_stable();
            // Migrating only, on the owner.
            n1.ok(&["CLUSTER", "SETSLOT", "10000", "MIGRATING", &n0.id]);
            let fixed4 = cli(bin, &args(&["--cluster", "fix", &a0]), b"", &[]);
            c.wait_stable();
            c.assert_filled(200);
            let clean = cli(bin, &args(&["--cluster", "check", &a0]), b"", &[]);
            assert_eq!(clean.code, 0, "{}", clean.stdout);
            vec![
                ("check with an open slot".into(), check_open, norm()),
                ("fix case 1".into(), fixed1, norm()),
                ("fix case 2".into(), fixed2, norm()),
                ("fix case 4".into(), fixed4, norm()),
                ("check after fix".into(), clean, norm()),
            ]
        },
    );
}

/// `fix` of uncovered slots: slots without keys (covered by a random
/// master after the prompt, also declined), slots whose keys are on one
/// node, and `--cluster-search-multiple-owners`.
#[test]
fn fix_uncovered_slots() {
    differential(
        || {
            let c = Cluster::start(3, 0);
            c.fill(200);
            c
        },
        |bin, c| {
            let mut cover = Norm::new(c);
            cover.any_cover = true;
            let a0 = c.addr(0);
            // Forget slots 10-12 (no keys) and 8338 ({tag}, 20 keys on
            // node 1) everywhere, so the nodes agree they are uncovered.
            for n in &c.nodes {
                n.ok(&["CLUSTER", "DELSLOTS", "10", "11", "12", "8338"]);
            }
            let declined = cli(
                bin,
                &args(&["--cluster", "fix", &a0, "--cluster-yes"]),
                b"no\n",
                &[],
            );
            let fixed = cli(bin, &args(&["--cluster", "fix", &a0]), b"yes\nyes\n", &[]);
            c.wait_stable();
            c.assert_filled(200);
            assert_eq!(c.nodes[1].int(&["CLUSTER", "COUNTKEYSINSLOT", "8338"]), 20);
            // A key of slot 8338 planted on node 2, which does not own it.
            let (n1, n2) = (&c.nodes[1], &c.nodes[2]);
            n2.ok(&["CLUSTER", "SETSLOT", "8338", "IMPORTING", &n1.id]);
            let mut conn = n2.conn();
            assert_eq!(conn.cmd(&["ASKING"]), b"+OK\r\n");
            assert_eq!(conn.cmd(&["SET", "{tag}planted", "p"]), b"+OK\r\n");
            n2.ok(&["CLUSTER", "SETSLOT", "8338", "STABLE"]);
            let any = || {
                let mut n = Norm::new(c);
                n.any_slots = true;
                n
            };
            let owners = cli(
                bin,
                &args(&[
                    "--cluster",
                    "check",
                    &a0,
                    "--cluster-search-multiple-owners",
                ]),
                b"",
                &[],
            );
            let fixed_owners = cli(
                bin,
                &args(&["--cluster", "fix", &a0, "--cluster-search-multiple-owners"]),
                b"",
                &[],
            );
            // Upstream's fix MIGRATEs from a node that does not serve the
            // slot, which answers MOVED: the fix fails, the key stays.
            assert_eq!(fixed_owners.code, 1, "{}", fixed_owners.stdout);
            assert_eq!(n2.int(&["CLUSTER", "COUNTKEYSINSLOT", "8338"]), 1);
            c.wait_stable();
            let again = cli(
                bin,
                &args(&[
                    "--cluster",
                    "check",
                    &a0,
                    "--cluster-search-multiple-owners",
                ]),
                b"",
                &[],
            );
            vec![
                ("fix declined".into(), declined, cover),
                ("fix coverage".into(), fixed, {
                    let mut n = Norm::new(c);
                    n.any_cover = true;
                    n
                }),
                ("check multiple owners".into(), owners, any()),
                ("fix multiple owners".into(), fixed_owners, any()),
                ("check after the failed fix".into(), again, any()),
            ]
        },
    );
}

/// `import` from a standalone server (keys moved, then copied and
/// replaced), and its refusals (no `--cluster-from`, a cluster source).
#[test]
fn import_from_standalone() {
    let make = || {
        let mut c = Cluster::start(3, 0);
        c.nodes
            .push(Node::start("127.0.0.1", &["--cluster-enabled", "no"]));
        c.nodes.push(Node::start(
            "127.0.0.1",
            &["--cluster-enabled", "no", "--requirepass", "srcpw"],
        ));
        c
    };
    differential(make, |bin, c| {
        let src = &c.nodes[3];
        for i in 0..50 {
            src.ok(&["SET", &format!("imp{i}"), &format!("val{i}")]);
        }
        let norm = || Norm::new(c);
        let a0 = c.addr(0);
        let from = src.addr();
        let moved = cli(
            bin,
            &args(&["--cluster", "import", &a0, "--cluster-from", &from]),
            b"",
            &[],
        );
        assert_eq!(src.int(&["DBSIZE"]), 0);
        for i in 0..50 {
            assert_eq!(c.get(&format!("imp{i}")), Some(format!("val{i}")));
        }
        for i in 0..5 {
            src.ok(&["SET", &format!("imp{i}"), "new"]);
        }
        let busy = cli(
            bin,
            &args(&[
                "--cluster",
                "import",
                &a0,
                "--cluster-from",
                &from,
                "--cluster-copy",
            ]),
            b"",
            &[],
        );
        let copied = cli(
            bin,
            &args(&[
                "--cluster",
                "import",
                &a0,
                "--cluster-from",
                &from,
                "--cluster-copy",
                "--cluster-replace",
            ]),
            b"",
            &[],
        );
        assert_eq!(src.int(&["DBSIZE"]), 5);
        assert_eq!(c.get("imp3"), Some("new".to_string()));
        let cluster_src = cli(
            bin,
            &args(&["--cluster", "import", &a0, "--cluster-from", &c.addr(1)]),
            b"",
            &[],
        );
        let no_from = cli(bin, &args(&["--cluster", "import", &a0]), b"", &[]);
        // A source with a password: --cluster-from-pass, -user, -askpass.
        let locked = &c.nodes[4];
        let lf = locked.addr();
        for i in 0..3 {
            locked.ok(&["SET", &format!("locked{i}"), "x"]);
        }
        let no_pass = cli(
            bin,
            &args(&["--cluster", "import", &a0, "--cluster-from", &lf]),
            b"",
            &[],
        );
        let wrong_pass = cli(
            bin,
            &args(&[
                "--cluster",
                "import",
                &a0,
                "--cluster-from",
                &lf,
                "--cluster-from-pass",
                "bad",
            ]),
            b"",
            &[],
        );
        let with_pass = cli(
            bin,
            &args(&[
                "--cluster",
                "import",
                &a0,
                "--cluster-from",
                &lf,
                "--cluster-from-user",
                "default",
                "--cluster-from-pass",
                "srcpw",
                "--cluster-copy",
            ]),
            b"",
            &[],
        );
        let asked = cli(
            bin,
            &args(&[
                "--cluster",
                "import",
                &a0,
                "--cluster-from",
                &lf,
                "--cluster-from-askpass",
                "--cluster-replace",
            ]),
            b"srcpw\n",
            &[],
        );
        assert_eq!(locked.int(&["DBSIZE"]), 0);
        assert_eq!(c.get("locked2"), Some("x".to_string()));
        let mut busy = busy;
        // Which key SCAN meets first differs: keep the error lines only.
        busy.stdout = busy
            .stdout
            .lines()
            .filter(|l| !l.starts_with("Migrating "))
            .map(|l| format!("{l}\n"))
            .collect();
        vec![
            ("import".into(), moved, norm()),
            ("import existing keys".into(), busy, norm()),
            ("import copy replace".into(), copied, norm()),
            ("import from a cluster node".into(), cluster_src, norm()),
            ("import without --cluster-from".into(), no_from, norm()),
            ("import, source without password".into(), no_pass, norm()),
            ("import, wrong source password".into(), wrong_pass, norm()),
            ("import, --cluster-from-pass".into(), with_pass, norm()),
            ("import, --cluster-from-askpass".into(), asked, norm()),
        ]
    });
}

/// `backup`: the same messages from both clients on one cluster, the same
/// `nodes.json` (ids and addresses normalised), an RDB file per master
/// that holds its keys; also with an open slot (the warning).
#[test]
fn backup_writes_rdbs_and_nodes_json() {
    let c = Cluster::start(3, 1);
    c.fill(100);
    c.wait_synced();
    let dirs = [TempDir::new(), TempDir::new()];
    let mut outputs = Vec::new();
    for (bin, dir) in [reference(), ours()].iter().zip(dirs.iter()) {
        let norm = Norm::new(&c).with(dir.path_str(), "<DIR>");
        let out = cli(
            bin,
            &args(&["--cluster", "backup", &c.addr(0), dir.path_str()]),
            b"",
            &[],
        );
        assert_eq!(out.code, 0, "{out:?}");
        let json = std::fs::read_to_string(dir.join("nodes.json")).unwrap();
        let mut rdbs = Vec::new();
        for n in c.nodes.iter().filter(|n| n.is_master()) {
            let f = dir.join(format!("redis-node-{}-{}-{}.rdb", n.ip, n.port, n.id));
            let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(
                data.starts_with(b"REDIS00"),
                "{} is not an RDB",
                f.display()
            );
            rdbs.push(f);
        }
        assert_eq!(rdbs.len(), 3);
        outputs.push((norm.out(&out), norm.text(&json)));
    }
    assert_same("backup", &outputs[0].0, &outputs[1].0);
    assert_eq!(outputs[0].1, outputs[1].1, "nodes.json differs");
    // With an open slot (and a directory given with a trailing slash):
    // the problems are counted in nodes.json.
    c.nodes[0].ok(&["CLUSTER", "SETSLOT", "5", "MIGRATING", &c.nodes[1].id]);
    let mut again = Vec::new();
    for (bin, dir) in [reference(), ours()].iter().zip(dirs.iter()) {
        let norm = Norm::new(&c).with(dir.path_str(), "<DIR>");
        let d = format!("{}/", dir.path_str());
        let out = cli(
            bin,
            &args(&["--cluster", "backup", &c.addr(0), &d]),
            b"",
            &[],
        );
        let json = norm.text(&std::fs::read_to_string(dir.join("nodes.json")).unwrap());
        again.push((norm.out(&out), json));
    }
    assert_same("backup with an open slot", &again[0].0, &again[1].0);
    assert_eq!(again[0].1, again[1].1, "nodes.json differs");
    assert!(
        again[1].1.contains("\"migrating\": {\"5\": \"<N1>\"}"),
        "{}",
        again[1].1
    );
}

/// Password-protected nodes: `-a` (and `REDISCLI_AUTH`) for every node,
/// MIGRATE carries the password when resharding keys; a wrong password.
#[test]
fn auth_for_every_node() {
    let extra = ["--requirepass", "s3cret", "--masterauth", "s3cret"];
    differential(
        || {
            let c = Cluster::start_with(3, 0, &extra);
            c.fill(100);
            c
        },
        |bin, c| {
            let norm = || Norm::new(c);
            let a0 = c.addr(0);
            let checked = cli(
                bin,
                &args(&["-a", "s3cret", "--cluster", "check", &a0]),
                b"",
                &[],
            );
            let env_auth = cli(
                bin,
                &args(&["--cluster", "info", &a0]),
                b"",
                &[("REDISCLI_AUTH", "s3cret")],
            );
            let wrong = cli(
                bin,
                &args(&["-a", "nope", "--no-auth-warning", "--cluster", "info", &a0]),
                b"",
                &[],
            );
            let none = cli(bin, &args(&["--cluster", "info", &a0]), b"", &[]);
            let moved = cli(
                bin,
                &args(&[
                    "-a",
                    "s3cret",
                    "--cluster",
                    "reshard",
                    &a0,
                    "--cluster-from",
                    &c.nodes[1].id,
                    "--cluster-to",
                    &c.nodes[0].id,
                    "--cluster-slots",
                    "200",
                    "--cluster-yes",
                ]),
                b"",
                &[],
            );
            c.wait_stable();
            c.assert_filled(100);
            vec![
                ("check -a".into(), checked, norm()),
                ("info REDISCLI_AUTH".into(), env_auth, norm()),
                ("wrong password".into(), wrong, norm()),
                ("no password".into(), none, norm()),
                ("reshard with keys -a".into(), moved, norm()),
            ]
        },
    );
}

/// A master that cannot be reached: `check` reports the uncovered slots,
/// `fix` refuses without `--cluster-fix-with-unreachable-masters` and
/// covers them with it (after the prompt).
#[test]
fn fix_with_an_unreachable_master() {
    differential(
        || {
            let c = Cluster::start(3, 0);
            c.fill(60);
            c
        },
        |bin, c| {
            let mut norm = Norm::new(c);
            norm.any_cover = true;
            let norm = || {
                let mut n = Norm::new(c);
                n.any_cover = true;
                n.any_slots = true;
                n
            };
            let a0 = c.addr(0);
            c.nodes[2].kill();
            let checked = cli(bin, &args(&["--cluster", "check", &a0]), b"", &[]);
            let refused = cli(bin, &args(&["--cluster", "fix", &a0]), b"yes\n", &[]);
            let forced = cli(
                bin,
                &args(&[
                    "--cluster",
                    "fix",
                    &a0,
                    "--cluster-fix-with-unreachable-masters",
                ]),
                b"yes\n",
                &[],
            );
            c.wait_until("the slots covered again", |c| {
                c.nodes[..2]
                    .iter()
                    .all(|n| n.text(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
                    && view(&c.nodes[0].text(&["CLUSTER", "NODES"]))
                        == view(&c.nodes[1].text(&["CLUSTER", "NODES"]))
            });
            let after = cli(bin, &args(&["--cluster", "check", &a0]), b"", &[]);
            assert_eq!(after.code, 0, "{}", after.stdout);
            vec![
                ("check with a master down".into(), checked, norm()),
                ("fix refused".into(), refused, norm()),
                ("fix with unreachable masters".into(), forced, norm()),
                ("check after".into(), after, norm()),
            ]
        },
    );
}
