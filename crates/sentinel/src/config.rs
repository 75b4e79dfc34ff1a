//! The `sentinel.conf` model and its parser.
//!
//! A sentinel configuration file is a `redis.conf` that may also hold
//! `sentinel <subcommand> ...` lines. Generic server directives the
//! sentinel cares about are stored typed; every other server directive is
//! kept verbatim so that a rewrite (see [`crate::rewrite`]) preserves it.
//!
//! Like upstream 7.0, generic directives are checked in file order first,
//! then the `sentinel` lines are applied in three passes: the global ones
//! that must be known before any master (`myid`, `current-epoch`,
//! `resolve-hostnames`, ...), then every `monitor`, then everything else.
//! A per-master directive may therefore appear before its `monitor` line,
//! which is what lets a rewritten file reuse old lines in any order.

use std::net::IpAddr;

use redis_common::args::split_args;

/// Version string printed in the fatal error banner.
pub const DEFAULT_VERSION: &str = "7.0.15";
/// The sentinel's default TCP port.
pub const DEFAULT_PORT: u16 = 26379;
/// Default `down-after-milliseconds` of a monitored master.
pub const DEFAULT_DOWN_AFTER_MS: u64 = 30_000;
/// Default `failover-timeout` of a monitored master.
pub const DEFAULT_FAILOVER_TIMEOUT_MS: u64 = 180_000;
/// Default `parallel-syncs` of a monitored master.
pub const DEFAULT_PARALLEL_SYNCS: u32 = 1;
/// Default `acllog-max-len`.
pub const DEFAULT_ACLLOG_MAX_LEN: u64 = 128;
/// Length of a run id / sentinel id.
pub const RUN_ID_LEN: usize = 40;

/// A fatal configuration error, displayed exactly like upstream's banner
/// (without the final newline, which the caller's `eprintln!` adds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\n*** FATAL CONFIG FILE ERROR (Redis {version}) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{reason}")]
pub struct ConfigError {
    /// Version shown in the banner.
    pub version: String,
    /// 1-based line number.
    pub line: usize,
    /// The line as written (trimmed like upstream).
    pub text: String,
    /// Why the line was refused.
    pub reason: String,
}

/// A host (IP or name) and a TCP port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    /// IP address or host name.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Addr {
    /// Builds an address.
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        Addr {
            host: host.into(),
            port,
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Another sentinel known to monitor a master (`sentinel known-sentinel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSentinel {
    /// Where it listens.
    pub addr: Addr,
    /// Its 40-character id.
    pub run_id: String,
}

/// One `sentinel monitor` entry with its per-master settings and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConfig {
    /// The master's name.
    pub name: String,
    /// Its current address.
    pub addr: Addr,
    /// Sentinels needed to agree it is down.
    pub quorum: u32,
    /// `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// `failover-timeout`.
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`.
    pub parallel_syncs: u32,
    /// `notification-script`.
    pub notification_script: Option<String>,
    /// `client-reconfig-script`.
    pub client_reconfig_script: Option<String>,
    /// `auth-pass`.
    pub auth_pass: Option<String>,
    /// `auth-user`.
    pub auth_user: Option<String>,
    /// `rename-command` pairs (original, renamed), in file order.
    pub renamed_commands: Vec<(String, String)>,
    /// `master-reboot-down-after-period` (0 = disabled).
    pub master_reboot_down_after_ms: u64,
    /// `config-epoch`.
    pub config_epoch: u64,
    /// `leader-epoch`.
    pub leader_epoch: u64,
    /// `known-replica` addresses, without duplicates.
    pub known_replicas: Vec<Addr>,
    /// `known-sentinel` entries, one per run id.
    pub known_sentinels: Vec<KnownSentinel>,
}

impl MasterConfig {
    /// A master with upstream's defaults.
    pub fn new(name: impl Into<String>, addr: Addr, quorum: u32) -> MasterConfig {
        MasterConfig {
            name: name.into(),
            addr,
            quorum,
            down_after_ms: DEFAULT_DOWN_AFTER_MS,
            failover_timeout_ms: DEFAULT_FAILOVER_TIMEOUT_MS,
            parallel_syncs: DEFAULT_PARALLEL_SYNCS,
            notification_script: None,
            client_reconfig_script: None,
            auth_pass: None,
            auth_user: None,
            renamed_commands: Vec::new(),
            master_reboot_down_after_ms: 0,
            config_epoch: 0,
            leader_epoch: 0,
            known_replicas: Vec::new(),
            known_sentinels: Vec::new(),
        }
    }

    /// Adds a known replica unless already present.
    pub fn add_known_replica(&mut self, addr: Addr) {
        if !self.known_replicas.contains(&addr) {
            self.known_replicas.push(addr);
        }
    }

    /// Adds a known sentinel; a later entry with the same run id replaces
    /// the address of the earlier one.
    pub fn add_known_sentinel(&mut self, s: KnownSentinel) {
        match self
            .known_sentinels
            .iter_mut()
            .find(|k| k.run_id == s.run_id)
        {
            Some(k) => k.addr = s.addr,
            None => self.known_sentinels.push(s),
        }
    }
}

/// The whole sentinel configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelConfig {
    /// `port`.
    pub port: u16,
    /// `bind` addresses (empty = not set).
    pub bind: Vec<String>,
    /// `protected-mode` (off by default in a sentinel, as upstream).
    pub protected_mode: bool,
    /// `daemonize`.
    pub daemonize: bool,
    /// `pidfile`.
    pub pidfile: Option<String>,
    /// `logfile` (empty = standard output).
    pub logfile: String,
    /// `loglevel`.
    pub loglevel: String,
    /// `dir`.
    pub dir: Option<String>,
    /// `supervised`.
    pub supervised: String,
    /// `requirepass`.
    pub requirepass: Option<String>,
    /// `acllog-max-len`.
    pub acllog_max_len: u64,
    /// `user` lines, arguments after `user`, verbatim.
    pub users: Vec<Vec<String>>,
    /// Any other server directive, verbatim (name and arguments).
    pub other: Vec<Vec<String>>,
    /// `sentinel myid` (None until generated).
    pub myid: Option<String>,
    /// `sentinel current-epoch`.
    pub current_epoch: u64,
    /// `sentinel deny-scripts-reconfig`.
    pub deny_scripts_reconfig: bool,
    /// `sentinel resolve-hostnames`.
    pub resolve_hostnames: bool,
    /// `sentinel announce-hostnames`.
    pub announce_hostnames: bool,
    /// `sentinel announce-ip`.
    pub announce_ip: Option<String>,
    /// `sentinel announce-port` (0 = use `port`).
    pub announce_port: u16,
    /// `sentinel sentinel-user`.
    pub sentinel_user: Option<String>,
    /// `sentinel sentinel-pass`.
    pub sentinel_pass: Option<String>,
    /// Monitored masters in file order.
    pub masters: Vec<MasterConfig>,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            port: DEFAULT_PORT,
            bind: Vec::new(),
            protected_mode: false,
            daemonize: false,
            pidfile: None,
            logfile: String::new(),
            loglevel: "notice".to_string(),
            dir: None,
            supervised: "no".to_string(),
            requirepass: None,
            acllog_max_len: DEFAULT_ACLLOG_MAX_LEN,
            users: Vec::new(),
            other: Vec::new(),
            myid: None,
            current_epoch: 0,
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            announce_ip: None,
            announce_port: 0,
            sentinel_user: None,
            sentinel_pass: None,
            masters: Vec::new(),
        }
    }
}

impl SentinelConfig {
    /// The master called `name` (case-sensitive, as upstream's dict).
    pub fn master(&self, name: &str) -> Option<&MasterConfig> {
        self.masters.iter().find(|m| m.name == name)
    }

    /// Mutable access to the master called `name`.
    pub fn master_mut(&mut self, name: &str) -> Option<&mut MasterConfig> {
        self.masters.iter_mut().find(|m| m.name == name)
    }

    /// Sets a random 40-hex-digit `myid` if none is configured; returns
    /// whether one was generated (the caller then saves the file).
    pub fn ensure_myid<R: rand::Rng>(&mut self, rng: &mut R) -> bool {
        if self.myid.is_some() {
            return false;
        }
        let id: String = (0..RUN_ID_LEN)
            .map(|_| {
                let d: u32 = rng.gen_range(0..16);
                char::from_digit(d, 16).unwrap_or('0')
            })
            .collect();
        self.myid = Some(id);
        true
    }
}

/// Knobs of [`parse_with`].
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Printed in the fatal error banner.
    pub version: String,
    /// Check that notification / reconfig scripts exist and are
    /// executable, as upstream does while loading.
    pub check_scripts: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            version: DEFAULT_VERSION.to_string(),
            check_scripts: true,
        }
    }
}

/// Parses a sentinel.conf text with default options.
pub fn parse(text: &str) -> Result<SentinelConfig, ConfigError> {
    parse_with(text, &ParseOptions::default())
}

/// A queued `sentinel` line: where it was and its arguments after
/// `sentinel`.
struct Queued {
    line: usize,
    text: String,
    args: Vec<String>,
}

/// Sentinel subcommands applied before the `monitor` lines (upstream's
/// pre-monitor list).
const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

/// Parses a sentinel.conf text.
pub fn parse_with(text: &str, opts: &ParseOptions) -> Result<SentinelConfig, ConfigError> {
    let mut cfg = SentinelConfig::default();
    let mut queue: Vec<Queued> = Vec::new();
    let fail = |line: usize, text: &str, reason: String| ConfigError {
        version: opts.version.clone(),
        line,
        text: text.to_string(),
        reason,
    };
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(argv) = split_args(line.as_bytes()) else {
            return Err(fail(
                line_no,
                line,
                "Unbalanced quotes in configuration line".into(),
            ));
        };
        let argv: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Some(name) = argv.first().map(|n| n.to_ascii_lowercase()) else {
            continue;
        };
        if name == "sentinel" {
            if argv.len() > 1 {
                queue.push(Queued {
                    line: line_no,
                    text: line.to_string(),
                    args: argv[1..].to_vec(),
                });
            }
            continue;
        }
        apply_generic(&mut cfg, &name, &argv).map_err(|r| fail(line_no, line, r))?;
    }
    let is_pre = |q: &&Queued| {
        PRE_MONITOR
            .iter()
            .any(|p| q.args[0].eq_ignore_ascii_case(p))
    };
    let is_monitor = |q: &&Queued| q.args[0].eq_ignore_ascii_case("monitor");
    let pre = queue.iter().filter(is_pre);
    let monitor = queue.iter().filter(is_monitor);
    let post = queue.iter().filter(|q| !is_pre(q) && !is_monitor(q));
    for q in pre.chain(monitor).chain(post) {
        apply_sentinel(&mut cfg, &q.args, opts).map_err(|r| fail(q.line, &q.text, r))?;
    }
    Ok(cfg)
}

use redis_common::units::parse_bool as yes_no;

pub(crate) use redis_common::units::atoi;

/// C `strtoull` for the epoch fields: leading digits, 0 when none.
fn strtoull(s: &str) -> u64 {
    let mut v: u64 = 0;
    for b in s.trim_start().bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    v
}

fn one_arg(argv: &[String]) -> Result<&str, String> {
    match argv {
        [_, v] => Ok(v.as_str()),
        _ => Err("wrong number of arguments".into()),
    }
}

fn bool_arg(argv: &[String]) -> Result<bool, String> {
    yes_no(one_arg(argv)?).ok_or_else(|| "argument must be 'yes' or 'no'".into())
}

fn int_arg(argv: &[String], min: i64, max: i64) -> Result<i64, String> {
    let s = one_arg(argv)?;
    let v: i64 = s
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

fn enum_arg(argv: &[String], names: &[&str]) -> Result<String, String> {
    let s = one_arg(argv)?;
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(s))
        .map(|n| n.to_string())
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            )
        })
}

/// Applies one generic (non-`sentinel`) directive.
fn apply_generic(cfg: &mut SentinelConfig, name: &str, argv: &[String]) -> Result<(), String> {
    match name {
        "port" => cfg.port = u16::try_from(int_arg(argv, 0, 65535)?).unwrap_or(DEFAULT_PORT),
        "bind" => {
            if argv.len() < 2 {
                return Err("wrong number of arguments".into());
            }
            if argv.len() > 17 {
                return Err("Too many bind addresses specified.".into());
            }
            cfg.bind = argv[1..].to_vec();
        }
        "protected-mode" => cfg.protected_mode = bool_arg(argv)?,
        "daemonize" => cfg.daemonize = bool_arg(argv)?,
        "pidfile" => cfg.pidfile = Some(one_arg(argv)?.to_string()),
        "logfile" => cfg.logfile = one_arg(argv)?.to_string(),
        "loglevel" => cfg.loglevel = enum_arg(argv, &["debug", "verbose", "notice", "warning"])?,
        "dir" => cfg.dir = Some(one_arg(argv)?.to_string()),
        "supervised" => cfg.supervised = enum_arg(argv, &["upstart", "systemd", "auto", "no"])?,
        "requirepass" => cfg.requirepass = Some(one_arg(argv)?.to_string()),
        "acllog-max-len" => {
            cfg.acllog_max_len = u64::try_from(int_arg(argv, 0, i64::MAX)?).unwrap_or(0)
        }
        "user" => cfg.users.push(argv[1..].to_vec()),
        _ => cfg.other.push(argv.to_vec()),
    }
    Ok(())
}

const NO_SUCH_MASTER: &str = "No such master with specified name.";
const UNRECOGNIZED: &str = "Unrecognized sentinel configuration statement.";

fn master_mut<'a>(cfg: &'a mut SentinelConfig, name: &str) -> Result<&'a mut MasterConfig, String> {
    cfg.master_mut(name)
        .ok_or_else(|| NO_SUCH_MASTER.to_string())
}

/// Validates an instance address the way upstream's instance creation
/// does: a port in range, and an IP literal unless hostnames resolve.
fn instance_addr(cfg: &SentinelConfig, host: &str, port: &str) -> Result<Addr, String> {
    let port = atoi(port);
    let port = u16::try_from(port).map_err(|_| "Invalid port number.".to_string())?;
    if !cfg.resolve_hostnames && host.parse::<IpAddr>().is_err() {
        return Err("Can't resolve instance hostname.".into());
    }
    Ok(Addr::new(host, port))
}

#[cfg(unix)]
pub(crate) fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
pub(crate) fn is_executable(path: &str) -> bool {
    std::path::Path::new(path).exists()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Applies one `sentinel` line (`args` starts with the subcommand).
fn apply_sentinel(
    cfg: &mut SentinelConfig,
    args: &[String],
    opts: &ParseOptions,
) -> Result<(), String> {
    let sub = args[0].to_ascii_lowercase();
    let argc = args.len();
    match (sub.as_str(), argc) {
        ("monitor", 5) => {
            let quorum = atoi(&args[4]);
            if quorum <= 0 {
                return Err("Quorum must be 1 or greater.".into());
            }
            let addr = instance_addr(cfg, &args[2], &args[3])?;
            if cfg.master(&args[1]).is_some() {
                return Err("Duplicated master name.".into());
            }
            let quorum = u32::try_from(quorum).unwrap_or(u32::MAX);
            cfg.masters.push(MasterConfig::new(&args[1], addr, quorum));
        }
        ("down-after-milliseconds", 3) | ("failover-timeout", 3) => {
            let m = master_mut(cfg, &args[1])?;
            let v = atoi(&args[2]);
            let v = u64::try_from(v)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| "negative or zero time parameter.".to_string())?;
            if sub == "failover-timeout" {
                m.failover_timeout_ms = v;
            } else {
                m.down_after_ms = v;
            }
        }
        ("parallel-syncs", 3) => {
            let m = master_mut(cfg, &args[1])?;
            m.parallel_syncs = u32::try_from(atoi(&args[2]).max(0)).unwrap_or(u32::MAX);
        }
        ("notification-script", 3) => {
            master_mut(cfg, &args[1])?;
            if opts.check_scripts && !is_executable(&args[2]) {
                return Err("Notification script seems non existing or non executable.".into());
            }
            master_mut(cfg, &args[1])?.notification_script = Some(args[2].clone());
        }
        ("client-reconfig-script", 3) => {
            master_mut(cfg, &args[1])?;
            if opts.check_scripts && !is_executable(&args[2]) {
                return Err(
                    "Client reconfiguration script seems non existing or non executable.".into(),
                );
            }
            master_mut(cfg, &args[1])?.client_reconfig_script = Some(args[2].clone());
        }
        ("auth-pass", 3) => master_mut(cfg, &args[1])?.auth_pass = Some(args[2].clone()),
        ("auth-user", 3) => master_mut(cfg, &args[1])?.auth_user = Some(args[2].clone()),
        ("current-epoch", 2) => cfg.current_epoch = cfg.current_epoch.max(strtoull(&args[1])),
        ("myid", 2) => {
            if args[1].len() != RUN_ID_LEN {
                return Err("Malformed Sentinel id in myid option.".into());
            }
            cfg.myid = Some(args[1].clone());
        }
        ("config-epoch", 3) => {
            let epoch = strtoull(&args[2]);
            master_mut(cfg, &args[1])?.config_epoch = epoch;
            cfg.current_epoch = cfg.current_epoch.max(epoch);
        }
        ("leader-epoch", 3) => master_mut(cfg, &args[1])?.leader_epoch = strtoull(&args[2]),
        ("known-slave", 4) | ("known-replica", 4) => {
            master_mut(cfg, &args[1])?;
            let addr = instance_addr(cfg, &args[2], &args[3])?;
            master_mut(cfg, &args[1])?.add_known_replica(addr);
        }
        // The old form without a run id is ignored, as upstream does.
        ("known-sentinel", 4) => {}
        ("known-sentinel", 5) => {
            master_mut(cfg, &args[1])?;
            let addr = instance_addr(cfg, &args[2], &args[3])?;
            master_mut(cfg, &args[1])?.add_known_sentinel(KnownSentinel {
                addr,
                run_id: args[4].clone(),
            });
        }
        ("rename-command", 4) => {
            let m = master_mut(cfg, &args[1])?;
            if m.renamed_commands
                .iter()
                .any(|(old, _)| old.eq_ignore_ascii_case(&args[2]))
            {
                return Err("Same command renamed multiple times with rename-command.".into());
            }
            m.renamed_commands.push((args[2].clone(), args[3].clone()));
        }
        ("announce-ip", 2) => cfg.announce_ip = non_empty(&args[1]),
        ("announce-port", 2) => {
            cfg.announce_port =
                u16::try_from(atoi(&args[1])).map_err(|_| "Invalid port number.".to_string())?;
        }
        ("deny-scripts-reconfig", 2) => {
            cfg.deny_scripts_reconfig = yes_no(&args[1]).ok_or_else(|| {
                "Please specify yes or no for the deny-scripts-reconfig options.".to_string()
            })?;
        }
        ("sentinel-user", 2) => cfg.sentinel_user = non_empty(&args[1]),
        ("sentinel-pass", 2) => cfg.sentinel_pass = non_empty(&args[1]),
        ("resolve-hostnames", 2) => {
            cfg.resolve_hostnames = yes_no(&args[1]).ok_or_else(|| {
                "Please specify yes or no for the resolve-hostnames option.".to_string()
            })?;
        }
        ("announce-hostnames", 2) => {
            cfg.announce_hostnames = yes_no(&args[1]).ok_or_else(|| {
                "Please specify yes or no for the announce-hostnames option.".to_string()
            })?;
        }
        ("master-reboot-down-after-period", 3) => {
            let m = master_mut(cfg, &args[1])?;
            let v = atoi(&args[2]);
            m.master_reboot_down_after_ms =
                u64::try_from(v).map_err(|_| "negative time parameter.".to_string())?;
        }
        _ => return Err(UNRECOGNIZED.into()),
    }
    Ok(())
}
