//! The contract between the network loop and a daemon: [`Service`] admits
//! connections, [`Session`] executes one client's requests.
//!
//! The loop owns sockets, buffers, parsing, timers and limits; the session
//! owns everything the requests mean. Both traits are used through generics
//! (one monomorphized loop per daemon), so no virtual call sits on the
//! request path; only the rare `appendfsync always` wait is a boxed future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redis_resp::ProtocolError;

use crate::mailbox::ConnSignal;

/// Upstream's refusal of a non-local client in protected mode, written
/// before the connection closes (both daemons use it).
pub const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Where a connection comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// `ip:port` of the client (IPv6 unbracketed, as CLIENT LIST prints
    /// it), or `path:0` for a Unix socket.
    pub addr: String,
    /// The local end, same format.
    pub laddr: String,
    /// Loopback or Unix socket (protected mode lets these in).
    pub is_local: bool,
    /// Accepted on the Unix socket.
    pub is_unix: bool,
    /// The descriptor number (CLIENT LIST `fd=`); -1 when there is none.
    pub fd: i64,
}

/// The daemon side of every connection; one per server, shared by all
/// connection tasks.
pub trait Service: Send + Sync + 'static {
    /// One client's state, owned by its connection task.
    type Session: Session;

    /// Admits a new connection or refuses it. `Err(bytes)` is written to
    /// the client before the connection closes (maxclients, protected
    /// mode); empty bytes close it silently (the server is shutting down).
    /// `signal` is how other tasks reach this connection; keep it where
    /// they can find it (client list) and drop it in [`Session::closed`].
    fn open(&self, peer: &Peer, signal: Arc<ConnSignal>) -> Result<Self::Session, Bytes>;

    /// `tcp-keepalive` for a newly accepted TCP connection; read at every
    /// accept so `CONFIG SET` applies to later connections.
    fn tcp_keepalive(&self) -> Option<Duration> {
        None
    }

    /// `accept(2)` failed (often: out of descriptors). The acceptor backs
    /// off briefly and retries; the service may log it.
    fn accept_error(&self, _err: &std::io::Error) {}
}

/// A boxed wait for durability (`appendfsync always`); see
/// [`Session::durable_wait`].
pub type DurableWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One client's side of the connection loop.
///
/// Call order: `settings`, then any number of `execute` / `on_push` /
/// `on_block_timeout` (each followed by `blocked`, `close_after_reply`,
/// `settings` and `durable_wait`), then `closed` exactly once.
pub trait Session: Send + 'static {
    /// Limits in force now. Read at the start and after every `execute`,
    /// `on_push` and `on_block_timeout`: it is on the request path, so
    /// return a copy kept up to date during those calls (which already
    /// hold whatever lock the engine needs) rather than take a lock here.
    fn settings(&self) -> ConnSettings;

    /// Runs what can run now from the front of `pending`, appending replies
    /// to `out`; stops early after a command that blocks or closes the
    /// connection (the rest stays in `pending` for later). `io` reports
    /// the traffic since the previous call (for INFO counters and
    /// CLIENT LIST); it is consumed whatever the result.
    ///
    /// Called once per batch of parsed requests, and also with an empty
    /// `pending` when only `io` has something to report.
    fn execute(
        &mut self,
        pending: &mut std::collections::VecDeque<Vec<Bytes>>,
        out: &mut BytesMut,
        io: IoDelta,
    ) -> Flow;

    /// `Some` while the client waits in a blocking command. The loop then
    /// neither parses nor executes; it keeps writing, reading (the input
    /// stays buffered) and receiving pushes, and calls `on_block_timeout`
    /// at the deadline.
    fn blocked(&self) -> Option<Blocked>;

    /// True once the connection must close after writing what it owes
    /// (QUIT, a replica that only wanted the RDB...). The rest of the
    /// pipeline is dropped.
    fn close_after_reply(&self) -> bool;

    /// Messages arrived in the mailbox and were appended to the output
    /// (e.g. the reply of a blocked client served by another one: the
    /// session clears its blocked state here).
    fn on_push(&mut self);

    /// The deadline reported by `blocked` passed: append the timeout reply
    /// and leave the blocked state (or the timer fires again at once).
    fn on_block_timeout(&mut self, out: &mut BytesMut);

    /// `appendfsync always`: a wait for the writes behind the replies
    /// produced by the last `execute` / `on_push`, which go out only after
    /// it. `None` (the usual case) when nothing needs to wait.
    fn durable_wait(&mut self) -> Option<DurableWait> {
        None
    }

    /// After [`Flow::Offloaded`]: resolves when the offloaded request is
    /// done. The loop neither reads nor writes meanwhile.
    fn offload_wait(&mut self) -> Option<DurableWait> {
        None
    }

    /// After [`Flow::Offloaded`]: a console the offloaded request talks to
    /// the client through while it runs (the Lua debugger of `SCRIPT DEBUG
    /// SYNC`). Asked once, before [`Session::offload_wait`].
    fn offload_console(&mut self) -> Option<Console> {
        None
    }

    /// The connection is gone; forget the client. The service logs the
    /// reason as it sees fit (this crate logs nothing).
    fn closed(self, reason: CloseReason);
}

/// The loop's end of an offloaded request's console: what the client
/// sends goes to `input` as read (dropped when the client goes away), and
/// what arrives on `output` is written to it, until the request is done.
#[derive(Debug)]
pub struct Console {
    pub input: std::sync::mpsc::Sender<Vec<u8>>,
    pub output: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
}

/// What the loop does after [`Session::execute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Carry on (some, all or none of `pending` ran).
    Continue,
    /// Nothing ran (CLIENT PAUSE): call `execute` again after this delay.
    /// Meanwhile the connection neither reads nor writes, as upstream does
    /// with paused clients; a kill still ends the wait.
    RetryAfter(Duration),
    /// The server is shutting down: close without writing anything more.
    Stop,
    /// A request was handed to another thread (a script that may run for
    /// long): await [`Session::offload_wait`], then call `execute` again,
    /// which collects its result and goes on with `pending`.
    Offloaded,
}

/// How long a blocked client waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// Until served, unblocked or killed.
    Forever,
    /// Until this instant, then [`Session::on_block_timeout`].
    Until(Instant),
}

/// The limits the loop enforces for one client, as the session sees them
/// now (they can change with CONFIG SET, AUTH or the client's class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnSettings {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// `client-query-buffer-limit`: unparsed input beyond this closes the
    /// connection; 0 for none.
    pub query_buffer_limit: usize,
    /// `timeout`: close after this long without traffic. `None` when off or
    /// when the client is exempt (monitors, replicas, pub/sub clients); a
    /// blocked client is never idle.
    pub idle_timeout: Option<Duration>,
    /// `client-output-buffer-limit` of this client's class (normal,
    /// replica, pubsub).
    pub output_limit: OutputLimit,
    /// Not authenticated yet while a password is required: the parser then
    /// applies upstream's unauthenticated limits, and requests are parsed
    /// one at a time so the ones after AUTH get the normal limits.
    pub auth_required: bool,
}

impl Default for ConnSettings {
    fn default() -> ConnSettings {
        ConnSettings {
            max_bulk_len: redis_resp::Limits::DEFAULT_MAX_BULK_LEN,
            query_buffer_limit: 1024 * 1024 * 1024,
            idle_timeout: None,
            output_limit: OutputLimit::default(),
            auth_required: false,
        }
    }
}

/// One class of `client-output-buffer-limit`; 0 disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Output owed beyond this closes the connection at once.
    pub hard: u64,
    /// Output owed beyond this for `soft_for` closes the connection.
    pub soft: u64,
    pub soft_for: Duration,
}

/// Traffic since the previous [`Session::execute`] call, and the input
/// buffered now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoDelta {
    /// Bytes read (INFO `total_net_input_bytes`).
    pub read_bytes: u64,
    /// Bytes written (INFO `total_net_output_bytes`).
    pub written_bytes: u64,
    /// Read calls that returned data (INFO `total_reads_processed`).
    pub reads: u64,
    /// Write calls that took data (INFO `total_writes_processed`).
    pub writes: u64,
    /// Input read but not parsed yet (CLIENT LIST `qbuf`); a snapshot, not
    /// a delta.
    pub query_buffer: usize,
    /// Bytes of the requests parsed since the previous call (the part of
    /// the query buffer this batch consumes: upstream's `qbuf` still
    /// counts it while the batch runs).
    pub batch_bytes: usize,
}

impl IoDelta {
    /// True when no traffic is reported.
    pub fn is_empty(&self) -> bool {
        self.read_bytes == 0 && self.written_bytes == 0
    }
}

/// Why a connection ended, with what upstream's log line needs (the
/// session adds its client id).
#[derive(Debug)]
pub enum CloseReason {
    /// The client closed its end.
    PeerClosed,
    /// A read or write failed.
    Io(std::io::Error),
    /// [`ConnSignal::kill`] (CLIENT KILL, shutdown).
    Killed,
    /// [`Flow::Stop`]: the server is shutting down.
    Shutdown,
    /// Closed after its replies were written, as asked by
    /// [`Session::close_after_reply`] or [`ConnSignal::close_after_flush`].
    AfterReply,
    /// `timeout`: upstream logs "Closing idle client".
    IdleTimeout,
    /// `client-output-buffer-limit`: upstream logs "Client ... scheduled to
    /// be closed ASAP for overcoming of output buffer limits."
    OutputBufferLimit {
        /// Bytes owed when the limit was found exceeded.
        used: usize,
        /// The hard limit (else the soft one, for too long).
        hard: bool,
    },
    /// `client-query-buffer-limit`: upstream logs "Closing client that
    /// reached max query buffer length: ... (qbuf initial bytes: ...)".
    QueryBufferLimit {
        /// Unparsed input buffered.
        len: usize,
        /// Its first 64 bytes.
        head: Bytes,
    },
    /// Malformed input: the owed replies and `-ERR <text>` were written.
    /// Upstream logs `Protocol error (<text>) from client: ...`.
    Protocol(ProtocolError),
}
