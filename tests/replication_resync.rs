//! Partial resynchronization edge cases, where a replica that resumes its
//! primary's stream must resume it exactly: in the database the stream was
//! in (the stream carries no `SELECT` after a `+CONTINUE`, nor after a
//! restart from the replica's own RDB), from the offset before a
//! transaction cut by the link loss, and with the link closed at once by
//! `CLIENT KILL` even while the replica is busy. Each scenario runs our
//! replica and the reference's and expects the same outcome.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use redis_testkit::conn::encode_request;
use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

fn stat(c: &mut Conn, section: &str, name: &str) -> i64 {
    c.info_field(section, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// Waits (bounded) until `replica`'s link is up and it has processed
/// everything `primary` produced.
fn wait_in_sync(primary: &mut Conn, replica: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = replica.info_field("replication", "master_link_status");
        let po = primary.info_field("replication", "master_repl_offset");
        let ro = replica.info_field("replication", "master_repl_offset");
        if up.as_deref() == Some("up") && po.is_some() && po == ro {
            return;
        }
        assert!(Instant::now() < deadline, "replica did not catch up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// No 5 s wait for more replicas before a full sync.
const PRIMARY: &[&str] = &["--repl-diskless-sync-delay", "0"];

fn replica_args(primary_port: u16) -> Vec<String> {
    vec![
        "--replicaof".into(),
        "127.0.0.1".into(),
        primary_port.to_string(),
        "--enable-debug-command".into(),
        "yes".into(),
    ]
}

fn start(kind: ServerKind, args: &[String]) -> TestServer {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start(kind, &a)
}

/// After `CLIENT KILL TYPE master`, the primary keeps writing to the
/// database it last selected without a new `SELECT`: the replica must
/// apply those writes there, not in database 0.
#[test]
fn partial_resync_goes_on_in_the_selected_database() {
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        for primary_kind in [ServerKind::Ours, ServerKind::Reference] {
            let primary = TestServer::start(primary_kind, PRIMARY);
            let mut p = primary.conn();
            let replica = start(kind, &replica_args(primary.port()));
            let mut r = replica.conn();
            assert_eq!(p.cmd(&["SELECT", "9"]), b"+OK\r\n");
            wait_in_sync(&mut p, &mut r);
            // The stream (not the initial RDB) selects database 9.
            p.cmd(&["SET", "before", "1"]);
            wait_in_sync(&mut p, &mut r);
            let partial = stat(&mut p, "stats", "sync_partial_ok");
            assert_eq!(r.cmd(&["CLIENT", "KILL", "TYPE", "master"]), b":1\r\n");
            wait_for(|| stat(&mut p, "stats", "sync_partial_ok") == partial + 1);
            p.cmd(&["SET", "after", "2"]);
            wait_in_sync(&mut p, &mut r);
            let what = format!("{kind:?} replica of {primary_kind:?}");
            assert_eq!(r.cmd(&["DBSIZE"]), b":0\r\n", "{what}: db 0");
            r.cmd(&["SELECT", "9"]);
            assert_eq!(r.cmd(&["GET", "after"]), b"$1\r\n2\r\n", "{what}");
            assert_eq!(stat(&mut p, "stats", "sync_full"), 1, "{what}");
        }
    }
}

/// A replica restarted from its own RDB resumes the stream with a partial
/// resynchronization, in the database recorded as `repl-stream-db`.
#[test]
fn restarted_replica_resumes_in_the_saved_stream_database() {
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        let primary = TestServer::start(ServerKind::Ours, PRIMARY);
        let mut p = primary.conn();
        let dir = TempDir::new();
        let mut args = replica_args(primary.port());
        args.extend(["--dir".into(), dir.path_str().into()]);
        let replica = start(kind, &args);
        let mut r = replica.conn();
        p.cmd(&["SELECT", "7"]);
        wait_in_sync(&mut p, &mut r);
        // The stream (not the initial RDB) selects database 7.
        p.cmd(&["SET", "before", "1"]);
        wait_in_sync(&mut p, &mut r);
        assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
        drop(r);
        drop(replica);
        let partial = stat(&mut p, "stats", "sync_partial_ok");
        let replica = start(kind, &args);
        let mut r = replica.conn();
        wait_for(|| stat(&mut p, "stats", "sync_partial_ok") == partial + 1);
        p.cmd(&["SET", "after", "2"]);
        wait_in_sync(&mut p, &mut r);
        assert_eq!(r.cmd(&["DBSIZE"]), b":0\r\n", "{kind:?}: db 0");
        r.cmd(&["SELECT", "7"]);
        assert_eq!(r.cmd(&["GET", "after"]), b"$1\r\n2\r\n", "{kind:?}");
    }
}

/// `CLIENT KILL TYPE master` inside a transaction that then sleeps: the
/// primary sees its replica gone during the sleep, not after it.
#[test]
fn client_kill_master_closes_the_link_at_once() {
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        let primary = TestServer::start(ServerKind::Ours, PRIMARY);
        let mut p = primary.conn();
        let replica = start(kind, &replica_args(primary.port()));
        let mut r = replica.conn();
        p.cmd(&["SET", "k", "v"]);
        wait_in_sync(&mut p, &mut r);
        let mut batch = Vec::new();
        for cmd in [
            &["MULTI"][..],
            &["CLIENT", "KILL", "TYPE", "master"],
            &["DEBUG", "SLEEP", "3"],
            &["EXEC"],
        ] {
            batch.extend(encode_request(cmd));
        }
        let sent = Instant::now();
        r.send_raw(&batch);
        wait_for(|| stat(&mut p, "replication", "connected_slaves") == 0);
        let seen = sent.elapsed();
        for _ in 0..4 {
            r.read_reply_raw();
        }
        assert!(
            seen < Duration::from_millis(2500),
            "{kind:?}: the primary saw the replica gone after {seen:?}"
        );
    }
}

/// Polls `cond` for up to 30 s.
fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached in 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One request of a replica, as the fake primary reads it.
fn read_request(rd: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).ok()? == 0 {
            return None;
        }
        // Replicas may send bare newlines as keep-alives while loading.
        if !line.trim().is_empty() {
            break;
        }
    }
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        rd.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut arg = vec![0u8; len + 2];
        rd.read_exact(&mut arg).ok()?;
        arg.truncate(len);
        args.push(String::from_utf8_lossy(&arg).into_owned());
    }
    Some(args)
}

/// Answers a replica's handshake up to its `PSYNC` and returns the
/// `PSYNC` arguments.
fn handshake(rd: &mut BufReader<TcpStream>, wr: &mut TcpStream) -> Vec<String> {
    loop {
        let req = read_request(rd).expect("replica closed during the handshake");
        match req[0].to_ascii_uppercase().as_str() {
            "PING" => wr.write_all(b"+PONG\r\n").unwrap(),
            "PSYNC" => return req,
            _ => wr.write_all(b"+OK\r\n").unwrap(),
        }
    }
}

/// An empty RDB (version 9, no checksum).
fn empty_rdb() -> Vec<u8> {
    let mut v = b"REDIS0009".to_vec();
    v.push(0xFF);
    v.extend_from_slice(&[0u8; 8]);
    v
}

const REPLID: &str = "0123456789abcdef0123456789abcdef01234567";

/// A fake primary sends `SELECT 5`, a write, then `MULTI` and a queued
/// write, and drops the link: the transaction never counted, so the
/// replica asks to resume right after the first write, and once the
/// transaction is sent again (with a later write and no `SELECT`) every
/// write is in database 5.
#[test]
fn link_lost_inside_a_transaction_resumes_before_it() {
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let replica = start(kind, &replica_args(port));
        let accept = |l: &TcpListener| {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            (BufReader::new(s.try_clone().unwrap()), s)
        };
        let head = [
            encode_request(&["SELECT", "5"]),
            encode_request(&["SET", "x", "1"]),
        ]
        .concat();
        let tx = [
            encode_request(&["MULTI"]),
            encode_request(&["SET", "y", "2"]),
        ]
        .concat();

        let (mut rd, mut wr) = accept(&listener);
        let psync = handshake(&mut rd, &mut wr);
        assert_eq!(psync[1..], ["?", "-1"], "{kind:?}");
        let rdb = empty_rdb();
        let mut first = format!("+FULLRESYNC {REPLID} 0\r\n${}\r\n", rdb.len()).into_bytes();
        first.extend_from_slice(&rdb);
        first.extend_from_slice(&head);
        first.extend_from_slice(&tx);
        wr.write_all(&first).unwrap();
        let mut r = replica.conn();
        wait_for(|| r.info_field("replication", "master_link_status").as_deref() == Some("up"));
        // Let the replica read and apply everything sent, then cut.
        std::thread::sleep(Duration::from_millis(300));
        drop(rd);
        drop(wr);

        let (mut rd, mut wr) = accept(&listener);
        let psync = handshake(&mut rd, &mut wr);
        let want = (head.len() + 1).to_string();
        assert_eq!(psync[1..], [REPLID, want.as_str()], "{kind:?}");
        let mut rest = b"+CONTINUE\r\n".to_vec();
        rest.extend_from_slice(&tx);
        rest.extend_from_slice(&encode_request(&["EXEC"]));
        rest.extend_from_slice(&encode_request(&["SET", "z", "3"]));
        wr.write_all(&rest).unwrap();
        let end = (head.len() + rest.len() - b"+CONTINUE\r\n".len()).to_string();
        wait_for(|| r.info_field("replication", "master_repl_offset").as_deref() == Some(&end));
        assert_eq!(r.cmd(&["DBSIZE"]), b":0\r\n", "{kind:?}: db 0");
        r.cmd(&["SELECT", "5"]);
        for (k, v) in [("x", "1"), ("y", "2"), ("z", "3")] {
            assert_eq!(
                r.cmd(&["GET", k]),
                format!("$1\r\n{v}\r\n").into_bytes(),
                "{kind:?}: {k}"
            );
        }
        drop(replica);
    }
}

/// A replica applies its primary's stream against every stored key, even
/// one its own clock says has expired (the primary decided against a key
/// live there and sends `DEL` for those that expire): `INCR` continues the
/// value, `SET … NX` finds the key. Clients of the replica meanwhile see
/// the key as gone. Checked by value digests against the reference's
/// replica fed the same stream.
#[test]
fn primary_stream_sees_keys_the_replica_clock_expired() {
    let mut digests = Vec::new();
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let replica = start(kind, &replica_args(port));
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (mut rd, mut wr) = (BufReader::new(s.try_clone().unwrap()), s);
        handshake(&mut rd, &mut wr);
        let rdb = empty_rdb();
        let mut out = format!("+FULLRESYNC {REPLID} 0\r\n${}\r\n", rdb.len()).into_bytes();
        out.extend_from_slice(&rdb);
        let stream = [
            encode_request(&["SELECT", "0"]),
            encode_request(&["SET", "k", "5", "PXAT", "1000"]),
            encode_request(&["INCR", "k"]),
            encode_request(&["SET", "m", "0", "PXAT", "1000"]),
            encode_request(&["SET", "m", "1", "NX"]),
        ]
        .concat();
        out.extend_from_slice(&stream);
        wr.write_all(&out).unwrap();
        let mut r = replica.conn();
        let end = stream.len().to_string();
        wait_for(|| r.info_field("replication", "master_repl_offset").as_deref() == Some(&end));
        assert_eq!(
            r.cmd(&["GET", "k"]),
            b"$-1\r\n",
            "{kind:?}: clients see it gone"
        );
        assert_eq!(r.cmd(&["DBSIZE"]), b":2\r\n", "{kind:?}");
        digests.push((
            r.cmd(&["DEBUG", "DIGEST-VALUE", "k"]),
            r.cmd(&["DEBUG", "DIGEST-VALUE", "m"]),
        ));
        drop((rd, wr));
    }
    assert_eq!(digests[0], digests[1], "ours vs the reference's replica");
}

/// A replica's output buffer hard limit below `repl-backlog-size` is
/// raised to it (7.0): a replica resuming with a partial resync is not cut
/// for the backlog it is sent, nor for writes that fit in the backlog.
#[test]
fn replica_output_limit_below_the_backlog_size_is_raised_to_it() {
    for primary_kind in [ServerKind::Reference, ServerKind::Ours] {
        let mut args = PRIMARY.to_vec();
        args.extend([
            "--enable-debug-command",
            "yes",
            "--repl-backlog-size",
            "100mb",
            "--client-output-buffer-limit",
            "replica 512k 0 0",
        ]);
        let primary = TestServer::start(primary_kind, &args);
        let mut p = primary.conn();
        let replica = start(ServerKind::Ours, &replica_args(primary.port()));
        let mut r = replica.conn();
        wait_in_sync(&mut p, &mut r);
        let big = "A".repeat(2 * 1024 * 1024);
        p.cmd(&["MULTI"]);
        p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
        p.cmd(&["SET", "key", &big]);
        p.cmd(&["SET", "key", &big]);
        p.cmd(&["DEBUG", "SLEEP", "1"]);
        p.cmd(&["EXEC"]);
        p.cmd(&["SET", "key", &big]);
        wait_in_sync(&mut p, &mut r);
        for _ in 0..3 {
            p.cmd(&["SET", "key", &big]);
        }
        wait_in_sync(&mut p, &mut r);
        let what = format!("{primary_kind:?} primary");
        assert_eq!(stat(&mut p, "stats", "sync_full"), 1, "{what}");
        assert_eq!(stat(&mut p, "stats", "sync_partial_ok"), 1, "{what}");
    }
}

/// `bind-source-addr`: the replica connects to its primary from that
/// address, which the primary then lists (`slave0:ip=…`).
#[test]
fn replica_connects_from_bind_source_addr() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let primary = TestServer::start(ServerKind::Ours, PRIMARY);
        let mut p = primary.conn();
        p.cmd(&["CONFIG", "SET", "protected-mode", "no"]);
        let mut args = replica_args(primary.port());
        args.extend(["--bind-source-addr".into(), "127.0.0.2".into()]);
        let replica = start(kind, &args);
        let mut r = replica.conn();
        wait_in_sync(&mut p, &mut r);
        let slave0 = p.info_field("replication", "slave0").unwrap_or_default();
        assert!(slave0.starts_with("ip=127.0.0.2,"), "{kind:?}: {slave0}");
    }
}
