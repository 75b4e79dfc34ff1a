//! Tests of `list.rs`.

use super::*;

fn model_check(l: &ListValue, m: &VecDeque<Vec<u8>>) {
    assert_eq!(l.len(), m.len());
    let fwd: Vec<&[u8]> = l.iter().collect();
    let want: Vec<&[u8]> = m.iter().map(|v| v.as_slice()).collect();
    assert_eq!(fwd, want);
    let mut back: Vec<&[u8]> = l.iter().rev().collect();
    back.reverse();
    assert_eq!(back, want);
    assert_eq!(l.nodes.iter().map(|n| n.count).sum::<usize>(), l.len());
    for n in &l.nodes {
        assert!(n.count > 0, "empty node kept");
        assert_eq!(n.entries().len(), n.count);
    }
}

#[test]
fn framing_round_trips() {
    for len in [0usize, 1, 125, 126, 127, 128, 129, 16383, 16384, 20000] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut buf = vec![9u8; 3];
        put_entry(&mut buf, &data);
        assert_eq!(buf.len(), 3 + entry_size(len));
        let (s, e, next) = read_fwd(&buf, 3).unwrap();
        assert_eq!(&buf[s..e], &data[..]);
        assert_eq!(next, buf.len());
        let (s2, e2, start) = read_back(&buf, buf.len()).unwrap();
        assert_eq!((s2, e2, start), (s, e, 3));
    }
    assert_eq!(entry_size(5), 7);
}

#[test]
fn push_pop_both_ends() {
    let mut l = ListValue::new();
    assert_eq!(l.pop_front(), None);
    assert_eq!(l.pop_back(), None);
    l.push_back(b"b");
    l.push_front(b"a");
    l.push(End::Right, b"c");
    assert_eq!(l.len(), 3);
    assert_eq!(l.encoding(), "quicklist");
    assert_eq!(l.pop(End::Left).as_deref(), Some(&b"a"[..]));
    assert_eq!(l.pop(End::Right).as_deref(), Some(&b"c"[..]));
    assert_eq!(l.pop_back().as_deref(), Some(&b"b"[..]));
    assert!(l.is_empty());
    assert!(l.nodes.is_empty());
}

#[test]
fn index_get_set_insert_remove() {
    let mut l = ListValue::from_elems(["a", "b", "c", "d"]);
    assert_eq!(l.resolve_index(-1), Some(3));
    assert_eq!(l.resolve_index(-4), Some(0));
    assert_eq!(l.resolve_index(-5), None);
    assert_eq!(l.resolve_index(4), None);
    assert_eq!(l.resolve_index(i64::MIN), None);
    assert_eq!(l.get(2), Some(&b"c"[..]));
    assert_eq!(l.get(4), None);
    assert!(l.set(1, b"BB"));
    assert!(!l.set(9, b"x"));
    assert!(l.insert(2, b"ins"));
    assert!(l.insert(5, b"end"));
    assert!(l.insert(0, b"start"));
    assert!(!l.insert(99, b"x"));
    let v: Vec<&[u8]> = l.iter().collect();
    assert_eq!(
        v,
        vec![&b"start"[..], b"a", b"BB", b"ins", b"c", b"d", b"end"]
    );
    assert_eq!(l.remove(3).as_deref(), Some(&b"ins"[..]));
    assert_eq!(l.remove(10), None);
    assert_eq!(l.len(), 6);
}

#[test]
fn many_nodes_and_big_elements() {
    let mut l = ListValue::new();
    let mut m = VecDeque::new();
    for i in 0..5000 {
        let e = format!("element-{i}").into_bytes();
        if i % 3 == 0 {
            l.push_front(&e);
            m.push_front(e);
        } else {
            l.push_back(&e);
            m.push_back(e);
        }
    }
    assert!(l.nodes.len() > 5);
    let big = vec![b'x'; 3 * NODE_MAX_BYTES];
    l.push_back(&big);
    m.push_back(big.clone());
    l.push_front(&big);
    m.push_front(big);
    model_check(&l, &m);
    for (i, want) in m.iter().enumerate().step_by(97) {
        assert_eq!(l.get(i), Some(want.as_slice()));
    }
    // Middle inserts force splits.
    for i in 0..3000 {
        let idx = (i * 7919) % (l.len() + 1);
        let e = vec![b'i'; i % 300];
        assert!(l.insert(idx, &e));
        m.insert(idx, e);
    }
    model_check(&l, &m);
    for n in &l.nodes {
        assert!(n.count == 1 || n.buf.len() <= NODE_MAX_BYTES);
    }
    // Sets of growing size.
    for i in 0..500 {
        let idx = (i * 131) % l.len();
        let e = vec![b's'; i * 5];
        assert!(l.set(idx, &e));
        m[idx] = e;
    }
    model_check(&l, &m);
}

#[test]
fn range_iteration() {
    let elems: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
    let l = ListValue::from_elems(&elems);
    let got: Vec<&[u8]> = l.range(1000, 1004).collect();
    let want: Vec<&[u8]> = elems[1000..=1004].iter().map(|s| s.as_bytes()).collect();
    assert_eq!(got, want);
    let got: Vec<&[u8]> = l.range(2990, 2999).rev().collect();
    let mut want: Vec<&[u8]> = elems[2990..].iter().map(|s| s.as_bytes()).collect();
    want.reverse();
    assert_eq!(got, want);
    assert_eq!(l.range(5, 4).count(), 0);
    assert_eq!(l.range(0, 3000).count(), 0);
    assert_eq!(l.range(0, 2999).len(), 3000);
    // Meeting in the middle from both sides.
    let mut it = l.range(10, 13);
    assert_eq!(it.next(), Some(&b"v10"[..]));
    assert_eq!(it.next_back(), Some(&b"v13"[..]));
    assert_eq!(it.next(), Some(&b"v11"[..]));
    assert_eq!(it.next_back(), Some(&b"v12"[..]));
    assert_eq!(it.next(), None);
    assert_eq!(it.next_back(), None);
}

#[test]
fn trim_ends() {
    let elems: Vec<String> = (0..4000).map(|i| format!("t{i}")).collect();
    let mut m: VecDeque<Vec<u8>> = elems.iter().map(|s| s.clone().into_bytes()).collect();
    let mut l = ListValue::from_elems(&elems);
    l.trim(1234, 777);
    m.drain(..1234);
    m.truncate(m.len() - 777);
    model_check(&l, &m);
    l.trim(0, 0);
    model_check(&l, &m);
    l.trim(1, usize::MAX);
    assert!(l.is_empty());
    assert!(l.nodes.is_empty());
}

#[test]
fn remove_matching_head_and_tail() {
    let mut elems = Vec::new();
    for i in 0..3000 {
        elems.push(if i % 5 == 0 {
            "x".to_string()
        } else {
            format!("e{i}")
        });
    }
    let model: VecDeque<Vec<u8>> = elems.iter().map(|s| s.clone().into_bytes()).collect();
    // From the head, limited.
    let mut l = ListValue::from_elems(&elems);
    let mut m = model.clone();
    assert_eq!(l.remove_matching(b"x", 3, false), 3);
    for _ in 0..3 {
        let p = m.iter().position(|e| e == b"x").unwrap();
        m.remove(p);
    }
    model_check(&l, &m);
    // From the tail, limited.
    let mut l = ListValue::from_elems(&elems);
    let mut m = model.clone();
    assert_eq!(l.remove_matching(b"x", 250, true), 250);
    for _ in 0..250 {
        let p = m.iter().rposition(|e| e == b"x").unwrap();
        m.remove(p);
    }
    model_check(&l, &m);
    // All.
    let mut l = ListValue::from_elems(&elems);
    let mut m = model;
    assert_eq!(l.remove_matching(b"x", 0, false), 600);
    m.retain(|e| e != b"x");
    model_check(&l, &m);
    assert_eq!(l.remove_matching(b"nope", 0, true), 0);
    // Everything.
    let mut l = ListValue::from_elems(["a", "a"]);
    assert_eq!(l.remove_matching(b"a", 0, true), 2);
    assert!(l.is_empty() && l.nodes.is_empty());
}

#[test]
fn randomized_against_model() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut l = ListValue::new();
    let mut m: VecDeque<Vec<u8>> = VecDeque::new();
    for step in 0..20000 {
        let len = if rng.gen_ratio(1, 50) {
            rng.gen_range(0..10000)
        } else {
            rng.gen_range(0..40)
        };
        let e: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..=b'c')).collect();
        match rng.gen_range(0..9) {
            0 => {
                l.push_front(&e);
                m.push_front(e);
            }
            1 => {
                l.push_back(&e);
                m.push_back(e);
            }
            2 => assert_eq!(l.pop_front().map(|b| b.to_vec()), m.pop_front()),
            3 => assert_eq!(l.pop_back().map(|b| b.to_vec()), m.pop_back()),
            4 => {
                let i = rng.gen_range(0..=m.len());
                assert!(l.insert(i, &e));
                m.insert(i, e);
            }
            5 if !m.is_empty() => {
                let i = rng.gen_range(0..m.len());
                assert_eq!(l.remove(i).map(|b| b.to_vec()), m.remove(i));
            }
            6 if !m.is_empty() => {
                let i = rng.gen_range(0..m.len());
                assert!(l.set(i, &e));
                m[i] = e;
            }
            7 if step % 10 == 0 => {
                let target = vec![b'a'; rng.gen_range(0..2)];
                let max = rng.gen_range(0..3);
                let tail = rng.gen_bool(0.5);
                let n = l.remove_matching(&target, max, tail);
                let mut removed = 0;
                while max == 0 || removed < max {
                    let p = if tail {
                        m.iter().rposition(|x| *x == target)
                    } else {
                        m.iter().position(|x| *x == target)
                    };
                    match p {
                        Some(p) => {
                            m.remove(p);
                            removed += 1;
                        }
                        None => break,
                    }
                }
                assert_eq!(n, removed);
            }
            8 if step % 50 == 0 && m.len() > 4 => {
                l.trim(1, 2);
                m.pop_front();
                m.pop_back();
                m.pop_back();
            }
            _ => {}
        }
        if step % 500 == 0 {
            model_check(&l, &m);
        }
    }
    model_check(&l, &m);
}

#[test]
fn digest_matches_reference() {
    // RPUSH l a b 123 ; DEBUG DIGEST-VALUE l on redis 7.0.15.
    let l = ListValue::from_elems(["a", "b", "123"]);
    let mut d = [0u8; DIGEST_LEN];
    l.digest(&mut d);
    assert_eq!(
        dg::Digest20(d).to_hex(),
        "89c604f28d33238a0c4a93e676d3be6fbcda6c71"
    );
    // RPUSH l a b c ; DEBUG DIGEST-VALUE l.
    let l = ListValue::from_elems(["a", "b", "c"]);
    let mut d = [0u8; DIGEST_LEN];
    l.digest(&mut d);
    assert_eq!(
        dg::Digest20(d).to_hex(),
        "8bf72d812571eea9b927f3c11beb0c4165a6ff89"
    );
}

#[test]
fn equality_is_logical_and_memory_is_small() {
    let mut a = ListValue::new();
    for i in 0..10 {
        a.push_back(format!("elem{i}").as_bytes());
    }
    let mut b = ListValue::new();
    for i in (0..10).rev() {
        b.push_front(format!("elem{i}").as_bytes());
    }
    assert_eq!(a, b);
    assert_eq!(a.nodes.len(), 1);
    let elems: Vec<String> = (0..10).map(|i| format!("elem{i}")).collect();
    let mut c = ListValue::new();
    c.extend_back(&elems);
    assert_eq!(c, a);
    // Exactly one node slot and the 70 packed bytes.
    assert_eq!(c.mem_usage(), 32 + 70);
    let many: Vec<String> = (0..5000).map(|i| format!("e{i}")).collect();
    c.extend_back(&many);
    let mut m: VecDeque<Vec<u8>> = elems.iter().map(|e| e.clone().into_bytes()).collect();
    m.extend(many.iter().map(|e| e.clone().into_bytes()));
    model_check(&c, &m);
    // One node slot plus a buffer of at most twice the 70 packed bytes.
    assert!(a.mem_usage() <= 32 + 140, "{}", a.mem_usage());
}
