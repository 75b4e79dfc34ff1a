//! Sorted set type API (upstream `t_zset.c`, "type" half; the commands live
//! in `redis_commands::zset`).
//!
//! ## Representation
//!
//! Elements are ordered by score, then by member bytes (lexicographic,
//! `memcmp` order) — the order every range command exposes.
//!
//! * **Compact** (`OBJECT ENCODING` "listpack"): one packed byte buffer of
//!   entries `[varint member length][member bytes][tagged score]` (small
//!   integral scores take 1–4 bytes after the tag, others 8 LE bytes),
//!   kept sorted. Every operation is a linear walk, which is what upstream's
//!   listpack costs too and is cheap for the small sizes this form is used
//!   for (at most `zset-max-listpack-entries` entries of at most
//!   `zset-max-listpack-value` bytes). One allocation per set keeps small
//!   sets small in memory.
//! * **Ranked** ("skiplist"): a member → score hash table ([`Dict`], which
//!   also gives `ZSCAN` its reverse-binary cursor guarantees) plus an ordered
//!   index. Instead of a skiplist with spans the index is a *treap* (a
//!   randomized balanced binary search tree) with subtree sizes, stored in an
//!   arena (`Vec` of nodes linked by `u32` indices, with a free list). The
//!   subtree sizes give O(log n) expected rank queries, select-by-rank and
//!   range boundaries; split/merge give O(log n + m) removal of a rank range
//!   of m elements. Score lookup by member is O(1) through the hash table.
//!
//! Conversions follow upstream: a compact set becomes ranked as soon as an
//! insertion makes it exceed either threshold; a ranked set is never turned
//! back by removals. Commands that build a new set (`ZUNIONSTORE`,
//! `ZRANGESTORE`, …) call [`ZSetValue::shrink_to_fit_limits`] at the end,
//! which picks the compact form when the final content fits, as upstream's
//! `zsetConvertToListpackIfNeeded` does.

use std::cmp::Ordering;
use std::mem;

use bytes::Bytes;

use crate::dict::Dict;
use crate::digest::{self as dg, DIGEST_LEN};

/// Thresholds of the compact form (`zset-max-listpack-entries` and
/// `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// Total order of elements: score, then member bytes. Scores are never NaN
/// (commands reject NaN before it reaches a set); `-0` and `0` compare equal
/// like upstream's `<`/`==` comparisons.
#[inline]
pub fn cmp_elem(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum ZSetValue {
    Compact(Packed),
    Ranked(Box<Ranked>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Compact(Packed::default())
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.to_vec() == other.to_vec()
    }
}

impl ZSetValue {
    /// An empty set in the compact form.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set in the form upstream's `zsetTypeCreate` picks for the
    /// expected size and longest member.
    pub fn with_hint(size: usize, max_member_len: usize, limits: Limits) -> Self {
        if size <= limits.max_entries && max_member_len <= limits.max_value {
            Self::default()
        } else {
            ZSetValue::Ranked(Box::default())
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Compact(p) => p.len,
            ZSetValue::Ranked(r) => r.map.len(),
        }
    }

    /// True when empty (empty collections are never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Compact(_) => "listpack",
            ZSetValue::Ranked(_) => "skiplist",
        }
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        match self {
            ZSetValue::Compact(p) => p.buf.capacity(),
            ZSetValue::Ranked(r) => {
                let mut members = 0;
                r.for_each(|m, _| members += m.len());
                mem::size_of::<Ranked>()
                    + r.map.mem_usage()
                    + r.tree.nodes.capacity() * mem::size_of::<Node>()
                    + r.tree.free.capacity() * mem::size_of::<u32>()
                    + members
            }
        }
    }

    /// The type-specific part of `DEBUG DIGEST` (see [`crate::digest`]).
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        dg::begin_object(d, dg::ObjType::ZSet);
        self.for_each(|m, s| {
            let e = dg::pair_digest(m, dg::format_score_g17(s).as_bytes());
            dg::xor_digest(d, &e);
        });
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Compact(p) => p.find(member).map(|(_, _, s)| s),
            ZSetValue::Ranked(r) => r.map.get(member).copied(),
        }
    }

    /// Adds `member` or updates its score. Returns true when it was added.
    /// Converts to the ranked form when the compact limits are exceeded.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) -> bool {
        if let ZSetValue::Compact(p) = self {
            if let Some((pos, _, old)) = p.find(member) {
                if old.to_bits() != score.to_bits() {
                    p.remove_at(pos);
                    p.insert_sorted(member, score);
                }
                return false;
            }
            if p.len < limits.max_entries && member.len() <= limits.max_value {
                p.insert_sorted(member, score);
                return true;
            }
            self.convert_to_ranked();
        }
        match self {
            ZSetValue::Ranked(r) => r.insert(member, score),
            // Converted just above.
            ZSetValue::Compact(_) => false,
        }
    }

    /// Removes `member`; returns true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSetValue::Compact(p) => match p.find(member) {
                Some((pos, _, _)) => {
                    p.remove_at(pos);
                    true
                }
                None => false,
            },
            ZSetValue::Ranked(r) => r.remove(member),
        }
    }

    /// 0-based ascending rank of `member` and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Compact(p) => p.find(member).map(|(_, i, s)| (i, s)),
            ZSetValue::Ranked(r) => {
                let s = *r.map.get(member)?;
                Some((r.tree.count_less(s, member), s))
            }
        }
    }

    /// The element at ascending rank `rank`.
    pub fn get_by_rank(&self, rank: usize) -> Option<(Bytes, f64)> {
        match self {
            ZSetValue::Compact(p) => p
                .iter()
                .nth(rank)
                .map(|(m, s)| (Bytes::copy_from_slice(m), s)),
            ZSetValue::Ranked(r) => {
                let n = r.tree.select(rank)?;
                let node = r.tree.nodes.get(n as usize)?;
                Some((node.member.clone(), node.score))
            }
        }
    }

    /// Elements of ascending ranks `start..end` (end exclusive, clamped).
    pub fn range(&self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSetValue::Compact(p) => p
                .iter()
                .skip(start)
                .take(end - start)
                .map(|(m, s)| (Bytes::copy_from_slice(m), s))
                .collect(),
            ZSetValue::Ranked(r) => r.tree.range(start, end - start),
        }
    }

    /// Number of leading elements (in ascending order) for which `pred`
    /// holds. `pred` must be monotone: true for a prefix, false after. This
    /// is how range boundaries (score and lex) become ranks.
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Compact(p) => p.iter().take_while(|&(m, s)| pred(s, m)).count(),
            ZSetValue::Ranked(r) => r.tree.count_prefix(&pred),
        }
    }

    /// Removes the elements of ascending ranks `start..end` and returns them.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSetValue::Compact(p) => {
                let out: Vec<(Bytes, f64)> = p
                    .iter()
                    .skip(start)
                    .take(end - start)
                    .map(|(m, s)| (Bytes::copy_from_slice(m), s))
                    .collect();
                p.remove_ranks(start, end);
                out
            }
            ZSetValue::Ranked(r) => r.remove_range(start, end - start),
        }
    }

    /// Calls `f` for every element in ascending order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSetValue::Compact(p) => p.iter().for_each(|(m, s)| f(m, s)),
            ZSetValue::Ranked(r) => r.for_each(f),
        }
    }

    /// All elements in ascending order.
    pub fn to_vec(&self) -> Vec<(Bytes, f64)> {
        self.range(0, self.len())
    }

    /// Length of the longest member.
    pub fn max_member_len(&self) -> usize {
        let mut max = 0;
        self.for_each(|m, _| max = max.max(m.len()));
        max
    }

    /// Switches a ranked set back to the compact form if its content fits
    /// the limits (upstream `zsetConvertToListpackIfNeeded`, used by the
    /// commands that store a freshly built set).
    pub fn shrink_to_fit_limits(&mut self, limits: Limits) {
        if let ZSetValue::Ranked(r) = self {
            if r.map.len() <= limits.max_entries && self.max_member_len() <= limits.max_value {
                let mut p = Packed::default();
                self.for_each(|m, s| p.push_back(m, s));
                *self = ZSetValue::Compact(p);
            }
        }
    }

    /// One `ZSCAN` step. The compact form returns everything at once with
    /// cursor 0 like upstream; the ranked form walks its hash table.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSetValue::Compact(p) => {
                p.iter().for_each(|(m, s)| f(m, s));
                0
            }
            ZSetValue::Ranked(r) => {
                let mut cursor = cursor;
                let mut seen = 0;
                // Bounded work per call, as for keyspace SCAN.
                let mut budget = count.max(1).saturating_mul(10);
                loop {
                    cursor = r.map.scan(cursor, |m, s| {
                        seen += 1;
                        f(m, *s);
                    });
                    budget -= 1;
                    if cursor == 0 || seen >= count || budget == 0 {
                        return cursor;
                    }
                }
            }
        }
    }

    fn convert_to_ranked(&mut self) {
        if let ZSetValue::Compact(p) = self {
            let mut r = Ranked::default();
            for (m, s) in p.iter() {
                r.insert(m, s);
            }
            *self = ZSetValue::Ranked(Box::new(r));
        }
    }
}

// ---------------------------------------------------------------------------
// Compact form

/// Sorted packed entries (see the module docs for the layout).
#[derive(Clone, Debug, Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: usize,
}

/// Reads a LEB128 varint at `pos`: (value, bytes used).
fn read_varint(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut v: usize = 0;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let b = *buf.get(i)?;
        v |= usize::from(b & 0x7f).checked_shl(shift)?;
        i += 1;
        if b & 0x80 == 0 {
            return Some((v, i - pos));
        }
        shift += 7;
    }
}

fn write_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Upstream's listpack stores scores as text and `-0` comes back as the
/// integer 0, so the compact form never keeps a negative zero (the ranked
/// form does, like upstream's skiplist).
fn normalize_zero(score: f64) -> f64 {
    score + 0.0
}

/// Score tags of the compact form: small integral scores (the common case)
/// take 1–4 bytes instead of 8, as listpack integer entries do.
const SCORE_F64: u8 = 0;
const SCORE_I8: u8 = 1;
const SCORE_I16: u8 = 2;
const SCORE_I32: u8 = 3;

/// Appends a tagged score.
fn write_score(out: &mut Vec<u8>, score: f64) {
    let score = normalize_zero(score);
    // Exact integers only (never -0, normalized above).
    if score.fract() == 0.0 && score.abs() <= f64::from(i32::MAX) {
        let i = score as i32;
        if let Ok(b) = i8::try_from(i) {
            out.push(SCORE_I8);
            out.extend_from_slice(&b.to_le_bytes());
        } else if let Ok(h) = i16::try_from(i) {
            out.push(SCORE_I16);
            out.extend_from_slice(&h.to_le_bytes());
        } else {
            out.push(SCORE_I32);
            out.extend_from_slice(&i.to_le_bytes());
        }
        return;
    }
    out.push(SCORE_F64);
    out.extend_from_slice(&score.to_le_bytes());
}

/// Reads a tagged score at `pos`: (score, bytes used).
fn read_score(buf: &[u8], pos: usize) -> Option<(f64, usize)> {
    let tag = *buf.get(pos)?;
    let p = pos + 1;
    Some(match tag {
        SCORE_I8 => (f64::from(i8::from_le_bytes([*buf.get(p)?])), 2),
        SCORE_I16 => {
            let b: [u8; 2] = buf.get(p..p + 2)?.try_into().ok()?;
            (f64::from(i16::from_le_bytes(b)), 3)
        }
        SCORE_I32 => {
            let b: [u8; 4] = buf.get(p..p + 4)?.try_into().ok()?;
            (f64::from(i32::from_le_bytes(b)), 5)
        }
        _ => {
            let b: [u8; 8] = buf.get(p..p + 8)?.try_into().ok()?;
            (f64::from_le_bytes(b), 9)
        }
    })
}

/// Iterator over packed entries: (member, score).
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> PackedIter<'a> {
    /// The next entry with its byte offset and encoded length.
    fn next_entry(&mut self) -> Option<(usize, usize, &'a [u8], f64)> {
        let start = self.pos;
        let (len, used) = read_varint(self.buf, start)?;
        let m_start = start + used;
        let m_end = m_start.checked_add(len)?;
        let member = self.buf.get(m_start..m_end)?;
        let (score, used) = read_score(self.buf, m_end)?;
        self.pos = m_end + used;
        Some((start, self.pos - start, member, score))
    }
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().map(|(_, _, m, s)| (m, s))
    }
}

impl Packed {
    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// (byte offset, index, score) of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut it = self.iter();
        let mut i = 0;
        while let Some((pos, _, m, s)) = it.next_entry() {
            if m == member {
                return Some((pos, i, s));
            }
            i += 1;
        }
        None
    }

    fn encode(member: &[u8], score: f64) -> Vec<u8> {
        let mut e = Vec::with_capacity(member.len() + 10);
        write_varint(&mut e, member.len());
        e.extend_from_slice(member);
        write_score(&mut e, score);
        e
    }

    /// Inserts a member known to be absent at its sorted position.
    fn insert_sorted(&mut self, member: &[u8], score: f64) {
        let mut it = self.iter();
        let mut at = self.buf.len();
        while let Some((pos, _, m, s)) = it.next_entry() {
            if cmp_elem(s, m, score, member) == Ordering::Greater {
                at = pos;
                break;
            }
        }
        let e = Self::encode(member, score);
        // Exact growth, like a listpack's realloc per insert: small sets are
        // numerous, so slack capacity would dominate their footprint.
        self.buf.reserve_exact(e.len());
        self.buf.splice(at..at, e);
        self.len += 1;
    }

    /// Appends an entry known to sort after every present one.
    fn push_back(&mut self, member: &[u8], score: f64) {
        write_varint(&mut self.buf, member.len());
        self.buf.extend_from_slice(member);
        write_score(&mut self.buf, score);
        self.len += 1;
    }

    fn remove_at(&mut self, pos: usize) {
        let mut it = PackedIter {
            buf: &self.buf,
            pos,
        };
        if let Some((_, elen, _, _)) = it.next_entry() {
            self.buf.drain(pos..pos + elen);
            self.len -= 1;
            if self.buf.capacity() > 2 * self.buf.len() + 64 {
                self.buf.shrink_to_fit();
            }
        }
    }

    fn remove_ranks(&mut self, start: usize, end: usize) {
        let mut it = self.iter();
        let (mut from, mut to) = (self.buf.len(), self.buf.len());
        let mut i = 0;
        while let Some((pos, _, _, _)) = it.next_entry() {
            if i == start {
                from = pos;
            }
            if i == end {
                to = pos;
                break;
            }
            i += 1;
        }
        if from < to {
            self.buf.drain(from..to);
            self.len -= end.min(self.len) - start;
        }
    }
}

// ---------------------------------------------------------------------------
// Ranked form

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    member: Bytes,
    score: f64,
    left: u32,
    right: u32,
    /// Number of nodes in this subtree (itself included).
    size: u32,
    /// Heap priority: a parent's is never lower than its children's.
    prio: u32,
}

/// Order-statistic treap in an arena.
#[derive(Clone, Debug)]
struct Treap {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    /// xorshift state for priorities (deterministic, no need for quality).
    seed: u32,
}

impl Default for Treap {
    fn default() -> Self {
        Treap {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9E37_79B9,
        }
    }
}

impl Treap {
    fn node(&self, i: u32) -> Option<&Node> {
        self.nodes.get(i as usize)
    }

    fn size(&self, i: u32) -> usize {
        self.node(i).map_or(0, |n| n.size as usize)
    }

    fn update(&mut self, i: u32) {
        let (l, r) = match self.node(i) {
            Some(n) => (n.left, n.right),
            None => return,
        };
        let s = 1 + self.size(l) + self.size(r);
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.size = u32::try_from(s).unwrap_or(u32::MAX);
        }
    }

    fn set_children(&mut self, i: u32, l: u32, r: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.left = l;
            n.right = r;
        }
        self.update(i);
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    fn alloc(&mut self, member: Bytes, score: f64, prio: u32) -> u32 {
        let node = Node {
            member,
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.nodes.get_mut(i as usize) {
                    *slot = node;
                }
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, i: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.member = Bytes::new();
            n.left = NIL;
            n.right = NIL;
            self.free.push(i);
        }
    }

    /// Splits `t` into (elements < key, elements >= key).
    fn split(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        let Some(n) = self.node(t) else {
            return (NIL, NIL);
        };
        let (l, r) = (n.left, n.right);
        if cmp_elem(n.score, &n.member, score, member) == Ordering::Less {
            let (a, b) = self.split(r, score, member);
            self.set_children(t, l, a);
            (t, b)
        } else {
            let (a, b) = self.split(l, score, member);
            self.set_children(t, b, r);
            (a, t)
        }
    }

    /// Splits `t` into (first `k` elements, the rest).
    fn split_at(&mut self, t: u32, k: usize) -> (u32, u32) {
        let Some(n) = self.node(t) else {
            return (NIL, NIL);
        };
        let (l, r) = (n.left, n.right);
        let ls = self.size(l);
        if k <= ls {
            let (a, b) = self.split_at(l, k);
            self.set_children(t, b, r);
            (a, t)
        } else {
            let (a, b) = self.split_at(r, k - ls - 1);
            self.set_children(t, l, a);
            (t, b)
        }
    }

    /// Joins two treaps where every element of `a` sorts before `b`'s.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        let (Some(na), Some(nb)) = (self.node(a), self.node(b)) else {
            return if a == NIL { b } else { a };
        };
        if na.prio >= nb.prio {
            let (l, r) = (na.left, na.right);
            let m = self.merge(r, b);
            self.set_children(a, l, m);
            a
        } else {
            let (l, r) = (nb.left, nb.right);
            let m = self.merge(a, l);
            self.set_children(b, m, r);
            b
        }
    }

    /// Points the link `parent` uses for one child (the root when `parent`
    /// is NIL) at `child`.
    fn relink(&mut self, parent: u32, left: bool, child: u32) {
        match self.nodes.get_mut(parent as usize) {
            Some(p) if left => p.left = child,
            Some(p) => p.right = child,
            None => self.root = child,
        }
    }

    /// Inserts an element known to be absent: descends (counting it in
    /// every subtree passed) until the new node's priority wins, splits
    /// only the subtree below that point and hangs the node there. One
    /// root-to-leaf walk, instead of a split of the whole tree and two
    /// merges.
    fn insert(&mut self, member: Bytes, score: f64) {
        let prio = self.next_prio();
        let (mut parent, mut left) = (NIL, false);
        let mut t = self.root;
        while let Some(n) = self.nodes.get_mut(t as usize) {
            if n.prio < prio {
                break;
            }
            n.size = n.size.saturating_add(1);
            left = cmp_elem(n.score, &n.member, score, &member) != Ordering::Less;
            parent = t;
            t = if left { n.left } else { n.right };
        }
        let (l, r) = self.split(t, score, &member);
        let n = self.alloc(member, score, prio);
        self.set_children(n, l, r);
        self.relink(parent, left, n);
    }

    /// Removes the element (score, member) and returns its member bytes;
    /// `None` (tree unchanged) if it is absent. Its children are merged in
    /// its place, so only the path to it is touched.
    fn remove(&mut self, member: &[u8], score: f64) -> Option<Bytes> {
        // First find it, so that a miss changes nothing ...
        let mut t = self.root;
        loop {
            let n = self.node(t)?;
            match cmp_elem(n.score, &n.member, score, member) {
                Ordering::Equal => break,
                Ordering::Less => t = n.right,
                Ordering::Greater => t = n.left,
            }
        }
        // ... then walk the same path again, uncounting it.
        let (mut parent, mut left) = (NIL, false);
        let mut c = self.root;
        while c != t {
            let Some(n) = self.nodes.get_mut(c as usize) else {
                break;
            };
            n.size = n.size.saturating_sub(1);
            left = cmp_elem(n.score, &n.member, score, member) == Ordering::Greater;
            parent = c;
            c = if left { n.left } else { n.right };
        }
        let (l, r) = self.node(t).map_or((NIL, NIL), |n| (n.left, n.right));
        let m = self.merge(l, r);
        self.relink(parent, left, m);
        let taken = self
            .nodes
            .get_mut(t as usize)
            .map(|n| std::mem::take(&mut n.member));
        self.release(t);
        taken
    }

    /// Number of elements sorting before (score, member).
    fn count_less(&self, score: f64, member: &[u8]) -> usize {
        self.count_prefix(&|s, m| cmp_elem(s, m, score, member) == Ordering::Less)
    }

    fn count_prefix(&self, pred: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while let Some(n) = self.node(t) {
            if pred(n.score, &n.member) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// Node at ascending rank `k`.
    fn select(&self, mut k: usize) -> Option<u32> {
        let mut t = self.root;
        while let Some(n) = self.node(t) {
            let ls = self.size(n.left);
            match k.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some(t),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// `count` elements from ascending rank `start`, in order: descend to
    /// the start keeping the ancestors still to visit, then walk in order.
    fn range(&self, start: usize, count: usize) -> Vec<(Bytes, f64)> {
        let mut out = Vec::with_capacity(count.min(self.size(self.root)));
        let mut stack = Vec::new();
        let mut t = self.root;
        let mut k = start;
        while let Some(n) = self.node(t) {
            let ls = self.size(n.left);
            if k < ls {
                stack.push(t);
                t = n.left;
            } else if k == ls {
                stack.push(t);
                break;
            } else {
                k -= ls + 1;
                t = n.right;
            }
        }
        while out.len() < count {
            let Some(i) = stack.pop() else { break };
            let Some(n) = self.node(i) else { break };
            out.push((n.member.clone(), n.score));
            let mut c = n.right;
            while let Some(cn) = self.node(c) {
                stack.push(c);
                c = cn.left;
            }
        }
        out
    }

    fn collect(&self, t: u32, out: &mut Vec<u32>) {
        let mut stack = Vec::new();
        let mut c = t;
        loop {
            while let Some(n) = self.node(c) {
                stack.push(c);
                c = n.left;
            }
            let Some(i) = stack.pop() else { return };
            out.push(i);
            c = self.node(i).map_or(NIL, |n| n.right);
        }
    }
}

/// The large form: hash table plus order-statistic treap.
#[derive(Clone, Debug, Default)]
pub struct Ranked {
    map: Dict<Bytes, f64>,
    tree: Treap,
}

impl ZSetValue {
    /// `n` steps of a resize in progress of the member table.
    #[inline]
    pub fn rehash_steps(&mut self, n: usize) {
        if let ZSetValue::Ranked(r) = self {
            if r.map.is_rehashing() {
                r.map.rehash_steps(n);
            }
        }
    }

    /// The statistics of the member table (large encoding only).
    pub fn table_stats(&self) -> Option<String> {
        match self {
            ZSetValue::Ranked(r) => Some(r.map.stats_text()),
            ZSetValue::Compact(_) => None,
        }
    }
}

impl Ranked {
    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        match self.map.get_mut(member) {
            Some(old) => {
                if old.to_bits() != score.to_bits() {
                    let prev = *old;
                    *old = score;
                    // The node's member bytes move to the new node.
                    let m = self
                        .tree
                        .remove(member, prev)
                        .unwrap_or_else(|| Bytes::copy_from_slice(member));
                    self.tree.insert(m, score);
                }
                false
            }
            None => {
                let m = Bytes::copy_from_slice(member);
                self.map.insert(m.clone(), score);
                self.tree.insert(m, score);
                true
            }
        }
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.map.remove(member) {
            Some((_, s)) => {
                self.tree.remove(member, s);
                self.map.shrink_if_needed();
                true
            }
            None => false,
        }
    }

    fn remove_range(&mut self, start: usize, count: usize) -> Vec<(Bytes, f64)> {
        let (a, b) = self.tree.split_at(self.tree.root, start);
        let (mid, c) = self.tree.split_at(b, count);
        let mut idx = Vec::new();
        self.tree.collect(mid, &mut idx);
        let mut out = Vec::with_capacity(idx.len());
        for i in idx {
            if let Some(n) = self.tree.nodes.get(i as usize) {
                out.push((n.member.clone(), n.score));
                self.map.remove(&n.member[..]);
            }
            self.tree.release(i);
        }
        self.tree.root = self.tree.merge(a, c);
        self.map.shrink_if_needed();
        out
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        let mut idx = Vec::with_capacity(self.map.len());
        self.tree.collect(self.tree.root, &mut idx);
        for i in idx {
            if let Some(n) = self.tree.node(i) {
                f(&n.member, n.score);
            }
        }
    }
}

#[cfg(test)]
#[path = "zset_tests.rs"]
mod tests;
