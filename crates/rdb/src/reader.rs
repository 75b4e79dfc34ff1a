//! The streaming RDB reader: items (aux fields, database switches,
//! functions, keys) are returned one at a time, so memory use is bounded by
//! the largest single value, not by the file.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};

use bytes::Bytes;

use crate::compact::{self, Elem};
use crate::consts::*;
use crate::error::{Error, ErrorKind, Result};
use crate::input::Input;
use crate::model::*;

/// How the CRC64 trailer turned out (known once the EOF opcode was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// The trailer matched.
    Verified,
    /// The trailer was zero: the writer had `rdbchecksum no`.
    Disabled,
    /// Files older than version 5 have no trailer.
    Absent,
}

/// What the reader was doing, for redis-check-rdb's error report.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Upstream's step names: "start", "read-type", "read-expire",
    /// "read-key", "read-object-value", "check-sum", "read-len",
    /// "read-aux", "read-module-aux", "read-functions".
    pub doing: &'static str,
    /// Key being read, if any.
    pub key: Option<Bytes>,
    /// Type byte of the key being read; -1 once a key is complete.
    pub key_type: i32,
}

/// Most element preallocation a declared count may cause.
const PREALLOC_MAX: u64 = 1024;

fn cap(n: u64) -> usize {
    n.min(PREALLOC_MAX) as usize
}

/// True for the value type bytes RDB 10 defines.
pub fn is_object_type(t: u8) -> bool {
    t <= 7 || (9..=19).contains(&t)
}

/// A streaming reader over an RDB file.
pub struct RdbReader<R> {
    input: Input<BufReader<R>>,
    version: u32,
    db: u32,
    header_done: bool,
    finished: bool,
    failed: bool,
    checksum: Option<ChecksumStatus>,
    progress: Progress,
}

impl<R: Read> RdbReader<R> {
    /// Wraps a reader; nothing is read until [`RdbReader::next_item`] (or
    /// [`RdbReader::read_header`]).
    pub fn new(inner: R) -> RdbReader<R> {
        RdbReader {
            input: Input::new(BufReader::with_capacity(1 << 16, inner)),
            version: 0,
            db: 0,
            header_done: false,
            finished: false,
            failed: false,
            checksum: None,
            progress: Progress {
                doing: "start",
                key: None,
                key_type: 0,
            },
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// The file's RDB version (0 before the header was read).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Checksum outcome, once the end of the file was reached.
    pub fn checksum(&self) -> Option<ChecksumStatus> {
        self.checksum
    }

    /// Where the reader is, for error reports.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Reads and checks the 9-byte header `REDIS` + 4-digit version.
    pub fn read_header(&mut self) -> Result<u32> {
        if self.header_done {
            return Ok(self.version);
        }
        let mut h = [0u8; 9];
        self.input.fill(&mut h)?;
        if &h[..5] != b"REDIS" {
            return Err(self.input.err(ErrorKind::WrongSignature));
        }
        // Like atoi: leading digits only.
        let mut v: u32 = 0;
        for &d in h[5..].iter().take_while(|d| d.is_ascii_digit()) {
            v = v * 10 + (d - b'0') as u32;
        }
        if !(1..=RDB_VERSION).contains(&v) {
            return Err(self.input.err(ErrorKind::BadVersion(v)));
        }
        self.version = v;
        self.header_done = true;
        Ok(v)
    }

    /// The next item, `None` after the EOF opcode and checksum.
    pub fn next_item(&mut self) -> Result<Option<RdbItem>> {
        if self.finished || self.failed {
            return Ok(None);
        }
        let r = self.next_inner();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn next_inner(&mut self) -> Result<Option<RdbItem>> {
        self.read_header()?;
        let mut expire_ms: Option<i64> = None;
        let mut lru_idle: Option<u64> = None;
        let mut lfu_freq: Option<u8> = None;
        loop {
            self.progress.doing = "read-type";
            let t = self.input.u8()?;
            match t {
                OP_EXPIRETIME_MS => {
                    self.progress.doing = "read-expire";
                    expire_ms = Some(self.input.i64_le()?);
                }
                OP_EXPIRETIME => {
                    self.progress.doing = "read-expire";
                    expire_ms = Some(self.input.i32_le()? as i64 * 1000);
                }
                OP_IDLE => lru_idle = Some(self.input.len()?),
                OP_FREQ => lfu_freq = Some(self.input.u8()?),
                OP_SELECTDB => {
                    self.progress.doing = "read-len";
                    let db = self.input.len()?;
                    let db = u32::try_from(db)
                        .map_err(|_| self.input.corrupt(format!("Invalid DB ID {db}")))?;
                    self.db = db;
                    return Ok(Some(RdbItem::SelectDb(db)));
                }
                OP_RESIZEDB => {
                    self.progress.doing = "read-len";
                    let db_size = self.input.len()?;
                    let expires_size = self.input.len()?;
                    return Ok(Some(RdbItem::ResizeDb {
                        db_size,
                        expires_size,
                    }));
                }
                OP_AUX => {
                    self.progress.doing = "read-aux";
                    let key = self.input.string()?;
                    let value = self.input.string()?;
                    return Ok(Some(RdbItem::Aux { key, value }));
                }
                OP_MODULE_AUX => {
                    self.progress.doing = "read-module-aux";
                    let module_id = self.input.len()?;
                    let when_opcode = self.input.len()?;
                    if when_opcode != MODULE_OPCODE_UINT {
                        return Err(self.input.corrupt("bad when_opcode"));
                    }
                    let when = self.input.len()?;
                    let raw = read_module_stream(&mut self.input)?;
                    return Ok(Some(RdbItem::ModuleAux(ModuleAux {
                        module_id,
                        when,
                        raw,
                    })));
                }
                OP_FUNCTION_PRE_GA => {
                    self.progress.doing = "read-functions";
                    return Err(self.input.corrupt("Pre-GA function format not supported"));
                }
                OP_FUNCTION2 => {
                    self.progress.doing = "read-functions";
                    let code = self.input.string()?;
                    return Ok(Some(RdbItem::Function(code)));
                }
                OP_EOF => {
                    if self.version >= 5 {
                        self.progress.doing = "check-sum";
                        let expected = self.input.crc();
                        let mut w = [0u8; 8];
                        self.input.fill(&mut w)?;
                        let stored = u64::from_le_bytes(w);
                        if stored == 0 {
                            self.checksum = Some(ChecksumStatus::Disabled);
                        } else if stored != expected {
                            return Err(self.input.err(ErrorKind::BadChecksum));
                        } else {
                            self.checksum = Some(ChecksumStatus::Verified);
                        }
                    } else {
                        self.checksum = Some(ChecksumStatus::Absent);
                    }
                    self.finished = true;
                    return Ok(None);
                }
                t if is_object_type(t) => {
                    self.progress.key_type = t as i32;
                    self.progress.doing = "read-key";
                    let key = self.input.string()?;
                    self.progress.doing = "read-object-value";
                    // The key is recorded only when its value fails: a
                    // clone per key would turn every key into a shared
                    // allocation of its own.
                    let value = match read_value(&mut self.input, t) {
                        Ok(v) => v,
                        Err(e) => {
                            self.progress.key = Some(key);
                            return Err(e);
                        }
                    };
                    self.progress.key = None;
                    self.progress.key_type = -1;
                    return Ok(Some(RdbItem::Entry(RdbEntry {
                        db: self.db,
                        key,
                        value,
                        expire_ms,
                        lru_idle,
                        lfu_freq,
                    })));
                }
                t => return Err(self.input.err(ErrorKind::InvalidType(t))),
            }
        }
    }
}

impl<R: Read> Iterator for RdbReader<R> {
    type Item = Result<RdbItem>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// A whole file in memory (tests and small files; servers should stream).
#[derive(Debug, Clone, Default)]
pub struct RdbFile {
    /// RDB version from the header.
    pub version: u32,
    /// AUX fields in file order.
    pub aux: Vec<(Bytes, Bytes)>,
    /// Function library sources.
    pub functions: Vec<Bytes>,
    /// Module aux records.
    pub module_aux: Vec<ModuleAux>,
    /// Keys in file order.
    pub entries: Vec<RdbEntry>,
}

impl RdbFile {
    /// Value of an AUX field.
    pub fn aux(&self, key: &str) -> Option<&Bytes> {
        self.aux
            .iter()
            .find(|(k, _)| k.as_ref() == key.as_bytes())
            .map(|(_, v)| v)
    }
}

/// Reads a whole file into memory.
pub fn read_all<R: Read>(r: R) -> Result<RdbFile> {
    let mut reader = RdbReader::new(r);
    let mut file = RdbFile {
        version: reader.read_header()?,
        ..RdbFile::default()
    };
    while let Some(item) = reader.next_item()? {
        match item {
            RdbItem::Aux { key, value } => file.aux.push((key, value)),
            RdbItem::Function(code) => file.functions.push(code),
            RdbItem::ModuleAux(m) => file.module_aux.push(m),
            RdbItem::Entry(e) => file.entries.push(e),
            RdbItem::SelectDb(_) | RdbItem::ResizeDb { .. } => {}
        }
    }
    Ok(file)
}

/// Reads a module opcode stream up to its EOF opcode, returning the raw
/// bytes (EOF included) so it can be written back unchanged.
fn read_module_stream<R: BufRead>(input: &mut Input<R>) -> Result<Bytes> {
    input.start_recording();
    let r = (|| -> Result<()> {
        loop {
            match input.len()? {
                MODULE_OPCODE_EOF => return Ok(()),
                MODULE_OPCODE_SINT | MODULE_OPCODE_UINT => {
                    input.len()?;
                }
                MODULE_OPCODE_FLOAT => {
                    let mut w = [0u8; 4];
                    input.fill(&mut w)?;
                }
                MODULE_OPCODE_DOUBLE => {
                    input.binary_double()?;
                }
                MODULE_OPCODE_STRING => {
                    input.string()?;
                }
                other => return Err(input.corrupt(format!("Unknown module opcode {other}"))),
            }
        }
    })();
    let raw = input.take_recording();
    r.map(|()| Bytes::from(raw))
}

/// A duplicate detector for members and fields.
struct Seen(HashSet<Bytes>);

impl Seen {
    fn new(n: u64) -> Seen {
        Seen(HashSet::with_capacity(cap(n)))
    }

    fn fresh(&mut self, b: &Bytes) -> bool {
        self.0.insert(b.clone())
    }
}

fn blob_error<R: BufRead>(input: &Input<R>, msg: String) -> Error {
    input.corrupt(msg)
}

/// Reads the value of type `t` (already validated by [`is_object_type`]).
pub fn read_value<R: BufRead>(input: &mut Input<R>, t: u8) -> Result<RdbValue> {
    Ok(match t {
        TYPE_STRING => RdbValue::String(input.string()?),
        TYPE_LIST => {
            let n = input.len()?;
            let mut v = Vec::with_capacity(cap(n));
            for _ in 0..n {
                v.push(input.string()?);
            }
            RdbValue::List(v)
        }
        TYPE_SET => {
            let n = input.len()?;
            let mut v = Vec::with_capacity(cap(n));
            let mut seen = Seen::new(n);
            for _ in 0..n {
                let m = input.string()?;
                if !seen.fresh(&m) {
                    return Err(input.corrupt("Duplicate set members detected"));
                }
                v.push(m);
            }
            RdbValue::Set(v)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = input.len()?;
            let mut v = Vec::with_capacity(cap(n));
            let mut seen = Seen::new(n);
            for _ in 0..n {
                let m = input.string()?;
                let score = if t == TYPE_ZSET_2 {
                    input.binary_double()?
                } else {
                    input.text_double()?
                };
                if score.is_nan() {
                    return Err(input.corrupt("Zset with NAN score detected"));
                }
                if !seen.fresh(&m) {
                    return Err(input.corrupt("Duplicate zset fields detected"));
                }
                v.push((m, score));
            }
            RdbValue::ZSet(v)
        }
        TYPE_HASH => {
            let n = input.len()?;
            let mut v = Vec::with_capacity(cap(n));
            let mut seen = Seen::new(n);
            for _ in 0..n {
                let f = input.string()?;
                let val = input.string()?;
                if !seen.fresh(&f) {
                    return Err(input.corrupt("Duplicate hash fields detected"));
                }
                v.push((f, val));
            }
            RdbValue::Hash(v)
        }
        TYPE_MODULE_PRE_GA => {
            return Err(input.corrupt(
                "Pre-release module format not supported (module value without a module)",
            ))
        }
        TYPE_MODULE_2 => {
            let module_id = input.len()?;
            let raw = read_module_stream(input)?;
            RdbValue::Module { module_id, raw }
        }
        TYPE_HASH_ZIPMAP => {
            let blob = input.string()?;
            // Upstream's zipmap check also refuses a zipmap with no pair.
            let pairs = compact::zipmap_pairs(&blob)
                .ok()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| input.corrupt("Zipmap integrity check failed."))?;
            let mut seen = Seen::new(pairs.len() as u64);
            let mut v = Vec::with_capacity(pairs.len());
            for (f, val) in pairs {
                let f = Bytes::copy_from_slice(f);
                if !seen.fresh(&f) {
                    return Err(input.corrupt("Zipmap integrity check failed."));
                }
                v.push((f, Bytes::copy_from_slice(val)));
            }
            RdbValue::Hash(v)
        }
        TYPE_LIST_ZIPLIST => {
            let blob = input.string()?;
            let elems = compact::ziplist_entries(&blob)
                .map_err(|_| input.corrupt("List ziplist integrity check failed."))?;
            RdbValue::List(elems.iter().map(Elem::to_bytes).collect())
        }
        TYPE_SET_INTSET => {
            let blob = input.string()?;
            let ints = compact::intset_entries(&blob)
                .map_err(|_| input.corrupt("Intset integrity check failed."))?;
            RdbValue::Set(ints.iter().map(|i| Bytes::from(i.to_string())).collect())
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = input.string()?;
            let bad = if t == TYPE_ZSET_ZIPLIST {
                "Zset ziplist integrity check failed."
            } else {
                "Zset listpack integrity check failed."
            };
            let elems = if t == TYPE_ZSET_ZIPLIST {
                compact::ziplist_entries(&blob)
            } else {
                compact::listpack_entries(&blob)
            }
            .map_err(|_| input.corrupt(bad))?;
            RdbValue::ZSet(zset_pairs(input, &elems, bad)?)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = input.string()?;
            let bad = if t == TYPE_HASH_ZIPLIST {
                "Hash ziplist integrity check failed."
            } else {
                "Hash listpack integrity check failed."
            };
            let elems = if t == TYPE_HASH_ZIPLIST {
                compact::ziplist_entries(&blob)
            } else {
                compact::listpack_entries(&blob)
            }
            .map_err(|_| input.corrupt(bad))?;
            RdbValue::Hash(hash_pairs(input, &elems, bad)?)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = input.len()?;
            let mut v = Vec::new();
            for _ in 0..nodes {
                let container = if t == TYPE_LIST_QUICKLIST_2 {
                    input.len()?
                } else {
                    QUICKLIST_NODE_PACKED
                };
                let blob = input.string()?;
                // A node always holds something (an empty ziplist is
                // still a header; an empty plain node is no element).
                if blob.is_empty() {
                    return Err(input.corrupt("Quicklist integrity check failed: empty node"));
                }
                match container {
                    QUICKLIST_NODE_PLAIN => v.push(blob),
                    QUICKLIST_NODE_PACKED => {
                        let elems = if t == TYPE_LIST_QUICKLIST {
                            compact::ziplist_entries(&blob)
                        } else {
                            compact::listpack_entries(&blob)
                        }
                        .map_err(|m| blob_error(input, m))?;
                        v.extend(elems.iter().map(Elem::to_bytes));
                    }
                    other => {
                        return Err(input.corrupt(format!(
                            "Quicklist integrity check failed: unknown container {other}"
                        )))
                    }
                }
            }
            RdbValue::List(v)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            RdbValue::Stream(read_stream(input, t == TYPE_STREAM_LISTPACKS_2)?)
        }
        other => return Err(input.err(ErrorKind::InvalidType(other))),
    })
}

/// `bad` with the reason: a compact encoding holding a member or field
/// twice (upstream's words, "listpack with dup elements").
fn dup_elements(bad: &str) -> String {
    let encoding = if bad.contains("ziplist") {
        "ziplist"
    } else {
        "listpack"
    };
    format!("{bad} Found a {encoding} with dup elements.")
}

/// The pairs of a compact sorted set; `bad` is upstream's message for
/// its encoding when the content is invalid (odd count, bad score,
/// duplicate member: all caught by upstream's integrity check).
fn zset_pairs<R: BufRead>(
    input: &Input<R>,
    elems: &[Elem<'_>],
    bad: &str,
) -> Result<Vec<(Bytes, f64)>> {
    if elems.len() % 2 != 0 {
        return Err(input.corrupt(bad));
    }
    let mut seen = Seen::new(elems.len() as u64 / 2);
    let mut v = Vec::with_capacity(elems.len() / 2);
    for pair in elems.chunks_exact(2) {
        let m = pair[0].to_bytes();
        let score = match pair[1] {
            Elem::Int(i) => i as f64,
            Elem::Str(s) => crate::numfmt::parse_f64(s)
                .filter(|f| !f.is_nan())
                .ok_or_else(|| input.corrupt(bad))?,
        };
        if !seen.fresh(&m) {
            return Err(input.corrupt(dup_elements(bad)));
        }
        v.push((m, score));
    }
    Ok(v)
}

/// The pairs of a compact hash; `bad` is upstream's message for its
/// encoding (odd count, duplicate field: caught by its integrity check).
fn hash_pairs<R: BufRead>(
    input: &Input<R>,
    elems: &[Elem<'_>],
    bad: &str,
) -> Result<Vec<(Bytes, Bytes)>> {
    if elems.len() % 2 != 0 {
        return Err(input.corrupt(bad));
    }
    let mut seen = Seen::new(elems.len() as u64 / 2);
    let mut v = Vec::with_capacity(elems.len() / 2);
    for pair in elems.chunks_exact(2) {
        let f = pair[0].to_bytes();
        if !seen.fresh(&f) {
            return Err(input.corrupt(dup_elements(bad)));
        }
        v.push((f, pair[1].to_bytes()));
    }
    Ok(v)
}

fn read_id<R: BufRead>(input: &mut Input<R>) -> Result<StreamId> {
    let ms = input.len()?;
    let seq = input.len()?;
    Ok(StreamId::new(ms, seq))
}

fn read_raw_id<R: BufRead>(input: &mut Input<R>) -> Result<StreamId> {
    let mut w = [0u8; 16];
    input.fill(&mut w)?;
    StreamId::from_be_slice(&w).ok_or_else(|| input.corrupt("bad stream ID"))
}

/// Parses one stream listpack node into `out` (live entries only).
fn stream_node<R: BufRead>(
    input: &Input<R>,
    master: StreamId,
    elems: &[Elem<'_>],
    out: &mut Vec<StreamEntry>,
) -> Result<()> {
    const BAD: &str = "Stream listpack integrity check failed.";
    let mut it = elems.iter();
    let mut next = || it.next().copied().ok_or_else(|| input.corrupt(BAD));
    let int = |e: Elem<'_>| e.as_int().ok_or_else(|| input.corrupt(BAD));
    let count = int(next()?)?;
    let _deleted = int(next()?)?;
    let nfields = int(next()?)?;
    if nfields < 0 || nfields as usize > elems.len() {
        return Err(input.corrupt(BAD));
    }
    let mut master_fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        master_fields.push(next()?.to_bytes());
    }
    if int(next()?)? != 0 {
        return Err(input.corrupt(BAD));
    }
    let mut live = 0i64;
    loop {
        let flags = match it.next() {
            None => break,
            Some(e) => int(*e)?,
        };
        let mut next = || it.next().copied().ok_or_else(|| input.corrupt(BAD));
        let ms_diff = int(next()?)?;
        let seq_diff = int(next()?)?;
        let id = StreamId::new(
            master.ms.wrapping_add(ms_diff as u64),
            master.seq.wrapping_add(seq_diff as u64),
        );
        let mut fields = Vec::new();
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push((f.clone(), next()?.to_bytes()));
            }
        } else {
            let n = int(next()?)?;
            if n < 0 || n as usize > elems.len() {
                return Err(input.corrupt(BAD));
            }
            for _ in 0..n {
                let f = next()?.to_bytes();
                let v = next()?.to_bytes();
                fields.push((f, v));
            }
        }
        let lp_count = int(next()?)?;
        // The entry's own element count (flags, the two ID deltas, the
        // values, and for its own fields the count and the names too).
        let expect = 3 + if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 {
            master_fields.len() as i64
        } else {
            fields.len() as i64 * 2 + 1
        };
        if input.deep && lp_count != expect {
            return Err(input.corrupt(BAD));
        }
        if flags & STREAM_ITEM_FLAG_DELETED == 0 {
            live += 1;
            out.push(StreamEntry { id, fields });
        }
    }
    if live != count {
        return Err(input.corrupt(BAD));
    }
    Ok(())
}

/// Upstream's estimate of a group's entries-read counter for streams saved
/// before RDB 10 (which did not store it).
fn estimate_entries_read(s: &StreamValue, id: StreamId) -> i64 {
    let len = s.entries.len() as u64;
    if s.entries_added == 0 {
        return 0;
    }
    if len == 0 && id <= s.last_id {
        return s.entries_added as i64;
    }
    if id == s.last_id {
        return s.entries_added as i64;
    }
    if id > s.last_id {
        return -1;
    }
    if s.max_deleted_id.is_zero() || s.max_deleted_id < s.first_id {
        if id < s.first_id {
            return s.entries_added.saturating_sub(len) as i64;
        }
        if id == s.first_id {
            return s.entries_added.saturating_sub(len).saturating_add(1) as i64;
        }
    }
    -1
}

/// Upstream's message for a failed read of the stream's metadata.
const META: &str = "Stream object metadata loading failed.";
/// Upstream's message for a failed read of a PEL entry's delivery data.
const NACK: &str = "Stream PEL NACK loading failed.";

/// A truncated read inside a stream is reported as upstream's loader does
/// at that site (its message and `rdb.c` line), not as a plain EOF.
fn site<T>(r: Result<T>, line: u32, msg: &'static str) -> Result<T> {
    r.map_err(|e| match e.kind {
        ErrorKind::UnexpectedEof => Error::new(e.offset, ErrorKind::ReadError { line, msg }),
        _ => e,
    })
}

fn read_stream<R: BufRead>(input: &mut Input<R>, v2: bool) -> Result<StreamValue> {
    let mut s = StreamValue::default();
    let nodes = site(input.len(), 2327, "Stream listpacks len loading failed.")?;
    for _ in 0..nodes {
        let key = site(
            input.string(),
            2338,
            "Stream master ID loading failed: invalid encoding or I/O error.",
        )?;
        let master = StreamId::from_be_slice(&key)
            .ok_or_else(|| input.corrupt("Stream node key entry is not the size of a stream ID"))?;
        let lp = site(input.string(), 2355, "Stream listpacks loading failed.")?;
        let elems = compact::listpack_entries(&lp)
            .map_err(|_| input.corrupt("Stream listpack integrity check failed."))?;
        if elems.is_empty() {
            return Err(input.corrupt("Empty listpack inside stream"));
        }
        stream_node(input, master, &elems, &mut s.entries)?;
    }
    let length = site(input.len(), 2424, META)?;
    if length != s.entries.len() as u64 {
        return Err(input.corrupt("Stream length inconsistent with its entries"));
    }
    s.last_id = site(read_id(input), 2424, META)?;
    if v2 {
        s.first_id = site(read_id(input), 2424, META)?;
        s.max_deleted_id = site(read_id(input), 2424, META)?;
        s.entries_added = site(input.len(), 2424, META)?;
    } else {
        s.first_id = s.entries.first().map(|e| e.id).unwrap_or_default();
        s.entries_added = length;
    }
    let ngroups = site(input.len(), 2438, "Stream cgroup count loading failed.")?;
    let mut group_names = Seen::new(ngroups);
    for _ in 0..ngroups {
        let name = site(
            input.string(),
            2449,
            "Error reading the consumer group name from Stream",
        )?;
        if !group_names.fresh(&name) {
            return Err(input.corrupt("Duplicated consumer group name"));
        }
        let last_id = site(read_id(input), 2458, "Stream cgroup ID loading failed.")?;
        let entries_read = if v2 {
            site(input.len(), 2469, "Stream cgroup offset loading failed.")? as i64
        } else {
            estimate_entries_read(&s, last_id)
        };
        let npel = site(input.len(), 2495, "Stream PEL size loading failed.")?;
        let mut pel: Vec<PendingEntry> = Vec::with_capacity(cap(npel));
        let mut pel_ids = HashSet::with_capacity(cap(npel));
        for _ in 0..npel {
            let id = site(read_raw_id(input), 2502, "Stream PEL ID loading failed.")?;
            let delivery_time_ms = site(input.i64_le(), 2510, NACK)?;
            let delivery_count = site(input.len(), 2510, NACK)?;
            if !pel_ids.insert(id) {
                return Err(
                    input.corrupt("Duplicated global PEL entry loading stream consumer group")
                );
            }
            pel.push(PendingEntry {
                id,
                delivery_time_ms,
                delivery_count,
            });
        }
        let nconsumers = site(input.len(), 2527, "Stream consumers num loading failed.")?;
        let mut consumers = Vec::with_capacity(cap(nconsumers));
        let mut owned = HashSet::with_capacity(pel_ids.len());
        let mut consumer_names = Seen::new(nconsumers);
        for _ in 0..nconsumers {
            let cname = site(
                input.string(),
                2534,
                "Error reading the consumer name from Stream group.",
            )?;
            if !consumer_names.fresh(&cname) {
                return Err(input.corrupt("Duplicate stream consumer detected."));
            }
            let seen_time_ms = site(input.i64_le(), 2549, "Stream short read reading seen time.")?;
            let n = site(input.len(), 2558, "Stream consumer PEL num loading failed.")?;
            let mut pending = Vec::with_capacity(cap(n));
            for _ in 0..n {
                let id = site(
                    read_raw_id(input),
                    2566,
                    "Stream short read reading PEL streamID.",
                )?;
                if !pel_ids.contains(&id) {
                    return Err(input.corrupt("Consumer entry not found in group global PEL"));
                }
                if !owned.insert(id) {
                    return Err(input
                        .corrupt("Duplicated consumer PEL entry loading a stream consumer group"));
                }
                pending.push(id);
            }
            consumers.push(StreamConsumer {
                name: cname,
                seen_time_ms,
                pending,
            });
        }
        if owned.len() != pel_ids.len() {
            return Err(input.corrupt("Stream CG PEL entry without consumer"));
        }
        s.groups.push(StreamGroup {
            name,
            last_id,
            entries_read,
            pel,
            consumers,
        });
    }
    Ok(s)
}
