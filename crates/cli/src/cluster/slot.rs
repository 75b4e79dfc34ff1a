//! Hash slots of keys, as the cluster computes them: `redis-cluster`'s
//! slot function (CRC16/XMODEM of the key or of its `{hash tag}`, modulo
//! 16384), so the tool and the server can never disagree.

/// Number of hash slots in a cluster.
pub const SLOTS: usize = redis_cluster::slot::CLUSTER_SLOTS_USIZE;

/// The slot of `key`.
pub fn key_slot(key: &[u8]) -> usize {
    usize::from(redis_cluster::slot::key_hash_slot(key))
}

#[cfg(test)]
#[path = "slot_tests.rs"]
mod tests;
