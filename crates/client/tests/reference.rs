//! Exercises the client against the reference `redis-server`. A missing
//! reference fails the tests: CI installs it (`cargo xtask test`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use redis_client::{Client, Error, Frame};
use redis_testkit::{ServerKind, TestServer};

/// A reference server on a free loopback port with a private dir, stopped
/// by PID when dropped (the testkit fails the test if it is not installed).
fn start_server() -> TestServer {
    TestServer::start(ServerKind::Reference, &[])
}

fn b(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[tokio::test]
async fn commands_pipelining_and_hello() {
    let srv = start_server();
    let addr = srv.addr().to_string();
    let mut c = Client::connect(&addr).await.unwrap();

    assert_eq!(
        c.cmd(&["PING"]).await.unwrap(),
        Frame::Simple("PONG".into())
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v"]).await.unwrap(),
        Frame::Simple("OK".into())
    );
    assert_eq!(c.cmd(&["GET", "k"]).await.unwrap(), b("v"));
    assert_eq!(c.cmd(&["GET", "nokey"]).await.unwrap(), Frame::Null);
    assert!(matches!(c.cmd(&["NOSUCH"]).await.unwrap(), Frame::Error(_)));

    // Pipelining: queue many, flush once, read many, in order.
    for i in 0..100 {
        c.queue(&["RPUSH", "l", &i.to_string()]);
    }
    c.flush().await.unwrap();
    for i in 0..100 {
        assert_eq!(c.read_frame().await.unwrap(), Frame::Integer(i + 1));
    }
    let replies = c
        .pipeline(&[vec!["LLEN", "l"], vec!["LINDEX", "l", "99"]])
        .await
        .unwrap();
    assert_eq!(replies, vec![Frame::Integer(100), b("99")]);

    // Binary-safe arguments.
    let bin: &[u8] = b"a\r\n\0b";
    c.cmd(&[&b"SET"[..], b"bin", bin]).await.unwrap();
    assert_eq!(
        c.cmd(&["GET", "bin"]).await.unwrap(),
        Frame::Bulk(Bytes::from_static(b"a\r\n\0b"))
    );

    // RESP3 via HELLO: a map reply, then RESP3-only types.
    let hello = c.hello(3, None, Some("tester")).await.unwrap();
    let Frame::Map(pairs) = hello else {
        panic!("HELLO 3 gave {hello:?}")
    };
    assert!(pairs.contains(&(b("proto"), Frame::Integer(3))));
    c.cmd(&["ZADD", "z", "1.5", "m"]).await.unwrap();
    assert_eq!(
        c.cmd(&["ZSCORE", "z", "m"]).await.unwrap(),
        Frame::Double(1.5)
    );
    assert_eq!(c.cmd(&["GET", "nokey"]).await.unwrap(), Frame::Null);
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]).await.unwrap(), b("tester"));
}

#[tokio::test]
async fn hello_auth_failure_is_an_error_reply() {
    let srv = start_server();
    let addr = srv.addr().to_string();
    let mut c = Client::connect(&addr).await.unwrap();
    let r = c.hello(2, Some(("nobody", "wrong")), None).await.unwrap();
    assert!(
        matches!(r, Frame::Error(ref e) if e.starts_with(b"WRONGPASS")),
        "{r:?}"
    );
}

#[tokio::test]
async fn closed_connection_and_refused_connect() {
    let srv = start_server();
    let addr = srv.addr().to_string();
    let mut c = Client::connect(&addr).await.unwrap();
    c.send(&["QUIT"]).await.unwrap();
    assert_eq!(c.read_frame().await.unwrap(), Frame::Simple("OK".into()));
    assert!(matches!(c.read_frame().await, Err(Error::Closed)));

    let port = srv.port();
    drop(srv);
    let err = Client::connect_timeout(&format!("127.0.0.1:{port}"), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
