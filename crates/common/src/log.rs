//! The layout of upstream's log lines:
//! `pid:role dd Mon yyyy hh:mm:ss.mmm <level-char> message`.
//!
//! Upstream prints local time; we print UTC so the output does not depend
//! on the machine's time zone database (which we would have to parse
//! ourselves). The calendar conversion is done here instead of pulling in a
//! date crate because it is a dozen lines.

/// Log verbosity, ordered from most to least verbose as in `loglevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl LogLevel {
    /// The marker character upstream prints for this level.
    pub fn marker(self) -> char {
        match self {
            LogLevel::Debug => '.',
            LogLevel::Verbose => '-',
            LogLevel::Notice => '*',
            LogLevel::Warning => '#',
        }
    }

    /// Parses a `loglevel` value (case-insensitive).
    pub fn parse(s: &str) -> Option<LogLevel> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Some(LogLevel::Debug),
            "verbose" => Some(LogLevel::Verbose),
            "notice" => Some(LogLevel::Notice),
            "warning" => Some(LogLevel::Warning),
            _ => None,
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Converts days since 1970-01-01 into a proleptic Gregorian
/// (year, month 1..=12, day 1..=31), valid for negative days too.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a
    // "year" and 400-year eras repeat exactly (146097 days each).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, March-based
    let mp = (5 * doy + 2) / 153; // month index with March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats the timestamp part, e.g. `22 Nov 2026 04:51:22.123` (UTC).
pub fn format_timestamp(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(mo - 1) as usize],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms
    )
}

/// Formats one complete log line (without the trailing newline).
/// `role` is upstream's role letter: `M` master, `S` replica, `C` child,
/// `X` sentinel.
pub fn format_log_line(pid: u32, role: char, level: LogLevel, unix_ms: i64, msg: &str) -> String {
    format!(
        "{}:{} {} {} {}",
        pid,
        role,
        format_timestamp(unix_ms),
        level.marker(),
        msg
    )
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
