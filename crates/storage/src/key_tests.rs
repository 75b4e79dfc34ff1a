//! Tests of `key.rs`.

use super::*;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

#[test]
fn size_and_round_trip() {
    assert_eq!(std::mem::size_of::<Key>(), 24);
    let s = RandomState::new();
    for len in [0, 1, 16, INLINE, INLINE + 1, 100] {
        let b: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let k = Key::new(&b);
        assert_eq!(&*k, &b[..]);
        assert_eq!(k.to_bytes(), Bytes::from(b.clone()));
        assert_eq!(Bytes::from(k.clone()), Bytes::from(b.clone()));
        assert_eq!(k.heap_size(), if len > INLINE { len } else { 0 });
        assert_eq!(s.hash_one(&k), s.hash_one(&b[..]));
        assert_eq!(k, Key::from(Bytes::from(b.clone())));
    }
    assert!(Key::new(b"a") < Key::new(b"ab"));
    assert_eq!(format!("{:?}", Key::new(b"k\x01")), "b\"k\\x01\"");
}
