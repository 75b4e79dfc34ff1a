//! Point-in-time snapshots of the whole keyspace, taken incrementally while
//! writes go on (the mechanism is described in [`crate::db`]).
//!
//! A [`Snapshot`] is driven in steps by its owner (the persistence or
//! replication code), each step under the server lock: it yields a bounded
//! number of entries, first the old versions of entries changed since the
//! last step, then entries the iteration reaches. Entries are reported with
//! the database index they had when the snapshot started, so `SWAPDB` during
//! a snapshot does not move data between databases in the output.

use crate::db::Entry;
use crate::key::Key;
use crate::keyspace::Keyspace;

/// A snapshot in progress.
#[derive(Debug)]
pub struct Snapshot {
    epoch: u32,
    /// Per database (current position): (index at start, scan cursor, done).
    cursors: Vec<(usize, u64, bool)>,
    /// Database identity at start, to map current positions back after SWAPDB.
    db_tags: Vec<u64>,
}

/// What one step produced.
#[derive(Debug, Default)]
pub struct StepStats {
    pub entries: usize,
    pub finished: bool,
}

impl Keyspace {
    /// Starts a snapshot. Only one runs at a time; returns `None` if one is
    /// already running.
    pub fn begin_snapshot(&mut self) -> Option<Snapshot> {
        if self.snapshot_running {
            return None;
        }
        self.snapshot_running = true;
        self.snapshot_epoch = self.snapshot_epoch.wrapping_add(1).max(1);
        let epoch = self.snapshot_epoch;
        for db in &mut self.dbs {
            db.snap_epoch = epoch;
            db.cow.clear();
        }
        Some(Snapshot {
            epoch,
            cursors: (0..self.dbs.len()).map(|i| (i, 0, false)).collect(),
            db_tags: self.dbs.iter().map(|d| d.tag).collect(),
        })
    }

    /// Advances `snap` by up to about `budget` entries, calling `save(db,
    /// key, entry, expire_at)` for each. Entries of one call come grouped by
    /// database only loosely; callers emit a database switch when `db`
    /// changes.
    pub fn snapshot_step(
        &mut self,
        snap: &mut Snapshot,
        budget: usize,
        mut save: impl FnMut(usize, &Key, &Entry, Option<i64>),
    ) -> StepStats {
        let mut stats = StepStats::default();
        // Positions may have moved with SWAPDB: map each database back to
        // its index at the start through its identity tag.
        let start_index = |tag: u64, tags: &[u64]| tags.iter().position(|&t| t == tag);
        for pos in 0..self.dbs.len() {
            let tag = self.dbs[pos].tag;
            let Some(orig) = start_index(tag, &snap.db_tags) else {
                continue;
            };
            for p in self.dbs[pos].take_preimages() {
                save(orig, &p.key, &p.entry, p.expire_at);
                stats.entries += 1;
            }
        }
        for slot in 0..snap.cursors.len() {
            if stats.entries >= budget {
                break;
            }
            let (orig, cursor, done) = snap.cursors[slot];
            if done {
                continue;
            }
            let tag = snap.db_tags[orig];
            let Some(pos) = self.dbs.iter().position(|d| d.tag == tag) else {
                snap.cursors[slot].2 = true;
                continue;
            };
            let mut n = 0;
            let next = self.dbs[pos].snapshot_step(cursor, budget - stats.entries, |k, e, exp| {
                save(orig, k, e, exp);
                n += 1;
            });
            stats.entries += n;
            snap.cursors[slot].1 = next;
            if next == 0 {
                snap.cursors[slot].2 = true;
            }
        }
        stats.finished = snap.cursors.iter().all(|c| c.2);
        if stats.finished {
            // Changes made during this very step are still queued.
            for pos in 0..self.dbs.len() {
                let tag = self.dbs[pos].tag;
                let Some(orig) = start_index(tag, &snap.db_tags) else {
                    continue;
                };
                for p in self.dbs[pos].take_preimages() {
                    save(orig, &p.key, &p.entry, p.expire_at);
                    stats.entries += 1;
                }
            }
        }
        stats
    }

    /// Ends a snapshot (finished or abandoned): writes stop preserving.
    pub fn end_snapshot(&mut self, snap: Snapshot) {
        let _ = snap.epoch;
        self.snapshot_running = false;
        for db in &mut self.dbs {
            db.snap_epoch = 0;
            db.cow.clear();
        }
    }

    /// True while a snapshot runs.
    pub fn snapshot_running(&self) -> bool {
        self.snapshot_running
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
