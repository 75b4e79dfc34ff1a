//! The multi-part AOF manifest (`<appendfilename>.manifest` inside
//! `appenddirname`), as Redis 7.0 reads and writes it.
//!
//! One line per file: `file <name> seq <n> type <b|h|i>`. The base comes
//! first, then history files, then incr files in sequence order. Names that
//! need quoting are written the way upstream's `sdscatrepr` writes them and
//! read back with the shared `split_args` tokenizer (the same one
//! `redis.conf` uses), so both directions agree with the reference.
//!
//! Validation follows upstream's loader: the same checks in the same order
//! and the same error texts, because `redis-check-aof` and the server's
//! startup log print them verbatim.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Suffix of base files written with an RDB preamble.
pub const RDB_FORMAT_SUFFIX: &str = ".rdb";
/// Suffix of AOF-format files (incr files and RESP base files).
pub const AOF_FORMAT_SUFFIX: &str = ".aof";
/// Infix of base file names.
pub const BASE_FILE_SUFFIX: &str = ".base";
/// Infix of incr file names.
pub const INCR_FILE_SUFFIX: &str = ".incr";
/// Suffix of the manifest's name.
pub const MANIFEST_NAME_SUFFIX: &str = ".manifest";
/// Prefix of temporary files in the AOF directory.
pub const TEMP_FILE_NAME_PREFIX: &str = "temp-";
/// Upstream reads manifest lines with a 1024-byte buffer; longer lines are
/// an error.
pub const MANIFEST_MAX_LINE: usize = 1024;

/// The role of a file listed in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `b`: the snapshot written by the last rewrite (at most one).
    Base,
    /// `h`: superseded by a rewrite, waiting to be deleted.
    History,
    /// `i`: commands appended after the base, in sequence order.
    Incr,
}

impl FileType {
    /// The manifest letter.
    pub fn letter(self) -> u8 {
        match self {
            FileType::Base => b'b',
            FileType::History => b'h',
            FileType::Incr => b'i',
        }
    }

    /// Parses a manifest letter.
    pub fn from_letter(c: u8) -> Option<FileType> {
        match c {
            b'b' => Some(FileType::Base),
            b'h' => Some(FileType::History),
            b'i' => Some(FileType::Incr),
            _ => None,
        }
    }
}

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofInfo {
    /// File name inside the AOF directory (never a path).
    pub file_name: String,
    /// Sequence number (base and incr files are numbered separately).
    pub file_seq: i64,
    /// Role of the file.
    pub file_type: FileType,
}

/// A manifest load failure, carrying what upstream prints: the line
/// number and trimmed text when a line was being read, and the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ManifestError {
    /// 1-based line number and the trimmed line, if a line was involved.
    pub line: Option<(usize, Vec<u8>)>,
    /// Upstream's message (e.g. "Invalid AOF manifest file format").
    pub message: String,
}

impl ManifestError {
    fn plain(message: &str) -> ManifestError {
        ManifestError {
            line: None,
            message: message.to_string(),
        }
    }

    fn at(linenum: usize, line: &[u8], message: &str) -> ManifestError {
        ManifestError {
            line: Some((linenum, line.to_vec())),
            message: message.to_string(),
        }
    }

    /// The lines upstream logs (each as its own log entry, in order):
    /// the banner, the line position and text when known, and the message.
    pub fn log_messages(&self) -> Vec<Vec<u8>> {
        let mut out = vec![b"\n*** FATAL AOF MANIFEST FILE ERROR ***\n".to_vec()];
        if let Some((n, text)) = &self.line {
            out.push(format!("Reading the manifest file, at line {n}\n").into_bytes());
            let mut l = b">>> '".to_vec();
            l.extend_from_slice(text);
            l.extend_from_slice(b"'\n");
            out.push(l);
        }
        out.push(format!("{}\n", self.message).into_bytes());
        out
    }
}

/// The in-memory manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofInfo>,
    /// Incr files in sequence order; the last one is being appended to.
    pub incr: Vec<AofInfo>,
    /// History files waiting for deletion.
    pub history: Vec<AofInfo>,
    /// Sequence of the newest base ever named.
    pub curr_base_file_seq: i64,
    /// Sequence of the newest incr ever named.
    pub curr_incr_file_seq: i64,
    /// True when the in-memory state differs from the file on disk.
    pub dirty: bool,
}

/// Upstream's `sdsneedsrepr`: names with quotes, backslashes, control or
/// non-printable bytes, or spaces are written quoted.
pub fn needs_repr(s: &[u8]) -> bool {
    s.iter().any(|&c| {
        matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 0x07 | 0x08)
            || !(0x20..0x7f).contains(&c)
            || c == b' '
            || c == 0x0b
            || c == 0x0c
    })
}

/// Upstream's `sdscatrepr`: a double-quoted string with C escapes and
/// `\xHH` for other non-printable bytes.
pub fn repr(s: &[u8]) -> Vec<u8> {
    redis_common::repr::repr(s)
}

/// C's `atoll`: optional leading whitespace and sign, then digits; stops
/// at the first other byte; 0 when there are none. Saturates instead of
/// overflowing.
fn atoll(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = (s[i] - b'0') as i64;
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    v
}

/// Trims the bytes upstream's `sdstrim(line, " \t\r\n")` removes.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if matches!(first, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if matches!(last, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Upstream's `pathIsBaseName`: no `/` and not `..`.
fn is_base_name(s: &[u8]) -> bool {
    !s.contains(&b'/') && s != b".."
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Manifest {
        Manifest::default()
    }

    /// Parses manifest bytes with upstream's rules and messages.
    pub fn parse(data: &[u8]) -> Result<Manifest, ManifestError> {
        let mut am = Manifest::new();
        let mut maxseq: i64 = 0;
        let mut linenum = 0usize;
        let mut rest = data;
        loop {
            if rest.is_empty() {
                if linenum == 0 {
                    return Err(ManifestError::plain("Found an empty AOF manifest"));
                }
                break;
            }
            // fgets with a MANIFEST_MAX_LINE+1 buffer: at most 1024 bytes,
            // up to and including a newline.
            let take = match rest
                .iter()
                .take(MANIFEST_MAX_LINE)
                .position(|&c| c == b'\n')
            {
                Some(p) => p + 1,
                None => rest.len().min(MANIFEST_MAX_LINE),
            };
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            linenum += 1;
            if chunk.first() == Some(&b'#') {
                continue;
            }
            // fgets stops at a NUL for C string functions: what follows a
            // NUL in the buffer is invisible to strchr and sdsnew.
            let visible = match chunk.iter().position(|&c| c == 0) {
                Some(p) => &chunk[..p],
                None => chunk,
            };
            if !visible.contains(&b'\n') {
                return Err(ManifestError::plain(
                    "The AOF manifest file contains too long line",
                ));
            }
            let line = trim(visible);
            if line.is_empty() {
                return Err(ManifestError::at(
                    linenum,
                    line,
                    "Invalid AOF manifest file format",
                ));
            }
            let argv = match redis_common::args::split_args(line) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => {
                    return Err(ManifestError::at(
                        linenum,
                        line,
                        "Invalid AOF manifest file format",
                    ))
                }
            };
            let mut name: Option<Vec<u8>> = None;
            let mut seq: i64 = 0;
            let mut typ: u8 = 0;
            for pair in argv.chunks_exact(2) {
                let (k, v) = (&pair[0], &pair[1]);
                if k.eq_ignore_ascii_case(b"file") {
                    // A NUL ends the name for upstream (C string).
                    let v = match v.iter().position(|&c| c == 0) {
                        Some(p) => &v[..p],
                        None => &v[..],
                    };
                    if !is_base_name(v) {
                        return Err(ManifestError::at(
                            linenum,
                            line,
                            "File can't be a path, just a filename",
                        ));
                    }
                    name = Some(v.to_vec());
                } else if k.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(v);
                } else if k.eq_ignore_ascii_case(b"type") {
                    typ = v.first().copied().unwrap_or(0);
                }
            }
            let name = match name {
                Some(n) if seq != 0 && typ != 0 => n,
                _ => {
                    return Err(ManifestError::at(
                        linenum,
                        line,
                        "Invalid AOF manifest file format",
                    ))
                }
            };
            let info = AofInfo {
                file_name: String::from_utf8_lossy(&name).into_owned(),
                file_seq: seq,
                file_type: FileType::Base,
            };
            match FileType::from_letter(typ) {
                Some(FileType::Base) => {
                    if am.base.is_some() {
                        return Err(ManifestError::at(
                            linenum,
                            line,
                            "Found duplicate base file information",
                        ));
                    }
                    am.curr_base_file_seq = seq;
                    am.base = Some(info);
                }
                Some(FileType::History) => am.history.push(AofInfo {
                    file_type: FileType::History,
                    ..info
                }),
                Some(FileType::Incr) => {
                    if seq <= maxseq {
                        return Err(ManifestError::at(
                            linenum,
                            line,
                            "Found a non-monotonic sequence number",
                        ));
                    }
                    am.curr_incr_file_seq = seq;
                    maxseq = seq;
                    am.incr.push(AofInfo {
                        file_type: FileType::Incr,
                        ..info
                    });
                }
                None => {
                    return Err(ManifestError::at(linenum, line, "Unknown AOF file type"));
                }
            }
        }
        Ok(am)
    }

    /// Reads and parses a manifest file. An unreadable file is reported
    /// with upstream's wording.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let data = fs::read(path).map_err(|e| {
            ManifestError::plain(&format!(
                "Fatal error: can't open the AOF manifest file {} for reading: {}",
                path.display(),
                redis_common::os::strerror(&e)
            ))
        })?;
        Manifest::parse(&data)
    }

    /// The manifest text: base, then history, then incr files.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let all = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incr.iter());
        for ai in all {
            out.extend_from_slice(b"file ");
            let name = ai.file_name.as_bytes();
            if needs_repr(name) {
                out.extend_from_slice(&repr(name));
            } else {
                out.extend_from_slice(name);
            }
            out.extend_from_slice(format!(" seq {} type ", ai.file_seq).as_bytes());
            out.push(ai.file_type.letter());
            out.push(b'\n');
        }
        out
    }

    /// Names a new base file (`<appendfilename>.<seq>.base.rdb|.aof`) and
    /// turns the current base, if any, into the first history entry.
    pub fn new_base_file(&mut self, appendfilename: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.file_type = FileType::History;
            self.history.insert(0, old);
        }
        self.curr_base_file_seq += 1;
        let suffix = if rdb_preamble {
            RDB_FORMAT_SUFFIX
        } else {
            AOF_FORMAT_SUFFIX
        };
        let name = format!(
            "{appendfilename}.{}{BASE_FILE_SUFFIX}{suffix}",
            self.curr_base_file_seq
        );
        self.base = Some(AofInfo {
            file_name: name.clone(),
            file_seq: self.curr_base_file_seq,
            file_type: FileType::Base,
        });
        self.dirty = true;
        name
    }

    /// Names a new incr file (`<appendfilename>.<seq>.incr.aof`) and
    /// appends it to the incr list.
    pub fn new_incr_file(&mut self, appendfilename: &str) -> String {
        self.curr_incr_file_seq += 1;
        let name = format!(
            "{appendfilename}.{}{INCR_FILE_SUFFIX}{AOF_FORMAT_SUFFIX}",
            self.curr_incr_file_seq
        );
        self.incr.push(AofInfo {
            file_name: name.clone(),
            file_seq: self.curr_incr_file_seq,
            file_type: FileType::Incr,
        });
        self.dirty = true;
        name
    }

    /// The incr file to append to: the last one, or a new one.
    pub fn last_incr_file(&mut self, appendfilename: &str) -> String {
        match self.incr.last() {
            Some(ai) => ai.file_name.clone(),
            None => self.new_incr_file(appendfilename),
        }
    }

    /// After a successful rewrite: every incr file except the one being
    /// written (`keep_last`, true while AOF is on) becomes history, newest
    /// first at the front like upstream.
    pub fn mark_rewritten_incr_as_history(&mut self, keep_last: bool) {
        if self.incr.is_empty() {
            return;
        }
        let keep = if keep_last { 1 } else { 0 };
        let n = self.incr.len().saturating_sub(keep);
        let moved: Vec<AofInfo> = self.incr.drain(..n).collect();
        // Upstream walks from the tail and pushes each at the head, so the
        // history keeps the incr order ahead of older history entries.
        for mut ai in moved.into_iter().rev() {
            ai.file_type = FileType::History;
            self.history.insert(0, ai);
        }
        self.dirty = true;
    }

    /// Takes the history list (for deletion) and marks the manifest dirty.
    pub fn take_history(&mut self) -> Vec<AofInfo> {
        if self.history.is_empty() {
            return Vec::new();
        }
        self.dirty = true;
        std::mem::take(&mut self.history)
    }

    /// Base and incr files in load order.
    pub fn load_order(&self) -> Vec<&AofInfo> {
        self.base.iter().chain(self.incr.iter()).collect()
    }
}

/// `<appendfilename>.manifest`.
pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}{MANIFEST_NAME_SUFFIX}")
}

/// `temp-<appendfilename>.manifest`.
pub fn temp_manifest_name(appendfilename: &str) -> String {
    format!("{TEMP_FILE_NAME_PREFIX}{appendfilename}{MANIFEST_NAME_SUFFIX}")
}

/// `temp-<appendfilename>.incr`: the incr file used while AOF is being
/// turned on and the first rewrite has not finished.
pub fn temp_incr_name(appendfilename: &str) -> String {
    format!("{TEMP_FILE_NAME_PREFIX}{appendfilename}{INCR_FILE_SUFFIX}")
}

/// `temp-rewriteaof-bg-<id>.aof`: where a background rewrite writes the
/// new base before it is renamed.
pub fn temp_rewrite_name(id: u64) -> String {
    format!("{TEMP_FILE_NAME_PREFIX}rewriteaof-bg-{id}.aof")
}

/// Fsyncs a directory so renames and new entries in it are durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Atomically replaces `<dir>/<appendfilename>.manifest` with `data`:
/// write a temp file, fsync it, rename over, fsync the directory. A crash
/// at any point leaves either the old or the new manifest.
pub fn write_manifest_file(dir: &Path, appendfilename: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(temp_manifest_name(appendfilename));
    let dst = dir.join(manifest_name(appendfilename));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_data()?;
    drop(f);
    fs::rename(&tmp, &dst)?;
    fsync_dir(dir)
}

/// A manifest bound to its directory: the operations the server performs
/// on the AOF directory (upstream's `aof.c` manifest helpers).
#[derive(Debug, Clone)]
pub struct AofDir {
    /// The AOF directory (`<dir>/<appenddirname>`).
    pub dir: PathBuf,
    /// `appendfilename` (default `appendonly.aof`).
    pub filename: String,
    /// The current manifest.
    pub manifest: Manifest,
}

impl AofDir {
    /// Binds to `<dir>/<appenddirname>`, loading the manifest when it
    /// exists (a missing directory or manifest is an empty manifest, as
    /// upstream does for seamless upgrades).
    pub fn open(
        dir: &Path,
        appenddirname: &str,
        appendfilename: &str,
    ) -> Result<AofDir, ManifestError> {
        let d = dir.join(appenddirname);
        let mpath = d.join(manifest_name(appendfilename));
        let manifest = if d.is_dir() && mpath.exists() {
            Manifest::load(&mpath)?
        } else {
            Manifest::new()
        };
        Ok(AofDir {
            dir: d,
            filename: appendfilename.to_string(),
            manifest,
        })
    }

    /// Whether `old` (an `appendfilename` file in the working directory,
    /// written by Redis before 7.0) is to be migrated into the directory,
    /// upstream's three cases: no AOF directory; a directory without a
    /// manifest (or an empty one); or a manifest whose only entry is that
    /// file as base while the file is not in the directory yet (a migration
    /// interrupted between writing the manifest and moving the file).
    pub fn needs_upgrade(&self, old: &Path) -> bool {
        if !old.is_file() {
            return false;
        }
        if !self.dir.is_dir() {
            return true;
        }
        let m = &self.manifest;
        if !m.incr.is_empty() {
            return false;
        }
        match &m.base {
            None => true,
            Some(b) => b.file_name == self.filename && !self.path_of(&self.filename).exists(),
        }
    }

    /// Migrates `old` into the directory (upstream's `aofUpgradePrepare`):
    /// the manifest naming it as base 1 is written first, then the file is
    /// moved, so an interruption between the two is resumed on the next
    /// start (see [`AofDir::needs_upgrade`]).
    pub fn upgrade(&mut self, old: &Path) -> io::Result<()> {
        self.create_dir()?;
        self.manifest.base = Some(AofInfo {
            file_name: self.filename.clone(),
            file_seq: 1,
            file_type: FileType::Base,
        });
        self.manifest.curr_base_file_seq = 1;
        self.manifest.dirty = true;
        self.persist_current()?;
        fs::rename(old, self.path_of(&self.filename))?;
        fsync_dir(&self.dir)
    }

    /// Path of a file inside the AOF directory.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates the directory if missing.
    pub fn create_dir(&self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)
    }

    /// Writes `m` as the manifest (atomic replace) and clears its dirty
    /// flag; nothing is written when it is clean.
    pub fn persist(&self, m: &mut Manifest) -> io::Result<()> {
        if !m.dirty {
            return Ok(());
        }
        write_manifest_file(&self.dir, &self.filename, &m.to_bytes())?;
        m.dirty = false;
        Ok(())
    }

    /// Persists the bound manifest.
    pub fn persist_current(&mut self) -> io::Result<()> {
        let mut m = std::mem::take(&mut self.manifest);
        let r = self.persist(&mut m);
        self.manifest = m;
        r
    }

    /// Opens the incr file to append to at startup (the last one, or a new
    /// one) with `O_APPEND|O_CREAT`, then persists the manifest. Returns
    /// the name, the open file and its current size.
    pub fn open_incr_on_start(&mut self) -> io::Result<(String, File, u64)> {
        self.create_dir()?;
        let name = self.manifest.last_incr_file(&self.filename);
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.path_of(&name))?;
        self.persist_current()?;
        let size = f.metadata()?.len();
        Ok((name, f, size))
    }

    /// Starts a rewrite: names and creates (truncating) a new incr file and
    /// persists a manifest listing it; on any failure the in-memory
    /// manifest is unchanged. The caller switches its writer to the
    /// returned file.
    pub fn open_new_incr(&mut self) -> io::Result<(String, File)> {
        let mut temp = self.manifest.clone();
        let name = temp.new_incr_file(&self.filename);
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path_of(&name))?;
        if let Err(e) = self.persist(&mut temp) {
            let _ = fs::remove_file(self.path_of(&name));
            return Err(e);
        }
        self.manifest = temp;
        Ok((name, f))
    }

    /// Finishes a rewrite whose new base was written (and fsynced) at
    /// `temp_base`: renames it to the next base name, turns the old base
    /// and all incr files but the current one into history, and persists
    /// the manifest. On failure the in-memory manifest is unchanged.
    /// Returns the new base name; call [`AofDir::delete_history`] next.
    pub fn install_rewritten_base(
        &mut self,
        temp_base: &Path,
        rdb_preamble: bool,
        aof_on: bool,
    ) -> io::Result<String> {
        let mut temp = self.manifest.clone();
        let name = temp.new_base_file(&self.filename, rdb_preamble);
        let dst = self.path_of(&name);
        fs::rename(temp_base, &dst)?;
        temp.mark_rewritten_incr_as_history(aof_on);
        if let Err(e) = self.persist(&mut temp) {
            // Put the temp file back so a retry starts from the same state.
            let _ = fs::rename(&dst, temp_base);
            return Err(e);
        }
        self.manifest = temp;
        Ok(name)
    }

    /// Deletes every history file and persists the manifest without them
    /// (upstream does the unlinks in a background thread; callers may run
    /// this off their lock). Returns the removed names.
    pub fn delete_history(&mut self) -> io::Result<Vec<String>> {
        let hist = self.manifest.take_history();
        let names: Vec<String> = hist.into_iter().map(|h| h.file_name).collect();
        for n in &names {
            let _ = fs::remove_file(self.path_of(n));
        }
        self.persist_current()?;
        Ok(names)
    }

    /// Total size of the base and incr files; an error names the first
    /// missing or unreadable file.
    pub fn files_size(&self) -> Result<u64, (String, io::Error)> {
        let mut total = 0;
        for ai in self.manifest.load_order() {
            match fs::metadata(self.path_of(&ai.file_name)) {
                Ok(m) => total += m.len(),
                Err(e) => return Err((ai.file_name.clone(), e)),
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
