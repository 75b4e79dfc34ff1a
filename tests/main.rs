//! Black-box integration tests: one test binary, one module per area. Every
//! test talks to real server processes over loopback TCP; "ours" is the
//! workspace's `redis-server` (or whatever `REDIS_RS_BIN_DIR` points at) and
//! the reference is Debian's `/usr/bin/redis-server`.
//!
//! Self-check of the scripts and tools against the reference alone:
//! `REDIS_RS_BIN_DIR=/usr/bin cargo test -p redis-tests`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aof;
mod check_order;
mod cli_cluster;
mod cli_eval;
mod clients;
mod cluster;
mod cluster_seed002;
mod config_runtime;
mod differential;
mod directives;
mod error_precedence;
mod lolwut;
mod memory;
mod migrate;
mod persistence;
mod primary_side;
mod propagation;
mod proxy;
mod proxy_cluster;
mod proxy_failover;
mod proxy_pubsub;
mod replication;
mod replication_load;
mod replication_resync;
mod replication_stress;
mod scripting;
mod scripting_ldb;
mod sentinel;
mod sentinel_netns;
mod sentinel_scripts;
mod sentinel_seed002;
mod sentinel_switchover;
mod server_core;
mod streams;
mod util;
