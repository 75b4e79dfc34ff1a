//! Tests of `bitops.rs`.

use super::*;

#[test]
fn counting() {
    let p = b"foobar";
    assert_eq!(count_bits(p, 0, 47), 26);
    assert_eq!(count_bits(p, 8, 15), 6);
    assert_eq!(count_bits(p, 5, 30), 17);
    assert_eq!(count_bits(&[0xFF], 2, 4), 3);
}

#[test]
fn finding() {
    assert_eq!(find_bit(&[0xFF, 0xF0, 0x00], false, 0, 23), Some(12));
    assert_eq!(find_bit(&[0x00, 0x00, 0x01], true, 0, 23), Some(23));
    assert_eq!(find_bit(&[0x00, 0x00, 0x01], true, 0, 22), None);
    assert_eq!(find_bit(&[0xFF, 0xFF], false, 0, 15), None);
    assert_eq!(find_bit(&[0x80], true, 1, 7), None);
}

#[test]
fn fields() {
    let mut p = vec![0u8; 2];
    set_field(&mut p, 4, 8, 0xAB);
    assert_eq!(p, vec![0x0A, 0xB0]);
    assert_eq!(get_unsigned(&p, 4, 8), 0xAB);
    assert_eq!(get_signed(&p, 4, 8), 0xABu8 as i8 as i64);
    assert_eq!(get_unsigned(&p, 12, 8), 0);
    assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
    assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(127));
    assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
    assert_eq!(
        signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
        Some(i64::MIN)
    );
    assert_eq!(signed_overflow(5, 1, 64, Overflow::Wrap), None);
    assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), Some(0));
    assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), Some(0));
    assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Wrap), Some(255));
    assert_eq!(unsigned_overflow(3, 4, 8, Overflow::Wrap), None);
}
