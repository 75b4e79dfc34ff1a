//! Backend connections: one task per connection, shared by many clients
//! and pipelined. Requests arrive on a channel as raw RESP bytes with the
//! tag of the client slot they answer; the task writes them in batches,
//! remembers the tags in order and hands each reply (the raw bytes,
//! found by [`RawScanner`]) to the client that asked, FIFO.
//!
//! A connection first authenticates (`HELLO 3 AUTH …` for RESP3
//! connections, `AUTH …` otherwise) and, when it must talk to a primary,
//! checks `ROLE`: a connection whose server is not a master never carries
//! a request. A request that never reached a server fails with
//! [`Fail::NotSent`] (safe to retry elsewhere); one written to a
//! connection that then broke fails with [`Fail::Lost`].
//!
//! [`Pool`] keeps the shared connections per address, protocol and index
//! (clients are spread over `backend-connections` of them, each client
//! always on the same one so its requests stay in order) and the
//! per-address statistics `INFO` shows.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redis_resp::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::resp::{decode, RawScanner};
use crate::session::Msg;

/// Which reply of which client a request answers: the client's slot
/// sequence number and the part (split and fanned-out commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub seq: u64,
    pub part: u32,
}

/// Why a request got no reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fail {
    /// Never written to a server: safe to send again.
    NotSent(String),
    /// Written, then the connection broke: it may or may not have run.
    Lost(String),
}

/// A reply (or failure) for one tagged request.
#[derive(Debug)]
pub struct Delivery {
    pub tag: Tag,
    pub result: Result<Bytes, Fail>,
}

/// Where replies go: the client's writer task.
pub type Sink = mpsc::UnboundedSender<Msg>;

/// One request for a backend.
#[derive(Debug)]
pub struct Job {
    pub bytes: Bytes,
    /// Send `ASKING` first (its reply is swallowed).
    pub asking: bool,
    pub tag: Tag,
    pub sink: Sink,
}

impl Job {
    /// Answers the job without a server.
    pub fn fail(self, f: Fail) {
        let _ = self.sink.send(Msg::Delivery(Delivery {
            tag: self.tag,
            result: Err(f),
        }));
    }
}

/// What a backend connection must check before carrying requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Require {
    /// Any role (cluster nodes, replicas, static backends).
    Any,
    /// `ROLE` must say `master`.
    Master,
}

/// Credentials and limits for connecting to backends.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub connect_timeout: Duration,
}

/// Counters of one backend address.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub latency_us: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    dead: AtomicBool,
    /// Closes the connection at once (a dedicated connection whose client
    /// left, possibly in the middle of a blocking command).
    kill: tokio::sync::Notify,
    /// When the connection failed to come up (connect, auth or role).
    failed_at: Mutex<Option<Instant>>,
}

/// A handle on one backend connection (cheap to clone).
#[derive(Clone, Debug)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Job>,
    state: Arc<State>,
}

impl Conn {
    /// Starts a connection task to `addr`.
    pub fn spawn(addr: &str, resp3: bool, require: Require, pool: &Pool) -> Conn {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State::default());
        let task = Task {
            addr: addr.to_string(),
            resp3,
            require,
            setup: pool.setup.clone(),
            stats: pool.stats(addr),
            state: state.clone(),
        };
        tokio::spawn(task.run(rx));
        Conn { tx, state }
    }

    /// Queues a request; gives it back when the connection is gone.
    pub fn send(&self, job: Job) -> Result<(), Job> {
        self.tx.send(job).map_err(|e| e.0)
    }

    /// False once the connection failed or closed.
    pub fn is_alive(&self) -> bool {
        !self.state.dead.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// Closes the connection now, dropping whatever it still waits for.
    pub fn kill(&self) {
        self.state.kill.notify_one();
    }

    fn failed_recently(&self, within: Duration) -> bool {
        self.state
            .failed_at
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|t| t.elapsed() < within)
    }
}

/// After a connection to an address failed to come up, requests for it
/// fail at once for this long instead of each trying to connect.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// The shared backend connections and per-address statistics.
#[derive(Debug)]
pub struct Pool {
    setup: Setup,
    per_addr: usize,
    conns: Mutex<HashMap<String, Vec<Option<Conn>>>>,
    stats: Mutex<BTreeMap<String, Arc<Stats>>>,
}

impl Pool {
    pub fn new(setup: Setup, per_addr: usize) -> Pool {
        Pool {
            setup,
            per_addr: per_addr.max(1),
            conns: Mutex::new(HashMap::new()),
            stats: Mutex::new(BTreeMap::new()),
        }
    }

    /// The statistics of `addr` (created on first use).
    pub fn stats(&self, addr: &str) -> Arc<Stats> {
        match self.stats.lock() {
            Ok(mut m) => m.entry(addr.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// A snapshot of every address's statistics.
    pub fn all_stats(&self) -> Vec<(String, Arc<Stats>)> {
        match self.stats.lock() {
            Ok(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The shared connection number `client % backend-connections` to
    /// `addr`, connecting when there is none alive (unless the last
    /// attempt failed moments ago: the dead handle is returned then and
    /// sending on it fails at once).
    pub fn get(&self, addr: &str, resp3: bool, client: u64, require: Require) -> Conn {
        let idx = usize::from(resp3) * self.per_addr + (client as usize % self.per_addr);
        let Ok(mut map) = self.conns.lock() else {
            return Conn::spawn(addr, resp3, require, self);
        };
        if let Some(Some(c)) = map.get(addr).and_then(|v| v.get(idx)) {
            if c.is_alive() || c.failed_recently(RECONNECT_BACKOFF) {
                return c.clone();
            }
        }
        let c = Conn::spawn(addr, resp3, require, self);
        let slots = map
            .entry(addr.to_string())
            .or_insert_with(|| vec![None; self.per_addr * 2]);
        if let Some(s) = slots.get_mut(idx) {
            *s = Some(c.clone());
        }
        c
    }

    /// Forgets the shared connections to `addr` (a demoted primary): they
    /// finish what they carry and close.
    pub fn forget(&self, addr: &str) {
        if let Ok(mut map) = self.conns.lock() {
            map.remove(addr);
        }
    }

    /// A connection of its own for one client (transactions, blocking
    /// commands); it closes when the client drops it.
    pub fn dedicated(&self, addr: &str, resp3: bool, require: Require) -> Conn {
        Conn::spawn(addr, resp3, require, self)
    }
}

struct Inflight {
    tag: Tag,
    sink: Sink,
    /// Replies to swallow first (`ASKING`).
    skip: u8,
    sent: Instant,
}

struct Task {
    addr: String,
    resp3: bool,
    require: Require,
    setup: Setup,
    stats: Arc<Stats>,
    state: Arc<State>,
}

const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";
/// Largest batch written in one go.
const MAX_BATCH: usize = 256 * 1024;

impl Task {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Job>) {
        self.stats.connects.fetch_add(1, Ordering::Relaxed);
        let connected = tokio::time::timeout(self.setup.connect_timeout, self.connect()).await;
        let stream = match connected {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return self.give_up(&mut rx, e),
            Err(_) => return self.give_up(&mut rx, "connect timed out".into()),
        };
        let (mut rd, mut wr) = stream.into_split();
        let mut inflight: VecDeque<Inflight> = VecDeque::new();
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let mut wbuf = BytesMut::new();
        let mut scanner = RawScanner::default();
        let mut input_open = true;
        let failure = loop {
            if !input_open && inflight.is_empty() {
                break None;
            }
            tokio::select! {
                // Every branch is cancel-safe: `recv` loses nothing,
                // `read_buf` reads nothing when it is not polled to the end,
                // and `notify_one` keeps its permit for the next wait.
                _ = self.state.kill.notified() => break Some("closed by the proxy".into()),
                job = rx.recv(), if input_open => {
                    let Some(job) = job else {
                        input_open = false;
                        continue;
                    };
                    self.queue(job, &mut wbuf, &mut inflight);
                    while wbuf.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => self.queue(j, &mut wbuf, &mut inflight),
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = wr.write_all(&wbuf).await {
                        break Some(redis_common::os::strerror(&e));
                    }
                    wbuf.clear();
                }
                r = rd.read_buf(&mut rbuf) => {
                    match r {
                        Ok(0) => break Some("connection closed by the server".into()),
                        Err(e) => break Some(redis_common::os::strerror(&e)),
                        Ok(_) => {}
                    }
                    if let Err(e) = self.deliver(&mut rbuf, &mut scanner, &mut inflight) {
                        break Some(e);
                    }
                    if rbuf.capacity() - rbuf.len() < 4096 {
                        rbuf.reserve(16 * 1024);
                    }
                }
            }
        };
        self.state.dead.store(true, Ordering::Relaxed);
        rx.close();
        let why = failure.unwrap_or_else(|| "connection closed".into());
        for f in inflight {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            let _ = f.sink.send(Msg::Delivery(Delivery {
                tag: f.tag,
                result: Err(Fail::Lost(format!("{}: {why}", self.addr))),
            }));
        }
        while let Ok(job) = rx.try_recv() {
            job.fail(Fail::NotSent(format!("{}: {why}", self.addr)));
        }
    }

    fn queue(&self, job: Job, wbuf: &mut BytesMut, inflight: &mut VecDeque<Inflight>) {
        if job.asking {
            wbuf.extend_from_slice(ASKING);
        }
        wbuf.extend_from_slice(&job.bytes);
        inflight.push_back(Inflight {
            tag: job.tag,
            sink: job.sink,
            skip: u8::from(job.asking),
            sent: Instant::now(),
        });
    }

    /// Hands every complete reply in `rbuf` to its client.
    fn deliver(
        &self,
        rbuf: &mut BytesMut,
        scanner: &mut RawScanner,
        inflight: &mut VecDeque<Inflight>,
    ) -> Result<(), String> {
        while let Some(n) = scanner.next_len(rbuf).map_err(|e| e.to_string())? {
            let reply = rbuf.split_to(n).freeze();
            if reply.first() == Some(&b'>') {
                // An out-of-band push (never asked for): not a reply.
                continue;
            }
            let Some(front) = inflight.front_mut() else {
                return Err("reply without a request".into());
            };
            if front.skip > 0 {
                front.skip -= 1;
                continue;
            }
            let Some(f) = inflight.pop_front() else {
                continue;
            };
            let us = u64::try_from(f.sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            self.stats.latency_us.fetch_add(us, Ordering::Relaxed);
            if reply.first() == Some(&b'-') {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            let _ = f.sink.send(Msg::Delivery(Delivery {
                tag: f.tag,
                result: Ok(reply),
            }));
        }
        Ok(())
    }

    /// The connection could not be used: every queued request fails as
    /// not sent, and later senders find the channel closed.
    fn give_up(&self, rx: &mut mpsc::UnboundedReceiver<Job>, why: String) {
        self.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.state.failed_at.lock() {
            *g = Some(Instant::now());
        }
        self.state.dead.store(true, Ordering::Relaxed);
        rx.close();
        while let Ok(job) = rx.try_recv() {
            job.fail(Fail::NotSent(format!("{}: {why}", self.addr)));
        }
    }

    /// Connects, authenticates, switches protocol and checks the role.
    async fn connect(&self) -> Result<TcpStream, String> {
        let mut s = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| redis_common::os::strerror(&e))?;
        let _ = s.set_nodelay(true);
        let mut buf = BytesMut::new();
        let pass = self.setup.pass.as_deref();
        let user = self.setup.user.as_deref().unwrap_or("default");
        if self.resp3 {
            let mut args: Vec<&[u8]> = vec![b"HELLO", b"3"];
            if let Some(p) = pass {
                args.extend([b"AUTH".as_slice(), user.as_bytes(), p.as_bytes()]);
            }
            if let Frame::Error(e) = roundtrip(&mut s, &mut buf, &args).await? {
                return Err(String::from_utf8_lossy(&e).into_owned());
            }
        } else if let Some(p) = pass {
            let args: Vec<&[u8]> = match &self.setup.user {
                Some(u) => vec![b"AUTH", u.as_bytes(), p.as_bytes()],
                None => vec![b"AUTH", p.as_bytes()],
            };
            if let Frame::Error(e) = roundtrip(&mut s, &mut buf, &args).await? {
                return Err(String::from_utf8_lossy(&e).into_owned());
            }
        }
        if self.require == Require::Master {
            let role = roundtrip(&mut s, &mut buf, &[b"ROLE"]).await?;
            let first = match &role {
                Frame::Array(items) => items.first().cloned(),
                _ => None,
            };
            match first {
                Some(Frame::Bulk(r)) | Some(Frame::Simple(r)) if r.as_ref() == b"master" => {}
                _ => return Err(format!("not a master (ROLE replied {role:?})")),
            }
        }
        Ok(s)
    }
}

/// Sends one request and reads its reply (connection setup only).
pub async fn roundtrip(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    args: &[&[u8]],
) -> Result<Frame, String> {
    let mut out = BytesMut::new();
    redis_resp::encode_request(args, &mut out);
    s.write_all(&out)
        .await
        .map_err(|e| redis_common::os::strerror(&e))?;
    let mut scanner = RawScanner::default();
    loop {
        if let Some(n) = scanner.next_len(buf).map_err(|e| e.to_string())? {
            let raw = buf.split_to(n).freeze();
            if raw.first() == Some(&b'>') {
                continue;
            }
            return decode(&raw).ok_or_else(|| "undecodable reply".to_string());
        }
        buf.reserve(4096);
        let n = s
            .read_buf(buf)
            .await
            .map_err(|e| redis_common::os::strerror(&e))?;
        if n == 0 {
            return Err("connection closed by the server".into());
        }
    }
}
