//! Tests of the cluster state machine: a simulated network of several
//! [`Cluster`]s whose messages go through `bus::encode` → `bus::decode` on
//! every hop, driven by a fake clock (100 ms ticks), plus the command error
//! texts checked against the reference server.

use std::collections::{HashMap, VecDeque};

use super::*;
use crate::bus::{decode, encode, PingData};
use crate::nodes_conf;

pub(super) const T0: u64 = 1_700_000_000_000;
pub(super) const TIMEOUT: u64 = 1000;
pub(super) const PORT: u16 = 7000;
pub(super) const CPORT: u16 = 17000;

pub(super) fn ip(i: usize) -> String {
    format!("10.0.0.{}", i + 1)
}

pub(super) fn settings() -> Settings {
    Settings {
        port: PORT,
        cport: CPORT,
        node_timeout: TIMEOUT,
        ..Settings::default()
    }
}

pub(super) enum Ev {
    Connected(usize, LinkId),
    Packet(usize, LinkId, Vec<u8>),
    Closed(usize, LinkId),
}

pub(super) struct SimNode {
    pub(super) c: Cluster,
    pub(super) ip: String,
    pub(super) paused: bool,
    pub(super) logs: Vec<String>,
    pub(super) saves: Vec<bool>,
    pub(super) states: Vec<bool>,
    pub(super) other: Vec<Action>,
    pub(super) sent: Vec<Message>,
    pub(super) pending_closed: Vec<LinkId>,
    /// The replication offset: a master's grows with its writes, a
    /// replica's follows its master's while the link is up (unless `lag`).
    pub(super) offset: u64,
    /// A replica that stops applying its master's stream.
    pub(super) lag: bool,
    /// A replica whose replication link is down although both run.
    pub(super) repl_broken: bool,
    /// The replication link to the master as last reported.
    pub(super) repl_up: bool,
    pub(super) repl_down_since: Option<u64>,
    pub(super) repl_last_io: u64,
}

/// Nodes on `10.0.0.<i+1>:7000@17000`; a connection is a pair of link ids
/// (the outbound one allocated by the connecting node, the inbound one
/// by the network). Replication is modelled too: a replica's link to its
/// master is up while both run, and its offset then follows the master's
/// (see [`Net::sync_replication`]).
pub(super) struct Net {
    pub(super) nodes: Vec<SimNode>,
    pub(super) now: u64,
    pub(super) peer: HashMap<(usize, LinkId), (usize, LinkId)>,
    pub(super) queue: VecDeque<Ev>,
    pub(super) next_in: u64,
}

impl Net {
    pub(super) fn new(n: usize) -> Net {
        let mut net = Net {
            nodes: Vec::new(),
            now: T0,
            peer: HashMap::new(),
            queue: VecDeque::new(),
            next_in: 1,
        };
        for i in 0..n {
            net.add_node(Cluster::new(settings(), None, T0, i as u64 + 1));
        }
        net
    }

    pub(super) fn add_node(&mut self, mut c: Cluster) -> usize {
        let acts = c.take_actions();
        let i = self.nodes.len();
        self.nodes.push(SimNode {
            c,
            ip: ip(i),
            paused: false,
            logs: Vec::new(),
            saves: Vec::new(),
            states: Vec::new(),
            other: Vec::new(),
            sent: Vec::new(),
            pending_closed: Vec::new(),
            offset: 0,
            lag: false,
            repl_broken: false,
            repl_up: false,
            repl_down_since: None,
            repl_last_io: 0,
        });
        self.handle(i, acts);
        i
    }

    pub(super) fn c(&mut self, i: usize) -> &mut Cluster {
        &mut self.nodes[i].c
    }

    pub(super) fn id(&self, i: usize) -> NodeName {
        self.nodes[i].c.myself
    }

    pub(super) fn handle(&mut self, i: usize, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Connect {
                    link, ip, cport, ..
                } => {
                    let target = (0..self.nodes.len()).find(|&j| {
                        j != i && self.nodes[j].ip == ip && cport == CPORT && !self.nodes[j].paused
                    });
                    match target {
                        None => self.queue.push_back(Ev::Closed(i, link)),
                        Some(j) => {
                            let inbound = LinkId(self.next_in);
                            self.next_in += 1;
                            let (pip, lip) = (self.nodes[i].ip.clone(), self.nodes[j].ip.clone());
                            self.nodes[j]
                                .c
                                .on_inbound_link(inbound, &pip, &lip, self.now);
                            self.peer.insert((i, link), (j, inbound));
                            self.peer.insert((j, inbound), (i, link));
                            self.queue.push_back(Ev::Connected(i, link));
                        }
                    }
                }
                Action::Send { link, msg } => {
                    let bytes = encode(&msg);
                    self.nodes[i].sent.push(msg);
                    if let Some(&(j, l2)) = self.peer.get(&(i, link)) {
                        if !self.nodes[j].paused {
                            self.queue.push_back(Ev::Packet(j, l2, bytes));
                        }
                    }
                }
                Action::Close { link } => {
                    if let Some((j, l2)) = self.peer.remove(&(i, link)) {
                        self.peer.remove(&(j, l2));
                        if self.nodes[j].paused {
                            self.nodes[j].pending_closed.push(l2);
                        } else {
                            self.queue.push_back(Ev::Closed(j, l2));
                        }
                    }
                }
                Action::SaveConfig { fsync } => self.nodes[i].saves.push(fsync),
                Action::Log { text, .. } => self.nodes[i].logs.push(text),
                Action::StateChanged { ok } => self.nodes[i].states.push(ok),
                other => self.nodes[i].other.push(other),
            }
        }
    }

    pub(super) fn drain(&mut self) {
        while let Some(ev) = self.queue.pop_front() {
            let now = self.now;
            match ev {
                Ev::Connected(i, l) => {
                    if !self.nodes[i].paused {
                        let acts = self.nodes[i].c.on_link_connected(l, now);
                        self.handle(i, acts);
                    }
                }
                Ev::Packet(i, l, bytes) => {
                    if !self.nodes[i].paused {
                        let msg = decode(&bytes).expect("our own encoding decodes");
                        let acts = self.nodes[i].c.on_packet(l, msg, now);
                        self.handle(i, acts);
                    }
                }
                Ev::Closed(i, l) => {
                    let acts = self.nodes[i].c.on_link_closed(l, now);
                    self.handle(i, acts);
                }
            }
        }
    }

    /// Runs a command-like call on node `i` and carries out its actions.
    pub(super) fn apply<T>(&mut self, i: usize, r: Result<(T, Vec<Action>), String>) -> T {
        let (v, acts) = r.expect("command succeeds");
        self.handle(i, acts);
        self.drain();
        v
    }

    pub(super) fn step(&mut self) {
        self.now += 100;
        self.sync_replication();
        for i in 0..self.nodes.len() {
            if !self.nodes[i].paused {
                let acts = self.nodes[i].c.tick(self.now);
                self.handle(i, acts);
                self.drain();
            }
        }
    }

    /// Index of the node named `name`.
    pub(super) fn index_of(&self, name: NodeName) -> Option<usize> {
        (0..self.nodes.len()).find(|&j| self.nodes[j].c.myself == name)
    }

    /// Reports every running node's replication state to it: a replica's
    /// link is up while it and its master (in its own view) run, and its
    /// offset then catches up with the master's unless it lags.
    pub(super) fn sync_replication(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            if self.nodes[i].paused {
                continue;
            }
            let master = self.nodes[i]
                .c
                .me()
                .filter(|m| m.is_slave())
                .and_then(|m| m.slaveof)
                .and_then(|m| self.index_of(m));
            let up = master.is_some_and(|j| !self.nodes[j].paused) && !self.nodes[i].repl_broken;
            let master_offset = master.map_or(0, |j| self.nodes[j].offset);
            let n = &mut self.nodes[i];
            if up {
                if !n.lag {
                    n.offset = master_offset;
                }
                n.repl_last_io = now;
                n.repl_down_since = None;
            } else if n.repl_up {
                n.repl_down_since = Some(now);
            }
            n.repl_up = up;
            n.c.set_replica_link(up, n.repl_down_since, n.repl_last_io);
            n.c.set_repl_offset(n.offset);
        }
    }

    pub(super) fn run(&mut self, ms: u64) {
        for _ in 0..ms / 100 {
            self.step();
        }
    }

    /// Steps until `cond` holds; panics after `max_ms`.
    pub(super) fn run_until(&mut self, max_ms: u64, what: &str, cond: impl Fn(&Net) -> bool) {
        let start = self.now;
        while !cond(self) {
            assert!(self.now - start < max_ms, "timed out waiting for {what}");
            self.step();
        }
    }

    pub(super) fn pause(&mut self, i: usize) {
        self.nodes[i].paused = true;
    }

    pub(super) fn resume(&mut self, i: usize) {
        self.nodes[i].paused = false;
        for l in std::mem::take(&mut self.nodes[i].pending_closed) {
            self.queue.push_back(Ev::Closed(i, l));
        }
        self.drain();
    }

    pub(super) fn node(&self, i: usize, of: usize) -> Option<&Node> {
        self.nodes[i].c.nodes.get(&self.id(of))
    }

    pub(super) fn flags(&self, i: usize, of: usize) -> u16 {
        self.node(i, of).map_or(0, |n| n.flags)
    }

    pub(super) fn knows(&self, i: usize, of: usize) -> bool {
        self.node(i, of).is_some_and(|n| !n.in_handshake())
    }

    pub(super) fn all_ok(&self) -> bool {
        self.nodes.iter().all(|n| n.c.is_ok())
    }

    pub(super) fn info(&self, i: usize, field: &str) -> String {
        self.nodes[i]
            .c
            .info_fields()
            .into_iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    pub(super) fn has_log(&self, i: usize, text: &str) -> bool {
        self.nodes[i].logs.iter().any(|l| l.contains(text))
    }
}

/// Three masters: node 0 meets 1 and 2; 1 and 2 learn each other by
/// gossip.
pub(super) fn three_met() -> Net {
    let mut net = Net::new(3);
    let now = net.now;
    for j in [1, 2] {
        let r = net
            .c(0)
            .meet(&ip(j), i64::from(PORT), i64::from(CPORT), now);
        net.apply(0, r);
    }
    net.run_until(5000, "full mesh", |n| {
        (0..3).all(|i| (0..3).all(|j| i == j || n.knows(i, j)))
            && (0..3).all(|i| n.nodes[i].c.nodes.len() == 3)
    });
    // Links to nodes learned by gossip open on the next ticks.
    net.run(500);
    net
}

/// [`three_met`] with the slots split in three and every node `ok`.
pub(super) fn three_ok() -> Net {
    let mut net = three_met();
    let now = net.now;
    for (i, range) in [(0, (0, 5460)), (1, (5461, 10922)), (2, (10923, 16383))] {
        let r = net.c(i).add_slots_range(&[range], now);
        net.apply(i, r);
    }
    net.run_until(10_000, "cluster ok", Net::all_ok);
    net
}

#[test]
fn new_node_logs_its_id_and_saves_with_fsync() {
    let mut c = Cluster::new(settings(), None, T0, 7);
    let id = c.myid();
    assert_eq!(id.len(), 40);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let acts = c.take_actions();
    assert!(acts.contains(&Action::Log {
        level: LogLevel::Notice,
        text: format!("No cluster configuration found, I'm {id}"),
    }));
    assert_eq!(acts.last(), Some(&Action::SaveConfig { fsync: true }));
    assert!(c.take_actions().is_empty());
    assert!(!c.is_ok());
}

#[test]
fn three_masters_meet_and_learn_each_other_by_gossip() {
    let net = three_met();
    for i in 0..3 {
        // Each node learned its own address from the connections.
        assert_eq!(net.nodes[i].c.me().map(|m| m.ip.clone()), Some(ip(i)));
        let text = net.nodes[i].c.nodes_text();
        assert_eq!(text.lines().count(), 3, "{text}");
        for j in 0..3 {
            let n = net.node(i, j).expect("known");
            assert!(n.is_master());
            assert_eq!(
                (n.ip.as_str(), n.port, n.cport),
                (ip(j).as_str(), PORT, CPORT)
            );
        }
        assert!(text.lines().all(|l| l.contains(" connected")), "{text}");
    }
    // 1 and 2 were never met with CLUSTER MEET: only node 0 did handshakes
    // by MEET; they know each other from its gossip.
    assert!(net.nodes[0]
        .sent
        .iter()
        .any(|m| matches!(m.body, Body::Meet(_))));
    for i in [1, 2] {
        assert!(!net.nodes[i]
            .sent
            .iter()
            .any(|m| matches!(m.body, Body::Meet(_))));
    }
    assert!(net.has_log(0, "IP address for this node updated to 10.0.0.1"));
    assert_eq!(net.info(0, "cluster_known_nodes"), "3");
    assert_eq!(net.info(0, "cluster_state"), "fail");
}

#[test]
fn slots_assigned_then_state_ok_and_epochs_made_unique() {
    let net = three_ok();
    for i in 0..3 {
        let c = &net.nodes[i].c;
        assert_eq!(c.slot_owner_id(0), Some(net.id(0).to_string()));
        assert_eq!(c.slot_owner_id(5461), Some(net.id(1).to_string()));
        assert_eq!(c.slot_owner_id(16383), Some(net.id(2).to_string()));
        assert_eq!(c.slot_owner(10922), Some((ip(1), PORT)));
        assert_eq!(net.info(i, "cluster_state"), "ok");
        assert_eq!(net.info(i, "cluster_slots_assigned"), "16384");
        assert_eq!(net.info(i, "cluster_slots_ok"), "16384");
        assert_eq!(net.info(i, "cluster_size"), "3");
        assert_eq!(net.nodes[i].states, vec![true]);
        let ranges: Vec<(u16, u16)> = c.slots_reply().iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(ranges, vec![(0, 5460), (5461, 10922), (10923, 16383)]);
    }
    // All three started with config epoch 0: the collisions were resolved
    // and the views agree.
    let epochs: Vec<u64> = (0..3)
        .map(|j| net.node(j, j).map_or(0, |n| n.config_epoch))
        .collect();
    let mut sorted = epochs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 3, "{epochs:?}");
    for i in 0..3 {
        for (j, e) in epochs.iter().enumerate() {
            assert_eq!(net.node(i, j).map(|n| n.config_epoch), Some(*e));
        }
    }
}

#[test]
fn state_ok_waits_for_the_writable_delay() {
    // A node loaded with every slot: `ok` only WRITABLE_DELAY after the
    // first state update.
    let mut c = Cluster::new(settings(), None, T0, 1);
    let _ = c.add_slots_range(&[(0, 16383)], T0).expect("add");
    let conf = c.to_nodes_conf();
    let mut c = Cluster::new(settings(), Some(conf), T0, 2);
    assert!(c.take_actions().iter().any(
        |a| matches!(a, Action::Log { text, .. } if text.starts_with("Node configuration loaded"))
    ));
    let mut now = T0;
    while now < T0 + WRITABLE_DELAY - 100 {
        now += 100;
        assert!(!c.tick(now).contains(&Action::StateChanged { ok: true }));
        assert!(!c.is_ok(), "ok at +{}", now - T0);
    }
    let acts = c.tick(T0 + WRITABLE_DELAY);
    assert!(acts.contains(&Action::StateChanged { ok: true }));
    assert!(acts.contains(&Action::Log {
        level: LogLevel::Warning,
        text: "Cluster state changed: ok".into()
    }));
}

#[test]
fn state_ok_waits_for_the_rejoin_delay_after_a_minority() {
    let s = Settings {
        node_timeout: 3000,
        ..settings()
    };
    let mut c = Cluster::new(s, None, T0, 1);
    // No slots at all: the node is "in the minority" at every update.
    let mut now = T0;
    while now < T0 + 2500 {
        now += 100;
        let _ = c.tick(now);
    }
    let _ = c.add_slots_range(&[(0, 16383)], now).expect("add");
    let assigned = now;
    // rejoin delay = node timeout (within 500..5000).
    while now + 100 < assigned + 3000 {
        now += 100;
        let _ = c.tick(now);
        assert!(!c.is_ok(), "ok at +{}", now - assigned);
    }
    now += 100;
    let _ = c.tick(now);
    assert!(c.is_ok());
}

#[test]
fn unreachable_master_goes_pfail_then_fail_and_comes_back() {
    let mut net = three_ok();
    let paused_at = net.now;
    net.pause(2);
    let mut pfail_at = None;
    let mut fail_at = None;
    while fail_at.is_none() {
        assert!(net.now - paused_at < 10_000, "no FAIL");
        net.step();
        for i in [0, 1] {
            let f = net.flags(i, 2);
            if f & nf::PFAIL != 0 && pfail_at.is_none() {
                pfail_at = Some(net.now);
            }
            if f & nf::FAIL != 0 && fail_at.is_none() {
                fail_at = Some(net.now);
            }
        }
    }
    let pfail_at = pfail_at.expect("PFAIL seen before FAIL");
    assert!(pfail_at - paused_at > TIMEOUT);
    // Both masters agree; one reached the quorum, the other may have been
    // told by its FAIL broadcast.
    net.run_until(3000, "FAIL everywhere", |n| {
        [0, 1].iter().all(|&i| n.flags(i, 2) & nf::FAIL != 0)
    });
    let c2 = net.id(2);
    let quorum = format!("Marking node {c2} as failing (quorum reached).");
    assert!(net.has_log(0, &quorum) || net.has_log(1, &quorum));
    assert!(net
        .nodes
        .iter()
        .take(2)
        .any(|n| n.sent.iter().any(|m| m.body == Body::Fail { node: c2 })));
    for i in [0, 1] {
        assert!(!net.nodes[i].c.is_ok());
        assert_eq!(net.nodes[i].states.last(), Some(&false));
        assert_eq!(net.info(i, "cluster_slots_fail"), "5461");
        assert_eq!(net.info(i, "cluster_slots_ok"), "10923");
        let line = net.nodes[i].c.nodes_text();
        assert!(line.contains("master,fail - "), "{line}");
    }
    // It comes back: FAIL is cleared once it has been FAIL long enough and
    // still serves its slots; everyone is ok again.
    net.resume(2);
    net.run_until(15_000, "FAIL cleared and ok", |n| {
        [0, 1]
            .iter()
            .all(|&i| n.flags(i, 2) & (nf::FAIL | nf::PFAIL) == 0)
            && n.all_ok()
    });
    let cleared = format!(
        "Clear FAIL state for node {c2}: is reachable again and nobody is serving its slots after some time."
    );
    assert!(net.has_log(0, &cleared) && net.has_log(1, &cleared));
}

#[test]
fn no_full_coverage_keeps_ok_while_a_minority_fails() {
    let mut net = Net::new(3);
    for n in &mut net.nodes {
        n.c.settings.require_full_coverage = false;
    }
    let now = net.now;
    for j in [1, 2] {
        let r = net
            .c(0)
            .meet(&ip(j), i64::from(PORT), i64::from(CPORT), now);
        net.apply(0, r);
    }
    for (i, range) in [(0, (0, 5460)), (1, (5461, 10922)), (2, (10923, 16383))] {
        let r = net.c(i).add_slots_range(&[range], now);
        net.apply(i, r);
    }
    net.run_until(10_000, "ok", Net::all_ok);
    net.pause(2);
    net.run_until(10_000, "FAIL", |n| n.flags(0, 2) & nf::FAIL != 0);
    net.run(1000);
    assert!(net.nodes[0].c.is_ok() && net.nodes[1].c.is_ok());
}

#[test]
fn slot_claimed_with_a_higher_config_epoch_is_rebound() {
    let mut net = three_ok();
    // Node 0 stops hearing anything while node 2 imports slot 100.
    net.pause(0);
    let (a, c) = (net.id(0).to_string(), net.id(2).to_string());
    let now = net.now;
    let r = net.c(2).set_slot(100, SetSlot::Importing(a), 0, now);
    net.apply(2, r);
    let r = net.c(2).set_slot(100, SetSlot::Node(c.clone()), 0, now);
    net.apply(2, r);
    let e2 = net.node(2, 2).map_or(0, |n| n.config_epoch);
    assert_eq!(e2, net.nodes[2].c.max_epoch());
    assert!(!net.nodes[2].c.is_importing(100));
    net.run(500);
    assert_eq!(net.nodes[1].c.slot_owner_id(100), Some(c.clone()));
    // The stale node learns it when it comes back, and drops the keys.
    net.resume(0);
    net.run_until(5000, "rebound on node 0", |n| {
        n.nodes[0].c.slot_owner_id(100).as_deref() == Some(c.as_str())
    });
    assert!(net.nodes[0]
        .other
        .contains(&Action::DeleteKeysInSlot { slot: 100 }));
    assert_eq!(net.node(0, 0).map(|n| n.numslots()), Some(5460));
    assert!(net.node(0, 0).is_some_and(Node::is_master));
}

/// The link on node `to` bound to the connection node `from` opened.
pub(super) fn inbound_link(net: &Net, from: usize, to: usize) -> LinkId {
    net.peer
        .iter()
        .find(|((i, l), (j, _))| *i == from && *j == to && l.is_outbound())
        .map(|(_, (_, l))| *l)
        .expect("a connection")
}

#[test]
fn stale_claim_gets_an_update_and_update_rebinds() {
    let mut net = three_ok();
    let now = net.now;
    let epoch = |net: &Net, j: usize| net.node(1, j).map_or(0, |n| n.config_epoch);
    // `x` claims a slot of `y`, whose config epoch is greater.
    let (x, y, slot) = if epoch(&net, 2) > epoch(&net, 0) {
        (0, 2, 16000)
    } else {
        (2, 0, 100)
    };
    let (xid, yid, e_y) = (net.id(x), net.id(y), epoch(&net, y));
    // A PING from `x` claiming the slot with an older epoch: node 1 keeps
    // the slot where it is and sends `x` an UPDATE about `y`.
    let mut hdr = net.nodes[x].c.build_header();
    hdr.myslots.set(slot);
    let ping = Message::new(hdr, Body::Ping(PingData::default()));
    let link = inbound_link(&net, x, 1);
    let acts = net.nodes[1]
        .c
        .on_packet(link, decode(&encode(&ping)).expect("decode"), now);
    assert_eq!(net.nodes[1].c.slot_owner_id(slot), Some(yid.to_string()));
    let to_x = net.node(1, x).and_then(|n| n.link);
    let update = acts.iter().find_map(|a| match a {
        Action::Send { msg, link } => match &msg.body {
            Body::Update {
                config_epoch,
                node,
                slots,
            } => Some((Some(*link), *config_epoch, *node, slots.count())),
            _ => None,
        },
        _ => None,
    });
    let y_slots = net.node(1, y).map_or(0, Node::numslots);
    assert_eq!(update, Some((to_x, e_y, yid, y_slots)));
    let stale =
        format!("Node {xid} has old slots configuration, sending an UPDATE message about {yid}");
    let stale_logged = acts
        .iter()
        .any(|a| matches!(a, Action::Log { text, .. } if *text == stale));
    assert!(stale_logged);
    // An UPDATE telling node 0 that node 2 now has a newer epoch and slot
    // 200 too: node 0 rebinds it and drops its keys.
    let c = net.id(2);
    let mut slots = net.nodes[2]
        .c
        .me()
        .map(|m| m.slots.clone())
        .unwrap_or_default();
    slots.set(200);
    let hdr = net.nodes[1].c.build_header();
    let upd = Message::new(
        hdr,
        Body::Update {
            config_epoch: net.nodes[0].c.max_epoch() + 10,
            node: c,
            slots: SlotBitmap::from_array(slots.to_bitmap()),
        },
    );
    let link = inbound_link(&net, 1, 0);
    let acts = net.nodes[0]
        .c
        .on_packet(link, decode(&encode(&upd)).expect("decode"), now);
    assert_eq!(net.nodes[0].c.slot_owner_id(200), Some(c.to_string()));
    assert!(acts.contains(&Action::DeleteKeysInSlot { slot: 200 }));
    assert!(acts.contains(&Action::SaveConfig { fsync: true }));
    assert!(net.node(0, 0).is_some_and(|n| !n.slots.contains(200)));
}

#[test]
fn config_epoch_collision_bumps_the_smaller_id() {
    let mut net = Net::new(2);
    let now = net.now;
    for i in 0..2 {
        let r = net.c(i).set_config_epoch(5, now);
        net.apply(i, r);
        assert_eq!(net.nodes[i].c.current_epoch(), 5);
    }
    let r = net
        .c(0)
        .meet(&ip(1), i64::from(PORT), i64::from(CPORT), now);
    net.apply(0, r);
    net.run(2000);
    let (small, big) = if net.id(0).as_bytes() < net.id(1).as_bytes() {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(net.node(small, small).map(|n| n.config_epoch), Some(6));
    assert_eq!(net.node(big, big).map(|n| n.config_epoch), Some(5));
    assert!(net.has_log(
        small,
        &format!(
            "WARNING: configEpoch collision with node {}. configEpoch set to 6",
            net.id(big)
        )
    ));
    assert!(!net.has_log(big, "configEpoch collision"));
    for i in 0..2 {
        assert_eq!(net.nodes[i].c.current_epoch(), 6);
        assert_eq!(net.node(i, small).map(|n| n.config_epoch), Some(6));
    }
}

#[test]
fn forget_blacklists_for_a_minute() {
    let mut net = three_ok();
    let c = net.id(2).to_string();
    let now = net.now;
    let r = net.c(0).forget(&c, now);
    net.apply(0, r);
    assert!(!net.knows(0, 2));
    assert_eq!(net.nodes[0].c.slot_owner_id(16000), None);
    net.run(10_000);
    // Gossip from node 1 about node 2 is ignored meanwhile.
    assert!(net.node(0, 2).is_none());
    assert!(!net.nodes[0].c.is_ok());
    net.run_until(60_000, "node 2 known again", |n| n.knows(0, 2));
    assert!(net.now - now > BLACKLIST_TTL_SECS * 1000 - 1000);
    net.run_until(10_000, "ok again", Net::all_ok);

    let now = net.now;
    let me = net.nodes[0].c.myid();
    let c0 = net.c(0);
    assert_eq!(
        c0.forget(&me, now).err().as_deref(),
        Some("ERR I tried hard but I can't forget myself...")
    );
    assert_eq!(
        c0.forget("nosuchid", now).err().as_deref(),
        Some("ERR Unknown node nosuchid")
    );
}

#[test]
fn replica_cannot_forget_its_master() {
    let mut net = Net::new(2);
    let now = net.now;
    let r = net
        .c(0)
        .meet(&ip(1), i64::from(PORT), i64::from(CPORT), now);
    net.apply(0, r);
    net.run_until(5000, "met", |n| n.knows(0, 1) && n.knows(1, 0));
    let m = net.id(1).to_string();
    let now = net.now;
    let r = net.c(0).replicate(&m, true, now);
    net.apply(0, r);
    assert!(net.nodes[0].other.contains(&Action::ReplicateFrom {
        ip: ip(1),
        port: PORT
    }));
    net.run_until(3000, "seen as replica", |n| {
        n.node(1, 0)
            .is_some_and(|r| r.is_slave() && r.slaveof == Some(n.id(1)))
    });
    let line = net.nodes[1].c.nodes_text();
    assert!(line.contains(&format!(" slave {m} ")), "{line}");
    let now = net.now;
    assert_eq!(
        net.c(0).forget(&m, now).err().as_deref(),
        Some("ERR Can't forget my master!")
    );
    let me = net.nodes[1].c.myid();
    let r0 = net.nodes[0].c.myid();
    assert_eq!(
        net.c(1).replicate(&r0, true, now).err().as_deref(),
        Some("ERR I can only replicate a master, not a replica.")
    );
    assert_eq!(
        net.c(1).replicate(&me, true, now).err().as_deref(),
        Some("ERR Can't replicate myself")
    );
    // A replica is reset into an empty master.
    let r = net.c(0).reset(false, false, now);
    net.apply(0, r);
    assert!(net.nodes[0]
        .other
        .contains(&Action::UnsetReplicationAndFlush));
    assert!(net.node(0, 0).is_some_and(Node::is_master));
}

#[test]
fn reset_soft_and_hard() {
    let mut net = three_ok();
    let now = net.now;
    assert_eq!(
        net.c(0).reset(false, false, now).err().as_deref(),
        Some("ERR CLUSTER RESET can't be called with master nodes containing keys")
    );
    let old = net.nodes[0].c.myid();
    let epoch = net.nodes[0].c.current_epoch();
    net.nodes[0].saves.clear();
    let r = net.c(0).reset(false, true, now);
    net.apply(0, r);
    let c0 = &net.nodes[0].c;
    assert_eq!(c0.myid(), old);
    assert_eq!(c0.known_nodes(), 1);
    assert_eq!(c0.slot_owner_id(0), None);
    assert_eq!(c0.current_epoch(), epoch);
    assert!(net.nodes[0].saves.contains(&true));

    let r = net.c(0).reset(true, true, now);
    net.apply(0, r);
    let c0 = &net.nodes[0].c;
    let new = c0.myid();
    assert_ne!(new, old);
    assert_eq!(c0.current_epoch(), 0);
    assert_eq!(c0.me().map(|m| m.config_epoch), Some(0));
    assert!(net.has_log(0, &format!("Node hard reset, now I'm {new}")));
    assert!(net.has_log(0, "configEpoch set to 0 via CLUSTER RESET HARD"));
    let text = net.nodes[0].c.nodes_text();
    let pong = net.node(0, 0).map_or(0, |n| n.pong_received);
    assert_eq!(
        text,
        format!("{new} 10.0.0.1:7000@17000 myself,master - 0 {pong} 0 connected\n")
    );
}

#[test]
fn nodes_text_lines() {
    let net = three_ok();
    let text = net.nodes[0].c.nodes_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(text.ends_with('\n'));
    let epoch = |j: usize| net.node(0, j).map_or(0, |n| n.config_epoch);
    for (j, range) in [(0, "0-5460"), (1, "5461-10922"), (2, "10923-16383")] {
        let id = net.id(j).to_string();
        let line = lines
            .iter()
            .find(|l| l.starts_with(&id))
            .expect("line for node");
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 9, "{line}");
        assert_eq!(f[1], format!("{}:7000@17000", ip(j)));
        assert_eq!(f[2], if j == 0 { "myself,master" } else { "master" });
        assert_eq!(f[3], "-");
        if j == 0 {
            // Upstream also takes the pong times gossiped about myself.
            assert_eq!(f[4], "0");
        } else {
            assert!(f[4].parse::<u64>().is_ok());
            assert!(f[5].parse::<u64>().expect("pong") > T0);
        }
        assert_eq!(f[6], epoch(j).to_string());
        assert_eq!(f[7], "connected");
        assert_eq!(f[8], range);
    }
}

#[test]
fn nodes_text_hostname_open_slots_and_handshake() {
    let s = Settings {
        hostname: "host-a.example".into(),
        ..settings()
    };
    let mut c = Cluster::new(s, None, T0, 3);
    let id = c.myid();
    let _ = c.add_slots(&[1, 2, 3, 7], T0).expect("add");
    let _ = c.meet("10.9.9.9", 6000, 16000, T0).expect("meet");
    let hs = c
        .nodes
        .values()
        .find(|n| n.in_handshake())
        .map(|n| n.name.to_string())
        .expect("handshake node");
    let _ = c
        .set_slot(7, SetSlot::Migrating(hs.clone()), 0, T0)
        .expect("migrating");
    let _ = c
        .set_slot(9, SetSlot::Importing(hs.clone()), 0, T0)
        .expect("importing");
    let text = c.nodes_text();
    assert!(text.contains(&format!(
        "{id} :7000@17000,host-a.example myself,master - 0 0 0 connected 1-3 7 [7->-{hs}] [9-<-{hs}]\n"
    )), "{text}");
    assert!(
        text.contains(&format!(
            "{hs} 10.9.9.9:6000@16000 handshake - 0 0 0 disconnected\n"
        )),
        "{text}"
    );
    // Meeting the same address again while in handshake adds nothing.
    let _ = c.meet("10.9.9.9", 6000, 16000, T0).expect("meet");
    assert_eq!(c.known_nodes(), 2);
}

#[test]
fn to_nodes_conf_round_trips() {
    let net = three_ok();
    let conf = net.nodes[1].c.to_nodes_conf();
    let text = nodes_conf::format(&conf);
    let parsed = nodes_conf::parse(&text).expect("parse");
    assert_eq!(parsed, conf);
    assert_eq!(nodes_conf::format(&parsed), text);
    let mut c = Cluster::new(settings(), Some(parsed), net.now, 42);
    let acts = c.take_actions();
    let id = net.nodes[1].c.myid();
    assert_eq!(c.myid(), id);
    assert!(acts.contains(&Action::Log {
        level: LogLevel::Notice,
        text: nodes_conf::loaded_message(&id),
    }));
    assert_eq!(c.current_epoch(), net.nodes[1].c.current_epoch());
    for j in 0..3 {
        let n = net.node(1, j).expect("node");
        let m = c.nodes.get(&n.name).expect("loaded node");
        assert_eq!(m.slots, n.slots);
        assert_eq!(m.config_epoch, n.config_epoch);
        assert_eq!(
            (m.ip.as_str(), m.port, m.cport),
            (n.ip.as_str(), n.port, n.cport)
        );
        assert_eq!(m.flags, n.flags);
    }
    let reloaded = c.to_nodes_conf();
    assert_eq!(reloaded.nodes.len(), 3);
    for (a, b) in reloaded.nodes.iter().zip(conf.nodes.iter()) {
        assert_eq!(
            (&a.id, &a.slots, a.config_epoch),
            (&b.id, &b.slots, b.config_epoch)
        );
    }
}

#[test]
fn slot_command_errors() {
    let mut c = Cluster::new(settings(), None, T0, 5);
    let me = c.myid();
    let err = |r: CmdResultUnit| r.err().unwrap_or_default();
    assert_eq!(
        err(c.add_slots(&[16384], T0)),
        "ERR Invalid or out of range slot"
    );
    assert_eq!(
        err(c.add_slots(&[5, 5], T0)),
        "ERR Slot 5 specified multiple times"
    );
    assert_eq!(
        err(c.add_slots_range(&[(10, 5)], T0)),
        "ERR start slot number 10 is greater than end slot number 5"
    );
    assert_eq!(
        err(c.del_slots(&[7], T0)),
        "ERR Slot 7 is already unassigned"
    );
    assert!(c.add_slots(&[1], T0).is_ok());
    assert_eq!(err(c.add_slots(&[1], T0)), "ERR Slot 1 is already busy");
    assert_eq!(
        err(c.add_slots_range(&[(0, 3)], T0)),
        "ERR Slot 1 is already busy"
    );
    // A failed command changes nothing.
    assert_eq!(c.slot_owner_id(0), None);
    assert_eq!(
        err(c.set_slot(2, SetSlot::Migrating(me.clone()), 0, T0)),
        "ERR I'm not the owner of hash slot 2"
    );
    assert_eq!(
        err(c.set_slot(1, SetSlot::Importing(me.clone()), 0, T0)),
        "ERR I'm already the owner of hash slot 1"
    );
    assert_eq!(
        err(c.set_slot(2, SetSlot::Importing("nosuchid".into()), 0, T0)),
        "ERR I don't know about node nosuchid"
    );
    assert_eq!(
        err(c.set_slot(1, SetSlot::Node("nosuchid".into()), 0, T0)),
        "ERR Unknown node nosuchid"
    );
    assert_eq!(
        err(c.flush_slots(false, T0)),
        "ERR DB must be empty to perform CLUSTER FLUSHSLOTS."
    );
    assert!(c.flush_slots(true, T0).is_ok());
    assert_eq!(c.slot_owner_id(1), None);
    // DELSLOTS closes an importing slot, like ADDSLOTS.
    let _ = c.add_slots(&[3], T0).expect("add");
    let _ = c.meet("10.1.1.1", 1, 2, T0).expect("meet");
    let other = c
        .nodes
        .keys()
        .find(|n| **n != c.myself)
        .map(|n| n.to_string())
        .expect("other");
    let _ = c
        .set_slot(4, SetSlot::Importing(other), 0, T0)
        .expect("importing");
    let _ = c.add_slots(&[4], T0).expect("add");
    assert!(!c.is_importing(4));
    let _ = c.del_slots(&[4], T0).expect("del");
    assert_eq!(c.slot_owner_id(4), None);
    assert_eq!(
        err(c.meet("1.2.3.4", 99999, 109999, T0)),
        "ERR Invalid node address specified: 1.2.3.4:99999"
    );
    assert_eq!(
        err(c.meet("1.2.3.x", 7000, 17000, T0)),
        "ERR Invalid node address specified: 1.2.3.x:7000"
    );
}

type CmdResultUnit = Result<((), Vec<Action>), String>;

#[test]
fn epoch_commands() {
    let mut c = Cluster::new(settings(), None, T0, 5);
    assert_eq!(
        c.set_config_epoch(-1, T0).err().as_deref(),
        Some("ERR Invalid config epoch specified: -1")
    );
    assert!(c.set_config_epoch(7, T0).is_ok());
    assert_eq!(c.current_epoch(), 7);
    assert_eq!(
        c.set_config_epoch(8, T0).err().as_deref(),
        Some("ERR Node config epoch is already non-zero")
    );
    let (v, _) = c.bump_epoch(T0).expect("bump");
    assert_eq!(v, (false, 7));
    let mut d = Cluster::new(settings(), None, T0, 6);
    let (v, acts) = d.bump_epoch(T0).expect("bump");
    assert_eq!(v, (true, 1));
    assert!(acts.contains(&Action::SaveConfig { fsync: true }));
    let _ = d.meet("10.1.1.1", 1, 2, T0).expect("meet");
    assert_eq!(
        d.set_config_epoch(9, T0).err().as_deref(),
        Some("ERR The user can assign a config epoch only when the node does not know any other node.")
    );
    assert_eq!(
        d.count_failure_reports("nosuchid", T0).err().as_deref(),
        Some("ERR Unknown node nosuchid")
    );
}

/// The same errors from the reference (Debian's Redis 7.0), on port
/// 19600 (bus 19650); our texts must match with the node ids swapped.
#[test]
fn command_errors_match_the_reference() {
    use crate::reference_tests::{start_node, Reply, ScratchDir};
    let dir = ScratchDir::new("state-errors");
    let server = start_node(19600, &dir.path, &[]);
    let mut r = server.conn();
    let ref_id = r.cmd(&["CLUSTER", "MYID"]).text();
    let mut c = Cluster::new(settings(), None, T0, 9);
    let me = c.myid();
    let ours = |res: Result<String, String>| match res {
        Ok(s) => Reply::Status(s),
        Err(e) => Reply::Error(e.replace(&me, "<id>")),
    };
    let theirs = |reply: Reply| match reply {
        Reply::Error(e) => Reply::Error(e.replace(&ref_id, "<id>")),
        other => other,
    };
    fn ok<T>(r: Result<(T, Vec<Action>), String>) -> Result<String, String> {
        r.map(|_| "OK".to_owned())
    }
    let mut check = |args: &[&str], our: Result<String, String>| {
        let args: Vec<String> = args.iter().map(|a| a.replace("<id>", &ref_id)).collect();
        let got = theirs(r.cmd(&args));
        assert_eq!(ours(our), got, "{args:?}");
    };
    check(
        &["CLUSTER", "ADDSLOTS", "16384"],
        ok(c.add_slots(&[16384], T0)),
    );
    check(
        &["CLUSTER", "ADDSLOTS", "99999"],
        crate::slot::parse_slot(b"99999")
            .map(|_| "OK".to_owned())
            .map_err(|_| crate::slot::INVALID_SLOT_ERR.to_owned()),
    );
    check(
        &["CLUSTER", "ADDSLOTS", "5", "5"],
        ok(c.add_slots(&[5, 5], T0)),
    );
    check(
        &["CLUSTER", "ADDSLOTSRANGE", "10", "5"],
        ok(c.add_slots_range(&[(10, 5)], T0)),
    );
    check(&["CLUSTER", "DELSLOTS", "7"], ok(c.del_slots(&[7], T0)));
    check(
        &["CLUSTER", "DELSLOTSRANGE", "7", "9"],
        ok(c.del_slots_range(&[(7, 9)], T0)),
    );
    check(&["CLUSTER", "ADDSLOTS", "1"], ok(c.add_slots(&[1], T0)));
    check(&["CLUSTER", "ADDSLOTS", "1"], ok(c.add_slots(&[1], T0)));
    check(
        &["CLUSTER", "ADDSLOTSRANGE", "0", "3"],
        ok(c.add_slots_range(&[(0, 3)], T0)),
    );
    check(
        &["CLUSTER", "SETSLOT", "1", "NODE", "nosuchid"],
        ok(c.set_slot(1, SetSlot::Node("nosuchid".into()), 0, T0)),
    );
    check(
        &["CLUSTER", "SETSLOT", "2", "MIGRATING", "<id>"],
        ok(c.set_slot(2, SetSlot::Migrating(me.clone()), 0, T0)),
    );
    check(
        &["CLUSTER", "SETSLOT", "1", "IMPORTING", "<id>"],
        ok(c.set_slot(1, SetSlot::Importing(me.clone()), 0, T0)),
    );
    check(
        &["CLUSTER", "SETSLOT", "2", "IMPORTING", "nosuchid"],
        ok(c.set_slot(2, SetSlot::Importing("nosuchid".into()), 0, T0)),
    );
    check(
        &["CLUSTER", "SETSLOT", "1", "MIGRATING", "nosuchid"],
        ok(c.set_slot(1, SetSlot::Migrating("nosuchid".into()), 0, T0)),
    );
    check(&["CLUSTER", "FORGET", "<id>"], ok(c.forget(&me, T0)));
    check(
        &["CLUSTER", "FORGET", "nosuchid"],
        ok(c.forget("nosuchid", T0)),
    );
    check(
        &["CLUSTER", "REPLICATE", "<id>"],
        ok(c.replicate(&me, true, T0)),
    );
    check(
        &["CLUSTER", "REPLICATE", "nosuchid"],
        ok(c.replicate("nosuchid", true, T0)),
    );
    check(
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "nosuchid"],
        c.count_failure_reports("nosuchid", T0)
            .map(|n| n.to_string()),
    );
    check(
        &["CLUSTER", "MEET", "1.2.3.4", "99999"],
        ok(c.meet("1.2.3.4", 99999, 109_999, T0)),
    );
    check(
        &["CLUSTER", "MEET", "1.2.3.x", "7000"],
        ok(c.meet("1.2.3.x", 7000, 17000, T0)),
    );
    check(
        &["CLUSTER", "MEET", "1.2.3.4", "7000", "0"],
        ok(c.meet("1.2.3.4", 7000, 0, T0)),
    );
    check(
        &["CLUSTER", "SET-CONFIG-EPOCH", "-1"],
        ok(c.set_config_epoch(-1, T0)),
    );
    check(
        &["CLUSTER", "SET-CONFIG-EPOCH", "7"],
        ok(c.set_config_epoch(7, T0)),
    );
    check(
        &["CLUSTER", "SET-CONFIG-EPOCH", "8"],
        ok(c.set_config_epoch(8, T0)),
    );
    check(
        &["CLUSTER", "BUMPEPOCH"],
        c.bump_epoch(T0)
            .map(|((b, e), _)| format!("{} {e}", if b { "BUMPED" } else { "STILL" })),
    );
    check(&["CLUSTER", "FLUSHSLOTS"], ok(c.flush_slots(true, T0)));
    check(&["CLUSTER", "DELSLOTS", "1"], ok(c.del_slots(&[1], T0)));
    check(
        &["CLUSTER", "MEET", "10.200.0.1", "7000"],
        ok(c.meet("10.200.0.1", 7000, 17000, T0)),
    );
    check(
        &["CLUSTER", "SET-CONFIG-EPOCH", "9"],
        ok(c.set_config_epoch(9, T0)),
    );
    check(&["CLUSTER", "RESET", "SOFT"], ok(c.reset(false, true, T0)));
    // Argument parsing is the command layer's (not this module's): the
    // reference's texts, for it.
    assert_eq!(
        r.cmd(&["CLUSTER", "MEET", "1.2.3.4", "abc"]),
        Reply::Error("ERR Invalid TCP base port specified: abc".into())
    );
    assert_eq!(
        r.cmd(&["CLUSTER", "MEET", "1.2.3.4", "7000", "x"]),
        Reply::Error("ERR Invalid TCP bus port specified: x".into())
    );
    drop(server);
}
