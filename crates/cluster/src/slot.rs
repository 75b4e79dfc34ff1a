//! Hash slots: the key → slot function and a set of slots.
//!
//! - [`key_hash_slot`] is upstream's `keyHashSlot()`: CRC16 (the XMODEM
//!   variant: polynomial 0x1021, initial value 0, no reflection, no final
//!   xor) of the key, or of its *hash tag* — the bytes between the first
//!   `{` and the first `}` after it, when there is at least one byte
//!   between them — modulo [`CLUSTER_SLOTS`].
//! - [`SlotSet`] is a 16384-bit bitmap (the same bit order as upstream's
//!   `slots[]` arrays on the cluster bus) with the range view that
//!   `CLUSTER NODES` (`0-5460 5462`), `nodes.conf` and `CLUSTER SLOTS` use.
//! - [`parse_slot`] is upstream's `getSlotOrReply()`: the slot argument of
//!   `CLUSTER ADDSLOTS`, `DELSLOTS`, `ADDSLOTSRANGE`, `DELSLOTSRANGE` and
//!   `SETSLOT`, refused with `ERR Invalid or out of range slot`.

use std::fmt;

/// Number of hash slots of a Redis Cluster.
pub const CLUSTER_SLOTS: u16 = 16384;

/// [`CLUSTER_SLOTS`] as a `usize`, for array sizes and indexes.
pub const CLUSTER_SLOTS_USIZE: usize = CLUSTER_SLOTS as usize;

/// Size in bytes of a slot bitmap as the cluster bus carries it.
pub const SLOT_BITMAP_BYTES: usize = CLUSTER_SLOTS_USIZE / 8;

const WORDS: usize = CLUSTER_SLOTS_USIZE / 64;

/// The error text (without the `-` of the RESP error) of a slot argument
/// that is not an integer in `0..16384`, as `getSlotOrReply()` replies.
pub const INVALID_SLOT_ERR: &str = "ERR Invalid or out of range slot";

/// CRC16/XMODEM of `bytes`, the checksum upstream's `crc16()` computes.
pub fn crc16(bytes: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(bytes)
}

/// The part of `key` that is hashed: the hash tag when the key has a
/// non-empty `{...}` section (the first `{` and the first `}` after it),
/// else the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let rest = &key[open + 1..];
    match rest.iter().position(|&b| b == b'}') {
        Some(close) if close > 0 => &rest[..close],
        _ => key,
    }
}

/// The hash slot of `key`, exactly as upstream's `keyHashSlot()`.
pub fn key_hash_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (CLUSTER_SLOTS - 1)
}

/// A slot argument refused by [`parse_slot`]; displays as
/// [`INVALID_SLOT_ERR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", INVALID_SLOT_ERR)]
pub struct InvalidSlot;

/// Parses a slot argument like upstream's `getSlotOrReply()`: a strict
/// 64-bit integer (`string2ll`: no blanks, no `+`, no leading zeros, no
/// `-0`) in `0..16384`.
pub fn parse_slot(arg: &[u8]) -> Result<u16, InvalidSlot> {
    match parse_strict_i64(arg) {
        Some(v) if (0..i64::from(CLUSTER_SLOTS)).contains(&v) => {
            u16::try_from(v).map_err(|_| InvalidSlot)
        }
        _ => Err(InvalidSlot),
    }
}

/// Upstream's `string2ll()`: the canonical decimal form of an `i64`, up to
/// 20 bytes.
fn parse_strict_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if magnitude == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(magnitude).ok().map(|v| -v)
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// An inclusive range of slots, `start <= end`. Displays as upstream
/// writes it in `CLUSTER NODES` and `nodes.conf`: `5` or `0-5460`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotRange {
    /// First slot of the range.
    pub start: u16,
    /// Last slot of the range (inclusive).
    pub end: u16,
}

impl SlotRange {
    /// Number of slots in the range.
    pub fn len(&self) -> usize {
        usize::from(self.end) - usize::from(self.start) + 1
    }

    /// Always false: a range holds at least one slot.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for SlotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A set of hash slots: a 16384-bit bitmap.
///
/// Slots at or above [`CLUSTER_SLOTS`] are never members: setting one is a
/// no-op and `contains` says false.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SlotSet {
    words: [u64; WORDS],
}

impl Default for SlotSet {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotSet[{self}]")
    }
}

impl SlotSet {
    /// The empty set.
    pub const fn new() -> Self {
        SlotSet { words: [0; WORDS] }
    }

    /// All 16384 slots.
    pub const fn full() -> Self {
        SlotSet {
            words: [u64::MAX; WORDS],
        }
    }

    /// Adds `slot`; true when it was not a member before.
    pub fn set(&mut self, slot: u16) -> bool {
        if slot >= CLUSTER_SLOTS {
            return false;
        }
        let (w, bit) = Self::locate(slot);
        let was = self.words[w] & bit != 0;
        self.words[w] |= bit;
        !was
    }

    /// Removes `slot`; true when it was a member.
    pub fn clear(&mut self, slot: u16) -> bool {
        if slot >= CLUSTER_SLOTS {
            return false;
        }
        let (w, bit) = Self::locate(slot);
        let was = self.words[w] & bit != 0;
        self.words[w] &= !bit;
        was
    }

    /// Whether `slot` is a member.
    pub fn contains(&self, slot: u16) -> bool {
        if slot >= CLUSTER_SLOTS {
            return false;
        }
        let (w, bit) = Self::locate(slot);
        self.words[w] & bit != 0
    }

    /// Adds every slot of `start..=end` (nothing when `start > end`; the
    /// part at or above [`CLUSTER_SLOTS`] is ignored).
    pub fn set_range(&mut self, start: u16, end: u16) {
        let end = end.min(CLUSTER_SLOTS - 1);
        for slot in start..=end {
            self.set(slot);
        }
    }

    /// Removes every slot of `start..=end`.
    pub fn clear_range(&mut self, start: u16, end: u16) {
        let end = end.min(CLUSTER_SLOTS - 1);
        for slot in start..=end {
            self.clear(slot);
        }
    }

    /// Removes every slot.
    pub fn clear_all(&mut self) {
        self.words = [0; WORDS];
    }

    /// Number of member slots.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether no slot is a member.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The member slots in ascending order.
    pub fn iter(&self) -> SlotIter<'_> {
        SlotIter { set: self, next: 0 }
    }

    /// The member slots as maximal ascending ranges, the way upstream
    /// lists a node's slots.
    pub fn ranges(&self) -> SlotRanges<'_> {
        SlotRanges { set: self, next: 0 }
    }

    /// The members of `self` that are not in `other`.
    pub fn difference(&self, other: &SlotSet) -> SlotSet {
        let mut out = self.clone();
        for (a, b) in out.words.iter_mut().zip(other.words.iter()) {
            *a &= !b;
        }
        out
    }

    /// The members of either set.
    pub fn union(&self, other: &SlotSet) -> SlotSet {
        let mut out = self.clone();
        for (a, b) in out.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
        out
    }

    /// The members of both sets.
    pub fn intersection(&self, other: &SlotSet) -> SlotSet {
        let mut out = self.clone();
        for (a, b) in out.words.iter_mut().zip(other.words.iter()) {
            *a &= b;
        }
        out
    }

    /// The set as the 2048-byte bitmap of the cluster bus: slot `s` is bit
    /// `s % 8` (least significant first) of byte `s / 8`, as upstream's
    /// `bitmapTestBit()`.
    pub fn to_bitmap(&self) -> [u8; SLOT_BITMAP_BYTES] {
        let mut out = [0u8; SLOT_BITMAP_BYTES];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.words.iter()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// The set of a bus bitmap (see [`SlotSet::to_bitmap`]).
    pub fn from_bitmap(bitmap: &[u8; SLOT_BITMAP_BYTES]) -> Self {
        let mut set = SlotSet::new();
        for (word, chunk) in set.words.iter_mut().zip(bitmap.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            *word = u64::from_le_bytes(bytes);
        }
        set
    }

    fn locate(slot: u16) -> (usize, u64) {
        let s = usize::from(slot);
        (s / 64, 1u64 << (s % 64))
    }

    /// The first member at or after `from`.
    fn next_member(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        if w >= WORDS {
            return None;
        }
        let mut word = self.words[w] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            if w >= WORDS {
                return None;
            }
            word = self.words[w];
        }
    }

    /// The first non-member at or after `from` ([`CLUSTER_SLOTS`] when
    /// every slot from there on is a member).
    fn next_gap(&self, from: usize) -> usize {
        let mut w = from / 64;
        if w >= WORDS {
            return CLUSTER_SLOTS_USIZE;
        }
        let mut word = !self.words[w] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return w * 64 + word.trailing_zeros() as usize;
            }
            w += 1;
            if w >= WORDS {
                return CLUSTER_SLOTS_USIZE;
            }
            word = !self.words[w];
        }
    }
}

/// Space-separated ranges, as in `CLUSTER NODES`: `0-5460 5462`.
impl fmt::Display for SlotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromIterator<u16> for SlotSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        let mut set = SlotSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<u16> for SlotSet {
    fn extend<I: IntoIterator<Item = u16>>(&mut self, iter: I) {
        for slot in iter {
            self.set(slot);
        }
    }
}

impl<'a> IntoIterator for &'a SlotSet {
    type Item = u16;
    type IntoIter = SlotIter<'a>;
    fn into_iter(self) -> SlotIter<'a> {
        self.iter()
    }
}

/// Iterator over the member slots of a [`SlotSet`], ascending.
#[derive(Debug, Clone)]
pub struct SlotIter<'a> {
    set: &'a SlotSet,
    next: usize,
}

impl Iterator for SlotIter<'_> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        let slot = self.set.next_member(self.next)?;
        self.next = slot + 1;
        u16::try_from(slot).ok()
    }
}

/// Iterator over the maximal ranges of a [`SlotSet`], ascending.
#[derive(Debug, Clone)]
pub struct SlotRanges<'a> {
    set: &'a SlotSet,
    next: usize,
}

impl Iterator for SlotRanges<'_> {
    type Item = SlotRange;
    fn next(&mut self) -> Option<SlotRange> {
        let start = self.set.next_member(self.next)?;
        let gap = self.set.next_gap(start);
        self.next = gap;
        Some(SlotRange {
            start: u16::try_from(start).ok()?,
            end: u16::try_from(gap - 1).ok()?,
        })
    }
}

#[cfg(test)]
#[path = "slot_tests.rs"]
mod tests;
