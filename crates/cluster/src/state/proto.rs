//! The bus protocol: links, `clusterProcessPacket`, `clusterSendPing` with
//! its gossip section, failure detection and `clusterCron`, and
//! `clusterUpdateState`.

use rand::Rng;

use super::WRITABLE_DELAY;
use super::{Action, Cluster, Link, LinkId, LogLevel, Node};
use super::{FAIL_REPORT_VALIDITY_MULT, FAIL_UNDO_TIME_MULT, MAX_REJOIN_DELAY, MIN_REJOIN_DELAY};
use crate::bus::{node_flags as nf, Body, Gossip, IpField, Message, NodeName, PingData, PingExt};
use crate::slot::SlotSet;

/// The kinds of PING-like messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PingKind {
    Ping,
    Pong,
    Meet,
}

impl Cluster {
    /// A connection was accepted on the bus port. `peer_ip` is the
    /// remote address, `local_ip` this side's address of the connection
    /// (from it this node learns its own IP on MEET).
    pub fn on_inbound_link(&mut self, link: LinkId, peer_ip: &str, local_ip: &str, now: u64) {
        self.links.insert(
            link,
            Link {
                node: None,
                inbound: true,
                ctime: now,
                connected: true,
                peer_ip: peer_ip.to_owned(),
                local_ip: local_ip.to_owned(),
            },
        );
    }

    /// An outbound connection completed: send PING, or MEET for a node
    /// met with `CLUSTER MEET` (`clusterLinkConnectHandler`).
    pub fn on_link_connected(&mut self, link: LinkId, now: u64) -> Vec<Action> {
        let node = match self.links.get_mut(&link) {
            Some(l) => {
                l.connected = true;
                l.node
            }
            None => None,
        };
        if let Some(n) = node.and_then(|name| self.nodes.get(&name)) {
            let old_ping_sent = n.ping_sent;
            let name = n.name;
            let kind = if n.has(nf::MEET) {
                PingKind::Meet
            } else {
                PingKind::Ping
            };
            self.send_ping(link, kind, now);
            if let Some(n) = self.nodes.get_mut(&name) {
                if old_ping_sent != 0 {
                    n.ping_sent = old_ping_sent;
                }
                n.flags &= !nf::MEET;
            }
            self.log(
                LogLevel::Debug,
                format!("Connecting with Node {name} at {}:{}", self.peer(link), {
                    self.nodes.get(&name).map_or(0, |n| n.cport)
                }),
            );
        }
        self.finish(now)
    }

    fn peer(&self, link: LinkId) -> String {
        self.links
            .get(&link)
            .map(|l| l.peer_ip.clone())
            .unwrap_or_default()
    }

    /// A link was closed by the peer or an error, or its connect failed.
    pub fn on_link_closed(&mut self, link: LinkId, now: u64) -> Vec<Action> {
        if let Some(l) = self.links.get(&link) {
            if !l.inbound && !l.connected {
                // Upstream claims a ping was sent when the connect fails at
                // once, so that failure detection works for nodes never
                // reached.
                if let Some(n) = l.node.and_then(|name| self.nodes.get_mut(&name)) {
                    if n.ping_sent == 0 {
                        n.ping_sent = now;
                    }
                }
            }
        }
        self.forget_link(link);
        self.finish(now)
    }

    /// Builds and queues a PING, PONG or MEET with the gossip section and
    /// the hostname extension (`clusterSendPing`).
    pub(crate) fn send_ping(&mut self, link: LinkId, kind: PingKind, now: u64) {
        let total = self.nodes.len();
        let mut freshnodes = total.saturating_sub(2);
        let wanted = (total / 10).max(3).min(freshnodes);
        let mut pfail_wanted = self.stats_pfail_nodes;
        if kind == PingKind::Ping {
            // Only a PING on an outbound link waits for its PONG.
            if let Some(n) = self
                .links
                .get(&link)
                .filter(|l| !l.inbound)
                .and_then(|l| l.node)
                .and_then(|name| self.nodes.get_mut(&name))
            {
                n.ping_sent = now;
            }
        }
        self.pings_sent += 1;
        let stamp = self.pings_sent;
        let names: Vec<NodeName> = self.nodes.keys().copied().collect();
        let mut gossip = Vec::new();
        let mut maxiterations = wanted * 3;
        while freshnodes > 0 && gossip.len() < wanted && maxiterations > 0 {
            maxiterations -= 1;
            let pick = names[self.rng.gen_range(0..names.len())];
            if pick == self.myself {
                continue;
            }
            let Some(n) = self.nodes.get_mut(&pick) else {
                continue;
            };
            if n.has(nf::PFAIL) {
                continue;
            }
            if n.has(nf::HANDSHAKE | nf::NOADDR) || (n.link.is_none() && n.slots.is_empty()) {
                freshnodes -= 1;
                continue;
            }
            if n.last_in_ping_gossip == stamp {
                continue;
            }
            n.last_in_ping_gossip = stamp;
            gossip.push(gossip_entry(n));
            freshnodes -= 1;
        }
        if pfail_wanted > 0 {
            for n in self.nodes.values() {
                if pfail_wanted == 0 {
                    break;
                }
                if n.has(nf::HANDSHAKE | nf::NOADDR) || !n.has(nf::PFAIL) {
                    continue;
                }
                gossip.push(gossip_entry(n));
                pfail_wanted -= 1;
            }
        }
        let mut extensions = Vec::new();
        if !self.settings.hostname.is_empty() {
            extensions.push(PingExt::hostname(&self.settings.hostname));
        }
        let data = PingData { gossip, extensions };
        let body = match kind {
            PingKind::Ping => Body::Ping(data),
            PingKind::Pong => Body::Pong(data),
            PingKind::Meet => Body::Meet(data),
        };
        self.send(link, body);
    }

    /// Sends PONG to every linked node (`clusterBroadcastPong`, all
    /// targets).
    pub(crate) fn broadcast_pong(&mut self, now: u64) {
        let targets: Vec<LinkId> = self
            .nodes
            .values()
            .filter(|n| !n.has(nf::MYSELF | nf::HANDSHAKE))
            .filter_map(|n| n.link)
            .collect();
        for link in targets {
            self.send_ping(link, PingKind::Pong, now);
        }
    }

    /// A message arrived on a link (`clusterProcessPacket`).
    pub fn on_packet(&mut self, link: LinkId, msg: Message, now: u64) -> Vec<Action> {
        self.process_packet(link, &msg, now);
        self.finish(now)
    }

    fn process_packet(&mut self, link: LinkId, msg: &Message, now: u64) {
        let Some(l) = self.links.get(&link).cloned() else {
            return;
        };
        let t = msg.msg_type();
        if let Some(s) = self.stats_received.get_mut(usize::from(t)) {
            *s += 1;
        }
        let hdr = &msg.header;
        let sender_cfg_epoch = hdr.config_epoch;
        // `getNodeFromLinkAndMsg`: the link's node unless in handshake,
        // else the header's sender, which an inbound link is then bound to.
        let sender = match l.node {
            Some(n) if self.nodes.get(&n).is_some_and(|n| !n.in_handshake()) => Some(n),
            _ => {
                let s = self.nodes.contains_key(&hdr.sender).then_some(hdr.sender);
                if let (Some(s), true) = (s, l.inbound && l.node.is_none()) {
                    self.set_inbound_link(s, link);
                }
                s
            }
        };
        if let Some(n) = sender.and_then(|s| self.nodes.get_mut(&s)) {
            n.data_received = now;
        }
        if let Some(s) = sender.filter(|s| self.nodes.get(s).is_some_and(|n| !n.in_handshake())) {
            // Upstream does not save for a new current epoch alone.
            if hdr.current_epoch > self.current_epoch {
                self.current_epoch = hdr.current_epoch;
            }
            if let Some(n) = self.nodes.get_mut(&s) {
                if sender_cfg_epoch > n.config_epoch {
                    n.config_epoch = sender_cfg_epoch;
                    self.save(true);
                }
            }
            if let Some(n) = self.nodes.get_mut(&s) {
                n.repl_offset = hdr.offset;
            }
            self.note_paused_master_offset(s, hdr);
        }
        let is_ping = matches!(msg.body, Body::Ping(_));
        let is_meet = matches!(msg.body, Body::Meet(_));
        let is_pong = matches!(msg.body, Body::Pong(_));
        if is_ping || is_meet {
            self.learn_my_ip(&l, is_meet);
            if sender.is_none() && is_meet {
                let name = super::random_name(&mut self.rng);
                let mut n = Node::new(name, nf::HANDSHAKE, now);
                n.ip = ip_of(&l, &hdr.myip);
                n.port = hdr.port;
                n.pport = hdr.pport;
                n.cport = hdr.cport;
                self.nodes.insert(name, n);
                self.save(false);
                if let Some(d) = msg.body.ping_data() {
                    self.process_gossip(None, &d.gossip, now);
                }
            }
            self.send_ping(link, PingKind::Pong, now);
        }
        let Some(data) = msg.body.ping_data() else {
            self.process_other(sender, link, msg, now);
            return;
        };
        if !l.inbound {
            let Some(ln) = l.node else {
                return;
            };
            let in_handshake = self.nodes.get(&ln).is_some_and(Node::in_handshake);
            if in_handshake {
                if let Some(s) = sender {
                    self.log(
                        LogLevel::Verbose,
                        format!(
                            "Handshake: we already know node {s}, updating the address if needed."
                        ),
                    );
                    if self.update_address_if_needed(s, link, msg) {
                        self.save(false);
                        self.todo.update_state = true;
                    }
                    self.del_node(ln);
                    return;
                }
                self.rename_node(ln, hdr.sender);
                self.log(
                    LogLevel::Debug,
                    format!("Handshake with node {} completed.", hdr.sender),
                );
                if let Some(n) = self.nodes.get_mut(&hdr.sender) {
                    n.flags &= !nf::HANDSHAKE;
                    n.flags |= hdr.flags & (nf::MASTER | nf::SLAVE);
                }
                self.save(false);
            } else if ln != hdr.sender {
                let (ctime, flags) = self.nodes.get(&ln).map_or((0, 0), |n| (n.ctime, n.flags));
                self.log(
                    LogLevel::Debug,
                    format!(
                        "PONG contains mismatching sender ID. About node {ln} added {} ms ago, having flags {flags}",
                        now.saturating_sub(ctime)
                    ),
                );
                if let Some(n) = self.nodes.get_mut(&ln) {
                    n.flags |= nf::NOADDR;
                    n.ip.clear();
                    n.port = 0;
                    n.pport = 0;
                    n.cport = 0;
                }
                self.free_link(link);
                self.save(false);
                return;
            }
        }
        if let Some(n) = sender.and_then(|s| self.nodes.get_mut(&s)) {
            n.flags &= !nf::NOFAILOVER;
            n.flags |= hdr.flags & nf::NOFAILOVER;
        }
        if let Some(s) = sender {
            let hs = self.nodes.get(&s).is_some_and(Node::in_handshake);
            if is_ping && !hs && self.update_address_if_needed(s, link, msg) {
                self.save(false);
                self.todo.update_state = true;
            }
        }
        if !l.inbound && is_pong {
            if let Some(ln) = self.links.get(&link).and_then(|l| l.node) {
                let (timed_out, failed) = match self.nodes.get_mut(&ln) {
                    Some(n) => {
                        n.pong_received = now;
                        n.ping_sent = 0;
                        (n.timed_out(), n.failed())
                    }
                    None => (false, false),
                };
                if timed_out {
                    if let Some(n) = self.nodes.get_mut(&ln) {
                        n.flags &= !nf::PFAIL;
                    }
                    self.todo.update_state = true;
                } else if failed {
                    self.clear_node_failure_if_needed(ln, now);
                }
            }
        }
        let Some(s) = sender else {
            return;
        };
        self.check_role(s, msg);
        let sender_master = match self.nodes.get(&s) {
            Some(n) if n.is_master() => Some(s),
            Some(n) => n.slaveof,
            None => None,
        };
        let claimed = SlotSet::from_bitmap(hdr.myslots.as_bytes());
        let dirty = sender_master
            .and_then(|m| self.nodes.get(&m))
            .is_some_and(|m| m.slots != claimed);
        let sender_is_master = self.nodes.get(&s).is_some_and(Node::is_master);
        if sender_is_master && dirty {
            self.update_slots_config_with(s, sender_cfg_epoch, &claimed);
        }
        if dirty {
            for slot in claimed.iter() {
                let Some(owner) = self.slots[usize::from(slot)] else {
                    continue;
                };
                if owner == s {
                    continue;
                }
                let owner_epoch = self.nodes.get(&owner).map_or(0, |n| n.config_epoch);
                if owner_epoch > sender_cfg_epoch {
                    self.log(
                        LogLevel::Verbose,
                        format!(
                            "Node {s} has old slots configuration, sending an UPDATE message about {owner}"
                        ),
                    );
                    self.send_update(s, owner);
                    break;
                }
            }
        }
        let me_master = self.myself_is_master();
        let my_epoch = self.me().map_or(0, |m| m.config_epoch);
        if me_master && sender_is_master && sender_cfg_epoch == my_epoch {
            self.handle_config_epoch_collision(s);
        }
        self.process_gossip(Some(s), &data.gossip, now);
        self.process_ping_ext(s, &data.extensions);
    }

    fn learn_my_ip(&mut self, l: &Link, is_meet: bool) {
        if self.settings.announce_ip.is_some() || !l.inbound || l.local_ip.is_empty() {
            return;
        }
        let me = self.myself;
        let Some(n) = self.nodes.get_mut(&me) else {
            return;
        };
        if (is_meet || n.ip.is_empty()) && n.ip != l.local_ip {
            n.ip = l.local_ip.clone();
            let text = format!("IP address for this node updated to {}", n.ip);
            self.log(LogLevel::Warning, text);
            self.save(false);
        }
    }

    fn set_inbound_link(&mut self, node: NodeName, link: LinkId) {
        let old = self.nodes.get(&node).and_then(|n| n.inbound_link);
        if old == Some(link) {
            return;
        }
        if let Some(old) = old {
            self.log(
                LogLevel::Debug,
                format!("Replacing inbound link from node {node}"),
            );
            self.free_link(old);
        }
        if let Some(l) = self.links.get_mut(&link) {
            l.node = Some(node);
        }
        if let Some(n) = self.nodes.get_mut(&node) {
            n.inbound_link = Some(link);
        }
    }

    /// `nodeUpdateAddressIfNeeded`.
    fn update_address_if_needed(&mut self, name: NodeName, link: LinkId, msg: &Message) -> bool {
        let Some(l) = self.links.get(&link).cloned() else {
            return false;
        };
        let hdr = &msg.header;
        let ip = ip_of(&l, &hdr.myip);
        let Some(n) = self.nodes.get_mut(&name) else {
            return false;
        };
        if n.link == Some(link) {
            return false;
        }
        if n.port == hdr.port && n.cport == hdr.cport && n.pport == hdr.pport && n.ip == ip {
            return false;
        }
        n.ip = ip;
        n.port = hdr.port;
        n.pport = hdr.pport;
        n.cport = hdr.cport;
        n.flags &= !nf::NOADDR;
        let old = n.link;
        let text = format!("Address updated for node {name}, now {}:{}", n.ip, n.port);
        let (ip, port) = (n.ip.clone(), n.port);
        if let Some(old) = old {
            self.free_link(old);
        }
        self.log(LogLevel::Warning, text);
        let my_master = self.me().filter(|m| m.is_slave()).and_then(|m| m.slaveof);
        if my_master == Some(name) {
            self.out.push(Action::ReplicateFrom { ip, port });
        }
        true
    }

    /// The role switch part of the PING/PONG processing.
    fn check_role(&mut self, s: NodeName, msg: &Message) {
        match msg.header.slaveof {
            None => self.set_node_as_master(s),
            Some(master) => {
                if self.nodes.get(&s).is_some_and(Node::is_master) {
                    self.del_node_slots(s);
                    if let Some(n) = self.nodes.get_mut(&s) {
                        n.flags &= !(nf::MASTER | nf::MIGRATE_TO);
                        n.flags |= nf::SLAVE;
                    }
                    self.save(false);
                    self.todo.update_state = true;
                }
                let current = self.nodes.get(&s).and_then(|n| n.slaveof);
                if self.nodes.contains_key(&master) && current != Some(master) {
                    if let Some(old) = current {
                        self.remove_replica(old, s);
                    }
                    self.add_replica(master, s);
                    if let Some(n) = self.nodes.get_mut(&s) {
                        n.slaveof = Some(master);
                    }
                    self.save(false);
                }
            }
        }
    }

    /// FAIL, UPDATE, the failover messages, PUBLISH and PUBLISHSHARD
    /// (MODULE is ignored).
    fn process_other(&mut self, sender: Option<NodeName>, link: LinkId, msg: &Message, now: u64) {
        match &msg.body {
            Body::Fail { node } => {
                let Some(_) = sender else {
                    self.log(
                        LogLevel::Notice,
                        format!(
                            "Ignoring FAIL message from unknown node {} about {node}",
                            msg.header.sender
                        ),
                    );
                    return;
                };
                let Some(n) = self.nodes.get_mut(node) else {
                    return;
                };
                if n.has(nf::FAIL | nf::MYSELF) {
                    return;
                }
                n.flags |= nf::FAIL;
                n.flags &= !nf::PFAIL;
                n.fail_time = now;
                let text = format!(
                    "FAIL message received from {} about {node}",
                    msg.header.sender
                );
                self.log(LogLevel::Notice, text);
                self.save(false);
                self.todo.update_state = true;
            }
            Body::Update {
                config_epoch,
                node,
                slots,
            } => {
                if sender.is_none() {
                    return;
                }
                let Some(n) = self.nodes.get(node) else {
                    return;
                };
                if n.config_epoch >= *config_epoch {
                    return;
                }
                if n.is_slave() {
                    self.set_node_as_master(*node);
                }
                if let Some(n) = self.nodes.get_mut(node) {
                    n.config_epoch = *config_epoch;
                }
                self.save(true);
                let set = SlotSet::from_bitmap(slots.as_bytes());
                self.update_slots_config_with(*node, *config_epoch, &set);
            }
            Body::FailoverAuthRequest => self.on_auth_request(sender, &msg.header, now),
            Body::FailoverAuthAck => self.on_auth_ack(sender, &msg.header),
            Body::MfStart => self.on_mfstart(sender, link, now),
            Body::Publish { .. } | Body::PublishShard { .. } => self.on_publish(sender, &msg.body),
            _ => {}
        }
    }

    fn send_update(&mut self, to: NodeName, about: NodeName) {
        let Some(link) = self.nodes.get(&to).and_then(|n| n.link) else {
            return;
        };
        let Some(n) = self.nodes.get(&about) else {
            return;
        };
        let body = Body::Update {
            config_epoch: n.config_epoch,
            node: about,
            slots: crate::bus::SlotBitmap::from_array(n.slots.to_bitmap()),
        };
        self.send(link, body);
    }

    /// `clusterUpdateSlotsConfigWith`.
    pub(crate) fn update_slots_config_with(
        &mut self,
        sender: NodeName,
        sender_epoch: u64,
        slots: &SlotSet,
    ) {
        if sender == self.myself {
            self.log(
                LogLevel::Warning,
                "Discarding UPDATE message about myself.".to_owned(),
            );
            return;
        }
        let curmaster = match self.me() {
            Some(m) if m.is_master() => Some(self.myself),
            Some(m) => m.slaveof,
            None => None,
        };
        let mut newmaster = None;
        let mut sender_slots = 0usize;
        let mut migrated_our_slots = 0usize;
        let mut dirty = Vec::new();
        for slot in slots.iter() {
            sender_slots += 1;
            let owner = self.slots[usize::from(slot)];
            if owner == Some(sender) || self.importing.contains_key(&slot) {
                continue;
            }
            let older = match owner {
                None => true,
                Some(o) => self
                    .nodes
                    .get(&o)
                    .is_none_or(|n| n.config_epoch < sender_epoch),
            };
            if !older {
                continue;
            }
            if owner == Some(self.myself) {
                dirty.push(slot);
            }
            if owner.is_some() && owner == curmaster {
                newmaster = Some(sender);
                migrated_our_slots += 1;
            }
            self.del_slot(slot);
            self.add_slot(sender, slot);
            self.todo.update_state = true;
            self.save(true);
        }
        let cur_empty = curmaster
            .and_then(|m| self.nodes.get(&m))
            .is_some_and(|m| m.slots.is_empty());
        if newmaster.is_some()
            && cur_empty
            && (self.settings.allow_replica_migration || sender_slots == migrated_our_slots)
        {
            self.log(
                LogLevel::Warning,
                format!(
                    "Configuration change detected. Reconfiguring myself as a replica of {sender}"
                ),
            );
            self.set_my_master(sender);
            self.save(true);
            self.todo.update_state = true;
            return;
        }
        // A replica whose master turned into a replica (it lost its last
        // slot) follows the grandmaster.
        let grandmaster = self
            .me()
            .filter(|m| m.is_slave())
            .and_then(|m| m.slaveof)
            .and_then(|m| self.nodes.get(&m))
            .and_then(|m| m.slaveof)
            .filter(|g| *g != self.myself);
        if let Some(g) = grandmaster {
            self.log(
                LogLevel::Warning,
                format!("I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {g}"),
            );
            self.set_my_master(g);
            self.save(true);
            self.todo.update_state = true;
        } else {
            for slot in dirty {
                self.out.push(Action::DeleteKeysInSlot { slot });
            }
        }
    }

    /// `clusterHandleConfigEpochCollision`.
    fn handle_config_epoch_collision(&mut self, sender: NodeName) {
        let my_epoch = self.me().map_or(0, |m| m.config_epoch);
        let same = self
            .nodes
            .get(&sender)
            .is_some_and(|n| n.is_master() && n.config_epoch == my_epoch);
        if !same || !self.myself_is_master() {
            return;
        }
        // The node with the smaller id takes the next epoch.
        if sender.as_bytes() <= self.myself.as_bytes() {
            return;
        }
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        let me = self.myself;
        if let Some(m) = self.nodes.get_mut(&me) {
            m.config_epoch = epoch;
        }
        self.save(true);
        self.log(
            LogLevel::Verbose,
            format!(
                "WARNING: configEpoch collision with node {sender}. configEpoch set to {epoch}"
            ),
        );
    }

    /// `clusterProcessGossipSection`.
    fn process_gossip(&mut self, sender: Option<NodeName>, entries: &[Gossip], now: u64) {
        let sender_is_master =
            sender.is_some_and(|s| self.nodes.get(&s).is_some_and(Node::is_master));
        for g in entries {
            let fail_flags = g.flags & (nf::FAIL | nf::PFAIL) != 0;
            if self.nodes.contains_key(&g.node) {
                let name = g.node;
                if let (Some(s), true) = (sender, sender_is_master && name != self.myself) {
                    if fail_flags {
                        if self.add_failure_report(name, s, now) {
                            self.log(
                                LogLevel::Verbose,
                                format!("Node {s} reported node {name} as not reachable."),
                            );
                        }
                        self.mark_node_as_failing_if_needed(name, now);
                    } else if self.del_failure_report(name, s, now) {
                        self.log(
                            LogLevel::Verbose,
                            format!("Node {s} reported node {name} is back online."),
                        );
                    }
                }
                let reports = self.failure_reports_count(name, now);
                let Some(n) = self.nodes.get_mut(&name) else {
                    continue;
                };
                if !fail_flags && n.ping_sent == 0 && reports == 0 {
                    let pongtime = u64::from(g.pong_received) * 1000;
                    if pongtime <= now + 500 && pongtime > n.pong_received {
                        n.pong_received = pongtime;
                    }
                }
                let gip = g.ip.to_string_lossy();
                if n.has(nf::FAIL | nf::PFAIL)
                    && g.flags & nf::NOADDR == 0
                    && !fail_flags
                    && (!n.ip.eq_ignore_ascii_case(&gip) || n.port != g.port || n.cport != g.cport)
                {
                    let old = n.link;
                    n.ip = gip;
                    n.port = g.port;
                    n.pport = g.pport;
                    n.cport = g.cport;
                    n.flags &= !nf::NOADDR;
                    if let Some(old) = old {
                        self.free_link(old);
                    }
                }
            } else if sender.is_some()
                && g.flags & nf::NOADDR == 0
                && !self.blacklist_exists(g.node, now)
            {
                let mut n = Node::new(g.node, g.flags, now);
                n.ip = g.ip.to_string_lossy();
                n.port = g.port;
                n.pport = g.pport;
                n.cport = g.cport;
                self.nodes.insert(g.node, n);
            }
        }
    }

    fn process_ping_ext(&mut self, sender: NodeName, exts: &[PingExt]) {
        let mut hostname: Option<String> = None;
        for e in exts {
            if let PingExt::Hostname(h) = e {
                let end = h.iter().position(|&b| b == 0).unwrap_or(h.len());
                hostname = Some(String::from_utf8_lossy(&h[..end]).into_owned());
            } else {
                let t = e.ext_type();
                self.log(
                    LogLevel::Warning,
                    format!("Received unknown extension type {t}"),
                );
            }
        }
        let new = hostname.unwrap_or_default();
        if let Some(n) = self.nodes.get_mut(&sender) {
            if n.hostname != new {
                n.hostname = new;
                self.save(false);
            }
        }
    }

    pub(crate) fn blacklist_exists(&mut self, name: NodeName, now: u64) -> bool {
        let secs = now / 1000;
        self.blacklist.retain(|_, expire| *expire >= secs);
        self.blacklist.contains_key(&name)
    }

    fn cleanup_failure_reports(&mut self, name: NodeName, now: u64) {
        let maxtime = self.settings.node_timeout * FAIL_REPORT_VALIDITY_MULT;
        if let Some(n) = self.nodes.get_mut(&name) {
            n.fail_reports
                .retain(|(_, t)| now.saturating_sub(*t) <= maxtime);
        }
    }

    fn add_failure_report(&mut self, name: NodeName, sender: NodeName, now: u64) -> bool {
        let Some(n) = self.nodes.get_mut(&name) else {
            return false;
        };
        if let Some(r) = n.fail_reports.iter_mut().find(|(s, _)| *s == sender) {
            r.1 = now;
            return false;
        }
        n.fail_reports.push((sender, now));
        true
    }

    fn del_failure_report(&mut self, name: NodeName, sender: NodeName, now: u64) -> bool {
        self.cleanup_failure_reports(name, now);
        let Some(n) = self.nodes.get_mut(&name) else {
            return false;
        };
        let before = n.fail_reports.len();
        n.fail_reports.retain(|(s, _)| *s != sender);
        before != n.fail_reports.len()
    }

    /// `clusterNodeFailureReportsCount` (dropping expired reports first).
    pub(crate) fn failure_reports_count(&mut self, name: NodeName, now: u64) -> usize {
        self.cleanup_failure_reports(name, now);
        self.nodes.get(&name).map_or(0, |n| n.fail_reports.len())
    }

    /// `markNodeAsFailingIfNeeded`.
    fn mark_node_as_failing_if_needed(&mut self, name: NodeName, now: u64) {
        let needed_quorum = self.size / 2 + 1;
        match self.nodes.get(&name) {
            Some(n) if n.timed_out() && !n.failed() => {}
            _ => return,
        }
        let mut failures = self.failure_reports_count(name, now);
        if self.myself_is_master() {
            failures += 1;
        }
        if failures < needed_quorum {
            return;
        }
        self.log(
            LogLevel::Notice,
            format!("Marking node {name} as failing (quorum reached)."),
        );
        if let Some(n) = self.nodes.get_mut(&name) {
            n.flags &= !nf::PFAIL;
            n.flags |= nf::FAIL;
            n.fail_time = now;
        }
        self.broadcast(Body::Fail { node: name });
        self.todo.update_state = true;
        self.save(false);
    }

    /// `clearNodeFailureIfNeeded`.
    fn clear_node_failure_if_needed(&mut self, name: NodeName, now: u64) {
        let timeout = self.settings.node_timeout;
        let Some(n) = self.nodes.get_mut(&name) else {
            return;
        };
        let slots = n.numslots();
        if n.is_slave() || slots == 0 {
            n.flags &= !nf::FAIL;
            let what = if n.is_slave() {
                "replica"
            } else {
                "master without slots"
            };
            let text = format!("Clear FAIL state for node {name}: {what} is reachable again.");
            self.log(LogLevel::Notice, text);
            self.todo.update_state = true;
            self.save(false);
            return;
        }
        if n.is_master() && now.saturating_sub(n.fail_time) > timeout * FAIL_UNDO_TIME_MULT {
            n.flags &= !nf::FAIL;
            self.log(
                LogLevel::Notice,
                format!(
                    "Clear FAIL state for node {name}: is reachable again and nobody is serving its slots after some time."
                ),
            );
            self.todo.update_state = true;
            self.save(false);
        }
    }

    /// Upstream's `clusterCron`; call every 100 ms.
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        self.iteration += 1;
        let timeout = self.settings.node_timeout;
        let handshake_timeout = timeout.max(1000);
        self.stats_pfail_nodes = 0;
        let names: Vec<NodeName> = self.nodes.keys().copied().collect();
        for name in &names {
            let Some(n) = self.nodes.get(name) else {
                continue;
            };
            if n.has(nf::MYSELF | nf::NOADDR) {
                continue;
            }
            if n.has(nf::PFAIL) {
                self.stats_pfail_nodes += 1;
            }
            if n.in_handshake() && now.saturating_sub(n.ctime) > handshake_timeout {
                self.del_node(*name);
                continue;
            }
            if n.link.is_none() {
                self.connect(*name, now);
            }
        }
        if self.iteration % 10 == 0 {
            let mut min: Option<(NodeName, u64)> = None;
            for _ in 0..5 {
                let pick = names[self.rng.gen_range(0..names.len())];
                let Some(n) = self.nodes.get(&pick) else {
                    continue;
                };
                if n.link.is_none() || n.ping_sent != 0 || n.has(nf::MYSELF | nf::HANDSHAKE) {
                    continue;
                }
                if min.is_none_or(|(_, p)| p > n.pong_received) {
                    min = Some((pick, n.pong_received));
                }
            }
            if let Some(link) = min.and_then(|(name, _)| self.nodes.get(&name)?.link) {
                self.send_ping(link, PingKind::Ping, now);
            }
        }
        let me_slave = self.me().is_some_and(Node::is_slave);
        let my_master = self.me().and_then(|m| m.slaveof);
        let (mut orphaned, mut max_ok, mut mine_ok) = (0usize, 0usize, 0usize);
        for name in self.nodes.keys().copied().collect::<Vec<_>>() {
            let Some(n) = self.nodes.get(&name) else {
                continue;
            };
            if n.has(nf::MYSELF | nf::NOADDR | nf::HANDSHAKE) {
                continue;
            }
            // Orphaned masters: serving slots, no working replica, but
            // they had some (or failed over a master that had some).
            if me_slave && n.is_master() && !n.failed() {
                let ok = self.ok_replicas(n);
                if ok == 0 && n.numslots() > 0 && n.has(nf::MIGRATE_TO) {
                    orphaned += 1;
                }
                max_ok = max_ok.max(ok);
                if my_master == Some(name) {
                    mine_ok = ok;
                }
            }
            let ping_delay = now.saturating_sub(n.ping_sent);
            let data_delay = now.saturating_sub(n.data_received);
            if let Some(link) = n.link {
                let ctime = self.links.get(&link).map_or(now, |l| l.ctime);
                if now.saturating_sub(ctime) > timeout
                    && n.ping_sent != 0
                    && ping_delay > timeout / 2
                    && data_delay > timeout / 2
                {
                    self.free_link(link);
                }
            }
            let Some(n) = self.nodes.get(&name) else {
                continue;
            };
            if let Some(link) = n.link {
                if n.ping_sent == 0 && now.saturating_sub(n.pong_received) > timeout / 2 {
                    self.send_ping(link, PingKind::Ping, now);
                    continue;
                }
                // The replica of my manual failover is pinged continuously.
                if self.mf_pings(name) {
                    self.send_ping(link, PingKind::Ping, now);
                    continue;
                }
            }
            if n.ping_sent == 0 {
                continue;
            }
            let node_delay = ping_delay.min(data_delay);
            if node_delay > timeout && !n.has(nf::PFAIL | nf::FAIL) {
                self.log(LogLevel::Debug, format!("*** NODE {name} possibly failing"));
                if let Some(n) = self.nodes.get_mut(&name) {
                    n.flags |= nf::PFAIL;
                }
                self.todo.update_state = true;
            }
        }
        self.failover_cron(orphaned, max_ok, mine_ok, now);
        if !self.state_ok {
            self.todo.update_state = true;
        }
        self.finish(now)
    }

    /// `clusterUpdateState`.
    pub(crate) fn update_state(&mut self, now: u64) {
        if self.first_call_time == 0 {
            self.first_call_time = now.max(1);
        }
        if self.myself_is_master()
            && !self.state_ok
            && now.saturating_sub(self.first_call_time) < WRITABLE_DELAY
        {
            return;
        }
        let mut new_ok = true;
        if self.settings.require_full_coverage {
            new_ok = self.slots.iter().all(|o| {
                o.and_then(|o| self.nodes.get(&o))
                    .is_some_and(|n| !n.failed())
            });
        }
        let mut size = 0;
        let mut reachable = 0;
        for n in self.nodes.values() {
            if n.is_master() && !n.slots.is_empty() {
                size += 1;
                if !n.has(nf::FAIL | nf::PFAIL) {
                    reachable += 1;
                }
            }
        }
        self.size = size;
        if reachable < size / 2 + 1 {
            new_ok = false;
            self.among_minority_time = now;
        }
        if new_ok != self.state_ok {
            let rejoin_delay = self
                .settings
                .node_timeout
                .clamp(MIN_REJOIN_DELAY, MAX_REJOIN_DELAY);
            if new_ok
                && self.myself_is_master()
                && now.saturating_sub(self.among_minority_time) < rejoin_delay
            {
                return;
            }
            let word = if new_ok { "ok" } else { "fail" };
            self.log(LogLevel::Warning, format!("Cluster state changed: {word}"));
            self.state_ok = new_ok;
            self.out.push(Action::StateChanged { ok: new_ok });
        }
    }
}

fn gossip_entry(n: &Node) -> Gossip {
    Gossip {
        node: n.name,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: IpField::new(&n.ip).unwrap_or_default(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// `nodeIp2String`: the announced IP, else the connection's peer.
fn ip_of(l: &Link, announced: &IpField) -> String {
    if announced.is_empty() {
        l.peer_ip.clone()
    } else {
        announced.to_string_lossy()
    }
}
