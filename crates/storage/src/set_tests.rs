//! Tests of `set.rs`.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn members(s: &SetValue) -> Vec<Vec<u8>> {
    s.iter().map(|m| m.as_cow().into_owned()).collect()
}

#[test]
fn intset_sorted_and_membership() {
    let mut s = SetValue::new();
    assert!(s.add(b"3", 512));
    assert!(s.add(b"-1", 512));
    assert!(s.add(b"20", 512));
    assert!(!s.add(b"3", 512));
    assert_eq!(s.encoding(), "intset");
    assert_eq!(
        members(&s),
        vec![b"-1".to_vec(), b"3".to_vec(), b"20".to_vec()]
    );
    assert!(s.contains(b"20"));
    assert!(!s.contains(b"020"));
    assert!(!s.contains(b"x"));
    assert!(s.contains_member(Member::Int(-1)));
    assert!(s.remove(b"3"));
    assert!(!s.remove(b"3"));
    assert!(!s.remove(b"abc"));
    assert_eq!(s.len(), 2);
    assert!(s.add(b"9223372036854775807", 512));
    assert!(s.add(b"-9223372036854775808", 512));
    assert_eq!(s.encoding(), "intset");
}

#[test]
fn conversions() {
    // Non-canonical integers are strings.
    for m in [
        &b"007"[..],
        b"-0",
        b"+1",
        b" 1",
        b"9223372036854775808",
        b"a",
    ] {
        let mut s = SetValue::new();
        s.add(b"1", 512);
        s.add(m, 512);
        assert_eq!(s.encoding(), "hashtable", "{m:?}");
        assert!(s.contains(m));
        assert!(s.contains(b"1"));
        assert!(s.contains_member(Member::Int(1)));
    }
    // Count limit: converts above it and stays converted.
    let mut s = SetValue::new();
    s.add(b"1", 2);
    s.add(b"2", 2);
    assert_eq!(s.encoding(), "intset");
    s.add(b"3", 2);
    assert_eq!(s.encoding(), "hashtable");
    s.remove(b"3");
    s.remove(b"2");
    assert_eq!(s.encoding(), "hashtable");
    let mut s = SetValue::new();
    s.add(b"1", 0);
    assert_eq!(s.encoding(), "hashtable");
    let mut s = SetValue::new();
    assert!(s.add_member(Member::Int(5), 512));
    assert!(!s.add_member(Member::Str(b"5"), 512));
    assert_eq!(s.encoding(), "intset");
}

#[test]
fn digest_matches_reference() {
    // SADD s x y 7 ; DEBUG DIGEST-VALUE s on redis 7.0.15.
    let mut s = SetValue::new();
    for m in [&b"7"[..], b"x", b"y"] {
        s.add(m, 512);
    }
    let mut d = [0u8; 20];
    s.digest(&mut d);
    assert_eq!(
        dg::Digest20(d).to_hex(),
        "a6afcc473373536adb071da403abcb70a693d104"
    );
    // Same content, both encodings, same digest.
    let mut a = SetValue::new();
    let mut b = SetValue::new();
    for m in [&b"1"[..], b"2"] {
        a.add(m, 512);
        b.add(m, 0);
    }
    assert_ne!(a.encoding(), b.encoding());
    let (mut da, mut db) = ([0u8; 20], [0u8; 20]);
    a.digest(&mut da);
    b.digest(&mut db);
    assert_eq!(da, db);
}

#[test]
fn random_pop_scan() {
    let mut rng = StdRng::seed_from_u64(1);
    for max in [512, 0] {
        let mut s = SetValue::new();
        for i in 0..100 {
            s.add(i.to_string().as_bytes(), max);
        }
        assert_eq!(s.random_distinct(10, &mut rng).len(), 10);
        assert!(s.random_member(&mut rng).is_some());
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = s.scan(c, 5, |m| {
                seen.insert(m.as_cow().into_owned());
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 100);
        let mut popped = std::collections::HashSet::new();
        while let Some(m) = s.pop_random(&mut rng) {
            assert!(popped.insert(m));
        }
        assert_eq!(popped.len(), 100);
        assert!(s.is_empty());
    }
}
