//! The execution engine: server state, the command table, the dispatcher and
//! every command handler. Synchronous: the network layer (`redis-server`)
//! calls [`State::call`] under the server lock for each parsed request.
//!
//! # Layout
//! - [`state`]: shared state, the dispatcher (`call`/`execute`), cron, propagation.
//! - [`table`]: the command table binding names to handlers; [`meta`]: the
//!   declarative metadata (arity, flags, key specs, docs).
//! - [`ctx`]: the handler context and reply writers; [`error`]: error replies;
//!   [`args`]: argument parsing.
//! - One module per family: [`string`], [`list`], [`hash`], [`set`], [`zset`],
//!   [`keys`] (keyspace and expiry),
//!   [`server`] (connection/server), [`client_cmd`], [`config_cmd`], [`info`],
//!   [`debug`], [`pubsub`]; [`blocking`]: blocked clients.

pub mod aof;
pub mod aof_rewrite;
pub mod args;
pub mod bitops;
pub mod blocking;
pub mod client;
pub mod client_cmd;
pub mod config_cmd;
pub mod ctx;
pub mod debug;
pub mod digest;
pub mod error;
pub mod evict;
pub mod failover;
pub mod float;
pub mod geo;
pub mod hash;
pub mod help;
pub mod histogram;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod list;
pub mod meta;
pub mod persist;
pub mod persist_types;
pub mod pubsub;
pub mod push;
pub mod replica;
pub mod replication;
pub mod server;
pub mod set;
pub mod sort;
pub mod state;
pub mod stream;
pub mod string;
pub mod table;
pub mod zset;

pub use client::{Client, ClientInfo, ClientSignal, ReplyMode};
pub use state::State;
