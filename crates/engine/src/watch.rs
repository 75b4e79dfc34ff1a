//! `WATCH`: which clients watch which keys, and their invalidation by
//! writes, expiry, `FLUSHDB`/`FLUSHALL` and `SWAPDB` (upstream `multi.c`,
//! watch half). A client whose watched key changed has its `EXEC` fail.

use bytes::Bytes;

use crate::client::Client;
use crate::State;

impl State {
    /// Marks clients watching `key` so that their `EXEC` fails.
    pub fn touch_key(&mut self, db: usize, key: &[u8]) {
        // Client-side caching hangs off the same hook (upstream's
        // `signalModifiedKey`).
        let modifier = self.tracking_modifier();
        self.tracking_invalidate_key(key, true, modifier);
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(&(db, Bytes::copy_from_slice(key))) {
            self.cas_dirty.extend(ids.iter().copied());
        }
    }

    /// [`State::touch_key`] for a deletion by expiry: clients that watched
    /// the key when it had already expired see no change.
    pub(crate) fn touch_expired_key(&mut self, db: usize, key: &Bytes) {
        self.tracking_invalidate_key(key, true, None);
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(&(db, key.clone())) {
            for &id in ids {
                if !self.watched_expired.contains(&(id, db, key.clone())) {
                    self.cas_dirty.insert(id);
                }
            }
        }
    }

    /// `FLUSHDB`/`FLUSHALL` (and a full sync replacing the dataset) is
    /// about to empty `db`: invalidates the watches on keys that exist in
    /// it, except keys that had already expired when watched (their
    /// deletion is no logical change), as upstream 7.0's
    /// `touchAllWatchedKeysInDb(db, NULL)`.
    pub fn touch_watched_db(&mut self, db: usize, now: i64) {
        self.touch_watched_keys(db, None, now);
    }

    /// `SWAPDB`: `db` is about to take the contents of `other`.
    /// Invalidates the watches on keys of `db` whose logical existence or
    /// value changes; a key that was and stays expired, or that appears
    /// already expired where there was none, changes nothing (7.0).
    pub fn touch_watched_swap(&mut self, db: usize, other: usize, now: i64) {
        self.touch_watched_keys(db, Some(other), now);
    }

    fn touch_watched_keys(&mut self, db: usize, replaced_with: Option<usize>, now: i64) {
        if self.watched.is_empty() {
            return;
        }
        let mut dirty = Vec::new();
        let mut no_longer_expired = Vec::new();
        let mut now_expired = Vec::new();
        for ((d, k), ids) in &self.watched {
            if *d != db {
                continue;
            }
            let in_emptied = self.ks.dbs[db].contains(k);
            let in_replacement = replaced_with.is_some_and(|r| self.ks.dbs[r].contains(k));
            if !in_emptied && !in_replacement {
                continue;
            }
            let replacement_expired =
                replaced_with.is_some_and(|r| in_replacement && self.ks.dbs[r].is_expired(k, now));
            for &id in ids {
                let slot = (id, db, k.clone());
                if self.watched_expired.contains(&slot) {
                    if !in_replacement {
                        // Watched already expired, now gone: no change.
                        no_longer_expired.push(slot);
                        continue;
                    }
                    if replacement_expired {
                        // Expired, and replaced by another expired key.
                        continue;
                    }
                } else if !in_emptied && replacement_expired {
                    // Nothing there, replaced by an expired key.
                    now_expired.push(slot);
                    continue;
                }
                dirty.push(id);
            }
        }
        for slot in no_longer_expired {
            self.watched_expired.remove(&slot);
        }
        self.watched_expired.extend(now_expired);
        self.cas_dirty.extend(dirty);
    }

    /// Adds a watch.
    pub fn watch(&mut self, client: &mut Client, key: &Bytes, now: i64) {
        let slot = (client.db, key.clone());
        if self.ks.dbs[client.db].is_expired(key, now) {
            self.watched_expired
                .insert((client.id, client.db, key.clone()));
        }
        if client
            .watched
            .iter()
            .any(|(d, k)| *d == slot.0 && *k == slot.1)
        {
            return;
        }
        client.watched.push(slot.clone());
        self.watched.entry(slot).or_default().push(client.id);
    }

    /// Drops all watches of a client.
    pub fn unwatch_all(&mut self, id: u64, keys: &[(usize, Bytes)]) {
        for slot in keys {
            if let Some(v) = self.watched.get_mut(slot) {
                v.retain(|&x| x != id);
                if v.is_empty() {
                    self.watched.remove(slot);
                }
            }
        }
        self.cas_dirty.remove(&id);
        if !self.watched_expired.is_empty() {
            self.watched_expired.retain(|(c, _, _)| *c != id);
        }
    }
}
