//! The `redis-sentinel` daemon: loads `sentinel.conf`, serves clients,
//! and drives the state machine of [`crate::state`] over the network.
//!
//! # Layout
//! - this module: startup checks, the runtime, the driver loop (ticks
//!   every 100 ms, link reports, scripts, signals) and shutdown;
//! - [`core`]: the shared state behind one mutex and the execution of the
//!   state machine's actions;
//! - [`link`]: one task per monitored instance (command and Pub/Sub
//!   links);
//! - [`client`] and [`commands`]: the sentinel's clients and commands;
//! - [`admin_bridge`]: the state-changing `SENTINEL` subcommands;
//! - [`scripts`]: notification and client-reconfig scripts.

pub mod admin_bridge;
pub mod client;
pub mod commands;
pub mod core;
pub mod link;
pub mod scripts;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use redis_common::logger;
use redis_common::os::strerror;
use redis_common::time::now_ms;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{parse_with, ParseOptions, SentinelConfig};
use crate::info::InfoReport;
use crate::state::Sentinel;

use self::client::{lock, SentinelService};
use self::commands::VERSION;
use self::core::{Core, Exit, Facts};
use self::link::{Report, ReportKind};

/// Period of the state machine's timer (upstream's sentinel runs at 10 Hz).
const TICK: Duration = Duration::from_millis(100);

/// The command line: `redis-sentinel [/path/to/sentinel.conf] [--opt val ...]`
/// (`--sentinel` accepted and ignored, as `redis-server --sentinel` hands
/// over here).
struct Args {
    config: Option<PathBuf>,
    options: Vec<String>,
    /// `--check-config`: load, check, print `Configuration OK`, exit (the
    /// systemd unit's `ExecStartPre`, like our redis-server's).
    check_only: bool,
}

fn parse_args(argv: Vec<String>) -> Result<Args, i32> {
    let check_only = argv.iter().any(|a| a == "--check-config");
    let mut rest: Vec<String> = argv
        .into_iter()
        .filter(|a| a != "--sentinel" && a != "--check-config")
        .collect();
    if let Some(first) = rest.first() {
        match first.as_str() {
            "-v" | "--version" => {
                println!(
                    "Redis server v={VERSION} sha=00000000:0 malloc=libc bits=64 build=0 (redis-rs {})",
                    env!("CARGO_PKG_VERSION")
                );
                return Err(0);
            }
            "-h" | "--help" => {
                println!("Usage: ./redis-sentinel [/path/to/sentinel.conf] [options]");
                println!("       ./redis-server [/path/to/sentinel.conf] --sentinel [options]");
                println!("       ./redis-sentinel -v or --version");
                println!("       ./redis-sentinel -h or --help");
                println!();
                println!("Examples:");
                println!("       ./redis-sentinel /etc/sentinel/26379.conf");
                println!("       ./redis-sentinel /etc/sentinel/26379.conf --loglevel verbose");
                return Err(0);
            }
            _ => {}
        }
    }
    let config = match rest.first() {
        Some(f) if !f.starts_with("--") => Some(PathBuf::from(rest.remove(0))),
        _ => None,
    };
    Ok(Args {
        config,
        options: rest,
        check_only,
    })
}

/// Runs the daemon; returns the exit status.
pub fn main() -> i32 {
    let args = match parse_args(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    logger::set_role('X');
    let Some(path) = args.config else {
        logger::warning("Sentinel needs config file on disk to save state. Exiting...");
        return 1;
    };
    let path = std::path::absolute(&path).unwrap_or(path);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        // Upstream reads a directory as an empty file (and then fails to
        // save into it, with a warning, but keeps running).
        Err(e) if path.is_dir() && e.raw_os_error() == Some(libc::EISDIR) => String::new(),
        Err(e) => {
            logger::warning(&format!(
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                strerror(&e)
            ));
            return 1;
        }
    };
    text.push('\n');
    text.push_str(&redis_config::options_text(&args.options));
    // Server directives are checked against the server's own table, in
    // file order, before any `sentinel` line (upstream's order): an
    // unknown or malformed one is the same fatal error as in redis-server.
    let generic = redis_config::LoadOptions {
        sentinel: true,
        ..redis_config::LoadOptions::default()
    };
    match redis_config::Config::from_text(&text, &generic) {
        Ok(_) => {}
        Err(e @ redis_config::ConfigError::Line { .. }) => {
            eprintln!("{e}");
            return 1;
        }
        Err(e) => {
            logger::warning(&e.to_string());
            return 1;
        }
    }
    let cfg = match parse_with(&text, &ParseOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let writable = if path.is_dir() {
        // access(W_OK) on a directory, as upstream checks: its mode.
        std::fs::metadata(&path)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                if m.permissions().mode() & 0o222 == 0 {
                    Err(std::io::Error::from_raw_os_error(libc::EACCES))
                } else {
                    Ok(())
                }
            })
            .and_then(|r| r)
    } else {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map(|_| ())
    };
    if let Err(e) = writable {
        logger::warning(&format!(
            "Sentinel config file {} is not writable: {}. Exiting...",
            path.display(),
            strerror(&e)
        ));
        return 1;
    }
    if args.check_only {
        println!("Configuration OK");
        return 0;
    }
    if cfg.daemonize {
        redis_net::process::daemonize();
    }
    let level = logger::parse_level(&cfg.loglevel);
    if let Err(e) = logger::configure(&cfg.logfile, level) {
        eprintln!("Can't open the log file: {}", strerror(&e));
        return 1;
    }
    let pid = std::process::id();
    logger::warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    logger::warning(&format!(
        "Redis version={VERSION}, bits=64, commit=00000000, modified=0, pid={pid}, just started"
    ));
    logger::warning("Configuration loaded");
    if let Some(dir) = &cfg.dir {
        if let Err(e) = std::env::set_current_dir(dir) {
            logger::warning(&format!("Can't chdir to '{dir}': {}", strerror(&e)));
            return 1;
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            logger::warning(&format!(
                "Failed creating the event loop. Error message: '{e}'"
            ));
            return 1;
        }
    };
    let code = runtime.block_on(serve(cfg, path));
    runtime.shutdown_background();
    code
}

fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

async fn serve(cfg: SentinelConfig, path: PathBuf) -> i32 {
    let port = cfg.port;
    let supervised = redis_net::process::supervised_mode(&cfg.supervised);
    let bind: Vec<String> = if cfg.bind.is_empty() {
        vec!["*".to_string(), "-::*".to_string()]
    } else {
        cfg.bind.clone()
    };
    logger::notice("monotonic clock: POSIX clock_gettime");
    let listeners = match redis_net::bind_all(&bind, port, 511, "", 0) {
        Ok(l) => l,
        Err(e) => {
            for l in e.lines {
                logger::warning(&l);
            }
            return 1;
        }
    };
    logger::notice(&format!("Running mode=sentinel, port={port}."));
    let now = now_u64();
    let seed: u64 = rand::thread_rng().gen();
    let had_myid = cfg.myid.is_some();
    let sentinel = Sentinel::new(&cfg, now, seed);
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let mut core = Core::new(sentinel, cfg, path, reports_tx);
    core.facts = Facts {
        started_ms: now_ms(),
        run_id: random_hex(40),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        supervised: supervised.to_string(),
        port,
    };
    if !had_myid {
        core.save_config();
    }
    logger::warning(&format!("Sentinel ID is {}", core.s.myid()));
    for name in core.s.master_names() {
        if let (Some(addr), Some(conf)) = (core.s.master_addr(&name), core.s.master_config(&name)) {
            logger::warning(&format!(
                "+monitor master {name} {} {} quorum {}",
                addr.host, addr.port, conf.quorum
            ));
        }
    }
    let pidfile = core.cfg.pidfile.clone().or_else(|| {
        core.cfg
            .daemonize
            .then(|| "/var/run/redis-sentinel.pid".to_string())
    });
    if let Some(p) = &pidfile {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            logger::warning(&format!("Failed to write PID file: {}", strerror(&e)));
        }
    }
    let exit_notify = core.exit_notify.clone();
    let core = Arc::new(Mutex::new(core));
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let svc = Arc::new(SentinelService { core: core.clone() });
    let acceptors = match redis_net::Acceptors::start(listeners, svc, tracker, shutdown.clone()) {
        Ok(a) => a,
        Err(_) => return 1,
    };
    if supervised == "systemd" {
        redis_net::process::notify("STATUS=Ready to accept connections\nREADY=1\n");
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let exit = loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = now_u64();
                let mut c = lock(&core);
                let actions = c.s.tick(now);
                c.apply(actions);
                c.check_catch_ups(now);
                let t = *c.s.timings();
                let events = c.scripts.tick(now, t.script_max_runtime, t.script_retry_delay);
                for (name, text) in events {
                    let level = if name.starts_with("-script-error") || name.starts_with("-script-timeout") {
                        crate::state::EventLevel::Warning
                    } else {
                        crate::state::EventLevel::Debug
                    };
                    c.event(&crate::state::Event { level, name: name.to_string(), text });
                }
            }
            Some(r) = reports.recv() => {
                let mut c = lock(&core);
                on_report(&mut c, r, now_u64());
                // Drain what else arrived, under the same lock.
                while let Ok(r) = reports.try_recv() {
                    on_report(&mut c, r, now_u64());
                }
            }
            _ = exit_notify.notified() => {
                if let Some(e) = lock(&core).exit {
                    break e;
                }
            }
            Some(_) = async { match term.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => {
                signal_line("SIGTERM");
                logger::warning("User requested shutdown...");
                break Exit::Shutdown;
            }
            Some(_) = async { match int.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => {
                signal_line("SIGINT");
                logger::warning("User requested shutdown...");
                break Exit::Shutdown;
            }
        }
    };
    if supervised == "systemd" {
        redis_net::process::notify("STOPPING=1\n");
    }
    acceptors.close();
    shutdown.cancel();
    {
        let mut c = lock(&core);
        c.exit = Some(exit);
        c.scripts.kill_all();
        for e in c.clients.values() {
            e.signal.kill();
        }
        if exit == Exit::Shutdown {
            c.save_config();
        }
    }
    if let Some(p) = &pidfile {
        logger::notice("Removing the pid file.");
        let _ = std::fs::remove_file(Path::new(p));
    }
    match exit {
        Exit::Shutdown => {
            logger::warning("Sentinel is now ready to exit, bye bye...");
            0
        }
        Exit::Crash => 99,
    }
}

fn signal_line(name: &str) {
    logger::raw_line(&format!(
        "{}:signal-handler ({}) Received {name} scheduling shutdown...",
        std::process::id(),
        now_ms() / 1000
    ));
}

fn now_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// Feeds one link report to the state machine.
fn on_report(core: &mut Core, r: Report, now: u64) {
    let Some(h) = core.links.get(&r.id) else {
        return;
    };
    if h.gen != r.gen {
        return;
    }
    let id = r.id;
    let actions = match r.what {
        ReportKind::Connected => core.s.on_connected(id, now),
        ReportKind::Disconnected => {
            core.links.remove(&id);
            core.check_catch_ups(now);
            core.s.on_disconnected(id, now)
        }
        ReportKind::MasterOffset(o) => {
            core.master_offset(id, o);
            Vec::new()
        }
        ReportKind::ReplicaOffset(o) => {
            core.replica_offset(id, o);
            Vec::new()
        }
        ReportKind::Pong(s) => core.s.on_ping_reply(id, &s, now),
        ReportKind::Info(text) => {
            let report = InfoReport::parse(&text);
            core.info_cache.insert(id, text);
            core.s.on_info_reply(id, &report, now)
        }
        ReportKind::Hello(p) => core.s.on_hello(&p, now),
        ReportKind::IsMasterDown {
            down,
            leader,
            epoch,
        } => core
            .s
            .on_is_master_down_reply(id, down, &leader, epoch, now),
    };
    core.apply(actions);
}
