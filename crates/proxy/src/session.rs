//! One client connection: a reader task that parses requests and sends
//! them on (or answers them itself), and a writer task that writes the
//! replies in request order.
//!
//! Every request gets a *slot* with a sequence number, sent to the
//! writer before the request goes to a backend, so the writer always
//! knows the order. A slot is ready at once (local replies, errors) or
//! waits for the replies of its parts (one part for an ordinary command;
//! one per slot for a split `MGET`; one per primary for a fan-out); the
//! writer follows cluster redirections, holds and retries requests that
//! could not be sent during a failover, merges parts, and writes every
//! ready slot at the front of the queue in one write.
//!
//! Ordinary requests are re-encoded into one per-connection buffer and
//! forwarded as raw bytes (a split of that buffer, no allocation of its
//! own in the steady state); replies are forwarded as the raw bytes the
//! backend sent. Transactions and blocking commands pin the client to a
//! dedicated backend connection for the rest of its life.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redis_resp::{encode_request, Frame, Protocol, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::backend::{Conn, Delivery, Fail, Job, Sink, Tag};
use crate::command::{self, FanOut, Kind, Local, Split};
use crate::config::Mode;
use crate::merge::{merge, split_cursor, Merge};
use crate::resp::{error_reply, error_text};
use crate::router::{Shared, Target};

/// What the writer task receives.
#[derive(Debug)]
pub enum Msg {
    Slot(Slot),
    Delivery(Delivery),
}

/// One reply owed to the client, in request order.
#[derive(Debug)]
pub struct Slot {
    seq: u64,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// Answered already.
    Ready(Bytes),
    /// Waiting for backends.
    Remote(Remote),
    /// Close after writing everything before this.
    Close,
    /// The client is gone: stop now.
    Abort,
}

#[derive(Debug)]
struct Remote {
    parts: Vec<Part>,
    merge: Merge,
    proto: Protocol,
    deadline: Instant,
    redirects: u32,
    /// Safe to send again after a connection loss.
    readonly: bool,
}

#[derive(Debug)]
struct Part {
    bytes: Bytes,
    target: Target,
    /// The hash slot the part is routed by (cluster mode).
    slot: Option<u16>,
    asking: bool,
    /// Sent on the client's dedicated connection: no redirection, no retry.
    pinned: bool,
    reply: Option<Bytes>,
}

impl Part {
    fn new(bytes: Bytes, target: Target, slot: Option<u16>) -> Part {
        Part {
            bytes,
            target,
            slot,
            asking: false,
            pinned: false,
            reply: None,
        }
    }
}

/// Most replies a client may be owed before the proxy stops reading it.
const MAX_INFLIGHT: u64 = 4096;
/// Pause before sending a held request again.
const RETRY_DELAY: Duration = Duration::from_millis(25);

/// Serves one client until it leaves.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let clients = shared.counters.clients.fetch_add(1, Ordering::Relaxed) + 1;
    if clients > shared.cfg.maxclients {
        shared.counters.clients.fetch_sub(1, Ordering::Relaxed);
        let mut stream = stream;
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
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = watch::channel(0u64);
    let writer = Writer {
        shared: shared.clone(),
        id,
        sink: tx.clone(),
        slots: VecDeque::new(),
        base: 0,
        retries: Vec::new(),
        out: BytesMut::new(),
    };
    let writer = tokio::spawn(writer.run(wr, rx, done_tx));
    let mut reader = Reader {
        shared: shared.clone(),
        id,
        tx,
        done: done_rx,
        seq: 0,
        proto: Protocol::Resp2,
        authed: shared.cfg.requirepass.is_none(),
        name: None,
        pinned: None,
        enc: BytesMut::new(),
        keys: Vec::new(),
    };
    reader.run(rd).await;
    if let Some(p) = reader.pinned.take() {
        p.kill();
    }
    drop(reader);
    let _ = writer.await;
    shared.counters.clients.fetch_sub(1, Ordering::Relaxed);
}

struct Reader {
    shared: Arc<Shared>,
    id: u64,
    tx: Sink,
    done: watch::Receiver<u64>,
    seq: u64,
    proto: Protocol,
    authed: bool,
    name: Option<Bytes>,
    pinned: Option<Conn>,
    enc: BytesMut,
    keys: Vec<usize>,
}

enum Next {
    Go,
    Stop,
}

impl Reader {
    async fn run(&mut self, mut rd: OwnedReadHalf) {
        let mut buf = BytesMut::with_capacity(4096);
        let mut parser = RequestParser::new();
        parser.set_auth_required(!self.authed);
        let idle =
            (self.shared.cfg.timeout > 0).then(|| Duration::from_secs(self.shared.cfg.timeout));
        loop {
            loop {
                match parser.parse(&mut buf) {
                    Ok(Some(args)) => {
                        if args.is_empty() {
                            continue;
                        }
                        if let Next::Stop = self.handle(args).await {
                            return;
                        }
                        parser.set_auth_required(!self.authed);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let mut line = b"-ERR ".to_vec();
                        line.extend_from_slice(&e.reply_bytes());
                        line.extend_from_slice(b"\r\n");
                        self.push(Body::Ready(Bytes::from(line)));
                        self.push(Body::Close);
                        return;
                    }
                }
            }
            if buf.capacity() - buf.len() < 1024 {
                buf.reserve(4096.max(parser.reserve_hint().min(64 << 20)));
            }
            let read = rd.read_buf(&mut buf);
            let n = match idle {
                Some(limit) => match tokio::time::timeout(limit, read).await {
                    Ok(r) => r,
                    Err(_) if *self.done.borrow() >= self.seq => {
                        self.push(Body::Abort);
                        return;
                    }
                    Err(_) => continue,
                },
                None => read.await,
            };
            match n {
                Ok(0) | Err(_) => {
                    self.push(Body::Abort);
                    return;
                }
                Ok(_) => {}
            }
        }
    }

    fn push(&mut self, body: Body) {
        let seq = self.seq;
        self.seq += 1;
        let _ = self.tx.send(Msg::Slot(Slot { seq, body }));
    }

    fn ready(&mut self, b: Bytes) -> Next {
        self.push(Body::Ready(b));
        Next::Go
    }

    fn err(&mut self, text: &str) -> Next {
        self.ready(error_reply(text))
    }

    fn encode(&mut self, args: &[Bytes]) -> Bytes {
        encode_request(args, &mut self.enc);
        self.enc.split().freeze()
    }

    /// Waits until at most `limit` replies are owed; false when the
    /// writer is gone.
    async fn wait_owed(&mut self, limit: u64) -> bool {
        while self.seq.saturating_sub(*self.done.borrow()) > limit {
            if self.done.changed().await.is_err() {
                return false;
            }
        }
        true
    }

    async fn handle(&mut self, args: Vec<Bytes>) -> Next {
        self.shared
            .counters
            .commands
            .fetch_add(1, Ordering::Relaxed);
        let spec = command::lookup(&args);
        if !self.authed
            && !matches!(
                spec.kind,
                Kind::Local(Local::Auth) | Kind::Local(Local::Hello) | Kind::Local(Local::Quit)
            )
        {
            return self.err("NOAUTH Authentication required.");
        }
        if !self.wait_owed(MAX_INFLIGHT).await {
            return Next::Stop;
        }
        match spec.kind {
            Kind::Local(l) => self.local(l, &args),
            Kind::Unsupported(why) => {
                let name = String::from_utf8_lossy(&args[0]).to_lowercase();
                self.err(&format!(
                    "ERR redis-proxy: '{name}' is not supported: {why}"
                ))
            }
            _ if self.pinned.is_some() || spec.kind == Kind::Pinned => {
                self.pinned_send(&args, spec).await
            }
            _ => self.route(&args, spec),
        }
    }

    fn remote(&mut self, parts: Vec<Part>, merge: Merge, readonly: bool) -> Next {
        let seq = self.seq;
        let jobs: Vec<(Job, Target)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    Job {
                        bytes: p.bytes.clone(),
                        asking: false,
                        tag: Tag {
                            seq,
                            part: i as u32,
                        },
                        sink: self.tx.clone(),
                    },
                    p.target.clone(),
                )
            })
            .collect();
        self.push(Body::Remote(Remote {
            parts,
            merge,
            proto: self.proto,
            deadline: Instant::now() + self.shared.hold(),
            redirects: 0,
            readonly,
        }));
        let resp3 = self.proto == Protocol::Resp3;
        for (job, target) in jobs {
            self.shared.dispatch(job, &target, resp3, self.id);
        }
        Next::Go
    }

    /// Routes an ordinary command (not pinned).
    fn route(&mut self, args: &[Bytes], spec: command::Spec) -> Next {
        if self.shared.cfg.mode != Mode::Cluster {
            let target = if spec.readonly {
                Target::Read
            } else {
                Target::Primary
            };
            let bytes = self.encode(args);
            return self.remote(
                vec![Part::new(bytes, target, None)],
                Merge::One,
                spec.readonly,
            );
        }
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        command::key_indexes(spec.keys, args, &mut keys);
        let next = self.route_cluster(args, spec, &keys);
        self.keys = keys;
        next
    }

    fn route_cluster(&mut self, args: &[Bytes], spec: command::Spec, keys: &[usize]) -> Next {
        if let Kind::FanOut(f) = spec.kind {
            return self.fan_out(args, f, spec.readonly);
        }
        let slots: Vec<u16> = keys
            .iter()
            .filter_map(|&i| args.get(i))
            .map(|k| command::slot(k))
            .collect();
        let first = slots.first().copied();
        let same = slots.iter().all(|s| Some(*s) == first);
        match (spec.kind, first) {
            (_, None) => {
                let bytes = self.encode(args);
                self.remote(
                    vec![Part::new(bytes, Target::Primary, None)],
                    Merge::One,
                    spec.readonly,
                )
            }
            (_, Some(s)) if same => {
                let bytes = self.encode(args);
                self.remote(
                    vec![Part::new(bytes, Target::Slot(s), Some(s))],
                    Merge::One,
                    spec.readonly,
                )
            }
            (Kind::Split(split), Some(_)) => self.split(args, split, keys, &slots, spec.readonly),
            _ => self.err("CROSSSLOT Keys in request don't hash to the same slot"),
        }
    }

    /// One part per slot, keys in their original order within each part.
    fn split(
        &mut self,
        args: &[Bytes],
        split: Split,
        keys: &[usize],
        slots: &[u16],
        readonly: bool,
    ) -> Next {
        let mut order: Vec<u16> = Vec::new();
        for s in slots {
            if !order.contains(s) {
                order.push(*s);
            }
        }
        let mut parts = Vec::with_capacity(order.len());
        let mut positions = Vec::with_capacity(order.len());
        for s in &order {
            let mut sub: Vec<Bytes> = vec![args[0].clone()];
            let mut pos = Vec::new();
            for (n, (&k, ks)) in keys.iter().zip(slots).enumerate() {
                if ks != s {
                    continue;
                }
                pos.push(n);
                if let Some(key) = args.get(k) {
                    sub.push(key.clone());
                }
                if split == Split::Mset {
                    if let Some(v) = args.get(k + 1) {
                        sub.push(v.clone());
                    }
                }
            }
            let bytes = self.encode(&sub);
            parts.push(Part::new(bytes, Target::Slot(*s), Some(*s)));
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
        self.remote(parts, how, readonly)
    }

    fn fan_out(&mut self, args: &[Bytes], f: FanOut, readonly: bool) -> Next {
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
            let bytes = self.encode(&sub);
            return self.remote(
                vec![Part::new(bytes, Target::Node(addr.clone()), None)],
                Merge::Scan { node, nodes: n },
                readonly,
            );
        }
        let bytes = self.encode(args);
        let parts = nodes
            .into_iter()
            .map(|a| Part::new(bytes.clone(), Target::Node(a), None))
            .collect();
        let how = if f == FanOut::Sum {
            Merge::Sum
        } else {
            Merge::FanOut(f)
        };
        self.remote(parts, how, readonly)
    }

    /// Transactions and blocking commands: on the client's own connection.
    async fn pinned_send(&mut self, args: &[Bytes], spec: command::Spec) -> Next {
        if self.pinned.as_ref().is_some_and(|p| !p.is_alive()) {
            self.pinned = None;
        }
        if self.pinned.is_none() {
            // Everything sent before must be answered first, so the
            // dedicated connection cannot overtake the shared one.
            if !self.wait_owed(0).await {
                return Next::Stop;
            }
            let target = if self.shared.cfg.mode == Mode::Cluster {
                let mut keys = Vec::new();
                command::key_indexes(spec.keys, args, &mut keys);
                let slots: Vec<u16> = keys
                    .iter()
                    .filter_map(|&i| args.get(i))
                    .map(|k| command::slot(k))
                    .collect();
                match slots.first() {
                    None => {
                        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
                        return self.err(&format!(
                            "ERR redis-proxy: '{name}' needs a key first in cluster mode (WATCH a key before MULTI)"
                        ));
                    }
                    Some(s) if slots.iter().any(|x| x != s) => {
                        return self.err("CROSSSLOT Keys in request don't hash to the same slot")
                    }
                    Some(s) => Target::Slot(*s),
                }
            } else {
                Target::Primary
            };
            match self.shared.resolve(&target) {
                Ok((addr, require)) => {
                    let resp3 = self.proto == Protocol::Resp3;
                    self.pinned = Some(self.shared.pool.dedicated(&addr, resp3, require));
                }
                Err(e) => return self.err(&format!("ERR redis-proxy: no backend available ({e})")),
            }
        }
        let Some(conn) = self.pinned.clone() else {
            return self.err("ERR redis-proxy: no backend connection");
        };
        let bytes = self.encode(args);
        let mut part = Part::new(bytes.clone(), Target::Primary, None);
        part.pinned = true;
        let seq = self.seq;
        self.push(Body::Remote(Remote {
            parts: vec![part],
            merge: Merge::One,
            proto: self.proto,
            deadline: Instant::now(),
            redirects: 0,
            readonly: false,
        }));
        let job = Job {
            bytes,
            asking: false,
            tag: Tag { seq, part: 0 },
            sink: self.tx.clone(),
        };
        if let Err(job) = conn.send(job) {
            job.fail(Fail::NotSent("dedicated connection closed".into()));
        }
        Next::Go
    }

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

    fn local(&mut self, l: Local, args: &[Bytes]) -> Next {
        match l {
            Local::Ping => match args.len() {
                1 => self.ready(Bytes::from_static(b"+PONG\r\n")),
                2 => self.frame(Frame::Bulk(args[1].clone())),
                _ => self.arity("ping"),
            },
            Local::Echo => match args.get(1) {
                Some(a) if args.len() == 2 => self.frame(Frame::Bulk(a.clone())),
                _ => self.arity("echo"),
            },
            Local::Quit => {
                self.ready(Bytes::from_static(b"+OK\r\n"));
                self.push(Body::Close);
                Next::Stop
            }
            Local::Select => match args.get(1).map(|a| {
                std::str::from_utf8(a)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
            }) {
                _ if args.len() != 2 => self.arity("select"),
                Some(Some(0)) => self.ready(Bytes::from_static(b"+OK\r\n")),
                Some(Some(_)) => {
                    self.err("ERR redis-proxy: only database 0 is available through the proxy")
                }
                _ => self.err("ERR value is not an integer or out of range"),
            },
            Local::Auth => {
                let (user, pass) = match args {
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
            Local::Hello => self.hello(args),
            Local::Client => self.client(args),
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
            // A dedicated connection speaks the old protocol.
            if let Some(p) = self.pinned.take() {
                p.kill();
            }
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

struct Writer {
    shared: Arc<Shared>,
    id: u64,
    sink: Sink,
    slots: VecDeque<Slot>,
    /// Sequence number of `slots[0]`.
    base: u64,
    /// Held requests: when to send again, slot, part.
    retries: Vec<(Instant, u64, u32)>,
    out: BytesMut,
}

/// The writer must stop at once (the client is gone).
struct Abort;

impl Writer {
    async fn run(
        mut self,
        mut wr: OwnedWriteHalf,
        mut rx: mpsc::UnboundedReceiver<Msg>,
        done: watch::Sender<u64>,
    ) {
        loop {
            let next_retry = self.retries.iter().map(|r| r.0).min();
            let mut end = None;
            tokio::select! {
                // Cancel-safe: `recv` loses nothing; the timer is re-armed.
                m = rx.recv() => match m {
                    Some(m) => end = self.on_msg(m),
                    None => return,
                },
                _ = sleep_until(next_retry), if next_retry.is_some() => self.run_retries(),
            }
            for _ in 0..1024 {
                if end.is_some() {
                    break;
                }
                match rx.try_recv() {
                    Ok(m) => end = self.on_msg(m),
                    Err(_) => break,
                }
            }
            if end.is_some() {
                return;
            }
            let closing = self.collect();
            if !self.out.is_empty() {
                if wr.write_all(&self.out).await.is_err() {
                    return;
                }
                self.out.clear();
                if self.out.capacity() > 64 * 1024 {
                    self.out = BytesMut::new();
                }
            }
            done.send_replace(self.base);
            if closing {
                let _ = wr.shutdown().await;
                return;
            }
        }
    }

    fn on_msg(&mut self, m: Msg) -> Option<Abort> {
        match m {
            Msg::Slot(Slot {
                body: Body::Abort, ..
            }) => Some(Abort),
            Msg::Slot(s) => {
                // Slots arrive in sequence from the one reader; anything
                // else would misorder replies, so end the connection.
                if s.seq != self.base + self.slots.len() as u64 {
                    return Some(Abort);
                }
                self.slots.push_back(s);
                None
            }
            Msg::Delivery(d) => {
                self.on_delivery(d);
                None
            }
        }
    }

    /// Moves the ready slots at the front into the output; true when a
    /// close was reached.
    fn collect(&mut self) -> bool {
        while let Some(front) = self.slots.front_mut() {
            match &mut front.body {
                Body::Ready(b) => self.out.extend_from_slice(b),
                Body::Remote(r) if r.parts.iter().all(|p| p.reply.is_some()) => {
                    let replies: Vec<Bytes> =
                        r.parts.iter_mut().filter_map(|p| p.reply.take()).collect();
                    let b = merge(&r.merge, replies, r.proto);
                    self.out.extend_from_slice(&b);
                }
                Body::Close => return true,
                _ => return false,
            }
            self.slots.pop_front();
            self.base += 1;
        }
        false
    }

    fn on_delivery(&mut self, d: Delivery) {
        let shared = self.shared.clone();
        let Some(idx) = d.tag.seq.checked_sub(self.base) else {
            return;
        };
        let Some(Slot {
            body: Body::Remote(r),
            ..
        }) = self.slots.get_mut(idx as usize)
        else {
            return;
        };
        let now = Instant::now();
        let max_redirects = shared.cfg.max_redirects;
        let readonly = r.readonly;
        let deadline = r.deadline;
        let Some(part) = r.parts.get_mut(d.tag.part as usize) else {
            return;
        };
        match d.result {
            Ok(reply) => {
                if !part.pinned && shared.cfg.mode == Mode::Cluster {
                    if let Some(text) = error_text(&reply) {
                        if let Some((ask, slot, addr)) = crate::cluster::parse_redirect(text) {
                            if r.redirects < max_redirects {
                                r.redirects += 1;
                                shared.counters.redirects.fetch_add(1, Ordering::Relaxed);
                                if !ask {
                                    if let Some(c) = &shared.cluster {
                                        c.moved(slot, &addr);
                                    }
                                }
                                part.target = Target::Node(addr);
                                part.asking = ask;
                                self.send_part(d.tag);
                                return;
                            }
                        } else if (text.starts_with(b"TRYAGAIN")
                            || text.starts_with(b"CLUSTERDOWN"))
                            && now < deadline
                        {
                            if let Some(s) = part.slot {
                                part.target = Target::Slot(s);
                            }
                            part.asking = false;
                            self.retries
                                .push((now + RETRY_DELAY * 4, d.tag.seq, d.tag.part));
                            return;
                        }
                    }
                }
                part.reply = Some(reply);
            }
            Err(f) => {
                // The deployment may have changed: look again now.
                if let Some(c) = &shared.cluster {
                    c.wake();
                }
                if let Some(s) = &shared.sentinel {
                    s.wake();
                }
                let retryable = matches!(f, Fail::NotSent(_)) || readonly;
                if retryable && !part.pinned && now < deadline {
                    shared.counters.held.fetch_add(1, Ordering::Relaxed);
                    if let Some(s) = part.slot {
                        part.target = Target::Slot(s);
                    }
                    part.asking = false;
                    self.retries
                        .push((now + RETRY_DELAY, d.tag.seq, d.tag.part));
                    return;
                }
                let text = match f {
                    Fail::NotSent(why) => format!("ERR redis-proxy: no backend available ({why})"),
                    Fail::Lost(why) => format!(
                        "ERR redis-proxy: connection to the backend lost before the reply ({why})"
                    ),
                };
                part.reply = Some(error_reply(&text));
            }
        }
    }

    /// Sends a part (again) to where its target resolves now.
    fn send_part(&mut self, tag: Tag) {
        let Some(idx) = tag.seq.checked_sub(self.base) else {
            return;
        };
        let Some(Slot {
            body: Body::Remote(r),
            ..
        }) = self.slots.get(idx as usize)
        else {
            return;
        };
        let Some(part) = r.parts.get(tag.part as usize) else {
            return;
        };
        let job = Job {
            bytes: part.bytes.clone(),
            asking: part.asking,
            tag,
            sink: self.sink.clone(),
        };
        let resp3 = r.proto == Protocol::Resp3;
        let target = part.target.clone();
        self.shared.dispatch(job, &target, resp3, self.id);
    }

    fn run_retries(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.retries.drain(..).partition(|r| r.0 <= now);
        self.retries = later;
        for (_, seq, part) in due {
            self.send_part(Tag { seq, part });
        }
    }
}

/// Sleeps until `t` (forever for `None`; the branch is disabled then).
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending::<()>().await,
    }
}
