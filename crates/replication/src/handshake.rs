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
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    const T: Duration = Duration::from_secs(5);
    const ID: &str = "0123456789abcdef0123456789abcdef01234567";
    const ID2: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn req(args: &[&str]) -> Vec<u8> {
        let mut out = bytes::BytesMut::new();
        redis_resp::encode_request(args, &mut out);
        out.to_vec()
    }

    /// A fake primary: for each step, reads exactly the expected request
    /// bytes (asserting them) and answers.
    async fn primary(mut s: DuplexStream, steps: Vec<(Vec<u8>, Vec<u8>)>) -> DuplexStream {
        for (want, answer) in steps {
            let mut got = vec![0u8; want.len()];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
            s.write_all(&answer).await.unwrap();
        }
        s
    }

    type Lines = Arc<Mutex<Vec<(LogLevel, String)>>>;

    async fn run(
        params: HandshakeParams,
        steps: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> (
        Result<PsyncOutcome, ReplError>,
        Vec<String>,
        LineLink<DuplexStream>,
    ) {
        tokio::time::timeout(T, async move {
            let (a, b) = tokio::io::duplex(4096);
            let server = tokio::spawn(primary(b, steps));
            let mut link = LineLink::new(a, Duration::from_secs(2));
            let lines: Lines = Arc::default();
            let sink = lines.clone();
            let mut log = move |l: LogLevel, m: String| sink.lock().unwrap().push((l, m));
            let out = handshake(&mut link, &params, &mut log).await;
            // Keep the fake primary's end open until the result is in.
            let _b = server.await.unwrap();
            let lines = lines
                .lock()
                .unwrap()
                .iter()
                .map(|(_, m)| m.clone())
                .collect();
            (out, lines, link)
        })
        .await
        .unwrap()
    }

    fn handshake_steps(extra: &[&[&str]], replies: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pipelined = Vec::new();
        for r in extra {
            pipelined.extend(req(r));
        }
        vec![
            (req(&["PING"]), b"+PONG\r\n".to_vec()),
            (pipelined, replies.as_bytes().to_vec()),
        ]
    }

    #[tokio::test]
    async fn fresh_replica_full_resync() {
        let mut steps = handshake_steps(
            &[
                &["REPLCONF", "listening-port", "6380"],
                &["REPLCONF", "capa", "eof", "capa", "psync2"],
            ],
            "+OK\r\n+OK\r\n",
        );
        steps.push((
            req(&["PSYNC", "?", "-1"]),
            format!("\n\n+FULLRESYNC {ID} 1234\r\n$EOF:").into_bytes(),
        ));
        let params = HandshakeParams {
            announce_port: 6380,
            ..Default::default()
        };
        let (out, lines, link) = run(params, steps).await;
        assert_eq!(
            out,
            Ok(PsyncOutcome::FullResync {
                replid: ID.into(),
                offset: 1234
            })
        );
        assert_eq!(
            lines,
            [
                "Master replied to PING, replication can continue...",
                "Partial resynchronization not possible (no cached master)",
                &format!("Full resync from master: {ID}:1234"),
            ]
        );
        // What followed the answer stays for the payload reader.
        assert!(link.buffer().starts_with(b"$EOF:") || link.buffer().is_empty());
    }

    #[tokio::test]
    async fn auth_user_announce_and_partial_with_new_id() {
        let mut steps = handshake_steps(
            &[
                &["AUTH", "alice", "secret"],
                &["REPLCONF", "listening-port", "7000"],
                &["REPLCONF", "ip-address", "10.1.2.3"],
                &["REPLCONF", "capa", "eof", "capa", "psync2"],
            ],
            "+OK\r\n-ERR unknown\r\n-ERR nope\r\n-ERR what\r\n",
        );
        steps.push((
            req(&["PSYNC", ID, "101"]),
            format!("+CONTINUE {ID2}\r\n*1\r\n$4\r\nPING\r\n").into_bytes(),
        ));
        let params = HandshakeParams {
            auth: Some("secret".into()),
            user: Some("alice".into()),
            announce_port: 7000,
            announce_ip: Some("10.1.2.3".into()),
            cached: Some(CachedPrimary {
                replid: ID.into(),
                offset: 100,
            }),
            failover: false,
        };
        let (out, lines, mut link) = run(params, steps).await;
        assert_eq!(
            out,
            Ok(PsyncOutcome::Continue {
                new_replid: Some(ID2.into())
            })
        );
        assert_eq!(
            lines,
            [
                "Master replied to PING, replication can continue...",
                "(Non critical) Master does not understand REPLCONF listening-port: -ERR unknown",
                "(Non critical) Master does not understand REPLCONF ip-address: -ERR nope",
                "(Non critical) Master does not understand REPLCONF capa: -ERR what",
                &format!("Trying a partial resynchronization (request {ID}:101)."),
                "Successful partial resynchronization with master.",
                &format!("Master replication ID changed to {ID2}"),
                "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
            ]
        );
        // The stream bytes after +CONTINUE stay in the buffer.
        tokio::time::timeout(T, async {
            while link.buffer().len() < 14 {
                link.read_more(Phase::Handshake).await.unwrap();
            }
        })
        .await
        .unwrap();
        assert_eq!(&link.buffer()[..], b"*1\r\n$4\r\nPING\r\n");
    }

    #[tokio::test]
    async fn continue_with_same_or_no_id() {
        for answer in [format!("+CONTINUE {ID}\r\n"), "+CONTINUE\r\n".to_string()] {
            let mut steps = handshake_steps(
                &[
                    &["REPLCONF", "listening-port", "1"],
                    &["REPLCONF", "capa", "eof", "capa", "psync2"],
                ],
                "+OK\r\n+OK\r\n",
            );
            steps.push((req(&["PSYNC", ID, "1", "FAILOVER"]), answer.into_bytes()));
            let params = HandshakeParams {
                announce_port: 1,
                cached: Some(CachedPrimary {
                    replid: ID.into(),
                    offset: 0,
                }),
                failover: true,
                ..Default::default()
            };
            let (out, lines, _) = run(params, steps).await;
            assert_eq!(out, Ok(PsyncOutcome::Continue { new_replid: None }));
            assert!(lines.contains(&"Sending PSYNC FAILOVER to the failover target.".to_string()));
        }
    }

    #[tokio::test]
    async fn ping_and_auth_refusals() {
        let steps = vec![(req(&["PING"]), b"-ERR weird\r\n".to_vec())];
        let (out, _, _) = run(HandshakeParams::default(), steps).await;
        assert_eq!(out, Err(ReplError::PingReply("-ERR weird".into())));
        assert_eq!(
            out.unwrap_err().to_string(),
            "Error reply to PING from master: '-ERR weird'"
        );

        // NOAUTH to PING is fine; the AUTH reply decides.
        let steps = vec![
            (
                req(&["PING"]),
                b"-NOAUTH Authentication required.\r\n".to_vec(),
            ),
            (
                [
                    req(&["AUTH", "pw"]),
                    req(&["REPLCONF", "listening-port", "0"]),
                    req(&["REPLCONF", "capa", "eof", "capa", "psync2"]),
                ]
                .concat(),
                b"-WRONGPASS invalid username-password pair or user is disabled.\r\n".to_vec(),
            ),
        ];
        let params = HandshakeParams {
            auth: Some("pw".into()),
            ..Default::default()
        };
        let (out, _, _) = run(params, steps).await;
        assert_eq!(
            out.unwrap_err().to_string(),
            "Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user is disabled."
        );
    }

    fn psync_steps(answer: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut steps = handshake_steps(
            &[
                &["REPLCONF", "listening-port", "0"],
                &["REPLCONF", "capa", "eof", "capa", "psync2"],
            ],
            "+OK\r\n+OK\r\n",
        );
        steps.push((req(&["PSYNC", "?", "-1"]), answer.as_bytes().to_vec()));
        steps
    }

    #[tokio::test]
    async fn try_later_and_fallback_to_sync() {
        let (out, _, _) = run(
            HandshakeParams::default(),
            psync_steps("-LOADING Redis is loading the dataset in memory\r\n"),
        )
        .await;
        let err = out.unwrap_err();
        assert_eq!(err.level(), LogLevel::Notice);
        assert_eq!(
            err.to_string(),
            "Master is currently unable to PSYNC but should be in the future: -LOADING Redis is loading the dataset in memory"
        );

        let mut steps = psync_steps("-ERR unknown command 'PSYNC'\r\n");
        steps.push((b"SYNC\r\n".to_vec(), Vec::new()));
        let (out, lines, _) = run(HandshakeParams::default(), steps).await;
        assert_eq!(out, Ok(PsyncOutcome::Sync));
        assert_eq!(
            &lines[2..],
            [
                "Master does not support PSYNC or is in error state (reply: -ERR unknown command 'PSYNC')",
                "Retrying with SYNC...",
            ]
        );

        let mut steps = psync_steps("+WHATEVER\r\n");
        steps.push((b"SYNC\r\n".to_vec(), Vec::new()));
        let (out, lines, _) = run(HandshakeParams::default(), steps).await;
        assert_eq!(out, Ok(PsyncOutcome::Sync));
        assert_eq!(lines[2], "Unexpected reply to PSYNC from master: +WHATEVER");
    }

    #[tokio::test]
    async fn failover_refusal_aborts_without_sync() {
        let mut steps = handshake_steps(
            &[
                &["REPLCONF", "listening-port", "0"],
                &["REPLCONF", "capa", "eof", "capa", "psync2"],
            ],
            "+OK\r\n+OK\r\n",
        );
        steps.push((
            req(&["PSYNC", ID, "6", "FAILOVER"]),
            b"-ERR PSYNC FAILOVER replid must match my replid.\r\n".to_vec(),
        ));
        let params = HandshakeParams {
            cached: Some(CachedPrimary {
                replid: ID.into(),
                offset: 5,
            }),
            failover: true,
            ..Default::default()
        };
        let (out, lines, _) = run(params, steps).await;
        assert_eq!(
            out,
            Err(ReplError::FailoverRejected(
                "-ERR PSYNC FAILOVER replid must match my replid.".into()
            ))
        );
        assert!(lines
            .last()
            .unwrap()
            .starts_with("Master does not support PSYNC"));
    }

    #[tokio::test]
    async fn malformed_fullresync_blanks_the_id() {
        let (out, lines, _) = run(
            HandshakeParams::default(),
            psync_steps("+FULLRESYNC shortid 10\r\n"),
        )
        .await;
        assert_eq!(
            out,
            Ok(PsyncOutcome::FullResync {
                replid: String::new(),
                offset: -1
            })
        );
        assert_eq!(lines[2], "Master replied with wrong +FULLRESYNC syntax.");
    }

    #[test]
    fn fullresync_parsing() {
        assert_eq!(
            parse_fullresync(&format!("+FULLRESYNC {ID} 99")),
            Some((ID.to_string(), 99))
        );
        assert_eq!(
            parse_fullresync(&format!("+FULLRESYNC {ID} 12abc")),
            Some((ID.to_string(), 12))
        );
        assert_eq!(
            parse_fullresync(&format!("+FULLRESYNC {ID} x")),
            Some((ID.to_string(), 0))
        );
        assert_eq!(parse_fullresync(&format!("+FULLRESYNC {ID}")), None);
        assert_eq!(parse_fullresync("+FULLRESYNC"), None);
        assert_eq!(leading_int("-5"), -5);
        assert_eq!(leading_int("99999999999999999999999"), i64::MAX);
    }
}
