//! Tests of `aof.rs`.

use super::AofError;
use crate::persist::{LoadError, SaveError};
use std::io;

/// The texts are compared with the reference's log lines and replies:
/// OS errors in their `strerror` form where upstream prints them so,
/// loading errors carried through unchanged.
#[test]
fn error_texts_are_the_lines_logged_and_the_replies() {
    let enoent = || io::Error::from_raw_os_error(2);
    let open = AofError::OpenIncr {
        fname: "appendonly.aof".into(),
        err: enoent(),
    };
    assert_eq!(
        open.to_string(),
        "Can't open the append-only file appendonly.aof: No such file or directory"
    );
    let read = AofError::Read {
        file: "a.1.incr.aof".into(),
        err: enoent(),
    };
    assert_eq!(
        read.to_string(),
        "Fatal error: can't open the append log file a.1.incr.aof for reading: No such file or directory"
    );
    let stat = AofError::Stat {
        file: "appendonly.aof".into(),
        err: enoent(),
    };
    assert_eq!(
        stat.to_string(),
        "Unable to obtain the AOF file appendonly.aof length. stat: No such file or directory"
    );
    let truncated = AofError::Truncated { file: "f".into() };
    assert!(truncated
        .to_string()
        .starts_with("Unexpected end of file reading the append only file f. You can: 1)"));
    let preamble = AofError::from(LoadError::TooManyDbs(16));
    assert_eq!(
        preamble.to_string(),
        "FATAL: Data file was created with a Redis server configured to handle more than 16 databases. Exiting"
    );
    assert_eq!(
        AofError::RewriteInProgress.to_string(),
        "ERR Background append only file rewriting already in progress"
    );
    assert_eq!(
        SaveError::InProgress.to_string(),
        "ERR Background save already in progress"
    );
    assert_eq!(SaveError::Failed.to_string(), "ERR");
}
