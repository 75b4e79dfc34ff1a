//! Tests of the inbox handoff and of backend connections against small
//! fake servers (FIFO matching, swallowed replies, timeouts, relaying,
//! garbage, refused connections).

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn tag(seq: u64) -> Tag {
    Tag { seq, part: 0 }
}

#[test]
fn inbox_keeps_order_and_bytes() {
    let inbox = Inbox::default();
    inbox.put(tag(1), b"+OK\r\n");
    inbox.fail(tag(2), Fail::NotSent("x".into()));
    inbox.put_many(b"..:1\r\n:22\r\n", &[(tag(3), 2, 4), (tag(4), 6, 5)]);
    let mut got = InboxData::default();
    inbox.take(&mut got);
    let tags: Vec<u64> = got.items.iter().map(|i| i.tag.seq).collect();
    assert_eq!(tags, vec![1, 2, 3, 4]);
    assert_eq!(&got.bytes[..], b"+OK\r\n:1\r\n:22\r\n");
    assert_eq!(got.items[1].fail, Some(Fail::NotSent("x".into())));
    assert_eq!(got.items[1].len, 0);
    let mut again = InboxData::default();
    inbox.take(&mut again);
    assert!(again.items.is_empty());
}

/// A fake server answering each read with `reply` (nothing for `None`).
async fn fake(reply: Option<&'static [u8]>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    if let Some(r) = reply {
                        // One reply per request in the read.
                        let count = buf[..n].iter().filter(|&&b| b == b'*').count();
                        for _ in 0..count {
                            if s.write_all(r).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

fn pool(timeout: Option<Duration>) -> Pool {
    Pool::new(
        Setup {
            connect_timeout: Duration::from_secs(2),
            request_timeout: timeout,
            ..Setup::default()
        },
        1,
    )
}

async fn collect(inbox: &Sink, n: usize) -> InboxData {
    let mut all = InboxData::default();
    let deadline = Instant::now() + Duration::from_secs(5);
    while all.items.len() < n && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(200), inbox.wait()).await;
        let mut got = InboxData::default();
        inbox.take(&mut got);
        all.bytes.extend_from_slice(&got.bytes);
        all.items.extend(got.items);
    }
    all
}

#[tokio::test]
async fn replies_are_matched_in_order_and_swallowed() {
    let addr = fake(Some(b"+OK\r\n")).await;
    let pool = pool(None);
    let conn = pool.get(&addr, false, 7, Require::Any);
    let inbox: Sink = Arc::default();
    let req = b"*1\r\n$4\r\nPING\r\n";
    conn.send(req, false, 0, Some((tag(0), &inbox))).unwrap();
    // Two requests, the first reply swallowed.
    let two = [req.as_slice(), req].concat();
    conn.send(&two, false, 1, Some((tag(1), &inbox))).unwrap();
    conn.send(req, true, 0, Some((tag(2), &inbox))).unwrap();
    let got = collect(&inbox, 3).await;
    let tags: Vec<u64> = got.items.iter().map(|i| i.tag.seq).collect();
    assert_eq!(tags, vec![0, 1, 2]);
    assert_eq!(&got.bytes[..], b"+OK\r\n+OK\r\n+OK\r\n");
    let stats = pool.all_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].1.requests.load(Ordering::Relaxed), 3);
    // The same shared connection for the same client.
    assert!(Arc::ptr_eq(
        &pool.get(&addr, false, 7, Require::Any).state,
        &conn.state
    ));
}

#[tokio::test]
async fn a_silent_backend_times_out() {
    let addr = fake(None).await;
    let pool = pool(Some(Duration::from_millis(100)));
    let conn = pool.get(&addr, false, 0, Require::Any);
    let inbox: Sink = Arc::default();
    conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, Some((tag(5), &inbox)))
        .unwrap();
    let got = collect(&inbox, 1).await;
    assert!(matches!(got.items[0].fail, Some(Fail::Timeout(_))));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!conn.is_alive());
}

#[tokio::test]
async fn garbage_fails_the_requests() {
    let addr = fake(Some(b"?bad\r\n")).await;
    let pool = pool(None);
    let conn = pool.get(&addr, false, 0, Require::Any);
    let inbox: Sink = Arc::default();
    conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, Some((tag(1), &inbox)))
        .unwrap();
    let got = collect(&inbox, 1).await;
    assert!(matches!(got.items[0].fail, Some(Fail::Garbage(_))));
}

#[tokio::test]
async fn a_relay_connection_delivers_every_frame() {
    let addr = fake(Some(b">2\r\n$4\r\nping\r\n$0\r\n\r\n")).await;
    let pool = pool(None);
    let inbox: Sink = Arc::default();
    let conn = pool.dedicated(&addr, false, Require::Any, Use::Relay(inbox.clone()));
    conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, None).unwrap();
    let got = collect(&inbox, 1).await;
    assert_eq!(got.items[0].tag, Tag::RELAY);
    assert_eq!(&got.bytes[..], b">2\r\n$4\r\nping\r\n$0\r\n\r\n");
    conn.kill();
    let lost = collect(&inbox, 1).await;
    assert!(matches!(lost.items[0].fail, Some(Fail::Lost(_))));
}

#[tokio::test]
async fn a_refused_connection_fails_as_not_sent() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let pool = pool(None);
    let conn = pool.get(&addr, false, 0, Require::Any);
    let inbox: Sink = Arc::default();
    let _ = conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, Some((tag(1), &inbox)));
    let got = collect(&inbox, 1).await;
    assert!(matches!(got.items[0].fail, Some(Fail::NotSent(_))));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, Some((tag(2), &inbox))),
        Err(Closed)
    );
    assert!(
        pool.all_stats()[0]
            .1
            .connect_failures
            .load(Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test]
async fn refusal_streaks() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let pool = pool(None);
    assert_eq!(pool.refused_since(&addr), None);
    let inbox: Sink = Arc::default();
    let conn = pool.get(&addr, false, 0, Require::Any);
    let _ = conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, Some((tag(1), &inbox)));
    collect(&inbox, 1).await;
    // The refusal opened a streak and woke whoever watches refusals.
    tokio::time::timeout(Duration::from_secs(5), pool.alarms().notified())
        .await
        .unwrap();
    let since = pool.refused_since(&addr).unwrap();
    // Another refusal keeps the streak's start.
    pool.note_connect(&addr, Reach::Refused);
    assert_eq!(pool.refused_since(&addr), Some(since));
    // A timeout (or any other error) ends it, a refusal opens a new one.
    pool.note_connect(&addr, Reach::Unknown);
    assert_eq!(pool.refused_since(&addr), None);
    pool.note_connect(&addr, Reach::Refused);
    assert!(pool.refused_since(&addr).is_some());
    pool.reset_refusals(&addr);
    assert_eq!(pool.refused_since(&addr), None);
    pool.note_connect(&addr, Reach::Refused);
    // A connection that comes up ends it.
    let l = TcpListener::bind(&addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    tokio::time::sleep(RECONNECT_BACKOFF * 2).await;
    let conn = pool.get(&addr, false, 1, Require::Any);
    let _ = conn.send(b"*1\r\n$4\r\nPING\r\n", false, 0, Some((tag(2), &inbox)));
    let got = collect(&inbox, 1).await;
    assert!(got.items[0].fail.is_some(), "{got:?}");
    assert_eq!(pool.refused_since(&addr), None);
    // The server closed the connection: a loss, and an alarm.
    assert!(pool.lost_at(&addr).is_some());
    tokio::time::timeout(Duration::from_secs(5), pool.alarms().notified())
        .await
        .unwrap();
    // Statistics are never created by a look-up.
    assert_eq!(pool.refused_since("127.0.0.1:1"), None);
    assert!(pool.all_stats().iter().all(|(a, _)| a == &addr));
}

#[test]
fn reach_of_errors() {
    use std::io::{Error, ErrorKind};
    assert_eq!(
        Reach::of_error(&Error::from(ErrorKind::ConnectionRefused)),
        Reach::Refused
    );
    assert_eq!(
        Reach::of_error(&Error::from(ErrorKind::TimedOut)),
        Reach::Unknown
    );
    assert_eq!(
        Reach::of_error(&Error::from(ErrorKind::ConnectionReset)),
        Reach::Unknown
    );
}
