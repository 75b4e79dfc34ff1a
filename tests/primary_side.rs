//! What a primary reports about its replicas and how it shuts down, each
//! checked on the reference too: `connected_clients` leaves replica links
//! out, `mem_total_replication_buffers` grows with the stream a stopped
//! replica cannot take, and `SHUTDOWN` refuses to exit while the AOF just
//! turned on has no base yet.

use std::time::{Duration, Instant};

use redis_testkit::{Conn, ServerKind, TempDir, TestServer};

fn field(c: &mut Conn, section: &str, name: &str) -> String {
    let raw = c.cmd(&["INFO", section]);
    String::from_utf8_lossy(&raw)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
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
