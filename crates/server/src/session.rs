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
        let Ok(mut st) = self.shared.state.lock() else {
            return Err(Bytes::new());
        };
        // Checked under the lock the shutdown takes to kill every client.
        if self.shared.shutdown.is_cancelled() {
            return Err(Bytes::new());
        }
        let id = admit(&mut st, peer, &signal, now).map_err(Bytes::from_static)?;
        let mut client = Client::new(id, signal, peer.is_local);
        // Like upstream, a client starts authenticated when the default
        // user needs no password at connection time.
        client.authenticated = st.cached.requirepass.is_none();
        let settings = settings_of(&st, &client);
        drop(st);
        self.shared.connected.fetch_add(1, Ordering::Relaxed);
        Ok(ClientSession {
            shared: self.shared.clone(),
            client,
            settings,
            blocked: None,
            durable: None,
        })
    }

    fn tcp_keepalive(&self) -> Option<Duration> {
        let secs = self
            .shared
            .state
            .lock()
            .map_or(0, |s| s.cached.tcp_keepalive);
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
    if st.cached.protected_mode && st.cached.requirepass.is_none() && !peer.is_local {
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
        auth_required: c.requirepass.is_some() && !client.authenticated,
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
        let Ok(mut st) = self.shared.state.lock() else {
            return Flow::Stop;
        };
        st.stats.net_input_bytes += io.read_bytes;
        // What a replica link writes is replication traffic, counted
        // apart as upstream does.
        if self.client.is_replica_link {
            st.repl.net_output_bytes += io.written_bytes;
        } else {
            st.stats.net_output_bytes += io.written_bytes;
        }
        st.stats.total_reads += io.reads;
        st.stats.total_writes += io.writes;
        let qbuf = (io.batch_bytes + io.query_buffer, io.query_buffer);
        let paused = run_batch(&mut st, &mut self.client, pending, out, qbuf);
        if st.shutdown.is_some() {
            // The main task runs the shutdown; no reply.
            return Flow::Stop;
        }
        (self.settings, self.blocked, self.durable) = cached(&st, &self.client);
        match paused {
            Some(ms) => Flow::RetryAfter(Duration::from_millis(ms)),
            None => Flow::Continue,
        }
    }

    fn blocked(&self) -> Option<Blocked> {
        self.blocked
    }

    fn close_after_reply(&self) -> bool {
        self.client.close_after_reply
    }

    fn on_push(&mut self) {
        let Ok(st) = self.shared.state.lock() else {
            return;
        };
        if self.client.blocked.is_some() && !st.blocking.waiters.contains_key(&self.client.id) {
            // Served: the registry no longer lists us.
            self.client.blocked = None;
        }
        (self.settings, self.blocked, self.durable) = cached(&st, &self.client);
    }

    fn on_block_timeout(&mut self, out: &mut BytesMut) {
        let Ok(mut st) = self.shared.state.lock() else {
            return;
        };
        if let Some(reply) = st.timeout_blocked(self.client.id) {
            out.extend_from_slice(&reply);
        }
        self.client.blocked = None;
        (self.settings, self.blocked, self.durable) = cached(&st, &self.client);
    }

    fn durable_wait(&mut self) -> Option<DurableWait> {
        let (aof, seq) = self.durable.take()?;
        Some(Box::pin(wait_durable(aof, seq)))
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
        if let Ok(mut st) = self.shared.state.lock() {
            st.forget_client(&self.client);
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
    qbuf: (usize, usize),
) -> Option<u64> {
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
        return None;
    }
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
