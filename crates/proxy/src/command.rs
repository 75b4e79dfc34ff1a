//! What the proxy knows about a command without asking a server: whether
//! it is answered locally, forwarded, pinned to a dedicated connection,
//! split across slots, fanned out to every primary or refused, and where
//! its keys are (for slot routing).
//!
//! The table covers the Redis 7.0 command set the proxy routes
//! specially; any other command is forwarded with its first argument
//! taken as its key (a cluster node then redirects if that guess was
//! wrong, and keyless commands run on any node).

use crate::request::ArgList;

/// Where a command's keys are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// No key.
    None,
    /// The first argument.
    First,
    /// Every argument.
    All,
    /// Every argument but the last (the blocking pops' timeout).
    AllButLast,
    /// Arguments 1, 3, 5… (`MSET`, `MSETNX`).
    Pairs,
    /// The first two arguments (`RENAME`, `SMOVE`, `LMOVE`, `COPY`…).
    Two,
    /// `numkeys` at argument `.0`, the keys right after it; with `.1`
    /// the first argument is a key too (`ZUNIONSTORE dest numkeys …`).
    NumKeysAt(usize, bool),
    /// After the `STREAMS` keyword, the first half of what follows.
    Streams,
}

/// Commands the proxy answers itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    Ping,
    Echo,
    Auth,
    Hello,
    Quit,
    Select,
    Client,
    Info,
}

/// Multi-key commands split per slot in cluster mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `MGET`: arrays reassembled in key order.
    Mget,
    /// `MSET`: `+OK` when every part said so.
    Mset,
    /// `DEL`, `UNLINK`, `EXISTS`, `TOUCH`: integers summed.
    Sum,
}

/// Keyless commands run on every primary in cluster mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanOut {
    /// `DBSIZE`: integers summed.
    Sum,
    /// `KEYS`: arrays concatenated.
    Concat,
    /// `FLUSHALL`, `FLUSHDB`, `SCRIPT …`, `FUNCTION …`: the common reply
    /// when every node gave the same one, else the first that differs.
    Same,
    /// `RANDOMKEY`: the first non-null reply.
    AnyNonNull,
    /// `SCAN`: one primary after another, with a composite cursor.
    Scan,
}

/// How the proxy handles a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Local(Local),
    /// Forwarded on the client's shared backend connection.
    Forward,
    /// Needs a connection of its own (transactions, blocking commands).
    Pinned,
    Split(Split),
    FanOut(FanOut),
    /// Pub/sub: relayed over a connection of the client's own.
    PubSub(PubSub),
    /// Refused with the reason.
    Unsupported(&'static str),
}

/// The subscription commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubSub {
    Subscribe,
    PSubscribe,
    SSubscribe,
    Unsubscribe,
    PUnsubscribe,
    SUnsubscribe,
}

impl PubSub {
    /// True for the commands that add subscriptions.
    pub fn subscribes(self) -> bool {
        matches!(
            self,
            PubSub::Subscribe | PubSub::PSubscribe | PubSub::SSubscribe
        )
    }

    /// The family: 0 channels, 1 patterns, 2 shard channels.
    pub fn family(self) -> usize {
        match self {
            PubSub::Subscribe | PubSub::Unsubscribe => 0,
            PubSub::PSubscribe | PubSub::PUnsubscribe => 1,
            PubSub::SSubscribe | PubSub::SUnsubscribe => 2,
        }
    }

    /// The lowercase name, as confirmations spell it.
    pub fn name(self) -> &'static str {
        match self {
            PubSub::Subscribe => "subscribe",
            PubSub::PSubscribe => "psubscribe",
            PubSub::SSubscribe => "ssubscribe",
            PubSub::Unsubscribe => "unsubscribe",
            PubSub::PUnsubscribe => "punsubscribe",
            PubSub::SUnsubscribe => "sunsubscribe",
        }
    }
}

/// Everything the proxy needs about one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    pub keys: Keys,
    /// Never writes: may be served by a replica.
    pub readonly: bool,
}

const ADMIN: &str = "administrative command: connect to the server directly";
const REPLICATION: &str = "replication protocol: connect to the server directly";
const CLUSTER: &str = "the proxy presents the cluster as one server";

/// The uppercase name of a command (at most 31 bytes, else `None`).
pub fn upper_name(name: &[u8], buf: &mut [u8; 32]) -> Option<usize> {
    let dst = buf.get_mut(..name.len())?;
    for (d, s) in dst.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    Some(name.len())
}

/// Looks up the command named by `args[0]` (`args` is never empty).
pub fn lookup<A: ArgList + ?Sized>(args: &A) -> Spec {
    let mut buf = [0u8; 32];
    let name = args.arg(0).unwrap_or_default();
    let Some(n) = upper_name(name, &mut buf) else {
        return forward(Keys::First, false);
    };
    let up = buf.get(..n).unwrap_or_default();
    let spec = |kind, keys, readonly| Spec {
        kind,
        keys,
        readonly,
    };
    use Keys::*;
    match up {
        b"PING" => spec(Kind::Local(Local::Ping), None, true),
        b"ECHO" => spec(Kind::Local(Local::Echo), None, true),
        b"AUTH" => spec(Kind::Local(Local::Auth), None, true),
        b"HELLO" => spec(Kind::Local(Local::Hello), None, true),
        b"QUIT" => spec(Kind::Local(Local::Quit), None, true),
        b"SELECT" => spec(Kind::Local(Local::Select), None, true),
        b"CLIENT" => spec(Kind::Local(Local::Client), None, true),
        b"INFO" => spec(Kind::Local(Local::Info), None, true),

        b"GET"
        | b"STRLEN"
        | b"GETRANGE"
        | b"SUBSTR"
        | b"TTL"
        | b"PTTL"
        | b"EXPIRETIME"
        | b"PEXPIRETIME"
        | b"TYPE"
        | b"HGET"
        | b"HMGET"
        | b"HGETALL"
        | b"HKEYS"
        | b"HVALS"
        | b"HLEN"
        | b"HEXISTS"
        | b"HSTRLEN"
        | b"HRANDFIELD"
        | b"HSCAN"
        | b"LLEN"
        | b"LRANGE"
        | b"LINDEX"
        | b"LPOS"
        | b"SCARD"
        | b"SMEMBERS"
        | b"SISMEMBER"
        | b"SMISMEMBER"
        | b"SRANDMEMBER"
        | b"SSCAN"
        | b"ZCARD"
        | b"ZSCORE"
        | b"ZMSCORE"
        | b"ZRANGE"
        | b"ZRANGEBYSCORE"
        | b"ZRANGEBYLEX"
        | b"ZREVRANGE"
        | b"ZREVRANGEBYSCORE"
        | b"ZREVRANGEBYLEX"
        | b"ZRANK"
        | b"ZREVRANK"
        | b"ZCOUNT"
        | b"ZLEXCOUNT"
        | b"ZRANDMEMBER"
        | b"ZSCAN"
        | b"GETBIT"
        | b"BITCOUNT"
        | b"BITPOS"
        | b"BITFIELD_RO"
        | b"GEOPOS"
        | b"GEODIST"
        | b"GEOHASH"
        | b"GEORADIUS_RO"
        | b"GEORADIUSBYMEMBER_RO"
        | b"GEOSEARCH"
        | b"XRANGE"
        | b"XREVRANGE"
        | b"XLEN"
        | b"XINFO"
        | b"XPENDING"
        | b"DUMP"
        | b"OBJECT"
        | b"SORT_RO"
        | b"MEMORY" => spec(Kind::Forward, First, true),
        b"SINTER" | b"SUNION" | b"SDIFF" | b"PFCOUNT" => spec(Kind::Forward, All, true),
        b"ZINTER" | b"ZUNION" | b"ZDIFF" | b"SINTERCARD" | b"ZINTERCARD" => {
            spec(Kind::Forward, NumKeysAt(1, false), true)
        }
        b"MGET" => spec(Kind::Split(Split::Mget), All, true),
        b"EXISTS" | b"TOUCH" => spec(Kind::Split(Split::Sum), All, true),
        b"DEL" | b"UNLINK" => spec(Kind::Split(Split::Sum), All, false),
        b"MSET" => spec(Kind::Split(Split::Mset), Pairs, false),
        b"MSETNX" => spec(Kind::Forward, Pairs, false),
        b"LCS" | b"RENAME" | b"RENAMENX" | b"SMOVE" | b"LMOVE" | b"RPOPLPUSH" | b"COPY" => {
            spec(Kind::Forward, Two, false)
        }
        b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" | b"PFMERGE" => {
            spec(Kind::Forward, All, false)
        }
        b"BITOP" => spec(Kind::Forward, NumKeysAt(usize::MAX, false), false),
        b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => {
            spec(Kind::Forward, NumKeysAt(2, true), false)
        }
        b"ZRANGESTORE" | b"GEOSEARCHSTORE" => spec(Kind::Forward, Two, false),
        b"LMPOP" | b"ZMPOP" => spec(Kind::Forward, NumKeysAt(1, false), false),
        b"EVAL" | b"EVALSHA" | b"FCALL" => spec(Kind::Forward, NumKeysAt(2, false), false),
        b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL_RO" => spec(Kind::Forward, NumKeysAt(2, false), true),

        b"MULTI" | b"EXEC" | b"DISCARD" | b"UNWATCH" => spec(Kind::Pinned, None, false),
        b"WATCH" => spec(Kind::Pinned, All, false),
        b"BLPOP" | b"BRPOP" | b"BZPOPMIN" | b"BZPOPMAX" => spec(Kind::Pinned, AllButLast, false),
        b"BRPOPLPUSH" | b"BLMOVE" => spec(Kind::Pinned, Two, false),
        b"BLMPOP" | b"BZMPOP" => spec(Kind::Pinned, NumKeysAt(2, false), false),
        b"XREAD" | b"XREADGROUP" => {
            let blocking = (1..args.count())
                .filter_map(|i| args.arg(i))
                .any(|a| a.eq_ignore_ascii_case(b"BLOCK"));
            let kind = if blocking {
                Kind::Pinned
            } else {
                Kind::Forward
            };
            spec(kind, Streams, up == b"XREAD")
        }

        b"DBSIZE" => spec(Kind::FanOut(FanOut::Sum), None, true),
        b"KEYS" => spec(Kind::FanOut(FanOut::Concat), None, true),
        b"FLUSHALL" | b"FLUSHDB" => spec(Kind::FanOut(FanOut::Same), None, false),
        b"RANDOMKEY" => spec(Kind::FanOut(FanOut::AnyNonNull), None, true),
        b"SCAN" => spec(Kind::FanOut(FanOut::Scan), None, true),
        b"SCRIPT" | b"FUNCTION" => spec(Kind::FanOut(FanOut::Same), None, false),
        b"TIME" | b"LASTSAVE" | b"COMMAND" | b"LOLWUT" | b"WAIT" => spec(Kind::Forward, None, true),

        b"SUBSCRIBE" => spec(Kind::PubSub(PubSub::Subscribe), None, false),
        b"PSUBSCRIBE" => spec(Kind::PubSub(PubSub::PSubscribe), None, false),
        b"SSUBSCRIBE" => spec(Kind::PubSub(PubSub::SSubscribe), All, false),
        b"UNSUBSCRIBE" => spec(Kind::PubSub(PubSub::Unsubscribe), None, false),
        b"PUNSUBSCRIBE" => spec(Kind::PubSub(PubSub::PUnsubscribe), None, false),
        b"SUNSUBSCRIBE" => spec(Kind::PubSub(PubSub::SUnsubscribe), All, false),
        b"PUBLISH" | b"PUBSUB" => spec(Kind::Forward, None, false),
        b"SPUBLISH" => spec(Kind::Forward, First, false),
        b"SYNC" | b"PSYNC" | b"REPLCONF" => spec(Kind::Unsupported(REPLICATION), None, false),
        b"CLUSTER" | b"READONLY" | b"READWRITE" | b"ASKING" => {
            spec(Kind::Unsupported(CLUSTER), None, false)
        }
        b"MONITOR" | b"SHUTDOWN" | b"DEBUG" | b"CONFIG" | b"REPLICAOF" | b"SLAVEOF"
        | b"FAILOVER" | b"SAVE" | b"BGSAVE" | b"BGREWRITEAOF" | b"ACL" | b"SWAPDB" | b"MOVE"
        | b"MIGRATE" | b"RESET" | b"MODULE" | b"SLOWLOG" | b"LATENCY" | b"ROLE" | b"SENTINEL" => {
            spec(Kind::Unsupported(ADMIN), None, false)
        }
        _ => forward(First, false),
    }
}

fn forward(keys: Keys, readonly: bool) -> Spec {
    Spec {
        kind: Kind::Forward,
        keys,
        readonly,
    }
}

/// The indexes in `args` of the command's keys, appended to `out`.
pub fn key_indexes<A: ArgList + ?Sized>(keys: Keys, args: &A, out: &mut Vec<usize>) {
    let n = args.count();
    match keys {
        Keys::None => {}
        Keys::First => {
            if n > 1 {
                out.push(1);
            }
        }
        Keys::All => out.extend(1..n),
        Keys::AllButLast => out.extend(1..n.saturating_sub(1)),
        Keys::Pairs => out.extend((1..n).step_by(2)),
        Keys::Two => out.extend((1..n.min(3)).take(2)),
        Keys::NumKeysAt(usize::MAX, _) => out.extend(2..n),
        Keys::NumKeysAt(at, dest_first) => {
            if dest_first && n > 1 {
                out.push(1);
            }
            let count = args
                .arg(at)
                .and_then(|a| std::str::from_utf8(a).ok())
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(0);
            out.extend((at + 1..n).take(count));
        }
        Keys::Streams => {
            if let Some(p) = (0..n).find(|&i| {
                args.arg(i)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"STREAMS"))
            }) {
                let rest = n - p - 1;
                out.extend((p + 1..n).take(rest / 2));
            }
        }
    }
}

/// The hash slot of a key.
pub fn slot(key: &[u8]) -> u16 {
    redis_cluster::slot::key_hash_slot(key)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
