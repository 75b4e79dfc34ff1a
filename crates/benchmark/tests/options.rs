//! Option handling against Debian's `redis-benchmark`: `--help`,
//! `--version`, invalid options and URIs give the same texts and exit
//! codes (Debian's build has TLS, ours has not: its usage carries a TLS
//! block that ours leaves out, as upstream built without TLS does), and
//! the warnings and errors of a run (cannot connect, refused AUTH,
//! NOAUTH, an error reply, unknown `-t` names) match too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{both, run, text, Server, OURS, UPSTREAM};

/// Upstream's usage without the lines of the TLS options.
fn without_tls(usage: &str) -> String {
    let mut out = String::new();
    let mut in_tls = false;
    for line in usage.split_inclusive('\n') {
        if line.starts_with(" --tls ") {
            in_tls = true;
        }
        if line.starts_with(" --help ") {
            in_tls = false;
        }
        if !in_tls {
            out.push_str(line);
        }
    }
    out
}

#[test]
fn help_and_version() {
    common::require_reference();
    let ours = run(OURS, &["--help"]);
    let upstream = run(UPSTREAM, &["--help"]);
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(text(&ours.stdout), without_tls(&text(&upstream.stdout)));
    assert!(text(&ours.stdout).starts_with("Usage: redis-benchmark [OPTIONS] [COMMAND ARGS...]\n"));
    for flag in ["--version", "-v"] {
        let ours = run(OURS, &[flag]);
        let upstream = run(UPSTREAM, &[flag]);
        assert_eq!(text(&ours.stdout), "redis-benchmark 7.0.15\n");
        assert_eq!(ours.stdout, upstream.stdout);
        assert_eq!(ours.status.code(), Some(0));
    }
}

#[test]
fn invalid_options() {
    common::require_reference();
    for args in [
        &["--foo"][..],
        &["-n"],
        &["-c"],
        &["-t"],
        &["-p", "1", "--threads"],
        &["-r", "-x"],
        &["-"],
        &["-q", "--seed", "5"],
    ] {
        let ours = run(OURS, args);
        let upstream = run(UPSTREAM, args);
        assert_eq!(ours.status.code(), Some(1), "{args:?}");
        assert_eq!(ours.status.code(), upstream.status.code(), "{args:?}");
        assert_eq!(
            text(&ours.stdout),
            without_tls(&text(&upstream.stdout)),
            "{args:?}"
        );
        assert!(
            text(&ours.stdout).starts_with("Invalid option \""),
            "{args:?}"
        );
        assert_eq!(ours.stderr, upstream.stderr, "{args:?}");
    }
}

#[test]
fn bad_uri() {
    common::require_reference();
    let ours = run(OURS, &["-u", "http://x"]);
    let upstream = run(UPSTREAM, &["-u", "http://x"]);
    assert_eq!(text(&ours.stderr), "Invalid URI scheme\n");
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));
    // Debian's build has TLS; ours refuses rediss:// as a build without.
    let ours = run(OURS, &["-u", "rediss://x"]);
    assert_eq!(
        text(&ours.stderr),
        "rediss:// is only supported when redis-benchmark is compiled with OpenSSL\n"
    );
    assert_eq!(ours.status.code(), Some(1));
}

#[test]
fn cannot_connect_unix_socket() {
    common::require_reference();
    let args = ["-s", "/nonexistent/redis.sock", "-n", "10", "-q"];
    let ours = run(OURS, &args);
    let upstream = run(UPSTREAM, &args);
    let msg = "Could not connect to Redis at /nonexistent/redis.sock: No such file or directory\n";
    assert_eq!(
        text(&ours.stderr),
        format!("{msg}WARNING: Could not fetch server CONFIG\n{msg}")
    );
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));
}

/// A refused TCP connection: upstream prints the same two messages but
/// then spins forever; ours exits 1 with the connect error.
#[test]
fn cannot_connect_tcp() {
    let port = common::free_port().to_string();
    let out = run(OURS, &["-p", &port, "-n", "10", "-q"]);
    let msg = format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n");
    assert_eq!(
        text(&out.stderr),
        format!("{msg}WARNING: Could not fetch server CONFIG\n{msg}")
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn auth_errors() {
    let plain = Server::start(&[]);
    let (ours, upstream) = both(plain.port, &["-a", "wrong", "-n", "10", "-q", "-t", "set"]);
    assert!(text(&ours.stderr).starts_with(&format!(
        "Node 127.0.0.1:{} replied with error:\nERR AUTH <password> called without any password",
        plain.port
    )));
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));

    let locked = Server::start(&["--requirepass", "secret"]);
    let (ours, upstream) = both(locked.port, &["-n", "10", "-q", "-t", "set"]);
    assert_eq!(
        text(&ours.stderr),
        format!(
            "Node 127.0.0.1:{} replied with error:\nNOAUTH Authentication required.\n",
            locked.port
        )
    );
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), upstream.status.code());
    let (ours, upstream) = both(
        locked.port,
        &[
            "-a", "secret", "--user", "nobody", "-n", "10", "-q", "-t", "set",
        ],
    );
    assert!(text(&ours.stderr).contains("WRONGPASS"));
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), Some(1));
}

#[test]
fn run_errors_and_warnings() {
    let s = Server::start(&[]);
    // An error reply ends the run at once.
    let (ours, upstream) = both(s.port, &["-n", "10", "-q", "foo", "bar"]);
    assert_eq!(
        text(&ours.stderr),
        "Error from server: ERR unknown command 'foo', with args beginning with: 'bar' \n"
    );
    assert_eq!(ours.stderr, upstream.stderr);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));

    // Unknown -t names: nothing runs, the closing blank line remains.
    let (ours, upstream) = both(
        s.port,
        &["-n", "10", "-t", "foo,LPUSH (needed to benchmark LRANGE)"],
    );
    assert_eq!(text(&ours.stdout), "\n");
    assert_eq!(ours.stdout, upstream.stdout);
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(upstream.status.code(), Some(0));
    let (ours, _) = both(s.port, &["-n", "10", "-t", "", "--csv"]);
    assert_eq!(
        text(&ours.stdout),
        "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n"
    );

    // Warnings go to stderr, the run goes on. (Not -k 0 with threads:
    // upstream then often aborts with "All clients disconnected".)
    for args in [
        &[
            "-e",
            "--threads",
            "900",
            "-n",
            "100",
            "-c",
            "2",
            "-t",
            "ping",
            "--csv",
        ][..],
        &["-k", "0", "-n", "100", "-c", "2", "-t", "ping", "--csv"],
    ] {
        let (ours, upstream) = both(s.port, args);
        assert_eq!(ours.stderr, upstream.stderr, "{}", text(&ours.stderr));
        assert_eq!(ours.status.code(), Some(0));
        assert_eq!(upstream.status.code(), Some(0));
    }
    let (ours, _) = both(
        s.port,
        &[
            "-e",
            "--threads",
            "900",
            "-k",
            "0",
            "-n",
            "10",
            "-t",
            "get",
            "-q",
        ],
    );
    assert_eq!(
        text(&ours.stderr),
        "WARNING: -e option has no effect. We now immediately exit on error to avoid false results.\n\
         WARNING: Too many threads, limiting threads to 500.\n\
         WARNING: Keepalive disabled. You probably need 'echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse' for Linux and 'sudo sysctl -w net.inet.tcp.msl=1000' for Mac OS X in order to use a lot of clients/requests\n"
    );

    // A server without CONFIG: a warning, and no host configuration lines.
    let bare = Server::start(&["--rename-command", "CONFIG", ""]);
    let (ours, upstream) = both(bare.port, &["-n", "100", "-t", "get"]);
    assert_eq!(
        text(&ours.stderr),
        "WARNING: Could not fetch server CONFIG\n"
    );
    assert_eq!(ours.stderr, upstream.stderr);
    assert!(!text(&ours.stdout).contains("host configuration"));
    common::assert_same_structure("no CONFIG", &text(&ours.stdout), &text(&upstream.stdout));

    // The connection is closed under the clients.
    let (ours, upstream) = both(
        s.port,
        &[
            "-n", "10", "-c", "2", "-q", "client", "kill", "type", "normal",
        ],
    );
    let err = text(&ours.stderr);
    assert!(
        err == "Error: Connection reset by peer\n"
            || err == "Error: Server closed the connection\n",
        "{err}"
    );
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(upstream.status.code(), Some(1));
}
