//! `INFO`: every section and field name of upstream 7.0, with the server's
//! own values (the replication section comes from
//! `redis_engine::replica::info_replication`) and upstream's idle values
//! where this server has no such feature (cluster mode).

use redis_engine::table::Handler;
use std::fmt::Write as _;

use bytes::Bytes;

use redis_acl::LogReason;
use redis_engine::ctx::Ctx;
use redis_engine::error::CmdResult;
use redis_engine::state::State;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

const ALL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// # Format
/// `INFO [section [section ...]]`
pub fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut wanted: Vec<String> = Vec::new();
    for a in &argv[1..] {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        match s.as_str() {
            "default" => wanted.extend(DEFAULT.iter().map(|s| s.to_string())),
            "all" | "everything" => wanted.extend(ALL.iter().map(|s| s.to_string())),
            _ => wanted.push(s),
        }
    }
    if argv.len() == 1 {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    let text = render(ctx.st, &wanted, ctx.now);
    ctx.verbatim(text.as_bytes());
    Ok(())
}

/// Renders the requested sections in upstream's order.
pub fn render(st: &State, wanted: &[String], now: i64) -> String {
    let mut out = String::new();
    for sec in ALL {
        if !wanted.iter().any(|w| w == sec) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(st, sec, now, &mut out);
    }
    out
}

fn human(n: u64) -> String {
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    } else {
        format!("{:.2}T", f / 1024.0 / 1024.0 / 1024.0 / 1024.0)
    }
}

fn read_proc(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Resident set size in bytes, from /proc.
pub fn rss_bytes() -> u64 {
    let statm = read_proc("/proc/self/statm");
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn total_system_memory() -> u64 {
    read_proc("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(0, |k| k * 1024)
}

pub use redis_common::os::cpu_times;
use redis_common::os::os_line;

/// Appends section `sec` (lower case) of the reply; a name that is no
/// section adds nothing.
fn section(st: &State, sec: &str, now: i64, o: &mut String) {
    match sec {
        "server" => info_server(st, now, o),
        "clients" => info_clients(st, now, o),
        "memory" => info_memory(st, o),
        "persistence" => info_persistence(st, o),
        "stats" => info_stats(st, o),
        "replication" => {
            o.push_str("# Replication\r\n");
            redis_engine::replica::info_replication(st, now, o);
        }
        "cpu" => info_cpu(o),
        "modules" => o.push_str("# Modules\r\n"),
        "commandstats" => info_commandstats(st, o),
        "errorstats" => info_errorstats(st, o),
        "latencystats" => info_latencystats(st, o),
        "cluster" => {
            let on = u8::from(st.cluster_enabled());
            o.push_str(&format!("# Cluster\r\ncluster_enabled:{on}\r\n"));
        }
        "keyspace" => info_keyspace(st, o),
        _ => {}
    }
}

/// `# Server`: version, process, ports, clocks, files.
fn info_server(st: &State, now: i64, o: &mut String) {
    let up = st.uptime_secs();
    o.push_str("# Server\r\n");
    let _ = write!(
        o,
        "redis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
        st.version,
        os_line(),
        std::process::id(),
        st.supervised,
        st.run_id,
        st.port,
        now * 1000,
        up,
        up / 86400,
        st.hz,
        st.cached.hz,
        st.lru_clock,
        st.executable,
        st.config_file,
    );
    // Only while a shutdown waits for replicas, as upstream.
    if let Some(p) = &st.shutdown_pending {
        let _ = write!(
            o,
            "shutdown_in_milliseconds:{}\r\n",
            (p.deadline_ms - now).max(0)
        );
    }
}

/// `# Clients`: connections, buffer peaks, blocked clients.
fn info_clients(st: &State, now: i64, o: &mut String) {
    // Recent peaks (kept by the cron), and what clients hold now.
    let (peak_in, peak_out) = st.client_peaks.recent_max(now / 1000);
    let recent_in = st
        .clients
        .values()
        .map(|c| c.qbuf)
        .fold(peak_in, usize::max);
    let recent_out = st
        .clients
        .values()
        .map(redis_engine::clients_mem::output_owed)
        .fold(peak_out, usize::max);
    o.push_str("# Clients\r\n");
    let _ = write!(
        o,
        "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
        // Replica links are not counted, as upstream's (clients minus
        // replicas); the primary's link on a replica is.
        st.clients.values().filter(|c| !c.is_replica).count(),
        st.cached.maxclients,
        recent_in,
        recent_out,
        // Clients held by CLIENT PAUSE count as blocked, as upstream.
        st.blocking.waiters.len() + st.postponed.len(),
        st.tracking.clients,
        st.blocking.waiters.values().filter(|w| w.has_deadline).count(),
    );
}

/// The memory figures `INFO memory` and `MEMORY STATS` both report.
pub(crate) struct MemFigures {
    pub used: u64,
    pub rss: u64,
    pub peak: u64,
    pub startup: u64,
    pub backlog: u64,
    pub clients_normal: u64,
    pub clients_replicas: u64,
    pub aof_buffer: u64,
}

impl MemFigures {
    pub(crate) fn of(st: &State) -> MemFigures {
        let used = (st.used_memory)() as u64;
        let (clients_normal, clients_replicas) = st.clients_memory();
        MemFigures {
            used,
            rss: rss_bytes(),
            peak: st.peak_memory.max(used),
            startup: st.startup_memory.min(used),
            backlog: st.repl.backlog.memory() as u64,
            clients_normal,
            clients_replicas,
            aof_buffer: st.aof_buffer_bytes(),
        }
    }
}

/// `# Memory`: the allocator's figures and what they are spent on.
fn info_memory(st: &State, o: &mut String) {
    let m = MemFigures::of(st);
    let (used, rss, peak, startup) = (m.used, m.rss, m.peak, m.startup);
    let sysmem = total_system_memory();
    let maxmem = st.cached.maxmemory.max(0) as u64;
    let dataset = used.saturating_sub(startup);
    let frag = if used > 0 {
        rss as f64 / used as f64
    } else {
        0.0
    };
    let alloc = st.mem_allocator;
    let repl_backlog = m.backlog;
    let repl_buffers = st.repl.buffers_memory();
    let not_counted = st.mem_not_counted_for_evict();
    let (mem_normal, mem_replicas) = (m.clients_normal, m.clients_replicas);
    let aof_buffer = m.aof_buffer;
    let sm = st.scripting.memory();
    let vm_total = sm.vm_eval + sm.vm_functions;
    let scripts_mem = sm.scripts_eval + sm.functions_memory;
    let scripts = format!(
        "used_memory_lua:{}\r\nused_memory_vm_eval:{}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{}\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{}\r\nused_memory_scripts:{scripts_mem}\r\nused_memory_scripts_human:{}\r\n",
        sm.vm_eval,
        sm.vm_eval,
        human(sm.vm_eval as u64),
        sm.scripts_eval,
        sm.cached_scripts,
        sm.functions,
        sm.libraries,
        sm.vm_functions,
        human(vm_total as u64),
        sm.functions_memory,
        human(scripts_mem as u64),
    );
    o.push_str("# Memory\r\n");
    let _ = write!(
        o,
        "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{startup}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{used}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{sysmem}\r\ntotal_system_memory_human:{}\r\n{scripts}maxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:{frag:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:{not_counted}\r\nmem_replication_backlog:{repl_backlog}\r\nmem_total_replication_buffers:{repl_buffers}\r\nmem_clients_slaves:{mem_replicas}\r\nmem_clients_normal:{mem_normal}\r\nmem_cluster_links:0\r\nmem_aof_buffer:{aof_buffer}\r\nmem_allocator:{alloc}\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
        human(used),
        human(rss),
        human(peak),
        if peak > 0 { used as f64 * 100.0 / peak as f64 } else { 0.0 },
        if used > startup { dataset as f64 * 100.0 / (used - startup) as f64 } else { 0.0 },
        human(sysmem),
        human(maxmem),
        st.config.get_str("maxmemory-policy"),
        rss as i64 - used as i64,
        rss as i64 - used as i64,
        st.lazyfree.pending(),
        st.lazyfree.freed(),
    );
}

/// `# Persistence`: RDB saves, AOF and loading.
fn info_persistence(st: &State, o: &mut String) {
    let p = &st.persistence;
    let aof = st.aof_info();
    let (in_progress, done, total, cur_secs) = match &p.bgsave {
        Some(b) => (1, b.keys_done, b.keys_total, b.elapsed_secs()),
        None => (0, 0, 0, -1),
    };
    o.push_str("# Persistence\r\n");
    let _ = write!(
        o,
        "loading:{}\r\nasync_loading:{}\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:{done}\r\ncurrent_save_keys_total:{total}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{in_progress}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{cur_secs}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(p.loading),
        u8::from(p.async_loading),
        st.dirty,
        st.lastsave,
        if p.last_bgsave_ok { "ok" } else { "err" },
        p.last_bgsave_time_sec,
        p.rdb_saves,
        p.last_load_keys_expired,
        p.last_load_keys_loaded,
        aof.0,
        aof.1,
        aof.2,
        aof.6,
        st.aof_current_rewrite_secs(),
        aof.4,
        aof.3,
        aof.5,
    );
}

/// `# Stats`: connection, command, keyspace and network counters, and
/// 7.2's `acl_access_denied_*` (denials per reason, as ACL LOG records
/// them).
fn info_stats(st: &State, o: &mut String) {
    let s = &st.stats;
    let (ops, inkbps, outkbps) = instantaneous(st);
    let repl_in = st.repl.net_input_bytes;
    let repl_out = st.repl.output_bytes();
    let (evict_total, evict_current) = st.eviction_exceeded_ms();
    let migrate_sockets = st.migrate_sockets.len();
    let trk_keys = st.tracking.total_keys();
    let trk_items = st.tracking.total_items();
    let trk_prefixes = st.tracking.total_prefixes();
    o.push_str("# Stats\r\n");
    let _ = write!(
        o,
        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{ops}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:{repl_in}\r\ntotal_net_repl_output_bytes:{repl_out}\r\ninstantaneous_input_kbps:{inkbps:.2}\r\ninstantaneous_output_kbps:{outkbps:.2}\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:{}\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nevicted_clients:{}\r\ntotal_eviction_exceeded_time:{evict_total}\r\ncurrent_eviction_exceeded_time:{evict_current}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:{migrate_sockets}\r\nslave_expires_tracked_keys:{}\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{trk_keys}\r\ntracking_total_items:{trk_items}\r\ntracking_total_prefixes:{trk_prefixes}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\nacl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\nacl_access_denied_key:{}\r\nacl_access_denied_channel:{}\r\n",
        s.total_connections,
        s.total_commands,
        s.net_input_bytes,
        s.net_output_bytes,
        s.rejected_connections,
        st.repl.sync_full,
        st.repl.sync_partial_ok,
        st.repl.sync_partial_err,
        st.ks.expired_keys,
        s.expired_time_cap_reached,
        s.expire_cycle_us / 1000,
        s.evicted_keys,
        s.evicted_clients,
        st.ks.hits,
        st.ks.misses,
        live(&st.pubsub.channels),
        live(&st.pubsub.patterns),
        live(&st.pubsub.shard_channels),
        st.ks.replica_expires.len(),
        s.unexpected_error_replies,
        s.total_error_replies,
        s.total_reads,
        s.total_writes,
        st.acl.log.denied(LogReason::Auth),
        st.acl.log.denied(LogReason::Command),
        st.acl.log.denied(LogReason::Key),
        st.acl.log.denied(LogReason::Channel),
    );
}

/// `# CPU`: the process's CPU times.
fn info_cpu(o: &mut String) {
    let (u, s) = cpu_times();
    o.push_str("# CPU\r\n");
    let _ = write!(
        o,
        "used_cpu_sys:{s:.6}\r\nused_cpu_user:{u:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{s:.6}\r\nused_cpu_user_main_thread:{u:.6}\r\n"
    );
}

/// `# Commandstats`: calls, time and failures per command.
fn info_commandstats(st: &State, o: &mut String) {
    o.push_str("# Commandstats\r\n");
    let names = &st.registry.names;
    for (i, s) in st.cmdstats.iter().enumerate() {
        if s.calls == 0 && s.rejected == 0 && s.failed == 0 {
            continue;
        }
        let per = if s.calls > 0 {
            s.usec as f64 / s.calls as f64
        } else {
            0.0
        };
        let _ = write!(
            o,
            "cmdstat_{}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
            names.get(i).map_or("", |n| n.as_str()),
            s.calls,
            s.usec,
            s.rejected,
            s.failed
        );
    }
}

/// `# Errorstats`: error replies per error code.
fn info_errorstats(st: &State, o: &mut String) {
    o.push_str("# Errorstats\r\n");
    for (k, v) in &st.errorstats {
        let _ = write!(o, "errorstat_{k}:count={v}\r\n");
    }
}

/// `# Latencystats`: latency percentiles per command
/// (`latency-tracking`).
fn info_latencystats(st: &State, o: &mut String) {
    o.push_str("# Latencystats\r\n");
    if !st.cached.latency_tracking {
        return;
    }
    let names = &st.registry.names;
    let percentiles = st.config.latency_percentiles();
    for (i, s) in st.cmdstats.iter().enumerate() {
        let Some(h) = st.latency.get(i).filter(|h| h.count() > 0) else {
            continue;
        };
        if s.calls == 0 {
            continue;
        }
        let values: Vec<String> = percentiles
            .iter()
            .map(|p| format!("p{}={:.3}", percentile_name(*p), h.percentile(*p)))
            .collect();
        let _ = write!(
            o,
            "latency_percentiles_usec_{}:{}\r\n",
            names.get(i).map_or("", |n| n.as_str()),
            values.join(","),
        );
    }
}

/// `# Keyspace`: keys, expiring keys and average TTL per database.
fn info_keyspace(st: &State, o: &mut String) {
    o.push_str("# Keyspace\r\n");
    for (i, db) in st.ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let _ = write!(
            o,
            "db{i}:keys={},expires={},avg_ttl={}\r\n",
            db.len(),
            db.expires_len(),
            db.avg_ttl
        );
    }
}

/// A percentile as upstream names it in `INFO latencystats`: its `%f`
/// text without trailing zeros (`50`, `99.9`).
fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Instantaneous ops/sec and kbps from the cron samples.
fn instantaneous(st: &State) -> (u64, f64, f64) {
    let s = &st.stats.ops_samples;
    match (s.front(), s.back()) {
        (Some(a), Some(b)) if b.0 > a.0 => {
            let dt = (b.0 - a.0) as f64 / 1000.0;
            // Counters can go back (CONFIG RESETSTAT): no negative rates.
            (
                (b.1.saturating_sub(a.1) as f64 / dt) as u64,
                b.2.saturating_sub(a.2) as f64 / dt / 1024.0,
                b.3.saturating_sub(a.3) as f64 / dt / 1024.0,
            )
        }
        _ => (0, 0.0, 0.0),
    }
}

/// Channels (or patterns) with at least one subscriber.
fn live(m: &std::collections::HashMap<bytes::Bytes, Vec<u64>>) -> usize {
    m.values().filter(|v| !v.is_empty()).count()
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[("info", info)];
