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
//! Each slot holds a hash set of its keys (a clone of the key: short keys
//! are inline, so most clones allocate nothing). That costs more per key
//! than upstream's 16 bytes of list links in the main table's entries; a
//! tighter layout is a later optimisation, measured by the cluster bench.

use std::collections::HashSet;

use crate::key::Key;

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// The key → slot function (`CRC16(key or hash tag) % 16384`).
pub type SlotFn = fn(&[u8]) -> u16;

/// The keys of each slot.
pub struct SlotIndex {
    slot_of: SlotFn,
    keys: Vec<HashSet<Key>>,
}

impl std::fmt::Debug for SlotIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotIndex")
            .field("keys", &self.keys.iter().map(HashSet::len).sum::<usize>())
            .finish()
    }
}

impl SlotIndex {
    /// An empty index using `slot_of`.
    pub fn new(slot_of: SlotFn) -> SlotIndex {
        SlotIndex {
            slot_of,
            keys: (0..SLOTS).map(|_| HashSet::new()).collect(),
        }
    }

    /// The slot of `key`.
    pub fn slot_of(&self, key: &[u8]) -> u16 {
        (self.slot_of)(key) % SLOTS as u16
    }

    /// Records `key` (no-op when already there).
    pub(crate) fn add(&mut self, key: &Key) {
        let slot = usize::from(self.slot_of(key));
        if let Some(set) = self.keys.get_mut(slot) {
            if !set.contains::<[u8]>(key) {
                set.insert(key.clone());
            }
        }
    }

    /// Forgets `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        let slot = usize::from(self.slot_of(key));
        if let Some(set) = self.keys.get_mut(slot) {
            set.remove(key);
        }
    }

    /// Forgets every key.
    pub(crate) fn clear(&mut self) {
        for set in &mut self.keys {
            *set = HashSet::new();
        }
    }

    /// Keys in `slot` (0 for a slot out of range).
    pub fn count(&self, slot: u16) -> usize {
        self.keys.get(usize::from(slot)).map_or(0, HashSet::len)
    }

    /// Up to `max` keys of `slot`, in no particular order.
    pub fn keys(&self, slot: u16, max: usize) -> Vec<Key> {
        self.keys
            .get(usize::from(slot))
            .map(|s| s.iter().take(max).cloned().collect())
            .unwrap_or_default()
    }

    /// Total keys indexed.
    pub fn total(&self) -> usize {
        self.keys.iter().map(HashSet::len).sum()
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

    /// Every count equals a recount of the main table.
    fn check(db: &Db) {
        let ix = db.slot_index().unwrap();
        let mut want = vec![0usize; super::SLOTS];
        for (k, _) in db.iter() {
            want[usize::from(first_byte(k))] += 1;
        }
        for (slot, n) in want.iter().enumerate() {
            assert_eq!(ix.count(slot as u16), *n, "slot {slot}");
        }
        assert_eq!(ix.total(), db.len());
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
}
