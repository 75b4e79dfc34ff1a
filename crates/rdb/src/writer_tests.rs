//! Tests of `writer.rs`.

use bytes::Bytes;

use super::*;

fn write(f: impl FnOnce(&mut RdbWriter<Vec<u8>>)) -> Vec<u8> {
    let mut w =
        RdbWriter::new(Vec::new(), WriterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    f(&mut w);
    w.finish().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn string_entry_writes_what_entry_writes() {
    let long = "x".repeat(200);
    let cases: Vec<(u32, &str, &str, Option<i64>)> = vec![
        (0, "k", "v", None),
        (0, "n", "12345", Some(1_700_000_000_000)),
        (3, "other-db", "-7", None),
        (3, "compressed", long.as_str(), Some(1)),
        (1, "", "", None),
    ];
    let by_model = write(|w| {
        for (db, k, v, exp) in &cases {
            let e = RdbEntry {
                db: *db,
                key: Bytes::copy_from_slice(k.as_bytes()),
                value: RdbValue::String(Bytes::copy_from_slice(v.as_bytes())),
                expire_ms: *exp,
                lru_idle: None,
                lfu_freq: None,
            };
            w.entry(&e).unwrap_or_else(|e| panic!("{e}"));
        }
    });
    let borrowed = write(|w| {
        for (db, k, v, exp) in &cases {
            w.string_entry(*db, k.as_bytes(), v.as_bytes(), *exp)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    });
    assert_eq!(by_model, borrowed);
}
