//! redis-check-rdb: reads a file with [`RdbReader`] and prints upstream's
//! report (`[offset N] ...` lines, the error block and the key counters).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::consts::type_name;
use crate::error::ErrorKind;
use crate::model::RdbItem;
use crate::reader::{ChecksumStatus, RdbReader};

/// Checks the file at `path`, printing the report to `out`; returns the
/// process exit code (0 OK, 1 error).
pub fn check_file(path: &str, out: &mut dyn Write) -> i32 {
    let _ = writeln!(out, "[offset 0] Checking RDB file {path}");
    let Ok(file) = std::fs::File::open(path) else {
        return 1;
    };
    check_reader(file, out)
}

/// Bytes of a C string: up to the first NUL, shown lossily.
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Checks an RDB stream, printing the report; returns the exit code.
pub fn check_reader<R: std::io::Read>(r: R, out: &mut dyn Write) -> i32 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut reader = RdbReader::new(r);
    let (mut keys, mut expires, mut already_expired) = (0u64, 0u64, 0u64);
    let result = loop {
        match reader.next_item() {
            Ok(None) => break Ok(()),
            Ok(Some(item)) => match item {
                RdbItem::Aux { key, value } => {
                    let _ = writeln!(
                        out,
                        "[offset {}] AUX FIELD {} = '{}'",
                        reader.offset(),
                        cstr(&key),
                        cstr(&value)
                    );
                }
                RdbItem::SelectDb(db) => {
                    let _ = writeln!(out, "[offset {}] Selecting DB ID {db}", reader.offset());
                }
                RdbItem::Entry(e) => {
                    keys += 1;
                    if let Some(ms) = e.expire_ms {
                        expires += 1;
                        if ms < now_ms {
                            already_expired += 1;
                        }
                    }
                }
                RdbItem::ResizeDb { .. } | RdbItem::Function(_) | RdbItem::ModuleAux(_) => {}
            },
            Err(e) => break Err(e),
        }
    };
    let code = match result {
        Ok(()) => {
            let off = reader.offset();
            match reader.checksum() {
                Some(ChecksumStatus::Disabled) => {
                    let _ = writeln!(
                        out,
                        "[offset {off}] RDB file was saved with checksum disabled: no check performed."
                    );
                }
                Some(ChecksumStatus::Verified) => {
                    let _ = writeln!(out, "[offset {off}] Checksum OK");
                }
                _ => {}
            }
            let _ = writeln!(out, "[offset {off}] \\o/ RDB looks OK! \\o/");
            0
        }
        Err(e) => {
            // A key whose value failed was counted by upstream already.
            let p = reader.progress().clone();
            if p.doing == "read-object-value" {
                keys += 1;
            }
            let _ = writeln!(out, "--- RDB ERROR DETECTED ---");
            let msg = match &e.kind {
                ErrorKind::UnexpectedEof if p.doing == "read-functions" => {
                    "Failed loading library, Failed loading library payload".to_string()
                }
                ErrorKind::Corrupt(m) if p.doing == "read-functions" => {
                    format!("Failed loading library, {m}")
                }
                // Upstream reports structural problems through its
                // corruption hook, which names a source line; we have none.
                ErrorKind::Corrupt(m) => {
                    format!("Internal error in RDB reading offset 0, function at rdb.c:0 -> {m}")
                }
                other => other.to_string(),
            };
            let _ = writeln!(out, "[offset {}] {msg}", e.offset);
            let _ = writeln!(out, "[additional info] While doing: {}", p.doing);
            if let Some(k) = &p.key {
                let _ = writeln!(out, "[additional info] Reading key '{}'", cstr(k));
            }
            if p.key_type != -1 {
                let _ = writeln!(
                    out,
                    "[additional info] Reading type {} ({})",
                    p.key_type,
                    type_name(p.key_type)
                );
            }
            1
        }
    };
    let _ = writeln!(out, "[info] {keys} keys read");
    let _ = writeln!(out, "[info] {expires} expires");
    let _ = writeln!(out, "[info] {already_expired} already expired");
    code
}
