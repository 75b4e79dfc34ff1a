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
#[path = "slots_tests.rs"]
mod tests;
