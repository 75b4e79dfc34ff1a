//! Sentinel scripts with real processes: the `notification-script` runs
//! for every warning-level event with the event name and message, the
//! `client-reconfig-script` runs on the leader after the promotion with
//! `<master> leader start <from-ip> <from-port> <to-ip> <to-port>`, and
//! both go through the script queue (`sentinel_running_scripts`,
//! `SENTINEL PENDING-SCRIPTS`) as upstream.

use std::time::Duration;

use redis_testkit::sentinel::{wait_for, wait_listed, wait_role, Node, Sentinel, SentinelKind};
use redis_testkit::{ServerKind, TempDir};

/// A script that appends its arguments, one call per line, to `out`.
fn recorder(dir: &TempDir, name: &str, out: &std::path::Path) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", out.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn notification_and_reconfig_scripts_run_with_upstreams_arguments() {
    let dir = TempDir::new();
    let notified = dir.join("notified");
    let reconfigured = dir.join("reconfigured");
    let notify = recorder(&dir, "notify.sh", &notified);
    let reconf = recorder(&dir, "reconf.sh", &reconfigured);
    let mut master = Node::start(ServerKind::Ours, "master", &[]);
    let mport = master.port();
    let replica = Node::start(
        ServerKind::Ours,
        "replica",
        &["--replicaof", "127.0.0.1", &mport.to_string()],
    );
    wait_role(&replica, Some(mport), Duration::from_secs(10));
    let s = Sentinel::start(
        SentinelKind::Ours,
        "s1",
        &format!(
            "sentinel monitor m 127.0.0.1 {mport} 1\n\
             sentinel down-after-milliseconds m 1000\n\
             sentinel notification-script m {notify}\n\
             sentinel client-reconfig-script m {reconf}\n"
        ),
    );
    wait_listed(&s, "REPLICAS", "m", 1, Duration::from_secs(15));
    // No script ran while all is well; the queue is empty.
    assert_eq!(
        s.query(&["SENTINEL", "PENDING-SCRIPTS"]).unwrap(),
        b"*0\r\n"
    );
    master.kill9();
    let rport = replica.port();
    wait_role(&replica, None, Duration::from_secs(20));
    let want_reconf = format!("m leader start 127.0.0.1 {mport} 127.0.0.1 {rport}");
    wait_for(
        Duration::from_secs(10),
        "the client-reconfig-script",
        || {
            let got = lines(&reconfigured);
            if got.contains(&want_reconf) {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
    let sdown = format!("+sdown master m 127.0.0.1 {mport}");
    let switch = format!("+switch-master m 127.0.0.1 {mport} 127.0.0.1 {rport}");
    wait_for(Duration::from_secs(10), "the notification-script", || {
        let got = lines(&notified);
        let has = |p: &str| got.iter().any(|l| l.starts_with(p));
        if has(&sdown) && has("+odown master m") && has("+try-failover master m") && has(&switch) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    // Notice-level events (`+failover-state-send-slaveof-noone`,
    // `+failover-state-wait-promotion`, `+slave`) run no script, as
    // upstream; warning-level ones such as `+failover-state-select-slave` do.
    let got = lines(&notified);
    for notice in [
        "+failover-state-send-slaveof-noone",
        "+failover-state-wait-promotion",
        "+slave ",
    ] {
        assert!(
            !got.iter().any(|l| l.starts_with(notice)),
            "{notice}: {got:?}"
        );
    }
    assert!(
        got.iter()
            .any(|l| l.starts_with("+failover-state-select-slave")),
        "{got:?}"
    );
    // Every script finished: nothing left queued.
    wait_for(Duration::from_secs(10), "an empty script queue", || {
        let raw = s.query(&["INFO", "sentinel"])?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        if text.contains("sentinel_running_scripts:0")
            && text.contains("sentinel_scripts_queue_length:0")
        {
            Ok(())
        } else {
            Err(text)
        }
    });
}

/// With `requirepass`, `ACL LIST` shows the default user's password as
/// its SHA-256 digest, byte for byte as the reference sentinel does.
#[test]
fn acl_list_shows_the_password_digest_like_the_reference() {
    let list = |kind: SentinelKind| {
        let s = Sentinel::start(kind, "acl", "requirepass s3cr\n");
        let mut c = s.conn();
        assert_eq!(c.cmd(&["AUTH", "s3cr"]), b"+OK\r\n");
        c.cmd(&["ACL", "LIST"])
    };
    let ours = list(SentinelKind::Ours);
    assert!(
        String::from_utf8_lossy(&ours)
            .contains("#f1e524a4cf9bf9e5df8cc0f745fa190f42a0aecdd75263361135a9013c1195a0"),
        "{}",
        String::from_utf8_lossy(&ours)
    );
    assert_eq!(ours, list(SentinelKind::Reference));
}
