//! Command line parsing with upstream redis-cli's rules.
//!
//! Upstream does not use getopt: options are matched one by one until the first
//! word not starting with `-`, numbers are read with C's lenient `atoi`/`atof`,
//! and anything unknown aborts with one fixed message. We reproduce that rather
//! than use clap, because scripts depend on the exact messages and leniency.

use crate::format::Output;

/// The version we report; matches the upstream release we are compatible with.
pub const VERSION: &str = "7.0.15";

/// `--help` text, identical to upstream's so scripts and docs keep working.
pub const USAGE: &str = include_str!("usage.txt");

/// Everything the options can set.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: i64,
    pub socket: Option<String>,
    pub auth: Option<String>,
    pub user: Option<String>,
    pub askpass: bool,
    pub no_auth_warning: bool,
    pub input_db: i64,
    pub repeat: i64,
    pub interval_us: u64,
    pub stdin_lastarg: bool,
    /// `-X <tag>`: the argument equal to `tag` is replaced by stdin.
    pub stdin_tag: Option<String>,
    pub output: Output,
    pub mb_delim: Vec<u8>,
    pub cmd_delim: Vec<u8>,
    pub cluster: bool,
    pub set_errcode: bool,
    pub pipe: bool,
    pub pipe_timeout: i64,
    pub resp2: bool,
    pub resp3: bool,
    pub quoted_input: bool,
    pub push_output: bool,
    pub verbose: bool,
    /// `--cluster <subcommand> ...`: run the cluster manager.
    pub cluster_cmd: Option<crate::cluster::Command>,
    /// `--eval <file>`: run the Lua script in that file.
    pub eval: Option<String>,
    /// `--ldb` or `--ldb-sync-mode`: debug the `--eval` script.
    pub eval_ldb: bool,
    /// `--ldb-sync-mode`: the synchronous debugger (changes are kept).
    pub eval_ldb_sync: bool,
}

/// What `parse` decided.
#[derive(Debug)]
pub enum Parsed {
    /// Run with this config; the command (possibly empty) follows.
    Run(Box<Config>, Vec<String>),
    /// Print this to the given stream and exit with the code.
    Exit {
        stdout: String,
        stderr: String,
        code: i32,
    },
}

pub use redis_common::units::atoi;

/// C `atof` on the longest numeric prefix; 0 when there is none.
pub fn atof(s: &str) -> f64 {
    let t = s.trim_start();
    let mut best = 0.0;
    for end in 1..=t.len() {
        if !t.is_char_boundary(end) {
            continue;
        }
        if let Ok(v) = t[..end].parse::<f64>() {
            best = v;
        }
    }
    best
}

fn unrecognized(opt: &str) -> Parsed {
    Parsed::Exit {
        stdout: String::new(),
        stderr: format!("Unrecognized option or bad number of args for: '{opt}'\n"),
        code: 1,
    }
}

/// The usage text on stderr, exit code 1 (upstream's `usage(1)`).
fn usage_error() -> Parsed {
    Parsed::Exit {
        stdout: String::new(),
        stderr: USAGE.into(),
        code: 1,
    }
}

fn fail(msg: &str) -> Parsed {
    Parsed::Exit {
        stdout: String::new(),
        stderr: format!("{msg}\n"),
        code: 1,
    }
}

/// Decodes `%XX` escapes in URI user info.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Applies `redis://[[user]:pass@]host[:port][/db]` to the config.
fn parse_uri(cfg: &mut Config, uri: &str) -> Result<(), Parsed> {
    let lower = uri.to_ascii_lowercase();
    let rest = if lower.starts_with("rediss://") {
        return Err(fail(
            "rediss:// is only supported when redis-cli is compiled with OpenSSL",
        ));
    } else if lower.starts_with("redis://") {
        &uri["redis://".len()..]
    } else {
        return Err(fail("Invalid URI scheme"));
    };
    let mut cur = rest;
    if cur.is_empty() {
        return Ok(());
    }
    if let Some(at) = cur.find('@') {
        let userinfo = &cur[..at];
        match userinfo.find(':') {
            Some(colon) => {
                cfg.user = Some(percent_decode(&userinfo[..colon]));
                cfg.auth = Some(percent_decode(&userinfo[colon + 1..]));
            }
            None => cfg.auth = Some(percent_decode(userinfo)),
        }
        cur = &cur[at + 1..];
    }
    if cur.is_empty() {
        return Ok(());
    }
    let path = cur.find('/');
    if !cur.starts_with('/') {
        let hostport = &cur[..path.unwrap_or(cur.len())];
        let host = match hostport.find(':') {
            Some(c) => {
                cfg.port = atoi(&hostport[c + 1..]);
                &hostport[..c]
            }
            None => hostport,
        };
        cfg.host = host.to_string();
    }
    if let Some(p) = path {
        let db = &cur[p + 1..];
        if !db.is_empty() {
            cfg.input_db = atoi(db);
        }
    }
    Ok(())
}

/// Parses `args` (without the program name, `prog`, which one message
/// names). `stdout_tty` picks the default output.
pub fn parse(prog: &str, args: &[String], stdout_tty: bool) -> Parsed {
    let mut cfg = Config {
        host: "127.0.0.1".into(),
        port: 6379,
        socket: None,
        auth: None,
        user: None,
        askpass: false,
        no_auth_warning: false,
        input_db: 0,
        repeat: 1,
        interval_us: 0,
        stdin_lastarg: false,
        stdin_tag: None,
        output: if stdout_tty {
            Output::Standard
        } else {
            Output::Raw
        },
        mb_delim: b"\n".to_vec(),
        cmd_delim: b"\n".to_vec(),
        cluster: false,
        set_errcode: false,
        pipe: false,
        pipe_timeout: 30,
        resp2: false,
        resp3: false,
        quoted_input: false,
        push_output: stdout_tty,
        verbose: false,
        cluster_cmd: None,
        eval: None,
        eval_ldb: false,
        eval_ldb_sync: false,
    };
    // The `--cluster-*` options, kept even without `--cluster`.
    let mut cc = crate::cluster::Command::default();
    let mut cluster_mode = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let has_val = i + 1 < args.len();
        // The value of a one-argument option, advancing past it.
        let mut val = || {
            i += 1;
            args[i].clone()
        };
        match a {
            "-h" if has_val => cfg.host = val(),
            "-h" | "--help" => {
                return Parsed::Exit {
                    stdout: USAGE.into(),
                    stderr: String::new(),
                    code: 0,
                }
            }
            "-v" | "--version" => {
                return Parsed::Exit {
                    stdout: format!("redis-cli {VERSION}\n"),
                    stderr: String::new(),
                    code: 0,
                }
            }
            "-x" => cfg.stdin_lastarg = true,
            "-X" if has_val => cfg.stdin_tag = Some(val()),
            // Upstream 7.0 does not range-check -p; the connect fails instead.
            "-p" if has_val => cfg.port = atoi(&val()),
            "-s" if has_val => cfg.socket = Some(val()),
            "-r" if has_val => cfg.repeat = atoi(&val()),
            "-i" if has_val => {
                let secs = atof(&val());
                cfg.interval_us = if secs > 0.0 {
                    (secs * 1_000_000.0) as u64
                } else {
                    0
                };
            }
            "-n" if has_val => cfg.input_db = atoi(&val()),
            "--no-auth-warning" => cfg.no_auth_warning = true,
            "--askpass" => cfg.askpass = true,
            "-a" | "--pass" if has_val => cfg.auth = Some(val()),
            "--user" if has_val => cfg.user = Some(val()),
            "-u" if has_val => {
                let uri = val();
                if let Err(p) = parse_uri(&mut cfg, &uri) {
                    return p;
                }
            }
            "--raw" => cfg.output = Output::Raw,
            "--no-raw" => cfg.output = Output::Standard,
            "--quoted-input" => cfg.quoted_input = true,
            "--csv" => cfg.output = Output::Csv,
            "--json" => cfg.output = Output::Json,
            "--quoted-json" => cfg.output = Output::QuotedJson,
            "--pipe" => cfg.pipe = true,
            "--pipe-timeout" if has_val => cfg.pipe_timeout = atoi(&val()),
            "-c" => cfg.cluster = true,
            "-d" if has_val => cfg.mb_delim = val().into_bytes(),
            "-D" if has_val => cfg.cmd_delim = val().into_bytes(),
            "-e" => cfg.set_errcode = true,
            "--verbose" => cfg.verbose = true,
            "--eval" if has_val => cfg.eval = Some(val()),
            // The debugger's replies are status lines: upstream switches to
            // raw output here, so a later --no-raw, --csv or --json wins.
            "--ldb" => {
                cfg.eval_ldb = true;
                cfg.output = Output::Raw;
            }
            "--ldb-sync-mode" => {
                cfg.eval_ldb = true;
                cfg.eval_ldb_sync = true;
                cfg.output = Output::Raw;
            }
            "-2" => cfg.resp2 = true,
            "-3" => cfg.resp3 = true,
            "--show-pushes" if has_val => {
                let v = val();
                match v.as_bytes().first().map(u8::to_ascii_lowercase) {
                    Some(b'n') => cfg.push_output = false,
                    Some(b'y') => cfg.push_output = true,
                    _ => {
                        // Upstream warns and carries on.
                        eprintln!("Unknown --show-pushes value '{v}' (valid: '[y]es', '[n]o')");
                    }
                }
            }
            "--cluster" if has_val => {
                // A second --cluster shows the usage, as upstream.
                if cluster_mode {
                    return usage_error();
                }
                cluster_mode = true;
                i += 1;
                cc.name = args[i].clone();
                // The subcommand's arguments: the words up to the next option.
                let mut j = i + 1;
                while j < args.len() && !args[j].starts_with('-') {
                    j += 1;
                }
                cc.args = args[i + 1..j].to_vec();
                i = j - 1;
            }
            "--cluster" => return usage_error(),
            "--cluster-only-masters" => cc.only_masters = true,
            "--cluster-only-replicas" => cc.only_replicas = true,
            "--cluster-replicas" if has_val => cc.replicas = atoi(&val()) as i32,
            "--cluster-master-id" if has_val => cc.master_id = Some(val()),
            "--cluster-from" if has_val => cc.from = Some(val()),
            "--cluster-to" if has_val => cc.to = Some(val()),
            "--cluster-from-user" if has_val => cc.from_user = Some(val()),
            "--cluster-from-pass" if has_val => cc.from_pass = Some(val()),
            "--cluster-from-askpass" => cc.from_askpass = true,
            "--cluster-weight" if has_val => {
                if cc.weights.is_some() {
                    return fail(
                        "WARNING: you cannot use --cluster-weight more than once.\n\
                         You can set more weights by adding them as a space-separated list, ie:\n\
                         --cluster-weight n1=w n2=w",
                    );
                }
                // Every following `name=weight` word.
                let mut j = i + 1;
                while j < args.len() && !args[j].starts_with("--") && args[j].contains('=') {
                    j += 1;
                }
                if j > i + 1 {
                    cc.weights = Some(args[i + 1..j].to_vec());
                    i = j - 1;
                }
            }
            "--cluster-slots" if has_val => cc.slots = atoi(&val()) as i32,
            "--cluster-timeout" if has_val => cc.timeout = atoi(&val()) as i32,
            "--cluster-pipeline" if has_val => cc.pipeline = atoi(&val()) as i32,
            "--cluster-threshold" if has_val => cc.threshold = atof(&val()) as f32,
            "--cluster-yes" => cc.yes = true,
            "--cluster-simulate" => cc.simulate = true,
            "--cluster-replace" => cc.replace = true,
            "--cluster-copy" => cc.copy = true,
            "--cluster-slave" => cc.slave = true,
            "--cluster-use-empty-masters" => cc.use_empty_masters = true,
            "--cluster-search-multiple-owners" => cc.search_multiple_owners = true,
            "--cluster-fix-with-unreachable-masters" => cc.fix_with_unreachable_masters = true,
            _ if cluster_mode && !a.starts_with('-') => {
                // Words after the options are the subcommand's arguments
                // when --cluster had none; otherwise they are ignored.
                if cc.args.is_empty() {
                    let mut j = i + 1;
                    while j < args.len() && !args[j].starts_with('-') {
                        j += 1;
                    }
                    cc.args = args[i..j].to_vec();
                    i = j - 1;
                }
            }
            _ if a.starts_with('-') => {
                // Upstream options we do not implement (--stat, --scan, --tls, ...)
                // are rejected exactly like unknown ones, so scripts fail loudly.
                return unrecognized(a);
            }
            _ => break,
        }
        i += 1;
    }
    if cluster_mode {
        cfg.cluster_cmd = Some(cc);
    }
    if cfg.socket.is_some() && cfg.cluster {
        return fail("Options -c and -s are mutually exclusive.");
    }
    if cfg.resp2 && cfg.resp3 {
        return fail("Options -2 and -3 are mutually exclusive.");
    }
    if cfg.eval_ldb && cfg.eval.is_none() {
        return fail(&format!(
            "Options --ldb and --ldb-sync-mode require --eval.\n\
             Try {prog} --help for more information."
        ));
    }
    // JSON output talks RESP3 unless -2 says otherwise (maps become
    // objects), as upstream's.
    if matches!(cfg.output, Output::Json | Output::QuotedJson) && !cfg.resp2 {
        cfg.resp3 = true;
    }
    if cfg.stdin_lastarg && cfg.stdin_tag.is_some() {
        return fail("Options -x and -X are mutually exclusive.");
    }
    let rest = if i < args.len() {
        args[i..].to_vec()
    } else {
        Vec::new()
    };
    Parsed::Run(Box::new(cfg), rest)
}

#[cfg(test)]
#[path = "opts_tests.rs"]
mod tests;
