//! Tests of `geo.rs`.

use super::*;

#[test]
fn interleave_round_trip() {
    for (a, b) in [
        (0u32, 0u32),
        (1, 0),
        (0, 1),
        (0x3ff_ffff, 0x155_5555),
        (u32::MAX, 7),
    ] {
        let v = deinterleave(interleave(a, b));
        assert_eq!(v as u32, a);
        assert_eq!((v >> 32) as u32, b);
    }
}

#[test]
fn palermo() {
    // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score.
    let s = score_of(13.361389, 38.115556).unwrap();
    assert_eq!(s, 3_479_099_956_230_698.0);
    let [x, y] = decode_score(s);
    assert_eq!(human_double(x), "13.36138933897018433");
    assert_eq!(human_double(y), "38.11555639549629859");
}

#[test]
fn human_format() {
    assert_eq!(human_double(1.5), "1.5");
    assert_eq!(human_double(2.0), "2");
    assert_eq!(human_double(-0.0), "0");
}

#[test]
fn partial_sort_orders_the_range() {
    let mut seed = 12345u64;
    for n in [0usize, 1, 5, 7, 8, 30, 41, 100, 1000] {
        for k in [1usize, 2, 5, 50] {
            if k > n {
                continue;
            }
            let mut v: Vec<u64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) % 50
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            partial_sort(&mut v, 0, k - 1, |a, b| a.cmp(b));
            assert_eq!(v[..k], sorted[..k], "n={n} k={k}");
        }
    }
}

#[test]
fn floats() {
    assert_eq!(parse_double(b"1e400"), None);
    assert_eq!(parse_double(b"1e-400"), None);
    assert_eq!(parse_double(b"0e5"), Some(0.0));
    assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
    assert_eq!(parse_double(b" 1"), None);
}
