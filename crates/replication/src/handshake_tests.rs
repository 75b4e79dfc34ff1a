//! Tests of `handshake.rs`.

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
