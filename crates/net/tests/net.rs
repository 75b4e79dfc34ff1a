//! The connection loop and the acceptors, driven with a toy service over
//! real loopback sockets and in-memory duplex pipes.
//!
//! The toy understands a few commands: `PING`, `ECHO x`, `ID`, `BIG n`
//! (an n-byte bulk reply), `BLOCK ms` (block until woken by a push, or for
//! ms milliseconds; 0 = forever), `PAUSE n` (ask the loop to retry n times
//! first), `QUIT`, `AUTH`, `DURABLE ms` (the reply waits for a durability
//! future of ms milliseconds) and `SHUTDOWN` (`Flow::Stop`).
//!
//! Every test runs under a global time bound, and every read has its own.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redis_net::{
    Acceptors, Blocked, CloseReason, ConnSettings, ConnSignal, DurableWait, Flow, IoDelta,
    Listeners, OutputLimit, Peer, Service, Session,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const TEST_BOUND: Duration = Duration::from_secs(60);
const READ_BOUND: Duration = Duration::from_secs(10);

/// Runs a test body under [`TEST_BOUND`].
async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_BOUND, f)
        .await
        .expect("test exceeded its time bound");
}

#[derive(Default)]
struct Shared {
    settings: Mutex<ConnSettings>,
    refuse: Mutex<Option<Bytes>>,
    next_id: AtomicU64,
    signals: Mutex<HashMap<u64, Arc<ConnSignal>>>,
    peers: Mutex<Vec<Peer>>,
    /// Blocked clients another task served (see `wake`).
    served: Mutex<HashSet<u64>>,
    closed: Mutex<Vec<(u64, CloseReason)>>,
    io: Mutex<IoDelta>,
    retries: AtomicU64,
}

impl Shared {
    fn signal(&self, id: u64) -> Arc<ConnSignal> {
        self.signals.lock().unwrap()[&id].clone()
    }

    /// Serves blocked client `id` with `reply`, as the engine does for a
    /// BLPOP served by another client's push.
    fn wake(&self, id: u64, reply: &'static [u8]) {
        self.served.lock().unwrap().insert(id);
        self.signal(id)
            .push
            .send(Bytes::from_static(reply))
            .unwrap();
    }

    /// Waits (bounded) for client `id` to close and returns its reason.
    async fn reason(&self, id: u64) -> CloseReason {
        for _ in 0..1000 {
            {
                let mut c = self.closed.lock().unwrap();
                if let Some(i) = c.iter().position(|(i, _)| *i == id) {
                    return c.remove(i).1;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("client {id} did not close");
    }

    fn is_closed(&self, id: u64) -> bool {
        self.closed.lock().unwrap().iter().any(|(i, _)| *i == id)
    }
}

#[derive(Clone, Default)]
struct Toy(Arc<Shared>);

impl Service for Toy {
    type Session = ToySession;

    fn open(&self, peer: &Peer, signal: Arc<ConnSignal>) -> Result<ToySession, Bytes> {
        if let Some(msg) = self.0.refuse.lock().unwrap().clone() {
            return Err(msg);
        }
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.0.signals.lock().unwrap().insert(id, signal);
        self.0.peers.lock().unwrap().push(peer.clone());
        Ok(ToySession {
            id,
            shared: self.0.clone(),
            blocked: None,
            close: false,
            retries: 0,
            authed: false,
            durable: None,
        })
    }
}

struct ToySession {
    id: u64,
    shared: Arc<Shared>,
    blocked: Option<Blocked>,
    close: bool,
    retries: u64,
    authed: bool,
    durable: Option<Duration>,
}

fn num(b: &[u8]) -> u64 {
    std::str::from_utf8(b).unwrap().parse().unwrap()
}

impl Session for ToySession {
    fn settings(&self) -> ConnSettings {
        let mut s = *self.shared.settings.lock().unwrap();
        s.auth_required &= !self.authed;
        s
    }

    fn execute(
        &mut self,
        pending: &mut VecDeque<Vec<Bytes>>,
        out: &mut BytesMut,
        io: IoDelta,
    ) -> Flow {
        {
            let mut t = self.shared.io.lock().unwrap();
            t.read_bytes += io.read_bytes;
            t.written_bytes += io.written_bytes;
            t.reads += io.reads;
            t.writes += io.writes;
        }
        let mut ran = false;
        while let Some(argv) = pending.front() {
            let cmd = argv[0].to_ascii_uppercase();
            match &cmd[..] {
                b"PAUSE" => {
                    if self.retries < num(&argv[1]) {
                        if ran {
                            // "Nothing ran" is the contract of RetryAfter.
                            return Flow::Continue;
                        }
                        self.retries += 1;
                        self.shared.retries.fetch_add(1, Ordering::Relaxed);
                        return Flow::RetryAfter(Duration::from_millis(10));
                    }
                    self.retries = 0;
                    out.extend_from_slice(b"+OK\r\n");
                }
                b"SHUTDOWN" => return Flow::Stop,
                b"PING" => out.extend_from_slice(b"+PONG\r\n"),
                b"ECHO" => {
                    out.extend_from_slice(format!("${}\r\n", argv[1].len()).as_bytes());
                    out.extend_from_slice(&argv[1]);
                    out.extend_from_slice(b"\r\n");
                }
                b"ID" => out.extend_from_slice(format!(":{}\r\n", self.id).as_bytes()),
                b"BIG" => {
                    let n = num(&argv[1]) as usize;
                    out.extend_from_slice(format!("${n}\r\n").as_bytes());
                    out.resize(out.len() + n, b'x');
                    out.extend_from_slice(b"\r\n");
                }
                b"BLOCK" => {
                    let ms = num(&argv[1]);
                    self.blocked = Some(if ms == 0 {
                        Blocked::Forever
                    } else {
                        Blocked::Until(Instant::now() + Duration::from_millis(ms))
                    });
                }
                b"QUIT" => {
                    out.extend_from_slice(b"+OK\r\n");
                    self.close = true;
                }
                b"AUTH" => {
                    self.authed = true;
                    out.extend_from_slice(b"+OK\r\n");
                }
                b"DURABLE" => {
                    self.durable = Some(Duration::from_millis(num(&argv[1])));
                    out.extend_from_slice(b"+OK\r\n");
                }
                _ => out.extend_from_slice(b"-ERR unknown command\r\n"),
            }
            pending.pop_front();
            ran = true;
            if self.blocked.is_some() || self.close {
                break;
            }
        }
        Flow::Continue
    }

    fn blocked(&self) -> Option<Blocked> {
        self.blocked
    }

    fn close_after_reply(&self) -> bool {
        self.close
    }

    fn on_push(&mut self) {
        if self.blocked.is_some() && self.shared.served.lock().unwrap().remove(&self.id) {
            self.blocked = None;
        }
    }

    fn on_block_timeout(&mut self, out: &mut BytesMut) {
        out.extend_from_slice(b"*-1\r\n");
        self.blocked = None;
    }

    fn durable_wait(&mut self) -> Option<DurableWait> {
        self.durable
            .take()
            .map(|d| Box::pin(tokio::time::sleep(d)) as DurableWait)
    }

    fn closed(self, reason: CloseReason) {
        self.shared.signals.lock().unwrap().remove(&self.id);
        self.shared.closed.lock().unwrap().push((self.id, reason));
    }
}

/// A toy server on 127.0.0.1 (ephemeral port).
struct Server {
    toy: Toy,
    acceptors: Acceptors,
    addr: SocketAddr,
    shutdown: CancellationToken,
}

async fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

async fn server_with(settings: ConnSettings) -> Server {
    let toy = Toy::default();
    *toy.0.settings.lock().unwrap() = settings;
    let l = loopback().await;
    let addr = l.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let acceptors = Acceptors::start(
        Listeners {
            tcp: vec![l],
            unix: None,
        },
        Arc::new(toy.clone()),
        TaskTracker::new(),
        shutdown.clone(),
    )
    .unwrap();
    Server {
        toy,
        acceptors,
        addr,
        shutdown,
    }
}

async fn server() -> Server {
    server_with(ConnSettings::default()).await
}

async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(READ_BOUND, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap()
}

async fn read_n<R: AsyncRead + Unpin>(r: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(READ_BOUND, r.read_exact(&mut buf))
        .await
        .expect("read timed out")
        .unwrap();
    buf
}

/// Everything up to the end of the stream (errors end it too).
async fn read_eof<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(READ_BOUND, r.read_to_end(&mut buf))
        .await
        .expect("no end of stream");
    buf
}

/// Asserts nothing arrives within `d`.
async fn silent<R: AsyncRead + Unpin>(r: &mut R, d: Duration) {
    let mut b = [0u8; 64];
    if let Ok(r) = tokio::time::timeout(d, r.read(&mut b)).await {
        panic!("unexpected input: {:?}", r.map(|n| b[..n].to_vec()));
    }
}

/// Sends `ID` and returns the connection's id.
async fn id<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> u64 {
    s.write_all(b"ID\r\n").await.unwrap();
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        line.extend(read_n(s, 1).await);
    }
    num(&line[1..line.len() - 2])
}

#[tokio::test]
async fn ping_pipeline_over_tcp() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        c.write_all(b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n")
            .await
            .unwrap();
        assert_eq!(
            read_n(&mut c, 7 + 8 + 7).await,
            b"+PONG\r\n$2\r\nhi\r\n+PONG\r\n"
        );
        let peer = srv.toy.0.peers.lock().unwrap()[0].clone();
        assert!(peer.is_local && !peer.is_unix);
        assert_eq!(peer.laddr, srv.addr.to_string());
        assert_eq!(peer.addr, c.local_addr().unwrap().to_string());
        // Traffic is reported to the session.
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
        let io = *srv.toy.0.io.lock().unwrap();
        assert!(io.read_bytes >= 39 && io.reads >= 2, "{io:?}");
        assert!(io.written_bytes >= 22 && io.writes >= 1, "{io:?}");
        drop(c);
        assert!(matches!(srv.toy.0.reason(1).await, CloseReason::PeerClosed));
    })
    .await;
}

#[tokio::test]
async fn serves_a_duplex_stream() {
    bounded(async {
        let toy = Toy::default();
        // A tiny pipe: replies must drain while requests keep coming.
        let (mut client, server_end) = tokio::io::duplex(64);
        let peer = Peer {
            addr: "pipe:0".into(),
            laddr: "pipe:0".into(),
            is_local: true,
            is_unix: false,
            fd: -1,
        };
        let task = tokio::spawn(redis_net::serve(Arc::new(toy.clone()), server_end, peer));
        let (mut rd, mut wr) = tokio::io::split(&mut client);
        let writer = async {
            for _ in 0..1000 {
                wr.write_all(b"PING\r\n").await.unwrap();
            }
        };
        let reader = async { read_n(&mut rd, 7000).await };
        let (_, got) = tokio::join!(writer, reader);
        assert_eq!(got, b"+PONG\r\n".repeat(1000));
        client.write_all(b"QUIT\r\nPING\r\n").await.unwrap();
        assert_eq!(read_eof(&mut client).await, b"+OK\r\n");
        tokio::time::timeout(READ_BOUND, task)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(toy.0.reason(1).await, CloseReason::AfterReply));
    })
    .await;
}

#[tokio::test]
async fn blocked_client_waits_for_a_push() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        let id = id(&mut c).await;
        // The PING behind the blocking command waits with it.
        c.write_all(b"BLOCK 0\r\nPING\r\n").await.unwrap();
        silent(&mut c, Duration::from_millis(150)).await;
        // Input read while blocked stays buffered, unparsed.
        c.write_all(b"ECHO late\r\n").await.unwrap();
        silent(&mut c, Duration::from_millis(100)).await;
        srv.toy.0.wake(id, b"+WOKE\r\n");
        assert_eq!(
            read_n(&mut c, 24).await,
            b"+WOKE\r\n+PONG\r\n$4\r\nlate\r\n"
        );
        // A push to a client that is not blocked is just written.
        srv.toy
            .0
            .signal(id)
            .push
            .send(Bytes::from_static(b">1\r\n"))
            .unwrap();
        assert_eq!(read_n(&mut c, 4).await, b">1\r\n");
    })
    .await;
}

#[tokio::test]
async fn blocked_client_times_out_and_is_never_idle() {
    bounded(async {
        let srv = server_with(ConnSettings {
            idle_timeout: Some(Duration::from_millis(100)),
            ..ConnSettings::default()
        })
        .await;
        let mut c = connect(srv.addr).await;
        let t0 = Instant::now();
        c.write_all(b"BLOCK 400\r\nPING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 12).await, b"*-1\r\n+PONG\r\n");
        assert!(t0.elapsed() >= Duration::from_millis(400));
        // Not blocked any more: the idle timeout applies.
        assert_eq!(read_eof(&mut c).await, b"");
        assert!(matches!(
            srv.toy.0.reason(1).await,
            CloseReason::IdleTimeout
        ));
        assert!(t0.elapsed() >= Duration::from_millis(500));
    })
    .await;
}

#[tokio::test]
async fn paused_batch_is_retried() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        let t0 = Instant::now();
        c.write_all(b"PING\r\nPAUSE 3\r\nPING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 19).await, b"+PONG\r\n+OK\r\n+PONG\r\n");
        assert_eq!(srv.toy.0.retries.load(Ordering::Relaxed), 3);
        assert!(t0.elapsed() >= Duration::from_millis(30));
    })
    .await;
}

#[tokio::test]
async fn kill_and_close_after_flush() {
    bounded(async {
        let srv = server().await;
        let mut a = connect(srv.addr).await;
        let mut b = connect(srv.addr).await;
        let ida = id(&mut a).await;
        let idb = id(&mut b).await;
        srv.toy.0.signal(ida).kill();
        assert_eq!(read_eof(&mut a).await, b"");
        assert!(matches!(srv.toy.0.reason(ida).await, CloseReason::Killed));
        let sb = srv.toy.0.signal(idb);
        sb.push.send(Bytes::from_static(b"+LAST\r\n")).unwrap();
        sb.close_after_flush();
        assert_eq!(read_eof(&mut b).await, b"+LAST\r\n");
        assert!(matches!(
            srv.toy.0.reason(idb).await,
            CloseReason::AfterReply
        ));
        // The mailbox of a closed connection refuses messages.
        assert!(sb.push.send(Bytes::from_static(b"x")).is_err());
    })
    .await;
}

/// A toy connection over a small duplex pipe whose client reads nothing
/// until told: output accumulates on the server side.
fn pipe_client(toy: &Toy) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
    let (client, server_end) = tokio::io::duplex(1024);
    let peer = Peer {
        addr: "pipe:0".into(),
        laddr: "pipe:0".into(),
        is_local: true,
        is_unix: false,
        fd: -1,
    };
    let task = tokio::spawn(redis_net::serve(Arc::new(toy.clone()), server_end, peer));
    (client, task)
}

#[tokio::test]
async fn output_hard_limit_closes() {
    bounded(async {
        let toy = Toy::default();
        toy.0.settings.lock().unwrap().output_limit = OutputLimit {
            hard: 50_000,
            ..OutputLimit::default()
        };
        let (mut c, task) = pipe_client(&toy);
        c.write_all(b"BIG 10000\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!toy.0.is_closed(1));
        c.write_all(b"BIG 100000\r\n").await.unwrap();
        match toy.0.reason(1).await {
            CloseReason::OutputBufferLimit { used, hard: true } => assert!(used >= 50_000),
            r => panic!("{r:?}"),
        }
        tokio::time::timeout(READ_BOUND, task)
            .await
            .unwrap()
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn output_soft_limit_closes_after_its_time() {
    bounded(async {
        let toy = Toy::default();
        toy.0.settings.lock().unwrap().output_limit = OutputLimit {
            hard: 0,
            soft: 20_000,
            soft_for: Duration::from_millis(300),
        };
        let (mut c, _task) = pipe_client(&toy);
        let t0 = Instant::now();
        c.write_all(b"BIG 30000\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!toy.0.is_closed(1), "closed before the soft time");
        // More output keeps the client over the limit until it closes.
        for _ in 0..100 {
            if toy.0.is_closed(1) {
                break;
            }
            let _ = c.write_all(b"PING\r\n").await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match toy.0.reason(1).await {
            CloseReason::OutputBufferLimit { hard: false, .. } => {}
            r => panic!("{r:?}"),
        }
        assert!(t0.elapsed() >= Duration::from_millis(300));
    })
    .await;
}

#[tokio::test]
async fn soft_limit_forgiven_when_the_client_catches_up() {
    bounded(async {
        let toy = Toy::default();
        toy.0.settings.lock().unwrap().output_limit = OutputLimit {
            hard: 0,
            soft: 20_000,
            soft_for: Duration::from_millis(200),
        };
        let (mut c, _task) = pipe_client(&toy);
        c.write_all(b"BIG 30000\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Drain it all: below the soft limit, the clock restarts.
        read_n(&mut c, 30000 + 10).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        c.write_all(b"BIG 30000\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.write_all(b"PING\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!toy.0.is_closed(1));
    })
    .await;
}

#[tokio::test]
async fn query_buffer_limit_closes() {
    bounded(async {
        let srv = server_with(ConnSettings {
            query_buffer_limit: 1024,
            ..ConnSettings::default()
        })
        .await;
        let mut c = connect(srv.addr).await;
        // An inline request without its line end keeps growing.
        c.write_all(&[b'A'; 2000]).await.unwrap();
        assert_eq!(read_eof(&mut c).await, b"");
        match srv.toy.0.reason(1).await {
            CloseReason::QueryBufferLimit { len, head } => {
                assert!(len > 1024);
                assert_eq!(head, vec![b'A'; 64]);
            }
            r => panic!("{r:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn protocol_error_after_owed_replies() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        c.write_all(b"PING\r\nPING\r\n*1\r\n$x\r\n").await.unwrap();
        assert_eq!(
            read_eof(&mut c).await,
            b"+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
        );
        match srv.toy.0.reason(1).await {
            CloseReason::Protocol(e) => assert_eq!(e.0, "Protocol error: invalid bulk length"),
            r => panic!("{r:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn idle_client_is_closed() {
    bounded(async {
        let srv = server_with(ConnSettings {
            idle_timeout: Some(Duration::from_millis(200)),
            ..ConnSettings::default()
        })
        .await;
        let mut c = connect(srv.addr).await;
        let t0 = Instant::now();
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_eof(&mut c).await, b"+PONG\r\n");
        assert!(t0.elapsed() >= Duration::from_millis(200));
        assert!(matches!(
            srv.toy.0.reason(1).await,
            CloseReason::IdleTimeout
        ));
    })
    .await;
}

#[tokio::test]
async fn huge_pipeline_before_reading_does_not_deadlock() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        let payload = [b'p'; 100];
        let mut req = Vec::new();
        req.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$100\r\n");
        req.extend_from_slice(&payload);
        req.extend_from_slice(b"\r\n");
        let n = 20 * 1024 * 1024 / req.len();
        let batch = req.repeat(1000);
        // Write all 20 MB before reading a single reply.
        let mut sent = 0;
        while sent < n {
            c.write_all(&batch).await.unwrap();
            sent += 1000;
        }
        let mut reply = Vec::new();
        reply.extend_from_slice(b"$100\r\n");
        reply.extend_from_slice(&payload);
        reply.extend_from_slice(b"\r\n");
        let mut buf = vec![0u8; reply.len() * 1000];
        for _ in 0..sent / 1000 {
            tokio::time::timeout(READ_BOUND, c.read_exact(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(buf.chunks(reply.len()).all(|r| r == reply));
        }
    })
    .await;
}

#[tokio::test]
async fn refused_admission_writes_and_closes() {
    bounded(async {
        let srv = server().await;
        *srv.toy.0.refuse.lock().unwrap() = Some(Bytes::from_static(
            b"-ERR max number of clients reached\r\n",
        ));
        let mut c = connect(srv.addr).await;
        assert_eq!(
            read_eof(&mut c).await,
            b"-ERR max number of clients reached\r\n"
        );
        assert!(srv.toy.0.signals.lock().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn shutdown_flow_closes_without_replies() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        c.write_all(b"PING\r\nSHUTDOWN\r\n").await.unwrap();
        assert_eq!(read_eof(&mut c).await, b"");
        assert!(matches!(srv.toy.0.reason(1).await, CloseReason::Shutdown));
    })
    .await;
}

#[tokio::test]
async fn durable_wait_holds_the_replies() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        let t0 = Instant::now();
        c.write_all(b"DURABLE 150\r\nPING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 12).await, b"+OK\r\n+PONG\r\n");
        assert!(t0.elapsed() >= Duration::from_millis(150));
    })
    .await;
}

#[tokio::test]
async fn requests_after_auth_get_the_authenticated_limits() {
    bounded(async {
        let srv = server_with(ConnSettings {
            auth_required: true,
            ..ConnSettings::default()
        })
        .await;
        let mut c = connect(srv.addr).await;
        // One write: AUTH then a bulk above the unauthenticated 16 KiB.
        let big = vec![b'v'; 20_000];
        let mut req = b"AUTH\r\n*2\r\n$4\r\nECHO\r\n$20000\r\n".to_vec();
        req.extend_from_slice(&big);
        req.extend_from_slice(b"\r\n");
        c.write_all(&req).await.unwrap();
        let mut want = b"+OK\r\n$20000\r\n".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n");
        assert_eq!(read_n(&mut c, want.len()).await, want);
        // Unauthenticated, the same bulk is a protocol error.
        let mut d = connect(srv.addr).await;
        d.write_all(&req[6..]).await.unwrap();
        let got = read_eof(&mut d).await;
        assert!(
            got.starts_with(b"-ERR Protocol error: unauthenticated bulk length"),
            "{got:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn rebind_moves_the_listening_port() {
    bounded(async {
        let srv = server().await;
        let mut old_conn = connect(srv.addr).await;
        // Accepted (not just queued in the backlog, which closing resets).
        id(&mut old_conn).await;
        let l = loopback().await;
        let new_addr = l.local_addr().unwrap();
        srv.acceptors.rebind(Listeners {
            tcp: vec![l],
            unix: None,
        });
        assert_eq!(srv.acceptors.tcp_addrs(), [new_addr]);
        assert!(
            TcpStream::connect(srv.addr).await.is_err(),
            "old port still open"
        );
        let mut c = connect(new_addr).await;
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
        // Connections accepted before stay served.
        old_conn.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut old_conn, 7).await, b"+PONG\r\n");
        // Rebinding to the address already served keeps that socket.
        srv.acceptors
            .rebind_tcp(&["127.0.0.1".into()], new_addr.port(), 128)
            .unwrap();
        assert_eq!(srv.acceptors.tcp_addrs(), [new_addr]);
        let mut c = connect(new_addr).await;
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
        // Port 0: no TCP at all.
        srv.acceptors
            .rebind_tcp(&["127.0.0.1".into()], 0, 128)
            .unwrap();
        assert!(srv.acceptors.tcp_addrs().is_empty());
        assert!(TcpStream::connect(new_addr).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn failed_rebind_keeps_the_old_listeners() {
    bounded(async {
        let srv = server().await;
        let e = srv
            .acceptors
            .rebind_tcp(&["999.999.999.999".into()], 7777, 128)
            .unwrap_err();
        assert_eq!(
            e.lines,
            [
                "Warning: Could not create server TCP listening socket 999.999.999.999:7777: Name or service not known",
                "Failed listening on port 7777 (TCP), aborting."
            ]
        );
        // A port someone else holds.
        let busy = loopback().await;
        let port = busy.local_addr().unwrap().port();
        let e = srv
            .acceptors
            .rebind_tcp(&["127.0.0.1".into()], port, 128)
            .unwrap_err();
        assert!(e.lines[0].ends_with("bind: Address already in use"), "{e}");
        assert!(!e.listeners_lost);
        assert_eq!(srv.acceptors.tcp_addrs(), [srv.addr]);
        let mut c = connect(srv.addr).await;
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
        // The port is held by our own socket (an address listed twice):
        // the running socket is closed, the bind fails, the old address
        // is bound again.
        let twice = ["127.0.0.1".to_string(), "127.0.0.1".to_string()];
        let e = srv
            .acceptors
            .rebind_tcp(&twice, srv.addr.port(), 128)
            .unwrap_err();
        assert!(e.lines[0].ends_with("bind: Address already in use"), "{e}");
        assert!(!e.listeners_lost);
        assert_eq!(srv.acceptors.tcp_addrs(), [srv.addr]);
        let mut d = connect(srv.addr).await;
        d.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut d, 7).await, b"+PONG\r\n");
        // Connections accepted before are not affected.
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
    })
    .await;
}

#[tokio::test]
async fn shutdown_token_stops_accepting() {
    bounded(async {
        let srv = server().await;
        let mut c = connect(srv.addr).await;
        id(&mut c).await;
        srv.shutdown.cancel();
        // The accept task closes its socket on the way out.
        let mut refused = false;
        for _ in 0..200 {
            if TcpStream::connect(srv.addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused);
        // Connections are stopped through their signals, not the token.
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
    })
    .await;
}

#[tokio::test]
async fn unix_socket_bind_rebind_and_close() {
    bounded(async {
        let dir = std::env::temp_dir().join(format!("redis-net-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p1 = dir.join("a.sock");
        let p2 = dir.join("b.sock");
        let listeners = redis_net::bind_all(&[], 0, 128, p1.to_str().unwrap(), 0o700).unwrap();
        assert!(listeners.tcp.is_empty());
        assert_eq!(listeners.unix_path().as_deref(), Some(p1.as_path()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p1).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let toy = Toy::default();
        let acceptors = Acceptors::start(
            listeners,
            Arc::new(toy.clone()),
            TaskTracker::new(),
            CancellationToken::new(),
        )
        .unwrap();
        let mut c = tokio::net::UnixStream::connect(&p1).await.unwrap();
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
        let peer = toy.0.peers.lock().unwrap()[0].clone();
        assert!(peer.is_unix && peer.is_local);
        assert_eq!(peer.addr, format!("{}:0", p1.display()));
        acceptors.rebind_unix(p2.to_str().unwrap(), 0).unwrap();
        assert!(!p1.exists());
        let mut c = tokio::net::UnixStream::connect(&p2).await.unwrap();
        c.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_n(&mut c, 7).await, b"+PONG\r\n");
        // A path that cannot be bound leaves the running socket alone.
        let e = acceptors
            .rebind_unix(dir.join("no/such/dir.sock").to_str().unwrap(), 0)
            .unwrap_err();
        assert!(
            e.lines[0].starts_with("Failed opening Unix socket: "),
            "{e}"
        );
        assert_eq!(acceptors.unix_path().as_deref(), Some(p2.as_path()));
        acceptors.close();
        assert!(!p2.exists());
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[test]
fn acceptors_need_a_runtime() {
    let r = Acceptors::start(
        Listeners::default(),
        Arc::new(Toy::default()),
        TaskTracker::new(),
        CancellationToken::new(),
    );
    assert_eq!(r.unwrap_err(), redis_net::NoRuntime);
}
