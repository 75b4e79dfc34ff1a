//! Property tests: hashes and sets driven by random operation sequences and
//! compared after every step with a trivially correct model (`BTreeMap` /
//! `BTreeSet`). Small conversion limits make the sequences cross the
//! packed → table (and intset → table) boundaries many times, and every
//! step also checks the encoding rule, `SCAN` coverage and random sampling
//! against the model. Seeds are fixed so a failure is reproducible; the
//! failing seed and step are in the panic message.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis_storage::hash::{HashLimits, HashValue};
use redis_storage::set::SetValue;

const SEEDS: u64 = 40;
const STEPS: usize = 400;

/// A field/member drawn from a small universe so that updates, removals
/// and re-insertions of the same element are frequent; occasionally long.
fn element(rng: &mut StdRng, ints_only: bool) -> Vec<u8> {
    if ints_only || rng.gen_bool(0.5) {
        // Integers, including non-canonical forms that must stay strings.
        match rng.gen_range(0..10) {
            0 => format!("0{}", rng.gen_range(0..20)).into_bytes(),
            1 => format!("+{}", rng.gen_range(0..20)).into_bytes(),
            2 => i64::MIN.to_string().into_bytes(),
            3 => i64::MAX.to_string().into_bytes(),
            _ => rng.gen_range(-30i64..30).to_string().into_bytes(),
        }
    } else if rng.gen_bool(0.1) {
        vec![b'x'; rng.gen_range(9..40)]
    } else {
        format!("f{}", rng.gen_range(0..40)).into_bytes()
    }
}

/// Every element reported by a full `SCAN` iteration (bounded).
fn scan_all_hash(h: &HashValue, count: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut cursor = 0;
    for _ in 0..10_000 {
        cursor = h.scan(cursor, count, |k, v| {
            out.insert(k.to_vec(), v.to_vec());
        });
        if cursor == 0 {
            return out;
        }
    }
    panic!("HSCAN did not terminate");
}

fn scan_all_set(s: &SetValue, count: usize) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    let mut cursor = 0;
    for _ in 0..10_000 {
        cursor = s.scan(cursor, count, |m| {
            out.insert(m.as_cow().into_owned());
        });
        if cursor == 0 {
            return out;
        }
    }
    panic!("SSCAN did not terminate");
}

#[test]
fn hash_matches_model() {
    let lim = HashLimits {
        max_entries: 8,
        max_value: 8,
    };
    let mut conversions = 0;
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut h = HashValue::new();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut was_packed = true;
        for step in 0..STEPS {
            let ctx = format!("seed {seed} step {step}");
            let f = element(&mut rng, false);
            match rng.gen_range(0..10) {
                0..=4 => {
                    let v = element(&mut rng, false);
                    let new = h.set(&f, &v, lim);
                    assert_eq!(new, model.insert(f, v).is_none(), "{ctx}: set");
                }
                5..=7 => {
                    assert_eq!(h.remove(&f), model.remove(&f).is_some(), "{ctx}: remove");
                }
                8 => {
                    let want = model.get(&f).map(Vec::as_slice);
                    assert_eq!(h.get(&f), want, "{ctx}: get");
                    assert_eq!(h.contains(&f), want.is_some(), "{ctx}: contains");
                }
                _ => {
                    let n = rng.gen_range(0..12);
                    let picked = h.random_distinct(n, &mut rng);
                    assert_eq!(picked.len(), n.min(model.len()), "{ctx}: sample size");
                    let distinct: BTreeSet<&[u8]> = picked.iter().map(|p| p.0).collect();
                    assert_eq!(distinct.len(), picked.len(), "{ctx}: sample distinct");
                    for (k, v) in picked {
                        assert_eq!(model.get(k).map(Vec::as_slice), Some(v), "{ctx}: sample");
                    }
                    match h.random_pair(&mut rng) {
                        Some((k, v)) => {
                            assert_eq!(model.get(k).map(Vec::as_slice), Some(v), "{ctx}: pair")
                        }
                        None => assert!(model.is_empty(), "{ctx}: random_pair on non-empty"),
                    }
                }
            }
            assert_eq!(h.len(), model.len(), "{ctx}: len");
            // The encoding rule: once converted, a hash never goes back;
            // while packed, it is within both limits.
            let packed = h.encoding() == "listpack";
            if packed {
                assert!(was_packed, "{ctx}: table converted back to listpack");
                assert!(model.len() <= lim.max_entries, "{ctx}: listpack too long");
            } else {
                assert_eq!(h.encoding(), "hashtable", "{ctx}");
                if was_packed {
                    conversions += 1;
                }
            }
            was_packed = packed;
            let iterated: BTreeMap<Vec<u8>, Vec<u8>> =
                h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            assert_eq!(iterated, model, "{ctx}: iteration");
            if step % 20 == 0 {
                assert_eq!(scan_all_hash(&h, rng.gen_range(1..5)), model, "{ctx}: scan");
            }
        }
    }
    assert!(
        conversions >= SEEDS / 2,
        "only {conversions} conversions exercised"
    );
}

#[test]
fn set_matches_model() {
    let max_intset = 8;
    let mut conversions = 0;
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        let mut s = SetValue::new();
        let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
        // Half the sequences use integers only, so they stay intsets longer.
        let ints_only = seed % 2 == 0;
        let mut was_intset = true;
        for step in 0..STEPS {
            let ctx = format!("seed {seed} step {step}");
            let m = element(&mut rng, ints_only);
            match rng.gen_range(0..10) {
                0..=4 => assert_eq!(
                    s.add(&m, max_intset),
                    model.insert(m.clone()),
                    "{ctx}: add {:?}",
                    String::from_utf8_lossy(&m)
                ),
                5..=6 => assert_eq!(s.remove(&m), model.remove(&m), "{ctx}: remove"),
                7 => assert_eq!(s.contains(&m), model.contains(&m), "{ctx}: contains"),
                8 => match s.pop_random(&mut rng) {
                    Some(p) => assert!(model.remove(p.as_ref()), "{ctx}: popped a non-member"),
                    None => assert!(model.is_empty(), "{ctx}: pop on non-empty"),
                },
                _ => {
                    let n = rng.gen_range(0..12);
                    let picked: Vec<Vec<u8>> = s
                        .random_distinct(n, &mut rng)
                        .iter()
                        .map(|m| m.as_cow().into_owned())
                        .collect();
                    assert_eq!(picked.len(), n.min(model.len()), "{ctx}: sample size");
                    let distinct: BTreeSet<&Vec<u8>> = picked.iter().collect();
                    assert_eq!(distinct.len(), picked.len(), "{ctx}: sample distinct");
                    assert!(picked.iter().all(|p| model.contains(p)), "{ctx}: sample");
                }
            }
            assert_eq!(s.len(), model.len(), "{ctx}: len");
            let intset = s.encoding() == "intset";
            if intset {
                assert!(was_intset, "{ctx}: table converted back to intset");
                assert!(model.len() <= max_intset, "{ctx}: intset too long");
                // Only canonical integers may live in an intset, ascending.
                let members: Vec<Vec<u8>> = s.iter().map(|m| m.as_cow().into_owned()).collect();
                let ints: Vec<i64> = members
                    .iter()
                    .map(|m| {
                        let t = std::str::from_utf8(m).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                        let i: i64 = t.parse().unwrap_or_else(|e| panic!("{ctx}: {t}: {e}"));
                        assert_eq!(i.to_string(), t, "{ctx}: non-canonical in intset");
                        i
                    })
                    .collect();
                assert!(ints.windows(2).all(|w| w[0] < w[1]), "{ctx}: order");
            } else {
                assert_eq!(s.encoding(), "hashtable", "{ctx}");
                if was_intset && !model.is_empty() {
                    conversions += 1;
                }
            }
            was_intset = intset;
            let iterated: BTreeSet<Vec<u8>> = s.iter().map(|m| m.as_cow().into_owned()).collect();
            assert_eq!(iterated, model, "{ctx}: iteration");
            if step % 20 == 0 {
                assert_eq!(scan_all_set(&s, rng.gen_range(1..5)), model, "{ctx}: scan");
            }
        }
    }
    assert!(
        conversions >= SEEDS / 2,
        "only {conversions} conversions exercised"
    );
}
