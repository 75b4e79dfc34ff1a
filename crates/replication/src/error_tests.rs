//! Tests of `error.rs`.

use super::*;

#[test]
fn os_text_strips_the_errno_suffix() {
    let e = std::io::Error::from_raw_os_error(2);
    assert!(!os_text(&e).contains("os error"));
    let e = std::io::Error::other("plain");
    assert_eq!(os_text(&e), "plain");
}

#[test]
fn display_is_the_log_line() {
    assert_eq!(
        ReplError::PingReply("-ERR x".into()).to_string(),
        "Error reply to PING from master: '-ERR x'"
    );
    assert_eq!(
        ReplError::MasterTimeout.to_string(),
        "MASTER timeout: no data nor PING received..."
    );
    assert_eq!(
        ReplError::PsyncTryLater("-LOADING".into()).level(),
        LogLevel::Notice
    );
}
