//! Unit tests of `slot.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn known_values() {
    assert_eq!(key_slot(b"foo"), 12182);
    assert_eq!(key_slot(b"key1"), 9189);
    assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
}
