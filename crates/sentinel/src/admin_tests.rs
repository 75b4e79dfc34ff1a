//! Tests of the state-changing `SENTINEL` subcommands: replies and error
//! texts (checked against Redis 7.0.15), events, the actions handed to
//! the driver, and what the rewritten configuration file says afterwards.

use crate::admin::run_subcommand;
use crate::config::{Addr, KnownSentinel, MasterConfig, SentinelConfig};
use crate::info::{InfoReport, Role};
use crate::reply::Reply;
use crate::rewrite::rewrite;
use crate::state::{Action, Event, EventLevel, InstanceId, Sentinel, Timings};

const ME: &str = "1111111111111111111111111111111111111111";
const PEER_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const T0: u64 = 1_000_000;

fn run_id(n: u8) -> String {
    format!("{:040}", n)
}

fn config() -> SentinelConfig {
    let mut m = MasterConfig::new("master01", Addr::new("10.0.0.1", 6379), 2);
    m.down_after_ms = 5000;
    m.add_known_sentinel(KnownSentinel {
        addr: Addr::new("10.0.0.9", 26380),
        run_id: PEER_A.to_string(),
    });
    SentinelConfig {
        myid: Some(ME.to_string()),
        masters: vec![m],
        ..SentinelConfig::default()
    }
}

/// A sentinel whose master `master01` (10.0.0.1:6379) is healthy, with
/// one replica (10.0.0.2:6380) and one peer sentinel, all connected.
struct Fixture {
    s: Sentinel,
    cfg: SentinelConfig,
    master: InstanceId,
    replica: InstanceId,
    peer: InstanceId,
}

fn fixture() -> Fixture {
    let cfg = config();
    let mut s = Sentinel::new(&cfg, T0, 7);
    let master = s.master_id("master01").unwrap();
    s.on_connected(master, T0);
    s.on_ping_reply(master, "PONG", T0 + 5);
    let info = InfoReport {
        run_id: Some(run_id(1)),
        role: Some(Role::Master),
        replicas: vec![Addr::new("10.0.0.2", 6380)],
        ..InfoReport::default()
    };
    s.on_info_reply(master, &info, T0 + 10);
    let replica = s.replicas("master01")[0].id;
    s.on_connected(replica, T0 + 10);
    s.on_ping_reply(replica, "PONG", T0 + 15);
    let info = InfoReport {
        run_id: Some(run_id(2)),
        role: Some(Role::Replica),
        master_host: Some("10.0.0.1".to_string()),
        master_port: Some(6379),
        master_link_up: true,
        repl_offset: Some(100),
        ..InfoReport::default()
    };
    s.on_info_reply(replica, &info, T0 + 16);
    let peer = s.sentinels("master01")[0].id;
    s.on_connected(peer, T0 + 20);
    Fixture {
        s,
        cfg,
        master,
        replica,
        peer,
    }
}

impl Fixture {
    fn run(&mut self, line: &str) -> (Reply, Vec<Action>) {
        let args: Vec<&str> = line.split(' ').collect();
        self.run_args(&args)
    }

    fn run_args(&mut self, args: &[&str]) -> (Reply, Vec<Action>) {
        run_subcommand(&mut self.s, &mut self.cfg, args, T0 + 100)
    }

    /// The reply of a call that must change nothing.
    fn refused(&mut self, line: &str) -> Reply {
        let (r, actions) = self.run(line);
        assert!(actions.is_empty(), "{line}: {actions:?}");
        r
    }

    /// The rewritten configuration file, starting from an empty one.
    fn saved(&self) -> String {
        rewrite("", &self.s.to_config(&self.cfg))
    }
}

fn err(text: &str) -> Reply {
    Reply::Error(text.to_string())
}

fn warning(name: &str, text: &str) -> Action {
    Action::Event(Event {
        level: EventLevel::Warning,
        name: name.to_string(),
        text: text.to_string(),
    })
}

fn events(actions: &[Action]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some((e.name.clone(), e.text.clone())),
            _ => None,
        })
        .collect()
}

fn disconnected(actions: &[Action]) -> Vec<InstanceId> {
    let mut ids: Vec<InstanceId> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Disconnect { instance } => Some(*instance),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[InstanceId]) -> Vec<InstanceId> {
    let mut v = ids.to_vec();
    v.sort();
    v
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

fn expect(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lines_with(text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------
// MONITOR
// ---------------------------------------------------------------------

#[test]
fn monitor_adds_a_master_with_default_settings() {
    let mut f = fixture();
    let (r, actions) = f.run("MONITOR new 10.0.0.7 6390 3");
    assert_eq!(r, Reply::ok());
    assert_eq!(
        actions,
        vec![
            warning("+monitor", "master new 10.0.0.7 6390 quorum 3"),
            Action::SaveConfig
        ]
    );
    let m = f.s.master_config("new").unwrap();
    assert_eq!(
        (m.quorum, m.down_after_ms, m.failover_timeout_ms),
        (3, 30_000, 180_000)
    );
    assert_eq!(m.parallel_syncs, 1);
    assert_eq!(f.s.master_addr("new"), Some(Addr::new("10.0.0.7", 6390)));
    // The next tick connects to it.
    let id = f.s.master_id("new").unwrap();
    let tick = f.s.tick(T0 + 200);
    assert!(tick
        .iter()
        .any(|a| matches!(a, Action::Connect { instance, .. } if *instance == id)));
    let saved = f.saved();
    assert_eq!(
        lines_with(&saved, " new "),
        [
            "sentinel monitor new 10.0.0.7 6390 3",
            "sentinel config-epoch new 0",
            "sentinel leader-epoch new 0"
        ]
    );
    // Still in the file with the other master.
    assert!(saved.contains("sentinel monitor master01 10.0.0.1 6379 2"));
}

#[test]
fn monitor_errors() {
    let mut f = fixture();
    let cases = [
        ("MONITOR x 10.0.0.7 6390 abc", "ERR Invalid quorum"),
        ("MONITOR x 10.0.0.7 6390 +3", "ERR Invalid quorum"),
        ("MONITOR x 10.0.0.7 6390 1.5", "ERR Invalid quorum"),
        ("MONITOR x 10.0.0.7 abc abc", "ERR Invalid quorum"),
        ("MONITOR x 10.0.0.7 abc 1", "ERR Invalid port"),
        ("MONITOR x 10.0.0.7 06390 1", "ERR Invalid port"),
        (
            "MONITOR x 10.0.0.7 6390 0",
            "ERR Quorum must be 1 or greater.",
        ),
        (
            "MONITOR x 10.0.0.7 6390 -1",
            "ERR Quorum must be 1 or greater.",
        ),
        ("MONITOR x 10.0.0.7 6390 -0", "ERR Invalid quorum"),
        (
            "MONITOR x localhost 6390 1",
            "ERR Invalid IP address or hostname specified",
        ),
        (
            "MONITOR x 1.2.3.4.5 70000 1",
            "ERR Invalid IP address or hostname specified",
        ),
        ("MONITOR x 10.0.0.7 70000 1", "ERR Invalid port number."),
        ("MONITOR x 10.0.0.7 -1 1", "ERR Invalid port number."),
        (
            "MONITOR master01 10.0.0.7 6390 1",
            "ERR Duplicate master name.",
        ),
        (
            "MONITOR x 10.0.0.7 6390",
            "ERR wrong number of arguments for 'sentinel|monitor' command",
        ),
    ];
    for (line, text) in cases {
        assert_eq!(f.refused(line), err(text), "{line}");
    }
    assert_eq!(f.s.master_id("x"), None);
}

#[test]
fn monitor_addresses_and_odd_values() {
    let mut f = fixture();
    // Numeric hosts in any form the C library accepts, canonicalized.
    for (name, host, want) in [
        ("a", "127.1", "127.0.0.1"),
        ("b", "0x7f.0.0.1", "127.0.0.1"),
        ("c", "2130706433", "127.0.0.1"),
        ("d", "1.2.3", "1.2.0.3"),
        ("e", "010.0.0.1", "8.0.0.1"),
        ("f", "::FFFF:1.2.3.4", "::ffff:1.2.3.4"),
        ("g", "0:0::1", "::1"),
        ("h", "::1.2.3.4", "::1.2.3.4"),
        ("i", "0xffffffff", "255.255.255.255"),
        ("j", "1.0x10.3", "1.16.0.3"),
        ("k", "00", "0.0.0.0"),
        ("l", "0x0.0", "0.0.0.0"),
        ("m", "::", "::"),
        ("n", "::2", "::2"),
        ("o", "1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("p", "1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
        ("q", "FE80:0:0:0:0:0:0:0", "fe80::"),
        ("r", "1:0:0:2:2:0:0:3", "1::2:2:0:0:3"),
        ("s", "0:0:0:0:0:1:1.2.3.4", "::1:102:304"),
    ] {
        let (r, _) = f.run(&format!("MONITOR {name} {host} 7000 1"));
        assert_eq!(r, Reply::ok(), "{host}");
        assert_eq!(f.s.master_addr(name), Some(Addr::new(want, 7000)), "{host}");
    }
    for bad in [
        "08.0.0.1",
        "1.2.3.256",
        "256.1",
        "1..2",
        "0x100000000",
        "4294967296",
        "0x",
        "1.2.3.",
        "",
    ] {
        let args = ["MONITOR", "bad", bad, "7000", "1"];
        let (r, _) = f.run_args(&args);
        assert_eq!(
            r,
            err("ERR Invalid IP address or hostname specified"),
            "{bad}"
        );
    }
    // Host names are accepted with resolve-hostnames.
    f.cfg.resolve_hostnames = true;
    let (r, _) = f.run("MONITOR byname redis.example 7000 1");
    assert_eq!(r, Reply::ok());
    assert_eq!(
        f.s.master_addr("byname"),
        Some(Addr::new("redis.example", 7000))
    );
    // Upstream keeps the quorum in 32 bits and accepts any name.
    let (_, actions) = f.run("MONITOR wrapped 10.0.0.7 6390 4294967297");
    assert_eq!(f.s.master_config("wrapped").unwrap().quorum, 1);
    assert_eq!(
        events(&actions),
        [(
            "+monitor".into(),
            "master wrapped 10.0.0.7 6390 quorum 1".into()
        )]
    );
    let (r, _) = f.run_args(&["MONITOR", "a b,c", "10.0.0.7", "6390", "1"]);
    assert_eq!(r, Reply::ok());
    let (r, _) = f.run_args(&["MONITOR", "", "10.0.0.7", "6390", "1"]);
    assert_eq!(r, Reply::ok());
    assert!(f.saved().contains("sentinel monitor \"\" 10.0.0.7 6390 1"));
    // DEBUG default-down-after / default-failover-timeout apply to new
    // masters.
    f.run("DEBUG default-down-after 1234 default-failover-timeout 5678");
    f.run("MONITOR late 10.0.0.7 6390 1");
    let m = f.s.master_config("late").unwrap();
    assert_eq!((m.down_after_ms, m.failover_timeout_ms), (1234, 5678));
}

// ---------------------------------------------------------------------
// REMOVE
// ---------------------------------------------------------------------

#[test]
fn remove_forgets_a_master_and_its_instances() {
    let mut f = fixture();
    let (r, actions) = f.run("REMOVE master01");
    assert_eq!(r, Reply::ok());
    assert_eq!(
        events(&actions),
        [("-monitor".into(), "master master01 10.0.0.1 6379".into())]
    );
    assert_eq!(
        disconnected(&actions),
        sorted(&[f.master, f.replica, f.peer])
    );
    assert_eq!(actions.last(), Some(&Action::SaveConfig));
    assert_eq!(f.s.master_id("master01"), None);
    assert!(f.s.instance(f.replica).is_none());
    assert!(!f.saved().contains("master01"));
    assert_eq!(
        f.refused("REMOVE master01"),
        err("ERR No such master with that name")
    );
    assert_eq!(
        f.refused("REMOVE"),
        err("ERR wrong number of arguments for 'sentinel|remove' command")
    );
}

#[test]
fn remove_runs_the_notification_script() {
    let mut f = fixture();
    let mut m = f.cfg.masters[0].clone();
    m.name = "scripted".into();
    m.notification_script = Some("/n.sh".into());
    m.known_sentinels.clear();
    f.s.add_master(m, T0).unwrap();
    let (_, actions) = f.run("REMOVE scripted");
    assert!(actions.contains(&Action::RunScript {
        path: "/n.sh".into(),
        args: vec!["-monitor".into(), "master scripted 10.0.0.1 6379".into()],
    }));
}

// ---------------------------------------------------------------------
// SET
// ---------------------------------------------------------------------

#[test]
fn set_every_numeric_option() {
    let mut f = fixture();
    let (r, actions) = f.run(
        "SET master01 down-after-milliseconds 7000 FAILOVER-TIMEOUT 9000 parallel-syncs 3 \
         quorum 1 master-reboot-down-after-period 0 master-reboot-down-after-period 60000",
    );
    assert_eq!(r, Reply::ok());
    let tail = "master master01 10.0.0.1 6379";
    assert_eq!(
        events(&actions),
        [
            (
                "+set".into(),
                format!("{tail} down-after-milliseconds 7000")
            ),
            ("+set".into(), format!("{tail} FAILOVER-TIMEOUT 9000")),
            ("+set".into(), format!("{tail} parallel-syncs 3")),
            ("+set".into(), format!("{tail} quorum 1")),
            (
                "+set".into(),
                format!("{tail} master-reboot-down-after-period 0")
            ),
            (
                "+set".into(),
                format!("{tail} master-reboot-down-after-period 60000")
            ),
        ]
    );
    // One save at the end, no link dropped.
    assert_eq!(actions.last(), Some(&Action::SaveConfig));
    assert_eq!(
        actions.iter().filter(|a| **a == Action::SaveConfig).count(),
        1
    );
    assert!(disconnected(&actions).is_empty());
    let m = f.s.master_config("master01").unwrap();
    assert_eq!(
        (
            m.down_after_ms,
            m.failover_timeout_ms,
            m.parallel_syncs,
            m.quorum,
            m.master_reboot_down_after_ms
        ),
        (7000, 9000, 3, 1, 60_000)
    );
    let saved = f.saved();
    for line in [
        "sentinel monitor master01 10.0.0.1 6379 1",
        "sentinel down-after-milliseconds master01 7000",
        "sentinel failover-timeout master01 9000",
        "sentinel parallel-syncs master01 3",
        "sentinel master-reboot-down-after-period master01 60000",
    ] {
        assert!(saved.contains(line), "{line} missing from\n{saved}");
    }
}

#[test]
fn set_credentials_and_renamed_commands_reconnect() {
    let mut f = fixture();
    let (r, actions) = f.run("SET master01 auth-pass s3cret");
    assert_eq!(r, Reply::ok());
    let tail = "master master01 10.0.0.1 6379";
    assert_eq!(
        events(&actions),
        [("+set".into(), format!("{tail} auth-pass ******"))]
    );
    // The master's and the replica's links are reopened, not the peer's.
    assert_eq!(disconnected(&actions), [f.master, f.replica]);
    let tick = f.s.tick(T0 + 1100);
    for id in [f.master, f.replica] {
        assert!(
            tick.iter()
                .any(|a| matches!(a, Action::Connect { instance, .. } if *instance == id)),
            "{tick:?}"
        );
    }
    let (_, actions) = f.run("SET master01 Auth-User bob");
    assert_eq!(
        events(&actions),
        [("+set".into(), format!("{tail} Auth-User bob"))]
    );
    assert_eq!(disconnected(&actions), [f.master, f.replica]);
    let (_, actions) = f.run("SET master01 rename-command CONFIG xconfig rename-command ping p");
    assert_eq!(
        events(&actions),
        [
            (
                "+set".into(),
                format!("{tail} rename-command CONFIG xconfig")
            ),
            ("+set".into(), format!("{tail} rename-command ping p")),
        ]
    );
    assert_eq!(disconnected(&actions).len(), 4);
    // A new renaming replaces the old one; renaming to itself removes it.
    f.run("SET master01 rename-command config yconfig rename-command PING ping");
    let m = f.s.master_config("master01").unwrap();
    assert_eq!(m.auth_pass.as_deref(), Some("s3cret"));
    assert_eq!(m.auth_user.as_deref(), Some("bob"));
    assert_eq!(
        m.renamed_commands,
        [("config".to_string(), "yconfig".to_string())]
    );
    let saved = f.saved();
    for line in [
        "sentinel auth-pass master01 s3cret",
        "sentinel auth-user master01 bob",
        "sentinel rename-command master01 config yconfig",
    ] {
        assert!(saved.contains(line), "{line} missing from\n{saved}");
    }
    // Empty values clear the credentials.
    f.run_args(&["SET", "master01", "auth-pass", "", "auth-user", ""]);
    let m = f.s.master_config("master01").unwrap();
    assert_eq!((m.auth_pass.clone(), m.auth_user.clone()), (None, None));
    assert!(!f.saved().contains("auth-"));
}

#[test]
fn set_errors() {
    let mut f = fixture();
    let cases: &[(&[&str], &str)] = &[
        (
            &["SET", "nosuch", "quorum", "2"],
            "ERR No such master with that name",
        ),
        (
            &["SET", "master01", "foo", "1"],
            "ERR Unknown option or number of arguments for SENTINEL SET 'foo'",
        ),
        (
            &["SET", "master01", "rename-command", "CONFIG"],
            "ERR Unknown option or number of arguments for SENTINEL SET 'rename-command'",
        ),
        (
            &["SET", "master01", "quorum"],
            "ERR wrong number of arguments for 'sentinel|set' command",
        ),
        (
            &["SET", "master01", "quorum", "0"],
            "ERR Invalid argument '0' for SENTINEL SET 'quorum'",
        ),
        (
            &["SET", "master01", "QUORUM", "abc"],
            "ERR Invalid argument 'abc' for SENTINEL SET 'QUORUM'",
        ),
        (
            &["SET", "master01", "down-after-milliseconds", "0"],
            "ERR Invalid argument '0' for SENTINEL SET 'down-after-milliseconds'",
        ),
        (
            &["SET", "master01", "failover-timeout", "-5"],
            "ERR Invalid argument '-5' for SENTINEL SET 'failover-timeout'",
        ),
        (
            &["SET", "master01", "parallel-syncs", "01"],
            "ERR Invalid argument '01' for SENTINEL SET 'parallel-syncs'",
        ),
        (
            &["SET", "master01", "master-reboot-down-after-period", "-1"],
            "ERR Invalid argument '-1' for SENTINEL SET 'master-reboot-down-after-period'",
        ),
        (
            &["SET", "master01", "rename-command", "", "x"],
            "ERR Invalid argument '' for SENTINEL SET 'rename-command'",
        ),
        (
            &["SET", "master01", "rename-command", "x", ""],
            "ERR Invalid argument '' for SENTINEL SET 'rename-command'",
        ),
        (
            &["SET", "master01", "notification-script", "/bin/sh"],
            "ERR Reconfiguration of scripts path is denied for security reasons. Check the \
             deny-scripts-reconfig configuration directive in your Sentinel configuration",
        ),
        (
            &["SET", "master01", "client-reconfig-script", ""],
            "ERR Reconfiguration of scripts path is denied for security reasons. Check the \
             deny-scripts-reconfig configuration directive in your Sentinel configuration",
        ),
        (
            &["SET", "master01", "quorum", "a\r\nb"],
            "ERR Invalid argument 'a  b' for SENTINEL SET 'quorum'",
        ),
    ];
    for (args, text) in cases {
        let (r, actions) = f.run_args(args);
        assert_eq!(r, err(text), "{args:?}");
        assert!(actions.is_empty(), "{args:?}: {actions:?}");
    }
    assert_eq!(f.s.master_config("master01").unwrap(), &f.cfg.masters[0]);
}

#[test]
fn set_stops_at_the_first_bad_option_keeping_the_earlier_ones() {
    let mut f = fixture();
    let (r, actions) = f.run("SET master01 quorum 5 parallel-syncs 0 failover-timeout 1");
    assert_eq!(
        r,
        err("ERR Invalid argument '0' for SENTINEL SET 'parallel-syncs'")
    );
    assert_eq!(
        actions,
        vec![
            warning("+set", "master master01 10.0.0.1 6379 quorum 5"),
            Action::SaveConfig
        ]
    );
    let m = f.s.master_config("master01").unwrap();
    assert_eq!((m.quorum, m.parallel_syncs), (5, 1));
    assert_eq!(m.failover_timeout_ms, 180_000);
    let (r, actions) = f.run("SET master01 quorum 4 parallel-syncs");
    assert_eq!(
        r,
        err("ERR Unknown option or number of arguments for SENTINEL SET 'parallel-syncs'")
    );
    assert_eq!(actions.len(), 2);
    assert_eq!(f.s.master_config("master01").unwrap().quorum, 4);
}

#[cfg(unix)]
#[test]
fn set_scripts_when_allowed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sentinel-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("notify.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plain = dir.join("plain.txt");
    std::fs::write(&plain, "x").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = script.to_string_lossy().into_owned();
    let plain = plain.to_string_lossy().into_owned();

    let mut f = fixture();
    f.cfg.deny_scripts_reconfig = false;
    let (r, _) = f.run_args(&["SET", "master01", "notification-script", &plain]);
    assert_eq!(
        r,
        err("ERR Notification script seems non existing or non executable")
    );
    let (r, _) = f.run_args(&["SET", "master01", "client-reconfig-script", "/no/such"]);
    assert_eq!(
        r,
        err("ERR Client reconfiguration script seems non existing or non executable")
    );
    let (r, actions) = f.run_args(&[
        "SET",
        "master01",
        "notification-script",
        &script,
        "client-reconfig-script",
        &script,
    ]);
    assert_eq!(r, Reply::ok());
    // The +set events are warnings: they run the (new) notification
    // script.
    let text = format!("master master01 10.0.0.1 6379 notification-script {script}");
    assert!(actions.contains(&Action::RunScript {
        path: script.clone(),
        args: vec!["+set".into(), text],
    }));
    let m = f.s.master_config("master01").unwrap();
    assert_eq!(m.notification_script.as_deref(), Some(script.as_str()));
    assert_eq!(m.client_reconfig_script.as_deref(), Some(script.as_str()));
    assert!(f
        .saved()
        .contains(&format!("sentinel notification-script master01 {script}")));
    // An empty path clears a script.
    let (r, _) = f.run_args(&["SET", "master01", "notification-script", ""]);
    assert_eq!(r, Reply::ok());
    assert_eq!(
        f.s.master_config("master01").unwrap().notification_script,
        None
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------
// RESET
// ---------------------------------------------------------------------

#[test]
fn reset_forgets_replicas_and_sentinels() {
    let mut f = fixture();
    f.run("MONITOR other 10.0.0.7 6390 1");
    f.run("SET master01 quorum 1");
    // A failover in progress is forgotten too.
    f.s.failover("master01", T0 + 50).unwrap();
    assert!(f.s.failover_state("master01") != Some(crate::state::FailoverState::None));
    let (r, actions) = f.run("RESET master0?");
    assert_eq!(r, Reply::Int(1));
    assert_eq!(
        events(&actions),
        [(
            "+reset-master".into(),
            "master master01 10.0.0.1 6379".into()
        )]
    );
    assert_eq!(
        disconnected(&actions),
        sorted(&[f.master, f.replica, f.peer])
    );
    assert_eq!(actions.last(), Some(&Action::SaveConfig));
    assert!(f.s.replicas("master01").is_empty());
    assert!(f.s.sentinels("master01").is_empty());
    assert_eq!(
        f.s.failover_state("master01"),
        Some(crate::state::FailoverState::None)
    );
    let v = f.s.instance(f.master).unwrap();
    assert_eq!((v.connected, v.run_id, v.s_down), (false, None, false));
    // Address and settings are kept.
    assert_eq!(
        f.s.master_addr("master01"),
        Some(Addr::new("10.0.0.1", 6379))
    );
    assert_eq!(f.s.master_config("master01").unwrap().quorum, 1);
    let saved = f.saved();
    assert!(!saved.contains("known-"), "{saved}");
    // The master is reconnected by the next tick.
    let tick = f.s.tick(T0 + 1200);
    let master = f.master;
    assert!(tick
        .iter()
        .any(|a| matches!(a, Action::Connect { instance, .. } if *instance == master)));
    // Case-sensitive glob; no match is 0.
    assert_eq!(f.run("RESET MASTER*").0, Reply::Int(0));
    assert_eq!(f.run("RESET *").0, Reply::Int(2));
    assert_eq!(
        f.refused("RESET"),
        err("ERR wrong number of arguments for 'sentinel|reset' command")
    );
}

// ---------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------

#[test]
fn config_get_lists_the_global_parameters() {
    let mut f = fixture();
    let r = f.refused("CONFIG GET *");
    assert_eq!(
        pairs(&r),
        expect(&[
            ("resolve-hostnames", "no"),
            ("announce-hostnames", "no"),
            ("announce-ip", ""),
            ("announce-port", "0"),
            ("sentinel-user", ""),
            ("sentinel-pass", ""),
        ])
    );
    let r = f.refused("config get ANNOUNCE-*");
    assert_eq!(
        pairs(&r),
        expect(&[
            ("announce-hostnames", "no"),
            ("announce-ip", ""),
            ("announce-port", "0"),
        ])
    );
    assert_eq!(f.refused("CONFIG GET nomatch"), Reply::Map(Vec::new()));
    // RESP2: a flat array; RESP3: a map.
    let r = f.refused("CONFIG GET announce-port");
    assert_eq!(
        r.to_resp(false),
        b"*2\r\n$13\r\nannounce-port\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        r.to_resp(true),
        b"%1\r\n$13\r\nannounce-port\r\n$1\r\n0\r\n"
    );
}

#[test]
fn config_set_changes_global_parameters() {
    let mut f = fixture();
    for line in [
        "CONFIG SET RESOLVE-hostnames YES",
        "CONFIG SET announce-hostnames yes",
        "CONFIG SET Announce-IP 10.1.1.1",
        "CONFIG SET announce-port 26999",
    ] {
        let (r, actions) = f.run(line);
        assert_eq!(r, Reply::ok(), "{line}");
        assert_eq!(actions, [Action::SaveConfig], "{line}");
    }
    assert!(f.cfg.resolve_hostnames && f.cfg.announce_hostnames);
    assert_eq!(
        (f.cfg.announce_ip.as_deref(), f.cfg.announce_port),
        (Some("10.1.1.1"), 26999)
    );
    // The hellos announce the new address.
    let tick = f.s.tick(T0 + 3000);
    let hello = tick
        .iter()
        .find_map(|a| match a {
            Action::PublishHello { hello, .. } => Some(hello.payload("local")),
            _ => None,
        })
        .unwrap();
    assert!(
        hello.starts_with(&format!("10.1.1.1,26999,{ME},")),
        "{hello}"
    );
    // Credentials for other sentinels drop their links.
    let (r, actions) = f.run("CONFIG SET sentinel-user admin");
    assert_eq!(r, Reply::ok());
    assert_eq!(disconnected(&actions), [f.peer]);
    assert_eq!(actions.last(), Some(&Action::SaveConfig));
    let (_, actions) = f.run("CONFIG SET sentinel-pass pw");
    assert_eq!(disconnected(&actions), [f.peer]);
    assert_eq!(
        pairs(&f.refused("CONFIG GET *")),
        expect(&[
            ("resolve-hostnames", "yes"),
            ("announce-hostnames", "yes"),
            ("announce-ip", "10.1.1.1"),
            ("announce-port", "26999"),
            ("sentinel-user", "admin"),
            ("sentinel-pass", "pw"),
        ])
    );
    let saved = f.saved();
    for line in [
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        "sentinel announce-ip \"10.1.1.1\"",
        "sentinel announce-port 26999",
        "sentinel sentinel-user admin",
        "sentinel sentinel-pass pw",
    ] {
        assert!(saved.contains(line), "{line} missing from\n{saved}");
    }
    // Empty values unset.
    f.run_args(&["CONFIG", "SET", "announce-ip", ""]);
    f.run_args(&["CONFIG", "SET", "sentinel-pass", ""]);
    f.run("CONFIG SET announce-port 0");
    assert_eq!(
        (f.cfg.announce_ip.clone(), f.cfg.sentinel_pass.clone()),
        (None, None)
    );
    let tick = f.s.tick(T0 + 6000);
    let hello = tick
        .iter()
        .find_map(|a| match a {
            Action::PublishHello { hello, .. } => Some(hello.payload("10.5.5.5")),
            _ => None,
        })
        .unwrap();
    assert!(hello.starts_with("10.5.5.5,26379,"), "{hello}");
    assert!(!f.saved().contains("announce-ip"));
}

#[test]
fn config_errors() {
    let mut f = fixture();
    let only = "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.";
    let cases = [
        (
            "CONFIG SET foo bar",
            "ERR Invalid argument 'foo' to SENTINEL CONFIG SET",
        ),
        (
            "CONFIG SET resolve-hostnames maybe",
            "ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'resolve-hostnames'",
        ),
        (
            "CONFIG SET announce-hostnames 1",
            "ERR Invalid value '1' to SENTINEL CONFIG SET 'announce-hostnames'",
        ),
        (
            "CONFIG SET announce-port 65536",
            "ERR Invalid value '65536' to SENTINEL CONFIG SET 'announce-port'",
        ),
        (
            "CONFIG SET announce-port -1",
            "ERR Invalid value '-1' to SENTINEL CONFIG SET 'announce-port'",
        ),
        (
            "CONFIG SET announce-port 012",
            "ERR Invalid value '012' to SENTINEL CONFIG SET 'announce-port'",
        ),
        ("CONFIG GET", only),
        ("CONFIG SET a", only),
        ("CONFIG GET a b", only),
        ("CONFIG SET a b c", only),
        ("CONFIG FOO a", only),
        (
            "CONFIG",
            "ERR wrong number of arguments for 'sentinel|config' command",
        ),
    ];
    for (line, text) in cases {
        assert_eq!(f.refused(line), err(text), "{line}");
    }
    assert_eq!(f.cfg, config());
}

// ---------------------------------------------------------------------
// DEBUG
// ---------------------------------------------------------------------

#[test]
fn debug_lists_the_timing_parameters() {
    let mut f = fixture();
    let r = f.refused("DEBUG");
    assert_eq!(
        pairs(&r),
        expect(&[
            ("INFO-PERIOD", "10000"),
            ("PING-PERIOD", "1000"),
            ("ASK-PERIOD", "1000"),
            ("PUBLISH-PERIOD", "2000"),
            ("DEFAULT-DOWN-AFTER", "30000"),
            ("DEFAULT-FAILOVER-TIMEOUT", "180000"),
            ("TILT-TRIGGER", "2000"),
            ("TILT-PERIOD", "30000"),
            ("SLAVE-RECONF-TIMEOUT", "10000"),
            ("MIN-LINK-RECONNECT-PERIOD", "15000"),
            ("ELECTION-TIMEOUT", "10000"),
            ("SCRIPT-MAX-RUNTIME", "60000"),
            ("SCRIPT-RETRY-DELAY", "30000"),
        ])
    );
    let resp3 = r.to_resp(true);
    assert!(resp3.starts_with(b"%13\r\n$11\r\nINFO-PERIOD\r\n$5\r\n10000\r\n"));
    assert!(r.to_resp(false).starts_with(b"*26\r\n"));
}

#[test]
fn debug_sets_timing_parameters() {
    let mut f = fixture();
    let line = "DEBUG info-period 1 PING-PERIOD 2 ask-period 3 publish-period 4 \
        default-down-after 5 default-failover-timeout 6 tilt-trigger 7 tilt-period 8 \
        slave-reconf-timeout 9 min-link-reconnect-period 10 election-timeout 11 \
        script-max-runtime 12 script-retry-delay 13";
    assert_eq!(f.refused(line), Reply::ok());
    let values: Vec<u64> = f.s.timings().list().iter().map(|(_, v)| *v).collect();
    assert_eq!(values, (1..=13).collect::<Vec<u64>>());
    assert_eq!(f.s.timings().min_link_reconnect_period, 10);
    assert_eq!(f.s.timings().script_max_runtime, 12);
    assert_eq!(f.s.timings().script_retry_delay, 13);
}

#[test]
fn debug_errors_keep_the_earlier_parameters() {
    let mut f = fixture();
    let cases = [
        (
            "DEBUG foo 1",
            "ERR Unknown option or number of arguments for SENTINEL DEBUG 'foo'",
        ),
        (
            "DEBUG info-period",
            "ERR Unknown option or number of arguments for SENTINEL DEBUG 'info-period'",
        ),
        (
            "DEBUG info-period 0",
            "ERR Invalid argument '0' for SENTINEL DEBUG 'info-period'",
        ),
        (
            "DEBUG Ping-Period abc",
            "ERR Invalid argument 'abc' for SENTINEL DEBUG 'Ping-Period'",
        ),
        (
            "DEBUG tilt-period -5",
            "ERR Invalid argument '-5' for SENTINEL DEBUG 'tilt-period'",
        ),
    ];
    for (line, text) in cases {
        assert_eq!(f.refused(line), err(text), "{line}");
    }
    assert_eq!(*f.s.timings(), Timings::default());
    assert_eq!(
        f.refused("DEBUG INFO-PERIOD 5000 ping-period 900 foo"),
        err("ERR Unknown option or number of arguments for SENTINEL DEBUG 'foo'")
    );
    assert_eq!(
        (f.s.timings().info_period, f.s.timings().ping_period),
        (5000, 900)
    );
}

// ---------------------------------------------------------------------
// SIMULATE-FAILURE
// ---------------------------------------------------------------------

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Log { level, text } => {
                assert_eq!(*level, EventLevel::Warning);
                text.clone()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn simulate_failure_flags() {
    let mut f = fixture();
    let (r, actions) = f.run("SIMULATE-FAILURE crash-after-promotion CRASH-AFTER-ELECTION");
    assert_eq!(r, Reply::ok());
    assert_eq!(f.s.simulate_failure_flags(), 3);
    assert_eq!(
        logs(&actions),
        [
            "Failure simulation: this Sentinel will crash after promoting the selected \
             replica to master",
            "Failure simulation: this Sentinel will crash after being successfully elected \
             as failover leader",
        ]
    );
    // Every call starts from no flags.
    f.run("SIMULATE-FAILURE crash-after-election");
    assert_eq!(f.s.simulate_failure_flags(), 1);
    // An unknown flag is refused, those before it stay set.
    let (r, _) = f.run("SIMULATE-FAILURE crash-after-promotion foo crash-after-election");
    assert_eq!(r, err("ERR Unknown failure simulation specified"));
    assert_eq!(f.s.simulate_failure_flags(), 2);
    let (r, actions) = f.run("SIMULATE-FAILURE help");
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::bulk("crash-after-election"),
            Reply::bulk("crash-after-promotion")
        ])
    );
    assert!(actions.is_empty());
    assert_eq!(f.s.simulate_failure_flags(), 0);
    assert_eq!(
        f.refused("SIMULATE-FAILURE"),
        err("ERR wrong number of arguments for 'sentinel|simulate-failure' command")
    );
    // INFO shows the flags the driver passes along.
    f.run("SIMULATE-FAILURE crash-after-promotion");
    let p = crate::reply::InfoParams::default();
    let info = crate::reply::sentinel_section(&f.s, T0, &p);
    assert!(
        info.contains("sentinel_simulate_failure_flags:2\r\n"),
        "{info}"
    );
}

// ---------------------------------------------------------------------
// FLUSHCONFIG, IS-MASTER-DOWN-BY-ADDR, FAILOVER
// ---------------------------------------------------------------------

#[test]
fn flushconfig_saves() {
    let mut f = fixture();
    assert_eq!(
        f.run("FLUSHCONFIG"),
        (Reply::ok(), vec![Action::SaveConfig])
    );
    assert_eq!(
        f.refused("FLUSHCONFIG now"),
        err("ERR wrong number of arguments for 'sentinel|flushconfig' command")
    );
}

fn down_reply(down: i64, leader: &str, epoch: i64) -> Reply {
    Reply::Array(vec![
        Reply::Int(down),
        Reply::bulk(leader),
        Reply::Int(epoch),
    ])
}

#[test]
fn is_master_down_by_addr() {
    let mut f = fixture();
    let not_int = "ERR value is not an integer or out of range";
    for line in [
        "IS-MASTER-DOWN-BY-ADDR 10.0.0.1 abc 0 *",
        "IS-MASTER-DOWN-BY-ADDR 10.0.0.1 6379 abc *",
        "IS-MASTER-DOWN-BY-ADDR 10.0.0.1 abc abc *",
        "IS-MASTER-DOWN-BY-ADDR 10.0.0.1 6379 1.0 *",
    ] {
        assert_eq!(f.refused(line), err(not_int), "{line}");
    }
    assert_eq!(
        f.refused("IS-MASTER-DOWN-BY-ADDR 10.0.0.1 6379 0"),
        err("ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command")
    );
    // No vote asked: just the down state.
    assert_eq!(
        f.refused("IS-MASTER-DOWN-BY-ADDR 10.0.0.1 6379 0 *"),
        down_reply(0, "*", 0)
    );
    // Unknown master, or a port no master can have.
    assert_eq!(
        f.refused("IS-MASTER-DOWN-BY-ADDR 10.0.0.1 99999999 5 x"),
        down_reply(0, "*", 0)
    );
    assert_eq!(
        f.refused("IS-MASTER-DOWN-BY-ADDR 10.9.9.9 6379 5 x"),
        down_reply(0, "*", 0)
    );
    // A vote: new epoch, saved.
    let (r, actions) = f.run(&format!("IS-MASTER-DOWN-BY-ADDR 10.0.0.1 6379 7 {PEER_A}"));
    assert_eq!(r, down_reply(0, PEER_A, 7));
    assert_eq!(
        events(&actions),
        [
            ("+new-epoch".into(), "7".into()),
            ("+vote-for-leader".into(), format!("{PEER_A} 7")),
        ]
    );
    assert!(actions.contains(&Action::SaveConfig));
    assert_eq!(f.s.current_epoch(), 7);
    // Already voted in that epoch.
    assert_eq!(
        f.refused("IS-MASTER-DOWN-BY-ADDR 10.0.0.1 6379 7 other"),
        down_reply(0, PEER_A, 7)
    );
    // A numeric address in another form finds the same master.
    assert_eq!(
        f.refused("IS-MASTER-DOWN-BY-ADDR 10.0.1 6379 0 *"),
        down_reply(0, "*", 0)
    );
}

#[test]
fn failover_subcommand() {
    let mut f = fixture();
    assert_eq!(
        f.refused("FAILOVER nosuch"),
        err("ERR No such master with that name")
    );
    let (r, actions) = f.run("FAILOVER master01");
    assert_eq!(r, Reply::ok());
    assert_eq!(
        events(&actions),
        [
            ("+new-epoch".into(), "1".into()),
            (
                "+try-failover".into(),
                "master master01 10.0.0.1 6379".into()
            ),
        ]
    );
    assert_eq!(
        f.refused("FAILOVER master01"),
        err("INPROG Failover already in progress")
    );
    // No usable replica.
    f.run("MONITOR lonely 10.0.0.7 6390 1");
    assert_eq!(
        f.refused("FAILOVER lonely"),
        err("NOGOODSLAVE No suitable replica to promote")
    );
}

// ---------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------

#[test]
fn other_subcommands_and_bad_calls() {
    let mut f = fixture();
    assert_eq!(
        f.refused("NOSUCH"),
        err("ERR unknown subcommand 'NOSUCH'. Try SENTINEL HELP.")
    );
    assert_eq!(
        run_subcommand(&mut f.s, &mut f.cfg, &[], T0).0,
        err("ERR wrong number of arguments for 'sentinel' command")
    );
    // Read-only subcommands are answered as introspect does.
    assert_eq!(f.refused("MYID"), Reply::bulk(ME));
    assert_eq!(
        f.refused("GET-MASTER-ADDR-BY-NAME master01"),
        Reply::Array(vec![Reply::bulk("10.0.0.1"), Reply::bulk("6379")])
    );
}

#[test]
fn the_saved_file_reflects_every_change() {
    let mut f = fixture();
    let original = "port 26379\nsentinel monitor master01 10.0.0.1 6379 2\n\
        sentinel down-after-milliseconds master01 5000\n\
        sentinel monitor gone 10.0.0.8 6379 1\n";
    f.run("MONITOR gone 10.0.0.8 6379 1");
    f.run("MONITOR added 10.0.0.7 6390 1");
    f.run("REMOVE gone");
    f.run("SET master01 down-after-milliseconds 6000 auth-pass pw");
    f.run("CONFIG SET announce-port 26000");
    let text = rewrite(original, &f.s.to_config(&f.cfg));
    assert!(text.contains("sentinel monitor master01 10.0.0.1 6379 2\n"));
    assert!(text.contains("sentinel down-after-milliseconds master01 6000\n"));
    assert!(text.contains("sentinel auth-pass master01 pw\n"));
    assert!(text.contains("sentinel monitor added 10.0.0.7 6390 1\n"));
    assert!(!text.contains("gone"), "{text}");
    assert!(text.contains("sentinel announce-port 26000\n"));
    // And reads back to the same masters.
    let back = crate::config::parse_with(
        &text,
        &crate::config::ParseOptions {
            check_scripts: false,
            ..Default::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = back.masters.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["master01", "added"]);
    assert_eq!(back.announce_port, 26000);
    assert_eq!(back.masters[0].down_after_ms, 6000);
}
