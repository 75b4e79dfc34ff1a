//! Tests of `out.rs`.

use super::*;

#[test]
fn c_formats() {
    assert_eq!(fixed(f64::NAN, 1), "-nan");
    assert_eq!(fixed(f64::INFINITY, 2), "inf");
    assert_eq!(fixed(0.103_000_001_609_325_4, 3), "0.103");
    assert_eq!(fixed_w(0.5, 9, 3), "    0.500");
    assert_eq!(clean_line(0), " \r");
    assert_eq!(clean_line(3), "   \r");
    // %.2f of the float 2000/0.03f.
    let rps = 2000f32 / (30f32 / 1000f32);
    assert_eq!(fixed(f64::from(rps), 2), "66666.67");
}
