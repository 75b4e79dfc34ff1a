//! Directives that are accepted (so that a Redis 7.0 configuration file
//! loads unchanged, and `CONFIG GET/SET/REWRITE` treat them as upstream
//! does) but have no effect in this version, each with the reason. The
//! server logs a warning at startup for every one of them that the
//! configuration file or command line sets to a value other than its
//! default; `docs/compatibility.md` lists the same table.

use redis_config::{lookup, Config, TABLE};

/// (directive, why it has no effect).
pub const INACTIVE: &[(&str, &str)] = &[
    ("activedefrag", "active defragmentation is not implemented"),
    (
        "active-defrag-cycle-max",
        "active defragmentation is not implemented",
    ),
    (
        "active-defrag-cycle-min",
        "active defragmentation is not implemented",
    ),
    (
        "active-defrag-ignore-bytes",
        "active defragmentation is not implemented",
    ),
    (
        "active-defrag-max-scan-fields",
        "active defragmentation is not implemented",
    ),
    (
        "active-defrag-threshold-lower",
        "active defragmentation is not implemented",
    ),
    (
        "active-defrag-threshold-upper",
        "active defragmentation is not implemented",
    ),
    (
        "cluster-announce-tls-port",
        "TLS is not implemented",
    ),
    (
        "crash-log-enabled",
        "no crash report is written (a panic is logged by the runtime either way)",
    ),
    (
        "crash-memcheck-enabled",
        "no crash report, hence no memory check after a crash",
    ),
    (
        "ignore-warnings",
        "none of the warnings it can silence (ARM64-COW-BUG) is ever emitted",
    ),
    (
        "io-threads-do-reads",
        "with several io-threads, every thread reads and writes its own connections anyway",
    ),
    (
        "list-compress-depth",
        "list nodes are never compressed (memory only; no reply depends on it)",
    ),
    (
        "loading-process-events-interval-bytes",
        "clients are served throughout a load (loading runs on its own thread)",
    ),
    (
        "repl-disable-tcp-nodelay",
        "replication links always have TCP_NODELAY set",
    ),
    (
        "socket-mark-id",
        "listening sockets are not marked (SO_MARK)",
    ),
    (
        "syslog-enabled",
        "logging goes to the log file or standard output only",
    ),
    (
        "syslog-facility",
        "logging goes to the log file or standard output only",
    ),
    (
        "syslog-ident",
        "logging goes to the log file or standard output only",
    ),
    ("tls-auth-clients", "TLS is not implemented"),
    ("tls-ca-cert-dir", "TLS is not implemented"),
    ("tls-ca-cert-file", "TLS is not implemented"),
    ("tls-cert-file", "TLS is not implemented"),
    ("tls-ciphers", "TLS is not implemented"),
    ("tls-ciphersuites", "TLS is not implemented"),
    ("tls-client-cert-file", "TLS is not implemented"),
    ("tls-client-key-file", "TLS is not implemented"),
    ("tls-client-key-file-pass", "TLS is not implemented"),
    ("tls-cluster", "TLS is not implemented"),
    ("tls-dh-params-file", "TLS is not implemented"),
    ("tls-key-file", "TLS is not implemented"),
    ("tls-key-file-pass", "TLS is not implemented"),
    ("tls-port", "TLS is not implemented"),
    ("tls-prefer-server-ciphers", "TLS is not implemented"),
    ("tls-protocols", "TLS is not implemented"),
    ("tls-replication", "TLS is not implemented"),
    ("tls-session-cache-size", "TLS is not implemented"),
    ("tls-session-cache-timeout", "TLS is not implemented"),
    ("tls-session-caching", "TLS is not implemented"),
    (
        "use-exit-on-panic",
        "there is no debug panic path (`DEBUG PANIC`); a panic is logged and ends the process either way",
    ),
    (
        "watchdog-period",
        "the software watchdog (stack traces of slow commands) is not implemented",
    ),
];

/// One warning line per inactive directive whose value differs from its
/// default, in table order.
pub fn startup_warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (name, _) in INACTIVE {
        let Some(idx) = lookup(name) else { continue };
        let Some(value) = config.get_value(name) else {
            continue;
        };
        if value == TABLE[idx].default {
            continue;
        }
        let shown = if TABLE[idx].is(redis_config::SENSITIVE) {
            "(redacted)".to_string()
        } else if value.is_empty() || value.contains(' ') {
            format!("\"{value}\"")
        } else {
            value
        };
        out.push(format!(
            "WARNING: '{name} {shown}' is accepted but has no effect in this version (see docs/compatibility.md)"
        ));
    }
    out
}

#[cfg(test)]
#[path = "inactive_tests.rs"]
mod tests;
