//! Tests of `engine.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn placeholders() {
    let t = Template::new(b"SET key:{tag}:__rand_int__ v", 2, true, true);
    assert_eq!(t.rand, vec![14, 42]);
    assert_eq!(t.tags, vec![8, 36]);
    let t = Template::new(b"__rand_int____rand_int__", 1, true, false);
    assert_eq!(t.rand, vec![0, 12]);
    assert!(Template::new(b"__rand_int__", 1, false, false)
        .rand
        .is_empty());
}

#[test]
fn digits() {
    let mut d = *b"__rand_int__";
    write_digits(&mut d, 4_580);
    assert_eq!(&d, b"000000004580");
    write_digits(&mut d, 1_234_567_890_123);
    assert_eq!(&d, b"234567890123");
}
