//! The process title as upstream sets it (`redis-server *:6379` in `ps`,
//! `/proc/<pid>/cmdline`). Linux shows the memory that held the command
//! line as `cmdline`, and when its last byte is no longer NUL it reads on
//! into the environment strings that follow, which is how `setproctitle`
//! fits a title longer than the command line. The title is written there
//! through `/proc/self/mem` (no raw pointers), after the environment
//! strings were copied elsewhere (`setenv` of every variable) so the
//! area they occupied is free.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// The memory the title may use: the command line and, when it follows
/// directly, the environment strings.
#[derive(Debug)]
struct Area {
    start: u64,
    len: usize,
}

static AREA: OnceLock<Option<Area>> = OnceLock::new();

/// Finds the area and moves the environment out of it. Call once, while
/// the process is still single-threaded and after the command line was
/// read (`std::env::args` reads that same memory).
pub fn init() {
    let _ = AREA.set(locate());
}

fn locate() -> Option<Area> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // proc(5): fields 48-51 are arg_start, arg_end, env_start, env_end;
    // counting starts after the parenthesised command name (field 2).
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    let field = |n: usize| fields.get(n - 3).copied();
    let (arg_start, arg_end) = (field(48)?, field(49)?);
    let (env_start, env_end) = (field(50)?, field(51)?);
    if arg_start == 0 || arg_end <= arg_start {
        return None;
    }
    let mut end = arg_end;
    if env_start == arg_end && env_end > env_start {
        // setenv stores a fresh copy of each string and points the
        // environment at it, so nothing reads the old area afterwards.
        let vars: Vec<_> = std::env::vars_os().collect();
        for (name, value) in &vars {
            std::env::set_var(name, value);
        }
        end = env_end;
    }
    let len = usize::try_from(end - arg_start).ok()?;
    Some(Area {
        start: arg_start,
        len,
    })
}

/// Shows `title` as the process's command line (cut to the space the
/// command line and environment had; the rest is zeroed, as upstream's).
pub fn set(title: &str) {
    let Some(Some(area)) = AREA.get() else {
        return;
    };
    if area.len < 2 {
        return;
    }
    let mut buf = vec![0u8; area.len];
    let n = title.len().min(area.len - 1);
    buf[..n].copy_from_slice(&title.as_bytes()[..n]);
    if let Ok(mem) = OpenOptions::new().write(true).open("/proc/self/mem") {
        let _ = mem.write_all_at(&buf, area.start);
    }
}
