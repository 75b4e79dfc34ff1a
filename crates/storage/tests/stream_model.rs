//! Property test: a stream driven by random appends, deletions, exact and
//! approximate trims and range reads, compared after every step with a
//! `BTreeMap` model. Small node limits make entries span many nodes, so
//! node splits, tombstones and whole-node removal are all exercised.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis_storage::stream::{NodeLimits, StreamId, StreamValue, TrimStrategy};

type Model = BTreeMap<StreamId, Vec<(Bytes, Bytes)>>;

/// Every live entry between `start` and `end`, ascending or descending.
fn read(s: &StreamValue, start: StreamId, end: StreamId, rev: bool) -> Model {
    let mut out = Model::new();
    let mut last: Option<StreamId> = None;
    s.for_each(start, end, rev, |e| {
        if let Some(prev) = last {
            assert!(
                if rev { e.id < prev } else { e.id > prev },
                "for_each out of order: {:?} after {prev:?}",
                e.id
            );
        }
        last = Some(e.id);
        out.insert(e.id, e.to_pairs());
        true
    });
    out
}

fn random_id(rng: &mut StdRng, model: &Model, last: StreamId) -> StreamId {
    let ids: Vec<StreamId> = model.keys().copied().collect();
    if !ids.is_empty() && rng.gen_bool(0.7) {
        ids[rng.gen_range(0..ids.len())]
    } else {
        StreamId::new(rng.gen_range(0..=last.ms + 2), rng.gen_range(0..4))
    }
}

#[test]
fn stream_matches_model() {
    for seed in 0..30u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let lim = NodeLimits {
            max_bytes: rng.gen_range(40..400),
            max_entries: rng.gen_range(1..8),
        };
        let mut s = StreamValue::new();
        let mut model = Model::new();
        let mut last = StreamId::MIN;
        let mut max_deleted = StreamId::MIN;
        let mut added = 0u64;
        for step in 0..300 {
            let ctx = format!("seed {seed} step {step}");
            match rng.gen_range(0..10) {
                0..=4 => {
                    let id = if rng.gen_bool(0.5) {
                        StreamId::new(last.ms, last.seq + 1)
                    } else {
                        StreamId::new(last.ms + rng.gen_range(1..5), rng.gen_range(0..3))
                    };
                    let n = rng.gen_range(1..4);
                    let mut flat = Vec::new();
                    let mut pairs = Vec::new();
                    for i in 0..n {
                        let f = Bytes::from(format!("f{i}"));
                        let v = Bytes::from(vec![b'v'; rng.gen_range(0..20)]);
                        flat.push(f.clone());
                        flat.push(v.clone());
                        pairs.push((f, v));
                    }
                    s.append(id, &flat, lim);
                    model.insert(id, pairs);
                    last = id;
                    added += 1;
                }
                5..=6 => {
                    let ids: Vec<StreamId> = (0..rng.gen_range(1..4))
                        .map(|_| random_id(&mut rng, &model, last))
                        .collect();
                    let mut want = 0;
                    for id in &ids {
                        if model.remove(id).is_some() {
                            want += 1;
                            max_deleted = max_deleted.max(*id);
                        }
                    }
                    assert_eq!(s.delete_ids(&ids), want, "{ctx}: XDEL count");
                    // XINFO's max-deleted-entry-id covers every XDEL.
                    assert!(s.max_deleted_id() >= max_deleted, "{ctx}: max deleted id");
                }
                7 => {
                    let approx = rng.gen_bool(0.4);
                    let strategy = if rng.gen_bool(0.5) {
                        TrimStrategy::MaxLen(rng.gen_range(0..model.len() as u64 + 3))
                    } else {
                        TrimStrategy::MinId(random_id(&mut rng, &model, last))
                    };
                    let before = model.len() as u64;
                    let removed = s.trim(strategy, approx, 0);
                    // Exact trims remove exactly what the strategy selects;
                    // approximate ones at most that, always oldest first.
                    let selected: Vec<StreamId> = match strategy {
                        TrimStrategy::MaxLen(max) => model
                            .keys()
                            .take(model.len().saturating_sub(max as usize))
                            .copied()
                            .collect(),
                        TrimStrategy::MinId(min) => model.range(..min).map(|(k, _)| *k).collect(),
                    };
                    if approx {
                        assert!(
                            removed <= selected.len() as u64,
                            "{ctx}: approx trim removed too many"
                        );
                    } else {
                        assert_eq!(removed, selected.len() as u64, "{ctx}: exact trim");
                    }
                    for id in selected.iter().take(removed as usize) {
                        model.remove(id);
                    }
                    assert_eq!(before - removed, model.len() as u64, "{ctx}");
                }
                _ => {
                    let a = random_id(&mut rng, &model, last);
                    let b = random_id(&mut rng, &model, last);
                    let (start, end) = if a <= b { (a, b) } else { (b, a) };
                    let rev = rng.gen_bool(0.5);
                    let want: Model = model
                        .range(start..=end)
                        .map(|(k, v)| (*k, v.clone()))
                        .collect();
                    assert_eq!(
                        read(&s, start, end, rev),
                        want,
                        "{ctx}: range {start:?}..{end:?}"
                    );
                    for id in [start, end] {
                        assert_eq!(
                            s.get(id).map(|e| e.to_pairs()),
                            model.get(&id).cloned(),
                            "{ctx}: get {id:?}"
                        );
                    }
                }
            }
            assert_eq!(s.len(), model.len(), "{ctx}: XLEN");
            assert_eq!(s.last_id(), last, "{ctx}: last id");
            assert_eq!(s.entries_added(), added, "{ctx}: entries added");
            assert_eq!(
                s.first_id(),
                model.keys().next().copied().unwrap_or(StreamId::MIN),
                "{ctx}: first id"
            );
            assert_eq!(
                s.last_valid_id(),
                model.keys().next_back().copied().unwrap_or(StreamId::MIN),
                "{ctx}: last valid id"
            );
            if step % 25 == 0 {
                assert_eq!(
                    read(&s, StreamId::MIN, StreamId::MAX, false),
                    model,
                    "{ctx}: full"
                );
            }
        }
    }
}
