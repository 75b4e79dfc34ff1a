//! Stream commands (upstream `t_stream.c`, commands half; the type API is
//! `redis_storage::stream`).
//!
//! Replies are written straight into the output buffer while the stream is
//! borrowed from the keyspace (see [`W`]), so ranges are never copied.
//! Propagation follows upstream: `XADD` is propagated with the generated ID
//! and with approximate trimming made exact, `XREADGROUP`, `XCLAIM` and
//! `XAUTOCLAIM` are replaced by the `XCLAIM … FORCE JUSTID LASTID` /
//! `XGROUP SETID` / `XGROUP CREATECONSUMER` effects they had.

use bytes::{Bytes, BytesMut};
use redis_resp::write::{
    write_array_len, write_bulk, write_integer, write_map_len, write_null, write_null_array,
};
use redis_resp::Protocol;
use redis_storage::stream::{
    EntryRef, Group, Nack, NodeLimits, StreamId, StreamValue, TrimStrategy,
};
use redis_storage::{Entry, Value};

use crate::args::{self, is, Args};
use redis_engine::blocking::TimeoutReply;
use redis_engine::ctx::Ctx;
use redis_engine::dispatch::Caller;
use redis_engine::error::{self, CmdError, CmdResult, NO_SUCH_KEY, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The stream commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("xadd", xadd),
    ("xrange", xrange),
    ("xrevrange", xrevrange),
    ("xlen", xlen),
    ("xdel", xdel),
    ("xtrim", xtrim),
    ("xread", xread),
    ("xreadgroup", xreadgroup),
    ("xgroup|create", xgroup),
    ("xgroup|setid", xgroup),
    ("xgroup|destroy", xgroup),
    ("xgroup|createconsumer", xgroup),
    ("xgroup|delconsumer", xgroup),
    ("xgroup|help", xgroup_help),
    ("xack", xack),
    ("xpending", xpending),
    ("xclaim", xclaim),
    ("xautoclaim", xautoclaim),
    ("xinfo|stream", xinfo_stream),
    ("xinfo|groups", xinfo_groups),
    ("xinfo|consumers", xinfo_consumers),
    ("xinfo|help", xinfo_help),
    ("xsetid", xsetid),
];

const INVALID_ID: CmdError =
    CmdError::fixed("ERR Invalid stream ID specified as stream command argument");
const ID_TOO_SMALL: CmdError = CmdError::fixed(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item",
);
const ID_ZERO: CmdError = CmdError::fixed("ERR The ID specified in XADD must be greater than 0-0");
const ID_EXHAUSTED: CmdError =
    CmdError::fixed("ERR The stream has exhausted the last possible ID, unable to add more items");
const BAD_START: CmdError = CmdError::fixed("ERR invalid start ID for the interval");
const BAD_END: CmdError = CmdError::fixed("ERR invalid end ID for the interval");
const NO_KEY_XGROUP: CmdError = CmdError::fixed(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
);
const BAD_ENTRIES_READ: CmdError =
    CmdError::fixed("ERR value for ENTRIESREAD must be positive or -1");

/// Upstream's default COUNT of a blocked XREAD served later.
const BLOCKED_DEFAULT_COUNT: &[u8] = b"1000";

/// `XINFO HELP`.
const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

/// `XGROUP HELP`.
const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

// ---------------------------------------------------------------------------
// Helpers.

/// A reply writer over the output buffer alone, usable while the keyspace
/// is borrowed.
struct W<'a> {
    out: &'a mut BytesMut,
    proto: Protocol,
}

impl W<'_> {
    fn arr(&mut self, n: usize) {
        write_array_len(self.out, n);
    }
    fn map(&mut self, n: usize) {
        write_map_len(self.out, self.proto, n);
    }
    fn bulk(&mut self, b: &[u8]) {
        write_bulk(self.out, b);
    }
    fn int(&mut self, i: i64) {
        write_integer(self.out, i);
    }
    fn uint(&mut self, u: u64) {
        write_integer(self.out, i64::try_from(u).unwrap_or(i64::MAX));
    }
    fn null(&mut self) {
        write_null(self.out, self.proto);
    }
    fn null_array(&mut self) {
        write_null_array(self.out, self.proto);
    }
    fn id(&mut self, id: StreamId) {
        self.bulk(id.to_string().as_bytes());
    }
    /// `[id, [field, value, ...]]`.
    fn entry(&mut self, e: &EntryRef<'_>) {
        self.arr(2);
        self.id(e.id);
        self.arr(e.num_pairs() * 2);
        for (f, v) in e.pairs() {
            self.bulk(f);
            self.bulk(v);
        }
    }
}

fn id_arg(id: StreamId) -> Bytes {
    Bytes::from(id.to_string())
}

/// Parses an ID (`streamParseIDOrReply` / strict variant).
fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    StreamId::parse(arg, missing_seq, strict, false)
        .map(|(id, _)| id)
        .ok_or(INVALID_ID)
}

/// Parses a range bound, `(` making it exclusive (`streamParseIntervalIDOrReply`).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, true)?, true))
    } else {
        Ok((parse_id(arg, missing_seq, false)?, false))
    }
}

/// The inclusive start of a range given as `start` / `(start`.
fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id.incr().ok_or(BAD_START);
    }
    Ok(id)
}

/// The inclusive end of a range given as `end` / `(end`.
fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id.decr().ok_or(BAD_END);
    }
    Ok(id)
}

fn limits(ctx: &Ctx) -> NodeLimits {
    let get = |name: &str| usize::try_from(ctx.st.config.get_int(name)).unwrap_or(0);
    NodeLimits {
        max_bytes: get("stream-node-max-bytes"),
        max_entries: get("stream-node-max-entries"),
    }
}

/// Reads a stream key: `Ok(None)` if missing, `WRONGTYPE` for another type.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut StreamValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    if ctx.st.ks.lookup_read(db, key, now, lru).is_none() {
        return Ok(None);
    }
    stream_mut(ctx, key)
}

/// Looks a stream key up for writing: `Ok(None)` if missing.
fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut StreamValue>, CmdError> {
    let (db, now) = (ctx.db(), ctx.now);
    if ctx.st.ks.lookup_write(db, key, now).is_none() {
        return Ok(None);
    }
    stream_mut(ctx, key)
}

/// The stream under `key` (already expired lazily by the caller).
fn stream_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut StreamValue>, CmdError> {
    let db = ctx.db();
    match ctx.st.ks.dbs[db].get_mut(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Stream(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(WRONGTYPE),
    }
}

/// A consumer of `g`, created if missing (upstream `streamLookupConsumer`
/// with refresh, or `streamCreateConsumer`); returns whether it was created.
fn touch_consumer(g: &mut Group, name: &Bytes, now: i64) -> bool {
    match g.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.consumers.insert(
                name.clone(),
                redis_storage::stream::Consumer {
                    seen_time: now,
                    ..Default::default()
                },
            );
            true
        }
    }
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID l`,
/// the way upstream propagates a change of a PEL entry.
fn xclaim_argv(key: &Bytes, group: &Bytes, g: &Group, id: StreamId, nack: &Nack) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        key.clone(),
        group.clone(),
        nack.consumer.clone(),
        Bytes::from_static(b"0"),
        id_arg(id),
        Bytes::from_static(b"TIME"),
        Bytes::from(nack.delivery_time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(nack.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        id_arg(g.last_id),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`.
fn setid_argv(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        id_arg(g.last_id),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.map_or(-1, |n| n as i64).to_string()),
    ]
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        error::truncated(key, usize::MAX),
        error::truncated(group, usize::MAX)
    ))
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        error::truncated(group, usize::MAX),
        error::truncated(key, usize::MAX)
    ))
}

fn subcommand_syntax(argv: &[Bytes], cmd: &str) -> CmdError {
    error::subcommand_syntax(&argv[1], cmd)
}

// ---------------------------------------------------------------------------
// XADD / XTRIM.

/// The parsed trimming and XADD options (upstream `streamAddTrimArgs`).
#[derive(Default)]
struct AddTrimArgs {
    strategy: Option<TrimStrategy>,
    approx: bool,
    limit: u64,
    /// Index of the MAXLEN/MINID value (rewritten for propagation).
    strategy_idx: usize,
    no_mkstream: bool,
    /// The explicit ID and whether its sequence was given (`ms-*` not).
    id: Option<(StreamId, bool)>,
}

/// Parses the options of XADD/XTRIM; returns them and the index in `argv`
/// of the ID (XADD) or the end of the options.
fn parse_add_trim(ctx: &Ctx, argv: &[Bytes], xadd: bool) -> Result<(AddTrimArgs, usize), CmdError> {
    // The options start after the key.
    const FROM: usize = 2;
    let mut args = Args::new(&argv[FROM..]);
    let mut a = AddTrimArgs::default();
    let mut limit_given = false;
    let mut end = argv.len();
    while let Some(opt) = args.peek() {
        if xadd && opt.as_ref() == b"*" {
            end = FROM + args.taken();
            break;
        }
        args.next_opt();
        let more = args.len();
        if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if a.strategy.is_some() {
                return Err(CmdError::fixed(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            if more >= 2 {
                if args.eat("~") {
                    a.approx = true;
                } else {
                    args.eat("=");
                }
            }
            let val = args.bytes()?;
            if is(opt, "maxlen") {
                let n = args::int(val)?;
                if n < 0 {
                    return Err(CmdError::fixed("ERR The MAXLEN argument must be >= 0."));
                }
                a.strategy = Some(TrimStrategy::MaxLen(n.unsigned_abs()));
            } else {
                a.strategy = Some(TrimStrategy::MinId(parse_id(val, 0, true)?));
            }
            a.strategy_idx = FROM + args.taken() - 1;
        } else if is(opt, "limit") && more > 0 {
            let n = args.int()?;
            if n < 0 {
                return Err(CmdError::fixed("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = n.unsigned_abs();
            limit_given = true;
        } else if xadd && is(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let parsed = StreamId::parse(opt, 0, true, true).ok_or(INVALID_ID)?;
            a.id = Some(parsed);
            end = FROM + args.taken() - 1;
            break;
        } else {
            return Err(SYNTAX);
        }
    }
    if a.limit != 0 && a.strategy.is_none() {
        return Err(CmdError::fixed(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.strategy.is_none() {
        return Err(CmdError::fixed(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if ctx.client.is_master {
        // The primary already rewrote the trim exactly: no work limit.
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(CmdError::fixed(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.approx {
        let per_node = ctx.st.config.get_int("stream-node-max-entries");
        let l = per_node.saturating_mul(100);
        a.limit = if l <= 0 {
            10000
        } else {
            l.min(1_000_000) as u64
        };
    } else {
        a.limit = 0;
    }
    Ok((a, end))
}

/// The trim argument made exact for propagation (upstream
/// `streamRewriteTrimArgument`).
fn rewrite_trim(argv: &mut [Bytes], s: &StreamValue, a: &AddTrimArgs) {
    let idx = a.strategy_idx;
    if idx == 0 || idx >= argv.len() {
        return;
    }
    if argv[idx - 1].as_ref() == b"~" {
        argv[idx - 1] = Bytes::from_static(b"=");
    }
    argv[idx] = match a.strategy {
        Some(TrimStrategy::MaxLen(_)) => Bytes::from(s.len().to_string()),
        _ => id_arg(s.edge_id(true, false)),
    };
}

/// # Format
/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]`
pub fn xadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (a, idpos) = parse_add_trim(ctx, argv, true)?;
    let field_pos = idpos + 1;
    let nf = argv.len().saturating_sub(field_pos);
    if nf < 2 || nf % 2 == 1 {
        return Err(error::wrong_arity("xadd"));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(ID_ZERO);
        }
    }
    let lim = limits(ctx);
    let (db, lru, now) = (ctx.db(), ctx.lru(), ctx.now);
    let key = &argv[1];
    if write(ctx, key)?.is_none() {
        if a.no_mkstream {
            ctx.null();
            return Ok(());
        }
        ctx.st.ks.dbs[db].set(key, Value::Stream(Box::new(StreamValue::new())), false, lru);
    }
    let mut prop = argv.to_vec();
    let (id, trimmed) = {
        let Some(s) = stream_mut(ctx, key)? else {
            return Ok(());
        };
        let last = s.last_id();
        if last == StreamId::MAX {
            return Err(ID_EXHAUSTED);
        }
        let id = match a.id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if last.ms == id.ms {
                    last.incr().filter(|n| n.ms == id.ms).ok_or(ID_TOO_SMALL)?
                } else {
                    id
                }
            }
            None => {
                StreamId::next_after(last, u64::try_from(now).unwrap_or(0)).ok_or(ID_TOO_SMALL)?
            }
        };
        if id <= last {
            return Err(ID_TOO_SMALL);
        }
        s.append(id, &argv[field_pos..], lim);
        let mut trimmed = 0;
        if let Some(strategy) = a.strategy {
            trimmed = s.trim(strategy, a.approx, a.limit);
            if a.approx {
                rewrite_trim(&mut prop, s, &a);
            }
        }
        (id, trimmed)
    };
    ctx.bulk(id.to_string().as_bytes());
    ctx.key_event(db, key, 't', "xadd");
    ctx.changed(1);
    if trimmed > 0 {
        ctx.key_event(db, key, 't', "xtrim");
    }
    if !matches!(a.id, Some((_, true))) {
        prop[idpos] = id_arg(id);
    }
    ctx.propagate_as(prop);
    Ok(())
}

/// # Format
/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`
pub fn xtrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (a, _) = parse_add_trim(ctx, argv, false)?;
    let db = ctx.db();
    let key = &argv[1];
    let mut prop = argv.to_vec();
    let deleted = {
        let Some(s) = write(ctx, key)? else {
            ctx.int(0);
            return Ok(());
        };
        let Some(strategy) = a.strategy else {
            return Err(SYNTAX);
        };
        let n = s.trim(strategy, a.approx, a.limit);
        if n > 0 && a.approx {
            rewrite_trim(&mut prop, s, &a);
        }
        n
    };
    if deleted > 0 {
        ctx.key_event(db, key, 't', "xtrim");
        ctx.changed(deleted);
        ctx.propagate_as(prop);
    }
    ctx.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// XRANGE / XREVRANGE / XLEN / XDEL.

fn range_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(&argv[j], "count") && j + 1 < argv.len() {
            count = args::int(&argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let proto = ctx.proto();
    let mut body = BytesMut::new();
    let mut w = W {
        out: &mut body,
        proto,
    };
    match read(ctx, &argv[1])? {
        None => w.arr(0),
        Some(_) if count == 0 => w.null_array(),
        Some(s) => {
            let count = usize::try_from(count).unwrap_or(0);
            reply_range(&mut w, s, start, end, count, rev);
        }
    }
    ctx.out.extend_from_slice(&body);
    Ok(())
}

/// Replies an array of the entries in `[start, end]` (at most `count`, 0 =
/// all); returns how many.
fn reply_range(
    w: &mut W<'_>,
    s: &StreamValue,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let mut body = BytesMut::new();
    let mut n = 0;
    {
        let mut bw = W {
            out: &mut body,
            proto: w.proto,
        };
        s.for_each(start, end, rev, |e| {
            bw.entry(&e);
            n += 1;
            count == 0 || n < count
        });
    }
    w.arr(n);
    w.out.extend_from_slice(&body);
    n
}

/// # Format
/// `XRANGE key start end [COUNT count]`
pub fn xrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, false)
}

/// # Format
/// `XREVRANGE key end start [COUNT count]`
pub fn xrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, true)
}

/// # Format
/// `XLEN key`
pub fn xlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = read(ctx, &argv[1])?.map_or(0, |s| s.len());
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `XDEL key id [id ...]`
pub fn xdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    // Like upstream: a missing key answers 0 and a wrong type WRONGTYPE
    // before the IDs are parsed.
    if write(ctx, &argv[1])?.is_none() {
        ctx.int(0);
        return Ok(());
    }
    let ids = argv[2..]
        .iter()
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = match stream_mut(ctx, &argv[1])? {
        None => 0,
        Some(s) => s.delete_ids(&ids),
    };
    if deleted > 0 {
        ctx.key_event(db, &argv[1], 't', "xdel");
        ctx.changed(deleted);
    }
    ctx.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP.

/// Parses a BLOCK timeout in milliseconds into an absolute deadline.
fn parse_block(arg: &[u8], now: i64) -> Result<Option<i64>, CmdError> {
    let t = args::int_or(
        arg,
        CmdError::fixed("ERR timeout is not an integer or out of range"),
    )?;
    if t < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    if t == 0 {
        return Ok(None);
    }
    now.checked_add(t)
        .map(Some)
        .ok_or(CmdError::fixed("ERR timeout is out of range"))
}

/// What one key of XREAD/XREADGROUP asks for.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// Entries greater than this ID.
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
}

/// The parsed options of XREAD/XREADGROUP.
struct ReadOpts<'a> {
    /// `Some` with BLOCK: the deadline (`None` = forever).
    deadline: Option<Option<i64>>,
    /// Entries per stream at most (0 = all).
    count: usize,
    count_given: bool,
    /// XREADGROUP's group and consumer.
    group: Option<(&'a Bytes, &'a Bytes)>,
    noack: bool,
    /// The stream keys and their IDs (the two halves after STREAMS).
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

impl<'a> ReadOpts<'a> {
    /// Parses `[GROUP g c] [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...`
    /// with upstream's errors and their order.
    fn parse(mut a: Args<'a>, group_cmd: bool, now: i64) -> Result<ReadOpts<'a>, CmdError> {
        let mut o = ReadOpts {
            deadline: None,
            count: 0,
            count_given: false,
            group: None,
            noack: false,
            keys: &[],
            ids: &[],
        };
        let mut streams: Option<&[Bytes]> = None;
        while let Some(opt) = a.next_opt() {
            let more = a.len();
            if is(opt, "block") && more > 0 {
                o.deadline = Some(parse_block(a.bytes()?, now)?);
            } else if is(opt, "count") && more > 0 {
                o.count = usize::try_from(a.int()?.max(0)).unwrap_or(usize::MAX);
                o.count_given = true;
            } else if is(opt, "streams") && more > 0 {
                let rest = a.rest();
                if rest.len() % 2 != 0 {
                    // 7.0 prints the same text for XREADGROUP.
                    return Err(CmdError::fixed(
                        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                    ));
                }
                streams = Some(rest);
            } else if is(opt, "group") && more >= 2 {
                if !group_cmd {
                    return Err(CmdError::fixed(
                        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                    ));
                }
                o.group = Some((a.bytes()?, a.bytes()?));
            } else if is(opt, "noack") {
                if !group_cmd {
                    return Err(CmdError::fixed(
                        "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                    ));
                }
                o.noack = true;
            } else {
                return Err(SYNTAX);
            }
        }
        let streams = streams.ok_or(SYNTAX)?;
        if group_cmd && o.group.is_none() {
            return Err(CmdError::fixed("ERR Missing GROUP option for XREADGROUP"));
        }
        (o.keys, o.ids) = streams.split_at(streams.len() / 2);
        Ok(o)
    }
}

/// Checks every key and ID in key order, as upstream does before serving
/// any: the type, the group's existence, `$`/`>` where they are meaningful;
/// `$` resolves to the stream's last ID.
fn resolve_read_ids(ctx: &mut Ctx, o: &ReadOpts) -> Result<Vec<ReadFrom>, CmdError> {
    let group_cmd = o.group.is_some();
    let retry = ctx.st.blocking.waiters.contains_key(&ctx.client.id);
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let mut from = Vec::with_capacity(o.keys.len());
    for (key, id_arg) in o.keys.iter().zip(o.ids) {
        let s = match ctx.st.ks.lookup_read(db, key, now, lru) {
            None => None,
            Some(Entry {
                value: Value::Stream(s),
                ..
            }) => Some(&*s),
            Some(_) => return Err(WRONGTYPE),
        };
        if let Some((gname, _)) = o.group {
            if !s.is_some_and(|s| s.groups.contains_key(gname)) {
                if retry {
                    return Err(CmdError::fixed(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
                return Err(CmdError::msg(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    error::truncated(key, usize::MAX),
                    error::truncated(gname, usize::MAX)
                )));
            }
        }
        if id_arg.as_ref() == b"$" {
            if group_cmd {
                return Err(CmdError::fixed(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(ReadFrom::After(s.map_or(StreamId::MIN, |s| s.last_id())));
        } else if id_arg.as_ref() == b">" {
            if !group_cmd {
                return Err(CmdError::fixed(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(ReadFrom::New);
        } else {
            from.push(ReadFrom::After(parse_id(id_arg, 0, true)?));
        }
    }
    Ok(from)
}

/// What serving an XREADGROUP did besides the reply: commands to propagate,
/// changes, and keys whose consumer was created.
#[derive(Default)]
struct GroupEffects {
    prop: Vec<Vec<Bytes>>,
    dirty: u64,
    created: Vec<Bytes>,
}

/// Serves one key of XREADGROUP into `w`; false if it has nothing to serve.
fn serve_group_read(
    w: &mut W<'_>,
    s: &mut StreamValue,
    key: &Bytes,
    o: &ReadOpts,
    rf: ReadFrom,
    now: i64,
    fx: &mut GroupEffects,
) -> bool {
    let Some((gname, cname)) = o.group else {
        return false;
    };
    let Some(mut g) = s.groups.remove(gname) else {
        return false;
    };
    let history = match rf {
        ReadFrom::After(id) => Some(id),
        ReadFrom::New => None,
    };
    let serve = history.is_some() || (!s.is_empty() && s.last_valid_id() > g.last_id);
    if serve {
        if w.proto == Protocol::Resp2 {
            w.arr(2);
        }
        w.bulk(key);
        if touch_consumer(&mut g, cname, now) {
            // 7.0 propagates the consumer XREADGROUP creates only when no
            // XCLAIM will create it on replicas: new entries read with
            // NOACK (the reference sends XGROUP CREATECONSUMER then).
            if o.noack && history.is_none() {
                fx.prop.push(vec![
                    Bytes::from_static(b"XGROUP"),
                    Bytes::from_static(b"CREATECONSUMER"),
                    key.clone(),
                    gname.clone(),
                    cname.clone(),
                ]);
            }
            fx.created.push(key.clone());
            fx.dirty += 1;
        }
        match history {
            Some(after) => {
                reply_history(w, s, &mut g, cname, after, o.count, now);
            }
            None => {
                let (p, d) = deliver_new(w, s, &mut g, key, gname, cname, o.count, o.noack, now);
                fx.prop.extend(p);
                fx.dirty += d;
            }
        }
        fx.dirty += 1;
    }
    s.groups.insert(gname.clone(), g);
    serve
}

/// XREAD and XREADGROUP: parse, check every key and ID, serve what is
/// there, else block (with BLOCK) or answer a null array.
fn xread_generic(ctx: &mut Ctx, argv: &[Bytes], group_cmd: bool) -> CmdResult {
    if ctx.caller == Caller::Script {
        // Upstream refuses BLOCK from scripts outright (elsewhere where
        // nothing may block, it just does not wait).
        let mut i = 1;
        let mut block = false;
        while let Some(a) = argv.get(i) {
            if is(a, "block") {
                block = true;
                break;
            }
            i += match () {
                _ if is(a, "group") => 3,
                _ if is(a, "count") => 2,
                _ if is(a, "streams") => break,
                _ => 1,
            };
        }
        if block {
            return Err(CmdError::msg(format!(
                "ERR {} command is not allowed with BLOCK option from scripts",
                String::from_utf8_lossy(&argv[0])
            )));
        }
    }
    let o = ReadOpts::parse(Args::new(&argv[1..]), group_cmd, ctx.now)?;
    let from = resolve_read_ids(ctx, &o)?;
    let (db, now) = (ctx.db(), ctx.now);
    let proto = ctx.proto();
    let mut body = BytesMut::new();
    let mut served = 0;
    let mut fx = GroupEffects::default();
    for (key, &rf) in o.keys.iter().zip(&from) {
        // Upstream looks every key up a second time to serve it: the hit or
        // miss (and `keymiss` event) counts twice, as there.
        if ctx.st.ks.dbs[db].contains(key) {
            ctx.st.ks.hits += 1;
        } else {
            ctx.st.ks.note_miss(db, key);
        }
        let Some(Entry {
            value: Value::Stream(s),
            ..
        }) = ctx.st.ks.dbs[db].get_mut(key)
        else {
            continue;
        };
        let mut w = W {
            out: &mut body,
            proto,
        };
        if o.group.is_some() {
            if serve_group_read(&mut w, s, key, &o, rf, now, &mut fx) {
                served += 1;
            }
            continue;
        }
        let ReadFrom::After(gt) = rf else { continue };
        if s.is_empty() || s.last_valid_id() <= gt {
            continue;
        }
        let Some(start) = gt.incr() else { continue };
        served += 1;
        if proto == Protocol::Resp2 {
            w.arr(2);
        }
        w.bulk(key);
        reply_range(&mut w, s, start, StreamId::MAX, o.count, false);
    }
    if group_cmd {
        // XREADGROUP itself is never propagated, only its effects.
        ctx.rewrite = Some(fx.prop);
        ctx.changed(fx.dirty);
        for key in fx.created {
            ctx.key_event(db, &key, 't', "xgroup-createconsumer");
        }
    }
    if served > 0 {
        match proto {
            Protocol::Resp2 => ctx.array(served),
            Protocol::Resp3 => ctx.map(served),
        }
        ctx.out.extend_from_slice(&body);
        return Ok(());
    }
    match o.deadline {
        Some(deadline) => block_read(ctx, argv, &o, &from, deadline),
        None => ctx.null_array(),
    }
    Ok(())
}

/// Blocks an XREAD/XREADGROUP that found nothing, with `$` resolved and a
/// bounded COUNT, so a retry reads exactly what upstream's blocked client
/// would be served.
fn block_read(
    ctx: &mut Ctx,
    argv: &[Bytes],
    o: &ReadOpts,
    from: &[ReadFrom],
    deadline: Option<i64>,
) {
    let mut stored = argv.to_vec();
    // The IDs are the last arguments.
    let ids_at = argv.len() - o.ids.len();
    for (k, f) in from.iter().enumerate() {
        if let ReadFrom::After(id) = f {
            if stored[ids_at + k].as_ref() == b"$" {
                stored[ids_at + k] = id_arg(*id);
            }
        }
    }
    if !o.count_given {
        stored.insert(1, Bytes::from_static(BLOCKED_DEFAULT_COUNT));
        stored.insert(1, Bytes::from_static(b"COUNT"));
    }
    ctx.block(o.keys, deadline, "stream", TimeoutReply::NullArray, &stored);
    if o.group.is_some() {
        let id = ctx.client.id;
        ctx.st.mark_group_read(id);
    }
}

/// Serves a consumer's own pending entries after `after` (XREADGROUP with
/// an explicit ID); deleted entries show as `[id, nil]`.
fn reply_history(
    w: &mut W<'_>,
    s: &StreamValue,
    g: &mut Group,
    cname: &Bytes,
    after: StreamId,
    count: usize,
    now: i64,
) {
    let ids: Vec<StreamId> = match (g.consumers.get(cname), after.incr()) {
        (Some(c), Some(start)) => c
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect(),
        _ => Vec::new(),
    };
    w.arr(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                w.entry(&e);
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                w.arr(2);
                w.id(id);
                w.null_array();
            }
        }
    }
}

/// Delivers entries after the group's last ID to a consumer (`>`);
/// returns the commands to propagate and the changes made.
#[allow(clippy::too_many_arguments)]
fn deliver_new(
    w: &mut W<'_>,
    s: &StreamValue,
    g: &mut Group,
    key: &Bytes,
    gname: &Bytes,
    cname: &Bytes,
    count: usize,
    noack: bool,
    now: i64,
) -> (Vec<Vec<Bytes>>, u64) {
    let Some(start) = g.last_id.incr() else {
        w.arr(0);
        return (Vec::new(), 0);
    };
    let mut ids = Vec::new();
    let n = reply_range_collect(w, s, start, count, &mut ids);
    let _ = n;
    let mut prop = Vec::new();
    let mut dirty = 0;
    let mut propagate_last_id = false;
    for id in ids {
        if id > g.last_id {
            match g.entries_read {
                Some(r) if !s.range_has_tombstones(id, StreamId::MAX) => {
                    g.entries_read = Some(r + 1);
                }
                _ => {
                    if s.entries_added() > 0 {
                        g.entries_read = s.estimate_distance(id);
                    }
                }
            }
            g.last_id = id;
            if noack {
                propagate_last_id = true;
            }
        }
        if noack {
            continue;
        }
        let nack = Nack {
            consumer: cname.clone(),
            delivery_time: now,
            delivery_count: 1,
        };
        if let Some(old) = g.pel.insert(id, nack.clone()) {
            if let Some(c) = g.consumers.get_mut(&old.consumer) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = g.consumers.get_mut(cname) {
            c.pel.insert(id);
        }
        prop.push(xclaim_argv(key, gname, g, id, &nack));
        dirty += 1;
    }
    if propagate_last_id {
        prop.push(setid_argv(key, gname, g));
        dirty += 1;
    }
    (prop, dirty)
}

/// Like [`reply_range`] forward to the end, also collecting the IDs.
fn reply_range_collect(
    w: &mut W<'_>,
    s: &StreamValue,
    start: StreamId,
    count: usize,
    ids: &mut Vec<StreamId>,
) -> usize {
    let mut body = BytesMut::new();
    {
        let mut bw = W {
            out: &mut body,
            proto: w.proto,
        };
        s.for_each(start, StreamId::MAX, false, |e| {
            bw.entry(&e);
            ids.push(e.id);
            count == 0 || ids.len() < count
        });
    }
    w.arr(ids.len());
    w.out.extend_from_slice(&body);
    ids.len()
}

/// # Format
/// `XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]`
pub fn xread(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    xread_generic(ctx, argv, false)
}

/// # Format
/// `XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]`
pub fn xreadgroup(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    xread_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------
// XGROUP.

/// # Format
/// `XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]`,
/// `XGROUP SETID key group id|$ [ENTRIESREAD n]`, `XGROUP DESTROY key group`,
/// `XGROUP CREATECONSUMER key group consumer`, `XGROUP DELCONSUMER key group consumer`
pub fn xgroup(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = argv[1].to_ascii_lowercase();
    let sub = sub.as_slice();
    let key = &argv[2];
    let gname = &argv[3];
    let (db, lru, now) = (ctx.db(), ctx.lru(), ctx.now);
    let mut mkstream = false;
    let mut entries_read: Option<u64> = None;
    if sub == b"create" {
        let mut opts = Args::new(&argv[5..]);
        while !opts.is_empty() {
            if opts.eat("mkstream") {
                mkstream = true;
            } else if let Some(v) = opts.eat_with_value("entriesread") {
                let n = args::int(v)?;
                if n < -1 {
                    return Err(BAD_ENTRIES_READ);
                }
                entries_read = u64::try_from(n).ok();
            } else {
                return Err(subcommand_syntax(argv, "XGROUP"));
            }
        }
    }
    let exists = write(ctx, key)?.is_some();
    if !exists && (!mkstream || sub != b"create") {
        return Err(NO_KEY_XGROUP);
    }
    if matches!(sub, b"setid" | b"createconsumer" | b"delconsumer") {
        let has = write(ctx, key)?.is_some_and(|s| s.groups.contains_key(gname));
        if !has {
            return Err(nogroup_for_key(gname, key));
        }
    }
    match sub {
        b"create" if argv.len() <= 8 => {
            let id = if argv[4].as_ref() == b"$" {
                write(ctx, key)?.map_or(StreamId::MIN, |s| s.last_id())
            } else {
                parse_id(&argv[4], 0, true)?
            };
            if !exists {
                ctx.st.ks.dbs[db].set(key, Value::Stream(Box::new(StreamValue::new())), false, lru);
                ctx.st.touch_key(db, key);
            }
            let Some(s) = write(ctx, key)? else {
                return Ok(());
            };
            if s.groups.contains_key(gname) {
                return Err(CmdError::fixed(
                    "BUSYGROUP Consumer Group name already exists",
                ));
            }
            s.groups.insert(gname.clone(), Group::new(id, entries_read));
            ctx.ok();
            ctx.changed(1);
            ctx.key_event(db, key, 't', "xgroup-create");
        }
        b"setid" if argv.len() == 5 || argv.len() == 7 => {
            let id = if argv[4].as_ref() == b"$" {
                write(ctx, key)?.map_or(StreamId::MIN, |s| s.last_id())
            } else {
                parse_id(&argv[4], 0, false)?
            };
            let mut er = None;
            if argv.len() == 7 {
                if !is(&argv[5], "entriesread") {
                    return Err(subcommand_syntax(argv, "XGROUP"));
                }
                let n = args::int(&argv[6])?;
                if n < -1 {
                    return Err(BAD_ENTRIES_READ);
                }
                er = u64::try_from(n).ok();
            }
            if let Some(g) = write(ctx, key)?.and_then(|s| s.groups.get_mut(gname)) {
                g.last_id = id;
                g.entries_read = er;
            }
            ctx.ok();
            ctx.changed(1);
            ctx.key_event(db, key, 't', "xgroup-setid");
        }
        b"destroy" if argv.len() == 4 => {
            let removed = write(ctx, key)?.is_some_and(|s| s.groups.remove(gname).is_some());
            if removed {
                ctx.int(1);
                ctx.changed(1);
                // Class 't' also wakes XREADGROUP clients blocked on it.
                ctx.key_event(db, key, 't', "xgroup-destroy");
            } else {
                ctx.int(0);
            }
        }
        b"createconsumer" if argv.len() == 5 => {
            let created = write(ctx, key)?
                .and_then(|s| s.groups.get_mut(gname))
                .is_some_and(|g| {
                    if g.consumers.contains_key(&argv[4]) {
                        return false;
                    }
                    touch_consumer(g, &argv[4], now)
                });
            ctx.int(i64::from(created));
            if created {
                ctx.changed(1);
                ctx.key_event(db, key, 't', "xgroup-createconsumer");
            }
        }
        b"delconsumer" if argv.len() == 5 => {
            let pending = write(ctx, key)?
                .and_then(|s| s.groups.get_mut(gname))
                .and_then(|g| g.delete_consumer(&argv[4]));
            match pending {
                Some(n) => {
                    ctx.int(n as i64);
                    ctx.changed(1);
                    ctx.key_event(db, key, 't', "xgroup-delconsumer");
                }
                None => ctx.int(0),
            }
        }
        _ => return Err(subcommand_syntax(argv, "XGROUP")),
    }
    Ok(())
}

/// # Format
/// `XGROUP HELP`
pub fn xgroup_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::keys::reply_help(ctx, XGROUP_HELP);
    Ok(())
}

// ---------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM.

/// # Format
/// `XACK key group id [id ...]`
pub fn xack(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // No key or no group: nothing to acknowledge, and (as upstream) the IDs
    // are not even parsed.
    let has_group = read(ctx, &argv[1])?.is_some_and(|s| s.groups.contains_key(&argv[2]));
    if !has_group {
        ctx.int(0);
        return Ok(());
    }
    let ids = argv[3..]
        .iter()
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0;
    {
        if let Some(g) = stream_mut(ctx, &argv[1])?.and_then(|s| s.groups.get_mut(&argv[2])) {
            for id in ids {
                if g.ack(id) {
                    acked += 1;
                }
            }
        }
    }
    ctx.changed(acked);
    ctx.int(acked as i64);
    Ok(())
}

/// # Format
/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`
pub fn xpending(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let argc = argv.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(SYNTAX);
    }
    let mut minidle = 0i64;
    let mut range = None;
    let mut consumer: Option<Bytes> = None;
    if argc >= 6 {
        let mut a = Args::new(&argv[3..]);
        if a.eat("idle") {
            minidle = a.int()?;
            if argc < 8 {
                return Err(SYNTAX);
            }
        }
        let (start, end) = (a.bytes()?, a.bytes()?);
        // Upstream checks the count before the IDs.
        let count = a.int()?.max(0);
        range = Some((range_start(start)?, range_end(end)?, count));
        // Like upstream, an argument after the consumer (within the
        // arity checked above) is ignored.
        consumer = a.next_opt().cloned();
    }
    let now = ctx.now;
    let proto = ctx.proto();
    let key = argv[1].clone();
    let s = read(ctx, &key)?;
    let Some(g) = s.and_then(|s| s.groups.get(&argv[2])) else {
        return Err(nogroup(&key, &argv[2]));
    };
    let mut body = BytesMut::new();
    let mut w = W {
        out: &mut body,
        proto,
    };
    match range {
        None if justinfo => {
            w.arr(4);
            w.uint(g.pel.len() as u64);
            match (g.pel.keys().next(), g.pel.keys().next_back()) {
                (Some(first), Some(last)) => {
                    w.id(*first);
                    w.id(*last);
                    let with: Vec<_> = g
                        .consumers
                        .iter()
                        .filter(|(_, c)| !c.pel.is_empty())
                        .collect();
                    w.arr(with.len());
                    for (name, c) in with {
                        w.arr(2);
                        w.bulk(name);
                        w.bulk(c.pel.len().to_string().as_bytes());
                    }
                }
                _ => {
                    w.null();
                    w.null();
                    w.null_array();
                }
            }
        }
        None => {}
        Some((start, end, count)) => {
            let ids: Vec<StreamId> = match &consumer {
                Some(cn) => match g.consumers.get(cn) {
                    Some(c) => c.pel.range(start..).copied().collect(),
                    None => Vec::new(),
                },
                None => g.pel.range(start..).map(|(id, _)| *id).collect(),
            };
            let mut left = count;
            let mut n = 0;
            let mut items = BytesMut::new();
            let mut iw = W {
                out: &mut items,
                proto,
            };
            for id in ids {
                if left == 0 || id > end || start > end {
                    break;
                }
                let Some(nack) = g.pel.get(&id) else { continue };
                if minidle != 0 && now - nack.delivery_time < minidle {
                    continue;
                }
                n += 1;
                left -= 1;
                iw.arr(4);
                iw.id(id);
                iw.bulk(&nack.consumer);
                iw.int((now - nack.delivery_time).max(0));
                iw.uint(nack.delivery_count);
            }
            w.arr(n);
            w.out.extend_from_slice(&items);
        }
    }
    ctx.out.extend_from_slice(&body);
    Ok(())
}

/// The IDs and options of XCLAIM after min-idle-time.
struct ClaimOpts<'a> {
    /// The leading arguments that parse as IDs.
    ids: &'a [Bytes],
    retrycount: i64,
    /// From IDLE or TIME, -1 when neither.
    deliverytime: i64,
    force: bool,
    justid: bool,
    last_id: StreamId,
}

impl<'a> ClaimOpts<'a> {
    /// Takes the IDs (up to the first argument that is not one), then the
    /// options, each value checked where it appears like upstream.
    fn parse(mut a: Args<'a>, now: i64) -> Result<ClaimOpts<'a>, CmdError> {
        let n = a
            .remaining()
            .iter()
            .take_while(|id| StreamId::parse(id, 0, true, false).is_some())
            .count();
        let mut o = ClaimOpts {
            ids: a.take(n)?,
            retrycount: -1,
            deliverytime: -1,
            force: false,
            justid: false,
            last_id: StreamId::MIN,
        };
        while let Some(opt) = a.next_opt() {
            let more = !a.is_empty();
            if is(opt, "force") {
                o.force = true;
            } else if is(opt, "justid") {
                o.justid = true;
            } else if is(opt, "idle") && more {
                let v = a.int_or(CmdError::fixed(
                    "ERR Invalid IDLE option argument for XCLAIM",
                ))?;
                o.deliverytime = now.wrapping_sub(v);
            } else if is(opt, "time") && more {
                o.deliverytime = a.int_or(CmdError::fixed(
                    "ERR Invalid TIME option argument for XCLAIM",
                ))?;
            } else if is(opt, "retrycount") && more {
                o.retrycount = a.int_or(CmdError::fixed(
                    "ERR Invalid RETRYCOUNT option argument for XCLAIM",
                ))?;
            } else if is(opt, "lastid") && more {
                o.last_id = parse_id(a.bytes()?, 0, true)?;
            } else {
                return Err(CmdError::msg(format!(
                    "ERR Unrecognized XCLAIM option '{}'",
                    error::truncated(opt, usize::MAX)
                )));
            }
        }
        Ok(o)
    }
}

/// # Format
/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]`
pub fn xclaim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = argv[1].clone();
    let gname = argv[2].clone();
    let cname = argv[3].clone();
    let has_group = read(ctx, &key)?.is_some_and(|s| s.groups.contains_key(&gname));
    if !has_group {
        return Err(nogroup(&key, &gname));
    }
    let minidle = args::int_or(
        &argv[4],
        CmdError::fixed("ERR Invalid min-idle-time argument for XCLAIM"),
    )?
    .max(0);
    let now = ctx.now;
    let ClaimOpts {
        ids,
        retrycount,
        mut deliverytime,
        force,
        justid,
        last_id,
    } = ClaimOpts::parse(Args::new(&argv[5..]), now)?;
    if deliverytime == -1 || deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let db = ctx.db();
    let proto = ctx.proto();
    let mut prop: Vec<Vec<Bytes>> = Vec::new();
    let mut dirty = 0;
    let mut created = false;
    let mut body = BytesMut::new();
    let mut n = 0;
    {
        let Some(s) = stream_mut(ctx, &key)? else {
            return Ok(());
        };
        let Some(mut g) = s.groups.remove(&gname) else {
            return Ok(());
        };
        let mut propagate_last_id = false;
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
        let mut w = W {
            out: &mut body,
            proto,
        };
        let mut have_consumer = false;
        for a in ids {
            let Some((id, _)) = StreamId::parse(a, 0, true, false) else {
                continue;
            };
            let exists = s.get(id).is_some();
            if !exists {
                if let Some(old) = g.pel.get(&id).cloned() {
                    prop.push(xclaim_argv(&key, &gname, &g, id, &old));
                    propagate_last_id = false;
                    dirty += 1;
                    g.ack(id);
                }
                continue;
            }
            let mut fresh = false;
            if force && !g.pel.contains_key(&id) {
                fresh = true;
                g.pel.insert(
                    id,
                    Nack {
                        consumer: Bytes::new(),
                        delivery_time: now,
                        delivery_count: 0,
                    },
                );
            }
            let Some(nack) = g.pel.get(&id).cloned() else {
                continue;
            };
            if !fresh && minidle != 0 && now - nack.delivery_time < minidle {
                continue;
            }
            if !have_consumer {
                have_consumer = true;
                if touch_consumer(&mut g, &cname, now) {
                    created = true;
                    dirty += 1;
                }
            }
            if !fresh && nack.consumer != cname {
                if let Some(c) = g.consumers.get_mut(&nack.consumer) {
                    c.pel.remove(&id);
                }
            }
            let mut new = nack;
            new.delivery_time = deliverytime;
            if retrycount >= 0 {
                new.delivery_count = retrycount as u64;
            } else if !justid {
                new.delivery_count += 1;
            }
            new.consumer = cname.clone();
            if let Some(c) = g.consumers.get_mut(&cname) {
                c.pel.insert(id);
            }
            g.pel.insert(id, new.clone());
            if justid {
                w.id(id);
            } else if let Some(e) = s.get(id) {
                w.entry(&e);
            } else {
                w.null();
            }
            n += 1;
            prop.push(xclaim_argv(&key, &gname, &g, id, &new));
            propagate_last_id = false;
            dirty += 1;
        }
        if propagate_last_id {
            prop.push(setid_argv(&key, &gname, &g));
            dirty += 1;
        }
        s.groups.insert(gname.clone(), g);
    }
    ctx.array(n);
    ctx.out.extend_from_slice(&body);
    ctx.rewrite = Some(prop);
    ctx.changed(dirty);
    if created {
        ctx.key_event(db, &key, 't', "xgroup-createconsumer");
    }
    Ok(())
}

/// # Format
/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`
pub fn xautoclaim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let minidle = args::int_or(
        &argv[4],
        CmdError::fixed("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    )?
    .max(0);
    let start = range_start(&argv[5])?;
    let (mut count, mut justid) = (100i64, false);
    let mut opts = Args::new(&argv[6..]);
    while let Some(opt) = opts.next_opt() {
        if is(opt, "count") && !opts.is_empty() {
            let max = i64::MAX / 16;
            count = opts
                .int()
                .ok()
                .filter(|c| (1..=max).contains(c))
                .ok_or(CmdError::fixed("ERR COUNT must be > 0"))?;
        } else if is(opt, "justid") {
            justid = true;
        } else {
            return Err(SYNTAX);
        }
    }
    let key = argv[1].clone();
    let gname = argv[2].clone();
    let cname = argv[3].clone();
    let has_group = read(ctx, &key)?.is_some_and(|s| s.groups.contains_key(&gname));
    if !has_group {
        return Err(nogroup(&key, &gname));
    }
    let (db, now, proto) = (ctx.db(), ctx.now, ctx.proto());
    let mut attempts = count.saturating_mul(10);
    let mut prop = Vec::new();
    let mut dirty = 0;
    let mut created = false;
    let mut deleted = Vec::new();
    let mut body = BytesMut::new();
    let mut n = 0;
    let cursor;
    {
        let Some(s) = stream_mut(ctx, &key)? else {
            return Ok(());
        };
        let Some(mut g) = s.groups.remove(&gname) else {
            return Ok(());
        };
        let mut w = W {
            out: &mut body,
            proto,
        };
        let mut next = g.pel.range(start..).next().map(|(id, _)| *id);
        let mut have_consumer = false;
        while attempts > 0 && count > 0 {
            attempts -= 1;
            let Some(id) = next else { break };
            next = id
                .incr()
                .and_then(|after| g.pel.range(after..).next().map(|(i, _)| *i));
            let Some(nack) = g.pel.get(&id).cloned() else {
                continue;
            };
            if s.get(id).is_none() {
                prop.push(xclaim_argv(&key, &gname, &g, id, &nack));
                dirty += 1;
                g.ack(id);
                deleted.push(id);
                count -= 1;
                continue;
            }
            if minidle != 0 && now - nack.delivery_time < minidle {
                continue;
            }
            if !have_consumer {
                have_consumer = true;
                if touch_consumer(&mut g, &cname, now) {
                    created = true;
                    dirty += 1;
                }
            }
            if nack.consumer != cname {
                if let Some(c) = g.consumers.get_mut(&nack.consumer) {
                    c.pel.remove(&id);
                }
            }
            let mut new = nack;
            new.delivery_time = now;
            if !justid {
                new.delivery_count += 1;
            }
            new.consumer = cname.clone();
            if let Some(c) = g.consumers.get_mut(&cname) {
                c.pel.insert(id);
            }
            g.pel.insert(id, new.clone());
            if justid {
                w.id(id);
            } else if let Some(e) = s.get(id) {
                w.entry(&e);
            }
            n += 1;
            count -= 1;
            prop.push(xclaim_argv(&key, &gname, &g, id, &new));
            dirty += 1;
        }
        cursor = next.unwrap_or(StreamId::MIN);
        s.groups.insert(gname.clone(), g);
    }
    ctx.array(3);
    ctx.bulk(cursor.to_string().as_bytes());
    ctx.array(n);
    ctx.out.extend_from_slice(&body);
    ctx.array(deleted.len());
    for id in deleted {
        ctx.bulk(id.to_string().as_bytes());
    }
    ctx.rewrite = Some(prop);
    ctx.changed(dirty);
    if created {
        ctx.key_event(db, &key, 't', "xgroup-createconsumer");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XINFO / XSETID.

fn info_lookup<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut StreamValue, CmdError> {
    read(ctx, key)?.ok_or(NO_SUCH_KEY)
}

fn reply_lag(w: &mut W<'_>, s: &StreamValue, g: &Group) {
    match s.group_lag(g) {
        Some(l) => w.uint(l),
        None => w.null(),
    }
}

fn reply_entries_read(w: &mut W<'_>, g: &Group) {
    match g.entries_read {
        Some(n) => w.uint(n),
        None => w.null(),
    }
}

/// # Format
/// `XINFO STREAM key [FULL [COUNT count]]`
pub fn xinfo_stream(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let extra = &argv[3..];
    let options = || -> Result<(bool, usize), CmdError> {
        if extra.is_empty() {
            return Ok((false, 10));
        }
        if !is(&extra[0], "full") {
            return Err(subcommand_syntax(argv, "XINFO"));
        }
        match extra.len() {
            1 => Ok((true, 10)),
            3 if is(&extra[1], "count") => {
                let c = args::int(&extra[2])?;
                Ok((true, usize::try_from(c).unwrap_or(0)))
            }
            _ => Err(subcommand_syntax(argv, "XINFO")),
        }
    };
    let proto = ctx.proto();
    let mut body = BytesMut::new();
    let mut w = W {
        out: &mut body,
        proto,
    };
    // The key is looked up (no such key, WRONGTYPE) before the options are
    // parsed, as upstream does.
    let s = info_lookup(ctx, &argv[2])?;
    let (full, count) = options()?;
    w.map(if full { 9 } else { 10 });
    w.bulk(b"length");
    w.uint(s.len() as u64);
    w.bulk(b"radix-tree-keys");
    w.uint(s.node_count() as u64);
    w.bulk(b"radix-tree-nodes");
    w.uint(s.radix_node_count() as u64);
    w.bulk(b"last-generated-id");
    w.id(s.last_id());
    w.bulk(b"max-deleted-entry-id");
    w.id(s.max_deleted_id());
    w.bulk(b"entries-added");
    w.uint(s.entries_added());
    w.bulk(b"recorded-first-entry-id");
    w.id(s.first_id());
    if !full {
        w.bulk(b"groups");
        w.uint(s.groups.len() as u64);
        for (label, rev) in [(&b"first-entry"[..], false), (&b"last-entry"[..], true)] {
            w.bulk(label);
            let mut found = false;
            s.for_each(StreamId::MIN, StreamId::MAX, rev, |e| {
                w.entry(&e);
                found = true;
                false
            });
            if !found {
                w.null();
            }
        }
    } else {
        w.bulk(b"entries");
        reply_range(&mut w, s, StreamId::MIN, StreamId::MAX, count, false);
        w.bulk(b"groups");
        w.arr(s.groups.len());
        let limit = if count == 0 { usize::MAX } else { count };
        for (name, g) in &s.groups {
            w.map(7);
            w.bulk(b"name");
            w.bulk(name);
            w.bulk(b"last-delivered-id");
            w.id(g.last_id);
            w.bulk(b"entries-read");
            reply_entries_read(&mut w, g);
            w.bulk(b"lag");
            reply_lag(&mut w, s, g);
            w.bulk(b"pel-count");
            w.uint(g.pel.len() as u64);
            w.bulk(b"pending");
            w.arr(g.pel.len().min(limit));
            for (id, nack) in g.pel.iter().take(limit) {
                w.arr(4);
                w.id(*id);
                w.bulk(&nack.consumer);
                w.int(nack.delivery_time);
                w.uint(nack.delivery_count);
            }
            w.bulk(b"consumers");
            w.arr(g.consumers.len());
            for (cname, c) in &g.consumers {
                w.map(4);
                w.bulk(b"name");
                w.bulk(cname);
                w.bulk(b"seen-time");
                w.int(c.seen_time);
                w.bulk(b"pel-count");
                w.uint(c.pel.len() as u64);
                w.bulk(b"pending");
                w.arr(c.pel.len().min(limit));
                for id in c.pel.iter().take(limit) {
                    w.arr(3);
                    w.id(*id);
                    match g.pel.get(id) {
                        Some(n) => {
                            w.int(n.delivery_time);
                            w.uint(n.delivery_count);
                        }
                        None => {
                            w.int(0);
                            w.int(0);
                        }
                    }
                }
            }
        }
    }
    ctx.out.extend_from_slice(&body);
    Ok(())
}

/// # Format
/// `XINFO GROUPS key`
pub fn xinfo_groups(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let proto = ctx.proto();
    let mut body = BytesMut::new();
    let mut w = W {
        out: &mut body,
        proto,
    };
    let s = info_lookup(ctx, &argv[2])?;
    w.arr(s.groups.len());
    for (name, g) in &s.groups {
        w.map(6);
        w.bulk(b"name");
        w.bulk(name);
        w.bulk(b"consumers");
        w.uint(g.consumers.len() as u64);
        w.bulk(b"pending");
        w.uint(g.pel.len() as u64);
        w.bulk(b"last-delivered-id");
        w.id(g.last_id);
        w.bulk(b"entries-read");
        reply_entries_read(&mut w, g);
        w.bulk(b"lag");
        reply_lag(&mut w, s, g);
    }
    ctx.out.extend_from_slice(&body);
    Ok(())
}

/// # Format
/// `XINFO CONSUMERS key group`
pub fn xinfo_consumers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (proto, now) = (ctx.proto(), ctx.now);
    let mut body = BytesMut::new();
    let mut w = W {
        out: &mut body,
        proto,
    };
    let s = info_lookup(ctx, &argv[2])?;
    let Some(g) = s.groups.get(&argv[3]) else {
        return Err(nogroup_for_key(&argv[3], &argv[2]));
    };
    w.arr(g.consumers.len());
    for (name, c) in &g.consumers {
        w.map(3);
        w.bulk(b"name");
        w.bulk(name);
        w.bulk(b"pending");
        w.uint(c.pel.len() as u64);
        w.bulk(b"idle");
        w.int((now - c.seen_time).max(0));
    }
    ctx.out.extend_from_slice(&body);
    Ok(())
}

/// # Format
/// `XINFO HELP`
pub fn xinfo_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::keys::reply_help(ctx, XINFO_HELP);
    Ok(())
}

/// # Format
/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`
pub fn xsetid(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_id(&argv[2], 0, true)?;
    let mut entries_added: Option<u64> = None;
    let mut max_xdel = StreamId::MIN;
    let mut opts = Args::new(&argv[3..]);
    while !opts.is_empty() {
        if let Some(v) = opts.eat_with_value("entriesadded") {
            let n = args::int(v)?;
            if n < 0 {
                return Err(CmdError::fixed("ERR entries_added must be positive"));
            }
            entries_added = Some(n.unsigned_abs());
        } else if let Some(v) = opts.eat_with_value("maxdeletedid") {
            max_xdel = parse_id(v, 0, true)?;
            if id < max_xdel {
                return Err(CmdError::fixed(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(SYNTAX);
        }
    }
    let db = ctx.db();
    let s = write(ctx, &argv[1])?.ok_or(NO_SUCH_KEY)?;
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(CmdError::fixed(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| (s.len() as u64) > n) {
            return Err(CmdError::fixed(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.set_meta(id, entries_added, (!max_xdel.is_zero()).then_some(max_xdel));
    ctx.ok();
    ctx.key_event(db, &argv[1], 't', "xsetid");
    ctx.changed(1);
    Ok(())
}
