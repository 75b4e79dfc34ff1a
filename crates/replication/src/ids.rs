//! Replication IDs and offsets (PSYNC2).
//!
//! A history is named by a 40-hex-digit ID; `master_repl_offset` counts
//! the stream bytes of that history. After a promotion the old ID stays
//! valid as `replid2` up to `second_repl_offset`, so replicas of the old
//! primary can continue with a partial resync instead of a full one.

use rand::Rng;

/// Length of a replication ID.
pub const REPLID_LEN: usize = 40;

/// The "no secondary ID" value upstream prints as `master_replid2`.
pub const NULL_REPLID: &str = "0000000000000000000000000000000000000000";

/// A fresh random replication ID (40 lowercase hex digits).
pub fn random_replid<R: Rng + ?Sized>(rng: &mut R) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..REPLID_LEN)
        .map(|_| char::from(HEX[rng.gen_range(0..16)]))
        .collect()
}

/// The replication ID pair and offsets of this server (primary or
/// replica: a replica carries its primary's history so it can serve
/// PSYNC after a promotion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplIds {
    /// The current history.
    pub replid: String,
    /// The previous history ([`NULL_REPLID`] when none).
    pub replid2: String,
    /// Bytes of stream produced (primary) or processed (replica).
    pub master_repl_offset: i64,
    /// Last offset + 1 up to which `replid2` may be asked for; -1 when
    /// there is no secondary ID.
    pub second_repl_offset: i64,
}

impl ReplIds {
    /// A new history at offset 0 without a secondary ID.
    pub fn new(replid: String) -> ReplIds {
        ReplIds {
            replid,
            replid2: NULL_REPLID.to_string(),
            master_repl_offset: 0,
            second_repl_offset: -1,
        }
    }

    /// [`ReplIds::new`] with a random ID.
    pub fn random() -> ReplIds {
        ReplIds::new(random_replid(&mut rand::thread_rng()))
    }

    /// Starts a new history named `new_id` (`REPLICAOF NO ONE`, a
    /// failover, or a primary announcing a new ID in `+CONTINUE`): the old
    /// ID stays valid as `replid2` for offsets up to the current one + 1.
    pub fn shift(&mut self, new_id: String) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id);
        self.second_repl_offset = self.master_repl_offset + 1;
    }

    /// Takes the primary's history after a full sync: its ID and offset,
    /// and no secondary ID (the old history is gone with the dataset).
    pub fn adopt_primary(&mut self, replid: String, offset: i64) {
        self.replid = replid;
        self.master_repl_offset = offset;
        self.clear_replid2();
    }

    /// Drops the history that can no longer be served (the backlog was
    /// freed by `repl-backlog-ttl`, or created from scratch): a new ID and
    /// no secondary one. The offset keeps counting.
    ///
    /// Keeping the old ID would let a former replica that was promoted
    /// accept our PSYNC by its `replid2` although we took writes it never
    /// saw.
    pub fn forget_history(&mut self, new_id: String) {
        self.replid = new_id;
        self.clear_replid2();
    }

    /// Forgets the secondary ID.
    pub fn clear_replid2(&mut self) {
        self.replid2 = NULL_REPLID.to_string();
        self.second_repl_offset = -1;
    }

    /// Counts `n` more bytes of stream.
    pub fn advance(&mut self, n: usize) {
        self.master_repl_offset += i64::try_from(n).unwrap_or(i64::MAX);
    }

    /// Whether a replica continuing `replid` from `offset` (the next byte
    /// it needs) shares our history (case-insensitive, as upstream
    /// compares). The backlog decides whether the bytes are still there.
    pub fn same_history(&self, replid: &str, offset: i64) -> bool {
        replid.eq_ignore_ascii_case(&self.replid)
            || (replid.eq_ignore_ascii_case(&self.replid2) && offset <= self.second_repl_offset)
    }
}

#[cfg(test)]
#[path = "ids_tests.rs"]
mod tests;
