//! Tests of elections, votes, manual failover, replica migration and
//! PUBLISH relaying, on the simulated network of `tests.rs` (every message
//! through the bus codec, 100 ms ticks, replication links and offsets
//! modelled by [`Net::sync_replication`]).

use super::tests::{inbound_link, ip, settings, three_ok, Net, CPORT, PORT};
use super::*;
use crate::bus::{decode, encode, msg_flags};

/// [`three_ok`] plus one replica per entry of `masters`: node `3 + k`
/// replicates node `masters[k]`. Returns once every node knows every
/// other, sees the replicas as such, and is `ok`.
fn with_replicas(masters: &[usize]) -> Net {
    let mut net = three_ok();
    for (k, _) in masters.iter().enumerate() {
        let now = net.now;
        let i = net.add_node(Cluster::new(settings(), None, now, 100 + k as u64));
        assert_eq!(i, 3 + k);
        let r = net
            .c(0)
            .meet(&ip(i), i64::from(PORT), i64::from(CPORT), now);
        net.apply(0, r);
    }
    let total = 3 + masters.len();
    net.run_until(20_000, "full mesh", |n| {
        (0..total).all(|i| (0..total).all(|j| i == j || n.knows(i, j)))
    });
    for (k, &m) in masters.iter().enumerate() {
        let id = net.id(m).to_string();
        let now = net.now;
        let r = net.c(3 + k).replicate(&id, true, now);
        net.apply(3 + k, r);
    }
    net.run_until(20_000, "replicas everywhere", |n| {
        masters.iter().enumerate().all(|(k, &m)| {
            (0..total).all(|i| {
                n.node(i, 3 + k)
                    .is_some_and(|r| r.is_slave() && r.slaveof == Some(n.id(m)))
            })
        })
    });
    net.run_until(20_000, "all ok", Net::all_ok);
    net
}

fn is_replica_of(net: &Net, i: usize, of: usize, m: usize) -> bool {
    net.node(i, of)
        .is_some_and(|n| n.is_slave() && n.slaveof == Some(net.id(m)))
}

fn log_index(net: &Net, i: usize, text: &str) -> Option<usize> {
    net.nodes[i].logs.iter().position(|l| l.contains(text))
}

/// The config epoch of node `of` as node `i` sees it.
fn epoch(net: &Net, i: usize, of: usize) -> u64 {
    net.node(i, of).map_or(0, |n| n.config_epoch)
}

fn sent_auth_requests(net: &Net, i: usize) -> Vec<&Message> {
    net.nodes[i]
        .sent
        .iter()
        .filter(|m| m.body == Body::FailoverAuthRequest)
        .collect()
}

#[test]
fn automatic_failover_promotes_the_replica_and_the_old_master_rejoins_as_its_replica() {
    let mut net = with_replicas(&[0, 1, 2]);
    let (m0, r3) = (net.id(0), net.id(3));
    let max_before = (0..3).map(|j| epoch(&net, 1, j)).max().unwrap_or(0);
    net.nodes[3].saves.clear();
    net.pause(0);
    net.run_until(15_000, "replica 3 promoted everywhere", |n| {
        (1..6).all(|i| n.nodes[i].c.slot_owner_id(0) == Some(r3.to_string()))
            && n.node(3, 3).is_some_and(Node::is_master)
    });
    let e = epoch(&net, 3, 3);
    assert!(e > max_before, "{e} > {max_before}");
    let logs = [
        "Start of election delayed for ",
        &format!("Starting a failover election for epoch {e}."),
        "Failover election won: I'm the new master.",
        &format!("configEpoch set to {e} after successful failover"),
    ];
    let mut last = 0;
    for text in logs {
        let at = log_index(&net, 3, text).unwrap_or_else(|| panic!("no {text:?}"));
        assert!(at >= last, "{text:?} out of order");
        last = at;
    }
    assert!(net.has_log(3, "(rank #0, offset "));
    assert!(net.nodes[3].other.contains(&Action::PromoteToMaster));
    assert!(net.nodes[3].saves.contains(&true));
    // Both other masters voted (the quorum of a 3-master cluster is 2).
    for i in [1, 2] {
        assert!(net.has_log(i, &format!("Failover auth granted to {r3} for epoch {e}")));
        assert_eq!(net.nodes[i].c.to_nodes_conf().last_vote_epoch, e);
        assert!(net.node(i, 3).is_some_and(Node::is_master));
        assert_eq!(epoch(&net, i, 3), e);
    }
    // Replicas don't vote.
    assert!(!net.has_log(4, "Failover auth"));
    let req = sent_auth_requests(&net, 3);
    assert!(!req.is_empty());
    assert!(req
        .iter()
        .all(|m| m.header.mflags[0] & msg_flags::FORCEACK == 0 && m.header.current_epoch == e));
    // The old master lost its slots in everybody's view.
    assert_eq!(net.node(1, 0).map(Node::numslots), Some(0));
    assert_eq!(net.nodes[3].c.me().map(Node::numslots), Some(5461));
    net.run_until(10_000, "ok without node 0", |n| {
        (1..6).all(|i| n.nodes[i].c.is_ok())
    });

    // The old master comes back: it learns the new configuration and turns
    // into a replica of the winner.
    net.resume(0);
    net.run_until(10_000, "old master is a replica of node 3", |n| {
        (0..6).all(|i| is_replica_of(n, i, 0, 3))
    });
    assert!(net.nodes[0].other.contains(&Action::ReplicateFrom {
        ip: ip(3),
        port: PORT
    }));
    assert!(net.has_log(
        0,
        &format!("Configuration change detected. Reconfiguring myself as a replica of {r3}")
    ));
    assert_eq!(net.nodes[0].c.slot_owner_id(100), Some(r3.to_string()));
    net.run_until(10_000, "all ok", Net::all_ok);
    let cur = net.nodes[0].c.current_epoch();
    assert!((0..6).all(|i| net.nodes[i].c.current_epoch() == cur));
    let text = net.nodes[1].c.nodes_text();
    assert!(
        text.contains(&format!("{m0} 10.0.0.1:7000@17000 slave {r3} ")),
        "{text}"
    );
    // Nobody else tried to take over.
    for i in [4, 5] {
        assert!(!net.has_log(i, "Starting a failover election"));
    }
}

#[test]
fn the_replica_with_the_greatest_offset_wins_and_the_other_follows_it() {
    let mut net = with_replicas(&[0, 0, 1, 2]);
    net.nodes[0].offset = 1000;
    net.run(1000);
    assert_eq!((net.nodes[3].offset, net.nodes[4].offset), (1000, 1000));
    // Node 4 stops applying the stream; node 3 gets 500 more bytes.
    net.nodes[4].lag = true;
    net.nodes[0].offset = 1500;
    net.run(2000);
    assert_eq!(net.node(4, 3).map(|n| n.repl_offset), Some(1500));
    let r3 = net.id(3);
    net.pause(0);
    net.run_until(15_000, "node 3 promoted, node 4 its replica", |n| {
        n.node(3, 3).is_some_and(Node::is_master) && is_replica_of(n, 4, 4, 3)
    });
    assert!(net.has_log(3, "(rank #0, offset 1500)."));
    assert!(net.has_log(4, "(rank #1, offset 1000)."));
    assert!(!net.has_log(4, "Failover election won"));
    assert!(net.nodes[4].other.contains(&Action::ReplicateFrom {
        ip: ip(3),
        port: PORT
    }));
    assert!(net.has_log(
        4,
        &format!("Configuration change detected. Reconfiguring myself as a replica of {r3}")
    ));
}

/// Hands node `to` a FAILOVER_AUTH_REQUEST from node `from` with the given
/// header changes, on the inbound link of their connection; returns the
/// actions.
fn request_vote(
    net: &mut Net,
    from: usize,
    to: usize,
    change: impl FnOnce(&mut Header),
) -> Vec<Action> {
    let mut hdr = net.nodes[from].c.build_header();
    change(&mut hdr);
    let msg = Message::new(hdr, Body::FailoverAuthRequest);
    let link = inbound_link(net, from, to);
    let now = net.now;
    let msg = decode(&encode(&msg)).expect("decode");
    net.nodes[to].c.on_packet(link, msg, now)
}

fn logged(acts: &[Action], text: &str) -> bool {
    acts.iter()
        .any(|a| matches!(a, Action::Log { level: LogLevel::Warning, text: t } if t == text))
}

fn acks(acts: &[Action]) -> usize {
    acts.iter()
        .filter(|a| matches!(a, Action::Send { msg, .. } if msg.body == Body::FailoverAuthAck))
        .count()
}

#[test]
fn masters_refuse_votes_as_upstream() {
    let mut net = with_replicas(&[0, 1, 2]);
    let ids: Vec<NodeName> = (0..6).map(|i| net.id(i)).collect();
    let voter = 1;
    let cur = net.nodes[voter].c.current_epoch();

    // A master may not be elected.
    let acts = request_vote(&mut net, 2, voter, |h| h.current_epoch = cur + 1);
    let denied = format!("Failover auth denied to {}: it is a master node", ids[2]);
    assert!(logged(&acts, &denied), "{acts:?}");
    assert_eq!(acks(&acts), 0);

    // A replica whose master is up, without FORCEACK.
    let acts = request_vote(&mut net, 3, voter, |h| h.current_epoch = cur + 1);
    let denied = format!("Failover auth denied to {}: its master is up", ids[3]);
    assert!(logged(&acts, &denied), "{acts:?}");

    // With FORCEACK (manual failover) it is granted, persisted with fsync,
    // and acknowledged on the link to the replica.
    let e = cur + 1;
    let acts = request_vote(&mut net, 3, voter, |h| {
        h.current_epoch = e;
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    let granted = format!("Failover auth granted to {} for epoch {e}", ids[3]);
    assert!(logged(&acts, &granted), "{acts:?}");
    assert_eq!(acks(&acts), 1);
    let to3 = net.node(voter, 3).and_then(|n| n.link);
    assert!(acts.iter().any(|a| matches!(a,
        Action::Send { link, msg } if Some(*link) == to3 && msg.body == Body::FailoverAuthAck)));
    assert_eq!(acts.last(), Some(&Action::SaveConfig { fsync: true }));
    assert_eq!(net.nodes[voter].c.to_nodes_conf().last_vote_epoch, e);

    // Once per epoch.
    let acts = request_vote(&mut net, 3, voter, |h| {
        h.current_epoch = e;
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    let denied = format!(
        "Failover auth denied to {}: already voted for epoch {e}",
        ids[3]
    );
    assert!(logged(&acts, &denied), "{acts:?}");
    assert_eq!(acks(&acts), 0);

    // Not again for a replica of the same master within 2 * node timeout.
    net.now += 300;
    let acts = request_vote(&mut net, 3, voter, |h| {
        h.current_epoch = e + 1;
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    let denied = format!(
        "Failover auth denied to {}: can't vote about this master before 1700 milliseconds",
        ids[3]
    );
    assert!(logged(&acts, &denied), "{acts:?}");

    // An old epoch.
    let acts = request_vote(&mut net, 5, voter, |h| {
        h.current_epoch = e;
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    let denied = format!(
        "Failover auth denied to {}: reqEpoch ({e}) < curEpoch({})",
        ids[5],
        e + 1
    );
    assert!(logged(&acts, &denied), "{acts:?}");

    // Claiming a slot whose owner has a greater config epoch.
    let (owner, owner_epoch) = (0..3)
        .map(|j| (j, epoch(&net, voter, j)))
        .max_by_key(|(_, e)| *e)
        .expect("masters");
    assert!(owner_epoch > 0);
    let slot = net.nodes[voter]
        .c
        .nodes
        .get(&ids[owner])
        .and_then(|n| n.slots.iter().next())
        .expect("a slot");
    let acts = request_vote(&mut net, 5, voter, |h| {
        h.current_epoch = e + 2;
        h.config_epoch = 0;
        h.myslots = SlotBitmap::new();
        h.myslots.set(slot);
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    let denied = format!(
        "Failover auth denied to {}: slot {slot} epoch ({owner_epoch}) > reqEpoch (0)",
        ids[5]
    );
    assert!(logged(&acts, &denied), "{acts:?}");

    // A replica whose master this voter doesn't know.
    let r5 = ids[5];
    if let Some(n) = net.nodes[voter].c.nodes.get_mut(&r5) {
        n.slaveof = None;
    }
    let acts = request_vote(&mut net, 5, voter, |h| {
        h.current_epoch = e + 3;
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    let denied = format!("Failover auth denied to {r5}: I don't know its master");
    assert!(logged(&acts, &denied), "{acts:?}");

    // Replicas never vote (nor log about it).
    let acts = request_vote(&mut net, 3, 4, |h| {
        h.current_epoch = e + 10;
        h.mflags[0] |= msg_flags::FORCEACK;
    });
    assert!(!acts
        .iter()
        .any(|a| matches!(a, Action::Log { text, .. } if text.starts_with("Failover auth"))));
    assert_eq!(acks(&acts), 0);
}

#[test]
fn manual_failover_waits_for_the_paused_masters_offset() {
    let mut net = with_replicas(&[0, 1, 2]);
    net.nodes[0].offset = 1000;
    net.run(1000);
    net.nodes[3].lag = true;
    net.nodes[0].offset = 1500;
    net.run(500);
    assert_eq!(net.nodes[3].offset, 1000);
    let (m0, r3) = (net.id(0), net.id(3));
    let now = net.now;
    let r = net.c(3).failover(FailoverMode::Default, now);
    net.apply(3, r);
    assert!(net.has_log(3, "Manual failover user request accepted."));
    assert!(net.nodes[3].sent.iter().any(|m| m.body == Body::MfStart));
    // The master paused its writes and sent its offset, flagged PAUSED.
    assert!(net.has_log(0, &format!("Manual failover requested by replica {r3}.")));
    assert!(net.nodes[0].other.contains(&Action::PauseWrites {
        until_ms: now + 2 * MANUAL_FAILOVER_TIMEOUT
    }));
    assert!(net.nodes[0]
        .sent
        .iter()
        .any(|m| m.header.mflags[0] & msg_flags::PAUSED != 0 && m.header.offset == 1500));
    assert!(net.has_log(
        3,
        "Received replication offset for paused master manual failover: 1500"
    ));
    assert!(net.nodes[0].c.manual_failover_in_progress());
    // No election while the replica lags.
    net.run(1500);
    assert!(!net.has_log(3, "Starting a failover election"));
    assert!(net.node(0, 0).is_some_and(Node::is_master));
    // It catches up: the election starts at once, with FORCEACK, and the
    // masters vote although the master is up.
    net.nodes[3].lag = false;
    net.run_until(5000, "node 3 promoted", |n| {
        n.node(3, 3).is_some_and(Node::is_master)
    });
    let order = [
        "All master replication stream processed, manual failover can start.",
        "Start of election delayed for 0 milliseconds (rank #0, offset 1500).",
        "Starting a failover election for epoch ",
        "Failover election won: I'm the new master.",
    ];
    let mut last = 0;
    for text in order {
        let at = log_index(&net, 3, text).unwrap_or_else(|| panic!("no {text:?}"));
        assert!(at >= last, "{text:?} out of order");
        last = at;
    }
    let req = sent_auth_requests(&net, 3);
    assert!(!req.is_empty());
    assert!(req
        .iter()
        .all(|m| m.header.mflags[0] & msg_flags::FORCEACK != 0));
    // The old master follows the new one and resumes its clients.
    net.run_until(5000, "node 0 is a replica of node 3", |n| {
        (0..6).all(|i| is_replica_of(n, i, 0, 3))
    });
    assert!(net.nodes[0].other.contains(&Action::UnpauseWrites));
    assert!(!net.nodes[0].c.manual_failover_in_progress());
    assert!(!net.has_log(3, "Manual failover timed out."));
    assert_eq!(net.nodes[1].c.slot_owner_id(0), Some(r3.to_string()));
    assert!(net.nodes[0].other.contains(&Action::ReplicateFrom {
        ip: ip(3),
        port: PORT
    }));
    assert_ne!(m0, r3);
}

#[test]
fn manual_failover_times_out_when_the_replica_never_catches_up() {
    let mut net = with_replicas(&[0, 1, 2]);
    net.nodes[0].offset = 200;
    net.run(1000);
    net.nodes[3].lag = true;
    net.nodes[0].offset = 300;
    net.run(500);
    let now = net.now;
    let r = net.c(3).failover(FailoverMode::Default, now);
    net.apply(3, r);
    net.run(MANUAL_FAILOVER_TIMEOUT + 500);
    for i in [0, 3] {
        assert!(net.has_log(i, "Manual failover timed out."), "node {i}");
        assert!(!net.nodes[i].c.manual_failover_in_progress());
    }
    assert!(net.nodes[0].other.contains(&Action::UnpauseWrites));
    assert!(!net.has_log(3, "Starting a failover election"));
    assert!(net.node(0, 0).is_some_and(Node::is_master));
    assert!(is_replica_of(&net, 1, 3, 0));
    // The master's messages are no longer flagged PAUSED.
    net.nodes[0].sent.clear();
    net.run(1000);
    assert!(net.nodes[0]
        .sent
        .iter()
        .all(|m| m.header.mflags[0] & msg_flags::PAUSED == 0));
}

#[test]
fn manual_failover_force_does_not_wait_for_the_master() {
    let mut net = with_replicas(&[0, 1, 2]);
    net.nodes[0].offset = 1000;
    net.run(1000);
    net.nodes[3].lag = true;
    net.nodes[0].offset = 2000;
    let now = net.now;
    let r = net.c(3).failover(FailoverMode::Force, now);
    net.apply(3, r);
    assert!(net.has_log(3, "Forced failover user request accepted."));
    net.run_until(3000, "node 3 promoted", |n| {
        n.node(3, 3).is_some_and(Node::is_master)
    });
    assert!(net.has_log(
        3,
        "Start of election delayed for 0 milliseconds (rank #0, offset 1000)."
    ));
    assert!(!net.nodes[3].sent.iter().any(|m| m.body == Body::MfStart));
    assert!(!net.nodes[0]
        .other
        .iter()
        .any(|a| matches!(a, Action::PauseWrites { .. })));
    net.run_until(5000, "node 0 is a replica of node 3", |n| {
        (0..6).all(|i| is_replica_of(n, i, 0, 3))
    });
    net.run_until(10_000, "all ok", Net::all_ok);
}

#[test]
fn manual_failover_takeover_needs_no_votes() {
    let mut net = with_replicas(&[0, 1, 2]);
    // Masters 1 and 2 are unreachable: no election could be won.
    net.pause(1);
    net.pause(2);
    let r3 = net.id(3);
    // The config epoch is bumped unless node 3's own (from when it was a
    // master) is already the greatest.
    let (mine, max_before) = (epoch(&net, 3, 3), net.nodes[3].c.max_epoch());
    let bumps = mine == 0 || mine != max_before;
    let e = if bumps {
        net.nodes[3].c.current_epoch() + 1
    } else {
        mine
    };
    let now = net.now;
    let (_, acts) = net
        .c(3)
        .failover(FailoverMode::Takeover, now)
        .expect("takeover");
    assert!(logged(&acts, "Taking over the master (user request)."));
    assert_eq!(logged(&acts, &format!("New configEpoch set to {e}")), bumps);
    assert!(acts.contains(&Action::PromoteToMaster));
    assert!(acts.contains(&Action::SaveConfig { fsync: true }));
    assert!(!acts
        .iter()
        .any(|a| matches!(a, Action::Send { msg, .. } if msg.body == Body::FailoverAuthRequest)));
    net.handle(3, acts);
    net.drain();
    assert!(net.node(3, 3).is_some_and(Node::is_master));
    assert_eq!(epoch(&net, 3, 3), e);
    assert_eq!(net.nodes[3].c.slot_owner_id(0), Some(r3.to_string()));
    // The old master follows at once (it got the PONG), the others when
    // they come back.
    net.run_until(5000, "node 0 is a replica of node 3", |n| {
        is_replica_of(n, 0, 0, 3)
    });
    net.resume(1);
    net.resume(2);
    net.run_until(10_000, "everybody agrees", |n| {
        (0..6).all(|i| {
            is_replica_of(n, i, 0, 3) && n.nodes[i].c.slot_owner_id(0) == Some(r3.to_string())
        })
    });
    net.run_until(10_000, "all ok", Net::all_ok);
}

#[test]
fn failover_command_errors() {
    let mut net = with_replicas(&[0, 1, 2]);
    let now = net.now;
    for mode in [
        FailoverMode::Default,
        FailoverMode::Force,
        FailoverMode::Takeover,
    ] {
        assert_eq!(
            net.c(1).failover(mode, now).err().as_deref(),
            Some("ERR You should send CLUSTER FAILOVER to a replica")
        );
    }
    // A replica that doesn't know its master.
    let mut c = Cluster::new(settings(), None, now, 77);
    let me = c.myself;
    if let Some(n) = c.nodes.get_mut(&me) {
        n.flags = nf::MYSELF | nf::SLAVE;
    }
    assert_eq!(
        c.failover(FailoverMode::Force, now).err().as_deref(),
        Some("ERR I'm a replica but my master is unknown to me")
    );
    // The master is failed: only FORCE / TAKEOVER. (Node 3 doesn't fail
    // over on its own.)
    net.nodes[3].c.settings.replica_no_failover = true;
    net.pause(0);
    net.run_until(10_000, "master FAIL for node 3", |n| {
        n.flags(3, 0) & nf::FAIL != 0
    });
    let now = net.now;
    assert_eq!(
        net.c(3)
            .failover(FailoverMode::Default, now)
            .err()
            .as_deref(),
        Some("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    );
}

#[test]
fn no_failover_replica_stays_a_replica_unless_asked() {
    let mut net = with_replicas(&[0, 1, 2]);
    let mut s = net.nodes[3].c.settings().clone();
    s.replica_no_failover = true;
    net.c(3).set_settings(s);
    net.run_until(3000, "NOFAILOVER flag seen", |n| {
        (0..6).all(|i| n.flags(i, 3) & nf::NOFAILOVER != 0)
    });
    assert!(net.nodes[1].c.nodes_text().contains("slave,nofailover"));
    net.pause(0);
    net.run_until(10_000, "master FAIL", |n| n.flags(3, 0) & nf::FAIL != 0);
    net.run(8000);
    assert!(net.node(3, 3).is_some_and(Node::is_slave));
    assert!(!net.has_log(3, "Start of election"));
    assert!(!net.nodes[1].c.is_ok());
    // A manual (forced) failover is allowed.
    let now = net.now;
    let r = net.c(3).failover(FailoverMode::Force, now);
    net.apply(3, r);
    net.run_until(3000, "node 3 promoted", |n| {
        n.node(3, 3).is_some_and(Node::is_master)
    });
    net.run_until(10_000, "ok again", |n| (1..6).all(|i| n.nodes[i].c.is_ok()));
}

#[test]
fn replica_validity_factor_stops_stale_replicas() {
    let mut net = with_replicas(&[0, 1, 2]);
    let mut s = net.nodes[3].c.settings().clone();
    s.replica_validity_factor = 1;
    net.c(3).set_settings(s.clone());
    // Limit: 0 + 1 * node timeout past the node timeout.
    net.c(3).set_repl_ping_replica_period(0);
    // Its replication link breaks 3 s before the master fails.
    net.nodes[3].repl_broken = true;
    net.run(3000);
    net.pause(0);
    net.run(12_000);
    assert!(net.node(3, 3).is_some_and(Node::is_slave));
    assert!(!net.has_log(3, "Start of election"));
    let line = "Currently unable to failover: Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.";
    assert_eq!(
        net.nodes[3].logs.iter().filter(|l| *l == line).count(),
        1,
        "logged once (throttled)"
    );
    // Factor 0: the data is never too old.
    s.replica_validity_factor = 0;
    net.c(3).set_settings(s);
    net.run_until(5000, "node 3 promoted", |n| {
        n.node(3, 3).is_some_and(Node::is_master)
    });
}

#[test]
fn replica_never_connected_does_not_fail_over() {
    let mut net = with_replicas(&[0, 1, 2]);
    // Node 3 reports a link that never came up.
    net.pause(0);
    for _ in 0..100 {
        net.now += 100;
        net.sync_replication();
        net.nodes[3].c.set_replica_link(false, None, 0);
        for i in 1..6 {
            let now = net.now;
            let acts = net.nodes[i].c.tick(now);
            net.handle(i, acts);
            net.drain();
        }
    }
    assert!(net.flags(3, 0) & nf::FAIL != 0);
    assert!(net.node(3, 3).is_some_and(Node::is_slave));
    assert!(!net.has_log(3, "Start of election"));
}

#[test]
fn replica_migrates_to_an_orphaned_master() {
    // Master 0 has replicas 3 and 4, master 1 has replica 5, master 2
    // replica 6.
    let mut net = with_replicas(&[0, 0, 1, 2]);
    let m1 = net.id(1);
    let candidate = if net.id(3).as_bytes() < net.id(4).as_bytes() {
        3
    } else {
        4
    };
    let other = 7 - candidate;
    net.pause(5);
    net.run_until(10_000, "replica 5 FAIL", |n| {
        [0, 1, 2, 3, 4, 6]
            .iter()
            .all(|&i| n.flags(i, 5) & nf::FAIL != 0)
    });
    let set = |net: &mut Net, barrier: u32, allow: bool| {
        for i in [3, 4] {
            let mut s = net.nodes[i].c.settings().clone();
            s.migration_barrier = barrier;
            s.allow_replica_migration = allow;
            net.c(i).set_settings(s);
        }
    };
    // Master 0 would be left with fewer replicas than the barrier.
    set(&mut net, 2, true);
    net.run(REPLICA_MIGRATION_DELAY + 3000);
    assert!(is_replica_of(&net, 0, 3, 0) && is_replica_of(&net, 0, 4, 0));
    // Migration disabled.
    set(&mut net, 1, false);
    net.run(REPLICA_MIGRATION_DELAY + 3000);
    assert!(is_replica_of(&net, 0, 3, 0) && is_replica_of(&net, 0, 4, 0));
    // Allowed: the replica with the smaller id moves to master 1.
    set(&mut net, 1, true);
    net.run_until(REPLICA_MIGRATION_DELAY + 5000, "migrated", |n| {
        [0, 1, 2, 3, 4, 6]
            .iter()
            .all(|&i| is_replica_of(n, i, candidate, 1))
    });
    assert!(net.has_log(candidate, &format!("Migrating to orphaned master {m1}")));
    assert!(net.nodes[candidate].other.contains(&Action::ReplicateFrom {
        ip: ip(1),
        port: PORT
    }));
    assert!(is_replica_of(&net, 0, other, 0));
    assert!(!net.has_log(other, "Migrating to orphaned master"));
    net.run(REPLICA_MIGRATION_DELAY + 2000);
    assert!(is_replica_of(&net, 0, other, 0));
}

#[test]
fn publish_is_relayed_to_the_cluster_and_shard_publish_to_the_shard() {
    let mut net = with_replicas(&[0, 1, 2]);
    let deliveries = |net: &Net, i: usize| -> Vec<Action> {
        net.nodes[i]
            .other
            .iter()
            .filter(|a| matches!(a, Action::Deliver { .. }))
            .cloned()
            .collect()
    };
    let now = net.now;
    let acts = net.c(0).publish(b"news", b"hello", false, now);
    let sends = acts
        .iter()
        .filter(
            |a| matches!(a, Action::Send { msg, .. } if matches!(msg.body, Body::Publish { .. })),
        )
        .count();
    assert_eq!(sends, 5);
    net.handle(0, acts);
    net.drain();
    let hello = Action::Deliver {
        channel: b"news".to_vec(),
        message: b"hello".to_vec(),
        shard: false,
    };
    assert!(deliveries(&net, 0).is_empty());
    for i in 1..6 {
        assert_eq!(deliveries(&net, i), vec![hello.clone()], "node {i}");
    }
    assert_eq!(net.info(0, "cluster_stats_messages_publish_sent"), "5");
    assert_eq!(net.info(4, "cluster_stats_messages_publish_received"), "1");
    for n in &mut net.nodes {
        n.other.clear();
    }
    // SPUBLISH on master 1: only its replica 4.
    let now = net.now;
    let acts = net.c(1).publish(b"{s}ch", b"m1", true, now);
    net.handle(1, acts);
    net.drain();
    let m1 = Action::Deliver {
        channel: b"{s}ch".to_vec(),
        message: b"m1".to_vec(),
        shard: true,
    };
    for i in 0..6 {
        let want = if i == 4 { vec![m1.clone()] } else { vec![] };
        assert_eq!(deliveries(&net, i), want, "node {i}");
    }
    // SPUBLISH on replica 5: its master 2.
    let now = net.now;
    let acts = net.c(5).publish(b"{s}ch", b"m2", true, now);
    net.handle(5, acts);
    net.drain();
    let m2 = Action::Deliver {
        channel: b"{s}ch".to_vec(),
        message: b"m2".to_vec(),
        shard: true,
    };
    assert_eq!(deliveries(&net, 2), vec![m2]);
    assert_eq!(deliveries(&net, 0), vec![]);
    assert_eq!(deliveries(&net, 3), vec![]);
}

#[test]
fn publish_from_an_unknown_node_is_ignored() {
    let mut net = with_replicas(&[0, 1, 2]);
    let mut hdr = net.nodes[2].c.build_header();
    hdr.sender = NodeName([b'f'; NAME_LEN]);
    let msg = Message::new(
        hdr,
        Body::Publish {
            channel: b"c".to_vec(),
            message: b"m".to_vec(),
        },
    );
    // A fresh inbound link not bound to any node.
    let link = LinkId(999_999);
    let now = net.now;
    net.nodes[1].c.on_inbound_link(link, &ip(9), &ip(1), now);
    let acts = net.nodes[1].c.on_packet(link, msg, now);
    assert!(!acts.iter().any(|a| matches!(a, Action::Deliver { .. })));
}
