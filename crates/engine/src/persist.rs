//! RDB persistence driven by the engine: `SAVE`, `BGSAVE` (fork-free, from
//! an incremental snapshot) and the save points, the final save of a
//! shutdown and the one after `FLUSHALL`, loading `dbfilename` (startup,
//! `DEBUG RELOAD`) or any RDB stream (an AOF's preamble, a full sync),
//! the snapshots streamed to replicas for a full sync, and the conversion
//! between stored values and the neutral model of `redis-rdb` (which
//! `DUMP`/`RESTORE` use too). Failures are a [`SaveError`] (the save
//! commands' replies) or a [`LoadError`] (the fatal load lines).
//!
//! A background save runs in slices under the server lock (each slice turns
//! entries into RDB bytes for about [`SLICE_BUDGET`] of wall time) and
//! hands the bytes to a writer thread that owns the file; the server never
//! waits for the disk.
//! The file is written as `temp-<pid>.rdb`, fsynced and renamed over
//! `dbfilename`, so a crash never leaves a half-written dump in its place.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use bytes::Bytes;
use rand::Rng;
use redis_rdb::{RdbEntry, RdbItem, RdbReader, RdbValue, RdbWriter, WriterOptions};
use redis_replication::{psync, ReplicaState};
use redis_storage::list::ListValue;
use redis_storage::string::StrValue;
use redis_storage::{Entry, Key, Keyspace, Snapshot, Value};

use crate::state::State;

/// Entries serialized between two looks at the clock within a background
/// slice (a few tens of microseconds of work).
pub const STEP_ENTRIES: usize = 256;
/// Wall time one background slice may hold the server lock: short enough
/// that a client waiting behind it hardly notices, long enough that the
/// per-slice costs (lock, wake-up, scheduling) vanish in the work. A fixed
/// 512-entry step spent most of a full sync in those costs.
pub const SLICE_BUDGET: std::time::Duration = std::time::Duration::from_millis(1);
/// The writer may lag this many bytes behind before steps pause.
const MAX_PENDING: usize = 16 * 1024 * 1024;

/// Why `SAVE`, `BGSAVE` or the final save of a shutdown did not save.
/// Each text is the reply the command sends (a shutdown logs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// A background save or another snapshot is already running.
    #[error("ERR Background save already in progress")]
    InProgress,
    /// The save failed: the log says why, the reply is a bare `-ERR` as
    /// upstream's.
    #[error("ERR")]
    Failed,
    /// Shutdown refused: the AOF just turned on has no base yet, exiting
    /// would lose the dataset (upstream's `Writing initial AOF, can't
    /// exit.`).
    #[error("ERR Writing initial AOF, can't exit.")]
    InitialAof,
}

/// Why an RDB stream could not be loaded (`dbfilename` at startup or by
/// `DEBUG RELOAD`, an AOF's RDB preamble, a full sync's payload). Each
/// text is the fatal line the server logs.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `dbfilename` exists but cannot be opened.
    #[error("Fatal error loading the DB: {0}. Exiting.")]
    Open(#[source] io::Error),
    /// The stream is truncated or malformed.
    #[error("Short read or OOM loading DB. Unrecoverable error, aborting now. ({0})")]
    Corrupt(#[source] redis_rdb::Error),
    /// An entry names a database beyond `databases` (the count).
    #[error("FATAL: Data file was created with a Redis server configured to handle more than {0} databases. Exiting")]
    TooManyDbs(usize),
    /// A function library of the file does not load.
    #[error("Failed loading library: {0}")]
    Functions(String),
}

/// Persistence status for `INFO persistence` and the save machinery.
#[derive(Debug)]
pub struct Persistence {
    pub bgsave: Option<BgSave>,
    pub last_bgsave_ok: bool,
    pub last_bgsave_time_sec: i64,
    pub rdb_saves: u64,
    pub bgsave_scheduled: bool,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// Empty collections the last RDB load skipped (upstream's "empty
    /// keys skipped").
    pub last_load_empty_skipped: u64,
    pub loading: bool,
    /// `async_loading`: a replica loading a full sync of the same history
    /// (`repl-diskless-load swapdb`, unchanged replication ID) while it
    /// goes on serving the old dataset.
    pub async_loading: bool,
    /// While a primary loads its RDB at startup: the keys skipped as
    /// expired, which become `DEL`s in the restored history (upstream's
    /// `RDBFLAGS_FEED_REPL`).
    pub expired_at_startup: Option<Vec<(usize, Bytes)>>,
    /// Set while `SAVE` (or a shutdown save) runs the save inline.
    pub sync_save: bool,
    /// Unix seconds of the last background save attempt (a failed save
    /// is retried by the save points only 5 seconds later, as upstream).
    pub last_bgsave_try: i64,
    /// Incremental fsyncs made by the last successful save or AOF
    /// rewrite (every 4 MB written when the `*-incremental-fsync`
    /// directive was on when it started).
    pub last_save_incremental_fsyncs: u64,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            bgsave: None,
            last_bgsave_ok: true,
            last_bgsave_time_sec: -1,
            rdb_saves: 0,
            bgsave_scheduled: false,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            last_load_empty_skipped: 0,
            loading: false,
            async_loading: false,
            expired_at_startup: None,
            sync_save: false,
            last_bgsave_try: 0,
            last_save_incremental_fsyncs: 0,
        }
    }
}

/// Where a snapshot's RDB bytes go.
pub(crate) enum Sink {
    /// The writer thread of a save to disk.
    File(mpsc::Sender<Vec<u8>>),
    /// Replicas receiving a full sync: the push channels of those taking
    /// the EOF-marked stream, and the whole payload collected for those
    /// needing a `$<len>` bulk (no `capa eof`).
    Replicas {
        targets: Vec<Arc<crate::client::ConnSignal>>,
        collect: Option<Arc<std::sync::Mutex<Vec<u8>>>>,
    },
}

/// A `Write` that forwards bytes to the writer thread or to replicas.
pub(crate) struct ChannelWriter {
    sink: Sink,
    pending: Arc<AtomicUsize>,
}

impl ChannelWriter {
    /// Tells a file's writer thread the payload is complete: only then is
    /// the temp file fsynced and renamed into place. A save abandoned
    /// midway (shutdown, error) drops the writer without this, and the
    /// truncated temp file is removed instead of replacing the last good
    /// dump.
    fn commit(&self) {
        if let Sink::File(tx) = &self.sink {
            let _ = tx.send(Vec::new());
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            // An empty chunk is the commit marker of the writer thread.
            return Ok(0);
        }
        match &mut self.sink {
            Sink::File(tx) => {
                self.pending.fetch_add(buf.len(), Ordering::Relaxed);
                tx.send(buf.to_vec()).map_err(|_| {
                    io::Error::new(io::ErrorKind::BrokenPipe, "RDB writer thread ended")
                })?;
            }
            Sink::Replicas { targets, collect } => {
                if !targets.is_empty() {
                    let chunk = Bytes::copy_from_slice(buf);
                    // A replica that went away is dropped by its own task;
                    // the payload stops going to it.
                    targets.retain(|t| t.push.send(chunk.clone()).is_ok());
                    if targets.is_empty() && collect.is_none() {
                        // Nobody left to stream to: stop the snapshot, as
                        // upstream kills the child of a diskless transfer
                        // whose replicas all went away.
                        return Err(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            "all the replicas of the transfer disconnected",
                        ));
                    }
                }
                if let Some(c) = collect {
                    match c.lock() {
                        Ok(mut v) => v.extend_from_slice(buf),
                        Err(_) => return Err(io::Error::other("replica payload buffer poisoned")),
                    }
                }
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The final verdict of a save's writer thread: the number of
/// incremental fsyncs it made (`rdb-save-incremental-fsync`,
/// `aof-rewrite-incremental-fsync`), or the error.
pub(crate) type SaveVerdict = io::Result<u64>;

/// A writer, its backlog counter and the channel of its final verdict.
/// A file sink (not yet an RDB stream), its pending bytes and verdict.
pub(crate) type OpenedSink = (
    BufWriter<ChannelWriter>,
    Arc<AtomicUsize>,
    mpsc::Receiver<SaveVerdict>,
);

pub(crate) type OpenedWriter = (
    RdbWriter<BufWriter<ChannelWriter>>,
    Arc<AtomicUsize>,
    mpsc::Receiver<SaveVerdict>,
);

/// A background save in progress.
pub struct BgSave {
    pub(crate) snap: Option<Snapshot>,
    writer: Option<RdbWriter<BufWriter<ChannelWriter>>>,
    /// Instead of `writer`: the RESP commands of an AOF base written with
    /// `aof-use-rdb-preamble no` (see [`crate::aof_rewrite`]).
    pub(crate) resp: Option<BufWriter<ChannelWriter>>,
    pending: Arc<AtomicUsize>,
    done: mpsc::Receiver<SaveVerdict>,
    started: Instant,
    dirty_at_start: u64,
    pub keys_total: u64,
    pub keys_done: u64,
    /// Set when the snapshot feeds replicas instead of a file.
    replica_sync: Option<ReplicaSync>,
    /// Set when the snapshot is an AOF rewrite's new base file.
    pub aof_rewrite: bool,
    /// Database of the last entry written (a SELECTDB/RESIZEDB precedes
    /// the first entry of another one).
    last_db: Option<usize>,
    /// `rdb-key-save-delay` when the save started (a debug knob that
    /// slows saves down key by key): one key per step, and no step before
    /// `resume_at`, so the delay is spent off the server lock.
    pub(crate) key_delay: i64,
    resume_at: Option<Instant>,
}

/// The replicas a snapshot is streamed to, and the EOF marker closing it.
#[derive(Debug)]
struct ReplicaSync {
    ids: Vec<u64>,
    mark: String,
    /// The payload for replicas without `capa eof`.
    collected: Option<Arc<std::sync::Mutex<Vec<u8>>>>,
    /// The payload could not be produced completely: the replicas are
    /// closed instead of going online.
    failed: bool,
}

impl BgSave {
    /// A snapshot writing an AOF base file through `writer`.
    pub(crate) fn for_aof_rewrite(
        snap: Snapshot,
        opened: OpenedWriter,
        dirty: u64,
        keys_total: u64,
    ) -> BgSave {
        let mut b = BgSave::new(snap, opened, dirty, keys_total);
        b.aof_rewrite = true;
        b
    }

    /// A snapshot writing a RESP AOF base file through `sink`.
    pub(crate) fn for_aof_rewrite_resp(
        snap: Snapshot,
        sink: OpenedSink,
        dirty: u64,
        keys_total: u64,
    ) -> BgSave {
        let (out, pending, done) = sink;
        let mut b = BgSave::with_sinks(snap, None, Some(out), (pending, done), dirty, keys_total);
        b.aof_rewrite = true;
        b
    }

    /// A snapshot saved through `opened` (an RDB file unless changed).
    fn new(snap: Snapshot, opened: OpenedWriter, dirty: u64, keys_total: u64) -> BgSave {
        let (writer, pending, done) = opened;
        BgSave::with_sinks(snap, Some(writer), None, (pending, done), dirty, keys_total)
    }

    fn with_sinks(
        snap: Snapshot,
        writer: Option<RdbWriter<BufWriter<ChannelWriter>>>,
        resp: Option<BufWriter<ChannelWriter>>,
        (pending, done): (Arc<AtomicUsize>, mpsc::Receiver<SaveVerdict>),
        dirty: u64,
        keys_total: u64,
    ) -> BgSave {
        BgSave {
            snap: Some(snap),
            writer,
            resp,
            pending,
            done,
            started: Instant::now(),
            dirty_at_start: dirty,
            keys_total,
            keys_done: 0,
            replica_sync: None,
            aof_rewrite: false,
            last_db: None,
            key_delay: 0,
            resume_at: None,
        }
    }

    /// Seconds since the save started.
    pub fn elapsed_secs(&self) -> i64 {
        self.started.elapsed().as_secs() as i64
    }

    /// How many entries the next step serializes: [`STEP_ENTRIES`], or
    /// one under `rdb-key-save-delay`, which then also sets when the step
    /// after may run (the delay is spent off the server lock).
    fn next_step_entries(&mut self, rng: &mut impl Rng) -> usize {
        if self.key_delay == 0 {
            return STEP_ENTRIES;
        }
        let us = match self.key_delay {
            n if n > 0 => n as u64,
            n => u64::from(rng.gen_range(0..n.unsigned_abs()) == 0),
        };
        self.resume_at = Some(Instant::now() + std::time::Duration::from_micros(us));
        1
    }

    /// Writes up to `n` entries of the snapshot as the RESP commands that
    /// rebuild them (an AOF base without RDB preamble). `Ok(true)` once
    /// the snapshot is complete.
    fn resp_step(&mut self, ks: &mut Keyspace, n: usize) -> io::Result<bool> {
        let (Some(snap), Some(out)) = (self.snap.as_mut(), self.resp.as_mut()) else {
            return Ok(true);
        };
        let mut buf = Vec::new();
        let mut written = 0u64;
        let last_db = &mut self.last_db;
        let stats = ks.snapshot_step(snap, n, |db, k, e, exp| {
            if *last_db != Some(db) {
                redis_aof::command::write_select(&mut buf, db as u32);
                *last_db = Some(db);
            }
            crate::aof_rewrite::rewrite_entry(&mut buf, k.as_ref(), &e.value, exp);
            written += 1;
        });
        self.keys_done += written;
        out.write_all(&buf)?;
        Ok(stats.finished)
    }

    /// Writes up to `n` entries of the snapshot in RDB form. `Ok(true)`
    /// once the snapshot is complete.
    fn rdb_step(&mut self, ks: &mut Keyspace, n: usize) -> io::Result<bool> {
        let (Some(snap), Some(writer)) = (self.snap.as_mut(), self.writer.as_mut()) else {
            return Ok(true);
        };
        let mut err: Option<io::Error> = None;
        let mut written = 0u64;
        // RESIZEDB hints (sizes now) let loaders size their tables once.
        let sizes: Vec<(u64, u64)> = ks
            .dbs
            .iter()
            .map(|d| (d.len() as u64, d.expires_len() as u64))
            .collect();
        let last_db = &mut self.last_db;
        let stats = ks.snapshot_step(snap, n, |db, k, e, exp| {
            if err.is_some() {
                return;
            }
            if *last_db != Some(db) {
                let (n_keys, n_exp) = sizes.get(db).copied().unwrap_or((0, 0));
                if let Err(x) = writer.select_db(db as u32, n_keys, n_exp) {
                    err = Some(x);
                    return;
                }
                *last_db = Some(db);
            }
            // Strings go out from borrowed bytes; other types through the
            // RDB model.
            let res = match &e.value {
                Value::Str(s) => Some(s.with_bytes(|v| writer.string_entry(db as u32, k, v, exp))),
                _ => rdb_entry(db, k, e, exp).map(|entry| writer.entry(&entry)),
            };
            match res {
                Some(Err(x)) => err = Some(x),
                Some(Ok(())) => written += 1,
                None => {}
            }
        });
        self.keys_done += written;
        match err {
            Some(e) => Err(e),
            None => Ok(stats.finished),
        }
    }

    /// Ends the snapshot and completes the sink so that the writer thread
    /// installs the file; after `write_error` (the failure of the last
    /// step) the sink is dropped uncommitted instead. The error is the
    /// one that ended the save, if any.
    fn end_snapshot(
        &mut self,
        ks: &mut Keyspace,
        write_error: Option<io::Error>,
    ) -> io::Result<()> {
        if let Some(s) = self.snap.take() {
            ks.end_snapshot(s);
        }
        let (resp, writer) = (self.resp.take(), self.writer.take());
        if let Some(e) = write_error {
            return Err(e);
        }
        if let Some(mut b) = resp {
            b.flush()?;
            b.get_ref().commit();
        }
        if let Some(w) = writer {
            let mut b = w.finish()?;
            b.flush()?;
            b.get_ref().commit();
        }
        Ok(())
    }
}

impl std::fmt::Debug for BgSave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BgSave")
            .field("keys_done", &self.keys_done)
            .finish()
    }
}

/// The replication history an RDB's aux fields record (`repl-id`,
/// `repl-offset`, `repl-stream-db`).
#[derive(Debug, Default)]
struct AuxHistory {
    replid: Option<String>,
    offset: Option<i64>,
    stream_db: Option<usize>,
}

/// Upstream's debug delay (`rdb-key-save-delay`, `key-load-delay`) for one
/// key: `n > 0` sleeps `n` µs; `n < 0` sleeps 1 µs once in `-n` keys on
/// average (a way to slow a save or load down by less than a system call).
pub fn debug_delay(n: i64, rng: &mut impl Rng) {
    let us = match n {
        0 => return,
        n if n > 0 => n as u64,
        n => u64::from(rng.gen_range(0..n.unsigned_abs()) == 0),
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

/// The writer options from the configuration.
pub fn writer_options(st: &State) -> WriterOptions {
    let c = &st.config;
    let u = |n: &str| c.get_int(n).max(0) as usize;
    WriterOptions {
        compression: c.get_bool("rdbcompression"),
        checksum: c.get_bool("rdbchecksum"),
        hash_max_listpack_entries: u("hash-max-listpack-entries"),
        hash_max_listpack_value: u("hash-max-listpack-value"),
        zset_max_listpack_entries: u("zset-max-listpack-entries"),
        zset_max_listpack_value: u("zset-max-listpack-value"),
        set_max_intset_entries: u("set-max-intset-entries"),
        list_max_listpack_size: c.get_int("list-max-listpack-size"),
        packed_threshold: st.list_packed_threshold,
        ..WriterOptions::default()
    }
}

/// The RDB file path (`dir` is the working directory).
pub fn rdb_path(st: &State) -> PathBuf {
    PathBuf::from(st.config.get_str("dbfilename"))
}

/// Converts a stored value to the RDB model. `None` for types the RDB
/// layer cannot carry yet.
pub fn to_rdb(v: &Value) -> Option<RdbValue> {
    Some(match v {
        Value::Str(s) => RdbValue::String(s.to_bytes()),
        Value::List(l) => RdbValue::List(l.iter().map(Bytes::copy_from_slice).collect()),
        Value::Hash(h) => RdbValue::Hash(crate::persist_types::hash_pairs(h)),
        Value::Set(s) => RdbValue::Set(crate::persist_types::set_members(s)),
        Value::ZSet(z) => RdbValue::ZSet(crate::persist_types::zset_pairs(z)),
        Value::Stream(s) => RdbValue::Stream(crate::persist_types::stream_to_rdb(s)?),
    })
}

/// Converts an RDB value to a stored value. `None` for unsupported types.
pub fn from_rdb(st: &State, v: RdbValue) -> Option<Value> {
    Some(match v {
        // A long string read from a file already has an allocation of its
        // own and exactly its size: keep it instead of copying it.
        RdbValue::String(b) if b.len() > redis_storage::string::INLINE_MAX => {
            Value::Str(StrValue::Shared(b))
        }
        RdbValue::String(b) => Value::Str(StrValue::from_request(&b)),
        RdbValue::List(items) => Value::List(ListValue::from_elems(items)),
        RdbValue::Hash(pairs) => Value::Hash(crate::persist_types::hash_from(st, pairs)),
        RdbValue::Set(members) => Value::Set(crate::persist_types::set_from(st, members)),
        RdbValue::ZSet(pairs) => Value::ZSet(crate::persist_types::zset_from(st, pairs)),
        RdbValue::Stream(s) => Value::Stream(Box::new(crate::persist_types::stream_from_rdb(s)?)),
        RdbValue::Module { .. } => return None,
    })
}

fn rdb_entry(db: usize, key: &Key, e: &Entry, expire: Option<i64>) -> Option<RdbEntry> {
    Some(RdbEntry {
        db: db as u32,
        key: key.to_bytes(),
        value: to_rdb(&e.value)?,
        expire_ms: expire,
        lru_idle: None,
        lfu_freq: None,
    })
}

impl State {
    fn open_writer(&self) -> io::Result<OpenedWriter> {
        // Absolute paths: a `CONFIG SET dir` while the save runs must not
        // split it between two directories (upstream's child keeps the
        // directory it was forked in).
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        let final_path = absolute(rdb_path(self));
        let tmp = absolute(PathBuf::from(format!("temp-{}.rdb", std::process::id())));
        self.open_writer_to(tmp, final_path, false)
    }

    /// A snapshot writer into `tmp`, renamed to `final_path` once complete
    /// and fsynced. `aof_base` marks an AOF base file (aux `aof-base 1`).
    /// The file is fsynced every 4 MB written when
    /// `aof-rewrite-incremental-fsync` (AOF base) or
    /// `rdb-save-incremental-fsync` (RDB) is on as the save starts, as
    /// upstream's `rioSetAutoSync`.
    pub(crate) fn open_writer_to(
        &self,
        tmp: PathBuf,
        final_path: PathBuf,
        aof_base: bool,
    ) -> io::Result<OpenedWriter> {
        let (sink, pending, done_rx) = self.open_sink_to(tmp, final_path, aof_base)?;
        let w = self.new_rdb_writer(sink, aof_base)?;
        Ok((w, pending, done_rx))
    }

    /// The file part of [`State::open_writer_to`]: a writer thread owning
    /// the temp file, fed through the returned sink.
    pub(crate) fn open_sink_to(
        &self,
        tmp: PathBuf,
        final_path: PathBuf,
        aof_base: bool,
    ) -> io::Result<OpenedSink> {
        let incremental = self.config.get_bool(if aof_base {
            "aof-rewrite-incremental-fsync"
        } else {
            "rdb-save-incremental-fsync"
        });
        let file = redis_aof::RewriteFile::create(&tmp, incremental)?;
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let (done_tx, done_rx) = mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let p2 = pending.clone();
        std::thread::Builder::new()
            .name("rdb-writer".into())
            .spawn(move || {
                let mut file = file;
                let mut result: io::Result<()> = Ok(());
                let mut committed = false;
                for chunk in rx {
                    if chunk.is_empty() {
                        committed = true;
                        continue;
                    }
                    if result.is_ok() {
                        result = file.write_all(&chunk);
                    }
                    p2.fetch_sub(chunk.len(), Ordering::Relaxed);
                }
                let fsyncs = file.incremental_fsyncs();
                if result.is_ok() && !committed {
                    result = Err(io::Error::other("save abandoned before its end"));
                }
                let result = result
                    .and_then(|_| file.finish())
                    .and_then(|_| std::fs::rename(&tmp, &final_path))
                    .map(|_| fsyncs);
                if result.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                let _ = done_tx.send(result);
            })?;
        let sink = BufWriter::with_capacity(
            64 * 1024,
            ChannelWriter {
                sink: Sink::File(tx),
                pending: pending.clone(),
            },
        );
        Ok((sink, pending, done_rx))
    }

    /// An RDB writer with the header and the aux fields upstream writes
    /// (version, creation time, memory, replication ID and offset).
    pub(crate) fn new_rdb_writer<W: Write>(
        &self,
        sink: W,
        aof_base: bool,
    ) -> io::Result<RdbWriter<W>> {
        let mut w = RdbWriter::new(sink, writer_options(self))?;
        w.standard_aux(
            self.version,
            crate::state::unix_secs(),
            (self.used_memory)() as u64,
        )?;
        // The replication history, as upstream's `rdbPopulateSaveInfo`:
        // a replica's, or a primary's with a backlog (without one there is
        // no history a replica could continue). `repl-stream-db` is the
        // database our primary's stream is in (a replica), or the one our
        // own stream last selected.
        if self.master.is_some() || self.repl.backlog.active() {
            let stream_db = if self.master.is_some() {
                self.repl.stream_db
            } else {
                self.repl.last_db.unwrap_or(0)
            };
            w.aux(b"repl-stream-db", stream_db.to_string().as_bytes())?;
            w.aux(b"repl-id", self.repl.ids.replid.as_bytes())?;
            w.aux(
                b"repl-offset",
                self.repl.ids.master_repl_offset.to_string().as_bytes(),
            )?;
        }
        w.aux(b"aof-base", if aof_base { b"1" } else { b"0" })?;
        // Function libraries come before the data, as upstream writes them.
        for code in self.scripting.function_codes() {
            w.function(&code)?;
        }
        Ok(w)
    }

    /// `BGSAVE`: starts a background save. Errors are upstream's texts.
    pub fn start_bgsave(&mut self) -> Result<(), SaveError> {
        if self.persistence.bgsave.is_some() {
            return Err(SaveError::InProgress);
        }
        self.persistence.last_bgsave_try = crate::state::unix_secs();
        match self.open_writer() {
            Ok(opened) => {
                let Some(snap) = self.ks.begin_snapshot() else {
                    return Err(SaveError::InProgress);
                };
                let total = self.ks.total_keys() as u64;
                self.persistence.bgsave = Some(BgSave::new(snap, opened, self.dirty, total));
                self.log_notice(&format!(
                    "Background saving started by pid {}",
                    std::process::id()
                ));
            }
            Err(e) => {
                // Upstream's child fails to open its temp file after the
                // fork succeeded: BGSAVE itself replies that saving
                // started, and the failure shows in the log and in
                // `rdb_last_bgsave_status` (which MISCONF then reports).
                self.log_notice(&format!(
                    "Background saving started by pid {}",
                    std::process::id()
                ));
                self.log_open_failure(&e);
                self.log_warning("Background saving error");
                self.persistence.last_bgsave_ok = false;
                self.persistence.last_bgsave_time_sec = 0;
            }
        }
        Ok(())
    }

    /// Runs background save steps (RDB save, AOF rewrite or full sync)
    /// for up to `budget` of wall time; returns true while there is more
    /// to do. The slice ends early when the writer thread lags behind or
    /// the snapshot is complete (what follows waits for the writer).
    pub fn bgsave_slice(&mut self, budget: std::time::Duration) -> bool {
        let start = Instant::now();
        loop {
            if !self.bgsave_step() {
                return false;
            }
            let streaming = self
                .persistence
                .bgsave
                .as_ref()
                .is_some_and(|b| b.snap.is_some());
            if !streaming || self.bgsave_waiting() || start.elapsed() >= budget {
                return true;
            }
        }
    }

    /// One step of a running background save; returns true while there is
    /// more to do (the caller schedules the next step).
    pub fn bgsave_step(&mut self) -> bool {
        let Some(bg) = self.persistence.bgsave.as_ref() else {
            return false;
        };
        if bg.snap.is_some() {
            return self.bgsave_write_step();
        }
        if bg.replica_sync.is_some() {
            return self.bgsave_end_replica_sync();
        }
        self.bgsave_collect_verdict()
    }

    /// Turns the next entries of the snapshot into bytes for the save's
    /// sink, unless the writer lags behind or a debug delay is running;
    /// ends the snapshot once it is complete or a write failed.
    fn bgsave_write_step(&mut self) -> bool {
        let Some(bg) = self.persistence.bgsave.as_mut() else {
            return false;
        };
        if bg.pending.load(Ordering::Relaxed) > MAX_PENDING {
            return true;
        }
        if let Some(at) = bg.resume_at {
            if Instant::now() < at {
                return true;
            }
            bg.resume_at = None;
        }
        let step_entries = bg.next_step_entries(&mut self.rng);
        let stepped = if bg.resp.is_some() {
            bg.resp_step(&mut self.ks, step_entries)
        } else if bg.writer.is_some() {
            bg.rdb_step(&mut self.ks, step_entries)
        } else {
            return false;
        };
        let ended = match stepped {
            Ok(false) => return true,
            Ok(true) => bg.end_snapshot(&mut self.ks, None),
            Err(e) => bg.end_snapshot(&mut self.ks, Some(e)),
        };
        if let Err(e) = ended {
            match bg.replica_sync.as_mut() {
                Some(sync) => {
                    sync.failed = true;
                    self.log_warning(
                        "Diskless rdb transfer, last replica dropped, killing fork child.",
                    );
                }
                None => self.log_warning(&format!("Write error saving DB on disk: {e}")),
            }
        }
        // The writer's channel is closed: its thread now fsyncs and
        // renames, and reports through `done`.
        true
    }

    /// A full sync's payload is out: its replicas go online (or are
    /// closed if it failed), and those that asked meanwhile get the next.
    fn bgsave_end_replica_sync(&mut self) -> bool {
        let sync = self
            .persistence
            .bgsave
            .take()
            .and_then(|mut bg| bg.replica_sync.take());
        if let Some(sync) = sync {
            self.finish_replica_sync(sync);
        }
        self.start_replica_sync(crate::state::now_ms());
        self.persistence.bgsave.is_some()
    }

    /// The snapshot is written: waits for the writer thread's verdict,
    /// then concludes the AOF rewrite or the RDB save.
    fn bgsave_collect_verdict(&mut self) -> bool {
        let Some(bg) = self.persistence.bgsave.as_ref() else {
            return false;
        };
        let verdict = match bg.done.try_recv() {
            Err(mpsc::TryRecvError::Empty) => return true,
            Err(mpsc::TryRecvError::Disconnected) => Err(None),
            Ok(Err(e)) => Err(Some(e)),
            Ok(Ok(fsyncs)) => Ok(fsyncs),
        };
        let secs = bg.started.elapsed().as_secs() as i64;
        let (aof_rewrite, dirty_at_start) = (bg.aof_rewrite, bg.dirty_at_start);
        self.persistence.bgsave = None;
        if let Ok(fsyncs) = verdict {
            self.persistence.last_save_incremental_fsyncs = fsyncs;
        }
        if aof_rewrite {
            self.aof_rewrite_done(verdict.is_ok(), secs);
        } else {
            self.rdb_save_done(verdict, secs, dirty_at_start);
            if self.persistence.bgsave_scheduled {
                self.persistence.bgsave_scheduled = false;
                let _ = self.start_bgsave();
                return true;
            }
        }
        // Replicas that asked for a sync during the save go now.
        self.start_replica_sync(crate::state::now_ms());
        self.persistence.bgsave.is_some()
    }

    /// Records and logs the end of an RDB save to disk. `verdict` is the
    /// writer thread's: its incremental fsyncs, or its error (`None` when
    /// it ended without one).
    fn rdb_save_done(&mut self, verdict: Result<u64, Option<io::Error>>, secs: i64, dirty: u64) {
        self.persistence.last_bgsave_ok = verdict.is_ok();
        self.persistence.last_bgsave_time_sec = secs;
        match verdict {
            Ok(_) => {
                self.dirty = self.dirty.saturating_sub(dirty);
                self.lastsave = crate::state::unix_secs();
                self.persistence.rdb_saves += 1;
                self.log_notice("DB saved on disk");
                if !self.persistence.sync_save {
                    self.log_notice("Background saving terminated with success");
                }
            }
            Err(e) => {
                if let Some(e) = e {
                    self.log_warning(&format!("Failed opening the temp RDB file temp-{}.rdb (in server root dir {}) for saving: {e}", std::process::id(), std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()));
                }
                self.log_warning("Background saving error");
            }
        }
    }

    /// `SAVE`: a synchronous save (the server is blocked meanwhile, as
    /// upstream). Waits for a background save in progress first.
    pub fn save_sync(&mut self) -> Result<(), SaveError> {
        if self.persistence.bgsave.is_some() {
            return Err(SaveError::InProgress);
        }
        self.start_bgsave_quiet()?;
        self.persistence.sync_save = true;
        // Bounded by the dataset: every step makes progress.
        while self.bgsave_step() {
            if let Some(bg) = &self.persistence.bgsave {
                if bg.snap.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                } else if let Some(at) = bg.resume_at {
                    // rdb-key-save-delay: SAVE blocks for it, as upstream.
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                }
            }
        }
        self.persistence.sync_save = false;
        if self.persistence.last_bgsave_ok {
            Ok(())
        } else {
            Err(SaveError::Failed)
        }
    }

    /// Upstream's log line when the temp RDB file cannot be created.
    fn log_open_failure(&self, e: &io::Error) {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "unknown".into());
        self.log_warning(&format!(
            "Failed opening the temp RDB file temp-{}.rdb (in server root dir {cwd}) for saving: {}",
            std::process::id(),
            redis_common::os::strerror(e)
        ));
    }

    /// `FLUSHALL` with save points: saves the now empty dataset at once,
    /// so that the data just flushed cannot come back from the last dump
    /// after a crash. A background save to disk in progress is abandoned
    /// first (it would write the old data); an AOF rewrite or a full sync
    /// goes on. Like upstream's foreground save this resets the change
    /// counter and `LASTSAVE` but does not count in `rdb_saves`.
    pub fn save_after_flushall(&mut self) {
        let disk_save = self
            .persistence
            .bgsave
            .as_ref()
            .is_some_and(|b| !b.aof_rewrite && b.replica_sync.is_none());
        let mut killed = false;
        if disk_save {
            if let Some(mut bg) = self.persistence.bgsave.take() {
                if let Some(s) = bg.snap.take() {
                    self.ks.end_snapshot(s);
                }
            }
            let _ = std::fs::remove_file(format!("temp-{}.rdb", std::process::id()));
            killed = true;
        }
        match self.write_empty_rdb() {
            Ok(()) => {
                self.dirty = 0;
                self.lastsave = crate::state::unix_secs();
                self.persistence.last_bgsave_ok = true;
                self.log_notice("DB saved on disk");
            }
            Err(e) => self.log_warning(&format!("Write error saving DB on disk: {e}")),
        }
        if killed {
            // Upstream's wording for the save child it killed.
            self.log_warning("Background saving terminated by signal 10");
        }
    }

    /// Writes an RDB file without keys (header and aux fields only)
    /// through a temp file, fsynced and renamed over `dbfilename`.
    fn write_empty_rdb(&mut self) -> io::Result<()> {
        // Not the background save's temp name: the writer thread of a save
        // just abandoned may still remove that file.
        let tmp = PathBuf::from(format!("temp-flushall-{}.rdb", std::process::id()));
        let result = (|| {
            let file = File::create(&tmp)?;
            let w = self.new_rdb_writer(BufWriter::new(file), false)?;
            let mut out = w.finish()?;
            out.flush()?;
            out.get_ref().sync_all()?;
            std::fs::rename(&tmp, rdb_path(self))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn start_bgsave_quiet(&mut self) -> Result<(), SaveError> {
        let opened = self.open_writer().map_err(|e| {
            // SAVE replies a bare -ERR, as upstream; the log says why.
            self.log_open_failure(&e);
            SaveError::Failed
        })?;
        let Some(snap) = self.ks.begin_snapshot() else {
            return Err(SaveError::InProgress);
        };
        let total = self.ks.total_keys() as u64;
        let mut bg = BgSave::new(snap, opened, self.dirty, total);
        bg.key_delay = self.config.get_int("rdb-key-save-delay");
        self.persistence.bgsave = Some(bg);
        Ok(())
    }

    /// Checks the `save <seconds> <changes>` points (from cron).
    pub fn check_save_points(&mut self, now_secs: i64) {
        if self.persistence.bgsave.is_some() {
            return;
        }
        for (secs, changes) in self.config.save_points() {
            let elapsed = now_secs - self.lastsave;
            let retry_ok =
                self.persistence.last_bgsave_ok || now_secs - self.persistence.last_bgsave_try > 5;
            if self.dirty >= changes && elapsed >= secs as i64 && retry_ok {
                self.log_notice(&format!("{changes} changes in {secs} seconds. Saving..."));
                let _ = self.start_bgsave();
                return;
            }
        }
    }

    /// A primary restarted from an RDB that records its replication
    /// history (upstream's `loadDataFromDisk` for a master): the old ID
    /// becomes the secondary one, valid up to the recorded offset, and the
    /// backlog restarts there holding a `DEL` for every key that expired
    /// while the server was down, so its replicas continue with a partial
    /// resynchronization (or a full one when those `DEL`s overflow the
    /// backlog).
    fn restore_primary_history(&mut self, history: AuxHistory, dels: Vec<(usize, Bytes)>) {
        let (Some(id), Some(off), Some(_)) = (history.replid, history.offset, history.stream_db)
        else {
            return;
        };
        if id.len() != 40 || off < 0 {
            return;
        }
        self.repl.ids.replid = id;
        self.repl.ids.master_repl_offset = off;
        let new_id = crate::state::random_hex(&mut self.rng);
        self.repl.ids.shift(new_id);
        self.repl.backlog.activate(off + 1);
        self.repl.last_db = None;
        let del: Bytes = if self.ks.lazy_expire {
            Bytes::from_static(b"UNLINK")
        } else {
            Bytes::from_static(b"DEL")
        };
        for (db, key) in dels {
            self.feed_replicas_only(db, &[del.clone(), key]);
        }
        self.repl.backlog_ttl.restart(crate::state::now_ms());
    }

    /// Loads `dbfilename` at startup: as [`State::load_rdb`], and a primary
    /// restores the replication history the file records.
    pub fn load_rdb_at_startup(&mut self, now: i64) -> Result<Option<(u64, u64)>, LoadError> {
        if self.master.is_none() {
            self.persistence.expired_at_startup = Some(Vec::new());
        }
        let res = self.load_rdb(now);
        self.persistence.expired_at_startup = None;
        res
    }

    /// Loads `dbfilename` into an empty keyspace. Returns (keys loaded,
    /// keys expired); `Ok(None)` when there is no file.
    pub fn load_rdb(&mut self, now: i64) -> Result<Option<(u64, u64)>, LoadError> {
        let path = rdb_path(self);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LoadError::Open(e)),
        };
        let started = Instant::now();
        self.persistence.loading = true;
        let mut reader = RdbReader::new(BufReader::with_capacity(1 << 16, file));
        let res = self.load_from(&mut reader, now);
        self.persistence.loading = false;
        let (loaded, expired) = res?;
        self.persistence.last_load_keys_loaded = loaded;
        self.persistence.last_load_keys_expired = expired;
        self.log_done_loading_rdb(loaded, expired);
        self.log_notice(&format!(
            "DB loaded from disk: {:.3} seconds",
            started.elapsed().as_secs_f64()
        ));
        Ok(Some((loaded, expired)))
    }

    /// Loads every item of an RDB stream into the keyspace.
    pub fn load_from<R: io::Read>(
        &mut self,
        reader: &mut RdbReader<R>,
        now: i64,
    ) -> Result<(u64, u64), LoadError> {
        reader.read_header().map_err(LoadError::Corrupt)?;
        // Debug knob: slows loading down key by key (tests of LOADING).
        let key_load_delay = self.config.get_int("key-load-delay");
        let (mut loaded, mut expired) = (0u64, 0u64);
        self.persistence.last_load_empty_skipped = 0;
        let lru = self.ks.initial_access(now);
        let mut history = AuxHistory::default();
        let mut current_db = 0usize;
        // Entries are inserted in small batches (one database each) so the
        // table's cache misses overlap; anything else flushes the batch.
        const BATCH: usize = 64;
        let mut batch: Vec<(Key, Entry, Option<i64>)> = Vec::with_capacity(BATCH);
        let mut batch_db = 0usize;
        let mut functions: Vec<Bytes> = Vec::new();
        while let Some(item) = reader.next_item().map_err(LoadError::Corrupt)? {
            let same_db = matches!(&item, RdbItem::Entry(e) if e.db as usize == batch_db);
            if !batch.is_empty() && (!same_db || batch.len() >= BATCH) {
                self.ks.dbs[batch_db].insert_entries(std::mem::take(&mut batch));
            }
            match item {
                RdbItem::Aux { key, value } => self.load_aux(&key, &value, now, &mut history),
                RdbItem::Entry(e) => {
                    let db = e.db as usize;
                    if db >= self.ks.len() {
                        return Err(LoadError::TooManyDbs(self.ks.len()));
                    }
                    if matches!(e.expire_ms, Some(t) if t <= now) && !self.ks.is_replica {
                        expired += 1;
                        if let Some(dels) = self.persistence.expired_at_startup.as_mut() {
                            dels.push((db, e.key));
                        }
                        continue;
                    }
                    let RdbEntry {
                        key,
                        value,
                        expire_ms,
                        ..
                    } = e;
                    // An empty collection is no key (older servers and
                    // corrupt files have them): skipped and counted.
                    if value.is_empty_collection() {
                        self.persistence.last_load_empty_skipped += 1;
                        if self.persistence.last_load_empty_skipped <= 10 {
                            self.log_warning(&format!(
                                "rdbLoadObject skipping empty key: {}",
                                String::from_utf8_lossy(&key)
                            ));
                        }
                        continue;
                    }
                    let Some(v) = from_rdb(self, value) else {
                        self.log_warning(&format!(
                            "Skipping key '{}' of a type this server does not support yet",
                            String::from_utf8_lossy(&key)
                        ));
                        continue;
                    };
                    if key_load_delay != 0 {
                        debug_delay(key_load_delay, &mut self.rng);
                    }
                    // The key read from the file becomes the table's key
                    // (no copy), with its deadline in the same insertion.
                    batch_db = db;
                    batch.push((key.into(), Entry::new(v, lru), expire_ms));
                    loaded += 1;
                }
                RdbItem::SelectDb(db) => current_db = db as usize,
                RdbItem::Function(code) => functions.push(code),
                RdbItem::ResizeDb {
                    db_size,
                    expires_size,
                } => {
                    // Size the tables once instead of doubling them all the
                    // way up (each doubling copies every entry so far).
                    if let Some(d) = self.ks.dbs.get_mut(current_db) {
                        d.reserve(
                            usize::try_from(db_size).unwrap_or(0).min(1 << 28),
                            usize::try_from(expires_size).unwrap_or(0).min(1 << 28),
                        );
                    }
                }
                _ => {}
            }
        }
        if !batch.is_empty() {
            self.ks.dbs[batch_db].insert_entries(batch);
        }
        // The file's libraries replace ours (a full sync, DEBUG RELOAD).
        if let Err(e) = self.scripting.load_functions(&functions) {
            return Err(LoadError::Functions(
                String::from_utf8_lossy(&e.0).into_owned(),
            ));
        }
        self.resume_history(history);
        Ok((loaded, expired))
    }

    /// Upstream's line at the end of an RDB load: a warning when empty
    /// keys were skipped, else a notice.
    pub fn log_done_loading_rdb(&self, loaded: u64, expired: u64) {
        let empty = self.persistence.last_load_empty_skipped;
        if empty > 0 {
            self.log_warning(&format!(
                "Done loading RDB, keys loaded: {loaded}, keys expired: {expired}, empty keys skipped: {empty}."
            ));
        } else {
            self.log_notice(&format!(
                "Done loading RDB, keys loaded: {loaded}, keys expired: {expired}."
            ));
        }
    }

    /// An aux field of the RDB being loaded: logged as upstream does, or
    /// kept in `history` (the replication ID and offset).
    fn load_aux(&self, key: &[u8], value: &[u8], now: i64, history: &mut AuxHistory) {
        let text = String::from_utf8_lossy(value);
        match key {
            b"redis-ver" => self.log_notice(&format!("Loading RDB produced by version {text}")),
            b"ctime" => {
                let t: i64 = text.parse().unwrap_or(0);
                self.log_notice(&format!("RDB age {} seconds", (now / 1000 - t).max(0)));
            }
            b"repl-id" => history.replid = Some(text.into_owned()),
            b"repl-offset" => history.offset = text.parse().ok(),
            b"repl-stream-db" => history.stream_db = text.parse().ok(),
            b"aof-base" if text.parse::<i64>().unwrap_or(0) != 0 => {
                self.log_notice("RDB is base AOF");
            }
            b"used-mem" => {
                let m: f64 = text.parse().unwrap_or(0.0);
                self.log_notice(&format!(
                    "RDB memory usage when created {:.2} Mb",
                    m / 1024.0 / 1024.0
                ));
            }
            _ => {}
        }
    }

    /// A replica restarted from its own RDB resumes its primary's history
    /// from the aux fields, so it can ask for a partial resynchronization;
    /// a primary restarted from its RDB keeps that history as its
    /// secondary ID (see [`State::restore_primary_history`]).
    fn resume_history(&mut self, history: AuxHistory) {
        if self.master.is_none() {
            if let Some(dels) = self.persistence.expired_at_startup.take() {
                self.restore_primary_history(history, dels);
            }
            return;
        }
        let (Some(id), Some(off)) = (history.replid, history.offset) else {
            return;
        };
        if id.len() != 40 {
            return;
        }
        self.repl.ids.replid = id;
        self.repl.ids.master_repl_offset = off;
        self.repl.stream_db = history
            .stream_db
            .filter(|&db| db < self.ks.len())
            .unwrap_or(0);
        if let Some(m) = self.master.as_mut() {
            m.has_history = true;
        }
        self.log_notice(
            "Using the replication ID and offset stored in the RDB to resume replication",
        );
    }
}

impl State {
    /// With `repl-diskless-sync yes` and a `repl-diskless-sync-delay`, the
    /// milliseconds a full sync still waits for more replicas to join it
    /// (none once `repl-diskless-sync-max-replicas` are waiting). Replicas
    /// without the EOF capability take the sized payload and never wait.
    pub fn diskless_sync_delay(&self, now: i64) -> Option<i64> {
        let c = &self.config;
        let delay_ms = c.get_int("repl-diskless-sync-delay").max(0) * 1000;
        if !c.get_bool("repl-diskless-sync") || delay_ms == 0 {
            return None;
        }
        let waiting: Vec<&crate::replication::ReplicaLink> = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::WaitBgsave)
            .collect();
        if waiting.is_empty() || waiting.iter().any(|r| !r.capa_eof) {
            return None;
        }
        let max = c.get_int("repl-diskless-sync-max-replicas");
        if max > 0 && waiting.len() as i64 >= max {
            return None;
        }
        let oldest = waiting.iter().map(|r| r.wait_since_ms).min()?;
        let left = oldest + delay_ms - now;
        (left > 0).then_some(left)
    }

    /// Takes over the dataset (and the AOF, replication IDs and load
    /// counters) a loader built in a separate state, ending `loading`.
    pub fn adopt_loaded(&mut self, mut tmp: State) {
        std::mem::swap(&mut self.ks, &mut tmp.ks);
        self.scripting.adopt_functions(&mut tmp.scripting);
        self.ks.is_replica = self.master.is_some();
        self.ensure_slot_index();
        self.aof = tmp.aof.take();
        self.persistence = std::mem::take(&mut tmp.persistence);
        self.persistence.loading = false;
        if self.master.is_none() && tmp.repl.backlog.active() {
            // A primary that restored its history from the RDB.
            std::mem::swap(&mut self.repl.ids, &mut tmp.repl.ids);
            std::mem::swap(&mut self.repl.backlog, &mut tmp.repl.backlog);
            std::mem::swap(&mut self.repl.backlog_ttl, &mut tmp.repl.backlog_ttl);
            self.repl.last_db = tmp.repl.last_db;
        }
        if self.master.is_some() && tmp.repl.ids.master_repl_offset != 0 {
            self.repl.ids.replid = tmp.repl.ids.replid.clone();
            self.repl.ids.master_repl_offset = tmp.repl.ids.master_repl_offset;
            self.repl.stream_db = tmp.repl.stream_db;
            if let Some(m) = self.master.as_mut() {
                m.has_history = true;
            }
        }
        self.dirty = 0;
        self.apply_config();
        if self.persistence.bgsave.is_some() {
            self.bg_notify.notify_one();
        }
    }

    /// Starts a full sync for every replica waiting for one, unless a
    /// snapshot is already running (they wait for the next).
    ///
    /// The snapshot and its writer exist before anything is promised to a
    /// replica: `+FULLRESYNC` and the payload header only go out once the
    /// payload can be produced. If it cannot, the replicas get upstream's
    /// error and are closed, and they reconnect and retry.
    ///
    /// `now` (Unix ms) decides whether `repl-diskless-sync-delay` is over.
    pub fn start_replica_sync(&mut self, now: i64) {
        if self.persistence.bgsave.is_some() || self.ks.snapshot_running() {
            return;
        }
        if self.diskless_sync_delay(now).is_some() {
            // More replicas may arrive: the cron starts the sync when due.
            return;
        }
        let waiting: Vec<usize> = (0..self.repl.replicas.len())
            .filter(|&i| self.repl.replicas[i].state == ReplicaState::WaitBgsave)
            .collect();
        if waiting.is_empty() {
            return;
        }
        let ids: Vec<u64> = waiting
            .iter()
            .map(|&i| self.repl.replicas[i].client_id)
            .collect();
        let targets: Vec<_> = waiting
            .iter()
            .map(|&i| &self.repl.replicas[i])
            .filter(|l| l.capa_eof)
            .map(|l| l.signal.clone())
            .collect();
        let collected = waiting
            .iter()
            .any(|&i| !self.repl.replicas[i].capa_eof)
            .then(|| Arc::new(std::sync::Mutex::new(Vec::new())));
        let Some(snap) = self.ks.begin_snapshot() else {
            self.fail_replica_sync(&ids, "no snapshot available");
            return;
        };
        let (_done_tx, done) = mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let sink = BufWriter::with_capacity(
            64 * 1024,
            ChannelWriter {
                sink: Sink::Replicas {
                    targets,
                    collect: collected.clone(),
                },
                pending: pending.clone(),
            },
        );
        // The header the writer buffered reaches the replicas only when
        // the buffer is flushed by a snapshot step, after their
        // `+FULLRESYNC` below.
        let writer = match self.new_rdb_writer(sink, false) {
            Ok(w) => w,
            Err(e) => {
                self.ks.end_snapshot(snap);
                self.fail_replica_sync(&ids, &e.to_string());
                return;
            }
        };
        let mark = crate::state::random_hex(&mut self.rng);
        let fullresync =
            psync::fullresync_reply(&self.repl.ids.replid, self.repl.ids.master_repl_offset);
        let r = &mut self.repl;
        for link in r.replicas.iter_mut().filter(|l| ids.contains(&l.client_id)) {
            link.state = ReplicaState::SendBulk;
            link.pending.clear();
            // SYNC gets no +FULLRESYNC line; replicas without `capa eof`
            // get the `$<len>` header with the whole payload at the end.
            let mut header = String::new();
            if !link.pre_psync {
                header.push_str(&fullresync);
            }
            if link.capa_eof {
                header.push_str(&format!("$EOF:{mark}\r\n"));
            }
            if !header.is_empty() {
                link.send(Bytes::from(header));
            }
        }
        // The stream after the snapshot must say which database it writes
        // to: the next command is preceded by a SELECT (upstream resets
        // `slaveseldb` here).
        self.repl.last_db = None;
        self.log_notice("Starting BGSAVE for SYNC with target: replicas sockets");
        let total = self.ks.total_keys() as u64;
        let mut bg = BgSave::new(snap, (writer, pending, done), self.dirty, total);
        bg.key_delay = self.config.get_int("rdb-key-save-delay");
        bg.replica_sync = Some(ReplicaSync {
            ids,
            mark,
            collected,
            failed: false,
        });
        self.persistence.bgsave = Some(bg);
        self.bg_notify.notify_one();
    }

    /// The payload of a full sync cannot be produced: the replicas waiting
    /// for it are told and closed (upstream's "BGSAVE for replication
    /// failed"); they reconnect and retry.
    fn fail_replica_sync(&mut self, ids: &[u64], why: &str) {
        self.log_warning(&format!("BGSAVE for replication failed: {why}"));
        let r = &mut self.repl;
        let (failed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut r.replicas)
            .into_iter()
            .partition(|l| ids.contains(&l.client_id));
        r.replicas = kept;
        for link in failed {
            link.send(Bytes::from_static(
                b"-ERR BGSAVE failed, replication can't continue\r\n",
            ));
            link.signal.close_after_flush();
        }
    }

    fn finish_replica_sync(&mut self, sync: ReplicaSync) {
        if sync.failed {
            // A truncated payload must not be followed by the mark: the
            // replicas would load garbage. Close them; they retry.
            let r = &mut self.repl;
            let (failed, kept): (Vec<_>, Vec<_>) =
                std::mem::take(&mut r.replicas).into_iter().partition(|l| {
                    sync.ids.contains(&l.client_id) && l.state == ReplicaState::SendBulk
                });
            r.replicas = kept;
            for link in failed {
                link.signal.kill();
            }
            return;
        }
        let mark = Bytes::copy_from_slice(sync.mark.as_bytes());
        // The `$<len>` form for replicas without `capa eof`.
        let bulk = sync.collected.map(|c| {
            let data = c
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
            let mut b = format!("${}\r\n", data.len()).into_bytes();
            b.extend_from_slice(&data);
            Bytes::from(b)
        });
        let mut done = Vec::new();
        let mut rdb_only = Vec::new();
        let r = &mut self.repl;
        for link in &mut r.replicas {
            if !sync.ids.contains(&link.client_id) || link.state != ReplicaState::SendBulk {
                continue;
            }
            if link.capa_eof {
                link.send(mark.clone());
            } else if let Some(b) = &bulk {
                link.send(b.clone());
            }
            let name = link.name();
            if link.rdb_only {
                // Nothing follows the RDB; the connection closes once it
                // is written.
                link.signal.close_after_flush();
                rdb_only.push((link.client_id, name));
                continue;
            }
            link.state = ReplicaState::Online;
            if link.capa_eof {
                link.stream_on_ack = true;
            } else {
                let rest = link.pending.split().freeze();
                if !rest.is_empty() {
                    link.send(rest);
                }
            }
            done.push((name, link.capa_eof));
        }
        for (id, name) in rdb_only {
            self.repl.replicas.retain(|l| l.client_id != id);
            self.log_notice(&format!(
                "RDB transfer completed, rdb only replica ({name}) should be disconnected asap"
            ));
        }
        for (r, eof) in done {
            if eof {
                self.log_notice(&format!("Streamed RDB transfer with replica {r} succeeded (socket). Waiting for REPLCONF ACK from slave to enable streaming"));
            }
            self.log_notice(&format!("Synchronization with replica {r} succeeded"));
        }
    }

    /// The shutdown sequence up to the point of exit (after the wait for
    /// replicas, see [`crate::shutdown`]): logs upstream's lines and saves
    /// when asked to (`SAVE`) or when save points are configured (unless
    /// `NOSAVE`). An error means the save failed (with `FORCE` it is
    /// logged and the exit goes on).
    pub fn prepare_shutdown(
        &mut self,
        req: crate::state::ShutdownRequest,
    ) -> Result<(), SaveError> {
        // A background save in progress is abandoned, as upstream kills its
        // child and removes its temp file. The writer thread would remove
        // it too, but only after writing what is still queued for it, which
        // can outlast the exit: remove it here (its open handle then writes
        // to an unlinked file).
        let rewriting = self
            .persistence
            .bgsave
            .as_ref()
            .is_some_and(|b| b.aof_rewrite);
        if rewriting && self.aof.as_ref().is_some_and(|a| a.initial) {
            // The AOF files do not hold the dataset until the first base
            // is written.
            if !req.force {
                self.log_warning("Writing initial AOF, can't exit.");
                return Err(SaveError::InitialAof);
            }
            self.log_warning("Writing initial AOF. Exit anyway.");
        }
        if let Some(mut bg) = self.persistence.bgsave.take() {
            if let Some(s) = bg.snap.take() {
                self.ks.end_snapshot(s);
            }
            drop(bg);
            if rewriting {
                // The AOF we have is longer but holds the whole dataset.
                self.log_warning("There is a child rewriting the AOF. Killing it!");
            } else {
                self.log_warning("There is a child saving an .rdb. Killing it!");
                let _ = std::fs::remove_file(format!("temp-{}.rdb", std::process::id()));
            }
        }
        self.aof_shutdown();
        // While a dataset loads (startup, or a replica's full sync from
        // disk) the keyspace is partial: saving it would overwrite the
        // file being loaded with half the data, so upstream never saves
        // then.
        let save = !self.persistence.loading
            && (req.save || (!req.nosave && !self.config.save_points().is_empty()));
        if save {
            self.log_notice("Saving the final RDB snapshot before exiting.");
            if let Err(e) = self.save_sync() {
                if req.force {
                    self.log_warning("Error trying to save the DB. Exit anyway.");
                    return Ok(());
                }
                self.log_warning(&format!("Error trying to save the DB, can't exit. {e}"));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Drops a snapshot that streams a full sync to replicas (their links
    /// are being closed); a save to disk is left alone.
    pub fn abort_replica_sync_snapshot(&mut self) {
        let is_sync = self
            .persistence
            .bgsave
            .as_ref()
            .is_some_and(|b| b.replica_sync.is_some());
        if !is_sync {
            return;
        }
        if let Some(mut bg) = self.persistence.bgsave.take() {
            if let Some(s) = bg.snap.take() {
                self.ks.end_snapshot(s);
            }
        }
    }

    /// True while a background save waits for its writer thread (the
    /// driver should sleep instead of spinning).
    pub fn bgsave_waiting(&self) -> bool {
        self.persistence.bgsave.as_ref().is_some_and(|b| {
            b.snap.is_none()
                || b.pending.load(Ordering::Relaxed) > MAX_PENDING
                || b.resume_at.is_some_and(|at| Instant::now() < at)
        })
    }
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
