//! Tests of `hyperloglog.rs`.

use super::*;

#[test]
fn murmur_reference_values() {
    // Elements whose sparse encodings were read from the reference
    // (`PFDEBUG DECODE` after one PFADD): register and value.
    let s = {
        let mut s = new_hll();
        for e in [&b"a"[..], b"b", b"c"] {
            hll_add(&mut s, e, 3000).unwrap();
        }
        s
    };
    assert_eq!(
        &s[HDR..],
        &[0x60, 0xf3, 0x80, 0x50, 0xb1, 0x84, 0x4b, 0xfb, 0x80, 0x42, 0x5a][..]
    );
    let mut t = new_hll();
    hll_add(&mut t, b"a", 3000).unwrap();
    assert_eq!(count_hll(&t).unwrap(), 1);
}

#[test]
fn sparse_and_dense_agree() {
    let mut s = new_hll();
    let mut d = new_hll();
    sparse_to_dense(&mut d).unwrap();
    for i in 0..2000u32 {
        let e = i.to_string();
        hll_add(&mut s, e.as_bytes(), 3000).unwrap();
        hll_add(&mut d, e.as_bytes(), 3000).unwrap();
        assert_eq!(count_hll(&s).unwrap(), count_hll(&d).unwrap());
    }
    sparse_to_dense(&mut s).unwrap();
    s[15] = d[15];
    assert_eq!(s, d);
}

#[test]
fn selftest_passes() {
    assert_eq!(self_test(), Ok(()));
}

#[test]
fn corrupted_sparse_is_rejected() {
    let mut s = new_hll();
    s.truncate(HDR + 1);
    assert!(count_hll(&s).is_err());
    assert!(sparse_to_dense(&mut s).is_err());
    let mut max = [0u8; REGS];
    assert!(merge_into(&mut max, &s).is_err());
}
