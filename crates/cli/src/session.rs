//! Connection state and command execution: connecting (AUTH, SELECT, HELLO 3),
//! sending a command N times, printing replies, following cluster redirects, and
//! tracking the db number and MULTI state shown in the prompt.
//!
//! Errors are reported with upstream's exact wording because users and scripts
//! match on them.

use std::io::Write;
use std::time::Duration;

use redis_client::{Client, DecodeError, Error as ClientError};
use redis_resp::Frame;

use crate::format::{self, Output};
use crate::help;
use crate::opts::Config;

/// What the last reply was, for the MULTI/EXEC/SELECT bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastType {
    Error,
    Nil,
    Other,
}

/// The state upstream keeps in its global `config` and `context`.
pub struct Session {
    pub cfg: Config,
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    pub dbnum: i64,
    in_multi: bool,
    pre_multi_dbnum: i64,
    pub interactive: bool,
    reissue: bool,
    send_asking: bool,
    shutdown: bool,
    last_type: LastType,
    help: Option<Vec<help::Entry>>,
    /// The Lua debugger (`--ldb`) state.
    pub ldb: crate::eval::Ldb,
}

/// Writes to stdout and flushes, like upstream's fwrite+fflush per reply.
pub fn out(bytes: &[u8]) {
    let mut so = std::io::stdout().lock();
    // A closed stdout is not worth dying over mid-command; upstream gets SIGPIPE.
    let _ = so.write_all(bytes);
    let _ = so.flush();
}

/// strerror-style text for an I/O error (without Rust's "(os error N)" suffix).
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    s.strip_prefix("failed to lookup address information: ")
        .map(str::to_string)
        .unwrap_or(s)
}

/// hiredis' `errstr` for a failed read.
fn client_error_text(e: &ClientError) -> String {
    match e {
        ClientError::Io(io) => io_text(io),
        // hiredis' texts where redis-resp has them (unknown type bytes).
        ClientError::Protocol(p) => p.to_string(),
        ClientError::Closed => "Server closed the connection".into(),
    }
}

fn lower(a: &[u8]) -> String {
    String::from_utf8_lossy(a).to_ascii_lowercase()
}

impl Session {
    pub fn new(cfg: Config) -> std::io::Result<Session> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Session {
            cfg,
            rt,
            client: None,
            dbnum: 0,
            in_multi: false,
            pre_multi_dbnum: 0,
            interactive: false,
            reissue: false,
            send_asking: false,
            shutdown: false,
            last_type: LastType::Other,
            help: None,
            ldb: crate::eval::Ldb::default(),
        })
    }

    pub fn connected(&self) -> bool {
        self.client.is_some()
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    /// Hands the connection over (for `--pipe`).
    pub fn take_client(&mut self) -> Option<Client> {
        self.client.take()
    }

    /// The interactive prompt, e.g. `127.0.0.1:6379[2](TX)> `.
    pub fn prompt(&self) -> String {
        let mut p = match &self.cfg.socket {
            Some(s) => format!("redis {s}"),
            None if self.cfg.host.contains(':') => format!("[{}]:{}", self.cfg.host, self.cfg.port),
            None => format!("{}:{}", self.cfg.host, self.cfg.port),
        };
        if self.dbnum != 0 {
            p.push_str(&format!("[{}]", self.dbnum));
        }
        if self.in_multi {
            p.push_str("(TX)");
        }
        p.push_str("> ");
        p
    }

    /// Sends one command and returns its reply without printing it.
    pub fn roundtrip(&mut self, args: &[&[u8]]) -> Option<Frame> {
        let c = self.client.as_mut()?;
        self.rt.block_on(c.cmd(args)).ok()
    }

    /// Connects if not connected (or always when `force`), then authenticates,
    /// selects the db and switches protocol. Returns false on failure.
    pub fn connect(&mut self, force: bool) -> bool {
        if self.client.is_some() && !force {
            return true;
        }
        if self.client.take().is_some() {
            self.dbnum = 0;
            self.in_multi = false;
        }
        let tcp = self.cfg.socket.is_none() || (self.cfg.cluster && self.reissue);
        let res = if tcp {
            let host = self.cfg.host.clone();
            let port = self.cfg.port as u16;
            self.rt.block_on(async move {
                let s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                // Interactive latency matters more than Nagle's batching.
                s.set_nodelay(true)?;
                Ok::<_, std::io::Error>(Client::from_stream(s))
            })
        } else {
            let path = self.cfg.socket.clone().unwrap_or_default();
            self.rt.block_on(Client::connect_unix(&path))
        };
        let client = match res {
            Ok(c) => c,
            Err(e) => {
                let target = if tcp {
                    format!("{}:{}", self.cfg.host, self.cfg.port)
                } else {
                    self.cfg.socket.clone().unwrap_or_default()
                };
                eprintln!("Could not connect to Redis at {target}: {}", io_text(&e));
                return false;
            }
        };
        self.client = Some(client);

        if let Some(pass) = self.cfg.auth.clone() {
            let reply = match self.cfg.user.clone() {
                Some(u) => self.roundtrip(&[b"AUTH", u.as_bytes(), pass.as_bytes()]),
                None => self.roundtrip(&[b"AUTH", pass.as_bytes()]),
            };
            match reply {
                None => {
                    eprintln!("\nI/O error");
                    return false;
                }
                // Upstream 7.0 reports a failed AUTH but still runs the command,
                // so the server's NOAUTH error reaches the user too.
                Some(Frame::Error(e)) => {
                    eprintln!("AUTH failed: {}", String::from_utf8_lossy(&e))
                }
                Some(_) => {}
            }
        }
        if !self.select() {
            return false;
        }
        if self.cfg.resp3 && !self.cfg.resp2 {
            match self.roundtrip(&[b"HELLO", b"3"]) {
                None => {
                    eprintln!("\nI/O error");
                    return false;
                }
                Some(Frame::Error(e)) => {
                    eprintln!("HELLO 3 failed: {}", String::from_utf8_lossy(&e));
                    return false;
                }
                Some(_) => {}
            }
        }
        true
    }

    /// Selects `cfg.input_db` if the connection is on another db.
    fn select(&mut self) -> bool {
        if self.cfg.input_db == self.dbnum {
            return true;
        }
        let db = self.cfg.input_db.to_string();
        match self.roundtrip(&[b"SELECT", db.as_bytes()]) {
            None => {
                eprintln!("\nI/O error");
                false
            }
            Some(Frame::Error(e)) => {
                eprintln!("SELECT {db} failed: {}", String::from_utf8_lossy(&e));
                true
            }
            Some(_) => {
                self.dbnum = self.cfg.input_db;
                true
            }
        }
    }

    /// Output of `help ...`, fetching the server's docs on first use.
    fn print_help(&mut self, args: &[Vec<u8>]) {
        if self.help.is_none() {
            let docs = self.roundtrip(&[b"COMMAND", b"DOCS"]);
            self.help = Some(
                docs.map(|d| help::entries_from_docs(&d))
                    .unwrap_or_default(),
            );
        }
        let words: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let text = help::render(self.help.as_deref().unwrap_or(&[]), &words);
        out(text.as_bytes());
    }

    /// Fetches `COMMAND DOCS` once; retried later if not connected yet.
    pub fn load_help(&mut self) {
        if self.help.is_none() {
            if let Some(docs) = self.roundtrip(&[b"COMMAND", b"DOCS"]) {
                self.help = Some(help::entries_from_docs(&docs));
            }
        }
    }

    /// `help` and `?` are answered here, except in a Lua debugging
    /// session, whose own `help` is the server's.
    fn is_help(&self, args: &[Vec<u8>]) -> bool {
        !self.ldb.active
            && args
                .first()
                .is_some_and(|a| a.eq_ignore_ascii_case(b"help") || a == b"?")
    }

    /// Runs a command `repeat` times, reconnecting and following cluster
    /// redirects as needed. Err means the command could not be completed.
    pub fn issue(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), ()> {
        if self.is_help(args) {
            self.print_help(&args[1..]);
            return Ok(());
        }
        loop {
            if (self.reissue || self.client.is_none()) && !self.connect(true) {
                self.reissue = false;
                return Err(());
            }
            self.reissue = false;
            if self.send_asking {
                self.send_asking = false;
                if let Some(Frame::Error(e)) = self.roundtrip(&[b"ASKING"]) {
                    eprintln!("{}", String::from_utf8_lossy(&e));
                }
            }
            if let Err(msg) = self.send_command(args, repeat) {
                if let Some(msg) = msg {
                    eprintln!("Error: {msg}");
                }
                self.client = None;
                return Err(());
            }
            if self.cfg.cluster && self.reissue {
                continue;
            }
            return Ok(());
        }
    }

    /// Sends and prints `repeat` times. `Err(Some(msg))`: connection error to report.
    fn send_command(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), Option<String>> {
        let Some(first) = args.first() else {
            return Ok(());
        };
        let command = lower(first);
        if self.is_help(args) {
            self.print_help(&args[1..]);
            return Ok(());
        }
        if self.client.is_none() {
            return Err(None);
        }
        let sub = args.get(1).map(|a| lower(a)).unwrap_or_default();
        let argc = args.len();
        // Commands whose text reply is meant to be printed as-is (upstream's list).
        let output_raw = command == "info"
            || command == "lolwut"
            || (argc >= 2 && command == "debug" && (sub == "htstats" || sub == "htstats-key"))
            || (argc >= 2 && command == "memory" && (sub == "malloc-stats" || sub == "doctor"))
            || (argc == 2 && command == "cluster" && (sub == "nodes" || sub == "info"))
            || (argc >= 2 && command == "client" && (sub == "list" || sub == "info"))
            || (argc == 3 && command == "latency" && sub == "graph")
            || (argc == 2 && command == "latency" && sub == "doctor")
            || (argc >= 2 && command == "proxy" && sub == "info");
        if command == "shutdown" {
            self.shutdown = true;
        }
        let monitor = command == "monitor";
        let pubsub = matches!(command.as_str(), "subscribe" | "psubscribe" | "ssubscribe");

        let mut remaining = repeat;
        // A negative count repeats forever, as upstream.
        while remaining != 0 {
            if remaining > 0 {
                remaining -= 1;
            }
            let Some(c) = self.client.as_mut() else {
                return Err(None);
            };
            if let Err(e) = self.rt.block_on(c.send(args)) {
                return Err(Some(client_error_text(&e)));
            }
            if monitor || pubsub {
                if pubsub && self.cfg.output != Output::Raw {
                    out(b"Reading messages... (press Ctrl-C to quit)\n");
                }
                // These stream replies until the connection ends or errors.
                loop {
                    if self.read_reply(output_raw).is_err() {
                        std::process::exit(1);
                    }
                    if self.last_type == LastType::Error {
                        return Ok(());
                    }
                }
            }
            self.read_reply(output_raw)?;
            self.after_reply(&command, args);
            if self.reissue {
                break;
            }
            if self.cfg.interval_us > 0 {
                std::thread::sleep(Duration::from_micros(self.cfg.interval_us));
            }
        }
        Ok(())
    }

    /// Tracks db and transaction state the way upstream does for the prompt.
    fn after_reply(&mut self, command: &str, args: &[Vec<u8>]) {
        let argc = args.len();
        let ok = self.last_type != LastType::Error;
        if command == "select" && argc == 2 && ok {
            let db = crate::opts::atoi(&String::from_utf8_lossy(&args[1]));
            self.cfg.input_db = db;
            self.dbnum = db;
        } else if command == "auth" && (argc == 2 || argc == 3) {
            self.select();
        } else if command == "multi" && argc == 1 && ok {
            self.in_multi = true;
            self.pre_multi_dbnum = self.dbnum;
        } else if command == "exec" && argc == 1 && self.in_multi {
            self.in_multi = false;
            if matches!(self.last_type, LastType::Error | LastType::Nil) {
                self.cfg.input_db = self.pre_multi_dbnum;
                self.dbnum = self.pre_multi_dbnum;
            }
        } else if command == "discard" && argc == 1 && ok {
            self.in_multi = false;
            self.cfg.input_db = self.pre_multi_dbnum;
            self.dbnum = self.pre_multi_dbnum;
        } else if command == "reset" && argc == 1 && ok {
            self.in_multi = false;
            self.dbnum = 0;
            self.cfg.input_db = 0;
            self.cfg.resp3 = false;
        }
    }

    /// Reads and prints one reply. Fatal conditions exit like upstream.
    fn read_reply(&mut self, output_raw: bool) -> Result<(), Option<String>> {
        let Some(c) = self.client.as_mut() else {
            return Err(None);
        };
        let frame = match self.rt.block_on(c.read_frame()) {
            Ok(f) => f,
            Err(e) => {
                if self.shutdown {
                    self.client = None;
                    return Ok(());
                }
                let text = client_error_text(&e);
                let recoverable = match &e {
                    ClientError::Closed => true,
                    ClientError::Io(io) => matches!(
                        io.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ),
                    ClientError::Protocol(_) => false,
                };
                if self.interactive && recoverable {
                    return Err(Some(text));
                }
                eprintln!("Error: {text}");
                std::process::exit(1);
            }
        };
        if matches!(frame, Frame::Attribute(_)) {
            // Upstream's hiredis cannot parse attributes and treats them as garbage.
            eprintln!("Error: {}", DecodeError::UnknownType(b'|'));
            std::process::exit(1);
        }
        self.last_type = match frame {
            Frame::Error(_) => LastType::Error,
            Frame::Null | Frame::NullArray => LastType::Nil,
            _ => LastType::Other,
        };
        let mut print = true;
        if let Frame::Error(e) = &frame {
            if self.cfg.cluster && (e.starts_with(b"MOVED ") || e.starts_with(b"ASK ")) {
                if let Some((slot, host, port)) = parse_redirect(e) {
                    print = false;
                    self.cfg.host = host;
                    self.cfg.port = port;
                    if self.interactive {
                        out(format!(
                            "-> Redirected to slot [{slot}] located at {}:{}\n",
                            self.cfg.host, self.cfg.port
                        )
                        .as_bytes());
                    }
                    self.reissue = true;
                    self.send_asking = e.starts_with(b"ASK ");
                }
            } else if !self.interactive && self.cfg.set_errcode {
                eprintln!("{}", String::from_utf8_lossy(e));
                std::process::exit(1);
            }
        }
        if print {
            let (active, colors) = (self.ldb.active, self.ldb.colors);
            let mut ended = false;
            let rendered = format::format_reply(
                &frame,
                self.cfg.output,
                output_raw,
                &self.cfg.mb_delim,
                &self.cfg.cmd_delim,
                &mut |s, o| crate::eval::write_status(s, o, active, colors, &mut ended),
            );
            match rendered {
                Ok(bytes) => out(&bytes),
                Err(format::Unrenderable(code)) => {
                    eprintln!("Unknown reply type: {code}");
                    std::process::exit(1);
                }
            }
            if ended {
                return self.end_ldb_session();
            }
        }
        Ok(())
    }

    /// After the debugger's `<endsession>`: the script's reply follows, shown
    /// in the human format, which stays the output format from here on.
    fn end_ldb_session(&mut self) -> Result<(), Option<String>> {
        self.ldb.active = false;
        self.cfg.output = Output::Standard;
        if std::mem::take(&mut self.ldb.starting) {
            // The session ended with the EVAL itself: upstream gives up.
            out(b"Eval debugging session can't start:\n");
            let _ = self.read_reply(false);
            std::process::exit(0);
        }
        let res = self.read_reply(false);
        out(crate::eval::ended_message(self.cfg.eval_ldb_sync));
        // The server closes the session's connection: the REPL goes on with
        // a new one (upstream reconnects too, silently).
        if res.is_ok() {
            self.connect(true);
        }
        res
    }
}

/// Parses `MOVED 3999 127.0.0.1:6381` / `ASK ...` into (slot, host, port).
fn parse_redirect(e: &[u8]) -> Option<(i64, String, i64)> {
    let s = String::from_utf8_lossy(e);
    let mut it = s.split(' ');
    let _kind = it.next()?;
    let slot = crate::opts::atoi(it.next()?);
    let addr = it.next()?;
    let colon = addr.rfind(':')?;
    Some((
        slot,
        addr[..colon].to_string(),
        crate::opts::atoi(&addr[colon + 1..]),
    ))
}
