//! The RDB writer.
//!
//! Encodings written (all loadable by Redis 7.0, chosen for load speed and
//! to match what 7.0 itself writes for small values):
//! - strings: integer encodings for short canonical integers, LZF for
//!   strings over 20 bytes when compression is on and it saves space;
//! - lists: `LIST_QUICKLIST_2`, packed listpack nodes filled by the
//!   `list-max-listpack-size` rule (plain nodes for elements >= 1 GB);
//! - sets: `SET_INTSET` when all members are canonical integers and there
//!   are at most `set-max-intset-entries`, else plain `SET`;
//! - sorted sets: `ZSET_LISTPACK` (sorted by score, member) within the
//!   `zset-max-listpack-*` limits, else `ZSET_2` (binary doubles);
//! - hashes: `HASH_LISTPACK` within the `hash-max-listpack-*` limits, else
//!   plain `HASH`;
//! - streams: `STREAM_LISTPACKS_2` with nodes of at most
//!   `stream-node-max-entries` entries / about `stream-node-max-bytes`;
//! - module values: `MODULE_2` with the raw data they were read with.

use std::io::{self, Write};

use bytes::Bytes;

use crate::compact::{intset_encode, ListpackBuilder};
use crate::consts::*;
use crate::crc64::crc64;
use crate::lzf;
use crate::model::*;
use crate::numfmt::{canonical_i64, d2string};

/// Elements at least this long get their own plain quicklist node.
pub const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;

/// Settings that shape the output (names follow the server's config).
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes.
    pub compression: bool,
    /// `rdbchecksum`: write the CRC64 trailer (0 when off).
    pub checksum: bool,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size` (negative: size class, positive: count).
    pub list_max_listpack_size: i64,
    /// `stream-node-max-entries` (0 = unlimited).
    pub stream_node_max_entries: usize,
    /// `stream-node-max-bytes` (0 = unlimited).
    pub stream_node_max_bytes: usize,
    /// List elements this long or longer are written as plain nodes
    /// (`DEBUG QUICKLIST-PACKED-THRESHOLD`, default 1 GB).
    pub packed_threshold: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compression: true,
            checksum: true,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            stream_node_max_entries: 100,
            stream_node_max_bytes: 4096,
            packed_threshold: DEFAULT_PACKED_THRESHOLD,
        }
    }
}

/// A byte sink that keeps the running CRC64.
pub(crate) struct Out<W> {
    pub(crate) inner: W,
    pub(crate) crc: u64,
}

impl<W: Write> Out<W> {
    pub(crate) fn new(inner: W) -> Out<W> {
        Out { inner, crc: 0 }
    }

    pub(crate) fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc = crc64(self.crc, b);
        self.inner.write_all(b)
    }

    fn u8(&mut self, b: u8) -> io::Result<()> {
        self.put(&[b])
    }

    pub(crate) fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.u8(n as u8)
        } else if n < 1 << 14 {
            self.put(&[0x40 | (n >> 8) as u8, (n & 0xff) as u8])
        } else if n <= u32::MAX as u64 {
            self.u8(0x80)?;
            self.put(&(n as u32).to_be_bytes())
        } else {
            self.u8(0x81)?;
            self.put(&n.to_be_bytes())
        }
    }

    /// Writes a string with the integer and LZF encodings when they apply.
    pub(crate) fn string(&mut self, s: &[u8], compress: bool) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = canonical_i64(s) {
                if let Ok(b) = i8::try_from(v) {
                    return self.put(&[0xc0, b as u8]);
                }
                if let Ok(h) = i16::try_from(v) {
                    self.u8(0xc1)?;
                    return self.put(&h.to_le_bytes());
                }
                if let Ok(w) = i32::try_from(v) {
                    self.u8(0xc2)?;
                    return self.put(&w.to_le_bytes());
                }
            }
        }
        if compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s, s.len() - 4) {
                self.u8(0xc3)?;
                self.len(c.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.put(&c);
            }
        }
        self.len(s.len() as u64)?;
        self.put(s)
    }

    fn id_be(&mut self, id: StreamId) -> io::Result<()> {
        self.put(&id.to_be_bytes())
    }

    fn id_lens(&mut self, id: StreamId) -> io::Result<()> {
        self.len(id.ms)?;
        self.len(id.seq)
    }
}

/// The encoding chosen for a value.
pub(crate) fn value_type(v: &RdbValue, o: &WriterOptions) -> u8 {
    match v {
        RdbValue::String(_) => TYPE_STRING,
        RdbValue::List(_) => TYPE_LIST_QUICKLIST_2,
        RdbValue::Set(m) => {
            if m.len() <= o.set_max_intset_entries && m.iter().all(|s| canonical_i64(s).is_some()) {
                TYPE_SET_INTSET
            } else {
                TYPE_SET
            }
        }
        RdbValue::ZSet(m) => {
            if m.len() <= o.zset_max_listpack_entries
                && m.iter().all(|(s, _)| s.len() <= o.zset_max_listpack_value)
            {
                TYPE_ZSET_LISTPACK
            } else {
                TYPE_ZSET_2
            }
        }
        RdbValue::Hash(p) => {
            if p.len() <= o.hash_max_listpack_entries
                && p.iter().all(|(f, v)| {
                    f.len() <= o.hash_max_listpack_value && v.len() <= o.hash_max_listpack_value
                })
            {
                TYPE_HASH_LISTPACK
            } else {
                TYPE_HASH
            }
        }
        RdbValue::Stream(_) => TYPE_STREAM_LISTPACKS_2,
        RdbValue::Module { .. } => TYPE_MODULE_2,
    }
}

/// Upstream's quicklist rule: may an element of `sz` bytes join a node of
/// `node_sz` bytes holding `count` elements?
fn quicklist_allows(fill: i64, node_sz: usize, count: usize, sz: usize) -> bool {
    const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    const SIZE_SAFETY_LIMIT: usize = 8192;
    let new_sz = node_sz + sz + 8;
    let new_count = count + 1;
    if new_count > u16::MAX as usize {
        return false;
    }
    if fill >= 0 {
        let limit = if fill == 0 { 1 } else { fill as usize };
        new_sz <= SIZE_SAFETY_LIMIT && new_count <= limit
    } else {
        let level = ((-fill - 1) as usize).min(OPTIMIZATION_LEVEL.len() - 1);
        new_sz <= OPTIMIZATION_LEVEL[level]
    }
}

fn sorted_zset(m: &[(Bytes, f64)]) -> Vec<&(Bytes, f64)> {
    let mut v: Vec<&(Bytes, f64)> = m.iter().collect();
    v.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    v
}

/// Writes the value body for type `t` (from [`value_type`]).
pub(crate) fn write_value<W: Write>(
    out: &mut Out<W>,
    v: &RdbValue,
    t: u8,
    o: &WriterOptions,
) -> io::Result<()> {
    let c = o.compression;
    match v {
        RdbValue::String(s) => out.string(s, c),
        RdbValue::List(items) => {
            // Group first so the node count can be written before the nodes.
            enum Node {
                Plain(usize),
                Packed(ListpackBuilder),
            }
            let mut nodes: Vec<Node> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if item.len() >= o.packed_threshold {
                    nodes.push(Node::Plain(i));
                    continue;
                }
                match nodes.last_mut() {
                    Some(Node::Packed(lp))
                        if quicklist_allows(
                            o.list_max_listpack_size,
                            lp.byte_len(),
                            lp.count(),
                            item.len(),
                        ) =>
                    {
                        lp.push(item)
                    }
                    _ => {
                        let mut lp = ListpackBuilder::new();
                        lp.push(item);
                        nodes.push(Node::Packed(lp));
                    }
                }
            }
            out.len(nodes.len() as u64)?;
            for node in nodes {
                match node {
                    Node::Plain(i) => {
                        out.len(QUICKLIST_NODE_PLAIN)?;
                        out.string(&items[i], c)?;
                    }
                    Node::Packed(lp) => {
                        out.len(QUICKLIST_NODE_PACKED)?;
                        out.string(&lp.finish(), c)?;
                    }
                }
            }
            Ok(())
        }
        RdbValue::Set(members) => {
            if t == TYPE_SET_INTSET {
                let mut ints: Vec<i64> = members.iter().filter_map(|m| canonical_i64(m)).collect();
                ints.sort_unstable();
                ints.dedup();
                out.string(&intset_encode(&ints), c)
            } else {
                out.len(members.len() as u64)?;
                for m in members {
                    out.string(m, c)?;
                }
                Ok(())
            }
        }
        RdbValue::ZSet(members) => {
            if t == TYPE_ZSET_LISTPACK {
                let mut lp = ListpackBuilder::new();
                for (m, score) in sorted_zset(members) {
                    lp.push(m);
                    lp.push(d2string(*score).as_bytes());
                }
                out.string(&lp.finish(), c)
            } else {
                // Highest score first, like upstream, so loading (which
                // inserts at the head) stays cheap.
                out.len(members.len() as u64)?;
                for (m, score) in sorted_zset(members).into_iter().rev() {
                    out.string(m, c)?;
                    out.put(&score.to_le_bytes())?;
                }
                Ok(())
            }
        }
        RdbValue::Hash(pairs) => {
            if t == TYPE_HASH_LISTPACK {
                let mut lp = ListpackBuilder::new();
                for (f, v) in pairs {
                    lp.push(f);
                    lp.push(v);
                }
                out.string(&lp.finish(), c)
            } else {
                out.len(pairs.len() as u64)?;
                for (f, v) in pairs {
                    out.string(f, c)?;
                    out.string(v, c)?;
                }
                Ok(())
            }
        }
        RdbValue::Stream(s) => write_stream(out, s, o),
        RdbValue::Module { module_id, raw } => {
            out.len(*module_id)?;
            out.put(raw)
        }
    }
}

/// Builds one stream listpack node from `entries` (non-empty).
fn stream_node(entries: &[StreamEntry]) -> (StreamId, Vec<u8>) {
    let master = entries[0].id;
    let master_fields: Vec<&Bytes> = entries[0].fields.iter().map(|(f, _)| f).collect();
    let mut lp = ListpackBuilder::new();
    lp.push_int(entries.len() as i64);
    lp.push_int(0);
    lp.push_int(master_fields.len() as i64);
    for f in &master_fields {
        lp.push(f);
    }
    lp.push_int(0);
    for e in entries {
        let same = e.fields.len() == master_fields.len()
            && e.fields
                .iter()
                .zip(&master_fields)
                .all(|((f, _), m)| f == *m);
        let ms_diff = e.id.ms.wrapping_sub(master.ms) as i64;
        let seq_diff = e.id.seq.wrapping_sub(master.seq) as i64;
        if same {
            lp.push_int(STREAM_ITEM_FLAG_SAMEFIELDS);
            lp.push_int(ms_diff);
            lp.push_int(seq_diff);
            for (_, v) in &e.fields {
                lp.push(v);
            }
            lp.push_int(e.fields.len() as i64 + 3);
        } else {
            lp.push_int(0);
            lp.push_int(ms_diff);
            lp.push_int(seq_diff);
            lp.push_int(e.fields.len() as i64);
            for (f, v) in &e.fields {
                lp.push(f);
                lp.push(v);
            }
            lp.push_int(2 * e.fields.len() as i64 + 4);
        }
    }
    (master, lp.finish())
}

fn write_stream<W: Write>(out: &mut Out<W>, s: &StreamValue, o: &WriterOptions) -> io::Result<()> {
    // Split into nodes by entry count and an estimate of the node size.
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    let mut start = 0usize;
    let mut bytes = 0usize;
    for (i, e) in s.entries.iter().enumerate() {
        let size: usize = 8 + e
            .fields
            .iter()
            .map(|(f, v)| f.len() + v.len() + 4)
            .sum::<usize>();
        let count = i - start;
        let full = count > 0
            && ((o.stream_node_max_entries > 0 && count >= o.stream_node_max_entries)
                || (o.stream_node_max_bytes > 0 && bytes + size > o.stream_node_max_bytes));
        if full {
            bounds.push((start, i));
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < s.entries.len() {
        bounds.push((start, s.entries.len()));
    }
    out.len(bounds.len() as u64)?;
    for (a, b) in bounds {
        let (master, lp) = stream_node(&s.entries[a..b]);
        out.string(&master.to_be_bytes(), false)?;
        out.string(&lp, o.compression)?;
    }
    out.len(s.entries.len() as u64)?;
    out.id_lens(s.last_id)?;
    out.id_lens(s.first_id)?;
    out.id_lens(s.max_deleted_id)?;
    out.len(s.entries_added)?;
    out.len(s.groups.len() as u64)?;
    for g in &s.groups {
        out.string(&g.name, o.compression)?;
        out.id_lens(g.last_id)?;
        out.len(g.entries_read as u64)?;
        out.len(g.pel.len() as u64)?;
        for p in &g.pel {
            out.id_be(p.id)?;
            out.put(&p.delivery_time_ms.to_le_bytes())?;
            out.len(p.delivery_count)?;
        }
        out.len(g.consumers.len() as u64)?;
        for cons in &g.consumers {
            out.string(&cons.name, o.compression)?;
            out.put(&cons.seen_time_ms.to_le_bytes())?;
            out.len(cons.pending.len() as u64)?;
            for id in &cons.pending {
                out.id_be(*id)?;
            }
        }
    }
    Ok(())
}

/// Writes an RDB file. Call [`RdbWriter::finish`] at the end: a writer
/// dropped without it leaves a file with no EOF marker, which loaders
/// reject.
pub struct RdbWriter<W: Write> {
    out: Out<W>,
    opts: WriterOptions,
    db: Option<u32>,
}

impl<W: Write> RdbWriter<W> {
    /// Writes the `REDIS0010` header. Pass a buffered writer.
    pub fn new(inner: W, opts: WriterOptions) -> io::Result<RdbWriter<W>> {
        let mut out = Out::new(inner);
        out.put(format!("REDIS{:04}", RDB_VERSION).as_bytes())?;
        Ok(RdbWriter {
            out,
            opts,
            db: None,
        })
    }

    /// The options in use.
    pub fn options(&self) -> &WriterOptions {
        &self.opts
    }

    /// Writes an AUX field (numeric values get the integer encoding, as
    /// upstream's `redis-bits`, `ctime`, ... do).
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.out.u8(OP_AUX)?;
        self.out.string(key, false)?;
        self.out.string(value, false)
    }

    /// The AUX fields upstream writes at the start of every file:
    /// `redis-ver`, `redis-bits`, `ctime`, `used-mem`, then `aof-base`.
    /// Replication fields (`repl-stream-db`, `repl-id`, `repl-offset`), when
    /// wanted, go between `used-mem` and `aof-base`: use [`RdbWriter::aux`].
    pub fn standard_aux(
        &mut self,
        redis_ver: &str,
        ctime_secs: i64,
        used_mem: u64,
    ) -> io::Result<()> {
        self.aux(b"redis-ver", redis_ver.as_bytes())?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", ctime_secs.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())
    }

    /// Writes a module aux record.
    pub fn module_aux(&mut self, m: &ModuleAux) -> io::Result<()> {
        self.out.u8(OP_MODULE_AUX)?;
        self.out.len(m.module_id)?;
        self.out.len(MODULE_OPCODE_UINT)?;
        self.out.len(m.when)?;
        self.out.put(&m.raw)
    }

    /// Writes a function library (FUNCTION2 opcode) from its source code.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.out.u8(OP_FUNCTION2)?;
        self.out.string(code, self.opts.compression)
    }

    /// Starts database `db`: SELECTDB plus the RESIZEDB size hints.
    pub fn select_db(&mut self, db: u32, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.out.u8(OP_SELECTDB)?;
        self.out.len(db as u64)?;
        self.out.u8(OP_RESIZEDB)?;
        self.out.len(db_size)?;
        self.out.len(expires_size)?;
        self.db = Some(db);
        Ok(())
    }

    /// Writes one key (a SELECTDB is added if `e.db` is not the current
    /// database).
    pub fn entry(&mut self, e: &RdbEntry) -> io::Result<()> {
        self.entry_head(e.db, e.expire_ms)?;
        if let Some(idle) = e.lru_idle {
            self.out.u8(OP_IDLE)?;
            self.out.len(idle)?;
        }
        if let Some(freq) = e.lfu_freq {
            self.out.u8(OP_FREQ)?;
            self.out.u8(freq)?;
        }
        let t = value_type(&e.value, &self.opts);
        self.out.u8(t)?;
        self.out.string(&e.key, self.opts.compression)?;
        write_value(&mut self.out, &e.value, t, &self.opts)
    }

    /// Writes one string key from borrowed bytes: the same bytes as
    /// [`RdbWriter::entry`] with an `RdbValue::String`, without building
    /// the owned model (snapshots write millions of these).
    pub fn string_entry(
        &mut self,
        db: u32,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
    ) -> io::Result<()> {
        self.entry_head(db, expire_ms)?;
        self.out.u8(TYPE_STRING)?;
        self.out.string(key, self.opts.compression)?;
        self.out.string(value, self.opts.compression)
    }

    /// The SELECTDB (when the database changes) and expiry before a key.
    fn entry_head(&mut self, db: u32, expire_ms: Option<i64>) -> io::Result<()> {
        if self.db != Some(db) {
            self.out.u8(OP_SELECTDB)?;
            self.out.len(db as u64)?;
            self.db = Some(db);
        }
        if let Some(ms) = expire_ms {
            self.out.u8(OP_EXPIRETIME_MS)?;
            self.out.put(&ms.to_le_bytes())?;
        }
        Ok(())
    }

    /// Writes EOF and the checksum, flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.u8(OP_EOF)?;
        let crc = if self.opts.checksum { self.out.crc } else { 0 };
        self.out.put(&crc.to_le_bytes())?;
        self.out.inner.flush()?;
        Ok(self.out.inner)
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
