//! `redis-check-aof [--fix|--truncate-to-timestamp <ts>] <file.manifest|file.aof>`:
//! validates an AOF the way Redis 7.0's tool does, with the same report,
//! offsets, line counts and exit codes.
//!
//! The input is a multi-part manifest (any line starting with `file`), an
//! RDB-preamble AOF (starts with `REDIS`) or a plain RESP AOF. Each file is
//! scanned command by command; the report gives the offset of the last
//! complete command (`ok_up_to`). Only the last file of a manifest may be
//! truncated, and only after `--fix` and a `y` answer on stdin;
//! `--truncate-to-timestamp` cuts the last file at the first `#TS:`
//! annotation later than the given time (as upstream, without asking).

mod cfile;
mod check;

use std::io::Write;

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .map(|a| a.into_encoded_bytes())
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = check::run(&args, &mut out);
    let _ = out.flush();
    drop(out);
    std::process::exit(code);
}
