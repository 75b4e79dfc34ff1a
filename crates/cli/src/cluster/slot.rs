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
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"key1"), 9189);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }
}
