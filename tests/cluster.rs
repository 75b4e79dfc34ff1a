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
    let dir = redis_testkit::dir::fresh_dir().unwrap();
    std::fs::write(dir.join("nodes.conf"), &conf).unwrap();
    let mut a = TestServer::spawn_in(
        ServerKind::Ours,
        &ServerKind::Ours.server_binary(),
        dir,
        &[
            "--port",
            &port,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--cluster-port",
            &cport,
        ],
    )
    .unwrap()
    .with_port(port.parse().unwrap());
    a.wait_ready(Duration::from_secs(10)).unwrap();
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
