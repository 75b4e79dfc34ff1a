//! The proxy's configuration: a file in the suite's `redis.conf` syntax
//! (one directive per line, upstream's quoting rules, `#` comments) with
//! command-line options applied on top.
//!
//! Directives (all optional but the backend ones of the chosen mode):
//! `port`, `bind`, `requirepass`, `proxy-mode sentinel|cluster|static`,
//! `sentinel HOST:PORT…`, `master-name NAME`, `cluster-node HOST:PORT…`,
//! `static-backend HOST:PORT`, `backend-user`, `backend-pass`,
//! `sentinel-user`, `sentinel-pass`, `connect-timeout-ms`,
//! `backend-timeout-ms` (longest wait for a backend's reply on a shared
//! connection, 0 = no limit), `timeout`
//! (client idle seconds, 0 = never), `maxclients`,
//! `proxy-read-from primary|replica`, `failover-hold-ms`,
//! `backend-connections`, `sentinel-poll-ms`, `max-redirects`,
//! `io-threads` (threads serving clients, default 1),
//! `failover-on-refused-ms` (sentinel mode: ask the sentinels to fail
//! over once the primary refused connections that long and a majority of
//! them cannot reach it either, see [`crate::trigger`]; 0, the default,
//! never asks), `logfile`, `loglevel`.

use std::path::PathBuf;

use clap::Parser;

/// Which kind of deployment the proxy fronts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One fixed backend.
    Static,
    /// A primary found and followed through Sentinel.
    Sentinel,
    /// A Redis Cluster, routed by key slot.
    Cluster,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Static => "static",
            Mode::Sentinel => "sentinel",
            Mode::Cluster => "cluster",
        }
    }
}

/// Where read-only commands go in sentinel mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    Primary,
    Replica,
}

/// The whole configuration, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub requirepass: Option<String>,
    pub mode: Mode,
    pub sentinels: Vec<String>,
    pub master_name: String,
    pub cluster_nodes: Vec<String>,
    pub static_backend: String,
    pub backend_user: Option<String>,
    pub backend_pass: Option<String>,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    pub connect_timeout_ms: u64,
    /// Longest wait for a reply on a shared backend connection (ms); 0
    /// waits forever.
    pub backend_timeout_ms: u64,
    /// Client idle timeout in seconds; 0 disables it.
    pub timeout: u64,
    pub maxclients: usize,
    pub read_from: ReadFrom,
    pub failover_hold_ms: u64,
    /// Shared connections per backend and protocol version.
    pub backend_connections: usize,
    pub sentinel_poll_ms: u64,
    pub max_redirects: u32,
    /// Threads serving clients (1: one event loop, like twemproxy).
    pub io_threads: usize,
    /// Sentinel mode: how long (ms) every connect to the primary must have
    /// been refused before the proxy asks the sentinels to fail over
    /// (with their majority's agreement); 0 never asks.
    pub failover_on_refused_ms: u64,
    pub logfile: String,
    pub loglevel: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: DEFAULT_PORT,
            bind: vec!["127.0.0.1".into()],
            requirepass: None,
            mode: Mode::Static,
            sentinels: Vec::new(),
            master_name: String::new(),
            cluster_nodes: Vec::new(),
            static_backend: String::new(),
            backend_user: None,
            backend_pass: None,
            sentinel_user: None,
            sentinel_pass: None,
            connect_timeout_ms: 1000,
            backend_timeout_ms: 0,
            timeout: 0,
            maxclients: 10000,
            read_from: ReadFrom::Primary,
            failover_hold_ms: 5000,
            backend_connections: 2,
            sentinel_poll_ms: 1000,
            max_redirects: 5,
            io_threads: 1,
            failover_on_refused_ms: 0,
            logfile: String::new(),
            loglevel: "notice".into(),
        }
    }
}

/// The port when none is configured.
pub const DEFAULT_PORT: u16 = 7379;

/// A configuration the proxy cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("Reading the configuration file, at line {line}\n>>> '{text}'\n{reason}")]
    Line {
        line: usize,
        text: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("Can't open the config file '{path}': {err}")]
    Open { path: String, err: String },
}

/// The command line: `redis-proxy [config-file] [options]`.
#[derive(Debug, Default, Parser)]
#[command(name = "redis-proxy", version, about = "Failover-aware Redis proxy")]
pub struct Cli {
    /// Configuration file (redis.conf syntax).
    pub config: Option<PathBuf>,
    /// TCP port to listen on.
    #[arg(long)]
    pub port: Option<u16>,
    /// Addresses to listen on (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub bind: Vec<String>,
    /// Password the proxy's own clients must give.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Cluster mode: seed nodes HOST:PORT[,HOST:PORT…].
    #[arg(long, value_delimiter = ',')]
    pub cluster: Vec<String>,
    /// Sentinel mode: sentinels HOST:PORT[,HOST:PORT…].
    #[arg(long, value_delimiter = ',')]
    pub sentinel: Vec<String>,
    /// Sentinel mode: the monitored master's name.
    #[arg(long)]
    pub master: Option<String>,
    /// Static mode: the one backend HOST:PORT.
    #[arg(long = "static")]
    pub static_backend: Option<String>,
    /// Password for the backends.
    #[arg(long)]
    pub backend_pass: Option<String>,
    /// ACL user for the backends.
    #[arg(long)]
    pub backend_user: Option<String>,
    /// How long to hold requests during a failover (ms).
    #[arg(long)]
    pub failover_hold_ms: Option<u64>,
    /// `primary` or `replica` for read-only commands (sentinel mode).
    #[arg(long)]
    pub proxy_read_from: Option<String>,
    /// Longest wait for a backend's reply on a shared connection (ms, 0: none).
    #[arg(long)]
    pub backend_timeout_ms: Option<u64>,
    /// Threads serving clients (default 1).
    #[arg(long)]
    pub io_threads: Option<usize>,
    /// Sentinel mode: ask the sentinels to fail over once every connect to
    /// the primary was refused this long (ms) and most sentinels cannot
    /// reach it either (0: never).
    #[arg(long)]
    pub failover_on_refused_ms: Option<u64>,
    /// Log file (empty: standard output).
    #[arg(long)]
    pub logfile: Option<String>,
    /// Log level: debug, verbose, notice, warning.
    #[arg(long)]
    pub loglevel: Option<String>,
}

impl Cli {
    /// Reads the config file (if any), applies the options and validates.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut explicit_mode = false;
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Open {
                path: path.display().to_string(),
                err: redis_common::os::strerror(&e),
            })?;
            explicit_mode = parse_into(&mut cfg, &text)?;
        }
        let mut mode = explicit_mode.then_some(cfg.mode);
        if let Some(p) = self.port {
            cfg.port = p;
        }
        if !self.bind.is_empty() {
            cfg.bind = self.bind;
        }
        if self.requirepass.is_some() {
            cfg.requirepass = self.requirepass;
        }
        if !self.cluster.is_empty() {
            cfg.cluster_nodes = self.cluster;
            mode = Some(Mode::Cluster);
        }
        if !self.sentinel.is_empty() {
            cfg.sentinels = self.sentinel;
            mode = Some(Mode::Sentinel);
        }
        if let Some(m) = self.master {
            cfg.master_name = m;
        }
        if let Some(s) = self.static_backend {
            cfg.static_backend = s;
            mode = Some(Mode::Static);
        }
        if self.backend_pass.is_some() {
            cfg.backend_pass = self.backend_pass;
        }
        if self.backend_user.is_some() {
            cfg.backend_user = self.backend_user;
        }
        if let Some(h) = self.failover_hold_ms {
            cfg.failover_hold_ms = h;
        }
        if let Some(t) = self.io_threads {
            cfg.io_threads = t;
        }
        if let Some(t) = self.backend_timeout_ms {
            cfg.backend_timeout_ms = t;
        }
        if let Some(t) = self.failover_on_refused_ms {
            cfg.failover_on_refused_ms = t;
        }
        if let Some(r) = self.proxy_read_from {
            cfg.read_from = parse_read_from(&r).map_err(ConfigError::Invalid)?;
        }
        if let Some(l) = self.logfile {
            cfg.logfile = l;
        }
        if let Some(l) = self.loglevel {
            cfg.loglevel = l;
        }
        cfg.mode = mode.unwrap_or_else(|| infer_mode(&cfg));
        validate(&cfg)?;
        Ok(cfg)
    }
}

/// The mode implied by which backends are configured.
fn infer_mode(cfg: &Config) -> Mode {
    if !cfg.sentinels.is_empty() {
        Mode::Sentinel
    } else if !cfg.cluster_nodes.is_empty() {
        Mode::Cluster
    } else {
        Mode::Static
    }
}

/// Parses a config file's text into `cfg`; true when it set `proxy-mode`.
pub fn parse_into(cfg: &mut Config, text: &str) -> Result<bool, ConfigError> {
    let mut explicit_mode = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: &str| ConfigError::Line {
            line: i + 1,
            text: line.to_string(),
            reason: reason.to_string(),
        };
        let Some(parts) = redis_common::args::split_args(line.as_bytes()) else {
            return Err(err("Unbalanced quotes in configuration line"));
        };
        let parts: Vec<String> = parts
            .into_iter()
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .collect();
        let Some((name, args)) = parts.split_first() else {
            continue;
        };
        if name == "proxy-mode" {
            explicit_mode = true;
        }
        apply(cfg, &name.to_ascii_lowercase(), args).map_err(|r| err(&r))?;
    }
    Ok(explicit_mode)
}

fn one(args: &[String]) -> Result<&str, String> {
    match args {
        [a] => Ok(a),
        _ => Err("wrong number of arguments".into()),
    }
}

fn number<T: std::str::FromStr>(args: &[String]) -> Result<T, String> {
    one(args)?
        .parse()
        .map_err(|_| "argument must be a number".to_string())
}

fn opt(args: &[String]) -> Result<Option<String>, String> {
    let v = one(args)?;
    Ok((!v.is_empty()).then(|| v.to_string()))
}

fn parse_read_from(v: &str) -> Result<ReadFrom, String> {
    match v.to_ascii_lowercase().as_str() {
        "primary" | "master" => Ok(ReadFrom::Primary),
        "replica" | "slave" => Ok(ReadFrom::Replica),
        _ => Err(format!(
            "proxy-read-from must be primary or replica, not '{v}'"
        )),
    }
}

fn addrs(args: &[String]) -> Result<Vec<String>, String> {
    if args.is_empty() {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::new();
    for a in args {
        for part in a.split(',').filter(|p| !p.is_empty()) {
            split_addr(part).ok_or_else(|| format!("'{part}' is not HOST:PORT"))?;
            out.push(part.to_string());
        }
    }
    Ok(out)
}

/// Splits `host:port` (`[v6]:port` too) into its parts.
pub fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// `host:port` in the form a connect call takes (`[v6]:port` for IPv6).
pub fn join_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn apply(cfg: &mut Config, name: &str, args: &[String]) -> Result<(), String> {
    match name {
        "port" => cfg.port = number(args)?,
        "bind" => {
            if args.is_empty() {
                return Err("wrong number of arguments".into());
            }
            cfg.bind = args.to_vec();
        }
        "requirepass" => cfg.requirepass = opt(args)?,
        "proxy-mode" => {
            cfg.mode = match one(args)?.to_ascii_lowercase().as_str() {
                "sentinel" => Mode::Sentinel,
                "cluster" => Mode::Cluster,
                "static" => Mode::Static,
                _ => return Err("proxy-mode must be sentinel, cluster or static".into()),
            }
        }
        "sentinel" => cfg.sentinels.extend(addrs(args)?),
        "master-name" => cfg.master_name = one(args)?.to_string(),
        "cluster-node" => cfg.cluster_nodes.extend(addrs(args)?),
        "static-backend" => {
            let mut a = addrs(args)?;
            cfg.static_backend = a.pop().unwrap_or_default();
        }
        "backend-user" => cfg.backend_user = opt(args)?,
        "backend-pass" => cfg.backend_pass = opt(args)?,
        "sentinel-user" => cfg.sentinel_user = opt(args)?,
        "sentinel-pass" => cfg.sentinel_pass = opt(args)?,
        "connect-timeout-ms" => cfg.connect_timeout_ms = number(args)?,
        "backend-timeout-ms" => cfg.backend_timeout_ms = number(args)?,
        "timeout" => cfg.timeout = number(args)?,
        "maxclients" => cfg.maxclients = number(args)?,
        "proxy-read-from" => cfg.read_from = parse_read_from(one(args)?)?,
        "failover-hold-ms" => cfg.failover_hold_ms = number(args)?,
        "backend-connections" => cfg.backend_connections = number(args)?,
        "sentinel-poll-ms" => cfg.sentinel_poll_ms = number(args)?,
        "max-redirects" => cfg.max_redirects = number(args)?,
        "io-threads" => cfg.io_threads = number(args)?,
        "failover-on-refused-ms" => cfg.failover_on_refused_ms = number(args)?,
        "logfile" => cfg.logfile = one(args)?.to_string(),
        "loglevel" => cfg.loglevel = one(args)?.to_string(),
        "daemonize" => {
            if !one(args)?.eq_ignore_ascii_case("no") {
                return Err("redis-proxy does not daemonize: run it under systemd".into());
            }
        }
        _ => return Err("Bad directive or wrong number of arguments".into()),
    }
    Ok(())
}

/// Checks that the chosen mode has its backends.
pub fn validate(cfg: &Config) -> Result<(), ConfigError> {
    let bad = |s: &str| Err(ConfigError::Invalid(s.to_string()));
    match cfg.mode {
        Mode::Sentinel if cfg.sentinels.is_empty() => {
            return bad("sentinel mode needs at least one `sentinel HOST:PORT`")
        }
        Mode::Sentinel if cfg.master_name.is_empty() => {
            return bad("sentinel mode needs `master-name NAME` (--master)")
        }
        Mode::Cluster if cfg.cluster_nodes.is_empty() => {
            return bad("cluster mode needs at least one `cluster-node HOST:PORT`")
        }
        Mode::Static if cfg.static_backend.is_empty() => {
            return bad("no backend: give --static, --sentinel with --master, or --cluster")
        }
        _ => {}
    }
    if cfg.backend_connections == 0 {
        return bad("backend-connections must be at least 1");
    }
    if cfg.io_threads == 0 || cfg.io_threads > 256 {
        return bad("io-threads must be between 1 and 256");
    }
    if cfg.maxclients == 0 {
        return bad("maxclients must be at least 1");
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
