//! `SegVec`: a growable array stored in fixed-size segments, the entry
//! storage of [`crate::dict::Dict`].
//!
//! A single `Vec` holding a big table's entries doubles by reallocating:
//! at a million keys that is a ~100 MB copy while the server waits, and the
//! old block goes back to the allocator, which (jemalloc) keeps those pages
//! resident for a while — measured as tens of bytes per key of resident
//! memory that holds nothing. Here the first segment grows like a `Vec` up
//! to [`SEG_LEN`] elements (so small tables, by far the most numerous,
//! cost exactly what a `Vec` costs) and every further segment is allocated
//! once with room for exactly [`SEG_LEN`] elements and never moves.
//!
//! Element `i` lives at `segs[i / SEG_LEN][i % SEG_LEN]`: every segment
//! before the one holding the last element is full. At most one empty
//! segment is kept after the last element, so that alternating pushes and
//! pops at a segment boundary do not allocate and free a segment each time.

use std::ops::{Index, IndexMut};

/// log2 of [`SEG_LEN`].
const SEG_SHIFT: u32 = 10;
/// Elements per segment.
pub const SEG_LEN: usize = 1 << SEG_SHIFT;
const SEG_MASK: usize = SEG_LEN - 1;
/// Capacity of the first allocation of the first segment.
const MIN_CAP: usize = 4;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct SegVec<T> {
    segs: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for SegVec<T> {
    fn default() -> Self {
        SegVec::new()
    }
}

impl<T> SegVec<T> {
    /// Empty; allocates nothing.
    pub const fn new() -> Self {
        SegVec {
            segs: Vec::new(),
            len: 0,
        }
    }

    /// Room for `capacity` elements in the first segment (up to a full
    /// segment); later segments are allocated when reached.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut s = SegVec::new();
        if capacity > 0 {
            s.segs.reserve_exact(capacity.div_ceil(SEG_LEN));
            s.segs.push(Vec::with_capacity(capacity.min(SEG_LEN)));
        }
        s
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements that fit without allocating.
    pub fn capacity(&self) -> usize {
        self.segs.iter().map(Vec::capacity).sum()
    }

    /// Bytes of element storage plus the segment table.
    pub fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>()
            + self.segs.capacity() * std::mem::size_of::<Vec<T>>()
    }

    /// Element `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.segs.get(i >> SEG_SHIFT)?.get(i & SEG_MASK)
    }

    /// Element `i`, mutably.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.segs.get_mut(i >> SEG_SHIFT)?.get_mut(i & SEG_MASK)
    }

    /// Appends `value`; returns its index.
    pub fn push(&mut self, value: T) -> usize {
        let i = self.len;
        let s = i >> SEG_SHIFT;
        if s == self.segs.len() {
            // Only the first segment starts small: a table reaching a
            // second segment is big, and later segments are full-size from
            // the start so they never move.
            let cap = if s == 0 { MIN_CAP } else { SEG_LEN };
            self.segs.push(Vec::with_capacity(cap));
        }
        if let Some(seg) = self.segs.get_mut(s) {
            if seg.len() == seg.capacity() {
                // Grow like a Vec, but never past a full segment (a clone
                // has exact capacities, so this applies to any segment).
                let want = (seg.capacity() * 2).clamp(MIN_CAP, SEG_LEN);
                seg.reserve_exact(want - seg.len());
            }
            seg.push(value);
        }
        self.len += 1;
        i
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.len.checked_sub(1)?;
        let s = last >> SEG_SHIFT;
        // Keep at most one empty segment after the last element.
        self.segs.truncate(s + 2);
        let v = self.segs.get_mut(s)?.pop()?;
        self.len = last;
        Some(v)
    }

    /// Removes element `i`, moving the last element into its place (the
    /// order of `Vec::swap_remove`).
    pub fn swap_remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let last = self.pop()?;
        if i == self.len {
            return Some(last);
        }
        self.get_mut(i).map(|slot| std::mem::replace(slot, last))
    }

    /// Removes everything and frees all segments.
    pub fn clear(&mut self) {
        self.segs = Vec::new();
        self.len = 0;
    }

    /// While everything fits in the first segment, trims its capacity to
    /// twice the length once less than a quarter of it is used (the policy
    /// of the table this backs). Full-size segments are freed by `pop`
    /// already; the one spare is kept while the table is near a segment
    /// boundary, so that one hovering there does not allocate and free a
    /// segment per write.
    pub fn shrink(&mut self) {
        let used = self.len.div_ceil(SEG_LEN).max(1);
        // The spare stays only while the last used segment is over half
        // full, i.e. near the boundary.
        let near_boundary = self.len - (used - 1) * SEG_LEN > SEG_LEN / 2;
        self.segs.truncate(used + usize::from(near_boundary));
        if self.len <= SEG_LEN {
            if let Some(seg) = self.segs.first_mut() {
                if seg.capacity() > 64 && seg.capacity() / 4 > seg.len() {
                    seg.shrink_to(seg.len() * 2);
                }
            }
        }
    }

    /// Iterates in index order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            segs: self.segs.iter(),
            cur: [].iter(),
            left: self.len,
        }
    }

    /// Iterates mutably in index order.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut {
            segs: self.segs.iter_mut(),
            cur: [].iter_mut(),
            left: self.len,
        }
    }

    /// Takes every element out, in index order; `self` is empty afterwards.
    pub fn take_all(&mut self) -> IntoIter<T> {
        let left = self.len;
        let segs = std::mem::take(&mut self.segs);
        self.len = 0;
        IntoIter {
            segs: segs.into_iter(),
            cur: Vec::new().into_iter(),
            left,
        }
    }
}

impl<T> Index<usize> for SegVec<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.segs[i >> SEG_SHIFT][i & SEG_MASK]
    }
}

impl<T> IndexMut<usize> for SegVec<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.segs[i >> SEG_SHIFT][i & SEG_MASK]
    }
}

/// Iterator over `&T`; see [`SegVec::iter`].
#[derive(Clone, Debug)]
pub struct Iter<'a, T> {
    segs: std::slice::Iter<'a, Vec<T>>,
    cur: std::slice::Iter<'a, T>,
    left: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(v) = self.cur.next() {
                self.left -= 1;
                return Some(v);
            }
            self.cur = self.segs.next()?.iter();
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

/// Iterator over `&mut T`; see [`SegVec::iter_mut`].
#[derive(Debug)]
pub struct IterMut<'a, T> {
    segs: std::slice::IterMut<'a, Vec<T>>,
    cur: std::slice::IterMut<'a, T>,
    left: usize,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = &'a mut T;
    #[inline]
    fn next(&mut self) -> Option<&'a mut T> {
        loop {
            if let Some(v) = self.cur.next() {
                self.left -= 1;
                return Some(v);
            }
            self.cur = self.segs.next()?.iter_mut();
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for IterMut<'_, T> {}

/// Owning iterator; see [`SegVec::take_all`].
#[derive(Debug)]
pub struct IntoIter<T> {
    segs: std::vec::IntoIter<Vec<T>>,
    cur: std::vec::IntoIter<T>,
    left: usize,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(v) = self.cur.next() {
                self.left -= 1;
                return Some(v);
            }
            self.cur = self.segs.next()?.into_iter();
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

#[cfg(test)]
#[path = "segvec_tests.rs"]
mod tests;
