//! Multi-host Sentinel deployments from the operator guides, with real
//! processes on "hosts" that are network namespaces (see
//! `redis_testkit::netns`): every daemon listens on the standard ports
//! 6379/26379 of its own host's addresses, as the guides deploy them.
//!
//! - Seed 000 (two machines, a Redis and two sentinels on each, the
//!   sentinels bound to two addresses of the machine, quorum 1), verbatim:
//!   power the master's machine off, the replica is promoted, redis-py
//!   finds it, the machine comes back and its Redis rejoins as a replica.
//! - Seed 000 with `sentinel announce-ip`, so that the four sentinels are
//!   four (see below): a crashed master fails over, a powered-off machine
//!   does not (two sentinels of four are no majority).
//! - Seed 001 (two Redis servers with `requirepass`/`masterauth`, a third
//!   monitoring machine, three sentinels with `auth-pass`, quorum 2): the
//!   master's machine is cut off; the majority fails over, the minority
//!   does not; healed, the old master is a replica and all sentinels agree.
//! - A reliability figure: seed 001 with `min-replicas-to-write 1` and
//!   `min-replicas-max-lag 10`, an application next to the master writing
//!   through `Sentinel.master_for` while that side is cut off; the writes
//!   acknowledged but lost are counted and bounded by the lag window
//!   (the figure is printed: run with `--nocapture` to compare stacks).
//! - The lab itself: namespaces, PIDs, partition, power-off, teardown.
//!
//! Every scenario runs on three stacks: all reference (Debian's 7.0
//! `redis-server`, and as sentinel `redis-server conf --sentinel`), all
//! ours (`redis-server`, `redis-sentinel conf`), and mixed (reference
//! servers, our sentinels with one reference sentinel among them where
//! there are at least three).
//!
//! What upstream 7.0 does with the guides' configurations, which the
//! scenarios pin down:
//! - The server config of seed 000 has neither `bind` nor a password, so
//!   7.0's protected mode answers `-DENIED` to every other machine (the
//!   replica, the sentinels): the guide was written for 2.8. The servers
//!   get `protected-mode no`.
//! - A sentinel announces the local address of its connection to the
//!   master, not its `bind` address (7.0 binds outgoing connections only
//!   with `bind-source-addr`). Both sentinels of a seed 000 machine reach
//!   the master from the machine's first address, so they announce the
//!   same ip:port; every sentinel keeps one entry for that pair, replaced
//!   at each hello (`+sentinel-invalid-addr`), and counts three sentinels,
//!   not four. That is also why powering a machine off still fails over:
//!   the survivors need two votes out of "three". With `announce-ip` the
//!   four are four, and two survivors are no majority: no failover.
//! - The guide's client lists `(B, 6379)` — a Redis server — as a
//!   sentinel; once A is off, redis-py asks that server `SENTINEL
//!   MASTERS` and raises `ResponseError` instead of finding the master.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis_testkit::netns::{DaemonId, HostId, Lab};
use redis_testkit::server::ours_binary;
use redis_testkit::{require_tool, ServerKind};

const CLI: &str = "/usr/bin/redis-cli";
const TIMEOUT: &str = "/usr/bin/timeout";
const REFERENCE_SERVER: &str = "/usr/bin/redis-server";
/// Seed 000's timings (seed 001 gives none, so it gets the same).
const DOWN_AFTER_MS: u64 = 3000;
const FAILOVER_TIMEOUT_MS: u64 = 10000;
const PARALLEL_SYNCS: u32 = 4;
/// From a master down to the replica promoted: down-after, the election
/// (a random delay of up to a second, votes), the promotion, and slack.
const FAILOVER_LIMIT: Duration = Duration::from_secs(25);
/// From a network healed (or a host back) to the old master being a
/// replica of the new one: sentinels wait 8 s (4 hello periods) after a
/// master reports the wrong role before they reconfigure it.
const REJOIN_LIMIT: Duration = Duration::from_secs(45);
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// Seed 001's password is `pwgen -s -y 16`: symbols included.
const PASS: &str = "Tz8!kq#R2v@Lw9%x";

/// Which sentinel daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SentinelKind {
    /// `target/<profile>/redis-sentinel conf`.
    Ours,
    /// `/usr/bin/redis-server conf --sentinel`.
    Reference,
}

impl SentinelKind {
    fn command(self, conf: &Path) -> (PathBuf, Vec<String>) {
        let conf = conf.display().to_string();
        match self {
            SentinelKind::Ours => (ours_binary("redis-sentinel"), vec![conf]),
            SentinelKind::Reference => (
                require_tool(REFERENCE_SERVER, "apt-get install redis-server"),
                vec![conf, "--sentinel".into()],
            ),
        }
    }
}

/// The implementations a scenario runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    /// Everything Debian's 7.0: the harness's self-check.
    Reference,
    /// Our servers and our sentinels.
    Ours,
    /// Reference servers, our sentinels, and with three sentinels or more
    /// the last one the reference.
    Mixed,
}

impl Stack {
    fn server(self) -> ServerKind {
        match self {
            Stack::Ours => ServerKind::Ours,
            Stack::Reference | Stack::Mixed => ServerKind::Reference,
        }
    }

    fn sentinel(self, i: usize, n: usize) -> SentinelKind {
        match self {
            Stack::Reference => SentinelKind::Reference,
            Stack::Ours => SentinelKind::Ours,
            Stack::Mixed if n >= 3 && i == n - 1 => SentinelKind::Reference,
            Stack::Mixed => SentinelKind::Ours,
        }
    }
}

/// A daemon of a deployment: where it runs and where it listens.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    host: HostId,
    ip: String,
    port: u16,
    id: DaemonId,
    /// `requirepass` of a server.
    pass: Option<String>,
}

/// A deployment in a lab: its servers, sentinels, and a client host.
struct Deployment {
    lab: Lab,
    stack: Stack,
    master_name: String,
    servers: Vec<Node>,
    sentinels: Vec<Node>,
    client: HostId,
    started: Instant,
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Polls `probe` every 200 ms until it returns `Ok`, at most `limit`;
/// panics with `what` and the last observation (`Err`) when it does not.
fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {limit:?}; last seen: {last}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn python() -> PathBuf {
    let p = crate::util::repo_root().join(".venv/bin/python");
    require_tool(
        p.to_str().unwrap_or(".venv/bin/python"),
        "python venv with redis-py (cargo xtask test creates it)",
    )
}

/// Asks the sentinels `sentinels` (host, port) for the master as the
/// guide's client does; prints `Master <ip> <port>` or `ERR <class> ...`.
/// The guide sets only `socket_timeout`: redis-py 8.1 then connects to a
/// sentinel with its default 5 s connect timeout and retries a failed
/// connection 10 times (exponential backoff up to 1 s), so each powered-off
/// sentinel costs about 40 s (about 4 s with a 0.1 s connect timeout). With
/// `connect_timeout` the sentinel connections get that connect timeout and
/// no retry, for the checks that are about the answer, not the guide's
/// client settings.
const DISCOVER_PY: &str = r#"
import json, sys
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel
cfg = json.loads(sys.argv[1])
kwargs = {"socket_timeout": cfg["timeout"]}
if cfg["connect_timeout"] is not None:
    kwargs["sentinel_kwargs"] = {
        "socket_timeout": cfg["timeout"],
        "socket_connect_timeout": cfg["connect_timeout"],
        "retry": Retry(NoBackoff(), 0),
    }
sentinel = Sentinel([tuple(a) for a in cfg["sentinels"]], **kwargs)
try:
    print("Master %s %d" % sentinel.discover_master(cfg["name"]))
except Exception as e:
    print("ERR %s %s" % (type(e).__name__, e))
"#;

/// Writes continuously through `Sentinel.master_for`: per round an INCR
/// of `counter` and an RPUSH of the round's sequence number to `seq`,
/// logging every acknowledgement with its wall-clock time and the server
/// that gave it (`I`/`A` lines) and every error (`E` lines). No retry
/// inside redis-py: a failed round is logged and the next round starts
/// (after 50 ms), so each sequence number is sent at most once. Stops when
/// the stop file appears or after `limit` seconds.
const WRITER_PY: &str = r#"
import json, os, sys, time
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel
cfg = json.loads(sys.argv[1])
sentinel = Sentinel([tuple(a) for a in cfg["sentinels"]],
                    socket_timeout=0.3, socket_connect_timeout=0.3)
r = sentinel.master_for(cfg["name"], password=cfg["password"], socket_timeout=0.5,
                        socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
pool = r.connection_pool
out = open(cfg["out"], "w", buffering=1)
deadline = time.time() + cfg["limit"]
seq = 0
print("writer started", flush=True)
while time.time() < deadline and not os.path.exists(cfg["stop"]):
    seq += 1
    try:
        n = r.incr("counter")
        out.write("I %d %.6f %s %d\n" % (seq, time.time(), pool.master_address[0], n))
        r.rpush("seq", seq)
        out.write("A %d %.6f %s\n" % (seq, time.time(), pool.master_address[0]))
    except Exception as e:
        msg = str(e).replace("\n", " ")[:80]
        out.write("E %d %.6f %s %s\n" % (seq, time.time(), type(e).__name__, msg))
        time.sleep(0.05)
    # A steady pace (~500 rounds/s) that leaves CPU to the daemons.
    time.sleep(0.001)
out.close()
print("writer done after %d rounds" % seq, flush=True)
"#;

impl Deployment {
    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn log(&self, msg: &str) {
        eprintln!("[{:?} +{:6.2}s] {msg}", self.stack, self.elapsed());
    }

    /// `redis-cli` run on `from` against `node` (with its password),
    /// bounded by 5 s; stdout, or why not.
    fn cli(&self, from: HostId, node: &Node, args: &[&str]) -> Result<String, String> {
        let port = node.port.to_string();
        let mut full: Vec<&str> = vec!["5", CLI, "-h", &node.ip, "-p", &port];
        if let Some(p) = &node.pass {
            full.extend(["--no-auth-warning", "-a", p.as_str()]);
        }
        full.extend(args);
        let out = self
            .lab
            .exec(from, Path::new(TIMEOUT), &full, Duration::from_secs(15));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && !stdout.starts_with("ERR") {
            Ok(stdout)
        } else {
            Err(format!(
                "{} {}: {} {}{}",
                node.name,
                args.join(" "),
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// INFO replication of `server`, seen from `from`.
    fn replication(&self, from: HostId, server: &Node) -> Result<String, String> {
        self.cli(from, server, &["INFO", "replication"])
    }

    /// The `master0:` line of a sentinel's INFO sentinel.
    fn master0(&self, from: HostId, sentinel: &Node) -> Result<String, String> {
        let text = self.cli(from, sentinel, &["INFO", "sentinel"])?;
        field(&text, "master0").ok_or_else(|| format!("{}: no master0 in {text}", sentinel.name))
    }

    /// `SENTINEL MASTER <name>` as field/value pairs.
    fn sentinel_master(
        &self,
        from: HostId,
        sentinel: &Node,
    ) -> Result<Vec<(String, String)>, String> {
        let text = self.cli(from, sentinel, &["SENTINEL", "MASTER", &self.master_name])?;
        let lines: Vec<&str> = text.lines().collect();
        let pairs = lines.chunks_exact(2);
        if lines.is_empty() || !pairs.remainder().is_empty() {
            return Err(format!("{}: SENTINEL MASTER said {text}", sentinel.name));
        }
        Ok(pairs
            .map(|kv| (kv[0].to_string(), kv[1].to_string()))
            .collect())
    }

    /// The shape every sentinel must report once settled.
    fn expected_master0(&self, master: &Node, slaves: usize, sentinels: usize) -> String {
        format!(
            "name={},status=ok,address={}:{},slaves={slaves},sentinels={sentinels}",
            self.master_name, master.ip, master.port
        )
    }

    /// Waits until every sentinel in `which`, asked from `from`, reports
    /// exactly `expected` as its `master0`.
    fn wait_sentinels(&self, from: HostId, which: &[&Node], expected: &str, limit: Duration) {
        let what = format!("sentinels report master0:{expected}");
        wait_for(&what, limit, || {
            for s in which {
                let line = self.master0(from, s)?;
                if line != expected {
                    return Err(format!("{}: master0:{line}", s.name));
                }
            }
            Ok(())
        });
    }

    /// Waits until `server` answers PING (seen from `from`).
    fn wait_up(&self, from: HostId, server: &Node) {
        wait_for(&format!("{} answers", server.name), STARTUP_LIMIT, || {
            let out = self.cli(from, server, &["PING"])?;
            if out.trim() == "PONG" {
                Ok(())
            } else {
                Err(out)
            }
        });
    }

    /// Waits until `server` is a replica of `master` with its link up.
    fn wait_replica_of(&self, from: HostId, server: &Node, master: &Node, limit: Duration) {
        let what = format!("{} replicates {}", server.name, master.name);
        wait_for(&what, limit, || {
            let text = self.replication(from, server)?;
            let ok = field(&text, "role").as_deref() == Some("slave")
                && field(&text, "master_host").as_deref() == Some(master.ip.as_str())
                && field(&text, "master_link_status").as_deref() == Some("up");
            if ok {
                Ok(())
            } else {
                Err(text)
            }
        });
    }

    /// Waits until `server` reports `role:master`.
    fn wait_master(&self, from: HostId, server: &Node, limit: Duration) {
        wait_for(&format!("{} is a master", server.name), limit, || {
            let text = self.replication(from, server)?;
            if field(&text, "role").as_deref() == Some("master") {
                Ok(())
            } else {
                Err(text)
            }
        });
    }

    fn role(&self, from: HostId, server: &Node) -> Option<String> {
        self.replication(from, server)
            .ok()
            .and_then(|t| field(&t, "role"))
    }

    /// redis-py's `discover_master` run on `from` against `sentinels`.
    fn discover(
        &self,
        from: HostId,
        sentinels: &[(&str, u16)],
        timeout: f64,
        connect_timeout: Option<f64>,
    ) -> String {
        let list: Vec<String> = sentinels
            .iter()
            .map(|(ip, port)| format!("[\"{ip}\", {port}]"))
            .collect();
        let connect = connect_timeout.map_or("null".to_string(), |t| t.to_string());
        let cfg = format!(
            "{{\"sentinels\": [{}], \"name\": \"{}\", \"timeout\": {timeout}, \
             \"connect_timeout\": {connect}}}",
            list.join(", "),
            self.master_name
        );
        let py = python();
        let t0 = Instant::now();
        let out = self.lab.exec(
            from,
            &py,
            &["-c", DISCOVER_PY, &cfg],
            Duration::from_secs(90),
        );
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "discover_master: {} {text} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.log(&format!(
            "discover_master({sentinels:?}, socket_timeout={timeout}, \
             socket_connect_timeout={connect}) took {:?}: {}",
            t0.elapsed(),
            text.chars().take(120).collect::<String>()
        ));
        text
    }

    fn all_sentinel_addrs(&self) -> Vec<(&str, u16)> {
        self.sentinels
            .iter()
            .map(|s| (s.ip.as_str(), s.port))
            .collect()
    }

    /// Starts a Redis server on `host` from `conf` (lines), as `name`.
    fn add_server(
        &mut self,
        host: HostId,
        name: &str,
        ip: &str,
        conf: &[String],
        pass: Option<&str>,
    ) {
        let dir = self.lab.daemon_dir(name);
        let mut text = conf.join("\n");
        text.push_str(&format!(
            "\ndir {}\nlogfile \"{}/redis.log\"\n",
            dir.display(),
            dir.display()
        ));
        let path = dir.join("redis.conf");
        std::fs::write(&path, text).unwrap();
        let bin = self.stack.server().server_binary();
        let id = self.lab.spawn(host, name, &bin, &[path.to_str().unwrap()]);
        self.servers.push(Node {
            name: name.into(),
            host,
            ip: ip.into(),
            port: 6379,
            id,
            pass: pass.map(str::to_string),
        });
    }

    /// Starts sentinel number `i` of `n` on `host` from `conf` (lines).
    fn add_sentinel(
        &mut self,
        host: HostId,
        name: &str,
        ip: &str,
        conf: &[String],
        i: usize,
        n: usize,
    ) {
        let dir = self.lab.daemon_dir(name);
        let mut text = conf.join("\n");
        text.push_str(&format!(
            "\ndir {}\nlogfile \"{}/sentinel.log\"\n",
            dir.display(),
            dir.display()
        ));
        let path = dir.join("sentinel.conf");
        std::fs::write(&path, text).unwrap();
        let (bin, args) = self.stack.sentinel(i, n).command(&path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = self.lab.spawn(host, name, &bin, &args);
        self.sentinels.push(Node {
            name: name.into(),
            host,
            ip: ip.into(),
            port: 26379,
            id,
            pass: None,
        });
    }
}

fn sentinel_lines(master_name: &str, master_ip: &str, quorum: u32) -> Vec<String> {
    vec![
        format!("sentinel monitor {master_name} {master_ip} 6379 {quorum}"),
        format!("sentinel down-after-milliseconds {master_name} {DOWN_AFTER_MS}"),
        format!("sentinel failover-timeout {master_name} {FAILOVER_TIMEOUT_MS}"),
        format!("sentinel parallel-syncs {master_name} {PARALLEL_SYNCS}"),
    ]
}

// ---------------------------------------------------------------------
// Seed 000: two machines, a Redis and two sentinels on each.
// ---------------------------------------------------------------------

/// Seed 000's deployment: machine A (`.51` and `eth0:1` on a second
/// subnet) with the master, machine B with the replica (made one with
/// `SLAVEOF` from redis-cli, as in the guide), two sentinels per machine
/// bound to the machine's two addresses on port 26379, quorum 1; and a
/// client machine on both subnets. With `announce`, each sentinel also
/// announces its bind address. Returns once every sentinel sees the
/// master, its replica and `sentinels` sentinels in all.
fn seed000(stack: Stack, announce: bool) -> (Deployment, HostId, HostId) {
    let started = Instant::now();
    let mut lab = Lab::new();
    let (a1, a2) = (lab.addr(77, 51), lab.addr(78, 1));
    let (b1, b2) = (lab.addr(77, 52), lab.addr(78, 2));
    let (c1, c2) = (lab.addr(77, 200), lab.addr(78, 200));
    let ha = lab.add_host("a", &[&format!("{a1}/24"), &format!("{a2}/24")]);
    let hb = lab.add_host("b", &[&format!("{b1}/24"), &format!("{b2}/24")]);
    let client = lab.add_host("client", &[&format!("{c1}/24"), &format!("{c2}/24")]);
    let mut d = Deployment {
        lab,
        stack,
        master_name: "master".into(),
        servers: Vec::new(),
        sentinels: Vec::new(),
        client,
        started,
    };
    // The guide's server configuration, identical on both machines.
    let server_conf: Vec<String> = [
        "port 6379",
        "loglevel warning",
        "maxmemory-policy noeviction",
        "appendonly yes",
        "appendfsync always",
        "auto-aof-rewrite-percentage 100",
        "auto-aof-rewrite-min-size 64mb",
        "aof-rewrite-incremental-fsync yes",
        // Not in the guide (2.8 had no protected mode): without it 7.0
        // denies the other machine.
        "protected-mode no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    d.add_server(ha, "redis-a", &a1, &server_conf, None);
    d.add_server(hb, "redis-b", &b1, &server_conf, None);
    let (ra, rb) = (d.servers[0].clone(), d.servers[1].clone());
    d.wait_up(client, &ra);
    d.wait_up(client, &rb);
    // "slaveof 192.168.0.51 6379", from machine B's redis-cli.
    let out = d.cli(hb, &rb, &["SLAVEOF", &a1, "6379"]).unwrap();
    assert_eq!(out.trim(), "OK", "SLAVEOF: {out}");
    d.wait_replica_of(client, &rb, &ra, STARTUP_LIMIT);
    let binds = [(ha, &a1, "sentinel-a1"), (ha, &a2, "sentinel-a2")]
        .into_iter()
        .chain([(hb, &b1, "sentinel-b1"), (hb, &b2, "sentinel-b2")]);
    for (i, (host, ip, name)) in binds.enumerate() {
        let mut conf = vec!["port 26379".to_string(), format!("bind {ip}")];
        conf.extend(sentinel_lines("master", &a1, 1));
        if announce {
            conf.push(format!("sentinel announce-ip {ip}"));
        }
        d.add_sentinel(host, name, ip, &conf, i, 4);
    }
    d.log("seed 000 deployment started");
    (d, ha, hb)
}

/// Seed 000 as written: power the master's machine off; the replica is
/// promoted, redis-py (from the client machine) finds it; power the
/// machine back on (its daemons restart from the configs they rewrote):
/// the old master rejoins as a replica, with the data written before.
fn seed000_power_off(stack: Stack) {
    let (d, ha, hb) = seed000(stack, false);
    let mut d = d;
    let client = d.client;
    let (ra, rb) = (d.servers[0].clone(), d.servers[1].clone());
    let all: Vec<Node> = d.sentinels.clone();
    let all_refs: Vec<&Node> = all.iter().collect();
    // Both sentinels of a machine announce its first address, so each
    // sentinel counts three (see the module doc).
    let shape = d.expected_master0(&ra, 1, 3);
    d.wait_sentinels(client, &all_refs, &shape, STARTUP_LIMIT);
    d.log(&format!("all four sentinels: master0:{shape}"));

    // The guide's client, verbatim but for the addresses.
    let guide_list = [(ra.ip.as_str(), 26379), (rb.ip.as_str(), 6379)];
    let got = d.discover(client, &guide_list, 0.1, None);
    assert_eq!(got, format!("Master {} 6379", ra.ip));

    let out = d.cli(client, &ra, &["SET", "before", "power-off"]).unwrap();
    assert_eq!(out.trim(), "OK");
    wait_for("the replica has the key", STARTUP_LIMIT, || {
        match d.cli(client, &rb, &["GET", "before"]) {
            Ok(v) if v.trim() == "power-off" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    d.lab.power_off(ha);
    let off = Instant::now();
    d.log("machine A powered off");
    d.wait_master(client, &rb, FAILOVER_LIMIT);
    let promoted = off.elapsed();
    d.log(&format!(
        "redis-b promoted {promoted:?} after the power-off"
    ));
    let b_side: Vec<&Node> = all.iter().filter(|s| s.host == hb).collect();
    let shape = d.expected_master0(&rb, 1, 3);
    d.wait_sentinels(client, &b_side, &shape, FAILOVER_LIMIT);

    // redis-py from the client machine: the A sentinels time out.
    let got = d.discover(client, &d.all_sentinel_addrs(), 0.1, Some(0.1));
    assert_eq!(got, format!("Master {} 6379", rb.ip));
    // The guide's list now reaches the Redis server it names as a
    // sentinel, and redis-py gives up on its error. (Verbatim, redis-py
    // would first spend ~40 s on the dead sentinel: see DISCOVER_PY.)
    let got = d.discover(client, &guide_list, 0.1, Some(0.1));
    assert!(got.starts_with("ERR ResponseError"), "{got}");

    d.lab.power_on(ha);
    d.log("machine A powered on");
    d.wait_replica_of(client, &ra, &rb, REJOIN_LIMIT);
    d.log("redis-a rejoined as a replica of redis-b");
    d.wait_sentinels(client, &all_refs, &shape, REJOIN_LIMIT);
    for s in [&ra, &rb] {
        let v = d.cli(client, s, &["GET", "before"]).unwrap();
        assert_eq!(v.trim(), "power-off", "{}", s.name);
    }
    d.log("done");
}

/// Seed 000 with `sentinel announce-ip <bind address>`: four sentinels.
/// A crashed master (its machine's sentinels alive) fails over, redis-py
/// finds the new master and the restarted server rejoins as a replica.
/// Then the new master's machine is powered off: the two sentinels left
/// are no majority of four, so nothing is promoted and redis-py finds no
/// master; powered on again, all is as before.
fn seed000_announced(stack: Stack) {
    let (d, ha, hb) = seed000(stack, true);
    let mut d = d;
    let client = d.client;
    let (ra, rb) = (d.servers[0].clone(), d.servers[1].clone());
    let all: Vec<Node> = d.sentinels.clone();
    let all_refs: Vec<&Node> = all.iter().collect();
    let shape = d.expected_master0(&ra, 1, 4);
    d.wait_sentinels(client, &all_refs, &shape, STARTUP_LIMIT);
    d.log(&format!("all four sentinels: master0:{shape}"));

    d.lab.kill(ra.id);
    let crashed = Instant::now();
    d.log("redis-a killed");
    d.wait_master(client, &rb, FAILOVER_LIMIT);
    d.log(&format!(
        "redis-b promoted {:?} after the crash",
        crashed.elapsed()
    ));
    // Promoted is not yet switched: redis-py wants a sentinel whose
    // master is the new one and not down.
    let shape = d.expected_master0(&rb, 1, 4);
    d.wait_sentinels(client, &all_refs, &shape, FAILOVER_LIMIT);
    let got = d.discover(client, &d.all_sentinel_addrs(), 0.1, Some(0.1));
    assert_eq!(got, format!("Master {} 6379", rb.ip));
    d.lab.start(ra.id);
    d.wait_replica_of(client, &ra, &rb, REJOIN_LIMIT);
    d.wait_sentinels(client, &all_refs, &shape, REJOIN_LIMIT);
    d.log("redis-a rejoined as a replica");
    let epoch_before = d
        .sentinel_master(client, &all[0])
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "config-epoch")
        .map(|(_, v)| v);

    d.lab.power_off(hb);
    d.log("machine B (the master's) powered off");
    // The A sentinels see the master down (quorum 1: ODOWN at once) and
    // one of them tries: it asks for votes until the election times out
    // (min(failover-timeout, 10 s)) and gets two of four. Watched through
    // the attempt to its abort, redis-a must stay a replica. B comes back
    // only after the abort: powered on during the attempt, B's restarted
    // sentinels would give the pending request their votes and the
    // failover would go through (upstream does that too). The next
    // attempt is 2 x failover-timeout after the first.
    let a_side: Vec<&Node> = all.iter().filter(|s| s.host == ha).collect();
    let in_progress = |d: &Deployment| -> Result<bool, String> {
        let role = d.role(client, &ra);
        assert_eq!(
            role.as_deref(),
            Some("slave"),
            "redis-a must not be promoted by two sentinels of four"
        );
        let mut any = false;
        for s in &a_side {
            let m = d.sentinel_master(client, s)?;
            any |= m
                .iter()
                .any(|(k, v)| k == "flags" && v.contains("failover_in_progress"));
        }
        Ok(any)
    };
    let started = Duration::from_millis(DOWN_AFTER_MS) + Duration::from_secs(8);
    wait_for(
        "an A sentinel tries a failover",
        started,
        || match in_progress(&d)? {
            true => Ok(()),
            false => Err("no failover_in_progress flag".into()),
        },
    );
    d.log("an A sentinel tries to fail over");
    let election = Duration::from_millis(FAILOVER_TIMEOUT_MS.min(10_000)) + Duration::from_secs(5);
    wait_for("the attempt is aborted", election, || {
        match in_progress(&d)? {
            false => Ok(()),
            true => Err("failover_in_progress".into()),
        }
    });
    d.log("the attempt was aborted: not elected");
    for s in &a_side {
        let m = d.sentinel_master(client, s).unwrap();
        let get = |k: &str| m.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
        assert_eq!(get("ip").as_deref(), Some(rb.ip.as_str()), "{}", s.name);
        assert!(
            get("flags").is_some_and(|f| f.contains("s_down")),
            "{}: {m:?}",
            s.name
        );
        assert_eq!(get("config-epoch"), epoch_before, "{}", s.name);
    }
    let got = d.discover(client, &d.all_sentinel_addrs(), 0.1, Some(0.1));
    assert!(got.starts_with("ERR MasterNotFoundError"), "{got}");
    d.log("no failover without a majority; redis-py finds no master");

    d.lab.power_on(hb);
    d.log("machine B powered on");
    d.wait_sentinels(client, &all_refs, &shape, REJOIN_LIMIT);
    d.wait_replica_of(client, &ra, &rb, REJOIN_LIMIT);
    d.log("done");
}

#[test]
#[ignore = "self-check of the harness against the reference stack alone (slow); run with --ignored"]
fn seed000_power_off_reference() {
    seed000_power_off(Stack::Reference);
}

#[test]
fn seed000_power_off_ours() {
    seed000_power_off(Stack::Ours);
}

#[test]
fn seed000_power_off_mixed() {
    seed000_power_off(Stack::Mixed);
}

#[test]
#[ignore = "self-check of the harness against the reference stack alone (slow); run with --ignored"]
fn seed000_announced_reference() {
    seed000_announced(Stack::Reference);
}

#[test]
fn seed000_announced_ours() {
    seed000_announced(Stack::Ours);
}

#[test]
fn seed000_announced_mixed() {
    seed000_announced(Stack::Mixed);
}

// ---------------------------------------------------------------------
// Seed 001: two servers with passwords, a third monitoring machine.
// ---------------------------------------------------------------------

/// Hosts of seed 001's deployment.
struct Seed001 {
    d: Deployment,
    redis01: HostId,
    supervision: HostId,
    /// The application machine (the client), on the master's side of
    /// every partition.
    app: HostId,
}

/// Seed 001: redis01 (master) and redis02 (`slaveof redis01`), both with
/// `requirepass` and `masterauth` (the same password), `maxmemory
/// 512mb`, `save 60 1`, bound to every interface; a sentinel on each and
/// a third on the monitoring machine, quorum 2 of 3, with `auth-pass`.
/// `extra` lines go to both servers' configs.
fn seed001(stack: Stack, extra: &[&str]) -> Seed001 {
    let started = Instant::now();
    let mut lab = Lab::new();
    let ip1 = lab.addr(77, 1);
    let ip2 = lab.addr(77, 2);
    let ip3 = lab.addr(77, 3);
    let ipc = lab.addr(77, 100);
    let redis01 = lab.add_host("redis01", &[&format!("{ip1}/24")]);
    let redis02 = lab.add_host("redis02", &[&format!("{ip2}/24")]);
    let supervision = lab.add_host("supervision", &[&format!("{ip3}/24")]);
    let app = lab.add_host("app", &[&format!("{ipc}/24")]);
    let mut d = Deployment {
        lab,
        stack,
        master_name: "mymaster".into(),
        servers: Vec::new(),
        sentinels: Vec::new(),
        client: app,
        started,
    };
    let mut conf: Vec<String> = [
        "port 6379".to_string(),
        format!("requirepass \"{PASS}\""),
        format!("masterauth \"{PASS}\""),
        "maxmemory 512mb".into(),
        "save 60 1".into(),
    ]
    .into_iter()
    .chain(extra.iter().map(|s| s.to_string()))
    .collect();
    d.add_server(redis01, "redis01", &ip1, &conf, Some(PASS));
    conf.push(format!("slaveof {ip1} 6379"));
    d.add_server(redis02, "redis02", &ip2, &conf, Some(PASS));
    let (r1, r2) = (d.servers[0].clone(), d.servers[1].clone());
    d.wait_up(app, &r1);
    d.wait_up(app, &r2);
    d.wait_replica_of(app, &r2, &r1, STARTUP_LIMIT);
    for (i, (host, ip, name)) in [
        (redis01, &ip1, "sentinel-redis01"),
        (redis02, &ip2, "sentinel-redis02"),
        (supervision, &ip3, "sentinel-supervision"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut conf = vec!["port 26379".to_string()];
        conf.extend(sentinel_lines("mymaster", &ip1, 2));
        conf.push(format!("sentinel auth-pass mymaster \"{PASS}\""));
        d.add_sentinel(host, name, ip, &conf, i, 3);
    }
    let all: Vec<Node> = d.sentinels.clone();
    let refs: Vec<&Node> = all.iter().collect();
    let shape = d.expected_master0(&r1, 1, 3);
    d.wait_sentinels(app, &refs, &shape, STARTUP_LIMIT);
    d.log(&format!("seed 001 deployment up: master0:{shape}"));
    Seed001 {
        d,
        redis01,
        supervision,
        app,
    }
}

fn config_epoch(d: &Deployment, from: HostId, s: &Node) -> Result<(String, String), String> {
    let m = d.sentinel_master(from, s)?;
    let get = |k: &str| m.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    match (get("ip"), get("config-epoch")) {
        (Some(ip), Some(e)) => Ok((ip, e)),
        _ => Err(format!("{}: {m:?}", s.name)),
    }
}

/// Seed 001's split brain: redis01 (the master) and its sentinel are cut
/// off from the rest. The majority (two sentinels of three) promotes
/// redis02; the minority's sentinel cannot and does not; the old master
/// accepts a write meanwhile. Healed: redis01 is a replica of redis02
/// (its lone write gone), exactly one master, every sentinel on the same
/// address and epoch.
fn seed001_partition(stack: Stack) {
    let s = seed001(stack, &[]);
    let Seed001 {
        mut d,
        redis01,
        supervision,
        app,
    } = s;
    let (r1, r2) = (d.servers[0].clone(), d.servers[1].clone());
    let all: Vec<Node> = d.sentinels.clone();
    let out = d.cli(app, &r1, &["SET", "before", "partition"]).unwrap();
    assert_eq!(out.trim(), "OK");
    wait_for("redis02 has the key", STARTUP_LIMIT, || {
        match d.cli(app, &r2, &["GET", "before"]) {
            Ok(v) if v.trim() == "partition" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    d.lab.isolate(redis01);
    let cut = Instant::now();
    d.log("redis01 cut off");
    d.wait_master(supervision, &r2, FAILOVER_LIMIT);
    d.log(&format!(
        "redis02 promoted {:?} after the cut",
        cut.elapsed()
    ));
    let majority = [&all[1], &all[2]];
    let agreed = wait_for("the majority agrees on redis02", FAILOVER_LIMIT, || {
        let a = config_epoch(&d, supervision, majority[0])?;
        let b = config_epoch(&d, supervision, majority[1])?;
        if a.0 == r2.ip && a == b {
            Ok(a)
        } else {
            Err(format!("{a:?} vs {b:?}"))
        }
    });
    assert_ne!(agreed.1, "0", "a failover bumps the config epoch");
    // The minority, seen from inside: its sentinel still follows redis01
    // at epoch 0, and redis01 is still a master.
    let minority = config_epoch(&d, redis01, &all[0]).unwrap();
    assert_eq!(minority, (r1.ip.clone(), "0".to_string()));
    assert_eq!(d.role(redis01, &r1).as_deref(), Some("master"));
    let out = d.cli(redis01, &r1, &["SET", "lonely", "write"]).unwrap();
    assert_eq!(out.trim(), "OK", "no min-replicas: the old master accepts");
    d.log("minority: no failover, old master still writable");

    d.lab.heal();
    let healed = Instant::now();
    d.log("network healed");
    d.wait_replica_of(supervision, &r1, &r2, REJOIN_LIMIT);
    d.log(&format!(
        "redis01 replicates redis02 {:?} after the heal",
        healed.elapsed()
    ));
    let refs: Vec<&Node> = all.iter().collect();
    let shape = d.expected_master0(&r2, 1, 3);
    d.wait_sentinels(app, &refs, &shape, REJOIN_LIMIT);
    wait_for(
        "all sentinels agree on address and epoch",
        REJOIN_LIMIT,
        || {
            let seen: Vec<(String, String)> = all
                .iter()
                .map(|s| config_epoch(&d, app, s))
                .collect::<Result<_, _>>()?;
            if seen.iter().all(|x| *x == agreed) {
                Ok(())
            } else {
                Err(format!("{seen:?}, want {agreed:?}"))
            }
        },
    );
    let masters: Vec<&str> = [&r1, &r2]
        .iter()
        .filter(|n| d.role(app, n).as_deref() == Some("master"))
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(masters, ["redis02"], "exactly one master");
    for n in [&r1, &r2] {
        let v = d.cli(app, n, &["GET", "before"]).unwrap();
        assert_eq!(v.trim(), "partition", "{}", n.name);
        let v = d.cli(app, n, &["EXISTS", "lonely"]).unwrap();
        assert_eq!(
            v.trim(),
            "0",
            "{}: the minority's write is discarded",
            n.name
        );
    }
    d.log("done");
}

#[test]
#[ignore = "self-check of the harness against the reference stack alone (slow); run with --ignored"]
fn seed001_partition_reference() {
    seed001_partition(Stack::Reference);
}

#[test]
fn seed001_partition_ours() {
    seed001_partition(Stack::Ours);
}

#[test]
fn seed001_partition_mixed() {
    seed001_partition(Stack::Mixed);
}

// ---------------------------------------------------------------------
// Reliability figure: writes acknowledged, then lost, in a failover.
// ---------------------------------------------------------------------

/// What the writer logged.
#[derive(Debug, Default)]
struct WriterLog {
    /// (seq, time, server) of every acknowledged RPUSH.
    pushes: Vec<(u64, f64, String)>,
    /// Acknowledged INCRs.
    incrs: u64,
    /// (time, error) of every failed round.
    errors: Vec<(f64, String)>,
}

fn read_writer_log(path: &Path) -> WriterLog {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut log = WriterLog::default();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(5, ' ').collect();
        match f.as_slice() {
            ["A", seq, t, host] => {
                log.pushes
                    .push((seq.parse().unwrap(), t.parse().unwrap(), host.to_string()))
            }
            ["I", ..] => log.incrs += 1,
            ["E", _, t, rest @ ..] => log.errors.push((t.parse().unwrap(), rest.join(" "))),
            // The last line may be cut by the stop.
            _ => {}
        }
    }
    log
}

/// Seed 001 plus `min-replicas-to-write 1` and `min-replicas-max-lag 10`.
/// An application on its own machine writes continuously through
/// `Sentinel.master_for` (INCR, RPUSH of a sequence number). The master's
/// machine and the application's are cut off together from the rest: the
/// application keeps writing to the old master until it refuses
/// (NOREPLICAS, once its replica's last ack is 10 s old) while the
/// majority fails over; healed, the application follows the new master.
/// Lost = acknowledged RPUSHes missing from the final list: all of them
/// must have been acknowledged by the old master inside the lag window
/// after the cut.
fn reliability(stack: Stack) {
    let lag = 10.0;
    let s = seed001(
        stack,
        &["min-replicas-to-write 1", "min-replicas-max-lag 10"],
    );
    let Seed001 {
        mut d,
        redis01,
        supervision,
        app,
    } = s;
    let (r1, r2) = (d.servers[0].clone(), d.servers[1].clone());
    let all: Vec<Node> = d.sentinels.clone();
    let dir = d.lab.daemon_dir("writer");
    let out_path = dir.join("acks.txt");
    let stop_path = dir.join("stop");
    let sentinels: Vec<String> = d
        .all_sentinel_addrs()
        .iter()
        .map(|(ip, port)| format!("[\"{ip}\", {port}]"))
        .collect();
    let cfg = format!(
        "{{\"sentinels\": [{}], \"name\": \"mymaster\", \"password\": \"{PASS}\", \
         \"out\": \"{}\", \"stop\": \"{}\", \"limit\": 120}}",
        sentinels.join(", "),
        out_path.display(),
        stop_path.display()
    );
    let py = python();
    let writer = d.lab.spawn(app, "writer", &py, &["-c", WRITER_PY, &cfg]);
    wait_for("the writer is acknowledged", STARTUP_LIMIT, || {
        let log = read_writer_log(&out_path);
        let n = log.pushes.len();
        if n >= 500 {
            Ok(())
        } else {
            Err(format!("{n} acks; last error {:?}", log.errors.last()))
        }
    });

    d.lab.partition(&[redis01, app]);
    let t_cut = now_unix();
    d.log("redis01 and the application cut off from redis02 and supervision");
    d.wait_master(supervision, &r2, FAILOVER_LIMIT);
    d.log("redis02 promoted on the majority side");
    // Until the old master refuses writes (or long past the window).
    wait_for(
        "the old master refuses writes",
        Duration::from_secs(25),
        || {
            let log = read_writer_log(&out_path);
            match log
                .errors
                .iter()
                .find(|(t, e)| *t > t_cut && e.contains("NOREPLICAS"))
            {
                Some(_) => Ok(()),
                None => Err(format!("{} errors after the cut", log.errors.len())),
            }
        },
    );
    d.log("old master refuses writes (NOREPLICAS)");
    d.lab.heal();
    let t_heal = now_unix();
    d.log("network healed");
    d.wait_replica_of(supervision, &r1, &r2, REJOIN_LIMIT);
    d.log("redis01 replicates redis02");
    wait_for("the writer writes to redis02", REJOIN_LIMIT, || {
        let log = read_writer_log(&out_path);
        let n = log
            .pushes
            .iter()
            .filter(|(_, t, h)| *t > t_heal && *h == r2.ip)
            .count();
        if n >= 200 {
            Ok(())
        } else {
            Err(format!("{n} acks from redis02 since the heal"))
        }
    });
    std::fs::write(&stop_path, b"stop").unwrap();
    wait_for("the writer stops", Duration::from_secs(15), || {
        if d.lab.is_running(writer) {
            Err("running".into())
        } else {
            Ok(())
        }
    });
    let refs: Vec<&Node> = all.iter().collect();
    let shape = d.expected_master0(&r2, 1, 3);
    d.wait_sentinels(supervision, &refs, &shape, REJOIN_LIMIT);

    let log = read_writer_log(&out_path);
    let list = d
        .cli(supervision, &r2, &["LRANGE", "seq", "0", "-1"])
        .unwrap();
    let present: HashSet<u64> = list.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let counter: u64 = d
        .cli(supervision, &r2, &["GET", "counter"])
        .unwrap()
        .trim()
        .parse()
        .unwrap_or(0);
    let lost: Vec<&(u64, f64, String)> = log
        .pushes
        .iter()
        .filter(|(seq, _, _)| !present.contains(seq))
        .collect();
    let old_acks: Vec<f64> = log
        .pushes
        .iter()
        .filter(|(_, t, h)| *t > t_cut && *h == r1.ip)
        .map(|(_, t, _)| *t)
        .collect();
    let last_old = old_acks.iter().copied().fold(t_cut, f64::max);
    let first_new = log
        .pushes
        .iter()
        .filter(|(_, t, h)| *t > t_cut && *h == r2.ip)
        .map(|(_, t, _)| *t)
        .fold(f64::INFINITY, f64::min);
    let acked_in_window = log
        .pushes
        .iter()
        .filter(|(_, t, _)| *t >= t_cut - 1.0 && *t <= last_old)
        .count();
    let (first_lost, last_lost) = lost.iter().fold((f64::INFINITY, 0.0f64), |(a, b), x| {
        (a.min(x.1), b.max(x.1))
    });
    let figure = format!(
        "RELIABILITY stack={:?}: {} RPUSH acknowledged, {} lost ({:.2}%); lost writes \
         acknowledged from +{:.2}s to +{:.2}s after the cut; the old master took writes \
         for {:.2}s after the cut ({} acks) and refused them from then on; first write on \
         the new master +{:.2}s after the cut; INCR: {} acknowledged, final counter {} \
         ({} short); min-replicas-max-lag {lag}s",
        d.stack,
        log.pushes.len(),
        lost.len(),
        100.0 * lost.len() as f64 / log.pushes.len().max(1) as f64,
        first_lost - t_cut,
        last_lost - t_cut,
        last_old - t_cut,
        old_acks.len(),
        first_new - t_cut,
        log.incrs,
        counter,
        log.incrs.saturating_sub(counter),
    );
    println!("{figure}");
    d.log(&figure);

    // Every lost write was acknowledged by the old master, inside the lag
    // window after the cut (plus the second-granular lag and the cron
    // that refreshes the count of good replicas).
    for (seq, t, host) in &lost {
        assert_eq!(*host, r1.ip, "seq {seq} lost but acknowledged by {host}");
        assert!(
            *t >= t_cut - 1.0 && *t <= t_cut + lag + 3.0,
            "seq {seq} lost, acknowledged at +{:.2}s after the cut",
            t - t_cut
        );
    }
    assert!(
        last_old - t_cut <= lag + 3.0,
        "the old master took writes for {:.2}s after the cut",
        last_old - t_cut
    );
    assert!(lost.len() <= acked_in_window, "{figure}");
    // The window was really exercised: the old master took writes after
    // the cut, and those could not reach the replica.
    assert!(
        old_acks.iter().any(|t| *t > t_cut + 2.0),
        "no write reached the old master after the cut: {figure}"
    );
    let after_cut_lost = old_acks.iter().filter(|t| **t > t_cut + 0.5).count();
    assert!(
        lost.len() >= after_cut_lost,
        "writes acknowledged by the cut-off master survived: {figure}"
    );
    d.log("done");
}

#[test]
#[ignore = "self-check of the harness against the reference stack alone (slow); run with --ignored"]
fn reliability_min_replicas_reference() {
    reliability(Stack::Reference);
}

#[test]
fn reliability_min_replicas_ours() {
    reliability(Stack::Ours);
}

#[test]
fn reliability_min_replicas_mixed() {
    reliability(Stack::Mixed);
}

// ---------------------------------------------------------------------
// The lab itself.
// ---------------------------------------------------------------------

/// The harness: daemons run inside their host's namespace under their
/// own PID, a partition cuts traffic between hosts and healing restores
/// it, power-off kills, and dropping the lab leaves no namespace and no
/// process behind.
#[test]
fn lab_partitions_powers_off_and_cleans_up() {
    let mut lab = Lab::new();
    let (ia, ib) = (lab.addr(77, 1), lab.addr(77, 2));
    let ha = lab.add_host("a", &[&format!("{ia}/24")]);
    let hb = lab.add_host("b", &[&format!("{ib}/24")]);
    let dir = lab.daemon_dir("redis");
    let bin = require_tool(REFERENCE_SERVER, "apt-get install redis-server");
    let dir_s = dir.display().to_string();
    let server = lab.spawn(
        ha,
        "redis",
        &bin,
        &[
            "--port",
            "6379",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--dir",
            &dir_s,
            "--logfile",
            &format!("{dir_s}/redis.log"),
        ],
    );
    let pid = lab.pid(server).unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        std::fs::canonicalize(exe).unwrap(),
        std::fs::canonicalize(&bin).unwrap()
    );
    let own_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let its_ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(own_ns, its_ns, "the daemon runs in its host's namespace");
    let ping = |lab: &Lab| {
        let out = lab.exec(
            hb,
            Path::new(TIMEOUT),
            &["2", CLI, "-h", &ia, "-p", "6379", "PING"],
            Duration::from_secs(10),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    wait_for("PONG across the bridge", STARTUP_LIMIT, || {
        match ping(&lab) {
            p if p == "PONG" => Ok(()),
            other => Err(other),
        }
    });
    lab.isolate(ha);
    assert_eq!(ping(&lab), "", "a partition drops the traffic");
    lab.heal();
    assert_eq!(ping(&lab), "PONG", "healed");
    lab.power_off(ha);
    assert!(lab.pid(server).is_none());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
    lab.power_on(ha);
    let pid = lab.pid(server).unwrap();
    wait_for("PONG after power-on", STARTUP_LIMIT, || match ping(&lab) {
        p if p == "PONG" => Ok(()),
        other => Err(other),
    });
    let names = [lab.ns(ha).to_string(), lab.ns(hb).to_string()];
    drop(lab);
    let list = std::process::Command::new(redis_testkit::netns::IP)
        .args(["netns", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for n in &names {
        assert!(!list.contains(n.as_str()), "{n} left behind: {list}");
    }
    assert!(
        !Path::new(&format!("/proc/{pid}/exe")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z ")
        }
    );
}

/// Protected mode seen from another host: a server without `bind` and
/// without a password, and a sentinel told `protected-mode yes`, refuse a
/// remote client with exactly the reference's `-DENIED` text (7.0.15's
/// words, typo included) and close the connection. The client sends
/// nothing: the refusal comes at accept, and unread input would turn the
/// close into a reset that can swallow it.
#[test]
fn protected_mode_refusal_matches_the_reference() {
    let mut lab = Lab::new();
    let a_ip = lab.addr(1, 1);
    let a = lab.add_host("srv", &[&format!("{a_ip}/24")]);
    let b = lab.add_host("cli", &[&format!("{}/24", lab.addr(1, 2))]);
    let ours = redis_testkit::server::ours_binary("redis-server");
    let reference = ServerKind::Reference.server_binary();
    let sentinel_ours = redis_testkit::server::ours_binary("redis-sentinel");
    let mut ports = Vec::new();
    for (i, program) in [&ours, &reference].into_iter().enumerate() {
        let port = 7001 + i as u16;
        let d = lab.spawn(
            a,
            &format!("server{i}"),
            program,
            &["--port", &port.to_string(), "--save", ""],
        );
        let _ = d;
        ports.push(port);
    }
    for (i, (program, extra)) in [(&sentinel_ours, None), (&reference, Some("--sentinel"))]
        .into_iter()
        .enumerate()
    {
        let port = 27001 + i as u16;
        let dir = lab.daemon_dir(&format!("sentinel{i}-conf"));
        let conf = dir.join("sentinel.conf");
        std::fs::write(&conf, format!("port {port}\nprotected-mode yes\n")).unwrap();
        let conf = conf.display().to_string();
        let mut args = vec![conf.as_str()];
        args.extend(extra);
        let d = lab.spawn(a, &format!("sentinel{i}"), program, &args);
        let _ = d;
        ports.push(port);
    }
    // Every daemon answers locally first.
    for port in &ports {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let out = lab.exec(
                a,
                Path::new(CLI),
                &["-p", &port.to_string(), "PING"],
                Duration::from_secs(2),
            );
            if String::from_utf8_lossy(&out.stdout).contains("PONG") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "port {port} never answered\n{}",
                lab.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let probe = |port: u16| {
        let script = format!(
            "import socket\ns=socket.create_connection(('{a_ip}',{port}),timeout=3)\n\
             d=b''\nwhile True:\n    c=s.recv(4096)\n    if not c: break\n    d+=c\nprint(repr(d))"
        );
        let out = lab.exec(
            b,
            &crate::util::repo_root().join(".venv/bin/python"),
            &["-c", &script],
            Duration::from_secs(10),
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let server = (probe(ports[0]), probe(ports[1]));
    assert!(
        server
            .1
            .contains("-DENIED Redis is running in protected mode"),
        "{}",
        server.1
    );
    assert_eq!(server.0, server.1, "redis-server");
    let sentinel = (probe(ports[2]), probe(ports[3]));
    assert!(sentinel.1.contains("-DENIED"), "{}", sentinel.1);
    assert_eq!(sentinel.0, sentinel.1, "redis-sentinel");
}
