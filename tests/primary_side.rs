//! What a primary reports about its replicas and how it shuts down, each
//! checked on the reference too: `connected_clients` leaves replica links
//! out, `mem_total_replication_buffers` grows with the stream a stopped
//! replica cannot take, `CONFIG RESETSTAT` clears the sync and save
//! counters, and `SHUTDOWN` refuses to exit while the AOF just turned on
//! has no base yet.

use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

fn field(c: &mut Conn, section: &str, name: &str) -> String {
    c.info_field(section, name).unwrap_or_default()
}

fn wait_field(c: &mut Conn, section: &str, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while field(c, section, name) != want {
        assert!(Instant::now() < deadline, "{name} never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A primary of `kind` with one replica of ours, linked.
fn pair(kind: ServerKind, extra: &[&str]) -> (TestServer, TestServer, Conn) {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    let primary = TestServer::start(kind, &args);
    let port = primary.port().to_string();
    let replica = TestServer::start(ServerKind::Ours, &["--replicaof", "127.0.0.1", &port]);
    let mut p = primary.conn();
    wait_field(&mut p, "replication", "connected_slaves", "1");
    let mut r = replica.conn();
    wait_field(&mut r, "replication", "master_link_status", "up");
    (primary, replica, p)
}

#[test]
fn connected_clients_leaves_replica_links_out() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (_primary, replica, mut p) = pair(kind, &[]);
        assert_eq!(
            field(&mut p, "clients", "connected_clients"),
            "1",
            "{kind:?}"
        );
        // On the replica, the primary's link is a client like the others.
        let mut r = replica.conn();
        assert_eq!(
            field(&mut r, "clients", "connected_clients"),
            "2",
            "{kind:?}"
        );
    }
}

#[test]
fn replication_buffers_grow_while_a_replica_is_stopped() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (_primary, replica, mut p) = pair(
            kind,
            &[
                "--enable-debug-command",
                "yes",
                "--repl-backlog-size",
                "16kb",
            ],
        );
        assert!(replica.signal("-STOP"), "SIGSTOP");
        let value = "x".repeat(64 * 1024);
        let mut grown = false;
        // At most 64 MB written: the socket buffers hold a few MB.
        for i in 0..1024 {
            p.cmd(&["SET", &format!("k{}", i % 16), &value]);
            let mem: u64 = field(&mut p, "memory", "mem_total_replication_buffers")
                .parse()
                .unwrap_or(0);
            if mem > 2 * 1024 * 1024 {
                grown = true;
                break;
            }
        }
        assert!(replica.signal("-CONT"), "SIGCONT");
        assert!(
            grown,
            "{kind:?}: mem_total_replication_buffers stayed under 2 MB"
        );
    }
}

#[test]
fn shutdown_is_refused_while_the_first_aof_base_is_written() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let s = TestServer::start(kind, &["--dir", dir.path_str()]);
        let mut c = s.conn();
        c.cmd(&["SET", "k", "v"]);
        // One key takes 30 s to write: the rewrite is still running below.
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "30000000"]);
        assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
        wait_field(&mut c, "persistence", "aof_rewrite_in_progress", "1");
        assert_eq!(
            c.cmd(&["SHUTDOWN"]),
            b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n",
            "{kind:?}"
        );
        assert!(
            s.log_contents()
                .contains("Writing initial AOF, can't exit."),
            "{kind:?}"
        );
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "{kind:?}");
    }
}

#[test]
fn resetstat_clears_sync_and_save_counters() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let (_primary, _replica, mut p) = pair(kind, &[]);
        assert_eq!(p.cmd(&["SAVE"]), b"+OK\r\n");
        assert_eq!(field(&mut p, "stats", "sync_full"), "1", "{kind:?}");
        assert_eq!(field(&mut p, "persistence", "rdb_saves"), "1", "{kind:?}");
        assert_eq!(p.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
        for (section, name) in [
            ("stats", "sync_full"),
            ("stats", "sync_partial_ok"),
            ("stats", "sync_partial_err"),
            ("persistence", "rdb_saves"),
        ] {
            assert_eq!(field(&mut p, section, name), "0", "{kind:?}: {name}");
        }
    }
}

/// A primary restarted from its RDB keeps its history as the secondary ID
/// (valid up to the offset it saved), so its replicas continue with a
/// partial resynchronization, and keys that expired while it was down
/// reach them as `DEL`s through the restored backlog.
#[test]
fn restarted_primary_continues_its_history_from_the_rdb() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let dir = TempDir::new();
        let args = [
            "--dir",
            dir.path_str(),
            "--save",
            "3600 1",
            "--repl-diskless-sync-delay",
            "0",
            "--enable-debug-command",
            "yes",
        ];
        let primary = TestServer::start(kind, &args);
        let mut p = primary.conn();
        let replica = TestServer::start(
            ServerKind::Ours,
            &["--replicaof", "127.0.0.1", &primary.port().to_string()],
        );
        let mut r = replica.conn();
        wait_field(&mut r, "replication", "master_link_status", "up");
        p.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        for i in 0..20 {
            p.cmd(&["SET", &format!("live{i}"), "v"]);
            p.cmd(&["SET", &format!("short{i}"), "v", "PX", "10"]);
        }
        let offset = field(&mut p, "replication", "master_repl_offset");
        wait_field(&mut r, "replication", "master_repl_offset", &offset);
        let replid = field(&mut p, "replication", "master_replid");
        std::thread::sleep(Duration::from_millis(50));
        // NOW: no GETACK to the replicas moves the offset first.
        p.send_raw(b"SHUTDOWN NOW\r\n");
        let _ = p.read_until_close();
        drop(primary);
        // The restarted primary listens on another port: the replica is
        // pointed there and continues the same history.
        let primary = TestServer::start(kind, &args);
        let mut p = primary.conn();
        let port = primary.port().to_string();
        assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
        wait_field(&mut p, "stats", "sync_partial_ok", "1");
        let what = format!("{kind:?}");
        assert_eq!(
            field(&mut p, "replication", "master_replid2"),
            replid,
            "{what}"
        );
        let next = (offset.parse::<i64>().unwrap() + 1).to_string();
        assert_eq!(
            field(&mut p, "replication", "second_repl_offset"),
            next,
            "{what}"
        );
        assert_eq!(field(&mut p, "stats", "sync_full"), "0", "{what}");
        let end = field(&mut p, "replication", "master_repl_offset");
        wait_field(&mut r, "replication", "master_repl_offset", &end);
        assert_eq!(p.cmd(&["DBSIZE"]), b":20\r\n", "{what}");
        assert_eq!(
            r.cmd(&["DBSIZE"]),
            b":20\r\n",
            "{what}: the DELs reached the replica"
        );
    }
}

/// Failing over back and forth (`FAILOVER` both ways) while writing to
/// database 9: a promoted server starts its stream with a `SELECT`, so the
/// demoted one (which resumes in database 0) applies the writes where they
/// belong; the datasets end equal.
#[test]
fn failover_back_and_forth_keeps_every_write_in_its_database() {
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let a = TestServer::start(kind, &["--repl-diskless-sync-delay", "0"]);
        let b = TestServer::start(kind, &["--repl-diskless-sync-delay", "0"]);
        let (mut ca, mut cb) = (a.conn(), b.conn());
        let (pa, pb) = (a.port().to_string(), b.port().to_string());
        cb.cmd(&["REPLICAOF", "127.0.0.1", &pa]);
        wait_field(&mut ca, "replication", "connected_slaves", "1");
        wait_field(&mut cb, "replication", "master_link_status", "up");
        ca.cmd(&["SELECT", "9"]);
        cb.cmd(&["SELECT", "9"]);
        ca.cmd(&["SET", "k1", "v"]);
        failover(&mut ca, &mut cb, &pb);
        failover(&mut cb, &mut ca, &pa);
        // `a` is the primary again; it last selected database 9 before its
        // first demotion.
        ca.cmd(&["SET", "k2", "v"]);
        let off = field(&mut ca, "replication", "master_repl_offset");
        wait_field(&mut cb, "replication", "master_repl_offset", &off);
        assert_eq!(
            cb.cmd(&["DBSIZE"]),
            b":2\r\n",
            "{kind:?}: db 9 of the replica"
        );
        cb.cmd(&["SELECT", "0"]);
        assert_eq!(
            cb.cmd(&["DBSIZE"]),
            b":0\r\n",
            "{kind:?}: db 0 of the replica"
        );
    }
}

/// `FAILOVER TO` from the primary `from` to its replica `to` (at
/// `to_port`), once `to` has caught up; returns when `from` follows `to`.
fn failover(from: &mut Conn, to: &mut Conn, to_port: &str) {
    wait_field(to, "replication", "master_link_status", "up");
    let off = field(from, "replication", "master_repl_offset");
    wait_field(to, "replication", "master_repl_offset", &off);
    assert_eq!(
        from.cmd(&["FAILOVER", "TO", "127.0.0.1", to_port]),
        b"+OK\r\n"
    );
    wait_field(from, "replication", "master_failover_state", "no-failover");
    wait_field(to, "replication", "role", "master");
    wait_field(from, "replication", "master_link_status", "up");
}
