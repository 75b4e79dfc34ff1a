//! Tests of [`crate::nodes_conf`]: fixtures written by the reference
//! round-trip byte for byte; a table of broken and odd files checked
//! against the measured upstream outcome, and run through the reference
//! itself (exit status, log lines, and for accepted files the loaded slots,
//! open slots and epochs); a live 4-node reference cluster whose files
//! round-trip at every step; the lock message with two processes on one
//! file.

use super::*;
use crate::reference_tests::{cluster_args, start, start_node, Conn, Outcome, Reply, ScratchDir};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const FIXTURES: [(&str, &str); 8] = [
    ("fresh_node", include_str!("fixtures/fresh_node.conf")),
    (
        "slots_before_meet",
        include_str!("fixtures/slots_before_meet.conf"),
    ),
    (
        "hostname_myself",
        include_str!("fixtures/hostname_myself.conf"),
    ),
    (
        "replica_myself",
        include_str!("fixtures/replica_myself.conf"),
    ),
    (
        "migrating_importing",
        include_str!("fixtures/migrating_importing.conf"),
    ),
    (
        "after_failover_voter",
        include_str!("fixtures/after_failover_voter.conf"),
    ),
    ("failed_nodes", include_str!("fixtures/failed_nodes.conf")),
    (
        "nofailover_replica",
        include_str!("fixtures/nofailover_replica.conf"),
    ),
];

#[test]
fn fixtures_round_trip() {
    for (name, text) in FIXTURES {
        let conf = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(format(&conf), text, "{name}");
        assert!(conf.myself().is_some(), "{name}");
        // The model also survives a second trip.
        assert_eq!(parse(&format(&conf)).unwrap(), conf, "{name}");
    }
}

#[test]
fn fixture_contents() {
    let fresh = parse(FIXTURES[0].1).unwrap();
    let me = fresh.myself().unwrap();
    assert_eq!((me.ip.as_str(), me.port, me.cport), ("", 0, 0));
    assert_eq!(me.flags, NodeFlags::MYSELF | NodeFlags::MASTER);
    assert!(me.slots.is_empty());

    let host = parse(FIXTURES[2].1).unwrap();
    let me = host.myself().unwrap();
    assert_eq!(me.hostname, "host-two.example");
    assert_eq!(me.slots.to_string(), "10923-16383");
    assert_eq!(host.current_epoch, 3);

    let replica = parse(FIXTURES[3].1).unwrap();
    let me = replica.myself().unwrap();
    assert_eq!(me.flags, NodeFlags::MYSELF | NodeFlags::SLAVE);
    assert_eq!(
        me.master.as_deref(),
        Some("474e3db093caa1395742ca757d4402bee3db2b1f")
    );

    let mig = parse(FIXTURES[4].1).unwrap();
    let me = mig.myself().unwrap();
    assert_eq!(me.migrating.len(), 2);
    assert_eq!(me.importing.len(), 1);
    assert_eq!(
        me.importing.get(&6000).map(String::as_str),
        Some("5b133d6a3f041c5356b97427be7191c54fde5a97")
    );
    assert_eq!(me.slots.count(), 5460);

    let voter = parse(FIXTURES[5].1).unwrap();
    assert_eq!((voter.current_epoch, voter.last_vote_epoch), (4, 4));
    let failed = &voter.nodes[1];
    assert_eq!(failed.flags, NodeFlags::MASTER | NodeFlags::FAIL);
    assert_eq!(failed.link_state, LinkState::Disconnected);
    assert!(failed.ping_pending() && failed.pong_seen());

    let nofo = parse(FIXTURES[7].1).unwrap();
    assert_eq!(
        nofo.myself().unwrap().flags.to_string(),
        "myself,slave,nofailover"
    );
}

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

/// The myself line used by most cases.
fn me() -> String {
    format!("{A} 127.0.0.1:19401@19451 myself,master - 0 0 1 connected")
}

/// Another node's address: a loopback port of this crate's range where
/// nothing listens, so the reference's bus connection attempts stay local.
const OTHER: &str = "127.0.0.1:19498@19499";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Ok,
    Empty,
    Corrupted(Corruption),
    UnknownFlag,
    DuplicateMyself,
    OpenSlotWithoutDash,
    Crash(CrashCause),
}

struct Case {
    name: &'static str,
    text: Vec<u8>,
    expect: Expect,
    /// Whether to run it through the reference too (not for undefined
    /// behaviour upstream).
    differential: bool,
}

fn case(name: &'static str, text: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        text: text.into(),
        expect,
        differential: true,
    }
}

fn cases() -> Vec<Case> {
    use Corruption::*;
    use Expect::*;
    let m = me();
    let vars = "vars currentEpoch 1 lastVoteEpoch 0\n";
    vec![
        case("good", format!("{m} 0-10\n{vars}"), Ok),
        case("empty", "", Empty),
        case(
            "truncated",
            format!("{A} 127.0.0.1:19401@19451 myself,master - 0 0\n{vars}"),
            Corrupted(TooFewFields),
        ),
        case(
            "seven_fields",
            format!("{A} 127.0.0.1:19401@19451 myself,master - 0 0 1\n"),
            Corrupted(TooFewFields),
        ),
        case("one_word", format!("foo\n{m}\n"), Corrupted(TooFewFields)),
        case(
            "unknown_flag",
            format!("{A} 127.0.0.1:19401@19451 myself,master,bogus - 0 0 1 connected\n"),
            UnknownFlag,
        ),
        case(
            "empty_flag_word",
            format!("{A} 127.0.0.1:19401@19451 myself,,master - 0 0 1 connected\n"),
            UnknownFlag,
        ),
        case(
            "quoted_empty_flags",
            format!("{A} 127.0.0.1:19401@19451 \"\" - 0 0 1 connected\n"),
            UnknownFlag,
        ),
        case(
            "flag_before_master_id",
            format!("{A} 127.0.0.1:19401@19451 myself,bogus abc 0 0 1 connected\n"),
            UnknownFlag,
        ),
        case("slot_too_big", format!("{m} 16384\n"), Corrupted(SlotOutOfRange)),
        case("range_too_big", format!("{m} 0-16384\n"), Corrupted(SlotOutOfRange)),
        case("lenient_slots", format!("{m} abc -5 10-5 20-x 30 30 x-3\n"), Ok),
        case("slots_in_quotes", format!("{m} \" 5\" \"6 -7\" +8\n"), Ok),
        case(
            "no_myself",
            format!("{A} 127.0.0.1:19401@19451 master - 0 0 1 connected 0-10\n{vars}"),
            Corrupted(NoMyself),
        ),
        case("only_vars", "vars currentEpoch 5 lastVoteEpoch 3\n", Corrupted(NoMyself)),
        case("only_newlines", "\n\n", Corrupted(NoMyself)),
        case(
            "two_myself",
            format!("{m}\n{B} {OTHER} myself,master - 0 0 2 connected\n"),
            DuplicateMyself,
        ),
        case(
            "myself_twice_on_a_line",
            format!("{A} 127.0.0.1:19401@19451 myself,myself - 0 0 1 connected\n"),
            DuplicateMyself,
        ),
        case(
            "ipv6",
            format!("{A} ::1:19401@19451 myself,master - 0 0 1 connected 0-10\n{B} ::1:19498@19499 master - 0 0 2 connected 11-20\n{vars}"),
            Ok,
        ),
        case(
            "hostname",
            format!("{A} 127.0.0.1:19401@19451,host.example myself,master - 0 0 1 connected 0-10\n{vars}"),
            Ok,
        ),
        case(
            "hostname_empty_and_commas",
            format!("{A} 127.0.0.1:19401@19451, myself,master - 0 0 1 connected\n{B} {OTHER},a,b master - 0 0 2 connected 1\n"),
            Ok,
        ),
        case("no_colon", format!("{A} 127.0.0.1@19451 myself,master - 0 0 1 connected\n"), Corrupted(NoPort)),
        case("no_colon_before_flag", format!("{A} 127.0.0.1 bogus - 0 0 1 connected\n"), Corrupted(NoPort)),
        case("no_bus_port", format!("{A} 127.0.0.1:19401 myself,master - 0 0 1 connected 7\n"), Ok),
        case("garbage_ports", format!("{A} 127.0.0.1:abc@xyz myself,master - 0 0 1 connected\n"), Ok),
        case("short_id", "abc 127.0.0.1:19401@19451 myself,master - 0 0 1 connected\n", Corrupted(BadNodeId)),
        case("id_41", format!("{A}a 127.0.0.1:19401@19451 myself,master - 0 0 1 connected\n"), Corrupted(BadNodeId)),
        case("id_upper", format!("{} 127.0.0.1:19401@19451 myself,master - 0 0 1 connected\n", "A".repeat(40)), Corrupted(BadNodeId)),
        case("id_not_hex", format!("{} 127.0.0.1:19401@19451 myself,master - 0 0 1 connected 3\n", "z".repeat(40)), Ok),
        case("id_bad_before_flag", "abc 127.0.0.1:19401@19451 bogus - 0 0 1 connected\n", Corrupted(BadNodeId)),
        case("master_short", format!("{m}\n{B} {OTHER} slave abc 0 0 1 connected\n"), Corrupted(BadMasterId)),
        case("master_upper", format!("{m}\n{B} {OTHER} slave {} 0 0 1 connected\n", "C".repeat(40)), Corrupted(BadMasterId)),
        case("master_dash_x", format!("{m} 1\n{B} {OTHER} slave -x 0 0 1 connected\n"), Ok),
        case("master_unknown", format!("{m} 1\n{B} {OTHER} slave {C} 0 0 1 connected\n"), Ok),
        case(
            "myself_replica",
            format!("{A} 127.0.0.1:19401@19451 myself,slave {B} 0 0 1 connected\n{B} {OTHER} master - 0 0 2 connected 0-100\nvars currentEpoch 2 lastVoteEpoch 0\n"),
            Ok,
        ),
        case(
            "open_slots",
            format!("{m} 0-10 [5->-{B}] [20-<-{B}]\n{B} {OTHER} master - 0 0 2 connected 11-30\n"),
            Ok,
        ),
        case(
            "open_slot_on_other_line",
            format!("{m} 0-10\n{B} {OTHER} master - 0 0 2 connected 11-30 [15->-{A}]\n"),
            Ok,
        ),
        case(
            "open_slot_both_ways",
            format!("{m} [5->-{B}] [5-<-{C}]\n{B} {OTHER} master - 0 0 2 connected\n{C} {OTHER} master - 0 0 3 connected\n"),
            Ok,
        ),
        case("open_slot_no_dash", format!("{m} [5]\n"), OpenSlotWithoutDash),
        case("open_slot_bad_slot_first", format!("{m} 99999 [5]\n"), Corrupted(SlotOutOfRange)),
        case("open_slot_no_dash_first", format!("{m} [5] 99999\n"), OpenSlotWithoutDash),
        case("open_slot_big", format!("{m} [99999->-{B}]\n"), Corrupted(SlotOutOfRange)),
        case("open_slot_negative", format!("{m} [-1->-{B}]\n"), Corrupted(BadOpenSlotNode)),
        case("open_slot_short_id", format!("{m} [5->-abc]\n"), Corrupted(BadOpenSlotNode)),
        case("open_slot_unclosed", format!("{m} [5->-{B}\n"), Corrupted(BadOpenSlotNode)),
        case("open_slot_long_id", format!("{m} [5->-{B}bb]\n"), Corrupted(BadOpenSlotNode)),
        case("open_slot_upper_id", format!("{m} [5->-{}]\n", "C".repeat(40)), Corrupted(BadOpenSlotNode)),
        case("open_slot_cut_1", format!("{m} [5-\n"), Corrupted(BadOpenSlotNode)),
        case("open_slot_cut_2", format!("{m} [5->\n"), Corrupted(BadOpenSlotNode)),
        case("open_slot_other_direction", format!("{m} [5-x-{B}]\n"), Ok),
        case("open_slot_text_slot", format!("{m} [ab->-{B}]\n"), Ok),
        case("open_slot_no_slot", format!("{m} [->-{B}]\n"), Ok),
        case("open_slot_trailing_junk", format!("{m} [5->-{B}]junk\n"), Ok),
        case("unbalanced_quote", format!("{A} \"127.0.0.1:19401@19451 myself,master - 0 0 1 connected\n"), Corrupted(Quoting)),
        case("quoted_fields", format!("{A} \"127.0.0.1:19401@19451\" 'myself,master' - 0 0 1 connected\n"), Ok),
        case("blank_only_line", format!("   \n{m}\n"), Crash(CrashCause::NoArguments)),
        case("crlf_only_line", format!("\r\n{m}\n"), Crash(CrashCause::NoArguments)),
        case("blank_lines", format!("\n\n{m}\n\n\n\n"), Ok),
        case("crlf", format!("{m} 0-3\r\nvars currentEpoch 4 lastVoteEpoch 1\r\n"), Ok),
        case("nul_in_line", format!("{m} 0-3\0 4-10\n"), Ok),
        case("nul_first", format!("\0abc\n{m}\n"), Ok),
        case("extra_blanks", format!("  {A}   127.0.0.1:19401@19451\tmyself,master - 0 0 1 connected   0-3  \n"), Ok),
        case("vars_alone", format!("{m}\nvars\n"), Ok),
        case("vars_unknown", format!("{m}\nvars currentEpoch 4 fooBar 7 lastVoteEpoch 1\n"), Ok),
        case("vars_odd", format!("{m}\nvars currentEpoch\n"), Corrupted(VarsOddArgs)),
        case("vars_odd_unknown", format!("{m}\nvars foo\n"), Corrupted(VarsOddArgs)),
        case("vars_odd_3", format!("{m}\nvars lastVoteEpoch 3 currentEpoch\n"), Corrupted(VarsOddArgs)),
        case("vars_garbage", format!("{m}\nvars currentEpoch abc lastVoteEpoch -1\n"), Ok),
        case("vars_first_and_case", format!("VARS CURRENTEPOCH 3 lastvoteepoch 2\n{m}\n"), Ok),
        case("vars_override", format!("{m}\nvars currentEpoch 5 lastVoteEpoch 3\nvars currentEpoch 4\n"), Ok),
        case("epoch_bump", format!("{A} 127.0.0.1:19401@19451 myself,master - 0 0 7 connected\nvars currentEpoch 2 lastVoteEpoch 1\n"), Ok),
        case(
            "epoch_garbage",
            format!("{A} 127.0.0.1:19401@19451 myself,master - 0 0 -1 connected\n{B} {OTHER} master - abc 99999999999 x7 whatever\n"),
            Ok,
        ),
        case(
            "duplicate_claims",
            format!("{m} 0-10\n{B} {OTHER} master - 0 0 2 connected 5-20\n{vars}"),
            Ok,
        ),
        case(
            "all_flags",
            format!("{A} 127.0.0.1:19401@19451 MYSELF,Master,nofailover - 0 0 1 connected\n{B} {OTHER} slave,fail?,fail,noaddr {A} 0 0 2 disconnected\n{C} {OTHER} noflags - 5 6 3 connected 9\nVARS currentEpoch 9 lastVoteEpoch 2\n"),
            Ok,
        ),
        case("handshake_node", format!("{m} 1\n{B} {OTHER} handshake - 0 0 0 connected\n"), Ok),
        case("ip_45", format!("{A} {}:19401@19451 myself,master - 0 0 1 connected\n", "1".repeat(45)), Ok),
        Case {
            // Undefined behaviour upstream (46 survived, 50 crashed).
            differential: false,
            ..case("ip_46", format!("{A} {}:19401@19451 myself,master - 0 0 1 connected\n", "1".repeat(46)), Crash(CrashCause::IpTooLong))
        },
        case("ip_60", format!("{A} {}:19401@19451 myself,master - 0 0 1 connected\n", "1".repeat(60)), Crash(CrashCause::IpTooLong)),
    ]
}

fn outcome_of(text: &[u8]) -> Result<NodesConf, NodesConfError> {
    parse_bytes(text)
}

fn matches(expect: Expect, got: &Result<NodesConf, NodesConfError>) -> bool {
    match (expect, got) {
        (Expect::Ok, Ok(_)) => true,
        (Expect::Empty, Err(NodesConfError::Empty)) => true,
        (Expect::Corrupted(c), Err(NodesConfError::Corrupted { cause, .. })) => c == *cause,
        (Expect::UnknownFlag, Err(NodesConfError::UnknownFlag { .. })) => true,
        (Expect::DuplicateMyself, Err(NodesConfError::DuplicateMyself { .. })) => true,
        (Expect::OpenSlotWithoutDash, Err(NodesConfError::OpenSlotWithoutDash { .. })) => true,
        (Expect::Crash(c), Err(NodesConfError::Crash { cause, .. })) => c == *cause,
        _ => false,
    }
}

#[test]
fn case_table() {
    for c in cases() {
        let got = outcome_of(&c.text);
        assert!(
            matches(c.expect, &got),
            "{}: expected {:?}, got {got:?}",
            c.name,
            c.expect
        );
    }
}

#[test]
fn lenient_values_as_upstream_loads_them() {
    let m = me();
    let conf = parse(&format!(
        "{m} abc -5 10-5 20-x 30 30 x-3 \" 5\" \"6 -7\" +8\n"
    ))
    .unwrap();
    assert_eq!(conf.nodes[0].slots.to_string(), "0-8 30");

    let conf = parse(&format!(
        "{A} 127.0.0.1:abc@xyz myself,master - 0 0 -1 connected\n{B} 127.0.0.1:99999@-1 master - abc 99999999999 x7 whatever\nvars currentEpoch abc lastVoteEpoch -1\n"
    ))
    .unwrap();
    let (a, b) = (&conf.nodes[0], &conf.nodes[1]);
    assert_eq!((a.port, a.cport), (0, 0));
    assert_eq!(a.config_epoch, u64::MAX);
    assert_eq!((b.port, b.cport), (99999, -1));
    assert_eq!(
        (b.ping_sent, b.pong_recv, b.config_epoch),
        (0, 99_999_999_999, 0)
    );
    assert!(!b.ping_pending() && b.pong_seen());
    assert_eq!(b.link_state, LinkState::Disconnected);
    assert_eq!((conf.current_epoch, conf.last_vote_epoch), (0, u64::MAX));
    assert_eq!(conf.effective_current_epoch(), u64::MAX);

    // atoi truncates to int: 2^32 reads as 0.
    let conf = parse(&format!(
        "{m}\n{B} {OTHER} master - 4294967296 1 0 connected\n"
    ))
    .unwrap();
    assert!(!conf.nodes[1].ping_pending());

    let conf = parse(&format!(
        "{A} 127.0.0.1:7000 myself,master - 0 0 1 connected\n"
    ))
    .unwrap();
    assert_eq!((conf.nodes[0].port, conf.nodes[0].cport), (7000, 17000));

    let conf = parse(&format!(
        "{A} 2001:db8::1:7000@17000,h,x myself,master - 0 0 1 connected\n"
    ))
    .unwrap();
    let n = &conf.nodes[0];
    assert_eq!(
        (n.ip.as_str(), n.port, n.cport, n.hostname.as_str()),
        ("2001:db8::1", 7000, 17000, "h,x")
    );
    assert_eq!(format(&conf), format!("{A} 2001:db8::1:7000@17000,h,x myself,master - 0 0 1 connected\nvars currentEpoch 0 lastVoteEpoch 0\n"));

    // Open slots: `[->-id]` is slot 0; any direction but `>` imports;
    // bytes after `]` are ignored.
    let conf = parse(&format!("{m} [->-{B}] [7-x-{C}] [9->-{B}]junk\n")).unwrap();
    let n = &conf.nodes[0];
    assert_eq!(
        n.migrating,
        BTreeMap::from([(0, B.to_string()), (9, B.to_string())])
    );
    assert_eq!(n.importing, BTreeMap::from([(7, C.to_string())]));
}

#[test]
fn warnings_and_load() {
    let m = me();
    let (conf, warnings) = parse_with_warnings(
        format!("{m}\nvars currentEpoch 4 fooBar 7 lastVoteEpoch 1\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(
        warnings,
        vec!["Skipping unknown cluster config variable 'fooBar'".to_string()]
    );
    assert_eq!((conf.current_epoch, conf.last_vote_epoch), (4, 1));
    assert_eq!(load(None), Ok(Load::NewNode));
    assert_eq!(load(Some(b"")), Ok(Load::NewNode));
    assert!(matches!(
        load(Some(b"\n")),
        Err(NodesConfError::Corrupted {
            cause: Corruption::NoMyself,
            ..
        })
    ));
    assert!(matches!(load(Some(m.as_bytes())), Ok(Load::Loaded { .. })));
}

#[test]
fn error_messages() {
    let e = parse("\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unrecoverable error: corrupted cluster config file."
    );
    assert_eq!(e.upstream_exit(), Some(UpstreamExit::Code(1)));
    assert_eq!(e.line(), 0);
    let e = parse(&format!("{A} :0@0 myself,bogus - 0 0 0 connected\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Guru Meditation: Unknown flag in redis cluster config file #cluster.c:292"
    );
    assert_eq!(e.upstream_exit(), Some(UpstreamExit::Signal(11)));
    assert_eq!(e.line(), 1);
    assert_eq!(
        parse(&format!("{A} :0@0 myself,myself - 0 0 0 connected\n"))
            .unwrap_err()
            .to_string(),
        "==> cluster.c:271 'server.cluster->myself == NULL' is not true"
    );
    assert_eq!(
        lock_held_message("nodes-6379.conf"),
        "Sorry, the cluster configuration file nodes-6379.conf is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files."
    );
    assert_eq!(
        lock_open_failed_message("/x/nodes.conf", "No such file or directory"),
        "Can't open /x/nodes.conf in order to acquire a lock: No such file or directory"
    );
    assert_eq!(NodesConfError::Empty.upstream_exit(), None);
}

#[test]
fn format_state() {
    let mut me = NodeLine {
        id: A.into(),
        ip: "127.0.0.1".into(),
        port: 7000,
        cport: 17000,
        flags: NodeFlags::MYSELF | NodeFlags::MASTER,
        config_epoch: 3,
        ..NodeLine::default()
    };
    me.slots.set_range(0, 5460);
    me.slots.set(5462);
    me.migrating.insert(5462, B.into());
    me.importing.insert(5462, C.into());
    me.importing.insert(7000, C.into());
    let replica = NodeLine {
        id: B.into(),
        ip: "::1".into(),
        port: 7001,
        cport: 17001,
        hostname: "b.example".into(),
        flags: NodeFlags::SLAVE | NodeFlags::PFAIL | NodeFlags::NOFAILOVER,
        master: Some(A.into()),
        ping_sent: 1700000000000,
        pong_recv: 1700000000001,
        config_epoch: 3,
        link_state: LinkState::Disconnected,
        ..NodeLine::default()
    };
    let shaking = NodeLine {
        id: C.into(),
        flags: NodeFlags::HANDSHAKE,
        ..NodeLine::default()
    };
    let placeholder = NodeLine {
        id: C.into(),
        ..NodeLine::default()
    };
    let conf = NodesConf {
        nodes: vec![me, replica, shaking, placeholder],
        current_epoch: 5,
        last_vote_epoch: 4,
    };
    assert_eq!(
        format(&conf),
        format!(
            "{A} 127.0.0.1:7000@17000 myself,master - 0 0 3 connected 0-5460 5462 [5462->-{B}] [7000-<-{C}]\n\
             {B} ::1:7001@17001,b.example slave,fail?,nofailover {A} 1700000000000 1700000000001 3 disconnected\n\
             {C} :0@0 noflags - 0 0 0 connected\n\
             vars currentEpoch 5 lastVoteEpoch 4\n"
        )
    );
    assert_eq!(NodeFlags::from_word(b"FAIL?"), Some(NodeFlags::PFAIL));
    assert_eq!(NodeFlags::from_word(b"noflags"), Some(NodeFlags::empty()));
    assert_eq!(NodeFlags::from_word(b"meet"), None);
    assert_eq!(NodeFlags::empty().to_string(), "noflags");
    assert_eq!(NodeFlags::MEET.to_string(), "noflags");
}

#[test]
fn long_lines_are_split_like_fgets() {
    // A line longer than upstream's buffer continues as a new "line": here
    // the continuation is a lone slot number, too few fields.
    let m = me();
    let pad = " ".repeat(MAX_LINE);
    let text = format!("{m}{pad}5\n");
    assert!(matches!(
        parse(&text),
        Err(NodesConfError::Corrupted {
            line: 2,
            cause: Corruption::TooFewFields
        })
    ));
    let chunks: Vec<&[u8]> = fgets_lines(b"a\nbc\n\nd").collect();
    assert_eq!(chunks, vec![&b"a\n"[..], b"bc\n", b"\n", b"d"]);
}

#[test]
fn c_numbers() {
    assert_eq!(c_atoi(b""), 0);
    assert_eq!(c_atoi(b"  -12x"), -12);
    assert_eq!(c_atoi(b"+7"), 7);
    assert_eq!(c_atoi(b"4294967297"), 1);
    assert_eq!(c_atoi(b"99999999999999999999"), -1);
    assert_eq!(c_atoi(b"-99999999999999999999"), 0);
    assert_eq!(c_strtoll(b"-9223372036854775808"), i64::MIN);
    assert_eq!(c_strtoull(b"-1"), u64::MAX);
    assert_eq!(c_strtoull(b"18446744073709551616"), u64::MAX);
    assert_eq!(c_strtoull(b"\t42"), 42);
    assert!(is_valid_node_id(A.as_bytes()));
    assert!(is_valid_node_id(
        "0123456789abcdefghijklmnopqrstuvwxyz0123".as_bytes()
    ));
    assert!(!is_valid_node_id("A".repeat(40).as_bytes()));
}

// ---------------------------------------------------------------------
// Against the reference.

/// `(id, flags, slots, open-slot entries)` of each `CLUSTER NODES` line.
fn cluster_nodes(conn: &mut Conn) -> Vec<(String, String, SlotSet, Vec<String>)> {
    let text = conn.cmd(&["CLUSTER", "NODES"]).text();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let mut slots = SlotSet::new();
            let mut open = Vec::new();
            for t in &f[8..] {
                if t.starts_with('[') {
                    open.push(t.to_string());
                } else if let Some((a, b)) = t.split_once('-') {
                    slots.set_range(a.parse().unwrap(), b.parse().unwrap());
                } else {
                    slots.set(t.parse().unwrap());
                }
            }
            (f[0].to_string(), f[2].to_string(), slots, open)
        })
        .collect()
}

fn info_field(conn: &mut Conn, field: &str) -> String {
    let text = conn.cmd(&["CLUSTER", "INFO"]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

/// What our model says the reference loaded, compared with what it shows.
fn compare_loaded(name: &str, conf: &NodesConf, conn: &mut Conn) {
    let shown = cluster_nodes(conn);
    // Slot ownership (first claim wins; repeated ids are one node).
    let mut ours: BTreeMap<String, SlotSet> = BTreeMap::new();
    for (slot, owner) in conf.slot_owners().iter().enumerate() {
        if let Some(i) = owner {
            ours.entry(conf.nodes[*i].id.clone())
                .or_default()
                .set(slot as u16);
        }
    }
    let theirs: BTreeMap<String, SlotSet> = shown
        .iter()
        .filter(|(_, _, s, _)| !s.is_empty())
        .map(|(id, _, s, _)| (id.clone(), s.clone()))
        .collect();
    assert_eq!(ours, theirs, "{name}: slot owners");

    // Open slots, shown on the myself line.
    let me = conf.myself().unwrap();
    let (my_id, my_flags, _, my_open) = shown
        .iter()
        .find(|(_, flags, _, _)| flags.contains("myself"))
        .unwrap();
    assert_eq!(my_id, &me.id, "{name}: myself");
    // myself's `nofailover` follows `cluster-replica-no-failover` (off
    // here) from startup on, whatever the file says.
    let mut my_loaded_flags = me.flags;
    my_loaded_flags.remove(NodeFlags::NOFAILOVER);
    assert_eq!(
        my_flags,
        &my_loaded_flags.to_string(),
        "{name}: myself flags"
    );
    let open_line = NodeLine {
        migrating: conf.migrating_slots(),
        importing: conf.importing_slots(),
        ..NodeLine::default()
    }
    .to_string();
    let ours_open: Vec<String> = open_line
        .split(' ')
        .filter(|t| t.starts_with('['))
        .map(str::to_string)
        .collect();
    assert_eq!(&ours_open, my_open, "{name}: open slots");

    assert_eq!(
        info_field(conn, "cluster_current_epoch"),
        conf.effective_current_epoch().to_string(),
        "{name}: current epoch"
    );
    // Everyone but a replica of a known master shows its own epoch.
    if me.master.is_none() {
        assert_eq!(
            info_field(conn, "cluster_my_epoch"),
            me.config_epoch.to_string(),
            "{name}: my epoch"
        );
    }
}

/// Each case of the table through the reference: how it ends (status and
/// log lines) and, when it starts, what it loaded.
#[test]
fn differential_load_cases() {
    const PORT: u16 = 19401;
    let (mut refused, mut started) = (0, 0);
    for c in cases().into_iter().filter(|c| c.differential) {
        let dir = ScratchDir::new(c.name);
        let conf_path = dir.path.join("nodes.conf");
        std::fs::write(&conf_path, &c.text).unwrap();
        let args = cluster_args(PORT, &dir.path, &conf_path);
        let ours = outcome_of(&c.text);
        match start(&args, &dir.path.join("log.txt"), PORT) {
            Outcome::Exited(status, log) => {
                refused += 1;
                let err = ours.as_ref().err().unwrap_or_else(|| {
                    panic!(
                        "{}: the reference exited ({status}) but we accept it:\n{log}",
                        c.name
                    )
                });
                match err.upstream_exit() {
                    Some(UpstreamExit::Code(code)) => {
                        assert_eq!(status.code(), Some(code), "{}: {log}", c.name)
                    }
                    Some(UpstreamExit::Signal(sig)) => {
                        assert_eq!(status.signal(), Some(sig), "{}: {log}", c.name)
                    }
                    None => panic!("{}: the reference exited on a new-node file: {log}", c.name),
                }
                // The lines appear, in order.
                let mut rest = log.as_str();
                for line in err.log_lines() {
                    let at = rest
                        .find(line)
                        .unwrap_or_else(|| panic!("{}: no {line:?} in order in:\n{log}", c.name));
                    rest = &rest[at + line.len()..];
                }
            }
            Outcome::Running(server) => {
                started += 1;
                let log = crate::reference_tests::read_lossy(&server.log);
                let mut conn = server.conn();
                match &ours {
                    Err(NodesConfError::Empty) => {
                        let id = conn.cmd(&["CLUSTER", "MYID"]).text();
                        assert!(log.contains(&no_config_message(&id)), "{}: {log}", c.name);
                    }
                    Ok(conf) => {
                        let me = conf.myself().unwrap();
                        assert!(log.contains(&loaded_message(&me.id)), "{}: {log}", c.name);
                        let (_, warnings) = parse_with_warnings(&c.text).unwrap();
                        for w in warnings {
                            assert!(log.contains(&w), "{}: no {w:?} in {log}", c.name);
                        }
                        compare_loaded(c.name, conf, &mut conn);
                    }
                    Err(e) => panic!(
                        "{}: the reference started but we refuse it: {e:?}\n{log}",
                        c.name
                    ),
                }
                drop(conn);
                drop(server);
            }
        }
    }
    assert!(
        refused >= 30 && started >= 30,
        "{refused} refused, {started} started"
    );
}

/// Reads a node's `nodes.conf` once it is stable (saves rewrite it in
/// place, so a read may catch a save in the middle).
fn stable_read(path: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = std::fs::read_to_string(path).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(30));
        let b = std::fs::read_to_string(path).unwrap_or_default();
        if a == b && a.contains("vars currentEpoch") && a.ends_with('\n') {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "{} never settles",
            path.display()
        );
    }
}

fn round_trip(stage: &str, path: &std::path::Path) -> NodesConf {
    let text = stable_read(path);
    let conf = parse(&text).unwrap_or_else(|e| panic!("{stage}: {e:?}\n{text}"));
    assert_eq!(format(&conf), text, "{stage}: {}", path.display());
    conf
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ok(reply: Reply, what: &str) {
    assert_eq!(reply, Reply::Status("OK".into()), "{what}");
}

/// A live reference cluster (three masters, one replica with a hostname,
/// open slots both ways): every node's file round-trips at every step.
#[test]
fn differential_live_cluster_files() {
    let ports = [19402u16, 19403, 19404, 19405];
    let dirs: Vec<ScratchDir> = ports
        .iter()
        .map(|p| ScratchDir::new(&format!("live{p}")))
        .collect();
    let servers: Vec<_> = ports
        .iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (&p, d))| {
            let extra: &[&str] = if i == 2 {
                &[
                    "--cluster-announce-hostname",
                    "node-c.example",
                    "--cluster-node-timeout",
                    "3000",
                ]
            } else {
                &["--cluster-node-timeout", "3000"]
            };
            start_node(p, &d.path, extra)
        })
        .collect();
    let files: Vec<_> = dirs.iter().map(|d| d.path.join("nodes.conf")).collect();
    let mut conns: Vec<Conn> = servers.iter().map(|s| s.conn()).collect();
    let ids: Vec<String> = conns
        .iter_mut()
        .map(|c| c.cmd(&["CLUSTER", "MYID"]).text())
        .collect();
    let check_all =
        |stage: &str| -> Vec<NodesConf> { files.iter().map(|f| round_trip(stage, f)).collect() };
    check_all("fresh");

    ok(
        conns[0].cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "5460"]),
        "addslots 0",
    );
    ok(conns[0].cmd(&["CLUSTER", "DELSLOTS", "1000"]), "delslots");
    ok(
        conns[1].cmd(&["CLUSTER", "ADDSLOTSRANGE", "5461", "10922"]),
        "addslots 1",
    );
    ok(
        conns[1].cmd(&["CLUSTER", "ADDSLOTS", "1000"]),
        "addslots 1000",
    );
    ok(
        conns[2].cmd(&["CLUSTER", "ADDSLOTSRANGE", "10923", "16383"]),
        "addslots 2",
    );
    let confs = check_all("slots");
    assert_eq!(
        confs[0].myself().unwrap().slots.to_string(),
        "0-999 1001-5460"
    );

    for &p in &ports[1..] {
        ok(
            conns[0].cmd(&[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &p.to_string(),
                &(p + 50).to_string(),
            ]),
            "meet",
        );
    }
    wait_for("all nodes to know each other", || {
        conns.iter_mut().all(|c| {
            let nodes = c.cmd(&["CLUSTER", "NODES"]).text();
            nodes.lines().count() == 4 && !nodes.contains("handshake") && !nodes.contains(":0@0")
        })
    });
    wait_for("cluster_state:ok", || {
        conns
            .iter_mut()
            .all(|c| info_field(c, "cluster_state") == "ok")
    });
    check_all("met");

    ok(
        conns[3].cmd(&["CLUSTER", "REPLICATE", &ids[0]]),
        "replicate",
    );
    wait_for("the replica to be known", || {
        conns.iter_mut().all(|c| {
            c.cmd(&["CLUSTER", "NODES"])
                .text()
                .lines()
                .any(|l| l.contains(&format!("slave {}", ids[0])))
        })
    });
    let confs = check_all("replica");
    let me3 = confs[3].myself().unwrap();
    assert!(me3.flags.contains(NodeFlags::SLAVE));
    assert_eq!(me3.master.as_deref(), Some(ids[0].as_str()));

    let setslot = |c: &mut Conn, slot: &str, how: &str, id: &str| {
        ok(c.cmd(&["CLUSTER", "SETSLOT", slot, how, id]), "setslot")
    };
    setslot(&mut conns[0], "100", "MIGRATING", &ids[1]);
    setslot(&mut conns[1], "100", "IMPORTING", &ids[0]);
    setslot(&mut conns[2], "11000", "MIGRATING", &ids[0]);
    setslot(&mut conns[0], "11000", "IMPORTING", &ids[2]);
    let confs = check_all("open slots");
    let me0 = confs[0].myself().unwrap();
    assert_eq!(me0.migrating, BTreeMap::from([(100, ids[1].clone())]));
    assert_eq!(me0.importing, BTreeMap::from([(11000, ids[2].clone())]));
    assert_eq!(confs[2].myself().unwrap().hostname, "node-c.example");

    // The files load back into the same state: restart node 1 on its own
    // file and compare.
    drop(conns);
    let mut servers = servers;
    let conf1 = round_trip("before restart", &files[1]);
    let s1 = servers.remove(1);
    drop(s1);
    let restarted = start_node(ports[1], &dirs[1].path, &["--cluster-node-timeout", "3000"]);
    let mut c1 = restarted.conn();
    compare_loaded("restarted", &conf1, &mut c1);
    round_trip("after restart", &files[1]);
    drop(c1);
    drop(restarted);
    drop(servers);
}

/// Two processes on one file: the second logs the lock message with the
/// configured file name and exits 1.
#[test]
fn differential_lock() {
    let dir = ScratchDir::new("lock");
    let other = ScratchDir::new("lock2");
    let first = start_node(19406, &dir.path, &[]);
    let conf_path = dir.path.join("nodes.conf");
    let args = cluster_args(19407, &other.path, &conf_path);
    match start(&args, &other.path.join("log.txt"), 19407) {
        Outcome::Exited(status, log) => {
            assert_eq!(status.code(), Some(1), "{log}");
            let want = lock_held_message(&conf_path.display().to_string());
            assert!(log.contains(&want), "no {want:?} in {log}");
        }
        Outcome::Running(_) => panic!("a second node started on a locked nodes.conf"),
    }
    // A missing directory: the open for the lock fails.
    let missing = other.path.join("missing").join("nodes.conf");
    let args = cluster_args(19407, &other.path, &missing);
    match start(&args, &other.path.join("log2.txt"), 19407) {
        Outcome::Exited(status, log) => {
            assert_eq!(status.code(), Some(1), "{log}");
            let want = lock_open_failed_message(
                &missing.display().to_string(),
                "No such file or directory",
            );
            assert!(log.contains(&want), "no {want:?} in {log}");
        }
        Outcome::Running(_) => panic!("started without its nodes.conf directory"),
    }
    drop(first);
}
