//! One client connection: read, parse every complete request, execute the
//! batch under one lock, write the replies in one go (pipelining).
//!
//! The loop waits on the socket, the client's push channel (MONITOR lines,
//! its kill signal, server shutdown) and the idle timeout. Every branch of the
//! `select!` is cancel-safe: `read_buf` loses no data when another branch
//! wins, and `recv`/`notified` only consume what they return.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use redis_engine::client::{Client, ClientInfo, ClientSignal};
use redis_engine::dispatch::{Called, Caller};
use redis_engine::State;
use redis_resp::{Limits, Protocol, RequestParser};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{log, now_ms, Shared};

const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Where a connection comes from.
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: String,
    pub laddr: String,
    pub is_local: bool,
    pub is_unix: bool,
    pub fd: i64,
}

/// Serves one connection until it closes, is killed, or the server stops.
pub async fn serve<S>(shared: Arc<Shared>, mut stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (push_tx, mut push_rx) = redis_engine::push::push_channel();
    let signal = Arc::new(ClientSignal::new(push_tx));
    let now = now_ms();
    let admitted = {
        let Ok(mut st) = shared.state.lock() else {
            return;
        };
        // Checked under the lock the shutdown takes to kill every client.
        if shared.shutdown.is_cancelled() {
            return;
        }
        // Like upstream, a client starts authenticated when the default
        // user needs no password at connection time.
        admit(&mut st, &peer, &signal, now).map(|id| (id, st.cached.requirepass.is_none()))
    };
    let (id, authenticated) = match admitted {
        Ok(v) => v,
        Err(msg) => {
            let _ = stream.write_all(msg.as_bytes()).await;
            return;
        }
    };
    let mut client = Client::new(id, signal.clone(), peer.is_local);
    client.authenticated = authenticated;
    shared.connected.fetch_add(1, Ordering::Relaxed);
    let reason = run_loop(&shared, &mut stream, &mut client, &mut push_rx).await;
    if let Some(r) = reason {
        if r.contains("output buffer limits") {
            log::warning(&r);
        } else {
            log::verbose(&r);
        }
    }
    shared.connected.fetch_sub(1, Ordering::Relaxed);
    if let Ok(mut st) = shared.state.lock() {
        st.forget_client(&client);
    }
}

/// Admission checks of upstream's accept handler: max clients, protected mode.
fn admit(
    st: &mut State,
    peer: &Peer,
    signal: &Arc<ClientSignal>,
    now: i64,
) -> Result<u64, &'static str> {
    if st.clients.len() as u64 >= st.cached.maxclients {
        st.stats.rejected_connections += 1;
        return Err("-ERR max number of clients reached\r\n");
    }
    if st.cached.protected_mode && st.cached.requirepass.is_none() && !peer.is_local {
        st.stats.rejected_connections += 1;
        return Err(PROTECTED_MODE_ERROR);
    }
    let info = ClientInfo {
        id: 0,
        addr: peer.addr.clone(),
        laddr: peer.laddr.clone(),
        fd: peer.fd,
        name: Bytes::new(),
        created_ms: now,
        last_interaction_ms: now,
        db: 0,
        multi: -1,
        last_cmd: "NULL".into(),
        user: "default".into(),
        resp: 2,
        is_monitor: false,
        no_evict: false,
        qbuf: 0,
        obl: 0,
        is_unix: peer.is_unix,
        sub: 0,
        psub: 0,
        ssub: 0,
        blocked: false,
        is_replica: false,
        signal: signal.clone(),
    };
    Ok(st.add_client(info))
}

/// Returns a verbose log line explaining why the connection ended, if any.
///
/// Reading and writing are concurrent: replies wait in `out` and go out as
/// the socket accepts them while new requests keep being read, so a client
/// that pipelines a huge batch before reading (`redis-cli --pipe`) never
/// deadlocks against us, as with upstream.
async fn run_loop<S>(
    shared: &Arc<Shared>,
    stream: &mut S,
    client: &mut Client,
    push_rx: &mut redis_engine::push::PushReceiver,
) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    // Buffers start small and grow with the traffic, so ten thousand idle
    // connections cost little (memory counts against `maxmemory`).
    let mut rbuf = BytesMut::with_capacity(4096);
    let mut out = BytesMut::new();
    let mut parser = RequestParser::default();
    // Parsed requests not executed yet: the tail of a batch behind a
    // blocking command waits here until the client is served.
    let mut pending: VecDeque<Vec<Bytes>> = VecDeque::new();
    let (mut limits, mut idle_timeout, mut qbuf_limit, needs_auth) = {
        let st = shared.state.lock().ok()?;
        (
            st.cached.proto_max_bulk_len,
            st.cached.timeout_secs,
            st.cached.client_query_buffer_limit,
            st.cached.requirepass.is_some(),
        )
    };
    parser.set_limits(Limits::new(limits.max(0) as usize));
    parser.set_auth_required(needs_auth);
    let mut read_bytes: u64 = 0;
    let mut written_bytes: u64 = 0;
    // Read and write calls that moved bytes (INFO total_*_processed).
    let (mut reads_done, mut writes_done): (u64, u64) = (0, 0);
    let mut proto_err: Option<redis_resp::ProtocolError> = None;
    let mut obuf_limits = shared.state.lock().ok()?.cached.obuf_limits;
    let mut soft_since: Option<std::time::Instant> = None;
    loop {
        if client.signal.is_killed() {
            return None;
        }
        // client-output-buffer-limit: replies and pushes a client does not
        // read accumulate in `out`; past the hard limit, or past the soft
        // limit for too long, the client is closed (as upstream).
        let class = if client.is_replica_link {
            1
        } else if client.sub_count() + client.ssubs.len() > 0 {
            2
        } else {
            0
        };
        if let Some(l) = obuf_limits.get(class) {
            let used = out.len() as u64;
            let over_hard = l.hard > 0 && used >= l.hard;
            let over_soft = l.soft > 0 && used >= l.soft;
            if !over_soft {
                soft_since = None;
            }
            let soft_expired = over_soft
                && soft_since
                    .get_or_insert_with(std::time::Instant::now)
                    .elapsed()
                    .as_secs()
                    >= l.soft_seconds;
            if over_hard || soft_expired {
                return Some(format!(
                    "Client id={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    client.id
                ));
            }
        }
        // 1. Execute what can run now.
        let mut durable_wait: Option<(redis_aof::AofHandle, u64)> = None;
        if client.blocked.is_none() && (!pending.is_empty() || read_bytes > 0 || written_bytes > 0)
        {
            // Bounded: a pause has a deadline; we re-check every 10 ms.
            loop {
                let pause_wait = {
                    let Ok(mut st) = shared.state.lock() else {
                        return None;
                    };
                    st.stats.net_input_bytes += std::mem::take(&mut read_bytes);
                    st.stats.net_output_bytes += std::mem::take(&mut written_bytes);
                    st.stats.total_reads += std::mem::take(&mut reads_done);
                    st.stats.total_writes += std::mem::take(&mut writes_done);
                    let paused = run_batch(&mut st, client, &mut pending, &mut out, rbuf.len());
                    // appendfsync always: these replies go out only
                    // once the writes before them are on disk.
                    if let Some(seq) = st.aof_wait_seq() {
                        durable_wait = st.aof_handle().map(|h| (h, seq));
                    }
                    limits = st.cached.proto_max_bulk_len;
                    obuf_limits = st.cached.obuf_limits;
                    idle_timeout = st.cached.timeout_secs;
                    qbuf_limit = st.cached.client_query_buffer_limit;
                    parser.set_limits(Limits::new(limits.max(0) as usize));
                    parser.set_auth_required(
                        st.cached.requirepass.is_some() && !client.authenticated,
                    );
                    if st.shutdown.is_some() {
                        // The main task runs the shutdown; no reply.
                        return None;
                    }
                    paused
                };
                let Some(ms) = pause_wait else { break };
                // CLIENT PAUSE holds the rest of the batch: replies of what
                // ran before it still go out while we wait.
                let sleep = tokio::time::sleep(Duration::from_millis(ms));
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        r = wr.write(&out), if !out.is_empty() => match r {
                            Ok(0) | Err(_) => return None,
                            Ok(n) => {
                                out.advance(n);
                                written_bytes += n as u64;
                                writes_done += 1;
                            }
                        },
                        _ = &mut sleep => break,
                    }
                }
            }
        }
        if let Some((aof, seq)) = durable_wait {
            wait_durable(&aof, seq).await;
        }
        // Reply at once when the socket takes it: one trip through
        // `select!` (and its waker registrations) less per request.
        if !out.is_empty() && pending.is_empty() && !client.close_after_reply {
            match write_now(&mut wr, &out) {
                Some(0) => return None,
                Some(n) => {
                    out.advance(n);
                    written_bytes += n as u64;
                    writes_done += 1;
                }
                None => {}
            }
        }
        // 2. Closing conditions: flush what is owed, then close.
        let finished = pending.is_empty() && client.blocked.is_none();
        if finished && proto_err.is_some() || client.close_after_reply {
            if let Some(e) = &proto_err {
                out.extend_from_slice(b"-ERR ");
                out.extend_from_slice(&e.reply_bytes());
                out.extend_from_slice(b"\r\n");
            }
            let _ = wr.write_all(&out).await;
            let _ = wr.flush().await;
            return proto_err
                .map(|e| format!("Protocol error ({}) from client: id={}", e.0, client.id));
        }
        if !pending.is_empty() && client.blocked.is_none() {
            // More requests are ready (the batch stopped early): run them
            // before waiting, but let the socket take what it can first.
            if !out.is_empty() {
                match wr.write(&out).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => {
                        out.advance(n);
                        written_bytes += n as u64;
                        writes_done += 1;
                    }
                }
            }
            continue;
        }
        // 3. Wait for the next event.
        // Timers exist only when they can fire: registering a far-away
        // sleep on every request was a measurable cost on the hot path.
        let idle = (idle_timeout > 0 && !client.is_monitor && client.blocked.is_none())
            .then(|| Duration::from_secs(idle_timeout));
        let block_wait = client.blocked.as_ref().map(|b| {
            b.deadline
                .map(|d| Duration::from_millis((d - now_ms()).max(0) as u64))
        });
        let idle_timer = async {
            match idle {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let block_timer = async {
            match block_wait {
                Some(Some(d)) => tokio::time::sleep(d).await,
                _ => std::future::pending().await,
            }
        };
        if rbuf.capacity() - rbuf.len() < 1024 {
            // Grow geometrically for pipelines; a big pending argument gets
            // its whole size at once.
            let hint = parser
                .reserve_hint()
                .max(rbuf.capacity())
                .clamp(4096, 64 * 1024 * 1024);
            rbuf.reserve(hint);
        }
        let mut got_input = false;
        // `biased`: no random branch order to draw per request. Writing
        // comes first so replies and pushes always drain; pushes before
        // reads so a client flooding requests still gets its messages.
        // Shutdown arrives as a kill through `push_rx` (see `crate::run`).
        tokio::select! {
            biased;
            r = wr.write(&out), if !out.is_empty() => match r {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    out.advance(n);
                    written_bytes += n as u64;
                    writes_done += 1;
                    if out.is_empty() && out.capacity() > 64 * 1024 {
                        // Keep big one-off reply buffers from pinning memory.
                        out = BytesMut::new();
                    }
                }
            },
            Some(msg) = push_rx.recv() => {
                // A kill request arrives as an empty push (see ClientSignal::kill).
                if client.signal.is_killed() {
                    return None;
                }
                out.extend_from_slice(&msg);
                while let Some(m) = push_rx.try_recv() {
                    out.extend_from_slice(&m);
                }
                if client.signal.close_requested() {
                    client.close_after_reply = true;
                }
                let durable_wait = {
                    let st = shared.state.lock().ok()?;
                    if client.blocked.is_some() && !st.blocking.waiters.contains_key(&client.id) {
                        // Served: the registry no longer lists us.
                        client.blocked = None;
                    }
                    st.aof_wait_seq().and_then(|seq| st.aof_handle().map(|h| (h, seq)))
                };
                // appendfsync always: what another client's writes produced
                // for us (a served BLPOP, the replication stream, messages)
                // goes out only once those writes are on disk, as upstream
                // sends every reply after its fsync.
                if let Some((aof, seq)) = durable_wait {
                    wait_durable(&aof, seq).await;
                }
            }
            r = rd.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    read_bytes += n as u64;
                    reads_done += 1;
                    got_input = true;
                }
            },
            _ = block_timer => {
                let mut st = shared.state.lock().ok()?;
                if let Some(reply) = st.timeout_blocked(client.id) {
                    out.extend_from_slice(&reply);
                }
                client.blocked = None;
            }
            _ = idle_timer => return Some("Closing idle client".into()),
        }
        // While blocked, input stays buffered: upstream does not read
        // further commands until the blocking one completes.
        if (got_input || client.blocked.is_none())
            && client.blocked.is_none()
            && proto_err.is_none()
        {
            loop {
                match parser.parse(&mut rbuf) {
                    Ok(Some(argv)) => pending.push_back(argv),
                    Ok(None) => break,
                    Err(e) => {
                        proto_err = Some(e);
                        break;
                    }
                }
            }
        }
        if qbuf_limit > 0 && rbuf.len() as i64 > qbuf_limit {
            log::warning(&format!(
                "Closing client that reached max query buffer length: id={} (qbuf initial bytes: {:?})",
                client.id,
                String::from_utf8_lossy(&rbuf[..rbuf.len().min(64)])
            ));
            return None;
        }
    }
}

/// Executes the pending requests under the lock (stopping after a command
/// that closes, blocks or shuts down) and refreshes the shared client info.
/// Returns the milliseconds to wait when `CLIENT PAUSE` postponed a
/// request (it is back at the front of `pending`).
fn run_batch(
    st: &mut State,
    client: &mut Client,
    pending: &mut VecDeque<Vec<Bytes>>,
    out: &mut BytesMut,
    qbuf: usize,
) -> Option<u64> {
    let now = now_ms();
    st.begin_batch();
    st.aof_begin_batch();
    let mut last: Option<&'static str> = None;
    let mut paused = None;
    while let Some(argv) = pending.pop_front() {
        match st.call(Caller::Client, client, argv, out, now) {
            Called::Done(name) => last = name.or(last),
            Called::Postponed(argv) => {
                pending.push_front(argv);
                let deadline = st.pause.map_or(now, |(d, _)| d);
                paused = Some((deadline - now).clamp(1, 10) as u64);
                break;
            }
        }
        if client.close_after_reply || st.shutdown.is_some() || client.blocked.is_some() {
            break;
        }
    }
    // The batch's AOF data goes out with one write before any reply.
    st.aof_end_batch();
    let resp = if client.proto == Protocol::Resp3 {
        3
    } else {
        2
    };
    let multi = client.multi.as_ref().map_or(-1, |q| q.queue.len() as i64);
    if let Some(info) = st.clients.get_mut(&client.id) {
        info.db = client.db;
        info.resp = resp;
        info.multi = multi;
        info.qbuf = qbuf;
        info.last_interaction_ms = now;
        if let Some(n) = last {
            if info.last_cmd != n {
                info.last_cmd = n.to_string();
            }
        }
    }
    paused
}

/// `appendfsync always`: returns once the batch's writes are on disk.
///
/// Group commit as upstream's event loop does it: yielding first lets
/// every other ready connection run its batch (and the I/O driver find
/// more), then one commit on this thread writes and fsyncs all of them;
/// the others find their data durable when they resume. If another round
/// is already writing, wait for it instead. A write error also releases
/// the wait; the error shows in INFO (`aof_last_write_status`) as with
/// upstream's MISCONF path.
async fn wait_durable(aof: &redis_aof::AofHandle, seq: u64) {
    tokio::task::yield_now().await;
    if aof.commit(seq) == redis_aof::Commit::Pending {
        let (tx, rx) = tokio::sync::oneshot::channel();
        aof.on_durable(
            seq,
            Box::new(move |_| {
                let _ = tx.send(());
            }),
        );
        let _ = rx.await;
    }
}

/// One non-blocking attempt to write `buf`: `Some(n)` if the socket took
/// `n` bytes (0: closed), `None` if it would block or failed; the regular
/// write in `select!` then retries (and reports the error).
fn write_now<W: AsyncWrite + Unpin>(wr: &mut W, buf: &[u8]) -> Option<usize> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(wr).poll_write(&mut cx, buf) {
        std::task::Poll::Ready(Ok(n)) => Some(n),
        _ => None,
    }
}
