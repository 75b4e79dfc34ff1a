//! Tests of the cluster bus codec: field offsets and sizes, round trips
//! of every message type, byte-exact decoding and re-encoding of packets
//! captured from Redis 7.0 (`bus/fixtures/`, written by `bus::capture_tests`),
//! rejection of every truncation and length lie, and a time-bounded
//! fuzz run (random bytes and mutated valid packets) that must never
//! panic.

use std::time::{Duration, Instant};

use super::capture_tests::{node_name, HOSTNAME_A};
use super::header::offsets;
use super::*;

fn name(index: usize) -> NodeName {
    NodeName::parse(&node_name(index)).unwrap()
}

/// A's slots in the captures: all but 1, 8 and 16383.
fn a_slots() -> SlotBitmap {
    let mut s = SlotBitmap::new();
    s.set_range(0, 16382);
    s.clear(1);
    s.clear(8);
    s
}

fn fixture(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/bus/fixtures")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

const FIXTURES: [&str; 12] = [
    "meet.hex",
    "ping_hostname.hex",
    "pong.hex",
    "ping_replica.hex",
    "ping_paused.hex",
    "fail.hex",
    "publish.hex",
    "publishshard.hex",
    "mfstart.hex",
    "auth_request.hex",
    "auth_ack.hex",
    "update.hex",
];

/// Decodes a fixture and checks that re-encoding gives the same bytes.
fn exact(file: &str) -> Message {
    let bytes = fixture(file);
    let msg = decode(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(encode(&msg), bytes, "{file} re-encoded differently");
    assert_eq!(msg.encoded_len(), bytes.len());
    assert_eq!(frame_len(&bytes).unwrap(), Some(bytes.len()));
    msg
}

fn header(sender: usize) -> Header {
    let mut slots = SlotBitmap::new();
    slots.set_range(0, 5460);
    Header {
        port: 7000 + sender as u16,
        current_epoch: 0x0102_0304_0506_0708,
        config_epoch: 42,
        offset: 123_456_789,
        sender: name(sender),
        myslots: slots,
        slaveof: None,
        myip: IpField::new("10.0.0.1").unwrap(),
        pport: 0,
        cport: 17000 + sender as u16,
        flags: node_flags::MASTER | node_flags::MYSELF,
        state: cluster_state::OK,
        mflags: [0; 3],
    }
}

fn gossip(index: usize) -> Gossip {
    Gossip {
        node: name(index),
        ping_sent: 1_700_000_000,
        pong_received: 1_700_000_001,
        ip: IpField::new("::1").unwrap(),
        port: 7001,
        cport: 17001,
        flags: node_flags::SLAVE | node_flags::PFAIL,
        pport: 6001,
    }
}

/// One message of every kind, with and without optional parts.
fn samples() -> Vec<Message> {
    let mut update_slots = SlotBitmap::new();
    update_slots.set_range(5461, 10922);
    let ping = PingData {
        gossip: vec![gossip(1), gossip(2)],
        extensions: vec![PingExt::hostname("host-1.example.com")],
    };
    let mut replica = header(1);
    replica.slaveof = Some(name(0));
    replica.flags = node_flags::SLAVE;
    replica.mflags = [msg_flags::FORCEACK, 0, 0];
    let bodies = vec![
        Body::Ping(PingData::default()),
        Body::Ping(ping.clone()),
        Body::Pong(ping.clone()),
        Body::Meet(PingData {
            gossip: vec![gossip(2)],
            extensions: vec![
                PingExt::Unknown {
                    ext_type: 1,
                    data: vec![7; 40],
                },
                PingExt::hostname(""),
                PingExt::hostname("1234567"),
                PingExt::hostname("12345678"),
            ],
        }),
        Body::Fail { node: name(2) },
        Body::Publish {
            channel: b"chan".to_vec(),
            message: b"hello".to_vec(),
        },
        Body::Publish {
            channel: Vec::new(),
            message: Vec::new(),
        },
        Body::PublishShard {
            channel: b"{shard}chan".to_vec(),
            message: vec![0, 1, 2, 255],
        },
        Body::FailoverAuthRequest,
        Body::FailoverAuthAck,
        Body::MfStart,
        Body::Update {
            config_epoch: 9,
            node: name(2),
            slots: update_slots,
        },
        Body::Module {
            module_id: 0x1122_3344_5566_7788,
            module_type: 3,
            payload: b"module payload".to_vec(),
        },
        Body::Module {
            module_id: 1,
            module_type: 255,
            payload: Vec::new(),
        },
        Body::Unknown {
            msg_type: 11,
            count: 3,
            data: vec![1, 2, 3],
        },
        Body::Unknown {
            msg_type: 0xffff,
            count: 0,
            data: Vec::new(),
        },
    ];
    let mut out: Vec<Message> = bodies
        .into_iter()
        .map(|b| {
            let mut h = header(0);
            if b.ping_data().is_some_and(|d| !d.extensions.is_empty()) {
                h.mflags[0] |= msg_flags::EXT_DATA;
            }
            Message::new(h, b)
        })
        .collect();
    out.push(Message::new(replica, Body::FailoverAuthRequest));
    out
}

#[test]
fn sizes_match_redis_7_0() {
    assert_eq!(HEADER_LEN, 2256);
    assert_eq!(GOSSIP_LEN, 104);
    assert_eq!(FAIL_LEN, 2296);
    assert_eq!(UPDATE_LEN, 4352);
    assert_eq!(PUBLISH_FIXED_LEN, 8);
    assert_eq!(MODULE_FIXED_LEN, 13);
    assert_eq!(EXT_HEADER_LEN, 8);
    assert_eq!(MIN_READ_LEN, 8);
    assert_eq!(SLOT_BYTES, 2048);
    for m in samples() {
        let bytes = encode(&m);
        assert_eq!(bytes.len(), m.encoded_len());
        let expected = match &m.body {
            Body::Ping(d) | Body::Pong(d) | Body::Meet(d) => {
                2256 + 104 * d.gossip.len()
                    + d.extensions
                        .iter()
                        .map(|e| match e {
                            PingExt::Hostname(h) => 8 + (h.len() + 1).div_ceil(8) * 8,
                            PingExt::Unknown { data, .. } => 8 + data.len().div_ceil(8) * 8,
                        })
                        .sum::<usize>()
            }
            Body::Fail { .. } => 2296,
            Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
                2264 + channel.len() + message.len()
            }
            Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => 2256,
            Body::Update { .. } => 4352,
            Body::Module { payload, .. } => 2269 + payload.len(),
            Body::Unknown { data, .. } => 2256 + data.len(),
        };
        assert_eq!(bytes.len(), expected, "{:?}", m.kind());
        assert_eq!(
            u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize,
            expected
        );
    }
}

#[test]
fn header_fields_sit_at_7_0_offsets() {
    let mut h = header(0);
    h.slaveof = Some(name(1));
    h.pport = 0x1234;
    h.state = cluster_state::FAIL;
    h.mflags = [msg_flags::PAUSED, 0xaa, 0xbb];
    let msg = Message::new(
        h,
        Body::Ping(PingData {
            gossip: vec![gossip(2); 3],
            extensions: vec![PingExt::hostname("h")],
        }),
    );
    let b = encode(&msg);
    let u16_at = |o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
    let u64_at = |o: usize| u64::from_be_bytes(b[o..o + 8].try_into().unwrap());
    assert_eq!(&b[offsets::SIG..4], b"RCmb");
    assert_eq!(
        u32::from_be_bytes(b[offsets::TOTLEN..8].try_into().unwrap()) as usize,
        2256 + 3 * 104 + 16
    );
    assert_eq!(u16_at(offsets::VER), 1);
    assert_eq!(u16_at(offsets::PORT), 7000);
    assert_eq!(u16_at(offsets::TYPE), 0);
    assert_eq!(u16_at(offsets::COUNT), 3);
    assert_eq!(u64_at(offsets::CURRENT_EPOCH), 0x0102_0304_0506_0708);
    assert_eq!(u64_at(offsets::CONFIG_EPOCH), 42);
    assert_eq!(u64_at(offsets::OFFSET), 123_456_789);
    assert_eq!(
        &b[offsets::SENDER..offsets::SENDER + 40],
        name(0).as_bytes()
    );
    assert_eq!(b[offsets::MYSLOTS], 0xff);
    assert_eq!(b[offsets::MYSLOTS + 5460 / 8], 0b0001_1111); // 5456..=5460
    assert_eq!(b[offsets::MYSLOTS + 5464 / 8], 0);
    assert_eq!(
        &b[offsets::SLAVEOF..offsets::SLAVEOF + 40],
        name(1).as_bytes()
    );
    assert_eq!(&b[offsets::MYIP..offsets::MYIP + 9], b"10.0.0.1\0");
    assert_eq!(u16_at(offsets::EXTENSIONS), 1);
    assert!(b[offsets::NOTUSED..offsets::NOTUSED + 30]
        .iter()
        .all(|&x| x == 0));
    assert_eq!(u16_at(offsets::PPORT), 0x1234);
    assert_eq!(u16_at(offsets::CPORT), 17000);
    assert_eq!(u16_at(offsets::FLAGS), 17);
    assert_eq!(b[offsets::STATE], 1);
    // EXT_DATA added because the message carries an extension.
    assert_eq!(
        &b[offsets::MFLAGS..offsets::MFLAGS + 3],
        &[msg_flags::PAUSED | msg_flags::EXT_DATA, 0xaa, 0xbb]
    );
    assert_eq!(offsets::DATA, HEADER_LEN);
    // First gossip entry.
    let g = &b[HEADER_LEN..HEADER_LEN + 104];
    assert_eq!(&g[..40], name(2).as_bytes());
    assert_eq!(&g[40..44], &1_700_000_000u32.to_be_bytes());
    assert_eq!(&g[44..48], &1_700_000_001u32.to_be_bytes());
    assert_eq!(&g[48..52], b"::1\0");
    assert_eq!(
        &g[94..104],
        &[0x1b, 0x59, 0x42, 0x69, 0, 6, 0x17, 0x71, 0, 0]
    );
    // The extension: length, type, unused, "h\0" padded to 8.
    let e = &b[HEADER_LEN + 312..];
    assert_eq!(e, &[0, 0, 0, 16, 0, 0, 0, 0, b'h', 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn every_type_round_trips() {
    for m in samples() {
        let bytes = encode(&m);
        let back = decode(&bytes).unwrap_or_else(|e| panic!("{:?}: {e}", m.body));
        assert_eq!(back, m);
        assert_eq!(encode(&back), bytes);
        assert_eq!(try_encode(&m).unwrap(), bytes);
    }
}

#[test]
fn flag_constants_are_7_0_numbers() {
    assert_eq!(node_flags::MASTER, 1);
    assert_eq!(node_flags::SLAVE, 2);
    assert_eq!(node_flags::PFAIL, 4);
    assert_eq!(node_flags::FAIL, 8);
    assert_eq!(node_flags::MYSELF, 16);
    assert_eq!(node_flags::HANDSHAKE, 32);
    assert_eq!(node_flags::NOADDR, 64);
    assert_eq!(node_flags::MEET, 128);
    assert_eq!(node_flags::MIGRATE_TO, 256);
    assert_eq!(node_flags::NOFAILOVER, 512);
    assert_eq!(msg_flags::PAUSED, 1);
    assert_eq!(msg_flags::FORCEACK, 2);
    assert_eq!(msg_flags::EXT_DATA, 4);
    assert_eq!(NULL_NAME.as_bytes(), &[0u8; 40]);
    assert!(NULL_NAME.is_null());
    for t in 0..=MESSAGE_TYPE_COUNT {
        match MessageType::from_u16(t) {
            Some(k) => assert_eq!(k.as_u16(), t),
            None => assert_eq!(t, MESSAGE_TYPE_COUNT),
        }
    }
    assert_eq!(MessageType::PublishShard.as_u16(), 10);
    assert_eq!(MessageType::Module.name(), "module");
}

#[test]
fn field_types_behave() {
    assert!(NodeName::parse(&node_name(0)).is_some());
    assert!(NodeName::parse("ABCDEF0123456789abcdef0123456789abcdef01").is_none());
    assert!(NodeName::parse("abc").is_none());
    assert_eq!(format!("{}", name(1)), node_name(1));
    let ip = IpField::new("2001:db8:85a3:8d3:1319:8a2e:370:7348").unwrap();
    assert_eq!(ip.to_string_lossy(), "2001:db8:85a3:8d3:1319:8a2e:370:7348");
    assert!(IpField::new(&"1".repeat(46)).is_none());
    assert!(IpField::new(&"1".repeat(45)).is_some());
    assert!(IpField::EMPTY.is_empty());
    let mut s = SlotBitmap::new();
    s.set(0);
    s.set(9);
    s.set(16383);
    s.set(16384); // ignored
    assert_eq!(s.as_bytes()[0], 0x01);
    assert_eq!(s.as_bytes()[1], 0x02);
    assert_eq!(s.as_bytes()[2047], 0x80);
    assert_eq!(s.count(), 3);
    assert!(s.get(16383) && !s.get(16384) && !s.get(1));
    assert_eq!(s.ranges(), vec![(0, 0), (9, 9), (16383, 16383)]);
    s.clear(9);
    assert_eq!(format!("{s:?}"), "SlotBitmap[0,16383]");
    assert_eq!(a_slots().ranges(), vec![(0, 0), (2, 7), (9, 16382)]);
}

// ---- Captured 7.0 packets ----------------------------------------------

#[test]
fn fixtures_re_encode_byte_for_byte() {
    for f in FIXTURES {
        exact(f);
    }
}

#[test]
fn captured_meet() {
    let m = exact("meet.hex");
    assert_eq!(m.kind(), Some(MessageType::Meet));
    let h = &m.header;
    assert_eq!(h.sender, name(1));
    assert_eq!((h.port, h.cport, h.pport), (19372, 19382, 0));
    assert_eq!(h.myip.to_string_lossy(), "127.0.0.1");
    assert_eq!(h.flags, node_flags::MYSELF | node_flags::MASTER);
    assert_eq!(h.slaveof, None);
    assert!(h.myslots.is_empty());
    assert_eq!(h.state, cluster_state::FAIL);
    assert_eq!(m.body, Body::Meet(PingData::default()));
    assert_eq!(fixture("meet.hex").len(), HEADER_LEN);
}

#[test]
fn captured_ping_with_hostname_extension() {
    let bytes = fixture("ping_hostname.hex");
    assert_eq!(bytes.len(), 2256 + 104 + 24);
    let m = exact("ping_hostname.hex");
    let h = &m.header;
    assert_eq!(h.sender, name(0));
    assert_eq!((h.port, h.cport), (19371, 19381));
    assert!(h.myip.is_empty());
    assert_eq!(h.mflags, [msg_flags::EXT_DATA, 0, 0]);
    assert_eq!(h.myslots, a_slots());
    // Bit order as 7.0 lays it: slot n is bit n % 8 of byte n / 8.
    assert_eq!(bytes[offsets::MYSLOTS], 0xfd);
    assert_eq!(bytes[offsets::MYSLOTS + 1], 0xfe);
    assert_eq!(bytes[offsets::MYSLOTS + 2047], 0x7f);
    let Body::Ping(d) = &m.body else {
        panic!("not a ping: {m:?}")
    };
    assert_eq!(d.extensions, vec![PingExt::hostname(HOSTNAME_A)]);
    assert_eq!(d.gossip.len(), 1);
    let g = &d.gossip[0];
    assert!(g.node == name(1) || g.node == name(2));
    assert_eq!(g.ip.to_string_lossy(), "127.0.0.1");
    assert_eq!(g.cport, g.port + 10);
    assert_eq!(g.flags, node_flags::MASTER);
    // The extension record: length 24 first, then type 0.
    assert_eq!(&bytes[2360..2368], &[0, 0, 0, 24, 0, 0, 0, 0]);
    assert_eq!(&bytes[2368..], b"node-a.example\0\0");
}

#[test]
fn captured_pong_and_replica_ping() {
    let m = exact("pong.hex");
    assert_eq!(m.kind(), Some(MessageType::Pong));
    assert_eq!(m.header.sender, name(2));
    assert_eq!((m.header.port, m.header.cport), (19373, 19383));
    assert_eq!(m.header.mflags, [0; 3]);
    assert!(m.header.myslots.is_empty());
    let d = m.body.ping_data().unwrap();
    assert_eq!(d.gossip.len(), 1);
    assert!(d.extensions.is_empty());
    assert_eq!(fixture("pong.hex").len(), 2360);

    let m = exact("ping_replica.hex");
    assert_eq!(m.header.sender, name(1));
    assert_eq!(m.header.slaveof, Some(name(0)));
    assert_eq!(m.header.flags, node_flags::MYSELF | node_flags::SLAVE);
    // A replica advertises its master's slots.
    assert_eq!(m.header.myslots, a_slots());
    assert_eq!(m.header.myip.to_string_lossy(), "127.0.0.1");
}

#[test]
fn captured_manual_failover() {
    let m = exact("mfstart.hex");
    assert_eq!(m.body, Body::MfStart);
    assert_eq!(m.header.sender, name(1));
    assert_eq!(m.header.slaveof, Some(name(0)));

    let m = exact("ping_paused.hex");
    assert_eq!(m.header.sender, name(0));
    assert_eq!(m.header.mflags[0], msg_flags::PAUSED | msg_flags::EXT_DATA);

    let m = exact("auth_request.hex");
    assert_eq!(m.body, Body::FailoverAuthRequest);
    assert_eq!(m.header.sender, name(1));
    assert_eq!(m.header.mflags[0], msg_flags::FORCEACK);

    let m = exact("auth_ack.hex");
    assert_eq!(m.body, Body::FailoverAuthAck);
    assert_eq!(m.header.sender, name(0));
    for f in ["mfstart.hex", "auth_request.hex", "auth_ack.hex"] {
        assert_eq!(fixture(f).len(), HEADER_LEN);
    }
}

#[test]
fn captured_fail_publish_update() {
    let m = exact("fail.hex");
    assert_eq!(m.body, Body::Fail { node: name(2) });
    assert_eq!(fixture("fail.hex").len(), FAIL_LEN);

    let m = exact("publish.hex");
    assert_eq!(m.header.sender, name(0));
    assert!(m.header.offset > 0, "A had replicated a write");
    assert_eq!(
        m.body,
        Body::Publish {
            channel: b"news".to_vec(),
            message: b"hello cluster".to_vec()
        }
    );
    assert_eq!(fixture("publish.hex").len(), 2264 + 4 + 13);

    let m = exact("publishshard.hex");
    assert_eq!(
        m.body,
        Body::PublishShard {
            channel: b"shardnews".to_vec(),
            message: b"hello shard".to_vec()
        }
    );

    let m = exact("update.hex");
    assert_eq!(fixture("update.hex").len(), UPDATE_LEN);
    assert_eq!(m.header.sender, name(1));
    let Body::Update {
        config_epoch,
        node,
        slots,
    } = &m.body
    else {
        panic!("not an update: {m:?}")
    };
    assert_eq!(*node, name(1));
    assert_eq!(*config_epoch, m.header.config_epoch);
    assert!(*config_epoch > 0);
    assert_eq!(*slots, a_slots());
}

#[test]
fn reserved_fields_are_ignored_and_re_encoded_as_zeros() {
    let mut bytes = fixture("ping_hostname.hex");
    let original = decode(&bytes).unwrap();
    bytes[offsets::NOTUSED + 3] = 0x55; // header reserved
    bytes[HEADER_LEN + 102] = 0x66; // gossip reserved
    bytes[2366] = 0x77; // extension's unused half-word
    let m = decode(&bytes).unwrap();
    assert_eq!(m, original);
    assert_eq!(encode(&m), fixture("ping_hostname.hex"));
}

// ---- Framing -----------------------------------------------------------

#[test]
fn framing_helpers() {
    let bytes = fixture("pong.hex");
    assert_eq!(frame_len(&[]), Ok(None));
    assert_eq!(bytes_needed(&[]), Ok(8));
    assert_eq!(bytes_needed(&bytes[..5]), Ok(3));
    assert_eq!(frame_len(&bytes[..7]), Ok(None));
    assert_eq!(frame_len(&bytes[..8]), Ok(Some(2360)));
    assert_eq!(bytes_needed(&bytes[..8]), Ok(2352));
    assert_eq!(bytes_needed(&bytes[..2359]), Ok(1));
    assert_eq!(bytes_needed(&bytes), Ok(0));
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    assert_eq!(bytes_needed(&two), Ok(0));
    assert_eq!(frame_len(&two), Ok(Some(2360)));

    let mut bad = bytes.clone();
    bad[0] = b'X';
    let err = frame_len(&bad).unwrap_err();
    assert!(matches!(err, BusError::BadSignature(_)) && err.closes_link());
    assert_eq!(decode(&bad), Err(err));

    let mut short = bytes.clone();
    short[4..8].copy_from_slice(&2255u32.to_be_bytes());
    let err = frame_len(&short).unwrap_err();
    assert_eq!(err, BusError::LengthBelowMinimum(2255));
    assert!(err.closes_link());
    short[4..8].copy_from_slice(&0u32.to_be_bytes());
    assert!(bytes_needed(&short).unwrap_err().closes_link());
    // A header-only message is the smallest valid one.
    short[4..8].copy_from_slice(&2256u32.to_be_bytes());
    assert_eq!(bytes_needed(&short[..8]), Ok(2248));
}

// ---- Rejections --------------------------------------------------------

fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn with_totlen(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() as u32;
    set_u32(&mut b, 4, n);
    b
}

/// Valid packets of every kind: the fixtures and the samples.
fn valid_packets() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = FIXTURES.iter().map(|f| fixture(f)).collect();
    out.extend(samples().iter().map(encode));
    out
}

#[test]
fn every_truncation_is_rejected() {
    for p in valid_packets() {
        for cut in 0..p.len() {
            assert!(
                decode(&p[..cut]).is_err(),
                "prefix {cut} of {} accepted",
                p.len()
            );
        }
        let mut longer = p.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer),
            Err(BusError::LengthMismatch { .. })
        ));
    }
}

#[test]
fn every_length_lie_is_rejected() {
    for p in valid_packets() {
        let t = u16::from_be_bytes([p[12], p[13]]);
        if MessageType::from_u16(t).is_none() {
            continue; // unknown types are taken as well formed, as 7.0 does
        }
        // totlen consistent with a shorter or longer buffer: the type's
        // own length check must catch it.
        for len in HEADER_LEN..p.len() + 64 {
            if len == p.len() {
                continue;
            }
            let mut b = p.clone();
            b.resize(len, 0);
            let b = with_totlen(b);
            assert!(
                decode(&b).is_err(),
                "type {t}: length {len} of {} accepted",
                p.len()
            );
        }
        // totlen disagreeing with the buffer.
        for lie in [
            0u32,
            8,
            2255,
            2256,
            p.len() as u32 - 1,
            p.len() as u32 + 1,
            u32::MAX,
        ] {
            if lie as usize == p.len() {
                continue;
            }
            let mut b = p.clone();
            set_u32(&mut b, 4, lie);
            assert!(decode(&b).is_err(), "totlen {lie} for {} bytes", p.len());
        }
    }
}

#[test]
fn inner_length_lies_are_rejected() {
    // Gossip count.
    let ping = fixture("ping_hostname.hex");
    for count in [0u16, 2, 3, u16::MAX] {
        let mut b = ping.clone();
        set_u16(&mut b, offsets::COUNT, count);
        assert!(decode(&b).is_err(), "count {count}");
    }
    // Extension count and extension lengths.
    for n in [0u16, 2, u16::MAX] {
        let mut b = ping.clone();
        set_u16(&mut b, offsets::EXTENSIONS, n);
        assert!(decode(&b).is_err(), "extensions {n}");
    }
    let ext_at = HEADER_LEN + GOSSIP_LEN;
    for len in [0u32, 4, 8, 12, 16, 23, 25, 32, u32::MAX] {
        let mut b = ping.clone();
        set_u32(&mut b, ext_at, len);
        assert!(decode(&b).is_err(), "extension length {len}");
    }
    // Extensions counted without EXT_DATA.
    let mut b = ping.clone();
    b[offsets::MFLAGS] = 0;
    assert!(decode(&b).is_err());
    // EXT_DATA without extensions is fine.
    let mut b = fixture("pong.hex");
    b[offsets::MFLAGS] = msg_flags::EXT_DATA;
    assert!(decode(&b).is_ok());
    // Hostname without its NUL.
    let mut b = ping.clone();
    let n = b.len();
    b[n - 2] = b'x';
    b[n - 1] = b'y';
    assert_eq!(
        decode(&b),
        Err(BusError::BadExtension("hostname not NUL terminated"))
    );
    // Publish lengths.
    let publish = fixture("publish.hex");
    for (at, v) in [
        (HEADER_LEN, 5u32),
        (HEADER_LEN, 3),
        (HEADER_LEN + 4, 14),
        (HEADER_LEN + 4, 12),
        (HEADER_LEN, u32::MAX),
        (HEADER_LEN + 4, u32::MAX),
    ] {
        let mut b = publish.clone();
        set_u32(&mut b, at, v);
        assert!(
            matches!(decode(&b), Err(BusError::BadLength { .. })),
            "publish field {at} = {v}"
        );
    }
    // Module length.
    let module = encode(&samples()[12]);
    for v in [0u32, 13, 15, u32::MAX] {
        let mut b = module.clone();
        set_u32(&mut b, HEADER_LEN + 8, v);
        assert!(matches!(decode(&b), Err(BusError::BadLength { .. })));
    }
    // Version.
    for v in [0u16, 2, u16::MAX] {
        let mut b = ping.clone();
        set_u16(&mut b, offsets::VER, v);
        assert_eq!(decode(&b), Err(BusError::BadVersion(v)));
    }
}

#[test]
fn unknown_extensions_are_skipped_not_rejected() {
    // A 7.2-style PING: shard id (type 1) and human nodename (type 2)
    // around the hostname.
    let mut h = header(0);
    h.mflags[0] = msg_flags::EXT_DATA;
    let m = Message::new(
        h,
        Body::Ping(PingData {
            gossip: vec![gossip(1)],
            extensions: vec![
                PingExt::hostname("a"),
                PingExt::Unknown {
                    ext_type: 1,
                    data: name(1).as_bytes().to_vec(),
                },
                PingExt::Unknown {
                    ext_type: 2,
                    data: b"human\0\0\0".to_vec(),
                },
            ],
        }),
    );
    let b = encode(&m);
    assert_eq!(decode(&b).unwrap(), m);
    // Unpadded unknown data is padded on encode.
    let odd = Message::new(
        header(0),
        Body::Pong(PingData {
            gossip: Vec::new(),
            extensions: vec![PingExt::Unknown {
                ext_type: 9,
                data: vec![1, 2, 3],
            }],
        }),
    );
    let b = encode(&odd);
    assert_eq!(b.len(), HEADER_LEN + 16);
    let back = decode(&b).unwrap();
    assert_eq!(
        back.body.ping_data().unwrap().extensions,
        vec![PingExt::Unknown {
            ext_type: 9,
            data: vec![1, 2, 3, 0, 0, 0, 0, 0]
        }]
    );
    assert_ne!(back.header.mflags[0] & msg_flags::EXT_DATA, 0);
}

#[test]
fn unknown_message_types_are_kept_raw() {
    let mut b = fixture("fail.hex");
    set_u16(&mut b, offsets::TYPE, 42);
    set_u16(&mut b, offsets::COUNT, 5);
    let m = decode(&b).unwrap();
    assert_eq!(m.kind(), None);
    assert_eq!(
        m.body,
        Body::Unknown {
            msg_type: 42,
            count: 5,
            data: name(2).as_bytes().to_vec()
        }
    );
    assert_eq!(encode(&m), b);
}

#[test]
fn oversized_messages() {
    let mut m = Message::new(
        header(0),
        Body::Ping(PingData {
            gossip: vec![gossip(1); 65536],
            extensions: Vec::new(),
        }),
    );
    assert!(matches!(try_encode(&m), Err(BusError::TooLarge(_))));
    let b = encode(&m);
    let back = decode(&b).unwrap();
    assert_eq!(back.body.ping_data().unwrap().gossip.len(), 65535);
    m.body = Body::Meet(PingData {
        gossip: Vec::new(),
        extensions: vec![PingExt::hostname("x"); 65536],
    });
    assert!(try_encode(&m).is_err());
    let back = decode(&encode(&m)).unwrap();
    assert_eq!(back.body.ping_data().unwrap().extensions.len(), 65535);
}

// ---- Fuzz ----------------------------------------------------------------

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Whatever `decode` accepts must re-encode to something that decodes
/// to the same message.
fn check(input: &[u8]) -> bool {
    let _ = frame_len(input);
    let _ = bytes_needed(input);
    match decode(input) {
        Ok(m) => {
            let again = encode(&m);
            assert_eq!(decode(&again).as_ref(), Ok(&m), "not a fixpoint");
            true
        }
        Err(_) => false,
    }
}

#[test]
fn fuzz_never_panics() {
    let budget = Duration::from_secs(20);
    let start = Instant::now();
    let mut rng = Rng(0x5eed_0c1a_55e5);
    let seeds = valid_packets();
    // Interesting places to hit: framing and counters, then the data.
    let hot = [
        4usize,
        5,
        6,
        7,
        8,
        9,
        12,
        13,
        14,
        15,
        offsets::EXTENSIONS,
        offsets::EXTENSIONS + 1,
        offsets::MFLAGS,
        HEADER_LEN,
        HEADER_LEN + 3,
        HEADER_LEN + 4,
        HEADER_LEN + 7,
        HEADER_LEN + 11,
        HEADER_LEN + 12,
        HEADER_LEN + GOSSIP_LEN,
        HEADER_LEN + GOSSIP_LEN + 3,
        HEADER_LEN + GOSSIP_LEN + 5,
    ];
    let (mut iterations, mut accepted) = (0u64, 0u64);
    while iterations < 300_000 && start.elapsed() < budget {
        iterations += 1;
        let mut b = match rng.below(4) {
            // Pure noise, sometimes with a plausible frame start.
            0 => {
                let len = rng.below(5000);
                let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if len >= 8 && rng.below(2) == 0 {
                    b[..4].copy_from_slice(b"RCmb");
                    set_u32(&mut b, 4, len as u32);
                    if len >= 10 {
                        set_u16(&mut b, 8, 1);
                    }
                    if len >= 14 {
                        set_u16(&mut b, 12, rng.below(12) as u16);
                    }
                }
                b
            }
            _ => seeds[rng.below(seeds.len())].clone(),
        };
        let edits = 1 + rng.below(4);
        for _ in 0..edits {
            if b.is_empty() {
                break;
            }
            match rng.below(6) {
                0 => {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
                1 => {
                    let i = hot[rng.below(hot.len())];
                    if i < b.len() {
                        b[i] = match rng.below(3) {
                            0 => 0,
                            1 => 0xff,
                            _ => rng.next() as u8,
                        };
                    }
                }
                2 => {
                    let n = rng.below(b.len() + 1);
                    b.truncate(n);
                }
                3 => {
                    let extra = rng.below(300);
                    b.extend((0..extra).map(|_| rng.next() as u8));
                }
                4 => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                _ => {
                    // Keep totlen honest so the inner checks are reached.
                    if b.len() >= 8 {
                        b = with_totlen(b);
                    }
                }
            }
        }
        if rng.below(2) == 0 && b.len() >= 8 {
            b = with_totlen(b);
        }
        if check(&b) {
            accepted += 1;
        }
    }
    assert!(iterations >= 10_000, "only {iterations} iterations");
    assert!(accepted > 0, "no mutated packet was ever accepted");
    eprintln!("fuzz: {iterations} iterations, {accepted} accepted");
}
