//! Tests of `db.rs`.

use super::*;
use crate::string::StrValue;

/// The per-key footprint: the table entry (key, entry, cached hash and
/// chain link) is the only memory a short key with a short string
/// value costs, besides ~4–8 bytes of bucket array. Guard its size.
#[test]
fn layout_sizes() {
    use std::mem::size_of;
    let table_entry = size_of::<(Key, Entry, u32, u32)>();
    println!(
        "Key {} Value {} Entry {} table entry {}",
        size_of::<Key>(),
        size_of::<Value>(),
        size_of::<Entry>(),
        table_entry
    );
    assert_eq!(size_of::<Key>(), 24);
    assert!(size_of::<Entry>() <= 56);
    assert!(table_entry <= 88);
}

#[test]
fn keys_short_and_long_round_trip_through_the_table() {
    let mut db = Db::default();
    let long = vec![b'k'; 100];
    for k in [&b"a"[..], b"key:000000000001", &long] {
        let v = Value::Str(StrValue::from_request(&bytes::Bytes::copy_from_slice(k)));
        db.set(k, v, false, 0);
        assert!(db.contains(k));
        assert!(db.set_expire(k, 5));
        assert_eq!(db.expire_at(k), Some(5));
    }
    assert_eq!(db.len(), 3);
    let mut seen: Vec<Vec<u8>> = db.iter().map(|(k, _)| k.to_vec()).collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![b"a".to_vec(), b"key:000000000001".to_vec(), long.clone()]
    );
    let (k, _, exp) = db
        .remove(&long)
        .unwrap_or_else(|| panic!("long key missing"));
    assert_eq!((&*k, exp), (&long[..], Some(5)));
    assert!(!db.contains(&long) && db.len() == 2 && db.expires_len() == 2);
}
