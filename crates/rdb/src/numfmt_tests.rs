//! Tests of `numfmt.rs`.

use super::*;

#[test]
fn canonical_ints() {
    assert_eq!(canonical_i64(b"0"), Some(0));
    assert_eq!(canonical_i64(b"-1"), Some(-1));
    assert_eq!(canonical_i64(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
    for bad in [
        &b""[..],
        b"-",
        b"01",
        b"-0",
        b"+1",
        b" 1",
        b"1a",
        b"9223372036854775808",
    ] {
        assert_eq!(canonical_i64(bad), None, "{bad:?}");
    }
}

#[test]
fn g17() {
    assert_eq!(fmt_g17(1.5), "1.5");
    assert_eq!(fmt_g17(0.1), "0.10000000000000001");
    assert_eq!(fmt_g17(1e20), "1e+20");
    assert_eq!(fmt_g17(1.25e-5), "1.2500000000000001e-05");
    assert_eq!(fmt_g17(-3.0), "-3");
    assert_eq!(fmt_g17(0.0001), "0.0001");
    assert_eq!(fmt_g17(123456789012345680.0), "1.2345678901234568e+17");
    assert_eq!(d2string(3.0), "3");
    assert_eq!(d2string(-2.5), "-2.5");
    assert_eq!(d2string(f64::INFINITY), "inf");
}
