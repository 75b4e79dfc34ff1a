//! Tests of `stream.rs`.

use super::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn ids(s: &StreamValue) -> Vec<StreamId> {
    let mut v = Vec::new();
    s.for_each(StreamId::MIN, StreamId::MAX, false, |e| {
        v.push(e.id);
        true
    });
    v
}

fn filled(n: u64, lim: NodeLimits) -> StreamValue {
    let mut s = StreamValue::new();
    for i in 1..=n {
        s.append(StreamId::new(i, 0), &[b("f"), b(&i.to_string())], lim);
    }
    s
}

#[test]
fn parse_ids() {
    let p = |a: &str| StreamId::parse(a.as_bytes(), 0, false, false).map(|x| x.0);
    assert_eq!(p("1-2"), Some(StreamId::new(1, 2)));
    assert_eq!(p("5"), Some(StreamId::new(5, 0)));
    assert_eq!(p("-"), Some(StreamId::MIN));
    assert_eq!(p("+"), Some(StreamId::MAX));
    assert_eq!(p("-1"), None);
    assert_eq!(p("1-"), None);
    assert_eq!(p("a-1"), None);
    assert_eq!(
        p("18446744073709551615-1"),
        Some(StreamId::new(u64::MAX, 1))
    );
    assert_eq!(p("18446744073709551616"), None);
    assert_eq!(StreamId::parse(b"+", 0, true, false), None);
    assert_eq!(
        StreamId::parse(b"7-*", 0, true, true),
        Some((StreamId::new(7, 0), false))
    );
    assert_eq!(StreamId::parse(b"7-*", 0, true, false), None);
    assert_eq!(
        StreamId::parse(b"7", u64::MAX, true, false),
        Some((StreamId::new(7, u64::MAX), true))
    );
}

#[test]
fn incr_decr_and_next() {
    assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
    assert_eq!(StreamId::MAX.incr(), None);
    assert_eq!(StreamId::MIN.decr(), None);
    assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
    assert_eq!(
        StreamId::next_after(StreamId::new(5, 3), 4),
        Some(StreamId::new(5, 4))
    );
    assert_eq!(
        StreamId::next_after(StreamId::new(5, 3), 9),
        Some(StreamId::new(9, 0))
    );
}

#[test]
fn append_range_and_nodes() {
    let s = filled(250, NodeLimits::default());
    assert_eq!(s.len(), 250);
    assert_eq!(s.node_count(), 3);
    assert_eq!(ids(&s).len(), 250);
    let mut rev = Vec::new();
    s.for_each(StreamId::new(98, 0), StreamId::new(103, 0), true, |e| {
        rev.push(e.id.ms);
        true
    });
    assert_eq!(rev, vec![103, 102, 101, 100, 99, 98]);
    let e = s.get(StreamId::new(7, 0)).expect("entry");
    assert_eq!(e.to_pairs(), vec![(b("f"), b("7"))]);
    assert!(s.get(StreamId::new(7, 1)).is_none());
    assert_eq!(s.first_id(), StreamId::new(1, 0));
    assert_eq!(s.last_valid_id(), StreamId::new(250, 0));
}

#[test]
fn delete_and_tombstones() {
    let mut s = filled(5, NodeLimits::default());
    assert_eq!(s.delete_ids(&[StreamId::new(1, 0), StreamId::new(3, 0)]), 2);
    assert_eq!(s.delete_ids(&[StreamId::new(3, 0)]), 0);
    assert_eq!(s.first_id(), StreamId::new(2, 0));
    assert_eq!(s.max_deleted_id(), StreamId::new(3, 0));
    assert_eq!(s.edge_id(true, false), StreamId::new(1, 0));
    assert_eq!(ids(&s).len(), 3);
    assert!(s.range_has_tombstones(StreamId::MIN, StreamId::MAX));
    s.delete_ids(&[
        StreamId::new(2, 0),
        StreamId::new(4, 0),
        StreamId::new(5, 0),
    ]);
    assert!(s.is_empty());
    assert_eq!(s.node_count(), 0);
    assert_eq!(s.first_id(), StreamId::MIN);
    assert_eq!(s.entries_added(), 5);
}

#[test]
fn trims() {
    let mut s = filled(250, NodeLimits::default());
    assert_eq!(s.trim(TrimStrategy::MaxLen(180), true, 0), 0);
    assert_eq!(s.trim(TrimStrategy::MaxLen(150), true, 0), 100);
    assert_eq!(s.trim(TrimStrategy::MaxLen(120), false, 0), 30);
    assert_eq!(s.len(), 120);
    assert_eq!(s.first_id(), StreamId::new(131, 0));
    assert_eq!(
        s.trim(TrimStrategy::MinId(StreamId::new(200, 0)), false, 0),
        69
    );
    assert_eq!(s.first_id(), StreamId::new(200, 0));
    let mut s = filled(300, NodeLimits::default());
    assert_eq!(s.trim(TrimStrategy::MaxLen(0), true, 150), 100);
}

#[test]
fn radix_nodes() {
    let mut s = StreamValue::new();
    assert_eq!(s.radix_node_count(), 1);
    s.append(
        StreamId::new(1, 1),
        &[b("a"), b("1")],
        NodeLimits::default(),
    );
    assert_eq!(s.radix_node_count(), 2);
}

#[test]
fn groups_and_lag() {
    let mut s = filled(3, NodeLimits::default());
    let mut g = Group::new(StreamId::new(1, 0), Some(1));
    assert_eq!(s.group_lag(&g), Some(2));
    g.pel.insert(
        StreamId::new(1, 0),
        Nack {
            consumer: b("c"),
            delivery_time: 1,
            delivery_count: 1,
        },
    );
    g.consumers
        .entry(b("c"))
        .or_default()
        .pel
        .insert(StreamId::new(1, 0));
    assert!(g.ack(StreamId::new(1, 0)));
    assert!(!g.ack(StreamId::new(1, 0)));
    assert_eq!(g.delete_consumer(b"c"), Some(0));
    s.delete_ids(&[StreamId::new(2, 0)]);
    g.entries_read = None;
    assert_eq!(s.group_lag(&g), None);
}
