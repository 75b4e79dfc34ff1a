//! Set commands (upstream `t_set.c`, commands half; the type API is
//! `redis_storage::set`).
//!
//! Multi-key operations (SINTER, SUNION, SDIFF and their STORE/CARD forms)
//! first look every key up once (lazy expiry, hit/miss counters, type
//! check of *all* keys like 7.0), then borrow the surviving sets together
//! to compute the result. Results are built with the same add rules as a
//! fresh set (intset until a non-integer or the count limit), which is
//! what decides the stored encoding and the reply order upstream.

use bytes::{Bytes, BytesMut};
use redis_resp::write::{write_array_len, write_bulk, write_integer, write_set_len};
use redis_storage::set::{Member, SetValue};
use redis_storage::string::itoa_buf;
use redis_storage::{Entry, Value};

use crate::args::{self, is, Args, ScanOpts};
use crate::hash::{empty_scan, rand_count};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The set commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("scard", scard),
    ("sismember", sismember),
    ("smismember", smismember),
    ("smembers", smembers),
    ("srandmember", srandmember),
    ("spop", spop),
    ("smove", smove),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sinterstore", sinterstore),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

/// Members per propagated `SREM` when SPOP pops many (bounds each
/// replicated command's size).
const SREM_BATCH: usize = 1024;

/// The configured `set-max-intset-entries`.
fn max_intset(ctx: &Ctx) -> usize {
    ctx.st.cached.set_max_intset_entries
}

/// Writes one member as a bulk string.
fn write_member(out: &mut BytesMut, m: Member<'_>) {
    match m {
        Member::Int(i) => write_bulk(out, itoa_buf(i).as_bytes()),
        Member::Str(s) => write_bulk(out, s),
    }
}

/// Reads a set key: `Ok(None)` if missing, `WRONGTYPE` for another type.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c SetValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    match ctx.st.ks.lookup_read(db, key, now, lru) {
        None => Ok(None),
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(WRONGTYPE),
    }
}

/// Looks a set key up for writing: `Ok(None)` if missing.
fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut SetValue>, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    match ctx.st.ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(WRONGTYPE),
    }
}

/// Looks a set key up for writing, creating an empty set if missing.
/// Callers add a member before returning (empty sets are never stored).
fn write_or_create<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut SetValue, CmdError> {
    let (db, lru) = (ctx.db(), ctx.lru());
    if write(ctx, key)?.is_none() {
        ctx.st.ks.dbs[db].set(key, Value::Set(SetValue::new()), false, lru);
    }
    match ctx.st.ks.dbs[db].get_mut(key) {
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Ok(s),
        _ => Err(WRONGTYPE),
    }
}

/// Deletes `key` if its set became empty, with upstream's `del` event.
/// Returns true if it did.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let db = ctx.db();
    let empty = matches!(
        ctx.st.ks.dbs[db].get(key),
        Some(Entry { value: Value::Set(s), .. }) if s.is_empty()
    );
    if empty {
        ctx.st.ks.dbs[db].delete(key);
        ctx.key_event(db, key, 'g', "del");
    }
    empty
}

/// # Format
/// `SADD key member [member ...]`
pub fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let max = max_intset(ctx);
    let s = write_or_create(ctx, &argv[1])?;
    let mut added = 0;
    for m in &argv[2..] {
        if s.add(m, max) {
            added += 1;
        }
    }
    if added > 0 {
        let db = ctx.db();
        ctx.key_event(db, &argv[1], 's', "sadd");
        ctx.changed(added as u64);
    }
    ctx.int(added);
    Ok(())
}

/// # Format
/// `SREM key member [member ...]`
pub fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(s) = write(ctx, &argv[1])? else {
        ctx.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in &argv[2..] {
        if s.remove(m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        let db = ctx.db();
        ctx.key_event(db, &argv[1], 's', "srem");
        delete_if_empty(ctx, &argv[1]);
        ctx.changed(removed as u64);
    }
    ctx.int(removed);
    Ok(())
}

/// # Format
/// `SCARD key`
pub fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?.map_or(0, SetValue::len);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `SISMEMBER key member`
pub fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = read(ctx, &argv[1])?.is_some_and(|s| s.contains(&argv[2]));
    ctx.int(i64::from(found));
    Ok(())
}

/// # Format
/// `SMISMEMBER key member [member ...]`
pub fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    let s = match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => None,
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Some(&*s),
        Some(_) => return Err(WRONGTYPE),
    };
    write_array_len(out, argv.len() - 2);
    for m in &argv[2..] {
        write_integer(out, i64::from(s.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

/// # Format
/// `SMEMBERS key`
pub fn smembers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now, lru, proto) = (ctx.db(), ctx.now, ctx.lru(), ctx.proto());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => write_set_len(out, proto, 0),
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => {
            write_set_len(out, proto, s.len());
            for m in s.iter() {
                write_member(out, m);
            }
        }
        Some(_) => return Err(WRONGTYPE),
    }
    Ok(())
}

/// # Format
/// `SRANDMEMBER key [count]`
pub fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = match argv.len() {
        2 => None,
        3 => Some(rand_count(&argv[2])?),
        _ => return Err(SYNTAX),
    };
    let (db, now, lru, proto) = (ctx.db(), ctx.now, ctx.lru(), ctx.proto());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    let s = match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => None,
        Some(Entry { value, .. }) if matches!(value, Value::Set(_)) => {
            // Sampling many members moves a resize on as many steps.
            if let Some(c) = count {
                value.rehash_steps(usize::try_from(c.unsigned_abs()).unwrap_or(0).min(1000));
            }
            match value {
                Value::Set(s) => Some(&*s),
                _ => None,
            }
        }
        Some(_) => return Err(WRONGTYPE),
    };
    let rng = &mut st.rng;
    let Some(count) = count else {
        match s.and_then(|s| s.random_member(rng)) {
            Some(m) => write_member(out, m),
            None => redis_resp::write::write_null(out, proto),
        }
        return Ok(());
    };
    let Some(s) = s else {
        write_array_len(out, 0);
        return Ok(());
    };
    if count < 0 {
        // Repetitions allowed: independent uniform picks, streamed so a
        // huge count never allocates up front.
        let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        write_array_len(out, n);
        for _ in 0..n {
            if let Some(m) = s.random_member(rng) {
                write_member(out, m);
            }
        }
        return Ok(());
    }
    let n = usize::try_from(count).unwrap_or(usize::MAX);
    if n >= s.len() {
        // The whole set in its iteration order, like upstream.
        write_array_len(out, s.len());
        for m in s.iter() {
            write_member(out, m);
        }
        return Ok(());
    }
    let picks = s.random_distinct(n, rng);
    write_array_len(out, picks.len());
    for m in picks {
        write_member(out, m);
    }
    Ok(())
}

/// What to propagate when a whole set goes away: `UNLINK` with
/// `lazyfree-lazy-server-del`, `DEL` otherwise (as upstream).
fn del_command(ctx: &Ctx) -> Bytes {
    if ctx.st.config.get_bool("lazyfree-lazy-server-del") {
        Bytes::from_static(b"UNLINK")
    } else {
        Bytes::from_static(b"DEL")
    }
}

/// # Format
/// `SPOP key [count]`
pub fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => spop_one(ctx, &argv[1]),
        3 => {
            let count = args::int(&argv[2])
                .ok()
                .filter(|&c| c >= 0)
                .ok_or(CmdError::fixed(
                    "ERR value is out of range, must be positive",
                ))?;
            spop_count(ctx, &argv[1], usize::try_from(count).unwrap_or(usize::MAX))
        }
        _ => Err(SYNTAX),
    }
}

fn spop_one(ctx: &mut Ctx, key: &Bytes) -> CmdResult {
    let db = ctx.db();
    let st = &mut *ctx.st;
    let popped = match st.ks.lookup_write(db, key, ctx.now) {
        None => None,
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => s.pop_random(&mut st.rng),
        Some(_) => return Err(WRONGTYPE),
    };
    let Some(m) = popped else {
        ctx.null();
        return Ok(());
    };
    ctx.key_event(db, key, 's', "spop");
    // Replicas must remove the same member: propagate what was popped.
    ctx.propagate_as(vec![Bytes::from_static(b"SREM"), key.clone(), m.clone()]);
    delete_if_empty(ctx, key);
    ctx.changed(1);
    ctx.bulk(&m);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, key: &Bytes, count: usize) -> CmdResult {
    let (db, proto) = (ctx.db(), ctx.proto());
    let st = &mut *ctx.st;
    let s = match st.ks.lookup_write(db, key, ctx.now) {
        None => None,
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Some(s),
        Some(_) => return Err(WRONGTYPE),
    };
    let Some(s) = s else {
        write_set_len(ctx.out, proto, 0);
        return Ok(());
    };
    if count == 0 {
        write_set_len(ctx.out, proto, 0);
        return Ok(());
    }
    if count >= s.len() {
        // Everything goes: reply with the whole set and delete the key.
        let out = &mut *ctx.out;
        write_set_len(out, proto, s.len());
        for m in s.iter() {
            write_member(out, m);
        }
        // Upstream serves this case through its SUNION code, whose read
        // lookup counts a hit; other SPOPs count nothing.
        ctx.st.ks.hits += 1;
        ctx.st.ks.dbs[db].delete(key);
        ctx.key_event(db, key, 's', "spop");
        ctx.key_event(db, key, 'g', "del");
        let del = del_command(ctx);
        ctx.propagate_as(vec![del, key.clone()]);
        ctx.changed(1);
        return Ok(());
    }
    let mut popped = Vec::with_capacity(count);
    for _ in 0..count {
        match s.pop_random(&mut st.rng) {
            Some(m) => popped.push(m),
            None => break,
        }
    }
    write_set_len(ctx.out, proto, popped.len());
    for m in &popped {
        write_bulk(ctx.out, m);
    }
    ctx.key_event(db, key, 's', "spop");
    for chunk in popped.chunks(SREM_BATCH) {
        let mut argv = Vec::with_capacity(chunk.len() + 2);
        argv.push(Bytes::from_static(b"SREM"));
        argv.push(key.clone());
        argv.extend(chunk.iter().cloned());
        ctx.propagate_as(argv);
    }
    ctx.changed(1);
    Ok(())
}

/// # Format
/// `SMOVE source destination member`
pub fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let (db, now) = (ctx.db(), ctx.now);
    // A missing source replies 0 before the destination's type is checked.
    let src_member = match ctx.st.ks.lookup_write(db, src, now) {
        None => {
            ctx.int(0);
            return Ok(());
        }
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => s.contains(member),
        Some(_) => return Err(WRONGTYPE),
    };
    match ctx.st.ks.lookup_write(db, dst, now) {
        None
        | Some(Entry {
            value: Value::Set(_),
            ..
        }) => {}
        Some(_) => return Err(WRONGTYPE),
    }
    if src == dst || !src_member {
        ctx.int(i64::from(src_member));
        return Ok(());
    }
    if let Some(s) = write(ctx, src)? {
        s.remove(member);
    }
    ctx.key_event(db, src, 's', "srem");
    delete_if_empty(ctx, src);
    ctx.changed(1);
    let max = max_intset(ctx);
    if write_or_create(ctx, dst)?.add(member, max) {
        ctx.changed(1);
        ctx.key_event(db, dst, 's', "sadd");
    }
    ctx.int(1);
    Ok(())
}

/// Looks every key up (expiry, statistics, type check of all of them) and
/// returns whether each one exists.
fn check_keys(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<bool>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        // Read lookups even for the STORE forms, as upstream 7.0 does
        // (hit/miss counters, `keymiss` events).
        match ctx.st.ks.lookup_read(db, k, now, lru) {
            None => present.push(false),
            Some(Entry {
                value: Value::Set(_),
                ..
            }) => present.push(true),
            Some(_) => return Err(WRONGTYPE),
        }
    }
    Ok(present)
}

/// The sets of `keys` that exist, in argument order (after [`check_keys`]).
fn borrow_sets<'a>(ctx: &'a Ctx, keys: &[Bytes]) -> Vec<Option<&'a SetValue>> {
    let d = &ctx.st.ks.dbs[ctx.db()];
    keys.iter()
        .map(|k| match d.get(k) {
            Some(Entry {
                value: Value::Set(s),
                ..
            }) => Some(s),
            _ => None,
        })
        .collect()
}

/// The intersection, visiting the smallest set and probing the others.
/// Calls `f` per member until it returns false. Any missing set makes the
/// result empty.
fn intersect<'a>(sets: &[Option<&'a SetValue>], mut f: impl FnMut(Member<'a>) -> bool) {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&SetValue>>>() else {
        return;
    };
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return;
    };
    for m in first.iter() {
        if rest.iter().all(|s| s.contains_member(m)) && !f(m) {
            return;
        }
    }
}

/// Union or difference of `sets` as a fresh set.
fn union_diff(sets: &[Option<&SetValue>], diff: bool, max: usize) -> SetValue {
    let mut out = SetValue::new();
    if diff {
        let Some(Some(first)) = sets.first() else {
            return out;
        };
        let rest: Vec<&SetValue> = sets.iter().skip(1).flatten().copied().collect();
        for m in first.iter() {
            if !rest.iter().any(|s| s.contains_member(m)) {
                out.add_member(m, max);
            }
        }
    } else {
        for s in sets.iter().flatten() {
            for m in s.iter() {
                out.add_member(m, max);
            }
        }
    }
    out
}

/// Stores `result` under `dst` (or deletes `dst` when it is empty) and
/// replies with its cardinality, with upstream's events.
fn store_result(ctx: &mut Ctx, dst: &Bytes, result: SetValue, event: &str) {
    let (db, lru) = (ctx.db(), ctx.lru());
    let n = result.len();
    if n == 0 {
        if ctx.st.ks.dbs[db].delete(dst) {
            ctx.key_event(db, dst, 'g', "del");
            ctx.changed(1);
        }
    } else {
        ctx.st.ks.dbs[db].set(dst, Value::Set(result), false, lru);
        ctx.key_event(db, dst, 's', event);
        ctx.changed(1);
    }
    ctx.int(n as i64);
}

/// # Format
/// `SINTER key [key ...]`
pub fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let keys = &argv[1..];
    check_keys(ctx, keys)?;
    let proto = ctx.proto();
    let sets = borrow_sets(ctx, keys);
    let mut found: Vec<Member<'_>> = Vec::new();
    intersect(&sets, |m| {
        found.push(m);
        true
    });
    let mut out = BytesMut::new();
    write_set_len(&mut out, proto, found.len());
    for m in found {
        write_member(&mut out, m);
    }
    ctx.out.extend_from_slice(&out);
    Ok(())
}

/// # Format
/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let numkeys = args::int(&argv[1])
        .ok()
        .filter(|&n| n >= 1)
        .ok_or(CmdError::fixed("ERR numkeys should be greater than 0"))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - 2 {
        return Err(CmdError::fixed(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys = &argv[2..2 + numkeys];
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        match argv.get(i + 1) {
            Some(v) if is(&argv[i], "limit") => {
                let l = args::int(v)
                    .ok()
                    .filter(|&l| l >= 0)
                    .ok_or(CmdError::fixed("ERR LIMIT can't be negative"))?;
                limit = usize::try_from(l).unwrap_or(usize::MAX);
                i += 2;
            }
            _ => return Err(SYNTAX),
        }
    }
    check_keys(ctx, keys)?;
    let sets = borrow_sets(ctx, keys);
    let mut n = 0usize;
    intersect(&sets, |_| {
        n += 1;
        limit == 0 || n < limit
    });
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `SINTERSTORE destination key [key ...]`
pub fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let keys = &argv[2..];
    check_keys(ctx, keys)?;
    let max = max_intset(ctx);
    let sets = borrow_sets(ctx, keys);
    let mut result = SetValue::new();
    intersect(&sets, |m| {
        result.add_member(m, max);
        true
    });
    store_result(ctx, &argv[1], result, "sinterstore");
    Ok(())
}

fn union_diff_reply(ctx: &mut Ctx, keys: &[Bytes], diff: bool) -> CmdResult {
    check_keys(ctx, keys)?;
    let (max, proto) = (max_intset(ctx), ctx.proto());
    let result = union_diff(&borrow_sets(ctx, keys), diff, max);
    write_set_len(ctx.out, proto, result.len());
    for m in result.iter() {
        write_member(ctx.out, m);
    }
    Ok(())
}

fn union_diff_store(ctx: &mut Ctx, argv: &[Bytes], diff: bool, event: &str) -> CmdResult {
    let keys = &argv[2..];
    check_keys(ctx, keys)?;
    let max = max_intset(ctx);
    let result = union_diff(&borrow_sets(ctx, keys), diff, max);
    store_result(ctx, &argv[1], result, event);
    Ok(())
}

/// # Format
/// `SUNION key [key ...]`
pub fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_reply(ctx, &argv[1..], false)
}

/// # Format
/// `SDIFF key [key ...]`
pub fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_reply(ctx, &argv[1..], true)
}

/// # Format
/// `SUNIONSTORE destination key [key ...]`
pub fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_store(ctx, argv, false, "sunionstore")
}

/// # Format
/// `SDIFFSTORE destination key [key ...]`
pub fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff_store(ctx, argv, true, "sdiffstore")
}

/// # Format
/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
pub fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = args::scan_cursor(&argv[2])?;
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let (st, out) = (&mut *ctx.st, &mut *ctx.out);
    let s = match st.ks.lookup_read(db, &argv[1], now, lru) {
        None => {
            empty_scan(out);
            return Ok(());
        }
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => &*s,
        Some(_) => return Err(WRONGTYPE),
    };
    let opts = ScanOpts::parse(Args::new(&argv[3..]), false)?;
    let mut found: Vec<Bytes> = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        let b = m.to_bytes();
        if opts.matches(&b) {
            found.push(b);
        }
    });
    write_array_len(out, 2);
    write_bulk(out, next.to_string().as_bytes());
    write_array_len(out, found.len());
    for m in &found {
        write_bulk(out, m);
    }
    Ok(())
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
