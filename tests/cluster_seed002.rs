//! Seed 002's Redis Cluster, verbatim, on three hosts that are network
//! namespaces (`redis_testkit::netns`): two instances per host with the
//! guide's configuration (`bind <ip>`, `protected-mode no`, ports
//! 6381–6383, `cluster-enabled yes`, `cluster-config-file
//! nodes-<port>.conf`, `cluster-node-timeout 15000`), created with
//! `redis-cli --cluster create … --cluster-replicas 1` (ours for our
//! nodes, the reference's for the mixed cluster), keys written and read
//! through redirections, then redis1 powered
//! off: the replica of its master is promoted and `CLUSTER NODES` shows
//! `master,fail`; keys stay readable; redis1 powered on again: its old
//! master comes back **as a replica** of the promoted node.
//!
//! Runs with all our nodes, and mixed (every other node Debian's 7.0).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redis_testkit::netns::{DaemonId, HostId, Lab};
use redis_testkit::server::ours_binary;
use redis_testkit::{require_tool, ServerKind};

const CLI: &str = "/usr/bin/redis-cli";
const REFERENCE_SERVER: &str = "/usr/bin/redis-server";
/// The guide's node timeout.
const NODE_TIMEOUT_MS: u64 = 15000;
/// Kill to promotion: the node timeout, the FAIL agreement, the election
/// (rank delay up to ~1.5 s) and slack.
const FAILOVER_LIMIT: Duration = Duration::from_secs(45);
const REJOIN_LIMIT: Duration = Duration::from_secs(45);

/// (host index, port), in the guide's `--cluster create` order.
const NODES: [(usize, u16); 6] = [
    (0, 6381),
    (1, 6382),
    (2, 6383),
    (0, 6382),
    (1, 6383),
    (2, 6381),
];

struct Seed {
    lab: Lab,
    hosts: Vec<HostId>,
    ips: Vec<String>,
    daemons: Vec<DaemonId>,
}

impl Seed {
    fn addr(&self, node: usize) -> (String, u16) {
        let (h, port) = NODES[node];
        (self.ips[h].clone(), port)
    }

    /// `redis-cli -h ip -p port args…` run on host 0 (redis1) unless it is
    /// off, else on host 1; stdout.
    fn cli(&self, from: usize, node: usize, args: &[&str]) -> String {
        let (ip, port) = self.addr(node);
        let port = port.to_string();
        let mut all = vec!["-h", ip.as_str(), "-p", port.as_str()];
        all.extend_from_slice(args);
        let out = self.lab.exec(
            self.hosts[from],
            &PathBuf::from(CLI),
            &all,
            Duration::from_secs(10),
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn wait(&self, limit: Duration, what: &str, mut cond: impl FnMut() -> Result<(), String>) {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            match cond() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "timed out after {limit:?} waiting for {what}; last: {last}\n{}",
            self.lab.logs()
        );
    }
}

fn start(kinds: [ServerKind; 6]) -> Seed {
    require_tool(CLI, "apt-get install redis-tools");
    let mut lab = Lab::new();
    let mut hosts = Vec::new();
    let mut ips = Vec::new();
    for (i, name) in ["redis1", "redis2", "redis3"].iter().enumerate() {
        let ip = lab.addr(9, 51 + i as u8);
        hosts.push(lab.add_host(name, &[&format!("{ip}/24")]));
        ips.push(ip);
    }
    let mut daemons = Vec::new();
    for (i, (h, port)) in NODES.iter().enumerate() {
        let name = format!("redis{}-{port}", h + 1);
        let dir = lab.daemon_dir(&name);
        // The guide's configuration, plus where to write.
        let conf = format!(
            "bind {ip}\nprotected-mode no\nport {port}\npidfile {dir}/redis_{port}.pid\n\
             cluster-enabled yes\ncluster-config-file nodes-{port}.conf\n\
             cluster-node-timeout {NODE_TIMEOUT_MS}\n\
             dir {dir}\nlogfile {dir}/log\nsave \"\"\nappendonly no\n",
            ip = ips[*h],
            dir = dir.display()
        );
        let path = dir.join("redis.conf");
        std::fs::write(&path, conf).unwrap();
        let program = match kinds[i] {
            ServerKind::Ours => ours_binary("redis-server"),
            ServerKind::Reference => require_tool(REFERENCE_SERVER, "apt-get install redis-server"),
        };
        let id = lab.spawn(hosts[*h], &name, &program, &[path.to_str().unwrap()]);
        daemons.push(id);
    }
    let seed = Seed {
        lab,
        hosts,
        ips,
        daemons,
    };
    for n in 0..6 {
        seed.wait(Duration::from_secs(20), "the node to answer", || {
            let r = seed.cli(0, n, &["PING"]);
            if r == "PONG" {
                Ok(())
            } else {
                Err(r)
            }
        });
    }
    seed
}

/// `create_with`: the `redis-cli` that runs `--cluster create` (ours or
/// the reference's); the other calls use the reference's.
fn run(kinds: [ServerKind; 6], create_with: PathBuf) {
    let mut seed = start(kinds);
    // redis-cli --cluster create redis1-ip:6381 redis2-ip:6382 redis3-ip:6383
    //   redis1-ip:6382 redis2-ip:6383 redis3-ip:6381 --cluster-replicas 1
    let addrs: Vec<String> = (0..6)
        .map(|n| {
            let (ip, port) = seed.addr(n);
            format!("{ip}:{port}")
        })
        .collect();
    let mut args: Vec<&str> = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let out = seed
        .lab
        .exec(seed.hosts[0], &create_with, &args, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", seed.lab.logs());
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
    for n in 0..6 {
        seed.wait(Duration::from_secs(30), "cluster_state:ok", || {
            let info = seed.cli(0, n, &["CLUSTER", "INFO"]);
            let nodes = seed.cli(0, n, &["CLUSTER", "NODES"]);
            let replicas = nodes.lines().filter(|l| l.contains("slave")).count();
            if info.contains("cluster_state:ok")
                && info.contains("cluster_known_nodes:6")
                && replicas == 3
            {
                Ok(())
            } else {
                Err(format!("{info}\n{nodes}"))
            }
        });
    }
    // SET key1 test1 -> Redirected to slot [9189] located at redis2:6382.
    assert_eq!(
        seed.cli(0, 0, &["SET", "key1", "test1"]),
        format!("MOVED 9189 {}:6382", seed.ips[1])
    );
    assert_eq!(seed.cli(0, 0, &["-c", "SET", "key1", "test1"]), "OK");
    assert_eq!(seed.cli(0, 0, &["-c", "SET", "key2", "test2"]), "OK");
    assert_eq!(seed.cli(0, 0, &["-c", "SET", "key3", "test3"]), "OK");
    for n in [1, 2] {
        for (k, v) in [("key1", "test1"), ("key2", "test2"), ("key3", "test3")] {
            assert_eq!(seed.cli(0, n, &["-c", "GET", k]), v);
        }
    }
    // The replica of redis1:6381 (master of slot 4998, key2).
    let m1_id = seed.cli(0, 0, &["CLUSTER", "MYID"]);
    let nodes = seed.cli(0, 1, &["CLUSTER", "NODES"]);
    let replica_line = nodes
        .lines()
        .find(|l| l.split(' ').nth(3) == Some(m1_id.as_str()))
        .unwrap_or_else(|| panic!("no replica of {m1_id}:\n{nodes}"))
        .to_string();
    let s_id = replica_line.split(' ').next().unwrap().to_string();
    let s_addr = replica_line
        .split(' ')
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_string();
    let s_node = (0..6)
        .find(|n| {
            let (ip, port) = seed.addr(*n);
            format!("{ip}:{port}") == s_addr
        })
        .unwrap();
    // The replica has the data (key2 lives in slot 4998, redis1:6381's).
    seed.wait(
        Duration::from_secs(10),
        "key2 and key3 on the replica",
        || {
            let r = seed.cli(1, s_node, &["DBSIZE"]);
            if r == "2" {
                Ok(())
            } else {
                Err(r)
            }
        },
    );

    // Nous désactiverons le nœud redis1.
    let t0 = Instant::now();
    seed.lab.power_off(seed.hosts[0]);
    seed.wait(
        FAILOVER_LIMIT,
        "the replica promoted and M1 master,fail",
        || {
            let nodes = seed.cli(1, 1, &["CLUSTER", "NODES"]);
            let m1 = nodes
                .lines()
                .find(|l| l.starts_with(&m1_id))
                .unwrap_or("")
                .to_string();
            let s = nodes.lines().find(|l| l.starts_with(&s_id)).unwrap_or("");
            if m1.contains("master,fail") && s.contains(" master ") && s.contains("0-5460") {
                Ok(())
            } else {
                Err(nodes)
            }
        },
    );
    let failover_time = t0.elapsed();
    // Les clés sont désormais disponibles sur redis3 (or wherever the
    // promoted replica lives).
    for (k, v) in [("key1", "test1"), ("key2", "test2"), ("key3", "test3")] {
        seed.wait(
            Duration::from_secs(10),
            "keys readable after failover",
            || {
                let r = seed.cli(1, 1, &["-c", "GET", k]);
                if r == v {
                    Ok(())
                } else {
                    Err(r)
                }
            },
        );
    }
    // Restaurez le fonctionnement du nœud redis1.
    seed.lab.power_on(seed.hosts[0]);
    seed.wait(REJOIN_LIMIT, "the old master back as a replica", || {
        let nodes = seed.cli(1, 1, &["CLUSTER", "NODES"]);
        let m1 = nodes.lines().find(|l| l.starts_with(&m1_id)).unwrap_or("");
        let fields: Vec<&str> = m1.split(' ').collect();
        if fields.get(2) == Some(&"slave") && fields.get(3) == Some(&s_id.as_str()) {
            Ok(())
        } else {
            Err(nodes)
        }
    });
    seed.wait(
        Duration::from_secs(30),
        "cluster_state:ok on the old master",
        || {
            let info = seed.cli(0, 0, &["CLUSTER", "INFO"]);
            if info.contains("cluster_state:ok") {
                Ok(())
            } else {
                Err(info)
            }
        },
    );
    let role = seed.cli(0, 0, &["ROLE"]);
    assert!(role.starts_with("slave"), "{role}");
    for (k, v) in [("key1", "test1"), ("key2", "test2"), ("key3", "test3")] {
        assert_eq!(seed.cli(0, 0, &["-c", "GET", k]), v);
    }
    println!("seed 002 cluster {kinds:?}: failover in {failover_time:?}");
    assert_eq!(seed.daemons.len(), 6);
}

#[test]
fn seed002_cluster_failover_and_rejoin_ours() {
    run([ServerKind::Ours; 6], ours_binary("redis-cli"));
}

#[test]
fn seed002_cluster_failover_and_rejoin_mixed() {
    use ServerKind::{Ours, Reference};
    run(
        [Ours, Reference, Ours, Reference, Ours, Reference],
        PathBuf::from(CLI),
    );
}
