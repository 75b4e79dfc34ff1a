//! Tests of the command table and key positions.

use super::*;
use bytes::Bytes;

fn args(s: &[&str]) -> Vec<Bytes> {
    s.iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

fn keys_of(s: &[&str]) -> Vec<usize> {
    let a = args(s);
    let mut out = Vec::new();
    key_indexes(lookup(&a).keys, &a, &mut out);
    out
}

#[test]
fn kinds() {
    assert_eq!(lookup(&args(&["ping"])).kind, Kind::Local(Local::Ping));
    assert_eq!(lookup(&args(&["get", "k"])).kind, Kind::Forward);
    assert!(lookup(&args(&["get", "k"])).readonly);
    assert!(!lookup(&args(&["set", "k", "v"])).readonly);
    assert_eq!(lookup(&args(&["MGET", "a"])).kind, Kind::Split(Split::Mget));
    assert_eq!(lookup(&args(&["multi"])).kind, Kind::Pinned);
    assert_eq!(
        lookup(&args(&["xread", "COUNT", "1", "STREAMS", "s", "0"])).kind,
        Kind::Forward
    );
    assert_eq!(
        lookup(&args(&["xread", "block", "0", "STREAMS", "s", "0"])).kind,
        Kind::Pinned
    );
    assert_eq!(
        lookup(&args(&["subscribe", "c"])).kind,
        Kind::PubSub(PubSub::Subscribe)
    );
    assert_eq!(keys_of(&["ssubscribe", "a", "b"]), vec![1, 2]);
    assert_eq!(keys_of(&["spublish", "a", "msg"]), vec![1]);
    assert!(PubSub::SSubscribe.subscribes());
    assert!(!PubSub::PUnsubscribe.subscribes());
    assert_eq!(PubSub::PUnsubscribe.family(), 1);
    assert_eq!(PubSub::SUnsubscribe.name(), "sunsubscribe");
    let long = "x".repeat(100);
    assert_eq!(lookup(&args(&[&long])).kind, Kind::Forward);
}

#[test]
fn key_positions() {
    assert_eq!(keys_of(&["SET", "k", "v"]), vec![1]);
    assert_eq!(keys_of(&["PING"]), Vec::<usize>::new());
    assert_eq!(keys_of(&["MSET", "a", "1", "b", "2"]), vec![1, 3]);
    assert_eq!(keys_of(&["BLPOP", "a", "b", "0"]), vec![1, 2]);
    assert_eq!(keys_of(&["EVAL", "s", "2", "a", "b", "x"]), vec![3, 4]);
    assert_eq!(keys_of(&["EVAL", "s", "9", "a"]), vec![3]);
    assert_eq!(
        keys_of(&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]),
        vec![1, 3, 4]
    );
    assert_eq!(
        keys_of(&["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"]),
        vec![4, 5]
    );
    assert_eq!(keys_of(&["BITOP", "AND", "d", "a", "b"]), vec![2, 3, 4]);
    assert_eq!(keys_of(&["RENAME", "a", "b"]), vec![1, 2]);
}

#[test]
fn slots() {
    assert_eq!(slot(b"key1"), 9189);
    assert_eq!(slot(b"{user}a"), slot(b"{user}b"));
}
