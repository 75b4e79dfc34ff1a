//! `redis-proxy` pub/sub relay, cluster-mode transactions and faults:
//! subscribers (RESP2 and RESP3) get messages published through the
//! proxy and leave subscribed state cleanly; in cluster mode shard
//! channels follow their slot, a `MULTI` waits for its first key and a
//! transaction that strays from its slot is refused (`-CROSSSLOT`, then
//! `-EXECABORT`); a backend that never answers or answers garbage gives
//! clear errors while the proxy keeps serving.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use redis_testkit::cluster::{create, start_node, text, wait_for};
use redis_testkit::sentinel::safe_port;
use redis_testkit::server::ours_binary;
use redis_testkit::{ChildGuard, Conn, ServerKind, TestServer};

/// A running proxy, killed (by PID) when dropped.
struct Proxy {
    _child: ChildGuard,
    port: u16,
}

impl Proxy {
    fn start(args: &[&str]) -> Proxy {
        let port = safe_port();
        let p = port.to_string();
        let mut all = vec!["--port", &p, "--bind", "127.0.0.1"];
        all.extend_from_slice(args);
        let child = ChildGuard::spawn(
            Command::new(ours_binary("redis-proxy"))
                .args(&all)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let proxy = Proxy {
            _child: child,
            port,
        };
        wait_for(Duration::from_secs(10), "the proxy to listen", || {
            Conn::connect(proxy.addr()).is_ok()
        });
        proxy
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn conn(&self) -> Conn {
        Conn::connect(self.addr()).unwrap()
    }
}

/// Publishes until a subscriber counts (the subscription may still be on
/// its way), returning the receiver count.
fn publish(c: &mut Conn, cmd: &str, ch: &str, msg: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        last = text(&c.cmd(&[cmd, ch, msg]));
        if last != ":0" {
            return last;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    last
}

#[test]
fn proxy_pubsub_relays_messages_in_resp2_and_resp3() {
    let server = TestServer::start(ServerKind::Ours, &[]);
    let backend = format!("127.0.0.1:{}", server.port());
    let proxy = Proxy::start(&["--static", &backend]);
    let mut pubc = proxy.conn();
    assert_eq!(text(&pubc.cmd(&["SET", "k", "v"])), "+OK");

    // Not subscribed: unsubscribing is answered like the server does.
    let mut c = proxy.conn();
    assert_eq!(
        text(&c.cmd(&["UNSUBSCRIBE"])),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0"
    );

    // RESP2: two confirmations, then messages, then back to normal.
    c.send_raw(&redis_testkit::conn::encode_request(&[
        "SUBSCRIBE",
        "a",
        "b",
    ]));
    assert_eq!(
        text(&c.read_reply_raw()),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1"
    );
    assert_eq!(
        text(&c.read_reply_raw()),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2"
    );
    assert_eq!(publish(&mut pubc, "PUBLISH", "b", "hello"), ":1");
    assert_eq!(
        text(&c.read_reply_raw()),
        "*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$5\r\nhello"
    );
    // Subscribed-state PING comes from the server, in its form.
    assert_eq!(text(&c.cmd(&["PING"])), "*2\r\n$4\r\npong\r\n$0");
    c.send_raw(&redis_testkit::conn::encode_request(&["UNSUBSCRIBE"]));
    let r1 = text(&c.read_reply_raw());
    let r2 = text(&c.read_reply_raw());
    assert!(r1.starts_with("*3\r\n$11\r\nunsubscribe"), "{r1}");
    assert!(r2.ends_with(":0"), "{r2}");
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");
    assert_eq!(publish(&mut pubc, "PUBLISH", "b", "x"), ":0");

    // RESP3: pushes, and ordinary commands while subscribed.
    let mut c3 = proxy.conn();
    assert!(c3.cmd(&["HELLO", "3"]).starts_with(b"%7\r\n"));
    assert_eq!(
        text(&c3.cmd(&["PSUBSCRIBE", "n*"])),
        ">3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1"
    );
    assert_eq!(text(&c3.cmd(&["GET", "k"])), "v");
    assert_eq!(publish(&mut pubc, "PUBLISH", "news", "hi"), ":1");
    assert_eq!(
        text(&c3.read_reply_raw()),
        ">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi"
    );
    // A subscriber that leaves: its relay connection goes with it.
    drop(c3);
    wait_for(Duration::from_secs(5), "the subscriber to go", || {
        text(&pubc.cmd(&["PUBLISH", "news", "x"])) == ":0"
    });
}

#[test]
fn proxy_cluster_transactions_shard_channels_and_select() {
    let nodes: Vec<TestServer> = (0..3).map(|_| start_node(ServerKind::Ours, &[])).collect();
    let refs: Vec<&TestServer> = nodes.iter().collect();
    create(&refs, &[]);
    let seed = format!("127.0.0.1:{}", nodes[0].port());
    let proxy = Proxy::start(&["--cluster", &seed]);
    let mut c = proxy.conn();

    assert!(text(&c.cmd(&["SELECT", "1"])).starts_with("-ERR redis-proxy"));
    assert_eq!(text(&c.cmd(&["SELECT", "0"])), "+OK");

    // MULTI first: it waits for the first key, which picks the node.
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["INCR", "{u}a"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["INCR", "{u}b"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["EXEC"])), "*2\r\n:1\r\n:1");
    // Afterwards the client is routed normally again.
    for i in 0..20 {
        assert_eq!(text(&c.cmd(&["SET", &format!("k{i}"), "1"])), "+OK");
    }

    // A command for another slot inside the transaction is refused and
    // the transaction is discarded, as upstream does.
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["SET", "{u}a", "9"])), "+QUEUED");
    assert_eq!(
        text(&c.cmd(&["SET", "{other}x", "1"])),
        "-CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert!(text(&c.cmd(&["EXEC"])).starts_with("-EXECABORT"));
    assert_eq!(text(&c.cmd(&["GET", "{u}a"])), "1");

    // WATCH pins too; a keyless transaction runs on some node.
    assert_eq!(text(&c.cmd(&["WATCH", "{u}a"])), "+OK");
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["INCR", "{u}a"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["EXEC"])), "*1\r\n:2");
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["PUBLISH", "nobody", "x"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["EXEC"])), "*1\r\n:0");
    // Commands the proxy answers itself are queued as well: before the
    // first key (in the proxy) and after it (on the node).
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["PING"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["INCR", "{u}a"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["ECHO", "e"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["EXEC"])), "*3\r\n+PONG\r\n:3\r\n$1\r\ne");
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["PING", "x"])), "+QUEUED");
    assert_eq!(text(&c.cmd(&["EXEC"])), "*1\r\n$1\r\nx");
    assert_eq!(text(&c.cmd(&["MULTI"])), "+OK");
    assert_eq!(text(&c.cmd(&["DISCARD"])), "+OK");

    // EVAL goes to its keys' slot.
    assert_eq!(
        text(&c.cmd(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "{u}a"])),
        "3"
    );

    // Shard channels: subscribed on the slot's node, SPUBLISH routed too.
    let mut sub = proxy.conn();
    assert_eq!(
        text(&sub.cmd(&["SSUBSCRIBE", "{u}ch"])),
        "*3\r\n$10\r\nssubscribe\r\n$5\r\n{u}ch\r\n:1"
    );
    assert_eq!(publish(&mut c, "SPUBLISH", "{u}ch", "m1"), ":1");
    assert_eq!(
        text(&sub.read_reply_raw()),
        "*3\r\n$8\r\nsmessage\r\n$5\r\n{u}ch\r\n$2\r\nm1"
    );
    // Plain channels reach subscribers on any node.
    let mut sub2 = proxy.conn();
    assert_eq!(
        text(&sub2.cmd(&["SUBSCRIBE", "plain"])),
        "*3\r\n$9\r\nsubscribe\r\n$5\r\nplain\r\n:1"
    );
    assert_eq!(publish(&mut c, "PUBLISH", "plain", "m2"), ":1");
    assert_eq!(
        text(&sub2.read_reply_raw()),
        "*3\r\n$7\r\nmessage\r\n$5\r\nplain\r\n$2\r\nm2"
    );
}

/// A fake backend: accepts connections and answers every request with
/// `reply` (`None`: never answers).
fn fake_backend(reply: Option<&'static [u8]>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if let Some(r) = reply {
                        if s.write_all(r).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

#[test]
fn proxy_backend_timeouts_and_garbage_give_clear_errors() {
    let silent = fake_backend(None);
    let proxy = Proxy::start(&[
        "--static",
        &format!("127.0.0.1:{silent}"),
        "--backend-timeout-ms",
        "300",
    ]);
    let mut c = proxy.conn();
    let r = text(&c.cmd(&["SET", "k", "v"]));
    assert!(r.starts_with("-ERR redis-proxy: backend timed out"), "{r}");
    // Local commands still work, and so does the next request (which
    // times out again, on a new connection).
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG");
    let r = text(&c.cmd(&["GET", "k"]));
    assert!(r.starts_with("-ERR redis-proxy: backend timed out"), "{r}");

    let garbage = fake_backend(Some(b"?garbage\r\n"));
    let proxy = Proxy::start(&["--static", &format!("127.0.0.1:{garbage}")]);
    let mut c = proxy.conn();
    let r = text(&c.cmd(&["GET", "k"]));
    assert!(
        r.starts_with("-ERR redis-proxy: the backend broke the protocol"),
        "{r}"
    );
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG");
}

#[test]
fn proxy_keeps_serving_while_a_client_never_reads() {
    let server = TestServer::start(ServerKind::Ours, &[]);
    let backend = format!("127.0.0.1:{}", server.port());
    let proxy = Proxy::start(&["--static", &backend]);
    let mut c = proxy.conn();
    let big = "x".repeat(100_000);
    assert_eq!(text(&c.cmd(&["SET", "big", &big])), "+OK");
    // Many large replies that are never read.
    let mut lazy = proxy.conn();
    let mut batch = Vec::new();
    for _ in 0..300 {
        batch.extend(redis_testkit::conn::encode_request(&["GET", "big"]));
    }
    lazy.send_raw(&batch);
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..100 {
        assert_eq!(text(&c.cmd(&["INCR", "n"])), format!(":{}", i + 1));
    }
    let mut other = proxy.conn();
    assert_eq!(text(&other.cmd(&["GET", "n"])), "100");
}
