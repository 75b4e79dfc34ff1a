//! Tests of `check.rs`.

use super::*;

#[test]
fn c_helpers() {
    assert_eq!(hex_char(0x0d), "0d");
    assert_eq!(hex_char(0xfe), "fffffffe");
    assert_eq!(strtol(b" -12x"), (-12, 4, false));
    assert_eq!(strtol(b"x"), (0, 0, false));
    assert!(strtol(b"99999999999999999999").2);
    assert_eq!(dirname("a"), ".");
    assert_eq!(dirname("/a"), "/");
    assert_eq!(dirname("d/e/f"), "d/e");
    assert_eq!(dirname("d//f/"), "d");
}
