//! Per-connection state: what the connection task owns ([`Client`]) and what
//! other clients may see or act upon through the server state ([`ClientInfo`],
//! [`ConnSignal`], from `redis-net`).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use redis_resp::Protocol;

pub use redis_net::ConnSignal;

/// How replies are sent (`CLIENT REPLY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set while the command after `CLIENT REPLY SKIP` runs.
    SkipThis,
}

/// A transaction being queued (upstream `multiState`).
#[derive(Debug, Default)]
pub struct MultiState {
    /// The queued commands, in order.
    pub queue: Vec<Vec<Bytes>>,
    /// Union of the queued commands' flag bits: `EXEC` is checked as a
    /// write if any of them writes, and so on.
    pub flags: u32,
    /// Union of the bits the queued commands lack (for the checks that
    /// refuse a command *without* a flag: `stale`, `loading`).
    pub inv_flags: u32,
    /// A queued command is `MAY_REPLICATE` (see the dispatcher).
    pub may_replicate: bool,
    /// A command was rejected while queueing: `EXEC` aborts.
    pub error: bool,
    /// Bytes of the queued arguments (CLIENT LIST `multi-mem`; counted in
    /// the client's memory for client eviction).
    pub bytes: usize,
}

/// The connection-owned part of a client.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub proto: Protocol,
    pub authenticated: bool,
    pub user: String,
    pub reply_mode: ReplyMode,
    /// The transaction `MULTI` opened; `None` outside one.
    pub multi: Option<MultiState>,
    /// Close the connection once pending replies are written.
    pub close_after_reply: bool,
    pub is_monitor: bool,
    pub no_evict: bool,
    pub signal: Arc<ConnSignal>,
    /// Pub/sub subscriptions: channels, patterns, shard channels.
    pub subs: HashSet<Bytes>,
    pub psubs: HashSet<Bytes>,
    pub ssubs: HashSet<Bytes>,
    /// Keys under `WATCH`: (db, key, deadline at WATCH time).
    pub watched: Vec<(usize, Bytes)>,
    /// Set while the client waits in a blocking command.
    pub blocked: Option<crate::blocking::Blocked>,
    /// True for connections from loopback or a Unix socket.
    pub is_local: bool,
    /// Replication handshake data sent by a replica (`REPLCONF`).
    pub repl_listening_port: u16,
    pub repl_ip: Option<String>,
    /// `REPLCONF capa eof`: the replica takes the EOF-marked RDB format.
    pub repl_capa_eof: bool,
    /// `REPLCONF capa psync2`: `+CONTINUE` carries our replication ID.
    pub repl_capa_psync2: bool,
    /// `REPLCONF rdb-only 1`: only the RDB is wanted (`redis-cli --rdb`).
    pub repl_rdb_only: bool,
    /// This connection is a replica receiving our stream.
    pub is_replica_link: bool,
    /// `ASKING` was sent (cleared after the next command or `EXEC`).
    pub asking: bool,
    /// `READONLY`: reads of the primary's slots served on this replica.
    pub readonly: bool,
    /// This is our primary's stream being applied (no replies, no
    /// read-only check, no re-propagation).
    pub is_master: bool,
    /// `SCRIPT DEBUG YES|SYNC` is on: the next `EVAL` runs under the Lua
    /// debugger, in this mode.
    pub ldb: Option<crate::script::LdbMode>,
    /// The debugging client's console, given by the connection for the
    /// `EVAL` it runs on a thread of its own.
    pub ldb_console: Option<Box<dyn crate::script::LdbConsole>>,
}

impl Client {
    /// A client with default state.
    pub fn new(id: u64, signal: Arc<ConnSignal>, is_local: bool) -> Client {
        Client {
            id,
            db: 0,
            proto: Protocol::Resp2,
            authenticated: false,
            user: "default".into(),
            reply_mode: ReplyMode::On,
            multi: None,
            close_after_reply: false,
            is_monitor: false,
            no_evict: false,
            signal,
            subs: HashSet::new(),
            psubs: HashSet::new(),
            ssubs: HashSet::new(),
            watched: Vec::new(),
            blocked: None,
            is_local,
            repl_listening_port: 0,
            repl_ip: None,
            repl_capa_eof: false,
            repl_capa_psync2: false,
            repl_rdb_only: false,
            is_replica_link: false,
            asking: false,
            readonly: false,
            is_master: false,
            ldb: None,
            ldb_console: None,
        }
    }

    /// A client with no connection behind it (the AOF loader, tests): what
    /// is pushed to it is dropped.
    pub fn detached(id: u64) -> Client {
        let (tx, _rx) = redis_net::push_channel();
        Client::new(id, Arc::new(ConnSignal::new(tx)), true)
    }

    /// Channels plus patterns (the count upstream replies with).
    pub fn sub_count(&self) -> usize {
        self.subs.len() + self.psubs.len()
    }

    /// True when the client is in RESP2 pub/sub mode.
    pub fn in_pubsub_context(&self) -> bool {
        self.proto == Protocol::Resp2 && (self.sub_count() + self.ssubs.len()) > 0
    }
}

/// The part of a client other clients can observe (`CLIENT LIST`, `KILL`).
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub name: Bytes,
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    pub db: usize,
    pub multi: i64,
    pub last_cmd: String,
    pub user: String,
    pub resp: u8,
    pub is_monitor: bool,
    pub no_evict: bool,
    pub qbuf: usize,
    /// Bytes queued by the client's `MULTI` (`multi-mem`).
    pub multi_mem: usize,
    /// Keys the client `WATCH`es.
    pub watched: usize,
    /// Memory of this client when client eviction closed it, counted in
    /// [`crate::state::State::clients_freeing`] until the connection is gone.
    pub freeing_mem: usize,
    pub is_unix: bool,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    pub blocked: bool,
    pub is_replica: bool,
    /// Our primary's replication link (flag `M`, type `master`).
    pub is_master: bool,
    /// Client-side caching (`CLIENT TRACKING`).
    pub tracking: crate::tracking::ClientTracking,
    pub signal: Arc<ConnSignal>,
}

impl ClientInfo {
    /// A client just connected from `addr` to `laddr` (the registry
    /// assigns its id).
    pub fn new(
        addr: String,
        laddr: String,
        fd: i64,
        is_unix: bool,
        signal: Arc<ConnSignal>,
        now_ms: i64,
    ) -> ClientInfo {
        ClientInfo {
            id: 0,
            addr,
            laddr,
            fd,
            name: Bytes::new(),
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            db: 0,
            multi: -1,
            last_cmd: "NULL".into(),
            user: "default".into(),
            resp: 2,
            is_monitor: false,
            no_evict: false,
            qbuf: 0,
            multi_mem: 0,
            watched: 0,
            freeing_mem: 0,
            is_unix,
            sub: 0,
            psub: 0,
            ssub: 0,
            blocked: false,
            is_replica: false,
            is_master: false,

            tracking: crate::tracking::ClientTracking::default(),
            signal,
        }
    }

    /// The `flags=` letters of `CLIENT LIST`.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.is_replica {
            f.push('S');
        }
        if self.is_master {
            f.push('M');
        }
        if self.is_monitor {
            f.push('O');
        }
        if self.multi >= 0 {
            f.push('x');
        }
        if self.blocked {
            f.push('b');
        }
        if self.tracking.on {
            f.push('t');
        }
        if self.tracking.broken_redir {
            f.push('R');
        }
        if self.tracking.bcast {
            f.push('B');
        }
        if self.sub + self.psub + self.ssub > 0 {
            f.push('P');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// The output owed to the client, shaped like upstream's reply
    /// buffers: (`obl`, `oll`, `omem`) — the bytes in the 16 KB static
    /// buffer, then the number and memory of the 16 KB reply blocks the
    /// rest takes.
    pub fn output_buffers(&self) -> (usize, usize, usize) {
        const CHUNK: usize = 16 * 1024;
        let len = self.signal.output_len();
        let obl = len.min(CHUNK);
        let oll = (len - obl).div_ceil(CHUNK);
        (obl, oll, oll * CHUNK)
    }

    /// One `CLIENT LIST` line (without the trailing newline).
    pub fn line(&self, now_ms: i64) -> String {
        let age = (now_ms - self.created_ms).max(0) / 1000;
        let idle = (now_ms - self.last_interaction_ms).max(0) / 1000;
        let (obl, oll, omem) = self.output_buffers();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem={} rbs=16384 rbp=16384 obl={obl} oll={oll} omem={omem} tot-mem={} events={} cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name),
            age,
            idle,
            self.flags(),
            self.db,
            self.sub,
            self.psub,
            self.ssub,
            self.multi,
            self.qbuf,
            16384usize.saturating_sub(self.qbuf),
            self.multi_mem,
            crate::clients_mem::client_memory(self),
            if obl > 0 { "rw" } else { "r" },
            self.last_cmd,
            self.user,
            if self.tracking.on {
                self.tracking.redirect as i64
            } else {
                -1
            },
            self.resp,
        )
    }
}
