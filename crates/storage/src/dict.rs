//! `Dict`: the keyspace hash table, with incremental rehashing and a
//! reverse-binary `SCAN` cursor.
//!
//! # Memory layout
//!
//! ```text
//! entries: SegVec<Entry>   dense, insertion-ordered until removals swap
//!   [ key | value | hash: u32 | next: u32 ] [ ... ] [ ... ]
//!
//! main:  Vec<u32>   2^n bucket heads  (the table lookups normally use)
//! next:  Vec<u32>   2^m bucket heads  (only allocated while resizing)
//! ```
//!
//! A bucket head and an entry's `next` hold a *link*: `0` means "none" and
//! `i + 1` means `entries[i]`. Chains are therefore threaded through the
//! dense entry vector by 32-bit indices instead of pointers to separately
//! boxed nodes: no allocation per entry beyond the amortised growth of the
//! vector, 4-byte buckets instead of 8, and 8 bytes of per-entry overhead
//! (the low 32 bits of the key's hash plus the chain link). With the
//! default load factor of at most 1 that is ~12–16 bytes of table overhead
//! per key, versus 32 for a pointer-chained design. Because the "empty"
//! link is zero, fresh bucket arrays come from zeroed allocations, which
//! the allocator hands out lazily (no O(n) initialisation pass when a big
//! table doubles).
//!
//! The dense array is a [`SegVec`]: fixed-size segments instead of one
//! `Vec`, so a big table never copies all its entries to grow and never
//! hands a block of its own size back to the allocator (see `segvec.rs`).
//!
//! Removal uses `swap_remove` on the entry vector, so the last entry moves
//! into the hole; the single link pointing at it is patched by walking its
//! (short) chain, found again through its cached hash.
//!
//! Entry positions are visible ([`Dict::get_index`],
//! [`Dict::remove_indexed`]) so that a side structure can refer to entries
//! by 32-bit position: an insertion appends at `len()`, a removal moves
//! the last entry into the freed position, nothing else moves an entry.
//! The cluster keys-per-slot index (`slots.rs`) is built that way.
//!
//! # Incremental rehashing
//!
//! When `len` reaches the bucket count (load factor 1) the table starts
//! growing to the next power of two; when fewer than 10% of the buckets are
//! in use after a removal (or on [`Dict::shrink_if_needed`]) it starts
//! shrinking. A resize allocates `next` and then moves `main`'s buckets one
//! at a time, in index order, from `rehash_idx` upwards: every mutating
//! call (`insert`, `remove`, `get_mut`, `get_or_insert_with`) moves one
//! non-empty bucket, skipping at most [`EMPTY_VISITS_PER_STEP`] empty ones,
//! and the server cron can call [`Dict::rehash_for`] / [`Dict::rehash_steps`]
//! to finish faster. Each insert moves at least one bucket, and growth only
//! starts once the previous resize has finished, so a resize always
//! completes before the next one is due. `get(&self)` cannot move buckets
//! (it borrows immutably); reads are still one probe, see below.
//!
//! Every entry lives in its *home* bucket: if `b = hash & (main.len()-1)`
//! is below `rehash_idx` that bucket has been moved and the entry is in
//! `next[hash & (next.len()-1)]`, otherwise it is in `main[b]`. New keys
//! are inserted at their home too (unlike a design that always inserts into
//! the new table), so a lookup is always one hash, one bucket and one chain
//! walk, even in the middle of a resize.
//!
//! # SCAN
//!
//! [`Dict::scan`] uses the reverse-binary cursor: the cursor's bits are
//! incremented from the most significant bucket bit downwards, so the set of
//! buckets already visited in a table of size 2^n is closed under doubling
//! and halving the table. During a resize it visits the cursor's bucket in
//! the smaller table and every bucket of the larger table that expands it.
//! Consequently an element present from the first call (cursor 0) until the
//! cursor returns to 0 is reported at least once whatever resizes happen in
//! between; elements may be reported more than once when the table shrinks.
//!
//! # Limits
//!
//! Links are 32-bit, so a `Dict` holds at most [`MAX_ENTRIES`]
//! (2^32 − 2) entries; reaching that would need well over 100 GiB of
//! entries, and inserting beyond it panics like `Vec` does on capacity
//! overflow.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::mem;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::segvec::{self, SegVec};

/// Link value meaning "no entry" (chain end / empty bucket).
const NIL: u32 = 0;
/// Bucket count of a table's first allocation.
const INITIAL_BUCKETS: usize = 4;
/// Shrink when fewer than this percentage of the buckets would be used.
const MIN_FILL_PERCENT: usize = 10;
/// Empty buckets a rehash step may skip before giving up, per bucket moved,
/// so a step over a sparse table stays bounded.
pub const EMPTY_VISITS_PER_STEP: usize = 10;
/// Largest bucket count: the cached hash has 32 bits, so more buckets
/// could not be addressed anyway.
const MAX_BUCKETS: usize = 1 << 31;
/// Largest number of entries (links are `index + 1` in a `u32`).
pub const MAX_ENTRIES: usize = (u32::MAX - 1) as usize;
/// Buckets moved per cron step between clock checks in `rehash_for`.
const CRON_BATCH: usize = 100;

#[derive(Clone)]
struct Entry<K, V> {
    key: K,
    value: V,
    /// Low 32 bits of the key's hash: saves rehashing keys when buckets
    /// move and rejects most non-matching chain members without touching
    /// the key's heap data.
    hash: u32,
    /// Link to the next entry of the same bucket.
    next: u32,
}

/// Which bucket array a bucket index refers to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Table {
    Main,
    Next,
}

/// A location holding a link: a bucket head or an entry's `next` field.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Head(Table, usize),
    Next(usize),
}

#[inline]
fn link_of(index: usize) -> u32 {
    // Callers keep `index < MAX_ENTRIES`, so `index + 1` fits in a u32.
    (index as u32).wrapping_add(1)
}

#[inline]
fn index_of(link: u32) -> usize {
    (link as usize).wrapping_sub(1)
}

/// Bytes the keyspace tables may still take to grow: `maxmemory` less the
/// memory counted against it, as the engine sets it before each command;
/// `u64::MAX` without `maxmemory`. Like upstream 7.0, a keyspace table
/// does not double when the new bucket array would take the server over
/// `maxmemory` (the doubling would only force evictions), unless it is
/// overfull (more than 1.618 entries per bucket). One keyspace per process.
static KEYSPACE_GROW_BUDGET: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(u64::MAX);

/// Sets the bytes keyspace tables may take to grow (see above).
pub fn set_keyspace_grow_budget(bytes: u64) {
    KEYSPACE_GROW_BUDGET.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// Chained hash table with incremental rehashing; see the module docs.
#[derive(Clone)]
pub struct Dict<K, V, S = RandomState> {
    entries: SegVec<Entry<K, V>>,
    main: Vec<u32>,
    /// Destination table of an ongoing resize; empty when not resizing.
    next: Vec<u32>,
    /// First bucket of `main` not yet moved to `next` (0 when idle).
    rehash_idx: usize,
    /// A keyspace table: growth respects the keyspace budget.
    budgeted: bool,
    hasher: S,
}

impl<K, V> Dict<K, V, RandomState> {
    /// An empty table; nothing is allocated until the first insert.
    pub fn new() -> Self {
        Self::with_hasher(RandomState::new())
    }

    /// A table sized so that `capacity` entries fit without resizing.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, V, S: Default> Default for Dict<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S> Dict<K, V, S> {
    /// An empty table using `hasher`.
    pub fn with_hasher(hasher: S) -> Self {
        Dict {
            entries: SegVec::new(),
            main: Vec::new(),
            next: Vec::new(),
            rehash_idx: 0,
            budgeted: false,
            hasher,
        }
    }

    /// A table with room for `capacity` entries at load factor 1.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        let capacity = capacity.min(MAX_ENTRIES);
        let mut d = Self::with_hasher(hasher);
        if capacity > 0 {
            d.main = vec![NIL; bucket_count_for(capacity)];
            d.entries = SegVec::with_capacity(capacity);
        }
        d
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bucket count of the main table (the size `SCAN` cursors refer to
    /// when not resizing).
    pub fn buckets(&self) -> usize {
        self.main.len()
    }

    /// Upstream's `DEBUG HTSTATS` text for this table: bucket count,
    /// entries, used buckets, chain lengths and their distribution, for
    /// the main table and, while resizing, the target table.
    pub fn stats_text(&self) -> String {
        let mut out = String::new();
        self.table_stats(&mut out, 0, &self.main);
        if self.is_rehashing() {
            self.table_stats(&mut out, 1, &self.next);
        }
        out
    }

    fn table_stats(&self, out: &mut String, id: usize, table: &[u32]) {
        use std::fmt::Write as _;
        // Chains of 49 or more share upstream's last (unprinted) slot.
        const VECTLEN: usize = 50;
        let name = if id == 0 {
            "main hash table"
        } else {
            "rehashing target"
        };
        let mut lengths = [0usize; VECTLEN];
        let (mut slots, mut max_chain, mut used) = (0usize, 0usize, 0usize);
        for &head in table {
            let mut len = 0usize;
            let mut link = head;
            // Bounded by the entry count whatever the links say.
            while link != NIL && len <= self.entries.len() {
                len += 1;
                link = self.entries.get(index_of(link)).map_or(NIL, |e| e.next);
            }
            lengths[len.min(VECTLEN - 1)] += 1;
            if len > 0 {
                slots += 1;
                max_chain = max_chain.max(len);
            }
            used += len;
        }
        let _ = writeln!(out, "Hash table {id} stats ({name}):");
        if used == 0 {
            out.push_str("No stats available for empty dictionaries\n");
            return;
        }
        let size = table.len();
        let _ = write!(
            out,
            " table size: {size}\n number of elements: {used}\n different slots: {slots}\n max chain length: {max_chain}\n avg chain length (counted): {:.2}\n avg chain length (computed): {:.2}\n Chain length distribution:\n",
            used as f32 / slots as f32,
            used as f32 / slots as f32,
        );
        for (i, &n) in lengths.iter().enumerate().take(VECTLEN - 1) {
            if n > 0 {
                let _ = writeln!(out, "   {i}: {n} ({:.2}%)", n as f32 / size as f32 * 100.0);
            }
        }
    }

    /// True while a resize is in progress.
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        !self.next.is_empty()
    }

    /// `(buckets moved so far, buckets of the old table)` during a resize.
    pub fn rehash_progress(&self) -> Option<(usize, usize)> {
        self.is_rehashing()
            .then_some((self.rehash_idx, self.main.len()))
    }

    /// Estimated bytes owned by the table itself: the struct, both bucket
    /// arrays and the entry vector's capacity (which embeds `K` and `V`
    /// inline). Heap data owned by keys and values is not included.
    pub fn mem_usage(&self) -> usize {
        mem::size_of::<Self>()
            + (self.main.capacity() + self.next.capacity()) * mem::size_of::<u32>()
            + self.entries.heap_bytes()
    }

    /// The entry at position `i` (`0..len()`, the order of [`Dict::iter`]).
    /// Positions are stable except that an insertion appends at `len()`
    /// and a removal moves the last entry into the freed position (see
    /// [`Dict::remove_indexed`]); resizing never moves entries.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<(&K, &V)> {
        self.entries.get(i).map(|e| (&e.key, &e.value))
    }

    /// Iterates over all entries (in storage order, not bucket order).
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// Iterates over all entries with mutable values.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut {
            inner: self.entries.iter_mut(),
        }
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &K> + '_ {
        self.entries.iter().map(|e| &e.key)
    }

    /// Iterates over the values.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + '_ {
        self.entries.iter().map(|e| &e.value)
    }

    /// Removes everything and releases the table's memory. To free a huge
    /// table off the hot path, `std::mem::take` it and drop it elsewhere.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.main = Vec::new();
        self.next = Vec::new();
        self.rehash_idx = 0;
    }

    /// Removes and yields every entry; the table is empty afterwards (even
    /// if the iterator is dropped early).
    pub fn drain(&mut self) -> Drain<'_, K, V> {
        self.main = Vec::new();
        self.next = Vec::new();
        self.rehash_idx = 0;
        Drain {
            inner: self.entries.take_all(),
            _table: std::marker::PhantomData,
        }
    }

    /// A uniformly random entry. Entries are stored densely, so picking a
    /// random index is exactly fair and O(1) — fairer than picking a random
    /// bucket and then a chain member, which favours short chains.
    pub fn random_entry<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&K, &V)> {
        if self.entries.is_empty() {
            return None;
        }
        let i = rng.gen_range(0..self.entries.len());
        self.entries.get(i).map(|e| (&e.key, &e.value))
    }

    /// Up to `n` distinct entries chosen uniformly at random (all of them
    /// when `n >= len`), for eviction/expiry sampling. Unlike picking
    /// consecutive buckets, samples are independent of insertion order.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<(&K, &V)> {
        if n >= self.entries.len() {
            return self.iter().collect();
        }
        rand::seq::index::sample(rng, self.entries.len(), n)
            .into_iter()
            .filter_map(|i| self.entries.get(i).map(|e| (&e.key, &e.value)))
            .collect()
    }

    /// Visits the buckets designated by `cursor`, calls `f` for each entry
    /// in them, and returns the next cursor (0 once the scan is complete).
    /// Start with cursor 0. See the module docs for the guarantee.
    pub fn scan<F: FnMut(&K, &V)>(&self, cursor: u64, mut f: F) -> u64 {
        if self.entries.is_empty() || self.main.is_empty() {
            return 0;
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let m0 = (self.main.len() - 1) as u64;
            self.visit_bucket(&self.main, (v & m0) as usize, &mut f);
            v = next_cursor(v, m0);
        } else {
            let (small, large) = if self.main.len() <= self.next.len() {
                (&self.main, &self.next)
            } else {
                (&self.next, &self.main)
            };
            let m0 = (small.len() - 1) as u64;
            let m1 = (large.len() - 1) as u64;
            self.visit_bucket(small, (v & m0) as usize, &mut f);
            // Every bucket of the larger table whose low bits equal the
            // small table's bucket index.
            loop {
                self.visit_bucket(large, (v & m1) as usize, &mut f);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// [`Dict::scan`] with mutable access to the values (same cursor and
    /// guarantee): a snapshot marks entries saved as it visits them
    /// instead of looking every key up a second time.
    pub fn scan_mut<F: FnMut(&K, &mut V)>(&mut self, cursor: u64, mut f: F) -> u64 {
        if self.entries.is_empty() || self.main.is_empty() {
            return 0;
        }
        let rehashing = self.is_rehashing();
        let Dict {
            entries,
            main,
            next,
            ..
        } = self;
        let mut v = cursor;
        if !rehashing {
            let m0 = (main.len() - 1) as u64;
            visit_bucket_mut(main, entries, (v & m0) as usize, &mut f);
            v = next_cursor(v, m0);
        } else {
            let (small, large) = if main.len() <= next.len() {
                (&*main, &*next)
            } else {
                (&*next, &*main)
            };
            let m0 = (small.len() - 1) as u64;
            let m1 = (large.len() - 1) as u64;
            visit_bucket_mut(small, entries, (v & m0) as usize, &mut f);
            loop {
                visit_bucket_mut(large, entries, (v & m1) as usize, &mut f);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    fn visit_bucket<F: FnMut(&K, &V)>(&self, table: &[u32], bucket: usize, f: &mut F) {
        let mut link = table.get(bucket).copied().unwrap_or(NIL);
        while let Some(e) = self.entry_at(link) {
            f(&e.key, &e.value);
            link = e.next;
        }
    }

    #[inline]
    fn entry_at(&self, link: u32) -> Option<&Entry<K, V>> {
        if link == NIL {
            None
        } else {
            self.entries.get(index_of(link))
        }
    }

    /// Moves up to `n` non-empty buckets to the new table (skipping at most
    /// `n * EMPTY_VISITS_PER_STEP` empty ones). Returns true while a resize
    /// is still in progress afterwards.
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        if !self.is_rehashing() {
            return false;
        }
        let mask = self.next.len() - 1;
        let mut empty_budget = n.saturating_mul(EMPTY_VISITS_PER_STEP).max(1);
        let mut moved = 0;
        while moved < n && self.rehash_idx < self.main.len() {
            let head = mem::replace(&mut self.main[self.rehash_idx], NIL);
            self.rehash_idx += 1;
            if head == NIL {
                empty_budget -= 1;
                if empty_budget == 0 {
                    break;
                }
                continue;
            }
            let mut link = head;
            while link != NIL {
                let Some(e) = self.entries.get_mut(index_of(link)) else {
                    break;
                };
                let after = e.next;
                let b = e.hash as usize & mask;
                e.next = self.next[b];
                self.next[b] = link;
                link = after;
            }
            moved += 1;
        }
        if self.rehash_idx >= self.main.len() {
            self.main = mem::take(&mut self.next);
            self.rehash_idx = 0;
            false
        } else {
            true
        }
    }

    /// Rehashes in batches until done or `budget` has elapsed (checked
    /// between batches of 100 buckets, like the reference's cron). Returns
    /// the number of batches run.
    pub fn rehash_for(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut batches = 0;
        while self.is_rehashing() {
            self.rehash_steps(CRON_BATCH);
            batches += 1;
            if start.elapsed() >= budget {
                break;
            }
        }
        batches
    }

    /// Starts shrinking if fewer than 10% of the buckets are in use and no
    /// resize is running; also trims an oversized entry vector. Returns
    /// true if a shrink was started.
    pub fn shrink_if_needed(&mut self) -> bool {
        self.entries.shrink();
        if self.is_rehashing() || self.main.len() <= INITIAL_BUCKETS {
            return false;
        }
        if self.entries.len() * 100 / self.main.len() >= MIN_FILL_PERCENT {
            return false;
        }
        self.start_resize(self.entries.len())
    }

    /// Begins moving to a table sized for `min_entries`. Returns false if
    /// that is the current size.
    fn start_resize(&mut self, min_entries: usize) -> bool {
        let size = bucket_count_for(min_entries);
        if size == self.main.len() {
            return false;
        }
        self.next = vec![NIL; size];
        self.rehash_idx = 0;
        true
    }

    /// The bucket that holds (or will hold) an entry with this hash.
    #[inline]
    fn home(&self, hash: u32) -> Option<(Table, usize)> {
        if self.main.is_empty() {
            return None;
        }
        let b0 = hash as usize & (self.main.len() - 1);
        if b0 < self.rehash_idx && self.is_rehashing() {
            Some((Table::Next, hash as usize & (self.next.len() - 1)))
        } else {
            Some((Table::Main, b0))
        }
    }

    #[inline]
    fn get_slot(&self, slot: Slot) -> u32 {
        match slot {
            Slot::Head(Table::Main, b) => self.main.get(b).copied().unwrap_or(NIL),
            Slot::Head(Table::Next, b) => self.next.get(b).copied().unwrap_or(NIL),
            Slot::Next(i) => self.entries.get(i).map_or(NIL, |e| e.next),
        }
    }

    #[inline]
    fn set_slot(&mut self, slot: Slot, link: u32) {
        let target = match slot {
            Slot::Head(Table::Main, b) => self.main.get_mut(b),
            Slot::Head(Table::Next, b) => self.next.get_mut(b),
            Slot::Next(i) => self.entries.get_mut(i).map(|e| &mut e.next),
        };
        if let Some(t) = target {
            *t = link;
        }
    }

    /// Finds the slot currently holding `link` in the chain of `hash`'s
    /// home bucket and overwrites it with `replacement`.
    fn relink(&mut self, hash: u32, link: u32, replacement: u32) {
        let Some((table, b)) = self.home(hash) else {
            return;
        };
        let mut slot = Slot::Head(table, b);
        loop {
            let cur = self.get_slot(slot);
            if cur == link {
                self.set_slot(slot, replacement);
                return;
            }
            if cur == NIL {
                debug_assert!(false, "dict: entry missing from its home chain");
                return;
            }
            slot = Slot::Next(index_of(cur));
        }
    }

    /// Unlinks entry `i` from its chain and removes it from the vector,
    /// patching the link of the entry that `swap_remove` moves into `i`.
    fn remove_at(&mut self, i: usize) -> Option<(K, V)> {
        let (hash, after) = {
            let e = self.entries.get(i)?;
            (e.hash, e.next)
        };
        self.relink(hash, link_of(i), after);
        let last = self.entries.len() - 1;
        if i != last {
            let moved_hash = self.entries[last].hash;
            self.relink(moved_hash, link_of(last), link_of(i));
        }
        let e = self.entries.swap_remove(i)?;
        Some((e.key, e.value))
    }
}

impl<K, V, S> Dict<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    #[inline]
    fn hash_of<Q: Hash + ?Sized>(&self, key: &Q) -> u32 {
        // Bucket indices only ever use the low bits.
        self.hasher.hash_one(key) as u32
    }

    /// Index of the entry with this key, if any.
    #[inline]
    fn find<Q>(&self, hash: u32, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let (table, b) = self.home(hash)?;
        let mut link = match table {
            Table::Main => self.main.get(b).copied()?,
            Table::Next => self.next.get(b).copied()?,
        };
        while let Some(e) = self.entry_at(link) {
            if e.hash == hash && e.key.borrow() == key {
                return Some(index_of(link));
            }
            link = e.next;
        }
        None
    }

    /// The incremental work attached to every mutating operation.
    #[inline]
    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            self.rehash_steps(1);
        }
    }

    /// Shared reference to the value for `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.hash_of(key), key)?;
        self.entries.get(i).map(|e| &e.value)
    }

    /// The stored key and value for `key`.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.hash_of(key), key)?;
        self.entries.get(i).map(|e| (&e.key, &e.value))
    }

    /// True if `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(self.hash_of(key), key).is_some()
    }

    /// Mutable reference to the value for `key` (also advances a resize).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.rehash_step();
        let i = self.find(self.hash_of(key), key)?;
        self.entries.get_mut(i).map(|e| &mut e.value)
    }

    /// Inserts or replaces; returns the previous value. The stored key is
    /// kept when replacing (like `HashMap`).
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.rehash_step();
        let hash = self.hash_of(&key);
        if let Some(i) = self.find(hash, &key) {
            return self
                .entries
                .get_mut(i)
                .map(|e| mem::replace(&mut e.value, value));
        }
        self.insert_new(hash, key, value);
        None
    }

    /// Inserts every pair in order, exactly like calling [`Dict::insert`]
    /// for each (a later pair with an equal key replaces the earlier
    /// value), but faster for a big table being filled (loading): hashes
    /// are computed first, then the bucket heads and chain heads of the
    /// whole batch are read before any insertion, so their cache misses
    /// overlap instead of stalling one after the other.
    pub fn insert_batch(&mut self, items: Vec<(K, V)>) {
        let hashed: Vec<(u32, K, V)> = items
            .into_iter()
            .map(|(k, v)| (self.hash_of(&k), k, v))
            .collect();
        let heads: Vec<u32> = hashed
            .iter()
            .map(|(h, _, _)| {
                self.home(*h)
                    .map_or(NIL, |(t, b)| self.get_slot(Slot::Head(t, b)))
            })
            .collect();
        let mut touched = 0u32;
        for &link in &heads {
            if let Some(e) = self.entry_at(link) {
                touched ^= e.hash;
            }
        }
        std::hint::black_box(touched);
        for (hash, key, value) in hashed {
            self.rehash_step();
            match self.find(hash, &key) {
                Some(i) => {
                    if let Some(e) = self.entries.get_mut(i) {
                        e.value = value;
                    }
                }
                None => {
                    self.insert_new(hash, key, value);
                }
            }
        }
    }

    /// Inserts `value` under `make_key()` when `key` is absent (`Ok`), or
    /// hands back the present value with `value` unused (`Err`), hashing
    /// the key once either way (`get_mut` then `insert` hashes twice).
    pub fn insert_or_get_mut<Q, F>(
        &mut self,
        key: &Q,
        make_key: F,
        value: V,
    ) -> Result<(), (&mut V, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        F: FnOnce() -> K,
    {
        self.rehash_step();
        let hash = self.hash_of(key);
        match self.find(hash, key) {
            Some(i) => Err((&mut self.entries[i].value, value)),
            None => {
                self.insert_new(hash, make_key(), value);
                Ok(())
            }
        }
    }

    /// The value for `key`, inserting `make()` first if it is absent.
    pub fn get_or_insert_with<F: FnOnce() -> V>(&mut self, key: K, make: F) -> &mut V {
        self.rehash_step();
        let hash = self.hash_of(&key);
        let i = match self.find(hash, &key) {
            Some(i) => i,
            None => self.insert_new(hash, key, make()),
        };
        &mut self.entries[i].value
    }

    /// Removes `key`, returning the stored key and value.
    #[inline]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_indexed(key).map(|(_, k, v)| (k, v))
    }

    /// [`Dict::remove`] that also returns the position the entry had (see
    /// [`Dict::get_index`]). If that position is still below `len()`
    /// afterwards, the entry that was last (at position `len()`) has moved
    /// into it; every other entry keeps its position.
    pub fn remove_indexed<Q>(&mut self, key: &Q) -> Option<(usize, K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.rehash_step();
        let i = self.find(self.hash_of(key), key)?;
        let removed = self.remove_at(i);
        self.shrink_if_needed();
        removed.map(|(k, v)| (i, k, v))
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, mut keep: F) {
        let mut i = 0;
        while let Some(e) = self.entries.get_mut(i) {
            if keep(&e.key, &mut e.value) {
                i += 1;
            } else {
                // The entry swapped into `i` came from the unvisited tail,
                // so `i` is examined again.
                self.remove_at(i);
            }
        }
        self.shrink_if_needed();
    }

    /// Appends a new entry at its home bucket; returns its index.
    fn insert_new(&mut self, hash: u32, key: K, value: V) -> usize {
        assert!(
            self.entries.len() < MAX_ENTRIES,
            "dict: capacity overflow ({MAX_ENTRIES} entries)"
        );
        self.grow_if_needed();
        let (table, b) = self.home(hash).unwrap_or((Table::Main, 0));
        let head = self.get_slot(Slot::Head(table, b));
        let index = self.entries.push(Entry {
            key,
            value,
            hash,
            next: head,
        });
        let link = link_of(index);
        self.set_slot(Slot::Head(table, b), link);
        index
    }

    /// Allocates the first table, or starts doubling at load factor 1.
    fn grow_if_needed(&mut self) {
        if self.main.is_empty() {
            self.main = vec![NIL; INITIAL_BUCKETS];
            self.rehash_idx = 0;
            return;
        }
        if !self.is_rehashing() && self.entries.len() >= self.main.len() {
            let overfull = self.entries.len() * 1000 > self.main.len() * 1618;
            if self.budgeted && !overfull {
                let more = (self.main.len() * 2 * mem::size_of::<u32>()) as u64;
                if more > KEYSPACE_GROW_BUDGET.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
            }
            self.start_resize(self.entries.len() + 1);
        }
    }

    /// Marks this table as part of the keyspace (see
    /// [`set_keyspace_grow_budget`]).
    pub fn set_budgeted(&mut self) {
        self.budgeted = true;
    }
}

/// Power-of-two bucket count giving load factor <= 1 for `entries`.
/// Calls `f` for every entry chained from `table[bucket]`.
fn visit_bucket_mut<K, V, F: FnMut(&K, &mut V)>(
    table: &[u32],
    entries: &mut SegVec<Entry<K, V>>,
    bucket: usize,
    f: &mut F,
) {
    let mut link = table.get(bucket).copied().unwrap_or(NIL);
    while link != NIL {
        let Some(e) = entries.get_mut(index_of(link)) else {
            return;
        };
        f(&e.key, &mut e.value);
        link = e.next;
    }
}

fn bucket_count_for(entries: usize) -> usize {
    entries
        .max(INITIAL_BUCKETS)
        .checked_next_power_of_two()
        .unwrap_or(MAX_BUCKETS)
        .min(MAX_BUCKETS)
}

/// Increments the cursor's bits under `mask` in reverse bit order.
#[inline]
fn next_cursor(v: u64, mask: u64) -> u64 {
    // Setting the unmasked bits makes the +1 carry out of them directly.
    (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for Dict<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a, K, V, S> IntoIterator for &'a Dict<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over `(&K, &V)`; see [`Dict::iter`].
pub struct Iter<'a, K, V> {
    inner: segvec::Iter<'a, Entry<K, V>>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|e| (&e.key, &e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

/// Iterator over `(&K, &mut V)`; see [`Dict::iter_mut`].
pub struct IterMut<'a, K, V> {
    inner: segvec::IterMut<'a, Entry<K, V>>,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|e| (&e.key, &mut e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

/// Owning iterator returned by [`Dict::drain`].
pub struct Drain<'a, K, V> {
    inner: segvec::IntoIter<Entry<K, V>>,
    _table: std::marker::PhantomData<&'a mut ()>,
}

impl<K, V> Iterator for Drain<'_, K, V> {
    type Item = (K, V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|e| (e.key, e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Drain<'_, K, V> {}

#[cfg(test)]
#[path = "dict_tests.rs"]
mod tests;
