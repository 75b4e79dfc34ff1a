//! `DEBUG`: the introspection and fault-injection subcommands operators and
//! test harnesses rely on. Access is gated by `enable-debug-command` in the
//! dispatcher.

use bytes::Bytes;
use redis_engine::table::Handler;
use redis_resp::{Frame, Protocol};
use redis_storage::string::StrValue;
use redis_storage::Value;

use crate::args::{self, is};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, NO_SUCH_KEY};

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-LEN <pattern> <string>",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "HELP",
    "    Print this help.",
];

fn unknown(sub: &[u8]) -> CmdError {
    redis_engine::error::subcommand_syntax(sub, "DEBUG")
}

/// # Format
/// `DEBUG subcommand [arg ...]`
pub fn debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("help", 2) => crate::keys::reply_help(ctx, DEBUG_HELP),
        ("sleep", 3) => sleep(ctx, &argv[2]),
        ("set-active-expire", 3) => {
            ctx.st.active_expire = args::int(&argv[2]).unwrap_or(1) != 0;
            ctx.ok();
        }
        ("set-disable-deny-scripts", 3) => {
            ctx.st.scripting.disable_deny = args::int(&argv[2]).unwrap_or(0) != 0;
            ctx.ok();
        }
        ("log", 3) => {
            let msg = String::from_utf8_lossy(&argv[2]).into_owned();
            ctx.st.log_warning(&format!("DEBUG LOG: {msg}"));
            ctx.ok();
        }
        ("change-repl-id", 2) => {
            let id = redis_engine::state::random_hex(&mut ctx.st.rng);
            let id2 = redis_engine::state::random_hex(&mut ctx.st.rng);
            ctx.st.repl.ids.replid = id;
            ctx.st.repl.ids.replid2 = id2;
            ctx.ok();
        }
        ("object", 3) => object(ctx, &argv[2])?,
        ("digest", 2) => {
            let d = crate::digest::dataset_digest(&ctx.st.ks);
            ctx.simple(&d);
        }
        ("digest-value", n) => {
            let db = ctx.db();
            ctx.array(n - 2);
            for k in &argv[2..] {
                let d = crate::digest::value_digest(&ctx.st.ks.dbs[db], k);
                ctx.simple(&d);
            }
        }
        ("populate", 3..=5) => populate(ctx, &argv[2..])?,
        ("protocol", 3) => protocol(ctx, &argv[2])?,
        ("reload", _) => reload(ctx, &argv[2..])?,
        ("loadaof", _) => loadaof(ctx),
        ("config-rewrite-force-all", 2) => {
            let users = ctx.st.acl_config_lines();
            ctx.st
                .config
                .rewrite_config_file_force_all(users.as_deref().map_or(
                    redis_config::UserLines::Drop,
                    redis_config::UserLines::Replace,
                ))
                .map_err(CmdError::msg)?;
            ctx.ok();
        }
        ("set-skip-checksum-validation", 3) => {
            ctx.st.skip_checksum_validation = args::int(&argv[2]).unwrap_or(0) != 0;
            ctx.ok();
        }
        ("aof-flush-sleep", 3) => {
            // Upstream reads it with atoi: anything else counts as 0.
            let us = args::int(&argv[2]).unwrap_or(0).max(0) as u64;
            ctx.st.aof_flush_sleep_us = us;
            if let Some(aof) = &ctx.st.aof {
                aof.writer.set_flush_sleep(us);
            }
            ctx.ok();
        }
        ("quicklist-packed-threshold", 3) => {
            // Upstream's bounds: below 4 GB less 1 MB; 0 restores 1 GB.
            let size = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(redis_common::units::parse_memory_u64)
                .filter(|&n| n <= (1u64 << 32) - (1 << 20));
            let Some(size) = size else {
                return Err(CmdError::fixed(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            };
            ctx.st.list_packed_threshold = match size {
                0 => redis_rdb::DEFAULT_PACKED_THRESHOLD,
                n => n as usize,
            };
            ctx.ok();
        }
        ("error", 3) => {
            // The argument as the error reply, verbatim (clients' tests).
            return Err(CmdError(argv[2].clone()));
        }
        ("htstats", 3) => {
            let db = args::int(&argv[2])?;
            let Some(d) = usize::try_from(db).ok().and_then(|i| ctx.st.ks.dbs.get(i)) else {
                return Err(CmdError::fixed("ERR Out of range database"));
            };
            let text = d.htstats();
            ctx.verbatim(text.as_bytes());
        }
        ("htstats-key", 3) => {
            let (db, now) = (ctx.db(), ctx.now);
            if !ctx.st.ks.exists(db, &argv[2], now) {
                return Err(NO_SUCH_KEY);
            }
            let stats = ctx.st.ks.dbs[db]
                .get(&argv[2])
                .and_then(|e| e.value.table_stats());
            let Some(text) = stats else {
                return Err(CmdError::fixed(
                    "ERR The value stored at the specified key is not represented using an hash table",
                ));
            };
            ctx.verbatim(text.as_bytes());
        }
        ("pause-cron", 3) => {
            ctx.st.cron_paused = args::int(&argv[2]).unwrap_or(0) != 0;
            ctx.ok();
        }
        ("replicate", n) if n >= 3 => {
            // Straight to the replicas, bypassing every check: a tool to
            // make a replica diverge on purpose.
            let db = ctx.db();
            ctx.st.feed_replicas_only(db, &argv[2..]);
            ctx.ok();
        }
        // Cluster bus packet filter (tests of the cluster bus): no bus here.
        ("drop-cluster-packet-filter", 3) => ctx.ok(),
        ("stringmatch-len", 4) => {
            let m = redis_common::glob::string_match(&argv[2], &argv[3], false);
            ctx.int(i64::from(m));
        }
        _ => return Err(unknown(&argv[1])),
    }
    Ok(())
}

/// `DEBUG SLEEP seconds`: holding the server lock while sleeping is the
/// point: the whole server stops, exactly as upstream's.
fn sleep(ctx: &mut Ctx, secs: &[u8]) {
    // Upstream uses strtod and ignores garbage (atof semantics).
    let secs = args::parse_f64(secs).unwrap_or(0.0).max(0.0);
    std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
    ctx.ok();
}

/// `DEBUG OBJECT key`: upstream's one-line description of a value.
fn object(ctx: &mut Ctx, key: &Bytes) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    // Looked up in the table, as upstream's `dictFind`: a key logically
    // expired but not deleted yet (on a replica) is still shown.
    if ctx.st.ks.dbs[db].get(key).is_none() {
        return Err(NO_SUCH_KEY);
    }
    let line = ctx.st.ks.dbs[db].get(key).map(|e| {
        let ser = match &e.value {
            Value::Str(s) => serialized_len(s),
            other => other.mem_usage(),
        };
        let idle = redis_storage::access::idle_seconds(e.lru, now);
        format!(
            "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
            e as *const _ as usize,
            e.value.encoding(),
            ser,
            e.lru,
            idle
        )
    });
    ctx.simple(&line.unwrap_or_default());
    Ok(())
}

/// `DEBUG POPULATE count [prefix [size]]`: keys `prefix:N` holding
/// `value:N` (padded to `size`), existing keys left alone; not propagated.
fn populate(ctx: &mut Ctx, args_: &[Bytes]) -> CmdResult {
    let range = || CmdError::fixed("ERR value is out of range");
    let count = args::int_or(&args_[0], range())?;
    if count < 0 {
        return Err(range());
    }
    let prefix = args_.get(1).cloned().unwrap_or(Bytes::from_static(b"key"));
    let size = match args_.get(2) {
        Some(a) => Some(args::int_or(a, range())?.max(0) as usize),
        None => None,
    };
    let (db, lru) = (ctx.db(), ctx.lru());
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        if ctx.st.ks.dbs[db].contains(&key) {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if let Some(sz) = size {
            val.resize(sz, 0);
        }
        // Short values inline like SET stores them (embstr either way).
        let v = match redis_storage::string::InlineStr::new(&val) {
            Some(i) => StrValue::Inline(i),
            None => StrValue::Shared(Bytes::from(val)),
        };
        ctx.st.ks.dbs[db].set(&key, Value::Str(v), false, lru);
    }
    ctx.ok();
    Ok(())
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: save (unless NOSAVE), empty
/// the dataset, load the file back — a round trip through the RDB code,
/// as upstream.
fn reload(ctx: &mut Ctx, opts: &[Bytes]) -> CmdResult {
    let mut save = true;
    let mut flush = true;
    let mut merge = false;
    for a in opts {
        if is(a, "nosave") {
            save = false;
        } else if is(a, "noflush") {
            flush = false;
        } else if is(a, "merge") {
            merge = true;
        } else {
            return Err(CmdError::fixed(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if save {
        ctx.st
            .save_sync()
            .map_err(|_| CmdError::fixed("ERR Error trying to save the DB"))?;
    }
    if flush {
        ctx.st.tracking_flush();
        ctx.st.ks.flush_all();
    }
    // Libraries: replaced by the file's, or (NOFLUSH) kept, the file's
    // added — replacing ours of the same name with MERGE, failing without.
    ctx.st.scripting.rdb_policy = Some(match (flush, merge) {
        (true, _) => redis_scripting::RestorePolicy::Flush,
        (false, true) => redis_scripting::RestorePolicy::Replace,
        (false, false) => redis_scripting::RestorePolicy::Append,
    });
    let now = ctx.now;
    let loaded = ctx.st.load_rdb(now);
    ctx.st.scripting.rdb_policy = None;
    if loaded.is_err() {
        return Err(CmdError::fixed(
            "ERR Error trying to load the RDB dump, check server logs.",
        ));
    }
    ctx.st.log_notice("DB reloaded by DEBUG RELOAD");
    ctx.ok();
    Ok(())
}

/// `DEBUG LOADAOF` (upstream ignores extra arguments).
fn loadaof(ctx: &mut Ctx) {
    let now = ctx.now;
    if let Err(e) = ctx.st.debug_loadaof(now) {
        // Upstream exits with status 1 when the reload fails (including
        // "no AOF at all" with appendonly off); the dataset is already
        // gone. No reply: the connection closes.
        ctx.st.log_warning(&e.to_string());
        ctx.st
            .log_warning("Loading the AOF failed in DEBUG LOADAOF: exiting");
        ctx.st.shutdown = Some(redis_engine::state::ShutdownRequest {
            nosave: true,
            exit_code: 1,
            ..Default::default()
        });
        ctx.st.shutdown_notify.notify_one();
        return;
    }
    ctx.ok();
}

fn serialized_len(s: &StrValue) -> usize {
    match s {
        // RDB integer encodings take 2 to 5 bytes.
        StrValue::Int(i) if (-128..128).contains(i) => 2,
        StrValue::Int(i) if (-32768..32768).contains(i) => 3,
        StrValue::Int(i) if (i32::MIN as i64..=i32::MAX as i64).contains(i) => 5,
        _ => {
            s.len()
                + if s.len() < 64 {
                    1
                } else if s.len() < 16384 {
                    2
                } else {
                    5
                }
        }
    }
}

fn protocol(ctx: &mut Ctx, t: &Bytes) -> CmdResult {
    let resp3 = ctx.proto() == Protocol::Resp3;
    let f = if is(t, "string") {
        Frame::Bulk(Bytes::from_static(b"Hello World"))
    } else if is(t, "integer") {
        Frame::Integer(12345)
    } else if is(t, "double") {
        // Upstream's literal test value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        Frame::Double(3.141)
    } else if is(t, "bignum") {
        Frame::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999"))
    } else if is(t, "null") {
        Frame::Null
    } else if is(t, "array") {
        Frame::Array((0..3).map(Frame::Integer).collect())
    } else if is(t, "set") {
        Frame::Set((0..3).map(Frame::Integer).collect())
    } else if is(t, "map") {
        Frame::Map(
            (0..3)
                .map(|i| (Frame::Integer(i), Frame::Boolean(i == 1)))
                .collect(),
        )
    } else if is(t, "attrib") {
        if resp3 {
            ctx.frame(&Frame::Attribute(vec![(
                Frame::Bulk(Bytes::from_static(b"key-popularity")),
                Frame::Array(vec![
                    Frame::Bulk(Bytes::from_static(b"key:123")),
                    Frame::Integer(90),
                ]),
            )]));
        }
        Frame::Bulk(Bytes::from_static(
            b"Some real reply following the attribute",
        ))
    } else if is(t, "push") {
        if !resp3 {
            return Err(CmdError::fixed(
                "ERR RESP2 is not supported by this command",
            ));
        }
        ctx.frame(&Frame::Push(vec![
            Frame::Bulk(Bytes::from_static(b"server-cpu-usage")),
            Frame::Integer(42),
        ]));
        Frame::Bulk(Bytes::from_static(
            b"Some real reply following the push reply",
        ))
    } else if is(t, "true") {
        Frame::Boolean(true)
    } else if is(t, "false") {
        Frame::Boolean(false)
    } else if is(t, "verbatim") {
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"This is a verbatim\nstring"),
        }
    } else {
        return Err(CmdError::fixed("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"));
    };
    ctx.frame(&f);
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[("debug", debug)];
