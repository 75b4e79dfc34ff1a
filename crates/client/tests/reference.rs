//! Exercises the client against the reference `redis-server`. A missing
//! reference fails the tests: CI installs it (`cargo xtask test`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redis_client::{Client, Error, Frame};

/// A reference server killed by PID when dropped, even if the test panics.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A port in 20000-40000 that differs between concurrently running tests.
fn pick_port(attempt: u32) -> u16 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let counter = NEXT.fetch_add(1, Ordering::Relaxed);
    let seed =
        nanos ^ ((std::process::id() as u64) << 16) ^ (counter * 7919) ^ (attempt as u64 * 104_729);
    20000 + (seed % 20000) as u16
}

/// True when the server answering on `port` is the process `pid` (another
/// test, or another suite on the machine, may hold the port meanwhile).
fn serves_pid(port: u16, pid: u32) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let want = format!("process_id:{pid}\r\n");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Bounded by the read timeout and the size of an INFO section.
    while buf.len() < 64 * 1024 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if String::from_utf8_lossy(&buf).contains(&want) {
            return true;
        }
    }
    false
}

fn server_exited(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(Some(_)))
}

fn start_server() -> Option<Server> {
    assert!(
        std::path::Path::new("/usr/bin/redis-server").exists(),
        "reference redis-server missing: apt-get install redis-server (cargo xtask test does)"
    );
    for attempt in 0..20u32 {
        let port = pick_port(attempt);
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let child = Command::new("/usr/bin/redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if serves_pid(port, server.child.id()) {
                return Some(server);
            }
            // Lost a race for the port: our server exited, try another one.
            if server_exited(&mut server.child) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start reference redis-server");
}

fn b(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[tokio::test]
async fn commands_pipelining_and_hello() {
    let Some(srv) = start_server() else {
        panic!("could not start the reference server")
    };
    let addr = format!("127.0.0.1:{}", srv.port);
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
    let Some(srv) = start_server() else {
        panic!("could not start the reference server")
    };
    let addr = format!("127.0.0.1:{}", srv.port);
    let mut c = Client::connect(&addr).await.unwrap();
    let r = c.hello(2, Some(("nobody", "wrong")), None).await.unwrap();
    assert!(
        matches!(r, Frame::Error(ref e) if e.starts_with(b"WRONGPASS")),
        "{r:?}"
    );
}

#[tokio::test]
async fn closed_connection_and_refused_connect() {
    let Some(srv) = start_server() else {
        panic!("could not start the reference server")
    };
    let addr = format!("127.0.0.1:{}", srv.port);
    let mut c = Client::connect(&addr).await.unwrap();
    c.send(&["QUIT"]).await.unwrap();
    assert_eq!(c.read_frame().await.unwrap(), Frame::Simple("OK".into()));
    assert!(matches!(c.read_frame().await, Err(Error::Closed)));

    let port = srv.port;
    drop(srv);
    let err = Client::connect_timeout(&format!("127.0.0.1:{port}"), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
