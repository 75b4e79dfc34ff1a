//! Tests of `lzf.rs`.

use super::*;

fn roundtrip(data: &[u8]) {
    if let Some(c) = compress(data, data.len() + 64) {
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }
}

#[test]
fn roundtrips() {
    roundtrip(b"a");
    roundtrip(b"abcabcabcabcabcabcabcabcabcabcabcabc");
    roundtrip(&[b'x'; 10_000]);
    let mut v = Vec::new();
    for i in 0..5000u32 {
        v.extend_from_slice(format!("key:{}:{} ", i % 97, i).as_bytes());
    }
    roundtrip(&v);
    let noise: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    roundtrip(&noise);
}

#[test]
fn compresses_repetitive_data() {
    let data = [b'a'; 100];
    let c = compress(&data, 96).unwrap();
    assert!(c.len() < 10, "{c:?}");
    assert_eq!(decompress(&c, 100).unwrap(), data);
}

#[test]
fn incompressible_gives_none() {
    let noise: Vec<u8> = (0..64u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    assert!(compress(&noise, noise.len() - 4).is_none());
}

/// The reference server stores 100 'a's as these bytes (taken from a
/// dump.rdb it wrote).
#[test]
fn decodes_reference_stream() {
    let c = [0x01, 0x61, 0x61, 0xe0, 0x57, 0x00, 0x01, 0x61, 0x61];
    assert_eq!(decompress(&c, 100).unwrap(), vec![b'a'; 100]);
}

#[test]
fn rejects_corruption() {
    assert_eq!(decompress(&[0x05, 1, 2], 6), Err(LzfError::InputTruncated));
    assert_eq!(decompress(&[0x20, 0x05], 3), Err(LzfError::BadReference));
    assert_eq!(decompress(&[0x00, b'a'], 2), Err(LzfError::ShortOutput));
    assert_eq!(
        decompress(&[0x01, b'a', b'b'], 1),
        Err(LzfError::OutputOverflow)
    );
    assert_eq!(
        decompress(&[0x00], 1_000_000),
        Err(LzfError::OutputOverflow)
    );
}
