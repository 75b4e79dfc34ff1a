//! The proxy's own `INFO`: `# Server`, `# Clients`, `# Stats` and the
//! `# Proxy` section (mode, current backends, per-backend traffic,
//! latency and errors, failovers seen and requested, slot-map
//! refreshes).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::config::Mode;
use crate::router::Shared;

/// The text of `INFO [section]` (`all`, `default` or none: every section).
pub fn render(shared: &Shared, section: Option<&[u8]>) -> String {
    let want = section
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .unwrap_or_else(|| "default".into());
    let all = matches!(want.as_str(), "all" | "default" | "everything");
    let mut out = String::new();
    let c = &shared.counters;
    if all || want == "server" {
        let _ = write!(
            out,
            "# Server\r\nredis_version:7.0.0\r\nproxy_version:{}\r\nredis_mode:proxy\r\n\
             process_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::process::id(),
            shared.port,
            shared.started.elapsed().as_secs()
        );
    }
    if all || want == "clients" {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\n\r\n",
            c.clients.load(Ordering::Relaxed),
            shared.cfg.maxclients
        );
    }
    if all || want == "stats" {
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\r\n",
            c.total_clients.load(Ordering::Relaxed),
            c.commands.load(Ordering::Relaxed)
        );
    }
    if all || want == "proxy" {
        let _ = write!(out, "# Proxy\r\nproxy_mode:{}\r\n", shared.cfg.mode.name());
        match shared.cfg.mode {
            Mode::Static => {
                let _ = write!(out, "backend:{}\r\n", shared.cfg.static_backend);
            }
            Mode::Sentinel => {
                let primary = shared
                    .sentinel
                    .as_ref()
                    .and_then(|s| s.primary())
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "master_name:{}\r\nprimary:{primary}\r\nsentinels:{}\r\nfailover_on_refused_ms:{}\r\n",
                    shared.cfg.master_name,
                    shared.cfg.sentinels.join(","),
                    shared.cfg.failover_on_refused_ms
                );
            }
            Mode::Cluster => {
                let nodes = shared
                    .cluster
                    .as_ref()
                    .map(|c| c.primaries())
                    .unwrap_or_default();
                let _ = write!(out, "cluster_primaries:{}\r\n", nodes.join(","));
            }
        }
        let stats = shared.pool.all_stats();
        let _ = write!(
            out,
            "failovers_seen:{}\r\nfailovers_requested:{}\r\nmap_refreshes:{}\r\nredirections:{}\r\nheld_requests:{}\r\nbackends:{}\r\n",
            c.failovers.load(Ordering::Relaxed),
            c.failovers_requested.load(Ordering::Relaxed),
            c.map_refreshes.load(Ordering::Relaxed),
            c.redirects.load(Ordering::Relaxed),
            c.held.load(Ordering::Relaxed),
            stats.len()
        );
        for (i, (addr, s)) in stats.iter().enumerate() {
            let req = s.requests.load(Ordering::Relaxed);
            let lat = s.latency_us.load(Ordering::Relaxed);
            let avg = lat.checked_div(req).unwrap_or(0);
            let _ = write!(
                out,
                "backend{i}:addr={addr},requests={req},errors={},avg_latency_us={avg},connects={},connect_failures={},timeouts={}\r\n",
                s.errors.load(Ordering::Relaxed),
                s.connects.load(Ordering::Relaxed),
                s.connect_failures.load(Ordering::Relaxed),
                s.timeouts.load(Ordering::Relaxed)
            );
        }
        out.push_str("\r\n");
    }
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}
