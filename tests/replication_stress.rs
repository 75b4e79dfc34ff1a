//! Randomized replication stress: replicas join, lose their link, restart
//! from their own RDB and leave at random moments while clients write a
//! mixed load (every data type, expiries, transactions, blocking pops,
//! several databases) to the primary; after every round the load stops and
//! each replica's `DEBUG DIGEST` must equal the primary's once it has
//! caught up. Replicas are ours and the reference's, with every
//! `repl-diskless-load` mode; the primary is ours, and in a second test the
//! reference's with our replicas.
//!
//! The short form runs in CI; `cargo xtask stress [SECS] [--seed N]` runs
//! it for minutes (`REDIS_STRESS_SECS`, `REDIS_STRESS_SEED`). A failure
//! prints the seed and the round's events, so it can be replayed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

/// splitmix64: small, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seed() -> u64 {
    env_u64("REDIS_STRESS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

/// How long each test runs: a few seconds in CI unless told otherwise.
fn duration() -> Duration {
    Duration::from_secs(env_u64("REDIS_STRESS_SECS").unwrap_or(8))
}

/// One random write (or a short transaction) against the primary. Replies
/// are read and ignored: errors such as `WRONGTYPE` are part of the load.
fn random_op(c: &mut Conn, rng: &mut Rng) {
    let k = |rng: &mut Rng, prefix: &str| format!("{prefix}{}", rng.below(40));
    let n = |rng: &mut Rng| rng.below(1000).to_string();
    if rng.chance(3) {
        let db = rng.below(4).to_string();
        c.cmd(&["SELECT", &db]);
        return;
    }
    if rng.chance(6) {
        c.cmd(&["MULTI"]);
        for _ in 0..1 + rng.below(4) {
            simple_op(c, rng, &k, &n);
        }
        c.cmd(&["EXEC"]);
        return;
    }
    simple_op(c, rng, &k, &n);
}

fn simple_op(
    c: &mut Conn,
    rng: &mut Rng,
    k: &dyn Fn(&mut Rng, &str) -> String,
    n: &dyn Fn(&mut Rng) -> String,
) {
    let (s, l, h, z, x, q) = (
        k(rng, "s"),
        k(rng, "l"),
        k(rng, "h"),
        k(rng, "z"),
        k(rng, "x"),
        k(rng, "t"),
    );
    let v = n(rng);
    let ttl = (1 + rng.below(400)).to_string();
    let q2 = format!("q{}", rng.below(2));
    let argv: Vec<&str> = match rng.below(30) {
        0 => vec!["SET", &s, &v],
        1 => vec!["SET", &s, &v, "PX", &ttl],
        2 => vec!["INCR", &s],
        3 => vec!["APPEND", &s, &v],
        4 => vec!["DEL", &s, &l],
        5 => vec!["LPUSH", &l, &v, &v],
        6 => vec!["RPOP", &l],
        7 => vec!["LMOVE", &l, &q, "LEFT", "RIGHT"],
        8 => vec!["SADD", &q, &v],
        9 => vec!["SREM", &q, &v],
        10 => vec!["SPOP", &q],
        11 => vec!["ZADD", &z, &v, &v],
        12 => vec!["ZINCRBY", &z, "1.5", &v],
        13 => vec!["ZPOPMIN", &z],
        14 => vec!["HSET", &h, &v, &v],
        15 => vec!["HINCRBY", &h, "f", "3"],
        16 => vec!["HDEL", &h, &v],
        17 => vec!["XADD", &x, "MAXLEN", "~", "50", "*", "f", &v],
        18 => vec!["PEXPIRE", &s, &ttl],
        19 => vec!["EXPIRE", &l, "1"],
        20 => vec!["PERSIST", &s],
        21 => vec!["RENAME", &s, &h],
        22 => vec!["COPY", &z, &q, "REPLACE"],
        23 => vec!["GETEX", &s, "PX", &ttl],
        24 => vec!["SETRANGE", &s, "3", &v],
        25 => vec!["SINTERSTORE", &q, &q, &s],
        26 => vec!["LPUSH", &q2, &v],
        27 => vec!["INCRBYFLOAT", &s, "0.1"],
        28 => vec!["GETDEL", &s],
        _ => vec!["SWAPDB", "2", "3"],
    };
    c.cmd(&argv);
}

/// A replica of the stress run: its kind, load mode and directory (kept
/// across restarts), and the running server when it runs.
struct Replica {
    kind: ServerKind,
    /// Kept for restarts (removed when the replica goes).
    _dir: TempDir,
    args: Vec<String>,
    server: Option<TestServer>,
}

impl Replica {
    fn new(kind: ServerKind, primary_port: u16, load: &str) -> Replica {
        let dir = TempDir::new();
        let args = vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary_port.to_string(),
            "--repl-diskless-load".into(),
            load.into(),
            "--enable-debug-command".into(),
            "yes".into(),
            "--dir".into(),
            dir.path_str().into(),
        ];
        let mut r = Replica {
            kind,
            _dir: dir,
            args,
            server: None,
        };
        r.start();
        r
    }

    fn start(&mut self) {
        let a: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.server = Some(TestServer::start(self.kind, &a));
    }

    fn conn(&self) -> Option<Conn> {
        self.server.as_ref().map(TestServer::conn)
    }
}

/// Waits until `replica` is linked and at the primary's offset; the load
/// is stopped, so that offset no longer moves except by pings.
fn caught_up(p: &mut Conn, r: &mut Conn, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = r.info_field("replication", "master_link_status");
        let po = p.info_field("replication", "master_repl_offset");
        let ro = r.info_field("replication", "master_repl_offset");
        if up.as_deref() == Some("up") && po.is_some() && po == ro {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not caught up in 60 s (link {up:?}, primary {po:?}, replica {ro:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn digest(c: &mut Conn) -> Vec<u8> {
    c.cmd(&["DEBUG", "DIGEST"])
}

/// What differs between two servers' datasets, for a failure message:
/// per-database sizes and the first keys whose value digest or TTL
/// differs.
fn differences(p: &mut Conn, r: &mut Conn) -> String {
    let mut out = String::new();
    for db in 0..4 {
        let d = db.to_string();
        p.cmd(&["SELECT", &d]);
        r.cmd(&["SELECT", &d]);
        let (ps, rs) = (p.cmd(&["DBSIZE"]), r.cmd(&["DBSIZE"]));
        out.push_str(&format!(
            "db {db}: primary {} keys, replica {} keys\n",
            String::from_utf8_lossy(&ps).trim(),
            String::from_utf8_lossy(&rs).trim()
        ));
        let keys = p.cmd(&["KEYS", "*"]);
        let rkeys = r.cmd(&["KEYS", "*"]);
        let names = |raw: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(raw)
                .split("\r\n")
                .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
                .map(str::to_string)
                .collect()
        };
        let mut all = names(&keys);
        all.extend(names(&rkeys));
        all.sort();
        all.dedup();
        let mut shown = 0;
        for k in all {
            let pv = p.cmd(&["DEBUG", "DIGEST-VALUE", &k]);
            let rv = r.cmd(&["DEBUG", "DIGEST-VALUE", &k]);
            let pt = p.cmd(&["PEXPIRETIME", &k]);
            let rt = r.cmd(&["PEXPIRETIME", &k]);
            if (pv != rv || pt != rt) && shown < 8 {
                shown += 1;
                out.push_str(&format!(
                    "  {k}: type {}/{} pexpiretime {}/{}\n",
                    String::from_utf8_lossy(&p.cmd(&["TYPE", &k])).trim(),
                    String::from_utf8_lossy(&r.cmd(&["TYPE", &k])).trim(),
                    String::from_utf8_lossy(&pt).trim(),
                    String::from_utf8_lossy(&rt).trim()
                ));
            }
        }
    }
    p.cmd(&["SELECT", "0"]);
    out
}

/// One random event on the replica set, logged into `events`.
fn random_event(
    rng: &mut Rng,
    replicas: &mut Vec<Replica>,
    p: &mut Conn,
    primary_port: u16,
    kinds: &[ServerKind],
    events: &mut Vec<String>,
) {
    let loads = ["disabled", "swapdb", "on-empty-db"];
    let pick = rng.below(replicas.len() as u64) as usize;
    match rng.below(7) {
        0 | 1 if replicas.len() < 4 => {
            let kind = kinds[rng.below(kinds.len() as u64) as usize];
            let load = rng.pick(&loads);
            events.push(format!("join {kind:?} replica ({load})"));
            replicas.push(Replica::new(kind, primary_port, load));
        }
        2 => {
            events.push(format!("replica {pick}: CLIENT KILL TYPE master"));
            if let Some(mut c) = replicas.get(pick).and_then(Replica::conn) {
                c.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
            }
        }
        3 => {
            events.push("primary: CLIENT KILL TYPE replica".into());
            p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
        }
        4 if !replicas.is_empty() => {
            events.push(format!("replica {pick}: SAVE, kill -9, restart"));
            let r = &mut replicas[pick];
            if let Some(mut c) = r.conn() {
                c.cmd(&["SAVE"]);
            }
            if let Some(s) = r.server.take() {
                s.signal("-KILL");
                drop(s);
            }
            r.start();
        }
        5 if replicas.len() > 1 => {
            events.push(format!("replica {pick} leaves"));
            replicas.remove(pick);
        }
        _ => {
            let size = rng.pick(&["16384", "1048576"]);
            let diskless = rng.pick(&["yes", "no"]);
            events.push(format!(
                "primary: repl-backlog-size {size}, repl-diskless-sync {diskless}"
            ));
            p.cmd(&["CONFIG", "SET", "repl-backlog-size", size]);
            p.cmd(&["CONFIG", "SET", "repl-diskless-sync", diskless]);
        }
    }
}

/// Runs rounds of load and events until `duration()` is spent, checking
/// every replica's digest after each round.
fn stress(primary_kind: ServerKind, replica_kinds: &[ServerKind]) {
    let seed = seed();
    let mut rng = Rng(seed);
    eprintln!("replication stress: seed {seed} (REDIS_STRESS_SEED to replay)");
    let primary = TestServer::start(
        primary_kind,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut p = primary.conn();
    let mut replicas = vec![Replica::new(replica_kinds[0], primary.port(), "disabled")];
    let end = Instant::now() + duration();
    let mut round = 0;
    while Instant::now() < end {
        round += 1;
        let mut events = Vec::new();
        let round_ms = 300 + rng.below(1200);
        let stop = AtomicBool::new(false);
        let writer_seeds = [rng.next(), rng.next()];
        std::thread::scope(|scope| {
            for ws in writer_seeds {
                let stop = &stop;
                let primary = &primary;
                scope.spawn(move || {
                    let mut c = primary.conn();
                    let mut wr = Rng(ws);
                    while !stop.load(Ordering::Relaxed) {
                        random_op(&mut c, &mut wr);
                    }
                });
            }
            // A client blocked on the lists the writers push to: its pops
            // are served by the blocked-client retry path.
            let stop = &stop;
            let primary = &primary;
            scope.spawn(move || {
                let mut c = primary.conn();
                while !stop.load(Ordering::Relaxed) {
                    c.cmd(&["BLPOP", "q0", "q1", "0.05"]);
                }
            });
            std::thread::sleep(Duration::from_millis(rng.below(round_ms)));
            random_event(
                &mut rng,
                &mut replicas,
                &mut p,
                primary.port(),
                replica_kinds,
                &mut events,
            );
            std::thread::sleep(Duration::from_millis(rng.below(round_ms)));
            stop.store(true, Ordering::Relaxed);
        });
        // Freeze the primary's dataset: no active expiry while comparing.
        p.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        let want = digest(&mut p);
        for (i, r) in replicas.iter().enumerate() {
            let what = format!(
                "seed {seed}, round {round}, replica {i} ({:?}), events {events:?}",
                r.kind
            );
            let Some(mut c) = r.conn() else { continue };
            caught_up(&mut p, &mut c, &what);
            let got = digest(&mut c);
            if got != want {
                panic!("digest differs: {what}\n{}", differences(&mut p, &mut c));
            }
        }
        p.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    }
    eprintln!("replication stress: {round} rounds, seed {seed}");
}

#[test]
fn replicas_joining_under_load_match_our_primary() {
    stress(ServerKind::Ours, &[ServerKind::Ours, ServerKind::Reference]);
}

#[test]
fn our_replicas_joining_under_load_match_the_reference_primary() {
    stress(ServerKind::Reference, &[ServerKind::Ours]);
}
