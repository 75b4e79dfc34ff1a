//! Multi-connection behaviour of the server core, compared against the
//! reference where the transcript is deterministic: pub/sub, keyspace
//! notifications, WATCH, CLIENT KILL, MONITOR, limits (maxclients, timeout,
//! query buffer), authentication, CLIENT PAUSE, shutdown, config errors and
//! the log lines scripts grep for.

use std::time::{Duration, Instant};

use redis_testkit::{same_on_both, Conn, ServerKind, TestServer};

#[test]
fn pubsub_channels_patterns_and_counts() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![
            a.cmd(&["SUBSCRIBE", "news"]),
            a.cmd(&["PSUBSCRIBE", "n*"]),
            b.cmd(&["PUBSUB", "NUMSUB", "news", "other"]),
            b.cmd(&["PUBSUB", "NUMPAT"]),
            b.cmd(&["PUBSUB", "CHANNELS"]),
            b.cmd(&["PUBLISH", "news", "hello"]),
        ];
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        t.push(a.cmd(&["GET", "x"]));
        t.push(a.cmd(&["PING"]));
        t.push(a.cmd(&["UNSUBSCRIBE", "news"]));
        t.push(a.cmd(&["PUNSUBSCRIBE"]));
        t.push(a.cmd(&["UNSUBSCRIBE"]));
        t.push(b.cmd(&["PUBLISH", "news", "nobody"]));
        t.push(a.cmd(&["GET", "x"]));
        t
    });
}

#[test]
fn pubsub_resp3_pushes_and_self_delivery() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        a.cmd(&["HELLO", "3"]);
        vec![
            a.cmd(&["SUBSCRIBE", "c"]),
            // The message to ourselves precedes PUBLISH's own reply.
            a.cmd(&["PUBLISH", "c", "self"]),
            a.read_reply_raw(),
            a.cmd(&["GET", "x"]),
            a.cmd(&["SSUBSCRIBE", "sc"]),
            a.cmd(&["SPUBLISH", "sc", "m"]),
            a.read_reply_raw(),
            a.cmd(&["PUBSUB", "SHARDNUMSUB", "sc"]),
        ]
    });
}

#[test]
fn keyspace_notifications() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![
            b.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            b.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
            a.cmd(&["PSUBSCRIBE", "__key*__:*"]),
            b.cmd(&["SET", "k", "v"]),
        ];
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["EXPIRE", "k", "100"]));
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["DEL", "k"]));
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["SET", "e", "v", "PX", "30"]));
        for _ in 0..4 {
            t.push(a.read_reply_raw());
        }
        std::thread::sleep(Duration::from_millis(80));
        // Lazy expiry on access fires the "expired" event.
        t.push(b.cmd(&["GET", "e"]));
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        t
    });
}

#[test]
fn watch_is_invalidated_by_writes_expiry_and_flush() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = Vec::new();
        for (i, spoiler) in [vec!["SET", "w", "other"], vec!["FLUSHALL"], vec!["PING"]]
            .iter()
            .enumerate()
        {
            let _ = i;
            t.push(a.cmd(&["SET", "w", "1"]));
            t.push(a.cmd(&["WATCH", "w"]));
            t.push(b.cmd(spoiler));
            t.push(a.cmd(&["MULTI"]));
            t.push(a.cmd(&["INCR", "w"]));
            t.push(a.cmd(&["EXEC"]));
        }
        // Expiry of a watched key aborts the transaction too.
        t.push(a.cmd(&["SET", "x", "1", "PX", "30"]));
        t.push(a.cmd(&["WATCH", "x"]));
        std::thread::sleep(Duration::from_millis(80));
        t.push(a.cmd(&["MULTI"]));
        t.push(a.cmd(&["SET", "y", "1"]));
        t.push(a.cmd(&["EXEC"]));
        t.push(a.cmd(&["MULTI"]));
        t.push(a.cmd(&["WATCH", "z"]));
        t.push(a.cmd(&["DISCARD"]));
        t.push(a.cmd(&["UNWATCH"]));
        t
    });
}

#[test]
fn auth_with_requirepass() {
    same_on_both(&["--requirepass", "s3cret"], |s| {
        let mut a = s.conn();
        vec![
            a.cmd(&["GET", "k"]),
            a.cmd(&["AUTH", "wrong"]),
            a.cmd(&["HELLO", "3"]),
            a.cmd(&["AUTH", "s3cret"]),
            a.cmd(&["GET", "k"]),
            a.cmd(&["AUTH", "default", "s3cret"]),
            a.cmd(&["RESET"]),
            a.cmd(&["GET", "k"]),
            a.cmd(&["HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "me"])
                .len()
                .to_le_bytes()
                .to_vec(),
            a.cmd(&["CLIENT", "GETNAME"]),
        ]
    });
}

#[test]
fn client_kill_and_no_such_client() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let id = String::from_utf8_lossy(&b.cmd(&["CLIENT", "ID"]))
            .trim_start_matches(':')
            .trim()
            .to_string();
        let mut t = vec![
            a.cmd(&["CLIENT", "KILL", "ID", &id]),
            a.cmd(&["CLIENT", "KILL", "ID", &id]),
            a.cmd(&["CLIENT", "KILL", "127.0.0.1:1"]),
        ];
        t.push(vec![u8::from(b.is_closed())]);
        t
    });
}

#[test]
fn maxclients_rejects_with_upstream_error() {
    same_on_both(&["--maxclients", "2"], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        // Let both connections be registered before the third arrives.
        std::thread::sleep(Duration::from_millis(100));
        let mut c = s.conn();
        vec![
            a.cmd(&["PING"]),
            b.cmd(&["PING"]),
            c.read_until_close().unwrap_or_default(),
        ]
    });
}

#[test]
fn monitor_sees_commands() {
    let s = TestServer::start(ServerKind::Ours, &[]);
    let mut m = s.conn();
    let mut c = s.conn();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    c.cmd(&["SET", "a", "b c"]);
    let line = String::from_utf8_lossy(&m.read_reply_raw()).into_owned();
    // `+<secs>.<usecs> [0 127.0.0.1:<port>] "SET" "a" "b c"`
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains("[0 127.0.0.1:"), "{line}");
    assert!(line.ends_with("\"SET\" \"a\" \"b c\"\r\n"), "{line}");
}

#[test]
fn idle_timeout_closes_connection() {
    let s = TestServer::start(ServerKind::Ours, &["--timeout", "1"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let start = Instant::now();
    // Bounded: read_until_close gives up on its own after a few seconds.
    let r = c.read_until_close();
    assert!(r.is_ok(), "connection was not closed: {r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn query_buffer_limit_closes_the_client_only() {
    let s = TestServer::start(ServerKind::Ours, &["--client-query-buffer-limit", "1mb"]);
    let mut c = s.conn();
    let mut other = s.conn();
    // A bulk header announcing 4 MB, then 2 MB of it: more than the limit.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..32 {
        if c.try_send_raw(&chunk).is_err() {
            break;
        }
    }
    assert!(c.read_until_close().is_ok());
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn client_pause_write_holds_writes_only() {
    let s = TestServer::start(ServerKind::Ours, &[]);
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]), b"+OK\r\n");
    let start = Instant::now();
    assert_eq!(b.cmd(&["GET", "k"]), b"$-1\r\n");
    assert!(
        start.elapsed() < Duration::from_millis(250),
        "reads must not wait"
    );
    assert_eq!(b.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "write was not held"
    );
}

#[test]
fn shutdown_command_exits_with_upstream_log_lines() {
    let s = TestServer::start(ServerKind::Ours, &[]);
    let mut c = s.conn();
    c.send_raw(b"SHUTDOWN NOSAVE\r\n");
    assert!(c.read_until_close().is_ok());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s.log_contents().contains("ready to exit, bye bye") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = s.log_contents();
    assert!(log.contains("# User requested shutdown..."), "{log}");
    assert!(
        log.contains("# Redis is now ready to exit, bye bye..."),
        "{log}"
    );
    assert!(log.contains("* Ready to accept connections"), "{log}");
    assert!(log.contains("# Server initialized"), "{log}");
}

/// Runs a server with a bad config and returns (exit code, stderr + stdout).
fn bad_config(kind: ServerKind, contents: &str, extra: &[&str]) -> (i32, String) {
    let dir = redis_testkit::TempDir::new();
    let path = dir.join("bad.conf");
    std::fs::write(&path, contents).unwrap();
    let path = path.to_string_lossy().into_owned();
    let mut args = vec![path.as_str()];
    args.extend_from_slice(extra);
    kind.run_to_exit(&args)
}

#[test]
fn bad_config_files_fail_like_upstream() {
    for (contents, extra) in [
        ("port 7000\nfoo bar\n", vec![]),
        ("port abc\n", vec![]),
        ("maxmemory 10xb\n", vec![]),
        ("port 7000\n", vec!["--appendfsync", "sometimes"]),
        ("protected-mode maybe\n", vec![]),
        ("bind \"127.0.0.1\n", vec![]),
        // `user` lines: syntax errors and duplicates at their line, with
        // 7.0's choice of the argument named.
        ("user alice on badrule\n", vec![]),
        ("user alice badrule\n", vec![]),
        ("user alice on >p ~x ~y bad\n", vec![]),
        ("user alice on (+get ~x) bad\n", vec![]),
        ("user alice (+get\n", vec![]),
        ("user alice on >p\nuser alice off\n", vec![]),
        ("user default off\nuser default on\n", vec![]),
    ] {
        let (rc_ref, err_ref) = bad_config(ServerKind::Reference, contents, &extra);
        let (rc_ours, err_ours) = bad_config(ServerKind::Ours, contents, &extra);
        assert_eq!(rc_ref, 1, "{err_ref}");
        assert_eq!(rc_ours, rc_ref, "exit code for {contents:?}: {err_ours}");
        assert_eq!(err_ours.trim(), err_ref.trim(), "stderr for {contents:?}");
    }
}

/// `user` lines whose users cannot be made fail after the file was read,
/// with upstream's log lines.
#[test]
fn bad_users_fail_at_startup_like_upstream() {
    for contents in ["user alice on +nosuchcmd\n", "user \"al ice\" on\n"] {
        let run = |kind| {
            let (rc, out) = bad_config(kind, contents, &[]);
            let lines: Vec<String> = out
                .lines()
                .filter(|l| l.contains("ACL"))
                .map(|l| l.split_once(" # ").map_or(l, |(_, m)| m).to_string())
                .collect();
            (rc, lines)
        };
        let reference = run(ServerKind::Reference);
        assert_eq!(reference.0, 1, "{reference:?}");
        assert_eq!(reference.1.len(), 2, "{reference:?}");
        assert_eq!(run(ServerKind::Ours), reference, "{contents:?}");
    }
}

#[test]
fn conn_survives_garbage_after_error_on_other_client() {
    let s = TestServer::start(ServerKind::Ours, &[]);
    let mut bad = s.conn();
    let mut good = s.conn();
    bad.send_raw(b"*1\r\n$-5\r\n");
    let r = bad.read_until_close().unwrap_or_default();
    assert_eq!(r, b"-ERR Protocol error: invalid bulk length\r\n");
    assert_eq!(good.cmd(&["PING"]), b"+PONG\r\n");
    let _ = Conn::connect(s.addr()).map(|mut c| c.cmd(&["PING"]));
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> i64 {
    let raw = c.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}

/// 7.2's INFO `acl_access_denied_*`: one per denial of each reason (as
/// ACL LOG records them), kept by `ACL LOG RESET`, cleared by `CONFIG
/// RESETSTAT`.
#[test]
fn acl_denials_are_counted_per_reason() {
    let s = TestServer::start(ServerKind::Ours, &[]);
    let mut admin = s.conn();
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "u",
        "on",
        ">pw",
        "~a*",
        "&c*",
        "+get",
        "+subscribe",
    ]);
    let mut c = s.conn();
    assert!(c.cmd(&["AUTH", "u", "wrong"]).starts_with(b"-WRONGPASS"));
    assert!(c.cmd(&["AUTH", "nosuch", "pw"]).starts_with(b"-WRONGPASS"));
    assert_eq!(c.cmd(&["AUTH", "u", "pw"]), b"+OK\r\n");
    assert!(c.cmd(&["GET", "b"]).starts_with(b"-NOPERM"));
    assert!(c.cmd(&["SET", "a", "1"]).starts_with(b"-NOPERM"));
    assert!(c.cmd(&["SUBSCRIBE", "zz"]).starts_with(b"-NOPERM"));
    let counts = |c: &mut Conn| {
        ["auth", "cmd", "key", "channel"]
            .map(|r| info_field(c, "stats", &format!("acl_access_denied_{r}")))
    };
    assert_eq!(counts(&mut admin), [2, 1, 1, 1]);
    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), b"+OK\r\n");
    assert_eq!(counts(&mut admin), [2, 1, 1, 1]);
    assert_eq!(admin.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(counts(&mut admin), [0, 0, 0, 0]);
}

#[test]
fn oom_error_matches_reference() {
    same_on_both(
        &["--maxmemory", "1", "--maxmemory-policy", "noeviction"],
        |s| {
            let mut c = s.conn();
            vec![
                c.cmd(&["SET", "k", "v"]),
                c.cmd(&["GET", "k"]),
                c.cmd(&["DEL", "k"]),
                c.cmd(&["CONFIG", "GET", "maxmemory-policy"]),
            ]
        },
    );
}

#[test]
fn allkeys_lru_eviction_keeps_memory_under_the_limit() {
    let s = TestServer::start(
        ServerKind::Ours,
        &["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"],
    );
    let mut c = s.conn();
    let value = "x".repeat(200);
    let mut batch = Vec::new();
    for i in 0..20_000 {
        batch.extend_from_slice(&redis_testkit::conn::encode_request(&[
            "SET".to_string(),
            format!("key:{i}"),
            value.clone(),
        ]));
        if i % 500 == 499 {
            c.send_raw(&batch);
            batch.clear();
            for _ in 0..500 {
                assert_eq!(c.read_reply_raw(), b"+OK\r\n");
            }
        }
    }
    // Every command evicts while over the limit: measure first, then stop
    // eviction before counting, so the numbers describe one state.
    let used = info_field(&mut c, "memory", "used_memory");
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    let evicted = info_field(&mut c, "stats", "evicted_keys");
    let keys = String::from_utf8_lossy(&c.cmd(&["DBSIZE"]))
        .trim_start_matches(':')
        .trim()
        .parse::<i64>()
        .unwrap_or(0);
    assert!(evicted > 0, "nothing evicted");
    assert!(
        used <= 4 * 1024 * 1024 + 64 * 1024,
        "used_memory {used} over the limit"
    );
    assert!(
        keys > 1000 && keys + evicted == 20_000,
        "keys {keys} evicted {evicted}"
    );
}

#[test]
fn lfu_policy_tracks_frequency() {
    let s = TestServer::start(ServerKind::Ours, &["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.conn();
    c.cmd(&["SET", "hot", "1"]);
    c.cmd(&["SET", "cold", "1"]);
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "cold"]), b":5\r\n");
    for _ in 0..200 {
        c.cmd(&["GET", "hot"]);
    }
    let hot: i64 = String::from_utf8_lossy(&c.cmd(&["OBJECT", "FREQ", "hot"]))
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(hot > 5, "frequency did not grow: {hot}");
    assert!(
        String::from_utf8_lossy(&c.cmd(&["OBJECT", "IDLETIME", "hot"])).starts_with("-ERR An LFU")
    );
}

/// Gives the server time to register a blocked client before the next step.
fn settle() {
    std::thread::sleep(Duration::from_millis(60));
}

#[test]
fn blocking_pops_are_served_fifo_and_pipelines_resume() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut p = s.conn();
        let mut t = Vec::new();
        a.send_raw(b"BLPOP l 5\r\n");
        settle();
        b.send_raw(b"BLPOP l 5\r\n");
        settle();
        t.push(p.cmd(&["RPUSH", "l", "1", "2", "3"]));
        t.push(a.read_reply_raw());
        t.push(b.read_reply_raw());
        t.push(p.cmd(&["LRANGE", "l", "0", "-1"]));
        // Commands pipelined behind a blocking one wait for it.
        a.send_raw(b"BRPOP l2 5\r\nPING\r\n");
        settle();
        t.push(p.cmd(&["LPUSH", "l2", "x"]));
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        // Wrong type answers at once; a key that changes type while a client
        // waits keeps it waiting.
        t.push(p.cmd(&["SET", "str", "v"]));
        t.push(a.cmd(&["BLPOP", "str", "1"]));
        a.send_raw(b"BLPOP l3 5\r\n");
        settle();
        t.push(p.cmd(&["SET", "l3", "string"]));
        t.push(p.cmd(&["DEL", "l3"]));
        t.push(p.cmd(&["RPUSH", "l3", "late"]));
        t.push(a.read_reply_raw());
        t
    });
}

#[test]
fn blocking_timeouts_multi_and_unblock() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![
            a.cmd(&["BLPOP", "none", "0.05"]),
            a.cmd(&["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.05"]),
            a.cmd(&["BZPOPMIN", "none", "0.05"]),
            a.cmd(&["BLPOP", "none", "-1"]),
            a.cmd(&["BLPOP", "none", "abc"]),
            a.cmd(&["MULTI"]),
            a.cmd(&["BLPOP", "none", "0"]),
            a.cmd(&["EXEC"]),
        ];
        let id = String::from_utf8_lossy(&a.cmd(&["CLIENT", "ID"]))
            .trim_start_matches(':')
            .trim()
            .to_string();
        a.send_raw(b"BLPOP none 0\r\n");
        settle();
        t.push(b.cmd(&["CLIENT", "UNBLOCK", &id]));
        t.push(a.read_reply_raw());
        a.send_raw(b"BLPOP none 0\r\n");
        settle();
        t.push(b.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]));
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["CLIENT", "UNBLOCK", &id]));
        // A push inside MULTI wakes the waiter after EXEC.
        a.send_raw(b"BRPOP q 5\r\n");
        settle();
        t.push(b.cmd(&["MULTI"]));
        t.push(b.cmd(&["LPUSH", "q", "a", "b"]));
        t.push(b.cmd(&["EXEC"]));
        t.push(a.read_reply_raw());
        t
    });
}

#[test]
fn blocking_moves_and_sorted_sets() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = Vec::new();
        a.send_raw(b"BLMOVE src dst LEFT RIGHT 5\r\n");
        settle();
        t.push(b.cmd(&["RPUSH", "src", "v1", "v2"]));
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["LRANGE", "dst", "0", "-1"]));
        a.send_raw(b"BZPOPMAX z1 z2 5\r\n");
        settle();
        t.push(b.cmd(&["ZADD", "z2", "1", "a", "2", "b"]));
        t.push(a.read_reply_raw());
        a.send_raw(b"BZMPOP 5 1 z3 MIN COUNT 2\r\n");
        settle();
        t.push(b.cmd(&["ZADD", "z3", "1", "a", "2", "b", "3", "c"]));
        t.push(a.read_reply_raw());
        a.send_raw(b"BLMPOP 5 2 m1 m2 RIGHT COUNT 5\r\n");
        settle();
        t.push(b.cmd(&["RPUSH", "m2", "1", "2"]));
        t.push(a.read_reply_raw());
        t.push(a.cmd(&["HELLO", "3"]).len().to_le_bytes().to_vec());
        t.push(a.cmd(&["BLPOP", "nothing", "0.01"]));
        t
    });
}

/// Regression: INFO right after CONFIG RESETSTAT used to overflow while
/// computing instantaneous rates and drop the connection.
#[test]
fn info_after_resetstat_answers() {
    let s = TestServer::start(ServerKind::Ours, &["--hz", "100"]);
    let mut c = s.conn();
    for _ in 0..200 {
        c.cmd(&["PING"]);
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "stats"])).into_owned();
    assert!(info.contains("instantaneous_ops_per_sec:"), "{info}");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn subscriber_that_never_reads_is_cut_at_the_output_buffer_limit() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let s = TestServer::start(kind, &["--client-output-buffer-limit", "pubsub 256kb 0 0"]);
        let mut sub = s.conn();
        assert!(sub.cmd(&["SUBSCRIBE", "flood"]).starts_with(b"*3"));
        let mut publisher = s.conn();
        let payload = "x".repeat(64 * 1024);
        // The subscriber never reads: its buffer passes the hard limit.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            publisher.cmd(&["PUBLISH", "flood", &payload]);
            let n = publisher.cmd(&["PUBSUB", "NUMSUB", "flood"]);
            if n.ends_with(b":0\r\n") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kind:?}: subscriber never cut off"
            );
        }
        assert_eq!(publisher.cmd(&["PING"]), b"+PONG\r\n");
        drop(sub);
    }
}

/// Over the soft output limit and then nothing more to send: the client
/// is still closed once the soft limit's time has passed (upstream's
/// client cron checks idle clients too).
#[test]
fn soft_output_limit_closes_a_client_without_further_traffic() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let s = TestServer::start(kind, &["--client-output-buffer-limit", "pubsub 0 100000 1"]);
        let mut sub = s.conn();
        sub.cmd(&["CLIENT", "SETNAME", "quiet"]);
        assert!(sub.cmd(&["SUBSCRIBE", "flood"]).starts_with(b"*3"));
        let mut publisher = s.conn();
        let payload = "x".repeat(1000);
        let omem = |p: &mut Conn| -> Option<u64> {
            let list = String::from_utf8_lossy(&p.cmd(&["CLIENT", "LIST"])).into_owned();
            let line = list.lines().find(|l| l.contains("name=quiet"))?.to_string();
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix("omem="))
                .and_then(|v| v.parse().ok())
        };
        // Fill until the output owed passes the soft limit (the socket
        // buffers take their share first), then stop publishing.
        let deadline = Instant::now() + Duration::from_secs(20);
        while omem(&mut publisher).unwrap_or(0) <= 100_000 {
            publisher.cmd(&["PUBLISH", "flood", &payload]);
            assert!(
                Instant::now() < deadline,
                "{kind:?}: never over the soft limit"
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while omem(&mut publisher).is_some() {
            assert!(
                Instant::now() < deadline,
                "{kind:?}: still connected after the soft limit's time"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(sub);
    }
}

/// One field of the caller's own `CLIENT LIST` line.
fn own_client_field(c: &mut Conn, field: &str) -> String {
    let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "INFO"])).into_owned();
    list.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field}= in {list}"))
}

#[test]
fn client_info_counts_its_own_command_in_qbuf() {
    let mut seen = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let s = TestServer::start(kind, &[]);
        let mut c = s.conn();
        seen.push(
            ["qbuf", "obl", "oll", "omem", "events", "multi", "cmd"]
                .iter()
                .map(|f| own_client_field(&mut c, f))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seen[1], seen[0], "ours vs reference");
}

#[test]
fn ttl_type_and_exists_do_not_touch_the_key() {
    // With an LFU policy the first touch of a fresh key always raises its
    // counter, so a lookup that touches would show in OBJECT FREQ.
    same_on_both(&["--maxmemory-policy", "allkeys-lfu"], |s| {
        let mut c = s.conn();
        vec![
            c.cmd(&["SET", "k", "v"]),
            c.cmd(&["OBJECT", "FREQ", "k"]),
            c.cmd(&["TTL", "k"]),
            c.cmd(&["PTTL", "k"]),
            c.cmd(&["TYPE", "k"]),
            c.cmd(&["EXISTS", "k"]),
            c.cmd(&["OBJECT", "FREQ", "k"]),
            c.cmd(&["GET", "k"]),
            c.cmd(&["OBJECT", "FREQ", "k"]),
        ]
    });
}

#[test]
fn debug_protocol_verbatim() {
    same_on_both(&["--enable-debug-command", "yes"], |s| {
        let mut c = s.conn();
        vec![
            c.cmd(&["DEBUG", "PROTOCOL", "verbatim"]),
            c.cmd(&["HELLO", "3"])
                .split_first()
                .map(|_| Vec::new())
                .unwrap_or_default(),
            c.cmd(&["DEBUG", "PROTOCOL", "verbatim"]),
        ]
    });
}

#[test]
fn clients_held_by_client_pause_count_as_blocked() {
    same_on_both(&[], |s| {
        let mut admin = s.conn();
        let mut w = s.conn();
        let mut t = vec![admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"])];
        w.send_raw(&redis_testkit::conn::encode_request(&["SET", "k", "v"]));
        // Bounded wait for the held write to show in INFO.
        let mut blocked = String::new();
        for _ in 0..200 {
            let info = String::from_utf8_lossy(&admin.cmd(&["INFO", "clients"])).into_owned();
            blocked = info
                .lines()
                .find(|l| l.starts_with("blocked_clients:"))
                .unwrap_or_default()
                .to_string();
            if blocked == "blocked_clients:1" {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        t.push(blocked.into_bytes());
        t.push(admin.cmd(&["CLIENT", "UNPAUSE"]));
        t.push(w.read_reply_raw());
        t.push(
            admin
                .cmd(&["INFO", "clients"])
                .split(|&b| b == b'\n')
                .filter(|l| l.starts_with(b"blocked_clients:"))
                .flatten()
                .copied()
                .collect(),
        );
        t
    });
}

/// `DEBUG QUICKLIST-PACKED-THRESHOLD`: upstream's bounds and error, and
/// lists with elements over the threshold (saved as plain quicklist nodes)
/// survive `DEBUG RELOAD`.
#[test]
fn debug_quicklist_packed_threshold_matches_the_reference() {
    redis_testkit::same_on_both(&["--enable-debug-command", "yes"], |s| {
        let mut c = s.conn();
        let mut t = Vec::new();
        for size in ["1b", "4gb", "4095mb", "-1", "x", "0"] {
            t.push(c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", size]));
        }
        t.push(c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"]));
        t.push(c.cmd(&["RPUSH", "l", "aaaa", "bbbbbbb", "c"]));
        t.push(c.cmd(&["DEBUG", "RELOAD"]));
        t.push(c.cmd(&["LRANGE", "l", "0", "-1"]));
        t.push(c.cmd(&["OBJECT", "ENCODING", "l"]));
        t
    });
}

/// `SETBIT` and `BITFIELD … SET` count as changes (`rdb_changes_since_last_save`)
/// only when they change the bits or create the key, as 7.0.
#[test]
fn setbit_and_bitfield_count_only_real_changes() {
    redis_testkit::same_on_both(&[], |s| {
        let mut c = s.conn();
        let dirty = |c: &mut redis_testkit::Conn| {
            let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
            info.lines()
                .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
                .unwrap_or_default()
                .trim()
                .to_string()
                .into_bytes()
        };
        let mut t = vec![dirty(&mut c)];
        for cmd in [
            &["SETBIT", "foo", "0", "0"][..],
            &["BITFIELD", "foo2", "SET", "i5", "0", "0"],
            &["SETBIT", "foo", "0", "0"],
            &["BITFIELD", "foo2", "SET", "i5", "0", "0"],
            &["SETBIT", "foo", "0", "1"],
            &["SETBIT", "foo", "0", "1"],
            &[
                "BITFIELD", "foo2", "SET", "i5", "0", "1", "SET", "i5", "0", "1",
            ],
            &["BITFIELD", "foo2", "INCRBY", "u2", "100", "0"],
            &[
                "BITFIELD", "foo3", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5",
            ],
        ] {
            t.push(c.cmd(cmd));
            t.push(dirty(&mut c));
        }
        t
    });
}

/// A corrupt `RESTORE` payload is refused with upstream's reply and the
/// loader's `… integrity check failed.` line in the log; `DEBUG
/// SET-SKIP-CHECKSUM-VALIDATION 1` lets a payload with a wrong CRC through
/// to that check.
#[test]
fn corrupt_restore_payloads_are_logged_like_upstream() {
    // A ziplist-encoded hash holding field "a" twice, with a valid CRC.
    let dup: &[u8] = b"\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02\x61\x00\x04\x02\x64\x00\xFF\x09\x00\xA1\x98\x36\x78\xCC\x8E\x93\x2E";
    let mut bad_crc = dup.to_vec();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 0xFF;
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let s = TestServer::start(
            kind,
            &["--enable-debug-command", "yes", "--loglevel", "verbose"],
        );
        let mut c = s.conn();
        let restore = |c: &mut Conn, p: &[u8]| c.cmd_bytes(&[&b"RESTORE"[..], b"key", b"0", p]);
        assert_eq!(
            restore(&mut c, dup),
            b"-ERR Bad data format\r\n",
            "{kind:?}"
        );
        assert!(
            s.log_contents()
                .contains("Hash ziplist integrity check failed."),
            "{kind:?}: {}",
            s.log_contents()
        );
        assert_eq!(
            restore(&mut c, &bad_crc),
            b"-ERR DUMP payload version or checksum are wrong\r\n",
            "{kind:?}"
        );
        c.cmd(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]);
        assert_eq!(
            restore(&mut c, &bad_crc),
            b"-ERR Bad data format\r\n",
            "{kind:?}"
        );
    }
}

/// A blocked `BRPOP` whose key is pushed and then expires inside the same
/// transaction (`EXEC` with `DEBUG SLEEP`) stays blocked: the service runs
/// at the time it happens, when the key is gone.
#[test]
fn blocked_pop_is_not_served_by_a_key_that_expired_during_exec() {
    same_on_both(&["--enable-debug-command", "yes"], |s| {
        let mut c = s.conn();
        let mut b = s.conn();
        let mut t = vec![c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"])];
        let id = b.cmd(&["CLIENT", "ID"]);
        let id = String::from_utf8_lossy(&id[1..id.len() - 2]).into_owned();
        b.send_raw(&redis_testkit::conn::encode_request(&["BRPOP", "k", "0"]));
        std::thread::sleep(Duration::from_millis(100));
        for cmd in [
            &["MULTI"][..],
            &["RPUSH", "k", "hello"],
            &["PEXPIRE", "k", "100"],
            &["DEBUG", "SLEEP", "0.2"],
            &["EXEC"],
        ] {
            t.push(c.cmd(cmd));
        }
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "clients"])).into_owned();
        t.push(
            info.lines()
                .find(|l| l.starts_with("blocked_clients:"))
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        );
        t.push(c.cmd(&["CLIENT", "UNBLOCK", &id]));
        t.push(b.read_reply_raw());
        t
    });
}

/// `port 0` without a unix socket: nothing to listen on, so the server
/// refuses to start, with upstream's line and status.
#[test]
fn a_server_listening_nowhere_does_not_start() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (rc, out) = kind.run_to_exit(&["--port", "0", "--save", ""]);
        assert_eq!(rc, 1, "{kind:?}: {out}");
        assert!(
            out.contains("Configured to not listen anywhere, exiting."),
            "{kind:?}: {out}"
        );
    }
}

/// `CONFIG SET maxmemory` below the memory in use evicts at once: a
/// subscriber gets the `evicted` event without any further command.
#[test]
fn lowering_maxmemory_evicts_at_once() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        let mut sub = s.conn();
        let mut out = vec![
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]),
            c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
            sub.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]),
            c.cmd(&["SET", "foo", "bar"]),
            c.cmd(&["CONFIG", "SET", "maxmemory", "1"]),
        ];
        out.push(sub.read_reply_raw());
        out.push(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]));
        out.push(c.cmd(&["DBSIZE"]));
        out
    });
}

/// The process title is `proc-title-template` expanded, as upstream sets
/// it (`/proc/<pid>/cmdline`), also after `CONFIG SET`.
#[test]
fn process_title_follows_the_template() {
    let s = TestServer::start(ServerKind::Ours, &[]);
    let pid = s.pid();
    let bin = redis_testkit::server::ours_binary("redis-server");
    let port = s.addr().port();
    let cmdline = || {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).into_owned()
    };
    assert_eq!(cmdline(), format!("{} 127.0.0.1:{port}", bin.display()));
    let mut c = s.conn();
    let template = "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}";
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proc-title-template", template]),
        b"+OK\r\n"
    );
    assert_eq!(
        cmdline(),
        format!("TEST {} 127.0.0.1:{port} {port} 0", bin.display())
    );
}

/// A value's hash table that is only read from still finishes resizing
/// (upstream steps a resize on every lookup): `SRANDMEMBER` alone drives a
/// big set's resize to its end, as upstream's set unit relies on.
#[test]
fn reads_finish_a_resize_of_a_value_table() {
    let s = TestServer::start(
        ServerKind::Ours,
        &[
            "--enable-debug-command",
            "yes",
            "--set-max-intset-entries",
            "0",
        ],
    );
    let mut c = s.conn();
    let members: Vec<String> = (0..100_000).map(|i| format!("m:{i}")).collect();
    let mut args = vec!["SADD", "myset"];
    args.extend(members.iter().map(String::as_str));
    c.cmd(&args);
    let rehashing = |c: &mut Conn| {
        String::from_utf8_lossy(&c.cmd(&["DEBUG", "HTSTATS-KEY", "myset"]))
            .contains("rehashing target")
    };
    assert!(rehashing(&mut c), "the set is expected to be resizing");
    let mut rounds = 0;
    while rehashing(&mut c) {
        c.cmd(&["SRANDMEMBER", "myset", "100"]);
        rounds += 1;
        assert!(rounds < 5000, "the resize never finished");
    }
    assert_eq!(c.cmd(&["SCARD", "myset"]), b":100000\r\n");
}

/// `redis-server --sentinel` hands over to the sentinel daemon, which, like
/// upstream's, refuses to run without a config file to save its state in:
/// same message and status as the reference (the pid/time prefix aside).
#[test]
fn server_sentinel_mode_hands_over_to_the_sentinel() {
    let tail = |out: &str| {
        out.lines()
            .map(|l| l.split_once(" # ").map_or(l, |(_, m)| m).to_string())
            .collect::<Vec<_>>()
    };
    let (rc_ref, out_ref) = ServerKind::Reference.run_to_exit(&["--sentinel", "--port", "0"]);
    let (rc, out) = ServerKind::Ours.run_to_exit(&["--sentinel", "--port", "0"]);
    assert_eq!(rc, rc_ref, "ours: {out}\nreference: {out_ref}");
    assert_eq!(tail(&out), tail(&out_ref));
    assert!(out.contains("Sentinel needs config file on disk"), "{out}");
}

/// Replaces the numbers of a raw reply by placeholders: what remains is
/// the reply's shape (field names, order, types).
fn reply_shape(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with(':') {
            out.push(":N".to_string());
        } else if l.starts_with(',') {
            out.push(",F".to_string());
        } else if l.starts_with('$') && i + 1 < lines.len() && lines[i + 1].parse::<f64>().is_ok() {
            out.push("$F".to_string());
            i += 1;
        } else {
            out.push(l.to_string());
        }
        i += 1;
    }
    out.join("|")
}

/// `MEMORY STATS` has upstream's fields in upstream's order and types
/// (a map in RESP3, a flat array in RESP2, a sub-map per non-empty
/// database); the figures themselves are our own.
#[test]
fn memory_stats_has_upstreams_shape() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        c.cmd(&["SET", "a", "1"]);
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "b", "2", "EX", "100"]);
        let resp2 = reply_shape(&c.cmd(&["MEMORY", "STATS"]));
        c.cmd(&["HELLO", "3"]);
        let resp3 = reply_shape(&c.cmd(&["MEMORY", "STATS"]));
        vec![
            resp2.into_bytes(),
            resp3.into_bytes(),
            c.cmd(&["MEMORY", "STATS", "x"]),
            c.cmd(&["MEMORY", "PURGE"]),
        ]
    });
}
