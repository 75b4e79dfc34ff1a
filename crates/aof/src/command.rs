//! Encoding commands into the AOF stream exactly as Redis 7.0 does:
//! RESP multibulk (`*<argc>\r\n` then `$<len>\r\n<arg>\r\n` per argument),
//! a `SELECT` whenever the target database differs from the last one
//! written, and `#TS:<unix>\r\n` annotations when `aof-timestamp-enabled`
//! is on (one whenever the second changes).

/// Upstream's cap on an annotation line (its read buffer size).
pub const AOF_ANNOTATION_LINE_MAX_LEN: usize = 1024;

/// Commands a rewrite packs per variadic command (RPUSH, SADD, ZADD,
/// HMSET), like upstream's `AOF_REWRITE_ITEMS_PER_CMD`.
pub const AOF_REWRITE_ITEMS_PER_CMD: usize = 64;

/// Appends `*<n>\r\n`.
pub fn write_count(out: &mut Vec<u8>, prefix: u8, n: usize) {
    out.push(prefix);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string `$<len>\r\n<data>\r\n`.
pub fn write_bulk(out: &mut Vec<u8>, data: &[u8]) {
    write_count(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends an integer as a bulk string (what upstream's
/// `rioWriteBulkLongLong` writes).
pub fn write_bulk_i64(out: &mut Vec<u8>, v: i64) {
    write_bulk(out, v.to_string().as_bytes());
}

/// Appends a whole command as a RESP multibulk.
pub fn write_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    write_count(out, b'*', argv.len());
    for a in argv {
        write_bulk(out, a.as_ref());
    }
}

/// Appends `SELECT <db>` as upstream writes it.
pub fn write_select(out: &mut Vec<u8>, db: u32) {
    out.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n");
    write_bulk(out, db.to_string().as_bytes());
}

/// Appends a `#TS:<unix>\r\n` annotation.
pub fn write_timestamp(out: &mut Vec<u8>, unix: i64) {
    out.extend_from_slice(b"#TS:");
    out.extend_from_slice(unix.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The state upstream's `feedAppendOnlyFile` keeps between commands: the
/// database last selected in the stream and the last timestamp written.
///
/// Call [`Feeder::reset_db`] whenever a new file starts (a rewrite
/// switches to a fresh incr file, AOF is turned off and on), because the
/// next command must then carry its own `SELECT`.
#[derive(Debug, Clone, Default)]
pub struct Feeder {
    selected_db: Option<u32>,
    cur_timestamp: i64,
    /// `aof-timestamp-enabled`.
    pub timestamps: bool,
}

impl Feeder {
    /// A feeder with no database selected yet.
    pub fn new(timestamps: bool) -> Feeder {
        Feeder {
            selected_db: None,
            cur_timestamp: 0,
            timestamps,
        }
    }

    /// Forgets the selected database so the next command emits `SELECT`.
    pub fn reset_db(&mut self) {
        self.selected_db = None;
    }

    /// The database the stream currently targets.
    pub fn selected_db(&self) -> Option<u32> {
        self.selected_db
    }

    /// Appends `argv` executed in `db` at unix time `now` (seconds) to
    /// `out`: a timestamp annotation when enabled and the second moved
    /// on, a `SELECT` when the database changed, then the command.
    pub fn feed<A: AsRef<[u8]>>(&mut self, out: &mut Vec<u8>, db: u32, argv: &[A], now: i64) {
        if self.timestamps && self.cur_timestamp < now {
            self.cur_timestamp = now;
            write_timestamp(out, now);
        }
        if self.selected_db != Some(db) {
            write_select(out, db);
            self.selected_db = Some(db);
        }
        write_command(out, argv);
    }

    /// Forces a timestamp annotation (a rewrite starts its base with one).
    pub fn force_timestamp(&mut self, out: &mut Vec<u8>, now: i64) {
        self.cur_timestamp = now;
        write_timestamp(out, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_upstream() {
        let mut f = Feeder::new(true);
        let mut out = Vec::new();
        f.feed(&mut out, 0, &["set", "a", "1"], 100);
        f.feed(&mut out, 0, &["set", "b", ""], 100);
        f.feed(&mut out, 2, &["del", "a"], 101);
        assert_eq!(
            out,
            b"#TS:100\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n\
*3\r\n$3\r\nset\r\n$1\r\nb\r\n$0\r\n\r\n\
#TS:101\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$3\r\ndel\r\n$1\r\na\r\n"
                .to_vec()
        );
    }
}
