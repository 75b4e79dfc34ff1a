//! Scripts as processes see them: a busy script answered `-BUSY` to other
//! clients (also one that was quick before), `SCRIPT KILL`, a script that wrote is `-UNKILLABLE`, `SHUTDOWN
//! NOSAVE` still stops the server; script effects reaching a reference
//! replica and surviving an AOF restart. Each behaviour scenario runs on the
//! reference and on ours with the same assertions.

use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

fn req(args: &[&str]) -> Vec<u8> {
    redis_testkit::conn::encode_request(args)
}

/// Polls `c` with PING until it answers `-BUSY` (bounded).
fn wait_busy(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.cmd(&["PING"]);
        if r.starts_with(b"-BUSY Redis is busy running a script.") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never busy: {}",
            String::from_utf8_lossy(&r)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn busy_scenario(kind: ServerKind) {
    let mut s = TestServer::start(kind, &["--busy-reply-threshold", "50"]);
    let mut runner = s.conn();
    let mut other = s.conn();
    // A read-only script is killed by SCRIPT KILL, even when it keeps
    // catching errors with pcall.
    runner.send_raw(&req(&[
        "EVAL",
        "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
        "0",
    ]));
    wait_busy(&mut other);
    assert!(other.cmd(&["GET", "x"]).starts_with(b"-BUSY"));
    assert_eq!(
        other.cmd(&["FUNCTION", "KILL"]),
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    // Connections opened while busy are served (and refused) too.
    let mut late = s.conn();
    assert!(late.cmd(&["PING"]).starts_with(b"-BUSY"));
    assert_eq!(late.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(late.cmd(&["DISCARD"]), b"+OK\r\n");
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_reply_raw()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed}"
    );
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(runner.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        other.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A script that wrote cannot be killed; SHUTDOWN needs NOSAVE.
    runner.send_raw(&req(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'y') while true do end",
        "1",
        "x",
    ]));
    wait_busy(&mut other);
    let unkillable = String::from_utf8_lossy(&other.cmd(&["SCRIPT", "KILL"])).into_owned();
    assert!(unkillable.starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    assert!(other.cmd(&["SHUTDOWN"]).starts_with(b"-BUSY"));
    other.send_raw(&req(&["SHUTDOWN", "NOSAVE"]));
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "SHUTDOWN NOSAVE did not stop the server");
}

#[test]
fn busy_script_reference() {
    busy_scenario(ServerKind::Reference);
}

#[test]
fn busy_script_ours() {
    busy_scenario(ServerKind::Ours);
}

/// A script (and a function) that was quick many times, then loops:
/// other clients, new ones too, get `-BUSY` and `SCRIPT KILL` /
/// `FUNCTION KILL` end it; one that wrote first is `-UNKILLABLE` and
/// `SHUTDOWN NOSAVE` stops the server. (Ours runs a script known to be
/// quick in line on its connection's thread, which hands its other
/// connections to a new thread when the script turns busy: checked with
/// one runtime worker, the default, and with two.)
fn quick_script_turning_slow(kind: ServerKind, io_threads: &str) {
    let mut s = TestServer::start(
        kind,
        &["--busy-reply-threshold", "50", "--io-threads", io_threads],
    );
    let mut runner = s.conn();
    let mut other = s.conn();
    let load = |c: &mut Conn, body: &str| {
        let r = c.cmd(&["SCRIPT", "LOAD", body]);
        String::from_utf8_lossy(&r)
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let spin = load(
        &mut runner,
        "while redis.call('get', KEYS[1]) == 'loop' do end return 1",
    );
    for _ in 0..5 {
        assert_eq!(runner.cmd(&["EVALSHA", &spin, "1", "k"]), b":1\r\n");
    }
    assert_eq!(other.cmd(&["SET", "k", "loop"]), b"+OK\r\n");
    runner.send_raw(&req(&["EVALSHA", &spin, "1", "k"]));
    wait_busy(&mut other);
    let mut late = s.conn();
    assert!(late.cmd(&["GET", "k"]).starts_with(b"-BUSY"));
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_reply_raw()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL"),
        "{killed}"
    );
    assert_eq!(late.cmd(&["PING"]), b"+PONG\r\n");

    // A function.
    let lib = "#!lua name=spinlib\nredis.register_function('spin', function(keys) while redis.call('get', keys[1]) == 'loop' do end return 1 end)";
    assert_eq!(other.cmd(&["FUNCTION", "LOAD", lib]), b"$7\r\nspinlib\r\n");
    for _ in 0..5 {
        assert_eq!(runner.cmd(&["FCALL", "spin", "1", "f"]), b":1\r\n");
    }
    assert_eq!(other.cmd(&["SET", "f", "loop"]), b"+OK\r\n");
    runner.send_raw(&req(&["FCALL", "spin", "1", "f"]));
    wait_busy(&mut other);
    assert_eq!(other.cmd(&["FUNCTION", "KILL"]), b"+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_reply_raw()).into_owned();
    // (Upstream's text names SCRIPT KILL for functions too.)
    assert!(
        killed.starts_with(
            "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:"
        ),
        "{killed}"
    );

    // A quick script that writes before it loops.
    assert_eq!(other.cmd(&["SET", "k", "no"]), b"+OK\r\n");
    let write_spin = load(
        &mut runner,
        "redis.call('incr', KEYS[2]) while redis.call('get', KEYS[1]) == 'loop' do end return 1",
    );
    for _ in 0..5 {
        assert_eq!(
            runner.cmd(&["EVALSHA", &write_spin, "2", "k", "n"]),
            b":1\r\n"
        );
    }
    assert_eq!(other.cmd(&["SET", "k", "loop"]), b"+OK\r\n");
    runner.send_raw(&req(&["EVALSHA", &write_spin, "2", "k", "n"]));
    wait_busy(&mut other);
    let unkillable = String::from_utf8_lossy(&other.cmd(&["SCRIPT", "KILL"])).into_owned();
    assert!(unkillable.starts_with("-UNKILLABLE"), "{unkillable}");
    other.send_raw(&req(&["SHUTDOWN", "NOSAVE"]));
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "SHUTDOWN NOSAVE did not stop the server");
}

#[test]
fn a_quick_script_that_turns_slow_is_busy_and_killable() {
    for (kind, io_threads) in [
        (ServerKind::Reference, "1"),
        (ServerKind::Ours, "1"),
        (ServerKind::Ours, "2"),
    ] {
        quick_script_turning_slow(kind, io_threads);
    }
}

/// A busy script on a replica in the middle of an async (swapdb) load of
/// a full sync: other clients get `-BUSY`, `SCRIPT KILL` ends it and the
/// server answers again (upstream's `Busy script during async loading`,
/// in integration/replication; ours used to wait for the lock on the
/// thread serving clients while it reported the transfer's progress).
fn busy_script_during_async_loading(kind: ServerKind) {
    let dbg = ["--enable-debug-command", "yes"];
    let primary = TestServer::start(kind, &dbg);
    let replica = TestServer::start(kind, &dbg);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    for (name, value) in [
        ("repl-diskless-sync", "yes"),
        ("repl-diskless-sync-delay", "0"),
    ] {
        assert_eq!(p.cmd(&["CONFIG", "SET", name, value]), b"+OK\r\n");
    }
    for (name, value) in [
        ("repl-diskless-load", "swapdb"),
        ("replica-read-only", "no"),
    ] {
        assert_eq!(r.cmd(&["CONFIG", "SET", name, value]), b"+OK\r\n");
    }
    let port = primary.port().to_string();
    assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    let field = |c: &mut Conn, name: &str| c.info_field("all", name).unwrap_or_default();
    let wait = |c: &mut Conn, name: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while field(c, name) != want {
            assert!(Instant::now() < deadline, "{name} never {want}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait(&mut r, "master_link_status", "up");
    assert_eq!(
        r.cmd(&["DEBUG", "POPULATE", "2000", "replica", "10"]),
        b"+OK\r\n"
    );
    assert_eq!(
        p.cmd(&["DEBUG", "POPULATE", "2000", "primary", "100000"]),
        b"+OK\r\n"
    );
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(r.cmd(&["SET", "mykey", "myvalue"]), b"+OK\r\n");
    // The replica's next sync is a full one (the backlog is outgrown) of
    // the same history, which a swapdb load serves the old data during;
    // the primary makes it last (10 ms per key).
    let big = "A".repeat(16384);
    assert_eq!(p.cmd(&["MULTI"]), b"+OK\r\n");
    p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    p.cmd(&["CONFIG", "SET", "repl-backlog-size", "16384"]);
    for i in 0..10 {
        p.cmd(&["SET", &format!("{i} string_{i}"), &big]);
    }
    assert!(p.cmd(&["EXEC"]).starts_with(b"*"));
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "10000"]),
        b"+OK\r\n"
    );
    wait(&mut r, "async_loading", "1");
    assert_eq!(r.cmd(&["GET", "mykey"]), b"$7\r\nmyvalue\r\n");

    assert_eq!(
        r.cmd(&["CONFIG", "SET", "lua-time-limit", "10"]),
        b"+OK\r\n"
    );
    let mut runner = replica.conn();
    runner.send_raw(&req(&["EVAL", "while true do end", "0"]));
    wait_busy(&mut r);
    assert_eq!(r.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_reply_raw()).into_owned();
    assert!(killed.starts_with("-ERR Script killed by user"), "{killed}");
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(field(&mut r, "async_loading"), "1");
    // What an async load refuses (upstream's next test in that unit).
    let loading = b"-LOADING Redis is loading the dataset in memory\r\n";
    assert_eq!(r.cmd(&["CONFIG", "SET", "appendonly", "no"]), loading);
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "repl-diskless-load", "disabled"]),
        loading
    );
    assert_eq!(r.cmd(&["REPLICAOF", "NO", "ONE"]), loading);
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "repl-backlog-size", "16384"]),
        b"+OK\r\n"
    );
    assert_eq!(field(&mut r, "async_loading"), "1");
    // Speeds up the end.
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
        b"+OK\r\n"
    );
}

#[test]
fn a_busy_script_during_async_loading_is_killable() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        busy_script_during_async_loading(kind);
    }
}

fn pipelined_ping_after_busy(kind: ServerKind) {
    // The script and a PING in one pipeline: the PING is answered after
    // the script ends, on the same connection ("no false dead client").
    let s = TestServer::start(kind, &["--busy-reply-threshold", "50"]);
    let mut runner = s.conn();
    let mut other = s.conn();
    let mut pipe = req(&["EVAL", "while 1 do redis.call('ping') end", "0"]);
    pipe.extend_from_slice(&req(&["PING"]));
    runner.send_raw(&pipe);
    wait_busy(&mut other);
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = runner.read_reply_raw();
    assert!(killed.starts_with(b"-ERR Script killed by user"));
    assert_eq!(runner.read_reply_raw(), b"+PONG\r\n");
}

#[test]
fn pipelined_command_after_a_killed_script() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        pipelined_ping_after_busy(kind);
    }
}

#[test]
fn script_effects_reach_a_reference_replica_and_survive_aof_restart() {
    let dir = TempDir::new();
    let args = [
        "--dir",
        dir.path_str(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut primary = TestServer::start(ServerKind::Ours, &args);
    let replica = TestServer::start(ServerKind::Reference, &[]);
    let mut r = replica.conn();
    let port = primary.port().to_string();
    assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    let mut c = primary.conn();
    let script = "redis.call('set', KEYS[1], ARGV[1]) redis.call('incr', 'n') \
                  redis.call('expire', KEYS[1], 1000) return redis.call('get', 'n')";
    for i in 0..20 {
        let v = format!("v{i}");
        c.cmd(&["EVAL", script, "1", &format!("k{i}"), &v]);
    }
    // The effects, not the script, reach the replica: it has no script.
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.cmd(&["GET", "n"]) != b"$2\r\n20\r\n" {
        assert!(Instant::now() < deadline, "replica never caught up");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(r.cmd(&["GET", "k7"]), b"$2\r\nv7\r\n");
    let ttl = String::from_utf8_lossy(&r.cmd(&["TTL", "k7"])).into_owned();
    assert!(ttl.starts_with(':') && ttl != ":-1\r\n", "{ttl}");
    assert_eq!(r.cmd(&["SCRIPT", "EXISTS", "x"]), b"*1\r\n:0\r\n");
    // Restart from the AOF: the same data.
    drop(c);
    primary.signal("-TERM");
    assert!(primary.wait_exit(Duration::from_secs(10)).is_some());
    let again = TestServer::start(ServerKind::Ours, &args);
    let mut c = again.conn();
    assert_eq!(c.cmd(&["GET", "n"]), b"$2\r\n20\r\n");
    assert_eq!(c.cmd(&["GET", "k19"]), b"$3\r\nv19\r\n");
}
