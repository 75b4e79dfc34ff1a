//! Tests of the failover trigger's decision and memory.

use bytes::Bytes;

use super::*;

const P: &str = "127.0.0.1:6000";

fn b(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// A RESP2 `SENTINEL MASTER` reply (flat field/value array).
fn resp2(port: u16, flags: &str, last_ok: u64, slaves: u64) -> Frame {
    let (port, last_ok, slaves) = (port.to_string(), last_ok.to_string(), slaves.to_string());
    Frame::Array(
        [
            ("name", "m"),
            ("ip", "127.0.0.1"),
            ("port", port.as_str()),
            ("runid", "abc"),
            ("flags", flags),
            ("last-ok-ping-reply", last_ok.as_str()),
            ("config-epoch", "0"),
            ("num-slaves", slaves.as_str()),
        ]
        .iter()
        .flat_map(|(k, v)| [b(k), b(v)])
        .collect(),
    )
}

/// The same reply as a RESP3 map.
fn resp3(port: u16, flags: &str, last_ok: u64, slaves: u64) -> Frame {
    let Frame::Array(flat) = resp2(port, flags, last_ok, slaves) else {
        unreachable!()
    };
    Frame::Map(
        flat.chunks(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect(),
    )
}

fn answers(replies: Vec<Frame>) -> Vec<(String, Frame)> {
    replies
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("127.0.0.1:{}", 26000 + i), r))
        .collect()
}

fn long() -> Duration {
    Duration::from_millis(1500)
}

fn asks(d: &Decision) -> bool {
    matches!(d, Decision::Ask { .. })
}

#[test]
fn views_of_both_protocols() {
    let want = MasterView {
        addr: P.into(),
        flags: vec!["master".into(), "disconnected".into()],
        last_ok_ping_ms: Some(1200),
        num_slaves: 1,
    };
    assert_eq!(
        view_of(&resp2(6000, "master,disconnected", 1200, 1)),
        Some(want.clone())
    );
    assert_eq!(
        view_of(&resp3(6000, "master,disconnected", 1200, 1)),
        Some(want)
    );
    assert_eq!(
        view_of(&Frame::Error(Bytes::from_static(b"ERR No such master"))),
        None
    );
    let v = view_of(&resp2(6000, "master", 10, 0)).unwrap();
    assert!(!v.cannot_reach(1000));
    assert!(v.cannot_reach(10), "last-ok-ping-reply at the threshold");
    for flags in [
        "master,s_down",
        "s_down,o_down,master",
        "master,disconnected",
    ] {
        assert!(view_of(&resp2(6000, flags, 0, 1))
            .unwrap()
            .cannot_reach(1000));
    }
    // A flag word is matched whole.
    assert!(!view_of(&resp2(6000, "master,master_down", 0, 1))
        .unwrap()
        .cannot_reach(1000));
}

#[test]
fn majority_asks_in_configured_order() {
    let a = answers(vec![
        resp2(6000, "master", 100, 1),
        resp2(6000, "master,disconnected", 100, 1),
        resp3(6000, "master", 2000, 1),
    ]);
    assert_eq!(
        decide(P, long(), 1000, 3, &a),
        Decision::Ask {
            via: vec!["127.0.0.1:26001".into(), "127.0.0.1:26002".into()],
            unreachable: 2,
            configured: 3,
        }
    );
}

#[test]
fn no_majority_no_ask() {
    // One of three cannot reach it: a proxy cut off from the primary.
    let a = answers(vec![
        resp2(6000, "master", 100, 1),
        resp2(6000, "master,disconnected", 100, 1),
        resp2(6000, "master", 300, 1),
    ]);
    let d = decide(P, long(), 1000, 3, &a);
    assert!(
        matches!(&d, Decision::Wait(w) if w.contains("1/3")),
        "{d:?}"
    );
    // Two of four is not more than half; silent sentinels count against.
    let a = answers(vec![
        resp2(6000, "master,disconnected", 0, 1),
        resp2(6000, "master,disconnected", 0, 1),
    ]);
    assert!(!asks(&decide(P, long(), 1000, 4, &a)));
    assert!(asks(&decide(P, long(), 1000, 3, &a)));
    assert!(!asks(&decide(P, long(), 1000, 3, &[])));
}

#[test]
fn wrong_address_does_not_agree() {
    let a = answers(vec![
        resp2(6001, "master,disconnected", 5000, 1),
        resp2(6001, "master,disconnected", 5000, 1),
        resp2(6000, "master,disconnected", 5000, 1),
    ]);
    let d = decide(P, long(), 1000, 3, &a);
    assert!(
        matches!(&d, Decision::Wait(w) if w.contains("1/3")),
        "{d:?}"
    );
}

#[test]
fn failover_in_progress_waits() {
    let a = answers(vec![
        resp2(6000, "master,disconnected", 5000, 1),
        resp3(6000, "s_down,o_down,master,failover_in_progress", 5000, 1),
        resp2(6000, "master,disconnected", 5000, 1),
    ]);
    let d = decide(P, long(), 1000, 3, &a);
    assert!(
        matches!(&d, Decision::Wait(w) if w.contains("in progress") && w.contains("26001")),
        "{d:?}"
    );
}

#[test]
fn replicas_needed() {
    let a = answers(vec![
        resp2(6000, "master,disconnected", 5000, 0),
        resp2(6000, "master,disconnected", 5000, 0),
        resp2(6000, "master,disconnected", 5000, 0),
    ]);
    let d = decide(P, long(), 1000, 3, &a);
    assert!(
        matches!(&d, Decision::Wait(w) if w.contains("replica")),
        "{d:?}"
    );
    // Only the sentinels that know a replica are asked.
    let a = answers(vec![
        resp2(6000, "master,disconnected", 5000, 0),
        resp2(6000, "master,disconnected", 5000, 2),
        resp2(6000, "master,disconnected", 5000, 0),
    ]);
    assert_eq!(
        decide(P, long(), 1000, 3, &a),
        Decision::Ask {
            via: vec!["127.0.0.1:26001".into()],
            unreachable: 3,
            configured: 3,
        }
    );
}

#[test]
fn streak_too_short() {
    let a = answers(vec![
        resp2(6000, "master,disconnected", 5000, 1),
        resp2(6000, "master,disconnected", 5000, 1),
        resp2(6000, "master,disconnected", 5000, 1),
    ]);
    let d = decide(P, Duration::from_millis(999), 1000, 3, &a);
    assert!(
        matches!(&d, Decision::Wait(w) if w.contains("999 ms")),
        "{d:?}"
    );
    assert!(asks(&decide(P, Duration::from_millis(1000), 1000, 3, &a)));
    assert!(!asks(&decide(P, long(), 0, 3, &a)), "0 is off");
}

#[test]
fn memory_holds_off() {
    let t = Instant::now();
    let mut m = Memory::default();
    assert!(m.may_ask(P, t, 1000).is_ok());
    m.asked(P, t, 1000);
    let hold = Memory::hold_off(1000);
    assert_eq!(hold, Duration::from_secs(12));
    assert!(m
        .may_ask(P, t + hold - Duration::from_millis(1), 1000)
        .is_err());
    assert!(m.may_ask(P, t + hold, 1000).is_ok());
    assert!(m.may_ask("127.0.0.1:6001", t, 1000).is_ok());
    assert!(m.asked_within(P, t + Duration::from_secs(1), hold));
    assert!(!m.asked_within("127.0.0.1:6001", t, hold));

    let mut m = Memory::default();
    m.refused(t);
    assert!(m.may_ask(P, t + Duration::from_millis(999), 1000).is_err());
    assert!(m.may_ask(P, t + RETRY_AFTER_ERROR, 1000).is_ok());
}
