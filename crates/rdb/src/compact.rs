//! Decoders for the compact blobs RDB embeds as strings — ziplist,
//! listpack, intset, zipmap — and encoders for listpack and intset.
//!
//! Every decoder validates the whole blob before returning anything: header
//! sizes against the blob length, each entry against the bytes left, the
//! terminator, and the redundant fields (ziplist prevlen, listpack backlen,
//! element counts). A corrupt blob gives an error message, never a panic.

use bytes::Bytes;

use crate::numfmt::canonical_i64;

/// One element of a ziplist or listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    /// Integer-encoded element.
    Int(i64),
    /// String element.
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The element as a string (integers in decimal).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Elem::Int(v) => Bytes::from(v.to_string()),
            Elem::Str(s) => Bytes::copy_from_slice(s),
        }
    }

    /// The element as an integer (strings must be canonical integers).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Elem::Int(v) => Some(*v),
            Elem::Str(s) => canonical_i64(s),
        }
    }
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a little-endian signed integer of `n` bytes (1..=8) at `at`.
fn le_int(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v: u64 = 0;
    for (i, &byte) in s.iter().enumerate() {
        v |= (byte as u64) << (8 * i);
    }
    let shift = 64 - 8 * n as u32;
    Some(((v << shift) as i64) >> shift)
}

// ---------------------------------------------------------------- listpack

/// Size of the backlen field for an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Appends the backlen bytes for an entry of `l` bytes: 7 bits per byte,
/// most significant group first, every byte but the first flagged with 0x80
/// so it can be parsed right to left.
fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Decodes and validates a listpack.
pub fn listpack_entries(lp: &[u8]) -> Result<Vec<Elem<'_>>, String> {
    const BAD: &str = "Listpack integrity check failed.";
    if lp.len() < 7 {
        return Err(BAD.into());
    }
    let total = le_u32(lp, 0).ok_or(BAD)? as usize;
    let count = le_u16(lp, 4).ok_or(BAD)?;
    if total != lp.len() || lp[lp.len() - 1] != 0xff {
        return Err(BAD.into());
    }
    let mut out = Vec::new();
    let mut p = 6usize;
    let end = lp.len() - 1;
    while p < end {
        let b = lp[p];
        let (elem, len) = if b & 0x80 == 0 {
            (Elem::Int((b & 0x7f) as i64), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (Elem::Str(lp.get(p + 1..p + 1 + n).ok_or(BAD)?), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let lo = *lp.get(p + 1).ok_or(BAD)? as i64;
            let mut v = ((b & 0x1f) as i64) << 8 | lo;
            if v >= 1 << 12 {
                v -= 1 << 13;
            }
            (Elem::Int(v), 2)
        } else if b & 0xf0 == 0xe0 {
            let lo = *lp.get(p + 1).ok_or(BAD)? as usize;
            let n = ((b & 0x0f) as usize) << 8 | lo;
            (Elem::Str(lp.get(p + 2..p + 2 + n).ok_or(BAD)?), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = le_u32(lp, p + 1).ok_or(BAD)? as usize;
                    let s = lp
                        .get(p + 5..p.saturating_add(5).saturating_add(n))
                        .ok_or(BAD)?;
                    (Elem::Str(s), 5 + n)
                }
                0xf1 => (Elem::Int(le_int(lp, p + 1, 2).ok_or(BAD)?), 3),
                0xf2 => (Elem::Int(le_int(lp, p + 1, 3).ok_or(BAD)?), 4),
                0xf3 => (Elem::Int(le_int(lp, p + 1, 4).ok_or(BAD)?), 5),
                0xf4 => (Elem::Int(le_int(lp, p + 1, 8).ok_or(BAD)?), 9),
                _ => return Err(BAD.into()),
            }
        };
        let bl = backlen_size(len);
        let stored = lp.get(p + len..p + len + bl).ok_or(BAD)?;
        let mut expect = Vec::with_capacity(5);
        push_backlen(&mut expect, len);
        if stored != expect.as_slice() {
            return Err(BAD.into());
        }
        p += len + bl;
        out.push(elem);
    }
    if p != end || (count != u16::MAX && count as usize != out.len()) {
        return Err(BAD.into());
    }
    Ok(out)
}

/// Builds a listpack the way upstream appends to one: strings that are
/// canonical integers are stored in the smallest integer encoding.
#[derive(Debug, Clone)]
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        ListpackBuilder::new()
    }
}

impl ListpackBuilder {
    /// An empty listpack (header placeholder only).
    pub fn new() -> ListpackBuilder {
        ListpackBuilder {
            buf: vec![0; 6],
            count: 0,
        }
    }

    /// Number of elements appended.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes the finished listpack will take.
    pub fn byte_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string element (integer-encoded when canonical).
    pub fn push(&mut self, s: &[u8]) {
        if let Some(v) = canonical_i64(s) {
            self.push_int(v);
            return;
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xe0 | (n >> 8) as u8);
            self.buf.push((n & 0xff) as u8);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let len = self.buf.len() - start;
        push_backlen(&mut self.buf, len);
        self.count += 1;
    }

    /// Appends an integer element.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { v + (1 << 13) } else { v } as u16;
            self.buf.push(0xc0 | (u >> 8) as u8);
            self.buf.push((u & 0xff) as u8);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let len = self.buf.len() - start;
        push_backlen(&mut self.buf, len);
        self.count += 1;
    }

    /// Finishes the listpack: terminator and header.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

// ----------------------------------------------------------------- ziplist

/// Decodes and validates a ziplist.
pub fn ziplist_entries(zl: &[u8]) -> Result<Vec<Elem<'_>>, String> {
    const BAD: &str = "Ziplist integrity check failed.";
    if zl.len() < 11 {
        return Err(BAD.into());
    }
    let total = le_u32(zl, 0).ok_or(BAD)? as usize;
    let tail = le_u32(zl, 4).ok_or(BAD)? as usize;
    let count = le_u16(zl, 8).ok_or(BAD)?;
    if total != zl.len() || zl[zl.len() - 1] != 0xff || tail >= total {
        return Err(BAD.into());
    }
    let end = zl.len() - 1;
    let mut out = Vec::new();
    let mut p = 10usize;
    let mut prev_len = 0usize;
    let mut last_start = 10usize;
    while p < end {
        let (prevlen, plen) = match zl[p] {
            b @ 0..=253 => (b as usize, 1),
            254 => (le_u32(zl, p + 1).ok_or(BAD)? as usize, 5),
            _ => return Err(BAD.into()),
        };
        if prevlen != prev_len {
            return Err(BAD.into());
        }
        let q = p + plen;
        let e = *zl.get(q).ok_or(BAD)?;
        let (elem, hlen_and_data) = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                (Elem::Str(zl.get(q + 1..q + 1 + n).ok_or(BAD)?), 1 + n)
            }
            1 => {
                let lo = *zl.get(q + 1).ok_or(BAD)? as usize;
                let n = ((e & 0x3f) as usize) << 8 | lo;
                (Elem::Str(zl.get(q + 2..q + 2 + n).ok_or(BAD)?), 2 + n)
            }
            2 => {
                if e != 0x80 {
                    return Err(BAD.into());
                }
                let s = zl.get(q + 1..q + 5).ok_or(BAD)?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                let data = zl
                    .get(q + 5..q.saturating_add(5).saturating_add(n))
                    .ok_or(BAD)?;
                (Elem::Str(data), 5 + n)
            }
            _ => match e {
                0xc0 => (Elem::Int(le_int(zl, q + 1, 2).ok_or(BAD)?), 3),
                0xd0 => (Elem::Int(le_int(zl, q + 1, 4).ok_or(BAD)?), 5),
                0xe0 => (Elem::Int(le_int(zl, q + 1, 8).ok_or(BAD)?), 9),
                0xf0 => (Elem::Int(le_int(zl, q + 1, 3).ok_or(BAD)?), 4),
                0xfe => (Elem::Int(le_int(zl, q + 1, 1).ok_or(BAD)?), 2),
                0xf1..=0xfd => (Elem::Int((e & 0x0f) as i64 - 1), 1),
                _ => return Err(BAD.into()),
            },
        };
        let entry_len = plen + hlen_and_data;
        if p + entry_len > end {
            return Err(BAD.into());
        }
        out.push(elem);
        last_start = p;
        prev_len = entry_len;
        p += entry_len;
    }
    if p != end || (count != u16::MAX && count as usize != out.len()) {
        return Err(BAD.into());
    }
    if (!out.is_empty() && tail != last_start) || (out.is_empty() && tail != 10) {
        return Err(BAD.into());
    }
    Ok(out)
}

// ------------------------------------------------------------------ intset

/// Decodes and validates an intset (sorted, no duplicates).
pub fn intset_entries(is: &[u8]) -> Result<Vec<i64>, String> {
    const BAD: &str = "Intset integrity check failed.";
    let enc = le_u32(is, 0).ok_or(BAD)? as usize;
    let len = le_u32(is, 4).ok_or(BAD)? as usize;
    if !matches!(enc, 2 | 4 | 8) || len == 0 {
        return Err(BAD.into());
    }
    if len.checked_mul(enc).and_then(|n| n.checked_add(8)) != Some(is.len()) {
        return Err(BAD.into());
    }
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let v = le_int(is, 8 + i * enc, enc).ok_or(BAD)?;
        if out.last().is_some_and(|&last| last >= v) {
            return Err(BAD.into());
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes sorted, distinct integers as an intset of the narrowest width.
pub fn intset_encode(sorted: &[i64]) -> Vec<u8> {
    let width = sorted.iter().fold(2usize, |w, &v| {
        if i16::try_from(v).is_ok() {
            w
        } else if i32::try_from(v).is_ok() {
            w.max(4)
        } else {
            8
        }
    });
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

// ------------------------------------------------------------------ zipmap

/// A field/value pair borrowed from a blob.
pub type BytePair<'a> = (&'a [u8], &'a [u8]);

/// Decodes and validates a zipmap (the pre-2.6 small hash encoding).
pub fn zipmap_pairs(zm: &[u8]) -> Result<Vec<BytePair<'_>>, String> {
    const BAD: &str = "Zipmap integrity check failed.";
    fn read_len(zm: &[u8], p: &mut usize) -> Option<usize> {
        let b = *zm.get(*p)?;
        if b < 254 {
            *p += 1;
            Some(b as usize)
        } else if b == 254 {
            let n = le_u32(zm, *p + 1)? as usize;
            *p += 5;
            Some(n)
        } else {
            None
        }
    }
    if zm.len() < 2 {
        return Err(BAD.into());
    }
    let declared = zm[0];
    let mut p = 1usize;
    let mut out = Vec::new();
    loop {
        match zm.get(p) {
            Some(255) => {
                p += 1;
                break;
            }
            Some(_) => {}
            None => return Err(BAD.into()),
        }
        let klen = read_len(zm, &mut p).ok_or(BAD)?;
        let key = zm.get(p..p.saturating_add(klen)).ok_or(BAD)?;
        p += klen;
        let vlen = read_len(zm, &mut p).ok_or(BAD)?;
        let free = *zm.get(p).ok_or(BAD)? as usize;
        p += 1;
        let val = zm.get(p..p.saturating_add(vlen)).ok_or(BAD)?;
        p = p.saturating_add(vlen).saturating_add(free);
        out.push((key, val));
    }
    if p != zm.len() || (declared < 254 && declared as usize != out.len()) {
        return Err(BAD.into());
    }
    Ok(out)
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
