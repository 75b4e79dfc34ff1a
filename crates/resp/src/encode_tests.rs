//! Tests of `encode.rs`.

use super::*;

#[test]
fn integers() {
    for n in [0i64, 1, -1, 9, 10, 99, 100, i64::MAX, i64::MIN, -1234567890] {
        let mut out = BytesMut::new();
        put_i64(&mut out, n);
        assert_eq!(&out[..], n.to_string().as_bytes());
    }
    let mut out = BytesMut::new();
    put_usize(&mut out, usize::MAX);
    assert_eq!(&out[..], usize::MAX.to_string().as_bytes());
}

#[test]
fn doubles_match_reference() {
    // Texts observed from redis-server 7.0.15 (ZSCORE) and glibc printf.
    let cases: &[(f64, &str)] = &[
        (0.1, "0.10000000000000001"),
        (1.0, "1"),
        (1e20, "1e+20"),
        (1.5e-7, "1.4999999999999999e-07"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (1e16, "10000000000000000"),
        (1e17, "1e+17"),
        (0.0001, "0.0001"),
        (0.00001, "1.0000000000000001e-05"),
        (0.0, "0"),
        (-0.0, "-0"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
        (-f64::NAN, "-nan"),
        (-2.5, "-2.5"),
        (3.0, "3"),
        (1.0 / 3.0, "0.33333333333333331"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (5e-324, "4.9406564584124654e-324"),
        (2f64.powi(-25), "2.9802322387695312e-08"),
        (12345.678, "12345.678"),
        (100.0, "100"),
        (1e-4 * 1.5, "0.00015000000000000001"),
    ];
    for &(v, want) in cases {
        assert_eq!(format_double(v), want, "formatting {v:e}");
    }
}
