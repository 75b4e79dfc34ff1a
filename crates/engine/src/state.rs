//! The server state shared by all connections, and the dispatcher: the one
//! place where every check runs before a handler (upstream `processCommand`)
//! and where statistics, monitors and propagation happen after it (`call`).
//!
//! Lock ordering: the server holds exactly one lock, the `Mutex<State>`; it is
//! taken once per batch of pipelined commands. Nothing in here awaits.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::SeedableRng;
use redis_config::Config;
use redis_storage::Keyspace;
use tokio::sync::Notify;

use crate::blocking::Blocking;
use crate::client::{Client, ClientInfo, ReplyMode};
use crate::ctx::Ctx;
use crate::error::{self, CmdError};
use crate::histogram::Histogram;
use crate::pubsub::{NotifyFlags, PubSub};
use crate::table::{flags, Cmd, Registry};

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
    pub evicted_keys: u64,
    pub total_reads: u64,
    pub total_writes: u64,
    /// Ring of (time ms, commands) samples for `instantaneous_ops_per_sec`.
    pub ops_samples: VecDeque<(i64, u64, u64, u64)>,
}

/// One `SLOWLOG` entry.
#[derive(Clone, Debug)]
pub struct SlowlogEntry {
    pub id: u64,
    pub time: i64,
    pub usec: u64,
    pub argv: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
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
    /// Encoding thresholds every write of these types reads.
    pub hash_limits: redis_storage::hash::HashLimits,
    pub zset_limits: redis_storage::zset::Limits,
    pub set_max_intset_entries: usize,
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
    /// Where log lines go (the server installs its logger).
    pub log_sink: LogSink,
    pub pubsub: PubSub,
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
    /// The append-only file, when `appendonly yes`.
    pub aof: Option<crate::aof::AofState>,
    /// A `FAILOVER` waiting for its target to catch up.
    pub failover: Option<crate::failover::Failover>,
}

/// The function log lines are handed to.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Log levels, as upstream's `loglevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

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
            pause: None,
            supervised: "no".into(),
            version: REDIS_VERSION,
            used_memory: || 0,
            mem_allocator: "libc",
            peak_memory: 0,
            startup_memory: 0,
            latency: vec![Histogram::default(); registry.len()],
            active_expire: true,
            log_sink: Arc::new(|_, _| {}),
            pubsub: PubSub::default(),
            notify_flags: NotifyFlags::default(),
            new_candidates: Vec::new(),
            blocking: Blocking::default(),
            watched: HashMap::new(),
            cas_dirty: HashSet::new(),
            watched_expired: HashSet::new(),
            clock_mark: Instant::now(),
            persistence: crate::persist::Persistence::default(),
            bg_notify: Arc::new(Notify::new()),
            repl: crate::replication::Replication::new(replid),
            master: None,
            repl_notify: Arc::new(Notify::new()),
            wait_clients: Vec::new(),
            aof: None,
            failover: None,
        };
        st.apply_config();
        st.ks = Keyspace::new(st.cached.databases);
        // The fresh keyspace needs the policy-derived settings too.
        st.apply_config();
        st
    }

    /// Refreshes the cached configuration values.
    pub fn apply_config(&mut self) {
        let c = &self.config;
        let pass = c.get_str("requirepass");
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
            hash_limits: redis_storage::hash::HashLimits {
                max_entries: usize_of("hash-max-listpack-entries"),
                max_value: usize_of("hash-max-listpack-value"),
            },
            zset_limits: redis_storage::zset::Limits {
                max_entries: usize_of("zset-max-listpack-entries"),
                max_value: usize_of("zset-max-listpack-value"),
            },
            set_max_intset_entries: usize_of("set-max-intset-entries"),
        };
        while self.slowlog.len() as u64 > self.cached.slowlog_max_len {
            self.slowlog.pop_back();
        }
        self.ks.policy = crate::evict::access_policy(
            self.config.get_str("maxmemory-policy"),
            self.config.get_int("lfu-log-factor"),
            self.config.get_int("lfu-decay-time"),
        );
        self.notify_flags = NotifyFlags::parse(&self.config.notify_keyspace_letters());
        self.ks.track_misses = self.notify_flags.wants('m');
        if !self.ks.track_misses {
            self.ks.missed.clear();
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
        self.unwatch_all(c.id, &c.watched);
        self.unblock(c.id);
        self.wait_clients.retain(|w| w.0 != c.id);
        if c.is_replica_link {
            self.drop_replica(c.id);
        }
        self.remove_client(c.id);
    }

    /// Forgets a client.
    pub fn remove_client(&mut self, id: u64) {
        self.clients.remove(&id);
        self.monitors.retain(|&m| m != id);
    }

    /// Counts an error reply in `INFO errorstats`.
    pub fn count_error(&mut self, e: &CmdError) {
        self.stats.total_error_replies += 1;
        let code = String::from_utf8_lossy(e.code()).into_owned();
        *self.errorstats.entry(code).or_insert(0) += 1;
    }

    /// Writes an error reply and counts it.
    fn reply_error(&mut self, client: &Client, out: &mut BytesMut, e: &CmdError) {
        self.count_error(e);
        if client.reply_mode == ReplyMode::On {
            out.extend_from_slice(b"-");
            out.extend_from_slice(&e.0);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Runs one command for `client`, appending its reply to `out`.
    /// All checks of upstream's `processCommand` happen here, in its order.
    /// Returns the full name of the command it resolved, if any.
    pub fn call(
        &mut self,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
    ) -> Option<&'static str> {
        let cmd = match self.registry.resolve(&argv) {
            Ok(c) => c,
            Err((e, idx)) => {
                self.reject(client, out, e, idx);
                return None;
            }
        };
        let arity = cmd.meta.arity;
        let argc = argv.len() as i64;
        if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
            let e = error::wrong_arity(&cmd.full_name);
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        if !client.authenticated && !cmd.has(flags::NO_AUTH) {
            if self.cached.requirepass.is_some() {
                self.reject(client, out, error::NOAUTH, Some(cmd.idx));
                return Some(&cmd.full_name);
            }
            client.authenticated = true;
        }
        if client.in_pubsub_context()
            && !matches!(
                cmd.full_name.as_str(),
                "subscribe"
                    | "ssubscribe"
                    | "unsubscribe"
                    | "sunsubscribe"
                    | "psubscribe"
                    | "punsubscribe"
                    | "ping"
                    | "quit"
                    | "reset"
            )
        {
            let e = CmdError::msg(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                cmd.full_name
            ));
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        if self.persistence.loading && !cmd.has(flags::LOADING) {
            let e = CmdError::fixed("LOADING Redis is loading the dataset in memory");
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        if let Some(m) = &self.master {
            if m.state != "connected"
                && !client.is_master
                && !self.cached.replica_serve_stale_data
                && !cmd.has(flags::STALE)
            {
                let e = CmdError::fixed("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
                self.reject(client, out, e, Some(cmd.idx));
                return Some(&cmd.full_name);
            }
        }
        if cmd.has(flags::WRITE) && self.master.is_none() && !self.enough_good_replicas(now) {
            let e = CmdError::fixed("NOREPLICAS Not enough good replicas to write.");
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        if cmd.has(flags::WRITE) && !client.is_master && self.rejects_writes() {
            let e = CmdError::fixed("READONLY You can't write against a read only replica.");
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        if cmd.has(flags::WRITE)
            && !self.persistence.last_bgsave_ok
            && self.cached.stop_writes_on_bgsave_error
            && !self.config.save_points().is_empty()
        {
            let e = CmdError::fixed("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.");
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        if self.cached.maxmemory > 0 && !self.perform_evictions(now) && cmd.has(flags::DENYOOM) {
            let e = CmdError::fixed("OOM command not allowed when used memory > 'maxmemory'.");
            self.reject(client, out, e, Some(cmd.idx));
            return Some(&cmd.full_name);
        }
        // Inside MULTI everything but the transaction commands is queued.
        if client.multi.is_some()
            && !matches!(
                cmd.full_name.as_str(),
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            if cmd.has(flags::NO_MULTI) {
                let e = CmdError::msg("ERR Command not allowed inside a transaction");
                self.reject(client, out, e, Some(cmd.idx));
                return Some(&cmd.full_name);
            }
            if let Some(q) = client.multi.as_mut() {
                q.push(argv);
            }
            if client.reply_mode == ReplyMode::On {
                out.extend_from_slice(b"+QUEUED\r\n");
            }
            return Some(&cmd.full_name);
        }
        self.execute(cmd, client, argv, out, now);
        if !self.blocking.ready.is_empty() {
            self.serve_blocked(now);
        }
        Some(&cmd.full_name)
    }

    /// Rejects a command before execution: counts it and flags a transaction.
    fn reject(&mut self, client: &mut Client, out: &mut BytesMut, e: CmdError, idx: Option<usize>) {
        if let Some(i) = idx {
            if let Some(s) = self.cmdstats.get_mut(i) {
                s.rejected += 1;
            }
        }
        if client.multi.is_some() {
            client.multi_error = true;
        }
        self.reply_error(client, out, &e);
    }

    /// Executes an already-checked command: the handler, then statistics,
    /// slow log, monitors and propagation (upstream `call`).
    pub fn execute(
        &mut self,
        cmd: &Cmd,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
    ) {
        let Some(handler) = cmd.handler else { return };
        if self.notify_flags.wants('n') && cmd.has(crate::table::flags::WRITE) {
            self.note_new_candidates(cmd, client.db, &argv, now);
        }
        let mark = out.len();
        let start = self.clock_mark;
        let (res, dirty, rewrite) = {
            let mut ctx = Ctx {
                st: self,
                client,
                out,
                now,
                rewrite: None,
                dirty: 0,
            };
            let r = handler(&mut ctx, &argv);
            (r, ctx.dirty, ctx.rewrite)
        };
        // One clock read per command: the end of this one starts the next.
        let end = Instant::now();
        self.clock_mark = end;
        let usec = end.saturating_duration_since(start).as_micros() as u64;
        if let Some(h) = self.latency.get_mut(cmd.idx) {
            h.record(usec);
        }
        if let Some(s) = self.cmdstats.get_mut(cmd.idx) {
            s.calls += 1;
            s.usec += usec;
            if res.is_err() {
                s.failed += 1;
            }
        }
        self.stats.total_commands += 1;
        if let Err(e) = &res {
            self.reply_error(client, out, e);
        }
        // CLIENT REPLY OFF/SKIP: drop whatever this command wrote.
        match client.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => out.truncate(mark),
            ReplyMode::SkipThis => {
                out.truncate(mark);
                client.reply_mode = ReplyMode::On;
            }
            ReplyMode::Skip => client.reply_mode = ReplyMode::SkipThis,
        }
        self.dirty += dirty;
        self.new_candidates.clear();
        if !self.ks.missed.is_empty() {
            self.notify_misses(Some((client.id, &mut *out)));
        }
        self.drain_expired();
        // Like upstream, any command that changed the dataset is propagated
        // (PFCOUNT refreshing its cached cardinality is not flagged as a write).
        if dirty > 0 && !client.is_master {
            match rewrite {
                Some(list) => {
                    for a in list {
                        self.propagate(client.db, &a);
                    }
                }
                None => self.propagate(client.db, &argv),
            }
        } else if dirty > 0 && self.aof.is_some() {
            // A replica applying its primary's stream: the stream itself
            // goes on to our replicas unchanged (see the replica link), the
            // AOF gets the commands as applied.
            match rewrite {
                Some(list) => {
                    for a in list {
                        self.aof_command(client.db, &a);
                    }
                }
                None => self.aof_command(client.db, &argv),
            }
        }
        if !self.monitors.is_empty() && !cmd.has(flags::SKIP_MONITOR) && !cmd.has(flags::ADMIN) {
            self.feed_monitors(client, &argv, now);
        }
        if !cmd.has(flags::SKIP_SLOWLOG) {
            self.slowlog_push(client, &argv, usec, now);
        }
    }

    /// Marks clients watching `key` so that their `EXEC` fails.
    pub fn touch_key(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(&(db, Bytes::copy_from_slice(key))) {
            self.cas_dirty.extend(ids.iter().copied());
        }
    }

    /// [`State::touch_key`] for a deletion by expiry: clients that watched
    /// the key when it had already expired see no change.
    fn touch_expired_key(&mut self, db: usize, key: &Bytes) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(&(db, key.clone())) {
            for &id in ids {
                if !self.watched_expired.contains(&(id, db, key.clone())) {
                    self.cas_dirty.insert(id);
                }
            }
        }
    }

    /// Marks clients watching keys that currently exist in `db` (before a
    /// FLUSHDB/FLUSHALL/SWAPDB changes them all), like upstream's
    /// `touchAllWatchedKeysInDb`.
    pub fn touch_watched_db(&mut self, db: usize) {
        self.touch_watched_swap(db, db);
    }

    /// Invalidates the watches on keys of `db` that exist in `db` or in
    /// `other`: `SWAPDB` makes keys appear as well as disappear.
    pub fn touch_watched_swap(&mut self, db: usize, other: usize) {
        let mut hit = Vec::new();
        for ((d, k), ids) in &self.watched {
            if *d == db && (self.ks.dbs[db].contains(k) || self.ks.dbs[other].contains(k)) {
                hit.extend(ids.iter().copied());
            }
        }
        self.cas_dirty.extend(hit);
    }

    /// Adds a watch.
    pub fn watch(&mut self, client: &mut Client, key: &Bytes, now: i64) {
        let slot = (client.db, key.clone());
        if self.ks.dbs[client.db].is_expired(key, now) {
            self.watched_expired
                .insert((client.id, client.db, key.clone()));
        }
        if client
            .watched
            .iter()
            .any(|(d, k)| *d == slot.0 && *k == slot.1)
        {
            return;
        }
        client.watched.push(slot.clone());
        self.watched.entry(slot).or_default().push(client.id);
    }

    /// Drops all watches of a client.
    pub fn unwatch_all(&mut self, id: u64, keys: &[(usize, Bytes)]) {
        for slot in keys {
            if let Some(v) = self.watched.get_mut(slot) {
                v.retain(|&x| x != id);
                if v.is_empty() {
                    self.watched.remove(slot);
                }
            }
        }
        self.cas_dirty.remove(&id);
        if !self.watched_expired.is_empty() {
            self.watched_expired.retain(|(c, _, _)| *c != id);
        }
    }

    /// Records which keys of a write command are absent before it runs.
    fn note_new_candidates(&mut self, cmd: &Cmd, db: usize, argv: &[Bytes], now: i64) {
        self.new_candidates.clear();
        let Ok(positions) = crate::meta::get_keys(cmd.meta, argv) else {
            return;
        };
        for i in positions {
            if let Some(k) = argv.get(i) {
                if !self.ks.exists(db, k, now) {
                    self.new_candidates.push((db, k.clone()));
                }
            }
        }
    }

    /// Publishes the `keymiss` events recorded by read lookups.
    pub fn notify_misses(&mut self, mut me: Option<(u64, &mut BytesMut)>) {
        for (db, key) in std::mem::take(&mut self.ks.missed) {
            let reborrow = me.as_mut().map(|(id, out)| (*id, &mut **out));
            crate::pubsub::notify(self, db, &key, 'm', "keymiss", reborrow);
        }
    }

    /// Propagates the deletions done by expiry since the last drain.
    pub fn drain_expired(&mut self) {
        if self.ks.expired.is_empty() {
            return;
        }
        let list = std::mem::take(&mut self.ks.expired);
        for (db, key) in list {
            self.touch_expired_key(db, &key);
            crate::pubsub::notify(self, db, &key, 'x', "expired", None);
            self.propagate(db, &[Bytes::from_static(b"DEL"), key]);
        }
    }

    /// The single propagation point feeding the AOF and replicas, in
    /// execution order: the replication stream (backlog and replicas) and,
    /// through [`State::aof_feed`], the append-only file.
    pub fn propagate(&mut self, db: usize, argv: &[Bytes]) {
        self.feed_command(db, argv);
    }

    fn feed_monitors(&mut self, client: &Client, argv: &[Bytes], now: i64) {
        let addr = self
            .clients
            .get(&client.id)
            .map(|c| c.addr.clone())
            .unwrap_or_default();
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            now / 1000,
            (now % 1000) * 1000,
            client.db,
            addr
        )
        .into_bytes();
        for a in argv {
            line.push(b' ');
            redis_common::repr::repr_into(&mut line, a);
        }
        line.extend_from_slice(b"\r\n");
        let msg = Bytes::from(line);
        let monitors = self.monitors.clone();
        for id in monitors {
            if let Some(c) = self.clients.get(&id) {
                // A monitor that went away is cleaned up by its own task.
                let _ = c.signal.push.send(msg.clone());
            }
        }
    }

    fn slowlog_push(&mut self, client: &Client, argv: &[Bytes], usec: u64, now: i64) {
        let limit = self.cached.slowlog_slower_than;
        if limit < 0 || (usec as i64) < limit {
            return;
        }
        let (addr, name) = self
            .clients
            .get(&client.id)
            .map(|c| (c.addr.clone(), c.name.clone()))
            .unwrap_or_default();
        // Upstream keeps at most 32 arguments of at most 128 bytes each.
        let mut args: Vec<Bytes> = Vec::new();
        for (i, a) in argv.iter().enumerate() {
            if i == 31 && argv.len() > 32 {
                args.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    argv.len() - 31
                )));
                break;
            }
            if a.len() > 128 {
                args.push(Bytes::from(format!(
                    "{}... ({} more bytes)",
                    String::from_utf8_lossy(&a[..128]),
                    a.len() - 128
                )));
            } else {
                args.push(a.clone());
            }
        }
        self.slowlog.push_front(SlowlogEntry {
            id: self.slowlog_next_id,
            time: now / 1000,
            usec,
            argv: args,
            addr,
            name,
        });
        self.slowlog_next_id += 1;
        while self.slowlog.len() as u64 > self.cached.slowlog_max_len {
            self.slowlog.pop_back();
        }
    }

    /// Periodic work (upstream `serverCron`), called `hz` times a second.
    pub fn cron(&mut self, now: i64) {
        self.lru_clock = lru_clock(now);
        // Active expiry: 20 keys per sample, like upstream's default effort.
        if self.active_expire && self.ks.active_expire_cycle(now, 20, 16, &mut self.rng) > 0 {
            self.drain_expired();
        }
        let used = (self.used_memory)() as u64;
        self.peak_memory = self.peak_memory.max(used);
        // Move incremental rehashing forward a little, as upstream's cron does.
        for db in &mut self.ks.dbs {
            db.rehash_step(std::time::Duration::from_micros(500));
        }
        let s = &mut self.stats;
        s.ops_samples
            .push_back((now, s.total_commands, s.net_input_bytes, s.net_output_bytes));
        while s.ops_samples.len() > 16 {
            s.ops_samples.pop_front();
        }
        self.check_save_points(now / 1000);
        self.aof_cron();
        self.failover_cron(now);
        self.replication_cron(now);
        if self.persistence.bgsave.is_some() {
            self.bg_notify.notify_one();
        }
        if let Some((deadline, _)) = self.pause {
            if now >= deadline {
                self.pause = None;
            }
        }
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.start_instant.elapsed().as_secs()
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix time in seconds.
pub fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

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
}

/// 40 random hex digits (run ids, replication ids).
pub fn random_hex(rng: &mut StdRng) -> String {
    use rand::Rng;
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}
