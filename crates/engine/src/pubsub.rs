//! Pub/Sub: channel, pattern and shard-channel subscriptions, `PUBLISH`,
//! `PUBSUB` introspection and keyspace notifications (upstream `pubsub.c`
//! and `notify.c`).
//!
//! Messages to other clients go through their push channel; a message to the
//! publishing client itself is appended to its own reply buffer at the point
//! of publication, so it precedes the command's reply exactly as upstream.

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use redis_common::glob::string_match;
use redis_resp::Protocol;
use redis_storage::string::itoa_buf;

use crate::client::Client;
use crate::ctx::Ctx;
use crate::error::CmdResult;
use crate::state::State;

/// Subscriber lists, in subscription order.
#[derive(Debug, Default)]
pub struct PubSub {
    pub channels: HashMap<Bytes, Vec<u64>>,
    pub patterns: HashMap<Bytes, Vec<u64>>,
    pub shard_channels: HashMap<Bytes, Vec<u64>>,
}

fn write_header(out: &mut BytesMut, proto: Protocol, n: usize) {
    out.put_u8(if proto == Protocol::Resp3 { b'>' } else { b'*' });
    out.extend_from_slice(itoa_buf(n as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn write_bulk(out: &mut BytesMut, b: &[u8]) {
    out.put_u8(b'$');
    out.extend_from_slice(itoa_buf(b.len() as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a pub/sub message (`message`, `pmessage`, `smessage`).
pub fn encode_message(proto: Protocol, parts: &[&[u8]]) -> BytesMut {
    let mut out = BytesMut::with_capacity(64 + parts.iter().map(|p| p.len()).sum::<usize>());
    write_header(&mut out, proto, parts.len());
    for p in parts {
        write_bulk(&mut out, p);
    }
    out
}

/// Writes a subscription confirmation (`subscribe`, `unsubscribe`, …).
fn write_confirm(
    out: &mut BytesMut,
    proto: Protocol,
    kind: &[u8],
    name: Option<&[u8]>,
    count: usize,
) {
    write_header(out, proto, 3);
    write_bulk(out, kind);
    match name {
        Some(n) => write_bulk(out, n),
        None => out.extend_from_slice(if proto == Protocol::Resp3 {
            b"_\r\n"
        } else {
            b"$-1\r\n"
        }),
    }
    out.put_u8(b':');
    out.extend_from_slice(itoa_buf(count as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn sub_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }
    fn unsub_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

fn client_set(c: &mut Client, k: Kind) -> &mut std::collections::HashSet<Bytes> {
    match k {
        Kind::Channel => &mut c.subs,
        Kind::Pattern => &mut c.psubs,
        Kind::Shard => &mut c.ssubs,
    }
}

fn map(ps: &mut PubSub, k: Kind) -> &mut HashMap<Bytes, Vec<u64>> {
    match k {
        Kind::Channel => &mut ps.channels,
        Kind::Pattern => &mut ps.patterns,
        Kind::Shard => &mut ps.shard_channels,
    }
}

fn count_for(c: &Client, k: Kind) -> usize {
    match k {
        Kind::Shard => c.ssubs.len(),
        _ => c.sub_count(),
    }
}

fn sync_info(st: &mut State, c: &Client) {
    if let Some(i) = st.clients.get_mut(&c.id) {
        i.sub = c.subs.len();
        i.psub = c.psubs.len();
        i.ssub = c.ssubs.len();
    }
}

pub fn subscribe(ctx: &mut Ctx, argv: &[Bytes], k: Kind) -> CmdResult {
    ctx.push_reply = true;
    for name in &argv[1..] {
        if client_set(ctx.client, k).insert(name.clone()) {
            map(&mut ctx.st.pubsub, k)
                .entry(name.clone())
                .or_default()
                .push(ctx.client.id);
        }
        let n = count_for(ctx.client, k);
        write_confirm(ctx.out, ctx.client.proto, k.sub_name(), Some(name), n);
    }
    sync_info(ctx.st, ctx.client);
    Ok(())
}

fn remove_sub(ps: &mut PubSub, k: Kind, name: &Bytes, id: u64) {
    let m = map(ps, k);
    if let Some(v) = m.get_mut(name) {
        v.retain(|&x| x != id);
        if v.is_empty() {
            m.remove(name);
        }
    }
}

pub fn unsubscribe(ctx: &mut Ctx, argv: &[Bytes], k: Kind) -> CmdResult {
    ctx.push_reply = true;
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        client_set(ctx.client, k).iter().cloned().collect()
    };
    if names.is_empty() {
        let n = count_for(ctx.client, k);
        write_confirm(ctx.out, ctx.client.proto, k.unsub_name(), None, n);
    }
    for name in names {
        if client_set(ctx.client, k).remove(&name) {
            remove_sub(&mut ctx.st.pubsub, k, &name, ctx.client.id);
        }
        let n = count_for(ctx.client, k);
        write_confirm(ctx.out, ctx.client.proto, k.unsub_name(), Some(&name), n);
    }
    sync_info(ctx.st, ctx.client);
    Ok(())
}

/// Delivers a message; returns the number of receivers. `me` is the
/// publishing client and its output buffer, served in place.
pub fn publish(
    st: &mut State,
    channel: &[u8],
    msg: &[u8],
    shard: bool,
    me: Option<(u64, &mut BytesMut)>,
) -> usize {
    let mut me = me;
    let mut n = 0;
    let (list, kind): (Vec<u64>, &[u8]) = if shard {
        (
            st.pubsub
                .shard_channels
                .get(channel)
                .cloned()
                .unwrap_or_default(),
            b"smessage",
        )
    } else {
        (
            st.pubsub.channels.get(channel).cloned().unwrap_or_default(),
            b"message",
        )
    };
    for id in list {
        n += deliver(st, id, &[kind, channel, msg], &mut me);
    }
    if !shard && !st.pubsub.patterns.is_empty() {
        let matches: Vec<(Bytes, Vec<u64>)> = st
            .pubsub
            .patterns
            .iter()
            .filter(|(p, _)| string_match(p, channel, false))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect();
        for (pat, ids) in matches {
            for id in ids {
                n += deliver(st, id, &[b"pmessage", &pat, channel, msg], &mut me);
            }
        }
    }
    n
}

fn deliver(st: &State, id: u64, parts: &[&[u8]], me: &mut Option<(u64, &mut BytesMut)>) -> usize {
    let Some(info) = st.clients.get(&id) else {
        return 0;
    };
    let proto = if info.resp == 3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    let m = encode_message(proto, parts);
    match me {
        Some((my_id, out)) if *my_id == id => out.extend_from_slice(&m),
        _ => {
            // A receiver whose task already ended simply misses the message.
            let _ = info.signal.push.send(m.freeze());
        }
    }
    1
}

/// Drops every subscription of a client that is going away.
pub fn forget(st: &mut State, c: &Client) {
    for (k, set) in [
        (Kind::Channel, &c.subs),
        (Kind::Pattern, &c.psubs),
        (Kind::Shard, &c.ssubs),
    ] {
        for name in set {
            remove_sub(&mut st.pubsub, k, name, c.id);
        }
    }
}

/// The `notify-keyspace-events` flags, parsed once per configuration change.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotifyFlags {
    pub classes: u32,
    pub keyspace: bool,
    pub keyevent: bool,
}

const CLASSES: &str = "g$lshzxetdmn";

impl NotifyFlags {
    /// Parses the configuration string (`A` stands for `g$lshzxetd`).
    pub fn parse(s: &str) -> NotifyFlags {
        let mut f = NotifyFlags::default();
        for c in s.chars() {
            match c {
                'A' => {
                    for a in "g$lshzxetd".chars() {
                        f.classes |= class_bit(a);
                    }
                }
                'K' => f.keyspace = true,
                'E' => f.keyevent = true,
                c => f.classes |= class_bit(c),
            }
        }
        f
    }

    /// True if nothing would ever be published.
    pub fn is_off(&self) -> bool {
        self.classes == 0 || !(self.keyspace || self.keyevent)
    }

    /// True if events of `class` are published.
    pub fn wants(&self, class: char) -> bool {
        !self.is_off() && self.classes & class_bit(class) != 0
    }
}

fn class_bit(c: char) -> u32 {
    CLASSES.find(c).map_or(0, |i| 1 << i)
}

/// Publishes a keyspace notification if the configuration asks for it.
pub fn notify(
    st: &mut State,
    db: usize,
    key: &[u8],
    class: char,
    event: &str,
    me: Option<(u64, &mut BytesMut)>,
) {
    let f = st.notify_flags;
    if f.is_off() || f.classes & class_bit(class) == 0 {
        return;
    }
    let mut me = me;
    if f.keyspace {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        let reborrow = me.as_mut().map(|(id, out)| (*id, &mut **out));
        publish(st, &ch, event.as_bytes(), false, reborrow);
    }
    if f.keyevent {
        let ch = format!("__keyevent@{db}__:{event}");
        publish(st, ch.as_bytes(), key, false, me);
    }
}
