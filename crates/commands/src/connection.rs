//! Connection commands: `AUTH`, `HELLO`, `PING`, `ECHO`, `QUIT`, `RESET`,
//! `SELECT` (upstream's "connection" group; `CLIENT` is in [`crate::client`]).

use bytes::Bytes;
use redis_resp::Protocol;

use crate::args::{self, is};
use redis_engine::client::ReplyMode;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX};
use redis_engine::table::Handler;

const WRONGPASS: CmdError =
    CmdError::fixed("WRONGPASS invalid username-password pair or user is disabled.");

/// # Format
/// `PING [message]`
pub fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        return Err(redis_engine::error::wrong_arity("ping"));
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
    let now = ctx.now;
    if ctx.st.acl_authenticate(ctx.client, user, pass, now) {
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
    for i in 1..argv.len() {
        ctx.redact_arg(i);
    }
    if argv.len() == 2 && ctx.st.acl.users.default_user().nopass() {
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
            ctx.redact_arg(i + 1);
            ctx.redact_arg(i + 2);
            auth = Some((&argv[i + 1], &argv[i + 2]));
            i += 3;
        } else if is(&argv[i], "setname") && more >= 1 {
            name = Some(&argv[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                redis_engine::error::truncated(&argv[i], 128)
            )));
        }
    }
    if let Some((u, p)) = auth {
        check_password(ctx, u, p)?;
    }
    if !ctx.client.authenticated && ctx.st.acl_auth_required() {
        return Err(CmdError::fixed("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        crate::client::validate_name(n)?;
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
    let id = ctx.client.id;
    ctx.st.tracking_disable(id);
    redis_engine::pubsub::forget(ctx.st, ctx.client);
    ctx.client.subs.clear();
    ctx.client.psubs.clear();
    ctx.client.ssubs.clear();
    let watched = std::mem::take(&mut ctx.client.watched);
    ctx.st.unwatch_all(ctx.client.id, &watched);
    let c = &mut *ctx.client;
    c.multi = None;
    c.db = 0;
    c.proto = Protocol::Resp2;
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    if c.is_monitor {
        c.is_monitor = false;
        let id = c.id;
        ctx.st.monitors.retain(|&m| m != id);
    }
    // Back to the default user: authenticated only if it needs no password.
    ctx.client.authenticated = !ctx.st.acl_auth_required();
    ctx.client.user = "default".into();
    let id = ctx.client.id;
    if let Some(info) = ctx.st.clients.get_mut(&id) {
        info.user = "default".into();
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

// ---------------------------------------------------------------------------
// COMMAND.

// ---------------------------------------------------------------------------
// SLOWLOG, LATENCY, MEMORY.

/// # Format
/// `SELECT index`
pub fn select(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let num = crate::keys::db_number(&argv[1])?;
    if ctx.st.cluster_enabled() && num != 0 {
        return Err(CmdError::fixed("ERR SELECT is not allowed in cluster mode"));
    }
    let id = crate::keys::db_in_range(ctx, num)?;
    ctx.client.db = id;
    ctx.ok();
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("select", select),
    ("auth", auth),
    ("echo", echo),
    ("hello", hello),
    ("ping", ping),
    ("quit", quit),
    ("reset", reset),
];
