//! `DEBUG DIGEST` and `DEBUG DIGEST-VALUE` over the keyspace, using the
//! upstream-compatible primitives of `redis_storage::digest`.

use redis_storage::digest::{self as dg, DatasetDigest, Digest20};
use redis_storage::{Db, Keyspace, Value};

fn object_digest(d: &mut [u8; dg::DIGEST_LEN], v: &Value, has_expire: bool) {
    v.digest(d);
    dg::finish_object(d, has_expire);
}

/// The whole-dataset digest. Keys whose time has passed but that are
/// still stored count, as upstream's: a replica (which never expires keys
/// itself) and its primary with active expiry stopped agree on them.
pub fn dataset_digest(ks: &Keyspace) -> String {
    let mut acc = DatasetDigest::new();
    for (i, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        acc.begin_db(i as u32);
        for (k, e) in db.iter() {
            let mut d = dg::key_seed(k);
            object_digest(&mut d, &e.value, db.expire_at(k).is_some());
            acc.add_key(&d);
        }
    }
    acc.finish().to_hex()
}

/// The digest of one value (40 zeros for a missing key).
pub fn value_digest(db: &Db, key: &[u8]) -> String {
    let mut d = [0u8; dg::DIGEST_LEN];
    if let Some(e) = db.get(key) {
        object_digest(&mut d, &e.value, db.expire_at(key).is_some());
    }
    Digest20(d).to_hex()
}
