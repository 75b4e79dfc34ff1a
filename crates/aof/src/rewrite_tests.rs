//! Tests of `rewrite.rs`.

use super::*;

#[test]
fn incremental_fsync_every_4mb() {
    let dir = std::env::temp_dir().join(format!("aof-rw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("temp-rewriteaof-bg-1.aof");
    let mut w = RewriteFile::create(&p, true).unwrap();
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..9 {
        w.write_all(&chunk).unwrap();
    }
    assert_eq!(w.incremental_fsyncs(), 2);
    let (_, n) = w.finish().unwrap();
    assert_eq!(n, 9 * 1024 * 1024);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), n);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_incremental_fsync_when_off() {
    let dir = std::env::temp_dir().join(format!("aof-rw-off-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("temp-rewriteaof-bg-2.aof");
    let mut w = RewriteFile::create(&p, false).unwrap();
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..9 {
        w.write_all(&chunk).unwrap();
    }
    assert_eq!(w.incremental_fsyncs(), 0);
    let (_, n) = w.finish().unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), n);
    std::fs::remove_dir_all(&dir).unwrap();
}
