//! List commands (upstream `t_list.c`, "commands" half; the type API lives
//! in `redis_storage::list`).
//!
//! Behaviour checked against Redis 7.0.15: the order of argument checks
//! versus key lookups (e.g. `LINDEX missing abc` is a null, `LSET missing
//! abc x` is `no such key`), the error texts, the RESP2/RESP3 null forms,
//! keyspace events (a move notifies the push on the destination first, then
//! the pop on the source, then `del` if the source emptied) and what is
//! propagated (`LMPOP` becomes `LPOP`/`RPOP key <popped>`).
//!
//! The blocking variants are served by the blocking machinery
//! ([`redis_engine::blocking`]); their "there is data, serve it now" halves live
//! here: [`serve_blocked_pop`], [`serve_blocked_mpop`] and
//! [`serve_blocked_move`], with [`parse_end`] and [`parse_mpop`] for their
//! argument parsing.

use bytes::{BufMut, Bytes, BytesMut};
use redis_storage::list::{End, ListValue};
use redis_storage::string::itoa_buf;
use redis_storage::Value;

use crate::args::{self, is, parse_timeout, Args, Mpop};
use redis_engine::blocking::TimeoutReply;
use redis_engine::ctx::Ctx;
use redis_engine::error::{self, CmdError, CmdResult, NO_SUCH_KEY, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The list commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lindex", lindex),
    ("lset", lset),
    ("lrange", lrange),
    ("ltrim", ltrim),
    ("lrem", lrem),
    ("linsert", linsert),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

const INDEX_RANGE: CmdError = CmdError::fixed("ERR index out of range");
const NOT_POSITIVE: CmdError = CmdError::fixed("ERR value is out of range, must be positive");
const RANK_ZERO: CmdError = CmdError::fixed(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
);
const COUNT_NEGATIVE: CmdError = CmdError::fixed("ERR COUNT can't be negative");
const MAXLEN_NEGATIVE: CmdError = CmdError::fixed("ERR MAXLEN can't be negative");

// ---------------------------------------------------------------------------
// Helpers

/// Reads a list key: `Ok(None)` if missing, `WRONGTYPE` for another type.
/// Counts a keyspace hit/miss like upstream's `lookupKeyRead`.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c ListValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    match ctx.st.ks.lookup_read(db, key, now, lru) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Looks a list key up for writing (`lookupKeyWrite` + type check).
fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ListValue>, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    match ctx.st.ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Deletes `key` if its list became empty (empty collections are never
/// stored), with the generic `del` event upstream sends in that case.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let empty = matches!(
        ctx.st.ks.dbs[db].get(key).map(|e| &e.value),
        Some(Value::List(l)) if l.is_empty()
    );
    if empty {
        ctx.st.ks.dbs[db].delete(key);
        ctx.key_event(db, key, 'g', "del");
    }
}

/// A bulk string written straight into the output buffer (lets range
/// replies stream out of the list while it is borrowed).
fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    out.put_u8(b'$');
    out.extend_from_slice(itoa_buf(b.len() as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn put_array_len(out: &mut BytesMut, n: usize) {
    out.put_u8(b'*');
    out.extend_from_slice(itoa_buf(n as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `LEFT` / `RIGHT` (case-insensitive), else `ERR syntax error`.
pub fn parse_end(arg: &Bytes) -> Result<End, CmdError> {
    if is(arg, "left") {
        Ok(End::Left)
    } else if is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(SYNTAX)
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_command(end: End) -> Bytes {
    match end {
        End::Left => Bytes::from_static(b"LPOP"),
        End::Right => Bytes::from_static(b"RPOP"),
    }
}

/// Upstream's range normalisation for `LRANGE`/`LTRIM`: negative indexes
/// count from the tail, the start is clamped at 0. `None` when the range
/// is empty, else inclusive `(start, end)` positions.
fn normalize_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = i64::try_from(len).unwrap_or(i64::MAX);
    let mut s = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let mut e = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return None;
    }
    if e >= llen {
        e = llen - 1;
    }
    Some((usize::try_from(s).ok()?, usize::try_from(e).ok()?))
}

// ---------------------------------------------------------------------------
// Push

fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let key = &argv[1];
    let elems = argv.get(2..).unwrap_or_default();
    let (db, lru) = (ctx.db(), ctx.lru());
    let len = match write(ctx, key)? {
        Some(l) => {
            push_all(l, elems, end);
            l.len()
        }
        None if only_existing => {
            ctx.int(0);
            return Ok(());
        }
        None => {
            let mut l = ListValue::new();
            push_all(&mut l, elems, end);
            let len = l.len();
            ctx.st.ks.dbs[db].set(key, Value::List(l), false, lru);
            len
        }
    };
    ctx.int(len as i64);
    ctx.changed(elems.len() as u64);
    ctx.key_event(db, key, 'l', push_event(end));
    Ok(())
}

fn push_all(l: &mut ListValue, elems: &[Bytes], end: End) {
    match end {
        End::Right => l.extend_back(elems),
        End::Left => {
            for e in elems {
                l.push_front(e);
            }
        }
    }
}

/// # Format
/// `LPUSH key element [element ...]`
pub fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, false)
}

/// # Format
/// `RPUSH key element [element ...]`
pub fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, false)
}

/// # Format
/// `LPUSHX key element [element ...]`
pub fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, true)
}

/// # Format
/// `RPUSHX key element [element ...]`
pub fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, true)
}

// ---------------------------------------------------------------------------
// Pop

/// Pops up to `count` elements of `key` at `end` (no events yet: upstream
/// writes the reply before notifying, see [`popped`]).
fn take_n(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> Result<Vec<Bytes>, CmdError> {
    let mut out = Vec::new();
    if let Some(l) = write(ctx, key)? {
        let n = count.min(l.len());
        out.reserve(n);
        for _ in 0..n {
            match l.pop(end) {
                Some(v) => out.push(v),
                None => break,
            }
        }
    }
    Ok(out)
}

/// After `n` elements were popped from `key` at `end` and the reply was
/// written: dirty counter, the pop event, and deletion of an emptied key.
fn popped(ctx: &mut Ctx, key: &[u8], end: End, n: usize) {
    if n == 0 {
        return;
    }
    let db = ctx.db();
    ctx.changed(n as u64);
    ctx.key_event(db, key, 'l', pop_event(end));
    delete_if_empty(ctx, key);
}

fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    // The metadata arity is -2; upstream rejects extra arguments here.
    if argv.len() > 3 {
        let name = match end {
            End::Left => "lpop",
            End::Right => "rpop",
        };
        return Err(error::wrong_arity(name));
    }
    let count = match argv.get(2) {
        Some(a) => {
            let c = args::int_or(a, NOT_POSITIVE)?;
            Some(usize::try_from(c).map_err(|_| NOT_POSITIVE)?)
        }
        None => None,
    };
    let key = &argv[1];
    let has_data = write(ctx, key)?.is_some();
    if !has_data {
        match count {
            Some(_) => ctx.null_array(),
            None => ctx.null(),
        }
        return Ok(());
    }
    let v = take_n(ctx, key, end, count.unwrap_or(1))?;
    match (count, v.first()) {
        (None, Some(b)) => ctx.bulk(b),
        (None, None) => ctx.null(),
        (Some(_), _) => ctx.bulk_array(v.iter()),
    }
    popped(ctx, key, end, v.len());
    Ok(())
}

/// # Format
/// `LPOP key [count]`
pub fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Left)
}

/// # Format
/// `RPOP key [count]`
pub fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Right)
}

// ---------------------------------------------------------------------------
// Read-only access

/// # Format
/// `LLEN key`
pub fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?.map_or(0, ListValue::len);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `LINDEX key index`
pub fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // The key is looked up before the index is parsed: a missing key
    // replies null even for a malformed index.
    let Some(l) = read(ctx, &argv[1])? else {
        ctx.null();
        return Ok(());
    };
    let index = args::int(&argv[2])?;
    let v = l
        .resolve_index(index)
        .and_then(|i| l.get(i))
        .map(Bytes::copy_from_slice);
    match v {
        Some(b) => ctx.bulk(&b),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `LRANGE key start stop`
pub fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let end = args::int(&argv[3])?;
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let out = &mut *ctx.out;
    let l = match ctx.st.ks.lookup_read(db, &argv[1], now, lru) {
        None => {
            put_array_len(out, 0);
            return Ok(());
        }
        Some(e) => match &e.value {
            Value::List(l) => l,
            _ => return Err(WRONGTYPE),
        },
    };
    match normalize_range(start, end, l.len()) {
        None => put_array_len(out, 0),
        Some((s, e)) => {
            let it = l.range(s, e);
            put_array_len(out, it.len());
            for v in it {
                put_bulk(out, v);
            }
        }
    }
    Ok(())
}

/// The options of LPOS.
struct LposOpts {
    /// Which match to start from (negative: from the tail).
    rank: i64,
    /// `Some` with COUNT (0 = all matches); the reply is then an array.
    count: Option<usize>,
    /// How many elements to compare at most (0 = all).
    maxlen: usize,
}

impl LposOpts {
    /// Parses like upstream: each value is checked where it appears.
    fn parse(mut a: Args) -> Result<LposOpts, CmdError> {
        let mut o = LposOpts {
            rank: 1,
            count: None,
            maxlen: 0,
        };
        while !a.is_empty() {
            if let Some(v) = a.eat_with_value("rank") {
                o.rank = args::int(v)?;
                if o.rank == 0 {
                    return Err(RANK_ZERO);
                }
            } else if let Some(v) = a.eat_with_value("count") {
                let c = args::int_or(v, COUNT_NEGATIVE)?;
                o.count = Some(usize::try_from(c).map_err(|_| COUNT_NEGATIVE)?);
            } else if let Some(v) = a.eat_with_value("maxlen") {
                let m = args::int_or(v, MAXLEN_NEGATIVE)?;
                o.maxlen = usize::try_from(m).map_err(|_| MAXLEN_NEGATIVE)?;
            } else {
                return Err(SYNTAX);
            }
        }
        Ok(o)
    }
}

/// # Format
/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let LposOpts {
        rank,
        count,
        maxlen,
    } = LposOpts::parse(Args::new(&argv[3..]))?;
    let elem = &argv[2];
    let Some(l) = read(ctx, &argv[1])? else {
        match count {
            Some(_) => ctx.array(0),
            None => ctx.null(),
        }
        return Ok(());
    };
    // Upstream negates a negative rank to search from the tail; the
    // negation of LONG_MIN stays negative and then every match qualifies,
    // so LONG_MIN behaves like -1.
    let from_tail = rank < 0;
    let skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() - 1
    };
    let len = l.len();
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    let wanted = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => c,
    };
    let mut found = Vec::new();
    let mut matches: u64 = 0;
    let mut visit = |i: usize, v: &[u8]| -> bool {
        if v == elem.as_ref() {
            matches += 1;
            if matches > skip {
                found.push(i);
                return found.len() >= wanted;
            }
        }
        false
    };
    if from_tail {
        for (k, v) in l.iter().rev().take(limit).enumerate() {
            if visit(len - 1 - k, v) {
                break;
            }
        }
    } else {
        for (k, v) in l.iter().take(limit).enumerate() {
            if visit(k, v) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            ctx.array(found.len());
            for i in found {
                ctx.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.int(i as i64),
            None => ctx.null(),
        },
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-place edits

/// # Format
/// `LSET key index element`
pub fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(l) = write(ctx, key)? else {
        return Err(NO_SUCH_KEY);
    };
    let index = args::int(&argv[2])?;
    let pos = l.resolve_index(index).ok_or(INDEX_RANGE)?;
    if !l.set(pos, &argv[3]) {
        return Err(INDEX_RANGE);
    }
    ctx.ok();
    ctx.changed(1);
    let db = ctx.db();
    ctx.key_event(db, key, 'l', "lset");
    Ok(())
}

/// # Format
/// `LTRIM key start stop`
pub fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let end = args::int(&argv[3])?;
    let key = &argv[1];
    let Some(l) = write(ctx, key)? else {
        ctx.ok();
        return Ok(());
    };
    let len = l.len();
    let (left, right) = match normalize_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - 1 - e),
    };
    l.trim(left, right);
    ctx.changed((left + right) as u64);
    // Upstream notifies even when nothing was trimmed, and before replying.
    let db = ctx.db();
    ctx.key_event(db, key, 'l', "ltrim");
    delete_if_empty(ctx, key);
    ctx.ok();
    Ok(())
}

/// # Format
/// `LREM key count element`
pub fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = args::int(&argv[2])?;
    let key = &argv[1];
    let Some(l) = write(ctx, key)? else {
        ctx.int(0);
        return Ok(());
    };
    let max = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = l.remove_matching(&argv[3], max, count < 0);
    // Events go out before the reply, as upstream does.
    if removed > 0 {
        ctx.changed(removed as u64);
        let db = ctx.db();
        ctx.key_event(db, key, 'l', "lrem");
        delete_if_empty(ctx, key);
    }
    ctx.int(removed as i64);
    Ok(())
}

/// # Format
/// `LINSERT key <BEFORE | AFTER> pivot element`
pub fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let after = if is(&argv[2], "after") {
        true
    } else if is(&argv[2], "before") {
        false
    } else {
        return Err(SYNTAX);
    };
    let key = &argv[1];
    let Some(l) = write(ctx, key)? else {
        ctx.int(0);
        return Ok(());
    };
    let pivot = &argv[3];
    let Some(pos) = l.iter().position(|v| v == pivot.as_ref()) else {
        ctx.int(-1);
        return Ok(());
    };
    l.insert(if after { pos + 1 } else { pos }, &argv[4]);
    let len = l.len();
    // Event before the reply, as upstream does.
    ctx.changed(1);
    let db = ctx.db();
    ctx.key_event(db, key, 'l', "linsert");
    ctx.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Moves

/// Moves one element from `src` (at `from`) to `dst` (at `to`), replying
/// the element. `Ok(false)` (nothing written) when `src` is missing.
fn move_generic(
    ctx: &mut Ctx,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> Result<bool, CmdError> {
    if write(ctx, src)?.is_none() {
        return Ok(false);
    }
    let same = src == dst;
    if !same {
        // Checked before anything is popped.
        write(ctx, dst)?;
    }
    let Some(value) = write(ctx, src)?.and_then(|l| l.pop(from)) else {
        return Ok(false);
    };
    let (db, lru) = (ctx.db(), ctx.lru());
    match write(ctx, dst)? {
        Some(l) => l.push(to, &value),
        None => {
            let mut l = ListValue::new();
            l.push(to, &value);
            ctx.st.ks.dbs[db].set(dst, Value::List(l), false, lru);
        }
    }
    // Upstream's order: push event, reply, pop event, `del` of the source.
    ctx.changed(1);
    ctx.key_event(db, dst, 'l', push_event(to));
    ctx.bulk(&value);
    ctx.key_event(db, src, 'l', pop_event(from));
    delete_if_empty(ctx, src);
    Ok(true)
}

/// # Format
/// `LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>`
pub fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    if !move_generic(ctx, &argv[1], &argv[2], from, to)? {
        ctx.null();
    }
    Ok(())
}

/// # Format
/// `RPOPLPUSH source destination`
pub fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !move_generic(ctx, &argv[1], &argv[2], End::Right, End::Left)? {
        ctx.null();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Multi-key pop

/// Parses `numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` of LMPOP
/// and BLMPOP with upstream's errors.
pub fn parse_mpop(a: Args) -> Result<(Mpop, End), CmdError> {
    let m = Mpop::parse(a, ["left", "right"])?;
    let end = if m.side == 0 { End::Left } else { End::Right };
    Ok((m, end))
}

/// # Format
/// `LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]`
pub fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (m, end) = parse_mpop(Args::new(&argv[1..]))?;
    if !serve_blocked_mpop(ctx, m.keys, end, m.count)? {
        ctx.null_array();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Serving blocked clients

/// `BLPOP`/`BRPOP` service: pops one element at `end` from the first of
/// `keys` holding a non-empty list, replies `[key, value]`, sends the
/// events and propagates `LPOP key` / `RPOP key`. Returns `Ok(false)`
/// without writing anything when every key is missing (the caller blocks
/// or times out); `WRONGTYPE` if a key before the first list is of another
/// type (keys are scanned in order, like upstream).
pub fn serve_blocked_pop(ctx: &mut Ctx, keys: &[Bytes], end: End) -> Result<bool, CmdError> {
    for key in keys {
        if write(ctx, key)?.is_none() {
            continue;
        }
        let v = take_n(ctx, key, end, 1)?;
        let Some(value) = v.first() else {
            continue;
        };
        ctx.array(2);
        ctx.bulk(key);
        ctx.bulk(value);
        popped(ctx, key, end, 1);
        ctx.propagate_as(vec![pop_command(end), key.clone()]);
        return Ok(true);
    }
    Ok(false)
}

/// `BLMPOP` (and `LMPOP`) service: pops up to `count` elements at `end`
/// from the first of `keys` holding a list, replies `[key, [values]]` and
/// propagates `LPOP|RPOP key <number popped>`. `Ok(false)` without writing
/// when all keys are missing; `WRONGTYPE` as for [`serve_blocked_pop`].
pub fn serve_blocked_mpop(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Result<bool, CmdError> {
    for key in keys {
        if write(ctx, key)?.is_none() {
            continue;
        }
        let v = take_n(ctx, key, end, count)?;
        if v.is_empty() {
            continue;
        }
        ctx.array(2);
        ctx.bulk(key);
        ctx.bulk_array(v.iter());
        popped(ctx, key, end, v.len());
        let n = Bytes::copy_from_slice(itoa_buf(v.len() as i64).as_bytes());
        ctx.propagate_as(vec![pop_command(end), key.clone(), n]);
        return Ok(true);
    }
    Ok(false)
}

/// `BLMOVE` / `BRPOPLPUSH` service. `argv` is the blocking command as
/// received: `BLMOVE source destination <LEFT|RIGHT> <LEFT|RIGHT> timeout`
/// (6 arguments) or `BRPOPLPUSH source destination timeout` (4). Moves one
/// element, replies it as a bulk string and propagates `LMOVE source
/// destination <from> <to>` (directions as sent) or `RPOPLPUSH source
/// destination`. `Ok(false)` without writing when the source is missing;
/// `WRONGTYPE` when the source, or the destination of an available
/// element, holds another type; `ERR syntax error` for a bad direction.
pub fn serve_blocked_move(ctx: &mut Ctx, argv: &[Bytes]) -> Result<bool, CmdError> {
    let (src, dst) = match (argv.get(1), argv.get(2)) {
        (Some(s), Some(d)) => (s, d),
        _ => return Err(SYNTAX),
    };
    let (from, to, rewrite) = if argv.len() >= 6 {
        let from = parse_end(&argv[3])?;
        let to = parse_end(&argv[4])?;
        let rw = vec![
            Bytes::from_static(b"LMOVE"),
            src.clone(),
            dst.clone(),
            argv[3].clone(),
            argv[4].clone(),
        ];
        (from, to, rw)
    } else {
        let rw = vec![Bytes::from_static(b"RPOPLPUSH"), src.clone(), dst.clone()];
        (End::Right, End::Left, rw)
    };
    let served = move_generic(ctx, src, dst, from, to)?;
    if served {
        ctx.propagate_as(rewrite);
    }
    Ok(served)
}

fn bpop(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now)?;
    let keys = &argv[1..argv.len() - 1];
    if crate::list::serve_blocked_pop(ctx, keys, end)? {
        return Ok(());
    }
    ctx.block(keys, deadline, "list", TimeoutReply::NullArray, argv);
    Ok(())
}

/// # Format
/// `BLPOP key [key ...] timeout`
pub fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, End::Left)
}

/// # Format
/// `BRPOP key [key ...] timeout`
pub fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, End::Right)
}

fn bmove(ctx: &mut Ctx, argv: &[Bytes], timeout_idx: usize) -> CmdResult {
    let deadline = parse_timeout(&argv[timeout_idx], ctx.now)?;
    if argv.len() == 6 {
        crate::list::parse_end(&argv[3])?;
        crate::list::parse_end(&argv[4])?;
    }
    if crate::list::serve_blocked_move(ctx, argv)? {
        return Ok(());
    }
    // Upstream 7.0 answers a timed-out BLMOVE/BRPOPLPUSH with a null array.
    ctx.block(&argv[1..2], deadline, "list", TimeoutReply::NullArray, argv);
    Ok(())
}

/// # Format
/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
pub fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bmove(ctx, argv, 5)
}

/// # Format
/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bmove(ctx, argv, 3)
}

/// # Format
/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let deadline = parse_timeout(&argv[1], ctx.now)?;
    let (m, end) = crate::list::parse_mpop(Args::new(&argv[2..]))?;
    if crate::list::serve_blocked_mpop(ctx, m.keys, end, m.count)? {
        return Ok(());
    }
    ctx.block(m.keys, deadline, "list", TimeoutReply::NullArray, argv);
    Ok(())
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
