//! Sorted set commands (upstream `t_zset.c`, "commands" half; the type API is
//! `redis_storage::zset`).
//!
//! Blocking pops (`BZPOPMIN`, `BZPOPMAX`, `BZMPOP`) are registered by the
//! blocking machinery (`redis_engine::blocking`); this module gives it [`serve_blocked_zpop`] and
//! [`serve_blocked_zmpop`], which pop from an existing key and write exactly
//! the reply a blocked client receives.

use std::collections::HashMap;

use bytes::Bytes;
use rand::Rng;
use redis_resp::write::write_double;
use redis_resp::Protocol;
use redis_storage::zset::{cmp_elem, Limits, ZSetValue};
use redis_storage::Value;

use crate::args::{self, is, parse_timeout, Args, Mpop, ScanOpts};
use redis_engine::blocking::TimeoutReply;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, NOT_FLOAT, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The sorted set commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zrange", zrange),
    ("zrangestore", zrangestore),
    ("zrevrange", zrevrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("zmpop", zmpop),
    ("zrandmember", zrandmember),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zintercard", zintercard),
    ("zscan", zscan),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("bzmpop", bzmpop),
];

const NAN_RESULT: CmdError = CmdError::fixed("ERR resulting score is not a number (NaN)");
const NOT_FLOAT_RANGE: CmdError = CmdError::fixed("ERR min or max is not a float");
const NOT_LEX_RANGE: CmdError = CmdError::fixed("ERR min or max not valid string range item");
const MUST_BE_POSITIVE: CmdError = CmdError::fixed("ERR value is out of range, must be positive");

// ---------------------------------------------------------------------------
// Shared helpers

/// The compact-form thresholds from the configuration (cached: a
/// directive lookup by name costs more than a small ZADD).
fn limits(ctx: &Ctx) -> Limits {
    ctx.st.cached.zset_limits
}

/// Reads a sorted set key: `Ok(None)` if missing, `WRONGTYPE` otherwise.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c ZSetValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    match ctx.st.ks.lookup_read(db, key, now, lru) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// A sorted set already looked up by this command (no statistics, no
/// expiry, no type error: the caller's lookup did all that).
fn peek<'c>(ctx: &'c Ctx, key: &[u8]) -> Option<&'c ZSetValue> {
    match ctx.st.ks.dbs[ctx.db()].get(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

/// Looks a sorted set key up for writing.
fn write_ref<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ZSetValue>, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    match ctx.st.ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Deletes `key` if its set became empty (never store an empty collection),
/// with upstream's "del" event.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let empty = matches!(ctx.st.ks.dbs[db].get(key), Some(e) if matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        ctx.st.ks.dbs[db].delete(key);
        ctx.key_event(db, key, 'g', "del");
    }
}

/// A score reply: RESP3 double, RESP2 bulk of `%.17g`.
fn double(ctx: &mut Ctx, v: f64) {
    let proto = ctx.proto();
    write_double(ctx.out, proto, v);
}

/// Members, optionally with scores: flat pairs in RESP2, `[member, score]`
/// arrays in RESP3 (what 7.0 sends for ZRANGE, ZPOPMIN with a count, …).
fn reply_elems(ctx: &mut Ctx, items: &[(Bytes, f64)], withscores: bool) {
    if !withscores {
        ctx.array(items.len());
        for (m, _) in items {
            ctx.bulk(m);
        }
        return;
    }
    match ctx.proto() {
        Protocol::Resp2 => {
            ctx.array(items.len() * 2);
            for (m, s) in items {
                ctx.bulk(m);
                double(ctx, *s);
            }
        }
        Protocol::Resp3 => {
            ctx.array(items.len());
            for (m, s) in items {
                ctx.array(2);
                ctx.bulk(m);
                double(ctx, *s);
            }
        }
    }
}

/// A new set holding `items`, in the form upstream would leave a freshly
/// stored result in.
fn build(items: &[(Bytes, f64)], limits: Limits) -> ZSetValue {
    let maxlen = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSetValue::with_hint(items.len(), maxlen, limits);
    for (m, s) in items {
        z.insert(m, *s, limits);
    }
    z.shrink_to_fit_limits(limits);
    z
}

/// Stores a computed result in `dst` (or deletes `dst` when it is empty) and
/// replies with its size, as the *STORE commands do.
fn store_result(ctx: &mut Ctx, dst: &[u8], items: &[(Bytes, f64)], event: &str) {
    let db = ctx.db();
    if items.is_empty() {
        let now = ctx.now;
        if ctx.st.ks.exists(db, dst, now) {
            ctx.st.ks.dbs[db].delete(dst);
            ctx.key_event(db, dst, 'g', "del");
            ctx.changed(1);
        }
        ctx.int(0);
        return;
    }
    let z = build(items, limits(ctx));
    let lru = ctx.lru();
    ctx.st.ks.dbs[db].set(dst, Value::ZSet(z), false, lru);
    ctx.key_event(db, dst, 'z', event);
    ctx.changed(1);
    ctx.int(items.len() as i64);
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtod` over the whole argument: leading whitespace allowed, decimal,
/// hexadecimal (`0x1p3`), `inf`/`infinity`; NaN rejected. Also reports
/// whether the conversion over- or underflowed (`errno == ERANGE`).
fn strtod_full(a: &[u8]) -> Option<(f64, bool)> {
    if a.is_empty() {
        // strtod converts nothing and points at the terminating NUL.
        return Some((0.0, false));
    }
    let start = a.iter().position(|&c| !is_c_space(c))?;
    let t = std::str::from_utf8(a.get(start..)?).ok()?;
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    let v = if body.len() > 2 && (body.starts_with("0x") || body.starts_with("0X")) {
        parse_hex_float(body.get(2..)?)?
    } else {
        let first = *body.as_bytes().first()?;
        // Rust's parser accepts the same decimal/inf/nan spellings as
        // strtod, but not a leading sign after the one stripped above.
        if !(first.is_ascii_digit() || first == b'.' || first.eq_ignore_ascii_case(&b'i')) {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_nan() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let overflow = v.is_infinite() && !lower.starts_with("inf");
    let mantissa_digits = lower.split(['e', 'p']).next().unwrap_or("");
    let underflow = v == 0.0 && mantissa_digits.bytes().any(|c| (b'1'..=b'9').contains(&c));
    Some((if neg { -v } else { v }, overflow || underflow))
}

/// Hex float body after `0x`: digits, optional fraction, optional `p` exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (s.get(..i)?, Some(s.get(i + 1..)?)),
        None => (s, None),
    };
    let (int, frac) = match mant.find('.') {
        Some(i) => (mant.get(..i)?, mant.get(i + 1..)?),
        None => (mant, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0.0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(v)
}

/// A score argument (`getDoubleFromObject`): no surrounding spaces, no
/// overflow, not NaN.
fn parse_score(a: &[u8]) -> Result<f64, CmdError> {
    match a.first() {
        None => return Err(NOT_FLOAT),
        Some(&c) if is_c_space(c) => return Err(NOT_FLOAT),
        _ => {}
    }
    match strtod_full(a) {
        Some((v, false)) => Ok(v),
        _ => Err(NOT_FLOAT),
    }
}

/// A score range (`ZRANGEBYSCORE min max`): `(` makes a bound exclusive.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

fn parse_score_bound(a: &[u8]) -> Result<(f64, bool), CmdError> {
    let (ex, body) = match a.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, a),
    };
    match strtod_full(body) {
        Some((v, _)) => Ok((v, ex)),
        None => Err(NOT_FLOAT_RANGE),
    }
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let (min, minex) = parse_score_bound(min)?;
        let (max, maxex) = parse_score_bound(max)?;
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// Ascending rank span `[lo, hi)` of the elements in range.
    fn ranks(&self, z: &ZSetValue) -> (usize, usize) {
        let lo = z.count_prefix(|s, _| !self.gte_min(s));
        let hi = z.count_prefix(|s, _| self.lte_max(s));
        (lo, hi.max(lo))
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
enum Lex {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

fn parse_lex(a: &Bytes) -> Result<Lex, CmdError> {
    match a.first() {
        Some(b'+') if a.len() == 1 => Ok(Lex::PosInf),
        Some(b'-') if a.len() == 1 => Ok(Lex::NegInf),
        Some(b'[') => Ok(Lex::Incl(a.slice(1..))),
        Some(b'(') => Ok(Lex::Excl(a.slice(1..))),
        _ => Err(NOT_LEX_RANGE),
    }
}

#[derive(Clone, Debug)]
struct LexRange {
    min: Lex,
    max: Lex,
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, CmdError> {
        Ok(LexRange {
            min: parse_lex(min)?,
            max: parse_lex(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::NegInf => true,
            Lex::PosInf => false,
            Lex::Incl(x) => m >= &x[..],
            Lex::Excl(x) => m > &x[..],
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(x) => m <= &x[..],
            Lex::Excl(x) => m < &x[..],
        }
    }

    fn ranks(&self, z: &ZSetValue) -> (usize, usize) {
        let lo = z.count_prefix(|_, m| !self.gte_min(m));
        let hi = z.count_prefix(|_, m| self.lte_max(m));
        (lo, hi.max(lo))
    }
}

/// Ascending rank span `[lo, hi)` of an index range `start..=stop` with
/// negative indexes counted from the end, as ZRANGE/ZREMRANGEBYRANK use.
fn rank_span(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let n = len as i64;
    let mut start = if start < 0 { n + start } else { start };
    let mut stop = if stop < 0 { n + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= n {
        return (0, 0);
    }
    if stop >= n {
        stop = n - 1;
    }
    (start as usize, stop as usize + 1)
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Applies ZADD semantics; returns (added, updated, score of the last
/// processed element if any).
fn zadd_apply(
    ctx: &mut Ctx,
    key: &[u8],
    pairs: &[(f64, &Bytes)],
    f: AddFlags,
) -> Result<(usize, usize, Option<f64>), CmdError> {
    let limits = limits(ctx);
    let (db, lru) = (ctx.db(), ctx.lru());
    let mut fresh: Option<ZSetValue> = None;
    let z: &mut ZSetValue = match write_ref(ctx, key)? {
        Some(z) => z,
        None => {
            if f.xx {
                return Ok((0, 0, None));
            }
            fresh.insert(ZSetValue::new())
        }
    };
    let (mut added, mut updated, mut last) = (0, 0, None);
    for &(score, member) in pairs {
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(NAN_RESULT);
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                last = Some(new);
                // `!=` on purpose: -0 and 0 are the same score upstream.
                #[allow(clippy::float_cmp)]
                if new != cur {
                    z.insert(member, new, limits);
                    updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(member, score, limits);
                added += 1;
                last = Some(score);
            }
        }
    }
    if let Some(z) = fresh {
        if !z.is_empty() {
            ctx.st.ks.dbs[db].set(key, Value::ZSet(z), false, lru);
        }
    }
    if added + updated > 0 {
        ctx.key_event(db, key, 'z', if f.incr { "zincr" } else { "zadd" });
        ctx.changed((added + updated) as u64);
    }
    Ok((added, updated, last))
}

/// # Format
/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
pub fn zadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut a = Args::new(&argv[2..]);
    let mut f = AddFlags::default();
    // Flags come first; the first other argument starts the score/member
    // pairs.
    while let Some(i) = a.keyword(&["nx", "xx", "gt", "lt", "ch", "incr"]) {
        match i {
            0 => f.nx = true,
            1 => f.xx = true,
            2 => f.gt = true,
            3 => f.lt = true,
            4 => f.ch = true,
            _ => f.incr = true,
        }
    }
    let rest = a.rest();
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(SYNTAX);
    }
    if f.nx && f.xx {
        return Err(CmdError::fixed(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::fixed(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(CmdError::fixed(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        pairs.push((parse_score(&p[0])?, &p[1]));
    }
    let (added, updated, last) = zadd_apply(ctx, &argv[1], &pairs, f)?;
    if f.incr {
        match last {
            Some(s) => double(ctx, s),
            None => ctx.null(),
        }
    } else {
        ctx.int((if f.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// # Format
/// `ZINCRBY key increment member`
pub fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Upstream runs ZINCRBY through ZADD's parser: a ZADD flag in the score
    // position is consumed as a flag, leaving an odd score/member list.
    if ["nx", "xx", "gt", "lt", "ch", "incr"]
        .iter()
        .any(|f| is(&argv[2], f))
    {
        return Err(SYNTAX);
    }
    let incr = parse_score(&argv[2])?;
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let (_, _, last) = zadd_apply(ctx, &argv[1], &[(incr, &argv[3])], f)?;
    match last {
        Some(s) => double(ctx, s),
        None => ctx.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Removal

/// # Format
/// `ZREM key member [member ...]`
pub fn zrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let mut deleted = 0;
    if let Some(z) = write_ref(ctx, key)? {
        for m in &argv[2..] {
            if z.remove(m) {
                deleted += 1;
                if z.is_empty() {
                    break;
                }
            }
        }
    }
    if deleted > 0 {
        let db = ctx.db();
        ctx.key_event(db, key, 'z', "zrem");
        delete_if_empty(ctx, key);
        ctx.changed(deleted as u64);
    }
    ctx.int(deleted as i64);
    Ok(())
}

/// Removes the ascending rank span computed by `span` and replies with the
/// number of removed elements.
fn remrange(
    ctx: &mut Ctx,
    key: &Bytes,
    event: &str,
    span: impl Fn(&ZSetValue) -> (usize, usize),
) -> CmdResult {
    let removed = match write_ref(ctx, key)? {
        Some(z) => {
            let (lo, hi) = span(z);
            z.remove_range(lo, hi).len()
        }
        None => 0,
    };
    if removed > 0 {
        let db = ctx.db();
        ctx.key_event(db, key, 'z', event);
        delete_if_empty(ctx, key);
        ctx.changed(removed as u64);
    }
    ctx.int(removed as i64);
    Ok(())
}

/// # Format
/// `ZREMRANGEBYRANK key start stop`
pub fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let stop = args::int(&argv[3])?;
    remrange(ctx, &argv[1], "zremrangebyrank", |z| {
        rank_span(start, stop, z.len())
    })
}

/// # Format
/// `ZREMRANGEBYSCORE key min max`
pub fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = ScoreRange::parse(&argv[2], &argv[3])?;
    remrange(ctx, &argv[1], "zremrangebyscore", |z| r.ranks(z))
}

/// # Format
/// `ZREMRANGEBYLEX key min max`
pub fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = LexRange::parse(&argv[2], &argv[3])?;
    remrange(ctx, &argv[1], "zremrangebylex", |z| r.ranks(z))
}

// ---------------------------------------------------------------------------
// Simple reads

/// # Format
/// `ZCARD key`
pub fn zcard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?.map_or(0, ZSetValue::len);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `ZCOUNT key min max`
pub fn zcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = ScoreRange::parse(&argv[2], &argv[3])?;
    let n = read(ctx, &argv[1])?.map_or(0, |z| {
        let (lo, hi) = r.ranks(z);
        hi - lo
    });
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `ZLEXCOUNT key min max`
pub fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = LexRange::parse(&argv[2], &argv[3])?;
    let n = read(ctx, &argv[1])?.map_or(0, |z| {
        let (lo, hi) = r.ranks(z);
        hi - lo
    });
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `ZSCORE key member`
pub fn zscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match read(ctx, &argv[1])?.and_then(|z| z.score(&argv[2])) {
        Some(s) => double(ctx, s),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `ZMSCORE key member [member ...]`
pub fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = match read(ctx, &argv[1])? {
        Some(z) => argv[2..].iter().map(|m| z.score(m)).collect(),
        None => vec![None; argv.len() - 2],
    };
    ctx.array(scores.len());
    for s in scores {
        match s {
            Some(s) => double(ctx, s),
            None => ctx.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let r = read(ctx, &argv[1])?.and_then(|z| {
        let (r, _) = z.rank(&argv[2])?;
        Some(if rev { z.len() - 1 - r } else { r })
    });
    match r {
        Some(r) => ctx.int(r as i64),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `ZRANK key member`
pub fn zrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

/// # Format
/// `ZREVRANK key member`
pub fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------
// ZRANGE family

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum By {
    Rank,
    Score,
    Lex,
}

enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The elements a range selects, in reply order.
fn select(z: &ZSetValue, spec: &Spec, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    let n = z.len();
    let (lo, hi) = match spec {
        Spec::Rank(start, stop) => {
            let (a, b) = rank_span(*start, *stop, n);
            if rev {
                // Reverse ranks a..b are forward ranks n-b..n-a.
                let mut v = z.range(n - b, n - a);
                v.reverse();
                return v;
            }
            return z.range(a, b);
        }
        Spec::Score(r) => r.ranks(z),
        Spec::Lex(r) => r.ranks(z),
    };
    if offset < 0 {
        return Vec::new();
    }
    let avail = (hi - lo).saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX));
    let take = if limit < 0 {
        avail
    } else {
        avail.min(usize::try_from(limit).unwrap_or(usize::MAX))
    };
    let off = (hi - lo) - avail;
    if rev {
        let mut v = z.range(hi - off - take, hi - off);
        v.reverse();
        v
    } else {
        z.range(lo + off, lo + off + take)
    }
}

/// The options of the ZRANGE family after `min max`.
struct RangeOpts {
    by: By,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

impl RangeOpts {
    /// Parses the options; `by` and `rev` are fixed by the legacy commands
    /// (`None` = chosen by options), `store` (ZRANGESTORE) refuses
    /// WITHSCORES. The combination errors come after the whole parse, like
    /// upstream.
    fn parse(
        mut a: Args,
        store: bool,
        by: Option<By>,
        rev: Option<bool>,
    ) -> Result<RangeOpts, CmdError> {
        let (mut by, mut rev) = (by, rev);
        let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
        while let Some(opt) = a.next_opt() {
            if !store && is(opt, "withscores") {
                withscores = true;
            } else if is(opt, "limit") && a.len() >= 2 {
                offset = a.int()?;
                limit = a.int()?;
            } else if by.is_none() && is(opt, "byscore") {
                by = Some(By::Score);
            } else if by.is_none() && is(opt, "bylex") {
                by = Some(By::Lex);
            } else if rev.is_none() && is(opt, "rev") {
                rev = Some(true);
            } else {
                return Err(SYNTAX);
            }
        }
        let by = by.unwrap_or(By::Rank);
        if withscores && by == By::Lex {
            return Err(CmdError::fixed(
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
            ));
        }
        if (offset != 0 || limit != -1) && by == By::Rank {
            return Err(CmdError::fixed(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        Ok(RangeOpts {
            by,
            rev: rev.unwrap_or(false),
            withscores,
            offset,
            limit,
        })
    }
}

/// The unified ZRANGE implementation behind every range command: options,
/// then the range bounds, then the lookup.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> CmdResult {
    let (src, minidx) = if store { (&argv[2], 3) } else { (&argv[1], 2) };
    let RangeOpts {
        by,
        rev,
        withscores,
        offset,
        limit,
    } = RangeOpts::parse(Args::new(&argv[minidx + 2..]), store, by, rev)?;
    // Reversed score and lex ranges are written max first.
    let (a, b) = if rev && by != By::Rank {
        (&argv[minidx + 1], &argv[minidx])
    } else {
        (&argv[minidx], &argv[minidx + 1])
    };
    let spec = match by {
        By::Rank => Spec::Rank(args::int(a)?, args::int(b)?),
        By::Score => Spec::Score(ScoreRange::parse(a, b)?),
        By::Lex => Spec::Lex(LexRange::parse(a, b)?),
    };
    // The source is a read lookup for ZRANGESTORE too, like upstream.
    let items = read(ctx, src)?
        .map(|z| select(z, &spec, rev, offset, limit))
        .unwrap_or_default();
    if store {
        store_result(ctx, &argv[1], &items, "zrangestore");
    } else {
        reply_elems(ctx, &items, withscores);
    }
    Ok(())
}

/// # Format
/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub fn zrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, false, None, None)
}

/// # Format
/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
pub fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, true, None, None)
}

/// # Format
/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, false, Some(By::Rank), Some(true))
}

/// # Format
/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, false, Some(By::Score), Some(false))
}

/// # Format
/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, false, Some(By::Score), Some(true))
}

/// # Format
/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, false, Some(By::Lex), Some(false))
}

/// # Format
/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, false, Some(By::Lex), Some(true))
}

// ---------------------------------------------------------------------------
// Pops

/// Pops up to `count` elements from the low (`max == false`) or high end of
/// an existing sorted set key, with events, dirty counter and deletion of
/// the emptied key. `None` when the key is missing (or not a sorted set).
fn pop_elems(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) -> Option<Vec<(Bytes, f64)>> {
    let db = ctx.db();
    let items = match ctx.st.ks.dbs[db].get_mut(key).map(|e| &mut e.value) {
        Some(Value::ZSet(z)) => {
            let n = z.len();
            let c = count.min(n);
            if max {
                let mut v = z.remove_range(n - c, n);
                v.reverse();
                v
            } else {
                z.remove_range(0, c)
            }
        }
        _ => return None,
    };
    if !items.is_empty() {
        ctx.key_event(db, key, 'z', if max { "zpopmax" } else { "zpopmin" });
        delete_if_empty(ctx, key);
        ctx.changed(items.len() as u64);
    }
    Some(items)
}

fn zpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(SYNTAX);
    }
    let count = match argv.get(2) {
        Some(a) => {
            let c = args::int_or(a, MUST_BE_POSITIVE)?;
            Some(usize::try_from(c).map_err(|_| MUST_BE_POSITIVE)?)
        }
        None => None,
    };
    if write_ref(ctx, &argv[1])?.is_none() || count == Some(0) {
        ctx.array(0);
        return Ok(());
    }
    let items = pop_elems(ctx, &argv[1], max, count.unwrap_or(1)).unwrap_or_default();
    match count {
        None => {
            ctx.array(items.len() * 2);
            for (m, s) in &items {
                ctx.bulk(m);
                double(ctx, *s);
            }
        }
        Some(_) => reply_elems(ctx, &items, true),
    }
    Ok(())
}

/// # Format
/// `ZPOPMIN key [count]`
pub fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

/// # Format
/// `ZPOPMAX key [count]`
pub fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

/// Writes the ZMPOP/BZMPOP reply `[key, [[member, score], ...]]` (nested in
/// both protocols) and propagates the pop as ZPOPMIN/ZPOPMAX key count.
fn reply_mpop(ctx: &mut Ctx, key: &Bytes, max: bool, items: &[(Bytes, f64)]) {
    ctx.array(2);
    ctx.bulk(key);
    ctx.array(items.len());
    for (m, s) in items {
        ctx.array(2);
        ctx.bulk(m);
        double(ctx, *s);
    }
    let name = if max { "ZPOPMAX" } else { "ZPOPMIN" };
    ctx.propagate_as(vec![
        Bytes::from_static(name.as_bytes()),
        key.clone(),
        Bytes::from(items.len().to_string()),
    ]);
}

/// # Format
/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`
pub fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let m = Mpop::parse(Args::new(&argv[1..]), ["min", "max"])?;
    let max = m.side == 1;
    for key in m.keys {
        if write_ref(ctx, key)?.is_none() {
            continue;
        }
        let items = pop_elems(ctx, key, max, m.count).unwrap_or_default();
        reply_mpop(ctx, key, max, &items);
        return Ok(());
    }
    ctx.null_array();
    Ok(())
}

/// Serves a client blocked in `BZPOPMIN`/`BZPOPMAX` from `key`: when `key`
/// holds a non-empty sorted set, pops one element from the low end
/// (`max == false`) or the high end, writes the reply
/// `[key, member, score]` (score as a RESP3 double / RESP2 bulk), fires the
/// "zpopmin"/"zpopmax" (and "del") events, counts the change and propagates
/// `ZPOPMIN key` / `ZPOPMAX key`. Returns false — and writes nothing — when
/// the key is missing, of another type or empty.
pub fn serve_blocked_zpop(ctx: &mut Ctx, key: &Bytes, max: bool) -> bool {
    let db = ctx.db();
    let ready = matches!(ctx.st.ks.dbs[db].get(key), Some(e) if matches!(&e.value, Value::ZSet(z) if !z.is_empty()));
    if !ready {
        return false;
    }
    let items = pop_elems(ctx, key, max, 1).unwrap_or_default();
    let Some((m, s)) = items.first() else {
        return false;
    };
    ctx.array(3);
    ctx.bulk(key);
    ctx.bulk(m);
    double(ctx, *s);
    let name = if max { "ZPOPMAX" } else { "ZPOPMIN" };
    ctx.propagate_as(vec![Bytes::from_static(name.as_bytes()), key.clone()]);
    true
}

/// Serves a client blocked in `BZMPOP` from `key`: pops up to `count`
/// elements (low end unless `max`) and writes `[key, [[member, score], ...]]`
/// exactly like ZMPOP, with events and propagation as
/// `ZPOPMIN|ZPOPMAX key count`. Returns false — and writes nothing — when
/// the key is missing, of another type or empty.
pub fn serve_blocked_zmpop(ctx: &mut Ctx, key: &Bytes, max: bool, count: usize) -> bool {
    let db = ctx.db();
    let ready = matches!(ctx.st.ks.dbs[db].get(key), Some(e) if matches!(&e.value, Value::ZSet(z) if !z.is_empty()));
    if !ready {
        return false;
    }
    let items = pop_elems(ctx, key, max, count.max(1)).unwrap_or_default();
    reply_mpop(ctx, key, max, &items);
    true
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER

/// # Format
/// `ZRANDMEMBER key [count [WITHSCORES]]`
pub fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let n = read(ctx, &argv[1])?.map_or(0, ZSetValue::len);
        let picked = if n > 0 {
            let r = ctx.st.rng.gen_range(0..n);
            // Re-read without counting a second lookup: the rng and the
            // value both live in the state.
            peek(ctx, &argv[1]).and_then(|z| z.get_by_rank(r))
        } else {
            None
        };
        match picked {
            Some((m, _)) => ctx.bulk(&m),
            None => ctx.null(),
        }
        return Ok(());
    }
    let l = args::int(&argv[2])?;
    if l == i64::MIN {
        return Err(CmdError::fixed(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match argv.len() {
        3 => false,
        4 if is(&argv[3], "withscores") => true,
        _ => return Err(SYNTAX),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::fixed("ERR value is out of range"));
    }
    let Some(z) = read(ctx, &argv[1])? else {
        ctx.array(0);
        return Ok(());
    };
    let n = z.len();
    if l == 0 || n == 0 {
        ctx.array(0);
        return Ok(());
    }
    // Pick ranks first (needs the rng), then fetch the elements.
    let ranks: Vec<usize> = if l < 0 {
        let c = l.unsigned_abs() as usize;
        (0..c).map(|_| ctx.st.rng.gen_range(0..n)).collect()
    } else {
        let c = usize::try_from(l).unwrap_or(usize::MAX);
        if c >= n {
            // The whole set, which upstream replies from the highest rank down.
            (0..n).rev().collect()
        } else if c * 3 > n {
            // Dense pick: partial Fisher-Yates over all ranks.
            let mut all: Vec<usize> = (0..n).collect();
            for i in 0..c {
                let j = ctx.st.rng.gen_range(i..n);
                all.swap(i, j);
            }
            all.truncate(c);
            all
        } else {
            let mut seen = std::collections::HashSet::with_capacity(c);
            let mut out = Vec::with_capacity(c);
            while out.len() < c {
                let r = ctx.st.rng.gen_range(0..n);
                if seen.insert(r) {
                    out.push(r);
                }
            }
            out
        }
    };
    let items: Vec<(Bytes, f64)> = match peek(ctx, &argv[1]) {
        Some(z) if ranks.len() > 16 && ranks.len() * 4 > z.len() => {
            let all = z.to_vec();
            ranks.iter().filter_map(|&r| all.get(r).cloned()).collect()
        }
        Some(z) => ranks.iter().filter_map(|&r| z.get_by_rank(r)).collect(),
        None => Vec::new(),
    };
    reply_elems(ctx, &items, withscores);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, acc: &mut f64, v: f64) {
    match a {
        Aggregate::Sum => {
            *acc += v;
            // inf + -inf: upstream stores 0 rather than NaN.
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v;
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v;
            }
        }
    }
}

/// One input of a set operation: its elements (sets count with score 1).
struct Input {
    elems: Vec<(Bytes, f64)>,
    weight: f64,
}

/// Loads an input key: a sorted set, or a plain set whose members all score
/// 1. Missing keys are empty inputs.
fn load_input(ctx: &mut Ctx, key: &[u8]) -> Result<Vec<(Bytes, f64)>, CmdError> {
    // Sources are read lookups even for the STORE forms in 7.0 (hit/miss
    // counters, `keymiss` events).
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let entry = ctx.st.ks.lookup_read(db, key, now, lru);
    match entry.map(|e| &e.value) {
        None => Ok(Vec::new()),
        Some(Value::ZSet(z)) => Ok(z.to_vec()),
        Some(Value::Set(s)) => Ok(set_members(s).into_iter().map(|m| (m, 1.0)).collect()),
        Some(_) => Err(WRONGTYPE),
    }
}

/// The members of a plain set input.
fn set_members(s: &redis_storage::set::SetValue) -> Vec<Bytes> {
    s.iter().map(|m| m.to_bytes()).collect()
}

/// Runs the set operation; the result is sorted like a sorted set.
fn compute_setop(op: SetOp, inputs: &mut [Input], agg: Aggregate) -> Vec<(Bytes, f64)> {
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        // 0 * inf is NaN; upstream uses 0.
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut out: Vec<(Bytes, f64)> = match op {
        SetOp::Union => {
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for inp in inputs.iter() {
                for (m, s) in &inp.elems {
                    let v = weighted(*s, inp.weight);
                    match acc.get_mut(m) {
                        Some(cur) => aggregate(agg, cur, v),
                        None => {
                            acc.insert(m.clone(), v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => {
            // Smallest input first: it bounds the result.
            inputs.sort_by_key(|i| i.elems.len());
            let Some((first, rest)) = inputs.split_first() else {
                return Vec::new();
            };
            let maps: Vec<HashMap<Bytes, f64>> = rest
                .iter()
                .map(|i| i.elems.iter().cloned().collect())
                .collect();
            let mut out = Vec::new();
            'outer: for (m, s) in &first.elems {
                let mut v = weighted(*s, first.weight);
                for (inp, map) in rest.iter().zip(&maps) {
                    match map.get(m).copied() {
                        Some(o) => aggregate(agg, &mut v, weighted(o, inp.weight)),
                        None => continue 'outer,
                    }
                }
                out.push((m.clone(), v));
            }
            out
        }
        SetOp::Diff => {
            let Some((first, rest)) = inputs.split_first() else {
                return Vec::new();
            };
            let others: std::collections::HashSet<&Bytes> = rest
                .iter()
                .flat_map(|i| i.elems.iter().map(|(m, _)| m))
                .collect();
            first
                .elems
                .iter()
                .filter(|(m, _)| !others.contains(m))
                .cloned()
                .collect()
        }
    };
    out.sort_by(|a, b| cmp_elem(a.1, &a.0, b.1, &b.0));
    out
}

/// The options of ZUNION/ZINTER/ZDIFF and their STORE forms after the keys.
struct SetopOpts {
    /// One weight per input key, when given.
    weights: Option<Vec<f64>>,
    agg: Aggregate,
    withscores: bool,
}

impl SetopOpts {
    /// Parses like upstream: WEIGHTS takes exactly `numkeys` values (each
    /// checked where it appears), ZDIFF has neither WEIGHTS nor AGGREGATE,
    /// the STORE forms no WITHSCORES.
    fn parse(mut a: Args, numkeys: usize, op: SetOp, store: bool) -> Result<SetopOpts, CmdError> {
        let mut o = SetopOpts {
            weights: None,
            agg: Aggregate::Sum,
            withscores: false,
        };
        while let Some(opt) = a.next_opt() {
            if op != SetOp::Diff && a.len() >= numkeys && is(opt, "weights") {
                let mut w = Vec::with_capacity(numkeys);
                for v in a.take(numkeys)? {
                    w.push(
                        parse_score(v)
                            .map_err(|_| CmdError::fixed("ERR weight value is not a float"))?,
                    );
                }
                o.weights = Some(w);
            } else if op != SetOp::Diff && !a.is_empty() && is(opt, "aggregate") {
                o.agg = match a.keyword(&["sum", "min", "max"]) {
                    Some(0) => Aggregate::Sum,
                    Some(1) => Aggregate::Min,
                    Some(2) => Aggregate::Max,
                    _ => return Err(SYNTAX),
                };
            } else if !store && is(opt, "withscores") {
                o.withscores = true;
            } else {
                return Err(SYNTAX);
            }
        }
        Ok(o)
    }
}

/// Looks the inputs up (WRONGTYPE first, like upstream), then parses the
/// options, then computes and replies or stores.
fn setop_generic(ctx: &mut Ctx, argv: &[Bytes], op: SetOp, store: bool) -> CmdResult {
    let numkeys_idx = if store { 2 } else { 1 };
    let numkeys = args::int(&argv[numkeys_idx])?;
    if numkeys < 1 {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - numkeys_idx - 1 {
        return Err(SYNTAX);
    }
    let keys = &argv[numkeys_idx + 1..numkeys_idx + 1 + numkeys];
    // Inputs are looked up (and type checked) before the options are parsed.
    let mut inputs = Vec::with_capacity(numkeys);
    for k in keys {
        inputs.push(Input {
            elems: load_input(ctx, k)?,
            weight: 1.0,
        });
    }
    let o = SetopOpts::parse(
        Args::new(&argv[numkeys_idx + 1 + numkeys..]),
        numkeys,
        op,
        store,
    )?;
    if let Some(w) = o.weights {
        for (inp, w) in inputs.iter_mut().zip(w) {
            inp.weight = w;
        }
    }
    let (agg, withscores) = (o.agg, o.withscores);
    let result = compute_setop(op, &mut inputs, agg);
    if store {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(ctx, &argv[1], &result, event);
    } else {
        reply_elems(ctx, &result, withscores);
    }
    Ok(())
}

/// # Format
/// `ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
pub fn zunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, SetOp::Union, false)
}

/// # Format
/// `ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
pub fn zinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, SetOp::Inter, false)
}

/// # Format
/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, SetOp::Diff, false)
}

/// # Format
/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]`
pub fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, SetOp::Union, true)
}

/// # Format
/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]`
pub fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, SetOp::Inter, true)
}

/// # Format
/// `ZDIFFSTORE destination numkeys key [key ...]`
pub fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, SetOp::Diff, true)
}

/// # Format
/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    const LIMIT: CmdError = CmdError::fixed("ERR LIMIT can't be negative");
    let numkeys = args::int(&argv[1])?;
    if numkeys < 1 {
        return Err(CmdError::fixed(
            "ERR at least 1 input key is needed for 'zintercard' command",
        ));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - 2 {
        return Err(SYNTAX);
    }
    // Upstream reads the inputs (WRONGTYPE) before it parses LIMIT.
    let mut inputs = Vec::with_capacity(numkeys);
    for k in &argv[2..2 + numkeys] {
        inputs.push(Input {
            elems: load_input(ctx, k)?,
            weight: 1.0,
        });
    }
    let mut limit = 0usize;
    let mut opts = Args::new(&argv[2 + numkeys..]);
    while !opts.is_empty() {
        let v = opts.eat_with_value("limit").ok_or(SYNTAX)?;
        let l = args::int_or(v, LIMIT)?;
        limit = usize::try_from(l).map_err(|_| LIMIT)?;
    }
    let n = compute_setop(SetOp::Inter, &mut inputs, Aggregate::Sum).len();
    let n = if limit > 0 { n.min(limit) } else { n };
    ctx.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZSCAN

/// # Format
/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
pub fn zscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = args::scan_cursor(&argv[2])?;
    // Like upstream, a missing key answers the empty scan before the
    // options are looked at.
    if read(ctx, &argv[1])?.is_none() {
        crate::hash::empty_scan(ctx.out);
        return Ok(());
    }
    let opts = ScanOpts::parse(Args::new(&argv[3..]), false)?;
    let mut found: Vec<(Bytes, f64)> = Vec::new();
    let db = ctx.db();
    let next = match ctx.st.ks.dbs[db].get(&argv[1]).map(|e| &e.value) {
        Some(Value::ZSet(z)) => z.scan(cursor, opts.count, |m, s| {
            if opts.matches(m) {
                found.push((Bytes::copy_from_slice(m), s));
            }
        }),
        _ => 0,
    };
    ctx.array(2);
    ctx.bulk(next.to_string().as_bytes());
    ctx.array(found.len() * 2);
    for (m, s) in &found {
        ctx.bulk(m);
        ctx.bulk(redis_resp::format_double(*s).as_bytes());
    }
    Ok(())
}

/// Checks that every key is absent or of `want`; upstream answers
/// WRONGTYPE at once rather than blocking on a key of another type.
fn check_types(ctx: &mut Ctx, keys: &[Bytes], want: &str) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    for k in keys {
        if ctx.st.ks.exists(db, k, now) {
            if let Some(e) = ctx.st.ks.dbs[db].get(k) {
                if e.value.type_name() != want {
                    return Err(WRONGTYPE);
                }
            }
        }
    }
    Ok(())
}

fn bzpop(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now)?;
    let keys = &argv[1..argv.len() - 1];
    check_types(ctx, keys, "zset")?;
    for k in keys {
        if crate::zset::serve_blocked_zpop(ctx, k, max) {
            return Ok(());
        }
    }
    ctx.block(keys, deadline, "zset", TimeoutReply::NullArray, argv);
    Ok(())
}

/// # Format
/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, false)
}

/// # Format
/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, true)
}

/// # Format
/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
pub fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let deadline = parse_timeout(&argv[1], ctx.now)?;
    let m = Mpop::parse(Args::new(&argv[2..]), ["min", "max"])?;
    check_types(ctx, m.keys, "zset")?;
    for k in m.keys {
        if crate::zset::serve_blocked_zmpop(ctx, k, m.side == 1, m.count) {
            return Ok(());
        }
    }
    ctx.block(m.keys, deadline, "zset", TimeoutReply::NullArray, argv);
    Ok(())
}

#[cfg(test)]
#[path = "zset_tests.rs"]
mod tests;
