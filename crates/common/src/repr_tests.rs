//! Tests of `repr.rs`.

use super::repr;

#[test]
fn escapes_like_sdscatrepr() {
    assert_eq!(repr(b"a b"), b"\"a b\"".to_vec());
    assert_eq!(
        repr(b"\"\\\n\r\t\x07\x08"),
        b"\"\\\"\\\\\\n\\r\\t\\a\\b\"".to_vec()
    );
    assert_eq!(repr(&[0, 0x7f, 0xff]), b"\"\\x00\\x7f\\xff\"".to_vec());
}
