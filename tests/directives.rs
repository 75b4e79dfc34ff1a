//! Directives that used to be accepted without effect, checked on real
//! processes and, where the behaviour is observable, against the
//! reference: FLUSHALL's save with save points (surviving `kill -9`),
//! lazy freeing and its INFO counters, the latency monitor, `dynamic-hz`,
//! client eviction (`maxmemory-clients`, `CLIENT NO-EVICT`),
//! `replica-ignore-maxmemory`, `rdb-del-sync-files`,
//! `propagation-error-behavior`, `oom-score-adj`, `jemalloc-bg-thread`,
//! `latency-tracking`, `aof_current_rewrite_time_sec` and the startup
//! warning for directives that stay inactive.

use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

const BOTH: [ServerKind; 2] = [ServerKind::Ours, ServerKind::Reference];
const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = DEBUG.to_vec();
    v.extend_from_slice(extra);
    v
}

fn info(c: &mut Conn, section: &str) -> String {
    String::from_utf8_lossy(&c.cmd(&["INFO", section])).into_owned()
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

fn num(c: &mut Conn, section: &str, name: &str) -> i64 {
    let text = info(c, section);
    field(&text, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}:\n{text}"))
}

/// Polls `f` every 20 ms until it holds, for at most `secs` seconds.
fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn flushall_with_save_points_saves_at_once_and_survives_kill_9() {
    for kind in BOTH {
        let dir = TempDir::new();
        let d = dir.to_string_lossy().into_owned();
        {
            let mut s = TestServer::start(kind, &args(&["--save", "900 1", "--dir", &d]));
            let mut c = s.conn();
            assert_eq!(c.cmd(&["DEBUG", "POPULATE", "500"]), b"+OK\r\n");
            assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
            assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
            assert_eq!(num(&mut c, "persistence", "rdb_changes_since_last_save"), 0);
            let log = s.log_contents();
            assert_eq!(
                log.matches("DB saved on disk").count(),
                2,
                "{kind:?}: {log}"
            );
            assert!(s.signal("-9"));
            assert!(s.wait_exit(Duration::from_secs(10)).is_some());
        }
        let s = TestServer::start(kind, &args(&["--save", "900 1", "--dir", &d]));
        let mut c = s.conn();
        assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n", "{kind:?}");
        drop(c);
        drop(s);
    }
}

#[test]
fn lazy_freeing_is_counted_as_by_the_reference() {
    let mut seen = Vec::new();
    for kind in BOTH {
        let s = TestServer::start(kind, &args(&["--lazyfree-lazy-user-del", "yes"]));
        let mut c = s.conn();
        let mut counts = Vec::new();
        let fill = |c: &mut Conn, key: &str, n: usize| {
            let mut a: Vec<String> = vec!["SADD".into(), key.into()];
            a.extend((0..n).map(|i| format!("member:{i}")));
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            c.cmd(&refs);
        };
        let freed = |c: &mut Conn| {
            wait_until(10, "lazyfree_pending_objects:0", || {
                num(c, "memory", "lazyfree_pending_objects") == 0
            });
            num(c, "memory", "lazyfreed_objects")
        };
        fill(&mut c, "big", 500);
        fill(&mut c, "small", 10);
        assert_eq!(c.cmd(&["UNLINK", "big", "small"]), b":2\r\n");
        counts.push(freed(&mut c));
        fill(&mut c, "big", 500);
        assert_eq!(c.cmd(&["DEL", "big"]), b":1\r\n");
        counts.push(freed(&mut c));
        assert_eq!(c.cmd(&["DEBUG", "POPULATE", "1000"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["FLUSHALL", "ASYNC"]), b"+OK\r\n");
        counts.push(freed(&mut c));
        assert_eq!(c.cmd(&["DEBUG", "POPULATE", "100"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["FLUSHDB", "SYNC"]), b"+OK\r\n");
        counts.push(freed(&mut c));
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["DEBUG", "POPULATE", "100"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["FLUSHDB"]), b"+OK\r\n");
        counts.push(freed(&mut c));
        assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
        counts.push(freed(&mut c));
        seen.push(counts);
    }
    assert_eq!(seen[0], vec![1, 2, 1002, 1002, 1102, 0]);
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn latency_monitor_records_slow_commands() {
    for kind in BOTH {
        let s = TestServer::start(kind, &args(&["--latency-monitor-threshold", "5"]));
        let mut c = s.conn();
        assert_eq!(c.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
        assert_eq!(
            c.cmd(&["LATENCY", "GRAPH", "command"]),
            b"-ERR No samples available for event 'command'\r\n"
        );
        assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.02"]), b"+OK\r\n");
        let latest = String::from_utf8_lossy(&c.cmd(&["LATENCY", "LATEST"])).into_owned();
        let lines: Vec<&str> = latest.split("\r\n").collect();
        assert_eq!(&lines[..3], &["*1", "*4", "$7"], "{kind:?}: {latest}");
        assert_eq!(lines[3], "command");
        let ms: i64 = lines[5].trim_start_matches(':').parse().unwrap();
        assert!(ms >= 20, "{kind:?}: {latest}");
        let history =
            String::from_utf8_lossy(&c.cmd(&["LATENCY", "HISTORY", "command"])).into_owned();
        assert!(history.starts_with("*1\r\n*2\r\n:"), "{kind:?}: {history}");
        let graph = String::from_utf8_lossy(&c.cmd(&["LATENCY", "GRAPH", "command"])).into_owned();
        assert!(graph.contains("command - high "), "{kind:?}: {graph}");
        assert!(graph.contains(&"-".repeat(80)), "{kind:?}: {graph}");
        let doctor = String::from_utf8_lossy(&c.cmd(&["LATENCY", "DOCTOR"])).into_owned();
        assert!(
            doctor.contains("1. command: 1 latency spikes"),
            "{kind:?}: {doctor}"
        );
        assert_eq!(c.cmd(&["LATENCY", "RESET", "nosuch"]), b":0\r\n");
        assert_eq!(c.cmd(&["LATENCY", "RESET"]), b":1\r\n");
        assert_eq!(c.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
        // Below the threshold nothing is recorded; 0 turns the monitor off.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "0"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.02"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
        let hist = String::from_utf8_lossy(&c.cmd(&["LATENCY", "HISTOGRAM", "debug"])).into_owned();
        assert!(
            hist.starts_with(
                "*2\r\n$5\r\ndebug\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n"
            ),
            "{kind:?}: {hist}"
        );
    }
}

#[test]
fn latency_tracking_and_its_percentiles() {
    for kind in BOTH {
        let s = TestServer::start(kind, &["--latency-tracking-info-percentiles", "50 99.99"]);
        let mut c = s.conn();
        c.cmd(&["SET", "a", "1"]);
        let text = info(&mut c, "latencystats");
        let line = text
            .lines()
            .find(|l| l.starts_with("latency_percentiles_usec_set:"))
            .unwrap_or_else(|| panic!("{kind:?}: {text}"));
        let names: Vec<&str> = line
            .split_once(':')
            .map(|(_, v)| v.split(',').filter_map(|p| p.split('=').next()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec!["p50", "p99.99"], "{kind:?}");
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "latency-tracking", "no"]),
            b"+OK\r\n"
        );
        c.cmd(&["CONFIG", "RESETSTAT"]);
        c.cmd(&["SET", "a", "1"]);
        let text = info(&mut c, "latencystats");
        assert!(text.contains("# Latencystats"), "{kind:?}: {text}");
        assert!(
            !text.contains("latency_percentiles_usec_"),
            "{kind:?}: {text}"
        );
    }
}

#[test]
fn dynamic_hz_raises_the_cron_frequency_with_many_clients() {
    for kind in BOTH {
        for dynamic in ["yes", "no"] {
            let s = TestServer::start(kind, &["--hz", "1", "--dynamic-hz", dynamic]);
            let mut c = s.conn();
            let idle: Vec<Conn> = (0..250).map(|_| s.conn()).collect();
            wait_until(10, "250 clients", || {
                num(&mut c, "clients", "connected_clients") >= 251
            });
            if dynamic == "yes" {
                wait_until(10, "hz above 1", || num(&mut c, "server", "hz") >= 2);
            } else {
                // Two cron periods at 1 Hz.
                std::thread::sleep(Duration::from_millis(2100));
                assert_eq!(num(&mut c, "server", "hz"), 1, "{kind:?}");
            }
            assert_eq!(num(&mut c, "server", "configured_hz"), 1, "{kind:?}");
            drop(idle);
        }
    }
}

/// Owes `conn` a lot of output: many GETs of a big value, unread.
fn flood_replies(conn: &mut Conn, n: usize) {
    let mut batch = Vec::new();
    for _ in 0..n {
        batch.extend(redis_testkit::conn::encode_request(&["GET", "big"]));
    }
    conn.send_raw(&batch);
}

#[test]
fn client_eviction_closes_the_client_that_owes_too_much() {
    for kind in BOTH {
        let s = TestServer::start(kind, &["--maxmemory-clients", "5mb"]);
        let mut c = s.conn();
        assert_eq!(c.cmd(&["CLIENT", "NO-EVICT", "on"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", "big", &"x".repeat(1 << 20)]), b"+OK\r\n");
        // Exempt: keeps its connection whatever it is owed.
        let mut exempt = s.conn();
        assert_eq!(exempt.cmd(&["CLIENT", "NO-EVICT", "on"]), b"+OK\r\n");
        flood_replies(&mut exempt, 40);
        wait_until(20, "a big output buffer", || {
            let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST"])).into_owned();
            list.lines().any(|l| {
                l.split(' ')
                    .find_map(|f| f.strip_prefix("omem="))
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|m| m > 6 << 20)
            })
        });
        c.cmd(&["PING"]);
        assert_eq!(num(&mut c, "stats", "evicted_clients"), 0, "{kind:?}");
        assert!(!exempt.is_closed(), "{kind:?}");
        drop(exempt);
        wait_until(10, "the exempt client gone", || {
            num(&mut c, "clients", "connected_clients") == 1
        });
        // An ordinary client is closed once it is owed too much.
        let mut victim = s.conn();
        flood_replies(&mut victim, 40);
        wait_until(20, "a client eviction", || {
            num(&mut c, "stats", "evicted_clients") == 1
        });
        // Whatever was written before the eviction, then the end.
        assert!(victim.read_until_close().is_ok(), "{kind:?}");
        assert_eq!(num(&mut c, "clients", "connected_clients"), 1, "{kind:?}");
    }
}

#[test]
fn a_replica_leaves_eviction_to_its_primary_unless_told_otherwise() {
    for (ignore, kind) in [
        ("yes", ServerKind::Ours),
        ("yes", ServerKind::Reference),
        ("no", ServerKind::Ours),
    ] {
        let primary = TestServer::start(ServerKind::Ours, &["--repl-diskless-sync-delay", "0"]);
        let port = primary.port().to_string();
        let replica = TestServer::start(
            kind,
            &[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--maxmemory-policy",
                "allkeys-random",
                "--replica-ignore-maxmemory",
                ignore,
            ],
        );
        let mut p = primary.conn();
        let mut r = replica.conn();
        wait_until(20, "the link up", || {
            field(&info(&mut r, "replication"), "master_link_status").as_deref() == Some("up")
        });
        // Room for about a quarter of what the primary will write.
        let limit = (num(&mut r, "memory", "used_memory") + (1 << 20)).to_string();
        assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", &limit]), b"+OK\r\n");
        let value = "v".repeat(1000);
        for chunk in 0..20 {
            let mut a: Vec<String> = vec!["MSET".into()];
            for i in 0..200 {
                a.push(format!("k:{chunk}:{i}"));
                a.push(value.clone());
            }
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            assert_eq!(p.cmd(&refs), b"+OK\r\n");
        }
        wait_until(20, "the replica caught up", || {
            let po = field(&info(&mut p, "replication"), "master_repl_offset");
            let ro = field(&info(&mut r, "replication"), "master_repl_offset");
            po.is_some() && po == ro
        });
        let evicted = num(&mut r, "stats", "evicted_keys");
        let keys = String::from_utf8_lossy(&r.cmd(&["DBSIZE"])).into_owned();
        if ignore == "yes" {
            assert_eq!(evicted, 0, "{kind:?}");
            assert_eq!(keys, ":4000\r\n", "{kind:?}");
        } else {
            assert!(evicted > 0, "{kind:?}");
            assert_ne!(keys, ":4000\r\n", "{kind:?}");
        }
    }
}

#[test]
fn rdb_del_sync_files_removes_the_replicas_copy_of_the_sync() {
    for kind in BOTH {
        for del in ["yes", "no"] {
            let primary = TestServer::start(ServerKind::Ours, &["--repl-diskless-sync-delay", "0"]);
            primary.conn().cmd(&["SET", "k", "v"]);
            let port = primary.port().to_string();
            let replica = TestServer::start(
                kind,
                &[
                    "--replicaof",
                    "127.0.0.1",
                    &port,
                    "--repl-diskless-load",
                    "disabled",
                    "--rdb-del-sync-files",
                    del,
                ],
            );
            let mut r = replica.conn();
            wait_until(20, "the link up", || {
                field(&info(&mut r, "replication"), "master_link_status").as_deref() == Some("up")
            });
            assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
            let kept = replica.dir().join("dump.rdb").exists();
            assert_eq!(kept, del == "no", "{kind:?} rdb-del-sync-files {del}");
        }
    }
}

#[test]
fn propagation_error_behavior_decides_whether_a_replica_goes_on() {
    for (kind, behavior) in [
        (ServerKind::Ours, "ignore"),
        (ServerKind::Reference, "ignore"),
        // A writable replica is expected to diverge: upstream never stops
        // it, whatever the behavior (only read-only replicas and AOF
        // loading panic), so both servers go on here.
        (ServerKind::Ours, "panic-on-replicas"),
        (ServerKind::Reference, "panic-on-replicas"),
        (ServerKind::Ours, "panic"),
    ] {
        let primary = TestServer::start(ServerKind::Ours, &["--repl-diskless-sync-delay", "0"]);
        let port = primary.port().to_string();
        let replica = TestServer::start(
            kind,
            &[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--replica-read-only",
                "no",
                "--propagation-error-behavior",
                behavior,
            ],
        );
        let mut r = replica.conn();
        wait_until(20, "the link up", || {
            field(&info(&mut r, "replication"), "master_link_status").as_deref() == Some("up")
        });
        assert_eq!(r.cmd(&["RPUSH", "k", "local"]), b":1\r\n");
        let mut p = primary.conn();
        assert_eq!(p.cmd(&["INCR", "k"]), b":1\r\n");
        wait_until(20, "the critical log line", || {
            replica
                .log_contents()
                .contains("== CRITICAL == This replica is sending an error to its master")
        });
        assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n", "{kind:?} {behavior}");
        assert!(
            !replica.log_contents().contains("Guru Meditation"),
            "{kind:?} {behavior}"
        );
    }
}

fn oom_score(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn oom_score_adj_is_written_for_the_role() {
    for kind in BOTH {
        let s = TestServer::start(
            kind,
            &[
                "--oom-score-adj",
                "absolute",
                "--oom-score-adj-values",
                "11 22 33",
            ],
        );
        let pid = s.pid();
        let mut c = s.conn();
        wait_until(5, "the primary's value", || oom_score(pid) == 11);
        // A replica's value once it follows someone (unreachable is fine).
        assert_eq!(c.cmd(&["REPLICAOF", "127.0.0.1", "1"]), b"+OK\r\n");
        wait_until(5, "the replica's value", || oom_score(pid) == 22);
        assert_eq!(c.cmd(&["CONFIG", "SET", "oom-score-adj", "no"]), b"+OK\r\n");
        wait_until(5, "the original value", || oom_score(pid) == 0);
    }
}

fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn jemalloc_bg_thread_starts_and_stops_the_allocators_threads() {
    for kind in BOTH {
        let s = TestServer::start(kind, &[]);
        let pid = s.pid();
        let mut c = s.conn();
        c.cmd(&["SET", "a", "b"]);
        wait_until(5, "a jemalloc background thread", || {
            thread_names(pid).iter().any(|n| n == "jemalloc_bg_thd")
        });
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "jemalloc-bg-thread", "no"]),
            b"+OK\r\n"
        );
        wait_until(5, "no jemalloc background thread", || {
            !thread_names(pid).iter().any(|n| n == "jemalloc_bg_thd")
        });
    }
}

#[test]
fn aof_current_rewrite_time_counts_while_a_rewrite_runs() {
    for kind in BOTH {
        let s = TestServer::start(kind, &args(&["--appendonly", "yes"]));
        let mut c = s.conn();
        wait_until(10, "the startup rewrite done", || {
            num(&mut c, "persistence", "aof_rewrite_in_progress") == 0
        });
        assert_eq!(
            num(&mut c, "persistence", "aof_current_rewrite_time_sec"),
            -1
        );
        assert_eq!(c.cmd(&["DEBUG", "POPULATE", "1500"]), b"+OK\r\n");
        // 1 ms per key: the rewrite takes about 1.5 s.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000"]),
            b"+OK\r\n"
        );
        wait_until(10, "a rewrite started", || {
            c.cmd(&["BGREWRITEAOF"])
                .starts_with(b"+Background append only file rewriting")
        });
        wait_until(10, "a second of rewriting", || {
            num(&mut c, "persistence", "aof_current_rewrite_time_sec") >= 1
        });
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
            b"+OK\r\n"
        );
        wait_until(30, "the rewrite done", || {
            num(&mut c, "persistence", "aof_rewrite_in_progress") == 0
        });
        assert_eq!(
            num(&mut c, "persistence", "aof_current_rewrite_time_sec"),
            -1
        );
        // Nothing waits for the AOF writer (upstream shows its empty
        // buffer's allocation, a few bytes).
        assert!(num(&mut c, "memory", "mem_aof_buffer") < 1024, "{kind:?}");
    }
}

#[test]
fn inactive_directives_warn_at_startup() {
    let s = TestServer::start(
        ServerKind::Ours,
        &[
            "--busy-reply-threshold",
            "100",
            "--watchdog-period",
            "10",
            "--tls-port",
            "0",
        ],
    );
    let log = s.log_contents();
    assert!(
        log.contains("WARNING: 'watchdog-period 10' is accepted but has no effect in this version (see docs/compatibility.md)"),
        "{log}"
    );
    // Active since scripting exists.
    assert!(!log.contains("'busy-reply-threshold"), "{log}");
    // A directive left at its default is not mentioned.
    assert!(!log.contains("'tls-port"), "{log}");
}
