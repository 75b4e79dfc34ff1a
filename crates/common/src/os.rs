//! Operating-system error texts as upstream prints them.

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

#[cfg(test)]
mod tests {
    #[test]
    fn strips_the_errno_suffix() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(super::strerror(&e), "No such file or directory");
        let other = std::io::Error::other("plain");
        assert_eq!(super::strerror(&other), "plain");
    }
}
