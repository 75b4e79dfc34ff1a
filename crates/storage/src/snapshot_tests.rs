//! Tests of `snapshot.rs`.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::string::StrValue;
use crate::{Keyspace, Value};

fn sval(s: &str) -> Value {
    Value::Str(StrValue::Shared(Bytes::from(s.to_string())))
}

/// (db, key) → (value, deadline).
type Image = BTreeMap<(usize, Vec<u8>), (Vec<u8>, Option<i64>)>;

fn dump(ks: &Keyspace) -> Image {
    let mut m = BTreeMap::new();
    for (i, db) in ks.dbs.iter().enumerate() {
        for (k, e) in db.iter() {
            if let Value::Str(s) = &e.value {
                m.insert((i, k.to_vec()), (s.to_bytes().to_vec(), db.expire_at(k)));
            }
        }
    }
    m
}

/// Writes of every kind interleaved with small snapshot steps: the
/// snapshot must equal the dataset at its start, each key once.
#[test]
fn snapshot_is_point_in_time_under_writes() {
    let mut ks = Keyspace::new(3);
    for i in 0..2000 {
        ks.dbs[i % 3].set(format!("k{i}").as_bytes(), sval(&format!("v{i}")), false, 0);
        if i % 7 == 0 {
            ks.dbs[i % 3].set_expire(format!("k{i}").as_bytes(), 10_000_000 + i as i64);
        }
    }
    let before = dump(&ks);
    let mut snap = ks.begin_snapshot().unwrap();
    assert!(ks.begin_snapshot().is_none());
    let mut got: Image = BTreeMap::new();
    let mut dupes = 0;
    let mut round = 0;
    loop {
        // Mutations between steps: overwrite, delete, create, expire,
        // persist, rename-like moves, a flush and a swap.
        for j in 0..15 {
            let i = (round * 37 + j * 101) % 2000;
            let db = i % 3;
            let key = format!("k{i}");
            match j % 5 {
                0 => ks.dbs[db].set(key.as_bytes(), sval("changed"), false, 0),
                1 => {
                    ks.dbs[db].remove(key.as_bytes());
                }
                2 => ks.dbs[db].set(format!("new{round}-{j}").as_bytes(), sval("new"), false, 0),
                3 => {
                    ks.dbs[db].set_expire(key.as_bytes(), 1);
                }
                _ => {
                    ks.dbs[db].persist(key.as_bytes());
                }
            }
        }
        if round == 20 {
            ks.swap(0, 2);
        }
        if round == 30 {
            ks.dbs[1].clear();
        }
        let st = ks.snapshot_step(&mut snap, 50, |db, k, e, exp| {
            if let Value::Str(s) = &e.value {
                if got
                    .insert((db, k.to_vec()), (s.to_bytes().to_vec(), exp))
                    .is_some()
                {
                    dupes += 1;
                }
            }
        });
        round += 1;
        if st.finished {
            break;
        }
        assert!(round < 10_000, "snapshot does not finish");
    }
    ks.end_snapshot(snap);
    assert_eq!(dupes, 0, "entries saved twice");
    assert_eq!(got, before);
}
