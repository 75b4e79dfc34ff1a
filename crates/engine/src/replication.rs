//! The primary side of replication and the propagation stream (upstream
//! `replication.c`, primary half): replication ID pair and offsets
//! (PSYNC2), the backlog, replica links, full sync from a fork-free
//! snapshot streamed with the EOF-marker format, partial resync, `WAIT`,
//! `ROLE` and `INFO replication`.
//!
//! Every write reaches this module through [`State::propagate`], the single
//! propagation point: it is encoded once (with a `SELECT` when the database
//! changes), appended to the backlog and sent to every online replica. A
//! replica still receiving its RDB collects the stream in its own buffer,
//! which is sent right after the RDB, so nothing is lost or reordered.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use redis_resp::encode_request;

use crate::client::ConnSignal;
use crate::state::State;

/// Where a replica link is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for the snapshot to start (another one is running).
    WaitSnapshot,
    /// The RDB is being streamed.
    SendingRdb,
    /// Receiving the command stream.
    Online,
}

/// A replica connected to us.
#[derive(Debug)]
pub struct ReplicaLink {
    pub client_id: u64,
    pub ip: String,
    pub listening_port: u16,
    pub state: LinkState,
    /// Last offset the replica acknowledged.
    pub ack_offset: i64,
    pub last_ack_ms: i64,
    /// Stream collected while the RDB is sent.
    pub pending: BytesMut,
    pub signal: Arc<ConnSignal>,
    /// Takes the EOF-marked RDB format (`REPLCONF capa eof`); others get
    /// a `$<len>` bulk, which needs the whole payload first.
    pub capa_eof: bool,
    /// Came with `SYNC`: no `+FULLRESYNC` line before the RDB.
    pub pre_psync: bool,
    /// Wants only the RDB (`REPLCONF rdb-only 1`), then the link closes.
    pub rdb_only: bool,
    /// Online after an EOF-marked RDB, but the stream waits in `pending`
    /// for the replica's first `REPLCONF ACK`: a replica detects the end
    /// of the payload from the marker being the last bytes it read, so
    /// nothing may follow the marker before it has loaded (upstream does
    /// the same).
    pub stream_on_ack: bool,
    /// Unix ms it started waiting for a full sync (`repl-diskless-sync-delay`).
    pub wait_since_ms: i64,
}

/// Replication state of this server as a primary (and the IDs a replica
/// keeps too).
#[derive(Debug)]
pub struct Replication {
    pub replid: String,
    pub replid2: String,
    pub master_repl_offset: i64,
    pub second_repl_offset: i64,
    /// The backlog: the last `repl-backlog-size` bytes of the stream.
    pub backlog: VecDeque<u8>,
    pub backlog_active: bool,
    /// Offset of the first byte in the backlog.
    pub backlog_first_offset: i64,
    pub replicas: Vec<ReplicaLink>,
    /// Database of the last propagated command (a `SELECT` precedes the
    /// next command for another database).
    pub last_db: Option<usize>,
    /// Set while `EXEC` runs: the first propagated command is preceded by
    /// `MULTI`, and `EXEC` follows the transaction.
    pub multi_pending: bool,
    pub multi_emitted: bool,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// When the last keep-alive `PING` went into the stream.
    pub last_ping_ms: i64,
    /// Since when a primary has had no replica (`repl-backlog-ttl`).
    pub no_replicas_since_ms: Option<i64>,
}

impl Replication {
    /// Fresh IDs.
    pub fn new(replid: String) -> Replication {
        Replication {
            replid,
            replid2: "0".repeat(40),
            master_repl_offset: 0,
            second_repl_offset: -1,
            backlog: VecDeque::new(),
            backlog_active: false,
            backlog_first_offset: 0,
            replicas: Vec::new(),
            last_db: None,
            multi_pending: false,
            multi_emitted: false,
            no_replicas_since_ms: None,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            last_ping_ms: 0,
        }
    }

    /// Bytes of stream the backlog can serve from `offset` (the next byte
    /// the replica needs), if it still holds them.
    pub fn backlog_from(&self, offset: i64) -> Option<Bytes> {
        if !self.backlog_active
            || offset < self.backlog_first_offset
            || offset > self.master_repl_offset + 1
        {
            return None;
        }
        let skip = (offset - self.backlog_first_offset) as usize;
        let v: Vec<u8> = self.backlog.iter().skip(skip).copied().collect();
        Some(Bytes::from(v))
    }

    /// Starts a new history (after `REPLICAOF NO ONE` or a failover): the
    /// old ID stays valid up to the current offset for PSYNC2.
    pub fn shift_replid(&mut self, new_id: String) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id);
        self.second_repl_offset = self.master_repl_offset + 1;
    }
}

impl State {
    /// Appends raw stream bytes to the backlog and the replicas.
    pub fn feed_stream(&mut self, bytes: &[u8]) {
        let size = self.config.get_int("repl-backlog-size").max(16 * 1024) as usize;
        let r = &mut self.repl;
        if r.backlog_active {
            r.backlog.extend(bytes.iter().copied());
            while r.backlog.len() > size {
                let excess = r.backlog.len() - size;
                r.backlog.drain(..excess);
                r.backlog_first_offset += excess as i64;
            }
        }
        r.master_repl_offset += bytes.len() as i64;
        if r.replicas.is_empty() {
            return;
        }
        let chunk = Bytes::copy_from_slice(bytes);
        // The stream held back for a replica (during its sync) counts
        // against its output buffer hard limit, as upstream's buffer does.
        let hard = self.cached.obuf_limits[1].hard as usize;
        let mut over = Vec::new();
        for link in &mut r.replicas {
            match link.state {
                LinkState::Online if !link.stream_on_ack => {
                    let _ = link.signal.push.send(chunk.clone());
                }
                LinkState::Online | LinkState::SendingRdb | LinkState::WaitSnapshot => {
                    link.pending.extend_from_slice(bytes);
                    if hard > 0 && link.pending.len() >= hard {
                        over.push(link.client_id);
                    }
                }
            }
        }
        for id in over {
            if let Some(pos) = self.repl.replicas.iter().position(|l| l.client_id == id) {
                let link = self.repl.replicas.remove(pos);
                link.signal.kill();
                self.log_warning(&format!(
                    "Client id={id} scheduled to be closed ASAP for overcoming of output buffer limits."
                ));
            }
        }
    }

    /// Encodes one command into the stream.
    pub fn feed_command(&mut self, db: usize, argv: &[Bytes]) {
        if !self.repl.backlog_active && self.repl.replicas.is_empty() && !self.aof_enabled() {
            // Nobody listens: only the offset would move, and upstream does
            // not even count it without a backlog.
            return;
        }
        let mut buf = BytesMut::new();
        if self.repl.multi_pending {
            self.repl.multi_pending = false;
            self.repl.multi_emitted = true;
            encode_request(&[&b"MULTI"[..]], &mut buf);
            self.aof_command(db, &[Bytes::from_static(b"MULTI")]);
        }
        if self.repl.last_db != Some(db) {
            let d = db.to_string();
            encode_request(&[&b"SELECT"[..], d.as_bytes()], &mut buf);
            self.repl.last_db = Some(db);
        }
        encode_request(argv, &mut buf);
        self.feed_stream(&buf);
        self.aof_command(db, argv);
    }

    /// Closes a propagated transaction with `EXEC`.
    pub fn feed_command_raw_exec(&mut self, db: usize) {
        let mut buf = BytesMut::new();
        encode_request(&[&b"EXEC"[..]], &mut buf);
        self.feed_stream(&buf);
        self.aof_command(db, &[Bytes::from_static(b"EXEC")]);
    }

    /// Whether an append-only file takes the stream.
    pub fn aof_enabled(&self) -> bool {
        self.aof.is_some()
    }

    /// Number of replicas that acknowledged `offset`.
    pub fn replicas_acked(&self, offset: i64) -> usize {
        self.repl
            .replicas
            .iter()
            .filter(|r| r.state == LinkState::Online && r.ack_offset >= offset)
            .count()
    }

    /// `min-replicas-to-write`: true when enough replicas acknowledged
    /// within `min-replicas-max-lag` seconds (or the check is off).
    pub fn enough_good_replicas(&self, now: i64) -> bool {
        let need = self.cached.min_replicas_to_write;
        let max_lag = self.cached.min_replicas_max_lag;
        if need <= 0 || max_lag <= 0 {
            return true;
        }
        let good = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.state == LinkState::Online && (now - r.last_ack_ms) / 1000 <= max_lag)
            .count() as i64;
        good >= need
    }

    /// Forgets a replica link whose connection closed.
    pub fn drop_replica(&mut self, client_id: u64) {
        let before = self.repl.replicas.len();
        self.repl.replicas.retain(|r| r.client_id != client_id);
        if self.repl.replicas.len() != before {
            self.log_notice("Connection with replica lost.");
        }
    }

    /// Once a second from the cron: every `repl-ping-replica-period`
    /// seconds a primary with replicas puts a `PING` into the stream (part
    /// of the offsets, like upstream), so replicas can tell a silent
    /// primary from a dead one. Not while a failover or a client pause
    /// waits for the offsets to settle.
    pub fn replication_cron(&mut self, now: i64) {
        self.backlog_ttl_cron(now);
        // Replicas held back by `repl-diskless-sync-delay` start when due.
        if self
            .repl
            .replicas
            .iter()
            .any(|r| r.state == LinkState::WaitSnapshot)
        {
            self.start_replica_sync();
        }
        if self.master.is_some()
            || self.repl.replicas.is_empty()
            || self.failover.is_some()
            || self.pause.is_some()
        {
            return;
        }
        let period = self.config.get_int("repl-ping-replica-period").max(1) * 1000;
        if now - self.repl.last_ping_ms < period {
            return;
        }
        self.repl.last_ping_ms = now;
        let mut buf = BytesMut::new();
        encode_request(&[&b"ping"[..]], &mut buf);
        self.feed_stream(&buf);
    }

    /// `repl-backlog-ttl`: a primary without replicas for that long frees
    /// its backlog and starts a new replication ID (its old history can no
    /// longer be served anyway), as upstream does. 0 keeps it forever.
    fn backlog_ttl_cron(&mut self, now: i64) {
        if self.master.is_some() || !self.repl.replicas.is_empty() || !self.repl.backlog_active {
            self.repl.no_replicas_since_ms = None;
            return;
        }
        let since = *self.repl.no_replicas_since_ms.get_or_insert(now);
        let ttl = self.config.get_int("repl-backlog-ttl");
        if ttl <= 0 || now - since < ttl * 1000 {
            return;
        }
        let id = crate::state::random_hex(&mut self.rng);
        self.repl.replid = id;
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_repl_offset = -1;
        self.repl.backlog.clear();
        self.repl.backlog_active = false;
        self.repl.no_replicas_since_ms = None;
        self.log_notice(&format!(
            "Replication backlog freed after {ttl} seconds without connected replicas."
        ));
    }

    /// Asks every online replica for an acknowledgement (`WAIT`).
    pub fn request_acks(&mut self) {
        let mut buf = BytesMut::new();
        encode_request(&[&b"REPLCONF"[..], b"GETACK", b"*"], &mut buf);
        // GETACK is part of the stream (upstream propagates it), so the
        // offsets stay consistent on both sides.
        self.feed_stream(&buf);
    }
}
