//! The directive table of Redis 7.0: every name `CONFIG GET *` lists (plus
//! the three hidden debug knobs), its aliases, value kind, default (spelled
//! exactly as `CONFIG GET` prints it on a server started without a config
//! file) and flags.
//!
//! The kinds, ranges and flags were recorded from redis-server 7.0.15 by
//! feeding it invalid values and reading back the error messages, which
//! name the accepted range or value list.

/// Value syntax and validation rules of a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// Strict decimal integer within the inclusive range.
    Int { min: i64, max: i64 },
    /// Memory size with optional unit, within the inclusive range.
    Memory { min: i64, max: i64 },
    /// Memory size over the whole unsigned 64-bit range.
    MemoryU64,
    /// Memory size or `N%` (percentage of `maxmemory`).
    MemoryPercent,
    /// Octal permission bits (`unixsocketperm`).
    Octal,
    /// One of the listed lower-case names (input is case-insensitive).
    Enum(&'static [&'static str]),
    /// Free-form string; empty means unset.
    String,
    /// `proc-title-template`: a string with `{variable}` placeholders.
    ProcTitleTemplate,
    /// A directive with its own syntax, see [`Special`].
    Special(Special),
}

/// Directives whose value is not a single scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `save <seconds> <changes> [...]`, several lines accumulate.
    Save,
    /// `bind addr [addr ...]`, a leading `-` marks an optional address.
    Bind,
    /// `client-output-buffer-limit <class> <hard> <soft> <seconds> [...]`.
    ClientOutputBufferLimit,
    /// `notify-keyspace-events` class letters.
    NotifyKeyspaceEvents,
    /// Three integers in -2000..=2000.
    OomScoreAdjValues,
    /// Floating point percentiles in 0..=100.
    LatencyPercentiles,
    /// `replicaof <host> <port>` or `replicaof no one`.
    ReplicaOf,
    /// Working directory; must exist, stored as an absolute path.
    Dir,
}

/// `CONFIG SET` refuses to change it.
pub const IMMUTABLE: u32 = 1;
/// Only settable when `enable-protected-configs` allows it.
pub const PROTECTED: u32 = 2;
/// Holds a secret; callers should redact it from logs.
pub const SENSITIVE: u32 = 4;
/// Not listed by glob patterns in `CONFIG GET`, only by exact name.
pub const HIDDEN: u32 = 8;
/// `CONFIG SET` answers `-LOADING` while a dataset is being loaded.
pub const DENY_LOADING: u32 = 16;

/// One `redis.conf` directive.
#[derive(Debug, Clone, Copy)]
pub struct Directive {
    /// Canonical (modern) name.
    pub name: &'static str,
    /// Older names that are accepted everywhere and listed by `CONFIG GET`.
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// Default value as `CONFIG GET` prints it (`dir` is computed).
    pub default: &'static str,
    /// Bit set of [`IMMUTABLE`], [`PROTECTED`], [`SENSITIVE`], [`HIDDEN`],
    /// [`DENY_LOADING`].
    pub flags: u32,
}

impl Directive {
    pub fn is(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

const I32_MIN: i64 = i32::MIN as i64;
const I32_MAX: i64 = i32::MAX as i64;
const U32_MAX: i64 = u32::MAX as i64;

const fn d(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    default: &'static str,
    flags: u32,
) -> Directive {
    Directive {
        name,
        aliases,
        kind,
        default,
        flags,
    }
}

/// Every directive, sorted by canonical name.
pub static TABLE: &[Directive] = &[
    d(
        "acl-pubsub-default",
        &[],
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        0,
    ),
    d("aclfile", &[], Kind::String, "", IMMUTABLE),
    d(
        "acllog-max-len",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        0,
    ),
    d(
        "active-defrag-cycle-max",
        &[],
        Kind::Int { min: 1, max: 99 },
        "25",
        0,
    ),
    d(
        "active-defrag-cycle-min",
        &[],
        Kind::Int { min: 1, max: 99 },
        "1",
        0,
    ),
    d(
        "active-defrag-ignore-bytes",
        &[],
        Kind::Memory {
            min: 1,
            max: i64::MAX,
        },
        "104857600",
        0,
    ),
    d(
        "active-defrag-max-scan-fields",
        &[],
        Kind::Int {
            min: 1,
            max: i64::MAX,
        },
        "1000",
        0,
    ),
    d(
        "active-defrag-threshold-lower",
        &[],
        Kind::Int { min: 0, max: 1000 },
        "10",
        0,
    ),
    d(
        "active-defrag-threshold-upper",
        &[],
        Kind::Int { min: 0, max: 1000 },
        "100",
        0,
    ),
    d(
        "active-expire-effort",
        &[],
        Kind::Int { min: 1, max: 10 },
        "1",
        0,
    ),
    d("activedefrag", &[], Kind::Bool, "no", 0),
    d("activerehashing", &[], Kind::Bool, "yes", 0),
    d("always-show-logo", &[], Kind::Bool, "no", IMMUTABLE),
    d("aof-disable-auto-gc", &[], Kind::Bool, "no", 0),
    d("aof-load-truncated", &[], Kind::Bool, "yes", 0),
    d("aof-rewrite-incremental-fsync", &[], Kind::Bool, "yes", 0),
    d("aof-timestamp-enabled", &[], Kind::Bool, "no", 0),
    d("aof-use-rdb-preamble", &[], Kind::Bool, "yes", 0),
    d("aof_rewrite_cpulist", &[], Kind::String, "", IMMUTABLE),
    d(
        "appenddirname",
        &[],
        Kind::String,
        "appendonlydir",
        IMMUTABLE,
    ),
    d(
        "appendfilename",
        &[],
        Kind::String,
        "appendonly.aof",
        IMMUTABLE,
    ),
    d(
        "appendfsync",
        &[],
        Kind::Enum(&["everysec", "always", "no"]),
        "everysec",
        0,
    ),
    d("appendonly", &[], Kind::Bool, "no", DENY_LOADING),
    d(
        "auto-aof-rewrite-min-size",
        &[],
        Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        "67108864",
        0,
    ),
    d(
        "auto-aof-rewrite-percentage",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "100",
        0,
    ),
    d("bgsave_cpulist", &[], Kind::String, "", IMMUTABLE),
    d("bind", &[], Kind::Special(Special::Bind), "* -::*", 0),
    d("bind-source-addr", &[], Kind::String, "", 0),
    d("bio_cpulist", &[], Kind::String, "", IMMUTABLE),
    d(
        "busy-reply-threshold",
        &["lua-time-limit"],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "5000",
        0,
    ),
    d(
        "client-output-buffer-limit",
        &[],
        Kind::Special(Special::ClientOutputBufferLimit),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        0,
    ),
    d(
        "client-query-buffer-limit",
        &[],
        Kind::Memory {
            min: 1048576,
            max: i64::MAX,
        },
        "1073741824",
        0,
    ),
    d(
        "cluster-allow-pubsubshard-when-down",
        &[],
        Kind::Bool,
        "yes",
        0,
    ),
    d("cluster-allow-reads-when-down", &[], Kind::Bool, "no", 0),
    d("cluster-allow-replica-migration", &[], Kind::Bool, "yes", 0),
    d(
        "cluster-announce-bus-port",
        &[],
        Kind::Int { min: 0, max: 65535 },
        "0",
        0,
    ),
    d("cluster-announce-hostname", &[], Kind::String, "", 0),
    d("cluster-announce-ip", &[], Kind::String, "", 0),
    d(
        "cluster-announce-port",
        &[],
        Kind::Int { min: 0, max: 65535 },
        "0",
        0,
    ),
    d(
        "cluster-announce-tls-port",
        &[],
        Kind::Int { min: 0, max: 65535 },
        "0",
        0,
    ),
    d(
        "cluster-config-file",
        &[],
        Kind::String,
        "nodes.conf",
        IMMUTABLE,
    ),
    d("cluster-enabled", &[], Kind::Bool, "no", IMMUTABLE),
    d("cluster-link-sendbuf-limit", &[], Kind::MemoryU64, "0", 0),
    d(
        "cluster-migration-barrier",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "1",
        0,
    ),
    d(
        "cluster-node-timeout",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "15000",
        0,
    ),
    d(
        "cluster-port",
        &[],
        Kind::Int { min: 0, max: 65535 },
        "0",
        IMMUTABLE,
    ),
    d(
        "cluster-preferred-endpoint-type",
        &[],
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
        0,
    ),
    d(
        "cluster-replica-no-failover",
        &["cluster-slave-no-failover"],
        Kind::Bool,
        "no",
        0,
    ),
    d(
        "cluster-replica-validity-factor",
        &["cluster-slave-validity-factor"],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "10",
        0,
    ),
    d("cluster-require-full-coverage", &[], Kind::Bool, "yes", 0),
    d("crash-log-enabled", &[], Kind::Bool, "yes", 0),
    d("crash-memcheck-enabled", &[], Kind::Bool, "yes", 0),
    d("daemonize", &[], Kind::Bool, "no", IMMUTABLE),
    d(
        "databases",
        &[],
        Kind::Int {
            min: 1,
            max: I32_MAX,
        },
        "16",
        IMMUTABLE,
    ),
    d("dbfilename", &[], Kind::String, "dump.rdb", PROTECTED),
    d(
        "dir",
        &[],
        Kind::Special(Special::Dir),
        "",
        PROTECTED | DENY_LOADING,
    ),
    d("disable-thp", &[], Kind::Bool, "yes", IMMUTABLE),
    d("dynamic-hz", &[], Kind::Bool, "yes", 0),
    d(
        "enable-debug-command",
        &[],
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        IMMUTABLE,
    ),
    d(
        "enable-module-command",
        &[],
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        IMMUTABLE,
    ),
    d(
        "enable-protected-configs",
        &[],
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        IMMUTABLE,
    ),
    d(
        "hash-max-listpack-entries",
        &["hash-max-ziplist-entries"],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "512",
        0,
    ),
    d(
        "hash-max-listpack-value",
        &["hash-max-ziplist-value"],
        Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        "64",
        0,
    ),
    d(
        "hll-sparse-max-bytes",
        &[],
        Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        "3000",
        0,
    ),
    d(
        "hz",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "10",
        0,
    ),
    d("ignore-warnings", &[], Kind::String, "", 0),
    d(
        "io-threads",
        &[],
        Kind::Int { min: 1, max: 128 },
        "1",
        IMMUTABLE,
    ),
    d("io-threads-do-reads", &[], Kind::Bool, "no", IMMUTABLE),
    d("jemalloc-bg-thread", &[], Kind::Bool, "yes", 0),
    d(
        "key-load-delay",
        &[],
        Kind::Int {
            min: I32_MIN,
            max: I32_MAX,
        },
        "0",
        HIDDEN,
    ),
    d(
        "latency-monitor-threshold",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "0",
        0,
    ),
    d("latency-tracking", &[], Kind::Bool, "yes", 0),
    d(
        "latency-tracking-info-percentiles",
        &[],
        Kind::Special(Special::LatencyPercentiles),
        "50 99 99.9",
        0,
    ),
    d("lazyfree-lazy-eviction", &[], Kind::Bool, "no", 0),
    d("lazyfree-lazy-expire", &[], Kind::Bool, "no", 0),
    d("lazyfree-lazy-server-del", &[], Kind::Bool, "no", 0),
    d("lazyfree-lazy-user-del", &[], Kind::Bool, "no", 0),
    d("lazyfree-lazy-user-flush", &[], Kind::Bool, "no", 0),
    d(
        "lfu-decay-time",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "1",
        0,
    ),
    d(
        "lfu-log-factor",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "10",
        0,
    ),
    d(
        "list-compress-depth",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "0",
        0,
    ),
    d(
        "list-max-listpack-size",
        &["list-max-ziplist-size"],
        Kind::Int {
            min: -2147483648,
            max: I32_MAX,
        },
        "-2",
        0,
    ),
    d(
        "loading-process-events-interval-bytes",
        &[],
        Kind::Int {
            min: 1024,
            max: I32_MAX,
        },
        "2097152",
        HIDDEN,
    ),
    d("logfile", &[], Kind::String, "", IMMUTABLE),
    d(
        "loglevel",
        &[],
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
        0,
    ),
    d("masterauth", &[], Kind::String, "", SENSITIVE),
    d("masteruser", &[], Kind::String, "", SENSITIVE),
    d(
        "maxclients",
        &[],
        Kind::Int {
            min: 1,
            max: U32_MAX,
        },
        "10000",
        0,
    ),
    d("maxmemory", &[], Kind::MemoryU64, "0", 0),
    d("maxmemory-clients", &[], Kind::MemoryPercent, "0", 0),
    d(
        "maxmemory-eviction-tenacity",
        &[],
        Kind::Int { min: 0, max: 100 },
        "10",
        0,
    ),
    d(
        "maxmemory-policy",
        &[],
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "noeviction",
        0,
    ),
    d(
        "maxmemory-samples",
        &[],
        Kind::Int {
            min: 1,
            max: I32_MAX,
        },
        "5",
        0,
    ),
    d(
        "min-replicas-max-lag",
        &["min-slaves-max-lag"],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "10",
        0,
    ),
    d(
        "min-replicas-to-write",
        &["min-slaves-to-write"],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "0",
        0,
    ),
    d("no-appendfsync-on-rewrite", &[], Kind::Bool, "no", 0),
    d(
        "notify-keyspace-events",
        &[],
        Kind::Special(Special::NotifyKeyspaceEvents),
        "",
        0,
    ),
    d(
        "oom-score-adj",
        &[],
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        "no",
        0,
    ),
    d(
        "oom-score-adj-values",
        &[],
        Kind::Special(Special::OomScoreAdjValues),
        "0 200 800",
        0,
    ),
    d("pidfile", &[], Kind::String, "", IMMUTABLE),
    d("port", &[], Kind::Int { min: 0, max: 65535 }, "6379", 0),
    d(
        "proc-title-template",
        &[],
        Kind::ProcTitleTemplate,
        "{title} {listen-addr} {server-mode}",
        0,
    ),
    d(
        "propagation-error-behavior",
        &[],
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
        0,
    ),
    d("protected-mode", &[], Kind::Bool, "yes", 0),
    // Upstream's debugging knobs, accepted so its test configurations load
    // (see the inactive list).
    d("use-exit-on-panic", &[], Kind::Bool, "no", HIDDEN),
    d(
        "watchdog-period",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "0",
        HIDDEN,
    ),
    d(
        "proto-max-bulk-len",
        &[],
        Kind::Memory {
            min: 1048576,
            max: i64::MAX,
        },
        "536870912",
        0,
    ),
    d("rdb-del-sync-files", &[], Kind::Bool, "no", 0),
    d(
        "rdb-key-save-delay",
        &[],
        Kind::Int {
            min: I32_MIN,
            max: I32_MAX,
        },
        "0",
        HIDDEN,
    ),
    d("rdb-save-incremental-fsync", &[], Kind::Bool, "yes", 0),
    d("rdbchecksum", &[], Kind::Bool, "yes", IMMUTABLE),
    d("rdbcompression", &[], Kind::Bool, "yes", 0),
    d(
        "repl-backlog-size",
        &[],
        Kind::Memory {
            min: 1,
            max: i64::MAX,
        },
        "1048576",
        0,
    ),
    d(
        "repl-backlog-ttl",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "3600",
        0,
    ),
    d("repl-disable-tcp-nodelay", &[], Kind::Bool, "no", 0),
    d(
        "repl-diskless-load",
        &[],
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
        DENY_LOADING,
    ),
    d("repl-diskless-sync", &[], Kind::Bool, "yes", 0),
    d(
        "repl-diskless-sync-delay",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "5",
        0,
    ),
    d(
        "repl-diskless-sync-max-replicas",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "0",
        0,
    ),
    d(
        "repl-ping-replica-period",
        &["repl-ping-slave-period"],
        Kind::Int {
            min: 1,
            max: I32_MAX,
        },
        "10",
        0,
    ),
    d(
        "repl-timeout",
        &[],
        Kind::Int {
            min: 1,
            max: I32_MAX,
        },
        "60",
        0,
    ),
    d(
        "replica-announce-ip",
        &["slave-announce-ip"],
        Kind::String,
        "",
        0,
    ),
    d(
        "replica-announce-port",
        &["slave-announce-port"],
        Kind::Int { min: 0, max: 65535 },
        "0",
        0,
    ),
    d("replica-announced", &[], Kind::Bool, "yes", 0),
    d("replica-ignore-disk-write-errors", &[], Kind::Bool, "no", 0),
    d(
        "replica-ignore-maxmemory",
        &["slave-ignore-maxmemory"],
        Kind::Bool,
        "yes",
        0,
    ),
    d(
        "replica-lazy-flush",
        &["slave-lazy-flush"],
        Kind::Bool,
        "no",
        0,
    ),
    d(
        "replica-priority",
        &["slave-priority"],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "100",
        0,
    ),
    d(
        "replica-read-only",
        &["slave-read-only"],
        Kind::Bool,
        "yes",
        0,
    ),
    d(
        "replica-serve-stale-data",
        &["slave-serve-stale-data"],
        Kind::Bool,
        "yes",
        0,
    ),
    d(
        "replicaof",
        &["slaveof"],
        Kind::Special(Special::ReplicaOf),
        "",
        IMMUTABLE,
    ),
    d("requirepass", &[], Kind::String, "", SENSITIVE),
    d(
        "sanitize-dump-payload",
        &[],
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
        0,
    ),
    d(
        "save",
        &[],
        Kind::Special(Special::Save),
        "3600 1 300 100 60 10000",
        0,
    ),
    d("server_cpulist", &[], Kind::String, "", IMMUTABLE),
    d(
        "set-max-intset-entries",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "512",
        0,
    ),
    d("set-proc-title", &[], Kind::Bool, "yes", IMMUTABLE),
    d(
        "shutdown-on-sigint",
        &[],
        Kind::Enum(&["default", "save", "nosave", "now", "force"]),
        "default",
        0,
    ),
    d(
        "shutdown-on-sigterm",
        &[],
        Kind::Enum(&["default", "save", "nosave", "now", "force"]),
        "default",
        0,
    ),
    d(
        "shutdown-timeout",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "10",
        0,
    ),
    d(
        "slowlog-log-slower-than",
        &[],
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
        0,
    ),
    d(
        "slowlog-max-len",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        0,
    ),
    d(
        "socket-mark-id",
        &[],
        Kind::Int {
            min: 0,
            max: U32_MAX,
        },
        "0",
        IMMUTABLE,
    ),
    d("stop-writes-on-bgsave-error", &[], Kind::Bool, "yes", 0),
    d(
        "stream-node-max-bytes",
        &[],
        Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        "4096",
        0,
    ),
    d(
        "stream-node-max-entries",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "100",
        0,
    ),
    d(
        "supervised",
        &[],
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
        "no",
        IMMUTABLE,
    ),
    d("syslog-enabled", &[], Kind::Bool, "no", IMMUTABLE),
    d(
        "syslog-facility",
        &[],
        Kind::Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        "local0",
        IMMUTABLE,
    ),
    d("syslog-ident", &[], Kind::String, "redis", IMMUTABLE),
    d(
        "tcp-backlog",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "511",
        IMMUTABLE,
    ),
    d(
        "tcp-keepalive",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "300",
        0,
    ),
    d(
        "timeout",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "0",
        0,
    ),
    d(
        "tls-auth-clients",
        &[],
        Kind::Enum(&["no", "yes", "optional"]),
        "yes",
        0,
    ),
    d("tls-ca-cert-dir", &[], Kind::String, "", 0),
    d("tls-ca-cert-file", &[], Kind::String, "", 0),
    d("tls-cert-file", &[], Kind::String, "", 0),
    d("tls-ciphers", &[], Kind::String, "", 0),
    d("tls-ciphersuites", &[], Kind::String, "", 0),
    d("tls-client-cert-file", &[], Kind::String, "", 0),
    d("tls-client-key-file", &[], Kind::String, "", 0),
    d("tls-client-key-file-pass", &[], Kind::String, "", SENSITIVE),
    d("tls-cluster", &[], Kind::Bool, "no", 0),
    d("tls-dh-params-file", &[], Kind::String, "", 0),
    d("tls-key-file", &[], Kind::String, "", 0),
    d("tls-key-file-pass", &[], Kind::String, "", SENSITIVE),
    d("tls-port", &[], Kind::Int { min: 0, max: 65535 }, "0", 0),
    d("tls-prefer-server-ciphers", &[], Kind::Bool, "no", 0),
    d("tls-protocols", &[], Kind::String, "", 0),
    d("tls-replication", &[], Kind::Bool, "no", 0),
    d(
        "tls-session-cache-size",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "20480",
        0,
    ),
    d(
        "tls-session-cache-timeout",
        &[],
        Kind::Int {
            min: 0,
            max: I32_MAX,
        },
        "300",
        0,
    ),
    d("tls-session-caching", &[], Kind::Bool, "yes", 0),
    d(
        "tracking-table-max-keys",
        &[],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "1000000",
        0,
    ),
    d("unixsocket", &[], Kind::String, "", IMMUTABLE),
    d("unixsocketperm", &[], Kind::Octal, "0", IMMUTABLE),
    d(
        "zset-max-listpack-entries",
        &["zset-max-ziplist-entries"],
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        0,
    ),
    d(
        "zset-max-listpack-value",
        &["zset-max-ziplist-value"],
        Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        "64",
        0,
    ),
];

/// Directives upstream accepts in a config file but that are not
/// `CONFIG GET`/`SET` parameters; they are kept verbatim for the server.
pub static FILE_ONLY: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

/// Directives upstream still accepts and silently ignores.
pub static DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Finds a directive by canonical name or alias (case-insensitive).
/// Returns the table index.
pub fn lookup(name: &str) -> Option<usize> {
    TABLE.iter().position(|d| {
        d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}
