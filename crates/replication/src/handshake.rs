//! The replica's handshake with its primary, from the first `PING` to the
//! answer to `PSYNC`, as upstream's `syncWithMaster` /
//! `slaveTryPartialResynchronization` do it, log lines included.
//!
//! The caller connects (logging "Connecting to MASTER …", "MASTER <->
//! REPLICA sync started" and "Non blocking connect for SYNC fired the
//! event."), wraps the socket in a [`LineLink`], runs [`handshake`], and
//! then either receives the payload ([`crate::payload`]) or streams.

use redis_common::log::LogLevel;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::ReplError;
use crate::ids::REPLID_LEN;
use crate::line::{LineLink, Phase};
use crate::log::{notice, warning, Log};

/// The history we offer to continue (upstream's cached master): the ID we
/// follow and our offset; PSYNC asks for `offset + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPrimary {
    /// Replication ID to continue.
    pub replid: String,
    /// Last offset we processed.
    pub offset: i64,
}

/// What the handshake sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandshakeParams {
    /// `masterauth`: sends `AUTH` when set.
    pub auth: Option<String>,
    /// `masteruser`: `AUTH user pass` instead of `AUTH pass`.
    pub user: Option<String>,
    /// `REPLCONF listening-port` (`replica-announce-port` or our port).
    pub announce_port: u16,
    /// `REPLCONF ip-address`, only sent when `replica-announce-ip` is set.
    pub announce_ip: Option<String>,
    /// Our history, or `None` for `PSYNC ? -1`.
    pub cached: Option<CachedPrimary>,
    /// We hand over after a `FAILOVER`: `PSYNC … FAILOVER` makes the
    /// target promote itself, and a refusal aborts instead of falling
    /// back to `SYNC`.
    pub failover: bool,
}

/// How the primary answered `PSYNC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PsyncOutcome {
    /// A full sync follows: the RDB payload, then the stream from
    /// `offset`. `replid` is empty and `offset` -1 when the primary's
    /// `+FULLRESYNC` line was malformed (upstream blanks the ID so no
    /// later PSYNC can match it).
    FullResync {
        /// The primary's replication ID.
        replid: String,
        /// The offset the RDB corresponds to.
        offset: i64,
    },
    /// The stream continues from our offset. `new_replid` is set when the
    /// primary announced a different ID: the caller shifts its IDs
    /// ([`crate::ReplIds::shift`]) and disconnects its own replicas so
    /// they learn it, as upstream does.
    Continue {
        /// The primary's new replication ID, if it changed.
        new_replid: Option<String>,
    },
    /// The primary does not understand PSYNC (or answered oddly): `SYNC`
    /// was sent, an RDB payload follows, and the history is unknown.
    Sync,
}

/// Whether a `PING` answer lets the handshake go on: any `+` reply, or an
/// authentication error (`AUTH` comes next); old servers said
/// "operation not permitted".
fn ping_ok(reply: &str) -> bool {
    reply.starts_with('+')
        || reply.starts_with("-NOAUTH")
        || reply.starts_with("-NOPERM")
        || reply.starts_with("-ERR operation not permitted")
}

/// Runs the handshake on a connected link. On success the link's buffer
/// holds whatever the primary sent after its PSYNC answer (the payload
/// header, or stream bytes after `+CONTINUE`).
///
/// Errors are not logged here: the caller logs `err` at `err.level()`.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut LineLink<S>,
    params: &HandshakeParams,
    log: &mut dyn Log,
) -> Result<PsyncOutcome, ReplError> {
    link.send(&[b"PING"]).await?;
    let pong = link.read_line(Phase::Handshake).await?;
    if !ping_ok(&pong) {
        return Err(ReplError::PingReply(pong));
    }
    notice(
        log,
        "Master replied to PING, replication can continue...".into(),
    );

    // AUTH and the REPLCONFs go out together and their replies are read in
    // order, as upstream pipelines them.
    let mut out = bytes::BytesMut::new();
    if let Some(pass) = &params.auth {
        match &params.user {
            Some(user) => redis_resp::encode_request(
                &[&b"AUTH"[..], user.as_bytes(), pass.as_bytes()],
                &mut out,
            ),
            None => redis_resp::encode_request(&[&b"AUTH"[..], pass.as_bytes()], &mut out),
        }
    }
    let port = params.announce_port.to_string();
    redis_resp::encode_request(
        &[&b"REPLCONF"[..], b"listening-port", port.as_bytes()],
        &mut out,
    );
    if let Some(ip) = &params.announce_ip {
        redis_resp::encode_request(&[&b"REPLCONF"[..], b"ip-address", ip.as_bytes()], &mut out);
    }
    redis_resp::encode_request(
        &[&b"REPLCONF"[..], b"capa", b"eof", b"capa", b"psync2"],
        &mut out,
    );
    link.write_raw(&out).await?;

    if params.auth.is_some() {
        let r = link.read_line(Phase::Handshake).await?;
        if r.starts_with('-') {
            return Err(ReplError::Auth(r));
        }
    }
    let r = link.read_line(Phase::Handshake).await?;
    if r.starts_with('-') {
        notice(
            log,
            format!("(Non critical) Master does not understand REPLCONF listening-port: {r}"),
        );
    }
    if params.announce_ip.is_some() {
        let r = link.read_line(Phase::Handshake).await?;
        if r.starts_with('-') {
            notice(
                log,
                format!("(Non critical) Master does not understand REPLCONF ip-address: {r}"),
            );
        }
    }
    let r = link.read_line(Phase::Handshake).await?;
    if r.starts_with('-') {
        notice(
            log,
            format!("(Non critical) Master does not understand REPLCONF capa: {r}"),
        );
    }

    let (replid, offset) = match &params.cached {
        Some(c) => {
            let o = c.offset.saturating_add(1).to_string();
            notice(
                log,
                format!(
                    "Trying a partial resynchronization (request {}:{o}).",
                    c.replid
                ),
            );
            (c.replid.as_str(), o)
        }
        None => {
            notice(
                log,
                "Partial resynchronization not possible (no cached master)".into(),
            );
            ("?", "-1".to_string())
        }
    };
    if params.failover {
        notice(log, "Sending PSYNC FAILOVER to the failover target.".into());
        link.send(&[b"PSYNC", replid.as_bytes(), offset.as_bytes(), b"FAILOVER"])
            .await?;
    } else {
        link.send(&[b"PSYNC", replid.as_bytes(), offset.as_bytes()])
            .await?;
    }

    // A primary preparing the RDB on disk sends bare newlines as
    // keep-alives before its answer.
    let reply = loop {
        let l = link.read_line(Phase::Handshake).await?;
        if !l.is_empty() {
            break l;
        }
    };
    psync_reply(link, params, &reply, log).await
}

/// Interprets the answer to `PSYNC` (falling back to `SYNC` when the
/// primary does not support it).
async fn psync_reply<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut LineLink<S>,
    params: &HandshakeParams,
    reply: &str,
    log: &mut dyn Log,
) -> Result<PsyncOutcome, ReplError> {
    if reply.starts_with("+FULLRESYNC") {
        return Ok(match parse_fullresync(reply) {
            Some((replid, offset)) => {
                notice(log, format!("Full resync from master: {replid}:{offset}"));
                PsyncOutcome::FullResync { replid, offset }
            }
            None => {
                warning(log, "Master replied with wrong +FULLRESYNC syntax.".into());
                PsyncOutcome::FullResync {
                    replid: String::new(),
                    offset: -1,
                }
            }
        });
    }
    if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        notice(
            log,
            "Successful partial resynchronization with master.".into(),
        );
        // `+CONTINUE <40 chars>`: anything else (old primaries send a bare
        // `+CONTINUE`) keeps our ID.
        let announced = rest.get(1..).filter(|id| id.len() == REPLID_LEN);
        let ours = params.cached.as_ref().map_or("", |c| c.replid.as_str());
        let new_replid = match announced {
            Some(id) if id != ours => {
                warning(log, format!("Master replication ID changed to {id}"));
                Some(id.to_string())
            }
            _ => None,
        };
        notice(
            log,
            "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.".into(),
        );
        return Ok(PsyncOutcome::Continue { new_replid });
    }
    let try_later = reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING");
    if try_later && !params.failover {
        return Err(ReplError::PsyncTryLater(reply.to_string()));
    }
    if try_later {
        log.log(
            LogLevel::Notice,
            ReplError::PsyncTryLater(reply.to_string()).to_string(),
        );
    } else if reply.starts_with("-ERR") {
        notice(
            log,
            format!("Master does not support PSYNC or is in error state (reply: {reply})"),
        );
    } else {
        warning(
            log,
            format!("Unexpected reply to PSYNC from master: {reply}"),
        );
    }
    if params.failover {
        return Err(ReplError::FailoverRejected(reply.to_string()));
    }
    notice(log, "Retrying with SYNC...".into());
    link.write_raw(b"SYNC\r\n").await?;
    Ok(PsyncOutcome::Sync)
}

/// `+FULLRESYNC <replid> <offset>`: the ID must be exactly 40 characters;
/// the offset is read like `strtoll` (leading digits, 0 if none).
fn parse_fullresync(reply: &str) -> Option<(String, i64)> {
    let (_, after) = reply.split_once(' ')?;
    let (id, off) = after.split_once(' ')?;
    if id.len() != REPLID_LEN {
        return None;
    }
    Some((id.to_string(), leading_int(off)))
}

/// The integer at the start of `s` (optional sign, digits), 0 when there
/// is none, saturating on overflow.
fn leading_int(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
