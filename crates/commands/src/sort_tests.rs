//! Tests of `sort.rs`.

use super::*;

#[test]
fn scores() {
    assert_eq!(parse_score(b""), Some(0.0));
    assert_eq!(parse_score(b"  5"), Some(5.0));
    assert_eq!(parse_score(b"5 "), None);
    assert_eq!(parse_score(b"+5"), Some(5.0));
    assert_eq!(parse_score(b".5"), Some(0.5));
    assert_eq!(parse_score(b"5."), Some(5.0));
    assert_eq!(parse_score(b"1e"), None);
    assert_eq!(parse_score(b"1e3"), Some(1000.0));
    assert_eq!(parse_score(b"0x"), None);
    assert_eq!(parse_score(b"0x10"), Some(16.0));
    assert_eq!(parse_score(b"0x1p3"), Some(8.0));
    assert_eq!(parse_score(b"0X1P-2"), Some(0.25));
    assert_eq!(parse_score(b"0x.8"), Some(0.5));
    assert_eq!(parse_score(b"0x1p-1074"), Some(f64::from_bits(1)));
    assert_eq!(parse_score(b"0x1g"), None);
    assert_eq!(parse_score(b"inf"), Some(f64::INFINITY));
    assert_eq!(parse_score(b"-Infinity"), Some(f64::NEG_INFINITY));
    assert_eq!(parse_score(b"infinit"), None);
    assert_eq!(parse_score(b"nan"), None);
    assert_eq!(parse_score(b"1e309"), None);
    assert_eq!(parse_score(b"1e-310"), None);
    assert_eq!(parse_score(b"1e-400"), None);
    assert_eq!(parse_score(b"0e-400"), Some(0.0));
    assert_eq!(
        parse_score(b"2.2250738585072014e-308"),
        Some(f64::MIN_POSITIVE)
    );
    assert_eq!(parse_score(b"3\0x"), Some(3.0));
    assert_eq!(parse_score(b"\0x"), Some(0.0));
    assert_eq!(parse_score(b" "), None);
    assert_eq!(parse_score(b"-"), None);
    assert_eq!(parse_score(b"abc"), None);
}

#[test]
fn c_compare() {
    assert_eq!(c_string_cmp(b"a\0z", b"a\0b"), Ordering::Equal);
    assert_eq!(c_string_cmp(b"a", b"b"), Ordering::Less);
}
