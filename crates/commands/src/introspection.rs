//! Introspection commands: `COMMAND` and its subcommands, `SLOWLOG`,
//! `LATENCY` (the latency monitor and histograms), `MEMORY`, `MONITOR`
//! and `TIME`.

use bytes::Bytes;
use redis_resp::Frame;

use crate::args::{self, is};
use crate::help;
use crate::keys::reply_help;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX};
use redis_engine::meta;
use redis_engine::table::{Handler, Registry};

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

fn registered_metas(reg: &Registry) -> Vec<&'static meta::CommandMeta> {
    let mut v: Vec<_> = reg.by_name.values().map(|c| c.meta).collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// # Format
/// `COMMAND`
pub fn command(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let metas = registered_metas(ctx.st.registry);
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
    ctx.int(ctx.st.registry.by_name.len() as i64);
    Ok(())
}

/// # Format
/// `COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]`
pub fn command_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let metas = registered_metas(ctx.st.registry);
    let names: Vec<&str> = match argv.len() {
        // Like upstream, each container's subcommands follow it.
        2 => metas
            .iter()
            .flat_map(|m| std::iter::once(*m).chain(m.subcommands.iter()))
            .map(|m| m.name.as_str())
            .collect(),
        5 if is(&argv[2], "filterby") => {
            let arg = &argv[4];
            if is(&argv[3], "module") {
                Vec::new()
            } else if is(&argv[3], "aclcat") {
                let cat = String::from_utf8_lossy(arg).to_ascii_lowercase();
                metas
                    .iter()
                    .flat_map(|m| std::iter::once(*m).chain(m.subcommands.iter()))
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

fn find_registered(reg: &Registry, name: &[u8]) -> Option<&'static meta::CommandMeta> {
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
        match find_registered(ctx.st.registry, name) {
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
        registered_metas(ctx.st.registry)
    } else {
        argv[2..]
            .iter()
            .filter_map(|n| find_registered(ctx.st.registry, n))
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
    let m = getkeys_meta(ctx, args)?;
    let pos = meta::get_keys(m, args).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.array(pos.len());
    for p in pos {
        ctx.bulk(&args[p]);
    }
    Ok(())
}

/// # Format
/// `COMMAND GETKEYSANDFLAGS command [arg [arg ...]]`
pub fn command_getkeysandflags(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = &argv[2..];
    let m = getkeys_meta(ctx, args)?;
    let keys = meta::get_keys_and_flags(m, args).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    let reply: Vec<Frame> = keys
        .into_iter()
        .filter_map(|(p, flags)| {
            let key = args.get(p)?.clone();
            let flags = flags
                .iter()
                .map(|f| Frame::Simple(Bytes::from_static(f.as_bytes())))
                .collect();
            Some(Frame::Array(vec![Frame::Bulk(key), Frame::Set(flags)]))
        })
        .collect();
    ctx.frame(&Frame::Array(reply));
    Ok(())
}

/// The command `COMMAND GETKEYS` / `GETKEYSANDFLAGS` are asked about
/// (name first in `args`), its arity checked.
fn getkeys_meta(ctx: &Ctx, args: &[Bytes]) -> Result<&'static meta::CommandMeta, CmdError> {
    let reg = ctx.st.registry;
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
    Ok(m)
}

/// # Format
/// `COMMAND HELP`
pub fn command_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::COMMAND);
    Ok(())
}

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
    let rows: Vec<(String, i64, u64, u64)> = ctx
        .st
        .latency_monitor
        .events
        .iter()
        .map(|(name, s)| {
            let last = s.latest();
            (name.clone(), last.time, last.latency, s.max)
        })
        .collect();
    ctx.array(rows.len());
    for (name, time, latency, max) in rows {
        ctx.array(4);
        ctx.bulk(name.as_bytes());
        ctx.int(time);
        ctx.int(latency as i64);
        ctx.int(max as i64);
    }
    Ok(())
}

/// # Format
/// `LATENCY HISTORY event`
pub fn latency_history(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    let samples = ctx
        .st
        .latency_monitor
        .events
        .get(name.as_ref())
        .map(|s| s.samples())
        .unwrap_or_default();
    ctx.array(samples.len());
    for s in samples {
        ctx.array(2);
        ctx.int(s.time);
        ctx.int(s.latency as i64);
    }
    Ok(())
}

/// # Format
/// `LATENCY RESET [event [event ...]]`
pub fn latency_reset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let names: Vec<String> = argv[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let n = ctx.st.latency_monitor.reset(&names);
    ctx.int(n as i64);
    Ok(())
}

/// # Format
/// `LATENCY GRAPH event`
pub fn latency_graph(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]).into_owned();
    let now = ctx.now / 1000;
    match ctx.st.latency_monitor.graph(&name, now) {
        Some(g) => {
            ctx.verbatim(g.as_bytes());
            Ok(())
        }
        None => Err(CmdError::msg(format!(
            "ERR No samples available for event '{name}'"
        ))),
    }
}

/// # Format
/// `LATENCY DOCTOR`
pub fn latency_doctor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let report = ctx.st.latency_monitor.doctor(
        ctx.st.cached.latency_monitor_threshold,
        ctx.st.cached.slowlog_slower_than,
    );
    ctx.verbatim(report.as_bytes());
    Ok(())
}

/// A command's name, calls and cumulative power-of-two buckets.
type HistogramRow = (String, u64, Vec<(u64, u64)>);

/// # Format
/// `LATENCY HISTOGRAM [command [command ...]]`
///
/// Per command (a container command stands for its subcommands too):
/// its calls and the cumulative count of calls at or below each
/// power-of-two number of microseconds where the count grows. Only
/// commands with recorded latencies are listed (`latency-tracking`).
pub fn latency_histogram(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let reg = ctx.st.registry;
    let mut idxs: Vec<usize> = Vec::new();
    if argv.len() == 2 {
        idxs.extend(0..reg.len());
    } else {
        for a in &argv[2..] {
            let cmd = match a.iter().position(|&c| c == b'|') {
                Some(p) => reg
                    .lookup(&a[..p])
                    .and_then(|top| reg.lookup_sub(top, &a[p + 1..])),
                None => reg.lookup(a),
            };
            let Some(cmd) = cmd else { continue };
            for i in std::iter::once(cmd.idx).chain(cmd.subs.values().map(|c| c.idx)) {
                if !idxs.contains(&i) {
                    idxs.push(i);
                }
            }
        }
    }
    let rows: Vec<HistogramRow> = idxs
        .into_iter()
        .filter_map(|i| {
            let h = ctx.st.latency.get(i).filter(|h| h.count() > 0)?;
            let name = reg.names.get(i)?.clone();
            Some((name, h.count(), h.cumulative_pow2()))
        })
        .collect();
    ctx.map(rows.len());
    for (name, calls, buckets) in rows {
        ctx.bulk(name.as_bytes());
        ctx.map(2);
        ctx.bulk(b"calls");
        ctx.int(calls as i64);
        ctx.bulk(b"histogram_usec");
        ctx.map(buckets.len());
        for (bound, n) in buckets {
            ctx.int(i64::try_from(bound).unwrap_or(i64::MAX));
            ctx.int(n as i64);
        }
    }
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

/// # Format
/// `MEMORY STATS`
///
/// Upstream's fields in its order (a map in RESP3, a flat array in RESP2),
/// from the same figures as `INFO memory`; allocator-internal ratios
/// follow our allocator accounting (allocated = active).
pub fn memory_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let st = &*ctx.st;
    let crate::info::MemFigures {
        used,
        rss,
        peak,
        startup,
        backlog,
        clients_normal: normal,
        clients_replicas: replicas,
        aof_buffer: aof,
    } = crate::info::MemFigures::of(st);
    let dbs: Vec<(usize, (usize, usize))> = st
        .ks
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| (i, d.table_overheads()))
        .collect();
    let keys: u64 = st.ks.dbs.iter().map(|d| d.len() as u64).sum();
    let tables: u64 = dbs.iter().map(|(_, (m, e))| (m + e) as u64).sum();
    let overhead = startup + backlog + normal + replicas + aof + tables;
    let net = used.saturating_sub(startup);
    let dataset = used.saturating_sub(overhead);
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    enum V {
        Int(u64),
        Float(f64),
        Db((usize, usize)),
    }
    let mut fields: Vec<(String, V)> = vec![
        ("peak.allocated".into(), V::Int(peak)),
        ("total.allocated".into(), V::Int(used)),
        ("startup.allocated".into(), V::Int(startup)),
        ("replication.backlog".into(), V::Int(backlog)),
        ("clients.slaves".into(), V::Int(replicas)),
        ("clients.normal".into(), V::Int(normal)),
        ("cluster.links".into(), V::Int(0)),
        ("aof.buffer".into(), V::Int(aof)),
        ("lua.caches".into(), V::Int(0)),
        ("functions.caches".into(), V::Int(0)),
    ];
    for (i, t) in &dbs {
        fields.push((format!("db.{i}"), V::Db(*t)));
    }
    fields.extend([
        ("overhead.total".into(), V::Int(overhead)),
        ("keys.count".into(), V::Int(keys)),
        (
            "keys.bytes-per-key".into(),
            V::Int(net.checked_div(keys).unwrap_or(0)),
        ),
        ("dataset.bytes".into(), V::Int(dataset)),
        ("dataset.percentage".into(), V::Float(pct(dataset, net))),
        ("peak.percentage".into(), V::Float(pct(used, peak))),
        ("allocator.allocated".into(), V::Int(used)),
        ("allocator.active".into(), V::Int(used)),
        ("allocator.resident".into(), V::Int(rss)),
        ("allocator-fragmentation.ratio".into(), V::Float(1.0)),
        ("allocator-fragmentation.bytes".into(), V::Int(0)),
        ("allocator-rss.ratio".into(), V::Float(ratio(rss, used))),
        (
            "allocator-rss.bytes".into(),
            V::Int(rss.saturating_sub(used)),
        ),
        ("rss-overhead.ratio".into(), V::Float(1.0)),
        ("rss-overhead.bytes".into(), V::Int(0)),
        ("fragmentation".into(), V::Float(ratio(rss, used))),
        (
            "fragmentation.bytes".into(),
            V::Int(rss.saturating_sub(used)),
        ),
    ]);
    ctx.map(fields.len());
    for (name, v) in fields {
        ctx.bulk(name.as_bytes());
        match v {
            V::Int(n) => ctx.int(i64::try_from(n).unwrap_or(i64::MAX)),
            V::Float(f) => ctx.frame(&redis_resp::Frame::Double(f)),
            V::Db((main, expires)) => {
                ctx.map(3);
                ctx.bulk(b"overhead.hashtable.main");
                ctx.int(main as i64);
                ctx.bulk(b"overhead.hashtable.expires");
                ctx.int(expires as i64);
                ctx.bulk(b"overhead.hashtable.slot-to-keys");
                ctx.int(0);
            }
        }
    }
    Ok(())
}

/// `MEMORY DOCTOR`'s reports, in 7.0's words and order.
const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_FINE: &str = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const DOCTOR_HEAD: &str =
    "Sam, I detected a few issues in this Redis instance memory implants:\n\n";
const DOCTOR_TAIL: &str = "I'm here to keep you safe, Sam. I want to help you.\n";
const DOCTOR_PEAK: &str = " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n";
const DOCTOR_RSS: &str = " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"";
const DOCTOR_RSS_END: &str = "\".\n\n";
const DOCTOR_REPLICAS: &str = " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n";
const DOCTOR_CLIENTS: &str = " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n";

/// The `MEMORY DOCTOR` report for these figures (upstream's thresholds;
/// the allocator-internal checks cannot fire with our accounting, where
/// allocated equals active and resident is the process RSS).
fn doctor_report(
    allocator: &str,
    used: u64,
    peak: u64,
    rss: u64,
    replicas: (u64, u64),
    normal: (u64, u64),
) -> String {
    const MB: u64 = 1024 * 1024;
    if used < 5 * MB {
        return DOCTOR_EMPTY.to_string();
    }
    let mut issues = String::new();
    if peak as f64 / used as f64 > 1.5 {
        issues.push_str(DOCTOR_PEAK);
    }
    if rss as f64 / used as f64 > 1.4 && rss.saturating_sub(used) > 10 * MB {
        issues.push_str(DOCTOR_RSS);
        issues.push_str(allocator);
        issues.push_str(DOCTOR_RSS_END);
    }
    let (replica_buf, replica_count) = replicas;
    if replica_count > 0 && replica_buf / replica_count > 10 * MB {
        issues.push_str(DOCTOR_REPLICAS);
    }
    let (normal_buf, normal_count) = normal;
    if normal_count > 0 && normal_buf / normal_count > 200 * 1024 {
        issues.push_str(DOCTOR_CLIENTS);
    }
    if issues.is_empty() {
        DOCTOR_FINE.to_string()
    } else {
        format!("{DOCTOR_HEAD}{issues}{DOCTOR_TAIL}")
    }
}

/// # Format
/// `MEMORY DOCTOR`: upstream's memory problems report.
pub fn memory_doctor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let st = &*ctx.st;
    let f = crate::info::MemFigures::of(st);
    let replica_count = st.clients.values().filter(|c| c.is_replica).count() as u64;
    let normal_count = st.clients.values().filter(|c| !c.is_replica).count() as u64;
    let text = doctor_report(
        st.mem_allocator,
        f.used,
        f.peak,
        f.rss,
        (f.clients_replicas, replica_count),
        (f.clients_normal, normal_count),
    );
    ctx.verbatim(text.as_bytes());
    Ok(())
}

/// # Format
/// `MEMORY PURGE`: asks the allocator to return dirty pages; always OK.
pub fn memory_purge(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.ok();
    Ok(())
}

/// # Format
/// `MEMORY MALLOC-STATS`: upstream's answer for an allocator whose report
/// it cannot print (ours does not expose jemalloc's).
pub fn memory_malloc_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.verbatim(b"Stats not supported for the current allocator");
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("time", time),
    ("monitor", monitor),
    ("command", command),
    ("command|count", command_count),
    ("command|docs", command_docs),
    ("command|getkeys", command_getkeys),
    ("command|getkeysandflags", command_getkeysandflags),
    ("command|help", command_help),
    ("command|info", command_info),
    ("command|list", command_list),
    ("slowlog|get", slowlog_get),
    ("slowlog|len", slowlog_len),
    ("slowlog|reset", slowlog_reset),
    ("slowlog|help", slowlog_help),
    ("latency|latest", latency_latest),
    ("latency|history", latency_history),
    ("latency|reset", latency_reset),
    ("latency|graph", latency_graph),
    ("latency|doctor", latency_doctor),
    ("latency|histogram", latency_histogram),
    ("latency|help", latency_help),
    ("memory|usage", memory_usage),
    ("memory|help", memory_help),
    ("memory|stats", memory_stats),
    ("memory|purge", memory_purge),
    ("memory|doctor", memory_doctor),
    ("memory|malloc-stats", memory_malloc_stats),
];

#[cfg(test)]
mod doctor_tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn doctor_reports_as_upstream() {
        assert_eq!(
            doctor_report("a", MB, 2 * MB, MB, (0, 0), (0, 1)),
            DOCTOR_EMPTY
        );
        assert_eq!(
            doctor_report("a", 50 * MB, 60 * MB, 55 * MB, (0, 0), (0, 1)),
            DOCTOR_FINE
        );
        let r = doctor_report("a", 50 * MB, 100 * MB, 90 * MB, (0, 0), (MB, 2));
        assert!(r.starts_with(DOCTOR_HEAD), "{r}");
        assert!(
            r.contains(DOCTOR_PEAK)
                && r.contains(&format!("{DOCTOR_RSS}a{DOCTOR_RSS_END}"))
                && r.contains(DOCTOR_CLIENTS)
        );
        assert!(!r.contains(DOCTOR_REPLICAS));
        assert!(r.ends_with(DOCTOR_TAIL));
        let r = doctor_report("a", 50 * MB, 50 * MB, 50 * MB, (30 * MB, 2), (0, 1));
        assert_eq!(r, format!("{DOCTOR_HEAD}{DOCTOR_REPLICAS}{DOCTOR_TAIL}"));
    }
}
