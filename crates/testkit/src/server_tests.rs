//! Tests of `server.rs`.

use super::*;

#[test]
fn reference_server_starts_answers_and_stops() {
    let srv = TestServer::start(ServerKind::Reference, &[]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "save"]),
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
    let dir = srv.dir().to_path_buf();
    let pid = srv.pid();
    assert!(dir.is_dir());
    drop(srv);
    assert!(!dir.exists(), "temp dir must be removed on drop");
    // The pid is reaped, so /proc no longer lists it as our child.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        !stat.contains("redis-server"),
        "server {pid} still running: {stat}"
    );
    assert!(
        c.is_closed(),
        "connection must be closed after the server stopped"
    );
}

#[test]
fn unready_start_returns_before_the_server_answers() {
    let mut srv = TestServer::start_unready(ServerKind::Reference, &[]);
    let deadline = Instant::now() + START_TIMEOUT;
    while !answers_ping(srv.addr()) {
        assert!(Instant::now() < deadline, "never answered");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(srv.signal("-TERM"));
    assert!(srv.wait_exit(STOP_GRACE).is_some(), "SIGTERM stops it");
}

#[test]
fn drop_kills_a_forked_child_left_by_a_killed_server() {
    let srv = TestServer::start(ServerKind::Reference, &["--rdb-key-save-delay", "10000000"]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    let kids = crate::process::children(srv.pid());
    assert_eq!(kids.len(), 1, "{kids:?}");
    // A stopped server ignores SIGTERM: Drop has to SIGKILL it, which
    // leaves the saving child behind unless Drop kills it too.
    assert!(srv.signal("-STOP"));
    drop(srv);
    // SIGKILL takes effect asynchronously; init reaps the orphan.
    let gone = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", kids[0]));
        stat.map_or(true, |s| s.contains(") Z "))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(), "child {} still running", kids[0]);
}

#[test]
fn bad_args_fail_with_the_log_shown() {
    let r = std::panic::catch_unwind(|| {
        TestServer::start(ServerKind::Reference, &["--no-such-option", "x"])
    });
    let msg = r.expect_err("start must fail");
    let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("did not start"), "{text}");
    assert!(
        text.contains("no-such-option"),
        "log/stderr should be shown: {text}"
    );
}
