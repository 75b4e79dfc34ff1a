//! Tests of `crc64.rs`.

use super::*;

/// Bit-at-a-time reference to check the table-driven version against.
fn slow(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn check_vectors() {
    assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    assert_eq!(crc64(0, b""), 0);
    let text = b"This is a test of the emergency broadcast system.";
    assert_eq!(crc64(0, text), slow(text));
}

#[test]
fn incremental_equals_whole() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
    let whole = crc64(0, &data);
    assert_eq!(whole, slow(&data));
    for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
        let (a, b) = data.split_at(split);
        assert_eq!(crc64(crc64(0, a), b), whole);
    }
}
