//! Generic keyspace commands (upstream `db.c`, `expire.c`, `object.c` and
//! `cluster.c`'s DUMP/RESTORE): deletion, existence, renaming, COPY/MOVE,
//! databases, SCAN/KEYS/RANDOMKEY, key expiry, OBJECT and DUMP/RESTORE.

use bytes::Bytes;
use redis_common::glob::string_match;
use redis_engine::table::Handler;
use redis_storage::string::StrValue;
use redis_storage::Value;

use crate::args::{self, is, Args, ScanOpts};
use crate::help;
use redis_engine::ctx::Ctx;
use redis_engine::error::{self, CmdError, CmdResult, DB_RANGE, NO_SUCH_KEY, SYNTAX};

const SAME_OBJECT: CmdError = CmdError::fixed("ERR source and destination objects are the same");

/// Writes a HELP reply: one simple string per line.
pub fn reply_help(ctx: &mut Ctx, lines: &[&str]) {
    ctx.array(lines.len());
    for l in lines {
        ctx.simple(l);
    }
}

pub(crate) fn db_index(ctx: &Ctx, a: &[u8]) -> Result<usize, CmdError> {
    let id = db_number(a)?;
    db_in_range(ctx, id)
}

/// A database number as upstream reads it first (a C int,
/// `getIntFromObjectOrReply`), not yet checked against `databases`.
pub(crate) fn db_number(a: &[u8]) -> Result<i64, CmdError> {
    let id = args::int(a)?;
    if i32::try_from(id).is_err() {
        return Err(CmdError::fixed(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    Ok(id)
}

/// [`db_number`]'s result checked against `databases`.
pub(crate) fn db_in_range(ctx: &Ctx, id: i64) -> Result<usize, CmdError> {
    if id < 0 || id as usize >= ctx.st.ks.len() {
        return Err(DB_RANGE);
    }
    Ok(id as usize)
}

/// Deletes the keys; with `lazy` big values are freed in the background.
fn del_generic(ctx: &mut Ctx, argv: &[Bytes], lazy: bool) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let mut n = 0;
    for k in &argv[1..] {
        ctx.st.ks.expire_if_needed(db, k, now);
        if ctx.st.ks.delete(db, k, lazy) {
            ctx.key_event(db, k, 'g', "del");
            n += 1;
        }
    }
    ctx.changed(n);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `DEL key [key ...]`
pub fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lazy = ctx.st.cached.lazy_user_del;
    del_generic(ctx, argv, lazy)
}

/// # Format
/// `UNLINK key [key ...]`
pub fn unlink(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    del_generic(ctx, argv, true)
}

/// # Format
/// `EXISTS key [key ...]`
pub fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let n = argv[1..]
        .iter()
        .filter(|k| ctx.st.ks.exists_read(db, k, now))
        .count();
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `TOUCH key [key ...]`
pub fn touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.st.ks.exists_read(db, k, now) {
            ctx.st.ks.touch_entry(db, k, now);
            n += 1;
        }
    }
    ctx.int(n);
    Ok(())
}

/// # Format
/// `TYPE key`
pub fn type_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let t = if ctx.st.ks.exists_read(db, &argv[1], now) {
        ctx.st.ks.dbs[db]
            .get(&argv[1])
            .map_or("none", |e| e.value.type_name())
    } else {
        "none"
    };
    ctx.simple(t);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let (src, dst) = (&argv[1], &argv[2]);
    if !ctx.st.ks.exists(db, src, now) {
        return Err(NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.int(0);
        } else {
            ctx.ok();
        }
        return Ok(());
    }
    let dst_exists = ctx.st.ks.exists(db, dst, now);
    if nx && dst_exists {
        ctx.int(0);
        return Ok(());
    }
    let d = &mut ctx.st.ks.dbs[db];
    if let Some((_, entry, exp)) = d.remove(src) {
        d.delete(dst);
        d.insert_entry(Bytes::copy_from_slice(dst), entry, exp);
    }
    ctx.changed(1);
    ctx.key_event(db, src, 'g', "rename_from");
    ctx.key_event(db, dst, 'g', "rename_to");
    if nx {
        ctx.int(1);
    } else {
        ctx.ok();
    }
    Ok(())
}

/// # Format
/// `RENAME key newkey`
pub fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

/// # Format
/// `RENAMENX key newkey`
pub fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// # Format
/// `MOVE key db`
pub fn move_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.st.cluster_enabled() {
        return Err(CmdError::fixed("ERR MOVE is not allowed in cluster mode"));
    }
    let (src_db, now) = (ctx.db(), ctx.now);
    let dst_db = db_index(ctx, &argv[2])?;
    if dst_db == src_db {
        return Err(SAME_OBJECT);
    }
    let key = &argv[1];
    if !ctx.st.ks.exists(src_db, key, now) || ctx.st.ks.exists(dst_db, key, now) {
        ctx.int(0);
        return Ok(());
    }
    if let Some((k, e, exp)) = ctx.st.ks.dbs[src_db].remove(key) {
        ctx.st.ks.dbs[dst_db].insert_entry(k, e, exp);
    }
    ctx.changed(1);
    ctx.key_event(src_db, key, 'g', "move_from");
    ctx.key_event(dst_db, key, 'g', "move_to");
    ctx.int(1);
    Ok(())
}

/// # Format
/// `COPY source destination [DB destination-db] [REPLACE]`
pub fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (src_db, now) = (ctx.db(), ctx.now);
    let mut dst_num = src_db as i64;
    let mut replace = false;
    let mut opts = Args::new(&argv[3..]);
    while let Some(opt) = opts.next_opt() {
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") && !opts.is_empty() {
            dst_num = db_number(opts.bytes()?)?;
        } else {
            return Err(SYNTAX);
        }
    }
    if ctx.st.cluster_enabled() && (src_db != 0 || dst_num != 0) {
        return Err(CmdError::fixed(
            "ERR Copying to another database is not allowed in cluster mode",
        ));
    }
    let dst_db = db_in_range(ctx, dst_num)?;
    let (src, dst) = (&argv[1], &argv[2]);
    if src_db == dst_db && src == dst {
        return Err(SAME_OBJECT);
    }
    if !ctx.st.ks.exists_read(src_db, src, now) {
        ctx.int(0);
        return Ok(());
    }
    if ctx.st.ks.exists(dst_db, dst, now) {
        if !replace {
            ctx.int(0);
            return Ok(());
        }
        ctx.st.ks.dbs[dst_db].delete(dst);
    }
    let s = &ctx.st.ks.dbs[src_db];
    let (Some(entry), exp) = (s.get(src).cloned(), s.expire_at(src)) else {
        ctx.int(0);
        return Ok(());
    };
    ctx.st.ks.dbs[dst_db].insert_entry(Bytes::copy_from_slice(dst), entry, exp);
    ctx.changed(1);
    ctx.key_event(dst_db, dst, 'g', "copy_to");
    ctx.int(1);
    Ok(())
}

/// # Format
/// `KEYS pattern`
pub fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let pat = &argv[1];
    let all = pat.as_ref() == b"*";
    let d = &ctx.st.ks.dbs[db];
    let found: Vec<Bytes> = d
        .iter()
        .filter(|(k, _)| !d.is_expired(k, now) && (all || string_match(pat, k, false)))
        .map(|(k, _)| k.to_bytes())
        .collect();
    ctx.bulk_array(found.iter());
    Ok(())
}

/// # Format
/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
pub fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = args::scan_cursor(&argv[1])?;
    let opts = ScanOpts::parse(Args::new(&argv[2..]), true)?;
    let (db, now) = (ctx.db(), ctx.now);
    let mut found: Vec<Bytes> = Vec::new();
    let next = ctx.st.ks.dbs[db].scan(cursor, opts.count, |k, e| {
        let type_ok = opts
            .type_name
            .is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
        if type_ok && opts.matches(k) {
            found.push(k.to_bytes());
        }
    });
    found.retain(|k| !ctx.st.ks.expire_if_needed(db, k, now));
    ctx.array(2);
    ctx.bulk(next.to_string().as_bytes());
    ctx.bulk_array(found.iter());
    Ok(())
}

/// # Format
/// `RANDOMKEY`
pub fn randomkey(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let st = &mut *ctx.st;
    match st.ks.random_key(db, now, &mut st.rng) {
        Some(k) => ctx.bulk(&k),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `DBSIZE`
pub fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let n = ctx.st.ks.dbs[ctx.db()].len();
    ctx.int(n as i64);
    Ok(())
}

/// Whether a flush frees in the background: `ASYNC`, `SYNC`, or without
/// either, `lazyfree-lazy-user-flush`.
fn flush_mode(ctx: &Ctx, argv: &[Bytes]) -> Result<bool, CmdError> {
    let mut a = Args::new(&argv[1..]);
    let mode = a.keyword(&["async", "sync"]);
    a.finish()?;
    Ok(match mode {
        Some(0) => true,
        Some(_) => false,
        None => ctx.st.cached.lazy_user_flush,
    })
}

/// # Format
/// `FLUSHDB [ASYNC | SYNC]`
pub fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, argv)?;
    let db = ctx.db();
    ctx.st.touch_watched_db(db, ctx.now);
    ctx.st.tracking_flush();
    let n = ctx.st.ks.flush_db(db, lazy);
    ctx.st.signal_blocked_keys_of_db(db);
    // Upstream counts one change per removed key, and at least one so the
    // command is always propagated.
    ctx.changed(n.max(1) as u64);
    ctx.ok();
    Ok(())
}

/// # Format
/// `FLUSHALL [ASYNC | SYNC]`
///
/// With save points configured the empty dataset is saved at once, as
/// upstream does, so that the old data cannot come back from the last
/// dump after a crash.
pub fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, argv)?;
    for db in 0..ctx.st.ks.len() {
        ctx.st.touch_watched_db(db, ctx.now);
    }
    ctx.st.tracking_flush();
    let n = ctx.st.ks.flush_all_lazy(lazy);
    for db in 0..ctx.st.ks.len() {
        ctx.st.signal_blocked_keys_of_db(db);
    }
    ctx.changed(n.max(1) as u64);
    if ctx.caller != redis_engine::dispatch::Caller::AofLoad
        && !ctx.st.config.save_points().is_empty()
    {
        // Saved once the command is counted and propagated, so that
        // `rdb_changes_since_last_save` is 0 afterwards, as upstream.
        ctx.st.save_after_command = true;
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `SWAPDB index1 index2`
pub fn swapdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.st.cluster_enabled() {
        return Err(CmdError::fixed("ERR SWAPDB is not allowed in cluster mode"));
    }
    // Indexes are C ints upstream: beyond that range they are "invalid".
    let a = args::int(&argv[1])
        .ok()
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or(CmdError::fixed("ERR invalid first DB index"))?;
    let b = args::int(&argv[2])
        .ok()
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or(CmdError::fixed("ERR invalid second DB index"))?;
    let n = ctx.st.ks.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(DB_RANGE);
    }
    ctx.st.touch_watched_swap(a as usize, b as usize, ctx.now);
    ctx.st.touch_watched_swap(b as usize, a as usize, ctx.now);
    ctx.st.ks.swap(a as usize, b as usize);
    // Keys now visible in either database may serve blocked clients.
    for db in [a as usize, b as usize] {
        ctx.st.signal_blocked_keys_of_db(db);
    }
    ctx.changed(1);
    ctx.ok();
    Ok(())
}

// ---------------------------------------------------------------------------
// Expiry commands (upstream expire.c).

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Parses the NX/XX/GT/LT flags after the time argument.
fn parse_expire_flags(flags: &[Bytes]) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for a in flags {
        match args::which(a, &["nx", "xx", "gt", "lt"]) {
            Some(0) => f.nx = true,
            Some(1) => f.xx = true,
            Some(2) => f.gt = true,
            Some(3) => f.lt = true,
            _ => {
                return Err(CmdError::msg(format!(
                    "ERR Unsupported option {}",
                    error::truncated(a, 128)
                )))
            }
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CmdError::fixed(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(CmdError::fixed(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

fn expire_generic(ctx: &mut Ctx, argv: &[Bytes], relative: bool, seconds: bool) -> CmdResult {
    let flags = parse_expire_flags(&argv[3..])?;
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    let mut when = args::int(&argv[2])?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| error::invalid_expire(&name))?;
    }
    if relative {
        when = when
            .checked_add(ctx.now)
            .ok_or_else(|| error::invalid_expire(&name))?;
    }
    let (db, now) = (ctx.db(), ctx.now);
    let key = &argv[1];
    if !ctx.st.ks.exists(db, key, now) {
        ctx.int(0);
        return Ok(());
    }
    let cur = ctx.st.ks.dbs[db].expire_at(key);
    let refused = (flags.nx && cur.is_some())
        || (flags.xx && cur.is_none())
        || (flags.gt && cur.is_none_or(|c| when <= c))
        || (flags.lt && cur.is_some_and(|c| when >= c));
    if refused {
        ctx.int(0);
        return Ok(());
    }
    if ctx.already_expired(when) {
        // A deadline in the past deletes at once, freed and propagated as
        // an expiry is (`lazyfree-lazy-expire`: in the background, as
        // `UNLINK`).
        let lazy = ctx.st.ks.lazy_expire;
        ctx.st.ks.delete(db, key, lazy);
        ctx.key_event(db, key, 'g', "del");
        let cmd: &'static [u8] = if lazy { b"UNLINK" } else { b"DEL" };
        ctx.propagate_as(vec![Bytes::from_static(cmd), key.clone()]);
    } else {
        ctx.st.ks.dbs[db].set_expire(key, when);
        ctx.key_event(db, key, 'g', "expire");
        ctx.propagate_as(vec![
            Bytes::from_static(b"PEXPIREAT"),
            key.clone(),
            Bytes::from(when.to_string()),
        ]);
    }
    ctx.changed(1);
    ctx.int(1);
    Ok(())
}

/// # Format
/// `EXPIRE key seconds [NX | XX | GT | LT]`
pub fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, true, true)
}

/// # Format
/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
pub fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, true, false)
}

/// # Format
/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
pub fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, false, true)
}

/// # Format
/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
pub fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, false, false)
}

fn ttl_generic(ctx: &mut Ctx, argv: &[Bytes], ms: bool, absolute: bool) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let key = &argv[1];
    if !ctx.st.ks.exists_read(db, key, now) {
        ctx.int(-2);
        return Ok(());
    }
    // TTL looks the key up without touching it (upstream's
    // LOOKUP_NOTOUCH): OBJECT IDLETIME and the LFU counter stay.
    let Some(at) = ctx.st.ks.dbs[db].expire_at(key) else {
        ctx.int(-1);
        return Ok(());
    };
    let v = if absolute { at } else { (at - now).max(0) };
    ctx.int(if ms { v } else { (v + 500) / 1000 });
    Ok(())
}

/// # Format
/// `TTL key`
pub fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, false, false)
}

/// # Format
/// `PTTL key`
pub fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, true, false)
}

/// # Format
/// `EXPIRETIME key`
pub fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, false, true)
}

/// # Format
/// `PEXPIRETIME key`
pub fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, true, true)
}

/// # Format
/// `PERSIST key`
pub fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    let ok = ctx.st.ks.exists(db, &argv[1], now) && ctx.st.ks.dbs[db].persist(&argv[1]);
    if ok {
        ctx.changed(1);
        ctx.key_event(db, &argv[1], 'g', "persist");
    }
    ctx.int(i64::from(ok));
    Ok(())
}

// ---------------------------------------------------------------------------
// OBJECT.

fn object_entry<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c redis_storage::Entry> {
    let (db, now) = (ctx.db(), ctx.now);
    // Counted like a read lookup, but without a `keymiss` event (upstream
    // looks OBJECT's key up with LOOKUP_NOTOUCH | LOOKUP_NONOTIFY).
    if !ctx.st.ks.exists(db, key, now) {
        ctx.st.ks.misses += 1;
        return None;
    }
    ctx.st.ks.hits += 1;
    ctx.st.ks.dbs[db].get(key)
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.st.config.get_str("maxmemory-policy").contains("lfu")
}

/// # Format
/// `OBJECT ENCODING key`
pub fn object_encoding(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match object_entry(ctx, &argv[2]).map(|e| e.value.encoding()) {
        Some(enc) => ctx.bulk(enc.as_bytes()),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `OBJECT REFCOUNT key`
pub fn object_refcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let policy = ctx.st.config.get_str("maxmemory-policy").to_string();
    let shared_ints = !policy.contains("lru") && !policy.contains("lfu");
    let rc = object_entry(ctx, &argv[2]).map(|e| match &e.value {
        // Upstream shares the integers 0..9999 when no LRU/LFU policy needs
        // per-object metadata, and reports them with INT_MAX references.
        Value::Str(StrValue::Int(i)) if shared_ints && (0..10000).contains(i) => {
            i64::from(i32::MAX)
        }
        _ => 1,
    });
    match rc {
        Some(n) => ctx.int(n),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `OBJECT IDLETIME key`
pub fn object_idletime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Like upstream, a missing key answers nil before the policy check.
    let now = ctx.now;
    let Some(word) = object_entry(ctx, &argv[2]).map(|e| e.lru) else {
        ctx.null();
        return Ok(());
    };
    if lfu_policy(ctx) {
        return Err(CmdError::fixed("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.int(redis_storage::access::idle_seconds(word, now) as i64);
    Ok(())
}

/// # Format
/// `OBJECT FREQ key`
pub fn object_freq(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(word) = object_entry(ctx, &argv[2]).map(|e| e.lru) else {
        ctx.null();
        return Ok(());
    };
    if !lfu_policy(ctx) {
        return Err(CmdError::fixed("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let (now, decay) = (
        ctx.now,
        ctx.st.config.get_int("lfu-decay-time").max(0) as u32,
    );
    ctx.int(i64::from(redis_storage::access::lfu_decayed(
        word, decay, now,
    )));
    Ok(())
}

/// # Format
/// `OBJECT HELP`
pub fn object_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::OBJECT);
    Ok(())
}

/// # Format
/// `DUMP key`
pub fn cmd_dump(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    if !ctx.st.ks.exists_read(db, &argv[1], now) {
        ctx.null();
        return Ok(());
    }
    let payload = ctx.st.ks.dbs[db]
        .get(&argv[1])
        .and_then(|e| redis_engine::persist::to_rdb(&e.value))
        .map(|v| redis_rdb::dump_payload_with(&v, &redis_engine::persist::writer_options(ctx.st)));
    match payload {
        Some(p) => ctx.bulk(&p),
        None => ctx.null(),
    }
    Ok(())
}

/// The options of RESTORE after the payload.
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<i64>,
}

impl RestoreOpts {
    /// Parses like upstream: IDLETIME and FREQ exclude each other (the
    /// second one is a syntax error), values are checked where they appear.
    fn parse(mut a: Args) -> Result<RestoreOpts, CmdError> {
        let mut o = RestoreOpts {
            replace: false,
            absttl: false,
            idle: None,
            freq: None,
        };
        while let Some(opt) = a.next_opt() {
            let more = !a.is_empty();
            if is(opt, "replace") {
                o.replace = true;
            } else if is(opt, "absttl") {
                o.absttl = true;
            } else if is(opt, "idletime") && more && o.freq.is_none() {
                let v = a.int()?;
                if v < 0 {
                    return Err(CmdError::fixed("ERR Invalid IDLETIME value, must be >= 0"));
                }
                o.idle = Some(v);
            } else if is(opt, "freq") && more && o.idle.is_none() {
                let v = a.int()?;
                if !(0..=255).contains(&v) {
                    return Err(CmdError::fixed(
                        "ERR Invalid FREQ value, must be >= 0 and <= 255",
                    ));
                }
                o.freq = Some(v);
            } else {
                return Err(SYNTAX);
            }
        }
        Ok(o)
    }
}

/// # Format
/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`
pub fn cmd_restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = RestoreOpts::parse(Args::new(&argv[4..]))?;
    let ttl = args::int(&argv[2])?;
    if ttl < 0 {
        return Err(CmdError::fixed("ERR Invalid TTL value, must be >= 0"));
    }
    let (db, now) = (ctx.db(), ctx.now);
    let key = &argv[1];
    if !o.replace && ctx.st.ks.exists(db, key, now) {
        return Err(CmdError::fixed("BUSYKEY Target key name already exists."));
    }
    let verify = !ctx.st.skip_checksum_validation;
    // Every client is sanitized under `clients` (no ACL user is trusted).
    let deep = ctx.st.config.get_str("sanitize-dump-payload") != "no";
    let v = redis_rdb::parse_payload_checked(&argv[3], verify, deep).map_err(|e| {
        // A corrupt payload is logged (verbose) as upstream's loader
        // reports it (`rdbReportCorruptRDB`), then refused.
        let verbose = redis_common::log::LogLevel::Verbose;
        match &e.kind {
            redis_rdb::ErrorKind::Corrupt(msg) => ctx.st.log(
                verbose,
                &format!("Internal error in RDB reading offset 0, function at rdb.c:0 -> {msg}"),
            ),
            redis_rdb::ErrorKind::ReadError { .. } => ctx.st.log(verbose, &e.kind.to_string()),
            _ => {}
        }
        CmdError::fixed(e.restore_message())
    })?;
    let Some(value) = redis_engine::persist::from_rdb(ctx.st, v) else {
        return Err(CmdError::fixed("ERR Bad data format"));
    };
    let expire_at = match (ttl, o.absttl) {
        (0, _) => None,
        (t, true) => Some(t),
        (t, false) => Some(now.saturating_add(t)),
    };
    let existed = ctx.st.ks.dbs[db].delete(key);
    if matches!(expire_at, Some(t) if t <= now) {
        // Already expired: nothing is created (an existing key was replaced
        // by nothing, which is a deletion).
        if existed {
            ctx.key_event(db, key, 'g', "del");
            ctx.changed(1);
            ctx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        ctx.ok();
        return Ok(());
    }
    // IDLETIME / FREQ set the access metadata the policy uses.
    let lru = redis_storage::access::restored(ctx.st.ks.policy, now, o.idle, o.freq)
        .unwrap_or_else(|| ctx.lru());
    ctx.st.ks.dbs[db].set(key, value, false, lru);
    if let Some(t) = expire_at {
        ctx.st.ks.dbs[db].set_expire(key, t);
        if !o.absttl {
            // A relative TTL is propagated as the absolute time computed
            // here, with ABSTTL appended (upstream rewrites it so).
            let mut rewritten = argv.to_vec();
            rewritten[2] = Bytes::from(t.to_string());
            rewritten.push(Bytes::from_static(b"ABSTTL"));
            ctx.propagate_as(rewritten);
        }
    }
    ctx.changed(1);
    ctx.key_event(db, key, 'g', "restore");
    ctx.ok();
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("copy", copy),
    ("del", del),
    ("exists", exists),
    ("expire", expire),
    ("expireat", expireat),
    ("expiretime", expiretime),
    ("keys", keys),
    ("move", move_),
    ("object|encoding", object_encoding),
    ("object|freq", object_freq),
    ("object|help", object_help),
    ("object|idletime", object_idletime),
    ("object|refcount", object_refcount),
    ("persist", persist),
    ("pexpire", pexpire),
    ("pexpireat", pexpireat),
    ("pexpiretime", pexpiretime),
    ("pttl", pttl),
    ("randomkey", randomkey),
    ("rename", rename),
    ("renamenx", renamenx),
    ("scan", scan),
    ("touch", touch),
    ("ttl", ttl),
    ("type", type_),
    ("unlink", unlink),
    ("dbsize", dbsize),
    ("flushall", flushall),
    ("flushdb", flushdb),
    ("swapdb", swapdb),
    ("dump", cmd_dump),
    ("restore", cmd_restore),
];
