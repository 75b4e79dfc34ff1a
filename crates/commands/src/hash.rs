//! Hash commands (upstream `t_hash.c`, commands half; the type API is
//! `redis_storage::hash`).
//!
//! Also home of the empty `*SCAN` reply shared with the set and sorted set
//! commands ([`empty_scan`]) and the signed-count parser of the `*RAND*`
//! commands ([`rand_count`]).

use bytes::{Bytes, BytesMut};
use redis_resp::write::{write_array_len, write_bulk, write_map_len};
use redis_resp::Protocol;
use redis_storage::hash::{HashLimits, HashValue};
use redis_storage::string::parse_i64_strict;
use redis_storage::{Entry, Value};

use crate::args::{self, is, Args, ScanOpts};
use crate::float::{incr_by_float, LongDouble};
use redis_engine::ctx::Ctx;
use redis_engine::error::{self, CmdError, CmdResult, NOT_FLOAT, OVERFLOW, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The hash commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hgetall", hgetall),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hdel", hdel),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hexists", hexists),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

const NOT_INT_VALUE: CmdError = CmdError::fixed("ERR hash value is not an integer");
const NOT_FLOAT_VALUE: CmdError = CmdError::fixed("ERR hash value is not a float");
const NAN_OR_INF: CmdError = CmdError::fixed("ERR value is NaN or Infinity");

/// The configured conversion thresholds.
fn limits(ctx: &Ctx) -> HashLimits {
    ctx.st.cached.hash_limits
}

/// Reads a hash key: `Ok(None)` if missing, `WRONGTYPE` for another type.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c HashValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    match ctx.st.ks.lookup_read(db, key, now, lru) {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(Some(h)),
        Some(_) => Err(WRONGTYPE),
    }
}

/// Looks a hash key up for writing: `Ok(None)` if missing.
fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut HashValue>, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    match ctx.st.ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(Some(h)),
        Some(_) => Err(WRONGTYPE),
    }
}

/// Looks a hash key up for writing, creating an empty hash if missing
/// (upstream `hashTypeLookupWriteOrCreate`). Callers must add a field
/// before returning, since empty hashes are never stored.
fn write_or_create<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut HashValue, CmdError> {
    let (db, lru) = (ctx.db(), ctx.lru());
    if write(ctx, key)?.is_none() {
        ctx.st.ks.dbs[db].set(key, Value::Hash(HashValue::new()), false, lru);
    }
    match ctx.st.ks.dbs[db].get_mut(key) {
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(h),
        _ => Err(WRONGTYPE),
    }
}

/// Deletes `key` if the hash became empty, with upstream's `del` event.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let empty = matches!(
        ctx.st.ks.dbs[db].get(key),
        Some(Entry { value: Value::Hash(h), .. }) if h.is_empty()
    );
    if empty {
        ctx.st.ks.dbs[db].delete(key);
        ctx.key_event(db, key, 'g', "del");
    }
}

/// Sets the pairs of `argv[2..]` (HSET/HMSET); returns how many were new.
fn set_pairs(ctx: &mut Ctx, argv: &[Bytes], name: &str) -> Result<i64, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(error::wrong_arity(name));
    }
    let lim = limits(ctx);
    let h = write_or_create(ctx, &argv[1])?;
    let mut created = 0;
    for pair in argv[2..].chunks_exact(2) {
        if h.set(&pair[0], &pair[1], lim) {
            created += 1;
        }
    }
    let db = ctx.db();
    ctx.key_event(db, &argv[1], 'h', "hset");
    ctx.changed((argv.len() as u64 - 2) / 2);
    Ok(created)
}

/// # Format
/// `HSET key field value [field value ...]`
pub fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = set_pairs(ctx, argv, "hset")?;
    ctx.int(n);
    Ok(())
}

/// # Format
/// `HMSET key field value [field value ...]`
pub fn hmset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    set_pairs(ctx, argv, "hmset")?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `HSETNX key field value`
pub fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lim = limits(ctx);
    if write(ctx, &argv[1])?.is_some_and(|h| h.contains(&argv[2])) {
        ctx.int(0);
        return Ok(());
    }
    write_or_create(ctx, &argv[1])?.set(&argv[2], &argv[3], lim);
    let db = ctx.db();
    ctx.key_event(db, &argv[1], 'h', "hset");
    ctx.changed(1);
    ctx.int(1);
    Ok(())
}

/// # Format
/// `HGET key field`
pub fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let proto = ctx.proto();
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => null(out, proto),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => match h.get(&argv[2]) {
            Some(v) => write_bulk(out, v),
            None => null(out, proto),
        },
        Some(_) => return Err(WRONGTYPE),
    }
    Ok(())
}

fn null(out: &mut BytesMut, proto: Protocol) {
    redis_resp::write::write_null(out, proto);
}

/// # Format
/// `HMGET key field [field ...]`
pub fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let proto = ctx.proto();
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    let h = match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => None,
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Some(&*h),
        Some(_) => return Err(WRONGTYPE),
    };
    write_array_len(out, argv.len() - 2);
    for f in &argv[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => write_bulk(out, v),
            None => null(out, proto),
        }
    }
    Ok(())
}

/// What HGETALL/HKEYS/HVALS reply with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Keys,
    Vals,
}

fn get_all(ctx: &mut Ctx, key: &[u8], part: Part) -> CmdResult {
    let proto = ctx.proto();
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    let h = match st.ks.lookup_read(db, key, now, lru) {
        None => None,
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Some(&*h),
        Some(_) => return Err(WRONGTYPE),
    };
    let n = h.map_or(0, HashValue::len);
    match part {
        Part::Both => write_map_len(out, proto, n),
        _ => write_array_len(out, n),
    }
    for (f, v) in h.into_iter().flat_map(HashValue::iter) {
        if part != Part::Vals {
            write_bulk(out, f);
        }
        if part != Part::Keys {
            write_bulk(out, v);
        }
    }
    Ok(())
}

/// # Format
/// `HGETALL key`
pub fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    get_all(ctx, &argv[1], Part::Both)
}

/// # Format
/// `HKEYS key`
pub fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    get_all(ctx, &argv[1], Part::Keys)
}

/// # Format
/// `HVALS key`
pub fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    get_all(ctx, &argv[1], Part::Vals)
}

/// # Format
/// `HDEL key field [field ...]`
pub fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(h) = write(ctx, &argv[1])? else {
        ctx.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for f in &argv[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        let db = ctx.db();
        ctx.key_event(db, &argv[1], 'h', "hdel");
        delete_if_empty(ctx, &argv[1]);
        ctx.changed(deleted as u64);
    }
    ctx.int(deleted);
    Ok(())
}

/// # Format
/// `HLEN key`
pub fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?.map_or(0, HashValue::len);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `HSTRLEN key field`
pub fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?
        .and_then(|h| h.get(&argv[2]))
        .map_or(0, <[u8]>::len);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `HEXISTS key field`
pub fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = read(ctx, &argv[1])?.is_some_and(|h| h.contains(&argv[2]));
    ctx.int(i64::from(found));
    Ok(())
}

/// # Format
/// `HINCRBY key field increment`
pub fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = args::int(&argv[3])?;
    let lim = limits(ctx);
    let h = write_or_create(ctx, &argv[1])?;
    let cur = match h.get(&argv[2]) {
        Some(v) => parse_i64_strict(v).ok_or(NOT_INT_VALUE),
        None => Ok(0),
    };
    // The hash is not empty when the value check or the overflow check
    // fails: a missing field reads as 0, which neither can reject.
    let new = cur?.checked_add(incr).ok_or(OVERFLOW)?;
    let text = redis_storage::string::itoa_buf(new);
    h.set(&argv[2], text.as_bytes(), lim);
    let db = ctx.db();
    ctx.key_event(db, &argv[1], 'h', "hincrby");
    ctx.changed(1);
    ctx.int(new);
    Ok(())
}

/// # Format
/// `HINCRBYFLOAT key field increment`
pub fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match LongDouble::parse(&argv[3]) {
        None => return Err(NOT_FLOAT),
        Some(LongDouble::Inf { .. }) => return Err(NAN_OR_INF),
        Some(LongDouble::Finite { .. }) => {}
    }
    let lim = limits(ctx);
    let h = write_or_create(ctx, &argv[1])?;
    let cur = h.get(&argv[2]).unwrap_or(b"0");
    let result = if LongDouble::parse(cur).is_none() {
        Err(NOT_FLOAT_VALUE)
    } else {
        incr_by_float(cur, &argv[3])
    };
    let new = match result {
        Ok(v) => v,
        Err(e) => {
            // A missing field reads as 0 and a finite increment keeps it
            // finite, so the hash is never left empty here; stay safe anyway.
            delete_if_empty(ctx, &argv[1]);
            return Err(e);
        }
    };
    h.set(&argv[2], &new, lim);
    let db = ctx.db();
    ctx.key_event(db, &argv[1], 'h', "hincrbyfloat");
    ctx.changed(1);
    ctx.bulk(&new);
    // Replicas must not redo the long double arithmetic: propagate the
    // result like upstream.
    let new = Bytes::from(new);
    ctx.propagate_as(vec![
        Bytes::from_static(b"HSET"),
        argv[1].clone(),
        argv[2].clone(),
        new,
    ]);
    Ok(())
}

/// Parses the count of HRANDFIELD/SRANDMEMBER like upstream's
/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`.
pub(crate) fn rand_count(a: &[u8]) -> Result<i64, CmdError> {
    let v = args::int(a)?;
    if v == i64::MIN {
        return Err(CmdError::fixed(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(v)
}

/// # Format
/// `HRANDFIELD key [count [WITHVALUES]]`
pub fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut count = None;
    let mut withvalues = false;
    if argv.len() >= 3 {
        let c = rand_count(&argv[2])?;
        if argv.len() > 4 || (argv.len() == 4 && !is(&argv[3], "withvalues")) {
            return Err(SYNTAX);
        }
        if argv.len() == 4 {
            withvalues = true;
            // The reply holds two elements per pick.
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
                return Err(CmdError::fixed("ERR value is out of range"));
            }
        }
        count = Some(c);
    }
    let proto = ctx.proto();
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    let h = match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => None,
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Some(&*h),
        Some(_) => return Err(WRONGTYPE),
    };
    let rng = &mut st.rng;
    let Some(count) = count else {
        match h.and_then(|h| h.random_pair(rng)) {
            Some((f, _)) => write_bulk(out, f),
            None => null(out, proto),
        }
        return Ok(());
    };
    let Some(h) = h else {
        write_array_len(out, 0);
        return Ok(());
    };
    // One pick: a field, or a field/value pair (a nested array in RESP3,
    // flattened in RESP2).
    let emit = |out: &mut BytesMut, f: &[u8], v: &[u8]| {
        if withvalues {
            if proto == Protocol::Resp3 {
                write_array_len(out, 2);
            }
            write_bulk(out, f);
            write_bulk(out, v);
        } else {
            write_bulk(out, f);
        }
    };
    let reply_len = |n: usize| {
        if withvalues && proto == Protocol::Resp2 {
            n * 2
        } else {
            n
        }
    };
    if count < 0 {
        // Repetitions allowed: independent uniform picks. Streamed, so a
        // huge count never allocates up front.
        let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        write_array_len(out, reply_len(n));
        match h {
            HashValue::Packed(_) => {
                let all: Vec<_> = h.iter().collect();
                if all.is_empty() {
                    return Ok(());
                }
                for _ in 0..n {
                    let i = rand::Rng::gen_range(rng, 0..all.len());
                    if let Some(&(f, v)) = all.get(i) {
                        emit(out, f, v);
                    }
                }
            }
            HashValue::Table(_) => {
                for _ in 0..n {
                    if let Some((f, v)) = h.random_pair(rng) {
                        emit(out, f, v);
                    }
                }
            }
        }
        return Ok(());
    }
    let n = usize::try_from(count).unwrap_or(usize::MAX);
    if n >= h.len() {
        // The whole hash, in its iteration order, like upstream.
        write_array_len(out, reply_len(h.len()));
        for (f, v) in h.iter() {
            emit(out, f, v);
        }
        return Ok(());
    }
    let picks = h.random_distinct(n, rng);
    write_array_len(out, reply_len(picks.len()));
    for (f, v) in picks {
        emit(out, f, v);
    }
    Ok(())
}

/// Writes the empty scan reply (`0` and no elements).
pub(crate) fn empty_scan(out: &mut BytesMut) {
    write_array_len(out, 2);
    write_bulk(out, b"0");
    write_array_len(out, 0);
}

/// # Format
/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
pub fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = args::scan_cursor(&argv[2])?;
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    // Like upstream, a missing key answers the empty scan before the
    // options are looked at.
    let h = match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => {
            empty_scan(out);
            return Ok(());
        }
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => &*h,
        Some(_) => return Err(WRONGTYPE),
    };
    let opts = ScanOpts::parse(Args::new(&argv[3..]), false)?;
    let mut found: Vec<(Bytes, Bytes)> = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.matches(f) {
            found.push((Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)));
        }
    });
    write_array_len(out, 2);
    write_bulk(out, next.to_string().as_bytes());
    write_array_len(out, found.len() * 2);
    for (f, v) in &found {
        write_bulk(out, f);
        write_bulk(out, v);
    }
    Ok(())
}
