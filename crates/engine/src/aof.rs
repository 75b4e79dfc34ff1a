//! The append-only file, driven by the engine (upstream `aof.c`, engine
//! half): opening and loading the multi-part AOF directory at startup,
//! appending every propagated write, durability for `appendfsync always`
//! (replies wait for the group-commit fsync, outside the server lock),
//! `BGREWRITEAOF` from the fork-free snapshot, automatic rewrites,
//! `CONFIG SET appendonly` on a live server, and `INFO` fields. File
//! formats and the writer thread are `redis-aof`'s. An [`AofError`] is a
//! fatal loading line or a `BGREWRITEAOF` reply.

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use redis_aof::manifest::ManifestError;
use redis_aof::{AofDir, AofReader, AofWriter, End, Event, Feeder, FileType, FsyncPolicy};
use redis_common::os::strerror;
use redis_rdb::RdbReader;

use crate::client::Client;
use crate::dispatch::Caller;
use crate::persist::{BgSave, LoadError};
use crate::state::State;

/// Why the AOF could not be opened, loaded or rewritten. Loading errors
/// are the fatal lines the server logs at startup (or before exiting on
/// `DEBUG LOADAOF`); the rewrite errors are `BGREWRITEAOF`'s replies.
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    /// The manifest of `appenddirname` cannot be read.
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    /// Creating the directory or an incr file, or starting its writer.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// The incr file to append to cannot be opened at startup.
    #[error("Can't open the append-only file {fname}: {}", strerror(.err))]
    OpenIncr {
        /// `appendfilename`.
        fname: String,
        #[source]
        err: io::Error,
    },
    /// The AOF of an older version in the working directory cannot be
    /// moved into `appenddirname`.
    #[error("Error trying to rename the existing AOF to new AOF directory: {}", strerror(.0))]
    Upgrade(#[source] io::Error),
    /// `DEBUG LOADAOF`: what the writer holds cannot be written out.
    #[error("Can't flush the AOF before reloading it: {0}")]
    Flush(#[source] redis_aof::AofError),
    /// `DEBUG LOADAOF` with a manifest that lists no file.
    #[error("DEBUG LOADAOF: no AOF files to load")]
    NothingToLoad,
    /// A file the manifest lists is missing (or cannot be examined).
    #[error("Unable to obtain the AOF file {file} length. stat: {}", strerror(.err))]
    Stat {
        file: String,
        #[source]
        err: io::Error,
    },
    /// A file the manifest lists cannot be read (or truncated).
    #[error("Fatal error: can't open the append log file {file} for reading: {}", strerror(.err))]
    Read {
        file: String,
        #[source]
        err: io::Error,
    },
    /// The RDB preamble of a base file does not load.
    #[error(transparent)]
    Preamble(#[from] LoadError),
    /// A command this server does not know.
    #[error("Unknown command '{command}' reading the append only file {file}")]
    UnknownCommand { command: String, file: String },
    /// The file ends inside a command (and may not be truncated).
    #[error("Unexpected end of file reading the append only file {file}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")]
    Truncated { file: String },
    /// Bytes that are no command, or a read error.
    #[error("Bad file format reading the append only file {file}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest> ({end:?})")]
    BadFormat { file: String, end: End },
    /// A rewrite asked for with the AOF off.
    #[error("ERR AOF is off")]
    Off,
    /// The rewrite's new incr file or temporary base cannot be created.
    #[error("ERR {0}")]
    RewriteOpen(#[source] io::Error),
    /// A snapshot already runs.
    #[error("ERR Background append only file rewriting already in progress")]
    RewriteInProgress,
}

/// The open append-only file.
pub struct AofState {
    pub dir: AofDir,
    pub writer: AofWriter,
    pub feeder: Feeder,
    /// Sequence of the last append (what replies must wait for).
    pub last_seq: u64,
    pub rewrites: u64,
    pub rewrite_scheduled: bool,
    pub last_rewrite_ok: bool,
    /// Whether the rewrite in progress writes an RDB-preamble base
    /// (`aof-use-rdb-preamble`, read when it starts).
    pub rewrite_rdb_base: bool,
    pub last_rewrite_secs: i64,
    /// Size of the AOF right after the last rewrite (auto-rewrite growth).
    pub base_size: u64,
    /// Commands propagated during the current client batch, written in
    /// one go when it ends (upstream's `aof_buf`, flushed before replies).
    pub buf: Vec<u8>,
    /// True between [`State::aof_begin_batch`] and
    /// [`State::aof_end_batch`]; otherwise every command goes to the
    /// writer at once (replica link, cron, anything outside a batch).
    pub batching: bool,
    /// The writer's last write or fsync error (the `-MISCONF` reason),
    /// refreshed by the cron as upstream's `aof_last_write_status` is by
    /// its event loop: the dispatcher reads it on every write command,
    /// where taking the writer's lock would cost too much.
    pub write_error: Option<String>,
    /// Turned on at runtime (`CONFIG SET appendonly yes`) and its first
    /// base not written yet: until then the files do not hold the dataset
    /// (upstream's `AOF_WAIT_REWRITE`), so a shutdown is refused.
    pub initial: bool,
}

impl AofState {
    fn new(dir: AofDir, writer: AofWriter, timestamps: bool, base_size: u64) -> AofState {
        AofState {
            dir,
            writer,
            feeder: Feeder::new(timestamps),
            last_seq: 0,
            rewrites: 0,
            rewrite_scheduled: false,
            last_rewrite_ok: true,
            initial: false,
            last_rewrite_secs: -1,
            rewrite_rdb_base: true,
            base_size,
            buf: Vec::new(),
            batching: false,
            write_error: None,
        }
    }
}

impl std::fmt::Debug for AofState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AofState")
            .field("last_seq", &self.last_seq)
            .finish()
    }
}

fn policy_of(st: &State) -> FsyncPolicy {
    FsyncPolicy::parse(st.config.get_str("appendfsync")).unwrap_or(FsyncPolicy::EverySec)
}

impl State {
    /// Appends one propagated command to the AOF, if enabled: to the
    /// batch buffer inside a client batch, else straight to the writer.
    pub fn aof_command(&mut self, db: usize, argv: &[Bytes]) {
        let Some(aof) = self.aof.as_mut() else { return };
        // The clock is only read for `#TS:` annotations.
        let now = if aof.feeder.timestamps {
            crate::state::unix_secs()
        } else {
            0
        };
        if aof.batching {
            aof.feeder.feed(&mut aof.buf, db as u32, argv, now);
            return;
        }
        let mut buf = Vec::new();
        aof.feeder.feed(&mut buf, db as u32, argv, now);
        aof.last_seq = aof.writer.append(&buf);
    }

    /// A client batch starts: propagated commands collect in the batch
    /// buffer until [`State::aof_end_batch`].
    pub fn aof_begin_batch(&mut self) {
        if let Some(aof) = self.aof.as_mut() {
            aof.batching = true;
        }
    }

    /// A client batch ended: its commands go to the AOF with one write
    /// (on this thread under `everysec`/`no`, before the replies are sent;
    /// to the group-commit flusher under `always`, whose fsync the replies
    /// then wait for through [`State::aof_wait_seq`]).
    pub fn aof_end_batch(&mut self) {
        self.aof_flush_buf();
        if let Some(aof) = self.aof.as_mut() {
            aof.batching = false;
        }
    }

    /// Hands the batch buffer to the writer. Called at the end of a batch
    /// and before anything that must see every propagated byte in order
    /// (a rewrite switching files, turning AOF off, `sync_all`).
    fn aof_flush_buf(&mut self) {
        let Some(aof) = self.aof.as_mut() else { return };
        if aof.buf.is_empty() {
            return;
        }
        aof.last_seq = aof.writer.write_batch(&aof.buf);
        aof.buf.clear();
        if aof.buf.capacity() > 1 << 20 {
            // A huge batch (MSET of big values) must not pin its buffer.
            aof.buf = Vec::new();
        }
    }

    /// If replies must wait for the AOF (`appendfsync always`), the
    /// sequence to wait for; the caller waits outside the lock.
    pub fn aof_wait_seq(&self) -> Option<u64> {
        let aof = self.aof.as_ref()?;
        if aof.writer.policy() != FsyncPolicy::Always || aof.writer.durable() >= aof.last_seq {
            return None;
        }
        Some(aof.last_seq)
    }

    /// A handle to commit the AOF outside the lock (see
    /// [`redis_aof::AofHandle::commit`]).
    pub fn aof_handle(&self) -> Option<redis_aof::AofHandle> {
        self.aof.as_ref().map(|a| a.writer.handle())
    }

    /// Registers `cb` to run once `seq` is durable.
    pub fn aof_on_durable(&self, seq: u64, cb: redis_aof::DurableCallback) {
        if let Some(aof) = &self.aof {
            aof.writer.on_durable(seq, cb);
        }
    }

    /// Opens the AOF at startup (`appendonly yes`), loading what it holds.
    /// Errors are fatal startup messages.
    pub fn aof_open_and_load(&mut self, now: i64) -> Result<(), AofError> {
        let fname = self.config.get_str("appendfilename").to_string();
        let mut dir = self.aof_dir_from_disk()?;
        let old = std::path::Path::new(&fname);
        if dir.needs_upgrade(old) {
            dir.upgrade(old).map_err(AofError::Upgrade)?;
            self.log_notice(&format!(
                "Successfully migrated an old-style AOF into the AOF directory ({}).",
                self.config.get_str("appenddirname")
            ));
        }
        let started = std::time::Instant::now();
        let loaded = self.aof_load_files(&dir, now)?;
        if loaded {
            self.log_notice(&format!(
                "DB loaded from append only file: {:.3} seconds",
                started.elapsed().as_secs_f64()
            ));
        } else {
            // A fresh AOF: its base is the (empty) dataset, written now,
            // before the first incr file, as upstream (base 1, incr 1).
            dir.create_dir().map_err(AofError::Io)?;
            let base = self.write_empty_base(&mut dir).map_err(AofError::Io)?;
            self.log_notice(&format!("Creating AOF base file {base} on server start"));
        }
        let (incr_name, file, size) =
            dir.open_incr_on_start().map_err(|err| AofError::OpenIncr {
                fname: fname.clone(),
                err,
            })?;
        let verb = if loaded { "Opening" } else { "Creating" };
        self.log_notice(&format!("{verb} AOF incr file {incr_name} on server start"));
        let writer = AofWriter::new(file, size, policy_of(self)).map_err(AofError::Io)?;
        writer.set_no_fsync_on_rewrite(self.config.get_bool("no-appendfsync-on-rewrite"));
        writer.set_flush_sleep(self.aof_flush_sleep_us);
        let base_size = dir.files_size().unwrap_or(0);
        self.aof = Some(AofState::new(
            dir,
            writer,
            self.config.get_bool("aof-timestamp-enabled"),
            base_size,
        ));
        Ok(())
    }

    /// Writes the base file of an empty dataset (an RDB preamble holding
    /// nothing, or an empty command file) and names it in the manifest.
    fn write_empty_base(&self, dir: &mut AofDir) -> std::io::Result<String> {
        let rdb = self.config.get_bool("aof-use-rdb-preamble");
        let fname = self.config.get_str("appendfilename").to_string();
        let name = dir.manifest.new_base_file(&fname, rdb);
        let file = std::fs::File::create(dir.path_of(&name))?;
        if rdb {
            let w = self.new_rdb_writer(std::io::BufWriter::new(&file), true)?;
            w.finish()?;
        }
        file.sync_all()?;
        Ok(name)
    }

    /// The AOF directory (`appenddirname`) with the manifest on disk.
    fn aof_dir_from_disk(&self) -> Result<AofDir, AofError> {
        let dirname = self.config.get_str("appenddirname");
        let fname = self.config.get_str("appendfilename");
        Ok(AofDir::open(std::path::Path::new("."), dirname, fname)?)
    }

    /// Loads every file the manifest of `dir` lists, base first, into the
    /// current dataset. `Ok(false)` when the manifest lists no file.
    fn aof_load_files(&mut self, dir: &AofDir, now: i64) -> Result<bool, AofError> {
        let files: Vec<(String, FileType)> = dir
            .manifest
            .load_order()
            .iter()
            .map(|i| (i.file_name.clone(), i.file_type))
            .collect();
        // Every listed file must exist before anything loads (upstream
        // sizes them all first, for its loading progress).
        for (name, _) in &files {
            if let Err(err) = std::fs::metadata(dir.path_of(name)) {
                return Err(AofError::Stat {
                    file: name.clone(),
                    err,
                });
            }
        }
        let last = files.len().saturating_sub(1);
        for (i, (name, ftype)) in files.iter().enumerate() {
            let path = dir.path_of(name);
            let started = std::time::Instant::now();
            self.aof_load_file(&path, *ftype, i == last, now)?;
            self.log_notice(&format!(
                "DB loaded from {} file {name}: {:.3} seconds",
                if *ftype == FileType::Base {
                    "base"
                } else {
                    "incr"
                },
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(!files.is_empty())
    }

    /// `DEBUG LOADAOF` (upstream semantics): writes out what the AOF
    /// writer holds, empties the dataset, reads the manifest back from
    /// disk, drops history files and loads the AOF files again. With
    /// `appendonly no` it loads whatever AOF directory is on disk. `Err`
    /// when loading failed: the dataset is empty by then, and upstream
    /// exits the process (the caller decides).
    pub fn debug_loadaof(&mut self, now: i64) -> Result<(), AofError> {
        self.aof_flush_buf();
        if let Some(aof) = &self.aof {
            aof.writer.sync_all().map_err(AofError::Flush)?;
        }
        for db in 0..self.ks.len() {
            self.touch_watched_db(db, crate::state::now_ms());
        }
        self.tracking_flush();
        self.ks.flush_all();
        let mut dir = self.aof_dir_from_disk()?;
        if dir.manifest.load_order().is_empty() {
            return Err(AofError::NothingToLoad);
        }
        if !self.config.get_bool("aof-disable-auto-gc") {
            let removed = match self.aof.as_mut() {
                Some(aof) => aof.dir.delete_history(),
                None => dir.delete_history(),
            };
            if let Ok(names) = removed {
                for n in names {
                    self.log_notice(&format!("Removing the history file {n} in the background"));
                }
            }
        }
        // Loading, as upstream's startLoading: a script replayed from the
        // file that runs for long has other clients answered `-LOADING`.
        self.persistence.loading = true;
        let loaded = self.aof_load_files(&dir, now);
        self.persistence.loading = false;
        loaded?;
        self.dirty = 0;
        self.log_warning("Append Only File loaded by DEBUG LOADAOF");
        Ok(())
    }

    fn aof_load_file(
        &mut self,
        path: &std::path::Path,
        ftype: FileType,
        is_last: bool,
        now: i64,
    ) -> Result<(), AofError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let io_err = |err: io::Error| AofError::Read {
            file: name.clone(),
            err,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut start = 0u64;
        if ftype == FileType::Base
            && redis_aof::reader::file_has_rdb_preamble(path).unwrap_or(false)
        {
            self.log_notice("Reading RDB base file on AOF loading...");
            let mut reader = RdbReader::new(BufReader::new(File::open(path).map_err(io_err)?));
            let (loaded, expired) = self.load_from(&mut reader, now)?;
            start = reader.offset();
            self.log_done_loading_rdb(loaded, expired);
        }
        file.seek(SeekFrom::Start(start)).map_err(io_err)?;
        let mut reader = AofReader::at_offset(file, start);
        let mut client = Client::detached(0);
        client.is_master = true;
        client.authenticated = true;
        let mut sink = BytesMut::new();
        loop {
            match reader.next_event() {
                Event::Command(c) => {
                    self.aof_replay(&mut client, c.argv, &mut sink, now, &name)?;
                    sink.clear();
                }
                Event::End(End::Clean) => return Ok(()),
                Event::End(End::Truncated { valid_up_to, .. }) => {
                    if is_last && self.config.get_bool("aof-load-truncated") {
                        self.log_warning("!!! Warning: short read while loading the AOF file !!!");
                        self.log_warning(&format!(
                            "!!! Truncating the AOF at offset {valid_up_to} !!!"
                        ));
                        let f = std::fs::OpenOptions::new()
                            .write(true)
                            .open(path)
                            .map_err(io_err)?;
                        f.set_len(valid_up_to).map_err(io_err)?;
                        self.log_warning("AOF loaded anyway because aof-load-truncated is enabled");
                        return Ok(());
                    }
                    return Err(AofError::Truncated { file: name });
                }
                Event::End(end) => return Err(AofError::BadFormat { file: name, end }),
            }
        }
    }

    /// Runs one command read from an AOF the way upstream's loader does:
    /// through the dispatcher as [`Caller::AofLoad`] (no checks, no
    /// statistics, slow log, monitors or propagation, the reply
    /// discarded; `MULTI` queues and `EXEC` runs the queue the same way).
    /// A command this server does not know is fatal, as upstream (`file`
    /// names the file being read in the error).
    fn aof_replay(
        &mut self,
        client: &mut Client,
        argv: Vec<Bytes>,
        sink: &mut BytesMut,
        now: i64,
        file: &str,
    ) -> Result<(), AofError> {
        let name = argv.first().cloned().unwrap_or_default();
        if self.registry.lookup(&name).is_none() {
            return Err(AofError::UnknownCommand {
                command: String::from_utf8_lossy(&name).into_owned(),
                file: file.to_string(),
            });
        }
        self.call(Caller::AofLoad, client, argv, sink, now);
        // Errors are replies to the fake client, which nobody reads.
        sink.clear();
        Ok(())
    }

    /// Starts `BGREWRITEAOF`: a new incr file takes the writes from now on,
    /// and the snapshot of now becomes the new base.
    pub fn start_aof_rewrite(&mut self) -> Result<(), AofError> {
        self.start_aof_rewrite_into(false)
    }

    /// [`State::start_aof_rewrite`]; with `reuse_incr` the current incr
    /// file, opened a moment ago and still empty, takes the writes after
    /// the snapshot (AOF turned on at runtime: base 1 and incr 1, as
    /// upstream names them).
    fn start_aof_rewrite_into(&mut self, reuse_incr: bool) -> Result<(), AofError> {
        if self.persistence.bgsave.is_some() || self.ks.snapshot_running() {
            if let Some(aof) = self.aof.as_mut() {
                aof.rewrite_scheduled = true;
            }
            return Ok(());
        }
        // Commands already executed belong to the snapshot, so to the old
        // incr file, never to the new one.
        self.aof_flush_buf();
        let Some(aof) = self.aof.as_mut() else {
            return Err(AofError::Off);
        };
        let incr_name = if reuse_incr {
            aof.dir.manifest.incr.last().map(|f| f.file_name.clone())
        } else {
            None
        };
        let incr_name = match incr_name {
            Some(name) => name,
            None => {
                let (name, file) = aof.dir.open_new_incr().map_err(AofError::RewriteOpen)?;
                aof.writer.switch_file(file, 0);
                aof.feeder.reset_db();
                name
            }
        };
        aof.writer.set_rewrite_active(true);
        // `aof-use-rdb-preamble no`: the new base is RESP commands.
        let rdb_base = self.config.get_bool("aof-use-rdb-preamble");
        aof.rewrite_rdb_base = rdb_base;
        let tmp = aof
            .dir
            .path_of(&redis_aof::manifest::temp_rewrite_name(u64::from(
                std::process::id(),
            )));
        self.log_notice(&format!(
            "Creating AOF incr file {incr_name} on background rewrite"
        ));
        self.start_rewrite_snapshot(tmp, rdb_base)
    }

    /// The background part of every AOF rewrite: the snapshot of now is
    /// written to `tmp` (renamed `.done` when complete) as an RDB preamble
    /// or as commands, by the background save machinery.
    fn start_rewrite_snapshot(&mut self, tmp: PathBuf, rdb_base: bool) -> Result<(), AofError> {
        let final_path: PathBuf = tmp.with_extension("done");
        let (rdb_opened, resp_opened) = if rdb_base {
            let w = self.open_writer_to(tmp, final_path, true);
            (Some(w.map_err(AofError::RewriteOpen)?), None)
        } else {
            let w = self.open_sink_to(tmp, final_path, true);
            (None, Some(w.map_err(AofError::RewriteOpen)?))
        };
        let Some(snap) = self.ks.begin_snapshot() else {
            return Err(AofError::RewriteInProgress);
        };
        let total = self.ks.total_keys() as u64;
        self.persistence.bgsave = match (rdb_opened, resp_opened) {
            (Some(o), _) => Some(BgSave::for_aof_rewrite(snap, o, self.dirty, total)),
            (None, Some(o)) => Some(BgSave::for_aof_rewrite_resp(snap, o, self.dirty, total)),
            (None, None) => None,
        };
        let timestamps = self.config.get_bool("aof-timestamp-enabled");
        if let Some(bg) = self.persistence.bgsave.as_mut() {
            bg.key_delay = self.config.get_int("rdb-key-save-delay");
            // A RESP base starts with the time it was taken, as upstream's.
            if let (Some(resp), true) = (bg.resp.as_mut(), timestamps) {
                let mut ts = Vec::new();
                redis_aof::command::write_timestamp(&mut ts, crate::state::unix_secs());
                // A failed write fails the rewrite when the writer ends.
                let _ = std::io::Write::write_all(resp, &ts);
            }
        }
        // A RESP base loads the function libraries first (upstream's
        // `rewriteFunctions`: one `FUNCTION LOAD` each).
        let codes = self.scripting.function_codes();
        if let Some(resp) = self
            .persistence
            .bgsave
            .as_mut()
            .and_then(|bg| bg.resp.as_mut())
        {
            let mut buf = bytes::BytesMut::new();
            for code in &codes {
                redis_resp::encode_request(&[&b"FUNCTION"[..], &b"LOAD"[..], &code[..]], &mut buf);
            }
            // A failed write fails the rewrite when the writer ends.
            let _ = std::io::Write::write_all(resp, &buf);
        }
        self.log_notice(&format!(
            "Background append only file rewriting started by pid {}",
            std::process::id()
        ));
        self.bg_notify.notify_one();
        Ok(())
    }

    /// After a full sync installed a new dataset the AOF no longer
    /// describes it: a rewrite makes the new dataset its base, and the
    /// replication stream goes to the new incr file (upstream restarts the
    /// AOF after a sync for the same reason).
    pub fn restart_aof_after_sync(&mut self) {
        if self.aof.is_none() {
            return;
        }
        if let Err(e) = self.start_aof_rewrite() {
            self.log_warning(&format!(
                "Failed enabling the AOF after successful master synchronization! ({e})"
            ));
        }
    }

    /// Installs the rewritten base once its writer finished.
    /// Drops an AOF rewrite in progress (`CONFIG SET appendonly no`), with
    /// upstream's line; its temp file goes with it.
    fn kill_aof_rewrite(&mut self) {
        let rewriting = self
            .persistence
            .bgsave
            .as_ref()
            .is_some_and(|b| b.aof_rewrite);
        if !rewriting {
            return;
        }
        if let Some(mut bg) = self.persistence.bgsave.take() {
            if let Some(snap) = bg.snap.take() {
                self.ks.end_snapshot(snap);
            }
        }
        let pid = std::process::id();
        self.log_notice(&format!("Killing running AOF rewrite child: {pid}"));
        if let Some(aof) = self.aof.as_mut() {
            aof.writer.set_rewrite_active(false);
            let tmp = aof
                .dir
                .path_of(&redis_aof::manifest::temp_rewrite_name(u64::from(pid)));
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(tmp.with_extension("done"));
        }
    }

    /// `BGREWRITEAOF` with `appendonly no` (7.0 allows it): the snapshot of
    /// now becomes a new base in `appenddirname`, every incr file becomes
    /// history, and no incr file is opened (nothing is appended while the
    /// AOF is off). With a snapshot running it is scheduled instead.
    pub fn start_aof_rewrite_while_off(&mut self) -> Result<bool, AofError> {
        if self.persistence.bgsave.is_some() || self.ks.snapshot_running() {
            self.aof_off_rewrite_scheduled = true;
            return Ok(false);
        }
        let dirname = self.config.get_str("appenddirname").to_string();
        let fname = self.config.get_str("appendfilename").to_string();
        let dir = AofDir::open(std::path::Path::new("."), &dirname, &fname)?;
        dir.create_dir().map_err(AofError::RewriteOpen)?;
        let rdb_base = self.config.get_bool("aof-use-rdb-preamble");
        let tmp = dir.path_of(&redis_aof::manifest::temp_rewrite_name(u64::from(
            std::process::id(),
        )));
        self.start_rewrite_snapshot(tmp, rdb_base)?;
        self.aof_off_rewrite = Some((dir, rdb_base));
        Ok(true)
    }

    /// Upstream's lines for a rewritten base put in place.
    fn log_rewrite_installed(&self, done: &std::path::Path, base: &str, removed: &[String]) {
        let tmp_name = done
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.log_notice("Background AOF rewrite terminated with success");
        self.log_notice(&format!(
            "Successfully renamed the temporary AOF base file {tmp_name} into {base}"
        ));
        for f in removed {
            self.log_notice(&format!("Removing the history file {f} in the background"));
        }
        self.log_notice("Background AOF rewrite finished successfully");
    }

    /// The end of a rewrite started while the AOF was off.
    fn aof_off_rewrite_done(&mut self, ok: bool) {
        let Some((mut dir, rdb_base)) = self.aof_off_rewrite.take() else {
            return;
        };
        let tmp = dir.path_of(&redis_aof::manifest::temp_rewrite_name(u64::from(
            std::process::id(),
        )));
        let done = tmp.with_extension("done");
        let res = if ok {
            dir.install_rewritten_base(&done, rdb_base, false)
                .and_then(|base| dir.delete_history().map(|removed| (base, removed)))
        } else {
            Err(std::io::Error::other("rewrite failed"))
        };
        match res {
            Ok((base, removed)) => self.log_rewrite_installed(&done, &base, &removed),
            Err(_) => {
                let _ = std::fs::remove_file(&done);
                self.log_warning("Background AOF rewrite terminated with error");
            }
        }
    }

    pub fn aof_rewrite_done(&mut self, ok: bool, secs: i64) {
        let pid = std::process::id();
        if self.aof.is_none() {
            self.aof_off_rewrite_done(ok);
            return;
        }
        let Some(aof) = self.aof.as_mut() else { return };
        aof.writer.set_rewrite_active(false);
        aof.last_rewrite_secs = secs;
        let tmp = aof
            .dir
            .path_of(&redis_aof::manifest::temp_rewrite_name(u64::from(pid)));
        let done = tmp.with_extension("done");
        let rdb_base = aof.rewrite_rdb_base;
        let res = if ok {
            aof.dir
                .install_rewritten_base(&done, rdb_base, true)
                .and_then(|base| aof.dir.delete_history().map(|removed| (base, removed)))
        } else {
            Err(std::io::Error::other("rewrite failed"))
        };
        aof.last_rewrite_ok = res.is_ok();
        if let Ok((base, removed)) = &res {
            aof.rewrites += 1;
            aof.initial = false;
            aof.base_size = aof.dir.files_size().unwrap_or(0);
            self.log_rewrite_installed(&done, base, removed);
        } else {
            let _ = std::fs::remove_file(&done);
            self.log_warning("Background AOF rewrite terminated with error");
        }
        let scheduled = self
            .aof
            .as_mut()
            .is_some_and(|a| std::mem::take(&mut a.rewrite_scheduled));
        if scheduled {
            let _ = self.start_aof_rewrite();
        }
    }

    /// Cron: automatic rewrite on growth.
    pub fn aof_cron(&mut self) {
        if self.aof_off_rewrite_scheduled && self.persistence.bgsave.is_none() && self.aof.is_none()
        {
            self.aof_off_rewrite_scheduled = false;
            let _ = self.start_aof_rewrite_while_off();
        }
        if let Some(aof) = self.aof.as_mut() {
            aof.write_error = aof
                .writer
                .write_status()
                .err()
                .map(|e| e.reason().to_string());
        }
        let pct = self.config.get_int("auto-aof-rewrite-percentage");
        let min = self.config.get_int("auto-aof-rewrite-min-size").max(0) as u64;
        let Some(aof) = self.aof.as_mut() else { return };
        if pct <= 0 || self.persistence.bgsave.is_some() {
            return;
        }
        let size = aof.dir.files_size().unwrap_or(0);
        let base = aof.base_size.max(1);
        if size > min && (size.saturating_sub(base)) * 100 / base >= pct as u64 {
            self.log_notice(&format!(
                "Starting automatic rewriting of AOF on {}% growth",
                (size.saturating_sub(base)) * 100 / base
            ));
            let _ = self.start_aof_rewrite();
        }
    }

    /// `CONFIG SET appendonly` and `appendfsync` on a live server.
    pub fn aof_apply_config(&mut self) {
        let on = self.config.get_bool("appendonly");
        match (on, self.aof.is_some()) {
            (true, false) => {
                // Turning AOF on: a new incr takes writes from now, the
                // rewrite's base captures everything before.
                let dirname = self.config.get_str("appenddirname").to_string();
                let fname = self.config.get_str("appendfilename").to_string();
                let opened = AofDir::open(std::path::Path::new("."), &dirname, &fname)
                    .map_err(AofError::from)
                    .and_then(|mut dir| {
                        dir.create_dir().map_err(AofError::Io)?;
                        let (_, file) = dir.open_new_incr().map_err(AofError::Io)?;
                        let writer =
                            AofWriter::new(file, 0, policy_of(self)).map_err(AofError::Io)?;
                        Ok((dir, writer))
                    });
                match opened {
                    Ok((dir, writer)) => {
                        writer.set_flush_sleep(self.aof_flush_sleep_us);
                        let mut aof = AofState::new(
                            dir,
                            writer,
                            self.config.get_bool("aof-timestamp-enabled"),
                            0,
                        );
                        aof.initial = true;
                        self.aof = Some(aof);
                        if self.start_aof_rewrite_into(true).is_ok() {
                            self.log_notice("AOF enabled on a running server: rewrite started");
                        }
                    }
                    Err(e) => self.log_warning(&format!(
                        "Redis needs to enable the AOF but can't open the append only file: {e}"
                    )),
                }
            }
            (false, true) => {
                self.kill_aof_rewrite();
                self.aof_flush_buf();
                if let Some(aof) = self.aof.take() {
                    let _ = aof.writer.sync_all();
                    let _ = aof.writer.close();
                }
                self.log_notice("AOF disabled");
            }
            (true, true) => {
                let p = policy_of(self);
                let nf = self.config.get_bool("no-appendfsync-on-rewrite");
                if let Some(aof) = &self.aof {
                    aof.writer.set_policy(p);
                    aof.writer.set_no_fsync_on_rewrite(nf);
                }
            }
            (false, false) => {}
        }
    }

    /// Flushes and fsyncs the AOF at shutdown.
    pub fn aof_shutdown(&mut self) {
        self.aof_flush_buf();
        if let Some(aof) = &self.aof {
            self.log_notice("Calling fsync() on the AOF file.");
            let _ = aof.writer.sync_all();
        }
    }

    /// The AOF lines of `INFO persistence`.
    /// `mem_aof_buffer`: bytes propagated to the AOF and not yet written
    /// to the file (the batch being built plus the writer's queue).
    pub fn aof_buffer_bytes(&self) -> u64 {
        self.aof
            .as_ref()
            .map_or(0, |a| a.buf.len() as u64 + a.writer.stats().pending)
    }

    /// `aof_current_rewrite_time_sec`: seconds since the running AOF
    /// rewrite started, -1 when none runs.
    pub fn aof_current_rewrite_secs(&self) -> i64 {
        match &self.persistence.bgsave {
            Some(b) if b.aof_rewrite => b.elapsed_secs(),
            _ => -1,
        }
    }

    pub fn aof_info(&self) -> (u8, u8, u8, u64, &'static str, &'static str, i64) {
        let rewriting = u8::from(
            self.persistence
                .bgsave
                .as_ref()
                .is_some_and(|b| b.aof_rewrite),
        );
        match &self.aof {
            // A rewrite runs with the AOF off too (`BGREWRITEAOF`).
            None => (
                0,
                rewriting,
                u8::from(self.aof_off_rewrite_scheduled),
                0,
                "ok",
                "ok",
                -1,
            ),
            Some(a) => (
                1,
                u8::from(
                    self.persistence
                        .bgsave
                        .as_ref()
                        .is_some_and(|b| b.aof_rewrite),
                ),
                u8::from(a.rewrite_scheduled),
                a.rewrites,
                if a.last_rewrite_ok { "ok" } else { "err" },
                if a.writer.write_status().is_ok() {
                    "ok"
                } else {
                    "err"
                },
                a.last_rewrite_secs,
            ),
        }
    }
}

#[cfg(test)]
#[path = "aof_tests.rs"]
mod tests;
