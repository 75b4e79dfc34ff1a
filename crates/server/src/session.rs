//! The server's side of `redis-net`'s connection loop: admission
//! (maxclients, protected mode) and one client's session, which runs its
//! parsed requests through the engine's dispatcher under the server lock.
//!
//! The loop calls [`Session::settings`], [`Session::blocked`] and
//! [`Session::close_after_reply`] on the request path, so the session keeps
//! copies refreshed whenever it holds the lock anyway (after a batch, a
//! push, a block timeout); they never take the lock themselves.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redis_engine::client::{Client, ClientInfo};
use redis_engine::dispatch::{Called, Caller};
use redis_engine::script::{Access, LdbMode};
use redis_engine::State;
use redis_net::{
    Blocked, CloseReason, ConnSettings, ConnSignal, DurableWait, Flow, IoDelta, OutputLimit, Peer,
    Service, Session,
};
use redis_resp::Protocol;

use crate::{log, now_ms, Shared};

use redis_net::PROTECTED_MODE_ERROR;

/// Admits clients of the server.
pub struct ServerService {
    shared: Arc<Shared>,
}

impl ServerService {
    /// A service over the shared server state.
    pub fn new(shared: Arc<Shared>) -> ServerService {
        ServerService { shared }
    }
}

impl Service for ServerService {
    type Session = ClientSession;

    fn open(&self, peer: &Peer, signal: Arc<ConnSignal>) -> Result<ClientSession, Bytes> {
        let now = now_ms();
        let shared = Arc::clone(&self.shared);
        let peer = peer.clone();
        // While a script is busy the admission is handed to it (upstream
        // accepts connections then too).
        let admitted = self.shared.watch.with_state(&self.shared.state, move |st| {
            // Checked under the lock the shutdown takes to kill every
            // client.
            if shared.shutdown.is_cancelled() {
                return Err(Bytes::new());
            }
            let id = admit(st, &peer, &signal, now).map_err(Bytes::from_static)?;
            let mut client = Client::new(id, signal, peer.is_local);
            // Like upstream, a client starts authenticated when the
            // default user needs no password at connection time.
            client.authenticated = !st.acl_auth_required();
            let settings = settings_of(st, &client);
            Ok((client, settings))
        });
        let (client, settings) = admitted.unwrap_or_else(|| Err(Bytes::new()))?;
        self.shared.connected.fetch_add(1, Ordering::Relaxed);
        Ok(ClientSession {
            shared: self.shared.clone(),
            client,
            settings,
            blocked: None,
            durable: None,
            broadcast: None,
            offload: None,
            console: None,
        })
    }

    fn tcp_keepalive(&self) -> Option<Duration> {
        let secs = self
            .shared
            .lock_unless_busy()
            .map_or(300, |s| s.cached.tcp_keepalive);
        (secs > 0).then(|| Duration::from_secs(secs))
    }

    fn accept_error(&self, err: &std::io::Error) {
        log::warning(&format!("Accepting client connection: {err}"));
    }
}

/// Admission checks of upstream's accept handler: max clients, protected mode.
fn admit(
    st: &mut State,
    peer: &Peer,
    signal: &Arc<ConnSignal>,
    now: i64,
) -> Result<u64, &'static [u8]> {
    if st.clients.len() as u64 >= st.cached.maxclients {
        st.stats.rejected_connections += 1;
        return Err(b"-ERR max number of clients reached\r\n");
    }
    if st.cached.protected_mode && st.acl.users.default_user().nopass() && !peer.is_local {
        st.stats.rejected_connections += 1;
        return Err(PROTECTED_MODE_ERROR.as_bytes());
    }
    let info = ClientInfo::new(
        peer.addr.clone(),
        peer.laddr.clone(),
        peer.fd,
        peer.is_unix,
        signal.clone(),
        now,
    );
    Ok(st.add_client(info))
}

/// The limits the connection loop enforces for `client` now.
fn settings_of(st: &State, client: &Client) -> ConnSettings {
    let c = &st.cached;
    let pubsub = client.sub_count() + client.ssubs.len() > 0;
    // Upstream's client classes for client-output-buffer-limit: replicas
    // (not monitors), pub/sub clients, everyone else.
    let class = if client.is_replica_link {
        1
    } else if pubsub {
        2
    } else {
        0
    };
    let l = c.obuf_limits[class];
    // `timeout` spares replicas, the primary's link, pub/sub clients and
    // monitors (upstream's clientsCronHandleTimeout); a blocked client is
    // never idle (the loop knows).
    let exempt = client.is_monitor || client.is_replica_link || client.is_master || pubsub;
    ConnSettings {
        max_bulk_len: c.proto_max_bulk_len.max(0) as usize,
        query_buffer_limit: c.client_query_buffer_limit.max(0) as usize,
        idle_timeout: (c.timeout_secs > 0 && !exempt).then(|| Duration::from_secs(c.timeout_secs)),
        output_limit: OutputLimit {
            hard: if class == 1 {
                c.replica_hard_limit
            } else {
                l.hard
            },
            soft: l.soft,
            soft_for: Duration::from_secs(l.soft_seconds),
        },
        auth_required: st.acl_auth_required() && !client.authenticated,
    }
}

/// One client connection's session.
pub struct ClientSession {
    shared: Arc<Shared>,
    client: Client,
    settings: ConnSettings,
    blocked: Option<Blocked>,
    /// `appendfsync always`: the write sequence the replies wait for.
    durable: Option<(redis_aof::AofHandle, u64)>,
    /// The deferred broadcast of the batch's invalidations, which the
    /// replies wait for too.
    broadcast: Option<redis_engine::tracking::FlushTicket>,
    /// A script command running on a thread of its own.
    offload: Option<Offload>,
    /// The loop's end of the console of an offloaded `EVAL` under the Lua
    /// debugger.
    console: Option<redis_net::Console>,
}

/// A request run on a blocking thread (a script that may turn out busy):
/// the result, and the signal that it is there.
struct Offload {
    result: Arc<std::sync::Mutex<Option<Finished>>>,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// What an offloaded (or handed-over) batch gives back.
struct Finished {
    client: Client,
    pending: VecDeque<Vec<Bytes>>,
    out: BytesMut,
    end: BatchEnd,
    cached: Cached,
    shutdown: bool,
}

/// What a session caches for the loop, computed under the lock:
/// settings, the blocked state, and the durability wait.
type Cached = (
    ConnSettings,
    Option<Blocked>,
    Option<(redis_aof::AofHandle, u64)>,
);

fn cached(st: &State, client: &Client) -> Cached {
    let blocked = client.blocked.as_ref().map(|b| match b.deadline {
        None => Blocked::Forever,
        Some(d) => {
            let left = (d - now_ms()).max(0) as u64;
            Blocked::Until(Instant::now() + Duration::from_millis(left))
        }
    });
    // appendfsync always: the replies produced now go out only once the
    // writes before them are on disk.
    let durable = st
        .aof_wait_seq()
        .and_then(|seq| st.aof_handle().map(|h| (h, seq)));
    (settings_of(st, client), blocked, durable)
}

impl Session for ClientSession {
    fn settings(&self) -> ConnSettings {
        self.settings
    }

    fn execute(
        &mut self,
        pending: &mut VecDeque<Vec<Bytes>>,
        out: &mut BytesMut,
        io: IoDelta,
    ) -> Flow {
        if let Some(off) = self.offload.take() {
            let finished = match off.result.lock() {
                Ok(mut r) => r.take(),
                Err(_) => None,
            };
            let Some(f) = finished else {
                // The thread went away without a result: nothing sane to
                // reply; close.
                return Flow::Stop;
            };
            match self.take_finished(f, pending, out) {
                Some(flow) => return flow,
                None if pending.is_empty() && io.is_empty() => return Flow::Continue,
                None => {}
            }
        }
        let shared = Arc::clone(&self.shared);
        let mut st = match shared.watch.access(&shared.state) {
            Access::Locked(st) => st,
            // Blocked as upstream blocks everyone during a debugging
            // session, without holding this thread (which may be the one
            // relaying the debugger's console).
            Access::Busy if shared.watch.debugging() => {
                // (The traffic counters of these few retries are lost.)
                return Flow::RetryAfter(Duration::from_millis(5));
            }
            Access::Busy => return self.execute_while_busy(pending, out, io),
            Access::Poisoned => return Flow::Stop,
        };
        count_io(&mut st, &self.client, io);
        let qbuf = (io.batch_bytes + io.query_buffer, io.query_buffer);
        let mut end = run_batch(&mut st, &mut self.client, pending, out, qbuf, true);
        if st.shutdown.is_some() {
            // The main task runs the shutdown; no reply.
            return Flow::Stop;
        }
        (self.settings, self.blocked, self.durable) = cached(&st, &self.client);
        self.broadcast = end.broadcast.take();
        drop(st);
        if end.offload {
            return self.offload(pending);
        }
        flow_of(&end)
    }

    fn offload_console(&mut self) -> Option<redis_net::Console> {
        self.console.take()
    }

    fn offload_wait(&mut self) -> Option<DurableWait> {
        let rx = self.offload.as_mut()?.done.take()?;
        Some(Box::pin(async move {
            let _ = rx.await;
        }))
    }

    fn blocked(&self) -> Option<Blocked> {
        self.blocked
    }

    fn close_after_reply(&self) -> bool {
        self.client.close_after_reply
    }

    fn on_push(&mut self) {
        // While a script is busy nobody is served: refreshed after it.
        let Some(st) = self.shared.lock_unless_busy() else {
            return;
        };
        if self.client.blocked.is_some() && !st.blocking.waiters.contains_key(&self.client.id) {
            // Served: the registry no longer lists us.
            self.client.blocked = None;
        }
        (self.settings, self.blocked, self.durable) = cached(&st, &self.client);
    }

    fn on_block_timeout(&mut self, out: &mut BytesMut) {
        let Some(mut st) = self.shared.lock() else {
            return;
        };
        if let Some(reply) = st.timeout_blocked(self.client.id) {
            out.extend_from_slice(&reply);
        }
        self.client.blocked = None;
        (self.settings, self.blocked, self.durable) = cached(&st, &self.client);
    }

    fn durable_wait(&mut self) -> Option<DurableWait> {
        match (self.durable.take(), self.broadcast.take()) {
            (None, None) => None,
            (Some((aof, seq)), None) => Some(Box::pin(wait_durable(aof, seq))),
            (durable, Some((mut rx, seen))) => Some(Box::pin(async move {
                if let Some((aof, seq)) = durable {
                    wait_durable(aof, seq).await;
                }
                // Ends when the flusher sent it (or the server is gone).
                let _ = rx.wait_for(|n| *n > seen).await;
            })),
        }
    }

    fn closed(self, reason: CloseReason) {
        let id = self.client.id;
        match reason {
            CloseReason::OutputBufferLimit { .. } => log::warning(&format!(
                "Client id={id} scheduled to be closed ASAP for overcoming of output buffer limits."
            )),
            CloseReason::QueryBufferLimit { head, .. } => log::warning(&format!(
                "Closing client that reached max query buffer length: id={id} (qbuf initial bytes: {:?})",
                String::from_utf8_lossy(&head)
            )),
            CloseReason::IdleTimeout => log::verbose("Closing idle client"),
            CloseReason::Protocol(e) => log::verbose(&format!(
                "Protocol error ({}) from client: id={id}",
                e.0
            )),
            _ => {}
        }
        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
        let client = self.client;
        let _ = self
            .shared
            .watch
            .with_state(&self.shared.state, move |st| st.forget_client(&client));
    }
}

/// How a batch ended.
#[derive(Debug, Default)]
struct BatchEnd {
    /// `CLIENT PAUSE` postponed a request (back at the front of
    /// `pending`): the milliseconds to wait.
    paused: Option<u64>,
    /// The request at the front of `pending` is a script to run on a
    /// thread of its own.
    offload: bool,
    /// The replies wait for the deferred broadcast of the batch's
    /// invalidations.
    broadcast: Option<redis_engine::tracking::FlushTicket>,
}

/// Executes the pending requests under the lock (stopping after a command
/// that closes, blocks or shuts down, and — when `may_offload` — before a
/// script that is not known to be quick) and refreshes the shared client
/// info.
fn run_batch(
    st: &mut State,
    client: &mut Client,
    pending: &mut VecDeque<Vec<Bytes>>,
    out: &mut BytesMut,
    qbuf: (usize, usize),
    may_offload: bool,
) -> BatchEnd {
    let now = now_ms();
    // While the batch runs the query buffer still holds it (CLIENT LIST
    // `qbuf` of the client asking counts its own command, as upstream's);
    // afterwards only what is left unparsed.
    if let Some(info) = st.clients.get_mut(&client.id) {
        info.qbuf = qbuf.0;
    }
    // A read that brought no complete command may still have grown the
    // query buffer past the client limit: evicted at once, as upstream
    // evicts after each read.
    if pending.is_empty() && st.cached.maxmemory_clients > 0 && st.evict_clients(Some(client.id)) {
        client.close_after_reply = true;
        return BatchEnd::default();
    }
    st.begin_batch();
    st.aof_begin_batch();
    let mut last: Option<&'static str> = None;
    let mut paused = None;
    let mut offload = false;
    while let Some(argv) = pending.pop_front() {
        if may_offload
            && client.multi.is_none()
            && (st.scripting.should_offload(&argv) || debugged_eval(client, &argv))
        {
            pending.push_front(argv);
            offload = true;
            break;
        }
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
    // Broadcast invalidations gathered meanwhile (upstream: before sleep),
    // sent with those of other connections' batches.
    let broadcast = st.tracking_broadcast_soon((client.id, &mut *out));
    let resp = if client.proto == Protocol::Resp3 {
        3
    } else {
        2
    };
    let multi = client.multi.as_ref().map_or(-1, |q| q.queue.len() as i64);
    let multi_mem = client.multi.as_ref().map_or(0, |q| q.bytes);
    if let Some(info) = st.clients.get_mut(&client.id) {
        info.db = client.db;
        info.resp = resp;
        info.multi = multi;
        info.multi_mem = multi_mem;
        info.watched = client.watched.len();
        info.qbuf = qbuf.1;
        info.last_interaction_ms = now;
        if let Some(n) = last {
            if info.last_cmd != n {
                info.last_cmd = n.to_string();
            }
        }
    }
    BatchEnd {
        paused,
        offload,
        broadcast,
    }
}

/// Runs `batch` on `st` for a client taken from its connection (an
/// offloaded command, or a batch handed to a busy script).
fn run_handed(
    st: &mut State,
    mut client: Client,
    mut batch: VecDeque<Vec<Bytes>>,
    qbuf: (usize, usize),
) -> Finished {
    let mut out = BytesMut::new();
    let end = run_batch(st, &mut client, &mut batch, &mut out, qbuf, false);
    Finished {
        cached: cached(st, &client),
        shutdown: st.shutdown.is_some(),
        client,
        pending: batch,
        out,
        end,
    }
}

/// An `EVAL` under the Lua debugger (`SCRIPT DEBUG SYNC`): it runs on a
/// thread of its own with a console to the client.
fn debugged_eval(client: &Client, argv: &[Bytes]) -> bool {
    client.ldb.is_some()
        && argv
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case(b"eval") || n.eq_ignore_ascii_case(b"eval_ro"))
}

/// The debugger's end of a console: what the client sends arrives on
/// `input`; `output` goes to the client.
#[derive(Debug)]
struct ChannelConsole {
    input: std::sync::mpsc::Receiver<Vec<u8>>,
    output: tokio::sync::mpsc::UnboundedSender<Bytes>,
}

impl redis_engine::script::LdbConsole for ChannelConsole {
    fn send(&mut self, bytes: &[u8]) {
        let _ = self.output.send(Bytes::copy_from_slice(bytes));
    }

    fn poll(&mut self, wait: Duration) -> redis_engine::script::LdbInput {
        use redis_engine::script::LdbInput;
        use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
        let first = if wait.is_zero() {
            match self.input.try_recv() {
                Ok(d) => d,
                Err(TryRecvError::Empty) => return LdbInput::Nothing,
                Err(TryRecvError::Disconnected) => return LdbInput::Closed,
            }
        } else {
            match self.input.recv_timeout(wait) {
                Ok(d) => d,
                Err(RecvTimeoutError::Timeout) => return LdbInput::Nothing,
                Err(RecvTimeoutError::Disconnected) => return LdbInput::Closed,
            }
        };
        let mut data = first;
        while let Ok(more) = self.input.try_recv() {
            data.extend_from_slice(&more);
        }
        LdbInput::Data(data)
    }
}

/// Adds a connection's traffic to the server counters.
fn count_io(st: &mut State, client: &Client, io: IoDelta) {
    st.stats.net_input_bytes += io.read_bytes;
    // What a replica link writes is replication traffic, counted apart as
    // upstream does.
    if client.is_replica_link {
        st.repl.net_output_bytes += io.written_bytes;
    } else {
        st.stats.net_output_bytes += io.written_bytes;
    }
    st.stats.total_reads += io.reads;
    st.stats.total_writes += io.writes;
}

/// What the loop does after a batch that was not offloaded.
fn flow_of(end: &BatchEnd) -> Flow {
    match end.paused {
        Some(ms) => Flow::RetryAfter(Duration::from_millis(ms)),
        None => Flow::Continue,
    }
}

impl ClientSession {
    /// Runs the script at the front of `pending` on a blocking thread,
    /// which announces itself before it takes the lock
    /// ([`redis_engine::script::ScriptWatch::lock_for_script`]): should the
    /// script turn out busy, this connection's thread stays free to serve
    /// the others.
    fn offload(&mut self, pending: &mut VecDeque<Vec<Bytes>>) -> Flow {
        let Some(argv) = pending.pop_front() else {
            return Flow::Continue;
        };
        let placeholder = Client::detached(self.client.id);
        let mut client = std::mem::replace(&mut self.client, placeholder);
        if debugged_eval(&client, &argv) {
            let (in_tx, in_rx) = std::sync::mpsc::channel();
            let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
            client.ldb_console = Some(Box::new(ChannelConsole {
                input: in_rx,
                output: out_tx,
            }));
            self.console = Some(redis_net::Console {
                input: in_tx,
                output: out_rx,
            });
        }
        let shared = Arc::clone(&self.shared);
        let result = Arc::new(std::sync::Mutex::new(None));
        let slot = Arc::clone(&result);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let forked = client.ldb == Some(LdbMode::Forked) && debugged_eval(&client, &argv);
        tokio::task::spawn_blocking(move || {
            let watch = Arc::clone(&shared.watch);
            let Some(mut st) = watch.lock_for_script(&shared.state) else {
                return;
            };
            let finished = if forked {
                // A session on a copy of the dataset: the server is
                // released as soon as the copy is made.
                let mut copy = redis_engine::script_fork::fork_for_debugging(&st, &client);
                drop(st);
                watch.retire();
                run_handed(&mut copy, client, VecDeque::from([argv]), (0, 0))
            } else {
                let finished = run_handed(&mut st, client, VecDeque::from([argv]), (0, 0));
                drop(st);
                watch.retire();
                finished
            };
            if let Ok(mut r) = slot.lock() {
                *r = Some(finished);
            }
            let _ = tx.send(());
        });
        self.offload = Some(Offload {
            result,
            done: Some(rx),
        });
        Flow::Offloaded
    }

    /// Takes back the client and the replies of an offloaded or handed-over
    /// batch. `Some(flow)` when the loop must not go on with `pending`.
    fn take_finished(
        &mut self,
        f: Finished,
        pending: &mut VecDeque<Vec<Bytes>>,
        out: &mut BytesMut,
    ) -> Option<Flow> {
        self.client = f.client;
        self.client.ldb_console = None;
        out.extend_from_slice(&f.out);
        for argv in f.pending.into_iter().rev() {
            pending.push_front(argv);
        }
        (self.settings, self.blocked, self.durable) = f.cached;
        if f.shutdown {
            return Some(Flow::Stop);
        }
        if f.end.paused.is_some() || self.client.close_after_reply || self.client.blocked.is_some()
        {
            return Some(flow_of(&f.end));
        }
        None
    }

    /// A script is busy: the batch is handed to it with the client, and
    /// served by its periodic hook (the dispatcher answers `-BUSY` to all
    /// but the commands allowed then).
    fn execute_while_busy(
        &mut self,
        pending: &mut VecDeque<Vec<Bytes>>,
        out: &mut BytesMut,
        io: IoDelta,
    ) -> Flow {
        let placeholder = Client::detached(self.client.id);
        let client = std::mem::replace(&mut self.client, placeholder);
        let batch = std::mem::take(pending);
        let qbuf = (io.batch_bytes + io.query_buffer, io.query_buffer);
        let done = self.shared.watch.with_state(&self.shared.state, move |st| {
            count_io(st, &client, io);
            run_handed(st, client, batch, qbuf)
        });
        let Some(f) = done else {
            return Flow::Stop;
        };
        let paused = f.end.paused;
        self.take_finished(f, pending, out).unwrap_or_else(|| {
            flow_of(&BatchEnd {
                paused,
                ..BatchEnd::default()
            })
        })
    }
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
async fn wait_durable(aof: redis_aof::AofHandle, seq: u64) {
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
