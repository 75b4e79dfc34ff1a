//! Tests of `os.rs`.

#[test]
fn strips_the_errno_suffix() {
    let e = std::io::Error::from_raw_os_error(2);
    assert_eq!(super::strerror(&e), "No such file or directory");
    let other = std::io::Error::other("plain");
    assert_eq!(super::strerror(&other), "plain");
}
