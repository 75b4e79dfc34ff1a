//! Tests of `manifest.rs`.

use super::*;

#[test]
fn round_trip_and_order() {
    let mut m = Manifest::new();
    let b = m.new_base_file("appendonly.aof", true);
    assert_eq!(b, "appendonly.aof.1.base.rdb");
    let i = m.new_incr_file("appendonly.aof");
    assert_eq!(i, "appendonly.aof.1.incr.aof");
    m.new_incr_file("appendonly.aof");
    m.new_base_file("appendonly.aof", false);
    m.mark_rewritten_incr_as_history(true);
    let text = m.to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&text),
        "file appendonly.aof.2.base.aof seq 2 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type h\n\
         file appendonly.aof.1.base.rdb seq 1 type h\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let mut back = Manifest::parse(&text).unwrap();
    back.dirty = m.dirty;
    assert_eq!(back, m);
}

#[test]
fn quoted_names() {
    let mut m = Manifest::new();
    m.incr.push(AofInfo {
        file_name: "a b\"\\\n\u{1}".into(),
        file_seq: 1,
        file_type: FileType::Incr,
    });
    let t = m.to_bytes();
    assert_eq!(t, b"file \"a b\\\"\\\\\\n\\x01\" seq 1 type i\n".to_vec());
    assert_eq!(Manifest::parse(&t).unwrap().incr, m.incr);
}

#[test]
fn errors() {
    let e = |s: &[u8]| Manifest::parse(s).unwrap_err();
    assert_eq!(e(b"").message, "Found an empty AOF manifest");
    assert_eq!(
        e(b"file a seq 1 type i").message,
        "The AOF manifest file contains too long line"
    );
    assert_eq!(e(b"file a seq 1 type i\n\n").line, Some((2, vec![])));
    assert_eq!(e(b"file a seq 1 type x\n").message, "Unknown AOF file type");
    assert_eq!(
        e(b"file a/b seq 1 type i\n").message,
        "File can't be a path, just a filename"
    );
    assert_eq!(
        e(b"file a seq 0 type i\n").message,
        "Invalid AOF manifest file format"
    );
    assert_eq!(
        e(b"file a seq 2 type i\nfile b seq 2 type i\n").message,
        "Found a non-monotonic sequence number"
    );
    assert_eq!(
        e(b"file a seq 2 type b\nfile b seq 2 type b\n").message,
        "Found duplicate base file information"
    );
    assert!(Manifest::parse(b"# c\nfile a seq 1 type i extra 1\n").is_ok());
}
