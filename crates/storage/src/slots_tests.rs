//! Unit tests of `slots.rs` (kept apart so the module holds only
//! library code).

use bytes::Bytes;

use super::{SlotIndex, NIL, SLOTS};
use crate::db::{Db, Entry};
use crate::key::Key;
use crate::lazyfree::LazyFree;
use crate::string::StrValue;
use crate::value::Value;

impl SlotIndex<'_> {
    /// Checks the lists against a recount of the table: every entry is in
    /// exactly one list, its key's slot's; both link directions agree;
    /// every count and head is right; `keys` returns the recounted set.
    pub(crate) fn check_against_table(&self) {
        let l = self.lists;
        assert_eq!(l.links.len(), self.map.len(), "links out of step");
        let mut want: Vec<Vec<Key>> = vec![Vec::new(); SLOTS];
        for (k, _) in self.map.iter() {
            want[l.slot_of(k)].push(k.clone());
        }
        let mut seen = vec![false; self.map.len()];
        for (slot, want) in want.iter_mut().enumerate() {
            let (mut p, mut prev, mut n) = (l.heads[slot], NIL, 0usize);
            while p != NIL {
                let i = p as usize;
                assert!(i < seen.len(), "slot {slot}: link {p} out of range");
                assert!(!seen[i], "position {i} linked twice");
                seen[i] = true;
                let links = l.links[i];
                assert_eq!(links.prev, prev, "slot {slot}: bad prev at {i}");
                let (k, _) = self.map.get_index(i).unwrap();
                assert_eq!(l.slot_of(k), slot, "key in the wrong slot's list");
                n += 1;
                prev = p;
                p = links.next;
            }
            assert_eq!(n, want.len(), "slot {slot}: list length");
            assert_eq!(self.count(slot as u16), want.len(), "slot {slot}");
            if !want.is_empty() {
                let mut got = self.keys(slot as u16, usize::MAX);
                got.sort_by(|x, y| x.as_ref().cmp(y.as_ref()));
                want.sort_by(|x, y| x.as_ref().cmp(y.as_ref()));
                assert_eq!(&got, want, "slot {slot}: keys");
                let some = self.keys(slot as u16, want.len().div_ceil(2));
                assert_eq!(some.len(), want.len().div_ceil(2));
            }
        }
        assert!(seen.iter().all(|s| *s), "an entry is in no list");
        assert_eq!(self.total(), self.map.len());
    }
}

/// A stand-in slot function: the first byte (the real one lives in
/// the cluster crate).
fn first_byte(k: &[u8]) -> u16 {
    k.first().map_or(0, |b| u16::from(*b))
}

fn val(s: &str) -> Value {
    Value::Str(StrValue::from_request(&Bytes::copy_from_slice(
        s.as_bytes(),
    )))
}

/// A slot function spreading keys over all the slots (FNV-1a).
fn spread(k: &[u8]) -> u16 {
    let h = k.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    (h % super::SLOTS as u32) as u16
}

/// Every count, list and key set equals a recount of the main table.
fn check(db: &Db) {
    db.slot_index().unwrap().check_against_table();
}

#[test]
fn follows_every_insertion_and_removal() {
    let mut db = Db::default();
    db.set(b"a1", val("x"), false, 0);
    db.enable_slot_index(first_byte);
    check(&db);
    db.set(b"a2", val("x"), false, 0);
    db.set(b"a2", val("y"), false, 0);
    db.set(b"b1", val("x"), false, 0);
    db.insert_entry(Key::new(b"c1"), Entry::new(val("z"), 0), Some(i64::MAX));
    db.insert_entries(vec![
        (Key::new(b"d1"), Entry::new(val("z"), 0), None),
        (Key::new(b"d2"), Entry::new(val("z"), 0), None),
    ]);
    check(&db);
    assert_eq!(db.slot_index().unwrap().count(u16::from(b'a')), 2);
    let mut keys = db.slot_index().unwrap().keys(u16::from(b'd'), 10);
    keys.sort_by(|x, y| x.as_ref().cmp(y.as_ref()));
    assert_eq!(keys, vec![Key::new(b"d1"), Key::new(b"d2")]);
    assert_eq!(db.slot_index().unwrap().keys(u16::from(b'd'), 1).len(), 1);
    assert!(db.delete(b"a1"));
    assert!(db.remove(b"d1").is_some());
    assert!(db.remove(b"nope").is_none());
    check(&db);
    db.clear();
    check(&db);
    db.set(b"e1", val("x"), false, 0);
    let lf = LazyFree::new();
    db.clear_lazy(&lf);
    check(&db);
    assert_eq!(db.slot_index().unwrap().count(u16::MAX), 0);
}

#[test]
fn keys_of_a_slot_are_listed_up_to_max_and_out_of_range_is_empty() {
    let mut db = Db::default();
    db.enable_slot_index(first_byte);
    for i in 0..100 {
        db.set(format!("x{i}").as_bytes(), val("v"), false, 0);
    }
    let ix = db.slot_index().unwrap();
    assert_eq!(ix.count(u16::from(b'x')), 100);
    assert_eq!(ix.keys(u16::from(b'x'), 0).len(), 0);
    assert_eq!(ix.keys(u16::from(b'x'), 7).len(), 7);
    assert_eq!(ix.keys(u16::from(b'x'), 1000).len(), 100);
    assert!(ix.keys(u16::from(b'y'), 10).is_empty());
    assert!(ix.keys(u16::MAX, 10).is_empty());
    assert_eq!(ix.count(u16::MAX), 0);
    assert_eq!(ix.slot_of(b"x1"), u16::from(b'x'));
    assert!(format!("{ix:?}").contains("100"));
}

/// Random writes through every path that adds or removes keys, with
/// many keys in few slots (long lists) or spread over all slots, and
/// running snapshots; after each batch every slot is recounted.
#[test]
fn random_writes_keep_every_slot_in_step() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use crate::keyspace::{ExpireCycle, Keyspace};

    for (seed, slot_of) in [(1u64, first_byte as super::SlotFn), (2, spread)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut ks = Keyspace::new(1);
        let key = |rng: &mut StdRng, range: u64| -> Vec<u8> {
            let n = rng.gen_range(0..range);
            format!("{}{n}", char::from(b'a' + (n % 7) as u8)).into_bytes()
        };
        // Some keys before the index goes on.
        for _ in 0..500 {
            let k = key(&mut rng, 2000);
            ks.dbs[0].set(&k, val("pre"), false, 0);
        }
        ks.enable_slot_index(slot_of);
        check(&ks.dbs[0]);
        let mut now = 1_000i64;
        let (mut most, mut cow) = (0, 0);
        for round in 0..60 {
            // Key range and mix drift: growth, shrink, churn.
            let range = [3000u64, 300, 6000, 40][round % 4];
            let grow = round % 3 != 1;
            for _ in 0..1500 {
                let k = key(&mut rng, range);
                let db = &mut ks.dbs[0];
                match rng.gen_range(0..100) {
                    0..=29 if grow => db.set(&k, val("s"), rng.gen_bool(0.3), 0),
                    0..=9 => db.set(&k, val("s"), false, 0),
                    30..=39 => {
                        let exp = rng.gen_bool(0.5).then(|| now + rng.gen_range(-5..50));
                        db.insert_entry(Key::new(&k), Entry::new(val("r"), 0), exp);
                    }
                    40..=44 => {
                        // RENAME: remove the source, insert the target.
                        let dst = key(&mut rng, range);
                        if let Some((_, e, exp)) = db.remove(&k) {
                            db.insert_entry(Key::new(&dst), e, exp);
                        }
                    }
                    45..=47 => {
                        let batch = (0..rng.gen_range(0..40))
                            .map(|_| {
                                let k = key(&mut rng, range);
                                (Key::new(&k), Entry::new(val("b"), 0), None)
                            })
                            .collect();
                        db.insert_entries(batch);
                    }
                    48..=59 => {
                        if db.contains(&k) {
                            db.set_expire(&k, now + rng.gen_range(-5..50));
                        }
                    }
                    60..=61 => {
                        db.persist(&k);
                    }
                    62..=79 => {
                        db.delete(&k);
                    }
                    80..=84 => {
                        ks.delete(0, &k, rng.gen_bool(0.5));
                    }
                    85..=92 => {
                        ks.expire_if_needed(0, &k, now);
                    }
                    93..=94 => {
                        if let Some(e) = db.get_mut(&k) {
                            e.value = val("m");
                        }
                    }
                    _ => db.rehash_step(std::time::Duration::from_micros(50)),
                }
                now += 1;
            }
            let cycle = ExpireCycle {
                per_sample: 20,
                acceptable_stale_percent: 10,
                time_limit: std::time::Duration::from_millis(5),
            };
            ks.active_expire_cycle(now, &cycle, &mut rng);
            check(&ks.dbs[0]);
            let db = &mut ks.dbs[0];
            most = most.max(db.len());
            cow += db.cow.len();
            match round % 10 {
                // A snapshot starts: writes now go through the
                // copy-on-write paths; a few steps save entries.
                3 => {
                    db.snap_epoch = round as u32 + 1;
                    db.snapshot_step(0, 100, |_, _, _| {});
                }
                5 => {
                    let _ = db.take_preimages();
                    db.snap_epoch = 0;
                }
                // Flushes, with and without a running snapshot.
                7 => {
                    db.snap_epoch = if round % 20 == 7 { 99 } else { 0 };
                    db.clear();
                    check(db);
                    db.snap_epoch = 0;
                    let _ = db.take_preimages();
                }
                9 if round % 20 == 9 => {
                    let lf = LazyFree::new();
                    db.snap_epoch = 100;
                    db.clear_lazy(&lf);
                    db.snap_epoch = 0;
                    let _ = db.take_preimages();
                }
                9 => {
                    ks.flush_db(0, true);
                }
                _ => {}
            }
            check(&ks.dbs[0]);
        }
        // The run went through big tables, expiries and snapshot
        // copies, not just a handful of keys.
        assert!(most > 2000, "largest table {most}");
        assert!(ks.expired_keys > 100, "expired {}", ks.expired_keys);
        assert!(cow > 100, "copied {cow}");
    }
}

/// Removing each position of a slot's list (head, middle, tail) and
/// the table's last entry, whose move must re-point its neighbours and
/// possibly its slot's head, in every combination of a small table.
#[test]
fn every_removal_order_of_a_small_table() {
    let keys: Vec<Vec<u8>> = ["a1", "a2", "b1", "a3", "b2", "c1"]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
    // Every permutation of removals (720) of the six keys.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let mut perms = Vec::new();
    permute(&mut order, 0, &mut perms);
    assert_eq!(perms.len(), 720);
    for perm in perms {
        let mut db = Db::default();
        db.enable_slot_index(first_byte);
        for k in &keys {
            db.set(k, val("x"), false, 0);
        }
        check(&db);
        for &i in &perm {
            assert!(db.delete(&keys[i]));
            check(&db);
        }
        assert!(db.is_empty());
    }
}

fn permute(v: &mut Vec<usize>, k: usize, out: &mut Vec<Vec<usize>>) {
    if k == v.len() {
        out.push(v.clone());
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, out);
        v.swap(k, i);
    }
}
