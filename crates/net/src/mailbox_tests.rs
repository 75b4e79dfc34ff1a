//! Tests of `mailbox.rs`.

use super::*;

#[tokio::test]
async fn fifo_wake_and_close() {
    let (tx, mut rx) = push_channel();
    tx.send(Bytes::from_static(b"a")).unwrap();
    tx.send(Bytes::from_static(b"b")).unwrap();
    assert_eq!(rx.recv().await.unwrap(), "a");
    assert_eq!(rx.try_recv().unwrap(), "b");
    assert_eq!(rx.try_recv(), None);
    // A waiting receiver is woken by a send from another thread.
    let tx2 = tx.clone();
    let h = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        tx2.send(Bytes::from_static(b"c")).unwrap();
    });
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
    assert_eq!(got.unwrap().unwrap(), "c");
    h.join().unwrap();
    drop(rx);
    assert_eq!(tx.send(Bytes::from_static(b"d")), Err(Closed));
}

#[test]
fn signal_flags_wake_the_mailbox() {
    let (tx, mut rx) = push_channel();
    let s = ConnSignal::new(tx);
    assert!(!s.is_killed() && !s.close_requested());
    s.close_after_flush();
    assert!(s.close_requested() && !s.is_killed());
    assert_eq!(rx.try_recv(), Some(Bytes::new()));
    s.kill();
    assert!(s.is_killed());
    assert_eq!(rx.try_recv(), Some(Bytes::new()));
}
