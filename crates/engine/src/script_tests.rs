//! Unit tests of `script.rs` (kept apart so the module holds only library
//! code).

use super::*;

fn frame_of(bytes: &[u8]) -> Frame {
    reply_frame_of(&mut BytesMut::from(bytes))
}

#[test]
fn plain_replies_are_read_directly() {
    assert_eq!(
        plain_reply(b"+OK\r\n"),
        Some(Frame::Simple(Bytes::from("OK")))
    );
    assert_eq!(
        plain_reply(b"+QUEUED\r\n"),
        Some(Frame::Simple(Bytes::from("QUEUED")))
    );
    assert_eq!(
        plain_reply(b"-ERR no\r\n"),
        Some(Frame::Error(Bytes::from("ERR no")))
    );
    assert_eq!(plain_reply(b":-42\r\n"), Some(Frame::Integer(-42)));
    assert_eq!(plain_reply(b"_\r\n"), Some(Frame::Null));
    assert_eq!(plain_reply(b"$-1\r\n"), Some(Frame::Null));
    assert_eq!(plain_reply(b"$0\r\n\r\n"), Some(Frame::Bulk(Bytes::new())));
    assert_eq!(
        plain_reply(b"$4\r\na\r\nb\r\n"),
        Some(Frame::Bulk(Bytes::from("a\r\nb")))
    );
}

#[test]
fn other_replies_go_to_the_decoder() {
    for other in [
        &b"*1\r\n$1\r\na\r\n"[..],
        b"$3\r\nab\r\n",
        b"$1\r\na\r\n+OK\r\n",
        b"+OK\r\n+OK\r\n",
        b":x\r\n",
        b"|1\r\n+a\r\n:1\r\n:2\r\n",
        b",1.5\r\n",
        b"+OK",
        b"",
    ] {
        assert_eq!(plain_reply(other), None, "{other:?}");
    }
    assert_eq!(
        frame_of(b"*2\r\n$1\r\na\r\n:1\r\n"),
        Frame::Array(vec![Frame::Bulk(Bytes::from("a")), Frame::Integer(1)])
    );
    // Attributes are not shown to scripts.
    assert_eq!(frame_of(b"|1\r\n+a\r\n:1\r\n:2\r\n"), Frame::Integer(2));
    assert_eq!(
        frame_of(b"$5\r\nhello\r\n"),
        Frame::Bulk(Bytes::from("hello"))
    );
}
