//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`
//! (upstream `multi.c`). Queueing happens in the dispatcher; `EXEC` runs
//! the queue through the engine so each command is counted, logged and
//! propagated as if sent alone, wrapped in `MULTI`/`EXEC` in the stream.

use bytes::Bytes;
use redis_engine::client::MultiState;
use redis_engine::ctx::Ctx;
use redis_engine::dispatch::Caller;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::table::Handler;

/// # Format
/// `MULTI`
pub fn multi(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::new());
    ctx.ok();
    Ok(())
}

/// # Format
/// `DISCARD`
pub fn discard(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(CmdError::fixed("ERR DISCARD without MULTI"));
    }
    ctx.st.discard_transaction(ctx.client);
    ctx.ok();
    Ok(())
}

/// # Format
/// `EXEC`
///
/// Every queued command goes through the dispatcher as [`Caller::Exec`]
/// (statistics, slow log, propagation as if sent alone), so the reply
/// array always holds exactly one reply per queued command.
pub fn exec(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let Some(state) = ctx.client.multi.take() else {
        return Err(CmdError::fixed("ERR EXEC without MULTI"));
    };
    if state.error {
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
    ctx.array(state.queue.len());
    // A transaction replayed from the AOF runs as loading does.
    let inner = if ctx.caller == Caller::AofLoad {
        Caller::AofLoad
    } else {
        Caller::Exec
    };
    // Writes of the transaction reach the AOF and replicas together when
    // it ends (see `end_exec_propagation`).
    ctx.st.begin_exec_propagation();
    for q in state.queue {
        let now = ctx.now;
        ctx.st.call(inner, ctx.client, q, ctx.out, now);
    }
    ctx.st.end_exec_propagation();
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

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];
