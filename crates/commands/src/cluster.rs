//! `CLUSTER`, `READONLY`, `READWRITE` and `ASKING`. With `cluster-enabled
//! no` every one answers upstream's standalone error; in cluster mode they
//! parse their arguments here (upstream's texts and order of checks) and
//! ask the cluster state machine (`redis-cluster`, behind
//! `State::cluster`), whose actions the engine then carries out.

use bytes::Bytes;
use redis_cluster::slot::{key_hash_slot, parse_slot, CLUSTER_SLOTS};
use redis_cluster::state::SetSlot;
use redis_engine::cluster::{ClusterNode, Endpoint};
use redis_engine::ctx::Ctx;
use redis_engine::error::{self, CmdError, CmdResult};
use redis_engine::table::Handler;
use redis_resp::Frame;

use crate::args::{self, is};
use crate::help;
use crate::keys::reply_help;

/// Upstream's reply to cluster commands on a server without
/// `cluster-enabled yes`.
const DISABLED: CmdError = CmdError::fixed("ERR This instance has cluster support disabled");

fn node<'a>(ctx: &'a mut Ctx) -> Result<&'a mut ClusterNode, CmdError> {
    ctx.st.cluster.as_deref_mut().ok_or(DISABLED)
}

fn now(ctx: &Ctx) -> u64 {
    ctx.now.max(0) as u64
}

fn db0_empty(ctx: &Ctx) -> bool {
    ctx.st.ks.dbs.first().is_none_or(|d| d.is_empty())
}

/// Runs a state-changing call of the state machine: its error is the
/// reply, its actions are carried out.
fn apply<T>(
    ctx: &mut Ctx,
    r: Result<(T, Vec<redis_cluster::state::Action>), String>,
) -> Result<T, CmdError> {
    match r {
        Ok((v, actions)) => {
            let now = ctx.now;
            ctx.st.cluster_apply(actions, now);
            Ok(v)
        }
        Err(e) => Err(CmdError::msg(e)),
    }
}

fn slot_arg(a: &[u8]) -> Result<u16, CmdError> {
    parse_slot(a).map_err(|_| CmdError::fixed(redis_cluster::slot::INVALID_SLOT_ERR))
}

/// `CLUSTER ADDSLOTS|DELSLOTS slot...`.
fn addslots_generic(ctx: &mut Ctx, argv: &[Bytes], del: bool) -> CmdResult {
    node(ctx)?;
    let slots = argv[2..]
        .iter()
        .map(|a| slot_arg(a))
        .collect::<Result<Vec<u16>, CmdError>>()?;
    let t = now(ctx);
    let c = node(ctx)?;
    let r = if del {
        c.core.del_slots(&slots, t)
    } else {
        c.core.add_slots(&slots, t)
    };
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn addslots(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    addslots_generic(ctx, argv, false)
}

fn delslots(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    addslots_generic(ctx, argv, true)
}

/// `CLUSTER ADDSLOTSRANGE|DELSLOTSRANGE start end [start end ...]`.
fn slotsrange_generic(ctx: &mut Ctx, argv: &[Bytes], del: bool) -> CmdResult {
    node(ctx)?;
    if argv.len() % 2 == 1 {
        let name = if del {
            "cluster|delslotsrange"
        } else {
            "cluster|addslotsrange"
        };
        return Err(error::wrong_arity(name));
    }
    let mut ranges = Vec::new();
    for pair in argv[2..].chunks(2) {
        let start = slot_arg(&pair[0])?;
        let end = slot_arg(&pair[1])?;
        ranges.push((start, end));
    }
    let t = now(ctx);
    let c = node(ctx)?;
    let r = if del {
        c.core.del_slots_range(&ranges, t)
    } else {
        c.core.add_slots_range(&ranges, t)
    };
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn addslotsrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    slotsrange_generic(ctx, argv, false)
}

fn delslotsrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    slotsrange_generic(ctx, argv, true)
}

fn flushslots(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let empty = db0_empty(ctx);
    let t = now(ctx);
    let r = node(ctx)?.core.flush_slots(empty, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn keys_in_slot(ctx: &Ctx, slot: u16) -> usize {
    ctx.st
        .ks
        .dbs
        .first()
        .and_then(|d| d.slot_index())
        .map_or(0, |ix| ix.count(slot))
}

/// `CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE id` / `STABLE`.
fn setslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if node(ctx)?.core.myself_is_replica() {
        return Err(CmdError::fixed("ERR Please use SETSLOT only with masters."));
    }
    let slot = slot_arg(&argv[2])?;
    let id = || String::from_utf8_lossy(&argv[4]).into_owned();
    let action = match argv.len() {
        5 if is(&argv[3], "migrating") => SetSlot::Migrating(id()),
        5 if is(&argv[3], "importing") => SetSlot::Importing(id()),
        5 if is(&argv[3], "node") => SetSlot::Node(id()),
        4 if is(&argv[3], "stable") => SetSlot::Stable,
        _ => {
            return Err(CmdError::fixed(
                "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    };
    let keys = keys_in_slot(ctx, slot) as u64;
    let t = now(ctx);
    let r = node(ctx)?.core.set_slot(slot, action, keys, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

/// `CLUSTER MEET ip port [bus-port]`.
fn meet(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    if argv.len() > 5 {
        return Err(error::subcommand_syntax(&argv[1], "CLUSTER"));
    }
    let text = |a: &Bytes| String::from_utf8_lossy(a).into_owned();
    let port = args::int(&argv[3]).map_err(|_| {
        CmdError::msg(format!(
            "ERR Invalid TCP base port specified: {}",
            text(&argv[3])
        ))
    })?;
    let cport = match argv.get(4) {
        Some(a) => args::int(a).map_err(|_| {
            CmdError::msg(format!("ERR Invalid TCP bus port specified: {}", text(a)))
        })?,
        None => port.saturating_add(10000),
    };
    let ip = text(&argv[2]);
    let t = now(ctx);
    let r = node(ctx)?.core.meet(&ip, port, cport, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn forget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = String::from_utf8_lossy(&argv[2]).into_owned();
    let t = now(ctx);
    let r = node(ctx)?.core.forget(&id, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn replicate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = String::from_utf8_lossy(&argv[2]).into_owned();
    let empty = db0_empty(ctx);
    let t = now(ctx);
    let r = node(ctx)?.core.replicate(&id, empty, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

/// `CLUSTER RESET [HARD|SOFT]`.
fn reset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    let hard = match argv.get(2) {
        None => false,
        Some(a) if argv.len() == 3 && is(a, "hard") => true,
        Some(a) if argv.len() == 3 && is(a, "soft") => false,
        Some(_) if argv.len() > 3 => return Err(error::subcommand_syntax(&argv[1], "CLUSTER")),
        Some(_) => return Err(error::SYNTAX),
    };
    let empty = db0_empty(ctx);
    let t = now(ctx);
    let r = node(ctx)?.core.reset(hard, empty, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

/// `CLUSTER FAILOVER [FORCE|TAKEOVER]`.
fn failover(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    use redis_cluster::state::FailoverMode;
    node(ctx)?;
    let mode = match argv.get(2) {
        None => FailoverMode::Default,
        Some(a) if argv.len() == 3 && is(a, "force") => FailoverMode::Force,
        Some(a) if argv.len() == 3 && is(a, "takeover") => FailoverMode::Takeover,
        Some(_) if argv.len() > 3 => return Err(error::subcommand_syntax(&argv[1], "CLUSTER")),
        Some(_) => return Err(error::SYNTAX),
    };
    let t = now(ctx);
    let r = node(ctx)?.core.failover(mode, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn bumpepoch(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let t = now(ctx);
    let r = node(ctx)?.core.bump_epoch(t);
    let (bumped, epoch) = apply(ctx, r)?;
    let word = if bumped { "BUMPED" } else { "STILL" };
    ctx.simple(&format!("{word} {epoch}"));
    Ok(())
}

fn set_config_epoch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    let epoch = args::int(&argv[2])?;
    let t = now(ctx);
    let r = node(ctx)?.core.set_config_epoch(epoch, t);
    apply(ctx, r)?;
    ctx.ok();
    Ok(())
}

fn saveconfig(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    node(ctx)?.save_config(true).map_err(|e| {
        CmdError::msg(redis_cluster::nodes_conf::saveconfig_error(
            &redis_common::os::strerror(&e),
        ))
    })?;
    ctx.ok();
    Ok(())
}

fn count_failure_reports(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = String::from_utf8_lossy(&argv[2]).into_owned();
    let t = now(ctx);
    let n = node(ctx)?
        .core
        .count_failure_reports(&id, t)
        .map_err(CmdError::msg)?;
    ctx.int(n as i64);
    Ok(())
}

fn countkeysinslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    let slot = args::int(&argv[2])?;
    let slot = u16::try_from(slot)
        .ok()
        .filter(|s| *s < CLUSTER_SLOTS)
        .ok_or(CmdError::fixed("ERR Invalid slot"))?;
    let n = keys_in_slot(ctx, slot);
    ctx.int(n as i64);
    Ok(())
}

fn getkeysinslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    let slot = args::int(&argv[2])?;
    let max = args::int(&argv[3])?;
    let invalid = CmdError::fixed("ERR Invalid slot or number of keys");
    let slot = u16::try_from(slot)
        .ok()
        .filter(|s| *s < CLUSTER_SLOTS)
        .ok_or(invalid.clone())?;
    let max = usize::try_from(max).map_err(|_| invalid)?;
    let keys = ctx
        .st
        .ks
        .dbs
        .first()
        .and_then(|d| d.slot_index())
        .map(|ix| ix.keys(slot, max))
        .unwrap_or_default();
    ctx.array(keys.len());
    for k in keys {
        ctx.bulk(k.as_ref());
    }
    Ok(())
}

fn keyslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    ctx.int(i64::from(key_hash_slot(&argv[2])));
    Ok(())
}

fn info(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let c = node(ctx)?;
    let mut text = String::new();
    for (k, v) in c.core.info_fields() {
        let v = if k == "total_cluster_links_buffer_limit_exceeded" {
            c.buffer_limit_exceeded.to_string()
        } else {
            v
        };
        text.push_str(&k);
        text.push(':');
        text.push_str(&v);
        text.push_str("\r\n");
    }
    ctx.verbatim(text.as_bytes());
    Ok(())
}

fn nodes(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let text = node(ctx)?.core.nodes_text();
    ctx.verbatim(text.as_bytes());
    Ok(())
}

fn myid(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let id = node(ctx)?.core.myid();
    ctx.bulk(id.as_bytes());
    Ok(())
}

fn replicas(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = String::from_utf8_lossy(&argv[2]).into_owned();
    let lines = node(ctx)?.core.replicas_lines(&id).map_err(CmdError::msg)?;
    ctx.array(lines.len());
    for l in lines {
        ctx.bulk(l.as_bytes());
    }
    Ok(())
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// The endpoint shown for a node and the metadata map that goes with it
/// (`CLUSTER SLOTS`).
fn slots_node(endpoint: Endpoint, n: &redis_cluster::state::SlotEndpoint) -> Frame {
    let mut meta = Vec::new();
    let shown = match endpoint {
        Endpoint::Ip => {
            if !n.hostname.is_empty() {
                meta.push((bulk("hostname"), bulk(&n.hostname)));
            }
            n.ip.clone()
        }
        Endpoint::Hostname => {
            meta.push((bulk("ip"), bulk(&n.ip)));
            if n.hostname.is_empty() {
                "?".to_owned()
            } else {
                n.hostname.clone()
            }
        }
        Endpoint::Unknown => {
            meta.push((bulk("ip"), bulk(&n.ip)));
            if !n.hostname.is_empty() {
                meta.push((bulk("hostname"), bulk(&n.hostname)));
            }
            "?".to_owned()
        }
    };
    Frame::Array(vec![
        bulk(&shown),
        Frame::Integer(i64::from(n.port)),
        bulk(&n.id),
        Frame::Map(meta),
    ])
}

fn slots(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let c = node(ctx)?;
    let endpoint = c.endpoint;
    let ranges = c.core.slots_reply();
    let reply: Vec<Frame> = ranges
        .iter()
        .map(|r| {
            let mut v = vec![
                Frame::Integer(i64::from(r.start)),
                Frame::Integer(i64::from(r.end)),
                slots_node(endpoint, &r.master),
            ];
            v.extend(r.replicas.iter().map(|n| slots_node(endpoint, n)));
            Frame::Array(v)
        })
        .collect();
    ctx.frame(&Frame::Array(reply));
    Ok(())
}

fn shards(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let c = node(ctx)?;
    let endpoint = c.endpoint;
    let shards = c.core.shards_reply();
    let reply: Vec<Frame> = shards
        .iter()
        .map(|s| {
            let slots = s
                .slots
                .iter()
                .flat_map(|(a, b)| [Frame::Integer(i64::from(*a)), Frame::Integer(i64::from(*b))])
                .collect();
            let nodes = s
                .nodes
                .iter()
                .map(|n| {
                    let shown = match endpoint {
                        Endpoint::Ip => n.ip.clone(),
                        Endpoint::Hostname if !n.hostname.is_empty() => n.hostname.clone(),
                        _ => "?".to_owned(),
                    };
                    let mut m = vec![
                        (bulk("id"), bulk(&n.id)),
                        (bulk("port"), Frame::Integer(i64::from(n.port))),
                        (bulk("ip"), bulk(&n.ip)),
                        (bulk("endpoint"), bulk(&shown)),
                    ];
                    if !n.hostname.is_empty() {
                        m.push((bulk("hostname"), bulk(&n.hostname)));
                    }
                    m.push((bulk("role"), bulk(n.role)));
                    m.push((
                        bulk("replication-offset"),
                        Frame::Integer(n.replication_offset.min(i64::MAX as u64) as i64),
                    ));
                    m.push((bulk("health"), bulk(n.health)));
                    Frame::Map(m)
                })
                .collect();
            Frame::Map(vec![
                (bulk("slots"), Frame::Array(slots)),
                (bulk("nodes"), Frame::Array(nodes)),
            ])
        })
        .collect();
    ctx.frame(&Frame::Array(reply));
    Ok(())
}

fn links(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let c = node(ctx)?;
    let reply: Vec<Frame> = c
        .core
        .links_view()
        .iter()
        .map(|l| {
            let buf = c.link_buffers.get(&l.link).copied().unwrap_or_default();
            let events = if buf.used > 0 { "rw" } else { "r" };
            Frame::Map(vec![
                (bulk("direction"), bulk(l.direction)),
                (bulk("node"), bulk(&l.node)),
                (
                    bulk("create-time"),
                    Frame::Integer(l.create_time.min(i64::MAX as u64) as i64),
                ),
                (bulk("events"), bulk(events)),
                (
                    bulk("send-buffer-allocated"),
                    Frame::Integer(buf.allocated as i64),
                ),
                (bulk("send-buffer-used"), Frame::Integer(buf.used as i64)),
            ])
        })
        .collect();
    ctx.frame(&Frame::Array(reply));
    Ok(())
}

/// `CLUSTER SLOT-STATS SLOTSRANGE start end | ORDERBY key-count [LIMIT n]
/// [ASC|DESC]` (Valkey 8 / Redis 8.2): the key count of each slot this
/// node's shard serves, for finding big and hot slots. Only `key-count`
/// is kept (the CPU and network metrics need per-slot accounting we do
/// not do).
fn slot_stats(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    let shard_slots: Vec<u16> = {
        let c = node(ctx)?;
        (0..CLUSTER_SLOTS)
            .filter(|s| c.core.serves_slot_in_my_shard(*s))
            .collect()
    };
    let selected: Vec<u16> = if is(&argv[2], "slotsrange") {
        if argv.len() != 5 {
            return Err(error::SYNTAX);
        }
        let start = slot_arg(&argv[3])?;
        let end = slot_arg(&argv[4])?;
        if start > end {
            return Err(CmdError::msg(format!(
                "ERR Start slot number {start} is greater than end slot number {end}"
            )));
        }
        shard_slots
            .into_iter()
            .filter(|s| (start..=end).contains(s))
            .collect()
    } else if is(&argv[2], "orderby") {
        if !is(&argv[3], "key-count") {
            return Err(CmdError::fixed("ERR Unrecognized sort metric for ORDERBY."));
        }
        let mut limit = 16usize;
        let mut desc = true;
        let mut i = 4;
        while i < argv.len() {
            if is(&argv[i], "limit") && i + 1 < argv.len() {
                limit = args::int(&argv[i + 1])
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| (1..=usize::from(CLUSTER_SLOTS)).contains(n))
                    .ok_or(CmdError::fixed(
                        "ERR Limit has to lie in between 1 and 16384 (maximum number of slots).",
                    ))?;
                i += 2;
            } else if is(&argv[i], "asc") {
                desc = false;
                i += 1;
            } else if is(&argv[i], "desc") {
                desc = true;
                i += 1;
            } else {
                return Err(error::SYNTAX);
            }
        }
        let mut v: Vec<(u16, usize)> = shard_slots
            .into_iter()
            .map(|s| (s, keys_in_slot(ctx, s)))
            .collect();
        // Ties go to the lower slot number either way.
        v.sort_by(|a, b| {
            let by_count = if desc { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) };
            by_count.then(a.0.cmp(&b.0))
        });
        v.into_iter().take(limit).map(|(s, _)| s).collect()
    } else {
        return Err(error::SYNTAX);
    };
    let reply: Vec<Frame> = selected
        .iter()
        .map(|s| {
            Frame::Array(vec![
                Frame::Integer(i64::from(*s)),
                Frame::Map(vec![(
                    bulk("key-count"),
                    Frame::Integer(keys_in_slot(ctx, *s) as i64),
                )]),
            ])
        })
        .collect();
    ctx.frame(&Frame::Array(reply));
    Ok(())
}

fn cluster_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    reply_help(ctx, help::CLUSTER);
    Ok(())
}

fn readonly(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    ctx.client.readonly = true;
    ctx.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    ctx.client.readonly = false;
    ctx.ok();
    Ok(())
}

fn asking(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    node(ctx)?;
    ctx.client.asking = true;
    ctx.ok();
    Ok(())
}

pub const COMMANDS: &[(&str, Handler)] = &[
    ("cluster|addslots", addslots),
    ("cluster|addslotsrange", addslotsrange),
    ("cluster|bumpepoch", bumpepoch),
    ("cluster|count-failure-reports", count_failure_reports),
    ("cluster|countkeysinslot", countkeysinslot),
    ("cluster|delslots", delslots),
    ("cluster|delslotsrange", delslotsrange),
    ("cluster|failover", failover),
    ("cluster|flushslots", flushslots),
    ("cluster|forget", forget),
    ("cluster|getkeysinslot", getkeysinslot),
    ("cluster|help", cluster_help),
    ("cluster|info", info),
    ("cluster|keyslot", keyslot),
    ("cluster|links", links),
    ("cluster|meet", meet),
    ("cluster|myid", myid),
    ("cluster|nodes", nodes),
    ("cluster|replicas", replicas),
    ("cluster|replicate", replicate),
    ("cluster|reset", reset),
    ("cluster|saveconfig", saveconfig),
    ("cluster|set-config-epoch", set_config_epoch),
    ("cluster|setslot", setslot),
    ("cluster|shards", shards),
    ("cluster|slaves", replicas),
    ("cluster|slot-stats", slot_stats),
    ("cluster|slots", slots),
    ("readonly", readonly),
    ("readwrite", readwrite),
    ("asking", asking),
];
