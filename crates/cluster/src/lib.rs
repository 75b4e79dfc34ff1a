//! Redis Cluster (issue 14), built bottom-up as a library the server
//! links, like upstream's `cluster.c`:
//!
//! - [`slot`]: the key → hash slot function (CRC16 of the key or of its
//!   `{hash tag}`, modulo 16384);
//! - [`nodes_conf`]: the `nodes.conf` file (parse, format) in upstream's
//!   format;
//! - [`bus`]: the cluster bus message codec, Redis 7.0's wire format
//!   (header, gossip, FAIL, PUBLISH, UPDATE, ping extensions).
//!
//! The node table, failure detection, elections and the bus links come
//! next; nothing here does I/O.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod bus;
pub mod nodes_conf;
#[cfg(test)]
mod reference_tests;
pub mod slot;
pub mod state;
