//! The load loop: clients that send a pre-encoded batch of requests,
//! count the replies and send the next batch, on one readiness loop per
//! thread.
//!
//! # Hot path
//! Each client owns one output buffer (prefix commands, then the request
//! repeated `-P` times) built once; before each batch only the
//! `__rand_int__` digits and `{tag}` bytes are rewritten in place. Replies
//! are walked by [`crate::reply::Scanner`] in the client's one input
//! buffer without building values. Sockets are registered once for both
//! directions, edge-triggered: a batch costs one `write` and, usually, one
//! `read` (the next batch is written as soon as the last reply is in, so
//! the socket is only drained to `EAGAIN` while replies are still due).
//! Latency is recorded once per batch (all its replies share it, as
//! upstream measures from the write to the first readable event).
//!
//! # Semantics kept from upstream
//! - requests are handed out `-P` at a time from a shared counter; a client
//!   that finds it exhausted stops sending;
//! - the run ends when a client completes a batch and at least `-n` replies
//!   are in; replies past `-n` are counted but not recorded;
//! - prefix commands (AUTH, CLIENT TRACKING, SELECT, HELLO) travel with the
//!   first batch of each connection and are discarded after their replies;
//! - any error reply ends the program (`Error from server: ...`), except
//!   `MOVED`/`ASK`/`CLUSTERDOWN` for tagged cluster requests, which make the
//!   slots be fetched again;
//! - `-k 0` reconnects after every batch.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mio::net::{TcpStream, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};
use redis_common::os::strerror;

use crate::cluster::{tag_table, Cluster};
use crate::hdr::{AtomicHistogram, Layout};
use crate::reply::{Reply, Scanner};
use crate::setup::connect_error_text;

/// Upstream's `CONFIG_LATENCY_HISTOGRAM_MAX_VALUE` (µs): longer latencies
/// are recorded as this.
pub const MAX_LATENCY_US: i64 = 3_000_000;

const WAKE: Token = Token(usize::MAX);
const RAND_PLACEHOLDER: &[u8] = b"__rand_int__";
const TAG_PLACEHOLDER: &[u8] = b"{tag}";

/// Microseconds on a monotonic clock (upstream's `ustime`, for latencies).
pub fn now_us() -> i64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let e = EPOCH.get_or_init(Instant::now);
    i64::try_from(e.elapsed().as_micros()).unwrap_or(i64::MAX)
}

/// Wall-clock milliseconds (upstream's `mstime`, for durations and rates).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Where the clients connect.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp { shown: String, addr: SocketAddr },
    Unix(String),
}

/// Settings fixed for the whole program.
#[derive(Debug)]
pub struct Settings {
    pub requests: i64,
    pub pipeline: i64,
    pub keepalive: bool,
    pub randomkeys: bool,
    pub keyspacelen: u64,
    pub idle: bool,
    /// Prefix commands of a plain client, and how many.
    pub prefix: (Vec<u8>, u32),
    /// Prefix of a cluster client (no SELECT).
    pub cluster_prefix: (Vec<u8>, u32),
    pub target: Target,
    pub cluster: Option<Arc<Cluster>>,
    /// For refetching the cluster slots (AUTH settings).
    pub config: crate::opts::Config,
}

/// The request of one benchmark, pipelined, with its placeholders.
#[derive(Debug)]
pub struct Template {
    pub body: Vec<u8>,
    rand: Vec<usize>,
    tags: Vec<usize>,
}

/// Non-overlapping occurrences of `needle` in `hay`.
fn occurrences(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            out.push(i);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

impl Template {
    pub fn new(cmd: &[u8], pipeline: usize, randomkeys: bool, cluster: bool) -> Template {
        let body = cmd.repeat(pipeline.max(1));
        let rand = if randomkeys {
            occurrences(&body, RAND_PLACEHOLDER)
        } else {
            Vec::new()
        };
        let tags = if cluster {
            occurrences(&body, TAG_PLACEHOLDER)
        } else {
            Vec::new()
        };
        Template { body, rand, tags }
    }
}

/// State shared by the threads of one benchmark.
#[derive(Debug)]
pub struct Shared {
    pub issued: AtomicI64,
    pub finished: AtomicI64,
    pub live: AtomicI64,
    pub stop: AtomicBool,
    pub hist: AtomicHistogram,
    pub sec_hist: AtomicHistogram,
    wakers: OnceLock<Vec<Arc<Waker>>>,
}

impl Shared {
    pub fn new(layout: Layout) -> Shared {
        Shared {
            issued: AtomicI64::new(0),
            finished: AtomicI64::new(0),
            live: AtomicI64::new(0),
            stop: AtomicBool::new(false),
            hist: AtomicHistogram::new(layout),
            sec_hist: AtomicHistogram::new(layout),
            wakers: OnceLock::new(),
        }
    }

    /// Ends the benchmark on every thread.
    fn stop_all(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(ws) = self.wakers.get() {
            for w in ws {
                let _ = w.wake();
            }
        }
    }
}

enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Sock::Tcp(s) => s.take_error(),
            Sock::Unix(s) => s.take_error(),
        }
    }

    /// Whether a non-blocking connect has completed.
    fn connected(&self) -> io::Result<bool> {
        match self {
            Sock::Tcp(s) => match s.peer_addr() {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
                Err(e) => Err(e),
            },
            Sock::Unix(_) => Ok(true),
        }
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Sock::Tcp(s) => s,
            Sock::Unix(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Non-blocking connect in progress.
    Connecting,
    /// Batch being written.
    Writing,
    /// Batch written, replies due.
    Reading,
    /// No batch: requests exhausted, the run stopped, or idle mode.
    Waiting,
    /// Freed after a write error.
    Dead,
}

struct Client {
    sock: Sock,
    /// `host:port` (or socket path) for messages.
    shown: String,
    obuf: Vec<u8>,
    prefix_len: usize,
    prefix_pending: u32,
    written: usize,
    pending: u64,
    ibuf: Vec<u8>,
    ipos: usize,
    iend: usize,
    scanner: Scanner,
    start: i64,
    latency: i64,
    state: State,
    /// Cluster master index, its slots, the configuration version they
    /// come from, and the next slot to use.
    node: Option<usize>,
    slots: Arc<Vec<u16>>,
    slots_version: u64,
    slot_cursor: usize,
}

const IBUF_INITIAL: usize = 16 * 1024;

/// Connects without blocking; a failure that is known at once ends the
/// program with upstream's message.
fn connect(target: &Target, shown: &str) -> Sock {
    let r = match target {
        Target::Tcp { addr, .. } => TcpStream::connect(*addr).map(|s| {
            let _ = s.set_nodelay(true);
            Sock::Tcp(s)
        }),
        Target::Unix(path) => UnixStream::connect(path).map(Sock::Unix),
    };
    match r {
        Ok(s) => s,
        Err(e) => connect_failed(shown, &e),
    }
}

fn connect_failed(shown: &str, e: &io::Error) -> ! {
    eprintln!(
        "Could not connect to Redis at {shown}: {}",
        connect_error_text(e)
    );
    std::process::exit(1);
}

fn fatal(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(1);
}

/// splitmix64: fast, and good enough to pick keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Writes `r` as 12 zero-padded digits (the low 12 digits, as upstream).
fn write_digits(dst: &mut [u8], mut r: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (r % 10) as u8;
        r /= 10;
    }
}

/// One thread's loop and clients.
pub struct Worker {
    poll: Poll,
    waker: Arc<Waker>,
    clients: Vec<Client>,
    rng: Rng,
}

impl Worker {
    pub fn new(index: usize) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let seed = (now_ms() as u64)
            ^ (u64::from(std::process::id()) << 32)
            ^ (now_us() as u64).rotate_left(17)
            ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
        Ok(Worker {
            poll,
            waker,
            clients: Vec::new(),
            rng: Rng(seed),
        })
    }

    /// Adds a connecting client (to master `node` in cluster mode).
    pub fn add_client(&mut self, s: &Settings, t: &Template, shared: &Shared, node: Option<usize>) {
        let (target, shown, slots) = match (node, &s.cluster) {
            (Some(i), Some(c)) => {
                let Some((ip, port, slots)) = c.node(i) else {
                    fatal(&format!("Invalid cluster node #{i}"));
                };
                let shown = format!("{ip}:{port}");
                let addr = match crate::setup::resolve(&ip, port) {
                    Ok(a) => a,
                    Err(e) => connect_failed(&shown, &e),
                };
                (
                    Target::Tcp {
                        shown: shown.clone(),
                        addr,
                    },
                    shown,
                    slots,
                )
            }
            _ => {
                let shown = match &s.target {
                    Target::Tcp { shown, .. } => shown.clone(),
                    Target::Unix(p) => p.clone(),
                };
                (s.target.clone(), shown, Arc::new(Vec::new()))
            }
        };
        let mut sock = connect(&target, &shown);
        let token = Token(self.clients.len());
        // Clients of one master start at different slots.
        let slot_cursor = self.clients.len().wrapping_mul(7919);
        if let Err(e) = self.poll.registry().register(
            sock.source(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            connect_failed(&shown, &e);
        }
        let (prefix, prefix_count) = if node.is_some() {
            &s.cluster_prefix
        } else {
            &s.prefix
        };
        let mut obuf = Vec::with_capacity(prefix.len() + t.body.len());
        obuf.extend_from_slice(prefix);
        obuf.extend_from_slice(&t.body);
        self.clients.push(Client {
            sock,
            shown,
            obuf,
            prefix_len: prefix.len(),
            prefix_pending: *prefix_count,
            written: 0,
            pending: 0,
            ibuf: vec![0; IBUF_INITIAL],
            ipos: 0,
            iend: 0,
            scanner: Scanner::default(),
            start: 0,
            latency: -1,
            state: State::Connecting,
            node,
            slots,
            slots_version: s
                .cluster
                .as_ref()
                .map_or(0, |c| c.version.load(Ordering::Acquire)),
            slot_cursor,
        });
        shared.live.fetch_add(1, Ordering::AcqRel);
    }

    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Runs until the benchmark stops (forever in idle mode).
    pub fn run(&mut self, s: &Settings, t: &Template, shared: &Shared) {
        let mut events = Events::with_capacity(1024);
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                fatal(&format!("Error: {}", strerror(&e)));
            }
            for ev in events.iter() {
                if ev.token() == WAKE {
                    continue;
                }
                let i = ev.token().0;
                let Some(c) = self.clients.get_mut(i) else {
                    continue;
                };
                match c.state {
                    State::Dead => continue,
                    State::Connecting => {
                        match c.sock.take_error() {
                            Ok(Some(e)) | Err(e) => connect_failed(&c.shown, &e),
                            Ok(None) => {}
                        }
                        match c.sock.connected() {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => connect_failed(&c.shown, &e),
                        }
                        c.state = State::Waiting;
                        if !s.idle {
                            self.start_batch(i, s, t, shared);
                        }
                    }
                    State::Writing if ev.is_writable() => self.write(i, shared),
                    _ => {}
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read(i, s, t, shared);
                }
            }
        }
    }

    /// Hands this client its next `-P` requests and sends them.
    fn start_batch(&mut self, i: usize, s: &Settings, t: &Template, shared: &Shared) {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if shared.issued.fetch_add(s.pipeline, Ordering::AcqRel) >= s.requests {
            return;
        }
        let Some(c) = self.clients.get_mut(i) else {
            return;
        };
        let body = &mut c.obuf[c.prefix_len..];
        if s.randomkeys {
            for &off in &t.rand {
                let r = if s.keyspacelen != 0 {
                    self.rng.next() % s.keyspacelen
                } else {
                    0
                };
                write_digits(&mut body[off..off + RAND_PLACEHOLDER.len()], r);
            }
        }
        if let (Some(cluster), false) = (&s.cluster, t.tags.is_empty()) {
            let v = cluster.version.load(Ordering::Acquire);
            if v != c.slots_version {
                if let Some((_, _, slots)) = c.node.and_then(|n| cluster.node(n)) {
                    if !slots.is_empty() {
                        c.slots = slots;
                    }
                }
                c.slots_version = v;
            }
            if !c.slots.is_empty() {
                let slot = c.slots[c.slot_cursor % c.slots.len()];
                c.slot_cursor = c.slot_cursor.wrapping_add(1);
                let tag = tag_table()[usize::from(slot)];
                for &off in &t.tags {
                    body[off + 1..off + 4].copy_from_slice(&tag);
                }
            }
        }
        c.start = now_us();
        c.latency = -1;
        c.written = 0;
        c.pending = s.pipeline as u64 + u64::from(c.prefix_pending);
        c.state = State::Writing;
        self.write(i, shared);
    }

    /// Writes what is left of the batch; frees the client on an error.
    fn write(&mut self, i: usize, shared: &Shared) {
        let Some(c) = self.clients.get_mut(i) else {
            return;
        };
        while c.written < c.obuf.len() {
            match c.sock.write(&c.obuf[c.written..]) {
                Ok(0) => break,
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        eprintln!("Error writing to the server: {}", strerror(&e));
                    }
                    self.free(i, shared);
                    return;
                }
            }
        }
        if c.written >= c.obuf.len() {
            c.state = State::Reading;
        }
    }

    fn free(&mut self, i: usize, shared: &Shared) {
        if let Some(c) = self.clients.get_mut(i) {
            let _ = self.poll.registry().deregister(c.sock.source());
            c.state = State::Dead;
            shared.live.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Reads and counts replies; drains the socket while replies are due.
    fn read(&mut self, i: usize, s: &Settings, t: &Template, shared: &Shared) {
        {
            let Some(c) = self.clients.get_mut(i) else {
                return;
            };
            if c.state == State::Dead {
                return;
            }
            let active = matches!(c.state, State::Writing | State::Reading);
            if active && c.latency < 0 {
                c.latency = now_us() - c.start;
            }
        }
        loop {
            let r = {
                let Some(c) = self.clients.get_mut(i) else {
                    return;
                };
                if c.iend == c.ibuf.len() {
                    if c.ipos > 0 {
                        c.ibuf.copy_within(c.ipos..c.iend, 0);
                        c.iend -= c.ipos;
                        c.ipos = 0;
                    } else {
                        let grown = c.ibuf.len() * 2;
                        c.ibuf.resize(grown, 0);
                    }
                }
                let r = c.sock.read(&mut c.ibuf[c.iend..]);
                if let Ok(n) = r {
                    c.iend += n;
                }
                r
            };
            match r {
                Ok(0) => fatal("Error: Server closed the connection"),
                Ok(_) => {
                    if self.consume(i, s, t, shared) {
                        self.batch_done(i, s, t, shared);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => fatal(&format!("Error: {}", strerror(&e))),
            }
        }
    }

    /// Walks the replies in the buffer; true when the batch is complete.
    fn consume(&mut self, i: usize, s: &Settings, t: &Template, shared: &Shared) -> bool {
        let Some(c) = self.clients.get_mut(i) else {
            return false;
        };
        let mut counted: u64 = 0;
        let mut redirect = false;
        while c.pending > 0 {
            let reply = match c.scanner.next(&c.ibuf[..c.iend], &mut c.ipos) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => fatal(&format!("Error: {}", e.0)),
            };
            match reply {
                Reply::Value => {}
                Reply::Push => continue,
                Reply::Error(msg) => {
                    // Only requests with `{tag}` are steered to slots; a redirection
                    // of anything else is an error like any other.
                    let tagged = c.node.is_some() && !t.tags.is_empty();
                    if tagged && (msg.starts_with("MOVED") || msg.starts_with("ASK")) {
                        redirect = true;
                    } else if tagged && msg.starts_with("CLUSTERDOWN") {
                        eprintln!("Error from server {}: {msg}.", c.shown);
                        std::thread::sleep(std::time::Duration::from_secs(1));
                        redirect = true;
                    } else if c.node.is_some() {
                        fatal(&format!("Error from server {}: {msg}", c.shown));
                    } else {
                        fatal(&format!("Error from server: {msg}"));
                    }
                }
            }
            c.pending -= 1;
            if c.prefix_pending > 0 {
                c.prefix_pending -= 1;
            } else {
                counted += 1;
            }
        }
        if c.ipos == c.iend {
            c.ipos = 0;
            c.iend = 0;
        }
        if counted > 0 {
            let prev = shared.finished.fetch_add(counted as i64, Ordering::AcqRel);
            if prev < s.requests {
                let n = counted.min((s.requests - prev) as u64);
                let lat = c.latency.clamp(0, MAX_LATENCY_US);
                shared.hist.record(lat, n);
                shared.sec_hist.record(lat, n);
            }
        }
        let done = c.pending == 0 && matches!(c.state, State::Writing | State::Reading);
        let seen = c.slots_version;
        if redirect {
            if let Some(cluster) = &s.cluster {
                cluster.refresh(&s.config, seen);
            }
        }
        done
    }

    /// After the last reply of a batch: stop, send the next batch, or
    /// reconnect (`-k 0`).
    fn batch_done(&mut self, i: usize, s: &Settings, t: &Template, shared: &Shared) {
        let Some(c) = self.clients.get_mut(i) else {
            return;
        };
        c.state = State::Waiting;
        if c.prefix_len > 0 && c.prefix_pending == 0 {
            c.obuf.drain(..c.prefix_len);
            c.prefix_len = 0;
        }
        if shared.finished.load(Ordering::Acquire) >= s.requests {
            shared.stop_all();
            return;
        }
        if s.keepalive {
            self.start_batch(i, s, t, shared);
            return;
        }
        // Reconnect: a new connection that sends the prefix again.
        let target = match (c.node, &s.cluster) {
            (Some(n), Some(cl)) => match cl.node(n) {
                Some((ip, port, _)) => match crate::setup::resolve(&ip, port) {
                    Ok(addr) => Target::Tcp {
                        shown: c.shown.clone(),
                        addr,
                    },
                    Err(e) => connect_failed(&c.shown, &e),
                },
                None => s.target.clone(),
            },
            _ => s.target.clone(),
        };
        let _ = self.poll.registry().deregister(c.sock.source());
        c.sock = connect(&target, &c.shown);
        if let Err(e) = self.poll.registry().register(
            c.sock.source(),
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            connect_failed(&c.shown, &e);
        }
        let (prefix, count) = if c.node.is_some() {
            &s.cluster_prefix
        } else {
            &s.prefix
        };
        let mut obuf = Vec::with_capacity(prefix.len() + c.obuf.len());
        obuf.extend_from_slice(prefix);
        obuf.extend_from_slice(&c.obuf);
        c.obuf = obuf;
        c.prefix_len = prefix.len();
        c.prefix_pending = *count;
        c.ipos = 0;
        c.iend = 0;
        c.scanner = Scanner::default();
        c.state = State::Connecting;
    }
}

/// Lets every worker be woken when one of them ends the benchmark.
pub fn set_wakers(shared: &Shared, wakers: Vec<Arc<Waker>>) {
    let _ = shared.wakers.set(wakers);
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
