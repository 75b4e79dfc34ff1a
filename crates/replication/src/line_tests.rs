//! Tests of `line.rs`.

use super::*;
use tokio::io::AsyncWriteExt;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn lines_split_across_reads_and_bytes_after_stay() {
    tokio::time::timeout(T, async {
        let (a, mut b) = tokio::io::duplex(64);
        let mut link = LineLink::new(a, T);
        let w = tokio::spawn(async move {
            b.write_all(b"+PO").await.unwrap();
            tokio::task::yield_now().await;
            b.write_all(b"NG\r\n\n+OK\r\nrest").await.unwrap();
            b
        });
        assert_eq!(link.read_line(Phase::Handshake).await.unwrap(), "+PONG");
        assert_eq!(link.read_line(Phase::Handshake).await.unwrap(), "");
        assert_eq!(link.read_line(Phase::Handshake).await.unwrap(), "+OK");
        let _b = w.await.unwrap();
        while link.buffer().len() < 4 {
            link.read_more(Phase::Handshake).await.unwrap();
        }
        assert_eq!(&link.buffer()[..], b"rest");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn eof_and_timeout_errors_depend_on_the_phase() {
    tokio::time::timeout(T, async {
        let (a, b) = tokio::io::duplex(64);
        drop(b);
        let mut link = LineLink::new(a, T);
        assert_eq!(
            link.read_line(Phase::Handshake).await,
            Err(ReplError::ConnectionLost)
        );
        assert_eq!(
            link.read_more(Phase::Transfer).await,
            Err(ReplError::TransferIo("connection lost".into()))
        );

        let (a, _b) = tokio::io::duplex(64);
        let mut link = LineLink::new(a, Duration::from_millis(20));
        assert_eq!(
            link.read_line(Phase::Handshake).await,
            Err(ReplError::ConnectTimeout)
        );
        assert_eq!(
            link.read_more(Phase::Transfer).await,
            Err(ReplError::TransferTimeout)
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn endless_line_is_an_error() {
    tokio::time::timeout(T, async {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let w = tokio::spawn(async move {
            let junk = vec![b'x'; 8192];
            for _ in 0..20 {
                if b.write_all(&junk).await.is_err() {
                    break;
                }
            }
            b
        });
        let mut link = LineLink::new(a, T);
        assert_eq!(
            link.read_line(Phase::Handshake).await,
            Err(ReplError::LineTooLong(MAX_LINE))
        );
        drop(link);
        let _ = w.await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn buffer_grows_for_large_reads() {
    let (a, _b) = tokio::io::duplex(64);
    let mut link = LineLink::new(a, T);
    link.make_room();
    assert!(link.buffer().capacity() >= GROW);
}
