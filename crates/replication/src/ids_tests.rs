//! Tests of `ids.rs`.

use super::*;

#[test]
fn random_ids_are_40_hex_digits_and_differ() {
    let a = ReplIds::random();
    let b = ReplIds::random();
    assert_eq!(a.replid.len(), REPLID_LEN);
    assert!(a.replid.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a.replid, b.replid);
    assert_eq!(a.replid2, NULL_REPLID);
    assert_eq!(a.second_repl_offset, -1);
    assert_eq!(a.master_repl_offset, 0);
}

#[test]
fn shift_keeps_the_old_id_up_to_offset_plus_one() {
    let mut ids = ReplIds::new("a".repeat(40));
    ids.advance(100);
    ids.shift("b".repeat(40));
    assert_eq!(ids.replid, "b".repeat(40));
    assert_eq!(ids.replid2, "a".repeat(40));
    assert_eq!(ids.second_repl_offset, 101);
    assert!(ids.same_history(&"a".repeat(40), 101));
    assert!(!ids.same_history(&"a".repeat(40), 102));
    assert!(ids.same_history(&"B".repeat(40), 5000));
}

#[test]
fn adopt_and_forget_clear_the_secondary_id() {
    let mut ids = ReplIds::new("a".repeat(40));
    ids.shift("b".repeat(40));
    ids.adopt_primary("c".repeat(40), 777);
    assert_eq!(ids.replid, "c".repeat(40));
    assert_eq!(ids.master_repl_offset, 777);
    assert_eq!(ids.replid2, NULL_REPLID);
    assert_eq!(ids.second_repl_offset, -1);

    ids.shift("d".repeat(40));
    ids.forget_history("e".repeat(40));
    assert_eq!(ids.replid, "e".repeat(40));
    assert_eq!(ids.replid2, NULL_REPLID);
    assert_eq!(ids.master_repl_offset, 777);
    assert!(!ids.same_history(&"d".repeat(40), 1));
}
