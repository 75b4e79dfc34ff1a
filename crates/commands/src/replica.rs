//! Replication commands and the replica-side state the network task keeps
//! (`REPLICAOF`, `REPLCONF`, `PSYNC`, `SYNC`, `WAIT`, `ROLE`, `INFO
//! replication`) and the replica's side of loading a full sync.
//! The replica's connection to its primary is driven by
//! `redis-server`'s `replica_link` task through the methods here.

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};

use crate::args::{self, is};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::replication::{LinkState, ReplicaLink};
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

/// # Format
/// `REPLICAOF host port | NO ONE` (also `SLAVEOF`)
pub fn replicaof(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let who = ctx
        .st
        .clients
        .get(&ctx.client.id)
        .map(|c| {
            format!(
                "id={} addr={} laddr={} fd={} name={}",
                c.id,
                c.addr,
                c.laddr,
                c.fd,
                String::from_utf8_lossy(&c.name)
            )
        })
        .unwrap_or_default();
    if is(&argv[1], "no") && is(&argv[2], "one") {
        if ctx.st.master.take().is_some() {
            let id = crate::state::random_hex(&mut ctx.st.rng);
            ctx.st.repl.shift_replid(id);
            ctx.st.ks.is_replica = false;
            ctx.st.config.set_replica_of(None);
            ctx.st.repl_notify.notify_one();
            ctx.st
                .log_notice(&format!("MASTER MODE enabled (user request from '{who}')"));
        }
        ctx.ok();
        return Ok(());
    }
    let port = args::int_or(&argv[2], CmdError::fixed("ERR Invalid master port"))?;
    let Ok(port) = u16::try_from(port) else {
        return Err(CmdError::fixed("ERR Invalid master port"));
    };
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some(m) = &ctx.st.master {
        if m.host.eq_ignore_ascii_case(&host) && m.port == port {
            ctx.st.log_notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    ctx.st.become_replica(host.clone(), port, ctx.now);
    ctx.st.log_notice(&format!(
        "REPLICAOF {host}:{port} enabled (user request from '{who}')"
    ));
    ctx.ok();
    Ok(())
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

/// # Format
/// `REPLCONF option value [option value ...]`
pub fn replconf(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(SYNTAX);
    }
    let id = ctx.client.id;
    let mut reply = true;
    for pair in argv[1..].chunks_exact(2) {
        let (k, v) = (&pair[0], &pair[1]);
        if is(k, "listening-port") {
            let p = args::int(v)?;
            ctx.client.repl_listening_port = u16::try_from(p).unwrap_or(0);
        } else if is(k, "ip-address") {
            ctx.client.repl_ip = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "capa") {
            if is(v, "eof") {
                ctx.client.repl_capa_eof = true;
            }
        } else if is(k, "rdb-only") {
            match args::int(v) {
                Ok(n @ 0..=1) => ctx.client.repl_rdb_only = n == 1,
                _ => {
                    return Err(CmdError::fixed(
                        "ERR value is out of range, value must between 0 and 1",
                    ))
                }
            }
        } else if is(k, "rdb-filter-only") {
        } else if is(k, "ack") {
            // Acknowledgements get no reply.
            reply = false;
            let off = args::int(v).unwrap_or(0);
            let now = ctx.now;
            if let Some(l) = ctx.st.repl.replicas.iter_mut().find(|l| l.client_id == id) {
                l.ack_offset = l.ack_offset.max(off);
                l.last_ack_ms = now;
                if l.stream_on_ack && l.state == LinkState::Online {
                    // The replica loaded the RDB: the stream starts now.
                    l.stream_on_ack = false;
                    let rest = l.pending.split().freeze();
                    if !rest.is_empty() {
                        let _ = l.signal.push.send(rest);
                    }
                }
            }
            ctx.st.check_wait_clients();
        } else if is(k, "getack") {
            reply = false;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                crate::error::truncated(k, 128)
            )));
        }
    }
    if reply {
        ctx.ok();
    }
    Ok(())
}

/// `ip:port` of a replica as upstream's log lines name it.
pub fn replica_name(ip: &str, port: u16) -> String {
    if port == 0 {
        format!("{ip}:<unknown-replica-port>")
    } else {
        format!("{ip}:{port}")
    }
}

/// # Format
/// `SYNC`
///
/// The pre-PSYNC full synchronization (old replicas, `redis-cli --rdb` and
/// `--replica`): no `+FULLRESYNC` line, the RDB follows directly, as a
/// `$<len>` bulk or, when the client sent `REPLCONF capa eof`, in the
/// EOF-marked form; then the command stream (unless `rdb-only`).
pub fn sync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.is_replica_link {
        return Ok(());
    }
    sync_checks(ctx)?;
    start_full_sync(ctx, None, true);
    Ok(())
}

/// Refusals shared by `SYNC` and `PSYNC`.
fn sync_checks(ctx: &mut Ctx) -> CmdResult {
    if let Some(m) = &ctx.st.master {
        if m.state != "connected" {
            return Err(CmdError::fixed(
                "NOMASTERLINK Can't SYNC while not connected with my master",
            ));
        }
    }
    if !ctx.out.is_empty() {
        return Err(CmdError::fixed(
            "ERR SYNC and PSYNC are invalid with pending output",
        ));
    }
    Ok(())
}

/// # Format
/// `PSYNC replicationid offset`
pub fn psync(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = args::int(&argv[2])?;
    if ctx.client.is_replica_link {
        return Ok(());
    }
    if argv.len() > 3 && is(&argv[3], "failover") {
        // Our primary hands over (FAILOVER): promote, then serve its PSYNC.
        if argv[1].as_ref() != ctx.st.repl.replid.as_bytes() {
            return Err(CmdError::fixed(
                "ERR PSYNC FAILOVER replid must match my replid.",
            ));
        }
        if ctx.st.master.take().is_some() {
            let id = crate::state::random_hex(&mut ctx.st.rng);
            ctx.st.repl.shift_replid(id);
            ctx.st.ks.is_replica = false;
            ctx.st.config.set_replica_of(None);
            ctx.st.repl_notify.notify_one();
            ctx.st.log_notice(&format!(
                "Failover request received for replid {}.",
                String::from_utf8_lossy(&argv[1])
            ));
        }
    }
    sync_checks(ctx)?;
    let wanted = String::from_utf8_lossy(&argv[1]).into_owned();
    let same_history = wanted == ctx.st.repl.replid
        || (wanted == ctx.st.repl.replid2 && offset <= ctx.st.repl.second_repl_offset);
    if same_history {
        if let Some(data) = ctx.st.repl.backlog_from(offset) {
            let mut link = new_link(ctx, false);
            link.state = LinkState::Online;
            link.ack_offset = offset - 1;
            let name = replica_name(&link.ip, link.listening_port);
            let r = &mut ctx.st.repl;
            r.replicas.push(link);
            r.sync_partial_ok += 1;
            let head = format!("+CONTINUE {}\r\n", r.replid);
            ctx.out.extend_from_slice(head.as_bytes());
            ctx.out.extend_from_slice(&data);
            let n = data.len();
            ctx.st.log_notice(&format!(
                "Partial resynchronization request from {name} accepted. Sending {n} bytes of backlog starting from offset {offset}."
            ));
            return Ok(());
        }
    }
    start_full_sync(ctx, Some((wanted, offset)), false);
    Ok(())
}

/// Registers the caller as a replica link (marking the client).
fn new_link(ctx: &mut Ctx, pre_psync: bool) -> ReplicaLink {
    let id = ctx.client.id;
    let ip = ctx
        .client
        .repl_ip
        .clone()
        .or_else(|| {
            ctx.st
                .clients
                .get(&id)
                .and_then(|c| c.addr.rsplit_once(':').map(|(h, _)| h.to_string()))
        })
        .unwrap_or_default();
    let port = ctx.client.repl_listening_port;
    ctx.client.is_replica_link = true;
    if let Some(c) = ctx.st.clients.get_mut(&id) {
        c.is_replica = true;
    }
    ReplicaLink {
        client_id: id,
        ip,
        listening_port: port,
        state: LinkState::WaitSnapshot,
        ack_offset: 0,
        last_ack_ms: ctx.now,
        pending: BytesMut::new(),
        signal: ctx.client.signal.clone(),
        capa_eof: ctx.client.repl_capa_eof,
        pre_psync,
        rdb_only: ctx.client.repl_rdb_only,
        stream_on_ack: false,
        wait_since_ms: ctx.now,
    }
}

/// Queues the caller for a full synchronization (`PSYNC` that could not
/// continue, with the ID it asked for, or `SYNC`).
fn start_full_sync(ctx: &mut Ctx, wanted: Option<(String, i64)>, pre_psync: bool) {
    let link = new_link(ctx, pre_psync);
    let name = replica_name(&link.ip, link.listening_port);
    let r = &mut ctx.st.repl;
    let asked_id = wanted.as_ref().is_some_and(|(w, _)| w != "?");
    if asked_id {
        r.sync_partial_err += 1;
    }
    if !r.backlog_active {
        r.backlog_active = true;
        r.backlog.clear();
        r.backlog_first_offset = r.master_repl_offset + 1;
    }
    r.replicas.push(link);
    ctx.st
        .log_notice(&format!("Replica {name} asks for synchronization"));
    // Upstream's reason for refusing the partial resynchronization.
    let r = &ctx.st.repl;
    let mut ahead = false;
    let msg = match wanted {
        Some((w, _)) if w == "?" => Some(format!("Full resync requested by replica {name}")),
        Some((w, off)) if w == r.replid || w == r.replid2 && off <= r.second_repl_offset => {
            let m = format!(
                "Unable to partial resync with replica {name} for lack of backlog (Replica request was: {off})."
            );
            if off > r.master_repl_offset {
                ahead = true;
            }
            Some(m)
        }
        Some((w, off)) if w == r.replid2 => Some(format!(
            "Partial resynchronization not accepted: Requested offset for second ID was {off}, but I can reply up to {}",
            r.second_repl_offset
        )),
        Some((w, _)) => Some(format!(
            "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{w}', my replication IDs are '{}' and '{}')",
            r.replid, r.replid2
        )),
        None => None,
    };
    if let Some(m) = msg {
        ctx.st.log_notice(&m);
    }
    if ahead {
        ctx.st.log_warning(&format!("Warning: replica {name} tried to PSYNC with an offset that is greater than the master replication offset."));
    }
    if ctx.st.diskless_sync_delay(ctx.now).is_some() {
        ctx.st.log_notice("Delay next BGSAVE for diskless SYNC");
    }
    ctx.st.start_replica_sync();
}

/// # Format
/// `ROLE`
pub fn role(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let offset = ctx.st.repl.master_repl_offset;
    match ctx.st.master.clone() {
        Some(m) => {
            ctx.array(5);
            ctx.bulk(b"slave");
            ctx.bulk(m.host.as_bytes());
            ctx.int(i64::from(m.port));
            ctx.bulk(m.state.as_bytes());
            ctx.int(offset);
        }
        None => {
            let links: Vec<(String, u16, i64)> = ctx
                .st
                .repl
                .replicas
                .iter()
                .filter(|l| l.state == LinkState::Online)
                .map(|l| (l.ip.clone(), l.listening_port, l.ack_offset))
                .collect();
            ctx.array(3);
            ctx.bulk(b"master");
            ctx.int(offset);
            ctx.array(links.len());
            for (ip, port, ack) in links {
                ctx.array(3);
                ctx.bulk(ip.as_bytes());
                ctx.bulk(port.to_string().as_bytes());
                ctx.bulk(ack.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

/// # Format
/// `WAIT numreplicas timeout`
pub fn wait(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.st.master.is_some() {
        return Err(CmdError::fixed("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let n = args::int(&argv[1])?;
    let timeout = args::int(&argv[2])?;
    if timeout < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    let offset = ctx.st.repl.master_repl_offset;
    let acked = ctx.st.replicas_acked(offset) as i64;
    if acked >= n || ctx.client.in_exec {
        ctx.int(acked);
        return Ok(());
    }
    let deadline = if timeout == 0 {
        None
    } else {
        Some(ctx.now + timeout)
    };
    ctx.st.request_acks();
    ctx.block(
        &[],
        deadline,
        "wait",
        crate::blocking::TimeoutReply::NullArray,
        argv,
    );
    ctx.st.wait_clients.push((ctx.client.id, n, offset));
    Ok(())
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
        let mut tmp = State::new(self.config.clone(), now);
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
