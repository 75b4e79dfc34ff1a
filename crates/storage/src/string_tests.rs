//! Tests of `string.rs`.

use super::*;

#[test]
fn parse_strict() {
    assert_eq!(parse_i64_strict(b"0"), Some(0));
    assert_eq!(parse_i64_strict(b"-1"), Some(-1));
    assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_i64_strict(b"9223372036854775808"), None);
    assert_eq!(parse_i64_strict(b"01"), None);
    assert_eq!(parse_i64_strict(b"-0"), None);
    assert_eq!(parse_i64_strict(b"+1"), None);
    assert_eq!(parse_i64_strict(b" 1"), None);
    assert_eq!(parse_i64_strict(b""), None);
    assert_eq!(parse_i64_strict(b"-"), None);
}

#[test]
fn encodings() {
    let v = StrValue::from_request(&Bytes::from_static(b"123"));
    assert_eq!(v.encoding(), "int");
    let v = StrValue::from_request(&Bytes::from_static(b"0123"));
    assert_eq!(v.encoding(), "embstr");
    let long = Bytes::from(vec![b'a'; 45]);
    assert_eq!(StrValue::from_request(&long).encoding(), "raw");
    let mut v = StrValue::from_request(&Bytes::from_static(b"ab"));
    v.make_owned().push(b'c');
    assert_eq!(v.encoding(), "raw");
    assert_eq!(v.to_bytes(), Bytes::from_static(b"abc"));
    assert_eq!(itoa_buf(i64::MIN).as_bytes(), b"-9223372036854775808");
}

#[test]
fn itoa_matches_std_formatting() {
    let mut v: Vec<i64> = vec![0, 9, 10, 99, 100, 101, 999, 1000, i64::MAX, i64::MIN];
    let mut p: i64 = 1;
    while let Some(q) = p.checked_mul(10) {
        v.extend([p - 1, p, p + 1, -p, -(p - 1), -(p + 1)]);
        p = q;
    }
    v.extend((-1000..1000).map(|x| x * 7919));
    for i in v {
        assert_eq!(itoa_buf(i).as_bytes(), i.to_string().as_bytes(), "{i}");
        assert_eq!(int_len(i), i.to_string().len());
    }
}
