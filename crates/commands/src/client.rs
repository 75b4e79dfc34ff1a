//! `CLIENT` subcommands.

use bytes::Bytes;
use redis_engine::table::Handler;

use crate::args::{self, is, Args};
use crate::help;
use crate::keys::reply_help;
use redis_engine::client::ReplyMode;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX};
use redis_engine::tracking::{Options as TrackingOptions, PrefixCheck};

/// Rejects names upstream refuses (spaces, newlines, non-printables).
pub fn validate_name(n: &[u8]) -> CmdResult {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::fixed(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// # Format
/// `CLIENT ID`
pub fn id(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    ctx.int(id as i64);
    Ok(())
}

/// # Format
/// `CLIENT SETNAME connection-name`
pub fn setname(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    validate_name(&argv[2])?;
    let id = ctx.client.id;
    if let Some(c) = ctx.st.clients.get_mut(&id) {
        c.name = argv[2].clone();
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `CLIENT GETNAME`
pub fn getname(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let name = ctx
        .st
        .clients
        .get(&id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    if name.is_empty() {
        ctx.null();
    } else {
        ctx.bulk(&name);
    }
    Ok(())
}

/// Copies the connection-owned fields into the shared info so that the
/// calling client's own line is current.
fn refresh_self(ctx: &mut Ctx, cmd: &str) {
    let id = ctx.client.id;
    let (db, resp, multi) = (
        ctx.client.db,
        if ctx.client.proto == redis_resp::Protocol::Resp3 {
            3
        } else {
            2
        },
        ctx.client
            .multi
            .as_ref()
            .map_or(-1, |q| q.queue.len() as i64),
    );
    if let Some(c) = ctx.st.clients.get_mut(&id) {
        c.db = db;
        c.resp = resp;
        c.multi = multi;
        c.last_cmd = cmd.to_string();
        c.last_interaction_ms = ctx.now;
    }
}

/// The class of a client for `TYPE` filters.
fn client_type(c: &redis_engine::client::ClientInfo) -> &'static str {
    if c.is_master {
        "master"
    } else if c.is_replica {
        "replica"
    } else if c.sub + c.psub + c.ssub > 0 {
        "pubsub"
    } else {
        "normal"
    }
}

/// Parses a `TYPE` argument (`slave` is an alias of `replica`).
fn parse_type(v: &[u8]) -> Result<&'static str, CmdError> {
    match String::from_utf8_lossy(v).to_ascii_lowercase().as_str() {
        "normal" => Ok("normal"),
        "master" => Ok("master"),
        "replica" | "slave" => Ok("replica"),
        "pubsub" => Ok("pubsub"),
        _ => Err(CmdError::msg(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(v)
        ))),
    }
}

/// # Format
/// `CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]`
pub fn list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    refresh_self(ctx, "client|list");
    let mut ids: Option<Vec<i64>> = None;
    let mut want_type: Option<&'static str> = None;
    let mut a = Args::new(&argv[2..]);
    if !a.is_empty() {
        if a.len() == 2 && a.eat("type") {
            want_type = Some(parse_type(a.bytes()?)?);
        } else if a.len() >= 2 && a.eat("id") {
            let mut v = Vec::with_capacity(a.len());
            for id in a.rest() {
                // Any integer is accepted (0 or a negative one matches no
                // client), like upstream.
                v.push(args::int_or(id, CmdError::fixed("ERR Invalid client ID"))?);
            }
            ids = Some(v);
        } else {
            return Err(SYNTAX);
        }
    }
    let now = ctx.now;
    let mut text = String::new();
    {
        for c in ctx.st.clients.values() {
            if want_type.is_some_and(|t| client_type(c) != t) {
                continue;
            }
            if let Some(ids) = &ids {
                if !ids.iter().any(|&i| u64::try_from(i) == Ok(c.id)) {
                    continue;
                }
            }
            text.push_str(&c.line(now));
            text.push('\n');
        }
    }
    ctx.verbatim(text.as_bytes());
    Ok(())
}

/// # Format
/// `CLIENT INFO`
pub fn info(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    refresh_self(ctx, "client|info");
    let id = ctx.client.id;
    let mut line = ctx
        .st
        .clients
        .get(&id)
        .map(|c| c.line(ctx.now))
        .unwrap_or_default();
    line.push('\n');
    ctx.verbatim(line.as_bytes());
    Ok(())
}

/// The filters of the new form of CLIENT KILL; all given ones must match.
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    want_type: Option<&'static str>,
    skipme: bool,
}

impl KillFilter {
    /// Parses `<filter> <value>` pairs like upstream: each value is
    /// checked where it appears, and a filter without its value is a
    /// syntax error only when reached.
    fn parse(mut a: Args) -> Result<KillFilter, CmdError> {
        let mut f = KillFilter {
            id: None,
            addr: None,
            laddr: None,
            user: None,
            want_type: None,
            skipme: true,
        };
        let text = |v: &Bytes| Some(String::from_utf8_lossy(v).into_owned());
        while let Some(k) = a.next_opt() {
            let v = a.bytes()?;
            // Only the default user exists (there is no ACL); upstream
            // rejects an unknown user name.
            let unknown_user = v.as_ref() != b"default";
            match args::which(k, &["id", "type", "addr", "laddr", "user", "skipme"]) {
                Some(0) => match args::int(v) {
                    Ok(n) if n > 0 => f.id = Some(n.unsigned_abs()),
                    _ => return Err(CmdError::fixed("ERR client-id should be greater than 0")),
                },
                Some(1) => f.want_type = Some(parse_type(v)?),
                Some(2) => f.addr = text(v),
                Some(3) => f.laddr = text(v),
                Some(4) if unknown_user => {
                    return Err(CmdError::msg(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(v)
                    )))
                }
                Some(4) => f.user = text(v),
                Some(5) => {
                    f.skipme = match args::which(v, &["yes", "no"]) {
                        Some(0) => true,
                        Some(1) => false,
                        _ => return Err(SYNTAX),
                    }
                }
                _ => return Err(SYNTAX),
            }
        }
        Ok(f)
    }

    /// True if client `c` is a victim (`me` is the caller).
    fn matches(&self, c: &redis_engine::client::ClientInfo, me: u64) -> bool {
        self.want_type.is_none_or(|t| client_type(c) == t)
            && self.id.is_none_or(|i| c.id == i)
            && self.addr.as_ref().is_none_or(|a| &c.addr == a)
            && self.laddr.as_ref().is_none_or(|a| &c.laddr == a)
            && self.user.as_ref().is_none_or(|u| &c.user == u)
            && !(self.skipme && c.id == me)
    }
}

/// # Format
/// `CLIENT KILL ip:port` or
/// `CLIENT KILL [ID id] [TYPE type] [USER user] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]`
pub fn kill(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let me = ctx.client.id;
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(&argv[2]).into_owned();
        let target = ctx
            .st
            .clients
            .values()
            .find(|c| c.addr == addr)
            .map(|c| c.id);
        return match target {
            Some(id) => {
                kill_client(ctx, id);
                ctx.ok();
                Ok(())
            }
            None => Err(CmdError::fixed("ERR No such client")),
        };
    }
    let f = KillFilter::parse(Args::new(&argv[2..]))?;
    let victims: Vec<u64> = {
        ctx.st
            .clients
            .values()
            .filter(|c| f.matches(c, me))
            .map(|c| c.id)
            .collect()
    };
    for v in &victims {
        kill_client(ctx, *v);
    }
    ctx.int(victims.len() as i64);
    Ok(())
}

fn kill_client(ctx: &mut Ctx, id: u64) {
    if id == ctx.client.id {
        // Killing oneself: the reply is still sent, then the link closes.
        ctx.client.close_after_reply = true;
    } else if let Some(c) = ctx.st.clients.get(&id) {
        c.signal.kill();
    }
}

/// # Format
/// `CLIENT PAUSE timeout [WRITE | ALL]`
pub fn pause(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ms = args::int_or(
        &argv[2],
        CmdError::fixed("ERR timeout is not an integer or out of range"),
    )?;
    if ms < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    let mut write_only = false;
    if let Some(m) = argv.get(3) {
        if is(m, "write") {
            write_only = true;
        } else if !is(m, "all") || argv.len() > 4 {
            return Err(CmdError::fixed(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ));
        }
    }
    ctx.st.pause = Some((ctx.now.saturating_add(ms), write_only));
    ctx.ok();
    Ok(())
}

/// # Format
/// `CLIENT UNPAUSE`
pub fn unpause(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.st.pause = None;
    ctx.ok();
    Ok(())
}

/// # Format
/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`
pub fn unblock(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = args::int(&argv[2])?;
    let error = match argv.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => {
            return Err(CmdError::fixed(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    if argv.len() > 4 {
        return Err(SYNTAX);
    }
    let Ok(id) = u64::try_from(id) else {
        ctx.int(0);
        return Ok(());
    };
    match ctx.st.unblock(id) {
        Some(w) => {
            if error {
                let e = CmdError::fixed("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                ctx.st.fail_waiter(&w, &e);
            } else {
                let reply = redis_engine::blocking::timeout_bytes(w.proto, w.timeout_reply);
                let _ = w.signal.push.send(reply);
            }
            ctx.int(1);
        }
        None => ctx.int(0),
    }
    Ok(())
}

/// # Format
/// `CLIENT REPLY ON | OFF | SKIP`
pub fn reply(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = &argv[2];
    if is(a, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.ok();
    } else if is(a, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(a, "skip") {
        if ctx.client.reply_mode == ReplyMode::On {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        return Err(SYNTAX);
    }
    Ok(())
}

/// # Format
/// `CLIENT NO-EVICT ON | OFF`
pub fn no_evict(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let on = if is(&argv[2], "on") {
        true
    } else if is(&argv[2], "off") {
        false
    } else {
        return Err(SYNTAX);
    };
    ctx.client.no_evict = on;
    let id = ctx.client.id;
    if let Some(c) = ctx.st.clients.get_mut(&id) {
        c.no_evict = on;
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
pub fn tracking(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let mut opts = TrackingOptions::default();
    let mut redirect: u64 = 0;
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = &argv[j];
        if is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(CmdError::fixed(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let r = args::int(&argv[j])?;
            // The client must exist now (it may go away later).
            let exists = u64::try_from(r).is_ok_and(|r| ctx.st.clients.contains_key(&r));
            if !exists {
                return Err(CmdError::fixed(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            redirect = r as u64;
        } else if is(a, "bcast") {
            opts.bcast = true;
        } else if is(a, "optin") {
            opts.optin = true;
        } else if is(a, "optout") {
            opts.optout = true;
        } else if is(a, "noloop") {
            opts.noloop = true;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(argv[j].clone());
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if is(&argv[2], "on") {
        let cur = ctx.st.tracking_of(id);
        if !opts.bcast && !prefixes.is_empty() {
            return Err(CmdError::fixed(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if cur.on && cur.bcast != opts.bcast {
            return Err(CmdError::fixed("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if opts.bcast && (opts.optin || opts.optout) {
            return Err(CmdError::fixed(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if opts.optin && opts.optout {
            return Err(CmdError::fixed(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if (opts.optin && cur.optout) || (opts.optout && cur.optin) {
            return Err(CmdError::fixed("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if opts.bcast {
            match ctx.st.tracking_check_prefixes(id, &prefixes) {
                PrefixCheck::Ok => {}
                PrefixCheck::Err(e) => return Err(e),
                PrefixCheck::ErrThenOk(e) => {
                    // Upstream 7.0 replies the error, then goes on.
                    ctx.st.count_error(&e);
                    ctx.out.extend_from_slice(b"-");
                    ctx.out.extend_from_slice(&e.0);
                    ctx.out.extend_from_slice(b"\r\n");
                }
            }
        }
        ctx.st.tracking_enable(id, redirect, opts, &prefixes);
    } else if is(&argv[2], "off") {
        ctx.st.tracking_disable(id);
    } else {
        return Err(SYNTAX);
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `CLIENT CACHING <YES | NO>`
pub fn caching(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let t = ctx.st.tracking_of(id);
    if !t.on {
        return Err(CmdError::fixed("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    if is(&argv[2], "yes") {
        if !t.optin {
            return Err(CmdError::fixed(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(&argv[2], "no") {
        if !t.optout {
            return Err(CmdError::fixed(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(SYNTAX);
    }
    ctx.st.tracking_set_caching(id);
    ctx.ok();
    Ok(())
}

/// # Format
/// `CLIENT GETREDIR`
pub fn getredir(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let t = ctx.st.tracking_of(ctx.client.id);
    ctx.int(if t.on { t.redirect as i64 } else { -1 });
    Ok(())
}

/// # Format
/// `CLIENT TRACKINGINFO`
pub fn trackinginfo(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let t = ctx.st.tracking_of(ctx.client.id);
    let mut fl: Vec<&str> = vec![if t.on { "on" } else { "off" }];
    if t.bcast {
        fl.push("bcast");
    }
    if t.optin {
        fl.push("optin");
        if t.caching {
            fl.push("caching-yes");
        }
    }
    if t.optout {
        fl.push("optout");
        if t.caching {
            fl.push("caching-no");
        }
    }
    if t.noloop {
        fl.push("noloop");
    }
    if t.broken_redir {
        fl.push("broken_redirect");
    }
    ctx.map(3);
    ctx.bulk(b"flags");
    ctx.set(fl.len());
    for f in fl {
        ctx.bulk(f.as_bytes());
    }
    ctx.bulk(b"redirect");
    ctx.int(if t.on { t.redirect as i64 } else { -1 });
    ctx.bulk(b"prefixes");
    ctx.bulk_array(t.prefixes.iter());
    Ok(())
}

/// # Format
/// `CLIENT HELP`
pub fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::CLIENT);
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("client|id", id),
    ("client|setname", setname),
    ("client|getname", getname),
    ("client|list", list),
    ("client|info", info),
    ("client|kill", kill),
    ("client|pause", pause),
    ("client|unpause", unpause),
    ("client|unblock", unblock),
    ("client|reply", reply),
    ("client|no-evict", no_evict),
    ("client|tracking", tracking),
    ("client|caching", caching),
    ("client|getredir", getredir),
    ("client|trackinginfo", trackinginfo),
    ("client|help", help),
];
