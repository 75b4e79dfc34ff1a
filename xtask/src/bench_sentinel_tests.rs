//! Tests of `bench_sentinel.rs`.

use super::*;

#[test]
fn replies_and_ports() {
    let bulk = |s: &str| Reply::Bulk(Some(s.as_bytes().to_vec()));
    let entry = Reply::Array(Some(vec![
        bulk("port"),
        bulk("7"),
        bulk("flags"),
        bulk("slave"),
    ]));
    let f = fields(&entry);
    assert_eq!(field(&f, "port"), Some("7"));
    assert_eq!(field(&f, "flags"), Some("slave"));
    assert_eq!(entries(&Reply::Array(Some(vec![entry]))).len(), 1);
    assert!(entries(&Reply::Array(None)).is_empty());
    let p = pick_port(&[]).expect("a port");
    assert!(!RESERVED.contains(&p) && p != 6379);
    assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc\n");
    assert_eq!(stats(&[3.0, 1.0, 2.0]), (Some(2.0), Some(1.0), Some(3.0)));
}
