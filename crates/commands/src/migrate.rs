//! `MIGRATE` and `RESTORE-ASKING` (upstream `cluster.c`).
//!
//! `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
//! [AUTH password] [AUTH2 username password] [KEYS key ...]` moves keys to
//! another server synchronously, as upstream does: the whole server waits
//! (up to `timeout` ms for each I/O step) while the keys are serialized
//! with the `DUMP` format, sent as pipelined `RESTORE` commands (preceded
//! by `AUTH` and by `SELECT` when the connection's database differs) and
//! acknowledged. Keys the target accepted are deleted here unless `COPY`,
//! and the command propagates as a `DEL` of exactly those keys.
//!
//! Connections are cached per `host:port` in the engine's
//! [`redis_engine::migrate_cache`]. A connection that fails before any
//! key was acknowledged is closed and the whole transfer tried once more
//! on a new one, unless the failure was a timeout (upstream's retry rule).
//!
//! Upstream quirks kept on purpose: its blocking connect does not check
//! whether the connection succeeded, so a refused or timed-out connection
//! is reported by the first write (`IOERR ... writing`), and only a name
//! that does not resolve (or an address no socket can reach at all) gives
//! `IOERR ... connecting to the client`; the port is read with `atoi`;
//! reply lines are read up to 1023 bytes, like `syncReadLine`. One
//! difference: a connection that does not complete within `timeout`
//! fails after that one wait, where upstream waits a second time in its
//! first write before giving the same `IOERR ... writing`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX};
use redis_engine::migrate_cache::MigrateSocket;
use redis_engine::table::Handler;

use crate::args::{self, is};

/// Longest reply line read (upstream reads into a 1024-byte buffer).
const LINE_MAX: usize = 1023;
/// The request is written in chunks of this size, each with the timeout.
const WRITE_CHUNK: usize = 64 * 1024;

const CONNECT_ERROR: CmdError = CmdError::fixed("IOERR error or timeout connecting to the client");
const WRITE_ERROR: CmdError = CmdError::fixed("IOERR error or timeout writing to target instance");
const READ_ERROR: CmdError = CmdError::fixed("IOERR error or timeout reading to target instance");
const KEYS_NEED_EMPTY_KEY: CmdError = CmdError::fixed(
    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
);

/// The options after `timeout`.
struct Opts<'a> {
    copy: bool,
    replace: bool,
    username: Option<&'a Bytes>,
    password: Option<&'a Bytes>,
    /// The names to migrate, in order (duplicates kept, as upstream).
    keys: &'a [Bytes],
}

impl<'a> Opts<'a> {
    /// Parses like upstream: options in any order, `KEYS` takes the rest.
    fn parse(argv: &'a [Bytes]) -> Result<Opts<'a>, CmdError> {
        let mut o = Opts {
            copy: false,
            replace: false,
            username: None,
            password: None,
            keys: &argv[3..4],
        };
        let mut j = 6;
        while j < argv.len() {
            let more = argv.len() - 1 - j;
            let a = &argv[j];
            if is(a, "copy") {
                o.copy = true;
            } else if is(a, "replace") {
                o.replace = true;
            } else if is(a, "auth") {
                if more < 1 {
                    return Err(SYNTAX);
                }
                j += 1;
                o.password = Some(&argv[j]);
            } else if is(a, "auth2") {
                if more < 2 {
                    return Err(SYNTAX);
                }
                o.username = Some(&argv[j + 1]);
                o.password = Some(&argv[j + 2]);
                j += 2;
            } else if is(a, "keys") {
                if !argv[3].is_empty() {
                    return Err(KEYS_NEED_EMPTY_KEY);
                }
                o.keys = &argv[j + 1..];
                break;
            } else {
                return Err(SYNTAX);
            }
            j += 1;
        }
        Ok(o)
    }
}

/// How an I/O step failed. Upstream retries on anything but a timeout
/// (its `errno != ETIMEDOUT` test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IoFail {
    Timeout,
    Other,
}

fn io_fail(e: &std::io::Error) -> IoFail {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => IoFail::Timeout,
        _ => IoFail::Other,
    }
}

/// What opening a connection gave.
enum Opened {
    Connected(TcpStream),
    /// The connection attempt was made but failed later (refused, timed
    /// out): upstream does not notice until it writes.
    Broken(IoFail),
    /// No address to try (the name does not resolve, the port is not
    /// one), or every address failed at once.
    Unreachable,
}

/// C's `atoi`, as upstream reads the port: leading blanks, a sign, then
/// digits up to the first other byte; out of range saturates like
/// `strtol` and is then cut to an `int`.
fn atoi(s: &[u8]) -> i32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = i64::from(s[i] - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    v as i32
}

/// The part of a byte string a C function sees: up to the first NUL.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// The target's addresses, in resolver order. The port goes through
/// `getaddrinfo` as the decimal of the `atoi` value: a negative one is
/// no service, a large one keeps its low 16 bits.
fn resolve(host: &[u8], port: &[u8]) -> Vec<SocketAddr> {
    let port = atoi(port);
    if port < 0 {
        return Vec::new();
    }
    let Ok(host) = std::str::from_utf8(c_str(host)) else {
        return Vec::new();
    };
    match (host, (port & 0xffff) as u16).to_socket_addrs() {
        Ok(it) => it.collect(),
        Err(_) => Vec::new(),
    }
}

/// Opens a connection like upstream's `anetTcpNonBlockConnect` followed
/// by its blocking wait: the first address whose connection attempt does
/// not fail on the spot is the one used.
fn open(host: &[u8], port: &[u8], timeout: Duration) -> Opened {
    for addr in resolve(host, port) {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                // Best effort, as upstream ignores its result too.
                let _ = s.set_nodelay(true);
                return Opened::Connected(s);
            }
            Err(e) => match e.kind() {
                // Failures a non-blocking connect reports at once: the
                // next address is tried.
                ErrorKind::NetworkUnreachable
                | ErrorKind::AddrNotAvailable
                | ErrorKind::PermissionDenied
                | ErrorKind::InvalidInput
                | ErrorKind::Unsupported => continue,
                // EAFNOSUPPORT (97 on Linux): no socket of that family.
                _ if e.raw_os_error() == Some(97) => continue,
                _ => return Opened::Broken(io_fail(&e)),
            },
        }
    }
    Opened::Unreachable
}

/// Writes `buf` in 64 KB chunks, each allowed `timeout`.
fn write_request(s: &mut MigrateSocket, buf: &[u8], timeout: Duration) -> Result<(), IoFail> {
    s.stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| io_fail(&e))?;
    for chunk in buf.chunks(WRITE_CHUNK) {
        s.stream.write_all(chunk).map_err(|e| io_fail(&e))?;
    }
    Ok(())
}

/// Reads one reply line like upstream's `syncReadLine`: at most 1023
/// bytes, the `\n` and one `\r` before it removed. An empty line (a bare
/// `\n`) counts as a failure, as it does upstream.
fn read_line(s: &mut MigrateSocket, timeout: Duration) -> Result<Vec<u8>, IoFail> {
    s.stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| io_fail(&e))?;
    let mut chunk = [0u8; 4096];
    loop {
        let limit = s.pending.len().min(LINE_MAX);
        if let Some(i) = s.pending[..limit].iter().position(|&c| c == b'\n') {
            let mut line: Vec<u8> = s.pending.drain(..=i).collect();
            line.pop();
            if line.is_empty() {
                return Err(IoFail::Other);
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        if s.pending.len() >= LINE_MAX {
            return Ok(s.pending.drain(..LINE_MAX).collect());
        }
        match s.stream.read(&mut chunk) {
            Ok(0) => return Err(IoFail::Other),
            Ok(n) => s.pending.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_fail(&e)),
        }
    }
}

/// Appends a RESP array of bulk strings.
fn push_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// The reply for an error line from the target (`-` already checked):
/// as upstream formats it, trailing CR/LF trimmed and others blanked.
fn target_error(line: &[u8]) -> CmdError {
    let text = c_str(line.get(1..).unwrap_or_default());
    let mut msg = b"ERR Target instance replied with error: ".to_vec();
    msg.extend_from_slice(text);
    while matches!(msg.last(), Some(b'\r' | b'\n')) {
        msg.pop();
    }
    for c in &mut msg {
        if *c == b'\r' || *c == b'\n' {
            *c = b' ';
        }
    }
    CmdError(Bytes::from(msg))
}

/// How one attempt ended.
enum Attempt {
    /// The reply (or error) is final.
    Done(CmdResult),
    /// The connection failed before anything was acknowledged and not by
    /// a timeout: try once more on a new one.
    Retry,
}

/// What one attempt needs besides the context.
struct Job<'a> {
    name: Bytes,
    host: &'a [u8],
    port: &'a [u8],
    dbid: i64,
    timeout: Duration,
    opts: Opts<'a>,
}

/// The indexes of the credentials given with `AUTH` / `AUTH2`, which
/// MONITOR and the slow log do not show.
fn secret_args(argv: &[Bytes]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let a = &argv[j];
        if is(a, "auth") && more >= 1 {
            out.push(j + 1);
            j += 2;
        } else if is(a, "auth2") && more >= 2 {
            out.extend([j + 1, j + 2]);
            j += 3;
        } else if is(a, "keys") {
            break;
        } else {
            j += 1;
        }
    }
    out
}

/// # Format
/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key [key ...]]`
pub fn migrate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    for i in secret_args(argv) {
        ctx.redact_arg(i);
    }
    let opts = Opts::parse(argv)?;
    let mut timeout = args::int(&argv[5])?;
    let dbid = args::int(&argv[4])?;
    if timeout <= 0 {
        timeout = 1000;
    }
    // Only the keys that exist go; none at all is not an error.
    let (db, now) = (ctx.db(), ctx.now);
    let lru = ctx.lru();
    let mut keys: Vec<Bytes> = Vec::with_capacity(opts.keys.len());
    for k in opts.keys {
        if ctx.st.ks.lookup_read(db, k, now, lru).is_some() {
            keys.push(k.clone());
        }
    }
    if keys.is_empty() {
        ctx.simple("NOKEY");
        return Ok(());
    }
    let mut name = argv[1].to_vec();
    name.push(b':');
    name.extend_from_slice(&argv[2]);
    let job = Job {
        name: Bytes::from(name),
        host: &argv[1],
        port: &argv[2],
        dbid,
        timeout: Duration::from_millis(timeout as u64),
        opts,
    };
    let mut may_retry = true;
    loop {
        match attempt(ctx, &job, &mut keys, may_retry) {
            Attempt::Done(r) => return r,
            Attempt::Retry => may_retry = false,
        }
    }
}

/// One try: connect (or reuse), send, read the replies, delete what was
/// acknowledged.
fn attempt(ctx: &mut Ctx, job: &Job, keys: &mut Vec<Bytes>, may_retry: bool) -> Attempt {
    let now_secs = redis_engine::state::unix_secs();
    // Connect, unless a connection is cached.
    if ctx.st.migrate_sockets.get(&job.name, now_secs).is_none() {
        match open(job.host, job.port, job.timeout) {
            Opened::Connected(stream) => {
                let st = &mut *ctx.st;
                st.migrate_sockets
                    .insert(job.name.clone(), stream, now_secs, &mut st.rng);
            }
            Opened::Broken(fail) => {
                // The first write is what fails upstream.
                return socket_error(ctx, job, fail, true, may_retry);
            }
            Opened::Unreachable => return Attempt::Done(Err(CONNECT_ERROR)),
        }
    }
    let Some(last_dbid) = ctx
        .st
        .migrate_sockets
        .get(&job.name, now_secs)
        .map(|s| s.last_dbid)
    else {
        return Attempt::Done(Err(CONNECT_ERROR));
    };

    // The request: AUTH, SELECT, then one RESTORE per live key.
    let mut buf = Vec::new();
    if let Some(pass) = job.opts.password {
        match job.opts.username {
            Some(user) => push_command(&mut buf, &[b"AUTH", user, pass]),
            None => push_command(&mut buf, &[b"AUTH", pass]),
        }
    }
    let select = last_dbid != job.dbid;
    if select {
        push_command(&mut buf, &[b"SELECT", job.dbid.to_string().as_bytes()]);
    }
    let restore: &[u8] = if ctx.st.config.get_bool("cluster-enabled") {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let db = ctx.db();
    let wopts = redis_engine::persist::writer_options(ctx.st);
    let real_now = redis_engine::state::now_ms();
    keys.retain(|k| {
        let Some(entry) = ctx.st.ks.dbs[db].get(k) else {
            return false;
        };
        // Serializing takes time: a key may expire meanwhile (upstream
        // measures against the clock, not the command's start).
        let ttl = match ctx.st.ks.dbs[db].expire_at(k) {
            None => 0,
            Some(at) => {
                let ttl = at - real_now;
                if ttl < 0 {
                    return false;
                }
                ttl.max(1)
            }
        };
        let Some(v) = redis_engine::persist::to_rdb(&entry.value) else {
            return false;
        };
        let payload = redis_rdb::dump_payload_with(&v, &wopts);
        let ttl = ttl.to_string();
        if job.opts.replace {
            push_command(
                &mut buf,
                &[restore, k, ttl.as_bytes(), &payload, b"REPLACE"],
            );
        } else {
            push_command(&mut buf, &[restore, k, ttl.as_bytes(), &payload]);
        }
        true
    });

    let Some(sock) = ctx.st.migrate_sockets.get(&job.name, now_secs) else {
        return Attempt::Done(Err(CONNECT_ERROR));
    };
    if let Err(fail) = write_request(sock, &buf, job.timeout) {
        return socket_error(ctx, job, fail, true, may_retry);
    }
    let mut auth_reply = Vec::new();
    if job.opts.password.is_some() {
        match read_line(sock, job.timeout) {
            Ok(l) => auth_reply = l,
            Err(fail) => return socket_error(ctx, job, fail, false, may_retry),
        }
    }
    let mut select_reply = Vec::new();
    if select {
        match read_line(sock, job.timeout) {
            Ok(l) => select_reply = l,
            Err(fail) => return socket_error(ctx, job, fail, false, may_retry),
        }
    }
    let auth_failed = job.opts.password.is_some() && auth_reply.first() == Some(&b'-');
    let select_failed = select && select_reply.first() == Some(&b'-');

    // One reply per RESTORE; the first error is the one reported.
    let mut error: Option<CmdError> = None;
    let mut failure: Option<(IoFail, usize)> = None;
    let mut deleted: Vec<Bytes> = Vec::new();
    for (j, k) in keys.iter().enumerate() {
        let Some(sock) = ctx.st.migrate_sockets.get(&job.name, now_secs) else {
            failure = Some((IoFail::Other, j));
            break;
        };
        let line = match read_line(sock, job.timeout) {
            Ok(l) => l,
            Err(fail) => {
                failure = Some((fail, j));
                break;
            }
        };
        if auth_failed || select_failed || line.first() == Some(&b'-') {
            if error.is_none() {
                sock.last_dbid = -1;
                let from = if auth_failed {
                    &auth_reply
                } else if select_failed {
                    &select_reply
                } else {
                    &line
                };
                error = Some(target_error(from));
            }
        } else if !job.opts.copy {
            ctx.st.ks.dbs[db].delete(k);
            ctx.key_event(db, k, 'g', "del");
            ctx.changed(1);
            deleted.push(k.clone());
        }
    }
    if let Some((fail, j)) = failure {
        if error.is_none() && j == 0 && may_retry && fail != IoFail::Timeout {
            ctx.st.migrate_sockets.remove(&job.name);
            return Attempt::Retry;
        }
        ctx.st.migrate_sockets.remove(&job.name);
    }
    if !deleted.is_empty() {
        let mut del = Vec::with_capacity(deleted.len() + 1);
        del.push(Bytes::from_static(b"DEL"));
        del.extend(deleted);
        ctx.propagate_as(del);
    }
    if let Some(e) = error {
        return Attempt::Done(Err(e));
    }
    if failure.is_some() {
        return Attempt::Done(Err(READ_ERROR));
    }
    if let Some(s) = ctx.st.migrate_sockets.get(&job.name, now_secs) {
        s.last_dbid = job.dbid;
    }
    ctx.ok();
    Attempt::Done(Ok(()))
}

/// Upstream's `socket_err` path: the connection is closed, and the
/// transfer tried again unless this was a timeout or the retry is spent.
fn socket_error(ctx: &mut Ctx, job: &Job, fail: IoFail, writing: bool, may_retry: bool) -> Attempt {
    ctx.st.migrate_sockets.remove(&job.name);
    if fail != IoFail::Timeout && may_retry {
        return Attempt::Retry;
    }
    Attempt::Done(Err(if writing { WRITE_ERROR } else { READ_ERROR }))
}

/// The commands this module serves. `RESTORE-ASKING` is `RESTORE` with
/// the `asking` flag (accepted for a slot being imported in cluster mode).
pub const COMMANDS: &[(&str, Handler)] = &[
    ("migrate", migrate),
    ("restore-asking", crate::keys::cmd_restore),
];

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
