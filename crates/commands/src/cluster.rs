//! `CLUSTER`, `READONLY`, `READWRITE` and `ASKING` while cluster mode is
//! off: every subcommand exists in the table (arity, flags, key specs,
//! `COMMAND INFO` as upstream) and answers upstream's standalone error.
//! Cluster mode itself (issue 14) is being built in `redis-cluster`.

use bytes::Bytes;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::table::Handler;

/// Upstream's reply to cluster commands on a server without
/// `cluster-enabled yes`.
const DISABLED: CmdError = CmdError::fixed("ERR This instance has cluster support disabled");

/// Every cluster command of a standalone server.
pub fn disabled(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Err(DISABLED)
}

pub const COMMANDS: &[(&str, Handler)] = &[
    ("cluster|addslots", disabled),
    ("cluster|addslotsrange", disabled),
    ("cluster|bumpepoch", disabled),
    ("cluster|count-failure-reports", disabled),
    ("cluster|countkeysinslot", disabled),
    ("cluster|delslots", disabled),
    ("cluster|delslotsrange", disabled),
    ("cluster|failover", disabled),
    ("cluster|flushslots", disabled),
    ("cluster|forget", disabled),
    ("cluster|getkeysinslot", disabled),
    ("cluster|help", disabled),
    ("cluster|info", disabled),
    ("cluster|keyslot", disabled),
    ("cluster|links", disabled),
    ("cluster|meet", disabled),
    ("cluster|myid", disabled),
    ("cluster|nodes", disabled),
    ("cluster|replicas", disabled),
    ("cluster|replicate", disabled),
    ("cluster|reset", disabled),
    ("cluster|saveconfig", disabled),
    ("cluster|set-config-epoch", disabled),
    ("cluster|setslot", disabled),
    ("cluster|shards", disabled),
    ("cluster|slaves", disabled),
    ("cluster|slots", disabled),
    ("readonly", disabled),
    ("readwrite", disabled),
    ("asking", disabled),
];
