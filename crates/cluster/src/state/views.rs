//! Read-only views for the replies: `CLUSTER NODES`, `SLOTS`, `SHARDS`,
//! `INFO`, slot lookups and the `nodes.conf` model to save.

use std::fmt::Write as _;

use super::{Cluster, Node};
use crate::bus::{MessageType, NodeName, MESSAGE_TYPE_COUNT};
use crate::nodes_conf::NodesConf;

/// A node in a `CLUSTER SLOTS` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotEndpoint {
    /// The IP.
    pub ip: String,
    /// The client port.
    pub port: u16,
    /// The node id.
    pub id: String,
    /// The announced hostname (empty: none).
    pub hostname: String,
}

/// One range of `CLUSTER SLOTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsRange {
    /// First slot.
    pub start: u16,
    /// Last slot.
    pub end: u16,
    /// The master.
    pub master: SlotEndpoint,
    /// Its replicas not in FAIL state.
    pub replicas: Vec<SlotEndpoint>,
}

/// A node of a `CLUSTER SHARDS` shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardNode {
    /// Node id.
    pub id: String,
    /// Client port.
    pub port: u16,
    /// IP.
    pub ip: String,
    /// Hostname (empty: none).
    pub hostname: String,
    /// `master` or `replica`.
    pub role: &'static str,
    /// The replication offset.
    pub replication_offset: u64,
    /// `online`, `fail` or `loading` (upstream 7.0 writes `fail`).
    pub health: &'static str,
}

/// One shard of `CLUSTER SHARDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The master's slot ranges.
    pub slots: Vec<(u16, u16)>,
    /// The master, then its replicas.
    pub nodes: Vec<ShardNode>,
}

impl Cluster {
    /// `CLUSTER NODES`: one line per node (handshake nodes included), each
    /// ending with `\n`.
    pub fn nodes_text(&self) -> String {
        let mut out = String::new();
        for n in self.nodes.values() {
            let _ = writeln!(out, "{}", self.node_line(n));
        }
        out
    }

    /// The `nodes.conf` model to save (write it with
    /// [`crate::nodes_conf::format`]).
    pub fn to_nodes_conf(&self) -> NodesConf {
        NodesConf {
            nodes: self.nodes.values().map(|n| self.node_line(n)).collect(),
            current_epoch: self.current_epoch,
            last_vote_epoch: self.last_vote_epoch,
        }
    }

    fn endpoint(n: &Node) -> SlotEndpoint {
        SlotEndpoint {
            ip: n.ip.clone(),
            port: n.port,
            id: n.name.to_string(),
            hostname: n.hostname.clone(),
        }
    }

    /// `CLUSTER SLOTS`: ranges in slot order.
    pub fn slots_reply(&self) -> Vec<SlotsRange> {
        let mut out = Vec::new();
        let mut start: Option<(u16, NodeName)> = None;
        for slot in 0..=self.slots.len() {
            let owner = self.slots.get(slot).copied().flatten();
            if let Some((s, n)) = start {
                if owner != Some(n) {
                    self.push_range(&mut out, s, (slot - 1) as u16, n);
                    start = None;
                }
            }
            if start.is_none() {
                if let Some(o) = owner {
                    start = Some((slot as u16, o));
                }
            }
        }
        out
    }

    fn push_range(&self, out: &mut Vec<SlotsRange>, start: u16, end: u16, owner: NodeName) {
        let Some(m) = self.nodes.get(&owner) else {
            return;
        };
        let replicas = m
            .replicas
            .iter()
            .filter_map(|r| self.nodes.get(r))
            .filter(|r| !r.failed())
            .map(Self::endpoint)
            .collect();
        out.push(SlotsRange {
            start,
            end,
            master: Self::endpoint(m),
            replicas,
        });
    }

    fn shard_node(&self, n: &Node) -> ShardNode {
        let offset = if n.name == self.myself {
            self.repl_offset
        } else {
            n.repl_offset
        };
        let health = if n.failed() {
            "fail"
        } else if n.is_slave() && offset == 0 {
            "loading"
        } else {
            "online"
        };
        ShardNode {
            id: n.name.to_string(),
            port: n.port,
            ip: n.ip.clone(),
            hostname: n.hostname.clone(),
            role: if n.is_master() { "master" } else { "replica" },
            replication_offset: offset,
            health,
        }
    }

    /// `CLUSTER SHARDS`: one shard per master.
    pub fn shards_reply(&self) -> Vec<ShardInfo> {
        self.nodes
            .values()
            .filter(|n| n.is_master())
            .map(|m| {
                let mut nodes = vec![self.shard_node(m)];
                nodes.extend(
                    m.replicas
                        .iter()
                        .filter_map(|r| self.nodes.get(r))
                        .map(|r| self.shard_node(r)),
                );
                ShardInfo {
                    slots: m.slots.ranges().map(|r| (r.start, r.end)).collect(),
                    nodes,
                }
            })
            .collect()
    }

    /// `CLUSTER INFO` fields in upstream's order.
    pub fn info_fields(&self) -> Vec<(String, String)> {
        let (mut assigned, mut ok, mut pfail, mut fail) = (0, 0, 0, 0);
        for n in self
            .slots
            .iter()
            .flatten()
            .filter_map(|o| self.nodes.get(o))
        {
            assigned += 1;
            if n.failed() {
                fail += 1;
            } else if n.timed_out() {
                pfail += 1;
            } else {
                ok += 1;
            }
        }
        let my_epoch = self.me().map_or(0, |m| self.node_epoch(m));
        let mut f: Vec<(String, String)> = vec![
            (
                "cluster_state".into(),
                if self.state_ok { "ok" } else { "fail" }.into(),
            ),
            ("cluster_slots_assigned".into(), assigned.to_string()),
            ("cluster_slots_ok".into(), ok.to_string()),
            ("cluster_slots_pfail".into(), pfail.to_string()),
            ("cluster_slots_fail".into(), fail.to_string()),
            ("cluster_known_nodes".into(), self.nodes.len().to_string()),
            ("cluster_size".into(), self.size.to_string()),
            (
                "cluster_current_epoch".into(),
                self.current_epoch.to_string(),
            ),
            ("cluster_my_epoch".into(), my_epoch.to_string()),
        ];
        for (stats, dir) in [
            (&self.stats_sent, "sent"),
            (&self.stats_received, "received"),
        ] {
            let mut total = 0;
            for t in 0..MESSAGE_TYPE_COUNT {
                let count = stats[usize::from(t)];
                if count == 0 {
                    continue;
                }
                total += count;
                if let Some(kind) = MessageType::from_u16(t) {
                    f.push((
                        format!("cluster_stats_messages_{}_{dir}", kind.name()),
                        count.to_string(),
                    ));
                }
            }
            f.push((format!("cluster_stats_messages_{dir}"), total.to_string()));
        }
        f.push((
            "total_cluster_links_buffer_limit_exceeded".into(),
            "0".into(),
        ));
        f
    }

    /// The owner of a slot (its IP and client port).
    pub fn slot_owner(&self, slot: u16) -> Option<(String, u16)> {
        let owner = self.slots.get(usize::from(slot)).copied().flatten()?;
        self.nodes.get(&owner).map(|n| (n.ip.clone(), n.port))
    }

    /// The id of a slot's owner.
    pub fn slot_owner_id(&self, slot: u16) -> Option<String> {
        self.slots
            .get(usize::from(slot))
            .copied()
            .flatten()
            .map(|n| n.to_string())
    }

    /// Whether the slot is being imported (`SETSLOT ... IMPORTING`).
    pub fn is_importing(&self, slot: u16) -> bool {
        self.importing.contains_key(&slot)
    }

    /// Whether the slot is being migrated (`SETSLOT ... MIGRATING`).
    pub fn is_migrating(&self, slot: u16) -> bool {
        self.migrating.contains_key(&slot)
    }

    /// The number of known nodes (handshakes included).
    pub fn known_nodes(&self) -> usize {
        self.nodes.len()
    }
}
