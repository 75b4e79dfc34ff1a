//! Unit tests of `dict.rs` (kept apart so the module holds only
//! library code).

use super::*;
use bytes::Bytes;

#[test]
fn a_keyspace_table_does_not_double_past_the_budget() {
    let mut d: Dict<Bytes, ()> = Dict::new();
    d.set_budgeted();
    let mut i = 0;
    while d.len() < INITIAL_BUCKETS * 4 || d.is_rehashing() {
        d.insert(Bytes::from(format!("k{i}")), ());
        i += 1;
    }
    let buckets = d.buckets();
    while d.len() < buckets {
        d.insert(Bytes::from(format!("k{i}")), ());
        i += 1;
    }
    // Full: the next insert would double the table, but the budget is
    // smaller than the new bucket array. (Other tests only ever see a
    // slower table while this runs, never a wrong one.)
    set_keyspace_grow_budget(0);
    d.insert(Bytes::from(format!("k{i}")), ());
    i += 1;
    let refused = !d.is_rehashing() && d.buckets() == buckets;
    // Overfull tables grow anyway.
    while d.len() * 1000 <= buckets * 1618 {
        d.insert(Bytes::from(format!("k{i}")), ());
        i += 1;
    }
    d.insert(Bytes::from(format!("k{i}")), ());
    let forced = d.is_rehashing();
    set_keyspace_grow_budget(u64::MAX);
    assert!(refused, "the table grew past the budget");
    assert!(forced, "an overfull table did not grow");
}

#[test]
fn stats_text_describes_the_table_like_upstream() {
    let mut d: Dict<Bytes, ()> = Dict::new();
    assert_eq!(
        d.stats_text(),
        "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
    );
    for i in 0..100 {
        d.insert(Bytes::from(format!("k{i}")), ());
    }
    while d.is_rehashing() {
        d.rehash_step();
    }
    let text = d.stats_text();
    let field = |name: &str| -> usize {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!(" {name}: ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert_eq!(field("table size"), d.buckets());
    assert_eq!(field("number of elements"), 100);
    // The distribution accounts for every bucket and every element.
    let (mut buckets, mut elements) = (0, 0);
    for l in text.lines().filter(|l| l.starts_with("   ")) {
        let (len, rest) = l.trim().split_once(": ").unwrap();
        let n: usize = rest.split(' ').next().unwrap().parse().unwrap();
        buckets += n;
        elements += n * len.parse::<usize>().unwrap();
    }
    assert_eq!((buckets, elements), (d.buckets(), 100));
}
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::{HashMap, HashSet};

impl<K: Hash + Eq, V, S: BuildHasher> Dict<K, V, S> {
    /// Structural invariants: every entry reachable exactly once, from
    /// its home bucket, with a correct cached hash; moved buckets empty.
    fn check_invariants(&self) {
        let mut seen = vec![false; self.entries.len()];
        let tables: [(&[u32], Table); 2] = [(&self.main, Table::Main), (&self.next, Table::Next)];
        for (table, which) in tables {
            for (b, &head) in table.iter().enumerate() {
                if which == Table::Main && self.is_rehashing() {
                    assert!(
                        b >= self.rehash_idx || head == NIL,
                        "moved bucket not empty"
                    );
                }
                let mut link = head;
                while link != NIL {
                    let i = index_of(link);
                    assert!(!seen[i], "entry linked twice");
                    seen[i] = true;
                    let e = &self.entries[i];
                    assert_eq!(e.hash, self.hash_of(&e.key), "stale hash");
                    assert_eq!(self.home(e.hash), Some((which, b)), "not at home");
                    link = e.next;
                }
            }
        }
        assert!(seen.iter().all(|&s| s), "unreachable entry");
        assert!(self.main.len().is_power_of_two() || self.main.is_empty());
        assert!(self.next.len().is_power_of_two() || self.next.is_empty());
    }
}

fn key(n: u64) -> Bytes {
    Bytes::from(format!("key:{n}"))
}

#[test]
fn insert_batch_matches_inserting_one_by_one() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut batched: Dict<Bytes, u64> = Dict::new();
    let mut single: Dict<Bytes, u64> = Dict::new();
    let mut n = 0u64;
    // Batches of varied sizes through several resizes, with keys
    // repeated inside a batch and across batches.
    for round in 0..300u64 {
        let size = rand::Rng::gen_range(&mut rng, 0..80usize);
        let mut items = Vec::new();
        for _ in 0..size {
            n += 1;
            let k = rand::Rng::gen_range(&mut rng, 0..(round * 40 + 50));
            items.push((key(k), n));
        }
        for (k, v) in items.clone() {
            single.insert(k, v);
        }
        batched.insert_batch(items);
        batched.check_invariants();
        assert_eq!(batched.len(), single.len());
    }
    let a: HashMap<Bytes, u64> = batched.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let b: HashMap<Bytes, u64> = single.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(a, b);
    // Pre-sized like a load with a RESIZEDB hint.
    let mut sized: Dict<Bytes, u64> = Dict::with_capacity(1000);
    sized.insert_batch((0..1000).map(|i| (key(i), i)).collect());
    sized.check_invariants();
    assert_eq!(sized.len(), 1000);
    assert_eq!(sized.get(&key(999)[..]), Some(&999));
}

#[test]
fn basic_api_and_borrowed_lookup() {
    let mut d: Dict<Bytes, u64> = Dict::new();
    assert!(d.is_empty());
    assert_eq!(d.get(&b"x"[..]), None);
    assert_eq!(d.insert(Bytes::from_static(b"a"), 1), None);
    assert_eq!(d.insert(Bytes::from_static(b"a"), 2), Some(1));
    assert_eq!(d.get(&b"a"[..]), Some(&2));
    assert!(d.contains_key(&b"a"[..]));
    *d.get_mut(&b"a"[..]).unwrap() += 10;
    assert_eq!(
        d.get_key_value(&b"a"[..]),
        Some((&Bytes::from_static(b"a"), &12))
    );
    *d.get_or_insert_with(Bytes::from_static(b"b"), || 5) += 1;
    *d.get_or_insert_with(Bytes::from_static(b"b"), || 100) += 1;
    assert_eq!(d.get(&b"b"[..]), Some(&7));
    assert_eq!(d.len(), 2);
    assert_eq!(d.remove(&b"a"[..]), Some((Bytes::from_static(b"a"), 12)));
    assert_eq!(d.remove(&b"a"[..]), None);
    assert_eq!(d.len(), 1);
    d.check_invariants();
    let drained: Vec<_> = d.drain().collect();
    assert_eq!(drained, vec![(Bytes::from_static(b"b"), 7)]);
    assert!(d.is_empty());
    d.insert(Bytes::from_static(b"c"), 1);
    d.check_invariants();
    d.clear();
    assert!(d.is_empty() && d.get(&b"c"[..]).is_none());
    assert_eq!(d.scan(0, |_, _| panic!("empty")), 0);
}

#[test]
fn model_random_ops_against_hashmap() {
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut d: Dict<Bytes, u64> = Dict::new();
        let mut m: HashMap<Bytes, u64> = HashMap::new();
        // Phases with different key ranges and op mixes drive the
        // table through growth, shrink and mid-rehash states.
        for phase in 0..8 {
            let range = [50u64, 3000, 400, 20, 5000, 10, 1500, 2][phase];
            let insert_bias = if phase % 2 == 0 { 70 } else { 30 };
            for step in 0..4000 {
                let k = key(rng.gen_range(0..range));
                let op = rng.gen_range(0..100);
                if op < insert_bias {
                    let v = rng.gen();
                    assert_eq!(d.insert(k.clone(), v), m.insert(k, v));
                } else if op < insert_bias + 15 {
                    assert_eq!(d.remove(&k[..]).map(|(_, v)| v), m.remove(&k));
                } else if op < insert_bias + 20 {
                    let v: u64 = rng.gen();
                    let got = *d.get_or_insert_with(k.clone(), || v);
                    assert_eq!(got, *m.entry(k).or_insert(v));
                } else if op < insert_bias + 24 {
                    if let Some(v) = d.get_mut(&k[..]) {
                        *v = v.wrapping_add(1);
                    }
                    if let Some(v) = m.get_mut(&k) {
                        *v = v.wrapping_add(1);
                    }
                } else if op == 99 && step % 7 == 0 {
                    let r = rng.gen_range(0..4u64);
                    d.retain(|_, v| *v % 4 != r);
                    m.retain(|_, v| *v % 4 != r);
                } else if op == 98 {
                    d.rehash_steps(rng.gen_range(0..5));
                } else {
                    assert_eq!(d.get(&k[..]), m.get(&k));
                }
                assert_eq!(d.len(), m.len());
                if step % 500 == 0 {
                    d.check_invariants();
                }
            }
            d.check_invariants();
            let mut all: Vec<_> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
            let mut want: Vec<_> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
            all.sort();
            want.sort();
            assert_eq!(all, want, "seed {seed} phase {phase}");
        }
    }
}

#[test]
fn positions_follow_appends_and_swap_removes() {
    // `get_index` / `remove_indexed` against a Vec with the documented
    // semantics (append on insert, swap_remove on removal), through
    // growth, shrink and mid-rehash states.
    let mut rng = StdRng::seed_from_u64(11);
    let mut d: Dict<u64, u64> = Dict::new();
    let mut model: Vec<u64> = Vec::new();
    for step in 0..60_000u64 {
        let range = if (step / 10_000) % 2 == 0 { 5000 } else { 300 };
        let k = rand::Rng::gen_range(&mut rng, 0..range);
        if rand::Rng::gen_bool(&mut rng, 0.5) {
            if d.insert(k, step).is_none() {
                model.push(k);
            }
        } else {
            let before = d.len();
            match d.remove_indexed(&k) {
                Some((i, rk, _)) => {
                    assert_eq!(rk, k);
                    assert_eq!(model.swap_remove(i), k);
                    assert_eq!(d.len(), before - 1);
                }
                None => assert!(!model.contains(&k)),
            }
        }
        if step % 1000 == 0 {
            d.check_invariants();
            assert_eq!(d.len(), model.len());
            for (p, k) in model.iter().enumerate() {
                assert_eq!(d.get_index(p).map(|(k, _)| *k), Some(*k));
            }
            assert!(d.get_index(model.len()).is_none());
        }
    }
}

#[test]
fn grows_and_shrinks() {
    let mut d: Dict<u64, u64> = Dict::new();
    for i in 0..10_000 {
        d.insert(i, i);
    }
    while d.rehash_steps(100) {}
    assert_eq!(d.buckets(), 16384);
    for i in 0..9_990 {
        assert!(d.remove(&i).is_some());
    }
    while d.rehash_steps(100) {}
    d.shrink_if_needed();
    while d.rehash_steps(100) {}
    assert!(d.buckets() <= 128, "buckets {}", d.buckets());
    for i in 9_990..10_000 {
        assert_eq!(d.get(&i), Some(&i));
    }
    d.check_invariants();
}

#[test]
fn insert_rehash_work_is_bounded() {
    let mut d: Dict<u64, ()> = Dict::new();
    let mut resizes = 0;
    for i in 0..200_000u64 {
        let before = d.rehash_progress();
        d.insert(i, ());
        let after = d.rehash_progress();
        match (before, after) {
            // One insert moves at most one non-empty bucket plus the
            // bounded run of empty ones before it.
            (Some((a, size_a)), Some((b, size_b))) if size_a == size_b => {
                assert!(b - a <= EMPTY_VISITS_PER_STEP + 1, "moved {}", b - a)
            }
            (Some((a, size)), None) => {
                assert!(size - a <= EMPTY_VISITS_PER_STEP + 1);
                resizes += 1;
            }
            // The insert finished one resize and its own growth started
            // the next one (small tables, where a step covers it all).
            (Some((a, size_a)), Some((0, size_b))) if size_b > size_a => {
                assert!(size_a - a <= EMPTY_VISITS_PER_STEP + 1);
                resizes += 1;
            }
            (None, Some((0, _))) | (None, None) => {}
            other => panic!("unexpected transition {other:?}"),
        }
    }
    assert!(resizes >= 15, "resizes {resizes}");
    // A resize always finishes before the next one is due.
    assert!(d.len() <= 2 * d.buckets());
}

#[test]
fn rehash_for_finishes_with_budget() {
    let mut d: Dict<u64, u64> = Dict::with_capacity(0);
    for i in 0..(1 << 16) {
        d.insert(i, i);
    }
    d.insert(u64::MAX, 0);
    assert!(d.is_rehashing());
    d.rehash_for(Duration::from_secs(5));
    assert!(!d.is_rehashing());
    d.check_invariants();
    assert_eq!(d.rehash_for(Duration::from_millis(1)), 0);
}

/// Runs `rounds` full scans with `mutate` called between scan calls and
/// asserts that every key present throughout a scan was reported. The
/// mutators never re-insert a removed key, so "present throughout" is
/// exactly "present at the start and at the end".
fn scan_with_mutations(
    seed: u64,
    initial: u64,
    rounds: usize,
    mut mutate: impl FnMut(&mut Dict<u64, u64>, &mut StdRng, u64),
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut d: Dict<u64, u64> = Dict::new();
    for i in 0..initial {
        d.insert(i, i);
    }
    let mut saw_rehash_between_calls = false;
    for round in 0..rounds {
        let start: Vec<u64> = d.keys().copied().collect();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut cursor = 0;
        let mut calls = 0u64;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(*k);
            });
            calls += 1;
            if cursor == 0 {
                break;
            }
            mutate(&mut d, &mut rng, calls);
            saw_rehash_between_calls |= d.is_rehashing();
            if calls & 15 == 0 {
                d.check_invariants();
            }
            assert!(calls < 1_000_000, "scan does not terminate");
        }
        d.check_invariants();
        for k in start.iter().filter(|k| d.contains_key(*k)) {
            assert!(
                seen.contains(k),
                "seed {seed} round {round}: key {k} missed"
            );
        }
    }
    assert!(saw_rehash_between_calls, "test never scanned mid-rehash");
}

#[test]
fn scan_mut_visits_what_scan_visits_and_can_write() {
    // Mid-rehash too: both tables are walked the same way.
    let mut d: Dict<u64, u64> = Dict::with_capacity(0);
    for i in 0..(1 << 12) {
        d.insert(i, i);
    }
    d.insert(u64::MAX, 0);
    assert!(d.is_rehashing());
    let (mut c1, mut c2) = (0, 0);
    loop {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let n1 = d.scan(c1, |k, _| a.push(*k));
        let n2 = d.scan_mut(c2, |k, v| {
            b.push(*k);
            *v = v.wrapping_add(1);
        });
        assert_eq!((a, n1), (b, n2));
        (c1, c2) = (n1, n2);
        if c1 == 0 {
            break;
        }
    }
    assert_eq!(d.get(&7), Some(&8));
    assert_eq!(d.get(&u64::MAX), Some(&1));
    d.check_invariants();
}

#[test]
fn scan_complete_without_mutation() {
    let mut d: Dict<u64, u64> = Dict::new();
    for i in 0..1000 {
        d.insert(i, i);
    }
    let mut seen = Vec::new();
    let mut c = 0;
    loop {
        c = d.scan(c, |k, _| seen.push(*k));
        if c == 0 {
            break;
        }
    }
    seen.sort();
    // Stable table: every element exactly once.
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

#[test]
fn scan_guarantee_under_growth() {
    for seed in 0..6 {
        let mut next_key = 1_000_000;
        // Growth is capped so the scan can overtake the table.
        scan_with_mutations(seed, 50, 1, |d, rng, _| {
            for _ in 0..rng.gen_range(0..40) {
                if d.len() < 8000 {
                    d.insert(next_key, 0);
                    next_key += 1;
                }
            }
        });
    }
}

#[test]
fn scan_guarantee_under_shrink() {
    for seed in 0..6 {
        scan_with_mutations(seed, 6000, 2, |d, rng, _| {
            // Remove many keys but keep the low ones (which must be
            // reported) alive; shrinks start while scanning.
            for _ in 0..rng.gen_range(0..200) {
                let k = rng.gen_range(100..6000);
                d.remove(&k);
            }
            if rng.gen_bool(0.1) {
                d.shrink_if_needed();
            }
        });
    }
}

#[test]
fn scan_guarantee_mixed_mid_rehash() {
    for seed in 0..6 {
        let mut next_key = 10_000_000;
        let mut fresh: Vec<u64> = Vec::new();
        scan_with_mutations(seed, 700, 4, |d, rng, calls| {
            // Alternate growth and shrink pressure on keys added during
            // the test; small rehash steps keep the table mid-rehash
            // across many scan calls.
            let grow = (calls / 8) % 2 == 0;
            for _ in 0..rng.gen_range(0..60) {
                if grow && d.len() < 6000 {
                    d.insert(next_key, 0);
                    fresh.push(next_key);
                    next_key += 1;
                } else if !grow && !fresh.is_empty() {
                    let k = fresh.swap_remove(rng.gen_range(0..fresh.len()));
                    d.remove(&k);
                }
            }
            if rng.gen_bool(0.3) {
                d.rehash_steps(rng.gen_range(0..3));
            }
        });
    }
}

#[test]
fn random_entry_is_roughly_uniform() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut d: Dict<u64, ()> = Dict::new();
    for i in 0..100 {
        d.insert(i, ());
    }
    // Leave it mid-rehash and with holes from removals.
    for i in 100..140 {
        d.insert(i, ());
    }
    for i in 0..40 {
        d.remove(&(i * 3));
    }
    let n = d.len() as u64;
    let draws = 200_000u64;
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for _ in 0..draws {
        let (k, _) = d.random_entry(&mut rng).unwrap();
        *counts.entry(*k).or_default() += 1;
    }
    assert_eq!(counts.len() as u64, n);
    let expected = draws as f64 / n as f64;
    let chi2: f64 = counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    // df = n-1 = 99: the 99.9th percentile is about 149.
    assert!(chi2 < 160.0, "chi2 {chi2}");
    let empty: Dict<u64, ()> = Dict::new();
    assert!(empty.random_entry(&mut rng).is_none());
}

#[test]
fn sample_returns_distinct_entries() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut d: Dict<u64, u64> = Dict::new();
    for i in 0..50 {
        d.insert(i, i * 2);
    }
    for _ in 0..100 {
        let s = d.sample(5, &mut rng);
        assert_eq!(s.len(), 5);
        let ks: HashSet<u64> = s
            .iter()
            .map(|(k, v)| {
                assert_eq!(**v, **k * 2);
                **k
            })
            .collect();
        assert_eq!(ks.len(), 5);
    }
    assert_eq!(d.sample(500, &mut rng).len(), 50);
}

#[test]
fn mem_usage_tracks_size() {
    let mut d: Dict<u64, u64> = Dict::new();
    let empty = d.mem_usage();
    for i in 0..10_000 {
        d.insert(i, i);
    }
    let full = d.mem_usage();
    assert!(full >= empty + 10_000 * (16 + 8));
    d.clear();
    assert_eq!(d.mem_usage(), empty);
}

#[test]
fn iter_mut_and_debug() {
    let mut d: Dict<u64, u64> = Dict::with_capacity(10);
    assert_eq!(d.buckets(), 16);
    d.insert(1, 1);
    for (_, v) in d.iter_mut() {
        *v += 1;
    }
    assert_eq!(d.get(&1), Some(&2));
    assert_eq!(format!("{d:?}"), "{1: 2}");
    assert_eq!((&d).into_iter().count(), 1);
    assert_eq!(d.values().copied().sum::<u64>(), 2);
}
