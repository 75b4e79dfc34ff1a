//! The synchronous core of `redis-sentinel`: the `sentinel.conf` model
//! (parse and rewrite) and the failover state machine.
//!
//! Nothing here does I/O on the network or reads the clock: the state
//! machine in [`state`] is fed events with the current time in
//! milliseconds and answers with [`state::Action`]s that an async driver
//! executes (PING, INFO, PUBLISH hello, REPLICAOF, events, scripts, saving
//! the configuration). The replies of the introspection commands and of
//! `INFO` are built by the pure functions of [`reply`]; the state-changing
//! `SENTINEL` subcommands are run by [`admin::run_subcommand`].

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod config;
pub mod daemon;
pub mod hello;
pub mod info;
pub mod reply;
pub mod rewrite;
pub mod state;

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod reply_tests;

pub use config::{
    parse, parse_with, Addr, ConfigError, MasterConfig, ParseOptions, SentinelConfig,
};
pub use hello::Hello;
pub use info::{InfoReport, Role};
pub use reply::Reply;
pub use rewrite::{rewrite, write_atomically, REWRITE_SIGNATURE};
pub use state::{Action, Event, EventLevel, InstanceId, Sentinel};
