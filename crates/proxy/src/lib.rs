//! `redis-proxy`: one Redis endpoint in front of a Sentinel-managed
//! primary, a Redis Cluster or one fixed server, for clients that know
//! neither Sentinel nor Cluster.
//!
//! The proxy is a network client of the servers and sentinels like every
//! other daemon of the suite; it shares no code with the server's engine.
//! Clients see one Redis (`HELLO`, `AUTH`, `PING`, `QUIT`, `INFO` are
//! answered locally); their requests are multiplexed over a few pipelined
//! backend connections, replies matched FIFO and forwarded as raw bytes.
//!
//! # Layout
//! - [`config`]: the config file (redis.conf syntax) and command line.
//! - [`command`]: the command table (local, forwarded, pinned, split,
//!   fanned out, refused) and key positions.
//! - [`request`]: in-place request framing on the forwarding path.
//! - [`resp`]: raw reply framing on the forwarding path.
//! - [`pubsub`]: what a subscribed client's relayed frames mean.
//! - [`backend`]: pipelined backend connections and their pool.
//! - [`router`]: the shared state and request targets.
//! - [`sentinel`]: following the primary through Sentinel.
//! - [`trigger`]: asking the sentinels to fail over early when the
//!   primary refuses connections (`failover-on-refused-ms`).
//! - [`cluster`]: the slot map and redirections.
//! - [`merge`]: reassembling split and fanned-out replies.
//! - [`session`]: one client connection (one task).
//! - [`info`]: the proxy's own `INFO`.
//! - [`notify`]: systemd readiness.
//! - [`run`]: accepting clients until shutdown.

pub mod backend;
pub mod cluster;
pub mod command;
pub mod config;
pub mod info;
pub mod merge;
pub mod notify;
pub mod pubsub;
pub mod request;
pub mod resp;
pub mod router;
pub mod sentinel;
pub mod session;
pub mod trigger;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use config::{Cli, Config, Mode};
use router::Shared;

/// Serves clients accepted on `listeners` until `shutdown` resolves;
/// then stops accepting and drops every connection and background task.
///
/// In cluster mode the slot map is fetched before the first accept (for
/// up to the connect timeout), so early requests do not all redirect.
pub async fn run<F>(listeners: Vec<TcpListener>, cfg: Config, shutdown: F)
where
    F: Future<Output = ()>,
{
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(cfg.port);
    let shared = Arc::new(Shared::new(cfg, port));
    let mut background = JoinSet::new();
    match shared.cfg.mode {
        Mode::Sentinel => sentinel::start(&shared, &mut background),
        Mode::Cluster => {
            let wait = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1) * 2);
            let _ = tokio::time::timeout(wait, cluster::refresh(&shared)).await;
            cluster::start(&shared, &mut background);
        }
        Mode::Static => {}
    }
    redis_common::logger::notice(&format!(
        "redis-proxy {} ready to accept connections on port {port} ({} mode)",
        env!("CARGO_PKG_VERSION"),
        shared.cfg.mode.name()
    ));
    // systemd (Type=notify units): the listeners are up.
    notify::notify("READY=1");
    for l in listeners {
        let shared = shared.clone();
        background.spawn(async move {
            // Dropped (aborting every client) when this task is aborted.
            let mut clients = JoinSet::new();
            loop {
                match l.accept().await {
                    Ok((stream, _)) => {
                        while clients.try_join_next().is_some() {}
                        clients.spawn(session::serve(shared.clone(), stream));
                    }
                    Err(e) => {
                        redis_common::logger::warning(&format!("Accepting client: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    shutdown.await;
    notify::notify("STOPPING=1");
    background.abort_all();
    while background.join_next().await.is_some() {}
    redis_common::logger::notice("redis-proxy is now ready to exit, bye bye...");
}

/// The daemon's entry point after the command line is parsed: binds,
/// then [`run`]s until SIGTERM or SIGINT. Returns the exit code.
pub async fn serve(cfg: Config) -> i32 {
    let mut listeners = Vec::new();
    for host in &cfg.bind {
        let addr = config::join_addr(host.trim_start_matches('-'), cfg.port);
        match TcpListener::bind(&addr).await {
            Ok(l) => listeners.push(l),
            Err(e) if host.starts_with('-') => {
                redis_common::logger::verbose(&format!("Skipping optional bind {addr}: {e}"));
            }
            Err(e) => {
                redis_common::logger::warning(&format!(
                    "Could not create server TCP listening socket {addr}: {e}"
                ));
                return 1;
            }
        }
    }
    let shutdown = async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            // Both cancel-safe: signal streams keep undelivered signals.
            _ = term.recv() => redis_common::logger::warning("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => redis_common::logger::warning("Received SIGINT scheduling shutdown..."),
        }
    };
    run(listeners, cfg, shutdown).await;
    0
}
