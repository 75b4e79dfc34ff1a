//! Tests of the introspection replies: a [`Sentinel`] built from a
//! configuration, fed replies by a tiny fake driver on a fake clock, then
//! asked for its `SENTINEL ...` and `INFO` replies.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::config::{Addr, KnownSentinel, MasterConfig, SentinelConfig};
use crate::info::{InfoReport, Role};
use crate::reply::*;
use crate::state::{Action, InstanceId, IsMasterDownReply, Sentinel};

const ME: &str = "1111111111111111111111111111111111111111";
const PEER_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const T0: u64 = 1_000_000;

fn run_id(n: u8) -> String {
    format!("{:040}", n)
}

fn config(quorum: u32, peers: &[(&str, u16)]) -> SentinelConfig {
    let mut m = MasterConfig::new("master01", Addr::new("10.0.0.1", 6379), quorum);
    m.down_after_ms = 5000;
    for &(id, port) in peers {
        m.add_known_sentinel(KnownSentinel {
            addr: Addr::new("10.0.0.9", port),
            run_id: id.to_string(),
        });
    }
    SentinelConfig {
        myid: Some(ME.to_string()),
        masters: vec![m],
        ..SentinelConfig::default()
    }
}

fn master_info() -> InfoReport {
    InfoReport {
        run_id: Some(run_id(1)),
        role: Some(Role::Master),
        replicas: vec![Addr::new("10.0.0.2", 6380)],
        ..InfoReport::default()
    }
}

fn replica_info() -> InfoReport {
    InfoReport {
        run_id: Some(run_id(2)),
        role: Some(Role::Replica),
        master_host: Some("10.0.0.1".to_string()),
        master_port: Some(6379),
        master_link_up: true,
        replica_priority: Some(50),
        repl_offset: Some(1234),
        replica_announced: Some(true),
        ..InfoReport::default()
    }
}

fn hello(run_id: &str, port: u16) -> String {
    format!("10.0.0.9,{port},{run_id},0,master01,10.0.0.1,6379,0")
}

/// A sentinel with a healthy master (PONG at T0+5, INFO at T0+10), its
/// replica (added at T0+10; PONG at T0+15, INFO at T0+16) and one peer
/// learnt from a hello at T0+20.
fn healthy(quorum: u32) -> (Sentinel, InstanceId, InstanceId, InstanceId) {
    let mut s = Sentinel::new(&config(quorum, &[]), T0, 7);
    let mid = s.master_id("master01").unwrap();
    s.on_connected(mid, T0);
    s.on_ping_reply(mid, "PONG", T0 + 5);
    s.on_info_reply(mid, &master_info(), T0 + 10);
    let rid = s.replicas("master01")[0].id;
    s.on_connected(rid, T0 + 10);
    s.on_ping_reply(rid, "PONG", T0 + 15);
    s.on_info_reply(rid, &replica_info(), T0 + 16);
    s.on_hello(&hello(PEER_A, 26380), T0 + 20);
    let pid = s.sentinels("master01")[0].id;
    (s, mid, rid, pid)
}

fn pairs(r: &Reply) -> Vec<(String, String)> {
    let Reply::Map(p) = r else {
        panic!("not a map: {r:?}");
    };
    p.iter()
        .map(|(k, v)| match (k, v) {
            (Reply::Bulk(k), Reply::Bulk(v)) => (k.clone(), v.clone()),
            _ => panic!("not bulk strings: {k:?} {v:?}"),
        })
        .collect()
}

fn list(r: &Reply) -> Vec<Reply> {
    match r {
        Reply::Array(a) => a.clone(),
        _ => panic!("not an array: {r:?}"),
    }
}

fn expect(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(r: &Reply, name: &str) -> Option<String> {
    pairs(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn names(r: &Reply) -> Vec<String> {
    pairs(r).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn master_fields_in_upstream_order() {
    let (s, ..) = healthy(2);
    let now = T0 + 1000;
    let r = master(&s, "master01", now);
    let r1 = run_id(1);
    assert_eq!(
        pairs(&r),
        expect(&[
            ("name", "master01"),
            ("ip", "10.0.0.1"),
            ("port", "6379"),
            ("runid", &r1),
            ("flags", "master"),
            ("link-pending-commands", "0"),
            ("link-refcount", "1"),
            ("last-ping-sent", "0"),
            ("last-ok-ping-reply", "995"),
            ("last-ping-reply", "995"),
            ("down-after-milliseconds", "5000"),
            ("info-refresh", "990"),
            ("role-reported", "master"),
            ("role-reported-time", "1000"),
            ("config-epoch", "0"),
            ("num-slaves", "1"),
            ("num-other-sentinels", "1"),
            ("quorum", "2"),
            ("failover-timeout", "180000"),
            ("parallel-syncs", "1"),
        ])
    );
    assert_eq!(masters(&s, now), Reply::Array(vec![r]));
}

#[test]
fn scripts_follow_parallel_syncs() {
    let mut cfg = config(1, &[]);
    cfg.masters[0].notification_script = Some("/n.sh".into());
    cfg.masters[0].client_reconfig_script = Some("/r.sh".into());
    let s = Sentinel::new(&cfg, T0, 1);
    let r = master(&s, "master01", T0);
    let n = names(&r);
    assert_eq!(
        n[n.len() - 3..],
        [
            "parallel-syncs",
            "notification-script",
            "client-reconfig-script"
        ]
    );
    assert_eq!(field(&r, "notification-script").as_deref(), Some("/n.sh"));
    // Never connected, never answered: disconnected, pinged since creation,
    // no INFO yet (info-refresh 0), no run id.
    assert_eq!(field(&r, "flags").as_deref(), Some("master,disconnected"));
    assert_eq!(field(&r, "runid").as_deref(), Some(""));
    let r = master(&s, "master01", T0 + 250);
    assert_eq!(field(&r, "last-ping-sent").as_deref(), Some("250"));
    assert_eq!(field(&r, "info-refresh").as_deref(), Some("0"));
}

#[test]
fn replica_fields_in_upstream_order() {
    let (s, ..) = healthy(2);
    let r = replicas(&s, "master01", T0 + 1000);
    let items = list(&r);
    assert_eq!(items.len(), 1);
    let r2 = run_id(2);
    assert_eq!(
        pairs(&items[0]),
        expect(&[
            ("name", "10.0.0.2:6380"),
            ("ip", "10.0.0.2"),
            ("port", "6380"),
            ("runid", &r2),
            ("flags", "slave"),
            ("link-pending-commands", "0"),
            ("link-refcount", "1"),
            ("last-ping-sent", "0"),
            ("last-ok-ping-reply", "985"),
            ("last-ping-reply", "985"),
            ("down-after-milliseconds", "5000"),
            ("info-refresh", "984"),
            ("role-reported", "slave"),
            ("role-reported-time", "990"),
            ("master-link-down-time", "0"),
            ("master-link-status", "ok"),
            ("master-host", "10.0.0.1"),
            ("master-port", "6379"),
            ("slave-priority", "50"),
            ("slave-repl-offset", "1234"),
            ("replica-announced", "1"),
        ])
    );
    // SLAVES is the same reply.
    let via_slaves = introspect(&s, &["slaves", "master01"], T0 + 1000, &|_| None);
    assert_eq!(via_slaves, Some(r));
}

#[test]
fn unannounced_replicas_are_hidden_but_counted() {
    let (mut s, _, rid, _) = healthy(2);
    let info = InfoReport {
        replica_announced: Some(false),
        ..replica_info()
    };
    s.on_info_reply(rid, &info, T0 + 100);
    assert_eq!(replicas(&s, "master01", T0 + 200), Reply::Array(vec![]));
    let m = master(&s, "master01", T0 + 200);
    assert_eq!(field(&m, "num-slaves").as_deref(), Some("1"));
}

#[test]
fn sentinel_fields_in_upstream_order() {
    let (s, ..) = healthy(2);
    let r = sentinels(&s, "master01", T0 + 1000);
    let items = list(&r);
    assert_eq!(items.len(), 1);
    assert_eq!(
        pairs(&items[0]),
        expect(&[
            ("name", PEER_A),
            ("ip", "10.0.0.9"),
            ("port", "26380"),
            ("runid", PEER_A),
            ("flags", "sentinel,disconnected"),
            ("link-pending-commands", "0"),
            ("link-refcount", "1"),
            ("last-ping-sent", "980"),
            ("last-ok-ping-reply", "980"),
            ("last-ping-reply", "980"),
            ("down-after-milliseconds", "5000"),
            ("last-hello-message", "980"),
            ("voted-leader", "?"),
            ("voted-leader-epoch", "0"),
        ])
    );
}

#[test]
fn peer_vote_and_master_down_show() {
    let (mut s, _, _, pid) = healthy(2);
    s.on_connected(pid, T0 + 30);
    s.on_ping_reply(pid, "PONG", T0 + 40);
    s.on_is_master_down_reply(pid, true, PEER_A, 3, T0 + 50);
    let items = list(&sentinels(&s, "master01", T0 + 60));
    assert_eq!(
        field(&items[0], "flags").as_deref(),
        Some("sentinel,master_down")
    );
    assert_eq!(field(&items[0], "voted-leader").as_deref(), Some(PEER_A));
    assert_eq!(field(&items[0], "voted-leader-epoch").as_deref(), Some("3"));
}

/// A fake driver: ticks every 100 ms from `from` (exclusive) to `to`,
/// answering for the instances not in `dead`; peers asked about the master
/// say it is down without voting. Returns the time of each event.
struct Driver {
    dead: HashSet<InstanceId>,
    info: HashMap<InstanceId, InfoReport>,
    events: Vec<(u64, String)>,
}

impl Driver {
    fn run(&mut self, s: &mut Sentinel, from: u64, to: u64) {
        let mut t = from;
        while t < to {
            t += 100;
            let mut queue: VecDeque<Action> = s.tick(t).into();
            while let Some(a) = queue.pop_front() {
                let more = match a {
                    Action::Connect { instance, .. } if !self.dead.contains(&instance) => {
                        s.on_connected(instance, t)
                    }
                    Action::Ping { instance } if !self.dead.contains(&instance) => {
                        s.on_ping_reply(instance, "PONG", t)
                    }
                    Action::Info { instance } if !self.dead.contains(&instance) => {
                        match self.info.get(&instance) {
                            Some(info) => s.on_info_reply(instance, info, t),
                            None => Vec::new(),
                        }
                    }
                    Action::AskIsMasterDown { sentinel, .. } if !self.dead.contains(&sentinel) => {
                        s.on_is_master_down_reply(sentinel, true, "*", 0, t)
                    }
                    Action::Event(e) => {
                        self.events.push((t, e.name));
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
                queue.extend(more);
            }
        }
    }

    fn first(&self, name: &str) -> u64 {
        self.events
            .iter()
            .find(|(_, n)| n == name)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.events))
    }
}

fn driver(mid: InstanceId, rid: InstanceId) -> Driver {
    Driver {
        dead: HashSet::new(),
        info: HashMap::from([(mid, master_info()), (rid, replica_info())]),
        events: Vec::new(),
    }
}

#[test]
fn down_master_shows_down_times_and_failover_state() {
    let (mut s, mid, rid, _) = healthy(2);
    let mut d = driver(mid, rid);
    d.run(&mut s, T0 + 20, T0 + 3000);
    d.dead.insert(mid);
    d.run(&mut s, T0 + 3000, T0 + 12_000);
    let sdown = d.first("+sdown");
    let odown = d.first("+odown");
    let now = T0 + 12_000;
    let r = master(&s, "master01", now);
    assert_eq!(
        field(&r, "flags").as_deref(),
        Some("s_down,o_down,master,failover_in_progress")
    );
    let n = names(&r);
    assert_eq!(
        n[..13],
        [
            "name",
            "ip",
            "port",
            "runid",
            "flags",
            "link-pending-commands",
            "link-refcount",
            "failover-state",
            "last-ping-sent",
            "last-ok-ping-reply",
            "last-ping-reply",
            "s-down-time",
            "o-down-time",
        ]
    );
    assert_eq!(n[13], "down-after-milliseconds");
    assert_eq!(field(&r, "failover-state").as_deref(), Some("wait_start"));
    assert_eq!(
        field(&r, "s-down-time"),
        Some((now - sdown).to_string()),
        "{:?}",
        d.events
    );
    assert_eq!(field(&r, "o-down-time"), Some((now - odown).to_string()));
    // The peer answered "down": master_down on it.
    let peer = list(&sentinels(&s, "master01", now)).remove(0);
    assert_eq!(
        field(&peer, "flags").as_deref(),
        Some("sentinel,master_down")
    );
    let text = sentinel_section(&s, now, &InfoParams::default());
    assert!(
        text.ends_with(
            "master0:name=master01,status=odown,address=10.0.0.1:6379,slaves=1,sentinels=2\r\n"
        ),
        "{text}"
    );
}

#[test]
fn sdown_status_in_info() {
    let mut s = Sentinel::new(&config(2, &[]), T0, 7);
    let mid = s.master_id("master01").unwrap();
    let mut d = Driver {
        dead: HashSet::from([mid]),
        info: HashMap::new(),
        events: Vec::new(),
    };
    d.run(&mut s, T0, T0 + 6000);
    let text = sentinel_section(&s, T0 + 6000, &InfoParams::default());
    assert!(
        text.ends_with(
            "master0:name=master01,status=sdown,address=10.0.0.1:6379,slaves=0,sentinels=1\r\n"
        ),
        "{text}"
    );
}

#[test]
fn ckquorum_texts() {
    let (s, ..) = healthy(2);
    // Peer not SDOWN yet: 2 usable of 2 voters.
    assert_eq!(
        ckquorum(&s, "master01"),
        Reply::Status(
            "OK 2 usable Sentinels. Quorum and failover authorization can be reached".into()
        )
    );
    let s1 = Sentinel::new(&config(1, &[]), T0, 1);
    assert_eq!(
        ckquorum(&s1, "master01"),
        Reply::Status(
            "OK 1 usable Sentinels. Quorum and failover authorization can be reached".into()
        )
    );
    assert_eq!(ckquorum(&s1, "nope"), no_such_master());

    // Both peers dead for longer than down-after: SDOWN, not usable.
    let run = |quorum: u32| {
        let mut s = Sentinel::new(&config(quorum, &[(PEER_A, 26380), (PEER_B, 26381)]), T0, 1);
        let dead: HashSet<InstanceId> = s.sentinels("master01").iter().map(|v| v.id).collect();
        let mut d = Driver {
            dead,
            info: HashMap::new(),
            events: Vec::new(),
        };
        d.run(&mut s, T0, T0 + 6000);
        assert!(s.sentinels("master01").iter().all(|v| v.s_down));
        ckquorum(&s, "master01")
    };
    assert_eq!(
        run(1),
        Reply::Error(
            "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority \
             and authorize a failover"
                .into()
        )
    );
    assert_eq!(
        run(2),
        Reply::Error(
            "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified \
             quorum for this master. Not enough available Sentinels to reach the majority and \
             authorize a failover"
                .into()
        )
    );
}

#[test]
fn simple_subcommands() {
    let (s, mid, _, _) = healthy(2);
    assert_eq!(
        get_master_addr_by_name(&s, "master01"),
        Reply::Array(vec![Reply::bulk("10.0.0.1"), Reply::bulk("6379")])
    );
    assert_eq!(get_master_addr_by_name(&s, "x"), Reply::NullArray);
    assert_eq!(myid(&s), Reply::bulk(ME));
    assert_eq!(pending_scripts(), Reply::Array(vec![]));
    assert_eq!(master(&s, "x", T0), no_such_master());
    assert_eq!(replicas(&s, "x", T0), no_such_master());
    assert_eq!(sentinels(&s, "x", T0), no_such_master());

    let cache = |id: InstanceId| (id == mid).then(|| "# Server\r\n".to_string());
    let r = info_cache(&s, &["x", "master01", "master01"], T0 + 100, &cache);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::bulk("master01"),
            Reply::Array(vec![
                Reply::Array(vec![Reply::Int(90), Reply::bulk("# Server\r\n")]),
                Reply::Array(vec![Reply::Int(84), Reply::Null]),
            ]),
        ])
    );
    assert_eq!(
        introspect(&s, &["INFO-CACHE", "master01"], T0 + 100, &cache),
        Some(r)
    );

    let is_down = IsMasterDownReply {
        down: true,
        leader: PEER_A.into(),
        leader_epoch: 4,
    };
    assert_eq!(
        is_master_down_by_addr(&is_down).to_resp(false),
        format!("*3\r\n:1\r\n$40\r\n{PEER_A}\r\n:4\r\n").into_bytes()
    );
    assert_eq!(failover::<()>(&Ok(())), Reply::ok());
    assert_eq!(
        failover::<()>(&Err(crate::state::FailoverError::InProgress)),
        Reply::Error("INPROG Failover already in progress".into())
    );
}

#[test]
fn help_is_framed_like_upstream() {
    let lines: Vec<String> = list(&help())
        .into_iter()
        .map(|r| match r {
            Reply::Status(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines[0],
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert_eq!(lines[1], "CKQUORUM <master-name>");
    assert_eq!(lines[lines.len() - 2..], ["HELP", "    Prints this help."]);
    assert_eq!(lines.len(), 49);
}

#[test]
fn subcommand_errors() {
    let s = Sentinel::new(&config(1, &[]), T0, 1);
    let ask = |args: &[&str]| introspect(&s, args, T0, &|_| None);
    assert_eq!(
        ask(&["nosuch"]),
        Some(Reply::Error(
            "ERR unknown subcommand 'nosuch'. Try SENTINEL HELP.".into()
        ))
    );
    assert_eq!(
        ask(&[]),
        Some(Reply::Error(
            "ERR wrong number of arguments for 'sentinel' command".into()
        ))
    );
    assert_eq!(
        ask(&["MASTER"]),
        Some(Reply::Error(
            "ERR wrong number of arguments for 'sentinel|master' command".into()
        ))
    );
    assert_eq!(
        ask(&["masters", "x"]),
        Some(Reply::Error(
            "ERR wrong number of arguments for 'sentinel|masters' command".into()
        ))
    );
    assert_eq!(
        ask(&["Get-Master-Addr-By-Name"]),
        Some(Reply::Error(
            "ERR wrong number of arguments for 'sentinel|get-master-addr-by-name' command".into()
        ))
    );
    assert_eq!(ask(&["master", "x"]), Some(no_such_master()));
    assert_eq!(ask(&["myid"]), Some(Reply::bulk(ME)));
    // State-changing subcommands are left to the caller once well-formed.
    assert_eq!(ask(&["failover", "master01"]), None);
    assert_eq!(ask(&["set", "master01", "quorum", "2"]), None);
    assert_eq!(
        ask(&["set", "master01", "quorum"]),
        Some(wrong_arity("sentinel|set"))
    );
    let long = "x".repeat(200);
    assert_eq!(
        unknown_subcommand(&long),
        Reply::Error(format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            "x".repeat(128)
        ))
    );
}

#[test]
fn sentinel_info_section_exact() {
    let (s, ..) = healthy(2);
    let p = InfoParams::default();
    assert_eq!(
        sentinel_section(&s, T0 + 1000, &p),
        "# Sentinel\r\n\
         sentinel_masters:1\r\n\
         sentinel_tilt:0\r\n\
         sentinel_tilt_since_seconds:-1\r\n\
         sentinel_total_tilt:0\r\n\
         sentinel_running_scripts:0\r\n\
         sentinel_scripts_queue_length:0\r\n\
         sentinel_simulate_failure_flags:0\r\n\
         master0:name=master01,status=ok,address=10.0.0.1:6379,slaves=1,sentinels=2\r\n"
    );
    // Without peers: sentinels=1 (itself).
    let mut s = Sentinel::new(&config(1, &[]), T0, 1);
    let mid = s.master_id("master01").unwrap();
    s.on_info_reply(mid, &master_info(), T0);
    let text = sentinel_section(&s, T0, &p);
    assert!(text.contains(
        "\r\nmaster0:name=master01,status=ok,address=10.0.0.1:6379,slaves=1,sentinels=1\r\n"
    ));
}

#[test]
fn masters_are_listed_by_name() {
    let mut cfg = config(1, &[]);
    let mut other = MasterConfig::new("alpha", Addr::new("10.0.1.1", 7000), 1);
    other.down_after_ms = 5000;
    cfg.masters.push(other);
    let s = Sentinel::new(&cfg, T0, 1);
    let text = sentinel_section(&s, T0, &InfoParams::default());
    assert!(text.ends_with(
        "sentinel_masters:2\r\nsentinel_tilt:0\r\nsentinel_tilt_since_seconds:-1\r\n\
         sentinel_total_tilt:0\r\nsentinel_running_scripts:0\r\n\
         sentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n\
         master0:name=alpha,status=ok,address=10.0.1.1:7000,slaves=0,sentinels=1\r\n\
         master1:name=master01,status=ok,address=10.0.0.1:6379,slaves=0,sentinels=1\r\n"
    ));
    let all = list(&masters(&s, T0));
    let order: Vec<_> = all.iter().map(|m| field(m, "name").unwrap()).collect();
    assert_eq!(order, ["alpha", "master01"]);
}

#[test]
fn tilt_lines() {
    let mut s = Sentinel::new(&config(1, &[]), T0, 1);
    s.tick(T0);
    s.tick(T0 + 5000);
    assert!(s.is_tilt());
    let text = sentinel_section(&s, T0 + 7500, &InfoParams::default());
    assert!(
        text.contains(
            "sentinel_tilt:1\r\nsentinel_tilt_since_seconds:2\r\nsentinel_total_tilt:1\r\n"
        ),
        "{text}"
    );
}

#[test]
fn full_info_sections() {
    let (s, ..) = healthy(2);
    let p = InfoParams {
        server: ServerInfo {
            version: "7.0.15".into(),
            os: "Linux 6.1.0 x86_64".into(),
            process_id: 42,
            process_supervised: "no".into(),
            run_id: ME.into(),
            tcp_port: 26379,
            server_time_usec: 5,
            uptime_in_seconds: 90_000,
            hz: 10,
            configured_hz: 10,
            lru_clock: 7,
            executable: "/usr/bin/redis-sentinel".into(),
            config_file: "/etc/sentinel.conf".into(),
        },
        clients: ClientsInfo {
            connected_clients: 3,
            maxclients: 10_000,
            ..ClientsInfo::default()
        },
        stats: Some("total_connections_received:9\r\n".into()),
        ..InfoParams::default()
    };
    let text = info(&s, T0 + 1000, &p, &[]);
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(headers, ["# Server", "# Clients", "# Stats", "# Sentinel"]);
    assert!(text.contains("\r\nredis_mode:sentinel\r\n"));
    assert!(text.contains("\r\nuptime_in_days:1\r\nhz:10\r\n"));
    assert!(text.contains(&format!("\r\nrun_id:{ME}\r\ntcp_port:26379\r\n")));
    assert!(text.contains("io_threads_active:0\r\n\r\n# Clients\r\nconnected_clients:3\r\n"));
    assert!(text.contains("total_connections_received:9\r\n\r\n# Sentinel\r\n"));
    assert!(text.ends_with("sentinels=2\r\n"));
    assert!(text.lines().all(|l| !l.contains('\n')));
    assert!(text.split("\r\n").all(|l| !l.contains('\n')));
    // One section, case-insensitively; unknown sections add nothing.
    let only = info(&s, T0 + 1000, &p, &["SENTINEL", "keyspace"]);
    assert_eq!(only, sentinel_section(&s, T0 + 1000, &p));
    assert_eq!(info(&s, T0, &p, &["nosuch"]), "");
}

#[test]
fn resp_encoding() {
    let m = Reply::Map(vec![(Reply::bulk("a"), Reply::bulk("1"))]);
    assert_eq!(m.to_resp(false), b"*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(m.to_resp(true), b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(Reply::NullArray.to_resp(false), b"*-1\r\n");
    assert_eq!(Reply::Null.to_resp(false), b"$-1\r\n");
    assert_eq!(Reply::Null.to_resp(true), b"_\r\n");
    assert_eq!(Reply::ok().to_resp(false), b"+OK\r\n");
    assert_eq!(Reply::Error("ERR x".into()).to_resp(true), b"-ERR x\r\n");
    assert_eq!(Reply::Int(-3).to_resp(false), b":-3\r\n");
}
