//! Tests of the failover state machine, driven by a fake clock and a tiny
//! simulated cluster that answers PING / INFO / REPLICAOF / votes.

use std::collections::{HashMap, HashSet, VecDeque};

use super::*;
use crate::config::{KnownSentinel, MasterConfig, SentinelConfig};
use crate::info::{InfoReport, Role};

const ME: &str = "1111111111111111111111111111111111111111";
const PEER_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const T0: u64 = 1_000_000;
const MASTER: &str = "10.0.0.1";

fn addr(host: &str, port: u16) -> Addr {
    Addr::new(host, port)
}

fn run_id(n: u8) -> String {
    format!("{:040}", n)
}

/// A peer sentinel's behaviour.
#[derive(Clone, Copy)]
struct PeerSim {
    says_down: bool,
    votes_for_asker: bool,
}

/// The fake cluster around one sentinel.
struct Sim {
    s: Sentinel,
    now: u64,
    dead: HashSet<Addr>,
    info: HashMap<Addr, InfoReport>,
    peers: HashMap<Addr, PeerSim>,
    ignore_promote: bool,
    log: Vec<Action>,
}

fn master_info(replicas: &[Addr]) -> InfoReport {
    InfoReport {
        run_id: Some(run_id(1)),
        role: Some(Role::Master),
        replicas: replicas.to_vec(),
        ..InfoReport::default()
    }
}

fn replica_info(n: u8, master: &Addr, offset: u64, priority: u32) -> InfoReport {
    InfoReport {
        run_id: Some(run_id(n)),
        role: Some(Role::Replica),
        master_host: Some(master.host.clone()),
        master_port: Some(master.port),
        master_link_up: true,
        replica_priority: Some(priority),
        repl_offset: Some(offset),
        ..InfoReport::default()
    }
}

fn config(quorum: u32, peers: &[(&str, u16)], replicas: &[u16]) -> SentinelConfig {
    let mut m = MasterConfig::new("mymaster", addr(MASTER, 6379), quorum);
    m.down_after_ms = 3000;
    m.failover_timeout_ms = 10_000;
    m.parallel_syncs = 1;
    for &port in replicas {
        m.add_known_replica(addr("10.0.0.2", port));
    }
    for &(id, port) in peers {
        m.add_known_sentinel(KnownSentinel {
            addr: addr("10.0.0.9", port),
            run_id: id.to_string(),
        });
    }
    SentinelConfig {
        myid: Some(ME.to_string()),
        masters: vec![m],
        ..SentinelConfig::default()
    }
}

impl Sim {
    fn new(cfg: &SentinelConfig) -> Sim {
        let master = cfg.masters[0].addr.clone();
        let replicas = cfg.masters[0].known_replicas.clone();
        let mut info = HashMap::new();
        info.insert(master.clone(), master_info(&replicas));
        for (i, r) in replicas.iter().enumerate() {
            let n = u8::try_from(i).unwrap() + 2;
            info.insert(r.clone(), replica_info(n, &master, 100, 100));
        }
        let peers = cfg.masters[0]
            .known_sentinels
            .iter()
            .map(|k| {
                let sim = PeerSim {
                    says_down: true,
                    votes_for_asker: true,
                };
                (k.addr.clone(), sim)
            })
            .collect();
        Sim {
            s: Sentinel::new(cfg, T0, 7),
            now: T0,
            dead: HashSet::new(),
            info,
            peers,
            ignore_promote: false,
            log: Vec::new(),
        }
    }

    fn addr_of(&self, id: InstanceId) -> Option<Addr> {
        self.s.instance(id).map(|v| v.addr)
    }

    fn alive(&self, id: InstanceId) -> Option<Addr> {
        self.addr_of(id).filter(|a| !self.dead.contains(a))
    }

    /// Executes actions like a driver talking to the fake cluster.
    fn pump(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(a) = queue.pop_front() {
            let now = self.now;
            let more = match &a {
                Action::Connect { instance, .. } => match self.alive(*instance) {
                    Some(_) => self.s.on_connected(*instance, now),
                    None => self.s.on_disconnected(*instance, now),
                },
                Action::Ping { instance } => match self.alive(*instance) {
                    Some(_) => self.s.on_ping_reply(*instance, "PONG", now),
                    None => Vec::new(),
                },
                Action::Info { instance } => {
                    let info = self
                        .alive(*instance)
                        .and_then(|a| self.info.get(&a).cloned());
                    match info {
                        Some(info) => self.s.on_info_reply(*instance, &info, now),
                        None => Vec::new(),
                    }
                }
                Action::AskIsMasterDown {
                    sentinel,
                    current_epoch,
                    run_id,
                    ..
                } => self.answer_ask(*sentinel, *current_epoch, run_id),
                Action::Promote { instance } => {
                    if let Some(a) = self.alive(*instance).filter(|_| !self.ignore_promote) {
                        if let Some(i) = self.info.get_mut(&a) {
                            i.role = Some(Role::Master);
                        }
                    }
                    Vec::new()
                }
                Action::SendReplicaOf { instance, addr } => {
                    if let Some(a) = self.alive(*instance) {
                        if let Some(i) = self.info.get_mut(&a) {
                            i.role = Some(Role::Replica);
                            i.master_host = Some(addr.host.clone());
                            i.master_port = Some(addr.port);
                            i.master_link_up = true;
                        }
                    }
                    Vec::new()
                }
                _ => Vec::new(),
            };
            queue.extend(more);
            self.log.push(a);
        }
    }

    fn answer_ask(&mut self, id: InstanceId, epoch: u64, asker: &str) -> Vec<Action> {
        let Some(sim) = self.alive(id).and_then(|a| self.peers.get(&a).copied()) else {
            return Vec::new();
        };
        let (leader, leader_epoch) = if asker != "*" && sim.votes_for_asker {
            (asker.to_string(), epoch)
        } else {
            ("*".to_string(), 0)
        };
        let now = self.now;
        self.s
            .on_is_master_down_reply(id, sim.says_down, &leader, leader_epoch, now)
    }

    fn tick_at(&mut self, now: u64) {
        self.now = now;
        let a = self.s.tick(now);
        self.pump(a);
    }

    /// Ticks every 100 ms for `ms` milliseconds.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            let next = (self.now + 100).min(end);
            self.tick_at(next);
        }
    }

    fn events(&self) -> Vec<(String, String)> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Event(e) => Some((e.name.clone(), e.text.clone())),
                _ => None,
            })
            .collect()
    }

    fn event_names(&self) -> Vec<String> {
        self.events().into_iter().map(|(n, _)| n).collect()
    }

    fn has_event(&self, name: &str) -> bool {
        self.events().iter().any(|(n, _)| n == name)
    }

    fn clear(&mut self) {
        self.log.clear();
    }
}

#[test]
fn sdown_exactly_after_down_after() {
    let mut sim = Sim::new(&config(1, &[], &[]));
    sim.dead.insert(addr(MASTER, 6379));
    for t in [1000, 2000, 3000] {
        sim.tick_at(T0 + t);
    }
    assert!(!sim.has_event("+sdown"), "{:?}", sim.events());
    sim.tick_at(T0 + 3001);
    assert_eq!(
        sim.events()[0],
        (
            "+sdown".to_string(),
            "master mymaster 10.0.0.1 6379".to_string()
        )
    );
    // It answers again: -sdown once a PING reply arrives.
    sim.dead.clear();
    sim.clear();
    sim.advance(2000);
    assert!(sim.has_event("-sdown"), "{:?}", sim.events());
}

#[test]
fn sdown_counts_from_the_oldest_unanswered_ping() {
    let mut sim = Sim::new(&config(1, &[], &[]));
    sim.advance(5000);
    assert!(!sim.has_event("+sdown"));
    // Stops answering at 5000; the next PING goes out at ~6100.
    sim.dead.insert(addr(MASTER, 6379));
    let mid = sim.s.masters[0].c.id;
    sim.s.masters[0].c.link.connected = true;
    sim.advance(1100);
    let sent = sim.s.masters[0].c.link.act_ping_time.unwrap();
    sim.clear();
    sim.advance(sent + 3000 - sim.now);
    assert!(!sim.has_event("+sdown"));
    sim.advance(100);
    assert!(sim.has_event("+sdown"));
    assert_eq!(sim.s.instance(mid).map(|v| v.s_down), Some(true));
}

#[test]
fn odown_needs_quorum() {
    let mut cfg = config(2, &[(PEER_A, 26380)], &[]);
    cfg.masters[0].failover_timeout_ms = 1_000_000;
    let mut sim = Sim::new(&cfg);
    let peer = addr("10.0.0.9", 26380);
    sim.peers.get_mut(&peer).unwrap().says_down = false;
    sim.dead.insert(addr(MASTER, 6379));
    sim.advance(6000);
    assert!(sim.has_event("+sdown"));
    assert!(!sim.has_event("+odown"), "{:?}", sim.events());
    sim.peers.get_mut(&peer).unwrap().says_down = true;
    sim.advance(1500);
    let odown: Vec<_> = sim
        .events()
        .into_iter()
        .filter(|(n, _)| n == "+odown")
        .collect();
    assert_eq!(
        odown,
        vec![(
            "+odown".into(),
            "master mymaster 10.0.0.1 6379 #quorum 2/2".into()
        )]
    );
    // The peer's opinion expires when it stops answering: -odown.
    sim.dead.insert(peer);
    sim.clear();
    sim.advance(7000);
    assert!(sim.has_event("-odown"), "{:?}", sim.events());
}

#[test]
fn vote_once_per_epoch() {
    let mut sim = Sim::new(&config(1, &[], &[]));
    let (r, _) = sim.s.on_vote_request(MASTER, 6379, 5, PEER_A, T0);
    assert_eq!((r.leader.as_str(), r.leader_epoch), (PEER_A, 5));
    assert_eq!(sim.s.current_epoch(), 5);
    let (r, _) = sim.s.on_vote_request(MASTER, 6379, 5, PEER_B, T0);
    assert_eq!((r.leader.as_str(), r.leader_epoch), (PEER_A, 5));
    // An older epoch does not change the vote either.
    let (r, _) = sim.s.on_vote_request(MASTER, 6379, 4, PEER_B, T0);
    assert_eq!(r.leader, PEER_A);
    let (r, actions) = sim.s.on_vote_request(MASTER, 6379, 6, PEER_B, T0);
    assert_eq!((r.leader.as_str(), r.leader_epoch), (PEER_B, 6));
    assert!(actions.contains(&Action::SaveConfig));
    // Not down (not SDOWN), and `*` asks no vote.
    assert!(!r.down);
    // `*` asks for no vote: the reply carries none.
    let (r, _) = sim.s.on_vote_request(MASTER, 6379, 7, "*", T0);
    assert_eq!((r.leader.as_str(), r.leader_epoch), ("*", 0));
    assert_eq!(sim.s.current_epoch(), 6);
    // Unknown master: no vote.
    let (r, _) = sim.s.on_vote_request("10.9.9.9", 1, 9, PEER_A, T0);
    assert_eq!((r.leader.as_str(), r.leader_epoch, r.down), ("*", 0, false));
}

#[test]
fn majority_computation() {
    assert_eq!(votes_needed(1, 1), 1);
    assert_eq!(votes_needed(2, 1), 2);
    assert_eq!(votes_needed(3, 1), 2);
    assert_eq!(votes_needed(5, 2), 3);
    assert_eq!(votes_needed(5, 4), 4);
    assert_eq!(votes_needed(4, 1), 3);
}

#[test]
fn leader_needs_majority_of_known_sentinels() {
    // Three sentinels known (two peers + self), quorum 1: one peer that
    // votes for someone else is not enough for us to win.
    let mut cfg = config(1, &[(PEER_A, 26380), (PEER_B, 26381)], &[6380]);
    cfg.masters[0].failover_timeout_ms = 60_000;
    let mut sim = Sim::new(&cfg);
    for p in sim.peers.values_mut() {
        p.votes_for_asker = false;
    }
    sim.dead.insert(addr(MASTER, 6379));
    sim.advance(6000);
    assert!(sim.has_event("+try-failover"));
    assert!(!sim.has_event("+elected-leader"));
    sim.advance(11_000);
    assert!(
        sim.has_event("-failover-abort-not-elected"),
        "{:?}",
        sim.event_names()
    );
    // With one peer voting for us: 2 of 3.
    sim.peers
        .get_mut(&addr("10.0.0.9", 26380))
        .unwrap()
        .votes_for_asker = true;
    sim.clear();
    sim.advance(120_000);
    assert!(sim.has_event("+elected-leader"), "{:?}", sim.event_names());
}

fn selection_master() -> Sentinel {
    let cfg = config(1, &[], &[6380, 6381, 6382, 6383]);
    let mut s = Sentinel::new(&cfg, T0, 1);
    for (i, r) in s.masters[0].replicas.iter_mut().enumerate() {
        r.c.link.connected = true;
        r.c.info_refresh = Some(T0);
        r.c.run_id = Some(run_id(u8::try_from(9 - i).unwrap()));
    }
    s
}

fn selected(s: &Sentinel) -> Option<u16> {
    select::select_replica(&s.masters[0], &Timings::default(), T0 + 1000)
        .map(|j| s.masters[0].replicas[j].c.addr.port)
}

#[test]
fn replica_selection_ordering() {
    let mut s = selection_master();
    // Same everything: the smallest run id (the last replica here).
    assert_eq!(selected(&s), Some(6383));
    // A larger offset wins over the run id.
    s.masters[0].replicas[1].repl_offset = 50;
    assert_eq!(selected(&s), Some(6381));
    // A lower priority wins over the offset.
    s.masters[0].replicas[2].priority = 10;
    assert_eq!(selected(&s), Some(6382));
    // A missing run id sorts last.
    let mut s = selection_master();
    s.masters[0].replicas[3].c.run_id = None;
    assert_eq!(selected(&s), Some(6382));
}

#[test]
fn replica_selection_exclusions() {
    let excluded: [fn(&mut instance::Replica); 7] = [
        |r| r.priority = 0,
        |r| r.c.s_down = true,
        |r| r.c.link.connected = false,
        |r| r.c.link.last_avail_time = T0 + 1000 - PING_PERIOD * 5 - 1,
        |r| r.c.info_refresh = None,
        // Master not SDOWN: INFO must be newer than 3 INFO periods.
        |r| r.c.info_refresh = Some(T0 + 1000 - INFO_PERIOD * 3 - 1),
        // Link to the master down longer than down-after * 10.
        |r| r.master_link_down_ms = 3000 * 10 + 1,
    ];
    for (i, f) in excluded.iter().enumerate() {
        let mut s = selection_master();
        s.masters[0].replicas.truncate(1);
        s.masters[0].replicas[0].c.link.last_avail_time = T0;
        assert_eq!(selected(&s), Some(6380), "case {i} baseline");
        f(&mut s.masters[0].replicas[0]);
        assert_eq!(selected(&s), None, "case {i}");
    }
    // When the master is SDOWN, INFO must be newer than 5 PING periods and
    // the allowed link-down time grows with the SDOWN time.
    let mut s = selection_master();
    s.masters[0].replicas.truncate(1);
    s.masters[0].replicas[0].c.link.last_avail_time = T0;
    s.masters[0].c.s_down = true;
    s.masters[0].c.s_down_since = Some(T0 + 1000 - 5000);
    s.masters[0].replicas[0].master_link_down_ms = 30_000 + 5000;
    assert_eq!(selected(&s), Some(6380));
    s.masters[0].replicas[0].master_link_down_ms = 30_000 + 5001;
    assert_eq!(selected(&s), None);
    s.masters[0].replicas[0].master_link_down_ms = 0;
    s.masters[0].replicas[0].c.info_refresh = Some(T0 + 1000 - PING_PERIOD * 5 - 1);
    assert_eq!(selected(&s), None);
}

fn position(names: &[String], name: &str) -> usize {
    names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name} missing from {names:?}"))
}

#[test]
fn full_failover_with_parallel_syncs_one() {
    let cfg = config(2, &[(PEER_A, 26380)], &[6380, 6381, 6382]);
    let mut sim = Sim::new(&cfg);
    // 6381 has the largest offset: it is the one promoted.
    let r1 = addr("10.0.0.2", 6381);
    sim.info.get_mut(&r1).unwrap().repl_offset = Some(500);
    sim.advance(12_000);
    assert!(!sim.has_event("+sdown"));
    let old_master = addr(MASTER, 6379);
    sim.dead.insert(old_master.clone());
    sim.clear();
    sim.advance(30_000);
    let names = sim.event_names();
    let order = [
        "+sdown",
        "+odown",
        "+new-epoch",
        "+try-failover",
        "+vote-for-leader",
        "+elected-leader",
        "+failover-state-select-slave",
        "+selected-slave",
        "+failover-state-send-slaveof-noone",
        "+failover-state-wait-promotion",
        "+promoted-slave",
        "+failover-state-reconf-slaves",
        "+slave-reconf-sent",
        "+failover-end",
        "+switch-master",
    ];
    let positions: Vec<usize> = order.iter().map(|n| position(&names, n)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    let events = sim.events();
    let text = |name: &str| events.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(
        text("+selected-slave"),
        "slave 10.0.0.2:6381 10.0.0.2 6381 @ mymaster 10.0.0.1 6379"
    );
    assert_eq!(
        text("+switch-master"),
        "mymaster 10.0.0.1 6379 10.0.0.2 6381"
    );
    assert_eq!(text("+vote-for-leader"), format!("{ME} 1"));
    // parallel-syncs 1: the second replica is sent its REPLICAOF only after
    // the first one is done.
    let sent: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| *n == "+slave-reconf-sent")
        .map(|(i, _)| i)
        .collect();
    let done: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| *n == "+slave-reconf-done")
        .map(|(i, _)| i)
        .collect();
    assert_eq!((sent.len(), done.len()), (2, 2), "{names:?}");
    assert!(done[0] < sent[1]);
    assert!(position(&names, "+slave-reconf-inprog") < done[0]);
    // The new configuration.
    assert_eq!(sim.s.master_addr("mymaster"), Some(r1.clone()));
    assert_eq!(sim.s.current_epoch(), 1);
    assert_eq!(sim.s.failover_state("mymaster"), Some(FailoverState::None));
    let saved = sim.s.to_config(&cfg);
    let m = saved.master("mymaster").unwrap();
    assert_eq!(m.addr, r1);
    assert_eq!(m.config_epoch, 1);
    assert!(m.known_replicas.contains(&old_master));
    assert!(!m.known_replicas.contains(&r1));
    assert!(sim.log.contains(&Action::SaveConfig));

    // The old master comes back still claiming to be a master: it is
    // turned into a replica of the new one.
    sim.info.insert(old_master.clone(), master_info(&[]));
    sim.dead.clear();
    sim.clear();
    sim.advance(20_000);
    assert!(
        sim.has_event("+convert-to-slave"),
        "{:?}",
        sim.event_names()
    );
    let info = &sim.info[&old_master];
    assert_eq!(
        (info.role, info.master_host.as_deref(), info.master_port),
        (Some(Role::Replica), Some("10.0.0.2"), Some(6381))
    );
}

#[test]
fn failover_aborts_when_promotion_times_out_and_retries_later() {
    let cfg = config(1, &[], &[6380]);
    let mut sim = Sim::new(&cfg);
    sim.ignore_promote = true;
    sim.advance(11_000);
    sim.dead.insert(addr(MASTER, 6379));
    sim.advance(5000);
    assert!(sim.has_event("+failover-state-wait-promotion"));
    let waiting_since = sim.s.masters[0].failover_state_change_time;
    sim.advance(waiting_since + 10_000 - sim.now);
    assert!(!sim.has_event("-failover-abort-slave-timeout"));
    sim.advance(100);
    assert!(sim.has_event("-failover-abort-slave-timeout"));
    assert!(!sim.s.masters[0].replicas[0].promoted);
    // No new attempt before 2 * failover-timeout after the start.
    let started = sim.s.masters[0].failover_start_time.unwrap();
    sim.clear();
    sim.advance(started + 20_000 - sim.now - 100);
    assert!(!sim.has_event("+try-failover"), "{:?}", sim.event_names());
    sim.advance(1100);
    assert!(sim.has_event("+try-failover"));
    assert_eq!(sim.s.current_epoch(), 2);
}

/// A failover where replica 6381 accepts REPLICAOF but never reports
/// following the new master; returns the event names.
fn failover_with_stuck_replica(failover_timeout: u64, parallel_syncs: u32) -> Vec<String> {
    let mut cfg = config(1, &[], &[6380, 6381]);
    cfg.masters[0].failover_timeout_ms = failover_timeout;
    cfg.masters[0].parallel_syncs = parallel_syncs;
    let mut sim = Sim::new(&cfg);
    sim.info
        .get_mut(&addr("10.0.0.2", 6380))
        .unwrap()
        .repl_offset = Some(900);
    sim.advance(11_000);
    // 6381 takes the REPLICAOF but never reports following the new master.
    let stuck = addr("10.0.0.2", 6381);
    sim.dead.insert(addr(MASTER, 6379));
    sim.advance(5000);
    assert!(sim.has_event("+failover-state-reconf-slaves"));
    sim.info.get_mut(&stuck).unwrap().master_host = Some("10.9.9.9".into());
    let mut frozen = sim.info[&stuck].clone();
    frozen.master_host = Some("10.9.9.9".into());
    // Keep the replica's INFO frozen whatever it is told.
    for _ in 0..150 {
        sim.info.insert(stuck.clone(), frozen.clone());
        sim.advance(100);
    }
    sim.event_names()
}

#[test]
fn stuck_replica_counts_as_done_after_reconf_timeout() {
    // As upstream, the RECONF_SENT timeout is only looked at while fewer
    // than parallel-syncs replicas are in progress.
    let names = failover_with_stuck_replica(30_000, 2);
    let timeout = position(&names, "-slave-reconf-sent-timeout");
    assert!(timeout < position(&names, "+failover-end"), "{names:?}");
    assert!(!names.contains(&"+failover-end-for-timeout".to_string()));
    assert!(names.contains(&"+switch-master".to_string()));
}

#[test]
fn failover_ends_on_failover_timeout() {
    let names = failover_with_stuck_replica(10_000, 1);
    let timeout = position(&names, "+failover-end-for-timeout");
    assert!(timeout < position(&names, "+failover-end"), "{names:?}");
    assert!(names.contains(&"+switch-master".to_string()));
}

#[test]
fn tilt_entry_and_exit() {
    let mut sim = Sim::new(&config(1, &[], &[]));
    sim.advance(1000);
    sim.dead.insert(addr(MASTER, 6379));
    // A 3 s gap between ticks.
    sim.tick_at(sim.now + 3000);
    assert!(sim.s.is_tilt());
    assert_eq!(sim.s.total_tilt(), 1);
    assert!(sim.has_event("+tilt"));
    let tilt_event = sim
        .events()
        .into_iter()
        .find(|(n, _)| n == "+tilt")
        .unwrap();
    assert_eq!(tilt_event.1, "#tilt mode entered");
    // No acting during TILT: the dead master is not flagged SDOWN.
    sim.advance(29_000);
    assert!(!sim.has_event("+sdown"));
    let (r, _) = sim.s.on_vote_request(MASTER, 6379, 0, "*", sim.now);
    assert!(!r.down);
    sim.advance(1000);
    assert!(!sim.s.is_tilt());
    assert!(sim.has_event("-tilt"));
    sim.advance(100);
    assert!(sim.has_event("+sdown"));
    // The clock going backwards also enters TILT.
    sim.clear();
    sim.tick_at(sim.now - 10);
    assert!(sim.s.is_tilt());
    assert_eq!(sim.s.total_tilt(), 2);
}

#[test]
fn hello_adds_sentinels_and_adopts_newer_config() {
    let mut sim = Sim::new(&config(2, &[], &[]));
    let now = T0 + 100;
    let hello = |epoch: u64, mhost: &str, mport: u16, cepoch: u64| {
        format!("10.0.0.9,26380,{PEER_A},{epoch},mymaster,{mhost},{mport},{cepoch}")
    };
    // Our own hello is ignored.
    let own = format!("10.0.0.5,26379,{ME},0,mymaster,{MASTER},6379,0");
    assert!(sim.s.on_hello(&own, now).is_empty());
    // Unknown master and malformed payloads are ignored.
    assert!(sim.s.on_hello("1,2,3", now).is_empty());
    let other = format!("10.0.0.9,26380,{PEER_A},0,other,1.1.1.1,1,0");
    assert!(sim.s.on_hello(&other, now).is_empty());
    let a = sim.s.on_hello(&hello(0, MASTER, 6379, 0), now);
    sim.pump(a);
    assert!(sim.has_event("+sentinel"));
    assert_eq!(sim.s.sentinels("mymaster").len(), 1);
    // Same again: nothing new.
    sim.clear();
    let a = sim.s.on_hello(&hello(0, MASTER, 6379, 0), now);
    assert!(a.is_empty(), "{a:?}");
    // A newer epoch is adopted.
    let a = sim.s.on_hello(&hello(4, MASTER, 6379, 0), now);
    sim.pump(a);
    assert_eq!(sim.s.current_epoch(), 4);
    assert!(sim.has_event("+new-epoch"));
    // A newer master configuration moves the master.
    sim.clear();
    let a = sim.s.on_hello(&hello(4, "10.0.0.2", 6380, 4), now);
    sim.pump(a);
    let names = sim.event_names();
    assert!(position(&names, "+config-update-from") < position(&names, "+switch-master"));
    assert_eq!(sim.s.master_addr("mymaster"), Some(addr("10.0.0.2", 6380)));
    let replicas = sim.s.replicas("mymaster");
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0].addr, addr(MASTER, 6379));
    // An older configuration is not.
    sim.clear();
    let a = sim.s.on_hello(&hello(4, "10.0.0.7", 6379, 3), now);
    sim.pump(a);
    assert_eq!(sim.s.master_addr("mymaster"), Some(addr("10.0.0.2", 6380)));
    // The sentinel moving to a new address replaces the old entry.
    let moved = format!("10.0.0.10,26380,{PEER_A},4,mymaster,10.0.0.2,6380,4");
    let a = sim.s.on_hello(&moved, now);
    sim.pump(a);
    assert!(sim.has_event("+sentinel-address-switch"));
    let peers = sim.s.sentinels("mymaster");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].addr, addr("10.0.0.10", 26380));
}

#[test]
fn hello_published_every_two_seconds_with_our_view() {
    let mut cfg = config(1, &[], &[]);
    cfg.announce_ip = Some("10.0.0.5".into());
    let mut sim = Sim::new(&cfg);
    sim.advance(5000);
    let hellos: Vec<String> = sim
        .log
        .iter()
        .filter_map(|a| match a {
            Action::PublishHello { hello, .. } => Some(hello.payload("unused")),
            _ => None,
        })
        .collect();
    // Connected at +100 ms, then every time more than 2 s have passed.
    assert_eq!(hellos.len(), 3, "{hellos:?}");
    assert_eq!(
        hellos[0],
        format!("10.0.0.5,26379,{ME},0,mymaster,10.0.0.1,6379,0")
    );
}

#[test]
fn missing_myid_is_generated_and_saved() {
    let mut cfg = config(1, &[], &[]);
    cfg.myid = None;
    let mut s = Sentinel::new(&cfg, T0, 3);
    assert_eq!(s.myid().len(), 40);
    assert!(s.myid().bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(s.tick(T0 + 100).contains(&Action::SaveConfig));
}

#[test]
fn stale_replies_for_unknown_ids_are_ignored() {
    let mut s = Sentinel::new(&config(1, &[], &[]), T0, 3);
    let ghost = InstanceId(999);
    assert!(s.on_ping_reply(ghost, "PONG", T0).is_empty());
    assert!(s
        .on_info_reply(ghost, &InfoReport::default(), T0)
        .is_empty());
    assert!(s.on_connected(ghost, T0).is_empty());
    assert!(s
        .on_is_master_down_reply(ghost, true, "*", 0, T0)
        .is_empty());
}

#[test]
fn huge_epochs_from_the_network_do_not_overflow() {
    let mut sim = Sim::new(&config(1, &[], &[6380]));
    let max = u64::MAX;
    let hello = format!("10.0.0.9,26380,{PEER_A},{max},mymaster,{MASTER},6379,0");
    let a = sim.s.on_hello(&hello, T0);
    sim.pump(a);
    assert_eq!(sim.s.current_epoch(), max);
    sim.advance(11_000);
    sim.dead.insert(addr(MASTER, 6379));
    sim.advance(5000);
    assert!(sim.has_event("+try-failover"));
    let (r, _) = sim.s.on_vote_request(MASTER, 6379, max, PEER_B, sim.now);
    assert_eq!(r.leader_epoch, max);
}

/// The actions logged up to (and including) the first crash.
fn until_crash(sim: &Sim) -> &[Action] {
    let end = sim
        .log
        .iter()
        .position(|a| matches!(a, Action::Crash { .. }))
        .unwrap_or_else(|| panic!("no crash in {:?}", sim.log));
    &sim.log[..=end]
}

fn event_name(a: &Action) -> Option<&str> {
    match a {
        Action::Event(e) => Some(e.name.as_str()),
        _ => None,
    }
}

#[test]
fn simulated_crash_after_election() {
    let mut sim = Sim::new(&config(1, &[], &[6380]));
    sim.s
        .set_simulate_failure_flags(SIMFAILURE_CRASH_AFTER_ELECTION);
    assert_eq!(sim.s.simulate_failure_flags(), 1);
    sim.advance(2000);
    sim.dead.insert(addr(MASTER, 6379));
    sim.clear();
    sim.advance(10_000);
    let log = until_crash(&sim);
    let n = log.len();
    assert_eq!(
        log[n - 1],
        Action::Crash {
            reason: "Sentinel CRASH because of SENTINEL simulate-failure".into()
        }
    );
    // The vote is saved before crashing, right after +elected-leader.
    assert_eq!(log[n - 2], Action::SaveConfig);
    assert_eq!(event_name(&log[n - 3]), Some("+elected-leader"));
    assert!(!log
        .iter()
        .any(|a| event_name(a) == Some("+failover-state-select-slave")));
}

#[test]
fn simulated_crash_after_promotion() {
    let mut sim = Sim::new(&config(1, &[], &[6380]));
    sim.s
        .set_simulate_failure_flags(SIMFAILURE_CRASH_AFTER_PROMOTION);
    sim.advance(12_000);
    sim.dead.insert(addr(MASTER, 6379));
    sim.clear();
    // The first attempt finds the replica's INFO too old; the retry
    // (after twice the failover timeout) promotes it.
    sim.advance(40_000);
    let log = until_crash(&sim);
    let n = log.len();
    assert!(matches!(log[n - 1], Action::Crash { .. }));
    // The new configuration epoch is saved before crashing.
    assert_eq!(log[n - 2], Action::SaveConfig);
    assert_eq!(event_name(&log[n - 3]), Some("+promoted-slave"));
    assert!(log
        .iter()
        .any(|a| event_name(a) == Some("+failover-state-select-slave")));
    assert!(!log
        .iter()
        .any(|a| event_name(a) == Some("+failover-state-reconf-slaves")));
    // Without the flag the same failover runs to its end.
    let mut sim = Sim::new(&config(1, &[], &[6380]));
    sim.advance(12_000);
    sim.dead.insert(addr(MASTER, 6379));
    sim.advance(40_000);
    assert!(sim.has_event("+switch-master"));
    assert!(!sim.log.iter().any(|a| matches!(a, Action::Crash { .. })));
}

fn hello_count(sim: &Sim) -> usize {
    sim.log
        .iter()
        .filter(|a| matches!(a, Action::PublishHello { .. }))
        .count()
}

#[test]
fn timings_are_read_at_runtime() {
    let mut sim = Sim::new(&config(1, &[], &[]));
    assert_eq!(*sim.s.timings(), Timings::default());
    assert_eq!(sim.s.timings().min_link_reconnect_period, 15_000);
    assert_eq!(sim.s.timings().script_max_runtime, 60_000);
    assert_eq!(sim.s.timings().script_retry_delay, 30_000);
    // publish-period 500: a hello every 600 ms on a 100 ms tick.
    sim.s.timings_mut().publish_period = 500;
    sim.advance(5000);
    assert_eq!(hello_count(&sim), 9);
    // tilt-trigger 5000: a 3 s gap is no longer a TILT.
    sim.s.timings_mut().tilt_trigger = 5000;
    sim.tick_at(sim.now + 3000);
    assert!(!sim.s.is_tilt());
    sim.tick_at(sim.now + 6000);
    assert!(sim.s.is_tilt());
    // tilt-period 1000: TILT ends a second later.
    sim.s.timings_mut().tilt_period = 1000;
    sim.advance(900);
    assert!(sim.s.is_tilt());
    sim.advance(100);
    assert!(!sim.s.is_tilt());
    // ping-period 200 (down-after is 3000): PINGs every 200 ms.
    sim.s.timings_mut().ping_period = 200;
    sim.clear();
    sim.advance(2000);
    let pings = sim
        .log
        .iter()
        .filter(|a| matches!(a, Action::Ping { .. }))
        .count();
    assert_eq!(pings, 7, "{:?}", sim.log);
}

#[test]
fn election_timeout_is_read_at_runtime() {
    // A peer that never votes: the attempt is abandoned after the
    // election timeout.
    let mut cfg = config(2, &[(PEER_A, 26380)], &[6380]);
    cfg.masters[0].failover_timeout_ms = 60_000;
    let mut sim = Sim::new(&cfg);
    sim.peers
        .get_mut(&addr("10.0.0.9", 26380))
        .unwrap()
        .votes_for_asker = false;
    sim.s.timings_mut().election_timeout = 2000;
    sim.advance(2000);
    sim.dead.insert(addr(MASTER, 6379));
    sim.clear();
    sim.advance(8000);
    let names = sim.event_names();
    let tried = position(&names, "+try-failover");
    assert!(position(&names, "-failover-abort-not-elected") > tried);
}

/// Two sentinels monitoring one name at different addresses with the same
/// configuration epoch never converge (upstream ignores the hello
/// silently): we log a warning naming both addresses, once a minute per
/// sentinel.
#[test]
fn same_name_other_address_warns_once_a_minute() {
    let mut sim = Sim::new(&config(2, &[], &[]));
    let hello = format!("10.0.0.9,26380,{PEER_A},0,mymaster,10.0.0.77,6379,0");
    let warnings = |actions: &[Action]| {
        actions
            .iter()
            .filter(|a| {
                matches!(a, Action::Log { level: EventLevel::Warning, text }
                    if text.contains("10.0.0.77 6379") && text.contains(&format!("{MASTER} 6379")))
            })
            .count()
    };
    let first = sim.s.on_hello(&hello, T0 + 100);
    assert_eq!(warnings(&first), 1, "{first:?}");
    // The address we monitor is unchanged.
    assert_eq!(sim.s.master_addr("mymaster"), Some(addr(MASTER, 6379)));
    let again = sim.s.on_hello(&hello, T0 + 2100);
    assert_eq!(warnings(&again), 0, "{again:?}");
    let later = sim.s.on_hello(&hello, T0 + 61_000);
    assert_eq!(warnings(&later), 1, "{later:?}");
    // A hello agreeing with us warns nothing.
    let agree = format!("10.0.0.9,26380,{PEER_A},0,mymaster,{MASTER},6379,0");
    assert_eq!(warnings(&sim.s.on_hello(&agree, T0 + 130_000)), 0);
}

/// In the tick where the master goes ODOWN, the replicas' once-a-second
/// INFO leaves after the ODOWN (upstream handles the master before its
/// replicas), so the replica's INFO is fresh when the next tick selects
/// it; before, it could be up to 10 s old and the first failover attempt
/// aborted with `-failover-abort-no-good-slave`.
#[test]
fn replica_info_goes_out_in_the_odown_tick() {
    let mut sim = Sim::new(&config(1, &[], &[6380]));
    sim.advance(6_000);
    let replica = sim.s.replicas("mymaster")[0].id;
    sim.dead.insert(addr(MASTER, 6379));
    let mut now = sim.now;
    for _ in 0..100 {
        now += 100;
        sim.now = now;
        let actions = sim.s.tick(now);
        let odown = actions
            .iter()
            .position(|a| matches!(a, Action::Event(e) if e.name == "+odown"));
        if let Some(i) = odown {
            let info_after = actions[i..]
                .iter()
                .any(|a| matches!(a, Action::Info { instance } if *instance == replica));
            assert!(info_after, "{actions:?}");
            sim.pump(actions);
            sim.advance(3_000);
            assert!(
                !sim.has_event("-failover-abort-no-good-slave"),
                "{:?}",
                sim.event_names()
            );
            assert!(sim.has_event("+promoted-slave"), "{:?}", sim.event_names());
            return;
        }
        sim.pump(actions);
    }
    panic!("no +odown: {:?}", sim.event_names());
}
