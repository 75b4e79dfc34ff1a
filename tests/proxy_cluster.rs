//! Seed 002's Redis Cluster with `redis-proxy --cluster` in front, used by
//! clients that know nothing of the cluster.
//!
//! The cluster: three primaries and three replicas (all ours, created by
//! `redis_testkit::cluster::create`, `cluster-node-timeout` 2000 ms). In
//! front: our redis-proxy with `--cluster <seed>`.
//!
//! A writer thread talks plain RESP to the proxy over one TCP connection
//! (a non-cluster client: no slot map, no redirections of its own), every
//! request bounded by a 2 s read timeout, 20 ms pause and a new
//! connection after a failed request. It does `SET <key> <i>` for
//! increasing `i`; every other key carries a hash tag whose slot is among
//! the first 100 slots of the first primary, the ones the reshard moves,
//! so many writes land in slots that are being migrated. Every 50 writes
//! it also does an `MSET` of three keys on three different primaries and
//! an `MGET` of them, which must return what was just set.
//!
//! While it writes: Debian's `redis-cli --cluster reshard` moves 100
//! slots from the first primary to the second (the proxy must hide every
//! `-ASK`/`-MOVED`: no error at all is allowed up to the kill), then the
//! second primary (which now owns the moved slots) is killed with
//! `kill -9` (the writer pauses just before, until `WAIT` says the replica
//! has every acknowledged write: replication is asynchronous, and a write
//! acknowledged in the last instant may be lost whatever the proxy does;
//! it resumes right after the kill); its replica is promoted and the cluster is ok again (bounded
//! waits). Errors are allowed only from the kill until the proxy writes
//! again after the promotion; the writer goes on a few seconds more.
//!
//! Checked: no error before the kill, and none once the cluster is ok
//! again (after a short grace for the proxy's map refresh); every
//! acknowledged write is readable through the proxy with its value (MGET
//! in batches); every MGET after an acknowledged MSET matched. Then
//! redis-py's plain `Redis` (from the repository's `.venv`, required) and
//! `redis-cli` without `-c` read and write through the proxy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_testkit::cluster::{self, create, myid, start_node, text, wait_for};
use redis_testkit::conn::encode_request;
use redis_testkit::{escape, reply_len, run_bounded, Conn, ServerKind, TestServer};

use crate::proxy::Proxy;

/// A writer's per-request limit (connect, write, read).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// A writer's pause after a failed request.
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Hard limit of the writer thread.
const WRITER_LIMIT: Duration = Duration::from_secs(70);
/// Time after the cluster is ok again during which the proxy may still
/// fail requests (its next slot-map refresh, a retried request's hold).
const GRACE: Duration = Duration::from_secs(2);
/// Debian's redis-cli: the neutral tool.
const CLI: &str = "/usr/bin/redis-cli";

/// CRC16/XMODEM, the cluster's key hash.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of a key (hash tags honoured).
fn slot(key: &str) -> u16 {
    let b = key.as_bytes();
    let hashed = match b.iter().position(|&c| c == b'{') {
        Some(open) => match b[open + 1..].iter().position(|&c| c == b'}') {
            Some(len) if len > 0 => &b[open + 1..open + 1 + len],
            _ => b,
        },
        None => b,
    };
    crc16(hashed) % 16384
}

/// Hash tags whose slots are in `0..100` (the slots the reshard moves).
fn moving_tags() -> Vec<String> {
    let tags: Vec<String> = (0..200_000)
        .map(|j| format!("t{j}"))
        .filter(|t| slot(t) < 100)
        .take(64)
        .collect();
    assert!(tags.len() >= 32, "found {} tags", tags.len());
    tags
}

/// One plain RESP connection with every operation bounded.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn open(addr: SocketAddr) -> Result<Client, String> {
        let stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(REQUEST_TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
            .and_then(|_| stream.set_nodelay(true))
            .map_err(|e| format!("socket options: {e}"))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends `args`; the complete raw reply (an `-ERR` reply is `Ok`).
    fn request(&mut self, args: &[&str]) -> Result<Vec<u8>, String> {
        self.stream
            .write_all(&encode_request(args))
            .map_err(|e| format!("write: {e}"))?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            match reply_len(&self.buf) {
                Ok(Some(n)) => return Ok(self.buf.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => return Err(format!("bad reply {e:?}: {}", escape(&self.buf))),
            }
            if Instant::now() >= deadline {
                return Err(format!("timeout (have {})", escape(&self.buf)));
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(format!("closed (have {})", escape(&self.buf))),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e} (have {})", escape(&self.buf))),
            }
        }
    }
}

/// What the writer saw.
#[derive(Default)]
struct WriterLog {
    /// (key, value) of every acknowledged write (SET or MSET).
    acked: Vec<(String, String)>,
    /// (when, request, what) of every failed request.
    errors: Vec<(Instant, String, String)>,
    /// MGET replies that differed from the MSET acknowledged just before.
    mismatches: Vec<String>,
    attempts: u64,
    msets: u64,
}

/// What the test tells the writer: `hold` asks it to pause between two
/// requests, `idle` is its answer that it did.
#[derive(Clone, Default)]
struct Gate {
    hold: Arc<AtomicBool>,
    idle: Arc<AtomicBool>,
}

fn writer(addr: SocketAddr, tags: Vec<String>, stop: Arc<AtomicBool>, gate: Gate) -> WriterLog {
    let mut log = WriterLog::default();
    let mut conn: Option<Client> = None;
    let started = Instant::now();
    let mut i = 0u64;
    let fail = |log: &mut WriterLog, conn: &mut Option<Client>, req: String, what: String| {
        log.errors.push((Instant::now(), req, what));
        *conn = None;
        std::thread::sleep(RETRY_PAUSE);
    };
    while !stop.load(Ordering::Relaxed) && started.elapsed() < WRITER_LIMIT {
        if gate.hold.load(Ordering::SeqCst) {
            gate.idle.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        gate.idle.store(false, Ordering::SeqCst);
        i += 1;
        log.attempts += 1;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Client::open(addr) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    fail(&mut log, &mut conn, "connect".into(), e);
                    continue;
                }
            },
        };
        let key = if i % 2 == 0 {
            format!("{{{}}}k{i}", tags[(i as usize / 2) % tags.len()])
        } else {
            format!("k{i}")
        };
        let v = i.to_string();
        match c.request(&["SET", &key, &v]) {
            Ok(r) if r == b"+OK\r\n" => log.acked.push((key, v.clone())),
            Ok(r) => {
                fail(&mut log, &mut conn, format!("SET {key} {v}"), escape(&r));
                continue;
            }
            Err(e) => {
                fail(&mut log, &mut conn, format!("SET {key} {v}"), e);
                continue;
            }
        }
        if i % 50 != 0 {
            continue;
        }
        // Three keys on three primaries ({b}: slot 3300, {c}: 7365, {a}:
        // 15495), and one in a moving slot.
        let keys = [
            format!("{{b}}m{i}"),
            format!("{{c}}m{i}"),
            format!("{{a}}m{i}"),
            format!("{{{}}}m{i}", tags[0]),
        ];
        let mut mset = vec!["MSET"];
        for k in &keys {
            mset.push(k);
            mset.push(&v);
        }
        let req = mset.join(" ");
        match c.request(&mset) {
            Ok(r) if r == b"+OK\r\n" => {
                log.msets += 1;
                log.acked
                    .extend(keys.iter().map(|k| (k.clone(), v.clone())));
            }
            Ok(r) => {
                fail(&mut log, &mut conn, req, escape(&r));
                continue;
            }
            Err(e) => {
                fail(&mut log, &mut conn, req, e);
                continue;
            }
        }
        let mut mget = vec!["MGET"];
        mget.extend(keys.iter().map(String::as_str));
        let want: Vec<u8> = {
            let mut w = format!("*{}\r\n", keys.len()).into_bytes();
            for _ in &keys {
                w.extend(format!("${}\r\n{v}\r\n", v.len()).bytes());
            }
            w
        };
        let req = mget.join(" ");
        match c.request(&mget) {
            Ok(r) if r == want => {}
            Ok(r) if r.starts_with(b"-") => fail(&mut log, &mut conn, req, escape(&r)),
            Ok(r) => log.mismatches.push(format!("{req}: {}", escape(&r))),
            Err(e) => fail(&mut log, &mut conn, req, e),
        }
    }
    log
}

fn python() -> std::path::PathBuf {
    let python = crate::util::repo_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} missing: create it with `python3 -m venv .venv && .venv/bin/pip install redis==8.1.0 pytest==9.2.0` \
         (cargo xtask test does this)",
        python.display()
    );
    python
}

const REDIS_PY: &str = r#"
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=5)
for i in range(200):
    assert r.set(f"py:{i}", f"v{i}") is True, i
for i in range(200):
    got = r.get(f"py:{i}")
    assert got == f"v{i}".encode(), (i, got)
m = {"{a}py": "1", "{b}py": "2", "{c}py": "3", "py:x": "4"}
assert r.mset(m) is True
assert r.mget(list(m)) == [b"1", b"2", b"3", b"4"], r.mget(list(m))
assert r.mget(["{a}py", "nosuch", "{c}py"]) == [b"1", None, b"3"]
assert r.delete("{a}py", "{b}py", "nosuch") == 2
print("redis-py through the proxy ok")
"#;

#[test]
fn proxy_cluster_hides_reshard_and_failover_from_plain_clients() {
    let test_started = Instant::now();
    assert!(
        std::path::Path::new(CLI).is_file(),
        "{CLI} missing (Debian's redis-tools)"
    );
    let python = python();
    let mut all: Vec<Option<TestServer>> = (0..6)
        .map(|_| Some(start_node(ServerKind::Ours, &[])))
        .collect();
    {
        let refs: Vec<&TestServer> = all.iter().map(|n| n.as_ref().unwrap()).collect();
        create(&refs[..3], &refs[3..]);
        wait_for(Duration::from_secs(20), "every replica synced", || {
            refs[3..].iter().all(|r| {
                cluster::cmd(r, &["INFO", "replication"]).contains("master_link_status:up")
            })
        });
    }
    let node = |i: usize| all[i].as_ref().unwrap();
    let ids: Vec<String> = (0..6).map(|i| myid(node(i))).collect();
    let seed = format!("127.0.0.1:{}", node(0).port());
    let proxy = Proxy::start(&["--cluster", &seed]);
    let mut c = Conn::connect(proxy.addr()).unwrap();
    wait_for(Duration::from_secs(10), "the proxy to serve", || {
        text(&c.cmd(&["SET", "hello", "1"])) == "+OK"
    });
    let tags = moving_tags();

    let stop = Arc::new(AtomicBool::new(false));
    let gate = Gate::default();
    let w = {
        let (stop, tags, addr, gate) = (stop.clone(), tags.clone(), proxy.addr(), gate.clone());
        std::thread::spawn(move || writer(addr, tags, stop, gate))
    };
    std::thread::sleep(Duration::from_secs(1));

    // Phase 1: reshard slots 0..99 from primary 0 to primary 1.
    let redirections = |p: &Proxy| -> u64 { p.info_field("redirections").parse().unwrap() };
    let redirections_before = redirections(&proxy);
    let reshard_at = Instant::now();
    let o = run_bounded(
        std::process::Command::new(CLI).args([
            "--cluster",
            "reshard",
            &format!("127.0.0.1:{}", node(2).port()),
            "--cluster-from",
            &ids[0],
            "--cluster-to",
            &ids[1],
            "--cluster-slots",
            "100",
            "--cluster-yes",
        ]),
        Duration::from_secs(60),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && !out.contains("[ERR]"),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reshard_took = reshard_at.elapsed();
    let owner_line = cluster::cmd(node(2), &["CLUSTER", "NODES"])
        .lines()
        .find(|l| l.starts_with(&ids[1]))
        .unwrap_or("")
        .to_owned();
    assert!(owner_line.contains(" 0-99"), "{owner_line}");
    // The writer really wrote to moving slots: the proxy followed
    // redirections while they moved.
    let followed = redirections(&proxy) - redirections_before;
    assert!(followed > 0, "no redirection followed during the reshard");
    std::thread::sleep(Duration::from_secs(1));

    // Phase 2: kill -9 primary 1 (it owns the moved slots); its replica
    // (node 4) is promoted.
    // Replication is asynchronous: a write acknowledged just before the
    // kill may never reach the replica, whatever the proxy does. So the
    // writer pauses, the replica is known to have everything (`WAIT`),
    // and the writer goes on right after the kill, into the failover.
    let victim = all[1].take().unwrap();
    gate.hold.store(true, Ordering::SeqCst);
    wait_for(Duration::from_secs(10), "the writer to pause", || {
        gate.idle.load(Ordering::SeqCst)
    });
    assert_eq!(text(&victim.conn().cmd(&["WAIT", "1", "5000"])), ":1");
    let kill_at = Instant::now();
    assert!(victim.signal("-KILL"));
    gate.hold.store(false, Ordering::SeqCst);
    drop(victim);
    let survivors: Vec<&TestServer> = all.iter().flatten().collect();
    wait_for(Duration::from_secs(30), "the replica promoted", || {
        let nodes = cluster::cmd(survivors[0], &["CLUSTER", "NODES"]);
        nodes
            .lines()
            .any(|l| l.starts_with(&ids[1]) && l.contains("fail"))
            && nodes
                .lines()
                .any(|l| l.starts_with(&ids[4]) && l.contains("master"))
    });
    wait_for(
        Duration::from_secs(20),
        "cluster_state:ok on survivors",
        || {
            survivors
                .iter()
                .all(|n| cluster::info_field(n, "cluster_state") == "ok")
        },
    );
    let ok_at = Instant::now();
    println!(
        "reshard took {reshard_took:?} ({followed} redirections followed); promotion and cluster ok {:?} after the kill",
        ok_at - kill_at
    );
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    let log = w.join().unwrap();

    let phase = |from: Instant, to: Instant| {
        log.errors
            .iter()
            .filter(|(t, _, _)| *t >= from && *t < to)
            .collect::<Vec<_>>()
    };
    let far = Instant::now() + Duration::from_secs(3600);
    let before_reshard = phase(test_started, reshard_at);
    let during_reshard = phase(reshard_at, kill_at);
    let failover = phase(kill_at, ok_at + GRACE);
    let after = phase(ok_at + GRACE, far);
    println!(
        "writer: {} attempts, {} acknowledged writes ({} MSETs); errors: before reshard {}, \
         reshard {}, kill to ok+{GRACE:?} {}, after {}",
        log.attempts,
        log.acked.len(),
        log.msets,
        before_reshard.len(),
        during_reshard.len(),
        failover.len(),
        after.len()
    );
    for (t, req, what) in log.errors.iter().take(20) {
        println!(
            "  error {:?} after the kill: {req} -> {what}",
            t.checked_duration_since(kill_at)
                .map(|d| d.as_millis() as i128)
                .unwrap_or_else(|| -((kill_at - *t).as_millis() as i128))
        );
    }
    assert!(before_reshard.is_empty(), "{before_reshard:?}");
    assert!(
        during_reshard.is_empty(),
        "errors while resharding: {during_reshard:?}"
    );
    assert!(after.is_empty(), "errors after the failover: {after:?}");
    assert!(log.mismatches.is_empty(), "{:?}", log.mismatches);
    assert!(log.acked.len() > 500, "too few writes: {}", log.acked.len());
    assert!(log.msets > 10, "too few MSETs: {}", log.msets);

    // Every acknowledged write is readable through the proxy.
    let mut lost = Vec::new();
    for batch in log.acked.chunks(200) {
        let mut args = vec!["MGET"];
        args.extend(batch.iter().map(|(k, _)| k.as_str()));
        let r = c.cmd(&args);
        let s = String::from_utf8_lossy(&r).into_owned();
        assert!(
            s.starts_with(&format!("*{}\r\n", batch.len())),
            "{}",
            escape(&r)
        );
        let mut lines = s.split("\r\n").skip(1);
        for (k, v) in batch {
            let head = lines.next().unwrap();
            let got = if head == "$-1" { None } else { lines.next() };
            if got != Some(v.as_str()) {
                lost.push(format!("{k}={v} (got {got:?})"));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );

    // redis-cli without -c, and redis-py's plain client.
    let port = proxy.addr().port().to_string();
    let cli = |args: &[&str]| {
        let o = run_bounded(
            std::process::Command::new(CLI)
                .args(["-p", &port])
                .args(args),
            Duration::from_secs(10),
        );
        assert!(o.status.success(), "{args:?}");
        String::from_utf8_lossy(&o.stdout).trim_end().to_owned()
    };
    assert_eq!(
        cli(&["MSET", "{a}cli", "x", "{b}cli", "y", "{c}cli", "z"]),
        "OK"
    );
    assert_eq!(cli(&["MGET", "{c}cli", "{a}cli", "{b}cli"]), "z\nx\ny");
    let (k, v) = &log.acked[log.acked.len() / 2];
    assert_eq!(&cli(&["GET", k]), v);
    let o = run_bounded(
        std::process::Command::new(python).args(["-c", REDIS_PY, &port]),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("redis-py through the proxy ok"),
        "{}\n{stdout}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    println!("total {:?}", test_started.elapsed());
}
