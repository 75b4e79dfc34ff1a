//! The replica side of replication under the server lock: the link to the
//! primary as `INFO replication` and `ROLE` show it ([`MasterLink`]),
//! switching roles ([`State::become_replica`], [`State::become_primary`]),
//! the `WAIT` bookkeeping, the `INFO replication` section, and the steps of
//! loading a full sync the way `repl-diskless-load` says. The replica's
//! connection to its primary is driven by `redis-server`'s `replica_link`
//! task through the methods here; the command handlers (`REPLICAOF`,
//! `REPLCONF`, `PSYNC`, `WAIT`, …) are `redis-commands`'.

use bytes::Bytes;
use redis_replication::{
    FailoverState, LinkState, PrimaryInfo, ReplicaInfo, ReplicationInfo, TransferInfo,
};

use crate::state::State;

/// The replica side's view of its primary.
#[derive(Clone, Debug)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    /// Where the link is (`ROLE`'s state word, `master_link_status`).
    pub state: LinkState,
    /// Unix ms of the last data from the primary.
    pub last_io_ms: i64,
    /// Unix ms the link went down; `None` until it was up once (INFO
    /// prints -1, as upstream before its first disconnection).
    pub down_since_ms: Option<i64>,
    /// Progress of the RDB transfer while [`LinkState::Transfer`].
    pub transfer: Option<TransferInfo>,
    /// Bumped on every `REPLICAOF`, so the task notices a change.
    pub generation: u64,
    /// Set when this link ends a `FAILOVER`: the handshake sends
    /// `PSYNC … FAILOVER` so the target promotes itself.
    pub failover: bool,
    /// We have a history to offer (upstream's cached master): the link
    /// was up once, we were a primary before `REPLICAOF`, or our RDB
    /// named the primary's history. Without one, INFO prints offset 1.
    pub has_history: bool,
}

impl MasterLink {
    fn new(host: String, port: u16, now: i64, generation: u64) -> MasterLink {
        MasterLink {
            host,
            port,
            state: LinkState::Connect,
            last_io_ms: now,
            down_since_ms: None,
            transfer: None,
            generation,
            failover: false,
            has_history: false,
        }
    }

    /// Moves the link to `state`, keeping the down time and the transfer
    /// progress consistent with it.
    pub fn set_state(&mut self, state: LinkState, now: i64) {
        if self.state.is_up() && !state.is_up() {
            self.down_since_ms = Some(now);
        }
        if state == LinkState::Transfer && self.state != LinkState::Transfer {
            self.transfer = Some(TransferInfo {
                total: -1,
                read: 0,
                last_io_ms: now,
            });
        }
        if state != LinkState::Transfer {
            self.transfer = None;
        }
        if state.is_up() {
            self.last_io_ms = now;
            self.has_history = true;
        }
        self.state = state;
    }
}

/// The `master_failover_state` of this server.
pub fn failover_state(st: &State) -> FailoverState {
    if st.failover.is_some() {
        FailoverState::WaitingForSync
    } else if st.master.as_ref().is_some_and(|m| m.failover) {
        FailoverState::FailoverInProgress
    } else {
        FailoverState::NoFailover
    }
}

/// A snapshot of everything `INFO replication` prints.
pub fn replication_info(st: &State, now: i64) -> ReplicationInfo {
    let r = &st.repl;
    let mut info = ReplicationInfo::new(&r.ids, &r.backlog);
    // The configured size, even below the minimum the backlog keeps
    // (upstream prints the directive's value).
    info.backlog_size = st.config.get_int("repl-backlog-size");
    // Upstream prints 1 when it has neither a primary nor a cached one.
    let offset = |m: &MasterLink| {
        if m.state.is_up() || m.has_history {
            r.ids.master_repl_offset
        } else {
            1
        }
    };
    info.primary = st.master.as_ref().map(|m| PrimaryInfo {
        host: m.host.clone(),
        port: m.port,
        link: m.state,
        last_io_ms: m.last_io_ms,
        down_since_ms: m.down_since_ms,
        read_repl_offset: offset(m),
        repl_offset: offset(m),
        transfer: m.transfer.filter(|_| m.state == LinkState::Transfer),
        priority: st.config.get_int("replica-priority"),
        read_only: st.config.get_bool("replica-read-only"),
        announced: st.config.get_bool("replica-announced"),
    });
    info.replicas = r
        .replicas
        .iter()
        .map(|l| ReplicaInfo {
            ip: l.ip.clone(),
            port: l.listening_port,
            state: l.state,
            offset: l.ack_offset,
            last_ack_ms: l.last_ack_ms,
        })
        .collect();
    info.good_replicas = st.min_replicas_configured().then(|| st.good_replicas(now));
    info.failover = failover_state(st);
    info
}

/// Writes the `INFO replication` section body, field for field as 7.0.
pub fn info_replication(st: &State, now: i64, o: &mut String) {
    redis_replication::write_info(&replication_info(st, now), now, o);
}

impl State {
    /// Starts following `host:port` (config `replicaof` or the command).
    pub fn become_replica(&mut self, host: String, port: u16, now: i64) {
        let generation = self.master.as_ref().map_or(1, |m| m.generation + 1);
        // A link that was up goes down now; one that was down keeps its
        // time (upstream's `repl_down_since` survives a change of primary).
        let down_since = self.master.as_ref().and_then(|m| {
            if m.state.is_up() {
                Some(now)
            } else {
                m.down_since_ms
            }
        });
        let had_history = self.master.as_ref().is_some_and(|m| m.has_history);
        if self.master.is_none() {
            // A demoted primary continues from its own history: the new
            // primary starts its stream with a `SELECT` (upstream caches a
            // master client in database 0 here).
            self.repl.stream_db = 0;
        }
        let mut link = MasterLink::new(host.clone(), port, now, generation);
        link.down_since_ms = down_since;
        link.has_history = had_history;
        self.master = Some(link);
        self.ks.is_replica = true;
        (self.set_log_role)('S');
        self.config.set_replica_of(Some((host, port)));
        self.disconnect_blocked_clients();
        self.repl_notify.notify_one();
        // The OOM score follows the role at once (upstream sets it here).
        self.apply_oom_score_adj();
    }

    /// Clients blocked on keys (or in `WAIT`) when this server becomes a
    /// replica get an error and are disconnected, as upstream's
    /// `disconnectAllBlockedClients`: served later by a write from the new
    /// primary, their retry would run on the replica and make it diverge.
    /// Clients held by `CLIENT PAUSE` are not blocked on anything yet: their
    /// command is checked again when the pause ends.
    fn disconnect_blocked_clients(&mut self) {
        let ids: Vec<u64> = self.blocking.waiters.keys().copied().collect();
        for id in ids {
            if let Some(w) = self.unblock(id) {
                let e = crate::error::CmdError::fixed(
                    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
                );
                self.push_error(&w.signal, &e);
                w.signal.close_after_flush();
            }
        }
        self.wait_clients.clear();
    }

    /// True when this replica refuses writes from ordinary clients (the
    /// keyspace's flag covers a replica's `SCRIPT DEBUG YES` copy, which
    /// has no link to a primary).
    pub fn rejects_writes(&self) -> bool {
        (self.master.is_some() || self.ks.is_replica) && self.cached.replica_read_only
    }
}

impl State {
    /// Serves `WAIT` clients whose replica count is reached.
    pub fn check_wait_clients(&mut self) {
        if self.wait_clients.is_empty() {
            return;
        }
        let list = std::mem::take(&mut self.wait_clients);
        for (id, n, offset) in list {
            let acked = self.replicas_acked(offset) as i64;
            if acked >= n {
                if let Some(w) = self.unblock(id) {
                    let _ = w.signal.push.send(Bytes::from(format!(":{acked}\r\n")));
                }
            } else if self.blocking.waiters.contains_key(&id) {
                self.wait_clients.push((id, n, offset));
            }
        }
    }

    /// The reply of a `WAIT` that timed out (or `None` if `id` is no WAIT).
    pub fn wait_timeout_reply(&mut self, id: u64) -> Option<Bytes> {
        let pos = self.wait_clients.iter().position(|w| w.0 == id)?;
        let (_, _, offset) = self.wait_clients.remove(pos);
        Some(Bytes::from(format!(":{}\r\n", self.replicas_acked(offset))))
    }
}

/// How a replica loads the RDB of a full sync (`repl-diskless-load`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisklessLoad {
    /// Store the payload in a temp file, rename it over `dbfilename`,
    /// flush the old data and load the file (clients get `-LOADING`).
    Disk,
    /// Load from the socket into the flushed (empty) dataset.
    Socket,
    /// Load from the socket into a separate dataset while the old one is
    /// still served, then swap them.
    SwapDb,
}

impl State {
    /// The load path `repl-diskless-load` picks for a full sync now.
    pub fn diskless_load_mode(&self) -> DisklessLoad {
        match self.config.get_str("repl-diskless-load") {
            "swapdb" => DisklessLoad::SwapDb,
            "on-empty-db" if self.ks.total_keys() == 0 => DisklessLoad::Socket,
            _ => DisklessLoad::Disk,
        }
    }

    /// Before a full sync replaces the dataset: our own replicas must
    /// resynchronize with the new history (their links are closed, as
    /// upstream), and a snapshot streaming to them is dropped. Returns
    /// true while a save to disk still runs (the caller waits for it, so
    /// the dataset is not swapped under it).
    pub fn prepare_sync_load(&mut self) -> bool {
        self.repl.disconnect_replicas();
        self.abort_replica_sync_snapshot();
        self.persistence.bgsave.is_some()
    }

    /// A fresh state to load a full sync's RDB into, off the lock.
    pub fn loader(&self, now: i64) -> State {
        let mut tmp = State::new(self.config.clone(), now, self.registry);
        tmp.log_sink = self.log_sink.clone();
        tmp.used_memory = self.used_memory;
        // Keys already past their deadline stay: the primary's DEL decides.
        tmp.ks.is_replica = true;
        tmp
    }

    /// Empties the dataset before loading (`Flushing old data`), in the
    /// background with `replica-lazy-flush`.
    pub fn flush_for_sync(&mut self) {
        for db in 0..self.ks.len() {
            self.touch_watched_db(db, crate::state::now_ms());
        }
        self.tracking_flush();
        self.ks.flush_all_lazy(self.cached.replica_lazy_flush);
    }

    /// After a full sync loaded from the RDB file received on disk: with
    /// `rdb-del-sync-files` and persistence off (no save points, no AOF)
    /// the file is removed, as upstream does, so that a replica meant to
    /// keep nothing on disk does not keep its primary's data there.
    pub fn remove_sync_file_if_unwanted(&self) {
        let persistence_off =
            self.config.save_points().is_empty() && !self.config.get_bool("appendonly");
        if self.config.get_bool("rdb-del-sync-files") && persistence_off {
            self.log_notice(
                "Removing the RDB file obtained from the master. This replica has persistence disabled",
            );
            let _ = std::fs::remove_file(crate::persist::rdb_path(self));
        }
    }

    /// Installs a dataset loaded by [`State::loader`], returning the old
    /// databases so the caller can free them off the lock. No snapshot
    /// may be running (see [`State::prepare_sync_load`]).
    pub fn install_synced_dataset(&mut self, tmp: &mut State) -> Vec<redis_storage::Db> {
        for db in 0..self.ks.len() {
            self.touch_watched_db(db, crate::state::now_ms());
        }
        self.tracking_flush();
        let fresh = std::mem::take(&mut tmp.ks.dbs);
        let old = std::mem::replace(&mut self.ks.dbs, fresh);
        // The primary's function libraries come with its data.
        self.scripting.adopt_functions(&mut tmp.scripting);
        self.ensure_slot_index();
        old
    }

    /// Takes the primary's history after a full sync: its ID and offset,
    /// no secondary ID, and a backlog from there (a replica keeps one so
    /// it can serve PSYNC after a promotion).
    pub fn adopt_primary_history(&mut self, replid: String, offset: i64) {
        self.repl.ids.adopt_primary(replid, offset);
        self.repl.backlog.activate(offset + 1);
        self.repl.last_db = None;
        self.repl.stream_db = 0;
    }

    /// Stops being a replica (`REPLICAOF NO ONE`, or a failover target
    /// promoted): a new history with the old one kept as the secondary ID,
    /// and our replicas reconnect to learn it, as upstream.
    pub fn become_primary(&mut self, now: i64) {
        let Some(old) = self.master.take() else {
            return;
        };
        if old.state.is_up() {
            self.log_warning("Connection with master lost.");
            self.log_notice("Caching the disconnected master state.");
        }
        self.log_notice("Discarding previously cached master state.");
        let id = crate::state::random_hex(&mut self.rng);
        self.repl.ids.shift(id);
        // Our stream starts with a `SELECT` (upstream's `slaveseldb = -1`):
        // a demoted primary following us resumes in database 0, and what
        // we last selected as a primary long ago means nothing now.
        self.repl.last_db = None;
        self.log_warning(&format!(
            "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
            self.repl.ids.replid2, self.repl.ids.second_repl_offset, self.repl.ids.replid
        ));
        self.repl.disconnect_replicas();
        self.repl.backlog_ttl.restart(now);
        self.ks.is_replica = false;
        (self.set_log_role)('M');
        self.config.set_replica_of(None);
        self.repl_notify.notify_one();
        // The OOM score follows the role at once (upstream sets it here).
        self.apply_oom_score_adj();
    }
}
