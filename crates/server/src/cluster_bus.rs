//! The cluster bus I/O of `redis-server` in cluster mode: the listener on
//! the bus port, one task per link (reading frames, writing the queued
//! ones), the connects the state machine asks for, and its 100 ms cron.
//! Every decision is the engine's (`redis_engine::cluster`): this module
//! only moves bytes, hands decoded messages to the state machine under the
//! server lock, and reports links that connect or end.
//!
//! Send queues are bounded by `cluster-link-sendbuf-limit` (checked in the
//! cron like upstream's, and also as each frame is queued, so one burst
//! cannot grow a queue without bound); a link over the limit is freed and
//! counted (`total_cluster_links_buffer_limit_exceeded`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis_cluster::bus::{self, BusError};
use redis_cluster::state::LinkId;
use redis_engine::cluster::{BusOp, LinkBuffer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{now_ms, Shared};

/// The largest message accepted on a link (a PUBLISH of two maximal bulk
/// strings and then some); a peer announcing more is dropped.
const MAX_FRAME: usize = 1 << 30;

/// One live link as the driver knows it.
struct LinkIo {
    /// Frames to write (the writer half drains it).
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued, not written yet.
    queued: Arc<AtomicUsize>,
    /// Messages received.
    events: Arc<AtomicU64>,
    /// Ends the link's task.
    stop: CancellationToken,
}

/// The links, shared by the driver and the link tasks.
#[derive(Default)]
struct Links {
    map: Mutex<HashMap<LinkId, LinkIo>>,
}

impl Links {
    /// Removes a link; `true` if it was there (the state machine did not
    /// close it itself).
    fn remove(&self, link: LinkId) -> bool {
        let io = self.map.lock().ok().and_then(|mut m| m.remove(&link));
        match io {
            Some(io) => {
                io.stop.cancel();
                true
            }
            None => false,
        }
    }
}

/// Binds the bus listeners (the `bind` addresses, on the bus port); the
/// error is upstream's log line (the server then exits).
pub fn bind(addrs: &[String], port: u16) -> Result<Vec<std::net::TcpListener>, String> {
    let mut out = Vec::new();
    let addrs: Vec<String> = if addrs.is_empty() {
        vec!["*".to_owned(), "-::*".to_owned()]
    } else {
        addrs.to_vec()
    };
    for a in &addrs {
        let optional = a.starts_with('-');
        let host = a.trim_start_matches('-');
        let ip = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let sa: SocketAddr = match format!("{ip}:{port}")
            .parse()
            .or_else(|_| format!("[{ip}]:{port}").parse())
        {
            Ok(sa) => sa,
            Err(_) => {
                return Err(format!(
                    "Could not create server TCP listening socket {host}:{port}: Invalid argument"
                ));
            }
        };
        match listen(sa) {
            Ok(l) => out.push(l),
            Err(e) if optional => {
                let _ = e;
            }
            Err(e) => {
                return Err(format!(
                    "Could not create server TCP listening socket {host}:{port}: {}",
                    redis_common::os::strerror(&e)
                ));
            }
        }
    }
    Ok(out)
}

fn listen(sa: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let domain = socket2::Domain::for_address(sa);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    if sa.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&sa.into())?;
    s.listen(511)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Runs the bus until shutdown: accepts on `listeners`, executes the bus
/// work the engine queues, and runs the cluster cron every 100 ms.
pub async fn run(shared: Arc<Shared>, listeners: Vec<std::net::TcpListener>) {
    let Some(wake) = shared
        .state
        .lock()
        .ok()
        .and_then(|s| s.cluster.as_ref().map(|c| c.bus_wake.clone()))
    else {
        return;
    };
    let links = Arc::new(Links::default());
    let tracker = TaskTracker::new();
    let next_inbound = Arc::new(AtomicU64::new(1));
    for l in listeners {
        let Ok(l) = TcpListener::from_std(l) else {
            continue;
        };
        tracker.spawn(accept_loop(
            shared.clone(),
            links.clone(),
            l,
            next_inbound.clone(),
            tracker.clone(),
        ));
    }
    let mut cron = tokio::time::interval(Duration::from_millis(100));
    cron.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = cron.tick() => {
                let now = now_ms();
                if let Some(mut st) = shared.lock_unless_busy() {
                    st.cluster_tick(now);
                    enforce_limits(&mut st, &links, now);
                    publish_buffers(&mut st, &links);
                }
            }
        }
        run_ops(&shared, &links, &tracker);
    }
    if let Ok(m) = links.map.lock() {
        for io in m.values() {
            io.stop.cancel();
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await;
}

/// Executes the queued bus work until none is left.
fn run_ops(shared: &Arc<Shared>, links: &Arc<Links>, tracker: &TaskTracker) {
    for _ in 0..64 {
        let (ops, limit) = match shared.lock_unless_busy() {
            Some(mut st) => {
                let limit = st.config.get_u64("cluster-link-sendbuf-limit") as usize;
                (st.cluster_take_bus_ops(), limit)
            }
            None => return,
        };
        if ops.is_empty() {
            return;
        }
        let mut over = Vec::new();
        for op in ops {
            match op {
                BusOp::Connect { link, ip, cport } => {
                    let (io, rx) = new_link();
                    let stop = io.stop.clone();
                    let (queued, events) = (io.queued.clone(), io.events.clone());
                    if let Ok(mut m) = links.map.lock() {
                        m.insert(link, io);
                    }
                    let timeout = shared
                        .state
                        .lock()
                        .map(|s| s.config.get_u64("cluster-node-timeout").max(1000))
                        .unwrap_or(15000);
                    tracker.spawn(connect(
                        shared.clone(),
                        links.clone(),
                        link,
                        ip,
                        cport,
                        Duration::from_millis(timeout),
                        Pipe {
                            rx,
                            queued,
                            events,
                            stop,
                        },
                    ));
                }
                BusOp::Send { link, frame } => {
                    let Ok(m) = links.map.lock() else { continue };
                    if let Some(io) = m.get(&link) {
                        let len = frame.len();
                        let now_queued = io.queued.fetch_add(len, Ordering::Relaxed) + len;
                        let _ = io.tx.send(frame);
                        if limit > 0 && now_queued > limit {
                            over.push(link);
                        }
                    }
                }
                BusOp::Close { link } => {
                    links.remove(link);
                }
            }
        }
        if !over.is_empty() {
            if let Some(mut st) = shared.lock_unless_busy() {
                let now = now_ms();
                for link in over {
                    free_over_limit(&mut st, links, link, now);
                }
            }
        }
    }
}

/// A link freed for its send buffer: counted, forgotten, reconnected by
/// the state machine later.
fn free_over_limit(st: &mut redis_engine::State, links: &Links, link: LinkId, now: i64) {
    let used = links
        .map
        .lock()
        .ok()
        .and_then(|m| m.get(&link).map(|io| io.queued.load(Ordering::Relaxed)))
        .unwrap_or(0);
    if !links.remove(link) {
        return;
    }
    let Some(c) = st.cluster.as_mut() else {
        return;
    };
    c.buffer_limit_exceeded += 1;
    c.link_buffers.remove(&link);
    let node = c.core.link_node(link);
    let actions = c.core.on_link_closed(link, now.max(0) as u64);
    if let Some(node) = node {
        st.log_warning(&format!(
            "Freeing cluster link({} node {}, used memory: {used}) due to exceeding send buffer memory limit.",
            if link.is_outbound() { "to" } else { "from" },
            node
        ));
    }
    st.cluster_apply(actions, now);
}

/// The cron's check of every link's send queue.
fn enforce_limits(st: &mut redis_engine::State, links: &Links, now: i64) {
    let limit = st.config.get_u64("cluster-link-sendbuf-limit") as usize;
    if limit == 0 {
        return;
    }
    let over: Vec<LinkId> = match links.map.lock() {
        Ok(m) => m
            .iter()
            .filter(|(_, io)| io.queued.load(Ordering::Relaxed) > limit)
            .map(|(l, _)| *l)
            .collect(),
        Err(_) => return,
    };
    for link in over {
        free_over_limit(st, links, link, now);
    }
}

/// Copies the links' queue figures into the state (`CLUSTER LINKS`).
fn publish_buffers(st: &mut redis_engine::State, links: &Links) {
    let Some(c) = st.cluster.as_mut() else {
        return;
    };
    let Ok(m) = links.map.lock() else {
        return;
    };
    c.link_buffers = m
        .iter()
        .map(|(l, io)| {
            let used = io.queued.load(Ordering::Relaxed);
            (
                *l,
                LinkBuffer {
                    used,
                    allocated: used,
                    events: io.events.load(Ordering::Relaxed),
                },
            )
        })
        .collect();
}

/// The receiving end of a link's queue, and its counters.
struct Pipe {
    rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
    events: Arc<AtomicU64>,
    stop: CancellationToken,
}

fn new_link() -> (LinkIo, mpsc::UnboundedReceiver<Bytes>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        LinkIo {
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            events: Arc::new(AtomicU64::new(0)),
            stop: CancellationToken::new(),
        },
        rx,
    )
}

async fn accept_loop(
    shared: Arc<Shared>,
    links: Arc<Links>,
    listener: TcpListener,
    next: Arc<AtomicU64>,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let link = LinkId(next.fetch_add(1, Ordering::Relaxed) & !LinkId::OUTBOUND_BIT);
        let (io, rx) = new_link();
        let pipe = Pipe {
            rx,
            queued: io.queued.clone(),
            events: io.events.clone(),
            stop: io.stop.clone(),
        };
        if let Ok(mut m) = links.map.lock() {
            m.insert(link, io);
        }
        if let Some(mut st) = shared.lock_unless_busy() {
            let now = now_ms().max(0) as u64;
            if let Some(c) = st.cluster.as_mut() {
                c.core
                    .on_inbound_link(link, &unmapped(peer.ip()), &local, now);
            }
        }
        tracker.spawn(serve_link(
            shared.clone(),
            links.clone(),
            link,
            stream,
            pipe,
        ));
    }
}

/// An IPv4 peer on an IPv6 socket shows as `::ffff:a.b.c.d`; nodes know it
/// as `a.b.c.d`.
fn unmapped(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

async fn connect(
    shared: Arc<Shared>,
    links: Arc<Links>,
    link: LinkId,
    ip: String,
    cport: u16,
    timeout: Duration,
    pipe: Pipe,
) {
    let addr = match ip.parse::<std::net::IpAddr>() {
        Ok(a) => SocketAddr::new(a, cport),
        Err(_) => {
            closed(&shared, &links, link);
            return;
        }
    };
    let stream = tokio::select! {
        _ = pipe.stop.cancelled() => return,
        r = tokio::time::timeout(timeout, TcpStream::connect(addr)) => r,
    };
    match stream {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            if let Some(mut st) = shared.lock_unless_busy() {
                let now = now_ms();
                if let Some(core) = st.cluster_core() {
                    let actions = core.on_link_connected(link, now.max(0) as u64);
                    st.cluster_apply(actions, now);
                }
            }
            serve_link(shared, links, link, stream, pipe).await;
        }
        _ => closed(&shared, &links, link),
    }
}

/// A link ended on its own (error, EOF, failed connect): the state
/// machine hears of it unless it closed the link itself.
fn closed(shared: &Shared, links: &Links, link: LinkId) {
    if !links.remove(link) {
        return;
    }
    if let Some(mut st) = shared.lock_unless_busy() {
        let now = now_ms();
        if let Some(c) = st.cluster.as_mut() {
            c.link_buffers.remove(&link);
            let actions = c.core.on_link_closed(link, now.max(0) as u64);
            st.cluster_apply(actions, now);
        }
    }
}

async fn serve_link(
    shared: Arc<Shared>,
    links: Arc<Links>,
    link: LinkId,
    stream: TcpStream,
    pipe: Pipe,
) {
    let (mut rd, mut wr) = stream.into_split();
    let Pipe {
        mut rx,
        queued,
        events,
        stop,
    } = pipe;
    let writer = async {
        while let Some(frame) = rx.recv().await {
            let len = frame.len();
            if wr.write_all(&frame).await.is_err() {
                return;
            }
            queued.fetch_sub(len.min(queued.load(Ordering::Relaxed)), Ordering::Relaxed);
        }
    };
    let reader = async {
        let mut buf = BytesMut::with_capacity(bus::HEADER_LEN);
        loop {
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            loop {
                let total = match bus::frame_len(&buf) {
                    Ok(Some(n)) if n > MAX_FRAME => return,
                    Ok(Some(n)) if buf.len() >= n => n,
                    Ok(Some(n)) => {
                        buf.reserve(n - buf.len());
                        break;
                    }
                    Ok(None) => break,
                    Err(_) => return,
                };
                let frame = buf.split_to(total);
                events.fetch_add(1, Ordering::Relaxed);
                match bus::decode(&frame) {
                    Ok(msg) => {
                        if let Some(mut st) = shared.lock_unless_busy() {
                            let now = now_ms();
                            if let Some(core) = st.cluster_core() {
                                let actions = core.on_packet(link, msg, now.max(0) as u64);
                                st.cluster_apply(actions, now);
                            }
                        }
                    }
                    Err(e) => {
                        if drop_link(&e) {
                            return;
                        }
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = stop.cancelled() => return,
        _ = writer => {}
        _ = reader => {}
    }
    closed(&shared, &links, link);
}

fn drop_link(e: &BusError) -> bool {
    e.closes_link()
}
