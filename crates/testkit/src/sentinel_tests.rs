//! Tests of `sentinel.rs`.

use super::*;

#[test]
fn values_decode() {
    let v = Value::parse(b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n").unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Bulk(b"127.0.0.1".to_vec()),
            Value::Bulk(b"6380".to_vec())
        ])
    );
    assert_eq!(Value::parse(b"*-1\r\n").unwrap(), Value::Nil);
    assert_eq!(Value::parse(b"_\r\n").unwrap(), Value::Nil);
    let r = Value::parse(b"%1\r\n$1\r\na\r\n:2\r\n")
        .unwrap()
        .record()
        .unwrap();
    assert_eq!(r.get("a").map(String::as_str), Some("2"));
    assert!(Value::parse(b"$3\r\nab\r\n").is_err());
    assert!(Value::parse(b"+OK\r\n+OK\r\n").is_err());
    let role =
        parse_role(b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:7000\r\n$9\r\nconnected\r\n:10\r\n");
    assert_eq!(
        role.unwrap(),
        ("slave".into(), Some(("127.0.0.1".into(), 7000)))
    );
}

#[test]
fn log_prefixes_are_stripped() {
    let t = "12721:X 03 Dec 2026 08:30:46.950 # Sentinel needs config\n*** FATAL\n";
    assert_eq!(strip_log_prefixes(t), "# Sentinel needs config\n*** FATAL");
}

#[test]
fn safe_ports_avoid_the_reserved_range() {
    for _ in 0..50 {
        let p = safe_port();
        assert!(!RESERVED_PORTS.contains(&p) && p != 6379, "{p}");
    }
}
