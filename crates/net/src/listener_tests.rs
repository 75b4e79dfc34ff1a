//! Tests of `listener.rs`.

use super::*;

#[test]
fn error_texts() {
    let e = parse_bind_addrs(&["999.999.999.999".into()], 7000).unwrap_err();
    assert_eq!(
        e.lines,
        [
            "Warning: Could not create server TCP listening socket 999.999.999.999:7000: Name or service not known",
            "Failed listening on port 7000 (TCP), aborting."
        ]
    );
    let a = BindAddr {
        optional: false,
        ip: IpAddr::from([0u8, 0, 0, 0]),
        text: "*".into(),
    };
    let io = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
    assert_eq!(
        tcp_bind_error(&a, 1, &io).lines[0],
        "Warning: Could not create server TCP listening socket *:1: bind: Address already in use"
    );
    assert_eq!(
        parse_bind_addrs(&["-::1".into(), "::*".into()], 1).unwrap(),
        [
            BindAddr {
                optional: true,
                ip: "::1".parse().unwrap(),
                text: "::1".into(),
            },
            BindAddr {
                optional: false,
                ip: IpAddr::from([0u16; 8]),
                text: "::*".into(),
            }
        ]
    );
}

#[test]
fn binding_needs_a_runtime() {
    let e = bind_all(&["127.0.0.1".into()], 0, 16, "", 0).unwrap_err();
    assert!(e.lines[0].contains("tokio runtime"));
}
