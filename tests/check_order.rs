//! The order of the dispatcher's checks, proved against the reference: for
//! each pair of adjacent checks of upstream 7.0's `processCommand` (lookup →
//! arity → protected commands → authentication → `NO_MULTI` → ACL →
//! cluster redirection → OOM → MISCONF → NOREPLICAS → READONLY → pub/sub
//! context → MASTERDOWN → LOADING → busy script → replica keyspace access →
//! client pause → MULTI queueing), a state where both would refuse the
//! same command, and the reply compared byte for byte with the reference's.
//!
//! Pairs that cannot both apply at once are noted where they would be:
//! authentication and `NO_MULTI` (an unauthenticated client cannot be in
//! `MULTI`), NOREPLICAS and READONLY (`min-replicas-*` is ignored on a
//! replica, which the READONLY case shows). ACL, cluster redirection and
//! the busy-script check have no implementation yet (their issues add
//! them and their pairs); LOADING pairs need a load slow enough to catch.

use std::time::Duration;

use redis_testkit::{same_on_both, Conn, TestServer};

/// Polls `INFO persistence` (bounded) until the last background save
/// failed.
fn wait_bgsave_failed(c: &mut Conn) {
    for _ in 0..200 {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
        if info.contains("rdb_last_bgsave_status:err") {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the background save did not fail");
}

/// Makes the next background save fail: `dbfilename` names a directory,
/// so the final rename of the temp file fails (after the snapshot ran).
fn failing_bgsave(s: &TestServer, c: &mut Conn) {
    std::fs::create_dir(s.dir().join("dump-dir")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["BGSAVE"]);
    wait_bgsave_failed(c);
}

/// Arguments for a server whose saves go to a directory (see
/// [`failing_bgsave`]) and whose writes stop on a failed save.
const SAVING: &[&str] = &["--dbfilename", "dump-dir", "--save", "3600 1"];

#[test]
fn lookup_then_arity() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        vec![
            // An unknown command or subcommand is reported before arity.
            c.cmd(&["NOSUCHCMD"]),
            c.cmd(&["NOSUCHCMD", "a", "b"]),
            c.cmd(&["CONFIG", "NOSUCHSUB", "a", "b", "c"]),
            // A known one with the wrong number of arguments.
            c.cmd(&["CONFIG", "GET"]),
            c.cmd(&["GET"]),
            c.cmd(&["GET", "a", "b"]),
            c.cmd(&["CONFIG"]),
        ]
    });
}

#[test]
fn arity_then_protected_then_auth() {
    // enable-debug-command is `no` by default: DEBUG is protected.
    same_on_both(&["--requirepass", "pw"], |s| {
        let mut c = s.conn();
        vec![
            // arity → protected: DEBUG needs a subcommand.
            c.cmd(&["DEBUG"]),
            // protected → auth: refused as protected before NOAUTH.
            c.cmd(&["DEBUG", "SLEEP", "0"]),
            c.cmd(&["GET", "k"]),
            c.cmd(&["AUTH", "pw"]),
            c.cmd(&["DEBUG", "SLEEP", "0"]),
        ]
    });
}

#[test]
fn protected_debug_local_and_yes() {
    for mode in ["local", "yes"] {
        same_on_both(&["--enable-debug-command", mode], |s| {
            let mut c = s.conn();
            vec![c.cmd(&["DEBUG", "SLEEP", "0"])]
        });
    }
}

#[test]
fn no_multi_then_oom() {
    same_on_both(&["--maxmemory-policy", "noeviction"], |s| {
        let mut c = s.conn();
        let mut admin = s.conn();
        let mut t = vec![c.cmd(&["MULTI"])];
        t.push(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]));
        // NO_MULTI comes before OOM.
        t.push(c.cmd(&["SAVE"]));
        // Inside MULTI any command but EXEC/DISCARD/QUIT/RESET is refused
        // when out of memory, write or not.
        t.push(c.cmd(&["GET", "k"]));
        t.push(c.cmd(&["PING"]));
        t.push(c.cmd(&["EXEC"]));
        // Outside MULTI, only denyoom commands are.
        t.push(c.cmd(&["GET", "k"]));
        t.push(c.cmd(&["SET", "k", "v"]));
        t.push(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]));
        t
    });
}

#[test]
fn oom_then_misconf_then_noreplicas() {
    same_on_both(SAVING, |s| {
        let mut c = s.conn();
        failing_bgsave(s, &mut c);
        let mut t = vec![
            // MISCONF refuses writes, and PING too.
            c.cmd(&["SET", "k", "v2"]),
            c.cmd(&["PING"]),
            c.cmd(&["GET", "k"]),
        ];
        // OOM comes before MISCONF.
        t.push(c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]));
        t.push(c.cmd(&["CONFIG", "SET", "maxmemory", "1"]));
        t.push(c.cmd(&["SET", "k", "v3"]));
        t.push(c.cmd(&["PING"]));
        t.push(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]));
        // MISCONF comes before NOREPLICAS.
        t.push(c.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]));
        t.push(c.cmd(&["SET", "k", "v4"]));
        t.push(c.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]));
        t.push(c.cmd(&["SET", "k", "v5"]));
        t
    });
}

#[test]
fn replica_readonly_pubsub_masterdown() {
    // A replica whose primary never answers: the link stays down.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("port: {e}"));
    let port = dead.to_string();
    same_on_both(
        &[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--replica-serve-stale-data",
            "no",
            "--min-replicas-to-write",
            "1",
        ],
        |s| {
            let mut c = s.conn();
            let mut sub = s.conn();
            vec![
                // READONLY before MASTERDOWN (and min-replicas-to-write is
                // ignored on a replica: no NOREPLICAS).
                c.cmd(&["SET", "k", "v"]),
                c.cmd(&["GET", "k"]),
                c.cmd(&["INFO", "keyspace"]),
                // A RESP2 subscriber: READONLY before the pub/sub context,
                // the pub/sub context before MASTERDOWN.
                sub.cmd(&["SUBSCRIBE", "ch"]),
                sub.cmd(&["SET", "k", "v"]),
                sub.cmd(&["GET", "k"]),
                sub.cmd(&["PING"]),
            ]
        },
    );
}

#[test]
fn pause_then_multi_queueing() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        let mut admin = s.conn();
        let mut t = vec![c.cmd(&["MULTI"])];
        t.push(admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]));
        // A read is queued at once; a write waits for the pause to end
        // before it is even queued.
        t.push(c.cmd(&["GET", "k"]));
        c.send_raw(&redis_testkit::conn::encode_request(&["SET", "k", "v"]));
        // So does PUBLISH (upstream's MAY_REPLICATE).
        let mut p = s.conn();
        p.send_raw(&redis_testkit::conn::encode_request(&[
            "PUBLISH", "ch", "m",
        ]));
        assert!(
            !c.reply_pending(Duration::from_millis(300)),
            "a write was queued during CLIENT PAUSE WRITE"
        );
        assert!(
            !p.reply_pending(Duration::from_millis(50)),
            "PUBLISH ran during CLIENT PAUSE WRITE"
        );
        t.push(admin.cmd(&["CLIENT", "UNPAUSE"]));
        t.push(c.read_reply_raw());
        t.push(p.read_reply_raw());
        t.push(c.cmd(&["EXEC"]));
        t
    });
}

#[test]
fn exec_is_checked_with_what_it_queued() {
    same_on_both(&[], |s| {
        let mut c = s.conn();
        let mut admin = s.conn();
        let mut t = vec![
            c.cmd(&["MULTI"]),
            c.cmd(&["SET", "k", "v"]),
            admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
            // EXEC counts as a write: refused, and the transaction is gone.
            c.cmd(&["EXEC"]),
            c.cmd(&["EXEC"]),
            c.cmd(&["MULTI"]),
            c.cmd(&["GET", "k"]),
            // A read-only transaction is not.
            c.cmd(&["EXEC"]),
            admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]),
        ];
        t.push(c.cmd(&["MULTI"]));
        t.push(c.cmd(&["SET", "k", "v"]));
        t.push(admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]));
        t.push(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]));
        t.push(c.cmd(&["EXEC"]));
        t.push(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]));
        t.push(c.cmd(&["GET", "k"]));
        t
    });
}
