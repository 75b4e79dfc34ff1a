//! Unit tests of `tracking.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn prefixes_overlap_when_one_starts_the_other() {
    assert!(overlaps(b"foo", b"foobar"));
    assert!(overlaps(b"foobar", b"foo"));
    assert!(overlaps(b"", b"x"));
    assert!(overlaps(b"a", b"a"));
    assert!(!overlaps(b"bar", b"baz"));
}

#[test]
fn one_key_value_is_an_array_of_one_bulk() {
    assert_eq!(key_array(b"key"), b"*1\r\n$3\r\nkey\r\n".to_vec());
    assert_eq!(null_for(3), b"_\r\n");
    assert_eq!(null_for(2), b"$-1\r\n");
}

#[test]
fn broadcast_skips_the_keys_a_noloop_client_modified() {
    let mut keys = BTreeMap::new();
    keys.insert(Bytes::from_static(b"a"), Some(7));
    keys.insert(Bytes::from_static(b"b"), None);
    assert_eq!(
        broadcast_value(&keys, None).unwrap(),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n".to_vec()
    );
    assert_eq!(
        broadcast_value(&keys, Some(7)).unwrap(),
        b"*1\r\n$1\r\nb\r\n".to_vec()
    );
    keys.remove(&Bytes::from_static(b"b"));
    assert!(broadcast_value(&keys, Some(7)).is_none());
}

#[test]
fn error_text_shows_a_prefix_like_printf() {
    assert_eq!(shown(b"ab\r\ncd"), "ab  cd");
    assert_eq!(shown(b"ab\0cd"), "ab");
}
