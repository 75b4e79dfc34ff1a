//! One task per monitored instance: its command link (and, for masters
//! and replicas, its Pub/Sub link on the hello channel), as upstream's
//! `instanceLink`.
//!
//! The task connects, authenticates (`auth-pass` / `auth-user` of the
//! master, or `sentinel-user` / `sentinel-pass` towards other sentinels),
//! names its connections `sentinel-<id>-cmd` / `-pubsub`, then sends what
//! the driver asks ([`LinkCmd`]) and reports replies in order
//! ([`Report`]). Commands go through the master's `rename-command` map.
//! The task ends, reporting [`ReportKind::Disconnected`], when a link
//! fails, when an outstanding PING is older than half `down-after` on a
//! link older than the reconnect period, or when the Pub/Sub link has
//! been silent for three hello periods; the state machine then asks for a
//! new connection.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use redis_client::{Client, Frame, FrameReader, FrameWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::config::Addr;
use crate::hello::{Hello, HELLO_CHANNEL};
use crate::state::{InstanceId, InstanceKind};

/// Most commands waiting for a reply on one link before periodic ones
/// are skipped (upstream's `SENTINEL_MAX_PENDING_COMMANDS`).
const MAX_PENDING: usize = 100;
/// How often the task checks its timers.
const CHECK_PERIOD: Duration = Duration::from_millis(100);

/// A request from the driver.
#[derive(Debug)]
pub enum LinkCmd {
    /// `PING`.
    Ping,
    /// `INFO`.
    Info,
    /// `PUBLISH __sentinel__:hello <payload>`.
    Hello(Hello),
    /// `SENTINEL is-master-down-by-addr <ip> <port> <epoch> <runid>`.
    AskIsMasterDown {
        /// The master's address.
        addr: Addr,
        /// Our current epoch.
        epoch: u64,
        /// Our id when asking for a vote, `*` otherwise.
        run_id: String,
    },
    /// The promotion (`None`) or reconfiguration transaction:
    /// `MULTI`, `SLAVEOF`, `CONFIG REWRITE`, two `CLIENT KILL`, `EXEC`.
    ReplicaOf(Option<Addr>),
    /// `SCRIPT KILL`.
    ScriptKill,
    /// `CLIENT PAUSE <ms> WRITE` then `INFO replication`, reported as
    /// [`ReportKind::MasterOffset`] (a user-requested failover waits for
    /// the chosen replica to reach that offset).
    PauseWrites {
        /// Pause length.
        ms: u64,
    },
    /// `CLIENT UNPAUSE`.
    Unpause,
    /// `INFO replication`, reported as [`ReportKind::ReplicaOffset`].
    QueryOffset,
    /// Close the links and end the task without reporting.
    Close,
}

/// What a link task tells the driver.
#[derive(Debug)]
pub struct Report {
    /// The instance.
    pub id: InstanceId,
    /// The task's generation (see [`super::core::LinkHandle`]).
    pub gen: u64,
    /// What happened.
    pub what: ReportKind,
}

/// The events of a link.
#[derive(Debug)]
pub enum ReportKind {
    /// Links up (a PING is due at once).
    Connected,
    /// A link failed or timed out.
    Disconnected,
    /// A PING reply: the status or error text.
    Pong(String),
    /// An INFO reply's text.
    Info(String),
    /// A message on the hello channel.
    Hello(String),
    /// `master_repl_offset` once writes are paused (`None`: unreadable).
    MasterOffset(Option<u64>),
    /// `slave_repl_offset` of a replica (`None`: unreadable).
    ReplicaOffset(Option<u64>),
    /// A well-formed `is-master-down-by-addr` reply.
    IsMasterDown {
        /// The peer sees the master down.
        down: bool,
        /// Its vote (`*` for none).
        leader: String,
        /// The vote's epoch.
        epoch: u64,
    },
}

/// Everything a link task needs.
#[derive(Debug, Clone)]
pub struct LinkParams {
    /// The instance.
    pub id: InstanceId,
    /// The task's generation.
    pub gen: u64,
    /// Its kind (sentinels get no Pub/Sub link).
    pub kind: InstanceKind,
    /// Where to connect.
    pub addr: Addr,
    /// `(user, password)` to authenticate with.
    pub auth: Option<(Option<String>, String)>,
    /// `rename-command` pairs of the master (original, renamed).
    pub renames: Vec<(String, String)>,
    /// `sentinel-<first 8 of myid>`; `-cmd` / `-pubsub` is appended.
    pub client_name: String,
    /// The master's `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// A link younger than this is never dropped for slow replies
    /// (`SENTINEL DEBUG min-link-reconnect-period`).
    pub min_reconnect_ms: u64,
    /// Silence on the Pub/Sub link that drops it: three hello periods (our
    /// own hello comes back on it every period).
    pub pubsub_silence_ms: u64,
    /// Where to report.
    pub reports: UnboundedSender<Report>,
}

/// Starts the task; returns where to send it requests.
pub fn spawn(p: LinkParams) -> UnboundedSender<LinkCmd> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(p, rx));
    tx
}

/// What a reply on the command link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ignore,
    Pong,
    Info,
    Ask,
    MasterOffset,
    ReplicaOffset,
}

async fn run(p: LinkParams, mut rx: UnboundedReceiver<LinkCmd>) {
    let report = |what| {
        let _ = p.reports.send(Report {
            id: p.id,
            gen: p.gen,
            what,
        });
    };
    match serve(&p, &mut rx, &report).await {
        End::Closed => {}
        End::Failed => report(ReportKind::Disconnected),
    }
}

enum End {
    /// The driver closed the link.
    Closed,
    /// The link failed.
    Failed,
}

/// A connected link: the writer, and the reader's frames on a channel.
struct Conn {
    w: FrameWriter,
    frames: mpsc::Receiver<Frame>,
    reader: tokio::task::JoinHandle<()>,
    local_ip: String,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn open(p: &LinkParams) -> Option<Conn> {
    let timeout = Duration::from_millis((p.down_after_ms / 2).clamp(1000, 15_000));
    let host = p.addr.host.trim_start_matches('[').trim_end_matches(']');
    let connect = TcpStream::connect((host, p.addr.port));
    let stream = tokio::time::timeout(timeout, connect).await.ok()?.ok()?;
    let _ = stream.set_nodelay(true);
    let local_ip = stream.local_addr().ok()?.ip().to_string();
    let (r, w) = Client::from_stream(stream).into_split();
    let (tx, frames) = mpsc::channel(256);
    let reader = tokio::spawn(read_frames(r, tx));
    Some(Conn {
        w,
        frames,
        reader,
        local_ip,
    })
}

async fn read_frames(mut r: FrameReader, tx: mpsc::Sender<Frame>) {
    while let Ok(f) = r.read_frame().await {
        if tx.send(f).await.is_err() {
            return;
        }
    }
}

/// The command name after `rename-command`.
fn map_cmd<'a>(p: &'a LinkParams, name: &'a str) -> &'a str {
    p.renames
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(name))
        .map_or(name, |(_, to)| to.as_str())
}

/// Queues a request whose first word goes through the rename map.
fn queue(p: &LinkParams, w: &mut FrameWriter, args: &[&str]) {
    let mut v: Vec<Bytes> = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let word = if i == 0 { map_cmd(p, a) } else { a };
        v.push(Bytes::copy_from_slice(word.as_bytes()));
    }
    w.queue(&v);
}

/// AUTH (when configured) and CLIENT SETNAME; returns how many replies
/// to ignore.
fn handshake(p: &LinkParams, w: &mut FrameWriter, suffix: &str) -> usize {
    let mut n = 0;
    if let Some((user, pass)) = &p.auth {
        match user {
            Some(u) => queue(p, w, &["AUTH", u, pass]),
            None => queue(p, w, &["AUTH", pass]),
        }
        n += 1;
    }
    let name = format!("{}-{suffix}", p.client_name);
    queue(p, w, &["CLIENT", "SETNAME", &name]);
    n + 1
}

async fn serve(
    p: &LinkParams,
    rx: &mut UnboundedReceiver<LinkCmd>,
    report: &impl Fn(ReportKind),
) -> End {
    let Some(mut cmd) = open(p).await else {
        return End::Failed;
    };
    let mut pending: VecDeque<(Expect, Option<Instant>)> = VecDeque::new();
    for _ in 0..handshake(p, &mut cmd.w, "cmd") {
        pending.push_back((Expect::Ignore, None));
    }
    if cmd.w.flush().await.is_err() {
        return End::Failed;
    }
    let mut pubsub = None;
    if p.kind != InstanceKind::Sentinel {
        let Some(mut ps) = open(p).await else {
            return End::Failed;
        };
        handshake(p, &mut ps.w, "pubsub");
        queue(p, &mut ps.w, &["SUBSCRIBE", HELLO_CHANNEL]);
        if ps.w.flush().await.is_err() {
            return End::Failed;
        }
        pubsub = Some(ps);
    }
    let connected_at = Instant::now();
    let mut pubsub_activity = Instant::now();
    let ping_limit = Duration::from_millis(p.down_after_ms / 2);
    let min_reconnect = Duration::from_millis(p.min_reconnect_ms);
    let pubsub_silence = Duration::from_millis(p.pubsub_silence_ms);
    report(ReportKind::Connected);
    let mut check = tokio::time::interval(CHECK_PERIOD);
    loop {
        tokio::select! {
            req = rx.recv() => {
                let Some(req) = req else { return End::Closed };
                if matches!(req, LinkCmd::Close) {
                    return End::Closed;
                }
                send(p, &mut cmd, &mut pending, req);
                if cmd.w.flush().await.is_err() {
                    return End::Failed;
                }
            }
            f = cmd.frames.recv() => {
                let Some(f) = f else { return End::Failed };
                let Some((expect, _)) = pending.pop_front() else { continue };
                if let Some(what) = interpret(expect, f) {
                    report(what);
                }
            }
            f = async {
                match pubsub.as_mut() {
                    Some(ps) => ps.frames.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(f) = f else { return End::Failed };
                pubsub_activity = Instant::now();
                if let Some(payload) = hello_message(f) {
                    report(ReportKind::Hello(payload));
                }
            }
            _ = check.tick() => {
                let now = Instant::now();
                if pubsub.is_some() && now.duration_since(pubsub_activity) > pubsub_silence {
                    return End::Failed;
                }
                let oldest_ping = pending
                    .iter()
                    .find(|(e, _)| *e == Expect::Pong)
                    .and_then(|(_, t)| *t);
                if let Some(t) = oldest_ping {
                    if now.duration_since(connected_at) > min_reconnect
                        && now.duration_since(t) > ping_limit
                    {
                        return End::Failed;
                    }
                }
            }
        }
    }
}

/// Queues the request for `req` and what its replies mean.
fn send(
    p: &LinkParams,
    cmd: &mut Conn,
    pending: &mut VecDeque<(Expect, Option<Instant>)>,
    req: LinkCmd,
) {
    let periodic = matches!(req, LinkCmd::Ping | LinkCmd::Info | LinkCmd::Hello(_));
    if periodic && pending.len() >= MAX_PENDING {
        return;
    }
    let w = &mut cmd.w;
    match req {
        LinkCmd::Ping => {
            queue(p, w, &["PING"]);
            pending.push_back((Expect::Pong, Some(Instant::now())));
        }
        LinkCmd::Info => {
            queue(p, w, &["INFO"]);
            pending.push_back((Expect::Info, None));
        }
        LinkCmd::Hello(h) => {
            let payload = h.payload(&cmd.local_ip);
            queue(p, w, &["PUBLISH", HELLO_CHANNEL, &payload]);
            pending.push_back((Expect::Ignore, None));
        }
        LinkCmd::AskIsMasterDown {
            addr,
            epoch,
            run_id,
        } => {
            let port = addr.port.to_string();
            let epoch = epoch.to_string();
            let args = [
                "SENTINEL",
                "is-master-down-by-addr",
                &addr.host,
                &port,
                &epoch,
                &run_id,
            ];
            queue(p, w, &args);
            pending.push_back((Expect::Ask, None));
        }
        LinkCmd::ReplicaOf(target) => {
            queue(p, w, &["MULTI"]);
            match &target {
                None => queue(p, w, &["SLAVEOF", "NO", "ONE"]),
                Some(a) => queue(p, w, &["SLAVEOF", &a.host, &a.port.to_string()]),
            }
            queue(p, w, &["CONFIG", "REWRITE"]);
            queue(p, w, &["CLIENT", "KILL", "TYPE", "normal"]);
            queue(p, w, &["CLIENT", "KILL", "TYPE", "pubsub"]);
            queue(p, w, &["EXEC"]);
            for _ in 0..6 {
                pending.push_back((Expect::Ignore, None));
            }
        }
        LinkCmd::ScriptKill => {
            queue(p, w, &["SCRIPT", "KILL"]);
            pending.push_back((Expect::Ignore, None));
        }
        LinkCmd::PauseWrites { ms } => {
            queue(p, w, &["CLIENT", "PAUSE", &ms.to_string(), "WRITE"]);
            queue(p, w, &["INFO", "replication"]);
            pending.push_back((Expect::Ignore, None));
            pending.push_back((Expect::MasterOffset, None));
        }
        LinkCmd::Unpause => {
            queue(p, w, &["CLIENT", "UNPAUSE"]);
            pending.push_back((Expect::Ignore, None));
        }
        LinkCmd::QueryOffset => {
            queue(p, w, &["INFO", "replication"]);
            pending.push_back((Expect::ReplicaOffset, None));
        }
        LinkCmd::Close => {}
    }
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What a reply means for the state machine, if anything.
fn interpret(expect: Expect, f: Frame) -> Option<ReportKind> {
    match (expect, f) {
        (Expect::Ignore, _) => None,
        (Expect::Pong, Frame::Simple(s) | Frame::Error(s)) => Some(ReportKind::Pong(text(&s))),
        (Expect::Pong, _) => Some(ReportKind::Pong(String::new())),
        (Expect::Info, Frame::Bulk(b) | Frame::Verbatim { text: b, .. }) => {
            Some(ReportKind::Info(text(&b)))
        }
        (Expect::Info, _) => None,
        (Expect::Ask, Frame::Array(items)) => match items.as_slice() {
            [Frame::Integer(d), Frame::Bulk(leader), Frame::Integer(e)] => {
                Some(ReportKind::IsMasterDown {
                    down: *d == 1,
                    leader: text(leader),
                    epoch: u64::try_from(*e).unwrap_or(0),
                })
            }
            _ => None,
        },
        (Expect::Ask, _) => None,
        (Expect::MasterOffset, f) => Some(ReportKind::MasterOffset(info_field(
            &f,
            "master_repl_offset",
        ))),
        (Expect::ReplicaOffset, f) => Some(ReportKind::ReplicaOffset(info_field(
            &f,
            "slave_repl_offset",
        ))),
    }
}

/// A numeric field of an INFO reply.
fn info_field(f: &Frame, name: &str) -> Option<u64> {
    let text = match f {
        Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => String::from_utf8_lossy(b),
        _ => return None,
    };
    text.lines().find_map(|l| {
        let (k, v) = l.trim_end_matches('\r').split_once(':')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

/// The payload of a `message` on the hello channel.
fn hello_message(f: Frame) -> Option<String> {
    let items = match f {
        Frame::Array(v) | Frame::Push(v) => v,
        _ => return None,
    };
    match items.as_slice() {
        [Frame::Bulk(kind), Frame::Bulk(channel), Frame::Bulk(payload)]
            if kind.as_ref() == b"message" && channel.as_ref() == HELLO_CHANNEL.as_bytes() =>
        {
            Some(text(payload))
        }
        _ => None,
    }
}
