//! HyperLogLog commands (upstream `hyperloglog.c`): `PFADD`, `PFCOUNT`,
//! `PFMERGE`, `PFDEBUG` and `PFSELFTEST`.
//!
//! # Representation
//! An HLL is an ordinary string value laid out byte for byte like
//! upstream's, because clients see it (`GET`, `DUMP`/`RESTORE`, replication
//! to and from real Redis):
//!
//! * a 16-byte header: the magic `HYLL`, one encoding byte (0 dense,
//!   1 sparse), three unused zero bytes and the cached cardinality as 8
//!   little-endian bytes whose top bit (bit 7 of the last byte) marks the
//!   cache as stale;
//! * dense: 16384 registers of 6 bits, register `i` at bit offset `6*i`,
//!   least significant bits first;
//! * sparse: run-length opcodes — `00llllll` ZERO (1..64 zero registers),
//!   `01llllll llllllll` XZERO (1..16384 zero registers), `1vvvvvll` VAL
//!   (1..4 registers holding 1..32). A sparse HLL becomes dense when a value
//!   above 32 must be stored or when it would grow past
//!   `hll-sparse-max-bytes`.
//!
//! Elements are hashed with MurmurHash64A (seed `0xadc83b19`); the low 14
//! bits select the register and the run of zero bits above them, plus one,
//! is the candidate register value. The estimator is Ertl's improved raw
//! estimator over the register histogram, as upstream 7.0 uses.
//!
//! Every mutation of the sparse form (splitting runs, merging neighbours
//! after an update) follows upstream's algorithm step by step, so the same
//! sequence of `PFADD`s produces the same bytes here and there.

use bytes::Bytes;
use redis_storage::string::StrValue;
use redis_storage::Value;

use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, WRONGTYPE};
use redis_engine::table::Handler;

/// The HyperLogLog commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("pfadd", pfadd),
    ("pfcount", pfcount),
    ("pfmerge", pfmerge),
    ("pfdebug", pfdebug),
    ("pfselftest", pfselftest),
];

const INVALID_HLL: CmdError = CmdError::fixed("INVALIDOBJ Corrupted HLL object detected");
const NOT_HLL: CmdError = CmdError::fixed("WRONGTYPE Key is not a valid HyperLogLog string value.");

/// Register index bits.
const P: u32 = 14;
/// Number of registers.
const REGS: usize = 1 << P;
/// Hash bits left for the zero-run count.
const Q: usize = 64 - P as usize;
/// Header size.
const HDR: usize = 16;
/// Bits per dense register.
const BITS: usize = 6;
const REG_MAX: u8 = (1 << BITS) - 1;
/// Size of a dense HLL string.
const DENSE_SIZE: usize = HDR + (REGS * BITS).div_ceil(8);
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
/// Largest value a sparse VAL opcode can hold.
const SPARSE_VAL_MAX: u8 = 32;
/// Longest run of a VAL opcode.
const SPARSE_VAL_MAX_LEN: usize = 4;
/// Longest run of a ZERO opcode.
const SPARSE_ZERO_MAX_LEN: usize = 64;
/// Longest run of an XZERO opcode.
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// `1 / (2 ln 2)`, the asymptotic bias constant of the estimator.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

// ---------------------------------------------------------------------------
// Hashing

/// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2 variant), reading
/// 8-byte blocks little-endian as upstream does on every platform.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &c) in tail.iter().enumerate().rev() {
            h ^= u64::from(c) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the value it proposes (the length
/// of the run of zeros in the remaining hash bits, plus one).
fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGS as u64 - 1)) as usize;
    // The sentinel bit bounds the count at Q + 1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------
// Dense registers

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let pos = i * BITS;
    let (b, fb) = (pos / 8, pos % 8);
    let b0 = u32::from(regs.get(b).copied().unwrap_or(0));
    let b1 = u32::from(regs.get(b + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u32::from(REG_MAX)) as u8
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let pos = i * BITS;
    let (b, fb) = (pos / 8, pos % 8);
    let v = u32::from(v & REG_MAX);
    let m = u32::from(REG_MAX);
    if let Some(x) = regs.get_mut(b) {
        *x = ((u32::from(*x) & !(m << fb)) | (v << fb)) as u8;
    }
    if let Some(x) = regs.get_mut(b + 1) {
        *x = ((u32::from(*x) & !(m >> (8 - fb))) | (v >> (8 - fb))) as u8;
    }
}

/// Raises register `i` to `v`; true if it changed.
fn dense_set(s: &mut [u8], i: usize, v: u8) -> bool {
    let regs = s.get_mut(HDR..).unwrap_or_default();
    if v > dense_get(regs, i) {
        dense_put(regs, i, v);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------
// Sparse opcodes

/// One decoded sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    /// Decodes the opcode at `p` (a truncated XZERO reads its missing byte
    /// as 0, like upstream reading the string's terminator).
    fn at(s: &[u8], p: usize) -> Option<Op> {
        let c = *s.get(p)?;
        Some(if c & 0xc0 == 0 {
            Op::Zero(usize::from(c & 0x3f) + 1)
        } else if c & 0xc0 == 0x40 {
            let lo = usize::from(s.get(p + 1).copied().unwrap_or(0));
            Op::XZero(((usize::from(c & 0x3f) << 8) | lo) + 1)
        } else {
            Op::Val(((c >> 2) & 0x1f) + 1, usize::from(c & 3) + 1)
        })
    }

    fn size(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
}

fn val_op(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len - 1) as u8
}

/// Appends a run of `len` zero registers as one ZERO or XZERO opcode.
fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        let l = len - 1;
        out.push(0x40 | ((l >> 8) as u8 & 0x3f));
        out.push((l & 0xff) as u8);
    } else {
        out.push((len - 1) as u8);
    }
}

/// A new empty HLL: sparse, all registers covered by XZERO runs, cached
/// cardinality 0.
fn new_hll() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(b"HYLL");
    s.extend_from_slice(&[ENC_SPARSE, 0, 0, 0]);
    s.extend_from_slice(&[0; 8]);
    let mut left = REGS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        push_zero_run(&mut s, n);
        left -= n;
    }
    s
}

/// Upstream's `isHLLObjectOrReply` test on the string bytes.
fn is_valid_hll(s: &[u8]) -> bool {
    s.len() >= HDR
        && s.starts_with(b"HYLL")
        && s.get(4).is_some_and(|&e| e <= ENC_SPARSE)
        && (s.get(4) != Some(&ENC_DENSE) || s.len() == DENSE_SIZE)
}

fn encoding(s: &[u8]) -> u8 {
    s.get(4).copied().unwrap_or(ENC_DENSE)
}

fn invalidate_cache(s: &mut [u8]) {
    if let Some(b) = s.get_mut(15) {
        *b |= 0x80;
    }
}

/// The cached cardinality, if valid.
fn cached_card(s: &[u8]) -> Option<u64> {
    let c: [u8; 8] = s.get(8..16)?.try_into().ok()?;
    if c[7] & 0x80 != 0 {
        None
    } else {
        Some(u64::from_le_bytes(c))
    }
}

fn set_cached_card(s: &mut [u8], card: u64) {
    if let Some(c) = s.get_mut(8..16) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// Converts a sparse HLL to dense in place, keeping the header (magic and
/// cached cardinality). `Err` when the opcodes do not cover exactly every
/// register.
fn sparse_to_dense(s: &mut Vec<u8>) -> Result<(), ()> {
    if encoding(s) == ENC_DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(s.get(..HDR).ok_or(())?);
    dense[4] = ENC_DENSE;
    let mut idx = 0usize;
    let mut p = HDR;
    while let Some(op) = Op::at(s, p) {
        let n = op.span();
        if idx + n > REGS {
            break;
        }
        if let Op::Val(v, _) = op {
            for i in idx..idx + n {
                dense_put(&mut dense[HDR..], i, v);
            }
        }
        idx += n;
        p += op.size();
    }
    if idx != REGS {
        return Err(());
    }
    *s = dense;
    Ok(())
}

/// Sets register `index` of a sparse HLL to `count` if larger (upstream
/// `hllSparseSet`), promoting to dense when needed. Returns whether the
/// register changed; `Err` for a corrupted value.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, ()> {
    if count > SPARSE_VAL_MAX {
        return promote(s, index, count);
    }
    // Find the opcode covering `index` and the one before it.
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found = None;
    while let Some(op) = Op::at(s, p) {
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.size();
        first += op.span();
    }
    let op = found.ok_or(())?;
    let runlen = op.span();

    let mut simple = false;
    match op {
        Op::Val(old, _) => {
            if old >= count {
                return Ok(false);
            }
            simple = runlen == 1;
        }
        Op::Zero(_) => simple = runlen == 1,
        Op::XZero(_) => {}
    }
    if simple {
        if let Some(b) = s.get_mut(p) {
            *b = val_op(count, 1);
        }
    } else {
        // Split the run into up to three opcodes: before, the new value,
        // after.
        let last = first + runlen - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zero_run(&mut seq, index - first);
                }
                seq.push(val_op(count, 1));
                if index != last {
                    push_zero_run(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_op(cur, index - first));
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.push(val_op(cur, last - index));
                }
            }
        }
        let oldlen = op.size();
        if seq.len() > oldlen && s.len() + seq.len() - oldlen > max_bytes {
            return promote(s, index, count);
        }
        let end = (p + oldlen).min(s.len());
        let _replaced: Vec<u8> = s.splice(p..end, seq).collect();
    }

    // Merge adjacent VAL opcodes with equal values, looking at up to five
    // opcodes from the one before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        match Op::at(s, p) {
            Some(Op::XZero(_)) => {
                p += 2;
                continue;
            }
            Some(Op::Zero(_)) => {
                p += 1;
                continue;
            }
            _ => {}
        }
        if let (Some(Op::Val(v1, l1)), Some(Op::Val(v2, l2))) = (Op::at(s, p), Op::at(s, p + 1)) {
            if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                if let Some(b) = s.get_mut(p + 1) {
                    *b = val_op(v1, l1 + l2);
                }
                s.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, ()> {
    sparse_to_dense(s)?;
    dense_set(s, index, count);
    Ok(true)
}

/// Adds one element (upstream `hllAdd`): true if a register changed.
fn hll_add(s: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, ()> {
    let (index, count) = pat_len(ele);
    match encoding(s) {
        ENC_DENSE => Ok(dense_set(s, index, count)),
        ENC_SPARSE => sparse_set(s, index, count, max_bytes),
        _ => Err(()),
    }
}

/// Folds the registers of `s` into `max` (upstream `hllMerge`).
fn merge_into(max: &mut [u8; REGS], s: &[u8]) -> Result<(), ()> {
    if encoding(s) == ENC_DENSE {
        let regs = s.get(HDR..).unwrap_or_default();
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    let mut idx = 0usize;
    let mut p = HDR;
    while let Some(op) = Op::at(s, p) {
        let n = op.span();
        if idx + n > REGS {
            break;
        }
        if let Op::Val(v, _) = op {
            for m in max.iter_mut().skip(idx).take(n) {
                *m = (*m).max(v);
            }
        }
        idx += n;
        p += op.size();
    }
    if idx == REGS {
        Ok(())
    } else {
        Err(())
    }
}

/// `sigma` of Ertl's estimator.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// `tau` of Ertl's estimator.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a register histogram.
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Cardinality of a stored HLL; `Err` when a sparse one is corrupted.
fn count_hll(s: &[u8]) -> Result<u64, ()> {
    let mut histo = [0u64; 64];
    if encoding(s) == ENC_DENSE {
        let regs = s.get(HDR..).unwrap_or_default();
        for i in 0..REGS {
            histo[usize::from(dense_get(regs, i))] += 1;
        }
    } else {
        let mut idx = 0usize;
        let mut p = HDR;
        while let Some(op) = Op::at(s, p) {
            let n = op.span();
            let v = match op {
                Op::Val(v, _) => usize::from(v),
                _ => 0,
            };
            histo[v] = histo[v].saturating_add(n as u64);
            idx += n;
            p += op.size();
        }
        if idx != REGS {
            return Err(());
        }
    }
    Ok(estimate(&histo))
}

/// Cardinality of merged raw registers.
fn count_raw(regs: &[u8; REGS]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in regs {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

// ---------------------------------------------------------------------------
// Key access

fn sparse_max_bytes(ctx: &Ctx) -> usize {
    usize::try_from(ctx.st.config.get_int("hll-sparse-max-bytes")).unwrap_or(0)
}

/// Checks that an existing value is an HLL (plain `WRONGTYPE` for other
/// types, the HLL-specific one for strings that are not HLLs).
fn check_hll(v: &Value) -> Result<(), CmdError> {
    match v {
        Value::Str(StrValue::Int(_)) => Err(NOT_HLL),
        Value::Str(s) => {
            if s.with_bytes(is_valid_hll) {
                Ok(())
            } else {
                Err(NOT_HLL)
            }
        }
        _ => Err(WRONGTYPE),
    }
}

/// The mutable bytes of an existing HLL key (after validating it), as
/// upstream's `dbUnshareStringValue` leaves it: a raw string.
fn hll_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Vec<u8>>, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    match ctx.st.ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(e) => {
            check_hll(&e.value)?;
            match &mut e.value {
                Value::Str(s) => Ok(Some(s.make_owned())),
                _ => Err(WRONGTYPE),
            }
        }
    }
}

/// Merges the registers of every existing key in `keys` (read lookups).
/// Returns whether any of them was dense.
fn merge_keys(ctx: &mut Ctx, keys: &[Bytes], max: &mut [u8; REGS]) -> Result<bool, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let mut any_dense = false;
    for k in keys {
        let Some(e) = ctx.st.ks.lookup_read(db, k, now, lru) else {
            continue;
        };
        check_hll(&e.value)?;
        if let Value::Str(s) = &e.value {
            s.with_bytes(|b| {
                if encoding(b) == ENC_DENSE {
                    any_dense = true;
                }
                merge_into(max, b)
            })
            .map_err(|()| INVALID_HLL)?;
        }
    }
    Ok(any_dense)
}

// ---------------------------------------------------------------------------
// Commands

/// # Format
/// `PFADD key [element [element ...]]`
///
/// Adds the elements; replies 1 if the estimate may have changed (a register
/// was raised or the key was created), 0 otherwise.
pub fn pfadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let max_bytes = sparse_max_bytes(ctx);
    let (db, lru) = (ctx.db(), ctx.lru());
    let mut updated = 0u64;
    if hll_mut(ctx, key)?.is_none() {
        ctx.st.ks.dbs[db].set(key, Value::Str(StrValue::from_vec(new_hll())), false, lru);
        updated += 1;
    }
    let mut failed = false;
    if let Some(s) = hll_mut(ctx, key)? {
        for ele in argv.iter().skip(2) {
            match hll_add(s, ele, max_bytes) {
                Ok(true) => updated += 1,
                Ok(false) => {}
                Err(()) => {
                    failed = true;
                    break;
                }
            }
        }
        if updated > 0 && !failed {
            invalidate_cache(s);
        }
    }
    if failed {
        // Registers raised before the corruption was hit stay raised and
        // nothing is counted as changed, as upstream; the reply is the error.
        return Err(INVALID_HLL);
    }
    if updated > 0 {
        ctx.key_event(db, key, '$', "pfadd");
        ctx.changed(updated);
    }
    ctx.int(i64::from(updated > 0));
    Ok(())
}

/// # Format
/// `PFCOUNT key [key ...]`
///
/// One key: its (cached) estimate; refreshing a stale cache writes it back
/// into the value and counts as a change, so it is propagated. Several keys:
/// the estimate of their union, computed on the fly.
pub fn pfcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        let mut max = [0u8; REGS];
        merge_keys(ctx, &argv[1..], &mut max)?;
        ctx.int(count_raw(&max) as i64);
        return Ok(());
    }
    let key = &argv[1];
    let db = ctx.db();
    // Upstream reads the key with a read lookup: the hit or miss counts.
    let now = ctx.now;
    if !ctx.st.ks.exists_read(db, key, now) {
        ctx.int(0);
        return Ok(());
    }
    let Some(s) = hll_mut(ctx, key)? else {
        ctx.int(0);
        return Ok(());
    };
    let card = match cached_card(s) {
        Some(c) => c,
        None => {
            let c = count_hll(s).map_err(|()| INVALID_HLL)?;
            set_cached_card(s, c);
            ctx.st.touch_key(db, key);
            ctx.changed(1);
            c
        }
    };
    ctx.int(card as i64);
    Ok(())
}

/// # Format
/// `PFMERGE destkey [sourcekey [sourcekey ...]]`
///
/// Stores in `destkey` the union of all the given HLLs (including
/// `destkey` itself). The result is dense if any input was.
pub fn pfmerge(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut max = [0u8; REGS];
    let use_dense = merge_keys(ctx, &argv[1..], &mut max)?;
    let key = &argv[1];
    let max_bytes = sparse_max_bytes(ctx);
    let (db, lru) = (ctx.db(), ctx.lru());
    if hll_mut(ctx, key)?.is_none() {
        ctx.st.ks.dbs[db].set(key, Value::Str(StrValue::from_vec(new_hll())), false, lru);
    }
    let Some(s) = hll_mut(ctx, key)? else {
        return Err(INVALID_HLL);
    };
    if use_dense && sparse_to_dense(s).is_err() {
        return Err(INVALID_HLL);
    }
    for (i, &v) in max.iter().enumerate() {
        if v == 0 {
            continue;
        }
        if encoding(s) == ENC_DENSE {
            dense_set(s, i, v);
        } else {
            // The sources were validated; a failure here can only come from
            // a corrupted destination, which upstream ignores as well.
            let _ = sparse_set(s, i, v, max_bytes);
        }
    }
    invalidate_cache(s);
    ctx.key_event(db, key, '$', "pfadd");
    ctx.changed(1);
    ctx.ok();
    Ok(())
}

/// # Format
/// `PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key`
///
/// Introspection: the 16384 register values (converting to dense), the
/// sparse opcodes as text, the encoding name, or a conversion to dense.
pub fn pfdebug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = &argv[1];
    let key = &argv[2];
    let name = String::from_utf8_lossy(sub).into_owned();
    let arity = argv.len() == 3;
    let arity_err = || {
        CmdError::msg(format!(
            "ERR Wrong number of arguments for the '{name}' subcommand"
        ))
    };
    let Some(s) = hll_mut(ctx, key)? else {
        return Err(CmdError::fixed("ERR The specified key does not exist"));
    };
    if sub.eq_ignore_ascii_case(b"getreg") {
        if !arity {
            return Err(arity_err());
        }
        let mut converted = false;
        if encoding(s) == ENC_SPARSE {
            sparse_to_dense(s).map_err(|()| INVALID_HLL)?;
            converted = true;
        }
        let regs: Vec<u8> = {
            let r = s.get(HDR..).unwrap_or_default();
            (0..REGS).map(|i| dense_get(r, i)).collect()
        };
        if converted {
            ctx.changed(1);
        }
        ctx.array(REGS);
        for r in regs {
            ctx.int(i64::from(r));
        }
    } else if sub.eq_ignore_ascii_case(b"decode") {
        if !arity {
            return Err(arity_err());
        }
        if encoding(s) != ENC_SPARSE {
            return Err(CmdError::fixed("ERR HLL encoding is not sparse"));
        }
        let mut out = String::new();
        let mut p = HDR;
        while let Some(op) = Op::at(s, p) {
            let piece = match op {
                Op::Zero(n) => format!("z:{n} "),
                Op::XZero(n) => format!("Z:{n} "),
                Op::Val(v, n) => format!("v:{v},{n} "),
            };
            out.push_str(&piece);
            p += op.size();
        }
        let text = out.trim_matches(' ').to_owned();
        ctx.bulk(text.as_bytes());
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        if !arity {
            return Err(arity_err());
        }
        let e = if encoding(s) == ENC_DENSE {
            "dense"
        } else {
            "sparse"
        };
        ctx.simple(e);
    } else if sub.eq_ignore_ascii_case(b"todense") {
        if !arity {
            return Err(arity_err());
        }
        let mut conv = false;
        if encoding(s) == ENC_SPARSE {
            sparse_to_dense(s).map_err(|()| INVALID_HLL)?;
            conv = true;
        }
        if conv {
            ctx.changed(1);
        }
        ctx.int(i64::from(conv));
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unknown PFDEBUG subcommand '{name}'"
        )));
    }
    Ok(())
}

/// # Format
/// `PFSELFTEST`
///
/// Checks the register accessors and that the sparse and dense forms give
/// the same estimates within the expected error; `+OK` on success.
pub fn pfselftest(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    match self_test() {
        Ok(()) => {
            ctx.ok();
            Ok(())
        }
        Err(msg) => Err(CmdError::msg(format!("TESTFAILED {msg}"))),
    }
}

fn self_test() -> Result<(), String> {
    // Register accessors: every register holds exactly what was written,
    // including across byte boundaries, with neighbours untouched.
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut expect = vec![0u8; REGS];
    for _ in 0..4 {
        for (i, e) in expect.iter_mut().enumerate() {
            let v = (next() & u64::from(REG_MAX)) as u8;
            dense_put(&mut regs, i, v);
            *e = v;
        }
        for (i, &e) in expect.iter().enumerate() {
            if dense_get(&regs, i) != e {
                return Err(format!("Register error at {i}"));
            }
        }
    }
    // Sparse and dense estimates agree, and the error stays within bounds.
    let mut sparse = new_hll();
    let mut dense = new_hll();
    sparse_to_dense(&mut dense).map_err(|()| "dense conversion".to_owned())?;
    let relerr = 1.04 / (REGS as f64).sqrt();
    let mut checkpoint = 1u64;
    for j in 1..=100_000u64 {
        let ele = next().to_le_bytes();
        hll_add(&mut sparse, &ele, 3000).map_err(|()| "sparse add".to_owned())?;
        hll_add(&mut dense, &ele, 3000).map_err(|()| "dense add".to_owned())?;
        if j == checkpoint {
            let a = count_hll(&sparse).map_err(|()| "sparse count".to_owned())?;
            let b = count_hll(&dense).map_err(|()| "dense count".to_owned())?;
            if a != b {
                return Err(format!("Sparse and dense estimates differ: {a} vs {b}"));
            }
            let tolerance = if j < 500 { relerr * 4.0 } else { relerr * 5.0 };
            let abserr = (b as f64 - j as f64).abs();
            if abserr > j as f64 * tolerance {
                return Err(format!(
                    "Too big error. card:{j} abserr:{abserr} (tolerance {tolerance})"
                ));
            }
            checkpoint *= 10;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "hyperloglog_tests.rs"]
mod tests;
