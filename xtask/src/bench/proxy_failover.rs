//! The failover half of `cargo xtask bench proxy`: how long a client
//! writing continuously cannot write while Sentinel fails over, through
//! our `redis-proxy` (sentinel mode) and through HAProxy running seed
//! 002's tcp-check, both in front of the same group in the same round.
//!
//! A round: on fresh loopback ports, a release redis-server primary and
//! replica of ours (`requirepass` + `masterauth`), three of our sentinels
//! with the guide's settings (quorum 2, `down-after-milliseconds 3000`,
//! `failover-timeout 6000`, `parallel-syncs 1`, `auth-pass`), our proxy
//! (`--sentinel` all three, `--backend-pass`, `--failover-hold-ms 10000`
//! as docs/proxy.md configures seed 002) and `/usr/sbin/haproxy` with the
//! guide's backend (AUTH, PING, `info replication`, expect `role:master`,
//! QUIT; `check inter 3s`, HAProxy's default `fall 3 rise 2`). Once every
//! sentinel knows the replica and its peers, the proxy knows the primary
//! and HAProxy has marked the replica DOWN, one writer thread per front
//! `RPUSH`es increasing numbers to its own list (500 ms per-request
//! timeout, 50 ms pause after an error, reconnecting after I/O errors).
//! Then the primary gets SIGTERM (as `systemctl stop` does) and the round
//! waits until both fronts write again, plus a second.
//!
//! Per front: the window is the longest time between two successive
//! acknowledgements, the errors are the failed attempts (error replies,
//! timeouts, refused or closed connections). Every acknowledged push must
//! be on the new primary where its reply put it, or the round fails (a
//! lost write is a defect, not a figure). The target is a window
//! ratio proxy/HAProxy of at most 1/3: reported, never asserted.
//!
//! Two kinds of rounds alternate: *normal* (as above) and *trigger*, the
//! same with the proxy started with `--failover-on-refused-ms 1000`: it
//! asks the sentinels to fail over once every connect to the primary was
//! refused for a second and most sentinels cannot reach it either, well
//! before their `down-after-milliseconds`. The existing figures come from
//! the normal rounds only. In a trigger round HAProxy profits from the
//! early failover too, so the trigger rounds' proxy window is reported as
//! a figure of its own, its ratio taken against the median HAProxy window
//! of the *normal* rounds (what the proxy replaces); the trigger rounds'
//! HAProxy window and `failovers_requested` are in the notes and the JSON.
//! Rounds: `--rounds R` of each kind, else 5 (quick: 2); a failed round
//! keeps every log under `<target>/bench/proxy-failover-failed/`. Every
//! process is killed by PID when its guard drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{encode, info_field, Client, Reply};
use super::report::{self, fmt, median, obj, ratio, Table};
use super::server::{copy_tree, fresh_dir};
use super::Ctx;
use crate::bench_sentinel::{path_str, pick_port, start, Proc, Scratch};
use crate::json::Json;

/// Debian's HAProxy.
pub const HAPROXY: &str = "/usr/sbin/haproxy";
const PASS: &str = "TestPass";
const MASTER: &str = "master01";
const SENTINELS: usize = 3;
const QUORUM: u32 = 2;
/// The guide's sentinel settings.
const DOWN_AFTER_MS: u64 = 3000;
const FAILOVER_TIMEOUT_MS: u64 = 6000;
/// The guide's `check inter 3s`; fall and rise are HAProxy's defaults.
const HAPROXY_INTER_MS: u64 = 3000;
/// The proxy's hold, as docs/proxy.md configures seed 002.
const HOLD_MS: u64 = 10_000;
/// The proxy's `--failover-on-refused-ms` in trigger rounds.
const TRIGGER_MS: u64 = 1000;
/// The target for the window ratio proxy/HAProxy.
pub const TARGET_RATIO: f64 = 1.0 / 3.0;

/// A writer's per-request limit (connect, AUTH, RPUSH each).
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
/// A writer's pause after a failed attempt.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// A writer's pause after an acknowledged one.
const PACE: Duration = Duration::from_millis(2);
const WRITER_LIMIT: Duration = Duration::from_secs(180);
const WRITER_MAX_ATTEMPTS: u64 = 1_000_000;
/// Acks each writer needs before the stop, and after the switch.
const ACKS_BEFORE: u64 = 100;
const ACKS_AFTER: u64 = 50;

const START_LIMIT: Duration = Duration::from_secs(15);
const SETUP_LIMIT: Duration = Duration::from_secs(40);
const STOP_LIMIT: Duration = Duration::from_secs(20);
const FAILOVER_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);

/// The two fronts, in column order.
const FRONTS: [&str; 2] = ["proxy", "haproxy"];

/// What one writer saw; times in seconds since the round's clock origin.
#[derive(Debug, Default, Clone)]
pub(crate) struct WriterLog {
    /// (pushed value, list length replied, when the reply arrived).
    pub(crate) acks: Vec<(u64, u64, f64)>,
    pub(crate) errors: u64,
    pub(crate) attempts: u64,
}

/// The two kinds of rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The proxy with its defaults: the sentinels fail over on their own.
    Normal,
    /// The proxy with `--failover-on-refused-ms` [`TRIGGER_MS`].
    Trigger,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Trigger => "trigger",
        }
    }
}

/// The figures of one round, in seconds after the SIGTERM.
#[derive(Debug, Clone, Copy)]
struct Sample {
    kind: Kind,
    /// The proxy's `failovers_requested` at the end of the round.
    requested: u64,
    /// Longest gap between acks, per front.
    window: [f64; 2],
    errors: [f64; 2],
    /// The first ack after that gap, per front.
    back: [f64; 2],
    /// The primary's exit.
    exited: f64,
    /// The first `+switch-master` any sentinel published.
    switch: f64,
}

/// The longest time between two successive acknowledgements: (length,
/// last ack before it, first ack after it).
pub(crate) fn longest_gap(log: &WriterLog) -> Option<(f64, f64, f64)> {
    log.acks
        .windows(2)
        .map(|w| (w[1].2 - w[0].2, w[0].2, w[1].2))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Acknowledged pushes that are not on `list` where their reply put them
/// (`list[len - 1] == value`), and replies whose length did not grow.
pub(crate) fn misplaced(log: &WriterLog, list: &[u64]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut prev = 0;
    for &(value, len, _) in &log.acks {
        let at = usize::try_from(len).ok().and_then(|l| l.checked_sub(1));
        match at.and_then(|i| list.get(i)) {
            Some(&v) if v == value => {}
            other => bad.push(format!(
                "{value} acknowledged at length {len}, found {other:?}"
            )),
        }
        if len <= prev {
            bad.push(format!("{value}: length {len} after {prev}"));
        }
        prev = len;
    }
    bad
}

/// Seed 002's HAProxy backend (tcp-check AUTH, PING, `info replication`,
/// expect `role:master`, QUIT), checked every `inter 3s` with HAProxy's
/// default fall/rise, plus an admin socket for `show stat`.
pub(crate) fn haproxy_config(front: u16, servers: &[(&str, u16)], sock: &str) -> String {
    let mut cfg = format!(
        "global\n  maxconn 256\n  stats socket {sock} mode 600 level admin\n\
         defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n\
         frontend ft_redis\n  bind 127.0.0.1:{front}\n  default_backend bk_redis\n\
         backend bk_redis\n  option tcp-check\n  tcp-check connect\n\
         \x20 tcp-check send AUTH\\ {PASS}\\r\\n\n  tcp-check expect string +OK\n\
         \x20 tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n\
         \x20 tcp-check send info\\ replication\\r\\n\n  tcp-check expect string role:master\n\
         \x20 tcp-check send QUIT\\r\\n\n  tcp-check expect string +OK\n"
    );
    for (name, port) in servers {
        cfg.push_str(&format!(
            "  server {name} 127.0.0.1:{port} check inter {HAPROXY_INTER_MS}ms\n"
        ));
    }
    cfg
}

/// The status per server of backend `bk_redis` in `show stat` CSV.
pub(crate) fn parse_show_stat(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut lines = text.lines();
    let head: Vec<&str> = lines
        .next()
        .ok_or("empty show stat")?
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (Some(px), Some(sv), Some(st)) = (col("pxname"), col("svname"), col("status")) else {
        return Err(format!("show stat header {head:?}"));
    };
    Ok(lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.get(px) == Some(&"bk_redis"))
        .filter_map(|f| Some((f.get(sv)?.to_string(), f.get(st)?.to_string())))
        .filter(|(sv, _)| sv != "BACKEND")
        .collect())
}

/// True when a `/proc/<pid>/stat` line says the process is a zombie.
pub(crate) fn stat_is_zombie(stat: &str) -> bool {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// True when `pid` has exited (gone, or a zombie not reaped yet).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat_is_zombie(&stat),
    }
}

/// "met" / "missed" for a window ratio, "-" when there is none.
pub(crate) fn target(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r <= TARGET_RATIO => "met".into(),
        Some(_) => format!("missed (>{TARGET_RATIO:.2})"),
        None => "-".into(),
    }
}

/// One writer connection: one-line replies, every read and write bounded
/// by [`REQUEST_TIMEOUT`].
struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Session {
    fn open(addr: SocketAddr, auth: bool) -> Result<Session, String> {
        let s = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)
            .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(REQUEST_TIMEOUT))
            .and_then(|_| s.set_write_timeout(Some(REQUEST_TIMEOUT)))
            .and_then(|_| s.set_nodelay(true))
            .map_err(|e| format!("socket options: {e}"))?;
        let writer = s.try_clone().map_err(|e| format!("clone: {e}"))?;
        let mut session = Session {
            reader: BufReader::new(s),
            writer,
        };
        if auth {
            let r = session.request(&["AUTH", PASS])?;
            if r != "+OK" {
                return Err(format!("AUTH: {r}"));
            }
        }
        Ok(session)
    }

    fn request(&mut self, args: &[&str]) -> Result<String, String> {
        let mut out = Vec::new();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        encode(&mut out, &a);
        self.writer
            .write_all(&out)
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("closed".into()),
            Ok(_) if line.ends_with("\r\n") => Ok(line.trim_end().to_string()),
            Ok(_) => Err(format!("partial reply {line:?}")),
            Err(e) => Err(format!("read: {e}")),
        }
    }
}

/// Pushes 1, 2, 3, ... to `key` through `addr` until `stop` (or its hard
/// limits), counting acknowledgements in `acked`; times since `origin`.
fn writer(
    addr: SocketAddr,
    auth: bool,
    key: &str,
    origin: Instant,
    stop: &AtomicBool,
    acked: &AtomicU64,
) -> WriterLog {
    let mut log = WriterLog::default();
    let started = Instant::now();
    let mut session: Option<Session> = None;
    while !stop.load(Ordering::Relaxed)
        && started.elapsed() < WRITER_LIMIT
        && log.attempts < WRITER_MAX_ATTEMPTS
    {
        log.attempts += 1;
        let value = log.attempts;
        let s = match session.as_mut() {
            Some(s) => s,
            None => match Session::open(addr, auth) {
                Ok(s) => session.insert(s),
                Err(_) => {
                    log.errors += 1;
                    std::thread::sleep(RETRY_PAUSE);
                    continue;
                }
            },
        };
        match s.request(&["RPUSH", key, &value.to_string()]) {
            Ok(r) => match r.strip_prefix(':').and_then(|n| n.parse::<u64>().ok()) {
                Some(len) => {
                    log.acks.push((value, len, origin.elapsed().as_secs_f64()));
                    acked.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(PACE);
                }
                None => {
                    log.errors += 1;
                    std::thread::sleep(RETRY_PAUSE);
                }
            },
            Err(_) => {
                session = None;
                log.errors += 1;
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
    log
}

/// A client on `port` that has sent `AUTH`.
fn authed(port: u16) -> Result<Client, String> {
    let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
    c.cmd(&["AUTH", PASS])?;
    Ok(c)
}

/// A flat field/value array's value for `name`.
fn field(r: &Reply, name: &str) -> Option<String> {
    let Reply::Array(Some(items)) = r else {
        return None;
    };
    items.chunks(2).find_map(|kv| match kv {
        [Reply::Bulk(Some(k)), Reply::Bulk(Some(v))] if k.as_slice() == name.as_bytes() => {
            Some(String::from_utf8_lossy(v).into_owned())
        }
        _ => None,
    })
}

fn entries(r: &Reply) -> &[Reply] {
    match r {
        Reply::Array(Some(items)) => items,
        _ => &[],
    }
}

/// Starts a password-protected server in `root/<name>` on a fresh port
/// and waits until it answers `AUTH` + `PING`; retries on a port race.
fn start_server(
    bin: &Path,
    root: &Path,
    name: &str,
    taken: &mut Vec<u16>,
    primary: Option<u16>,
) -> Result<Proc, String> {
    let dir = root.join(name);
    let mut last = String::new();
    for _ in 0..4 {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = pick_port(taken)?;
        taken.push(port);
        let d = path_str(&dir)?;
        let mut cmd = Command::new(bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--requirepass", PASS, "--masterauth", PASS])
            .args(["--dir", d, "--logfile", &format!("{d}/log")]);
        if let Some(p) = primary {
            cmd.args(["--replicaof", "127.0.0.1", &p.to_string()]);
        }
        let p = Proc::spawn(name, cmd, port, &dir)?;
        let t0 = Instant::now();
        loop {
            let ping = authed(port).and_then(|mut c| c.cmd(&["PING"]));
            if matches!(ping, Ok(Reply::Simple(ref s)) if s == "PONG") {
                return Ok(p);
            }
            if exited(p.pid()) || t0.elapsed() > START_LIMIT {
                last = format!("{name} did not answer AUTH + PING\n{}", p.tail(20));
                break;
            }
            std::thread::sleep(POLL);
        }
        if !last.to_ascii_lowercase().contains("in use") {
            break;
        }
    }
    Err(last)
}

/// Our sentinel `i` with the guide's settings, watching `primary`.
fn start_sentinel(
    bin: &Path,
    root: &Path,
    i: usize,
    taken: &mut Vec<u16>,
    primary: u16,
) -> Result<Proc, String> {
    start(
        &format!("sentinel{i}"),
        root,
        &format!("sentinel{i}"),
        taken,
        &|port, dir| {
            let d = path_str(dir)?;
            let conf = dir.join("sentinel.conf");
            let text = format!(
                "port {port}\nbind 127.0.0.1\ndir \"{d}\"\nlogfile \"{d}/log\"\n\
                 sentinel monitor {MASTER} 127.0.0.1 {primary} {QUORUM}\n\
                 sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n\
                 sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n\
                 sentinel parallel-syncs {MASTER} 1\n\
                 sentinel auth-pass {MASTER} {PASS}\n"
            );
            std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
            let mut c = Command::new(bin);
            c.arg(&conf);
            Ok(c)
        },
    )
}

/// HAProxy's `show stat` statuses, from its admin socket.
fn haproxy_status(sock: &Path) -> Result<Vec<(String, String)>, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"show stat\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    parse_show_stat(&text)
}

/// Polls `probe` until it says `Ok(true)`, failing after `limit` with
/// what it last said.
fn wait_until(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let t0 = Instant::now();
    let mut last = String::new();
    while t0.elapsed() < limit {
        match probe() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = e,
        }
        std::thread::sleep(POLL);
    }
    Err(format!("{what}: not within {limit:?} (last error: {last})"))
}

/// Subscribes to `+switch-master` on the sentinel at `port`; the thread
/// sends the arrival time of the first message and ends (or ends when
/// the sentinel is killed at the end of the round).
fn watch_switch(port: u16, tx: mpsc::Sender<Instant>) -> Result<(), String> {
    let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let mut out = Vec::new();
    encode(&mut out, &[b"SUBSCRIBE", b"+switch-master"]);
    c.send(&out)?;
    c.read_reply()?;
    std::thread::spawn(move || {
        while let Ok(r) = c.read_reply() {
            let is_message = matches!(entries(&r).first(),
                Some(Reply::Bulk(Some(k))) if k.as_slice() == b"message");
            if is_message {
                let _ = tx.send(Instant::now());
                return;
            }
        }
    });
    Ok(())
}

/// The whole list at `key` behind `c`, as numbers.
fn list(c: &mut Client, key: &str) -> Result<Vec<u64>, String> {
    let r = c.cmd(&["LRANGE", key, "0", "-1"])?;
    entries(&r)
        .iter()
        .map(|i| match i {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b)
                .parse()
                .map_err(|_| format!("LRANGE {key}: {i:?}")),
            _ => Err(format!("LRANGE {key}: {i:?}")),
        })
        .collect()
}

/// Everything rounds share.
struct Setup<'a> {
    server: &'a Path,
    sentinel: &'a Path,
    proxy: &'a Path,
}

/// The steps of a round; processes go into `procs` as they start so the
/// caller can report their logs when a step fails.
fn round_steps(
    s: &Setup,
    kind: Kind,
    root: &Path,
    procs: &mut Vec<Proc>,
) -> Result<Sample, String> {
    let mut taken = Vec::new();
    let primary = start_server(s.server, root, "primary", &mut taken, None)?;
    let pport = primary.port();
    let ppid = primary.pid();
    procs.push(primary);
    let replica = start_server(s.server, root, "replica", &mut taken, Some(pport))?;
    let rport = replica.port();
    procs.push(replica);
    wait_until(SETUP_LIMIT, "replica link up", || {
        let info = authed(rport)?.info("replication")?;
        Ok(info_field(&info, "master_link_status") == Some("up"))
    })?;

    // HAProxy first: its checks take a while to mark the replica down.
    let hdir = root.join("haproxy");
    std::fs::create_dir_all(&hdir).map_err(|e| format!("{}: {e}", hdir.display()))?;
    let front = pick_port(&taken)?;
    taken.push(front);
    let sock = hdir.join("haproxy.sock");
    let cfg = hdir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        haproxy_config(
            front,
            &[("redis1", pport), ("redis2", rport)],
            path_str(&sock)?,
        ),
    )
    .map_err(|e| format!("{}: {e}", cfg.display()))?;
    let mut cmd = Command::new(HAPROXY);
    cmd.arg("-db").arg("-f").arg(&cfg);
    let haproxy = Proc::spawn("haproxy", cmd, front, &hdir)?;
    let hpid = haproxy.pid();
    procs.push(haproxy);

    let mut sentinel_ports = Vec::new();
    for i in 1..=SENTINELS {
        let p = start_sentinel(s.sentinel, root, i, &mut taken, pport)?;
        sentinel_ports.push(p.port());
        procs.push(p);
    }
    for (i, &port) in sentinel_ports.iter().enumerate() {
        wait_until(
            SETUP_LIMIT,
            &format!("sentinel{} to know the replica and its peers", i + 1),
            || {
                let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
                let replicas = c.cmd(&["SENTINEL", "REPLICAS", MASTER])?;
                let peers = c.cmd(&["SENTINEL", "SENTINELS", MASTER])?;
                let r = entries(&replicas);
                Ok(r.len() == 1
                    && field(&r[0], "flags").as_deref() == Some("slave")
                    && field(&r[0], "master-link-status").as_deref() == Some("ok")
                    && entries(&peers).len() == SENTINELS - 1)
            },
        )?;
    }
    let list_arg: Vec<String> = sentinel_ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let list_arg = list_arg.join(",");
    let proxy = start("redis-proxy", root, "proxy", &mut taken, &|port, dir| {
        let mut cmd = Command::new(s.proxy);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--sentinel", &list_arg, "--master", MASTER])
            .args(["--backend-pass", PASS])
            .args(["--failover-hold-ms", &HOLD_MS.to_string()])
            .args(["--logfile", &format!("{}/log", path_str(dir)?)]);
        if kind == Kind::Trigger {
            cmd.args(["--failover-on-refused-ms", &TRIGGER_MS.to_string()]);
        }
        Ok(cmd)
    })?;
    let proxy_port = proxy.port();
    procs.push(proxy);
    let want = format!("127.0.0.1:{pport}");
    wait_until(SETUP_LIMIT, "the proxy to learn the primary", || {
        let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], proxy_port)))?;
        Ok(info_field(&c.info("proxy")?, "primary") == Some(want.as_str()))
    })?;
    wait_until(SETUP_LIMIT, "HAProxy: redis1 UP, redis2 DOWN", || {
        if exited(hpid) {
            return Err("haproxy exited".into());
        }
        let st = haproxy_status(&sock)?;
        let is = |n: &str, s: &str| st.iter().any(|(a, b)| a == n && b.starts_with(s));
        Ok(is("redis1", "UP") && is("redis2", "DOWN"))
    })?;

    let (tx, switches) = mpsc::channel();
    for &port in &sentinel_ports {
        watch_switch(port, tx.clone())?;
    }
    drop(tx);
    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let fronts = [
        (proxy_port, false, "log:proxy"),
        (front, true, "log:haproxy"),
    ];
    let writers: Vec<_> = fronts
        .iter()
        .zip(&counts)
        .map(|(&(port, auth, key), count)| {
            let (stop, count) = (stop.clone(), count.clone());
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            std::thread::spawn(move || writer(addr, auth, key, origin, &stop, &count))
        })
        .collect();
    let acks = || -> Vec<u64> { counts.iter().map(|c| c.load(Ordering::Relaxed)).collect() };
    let steps = (|| {
        wait_until(SETUP_LIMIT, "both writers to write", || {
            Ok(acks().iter().all(|&n| n >= ACKS_BEFORE))
        })?;
        let t0 = Instant::now();
        if !redis_testkit::process::signal(ppid, "-TERM") {
            return Err(format!("SIGTERM to the primary (pid {ppid}) failed"));
        }
        wait_until(STOP_LIMIT, "the primary to exit after SIGTERM", || {
            Ok(exited(ppid))
        })?;
        let exited_at = t0.elapsed().as_secs_f64();
        let first = switches
            .recv_timeout(FAILOVER_LIMIT)
            .map_err(|_| format!("no +switch-master within {FAILOVER_LIMIT:?}"))?;
        let at_switch = acks();
        wait_until(FAILOVER_LIMIT, "both fronts to write again", || {
            Ok(acks()
                .iter()
                .zip(&at_switch)
                .all(|(n, s)| *n >= s + ACKS_AFTER))
        })?;
        std::thread::sleep(Duration::from_secs(1));
        Ok((t0, exited_at, first))
    })();
    stop.store(true, Ordering::Relaxed);
    let logs: Vec<WriterLog> = writers
        .into_iter()
        .map(|w| w.join().map_err(|_| "a writer thread panicked".to_string()))
        .collect::<Result<_, _>>()?;
    let (t0, exited_at, first_switch) = steps?;
    let t0s = t0.duration_since(origin).as_secs_f64();
    let requested = {
        let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], proxy_port)))?;
        let info = c.info("proxy")?;
        info_field(&info, "failovers_requested")
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no failovers_requested in the proxy's INFO: {info}"))?
    };

    // Every acknowledged push is on the new primary where its reply said.
    let mut c = authed(rport)?;
    let mut window = [0.0; 2];
    let mut back = [0.0; 2];
    let mut errors = [0.0; 2];
    for (i, (log, &(_, _, key))) in logs.iter().zip(&fronts).enumerate() {
        let have = list(&mut c, key)?;
        let bad = misplaced(log, &have);
        if !bad.is_empty() {
            return Err(format!(
                "{}: {} of {} acknowledged writes lost or misplaced on the new primary: {:?}",
                FRONTS[i],
                bad.len(),
                log.acks.len(),
                &bad[..bad.len().min(10)]
            ));
        }
        let (gap, _, after) = longest_gap(log).ok_or("fewer than two acks")?;
        window[i] = gap;
        back[i] = after - t0s;
        errors[i] = log.errors as f64;
    }
    Ok(Sample {
        kind,
        requested,
        window,
        errors,
        back,
        exited: exited_at,
        switch: first_switch.duration_since(t0).as_secs_f64(),
    })
}

/// One round; on failure every process is killed, the logs are kept under
/// `<target>/bench/proxy-failover-failed/` and their tails go into the
/// error.
fn round(s: &Setup, kind: Kind, n: usize) -> Result<Sample, String> {
    let root = Scratch(fresh_dir()?);
    let mut procs = Vec::new();
    match round_steps(s, kind, &root.0, &mut procs) {
        Ok(sample) => Ok(sample),
        Err(e) => {
            for p in procs.iter_mut() {
                p.kill();
            }
            let keep = crate::bench::target_dir()
                .join("bench/proxy-failover-failed")
                .join(format!("round{n}-{}", kind.name()));
            let _ = std::fs::remove_dir_all(&keep);
            let kept = match copy_tree(&root.0, &keep) {
                Ok(()) => format!("all logs kept in {}", keep.display()),
                Err(c) => format!("logs not kept: {c}"),
            };
            let tails: Vec<String> = procs.iter().map(|p| p.tail(30)).collect();
            Err(format!(
                "proxy failover round {n} ({}): {e}\n{}({kept})",
                kind.name(),
                tails.join("")
            ))
        }
    }
}

fn stats(v: &[f64]) -> (Option<f64>, Option<f64>) {
    (median(v), v.iter().copied().reduce(f64::max))
}

/// Runs the rounds; the table and the JSON of the failover comparison.
pub fn run(ctx: &Ctx, proxy: &Path) -> Result<(Table, Json), String> {
    let rounds = ctx.opts.sentinel_rounds as usize;
    let mut t = Table::new(
        &format!(
            "proxy failover window vs HAProxy tcp-check ({rounds} normal + {rounds} trigger rounds, SIGTERM of the primary)"
        ),
        &[
            "figure",
            "proxy",
            "proxy max",
            "haproxy",
            "haproxy max",
            "proxy/haproxy",
            "issue-18 target",
        ],
    );
    if !Path::new(HAPROXY).is_file() {
        let e = format!("{HAPROXY} missing (`apt-get install haproxy`, or `cargo xtask test` as root): failover not measured");
        t.notes.push(e.clone());
        return Ok((t, obj(vec![("error", report::s(&e))])));
    }
    let sentinel: PathBuf = match &ctx.ours_sentinel {
        Some(p) => p.clone(),
        None => super::ours_binaries(&["redis-sentinel"])?
            .into_iter()
            .next()
            .ok_or("no redis-sentinel")?,
    };
    let setup = Setup {
        server: &ctx.ours,
        sentinel: &sentinel,
        proxy,
    };
    let mut samples = Vec::new();
    let mut triggered = Vec::new();
    // normal, trigger, normal, trigger, ...
    let plan = (1..=rounds).flat_map(|n| [(n, Kind::Normal), (n, Kind::Trigger)]);
    for (i, (n, kind)) in plan.enumerate() {
        let s = round(&setup, kind, i + 1)?;
        eprintln!(
            "bench: proxy failover round {n}/{rounds} ({}): window proxy {:.3} s ({} errors), haproxy {:.3} s ({} errors); primary exited {:.3} s, +switch-master {:.3} s, writing again {:.3} / {:.3} s after SIGTERM; failovers_requested {}",
            kind.name(), s.window[0], s.errors[0], s.window[1], s.errors[1], s.exited, s.switch, s.back[0], s.back[1], s.requested
        );
        match s.kind {
            Kind::Normal => samples.push(s),
            Kind::Trigger => triggered.push(s),
        }
    }

    type Figure = (&'static str, &'static str, usize, fn(&Sample, usize) -> f64);
    let figures: [Figure; 3] = [
        ("window_s", "unavailability window s", 3, |s, i| s.window[i]),
        ("errors", "errors seen by the writer", 0, |s, i| s.errors[i]),
        (
            "writing_again_s",
            "first write after SIGTERM s",
            3,
            |s, i| s.back[i],
        ),
    ];
    let mut json = vec![
        ("rounds".to_string(), Json::Num(rounds.to_string())),
        (
            "down_after_milliseconds".to_string(),
            Json::Num(DOWN_AFTER_MS.to_string()),
        ),
        (
            "haproxy_inter_milliseconds".to_string(),
            Json::Num(HAPROXY_INTER_MS.to_string()),
        ),
        ("target_ratio".to_string(), report::num(Some(TARGET_RATIO))),
    ];
    let list = |v: &[f64]| Json::Arr(v.iter().map(|x| report::num(Some(*x))).collect());
    for (key, label, prec, get) in figures {
        let p: Vec<f64> = samples.iter().map(|s| get(s, 0)).collect();
        let h: Vec<f64> = samples.iter().map(|s| get(s, 1)).collect();
        let (pm, pmax) = stats(&p);
        let (hm, hmax) = stats(&h);
        let r = ratio(pm, hm);
        t.row(vec![
            label.to_string(),
            fmt(pm, prec),
            fmt(pmax, prec),
            fmt(hm, prec),
            fmt(hmax, prec),
            fmt(r, 2),
            if key == "window_s" {
                target(r)
            } else {
                "-".into()
            },
        ]);
        json.push((
            key.to_string(),
            obj(vec![
                ("proxy", report::num(pm)),
                ("haproxy", report::num(hm)),
                ("ratio", report::num(r)),
                ("proxy_max", report::num(pmax)),
                ("haproxy_max", report::num(hmax)),
                ("proxy_samples", list(&p)),
                ("haproxy_samples", list(&h)),
            ]),
        ));
    }
    // The trigger rounds' proxy window against the normal rounds' HAProxy.
    let normal_haproxy: Vec<f64> = samples.iter().map(|s| s.window[1]).collect();
    let (nh, nhmax) = stats(&normal_haproxy);
    let tp: Vec<f64> = triggered.iter().map(|s| s.window[0]).collect();
    let th: Vec<f64> = triggered.iter().map(|s| s.window[1]).collect();
    let tsw: Vec<f64> = triggered.iter().map(|s| s.switch).collect();
    let treq: Vec<f64> = triggered.iter().map(|s| s.requested as f64).collect();
    let (tpm, tpmax) = stats(&tp);
    let tr = ratio(tpm, nh);
    t.row(vec![
        format!(
            "window s, proxy --failover-on-refused-ms {TRIGGER_MS} (vs normal rounds' haproxy)"
        ),
        fmt(tpm, 3),
        fmt(tpmax, 3),
        fmt(nh, 3),
        fmt(nhmax, 3),
        fmt(tr, 2),
        target(tr),
    ]);
    json.push((
        "trigger".to_string(),
        obj(vec![
            ("failover_on_refused_ms", Json::Num(TRIGGER_MS.to_string())),
            ("rounds", Json::Num(triggered.len().to_string())),
            ("proxy_window_s", report::num(tpm)),
            ("proxy_window_max_s", report::num(tpmax)),
            ("haproxy_normal_window_s", report::num(nh)),
            ("ratio", report::num(tr)),
            ("proxy_samples", list(&tp)),
            ("haproxy_samples", list(&th)),
            ("switch_master_s", list(&tsw)),
            ("failovers_requested", list(&treq)),
        ]),
    ));
    let sw: Vec<f64> = samples.iter().map(|s| s.switch).collect();
    let ex: Vec<f64> = samples.iter().map(|s| s.exited).collect();
    json.push(("switch_master_s".to_string(), list(&sw)));
    json.push(("primary_exited_s".to_string(), list(&ex)));
    t.notes.push(format!(
        "Medians over {rounds} rounds; both fronts in front of the same group during the same failover. +switch-master (first sentinel) {} s after SIGTERM (median; primary exited after {} s).",
        fmt(median(&sw), 3),
        fmt(median(&ex), 3)
    ));
    t.notes.push(format!(
        "Group: our primary + replica (requirepass/masterauth), {SENTINELS} sentinels, quorum {QUORUM}, down-after-milliseconds {DOWN_AFTER_MS}, failover-timeout {FAILOVER_TIMEOUT_MS}; proxy --failover-hold-ms {HOLD_MS}; HAProxy: seed 002's tcp-check, inter {HAPROXY_INTER_MS} ms, default fall 3 rise 2."
    ));
    t.notes.push(format!(
        "Writer per front: RPUSH every {PACE:?}, {REQUEST_TIMEOUT:?} per request, {RETRY_PAUSE:?} pause after an error; window = longest gap between two acks; every ack verified on the new primary. Target (not asserted): window ratio <= {TARGET_RATIO:.2}."
    ));
    t.notes.push(format!(
        "Rounds alternate normal / trigger; the first three rows are the normal rounds'. Trigger rounds: the proxy runs with --failover-on-refused-ms {TRIGGER_MS} and asks the sentinels to fail over once the primary refused connections that long and most sentinels cannot reach it; HAProxy profits from that failover too (its window there: {} s median), so the trigger row compares the proxy with the normal rounds' HAProxy. Trigger rounds: +switch-master {} s after SIGTERM (median), failovers_requested per round {:?}.",
        fmt(median(&th), 3),
        fmt(median(&tsw), 3),
        treq.iter().map(|r| *r as u64).collect::<Vec<_>>()
    ));
    Ok((t, Json::Obj(json)))
}

#[cfg(test)]
#[path = "proxy_failover_tests.rs"]
mod tests;
