//! Operating-system facts as upstream prints them: error texts, the `os`
//! line of `INFO server`, the process's CPU times.

/// The C library's `strerror` text of an I/O error: Rust formats an OS
/// error as "No such file or directory (os error 2)"; upstream's log lines
/// and error replies carry only the first part.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// (user, system) CPU seconds of this process, from /proc.
pub fn cpu_times() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (USER_HZ is 100 on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

/// `INFO server`'s `os`: `Linux <release> <arch>`.
pub fn os_line() -> String {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Linux {} {}", rel.trim(), std::env::consts::ARCH)
}

#[cfg(test)]
#[path = "os_tests.rs"]
mod tests;
