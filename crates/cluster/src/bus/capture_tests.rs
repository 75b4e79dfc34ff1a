//! Captures real cluster bus traffic from Debian's Redis 7.0 server and
//! (re)writes the fixtures in `bus/fixtures/`. Ignored by default (it
//! needs `/usr/bin/redis-server` 7.0); run it with
//! `cargo test -p redis-cluster bus::capture_tests -- --ignored --nocapture`.
//!
//! Three nodes A, B, C (client ports 19371-19373, bus ports
//! 29371-29373) start with fixed names (a prepared `nodes.conf`) and
//! announce a relay port (19381-19383) as their bus port, so every bus
//! connection to a node goes through a relay here that records both
//! directions. The scenario: B and C meet A; A takes all slots but
//! 1, 8 and 16383; B
//! replicates A; PUBLISH and SPUBLISH on A; C is stopped until A marks
//! it FAIL; B takes over by manual failover (MFSTART, AUTH_REQUEST,
//! AUTH_ACK); last, a PING encoded here, claiming to be C serving B's
//! slots at an old epoch, is sent to B's bus port: B answers PONG and
//! sends C an UPDATE. Every captured message
//! must decode and re-encode to the same bytes; one of each type is
//! saved as a fixture. Every process started is killed by its PID.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{decode, encode, frame_len, node_flags, Body, Header, Message, NodeName, PingData};

/// Client ports of A, B, C.
const PORTS: [u16; 3] = [19371, 19372, 19373];
/// Relay ports announced as A's, B's, C's bus ports.
const RELAYS: [u16; 3] = [19381, 19382, 19383];
/// `cluster-announce-hostname` of A (its pings carry the extension).
pub(crate) const HOSTNAME_A: &str = "node-a.example";

/// The fixed node names of A, B, C used by the capture.
pub(crate) fn node_name(index: usize) -> String {
    let digit = ["a", "b", "c"][index];
    format!("{}{}", digit.repeat(39), index + 1)
}

/// One direction of one relayed connection.
struct Stream {
    /// Which node the relay fronts (0..3).
    node: usize,
    /// true: bytes sent to the node; false: bytes the node sent back.
    to_node: bool,
    data: Vec<u8>,
}

type Streams = Arc<Mutex<Vec<Stream>>>;

/// Kills the started servers by PID when dropped.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts a relay on `listen` forwarding to `target`, recording into
/// `streams`; runs until the test process ends.
fn start_relay(node: usize, listen: u16, target: u16, streams: Streams) {
    let listener = TcpListener::bind(("127.0.0.1", listen)).unwrap();
    thread::spawn(move || {
        for incoming in listener.incoming() {
            let Ok(client) = incoming else { break };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let index = {
                let mut s = streams.lock().unwrap();
                s.push(Stream {
                    node,
                    to_node: true,
                    data: Vec::new(),
                });
                s.push(Stream {
                    node,
                    to_node: false,
                    data: Vec::new(),
                });
                s.len() - 2
            };
            pump(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                streams.clone(),
                index,
            );
            pump(server, client, streams.clone(), index + 1);
        }
    });
}

fn pump(mut from: TcpStream, mut to: TcpStream, streams: Streams, index: usize) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            streams.lock().unwrap()[index]
                .data
                .extend_from_slice(&buf[..n]);
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A minimal RESP client for driving the reference nodes.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

#[derive(Debug)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    fn text(&self) -> String {
        match self {
            Reply::Status(s) | Reply::Error(s) => s.clone(),
            Reply::Int(n) => n.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) => String::new(),
            Reply::Array(items) => items.iter().map(Reply::text).collect::<Vec<_>>().join("\n"),
        }
    }
}

impl Client {
    fn connect(port: u16) -> Client {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    return Client {
                        reader: BufReader::new(s.try_clone().unwrap()),
                        writer: s,
                    };
                }
                Err(e) if Instant::now() > deadline => panic!("connect {port}: {e}"),
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn cmd(&mut self, args: &[&str]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
        }
        self.writer.write_all(&out).unwrap();
        self.read_reply()
    }

    fn ok(&mut self, args: &[&str]) -> Reply {
        let reply = self.cmd(args);
        assert!(
            !matches!(reply, Reply::Error(_)),
            "{args:?} failed: {reply:?}"
        );
        reply
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    fn read_reply(&mut self) -> Reply {
        let line = self.read_line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.reader.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                Reply::Array((0..n.max(0)).map(|_| self.read_reply()).collect())
            }
            other => panic!("unexpected reply type {other:?}"),
        }
    }
}

/// Polls `check` every 100 ms for up to `secs` seconds.
fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

fn start_node(dir: &Path, index: usize) -> Child {
    let port = PORTS[index];
    let conf = format!("nodes-{port}.conf");
    std::fs::write(
        dir.join(&conf),
        format!(
            "{} :{port}@{} myself,master - 0 0 0 connected\nvars currentEpoch 0 lastVoteEpoch 0\n",
            node_name(index),
            RELAYS[index]
        ),
    )
    .unwrap();
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        &conf,
        "--dir",
        dir.to_str().unwrap(),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        &format!("node-{port}.log"),
        "--cluster-node-timeout",
        "1500",
        "--cluster-require-full-coverage",
        "no",
        "--cluster-announce-bus-port",
        &RELAYS[index].to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if index == 0 {
        args.extend(["--cluster-announce-hostname".into(), HOSTNAME_A.into()]);
    }
    if index == 1 {
        args.extend(["--cluster-announce-ip".into(), "127.0.0.1".into()]);
    }
    Command::new("/usr/bin/redis-server")
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn nodes_view(client: &mut Client) -> String {
    client.ok(&["CLUSTER", "NODES"]).text()
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bus/fixtures")
}

/// Writes `bytes` as a hex fixture: `#` comment lines, then 32 bytes a
/// line.
fn write_fixture(name: &str, comment: &str, bytes: &[u8]) {
    let mut text =
        format!("# {comment}\n# captured from Debian redis-server 7.0 by bus::capture_tests\n");
    for chunk in bytes.chunks(32) {
        for b in chunk {
            text.push_str(&format!("{b:02x}"));
        }
        text.push('\n');
    }
    std::fs::write(fixtures_dir().join(name), text).unwrap();
}

fn describe(m: &Message) -> String {
    let extra = match &m.body {
        Body::Ping(d) | Body::Pong(d) | Body::Meet(d) => {
            format!("gossip={} ext={}", d.gossip.len(), d.extensions.len())
        }
        Body::Fail { node } => format!("about={node}"),
        _ => String::new(),
    };
    format!(
        "type={} sender={} flags={} mflags={:?} {}",
        m.msg_type(),
        m.header.sender,
        m.header.flags,
        m.header.mflags,
        extra
    )
}

/// Reads one whole message from a bus connection.
fn read_frame(stream: &mut TcpStream) -> Message {
    let mut buf = vec![0u8; 8];
    stream.read_exact(&mut buf).unwrap();
    let len = frame_len(&buf).unwrap().unwrap();
    buf.resize(len, 0);
    stream.read_exact(&mut buf[8..]).unwrap();
    decode(&buf).unwrap()
}

/// The whole PINGs, PONGs and MEETs recorded so far from `sender`.
fn read_frames_sent_by(streams: &Streams, sender: &str) -> Vec<Message> {
    let mut out = Vec::new();
    for s in streams.lock().unwrap().iter() {
        let mut rest = &s.data[..];
        while let Ok(Some(len)) = frame_len(rest) {
            if rest.len() < len {
                break;
            }
            if let Ok(m) = decode(&rest[..len]) {
                if m.header.sender.to_string() == sender && m.body.ping_data().is_some() {
                    out.push(m);
                }
            }
            rest = &rest[len..];
        }
    }
    out
}

#[test]
#[ignore = "needs /usr/bin/redis-server 7.0; rewrites bus/fixtures"]
fn capture_fixtures_from_redis_7() {
    let dir = std::env::temp_dir().join(format!("bus-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let streams: Streams = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        start_relay(i, RELAYS[i], PORTS[i] + 10000, streams.clone());
    }
    let servers = Servers((0..3).map(|i| start_node(&dir, i)).collect());
    let mut c: Vec<Client> = PORTS.iter().map(|&p| Client::connect(p)).collect();
    let names: Vec<String> = (0..3).map(node_name).collect();
    for (i, client) in c.iter_mut().enumerate() {
        let me = client.ok(&["CLUSTER", "MYID"]).text();
        assert_eq!(me, names[i], "nodes.conf name not taken");
    }

    // A serves every slot but 1, 8 and 16383 (a bitmap whose bit order
    // shows); B and C meet A through A's relay.
    c[0].ok(&["CLUSTER", "ADDSLOTSRANGE", "0", "0", "2", "7", "9", "16382"]);
    for client in &mut c[1..] {
        client.ok(&[
            "CLUSTER",
            "MEET",
            "127.0.0.1",
            &PORTS[0].to_string(),
            &RELAYS[0].to_string(),
        ]);
    }
    for client in &mut c {
        wait_for("all nodes known", 30, || {
            let view = nodes_view(client);
            view.lines().count() == 3
                && !view.contains("handshake")
                && !view.contains("noaddr")
                && client
                    .ok(&["CLUSTER", "INFO"])
                    .text()
                    .contains("cluster_state:ok")
        });
    }
    // Let gossip carry the third node in each ping.
    thread::sleep(Duration::from_secs(2));

    // B replicates A.
    c[1].ok(&["CLUSTER", "REPLICATE", &names[0]]);
    wait_for("B is a replica everywhere", 30, || {
        (0..3).all(|i| {
            nodes_view(&mut c[i])
                .lines()
                .any(|l| l.starts_with(&names[1]) && l.contains("slave"))
        })
    });

    // A write, so that A's replication offset (sent in every header)
    // is not zero.
    c[0].ok(&["SET", "key", "value"]);
    wait_for("B replicated the write", 30, || {
        c[1].ok(&["READONLY"]);
        matches!(c[1].cmd(&["GET", "key"]), Reply::Bulk(Some(_)))
    });

    // PUBLISH goes to every node, SPUBLISH to A's replica.
    c[0].ok(&["PUBLISH", "news", "hello cluster"]);
    c[0].ok(&["SPUBLISH", "shardnews", "hello shard"]);
    thread::sleep(Duration::from_millis(500));

    // C stops until A (sole master with slots) marks it FAIL.
    signal(&servers.0[2], "-STOP");
    wait_for("A marks C as fail", 30, || {
        nodes_view(&mut c[0])
            .lines()
            .any(|l| l.starts_with(&names[2]) && l.contains("fail") && !l.contains("fail?"))
    });
    signal(&servers.0[2], "-CONT");
    wait_for("C back", 30, || {
        nodes_view(&mut c[0])
            .lines()
            .any(|l| l.starts_with(&names[2]) && !l.contains("fail"))
    });

    // Manual failover: B takes over from A.
    c[1].ok(&["CLUSTER", "FAILOVER"]);
    wait_for("B is master", 30, || {
        nodes_view(&mut c[1])
            .lines()
            .any(|l| l.starts_with(&names[1]) && l.contains("master"))
            && nodes_view(&mut c[0])
                .lines()
                .any(|l| l.starts_with(&names[0]) && l.contains("slave"))
    });
    thread::sleep(Duration::from_secs(1));

    // A PING of ours, claiming to be C serving B's slots at configEpoch
    // 0, sent straight to B's bus port: B must accept it (it answers
    // PONG) and, as C's claim is stale, send UPDATE to C (through C's
    // relay).
    let b_slots = read_frames_sent_by(&streams, &names[1])
        .into_iter()
        .rev()
        .find(|m| m.header.slaveof.is_none() && !m.header.myslots.is_empty())
        .expect("a PING of B as master")
        .header
        .myslots;
    let fake = Message::new(
        Header {
            port: PORTS[2],
            current_epoch: 0,
            config_epoch: 0,
            sender: NodeName::from_bytes(names[2].as_bytes()).unwrap(),
            myslots: b_slots,
            cport: RELAYS[2],
            flags: node_flags::MASTER,
            ..Header::default()
        },
        Body::Ping(PingData::default()),
    );
    let mut bus = TcpStream::connect(("127.0.0.1", PORTS[1] + 10000)).unwrap();
    bus.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bus.write_all(&encode(&fake)).unwrap();
    let reply = read_frame(&mut bus);
    assert!(matches!(reply.body, Body::Pong(_)), "B answered {reply:?}");
    assert_eq!(reply.header.sender.to_string(), names[1]);
    wait_for("UPDATE to C", 10, || {
        streams.lock().unwrap().iter().any(|s| {
            s.node == 2 && s.to_node && s.data.windows(4).any(|w| w == b"RCmb") && {
                let mut rest = &s.data[..];
                let mut found = false;
                while let Ok(Some(len)) = frame_len(rest) {
                    if rest.len() < len {
                        break;
                    }
                    found |= rest[12..14] == [0, 7];
                    rest = &rest[len..];
                }
                found
            }
        })
    });
    drop(bus);

    drop(c);
    drop(servers);
    thread::sleep(Duration::from_millis(300));

    // Every captured message must decode and re-encode byte for byte.
    let streams = std::mem::take(&mut *streams.lock().unwrap());
    let mut all: Vec<(usize, bool, Vec<u8>, Message)> = Vec::new();
    for s in &streams {
        let mut rest = &s.data[..];
        while let Some(len) = frame_len(rest).unwrap() {
            if rest.len() < len {
                break; // cut by the kill
            }
            let (packet, tail) = rest.split_at(len);
            let msg =
                decode(packet).unwrap_or_else(|e| panic!("captured packet did not decode: {e}"));
            let again = encode(&msg);
            if again != packet {
                let at = again.iter().zip(packet).position(|(a, b)| a != b);
                panic!("re-encoding differs at {at:?}: {}", describe(&msg));
            }
            all.push((s.node, s.to_node, packet.to_vec(), msg));
            rest = tail;
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for (_, _, bytes, m) in &all {
        let e = counts.entry((m.msg_type(), bytes.len())).or_insert(0);
        *e += 1;
    }
    for ((t, len), n) in &counts {
        println!("type {t:2} length {len:5}: {n} packets");
    }

    let pick = |what: &str, f: &dyn Fn(&Message) -> bool| -> Vec<u8> {
        let found = all
            .iter()
            .find(|(_, _, _, m)| f(m))
            .unwrap_or_else(|| panic!("no {what} captured"));
        println!("{what}: {} bytes, {}", found.2.len(), describe(&found.3));
        found.2.clone()
    };
    let sender = |m: &Message, i: usize| m.header.sender.to_string() == names[i];
    let fixtures: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "meet.hex",
            "MEET from B (announces 127.0.0.1) to A",
            pick("meet", &|m| matches!(m.body, Body::Meet(_)) && sender(m, 1)),
        ),
        (
            "ping_hostname.hex",
            "PING from A with gossip and the hostname extension",
            pick("ping with hostname", &|m| match &m.body {
                Body::Ping(d) => {
                    !d.extensions.is_empty()
                        && !d.gossip.is_empty()
                        && sender(m, 0)
                        && m.header.mflags[0] == super::msg_flags::EXT_DATA
                }
                _ => false,
            }),
        ),
        (
            "pong.hex",
            "PONG from C (no extension) with gossip",
            pick("pong", &|m| match &m.body {
                Body::Pong(d) => !d.gossip.is_empty() && sender(m, 2),
                _ => false,
            }),
        ),
        (
            "ping_replica.hex",
            "PING from B while it replicates A",
            pick("replica ping", &|m| {
                matches!(m.body, Body::Ping(_)) && sender(m, 1) && m.header.slaveof.is_some()
            }),
        ),
        (
            "fail.hex",
            "FAIL about C (C stopped past the node timeout)",
            pick("fail", &|m| matches!(m.body, Body::Fail { .. })),
        ),
        (
            "publish.hex",
            "PUBLISH news \"hello cluster\" from A",
            pick("publish", &|m| matches!(m.body, Body::Publish { .. })),
        ),
        (
            "publishshard.hex",
            "PUBLISHSHARD shardnews \"hello shard\" from A",
            pick("publishshard", &|m| {
                matches!(m.body, Body::PublishShard { .. })
            }),
        ),
        (
            "mfstart.hex",
            "MFSTART from B to A",
            pick("mfstart", &|m| matches!(m.body, Body::MfStart)),
        ),
        (
            "ping_paused.hex",
            "PING from A with the PAUSED flag during the manual failover",
            pick("paused ping", &|m| {
                sender(m, 0) && m.header.mflags[0] & super::msg_flags::PAUSED != 0
            }),
        ),
        (
            "auth_request.hex",
            "FAILOVER_AUTH_REQUEST (FORCEACK) from B",
            pick("auth request", &|m| {
                matches!(m.body, Body::FailoverAuthRequest)
            }),
        ),
        (
            "auth_ack.hex",
            "FAILOVER_AUTH_ACK to B",
            pick("auth ack", &|m| matches!(m.body, Body::FailoverAuthAck)),
        ),
        (
            "update.hex",
            "UPDATE from B to C (answering a stale claim we sent as C)",
            pick("update", &|m| matches!(m.body, Body::Update { .. })),
        ),
    ];
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    for (name, comment, bytes) in &fixtures {
        write_fixture(name, comment, bytes);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Answers every PING/MEET read from `stream` with `pong` until the
/// connection ends.
fn answer_pings(mut stream: TcpStream, pong: Vec<u8>, seen: Arc<Mutex<Vec<Message>>>) {
    thread::spawn(move || loop {
        let mut buf = vec![0u8; 8];
        if stream.read_exact(&mut buf).is_err() {
            break;
        }
        let Ok(Some(len)) = frame_len(&buf) else {
            break;
        };
        buf.resize(len, 0);
        if stream.read_exact(&mut buf[8..]).is_err() {
            break;
        }
        let msg = decode(&buf).unwrap();
        let is_ping = matches!(msg.body, Body::Ping(_) | Body::Meet(_));
        seen.lock().unwrap().push(msg);
        if is_ping && stream.write_all(&pong).is_err() {
            break;
        }
    });
}

#[test]
#[ignore = "needs /usr/bin/redis-server 7.0"]
fn fake_node_joins_redis_7() {
    const NODE_PORT: u16 = 19374;
    const FAKE_PORT: u16 = 19385;
    const FAKE_BUS: u16 = 19384;
    let dir = std::env::temp_dir().join(format!("bus-fake-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = format!("nodes-{NODE_PORT}.conf");
    let child = Command::new("/usr/bin/redis-server")
        .args([
            "--port",
            &NODE_PORT.to_string(),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &conf,
            "--dir",
            dir.to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            "node.log",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _servers = Servers(vec![child]);
    let mut client = Client::connect(NODE_PORT);
    let real_name = client.ok(&["CLUSTER", "MYID"]).text();

    // Our node: a master claiming slots 100-200 at configEpoch 1.
    let fake_name = format!("{}4", "f".repeat(39));
    let mut slots = super::SlotBitmap::new();
    slots.set_range(100, 200);
    let header = Header {
        port: FAKE_PORT,
        current_epoch: 1,
        config_epoch: 1,
        sender: NodeName::parse(&fake_name).unwrap(),
        myslots: slots,
        cport: FAKE_BUS,
        flags: node_flags::MASTER | node_flags::MYSELF,
        ..Header::default()
    };
    let pong = encode(&Message::new(
        header.clone(),
        Body::Pong(PingData {
            gossip: Vec::new(),
            extensions: vec![super::PingExt::hostname("fake.example")],
        }),
    ));
    let listener = TcpListener::bind(("127.0.0.1", FAKE_BUS)).unwrap();

    // MEET from our node; the reference answers PONG.
    let mut bus = TcpStream::connect(("127.0.0.1", NODE_PORT + 10000)).unwrap();
    bus.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bus.write_all(&encode(&Message::new(
        header.clone(),
        Body::Meet(PingData::default()),
    )))
    .unwrap();
    let reply = read_frame(&mut bus);
    assert!(matches!(reply.body, Body::Pong(_)), "{reply:?}");
    assert_eq!(reply.header.sender.to_string(), real_name);

    // The reference connects to our bus port and pings; we answer.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (incoming, _) = listener.accept().unwrap();
    answer_pings(incoming, pong, seen.clone());
    wait_for("the reference to list our node with its slots", 20, || {
        let view = nodes_view(&mut client);
        view.lines().any(|l| {
            l.starts_with(&fake_name)
                && l.contains(&format!("127.0.0.1:{FAKE_PORT}@{FAKE_BUS},fake.example"))
                && l.contains("master")
                && l.contains("connected")
                && !l.contains("handshake")
                && l.ends_with("100-200")
        })
    });
    let seen = seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|m| m.header.sender.to_string() == real_name));
    assert!(seen.iter().any(|m| matches!(m.body, Body::Ping(_))));
    drop(bus);
    let _ = std::fs::remove_dir_all(&dir);
}
