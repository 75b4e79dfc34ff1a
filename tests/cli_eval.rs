//! `redis-cli --eval`, `--ldb` and `--ldb-sync-mode`: our client against
//! Debian's `/usr/bin/redis-cli`, both run with the same arguments and the
//! same stdin (debugger commands piped in, so no tty is involved) against
//! the reference `redis-server`; their stdout must be identical byte for
//! byte (nothing in these sessions varies between runs, so nothing is
//! masked). `TERM` is set so the debugger's colours are part of what is
//! compared. Our client against our own server runs a synchronous and a
//! forked session, compared with Debian's client against the reference.
//!
//! Servers listen on free loopback ports in their own temp dirs; scripts
//! live in another temp dir, the clients' working directory. Every run is
//! bounded in time and every process is killed by PID on drop, also when
//! a test fails.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_testkit::{
    require_tool, run_bounded_with_input, ChildGuard, ServerKind, TempDir, TestServer,
};

const REF_CLI: &str = "/usr/bin/redis-cli";
const HINT: &str = "install redis-tools (cargo xtask test does)";
/// How long one client run may take.
const LIMIT: Duration = Duration::from_secs(20);

/// The script run with keys and arguments.
const KEYS_SCRIPT: &str = "return {KEYS, ARGV, #KEYS, #ARGV}\n";

/// The debugged script: a command, a table, a reply read back.
const DEBUG_SCRIPT: &str = "local a = KEYS[1]
redis.call('set', a, ARGV[1])
local t = {1, 'two', {3}}
redis.debug('dbg', t)
return {a, redis.call('get', a)}
";

/// The debugger session: the commands of the brief, then a command after
/// the session ended (a new connection, the human format).
const SESSION: &str = "step\nprint\nredis ping\n\ncontinue\nget k1\n";

fn ours() -> PathBuf {
    redis_testkit::server::ours_binary("redis-cli")
}

fn reference() -> PathBuf {
    require_tool(REF_CLI, HINT)
}

/// The scripts, in a temp dir that is the clients' working directory.
fn scripts() -> TempDir {
    let dir = TempDir::new();
    for (name, body) in [
        ("keys.lua", KEYS_SCRIPT),
        ("debug.lua", DEBUG_SCRIPT),
        ("bad.lua", "return +\n"),
    ] {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

/// `bin` with `args` against `srv`, in `cwd`, with a fixed environment.
fn command(bin: &Path, srv: &TestServer, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("-p")
        .arg(srv.port().to_string())
        .args(args)
        .current_dir(cwd)
        .env("TERM", "xterm")
        .env("REDISCLI_HISTFILE", "/dev/null")
        .env_remove("REDISCLI_AUTH")
        .env_remove("FAKETTY");
    cmd
}

/// Empties the server so every run starts from the same dataset.
fn flush(srv: &TestServer) {
    assert_eq!(srv.conn().cmd(&["FLUSHALL"]), b"+OK\r\n");
}

/// Runs `bin` with `args` and `stdin` on a flushed `srv`.
fn run(bin: &Path, srv: &TestServer, cwd: &Path, args: &[&str], stdin: &str) -> Output {
    flush(srv);
    run_bounded_with_input(&mut command(bin, srv, cwd, args), stdin.as_bytes(), LIMIT)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Both clients, same arguments and stdin, against the reference server:
/// same stdout and exit status. Returns the reference client's output.
fn same(srv: &TestServer, cwd: &Path, args: &[&str], stdin: &str) -> Output {
    let up = run(&reference(), srv, cwd, args, stdin);
    let got = run(&ours(), srv, cwd, args, stdin);
    assert_eq!(text(&up.stdout), text(&got.stdout), "stdout of {args:?}");
    assert_eq!(up.status.code(), got.status.code(), "status of {args:?}");
    up
}

#[test]
fn eval_with_keys_and_args() {
    let srv = TestServer::start(ServerKind::Reference, &[]);
    let dir = scripts();
    let cwd = dir.path();
    let out = same(
        &srv,
        cwd,
        &["--eval", "keys.lua", "k1", "k2", ",", "a1", "a2"],
        "",
    );
    assert_eq!(text(&out.stdout), "k1\nk2\na1\na2\n2\n2\n");
    // The human format, and commas that are not a word of their own.
    same(
        &srv,
        cwd,
        &[
            "--no-raw", "--eval", "keys.lua", "k1", "k2,", ",a1", ",", ",", "",
        ],
        "",
    );
    same(&srv, cwd, &["--eval", "keys.lua"], "");
    // Options may follow --eval; -r repeats the EVAL.
    same(
        &srv,
        cwd,
        &["--eval", "keys.lua", "--csv", "-r", "2", "k", ",", "a"],
        "",
    );
}

#[test]
fn eval_of_a_missing_file() {
    let srv = TestServer::start(ServerKind::Reference, &[]);
    let dir = scripts();
    for args in [
        &["--eval", "missing.lua", "k1"][..],
        &["--ldb", "--eval", "missing.lua"][..],
    ] {
        let up = same(&srv, dir.path(), args, "");
        assert_eq!(up.status.code(), Some(1));
        assert_eq!(
            text(&up.stderr),
            "Can't open file 'missing.lua': No such file or directory\n"
        );
        let got = run(&ours(), &srv, dir.path(), args, "");
        assert_eq!(text(&up.stderr), text(&got.stderr), "stderr of {args:?}");
    }
    // --ldb without --eval is refused before connecting; the message
    // names the program as it was invoked.
    same(&srv, dir.path(), &["--ldb", "ping"], "");
    for bin in [reference(), ours()] {
        let out = run(&bin, &srv, dir.path(), &["--ldb", "ping"], "");
        assert_eq!(
            text(&out.stderr),
            format!(
                "Options --ldb and --ldb-sync-mode require --eval.\n\
                 Try {} --help for more information.\n",
                bin.display()
            )
        );
    }
}

#[test]
fn ldb_sync_session() {
    let srv = TestServer::start(ServerKind::Reference, &[]);
    let dir = scripts();
    let args = ["--ldb-sync-mode", "--eval", "debug.lua", "k1", ",", "v1"];
    let out = same(&srv, dir.path(), &args, SESSION);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("Lua debugging session started"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\x1b[0;32;49m<redis> ping\x1b[0m\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("\n(Lua debugging session ended)\n\n\"v1\"\n"),
        "{stdout}"
    );
    // Without an xterm, no colours; --no-raw prints the debugger's
    // replies in the human format instead.
    for term in ["dumb", ""] {
        let mut outs = Vec::new();
        for bin in [reference(), ours()] {
            flush(&srv);
            let mut cmd = command(&bin, &srv, dir.path(), &args);
            cmd.env("TERM", term);
            outs.push(run_bounded_with_input(&mut cmd, SESSION.as_bytes(), LIMIT));
        }
        assert_eq!(text(&outs[0].stdout), text(&outs[1].stdout), "TERM={term}");
    }
    let mut no_raw = vec!["--no-raw"];
    no_raw.extend_from_slice(&args);
    same(
        &srv,
        dir.path(),
        &no_raw,
        "step\neval \"return 1\"\ne error(\"x\")\nc\n",
    );
    // A script that does not compile: the session cannot start.
    let out = same(
        &srv,
        dir.path(),
        &["--ldb-sync-mode", "--eval", "bad.lua"],
        "c\n",
    );
    assert!(text(&out.stdout).contains("Eval debugging session can't start:\n(error) ERR"));
}

#[test]
fn ldb_forked_session() {
    let srv = TestServer::start(ServerKind::Reference, &[]);
    let dir = scripts();
    let args = ["--ldb", "--eval", "debug.lua", "k1", ",", "v1"];
    let out = same(&srv, dir.path(), &args, SESSION);
    let stdout = text(&out.stdout);
    // The dataset changes are rolled back: k1 is not set afterwards.
    assert!(
        stdout
            .ends_with("\n(Lua debugging session ended -- dataset changes rolled back)\n\n(nil)\n"),
        "{stdout}"
    );
}

/// Runs `bin` with `first` on stdin, waits until its stdout shows `marker`,
/// calls `between`, then sends `rest` and closes stdin.
fn run_in_two_parts(
    mut cmd: Command,
    first: &str,
    marker: &str,
    between: impl FnOnce(),
    rest: &str,
) -> Vec<u8> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd);
    let mut stdin = child.0.stdin.take().unwrap();
    let mut stdout = child.0.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    stdin.write_all(first.as_bytes()).unwrap();
    let deadline = Instant::now() + LIMIT;
    while !text(&seen.lock().unwrap()).contains(marker) {
        assert!(Instant::now() < deadline, "no {marker:?} within {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    between();
    stdin.write_all(rest.as_bytes()).unwrap();
    drop(stdin);
    assert!(
        child.wait_bounded(LIMIT).is_some(),
        "the client did not exit"
    );
    reader.join().unwrap();
    let out = seen.lock().unwrap().clone();
    out
}

#[test]
fn ldb_restart_rereads_the_script() {
    let srv = TestServer::start(ServerKind::Reference, &[]);
    let dir = scripts();
    let args = ["--ldb-sync-mode", "--eval", "debug.lua", "k1", ",", "v1"];
    let mut outs = Vec::new();
    for bin in [reference(), ours()] {
        std::fs::write(dir.path().join("debug.lua"), DEBUG_SCRIPT).unwrap();
        flush(&srv);
        let cmd = command(&bin, &srv, dir.path(), &args);
        // The file changes once the session runs; `restart` must see it.
        let edit = || std::fs::write(dir.path().join("debug.lua"), "return ARGV[1]\n").unwrap();
        outs.push(text(&run_in_two_parts(
            cmd,
            "step\n",
            "Stopped at 2",
            edit,
            "RESTART\nstep\nrestart now\ncontinue\nquit\nping\n",
        )));
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0].matches("Lua debugging session started").count(), 3);
    assert!(outs[0].contains("-> 1   return ARGV[1]"), "{}", outs[0]);
    // Once the session ended, `restart` still starts a new one.
    same(&srv, dir.path(), &args, "continue\nrestart\ncontinue\n");
}

/// Our client against our server gives what Debian's client gives
/// against the reference, for a synchronous and a forked session (the
/// last command shows whether the session's write stayed).
#[test]
fn ldb_sessions_on_our_server() {
    let dir = scripts();
    for mode in ["--ldb-sync-mode", "--ldb"] {
        let args = [mode, "--eval", "debug.lua", "k1", ",", "v1"];
        let stdin = "step\nprint\nlist\nredis ping\nrestart\nstep\nstep\ncontinue\nget k1\n";
        let reference_srv = TestServer::start(ServerKind::Reference, &[]);
        let expected = run(&reference(), &reference_srv, dir.path(), &args, stdin);
        drop(reference_srv);
        let our_srv = TestServer::start(ServerKind::Ours, &[]);
        let got = run(&ours(), &our_srv, dir.path(), &args, stdin);
        assert_eq!(text(&expected.stdout), text(&got.stdout), "{mode}");
        assert_eq!(expected.status.code(), got.status.code(), "{mode}");
    }
}
