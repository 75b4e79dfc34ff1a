//! Cluster mode in the engine (`cluster-enabled yes`): the
//! [`redis_cluster::state::Cluster`] state machine behind the server lock,
//! `nodes.conf` on disk (locked, loaded at startup, saved atomically), the
//! actions the state machine asks for (replication role changes, key
//! deletion, logging) carried out here, and the bus work (connect, send,
//! close) queued for the server's bus driver ([`BusOp`]). The routing of
//! client commands uses [`crate::cluster_route`] with this module's view of
//! the slots.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use redis_cluster::bus;
use redis_cluster::nodes_conf::{self, Load, NodesConfError};
use redis_cluster::slot::key_hash_slot;
use redis_cluster::state::{Action, Cluster, LinkId, LogLevel as ClusterLevel, Owner, Settings};
use redis_common::log::LogLevel;
use redis_config::Config;
use tokio::sync::Notify;

use crate::client::Client;
use crate::cluster_route::{route, ClientFlags, CmdKeys, SlotOwner, SlotView};
use crate::error::CmdError;
use crate::state::State;
use crate::table::{Cmd, Special};

/// Bus work for the server's driver, in order.
#[derive(Debug, Clone)]
pub enum BusOp {
    /// Open a connection for `link`.
    Connect {
        /// The link.
        link: LinkId,
        /// Where to.
        ip: String,
        /// The bus port.
        cport: u16,
    },
    /// Send an encoded message.
    Send {
        /// The link.
        link: LinkId,
        /// The frame.
        frame: Bytes,
    },
    /// Close a link.
    Close {
        /// The link.
        link: LinkId,
    },
}

/// Send-buffer figures of one link, kept by the driver (`CLUSTER LINKS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkBuffer {
    /// Bytes queued, not written yet.
    pub used: usize,
    /// Bytes allocated for the queue.
    pub allocated: usize,
    /// Messages received on the link.
    pub events: u64,
}

/// `cluster-preferred-endpoint-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `ip` (the default).
    Ip,
    /// `hostname`.
    Hostname,
    /// `unknown-endpoint`.
    Unknown,
}

/// The cluster side of the server state.
pub struct ClusterNode {
    /// The state machine.
    pub core: Cluster,
    /// Bus work for the driver.
    pub bus_ops: Vec<BusOp>,
    /// Wakes the driver when `bus_ops` gets work.
    pub bus_wake: Arc<Notify>,
    /// `cluster-config-file` as configured (relative to `dir`).
    pub conf_file: String,
    /// The descriptor holding the lock on `nodes.conf`.
    lock: Option<File>,
    /// Links freed for exceeding `cluster-link-sendbuf-limit`.
    pub buffer_limit_exceeded: u64,
    /// Per-link buffer figures, updated by the driver.
    pub link_buffers: HashMap<LinkId, LinkBuffer>,
    /// `cluster-preferred-endpoint-type`.
    pub endpoint: Endpoint,
    /// `cluster-allow-reads-when-down`.
    pub allow_reads_when_down: bool,
    /// `cluster-allow-pubsubshard-when-down`.
    pub allow_pubsubshard_when_down: bool,
    /// The port the bus listens on (`cluster-port`, else port + 10000).
    pub bus_port: u16,
    /// The end of the write pause of a manual failover, while it lasts.
    pub mf_pause_until: Option<i64>,
}

/// Upstream's refusal of a client port too high for the bus port.
pub const PORT_TOO_HIGH: &str = "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.";

/// Keys outside database 0 at startup.
pub const KEYS_OUTSIDE_DB0: &str =
    "You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.";

/// The settings of the state machine from the configuration.
pub fn settings_from_config(config: &Config, port: u16) -> Settings {
    let u16_of = |name: &str| u16::try_from(config.get_int(name)).unwrap_or(0);
    let bus_port = bus_port(config, port);
    let announce_port = match u16_of("cluster-announce-port") {
        0 => port,
        p => p,
    };
    let announce_bus = match u16_of("cluster-announce-bus-port") {
        0 => bus_port,
        p => p,
    };
    let ip = config.get_str("cluster-announce-ip");
    Settings {
        announce_ip: (!ip.is_empty()).then(|| ip.to_owned()),
        port: announce_port,
        cport: announce_bus,
        pport: 0,
        hostname: config.get_str("cluster-announce-hostname").to_owned(),
        node_timeout: config.get_u64("cluster-node-timeout"),
        require_full_coverage: config.get_bool("cluster-require-full-coverage"),
        allow_reads_when_down: config.get_bool("cluster-allow-reads-when-down"),
        replica_validity_factor: u32::try_from(config.get_int("cluster-replica-validity-factor"))
            .unwrap_or(0),
        migration_barrier: u32::try_from(config.get_int("cluster-migration-barrier")).unwrap_or(0),
        allow_replica_migration: config.get_bool("cluster-allow-replica-migration"),
        replica_no_failover: config.get_bool("cluster-replica-no-failover"),
    }
}

/// The bus port: `cluster-port`, else the client port + 10000.
pub fn bus_port(config: &Config, port: u16) -> u16 {
    match u16::try_from(config.get_int("cluster-port")).unwrap_or(0) {
        0 => port.saturating_add(10000),
        p => p,
    }
}

fn endpoint_of(config: &Config) -> Endpoint {
    match config.get_str("cluster-preferred-endpoint-type") {
        "hostname" => Endpoint::Hostname,
        "unknown-endpoint" => Endpoint::Unknown,
        _ => Endpoint::Ip,
    }
}

/// Why the server cannot start in cluster mode: the lines to log (warning
/// level) before exiting with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub Vec<String>);

/// `flock(fd, LOCK_EX | LOCK_NB)`, the lock upstream takes on `nodes.conf`
/// (so ours and upstream's exclude each other): `Ok(false)` when another
/// process holds it.
#[allow(unsafe_code)]
fn try_flock(f: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` takes a descriptor, valid for the life of `f`, and
    // no pointers.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Opens `nodes.conf` for the lock and takes it (`flock`, exclusive, not
/// waiting), as upstream does before loading.
fn lock_conf(path: &str) -> Result<File, StartError> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            StartError(vec![nodes_conf::lock_open_failed_message(
                path,
                &redis_common::os::strerror(&e),
            )])
        })?;
    match try_flock(&f) {
        Ok(true) => Ok(f),
        Ok(false) => Err(StartError(vec![nodes_conf::lock_held_message(path)])),
        Err(e) => Err(StartError(vec![nodes_conf::lock_failed_message(
            path,
            &redis_common::os::strerror(&e),
        )])),
    }
}

/// Writes `text` to `path` atomically: a temporary file beside it, synced,
/// renamed over it; the directory is synced too when `fsync`.
fn write_atomically(path: &str, text: &str, fsync: bool) -> std::io::Result<File> {
    let p = Path::new(path);
    let tmp = match p.file_name() {
        Some(name) => p.with_file_name(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        )),
        None => return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput)),
    };
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        drop(f);
        // Lock the new file before it takes the name: a process starting
        // meanwhile finds it locked.
        let f = OpenOptions::new().write(true).open(&tmp)?;
        if !try_flock(&f)? {
            return Err(std::io::Error::from(std::io::ErrorKind::WouldBlock));
        }
        std::fs::rename(&tmp, p)?;
        if fsync {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            File::open(dir)?.sync_all()?;
        }
        Ok(f)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl ClusterNode {
    /// Locks and loads `cluster-config-file` (relative to the current
    /// directory, which is `dir` by now) and builds the state machine.
    /// Upstream's startup checks and messages; a bad file is left as it is.
    pub fn start(config: &Config, port: u16, now: u64) -> Result<Started, StartError> {
        if config.get_int("cluster-port") == 0 && port > 55535 {
            return Err(StartError(vec![PORT_TOO_HIGH.to_owned()]));
        }
        let path = config.get_str("cluster-config-file").to_owned();
        let lock = lock_conf(&path)?;
        let contents = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(StartError(vec![nodes_conf::load_open_failed_message(
                    &path,
                    &redis_common::os::strerror(&e),
                )]))
            }
        };
        let (loaded, warnings) = match nodes_conf::load(contents.as_deref()) {
            Ok(Load::NewNode) => (None, Vec::new()),
            Ok(Load::Loaded { conf, warnings }) => (Some(conf), warnings),
            Err(e) => return Err(StartError(conf_error_lines(&path, &e))),
        };
        let settings = settings_from_config(config, port);
        let mut core = Cluster::new(settings, loaded, now, rand::random());
        core.set_repl_ping_replica_period(config.get_u64("repl-ping-replica-period"));
        let actions = core.take_actions();
        let node = ClusterNode {
            core,
            bus_ops: Vec::new(),
            bus_wake: Arc::new(Notify::new()),
            conf_file: path,
            lock: Some(lock),
            buffer_limit_exceeded: 0,
            link_buffers: HashMap::new(),
            endpoint: endpoint_of(config),
            allow_reads_when_down: config.get_bool("cluster-allow-reads-when-down"),
            allow_pubsubshard_when_down: config.get_bool("cluster-allow-pubsubshard-when-down"),
            bus_port: bus_port(config, port),
            mf_pause_until: None,
        };
        Ok(Started {
            node,
            warnings,
            actions,
        })
    }

    /// Follows a configuration change (`CONFIG SET cluster-*`).
    pub fn reconfigure(&mut self, config: &Config, port: u16) {
        self.core.set_settings(settings_from_config(config, port));
        self.core
            .set_repl_ping_replica_period(config.get_u64("repl-ping-replica-period"));
        self.endpoint = endpoint_of(config);
        self.allow_reads_when_down = config.get_bool("cluster-allow-reads-when-down");
        self.allow_pubsubshard_when_down = config.get_bool("cluster-allow-pubsubshard-when-down");
    }

    /// Writes `nodes.conf` from the state (atomically; the lock moves to
    /// the new file).
    pub fn save_config(&mut self, fsync: bool) -> std::io::Result<()> {
        let text = nodes_conf::format(&self.core.to_nodes_conf());
        let f = write_atomically(&self.conf_file, &text, fsync)?;
        self.lock = Some(f);
        Ok(())
    }

    /// The endpoint shown for a node in redirections.
    fn shown_endpoint(&self, ip: &str, hostname: &str) -> String {
        match self.endpoint {
            Endpoint::Ip => ip.to_owned(),
            Endpoint::Hostname if !hostname.is_empty() => hostname.to_owned(),
            _ => "?".to_owned(),
        }
    }
}

/// What [`ClusterNode::start`] produced: the node, the warnings upstream
/// logs while reading the file, and the first actions.
pub struct Started {
    /// The node.
    pub node: ClusterNode,
    /// Warning lines to log first.
    pub warnings: Vec<String>,
    /// The actions of the state machine's creation.
    pub actions: Vec<Action>,
}

/// Upstream's lines for a `nodes.conf` it refuses, then ours saying where.
fn conf_error_lines(path: &str, e: &NodesConfError) -> Vec<String> {
    let mut lines: Vec<String> = match e {
        // Upstream crashes on these (SIGSEGV); we stop cleanly with the
        // message of the corrupted-file path.
        NodesConfError::Crash { .. }
        | NodesConfError::DuplicateMyself { .. }
        | NodesConfError::OpenSlotWithoutDash { .. } => vec![nodes_conf::MSG_CORRUPTED.to_owned()],
        NodesConfError::UnknownFlag { .. } => vec![
            nodes_conf::MSG_UNKNOWN_FLAG.to_owned(),
            nodes_conf::MSG_CORRUPTED.to_owned(),
        ],
        _ => e.log_lines().iter().map(|l| (*l).to_owned()).collect(),
    };
    let detail = match e {
        NodesConfError::Corrupted { cause, .. } => format!("{cause:?}"),
        NodesConfError::UnknownFlag { flag, .. } => format!("unknown flag '{flag}'"),
        NodesConfError::DuplicateMyself { .. } => "a second 'myself' node".to_owned(),
        NodesConfError::OpenSlotWithoutDash { entry, .. } => {
            format!("open slot entry without '-': {entry}")
        }
        NodesConfError::Crash { cause, .. } => format!("{cause:?}"),
        NodesConfError::Empty => "empty".to_owned(),
    };
    let line = e.line();
    if line > 0 {
        lines.push(format!(
            "Cluster config file {path} line {line}: {detail}. The file was left untouched."
        ));
    } else {
        lines.push(format!(
            "Cluster config file {path}: {detail}. The file was left untouched."
        ));
    }
    lines
}

impl State {
    /// Whether cluster mode is on.
    pub fn cluster_enabled(&self) -> bool {
        self.cluster.is_some()
    }

    /// Installs the started node: the keys-per-slot index of database 0
    /// goes on, the file's warnings are logged and the first actions run.
    pub fn cluster_install(&mut self, started: Started, now: i64) {
        for w in &started.warnings {
            self.log_warning(w);
        }
        self.cluster = Some(Box::new(started.node));
        self.ensure_slot_index();
        self.cluster_apply(started.actions, now);
    }

    /// Database 0 keeps its keys per slot in cluster mode (after loading
    /// and full syncs, which bring new databases).
    pub fn ensure_slot_index(&mut self) {
        if self.cluster.is_none() {
            return;
        }
        if let Some(db) = self.ks.dbs.first_mut() {
            if db.slot_index().is_none() {
                db.enable_slot_index(key_hash_slot);
            }
        }
    }

    /// Upstream's `verifyClusterConfigWithData`, after loading: keys in
    /// another database than 0 stop the server; slots holding keys are
    /// claimed (unassigned) or set importing (owned elsewhere).
    pub fn cluster_verify_data(&mut self, now: i64) -> Result<(), StartError> {
        if self.cluster.is_none() {
            return Ok(());
        }
        if self.ks.dbs.iter().skip(1).any(|db| !db.is_empty()) {
            return Err(StartError(vec![KEYS_OUTSIDE_DB0.to_owned()]));
        }
        self.ensure_slot_index();
        let with_keys: Vec<u16> = match self.ks.dbs.first().and_then(|d| d.slot_index()) {
            Some(ix) => (0..redis_cluster::slot::CLUSTER_SLOTS)
                .filter(|s| ix.count(*s) > 0)
                .collect(),
            None => Vec::new(),
        };
        let Some(c) = self.cluster.as_mut() else {
            return Ok(());
        };
        let mut lines = Vec::new();
        for slot in with_keys {
            if let Some(l) = c.core.claim_slot_with_keys(slot) {
                lines.push(l);
            }
        }
        let actions = c.core.after_data_check(now.max(0) as u64);
        for l in lines {
            self.log_warning(&l);
        }
        self.cluster_apply(actions, now);
        Ok(())
    }

    /// Carries out the state machine's actions, in order.
    pub fn cluster_apply(&mut self, actions: Vec<Action>, now: i64) {
        let mut wake = false;
        for a in actions {
            match a {
                Action::Connect {
                    link, ip, cport, ..
                } => {
                    if let Some(c) = self.cluster.as_mut() {
                        c.bus_ops.push(BusOp::Connect { link, ip, cport });
                        wake = true;
                    }
                }
                Action::Send { link, msg } => {
                    if let Some(c) = self.cluster.as_mut() {
                        let frame = Bytes::from(bus::encode(&msg));
                        c.bus_ops.push(BusOp::Send { link, frame });
                        wake = true;
                    }
                }
                Action::Close { link } => {
                    if let Some(c) = self.cluster.as_mut() {
                        c.bus_ops.push(BusOp::Close { link });
                        c.link_buffers.remove(&link);
                        wake = true;
                    }
                }
                Action::SaveConfig { fsync } => self.cluster_save(fsync),
                Action::Log { level, text } => {
                    let level = match level {
                        ClusterLevel::Debug => LogLevel::Debug,
                        ClusterLevel::Verbose => LogLevel::Verbose,
                        ClusterLevel::Notice => LogLevel::Notice,
                        ClusterLevel::Warning => LogLevel::Warning,
                    };
                    self.log(level, &text);
                }
                Action::StateChanged { .. } => {}
                Action::ReplicateFrom { ip, port } => self.cluster_replicate_from(ip, port, now),
                Action::UnsetReplicationAndFlush => {
                    self.become_primary(now);
                    for db in 0..self.ks.len() {
                        self.touch_watched_db(db, now);
                    }
                    self.tracking_flush();
                    self.ks.flush_all();
                    self.dirty += 1;
                }
                Action::DeleteKeysInSlot { slot } => {
                    self.cluster_delete_keys_in_slot(slot);
                }
                Action::PromoteToMaster => self.become_primary(now),
                Action::PauseWrites { until_ms } => {
                    let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
                    // A longer or stricter `CLIENT PAUSE` stays in force.
                    self.pause = Some(match self.pause {
                        Some((d, write_only)) if d > now => (d.max(until), write_only),
                        _ => (until, true),
                    });
                    if let Some(c) = self.cluster.as_mut() {
                        c.mf_pause_until = Some(until);
                    }
                }
                Action::UnpauseWrites => {
                    let ours = self.cluster.as_mut().and_then(|c| c.mf_pause_until.take());
                    if let (Some(until), Some((d, true))) = (ours, self.pause) {
                        if d == until {
                            self.pause = None;
                        }
                    }
                }
                Action::Deliver {
                    channel,
                    message,
                    shard,
                } => {
                    crate::pubsub::publish(self, &channel, &message, shard, None);
                }
            }
        }
        if wake {
            if let Some(c) = self.cluster.as_ref() {
                c.bus_wake.notify_one();
            }
        }
    }

    /// `replicationSetMaster` for the cluster: nothing to do when already
    /// following that address.
    fn cluster_replicate_from(&mut self, ip: String, port: u16, now: i64) {
        if self
            .master
            .as_ref()
            .is_some_and(|m| m.host == ip && m.port == port)
        {
            return;
        }
        self.become_replica(ip, port, now);
    }

    /// Saves `nodes.conf`; a failure ends the server as upstream's does.
    fn cluster_save(&mut self, fsync: bool) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        if let Err(e) = c.save_config(fsync) {
            let path = c.conf_file.clone();
            self.log_warning(&format!(
                "Could not save {path}: {}",
                redis_common::os::strerror(&e)
            ));
            self.log_warning(nodes_conf::MSG_SAVE_FATAL);
            self.shutdown = Some(crate::state::ShutdownRequest {
                nosave: true,
                save: false,
                now: true,
                force: true,
                exit_code: 1,
            });
            self.shutdown_notify.notify_one();
        }
    }

    /// `delKeysInSlot`: each key deleted, signalled and propagated as a
    /// `DEL`.
    pub fn cluster_delete_keys_in_slot(&mut self, slot: u16) -> usize {
        let keys = match self.ks.dbs.first().and_then(|d| d.slot_index()) {
            Some(ix) => ix.keys(slot, usize::MAX),
            None => return 0,
        };
        let lazy = self.config.get_bool("lazyfree-lazy-server-del");
        let mut n = 0;
        for k in keys {
            let key = Bytes::copy_from_slice(k.as_ref());
            if self.ks.delete(0, &key, lazy) {
                n += 1;
                self.touch_key(0, &key);
                crate::pubsub::notify(self, 0, &key, 'g', "del", None);
                self.propagate(0, &[Bytes::from_static(b"DEL"), key]);
                self.dirty += 1;
            }
        }
        n
    }

    /// The state machine with the replication offset it announces (and,
    /// on a replica, compares during a manual failover) brought up to
    /// date: every entry point from the bus goes through here, as
    /// upstream reads the offset when it builds each message.
    pub fn cluster_core(&mut self) -> Option<&mut Cluster> {
        let offset = self.repl.ids.master_repl_offset.max(0) as u64;
        let c = self.cluster.as_mut()?;
        c.core.set_repl_offset(offset);
        Some(&mut c.core)
    }

    /// The bus work queued since the last call.
    pub fn cluster_take_bus_ops(&mut self) -> Vec<BusOp> {
        self.cluster
            .as_mut()
            .map(|c| std::mem::take(&mut c.bus_ops))
            .unwrap_or_default()
    }

    /// Runs the state machine's cron (every 100 ms), with the replication
    /// offset it announces and the role it expects checked first.
    pub fn cluster_tick(&mut self, now: i64) {
        let offset = self.repl.ids.master_repl_offset.max(0) as u64;
        let link = self.master.as_ref().map(|m| {
            (
                m.state.is_up(),
                m.down_since_ms.map(|t| t.max(0) as u64),
                m.last_io_ms.max(0) as u64,
            )
        });
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        c.core.set_repl_offset(offset);
        if let Some((up, down_since, last_io)) = link {
            c.core.set_replica_link(up, down_since, last_io);
        }
        let mut actions = c.core.tick(now.max(0) as u64);
        // A replica in the table follows its master (upstream's cron sets
        // the replication master when it is not set yet).
        if let Some((ip, port)) = c.core.my_master_addr() {
            actions.push(Action::ReplicateFrom { ip, port });
        }
        self.cluster_apply(actions, now);
    }
}

/// The slot map as [`crate::cluster_route`] needs it.
pub struct RouteView<'a> {
    st: &'a State,
    node: &'a ClusterNode,
    now: i64,
}

impl<'a> RouteView<'a> {
    /// The view of `st`, when cluster mode is on.
    pub fn of(st: &'a State, now: i64) -> Option<RouteView<'a>> {
        let node = st.cluster.as_deref()?;
        Some(RouteView { st, node, now })
    }
}

impl SlotView for RouteView<'_> {
    fn slot_of(&self, key: &[u8]) -> u16 {
        key_hash_slot(key)
    }
    fn owner(&self, slot: u16) -> SlotOwner {
        match self.node.core.owner_of(slot) {
            Owner::Unassigned => SlotOwner::Unassigned,
            Owner::Myself => SlotOwner::Myself,
            Owner::Node {
                ip,
                hostname,
                port,
                my_master,
            } => SlotOwner::Node {
                host: self.node.shown_endpoint(&ip, &hostname),
                port,
                my_primary: my_master,
            },
        }
    }
    fn migrating_to(&self, slot: u16) -> Option<(String, u16)> {
        let (ip, hostname, port) = self.node.core.migrating_target(slot)?;
        Some((self.node.shown_endpoint(&ip, &hostname), port))
    }
    fn importing(&self, slot: u16) -> bool {
        self.node.core.is_importing(slot)
    }
    fn state_ok(&self) -> bool {
        self.node.core.is_ok()
    }
    fn allow_reads_when_down(&self) -> bool {
        self.node.allow_reads_when_down
    }
    fn allow_pubsubshard_when_down(&self) -> bool {
        self.node.allow_pubsubshard_when_down
    }
    fn key_exists(&self, key: &[u8]) -> bool {
        self.st
            .ks
            .dbs
            .first()
            .is_some_and(|d| d.contains(key) && !d.is_expired(key, self.now))
    }
}

/// The keys and flags of one command for the router.
fn cmd_keys<'a>(meta: &'static crate::meta::CommandMeta, argv: &'a [Bytes]) -> CmdKeys<'a> {
    let keys = if meta.has_keys() {
        crate::meta::get_keys(meta, argv)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| argv.get(i).map(|k| k.as_ref()))
            .collect()
    } else {
        Vec::new()
    };
    let name = meta.name.as_str();
    CmdKeys {
        keys,
        write: meta.has_flag("write"),
        migrate: name.eq_ignore_ascii_case("migrate"),
        pubsub_shard: ["spublish", "ssubscribe", "sunsubscribe"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n)),
        asking_cmd: meta.has_flag("asking"),
    }
}

impl State {
    /// The cluster's verdict on a client's command (upstream's
    /// `getNodeByQuery` as called by `processCommand`): `None` when this
    /// node serves it.
    pub(crate) fn cluster_redirect(
        &self,
        cmd: &Cmd,
        client: &Client,
        argv: &[Bytes],
        now: i64,
    ) -> Option<CmdError> {
        let view = RouteView::of(self, now)?;
        let is_exec = cmd.special == Special::Exec;
        if !is_exec && !cmd.meta.has_keys() {
            return None;
        }
        let mut cmds = Vec::new();
        if is_exec {
            let m = client.multi.as_ref()?;
            for q in &m.queue {
                if let Some(meta) = crate::meta::lookup_argv(q) {
                    cmds.push(cmd_keys(meta, q));
                }
            }
        } else {
            cmds.push(cmd_keys(cmd.meta, argv));
        }
        let flags = ClientFlags {
            asking: client.asking,
            readonly: client.readonly,
        };
        route(&cmds, flags, &view)
            .err()
            .map(|r| CmdError::msg(r.text()))
    }
}

impl State {
    /// `clusterPropagatePublish`: a `PUBLISH` (or with `shard` an
    /// `SPUBLISH`) goes over the bus to the other nodes.
    pub fn cluster_publish(&mut self, channel: &[u8], message: &[u8], shard: bool, now: i64) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let actions = c.core.publish(channel, message, shard, now.max(0) as u64);
        self.cluster_apply(actions, now);
    }
}

impl State {
    /// Upstream's `scriptVerifyClusterState`: in cluster mode a script's
    /// command may only touch keys served here, and (unless the script
    /// declared `allow-cross-slot-keys`) all in the one slot of its
    /// declared keys or of the first key it touched.
    pub(crate) fn script_cluster_check(
        &mut self,
        cmd: &Cmd,
        client: &Client,
        argv: &[Bytes],
        now: i64,
    ) -> Option<CmdError> {
        self.cluster.as_ref()?;
        if self.scripting.run.as_ref()?.obey {
            return None;
        }
        let keys = cmd_keys(cmd.meta, argv);
        let slot = keys.keys.first().map(|k| key_hash_slot(k));
        let routed = {
            let view = RouteView::of(self, now)?;
            let flags = ClientFlags {
                asking: client.asking,
                readonly: client.readonly,
            };
            route(&[keys], flags, &view)
        };
        match routed {
            Err(crate::cluster_route::Redirect::DownReadOnly) => {
                return Some(CmdError::fixed("ERR Script attempted to execute a write command while the cluster is down and readonly"));
            }
            Err(crate::cluster_route::Redirect::Down) => {
                return Some(CmdError::fixed(
                    "ERR Script attempted to execute a command while the cluster is down",
                ));
            }
            Err(_) => {
                return Some(CmdError::fixed(
                    "ERR Script attempted to access a non local key in a cluster node",
                ));
            }
            Ok(()) => {}
        }
        let run = self.scripting.run.as_mut()?;
        if let Some(slot) = slot {
            if !run.flags.allow_cross_slot_keys {
                match run.slot {
                    None => run.slot = Some(slot),
                    Some(s) if s != slot => {
                        return Some(CmdError::fixed(
                            "ERR Script attempted to access keys that do not hash to the same slot",
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        None
    }
}
