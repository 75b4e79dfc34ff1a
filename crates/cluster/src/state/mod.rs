//! The cluster state machine: the node table and Redis 7.0's cluster bus
//! protocol (upstream's `cluster.c` without elections, manual failover,
//! replica migration and PUBLISH relaying), pure and synchronous like the
//! sentinel's `state` module.
//!
//! A [`Cluster`] never does I/O and never reads a clock: the driver passes
//! `now` (milliseconds since the epoch) to every entry point and carries out
//! the [`Action`]s each one returns, in order.
//!
//! # Links
//!
//! Bus connections are [`LinkId`]s. Outbound links are allocated by the
//! state machine (ids with [`LinkId::OUTBOUND_BIT`] set) and announced with
//! [`Action::Connect`]; the driver reports the outcome with
//! [`Cluster::on_link_connected`] or [`Cluster::on_link_closed`]. Inbound
//! links are allocated by the driver (ids below 2^63) and announced with
//! [`Cluster::on_inbound_link`]. Every decoded frame is handed to
//! [`Cluster::on_packet`]. [`Action::Send`] may target a link whose connect
//! is still in progress: the driver queues the bytes until it completes (as
//! upstream's link send buffer does). [`Action::Close`] asks the driver to
//! drop a link; the state machine has already forgotten it.
//!
//! # Timing
//!
//! [`Cluster::tick`] is upstream's `clusterCron` and must run every 100 ms;
//! every tenth call does the once-a-second work. The deferred work of
//! upstream's `clusterBeforeSleep` (state update, coalesced config save) runs
//! at the end of every entry point, so a [`Action::SaveConfig`] comes at most
//! once per call, last but for [`Action::StateChanged`].
//!
//! # Failover, replica migration, Pub/Sub
//!
//! `failover.rs` holds replica elections and automatic failover
//! (`FAILOVER_AUTH_REQUEST`/`ACK`), the masters' votes, manual failover
//! ([`Cluster::failover`], `MFSTART`, [`Action::PauseWrites`]), replica
//! migration and PUBLISH/PUBLISHSHARD relaying ([`Cluster::publish`],
//! [`Action::Deliver`]). For the replica validity check the driver
//! reports the replication link with [`Cluster::set_replica_link`] and the
//! processed offset with [`Cluster::set_repl_offset`].

mod commands;
mod failover;
mod proto;
mod server_api;
mod views;

#[cfg(test)]
mod failover_tests;
#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bus::{
    cluster_state, node_flags as nf, Body, Header, IpField, Message, NodeName, SlotBitmap,
    MESSAGE_TYPE_COUNT, NAME_LEN,
};
use crate::nodes_conf::{
    loaded_message, no_config_message, LinkState, NodeFlags, NodeLine, NodesConf,
};
use crate::slot::{SlotSet, CLUSTER_SLOTS_USIZE};

pub use commands::SetSlot;
pub use failover::FailoverMode;
pub use server_api::{LinkView, Owner};
pub use views::{ShardInfo, ShardNode, SlotEndpoint, SlotsRange};

/// Failure reports are valid for `node_timeout` times this.
pub const FAIL_REPORT_VALIDITY_MULT: u64 = 2;
/// A master's FAIL flag is undone after `node_timeout` times this when it
/// still serves its slots.
pub const FAIL_UNDO_TIME_MULT: u64 = 2;
/// Upper bound of the rejoin delay after a minority partition.
pub const MAX_REJOIN_DELAY: u64 = 5000;
/// Lower bound of the rejoin delay.
pub const MIN_REJOIN_DELAY: u64 = 500;
/// A master waits this long after its first state update before going ok.
pub const WRITABLE_DELAY: u64 = 2000;
/// How long a forgotten node stays blacklisted (seconds).
pub const BLACKLIST_TTL_SECS: u64 = 60;
/// How long a manual failover may take (ms, `CLUSTER_MF_TIMEOUT`).
pub const MANUAL_FAILOVER_TIMEOUT: u64 = 5000;
/// A master pauses its writes for a manual failover for this many times
/// [`MANUAL_FAILOVER_TIMEOUT`] (or until it ends).
pub const MANUAL_FAILOVER_PAUSE_MULT: u64 = 2;
/// How long a master must stay orphaned before a replica migrates to it
/// (ms, `CLUSTER_SLAVE_MIGRATION_DELAY`).
pub const REPLICA_MIGRATION_DELAY: u64 = 5000;
/// The same "Currently unable to failover" reason is logged again after
/// this long (ms).
pub const CANT_FAILOVER_RELOG_PERIOD: u64 = 300_000;

/// A bus connection handle (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

impl LinkId {
    /// Set on the ids of the outbound links the state machine allocates.
    pub const OUTBOUND_BIT: u64 = 1 << 63;

    /// Whether the id was allocated by the state machine.
    pub fn is_outbound(self) -> bool {
        self.0 & Self::OUTBOUND_BIT != 0
    }
}

/// Upstream's log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `LL_DEBUG`.
    Debug,
    /// `LL_VERBOSE`.
    Verbose,
    /// `LL_NOTICE`.
    Notice,
    /// `LL_WARNING`.
    Warning,
}

/// Something for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a bus connection to `ip:cport` for `link`; report it with
    /// [`Cluster::on_link_connected`] or [`Cluster::on_link_closed`].
    Connect {
        /// The new link.
        link: LinkId,
        /// The node's id (a random name while in handshake).
        node: NodeName,
        /// Where to connect.
        ip: String,
        /// The bus port.
        cport: u16,
    },
    /// Send a message on a link (encode it with [`crate::bus::encode`]).
    Send {
        /// The link.
        link: LinkId,
        /// The message.
        msg: Message,
    },
    /// Close a link.
    Close {
        /// The link.
        link: LinkId,
    },
    /// Write `nodes.conf` from [`Cluster::to_nodes_conf`].
    SaveConfig {
        /// Whether to fsync it.
        fsync: bool,
    },
    /// Log a line.
    Log {
        /// The level.
        level: LogLevel,
        /// The text, as upstream's.
        text: String,
    },
    /// The cluster state changed (`cluster_state`).
    StateChanged {
        /// Whether it is `ok` now.
        ok: bool,
    },
    /// Make the server a replica of this address (`replicationSetMaster`).
    ReplicateFrom {
        /// The master's IP.
        ip: String,
        /// The master's client port.
        port: u16,
    },
    /// Turn the server back into a master and empty the dataset
    /// (`CLUSTER RESET` on a replica).
    UnsetReplicationAndFlush,
    /// Delete the keys of a slot this node lost to a newer configuration
    /// (upstream does it only when the slot has keys).
    DeleteKeysInSlot {
        /// The slot.
        slot: u16,
    },
    /// This replica won an election (or took over): stop replicating and
    /// become a master KEEPING the dataset (`replicationUnsetMaster`: new
    /// replication id, the old one kept as the secondary id for partial
    /// resyncs of the other replicas).
    PromoteToMaster,
    /// A replica asked this master for a manual failover: pause the
    /// clients' writes (upstream's `PAUSE_DURING_FAILOVER`, write pause)
    /// until `until_ms` (ms since the epoch) or [`Action::UnpauseWrites`],
    /// whichever comes first. The replication offset must not move
    /// meanwhile.
    PauseWrites {
        /// When the pause ends at the latest.
        until_ms: u64,
    },
    /// The manual failover ended (won, timed out or reset): lift the pause
    /// of [`Action::PauseWrites`].
    UnpauseWrites,
    /// A PUBLISH (`shard == false`) or SPUBLISH (`shard == true`) came from
    /// another node: deliver it to this node's local (shard) subscribers,
    /// without propagating it again.
    Deliver {
        /// The channel.
        channel: Vec<u8>,
        /// The message.
        message: Vec<u8>,
        /// Whether it is a shard channel message.
        shard: bool,
    },
}

/// The configuration the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The IP announced in messages (`cluster-announce-ip`); when `None`,
    /// the peers use the connection's address and this node learns its own
    /// from the first MEET.
    pub announce_ip: Option<String>,
    /// The client port (announced).
    pub port: u16,
    /// The cluster bus port (announced).
    pub cport: u16,
    /// The plaintext port when TLS is on (0 when not).
    pub pport: u16,
    /// `cluster-announce-hostname` (empty: none).
    pub hostname: String,
    /// `cluster-node-timeout` (ms).
    pub node_timeout: u64,
    /// `cluster-require-full-coverage`.
    pub require_full_coverage: bool,
    /// `cluster-allow-reads-when-down` (used by the command layer).
    pub allow_reads_when_down: bool,
    /// `cluster-replica-validity-factor` (failover, not implemented yet).
    pub replica_validity_factor: u32,
    /// `cluster-migration-barrier` (replica migration, not implemented yet).
    pub migration_barrier: u32,
    /// `cluster-allow-replica-migration`.
    pub allow_replica_migration: bool,
    /// `cluster-replica-no-failover`.
    pub replica_no_failover: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            announce_ip: None,
            port: 6379,
            cport: 16379,
            pport: 0,
            hostname: String::new(),
            node_timeout: 15000,
            require_full_coverage: true,
            allow_reads_when_down: false,
            replica_validity_factor: 10,
            migration_barrier: 1,
            allow_replica_migration: true,
            replica_no_failover: false,
        }
    }
}

/// One node of the table (upstream's `clusterNode`).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) name: NodeName,
    pub(crate) flags: u16,
    pub(crate) ctime: u64,
    pub(crate) config_epoch: u64,
    pub(crate) slots: SlotSet,
    pub(crate) replicas: Vec<NodeName>,
    pub(crate) slaveof: Option<NodeName>,
    pub(crate) ping_sent: u64,
    pub(crate) pong_received: u64,
    pub(crate) data_received: u64,
    pub(crate) fail_time: u64,
    pub(crate) repl_offset: u64,
    pub(crate) ip: String,
    pub(crate) hostname: String,
    pub(crate) port: u16,
    pub(crate) cport: u16,
    pub(crate) pport: u16,
    pub(crate) link: Option<LinkId>,
    pub(crate) inbound_link: Option<LinkId>,
    pub(crate) fail_reports: Vec<(NodeName, u64)>,
    pub(crate) last_in_ping_gossip: u64,
    /// When this node voted for a replica of this master.
    pub(crate) voted_time: u64,
    /// Since when this master has no working replica (migration).
    pub(crate) orphaned_time: u64,
}

impl Node {
    fn new(name: NodeName, flags: u16, now: u64) -> Node {
        Node {
            name,
            flags,
            ctime: now,
            config_epoch: 0,
            slots: SlotSet::new(),
            replicas: Vec::new(),
            slaveof: None,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            repl_offset: 0,
            ip: String::new(),
            hostname: String::new(),
            port: 0,
            cport: 0,
            pport: 0,
            link: None,
            inbound_link: None,
            fail_reports: Vec::new(),
            last_in_ping_gossip: 0,
            voted_time: 0,
            orphaned_time: 0,
        }
    }

    pub(crate) fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
    pub(crate) fn is_master(&self) -> bool {
        self.has(nf::MASTER)
    }
    pub(crate) fn is_slave(&self) -> bool {
        self.has(nf::SLAVE)
    }
    pub(crate) fn in_handshake(&self) -> bool {
        self.has(nf::HANDSHAKE)
    }
    pub(crate) fn failed(&self) -> bool {
        self.has(nf::FAIL)
    }
    pub(crate) fn timed_out(&self) -> bool {
        self.has(nf::PFAIL)
    }
    pub(crate) fn numslots(&self) -> usize {
        self.slots.count()
    }
}

/// A bus connection.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) node: Option<NodeName>,
    pub(crate) inbound: bool,
    pub(crate) ctime: u64,
    pub(crate) connected: bool,
    /// The peer's address (the node's IP for outbound links).
    pub(crate) peer_ip: String,
    /// This side's address of the connection (inbound links).
    pub(crate) local_ip: String,
}

/// Work deferred to the end of the entry point (`clusterBeforeSleep`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Todo {
    pub(crate) update_state: bool,
    pub(crate) save: bool,
    pub(crate) fsync: bool,
    pub(crate) handle_failover: bool,
    pub(crate) handle_manual_failover: bool,
}

/// The cluster state of one node (see the module documentation).
pub struct Cluster {
    pub(crate) settings: Settings,
    pub(crate) myself: NodeName,
    pub(crate) nodes: BTreeMap<NodeName, Node>,
    pub(crate) slots: Vec<Option<NodeName>>,
    pub(crate) migrating: BTreeMap<u16, NodeName>,
    pub(crate) importing: BTreeMap<u16, NodeName>,
    pub(crate) current_epoch: u64,
    pub(crate) last_vote_epoch: u64,
    pub(crate) state_ok: bool,
    pub(crate) size: usize,
    pub(crate) first_call_time: u64,
    pub(crate) among_minority_time: u64,
    pub(crate) links: HashMap<LinkId, Link>,
    pub(crate) next_link: u64,
    pub(crate) blacklist: HashMap<NodeName, u64>,
    pub(crate) stats_sent: [u64; MESSAGE_TYPE_COUNT as usize],
    pub(crate) stats_received: [u64; MESSAGE_TYPE_COUNT as usize],
    pub(crate) iteration: u64,
    pub(crate) pings_sent: u64,
    pub(crate) stats_pfail_nodes: usize,
    pub(crate) repl_offset: u64,
    pub(crate) rng: StdRng,
    pub(crate) todo: Todo,
    pub(crate) out: Vec<Action>,
    pub(crate) failover: failover::Failover,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("myself", &self.myself)
            .field("nodes", &self.nodes.len())
            .field("current_epoch", &self.current_epoch)
            .field("state_ok", &self.state_ok)
            .finish()
    }
}

fn random_name(rng: &mut StdRng) -> NodeName {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut name = [0u8; NAME_LEN];
    for b in &mut name {
        *b = HEX[rng.gen_range(0..16usize)];
    }
    NodeName(name)
}

fn to_u16(v: i32) -> u16 {
    u16::try_from(v).unwrap_or(0)
}

impl Cluster {
    /// Builds the state, from a loaded `nodes.conf` or as a new node (then
    /// with a random id, upstream's `No cluster configuration found` line
    /// and a fsynced save in the returned actions, see
    /// [`Cluster::take_actions`]). `seed` drives every random choice.
    pub fn new(settings: Settings, loaded: Option<NodesConf>, now: u64, seed: u64) -> Cluster {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut c = Cluster {
            settings,
            myself: NodeName::NULL,
            nodes: BTreeMap::new(),
            slots: vec![None; CLUSTER_SLOTS_USIZE],
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            state_ok: false,
            size: 0,
            first_call_time: 0,
            among_minority_time: 0,
            links: HashMap::new(),
            next_link: 0,
            blacklist: HashMap::new(),
            stats_sent: [0; MESSAGE_TYPE_COUNT as usize],
            stats_received: [0; MESSAGE_TYPE_COUNT as usize],
            iteration: 0,
            pings_sent: 0,
            stats_pfail_nodes: 0,
            repl_offset: 0,
            rng: StdRng::seed_from_u64(0),
            todo: Todo::default(),
            out: Vec::new(),
            failover: failover::Failover::default(),
        };
        match loaded.filter(|conf| conf.myself().is_some()) {
            Some(conf) => c.load(&conf, now),
            None => {
                let name = random_name(&mut rng);
                c.myself = name;
                c.nodes
                    .insert(name, Node::new(name, nf::MYSELF | nf::MASTER, now));
                c.log(LogLevel::Notice, no_config_message(&name.to_string()));
                c.todo.save = true;
                c.todo.fsync = true;
            }
        }
        c.rng = rng;
        let s = c.settings.clone();
        if let Some(me) = c.nodes.get_mut(&c.myself) {
            me.port = s.port;
            me.cport = s.cport;
            me.pport = s.pport;
            me.hostname = s.hostname.clone();
            if let Some(ip) = &s.announce_ip {
                me.ip = ip.clone();
            }
            if s.replica_no_failover {
                me.flags |= nf::NOFAILOVER;
            } else {
                me.flags &= !nf::NOFAILOVER;
            }
        }
        c.todo.update_state = true;
        // Keep what `finish` collected for `take_actions`.
        c.out = c.finish(now);
        c
    }

    fn load(&mut self, conf: &NodesConf, now: u64) {
        let owners = conf.slot_owners();
        let name_of = |id: &str| NodeName::from_bytes(id.as_bytes());
        for line in &conf.nodes {
            let Some(name) = name_of(&line.id) else {
                continue;
            };
            let mut n = Node::new(name, line.flags.bits(), now);
            n.ip = line.ip.clone();
            n.port = to_u16(line.port);
            n.cport = to_u16(line.cport);
            n.hostname = line.hostname.clone();
            n.config_epoch = line.config_epoch;
            n.ping_sent = if line.ping_pending() { now } else { 0 };
            n.pong_received = if line.pong_seen() { now } else { 0 };
            n.slaveof = line.master.as_deref().and_then(name_of);
            if line.is_myself() {
                self.myself = name;
            }
            self.nodes.insert(name, n);
        }
        // Masters referenced but not described are created as `noflags`.
        let masters: Vec<NodeName> = self.nodes.values().filter_map(|n| n.slaveof).collect();
        for m in masters {
            self.nodes.entry(m).or_insert_with(|| Node::new(m, 0, now));
        }
        let links: Vec<(NodeName, NodeName)> = self
            .nodes
            .values()
            .filter_map(|n| n.slaveof.map(|m| (n.name, m)))
            .collect();
        for (replica, master) in links {
            self.add_replica(master, replica);
        }
        for (slot, owner) in owners.iter().enumerate() {
            let Some(line) = owner.and_then(|i| conf.nodes.get(i)) else {
                continue;
            };
            if let Some(name) = name_of(&line.id) {
                self.add_slot(name, slot as u16);
            }
        }
        for (slot, id) in conf.migrating_slots() {
            if let Some(name) = name_of(&id) {
                self.nodes
                    .entry(name)
                    .or_insert_with(|| Node::new(name, 0, now));
                self.migrating.insert(slot, name);
            }
        }
        for (slot, id) in conf.importing_slots() {
            if let Some(name) = name_of(&id) {
                self.nodes
                    .entry(name)
                    .or_insert_with(|| Node::new(name, 0, now));
                self.importing.insert(slot, name);
            }
        }
        self.current_epoch = conf.effective_current_epoch();
        self.last_vote_epoch = conf.last_vote_epoch;
        self.log(LogLevel::Notice, loaded_message(&self.myself.to_string()));
    }

    /// This node's id.
    pub fn myid(&self) -> String {
        self.myself.to_string()
    }

    /// The current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.current_epoch
    }

    /// Whether the cluster state is `ok`.
    pub fn is_ok(&self) -> bool {
        self.state_ok
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sets the replication offset announced in messages: the master's
    /// offset, or the offset a replica processed (keep it current: during
    /// a manual failover the replica's election starts, at the next entry
    /// point, once it equals the paused master's).
    pub fn set_repl_offset(&mut self, offset: u64) {
        self.repl_offset = offset;
        if self.failover.mf_end != 0 && self.failover.mf_master_offset.is_some() {
            self.todo.handle_manual_failover = true;
        }
    }

    /// The actions produced by [`Cluster::new`] (and nothing else: every
    /// other entry point returns its own).
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    // ----- internal helpers -------------------------------------------

    pub(crate) fn log(&mut self, level: LogLevel, text: String) {
        self.out.push(Action::Log { level, text });
    }

    pub(crate) fn me(&self) -> Option<&Node> {
        self.nodes.get(&self.myself)
    }

    pub(crate) fn myself_is_master(&self) -> bool {
        self.me().is_some_and(Node::is_master)
    }

    pub(crate) fn save(&mut self, fsync: bool) {
        self.todo.save = true;
        self.todo.fsync |= fsync;
    }

    /// The end of every entry point: upstream's `clusterBeforeSleep`.
    pub(crate) fn finish(&mut self, now: u64) -> Vec<Action> {
        self.deferred_failover(now);
        if self.todo.update_state {
            self.update_state(now);
        }
        if self.todo.save {
            let fsync = self.todo.fsync;
            self.out.push(Action::SaveConfig { fsync });
        }
        self.todo = Todo::default();
        std::mem::take(&mut self.out)
    }

    pub(crate) fn add_slot(&mut self, name: NodeName, slot: u16) -> bool {
        let Some(entry) = self.slots.get_mut(usize::from(slot)) else {
            return false;
        };
        if entry.is_some() {
            return false;
        }
        *entry = Some(name);
        let masters_have_slaves = self
            .nodes
            .values()
            .any(|n| n.is_master() && !n.replicas.is_empty());
        if let Some(n) = self.nodes.get_mut(&name) {
            if n.slots.set(slot) && n.slots.count() == 1 && masters_have_slaves {
                n.flags |= nf::MIGRATE_TO;
            }
        }
        true
    }

    pub(crate) fn del_slot(&mut self, slot: u16) -> bool {
        let Some(owner) = self.slots.get_mut(usize::from(slot)).and_then(Option::take) else {
            return false;
        };
        // TODO(sharded pubsub): upstream also drops the shard channels of
        // the slot when this node serves it.
        if let Some(n) = self.nodes.get_mut(&owner) {
            n.slots.clear(slot);
        }
        true
    }

    pub(crate) fn del_node_slots(&mut self, name: NodeName) -> usize {
        let owned: Vec<u16> = self
            .nodes
            .get(&name)
            .map(|n| n.slots.iter().collect())
            .unwrap_or_default();
        for &s in &owned {
            self.del_slot(s);
        }
        owned.len()
    }

    /// A new outbound link for `name` (`createClusterLink` + connect).
    pub(crate) fn connect(&mut self, name: NodeName, now: u64) {
        let Some(n) = self.nodes.get(&name) else {
            return;
        };
        self.next_link += 1;
        let link = LinkId(LinkId::OUTBOUND_BIT | self.next_link);
        let (ip, cport) = (n.ip.clone(), n.cport);
        self.links.insert(
            link,
            Link {
                node: Some(name),
                inbound: false,
                ctime: now,
                connected: false,
                peer_ip: ip.clone(),
                local_ip: String::new(),
            },
        );
        if let Some(n) = self.nodes.get_mut(&name) {
            n.link = Some(link);
        }
        self.out.push(Action::Connect {
            link,
            node: name,
            ip,
            cport,
        });
    }

    /// `freeClusterLink`: forget the link and ask the driver to close it.
    pub(crate) fn free_link(&mut self, link: LinkId) {
        if self.forget_link(link) {
            self.out.push(Action::Close { link });
        }
    }

    /// Forgets a link (the driver already closed it).
    pub(crate) fn forget_link(&mut self, link: LinkId) -> bool {
        let Some(l) = self.links.remove(&link) else {
            return false;
        };
        if let Some(n) = l.node.and_then(|name| self.nodes.get_mut(&name)) {
            if n.link == Some(link) {
                n.link = None;
            }
            if n.inbound_link == Some(link) {
                n.inbound_link = None;
            }
        }
        true
    }

    /// `clusterDelNode`.
    pub(crate) fn del_node(&mut self, name: NodeName) {
        self.importing.retain(|_, n| *n != name);
        self.migrating.retain(|_, n| *n != name);
        self.del_node_slots(name);
        let others: Vec<NodeName> = self.nodes.keys().copied().filter(|n| *n != name).collect();
        for o in others {
            if let Some(n) = self.nodes.get_mut(&o) {
                n.fail_reports.retain(|(r, _)| *r != name);
            }
        }
        let Some(node) = self.nodes.remove(&name) else {
            return;
        };
        if let Some(m) = node.slaveof.filter(|_| node.is_slave()) {
            self.remove_replica(m, name);
        }
        for r in &node.replicas {
            if let Some(rn) = self.nodes.get_mut(r) {
                if rn.slaveof == Some(name) {
                    rn.slaveof = None;
                }
            }
        }
        for link in [node.link, node.inbound_link].into_iter().flatten() {
            self.free_link(link);
        }
    }

    /// `clusterRenameNode`.
    pub(crate) fn rename_node(&mut self, old: NodeName, new: NodeName) {
        let Some(mut node) = self.nodes.remove(&old) else {
            return;
        };
        self.log(LogLevel::Debug, format!("Renaming node {old} into {new}"));
        node.name = new;
        for link in [node.link, node.inbound_link].into_iter().flatten() {
            if let Some(l) = self.links.get_mut(&link) {
                l.node = Some(new);
            }
        }
        self.nodes.insert(new, node);
        self.save(false);
    }

    /// `clusterSetNodeAsMaster`.
    pub(crate) fn set_node_as_master(&mut self, name: NodeName) {
        let Some(n) = self.nodes.get(&name) else {
            return;
        };
        if n.is_master() {
            return;
        }
        let slaveof = n.slaveof;
        let is_me = name == self.myself;
        if let Some(m) = slaveof {
            self.remove_replica(m, name);
        }
        if let Some(n) = self.nodes.get_mut(&name) {
            if slaveof.is_some() && !is_me {
                n.flags |= nf::MIGRATE_TO;
            }
            n.flags &= !nf::SLAVE;
            n.flags |= nf::MASTER;
            n.slaveof = None;
        }
        self.save(false);
        self.todo.update_state = true;
    }

    /// `clusterSetMaster`: make myself a replica of `master`.
    pub(crate) fn set_my_master(&mut self, master: NodeName) {
        let me = self.myself;
        let old = self.me().and_then(|m| m.slaveof);
        if self.myself_is_master() {
            if let Some(n) = self.nodes.get_mut(&me) {
                n.flags &= !(nf::MASTER | nf::MIGRATE_TO);
                n.flags |= nf::SLAVE;
            }
            self.migrating.clear();
            self.importing.clear();
        } else if let Some(o) = old {
            self.remove_replica(o, me);
        }
        if let Some(n) = self.nodes.get_mut(&me) {
            n.slaveof = Some(master);
        }
        self.add_replica(master, me);
        if let Some(m) = self.nodes.get(&master) {
            let (ip, port) = (m.ip.clone(), m.port);
            self.out.push(Action::ReplicateFrom { ip, port });
        }
        self.reset_manual_failover();
    }

    /// `clusterNodeAddSlave`: a master with replicas is a target of
    /// replica migration (`MIGRATE_TO`).
    pub(crate) fn add_replica(&mut self, master: NodeName, replica: NodeName) {
        if let Some(m) = self.nodes.get_mut(&master) {
            if !m.replicas.contains(&replica) {
                m.replicas.push(replica);
                m.flags |= nf::MIGRATE_TO;
            }
        }
    }

    /// `clusterNodeRemoveSlave`: `MIGRATE_TO` goes with the last replica.
    pub(crate) fn remove_replica(&mut self, master: NodeName, replica: NodeName) {
        if let Some(m) = self.nodes.get_mut(&master) {
            let before = m.replicas.len();
            m.replicas.retain(|r| *r != replica);
            if before != m.replicas.len() && m.replicas.is_empty() {
                m.flags &= !nf::MIGRATE_TO;
            }
        }
    }

    /// The greatest epoch known (`clusterGetMaxEpoch`).
    pub(crate) fn max_epoch(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| n.config_epoch)
            .fold(self.current_epoch, u64::max)
    }

    /// A node's epoch as shown (a replica shows its master's).
    pub(crate) fn node_epoch(&self, n: &Node) -> u64 {
        match n.slaveof.and_then(|m| self.nodes.get(&m)) {
            Some(m) if n.is_slave() => m.config_epoch,
            _ => n.config_epoch,
        }
    }

    /// `clusterLookupNode` for a textual id (40 bytes, else unknown).
    pub(crate) fn lookup(&self, id: &str) -> Option<NodeName> {
        let name = NodeName::from_bytes(id.as_bytes())?;
        self.nodes.contains_key(&name).then_some(name)
    }

    /// The header of every message this node sends
    /// (`clusterBuildMessageHdr`).
    pub(crate) fn build_header(&self) -> Header {
        let me = self.me();
        let master = me
            .filter(|m| m.is_slave())
            .and_then(|m| m.slaveof)
            .and_then(|name| self.nodes.get(&name))
            .or(me);
        let myslots = master
            .map(|m| SlotBitmap::from_array(m.slots.to_bitmap()))
            .unwrap_or_default();
        Header {
            port: self.settings.port,
            current_epoch: self.current_epoch,
            config_epoch: master.map_or(0, |m| m.config_epoch),
            offset: self.repl_offset,
            sender: self.myself,
            myslots,
            slaveof: me.and_then(|m| m.slaveof),
            myip: self
                .settings
                .announce_ip
                .as_deref()
                .and_then(IpField::new)
                .unwrap_or_default(),
            pport: self.settings.pport,
            cport: self.settings.cport,
            flags: me.map_or(0, |m| m.flags),
            state: if self.state_ok {
                cluster_state::OK
            } else {
                cluster_state::FAIL
            },
            // A master in a manual failover announces its paused offset.
            mflags: [
                if me.is_some_and(Node::is_master) && self.failover.mf_end != 0 {
                    crate::bus::msg_flags::PAUSED
                } else {
                    0
                },
                0,
                0,
            ],
        }
    }

    /// Queues a message on a link, counting it.
    pub(crate) fn send(&mut self, link: LinkId, body: Body) {
        let msg = Message::new(self.build_header(), body);
        self.send_msg(link, msg);
    }

    /// Queues a built message on a link, counting it.
    pub(crate) fn send_msg(&mut self, link: LinkId, msg: Message) {
        if let Some(slot) = self.stats_sent.get_mut(usize::from(msg.msg_type())) {
            *slot += 1;
        }
        self.out.push(Action::Send { link, msg });
    }

    /// Sends to every node with a link but myself and handshake nodes
    /// (`clusterBroadcastMessage`).
    pub(crate) fn broadcast(&mut self, body: Body) {
        for link in self.broadcast_targets() {
            self.send(link, body.clone());
        }
    }

    /// The links [`Cluster::broadcast`] sends on.
    pub(crate) fn broadcast_targets(&self) -> Vec<LinkId> {
        self.nodes
            .values()
            .filter(|n| !n.has(nf::MYSELF | nf::HANDSHAKE))
            .filter_map(|n| n.link)
            .collect()
    }

    /// Converts a node to its `nodes.conf` / `CLUSTER NODES` line.
    pub(crate) fn node_line(&self, n: &Node) -> NodeLine {
        let is_me = n.name == self.myself;
        let mut line = NodeLine {
            id: n.name.to_string(),
            ip: n.ip.clone(),
            port: i32::from(n.port),
            cport: i32::from(n.cport),
            hostname: n.hostname.clone(),
            flags: NodeFlags::from_bits(n.flags & 0x3ff & !nf::MIGRATE_TO & !nf::MEET),
            master: n.slaveof.map(|m| m.to_string()),
            ping_sent: i64::try_from(n.ping_sent).unwrap_or(i64::MAX),
            pong_recv: i64::try_from(n.pong_received).unwrap_or(i64::MAX),
            config_epoch: self.node_epoch(n),
            link_state: if n.link.is_some() || is_me {
                LinkState::Connected
            } else {
                LinkState::Disconnected
            },
            slots: n.slots.clone(),
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
        };
        if is_me {
            line.migrating = self
                .migrating
                .iter()
                .map(|(s, n)| (*s, n.to_string()))
                .collect();
            line.importing = self
                .importing
                .iter()
                .map(|(s, n)| (*s, n.to_string()))
                .collect();
        }
        line
    }
}
