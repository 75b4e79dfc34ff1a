//! `--eval <file>` and the Lua debugger client (`--ldb`, `--ldb-sync-mode`).
//!
//! `--eval` sends `EVAL <file contents> <numkeys> keys... args...`: the words
//! after the file name are the keys, up to the first word that is exactly
//! `,`, and the arguments after it.
//!
//! With `--ldb` the server's debugger is armed first (`SCRIPT DEBUG YES`, or
//! `SYNC` for `--ldb-sync-mode`), then the REPL sends each typed line to it.
//! Its replies are status lines, printed in the raw format and coloured by
//! kind when `TERM` names an xterm. The server ends a session with an
//! `<endsession>` line followed by the script's own reply and a closed
//! connection; `restart` re-reads the file and starts a new session.

use std::io::Read;

use crate::format::Output;
use crate::session::{io_text, out, Session};

/// Shown before every debugging session.
const BANNER: &[u8] = b"Lua debugging session started, please use:\n\
quit    -- End the session.\n\
restart -- Restart the script in debug mode again.\n\
help    -- Show Lua script debugging commands.\n\n";

/// The REPL prompt while a session runs.
pub const PROMPT: &str = "lua debugger> ";

/// The status line (prefix) with which the server ends a session.
const END_MARKER: &[u8] = b"<endsession>";

/// The debugger state kept in the session.
#[derive(Debug, Default)]
pub struct Ldb {
    /// A session runs: debugger prompt, coloured status lines, and `help`
    /// goes to the server.
    pub active: bool,
    /// The EVAL that starts a session is being answered.
    pub starting: bool,
    /// Status lines are coloured (`TERM` contains `xterm`, as upstream).
    pub colors: bool,
    /// The words after the file name, kept for `restart`.
    pub words: Vec<String>,
}

/// `EVAL <body> <numkeys> keys... args...` from the words after the file:
/// the first lone `,` separates the keys from the arguments and is dropped.
pub fn eval_argv(body: Vec<u8>, words: &[String]) -> Vec<Vec<u8>> {
    let numkeys = words.iter().position(|w| w == ",").unwrap_or(words.len());
    let mut argv = vec![b"EVAL".to_vec(), body, numkeys.to_string().into_bytes()];
    argv.extend(
        words
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != numkeys)
            .map(|(_, w)| w.as_bytes().to_vec()),
    );
    argv
}

/// A debugger line `eval <code>` or `e <code>` (lower case, one space):
/// upstream sends the code as typed, quotes and spaces included, as one
/// argument.
pub fn debugger_eval(line: &str) -> Option<Vec<Vec<u8>>> {
    ["eval", "e"].iter().find_map(|cmd| {
        let code = line.strip_prefix(cmd)?.strip_prefix(' ')?;
        Some(vec![cmd.as_bytes().to_vec(), code.as_bytes().to_vec()])
    })
}

/// The script's text. A file that opens but cannot be read (a directory)
/// gives what was read, as upstream's read loop does.
pub fn read_script(path: &str) -> Result<Vec<u8>, String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| format!("Can't open file '{path}': {}", io_text(&e)))?;
    let mut body = Vec::new();
    let _ = file.read_to_end(&mut body);
    Ok(body)
}

/// The SGR attributes upstream gives a debugger status line.
pub fn color(line: &[u8]) -> &'static str {
    // Source listings: `-> 12  code` is the current line, `  #12  code` a
    // breakpoint.
    let listing = line.len() >= 5 && line[3].is_ascii_digit();
    let has = |tag: &[u8]| line.windows(tag.len()).any(|w| w == tag);
    if listing && line[1] == b'>' {
        "0;33"
    } else if listing && line[2] == b'#' {
        "1;37"
    } else if has(b"<value>") || has(b"<retval>") {
        "0;35"
    } else if has(b"<hint>") {
        "1;37"
    } else if has(b"<error>") {
        "0;31"
    } else if has(b"<reply>") {
        "0;36"
    } else if has(b"<redis>") {
        "0;32"
    } else if has(b"<debug>") {
        "1;37"
    } else {
        "0;37"
    }
}

/// Writes a status reply while a session may run: the end marker is
/// noted in `ended` and not shown; lines of a running session are
/// coloured when `colors`.
pub fn write_status(line: &[u8], out: &mut Vec<u8>, active: bool, colors: bool, ended: &mut bool) {
    if active && line.starts_with(END_MARKER) {
        *ended = true;
    } else if active && colors && !*ended {
        out.extend_from_slice(format!("\x1b[{};49m", color(line)).as_bytes());
        out.extend_from_slice(line);
        out.extend_from_slice(b"\x1b[0m");
    } else {
        out.extend_from_slice(line);
    }
}

/// The line printed after the script's reply when a session ends.
pub fn ended_message(sync: bool) -> &'static [u8] {
    if sync {
        b"\n(Lua debugging session ended)\n\n"
    } else {
        b"\n(Lua debugging session ended -- dataset changes rolled back)\n\n"
    }
}

/// Runs `--eval` with the words after the file; returns the exit code.
pub fn run(session: &mut Session, words: Vec<String>) -> i32 {
    if !session.connect(false) {
        return 1;
    }
    session.ldb.words = words;
    session.ldb.colors =
        std::env::var_os("TERM").is_some_and(|t| t.to_string_lossy().contains("xterm"));
    if start(session).is_err() {
        return 1;
    }
    if session.cfg.eval_ldb {
        crate::repl::run(session);
    }
    0
}

/// The debugger's `restart`: a new connection and a new session with the
/// file read again.
pub fn restart(session: &mut Session) {
    out(b"\n");
    session.cfg.output = Output::Raw;
    // A failed connect is reported; the EVAL below tries again.
    session.connect(true);
    let _ = start(session);
}

/// Reads the file, arms the debugger with `--ldb`, and sends the EVAL.
/// An unreadable file ends the program, as upstream.
fn start(session: &mut Session) -> Result<(), ()> {
    let ldb = session.cfg.eval_ldb;
    if ldb {
        out(BANNER);
    }
    let path = session.cfg.eval.clone().unwrap_or_default();
    let body = match read_script(&path) {
        Ok(b) => b,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    if ldb {
        let mode: &[u8] = if session.cfg.eval_ldb_sync {
            b"sync"
        } else {
            b"yes"
        };
        // Upstream does not show this reply, not even an error.
        let _ = session.roundtrip(&[b"SCRIPT", b"DEBUG", mode]);
        session.ldb.active = true;
        session.ldb.starting = true;
    }
    let argv = eval_argv(body, &session.ldb.words);
    let repeat = session.cfg.repeat;
    let res = session.issue(&argv, repeat);
    session.ldb.starting = false;
    res
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
