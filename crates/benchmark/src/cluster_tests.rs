//! Unit tests of `cluster.rs` (kept apart so the module holds only
//! library code).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn every_slot_has_a_tag() {
    let t = tag_table();
    for (slot, tag) in t.iter().enumerate() {
        assert!(!tag.contains(&b'{'));
        let len = tag.iter().position(|&b| b == b'}').unwrap_or(3);
        assert!(len > 0, "slot {slot}");
        let key = [b"key:{", &tag[..], b"}:x"].concat();
        // The key's hash tag is what precedes the first '}'.
        assert_eq!(usize::from(slot_of(&key[5..5 + len])), slot);
    }
    assert_eq!(slot_of(b"8M"), 5461);
}

#[test]
fn slots_reply() {
    let node = |ip: &str, port: i64, id: &str| {
        Frame::Array(vec![
            Frame::bulk(ip.to_string()),
            Frame::Integer(port),
            Frame::bulk(id.to_string()),
        ])
    };
    let reply = Frame::Array(vec![
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::Integer(2),
            node("", 7000, "a"),
        ]),
        Frame::Array(vec![
            Frame::Integer(3),
            Frame::Integer(4),
            node("10.0.0.2", 7001, "b"),
        ]),
        Frame::Array(vec![
            Frame::Integer(5),
            Frame::Integer(5),
            node("", 7000, "a"),
        ]),
    ]);
    let nodes = parse_slots(&reply, "127.0.0.1").unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].ip, "127.0.0.1");
    assert_eq!(*nodes[0].slots, vec![0, 1, 2, 5]);
    assert_eq!(*nodes[1].slots, vec![3, 4]);
}
