//! The append-only file with real processes: no acknowledged write is lost
//! across `kill -9` under `appendfsync always`, AOF directories cross-load
//! with the reference in both directions, a torn tail is truncated only
//! when `aof-load-truncated` allows it, and `CONFIG SET appendonly yes`
//! works on a running server.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

fn start_in(kind: ServerKind, dir: &Path, extra: &[&str]) -> TestServer {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["--dir", d.as_str(), "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    TestServer::start(kind, &args)
}

fn kill9(s: &TestServer) {
    s.signal("-9");
    std::thread::sleep(Duration::from_millis(200));
}

fn int_reply(r: &[u8]) -> i64 {
    String::from_utf8_lossy(r)
        .trim_start_matches([':', '$'])
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(-1)
}

#[test]
fn kill_9_loses_no_acknowledged_write_with_appendfsync_always() {
    let dir = TempDir::new();
    let s = start_in(
        ServerKind::Ours,
        &dir,
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let mut c = s.conn();
    let mut acknowledged = 0i64;
    let deadline = Instant::now() + Duration::from_millis(1500);
    // Pipelined batches: every +OK/:N counted was acknowledged.
    while Instant::now() < deadline {
        let mut batch = Vec::new();
        for _ in 0..50 {
            batch.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n");
        }
        c.send_raw(&batch);
        for _ in 0..50 {
            let r = c.read_reply_raw();
            assert!(r.starts_with(b":"), "{r:?}");
            acknowledged += 1;
        }
    }
    // One more batch in flight while the process dies.
    c.send_raw(&b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n".repeat(50));
    kill9(&s);
    drop(c);
    drop(s);
    let again = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c2 = again.conn();
    let n = int_reply(&c2.cmd(&["GET", "counter"]));
    assert!(
        n >= acknowledged,
        "acknowledged {acknowledged} but only {n} survived"
    );
    assert!(n <= acknowledged + 50, "more than was sent: {n}");
}

/// Many clients share each fsync (group commit on the event loop): every
/// client's acknowledged writes survive `kill -9`, whichever client's
/// commit flushed them.
#[test]
fn kill_9_loses_no_acknowledged_write_of_any_client_under_group_commit() {
    let dir = TempDir::new();
    let s = start_in(
        ServerKind::Ours,
        &dir,
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let clients = 12usize;
    let stop_at = Instant::now() + Duration::from_millis(1200);
    let mut hs = Vec::new();
    for i in 0..clients {
        let mut c = s.conn();
        hs.push(std::thread::spawn(move || {
            let req = format!("*2\r\n$4\r\nINCR\r\n$4\r\nk{i:03}\r\n");
            let mut acked = 0i64;
            // Bounded: stops at the first error (the kill) or after 20 s.
            let give_up = Instant::now() + Duration::from_secs(20);
            while Instant::now() < give_up {
                let batch = 1 + acked as usize % 7;
                if c.try_send_raw(req.repeat(batch).as_bytes()).is_err() {
                    break;
                }
                for _ in 0..batch {
                    match c.try_read_reply_raw() {
                        Ok(r) if r.starts_with(b":") => acked += 1,
                        Ok(r) => panic!("unexpected reply {r:?}"),
                        Err(_) => return acked,
                    }
                }
            }
            acked
        }));
    }
    // Killed while every client has requests in flight.
    std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
    kill9(&s);
    let acked: Vec<i64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    drop(s);
    assert!(acked.iter().all(|&a| a > 0), "{acked:?}");
    let again = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c = again.conn();
    for (i, a) in acked.iter().enumerate() {
        let n = int_reply(&c.cmd(&["GET", &format!("k{i:03}")]));
        assert!(
            n >= *a,
            "client {i}: acknowledged {a} but only {n} survived"
        );
        assert!(n <= a + 7, "client {i}: more than was sent: {n} > {a} + 7");
    }
}

fn fill(c: &mut Conn) {
    c.cmd(&["SET", "s", "v"]);
    c.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    c.cmd(&["RPUSH", "l", "a", "b"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["SADD", "set", "1", "x"]);
    c.cmd(&["ZADD", "z", "1.5", "m"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["SET", "db1", "x"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["DEL", "s"]);
    // A stream with a deleted entry, a group, a pending entry and a
    // consumer without any.
    c.cmd(&["XADD", "x", "1-1", "f", "v"]);
    c.cmd(&["XADD", "x", "2-1", "f", "v"]);
    c.cmd(&["XADD", "x", "3-1", "f", "v"]);
    c.cmd(&["XDEL", "x", "2-1"]);
    c.cmd(&["XGROUP", "CREATE", "x", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "1",
        "STREAMS",
        "x",
        ">",
    ]);
    c.cmd(&["XGROUP", "CREATECONSUMER", "x", "g", "bob"]);
    let big: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let mut rpush = vec!["RPUSH", "biglist"];
    rpush.extend(big.iter().map(String::as_str));
    c.cmd(&rpush);
}

/// The base file named by the manifest's `type b` line.
fn base_file(dir: &Path) -> PathBuf {
    let d = dir.join("appendonlydir");
    let manifest = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".manifest"))
        .expect("a manifest");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let name = text
        .lines()
        .find(|l| l.ends_with("type b"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("a base file in the manifest")
        .to_string();
    d.join(name)
}

#[test]
fn aof_directories_cross_load_with_the_reference() {
    // Both base formats: RDB preamble (`.base.rdb`) and RESP (`.base.aof`).
    for (writer, reader, preamble) in [
        (ServerKind::Ours, ServerKind::Reference, "yes"),
        (ServerKind::Reference, ServerKind::Ours, "yes"),
        (ServerKind::Ours, ServerKind::Reference, "no"),
        (ServerKind::Reference, ServerKind::Ours, "no"),
    ] {
        let dir = TempDir::new();
        let w = start_in(
            writer,
            &dir,
            &["--appendonly", "yes", "--aof-use-rdb-preamble", preamble],
        );
        let mut c = w.conn();
        fill(&mut c);
        // The initial base written at startup may still be in progress.
        wait_rewrite_done(&mut c);
        assert_eq!(c.cmd(&["BGREWRITEAOF"]).first(), Some(&b'+'));
        // Writes after the rewrite started land in the new incr file.
        std::thread::sleep(Duration::from_millis(300));
        c.cmd(&["SET", "after-rewrite", "1"]);
        c.cmd(&["RPUSH", "l", "c"]);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
            if info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
            {
                break;
            }
            assert!(Instant::now() < deadline, "rewrite did not finish: {info}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let digest = c.cmd(&["DEBUG", "DIGEST"]);
        c.send_raw(b"SHUTDOWN NOSAVE\r\n");
        let _ = c.read_until_close();
        drop(w);
        let base = base_file(&dir);
        let head = std::fs::read(&base).unwrap_or_default();
        if preamble == "yes" {
            assert!(base.to_string_lossy().ends_with(".base.rdb"), "{base:?}");
            assert!(head.starts_with(b"REDIS"), "{writer:?}: base is not an RDB");
        } else {
            assert!(base.to_string_lossy().ends_with(".base.aof"), "{base:?}");
            assert!(head.starts_with(b"*"), "{writer:?}: base is not RESP");
        }
        let r = start_in(reader, &dir, &["--appendonly", "yes"]);
        let mut rc = r.conn();
        assert_eq!(
            rc.cmd(&["DEBUG", "DIGEST"]),
            digest,
            "{writer:?} -> {reader:?}: {}",
            r.log_contents()
        );
        drop(r);
    }
}

fn wait_rewrite_done(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn incr_file(dir: &Path) -> PathBuf {
    let d = dir.join("appendonlydir");
    std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file")
}

#[test]
fn torn_tail_is_truncated_only_when_allowed() {
    let dir = TempDir::new();
    let s = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c = s.conn();
    for i in 0..20 {
        c.cmd(&["SET", &format!("k{i}"), "value"]);
    }
    kill9(&s);
    drop(c);
    drop(s);
    let path = incr_file(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&path, &bytes).unwrap();
    // aof-load-truncated no: the server refuses to start, file untouched.
    let bin = redis_testkit::server::ours_binary("redis-server");
    let out = redis_testkit::run_bounded(
        std::process::Command::new(&bin)
            .args([
                "--port",
                "0",
                "--appendonly",
                "yes",
                "--aof-load-truncated",
                "no",
                "--dir",
            ])
            .arg(dir.path()),
        Duration::from_secs(20),
    );
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "file changed without permission"
    );
    // The default (yes) truncates the torn command and loads the rest.
    let s2 = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c2 = s2.conn();
    assert_eq!(c2.cmd(&["DBSIZE"]), b":19\r\n");
    assert!(
        s2.log_contents().contains("Truncating the AOF"),
        "{}",
        s2.log_contents()
    );
    drop(s2);
}

#[test]
fn config_set_appendonly_on_a_running_server() {
    let dir = TempDir::new();
    let s = start_in(ServerKind::Ours, &dir, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "before", "1"]);
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
    c.cmd(&["SET", "after", "2"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
        if info.contains("aof_enabled:1")
            && info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrites:1")
        {
            break;
        }
        assert!(Instant::now() < deadline, "AOF not enabled: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Base 1 and incr 1, as the reference names them after the same steps.
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .unwrap_or_default();
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    kill9(&s);
    drop(c);
    drop(s);
    let s2 = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c2 = s2.conn();
    assert_eq!(c2.cmd(&["GET", "before"]), b"$1\r\n1\r\n");
    assert_eq!(c2.cmd(&["GET", "after"]), b"$1\r\n2\r\n");
    drop(s2);
}

/// `calls=` of one `cmdstat_<name>` line (0 when absent).
fn cmdstat_calls(c: &mut Conn, name: &str) -> u64 {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "commandstats"])).into_owned();
    let prefix = format!("cmdstat_{name}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn debug_loadaof_matches_the_reference() {
    let mut seen: Vec<Vec<Vec<u8>>> = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(kind, &dir, &["--appendonly", "yes"]);
        let mut c = s.conn();
        fill(&mut c);
        wait_rewrite_done(&mut c);
        c.cmd(&["SET", "in-incr", "1"]);
        let digest = c.cmd(&["DEBUG", "DIGEST"]);
        let sets = cmdstat_calls(&mut c, "set");
        let mut replies = vec![c.cmd(&["DEBUG", "LOADAOF"])];
        // The dataset came back from the files, and replaying them neither
        // counted as calls nor as changes.
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), digest, "{kind:?}");
        assert_eq!(cmdstat_calls(&mut c, "set"), sets, "{kind:?}");
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
        assert!(
            info.contains("rdb_changes_since_last_save:0"),
            "{kind:?}: {info}"
        );
        // With appendonly off the AOF on disk is still what gets loaded:
        // a write made since is gone.
        replies.push(c.cmd(&["CONFIG", "SET", "appendonly", "no"]));
        replies.push(c.cmd(&["SET", "not-in-aof", "1"]));
        replies.push(c.cmd(&["DEBUG", "LOADAOF"]));
        replies.push(c.cmd(&["EXISTS", "not-in-aof"]));
        replies.push(c.cmd(&["GET", "in-incr"]));
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), digest, "{kind:?}");
        seen.push(replies);
        drop(c);
        drop(s);
    }
    assert_eq!(seen[0], seen[1], "reference vs ours");
    assert_eq!(seen[0][0], b"+OK\r\n");
    assert_eq!(seen[0][4], b":0\r\n");
}

#[test]
fn debug_loadaof_without_any_aof_exits_like_the_reference() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let mut s = start_in(kind, &dir, &[]);
        let mut c = s.conn();
        c.cmd(&["SET", "k", "v"]);
        c.send_raw(b"DEBUG LOADAOF\r\n");
        // No reply: the process exits with status 1 (upstream's exit(1)
        // when there is nothing to load).
        let rest = c
            .read_until_close()
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(rest.is_empty(), "{kind:?}: {rest:?}");
        let status = s.wait_exit(Duration::from_secs(10));
        assert_eq!(status.and_then(|st| st.code()), Some(1), "{kind:?}");
        drop(c);
        drop(s);
    }
}

#[test]
fn a_rewrite_started_mid_batch_splits_the_batch_between_incr_files() {
    // Writes before BGREWRITEAOF in the same pipeline belong to the
    // rewrite's snapshot and the old incr file; only the ones after it may
    // go to the new incr file, or they would be replayed twice.
    let dir = TempDir::new();
    let s = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c = s.conn();
    wait_rewrite_done(&mut c);
    c.send_raw(b"INCR n\r\nRPUSH l a\r\nBGREWRITEAOF\r\nINCR n\r\nRPUSH l b\r\n");
    let replies: Vec<Vec<u8>> = (0..5).map(|_| c.read_reply_raw()).collect();
    assert_eq!(replies[0], b":1\r\n");
    assert_eq!(replies[3], b":2\r\n");
    wait_rewrite_done(&mut c);
    kill9(&s);
    drop(c);
    drop(s);
    let again = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c2 = again.conn();
    assert_eq!(c2.cmd(&["GET", "n"]), b"$1\r\n2\r\n");
    assert_eq!(c2.cmd(&["LLEN", "l"]), b":2\r\n");
    drop(c2);
    drop(again);
}

/// The log lines of an AOF load at startup, from the first loading line to
/// the incr file being reopened, with digits masked (ages, sizes, file
/// sequence numbers and timings differ between implementations).
fn aof_load_lines(log: &str) -> Vec<String> {
    let lines: Vec<String> = log
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3).map(str::to_string))
        .map(|m| {
            m.chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        })
        .collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("Reading RDB base file on AOF loading"))
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| l.contains("on server start"))
        .map_or(start, |e| e + 1);
    lines
        .get(start..end)
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

#[test]
fn aof_loading_logs_like_the_reference() {
    let mut seen = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(kind, &dir, &["--appendonly", "yes"]);
        let mut c = s.conn();
        wait_rewrite_done(&mut c);
        c.cmd(&["SET", "k", "v"]);
        c.send_raw(b"SHUTDOWN NOSAVE\r\n");
        let _ = c.read_until_close();
        drop(s);
        let s = start_in(kind, &dir, &["--appendonly", "yes"]);
        let mut c = s.conn();
        assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
        let lines = aof_load_lines(&s.log_contents());
        assert!(
            lines.len() >= 8,
            "{kind:?}: {lines:?}\n{}",
            s.log_contents()
        );
        seen.push(lines);
        drop(s);
    }
    assert_eq!(seen[1], seen[0], "ours vs the reference");
}

/// Under `appendfsync always` what one client's writes produce for others
/// (a served BLPOP, pub/sub messages, the replication stream) waits for the
/// fsync like the writer's own reply; nothing stalls on the way.
#[test]
fn pushed_replies_flow_under_appendfsync_always() {
    let dir = TempDir::new();
    let s = start_in(
        ServerKind::Ours,
        &dir,
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let rdir = TempDir::new();
    let port = s.port().to_string();
    let replica = start_in(
        ServerKind::Ours,
        &rdir,
        &["--replicaof", "127.0.0.1", &port],
    );
    let mut blocked = s.conn();
    let mut sub = s.conn();
    let mut w = s.conn();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "ch"]),
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    for i in 0..50 {
        blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nlist\r\n$1\r\n5\r\n");
        // Registered before the push (the reply would otherwise be a
        // plain LPOP result; both are checked the same way).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !String::from_utf8_lossy(&w.cmd(&["INFO", "clients"])).contains("blocked_clients:1") {
            assert!(Instant::now() < deadline, "BLPOP never blocked");
            std::thread::sleep(Duration::from_millis(1));
        }
        let v = format!("v{i}");
        assert_eq!(w.cmd(&["RPUSH", "list", &v]), b":1\r\n");
        assert_eq!(
            blocked.read_reply_raw(),
            format!("*2\r\n$4\r\nlist\r\n${}\r\n{v}\r\n", v.len()).into_bytes()
        );
        assert_eq!(w.cmd(&["PUBLISH", "ch", &v]), b":1\r\n");
        assert_eq!(
            sub.read_reply_raw(),
            format!("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n${}\r\n{v}\r\n", v.len()).into_bytes()
        );
        assert_eq!(w.cmd(&["SET", "last", &v]), b"+OK\r\n");
    }
    // The replica follows the stream.
    let mut rc = replica.conn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rc.cmd(&["GET", "last"]) != b"$3\r\nv49\r\n" {
        assert!(Instant::now() < deadline, "replica did not catch up");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(s);
    let again = start_in(ServerKind::Ours, &dir, &["--appendonly", "yes"]);
    let mut c = again.conn();
    assert_eq!(c.cmd(&["GET", "last"]), b"$3\r\nv49\r\n");
    assert_eq!(c.cmd(&["EXISTS", "list"]), b":0\r\n");
}

/// Replaying the AOF never expires a key on the way: a deadline already in
/// the past is set, not applied, and later commands find the key as it
/// was; the key is gone once loading ends (upstream's `keyIsExpired`
/// while loading).
#[test]
fn keys_do_not_expire_while_the_aof_loads() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let aof = dir.path().join("appendonlydir");
        std::fs::create_dir(&aof).unwrap();
        std::fs::write(
            aof.join("appendonly.aof.1.incr.aof"),
            [
                &["RPUSH", "list", "foo"][..],
                &["PEXPIREAT", "list", "1000"],
                &["RPUSH", "list", "bar"],
                &["SET", "s", "1"],
                &["PEXPIREAT", "s", "1000"],
                &["INCR", "s"],
                &["SET", "live", "x"],
            ]
            .iter()
            .flat_map(|c| redis_testkit::conn::encode_request(c))
            .collect::<Vec<u8>>(),
        )
        .unwrap();
        std::fs::write(
            aof.join("appendonly.aof.manifest"),
            "file appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let s = start_in(kind, dir.path(), &["--appendonly", "yes"]);
        let mut c = s.conn();
        assert_eq!(c.cmd(&["LLEN", "list"]), b":0\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["GET", "s"]), b"$-1\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n", "{kind:?}");
    }
}

/// An `appendonly.aof` left in `dir` by Redis 6 (plain commands, or an RDB
/// preamble followed by commands) is moved into `appendonlydir` as base 1
/// and loaded, as the reference migrates it; an interrupted migration
/// (manifest written, file not moved yet) is resumed.
#[test]
fn old_style_aof_is_migrated_into_the_aof_directory() {
    let commands: Vec<u8> = [&["SET", "k2", "v2"][..], &["SET", "k3", "v3"]]
        .iter()
        .flat_map(|c| redis_testkit::conn::encode_request(c))
        .collect();
    // An RDB holding k1, written by the reference.
    let rdb = {
        let dir = TempDir::new();
        let s = start_in(ServerKind::Reference, dir.path(), &[]);
        let mut c = s.conn();
        c.cmd(&["SET", "k1", "v1"]);
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
        std::fs::read(dir.path().join("dump.rdb")).unwrap()
    };
    let plain = [
        redis_testkit::conn::encode_request(&["SET", "k1", "v1"]),
        commands.clone(),
    ]
    .concat();
    let preamble = [rdb, commands].concat();
    for (what, old) in [("plain", &plain), ("rdb preamble", &preamble)] {
        for interrupted in [false, true] {
            let mut manifests = Vec::new();
            for kind in [ServerKind::Reference, ServerKind::Ours] {
                let dir = TempDir::new();
                std::fs::write(dir.path().join("appendonly.aof"), old).unwrap();
                let aofdir = dir.path().join("appendonlydir");
                if interrupted {
                    std::fs::create_dir(&aofdir).unwrap();
                    std::fs::write(
                        aofdir.join("appendonly.aof.manifest"),
                        "file appendonly.aof seq 1 type b\n",
                    )
                    .unwrap();
                }
                let s = start_in(kind, dir.path(), &["--appendonly", "yes"]);
                let mut c = s.conn();
                let ctx = format!("{kind:?}, {what}, interrupted {interrupted}");
                for (k, v) in [("k1", "v1"), ("k2", "v2"), ("k3", "v3")] {
                    assert_eq!(
                        c.cmd(&["GET", k]),
                        format!("$2\r\n{v}\r\n").into_bytes(),
                        "{ctx}"
                    );
                }
                assert!(!dir.path().join("appendonly.aof").exists(), "{ctx}");
                assert!(aofdir.join("appendonly.aof").exists(), "{ctx}");
                manifests
                    .push(std::fs::read_to_string(aofdir.join("appendonly.aof.manifest")).unwrap());
                drop(c);
                drop(s);
            }
            assert_eq!(
                manifests[1], manifests[0],
                "{what}, interrupted {interrupted}"
            );
        }
    }
}

/// `DEBUG AOF-FLUSH-SLEEP`: the AOF write (and so, under `appendfsync
/// always`, the reply) waits that long, as upstream's test knob does.
#[test]
fn debug_aof_flush_sleep_delays_the_write() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(
            kind,
            dir.path(),
            &["--appendonly", "yes", "--appendfsync", "always"],
        );
        let mut c = s.conn();
        assert_eq!(c.cmd(&["DEBUG", "AOF-FLUSH-SLEEP", "300000"]), b"+OK\r\n");
        let t = Instant::now();
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{kind:?}: {:?}",
            t.elapsed()
        );
        assert_eq!(c.cmd(&["DEBUG", "AOF-FLUSH-SLEEP", "0"]), b"+OK\r\n");
    }
}

/// A stream that never had an entry (`XGROUP CREATE … MKSTREAM`), and one
/// emptied by `XDEL`, survive an AOF rewrite without RDB preamble and a
/// reload: same digest before and after, as the reference.
#[test]
fn empty_streams_survive_an_aof_rewrite() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(
            kind,
            dir.path(),
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
        );
        let mut c = s.conn();
        // The base written at startup first.
        wait_rewrite_done(&mut c);
        c.cmd(&["XGROUP", "CREATE", "s1", "g", "$", "MKSTREAM"]);
        c.cmd(&["XADD", "s2", "5-5", "a", "b"]);
        c.cmd(&["XDEL", "s2", "5-5"]);
        let before = c.cmd(&["DEBUG", "DIGEST"]);
        assert_eq!(
            c.cmd(&["BGREWRITEAOF"]),
            b"+Background append only file rewriting started\r\n"
        );
        wait_rewrite_done(&mut c);
        assert_eq!(c.cmd(&["DEBUG", "LOADAOF"]), b"+OK\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), before, "{kind:?}");
        assert_eq!(c.cmd(&["EXISTS", "s1", "s2"]), b":2\r\n", "{kind:?}");
    }
}

/// A server started with `appendonly yes` and no AOF writes base 1 and
/// incr 1 at once, with the same manifest and files as the reference.
#[test]
fn a_fresh_aof_starts_with_base_1_and_incr_1() {
    let mut layouts = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(kind, dir.path(), &["--appendonly", "yes"]);
        let mut c = s.conn();
        c.cmd(&["SET", "k", "v"]);
        let aofdir = dir.path().join("appendonlydir");
        let manifest = std::fs::read_to_string(aofdir.join("appendonly.aof.manifest")).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(&aofdir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        layouts.push((manifest, files));
    }
    assert_eq!(layouts[1], layouts[0], "ours vs reference");
}

/// `BGREWRITEAOF` with `appendonly no` (7.0): a new base in the AOF
/// directory and no incr file, the same manifest as the reference's, and
/// `DEBUG LOADAOF` loads it back. Turning the AOF off during a rewrite
/// kills it with upstream's line.
#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base() {
    let mut manifests = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(kind, dir.path(), &[]);
        let mut c = s.conn();
        c.cmd(&["SET", "k", "v"]);
        c.cmd(&["RPUSH", "l", "a", "b"]);
        let before = c.cmd(&["DEBUG", "DIGEST"]);
        assert_eq!(
            c.cmd(&["BGREWRITEAOF"]),
            b"+Background append only file rewriting started\r\n",
            "{kind:?}"
        );
        wait_rewrite_done(&mut c);
        let aofdir = dir.path().join("appendonlydir");
        manifests.push(std::fs::read_to_string(aofdir.join("appendonly.aof.manifest")).unwrap());
        c.cmd(&["FLUSHALL"]);
        assert_eq!(c.cmd(&["DEBUG", "LOADAOF"]), b"+OK\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), before, "{kind:?}");
        // A slow rewrite, killed by turning the AOF off.
        c.cmd(&["CONFIG", "SET", "appendonly", "yes"]);
        wait_rewrite_done(&mut c);
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "10000000"]);
        c.cmd(&["BGREWRITEAOF"]);
        c.cmd(&["CONFIG", "SET", "appendonly", "no"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s
            .log_contents()
            .contains("Killing running AOF rewrite child")
        {
            assert!(Instant::now() < deadline, "{kind:?}: no kill line");
            std::thread::sleep(Duration::from_millis(20));
        }
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    }
    assert_eq!(manifests[1], manifests[0], "ours vs reference");
}

/// `CONFIG SET aof-timestamp-enabled yes` on a running server: the next
/// command written to the incr file is preceded by a `#TS:` annotation,
/// on both servers.
#[test]
fn config_set_aof_timestamp_enabled_annotates_the_next_command() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = start_in(kind, &dir, &["--appendonly", "yes"]);
        let mut c = s.conn();
        c.cmd(&["CONFIG", "SET", "aof-timestamp-enabled", "yes"]);
        c.cmd(&["SET", "foo", "bar"]);
        let raw = std::fs::read(incr_file(&dir)).unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("#TS:"), "{kind:?}: {text:?}");
        assert!(text.contains("foo\r\n$3\r\nbar\r\n"), "{kind:?}: {text:?}");
    }
}
