//! Replica elections and automatic failover, the votes of the masters,
//! manual failover (`CLUSTER FAILOVER`, `MFSTART`), replica migration and
//! PUBLISH/PUBLISHSHARD relaying: upstream 7.0's
//! `clusterHandleSlaveFailover`, `clusterSendFailoverAuthIfNeeded`,
//! `clusterHandleManualFailover`, `clusterHandleSlaveMigration` and
//! `clusterPropagatePublish`, written against the spec in
//! <https://redis.io/docs/reference/cluster-spec/>.
//!
//! Timing (all in ms, `T` = `cluster-node-timeout`):
//!
//! - a replica whose master is FAIL schedules its election after
//!   `500 + random(0..500) + rank * 1000` (rank: how many other replicas
//!   of the same master announce a greater replication offset), raised
//!   when its rank gets worse before the request is out;
//! - the election (`FAILOVER_AUTH_REQUEST` for `currentEpoch + 1`) is
//!   valid for `max(2T, 2000)` and retried after twice that;
//! - it is won with the votes (`FAILOVER_AUTH_ACK`) of `size / 2 + 1`
//!   masters serving slots;
//! - a master votes once per epoch and at most once per `2T` for the
//!   replicas of a given master;
//! - a manual failover lasts at most [`MANUAL_FAILOVER_TIMEOUT`]; the
//!   master pauses its writes for twice that (or until it ends).

use rand::Rng;

use super::proto::PingKind;
use super::{Action, Cluster, LinkId, LogLevel, Node};
use super::{
    CANT_FAILOVER_RELOG_PERIOD, MANUAL_FAILOVER_PAUSE_MULT, MANUAL_FAILOVER_TIMEOUT,
    REPLICA_MIGRATION_DELAY,
};
use crate::bus::{msg_flags, node_flags as nf, Body, Header, Message, NodeName};
use crate::slot::SlotSet;

/// The `CLUSTER FAILOVER` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverMode {
    /// No option: the master pauses its writes and announces its
    /// replication offset; the election starts once this replica has
    /// processed up to it, and the masters vote although the master is
    /// up.
    Default,
    /// `FORCE`: the election starts at once, without the master.
    Force,
    /// `TAKEOVER`: no election; this replica bumps its config epoch on
    /// its own and takes over its master's slots.
    Takeover,
}

/// Why a replica can't fail over (`CLUSTER_CANT_FAILOVER_*`), for the
/// throttled log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum CantFailover {
    #[default]
    None,
    DataAge,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

impl CantFailover {
    fn text(self) -> &'static str {
        match self {
            CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
            CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
            CantFailover::Expired => "Failover attempt expired.",
            CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
            CantFailover::None => "Unknown reason code.",
        }
    }
}

/// The election, manual failover and replication link state.
#[derive(Debug, Clone)]
pub(crate) struct Failover {
    /// When the election starts (or started); 0: never.
    pub(crate) auth_time: u64,
    /// Votes received for `auth_epoch`.
    pub(crate) auth_count: usize,
    /// Whether the vote requests are out.
    pub(crate) auth_sent: bool,
    /// This replica's rank when the election was scheduled.
    pub(crate) auth_rank: u64,
    /// The epoch of the election.
    pub(crate) auth_epoch: u64,
    /// The last reason logged by `log_cant_failover`.
    pub(crate) cant_reason: CantFailover,
    /// When it was logged.
    pub(crate) cant_logged_at: u64,
    /// When the manual failover in progress ends; 0: none.
    pub(crate) mf_end: u64,
    /// Replica: the election of the manual failover may start.
    pub(crate) mf_can_start: bool,
    /// Master: the replica that asked for the manual failover (writes
    /// are paused while set).
    pub(crate) mf_replica: Option<NodeName>,
    /// Replica: the offset the paused master announced.
    pub(crate) mf_master_offset: Option<u64>,
    /// The replication link to the master is up.
    pub(crate) link_up: bool,
    /// When it went down (`None`: never connected).
    pub(crate) down_since: Option<u64>,
    /// When data last came from the master.
    pub(crate) last_io: u64,
    /// `repl-ping-replica-period` in ms.
    pub(crate) ping_period: u64,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            auth_time: 0,
            auth_count: 0,
            auth_sent: false,
            auth_rank: 0,
            auth_epoch: 0,
            cant_reason: CantFailover::None,
            cant_logged_at: 0,
            mf_end: 0,
            mf_can_start: false,
            mf_replica: None,
            mf_master_offset: None,
            link_up: false,
            down_since: None,
            last_io: 0,
            ping_period: 10_000,
        }
    }
}

/// `now - then` as a signed number (`then` may be in the future).
fn elapsed(now: u64, then: u64) -> i128 {
    i128::from(now) - i128::from(then)
}

impl Cluster {
    /// The state of this node's replication link to its master, for the
    /// replica validity check of automatic failovers (upstream's
    /// `repl_state`, `master->lastinteraction`, `repl_down_since`):
    ///
    /// - `link_up`: the link is established and synced
    ///   (`REPL_STATE_CONNECTED`); the data is then `now - last_io_ms`
    ///   old (`last_io_ms`: when data, or a ping, last came from the
    ///   master);
    /// - otherwise the data is `now - down_since_ms` old, where
    ///   `down_since_ms` is when the link was lost; `None` means it never
    ///   came up since the start, and the data counts as too old (unless
    ///   `cluster-replica-validity-factor` is 0).
    ///
    /// Until the first call the link counts as never connected. A
    /// replica's driver should call it before every [`Cluster::tick`].
    pub fn set_replica_link(&mut self, link_up: bool, down_since_ms: Option<u64>, last_io_ms: u64) {
        let fo = &mut self.failover;
        fo.link_up = link_up;
        fo.down_since = down_since_ms;
        fo.last_io = last_io_ms;
    }

    /// `repl-ping-replica-period` in seconds (default 10): part of the
    /// limit of the replica validity check
    /// (`period + node_timeout * cluster-replica-validity-factor`).
    pub fn set_repl_ping_replica_period(&mut self, secs: u64) {
        self.failover.ping_period = secs.saturating_mul(1000);
    }

    /// Whether a manual failover is in progress (as the replica that
    /// asked for it, or as the master that paused its writes).
    pub fn manual_failover_in_progress(&self) -> bool {
        self.failover.mf_end != 0
    }

    /// Propagates a `PUBLISH` (`shard == false`: to every node with a
    /// link) or an `SPUBLISH` (`shard == true`: to the other nodes of
    /// this node's shard, its master and the master's replicas)
    /// (`clusterPropagatePublish`). The local subscribers are the
    /// driver's business.
    pub fn publish(
        &mut self,
        channel: &[u8],
        message: &[u8],
        shard: bool,
        now: u64,
    ) -> Vec<Action> {
        let (channel, message) = (channel.to_vec(), message.to_vec());
        if shard {
            let body = Body::PublishShard { channel, message };
            for link in self.shard_links() {
                self.send(link, body.clone());
            }
        } else {
            self.broadcast(Body::Publish { channel, message });
        }
        self.finish(now)
    }

    /// The links to the other nodes serving my slots
    /// (`clusterGetNodesServingMySlots` minus myself).
    fn shard_links(&self) -> Vec<LinkId> {
        let primary = match self.me() {
            Some(m) if m.is_slave() => m.slaveof,
            Some(m) => Some(m.name),
            None => None,
        };
        let Some(p) = primary.and_then(|p| self.nodes.get(&p)) else {
            return Vec::new();
        };
        std::iter::once(p.name)
            .chain(p.replicas.iter().copied())
            .filter(|n| *n != self.myself)
            .filter_map(|n| self.nodes.get(&n).and_then(|n| n.link))
            .collect()
    }

    /// A PUBLISH or PUBLISHSHARD from a known node: deliver it.
    pub(crate) fn on_publish(&mut self, sender: Option<NodeName>, body: &Body) {
        if sender.is_none() {
            return;
        }
        let (channel, message, shard) = match body {
            Body::Publish { channel, message } => (channel, message, false),
            Body::PublishShard { channel, message } => (channel, message, true),
            _ => return,
        };
        self.out.push(Action::Deliver {
            channel: channel.clone(),
            message: message.clone(),
            shard,
        });
    }

    // ----- votes ----------------------------------------------------------

    /// A `FAILOVER_AUTH_REQUEST` from `node`: vote for it if allowed
    /// (`clusterSendFailoverAuthIfNeeded`).
    pub(crate) fn on_auth_request(&mut self, node: Option<NodeName>, req: &Header, now: u64) {
        let Some(node) = node else {
            return;
        };
        // Only masters serving slots vote.
        if self.me().is_none_or(|m| m.is_slave() || m.numslots() == 0) {
            return;
        }
        let deny = |c: &mut Cluster, why: String| {
            c.log(
                LogLevel::Warning,
                format!("Failover auth denied to {node}: {why}"),
            );
        };
        let (req_epoch, req_config) = (req.current_epoch, req.config_epoch);
        let force_ack = req.mflags[0] & msg_flags::FORCEACK != 0;
        if req_epoch < self.current_epoch {
            let cur = self.current_epoch;
            deny(self, format!("reqEpoch ({req_epoch}) < curEpoch({cur})"));
            return;
        }
        if self.last_vote_epoch == self.current_epoch {
            let cur = self.current_epoch;
            deny(self, format!("already voted for epoch {cur}"));
            return;
        }
        let Some(n) = self.nodes.get(&node) else {
            return;
        };
        let is_master = n.is_master();
        let master = n.slaveof.filter(|m| self.nodes.contains_key(m));
        let master_failed = master
            .and_then(|m| self.nodes.get(&m))
            .is_some_and(Node::failed);
        let master = match master {
            _ if is_master => {
                deny(self, "it is a master node".to_owned());
                return;
            }
            None => {
                deny(self, "I don't know its master".to_owned());
                return;
            }
            Some(_) if !master_failed && !force_ack => {
                deny(self, "its master is up".to_owned());
                return;
            }
            Some(m) => m,
        };
        let window = i128::from(self.settings.node_timeout) * 2;
        let voted = self.nodes.get(&master).map_or(0, |m| m.voted_time);
        let since = elapsed(now, voted);
        if since < window {
            deny(
                self,
                format!(
                    "can't vote about this master before {} milliseconds",
                    window - since
                ),
            );
            return;
        }
        let claimed = SlotSet::from_bitmap(req.myslots.as_bytes());
        for slot in claimed.iter() {
            let Some(owner) = self.slots[usize::from(slot)] else {
                continue;
            };
            let epoch = self.nodes.get(&owner).map_or(0, |o| o.config_epoch);
            if epoch <= req_config {
                continue;
            }
            deny(
                self,
                format!("slot {slot} epoch ({epoch}) > reqEpoch ({req_config})"),
            );
            return;
        }
        self.last_vote_epoch = self.current_epoch;
        if let Some(m) = self.nodes.get_mut(&master) {
            m.voted_time = now;
        }
        self.save(true);
        if let Some(link) = self.nodes.get(&node).and_then(|n| n.link) {
            self.send(link, Body::FailoverAuthAck);
        }
        let epoch = self.current_epoch;
        self.log(
            LogLevel::Warning,
            format!("Failover auth granted to {node} for epoch {epoch}"),
        );
    }

    /// A `FAILOVER_AUTH_ACK`: count it if it comes from a master serving
    /// slots that knows the epoch of our election.
    pub(crate) fn on_auth_ack(&mut self, sender: Option<NodeName>, hdr: &Header) {
        let Some(s) = sender else {
            return;
        };
        let voter = self
            .nodes
            .get(&s)
            .is_some_and(|n| n.is_master() && n.numslots() > 0);
        if voter && hdr.current_epoch >= self.failover.auth_epoch {
            self.failover.auth_count += 1;
            self.todo.handle_failover = true;
        }
    }

    // ----- elections --------------------------------------------------------

    /// How many replicas of my master (which may fail over) announce a
    /// greater replication offset than mine (`clusterGetSlaveRank`).
    fn replica_rank(&self) -> u64 {
        let Some(master) = self
            .me()
            .and_then(|m| m.slaveof)
            .and_then(|m| self.nodes.get(&m))
        else {
            return 0;
        };
        let better = master
            .replicas
            .iter()
            .filter(|r| **r != self.myself)
            .filter_map(|r| self.nodes.get(r))
            .filter(|r| !r.has(nf::NOFAILOVER) && r.repl_offset > self.repl_offset)
            .count();
        u64::try_from(better).unwrap_or(u64::MAX)
    }

    /// `clusterLogCantFailover`: logs why the failover can't go on, at
    /// most once per reason every [`CANT_FAILOVER_RELOG_PERIOD`], and not
    /// while the master failed less than `node_timeout + 5 s` ago.
    fn log_cant_failover(&mut self, reason: CantFailover, now: u64) {
        let fo = &self.failover;
        if reason == fo.cant_reason
            && now.saturating_sub(fo.cant_logged_at) < CANT_FAILOVER_RELOG_PERIOD
        {
            return;
        }
        self.failover.cant_reason = reason;
        let quiet = self.settings.node_timeout + 5000;
        let recent = self
            .me()
            .and_then(|m| m.slaveof)
            .and_then(|m| self.nodes.get(&m))
            .is_some_and(|m| m.failed() && elapsed(now, m.fail_time) < i128::from(quiet));
        if recent {
            return;
        }
        self.failover.cant_logged_at = now;
        self.log(
            LogLevel::Warning,
            format!("Currently unable to failover: {}", reason.text()),
        );
    }

    /// The age of the replicated data, minus the node timeout.
    fn data_age(&self, now: u64) -> u64 {
        let fo = &self.failover;
        let age = if fo.link_up {
            now.saturating_sub(fo.last_io)
        } else {
            now.saturating_sub(fo.down_since.unwrap_or(0))
        };
        let timeout = self.settings.node_timeout;
        if age > timeout {
            age - timeout
        } else {
            age
        }
    }

    /// Sends PONG to the replicas of my master, and to mine
    /// (`clusterBroadcastPong(CLUSTER_BROADCAST_LOCAL_SLAVES)`).
    fn broadcast_pong_local_replicas(&mut self, now: u64) {
        let me = self.myself;
        let my_master = self.me().and_then(|m| m.slaveof);
        let targets: Vec<LinkId> = self
            .nodes
            .values()
            .filter(|n| !n.has(nf::MYSELF | nf::HANDSHAKE) && n.is_slave())
            .filter(|n| n.slaveof.is_some_and(|m| m == me || Some(m) == my_master))
            .filter_map(|n| n.link)
            .collect();
        for link in targets {
            self.send_ping(link, PingKind::Pong, now);
        }
    }

    /// `clusterRequestFailoverAuth`: a vote request to every node, with
    /// `FORCEACK` during a manual failover.
    fn request_failover_auth(&mut self) {
        let mut hdr = self.build_header();
        if self.failover.mf_end != 0 {
            hdr.mflags[0] |= msg_flags::FORCEACK;
        }
        let msg = Message::new(hdr, Body::FailoverAuthRequest);
        for link in self.broadcast_targets() {
            self.send_msg(link, msg.clone());
        }
    }

    /// `clusterHandleSlaveFailover`: schedules, starts and concludes the
    /// election of this replica when its master is FAIL (or a manual
    /// failover may start).
    pub(crate) fn handle_slave_failover(&mut self, now: u64) {
        let auth_age = elapsed(now, self.failover.auth_time);
        let needed_quorum = self.size / 2 + 1;
        let manual = self.failover.mf_end != 0 && self.failover.mf_can_start;
        let timeout = self.settings.node_timeout;
        let auth_timeout = timeout.saturating_mul(2).max(2000);
        let auth_retry = auth_timeout.saturating_mul(2);
        let master = match self.me() {
            Some(m) if m.is_slave() => m.slaveof.and_then(|s| self.nodes.get(&s)),
            _ => None,
        };
        let can = master.is_some_and(|m| (m.failed() || manual) && m.numslots() > 0)
            && (manual || !self.settings.replica_no_failover);
        if !can {
            self.failover.cant_reason = CantFailover::None;
            return;
        }
        let factor = u64::from(self.settings.replica_validity_factor);
        let limit = self
            .failover
            .ping_period
            .saturating_add(timeout.saturating_mul(factor));
        if factor != 0 && self.data_age(now) > limit && !manual {
            self.log_cant_failover(CantFailover::DataAge, now);
            return;
        }
        if auth_age > i128::from(auth_retry) {
            let delay = 500 + self.rng.gen_range(0..500u64);
            let rank = self.replica_rank();
            let fo = &mut self.failover;
            fo.auth_time = now + delay + rank.saturating_mul(1000);
            fo.auth_count = 0;
            fo.auth_sent = false;
            fo.auth_rank = rank;
            if fo.mf_end != 0 {
                fo.auth_time = now;
                fo.auth_rank = 0;
                self.todo.handle_failover = true;
            }
            let (delay, rank) = (self.failover.auth_time - now, self.failover.auth_rank);
            let offset = self.repl_offset;
            self.log(
                LogLevel::Warning,
                format!(
                    "Start of election delayed for {delay} milliseconds (rank #{rank}, offset {offset})."
                ),
            );
            self.broadcast_pong_local_replicas(now);
            return;
        }
        if !self.failover.auth_sent && self.failover.mf_end == 0 {
            let rank = self.replica_rank();
            if rank > self.failover.auth_rank {
                let added = (rank - self.failover.auth_rank).saturating_mul(1000);
                self.failover.auth_time = self.failover.auth_time.saturating_add(added);
                self.failover.auth_rank = rank;
                self.log(
                    LogLevel::Warning,
                    format!(
                        "Replica rank updated to #{rank}, added {added} milliseconds of delay."
                    ),
                );
            }
        }
        if now < self.failover.auth_time {
            self.log_cant_failover(CantFailover::WaitingDelay, now);
            return;
        }
        if auth_age > i128::from(auth_timeout) {
            self.log_cant_failover(CantFailover::Expired, now);
            return;
        }
        if !self.failover.auth_sent {
            self.current_epoch += 1;
            let epoch = self.current_epoch;
            self.failover.auth_epoch = epoch;
            self.log(
                LogLevel::Warning,
                format!("Starting a failover election for epoch {epoch}."),
            );
            self.request_failover_auth();
            self.failover.auth_sent = true;
            self.save(true);
            self.todo.update_state = true;
            return;
        }
        if self.failover.auth_count >= needed_quorum {
            self.log(
                LogLevel::Warning,
                "Failover election won: I'm the new master.".to_owned(),
            );
            let epoch = self.failover.auth_epoch;
            let me = self.myself;
            if let Some(m) = self.nodes.get_mut(&me) {
                if m.config_epoch < epoch {
                    m.config_epoch = epoch;
                    self.log(
                        LogLevel::Warning,
                        format!("configEpoch set to {epoch} after successful failover"),
                    );
                }
            }
            self.failover_replace_your_master(now);
        } else {
            self.log_cant_failover(CantFailover::WaitingVotes, now);
        }
    }

    /// `clusterFailoverReplaceYourMaster`: become a master (keeping the
    /// data), take all the slots of the old master, tell everybody.
    pub(crate) fn failover_replace_your_master(&mut self, now: u64) {
        let old = match self.me() {
            Some(m) if m.is_slave() => m.slaveof,
            _ => None,
        };
        let Some(old) = old else {
            return;
        };
        let me = self.myself;
        self.set_node_as_master(me);
        self.out.push(Action::PromoteToMaster);
        let slots: Vec<u16> = self
            .nodes
            .get(&old)
            .map(|n| n.slots.iter().collect())
            .unwrap_or_default();
        for slot in slots {
            self.del_slot(slot);
            self.add_slot(me, slot);
        }
        self.update_state(now);
        self.save(true);
        self.broadcast_pong(now);
        self.reset_manual_failover();
    }

    // ----- manual failover ----------------------------------------------------

    /// `resetManualFailover`; a master that paused its writes for it
    /// resumes them ([`Action::UnpauseWrites`]).
    pub(crate) fn reset_manual_failover(&mut self) {
        if self.failover.mf_replica.is_some() {
            self.out.push(Action::UnpauseWrites);
        }
        let fo = &mut self.failover;
        fo.mf_end = 0;
        fo.mf_can_start = false;
        fo.mf_replica = None;
        fo.mf_master_offset = None;
    }

    /// Starts a manual failover on this replica (the part of
    /// `CLUSTER FAILOVER` after its checks).
    pub(crate) fn start_manual_failover(&mut self, mode: FailoverMode, now: u64) {
        self.reset_manual_failover();
        self.failover.mf_end = now + MANUAL_FAILOVER_TIMEOUT;
        match mode {
            FailoverMode::Takeover => {
                self.log(
                    LogLevel::Warning,
                    "Taking over the master (user request).".to_owned(),
                );
                self.bump_epoch_without_consensus();
                self.failover_replace_your_master(now);
            }
            FailoverMode::Force => {
                self.log(
                    LogLevel::Warning,
                    "Forced failover user request accepted.".to_owned(),
                );
                self.failover.mf_can_start = true;
            }
            FailoverMode::Default => {
                self.log(
                    LogLevel::Warning,
                    "Manual failover user request accepted.".to_owned(),
                );
                let link = self
                    .me()
                    .and_then(|m| m.slaveof)
                    .and_then(|m| self.nodes.get(&m))
                    .and_then(|m| m.link);
                if let Some(link) = link {
                    self.send(link, Body::MfStart);
                }
            }
        }
    }

    /// `MFSTART` from one of my replicas: pause the writes, start the
    /// manual failover window and ping it my (now stable) offset.
    pub(crate) fn on_mfstart(&mut self, sender: Option<NodeName>, link: LinkId, now: u64) {
        let Some(s) = sender else {
            return;
        };
        if self.nodes.get(&s).and_then(|n| n.slaveof) != Some(self.myself) {
            return;
        }
        self.reset_manual_failover();
        self.failover.mf_end = now + MANUAL_FAILOVER_TIMEOUT;
        self.failover.mf_replica = Some(s);
        self.out.push(Action::PauseWrites {
            until_ms: now + MANUAL_FAILOVER_TIMEOUT * MANUAL_FAILOVER_PAUSE_MULT,
        });
        self.log(
            LogLevel::Warning,
            format!("Manual failover requested by replica {s}."),
        );
        self.send_ping(link, PingKind::Ping, now);
    }

    /// A message from my master flagged `PAUSED` during my manual
    /// failover: its offset is the one to reach.
    pub(crate) fn note_paused_master_offset(&mut self, sender: NodeName, hdr: &Header) {
        let fo = &self.failover;
        if fo.mf_end == 0 || fo.mf_master_offset.is_some() || hdr.mflags[0] & msg_flags::PAUSED == 0
        {
            return;
        }
        if !self
            .me()
            .is_some_and(|m| m.is_slave() && m.slaveof == Some(sender))
        {
            return;
        }
        self.failover.mf_master_offset = Some(hdr.offset);
        self.todo.handle_manual_failover = true;
        self.log(
            LogLevel::Warning,
            format!(
                "Received replication offset for paused master manual failover: {}",
                hdr.offset
            ),
        );
    }

    /// `clusterHandleManualFailover`: the election may start once this
    /// replica processed the paused master's offset.
    fn handle_manual_failover(&mut self) {
        let fo = &self.failover;
        if fo.mf_end == 0 || fo.mf_can_start {
            return;
        }
        let Some(target) = fo.mf_master_offset else {
            return;
        };
        if target == self.repl_offset {
            self.failover.mf_can_start = true;
            self.log(
                LogLevel::Warning,
                "All master replication stream processed, manual failover can start.".to_owned(),
            );
            self.todo.handle_failover = true;
        }
    }

    /// `manualFailoverCheckTimeout`.
    fn manual_failover_check_timeout(&mut self, now: u64) {
        if self.failover.mf_end != 0 && self.failover.mf_end < now {
            self.log(LogLevel::Warning, "Manual failover timed out.".to_owned());
            self.reset_manual_failover();
        }
    }

    /// The failover work deferred to the end of an entry point
    /// (`clusterBeforeSleep`'s `HANDLE_MANUALFAILOVER` / `HANDLE_FAILOVER`).
    pub(crate) fn deferred_failover(&mut self, now: u64) {
        // Each round may ask for one more (scheduled → started); bounded.
        for _ in 0..4 {
            let manual = std::mem::take(&mut self.todo.handle_manual_failover);
            let auto = std::mem::take(&mut self.todo.handle_failover);
            if manual {
                if self.me().is_some_and(Node::is_slave) {
                    self.handle_manual_failover();
                    self.handle_slave_failover(now);
                }
            } else if auto {
                self.handle_slave_failover(now);
            } else {
                break;
            }
        }
    }

    // ----- cron ---------------------------------------------------------------

    /// Working (not FAIL) replicas of a master
    /// (`clusterCountNonFailingSlaves`).
    pub(crate) fn ok_replicas(&self, n: &Node) -> usize {
        n.replicas
            .iter()
            .filter_map(|r| self.nodes.get(r))
            .filter(|r| !r.failed())
            .count()
    }

    /// The replica part of `clusterCron`, after the node loop counted the
    /// orphaned masters, the most working replicas of a master and those
    /// of mine.
    pub(crate) fn failover_cron(
        &mut self,
        orphaned: usize,
        max_ok: usize,
        mine_ok: usize,
        now: u64,
    ) {
        self.manual_failover_check_timeout(now);
        if !self.me().is_some_and(Node::is_slave) {
            return;
        }
        self.handle_manual_failover();
        self.handle_slave_failover(now);
        if orphaned > 0 && max_ok >= 2 && mine_ok == max_ok && self.settings.allow_replica_migration
        {
            self.handle_replica_migration(max_ok, now);
        }
    }

    /// Whether the cron pings `name` continuously: it is the replica of
    /// the manual failover this master is in.
    pub(crate) fn mf_pings(&self, name: NodeName) -> bool {
        self.failover.mf_end != 0
            && self.failover.mf_replica == Some(name)
            && self.myself_is_master()
    }

    /// `clusterHandleSlaveMigration`: the replica with the smallest id
    /// among those of the masters with the most working replicas moves to
    /// a master left without working replicas for a while.
    fn handle_replica_migration(&mut self, max_ok: usize, now: u64) {
        if !self.state_ok {
            return;
        }
        let Some(my_master) = self.me().and_then(|m| m.slaveof) else {
            return;
        };
        let ok_here = self.nodes.get(&my_master).map_or(0, |m| {
            m.replicas
                .iter()
                .filter_map(|r| self.nodes.get(r))
                .filter(|r| !r.failed() && !r.timed_out())
                .count()
        });
        if ok_here <= self.settings.migration_barrier as usize {
            return;
        }
        let mut candidate = self.myself;
        let mut target: Option<NodeName> = None;
        let names: Vec<NodeName> = self.nodes.keys().copied().collect();
        for name in names {
            let Some(n) = self.nodes.get(&name) else {
                continue;
            };
            let ok = if n.is_master() {
                self.ok_replicas(n)
            } else {
                0
            };
            let orphaned = !n.is_slave() && !n.failed() && n.has(nf::MIGRATE_TO) && ok == 0;
            if ok == max_ok {
                for r in &n.replicas {
                    if r.as_bytes() < candidate.as_bytes() {
                        candidate = *r;
                    }
                }
            }
            let has_slots = n.numslots() > 0;
            if orphaned {
                if target.is_none() && has_slots {
                    target = Some(name);
                }
                if let Some(n) = self.nodes.get_mut(&name) {
                    if n.orphaned_time == 0 {
                        n.orphaned_time = now;
                    }
                }
            } else if let Some(n) = self.nodes.get_mut(&name) {
                n.orphaned_time = 0;
            }
        }
        let Some(target) = target else {
            return;
        };
        let since = self.nodes.get(&target).map_or(0, |n| n.orphaned_time);
        if candidate == self.myself && now.saturating_sub(since) > REPLICA_MIGRATION_DELAY {
            self.log(
                LogLevel::Warning,
                format!("Migrating to orphaned master {target}"),
            );
            self.set_my_master(target);
            self.save(false);
            self.todo.update_state = true;
        }
    }
}
