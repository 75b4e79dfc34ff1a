//! Tests of `lib.rs`.

use super::*;

/// Replies arriving a few bytes at a time, several per write, and of
/// every RESP3 type, come out whole and in order: the per-connection
/// scanner resumes across reads and resets after each frame.
#[tokio::test]
async fn replies_split_across_reads() {
    let (ours, mut server) = tokio::io::duplex(64);
    let mut c = Client::from_stream(ours);
    let wire: &[u8] = b"+OK\r\n*2\r\n$3\r\nfoo\r\n:7\r\n>2\r\n$7\r\nmessage\r\n_\r\n\
        =7\r\ntxt:abc\r\n|1\r\n+ttl\r\n:3\r\n%1\r\n#t\r\n,1.5\r\n";
    let feeder = tokio::spawn(async move {
        for piece in wire.chunks(3) {
            server.write_all(piece).await.unwrap();
            server.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
        server
    });
    let want = [
        Frame::ok(),
        Frame::Array(vec![Frame::bulk("foo"), Frame::Integer(7)]),
        Frame::Push(vec![Frame::bulk("message"), Frame::Null]),
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"abc"),
        },
        Frame::Attribute(vec![(Frame::simple("ttl"), Frame::Integer(3))]),
        Frame::Map(vec![(Frame::Boolean(true), Frame::Double(1.5))]),
    ];
    for w in want {
        assert_eq!(c.read_frame().await.unwrap(), w);
    }
    drop(feeder.await.unwrap());
    assert!(matches!(c.read_frame().await, Err(Error::Closed)));
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    let (ours, mut server) = tokio::io::duplex(64);
    let mut c = Client::from_stream(ours);
    server.write_all(b"?").await.unwrap();
    let e = c.read_frame().await.unwrap_err();
    assert!(matches!(e, Error::Protocol(DecodeError::UnknownType(b'?'))));
    assert_eq!(
        e.to_string(),
        r#"Protocol error, got "?" as reply type byte"#
    );
}
