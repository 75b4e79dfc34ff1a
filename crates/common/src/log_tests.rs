//! Tests of `log.rs`.

use super::*;

#[test]
fn line_layout() {
    // 2026-11-22T04:51:22.123Z
    let ms = 1_795_323_082_123;
    assert_eq!(
        format_log_line(12345, 'M', LogLevel::Notice, ms, "msg"),
        "12345:M 22 Nov 2026 04:51:22.123 * msg"
    );
    assert_eq!(
        format_log_line(1, 'C', LogLevel::Warning, 0, "x"),
        "1:C 01 Jan 1970 00:00:00.000 # x"
    );
    assert_eq!(
        format_log_line(7, 'S', LogLevel::Debug, 5, ""),
        "7:S 01 Jan 1970 00:00:00.005 . "
    );
    assert_eq!(
        format_log_line(7, 'X', LogLevel::Verbose, -1, "y"),
        "7:X 31 Dec 1969 23:59:59.999 - y"
    );
}

#[test]
fn calendar() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(59), (1970, 3, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(civil_from_days(47_540), (2100, 2, 28));
    assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    assert_eq!(
        format_timestamp(951_782_400_000),
        "29 Feb 2000 00:00:00.000"
    );
}

#[test]
fn levels() {
    assert!(LogLevel::Debug < LogLevel::Warning);
    assert_eq!(LogLevel::parse("NOTICE"), Some(LogLevel::Notice));
    assert_eq!(LogLevel::parse("loud"), None);
}
