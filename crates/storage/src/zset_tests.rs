//! Tests of `zset.rs`.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The model: a plain sorted Vec.
fn model_insert(v: &mut Vec<(Vec<u8>, f64)>, m: &[u8], s: f64) -> bool {
    let added = match v.iter().position(|(x, _)| x == m) {
        Some(i) => {
            v.remove(i);
            false
        }
        None => true,
    };
    let at = v.partition_point(|(x, xs)| cmp_elem(*xs, x, s, m) == Ordering::Less);
    v.insert(at, (m.to_vec(), s));
    added
}

fn check(z: &ZSetValue, v: &[(Vec<u8>, f64)]) {
    assert_eq!(z.len(), v.len());
    let got: Vec<(Vec<u8>, f64)> = z
        .to_vec()
        .into_iter()
        .map(|(m, s)| (m.to_vec(), s))
        .collect();
    assert_eq!(got, v);
    let mut fe = Vec::new();
    z.for_each(|m, s| fe.push((m.to_vec(), s)));
    assert_eq!(fe, v);
}

fn run_random(seed: u64, limits: Limits, ops: usize, universe: u32) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut z = ZSetValue::new();
    let mut v: Vec<(Vec<u8>, f64)> = Vec::new();
    for step in 0..ops {
        let m = format!("m{}", rng.gen_range(0..universe)).into_bytes();
        match rng.gen_range(0..10) {
            0..=4 => {
                let s = f64::from(rng.gen_range(-20i32..20)) / 2.0;
                assert_eq!(z.insert(&m, s, limits), model_insert(&mut v, &m, s));
            }
            5 | 6 => {
                let pos = v.iter().position(|(x, _)| *x == m);
                if let Some(i) = pos {
                    v.remove(i);
                }
                assert_eq!(z.remove(&m), pos.is_some());
            }
            7 => {
                let r = v.iter().position(|(x, _)| *x == m);
                assert_eq!(z.rank(&m).map(|x| x.0), r);
                assert_eq!(z.score(&m), r.map(|i| v[i].1));
                if !v.is_empty() {
                    let k = rng.gen_range(0..v.len());
                    let (gm, gs) = z.get_by_rank(k).unwrap();
                    assert_eq!((gm.to_vec(), gs), v[k]);
                }
                assert!(z.get_by_rank(v.len()).is_none());
            }
            8 => {
                let a = rng.gen_range(0..=v.len() + 2);
                let b = rng.gen_range(0..=v.len() + 2);
                let got: Vec<(Vec<u8>, f64)> = z
                    .range(a, b)
                    .into_iter()
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                let want: Vec<_> = v
                    .iter()
                    .skip(a)
                    .take(b.saturating_sub(a))
                    .cloned()
                    .collect();
                assert_eq!(got, want);
                let th = f64::from(rng.gen_range(-20i32..20)) / 2.0;
                assert_eq!(
                    z.count_prefix(|s, _| s < th),
                    v.iter().filter(|(_, s)| *s < th).count()
                );
            }
            _ => {
                if step % 7 == 0 {
                    let a = rng.gen_range(0..=v.len());
                    let b = (a + rng.gen_range(0..4)).min(v.len());
                    let got: Vec<(Vec<u8>, f64)> = z
                        .remove_range(a, b)
                        .into_iter()
                        .map(|(m, s)| (m.to_vec(), s))
                        .collect();
                    let want: Vec<_> = v.drain(a..b).collect();
                    assert_eq!(got, want);
                }
            }
        }
        if step % 50 == 0 {
            check(&z, &v);
        }
    }
    check(&z, &v);
}

#[test]
fn random_ops_compact_only() {
    let limits = Limits {
        max_entries: 1000,
        max_value: 64,
    };
    run_random(1, limits, 3000, 60);
    let z = {
        let mut z = ZSetValue::new();
        z.insert(b"a", 1.0, limits);
        z
    };
    assert_eq!(z.encoding(), "listpack");
}

/// Treap invariants under `t`: sizes add up, priorities form a heap,
/// elements are in order. Returns the subtree size.
fn check_treap(tr: &Treap, t: u32, lo: Option<(f64, &[u8])>, hi: Option<(f64, &[u8])>) -> usize {
    let Some(n) = tr.node(t) else { return 0 };
    if let Some((s, m)) = lo {
        assert_eq!(cmp_elem(s, m, n.score, &n.member), Ordering::Less);
    }
    if let Some((s, m)) = hi {
        assert_eq!(cmp_elem(n.score, &n.member, s, m), Ordering::Less);
    }
    for c in [n.left, n.right] {
        if let Some(cn) = tr.node(c) {
            assert!(cn.prio <= n.prio, "heap order");
        }
    }
    let here = Some((n.score, &n.member[..]));
    let size = 1 + check_treap(tr, n.left, lo, here) + check_treap(tr, n.right, here, hi);
    assert_eq!(n.size as usize, size, "subtree size");
    size
}

#[test]
fn ranked_tree_invariants_under_inserts_updates_removes() {
    let mut rng = StdRng::seed_from_u64(99);
    let mut r = Ranked::default();
    for step in 0..6000 {
        let m = format!("m{}", rng.gen_range(0..500)).into_bytes();
        if rng.gen_range(0..3) == 0 {
            r.remove(&m);
        } else {
            r.insert(&m, f64::from(rng.gen_range(-50i32..50)));
        }
        if step % 500 == 0 {
            let n = check_treap(&r.tree, r.tree.root, None, None);
            assert_eq!(n, r.map.len());
            assert_eq!(r.tree.nodes.len() - r.tree.free.len(), n);
        }
    }
    // A miss leaves the tree alone.
    let before = r.map.len();
    assert!(r.tree.remove(b"absent", 1.0).is_none());
    assert_eq!(check_treap(&r.tree, r.tree.root, None, None), before);
}

#[test]
fn random_ops_ranked() {
    let limits = Limits {
        max_entries: 0,
        max_value: 0,
    };
    for seed in 2..6 {
        run_random(seed, limits, 4000, 300);
    }
}

#[test]
fn random_ops_with_conversion() {
    for seed in 10..14 {
        run_random(seed, Limits::default(), 4000, 200);
    }
}

#[test]
fn conversions_at_thresholds() {
    let limits = Limits::default();
    let mut z = ZSetValue::new();
    for i in 0..128 {
        z.insert(format!("m{i}").as_bytes(), f64::from(i), limits);
    }
    assert_eq!(z.encoding(), "listpack");
    z.insert(b"m0", 5.0, limits);
    assert_eq!(z.encoding(), "listpack");
    z.insert(b"extra", 1.0, limits);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.len(), 129);
    z.remove(b"extra");
    assert_eq!(z.encoding(), "skiplist");
    z.shrink_to_fit_limits(limits);
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(z.len(), 128);
    let mut z = ZSetValue::new();
    z.insert(&[b'x'; 64], 1.0, limits);
    assert_eq!(z.encoding(), "listpack");
    z.insert(&[b'y'; 65], 1.0, limits);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.rank(&[b'y'; 65]), Some((1, 1.0)));
}

#[test]
fn ordering_by_score_then_member() {
    for limits in [
        Limits::default(),
        Limits {
            max_entries: 0,
            max_value: 0,
        },
    ] {
        let mut z = ZSetValue::new();
        z.insert(b"b", 1.0, limits);
        z.insert(b"a", 1.0, limits);
        z.insert(b"c", 0.5, limits);
        z.insert(b"z", f64::NEG_INFINITY, limits);
        z.insert(b"", f64::INFINITY, limits);
        let names: Vec<Bytes> = z.to_vec().into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, vec!["z", "c", "a", "b", ""]);
        assert_eq!(z.rank(b"a"), Some((2, 1.0)));
        assert_eq!(z.rank(b"nope"), None);
    }
}

#[test]
fn compact_score_encodings_round_trip() {
    let limits = Limits::default();
    let scores = [
        0.0,
        -0.0,
        1.0,
        -128.0,
        127.0,
        128.0,
        -32768.0,
        40000.0,
        -3e9,
        3e9,
        1.1,
        2147483647.0,
        -2147483648.0,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
    ];
    let mut z = ZSetValue::new();
    for (i, s) in scores.iter().enumerate() {
        z.insert(format!("m{i}").as_bytes(), *s, limits);
    }
    assert_eq!(z.encoding(), "listpack");
    for (i, s) in scores.iter().enumerate() {
        let got = z.score(format!("m{i}").as_bytes()).unwrap();
        assert_eq!(got, *s);
        // The compact form normalizes -0 like upstream's listpack.
        assert!(!(got == 0.0 && got.is_sign_negative()));
    }
}

#[test]
fn digest_matches_reference_vector() {
    // ZADD z 1.1 m1 2 m2 ; DEBUG DIGEST-VALUE z (redis 7.0.15)
    for limits in [
        Limits::default(),
        Limits {
            max_entries: 0,
            max_value: 0,
        },
    ] {
        let mut z = ZSetValue::new();
        z.insert(b"m2", 2.0, limits);
        z.insert(b"m1", 1.1, limits);
        let mut d = [0u8; 20];
        z.digest(&mut d);
        assert_eq!(
            dg::Digest20(d).to_hex(),
            "3f34ba66e9d1d6e57a1b3acf41eb067a21d1ab02"
        );
    }
}

#[test]
fn scan_visits_everything() {
    let limits = Limits::default();
    let mut z = ZSetValue::new();
    for i in 0..500 {
        z.insert(format!("m{i}").as_bytes(), f64::from(i), limits);
    }
    let mut seen = std::collections::HashSet::new();
    let mut c = 0;
    loop {
        c = z.scan(c, 10, |m, _| {
            seen.insert(m.to_vec());
        });
        if c == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
}
