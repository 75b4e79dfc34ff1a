//! Bitmap and bitfield commands (upstream `bitops.c`): `SETBIT`, `GETBIT`,
//! `BITCOUNT`, `BITPOS`, `BITOP`, `BITFIELD` and `BITFIELD_RO`.
//!
//! Bitmaps are ordinary strings ([`StrValue`]); bit 0 is the most
//! significant bit of the first byte. Commands that write modify the value
//! in place through [`StrValue::make_owned`], which is why a string touched
//! by `SETBIT` reports the `raw` encoding afterwards, as upstream's
//! `dbUnshareStringValue` does. Offsets are limited by
//! `proto-max-bulk-len`: the byte holding the bit must be below that size.

use bytes::Bytes;
use redis_storage::string::{parse_i64_strict, StrValue};
use redis_storage::Value;

use crate::args::{self, is, Args};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, NO_SUCH_KEY, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The bitmap and bitfield commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("bitfield", bitfield),
    ("bitfield_ro", bitfield_ro),
];

const BAD_OFFSET: CmdError = CmdError::fixed("ERR bit offset is not an integer or out of range");
const BAD_BIT: CmdError = CmdError::fixed("ERR bit is not an integer or out of range");
const BAD_TYPE: CmdError = CmdError::fixed(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

/// Parses a bit offset. With `hash`, the `#N` form means `N * bits` (the
/// N-th field of that width). The multiplication wraps like upstream's, so
/// absurd `#` offsets are rejected by the range check rather than refused
/// outright; the byte holding the bit must stay below `proto-max-bulk-len`.
fn bit_offset(ctx: &Ctx, arg: &[u8], hash: bool, bits: u32) -> Result<u64, CmdError> {
    let (use_hash, digits) = match arg.split_first() {
        Some((b'#', rest)) if hash => (true, rest),
        _ => (false, arg),
    };
    let mut off = parse_i64_strict(digits).ok_or(BAD_OFFSET)?;
    if use_hash {
        off = off.wrapping_mul(i64::from(bits));
    }
    if off < 0 || (off >> 3) >= ctx.st.cached.proto_max_bulk_len {
        return Err(BAD_OFFSET);
    }
    Ok(off as u64)
}

/// Makes sure `key` holds a string with room for bit `max_bit`, creating
/// it (zero-filled) if missing and growing it with zeros if shorter
/// (upstream `lookupStringForBitCommand`). Returns true when the key was
/// created or grown. Afterwards the value is an owned (`raw`) string.
fn prepare_for_bits(ctx: &mut Ctx, key: &[u8], max_bit: u64) -> Result<bool, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    // The offset was bounded by proto-max-bulk-len, so this fits.
    let need = usize::try_from(max_bit >> 3).map_err(|_| BAD_OFFSET)? + 1;
    let exists = match ctx.st.ks.lookup_write(db, key, now) {
        None => false,
        Some(e) => match e.value {
            Value::Str(_) => true,
            _ => return Err(WRONGTYPE),
        },
    };
    if !exists {
        let v = StrValue::Owned(vec![0; need]);
        ctx.st.ks.dbs[db].set(key, Value::Str(v), false, lru);
        return Ok(true);
    }
    let Some(e) = ctx.st.ks.dbs[db].get_mut(key) else {
        return Err(NO_SUCH_KEY);
    };
    let Value::Str(s) = &mut e.value else {
        return Err(WRONGTYPE);
    };
    let v = s.make_owned();
    if v.len() < need {
        v.resize(need, 0);
        return Ok(true);
    }
    Ok(false)
}

/// The owned bytes of a string key prepared by [`prepare_for_bits`].
fn owned_bytes<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut Vec<u8>, CmdError> {
    let db = ctx.db();
    match ctx.st.ks.dbs[db].get_mut(key) {
        Some(e) => match &mut e.value {
            Value::Str(s) => Ok(s.make_owned()),
            _ => Err(WRONGTYPE),
        },
        None => Err(NO_SUCH_KEY),
    }
}

/// Runs `f` on the bytes of a string key read with lazy expiry and
/// hit/miss accounting; `missing` is the result for an absent key.
fn with_string<R>(
    ctx: &mut Ctx,
    key: &[u8],
    missing: R,
    f: impl FnOnce(&[u8]) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    match ctx.st.ks.lookup_read(db, key, now, lru) {
        None => Ok(missing),
        Some(e) => match &e.value {
            Value::Str(s) => s.with_bytes(f),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The bit at `off` (0 past the end of the string).
fn bit_at(p: &[u8], off: u64) -> bool {
    let Ok(byte) = usize::try_from(off >> 3) else {
        return false;
    };
    p.get(byte).is_some_and(|b| b & (0x80 >> (off & 7)) != 0)
}

/// # Format
/// `SETBIT key offset value`
pub fn setbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let off = bit_offset(ctx, &argv[2], false, 0)?;
    let on = args::int_or(&argv[3], BAD_BIT)?;
    if on & !1 != 0 {
        return Err(BAD_BIT);
    }
    let grown = prepare_for_bits(ctx, key, off)?;
    let v = owned_bytes(ctx, key)?;
    let byte = (off >> 3) as usize;
    let mask = 0x80u8 >> (off & 7);
    let Some(slot) = v.get_mut(byte) else {
        return Err(BAD_OFFSET);
    };
    let old = *slot & mask != 0;
    if grown || old != (on == 1) {
        if on == 1 {
            *slot |= mask;
        } else {
            *slot &= !mask;
        }
        let db = ctx.db();
        ctx.changed(1);
        ctx.key_event(db, key, '$', "setbit");
    }
    ctx.int(i64::from(old));
    Ok(())
}

/// # Format
/// `GETBIT key offset`
pub fn getbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let off = bit_offset(ctx, &argv[2], false, 0)?;
    let bit = with_string(ctx, &argv[1], false, |p| Ok(bit_at(p, off)))?;
    ctx.int(i64::from(bit));
    Ok(())
}

/// Parses the `BYTE | BIT` unit argument; true for `BIT`.
fn unit_is_bit(a: &Bytes) -> Result<bool, CmdError> {
    if is(a, "bit") {
        Ok(true)
    } else if is(a, "byte") {
        Ok(false)
    } else {
        Err(SYNTAX)
    }
}

/// Clamps a `start`/`end` pair (negative = from the end) to a string of
/// `total` units, as upstream does for BITCOUNT/BITPOS. Returns `None`
/// for an empty range.
fn clamp_range(mut start: i64, mut end: i64, total: i64) -> Option<(u64, u64)> {
    if start < 0 {
        start = start.saturating_add(total);
    }
    if end < 0 {
        end = end.saturating_add(total);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        None
    } else {
        Some((start as u64, end as u64))
    }
}

/// Number of set bits in the bit range `first..=last` of `p` (both within
/// the string).
fn count_bits(p: &[u8], first: u64, last: u64) -> i64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let Some(bytes) = p.get(fb..=lb) else {
        return 0;
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from(u64::from_ne_bytes(w).count_ones());
    }
    n += chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>();
    // Take away the bits of the edge bytes that lie outside the range.
    let head = 0xFFu8 >> (first & 7);
    let tail = 0xFFu8 << (7 - (last & 7));
    let outside = |b: u8, keep: u8| u64::from((b & !keep).count_ones());
    let (b0, bn) = (
        bytes.first().copied().unwrap_or(0),
        bytes.last().copied().unwrap_or(0),
    );
    if fb == lb {
        n -= outside(b0, head & tail);
    } else {
        n -= outside(b0, head);
        n -= outside(bn, tail);
    }
    n as i64
}

/// # Format
/// `BITCOUNT key [start end [BYTE | BIT]]`
pub fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Upstream looks the key up before parsing the range, so a missing key
    // answers 0 whatever the other arguments are.
    let n = with_string(ctx, &argv[1], 0, |p| {
        let len = p.len() as i64;
        let (first, last) = match argv.len() {
            2 => {
                if p.is_empty() {
                    return Ok(0);
                }
                (0, len as u64 * 8 - 1)
            }
            4 | 5 => {
                let start = args::int(&argv[2])?;
                let end = args::int(&argv[3])?;
                let bit = match argv.get(4) {
                    Some(u) => unit_is_bit(u)?,
                    None => false,
                };
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let total = if bit { len * 8 } else { len };
                match clamp_range(start, end, total) {
                    None => return Ok(0),
                    Some((s, e)) if bit => (s, e),
                    Some((s, e)) => (s * 8, e * 8 + 7),
                }
            }
            _ => return Err(SYNTAX),
        };
        Ok(count_bits(p, first, last))
    })?;
    ctx.int(n);
    Ok(())
}

/// The position of the first bit equal to `bit` in `first..=last`.
fn find_bit(p: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let bytes = p.get(fb..=lb)?;
    // Looking for zeros is looking for ones in the complement.
    let flip = if bit { 0 } else { 0xFF };
    let head = 0xFFu8 >> (first & 7);
    let tail = 0xFFu8 << (7 - (last & 7));
    let n = bytes.len();
    // The position of the first wanted bit in byte `i`, masking the edge
    // bytes to the range.
    let check = |i: usize| -> Option<u64> {
        let mut m = 0xFF;
        if i == 0 {
            m &= head;
        }
        if i + 1 == n {
            m &= tail;
        }
        let b = (bytes.get(i).copied()? ^ flip) & m;
        (b != 0).then(|| (fb + i) as u64 * 8 + u64::from(b.leading_zeros()))
    };
    if let Some(pos) = check(0) {
        return Some(pos);
    }
    if n < 2 {
        return None;
    }
    // Whole bytes between the edges can be skipped fast.
    let inner = bytes.get(1..n - 1).unwrap_or(&[]);
    match inner.iter().position(|&b| b != flip) {
        Some(k) => check(k + 1),
        None => check(n - 1),
    }
}

/// # Format
/// `BITPOS key bit [start [end [BYTE | BIT]]]`
pub fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let bit = match args::int(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::fixed("ERR The bit argument must be 1 or 0.")),
    };
    // A missing key is an endless run of zeros.
    let missing = if bit { -1 } else { 0 };
    let pos = with_string(ctx, &argv[1], missing, |p| {
        let len = p.len() as i64;
        let mut end_given = false;
        let range = match argv.len() {
            3 => clamp_range(0, len - 1, len).map(|(s, e)| (s * 8, e * 8 + 7)),
            4..=6 => {
                let start = args::int(&argv[3])?;
                let unit_bit = match argv.get(5) {
                    Some(u) => unit_is_bit(u)?,
                    None => false,
                };
                let total = if unit_bit { len * 8 } else { len };
                let end = match argv.get(4) {
                    Some(e) => {
                        end_given = true;
                        args::int(e)?
                    }
                    None => total - 1,
                };
                let r = clamp_range(start, end, total);
                if unit_bit {
                    r
                } else {
                    r.map(|(s, e)| (s * 8, e * 8 + 7))
                }
            }
            _ => return Err(SYNTAX),
        };
        let Some((first, last)) = range else {
            return Ok(-1);
        };
        Ok(match find_bit(p, bit, first, last) {
            Some(pos) => pos as i64,
            None if bit || end_given => -1,
            // Without an explicit end the string counts as padded with
            // zeros: the first clear bit is the one after the range's last
            // byte.
            None => ((last >> 3) as i64 + 1) * 8,
        })
    })?;
    ctx.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// # Format
/// `BITOP <AND | OR | XOR | NOT> destkey key [key ...]`
pub fn bitop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = &argv[1];
    let op = if is(name, "and") {
        BitOp::And
    } else if is(name, "or") {
        BitOp::Or
    } else if is(name, "xor") {
        BitOp::Xor
    } else if is(name, "not") {
        BitOp::Not
    } else {
        return Err(SYNTAX);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CmdError::fixed(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let dest = &argv[2];
    let mut srcs: Vec<Bytes> = Vec::with_capacity(argv.len() - 3);
    for k in &argv[3..] {
        // Missing keys are empty strings.
        srcs.push(with_string(ctx, k, Bytes::new(), |p| {
            Ok(Bytes::copy_from_slice(p))
        })?);
    }
    let maxlen = srcs.iter().map(Bytes::len).max().unwrap_or(0);
    let db = ctx.db();
    if maxlen == 0 {
        if ctx.st.ks.dbs[db].delete(dest) {
            ctx.changed(1);
            ctx.key_event(db, dest, 'g', "del");
        }
        ctx.int(0);
        return Ok(());
    }
    // Bytes past the end of a shorter source count as zero: the result
    // starts as the first source zero-padded, and the others are folded in
    // over their own length (for AND, the part past a source's end clears).
    let mut res = vec![0u8; maxlen];
    let (first, rest) = srcs.split_at(1);
    if let Some(f) = first.first() {
        if let Some(dst) = res.get_mut(..f.len()) {
            dst.copy_from_slice(f);
        }
    }
    for s in rest {
        let pairs = res.iter_mut().zip(s.iter());
        match op {
            BitOp::And => {
                pairs.for_each(|(r, b)| *r &= b);
                res.iter_mut().skip(s.len()).for_each(|r| *r = 0);
            }
            BitOp::Or => pairs.for_each(|(r, b)| *r |= b),
            BitOp::Xor => pairs.for_each(|(r, b)| *r ^= b),
            BitOp::Not => {}
        }
    }
    if op == BitOp::Not {
        res.iter_mut().for_each(|r| *r = !*r);
    }
    let lru = ctx.lru();
    // A freshly computed result is stored "raw", whatever its length.
    ctx.st.ks.dbs[db].set(dest, Value::Str(StrValue::Owned(res)), false, lru);
    ctx.changed(1);
    ctx.key_event(db, dest, '$', "set");
    ctx.int(maxlen as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD operation.
#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Parses `i<bits>` (1..=64) or `u<bits>` (1..=63).
fn field_type(a: &[u8]) -> Result<(bool, u32), CmdError> {
    let (signed, digits) = match a.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(BAD_TYPE),
    };
    let bits = parse_i64_strict(digits).ok_or(BAD_TYPE)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(BAD_TYPE);
    }
    Ok((signed, bits as u32))
}

/// Reads `bits` bits at `off`, most significant first; bits past the end
/// of the string read as zero.
fn get_unsigned(p: &[u8], off: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |v, j| (v << 1) | u64::from(bit_at(p, off + j)))
}

/// Like [`get_unsigned`], sign-extended from the field's top bit.
fn get_signed(p: &[u8], off: u64, bits: u32) -> i64 {
    let v = get_unsigned(p, off, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at `off` (the buffer was grown to
/// hold them).
fn set_field(p: &mut [u8], off: u64, bits: u32, v: u64) {
    for j in 0..u64::from(bits) {
        let on = v & (1 << (u64::from(bits) - 1 - j)) != 0;
        let pos = off + j;
        if let Some(b) = usize::try_from(pos >> 3).ok().and_then(|i| p.get_mut(i)) {
            let mask = 0x80u8 >> (pos & 7);
            if on {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
    }
}

/// Result of adding `incr` to a signed field value `value` of width
/// `bits`: `None` when it fits, otherwise the replacement value under
/// WRAP/SAT. The arithmetic mirrors upstream's (including how it treats
/// `SET` values near `i64::MIN`), so replies agree bit for bit.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrap() })
    } else {
        None
    }
}

/// The unsigned counterpart of [`signed_overflow`] (`bits` ≤ 63).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

/// Executes a SET or INCRBY on `p`; `None` when OVERFLOW FAIL refused it.
fn write_field(p: &mut [u8], f: &Field) -> Option<i64> {
    if f.signed {
        let old = get_signed(p, f.offset, f.bits);
        let (new, ret, over) = match f.op {
            FieldOp::IncrBy => {
                let over = signed_overflow(old, f.value, f.bits, f.overflow);
                let new = over.unwrap_or_else(|| old.wrapping_add(f.value));
                (new, new, over.is_some())
            }
            _ => {
                let over = signed_overflow(f.value, 0, f.bits, f.overflow);
                (over.unwrap_or(f.value), old, over.is_some())
            }
        };
        if over && f.overflow == Overflow::Fail {
            return None;
        }
        set_field(p, f.offset, f.bits, new as u64);
        Some(ret)
    } else {
        let old = get_unsigned(p, f.offset, f.bits);
        let (new, ret, over) = match f.op {
            FieldOp::IncrBy => {
                let over = unsigned_overflow(old, f.value, f.bits, f.overflow);
                let new = over.unwrap_or_else(|| old.wrapping_add(f.value as u64));
                (new, new, over.is_some())
            }
            _ => {
                let v = f.value as u64;
                let over = unsigned_overflow(v, 0, f.bits, f.overflow);
                (over.unwrap_or(v), old, over.is_some())
            }
        };
        if over && f.overflow == Overflow::Fail {
            return None;
        }
        set_field(p, f.offset, f.bits, new);
        Some(ret as i64)
    }
}

/// Reads a field for GET.
fn read_field(p: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(p, f.offset, f.bits)
    } else {
        get_unsigned(p, f.offset, f.bits) as i64
    }
}

/// Parses the BITFIELD operations; returns them with the highest bit a
/// write reaches (`None` when every operation is a GET).
fn parse_fields(ctx: &Ctx, argv: &[Bytes]) -> Result<(Vec<Field>, Option<u64>), CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut a = Args::new(&argv[2..]);
    while let Some(opt) = a.next_opt() {
        let left = a.len();
        let op = if is(opt, "get") && left >= 2 {
            FieldOp::Get
        } else if is(opt, "set") && left >= 3 {
            FieldOp::Set
        } else if is(opt, "incrby") && left >= 3 {
            FieldOp::IncrBy
        } else if is(opt, "overflow") && left >= 1 {
            overflow = match a.keyword(&["wrap", "sat", "fail"]) {
                Some(0) => Overflow::Wrap,
                Some(1) => Overflow::Sat,
                Some(2) => Overflow::Fail,
                _ => return Err(CmdError::fixed("ERR Invalid OVERFLOW type specified")),
            };
            continue;
        } else {
            return Err(SYNTAX);
        };
        let (signed, bits) = field_type(a.bytes()?)?;
        let offset = bit_offset(ctx, a.bytes()?, true, bits)?;
        let mut value = 0;
        if op != FieldOp::Get {
            let top = offset + u64::from(bits) - 1;
            highest = Some(highest.map_or(top, |h| h.max(top)));
            value = a.int()?;
        }
        fields.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
    }
    Ok((fields, highest))
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[Bytes], read_only: bool) -> CmdResult {
    let key = &argv[1];
    let (fields, highest) = parse_fields(ctx, argv)?;
    let Some(highest) = highest else {
        // Only GETs: a read lookup, missing keys read as zeros.
        let vals = with_string(ctx, key, None, |p| {
            Ok(Some(fields.iter().map(|f| read_field(p, f)).collect()))
        })?;
        let vals: Vec<i64> =
            vals.unwrap_or_else(|| fields.iter().map(|f| read_field(&[], f)).collect());
        ctx.array(vals.len());
        for v in vals {
            ctx.int(v);
        }
        return Ok(());
    };
    if read_only {
        return Err(CmdError::fixed(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let grown = prepare_for_bits(ctx, key, highest)?;
    let p = owned_bytes(ctx, key)?;
    let mut replies = Vec::with_capacity(fields.len());
    let (mut changes, mut written) = (0, false);
    for f in &fields {
        if f.op == FieldOp::Get {
            replies.push(Some(read_field(p, f)));
        } else {
            // Only a write that changes the bits counts as a change (7.0);
            // one refused by OVERFLOW FAIL changes nothing (even though the
            // key may have been created zero-filled above).
            let before = read_field(p, f);
            let r = write_field(p, f);
            if r.is_some() {
                written = true;
                if read_field(p, f) != before {
                    changes += 1;
                }
            }
            replies.push(r);
        }
    }
    if grown && written && changes == 0 {
        // Creating or growing the string is a change by itself.
        changes = 1;
    }
    ctx.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.int(v),
            None => ctx.null(),
        }
    }
    if changes > 0 {
        let db = ctx.db();
        ctx.changed(changes);
        ctx.key_event(db, key, '$', "setbit");
    }
    Ok(())
}

/// # Format
/// `BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>]
///  <SET encoding offset value | INCRBY encoding offset increment> ...]`
pub fn bitfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

/// # Format
/// `BITFIELD_RO key [GET encoding offset ...]`
pub fn bitfield_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

#[cfg(test)]
#[path = "bitops_tests.rs"]
mod tests;
