//! The replica side of replication: the task that follows the primary named
//! by `replicaof`/`REPLICAOF`. It performs upstream's handshake (`PING`,
//! `AUTH`, `REPLCONF listening-port` (and `ip-address` when
//! `replica-announce-ip` is set), `REPLCONF capa eof capa psync2`,
//! `PSYNC`), loads the RDB of a full sync (from a temp file or from
//! memory, swapping datasets, as `repl-diskless-load` says; parsing runs
//! off the server lock), then applies the command stream
//! as the primary's client, acknowledging the offset every second and on
//! `REPLCONF GETACK`. The applied stream is fed unchanged to our own
//! backlog and replicas, so chained replicas see the primary's bytes.
//!
//! Log lines follow upstream's wording for every step; operators grep them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use redis_engine::client::{Client, ConnSignal};
use redis_engine::replica::DisklessLoad;
use redis_resp::{encode_request, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{log, now_ms, Shared};

/// Runs until shutdown, (re)connecting whenever a primary is configured.
pub async fn run(shared: Arc<Shared>) {
    let Some(wake) = shared.state.lock().ok().map(|s| s.repl_notify.clone()) else {
        return;
    };
    loop {
        // Replication starts once the dataset on disk is loaded, as upstream.
        if shared.state.lock().is_ok_and(|s| s.persistence.loading) {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
            }
        }
        let target = shared.state.lock().ok().and_then(|s| {
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
        let result = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            r = follow(&shared, &host, port, generation) => r,
        };
        if let Err(e) = result {
            log::warning(&e);
        }
        set_link(&shared, generation, |m| {
            if m.state == "connected" {
                m.down_since_ms = now_ms();
            }
            m.state = "connect";
            m.sync_in_progress = false;
        });
        // Retry once a second, or at once when REPLICAOF changes.
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Applies `f` to the master link if it is still the one we follow.
fn set_link(
    shared: &Shared,
    generation: u64,
    f: impl FnOnce(&mut redis_engine::replica::MasterLink),
) {
    if let Ok(mut st) = shared.state.lock() {
        if let Some(m) = st.master.as_mut() {
            if m.generation == generation {
                f(m);
            }
        }
    }
}

fn still_current(shared: &Shared, generation: u64) -> bool {
    shared
        .state
        .lock()
        .ok()
        .and_then(|s| s.master.as_ref().map(|m| m.generation == generation))
        .unwrap_or(false)
}

/// A line-oriented reader over the primary's socket.
struct Link {
    stream: TcpStream,
    buf: BytesMut,
}

impl Link {
    /// Room for a large read: `read_buf` only fills spare capacity, and
    /// a buffer left small by the handshake lines would take the payload
    /// and the stream a few dozen bytes per read.
    fn make_room(&mut self) {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(256 * 1024);
        }
    }

    async fn read_more(&mut self) -> Result<(), String> {
        self.make_room();
        let n = tokio::time::timeout(Duration::from_secs(60), self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
            .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
        if n == 0 {
            return Err("Connection with master lost.".into());
        }
        Ok(())
    }

    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(p + 1);
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                return Ok(text);
            }
            self.read_more().await?;
        }
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("Error condition on socket for SYNC: {e}"))
    }

    async fn cmd(&mut self, args: &[&[u8]]) -> Result<String, String> {
        self.send(args).await?;
        self.line().await
    }
}

async fn follow(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
    generation: u64,
) -> Result<(), String> {
    log::notice(&format!("Connecting to MASTER {host}:{port}"));
    log::notice("MASTER <-> REPLICA sync started");
    set_link(shared, generation, |m| m.state = "connecting");
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect((host, port)))
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {}", os_text(&e)))?;
    let _ = stream.set_nodelay(true);
    log::notice("Non blocking connect for SYNC fired the event.");
    let mut link = Link {
        stream,
        buf: BytesMut::new(),
    };
    let pong = link.cmd(&[b"PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") && !pong.starts_with("-NOPERM") {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    log::notice("Master replied to PING, replication can continue...");
    let (auth, user, my_port, replid, offset, history) = {
        let st = shared.state.lock().map_err(|_| "state lock poisoned")?;
        (
            st.config.get_str("masterauth").to_string(),
            st.config.get_str("masteruser").to_string(),
            st.port,
            st.repl.replid.clone(),
            st.repl.master_repl_offset,
            // Synced before, fed replicas, or restored from the RDB.
            st.repl.master_repl_offset != 0 || st.repl.backlog_active,
        )
    };
    if !auth.is_empty() {
        let r = if user.is_empty() {
            link.cmd(&[b"AUTH", auth.as_bytes()]).await?
        } else {
            link.cmd(&[b"AUTH", user.as_bytes(), auth.as_bytes()])
                .await?
        };
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    // `replica-announce-port`/`-ip` replace what the primary would see
    // (NAT, containers); the address is only sent when configured.
    let (announce, announce_ip) = {
        let st = shared.state.lock().map_err(|_| "state lock poisoned")?;
        let p = st.config.get_int("replica-announce-port");
        let port = u16::try_from(p).ok().filter(|&p| p > 0).unwrap_or(my_port);
        (port, st.config.get_str("replica-announce-ip").to_string())
    };
    let r = link
        .cmd(&[
            b"REPLCONF",
            b"listening-port",
            announce.to_string().as_bytes(),
        ])
        .await?;
    if r.starts_with('-') {
        log::notice(&format!(
            "(Non critical) Master does not understand REPLCONF listening-port: {r}"
        ));
    }
    if !announce_ip.is_empty() {
        let r = link
            .cmd(&[b"REPLCONF", b"ip-address", announce_ip.as_bytes()])
            .await?;
        if r.starts_with('-') {
            log::notice(&format!(
                "(Non critical) Master does not understand REPLCONF ip-address: {r}"
            ));
        }
    }
    let r = link
        .cmd(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    if r.starts_with('-') {
        log::notice(&format!(
            "(Non critical) Master does not understand REPLCONF capa: {r}"
        ));
    }
    // A replica that was a primary (or synced before) offers its history.
    let failover = shared
        .state
        .lock()
        .ok()
        .and_then(|s| s.master.as_ref().map(|m| m.failover))
        .unwrap_or(false);
    // Without a history of our own (a fresh start), ask for a full sync
    // as upstream does when it has no cached master.
    let (replid, psync_offset) = if !history && !failover {
        log::notice("Partial resynchronization not possible (no cached master)");
        ("?".to_string(), "-1".to_string())
    } else {
        let o = (offset + 1).to_string();
        log::notice(&format!(
            "Trying a partial resynchronization (request {replid}:{o})."
        ));
        (replid, o)
    };
    if failover {
        log::notice("Sending PSYNC FAILOVER to the failover target.");
        link.send(&[
            b"PSYNC",
            replid.as_bytes(),
            psync_offset.as_bytes(),
            b"FAILOVER",
        ])
        .await?;
    } else {
        link.send(&[b"PSYNC", replid.as_bytes(), psync_offset.as_bytes()])
            .await?;
    }
    // A primary preparing the RDB on disk sends bare newlines as
    // keep-alives before its answer.
    let reply = loop {
        let l = link.line().await?;
        if !l.is_empty() {
            break l;
        }
    };
    set_link(shared, generation, |m| {
        m.state = "sync";
        m.sync_in_progress = true;
    });
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split_whitespace();
        let new_id = parts.next().unwrap_or_default().to_string();
        let new_off: i64 = parts.next().and_then(|o| o.parse().ok()).unwrap_or(0);
        log::notice(&format!("Full resync from master: {new_id}:{new_off}"));
        full_sync(shared, &mut link, new_id, new_off).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        let mut st = shared.state.lock().map_err(|_| "state lock poisoned")?;
        if !new_id.is_empty() && new_id != st.repl.replid {
            st.repl.shift_replid(new_id.to_string());
            log::notice(&format!("Master replication ID changed to {new_id}"));
        }
        log::notice("Successful partial resynchronization with master.");
        log::notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    set_link(shared, generation, |m| {
        m.state = "connected";
        m.sync_in_progress = false;
        m.last_io_ms = now_ms();
        m.failover = false;
    });
    stream_commands(shared, link, generation).await
}

/// Where the RDB of a full sync was put while receiving it.
enum Payload {
    /// In memory, to be parsed (`repl-diskless-load` swapdb/on-empty-db).
    Memory(Vec<u8>),
    /// In a temp file (`disabled`, or `on-empty-db` with data).
    File(TempFile),
}

/// A temp file removed on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Receives the RDB, loads it the way `repl-diskless-load` says and takes
/// the primary's history. Log lines are upstream's for each path.
async fn full_sync(
    shared: &Arc<Shared>,
    link: &mut Link,
    new_id: String,
    new_off: i64,
) -> Result<(), String> {
    let mode = lock(shared)?.diskless_load_mode();
    let payload = receive_rdb(link, mode).await?;
    // A save to disk in progress finishes first (bounded by the save),
    // so it is never left iterating a dataset that went away.
    while lock(shared)?.prepare_sync_load() {
        if shared.shutdown.is_cancelled() {
            return Err("Shutting down during the synchronization".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (tmp, source) = {
        let mut st = lock(shared)?;
        let tmp = st.loader(now_ms());
        if mode != DisklessLoad::SwapDb {
            log::notice("Discarding previously cached master state.");
            log::notice("MASTER <-> REPLICA sync: Flushing old data");
            st.flush_for_sync();
            st.persistence.loading = true;
        }
        let source = match payload {
            Payload::Memory(v) => Ok(v),
            Payload::File(mut f) => {
                let target = redis_engine::persist::rdb_path(&st);
                if let Err(e) = std::fs::rename(&f.path, &target) {
                    st.persistence.loading = false;
                    return Err(format!(
                        "Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {}",
                        target.display(),
                        os_text(&e)
                    ));
                }
                f.keep = true;
                Err(target)
            }
        };
        log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
        (tmp, source)
    };
    // Parsing runs off the lock: with swapdb the old dataset is served
    // meanwhile, otherwise clients get -LOADING.
    let from_disk = source.is_err();
    let joined = tokio::task::spawn_blocking(move || {
        let mut tmp = tmp;
        let now = now_ms();
        let res = match source {
            Ok(bytes) => tmp.load_from(&mut redis_rdb::RdbReader::new(&bytes[..]), now),
            Err(path) => std::fs::File::open(&path)
                .map_err(|e| os_text(&e))
                .and_then(|f| {
                    let buf = std::io::BufReader::with_capacity(1 << 16, f);
                    tmp.load_from(&mut redis_rdb::RdbReader::new(buf), now)
                }),
        };
        (tmp, res)
    })
    .await;
    let failed = |st: &mut redis_engine::State, e: &str| {
        st.persistence.loading = false;
        log::warning(e);
        format!(
            "Failed trying to load the MASTER synchronization DB from {}, check server logs.",
            if from_disk { "disk" } else { "socket" }
        )
    };
    let (mut tmp, res) = match joined {
        Ok(v) => v,
        Err(e) => return Err(failed(&mut *lock(shared)?, &e.to_string())),
    };
    let old = {
        let mut st = lock(shared)?;
        let (loaded, expired) = match res {
            Ok(v) => v,
            Err(e) => return Err(failed(&mut st, &e)),
        };
        log::notice(&format!(
            "Done loading RDB, keys loaded: {loaded}, keys expired: {expired}."
        ));
        if mode == DisklessLoad::SwapDb {
            log::notice("Discarding previously cached master state.");
            log::notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
        }
        // Our own replicas may have reconnected meanwhile; they resync.
        st.prepare_sync_load();
        let old = st.install_synced_dataset(&mut tmp);
        st.persistence.loading = false;
        st.adopt_primary_history(new_id, new_off);
        // The AOF describes the dataset the sync replaced: rewrite it.
        st.restart_aof_after_sync();
        old
    };
    if mode == DisklessLoad::SwapDb {
        log::notice("MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    // Freeing a large dataset takes a while: not on the server's thread.
    let _ = std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || drop((old, tmp)));
    log::notice("MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

fn lock(shared: &Shared) -> Result<std::sync::MutexGuard<'_, redis_engine::State>, String> {
    shared
        .state
        .lock()
        .map_err(|_| "state lock poisoned".to_string())
}

/// Reads the RDB payload of a full sync (`$<len>` or `$EOF:<mark>` form)
/// into memory (loading from the socket) or into a temp file (loading
/// from disk), leaving what follows it in `link.buf`.
async fn receive_rdb(link: &mut Link, mode: DisklessLoad) -> Result<Payload, String> {
    // The primary may send newlines as keep-alives before the payload.
    let header = loop {
        let l = link.line().await?;
        if !l.is_empty() {
            break l;
        }
    };
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!("Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"));
    };
    let to_disk = mode == DisklessLoad::Disk;
    let target = if to_disk { "disk" } else { "parser" };
    let mut sink = if to_disk {
        let path = PathBuf::from(format!(
            "temp-{}.{}.rdb",
            now_ms() / 1000,
            std::process::id()
        ));
        let file = tokio::fs::File::create(&path).await.map_err(|e| {
            format!(
                "Opening the temp file needed for MASTER <-> REPLICA synchronization: {}",
                os_text(&e)
            )
        })?;
        Sink::File(
            tokio::io::BufWriter::with_capacity(1 << 20, file),
            TempFile { path, keep: false },
        )
    } else {
        Sink::Memory(Vec::new())
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        log::notice(&format!(
            "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {target}"
        ));
        // The marker ends the payload: the primary sends nothing after it
        // until we acknowledge, so it is the tail of what we read. The
        // last `mark.len()` bytes are held back until we know.
        let mut held: Vec<u8> = Vec::new();
        loop {
            held.extend_from_slice(&link.buf);
            link.buf.clear();
            if held.ends_with(&mark) {
                held.truncate(held.len() - mark.len());
                sink.write(&held).await?;
                break;
            }
            if held.len() > mark.len() {
                let keep = held.split_off(held.len() - mark.len());
                sink.write(&held).await?;
                held = keep;
            }
            link.read_more().await?;
        }
    } else {
        let len: usize = spec
            .parse()
            .map_err(|_| format!("Bad RDB length from MASTER: {spec}"))?;
        log::notice(&format!(
            "MASTER <-> REPLICA sync: receiving {len} bytes from master to {target}"
        ));
        let mut left = len;
        loop {
            let n = left.min(link.buf.len());
            let chunk = link.buf.split_to(n);
            sink.write(&chunk).await?;
            left -= n;
            if left == 0 {
                break;
            }
            link.read_more().await?;
        }
    }
    sink.finish().await
}

/// The destination of a payload being received.
enum Sink {
    Memory(Vec<u8>),
    File(tokio::io::BufWriter<tokio::fs::File>, TempFile),
}

impl Sink {
    async fn write(&mut self, data: &[u8]) -> Result<(), String> {
        match self {
            Sink::Memory(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Sink::File(w, _) => w.write_all(data).await.map_err(|e| {
                format!(
                    "Write error writing to the DB file received from master: {}",
                    os_text(&e)
                )
            }),
        }
    }

    async fn finish(self) -> Result<Payload, String> {
        match self {
            Sink::Memory(v) => Ok(Payload::Memory(v)),
            Sink::File(mut w, t) => {
                let synced = match w.flush().await {
                    Ok(()) => w.get_mut().sync_all().await,
                    Err(e) => Err(e),
                };
                synced.map_err(|e| {
                    format!(
                        "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {}",
                        os_text(&e)
                    )
                })?;
                Ok(Payload::File(t))
            }
        }
    }
}

/// Applies the primary's command stream until the link drops or the
/// primary changes.
async fn stream_commands(
    shared: &Arc<Shared>,
    mut link: Link,
    generation: u64,
) -> Result<(), String> {
    let (tx, _rx) = redis_net::push_channel();
    let signal = Arc::new(ConnSignal::new(tx));
    let mut client = Client::new(0, signal, true);
    client.is_master = true;
    client.authenticated = true;
    let mut parser = RequestParser::default();
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    // repl-timeout: the primary sends at least a PING every
    // repl-ping-replica-period seconds, so silence means a dead link.
    let mut last_data = std::time::Instant::now();
    // Bytes that arrived with the PSYNC reply are applied before waiting.
    let mut process_now = !link.buf.is_empty();
    let wake = shared
        .state
        .lock()
        .ok()
        .map(|s| s.repl_notify.clone())
        .ok_or("state lock poisoned")?;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return Ok(()),
            _ = wake.notified() => {
                if !still_current(shared, generation) {
                    log::notice("Connection with master closed: the primary changed.");
                    return Ok(());
                }
            }
            _ = ack.tick() => {
                let (off, timeout) = shared
                    .state
                    .lock()
                    .map(|s| (s.repl.master_repl_offset, s.config.get_int("repl-timeout")))
                    .unwrap_or((0, 60));
                if last_data.elapsed() > Duration::from_secs(timeout.max(1) as u64) {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
                link.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
            }
            _ = std::future::ready(()), if process_now => {}
            r = async {
                link.make_room();
                link.stream.read_buf(&mut link.buf).await
            }, if !process_now => {
                match r {
                    Ok(0) | Err(_) => return Err("Connection with master lost.".into()),
                    Ok(_) => last_data = std::time::Instant::now(),
                }
            }
        }
        process_now = false;
        if link.buf.is_empty() {
            continue;
        }
        let mut acks: Vec<i64> = Vec::new();
        {
            let mut st = shared.state.lock().map_err(|_| "state lock poisoned")?;
            let now = now_ms();
            if let Some(m) = st.master.as_mut() {
                m.last_io_ms = now;
            }
            st.begin_batch();
            loop {
                match parser.parse(&mut link.buf) {
                    Ok(Some(argv)) => {
                        // Primaries send canonical multibulk, so re-encoding
                        // gives the exact bytes received (the parser keeps
                        // partial headers between reads).
                        let mut raw = BytesMut::new();
                        encode_request(&argv, &mut raw);
                        let is_getack = argv.len() >= 2
                            && argv[0].eq_ignore_ascii_case(b"REPLCONF")
                            && argv[1].eq_ignore_ascii_case(b"GETACK");
                        if !is_getack && !argv[0].eq_ignore_ascii_case(b"PING") {
                            let mut sink = BytesMut::new();
                            st.call(
                                redis_engine::dispatch::Caller::Primary,
                                &mut client,
                                argv,
                                &mut sink,
                                now,
                            );
                        }
                        // The stream goes on unchanged to our own backlog and
                        // replicas; it moves our offset.
                        st.feed_stream(&raw);
                        if is_getack {
                            acks.push(st.repl.master_repl_offset);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("Protocol error from master: {}", e.0)),
                }
            }
        }
        for off in acks {
            link.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()])
                .await?;
        }
    }
}

fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
