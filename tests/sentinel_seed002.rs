//! Seed 002's Sentinel setup on loopback: two password-protected servers
//! (`requirepass` + `masterauth`), a witness sentinel with the guide's
//! settings (`down-after-milliseconds 3000`, `failover-timeout 6000`,
//! `parallel-syncs 1`, `auth-pass`), and Debian's HAProxy in front with
//! the guide's tcp-check (AUTH, PING, `info replication`, expect
//! `role:master`, QUIT). The primary's service is stopped, the replica is
//! promoted and HAProxy follows; the old primary comes back as a replica;
//! then the same the other way round.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use redis_testkit::conn::encode_request;
use redis_testkit::sentinel::{parse_role, wait_for, Node, Sentinel, SentinelKind};
use redis_testkit::{ChildGuard, Conn, ServerKind, TempDir};

const PASS: &str = "TestPass";

/// `AUTH` then `args` on a fresh connection; the reply to `args`.
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

/// Waits until `node` is a master (`None`) or a replica of `port`.
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

/// Runs `args` through HAProxy until the reply is `want` (bounded).
fn through_proxy(port: u16, args: &[&str], want: &[u8]) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_for(
        Duration::from_secs(20),
        &format!("HAProxy to route {args:?} to the primary"),
        || {
            let r = authed(addr, args)?;
            if r == want {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&r).into_owned())
            }
        },
    );
}

/// The `master0:` line of the sentinel's `INFO sentinel`.
fn master0(s: &Sentinel) -> Result<String, String> {
    let raw = s.query(&["INFO", "sentinel"])?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.lines()
        .find(|l| l.starts_with("master0:"))
        .map(str::to_string)
        .ok_or(text)
}

fn stop(node: &Node) {
    // `systemctl stop redis-server`: a clean shutdown.
    let _ = authed(node.addr(), &["SHUTDOWN"]);
    let start = Instant::now();
    while authed(node.addr(), &["PING"]).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} did not stop",
            node.label()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn seed002_witness_sentinel_and_haproxy_follow_failovers_both_ways() {
    let haproxy = redis_testkit::require_tool(
        "/usr/sbin/haproxy",
        "apt-get install haproxy (cargo xtask test does)",
    );
    let auth = ["--requirepass", PASS, "--masterauth", PASS];
    let mut a = Node::start(ServerKind::Ours, "redis1", &auth);
    let ap = a.port().to_string();
    let replica_args: Vec<&str> = auth
        .iter()
        .copied()
        .chain(["--replicaof", "127.0.0.1", &ap])
        .collect();
    let mut b = Node::start(ServerKind::Ours, "redis2", &replica_args);
    wait_role(&b, Some(a.port()), Duration::from_secs(10));
    let s = Sentinel::start(
        SentinelKind::Ours,
        "redis3",
        &format!(
            "sentinel monitor master01 127.0.0.1 {ap} 1\n\
             sentinel down-after-milliseconds master01 3000\n\
             sentinel failover-timeout master01 6000\n\
             sentinel parallel-syncs master01 1\n\
             sentinel auth-pass master01 {PASS}\n"
        ),
    );
    let line = |port: u16| {
        format!("master0:name=master01,status=ok,address=127.0.0.1:{port},slaves=1,sentinels=1")
    };
    wait_for(Duration::from_secs(15), "info sentinel", || {
        let l = master0(&s)?;
        if l.trim_end() == line(a.port()) {
            Ok(())
        } else {
            Err(l)
        }
    });

    let dir = TempDir::new();
    let front = redis_testkit::sentinel::safe_port();
    let cfg = crate::util::haproxy_guide_config(
        front,
        PASS,
        &[("redis1", a.port()), ("redis2", b.port())],
        500,
    );
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let _proxy = ChildGuard::spawn(
        std::process::Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    through_proxy(front, &["SET", "k1", "1"], b"+OK\r\n");

    // Round 1: the primary's service stops; the replica takes over.
    stop(&a);
    wait_for(Duration::from_secs(20), "failover to redis2", || {
        match s.master_addr("master01")? {
            Some((_, p)) if p == b.port() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    wait_role(&b, None, Duration::from_secs(10));
    through_proxy(front, &["SET", "k2", "2"], b"+OK\r\n");
    through_proxy(front, &["GET", "k1"], b"$1\r\n1\r\n");
    // It comes back and is turned into a replica of the new primary.
    a.restart(&auth);
    wait_role(&a, Some(b.port()), Duration::from_secs(40));

    // Round 2: the other way round.
    stop(&b);
    wait_for(
        Duration::from_secs(20),
        "failover back to redis1",
        || match s.master_addr("master01")? {
            Some((_, p)) if p == a.port() => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    wait_role(&a, None, Duration::from_secs(10));
    through_proxy(front, &["SET", "k3", "3"], b"+OK\r\n");
    through_proxy(front, &["GET", "k2"], b"$1\r\n2\r\n");
    b.restart(&auth);
    wait_role(&b, Some(a.port()), Duration::from_secs(40));
    wait_for(
        Duration::from_secs(15),
        "info sentinel after both rounds",
        || {
            let l = master0(&s)?;
            if l.trim_end() == line(a.port()) {
                Ok(())
            } else {
                Err(l)
            }
        },
    );
}
