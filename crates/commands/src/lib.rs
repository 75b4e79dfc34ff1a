//! Command handlers, one module per family, each exporting the commands it
//! serves as `COMMANDS` (name or `name|subcommand`, handler). The engine
//! (`redis-engine`) runs every check before a handler and everything after
//! it (statistics, propagation); a handler parses its arguments, does its
//! work through [`redis_engine::Ctx`] and writes its reply.
//!
//! # Layout
//! - Data types: [`string`], [`list`], [`hash`], [`set`], [`zset`],
//!   [`stream`], [`bitops`], [`hyperloglog`], [`geo`], [`sort`]; the
//!   keyspace and expiry: [`keys`]; moving keys to another server:
//!   [`migrate`] (MIGRATE, RESTORE-ASKING).
//! - [`acl`] (ACL).
//! - [`connection`] (AUTH, HELLO, PING, SELECT, RESET…), [`client`]
//!   (CLIENT), [`transaction`] (MULTI/EXEC/WATCH), [`pubsub`].
//! - [`introspection`] (COMMAND, SLOWLOG, LATENCY, MEMORY, MONITOR, TIME),
//!   [`info`] (INFO), [`config`] (CONFIG), [`debug`] (DEBUG), [`module`]
//!   (MODULE, which loads nothing), [`lolwut`] (LOLWUT: the version and
//!   computer art).
//! - [`persistence`] (SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN),
//!   [`replication`] (REPLICAOF, REPLCONF, PSYNC, SYNC, ROLE, WAIT, FAILOVER),
//!   [`cluster`] (CLUSTER, READONLY, READWRITE, ASKING: standalone replies).
//! - [`scripting`] (EVAL, EVALSHA, their `_RO` forms, SCRIPT),
//!   [`functions`] (FUNCTION, FCALL, FCALL_RO).
//! - Helpers: [`args`] (the [`args::Args`] argument cursor and the parsers
//!   several families share: SCAN options, the `*MPOP` tail), [`float`]
//!   (long double arithmetic of INCRBYFLOAT), [`help`] (HELP texts),
//!   [`digest`].

pub mod acl;
pub mod args;
pub mod bitops;
pub mod client;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod debug;
pub mod digest;
pub mod float;
pub mod functions;
pub mod geo;
pub mod hash;
pub mod help;
pub mod hyperloglog;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod list;
pub mod lolwut;
pub mod migrate;
pub mod module;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod transaction;
pub mod zset;

use std::sync::OnceLock;

use redis_engine::{Handler, Registry, RegistryError};

/// Every module's handler list.
pub const MODULES: &[&[(&str, Handler)]] = &[
    string::COMMANDS,
    keys::COMMANDS,
    list::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    zset::COMMANDS,
    stream::COMMANDS,
    bitops::COMMANDS,
    hyperloglog::COMMANDS,
    geo::COMMANDS,
    sort::COMMANDS,
    connection::COMMANDS,
    client::COMMANDS,
    transaction::COMMANDS,
    pubsub::COMMANDS,
    introspection::COMMANDS,
    info::COMMANDS,
    config::COMMANDS,
    debug::COMMANDS,
    module::COMMANDS,
    lolwut::COMMANDS,
    persistence::COMMANDS,
    replication::COMMANDS,
    cluster::COMMANDS,
    migrate::COMMANDS,
    scripting::COMMANDS,
    functions::COMMANDS,
    acl::COMMANDS,
];

/// The process-wide command table. Building it cannot fail for the lists
/// above (the `every_binding_has_metadata` test checks them); should it
/// fail anyway, the table holds whatever was valid so the server still
/// runs and the missing commands answer as unknown.
pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::build(MODULES).unwrap_or_else(|_| Registry::lenient(MODULES)))
}

/// The command table with the configuration's `rename-command` pairs
/// applied, for the server to build once at startup (like [`registry`],
/// bindings without metadata are left out rather than failing). The error
/// is upstream's config error text (the configuration loader reports it
/// with the offending line before this is ever called).
pub fn build_registry(renames: &[(String, String)]) -> Result<Registry, RegistryError> {
    let mut reg = Registry::build(MODULES).unwrap_or_else(|_| Registry::lenient(MODULES));
    reg.rename_all(renames)?;
    Ok(reg)
}

/// The top-level command names, for checking `rename-command` lines while
/// the configuration loads.
pub fn command_names() -> Vec<String> {
    registry()
        .by_name
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect()
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
