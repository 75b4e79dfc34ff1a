//! Backend connections: one task per connection, shared by many clients
//! and pipelined.
//!
//! Clients hand requests over through the connection's *outbox*: under
//! one short lock they append the request's raw bytes (copied straight
//! from their read buffer) and an entry naming the reply's owner; the
//! task is woken only when the outbox goes from empty to non-empty, takes
//! everything queued in one swap and writes it with one `write`. Replies
//! are found with [`RawScanner`] and copied into the asking client's
//! [`Inbox`], consecutive replies for one client under one lock, and the
//! client is woken once per batch. Nothing on this path allocates in the
//! steady state: buffers and queues are swapped and reused.
//!
//! A connection first authenticates (`HELLO 3 AUTH …` for RESP3
//! connections, `AUTH …` otherwise) and, when it must talk to a primary,
//! checks `ROLE`: a connection whose server is not a master never carries
//! a request. A request that never reached a server fails with
//! [`Fail::NotSent`] (safe to retry elsewhere); one written to a
//! connection that then broke fails with [`Fail::Lost`]; with
//! `backend-timeout-ms`, a shared connection whose oldest request waits
//! longer than that fails everything it carries with [`Fail::Timeout`] and
//! closes (its reply stream can no longer be matched).
//!
//! A *relay* connection (pub/sub) matches nothing: every frame the server
//! sends, replies and pushes alike, goes to its one client in order.
//!
//! [`Pool`] keeps the shared connections per address, protocol and index
//! (clients are spread over `backend-connections` of them, each client
//! always on the same one so its requests stay in order) and the
//! per-address statistics `INFO` shows. The statistics also keep each
//! address's *refusal streak*: since when every TCP connect to it was
//! refused (`ECONNREFUSED`: nothing listens there). Any other outcome of
//! a connect (connected, timed out, any other error) ends the streak; they
//! also keep when a connection to the address was last closed by the
//! server. The pool's [`Pool::alarms`] is notified on every refusal and
//! every such loss (see [`crate::trigger`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use redis_resp::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::resp::{decode, RawScanner};

/// Which reply of which client a request answers: the client's slot
/// sequence number and the part (split and fanned-out commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub seq: u64,
    pub part: u32,
}

impl Tag {
    /// The tag of every frame a relay connection delivers.
    pub const RELAY: Tag = Tag {
        seq: u64::MAX,
        part: 0,
    };
}

/// Why a request got no reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fail {
    /// Never written to a server: safe to send again.
    NotSent(String),
    /// Written, then the connection broke: it may or may not have run.
    Lost(String),
    /// Written, and no reply came within `backend-timeout-ms`.
    Timeout(String),
    /// The server answered with bytes that are not RESP.
    Garbage(String),
}

/// One delivered reply (its bytes are the next `len` bytes of the
/// inbox's byte buffer) or failure.
#[derive(Debug)]
pub struct Item {
    pub tag: Tag,
    pub len: usize,
    pub fail: Option<Fail>,
}

/// What an inbox holds: reply bytes back to back, and one item per reply.
#[derive(Debug, Default)]
pub struct InboxData {
    pub bytes: BytesMut,
    pub items: Vec<Item>,
}

impl InboxData {
    /// Empties both, keeping their capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }
}

/// A client's mailbox: backend tasks put replies in, the client's task
/// takes them out in one swap.
#[derive(Debug, Default)]
pub struct Inbox {
    data: Mutex<InboxData>,
    wake: Notify,
}

/// Where replies go.
pub type Sink = Arc<Inbox>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot happen (no code in the
    // critical sections panics); recover the data rather than propagate.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inbox {
    /// Delivers one reply.
    pub fn put(&self, tag: Tag, reply: &[u8]) {
        let was_empty = {
            let mut g = lock(&self.data);
            let e = g.items.is_empty();
            g.bytes.extend_from_slice(reply);
            g.items.push(Item {
                tag,
                len: reply.len(),
                fail: None,
            });
            e
        };
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// Delivers a failure.
    pub fn fail(&self, tag: Tag, f: Fail) {
        let was_empty = {
            let mut g = lock(&self.data);
            let e = g.items.is_empty();
            g.items.push(Item {
                tag,
                len: 0,
                fail: Some(f),
            });
            e
        };
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// Delivers several replies at once: `(tag, start, len)` into `src`.
    fn put_many(&self, src: &[u8], replies: &[(Tag, usize, usize)]) {
        let was_empty = {
            let mut g = lock(&self.data);
            let e = g.items.is_empty();
            for &(tag, start, len) in replies {
                if let Some(b) = src.get(start..start + len) {
                    g.bytes.extend_from_slice(b);
                    g.items.push(Item {
                        tag,
                        len,
                        fail: None,
                    });
                }
            }
            e
        };
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// Moves everything delivered so far into `into` (which must be
    /// empty; its buffers are given to the inbox in exchange).
    pub fn take(&self, into: &mut InboxData) {
        let mut g = lock(&self.data);
        std::mem::swap(&mut *g, into);
    }

    /// Waits until something was delivered since the last wake.
    pub async fn wait(&self) {
        self.wake.notified().await;
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
    /// Longest wait for a reply on a shared connection (`None`: forever).
    pub request_timeout: Option<Duration>,
}

/// Counters of one backend address.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub latency_us: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub timeouts: AtomicU64,
    /// When the current streak of refused connects began (`None`: the
    /// last connect was not refused).
    refused_since: Mutex<Option<Instant>>,
    /// When a connection to the address was last closed by the server
    /// (or broke) while in use.
    lost_at: Mutex<Option<Instant>>,
}

/// How one TCP connect attempt ended, as far as refusal streaks go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Something accepted the connection.
    Connected,
    /// `ECONNREFUSED`: nothing listens on the port.
    Refused,
    /// A timeout or any other error: proves nothing either way.
    Unknown,
}

impl Reach {
    /// The kind of a failed connect's error.
    pub fn of_error(e: &std::io::Error) -> Reach {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            Reach::Refused
        } else {
            Reach::Unknown
        }
    }
}

impl Stats {
    /// Records a connect attempt's outcome: a refusal opens a streak (or
    /// continues it), anything else ends it. True when it was a refusal.
    pub fn note_connect(&self, how: Reach) -> bool {
        let mut g = lock(&self.refused_since);
        if how == Reach::Refused {
            if g.is_none() {
                *g = Some(Instant::now());
            }
            true
        } else {
            *g = None;
            false
        }
    }

    /// Since when every connect was refused, if the last one was.
    pub fn refused_since(&self) -> Option<Instant> {
        *lock(&self.refused_since)
    }

    /// When a connection to the address was last lost.
    pub fn lost_at(&self) -> Option<Instant> {
        *lock(&self.lost_at)
    }
}

/// One request waiting to be written, or written and waiting for its
/// reply.
#[derive(Debug)]
struct Entry {
    tag: Tag,
    sink: Sink,
    /// Replies to swallow first (`ASKING`, a transaction's preamble).
    skip: u32,
}

#[derive(Debug, Default)]
struct Outbox {
    bytes: BytesMut,
    entries: VecDeque<Entry>,
    /// The connection is gone: senders get their request back.
    closed: bool,
}

#[derive(Debug, Default)]
struct State {
    dead: AtomicBool,
    out: Mutex<Outbox>,
    /// Something was queued in `out`.
    wake: Notify,
    /// Closes the connection at once (a dedicated connection whose client
    /// left, possibly in the middle of a blocking command).
    kill: Notify,
    /// When the connection failed to come up (connect, auth or role).
    failed_at: Mutex<Option<Instant>>,
}

/// Counts connect outcomes and losses into `stats`, and wakes `alarms` on
/// a refusal or a loss.
#[derive(Clone, Debug)]
struct Witness {
    stats: Arc<Stats>,
    alarms: Arc<Notify>,
}

impl Witness {
    fn saw(&self, how: Reach) {
        if self.stats.note_connect(how) {
            self.alarms.notify_one();
        }
    }

    fn lost(&self) {
        *lock(&self.stats.lost_at) = Some(Instant::now());
        self.alarms.notify_one();
    }
}

/// The connection is gone; the request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// What a dedicated connection is for.
#[derive(Clone, Debug)]
pub enum Use {
    /// Shared by many clients (request timeouts apply).
    Shared,
    /// One client's transaction or blocking command.
    Dedicated,
    /// One client's pub/sub: every frame goes to `sink`.
    Relay(Sink),
}

/// A handle on one backend connection (cheap to clone).
#[derive(Clone, Debug)]
pub struct Conn {
    state: Arc<State>,
}

const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";

impl Conn {
    /// Starts a connection task to `addr`.
    pub fn spawn(addr: &str, resp3: bool, require: Require, pool: &Pool, usage: Use) -> Conn {
        let state = Arc::new(State::default());
        let timeout = match usage {
            Use::Shared => pool.setup.request_timeout,
            _ => None,
        };
        let relay = match usage {
            Use::Relay(s) => Some(s),
            _ => None,
        };
        let stats = pool.stats(addr);
        let task = Task {
            addr: addr.to_string(),
            resp3,
            require,
            setup: pool.setup.clone(),
            witness: Witness {
                stats: stats.clone(),
                alarms: pool.alarms.clone(),
            },
            stats,
            state: state.clone(),
            timeout,
            relay,
        };
        tokio::spawn(task.run());
        Conn { state }
    }

    /// Queues a request (its raw bytes): its reply goes to `sink` with
    /// `tag`, after `skip` replies are swallowed (with `asking`, an
    /// `ASKING` goes first and its reply is swallowed too). On a relay
    /// connection `to` is `None`.
    pub fn send(
        &self,
        bytes: &[u8],
        asking: bool,
        skip: u32,
        to: Option<(Tag, &Sink)>,
    ) -> Result<(), Closed> {
        let was_empty = {
            let mut g = lock(&self.state.out);
            if g.closed {
                return Err(Closed);
            }
            let e = g.bytes.is_empty();
            if asking {
                g.bytes.extend_from_slice(ASKING);
            }
            g.bytes.extend_from_slice(bytes);
            if let Some((tag, sink)) = to {
                g.entries.push_back(Entry {
                    tag,
                    sink: sink.clone(),
                    skip: skip + u32::from(asking),
                });
            }
            e
        };
        if was_empty {
            self.state.wake.notify_one();
        }
        Ok(())
    }

    /// False once the connection failed or closed.
    pub fn is_alive(&self) -> bool {
        !self.state.dead.load(Ordering::Relaxed)
    }

    /// Closes the connection now, dropping whatever it still waits for.
    pub fn kill(&self) {
        self.state.kill.notify_one();
    }

    fn failed_recently(&self, within: Duration) -> bool {
        lock(&self.state.failed_at).is_some_and(|t| t.elapsed() < within)
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
    /// Notified whenever a connect to any address was refused, or a
    /// connection was lost.
    alarms: Arc<Notify>,
}

impl Pool {
    pub fn new(setup: Setup, per_addr: usize) -> Pool {
        Pool {
            setup,
            per_addr: per_addr.max(1),
            conns: Mutex::new(HashMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            alarms: Arc::new(Notify::new()),
        }
    }

    /// Notified (one stored permit) whenever a connect was refused or a
    /// connection was closed by its server.
    pub fn alarms(&self) -> &Notify {
        &self.alarms
    }

    /// Since when every connect to `addr` was refused, if the last one
    /// was (never creates statistics for `addr`).
    pub fn refused_since(&self, addr: &str) -> Option<Instant> {
        lock(&self.stats).get(addr).and_then(|s| s.refused_since())
    }

    /// When a connection to `addr` was last lost (never creates
    /// statistics for `addr`).
    pub fn lost_at(&self, addr: &str) -> Option<Instant> {
        lock(&self.stats).get(addr).and_then(|s| s.lost_at())
    }

    /// Records a connect attempt to `addr` made outside the pool's
    /// connections (the trigger's probes).
    pub fn note_connect(&self, addr: &str, how: Reach) {
        let w = Witness {
            stats: self.stats(addr),
            alarms: self.alarms.clone(),
        };
        w.saw(how);
    }

    /// Ends the refusal streak of `addr`, if any (its role changed: the
    /// clock starts again).
    pub fn reset_refusals(&self, addr: &str) {
        if let Some(s) = lock(&self.stats).get(addr) {
            s.note_connect(Reach::Unknown);
        }
    }

    /// The statistics of `addr` (created on first use).
    pub fn stats(&self, addr: &str) -> Arc<Stats> {
        lock(&self.stats)
            .entry(addr.to_string())
            .or_default()
            .clone()
    }

    /// A snapshot of every address's statistics.
    pub fn all_stats(&self) -> Vec<(String, Arc<Stats>)> {
        lock(&self.stats)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The shared connection number `client % backend-connections` to
    /// `addr`, connecting when there is none alive (unless the last
    /// attempt failed moments ago: the dead handle is returned then and
    /// sending on it fails at once).
    pub fn get(&self, addr: &str, resp3: bool, client: u64, require: Require) -> Conn {
        let idx = usize::from(resp3) * self.per_addr + (client as usize % self.per_addr);
        let mut map = lock(&self.conns);
        if let Some(Some(c)) = map.get(addr).and_then(|v| v.get(idx)) {
            if c.is_alive() || c.failed_recently(RECONNECT_BACKOFF) {
                return c.clone();
            }
        }
        let c = Conn::spawn(addr, resp3, require, self, Use::Shared);
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
        let gone = lock(&self.conns).remove(addr);
        for c in gone.into_iter().flatten().flatten() {
            c.retire();
        }
    }

    /// A connection of its own for one client (transactions, blocking
    /// commands, pub/sub); it closes when the client kills it.
    pub fn dedicated(&self, addr: &str, resp3: bool, require: Require, usage: Use) -> Conn {
        Conn::spawn(addr, resp3, require, self, usage)
    }
}

impl Conn {
    /// No new requests: the connection closes once it delivered the
    /// replies it owes.
    fn retire(&self) {
        lock(&self.state.out).closed = true;
        self.state.wake.notify_one();
    }
}

struct Task {
    addr: String,
    resp3: bool,
    require: Require,
    setup: Setup,
    stats: Arc<Stats>,
    witness: Witness,
    state: Arc<State>,
    timeout: Option<Duration>,
    relay: Option<Sink>,
}

/// A written request waiting for its reply.
struct Inflight {
    entry: Entry,
    sent: Instant,
}

/// Why the loop ended.
enum End {
    /// Retired and drained, or killed by the proxy.
    Closed(String),
    Failed(String),
    Timeout(String),
    Garbage(String),
}

/// Sleeps until `t` (forever for `None`).
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending::<()>().await,
    }
}

impl Task {
    async fn run(self) {
        self.stats.connects.fetch_add(1, Ordering::Relaxed);
        let connected = tokio::time::timeout(self.setup.connect_timeout, self.connect()).await;
        let stream = match connected {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return self.give_up(e),
            Err(_) => {
                // Timed out, maybe in the TCP connect: no refusal.
                self.witness.saw(Reach::Unknown);
                return self.give_up("connect timed out".into());
            }
        };
        let (mut rd, mut wr) = stream.into_split();
        let mut inflight: VecDeque<Inflight> = VecDeque::new();
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let mut wbuf = BytesMut::with_capacity(16 * 1024);
        let mut scanner = RawScanner::default();
        let mut group: Vec<(Tag, usize, usize)> = Vec::new();
        let mut retired = false;
        let end = loop {
            if retired && inflight.is_empty() {
                break End::Closed("connection closed".into());
            }
            let deadline = match (self.timeout, inflight.front()) {
                (Some(t), Some(f)) => Some(f.sent + t),
                _ => None,
            };
            tokio::select! {
                // Every branch is cancel-safe: `notified` keeps its
                // permit, `read_buf` reads nothing when it is not polled
                // to the end, and the timer is re-armed.
                _ = self.state.kill.notified() => break End::Closed("closed by the proxy".into()),
                _ = self.state.wake.notified() => {
                    // Let the clients that are ready run first, so their
                    // requests go out in this same write.
                    tokio::task::yield_now().await;
                    {
                        let mut g = lock(&self.state.out);
                        std::mem::swap(&mut g.bytes, &mut wbuf);
                        let now = Instant::now();
                        inflight.extend(g.entries.drain(..).map(|entry| Inflight { entry, sent: now }));
                        retired = g.closed;
                    }
                    if !wbuf.is_empty() {
                        if let Err(e) = wr.write_all(&wbuf).await {
                            break End::Failed(redis_common::os::strerror(&e));
                        }
                        wbuf.clear();
                        if wbuf.capacity() > 1 << 20 {
                            wbuf = BytesMut::with_capacity(16 * 1024);
                        }
                    }
                }
                r = rd.read_buf(&mut rbuf) => {
                    match r {
                        Ok(0) => break End::Failed("connection closed by the server".into()),
                        Err(e) => break End::Failed(redis_common::os::strerror(&e)),
                        Ok(_) => {}
                    }
                    if let Err(e) = self.deliver(&mut rbuf, &mut scanner, &mut inflight, &mut group) {
                        break End::Garbage(e);
                    }
                    if rbuf.capacity() - rbuf.len() < 4096 {
                        rbuf.reserve(16 * 1024);
                    }
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    let ms = self.timeout.map(|t| t.as_millis()).unwrap_or_default();
                    self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    break End::Timeout(format!("no reply within {ms} ms"));
                }
            }
        };
        self.state.dead.store(true, Ordering::Relaxed);
        if let End::Failed(_) = &end {
            // The server closed it (or it broke): perhaps the server is
            // gone, which only a connect can tell.
            self.witness.lost();
        }
        if let End::Garbage(w) = &end {
            redis_common::logger::warning(&format!("Backend {}: {w}", self.addr));
        }
        let (why, kind) = match end {
            End::Closed(w) | End::Failed(w) => (w, 0),
            End::Timeout(w) => (w, 1),
            End::Garbage(w) => (w, 2),
        };
        if let Some(sink) = &self.relay {
            sink.fail(Tag::RELAY, Fail::Lost(format!("{}: {why}", self.addr)));
        }
        for f in inflight {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            let text = format!("{}: {why}", self.addr);
            let fail = match kind {
                1 => Fail::Timeout(text),
                2 => Fail::Garbage(text),
                _ => Fail::Lost(text),
            };
            f.entry.sink.fail(f.entry.tag, fail);
        }
        self.close_outbox(&why);
    }

    /// Marks the outbox closed and fails whatever is still queued in it.
    fn close_outbox(&self, why: &str) {
        let queued: Vec<Entry> = {
            let mut g = lock(&self.state.out);
            g.closed = true;
            g.bytes.clear();
            g.entries.drain(..).collect()
        };
        for e in queued {
            e.sink
                .fail(e.tag, Fail::NotSent(format!("{}: {why}", self.addr)));
        }
    }

    /// Hands every complete reply in `rbuf` to its client: consecutive
    /// replies for one client under one lock of its inbox.
    fn deliver(
        &self,
        rbuf: &mut BytesMut,
        scanner: &mut RawScanner,
        inflight: &mut VecDeque<Inflight>,
        group: &mut Vec<(Tag, usize, usize)>,
    ) -> Result<(), String> {
        let mut pos = 0;
        let mut owner: Option<Sink> = None;
        let mut now: Option<Instant> = None;
        let mut result = Ok(());
        loop {
            let n = match scanner.next_len(rbuf.get(pos..).unwrap_or_default()) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e.to_string());
                    break;
                }
            };
            let start = pos;
            pos += n;
            if let Some(sink) = &self.relay {
                group.push((Tag::RELAY, start, n));
                if owner.is_none() {
                    owner = Some(sink.clone());
                }
                continue;
            }
            if rbuf.get(start) == Some(&b'>') {
                // An out-of-band push (never asked for): not a reply.
                continue;
            }
            let Some(front) = inflight.front_mut() else {
                result = Err("reply without a request".into());
                break;
            };
            if front.entry.skip > 0 {
                front.entry.skip -= 1;
                continue;
            }
            let Some(f) = inflight.pop_front() else {
                continue;
            };
            let now = *now.get_or_insert_with(Instant::now);
            let us = u64::try_from(now.saturating_duration_since(f.sent).as_micros())
                .unwrap_or(u64::MAX);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            self.stats.latency_us.fetch_add(us, Ordering::Relaxed);
            if rbuf.get(start) == Some(&b'-') {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            if owner
                .as_ref()
                .is_some_and(|o| !Arc::ptr_eq(o, &f.entry.sink))
            {
                if let Some(o) = owner.take() {
                    o.put_many(rbuf, group);
                }
                group.clear();
            }
            if owner.is_none() {
                owner = Some(f.entry.sink);
            }
            group.push((f.entry.tag, start, n));
        }
        if let Some(o) = owner {
            o.put_many(rbuf, group);
        }
        group.clear();
        let _ = rbuf.split_to(pos.min(rbuf.len()));
        result
    }

    /// The connection could not be used: every queued request fails as
    /// not sent, and later senders find the connection closed.
    fn give_up(&self, why: String) {
        self.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
        *lock(&self.state.failed_at) = Some(Instant::now());
        self.state.dead.store(true, Ordering::Relaxed);
        if let Some(sink) = &self.relay {
            sink.fail(Tag::RELAY, Fail::NotSent(format!("{}: {why}", self.addr)));
        }
        self.close_outbox(&why);
    }

    /// Connects, authenticates, switches protocol and checks the role.
    async fn connect(&self) -> Result<TcpStream, String> {
        let mut s = match TcpStream::connect(&self.addr).await {
            Ok(s) => {
                self.witness.saw(Reach::Connected);
                s
            }
            Err(e) => {
                self.witness.saw(Reach::of_error(&e));
                return Err(redis_common::os::strerror(&e));
            }
        };
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

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
