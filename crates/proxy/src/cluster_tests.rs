//! Tests of the slot map and redirection parsing.

use bytes::Bytes;

use super::*;

fn node(host: &str, port: i64) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(Bytes::copy_from_slice(host.as_bytes())),
        Frame::Integer(port),
        Frame::Bulk(Bytes::from_static(b"id")),
    ])
}

#[test]
fn slots_reply_builds_the_map() {
    let reply = Frame::Array(vec![
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::Integer(5460),
            node("10.0.0.1", 7000),
        ]),
        Frame::Array(vec![
            Frame::Integer(5461),
            Frame::Integer(16383),
            node("", 7001),
        ]),
    ]);
    let map = SlotMap::from_slots_reply(&reply, "10.0.0.9").unwrap();
    assert_eq!(map.owner(0), Some("10.0.0.1:7000"));
    assert_eq!(map.owner(5460), Some("10.0.0.1:7000"));
    assert_eq!(map.owner(16383), Some("10.0.0.9:7001"));
    assert_eq!(map.primaries(), vec!["10.0.0.1:7000", "10.0.0.9:7001"]);
    assert!(SlotMap::from_slots_reply(&Frame::Integer(1), "h").is_none());
}

#[test]
fn moved_fixes_one_slot() {
    let st = ClusterState::default();
    assert_eq!(st.owner(5), None);
    st.moved(5, "h:1");
    assert_eq!(st.owner(5).as_deref(), Some("h:1"));
    assert_eq!(st.owner(6), None);
}

#[test]
fn redirects() {
    assert_eq!(
        parse_redirect(b"MOVED 3999 127.0.0.1:6381"),
        Some((false, 3999, "127.0.0.1:6381".into()))
    );
    assert_eq!(parse_redirect(b"ASK 1 h:2"), Some((true, 1, "h:2".into())));
    assert_eq!(parse_redirect(b"ERR x"), None);
}
