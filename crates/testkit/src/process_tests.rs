//! Tests of `process.rs`.

use super::*;

#[test]
fn runs_with_and_without_input() {
    let out = run_bounded_with_input(
        Command::new("sh").args(["-c", "cat; echo err >&2; exit 3"]),
        b"in\0put",
        Duration::from_secs(10),
    );
    assert_eq!(out.stdout, b"in\0put");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
    let out = run_bounded(&mut Command::new("cat"), Duration::from_secs(10));
    assert!(out.status.success() && out.stdout.is_empty());
}

#[test]
fn a_run_past_its_limit_fails_and_is_killed() {
    let r = std::panic::catch_unwind(|| {
        run_bounded(Command::new("sleep").arg("30"), Duration::from_millis(200))
    });
    let msg = r.expect_err("must time out");
    let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("did not finish within"), "{text}");
}

#[test]
fn children_are_listed() {
    let g = ChildGuard::spawn(Command::new("sh").args(["-c", "sleep 30 & wait"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let kids = loop {
        let kids = children(g.pid());
        if !kids.is_empty() || Instant::now() > deadline {
            break kids;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert!(signal(kids[0], "-KILL"));
    assert!(children(u32::MAX).is_empty());
}

#[test]
fn guard_kills_by_pid_on_drop() {
    let mut g = ChildGuard::spawn(Command::new("sleep").arg("30"));
    assert!(signal(g.pid(), "-STOP"));
    assert!(matches!(g.0.try_wait(), Ok(None)));
    let pid = g.pid();
    drop(g);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(!stat.contains("(sleep)"), "{pid} still there: {stat}");
}
