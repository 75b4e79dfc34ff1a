//! Tests of `hash.rs`.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

const LIM: HashLimits = HashLimits {
    max_entries: 4,
    max_value: 8,
};

#[test]
fn packed_set_get_update_remove() {
    let mut h = HashValue::new();
    assert!(h.set(b"a", b"1", LIM));
    assert!(h.set(b"b", b"2", LIM));
    assert!(!h.set(b"a", b"longer", LIM));
    assert_eq!(h.get(b"a"), Some(&b"longer"[..]));
    assert_eq!(h.get(b"b"), Some(&b"2"[..]));
    assert_eq!(h.get(b"c"), None);
    assert_eq!(h.len(), 2);
    assert_eq!(h.encoding(), "listpack");
    // Insertion order is kept across updates.
    let pairs: Vec<_> = h.iter().collect();
    assert_eq!(
        pairs,
        vec![(&b"a"[..], &b"longer"[..]), (&b"b"[..], &b"2"[..])]
    );
    assert!(h.remove(b"a"));
    assert!(!h.remove(b"a"));
    assert_eq!(h.len(), 1);
    assert!(h.remove(b"b"));
    assert!(h.is_empty());
}

#[test]
fn long_elements_use_multi_byte_lengths() {
    let lim = HashLimits {
        max_entries: 10,
        max_value: 1000,
    };
    let mut h = HashValue::new();
    let big = vec![b'x'; 300];
    h.set(&big, b"", lim);
    h.set(b"", &big, lim);
    assert_eq!(h.encoding(), "listpack");
    assert_eq!(h.get(&big), Some(&b""[..]));
    assert_eq!(h.get(b""), Some(&big[..]));
    h.set(&big, &big, lim);
    assert_eq!(h.get(&big), Some(&big[..]));
    assert_eq!(h.len(), 2);
}

#[test]
fn converts_on_entries_and_value_length() {
    let mut h = HashValue::new();
    for i in 0..4 {
        h.set(format!("f{i}").as_bytes(), b"v", LIM);
    }
    assert_eq!(h.encoding(), "listpack");
    h.set(b"f4", b"v", LIM);
    assert_eq!(h.encoding(), "hashtable");
    assert_eq!(h.len(), 5);
    // Never converts back.
    h.remove(b"f4");
    h.remove(b"f3");
    assert_eq!(h.encoding(), "hashtable");
    assert_eq!(h.get(b"f0"), Some(&b"v"[..]));

    let mut h = HashValue::new();
    h.set(b"a", b"12345678", LIM);
    assert_eq!(h.encoding(), "listpack");
    h.set(b"a", b"123456789", LIM);
    assert_eq!(h.encoding(), "hashtable");
    let mut h = HashValue::new();
    h.set(b"123456789", b"", LIM);
    assert_eq!(h.encoding(), "hashtable");
    // Zero limits: one entry is already too many.
    let mut h = HashValue::new();
    h.set(
        b"",
        b"",
        HashLimits {
            max_entries: 0,
            max_value: 0,
        },
    );
    assert_eq!(h.encoding(), "hashtable");
}

#[test]
fn digest_is_encoding_independent_and_matches_reference() {
    // HSET h f1 v1 f2 v2 ; DEBUG DIGEST-VALUE h on redis 7.0.15.
    let mut h = HashValue::new();
    h.set(b"f1", b"v1", LIM);
    h.set(b"f2", b"v2", LIM);
    let mut d = [0u8; 20];
    h.digest(&mut d);
    assert_eq!(
        dg::Digest20(d).to_hex(),
        "047cc60ea73a34cde6d08a2721a4a26d19ee6570"
    );
    h.convert_to_table();
    let mut d2 = [0u8; 20];
    h.digest(&mut d2);
    assert_eq!(d, d2);
}

#[test]
fn random_and_scan() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut h = HashValue::new();
    assert!(h.random_pair(&mut rng).is_none());
    for i in 0..4 {
        h.set(format!("f{i}").as_bytes(), b"v", LIM);
    }
    assert!(h.random_pair(&mut rng).is_some());
    assert_eq!(h.random_distinct(10, &mut rng).len(), 4);
    let two = h.random_distinct(2, &mut rng);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0].0, two[1].0);
    let mut n = 0;
    assert_eq!(h.scan(0, 1, |_, _| n += 1), 0);
    assert_eq!(n, 4);
    // Table form: a full cursor loop sees everything.
    let lim = HashLimits {
        max_entries: 0,
        max_value: 64,
    };
    let mut h = HashValue::new();
    for i in 0..1000 {
        h.set(format!("f{i}").as_bytes(), b"v", lim);
    }
    let mut seen = std::collections::HashSet::new();
    let mut c = 0;
    loop {
        c = h.scan(c, 10, |f, _| {
            seen.insert(f.to_vec());
        });
        if c == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(h.random_distinct(10, &mut rng).len(), 10);
}
