//! Tests of the sentinel reply parsers.

use bytes::Bytes;

use super::*;

#[test]
fn switch_master_payload() {
    assert_eq!(
        parse_switch("m 127.0.0.1 6000 127.0.0.1 6001", "m"),
        Some("127.0.0.1:6001".into())
    );
    assert_eq!(parse_switch("other 1 2 3 4", "m"), None);
    assert_eq!(parse_switch("m 1 2 3", "m"), None);
    assert_eq!(parse_switch("m a 1 ::1 7", "m"), Some("[::1]:7".into()));
}

#[test]
fn replicas_reply() {
    let b = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let r = Frame::Array(vec![
        Frame::Array(vec![
            b("ip"),
            b("10.0.0.2"),
            b("port"),
            b("6380"),
            b("flags"),
            b("slave"),
        ]),
        Frame::Array(vec![
            b("ip"),
            b("10.0.0.3"),
            b("port"),
            b("6380"),
            b("flags"),
            b("slave,s_down"),
        ]),
    ]);
    assert_eq!(healthy_replicas(&r), vec!["10.0.0.2:6380".to_string()]);
}

#[test]
fn master_reply() {
    let b = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let r = Frame::Array(vec![
        b("name"),
        b("m"),
        b("ip"),
        b("10.0.0.2"),
        b("port"),
        b("6380"),
        b("config-epoch"),
        b("3"),
    ]);
    assert_eq!(master_of(&r), Some((3, "10.0.0.2:6380".to_string())));
    let m = Frame::Map(vec![
        (b("ip"), b("::1")),
        (b("port"), b("7")),
        (b("config-epoch"), b("0")),
    ]);
    assert_eq!(master_of(&m), Some((0, "[::1]:7".to_string())));
    assert_eq!(
        master_of(&Frame::Error(Bytes::from_static(
            b"ERR No such master with that name"
        ))),
        None
    );
    assert_eq!(master_of(&Frame::Array(vec![b("ip"), b("x")])), None);
}

#[test]
fn master_addr_reply() {
    let b = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    assert_eq!(
        addr_of(&Frame::Array(vec![b("10.0.0.2"), b("6380")])),
        Some("10.0.0.2:6380".to_string())
    );
    assert_eq!(addr_of(&Frame::Array(vec![b("10.0.0.2"), b("x")])), None);
    assert_eq!(addr_of(&Frame::Null), None);
}
