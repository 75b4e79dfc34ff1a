//! The server state shared by all connections ([`State`]): the keyspace,
//! the configuration and the values cached from it
//! ([`State::apply_config`]), the client registry, statistics, the log
//! sink and the periodic cron ([`State::cron`], upstream `serverCron`).
//! Commands run against it through [`crate::dispatch`]; every subsystem
//! (persistence, replication, blocking, pub/sub, …) adds its own
//! `impl State` in its module.
//!
//! Lock ordering: the server holds exactly one lock, the `Mutex<State>`; it is
//! taken once per batch of pipelined commands. Nothing in here awaits.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;
use redis_config::Config;
use redis_storage::Keyspace;
use tokio::sync::Notify;

use crate::blocking::Blocking;
use crate::client::{Client, ClientInfo};
use crate::histogram::Histogram;
use crate::monitor::SlowlogEntry;
use crate::pubsub::{NotifyFlags, PubSub};
use crate::table::Registry;

/// Per-command statistics (`INFO commandstats`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

/// Server-wide counters (`INFO stats`).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub total_commands: u64,
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Errors sent to our primary (`unexpected_error_replies`).
    pub unexpected_error_replies: u64,
    pub evicted_keys: u64,
    /// Clients closed by client eviction (`maxmemory-clients`).
    pub evicted_clients: u64,
    /// Active expiry passes that stopped at their time limit.
    pub expired_time_cap_reached: u64,
    /// Wall time spent in active expiry, in microseconds.
    pub expire_cycle_us: u64,
    pub total_reads: u64,
    pub total_writes: u64,
    /// Ring of (time ms, commands) samples for `instantaneous_ops_per_sec`.
    pub ops_samples: VecDeque<(i64, u64, u64, u64)>,
}

/// What `SHUTDOWN` asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShutdownRequest {
    pub nosave: bool,
    pub save: bool,
    pub now: bool,
    pub force: bool,
    /// The process exit status (0 for `SHUTDOWN`; 1 where upstream calls
    /// `exit(1)`, e.g. a failed `DEBUG LOADAOF`).
    pub exit_code: i32,
}

/// Configuration values read on the hot path, refreshed by
/// [`State::apply_config`] whenever the configuration changes.
#[derive(Clone, Debug, Default)]
pub struct Cached {
    pub requirepass: Option<Bytes>,
    pub maxclients: u64,
    pub timeout_secs: u64,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: i64,
    pub databases: usize,
    pub hz: u64,
    pub protected_mode: bool,
    pub enable_debug: String,
    pub enable_module: String,
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: u64,
    pub maxmemory: i64,
    pub tcp_keepalive: u64,
    pub min_replicas_to_write: i64,
    pub min_replicas_max_lag: i64,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub stop_writes_on_bgsave_error: bool,
    /// client-output-buffer-limit for normal, replica, pubsub clients.
    pub obuf_limits: [redis_config::BufferLimit; 3],
    /// The hard output limit replicas get: `client-output-buffer-limit
    /// replica`'s, raised to `repl-backlog-size` when set lower (as 7.0
    /// does: a replica that could resume from the backlog is not cut).
    pub replica_hard_limit: u64,
    /// Encoding thresholds every write of these types reads.
    pub hash_limits: redis_storage::hash::HashLimits,
    pub zset_limits: redis_storage::zset::Limits,
    pub set_max_intset_entries: usize,
    /// A replica neither evicts nor refuses writes for `maxmemory`.
    pub replica_ignore_maxmemory: bool,
    /// The cron moves incremental rehashing forward.
    pub activerehashing: bool,
    /// The cron runs faster with many clients (`dynamic-hz`).
    pub dynamic_hz: bool,
    /// `active-expire-effort` (1-10).
    pub active_expire_effort: i64,
    /// `maxmemory-eviction-tenacity` (0-100).
    pub eviction_tenacity: i64,
    /// `latency-monitor-threshold` in ms (0: the monitor is off).
    pub latency_monitor_threshold: i64,
    /// `latency-tracking`: per-command latency histograms.
    pub latency_tracking: bool,
    /// `lazyfree-lazy-eviction`, `-user-del`, `-user-flush`; `-expire`
    /// and `-server-del` are applied to the keyspace.
    pub lazy_eviction: bool,
    pub lazy_user_del: bool,
    pub lazy_user_flush: bool,
    /// A replica empties its dataset for a full sync in the background.
    pub replica_lazy_flush: bool,
    /// `maxmemory-clients` in bytes (a percentage resolved against
    /// `maxmemory`); 0 disables client eviction.
    pub maxmemory_clients: u64,
}

/// Everything behind the server lock.
pub struct State {
    /// The command table (built once by the binary from the handler lists).
    pub registry: &'static Registry,
    pub ks: Keyspace,
    pub config: Config,
    pub cached: Cached,
    pub stats: Stats,
    pub cmdstats: Vec<CmdStat>,
    pub errorstats: BTreeMap<String, u64>,
    pub clients: BTreeMap<u64, ClientInfo>,
    pub next_client_id: u64,
    pub monitors: Vec<u64>,
    pub slowlog: VecDeque<SlowlogEntry>,
    pub slowlog_next_id: u64,
    /// Changes since the last save.
    pub dirty: u64,
    pub lastsave: i64,
    pub start_ms: i64,
    pub start_instant: Instant,
    pub run_id: String,
    pub port: u16,
    pub executable: String,
    pub config_file: String,
    pub lru_clock: u32,
    pub rng: StdRng,
    pub shutdown: Option<ShutdownRequest>,
    /// Woken when `shutdown` is set.
    pub shutdown_notify: Arc<Notify>,
    /// Lua scripts: the interpreter, the running script, the busy state.
    pub scripting: crate::script::Scripting,
    /// Whether the server was out of memory when the current command was
    /// checked (upstream's `pre_command_oom_state`; scripts decide by it).
    pub pre_command_oom: bool,
    /// The error the current command is about to reply was counted in
    /// `INFO errorstats` already (a script's error that came from a
    /// command it called, upstream's `ERR_REPLY_FLAG_NO_STATS_UPDATE`).
    pub error_counted: bool,
    /// `CLIENT PAUSE`: deadline in ms and whether only writes are paused.
    pub pause: Option<(i64, bool)>,
    pub supervised: String,
    pub version: &'static str,
    /// Bytes allocated by the process, provided by the binary's allocator.
    pub used_memory: fn() -> usize,
    /// `INFO` `mem_allocator` (the binary names its allocator).
    pub mem_allocator: &'static str,
    pub peak_memory: u64,
    pub startup_memory: u64,
    /// Per-command latency histograms, indexed like `cmdstats`.
    pub latency: Vec<Histogram>,
    /// `DEBUG SET-ACTIVE-EXPIRE`.
    pub active_expire: bool,
    /// `DEBUG QUICKLIST-PACKED-THRESHOLD`: list elements this long or
    /// longer are saved as plain quicklist nodes (default 1 GB).
    pub list_packed_threshold: usize,
    /// `DEBUG AOF-FLUSH-SLEEP`: microseconds the AOF writer sleeps before
    /// each write (kept for writers created later).
    pub aof_flush_sleep_us: u64,
    /// `DEBUG SET-SKIP-CHECKSUM-VALIDATION`: `RESTORE` skips the payload's
    /// CRC64 check.
    pub skip_checksum_validation: bool,
    /// A rewrite started by `BGREWRITEAOF` while the AOF is off: the AOF
    /// directory it installs its base in, and whether it is an RDB.
    pub aof_off_rewrite: Option<(redis_aof::manifest::AofDir, bool)>,
    /// `BGREWRITEAOF` with the AOF off, waiting for a snapshot to end.
    pub aof_off_rewrite_scheduled: bool,
    /// Where log lines go (the server installs its logger).
    pub log_sink: LogSink,
    /// Changes the threshold of the server's logger (`CONFIG SET
    /// loglevel`); the server installs it.
    pub set_log_level: fn(LogLevel),
    /// Sets the role letter of the server's log lines (`M`, `S`) the
    /// moment the role changes; the server installs it.
    pub set_log_role: fn(char),
    pub pubsub: PubSub,
    /// Client-side caching (`CLIENT TRACKING`).
    pub tracking: crate::tracking::Tracking,
    pub notify_flags: NotifyFlags,
    /// Keys of the running write command that did not exist before it
    /// (only tracked when `new` events are enabled): the first key event on
    /// one that now exists is preceded by a `new` event, like upstream's
    /// notification from `dbAdd`.
    pub new_candidates: Vec<(usize, Bytes)>,
    pub blocking: Blocking,
    /// `WATCH`ed keys: (db, key) → watching client ids.
    pub watched: HashMap<(usize, Bytes), Vec<u64>>,
    /// Watches taken on a key that had already expired (but was not yet
    /// deleted): its later deletion by expiry is no change for that
    /// client, as in upstream 7.0. (client id, db, key).
    pub watched_expired: HashSet<(u64, usize, Bytes)>,
    /// Clients whose watched keys were touched: their `EXEC` fails.
    pub cas_dirty: HashSet<u64>,
    /// Start time of the next command (see [`State::begin_batch`]).
    pub clock_mark: Instant,
    pub persistence: crate::persist::Persistence,
    /// Wakes the background driver (a save or sync was started).
    pub bg_notify: Arc<Notify>,
    pub repl: crate::replication::Replication,
    /// Set when this server is a replica: the primary it follows and the
    /// link status the replication task maintains.
    pub master: Option<crate::replica::MasterLink>,
    /// Wakes the replica-side task when `REPLICAOF` changes the primary.
    pub repl_notify: Arc<Notify>,
    /// Clients blocked in `WAIT`: (id, replicas wanted, offset).
    pub wait_clients: Vec<(u64, i64, i64)>,
    /// Clients whose next command `CLIENT PAUSE` holds (INFO counts them
    /// in `blocked_clients`, CLIENT LIST flags them `b`, as upstream's
    /// postponed clients).
    pub postponed: HashSet<u64>,
    /// The append-only file, when `appendonly yes`.
    pub aof: Option<crate::aof::AofState>,
    /// When a replica last logged that it applies writes it cannot persist.
    pub last_disk_error_log_ms: i64,
    /// The running listeners, installed by the server once it serves
    /// (`CONFIG SET port|bind|unixsocket` rebinds them).
    pub listeners: Option<Arc<redis_net::Acceptors>>,
    /// Cluster mode (`cluster-enabled yes`), once started.
    pub cluster: Option<Box<crate::cluster::ClusterNode>>,
    /// A `FAILOVER` waiting for its target to catch up.
    pub failover: Option<crate::failover::Failover>,
    /// A shutdown waiting for replicas to catch up (`shutdown-timeout`).
    pub shutdown_pending: Option<crate::shutdown::PendingShutdown>,
    /// The cron's current frequency: `hz`, raised with many clients when
    /// `dynamic-hz` is on.
    pub hz: u64,
    /// `latency-monitor-threshold` events (`LATENCY`).
    pub latency_monitor: crate::latency::LatencyMonitor,
    /// The thread freeing big values and flushed databases.
    pub lazyfree: redis_storage::lazyfree::LazyFree,
    /// Eviction stopped at its time limit with memory still over
    /// `maxmemory`: the cron goes on evicting (upstream's eviction time
    /// proc).
    pub evict_running: bool,
    /// Since when memory has been over `maxmemory`, and the total time it
    /// was over before (ms), for `INFO stats`.
    pub evict_exceeded_since: Option<Instant>,
    pub evict_exceeded_total_ms: u64,
    /// Recent peaks of clients' input and output buffers (see
    /// [`State::clients_cron`]).
    pub client_peaks: crate::clients_mem::Peaks,
    /// Set by `FLUSHALL` with save points: the dispatcher saves the
    /// (empty) dataset right after the command (see
    /// [`State::save_after_flushall`]).
    pub save_after_command: bool,
    /// What `oom-score-adj` last did to the process.
    pub oom: crate::oom::OomScore,
    /// Turns the allocator's background threads on or off
    /// (`jemalloc-bg-thread`; the binary installs its allocator's switch).
    pub set_allocator_bg_thread: fn(bool),
    /// `DEBUG PAUSE-CRON 1`: the cron does nothing until resumed.
    pub cron_paused: bool,
    /// Memory of evicted clients whose connections have not ended yet.
    pub clients_freeing: u64,
    /// Sets the process title (`ps`, `/proc/<pid>/cmdline`); a no-op
    /// unless the binary installs one.
    pub set_proc_title: fn(&str),
    /// The title last set, so it is rewritten only when it changes.
    pub proc_title: Option<String>,
    /// `argv[0]` as the server was started (`{title}` in
    /// `proc-title-template`).
    pub exec_argv0: String,
    /// The `jemalloc-bg-thread` value last applied.
    pub allocator_bg_thread: Option<bool>,
    /// The connections `MIGRATE` keeps open to its targets.
    pub migrate_sockets: crate::migrate_cache::MigrateCache,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
}

/// The function log lines are handed to.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

pub use redis_common::log::LogLevel;

/// The version we report: the upstream release we are compatible with.
pub const REDIS_VERSION: &str = "7.0.15";

impl State {
    /// A fresh state for `config`.
    pub fn new(config: Config, now_ms: i64, registry: &'static Registry) -> State {
        let mut rng = StdRng::from_entropy();
        let run_id = random_hex(&mut rng);
        let replid = random_hex(&mut rng);
        let mut st = State {
            registry,
            ks: Keyspace::new(1),
            config,
            cached: Cached::default(),
            stats: Stats::default(),
            cmdstats: vec![CmdStat::default(); registry.len()],
            errorstats: BTreeMap::new(),
            clients: BTreeMap::new(),
            next_client_id: 1,
            monitors: Vec::new(),
            slowlog: VecDeque::new(),
            slowlog_next_id: 0,
            dirty: 0,
            lastsave: now_ms / 1000,
            start_ms: now_ms,
            start_instant: Instant::now(),
            run_id,
            port: 0,
            executable: String::new(),
            config_file: String::new(),
            lru_clock: lru_clock(now_ms),
            rng,
            shutdown: None,
            shutdown_notify: Arc::new(Notify::new()),
            scripting: crate::script::Scripting::default(),
            pre_command_oom: false,
            error_counted: false,
            pause: None,
            supervised: "no".into(),
            version: REDIS_VERSION,
            used_memory: || 0,
            mem_allocator: "libc",
            peak_memory: 0,
            startup_memory: 0,
            latency: vec![Histogram::default(); registry.len()],
            active_expire: true,
            list_packed_threshold: redis_rdb::DEFAULT_PACKED_THRESHOLD,
            aof_flush_sleep_us: 0,
            skip_checksum_validation: false,
            aof_off_rewrite: None,
            aof_off_rewrite_scheduled: false,
            log_sink: Arc::new(|_, _| {}),
            set_log_level: |_| {},
            set_log_role: |_| {},
            pubsub: PubSub::default(),
            tracking: crate::tracking::Tracking::default(),
            notify_flags: NotifyFlags::default(),
            new_candidates: Vec::new(),
            blocking: Blocking::default(),
            watched: HashMap::new(),
            cas_dirty: HashSet::new(),
            watched_expired: HashSet::new(),
            clock_mark: Instant::now(),
            persistence: crate::persist::Persistence::default(),
            bg_notify: Arc::new(Notify::new()),
            repl: crate::replication::Replication::new(redis_replication::ReplIds::new(replid), 0),
            master: None,
            repl_notify: Arc::new(Notify::new()),
            wait_clients: Vec::new(),
            postponed: HashSet::new(),
            aof: None,
            last_disk_error_log_ms: 0,
            listeners: None,
            cluster: None,
            failover: None,
            shutdown_pending: None,
            hz: 10,
            latency_monitor: crate::latency::LatencyMonitor::default(),
            lazyfree: redis_storage::lazyfree::LazyFree::new(),
            evict_running: false,
            evict_exceeded_since: None,
            evict_exceeded_total_ms: 0,
            client_peaks: crate::clients_mem::Peaks::default(),
            save_after_command: false,
            oom: crate::oom::OomScore::default(),
            set_allocator_bg_thread: |_| {},
            set_proc_title: |_| {},
            cron_paused: false,
            clients_freeing: 0,
            proc_title: None,
            exec_argv0: String::new(),
            allocator_bg_thread: None,
            migrate_sockets: Default::default(),
            acl: crate::acl::Acl::new(registry),
        };
        st.apply_config();
        st.ks = Keyspace::new(st.cached.databases);
        // The fresh keyspace needs the policy-derived settings too.
        st.apply_config();
        st
    }

    /// Refreshes the cached configuration values.
    pub fn apply_config(&mut self) {
        if let Some(cl) = self.cluster.as_mut() {
            cl.reconfigure(&self.config, self.port);
        }
        let c = &self.config;
        let pass = c.get_str("requirepass");
        self.acl.apply_config(c);
        let usize_of = |name: &str| usize::try_from(c.get_int(name)).unwrap_or(0);
        self.cached = Cached {
            requirepass: if pass.is_empty() {
                None
            } else {
                Some(Bytes::copy_from_slice(pass.as_bytes()))
            },
            maxclients: c.get_int("maxclients").max(1) as u64,
            timeout_secs: c.get_int("timeout").max(0) as u64,
            proto_max_bulk_len: c.get_int("proto-max-bulk-len"),
            client_query_buffer_limit: c.get_int("client-query-buffer-limit"),
            databases: c.get_int("databases").clamp(1, 1 << 20) as usize,
            hz: c.get_int("hz").clamp(1, 500) as u64,
            protected_mode: c.get_bool("protected-mode"),
            enable_debug: c.get_str("enable-debug-command").to_string(),
            enable_module: c.get_str("enable-module-command").to_string(),
            slowlog_slower_than: c.get_int("slowlog-log-slower-than"),
            slowlog_max_len: c.get_int("slowlog-max-len").max(0) as u64,
            maxmemory: c.get_int("maxmemory"),
            tcp_keepalive: c.get_int("tcp-keepalive").max(0) as u64,
            min_replicas_to_write: c.get_int("min-replicas-to-write"),
            min_replicas_max_lag: c.get_int("min-replicas-max-lag"),
            replica_read_only: c.get_bool("replica-read-only"),
            replica_serve_stale_data: c.get_bool("replica-serve-stale-data"),
            stop_writes_on_bgsave_error: c.get_bool("stop-writes-on-bgsave-error"),
            obuf_limits: c.client_output_buffer_limits(),
            replica_hard_limit: {
                let hard = c.client_output_buffer_limits()[1].hard;
                let backlog = u64::try_from(c.get_int("repl-backlog-size")).unwrap_or(0);
                if hard > 0 && hard < backlog {
                    backlog
                } else {
                    hard
                }
            },
            hash_limits: redis_storage::hash::HashLimits {
                max_entries: usize_of("hash-max-listpack-entries"),
                max_value: usize_of("hash-max-listpack-value"),
            },
            zset_limits: redis_storage::zset::Limits {
                max_entries: usize_of("zset-max-listpack-entries"),
                max_value: usize_of("zset-max-listpack-value"),
            },
            set_max_intset_entries: usize_of("set-max-intset-entries"),
            replica_ignore_maxmemory: c.get_bool("replica-ignore-maxmemory"),
            activerehashing: c.get_bool("activerehashing"),
            dynamic_hz: c.get_bool("dynamic-hz"),
            active_expire_effort: c.get_int("active-expire-effort").clamp(1, 10),
            eviction_tenacity: c.get_int("maxmemory-eviction-tenacity").clamp(0, 100),
            latency_monitor_threshold: c.get_int("latency-monitor-threshold").max(0),
            latency_tracking: c.get_bool("latency-tracking"),
            lazy_eviction: c.get_bool("lazyfree-lazy-eviction"),
            lazy_user_del: c.get_bool("lazyfree-lazy-user-del"),
            lazy_user_flush: c.get_bool("lazyfree-lazy-user-flush"),
            replica_lazy_flush: c.get_bool("replica-lazy-flush"),
            maxmemory_clients: match c.maxmemory_clients() {
                Ok(bytes) => bytes,
                // A percentage of maxmemory (none without maxmemory).
                Err(pct) => {
                    u64::try_from(c.get_int("maxmemory"))
                        .unwrap_or(0)
                        .saturating_mul(pct)
                        / 100
                }
            },
        };
        let lazy = self.lazyfree.clone();
        self.ks.set_lazyfree(
            &lazy,
            self.config.get_bool("lazyfree-lazy-expire"),
            self.config.get_bool("lazyfree-lazy-server-del"),
        );
        self.hz = self.effective_hz();
        let bg_thread = self.config.get_bool("jemalloc-bg-thread");
        if self.allocator_bg_thread != Some(bg_thread) {
            (self.set_allocator_bg_thread)(bg_thread);
            self.allocator_bg_thread = Some(bg_thread);
        }
        self.apply_oom_score_adj();
        while self.slowlog.len() as u64 > self.cached.slowlog_max_len {
            self.slowlog.pop_back();
        }
        self.ks.policy = crate::evict::access_policy(
            self.config.get_str("maxmemory-policy"),
            self.config.get_int("lfu-log-factor"),
            self.config.get_int("lfu-decay-time"),
        );
        // CONFIG SET repl-backlog-size keeps the newest history that fits.
        let backlog_size = usize::try_from(self.config.get_int("repl-backlog-size")).unwrap_or(0);
        self.repl.backlog.resize(backlog_size);
        self.tracking.max_keys =
            u64::try_from(self.config.get_int("tracking-table-max-keys")).unwrap_or(0);
        self.notify_flags = NotifyFlags::parse(&self.config.notify_keyspace_letters());
        self.ks.track_misses = self.notify_flags.wants('m');
        if !self.ks.track_misses {
            self.ks.missed.clear();
        }
        if self.config.get_bool("set-proc-title") {
            let title = self.config.proc_title(&self.exec_argv0, &self.config_file);
            if self.proc_title.as_deref() != Some(title.as_str()) {
                (self.set_proc_title)(&title);
                self.proc_title = Some(title);
            }
        }
        if self.cached.maxmemory <= 0 {
            redis_storage::dict::set_keyspace_grow_budget(u64::MAX);
        }
        // CONFIG SET aof-timestamp-enabled applies from the next command.
        let timestamps = self.config.get_bool("aof-timestamp-enabled");
        if let Some(aof) = self.aof.as_mut() {
            aof.feeder.timestamps = timestamps;
        }
    }

    /// Marks the start of a batch of commands for latency accounting.
    pub fn begin_batch(&mut self) {
        self.clock_mark = Instant::now();
    }

    /// Registers a new client and returns its id.
    pub fn add_client(&mut self, mut info: ClientInfo) -> u64 {
        let id = self.next_client_id;
        self.next_client_id += 1;
        info.id = id;
        self.clients.insert(id, info);
        self.stats.total_connections += 1;
        id
    }

    /// Forgets everything about a departing client: subscriptions, watched
    /// keys, blocking registration, and its entry.
    pub fn forget_client(&mut self, c: &Client) {
        crate::pubsub::forget(self, c);
        self.tracking_disable(c.id);
        self.unwatch_all(c.id, &c.watched);
        self.unblock(c.id);
        self.wait_clients.retain(|w| w.0 != c.id);
        self.postponed.remove(&c.id);
        if c.is_replica_link {
            self.drop_replica(c.id);
        }
        self.remove_client(c.id);
    }

    /// Forgets a client.
    pub fn remove_client(&mut self, id: u64) {
        if let Some(c) = self.clients.remove(&id) {
            self.clients_freeing = self.clients_freeing.saturating_sub(c.freeing_mem as u64);
        }
        self.monitors.retain(|&m| m != id);
    }

    /// Periodic work (upstream `serverCron`), called `hz` times a second.
    pub fn cron(&mut self, now: i64) {
        // `DEBUG PAUSE-CRON 1`: nothing periodic runs (tests).
        if self.cron_paused {
            return;
        }
        self.lru_clock = lru_clock(now);
        self.hz = self.effective_hz();
        if self.active_expire {
            self.active_expire_cron(now);
        }
        if self.tracking.clients > 0 {
            self.tracking_limit();
        }
        let used = (self.used_memory)() as u64;
        self.peak_memory = self.peak_memory.max(used);
        // Move incremental rehashing forward a little, as upstream's cron
        // does with `activerehashing yes` (1 ms per database each time).
        if self.cached.activerehashing {
            for db in &mut self.ks.dbs {
                db.rehash_step(std::time::Duration::from_micros(500));
            }
        }
        let s = &mut self.stats;
        s.ops_samples
            .push_back((now, s.total_commands, s.net_input_bytes, s.net_output_bytes));
        while s.ops_samples.len() > 16 {
            s.ops_samples.pop_front();
        }
        if self.ks.is_replica {
            // Keys a writable replica's own clients gave a deadline.
            if self.ks.expire_replica_local_keys(now) > 0 {
                self.drain_expired();
            }
        } else if !self.ks.replica_expires.is_empty() {
            self.ks.replica_expires.clear();
        }
        self.clients_cron(now);
        self.apply_oom_score_adj();
        if self.evict_running {
            self.evict_running = false;
            self.perform_evictions(now);
        }
        self.check_save_points(now / 1000);
        self.aof_cron();
        self.failover_cron(now);
        self.replication_cron(now);
        self.shutdown_cron(now);
        self.migrate_sockets.close_idle(now / 1000);
        if self.persistence.bgsave.is_some() {
            self.bg_notify.notify_one();
        }
        if let Some((deadline, _)) = self.pause {
            if now >= deadline {
                self.pause = None;
            }
        }
        // What the cron's expiry and evictions invalidated for BCAST
        // clients goes out now (upstream: before sleeping).
        self.tracking_broadcast(None);
    }

    /// The cron frequency for now: `hz`, doubled (up to 500) while there
    /// are more than 200 clients per tick, with `dynamic-hz`.
    fn effective_hz(&self) -> u64 {
        let mut hz = self.cached.hz.max(1);
        if self.cached.dynamic_hz {
            let clients = self.clients.len() as u64;
            while clients / hz > 200 && hz < 500 {
                hz = (hz * 2).min(500);
            }
        }
        hz
    }

    /// Active expiry with `active-expire-effort`: each unit of effort
    /// above 1 samples more keys per round, tolerates fewer expired keys
    /// before moving on and may take a larger share of the cron period
    /// (upstream's scaling: 20 keys + 5 per unit, 10% stale − 1 per unit,
    /// 25% of the period + 2 per unit). A slow pass is an `expire-cycle`
    /// latency event.
    fn active_expire_cron(&mut self, now: i64) {
        let effort = (self.cached.active_expire_effort - 1).clamp(0, 9) as usize;
        let percent_of_period = 25 + 2 * effort as u64;
        let cycle = redis_storage::keyspace::ExpireCycle {
            per_sample: 20 + 5 * effort,
            acceptable_stale_percent: 10 - effort,
            time_limit: std::time::Duration::from_micros(
                1_000_000 * percent_of_period / self.hz.max(1) / 100,
            ),
        };
        let start = Instant::now();
        let res = self.ks.active_expire_cycle(now, &cycle, &mut self.rng);
        let took = start.elapsed();
        self.stats.expire_cycle_us += took.as_micros() as u64;
        if res.time_cap_reached {
            self.stats.expired_time_cap_reached += 1;
        }
        let ms = took.as_millis() as u64;
        self.latency_monitor.add_if_needed(
            self.cached.latency_monitor_threshold,
            "expire-cycle",
            ms,
            now / 1000,
        );
        if res.expired > 0 {
            self.drain_expired();
        }
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.start_instant.elapsed().as_secs()
    }
}

pub use redis_common::time::{now_ms, unix_secs};

/// The 24-bit LRU clock in seconds, as upstream's `LRU_CLOCK`.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u64 & ((1 << 24) - 1)) as u32
}

/// Logs a warning through the installed sink.
impl State {
    pub fn log_warning(&self, msg: &str) {
        (self.log_sink)(LogLevel::Warning, msg);
    }

    /// Logs at notice level.
    pub fn log_notice(&self, msg: &str) {
        (self.log_sink)(LogLevel::Notice, msg);
    }

    /// Logs a line of `redis-replication` at its level.
    pub fn log(&self, level: redis_common::log::LogLevel, msg: &str) {
        use redis_common::log::LogLevel as L;
        let level = match level {
            L::Debug => LogLevel::Debug,
            L::Verbose => LogLevel::Verbose,
            L::Notice => LogLevel::Notice,
            L::Warning => LogLevel::Warning,
        };
        (self.log_sink)(level, msg);
    }
}

/// 40 random hex digits (run ids, replication ids).
pub fn random_hex(rng: &mut StdRng) -> String {
    redis_replication::random_replid(rng)
}
