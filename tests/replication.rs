//! Replication with real processes, in both directions with the reference:
//! our primary feeding a reference replica and ours (with `requirepass` /
//! `masterauth` as the guides configure them), our replica following the
//! reference, the failover flow of the guides (stop the primary,
//! `REPLICAOF NO ONE`, bring the old primary back as a replica), partial
//! resync after a dropped link, `WAIT`, and the HAProxy health check.

use std::time::{Duration, Instant};

use redis_testkit::{ChildGuard, Conn, ServerKind, TestServer};

const PASS: &str = "TestPass";

/// An authenticated connection to a server that finished its startup
/// load: with `requirepass`, the testkit's readiness check passes on
/// `-NOAUTH` while the dataset may still be loading, and commands then get
/// `-LOADING` (or, for `DEBUG`, run against the dataset being replaced).
fn authed(s: &TestServer) -> Conn {
    let mut c = s.conn();
    assert_eq!(c.cmd(&["AUTH", PASS]), b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = info(&mut c, "persistence");
        if field(&text, "loading").as_deref() == Some("0") {
            return c;
        }
        assert!(Instant::now() < deadline, "still loading:\n{text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn info(c: &mut Conn, section: &str) -> String {
    let raw = c.cmd(&["INFO", section]);
    String::from_utf8_lossy(&raw).into_owned()
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

/// Waits (bounded) until `replica` is linked and has processed everything
/// `primary` has produced.
fn wait_in_sync(primary: &mut Conn, replica: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = info(primary, "replication");
        let r = info(replica, "replication");
        let up = field(&r, "master_link_status").as_deref() == Some("up");
        let po = field(&p, "master_repl_offset");
        let ro = field(&r, "master_repl_offset");
        if up && po.is_some() && po == ro {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica did not catch up:\nprimary:\n{p}\nreplica:\n{r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_everything(c: &mut Conn) {
    // DEBUG POPULATE is not propagated (upstream neither): use MSET.
    for chunk in 0..30 {
        let mut args: Vec<String> = vec!["MSET".into()];
        for i in 0..100 {
            args.push(format!("k:{}", chunk * 100 + i));
            args.push(format!("value:{i}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        c.cmd(&refs);
    }
    c.cmd(&["SET", "s", "v", "EX", "1000"]);
    c.cmd(&["INCRBYFLOAT", "f", "1.5"]);
    c.cmd(&["RPUSH", "l", "a", "b", "c"]);
    c.cmd(&["LPOP", "l"]);
    c.cmd(&["HSET", "h", "f", "v", "g", "w"]);
    c.cmd(&["SADD", "set", "1", "2", "x"]);
    c.cmd(&["SPOP", "set"]);
    c.cmd(&["ZADD", "z", "1", "a", "2", "b"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "counter"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "in2", "yes"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["SET", "short", "x", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    c.cmd(&["GET", "short"]);
    c.cmd(&["DEL", "k:1", "k:2"]);
}

fn primary_args(extra: &[&str]) -> Vec<String> {
    // No 5 s wait for more replicas before each full sync (the default
    // `repl-diskless-sync-delay`); `diskless_sync_delay_groups_replicas`
    // tests the delay itself.
    let mut v: Vec<String> = [
        "--requirepass",
        PASS,
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn replica_of(kind: ServerKind, primary: &TestServer) -> TestServer {
    let port = primary.port().to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &port];
    args.extend_from_slice(REPLICA_AUTH);
    TestServer::start(kind, &args)
}

/// Credentials and debug access every test replica gets.
const REPLICA_AUTH: &[&str] = &[
    "--masterauth",
    PASS,
    "--requirepass",
    PASS,
    "--enable-debug-command",
    "yes",
];

fn start(kind: ServerKind, args: &[String]) -> TestServer {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start(kind, &a)
}

/// The `# Replication` field names, in order, with `slaveN` lines folded.
fn shape(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .map(|k| {
            if k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit()) {
                "slaveN".into()
            } else {
                k
            }
        })
        .fold(Vec::new(), |mut v: Vec<String>, k| {
            if v.last() != Some(&k) {
                v.push(k);
            }
            v
        })
}

#[test]
fn our_primary_feeds_reference_and_our_replicas() {
    let primary = start(ServerKind::Ours, &primary_args(&[]));
    let mut p = authed(&primary);
    p.cmd(&["SET", "before-sync", "1"]);
    let theirs = replica_of(ServerKind::Reference, &primary);
    let ours = replica_of(ServerKind::Ours, &primary);
    let mut rt = authed(&theirs);
    let mut ro = authed(&ours);
    wait_in_sync(&mut p, &mut rt);
    wait_in_sync(&mut p, &mut ro);
    write_everything(&mut p);
    wait_in_sync(&mut p, &mut rt);
    wait_in_sync(&mut p, &mut ro);
    let d = p.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(rt.cmd(&["DEBUG", "DIGEST"]), d, "reference replica differs");
    assert_eq!(ro.cmd(&["DEBUG", "DIGEST"]), d, "our replica differs");
    // Replicas refuse writes with upstream's error.
    assert_eq!(ro.cmd(&["SET", "x", "y"]), rt.cmd(&["SET", "x", "y"]));
    // INFO replication has the reference's field names on both roles.
    let reference_primary = start(ServerKind::Reference, &primary_args(&[]));
    let rr = replica_of(ServerKind::Reference, &reference_primary);
    let mut rp = authed(&reference_primary);
    let mut rrc = authed(&rr);
    wait_in_sync(&mut rp, &mut rrc);
    assert_eq!(
        shape(&info(&mut p, "replication")),
        shape(&info(&mut rp, "replication"))
    );
    assert_eq!(
        shape(&info(&mut ro, "replication")),
        shape(&info(&mut rrc, "replication"))
    );
    let ip = info(&mut p, "replication");
    assert_eq!(field(&ip, "connected_slaves").as_deref(), Some("2"), "{ip}");
    assert!(ip.contains(",state=online,"), "{ip}");
}

#[test]
fn our_replica_follows_the_reference() {
    let primary = start(ServerKind::Reference, &primary_args(&[]));
    let mut p = authed(&primary);
    p.cmd(&["DEBUG", "POPULATE", "2000", "pre", "30"]);
    let ours = replica_of(ServerKind::Ours, &primary);
    let mut r = authed(&ours);
    wait_in_sync(&mut p, &mut r);
    write_everything(&mut p);
    wait_in_sync(&mut p, &mut r);
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), p.cmd(&["DEBUG", "DIGEST"]));
    let role = String::from_utf8_lossy(&r.cmd(&["ROLE"])).into_owned();
    assert!(role.starts_with("*5\r\n$5\r\nslave\r\n"), "{role}");
    assert!(role.contains("$9\r\nconnected\r\n"), "{role}");
    let log = ours.log_contents();
    for line in [
        "Connecting to MASTER 127.0.0.1:",
        "MASTER <-> REPLICA sync started",
        "Master replied to PING, replication can continue...",
        "Full resync from master:",
        "MASTER <-> REPLICA sync: Finished with success",
    ] {
        assert!(log.contains(line), "missing '{line}' in:\n{log}");
    }
}

#[test]
fn failover_flow_of_the_guides_loses_no_acknowledged_write() {
    let a = start(ServerKind::Ours, &primary_args(&[]));
    let mut ac = authed(&a);
    let b = replica_of(ServerKind::Ours, &a);
    let mut bc = authed(&b);
    wait_in_sync(&mut ac, &mut bc);
    for i in 0..200 {
        ac.cmd(&["SET", &format!("ack:{i}"), &i.to_string()]);
    }
    assert_eq!(ac.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    let acknowledged = ac.cmd(&["DEBUG", "DIGEST"]);
    let a_port = a.port();
    drop(ac);
    drop(a); // the primary goes away
    assert_eq!(bc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(
        bc.cmd(&["DEBUG", "DIGEST"]),
        acknowledged,
        "acknowledged writes lost"
    );
    assert_eq!(bc.cmd(&["SET", "after-failover", "1"]), b"+OK\r\n");
    let role = String::from_utf8_lossy(&bc.cmd(&["ROLE"])).into_owned();
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n"), "{role}");
    // The old primary comes back as a replica of the new one.
    let back = replica_of(ServerKind::Ours, &b);
    let mut backc = authed(&back);
    wait_in_sync(&mut bc, &mut backc);
    assert_eq!(
        backc.cmd(&["DEBUG", "DIGEST"]),
        bc.cmd(&["DEBUG", "DIGEST"])
    );
    assert_eq!(backc.cmd(&["GET", "after-failover"]), b"$1\r\n1\r\n");
    let _ = a_port;
}

#[test]
fn partial_resync_after_the_link_drops() {
    let primary = start(ServerKind::Ours, &primary_args(&[]));
    let mut p = authed(&primary);
    let replica = replica_of(ServerKind::Ours, &primary);
    let mut r = authed(&replica);
    wait_in_sync(&mut p, &mut r);
    p.cmd(&["SET", "a", "1"]);
    wait_in_sync(&mut p, &mut r);
    let ok_before: i64 = field(&info(&mut p, "stats"), "sync_partial_ok")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    assert_eq!(p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    p.cmd(&["SET", "b", "2"]);
    wait_in_sync(&mut p, &mut r);
    let stats = info(&mut p, "stats");
    let ok_after: i64 = field(&stats, "sync_partial_ok")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    assert_eq!(ok_after, ok_before + 1, "{stats}");
    assert_eq!(field(&stats, "sync_full").as_deref(), Some("1"), "{stats}");
    assert_eq!(r.cmd(&["GET", "b"]), b"$1\r\n2\r\n");
}

#[test]
fn haproxy_health_check_answers_on_both_roles() {
    let primary = start(ServerKind::Ours, &primary_args(&[]));
    let replica = replica_of(ServerKind::Ours, &primary);
    let mut p = authed(&primary);
    let mut r = authed(&replica);
    wait_in_sync(&mut p, &mut r);
    for (server, role) in [(&primary, "role:master"), (&replica, "role:slave")] {
        // HAProxy's tcp-check from the guide: AUTH, PING, info replication,
        // expect role:master, QUIT.
        let mut c = server.conn();
        c.send_raw(format!("AUTH {PASS}\r\nPING\r\ninfo replication\r\nQUIT\r\n").as_bytes());
        assert_eq!(c.read_reply_raw(), b"+OK\r\n");
        assert_eq!(c.read_reply_raw(), b"+PONG\r\n");
        let text = String::from_utf8_lossy(&c.read_reply_raw()).into_owned();
        assert!(text.contains(role), "{text}");
        assert_eq!(c.read_reply_raw(), b"+OK\r\n");
        assert!(c.read_until_close().is_ok());
    }
}

#[test]
fn min_replicas_and_stale_data_errors_match_the_reference() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let p = TestServer::start(
            kind,
            &[
                "--min-replicas-to-write",
                "1",
                "--min-replicas-max-lag",
                "10",
            ],
        );
        let mut c = p.conn();
        assert_eq!(
            c.cmd(&["SET", "k", "v"]),
            b"-NOREPLICAS Not enough good replicas to write.\r\n",
            "{kind:?}"
        );
        assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
        // A replica of a primary that does not exist, told not to serve stale data.
        let r = TestServer::start(
            kind,
            &[
                "--replicaof",
                "127.0.0.1",
                "1",
                "--replica-serve-stale-data",
                "no",
            ],
        );
        let mut rc = r.conn();
        assert_eq!(
            rc.cmd(&["GET", "k"]),
            b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
            "{kind:?}"
        );
        let text = info(&mut rc, "replication");
        assert_eq!(
            field(&text, "master_link_status").as_deref(),
            Some("down"),
            "{text}"
        );
    }
}

/// Runs a command through HAProxy until it answers `want` (bounded).
fn through_proxy(port: u16, args: &[&str], want: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    loop {
        if let Ok(mut c) = Conn::connect(addr) {
            if let Ok(()) = c.try_send_raw(&redis_testkit::conn::encode_request(&["AUTH", PASS])) {
                let auth = c.try_read_reply_raw();
                c.send_raw(&redis_testkit::conn::encode_request(args));
                let r = c.try_read_reply_raw();
                if let (Ok(a), Ok(r)) = (auth, r) {
                    if a == b"+OK\r\n" && r == want {
                        return r;
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "HAProxy never routed {args:?} to a primary"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn haproxy_routes_to_whichever_node_is_primary() {
    let haproxy = redis_testkit::require_tool(
        "/usr/sbin/haproxy",
        "apt-get install haproxy (cargo xtask test does)",
    );
    let a = start(ServerKind::Ours, &primary_args(&[]));
    let b = replica_of(ServerKind::Ours, &a);
    let mut ac = authed(&a);
    let mut bc = authed(&b);
    wait_in_sync(&mut ac, &mut bc);
    let front = redis_testkit::server::free_port();
    let cfg =
        crate::util::haproxy_guide_config(front, PASS, &[("a", a.port()), ("b", b.port())], 200);
    let dir = std::env::temp_dir().join(format!("redis-rs-haproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap_or_else(|e| panic!("{e}"));
    let _haproxy = ChildGuard::spawn(
        std::process::Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    // Writes go to the primary only.
    through_proxy(front, &["SET", "routed", "1"], b"+OK\r\n");
    wait_in_sync(&mut ac, &mut bc);
    // Fail over as the guides do: the primary stops, the replica is promoted.
    drop(ac);
    drop(a);
    assert_eq!(bc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    through_proxy(front, &["SET", "after", "2"], b"+OK\r\n");
    through_proxy(front, &["GET", "routed"], b"$1\r\n1\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn primary_killed_during_full_sync_then_back() {
    let a = start(ServerKind::Ours, &primary_args(&[]));
    let mut ac = authed(&a);
    populate(&mut ac, "300000", "big", "100");
    let r = replica_of(ServerKind::Ours, &a);
    // Kill the primary while the replica is (most likely) mid-sync.
    std::thread::sleep(Duration::from_millis(30));
    a.signal("-9");
    drop(ac);
    drop(a);
    let mut rc = authed(&r);
    let text = info(&mut rc, "replication");
    assert_eq!(field(&text, "role").as_deref(), Some("slave"), "{text}");
    // A new primary: the replica is pointed at it and resynchronizes.
    let a2 = start(ServerKind::Ours, &primary_args(&[]));
    let mut a2c = authed(&a2);
    a2c.cmd(&["SET", "fresh", "primary"]);
    let p2 = a2.port().to_string();
    assert_eq!(rc.cmd(&["REPLICAOF", "127.0.0.1", &p2]), b"+OK\r\n");
    wait_in_sync(&mut a2c, &mut rc);
    assert_eq!(
        rc.cmd(&["DEBUG", "DIGEST"]),
        a2c.cmd(&["DEBUG", "DIGEST"]),
        "replica log:\n{}",
        r.log_contents()
    );
    assert_eq!(rc.cmd(&["GET", "fresh"]), b"$7\r\nprimary\r\n");
}

#[test]
fn failover_switches_roles_without_a_full_resync() {
    // The old primary authenticates to its new primary, as the guides set
    // masterauth on every node.
    let a = start(ServerKind::Ours, &primary_args(&["--masterauth", PASS]));
    let b = replica_of(ServerKind::Ours, &a);
    let mut ac = authed(&a);
    let mut bc = authed(&b);
    wait_in_sync(&mut ac, &mut bc);
    for i in 0..100 {
        ac.cmd(&["SET", &format!("f:{i}"), "v"]);
    }
    // Errors as upstream.
    assert_eq!(
        ac.cmd(&["FAILOVER", "ABORT"]),
        b"-ERR No failover in progress.\r\n"
    );
    assert_eq!(
        ac.cmd(&["FAILOVER", "TIMEOUT", "-1"]),
        b"-ERR FAILOVER timeout must be greater than 0\r\n"
    );
    assert_eq!(
        bc.cmd(&["FAILOVER"]),
        b"-ERR FAILOVER is not valid when server is a replica.\r\n"
    );
    let digest = ac.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(ac.cmd(&["FAILOVER", "TIMEOUT", "10000"]), b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ra = info(&mut ac, "replication");
        let rb = info(&mut bc, "replication");
        let switched = field(&ra, "role").as_deref() == Some("slave")
            && field(&ra, "master_link_status").as_deref() == Some("up")
            && field(&rb, "role").as_deref() == Some("master");
        if switched {
            break;
        }
        assert!(Instant::now() < deadline, "no switchover:\n{ra}\n{rb}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(bc.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(bc.cmd(&["SET", "after", "1"]), b"+OK\r\n");
    wait_in_sync(&mut bc, &mut ac);
    assert_eq!(ac.cmd(&["GET", "after"]), b"$1\r\n1\r\n");
    let stats = info(&mut bc, "stats");
    assert_eq!(field(&stats, "sync_full").as_deref(), Some("0"), "{stats}");
}

/// `DEBUG POPULATE`, retried while the server still answers `-LOADING`
/// (the testkit's readiness check accepts `-NOAUTH`, which a server with
/// `requirepass` gives before its startup load is done).
fn populate(c: &mut Conn, n: &str, prefix: &str, size: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.cmd(&["DEBUG", "POPULATE", n, prefix, size]);
        if r == b"+OK\r\n" {
            return;
        }
        assert!(
            r.starts_with(b"-LOADING") && Instant::now() < deadline,
            "DEBUG POPULATE: {}",
            String::from_utf8_lossy(&r)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn replica_with(kind: ServerKind, primary: &TestServer, extra: &[&str]) -> TestServer {
    let port = primary.port().to_string();
    let mut args = vec![
        "--replicaof",
        "127.0.0.1",
        &port,
        "--masterauth",
        PASS,
        "--requirepass",
        PASS,
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    TestServer::start(kind, &args)
}

/// Waits (bounded) until `primary`'s INFO lists an online replica and
/// returns that `slave0:` line.
fn online_replica_line(primary: &mut Conn) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = info(primary, "replication");
        if let Some(l) = field(&text, "slave0") {
            if l.contains("state=online") {
                return l;
            }
        }
        assert!(Instant::now() < deadline, "no online replica:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn replica_announce_ip_and_port_reach_the_primary_both_ways() {
    let announce = [
        "--replica-announce-ip",
        "10.9.8.7",
        "--replica-announce-port",
        "4567",
    ];
    // Each direction with the reference on one side.
    for (pk, rk) in [
        (ServerKind::Ours, ServerKind::Reference),
        (ServerKind::Reference, ServerKind::Ours),
    ] {
        let primary = start(pk, &primary_args(&[]));
        let mut p = authed(&primary);
        let replica = replica_with(rk, &primary, &announce);
        let line = online_replica_line(&mut p);
        assert!(
            line.starts_with("ip=10.9.8.7,port=4567,state=online,"),
            "{pk:?} primary, {rk:?} replica: {line}"
        );
        // ROLE lists the announced address too.
        let want = b"*3\r\n$8\r\n10.9.8.7\r\n$4\r\n4567\r\n";
        let role = p.cmd(&["ROLE"]);
        assert!(
            role.windows(want.len()).any(|w| w == want),
            "{pk:?} primary: {}",
            String::from_utf8_lossy(&role)
        );
        let mut r = authed(&replica);
        let text = info(&mut r, "replication");
        assert_eq!(field(&text, "replica_announced").as_deref(), Some("1"));
    }
    // replica-announced no shows on the replica's INFO, as the reference.
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let primary = start(kind, &primary_args(&[]));
        let replica = replica_with(kind, &primary, &["--replica-announced", "no"]);
        let mut r = authed(&replica);
        let text = info(&mut r, "replication");
        assert_eq!(
            field(&text, "replica_announced").as_deref(),
            Some("0"),
            "{kind:?}: {text}"
        );
    }
}

/// Reads from `c` until `pred` holds on everything read (bounded).
fn read_until(c: &mut std::net::TcpStream, buf: &mut Vec<u8>, pred: impl Fn(&[u8]) -> bool) {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(20);
    let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
    let mut chunk = vec![0u8; 64 * 1024];
    while !pred(buf) {
        assert!(
            Instant::now() < deadline,
            "timed out; got {} bytes: {:?}",
            buf.len(),
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        );
        match c.read(&mut chunk) {
            Ok(0) => panic!("connection closed after {} bytes", buf.len()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn sync_without_capa_eof_gets_a_sized_bulk_then_the_stream() {
    use std::io::Write;
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let primary = start(kind, &primary_args(&[]));
        let mut p = authed(&primary);
        populate(&mut p, "3000", "k", "20");
        let mut s =
            std::net::TcpStream::connect(primary.addr()).unwrap_or_else(|e| panic!("connect: {e}"));
        s.write_all(format!("AUTH {PASS}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = Vec::new();
        read_until(&mut s, &mut buf, |b| b.ends_with(b"+OK\r\n"));
        buf.clear();
        s.write_all(b"SYNC\r\n").unwrap_or_else(|e| panic!("{e}"));
        // `$<len>\r\n` (keep-alive newlines may come first), no +FULLRESYNC.
        read_until(&mut s, &mut buf, |b| {
            let t = b.iter().position(|&c| c != b'\n').unwrap_or(b.len());
            contains(&b[t..], b"\r\n")
        });
        let start_at = buf.iter().position(|&c| c != b'\n').unwrap_or(0);
        let body = &buf[start_at..];
        assert_eq!(
            body[0],
            b'$',
            "{kind:?}: {:?}",
            String::from_utf8_lossy(body)
        );
        let eol = body.iter().position(|&c| c == b'\r').unwrap_or(0);
        let len: usize = String::from_utf8_lossy(&body[1..eol])
            .parse()
            .unwrap_or_else(|e| panic!("{kind:?}: bad length {e}"));
        let head = start_at + eol + 2;
        read_until(&mut s, &mut buf, |b| b.len() >= head + len);
        let rdb = buf[head..head + len].to_vec();
        assert!(rdb.starts_with(b"REDIS0010"), "{kind:?}");
        // The RDB is complete: the reference's checker accepts it.
        let dir = primary.dir().join("sync.rdb");
        std::fs::write(&dir, &rdb).unwrap_or_else(|e| panic!("{e}"));
        let check = redis_testkit::run_bounded(
            std::process::Command::new("/usr/bin/redis-check-rdb").arg(&dir),
            Duration::from_secs(30),
        );
        assert!(check.status.success(), "{kind:?}: {check:?}");
        // Then the command stream.
        let mut rest = buf[head + len..].to_vec();
        p.cmd(&["SET", "after-sync", "streamed"]);
        read_until(&mut s, &mut rest, |b| contains(b, b"after-sync"));
        let stats = info(&mut p, "stats");
        assert_eq!(field(&stats, "sync_full").as_deref(), Some("1"), "{kind:?}");
    }
}

#[test]
fn redis_cli_rdb_and_replica_modes_work_against_our_server() {
    let cli = redis_testkit::require_tool("/usr/bin/redis-cli", "apt-get install redis-tools");
    let check =
        redis_testkit::require_tool("/usr/bin/redis-check-rdb", "apt-get install redis-tools");
    let primary = start(ServerKind::Ours, &primary_args(&[]));
    let mut p = authed(&primary);
    populate(&mut p, "20000", "key", "50");
    write_everything(&mut p);
    let port = primary.port().to_string();
    let file = primary.dir().join("cli.rdb");
    let out = redis_testkit::run_bounded(
        std::process::Command::new(&cli)
            .args(["-p", &port, "-a", PASS, "--no-auth-warning", "--rdb"])
            .arg(&file),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(err.contains("Transfer finished with success"), "{err}");
    let checked = redis_testkit::run_bounded(
        std::process::Command::new(&check).arg(&file),
        Duration::from_secs(60),
    );
    assert!(checked.status.success(), "{checked:?}");
    // The file loads into the reference with the same dataset.
    let digest = p.cmd(&["DEBUG", "DIGEST"]);
    let dumpdir = std::env::temp_dir().join(format!("redis-rs-clirdb-{}", std::process::id()));
    std::fs::create_dir_all(&dumpdir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&file, dumpdir.join("dump.rdb")).unwrap_or_else(|e| panic!("{e}"));
    let dir_s = dumpdir.to_string_lossy().into_owned();
    let reference = TestServer::start(
        ServerKind::Reference,
        &["--dir", &dir_s, "--enable-debug-command", "yes"],
    );
    let mut rc = reference.conn();
    assert_eq!(rc.cmd(&["DEBUG", "DIGEST"]), digest);
    drop(rc);
    drop(reference);
    let _ = std::fs::remove_dir_all(&dumpdir);
    // The RDB-only link was closed by us and is no replica any more.
    let log = primary.log_contents();
    assert!(
        log.contains("RDB transfer completed, rdb only replica (127.0.0.1:<unknown-replica-port>) should be disconnected asap"),
        "{log}"
    );
    assert_eq!(
        field(&info(&mut p, "replication"), "connected_slaves").as_deref(),
        Some("0")
    );

    // --replica: the RDB is skipped, then the stream is printed as CSV.
    let outfile = primary.dir().join("replica-mode.out");
    let errfile = primary.dir().join("replica-mode.err");
    let _cli = ChildGuard::spawn(
        std::process::Command::new(&cli)
            .args(["-p", &port, "-a", PASS, "--no-auth-warning", "--replica"])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&outfile).unwrap_or_else(|e| panic!("{e}")))
            .stderr(std::fs::File::create(&errfile).unwrap_or_else(|e| panic!("{e}"))),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&errfile)
        .unwrap_or_default()
        .contains("Logging commands from master")
    {
        assert!(
            Instant::now() < deadline,
            "redis-cli --replica never synced"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // redis-cli reads one reply for its own REPLCONF ACK (which gets none),
    // swallowing the first stream item; the reference behaves the same.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        p.cmd(&["SET", &format!("live:{n}"), "x"]);
        n += 1;
        let printed = std::fs::read_to_string(&outfile).unwrap_or_default();
        if printed.contains("\"SET\",\"live:") || printed.contains("\"set\",\"live:") {
            break;
        }
        assert!(Instant::now() < deadline, "nothing printed:\n{printed}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a signal to a test server's process by PID.
fn signal(server: &TestServer, sig: &str) {
    assert!(server.signal(sig), "kill {sig} {} failed", server.pid());
    if sig == "-STOP" {
        // `kill` returns before the process is stopped: the main thread
        // takes the signal and then stops the others, which may run on
        // the other core meanwhile, long enough on a loaded machine to
        // acknowledge the next write. Wait until every thread is in state T.
        let dir = format!("/proc/{}/task", server.pid());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let states: Vec<char> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                        .filter_map(|st| st.rsplit(") ").next().and_then(|r| r.chars().next()))
                        .collect()
                })
                .unwrap_or_default();
            if !states.is_empty() && states.iter().all(|&c| c == 'T') {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} not stopped: thread states {states:?}",
                server.pid()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn stat(c: &mut Conn, section: &str, name: &str) -> i64 {
    let text = info(c, section);
    field(&text, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// Waits (bounded) until `server`'s log contains `line`.
fn wait_log(server: &TestServer, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.log_contents().contains(line) {
        assert!(
            Instant::now() < deadline,
            "'{line}' never logged:\n{}",
            server.log_contents()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn replica_killed_while_loading_a_large_full_sync_recovers() {
    let primary = start(ServerKind::Ours, &primary_args(&[]));
    let mut p = authed(&primary);
    populate(&mut p, "200000", "big", "64");
    p.cmd(&["SET", "marker", "1"]);
    let digest = p.cmd(&["DEBUG", "DIGEST"]);
    let replica = replica_of(ServerKind::Ours, &primary);
    // Killed in the middle: the payload is arriving or being loaded.
    wait_log(
        &replica,
        "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk",
    );
    signal(&replica, "-9");
    let died = replica.log_contents();
    assert!(
        !died.contains("MASTER <-> REPLICA sync: Finished with success"),
        "the kill came after the sync:\n{died}"
    );
    // The primary notices, keeps serving and is unchanged.
    assert_eq!(p.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(p.cmd(&["DEBUG", "DIGEST"]), digest);
    // Restarted on the same directory (whatever it left there).
    let dir = replica.dir().to_string_lossy().into_owned();
    let port = primary.port().to_string();
    let again = TestServer::start(
        ServerKind::Ours,
        &[
            "--dir",
            &dir,
            "--replicaof",
            "127.0.0.1",
            &port,
            "--masterauth",
            PASS,
            "--requirepass",
            PASS,
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut r = authed(&again);
    p.cmd(&["SET", "after-restart", "1"]);
    wait_in_sync(&mut p, &mut r);
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), p.cmd(&["DEBUG", "DIGEST"]));
    assert_eq!(
        r.cmd(&["DBSIZE"]),
        b":200002\r\n",
        "replica log:\n{}\nprimary log:\n{}",
        again.log_contents(),
        primary.log_contents()
    );
    let line = online_replica_line(&mut p);
    assert!(line.contains("state=online"), "{line}");
    assert_eq!(stat(&mut p, "replication", "connected_slaves"), 1);
    drop(again);
    drop(replica);
}

#[test]
fn backlog_overflow_forces_a_full_resync() {
    let primary = start(
        ServerKind::Ours,
        &primary_args(&["--repl-backlog-size", "16kb"]),
    );
    let mut p = authed(&primary);
    let replica = replica_of(ServerKind::Ours, &primary);
    let mut r = authed(&replica);
    wait_in_sync(&mut p, &mut r);
    assert_eq!(stat(&mut p, "stats", "sync_full"), 1);
    // The replica is frozen and its link dropped; meanwhile the primary
    // writes far more than its backlog holds.
    signal(&replica, "-STOP");
    assert_eq!(p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    let value = "x".repeat(1000);
    for i in 0..200 {
        p.cmd(&["SET", &format!("over:{i}"), &value]);
    }
    signal(&replica, "-CONT");
    wait_in_sync(&mut p, &mut r);
    assert_eq!(stat(&mut p, "stats", "sync_full"), 2);
    assert_eq!(stat(&mut p, "stats", "sync_partial_err"), 1);
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), p.cmd(&["DEBUG", "DIGEST"]));
    let log = primary.log_contents();
    assert!(
        log.contains("for lack of backlog (Replica request was: "),
        "{log}"
    );
}

#[test]
fn slow_replica_over_its_output_buffer_limit_is_dropped_and_recovers() {
    let primary = start(
        ServerKind::Ours,
        &primary_args(&["--client-output-buffer-limit", "replica 1mb 512kb 1"]),
    );
    let mut p = authed(&primary);
    let replica = replica_of(ServerKind::Ours, &primary);
    let mut r = authed(&replica);
    wait_in_sync(&mut p, &mut r);
    signal(&replica, "-STOP");
    // 32 MB of stream: beyond what the socket buffers absorb, so the
    // replica's output buffer passes the 1 MB hard limit.
    let value = "v".repeat(100_000);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    while !primary
        .log_contents()
        .contains("for overcoming of output buffer limits")
    {
        assert!(
            i < 320 && Instant::now() < deadline,
            "never disconnected:\n{}",
            primary.log_contents()
        );
        p.cmd(&["SET", &format!("big:{}", i % 50), &value]);
        i += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while stat(&mut p, "replication", "connected_slaves") != 0 {
        assert!(Instant::now() < deadline, "replica still listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&replica, "-CONT");
    wait_in_sync(&mut p, &mut r);
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), p.cmd(&["DEBUG", "DIGEST"]));
}

/// GETs `probe` on `r` until the replica's link is up; returns the replies.
fn poll_during_sync(r: &mut Conn, probe: &str) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        seen.push(r.cmd(&["GET", probe]));
        let text = info(r, "replication");
        if field(&text, "master_link_status").as_deref() == Some("up") {
            return seen;
        }
        assert!(Instant::now() < deadline, "no sync:\n{text}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn repl_diskless_load_disabled_uses_a_file_and_swapdb_keeps_serving() {
    // Upstream's log lines per path were taken from the reference replica.
    let primary = start(ServerKind::Ours, &primary_args(&[]));
    let mut p = authed(&primary);
    populate(&mut p, "300000", "k", "32");
    let digest = p.cmd(&["DEBUG", "DIGEST"]);
    let port = primary.port().to_string();
    // on-empty-db with data in the replica takes the disk path.
    for mode in ["disabled", "swapdb", "on-empty-db"] {
        let replica = start(
            ServerKind::Ours,
            &primary_args(&["--masterauth", PASS, "--repl-diskless-load", mode]),
        );
        let mut r = authed(&replica);
        r.cmd(&["SET", "old-data", "here"]);
        assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
        let seen = poll_during_sync(&mut r, "old-data");
        assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), digest, "{mode}");
        let log = replica.log_contents();
        let dump = replica.dir().join("dump.rdb");
        if mode == "swapdb" {
            // A new history (first sync): the old dataset is served until
            // the payload starts, then `-LOADING` until the swap, as 7.0
            // (tests/replication_load.rs covers both swapdb cases against
            // the reference). Never anything else.
            let loading = b"-LOADING Redis is loading the dataset in memory\r\n";
            assert!(
                seen.iter()
                    .all(|s| s == b"$4\r\nhere\r\n" || s == b"$-1\r\n" || s.as_slice() == loading),
                "{seen:?}"
            );
            for line in [
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser",
                "MASTER <-> REPLICA sync: Loading DB in memory",
                "MASTER <-> REPLICA sync: Swapping active DB with loaded DB",
                "MASTER <-> REPLICA sync: Discarding old DB in background",
                "MASTER <-> REPLICA sync: Finished with success",
            ] {
                assert!(log.contains(line), "{mode}: missing '{line}':\n{log}");
            }
            assert!(!dump.exists(), "swapdb wrote {}", dump.display());
        } else {
            for line in [
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk",
                "MASTER <-> REPLICA sync: Flushing old data",
                "MASTER <-> REPLICA sync: Loading DB in memory",
                "MASTER <-> REPLICA sync: Finished with success",
            ] {
                assert!(log.contains(line), "{mode}: missing '{line}':\n{log}");
            }
            // The payload was stored as dbfilename: it is the primary's data.
            let check = redis_testkit::run_bounded(
                std::process::Command::new("/usr/bin/redis-check-rdb").arg(&dump),
                Duration::from_secs(60),
            );
            assert!(check.status.success(), "{check:?}");
            let out = String::from_utf8_lossy(&check.stdout).into_owned();
            assert!(
                out.contains("300000 keys read"),
                "{out}\nreplica log:\n{log}\nprimary log:\n{}",
                primary.log_contents()
            );
            let leftovers: Vec<_> = std::fs::read_dir(replica.dir())
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(
                !leftovers
                    .iter()
                    .any(|n| n.to_string_lossy().starts_with("temp-")),
                "{leftovers:?}"
            );
        }
    }
}

#[test]
fn primary_pings_replicas_and_a_silent_primary_times_out() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let primary = start(kind, &primary_args(&["--repl-ping-replica-period", "1"]));
        let mut p = authed(&primary);
        let replica = replica_with(ServerKind::Ours, &primary, &["--repl-timeout", "2"]);
        let mut r = authed(&replica);
        wait_in_sync(&mut p, &mut r);
        // No writes: the PINGs alone move both offsets.
        let before = stat(&mut p, "replication", "master_repl_offset");
        let deadline = Instant::now() + Duration::from_secs(20);
        while stat(&mut p, "replication", "master_repl_offset") < before + 28 {
            assert!(Instant::now() < deadline, "{kind:?}: no PINGs");
            std::thread::sleep(Duration::from_millis(100));
        }
        wait_in_sync(&mut p, &mut r);
        // A primary that stops sending is dropped after repl-timeout.
        signal(&primary, "-STOP");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !replica
            .log_contents()
            .contains("MASTER timeout: no data nor PING received...")
        {
            assert!(
                Instant::now() < deadline,
                "{kind:?}: no timeout:\n{}",
                replica.log_contents()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        signal(&primary, "-CONT");
        wait_in_sync(&mut p, &mut r);
    }
}

/// `repl-diskless-sync-delay`: the primary waits for more replicas before
/// a full sync and serves them all from one snapshot, as the reference
/// does (same log lines, one "Starting BGSAVE for SYNC").
#[test]
fn diskless_sync_delay_groups_replicas() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let a = start(kind, &primary_args(&["--repl-diskless-sync-delay", "2"]));
        let mut ac = authed(&a);
        ac.cmd(&["SET", "k", "v"]);
        let started = Instant::now();
        let r1 = replica_of(kind, &a);
        std::thread::sleep(Duration::from_millis(500));
        let r2 = replica_of(kind, &a);
        let mut c1 = authed(&r1);
        let mut c2 = authed(&r2);
        // Still waiting after half the delay: nothing transferred yet.
        let text = info(&mut ac, "replication");
        assert!(text.contains("state=wait_bgsave"), "{kind:?}: {text}");
        wait_in_sync(&mut ac, &mut c1);
        wait_in_sync(&mut ac, &mut c2);
        assert!(
            started.elapsed() >= Duration::from_millis(1500),
            "{kind:?}: synced before the delay"
        );
        let log = a.log_contents();
        assert!(
            log.contains("Delay next BGSAVE for diskless SYNC"),
            "{kind:?}: {log}"
        );
        assert_eq!(
            log.matches("Starting BGSAVE for SYNC").count(),
            1,
            "{kind:?}: one snapshot for both replicas:\n{log}"
        );
        assert_eq!(c1.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
        assert_eq!(c2.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    }
}

/// Polls `INFO persistence` until `field:value`, at most 30 s.
fn wait_persistence(c: &mut Conn, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = info(c, "persistence");
        if want.iter().all(|w| text.contains(w)) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {want:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A replica with `appendonly yes` rewrites its AOF from the dataset a
/// full sync installed (upstream restarts the AOF after a sync): restarted
/// on its own files, without a primary, it has the primary's dataset.
#[test]
fn replica_aof_holds_the_synced_dataset() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let a = start(kind, &primary_args(&[]));
        let mut ac = authed(&a);
        write_everything(&mut ac);
        let dir = std::env::temp_dir().join(format!(
            "redis-rs-repl-aof-{}-{kind:?}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        let d = dir.to_string_lossy().into_owned();
        let port = a.port().to_string();
        let mut replica_args = vec!["--dir", d.as_str(), "--appendonly", "yes"];
        replica_args.extend_from_slice(REPLICA_AUTH);
        let mut with_primary = replica_args.clone();
        with_primary.extend(["--replicaof", "127.0.0.1", port.as_str()]);
        let r = TestServer::start(kind, &with_primary);
        let mut rc = authed(&r);
        wait_in_sync(&mut ac, &mut rc);
        ac.cmd(&["SET", "after-sync", "1"]);
        wait_in_sync(&mut ac, &mut rc);
        wait_persistence(
            &mut rc,
            &["aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0"],
        );
        let digest = ac.cmd(&["DEBUG", "DIGEST"]);
        drop(rc);
        drop(r);
        let r = TestServer::start(kind, &replica_args);
        let mut rc = authed(&r);
        wait_persistence(&mut rc, &["loading:0"]);
        assert_eq!(
            rc.cmd(&["DEBUG", "DIGEST"]),
            digest,
            "{kind:?}: the AOF lost the synced dataset:\n{}",
            r.log_contents()
        );
        drop(r);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `repl-backlog-ttl`: a primary left without replicas frees its backlog
/// after the TTL and starts a new replication ID, as the reference does.
#[test]
fn backlog_is_freed_after_its_ttl_without_replicas() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let a = start(kind, &primary_args(&["--repl-backlog-ttl", "1"]));
        let mut ac = authed(&a);
        let r = replica_of(kind, &a);
        let mut rc = authed(&r);
        ac.cmd(&["SET", "k", "v"]);
        wait_in_sync(&mut ac, &mut rc);
        let before = info(&mut ac, "replication");
        assert_eq!(field(&before, "repl_backlog_active").as_deref(), Some("1"));
        drop(rc);
        drop(r);
        let deadline = Instant::now() + Duration::from_secs(20);
        let after = loop {
            let text = info(&mut ac, "replication");
            if field(&text, "repl_backlog_active").as_deref() == Some("0") {
                break text;
            }
            assert!(Instant::now() < deadline, "{kind:?}: backlog kept:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_ne!(
            field(&after, "master_replid"),
            field(&before, "master_replid"),
            "{kind:?}"
        );
        assert!(
            a.log_contents()
                .contains("Replication backlog freed after 1 seconds without connected replicas."),
            "{kind:?}: {}",
            a.log_contents()
        );
    }
}

/// A primary of `kind` (with `extra` arguments) and one of our replicas,
/// in sync.
fn synced_pair(kind: ServerKind, extra: &[&str]) -> (TestServer, TestServer, Conn, Conn) {
    let primary = start(kind, &primary_args(extra));
    let mut p = authed(&primary);
    let replica = replica_of(ServerKind::Ours, &primary);
    let mut r = authed(&replica);
    p.cmd(&["SET", "k", "1"]);
    wait_in_sync(&mut p, &mut r);
    (primary, replica, p, r)
}

/// `SHUTDOWN` on a primary whose replica is stopped: writes pause, the
/// primary waits up to `shutdown-timeout`, reports the lagging replica
/// and exits, with the reference's log lines and `INFO` field.
#[test]
fn shutdown_waits_for_a_lagging_replica_then_gives_up() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (mut primary, replica, mut p, _r) = synced_pair(kind, &["--shutdown-timeout", "2"]);
        signal(&replica, "-STOP");
        assert_eq!(p.cmd(&["INCR", "k"]), b":2\r\n");
        let mut s = primary.conn();
        s.cmd(&["AUTH", PASS]);
        s.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n");
        wait_log(&primary, "Waiting for replicas before shutting down.");
        let server = info(&mut p, "server");
        assert!(
            field(&server, "shutdown_in_milliseconds").is_some_and(|v| v != "0"),
            "{kind:?}: {server}"
        );
        let status = primary.wait_exit(Duration::from_secs(20));
        signal(&replica, "-CONT");
        assert!(status.is_some(), "{kind:?}: did not exit");
        let log = primary.log_contents();
        let port = replica.port();
        for want in [
            "User requested shutdown...".to_string(),
            format!("Lagging replica 127.0.0.1:{port} reported offset "),
            " behind master, lag=".to_string(),
            ", state=online.".to_string(),
            "0 of 1 replicas are in sync when shutting down.".to_string(),
            "Redis is now ready to exit, bye bye...".to_string(),
        ] {
            assert!(log.contains(&want), "{kind:?}: no '{want}' in:\n{log}");
        }
    }
}

/// The replica resumes before the timeout: it receives the last write,
/// acknowledges it, and the primary exits with it in sync.
#[test]
fn shutdown_waits_until_the_replica_caught_up() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (mut primary, replica, mut p, mut r) = synced_pair(kind, &["--shutdown-timeout", "60"]);
        signal(&replica, "-STOP");
        assert_eq!(p.cmd(&["INCR", "k"]), b":2\r\n");
        let mut s = primary.conn();
        s.cmd(&["AUTH", PASS]);
        s.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n");
        wait_log(&primary, "Waiting for replicas before shutting down.");
        signal(&replica, "-CONT");
        assert!(
            primary.wait_exit(Duration::from_secs(30)).is_some(),
            "{kind:?}: did not exit"
        );
        assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\n2\r\n", "{kind:?}");
        let log = primary.log_contents();
        assert!(
            log.contains("1 of 1 replicas are in sync when shutting down."),
            "{kind:?}:\n{log}"
        );
        assert!(!log.contains("Lagging replica"), "{kind:?}:\n{log}");
    }
}

/// `SHUTDOWN ABORT` cancels a waiting shutdown: every blocked `SHUTDOWN`
/// gets the error, writes go on, and `SHUTDOWN NOW` then skips the wait.
#[test]
fn shutdown_abort_and_now() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (mut primary, replica, mut p, _r) = synced_pair(kind, &["--shutdown-timeout", "60"]);
        signal(&replica, "-STOP");
        p.cmd(&["INCR", "k"]);
        let mut waiters: Vec<Conn> = (0..2)
            .map(|_| {
                let mut s = primary.conn();
                s.cmd(&["AUTH", PASS]);
                s.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n");
                s
            })
            .collect();
        wait_log(&primary, "Waiting for replicas before shutting down.");
        let deadline = Instant::now() + Duration::from_secs(10);
        while stat(&mut p, "clients", "blocked_clients") < 2 {
            assert!(Instant::now() < deadline, "{kind:?}: not blocked");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(p.cmd(&["SHUTDOWN", "ABORT"]), b"+OK\r\n", "{kind:?}");
        for w in &mut waiters {
            assert_eq!(
                w.read_reply_raw(),
                b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n",
                "{kind:?}"
            );
        }
        assert_eq!(p.cmd(&["INCR", "k"]), b":3\r\n", "{kind:?}: writes resumed");
        assert_eq!(
            p.cmd(&["SHUTDOWN", "ABORT"]),
            b"-ERR No shutdown in progress.\r\n"
        );
        wait_log(&primary, "Shutdown manually aborted.");
        p.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$3\r\nNOW\r\n");
        let status = primary.wait_exit(Duration::from_secs(20));
        signal(&replica, "-CONT");
        assert!(status.is_some(), "{kind:?}: NOW waited");
        let log = primary.log_contents();
        assert!(
            log.contains("Lagging replica") && log.contains("0 of 1 replicas are in sync"),
            "{kind:?}:\n{log}"
        );
    }
}

/// SIGTERM takes its flags from `shutdown-on-sigterm`: `now` exits at
/// once despite the lagging replica; `default` waits.
#[test]
fn sigterm_follows_shutdown_on_sigterm() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (mut primary, replica, mut p, _r) = synced_pair(kind, &["--shutdown-timeout", "60"]);
        signal(&replica, "-STOP");
        p.cmd(&["INCR", "k"]);
        signal(&primary, "-TERM");
        wait_log(&primary, "Waiting for replicas before shutting down.");
        assert_eq!(p.cmd(&["SHUTDOWN", "ABORT"]), b"+OK\r\n", "{kind:?}");
        assert_eq!(
            p.cmd(&["CONFIG", "SET", "shutdown-on-sigterm", "now"]),
            b"+OK\r\n"
        );
        signal(&primary, "-TERM");
        let status = primary.wait_exit(Duration::from_secs(20));
        signal(&replica, "-CONT");
        assert!(status.is_some(), "{kind:?}: SIGTERM with now waited");
    }
}

/// The replication memory and traffic counters are live, as the
/// reference's: the backlog's memory, the buffers, bytes sent to replicas
/// and bytes received from the primary.
#[test]
fn replication_counters_are_live() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (_primary, _replica, mut p, mut r) = synced_pair(kind, &[]);
        write_everything(&mut p);
        wait_in_sync(&mut p, &mut r);
        let backlog = stat(&mut p, "memory", "mem_replication_backlog");
        let buffers = stat(&mut p, "memory", "mem_total_replication_buffers");
        let histlen = stat(&mut p, "replication", "repl_backlog_histlen");
        assert!(
            backlog >= histlen,
            "{kind:?}: backlog {backlog} < {histlen}"
        );
        // The buffers share the backlog's blocks (the reference counts a
        // few bytes of bookkeeping on one side only).
        assert!(
            buffers + 4096 >= backlog,
            "{kind:?}: buffers {buffers} < {backlog}"
        );
        let out = stat(&mut p, "stats", "total_net_repl_output_bytes");
        assert!(out >= histlen, "{kind:?}: sent {out} < {histlen}");
        let input = stat(&mut r, "stats", "total_net_repl_input_bytes");
        assert!(input >= histlen, "{kind:?}: received {input} < {histlen}");
        assert_eq!(stat(&mut r, "stats", "total_net_repl_output_bytes"), 0);
    }
}

/// A replica that never reached its primary: `INFO replication` and
/// `ROLE` as the reference prints them (link down since -1, offset -1),
/// and `min_slaves_good_slaves` on a primary with min-replicas set.
#[test]
fn never_connected_replica_and_min_replicas_fields_match_the_reference() {
    let mut seen = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let r = TestServer::start(kind, &["--replicaof", "127.0.0.1", "1"]);
        let mut c = r.conn();
        std::thread::sleep(Duration::from_millis(300));
        let text = info(&mut c, "replication");
        let role = c.cmd(&["ROLE"]);
        let p = TestServer::start(
            kind,
            &[
                "--min-replicas-to-write",
                "1",
                "--min-replicas-max-lag",
                "10",
            ],
        );
        let mut pc = p.conn();
        let ptext = info(&mut pc, "replication");
        seen.push((kind, text, role, ptext));
    }
    let (_, ours, our_role, our_p) = &seen[1];
    let (_, theirs, their_role, their_p) = &seen[0];
    assert_eq!(shape(ours), shape(theirs), "{ours}\n{theirs}");
    for name in [
        "master_link_status",
        "master_last_io_seconds_ago",
        "master_sync_in_progress",
        "master_link_down_since_seconds",
        "slave_repl_offset",
    ] {
        assert_eq!(field(ours, name), field(theirs, name), "{name}");
    }
    // The state word races with the connection attempts; the rest not.
    let tail = |r: &[u8]| {
        let s = String::from_utf8_lossy(r).into_owned();
        s.rsplit_once("\r\n$")
            .map(|(_, t)| t.split_once("\r\n").map(|x| x.1.to_string()))
    };
    assert_eq!(tail(our_role), tail(their_role));
    assert!(String::from_utf8_lossy(our_role).ends_with(":-1\r\n"));
    assert_eq!(shape(our_p), shape(their_p), "{our_p}\n{their_p}");
    assert_eq!(field(our_p, "min_slaves_good_slaves").as_deref(), Some("0"));
}

/// What a primary logs and answers for SYNC/PSYNC: the request line, the
/// backlog created with a new ID for the first replica, a non-integer
/// offset, and `+CONTINUE` without an ID for a replica without
/// `capa psync2`.
#[test]
fn psync_requests_are_answered_and_logged_as_the_reference() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let primary = start(kind, &primary_args(&[]));
        let mut p = authed(&primary);
        let before = field(&info(&mut p, "replication"), "master_replid");
        let replica = replica_of(ServerKind::Ours, &primary);
        let mut r = authed(&replica);
        p.cmd(&["SET", "a", "1"]);
        wait_in_sync(&mut p, &mut r);
        let rinfo = info(&mut p, "replication");
        let after = field(&rinfo, "master_replid");
        assert_ne!(before, after, "{kind:?}: the backlog came with a new ID");
        let log = primary.log_contents();
        let rport = replica.port();
        for want in [
            format!("Replica 127.0.0.1:{rport} asks for synchronization"),
            format!("Full resync requested by replica 127.0.0.1:{rport}"),
            format!(
                "Replication backlog created, my new replication IDs are '{}' and '0000000000000000000000000000000000000000'",
                after.clone().unwrap_or_default()
            ),
        ] {
            assert!(log.contains(&want), "{kind:?}: no '{want}' in:\n{log}");
        }
        // A non-integer offset.
        let mut c = primary.conn();
        c.cmd(&["AUTH", PASS]);
        assert_eq!(
            c.cmd(&["PSYNC", "?", "abc"]),
            b"-ERR value is not an integer or out of range\r\n",
            "{kind:?}"
        );
        wait_log(&primary, "asks for synchronization but with a wrong offset");
        // A partial resync for a replica that did not send `capa psync2`.
        let id = after.unwrap_or_default();
        let offset = stat(&mut p, "replication", "master_repl_offset") + 1;
        let mut c = primary.conn();
        c.cmd(&["AUTH", PASS]);
        assert_eq!(c.cmd(&["REPLCONF", "listening-port", "4321"]), b"+OK\r\n");
        let off = offset.to_string();
        let buf = c.cmd(&["PSYNC", &id, &off]);
        assert_eq!(buf, b"+CONTINUE\r\n", "{kind:?}");
        wait_log(
            &primary,
            &format!("Partial resynchronization request from 127.0.0.1:4321 accepted. Sending 0 bytes of backlog starting from offset {offset}."),
        );
    }
}

/// A client blocked in BLPOP when its server becomes a replica gets
/// upstream's `-UNBLOCKED` error and is disconnected: served later by a
/// write from the new primary, its retry would run on the replica only and
/// the two datasets would differ (upstream issue #2473).
#[test]
fn blocked_clients_are_released_when_the_server_becomes_a_replica() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let a = start(kind, &primary_args(&["--masterauth", PASS]));
        let b = start(kind, &primary_args(&["--masterauth", PASS]));
        let mut ca = authed(&a);
        let mut cb = authed(&b);
        let mut blocked = authed(&b);
        blocked.send_raw(&redis_testkit::conn::encode_request(&["BLPOP", "foo", "0"]));
        // Bounded: until the server lists it as blocked.
        for _ in 0..200 {
            if info(&mut cb, "clients").contains("blocked_clients:1") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let port = a.port().to_string();
        cb.cmd(&["REPLICAOF", "127.0.0.1", &port]);
        let reply = blocked.read_reply_raw();
        assert_eq!(
            String::from_utf8_lossy(&reply),
            "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n",
            "{kind:?}"
        );
        assert!(
            blocked.is_closed(),
            "{kind:?}: the blocked client stays connected"
        );
        wait_in_sync(&mut ca, &mut cb);
        ca.cmd(&["RPUSH", "foo", "a", "b", "c"]);
        wait_in_sync(&mut ca, &mut cb);
        assert_eq!(
            cb.cmd(&["LRANGE", "foo", "0", "-1"]),
            ca.cmd(&["LRANGE", "foo", "0", "-1"])
        );
        assert_eq!(
            cb.cmd(&["DEBUG", "DIGEST"]),
            ca.cmd(&["DEBUG", "DIGEST"]),
            "{kind:?}"
        );
    }
}

/// On a writable replica (`replica-read-only no`), keys its own clients
/// give a deadline are expired by the replica itself, and its own writes
/// delete the expired keys they meet; reads never do (upstream 7.0).
#[test]
fn writable_replica_expires_what_its_own_clients_set() {
    let mut transcripts = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let p = start(kind, &primary_args(&[]));
        let r = replica_of(kind, &p);
        let mut cp = authed(&p);
        let mut cr = authed(&r);
        wait_in_sync(&mut cp, &mut cr);
        let mut t = Vec::new();
        t.push(cr.cmd(&["CONFIG", "SET", "replica-read-only", "no"]));
        t.push(cr.cmd(&["SELECT", "5"]));
        t.push(cr.cmd(&["SET", "local", "1", "PX", "200"]));
        // Expired by the replica's own cron (bounded wait).
        let mut size = Vec::new();
        for _ in 0..100 {
            size = cr.cmd(&["DBSIZE"]);
            if size == b":0\r\n" {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        t.push(size);
        // Keys from the primary that expired: hidden, not deleted, until
        // a local write meets one.
        cp.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        cp.cmd(&["SELECT", "5"]);
        cp.cmd(&["SET", "k1", "5", "PX", "10"]);
        cp.cmd(&["SET", "k2", "5", "PX", "10"]);
        wait_in_sync(&mut cp, &mut cr);
        std::thread::sleep(Duration::from_millis(50));
        t.push(cr.cmd(&["DBSIZE"]));
        t.push(cr.cmd(&["EXISTS", "k1", "k2"]));
        t.push(cr.cmd(&["INCR", "k1"]));
        t.push(cr.cmd(&["TTL", "k1"]));
        t.push(cr.cmd(&["GET", "k2"]));
        t.push(cr.cmd(&["DBSIZE"]));
        transcripts.push(t);
    }
    assert_eq!(transcripts[1], transcripts[0], "ours vs reference");
}

/// `REPLICAOF NO ONE` while the primary delays a diskless full sync: the
/// transfer that arrives afterwards must not replace the dataset (the
/// link is cancelled at once, as upstream's `cancelReplicationHandshake`;
/// a cluster failover promoting a replica mid-sync relies on it).
#[test]
fn promotion_during_a_pending_full_sync_keeps_the_new_writes() {
    let primary = TestServer::start(
        ServerKind::Reference,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "2",
        ],
    );
    let mut p = primary.conn();
    assert_eq!(p.cmd(&["SET", "old", "1"]), b"+OK\r\n");
    let ours = TestServer::start(ServerKind::Ours, &[]);
    let mut c = ours.conn();
    let port = primary.port().to_string();
    assert_eq!(c.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "new", "1"]), b"+OK\r\n");
    // The primary's delay ends and it streams the payload.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        c.cmd(&["GET", "new"]),
        b"$1\r\n1\r\n",
        "{}",
        ours.log_contents()
    );
    assert_eq!(c.cmd(&["EXISTS", "old"]), b":0\r\n");
    assert!(!ours.log_contents().contains("Flushing old data"));
}
