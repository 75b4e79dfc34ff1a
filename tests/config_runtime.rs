//! Configuration that acts on a running server, compared with the
//! reference: `rename-command` (lookups, `COMMAND` introspection, fatal
//! config errors, a replica whose primary streams a command renamed on
//! it, AOF loading), `CONFIG SET` of `port`/`bind`/`dir`/`loglevel`, the
//! protected configs and the protected commands (`DEBUG`, `MODULE`).

use std::path::Path;
use std::time::{Duration, Instant};

use redis_testkit::{assert_resp_eq, same_on_both, Conn, ServerKind, TempDir, TestServer};

const KINDS: [ServerKind; 2] = [ServerKind::Reference, ServerKind::Ours];

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

/// The value of `name:` in an `INFO` reply.
fn info_field(c: &mut Conn, section: &str, name: &str) -> Option<String> {
    let raw = text(&c.cmd(&["INFO", section]));
    raw.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

/// The message part of the log lines containing `needle` (without the
/// `pid:role date time level` prefix, which differs between runs).
fn log_messages(log: &str, needle: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(needle))
        .map(|l| {
            // "pid:R dd Mon yyyy hh:mm:ss.mmm L message"
            l.splitn(6, ' ').nth(5).unwrap_or(l).to_string()
        })
        .collect()
}

// ---------------------------------------------------------------- rename

const RENAMES: &[&str] = &[
    "--rename-command",
    "config",
    "CFG",
    "--rename-command",
    "flushall",
    "",
    "--rename-command",
    "get",
    "mYgEt",
];

#[test]
fn renamed_and_removed_commands_answer_like_upstream() {
    same_on_both(RENAMES, |s| {
        let mut c = s.conn();
        vec![
            c.cmd(&["CONFIG", "GET", "maxmemory"]),
            c.cmd(&["cfg", "GET", "maxmemory"]),
            c.cmd(&["FLUSHALL"]),
            c.cmd(&["SET", "x", "1"]),
            c.cmd(&["GET", "x"]),
            c.cmd(&["MYGET", "x"]),
            c.cmd(&["myget"]),
            c.cmd(&["CFG"]),
            c.cmd(&["CFG", "SET"]),
            c.cmd(&["Cfg", "nosuch"]),
            c.cmd(&["CFG", "SET", "rename-command", "get foo"]),
            c.cmd(&["CFG", "GET", "rename-command"]),
            // (Container commands list their subcommands in hash order
            // upstream, which changes from run to run.)
            c.cmd(&["COMMAND", "INFO", "config", "myget", "get", "flushall"]),
            c.cmd(&["COMMAND", "INFO", "config|get", "cfg|get"]),
            c.cmd(&["COMMAND", "INFO", "cfg"])[..24].to_vec(),
            c.cmd(&["COMMAND", "DOCS", "flushall", "get"]),
            c.cmd(&["COMMAND", "GETKEYS", "myget", "k"]),
            c.cmd(&["COMMAND", "GETKEYS", "get", "k"]),
            c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "flush*"]),
            c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "myg*"]),
            c.cmd(&["MULTI"]),
            c.cmd(&["GET", "x"]),
            c.cmd(&["EXEC"]),
        ]
    });
}

#[test]
fn command_count_list_and_stats_see_renames_like_upstream() {
    for kind in KINDS {
        let plain = TestServer::start(kind, &[]);
        let count = |c: &mut Conn| -> i64 {
            let r = text(&c.cmd(&["COMMAND", "COUNT"]));
            r.trim_start_matches(':').trim().parse().unwrap()
        };
        let before = count(&mut plain.conn());
        drop(plain);
        let s = TestServer::start(kind, RENAMES);
        let mut c = s.conn();
        // One command removed; renamed ones still count.
        assert_eq!(count(&mut c), before - 1, "{kind:?}");
        // The list shows commands by their own names.
        let list = text(&c.cmd(&["COMMAND", "LIST"]));
        let names: Vec<&str> = list
            .lines()
            .filter(|l| !l.starts_with(['*', '$']))
            .collect();
        assert!(
            names.contains(&"config") && names.contains(&"get"),
            "{kind:?}"
        );
        assert!(
            !names.contains(&"flushall") && !names.contains(&"cfg"),
            "{kind:?}"
        );
        assert!(!names.contains(&"myget"), "{kind:?}");
        // Statistics too.
        c.cmd(&["MYGET", "x"]);
        c.cmd(&["CFG", "GET", "port"]);
        let stats = text(&c.cmd(&["INFO", "commandstats"]));
        assert!(stats.contains("cmdstat_get:calls=1,"), "{kind:?}: {stats}");
        assert!(
            stats.contains("cmdstat_config|get:calls=1,"),
            "{kind:?}: {stats}"
        );
    }
}

#[test]
fn bad_rename_command_lines_are_fatal_like_upstream() {
    let dir = TempDir::new();
    for (contents, extra) in [
        ("hz 10\nrename-command nosuch foo\n", vec![]),
        ("rename-command get set\n", vec![]),
        ("rename-command get \"\"\nrename-command GET x\n", vec![]),
        ("rename-command get\n", vec![]),
        ("rename-command get a b\n", vec![]),
        // The first bad line wins, even before another kind of error.
        ("rename-command nosuch x\nport abc\n", vec![]),
        ("hz 10\n", vec!["--rename-command", "get", "set"]),
    ] {
        let path = dir.path().join("bad.conf");
        std::fs::write(&path, contents).unwrap();
        let mut args = vec![path.to_str().unwrap()];
        args.extend(extra.iter().copied());
        // Never the default port, should a server get that far.
        args.extend(["--port", "0", "--bind", "127.0.0.1"]);
        let (rc_ref, err_ref) = ServerKind::Reference.run_to_exit(&args);
        let (rc_ours, err_ours) = ServerKind::Ours.run_to_exit(&args);
        assert_eq!(rc_ref, 1, "{err_ref}");
        assert_eq!(rc_ours, rc_ref, "exit code for {contents:?}: {err_ours}");
        assert_eq!(err_ours.trim(), err_ref.trim(), "output for {contents:?}");
    }
}

/// Waits (bounded) until `replica` is linked and has applied everything
/// `primary` has produced.
fn wait_in_sync(primary: &mut Conn, replica: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = info_field(replica, "replication", "master_link_status");
        let po = info_field(primary, "replication", "master_repl_offset");
        let ro = info_field(replica, "replication", "master_repl_offset");
        if up.as_deref() == Some("up") && po.is_some() && po == ro {
            return;
        }
        assert!(Instant::now() < deadline, "replica did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn replica_drops_a_command_renamed_on_it_and_logs_like_upstream() {
    let mut logged = Vec::new();
    for kind in KINDS {
        let primary = TestServer::start(ServerKind::Ours, &["--repl-diskless-sync-delay", "0"]);
        let port = primary.port().to_string();
        let replica = TestServer::start(
            kind,
            &[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--rename-command",
                "set",
                "myset",
            ],
        );
        let mut p = primary.conn();
        let mut r = replica.conn();
        wait_in_sync(&mut p, &mut r);
        assert_eq!(p.cmd(&["SET", "a", "1"]), b"+OK\r\n");
        assert_eq!(p.cmd(&["INCR", "n"]), b":1\r\n");
        wait_in_sync(&mut p, &mut r);
        // The unknown command is dropped, the stream goes on.
        assert_eq!(r.cmd(&["GET", "a"]), b"$-1\r\n", "{kind:?}");
        assert_eq!(r.cmd(&["GET", "n"]), b"$1\r\n1\r\n", "{kind:?}");
        assert_eq!(
            info_field(&mut r, "stats", "unexpected_error_replies").as_deref(),
            Some("1"),
            "{kind:?}"
        );
        let log = replica.log_contents();
        let lines = log_messages(&log, "== CRITICAL ==");
        assert_eq!(lines.len(), 1, "{kind:?}: {log}");
        let backlog = log_messages(&log, "Latest backlog is: ");
        assert_eq!(backlog.len(), 1, "{kind:?}: {log}");
        logged.push(lines);
    }
    assert_eq!(logged[0], logged[1]);
    assert_eq!(
        logged[0][0],
        "# == CRITICAL == This replica is sending an error to its master: 'unknown command 'SET', with args beginning with: 'a' '1' ' after processing the command '<unknown>'"
    );
}

#[test]
fn aof_with_a_command_renamed_away_fails_to_load_like_upstream() {
    let mut outcomes = Vec::new();
    for kind in KINDS {
        let dir = TempDir::new();
        let base = ["--save", "", "--appendonly", "yes", "--dir", dir.path_str()];
        let mut args = base.to_vec();
        args.extend(["--rename-command", "set", "myset"]);
        {
            let s = TestServer::start(kind, &args);
            let mut c = s.conn();
            // The command goes to the AOF as it was sent.
            assert_eq!(c.cmd(&["MYSET", "k", "v"]), b"+OK\r\n");
            assert_eq!(c.cmd(&["INCR", "n"]), b":1\r\n");
        }
        let aof: Vec<u8> = std::fs::read_dir(dir.path().join("appendonlydir"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
            .flat_map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        assert!(text(&aof).contains("$5\r\nMYSET\r\n"), "{kind:?}");
        // Back with the same renames: everything loads.
        {
            let s = TestServer::start(kind, &args);
            assert_eq!(s.conn().cmd(&["GET", "k"]), b"$1\r\nv\r\n", "{kind:?}");
        }
        // Without them, or with a command removed: the load is fatal.
        // (No TCP port: the server must not get as far as listening.)
        let sock = dir.path().join("s.sock");
        let quiet = [
            "--port",
            "0",
            "--unixsocket",
            sock.to_str().unwrap(),
            "--logfile",
            "",
        ];
        let mut plain = quiet.to_vec();
        plain.extend(base);
        let (rc1, out1) = kind.run_to_exit(&plain);
        let mut removed = quiet.to_vec();
        removed.extend(args.iter().copied());
        removed.extend(["--rename-command", "incr", ""]);
        let (rc2, out2) = kind.run_to_exit(&removed);
        // (Our first incr file is numbered differently: compare the
        // message up to the file name.)
        let unknown = |out: &str| -> Vec<String> {
            log_messages(out, "Unknown command")
                .iter()
                .map(|m| {
                    m.split(" appendonly.aof.")
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        };
        outcomes.push((rc1, unknown(&out1), rc2, unknown(&out2)));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[1].0, 1);
    assert_eq!(
        outcomes[1].1,
        vec!["# Unknown command 'MYSET' reading the append only file"]
    );
    assert_eq!(
        outcomes[1].3,
        vec!["# Unknown command 'INCR' reading the append only file"]
    );
}

// ------------------------------------------------- protected commands

/// One request over a Unix socket; the reply bytes.
fn unix_cmd(path: &Path, args: &[&str]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&redis_testkit::conn::encode_request(args))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some(n)) = redis_testkit::reply_len(&buf) {
            buf.truncate(n);
            return buf;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed after {}", text(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn debug_and_module_are_refused_by_default_like_upstream() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        vec![
            c.cmd(&["DEBUG", "SLEEP", "0"]),
            c.cmd(&["DEBUG", "HELP"]),
            c.cmd(&["MODULE", "LIST"]),
            c.cmd(&["module", "help"]),
            c.cmd(&["MODULE", "LOAD", "/nonexistent.so"]),
            c.cmd(&["MODULE", "LOADEX", "/nonexistent.so"]),
            c.cmd(&["MODULE", "UNLOAD", "x"]),
            // Arity and unknown subcommands come before the check.
            c.cmd(&["MODULE"]),
            c.cmd(&["MODULE", "LIST", "x"]),
            c.cmd(&["MODULE", "NOSUCH"]),
            c.cmd(&["CONFIG", "SET", "enable-debug-command", "yes"]),
            c.cmd(&["CONFIG", "SET", "enable-module-command", "yes"]),
            c.cmd(&["CONFIG", "GET", "enable-debug-command"]),
            c.cmd(&["CONFIG", "GET", "enable-module-command"]),
        ]
    });
}

#[test]
fn local_protected_commands_run_over_loopback_and_the_unix_socket() {
    for kind in KINDS {
        let dir = TempDir::new();
        let sock = dir.path().join("s.sock");
        let s = TestServer::start(
            kind,
            &[
                "--enable-debug-command",
                "local",
                "--enable-module-command",
                "local",
                "--unixsocket",
                sock.to_str().unwrap(),
                "--bind",
                "127.0.0.1 127.0.0.2",
            ],
        );
        let mut c = s.conn();
        assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["MODULE", "LIST"]), b"*0\r\n", "{kind:?}");
        // 127.0.0.2 is local too (upstream tests the 127. prefix).
        let two = std::net::SocketAddr::from(([127, 0, 0, 2], s.port()));
        assert_eq!(
            unix_cmd(&sock, &["DEBUG", "SLEEP", "0"]),
            b"+OK\r\n",
            "{kind:?}"
        );
        assert_eq!(unix_cmd(&sock, &["MODULE", "LIST"]), b"*0\r\n", "{kind:?}");
        let mut c2 = Conn::connect(two).unwrap();
        assert_eq!(c2.cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n", "{kind:?}");
        assert_eq!(
            c2.cmd(&["MODULE", "UNLOAD", "x"])[..5],
            *b"-ERR ",
            "{kind:?}"
        );
        assert!(!text(&c2.cmd(&["MODULE", "UNLOAD", "x"])).contains("not allowed"));
    }
}

#[test]
fn module_command_answers_like_upstream_when_enabled() {
    let dir = TempDir::new();
    let plain = dir.path().join("plain.so");
    std::fs::write(&plain, "not a module").unwrap();
    let plain = plain.to_str().unwrap().to_string();
    let mut logs = Vec::new();
    for kind in KINDS {
        let s = TestServer::start(kind, &["--enable-module-command", "yes"]);
        let mut c = s.conn();
        let t = vec![
            c.cmd(&["MODULE", "LIST"]),
            c.cmd(&["MODULE", "HELP"]),
            c.cmd(&["module", "help"]),
            c.cmd(&["MODULE", "LOAD", "/nonexistent/x.so"]),
            c.cmd(&["MODULE", "LOAD", "/nonexistent/x.so", "a", "b"]),
            c.cmd(&["MODULE", "LOAD", dir.path_str()]),
            c.cmd(&["MODULE", "LOAD", &plain]),
            c.cmd(&["MODULE", "LOADEX", "/nonexistent/x.so"]),
            c.cmd(&[
                "MODULE",
                "LOADEX",
                "/nonexistent/x.so",
                "CONFIG",
                "a",
                "b",
                "ARGS",
                "CONFIG",
                "x",
            ]),
            c.cmd(&["MODULE", "LOADEX", "/nonexistent/x.so", "CONFIG", "a"]),
            c.cmd(&[
                "MODULE",
                "LOADEX",
                "/nonexistent/x.so",
                "config",
                "a",
                "b",
                "c",
            ]),
            c.cmd(&["MODULE", "UNLOAD", "x"]),
            c.cmd(&["MODULE", "UNLOAD"]),
            c.cmd(&["MODULE", "UNLOAD", "x", "y"]),
            c.cmd(&["MODULE", "LOAD"]),
            c.cmd(&["MODULE", "HELP", "x"]),
        ];
        let log = s.log_contents();
        let mut lines = log_messages(&log, "Module ");
        lines.extend(log_messages(&log, "CONFIG specified"));
        lines.extend(log_messages(&log, "Syntax Error"));
        logs.push((t, lines));
    }
    for (i, (e, g)) in logs[0].0.iter().zip(&logs[1].0).enumerate() {
        assert_resp_eq!(g, e, "step {i}");
    }
    assert_eq!(logs[0].1, logs[1].1);
}

// ---------------------------------------------------- protected configs

#[test]
fn protected_configs_follow_enable_protected_configs_like_upstream() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        vec![
            c.cmd(&["CONFIG", "SET", "dbfilename", "x.rdb"]),
            c.cmd(&["CONFIG", "SET", "dir", s.dir().to_str().unwrap()]),
            c.cmd(&["CONFIG", "SET", "maxmemory", "1mb", "DIR", "/"]),
            c.cmd(&["CONFIG", "SET", "enable-protected-configs", "yes"]),
            c.cmd(&["CONFIG", "GET", "dbfilename"]),
        ]
    });
    for setting in ["local", "yes"] {
        same_on_both(&["--enable-protected-configs", setting], |s| {
            let mut c = s.conn();
            vec![
                c.cmd(&["CONFIG", "SET", "dbfilename", "x.rdb"]),
                c.cmd(&["CONFIG", "SET", "dir", s.dir().to_str().unwrap()]),
                c.cmd(&["CONFIG", "GET", "dbfilename"]),
            ]
        });
    }
    for kind in KINDS {
        let dir = TempDir::new();
        let sock = dir.path().join("s.sock");
        let _s = TestServer::start(
            kind,
            &[
                "--enable-protected-configs",
                "local",
                "--unixsocket",
                sock.to_str().unwrap(),
            ],
        );
        assert_eq!(
            unix_cmd(&sock, &["CONFIG", "SET", "dbfilename", "y.rdb"]),
            b"+OK\r\n",
            "{kind:?}"
        );
    }
}

// ------------------------------------------------- CONFIG SET effects

fn connects(ip: [u8; 4], port: u16) -> bool {
    Conn::connect(std::net::SocketAddr::from((ip, port)))
        .map(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
        .unwrap_or(false)
}

#[test]
fn config_set_port_and_bind_rebind_like_upstream() {
    let mut runs = Vec::new();
    for kind in KINDS {
        let s = TestServer::start(kind, &[]);
        let mut c = s.conn();
        let old = s.port();
        // Someone else holds this port.
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let new = redis_testkit::server::free_port();
        let mut t = vec![
            c.cmd(&["CONFIG", "SET", "port", &busy_port.to_string()]),
            c.cmd(&["CONFIG", "GET", "port"]),
        ];
        assert!(connects([127, 0, 0, 1], old), "{kind:?}");
        t.push(c.cmd(&["CONFIG", "SET", "port", &new.to_string()]));
        assert!(connects([127, 0, 0, 1], new), "{kind:?}");
        assert!(!connects([127, 0, 0, 1], old), "{kind:?}");
        // The connection made before goes on.
        assert_eq!(
            info_field(&mut c, "server", "tcp_port"),
            Some(new.to_string()),
            "{kind:?}"
        );
        // A bind that cannot be done keeps the old sockets (192.0.2.1 is a
        // documentation address no host here has: nothing is sent).
        t.push(c.cmd(&["CONFIG", "SET", "bind", "127.0.0.1 192.0.2.1"]));
        t.push(c.cmd(&["CONFIG", "SET", "bind", "nonsense"]));
        t.push(c.cmd(&["CONFIG", "GET", "bind"]));
        assert!(connects([127, 0, 0, 1], new), "{kind:?}");
        t.push(c.cmd(&["CONFIG", "SET", "bind", "127.0.0.2"]));
        assert!(connects([127, 0, 0, 2], new), "{kind:?}");
        assert!(!connects([127, 0, 0, 1], new), "{kind:?}");
        // Both at once, then no TCP at all.
        let third = redis_testkit::server::free_port();
        t.push(c.cmd(&[
            "CONFIG",
            "SET",
            "bind",
            "127.0.0.1",
            "port",
            &third.to_string(),
        ]));
        assert!(connects([127, 0, 0, 1], third), "{kind:?}");
        assert!(!connects([127, 0, 0, 2], new), "{kind:?}");
        t.push(c.cmd(&["CONFIG", "SET", "port", "0"]));
        assert!(!connects([127, 0, 0, 1], third), "{kind:?}");
        t.push(c.cmd(&["CONFIG", "GET", "port"]));
        t.push(c.cmd(&["CONFIG", "SET", "unixsocket", "/tmp/x.sock"]));
        drop(busy);
        let ports = |t: &str| {
            t.replace(&busy_port.to_string(), "<busy>")
                .replace(&new.to_string(), "<new>")
                .replace(&third.to_string(), "<third>")
                .replace(&old.to_string(), "<old>")
        };
        let t: Vec<Vec<u8>> = t.iter().map(|r| ports(&text(r)).into_bytes()).collect();
        let log = ports(&s.log_contents());
        let mut lines = log_messages(&log, "Could not create server TCP");
        lines.extend(log_messages(&log, "Failed "));
        runs.push((t, lines));
    }
    for (i, (e, g)) in runs[0].0.iter().zip(&runs[1].0).enumerate() {
        assert_resp_eq!(g, e, "step {i}");
    }
    assert_eq!(runs[0].1, runs[1].1);
    assert_eq!(
        runs[1].0[0],
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
}

/// A reply's text without bulk length headers (paths differ in length
/// between the two servers' directories).
fn without_lengths(t: &str) -> String {
    t.split("\r\n")
        .filter(|l| !(l.starts_with('$') && l[1..].chars().all(|c| c.is_ascii_digit())))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn config_set_dir_changes_the_working_directory_like_upstream() {
    let mut runs = Vec::new();
    for kind in KINDS {
        let s = TestServer::start(kind, &["--enable-protected-configs", "yes"]);
        let base = std::fs::canonicalize(s.dir()).unwrap();
        std::fs::create_dir(base.join("sub")).unwrap();
        std::fs::write(base.join("file"), "x").unwrap();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port().to_string();
        let mut c = s.conn();
        let t = vec![
            c.cmd(&["CONFIG", "SET", "dir", "sub"]),
            c.cmd(&["CONFIG", "GET", "dir"]),
            c.cmd(&["SAVE"]),
            c.cmd(&["CONFIG", "SET", "dir", "nonexistent"]),
            c.cmd(&["CONFIG", "SET", "dir", base.join("file").to_str().unwrap()]),
            c.cmd(&["CONFIG", "SET", "dir", ".."]),
            c.cmd(&["CONFIG", "GET", "dir"]),
            // A failing rebind in the same command puts the directory back.
            c.cmd(&["CONFIG", "SET", "dir", "sub", "port", &busy_port]),
            c.cmd(&["CONFIG", "GET", "dir"]),
            c.cmd(&["CONFIG", "SET", "dbfilename", "again.rdb"]),
            c.cmd(&["SAVE"]),
        ];
        assert!(base.join("sub/dump.rdb").is_file(), "{kind:?}");
        assert!(base.join("again.rdb").is_file(), "{kind:?}");
        assert!(!base.join("sub/again.rdb").exists(), "{kind:?}");
        let shown: Vec<String> = t
            .iter()
            .map(|r| without_lengths(&text(r).replace(base.to_str().unwrap(), "<base>")))
            .collect();
        runs.push(shown);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[1][1].contains("<base>/sub"), "{:?}", runs[1]);
}

#[test]
fn config_set_loglevel_takes_effect_like_upstream() {
    let mut counts = Vec::new();
    for kind in KINDS {
        let s = TestServer::start(kind, &[]);
        let mut c = s.conn();
        assert_eq!(c.cmd(&["CONFIG", "SET", "loglevel", "warning"]), b"+OK\r\n");
        c.cmd(&["SAVE"]);
        assert_eq!(c.cmd(&["CONFIG", "SET", "loglevel", "notice"]), b"+OK\r\n");
        c.cmd(&["SAVE"]);
        c.cmd(&["CONFIG", "SET", "loglevel", "warning"]);
        c.cmd(&["SAVE"]);
        let log = s.log_contents();
        counts.push(log_messages(&log, "DB saved on disk"));
    }
    assert_eq!(counts[0], counts[1]);
    assert_eq!(counts[1].len(), 1);
}

/// Starts `kind` on a config file of `body`, runs `setup` on it, then
/// `CONFIG REWRITE`; returns the file as (the kept part, the appended
/// lines sorted), port and directory masked. Upstream appends the new
/// lines in hash-table order, which changes from run to run: they are
/// compared as a set.
fn rewritten(kind: ServerKind, body: &str, setup: &dyn Fn(&mut Conn)) -> (String, String) {
    let dir = TempDir::new();
    let port = redis_testkit::server::free_port();
    let conf = dir.join("r.conf");
    std::fs::write(&conf, format!("port {port}\n{body}")).unwrap();
    let _child = redis_testkit::ChildGuard::spawn(
        std::process::Command::new(kind.server_binary())
            .arg(&conf)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null()),
    );
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        if let Ok(c) = Conn::connect(addr) {
            break c;
        }
        assert!(Instant::now() < deadline, "{kind:?} did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    setup(&mut c);
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    let text = text
        .replace(&port.to_string(), "PORT")
        .replace(dir.path_str(), "DIR");
    let (kept, appended) = text
        .split_once("# Generated by CONFIG REWRITE\n")
        .unwrap_or((&text, ""));
    let mut appended: Vec<&str> = appended.lines().collect();
    appended.sort_unstable();
    (kept.to_string(), appended.join("\n"))
}

/// `CONFIG REWRITE` of a hand-written file gives the reference's file:
/// old lines trimmed (comments too), empty strings 7.0 stores as NULL
/// (`pidfile ""`, `unixsocket ""`, ...) dropped, `save` and
/// `latency-tracking-info-percentiles` always written, and the `default`
/// user's line appended.
#[test]
fn config_rewrite_of_a_hand_written_file_matches_the_reference() {
    let body = "pidfile \"\"\nunixsocket \"\"\nmasteruser \"\"\nreplica-announce-ip \"\"\n\
                bind-source-addr \"\"\ncluster-announce-ip \"\"\nlogfile \"\"\nsyslog-ident redis\n\
                aclfile \"\"\ncluster-config-file nodes.conf\n  # trailing   \nmaxmemory 10mb\n";
    let rewrite = |kind| rewritten(kind, body, &|_| {});
    assert_eq!(rewrite(ServerKind::Ours), rewrite(ServerKind::Reference));
}

/// The users: each `user` line of the file is replaced, in order, by a
/// user as `ACL LIST` describes it (users of the file are not
/// `sanitize-payload` unless they are `default`), and the users beyond
/// the file's lines are appended; with an `aclfile`, no `user` line.
#[test]
fn config_rewrite_writes_the_users_as_the_reference() {
    let body =
        "save \"\"\nuser alice on >pw ~* +@all\n# keep\nuser default on nopass ~* &* +@all\n";
    let setup = |c: &mut Conn| {
        c.cmd(&["ACL", "SETUSER", "bob", "on", ">x", "~b*", "+get"]);
        c.cmd(&["ACL", "SETUSER", "alice", "off"]);
        c.cmd(&["ACL", "SETUSER", "carol", "on", "nopass", "(+set ~c*)"]);
    };
    let ours = rewritten(ServerKind::Ours, body, &setup);
    assert!(ours.0.contains("user alice off #"), "{ours:?}");
    assert!(
        ours.1.contains("user default on nopass sanitize-payload"),
        "{ours:?}"
    );
    assert_eq!(ours, rewritten(ServerKind::Reference, body, &setup));
    let acl = TempDir::new();
    let aclfile = acl.join("users.acl");
    std::fs::write(&aclfile, "user zed on nopass ~* +@all\n").unwrap();
    let body = format!("save \"\"\naclfile {}\n", aclfile.display());
    let setup = |c: &mut Conn| {
        c.cmd(&["ACL", "SETUSER", "bob", "on"]);
    };
    let ours = rewritten(ServerKind::Ours, &body, &setup);
    assert!(
        !ours.0.contains("user ") && !ours.1.contains("user "),
        "{ours:?}"
    );
    assert_eq!(ours, rewritten(ServerKind::Reference, &body, &setup));
}
