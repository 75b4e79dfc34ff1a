//! List type API (upstream `t_list.c` + `quicklist.c`, "type" half; the
//! commands live in `redis_commands::list`).
//!
//! ## Representation
//!
//! In the spirit of upstream's quicklist: a [`VecDeque`] of *nodes*, each
//! node one packed byte buffer holding a run of consecutive elements. An
//! element is stored as
//!
//! ```text
//! [varint data length][data bytes][reversed varint of (header + data) length]
//! ```
//!
//! The leading length lets a walk go forward, the trailing one (its LEB128
//! bytes stored back to front, so they can be decoded starting from the
//! entry's end) lets it go backward — the same trick as listpack's
//! "backlen". An element shorter than 128 bytes costs two bytes of framing.
//!
//! A node grows up to [`NODE_MAX_BYTES`] (8 KiB, upstream's default
//! `list-max-listpack-size -2`); an element larger than that gets a node
//! of its own. Consequences:
//!
//! * push/pop at either end touch only the end node: O(1) (a push at the
//!   head shifts at most one node's bytes);
//! * index access walks node counts from the nearer end, then at most one
//!   node's entries: O(n / elements-per-node), like upstream;
//! * insertion/removal in the middle edit one node and split it when it
//!   overflows; bulk removals (`LREM`, `LTRIM`) merge small neighbours so
//!   memory stays packed.
//!
//! `OBJECT ENCODING` is always `quicklist`: Redis 7.0 reports that for every
//! list (the listpack encoding for small lists only arrived in 7.2).
//!
//! ## Memory (measured)
//!
//! 100 000 lists of 10 elements `elem0`..`elem9` (keys `list:N`), each
//! created by one `RPUSH`, `used_memory` growth divided by 100 000:
//!
//! | server                  | per list | per string key (`SET list:N vv`) |
//! |-------------------------|----------|----------------------------------|
//! | Redis 7.0.15            | 251 B    | 90 B                             |
//! | this server             | 242 B    | 142 B                            |
//!
//! Subtracting the per-key cost, the list value itself takes about 100 B
//! here against about 160 B upstream (robj + quicklist + node + listpack):
//! one 32-byte node slot (the deque is allocated with capacity 1) plus the
//! 70 packed bytes, sized exactly by [`ListValue::extend_back`]. A
//! `VecDeque<Bytes>` would cost a 32-byte handle plus a separate
//! allocation of at least 32 bytes per element, over 640 B for this list,
//! which is why it was not chosen.

use std::collections::VecDeque;
use std::mem;

use bytes::Bytes;

use crate::digest::{self as dg, DIGEST_LEN};

/// Largest packed node (bytes) before a new node is started.
pub const NODE_MAX_BYTES: usize = 8192;

/// Neighbouring nodes are merged after bulk removals when their combined
/// size fits in this many bytes (half a node, so that alternating inserts
/// and removals at a boundary cannot split and merge the same node forever).
const MERGE_BYTES: usize = NODE_MAX_BYTES / 2;

/// Which end of a list (upstream `LIST_HEAD` / `LIST_TAIL`, the `LEFT` and
/// `RIGHT` of the commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// One packed run of elements.
#[derive(Clone, Debug, Default)]
struct Node {
    buf: Vec<u8>,
    count: usize,
}

/// A list value.
#[derive(Clone, Debug, Default)]
pub struct ListValue {
    nodes: VecDeque<Node>,
    len: usize,
}

impl PartialEq for ListValue {
    /// Logical equality: the same elements in the same order, whatever the
    /// node layout.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

// ---------------------------------------------------------------------------
// Entry framing

/// Bytes of the LEB128 varint of `v`.
fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Total encoded size of an element of `len` data bytes.
fn entry_size(len: usize) -> usize {
    let head = varint_len(len) + len;
    head + varint_len(head)
}

/// Appends one encoded element to `out`.
fn put_entry(out: &mut Vec<u8>, data: &[u8]) {
    put_varint(out, data.len());
    out.extend_from_slice(data);
    let head = varint_len(data.len()) + data.len();
    let at = out.len();
    put_varint(out, head);
    out[at..].reverse();
}

/// One encoded element.
fn encode(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(entry_size(data.len()));
    put_entry(&mut v, data);
    v
}

/// Decodes the element starting at `off`: `(data start, data end, next
/// entry offset)`. `None` only on a corrupt buffer (never produced here).
fn read_fwd(buf: &[u8], off: usize) -> Option<(usize, usize, usize)> {
    let mut len = 0usize;
    let mut shift = 0u32;
    let mut p = off;
    loop {
        let b = *buf.get(p)?;
        p += 1;
        len |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let start = p;
    let end = start.checked_add(len)?;
    let head = end - off;
    let next = end + varint_len(head);
    if next > buf.len() {
        return None;
    }
    Some((start, end, next))
}

/// Decodes the element ending at `end`: `(data start, data end, entry
/// start)`.
fn read_back(buf: &[u8], end: usize) -> Option<(usize, usize, usize)> {
    let mut head = 0usize;
    let mut shift = 0u32;
    let mut p = end;
    loop {
        p = p.checked_sub(1)?;
        let b = *buf.get(p)?;
        head |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let entry = p.checked_sub(head)?;
    let (s, e, _) = read_fwd(buf, entry)?;
    Some((s, e, entry))
}

impl Node {
    fn with_entry(data: &[u8]) -> Node {
        Node {
            buf: encode(data),
            count: 1,
        }
    }

    /// Byte range `(entry start, entry end)` of the element at `idx`,
    /// walking from the nearer end of the node.
    fn locate(&self, idx: usize) -> Option<(usize, usize)> {
        if idx >= self.count {
            return None;
        }
        if idx <= self.count / 2 {
            let mut off = 0;
            for _ in 0..idx {
                off = read_fwd(&self.buf, off)?.2;
            }
            let (_, _, next) = read_fwd(&self.buf, off)?;
            Some((off, next))
        } else {
            let mut end = self.buf.len();
            for _ in 0..self.count - 1 - idx {
                end = read_back(&self.buf, end)?.2;
            }
            let (_, _, start) = read_back(&self.buf, end)?;
            Some((start, end))
        }
    }

    /// Byte ranges of all entries, head to tail.
    fn entries(&self) -> Vec<(usize, usize, usize)> {
        let mut v = Vec::with_capacity(self.count);
        let mut off = 0;
        while off < self.buf.len() {
            match read_fwd(&self.buf, off) {
                Some((s, e, next)) => {
                    v.push((off, s, e));
                    off = next;
                }
                None => break,
            }
        }
        v
    }

    /// Splits an oversized node in two halves (by element count); returns
    /// the tail half. Nodes holding a single element are left alone.
    fn split_off_half(&mut self) -> Option<Node> {
        if self.count < 2 || self.buf.len() <= NODE_MAX_BYTES {
            return None;
        }
        let keep = self.count / 2;
        let (cut, _) = self.locate(keep)?;
        let tail = self.buf.split_off(cut);
        self.buf.shrink_to_fit();
        let tail_count = self.count - keep;
        self.count = keep;
        Some(Node {
            buf: tail,
            count: tail_count,
        })
    }
}

// ---------------------------------------------------------------------------
// The list

impl ListValue {
    /// An empty list (only ever stored once it holds an element).
    pub fn new() -> ListValue {
        ListValue::default()
    }

    /// A list holding `elems` in order.
    pub fn from_elems<I, B>(elems: I) -> ListValue
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut l = ListValue::new();
        for e in elems {
            l.push_back(e.as_ref());
        }
        l
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Number of nodes (each one allocation; lazy freeing weighs by it).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty (empty collections are never stored).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name `OBJECT ENCODING` replies with (always `quicklist` in 7.0).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        self.nodes.capacity() * mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>()
    }

    /// The type-specific part of `DEBUG DIGEST` (see [`crate::digest`]):
    /// the type code, then every element mixed in from head to tail.
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        dg::begin_object(d, dg::ObjType::List);
        for e in self.iter() {
            dg::mix_digest(d, e);
        }
    }

    /// Appends all of `elems` at the tail, sizing each node buffer for the
    /// elements still to come, so a multi-element `RPUSH` allocates once
    /// per node instead of growing by doubling.
    pub fn extend_back<B: AsRef<[u8]>>(&mut self, elems: &[B]) {
        let mut pending: usize = elems.iter().map(|e| entry_size(e.as_ref().len())).sum();
        if let Some(last) = self.nodes.back_mut() {
            let room = NODE_MAX_BYTES.saturating_sub(last.buf.len());
            last.buf.reserve(pending.min(room));
        }
        for e in elems {
            let e = e.as_ref();
            let size = entry_size(e.len());
            let before = self.nodes.len();
            self.push_back(e);
            if self.nodes.len() != before {
                if let Some(n) = self.nodes.back_mut() {
                    let want = pending.min(NODE_MAX_BYTES.max(size));
                    n.buf.reserve_exact(want.saturating_sub(n.buf.len()));
                }
            }
            pending -= size;
        }
    }

    /// Appends at `end`.
    pub fn push(&mut self, end: End, data: &[u8]) {
        match end {
            End::Left => self.push_front(data),
            End::Right => self.push_back(data),
        }
    }

    /// Appends at the tail.
    pub fn push_back(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.nodes.back_mut() {
            Some(n) if n.buf.len() + size <= NODE_MAX_BYTES => {
                put_entry(&mut n.buf, data);
                n.count += 1;
            }
            _ => {
                if self.nodes.is_empty() {
                    // Most lists have one node: do not pay for four slots.
                    self.nodes.reserve_exact(1);
                }
                self.nodes.push_back(Node::with_entry(data));
            }
        }
        self.len += 1;
    }

    /// Prepends at the head.
    pub fn push_front(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.nodes.front_mut() {
            Some(n) if n.buf.len() + size <= NODE_MAX_BYTES => {
                // Append, then rotate the new entry to the front: one
                // memmove of the node like a splice, without encoding into
                // a temporary vector first.
                put_entry(&mut n.buf, data);
                n.buf.rotate_right(size);
                n.count += 1;
            }
            _ => {
                if self.nodes.is_empty() {
                    self.nodes.reserve_exact(1);
                }
                self.nodes.push_front(Node::with_entry(data));
            }
        }
        self.len += 1;
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        match end {
            End::Left => self.pop_front(),
            End::Right => self.pop_back(),
        }
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        let n = self.nodes.front_mut()?;
        let (s, e, next) = read_fwd(&n.buf, 0)?;
        let out = Bytes::copy_from_slice(n.buf.get(s..e)?);
        n.buf.drain(..next);
        n.count -= 1;
        if n.count == 0 {
            self.nodes.pop_front();
        }
        self.len -= 1;
        Some(out)
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<Bytes> {
        let n = self.nodes.back_mut()?;
        let (s, e, start) = read_back(&n.buf, n.buf.len())?;
        let out = Bytes::copy_from_slice(n.buf.get(s..e)?);
        n.buf.truncate(start);
        n.count -= 1;
        if n.count == 0 {
            self.nodes.pop_back();
        }
        self.len -= 1;
        Some(out)
    }

    /// Converts an upstream-style index (negative counts from the tail)
    /// into a position, if it is in range.
    pub fn resolve_index(&self, index: i64) -> Option<usize> {
        let len = i64::try_from(self.len).ok()?;
        let i = if index < 0 {
            len.checked_add(index)?
        } else {
            index
        };
        if (0..len).contains(&i) {
            usize::try_from(i).ok()
        } else {
            None
        }
    }

    /// `(node index, index inside the node)` of element `idx`, walking node
    /// counts from the nearer end of the list.
    fn node_of(&self, idx: usize) -> Option<(usize, usize)> {
        if idx >= self.len {
            return None;
        }
        if idx < self.len / 2 {
            let mut i = idx;
            for (ni, n) in self.nodes.iter().enumerate() {
                if i < n.count {
                    return Some((ni, i));
                }
                i -= n.count;
            }
        } else {
            let mut from_tail = self.len - 1 - idx;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if from_tail < n.count {
                    return Some((ni, n.count - 1 - from_tail));
                }
                from_tail -= n.count;
            }
        }
        None
    }

    /// The element at position `idx` (0 = head).
    pub fn get(&self, idx: usize) -> Option<&[u8]> {
        let (ni, i) = self.node_of(idx)?;
        let n = self.nodes.get(ni)?;
        let (start, _) = n.locate(i)?;
        let (s, e, _) = read_fwd(&n.buf, start)?;
        n.buf.get(s..e)
    }

    /// Replaces the element at `idx`; false if out of range.
    pub fn set(&mut self, idx: usize, data: &[u8]) -> bool {
        let Some((ni, i)) = self.node_of(idx) else {
            return false;
        };
        let Some(n) = self.nodes.get_mut(ni) else {
            return false;
        };
        let Some((start, end)) = n.locate(i) else {
            return false;
        };
        n.buf.splice(start..end, encode(data));
        self.split_node(ni);
        true
    }

    /// Inserts `data` so that it ends up at position `idx` (`idx == len`
    /// appends). False if `idx > len`.
    pub fn insert(&mut self, idx: usize, data: &[u8]) -> bool {
        if idx == 0 {
            self.push_front(data);
            return true;
        }
        if idx == self.len {
            self.push_back(data);
            return true;
        }
        let Some((ni, i)) = self.node_of(idx) else {
            return false;
        };
        let Some(n) = self.nodes.get_mut(ni) else {
            return false;
        };
        let Some((start, _)) = n.locate(i) else {
            return false;
        };
        n.buf.splice(start..start, encode(data));
        n.count += 1;
        self.len += 1;
        self.split_node(ni);
        true
    }

    /// Splits node `ni` if an edit made it oversized.
    fn split_node(&mut self, ni: usize) {
        let Some(n) = self.nodes.get_mut(ni) else {
            return;
        };
        if let Some(tail) = n.split_off_half() {
            self.nodes.insert(ni + 1, tail);
        }
    }

    /// Removes and returns the element at `idx`.
    pub fn remove(&mut self, idx: usize) -> Option<Bytes> {
        let (ni, i) = self.node_of(idx)?;
        let n = self.nodes.get_mut(ni)?;
        let (start, end) = n.locate(i)?;
        let (s, e, _) = read_fwd(&n.buf, start)?;
        let out = Bytes::copy_from_slice(n.buf.get(s..e)?);
        n.buf.drain(start..end);
        n.count -= 1;
        self.len -= 1;
        if n.count == 0 {
            self.nodes.remove(ni);
        } else {
            self.merge_around(ni.saturating_sub(1), ni + 1);
        }
        Some(out)
    }

    /// Merges adjacent small nodes between node indices `from..=to`
    /// (clamped), keeping the list packed after removals.
    fn merge_around(&mut self, from: usize, to: usize) {
        let mut i = from;
        let mut last = to;
        while i < last && i + 1 < self.nodes.len() {
            let fits = match (self.nodes.get(i), self.nodes.get(i + 1)) {
                (Some(a), Some(b)) => a.buf.len() + b.buf.len() <= MERGE_BYTES,
                _ => false,
            };
            if fits {
                if let Some(b) = self.nodes.remove(i + 1) {
                    if let Some(a) = self.nodes.get_mut(i) {
                        a.buf.extend_from_slice(&b.buf);
                        a.count += b.count;
                    }
                }
                last = last.saturating_sub(1);
            } else {
                i += 1;
            }
        }
    }

    /// Removes `left` elements from the head and `right` from the tail
    /// (`LTRIM`); more than the length empties the list.
    pub fn trim(&mut self, left: usize, right: usize) {
        if left.saturating_add(right) >= self.len {
            self.nodes.clear();
            self.nodes.shrink_to_fit();
            self.len = 0;
            return;
        }
        let mut left = left;
        while left > 0 {
            let Some(n) = self.nodes.front_mut() else {
                break;
            };
            if n.count <= left {
                left -= n.count;
                self.len -= n.count;
                self.nodes.pop_front();
            } else {
                let cut = n.locate(left).map_or(0, |(s, _)| s);
                n.buf.drain(..cut);
                n.count -= left;
                self.len -= left;
                left = 0;
            }
        }
        let mut right = right;
        while right > 0 {
            let Some(n) = self.nodes.back_mut() else {
                break;
            };
            if n.count <= right {
                right -= n.count;
                self.len -= n.count;
                self.nodes.pop_back();
            } else {
                let keep = n.count - right;
                let cut = n.locate(keep).map_or(n.buf.len(), |(s, _)| s);
                n.buf.truncate(cut);
                n.count = keep;
                self.len -= right;
                right = 0;
            }
        }
    }

    /// Removes up to `max` elements equal to `elem` (`0` = all), scanning
    /// from the head, or from the tail when `from_tail` (`LREM`). Returns
    /// how many were removed.
    pub fn remove_matching(&mut self, elem: &[u8], max: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let mut touched: Option<(usize, usize)> = None;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for ni in order {
            if max != 0 && removed >= max {
                break;
            }
            let Some(n) = self.nodes.get_mut(ni) else {
                continue;
            };
            let entries = n.entries();
            let mut drop = vec![false; entries.len()];
            let mut dropped = 0;
            let mut visit = |i: usize| {
                if max != 0 && removed + dropped >= max {
                    return;
                }
                if let (Some(&(_, s, e)), Some(flag)) = (entries.get(i), drop.get_mut(i)) {
                    if n.buf.get(s..e) == Some(elem) {
                        *flag = true;
                        dropped += 1;
                    }
                }
            };
            if from_tail {
                (0..entries.len()).rev().for_each(&mut visit);
            } else {
                (0..entries.len()).for_each(&mut visit);
            }
            if dropped == 0 {
                continue;
            }
            let mut rebuilt = Vec::with_capacity(n.buf.len());
            for (&(_, s, e), &gone) in entries.iter().zip(&drop) {
                if gone {
                    continue;
                }
                if let Some(d) = n.buf.get(s..e) {
                    put_entry(&mut rebuilt, d);
                }
            }
            n.buf = rebuilt;
            n.count -= dropped;
            removed += dropped;
            touched = Some(match touched {
                None => (ni, ni),
                Some((a, b)) => (a.min(ni), b.max(ni)),
            });
        }
        self.len -= removed;
        if let Some((a, b)) = touched {
            self.nodes.retain(|n| n.count > 0);
            let b = b.min(self.nodes.len());
            self.merge_around(a.saturating_sub(1), b + 1);
        }
        removed
    }

    /// Iterates over all elements, head to tail (reversible).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            front: (0, 0),
            back: (
                self.nodes.len().saturating_sub(1),
                self.nodes.back().map_or(0, |n| n.buf.len()),
            ),
            remaining: self.len,
        }
    }

    /// Iterates over positions `start..=end` (both in range, `start <=
    /// end`); an invalid range yields nothing.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let empty = Iter {
            list: self,
            front: (0, 0),
            back: (0, 0),
            remaining: 0,
        };
        if start > end || end >= self.len {
            return empty;
        }
        let front = self
            .node_of(start)
            .and_then(|(ni, i)| Some((ni, self.nodes.get(ni)?.locate(i)?.0)));
        let back = self
            .node_of(end)
            .and_then(|(ni, i)| Some((ni, self.nodes.get(ni)?.locate(i)?.1)));
        match (front, back) {
            (Some(front), Some(back)) => Iter {
                list: self,
                front,
                back,
                remaining: end - start + 1,
            },
            _ => empty,
        }
    }
}

/// Iterator over a list's elements (see [`ListValue::iter`]).
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    list: &'a ListValue,
    /// `(node, offset of the next entry)` for the forward walk.
    front: (usize, usize),
    /// `(node, end offset of the next entry)` for the backward walk.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = &self.list.nodes;
        let mut n = nodes.get(self.front.0)?;
        while self.front.1 >= n.buf.len() {
            self.front = (self.front.0 + 1, 0);
            n = nodes.get(self.front.0)?;
        }
        let (s, e, next) = read_fwd(&n.buf, self.front.1)?;
        self.front.1 = next;
        self.remaining -= 1;
        n.buf.get(s..e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = &self.list.nodes;
        let mut n = nodes.get(self.back.0)?;
        while self.back.1 == 0 {
            self.back.0 = self.back.0.checked_sub(1)?;
            n = nodes.get(self.back.0)?;
            self.back.1 = n.buf.len();
        }
        let (s, e, start) = read_back(&n.buf, self.back.1)?;
        self.back.1 = start;
        self.remaining -= 1;
        n.buf.get(s..e)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
