//! What the server (the bus driver and the command layer) asks of the
//! state besides the reply views of `views.rs`: who this node replicates,
//! `CLUSTER REPLICAS`, `CLUSTER LINKS`, a slot's owner for routing, and
//! runtime changes of the settings (`CONFIG SET cluster-*`).

use std::fmt::Write as _;

use super::{Cluster, LinkId, Node, Settings};
use crate::bus::NodeName;

/// One bus link, for `CLUSTER LINKS` (the buffer figures come from the
/// driver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// The link.
    pub link: LinkId,
    /// `to` (outbound) or `from` (inbound).
    pub direction: &'static str,
    /// The peer's node id (empty while unknown).
    pub node: String,
    /// When the link was created (ms).
    pub create_time: u64,
}

/// A slot's owner as the router sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Nobody.
    Unassigned,
    /// This node.
    Myself,
    /// Another node.
    Node {
        /// Its IP.
        ip: String,
        /// Its announced hostname (empty: none).
        hostname: String,
        /// Its client port.
        port: u16,
        /// This node is its replica.
        my_master: bool,
    },
}

impl Cluster {
    /// The address of the master this node replicates, when it is a
    /// replica of a node whose address is known.
    pub fn my_master_addr(&self) -> Option<(String, u16)> {
        let me = self.me().filter(|m| m.is_slave())?;
        let master = self.nodes.get(&me.slaveof?)?;
        (!master.ip.is_empty() && master.port != 0).then(|| (master.ip.clone(), master.port))
    }

    /// Whether this node is a replica.
    pub fn myself_is_replica(&self) -> bool {
        self.me().is_some_and(Node::is_slave)
    }

    /// `CLUSTER REPLICAS <id>`: the `CLUSTER NODES` lines of its replicas.
    pub fn replicas_lines(&self, id: &str) -> Result<Vec<String>, String> {
        let n = self
            .lookup(id)
            .and_then(|n| self.nodes.get(&n))
            .ok_or_else(|| format!("ERR Unknown node {id}"))?;
        if n.is_slave() {
            return Err("ERR The specified node is not a master".to_owned());
        }
        Ok(n.replicas
            .iter()
            .filter_map(|r| self.nodes.get(r))
            .map(|r| {
                let mut s = String::new();
                let _ = write!(s, "{}", self.node_line(r));
                s
            })
            .collect())
    }

    /// The bus links, for `CLUSTER LINKS` (in the node table's order,
    /// outbound link first, as upstream lists them).
    pub fn links_view(&self) -> Vec<LinkView> {
        let mut out = Vec::new();
        for n in self.nodes.values() {
            if n.name == self.myself {
                continue;
            }
            for (link, direction) in [(n.link, "to"), (n.inbound_link, "from")] {
                let Some(link) = link else { continue };
                let Some(l) = self.links.get(&link) else {
                    continue;
                };
                out.push(LinkView {
                    link,
                    direction,
                    node: n.name.to_string(),
                    create_time: l.ctime,
                });
            }
        }
        out
    }

    /// Who serves `slot`.
    pub fn owner_of(&self, slot: u16) -> Owner {
        let Some(owner) = self.slots.get(usize::from(slot)).copied().flatten() else {
            return Owner::Unassigned;
        };
        if owner == self.myself {
            return Owner::Myself;
        }
        let Some(n) = self.nodes.get(&owner) else {
            return Owner::Unassigned;
        };
        let my_master = self
            .me()
            .is_some_and(|m| m.is_slave() && m.slaveof == Some(owner));
        Owner::Node {
            ip: n.ip.clone(),
            hostname: n.hostname.clone(),
            port: n.port,
            my_master,
        }
    }

    /// Where `slot` migrates to (its address), when it is `MIGRATING`.
    pub fn migrating_target(&self, slot: u16) -> Option<(String, String, u16)> {
        let to = self.migrating.get(&slot)?;
        let n = self.nodes.get(to)?;
        Some((n.ip.clone(), n.hostname.clone(), n.port))
    }

    /// Whether `slot` is served by this node's shard (this node when it
    /// is a master, else its master).
    pub fn serves_slot_in_my_shard(&self, slot: u16) -> bool {
        let primary = match self.me() {
            Some(m) if m.is_slave() => m.slaveof,
            Some(m) => Some(m.name),
            None => None,
        };
        primary.is_some() && self.slots.get(usize::from(slot)).copied().flatten() == primary
    }

    /// Whether `id` names a known node.
    pub fn knows(&self, id: &str) -> bool {
        self.lookup(id).is_some()
    }

    /// The node id of the link's peer, if known.
    pub fn link_node(&self, link: LinkId) -> Option<NodeName> {
        self.links.get(&link).and_then(|l| l.node)
    }

    /// Changes the settings (`CONFIG SET cluster-*`); the announced
    /// endpoint of this node follows.
    pub fn set_settings(&mut self, s: Settings) {
        let me = self.myself;
        if let Some(m) = self.nodes.get_mut(&me) {
            m.port = s.port;
            m.cport = s.cport;
            m.pport = s.pport;
            m.hostname = s.hostname.clone();
            if let Some(ip) = &s.announce_ip {
                m.ip = ip.clone();
            }
            if s.replica_no_failover {
                m.flags |= crate::bus::node_flags::NOFAILOVER;
            } else {
                m.flags &= !crate::bus::node_flags::NOFAILOVER;
            }
        }
        self.settings = s;
    }

    /// Upstream's `verifyClusterConfigWithData` for one slot holding keys
    /// after loading: an unassigned slot becomes this node's, a slot
    /// owned by another node is set importing from it (unless it already
    /// is). Returns the warning to log, if any; call
    /// [`Cluster::after_data_check`] once after the last slot.
    pub fn claim_slot_with_keys(&mut self, slot: u16) -> Option<String> {
        if self.myself_is_replica() || self.importing.contains_key(&slot) {
            return None;
        }
        match self.slots.get(usize::from(slot)).copied().flatten() {
            Some(owner) if owner == self.myself => None,
            None => {
                let me = self.myself;
                self.add_slot(me, slot);
                self.todo.update_state = true;
                self.save(false);
                Some(format!(
                    "I have keys for unassigned slot {slot}. Taking responsibility for it."
                ))
            }
            Some(owner) => {
                self.importing.insert(slot, owner);
                self.todo.update_state = true;
                self.save(false);
                Some(format!(
                    "I have keys for slot {slot}, but the slot is assigned to another node. Setting it to importing state."
                ))
            }
        }
    }

    /// The actions deferred by [`Cluster::claim_slot_with_keys`].
    pub fn after_data_check(&mut self, now: u64) -> Vec<super::Action> {
        self.finish(now)
    }
}
