//! What a replica serves while it loads a full sync with
//! `repl-diskless-load swapdb`, and after the sync fails half way: with a
//! new history (another replication ID) it answers `-LOADING` from the
//! moment the payload starts (`loading:1`) and exposes its old dataset
//! again when the transfer breaks; with the same history it keeps serving
//! the old dataset throughout (`async_loading:1`). Our replica and the
//! reference's run the same scenarios.

use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TestServer};

fn field(c: &mut Conn, name: &str) -> String {
    c.info_field("all", name).unwrap_or_default()
}

/// Polls INFO until `name` is `want` (10 s at most).
fn wait_field(c: &mut Conn, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while field(c, name) != want {
        assert!(Instant::now() < deadline, "{name} never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A primary with about 8 MB that it sends slowly (a few seconds): large
/// values, because the reference's replica serves clients only once per
/// 2 MB loaded.
fn slow_primary() -> (TestServer, Conn) {
    let primary = TestServer::start(
        ServerKind::Ours,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
            "--rdbcompression",
            "no",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut p = primary.conn();
    assert_eq!(
        p.cmd(&["DEBUG", "POPULATE", "400", "master", "20000"]),
        b"+OK\r\n"
    );
    (primary, p)
}

fn swapdb_replica(kind: ServerKind) -> (TestServer, Conn) {
    let replica = TestServer::start(
        kind,
        &[
            "--repl-diskless-load",
            "swapdb",
            "--replica-read-only",
            "no",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut r = replica.conn();
    assert_eq!(
        r.cmd(&["DEBUG", "POPULATE", "50", "slave", "10"]),
        b"+OK\r\n"
    );
    assert_eq!(r.cmd(&["SET", "mykey", "myvalue"]), b"+OK\r\n");
    (replica, r)
}

/// Breaks the transfer from the primary's side and keeps the next full
/// sync away for a while.
fn abort_transfer(p: &mut Conn) {
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "repl-diskless-sync-delay", "5"]),
        b"+OK\r\n"
    );
    assert_eq!(p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
}

#[test]
fn swapdb_from_another_history_loads_with_loading_and_restores_on_failure() {
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        let (primary, mut p) = slow_primary();
        p.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "10000"]);
        let (_replica, mut r) = swapdb_replica(kind);
        let port = primary.port().to_string();
        assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
        wait_field(&mut r, "loading", "1");
        assert_eq!(field(&mut r, "async_loading"), "0", "{kind:?}");
        assert_eq!(
            r.cmd(&["GET", "mykey"]),
            b"-LOADING Redis is loading the dataset in memory\r\n",
            "{kind:?}"
        );
        abort_transfer(&mut p);
        wait_field(&mut r, "loading", "0");
        assert_eq!(r.cmd(&["GET", "mykey"]), b"$7\r\nmyvalue\r\n", "{kind:?}");
        assert_eq!(r.cmd(&["DBSIZE"]), b":51\r\n", "{kind:?}");
    }
}

#[test]
fn swapdb_of_the_same_history_serves_the_old_dataset_while_loading() {
    for kind in [ServerKind::Ours, ServerKind::Reference] {
        let (primary, mut p) = slow_primary();
        let (_replica, mut r) = swapdb_replica(kind);
        let port = primary.port().to_string();
        assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
        wait_field(&mut r, "master_link_status", "up");
        assert_eq!(r.cmd(&["SET", "mykey", "myvalue"]), b"+OK\r\n");
        // The next full sync continues the same history: the replica's
        // offset fell out of a backlog too small to serve it.
        p.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "10000"]);
        p.cmd(&["MULTI"]);
        p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
        p.cmd(&["CONFIG", "SET", "repl-backlog-size", "16384"]);
        for i in 0..10 {
            p.cmd(&["SET", &format!("filler{i}"), &"A".repeat(16384)]);
        }
        p.cmd(&["EXEC"]);
        wait_field(&mut r, "async_loading", "1");
        assert_eq!(field(&mut r, "loading"), "0", "{kind:?}");
        assert_eq!(r.cmd(&["GET", "mykey"]), b"$7\r\nmyvalue\r\n", "{kind:?}");
        abort_transfer(&mut p);
        wait_field(&mut r, "async_loading", "0");
        assert_eq!(r.cmd(&["GET", "mykey"]), b"$7\r\nmyvalue\r\n", "{kind:?}");
    }
}
