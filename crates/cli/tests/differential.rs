//! Differential tests: the upstream `/usr/bin/redis-cli` and our binary run with
//! the same arguments and stdin against the same reference `redis-server`, and
//! must produce identical stdout, stderr and exit status, both with a pipe as
//! stdout (raw mode) and under a pty via `script` (formatted mode).
//!
//! Fails when the reference binaries are not installed. Every spawned process
//! is killed by PID on drop, and every wait is bounded in time (the server
//! and the runs are the testkit's).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis_testkit::{require_tool, run_bounded_with_input, ServerKind, TestServer};

const UPSTREAM: &str = "/usr/bin/redis-cli";
const OURS: &str = env!("CARGO_BIN_EXE_redis-cli");
const HINT: &str = "install redis-tools and util-linux (cargo xtask test does)";

/// Fails the test (never skips it) when a required tool is missing: CI
/// installs them, so a missing one is a broken environment. (The testkit
/// checks for the reference server itself.)
fn require_tools() {
    require_tool(UPSTREAM, HINT);
    require_tool("/usr/bin/script", HINT);
}

/// The reference server both clients talk to, with DEBUG enabled.
fn start_server() -> TestServer {
    TestServer::start(ServerKind::Reference, &["--enable-debug-command", "yes"])
}

/// Runs `cmd` with `stdin`, waiting at most 20 seconds.
fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    run_bounded_with_input(&mut cmd, stdin, Duration::from_secs(20))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Resets the server and runs the setup commands with the upstream client.
fn prepare(port: u16, setup: &[&[&str]]) {
    let p = port.to_string();
    let mut all: Vec<&[&str]> = vec![&["FLUSHALL"]];
    all.extend_from_slice(setup);
    for c in all {
        let mut cmd = Command::new(UPSTREAM);
        cmd.args(["-p", &p]).args(c.iter());
        let out = run(cmd, b"");
        assert!(out.status.success(), "setup {c:?} failed");
    }
}

/// Asserts both clients behave identically for `args` + `stdin`, raw and tty.
fn check(srv: &TestServer, setup: &[&[&str]], args: &[&str], stdin: &[u8]) {
    let port = srv.port().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("$PORT", &port)).collect();
    let mut results = Vec::new();
    for bin in [UPSTREAM, OURS] {
        prepare(srv.port(), setup);
        let mut cmd = Command::new(bin);
        cmd.args(&args).env_remove("REDISCLI_AUTH");
        let piped = run(cmd, stdin);

        prepare(srv.port(), setup);
        static INPUTS: AtomicU64 = AtomicU64::new(0);
        let n = INPUTS.fetch_add(1, Ordering::Relaxed);
        let input = srv.dir().join(format!("cli-input-{n}"));
        std::fs::write(&input, stdin).unwrap();
        let line = std::iter::once(bin.to_string())
            .chain(args.iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("/usr/bin/script");
        cmd.args([
            "-qec",
            &format!("{line} < {}", input.display()),
            "/dev/null",
        ]);
        let tty = run(cmd, b"");
        let _ = std::fs::remove_file(&input);
        results.push((piped, tty));
    }
    let (up, ours) = (&results[0], &results[1]);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(
        show(&up.0.stdout),
        show(&ours.0.stdout),
        "stdout of {args:?}"
    );
    assert_eq!(
        show(&up.0.stderr),
        show(&ours.0.stderr),
        "stderr of {args:?}"
    );
    assert_eq!(
        up.0.status.code(),
        ours.0.status.code(),
        "status of {args:?}"
    );
    assert_eq!(
        show(&up.1.stdout),
        show(&ours.1.stdout),
        "tty output of {args:?}"
    );
    assert_eq!(
        up.1.status.code(),
        ours.1.status.code(),
        "tty status of {args:?}"
    );
}

const DATA: &[&[&str]] = &[
    &["RPUSH", "l", "a", "b\"c", "x\ny", "", "\u{1}\\"],
    &["HSET", "h", "f1", "v1", "f2", "2"],
    &["ZADD", "z", "0.1", "m", "2", "n", "1.5", "o"],
    &["SET", "s", "hello"],
    &["SET", "odd", "a\"b\\c/\u{1}\u{1f}\u{7f}\n\r\t\u{8}\u{c}é"],
];

#[test]
fn reply_types_raw_and_tty() {
    require_tools();
    let srv = start_server();
    let cases: &[&[&str]] = &[
        &["PING"],
        &["GET", "s"],
        &["GET", "odd"],
        &["-2", "HGETALL", "h"],
        &["GET", "nokey"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "empty", "0", "-1"],
        &["INCR", "counter"],
        &["NOSUCHCOMMAND", "x"],
        &["INCR", "l"],
        &["HGETALL", "h"],
        &["COMMAND", "INFO", "get"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["-3", "HGETALL", "h"],
        &["-3", "ZSCORE", "z", "m"],
        &["-3", "ZINCRBY", "z", "0.25", "o"],
        &["-3", "ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["-3", "SMEMBERS", "nos"],
        &["-3", "HGETALL", "nos"],
        &["-3", "CONFIG", "GET", "maxmemory*"],
        &["-3", "DEBUG", "PROTOCOL", "true"],
        &["-3", "DEBUG", "PROTOCOL", "false"],
        &["-3", "DEBUG", "PROTOCOL", "verbatim"],
        &["-3", "DEBUG", "PROTOCOL", "map"],
        &["-3", "DEBUG", "PROTOCOL", "set"],
        &["-3", "DEBUG", "PROTOCOL", "null"],
        &["-3", "DEBUG", "PROTOCOL", "bignum"],
        &["-3", "DEBUG", "PROTOCOL", "attrib"],
        &["MULTI"],
    ];
    for c in cases {
        let mut args = vec!["-p", "$PORT"];
        args.extend_from_slice(c);
        check(&srv, DATA, &args, b"");
        // The same through --no-raw and --csv.
        let mut no_raw = vec!["--no-raw"];
        no_raw.extend_from_slice(&args);
        check(&srv, DATA, &no_raw, b"");
        let mut csv = vec!["--csv"];
        csv.extend_from_slice(&args);
        check(&srv, DATA, &csv, b"");
        // And the JSON forms (RESP3 unless -2).
        for mode in ["--json", "--quoted-json"] {
            let mut json = vec![mode];
            json.extend_from_slice(&args);
            check(&srv, DATA, &json, b"");
        }
    }
}

#[test]
fn options_errors_and_modes() {
    require_tools();
    let srv = start_server();
    let cases: &[(&[&str], &[u8])] = &[
        (&["-p", "$PORT", "-a", "secret", "PING"], b""),
        (&["-p", "$PORT", "-a", "secret", "--no-auth-warning", "PING"], b""),
        (&["-u", "redis://u:p@127.0.0.1:$PORT/2", "PING"], b""),
        (&["-p", "$PORT", "-n", "3", "SET", "k", "v"], b""),
        (&["-p", "$PORT", "-n", "99", "GET", "k"], b""),
        (&["-p", "1", "PING"], b""),
        (&["-s", "/nonexistent/sock", "PING"], b""),
        (&["-p", "$PORT", "--bogus"], b""),
        (&["-2", "-3", "PING"], b""),
        (&["-u", "http://x", "PING"], b""),
        (&["--version"], b""),
        (&["--help"], b""),
        (&["-p", "$PORT", "-e", "NOSUCH"], b""),
        (&["-p", "$PORT", "-r", "3", "INCR", "c"], b""),
        (&["-p", "$PORT", "-r", "2", "-i", "0.05", "LRANGE", "l", "0", "1"], b""),
        (&["-p", "$PORT", "-d", "|", "LRANGE", "l", "0", "-1"], b""),
        (&["-p", "$PORT", "-x", "SET", "fromstdin"], b"line1\nline2\0bin\n"),
        (&["-p", "$PORT", "-X", "tag", "SET", "k", "tag"], b"from\nstdin\0"),
        (&["-p", "$PORT", "-X", "tag", "SET", "tag", "tag"], b"first"),
        (&["-p", "$PORT", "-X", "tag", "SET", "k", "v"], b"unused"),
        (&["-p", "1", "-X", "tag", "SET", "k", "v"], b""),
        (&["-x", "-X", "tag", "PING"], b""),
        (&["-X"], b""),
        (&["-p", "$PORT", "--quoted-input", "SET", "\"a\\x00b\"", "v"], b""),
        (&["-p", "$PORT", "HELP", "SET"], b""),
        (&["-p", "$PORT", "HELP"], b""),
        (&["-p", "$PORT", "HELP", "@hash"], b""),
        (&["-p", "$PORT", "HELP", "client"], b""),
        (&["-p", "$PORT", "HELP", "xadd"], b""),
        (&["-p", "$PORT", "HELP", "nosuch"], b""),
        (
            &["-p", "$PORT"],
            b"SET a 1\nGET a\nNOSUCH\n\n   \nINCR a\n\"unbalanced\n3 INCR c\n0 INCR c\nSELECT 2\nMULTI\nEXEC\nQUIT\nPING\n",
        ),
        (&["-p", "$PORT", "-e", "--csv"], b"SET a 1\nNOSUCH\nLRANGE l 0 -1\n"),
        (
            &["-p", "$PORT", "--pipe"],
            b"SET k1 v1\r\n*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n*1\r\n$6\r\nNOSUCH\r\n",
        ),
        (&["-p", "1", "--pipe"], b"PING\r\n"),
    ];
    for (args, stdin) in cases {
        check(&srv, DATA, args, stdin);
    }
}

#[test]
fn pipe_mass_insertion_counts_replies() {
    require_tools();
    let srv = start_server();
    let mut input = Vec::new();
    for i in 0..20_000 {
        let k = format!("key:{i}");
        input.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$1\r\nv\r\n", k.len()).as_bytes(),
        );
    }
    check(&srv, &[], &["-p", "$PORT", "--pipe"], &input);
    let mut cmd = Command::new(OURS);
    cmd.args(["-p", &srv.port().to_string(), "DBSIZE"]);
    assert_eq!(run(cmd, b"").stdout, b"20000\n");
}

/// A stand-in server that answers the first request of each of `conns`
/// connections with `reply`, then waits for the client to hang up. The
/// thread gives up after 30 seconds without a client.
fn garbage_server(reply: &'static [u8], conns: usize) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        while served < conns && std::time::Instant::now() < deadline {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
            let _ = s.read(&mut buf);
        }
    });
    port
}

/// Malformed replies end both clients with hiredis' error text.
#[test]
fn garbage_replies_fail_like_upstream() {
    require_tools();
    let replies: &[&'static [u8]] = &[b"?x\r\n", b"\x01\r\n", b"|1\r\n+a\r\n+b\r\n+OK\r\n"];
    for reply in replies {
        let port = garbage_server(reply, 2).to_string();
        let mut outs = Vec::new();
        for bin in [UPSTREAM, OURS] {
            let mut cmd = Command::new(bin);
            cmd.args(["-p", &port, "PING"]);
            let out = run(cmd, b"");
            outs.push((out.status.code(), out.stdout, out.stderr));
        }
        let show = |o: &(Option<i32>, Vec<u8>, Vec<u8>)| {
            format!(
                "{:?} {:?} {:?}",
                o.0,
                String::from_utf8_lossy(&o.1),
                String::from_utf8_lossy(&o.2)
            )
        };
        assert_eq!(show(&outs[0]), show(&outs[1]), "reply {reply:?}");
    }
}
