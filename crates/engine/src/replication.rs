//! The primary side of replication and the propagation stream: the
//! replica links, the stream fed to the backlog and to replicas, the
//! replication cron (keep-alive `PING`, replica ack timeouts,
//! `repl-backlog-ttl`), `min-replicas-to-write` and `WAIT` counts.
//!
//! The protocol pieces (IDs, the backlog ring, the PSYNC decision, the
//! schedules) are `redis-replication`'s; this module owns the state they
//! work on and acts on their answers under the server lock.
//!
//! Every write reaches this module through [`State::propagate`], the single
//! propagation point: it is encoded once (with a `SELECT` when the database
//! changes), appended to the backlog and sent to every online replica. A
//! replica still receiving its RDB collects the stream in its own buffer,
//! which is sent right after the RDB, so nothing is lost or reordered.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use redis_replication::liveness::{is_good_replica, replica_timed_out, replica_timeout_line};
use redis_replication::{Backlog, BacklogTtl, PingSchedule, ReplIds, ReplicaState};
use redis_resp::encode_request;

use crate::client::ConnSignal;
use crate::state::State;

/// A replica connected to us.
#[derive(Debug)]
pub struct ReplicaLink {
    pub client_id: u64,
    pub ip: String,
    pub listening_port: u16,
    pub state: ReplicaState,
    /// Last offset the replica acknowledged.
    pub ack_offset: i64,
    pub last_ack_ms: i64,
    /// Stream collected while the RDB is sent.
    pub pending: BytesMut,
    pub signal: Arc<ConnSignal>,
    /// Takes the EOF-marked RDB format (`REPLCONF capa eof`); others get
    /// a `$<len>` bulk, which needs the whole payload first.
    pub capa_eof: bool,
    /// Sent `REPLCONF capa psync2`: `+CONTINUE` carries our ID.
    pub capa_psync2: bool,
    /// Came with `SYNC`: no `+FULLRESYNC` line before the RDB, and no
    /// `REPLCONF ACK`s to expect.
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

impl ReplicaLink {
    /// `ip:port` as upstream's log lines name a replica.
    pub fn name(&self) -> String {
        redis_replication::replica_name(&self.ip, self.listening_port)
    }

    /// Queues `bytes` on the replica's connection (its session counts
    /// them in `total_net_repl_output_bytes` once written).
    pub fn send(&self, bytes: Bytes) {
        let _ = self.signal.push.send(bytes);
    }

    /// Bytes held for this replica: the stream collected during its sync,
    /// what waits in its connection's mailbox and what its connection
    /// took from there but could not write yet (a stopped or slow
    /// replica).
    pub fn buffered(&self) -> usize {
        self.pending.capacity() + self.signal.push.queued_bytes() + self.signal.output_len()
    }
}

/// Replication state of this server as a primary (and the IDs and
/// backlog a replica keeps too).
/// Where a propagated command goes (upstream's `PROPAGATE_AOF` and
/// `PROPAGATE_REPL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub aof: bool,
    pub replicas: bool,
}

impl Targets {
    /// Both the AOF and the replication stream.
    pub const ALL: Targets = Targets {
        aof: true,
        replicas: true,
    };
}

/// A command collected while a transaction or a script runs.
#[derive(Debug)]
pub struct PropOp {
    pub db: usize,
    pub argv: Vec<Bytes>,
    pub to: Targets,
}

#[derive(Debug)]
pub struct Replication {
    /// The replication ID pair and `master_repl_offset`.
    pub ids: ReplIds,
    /// The last `repl-backlog-size` bytes of the stream.
    pub backlog: Backlog,
    pub replicas: Vec<ReplicaLink>,
    /// Database of the last propagated command (a `SELECT` precedes the
    /// next command for another database).
    pub last_db: Option<usize>,
    /// On a replica: the database the primary's stream is in at our
    /// offset (upstream's cached master's selected database). A partial
    /// resynchronization goes on without a `SELECT`, so it outlives the
    /// link; 0 after a full sync or a demotion, and saved in our RDB as
    /// `repl-stream-db` so a restart resumes in the right database.
    pub stream_db: usize,
    /// Commands propagated while `EXEC` runs, collected so the
    /// transaction reaches the AOF and replicas whole when it ends: wrapped
    /// in `MULTI`/`EXEC` when it wrote more than once, alone when once,
    /// not at all when never (upstream 7.0's `also_propagate`).
    /// Each entry: database, command, and whether it goes to the AOF too
    /// (PUBLISH goes to replicas only).
    pub exec_ops: Option<Vec<PropOp>>,
    /// Where propagated commands go now: both by default; a script's
    /// `redis.set_repl` narrows it for the commands it calls.
    pub targets: Targets,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// The keep-alive `PING` into the stream.
    pub ping: PingSchedule,
    /// `repl-backlog-ttl` of a primary without replicas.
    pub backlog_ttl: BacklogTtl,
    /// `total_net_repl_input_bytes`: stream and payload bytes read from
    /// our primary.
    pub net_input_bytes: u64,
    /// `total_net_repl_output_bytes`: bytes written to replica links
    /// (counted by their connections instead of `total_net_output_bytes`).
    pub net_output_bytes: u64,
}

impl Replication {
    /// Fresh IDs and an inactive backlog of `backlog_size` bytes.
    pub fn new(ids: ReplIds, backlog_size: usize) -> Replication {
        Replication {
            ids,
            backlog: Backlog::new(backlog_size),
            replicas: Vec::new(),
            last_db: None,
            stream_db: 0,
            exec_ops: None,
            targets: Targets::ALL,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            ping: PingSchedule::new(),
            backlog_ttl: BacklogTtl::new(),
            net_input_bytes: 0,
            net_output_bytes: 0,
        }
    }

    /// `total_net_repl_output_bytes`.
    pub fn output_bytes(&self) -> u64 {
        self.net_output_bytes
    }

    /// `mem_total_replication_buffers`: the backlog plus what is held for
    /// replicas.
    pub fn buffers_memory(&self) -> usize {
        self.backlog.memory()
            + self
                .replicas
                .iter()
                .map(ReplicaLink::buffered)
                .sum::<usize>()
    }

    /// Bytes held for replicas beyond the backlog: the queued stream
    /// chunks (shared by every replica, so the largest queue counts), each
    /// replica's own copies (output not yet written, stream held back
    /// during its sync). Upstream leaves its equivalent out of the
    /// `maxmemory` count (`mem_not_counted_for_evict`), so a slow replica
    /// does not make the primary evict its dataset.
    pub fn owed_to_replicas(&self) -> usize {
        let shared = self
            .replicas
            .iter()
            .map(|l| l.signal.push.queued_bytes())
            .max()
            .unwrap_or(0);
        let own: usize = self
            .replicas
            .iter()
            .map(|l| l.pending.capacity() + l.signal.output_mem())
            .sum();
        shared + own
    }

    /// Closes every replica link (they reconnect and learn our new
    /// history, as upstream's `disconnectSlaves`).
    pub fn disconnect_replicas(&mut self) {
        for link in self.replicas.drain(..) {
            link.signal.kill();
        }
    }
}

impl State {
    /// Appends raw stream bytes to the backlog and the replicas.
    pub fn feed_stream(&mut self, bytes: &[u8]) {
        let r = &mut self.repl;
        r.backlog.feed(bytes);
        r.ids.advance(bytes.len());
        if r.replicas.is_empty() {
            return;
        }
        let chunk = Bytes::copy_from_slice(bytes);
        // The stream held back for a replica (during its sync) counts
        // against its output buffer hard limit, as upstream's buffer does.
        let hard = self.cached.replica_hard_limit as usize;
        let mut over = Vec::new();
        for link in &mut r.replicas {
            match link.state {
                ReplicaState::Online if !link.stream_on_ack => {
                    link.send(chunk.clone());
                }
                ReplicaState::Online | ReplicaState::SendBulk | ReplicaState::WaitBgsave => {
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

    /// Encodes one command into the stream and the AOF (inside `EXEC`,
    /// collects it for [`State::end_exec_propagation`]).
    pub fn feed_command(&mut self, db: usize, argv: &[Bytes]) {
        self.feed_command_to(db, argv, true);
    }

    /// A command for the replicas only (upstream's `PROPAGATE_REPL`, which
    /// PUBLISH forces so subscribers of replicas get the message).
    pub fn feed_replicas_only(&mut self, db: usize, argv: &[Bytes]) {
        self.feed_command_to(db, argv, false);
    }

    fn feed_command_to(&mut self, db: usize, argv: &[Bytes], aof: bool) {
        let t = self.repl.targets;
        let to = Targets {
            aof: aof && t.aof,
            replicas: t.replicas,
        };
        if !to.aof && !to.replicas {
            return;
        }
        if let Some(ops) = self.repl.exec_ops.as_mut() {
            ops.push(PropOp {
                db,
                argv: argv.to_vec(),
                to,
            });
            return;
        }
        self.feed_one(db, argv, to);
    }

    fn feed_one(&mut self, db: usize, argv: &[Bytes], to: Targets) {
        let aof = to.aof;
        if !to.replicas {
            // Upstream's PROPAGATE_AOF alone: the stream (and the
            // replication offset) do not see it.
            if aof && self.aof.is_some() {
                self.aof_command(db, argv);
            }
            return;
        }
        if self.master.is_some() {
            // A replica's own writes (replica-read-only no) and PUBLISH stay
            // local: its stream is its primary's, relayed byte for byte.
            if aof {
                self.aof_command(db, argv);
            }
            return;
        }
        if !self.repl.backlog.active() && self.repl.replicas.is_empty() && !self.aof_enabled() {
            // Nobody listens: only the offset would move, and upstream does
            // not even count it without a backlog.
            return;
        }
        let mut buf = BytesMut::new();
        if self.repl.last_db != Some(db) {
            let d = db.to_string();
            encode_request(&[&b"SELECT"[..], d.as_bytes()], &mut buf);
            self.repl.last_db = Some(db);
        }
        encode_request(argv, &mut buf);
        self.feed_stream(&buf);
        if aof {
            self.aof_command(db, argv);
        }
    }

    /// Drops what an `EXEC` (or a script) collected without propagating it
    /// (a script stopped by `SHUTDOWN NOSAVE`).
    pub fn abandon_exec_propagation(&mut self) {
        self.repl.exec_ops = None;
    }

    /// `EXEC` starts: what its commands propagate is collected.
    pub fn begin_exec_propagation(&mut self) {
        self.repl.exec_ops = Some(Vec::new());
    }

    /// `EXEC` ends: a transaction that wrote more than once goes out as
    /// `MULTI` … `EXEC` (a SELECT, if needed, before the `MULTI`, as 7.0),
    /// one write goes out alone, no write leaves no trace.
    pub fn end_exec_propagation(&mut self) {
        let Some(ops) = self.repl.exec_ops.take() else {
            return;
        };
        match ops.as_slice() {
            [] => {}
            [op] => self.feed_one(op.db, &op.argv, op.to),
            [first, ..] => {
                // Each target gets the wrapper only around what it receives.
                let to = Targets {
                    aof: ops.iter().any(|o| o.to.aof),
                    replicas: ops.iter().any(|o| o.to.replicas),
                };
                self.feed_one(first.db, &[Bytes::from_static(b"MULTI")], to);
                let mut last = first.db;
                for op in &ops {
                    self.feed_one(op.db, &op.argv, op.to);
                    last = op.db;
                }
                self.feed_one(last, &[Bytes::from_static(b"EXEC")], to);
            }
        }
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
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }

    /// `min_slaves_good_slaves`: online replicas that acknowledged within
    /// `min-replicas-max-lag` seconds.
    pub fn good_replicas(&self, now: i64) -> usize {
        let max_lag = self.cached.min_replicas_max_lag;
        self.repl
            .replicas
            .iter()
            .filter(|r| {
                r.state == ReplicaState::Online && is_good_replica(now, r.last_ack_ms, max_lag)
            })
            .count()
    }

    /// Whether `min-replicas-to-write` and `min-replicas-max-lag` are both
    /// set (upstream counts good replicas, and prints the count, only then).
    pub fn min_replicas_configured(&self) -> bool {
        self.cached.min_replicas_to_write > 0 && self.cached.min_replicas_max_lag > 0
    }

    /// `min-replicas-to-write`: true when enough replicas acknowledged
    /// within `min-replicas-max-lag` seconds (or the check is off).
    pub fn enough_good_replicas(&self, now: i64) -> bool {
        !self.min_replicas_configured()
            || self.good_replicas(now) as i64 >= self.cached.min_replicas_to_write
    }

    /// Forgets a replica link whose connection closed.
    pub fn drop_replica(&mut self, client_id: u64) {
        let before = self.repl.replicas.len();
        self.repl.replicas.retain(|r| r.client_id != client_id);
        if self.repl.replicas.len() != before {
            self.log_notice("Connection with replica lost.");
        }
    }

    /// Once a second from the cron: `repl-backlog-ttl`, delayed diskless
    /// syncs, replicas silent past `repl-timeout`, and every
    /// `repl-ping-replica-period` seconds a `PING` into the stream (part of
    /// the offsets, like upstream), so replicas can tell a silent primary
    /// from a dead one. No `PING` while a failover or a pause waits for the
    /// offsets to settle.
    pub fn replication_cron(&mut self, now: i64) {
        self.backlog_ttl_cron(now);
        // Replicas held back by `repl-diskless-sync-delay` start when due.
        if self
            .repl
            .replicas
            .iter()
            .any(|r| r.state == ReplicaState::WaitBgsave)
        {
            self.start_replica_sync(now);
        }
        self.drop_timed_out_replicas(now);
        // The schedule advances with time whether or not anyone listens.
        let period = self.config.get_int("repl-ping-replica-period");
        let secs_since_start = (now - self.start_ms).max(0) / 1000;
        let due = self.repl.ping.due(secs_since_start, period);
        if !due
            || self.master.is_some()
            || self.repl.replicas.is_empty()
            || self.failover.is_some()
            || self.pause.is_some()
        {
            return;
        }
        let mut buf = BytesMut::new();
        encode_request(&[&b"ping"[..]], &mut buf);
        self.feed_stream(&buf);
    }

    /// Online replicas that have not acknowledged within `repl-timeout`
    /// are dropped (those that came with `SYNC` never acknowledge).
    fn drop_timed_out_replicas(&mut self, now: i64) {
        let timeout = self.config.get_int("repl-timeout");
        let dead: Vec<(u64, String)> = self
            .repl
            .replicas
            .iter()
            .filter(|r| {
                r.state == ReplicaState::Online
                    && !r.pre_psync
                    && replica_timed_out(now, r.last_ack_ms, timeout)
            })
            .map(|r| (r.client_id, r.name()))
            .collect();
        for (id, name) in dead {
            if let Some(pos) = self.repl.replicas.iter().position(|l| l.client_id == id) {
                self.repl.replicas.remove(pos).signal.kill();
            }
            self.log_warning(&replica_timeout_line(&name));
        }
    }

    /// `repl-backlog-ttl`: a primary without replicas for that long frees
    /// its backlog and starts a new replication ID (its old history can no
    /// longer be served anyway), as upstream does. 0 keeps it forever.
    fn backlog_ttl_cron(&mut self, now: i64) {
        let idle =
            self.master.is_none() && self.repl.replicas.is_empty() && self.repl.backlog.active();
        let ttl = self.config.get_int("repl-backlog-ttl");
        if !self.repl.backlog_ttl.poll(now, idle, ttl) {
            return;
        }
        let id = crate::state::random_hex(&mut self.rng);
        self.repl.ids.forget_history(id);
        self.repl.backlog.deactivate();
        self.log_notice(&BacklogTtl::freed_line(ttl));
    }

    /// Creates the backlog for the first replica of a primary that has
    /// none: a new history (no past one can be served), logged as upstream.
    pub fn create_backlog_for_first_replica(&mut self) {
        if self.repl.backlog.active() || self.repl.replicas.len() != 1 {
            return;
        }
        let id = crate::state::random_hex(&mut self.rng);
        self.repl.ids.forget_history(id);
        let next = self.repl.ids.master_repl_offset + 1;
        self.repl.backlog.activate(next);
        self.log_notice(&redis_replication::psync::backlog_created_line(
            &self.repl.ids,
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
