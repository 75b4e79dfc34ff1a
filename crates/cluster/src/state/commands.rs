//! The `CLUSTER` subcommands that change the state, with upstream's error
//! texts (`ERR ...`, as the reply carries them). Each returns its result and
//! the actions to carry out.

use super::{Action, Cluster, FailoverMode, LogLevel, Node, BLACKLIST_TTL_SECS};
use crate::bus::{node_flags as nf, NodeName};
use crate::slot::{CLUSTER_SLOTS, INVALID_SLOT_ERR};

/// The `CLUSTER SETSLOT <slot>` subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetSlot {
    /// `IMPORTING <node-id>`.
    Importing(String),
    /// `MIGRATING <node-id>`.
    Migrating(String),
    /// `STABLE`.
    Stable,
    /// `NODE <node-id>`.
    Node(String),
}

/// What a command returns.
pub type CmdResult<T> = Result<(T, Vec<Action>), String>;

fn check_slot(slot: u16) -> Result<(), String> {
    if slot < CLUSTER_SLOTS {
        Ok(())
    } else {
        Err(INVALID_SLOT_ERR.to_owned())
    }
}

fn is_ipv4(ip: &str) -> bool {
    ip.parse::<std::net::Ipv4Addr>().is_ok()
}

impl Cluster {
    fn done<T>(&mut self, value: T, now: u64) -> CmdResult<T> {
        Ok((value, self.finish(now)))
    }

    /// `CLUSTER MEET <ip> <port> [<cport>]` (`cport` defaults to port +
    /// 10000 in the command layer). Already in handshake with that
    /// address: OK and nothing happens.
    pub fn meet(&mut self, ip: &str, port: i64, cport: i64, now: u64) -> CmdResult<()> {
        let invalid = || format!("ERR Invalid node address specified: {ip}:{port}");
        let norm = if is_ipv4(ip) {
            ip.to_owned()
        } else {
            match ip.parse::<std::net::Ipv6Addr>() {
                Ok(v6) => v6.to_string(),
                Err(_) => return Err(invalid()),
            }
        };
        let (Ok(port), Ok(cport)) = (u16::try_from(port), u16::try_from(cport)) else {
            return Err(invalid());
        };
        if port == 0 || cport == 0 {
            return Err(invalid());
        }
        let in_progress = self.nodes.values().any(|n| {
            n.in_handshake()
                && n.ip.eq_ignore_ascii_case(&norm)
                && n.port == port
                && n.cport == cport
        });
        if !in_progress {
            let name = super::random_name(&mut self.rng);
            let mut n = Node::new(name, nf::HANDSHAKE | nf::MEET, now);
            n.ip = norm;
            n.port = port;
            n.cport = cport;
            self.nodes.insert(name, n);
        }
        self.done((), now)
    }

    fn check_assign(&self, slot: u16, del: bool, seen: &mut [bool]) -> Result<(), String> {
        check_slot(slot)?;
        let owner = self.slots[usize::from(slot)];
        if del && owner.is_none() {
            return Err(format!("ERR Slot {slot} is already unassigned"));
        }
        if !del && owner.is_some() {
            return Err(format!("ERR Slot {slot} is already busy"));
        }
        let s = &mut seen[usize::from(slot)];
        if *s {
            return Err(format!("ERR Slot {slot} specified multiple times"));
        }
        *s = true;
        Ok(())
    }

    fn update_slots(&mut self, seen: &[bool], del: bool, now: u64) -> CmdResult<()> {
        for (slot, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
            let slot = slot as u16;
            // Upstream closes an importing slot on both ADD and DEL.
            self.importing.remove(&slot);
            if del {
                self.del_slot(slot);
            } else {
                self.add_slot(self.myself, slot);
            }
        }
        self.todo.update_state = true;
        self.save(false);
        self.done((), now)
    }

    fn assign(&mut self, slots: &[u16], del: bool, now: u64) -> CmdResult<()> {
        for &s in slots {
            check_slot(s)?;
        }
        let mut seen = vec![false; usize::from(CLUSTER_SLOTS)];
        for &s in slots {
            self.check_assign(s, del, &mut seen)?;
        }
        self.update_slots(&seen, del, now)
    }

    fn assign_ranges(&mut self, ranges: &[(u16, u16)], del: bool, now: u64) -> CmdResult<()> {
        let mut seen = vec![false; usize::from(CLUSTER_SLOTS)];
        for &(start, end) in ranges {
            check_slot(start)?;
            check_slot(end)?;
            if start > end {
                return Err(format!(
                    "ERR start slot number {start} is greater than end slot number {end}"
                ));
            }
            for s in start..=end {
                self.check_assign(s, del, &mut seen)?;
            }
        }
        self.update_slots(&seen, del, now)
    }

    /// `CLUSTER ADDSLOTS`.
    pub fn add_slots(&mut self, slots: &[u16], now: u64) -> CmdResult<()> {
        self.assign(slots, false, now)
    }

    /// `CLUSTER DELSLOTS`.
    pub fn del_slots(&mut self, slots: &[u16], now: u64) -> CmdResult<()> {
        self.assign(slots, true, now)
    }

    /// `CLUSTER ADDSLOTSRANGE`.
    pub fn add_slots_range(&mut self, ranges: &[(u16, u16)], now: u64) -> CmdResult<()> {
        self.assign_ranges(ranges, false, now)
    }

    /// `CLUSTER DELSLOTSRANGE`.
    pub fn del_slots_range(&mut self, ranges: &[(u16, u16)], now: u64) -> CmdResult<()> {
        self.assign_ranges(ranges, true, now)
    }

    /// `CLUSTER FLUSHSLOTS` (`db_empty`: whether db 0 has no keys).
    pub fn flush_slots(&mut self, db_empty: bool, now: u64) -> CmdResult<()> {
        if !db_empty {
            return Err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.".to_owned());
        }
        self.del_node_slots(self.myself);
        self.todo.update_state = true;
        self.save(false);
        self.done((), now)
    }

    fn master_target(&self, id: &str, unknown: &str) -> Result<NodeName, String> {
        let n = self
            .lookup(id)
            .ok_or_else(|| format!("ERR {unknown} {id}"))?;
        if self.nodes.get(&n).is_some_and(Node::is_slave) {
            return Err("ERR Target node is not a master".to_owned());
        }
        Ok(n)
    }

    /// `CLUSTER SETSLOT`; `keys_in_slot` is the number of keys this node
    /// holds in the slot.
    pub fn set_slot(
        &mut self,
        slot: u16,
        action: SetSlot,
        keys_in_slot: u64,
        now: u64,
    ) -> CmdResult<()> {
        if self.me().is_some_and(Node::is_slave) {
            return Err("ERR Please use SETSLOT only with masters.".to_owned());
        }
        check_slot(slot)?;
        let owner = self.slots[usize::from(slot)];
        let me = self.myself;
        match action {
            SetSlot::Migrating(id) => {
                if owner != Some(me) {
                    return Err(format!("ERR I'm not the owner of hash slot {slot}"));
                }
                let n = self.master_target(&id, "I don't know about node")?;
                self.migrating.insert(slot, n);
            }
            SetSlot::Importing(id) => {
                if owner == Some(me) {
                    return Err(format!("ERR I'm already the owner of hash slot {slot}"));
                }
                let n = self.master_target(&id, "I don't know about node")?;
                self.importing.insert(slot, n);
            }
            SetSlot::Stable => {
                self.importing.remove(&slot);
                self.migrating.remove(&slot);
            }
            SetSlot::Node(id) => {
                let n = self.master_target(&id, "Unknown node")?;
                if owner == Some(me) && n != me && keys_in_slot != 0 {
                    return Err(format!(
                        "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                    ));
                }
                if keys_in_slot == 0 {
                    self.migrating.remove(&slot);
                }
                let was_mine = owner == Some(me);
                self.del_slot(slot);
                self.add_slot(n, slot);
                let my_slots = self.me().map_or(0, Node::numslots);
                if was_mine && n != me && my_slots == 0 && self.settings.allow_replica_migration {
                    self.log(
                        LogLevel::Warning,
                        format!(
                            "Configuration change detected. Reconfiguring myself as a replica of {n}"
                        ),
                    );
                    self.set_my_master(n);
                    self.save(true);
                    self.todo.update_state = true;
                }
                if n == me && self.importing.contains_key(&slot) {
                    if self.bump_epoch_without_consensus() {
                        self.log(
                            LogLevel::Warning,
                            format!("configEpoch updated after importing slot {slot}"),
                        );
                    }
                    self.importing.remove(&slot);
                    self.broadcast_pong(now);
                }
            }
        }
        self.save(false);
        self.todo.update_state = true;
        self.done((), now)
    }

    /// `clusterBumpConfigEpochWithoutConsensus`.
    pub(crate) fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self.max_epoch();
        let mine = self.me().map_or(0, |m| m.config_epoch);
        if mine == 0 || mine != max {
            self.current_epoch += 1;
            let epoch = self.current_epoch;
            let me = self.myself;
            if let Some(m) = self.nodes.get_mut(&me) {
                m.config_epoch = epoch;
            }
            self.save(true);
            self.log(LogLevel::Warning, format!("New configEpoch set to {epoch}"));
            true
        } else {
            false
        }
    }

    /// `CLUSTER BUMPEPOCH`: whether it bumped (`BUMPED` / `STILL`) and the
    /// config epoch.
    pub fn bump_epoch(&mut self, now: u64) -> CmdResult<(bool, u64)> {
        let bumped = self.bump_epoch_without_consensus();
        let epoch = self.me().map_or(0, |m| m.config_epoch);
        self.done((bumped, epoch), now)
    }

    /// `CLUSTER SET-CONFIG-EPOCH`.
    pub fn set_config_epoch(&mut self, epoch: i64, now: u64) -> CmdResult<()> {
        if epoch < 0 {
            return Err(format!("ERR Invalid config epoch specified: {epoch}"));
        }
        if self.nodes.len() > 1 {
            return Err("ERR The user can assign a config epoch only when the node does not know any other node.".to_owned());
        }
        if self.me().is_some_and(|m| m.config_epoch != 0) {
            return Err("ERR Node config epoch is already non-zero".to_owned());
        }
        let epoch = epoch.unsigned_abs();
        let me = self.myself;
        if let Some(m) = self.nodes.get_mut(&me) {
            m.config_epoch = epoch;
        }
        self.log(
            LogLevel::Warning,
            format!("configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH"),
        );
        self.current_epoch = self.current_epoch.max(epoch);
        self.todo.update_state = true;
        self.save(false);
        self.done((), now)
    }

    /// `CLUSTER REPLICATE <id>` (`db_empty`: whether db 0 has no keys); the
    /// actions include [`Action::ReplicateFrom`].
    pub fn replicate(&mut self, id: &str, db_empty: bool, now: u64) -> CmdResult<()> {
        let n = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {id}"))?;
        if n == self.myself {
            return Err("ERR Can't replicate myself".to_owned());
        }
        if self.nodes.get(&n).is_some_and(Node::is_slave) {
            return Err("ERR I can only replicate a master, not a replica.".to_owned());
        }
        if self.myself_is_master() && (self.me().map_or(0, Node::numslots) != 0 || !db_empty) {
            return Err(
                "ERR To set a master the node must be empty and without assigned slots.".to_owned(),
            );
        }
        self.set_my_master(n);
        self.todo.update_state = true;
        self.save(false);
        self.done((), now)
    }

    /// `CLUSTER FORGET <id>`: the node is removed and blacklisted for 60 s
    /// (gossip about it is ignored meanwhile).
    pub fn forget(&mut self, id: &str, now: u64) -> CmdResult<()> {
        let n = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {id}"))?;
        if n == self.myself {
            return Err("ERR I tried hard but I can't forget myself...".to_owned());
        }
        if self
            .me()
            .is_some_and(|m| m.is_slave() && m.slaveof == Some(n))
        {
            return Err("ERR Can't forget my master!".to_owned());
        }
        self.blacklist_exists(n, now);
        self.blacklist.insert(n, now / 1000 + BLACKLIST_TTL_SECS);
        self.del_node(n);
        self.todo.update_state = true;
        self.save(false);
        self.done((), now)
    }

    /// `CLUSTER RESET [HARD|SOFT]` (`db_empty`: whether db 0 has no keys).
    pub fn reset(&mut self, hard: bool, db_empty: bool, now: u64) -> CmdResult<()> {
        if self.myself_is_master() && !db_empty {
            return Err(
                "ERR CLUSTER RESET can't be called with master nodes containing keys".to_owned(),
            );
        }
        let me = self.myself;
        if self.me().is_some_and(Node::is_slave) {
            self.set_node_as_master(me);
            self.out.push(Action::UnsetReplicationAndFlush);
        }
        self.migrating.clear();
        self.importing.clear();
        self.reset_manual_failover();
        for slot in 0..CLUSTER_SLOTS {
            self.del_slot(slot);
        }
        let others: Vec<NodeName> = self.nodes.keys().copied().filter(|n| *n != me).collect();
        for n in others {
            self.del_node(n);
        }
        if hard {
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
            if let Some(m) = self.nodes.get_mut(&me) {
                m.config_epoch = 0;
            }
            self.log(
                LogLevel::Warning,
                "configEpoch set to 0 via CLUSTER RESET HARD".to_owned(),
            );
            let new = super::random_name(&mut self.rng);
            if let Some(mut node) = self.nodes.remove(&me) {
                node.name = new;
                self.nodes.insert(new, node);
            }
            self.myself = new;
            self.log(LogLevel::Notice, format!("Node hard reset, now I'm {new}"));
        }
        self.todo.update_state = true;
        self.save(true);
        self.done((), now)
    }

    /// `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a replica. The default
    /// sends `MFSTART` to the master (which pauses its writes, see
    /// [`Action::PauseWrites`]) and starts the election once this node's
    /// offset ([`Cluster::set_repl_offset`]) reaches the one the paused
    /// master announces; `FORCE` starts the election at the next tick;
    /// `TAKEOVER` promotes this node at once (the actions include
    /// [`Action::PromoteToMaster`]). Either way the attempt is abandoned
    /// after [`super::MANUAL_FAILOVER_TIMEOUT`] ms.
    pub fn failover(&mut self, mode: FailoverMode, now: u64) -> CmdResult<()> {
        let (is_master, master) = self
            .me()
            .map_or((true, None), |m| (m.is_master(), m.slaveof));
        if is_master {
            return Err("ERR You should send CLUSTER FAILOVER to a replica".to_owned());
        }
        let Some(master) = master.and_then(|m| self.nodes.get(&m)) else {
            return Err("ERR I'm a replica but my master is unknown to me".to_owned());
        };
        if mode == FailoverMode::Default && (master.failed() || master.link.is_none()) {
            return Err(
                "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".to_owned(),
            );
        }
        self.start_manual_failover(mode, now);
        self.done((), now)
    }

    /// `CLUSTER COUNT-FAILURE-REPORTS <id>`.
    pub fn count_failure_reports(&mut self, id: &str, now: u64) -> Result<usize, String> {
        let n = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {id}"))?;
        Ok(self.failure_reports_count(n, now))
    }
}
