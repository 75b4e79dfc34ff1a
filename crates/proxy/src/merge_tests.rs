//! Tests of reply reassembly.

use super::*;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn mget_in_key_order() {
    let how = Merge::Mget {
        positions: vec![vec![0, 2], vec![1]],
        total: 3,
    };
    let r = merge(
        &how,
        vec![b("*2\r\n$1\r\na\r\n$-1\r\n"), b("*1\r\n$1\r\nb\r\n")],
        Protocol::Resp2,
    );
    assert_eq!(&r[..], b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n");
    let r = merge(
        &how,
        vec![b("-ERR x\r\n"), b("*1\r\n$1\r\nb\r\n")],
        Protocol::Resp2,
    );
    assert_eq!(&r[..], b"-ERR x\r\n");
}

#[test]
fn sums_and_oks() {
    assert_eq!(
        &merge(&Merge::Sum, vec![b(":1\r\n"), b(":2\r\n")], Protocol::Resp2)[..],
        b":3\r\n"
    );
    assert_eq!(
        &merge(
            &Merge::AllOk,
            vec![b("+OK\r\n"), b("+OK\r\n")],
            Protocol::Resp2
        )[..],
        b"+OK\r\n"
    );
    assert_eq!(
        &merge(
            &Merge::AllOk,
            vec![b("+OK\r\n"), b("-ERR no\r\n")],
            Protocol::Resp2
        )[..],
        b"-ERR no\r\n"
    );
    let keys = merge(
        &Merge::FanOut(FanOut::Concat),
        vec![b("*1\r\n$1\r\na\r\n"), b("*0\r\n"), b("*1\r\n$1\r\nc\r\n")],
        Protocol::Resp2,
    );
    assert_eq!(&keys[..], b"*2\r\n$1\r\na\r\n$1\r\nc\r\n");
    let rk = merge(
        &Merge::FanOut(FanOut::AnyNonNull),
        vec![b("$-1\r\n"), b("$1\r\nk\r\n")],
        Protocol::Resp2,
    );
    assert_eq!(&rk[..], b"$1\r\nk\r\n");
}

#[test]
fn scan_cursors() {
    let how = Merge::Scan { node: 0, nodes: 3 };
    let r = merge(&how, vec![b("*2\r\n$1\r\n0\r\n*0\r\n")], Protocol::Resp2);
    assert_eq!(&r[..], b"*2\r\n$1\r\n1\r\n*0\r\n");
    let how = Merge::Scan { node: 1, nodes: 3 };
    let r = merge(&how, vec![b("*2\r\n$2\r\n17\r\n*0\r\n")], Protocol::Resp2);
    assert_eq!(&r[..], b"*2\r\n$2\r\n52\r\n*0\r\n");
    assert_eq!(split_cursor(52, 3), (1, 17));
    let how = Merge::Scan { node: 2, nodes: 3 };
    let r = merge(&how, vec![b("*2\r\n$1\r\n0\r\n*0\r\n")], Protocol::Resp2);
    assert_eq!(&r[..], b"*2\r\n$1\r\n0\r\n*0\r\n");
}
