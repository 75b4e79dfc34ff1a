//! The engine of `redis-server`: the state behind the server lock, the
//! dispatcher every command goes through, clients, WATCH, MONITOR and the
//! slow log, the blocking and pub/sub registries, eviction, and the
//! orchestration of persistence (RDB, AOF) and replication. Synchronous:
//! the network layer calls [`State::call`] under the server lock for each
//! parsed request. Command handlers live in `redis-commands`, which builds
//! the [`table::Registry`] this crate dispatches through.
//!
//! # Layout
//! - [`state`]: the state, configuration cache, the client registry, cron.
//! - [`dispatch`]: the one path every command takes (`call`: checks in
//!   upstream's order per [`dispatch::Caller`]; `execute`: the handler,
//!   statistics, propagation).
//! - [`watch`]: WATCH; [`monitor`]: MONITOR and the slow log.
//! - [`table`]: the command registry and flag bits; [`meta`]: the
//!   declarative metadata (arity, flags, key specs, docs) recorded from
//!   upstream.
//! - [`ctx`]: the handler context and reply writers; [`error`]: error
//!   replies. The engine's own operations fail with typed errors of their
//!   concern, each text being the line logged or the reply sent:
//!   [`persist::SaveError`], [`persist::LoadError`], [`aof::AofError`],
//!   [`table::RegistryError`], [`meta::MetaError`],
//!   [`live_config::LiveConfigError`].
//! - [`clients_mem`]: client memory, its `INFO` figures and client
//!   eviction (`maxmemory-clients`).
//! - [`client`]: per-connection state (its push mailbox and signal are
//!   `redis-net`'s).
//! - [`blocking`], [`pubsub`]: registries of blocked and subscribed clients.
//! - [`cluster`]: cluster mode — the cluster state machine behind the
//!   lock, `nodes.conf`, the actions it asks for, bus work for the driver.
//! - [`cluster_route`]: cluster routing of a command (MOVED, ASK, CROSSSLOT,
//!   CLUSTERDOWN), pure, for the dispatcher once cluster mode is on.
//! - [`evict`]: `maxmemory` eviction; [`oom`]: `oom-score-adj`.
//! - [`persist`], [`persist_types`], [`aof`], [`aof_rewrite`]: RDB and AOF.
//! - [`replication`] (primary side), [`replica`] (replica side),
//!   [`failover`]: replication orchestration; [`shutdown`]: `SHUTDOWN`
//!   and signals, waiting for lagging replicas.
//! - [`migrate_cache`]: the connections `MIGRATE` keeps open.
//! - [`histogram`]: latency histograms; [`latency`]: the latency monitor.
//! - [`live_config`]: `CONFIG SET` of listeners, `dir` and `loglevel`.
//! - [`script`]: Lua scripts — the `EVAL` family, a script's commands
//!   through the dispatcher, effects propagation, busy scripts.
//! - [`acl`]: ACL users, the ACL LOG and the permission check (the model
//!   is `redis-acl`).
//! - [`inactive`]: directives accepted without effect, and their startup
//!   warnings.

pub mod acl;
pub mod aof;
pub mod aof_rewrite;
pub mod blocking;
pub mod client;
pub mod clients_mem;
pub mod cluster;
pub mod cluster_route;
pub mod ctx;
pub mod dispatch;
pub mod error;
pub mod evict;
pub mod failover;
pub mod histogram;
pub mod inactive;
pub mod latency;
pub mod live_config;
pub mod meta;
pub mod migrate_cache;
pub mod monitor;
pub mod oom;
pub mod persist;
pub mod persist_types;
pub mod pubsub;
pub mod replica;
pub mod replication;
pub mod script;
pub mod script_fork;
pub mod shutdown;
pub mod state;
pub mod table;
pub mod tracking;
pub mod watch;

pub use client::{Client, ClientInfo, ConnSignal, ReplyMode};
pub use ctx::Ctx;
pub use error::{CmdError, CmdResult};
pub use state::State;
pub use table::{Handler, Registry, RegistryError};
