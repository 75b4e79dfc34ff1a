//! Tests of `zset.rs`.

use super::*;

#[test]
fn strtod_like_c() {
    assert_eq!(strtod_full(b""), Some((0.0, false)));
    assert_eq!(strtod_full(b"  1.5"), Some((1.5, false)));
    assert_eq!(strtod_full(b"   "), None);
    assert_eq!(strtod_full(b"0x10"), Some((16.0, false)));
    assert_eq!(strtod_full(b"-0x1p3"), Some((-8.0, false)));
    assert_eq!(strtod_full(b"1e400"), Some((f64::INFINITY, true)));
    assert_eq!(strtod_full(b"1e-400").map(|x| x.1), Some(true));
    assert_eq!(strtod_full(b"-inf"), Some((f64::NEG_INFINITY, false)));
    assert_eq!(strtod_full(b"+Infinity"), Some((f64::INFINITY, false)));
    assert_eq!(strtod_full(b"nan"), None);
    assert_eq!(strtod_full(b"1 "), None);
    assert_eq!(strtod_full(b"--1"), None);
    assert!(parse_score(b"").is_err());
    assert!(parse_score(b" 1").is_err());
    assert_eq!(parse_score(b"1e1"), Ok(10.0));
}

#[test]
fn rank_spans() {
    assert_eq!(rank_span(0, -1, 3), (0, 3));
    assert_eq!(rank_span(-2, -1, 3), (1, 3));
    assert_eq!(rank_span(2, 1, 3), (0, 0));
    assert_eq!(rank_span(5, 10, 3), (0, 0));
    assert_eq!(rank_span(-10, 10, 3), (0, 3));
    assert_eq!(rank_span(i64::MIN, i64::MAX, 3), (0, 3));
}
