//! Tests for `log`: grouping, ordering, bounds and the reply layout.

use super::*;

fn entry(reason: LogReason, object: &str, t: i64) -> LogEntry {
    LogEntry::new(
        reason,
        LogContext::TopLevel,
        object.as_bytes(),
        b"u",
        b"id=1",
        t,
    )
}

#[test]
fn groups_similar_events_within_a_minute() {
    let mut log = AclLog::new(128);
    log.add(entry(LogReason::Command, "get", 1_000));
    log.add(entry(LogReason::Key, "k", 2_000));
    log.add(entry(LogReason::Command, "get", 61_000));
    assert_eq!(log.len(), 2);
    let first = log.entries().next().unwrap();
    assert_eq!(
        (first.object.as_slice(), first.count, first.ctime_ms),
        (&b"get"[..], 2, 61_000)
    );
    // More than 60 s after the last update: a new entry.
    log.add(entry(LogReason::Command, "get", 121_001));
    assert_eq!(log.len(), 3);
    // Different context: not grouped.
    let mut multi = entry(LogReason::Command, "get", 121_002);
    multi.context = LogContext::Multi;
    log.add(multi);
    assert_eq!(log.len(), 4);
}

#[test]
fn only_ten_newest_are_scanned_and_bound_holds() {
    let mut log = AclLog::new(128);
    log.add(entry(LogReason::Key, "old", 0));
    for i in 0..10 {
        log.add(entry(LogReason::Key, &format!("k{i}"), 0));
    }
    log.add(entry(LogReason::Key, "old", 0));
    assert_eq!(log.len(), 12);
    let mut log = AclLog::new(3);
    for i in 0..5 {
        log.add(entry(LogReason::Key, &format!("k{i}"), 0));
    }
    let objects: Vec<&[u8]> = log.entries().map(|e| e.object.as_slice()).collect();
    assert_eq!(objects, [&b"k4"[..], b"k3", b"k2"]);
    log.set_max_len(1);
    assert_eq!(log.len(), 3, "shrinking applies on the next add");
    log.add(entry(LogReason::Key, "k5", 0));
    assert_eq!(log.len(), 1);
    log.reset();
    assert!(log.is_empty());
}

#[test]
fn reply_layout() {
    let mut log = AclLog::default();
    log.add(LogEntry::new(
        LogReason::Channel,
        LogContext::Multi,
        b"zz",
        b"d1",
        b"id=132",
        1_000,
    ));
    log.add(entry(LogReason::Auth, "AUTH", 2_000));
    let Value::Array(items) = log.reply(Some(1), 3_500) else {
        panic!("not an array")
    };
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0],
        Value::map(vec![
            ("count", Value::Integer(1)),
            ("reason", Value::bulk("auth")),
            ("context", Value::bulk("toplevel")),
            ("object", Value::bulk("AUTH")),
            ("username", Value::bulk("u")),
            ("age-seconds", Value::Double(1.5)),
            ("client-info", Value::bulk("id=1")),
        ])
    );
    assert_eq!(log.reply(Some(-1), 0), Value::Array(vec![]));
    let Value::Array(all) = log.reply(None, 0) else {
        panic!("not an array")
    };
    assert_eq!(all.len(), 2);
    assert_eq!(LogReason::from(crate::user::Denied::Key(3)), LogReason::Key);
}
