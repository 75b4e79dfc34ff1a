//! Tests of [`crate::slot`]: known CRC16/XMODEM and hash-tag vectors, the
//! bitmap and its range view, `getSlotOrReply` parsing, and differential
//! runs against the reference server (`CLUSTER KEYSLOT` for a few thousand
//! random keys; the slot argument errors of `CLUSTER DELSLOTS`).

use super::*;
use crate::reference_tests::{start_node, Reply, ScratchDir};
use rand::{Rng, SeedableRng};

#[test]
fn crc16_check_value() {
    assert_eq!(crc16(b"123456789"), 0x31C3);
    assert_eq!(key_hash_slot(b"123456789"), 12739);
    assert_eq!(crc16(b""), 0);
}

#[test]
fn known_slots() {
    assert_eq!(key_hash_slot(b"foo"), 12182);
    assert_eq!(key_hash_slot(b"bar"), 5061);
    assert_eq!(key_hash_slot(b""), 0);
    assert_eq!(
        key_hash_slot(b"{user1000}.following"),
        key_hash_slot(b"{user1000}.followers")
    );
    assert_eq!(
        key_hash_slot(b"{user1000}.following"),
        key_hash_slot(b"user1000")
    );
}

#[test]
fn hash_tags() {
    // Empty tag: the whole key.
    assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
    assert_eq!(key_hash_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3FFF);
    // The first `{` and the first `}` after it.
    assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
    assert_eq!(key_hash_slot(b"foo{{bar}}zap"), key_hash_slot(b"{bar"));
    assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
    assert_eq!(key_hash_slot(b"foo{bar}{zap}"), key_hash_slot(b"bar"));
    // No closing brace, or a `}` only before the `{`.
    assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
    assert_eq!(hash_tag(b"}foo{bar"), b"}foo{bar");
    assert_eq!(hash_tag(b"{}"), b"{}");
    assert_eq!(hash_tag(b"{a}"), b"a");
    assert_eq!(hash_tag(b"x{\x00\xff}y"), b"\x00\xff");
}

#[test]
fn slot_set_basics() {
    let mut s = SlotSet::new();
    assert!(s.is_empty());
    assert_eq!(s.count(), 0);
    assert_eq!(s.to_string(), "");
    assert!(s.set(5));
    assert!(!s.set(5));
    assert!(s.contains(5));
    assert!(!s.contains(4));
    assert!(!s.set(16384));
    assert!(!s.contains(16384));
    assert_eq!(s.count(), 1);
    assert!(s.clear(5));
    assert!(!s.clear(5));
    assert!(s.is_empty());

    s.set_range(0, 5460);
    s.set(5462);
    assert_eq!(s.to_string(), "0-5460 5462");
    assert_eq!(s.count(), 5462);
    let r: Vec<_> = s.ranges().collect();
    assert_eq!(
        r,
        vec![
            SlotRange {
                start: 0,
                end: 5460
            },
            SlotRange {
                start: 5462,
                end: 5462
            }
        ]
    );
    assert_eq!(r[0].len(), 5461);
    s.clear_range(1, 5459);
    assert_eq!(s.to_string(), "0 5460 5462");
    s.set_range(10, 5); // empty
    assert_eq!(s.count(), 3);

    let full = SlotSet::full();
    assert_eq!(full.count(), 16384);
    assert_eq!(full.to_string(), "0-16383");
    assert_eq!(full.iter().count(), 16384);
    let mut edge = SlotSet::new();
    edge.set(16383);
    edge.set(63);
    edge.set(64);
    assert_eq!(edge.to_string(), "63-64 16383");
    assert_eq!(edge.iter().collect::<Vec<_>>(), vec![63, 64, 16383]);
    edge.set_range(16000, u16::MAX);
    assert_eq!(edge.to_string(), "63-64 16000-16383");
}

#[test]
fn slot_set_random_against_naive() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    for _ in 0..200 {
        let mut naive = vec![false; 16384];
        let mut s = SlotSet::new();
        for _ in 0..rng.gen_range(0..50) {
            let a = rng.gen_range(0..16384u16);
            let b = rng.gen_range(a..16384u16.min(a + 300));
            if rng.gen_bool(0.7) {
                s.set_range(a, b);
                for x in a..=b {
                    naive[usize::from(x)] = true;
                }
            } else {
                s.clear_range(a, b);
                for x in a..=b {
                    naive[usize::from(x)] = false;
                }
            }
        }
        // Naive ranges.
        let mut want = Vec::new();
        let mut i = 0;
        while i < 16384 {
            if naive[i] {
                let start = i;
                while i < 16384 && naive[i] {
                    i += 1;
                }
                want.push(SlotRange {
                    start: start as u16,
                    end: (i - 1) as u16,
                });
            } else {
                i += 1;
            }
        }
        assert_eq!(s.ranges().collect::<Vec<_>>(), want);
        assert_eq!(s.count(), naive.iter().filter(|&&b| b).count());
        let members: Vec<u16> = s.iter().collect();
        let back: SlotSet = members.iter().copied().collect();
        assert_eq!(back, s);
        assert_eq!(SlotSet::from_bitmap(&s.to_bitmap()), s);
    }
}

#[test]
fn bitmap_bit_order() {
    let mut s = SlotSet::new();
    s.set(0);
    s.set(9);
    s.set(16383);
    let b = s.to_bitmap();
    assert_eq!(b[0], 0b0000_0001);
    assert_eq!(b[1], 0b0000_0010);
    assert_eq!(b[2047], 0b1000_0000);
    assert_eq!(b.iter().map(|x| x.count_ones()).sum::<u32>(), 3);
}

#[test]
fn set_algebra() {
    let a: SlotSet = [1u16, 2, 3].into_iter().collect();
    let b: SlotSet = [3u16, 4].into_iter().collect();
    assert_eq!(a.union(&b).to_string(), "1-4");
    assert_eq!(a.intersection(&b).to_string(), "3");
    assert_eq!(a.difference(&b).to_string(), "1-2");
}

#[test]
fn parse_slot_like_get_slot_or_reply() {
    assert_eq!(parse_slot(b"0"), Ok(0));
    assert_eq!(parse_slot(b"16383"), Ok(16383));
    assert_eq!(parse_slot(b"5461"), Ok(5461));
    for bad in [
        &b"16384"[..],
        b"-1",
        b"",
        b"abc",
        b" 5",
        b"5 ",
        b"+5",
        b"05",
        b"-0",
        b"1.0",
        b"99999999999999999999",
        b"-9223372036854775808",
    ] {
        assert_eq!(parse_slot(bad), Err(InvalidSlot), "{bad:?}");
    }
    assert_eq!(InvalidSlot.to_string(), "ERR Invalid or out of range slot");
    assert_eq!(parse_strict_i64(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_strict_i64(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_strict_i64(b"9223372036854775808"), None);
}

fn random_key(rng: &mut impl Rng) -> Vec<u8> {
    let len = rng.gen_range(0..24);
    let mut k = Vec::with_capacity(len + 4);
    for _ in 0..len {
        let c = match rng.gen_range(0..10) {
            0 | 1 => b'{',
            2 | 3 => b'}',
            4 => rng.gen::<u8>(),
            _ => rng.gen_range(b'a'..=b'e'),
        };
        k.push(c);
    }
    k
}

/// `CLUSTER KEYSLOT` of the reference for random keys (braces in all
/// positions, empty tags, binary bytes) equals [`key_hash_slot`]; the slot
/// argument of `CLUSTER DELSLOTS` is refused exactly when [`parse_slot`]
/// refuses it, with the same text.
#[test]
fn differential_keyslot_and_slot_args() {
    let dir = ScratchDir::new("keyslot");
    let server = start_node(19400, &dir.path, &[]);
    let mut conn = server.conn();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5107);
    let mut keys: Vec<Vec<u8>> = vec![
        b"123456789".to_vec(),
        b"foo".to_vec(),
        b"bar".to_vec(),
        b"{user1000}.following".to_vec(),
        b"foo{}{bar}".to_vec(),
        b"foo{{bar}}zap".to_vec(),
        b"foo{bar}{zap}".to_vec(),
        b"{}".to_vec(),
        b"}{".to_vec(),
        b"".to_vec(),
        vec![0, 0xff, b'{', 0, b'}'],
    ];
    keys.extend((0..4000).map(|_| random_key(&mut rng)));
    for chunk in keys.chunks(500) {
        for k in chunk {
            conn.send(&[&b"CLUSTER"[..], b"KEYSLOT", k]);
        }
        for k in chunk {
            let got = conn.read();
            assert_eq!(
                got,
                Reply::Int(i64::from(key_hash_slot(k))),
                "CLUSTER KEYSLOT {k:?}"
            );
        }
    }

    let mut args: Vec<Vec<u8>> = [
        "0",
        "16383",
        "16384",
        "-1",
        "",
        "abc",
        " 5",
        "+5",
        "05",
        "-0",
        "1e3",
        "12.0",
        "99999999999999999999",
        "9223372036854775807",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    args.extend((0..100).map(|_| rng.gen_range(-100i64..17000).to_string().into_bytes()));
    for a in &args {
        let reply = conn.cmd(&[&b"CLUSTER"[..], b"DELSLOTS", a]);
        match parse_slot(a) {
            Ok(slot) => assert_eq!(
                reply,
                Reply::Error(format!("ERR Slot {slot} is already unassigned")),
                "{a:?}"
            ),
            Err(e) => assert_eq!(reply, Reply::Error(e.to_string()), "{a:?}"),
        }
    }
    drop(server);
}
