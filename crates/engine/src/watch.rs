//! `WATCH`: which clients watch which keys, and their invalidation by
//! writes, expiry, `FLUSHDB`/`FLUSHALL` and `SWAPDB` (upstream `multi.c`,
//! watch half). A client whose watched key changed has its `EXEC` fail.

use bytes::Bytes;

use crate::client::Client;
use crate::State;

impl State {
    /// Marks clients watching `key` so that their `EXEC` fails.
    pub fn touch_key(&mut self, db: usize, key: &[u8]) {
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
    /// Marks clients watching keys that currently exist in `db` (before a
    /// FLUSHDB/FLUSHALL/SWAPDB changes them all), like upstream's
    /// `touchAllWatchedKeysInDb`.
    pub fn touch_watched_db(&mut self, db: usize) {
        self.touch_watched_swap(db, db);
    }
    /// Invalidates the watches on keys of `db` that exist in `db` or in
    /// `other`: `SWAPDB` makes keys appear as well as disappear.
    pub fn touch_watched_swap(&mut self, db: usize, other: usize) {
        let mut hit = Vec::new();
        for ((d, k), ids) in &self.watched {
            if *d == db && (self.ks.dbs[db].contains(k) || self.ks.dbs[other].contains(k)) {
                hit.extend(ids.iter().copied());
            }
        }
        self.cas_dirty.extend(hit);
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
