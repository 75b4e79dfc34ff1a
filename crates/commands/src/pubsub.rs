//! Pub/Sub commands: `SUBSCRIBE` and its pattern and shard forms, their
//! `UNSUBSCRIBE` counterparts, `PUBLISH`, `SPUBLISH`, `PUBSUB …`. The
//! subscription registry and message delivery are the engine's
//! (`redis_engine::pubsub`).

use std::collections::HashMap;

use redis_common::glob::string_match;

use bytes::Bytes;
use redis_engine::ctx::Ctx;
use redis_engine::error::CmdResult;
use redis_engine::pubsub::{publish, subscribe, unsubscribe, Kind};
use redis_engine::table::Handler;

/// # Format
/// `SUBSCRIBE channel [channel ...]`
pub fn cmd_subscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe(ctx, argv, Kind::Channel)
}

/// # Format
/// `PSUBSCRIBE pattern [pattern ...]`
pub fn cmd_psubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe(ctx, argv, Kind::Pattern)
}

/// # Format
/// `SSUBSCRIBE shardchannel [shardchannel ...]`
pub fn cmd_ssubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe(ctx, argv, Kind::Shard)
}

/// # Format
/// `UNSUBSCRIBE [channel [channel ...]]`
pub fn cmd_unsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe(ctx, argv, Kind::Channel)
}

/// # Format
/// `PUNSUBSCRIBE [pattern [pattern ...]]`
pub fn cmd_punsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe(ctx, argv, Kind::Pattern)
}

/// # Format
/// `SUNSUBSCRIBE [shardchannel [shardchannel ...]]`
pub fn cmd_sunsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe(ctx, argv, Kind::Shard)
}

/// # Format
/// `PUBLISH channel message`
pub fn cmd_publish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let n = publish(ctx.st, &argv[1], &argv[2], false, Some((id, ctx.out)));
    ctx.int(n as i64);
    propagate_publish(ctx, argv, false);
    Ok(())
}

/// Where a published message goes besides the local subscribers: over
/// the cluster bus in cluster mode (every node for `PUBLISH`, the shard
/// for `SPUBLISH`), else to the replicas, which publish it to their own
/// subscribers (not written to the AOF).
fn propagate_publish(ctx: &mut Ctx, argv: &[Bytes], shard: bool) {
    if ctx.st.cluster_enabled() {
        ctx.st.cluster_publish(&argv[1], &argv[2], shard, ctx.now);
    } else {
        ctx.force_replication();
    }
}

/// # Format
/// `SPUBLISH shardchannel message`
pub fn cmd_spublish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let n = publish(ctx.st, &argv[1], &argv[2], true, Some((id, ctx.out)));
    ctx.int(n as i64);
    propagate_publish(ctx, argv, true);
    Ok(())
}

fn channels_matching(m: &HashMap<Bytes, Vec<u64>>, pat: Option<&Bytes>) -> Vec<Bytes> {
    m.keys()
        .filter(|c| pat.is_none_or(|p| string_match(p, c, false)))
        .cloned()
        .collect()
}

/// # Format
/// `PUBSUB CHANNELS [pattern]`
pub fn cmd_pubsub_channels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(redis_engine::error::subcommand_syntax(&argv[1], "PUBSUB"));
    }
    let v = channels_matching(&ctx.st.pubsub.channels, argv.get(2));
    ctx.bulk_array(v.iter());
    Ok(())
}

/// # Format
/// `PUBSUB SHARDCHANNELS [pattern]`
pub fn cmd_pubsub_shardchannels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(redis_engine::error::subcommand_syntax(&argv[1], "PUBSUB"));
    }
    let v = channels_matching(&ctx.st.pubsub.shard_channels, argv.get(2));
    ctx.bulk_array(v.iter());
    Ok(())
}

fn numsub(ctx: &mut Ctx, argv: &[Bytes], shard: bool) -> CmdResult {
    let counts: Vec<(Bytes, usize)> = argv[2..]
        .iter()
        .map(|c| {
            let m = if shard {
                &ctx.st.pubsub.shard_channels
            } else {
                &ctx.st.pubsub.channels
            };
            (c.clone(), m.get(c).map_or(0, Vec::len))
        })
        .collect();
    // Upstream replies a flat array in both protocols.
    ctx.array(counts.len() * 2);
    for (c, n) in counts {
        ctx.bulk(&c);
        ctx.int(n as i64);
    }
    Ok(())
}

/// # Format
/// `PUBSUB NUMSUB [channel [channel ...]]`
pub fn cmd_pubsub_numsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    numsub(ctx, argv, false)
}

/// # Format
/// `PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]`
pub fn cmd_pubsub_shardnumsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    numsub(ctx, argv, true)
}

/// # Format
/// `PUBSUB NUMPAT`
pub fn cmd_pubsub_numpat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let n = ctx.st.pubsub.patterns.len();
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `PUBSUB HELP`
pub fn cmd_pubsub_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::keys::reply_help(ctx, crate::help::PUBSUB);
    Ok(())
}

/// Reply of `PING` in RESP2 subscribed mode: `["pong", message]`.
pub fn ping_in_pubsub(ctx: &mut Ctx, argv: &[Bytes]) {
    ctx.array(2);
    ctx.bulk(b"pong");
    ctx.bulk(argv.get(1).map_or(&b""[..], |m| m.as_ref()));
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("subscribe", cmd_subscribe),
    ("psubscribe", cmd_psubscribe),
    ("ssubscribe", cmd_ssubscribe),
    ("unsubscribe", cmd_unsubscribe),
    ("punsubscribe", cmd_punsubscribe),
    ("sunsubscribe", cmd_sunsubscribe),
    ("publish", cmd_publish),
    ("spublish", cmd_spublish),
    ("pubsub|channels", cmd_pubsub_channels),
    ("pubsub|shardchannels", cmd_pubsub_shardchannels),
    ("pubsub|numsub", cmd_pubsub_numsub),
    ("pubsub|shardnumsub", cmd_pubsub_shardnumsub),
    ("pubsub|numpat", cmd_pubsub_numpat),
    ("pubsub|help", cmd_pubsub_help),
];
