//! Unit tests of `reply.rs` (kept apart so the module holds only
//! library code).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn all(wire: &[u8]) -> Vec<Reply> {
    let mut s = Scanner::default();
    let mut pos = 0;
    let mut out = Vec::new();
    while let Some(r) = s.next(wire, &mut pos).unwrap() {
        out.push(r);
    }
    assert_eq!(pos, wire.len());
    out
}

#[test]
fn every_type() {
    let wire = b"+OK\r\n-ERR bad\r\n:12\r\n$3\r\nVXK\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n\
            %1\r\n+k\r\n_\r\n>2\r\n+inv\r\n*0\r\n|1\r\n+a\r\n:1\r\n,1.5\r\n!5\r\nERR x\r\n=7\r\ntxt:abc\r\n";
    assert_eq!(
        all(wire),
        vec![
            Reply::Value,
            Reply::Error("ERR bad".into()),
            Reply::Value,
            Reply::Value,
            Reply::Value,
            Reply::Value,
            Reply::Value,
            Reply::Value,
            Reply::Push,
            Reply::Value,
            Reply::Error("ERR x".into()),
            Reply::Value,
        ]
    );
}

/// Every split point of a stream gives the same replies.
#[test]
fn byte_by_byte() {
    let wire: &[u8] =
        b"*3\r\n$5\r\nhello\r\n-ERR nested\r\n:3\r\n$10\r\n0123456789\r\n-ERR top\r\n";
    for cut in 0..wire.len() {
        let mut s = Scanner::default();
        let mut buf = wire[..cut].to_vec();
        let mut pos = 0;
        let mut got = Vec::new();
        while let Some(r) = s.next(&buf, &mut pos).unwrap() {
            got.push(r);
        }
        buf.drain(..pos);
        pos = 0;
        buf.extend_from_slice(&wire[cut..]);
        while let Some(r) = s.next(&buf, &mut pos).unwrap() {
            got.push(r);
        }
        assert_eq!(
            got,
            vec![Reply::Value, Reply::Value, Reply::Error("ERR top".into())],
            "cut at {cut}"
        );
    }
}

#[test]
fn garbage() {
    let mut s = Scanner::default();
    let mut pos = 0;
    let e = s.next(b"?x\r\n", &mut pos).unwrap_err();
    assert_eq!(e.0, "Protocol error, got \"?\" as reply type byte");
    let e = Scanner::default().next(b"$x\r\n", &mut 0).unwrap_err();
    assert_eq!(e.0, "Bad integer value");
}
