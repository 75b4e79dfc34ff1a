//! Real client tools against our server: the reference `redis-cli` (its
//! output compared with what it prints against the reference server),
//! `redis-benchmark`, and redis-py from the repository's `.venv`. A missing
//! tool fails the test with a hint; `cargo xtask test` installs them.

use std::process::Command;
use std::time::Duration;

use redis_testkit::{require_tool, run_bounded, ServerKind, TestServer};

use crate::util::repo_root;

const INSTALL_HINT: &str =
    "install it with `apt-get install redis-server redis-tools` or run `cargo xtask test`";

/// Runs `/usr/bin/redis-cli -p <port> <args>` and returns (exit code,
/// stdout, stderr).
fn cli(server: &TestServer, args: &[&str]) -> (i32, String, String) {
    let bin = require_tool("/usr/bin/redis-cli", INSTALL_HINT);
    let port = server.port().to_string();
    let out = run_bounded(
        Command::new(bin)
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args),
        Duration::from_secs(20),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Invocations whose output must be identical against both servers. Run in
/// order on each server, so later ones see the effects of earlier ones.
const CLI_SESSION: &[&[&str]] = &[
    &["ping"],
    &["set", "a", "b"],
    &["get", "a"],
    &["--no-raw", "get", "a"],
    &["get", "missing"],
    &["--no-raw", "get", "missing"],
    &["incr", "n"],
    &["--no-raw", "incr", "n"],
    &["incrby", "n", "x"],
    &["--no-raw", "incrby", "n", "x"],
    &["mset", "k1", "v1", "k2", "v 2"],
    &["--no-raw", "mget", "k1", "k2", "nope"],
    &["mget", "k1", "k2", "nope"],
    &["set", "bin", "a\tb\nc"],
    &["--no-raw", "get", "bin"],
    &["get", "bin"],
    &["nosuchcommand", "x"],
    &["--no-raw", "set"],
    &["-r", "3", "incr", "counter"],
    &["-n", "1", "set", "in1", "x"],
    &["-n", "1", "--no-raw", "dbsize"],
    &["--no-raw", "dbsize"],
    &["--no-raw", "exists", "a", "k1", "zz"],
    &["--no-raw", "type", "a"],
    &["--no-raw", "ttl", "a"],
    // Not HELLO: its reply carries the client id, which depends on how many
    // readiness probes connected before.
    &["--no-raw", "config", "get", "maxmemory"],
    &["-3", "--no-raw", "config", "get", "maxmemory"],
    &["-3", "--no-raw", "get", "a"],
    &["-3", "--no-raw", "get", "missing"],
    &["--no-raw", "echo", "hi there"],
];

#[test]
fn redis_cli_output_matches_reference() {
    let reference = TestServer::start(ServerKind::Reference, &[]);
    let ours = TestServer::start(ServerKind::Ours, &[]);
    let mut failures = Vec::new();
    for args in CLI_SESSION {
        let r = cli(&reference, args);
        let o = cli(&ours, args);
        if r != o {
            failures.push(format!(
                "redis-cli {args:?}\n  reference: {r:?}\n  ours:      {o:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "redis-cli output differs:\n{}",
        failures.join("\n")
    );
}

#[test]
fn redis_cli_basic_commands_against_ours() {
    // Absolute expectations too, so a server and client that agree on
    // something wrong still fail.
    let ours = TestServer::start(ServerKind::Ours, &[]);
    assert_eq!(
        cli(&ours, &["set", "a", "b"]),
        (0, "OK\n".into(), String::new())
    );
    assert_eq!(cli(&ours, &["get", "a"]), (0, "b\n".into(), String::new()));
    assert_eq!(
        cli(&ours, &["--no-raw", "get", "a"]),
        (0, "\"b\"\n".into(), String::new())
    );
    assert_eq!(
        cli(&ours, &["--no-raw", "get", "zz"]),
        (0, "(nil)\n".into(), String::new())
    );
    assert_eq!(
        cli(&ours, &["--no-raw", "incr", "c"]),
        (0, "(integer) 1\n".into(), String::new())
    );
    let (_, out, _) = cli(&ours, &["--no-raw", "incr", "a"]);
    assert_eq!(out, "(error) ERR value is not an integer or out of range\n");
}

#[test]
fn redis_benchmark_runs_every_test() {
    let bin = require_tool("/usr/bin/redis-benchmark", INSTALL_HINT);
    let ours = TestServer::start(ServerKind::Ours, &[]);
    let port = ours.port().to_string();
    let out = run_bounded(
        Command::new(bin).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "set,get,incr,ping",
            "-n",
            "2000",
            "-q",
        ]),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis-benchmark failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    // -q prints progress with \r and one final line per test.
    let finals: Vec<&str> = stdout
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .collect();
    for name in ["PING_INLINE:", "PING_MBULK:", "SET:", "GET:", "INCR:"] {
        assert!(
            finals.iter().any(|l| l.starts_with(name)),
            "redis-benchmark did not report {name}\nstdout: {stdout}\nstderr: {stderr}"
        );
    }
    // The benchmark's requests really reached the server.
    let mut c = ours.conn();
    let n = c.cmd(&["GET", "counter:__rand_int__"]);
    assert!(
        n.starts_with(b"$"),
        "INCR benchmark left no counter: {}",
        redis_testkit::escape(&n)
    );
}

#[test]
fn redis_py_suite_against_ours() {
    let python = repo_root().join(".venv/bin/python");
    if !python.is_file() {
        panic!(
            "{} missing: create it with `python3 -m venv .venv && .venv/bin/pip install redis==8.1.0 pytest==9.2.0` \
             (cargo xtask test does this)",
            python.display()
        );
    }
    let script = repo_root().join("tests/python/test_redispy.py");
    let ours = TestServer::start(ServerKind::Ours, &[]);
    let out = run_bounded(
        Command::new(python)
            .arg(&script)
            .arg(ours.port().to_string()),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "redis-py checks failed ({}):\n{}\n{}\n--- server log tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        ours.log_contents()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("redis-py checks passed"),
        "script did not finish: {stdout}"
    );
}

/// Subscription confirmations and messages are pushes, in RESP2 and RESP3:
/// `CLIENT REPLY OFF` and `SKIP` do not suppress them (upstream's pubsub
/// unit hung waiting for them).
#[test]
fn pushes_ignore_client_reply_off() {
    for proto in ["2", "3"] {
        pushes_with_reply_off(proto);
    }
}

fn pushes_with_reply_off(proto: &'static str) {
    redis_testkit::same_on_both(&[], |s| {
        let mut c = s.conn();
        let mut p = s.conn();
        let mut t = vec![c.cmd(&["HELLO", proto]).len().to_string().into_bytes()];
        c.send_raw(&redis_testkit::conn::encode_request(&[
            "CLIENT", "REPLY", "OFF",
        ]));
        t.push(c.cmd(&["SUBSCRIBE", "channel"]));
        t.push(c.cmd(&["PSUBSCRIBE", "ch*"]));
        t.push(p.cmd(&["PUBLISH", "channel", "hello"]));
        t.push(c.read_reply_raw());
        t.push(c.read_reply_raw());
        t.push(c.cmd(&["UNSUBSCRIBE", "channel"]));
        c.send_raw(&redis_testkit::conn::encode_request(&[
            "CLIENT", "REPLY", "SKIP",
        ]));
        t.push(c.cmd(&["PUNSUBSCRIBE", "ch*"]));
        c.send_raw(&redis_testkit::conn::encode_request(&[
            "CLIENT", "REPLY", "ON",
        ]));
        t.push(c.read_reply_raw());
        t.push(c.cmd(&["PING"]));
        t
    });
}
