//! `backup`'s copy of a master's data: `SYNC` on a connection of its own
//! and the RDB payload written to a file, with upstream's progress lines
//! on stderr. Both payload forms are read: `$<length>` and `$EOF:<mark>`
//! (diskless), where the data ends with the 40-byte mark.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// Length of the end-of-payload mark of a diskless transfer.
const EOF_MARK_SIZE: usize = 40;

/// Reads one `\n`-terminated line (keeping a `\r`), skipping the bare
/// newlines a master sends as keepalives while it prepares the payload.
fn read_reply_line(r: &mut impl BufRead) -> Option<Vec<u8>> {
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).ok()?;
        if n == 0 || line.last() != Some(&b'\n') {
            return None;
        }
        line.pop();
        if !line.is_empty() {
            return Some(line);
        }
    }
}

/// Fetches the node's RDB into `filename`. Like upstream, a failure ends
/// the process (exit 1) after saying why on stderr.
pub fn fetch(ip: &str, port: i32, auth: Option<(&Option<String>, &str)>, filename: &str) {
    let fail = |msg: &str| -> ! {
        super::manager::err_out(msg);
        std::process::exit(1);
    };
    let Ok(port16) = u16::try_from(port) else {
        fail("Error writing to master\n");
    };
    let stream = match TcpStream::connect((ip, port16)) {
        Ok(s) => s,
        Err(_) => fail("Error writing to master\n"),
    };
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => fail("Error writing to master\n"),
    };
    let mut reader = BufReader::new(stream);
    if let Some((user, pass)) = auth {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = user {
            args.push(u.as_bytes());
        }
        args.push(pass.as_bytes());
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        if writer.write_all(&req).is_err() {
            fail("Error writing to master\n");
        }
        if read_reply_line(&mut reader).is_none() {
            fail("Error reading bulk length while SYNCing\n");
        }
    }
    if writer.write_all(b"SYNC\r\n").is_err() {
        fail("Error writing to master\n");
    }
    let Some(line) = read_reply_line(&mut reader) else {
        fail("Error reading bulk length while SYNCing\n");
    };
    if line.first() == Some(&b'-') {
        fail(&format!(
            "SYNC with master failed: {}\n",
            String::from_utf8_lossy(&line)
        ));
    }
    let text = String::from_utf8_lossy(&line).into_owned();
    let body = text.get(1..).unwrap_or("");
    let mark: Option<Vec<u8>> = body
        .strip_prefix("EOF:")
        .filter(|m| m.len() >= EOF_MARK_SIZE)
        .map(|m| m.as_bytes()[..EOF_MARK_SIZE].to_vec());
    let length: u64 = {
        let digits: String = body
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().unwrap_or(0)
    };
    let mark = if length == 0 && mark.is_none() {
        // `$0`: upstream takes a zero length for the diskless form.
        Some(Vec::new())
    } else {
        mark
    };
    match &mark {
        Some(_) => super::manager::err_out(&format!(
            "SYNC sent to master, writing bytes of bulk transfer until EOF marker to '{filename}'\n"
        )),
        None => super::manager::err_out(&format!(
            "SYNC sent to master, writing {length} bytes to '{filename}'\n"
        )),
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(filename)
    {
        Ok(f) => f,
        Err(e) => fail(&format!(
            "Error opening '{filename}': {}\n",
            crate::session::io_text(&e)
        )),
    };
    let mut written: u64 = 0;
    let mut buf = vec![0u8; 4096];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let want = match &mark {
            Some(_) => buf.len(),
            None => {
                let left = length - written;
                if left == 0 {
                    break;
                }
                left.min(buf.len() as u64) as usize
            }
        };
        let n = match reader.read(&mut buf[..want]) {
            Ok(n) if n > 0 => n,
            _ => fail("I/O Error reading RDB payload from socket\n"),
        };
        if let Err(e) = file.write_all(&buf[..n]) {
            fail(&format!(
                "Error writing data to file: {}\n",
                crate::session::io_text(&e)
            ));
        }
        written += n as u64;
        if let Some(m) = &mark {
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > EOF_MARK_SIZE {
                tail.drain(..tail.len() - EOF_MARK_SIZE);
            }
            if !m.is_empty() && tail == *m {
                break;
            }
        }
    }
    let size = match &mark {
        Some(_) => written.saturating_sub(EOF_MARK_SIZE as u64),
        None => written,
    };
    // The file may be older and longer: keep exactly the snapshot.
    if file.set_len(size).is_err() && mark.is_some() {
        super::manager::err_out("ftruncate failed.\n");
    }
    match &mark {
        Some(_) => super::manager::err_out(&format!(
            "Transfer finished with success after {size} bytes\n"
        )),
        None => super::manager::err_out("Transfer finished with success.\n"),
    }
    drop(reader);
    if let Err(e) = file.sync_all() {
        fail(&format!(
            "Fail to fsync '{filename}': {}\n",
            crate::session::io_text(&e)
        ));
    }
}
