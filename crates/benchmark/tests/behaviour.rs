//! What a run does to the server, checked on the server: the keys the
//! default tests write (`-r`, `-d`), the prefix commands of each
//! connection (AUTH, SELECT, HELLO 3, CLIENT TRACKING) also after a
//! reconnect (`-k 0`), how many requests `-n`/`-P` send (the same count
//! as upstream's), `-x`, Unix sockets, large replies, `-I` and `-l`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, run_with_input, text, Server, OURS, UPSTREAM};
use redis_testkit::ChildGuard;

fn ours(s: &Server, args: &[&str]) -> String {
    let p = s.port.to_string();
    let mut full = vec!["-p", &p];
    full.extend_from_slice(args);
    let out = run(OURS, &full);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `calls` of `INFO commandstats` for `cmd` (0 when never called).
fn calls(s: &Server, cmd: &str) -> u64 {
    let info = s.cli(&["info", "commandstats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn keys_and_values_of_the_default_tests() {
    let s = Server::start(&[]);
    // Without -r every request uses the literal placeholder.
    ours(
        &s,
        &["-n", "100", "-t", "set,incr,lpush,sadd,hset,zadd", "-q"],
    );
    let mut keys: Vec<String> = s.cli(&["keys", "*"]).lines().map(String::from).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "counter:__rand_int__",
            "key:__rand_int__",
            "myhash",
            "mylist",
            "myset",
            "myzset"
        ]
    );
    // Upstream's fixed data bytes.
    assert_eq!(s.cli(&["get", "key:__rand_int__"]), "VXK");
    assert_eq!(s.cli(&["incr", "counter:__rand_int__"]), "101");
    assert_eq!(
        s.cli(&["zrange", "myzset", "0", "-1", "withscores"]),
        "element:__rand_int__\n0"
    );
    s.cli(&["flushall"]);
    ours(&s, &["-n", "10", "-d", "5", "-t", "set", "-q"]);
    assert_eq!(s.cli(&["get", "key:__rand_int__"]), "VXKeH");

    // With -r: 12-digit numbers below the keyspace length.
    s.cli(&["flushall"]);
    ours(&s, &["-n", "3000", "-r", "1000", "-t", "set", "-q"]);
    let keys: Vec<String> = s.cli(&["keys", "*"]).lines().map(String::from).collect();
    assert!((500..=1000).contains(&keys.len()), "{}", keys.len());
    for k in &keys {
        let digits = k.strip_prefix("key:").unwrap();
        assert_eq!(digits.len(), 12, "{k}");
        assert!(digits.parse::<u64>().unwrap() < 1000, "{k}");
    }
    // Scores and members of ZADD are random too.
    s.cli(&["flushall"]);
    ours(&s, &["-n", "200", "-r", "50", "-t", "zadd", "-q"]);
    let z = s.cli(&["zrange", "myzset", "0", "-1", "withscores"]);
    assert!(
        z.lines().any(|l| l.starts_with("element:0000000000")),
        "{z}"
    );
    assert!(
        z.lines()
            .any(|l| l.parse::<u64>().is_ok_and(|v| v > 0 && v < 50)),
        "{z}"
    );
}

#[test]
fn request_counts_match_upstream() {
    let s = Server::start(&[]);
    for args in [
        &["-n", "1000", "-c", "7", "-P", "16", "-t", "set"][..],
        &["-n", "1000", "-c", "5", "-P", "10", "-t", "set"],
        &["-n", "333", "-c", "50", "-t", "set"],
    ] {
        let mut counts = Vec::new();
        for bin in [OURS, UPSTREAM] {
            s.cli(&["config", "resetstat"]);
            let p = s.port.to_string();
            let mut full = vec!["-p", &p];
            full.extend_from_slice(args);
            assert_eq!(run(bin, &full).status.code(), Some(0));
            counts.push(calls(&s, "set"));
        }
        assert_eq!(counts[0], counts[1], "{args:?}");
    }
    s.cli(&["config", "resetstat"]);
    ours(
        &s,
        &["-n", "1000", "-c", "7", "-P", "16", "-t", "set", "-q"],
    );
    assert_eq!(calls(&s, "set"), 1008, "63 batches of 16");
}

#[test]
fn prefix_commands_on_every_connection() {
    let s = Server::start(&["--requirepass", "secret"]);
    s.cli(&[
        "-a",
        "secret",
        "--no-auth-warning",
        "acl",
        "setuser",
        "bench",
        "on",
        ">pw",
        "+@all",
        "~*",
    ]);
    let cli = |args: &[&str]| {
        let mut full = vec!["-a", "secret", "--no-auth-warning"];
        full.extend_from_slice(args);
        s.cli(&full)
    };
    cli(&["config", "resetstat"]);
    ours(
        &s,
        &[
            "--user",
            "bench",
            "-a",
            "pw",
            "-3",
            "--enable-tracking",
            "--dbnum",
            "3",
            "-c",
            "4",
            "-n",
            "400",
            "-t",
            "set,get",
            "-q",
        ],
    );
    let stat = |cmd: &str| {
        let info = cli(&["info", "commandstats"]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0u64, |n| n.parse().unwrap())
    };
    // Two benchmarks of 4 clients each, the CONFIG connection, and the
    // redis-cli that asks for the statistics.
    assert_eq!(stat("auth"), 10);
    assert_eq!(stat("hello"), 8);
    assert_eq!(stat("select"), 8);
    assert_eq!(stat("client|tracking"), 8);
    assert_eq!(stat("set"), 400);
    assert_eq!(cli(&["-n", "3", "dbsize"]), "1");
    assert_eq!(cli(&["-n", "0", "dbsize"]), "0");

    // -k 0: a new connection, with its prefix, for every batch.
    cli(&["config", "resetstat"]);
    ours(
        &s,
        &[
            "-a", "secret", "--dbnum", "2", "-k", "0", "-c", "3", "-n", "60", "-t", "set", "--csv",
        ],
    );
    let connections: u64 = cli(&["info", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(connections >= 60, "{connections}");
    assert_eq!(stat("select"), stat("set"));
}

#[test]
fn stdin_argument_and_unix_socket() {
    let s = Server::start(&[]);
    let p = s.port.to_string();
    let out = run_with_input(
        OURS,
        &["-p", &p, "-n", "10", "-x", "-q", "set", "fromstdin"],
        b"hello\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("set fromstdin: "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(s.cli(&["strlen", "fromstdin"]), "6");

    let sock = format!("{}/redis.sock", s.dir.path_str());
    let u = Server::start(&["--unixsocket", &sock]);
    let out = run(OURS, &["-s", &sock, "-n", "200", "-t", "set", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(u.cli(&["exists", "key:__rand_int__"]), "1");
}

#[test]
fn large_replies() {
    let s = Server::start(&[]);
    ours(&s, &["-n", "2000", "-P", "20", "-t", "lrange_600", "-q"]);
    // Megabyte values arrive in many reads.
    ours(
        &s,
        &[
            "-n", "20", "-c", "2", "-d", "1000000", "-t", "set,get", "-q",
        ],
    );
    ours(
        &s,
        &["-n", "200", "-c", "4", "-P", "8", "-3", "hgetall", "h"],
    );
    s.cli(&["hset", "h", "a", "1", "b", "2"]);
    ours(
        &s,
        &["-n", "200", "-c", "4", "-P", "8", "-3", "hgetall", "h"],
    );
}

/// Spawns ours with stdout into a file; returns the guard and the file.
fn spawn_ours(s: &Server, args: &[&str], name: &str) -> (ChildGuard, std::path::PathBuf) {
    let path = s.dir.path().join(name);
    let file = std::fs::File::create(&path).unwrap();
    let p = s.port.to_string();
    let guard = ChildGuard::spawn(
        Command::new(OURS)
            .args(["-p", &p])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null()),
    );
    (guard, path)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_mode_and_loop() {
    let s = Server::start(&[]);
    let (idle, out) = spawn_ours(&s, &["-I", "-c", "7"], "idle.out");
    // Ours plus the redis-cli asking.
    wait_for("7 idle clients", || {
        s.info_field("clients", "connected_clients") == "8"
    });
    wait_for("the idle progress line", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("clients: 7\r")
    });
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with(
            "Creating 7 idle connections and waiting forever (Ctrl+C when done)\nclients: 7\r"
        ),
        "{text:?}"
    );
    // Idle clients send nothing (the count is the CONFIG GETs and INFOs).
    let processed: u64 = s
        .info_field("stats", "total_commands_processed")
        .parse()
        .unwrap();
    assert!(processed < 20, "{processed}");
    drop(idle);

    let (looping, out) = spawn_ours(
        &s,
        &["-l", "-n", "100", "-t", "ping_mbulk", "-q"],
        "loop.out",
    );
    wait_for("three loop iterations", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .matches(" requests per second, p50=")
            .count()
            >= 3
    });
    drop(looping);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(" requests per second, p50="), "{text}");
    assert!(
        text.contains("msec\n\n"),
        "each iteration ends with a blank line: {text:?}"
    );
}
