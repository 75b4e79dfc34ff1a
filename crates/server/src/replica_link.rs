//! The replica side of replication: the task that follows the primary named
//! by `replicaof`/`REPLICAOF`. The protocol (handshake, payload reception,
//! the ACK schedule and `repl-timeout`) is `redis-replication`'s; this task
//! orchestrates it: it connects, moves the link state under the server
//! lock, loads a full sync's RDB the way `repl-diskless-load` says (parsing
//! runs off the lock), then applies the command stream through
//! `State::call` as the primary's client. The applied stream is fed
//! unchanged to our own backlog and replicas, so chained replicas see the
//! primary's bytes.
//!
//! Log lines follow upstream's wording for every step; operators grep them.
//! A failure ends the connection with a `LinkError`, whose text is the
//! line logged before reconnecting.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use redis_engine::client::{Client, ClientInfo, ConnSignal};
use redis_engine::persist::LoadError;
use redis_engine::replica::DisklessLoad;
use redis_replication::error::os_text;
use redis_replication::{
    handshake, receive_payload, CachedPrimary, HandshakeParams, LineLink, LinkState, Log, LogLevel,
    Payload, PayloadTarget, PsyncOutcome, ReplError, ReplicaAction, ReplicaLiveness, TransferInfo,
};
use redis_resp::{encode_request, RequestParser};
use tokio::net::TcpStream;

use crate::{log, now_ms, Shared};

/// Why following the primary stopped. Each text is the line logged (at
/// [`LinkError::level`]) before the link reconnects.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    /// A step of the protocol failed (handshake, transfer, timeouts).
    #[error(transparent)]
    Repl(#[from] ReplError),
    /// Another task panicked holding the server lock.
    #[error("state lock poisoned")]
    LockPoisoned,
    /// The server shuts down while a full sync waits to be loaded.
    #[error("Shutting down during the synchronization")]
    ShuttingDown,
    /// The payload did not load (the reason was logged just before).
    #[error(
        "Failed trying to load the MASTER synchronization DB from {}, check server logs.",
        if *.from_disk { "disk" } else { "socket" }
    )]
    LoadFailed { from_disk: bool },
    /// The command stream is not RESP.
    #[error("Protocol error from master: {0}")]
    Protocol(String),
    /// The primary changed while a full sync's payload was being parsed:
    /// it is dropped.
    #[error("Connection with master closed: the primary changed.")]
    PrimaryChanged,
}

impl LinkError {
    /// The level upstream logs this failure at.
    fn level(&self) -> LogLevel {
        match self {
            LinkError::Repl(e) => e.level(),
            LinkError::PrimaryChanged => LogLevel::Notice,
            _ => LogLevel::Warning,
        }
    }
}

/// Why a full sync's payload did not load: the line logged before
/// [`LinkError::LoadFailed`].
#[derive(Debug, thiserror::Error)]
enum SyncLoadError {
    /// The payload saved to disk cannot be opened again.
    #[error("{}", os_text(.0))]
    Open(#[source] std::io::Error),
    /// The payload is no valid RDB.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The loading task ended abnormally.
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs until shutdown, (re)connecting whenever a primary is configured.
pub async fn run(shared: Arc<Shared>) {
    let Some(wake) = shared.lock().map(|s| s.repl_notify.clone()) else {
        return;
    };
    loop {
        // Replication starts once the dataset on disk is loaded, as upstream.
        if shared.lock().is_some_and(|s| s.persistence.loading) {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
            }
        }
        let target = shared.lock().and_then(|s| {
            s.master
                .as_ref()
                .map(|m| (m.host.clone(), m.port, m.generation))
        });
        log::set_role(if target.is_some() { 'S' } else { 'M' });
        let Some((host, port, generation)) = target else {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = wake.notified() => continue,
            }
        };
        // A change of primary (REPLICAOF, a cluster failover promoting
        // us) cancels the link at once, whatever it was doing, as
        // upstream's `cancelReplicationHandshake`: a transfer from the old
        // primary must never replace the dataset afterwards.
        let follow = follow(&shared, &host, port, generation);
        tokio::pin!(follow);
        let result = loop {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                r = &mut follow => break Some(r),
                _ = wake.notified() => {
                    if !still_current(&shared, generation) {
                        break None;
                    }
                }
            }
        };
        match result {
            Some(Err(e)) => log::log(e.level(), &e.to_string()),
            Some(Ok(())) => {}
            None => {
                if let Some(mut st) = shared.lock() {
                    st.persistence.loading = false;
                    st.persistence.async_loading = false;
                }
                // Look at the new target right away.
                wake.notify_one();
            }
        }
        set_link(&shared, generation, |m| {
            m.set_state(LinkState::Connect, now_ms())
        });
        // Retry once a second, or at once when REPLICAOF changes.
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

fn lock(shared: &Shared) -> Result<MutexGuard<'_, redis_engine::State>, LinkError> {
    shared.lock().ok_or(LinkError::LockPoisoned)
}

/// [`lock`] for the stream loop: a busy script is waited for without
/// holding the thread (the primary's stream is applied after the script,
/// as upstream).
async fn lock_async(shared: &Shared) -> Result<MutexGuard<'_, redis_engine::State>, LinkError> {
    shared.lock_async().await.ok_or(LinkError::LockPoisoned)
}

/// Applies `f` to the master link if it is still the one we follow.
fn set_link(
    shared: &Shared,
    generation: u64,
    f: impl FnOnce(&mut redis_engine::replica::MasterLink),
) {
    if let Some(mut st) = shared.lock() {
        if let Some(m) = st.master.as_mut() {
            if m.generation == generation {
                f(m);
            }
        }
    }
}

/// Whether the link still follows the primary of `generation`. While a
/// script is busy it does (`REPLICAOF` waits for the script), and the
/// link's task must not wait for the lock on a thread serving clients.
fn still_current(shared: &Shared, generation: u64) -> bool {
    if shared.watch.busy() {
        return true;
    }
    shared
        .lock()
        .and_then(|s| s.master.as_ref().map(|m| m.generation == generation))
        .unwrap_or(false)
}

/// `repl-timeout` in seconds (at least 1); `last` while a script is busy
/// (the link's task does not wait for the lock then).
fn repl_timeout(shared: &Shared, last: i64) -> i64 {
    shared
        .lock_unless_busy()
        .map_or(last, |s| s.config.get_int("repl-timeout"))
        .max(1)
}

/// The crate's log lines into the server log; the transfer's progress into
/// the link state (`master_sync_*` of `INFO`) and the input counter.
struct LinkLog<'a> {
    shared: &'a Shared,
    generation: u64,
    /// Payload bytes already counted.
    counted: i64,
}

impl Log for LinkLog<'_> {
    fn log(&mut self, level: LogLevel, msg: String) {
        log::log(level, &msg);
    }

    fn transfer_progress(&mut self, total: i64, read: i64) {
        // Skipped while a script is busy (this runs on a thread serving
        // clients); the bytes are counted at the next report.
        let Some(mut st) = self.shared.lock_unless_busy() else {
            return;
        };
        let delta = (read - self.counted).max(0);
        self.counted = self.counted.max(read);
        st.repl.net_input_bytes += delta as u64;
        let now = now_ms();
        if let Some(m) = st.master.as_mut() {
            if m.generation == self.generation && m.state == LinkState::Transfer {
                m.transfer = Some(TransferInfo {
                    total,
                    read,
                    last_io_ms: now,
                });
            }
        }
    }
}

/// What the handshake sends, from the configuration and our history.
fn handshake_params(shared: &Shared) -> Result<HandshakeParams, LinkError> {
    let st = lock(shared)?;
    let nonempty = |name: &str| Some(st.config.get_str(name).to_string()).filter(|v| !v.is_empty());
    let failover = st.master.as_ref().is_some_and(|m| m.failover);
    // Synced before, fed replicas, or restored from the RDB: we offer to
    // continue that history (upstream's cached master); a fresh replica
    // asks for a full sync.
    let history = st.repl.ids.master_repl_offset != 0 || st.repl.backlog.active();
    // `replica-announce-port`/`-ip` replace what the primary would see
    // (NAT, containers); the address is only sent when configured.
    let announce = u16::try_from(st.config.get_int("replica-announce-port"))
        .ok()
        .filter(|&p| p > 0)
        .unwrap_or(st.port);
    Ok(HandshakeParams {
        auth: nonempty("masterauth"),
        user: nonempty("masteruser"),
        announce_port: announce,
        announce_ip: nonempty("replica-announce-ip"),
        cached: (history || failover).then(|| CachedPrimary {
            replid: st.repl.ids.replid.clone(),
            offset: st.repl.ids.master_repl_offset,
        }),
        failover,
    })
}

async fn follow(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
    generation: u64,
) -> Result<(), LinkError> {
    let mut link = connect(shared, host, port, generation).await?;
    let params = handshake_params(shared)?;
    let mut sink = LinkLog {
        shared,
        generation,
        counted: 0,
    };
    let outcome = match handshake(&mut link, &params, &mut sink).await {
        Ok(o) => o,
        Err(ReplError::FailoverRejected(_)) => {
            // The target refused to take over: we stay the primary.
            let mut st = lock(shared)?;
            st.log_notice(&format!(
                "FAILOVER to {host}:{port} aborted: {}",
                ReplError::FailoverRejected(String::new())
            ));
            let now = now_ms();
            st.become_primary(now);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        PsyncOutcome::FullResync { replid, offset } => {
            full_sync(shared, &mut link, generation, replid, offset).await?;
        }
        PsyncOutcome::Sync => {
            // A primary without PSYNC: its history has no ID we know.
            let id = {
                let mut st = lock(shared)?;
                redis_engine::state::random_hex(&mut st.rng)
            };
            full_sync(shared, &mut link, generation, id, 0).await?;
        }
        PsyncOutcome::Continue { new_replid } => continue_history(shared, new_replid)?,
    }
    set_link(shared, generation, |m| {
        m.set_state(LinkState::Connected, now_ms());
        m.failover = false;
    });
    stream_commands(shared, link, generation).await
}

/// Connects to the primary within `repl-timeout`: the link the handshake
/// then runs on.
async fn connect(
    shared: &Shared,
    host: &str,
    port: u16,
    generation: u64,
) -> Result<LineLink<TcpStream>, LinkError> {
    log::notice(&format!("Connecting to MASTER {host}:{port}"));
    log::notice("MASTER <-> REPLICA sync started");
    set_link(shared, generation, |m| {
        m.set_state(LinkState::Connecting, now_ms())
    });
    let timeout = Duration::from_secs(repl_timeout(shared, 60) as u64);
    let source = lock(shared)?.config.get_str("bind-source-addr").to_string();
    let stream = tokio::time::timeout(timeout, connect_from(host, port, &source))
        .await
        .map_err(|_| ReplError::ConnectTimeout)?
        .map_err(|e| ReplError::Socket(os_text(&e)))?;
    let _ = stream.set_nodelay(true);
    log::notice("Non blocking connect for SYNC fired the event.");
    set_link(shared, generation, |m| {
        m.set_state(LinkState::Handshake, now_ms())
    });
    Ok(LineLink::new(stream, timeout))
}

/// Connects to `host:port`, from `source` (`bind-source-addr`) when set:
/// best effort as upstream's, so an address that cannot be bound leaves
/// the choice to the system.
async fn connect_from(host: &str, port: u16, source: &str) -> std::io::Result<TcpStream> {
    let Ok(src) = source.parse::<std::net::IpAddr>() else {
        return TcpStream::connect((host, port)).await;
    };
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if addr.is_ipv4() == src.is_ipv4() {
            let _ = socket.bind(std::net::SocketAddr::new(src, 0));
        }
        match socket.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
}

/// `+CONTINUE`: the primary's stream goes on from our offset, under a new
/// replication ID when it announced one.
fn continue_history(shared: &Shared, new_replid: Option<String>) -> Result<(), LinkError> {
    let mut st = lock(shared)?;
    if let Some(id) = new_replid {
        // Our replicas must learn the new ID: they reconnect and continue
        // with us.
        st.repl.ids.shift(id);
        st.repl.disconnect_replicas();
    }
    if !st.repl.backlog.active() {
        // Restarted from our RDB: the history starts here.
        let next = st.repl.ids.master_repl_offset + 1;
        st.repl.backlog.activate(next);
    }
    Ok(())
}

/// Where a full sync's payload is loaded from.
enum SyncSource {
    /// Received into memory (a diskless load).
    Memory(Vec<u8>),
    /// Saved as `dbfilename` (`repl-diskless-load disabled`).
    File(PathBuf),
}

/// Receives the RDB, loads it the way `repl-diskless-load` says and takes
/// the primary's history. Log lines are upstream's for each path.
async fn full_sync(
    shared: &Arc<Shared>,
    link: &mut LineLink<TcpStream>,
    generation: u64,
    new_id: String,
    new_off: i64,
) -> Result<(), LinkError> {
    let mode = begin_transfer(shared, generation)?;
    enter_load_phase(shared, mode, &new_id)?;
    let res = transfer_and_load(shared, link, generation, mode, new_id, new_off).await;
    if res.is_err() {
        // Whatever failed, the old dataset (kept by swapdb) is served
        // again, or the flushed one stays empty: loading is over.
        let mut st = lock(shared)?;
        st.persistence.loading = false;
        st.persistence.async_loading = false;
    }
    res
}

/// As the payload starts to arrive, before it is read (upstream parses it
/// from the socket as it comes, so its loading state starts here): a
/// diskless load into an emptied dataset or into a swapdb backup of
/// another history makes clients wait with `-LOADING`; a swapdb load of
/// the same history (the replication ID did not change) keeps serving the
/// old data, with `async_loading:1`. A load from disk waits for the file.
fn enter_load_phase(shared: &Shared, mode: DisklessLoad, new_id: &str) -> Result<(), LinkError> {
    let mut st = lock(shared)?;
    match mode {
        DisklessLoad::Disk => {}
        DisklessLoad::SwapDb if st.repl.ids.replid == new_id => {
            st.persistence.async_loading = true;
        }
        DisklessLoad::SwapDb | DisklessLoad::Socket => st.persistence.loading = true,
    }
    Ok(())
}

/// [`full_sync`] after the transfer began: receives the payload, parses
/// it off the lock and installs it.
async fn transfer_and_load(
    shared: &Arc<Shared>,
    link: &mut LineLink<TcpStream>,
    generation: u64,
    mode: DisklessLoad,
    new_id: String,
    new_off: i64,
) -> Result<(), LinkError> {
    let target = if mode == DisklessLoad::Disk {
        PayloadTarget::Disk { dir: ".".into() }
    } else {
        PayloadTarget::Memory
    };
    let mut sink = LinkLog {
        shared,
        generation,
        counted: 0,
    };
    let payload = receive_payload(link, &target, &mut sink).await?;
    wait_for_saves(shared).await?;
    let (tmp, source) = prepare_load(shared, mode, payload)?;
    // Parsing runs off the lock: with swapdb the old dataset is served
    // meanwhile, otherwise clients get -LOADING.
    let from_disk = matches!(source, SyncSource::File(_));
    let parsed = tokio::task::spawn_blocking(move || parse_payload(tmp, source)).await;
    let replaced = install_payload(shared, generation, mode, parsed, from_disk, new_id, new_off)?;
    if mode == DisklessLoad::SwapDb {
        log::notice("MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    // Freeing a large dataset takes a while: not on the server's thread.
    let _ = std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || drop(replaced));
    log::notice("MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

/// The link enters the transfer. The dataset is about to change: our
/// replicas resync with us and our history can no longer be served, as
/// upstream. Returns how the payload is to be loaded.
fn begin_transfer(shared: &Shared, generation: u64) -> Result<DisklessLoad, LinkError> {
    let mut st = lock(shared)?;
    if let Some(m) = st.master.as_mut() {
        if m.generation == generation {
            m.set_state(LinkState::Transfer, now_ms());
        }
    }
    st.repl.disconnect_replicas();
    st.repl.backlog.deactivate();
    Ok(st.diskless_load_mode())
}

/// Waits for a save to disk in progress to finish (bounded by the save),
/// so that it is never left iterating a dataset that went away.
async fn wait_for_saves(shared: &Shared) -> Result<(), LinkError> {
    while lock(shared)?.prepare_sync_load() {
        if shared.shutdown.is_cancelled() {
            return Err(LinkError::ShuttingDown);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Under the lock, before parsing: a state to load into, the old dataset
/// flushed unless swapdb keeps serving it, and a payload received on
/// disk renamed to `dbfilename`.
fn prepare_load(
    shared: &Shared,
    mode: DisklessLoad,
    payload: Payload,
) -> Result<(redis_engine::State, SyncSource), LinkError> {
    let mut st = lock(shared)?;
    let tmp = st.loader(now_ms());
    if mode != DisklessLoad::SwapDb {
        log::notice("Discarding previously cached master state.");
        log::notice("MASTER <-> REPLICA sync: Flushing old data");
        st.flush_for_sync();
        st.persistence.loading = true;
    }
    let source = match payload {
        Payload::Memory(v) => SyncSource::Memory(v),
        Payload::File(f) => {
            let target = redis_engine::persist::rdb_path(&st);
            if let Err(e) = f.persist_as(&target) {
                st.persistence.loading = false;
                return Err(e.into());
            }
            SyncSource::File(target)
        }
    };
    log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
    Ok((tmp, source))
}

/// A parsed payload: the loader, with the keys loaded and expired or the
/// failure.
type Parsed = (redis_engine::State, Result<(u64, u64), SyncLoadError>);

/// Parses the payload into `tmp` (on a blocking thread, off the lock).
fn parse_payload(mut tmp: redis_engine::State, source: SyncSource) -> Parsed {
    let now = now_ms();
    let res = match source {
        SyncSource::Memory(bytes) => tmp
            .load_from(&mut redis_rdb::RdbReader::new(&bytes[..]), now)
            .map_err(SyncLoadError::from),
        SyncSource::File(path) => std::fs::File::open(&path)
            .map_err(SyncLoadError::Open)
            .and_then(|f| {
                let buf = std::io::BufReader::with_capacity(1 << 16, f);
                tmp.load_from(&mut redis_rdb::RdbReader::new(buf), now)
                    .map_err(SyncLoadError::from)
            }),
    };
    (tmp, res)
}

/// The payload did not load: loading ends, the reason is logged, and
/// the link fails with upstream's line.
fn load_failed(st: &mut redis_engine::State, e: SyncLoadError, from_disk: bool) -> LinkError {
    st.persistence.loading = false;
    log::warning(&e.to_string());
    LinkError::LoadFailed { from_disk }
}

/// Under the lock, after parsing: installs the loaded dataset and the
/// primary's history (`new_id`, `new_off`). Returns what is to be freed
/// off the server thread: the replaced dataset and the emptied loader.
fn install_payload(
    shared: &Shared,
    generation: u64,
    mode: DisklessLoad,
    parsed: Result<Parsed, tokio::task::JoinError>,
    from_disk: bool,
    new_id: String,
    new_off: i64,
) -> Result<(Vec<redis_storage::Db>, redis_engine::State), LinkError> {
    let (mut tmp, res) = match parsed {
        Ok(v) => v,
        Err(e) => return Err(load_failed(&mut *lock(shared)?, e.into(), from_disk)),
    };
    let mut st = lock(shared)?;
    if st.master.as_ref().map(|m| m.generation) != Some(generation) {
        // The primary changed while the payload was parsed.
        st.persistence.loading = false;
        st.persistence.async_loading = false;
        return Err(LinkError::PrimaryChanged);
    }
    let (loaded, expired) = match res {
        Ok(v) => v,
        Err(e) => return Err(load_failed(&mut st, e, from_disk)),
    };
    tmp.log_done_loading_rdb(loaded, expired);
    if mode == DisklessLoad::SwapDb {
        log::notice("Discarding previously cached master state.");
        log::notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
    }
    // Our own replicas may have reconnected meanwhile; they resync.
    st.prepare_sync_load();
    let old = st.install_synced_dataset(&mut tmp);
    st.persistence.loading = false;
    st.persistence.async_loading = false;
    st.adopt_primary_history(new_id, new_off);
    // The AOF describes the dataset the sync replaced: rewrite it.
    st.restart_aof_after_sync();
    if from_disk {
        st.remove_sync_file_if_unwanted();
    }
    Ok((old, tmp))
}

/// Whether a stop signal (`SIGSTOP`, `SIGTSTP`) sent to the process is
/// still queued, not yet taken by any thread: the `ShdPnd`/`SigPnd` masks
/// of `/proc/thread-self/status` (`sigpending(2)` cannot tell: it only
/// reports blocked signals, and a stop signal cannot be blocked).
fn stop_signal_pending() -> bool {
    const STOPS: u64 = (1 << (libc::SIGSTOP - 1)) | (1 << (libc::SIGTSTP - 1));
    let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else {
        return false;
    };
    status.lines().any(|l| {
        let mask = l
            .strip_prefix("ShdPnd:")
            .or_else(|| l.strip_prefix("SigPnd:"));
        mask.and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & STOPS != 0)
    })
}

/// Waits (at most 2 s) while a stop signal is queued. A signal sent to the
/// process goes to its main thread, which stops the others once it runs;
/// until then this thread (a runtime worker) may still run. A single-
/// threaded server stops before it can answer anything, and tests (and
/// operators) rely on that: upstream's `unit/wait` SIGSTOPs a replica and
/// expects `WAIT` to get no acknowledgement. So no `REPLCONF ACK` leaves
/// while a stop is queued; once the main thread took the signal, the
/// stop is already pending here too, and the system call of the check
/// itself is where this thread stops. Checked only before an ACK (once
/// a second, and per `GETACK`): it reads a /proc file.
async fn wait_out_stop_signal() {
    for _ in 0..2000 {
        if !stop_signal_pending() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Sends `REPLCONF ACK <offset>` (never while a stop signal is queued:
/// see [`wait_out_stop_signal`]).
async fn send_ack(link: &mut LineLink<TcpStream>, offset: i64) -> Result<(), LinkError> {
    wait_out_stop_signal().await;
    let off = offset.to_string();
    link.send(&[b"REPLCONF", b"ACK", off.as_bytes()])
        .await
        .map_err(|_| ReplError::ConnectionLost.into())
}

/// Applies the primary's command stream until the link drops or the
/// primary changes, acknowledging our offset once a second and on
/// `REPLCONF GETACK`, and dropping a primary silent past `repl-timeout`.
/// The primary's link in the client registry; removed from it when the
/// link ends, however it ends.
struct MasterClient<'a> {
    shared: &'a Shared,
    id: u64,
}

impl<'a> MasterClient<'a> {
    fn register(
        shared: &'a Shared,
        link: &LineLink<TcpStream>,
        signal: Arc<ConnSignal>,
    ) -> Result<MasterClient<'a>, LinkError> {
        let sock = link.stream();
        let addr = sock.peer_addr().map(|a| format!("{}:{}", a.ip(), a.port()));
        let laddr = sock
            .local_addr()
            .map(|a| format!("{}:{}", a.ip(), a.port()));
        let fd = {
            use std::os::fd::AsRawFd;
            i64::from(sock.as_raw_fd())
        };
        let mut info = ClientInfo::new(
            addr.unwrap_or_default(),
            laddr.unwrap_or_default(),
            fd,
            false,
            signal,
            now_ms(),
        );
        info.is_master = true;
        let mut st = lock(shared)?;
        let id = st.add_client(info);
        Ok(MasterClient { shared, id })
    }
}

impl Drop for MasterClient<'_> {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self
            .shared
            .watch
            .with_state(&self.shared.state, move |st| st.remove_client(id));
    }
}

async fn stream_commands(
    shared: &Arc<Shared>,
    mut link: LineLink<TcpStream>,
    generation: u64,
) -> Result<(), LinkError> {
    // The primary's link is a client like the others (`CLIENT LIST` flag
    // `M`, `CLIENT KILL` by its address or `TYPE master` drops it, and the
    // link then reconnects with a partial resync), as upstream's.
    let (tx, mut killed) = redis_net::push_channel();
    let signal = Arc::new(ConnSignal::new(tx));
    // CLIENT KILL closes the socket at once, even while a transaction or
    // DEBUG SLEEP holds the state this task waits for.
    if let Ok(dup) = link.stream().as_fd().try_clone_to_owned() {
        let sock = std::net::TcpStream::from(dup);
        signal.on_kill(move || {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        });
    }
    let master = MasterClient::register(shared, &link, signal.clone())?;
    let mut client = Client::new(master.id, signal.clone(), true);
    client.is_master = true;
    client.authenticated = true;
    // The stream goes on in the database it was in when the link dropped.
    client.db = lock(shared)?.repl.stream_db;
    // A transaction's bytes count (offset, backlog, our replicas) only
    // once its EXEC ran: a link lost inside MULTI resumes from the MULTI,
    // as upstream's replica, which moves its offset only outside one.
    let mut pending_tx = BytesMut::new();
    let mut parser = RequestParser::default();
    let mut live = ReplicaLiveness::new(now_ms());
    // Bytes that arrived with the PSYNC reply are applied before waiting.
    let mut process_now = !link.buffer().is_empty();
    let wake = lock(shared)?.repl_notify.clone();
    let mut timeout_secs = repl_timeout(shared, 60);
    loop {
        if signal.is_killed() {
            return Err(ReplError::ConnectionLost.into());
        }
        timeout_secs = repl_timeout(shared, timeout_secs);
        let wait_ms = (live.next_wakeup(timeout_secs) - now_ms()).max(0) as u64;
        // The rest of a big argument is read into room reserved at once.
        link.reserve_for(parser.reserve_hint());
        tokio::select! {
            _ = shared.shutdown.cancelled() => return Ok(()),
            _ = wake.notified() => {
                if !still_current(shared, generation) {
                    log::notice("Connection with master closed: the primary changed.");
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
            // CLIENT KILL wakes us through the link client's mailbox.
            _ = killed.recv() => continue,
            _ = std::future::ready(()), if process_now => {}
            r = link.read_available(), if !process_now => {
                match r {
                    Ok(0) | Err(_) => return Err(ReplError::ConnectionLost.into()),
                    Ok(n) => {
                        live.on_data(now_ms());
                        if let Some(mut st) = shared.lock_async().await {
                            st.repl.net_input_bytes += n as u64;
                        }
                    }
                }
            }
        }
        process_now = false;
        match live.poll(now_ms(), timeout_secs) {
            Some(ReplicaAction::Timeout) => return Err(ReplicaLiveness::timeout_error().into()),
            Some(ReplicaAction::SendAck) => {
                let off = lock_async(shared).await?.repl.ids.master_repl_offset;
                send_ack(&mut link, off).await?;
            }
            None => {}
        }
        if link.buffer().is_empty() {
            continue;
        }
        let mut acks: Vec<i64> = Vec::new();
        {
            let mut st = lock_async(shared).await?;
            // Checked under the same lock as the commands run: once this
            // server was promoted or pointed elsewhere (PSYNC FAILOVER,
            // REPLICAOF) while the bytes waited, they belong to a primary
            // it no longer follows and are dropped, as upstream frees the
            // master client with its unread input.
            if st.master.as_ref().map(|m| m.generation) != Some(generation) {
                log::notice("Connection with master closed: the primary changed.");
                return Ok(());
            }
            let now = now_ms();
            if let Some(m) = st.master.as_mut() {
                m.last_io_ms = now;
            }
            st.begin_batch();
            loop {
                match parser.parse(link.buffer_mut()) {
                    Ok(Some(argv)) => {
                        // Primaries send canonical multibulk, so re-encoding
                        // gives the exact bytes received (the parser keeps
                        // partial headers between reads).
                        let mut raw = BytesMut::new();
                        encode_request(&argv, &mut raw);
                        let is_getack = argv.len() >= 2
                            && argv[0].eq_ignore_ascii_case(b"REPLCONF")
                            && argv[1].eq_ignore_ascii_case(b"GETACK");
                        // The primary's PINGs only keep the link alive,
                        // unless PING was renamed or removed here: then,
                        // like upstream, it fails as an unknown command.
                        let keepalive = argv[0].eq_ignore_ascii_case(b"PING")
                            && st.registry.lookup(b"ping").is_some();
                        if !is_getack && !keepalive {
                            let mut out = BytesMut::new();
                            st.call(
                                redis_engine::dispatch::Caller::Primary,
                                &mut client,
                                argv,
                                &mut out,
                                now,
                            );
                        }
                        // The stream goes on unchanged to our own backlog and
                        // replicas; it moves our offset.
                        if client.multi.is_some() {
                            pending_tx.extend_from_slice(&raw);
                            continue;
                        }
                        if !pending_tx.is_empty() {
                            pending_tx.extend_from_slice(&raw);
                            raw = std::mem::take(&mut pending_tx);
                        }
                        st.feed_stream(&raw);
                        st.repl.stream_db = client.db;
                        if is_getack {
                            acks.push(st.repl.ids.master_repl_offset);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(LinkError::Protocol(e.0)),
                }
            }
            st.tracking_broadcast(None);
        }
        for off in acks {
            send_ack(&mut link, off).await?;
        }
    }
}
