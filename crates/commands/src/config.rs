//! `CONFIG` subcommands over the directive table of `redis-config`.

use bytes::Bytes;
use redis_engine::table::Handler;

use crate::help;
use crate::keys::reply_help;
use redis_config::UserLines;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::state::{CmdStat, Stats};

/// # Format
/// `CONFIG GET parameter [parameter ...]`
pub fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pats: Vec<&[u8]> = argv[2..].iter().map(|a| a.as_ref()).collect();
    let pairs = ctx.st.config.get(&pats);
    ctx.map(pairs.len());
    for (k, v) in pairs {
        ctx.bulk(k.as_bytes());
        ctx.bulk(v.as_bytes());
    }
    Ok(())
}

/// # Format
/// `CONFIG SET parameter value [parameter value ...]`
pub fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 != 0 {
        return Err(redis_engine::error::wrong_arity("config|set"));
    }
    // Secret values (passwords) never show in MONITOR or the slow log,
    // whether or not the command succeeds.
    for (i, pair) in argv[2..].chunks_exact(2).enumerate() {
        let name = String::from_utf8_lossy(&pair[0]);
        if redis_config::lookup(&name)
            .and_then(|d| redis_config::TABLE.get(d))
            .is_some_and(|d| d.is(redis_config::SENSITIVE))
        {
            ctx.redact_arg(3 + 2 * i);
        }
    }
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = argv[2..]
        .chunks_exact(2)
        .map(|p| (p[0].to_vec(), p[1].to_vec()))
        .collect();
    // Protected parameters may be open to local clients only
    // (`enable-protected-configs local`).
    let old = ctx.st.config.clone();
    let changed = ctx
        .st
        .config
        // (An async load counts: upstream's `loading` is set then too.)
        .set_from(
            &pairs,
            ctx.client.is_local,
            ctx.st.persistence.loading || ctx.st.persistence.async_loading,
        )
        .map_err(CmdError::msg)?;
    let given: Vec<String> = pairs
        .iter()
        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
        .collect();
    // Listeners, working directory, log level: all or nothing, like the
    // values themselves.
    if let Err(e) = ctx.st.apply_live_config(&old, &changed, &given) {
        ctx.st.config = old;
        return Err(CmdError::msg(e.to_string()));
    }
    ctx.st.apply_config();
    ctx.st.aof_apply_config();
    if changed.contains(&"maxmemory") {
        ctx.st.maxmemory_changed(ctx.now);
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `CONFIG RESETSTAT`
pub fn resetstat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let st = &mut *ctx.st;
    st.stats = Stats::default();
    st.cmdstats.iter_mut().for_each(|s| *s = CmdStat::default());
    // Each command's latency histogram starts again too (LATENCY HISTOGRAM).
    st.latency
        .iter_mut()
        .for_each(|h| *h = redis_engine::histogram::Histogram::default());
    st.errorstats.clear();
    st.ks.hits = 0;
    st.ks.misses = 0;
    st.ks.expired_keys = 0;
    // Upstream also starts these again: objects freed lazily, time spent
    // over maxmemory.
    st.lazyfree.reset_stats();
    st.evict_exceeded_total_ms = 0;
    // Replication and persistence counters, as upstream's
    // resetServerStats.
    st.repl.sync_full = 0;
    st.repl.sync_partial_ok = 0;
    st.repl.sync_partial_err = 0;
    st.repl.net_input_bytes = 0;
    st.repl.net_output_bytes = 0;
    st.persistence.rdb_saves = 0;
    st.acl.log.reset_counts();
    if let Some(aof) = st.aof.as_mut() {
        aof.rewrites = 0;
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `CONFIG REWRITE`
pub fn rewrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let users = ctx.st.acl_config_lines();
    ctx.st
        .config
        .rewrite_config_file(users.as_deref().map_or(UserLines::Drop, UserLines::Replace))
        .map_err(CmdError::msg)?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `CONFIG HELP`
pub fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::CONFIG);
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("config|get", get),
    ("config|set", set),
    ("config|resetstat", resetstat),
    ("config|rewrite", rewrite),
    ("config|help", help),
];
