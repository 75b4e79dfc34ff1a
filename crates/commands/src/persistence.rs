//! Persistence and lifecycle commands: `SAVE`, `BGSAVE`, `BGREWRITEAOF`,
//! `LASTSAVE`, `SHUTDOWN`. The machinery (snapshots, writer threads, the
//! AOF) is the engine's; these handlers parse and start it.

use bytes::Bytes;

use crate::args::is;
use redis_engine::blocking::TimeoutReply;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX};
use redis_engine::shutdown::ShutdownStep;
use redis_engine::state::ShutdownRequest;
use redis_engine::table::Handler;

/// # Format
/// `BGREWRITEAOF`
pub fn bgrewriteaof(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx
        .st
        .persistence
        .bgsave
        .as_ref()
        .is_some_and(|b| b.aof_rewrite)
    {
        return Err(CmdError::fixed(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    if ctx.st.aof.is_none() {
        // 7.0 rewrites with the AOF off too: a new base in appenddirname.
        let started = ctx
            .st
            .start_aof_rewrite_while_off()
            .map_err(|e| CmdError::msg(e.to_string()))?;
        if started {
            ctx.simple("Background append only file rewriting started");
        } else {
            ctx.simple("Background append only file rewriting scheduled");
        }
        return Ok(());
    }
    let scheduled = ctx.st.persistence.bgsave.is_some();
    ctx.st
        .start_aof_rewrite()
        .map_err(|e| CmdError::msg(e.to_string()))?;
    if scheduled {
        ctx.simple("Background append only file rewriting scheduled");
    } else {
        ctx.simple("Background append only file rewriting started");
    }
    Ok(())
}

/// # Format
/// `SAVE`
pub fn cmd_save(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.st
        .save_sync()
        .map_err(|e| CmdError::msg(e.to_string()))?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `BGSAVE [SCHEDULE]`
pub fn cmd_bgsave(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if argv.len() == 2 && is(a, "schedule") => true,
        Some(_) => return Err(SYNTAX),
    };
    if ctx.st.persistence.bgsave.is_some() {
        if schedule {
            ctx.st.persistence.bgsave_scheduled = true;
            ctx.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::fixed("ERR Background save already in progress"));
    }
    ctx.st
        .start_bgsave()
        .map_err(|e| CmdError::msg(e.to_string()))?;
    ctx.st.bg_notify.notify_one();
    ctx.simple("Background saving started");
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
    if !req.nosave && ctx.st.scripting.busy() {
        // Under a busy script only SHUTDOWN NOSAVE goes through.
        return Err(ctx.st.scripting.busy_error());
    }
    if abort {
        if !ctx.st.abort_shutdown() {
            return Err(CmdError::fixed("ERR No shutdown in progress."));
        }
        ctx.ok();
        return Ok(());
    }
    if !req.now && ctx.cannot_block() {
        return Err(CmdError::fixed(
            "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client",
        ));
    }
    match ctx.st.request_shutdown(req, ctx.now) {
        // No reply: the connection closes when the server exits, as
        // upstream.
        ShutdownStep::Exit => Ok(()),
        ShutdownStep::Failed => Err(CmdError::fixed(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        )),
        ShutdownStep::Waiting => {
            // Blocked until the replicas caught up (then the connection
            // closes) or the shutdown fails or is aborted (an error).
            ctx.block(&[], None, "shutdown", TimeoutReply::NullArray, argv);
            let id = ctx.client.id;
            ctx.st.wait_for_shutdown(id);
            Ok(())
        }
    }
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("lastsave", lastsave),
    ("save", cmd_save),
    ("bgsave", cmd_bgsave),
    ("bgrewriteaof", bgrewriteaof),
    ("shutdown", shutdown),
];
