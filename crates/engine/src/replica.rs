//! Replication commands and the replica-side state the network task keeps
//! (`REPLICAOF`, `REPLCONF`, `PSYNC`, `SYNC`, `WAIT`, `ROLE`, `INFO
//! replication`) and the replica's side of loading a full sync.
//! The replica's connection to its primary is driven by
//! `redis-server`'s `replica_link` task through the methods here.

use std::fmt::Write as _;

use bytes::Bytes;

use crate::replication::LinkState;
use crate::state::State;

/// The replica side's view of its primary.
#[derive(Clone, Debug)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    /// `connect`, `connecting`, `sync` or `connected` (the ROLE words).
    pub state: &'static str,
    pub last_io_ms: i64,
    pub down_since_ms: i64,
    pub sync_in_progress: bool,
    /// Bumped on every `REPLICAOF`, so the task notices a change.
    pub generation: u64,
    /// Set when this link ends a `FAILOVER`: the handshake sends
    /// `PSYNC … FAILOVER` so the target promotes itself.
    pub failover: bool,
}

impl MasterLink {
    fn new(host: String, port: u16, now: i64, generation: u64) -> MasterLink {
        MasterLink {
            host,
            port,
            state: "connect",
            last_io_ms: now,
            down_since_ms: now,
            sync_in_progress: false,
            generation,
            failover: false,
        }
    }
}

fn secs_since(now: i64, t: i64) -> i64 {
    ((now - t).max(0)) / 1000
}

/// Writes the `INFO replication` section body, field for field as 7.0.
pub fn info_replication(st: &State, now: i64, o: &mut String) {
    let r = &st.repl;
    match &st.master {
        Some(m) => {
            let up = m.state == "connected";
            let _ = write!(
                o,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
                if up { secs_since(now, m.last_io_ms) } else { -1 },
                u8::from(m.sync_in_progress),
                r.master_repl_offset,
                r.master_repl_offset,
            );
            if !up {
                let _ = write!(
                    o,
                    "master_link_down_since_seconds:{}\r\n",
                    secs_since(now, m.down_since_ms)
                );
            }
            let _ = write!(
                o,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                st.config.get_int("replica-priority"),
                u8::from(st.config.get_bool("replica-read-only")),
                u8::from(st.config.get_bool("replica-announced")),
            );
        }
        None => o.push_str("role:master\r\n"),
    }
    let _ = write!(o, "connected_slaves:{}\r\n", r.replicas.len());
    for (i, l) in r.replicas.iter().enumerate() {
        let state = match l.state {
            LinkState::WaitSnapshot => "wait_bgsave",
            LinkState::SendingRdb => "send_bulk",
            LinkState::Online => "online",
        };
        let _ = write!(
            o,
            "slave{i}:ip={},port={},state={state},offset={},lag={}\r\n",
            l.ip,
            l.listening_port,
            l.ack_offset.max(0),
            secs_since(now, l.last_ack_ms)
        );
    }
    let (first, histlen) = if r.backlog_active {
        (r.backlog_first_offset, r.backlog.len())
    } else {
        (0, 0)
    };
    let _ = write!(
        o,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{histlen}\r\n",
        crate::failover::state_name(st),
        r.replid,
        r.replid2,
        r.master_repl_offset,
        r.second_repl_offset,
        u8::from(r.backlog_active),
        st.config.get_int("repl-backlog-size"),
    );
}

impl State {
    /// Starts following `host:port` (config `replicaof` or the command).
    pub fn become_replica(&mut self, host: String, port: u16, now: i64) {
        let generation = self.master.as_ref().map_or(1, |m| m.generation + 1);
        self.master = Some(MasterLink::new(host.clone(), port, now, generation));
        self.ks.is_replica = true;
        self.config.set_replica_of(Some((host, port)));
        self.repl_notify.notify_one();
    }

    /// True when this replica refuses writes from ordinary clients.
    pub fn rejects_writes(&self) -> bool {
        self.master.is_some() && self.cached.replica_read_only
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
        for link in self.repl.replicas.drain(..) {
            link.signal.kill();
        }
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

    /// Empties the dataset before loading (`Flushing old data`).
    pub fn flush_for_sync(&mut self) {
        for db in 0..self.ks.len() {
            self.touch_watched_db(db);
        }
        self.ks.flush_all();
    }

    /// Installs a dataset loaded by [`State::loader`], returning the old
    /// databases so the caller can free them off the lock. No snapshot
    /// may be running (see [`State::prepare_sync_load`]).
    pub fn install_synced_dataset(&mut self, tmp: &mut State) -> Vec<redis_storage::Db> {
        for db in 0..self.ks.len() {
            self.touch_watched_db(db);
        }
        let fresh = std::mem::take(&mut tmp.ks.dbs);
        std::mem::replace(&mut self.ks.dbs, fresh)
    }

    /// Takes the primary's history after a full sync.
    pub fn adopt_primary_history(&mut self, replid: String, offset: i64) {
        self.repl.replid = replid;
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_repl_offset = -1;
        self.repl.master_repl_offset = offset;
        self.repl.backlog_active = true;
        self.repl.backlog.clear();
        self.repl.backlog_first_offset = offset + 1;
        self.repl.last_db = None;
    }
}

/// `ip:port` of a replica as upstream's log lines name it.
pub fn replica_name(ip: &str, port: u16) -> String {
    if port == 0 {
        format!("{ip}:<unknown-replica-port>")
    } else {
        format!("{ip}:{port}")
    }
}
