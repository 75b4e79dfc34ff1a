//! Redis Cluster test helpers on loopback: cluster-enabled servers (ours
//! or the reference) with a free bus port given by `cluster-port`, and a
//! cluster built by hand with `CLUSTER ADDSLOTSRANGE`, `MEET` and
//! `REPLICATE` (the way `redis-cli --cluster create` does it), waiting for
//! every node to agree.

use std::time::{Duration, Instant};

use crate::resp::escape;
use crate::server::{free_port, ServerKind, TestServer};

/// The node timeout of test clusters (ms).
pub const NODE_TIMEOUT: u64 = 2000;

/// A cluster-enabled server: `nodes.conf` in its directory, the bus on a
/// free port, `cluster-node-timeout` [`NODE_TIMEOUT`].
pub fn start_node(kind: ServerKind, extra: &[&str]) -> TestServer {
    let cport = free_port().to_string();
    let timeout = NODE_TIMEOUT.to_string();
    let mut args = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        &timeout,
        "--cluster-port",
        &cport,
    ];
    args.extend_from_slice(extra);
    TestServer::start(kind, &args)
}

/// Text of a bulk (or verbatim) reply, `-ERR ...` for errors.
pub fn text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply).into_owned();
    if let Some(rest) = s.strip_prefix('$') {
        let body = rest.split_once("\r\n").map_or("", |(_, b)| b);
        return body.strip_suffix("\r\n").unwrap_or(body).to_owned();
    }
    if let Some(rest) = s.strip_prefix('=') {
        let body = rest.split_once("\r\n").map_or("", |(_, b)| b);
        let body = body.strip_suffix("\r\n").unwrap_or(body);
        return body.get(4..).unwrap_or("").to_owned();
    }
    s.trim_end().to_owned()
}

/// Runs a command on `node` and returns its reply as text ([`text`]).
pub fn cmd(node: &TestServer, args: &[&str]) -> String {
    let mut c = node.conn();
    text(&c.cmd(args))
}

/// A field of `CLUSTER INFO`.
pub fn info_field(node: &TestServer, field: &str) -> String {
    let info = cmd(node, &["CLUSTER", "INFO"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The node's id.
pub fn myid(node: &TestServer) -> String {
    cmd(node, &["CLUSTER", "MYID"])
}

/// Polls `cond` every 50 ms until it holds, at most `limit`; panics with
/// `what` after that.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The slot ranges of `n` masters, split evenly as `redis-cli --cluster
/// create` does (each range ends at the rounded running total).
pub fn slot_ranges(n: usize) -> Vec<(u16, u16)> {
    let per = 16384.0 / n as f64;
    let mut out = Vec::new();
    let mut first = 0u16;
    let mut cursor = 0.0f64;
    for i in 0..n {
        let last = if i + 1 == n {
            16383
        } else {
            ((cursor + per - 1.0).round() as u16).min(16383)
        };
        out.push((first, last));
        first = last.saturating_add(1);
        cursor += per;
    }
    out
}

/// Makes a cluster of `masters` (slots split evenly) and `replicas`
/// (`replicas[i]` replicates `masters[i % masters.len()]`), and waits
/// until every node reports `cluster_state:ok` and knows every other.
pub fn create(masters: &[&TestServer], replicas: &[&TestServer]) {
    let ranges = slot_ranges(masters.len());
    for (m, (a, b)) in masters.iter().zip(&ranges) {
        let r = cmd(
            m,
            &["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()],
        );
        assert_eq!(r, "+OK", "ADDSLOTSRANGE on {}", m.port());
    }
    for (i, m) in masters.iter().enumerate() {
        let epoch = (i + 1).to_string();
        let _ = cmd(m, &["CLUSTER", "SET-CONFIG-EPOCH", &epoch]);
    }
    let all: Vec<&TestServer> = masters.iter().chain(replicas.iter()).copied().collect();
    let first = all[0];
    for n in &all[1..] {
        let cport = bus_port(n);
        let r = cmd(
            first,
            &[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &n.port().to_string(),
                &cport,
            ],
        );
        assert_eq!(r, "+OK", "MEET {}", n.port());
    }
    let total = all.len().to_string();
    wait_for(
        Duration::from_secs(20),
        "every node to know every other",
        || {
            all.iter()
                .all(|n| info_field(n, "cluster_known_nodes") == total)
        },
    );
    for (i, r) in replicas.iter().enumerate() {
        let master = masters[i % masters.len()];
        let id = myid(master);
        wait_for(
            Duration::from_secs(10),
            "the replica to accept REPLICATE",
            || cmd(r, &["CLUSTER", "REPLICATE", &id]) == "+OK",
        );
    }
    wait_for(
        Duration::from_secs(30),
        "cluster_state:ok everywhere",
        || all.iter().all(|n| info_field(n, "cluster_state") == "ok"),
    );
}

/// The bus port a test node was given (`CONFIG GET cluster-port`).
pub fn bus_port(node: &TestServer) -> String {
    let mut c = node.conn();
    let r = c.cmd(&["CONFIG", "GET", "cluster-port"]);
    // *2 $12 cluster-port $N value
    let s = String::from_utf8_lossy(&r).into_owned();
    s.split("\r\n")
        .filter(|l| !l.is_empty())
        .last()
        .unwrap_or_else(|| panic!("CONFIG GET cluster-port: {}", escape(&r)))
        .to_owned()
}
