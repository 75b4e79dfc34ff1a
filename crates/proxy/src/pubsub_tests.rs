//! Tests of relayed-frame classification and local confirmations.

use super::*;

#[test]
fn classifies_resp2_frames() {
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
    assert_eq!(
        classify(confirm, true),
        Relayed::Confirm {
            kind: PubSub::Subscribe,
            channel: Some(Bytes::from_static(b"ch")),
            count: 1
        }
    );
    let msg = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n";
    assert_eq!(classify(msg, true), Relayed::Message);
    let pmsg = b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$2\r\nch\r\n$2\r\nhi\r\n";
    assert_eq!(classify(pmsg, true), Relayed::Message);
    // Not subscribed any more: an array is an ordinary reply.
    assert_eq!(classify(msg, false), Relayed::Reply);
    assert_eq!(classify(b"+OK\r\n", true), Relayed::Reply);
    let pong = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";
    assert_eq!(classify(pong, true), Relayed::Reply);
    let none = b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n";
    assert_eq!(
        classify(none, true),
        Relayed::Confirm {
            kind: PubSub::Unsubscribe,
            channel: None,
            count: 0
        }
    );
}

#[test]
fn classifies_resp3_pushes() {
    let confirm = b">3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n";
    assert!(matches!(
        classify(confirm, false),
        Relayed::Confirm {
            kind: PubSub::SSubscribe,
            ..
        }
    ));
    let inval = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
    assert_eq!(classify(inval, false), Relayed::Message);
    // A RESP3 array reply is never a message.
    let arr = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n";
    assert_eq!(classify(arr, false), Relayed::Reply);
}

#[test]
fn local_unsubscribe_confirmations() {
    let r = unsubscribed_reply(PubSub::Unsubscribe, &[], Protocol::Resp2);
    assert_eq!(&r[..], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    let r = unsubscribed_reply(
        PubSub::PUnsubscribe,
        &[Bytes::from_static(b"a"), Bytes::from_static(b"b")],
        Protocol::Resp3,
    );
    assert!(r.starts_with(b">3\r\n$12\r\npunsubscribe\r\n$1\r\na\r\n:0\r\n>3\r\n"));
}
