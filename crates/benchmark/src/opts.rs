//! Command line parsing with upstream redis-benchmark's rules.
//!
//! Upstream walks the arguments by hand: options are compared one by one,
//! numbers go through C's `atoi` (an `int`), out-of-range values are
//! clamped silently, and the first word that does not start with `-` ends
//! the options (the rest is the command to benchmark). Anything else that
//! starts with `-` prints `Invalid option "X" or option argument missing`
//! followed by the usage on stdout, exit 1. We reproduce that rather than
//! use clap, because scripts depend on the exact texts and leniency.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// The version we report; the upstream release we are compatible with.
pub const VERSION: &str = "7.0.15";

/// `--help` text: upstream 7.0's, as a build without TLS prints it.
pub const USAGE: &str = include_str!("usage.txt");

/// Upstream's `DEFAULT_LATENCY_PRECISION` (significant figures of the
/// latency histogram).
pub const DEFAULT_PRECISION: i32 = 3;
/// Upstream's `MAX_LATENCY_PRECISION`.
pub const MAX_PRECISION: i32 = 4;
/// Upstream's `MAX_THREADS`.
pub const MAX_THREADS: i32 = 500;

/// Everything the options can set; the fields keep upstream's C `int`
/// semantics (`-c -2` is reported as "-2 parallel clients").
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: i32,
    pub socket: Option<String>,
    pub auth: Option<String>,
    pub user: Option<String>,
    pub clients: i32,
    pub requests: i32,
    pub datasize: i32,
    pub dbnum: i32,
    pub resp3: bool,
    pub threads: i32,
    pub cluster: bool,
    pub tracking: bool,
    pub keepalive: i32,
    /// `-r` given (even `-r 0`): `__rand_int__` is expanded.
    pub randomkeys: bool,
    pub keyspacelen: i32,
    pub pipeline: i32,
    pub quiet: bool,
    pub csv: bool,
    pub precision: i32,
    pub loop_forever: bool,
    /// `-t`: `,list,` lowercased, searched for `,name,` as upstream does.
    pub tests: Option<String>,
    pub idle: bool,
    /// `-x`: the last argument of the command comes from stdin.
    pub stdin_lastarg: bool,
    /// The command to benchmark (empty: the default suite).
    pub command: Vec<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: "127.0.0.1".into(),
            port: 6379,
            socket: None,
            auth: None,
            user: None,
            clients: 50,
            requests: 100_000,
            datasize: 3,
            dbnum: 0,
            resp3: false,
            threads: 0,
            cluster: false,
            tracking: false,
            keepalive: 1,
            randomkeys: false,
            keyspacelen: 0,
            pipeline: 1,
            quiet: false,
            csv: false,
            precision: DEFAULT_PRECISION,
            loop_forever: false,
            tests: None,
            idle: false,
            stdin_lastarg: false,
            command: Vec::new(),
        }
    }
}

/// What [`parse`] decided.
#[derive(Debug)]
pub enum Parsed {
    /// Run with this config; `warnings` go to stderr first.
    Run { cfg: Box<Config>, warnings: String },
    /// Print these and exit with `code`.
    Exit {
        stdout: String,
        stderr: String,
        code: i32,
    },
}

/// C `atoi`: an `int`, wrapping like the `(int)strtol(...)` it is.
pub fn atoi(s: &[u8]) -> i32 {
    // Truncation to 32 bits is what C's conversion does.
    redis_common::units::atoi(&String::from_utf8_lossy(s)) as i32
}

fn invalid(opt: &[u8], warnings: String) -> Parsed {
    Parsed::Exit {
        stdout: format!(
            "Invalid option \"{}\" or option argument missing\n\n{USAGE}",
            String::from_utf8_lossy(opt)
        ),
        stderr: warnings,
        code: 1,
    }
}

/// Decodes `%XX` escapes in URI user info, with upstream's
/// `percentDecode` errors for a bad escape.
fn percent_decode(s: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if i + 1 >= s.len() {
                return Err("Incomplete URI encoding".into());
            }
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => out.push(v),
                None => return Err("Illegal character in URI encoding".into()),
            }
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Applies `redis://[[user]:pass@]host[:port][/db]` as upstream's
/// `parseRedisUri` does; `Err` carries the fatal message.
fn parse_uri(cfg: &mut Config, uri: &[u8]) -> Result<(), String> {
    let lower = uri.to_ascii_lowercase();
    let mut rest: &[u8] = if lower.starts_with(b"rediss://") {
        return Err(
            "rediss:// is only supported when redis-benchmark is compiled with OpenSSL".into(),
        );
    } else if lower.starts_with(b"redis://") {
        &uri[b"redis://".len()..]
    } else {
        return Err("Invalid URI scheme".into());
    };
    if rest.is_empty() {
        return Ok(());
    }
    if let Some(at) = rest.iter().position(|&b| b == b'@') {
        let mut info = &rest[..at];
        if let Some(colon) = info.iter().position(|&b| b == b':') {
            cfg.user = Some(percent_decode(&info[..colon])?);
            info = &info[colon + 1..];
        }
        cfg.auth = Some(percent_decode(info)?);
        rest = &rest[at + 1..];
    }
    if rest.is_empty() {
        return Ok(());
    }
    let slash = rest.iter().position(|&b| b == b'/');
    if rest[0] != b'/' {
        let mut host = match slash {
            Some(s) => &rest[..s],
            None => rest,
        };
        if let Some(colon) = host.iter().position(|&b| b == b':') {
            cfg.port = atoi(&host[colon + 1..]);
            host = &host[..colon];
        }
        cfg.host = String::from_utf8_lossy(host).into_owned();
    }
    let db = match slash {
        Some(s) => &rest[s + 1..],
        None => return Ok(()),
    };
    if !db.is_empty() {
        cfg.dbnum = atoi(db);
    }
    Ok(())
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[OsString]) -> Parsed {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.clone().into_vec()).collect();
    let mut cfg = Config::default();
    let mut warnings = String::new();
    let mut i = 0;
    while i < args.len() {
        let opt = args[i].as_slice();
        let has_val = i + 1 < args.len();
        // Options that take a value: a missing value is an invalid option.
        let takes_value = matches!(
            opt,
            b"-c"
                | b"-n"
                | b"-k"
                | b"-h"
                | b"-p"
                | b"-s"
                | b"-a"
                | b"--user"
                | b"-u"
                | b"-d"
                | b"-P"
                | b"-r"
                | b"-t"
                | b"--dbnum"
                | b"--precision"
                | b"--threads"
        );
        if takes_value && !has_val {
            return invalid(opt, warnings);
        }
        let val = if takes_value {
            args[i + 1].as_slice()
        } else {
            &[]
        };
        let text = || String::from_utf8_lossy(val).into_owned();
        match opt {
            b"-c" => cfg.clients = atoi(val),
            b"-v" | b"--version" => {
                return Parsed::Exit {
                    stdout: format!("redis-benchmark {VERSION}\n"),
                    stderr: warnings,
                    code: 0,
                }
            }
            b"-n" => cfg.requests = atoi(val),
            b"-k" => cfg.keepalive = atoi(val),
            b"-h" => cfg.host = text(),
            b"-p" => cfg.port = atoi(val),
            b"-s" => cfg.socket = Some(text()),
            b"-a" => cfg.auth = Some(text()),
            b"--user" => cfg.user = Some(text()),
            b"-u" => {
                if let Err(msg) = parse_uri(&mut cfg, val) {
                    return Parsed::Exit {
                        stdout: String::new(),
                        stderr: format!("{warnings}{msg}\n"),
                        code: 1,
                    };
                }
            }
            b"-d" => cfg.datasize = atoi(val).clamp(1, 1024 * 1024 * 1024),
            b"-P" => cfg.pipeline = atoi(val).max(1),
            b"-r" => {
                // A negative number is accepted (and means 0), any other
                // dash is taken for a missing argument (and shown, as
                // upstream has already stepped onto it).
                if val.first() == Some(&b'-') && !val.get(1).is_some_and(u8::is_ascii_digit) {
                    return invalid(val, warnings);
                }
                cfg.randomkeys = true;
                cfg.keyspacelen = atoi(val).max(0);
            }
            b"-q" => cfg.quiet = true,
            b"--csv" => cfg.csv = true,
            b"-l" => cfg.loop_forever = true,
            b"-I" => cfg.idle = true,
            b"-e" => warnings.push_str(
                "WARNING: -e option has no effect. We now immediately exit on error to avoid false results.\n",
            ),
            b"-t" => cfg.tests = Some(format!(",{},", text()).to_ascii_lowercase()),
            b"--dbnum" => cfg.dbnum = atoi(val),
            b"--precision" => {
                let p = atoi(val);
                cfg.precision = if p < 0 {
                    DEFAULT_PRECISION
                } else {
                    p.min(MAX_PRECISION)
                };
            }
            b"--threads" => {
                let n = atoi(val);
                cfg.threads = if n > MAX_THREADS {
                    warnings.push_str(&format!(
                        "WARNING: Too many threads, limiting threads to {MAX_THREADS}.\n"
                    ));
                    MAX_THREADS
                } else {
                    n.max(0)
                };
            }
            b"--cluster" => cfg.cluster = true,
            b"--enable-tracking" => cfg.tracking = true,
            b"-3" => cfg.resp3 = true,
            b"-x" => cfg.stdin_lastarg = true,
            b"--help" => {
                return Parsed::Exit {
                    stdout: USAGE.into(),
                    stderr: warnings,
                    code: 0,
                }
            }
            _ => {
                if opt.first() == Some(&b'-') {
                    return invalid(opt, warnings);
                }
                cfg.command = args[i..].to_vec();
                break;
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    Parsed::Run {
        cfg: Box::new(cfg),
        warnings,
    }
}

#[cfg(test)]
#[path = "opts_tests.rs"]
mod tests;
