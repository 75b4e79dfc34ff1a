//! Seed 002's Sentinel flow with `redis-proxy` in place of HAProxy, and
//! HAProxy (Debian's, with the guide's tcp-check) next to it in front of
//! the same group, so both fronts see the very same failover.
//!
//! The group: a primary and a replica (ours, `requirepass` +
//! `masterauth`), three of our sentinels (quorum 2, the guide's
//! `down-after-milliseconds 3000`, `failover-timeout 6000`,
//! `parallel-syncs 1`, `auth-pass`). In front: our redis-proxy in sentinel
//! mode (`--backend-pass`), and HAProxy with the guide's backend (AUTH,
//! PING, `info replication`, expect `role:master`, QUIT; `check inter 3s`
//! with HAProxy's default `fall 3 rise 2`, as in the guide).
//!
//! Two writer threads, one per front, `RPUSH` increasing numbers to a list
//! of their own, each request with a 500 ms timeout, reconnecting after
//! any error. The primary is stopped like `systemctl stop` (SIGTERM to
//! its PID, then waiting for it to exit); the sentinels fail over; the
//! writers go on until both fronts write again, then a little longer.
//!
//! Checked: every acknowledged push of both writers is on the new primary
//! at the position its reply (the list length) named, so no acknowledged
//! write was lost nor acknowledged by the old primary after the new one
//! took over; and the proxy's longest gap between two acknowledgements is
//! within the failover time seen on the sentinels (`+switch-master`) plus
//! a small margin. A client subscribed through the proxy before the stop
//! gets a message published through it after the failover (the proxy
//! subscribed it again on the new primary). Both windows and error counts
//! are printed; which front
//! is faster is the benchmark's business (`cargo xtask bench proxy`),
//! never asserted here.
//!
//! `failover-on-refused-ms` (the proxy asks the sentinels to fail over
//! once the primary refuses connections and most sentinels cannot reach
//! it): the same group without HAProxy, with sentinels whose
//! `down-after-milliseconds 30000` keeps them from failing over on their
//! own within these tests. With `--failover-on-refused-ms 500` the proxy
//! follows the promoted replica after a SIGTERM of the primary, with a
//! writer running through it and with no traffic at all; with the option
//! off, nothing fails over within 5 s.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_testkit::conn::encode_request;
use redis_testkit::sentinel::{
    parse_role, safe_port, wait_for, Events, Node, Sentinel, SentinelKind,
};
use redis_testkit::{ChildGuard, Conn, ServerKind, TempDir};

use crate::proxy::Proxy;

const PASS: &str = "TestPass";
const MASTER: &str = "master01";
/// The guide's sentinel settings.
const DOWN_AFTER_MS: u64 = 3000;
const FAILOVER_TIMEOUT_MS: u64 = 6000;
/// The guide's `check inter 3s` (fall and rise are HAProxy's defaults).
const HAPROXY_INTER_MS: u32 = 3000;
/// A writer's per-request limit (connect, AUTH, RPUSH each).
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
/// A writer's pause after a failed request, before it tries again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// A writer's pause between two acknowledged requests.
const PACE: Duration = Duration::from_millis(2);
/// Hard limits of a writer thread.
const WRITER_LIMIT: Duration = Duration::from_secs(120);
const WRITER_MAX_ATTEMPTS: u64 = 500_000;
/// What the proxy may add to the sentinels' failover time: noticing the
/// switch, a new connection checked with `ROLE`, the writer's retry.
const MARGIN: Duration = Duration::from_millis(1500);

/// Where a writer writes and what it saw.
#[derive(Debug, Default)]
struct WriterLog {
    /// (pushed value, list length replied, when the reply arrived).
    acks: Vec<(u64, u64, Instant)>,
    /// (when, what) of every failed attempt.
    failures: Vec<(Instant, String)>,
    attempts: u64,
}

/// One writer connection: RESP requests, one-line replies, every read
/// and write bounded by [`REQUEST_TIMEOUT`].
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

    /// Sends `args`; the one-line reply without its CRLF.
    fn request(&mut self, args: &[&str]) -> Result<String, String> {
        self.writer
            .write_all(&encode_request(args))
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

/// A client subscribed to `channel` through `addr`.
struct Subscriber {
    conn: TcpStream,
    seen: Vec<u8>,
}

impl Subscriber {
    fn subscribe(addr: SocketAddr, channel: &str) -> Subscriber {
        let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut s = Subscriber {
            conn,
            seen: Vec::new(),
        };
        s.conn
            .write_all(&encode_request(&["SUBSCRIBE", channel]))
            .unwrap();
        s.wait_for(
            &format!("subscribe\r\n${}\r\n{channel}", channel.len()),
            Duration::from_secs(5),
        );
        s
    }

    /// Reads until `text` was seen (true) or `limit` passed (false).
    fn wait_for(&mut self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            if String::from_utf8_lossy(&self.seen).contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            match self.conn.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => self.seen.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    }
}

/// Pushes 1, 2, 3, ... to `key` through `addr` until `stop` (or its hard
/// limits), counting acknowledgements in `acked`.
fn writer(
    addr: SocketAddr,
    auth: bool,
    key: &str,
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
                Err(e) => {
                    log.failures.push((Instant::now(), e));
                    std::thread::sleep(RETRY_PAUSE);
                    continue;
                }
            },
        };
        match s.request(&["RPUSH", key, &value.to_string()]) {
            Ok(r) => match r.strip_prefix(':').and_then(|n| n.parse::<u64>().ok()) {
                Some(len) => {
                    log.acks.push((value, len, Instant::now()));
                    acked.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(PACE);
                }
                None => {
                    // An error reply (-READONLY, -ERR redis-proxy: ...):
                    // the connection itself is still usable.
                    log.failures.push((Instant::now(), r));
                    std::thread::sleep(RETRY_PAUSE);
                }
            },
            Err(e) => {
                session = None;
                log.failures.push((Instant::now(), e));
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
    log
}

/// The longest time between two successive acknowledgements: (length,
/// last ack before it, first ack after it).
fn longest_gap(log: &WriterLog) -> Option<(Duration, Instant, Instant)> {
    log.acks
        .windows(2)
        .map(|w| (w[1].2 - w[0].2, w[0].2, w[1].2))
        .max_by_key(|g| g.0)
}

/// Acknowledged pushes that are not on `list` where their reply put them
/// (`list[len - 1] == value`), and replies whose length did not grow.
fn misplaced(log: &WriterLog, list: &[u64]) -> Vec<String> {
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

/// `AUTH` then `args` on a fresh connection; the raw reply.
fn authed(addr: SocketAddr, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut c = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    c.try_send_raw(&encode_request(&["AUTH", PASS]))
        .map_err(|e| e.to_string())?;
    let a = c.try_read_reply_raw()?;
    if a != b"+OK\r\n" {
        return Err(String::from_utf8_lossy(&a).into_owned());
    }
    c.try_send_raw(&encode_request(args))
        .map_err(|e| e.to_string())?;
    c.try_read_reply_raw()
}

/// Waits until `node` is a master (`None`) or a replica of `master`.
fn wait_role(node: &Node, master: Option<u16>, timeout: Duration) {
    let want = match master {
        None => ("master".to_string(), None),
        Some(p) => ("slave".to_string(), Some(("127.0.0.1".to_string(), p))),
    };
    wait_for(timeout, &format!("{}: ROLE {want:?}", node.label()), || {
        let got = parse_role(&authed(node.addr(), &["ROLE"])?)?;
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
}

/// The whole list at `key` on `node`, as numbers.
fn list_on(node: &Node, key: &str) -> Vec<u64> {
    let raw = authed(node.addr(), &["LRANGE", key, "0", "-1"]).unwrap();
    let v = redis_testkit::sentinel::Value::parse(&raw).unwrap();
    v.array()
        .unwrap_or_else(|| panic!("LRANGE {key}: {v:?}"))
        .iter()
        .map(|i| i.int().and_then(|n| u64::try_from(n).ok()).unwrap())
        .collect()
}

/// True when `pid` has exited (gone, or a zombie nobody reaped yet).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// `systemctl stop redis-server`: SIGTERM to the server's PID, then wait
/// (bounded) until the process is gone. Returns when the signal was sent.
fn stop_like_systemctl(node: &Node) -> (Instant, Instant) {
    let info = authed(node.addr(), &["INFO", "server"]).unwrap();
    let pid: u32 = String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no process_id in INFO server of {}", node.label()));
    let sent = Instant::now();
    assert!(
        redis_testkit::process::signal(pid, "-TERM"),
        "SIGTERM to {pid}"
    );
    let limit = Duration::from_secs(20);
    while !exited(pid) {
        assert!(
            sent.elapsed() < limit,
            "{} (pid {pid}) still running {limit:?} after SIGTERM",
            node.label()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (sent, Instant::now())
}

/// The status column of HAProxy's `show stat` per server of backend
/// `redis`, read from its admin socket.
fn haproxy_status(sock: &Path) -> Result<HashMap<String, String>, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"show stat\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines
        .next()
        .ok_or("empty show stat")?
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (px, sv, st) = match (col("pxname"), col("svname"), col("status")) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return Err(format!("show stat header {head:?}")),
    };
    Ok(lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.get(px) == Some(&"redis"))
        .filter_map(|f| Some((f.get(sv)?.to_string(), f.get(st)?.to_string())))
        .collect())
}

/// HAProxy's config: the guide's tcp-check from `crate::util` with the
/// guide's `check inter 3s` and HAProxy's default fall/rise (the guide
/// sets neither), plus an admin socket to see which server is up.
fn haproxy_config(front: u16, servers: &[(&str, u16)], sock: &Path) -> String {
    let cfg = crate::util::haproxy_guide_config(front, PASS, servers, HAPROXY_INTER_MS);
    assert!(cfg.contains(" fall 1 rise 1\n") && cfg.starts_with("global\n"));
    cfg.replace(" fall 1 rise 1\n", "\n").replacen(
        "global\n",
        &format!(
            "global\n  stats socket {} mode 600 level admin\n",
            sock.display()
        ),
        1,
    )
}

/// Prints the proxy's and HAProxy's output when the test fails.
struct DumpOnPanic(Vec<PathBuf>);

impl Drop for DumpOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in &self.0 {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                eprintln!("--- {}:\n{text}", p.display());
            }
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `t - t0` in seconds, negative when `t` is earlier.
fn offset(t: Instant, t0: Instant) -> f64 {
    secs(t.saturating_duration_since(t0)) - secs(t0.saturating_duration_since(t))
}

fn report(name: &str, log: &WriterLog, t0: Instant) -> Duration {
    let (gap, from, to) = longest_gap(log).unwrap_or_else(|| panic!("{name}: fewer than 2 acks"));
    let kinds: HashMap<String, usize> = log.failures.iter().fold(HashMap::new(), |mut m, f| {
        let kind: String = f.1.chars().take(40).collect();
        *m.entry(kind).or_default() += 1;
        m
    });
    println!(
        "{name:>8}: window {:.3} s (last ack before {:+.3} s, first after {:+.3} s), {} errors, {} acks of {} attempts; errors by kind {kinds:?}",
        secs(gap),
        offset(from, t0),
        offset(to, t0),
        log.failures.len(),
        log.acks.len(),
        log.attempts
    );
    gap
}

#[test]
fn proxy_failover_window_against_haproxy_seed002() {
    let haproxy = redis_testkit::require_tool(
        "/usr/sbin/haproxy",
        "apt-get install haproxy (cargo xtask test does)",
    );
    let auth = ["--requirepass", PASS, "--masterauth", PASS];
    let primary = Node::start(ServerKind::Ours, "redis1", &auth);
    let pp = primary.port().to_string();
    let replica_args: Vec<&str> = auth
        .iter()
        .copied()
        .chain(["--replicaof", "127.0.0.1", &pp])
        .collect();
    let replica = Node::start(ServerKind::Ours, "redis2", &replica_args);
    wait_role(&replica, Some(primary.port()), Duration::from_secs(10));
    wait_for(Duration::from_secs(10), "replica link up", || {
        let info = authed(replica.addr(), &["INFO", "replication"])?;
        let text = String::from_utf8_lossy(&info).into_owned();
        if text.contains("master_link_status:up") {
            Ok(())
        } else {
            Err(text)
        }
    });

    // HAProxy first: its checks need a while to mark the replica down.
    let dir = TempDir::new();
    let sock = dir.join("haproxy.sock");
    let front = safe_port();
    let cfg = haproxy_config(
        front,
        &[("redis1", primary.port()), ("redis2", replica.port())],
        &sock,
    );
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let haproxy_out = dir.join("haproxy.out");
    let out = std::fs::File::create(&haproxy_out).unwrap();
    let _haproxy = ChildGuard::spawn(
        Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out),
    );

    let sentinels = start_sentinels(&[SentinelKind::Ours; 3], &pp, DOWN_AFTER_MS);
    let list: Vec<String> = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port()))
        .collect();
    let proxy_log = dir.join("proxy.log");
    let proxy = Proxy::start(&[
        "--sentinel",
        &list.join(","),
        "--master",
        MASTER,
        "--backend-pass",
        PASS,
        "--failover-hold-ms",
        "10000",
        "--logfile",
        proxy_log.to_str().unwrap(),
    ]);
    let _dump = DumpOnPanic(vec![proxy_log.clone(), haproxy_out.clone()]);
    wait_for(
        Duration::from_secs(10),
        "the proxy to learn the primary",
        || match proxy.info_field("primary") {
            p if p == format!("127.0.0.1:{pp}") => Ok(()),
            p => Err(p),
        },
    );
    // Only the primary passes the guide's check: redis2 must be DOWN
    // before the HAProxy writer starts (fall 3 x inter 3 s).
    wait_for(
        Duration::from_secs(30),
        "HAProxy: redis1 UP, redis2 DOWN",
        || {
            let st = haproxy_status(&sock)?;
            let up = |n: &str| st.get(n).is_some_and(|s| s.starts_with("UP"));
            let down = |n: &str| st.get(n).is_some_and(|s| s.starts_with("DOWN"));
            if up("redis1") && down("redis2") {
                Ok(())
            } else {
                Err(format!("{st:?}"))
            }
        },
    );

    let events: Vec<Events> = sentinels
        .iter()
        .map(|s| Events::subscribe(s.addr(), s.label()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let fronts = [
        ("proxy", proxy.addr(), false, "log:proxy"),
        (
            "haproxy",
            SocketAddr::from(([127, 0, 0, 1], front)),
            true,
            "log:haproxy",
        ),
    ];
    let writers: Vec<_> = fronts
        .iter()
        .zip(&counts)
        .map(|(&(_, addr, auth, key), count)| {
            let (stop, count) = (stop.clone(), count.clone());
            std::thread::spawn(move || writer(addr, auth, key, &stop, &count))
        })
        .collect();
    // Stops the writers however the rest of the test ends.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stopper = StopOnDrop(stop.clone());

    wait_for(Duration::from_secs(10), "both writers to write", || {
        let n: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        if n.iter().all(|&n| n >= 100) {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    });

    // A subscriber through the proxy, checked before the stop.
    let mut sub = Subscriber::subscribe(proxy.addr(), "news");
    let mut publisher = Session::open(proxy.addr(), false).unwrap();
    assert_eq!(
        publisher.request(&["PUBLISH", "news", "before"]).unwrap(),
        ":1"
    );
    assert!(
        sub.wait_for("before", Duration::from_secs(5)),
        "{:?}",
        String::from_utf8_lossy(&sub.seen)
    );

    let (t0, gone) = stop_like_systemctl(&primary);
    let switches: Vec<Instant> = events
        .iter()
        .map(|e| {
            e.wait(
                "+switch-master",
                &format!("{MASTER} 127.0.0.1 {pp} 127.0.0.1 {}", replica.port()),
                Duration::from_secs(30),
            )
            .when
        })
        .collect();
    let first_switch = *switches.iter().min().unwrap();
    let last_switch = *switches.iter().max().unwrap();
    wait_role(&replica, None, Duration::from_secs(10));
    // Both fronts must write again (HAProxy after its checks saw the
    // promotion); then a little more.
    let at_switch: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    wait_for(
        Duration::from_secs(60),
        "both fronts to write again",
        || {
            let n: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            if n.iter().zip(&at_switch).all(|(n, s)| *n >= s + 50) {
                Ok(())
            } else {
                Err(format!("acks {n:?}, at the switch {at_switch:?}"))
            }
        },
    );
    std::thread::sleep(Duration::from_secs(1));
    drop(stopper);

    // The subscriber hears what is published after the failover, once the
    // proxy has subscribed it on the new primary (it retries every few
    // hundred milliseconds): published until heard, ten seconds at most.
    let heard = (0..20).any(|i| {
        let msg = format!("after-{i}");
        let published = Session::open(proxy.addr(), false)
            .and_then(|mut p| p.request(&["PUBLISH", "news", &msg]));
        published.is_ok() && sub.wait_for(&msg, Duration::from_millis(500))
    });
    assert!(
        heard,
        "the subscriber heard nothing published after the failover: {:?}",
        String::from_utf8_lossy(&sub.seen)
    );
    let logs: Vec<WriterLog> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    println!(
        "failover: SIGTERM at 0, primary exited {:+.3} s, +switch-master {:+.3} s (first sentinel) / {:+.3} s (last)",
        secs(gone - t0),
        secs(first_switch - t0),
        secs(last_switch - t0)
    );
    let windows: Vec<Duration> = fronts
        .iter()
        .zip(&logs)
        .map(|(f, log)| report(f.0, log, t0))
        .collect();
    println!(
        "   ratio: window proxy/haproxy {:.2}, errors {}/{}; proxy: failovers_seen {}, held_requests {}",
        secs(windows[0]) / secs(windows[1]).max(1e-9),
        logs[0].failures.len(),
        logs[1].failures.len(),
        proxy.info_field("failovers_seen"),
        proxy.info_field("held_requests"),
    );

    let switched: Vec<String> = std::fs::read_to_string(&proxy_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("Primary of"))
        .map(str::to_string)
        .collect();
    println!("   proxy log:\n     {}", switched.join("\n     "));

    // (a) + (c): every acknowledged push is on the new primary where its
    // reply said, for both fronts.
    for (f, log) in fronts.iter().zip(&logs) {
        let list = list_on(&replica, f.3);
        let bad = misplaced(log, &list);
        assert!(
            bad.is_empty(),
            "{}: {} of {} acknowledged writes lost or misplaced on the new primary (list of {}): {:?}",
            f.0,
            bad.len(),
            log.acks.len(),
            list.len(),
            &bad[..bad.len().min(20)]
        );
    }
    // Both writers wrote before the stop and after the failover.
    for (f, log) in fronts.iter().zip(&logs) {
        assert!(
            log.acks.iter().any(|a| a.2 < t0) && log.acks.iter().any(|a| a.2 > first_switch),
            "{}: no acks on both sides of the failover",
            f.0
        );
    }
    // (b) The proxy's outage is the failover's: its longest gap covers
    // the stop, and the first ack after it comes at most MARGIN after the
    // first +switch-master.
    let (gap, from, to) = longest_gap(&logs[0]).unwrap();
    assert!(
        from <= gone && to >= gone,
        "the proxy's longest gap ({gap:?}) is not the failover"
    );
    assert!(
        to <= first_switch + MARGIN,
        "the proxy wrote again {:.3} s after +switch-master (margin {MARGIN:?})",
        secs(to.saturating_duration_since(first_switch))
    );
    assert!(
        gap <= (first_switch - t0) + MARGIN,
        "the proxy's window {gap:?} exceeds the failover time {:?} + {MARGIN:?}",
        first_switch - t0
    );
    assert_eq!(proxy.info_field("failovers_seen"), "1");
}

/// Sentinels slower than any test here: only the proxy's trigger can
/// start a failover within one.
const SLOW_DOWN_AFTER_MS: u64 = 30_000;

/// A primary and a replica of ours, three of our sentinels (quorum 2,
/// [`SLOW_DOWN_AFTER_MS`]) and our proxy with `proxy_args`, all set up.
/// Three sentinels of `kinds` watching the primary on port `pp` with the
/// guide's settings and `down_after` ms, once each knows the replica and
/// both peers.
fn start_sentinels(kinds: &[SentinelKind], pp: &str, down_after: u64) -> Vec<Sentinel> {
    let body = format!(
        "sentinel monitor {MASTER} 127.0.0.1 {pp} 2\n\
         sentinel down-after-milliseconds {MASTER} {down_after}\n\
         sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n\
         sentinel parallel-syncs {MASTER} 1\n\
         sentinel auth-pass {MASTER} {PASS}\n"
    );
    let sentinels: Vec<Sentinel> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| Sentinel::start(*k, &format!("s{}", i + 1), &body))
        .collect();
    for s in &sentinels {
        wait_for(
            Duration::from_secs(30),
            &format!("{}: knows the replica and both peers", s.label()),
            || {
                let r = s.records(&["SENTINEL", "REPLICAS", MASTER])?;
                let p = s.records(&["SENTINEL", "SENTINELS", MASTER])?;
                let replica_ok = r.len() == 1
                    && r[0].get("flags").map(String::as_str) == Some("slave")
                    && r[0].get("master-link-status").map(String::as_str) == Some("ok");
                if replica_ok && p.len() == 2 {
                    Ok(())
                } else {
                    Err(format!("replicas {r:?}, sentinels {p:?}"))
                }
            },
        );
    }
    sentinels
}

struct SlowGroup {
    primary: Node,
    replica: Node,
    sentinels: Vec<Sentinel>,
    proxy: Proxy,
    proxy_log: PathBuf,
    _dir: TempDir,
}

impl SlowGroup {
    fn start(proxy_args: &[&str]) -> SlowGroup {
        SlowGroup::start_kinds(ServerKind::Ours, [SentinelKind::Ours; 3], proxy_args)
    }

    /// The group on servers of `server` kind, with sentinels of `kinds`.
    fn start_kinds(server: ServerKind, kinds: [SentinelKind; 3], proxy_args: &[&str]) -> SlowGroup {
        let auth = ["--requirepass", PASS, "--masterauth", PASS];
        let primary = Node::start(server, "redis1", &auth);
        let pp = primary.port().to_string();
        let replica_args: Vec<&str> = auth
            .iter()
            .copied()
            .chain(["--replicaof", "127.0.0.1", &pp])
            .collect();
        let replica = Node::start(server, "redis2", &replica_args);
        wait_role(&replica, Some(primary.port()), Duration::from_secs(10));
        let sentinels = start_sentinels(&kinds, &pp, SLOW_DOWN_AFTER_MS);
        let list: Vec<String> = sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        let dir = TempDir::new();
        let proxy_log = dir.join("proxy.log");
        let mut args = vec![
            "--sentinel",
            &list.join(","),
            "--master",
            MASTER,
            "--backend-pass",
            PASS,
            "--failover-hold-ms",
            "10000",
            "--loglevel",
            "verbose",
            "--logfile",
            proxy_log.to_str().unwrap(),
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
        args.extend(proxy_args.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let proxy = Proxy::start(&args);
        let group = SlowGroup {
            primary,
            replica,
            sentinels,
            proxy,
            proxy_log,
            _dir: dir,
        };
        let want = group.addr_of(&group.primary);
        wait_for(
            Duration::from_secs(10),
            "the proxy to learn the primary",
            || match group.proxy.info_field("primary") {
                p if p == want => Ok(()),
                p => Err(p),
            },
        );
        group
    }

    fn addr_of(&self, node: &Node) -> String {
        format!("127.0.0.1:{}", node.port())
    }

    fn proxy_log(&self) -> String {
        std::fs::read_to_string(&self.proxy_log).unwrap_or_default()
    }

    /// `SENTINEL MASTER` of every sentinel: (flags, last-ok-ping-reply,
    /// port), for the report.
    fn sentinel_views(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| match s.record(&["SENTINEL", "MASTER", MASTER]) {
                Ok(r) => format!(
                    "port {} flags {} last-ok-ping-reply {}",
                    r.get("port").map(String::as_str).unwrap_or("?"),
                    r.get("flags").map(String::as_str).unwrap_or("?"),
                    r.get("last-ok-ping-reply")
                        .map(String::as_str)
                        .unwrap_or("?")
                ),
                Err(e) => e,
            })
            .collect()
    }

    /// Waits (bounded) until the proxy names the replica and every
    /// sentinel does; the time it took from `t0`.
    fn wait_switched(&self, t0: Instant, limit: Duration) -> Duration {
        let want = self.addr_of(&self.replica);
        wait_for(
            limit,
            "the proxy to follow the promoted replica",
            || match self.proxy.info_field("primary") {
                p if p == want => Ok(()),
                p => Err(format!(
                    "proxy names {p}; sentinels: {:?}",
                    self.sentinel_views()
                )),
            },
        );
        let took = t0.elapsed();
        for s in &self.sentinels {
            wait_for(
                limit,
                &format!("{} to name the replica", s.label()),
                || match s.master_addr(MASTER)? {
                    Some((_, p)) if p == self.replica.port() => Ok(()),
                    other => Err(format!("{other:?}")),
                },
            );
        }
        wait_role(&self.replica, None, limit);
        took
    }
}

/// The proxy's log when a test fails.
struct DumpLogOnPanic<'a>(&'a SlowGroup);

impl Drop for DumpLogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- proxy log:\n{}", self.0.proxy_log());
            for s in &self.0.sentinels {
                eprintln!("--- {}", s.report());
            }
        }
    }
}

#[test]
fn proxy_failover_on_refused_asks_the_sentinels() {
    let g = SlowGroup::start(&["--failover-on-refused-ms", "500"]);
    trigger_round(&g);
}

/// The same against Debian's servers, watched by two of Debian's sentinels
/// and one of ours: the reference's `SENTINEL MASTER` fields are the
/// evidence, and a reference sentinel may be the one asked.
#[test]
fn proxy_failover_on_refused_asks_mixed_sentinels() {
    let g = SlowGroup::start_kinds(
        ServerKind::Reference,
        [
            SentinelKind::Reference,
            SentinelKind::Ours,
            SentinelKind::Reference,
        ],
        &["--failover-on-refused-ms", "500"],
    );
    trigger_round(&g);
}

/// A writer through the proxy, SIGTERM of the primary: the proxy asks one
/// sentinel to fail over and follows the promoted replica long before the
/// sentinels' own 30 s, and no acknowledged write is lost.
fn trigger_round(g: &SlowGroup) {
    let _dump = DumpLogOnPanic(g);
    assert_eq!(g.proxy.info_field("failover_on_refused_ms"), "500");
    assert_eq!(g.proxy.info_field("failovers_requested"), "0");
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let w = {
        let (stop, count, addr) = (stop.clone(), count.clone(), g.proxy.addr());
        std::thread::spawn(move || writer(addr, false, "log:trigger", &stop, &count))
    };
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stopper = StopOnDrop(stop.clone());
    wait_for(
        Duration::from_secs(10),
        "the writer to write",
        || match count.load(Ordering::Relaxed) {
            n if n >= 100 => Ok(()),
            n => Err(n.to_string()),
        },
    );
    let (t0, gone) = stop_like_systemctl(&g.primary);
    println!("after the exit: {:?}", g.sentinel_views());
    let switched = g.wait_switched(t0, Duration::from_secs(15));
    let at_switch = count.load(Ordering::Relaxed);
    wait_for(
        Duration::from_secs(15),
        "the writer to write again",
        || match count.load(Ordering::Relaxed) {
            n if n >= at_switch + 50 => Ok(()),
            n => Err(format!("{n} acks, {at_switch} at the switch")),
        },
    );
    drop(stopper);
    let log = w.join().unwrap();
    println!(
        "failover-on-refused-ms 500: primary exited {:+.3} s, proxy switched {:+.3} s after SIGTERM",
        secs(gone - t0),
        secs(switched)
    );
    let window = report("proxy", &log, t0);
    let text = g.proxy_log();
    let asked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Asked sentinel"))
        .collect();
    println!("   proxy log: {asked:?}");
    assert_eq!(asked.len(), 1, "{text}");
    assert!(
        asked[0].contains(&format!(
            "to fail over '{MASTER}': primary 127.0.0.1:{}",
            g.primary.port()
        )) && asked[0].contains("sentinels cannot reach it"),
        "{}",
        asked[0]
    );
    assert_eq!(g.proxy.info_field("failovers_requested"), "1");
    assert_eq!(g.proxy.info_field("failovers_seen"), "1");
    // Far sooner than the sentinels' own 30 s detection.
    assert!(window < Duration::from_secs(10), "window {window:?}");
    let bad = misplaced(&log, &list_on(&g.replica, "log:trigger"));
    assert!(
        bad.is_empty(),
        "acknowledged writes lost or misplaced: {bad:?}"
    );
}

#[test]
fn proxy_failover_on_refused_without_traffic() {
    let g = SlowGroup::start(&["--failover-on-refused-ms", "500"]);
    let _dump = DumpLogOnPanic(&g);
    // One write opens the proxy's connection to the primary; then nothing.
    let mut s = Session::open(g.proxy.addr(), false).unwrap();
    assert_eq!(s.request(&["SET", "k", "v"]).unwrap(), "+OK");
    drop(s);
    let (t0, _) = stop_like_systemctl(&g.primary);
    let switched = g.wait_switched(t0, Duration::from_secs(15));
    println!("idle proxy: switched {:.3} s after SIGTERM", secs(switched));
    let mut s = Session::open(g.proxy.addr(), false).unwrap();
    let r = wait_for(
        Duration::from_secs(10),
        "a write through the proxy",
        || match s.request(&["SET", "k", "w"]) {
            Ok(r) if r == "+OK" => Ok(r),
            other => {
                s = Session::open(g.proxy.addr(), false)?;
                Err(format!("{other:?}"))
            }
        },
    );
    assert_eq!(r, "+OK");
    assert_eq!(g.proxy.info_field("failovers_requested"), "1");
}

#[test]
fn proxy_failover_on_refused_off_leaves_it_to_the_sentinels() {
    let g = SlowGroup::start(&[]);
    let _dump = DumpLogOnPanic(&g);
    assert_eq!(g.proxy.info_field("failover_on_refused_ms"), "0");
    let old = g.addr_of(&g.primary);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let w = {
        let (stop, count, addr) = (stop.clone(), count.clone(), g.proxy.addr());
        std::thread::spawn(move || writer(addr, false, "log:off", &stop, &count))
    };
    wait_for(
        Duration::from_secs(10),
        "the writer to write",
        || match count.load(Ordering::Relaxed) {
            n if n >= 20 => Ok(()),
            n => Err(n.to_string()),
        },
    );
    stop_like_systemctl(&g.primary);
    // Requests keep coming (every connect refused) for 5 s.
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    let log = w.join().unwrap();
    assert!(!log.failures.is_empty(), "writes failed after the stop");
    let views = g.sentinel_views();
    println!("option off, 5 s after the exit: {views:?}");
    for s in &g.sentinels {
        assert_eq!(
            s.master_addr(MASTER).unwrap(),
            Some(("127.0.0.1".to_string(), g.primary.port())),
            "{}",
            s.label()
        );
        let r = s.record(&["SENTINEL", "MASTER", MASTER]).unwrap();
        let flags = r.get("flags").cloned().unwrap_or_default();
        assert!(
            !flags.contains("failover_in_progress") && !flags.contains("o_down"),
            "{}: {flags}",
            s.label()
        );
    }
    assert_eq!(g.proxy.info_field("primary"), old);
    assert_eq!(g.proxy.info_field("failovers_requested"), "0");
    assert_eq!(g.proxy.info_field("failovers_seen"), "0");
    assert!(!g.proxy_log().contains("Asked sentinel"));
}

#[test]
fn proxy_failover_helpers() {
    let t = Instant::now();
    let at = |ms: u64| t + Duration::from_millis(ms);
    let log = WriterLog {
        acks: vec![
            (1, 1, at(0)),
            (2, 2, at(10)),
            (5, 3, at(500)),
            (6, 4, at(510)),
        ],
        failures: Vec::new(),
        attempts: 6,
    };
    let (gap, from, to) = longest_gap(&log).unwrap();
    assert_eq!(
        (gap, from, to),
        (Duration::from_millis(490), at(10), at(500))
    );
    assert!(misplaced(&log, &[1, 2, 5, 6]).is_empty());
    // An unacknowledged push (3) that ran is fine only where no ack is.
    assert_eq!(misplaced(&log, &[1, 2, 3, 5, 6]).len(), 2);
    assert_eq!(misplaced(&log, &[1, 2]).len(), 2);
    let backwards = WriterLog {
        acks: vec![(1, 1, at(0)), (2, 1, at(1))],
        ..WriterLog::default()
    };
    assert_eq!(misplaced(&backwards, &[2]).len(), 2);
    assert!(longest_gap(&WriterLog::default()).is_none());
    let cfg = haproxy_config(7000, &[("redis1", 7001)], Path::new("/tmp/x.sock"));
    assert!(
        cfg.contains("server redis1 127.0.0.1:7001 check inter 3000ms\n"),
        "{cfg}"
    );
    assert!(
        cfg.contains("stats socket /tmp/x.sock mode 600 level admin\n"),
        "{cfg}"
    );
    assert!(
        cfg.contains("tcp-check expect string role:master\n"),
        "{cfg}"
    );
    assert!(!exited(std::process::id()));
}
