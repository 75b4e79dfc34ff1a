//! `SENTINEL FAILOVER` while the primary is healthy (a planned
//! switchover) loses no acknowledged write with our sentinel: it pauses
//! the primary's writes, waits for the chosen replica to catch up,
//! promotes it and demotes the old primary at once. Upstream promotes at
//! once and leaves the old primary accepting writes until it is
//! reconfigured about ten seconds later; those writes are then lost. The
//! same redis-py writer (through `Sentinel.master_for`, as applications
//! use it) runs against both stacks; ours must lose nothing, the
//! reference's figure is printed for comparison.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis_testkit::sentinel::{wait_listed, wait_role, Node, Sentinel, SentinelKind};
use redis_testkit::{ChildGuard, ServerKind};

use crate::util::repo_root;

/// Writes `RPUSH seq <i>` through `Sentinel.master_for` for `secs`
/// seconds, retrying on errors, then reads the list from whatever the
/// sentinel calls the master and prints `acked errors lost`.
const WRITER: &str = r#"
import sys, time
from redis.sentinel import Sentinel
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = Sentinel([('127.0.0.1', port)], socket_timeout=0.5)
acked, errors, i = [], 0, 0
t0 = time.time()
while time.time() - t0 < secs:
    i += 1
    try:
        s.master_for('m', socket_timeout=0.5).rpush('seq', i)
        acked.append(i)
    except Exception:
        errors += 1
        time.sleep(0.01)
time.sleep(2)
final = set(int(x) for x in s.master_for('m', socket_timeout=2).lrange('seq', 0, -1))
lost = sum(1 for a in acked if a not in final)
print(len(acked), errors, lost, flush=True)
"#;

/// One switchover under load; returns (acked, errors, lost).
fn switchover(servers: ServerKind, sentinel: SentinelKind) -> (u64, u64, u64) {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} missing: `cargo xtask test` creates it (redis-py 8.1.0)",
        python.display()
    );
    let master = Node::start(servers, "master", &[]);
    let mport = master.port().to_string();
    let replica = Node::start(servers, "replica", &["--replicaof", "127.0.0.1", &mport]);
    wait_role(&replica, Some(master.port()), Duration::from_secs(10));
    let s = Sentinel::start(
        sentinel,
        "s1",
        &format!("sentinel monitor m 127.0.0.1 {mport} 1\n"),
    );
    wait_listed(&s, "REPLICAS", "m", 1, Duration::from_secs(15));
    let writer = ChildGuard::spawn(
        Command::new(&python)
            .args(["-c", WRITER, &s.port().to_string(), "7"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_secs(2));
    let reply = s.query(&["SENTINEL", "FAILOVER", "m"]).unwrap();
    assert_eq!(reply, b"+OK\r\n", "{}", s.report());
    wait_role(&replica, None, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut child = writer;
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "writer did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    if let Some(o) = child.0.stdout.as_mut() {
        o.read_to_string(&mut out).unwrap();
    }
    if let Some(e) = child.0.stderr.as_mut() {
        e.read_to_string(&mut err).unwrap();
    }
    assert!(status.success(), "writer failed: {err}\n{}", s.report());
    let n: Vec<u64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(n.len(), 3, "writer output: {out}");
    (n[0], n[1], n[2])
}

#[test]
fn planned_switchover_loses_no_acknowledged_write() {
    let (acked, errors, lost) = switchover(ServerKind::Ours, SentinelKind::Ours);
    let (r_acked, r_errors, r_lost) = switchover(ServerKind::Reference, SentinelKind::Reference);
    println!(
        "switchover under load: ours acked {acked} errors {errors} lost {lost}; \
         reference acked {r_acked} errors {r_errors} lost {r_lost}"
    );
    assert!(acked > 100, "the writer made too little progress: {acked}");
    assert_eq!(lost, 0, "acknowledged writes lost in a planned switchover");
    // Our sentinel in front of Debian's servers does the same.
    let (m_acked, _, m_lost) = switchover(ServerKind::Reference, SentinelKind::Ours);
    assert!(
        m_acked > 100,
        "the writer made too little progress: {m_acked}"
    );
    assert_eq!(m_lost, 0, "lost writes with Debian's servers");
}

/// What redis-py's `Sentinel` API sees through our sentinel is what it
/// sees through Debian's: `discover_master`, `discover_slaves`,
/// `master_for` / `slave_for`, and the parsed `SENTINEL MASTERS`,
/// `SENTINELS` and `SLAVES` records (field names and types), with the
/// ports normalized.
#[test]
fn redis_py_sentinel_api_matches_the_reference() {
    const API: &str = r#"
import sys, json
from redis.sentinel import Sentinel
port, mport, rport = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = Sentinel([('127.0.0.1', port)], socket_timeout=1)
norm = lambda v: str(v).replace(mport, 'MPORT').replace(rport, 'RPORT')
out = []
out.append(norm(s.discover_master('m')))
out.append(norm(s.discover_slaves('m')))
out.append(s.master_for('m').set('k', 'v'))
out.append(s.slave_for('m').get('k') in (b'v', None))
c = s.sentinels[0]
m = c.sentinel_masters()['m']
out.append(sorted((k, type(v).__name__) for k, v in m.items()))
out.append(c.sentinel_sentinels('m'))
sl = c.sentinel_slaves('m')
out.append([sorted((k, type(v).__name__) for k, v in r.items()) for r in sl])
out.append(norm(c.sentinel_get_master_addr_by_name('m')))
try:
    c.sentinel_master('nosuch')
except Exception as e:
    out.append(type(e).__name__ + ': ' + str(e))
print(json.dumps([str(x) for x in out]))
"#;
    let python = repo_root().join(".venv/bin/python");
    let run = |servers: ServerKind, sentinel: SentinelKind| {
        let master = Node::start(servers, "master", &[]);
        let mport = master.port().to_string();
        let replica = Node::start(servers, "replica", &["--replicaof", "127.0.0.1", &mport]);
        wait_role(&replica, Some(master.port()), Duration::from_secs(10));
        let s = Sentinel::start(
            sentinel,
            "s1",
            &format!("sentinel monitor m 127.0.0.1 {mport} 1\n"),
        );
        wait_listed(&s, "REPLICAS", "m", 1, Duration::from_secs(15));
        let out = redis_testkit::run_bounded(
            Command::new(&python).args([
                "-c",
                API,
                &s.port().to_string(),
                &mport,
                &replica.port().to_string(),
            ]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ours = run(ServerKind::Ours, SentinelKind::Ours);
    let reference = run(ServerKind::Reference, SentinelKind::Reference);
    assert!(ours.contains("MPORT") && ours.contains("RPORT"), "{ours}");
    assert_eq!(ours, reference);
}
