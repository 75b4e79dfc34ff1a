//! Pub/sub relay support: what a frame from a subscribed client's own
//! backend connection is (a message to pass on at once, a subscription
//! confirmation that answers a request, or an ordinary reply), and the
//! confirmations the proxy writes itself for a client that is not
//! subscribed to anything.

use bytes::{Bytes, BytesMut};
use redis_resp::{Frame, Protocol};

use crate::command::PubSub;
use crate::resp::decode;

/// What one relayed frame is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relayed {
    /// A published message (or another push nobody asked for): written
    /// to the client at once.
    Message,
    /// A (un)subscription confirmation: `kind`, the channel (none for an
    /// unsubscribe from nothing) and the count the server reports.
    Confirm {
        kind: PubSub,
        channel: Option<Bytes>,
        count: i64,
    },
    /// The reply to some other request.
    Reply,
}

fn confirm_kind(name: &[u8]) -> Option<PubSub> {
    Some(match name {
        b"subscribe" => PubSub::Subscribe,
        b"psubscribe" => PubSub::PSubscribe,
        b"ssubscribe" => PubSub::SSubscribe,
        b"unsubscribe" => PubSub::Unsubscribe,
        b"punsubscribe" => PubSub::PUnsubscribe,
        b"sunsubscribe" => PubSub::SUnsubscribe,
        _ => return None,
    })
}

/// Classifies a frame from a relay connection. `subscribed`: the client
/// is subscribed to something (a RESP2 array then can be a message).
pub fn classify(raw: &[u8], subscribed: bool) -> Relayed {
    let push = match raw.first() {
        Some(b'>') => true,
        Some(b'*') if subscribed => false,
        _ => return Relayed::Reply,
    };
    let items = match decode(&Bytes::copy_from_slice(raw)) {
        Some(Frame::Push(items)) | Some(Frame::Array(items)) => items,
        _ => {
            return if push {
                Relayed::Message
            } else {
                Relayed::Reply
            }
        }
    };
    let name = match items.first() {
        Some(Frame::Bulk(b)) | Some(Frame::Simple(b)) => b.clone(),
        _ => {
            return if push {
                Relayed::Message
            } else {
                Relayed::Reply
            }
        }
    };
    if let Some(kind) = confirm_kind(&name) {
        if let [_, ch, Frame::Integer(count)] = items.as_slice() {
            let channel = match ch {
                Frame::Bulk(c) | Frame::Simple(c) => Some(c.clone()),
                _ => None,
            };
            return Relayed::Confirm {
                kind,
                channel,
                count: *count,
            };
        }
    }
    match name.as_ref() {
        b"message" | b"pmessage" | b"smessage" => Relayed::Message,
        _ if push => Relayed::Message,
        _ => Relayed::Reply,
    }
}

/// The confirmations of an unsubscribe command from a client subscribed
/// to nothing: one per channel named, or one with a null channel.
pub fn unsubscribed_reply(kind: PubSub, channels: &[Bytes], proto: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    let name = Frame::Bulk(Bytes::from_static(kind.name().as_bytes()));
    let one = |ch: Frame, out: &mut BytesMut| {
        let items = vec![name.clone(), ch, Frame::Integer(0)];
        let f = if proto == Protocol::Resp3 {
            Frame::Push(items)
        } else {
            Frame::Array(items)
        };
        f.encode(proto, out);
    };
    if channels.is_empty() {
        one(Frame::Null, &mut out);
    }
    for c in channels {
        one(Frame::Bulk(c.clone()), &mut out);
    }
    out.freeze()
}

#[cfg(test)]
#[path = "pubsub_tests.rs"]
mod tests;
