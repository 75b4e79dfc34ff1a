//! Tests of `dir.rs`.

use super::*;

#[test]
fn temp_dirs_are_distinct_and_removed() {
    let a = TempDir::new();
    let b = TempDir::new();
    assert_ne!(a.path(), b.path());
    std::fs::write(a.path().join("f"), b"x").unwrap();
    let p = a.path().to_path_buf();
    assert_eq!(p.to_str(), Some(a.path_str()));
    drop(a);
    assert!(!p.exists());
    assert!(b.path().is_dir());
}
