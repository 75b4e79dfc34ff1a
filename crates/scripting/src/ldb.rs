//! LDB, the Lua debugger of `SCRIPT DEBUG SYNC` (upstream's `ldb*`
//! functions in `eval.c`): the session state and everything about it that
//! does not touch the Lua stack — the console's log lines and how they are
//! sent (an array of status replies), the source listing, breakpoints,
//! `maxlen`, the help text, the parser of the client's commands, and the
//! human form of a command's reply (`<reply> ...`). The hook and the
//! commands that read Lua values live in [`crate::ldb_raw`].
//!
//! One session at most runs per thread (the server lock is held for the
//! whole session), so it lives in a thread-local slot: the line hook, the
//! `redis.call` path and `redis.debug`/`redis.breakpoint` find it there.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use redis_resp::{Frame, Protocol};

use crate::redislib::Shared;

/// Breakpoints a session may hold (upstream's `LDB_BREAKPOINTS_MAX`).
const MAX_BREAKPOINTS: usize = 64;
/// The initial `maxlen` (upstream's `LDB_MAX_LEN_DEFAULT`).
const DEFAULT_MAXLEN: usize = 256;
/// `maxlen` below this (but not 0) is raised to it.
const MIN_MAXLEN: usize = 60;
/// The client's unparsed input may not grow past this.
pub(crate) const MAX_INPUT: usize = 1 << 20;
/// Arguments of a debugger command, and bytes of each.
const MAX_ARGS: i64 = 1024;
const MAX_ARG_LEN: i64 = 1024;
/// How deep values are printed.
pub(crate) const MAX_DEPTH: usize = 18;

/// The help text of the `help` command, one log line each.
const HELP: &[&str] = &[
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

/// The state of one debugging session.
pub(crate) struct Ldb {
    /// The script's source, by line (line 1 first).
    src: Vec<Vec<u8>>,
    /// Stop at the next line.
    pub step: bool,
    /// `redis.breakpoint()` was called: stop at the next line.
    pub luabp: bool,
    breakpoints: Vec<i64>,
    /// Log lines not sent yet.
    logs: Vec<Vec<u8>>,
    /// Log lines of values and replies are cut at this length (0: not).
    maxlen: usize,
    maxlen_hint_sent: bool,
    pub current_line: i64,
    /// Input from the client not parsed yet.
    pub input: Vec<u8>,
    /// The client went away: the script runs on without stopping.
    pub gone: bool,
    /// A stop is forced after this long without one (`busy-reply-threshold`,
    /// or 5 s when it is 0).
    pub timeout_ms: u64,
    /// The last stop (or the session's start).
    pub since: Instant,
    /// The library state (host slot), for the hook.
    pub shared: Arc<Shared>,
}

thread_local! {
    static SESSION: RefCell<Option<Ldb>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's session, if one is active (and not already
/// borrowed further up the stack).
pub(crate) fn with<R>(f: impl FnOnce(&mut Ldb) -> R) -> Option<R> {
    SESSION.with(|s| {
        let mut guard = s.try_borrow_mut().ok()?;
        guard.as_mut().map(f)
    })
}

/// Whether a session is active on this thread.
pub(crate) fn active() -> bool {
    with(|_| ()).is_some()
}

/// Starts a session for a script whose body is `body`.
pub(crate) fn begin(shared: &Arc<Shared>, body: &[u8], timeout_ms: u64) {
    let ldb = Ldb::new(shared, body, timeout_ms);
    SESSION.with(|s| {
        if let Ok(mut g) = s.try_borrow_mut() {
            *g = Some(ldb);
        }
    });
}

/// Ends the session: its last logs and the `<endsession>` mark, encoded
/// for the client.
pub(crate) fn end() -> Vec<u8> {
    let ldb = SESSION.with(|s| s.try_borrow_mut().ok().and_then(|mut g| g.take()));
    match ldb {
        Some(mut l) => {
            l.log(b"<endsession>".to_vec());
            l.take_logs()
        }
        None => encode_logs(&[b"<endsession>".to_vec()]),
    }
}

/// The console's form of log lines: an array of status replies, CR and LF
/// shown as spaces.
fn encode_logs(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", lines.len()).into_bytes();
    for l in lines {
        out.push(b'+');
        out.extend(
            l.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What parsing the client's input gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Command(Vec<Vec<u8>>),
    /// More input is needed.
    Incomplete,
    /// Not a command the debugger can read: the script is stopped with
    /// `protocol error`.
    Error,
}

/// C's `atoi` of a console argument.
fn atoi(text: &[u8]) -> i64 {
    redis_common::units::atoi(&String::from_utf8_lossy(text))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses one command (a RESP array of bulk strings) from the front of
/// `input`, consuming it. As upstream's deliberately simple reader: the
/// array may be preceded by anything, at most 1024 arguments of 1 to 1024
/// bytes each.
pub(crate) fn parse_command(input: &mut Vec<u8>) -> Parsed {
    if input.is_empty() {
        return Parsed::Incomplete;
    }
    let Some(star) = input.iter().position(|&b| b == b'*') else {
        return Parsed::Error;
    };
    let mut p = star + 1;
    let Some(nl) = find(&input[p..], b"\r\n") else {
        return Parsed::Incomplete;
    };
    let count = atoi(&input[p..p + nl]);
    if count <= 0 || count > MAX_ARGS {
        return Parsed::Error;
    }
    p += nl + 2;
    let mut args = Vec::with_capacity(count as usize);
    while (args.len() as i64) < count {
        match input.get(p) {
            None => return Parsed::Incomplete,
            Some(b'$') => {}
            Some(_) => return Parsed::Error,
        }
        let Some(nl) = find(&input[p + 1..], b"\r\n") else {
            return Parsed::Incomplete;
        };
        let len = atoi(&input[p + 1..p + 1 + nl]);
        if len <= 0 || len > MAX_ARG_LEN {
            return Parsed::Error;
        }
        p += 1 + nl + 2;
        let len = len as usize;
        if input.len() < p + len + 2 {
            return Parsed::Incomplete;
        }
        args.push(input[p..p + len].to_vec());
        p += len;
        if &input[p..p + 2] != b"\r\n" {
            return Parsed::Error;
        }
        p += 2;
    }
    input.drain(..p);
    Parsed::Command(args)
}

pub(crate) use redis_common::repr::repr_into as repr;

/// A number as glibc's `%g` prints it (six significant digits; a NaN with
/// the sign bit, as Lua's `0/0` makes on x86, is `-nan`).
pub(crate) fn fmt_g(x: f64) -> String {
    if x.is_nan() && x.is_sign_negative() {
        return "-nan".to_string();
    }
    crate::cjson::format_g(x, 6)
}

/// Error texts of commands a script was not allowed to run (refused
/// before running): the console shows them as `<error> text` only, where
/// a command that ran and failed shows `<error> -ERR ...` and its reply.
const REFUSALS: &[&str] = &[
    "Unknown Redis command called from script",
    "Wrong number of args calling Redis command from script",
    "This Redis command is not allowed from script",
    "Write commands are not allowed from read-only scripts.",
    "The user executing the script can't run this command or subcommand",
    "command not allowed when used memory > 'maxmemory'.",
];

impl Ldb {
    /// A session stopping at the script's first line.
    fn new(shared: &Arc<Shared>, body: &[u8], timeout_ms: u64) -> Ldb {
        // The source lines, as upstream keeps them: trailing CRs and LFs
        // trimmed first (no empty last line), nothing for an empty body.
        let end = body
            .iter()
            .rposition(|&b| b != b'\n' && b != b'\r')
            .map_or(0, |i| i + 1);
        let body = &body[..end];
        let src = if body.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
        };
        Ldb {
            src,
            step: true,
            luabp: false,
            breakpoints: Vec::new(),
            logs: Vec::new(),
            maxlen: DEFAULT_MAXLEN,
            maxlen_hint_sent: false,
            current_line: -1,
            input: Vec::new(),
            gone: false,
            timeout_ms: if timeout_ms == 0 { 5000 } else { timeout_ms },
            since: Instant::now(),
            shared: Arc::clone(shared),
        }
    }

    /// Adds a log line.
    pub(crate) fn log(&mut self, line: Vec<u8>) {
        self.logs.push(line);
    }

    /// Adds a log line cut at `maxlen` (values and replies), with a hint
    /// the first time one is cut and the user never set `maxlen`.
    pub(crate) fn log_max(&mut self, mut line: Vec<u8>) {
        let cut = self.maxlen > 0 && line.len() > self.maxlen;
        if cut {
            line.truncate(self.maxlen);
            line.extend_from_slice(b" ...");
        }
        self.log(line);
        if cut && !self.maxlen_hint_sent {
            self.maxlen_hint_sent = true;
            self.log(
                b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.".to_vec(),
            );
        }
    }

    /// The pending logs, encoded for the client, and forgotten.
    pub(crate) fn take_logs(&mut self) -> Vec<u8> {
        let out = encode_logs(&self.logs);
        self.logs.clear();
        out
    }

    /// Whether the script must stop at `line` for a breakpoint.
    pub(crate) fn is_breakpoint(&self, line: i64) -> bool {
        self.breakpoints.contains(&line)
    }

    /// Logs source line `line` as the listing shows it: `-> ` for the
    /// current line, `  #` for a breakpoint, `->#` for both.
    pub(crate) fn log_source_line(&mut self, line: i64) {
        let text: &[u8] = usize::try_from(line - 1)
            .ok()
            .and_then(|i| self.src.get(i))
            .map_or(b"<out of range source code line>", |l| l.as_slice());
        let prefix = match (line == self.current_line, self.is_breakpoint(line)) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut out = format!("{prefix}{line:<3} ").into_bytes();
        out.extend_from_slice(text);
        self.log(out);
    }

    /// `list`: the lines within `context` of `around` (0: the current
    /// line).
    pub(crate) fn list(&mut self, around: i64, context: i64) {
        let around = if around == 0 {
            self.current_line
        } else {
            around
        };
        for line in 1..=self.src.len() as i64 {
            if line >= around.saturating_sub(context) && line <= around.saturating_add(context) {
                self.log_source_line(line);
            }
        }
    }

    /// The `* Stopped at ...` header and the line.
    pub(crate) fn log_stop(&mut self, reason: &str) {
        let line = self.current_line;
        self.log(format!("* Stopped at {line}, stop reason = {reason}").into_bytes());
        self.log_source_line(line);
    }

    /// `help`.
    pub(crate) fn help(&mut self) {
        for l in HELP {
            self.log(l.as_bytes().to_vec());
        }
    }

    /// `maxlen [len]`.
    pub(crate) fn maxlen_command(&mut self, arg: Option<&[u8]>) {
        if let Some(a) = arg {
            let n = atoi(a);
            self.maxlen_hint_sent = true;
            self.maxlen = match n {
                0 => 0,
                n if n <= MIN_MAXLEN as i64 => MIN_MAXLEN,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            };
        }
        if self.maxlen > 0 {
            let shown = self.maxlen;
            self.log(format!("<value> replies are truncated at {shown} bytes.").into_bytes());
        } else {
            self.log(b"<value> replies are unlimited.".to_vec());
        }
    }

    /// `break [line ...]`.
    pub(crate) fn break_command(&mut self, args: &[Vec<u8>]) {
        if args.is_empty() {
            if self.breakpoints.is_empty() {
                self.log(b"No breakpoints set. Use 'b <line>' to add one.".to_vec());
            } else {
                self.log(format!("{} breakpoints set:", self.breakpoints.len()).into_bytes());
                for line in self.breakpoints.clone() {
                    self.log_source_line(line);
                }
            }
            return;
        }
        for arg in args {
            let Some(line) = std::str::from_utf8(arg)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|_| !(arg.starts_with(b"+") || (arg.len() > 1 && arg.starts_with(b"0"))))
            else {
                let mut l = b"Invalid argument:'".to_vec();
                l.extend_from_slice(arg);
                l.push(b'\'');
                self.log(l);
                continue;
            };
            if line == 0 {
                self.breakpoints.clear();
                self.log(b"All breakpoints removed.".to_vec());
            } else if line > 0 {
                if self.breakpoints.len() >= MAX_BREAKPOINTS {
                    self.log(b"Too many breakpoints set.".to_vec());
                } else if line <= self.src.len() as i64 && !self.is_breakpoint(line) {
                    self.breakpoints.push(line);
                    self.list(line, 1);
                } else {
                    self.log(b"Wrong line number.".to_vec());
                }
            } else if let Some(i) = self.breakpoints.iter().position(|&b| b == -line) {
                self.breakpoints.remove(i);
                self.log(b"Breakpoint removed.".to_vec());
            } else {
                self.log(b"No breakpoint in the specified line.".to_vec());
            }
        }
    }

    /// `list [line] [ctx]` and `whole`.
    pub(crate) fn list_command(&mut self, args: &[Vec<u8>]) {
        let around = args.first().map_or(0, |a| atoi(a));
        let ctx = args.get(1).map_or(5, |a| atoi(a));
        self.list(around, ctx);
    }

    /// Logs a command a script calls while stepping (`<redis> ...`).
    pub(crate) fn log_command(&mut self, argv: &[bytes::Bytes]) {
        let mut line = b"<redis>".to_vec();
        for a in argv {
            line.push(b' ');
            line.extend_from_slice(a);
        }
        self.log(line);
    }

    /// Logs a command's reply (`<reply> ...`, and `<error> ...` first for
    /// an error); a refused command shows its error only.
    pub(crate) fn log_reply(&mut self, frame: &Frame, resp: Protocol) {
        if let Frame::Error(e) = frame {
            let text = e.strip_prefix(b"ERR ").unwrap_or(e);
            if REFUSALS.iter().any(|r| text == r.as_bytes()) {
                let mut l = b"<error> ".to_vec();
                l.extend_from_slice(text);
                self.log(l);
                return;
            }
            let mut l = b"<error> -".to_vec();
            l.extend_from_slice(e);
            self.log(l);
        }
        let mut line = b"<reply> ".to_vec();
        human(&mut line, frame, resp);
        self.log_max(line);
    }
}

/// A reply as the console shows it.
fn human(out: &mut Vec<u8>, frame: &Frame, resp: Protocol) {
    let list = |out: &mut Vec<u8>, open: &[u8], items: &[Frame], close: &[u8]| {
        out.extend_from_slice(open);
        for (i, f) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            human(out, f, resp);
        }
        out.extend_from_slice(close);
    };
    match frame {
        Frame::Simple(s) => {
            let mut t = b"+".to_vec();
            t.extend_from_slice(s);
            repr(out, &t);
        }
        Frame::Error(e) => {
            let mut t = b"-".to_vec();
            t.extend_from_slice(e);
            repr(out, &t);
        }
        Frame::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Frame::Bulk(b) => repr(out, b),
        Frame::Null | Frame::NullArray => {
            out.extend_from_slice(if resp == Protocol::Resp3 {
                b"(null)"
            } else {
                b"NULL"
            });
        }
        Frame::Array(items) => list(out, b"[", items, b"]"),
        Frame::Set(items) => list(out, b"~(", items, b")"),
        Frame::Map(pairs) => {
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                human(out, k, resp);
                out.extend_from_slice(b" => ");
                human(out, v, resp);
            }
            out.push(b'}');
        }
        Frame::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(redis_resp::format_double(*d).as_bytes());
        }
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"#true" } else { b"#false" }),
        // Not shown by the reference's console.
        Frame::BigNumber(_) | Frame::Verbatim { .. } | Frame::Attribute(_) | Frame::Push(_) => {}
    }
}

#[cfg(test)]
#[path = "ldb_tests.rs"]
mod tests;
