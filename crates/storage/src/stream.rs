//! Stream type API (upstream `t_stream.c`, storage half; the commands live
//! in `redis_commands::stream`).
//!
//! # Representation
//!
//! In the spirit of upstream's radix tree of listpacks: an ordered map from
//! a node's *master ID* (the ID of the first entry ever appended to it) to a
//! compact [`Node`] holding many entries packed in one byte buffer. Each
//! packed entry is
//!
//! ```text
//! flags:u8  ms-delta:varint  seq:varint  npairs:varint  (len:varint bytes){2*npairs}
//! ```
//!
//! where `ms-delta` is relative to the master ID. Appends go to the last
//! node until it reaches `stream-node-max-entries` entries (live and
//! deleted) or `stream-node-max-bytes` bytes, as upstream decides when to
//! open a new listpack. `XDEL` only flags an entry as deleted (a tombstone)
//! and drops the node when its last live entry goes; trimming removes whole
//! nodes and, for exact trimming, flags entries of the first node. Keeping
//! the same node boundaries as upstream matters because approximate (`~`)
//! trimming and `XINFO STREAM`'s `radix-tree-keys` expose them.
//!
//! Consumer groups are kept in name order (upstream uses radix trees keyed
//! by name, so iteration is in byte order), each with its pending entries
//! list (PEL) and consumers, each consumer with its own PEL of IDs.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::digest::{self as dg, DIGEST_LEN};

/// A stream entry ID `ms-seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The greatest possible ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Builds an ID.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// True for `0-0`.
    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID, `None` after the greatest one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            return Some(StreamId::new(self.ms + 1, 0));
        }
        Some(StreamId::new(self.ms, self.seq + 1))
    }

    /// The previous ID, `None` before `0-0`.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            return Some(StreamId::new(self.ms - 1, u64::MAX));
        }
        Some(StreamId::new(self.ms, self.seq - 1))
    }

    /// The ID an auto-generated `XADD *` gets after `last` at time `now_ms`
    /// (upstream `streamNextID`): the clock, or `last` + 1 when the clock
    /// did not move forward. `None` when the ID space is exhausted.
    pub fn next_after(last: StreamId, now_ms: u64) -> Option<StreamId> {
        if now_ms > last.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            last.incr()
        }
    }

    /// Parses `<ms>-<seq>` / `<ms>` (the sequence then being `missing_seq`)
    /// like upstream's `streamGenericParseIDOrReply`: `-` and `+` are the
    /// extremes unless `strict`, and with `allow_seq_star` the form `<ms>-*`
    /// yields `(id, false)` (sequence to be generated). `None` is "Invalid
    /// stream ID".
    pub fn parse(
        arg: &[u8],
        missing_seq: u64,
        strict: bool,
        allow_seq_star: bool,
    ) -> Option<(StreamId, bool)> {
        // Upstream copies the argument into a 128-byte C buffer.
        if arg.len() > 127 {
            return None;
        }
        // A C string ends at the first NUL byte.
        let arg = match arg.iter().position(|&b| b == 0) {
            Some(p) => &arg[..p],
            None => arg,
        };
        if arg == b"-" || arg == b"+" {
            if strict {
                return None;
            }
            return Some(if arg == b"-" {
                (StreamId::MIN, true)
            } else {
                (StreamId::MAX, true)
            });
        }
        match arg.iter().position(|&b| b == b'-') {
            None => Some((StreamId::new(parse_ull(arg)?, missing_seq), true)),
            Some(p) => {
                let ms = parse_ull(&arg[..p])?;
                let rest = &arg[p + 1..];
                if allow_seq_star && rest == b"*" {
                    return Some((StreamId::new(ms, 0), false));
                }
                Some((StreamId::new(ms, parse_ull(rest)?), true))
            }
        }
    }

    /// The 16-byte big-endian form (radix tree keys of upstream).
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Unsigned parsing as upstream's `string2ull`: a canonical signed 64-bit
/// number must not be negative; anything else goes through C `strtoull`
/// (leading spaces and a sign allowed, a minus negates modulo 2^64).
fn parse_ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::string::parse_i64_strict(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`;
/// 0 means unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    /// Upstream's defaults.
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// Upstream caps a listpack at 1 GiB whatever the configured byte limit.
const NODE_HARD_MAX_BYTES: usize = 1 << 30;

const FLAG_DELETED: u8 = 1;

/// A packed run of entries (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
struct Node {
    data: Vec<u8>,
    /// Entries in `data`, deleted ones included.
    count: usize,
    /// Entries not flagged deleted.
    live: usize,
    /// ID of the last entry in `data` (deleted or not).
    last: StreamId,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

/// One entry as stored: its ID and a view of its field/value pairs.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    pub deleted: bool,
    npairs: usize,
    /// The packed pairs.
    pairs: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// Number of field/value pairs.
    pub fn num_pairs(&self) -> usize {
        self.npairs
    }

    /// The field/value pairs in insertion order.
    pub fn pairs(&self) -> PairIter<'a> {
        PairIter {
            data: self.pairs,
            pos: 0,
            left: self.npairs,
        }
    }

    /// The pairs as owned byte strings.
    pub fn to_pairs(&self) -> Vec<(Bytes, Bytes)> {
        self.pairs()
            .map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)))
            .collect()
    }
}

/// Iterator over the pairs of an [`EntryRef`].
#[derive(Clone, Debug)]
pub struct PairIter<'a> {
    data: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> PairIter<'a> {
    fn item(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(get_varint(self.data, &mut self.pos)?).ok()?;
        let end = self.pos.checked_add(len)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

impl<'a> Iterator for PairIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let f = self.item()?;
        let v = self.item()?;
        Some((f, v))
    }
}

impl Node {
    /// Decodes the entry at `pos`; returns it and the position of the next.
    fn decode(&self, master: StreamId, pos: usize) -> Option<(EntryRef<'_>, usize)> {
        let data = &self.data;
        let flags = *data.get(pos)?;
        let mut p = pos + 1;
        let ms = master.ms.checked_add(get_varint(data, &mut p)?)?;
        let seq = get_varint(data, &mut p)?;
        let npairs = usize::try_from(get_varint(data, &mut p)?).ok()?;
        let start = p;
        for _ in 0..npairs * 2 {
            let len = usize::try_from(get_varint(data, &mut p)?).ok()?;
            p = p.checked_add(len)?;
        }
        let pairs = data.get(start..p)?;
        Some((
            EntryRef {
                id: StreamId::new(ms, seq),
                deleted: flags & FLAG_DELETED != 0,
                npairs,
                pairs,
            },
            p,
        ))
    }

    /// Start offsets of every entry, in order.
    fn offsets(&self, master: StreamId) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.count);
        let mut pos = 0;
        while pos < self.data.len() {
            let Some((_, next)) = self.decode(master, pos) else {
                break;
            };
            v.push(pos);
            pos = next;
        }
        v
    }

    fn append(&mut self, master: StreamId, id: StreamId, pairs: &[Bytes]) {
        self.data.push(0);
        put_varint(&mut self.data, id.ms - master.ms);
        put_varint(&mut self.data, id.seq);
        put_varint(&mut self.data, (pairs.len() / 2) as u64);
        for p in pairs {
            put_varint(&mut self.data, p.len() as u64);
            self.data.extend_from_slice(p);
        }
        self.count += 1;
        self.live += 1;
        self.last = id;
    }
}

/// A pending entry of a consumer group (upstream `streamNACK`).
#[derive(Clone, Debug, PartialEq)]
pub struct Nack {
    /// The consumer owning it.
    pub consumer: Bytes,
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// Unix ms the consumer was last seen (7.0 has only this time).
    pub seen_time: i64,
    /// IDs of the group PEL entries it owns.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter; `None` when unknown (upstream's -1).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name (byte order, as upstream's radix tree).
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// A group starting after `last_id`.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    /// Removes `id` from the group PEL and its owner's PEL; true if it was
    /// pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(n) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&n.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Deletes a consumer and its pending entries; returns how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

/// How a trim selects entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries with a smaller ID.
    MinId(StreamId),
}

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    /// Consumer groups by name (byte order).
    pub groups: BTreeMap<Bytes, Group>,
}

impl StreamValue {
    /// An empty stream.
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        usize::try_from(self.length).unwrap_or(usize::MAX)
    }

    /// True without entries (streams may exist empty, unlike collections).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Allocations freeing the stream takes, roughly: one per node, one per
    /// consumer group and one per pending entry of each group.
    pub fn free_effort(&self) -> usize {
        self.nodes.len()
            + self
                .groups
                .values()
                .map(|g| 1 + g.pel.len() + g.consumers.len())
                .sum::<usize>()
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        let mut n = 64;
        for node in self.nodes.values() {
            n += node.data.capacity() + 64;
        }
        for (name, g) in &self.groups {
            n += name.len() + 64 + g.pel.len() * 64;
            for (cname, c) in &g.consumers {
                n += cname.len() + 48 + c.pel.len() * 32;
            }
        }
        n
    }

    /// The type-specific part of `DEBUG DIGEST` (see [`crate::digest`]).
    pub fn digest(&self, d: &mut [u8; DIGEST_LEN]) {
        dg::begin_object(d, dg::ObjType::Stream);
        self.for_each(StreamId::MIN, StreamId::MAX, false, |e| {
            dg::mix_digest(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
            for (f, v) in e.pairs() {
                dg::mix_digest(d, f);
                dg::mix_digest(d, v);
            }
            true
        });
    }

    /// Greatest ID ever added (or set by `XSETID`).
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// First live entry's ID as recorded (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    /// Greatest ID ever deleted.
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    /// Count of entries ever added.
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// `XSETID`: overrides the stream's counters.
    pub fn set_meta(
        &mut self,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        self.last_id = last_id;
        if let Some(n) = entries_added {
            self.entries_added = n;
        }
        if let Some(m) = max_deleted {
            self.max_deleted_id = m;
        }
    }

    /// Restores every counter at once (RDB load).
    pub fn restore_meta(
        &mut self,
        last_id: StreamId,
        first_id: StreamId,
        max_deleted: StreamId,
        entries_added: u64,
    ) {
        self.last_id = last_id;
        self.first_id = first_id;
        self.max_deleted_id = max_deleted;
        self.entries_added = entries_added;
    }

    /// Appends an entry with `id` (which the caller checked is greater than
    /// [`Self::last_id`]) and the flat field/value list `pairs`.
    pub fn append(&mut self, id: StreamId, pairs: &[Bytes], lim: NodeLimits) {
        let elelen: usize = pairs.iter().map(|p| p.len()).sum();
        let max_bytes = if lim.max_bytes == 0 || lim.max_bytes > NODE_HARD_MAX_BYTES {
            NODE_HARD_MAX_BYTES
        } else {
            lim.max_bytes
        };
        let need_new = match self.nodes.iter().next_back() {
            None => true,
            Some((_, n)) => {
                n.data.len() + elelen >= max_bytes
                    || (lim.max_entries != 0 && n.count >= lim.max_entries)
            }
        };
        if need_new {
            self.nodes.insert(id, Node::default());
        }
        if let Some((master, node)) = self.nodes.iter_mut().next_back() {
            node.append(*master, id, pairs);
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Visits live entries with IDs in `[start, end]`, ascending or (with
    /// `rev`) descending, until `f` returns false.
    pub fn for_each<'s>(
        &'s self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        f: impl FnMut(EntryRef<'s>) -> bool,
    ) {
        self.walk(start, end, rev, false, f);
    }

    fn walk<'s>(
        &'s self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        tombstones: bool,
        mut f: impl FnMut(EntryRef<'s>) -> bool,
    ) {
        if start > end {
            return;
        }
        // The node holding `start` is the last one whose master is <= start.
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let iter = self.nodes.range(from..=end);
        let visit = |master: &StreamId, node: &'s Node, f: &mut dyn FnMut(EntryRef<'s>) -> bool| {
            let offs = node.offsets(*master);
            let mut emit = |pos: usize| -> Option<bool> {
                let (e, _) = node.decode(*master, pos)?;
                if e.id < start || e.id > end || (e.deleted && !tombstones) {
                    return Some(true);
                }
                Some(f(e))
            };
            if rev {
                for &p in offs.iter().rev() {
                    if emit(p) == Some(false) {
                        return false;
                    }
                }
            } else {
                for &p in &offs {
                    if emit(p) == Some(false) {
                        return false;
                    }
                }
            }
            true
        };
        if rev {
            for (m, n) in iter.rev() {
                if n.last < start {
                    break;
                }
                if !visit(m, n, &mut f) {
                    return;
                }
            }
        } else {
            for (m, n) in iter {
                if !visit(m, n, &mut f) {
                    return;
                }
            }
        }
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let mut found = None;
        self.for_each(id, id, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    /// The first (or last) entry ID, tombstones included or not
    /// (upstream `streamGetEdgeID`); the empty stream yields `MAX` for the
    /// first and `MIN` for the last edge.
    pub fn edge_id(&self, first: bool, skip_tombstones: bool) -> StreamId {
        let mut found = None;
        self.walk(
            StreamId::MIN,
            StreamId::MAX,
            !first,
            !skip_tombstones,
            |e| {
                found = Some(e.id);
                false
            },
        );
        found.unwrap_or(if first { StreamId::MAX } else { StreamId::MIN })
    }

    /// Flags the live entry `id` deleted (upstream `streamDeleteItem`); a
    /// node losing its last live entry is dropped. Does not touch
    /// `first_id`/`max_deleted_id` (see [`Self::delete_ids`]).
    fn delete_one(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let mut pos = 0;
        let mut hit = None;
        while pos < node.data.len() {
            let Some((e, next)) = node.decode(master, pos) else {
                break;
            };
            if e.id == id {
                if !e.deleted {
                    hit = Some(pos);
                }
                break;
            }
            if e.id > id {
                break;
            }
            pos = next;
        }
        let Some(pos) = hit else {
            return false;
        };
        if let Some(flag) = node.data.get_mut(pos) {
            *flag |= FLAG_DELETED;
        }
        node.live -= 1;
        if node.live == 0 {
            self.nodes.remove(&master);
        }
        self.length -= 1;
        true
    }

    /// `XDEL`: deletes the given IDs, maintaining the first ID and the
    /// greatest deleted ID like upstream; returns how many were deleted.
    pub fn delete_ids(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete_one(id) {
                if id == self.first_id {
                    first_entry = true;
                }
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_entry {
                self.first_id = self.edge_id(true, true);
            }
        }
        deleted
    }

    /// Trims like upstream's `streamTrim`: whole nodes first; with `approx`
    /// only whole nodes, otherwise entries of the first remaining node are
    /// flagged deleted too. `limit` (0: none) bounds the entries removed.
    /// Returns how many entries were removed.
    pub fn trim(&mut self, strategy: TrimStrategy, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        while let Some((&master, node)) = self.nodes.iter_mut().next() {
            if let TrimStrategy::MaxLen(max) = strategy {
                if self.length <= max {
                    break;
                }
            }
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match strategy {
                TrimStrategy::MaxLen(max) => self.length - entries >= max,
                TrimStrategy::MinId(min) => node.last < min,
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut pos = 0;
            while pos < node.data.len() {
                let Some((e, next)) = node.decode(master, pos) else {
                    break;
                };
                let stop = match strategy {
                    TrimStrategy::MaxLen(max) => self.length <= max,
                    TrimStrategy::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    if let Some(flag) = node.data.get_mut(pos) {
                        *flag |= FLAG_DELETED;
                    }
                    node.live -= 1;
                    self.length -= 1;
                    deleted += 1;
                }
                pos = next;
            }
            // Like upstream, a node whose live entries were all flagged
            // here (its last entry being an older tombstone) stays in the
            // tree until a later trim or append drops or fills it.
            break;
        }
        self.first_id = if self.length > 0 {
            self.edge_id(true, true)
        } else {
            StreamId::MIN
        };
        deleted
    }

    /// The last live entry's ID (upstream `streamLastValidID`); `MIN` when
    /// empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false, true)
    }

    /// Number of nodes (`XINFO STREAM`'s `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of radix tree nodes upstream's rax would use for the node
    /// keys (`radix-tree-nodes`): the compressed trie over the 16-byte
    /// big-endian master IDs has a node at the root, at every branching
    /// point, at every child of a branching point, and at every leaf, with
    /// one compressed node standing for each single-child chain.
    pub fn radix_node_count(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.to_be_bytes()).collect();
        if keys.is_empty() {
            return 1;
        }
        trie_nodes(&keys, 0)
    }

    /// `true` when `[start, end]` may hold tombstones (upstream
    /// `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical read counter of `id` when it can be known (upstream
    /// `streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            }
            if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag, `None` when unknowable (upstream
    /// `streamReplyWithCGLag`).
    pub fn group_lag(&self, g: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id, StreamId::MAX) {
                return Some(self.entries_added.saturating_sub(read));
            }
        }
        self.estimate_distance(g.last_id)
            .map(|r| self.entries_added.saturating_sub(r))
    }
}

/// Nodes of the compressed trie holding `keys` (sorted, distinct, equal
/// length, sharing their first `depth` bytes), counted from a node that
/// starts at `depth`.
fn trie_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return 0;
    };
    let mut l = depth;
    while l < 16 && first[l] == last[l] {
        l += 1;
    }
    // A compressed node for the shared chain, if any.
    let mut n = usize::from(l > depth);
    // The node at the end of the chain: a leaf or a branching node.
    n += 1;
    if l < 16 {
        let mut i = 0;
        while i < keys.len() {
            let b = keys[i][l];
            let mut j = i;
            while j < keys.len() && keys[j][l] == b {
                j += 1;
            }
            n += trie_nodes(&keys[i..j], l + 1);
            i = j;
        }
    }
    n
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
