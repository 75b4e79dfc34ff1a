//! The durable writer: group commit under `always` (every acknowledged
//! append is in the file when its wait returns), everysec catching up in
//! the background, file switches, async callbacks and write errors.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use redis_aof::{AofError, AofWriter, Commit, FsyncPolicy};

fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("aof-writer-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn open_append(p: &std::path::Path) -> std::fs::File {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .unwrap()
}

#[test]
fn group_commit_always() {
    let dir = temp_path("always");
    let path = dir.join("appendonly.aof.1.incr.aof");
    let w = Arc::new(AofWriter::new(open_append(&path), 0, FsyncPolicy::Always).unwrap());
    let threads = 8;
    let per = 150;
    let mut hs = Vec::new();
    for t in 0..threads {
        let w = w.clone();
        let path = path.clone();
        hs.push(std::thread::spawn(move || {
            for i in 0..per {
                let rec = format!("*1\r\n$9\r\nt{t:02}i{i:05}\r\n");
                let seq = w.append(rec.as_bytes());
                w.wait_durable(seq).unwrap();
                // Acknowledged: the whole prefix up to seq is in the file,
                // and our record ends exactly at seq.
                let data = std::fs::read(&path).unwrap();
                assert!(data.len() as u64 >= seq);
                let end = seq as usize;
                assert_eq!(&data[end - rec.len()..end], rec.as_bytes());
                assert!(w.stats().synced >= seq);
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let st = w.stats();
    let total = (threads * per) as u64;
    assert_eq!(st.appended, st.written);
    assert_eq!(st.synced, st.appended);
    assert!(st.fsyncs >= 1 && st.fsyncs <= total, "{st:?}");
    // Every record is there exactly once.
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len() as u64, st.appended);
    let text = String::from_utf8(data).unwrap();
    for t in 0..threads {
        for i in 0..per {
            assert_eq!(text.matches(&format!("t{t:02}i{i:05}")).count(), 1);
        }
    }
    eprintln!("{} appends, {} fsyncs", total, st.fsyncs);
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn everysec_and_no() {
    let dir = temp_path("everysec");
    let path = dir.join("a.aof");
    let w = AofWriter::new(open_append(&path), 0, FsyncPolicy::EverySec).unwrap();
    let seq = w.append(b"*1\r\n$4\r\nPING\r\n");
    w.wait_durable(seq).unwrap();
    assert_eq!(std::fs::read(&path).unwrap().len() as u64, seq);
    // The background fsync catches up within about a second.
    let mut ok = false;
    for _ in 0..60 {
        if w.stats().synced >= seq {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ok, "{:?}", w.stats());
    w.set_policy(FsyncPolicy::No);
    let seq2 = w.append(b"*1\r\n$4\r\nPING\r\n");
    assert!(w
        .wait_durable_timeout(seq2, Duration::from_secs(5))
        .unwrap());
    w.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap().len() as u64, seq2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_fsync_on_rewrite_releases_after_write() {
    let dir = temp_path("norewrite");
    let path = dir.join("a.aof");
    let w = AofWriter::new(open_append(&path), 0, FsyncPolicy::Always).unwrap();
    w.set_no_fsync_on_rewrite(true);
    w.set_rewrite_active(true);
    let before = w.stats().fsyncs;
    let seq = w.append(b"abc");
    w.wait_durable(seq).unwrap();
    assert_eq!(w.stats().fsyncs, before);
    w.set_rewrite_active(false);
    let seq = w.append(b"def");
    w.wait_durable(seq).unwrap();
    assert!(w.stats().synced >= seq);
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn switch_file_splits_the_stream() {
    let dir = temp_path("switch");
    let p1 = dir.join("appendonly.aof.1.incr.aof");
    let p2 = dir.join("appendonly.aof.2.incr.aof");
    let w = AofWriter::new(open_append(&p1), 0, FsyncPolicy::Always).unwrap();
    w.append(b"one");
    w.append(b"two");
    w.switch_file(open_append(&p2), 0);
    let seq = w.append(b"three");
    w.wait_durable(seq).unwrap();
    assert_eq!(std::fs::read(&p1).unwrap(), b"onetwo");
    assert_eq!(std::fs::read(&p2).unwrap(), b"three");
    assert_eq!(w.stats().incr_size, 5);
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn callbacks_and_hook() {
    let dir = temp_path("cb");
    let path = dir.join("a.aof");
    let w = AofWriter::new(open_append(&path), 0, FsyncPolicy::Always).unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let s2 = seen.clone();
    w.set_hook(Some(Arc::new(move |d| {
        s2.fetch_max(d, Ordering::SeqCst);
    })));
    let (tx, rx) = mpsc::channel();
    let seq = w.append(b"hello");
    w.on_durable(
        seq,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(r, Ok(()));
    // Already durable: the callback runs at once.
    let (tx, rx) = mpsc::channel();
    w.on_durable(
        seq,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)).unwrap(), Ok(()));
    assert!(seen.load(Ordering::SeqCst) >= seq);
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_errors_are_reported() {
    // /dev/full accepts opens and fails every write with ENOSPC.
    let f = OpenOptions::new().append(true).open("/dev/full").unwrap();
    let w = AofWriter::new(f, 0, FsyncPolicy::EverySec).unwrap();
    let seq = w.append(b"*1\r\n$4\r\nPING\r\n");
    let r = w.wait_durable(seq);
    assert_eq!(r, Err(AofError::Write("No space left on device".into())));
    assert_eq!(
        w.write_status().map_err(|e| e.reason().to_string()),
        Err("No space left on device".to_string())
    );
    let st = w.stats();
    assert_eq!(st.pending, seq, "the data stays queued for a retry");
    assert_eq!(st.write_error.as_deref(), Some("No space left on device"));
}

#[test]
fn write_batch_writes_on_the_callers_thread_under_everysec() {
    let dir = temp_path("batch");
    let path = dir.join("a.aof");
    let w = AofWriter::new(open_append(&path), 0, FsyncPolicy::EverySec).unwrap();
    let seq = w.write_batch(b"*1\r\n$4\r\nPING\r\n");
    // Already in the file when the call returns: no waiting on a thread.
    assert_eq!(std::fs::read(&path).unwrap().len() as u64, seq);
    let st = w.stats();
    assert_eq!(st.inline_writes, 1, "{st:?}");
    assert_eq!((st.written, st.durable, st.pending), (seq, seq, 0));
    // Queued data goes first: a batch behind it is queued too, in order.
    w.switch_file(open_append(&dir.join("b.aof")), 0);
    let seq2 = w.write_batch(b"second");
    assert!(w
        .wait_durable_timeout(seq2, Duration::from_secs(5))
        .unwrap());
    assert_eq!(std::fs::read(dir.join("b.aof")).unwrap(), b"second");
    // The background fsync still catches up within about a second.
    let mut ok = false;
    for _ in 0..60 {
        if w.stats().synced >= seq2 {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ok, "{:?}", w.stats());
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_batch_under_always_goes_through_group_commit() {
    let dir = temp_path("batch-always");
    let path = dir.join("a.aof");
    let w = AofWriter::new(open_append(&path), 0, FsyncPolicy::Always).unwrap();
    let seq = w.write_batch(b"abc");
    w.wait_durable(seq).unwrap();
    let st = w.stats();
    assert_eq!(st.inline_writes, 0, "{st:?}");
    assert!(st.synced >= seq, "{st:?}");
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn commit_on_the_callers_thread_shares_one_fsync() {
    let dir = temp_path("commit");
    let path = dir.join("a.aof");
    let w = AofWriter::new(open_append(&path), 0, FsyncPolicy::Always).unwrap();
    let h = w.handle();
    // The flusher stays out of the way: this thread flushes.
    w.set_commit_grace(Duration::from_secs(3600));
    // Three connections queue their batches, then the first one commits.
    let s1 = w.write_batch(b"one ");
    let s2 = w.write_batch(b"two ");
    let s3 = w.write_batch(b"three");
    assert!(w.stats().synced < s1);
    assert_eq!(h.commit(s1), Commit::Durable);
    let st = w.stats();
    assert_eq!(st.fsyncs, 1, "{st:?}");
    assert_eq!(st.synced, s3, "{st:?}");
    // The others find their data durable: no second flush.
    assert_eq!(h.commit(s2), Commit::Durable);
    assert_eq!(h.commit(s3), Commit::Durable);
    assert_eq!(w.stats().fsyncs, 1);
    assert_eq!(std::fs::read(&path).unwrap(), b"one two three");
    // A callback registered for durable data runs at once.
    let (tx, rx) = mpsc::channel();
    h.on_durable(s3, Box::new(move |r| tx.send(r).unwrap()));
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    // Under everysec a commit does not flush: the caller waits instead.
    w.set_policy(FsyncPolicy::EverySec);
    let s4 = w.append(b" four");
    w.wait_durable(s4).unwrap();
    assert_eq!(h.commit(s4), Commit::Durable);
    drop(w);
    // A closed writer fails the commit of anything newer.
    assert_eq!(h.commit(s4 + 1), Commit::Failed(AofError::Closed));
    std::fs::remove_dir_all(&dir).unwrap();
}
