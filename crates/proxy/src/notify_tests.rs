//! Tests of the readiness datagram.

use super::*;

#[test]
fn sends_to_the_socket_path() {
    let dir = std::env::temp_dir().join(format!("proxy-notify-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("sock");
    let _ = std::fs::remove_file(&path);
    let rx = UnixDatagram::bind(&path).unwrap();
    // The only test of this crate that touches NOTIFY_SOCKET.
    std::env::set_var("NOTIFY_SOCKET", &path);
    assert!(notify("READY=1"));
    std::env::remove_var("NOTIFY_SOCKET");
    let mut buf = [0u8; 64];
    let n = rx.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    assert!(!notify("READY=1"));
    let _ = std::fs::remove_dir_all(&dir);
}
