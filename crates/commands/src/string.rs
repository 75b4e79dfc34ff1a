//! String type commands (upstream `t_string.c`, "commands" half; the type API
//! is `redis_storage::string`).
//!
//! SET and GETEX share one option parser (`SetOpts`, upstream
//! `parseExtendedStringArgumentsOrReply`); the options are parsed and the
//! expire time validated before anything is written.

use bytes::Bytes;
use redis_engine::table::Handler;
use redis_storage::keyspace::Keyspace;
use redis_storage::string::StrValue;
use redis_storage::Value;

use crate::args::{self, is, Args};
use redis_engine::ctx::Ctx;
use redis_engine::error::{
    self, CmdError, CmdResult, NOT_INTEGER, OVERFLOW, STRING_TOO_BIG, SYNTAX, WRONGTYPE,
};

/// Reads a string key: `Ok(None)` if missing, `WRONGTYPE` otherwise.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c StrValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    read_in(&mut ctx.st.ks, (db, now, lru), key)
}

/// [`read`] on the keyspace alone, so that the caller may write the
/// reply while it holds the value.
fn read_in<'k>(
    ks: &'k mut Keyspace,
    (db, now, lru): (usize, i64, u32),
    key: &[u8],
) -> Result<Option<&'k StrValue>, CmdError> {
    match ks.lookup_read(db, key, now, lru) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Writes the string value of `key` (or null) as a bulk reply, straight
/// from the stored value (no copy of it first: `GET` is the hot path).
fn reply_value(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let at = (ctx.db(), ctx.now, ctx.lru());
    match read_in(&mut ctx.st.ks, at, key)? {
        Some(s) => {
            let out = &mut *ctx.out;
            s.with_bytes(|b| redis_resp::write::write_bulk(out, b));
        }
        None => ctx.null(),
    }
    Ok(())
}

/// Checks the type of a key for writing; returns true if it exists.
fn exists_for_write(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    match ctx.st.ks.lookup_write(db, key, now) {
        None => Ok(false),
        Some(e) => match e.value {
            Value::Str(_) => Ok(true),
            _ => Err(WRONGTYPE),
        },
    }
}

fn store(ctx: &mut Ctx, key: &[u8], v: StrValue, keep_ttl: bool) {
    let (db, lru) = (ctx.db(), ctx.lru());
    ctx.st.ks.dbs[db].set(key, Value::Str(v), keep_ttl, lru);
}

/// # Format
/// `GET key`
pub fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    reply_value(ctx, &argv[1])
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Unit {
    #[default]
    Seconds,
    Millis,
}

/// The options of SET and GETEX (upstream
/// `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct SetOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The expire argument, its unit and whether it is absolute.
    expire: Option<(&'a Bytes, Unit, bool)>,
}

impl<'a> SetOpts<'a> {
    /// Parses the options; SET admits NX/XX/GET/KEEPTTL, GETEX PERSIST.
    /// A conflicting option is a syntax error where it appears, like
    /// upstream.
    fn parse(mut a: Args<'a>, is_set: bool) -> Result<SetOpts<'a>, CmdError> {
        let mut o = SetOpts::default();
        while let Some(arg) = a.next_opt() {
            let any_expire = o.expire.is_some() || o.persist;
            if is_set && is(arg, "nx") && !o.xx {
                o.nx = true;
            } else if is_set && is(arg, "xx") && !o.nx {
                o.xx = true;
            } else if is_set && is(arg, "get") {
                o.get = true;
            } else if is_set && is(arg, "keepttl") && !any_expire {
                o.keepttl = true;
            } else if !is_set && is(arg, "persist") && !any_expire {
                o.persist = true;
            } else if !any_expire && !o.keepttl {
                let (unit, abs) = match args::which(arg, &["ex", "px", "exat", "pxat"]) {
                    Some(0) => (Unit::Seconds, false),
                    Some(1) => (Unit::Millis, false),
                    Some(2) => (Unit::Seconds, true),
                    Some(3) => (Unit::Millis, true),
                    _ => return Err(SYNTAX),
                };
                o.expire = Some((a.bytes()?, unit, abs));
            } else {
                return Err(SYNTAX);
            }
        }
        Ok(o)
    }
}

/// Converts an expire argument to absolute milliseconds (upstream
/// `getExpireMillisecondsOrReply`).
fn expire_ms(ctx: &Ctx, arg: &[u8], unit: Unit, abs: bool, cmd: &str) -> Result<i64, CmdError> {
    let v = args::int(arg)?;
    if v <= 0 {
        return Err(error::invalid_expire(cmd));
    }
    let ms = match unit {
        Unit::Seconds => v
            .checked_mul(1000)
            .ok_or_else(|| error::invalid_expire(cmd))?,
        Unit::Millis => v,
    };
    if abs {
        Ok(ms)
    } else {
        ms.checked_add(ctx.now)
            .ok_or_else(|| error::invalid_expire(cmd))
    }
}

/// # Format
/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
///  EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]`
pub fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = SetOpts::parse(Args::new(&argv[3..]), true)?;
    let expire_at = match o.expire {
        Some((arg, unit, abs)) => Some(expire_ms(ctx, arg, unit, abs, "set")?),
        None => None,
    };
    set_generic(ctx, &argv[1], &argv[2], &o, expire_at)?;
    if let Some(ms) = expire_at {
        // Every expire is replicated as an absolute `PXAT` (upper-case, a
        // client's own `pxat` too, as upstream rewrites it) so replicas and
        // the AOF agree on the deadline.
        if ctx.dirty > 0 {
            ctx.propagate_as(vec![
                Bytes::from_static(b"SET"),
                argv[1].clone(),
                argv[2].clone(),
                Bytes::from_static(b"PXAT"),
                Bytes::from(ms.to_string()),
            ]);
        }
    }
    Ok(())
}

/// Applies a parsed SET (also SETEX/PSETEX): `expire_at` is the absolute
/// deadline already validated.
fn set_generic(
    ctx: &mut Ctx,
    key: &Bytes,
    val: &Bytes,
    o: &SetOpts,
    expire_at: Option<i64>,
) -> CmdResult {
    if o.get {
        reply_value(ctx, key)?;
    }
    let found = exists_for_write(ctx, key).unwrap_or(true);
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            ctx.null();
        }
        return Ok(());
    }
    store(ctx, key, StrValue::from_request(val), o.keepttl);
    ctx.changed(1);
    let db = ctx.db();
    ctx.key_event(db, key, '$', "set");
    if let Some(ms) = expire_at {
        ctx.st.ks.dbs[db].set_expire(key, ms);
        ctx.key_event(db, key, 'g', "expire");
    }
    if !o.get {
        ctx.ok();
    }
    Ok(())
}

/// # Format
/// `SETNX key value`
pub fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = exists_for_write(ctx, &argv[1]).unwrap_or(true);
    if found {
        ctx.int(0);
    } else {
        store(ctx, &argv[1], StrValue::from_request(&argv[2]), false);
        ctx.changed(1);
        let db = ctx.db();
        ctx.key_event(db, &argv[1], '$', "set");
        ctx.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, argv: &[Bytes], unit: Unit, cmd: &str) -> CmdResult {
    let ms = expire_ms(ctx, &argv[2], unit, false, cmd)?;
    set_generic(ctx, &argv[1], &argv[3], &SetOpts::default(), Some(ms))?;
    ctx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        argv[1].clone(),
        argv[3].clone(),
        Bytes::from_static(b"PXAT"),
        Bytes::from(ms.to_string()),
    ]);
    Ok(())
}

/// # Format
/// `SETEX key seconds value`
pub fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, Unit::Seconds, "setex")
}

/// # Format
/// `PSETEX key milliseconds value`
pub fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, Unit::Millis, "psetex")
}

/// # Format
/// `GETSET key value`
pub fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    reply_value(ctx, &argv[1])?;
    store(ctx, &argv[1], StrValue::from_request(&argv[2]), false);
    ctx.changed(1);
    let db = ctx.db();
    ctx.key_event(db, &argv[1], '$', "set");
    // Propagated as SET, as upstream (replicas count it as a SET).
    ctx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        argv[1].clone(),
        argv[2].clone(),
    ]);
    Ok(())
}

/// # Format
/// `GETDEL key`
pub fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let v = read(ctx, &argv[1])?.map(StrValue::to_bytes);
    match v {
        Some(b) => {
            ctx.bulk(&b);
            let db = ctx.db();
            ctx.st.ks.dbs[db].delete(&argv[1]);
            ctx.changed(1);
            ctx.key_event(db, &argv[1], 'g', "del");
            ctx.propagate_as(vec![Bytes::from_static(b"DEL"), argv[1].clone()]);
        }
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///  PXAT unix-time-milliseconds | PERSIST]`
pub fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = SetOpts::parse(Args::new(&argv[2..]), false)?;
    // Like upstream: the key is looked up (nil, WRONGTYPE) before the
    // expire time is validated.
    let Some(v) = read(ctx, &argv[1])?.map(StrValue::to_bytes) else {
        ctx.null();
        return Ok(());
    };
    let when = match o.expire {
        Some((arg, unit, abs)) => Some(expire_ms(ctx, arg, unit, abs, "getex")?),
        None => None,
    };
    ctx.bulk(&v);
    let db = ctx.db();
    let key = &argv[1];
    if let Some(ms) = when {
        if ctx.already_expired(ms) {
            ctx.st.ks.dbs[db].delete(key);
            ctx.changed(1);
            ctx.key_event(db, key, 'g', "del");
            ctx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
        } else {
            ctx.st.ks.dbs[db].set_expire(key, ms);
            ctx.changed(1);
            ctx.key_event(db, key, 'g', "expire");
            ctx.propagate_as(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(ms.to_string()),
            ]);
        }
    } else if o.persist && ctx.st.ks.dbs[db].persist(key) {
        ctx.changed(1);
        ctx.key_event(db, key, 'g', "persist");
        ctx.propagate_as(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
    }
    Ok(())
}

/// # Format
/// `MGET key [key ...]`
pub fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.array(argv.len() - 1);
    for k in &argv[1..] {
        match read(ctx, k) {
            Ok(Some(v)) => {
                let b = v.to_bytes();
                ctx.bulk(&b);
            }
            _ => ctx.null(),
        }
    }
    Ok(())
}

/// # Format
/// `MSET key value [key value ...]`
pub fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(error::wrong_arity("mset"));
    }
    let db = ctx.db();
    for pair in argv[1..].chunks_exact(2) {
        store(ctx, &pair[0], StrValue::from_request(&pair[1]), false);
        ctx.key_event(db, &pair[0], '$', "set");
    }
    ctx.changed((argv.len() as u64 - 1) / 2);
    ctx.ok();
    Ok(())
}

/// # Format
/// `MSETNX key value [key value ...]`
pub fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(error::wrong_arity("msetnx"));
    }
    let (db, now) = (ctx.db(), ctx.now);
    for pair in argv[1..].chunks_exact(2) {
        if ctx.st.ks.exists(db, &pair[0], now) {
            ctx.int(0);
            return Ok(());
        }
    }
    for pair in argv[1..].chunks_exact(2) {
        store(ctx, &pair[0], StrValue::from_request(&pair[1]), false);
        ctx.key_event(db, &pair[0], '$', "set");
    }
    ctx.changed((argv.len() as u64 - 1) / 2);
    ctx.int(1);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let cur = match ctx.st.ks.lookup_write(db, key, now) {
        None => 0,
        Some(e) => match &e.value {
            Value::Str(s) => s.as_i64().ok_or(NOT_INTEGER)?,
            _ => return Err(WRONGTYPE),
        },
    };
    let new = cur.checked_add(by).ok_or(OVERFLOW)?;
    match ctx.st.ks.dbs[db].get_mut(key) {
        Some(e) => e.value = Value::Str(StrValue::Int(new)),
        None => store(ctx, key, StrValue::Int(new), false),
    }
    ctx.changed(1);
    ctx.key_event(db, key, '$', "incrby");
    ctx.int(new);
    Ok(())
}

/// # Format
/// `INCR key`
pub fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &argv[1], 1)
}

/// # Format
/// `DECR key`
pub fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &argv[1], -1)
}

/// # Format
/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = args::int(&argv[2])?;
    incr_generic(ctx, &argv[1], by)
}

/// # Format
/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = args::int(&argv[2])?;
    if by == i64::MIN {
        return Err(CmdError::fixed("ERR decrement would overflow"));
    }
    incr_generic(ctx, &argv[1], -by)
}

/// # Format
/// `INCRBYFLOAT key increment`
pub fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let key = &argv[1];
    let cur = match ctx.st.ks.lookup_write(db, key, now) {
        None => Bytes::from_static(b"0"),
        Some(e) => match &e.value {
            Value::Str(s) => s.to_bytes(),
            _ => return Err(WRONGTYPE),
        },
    };
    let new = crate::float::incr_by_float(&cur, &argv[2])?;
    let exists = ctx.st.ks.dbs[db].contains(key);
    let v = StrValue::Shared(Bytes::from(new.clone()));
    if exists {
        if let Some(e) = ctx.st.ks.dbs[db].get_mut(key) {
            e.value = Value::Str(v);
        }
    } else {
        store(ctx, key, v, false);
    }
    ctx.changed(1);
    ctx.key_event(db, key, '$', "incrbyfloat");
    ctx.bulk(&new);
    ctx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        Bytes::from(new),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Ok(())
}

/// # Format
/// `APPEND key value`
pub fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let max = ctx.st.cached.proto_max_bulk_len;
    let (key, val) = (&argv[1], &argv[2]);
    let len = match ctx.st.ks.lookup_write(db, key, now) {
        None => {
            store(
                ctx,
                key,
                StrValue::Shared(Bytes::copy_from_slice(val)),
                false,
            );
            val.len()
        }
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            if (s.len() + val.len()) as i64 > max {
                return Err(STRING_TOO_BIG);
            }
            let v = s.make_owned();
            v.extend_from_slice(val);
            v.len()
        }
    };
    ctx.changed(1);
    ctx.key_event(db, key, '$', "append");
    ctx.int(len as i64);
    Ok(())
}

/// # Format
/// `STRLEN key`
pub fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?.map_or(0, StrValue::len);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `SETRANGE key offset value`
pub fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let off = args::int(&argv[2])?;
    if off < 0 {
        return Err(CmdError::fixed("ERR offset is out of range"));
    }
    let (db, now) = (ctx.db(), ctx.now);
    let max = ctx.st.cached.proto_max_bulk_len;
    let (key, val) = (&argv[1], &argv[3]);
    let too_big = |len: usize| off.saturating_add(len as i64) > max;
    let exists = match ctx.st.ks.lookup_write(db, key, now) {
        None => false,
        Some(e) => match e.value {
            Value::Str(_) => true,
            _ => return Err(WRONGTYPE),
        },
    };
    if !exists {
        if val.is_empty() {
            ctx.int(0);
            return Ok(());
        }
        if too_big(val.len()) {
            return Err(STRING_TOO_BIG);
        }
        store(ctx, key, StrValue::Owned(Vec::new()), false);
    }
    let Some(e) = ctx.st.ks.dbs[db].get_mut(key) else {
        return Ok(());
    };
    let Value::Str(s) = &mut e.value else {
        return Err(WRONGTYPE);
    };
    if val.is_empty() {
        let n = s.len();
        ctx.int(n as i64);
        return Ok(());
    }
    if too_big(val.len()) {
        return Err(STRING_TOO_BIG);
    }
    let v = s.make_owned();
    let off = off as usize;
    let end = off + val.len();
    if v.len() < end {
        v.resize(end, 0);
    }
    v[off..end].copy_from_slice(val);
    let n = v.len();
    ctx.changed(1);
    ctx.key_event(db, key, '$', "setrange");
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `GETRANGE key start end` (also `SUBSTR`)
pub fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut start = args::int(&argv[2])?;
    let mut end = args::int(&argv[3])?;
    let Some(v) = read(ctx, &argv[1])?.map(StrValue::to_bytes) else {
        ctx.bulk(b"");
        return Ok(());
    };
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.bulk(b"");
    } else {
        ctx.bulk(&v[start as usize..=end as usize]);
    }
    Ok(())
}

/// An inclusive index range in one of the LCS inputs.
type Range = (usize, usize);
/// One LCS match: the ranges in both inputs and its length.
type LcsMatch = (Range, Range, usize);

/// # Format
/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]`
pub fn lcs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Upstream looks both keys up and checks their types before it parses
    // the options.
    let to_bytes = |r: Result<Option<&StrValue>, CmdError>| {
        r.map(|v| v.map(StrValue::to_bytes).unwrap_or_default())
    };
    let a = to_bytes(read(ctx, &argv[1]));
    let b = to_bytes(read(ctx, &argv[2]));
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(CmdError::fixed(
            "ERR The specified keys must contain string values",
        ));
    };
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut opts = Args::new(&argv[3..]);
    while let Some(opt) = opts.next_opt() {
        if is(opt, "idx") {
            get_idx = true;
        } else if is(opt, "len") {
            get_len = true;
        } else if is(opt, "withmatchlen") {
            with_len = true;
        } else if is(opt, "minmatchlen") && !opts.is_empty() {
            min_len = opts.int()?.max(0);
        } else {
            return Err(SYNTAX);
        }
    }
    if get_len && get_idx {
        return Err(CmdError::fixed(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1) * 4;
    if cells > ctx.st.cached.proto_max_bulk_len as u128 {
        return Err(CmdError::fixed(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let (la, lb) = (a.len(), b.len());
    let w = lb + 1;
    let mut dp = vec![0u32; (la + 1) * w];
    for i in 1..=la {
        for j in 1..=lb {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[la * w + lb] as usize;
    // Walk back from the end collecting the common string and the ranges.
    let mut out = vec![0u8; total];
    let mut idx = total;
    let (mut i, mut j) = (la, lb);
    let mut matches: Vec<LcsMatch> = Vec::new();
    let mut cur: Option<(Range, Range)> = None;
    let flush = |cur: &mut Option<(Range, Range)>, matches: &mut Vec<LcsMatch>| {
        if let Some((ra, rb)) = cur.take() {
            let l = ra.1 - ra.0 + 1;
            if l as i64 >= min_len {
                matches.push((ra, rb, l));
            }
        }
    };
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            idx -= 1;
            out[idx] = a[i - 1];
            let (pa, pb) = (i - 1, j - 1);
            cur = match cur {
                Some((ra, rb)) if ra.0 == pa + 1 && rb.0 == pb + 1 => {
                    Some(((pa, ra.1), (pb, rb.1)))
                }
                other => {
                    let mut c = other;
                    flush(&mut c, &mut matches);
                    Some(((pa, pa), (pb, pb)))
                }
            };
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    flush(&mut cur, &mut matches);
    if get_idx {
        ctx.map(2);
        ctx.bulk(b"matches");
        ctx.array(matches.len());
        for (ra, rb, l) in &matches {
            ctx.array(if with_len { 3 } else { 2 });
            ctx.array(2);
            ctx.int(ra.0 as i64);
            ctx.int(ra.1 as i64);
            ctx.array(2);
            ctx.int(rb.0 as i64);
            ctx.int(rb.1 as i64);
            if with_len {
                ctx.int(*l as i64);
            }
        }
        ctx.bulk(b"len");
        ctx.int(total as i64);
    } else if get_len {
        ctx.int(total as i64);
    } else {
        ctx.bulk(&out);
    }
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("append", append),
    ("decr", decr),
    ("decrby", decrby),
    ("get", get),
    ("getdel", getdel),
    ("getex", getex),
    ("getrange", getrange),
    ("getset", getset),
    ("incr", incr),
    ("incrby", incrby),
    ("incrbyfloat", incrbyfloat),
    ("lcs", lcs),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("psetex", psetex),
    ("set", set),
    ("setex", setex),
    ("setnx", setnx),
    ("setrange", setrange),
    ("strlen", strlen),
    ("substr", getrange),
];
