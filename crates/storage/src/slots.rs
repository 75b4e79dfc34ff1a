//! Keys per cluster hash slot (cluster mode): counted and iterable, so
//! `CLUSTER COUNTKEYSINSLOT` is O(1), `CLUSTER GETKEYSINSLOT` and slot
//! migration visit only the keys of one slot, and `CLUSTER SLOT-STATS`
//! reads counts directly.
//!
//! The index is off unless the database is given the slot function
//! ([`crate::Db::enable_slot_index`]), which the storage crate does not
//! know: the cluster crate owns it (CRC16 of the key or its hash tag).
//! The database keeps the index in step at every insertion and removal.
//!
//! # Layout
//!
//! ```text
//! heads:  [u32; 16384]   first entry of each slot's list (NIL: empty)
//! counts: [u32; 16384]   keys per slot
//! links:  SegVec<{prev: u32, next: u32}>   one per main-table entry,
//!                                          indexed by the entry's position
//! ```
//!
//! Like upstream 7.0 (which threads prev/next pointers through its
//! dictEntry metadata), each slot's keys form a doubly linked list
//! threaded through the main table's entries; here the links are 32-bit
//! entry *positions* ([`crate::dict::Dict::get_index`]) kept in a
//! parallel array, so the table itself is unchanged (and costs nothing
//! extra) when the index is off. `links[p]` belongs to the entry at
//! position `p`, so `links.len()` always equals the table's length:
//!
//! - an insertion appends the entry at the table's end: its links are
//!   pushed and it becomes its slot's head;
//! - a removal unlinks the entry, then mirrors the table's `swap_remove`:
//!   the last entry's links move into the freed position and its two
//!   neighbours (or its slot's head) are re-pointed at it;
//! - resizing and rehashing never move entries; flushing clears it all.
//!
//! So adding, removing and counting are O(1) and listing a slot's keys
//! walks only that slot. The cost is 8 bytes per key (the links, in
//! never-moving 8 KiB segments) plus 128 KiB of heads and counts:
//! measured by `cargo xtask bench cluster` (`used_memory` growth of
//! `DEBUG POPULATE 1000000`, cluster node minus standalone) at 8.0 bytes
//! per key, against 16 for upstream and 51 for the hash set of key clones
//! per slot this replaced.

use crate::db::Entry;
use crate::dict::Dict;
use crate::key::Key;
use crate::segvec::SegVec;

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// The key → slot function (`CRC16(key or hash tag) % 16384`).
pub type SlotFn = fn(&[u8]) -> u16;

/// "No entry" in a head or link (positions are below `u32::MAX`, see
/// [`crate::dict::MAX_ENTRIES`]).
const NIL: u32 = u32::MAX;

/// The neighbours of one entry in its slot's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Links {
    prev: u32,
    next: u32,
}

/// The per-slot lists of a database's main table (see the module docs).
pub(crate) struct SlotLists {
    slot_of: SlotFn,
    heads: Box<[u32]>,
    counts: Box<[u32]>,
    /// `links[p]`: the entry at table position `p`.
    links: SegVec<Links>,
}

impl std::fmt::Debug for SlotLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotLists")
            .field("keys", &self.links.len())
            .finish()
    }
}

/// Position as stored in a link (callers keep positions below
/// [`crate::dict::MAX_ENTRIES`]).
#[inline]
fn pos(p: usize) -> u32 {
    p as u32
}

impl SlotLists {
    /// Empty lists using `slot_of`.
    pub(crate) fn new(slot_of: SlotFn) -> SlotLists {
        SlotLists {
            slot_of,
            heads: vec![NIL; SLOTS].into_boxed_slice(),
            counts: vec![0; SLOTS].into_boxed_slice(),
            links: SegVec::new(),
        }
    }

    /// The slot of `key`.
    #[inline]
    pub(crate) fn slot_of(&self, key: &[u8]) -> usize {
        usize::from((self.slot_of)(key)) % SLOTS
    }

    /// Number of entries indexed (the table length it is in step with).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.links.len()
    }

    /// Indexes `key`, the entry just appended at position `len()`.
    pub(crate) fn push(&mut self, key: &[u8]) {
        let slot = self.slot_of(key);
        let p = pos(self.links.len());
        let head = self.heads[slot];
        if let Some(h) = self.links.get_mut(head as usize) {
            h.prev = p;
        }
        self.links.push(Links {
            prev: NIL,
            next: head,
        });
        self.heads[slot] = p;
        self.counts[slot] += 1;
    }

    /// Forgets `key`, removed from position `i`; `moved` is the key the
    /// table moved from its last position into `i` (none when `i` was
    /// the last position).
    pub(crate) fn remove(&mut self, i: usize, key: &[u8], moved: Option<&[u8]>) {
        let slot = self.slot_of(key);
        let Some(&Links { prev, next }) = self.links.get(i) else {
            debug_assert!(false, "slot index: position {i} out of range");
            return;
        };
        // Unlink `i` (NIL is out of range of `links`: no neighbour).
        match self.links.get_mut(prev as usize) {
            Some(l) => l.next = next,
            None => self.heads[slot] = next,
        }
        if let Some(l) = self.links.get_mut(next as usize) {
            l.prev = prev;
        }
        self.counts[slot] -= 1;
        // Mirror the table's swap_remove; nothing links to `i` any more.
        self.links.swap_remove(i);
        let Some(&Links { prev, next }) = self.links.get(i) else {
            return;
        };
        // The last entry moved to `i`: re-point its neighbours.
        let to = pos(i);
        match self.links.get_mut(prev as usize) {
            Some(l) => l.next = to,
            None => {
                let moved_slot = moved.map_or(usize::MAX, |k| self.slot_of(k));
                debug_assert_eq!(
                    self.heads.get(moved_slot).copied(),
                    Some(pos(self.links.len()))
                );
                if let Some(h) = self.heads.get_mut(moved_slot) {
                    *h = to;
                }
            }
        }
        if let Some(l) = self.links.get_mut(next as usize) {
            l.prev = to;
        }
    }

    /// Forgets every key.
    pub(crate) fn clear(&mut self) {
        self.heads.fill(NIL);
        self.counts.fill(0);
        self.links.clear();
    }
}

/// The keys-per-slot index of a database, as [`crate::Db::slot_index`]
/// lends it: the per-slot lists with the table whose positions they hold.
#[derive(Clone, Copy)]
pub struct SlotIndex<'a> {
    lists: &'a SlotLists,
    map: &'a Dict<Key, Entry>,
}

impl std::fmt::Debug for SlotIndex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotIndex")
            .field("keys", &self.lists.len())
            .finish()
    }
}

impl<'a> SlotIndex<'a> {
    pub(crate) fn new(lists: &'a SlotLists, map: &'a Dict<Key, Entry>) -> SlotIndex<'a> {
        SlotIndex { lists, map }
    }

    /// The slot of `key`.
    pub fn slot_of(&self, key: &[u8]) -> u16 {
        // Below SLOTS, so it fits.
        self.lists.slot_of(key) as u16
    }

    /// Keys in `slot` (0 for a slot out of range).
    pub fn count(&self, slot: u16) -> usize {
        self.lists
            .counts
            .get(usize::from(slot))
            .map_or(0, |&n| n as usize)
    }

    /// Up to `max` keys of `slot`, most recently inserted first.
    pub fn keys(&self, slot: u16, max: usize) -> Vec<Key> {
        let n = self.count(slot).min(max);
        let mut out = Vec::with_capacity(n);
        let mut p = self
            .lists
            .heads
            .get(usize::from(slot))
            .copied()
            .unwrap_or(NIL);
        // Bounded by the count whatever the links say.
        while out.len() < n {
            let (Some((k, _)), Some(l)) = (
                self.map.get_index(p as usize),
                self.lists.links.get(p as usize),
            ) else {
                break;
            };
            out.push(k.clone());
            p = l.next;
        }
        out
    }

    /// Total keys indexed (the sum of the slots' counts).
    pub fn total(&self) -> usize {
        self.lists.counts.iter().map(|&n| n as usize).sum()
    }
}

#[cfg(test)]
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::db::{Db, Entry};
    use crate::key::Key;
    use crate::lazyfree::LazyFree;
    use crate::string::StrValue;
    use crate::value::Value;

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
}
