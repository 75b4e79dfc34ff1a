//! `redis-proxy` in front of our own servers: static mode (local
//! commands, auth, pipelining, transactions, protocol errors), sentinel
//! mode through a primary crash (every acknowledged write survives on
//! the new primary), and cluster mode (slot routing, redirections,
//! multi-key splits, fan-out, SCAN).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_testkit::cluster::{self, create, myid, start_node, text, wait_for};
use redis_testkit::sentinel::{safe_port, wait_listed, wait_role, Node, Sentinel, SentinelKind};
use redis_testkit::server::ours_binary;
use redis_testkit::{ChildGuard, Conn, ServerKind, TestServer};

/// A running proxy, killed (by PID) when dropped (also used by
/// `proxy_failover`).
pub(crate) struct Proxy {
    _child: ChildGuard,
    port: u16,
}

impl Proxy {
    pub(crate) fn start(args: &[&str]) -> Proxy {
        let port = safe_port();
        let p = port.to_string();
        let mut all = vec!["--port", &p, "--bind", "127.0.0.1"];
        all.extend_from_slice(args);
        let child = ChildGuard::spawn(
            Command::new(ours_binary("redis-proxy"))
                .args(&all)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let proxy = Proxy {
            _child: child,
            port,
        };
        wait_for(Duration::from_secs(10), "the proxy to listen", || {
            Conn::connect(proxy.addr()).is_ok()
        });
        proxy
    }

    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn conn(&self) -> Conn {
        Conn::connect(self.addr()).unwrap()
    }

    fn cmd(&self, args: &[&str]) -> String {
        text(&self.conn().cmd(args))
    }

    pub(crate) fn info_field(&self, field: &str) -> String {
        let info = self.cmd(&["INFO", "proxy"]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or("")
            .trim()
            .to_owned()
    }
}

#[test]
fn proxy_static_mode_local_commands_and_forwarding() {
    let server = TestServer::start(ServerKind::Ours, &[]);
    let backend = format!("127.0.0.1:{}", server.port());
    let proxy = Proxy::start(&["--static", &backend, "--requirepass", "pw"]);
    let mut c = proxy.conn();
    assert!(text(&c.cmd(&["GET", "x"])).starts_with("-NOAUTH"));
    assert!(text(&c.cmd(&["AUTH", "nope"])).starts_with("-WRONGPASS"));
    assert_eq!(text(&c.cmd(&["AUTH", "pw"])), "+OK");
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG");
    assert_eq!(text(&c.cmd(&["SET", "k", "v"])), "+OK");
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");
    assert_eq!(text(&server.conn().cmd(&["GET", "k"])), "v");
    assert_eq!(text(&c.cmd(&["SELECT", "0"])), "+OK");
    assert!(text(&c.cmd(&["SELECT", "1"])).starts_with("-ERR redis-proxy"));
    // Not subscribed to anything: answered as the server would.
    assert_eq!(
        text(&c.cmd(&["UNSUBSCRIBE", "ch"])),
        "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0"
    );
    assert_eq!(text(&c.cmd(&["CLIENT", "SETNAME", "me"])), "+OK");
    assert_eq!(text(&c.cmd(&["CLIENT", "GETNAME"])), "me");

    // Pipelining: 500 requests in one write, replies in order, with
    // local commands interleaved.
    let mut batch = Vec::new();
    for i in 0..500 {
        if i % 50 == 0 {
            batch.extend(redis_testkit::conn::encode_request(&["PING"]));
        } else {
            batch.extend(redis_testkit::conn::encode_request(&["INCR", "n"]));
        }
    }
    c.send_raw(&batch);
    let mut n = 0;
    for i in 0..500 {
        let r = text(&c.read_reply_raw());
        if i % 50 == 0 {
            assert_eq!(r, "+PONG", "reply {i}");
        } else {
            n += 1;
            assert_eq!(r, format!(":{n}"), "reply {i}");
        }
    }

    // A transaction on the client's own backend connection.
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["INCR", "t"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["INCR", "t"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["EXEC"])), "*2\r\n:1\r\n:2");
    // Commands the proxy answers itself are queued inside a transaction
    // too (one EXEC entry per queued command); a refused one discards it.
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["PING"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["ECHO", "e"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["SELECT", "0"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["INCR", "t"])), "+QUEUED");
    assert_eq!(
        text(&c.cmd(&["EXEC"])),
        "*4\r\n+PONG\r\n$1\r\ne\r\n+OK\r\n:3"
    );
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert!(text(&c.cmd(&["SELECT", "1"])).starts_with("-ERR redis-proxy"));
    assert_eq!(text(&c.cmd(&["PING"])), "+QUEUED");
    assert!(text(&c.cmd(&["EXEC"])).starts_with("-EXECABORT"));
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG");

    // HELLO 3 switches this client to RESP3 (a map reply), and forwarded
    // replies come in RESP3 too.
    let mut c3 = proxy.conn();
    let hello = c3.cmd(&["HELLO", "3", "AUTH", "default", "pw"]);
    assert!(hello.starts_with(b"%7\r\n"), "{}", text(&hello));
    assert_eq!(text(&c3.cmd(&["HSET", "h", "f", "1"])), ":1");
    assert!(c3.cmd(&["HGETALL", "h"]).starts_with(b"%1\r\n"));

    let info = text(&c3.cmd(&["INFO"]));
    assert!(info.contains("# Proxy"), "{info}");
    assert!(info.contains("proxy_mode:static"), "{info}");
    assert!(info.contains(&format!("addr={backend}")), "{info}");

    // Malformed RESP closes that client only, after an error reply.
    let mut bad = proxy.conn();
    bad.send_raw(b"*1\r\n$abc\r\n");
    let r = text(&bad.read_reply_raw());
    assert!(r.starts_with("-ERR Protocol error"), "{r}");
    assert!(bad.is_closed());
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");

    assert_eq!(text(&c.cmd(&["QUIT"])), "+OK");
    assert!(c.is_closed());
}

/// Writes `RPUSH seq i` then `WAIT 1 1000` through the proxy until
/// `stop`; returns the values whose push was acknowledged by the primary
/// and by its replica, and the number of failed attempts.
fn writer(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> (Vec<u64>, u64) {
    let mut acked = Vec::new();
    let mut errors = 0;
    let mut conn: Option<Conn> = None;
    let started = Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
        i += 1;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::connect(addr) {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    errors += 1;
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        let v = i.to_string();
        let mut req = redis_testkit::conn::encode_request(&["RPUSH", "seq", &v]);
        req.extend(redis_testkit::conn::encode_request(&["WAIT", "1", "1000"]));
        if c.try_send_raw(&req).is_err() {
            conn = None;
            errors += 1;
            continue;
        }
        let (Ok(push), Ok(wait)) = (c.try_read_reply_raw(), c.try_read_reply_raw()) else {
            conn = None;
            errors += 1;
            continue;
        };
        if push.starts_with(b":") && wait == b":1\r\n" {
            acked.push(i);
        } else {
            errors += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    (acked, errors)
}

#[test]
fn proxy_sentinel_mode_follows_a_crashed_primary() {
    let mut master = Node::start(ServerKind::Ours, "master", &[]);
    let mport = master.port().to_string();
    let replica = Node::start(
        ServerKind::Ours,
        "replica",
        &["--replicaof", "127.0.0.1", &mport],
    );
    wait_role(&replica, Some(master.port()), Duration::from_secs(10));
    let s = Sentinel::start(
        SentinelKind::Ours,
        "s1",
        &format!(
            "sentinel monitor m 127.0.0.1 {mport} 1\nsentinel down-after-milliseconds m 1000\n\
             sentinel failover-timeout m 10000\n"
        ),
    );
    wait_listed(&s, "REPLICAS", "m", 1, Duration::from_secs(15));
    let sentinel = format!("127.0.0.1:{}", s.port());
    let proxy = Proxy::start(&[
        "--sentinel",
        &sentinel,
        "--master",
        "m",
        "--failover-hold-ms",
        "4000",
    ]);
    wait_for(
        Duration::from_secs(10),
        "the proxy to learn the primary",
        || proxy.info_field("primary") == format!("127.0.0.1:{mport}"),
    );
    assert_eq!(proxy.cmd(&["SET", "before", "1"]), "+OK");

    let stop = Arc::new(AtomicBool::new(false));
    let addr = proxy.addr();
    let w = {
        let stop = stop.clone();
        std::thread::spawn(move || writer(addr, stop))
    };
    std::thread::sleep(Duration::from_millis(1500));
    master.kill9();
    let killed = Instant::now();
    wait_role(&replica, None, Duration::from_secs(30));
    let rport = replica.port();
    wait_for(Duration::from_secs(10), "the proxy to switch", || {
        proxy.info_field("primary") == format!("127.0.0.1:{rport}")
    });
    println!("proxy switched {:?} after the kill", killed.elapsed());
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let (acked, errors) = w.join().unwrap();
    println!("acked {} errors {errors}", acked.len());
    assert!(
        acked.len() > 20,
        "too few writes acknowledged: {}",
        acked.len()
    );

    // Every acknowledged write is on the new primary.
    let raw = replica.query(&["LRANGE", "seq", "0", "-1"]).unwrap();
    let body = String::from_utf8_lossy(&raw).into_owned();
    let have: std::collections::HashSet<u64> =
        body.split("\r\n").filter_map(|l| l.parse().ok()).collect();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|a| !have.contains(a))
        .collect();
    assert!(lost.is_empty(), "lost acknowledged writes: {lost:?}");
    // Writes went on after the failover, through the same proxy.
    let last_before = *acked.first().unwrap();
    assert!(acked.iter().any(|&a| a > last_before + 10));
    assert_eq!(proxy.cmd(&["GET", "before"]), "1");
    assert_eq!(proxy.info_field("failovers_seen"), "1");
}

/// A sentinel that missed a failover (started after it, still naming the
/// dead primary with the old `config-epoch`) and is listed first: the
/// proxy follows the sentinel with the newer epoch, at start and on every
/// poll afterwards.
#[test]
fn proxy_sentinel_mode_ignores_a_sentinel_that_missed_the_failover() {
    let mut master = Node::start(ServerKind::Ours, "master", &[]);
    let mport = master.port().to_string();
    let replica = Node::start(
        ServerKind::Ours,
        "replica",
        &["--replicaof", "127.0.0.1", &mport],
    );
    wait_role(&replica, Some(master.port()), Duration::from_secs(10));
    let knows = Sentinel::start(
        SentinelKind::Ours,
        "knows",
        &format!(
            "sentinel monitor m 127.0.0.1 {mport} 1\nsentinel down-after-milliseconds m 1000\n\
             sentinel failover-timeout m 10000\n"
        ),
    );
    wait_listed(&knows, "REPLICAS", "m", 1, Duration::from_secs(15));
    master.kill9();
    wait_role(&replica, None, Duration::from_secs(30));
    let rport = replica.port();
    wait_for(
        Duration::from_secs(30),
        "the sentinel to finish the failover",
        || {
            // `SENTINEL MASTER` changes at the end of the failover (with
            // the epoch and the `+switch-master` event).
            knows
                .query(&["SENTINEL", "MASTER", "m"])
                .is_ok_and(|r| String::from_utf8_lossy(&r).contains(&format!("\r\n{rport}\r\n")))
        },
    );
    // Started now, it only knows the dead primary (epoch 0).
    let stale = Sentinel::start(
        SentinelKind::Ours,
        "stale",
        &format!("sentinel monitor m 127.0.0.1 {mport} 2\n"),
    );
    let sentinels = format!("127.0.0.1:{},127.0.0.1:{}", stale.port(), knows.port());
    let proxy = Proxy::start(&["--sentinel", &sentinels, "--master", "m"]);
    wait_for(
        Duration::from_secs(10),
        "the proxy to learn the primary",
        || proxy.info_field("primary") == format!("127.0.0.1:{rport}"),
    );
    // Polls later (one a second) it is still there; writes go through.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(proxy.info_field("primary"), format!("127.0.0.1:{rport}"));
    assert_eq!(proxy.cmd(&["SET", "k", "v"]), "+OK");
    assert_eq!(text(&replica.query(&["GET", "k"]).unwrap()), "v");
    assert_eq!(proxy.info_field("failovers_seen"), "0");
}

#[test]
fn proxy_cluster_mode_routes_splits_and_fans_out() {
    let nodes: Vec<TestServer> = (0..3).map(|_| start_node(ServerKind::Ours, &[])).collect();
    let refs: Vec<&TestServer> = nodes.iter().collect();
    create(&refs, &[]);
    let seed = format!("127.0.0.1:{}", nodes[0].port());
    let proxy = Proxy::start(&["--cluster", &seed]);
    let mut c = proxy.conn();

    for i in 0..100 {
        let (k, v) = (format!("key:{i}"), format!("v{i}"));
        assert_eq!(text(&c.cmd(&["SET", &k, &v])), "+OK");
    }
    for i in 0..100 {
        assert_eq!(text(&c.cmd(&["GET", &format!("key:{i}")])), format!("v{i}"));
    }
    // The keys really are spread over the three primaries.
    let per_node: Vec<i64> = nodes
        .iter()
        .map(|n| {
            cluster::cmd(n, &["DBSIZE"])
                .trim_start_matches(':')
                .parse()
                .unwrap()
        })
        .collect();
    assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
    assert_eq!(per_node.iter().sum::<i64>(), 100);
    assert_eq!(text(&c.cmd(&["DBSIZE"])), ":100");

    // Multi-key commands split per slot, replies reassembled in order.
    assert_eq!(
        text(&c.cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"])),
        "+OK"
    );
    assert_eq!(
        text(&c.cmd(&["MGET", "d", "nosuch", "a", "c", "b"])),
        "*5\r\n$1\r\n4\r\n$-1\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n2"
    );
    assert_eq!(text(&c.cmd(&["EXISTS", "a", "b", "nosuch", "c"])), ":3");
    assert_eq!(text(&c.cmd(&["DEL", "a", "b", "nosuch"])), ":2");
    assert_eq!(
        text(&c.cmd(&["RENAME", "c", "d"])),
        "-CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(
        text(&c.cmd(&["RENAME", "{t}c", "{t}d"])),
        "-ERR no such key"
    );

    // KEYS and SCAN see every primary.
    let keys = c.cmd(&["KEYS", "key:*"]);
    assert!(keys.starts_with(b"*100\r\n"), "{}", text(&keys));
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let r =
            String::from_utf8(c.cmd(&["SCAN", &cursor, "MATCH", "key:*", "COUNT", "7"])).unwrap();
        let lines: Vec<&str> = r.split("\r\n").collect();
        cursor = lines[2].to_string();
        for l in lines.iter().skip(5).step_by(2) {
            if l.starts_with("key:") {
                seen.insert(l.to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0");
    assert_eq!(seen.len(), 100);

    // A slot moves behind the proxy's back: -MOVED is followed.
    let slot: u16 = 9189; // key1
    let owner = cluster::slot_ranges(3)
        .iter()
        .position(|(a, b)| (*a..=*b).contains(&slot))
        .unwrap();
    let other = (owner + 1) % 3;
    let id = myid(&nodes[other]);
    for n in &nodes {
        let r = cluster::cmd(n, &["CLUSTER", "SETSLOT", &slot.to_string(), "NODE", &id]);
        assert_eq!(r, "+OK", "SETSLOT on {}", n.port());
    }
    assert_eq!(text(&c.cmd(&["SET", "key1", "moved"])), "+OK");
    assert_eq!(cluster::cmd(&nodes[other], &["GET", "key1"]), "moved");
    let redirects: u64 = proxy.info_field("redirections").parse().unwrap();
    assert!(redirects >= 1);

    assert_eq!(text(&c.cmd(&["FLUSHALL"])), "+OK");
    assert_eq!(text(&c.cmd(&["DBSIZE"])), ":0");
}
