//! In-process checks of the random commands, whose replies the
//! differential scripts cannot compare: sizes, distinctness and
//! membership of HRANDFIELD, SRANDMEMBER and SPOP picks.

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};
use redis_config::Config;
use redis_resp::Frame;

use redis_engine::client::Client;
use redis_engine::state::State;

struct Harness {
    st: State,
    client: Client,
}

impl Harness {
    fn new() -> Harness {
        let client = Client::detached(1);
        Harness {
            st: State::new(Config::default(), 1_700_000_000_000, crate::registry()),
            client,
        }
    }

    fn run(&mut self, line: &str) -> Frame {
        let argv: Vec<Bytes> = line
            .split_whitespace()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut out = BytesMut::new();
        self.st.call(
            redis_engine::dispatch::Caller::Client,
            &mut self.client,
            argv,
            &mut out,
            1_700_000_000_000,
        );
        redis_resp::decode(&mut out).unwrap().unwrap()
    }

    fn strings(&mut self, line: &str) -> Vec<Vec<u8>> {
        match self.run(line) {
            Frame::Array(v) | Frame::Set(v) => v
                .into_iter()
                .map(|f| match f {
                    Frame::Bulk(b) => b.to_vec(),
                    other => panic!("{line}: {other:?}"),
                })
                .collect(),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn int(&mut self, line: &str) -> i64 {
        match self.run(line) {
            Frame::Integer(i) => i,
            other => panic!("{line}: {other:?}"),
        }
    }
}

fn distinct(v: &[Vec<u8>]) -> usize {
    v.iter().collect::<HashSet<_>>().len()
}

#[test]
fn srandmember_and_spop_sizes() {
    let mut h = Harness::new();
    // Intset and hashtable forms, small and large relative to counts.
    for (key, prefix) in [("ints", ""), ("strs", "m")] {
        let members: Vec<String> = (0..100).map(|i| format!("{prefix}{i}")).collect();
        h.run(&format!("SADD {key} {}", members.join(" ")));
        let all: HashSet<Vec<u8>> = members.iter().map(|m| m.as_bytes().to_vec()).collect();
        for count in [1, 5, 33, 34, 99] {
            let got = h.strings(&format!("SRANDMEMBER {key} {count}"));
            assert_eq!(got.len(), count);
            assert_eq!(distinct(&got), count);
            assert!(got.iter().all(|m| all.contains(m)));
        }
        let got = h.strings(&format!("SRANDMEMBER {key} -250"));
        assert_eq!(got.len(), 250);
        assert!(got.iter().all(|m| all.contains(m)));
        // With 250 draws from 100 members, repeats are certain.
        assert!(distinct(&got) < 250);
        let popped = h.strings(&format!("SPOP {key} 30"));
        assert_eq!(distinct(&popped), 30);
        assert_eq!(h.int(&format!("SCARD {key}")), 70);
        for m in &popped {
            let m = String::from_utf8(m.clone()).unwrap();
            assert_eq!(h.int(&format!("SISMEMBER {key} {m}")), 0);
        }
        let rest = h.strings(&format!("SPOP {key} 70"));
        assert_eq!(rest.len(), 70);
        assert_eq!(h.int(&format!("EXISTS {key}")), 0);
    }
}

#[test]
fn hrandfield_sizes() {
    let mut h = Harness::new();
    for (key, n) in [("small", 10), ("large", 600)] {
        let pairs: Vec<String> = (0..n).map(|i| format!("f{i} v{i}")).collect();
        h.run(&format!("HSET {key} {}", pairs.join(" ")));
        for count in [1, 3, 9] {
            let got = h.strings(&format!("HRANDFIELD {key} {count}"));
            assert_eq!(got.len(), count);
            assert_eq!(distinct(&got), count);
            let got = h.strings(&format!("HRANDFIELD {key} {count} WITHVALUES"));
            assert_eq!(got.len(), count * 2);
            for pair in got.chunks(2) {
                assert_eq!(pair[0][1..], pair[1][1..], "value belongs to field");
            }
        }
        let got = h.strings(&format!("HRANDFIELD {key} -50 WITHVALUES"));
        assert_eq!(got.len(), 100);
        let got = h.strings(&format!("HRANDFIELD {key} -50"));
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|f| f.starts_with(b"f")));
    }
}
