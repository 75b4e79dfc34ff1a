//! `--pipe`: stream raw protocol from stdin to the server while reading replies.
//!
//! Upstream's trick to know when every reply has arrived: after stdin ends, send
//! `ECHO <20 random bytes>` and wait for that exact reply. Writing and reading
//! run concurrently so neither side's buffers can deadlock.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_client::{Error as ClientError, Frame};
use std::io::Read;

use crate::session::{io_text, out, Session};

/// 20 unpredictable bytes, so the marker cannot collide with piped data.
fn magic() -> [u8; 20] {
    let mut m = [0u8; 20];
    for chunk in m.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(std::process::id() as u64);
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    m
}

/// Runs pipe mode; returns the exit code.
pub fn run(session: &mut Session) -> i32 {
    let Some(client) = session.take_client() else {
        return 1;
    };
    let timeout = session.cfg.pipe_timeout;
    let (mut reader, mut writer) = client.into_split();
    let marker: Arc<Mutex<Option<[u8; 20]>>> = Arc::new(Mutex::new(None));
    let marker_w = Arc::clone(&marker);

    session.runtime().block_on(async move {
        let (eof_tx, mut eof_rx) = tokio::sync::watch::channel(false);
        let write_task = tokio::spawn(async move {
            // Blocking reads on purpose: like upstream, stdin EOF is noticed before
            // replies are processed, which keeps the summary lines in a stable order.
            let mut stdin = std::io::stdin();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("Error reading from stdin: {}", io_text(&e));
                        std::process::exit(1);
                    }
                };
                if n == 0 {
                    break;
                }
                writer.queue_raw(&buf[..n]);
                if let Err(e) = writer.flush().await {
                    eprintln!("Error writing to the server: {e}");
                    std::process::exit(1);
                }
            }
            let m = magic();
            if let Ok(mut g) = marker_w.lock() {
                *g = Some(m);
            }
            // The leading CRLF resynchronises the server if stdin ended mid-garbage.
            writer.queue_raw(b"\r\n");
            writer.queue(&[&b"ECHO"[..], &m[..]]);
            out(b"All data transferred. Waiting for the last reply...\n");
            if let Err(e) = writer.flush().await {
                eprintln!("Error writing to the server: {e}");
                std::process::exit(1);
            }
            let _ = eof_tx.send(true);
            // Keep the write half open until the reader is done.
            std::future::pending::<()>().await;
        });

        let mut errors: u64 = 0;
        let mut replies: u64 = 0;
        loop {
            let eof = *eof_rx.borrow();
            let read = reader.read_frame();
            let frame = if eof && timeout > 0 {
                match tokio::time::timeout(Duration::from_secs(timeout as u64), read).await {
                    Ok(r) => r,
                    Err(_) => {
                        eprintln!("No replies for {timeout} seconds: exiting.");
                        errors += 1;
                        break;
                    }
                }
            } else {
                tokio::select! {
                    r = read => r,
                    _ = eof_rx.changed(), if !eof => continue,
                }
            };
            match frame {
                Ok(Frame::Error(e)) => {
                    eprintln!("{}", String::from_utf8_lossy(&e));
                    errors += 1;
                    replies += 1;
                }
                Ok(Frame::Bulk(b)) if b.len() == 20 => {
                    let m = marker.lock().ok().and_then(|g| *g);
                    if m.is_some_and(|m| m[..] == b[..]) {
                        out(b"Last reply received from server.\n");
                        break;
                    }
                    replies += 1;
                }
                Ok(_) => replies += 1,
                Err(ClientError::Protocol(_)) => {
                    eprintln!("Error reading replies from server");
                    std::process::exit(1);
                }
                Err(_) => std::process::exit(1),
            }
        }
        write_task.abort();
        out(format!("errors: {errors}, replies: {replies}\n").as_bytes());
        if errors > 0 {
            1
        } else {
            0
        }
    })
}
