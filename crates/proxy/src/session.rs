//! One client connection, served by one task that reads requests, hands
//! them to backend connections, takes the replies from its [`Inbox`] and
//! writes them in request order.
//!
//! Every request gets a *slot* in a FIFO. A slot is ready at once (local
//! replies, errors) or waits for the replies of its parts (one part for
//! an ordinary command; one per slot for a split `MGET`; one per primary
//! for a fan-out). Replies are matched by tag, cluster redirections are
//! followed, requests that could not be sent during a failover are held
//! and retried, and every ready slot at the front is written out, all the
//! replies of one wake-up in one `write`.
//!
//! The forwarding path for an ordinary command allocates nothing: the
//! request is framed in place ([`crate::request::scan`]), routed by
//! looking at slices of the read buffer and copied as the exact bytes the
//! client sent into the backend connection's outbox; the read buffer
//! keeps the bytes until the reply came (for retries and redirections);
//! a reply that completes the front slot is copied from the inbox
//! straight into the output buffer. Connections are cached per client
//! until the deployment changes.
//!
//! Transactions and blocking commands pin the client to a dedicated
//! backend connection (in cluster mode, the node of the first key's slot;
//! a `MULTI` waits for that key); pub/sub moves it to a relay connection
//! of its own until it leaves subscribed state.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use redis_resp::{encode_request, Frame, Protocol, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend::{Conn, Fail, Inbox, InboxData, Sink, Tag, Use};
use crate::command::{self, FanOut, Kind, Local, PubSub, Split};
use crate::config::Mode;
use crate::merge::{merge, split_cursor, Merge};
use crate::pubsub::{classify, unsubscribed_reply, Relayed};
use crate::request::{scan, Args, Scan};
use crate::resp::{error_reply, error_text};
use crate::router::{Shared, Target};

/// Most replies a client may be owed before the proxy stops reading it.
const MAX_INFLIGHT: usize = 4096;
/// Pause before sending a held request again.
const RETRY_DELAY: Duration = Duration::from_millis(25);
/// Pause before a lost relay connection is opened again.
const RELAY_RETRY: Duration = Duration::from_millis(100);
/// Largest bulk argument (upstream's default `proto-max-bulk-len`).
const MAX_BULK: usize = 512 * 1024 * 1024;

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
const EXECABORT: &[u8] = b"-EXECABORT Transaction discarded because of previous errors.\r\n";

/// Where a part's request bytes are.
#[derive(Debug, Clone)]
enum ReqBytes {
    /// In the client's read buffer, at this absolute offset.
    Buf { at: u64, len: usize },
    /// Built by the proxy (split, fan-out, inline requests).
    Owned(Bytes),
}

#[derive(Debug)]
struct Part {
    req: ReqBytes,
    target: Target,
    /// The hash slot the part is routed by (cluster mode).
    slot: Option<u16>,
    asking: bool,
    /// Sent on the client's dedicated connection: no redirection, no retry.
    pinned: bool,
    /// Replies to swallow before this part's (a queued transaction).
    skip: u32,
    reply: Option<Bytes>,
}

impl Part {
    fn new(req: ReqBytes, target: Target, slot: Option<u16>) -> Part {
        Part {
            req,
            target,
            slot,
            asking: false,
            pinned: false,
            skip: 0,
            reply: None,
        }
    }
}

#[derive(Debug)]
struct Remote {
    first: Part,
    more: Vec<Part>,
    merge: Merge,
    proto: Protocol,
    deadline: Instant,
    redirects: u32,
    /// Safe to send again after a connection loss.
    readonly: bool,
    /// The reply the client gets instead of the server's (`EXECABORT`).
    replace: Option<&'static [u8]>,
}

impl Remote {
    fn part(&self, i: u32) -> Option<&Part> {
        match i {
            0 => Some(&self.first),
            i => self.more.get(i as usize - 1),
        }
    }

    fn part_mut(&mut self, i: u32) -> Option<&mut Part> {
        match i {
            0 => Some(&mut self.first),
            i => self.more.get_mut(i as usize - 1),
        }
    }

    fn complete(&self) -> bool {
        self.first.reply.is_some() && self.more.iter().all(|p| p.reply.is_some())
    }

    fn buf_at(&self) -> Option<u64> {
        std::iter::once(&self.first)
            .chain(&self.more)
            .find_map(|p| match p.req {
                ReqBytes::Buf { at, .. } => Some(at),
                ReqBytes::Owned(_) => None,
            })
    }
}

/// How many relayed frames answer a request on the relay connection.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Frames(usize),
    /// An unsubscribe from everything of one family: one per current
    /// subscription of it (one when there is none), known when its first
    /// frame arrives.
    All(usize),
}

#[derive(Debug)]
struct RelaySlot {
    expect: Expect,
    got: BytesMut,
    done: bool,
    /// Re-subscription after a reconnect: not written to the client.
    hidden: bool,
    /// A subscription command (its answers are confirmations).
    pubsub: bool,
}

#[derive(Debug)]
enum Body {
    /// Answered already.
    Ready(Bytes),
    /// Waiting for backends.
    Remote(Remote),
    /// Waiting for frames of the relay connection.
    Relay(RelaySlot),
    /// Close after writing everything before this.
    Close,
}

/// A client subscribed (or subscribing) over a relay connection.
#[derive(Debug)]
struct Relay {
    conn: Conn,
    /// Where it was opened (looked up again after a loss).
    target: Target,
    /// Its address (shard channels must live there).
    addr: String,
    /// Channels, patterns, shard channels.
    subs: [HashSet<Bytes>; 3],
    /// Relay slots not answered yet.
    pending: usize,
    /// When to open a lost connection again.
    reopen_at: Option<Instant>,
}

impl Relay {
    fn subscribed(&self) -> bool {
        self.subs.iter().any(|s| !s.is_empty())
    }
}

/// The client's dedicated connection.
#[derive(Debug)]
struct Pin {
    conn: Conn,
    /// The slot it serves (cluster mode).
    slot: Option<u16>,
}

/// Transaction state (for cluster routing and unpinning).
#[derive(Debug, Default)]
struct Tx {
    /// Cluster mode: `MULTI` accepted, no keyed command yet; the raw
    /// requests queued meanwhile.
    queued: Option<Vec<Bytes>>,
    /// `MULTI` sent on the pinned connection.
    in_multi: bool,
    /// A command of the transaction was refused by the proxy: `EXEC`
    /// discards it.
    dirty: bool,
    /// `WATCH` sent and not yet ended.
    watching: bool,
    /// The pinned connection is no longer needed: drop it before the next
    /// command (once everything sent on it is answered).
    unpin: bool,
}

/// Serves one client until it leaves.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let clients = shared.counters.clients.fetch_add(1, Ordering::Relaxed) + 1;
    if clients > shared.cfg.maxclients {
        shared.counters.clients.fetch_sub(1, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
        })
        .await;
        return;
    }
    shared
        .counters
        .total_clients
        .fetch_add(1, Ordering::Relaxed);
    let id = shared.client_id();
    let mut s = Session::new(shared.clone(), id);
    s.run(&mut stream).await;
    if let Some(p) = s.pinned.take() {
        p.conn.kill();
    }
    if let Some(r) = s.relay.take() {
        r.conn.kill();
    }
    shared.counters.clients.fetch_sub(1, Ordering::Relaxed);
}

/// What handling one request did.
enum Next {
    /// Consumed.
    Go,
    /// Not consumed: try again once everything owed is answered.
    Wait,
    /// Consumed; read nothing more.
    Stop,
}

struct Session {
    shared: Arc<Shared>,
    id: u64,
    inbox: Sink,
    proto: Protocol,
    authed: bool,
    name: Option<Bytes>,
    pinned: Option<Pin>,
    tx: Tx,
    relay: Option<Relay>,
    /// Read buffer: requests still referenced by slots, then unparsed input.
    buf: BytesMut,
    /// Absolute stream offset of `buf[0]`.
    base: u64,
    /// Offset in `buf` of the first unparsed byte.
    parsed: usize,
    parser: RequestParser,
    ranges: Vec<(usize, usize)>,
    keys: Vec<usize>,
    /// Requests are not read or parsed any more (QUIT, protocol error).
    stopped: bool,
    /// A request waits for everything owed to be answered.
    waiting: bool,
    /// New input or state: try parsing again.
    dirty: bool,
    slots: VecDeque<(u64, Body)>,
    next_seq: u64,
    /// Held requests: when to send again, slot, part.
    retries: Vec<(Instant, u64, u32)>,
    out: BytesMut,
    got: InboxData,
    /// Connections by target, valid for one deployment epoch.
    cache: Vec<(Target, Conn)>,
    epoch: u64,
    /// Until when requests parsed in this batch may be held (one clock
    /// reading per batch).
    hold_until: Instant,
}

/// Sleeps until `t` (forever for `None`; the branch is disabled then).
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending::<()>().await,
    }
}

impl Session {
    fn new(shared: Arc<Shared>, id: u64) -> Session {
        let authed = shared.cfg.requirepass.is_none();
        let epoch = shared.epoch();
        Session {
            shared,
            id,
            inbox: Arc::new(Inbox::default()),
            proto: Protocol::Resp2,
            authed,
            name: None,
            pinned: None,
            tx: Tx::default(),
            relay: None,
            buf: BytesMut::with_capacity(16 * 1024),
            base: 0,
            parsed: 0,
            parser: RequestParser::new(),
            ranges: Vec::new(),
            keys: Vec::new(),
            stopped: false,
            waiting: false,
            dirty: false,
            slots: VecDeque::new(),
            next_seq: 0,
            retries: Vec::new(),
            out: BytesMut::with_capacity(16 * 1024),
            got: InboxData::default(),
            cache: Vec::new(),
            epoch,
            hold_until: Instant::now(),
        }
    }

    async fn run(&mut self, stream: &mut TcpStream) {
        let (mut rd, mut wr) = stream.split();
        let inbox = self.inbox.clone();
        let idle =
            (self.shared.cfg.timeout > 0).then(|| Duration::from_secs(self.shared.cfg.timeout));
        let mut last_read = Instant::now();
        loop {
            if !self.stopped && (self.dirty || (self.waiting && self.slots.is_empty())) {
                self.dirty = false;
                self.parse_all();
            }
            let closing = self.collect();
            if !self.out.is_empty() {
                if wr.write_all(&self.out).await.is_err() {
                    return;
                }
                self.out.clear();
                if self.out.capacity() > 1 << 20 {
                    self.out = BytesMut::with_capacity(16 * 1024);
                }
            }
            if closing {
                let _ = wr.shutdown().await;
                return;
            }
            if !self.stopped && self.waiting && self.slots.is_empty() {
                // What the waiting request needed happened: go on with it.
                continue;
            }
            self.release();
            let can_read = !self.stopped && !self.waiting && self.slots.len() < MAX_INFLIGHT;
            if can_read && self.buf.capacity() - self.buf.len() < 1024 {
                let mut ranges = std::mem::take(&mut self.ranges);
                let hint = match scan(self.unparsed(), &mut ranges, MAX_BULK) {
                    Scan::Incomplete(Some(total)) => {
                        total.saturating_sub(self.buf.len() - self.parsed)
                    }
                    _ => self.parser.reserve_hint(),
                };
                self.ranges = ranges;
                self.buf.reserve(4096.max(hint.min(64 << 20)));
            }
            let next_retry = self
                .retries
                .iter()
                .map(|r| r.0)
                .chain(self.relay.as_ref().and_then(|r| r.reopen_at))
                .min();
            let subscribed = self.relay.as_ref().is_some_and(Relay::subscribed);
            let idle_at = idle.filter(|_| !subscribed).map(|d| last_read + d);
            tokio::select! {
                biased;
                // Every branch is cancel-safe: a notification keeps its
                // permit, `read_buf` reads nothing unless it completes,
                // and the timers are re-armed.
                _ = inbox.wait() => self.drain_inbox(),
                r = rd.read_buf(&mut self.buf), if can_read => {
                    match r {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            self.dirty = true;
                            if idle.is_some() {
                                last_read = Instant::now();
                            }
                        }
                    }
                }
                _ = sleep_until(next_retry), if next_retry.is_some() => self.run_retries(),
                _ = sleep_until(idle_at), if idle_at.is_some() => {
                    if self.slots.is_empty() {
                        return;
                    }
                    last_read = Instant::now();
                }
            }
        }
    }

    fn unparsed(&self) -> &[u8] {
        self.buf.get(self.parsed..).unwrap_or_default()
    }

    /// Drops the read buffer's prefix no slot refers to any more.
    fn release(&mut self) {
        let parsed_abs = self.base + self.parsed as u64;
        let keep = self
            .slots
            .iter()
            .find_map(|(_, b)| match b {
                Body::Remote(r) => r.buf_at(),
                _ => None,
            })
            .unwrap_or(parsed_abs)
            .min(parsed_abs);
        let n = (keep.saturating_sub(self.base)) as usize;
        if n > 0 {
            self.buf.advance(n.min(self.buf.len()));
            self.base += n as u64;
            self.parsed -= n.min(self.parsed);
        }
        if self.buf.is_empty() && self.buf.capacity() > 1 << 20 {
            // After a large request: do not keep its buffer.
            self.buf = BytesMut::with_capacity(16 * 1024);
        }
    }

    /// Handles every complete request in the buffer, as far as allowed.
    fn parse_all(&mut self) {
        self.waiting = false;
        self.hold_until = Instant::now() + self.shared.hold();
        loop {
            if self.stopped || self.slots.len() >= MAX_INFLIGHT {
                return;
            }
            let fast = self.authed && !self.parser.in_request();
            let scanned = if fast {
                scan(
                    self.buf.get(self.parsed..).unwrap_or_default(),
                    &mut self.ranges,
                    MAX_BULK,
                )
            } else {
                Scan::Slow
            };
            match scanned {
                Scan::Complete(len) => {
                    let at = self.parsed;
                    let abs = self.base + at as u64;
                    let buf = std::mem::take(&mut self.buf);
                    let ranges = std::mem::take(&mut self.ranges);
                    let raw = buf.get(at..at + len).unwrap_or_default();
                    let req = ReqBytes::Buf { at: abs, len };
                    let next = self.handle(
                        Args {
                            raw,
                            ranges: &ranges,
                        },
                        req,
                    );
                    self.buf = buf;
                    self.ranges = ranges;
                    match next {
                        Next::Go => self.parsed += len,
                        Next::Wait => {
                            self.waiting = true;
                            return;
                        }
                        Next::Stop => {
                            self.parsed += len;
                            self.stopped = true;
                            return;
                        }
                    }
                }
                Scan::Incomplete(_) => return,
                Scan::Slow => {
                    if !self.slow_one() {
                        return;
                    }
                }
            }
        }
    }

    /// One request through the full parser (inline requests, unusual
    /// framing, unauthenticated clients); false when nothing more can be
    /// parsed now.
    fn slow_one(&mut self) -> bool {
        // The parser consumes from the front of the buffer, so nothing
        // before the unparsed input may still be needed.
        self.release();
        if self.parsed > 0 {
            self.waiting = true;
            return false;
        }
        self.parser.set_auth_required(!self.authed);
        let before = self.buf.len();
        let parsed = self.parser.parse(&mut self.buf);
        self.base += (before - self.buf.len()) as u64;
        match parsed {
            Ok(Some(args)) => {
                if args.is_empty() {
                    return true;
                }
                let mut enc = BytesMut::new();
                encode_request(&args, &mut enc);
                let raw = enc.freeze();
                let mut ranges = std::mem::take(&mut self.ranges);
                let ok = matches!(scan(&raw, &mut ranges, usize::MAX), Scan::Complete(_));
                let next = if ok {
                    let args = Args {
                        raw: &raw,
                        ranges: &ranges,
                    };
                    self.handle(args, ReqBytes::Owned(raw.clone()))
                } else {
                    self.err("ERR Protocol error: request too large");
                    Next::Stop
                };
                self.ranges = ranges;
                match next {
                    Next::Go => true,
                    Next::Stop => {
                        self.stopped = true;
                        false
                    }
                    Next::Wait => {
                        // Handled again later from its re-encoded bytes.
                        self.requeue(raw);
                        self.waiting = true;
                        false
                    }
                }
            }
            Ok(None) => false,
            Err(e) => {
                let mut line = b"-ERR ".to_vec();
                line.extend_from_slice(&e.reply_bytes());
                line.extend_from_slice(b"\r\n");
                self.push(Body::Ready(Bytes::from(line)));
                self.push(Body::Close);
                self.stopped = true;
                false
            }
        }
    }

    /// Puts a re-encoded request back in front of the unparsed input.
    fn requeue(&mut self, raw: Bytes) {
        let mut b = BytesMut::with_capacity(raw.len() + self.buf.len() + 4096);
        b.extend_from_slice(&raw);
        b.extend_from_slice(&self.buf);
        self.buf = b;
        self.base = self.base.saturating_sub(raw.len() as u64);
    }
}

/// Routing and local commands.
impl Session {
    fn push(&mut self, body: Body) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots.push_back((seq, body));
        seq
    }

    fn ready(&mut self, b: Bytes) -> Next {
        self.push(Body::Ready(b));
        Next::Go
    }

    fn err(&mut self, text: &str) -> Next {
        self.ready(error_reply(text))
    }

    fn owed(&self) -> usize {
        self.slots.len()
    }

    fn handle(&mut self, args: Args<'_>, req: ReqBytes) -> Next {
        if args.is_empty() {
            return Next::Go;
        }
        let spec = command::lookup(&args);
        if !self.authed
            && !matches!(
                spec.kind,
                Kind::Local(Local::Auth) | Kind::Local(Local::Hello) | Kind::Local(Local::Quit)
            )
        {
            return self.err("NOAUTH Authentication required.");
        }
        // A dedicated connection that is done with is dropped before the
        // next command, once everything sent on it is answered.
        let reuse = spec.kind == Kind::Pinned && self.shared.cfg.mode != Mode::Cluster;
        if self.tx.unpin && self.pinned.is_some() && !reuse && !matches!(spec.kind, Kind::Local(_))
        {
            if self.owed() > 0 {
                return Next::Wait;
            }
            if let Some(p) = self.pinned.take() {
                p.conn.kill();
            }
            self.tx = Tx::default();
        }
        self.shared
            .counters
            .commands
            .fetch_add(1, Ordering::Relaxed);
        if self.relay.is_some() {
            return self.relayed(args, spec, req);
        }
        match spec.kind {
            // Inside a transaction these are queued like any command (the
            // reply to `EXEC` has one entry per queued command); refused
            // ones discard the transaction, as the server's queue does.
            Kind::Local(l @ (Local::Ping | Local::Echo | Local::Select))
                if self.tx.in_multi || self.tx.queued.is_some() =>
            {
                match self.simple_local_check(l, &args) {
                    Err(e) => {
                        self.tx.dirty = true;
                        self.err(&e)
                    }
                    Ok(()) => self.pinned_send(args, spec, req),
                }
            }
            Kind::Local(l) => self.local(l, args),
            Kind::Unsupported(why) => {
                let name = String::from_utf8_lossy(args.get(0).unwrap_or_default()).to_lowercase();
                self.err(&format!(
                    "ERR redis-proxy: '{name}' is not supported: {why}"
                ))
            }
            Kind::PubSub(p) => self.subscribe(args, spec, p, req),
            _ if self.pinned.is_some() || spec.kind == Kind::Pinned || self.tx.queued.is_some() => {
                self.pinned_send(args, spec, req)
            }
            _ => self.route(args, spec, req),
        }
    }

    /// The connection for `target`, from this client's cache when the
    /// deployment has not changed since.
    fn conn_for(&mut self, target: &Target) -> Result<Conn, String> {
        let epoch = self.shared.epoch();
        if epoch != self.epoch {
            self.epoch = epoch;
            self.cache.clear();
        }
        let cacheable = !matches!(target, Target::Node(_));
        if cacheable {
            if let Some(i) = self.cache.iter().position(|(t, _)| t == target) {
                if let Some((_, c)) = self.cache.get(i) {
                    if c.is_alive() {
                        return Ok(c.clone());
                    }
                }
                self.cache.swap_remove(i);
            }
        }
        let (addr, require) = self.shared.resolve(target)?;
        let resp3 = self.proto == Protocol::Resp3;
        let c = self.shared.pool.get(&addr, resp3, self.id, require);
        if cacheable {
            if self.cache.len() >= 64 {
                self.cache.clear();
            }
            self.cache.push((target.clone(), c.clone()));
        }
        Ok(c)
    }

    /// Sends part `tag.part` of slot `tag.seq` (given its bytes).
    fn send(&mut self, bytes: &[u8], target: &Target, asking: bool, tag: Tag) {
        for attempt in 0..2 {
            match self.conn_for(target) {
                Err(e) => {
                    self.shared.wake();
                    self.inbox.fail(tag, Fail::NotSent(e));
                    return;
                }
                Ok(conn) => match conn.send(bytes, asking, 0, Some((tag, &self.inbox))) {
                    Ok(()) => return,
                    Err(_) if attempt == 0 => {
                        // Retired or just died: look it up again once.
                        self.cache.clear();
                    }
                    Err(_) => {
                        self.shared.wake();
                        self.inbox
                            .fail(tag, Fail::NotSent("no connection to the backend".into()));
                    }
                },
            }
        }
    }

    /// Queues a slot waiting for `parts` and sends them.
    fn remote(&mut self, raw: &[u8], mut parts: Vec<Part>, merge: Merge, readonly: bool) -> Next {
        if parts.is_empty() {
            return self.err("ERR redis-proxy: nothing to send");
        }
        let first = parts.remove(0);
        self.remote_parts(raw, first, parts, merge, readonly)
    }

    fn remote_parts(
        &mut self,
        raw: &[u8],
        first: Part,
        more: Vec<Part>,
        merge: Merge,
        readonly: bool,
    ) -> Next {
        let seq = self.next_seq;
        let body = Body::Remote(Remote {
            first,
            more,
            merge,
            proto: self.proto,
            deadline: self.hold_until,
            redirects: 0,
            readonly,
            replace: None,
        });
        self.push(body);
        let n = match self.slots.back() {
            Some((_, Body::Remote(r))) => 1 + r.more.len(),
            _ => 0,
        };
        for i in 0..n as u32 {
            let Some((_, Body::Remote(r))) = self.slots.back() else {
                break;
            };
            let Some(p) = r.part(i) else {
                break;
            };
            let target = p.target.clone();
            let tag = Tag { seq, part: i };
            match &p.req {
                ReqBytes::Buf { .. } => self.send(raw, &target, false, tag),
                ReqBytes::Owned(b) => {
                    let b = b.clone();
                    self.send(&b, &target, false, tag);
                }
            }
        }
        Next::Go
    }

    /// Routes an ordinary command (not pinned).
    fn route(&mut self, args: Args<'_>, spec: command::Spec, req: ReqBytes) -> Next {
        if self.shared.cfg.mode != Mode::Cluster {
            let target = if spec.readonly {
                Target::Read
            } else {
                Target::Primary
            };
            return self.remote_parts(
                args.raw,
                Part::new(req, target, None),
                Vec::new(),
                Merge::One,
                spec.readonly,
            );
        }
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        command::key_indexes(spec.keys, &args, &mut keys);
        let next = self.route_cluster(args, spec, &keys, req);
        self.keys = keys;
        next
    }

    /// The common slot of `keys`: `Ok(None)` without keys, `Err` when
    /// they hash to different slots.
    fn common_slot(args: &Args<'_>, keys: &[usize]) -> Result<Option<u16>, ()> {
        let mut first = None;
        for &i in keys {
            let Some(k) = args.get(i) else { continue };
            let s = command::slot(k);
            match first {
                None => first = Some(s),
                Some(f) if f != s => return Err(()),
                Some(_) => {}
            }
        }
        Ok(first)
    }

    fn route_cluster(
        &mut self,
        args: Args<'_>,
        spec: command::Spec,
        keys: &[usize],
        req: ReqBytes,
    ) -> Next {
        if let Kind::FanOut(f) = spec.kind {
            return self.fan_out(args, f, spec.readonly);
        }
        match (spec.kind, Self::common_slot(&args, keys)) {
            (_, Ok(None)) => self.remote_parts(
                args.raw,
                Part::new(req, Target::Primary, None),
                Vec::new(),
                Merge::One,
                spec.readonly,
            ),
            (_, Ok(Some(s))) => self.remote_parts(
                args.raw,
                Part::new(req, Target::Slot(s), Some(s)),
                Vec::new(),
                Merge::One,
                spec.readonly,
            ),
            (Kind::Split(split), Err(())) => self.split(args, split, keys, spec.readonly),
            _ => self.err(CROSSSLOT),
        }
    }

    /// One part per slot, keys in their original order within each part.
    fn split(&mut self, args: Args<'_>, split: Split, keys: &[usize], readonly: bool) -> Next {
        let slots: Vec<u16> = keys
            .iter()
            .map(|&i| command::slot(args.get(i).unwrap_or_default()))
            .collect();
        let mut order: Vec<u16> = Vec::new();
        for s in &slots {
            if !order.contains(s) {
                order.push(*s);
            }
        }
        let name = args.get(0).unwrap_or_default();
        let mut parts = Vec::with_capacity(order.len());
        let mut positions = Vec::with_capacity(order.len());
        for s in &order {
            let mut sub: Vec<&[u8]> = vec![name];
            let mut pos = Vec::new();
            for (n, (&k, ks)) in keys.iter().zip(&slots).enumerate() {
                if ks != s {
                    continue;
                }
                pos.push(n);
                if let Some(key) = args.get(k) {
                    sub.push(key);
                }
                if split == Split::Mset {
                    if let Some(v) = args.get(k + 1) {
                        sub.push(v);
                    }
                }
            }
            let mut enc = BytesMut::new();
            encode_request(&sub, &mut enc);
            parts.push(Part::new(
                ReqBytes::Owned(enc.freeze()),
                Target::Slot(*s),
                Some(*s),
            ));
            positions.push(pos);
        }
        let how = match split {
            Split::Mget => Merge::Mget {
                positions,
                total: keys.len(),
            },
            Split::Mset => Merge::AllOk,
            Split::Sum => Merge::Sum,
        };
        self.remote(args.raw, parts, how, readonly)
    }

    fn fan_out(&mut self, args: Args<'_>, f: FanOut, readonly: bool) -> Next {
        let nodes = self
            .shared
            .cluster
            .as_ref()
            .map(|c| c.primaries())
            .unwrap_or_default();
        if nodes.is_empty() {
            return self.err("CLUSTERDOWN redis-proxy: the slot map is not known yet");
        }
        if f == FanOut::Scan {
            let cursor = args
                .get(1)
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.parse::<u64>().ok());
            let Some(cursor) = cursor else {
                return self.err("ERR invalid cursor");
            };
            let n = nodes.len() as u64;
            let (node, inner) = split_cursor(cursor, n);
            let mut sub = args.to_vec();
            if let Some(c) = sub.get_mut(1) {
                *c = Bytes::from(inner.to_string());
            }
            let Some(addr) = nodes.get(node as usize) else {
                return self.err("ERR invalid cursor");
            };
            let mut enc = BytesMut::new();
            encode_request(&sub, &mut enc);
            let part = Part::new(
                ReqBytes::Owned(enc.freeze()),
                Target::Node(addr.clone()),
                None,
            );
            return self.remote(
                args.raw,
                vec![part],
                Merge::Scan { node, nodes: n },
                readonly,
            );
        }
        let bytes = Bytes::copy_from_slice(args.raw);
        let parts = nodes
            .into_iter()
            .map(|a| Part::new(ReqBytes::Owned(bytes.clone()), Target::Node(a), None))
            .collect();
        let how = if f == FanOut::Sum {
            Merge::Sum
        } else {
            Merge::FanOut(f)
        };
        self.remote(args.raw, parts, how, readonly)
    }

    /// Transactions and blocking commands: on the client's own connection.
    fn pinned_send(&mut self, args: Args<'_>, spec: command::Spec, req: ReqBytes) -> Next {
        let cluster = self.shared.cfg.mode == Mode::Cluster;
        let name = command_name(&args);
        if self.pinned.as_ref().is_some_and(|p| !p.conn.is_alive()) {
            self.pinned = None;
            self.tx = Tx::default();
        }
        let mut keys = Vec::new();
        command::key_indexes(spec.keys, &args, &mut keys);
        let slot = match Self::common_slot(&args, &keys) {
            Ok(s) => s,
            Err(()) if cluster => {
                self.tx.dirty |= self.tx.in_multi || self.tx.queued.is_some();
                return self.err(CROSSSLOT);
            }
            Err(()) => None,
        };
        // The transaction queued in the proxy (cluster mode, no key yet).
        let mut preamble: Vec<Bytes> = Vec::new();
        if self.pinned.is_none() {
            if cluster && self.tx.queued.is_some() {
                match (name.as_str(), slot) {
                    ("multi", _) => return self.err("ERR MULTI calls can not be nested"),
                    ("watch", _) => return self.err("ERR WATCH inside MULTI is not allowed"),
                    ("discard", _) => {
                        self.tx = Tx::default();
                        return self.ready(Bytes::from_static(b"+OK\r\n"));
                    }
                    ("exec", _) if self.tx.dirty => {
                        self.tx = Tx::default();
                        return self.ready(Bytes::from_static(EXECABORT));
                    }
                    ("exec", _) if self.tx.queued.as_ref().is_some_and(|q| q.is_empty()) => {
                        self.tx = Tx::default();
                        return self.ready(Bytes::from_static(b"*0\r\n"));
                    }
                    ("exec", _) | (_, Some(_)) => {}
                    (_, None) => {
                        if let Some(q) = self.tx.queued.as_mut() {
                            q.push(Bytes::copy_from_slice(args.raw));
                        }
                        return self.ready(Bytes::from_static(b"+QUEUED\r\n"));
                    }
                }
                preamble.push(Bytes::from_static(b"*1\r\n$5\r\nMULTI\r\n"));
                preamble.extend(self.tx.queued.take().unwrap_or_default());
                self.tx.in_multi = true;
            } else if cluster && name == "multi" {
                if self.owed() > 0 {
                    return Next::Wait;
                }
                self.tx.queued = Some(Vec::new());
                return self.ready(Bytes::from_static(b"+OK\r\n"));
            }
            // Everything sent before must be answered first, so the
            // dedicated connection cannot overtake the shared one.
            if self.owed() > 0 {
                if !preamble.is_empty() {
                    // Not consumed: put the queued transaction back.
                    preamble.remove(0);
                    self.tx.queued = Some(preamble);
                    self.tx.in_multi = false;
                }
                return Next::Wait;
            }
            let target = match (cluster, slot) {
                (true, Some(s)) => Target::Slot(s),
                (true, None) if !preamble.is_empty() => Target::Primary,
                (true, None) => {
                    return self.err(&format!(
                        "ERR redis-proxy: '{name}' needs a key in cluster mode (its slot picks the node)"
                    ))
                }
                (false, _) => Target::Primary,
            };
            match self.shared.resolve(&target) {
                Ok((addr, require)) => {
                    let resp3 = self.proto == Protocol::Resp3;
                    let conn = self
                        .shared
                        .pool
                        .dedicated(&addr, resp3, require, Use::Dedicated);
                    self.pinned = Some(Pin {
                        conn,
                        slot: if cluster { slot } else { None },
                    });
                }
                Err(e) => {
                    self.tx = Tx::default();
                    return self.err(&format!("ERR redis-proxy: no backend available ({e})"));
                }
            }
        } else if cluster {
            let pinned_slot = self.pinned.as_ref().and_then(|p| p.slot);
            if let (Some(s), Some(p)) = (slot, pinned_slot) {
                if s != p {
                    self.tx.dirty |= self.tx.in_multi;
                    return self.err(CROSSSLOT);
                }
            }
        }
        // Transaction bookkeeping.
        let mut replace = None;
        match name.as_str() {
            "multi" => self.tx.in_multi = true,
            "watch" => self.tx.watching = true,
            "unwatch" if !self.tx.in_multi => self.tx.watching = false,
            "exec" | "discard" => {
                if name == "exec" && self.tx.dirty {
                    replace = Some(EXECABORT);
                }
                self.tx.in_multi = false;
                self.tx.watching = false;
                self.tx.dirty = false;
            }
            _ => {}
        }
        self.tx.unpin = !self.tx.in_multi && !self.tx.watching;
        let Some(conn) = self.pinned.as_ref().map(|p| p.conn.clone()) else {
            return self.err("ERR redis-proxy: no backend connection");
        };
        let mut bytes = BytesMut::new();
        for p in &preamble {
            bytes.extend_from_slice(p);
        }
        let discard = replace.is_some();
        if discard {
            bytes.extend_from_slice(b"*1\r\n$7\r\nDISCARD\r\n");
        } else {
            bytes.extend_from_slice(args.raw);
        }
        let skip = preamble.len() as u32;
        let req = if preamble.is_empty() && !discard {
            req
        } else {
            ReqBytes::Owned(bytes.clone().freeze())
        };
        let mut part = Part::new(req, Target::Primary, None);
        part.pinned = true;
        part.skip = skip;
        let seq = self.push(Body::Remote(Remote {
            first: part,
            more: Vec::new(),
            merge: Merge::One,
            proto: self.proto,
            deadline: Instant::now(),
            redirects: 0,
            readonly: false,
            replace,
        }));
        let tag = Tag { seq, part: 0 };
        if conn
            .send(&bytes, false, skip, Some((tag, &self.inbox)))
            .is_err()
        {
            self.inbox
                .fail(tag, Fail::NotSent("dedicated connection closed".into()));
        }
        Next::Go
    }
}

/// The lowercase command name.
fn command_name(args: &Args<'_>) -> String {
    String::from_utf8_lossy(args.get(0).unwrap_or_default()).to_ascii_lowercase()
}

/// Pub/sub.
impl Session {
    /// A subscription command from a client with no relay connection.
    fn subscribe(&mut self, args: Args<'_>, spec: command::Spec, p: PubSub, req: ReqBytes) -> Next {
        let channels: Vec<Bytes> = (1..args.len())
            .filter_map(|i| args.get(i))
            .map(Bytes::copy_from_slice)
            .collect();
        if !p.subscribes() {
            // Subscribed to nothing: the server's answer, without asking.
            return self.ready(unsubscribed_reply(p, &channels, self.proto));
        }
        if channels.is_empty() {
            return self.err(&format!(
                "ERR wrong number of arguments for '{}' command",
                p.name()
            ));
        }
        if self.pinned.is_some() || self.tx.queued.is_some() {
            return self.err(
                "ERR redis-proxy: subscribing inside a transaction or on a pinned connection is not supported",
            );
        }
        let target = if p == PubSub::SSubscribe && self.shared.cfg.mode == Mode::Cluster {
            let mut keys = Vec::new();
            command::key_indexes(spec.keys, &args, &mut keys);
            match Self::common_slot(&args, &keys) {
                Ok(Some(s)) => Target::Slot(s),
                Ok(None) => Target::Primary,
                Err(()) => return self.err(CROSSSLOT),
            }
        } else {
            Target::Primary
        };
        // Replies so far come first: the relay connection must not
        // overtake the shared ones.
        if self.owed() > 0 {
            return Next::Wait;
        }
        let (addr, require) = match self.shared.resolve(&target) {
            Ok(r) => r,
            Err(e) => return self.err(&format!("ERR redis-proxy: no backend available ({e})")),
        };
        let resp3 = self.proto == Protocol::Resp3;
        let conn =
            self.shared
                .pool
                .dedicated(&addr, resp3, require, Use::Relay(self.inbox.clone()));
        self.relay = Some(Relay {
            conn,
            target,
            addr,
            subs: Default::default(),
            pending: 0,
            reopen_at: None,
        });
        self.relay_send(args, Some(p), channels.len(), req)
    }

    /// Any command of a client that has a relay connection: everything
    /// but the proxy's local commands goes there, in order.
    fn relayed(&mut self, args: Args<'_>, spec: command::Spec, req: ReqBytes) -> Next {
        let p = match spec.kind {
            Kind::PubSub(p) => Some(p),
            Kind::Local(Local::Ping) => None,
            Kind::Local(Local::Quit) => return self.local(Local::Quit, args),
            Kind::Local(Local::Hello) | Kind::Local(Local::Auth) => {
                return self
                    .err("ERR redis-proxy: HELLO and AUTH are not available while subscribed")
            }
            Kind::Local(l) => return self.local(l, args),
            Kind::Unsupported(why) => {
                let name = command_name(&args);
                return self.err(&format!(
                    "ERR redis-proxy: '{name}' is not supported: {why}"
                ));
            }
            _ => None,
        };
        let n = args.len().saturating_sub(1);
        if let Some(PubSub::SSubscribe | PubSub::SUnsubscribe) = p {
            if self.shared.cfg.mode == Mode::Cluster && n > 0 {
                let mut keys = Vec::new();
                command::key_indexes(spec.keys, &args, &mut keys);
                let addr = match Self::common_slot(&args, &keys) {
                    Ok(Some(s)) => self.shared.resolve(&Target::Slot(s)).ok().map(|a| a.0),
                    Ok(None) => None,
                    Err(()) => return self.err(CROSSSLOT),
                };
                if addr.is_some_and(|a| self.relay.as_ref().is_some_and(|r| r.addr != a)) {
                    return self.err(
                        "ERR redis-proxy: this client's subscriptions are on another node; shard channels of other nodes need another connection",
                    );
                }
            }
        }
        if p.is_some_and(|p| p.subscribes()) && n == 0 {
            let name = p.map(|p| p.name()).unwrap_or_default();
            return self.err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ));
        }
        self.relay_send(args, p, n, req)
    }

    fn relay_send(&mut self, args: Args<'_>, p: Option<PubSub>, n: usize, _req: ReqBytes) -> Next {
        let expect = match p {
            Some(p) if n == 0 => Expect::All(p.family()),
            Some(_) => Expect::Frames(n),
            None => Expect::Frames(1),
        };
        let Some(relay) = self.relay.as_mut() else {
            return self.err("ERR redis-proxy: no relay connection");
        };
        relay.pending += 1;
        let sent = relay.conn.send(args.raw, false, 0, None).is_ok();
        self.push(Body::Relay(RelaySlot {
            expect,
            got: BytesMut::new(),
            done: false,
            hidden: false,
            pubsub: p.is_some(),
        }));
        if !sent {
            self.relay_lost("the relay connection is closed".into());
        }
        Next::Go
    }

    /// One frame (or the loss) of the relay connection.
    fn on_relay(&mut self, frame: Result<&[u8], Fail>) {
        let frame = match frame {
            Ok(f) => f,
            Err(Fail::NotSent(why) | Fail::Lost(why) | Fail::Timeout(why) | Fail::Garbage(why)) => {
                self.relay_lost(why);
                return;
            }
        };
        let Some(relay) = self.relay.as_mut() else {
            return;
        };
        let awaiting_confirm = self.slots.iter().find_map(|(_, b)| match b {
            Body::Relay(r) if !r.done => Some(r.pubsub),
            _ => None,
        });
        let kind = classify(frame, relay.subscribed() || awaiting_confirm == Some(true));
        if let Relayed::Confirm {
            kind,
            channel,
            count: _,
        } = &kind
        {
            let set = &mut relay.subs[kind.family()];
            if let Some(c) = channel {
                if kind.subscribes() {
                    set.insert(c.clone());
                } else {
                    set.remove(c);
                }
            }
        }
        if kind == Relayed::Message {
            // Ready replies before it go first.
            self.collect_into_out();
            self.out.extend_from_slice(frame);
            return;
        }
        // The answer to the oldest relayed request still waiting.
        let subs_len: [usize; 3] = [
            relay.subs[0].len(),
            relay.subs[1].len(),
            relay.subs[2].len(),
        ];
        let slot = self.slots.iter_mut().find_map(|(_, b)| match b {
            Body::Relay(r) if !r.done => Some(r),
            _ => None,
        });
        let Some(slot) = slot else {
            self.collect_into_out();
            self.out.extend_from_slice(frame);
            return;
        };
        let remaining = match slot.expect {
            Expect::Frames(n) => n,
            // Resolved now: the sets reflect every earlier confirmation
            // (this frame's own removal included, so add it back).
            Expect::All(f) => {
                let before = subs_len.get(f).copied().unwrap_or(0) + 1;
                before.max(1)
            }
        };
        slot.got.extend_from_slice(frame);
        let left = remaining.saturating_sub(1);
        slot.expect = Expect::Frames(left);
        if left == 0 {
            slot.done = true;
            if let Some(r) = self.relay.as_mut() {
                r.pending = r.pending.saturating_sub(1);
            }
        }
        self.maybe_end_relay();
    }

    /// Leaves relay mode once subscribed to nothing and nothing is owed
    /// on the relay connection.
    fn maybe_end_relay(&mut self) {
        if self
            .relay
            .as_ref()
            .is_some_and(|r| !r.subscribed() && r.pending == 0)
        {
            if let Some(r) = self.relay.take() {
                r.conn.kill();
            }
        }
    }

    /// The relay connection is gone: what was waiting on it fails, and a
    /// subscribed client is subscribed again on a new one (the current
    /// primary in sentinel mode) shortly.
    fn relay_lost(&mut self, why: String) {
        let text = error_reply(&format!(
            "ERR redis-proxy: connection to the backend lost before the reply ({why})"
        ));
        for (_, b) in self.slots.iter_mut() {
            if let Body::Relay(r) = b {
                if !r.done {
                    r.done = true;
                    if !r.hidden {
                        r.got.clear();
                        r.got.extend_from_slice(&text);
                    }
                }
            }
        }
        let Some(relay) = self.relay.as_mut() else {
            return;
        };
        relay.pending = 0;
        relay.conn.kill();
        if relay.subscribed() {
            relay.reopen_at = Some(Instant::now() + RELAY_RETRY);
        } else {
            self.relay = None;
        }
    }

    /// Opens the relay connection again and re-subscribes to everything.
    fn reopen_relay(&mut self) {
        let Some(relay) = self.relay.as_mut() else {
            return;
        };
        relay.reopen_at = None;
        let (addr, require) = match self.shared.resolve(&relay.target) {
            Ok(r) => r,
            Err(_) => {
                self.shared.wake();
                relay.reopen_at = Some(Instant::now() + RELAY_RETRY);
                return;
            }
        };
        let resp3 = self.proto == Protocol::Resp3;
        relay.conn =
            self.shared
                .pool
                .dedicated(&addr, resp3, require, Use::Relay(self.inbox.clone()));
        relay.addr = addr;
        let mut bytes = BytesMut::new();
        let mut frames = 0;
        for (f, cmd) in [b"SUBSCRIBE".as_slice(), b"PSUBSCRIBE", b"SSUBSCRIBE"]
            .into_iter()
            .enumerate()
        {
            let Some(set) = relay.subs.get(f) else {
                continue;
            };
            if set.is_empty() {
                continue;
            }
            let mut a: Vec<&[u8]> = vec![cmd];
            a.extend(set.iter().map(|c| c.as_ref()));
            encode_request(&a, &mut bytes);
            frames += set.len();
        }
        if frames == 0 {
            return;
        }
        relay.pending += 1;
        let sent = relay.conn.send(&bytes, false, 0, None).is_ok();
        self.push(Body::Relay(RelaySlot {
            expect: Expect::Frames(frames),
            got: BytesMut::new(),
            done: false,
            hidden: true,
            pubsub: true,
        }));
        if !sent {
            self.relay_lost("the relay connection is closed".into());
        }
    }
}

/// Commands the proxy answers itself.
impl Session {
    fn frame(&mut self, f: Frame) -> Next {
        let mut out = BytesMut::new();
        f.encode(self.proto, &mut out);
        self.ready(out.freeze())
    }

    fn arity(&mut self, name: &str) -> Next {
        self.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ))
    }

    /// The proxy's refusal of `PING`, `ECHO` or `SELECT` (arity, a
    /// database other than 0), if any.
    fn simple_local_check(&self, l: Local, args: &Args<'_>) -> Result<(), String> {
        let arity = |name: &str| {
            Err(format!(
                "ERR wrong number of arguments for '{name}' command"
            ))
        };
        match l {
            Local::Ping if !(1..=2).contains(&args.len()) => arity("ping"),
            Local::Echo if args.len() != 2 => arity("echo"),
            Local::Select if args.len() != 2 => arity("select"),
            Local::Select => {
                let db = args
                    .get(1)
                    .and_then(|a| std::str::from_utf8(a).ok())
                    .and_then(|s| s.parse::<i64>().ok());
                match db {
                    Some(0) => Ok(()),
                    Some(_) if self.shared.cfg.mode == Mode::Cluster => Err(
                        "ERR redis-proxy: SELECT is not allowed in cluster mode (only database 0 exists)".into(),
                    ),
                    Some(_) => Err(
                        "ERR redis-proxy: only database 0 is available through the proxy (backend connections are shared)".into(),
                    ),
                    None => Err("ERR value is not an integer or out of range".into()),
                }
            }
            _ => Ok(()),
        }
    }

    fn local(&mut self, l: Local, args: Args<'_>) -> Next {
        if let Err(e) = self.simple_local_check(l, &args) {
            return self.err(&e);
        }
        let args = args.to_vec();
        match l {
            // (`ECHO` has its argument: checked above.)
            Local::Ping | Local::Echo => match args.get(1) {
                Some(a) => self.frame(Frame::Bulk(a.clone())),
                None => self.ready(Bytes::from_static(b"+PONG\r\n")),
            },
            Local::Quit => {
                self.ready(Bytes::from_static(b"+OK\r\n"));
                self.push(Body::Close);
                Next::Stop
            }
            Local::Select => self.ready(Bytes::from_static(b"+OK\r\n")),
            Local::Auth => {
                let (user, pass) = match args.as_slice() {
                    [_, p] => (Bytes::from_static(b"default"), p.clone()),
                    [_, u, p] => (u.clone(), p.clone()),
                    _ if args.len() > 3 => return self.err("ERR syntax error"),
                    _ => return self.arity("auth"),
                };
                if self.shared.cfg.requirepass.is_none() && args.len() == 2 {
                    return self.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
                }
                if self.check_password(&user, &pass) {
                    self.authed = true;
                    self.ready(Bytes::from_static(b"+OK\r\n"))
                } else {
                    self.err("WRONGPASS invalid username-password pair or user is disabled.")
                }
            }
            Local::Hello => self.hello(&args),
            Local::Client => self.client(&args),
            Local::Info => {
                let text = crate::info::render(&self.shared, args.get(1).map(|a| a.as_ref()));
                let f = if self.proto == Protocol::Resp3 {
                    Frame::Verbatim {
                        format: *b"txt",
                        text: Bytes::from(text),
                    }
                } else {
                    Frame::Bulk(Bytes::from(text))
                };
                self.frame(f)
            }
        }
    }

    fn check_password(&self, user: &[u8], pass: &[u8]) -> bool {
        match &self.shared.cfg.requirepass {
            Some(p) => user == b"default" && p.as_bytes() == pass,
            None => user == b"default",
        }
    }

    fn hello(&mut self, args: &[Bytes]) -> Next {
        let mut proto = self.proto;
        let mut i = 1;
        if let Some(v) = args.get(1) {
            match v.as_ref() {
                b"2" => proto = Protocol::Resp2,
                b"3" => proto = Protocol::Resp3,
                _ => {
                    if std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .is_none()
                    {
                        return self.err("ERR Protocol version is not an integer or out of range");
                    }
                    return self.err("NOPROTO unsupported protocol version");
                }
            }
            i = 2;
        }
        let mut auth: Option<(Bytes, Bytes)> = None;
        let mut name: Option<Bytes> = None;
        while i < args.len() {
            let opt = &args[i];
            if opt.eq_ignore_ascii_case(b"AUTH") && i + 2 < args.len() {
                auth = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            } else if opt.eq_ignore_ascii_case(b"SETNAME") && i + 1 < args.len() {
                name = Some(args[i + 1].clone());
                i += 2;
            } else {
                let o = String::from_utf8_lossy(opt).into_owned();
                return self.err(&format!("ERR Syntax error in HELLO option '{o}'"));
            }
        }
        if let Some((u, p)) = &auth {
            if !self.check_password(u, p) {
                return self.err("WRONGPASS invalid username-password pair or user is disabled.");
            }
            self.authed = true;
        }
        if !self.authed {
            return self.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        if let Some(n) = name {
            if !valid_name(&n) {
                return self.err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            self.name = (!n.is_empty()).then_some(n);
        }
        if proto != self.proto {
            // A dedicated connection speaks the old protocol; cached
            // shared ones too.
            if let Some(p) = self.pinned.take() {
                p.conn.kill();
            }
            self.tx = Tx::default();
            self.cache.clear();
        }
        self.proto = proto;
        let s = |t: &'static str| Frame::Bulk(Bytes::from_static(t.as_bytes()));
        let map = Frame::Map(vec![
            (s("server"), s("redis")),
            (s("version"), s("7.0.0")),
            (
                s("proto"),
                Frame::Integer(if proto == Protocol::Resp3 { 3 } else { 2 }),
            ),
            (s("id"), Frame::Integer(self.id as i64)),
            (s("mode"), s("standalone")),
            (s("role"), s("master")),
            (s("modules"), Frame::Array(Vec::new())),
        ]);
        self.frame(map)
    }

    fn client(&mut self, args: &[Bytes]) -> Next {
        let Some(sub) = args.get(1) else {
            return self.arity("client");
        };
        let sub = String::from_utf8_lossy(sub).to_ascii_uppercase();
        match (sub.as_str(), args.len()) {
            ("SETNAME", 3) => {
                let n = args[2].clone();
                if !valid_name(&n) {
                    return self.err("ERR Client names cannot contain spaces, newlines or special characters.");
                }
                self.name = (!n.is_empty()).then_some(n);
                self.ready(Bytes::from_static(b"+OK\r\n"))
            }
            ("GETNAME", 2) => match self.name.clone() {
                Some(n) => self.frame(Frame::Bulk(n)),
                None => self.frame(Frame::Null),
            },
            ("ID", 2) => self.frame(Frame::Integer(self.id as i64)),
            ("SETINFO", 4) => self.ready(Bytes::from_static(b"+OK\r\n")),
            ("INFO", 2) => {
                let name = self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
                let resp = if self.proto == Protocol::Resp3 { 3 } else { 2 };
                let line = format!("id={} name={name} db=0 resp={resp}\n", self.id);
                self.frame(Frame::Bulk(Bytes::from(line)))
            }
            ("SETNAME" | "GETNAME" | "ID" | "SETINFO" | "INFO", _) => {
                self.err(&format!("ERR wrong number of arguments for 'client|{}' command", sub.to_lowercase()))
            }
            _ => self.err(&format!(
                "ERR redis-proxy: 'client {}' is not supported: the proxy's clients are not the server's",
                sub.to_lowercase()
            )),
        }
    }
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Replies: matching, redirections, retries, writing in order.
impl Session {
    /// Takes everything the backends delivered.
    fn drain_inbox(&mut self) {
        let mut got = std::mem::take(&mut self.got);
        got.clear();
        self.inbox.take(&mut got);
        let mut off = 0;
        for item in got.items.drain(..) {
            let end = off + item.len;
            let bytes = got.bytes.get(off..end).unwrap_or_default();
            off = end;
            match (item.tag == Tag::RELAY, item.fail) {
                (true, Some(f)) => self.on_relay(Err(f)),
                (true, None) => self.on_relay(Ok(bytes)),
                (false, Some(f)) => self.on_fail(item.tag, f),
                (false, None) => self.on_reply(item.tag, bytes),
            }
        }
        got.clear();
        if got.bytes.capacity() > 1 << 20 {
            got = InboxData::default();
        }
        self.got = got;
        self.maybe_end_relay();
        // Requests held back (a full pipeline, a wait for replies) may go
        // on now.
        if self.waiting || self.buf.len() > self.parsed {
            self.dirty = true;
        }
    }

    fn head(&self) -> u64 {
        self.slots.front().map(|s| s.0).unwrap_or(self.next_seq)
    }

    fn on_reply(&mut self, tag: Tag, reply: &[u8]) {
        let shared = self.shared.clone();
        let Some(idx) = tag.seq.checked_sub(self.head()) else {
            return;
        };
        let idx = idx as usize;
        let Some((_, Body::Remote(r))) = self.slots.get_mut(idx) else {
            return;
        };
        let deadline = r.deadline;
        let single = r.more.is_empty() && r.merge == Merge::One && r.replace.is_none();
        let replace = r.replace;
        let can_redirect = r.redirects < shared.cfg.max_redirects;
        let Some(part) = r.part_mut(tag.part) else {
            return;
        };
        if !part.pinned && shared.cfg.mode == Mode::Cluster {
            if let Some(text) = error_text(reply) {
                if let Some((ask, slot, addr)) = crate::cluster::parse_redirect(text) {
                    if can_redirect {
                        r.redirects += 1;
                        shared.counters.redirects.fetch_add(1, Ordering::Relaxed);
                        if !ask {
                            if let Some(c) = &shared.cluster {
                                c.moved(slot, &addr);
                            }
                        }
                        if let Some(part) = r.part_mut(tag.part) {
                            part.target = Target::Node(addr);
                            part.asking = ask;
                        }
                        self.send_part(tag);
                        return;
                    }
                } else if (text.starts_with(b"TRYAGAIN") || text.starts_with(b"CLUSTERDOWN"))
                    && Instant::now() < deadline
                {
                    let now = Instant::now();
                    if let Some(s) = part.slot {
                        part.target = Target::Slot(s);
                    }
                    part.asking = false;
                    self.retries
                        .push((now + RETRY_DELAY * 4, tag.seq, tag.part));
                    return;
                }
            }
        }
        if idx == 0 && single {
            // The front slot, answered: straight to the output.
            self.out.extend_from_slice(reply);
            self.slots.pop_front();
            return;
        }
        part.reply = Some(match replace {
            Some(b) => Bytes::from_static(b),
            None => Bytes::copy_from_slice(reply),
        });
    }

    fn on_fail(&mut self, tag: Tag, f: Fail) {
        let shared = self.shared.clone();
        let Some(idx) = tag.seq.checked_sub(self.head()) else {
            return;
        };
        let Some((_, Body::Remote(r))) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let now = Instant::now();
        let readonly = r.readonly;
        let deadline = r.deadline;
        let Some(part) = r.part_mut(tag.part) else {
            return;
        };
        // The deployment may have changed: look again now.
        shared.wake();
        let retryable = matches!(f, Fail::NotSent(_)) || (readonly && matches!(f, Fail::Lost(_)));
        if retryable && !part.pinned && now < deadline {
            shared.counters.held.fetch_add(1, Ordering::Relaxed);
            if let Some(s) = part.slot {
                part.target = Target::Slot(s);
            }
            part.asking = false;
            self.retries.push((now + RETRY_DELAY, tag.seq, tag.part));
            return;
        }
        let text = match f {
            Fail::NotSent(why) => format!("ERR redis-proxy: no backend available ({why})"),
            Fail::Lost(why) => {
                format!("ERR redis-proxy: connection to the backend lost before the reply ({why})")
            }
            Fail::Timeout(why) => format!("ERR redis-proxy: backend timed out ({why})"),
            Fail::Garbage(why) => {
                format!("ERR redis-proxy: the backend broke the protocol ({why})")
            }
        };
        if part.pinned {
            // The dedicated connection is gone with its state.
            self.tx = Tx::default();
            self.pinned = None;
        }
        part.reply = Some(error_reply(&text));
    }

    /// Sends a part (again) to where its target resolves now.
    fn send_part(&mut self, tag: Tag) {
        let Some(idx) = tag.seq.checked_sub(self.head()) else {
            return;
        };
        let Some((_, Body::Remote(r))) = self.slots.get(idx as usize) else {
            return;
        };
        let Some(part) = r.part(tag.part) else {
            return;
        };
        let target = part.target.clone();
        let asking = part.asking;
        let bytes = match &part.req {
            ReqBytes::Owned(b) => b.clone(),
            ReqBytes::Buf { at, len } => {
                let start = at.saturating_sub(self.base) as usize;
                match self.buf.get(start..start + len) {
                    Some(b) => Bytes::copy_from_slice(b),
                    None => Bytes::new(),
                }
            }
        };
        self.send(&bytes, &target, asking, tag);
    }

    fn run_retries(&mut self) {
        let now = Instant::now();
        if self
            .relay
            .as_ref()
            .and_then(|r| r.reopen_at)
            .is_some_and(|t| t <= now)
        {
            self.reopen_relay();
        }
        let mut due = Vec::new();
        self.retries.retain(|r| {
            if r.0 <= now {
                due.push((r.1, r.2));
                false
            } else {
                true
            }
        });
        for (seq, part) in due {
            self.send_part(Tag { seq, part });
        }
    }

    /// Moves the ready slots at the front into the output; true when a
    /// close was reached.
    fn collect(&mut self) -> bool {
        while let Some((_, front)) = self.slots.front_mut() {
            match front {
                Body::Ready(b) => self.out.extend_from_slice(b),
                Body::Remote(r) if r.complete() => {
                    if r.more.is_empty() && matches!(r.merge, Merge::One) {
                        if let Some(b) = &r.first.reply {
                            self.out.extend_from_slice(b);
                        }
                    } else {
                        let mut replies = Vec::with_capacity(1 + r.more.len());
                        replies.extend(r.first.reply.take());
                        replies.extend(r.more.iter_mut().filter_map(|p| p.reply.take()));
                        let b = merge(&r.merge, replies, r.proto);
                        self.out.extend_from_slice(&b);
                    }
                }
                Body::Relay(r) if r.done => {
                    if !r.hidden {
                        self.out.extend_from_slice(&r.got);
                    }
                }
                Body::Close => return true,
                _ => return false,
            }
            self.slots.pop_front();
        }
        false
    }

    fn collect_into_out(&mut self) {
        let _ = self.collect();
    }
}
