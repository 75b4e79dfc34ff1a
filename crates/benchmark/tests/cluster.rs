//! `--cluster` against a three-master reference cluster (Debian's
//! `redis-server --cluster-enabled yes`, joined by `redis-cli --cluster
//! create`): the same report structure as Debian's `redis-benchmark`,
//! requests spread over every master by slot, a command without `{tag}`
//! failing on its redirection, and a server without cluster support
//! refused with upstream's messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{assert_same_structure, both, run, text, Server, CLI, OURS};

struct Cluster {
    nodes: Vec<Server>,
}

fn start_cluster() -> Cluster {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        // The bus port is chosen too (the default, port + 10000, may be
        // taken or out of range); nodes.conf goes to the server's own dir.
        let bus = common::free_port().to_string();
        nodes.push(Server::start(&[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-port",
            &bus,
        ]));
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.push("--cluster-yes");
    let out = run(CLI, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes
        .iter()
        .all(|n| n.cli(&["cluster", "info"]).contains("cluster_state:ok"))
    {
        assert!(Instant::now() < deadline, "cluster did not become ok");
        std::thread::sleep(Duration::from_millis(100));
    }
    Cluster { nodes }
}

#[test]
fn cluster_mode() {
    common::require_reference();
    let c = start_cluster();
    let entry = c.nodes[0].port;

    for args in [
        &["--cluster", "-n", "2000", "-r", "1000", "-t", "set,get"][..],
        &["--cluster", "-n", "600", "-q", "-P", "4"],
        &[
            "--cluster",
            "-n",
            "600",
            "--csv",
            "--threads",
            "2",
            "-t",
            "incr,mset",
        ],
    ] {
        let (ours, upstream) = both(entry, args);
        assert_eq!(
            ours.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&ours.stderr)
        );
        assert_eq!(upstream.status.code(), Some(0), "{args:?}");
        assert_eq!(ours.stderr, upstream.stderr, "{args:?}");
        assert_same_structure(
            &format!("{args:?}"),
            &text(&ours.stdout),
            &text(&upstream.stdout),
        );
    }
    let (ours, _) = both(entry, &["--cluster", "-n", "100", "-t", "get"]);
    let out = text(&ours.stdout);
    assert!(
        out.starts_with("Cluster has 3 master nodes:\n\nMaster 0: "),
        "{out}"
    );
    assert!(out.contains("  cluster mode: yes (3 masters)\n  node [0] configuration:\n    save: NONE\n    appendonly: no\n"), "{out}");
    assert!(out.contains("  multi-thread: yes\n  threads: 3\n"), "{out}");

    // Keys land on every master, each in a slot it owns.
    for n in &c.nodes {
        n.cli(&["flushall"]);
    }
    let p = entry.to_string();
    let out = run(
        OURS,
        &[
            "-p",
            &p,
            "--cluster",
            "-n",
            "30000",
            "-r",
            "100000",
            "-t",
            "set,lpush",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for n in &c.nodes {
        let size: u64 = n.cli(&["dbsize"]).parse().unwrap();
        assert!(size > 100, "port {}: {size} keys", n.port);
        let key = n.cli(&["randomkey"]);
        let slot = n.cli(&["cluster", "keyslot", &key]);
        let in_slot: u64 = n
            .cli(&["cluster", "countkeysinslot", &slot])
            .parse()
            .unwrap();
        assert!(in_slot > 0, "{key} in slot {slot}");
    }

    // A command line with {tag} is steered too; one without is redirected.
    let out = run(
        OURS,
        &[
            "-p",
            &p,
            "--cluster",
            "-n",
            "300",
            "-q",
            "set",
            "k{tag}",
            "v",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (ours, upstream) = both(
        entry,
        &["--cluster", "-n", "300", "-q", "set", "foo", "bar"],
    );
    let err = text(&ours.stderr);
    assert!(
        err.starts_with("Error from server 127.0.0.1:") && err.contains(": MOVED "),
        "{err}"
    );
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));
}

#[test]
fn cluster_refused() {
    let s = Server::start(&[]);
    let (ours, upstream) = both(s.port, &["--cluster", "-n", "10", "-q"]);
    assert_eq!(
        text(&ours.stderr),
        format!(
            "Cluster node 127.0.0.1:{0} replied with error:\nERR This instance has cluster support disabled\nFailed to fetch cluster configuration from 127.0.0.1:{0}\n",
            s.port
        )
    );
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));
}
