//! Tests of `payload.rs`.

use super::*;
use redis_common::log::LogLevel;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, DuplexStream};

const T: Duration = Duration::from_secs(10);
const MARK: &[u8; 40] = b"abcdefghijabcdefghijabcdefghijabcdefghij";

/// Sends `parts` one write each (yielding between them so they tend
/// to arrive as separate reads), then closes.
fn feeder(mut w: DuplexStream, parts: Vec<Vec<u8>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for p in parts {
            // The reader may stop early (an error): later parts are moot.
            if w.write_all(&p).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
}

type Lines = Arc<Mutex<Vec<String>>>;

async fn receive(
    parts: Vec<Vec<u8>>,
    target: PayloadTarget,
) -> (Result<Payload, ReplError>, Vec<u8>, Vec<String>) {
    tokio::time::timeout(T, async move {
        // A small pipe so large payloads really arrive in pieces.
        let (a, b) = tokio::io::duplex(97);
        let w = feeder(b, parts);
        let mut link = LineLink::new(a, Duration::from_secs(5));
        let lines: Lines = Arc::default();
        let sink = lines.clone();
        let mut log = move |_: LogLevel, m: String| sink.lock().unwrap().push(m);
        let out = receive_payload(&mut link, &target, &mut log).await;
        // Whatever else arrives after the payload.
        while link.read_more(Phase::Transfer).await.is_ok() {}
        let rest = link.buffer().to_vec();
        drop(link);
        w.await.unwrap();
        let lines = lines.lock().unwrap().clone();
        (out, rest, lines)
    })
    .await
    .unwrap()
}

fn memory(p: Payload) -> Vec<u8> {
    match p {
        Payload::Memory(v) => v,
        Payload::File(_) => panic!("file"),
    }
}

fn rdb(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 13) as u8).collect()
}

#[tokio::test]
async fn len_form_split_at_every_offset_keeps_what_follows() {
    let body = rdb(150);
    let mut whole = b"\n\n$150\r\n".to_vec();
    whole.extend_from_slice(&body);
    whole.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    for cut in 0..whole.len() {
        let parts = vec![whole[..cut].to_vec(), whole[cut..].to_vec()];
        let (out, rest, lines) = receive(parts, PayloadTarget::Memory).await;
        assert_eq!(memory(out.unwrap()), body, "cut {cut}");
        assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n", "cut {cut}");
        assert_eq!(
            lines,
            ["MASTER <-> REPLICA sync: receiving 150 bytes from master to parser"]
        );
    }
}

#[tokio::test]
async fn eof_form_split_at_every_offset() {
    let body = rdb(130);
    let mut whole = b"$EOF:".to_vec();
    whole.extend_from_slice(MARK);
    whole.extend_from_slice(b"\r\n");
    whole.extend_from_slice(&body);
    whole.extend_from_slice(MARK);
    for cut in 0..whole.len() {
        let parts = vec![whole[..cut].to_vec(), whole[cut..].to_vec()];
        let (out, rest, lines) = receive(parts, PayloadTarget::Memory).await;
        assert_eq!(memory(out.unwrap()), body, "cut {cut}");
        assert!(rest.is_empty());
        assert_eq!(
            lines,
            ["MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser"]
        );
    }
}

#[tokio::test]
async fn eof_mark_straddling_many_small_reads() {
    let body = rdb(1000);
    let mut whole = b"$EOF:".to_vec();
    whole.extend_from_slice(MARK);
    whole.extend_from_slice(b"\r\n");
    let head = whole.len();
    whole.extend_from_slice(&body);
    // A fake partial mark inside the body must not end it early.
    whole.extend_from_slice(&MARK[..39]);
    whole.extend_from_slice(b"Z");
    whole.extend_from_slice(MARK);
    let mut want = body.clone();
    want.extend_from_slice(&MARK[..39]);
    want.push(b'Z');
    for step in [1usize, 3, 17, 39, 40, 41] {
        let mut parts = vec![whole[..head].to_vec()];
        parts.extend(whole[head..].chunks(step).map(<[u8]>::to_vec));
        let (out, _, _) = receive(parts, PayloadTarget::Memory).await;
        assert_eq!(memory(out.unwrap()), want, "step {step}");
    }
}

#[tokio::test]
async fn empty_payloads() {
    let (out, _, _) = receive(vec![b"$0\r\n".to_vec()], PayloadTarget::Memory).await;
    assert!(memory(out.unwrap()).is_empty());
    let mut eof = b"$EOF:".to_vec();
    eof.extend_from_slice(MARK);
    eof.extend_from_slice(b"\r\n");
    eof.extend_from_slice(MARK);
    let (out, _, _) = receive(vec![eof], PayloadTarget::Memory).await;
    assert!(memory(out.unwrap()).is_empty());
}

#[tokio::test]
async fn bad_headers_are_errors() {
    let cases: Vec<(&[u8], ReplError)> = vec![
        (b"-ERR no\r\n", ReplError::MasterAborted("ERR no".into())),
        (b"+OK\r\n", ReplError::BadPayloadHeader("+OK".into())),
        (b"$-1\r\n", ReplError::BadPayloadLength("-1".into())),
        (
            b"$99999999999999999999999999\r\n",
            ReplError::BadPayloadLength("99999999999999999999999999".into()),
        ),
        (
            b"$EOF:short\r\n",
            ReplError::BadPayloadLength("EOF:short".into()),
        ),
    ];
    for (header, want) in cases {
        let (out, _, _) = receive(vec![header.to_vec()], PayloadTarget::Memory).await;
        assert_eq!(out.unwrap_err(), want);
    }
}

#[tokio::test]
async fn truncated_payload_is_an_io_error() {
    let (out, _, _) = receive(vec![b"$100\r\nabc".to_vec()], PayloadTarget::Memory).await;
    assert_eq!(
        out.unwrap_err().to_string(),
        "I/O error trying to sync with MASTER: connection lost"
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "redis-replication-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn to_disk_file_is_named_fsynced_and_removed_unless_kept() {
    let dir = temp_dir("disk");
    let body = rdb(5000);
    let mut whole = b"$EOF:".to_vec();
    whole.extend_from_slice(MARK);
    whole.extend_from_slice(b"\r\n");
    whole.extend_from_slice(&body);
    whole.extend_from_slice(MARK);
    let target = PayloadTarget::Disk { dir: dir.clone() };
    let (out, _, lines) = receive(vec![whole.clone()], target.clone()).await;
    assert_eq!(
        lines,
        ["MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"]
    );
    let Payload::File(f) = out.unwrap() else {
        panic!("memory")
    };
    let name = f.path().file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("temp-"), "{name}");
    assert!(
        name.ends_with(&format!(".{}.rdb", std::process::id())),
        "{name}"
    );
    assert_eq!(std::fs::read(f.path()).unwrap(), body);
    let path = f.path().to_path_buf();
    drop(f);
    assert!(!path.exists());

    // Renamed into place: stays.
    let (out, _, _) = receive(vec![whole], target).await;
    let Payload::File(f) = out.unwrap() else {
        panic!("memory")
    };
    let dump = dir.join("dump.rdb");
    f.persist_as(&dump).unwrap();
    assert_eq!(std::fs::read(&dump).unwrap(), body);

    // A failed rename removes the temp file and says why.
    let mut len_form = b"$3\r\nxyz".to_vec();
    len_form.extend_from_slice(b"tail");
    let (out, rest, _) = receive(vec![len_form], PayloadTarget::Disk { dir: dir.clone() }).await;
    assert_eq!(rest, b"tail");
    let Payload::File(f) = out.unwrap() else {
        panic!("memory")
    };
    let tmp = f.path().to_path_buf();
    let err = f
        .persist_as(&dir.join("missing-dir").join("dump.rdb"))
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("Failed trying to rename the temp DB into "));
    assert!(!tmp.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unwritable_dir_is_an_open_error() {
    let dir = temp_dir("nodir").join("does-not-exist");
    let (out, _, _) = receive(vec![b"$1\r\nx".to_vec()], PayloadTarget::Disk { dir }).await;
    assert!(out
        .unwrap_err()
        .to_string()
        .starts_with("Opening the temp file needed for MASTER <-> REPLICA synchronization: "));
}
