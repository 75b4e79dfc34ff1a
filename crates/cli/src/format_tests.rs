//! Tests of `format.rs`.

use super::*;
use bytes::Bytes;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn tty_s(f: &Frame) -> String {
    let mut v = Vec::new();
    tty(f, "", &mut v).unwrap();
    String::from_utf8(v).unwrap()
}

#[test]
fn doubles_match_printf_g17() {
    assert_eq!(fmt_double(1.5), "1.5");
    assert_eq!(fmt_double(0.1), "0.10000000000000001");
    assert_eq!(fmt_double(2.0), "2");
    assert_eq!(fmt_double(1e20), "1e+20");
    assert_eq!(fmt_double(1.5e-7), "1.4999999999999999e-07");
    assert_eq!(fmt_double(-3.0), "-3");
    assert_eq!(fmt_double(f64::INFINITY), "inf");
}

#[test]
fn repr_escapes() {
    let mut v = Vec::new();
    repr(&mut v, b"a\"\\\n\x00\xff");
    assert_eq!(v, b"\"a\\\"\\\\\\n\\x00\\xff\"");
}

#[test]
fn nested_tty() {
    let f = Frame::Array(vec![
        bulk("a"),
        Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![])]),
    ]);
    assert_eq!(
        tty_s(&f),
        "1) \"a\"\n2) 1) (integer) 1\n   2) (empty array)\n"
    );
    let m = Frame::Map(vec![(bulk("k"), Frame::Array(vec![bulk("x"), bulk("y")]))]);
    assert_eq!(tty_s(&m), "1# \"k\" => 1) \"x\"\n   2) \"y\"\n");
}
