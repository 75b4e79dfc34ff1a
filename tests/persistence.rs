//! RDB persistence against the reference: files written by one server load
//! into the other with the same `DEBUG DIGEST`, a background save is a
//! point-in-time image even under concurrent writes, shutdown saves,
//! DUMP/RESTORE payloads cross over, a corrupt file stops the server
//! without being overwritten, and a save abandoned by a shutdown never
//! replaces the last good dump.

use std::path::Path;
use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn args_with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = DEBUG.to_vec();
    v.extend_from_slice(extra);
    v
}

/// Fills a server with every type in small and large encodings.
fn fill(c: &mut Conn) {
    c.cmd(&["DEBUG", "POPULATE", "2000", "str", "20"]);
    c.cmd(&["SET", "int", "12345"]);
    c.cmd(&["SET", "big", &"x".repeat(5000)]);
    c.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "in-db-3", "yes"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["RPUSH", "list", "a", "b", "1", "2"]);
    c.cmd(&["HSET", "hash", "f1", "v1", "f2", "2"]);
    c.cmd(&["SADD", "intset", "1", "2", "3"]);
    c.cmd(&["SADD", "set", "a", "b", "c"]);
    c.cmd(&["ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c"]);
    for i in 0..300 {
        let (f, v) = (format!("field{i}"), format!("value{i}"));
        c.cmd(&["HSET", "bighash", &f, &v]);
        c.cmd(&["RPUSH", "biglist", &v]);
        c.cmd(&["SADD", "bigset", &f]);
        c.cmd(&["ZADD", "bigzset", &i.to_string(), &f]);
    }
}

fn digest(c: &mut Conn) -> Vec<u8> {
    c.cmd(&["DEBUG", "DIGEST"])
}

fn wait_bgsave_done(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
        if info.contains("rdb_bgsave_in_progress:0") {
            assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
            return;
        }
        assert!(Instant::now() < deadline, "BGSAVE did not finish: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn copy_dump(from: &TestServer, to_dir: &Path) {
    std::fs::create_dir_all(to_dir).unwrap();
    std::fs::copy(from.dir().join("dump.rdb"), to_dir.join("dump.rdb")).unwrap();
}

/// Starts `kind` on a copy of `dump.rdb` from `src`.
fn start_on_dump(kind: ServerKind, src: &TestServer, extra: &[&str]) -> TestServer {
    let staging = std::env::temp_dir().join(format!(
        "redis-rs-dump-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    copy_dump(src, &staging);
    let dir = staging.to_string_lossy().into_owned();
    let mut args = args_with(extra);
    args.extend_from_slice(&["--dir", &dir]);
    // The testkit passes its own --dir first; ours comes later and wins,
    // exactly as with upstream's argument handling.

    TestServer::start(kind, &args)
}

#[test]
fn our_dump_loads_into_the_reference() {
    let ours = TestServer::start(ServerKind::Ours, DEBUG);
    let mut c = ours.conn();
    fill(&mut c);
    let d = digest(&mut c);
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let reference = start_on_dump(ServerKind::Reference, &ours, &[]);
    let mut r = reference.conn();
    assert_eq!(
        digest(&mut r),
        d,
        "reference log:\n{}",
        reference.log_contents()
    );
}

#[test]
fn reference_dump_loads_into_ours() {
    let reference = TestServer::start(ServerKind::Reference, DEBUG);
    let mut r = reference.conn();
    fill(&mut r);
    let d = digest(&mut r);
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    let ours = start_on_dump(ServerKind::Ours, &reference, &[]);
    let mut c = ours.conn();
    assert_eq!(digest(&mut c), d, "our log:\n{}", ours.log_contents());
    for k in [
        "hash", "bighash", "intset", "bigset", "zset", "bigzset", "list",
    ] {
        assert_eq!(
            c.cmd(&["OBJECT", "ENCODING", k]),
            r.cmd(&["OBJECT", "ENCODING", k]),
            "encoding of {k}"
        );
    }
    let log = ours.log_contents();
    assert!(
        log.contains("Loading RDB produced by version 7.0.15"),
        "{log}"
    );
    assert!(log.contains("Done loading RDB, keys loaded:"), "{log}");
}

#[test]
fn bgsave_is_point_in_time_under_concurrent_writes() {
    let ours = TestServer::start(ServerKind::Ours, DEBUG);
    let mut c = ours.conn();
    let mut w = ours.conn();
    c.cmd(&["DEBUG", "POPULATE", "100000", "k", "10"]);
    let before = digest(&mut c);
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    // Overwrite, delete and create keys while the save runs.
    let mut batch = Vec::new();
    for i in 0..3000 {
        batch.extend_from_slice(&redis_testkit::conn::encode_request(&[
            "SET",
            &format!("k:{}", i * 30),
            "changed",
        ]));
        batch.extend_from_slice(&redis_testkit::conn::encode_request(&[
            "DEL",
            &format!("k:{}", i * 30 + 1),
        ]));
        batch.extend_from_slice(&redis_testkit::conn::encode_request(&[
            "SET",
            &format!("new:{i}"),
            "x",
        ]));
    }
    w.send_raw(&batch);
    for _ in 0..9000 {
        w.read_reply_raw();
    }
    wait_bgsave_done(&mut c);
    let after_writes = digest(&mut c);
    assert_ne!(before, after_writes);
    let reference = start_on_dump(ServerKind::Reference, &ours, &[]);
    let mut r = reference.conn();
    assert_eq!(
        digest(&mut r),
        before,
        "the dump is not the dataset at BGSAVE time"
    );
}

#[test]
fn shutdown_saves_and_restart_loads() {
    let ours = TestServer::start(ServerKind::Ours, &args_with(&["--save", "3600 1"]));
    let mut c = ours.conn();
    fill(&mut c);
    let d = digest(&mut c);
    c.send_raw(b"SHUTDOWN\r\n");
    assert!(c.read_until_close().is_ok());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ours.log_contents().contains("ready to exit") {
        assert!(
            Instant::now() < deadline,
            "no exit: {}",
            ours.log_contents()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ours
        .log_contents()
        .contains("Saving the final RDB snapshot before exiting."));
    let again = start_on_dump(ServerKind::Ours, &ours, &[]);
    let mut c2 = again.conn();
    assert_eq!(digest(&mut c2), d);
}

#[test]
fn dump_restore_payloads_cross_over() {
    let ours = TestServer::start(ServerKind::Ours, DEBUG);
    let reference = TestServer::start(ServerKind::Reference, DEBUG);
    let mut c = ours.conn();
    let mut r = reference.conn();
    fill(&mut c);
    fill(&mut r);
    for k in [
        "str:1", "int", "big", "list", "hash", "bighash", "intset", "set", "zset", "bigzset",
    ] {
        let from_ref = bulk_payload(&r.cmd(&["DUMP", k]));
        let from_ours = bulk_payload(&c.cmd(&["DUMP", k]));
        assert_eq!(
            c.cmd_bytes(&[b"RESTORE".as_ref(), b"copy1", b"0", &from_ref]),
            b"+OK\r\n",
            "{k}"
        );
        assert_eq!(
            r.cmd_bytes(&[b"RESTORE".as_ref(), b"copy1", b"0", &from_ours]),
            b"+OK\r\n",
            "{k}"
        );
        assert_eq!(
            c.cmd(&["DEBUG", "DIGEST-VALUE", "copy1"]),
            r.cmd(&["DEBUG", "DIGEST-VALUE", k]),
            "{k}"
        );
        assert_eq!(
            r.cmd(&["DEBUG", "DIGEST-VALUE", "copy1"]),
            c.cmd(&["DEBUG", "DIGEST-VALUE", k]),
            "{k}"
        );
        c.cmd(&["DEL", "copy1"]);
        r.cmd(&["DEL", "copy1"]);
    }
    // Errors as upstream.
    for cmd in [
        vec!["RESTORE", "k", "0", "garbage"],
        vec!["RESTORE", "k", "-1", "x"],
        vec!["RESTORE", "str:1", "0", "x"],
        vec!["DUMP", "nope"],
    ] {
        assert_eq!(c.cmd(&cmd), r.cmd(&cmd), "{cmd:?}");
    }
}

fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').expect("bulk header");
    reply[nl + 1..reply.len() - 2].to_vec()
}

#[test]
fn corrupt_dump_stops_startup_and_is_kept() {
    let ours = TestServer::start(ServerKind::Ours, DEBUG);
    let mut c = ours.conn();
    fill(&mut c);
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let staging = TempDir::new();
    copy_dump(&ours, &staging);
    let path = staging.join("dump.rdb");
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes.truncate(len / 2);
    std::fs::write(&path, &bytes).unwrap();
    let bin = redis_testkit::server::ours_binary("redis-server");
    let out = redis_testkit::run_bounded(
        std::process::Command::new(bin)
            .args(["--port", "0", "--unixsocket"])
            .arg(staging.join("sock"))
            .arg("--dir")
            .arg(staging.path())
            .args(["--save", ""]),
        Duration::from_secs(20),
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "a truncated dump must stop the server"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the dump was modified"
    );
}

#[test]
fn shutdown_nosave_during_bgsave_keeps_the_last_good_dump() {
    let server = TestServer::start(ServerKind::Ours, DEBUG);
    let mut c = server.conn();
    assert_eq!(c.cmd(&["SET", "good", "1"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "500000", "k", "20"]),
        b"+OK\r\n"
    );
    // The save is abandoned midway by the shutdown that follows at once.
    // (The server exits without flushing the BGSAVE reply, as upstream.)
    c.send_raw(b"BGSAVE\r\nSHUTDOWN NOSAVE\r\n");
    let _ = c.read_until_close();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_contents().contains("ready to exit, bye bye") {
        assert!(Instant::now() < deadline, "{}", server.log_contents());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log_contents();
    assert!(log.contains("Background saving started"), "{log}");
    assert!(
        log.contains("There is a child saving an .rdb. Killing it!"),
        "{log}"
    );
    // Let the writer thread finish whatever it does before the exit.
    std::thread::sleep(Duration::from_millis(200));
    let names: Vec<String> = std::fs::read_dir(server.dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(!names.iter().any(|n| n.starts_with("temp-")), "{names:?}");
    // The dump is still the one SAVE wrote.
    let dir = server.dir().to_string_lossy().into_owned();
    let again = TestServer::start(ServerKind::Ours, &["--dir", &dir]);
    let mut c2 = again.conn();
    assert_eq!(c2.cmd(&["DBSIZE"]), b":1\r\n");
    assert_eq!(c2.cmd(&["GET", "good"]), b"$1\r\n1\r\n");
}

/// A small dataset (upstream serves events only every 2 MB of loading)
/// is loaded before the first client is served: a client that connects
/// the moment the port opens gets the data, never `-LOADING`, as with
/// upstream.
#[test]
fn a_small_dump_is_loaded_before_the_first_client_is_served() {
    use std::io::{Read, Write};
    let dir = TempDir::new();
    let d = dir.path_str();
    {
        let s = TestServer::start(ServerKind::Ours, &args_with(&["--dir", d]));
        let mut c = s.conn();
        assert_eq!(
            c.cmd(&["DEBUG", "POPULATE", "20000", "k", "10"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    }
    let size = std::fs::metadata(dir.join("dump.rdb")).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "{size}");
    for round in 0..3 {
        // Not `start`: it returns once PING is answered, when loading is
        // long over; this client must connect the moment the port opens.
        let srv = TestServer::start_unready(ServerKind::Ours, &["--dir", d]);
        // Connect as soon as the port accepts (bounded), then ask at once.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut sock = loop {
            match std::net::TcpStream::connect(srv.addr()) {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "never listened: {e}");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        };
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").unwrap();
        let mut buf = [0u8; 256];
        let n = sock.read(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&buf[..n]),
            ":20000\r\n",
            "round {round}"
        );
    }
}

/// An RDB holding empty collections (written by old servers or damaged):
/// both servers skip those keys, log each one and the count, and start.
#[test]
fn empty_collections_in_an_rdb_are_skipped_like_the_reference() {
    // RDB 9: SELECTDB 0, an empty set "s", an empty list "l", a string
    // "k", EOF, checksum 0 (not verified).
    let mut rdb = b"REDIS0009\xfe\x00".to_vec();
    rdb.extend_from_slice(b"\x02\x01s\x00");
    rdb.extend_from_slice(b"\x01\x01l\x00");
    rdb.extend_from_slice(b"\x00\x01k\x01v");
    rdb.push(0xff);
    rdb.extend_from_slice(&[0; 8]);
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        std::fs::write(dir.join("dump.rdb"), &rdb).unwrap();
        let d = dir.to_string_lossy().into_owned();
        let s = TestServer::start(kind, &["--dir", &d]);
        let mut c = s.conn();
        assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n", "{kind:?}");
        let log = s.log_contents();
        for want in [
            "rdbLoadObject skipping empty key: s",
            "rdbLoadObject skipping empty key: l",
            "Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 2.",
        ] {
            assert!(log.contains(want), "{kind:?}: no {want:?} in\n{log}");
        }
    }
}

/// A damaged RDB at startup: upstream's lines, redis-check-rdb's report
/// on stdout, then the server ends with status 1 (both servers). A
/// truncated file ends in the checker; a damaged value with one more line.
#[test]
fn corrupt_rdb_at_startup_is_reported_like_the_reference() {
    let ours = TestServer::start(ServerKind::Ours, DEBUG);
    let mut c = ours.conn();
    fill(&mut c);
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let mut truncated = std::fs::read(ours.dir().join("dump.rdb")).unwrap();
    drop(c);
    drop(ours);
    let mid = truncated.len() / 2;
    truncated.truncate(mid);
    // A hash-ziplist (type 13) whose blob is no ziplist.
    let mut damaged = b"REDIS0009\xfe\x00\x0d\x01h\x05abcde".to_vec();
    damaged.push(0xff);
    damaged.extend_from_slice(&[0; 8]);
    let cases: [(&[u8], &[&str], bool); 2] = [
        (
            &truncated,
            &[
                "Short read or OOM loading DB. Unrecoverable error, aborting now.",
                "-> Unexpected EOF reading RDB file",
                "[offset 0] Checking RDB file dump.rdb",
                "--- RDB ERROR DETECTED ---",
            ],
            false,
        ),
        (
            &damaged,
            &[
                "-> Hash ziplist integrity check failed.",
                "--- RDB ERROR DETECTED ---",
                "[additional info] Reading key 'h'",
            ],
            true,
        ),
    ];
    for (bytes, wants, terminating) in cases {
        for bin in [
            std::path::PathBuf::from("/usr/bin/redis-server"),
            redis_testkit::server::ours_binary("redis-server"),
        ] {
            let staging = TempDir::new();
            std::fs::write(staging.join("dump.rdb"), bytes).unwrap();
            let out = redis_testkit::run_bounded(
                std::process::Command::new(&bin)
                    .args(["--port", "0", "--unixsocket"])
                    .arg(staging.join("sock"))
                    .arg("--dir")
                    .arg(staging.path())
                    .args(["--save", ""]),
                Duration::from_secs(20),
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{bin:?}:\n{stdout}");
            for want in wants {
                assert!(stdout.contains(want), "{bin:?}: no {want:?} in\n{stdout}");
            }
            assert_eq!(
                stdout.contains("Terminating server after rdb file reading failure."),
                terminating,
                "{bin:?}:\n{stdout}"
            );
            assert_eq!(std::fs::read(staging.join("dump.rdb")).unwrap(), bytes);
        }
    }
}

/// RESTORE refuses what upstream's loader refuses: empty collections, a
/// quicklist node without data, a stream group naming a consumer twice;
/// a stream entry whose `lp-count` is wrong only when payloads are
/// sanitized (`sanitize-dump-payload yes`). Same replies on both servers.
#[test]
fn restore_refuses_what_upstream_refuses() {
    let footer = |mut p: Vec<u8>| {
        p.extend_from_slice(&[0x0a, 0x00]);
        p.extend_from_slice(&[0; 8]);
        p
    };
    let empty_set = footer(vec![0x02, 0x00]);
    let empty_intset = footer(vec![0x0b, 0x08, 2, 0, 0, 0, 0, 0, 0, 0]);
    let empty_plain_node = footer(vec![0x12, 0x01, 0x01, 0x00]);
    let args = ["--enable-debug-command", "yes", "--rdbcompression", "no"];
    redis_testkit::same_on_both(&args, |s| {
        let mut c = s.conn();
        let mut out = vec![c.cmd(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"])];
        for p in [&empty_set, &empty_intset, &empty_plain_node] {
            out.push(c.cmd_bytes(&[b"RESTORE".as_ref(), b"k", b"0", p]));
        }
        // A group with consumers "c1" and "c2", then "c2" renamed "c1".
        c.cmd(&["XADD", "st", "1-1", "f", "v"]);
        c.cmd(&["XGROUP", "CREATE", "st", "g", "0"]);
        c.cmd(&["XGROUP", "CREATECONSUMER", "st", "g", "c1"]);
        c.cmd(&["XGROUP", "CREATECONSUMER", "st", "g", "c2"]);
        let dump = bulk_payload(&c.cmd(&["DUMP", "st"]));
        let at = dump.windows(3).rposition(|w| w == b"\x02c2").unwrap();
        let mut dup = dump.clone();
        dup[at + 2] = b'1';
        out.push(c.cmd_bytes(&[b"RESTORE".as_ref(), b"dup", b"0", &dup]));
        // The one entry's lp-count (4: flags, two ID deltas, one value)
        // is the listpack's last element, right before its end byte.
        let at = dump.windows(3).position(|w| w == b"\x04\x01\xff").unwrap();
        let mut bad = dump.clone();
        bad[at] = 0x05;
        for sanitize in ["yes", "no"] {
            c.cmd(&["CONFIG", "SET", "sanitize-dump-payload", sanitize]);
            out.push(c.cmd_bytes(&[b"RESTORE".as_ref(), b"bad", b"0", b"REPLACE", &bad]));
        }
        out.push(c.cmd(&["EXISTS", "k", "dup", "bad"]));
        out
    });
}
