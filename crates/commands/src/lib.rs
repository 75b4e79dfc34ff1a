//! Command handlers, one module per family, each exporting the commands it
//! serves as `COMMANDS` (name or `name|subcommand`, handler). The engine
//! (`redis-engine`) runs every check before a handler and everything after
//! it (statistics, propagation); a handler parses its arguments, does its
//! work through [`redis_engine::Ctx`] and writes its reply.
//!
//! # Layout
//! - Data types: [`string`], [`list`], [`hash`], [`set`], [`zset`],
//!   [`stream`], [`bitops`], [`hyperloglog`], [`geo`], [`sort`]; the
//!   keyspace and expiry: [`keys`].
//! - [`connection`] (AUTH, HELLO, PING, SELECT, RESET…), [`client`]
//!   (CLIENT), [`transaction`] (MULTI/EXEC/WATCH), [`pubsub`].
//! - [`introspection`] (COMMAND, SLOWLOG, LATENCY, MEMORY, MONITOR, TIME),
//!   [`info`] (INFO), [`config`] (CONFIG), [`debug`] (DEBUG).
//! - [`persistence`] (SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN),
//!   [`replication`] (REPLICAOF, REPLCONF, PSYNC, SYNC, ROLE, WAIT, FAILOVER).
//! - Helpers: [`args`] (the [`args::Args`] argument cursor and the parsers
//!   several families share: SCAN options, the `*MPOP` tail), [`float`]
//!   (long double arithmetic of INCRBYFLOAT), [`help`] (HELP texts),
//!   [`digest`].

pub mod args;
pub mod bitops;
pub mod client;
pub mod config;
pub mod connection;
pub mod debug;
pub mod digest;
pub mod float;
pub mod geo;
pub mod hash;
pub mod help;
pub mod hyperloglog;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod list;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod transaction;
pub mod zset;

use std::sync::OnceLock;

use redis_engine::{Handler, Registry};

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
    persistence::COMMANDS,
    replication::COMMANDS,
];

/// The process-wide command table. Building it cannot fail for the lists
/// above (the `every_binding_has_metadata` test checks them); should it
/// fail anyway, the table holds whatever was valid so the server still
/// runs and the missing commands answer as unknown.
pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::build(MODULES).unwrap_or_else(|_| Registry::lenient(MODULES)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_binding_has_metadata() {
        if let Err(e) = redis_engine::Registry::build(super::MODULES) {
            panic!("{e}");
        }
    }
}
