//! Redis Cluster on loopback with real processes: clusters of our nodes,
//! mixed clusters of ours and the reference's (gossip, slot ownership and
//! redirections across implementations), `CLUSTER` replies and errors
//! compared with the reference byte for byte where they do not depend on
//! random node ids, and `nodes.conf` failures (corrupt, locked).

use std::time::Duration;

use redis_testkit::cluster::{self, cmd, create, info_field, myid, start_node, wait_for};
use redis_testkit::{ServerKind, TestServer};

/// The slot of `key1` (seed 002 shows `Redirected to slot [9189]`).
const KEY1_SLOT: &str = "9189";

fn nodes(kinds: &[ServerKind]) -> Vec<TestServer> {
    kinds.iter().map(|k| start_node(*k, &[])).collect()
}

/// The node among `all` that owns `slot` according to `CLUSTER SLOTS`
/// order of `create` (slots split evenly).
fn owner_index(n_masters: usize, slot: u16) -> usize {
    cluster::slot_ranges(n_masters)
        .iter()
        .position(|(a, b)| (*a..=*b).contains(&slot))
        .unwrap()
}

fn check_redirects(masters: &[&TestServer]) {
    let owner = owner_index(masters.len(), 9189);
    for (i, m) in masters.iter().enumerate() {
        let r = cmd(m, &["SET", "key1", "v"]);
        if i == owner {
            assert_eq!(r, "+OK");
        } else {
            assert_eq!(
                r,
                format!("-MOVED {KEY1_SLOT} 127.0.0.1:{}", masters[owner].port()),
                "node {i}"
            );
        }
    }
    assert_eq!(cmd(masters[owner], &["GET", "key1"]), "v");
    assert_eq!(
        cmd(masters[owner], &["CLUSTER", "COUNTKEYSINSLOT", KEY1_SLOT]),
        ":1"
    );
    assert_eq!(
        cmd(masters[0], &["MSET", "a", "1", "b", "2"]),
        "-CROSSSLOT Keys in request don't hash to the same slot"
    );
}

#[test]
fn three_masters_of_ours_form_a_cluster_and_redirect() {
    let all = nodes(&[ServerKind::Ours; 3]);
    let refs: Vec<&TestServer> = all.iter().collect();
    create(&refs, &[]);
    check_redirects(&refs);
    for n in &all {
        assert_eq!(info_field(n, "cluster_known_nodes"), "3");
        assert_eq!(info_field(n, "cluster_size"), "3");
        assert_eq!(info_field(n, "cluster_slots_ok"), "16384");
    }
    // Every node reports the same slot map.
    let slots: Vec<String> = all.iter().map(|n| cmd(n, &["CLUSTER", "SLOTS"])).collect();
    assert!(slots.windows(2).all(|w| w[0] == w[1]), "{slots:?}");
}

#[test]
fn mixed_cluster_with_reference_nodes() {
    use ServerKind::{Ours, Reference};
    // Masters: ours, reference, ours; replicas: reference of ours, ours of
    // the reference's, reference of ours.
    let all = nodes(&[Ours, Reference, Ours, Reference, Ours, Reference]);
    let masters: Vec<&TestServer> = all[..3].iter().collect();
    let replicas: Vec<&TestServer> = all[3..].iter().collect();
    create(&masters, &replicas);
    check_redirects(&masters);
    // Replicas see their master in CLUSTER NODES and replicate the data.
    let owner = owner_index(3, 9189);
    let replica = replicas[owner];
    wait_for(Duration::from_secs(10), "key1 on the replica", || {
        cmd(replica, &["READONLY"]);
        let mut c = replica.conn();
        c.cmd(&["READONLY"]);
        cluster::text(&c.cmd(&["GET", "key1"])) == "v"
    });
    // Without READONLY a replica redirects to its master.
    assert_eq!(
        cmd(replica, &["GET", "key1"]),
        format!("-MOVED {KEY1_SLOT} 127.0.0.1:{}", masters[owner].port())
    );
    let master_id = myid(masters[owner]);
    for n in &all {
        let lines = cmd(n, &["CLUSTER", "REPLICAS", &master_id]);
        assert!(lines.contains(&myid(replica)), "{lines}");
    }
}

/// Replies that do not depend on node ids or timing, on a fresh node of
/// each implementation.
#[test]
fn cluster_command_replies_match_the_reference() {
    let script: &[&[&str]] = &[
        &["CLUSTER", "KEYSLOT", "foo{bar}"],
        &["CLUSTER", "KEYSLOT", "{}"],
        &["CLUSTER", "COUNTKEYSINSLOT", "5"],
        &["CLUSTER", "COUNTKEYSINSLOT", "x"],
        &["CLUSTER", "COUNTKEYSINSLOT", "16384"],
        &["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        &["CLUSTER", "GETKEYSINSLOT", "5", "10"],
        &["CLUSTER", "GETKEYSINSLOT", "5", "-1"],
        &["CLUSTER", "GETKEYSINSLOT", "16384", "1"],
        &["CLUSTER", "GETKEYSINSLOT", "x", "1"],
        &["CLUSTER", "REPLICAS", "abc"],
        &["CLUSTER", "SLAVES", "abc"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "abc"],
        &["CLUSTER", "FORGET", "abc"],
        &["CLUSTER", "REPLICATE", "abc"],
        &["CLUSTER", "MEET", "127.0.0.1", "abc"],
        &["CLUSTER", "MEET", "127.0.0.1", "1", "x"],
        &["CLUSTER", "MEET", "1.2.3.4.5", "1"],
        &["CLUSTER", "MEET", "127.0.0.1", "0"],
        &["CLUSTER", "MEET", "127.0.0.1", "70000"],
        &["CLUSTER", "FAILOVER"],
        &["CLUSTER", "FAILOVER", "bad"],
        &["CLUSTER", "FOO"],
        &["CLUSTER", "RESET", "bad"],
        &["CLUSTER", "RESET", "soft", "x"],
        &["CLUSTER", "MEET", "127.0.0.1", "1", "2", "3"],
        &["CLUSTER", "FAILOVER", "force", "x"],
        &["CLUSTER", "SETSLOT", "1", "stable", "x"],
        &["CLUSTER", "LINKS", "x"],
        &["CLUSTER", "SETSLOT", "1", "bad"],
        &["CLUSTER", "SETSLOT", "1", "node"],
        &["CLUSTER", "SETSLOT", "x", "stable"],
        &["CLUSTER", "SETSLOT", "16384", "stable"],
        &["CLUSTER", "SETSLOT", "1", "migrating", "abc"],
        &["CLUSTER", "SETSLOT", "1", "importing", "abc"],
        &["CLUSTER", "SETSLOT", "1", "node", "abc"],
        &["CLUSTER", "ADDSLOTS", "abc"],
        &["CLUSTER", "ADDSLOTS", "16384"],
        &["CLUSTER", "ADDSLOTS", "1", "1"],
        &["CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"],
        &["CLUSTER", "ADDSLOTSRANGE", "5", "1"],
        &["CLUSTER", "ADDSLOTSRANGE", "0", "99"],
        &["CLUSTER", "ADDSLOTS", "50"],
        &["CLUSTER", "DELSLOTS", "200"],
        &["CLUSTER", "DELSLOTSRANGE", "0", "9"],
        &["CLUSTER", "COUNTKEYSINSLOT", "0"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "x"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "-1"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "3"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "4"],
        &["CLUSTER", "BUMPEPOCH"],
        &["CLUSTER", "SAVECONFIG"],
        &["CLUSTER", "HELP"],
        &["CLUSTER", "SLOTS", "x"],
        &["SELECT", "1"],
        &["SELECT", "0"],
        &["SELECT", "x"],
        &["MOVE", "a", "1"],
        &["SWAPDB", "0", "1"],
        &["COPY", "{a}1", "{a}2", "DB", "1"],
        &["REPLICAOF", "127.0.0.1", "1"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
        &["SET", "a", "1"],
        &["GET", "b"],
        &["INFO", "cluster"],
        &["CLUSTER", "FLUSHSLOTS"],
        &["CLUSTER", "RESET", "SOFT"],
        &["CLUSTER", "RESET", "HARD"],
    ];
    let mut transcripts = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let n = start_node(kind, &[]);
        let mut c = n.conn();
        let t: Vec<(String, Vec<u8>)> = script
            .iter()
            .map(|args| (args.join(" "), c.cmd(args)))
            .collect();
        transcripts.push(t);
    }
    for ((what, e), (_, g)) in transcripts[0].iter().zip(&transcripts[1]) {
        redis_testkit::assert_resp_eq!(g, e, "{what}");
    }
}

#[test]
fn slots_and_shards_reply_shapes_match_the_reference() {
    // Two nodes of one implementation with a hostname announced, so the
    // metadata maps are exercised; node ids differ, so ids are replaced.
    let mut shapes = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let a = start_node(kind, &["--cluster-announce-hostname", "host-a"]);
        let b = start_node(kind, &[]);
        create(&[&a, &b], &[]);
        let ids = [myid(&a), myid(&b)];
        let ports = [a.port().to_string(), b.port().to_string()];
        let mut out = Vec::new();
        for proto in ["2", "3"] {
            let mut c = a.conn();
            c.cmd(&["HELLO", proto]);
            for q in [&["CLUSTER", "SLOTS"][..], &["CLUSTER", "SHARDS"][..]] {
                let mut r = String::from_utf8_lossy(&c.cmd(q)).into_owned();
                for (i, id) in ids.iter().enumerate() {
                    r = r.replace(id, &format!("<id{i}>"));
                }
                for (i, p) in ports.iter().enumerate() {
                    r = r.replace(p, &format!("<port{i}>"));
                }
                out.push(r);
            }
        }
        shapes.push(out);
    }
    for (e, g) in shapes[0].iter().zip(&shapes[1]) {
        // SHARDS lists shards in the reference's hash order: compare the
        // shards as a set.
        let split = |s: &str| -> Vec<String> {
            s.replace("*4\r\n$5\r\nslots", "<shard>")
                .replace("%2\r\n$5\r\nslots", "<shard>")
                .split("<shard>")
                .map(str::to_owned)
                .collect()
        };
        let mut e_parts = split(e);
        let mut g_parts = split(g);
        e_parts.sort_unstable();
        g_parts.sort_unstable();
        assert_eq!(g_parts, e_parts, "\nours: {g}\nreference: {e}");
    }
}

#[test]
fn corrupt_nodes_conf_stops_the_server_and_is_left_untouched() {
    let bad = "garbage line\nvars currentEpoch 0 lastVoteEpoch 0\n";
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = redis_testkit::TempDir::new();
        std::fs::write(dir.path().join("nodes.conf"), bad).unwrap();
        let port = redis_testkit::server::free_port().to_string();
        let out = std::process::Command::new(kind.server_binary())
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--dir",
                dir.path_str(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{kind:?}: {text}");
        assert!(
            text.contains("Unrecoverable error: corrupted cluster config file."),
            "{kind:?}: {text}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("nodes.conf")).unwrap(),
            bad
        );
    }
}

#[test]
fn nodes_conf_locked_by_a_running_node_refuses_a_second() {
    use ServerKind::{Ours, Reference};
    // Each implementation in front of each: the lock is upstream's flock.
    for (first, second) in [(Ours, Ours), (Ours, Reference), (Reference, Ours)] {
        let a = start_node(first, &[]);
        let port = redis_testkit::server::free_port().to_string();
        let cport = redis_testkit::server::free_port().to_string();
        let out = redis_testkit::run_bounded(
            std::process::Command::new(second.server_binary()).args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--dir",
                a.dir().to_str().unwrap(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                &cport,
            ]),
            Duration::from_secs(10),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{first:?}/{second:?}: {text}");
        assert!(
            text.contains("is already used by a different Redis Cluster node"),
            "{first:?}/{second:?}: {text}"
        );
        // The running node is unharmed and its file still loads.
        assert_eq!(cmd(&a, &["CLUSTER", "SAVECONFIG"]), "+OK");
    }
}

/// Our node started in a fresh directory holding `conf` as its
/// `nodes.conf`, on `port` with the bus on `cport`; ready.
fn restart_from(conf: &str, port: u16, cport: &str) -> TestServer {
    let dir = redis_testkit::dir::fresh_dir().unwrap();
    std::fs::write(dir.join("nodes.conf"), conf).unwrap();
    let port_arg = port.to_string();
    let mut node = TestServer::spawn_in(
        ServerKind::Ours,
        &ServerKind::Ours.server_binary(),
        dir,
        &[
            "--port",
            &port_arg,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--cluster-port",
            cport,
        ],
    )
    .unwrap()
    .with_port(port);
    node.wait_ready(Duration::from_secs(10)).unwrap();
    node
}

#[test]
fn restart_keeps_identity_slots_and_epochs() {
    let a = start_node(ServerKind::Ours, &[]);
    let b = start_node(ServerKind::Reference, &[]);
    create(&[&a, &b], &[]);
    let id = myid(&a);
    let conf = std::fs::read_to_string(a.dir().join("nodes.conf")).unwrap();
    assert!(
        conf.contains(&format!("{id} 127.0.0.1:{}@", a.port())),
        "{conf}"
    );
    assert!(conf.ends_with('\n'), "{conf}");
    assert!(
        conf.lines()
            .last()
            .unwrap()
            .starts_with("vars currentEpoch "),
        "{conf}"
    );
    let port = a.port().to_string();
    let cport = cluster::bus_port(&a);
    drop(a);
    // The reference notices the node is gone ...
    wait_for(
        Duration::from_secs(20),
        "the node to be marked fail",
        || cmd(&b, &["CLUSTER", "NODES"]).contains("master,fail"),
    );
    // ... and a node restarted from the file is the same node, serving the
    // same slots.
    let a = restart_from(&conf, port.parse().unwrap(), &cport);
    assert_eq!(myid(&a), id);
    assert!(a
        .log_contents()
        .contains(&format!("Node configuration loaded, I'm {id}")));
    wait_for(Duration::from_secs(20), "cluster_state:ok on both", || {
        info_field(&a, "cluster_state") == "ok" && info_field(&b, "cluster_state") == "ok"
    });
    assert!(!cmd(&b, &["CLUSTER", "NODES"]).contains("fail"));
}

fn python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let python = root.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} missing: create it with `python3 -m venv .venv && .venv/bin/pip install redis==8.1.0 pytest==9.2.0` \
         (cargo xtask test does this)",
        python.display()
    );
    python
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/test_rediscluster.py")
}

/// redis-py's `RedisCluster` (slot map, redirections, pipelines,
/// non-atomic multi-key, pub/sub over the bus, sharded pub/sub) on a
/// reference cluster (the script's self-check) and on ours.
#[test]
fn redis_py_cluster_client() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let all = nodes(&[kind; 3]);
        let refs: Vec<&TestServer> = all.iter().collect();
        create(&refs, &[]);
        let out = redis_testkit::run_bounded(
            std::process::Command::new(python())
                .arg(script())
                .arg(all[0].port().to_string()),
            Duration::from_secs(120),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("rediscluster checks passed"),
            "{kind:?}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Three masters and three replicas on loopback, `kinds[i]` for node `i`
/// (masters first).
fn six(kinds: [ServerKind; 6]) -> Vec<TestServer> {
    let all = nodes(&kinds);
    let masters: Vec<&TestServer> = all[..3].iter().collect();
    let replicas: Vec<&TestServer> = all[3..].iter().collect();
    create(&masters, &replicas);
    wait_for(Duration::from_secs(20), "every replica synced", || {
        replicas
            .iter()
            .all(|r| cmd(r, &["INFO", "replication"]).contains("master_link_status:up"))
    });
    all
}

fn kinds_of(i: usize) -> ServerKind {
    [
        ServerKind::Ours,
        ServerKind::Reference,
        ServerKind::Ours,
        ServerKind::Reference,
        ServerKind::Ours,
        ServerKind::Reference,
    ][i]
}

fn role_line(n: &TestServer, id: &str, of: &TestServer) -> String {
    cmd(of, &["CLUSTER", "NODES"])
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or("")
        .to_owned()
        + &format!(" (seen by {})", n.port())
}

/// `CLUSTER FAILOVER` (default: no write is lost, the master pauses
/// until the replica caught up), then `FORCE`, then `TAKEOVER`, each on a
/// replica of ours and of the reference in one cluster.
#[test]
fn manual_failover_all_modes_in_a_mixed_cluster() {
    use ServerKind::{Ours, Reference};
    let all = six([Ours, Reference, Ours, Reference, Ours, Reference]);
    for (replica, mode) in [(3usize, None), (4, Some("FORCE")), (5, Some("TAKEOVER"))] {
        let master = replica - 3;
        let r = &all[replica];
        let m = &all[master];
        let (rid, mid) = (myid(r), myid(m));
        // Writes right before the failover must all be on the new master.
        let mut args = vec!["CLUSTER", "FAILOVER"];
        args.extend(mode);
        let tagged = (0..200)
            .map(|i| format!("fo{replica}-{i}"))
            .filter(|k| cmd(m, &["SET", k, "v"]) == "+OK")
            .count();
        assert_eq!(cmd(r, &args), "+OK", "{mode:?}");
        let what = format!(
            "{mode:?}: the replica ({:?}) to be master",
            kinds_of(replica)
        );
        wait_for(Duration::from_secs(20), &what, || {
            role_line(r, &rid, &all[(replica + 1) % 6]).contains("master")
                && role_line(m, &mid, &all[(replica + 1) % 6]).contains("slave")
        });
        wait_for(Duration::from_secs(20), "cluster_state:ok", || {
            all.iter().all(|n| info_field(n, "cluster_state") == "ok")
        });
        let keys = cmd(r, &["DBSIZE"]);
        let n: usize = keys.trim_start_matches(':').parse().unwrap_or(0);
        assert!(
            n >= tagged,
            "{mode:?}: {n} keys on the new master, {tagged} written"
        );
        // The old master follows the new one.
        wait_for(
            Duration::from_secs(20),
            "the old master to replicate",
            || cmd(m, &["ROLE"]).contains("slave"),
        );
    }
}

/// kill -9 of a master: its replica (ours or the reference's) is elected
/// within the node timeout plus the election, the cluster is ok again,
/// redis-py's RedisCluster keeps working through it.
#[test]
fn automatic_failover_with_redis_py_writing() {
    use ServerKind::{Ours, Reference};
    for kinds in [[Ours; 6], [Reference, Ours, Ours, Ours, Reference, Ours]] {
        let mut all = six(kinds);
        let mut child = redis_testkit::ChildGuard::spawn(
            std::process::Command::new(python())
                .arg(script())
                .arg(all[1].port().to_string())
                .arg("write-through-failover")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit()),
        );
        let guard_pid = child.pid();
        let mut stdout = std::io::BufReader::new(child.0.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "{kinds:?}");
        // Kill the master of the replica at index 3 (node 0).
        let victim = all.remove(0);
        let vid = myid(&victim);
        let replica_id = myid(&all[2]);
        redis_testkit::process::signal(victim.pid(), "-KILL");
        drop(victim);
        wait_for(Duration::from_secs(30), "the replica promoted", || {
            let nodes = cmd(&all[0], &["CLUSTER", "NODES"]);
            nodes
                .lines()
                .any(|l| l.starts_with(&vid) && l.contains("fail"))
                && nodes
                    .lines()
                    .any(|l| l.starts_with(&replica_id) && l.contains("master"))
        });
        wait_for(
            Duration::from_secs(20),
            "cluster_state:ok on survivors",
            || all.iter().all(|n| info_field(n, "cluster_state") == "ok"),
        );
        use std::io::Write as _;
        child.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let out = child.wait_bounded(Duration::from_secs(90));
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        assert!(
            out.is_some_and(|s| s.success()) && rest.contains("failover checks passed"),
            "{kinds:?} (pid {guard_pid}): {rest}"
        );
    }
}

/// A node restarted on another address (a container or DHCP lease gives
/// it a new one; on loopback: a new port) is recognised by its node id:
/// the others update its address from its first PING and the cluster
/// heals without `CLUSTER MEET` by hand — with reference peers too.
#[test]
fn node_restarted_on_a_new_address_rejoins_by_its_id() {
    let a = start_node(ServerKind::Ours, &[]);
    let b = start_node(ServerKind::Reference, &[]);
    let c = start_node(ServerKind::Ours, &[]);
    create(&[&a, &b, &c], &[]);
    let id = myid(&a);
    let conf = std::fs::read_to_string(a.dir().join("nodes.conf")).unwrap();
    drop(a);
    let port = redis_testkit::server::free_port();
    let cport = redis_testkit::server::free_port().to_string();
    let a = restart_from(&conf, port, &cport);
    assert_eq!(myid(&a), id);
    let want = format!("{id} 127.0.0.1:{port}@{cport} master");
    wait_for(
        Duration::from_secs(20),
        "the peers to learn the new address",
        || {
            [&b, &c]
                .iter()
                .all(|n| cmd(n, &["CLUSTER", "NODES"]).contains(&want))
        },
    );
    wait_for(
        Duration::from_secs(20),
        "cluster_state:ok everywhere",
        || {
            [&a, &b, &c]
                .iter()
                .all(|n| info_field(n, "cluster_state") == "ok")
        },
    );
    // Redirections point at the new address.
    let owner0 = cmd(&b, &["CLUSTER", "KEYSLOT", "key2"]);
    assert_eq!(owner0, ":4998");
    assert_eq!(
        cmd(&b, &["GET", "key2"]),
        format!("-MOVED 4998 127.0.0.1:{port}")
    );
}

/// Garbage on the bus port (wrong signature, a length below the header,
/// a huge announced length, a truncated header, random bytes, a valid
/// header with a wrong version) closes that link only: the node keeps
/// serving clients and the cluster stays ok.
#[test]
fn malformed_bus_packets_close_the_link_only() {
    use std::io::{Read, Write};
    let a = start_node(ServerKind::Ours, &[]);
    let b = start_node(ServerKind::Ours, &[]);
    create(&[&a, &b], &[]);
    let cport: u16 = cluster::bus_port(&a).parse().unwrap();
    let mut header = vec![0u8; 2256];
    header[..4].copy_from_slice(b"RCmb");
    header[4..8].copy_from_slice(&2256u32.to_be_bytes());
    header[8..10].copy_from_slice(&9u16.to_be_bytes()); // version 9
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut random = vec![0u8; 5000];
    for byte in &mut random {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        *byte = rng as u8;
    }
    let huge = [b"RCmb".as_slice(), &u32::MAX.to_be_bytes(), &[0u8; 64]].concat();
    let cases: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        [b"RCmb".as_slice(), &16u32.to_be_bytes()].concat(),
        huge,
        b"RCmb\x00\x00".to_vec(),
        random,
        header,
    ];
    for case in cases {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", cport)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(&case);
        let mut buf = [0u8; 64];
        // The node closes the link (or keeps waiting for the rest of a
        // short frame): it never answers garbage.
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0);
        assert_eq!(cmd(&a, &["PING"]), "+PONG");
    }
    assert_eq!(info_field(&a, "cluster_state"), "ok");
    assert_eq!(info_field(&b, "cluster_state"), "ok");
    assert_eq!(info_field(&a, "cluster_known_nodes"), "2");
}

/// `CLUSTER MEET` with a wrong bus port: the handshake never completes,
/// the node stays alone and healthy, and the handshake node is dropped
/// after the handshake timeout, as upstream.
#[test]
fn meet_with_a_wrong_bus_port_times_out_harmlessly() {
    let a = start_node(ServerKind::Ours, &[]);
    let b = start_node(ServerKind::Reference, &[]);
    let wrong = b.port().to_string(); // the client port, not the bus port
    assert_eq!(
        cmd(
            &a,
            &[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &b.port().to_string(),
                &wrong
            ]
        ),
        "+OK"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(cmd(&a, &["CLUSTER", "NODES"]).contains("handshake"));
    wait_for(
        Duration::from_secs(15),
        "the handshake node dropped",
        || info_field(&a, "cluster_known_nodes") == "1",
    );
    assert_eq!(cmd(&b, &["PING"]), "+PONG");
    assert_eq!(info_field(&b, "cluster_known_nodes"), "1");
}

/// Resharding under load: redis-py writes and reads with retries while
/// the reference `redis-cli --cluster reshard` moves slots (with `MIGRATE`
/// between our nodes) from the first master to the second and back. At
/// the end every acknowledged write is there, and every key lives in one
/// shard only (the owner of its slot).
#[test]
fn reshard_under_load_loses_no_acknowledged_write() {
    use std::io::Write as _;
    let all = nodes(&[ServerKind::Ours; 3]);
    let refs: Vec<&TestServer> = all.iter().collect();
    create(&refs, &[]);
    let mut writer = redis_testkit::ChildGuard::spawn(
        std::process::Command::new(python())
            .arg(script())
            .arg(all[2].port().to_string())
            .arg("under-reshard")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit()),
    );
    let mut out = std::io::BufReader::new(writer.0.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    std::thread::sleep(Duration::from_millis(500));
    let ids = [myid(&all[0]), myid(&all[1])];
    for (from, to) in [(0usize, 1usize), (1, 0)] {
        let o = redis_testkit::run_bounded(
            std::process::Command::new("/usr/bin/redis-cli").args([
                "--cluster",
                "reshard",
                &format!("127.0.0.1:{}", all[2].port()),
                "--cluster-from",
                &ids[from],
                "--cluster-to",
                &ids[to],
                "--cluster-slots",
                "1500",
                "--cluster-yes",
                "--cluster-pipeline",
                "50",
            ]),
            Duration::from_secs(180),
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!text.contains("[ERR]"), "{text}");
    }
    writer.0.stdin.take().unwrap().write_all(b"stop\n").unwrap();
    let status = writer.wait_bounded(Duration::from_secs(120));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        status.is_some_and(|s| s.success()) && rest.contains("reshard checks passed"),
        "{rest}"
    );
    println!("{}", rest.trim());
    // No key in two shards (the totals match), no slot left open.
    let total: usize = all
        .iter()
        .map(|n| {
            cmd(n, &["DBSIZE"])
                .trim_start_matches(':')
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    let written: usize = rest
        .split("passed: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(total, written, "keys in all shards vs acknowledged writes");
    for n in &all {
        let open = cmd(n, &["CLUSTER", "NODES"]);
        assert!(!open.contains("->-") && !open.contains("-<-"), "{open}");
    }
}

/// `CLUSTER SLOT-STATS` (Valkey 8 / Redis 8.2, beyond 7.0): key counts of
/// the slots this shard serves, by range or ordered, to find big slots.
#[test]
fn slot_stats_reports_key_counts_of_my_slots() {
    let a = start_node(ServerKind::Ours, &[]);
    let b = start_node(ServerKind::Ours, &[]);
    create(&[&a, &b], &[]);
    // a serves 0-8191: key1 is slot 9189 (b's), key2 4998, {t}x 15495 (b).
    for k in ["key2", "{key2}a", "{key2}b", "foo"] {
        let slot = cmd(&a, &["CLUSTER", "KEYSLOT", k]);
        let owner = if slot.trim_start_matches(':').parse::<u16>().unwrap() <= 8191 {
            &a
        } else {
            &b
        };
        assert_eq!(cmd(owner, &["SET", k, "v"]), "+OK");
    }
    let mut c = a.conn();
    let range = c.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "4997", "4999"]);
    assert_eq!(
        String::from_utf8_lossy(&range),
        "*3\r\n*2\r\n:4997\r\n*2\r\n$9\r\nkey-count\r\n:0\r\n*2\r\n:4998\r\n*2\r\n$9\r\nkey-count\r\n:3\r\n*2\r\n:4999\r\n*2\r\n$9\r\nkey-count\r\n:0\r\n"
    );
    // Slots of the other shard are not listed.
    let theirs = c.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "9000", "9001"]);
    assert_eq!(theirs, b"*0\r\n");
    let top = c.cmd(&[
        "CLUSTER",
        "SLOT-STATS",
        "ORDERBY",
        "key-count",
        "LIMIT",
        "2",
    ]);
    let top = String::from_utf8_lossy(&top).into_owned();
    assert!(top.starts_with("*2\r\n*2\r\n:4998\r\n"), "{top}");
    let asc = c.cmd(&[
        "CLUSTER",
        "SLOT-STATS",
        "ORDERBY",
        "key-count",
        "LIMIT",
        "1",
        "ASC",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&asc),
        "*1\r\n*2\r\n:0\r\n*2\r\n$9\r\nkey-count\r\n:0\r\n"
    );
    c.cmd(&["HELLO", "3"]);
    let resp3 = c.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "4998", "4998"]);
    assert_eq!(
        String::from_utf8_lossy(&resp3),
        "*1\r\n*2\r\n:4998\r\n%1\r\n$9\r\nkey-count\r\n:3\r\n"
    );
    for (args, err) in [
        (
            &["ORDERBY", "cpu"][..],
            "-ERR Unrecognized sort metric for ORDERBY.",
        ),
        (
            &["ORDERBY", "key-count", "LIMIT", "0"][..],
            "-ERR Limit has to lie in between 1 and 16384 (maximum number of slots).",
        ),
        (
            &["SLOTSRANGE", "5", "1"][..],
            "-ERR Start slot number 5 is greater than end slot number 1",
        ),
        (
            &["SLOTSRANGE", "0", "16384"][..],
            "-ERR Invalid or out of range slot",
        ),
        (&["BOGUS", "1", "2"][..], "-ERR syntax error"),
    ] {
        let mut all = vec!["CLUSTER", "SLOT-STATS"];
        all.extend_from_slice(args);
        assert_eq!(cmd(&a, &all), err, "{args:?}");
    }
}

/// `replicaof` in cluster mode is a fatal configuration error, as
/// upstream's sanity check after the last line.
#[test]
fn replicaof_directive_is_refused_in_cluster_mode() {
    let mut outs = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = redis_testkit::TempDir::new();
        let port = redis_testkit::server::free_port().to_string();
        let out = redis_testkit::run_bounded(
            std::process::Command::new(kind.server_binary()).args([
                "--port",
                &port,
                "--dir",
                dir.path_str(),
                "--cluster-enabled",
                "yes",
                "--replicaof",
                "127.0.0.1",
                "1234",
            ]),
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(1), "{kind:?}");
        outs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    assert_eq!(outs[1], outs[0]);
    assert!(outs[0].contains("replicaof directive not allowed in cluster mode"));
}

fn cli() -> std::path::PathBuf {
    redis_testkit::server::ours_binary("redis-cli")
}

/// A migration interrupted halfway (slot `MIGRATING` on its owner,
/// `IMPORTING` on the target, some keys moved) shows in `CLUSTER NODES`
/// and in `redis-cli --cluster check`, and our `redis-cli --cluster fix`
/// repairs it in one run with every key reachable — on our nodes and with
/// reference nodes mixed in.
#[test]
fn interrupted_migration_is_reported_and_fixed_in_one_run() {
    use ServerKind::{Ours, Reference};
    for kinds in [[Ours, Ours, Ours], [Ours, Reference, Ours]] {
        let all = nodes(&kinds);
        let refs: Vec<&TestServer> = all.iter().collect();
        create(&refs, &[]);
        // {k} is slot 7629, served by the second master.
        let (owner, target) = (&all[1], &all[0]);
        for i in 0..20 {
            assert_eq!(cmd(owner, &["SET", &format!("{{k}}{i}"), "v"]), "+OK");
        }
        let (oid, tid) = (myid(owner), myid(target));
        assert_eq!(
            cmd(owner, &["CLUSTER", "SETSLOT", "7629", "MIGRATING", &tid]),
            "+OK"
        );
        assert_eq!(
            cmd(target, &["CLUSTER", "SETSLOT", "7629", "IMPORTING", &oid]),
            "+OK"
        );
        let tport = target.port().to_string();
        assert_eq!(
            cmd(
                owner,
                &[
                    "MIGRATE",
                    "127.0.0.1",
                    &tport,
                    "",
                    "0",
                    "5000",
                    "KEYS",
                    "{k}1",
                    "{k}2"
                ]
            ),
            "+OK"
        );
        assert!(cmd(owner, &["CLUSTER", "NODES"]).contains(&format!("[7629->-{tid}]")));
        assert!(cmd(target, &["CLUSTER", "NODES"]).contains(&format!("[7629-<-{oid}]")));
        let addr = format!("127.0.0.1:{}", all[2].port());
        let run = |args: &[&str]| {
            let out = redis_testkit::run_bounded(
                std::process::Command::new(cli())
                    .env("TERM", "dumb")
                    .arg("--cluster")
                    .args(args),
                Duration::from_secs(60),
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let check = run(&["check", &addr]);
        assert!(
            check.contains("[WARNING] The following slots are open: 7629."),
            "{check}"
        );
        let fix = run(&["fix", &addr]);
        assert!(fix.contains(">>> Fixing open slot 7629"), "{fix}");
        let check = run(&["check", &addr]);
        assert!(!check.contains("[WARNING]"), "{kinds:?}: {check}\n{fix}");
        assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
        for i in 0..20 {
            let k = format!("{{k}}{i}");
            assert_eq!(cmd(owner, &["GET", &k]), "v", "{kinds:?} {k}\n{fix}");
        }
    }
}
