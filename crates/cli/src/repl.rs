//! The read-eval-print loop: interactive (tty, with line editing and history)
//! or reading one command per line from a non-tty stdin, which upstream runs
//! through the same loop without a prompt.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;

use crate::format::Output;
use crate::session::{out, Session};

/// Where lines come from.
enum Input {
    Tty {
        editor: Box<Editor<(), FileHistory>>,
        history: Option<PathBuf>,
    },
    Plain(std::io::StdinLock<'static>),
}

impl Input {
    /// Next line without its newline; None at end of input (or Ctrl-C/Ctrl-D).
    fn line(&mut self, prompt: &str) -> Option<String> {
        match self {
            Input::Tty { editor, .. } => match editor.readline(prompt) {
                Ok(l) => Some(l),
                Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => None,
                Err(_) => None,
            },
            Input::Plain(stdin) => {
                let mut buf = Vec::new();
                match stdin.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        Some(String::from_utf8_lossy(&buf).into_owned())
                    }
                }
            }
        }
    }

    fn remember(&mut self, line: &str) {
        if let Input::Tty { editor, history } = self {
            let _ = editor.add_history_entry(line);
            if let Some(path) = history {
                // Saved after every line so a killed session keeps its history.
                let _ = editor.save_history(path);
            }
        }
    }
}

/// `REDISCLI_HISTFILE`, or `~/.rediscli_history`; `/dev/null` disables it.
fn history_path() -> Option<PathBuf> {
    match std::env::var("REDISCLI_HISTFILE") {
        Ok(p) if !p.is_empty() => {
            if p == "/dev/null" {
                None
            } else {
                Some(PathBuf::from(p))
            }
        }
        _ => {
            let home = std::env::var("HOME").unwrap_or_default();
            Some(PathBuf::from(format!("{home}/.rediscli_history")))
        }
    }
}

/// Upstream's `strtol` test for a leading repeat count: the whole word parses.
fn repeat_prefix(word: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(word).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() {
        // strtol consumed nothing: only "numeric" if the word itself is empty.
        return if s.is_empty() { Some(0) } else { None };
    }
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(t.parse::<i64>().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// Reads a password with the terminal's echo off (`--askpass`). Like
/// upstream's linenoise, the prompt is shown only when stdin is a terminal,
/// and end of input before any character gives no password.
pub fn ask_password(prompt: &str) -> Option<String> {
    let tty = std::io::stdin().is_terminal();
    if tty {
        out(prompt.as_bytes());
    }
    let stty = |arg: &str| {
        if tty {
            let _ = Command::new("stty")
                .arg(arg)
                .stdin(Stdio::inherit())
                .status();
        }
    };
    stty("-echo");
    let mut line = String::new();
    let res = std::io::stdin().lock().read_line(&mut line);
    stty("echo");
    if tty {
        out(b"\n");
    }
    if res.ok()? == 0 {
        return None;
    }
    Some(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs the loop until end of input or `quit`.
pub fn run(session: &mut Session) {
    session.interactive = true;
    let mut input = if std::io::stdin().is_terminal() {
        match Editor::<(), FileHistory>::new() {
            Ok(mut editor) => {
                let history = history_path();
                if let Some(p) = &history {
                    let _ = editor.load_history(p);
                }
                Input::Tty {
                    editor: Box::new(editor),
                    history,
                }
            }
            Err(_) => Input::Plain(std::io::stdin().lock()),
        }
    } else {
        Input::Plain(std::io::stdin().lock())
    };

    // Like upstream, a failed first connection is not fatal here: every command retries.
    // Upstream loads the help table at startup, so help works offline later
    // (not with --eval: the connection may be in a debugging session).
    if session.connect(false) && matches!(input, Input::Tty { .. }) && session.cfg.eval.is_none() {
        session.load_help();
    }

    loop {
        let prompt = if session.ldb.active {
            crate::eval::PROMPT.to_string()
        } else if session.connected() {
            session.prompt()
        } else {
            "not connected> ".to_string()
        };
        let Some(line) = input.line(&prompt) else {
            return;
        };
        if line.is_empty() {
            continue;
        }
        let debugger_eval = if session.ldb.active {
            crate::eval::debugger_eval(&line)
        } else {
            None
        };
        let Some(argv) = debugger_eval.or_else(|| redis_common::args::split_args(line.as_bytes()))
        else {
            out(b"Invalid argument(s)\n");
            input.remember(&line);
            continue;
        };
        if argv.is_empty() {
            continue;
        }
        let mut repeat = 1;
        let mut skip = 0;
        if argv.len() > 1 {
            if let Some(n) = repeat_prefix(&argv[0]) {
                if n <= 0 {
                    out(b"Invalid redis-cli repeat command option value.\n");
                    continue;
                }
                repeat = n;
                skip = 1;
            }
        }
        input.remember(&line);

        let first = &argv[0];
        if first.eq_ignore_ascii_case(b"quit") || first.eq_ignore_ascii_case(b"exit") {
            std::process::exit(0);
        } else if session.cfg.eval_ldb && first.eq_ignore_ascii_case(b"restart") {
            // Also after a session ended, as upstream.
            crate::eval::restart(session);
        } else if first.first() == Some(&b':') && first[1..].eq_ignore_ascii_case(b"set") {
            // Preferences (hints) have no effect in this implementation.
        } else if argv.len() == 3 && first.eq_ignore_ascii_case(b"connect") {
            session.cfg.host = String::from_utf8_lossy(&argv[1]).into_owned();
            session.cfg.port = crate::opts::atoi(&String::from_utf8_lossy(&argv[2]));
            session.connect(true);
        } else if argv.len() == 1 && first.eq_ignore_ascii_case(b"clear") {
            out(b"\x1b[H\x1b[2J");
        } else {
            let start = Instant::now();
            let _ = session.issue(&argv[skip..], repeat);
            let elapsed = start.elapsed();
            if elapsed.as_millis() >= 500 && session.cfg.output == Output::Standard {
                out(format!("({:.2}s)\n", elapsed.as_secs_f64()).as_bytes());
            }
        }
        let _ = std::io::stdout().flush();
    }
}
