//! The checks behind `redis-check-aof`, following upstream 7.0's logic
//! step by step because its report is compared byte for byte: the
//! `0x%16llx` error position, the global line counter shared by all files
//! of a manifest, the MULTI/EXEC bookkeeping that only moves `ok_up_to`
//! outside transactions, and the messages themselves.

use redis_common::os::strerror;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use redis_aof::manifest::Manifest;

use crate::cfile::CFile;

/// Upstream's annotation line buffer.
const ANNOTATION_LINE_MAX: usize = 1024;
/// Upstream's manifest line buffer (plus one).
const MANIFEST_MAX_LINE: usize = 1024;

/// Result of checking one file.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
}

/// Early termination with an exit status (upstream calls `exit`).
struct Exit(i32);

/// Checker state; the error text, its position and the line counter are
/// globals in upstream and carry over between the files of a manifest.
struct Checker<'a> {
    out: &'a mut dyn Write,
    error: Vec<u8>,
    epos: u64,
    line: i64,
    to_timestamp: i64,
    /// The stack buffer upstream reads `*<argc>` lines into. A line cut
    /// short by the end of the file makes the error message show a byte
    /// left over from the previous argc line, so we keep its contents
    /// (string lengths are read into a buffer that is clobbered between
    /// reads and shows zeros).
    argc_buf: [u8; 128],
}

/// `%02x` of a C `char` (signed on x86): bytes from 0x80 print as a
/// sign-extended 32-bit value.
fn hex_char(c: u8) -> String {
    if c >= 0x80 {
        format!("{:08x}", 0xffff_ff00u32 | c as u32)
    } else {
        format!("{c:02x}")
    }
}

/// C `strtol` base 10 on a byte string: returns the value (saturated),
/// the index just past the number (or 0 when nothing was converted) and
/// whether it overflowed.
fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = (s[i] - b'0') as i64;
        let next = if neg {
            v.checked_mul(10).and_then(|x| x.checked_sub(d))
        } else {
            v.checked_mul(10).and_then(|x| x.checked_add(d))
        };
        match next {
            Some(n) => v = n,
            None => {
                overflow = true;
                v = if neg { i64::MIN } else { i64::MAX };
            }
        }
        i += 1;
    }
    if i == start {
        (0, 0, false)
    } else {
        (v, i, overflow)
    }
}

/// The bytes of a C string: up to the first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(p) => &b[..p],
        None => b,
    }
}

impl<'a> Checker<'a> {
    fn say(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Upstream's `ERROR(...)` macro: remembers the message with the
    /// current error position.
    fn set_error(&mut self, msg: &[u8]) {
        let mut e = format!("0x{:16x}: ", self.epos).into_bytes();
        e.extend_from_slice(msg);
        self.error = e;
    }

    /// `consumeNewline`: the two bytes at `at` in `buf` must be CRLF (a C
    /// buffer: past the data it reads zeros).
    fn consume_newline(&mut self, buf: &[u8], at: usize) -> bool {
        let c0 = buf.get(at).copied().unwrap_or(0);
        let c1 = buf.get(at + 1).copied().unwrap_or(0);
        if c0 == b'\r' && c1 == b'\n' {
            self.line += 1;
            return true;
        }
        let msg = format!("Expected \\r\\n, got: {}{}", hex_char(c0), hex_char(c1));
        self.set_error(msg.as_bytes());
        false
    }

    /// `readLong`: a `<prefix><number>\r\n` line.
    fn read_long(&mut self, fp: &mut CFile, prefix: u8) -> Result<Option<i64>, Exit> {
        self.epos = fp.tell();
        let buf = match fp.fgets(128) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(_) => return Ok(None),
        };
        let first = buf.first().copied().unwrap_or(0);
        if first != prefix {
            let mut msg = b"Expected prefix '".to_vec();
            msg.push(prefix);
            msg.extend_from_slice(b"', got: '");
            msg.push(first);
            msg.push(b'\'');
            self.set_error(&msg);
            return Ok(None);
        }
        // strtol stops at a NUL like at any other non-digit.
        let body = cstr(buf.get(1..).unwrap_or(&[]));
        let (v, end, _) = strtol(body);
        let view: Vec<u8> = if prefix == b'*' {
            let n = buf.len().min(127);
            self.argc_buf[..n].copy_from_slice(&buf[..n]);
            self.argc_buf[n] = 0;
            self.argc_buf.to_vec()
        } else {
            buf.clone()
        };
        if self.consume_newline(&view, 1 + end) {
            Ok(Some(v))
        } else {
            Ok(None)
        }
    }

    /// `readString`: `$<len>\r\n<len bytes>\r\n`; returns the payload.
    fn read_string(&mut self, fp: &mut CFile) -> Result<Option<Vec<u8>>, Exit> {
        let len = match self.read_long(fp, b'$')? {
            Some(l) => l,
            None => return Ok(None),
        };
        if !(0..=i64::MAX - 2).contains(&len) {
            let msg = format!(
                "Expected to read string of {len} bytes, which is not in the suitable range"
            );
            self.set_error(msg.as_bytes());
            return Ok(None);
        }
        let want = len + 2;
        self.epos = fp.tell();
        let data = fp.fread(want as u64).unwrap_or_default();
        if data.len() as i64 != want {
            let msg = format!("Expected to read {want} bytes, got {} bytes", data.len());
            self.set_error(msg.as_bytes());
            return Ok(None);
        }
        if !self.consume_newline(&data, len as usize) {
            return Ok(None);
        }
        let mut d = data;
        d.truncate(len as usize);
        Ok(Some(d))
    }

    /// `processRESP`: one command, tracking MULTI/EXEC nesting.
    fn process_resp(
        &mut self,
        fp: &mut CFile,
        filename: &str,
        multi: &mut i64,
    ) -> Result<bool, Exit> {
        let argc = match self.read_long(fp, b'*')? {
            Some(n) => n,
            None => return Ok(false),
        };
        let mut i = 0;
        while i < argc {
            let s = match self.read_string(fp)? {
                Some(s) => s,
                None => return Ok(false),
            };
            if i == 0 {
                let name = cstr(&s);
                if name.eq_ignore_ascii_case(b"multi") {
                    let was = *multi;
                    *multi += 1;
                    if was != 0 {
                        self.set_error(format!("Unexpected MULTI in AOF {filename}").as_bytes());
                        return Ok(false);
                    }
                } else if name.eq_ignore_ascii_case(b"exec") {
                    *multi -= 1;
                    if *multi != 0 {
                        self.set_error(format!("Unexpected EXEC in AOF {filename}").as_bytes());
                        return Ok(false);
                    }
                }
            }
            i += 1;
        }
        Ok(true)
    }

    /// `processAnnotations`: skips an annotation line; with
    /// `--truncate-to-timestamp`, cuts the file at the first later `#TS:`.
    /// `Ok(false)` means the file was truncated there.
    fn process_annotation(
        &mut self,
        fp: &mut CFile,
        filename: &str,
        last_file: bool,
    ) -> Result<bool, Exit> {
        self.epos = fp.tell();
        let buf = match fp.fgets(ANNOTATION_LINE_MAX) {
            Ok(Some(b)) => b,
            _ => {
                self.say(&format!(
                    "Failed to read annotations from AOF {filename}, aborting...\n"
                ));
                return Err(Exit(1));
            }
        };
        if self.to_timestamp != 0 && buf.starts_with(b"#TS:") {
            let body = cstr(&buf[4..]);
            let (ts, end, overflow) = strtol(body);
            if overflow || body.get(end).copied().unwrap_or(0) != b'\r' {
                self.say("Invalid timestamp annotation\n");
                return Err(Exit(1));
            }
            if ts <= self.to_timestamp {
                return Ok(true);
            }
            let to = self.to_timestamp;
            if self.epos == 0 {
                self.say(&format!(
                    "AOF {filename} has nothing before timestamp {to}, aborting...\n"
                ));
                return Err(Exit(1));
            }
            if !last_file {
                let epos = self.epos;
                self.say(&format!(
                    "Failed to truncate AOF {filename} to timestamp {to} to offset {epos} because it is not the last file.\n"
                ));
                self.say("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.\n");
                return Err(Exit(1));
            }
            if fp.truncate(self.epos).is_err() {
                self.say(&format!(
                    "Failed to truncate AOF {filename} to timestamp {to}\n"
                ));
                return Err(Exit(1));
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// `checkSingleAof`.
    fn check_single(
        &mut self,
        aof_filename: &str,
        aof_filepath: &str,
        last_file: bool,
        fix: bool,
        preamble: bool,
    ) -> Result<Outcome, Exit> {
        // Upstream opens read-write ("r+") even when only checking.
        let f = match OpenOptions::new().read(true).write(true).open(aof_filepath) {
            Ok(f) => f,
            Err(e) => {
                self.say(&format!(
                    "Cannot open file {aof_filepath}: {}, aborting...\n",
                    strerror(&e)
                ));
                return Err(Exit(1));
            }
        };
        let size = match f.metadata() {
            Ok(m) => m.len(),
            Err(_) => {
                self.say(&format!("Cannot stat file: {aof_filename}, aborting...\n"));
                return Err(Exit(1));
            }
        };
        if size == 0 {
            return Ok(Outcome::Empty);
        }
        let mut fp = CFile::new(f);
        if preamble {
            match self.check_rdb_preamble(aof_filename, fp.file()) {
                Some(end) => {
                    self.say("RDB preamble is OK, proceeding with AOF tail...\n");
                    if fp.seek_to(end).is_err() {
                        return Err(Exit(1));
                    }
                }
                None => {
                    self.say("RDB preamble of AOF file is not sane, aborting.\n");
                    return Err(Exit(1));
                }
            }
        }
        let mut pos: u64 = 0;
        let mut multi: i64 = 0;
        loop {
            if multi == 0 {
                pos = fp.tell();
            }
            let c = match fp.peek() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(_) => {
                    self.say(&format!(
                        "Failed to read from AOF {aof_filename}, aborting...\n"
                    ));
                    return Err(Exit(1));
                }
            };
            if c == b'#' {
                if !self.process_annotation(&mut fp, aof_filepath, last_file)? {
                    return Ok(Outcome::TimestampTruncated);
                }
            } else if c == b'*' {
                if !self.process_resp(&mut fp, aof_filepath, &mut multi)? {
                    break;
                }
            } else {
                self.say(&format!("AOF {aof_filename} format error\n"));
                break;
            }
        }
        if fp.eof() && multi != 0 && self.error.is_empty() {
            self.set_error(b"Reached EOF before reading EXEC for MULTI");
        }
        if !self.error.is_empty() {
            let mut e = self.error.clone();
            e.push(b'\n');
            let _ = self.out.write_all(&e);
        }
        let diff = size as i64 - pos as i64;
        if diff == 0 && self.to_timestamp != 0 {
            let to = self.to_timestamp;
            self.say(&format!(
                "Truncate nothing in AOF {aof_filename} to timestamp {to}\n"
            ));
            return Ok(Outcome::Ok);
        }
        let line = self.line;
        self.say(&format!(
            "AOF analyzed: filename={aof_filename}, size={size}, ok_up_to={pos}, ok_up_to_line={line}, diff={diff}\n"
        ));
        if diff > 0 {
            if !fix {
                self.say(&format!(
                    "AOF {aof_filename} is not valid. Use the --fix option to try fixing it.\n"
                ));
                return Err(Exit(1));
            }
            if !last_file {
                self.say(&format!(
                    "Failed to truncate AOF {aof_filename} because it is not the last file\n"
                ));
                return Err(Exit(1));
            }
            self.say(&format!(
                "This will shrink the AOF {aof_filename} from {size} bytes, with {diff} bytes, to {pos} bytes\n"
            ));
            self.say("Continue? [y/N]: ");
            let _ = self.out.flush();
            let mut answer = [0u8; 1];
            let got = std::io::stdin().read(&mut answer).unwrap_or(0);
            if got == 0 || !answer[0].eq_ignore_ascii_case(&b'y') {
                self.say("Aborting...\n");
                return Err(Exit(1));
            }
            if fp.truncate(pos).is_err() {
                self.say(&format!("Failed to truncate AOF {aof_filename}\n"));
                return Err(Exit(1));
            }
            return Ok(Outcome::Truncated);
        }
        Ok(Outcome::Ok)
    }

    /// Runs the RDB checker on the preamble, printing its report; returns
    /// the offset where the RDB data ends when it is sound.
    fn check_rdb_preamble(&mut self, name: &str, file: &File) -> Option<u64> {
        self.say(&format!("[offset 0] Checking RDB file {name}\n"));
        let mut f = file.try_clone().ok()?;
        f.seek(SeekFrom::Start(0)).ok()?;
        let code = redis_rdb::check::check_reader(&mut f, &mut *self.out);
        if code != 0 {
            return None;
        }
        // A second, quiet pass finds where the RDB data stops (the
        // checker reads ahead through a buffer).
        f.seek(SeekFrom::Start(0)).ok()?;
        let mut r = redis_rdb::RdbReader::new(&mut f);
        loop {
            match r.next_item() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return None,
            }
        }
        Some(r.offset())
    }

    fn report(&mut self, kind: &str, name: &str, outcome: Outcome) {
        let to = self.to_timestamp;
        match outcome {
            Outcome::Ok => self.say(&format!("{kind}{name} is valid\n")),
            Outcome::Empty => self.say(&format!("{kind}{name} is empty\n")),
            Outcome::TimestampTruncated => self.say(&format!(
                "Successfully truncated AOF {name} to timestamp {to}\n"
            )),
            Outcome::Truncated => self.say(&format!("Successfully truncated AOF {name}\n")),
        }
    }

    /// `checkMultiPartAof`.
    fn check_multi_part(
        &mut self,
        dirpath: &str,
        manifest_path: &str,
        fix: bool,
    ) -> Result<(), Exit> {
        self.say("Start checking Multi Part AOF\n");
        let am = match std::fs::read(manifest_path) {
            Ok(d) => Manifest::parse(&d),
            Err(e) => {
                let msg = format!(
                    "Fatal error: can't open the AOF manifest file {manifest_path} for reading: {}",
                    strerror(&e)
                );
                self.log(msg.as_bytes());
                return Err(Exit(1));
            }
        };
        let am = match am {
            Ok(m) => m,
            Err(e) => {
                for m in e.log_messages() {
                    self.log(&m);
                }
                return Err(Exit(1));
            }
        };
        let total = usize::from(am.base.is_some()) + am.incr.len();
        let mut n = 0;
        if let Some(base) = &am.base {
            let path = format!("{dirpath}/{}", base.file_name);
            n += 1;
            let last = n == total;
            let rdb = file_is_rdb(self, &path)?;
            self.say(&format!(
                "Start to check BASE AOF ({} format).\n",
                if rdb { "RDB" } else { "RESP" }
            ));
            let r = self.check_single(&base.file_name, &path, last, fix, rdb)?;
            self.report("BASE AOF ", &base.file_name, r);
        }
        if !am.incr.is_empty() {
            self.say("Start to check INCR files.\n");
            for ai in &am.incr {
                let path = format!("{dirpath}/{}", ai.file_name);
                n += 1;
                let last = n == total;
                let r = self.check_single(&ai.file_name, &path, last, fix, false)?;
                self.report("INCR AOF ", &ai.file_name, r);
            }
        }
        self.say("All AOF files and manifest are valid\n");
        Ok(())
    }

    /// A log line as upstream's `serverLog` prints it when no log file is
    /// configured (stdout, child role).
    fn log(&mut self, msg: &[u8]) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let prefix = redis_common::log::format_log_line(
            std::process::id(),
            'C',
            redis_common::log::LogLevel::Warning,
            now_ms,
            "",
        );
        let mut line = prefix.into_bytes();
        line.extend_from_slice(msg);
        line.push(b'\n');
        let _ = self.out.write_all(&line);
    }
}

/// `fileIsRDB`: at least 8 bytes starting with `REDIS`.
fn file_is_rdb(ck: &mut Checker<'_>, path: &str) -> Result<bool, Exit> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            ck.say(&format!("Cannot open file {path}: {}\n", strerror(&e)));
            return Err(Exit(1));
        }
    };
    let size = match f.metadata() {
        Ok(m) => m.len(),
        Err(_) => {
            ck.say(&format!("Cannot stat file: {path}\n"));
            return Err(Exit(1));
        }
    };
    if size < 8 {
        return Ok(false);
    }
    let mut sig = [0u8; 5];
    Ok(f.read_exact(&mut sig).is_ok() && &sig == b"REDIS")
}

/// `fileIsManifest`: some line (in 1024-byte `fgets` chunks) that is not a
/// comment starts with `file`.
fn file_is_manifest(ck: &mut Checker<'_>, path: &str) -> Result<bool, Exit> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            ck.say(&format!("Cannot open file {path}: {}\n", strerror(&e)));
            return Err(Exit(1));
        }
    };
    let size = match f.metadata() {
        Ok(m) => m.len(),
        Err(_) => {
            ck.say(&format!("Cannot stat file: {path}\n"));
            return Err(Exit(1));
        }
    };
    if size == 0 {
        return Ok(false);
    }
    let mut fp = CFile::new(f);
    let mut is_manifest = false;
    loop {
        match fp.fgets(MANIFEST_MAX_LINE + 1) {
            Ok(Some(chunk)) => {
                if chunk.first() == Some(&b'#') {
                    continue;
                }
                if chunk.starts_with(b"file") {
                    is_manifest = true;
                }
            }
            Ok(None) => break,
            Err(_) => {
                ck.say(&format!("Cannot read file: {path}\n"));
                return Err(Exit(1));
            }
        }
    }
    Ok(is_manifest)
}

/// POSIX `dirname` of a path given as text.
fn dirname(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = trimmed[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.to_string()
            }
        }
    }
}

/// Runs the tool on `args` (argv including the program name) and returns
/// the exit status.
pub fn run(args: &[Vec<u8>], out: &mut dyn Write) -> i32 {
    let prog = args
        .first()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_else(|| "redis-check-aof".into());
    let usage = format!(
        "Usage: {prog} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"
    );
    let mut ck = Checker {
        out,
        error: Vec::new(),
        epos: 0,
        line: 1,
        to_timestamp: 0,
        argc_buf: [0; 128],
    };
    let mut fix = false;
    let filepath: &[u8] = match args.len() {
        2 => &args[1],
        3 if args[1] == b"--fix" => {
            fix = true;
            &args[2]
        }
        4 if args[1] == b"--truncate-to-timestamp" => {
            let (v, end, overflow) = strtol(&args[2]);
            // strtol must consume the whole argument (an empty one is 0).
            let whole = if args[2].is_empty() {
                true
            } else {
                end == args[2].len()
            };
            if overflow || !whole {
                ck.say("Invalid timestamp, aborting...\n");
                return 1;
            }
            ck.to_timestamp = v;
            &args[3]
        }
        _ => {
            ck.say(&usage);
            return 1;
        }
    };
    let filepath = String::from_utf8_lossy(filepath).into_owned();
    let dirpath = dirname(&filepath);
    let result = (|| -> Result<(), Exit> {
        if file_is_manifest(&mut ck, &filepath)? {
            ck.check_multi_part(&dirpath, &filepath, fix)
        } else {
            let preamble = file_is_rdb(&mut ck, &filepath)?;
            ck.say("Start checking Old-Style AOF\n");
            let r = ck.check_single(&filepath, &filepath, true, fix, preamble)?;
            ck.report("AOF ", &filepath, r);
            Ok(())
        }
    })();
    match result {
        Ok(()) => 0,
        Err(Exit(code)) => code,
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
