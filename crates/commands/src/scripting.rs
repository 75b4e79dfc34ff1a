//! Lua scripts (upstream `eval.c`): `EVAL`, `EVALSHA`, `EVAL_RO`,
//! `EVALSHA_RO` and `SCRIPT`. The run itself (checks, the script's
//! commands, propagation, busy scripts) is the engine's
//! [`redis_engine::script`].

use bytes::Bytes;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::script::{self, EvalRequest, LdbMode, ScriptKind};
use redis_engine::table::Handler;

use crate::args::Args;

/// `numkeys` and the key/argument split of the `EVAL` family and `FCALL`.
pub fn split_keys(argv: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), CmdError> {
    let rest = argv.get(3..).unwrap_or_default();
    let numkeys = Args::new(argv.get(2..3).unwrap_or_default()).int()?;
    if numkeys < 0 {
        return Err(CmdError::fixed("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > rest.len() as u64 {
        return Err(CmdError::fixed(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(rest.split_at(numkeys as usize))
}

fn eval_generic(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult {
    if ctx.client.ldb.is_some() {
        if by_sha {
            return Err(CmdError::fixed(
                "ERR Please use EVAL instead of EVALSHA for debugging",
            ));
        }
        // The connection gives a console to the EVAL it runs on a thread
        // of its own (not inside MULTI, nor for the AOF or a primary).
        if let Some(console) = ctx.client.ldb_console.take() {
            let started = script::debug_begin(ctx, &argv[1], console);
            let result = started.and_then(|()| eval_plain(ctx, argv, by_sha, read_only));
            script::debug_end(ctx);
            return result;
        }
    }
    eval_plain(ctx, argv, by_sha, read_only)
}

fn eval_plain(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult {
    let (keys, args) = split_keys(argv)?;
    // Only the effects of the script are propagated, by the commands it
    // calls; the script command itself never is.
    ctx.rewrite = Some(Vec::new());
    script::eval(
        ctx,
        EvalRequest {
            script: &argv[1],
            by_sha,
            read_only,
            keys,
            args,
        },
    )
}

/// # Format
/// `EVAL script numkeys [key ...] [arg ...]`
pub fn eval(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

/// # Format
/// `EVALSHA sha1 numkeys [key ...] [arg ...]`
pub fn evalsha(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

/// # Format
/// `EVAL_RO script numkeys [key ...] [arg ...]`
pub fn eval_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

/// # Format
/// `EVALSHA_RO sha1 numkeys [key ...] [arg ...]`
pub fn evalsha_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

/// # Format
/// `SCRIPT LOAD script`
pub fn script_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let interp = ctx.st.scripting.interp()?;
    let sha = interp.load(&argv[2]).map_err(frame_error)?;
    ctx.bulk(sha.as_bytes());
    // Replicas learn the script through the effects of its runs only.
    Ok(())
}

fn frame_error(f: redis_resp::Frame) -> CmdError {
    match f {
        redis_resp::Frame::Error(e) => CmdError(e),
        _ => CmdError::fixed("ERR scripting is not available"),
    }
}

/// # Format
/// `SCRIPT EXISTS sha1 [sha1 ...]`
pub fn script_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let shas = &argv[2..];
    let interp = ctx.st.scripting.interp()?;
    let found: Vec<bool> = shas.iter().map(|s| interp.exists(s)).collect();
    ctx.array(found.len());
    for f in found {
        ctx.int(i64::from(f));
    }
    Ok(())
}

/// # Format
/// `SCRIPT FLUSH [ASYNC|SYNC]`
pub fn script_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mode = argv.get(2..).unwrap_or_default();
    let ok = match mode {
        [] => true,
        [m] => m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async"),
        _ => false,
    };
    if !ok {
        return Err(CmdError::fixed(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.st.scripting.flush()?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `SCRIPT KILL`
pub fn script_kill(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.st.scripting.kill(ScriptKind::Eval)?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `SCRIPT DEBUG YES|SYNC|NO`
///
/// The next `EVAL` of this connection runs under the Lua debugger: with
/// `SYNC` the server is held for the session and the changes stay; with
/// `YES` the session works on a copy of the dataset (upstream forks for
/// it), nobody waits, and the changes are rolled back.
pub fn script_debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !ctx.out.is_empty() {
        return Err(CmdError::fixed(
            "ERR SCRIPT DEBUG must be called outside a pipeline",
        ));
    }
    let mode = &argv[2];
    let ldb = if mode.eq_ignore_ascii_case(b"no") {
        None
    } else if mode.eq_ignore_ascii_case(b"yes") {
        Some(LdbMode::Forked)
    } else if mode.eq_ignore_ascii_case(b"sync") {
        Some(LdbMode::Sync)
    } else {
        return Err(CmdError::fixed("ERR Use SCRIPT DEBUG YES/SYNC/NO"));
    };
    ctx.client.ldb = ldb;
    ctx.ok();
    Ok(())
}

/// # Format
/// `SCRIPT HELP`
pub fn script_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::keys::reply_help(ctx, crate::help::SCRIPT);
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("script|load", script_load),
    ("script|exists", script_exists),
    ("script|flush", script_flush),
    ("script|kill", script_kill),
    ("script|debug", script_debug),
    ("script|help", script_help),
];
