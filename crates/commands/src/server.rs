//! Connection and server commands: `PING`, `HELLO`, `AUTH`, `MULTI`/`EXEC`,
//! `COMMAND`, `SLOWLOG`, `LATENCY`, `MEMORY`, `SHUTDOWN`, `MONITOR`, …

use bytes::Bytes;
use redis_resp::{Frame, Protocol};

use crate::args::{self, is};
use crate::client::ReplyMode;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::keys::reply_help;
use crate::state::ShutdownRequest;
use crate::table::registry;
use crate::{help, meta};

const WRONGPASS: CmdError =
    CmdError::fixed("WRONGPASS invalid username-password pair or user is disabled.");

/// # Format
/// `PING [message]`
pub fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        return Err(crate::error::wrong_arity("ping"));
    }
    if ctx.client.in_pubsub_context() {
        crate::pubsub::ping_in_pubsub(ctx, argv);
        return Ok(());
    }
    match argv.get(1) {
        None => ctx.simple("PONG"),
        Some(m) => ctx.bulk(m),
    }
    Ok(())
}

/// # Format
/// `ECHO message`
pub fn echo(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.bulk(&argv[1]);
    Ok(())
}

/// # Format
/// `QUIT`
pub fn quit(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn check_password(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> CmdResult {
    let ok = user == b"default"
        && match &ctx.st.cached.requirepass {
            // `nopass`: the default user accepts any password.
            None => true,
            Some(p) => p.as_ref() == pass,
        };
    if ok {
        ctx.client.authenticated = true;
        Ok(())
    } else {
        Err(WRONGPASS)
    }
}

/// # Format
/// `AUTH [username] password`
pub fn auth(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(SYNTAX);
    }
    if argv.len() == 2 && ctx.st.cached.requirepass.is_none() {
        return Err(CmdError::fixed("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
    }
    let (user, pass): (&[u8], &[u8]) = if argv.len() == 3 {
        (&argv[1], &argv[2])
    } else {
        (b"default", &argv[1])
    };
    check_password(ctx, user, pass)?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
pub fn hello(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut proto = ctx.client.proto;
    if let Some(v) = argv.get(1) {
        let v = args::int_or(
            v,
            CmdError::fixed("ERR Protocol version is not an integer or out of range"),
        )?;
        proto = match v {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CmdError::fixed("NOPROTO unsupported protocol version")),
        };
    }
    let mut auth: Option<(&Bytes, &Bytes)> = None;
    let mut name: Option<&Bytes> = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(&argv[i], "auth") && more >= 2 {
            auth = Some((&argv[i + 1], &argv[i + 2]));
            i += 3;
        } else if is(&argv[i], "setname") && more >= 1 {
            name = Some(&argv[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                crate::error::truncated(&argv[i], 128)
            )));
        }
    }
    if let Some((u, p)) = auth {
        check_password(ctx, u, p)?;
    }
    if !ctx.client.authenticated && ctx.st.cached.requirepass.is_some() {
        return Err(CmdError::fixed("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        crate::client_cmd::validate_name(n)?;
        let id = ctx.client.id;
        if let Some(c) = ctx.st.clients.get_mut(&id) {
            c.name = n.clone();
        }
    }
    ctx.client.proto = proto;
    let resp = if proto == Protocol::Resp3 { 3 } else { 2 };
    if let Some(info) = ctx.st.clients.get_mut(&ctx.client.id) {
        info.resp = resp;
    }
    let id = ctx.client.id as i64;
    let v = ctx.st.version;
    ctx.map(7);
    ctx.bulk(b"server");
    ctx.bulk(b"redis");
    ctx.bulk(b"version");
    ctx.bulk(v.as_bytes());
    ctx.bulk(b"proto");
    ctx.int(if proto == Protocol::Resp3 { 3 } else { 2 });
    ctx.bulk(b"id");
    ctx.int(id);
    ctx.bulk(b"mode");
    ctx.bulk(b"standalone");
    ctx.bulk(b"role");
    ctx.bulk(b"master");
    ctx.bulk(b"modules");
    ctx.array(0);
    Ok(())
}

/// # Format
/// `RESET`
pub fn reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::pubsub::forget(ctx.st, ctx.client);
    ctx.client.subs.clear();
    ctx.client.psubs.clear();
    ctx.client.ssubs.clear();
    let watched = std::mem::take(&mut ctx.client.watched);
    ctx.st.unwatch_all(ctx.client.id, &watched);
    let c = &mut *ctx.client;
    c.multi = None;
    c.multi_error = false;
    c.db = 0;
    c.proto = Protocol::Resp2;
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    if c.is_monitor {
        c.is_monitor = false;
        let id = c.id;
        ctx.st.monitors.retain(|&m| m != id);
    }
    if ctx.st.cached.requirepass.is_some() {
        ctx.client.authenticated = false;
    }
    let id = ctx.client.id;
    if let Some(info) = ctx.st.clients.get_mut(&id) {
        info.name = Bytes::new();
        info.is_monitor = false;
        info.no_evict = false;
        info.resp = 2;
        info.sub = 0;
        info.psub = 0;
        info.ssub = 0;
    }
    ctx.simple("RESET");
    Ok(())
}

/// # Format
/// `TIME`
pub fn time(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.array(2);
    ctx.bulk(now.as_secs().to_string().as_bytes());
    ctx.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// # Format
/// `LASTSAVE`
pub fn lastsave(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let t = ctx.st.lastsave;
    ctx.int(t);
    Ok(())
}

/// # Format
/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
pub fn shutdown(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut req = ShutdownRequest::default();
    let mut abort = false;
    for a in &argv[1..] {
        if is(a, "nosave") {
            req.nosave = true;
        } else if is(a, "save") {
            req.save = true;
        } else if is(a, "now") {
            req.now = true;
        } else if is(a, "force") {
            req.force = true;
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(SYNTAX);
        }
    }
    if (abort && argv.len() != 2) || (req.nosave && req.save) {
        return Err(SYNTAX);
    }
    if abort {
        return Err(CmdError::fixed("ERR No shutdown in progress."));
    }
    if ctx.st.prepare_shutdown(req).is_err() && !req.force {
        return Err(CmdError::fixed(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    ctx.st.shutdown = Some(req);
    ctx.st.shutdown_notify.notify_one();
    // No reply: the connection closes when the server exits, as upstream.
    Ok(())
}

/// # Format
/// `MONITOR`
pub fn monitor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if !ctx.client.is_monitor {
        ctx.client.is_monitor = true;
        let id = ctx.client.id;
        ctx.st.monitors.push(id);
        if let Some(c) = ctx.st.clients.get_mut(&id) {
            c.is_monitor = true;
        }
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `MULTI`
pub fn multi(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.ok();
    Ok(())
}

/// # Format
/// `DISCARD`
pub fn discard(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::fixed("ERR DISCARD without MULTI"));
    }
    ctx.client.multi_error = false;
    unwatch_client(ctx);
    ctx.ok();
    Ok(())
}

/// # Format
/// `EXEC`
pub fn exec(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(CmdError::fixed("ERR EXEC without MULTI"));
    };
    if std::mem::take(&mut ctx.client.multi_error) {
        unwatch_client(ctx);
        return Err(CmdError::fixed(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    // A watched key that was touched, or that expired since WATCH (not one
    // already expired when watched), aborts.
    let id = ctx.client.id;
    let dirty = ctx.st.cas_dirty.contains(&id)
        || ctx.client.watched.iter().any(|(db, k)| {
            ctx.st.ks.dbs[*db].is_expired(k, ctx.now)
                && !ctx.st.watched_expired.contains(&(id, *db, k.clone()))
        });
    unwatch_client(ctx);
    if dirty {
        ctx.null_array();
        return Ok(());
    }
    ctx.array(queue.len());
    ctx.client.in_exec = true;
    // Writes of the transaction reach the AOF and replicas wrapped in
    // MULTI/EXEC, emitted only if something is propagated.
    ctx.st.repl.multi_pending = true;
    ctx.st.repl.multi_emitted = false;
    for argv in queue {
        let Ok(cmd) = crate::state::resolve(&argv) else {
            continue;
        };
        let now = ctx.now;
        ctx.st.execute(cmd, ctx.client, argv, ctx.out, now);
    }
    ctx.client.in_exec = false;
    ctx.st.repl.multi_pending = false;
    if std::mem::take(&mut ctx.st.repl.multi_emitted) {
        let db = ctx.client.db;
        ctx.st.feed_command_raw_exec(db);
    }
    Ok(())
}

fn unwatch_client(ctx: &mut Ctx) {
    let watched = std::mem::take(&mut ctx.client.watched);
    ctx.st.unwatch_all(ctx.client.id, &watched);
}

/// # Format
/// `WATCH key [key ...]`
pub fn watch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR WATCH inside MULTI is not allowed"));
    }
    for k in &argv[1..] {
        let now = ctx.now;
        ctx.st.watch(ctx.client, k, now);
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `UNWATCH`
pub fn unwatch(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    unwatch_client(ctx);
    ctx.ok();
    Ok(())
}

// ---------------------------------------------------------------------------
// COMMAND.

fn registered_metas() -> Vec<&'static meta::CommandMeta> {
    let mut v: Vec<_> = registry().by_name.values().map(|c| c.meta).collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// # Format
/// `COMMAND`
pub fn command(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let metas = registered_metas();
    ctx.array(metas.len());
    for m in metas {
        let f = meta::info_frame(m);
        ctx.frame(&f);
    }
    Ok(())
}

/// # Format
/// `COMMAND COUNT`
pub fn command_count(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.int(registry().by_name.len() as i64);
    Ok(())
}

/// # Format
/// `COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]`
pub fn command_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let metas = registered_metas();
    let names: Vec<&str> = match argv.len() {
        2 => metas.iter().map(|m| m.name.as_str()).collect(),
        5 if is(&argv[2], "filterby") => {
            let arg = &argv[4];
            if is(&argv[3], "module") {
                Vec::new()
            } else if is(&argv[3], "aclcat") {
                let cat = String::from_utf8_lossy(arg).to_ascii_lowercase();
                metas
                    .iter()
                    .filter(|m| {
                        m.acl_categories
                            .iter()
                            .any(|c| c.trim_start_matches('@') == cat)
                    })
                    .map(|m| m.name.as_str())
                    .collect()
            } else if is(&argv[3], "pattern") {
                let mut v = Vec::new();
                for m in &metas {
                    if redis_common::glob::string_match(arg, m.name.as_bytes(), true) {
                        v.push(m.name.as_str());
                    }
                    for s in &m.subcommands {
                        if redis_common::glob::string_match(arg, s.name.as_bytes(), true) {
                            v.push(s.name.as_str());
                        }
                    }
                }
                v
            } else {
                return Err(SYNTAX);
            }
        }
        _ => return Err(SYNTAX),
    };
    ctx.bulk_array(names.iter());
    Ok(())
}

fn find_registered(name: &[u8]) -> Option<&'static meta::CommandMeta> {
    let reg = registry();
    let s = name;
    if let Some(p) = s.iter().position(|&c| c == b'|') {
        let top = reg.lookup(&s[..p])?;
        return reg.lookup_sub(top, &s[p + 1..]).map(|c| c.meta);
    }
    reg.lookup(s).map(|c| c.meta)
}

/// # Format
/// `COMMAND INFO [command-name [command-name ...]]`
pub fn command_info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    ctx.array(argv.len() - 2);
    for name in &argv[2..] {
        match find_registered(name) {
            Some(m) => {
                let f = meta::info_frame(m);
                ctx.frame(&f);
            }
            None => ctx.null(),
        }
    }
    Ok(())
}

/// # Format
/// `COMMAND DOCS [command-name [command-name ...]]`
pub fn command_docs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let metas: Vec<&meta::CommandMeta> = if argv.len() == 2 {
        registered_metas()
    } else {
        argv[2..]
            .iter()
            .filter_map(|n| find_registered(n))
            .collect()
    };
    let mut pairs = Vec::with_capacity(metas.len());
    for m in metas {
        pairs.push((
            Frame::Bulk(Bytes::from(m.name.clone())),
            meta::docs_frame(m),
        ));
    }
    ctx.frame(&Frame::Map(pairs));
    Ok(())
}

/// # Format
/// `COMMAND GETKEYS command [arg [arg ...]]`
pub fn command_getkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = &argv[2..];
    let reg = registry();
    let Some(top) = reg.lookup(&args[0]) else {
        return Err(CmdError::fixed("ERR Invalid command specified"));
    };
    let m = match (top.handler, args.get(1)) {
        (None, Some(sub)) => reg
            .lookup_sub(top, sub)
            .map(|c| c.meta)
            .ok_or(CmdError::fixed("ERR Invalid command specified"))?,
        _ => top.meta,
    };
    let argc = args.len() as i64;
    if (m.arity > 0 && argc != m.arity) || argc < -m.arity {
        return Err(CmdError::fixed(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let pos = meta::get_keys(m, args).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.array(pos.len());
    for p in pos {
        ctx.bulk(&args[p]);
    }
    Ok(())
}

/// # Format
/// `COMMAND HELP`
pub fn command_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::COMMAND);
    Ok(())
}

// ---------------------------------------------------------------------------
// SLOWLOG, LATENCY, MEMORY.

/// # Format
/// `SLOWLOG GET [count]`
pub fn slowlog_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut count = 10usize;
    if let Some(a) = argv.get(2) {
        let n = args::int_or(
            a,
            CmdError::fixed("ERR count should be greater than or equal to -1"),
        )?;
        if n < -1 {
            return Err(CmdError::fixed(
                "ERR count should be greater than or equal to -1",
            ));
        }
        count = if n == -1 { usize::MAX } else { n as usize };
    }
    let entries: Vec<_> = ctx.st.slowlog.iter().take(count).cloned().collect();
    ctx.array(entries.len());
    for e in entries {
        ctx.array(6);
        ctx.int(e.id as i64);
        ctx.int(e.time);
        ctx.int(e.usec as i64);
        ctx.bulk_array(e.argv.iter());
        ctx.bulk(e.addr.as_bytes());
        ctx.bulk(&e.name);
    }
    Ok(())
}

/// # Format
/// `SLOWLOG LEN`
pub fn slowlog_len(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let n = ctx.st.slowlog.len();
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `SLOWLOG RESET`
pub fn slowlog_reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.st.slowlog.clear();
    ctx.ok();
    Ok(())
}

/// # Format
/// `SLOWLOG HELP`
pub fn slowlog_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::SLOWLOG);
    Ok(())
}

/// # Format
/// `LATENCY LATEST`
pub fn latency_latest(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // No latency event is sampled yet (latency-monitor-threshold is 0 by
    // default upstream too), so the reply is the empty list.
    ctx.array(0);
    Ok(())
}

/// # Format
/// `LATENCY HISTORY event`
pub fn latency_history(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.array(0);
    Ok(())
}

/// # Format
/// `LATENCY RESET [event [event ...]]`
pub fn latency_reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.int(0);
    Ok(())
}

/// # Format
/// `LATENCY HELP`
pub fn latency_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::LATENCY);
    Ok(())
}

/// # Format
/// `MEMORY USAGE key [SAMPLES count]`
pub fn memory_usage(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut i = 3;
    while i < argv.len() {
        if is(&argv[i], "samples") && i + 1 < argv.len() {
            args::int(&argv[i + 1])?;
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let (db, now) = (ctx.db(), ctx.now);
    let key = &argv[2];
    if !ctx.st.ks.exists(db, key, now) {
        ctx.null();
        return Ok(());
    }
    // Key, entry header and dictionary slot overhead plus the value.
    let n = ctx.st.ks.dbs[db]
        .get(key)
        .map_or(0, |e| e.value.mem_usage() + key.len() + 40);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `MEMORY HELP`
pub fn memory_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::MEMORY);
    Ok(())
}
