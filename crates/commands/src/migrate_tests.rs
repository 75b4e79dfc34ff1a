//! Unit tests of `migrate.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn ports_are_read_like_atoi() {
    assert_eq!(atoi(b"6379"), 6379);
    assert_eq!(atoi(b" \t+6379xyz"), 6379);
    assert_eq!(atoi(b"abc"), 0);
    assert_eq!(atoi(b"-5"), -5);
    assert_eq!(atoi(b""), 0);
    // strtol saturates at LONG_MAX, then the cast to int keeps the low
    // 32 bits.
    assert_eq!(atoi(b"99999999999999999999"), -1);
    assert_eq!(atoi(b"9999999999"), 1_410_065_407);
    assert!(resolve(b"127.0.0.1", b"-5").is_empty());
    assert!(resolve(b"", b"6379").is_empty());
    let wrapped = resolve(b"127.0.0.1\0junk", b"71915");
    assert_eq!(wrapped, vec![SocketAddr::from(([127, 0, 0, 1], 6379))]);
}

#[test]
fn target_errors_are_formatted_like_upstream() {
    let e = target_error(b"-BUSYKEY Target key name already exists.");
    assert_eq!(
        &e.0[..],
        b"ERR Target instance replied with error: BUSYKEY Target key name already exists."
    );
    assert_eq!(
        &target_error(b"-A\rb\r\r").0[..],
        b"ERR Target instance replied with error: A b"
    );
    assert_eq!(
        &target_error(b"-A\0B").0[..],
        b"ERR Target instance replied with error: A"
    );
    assert_eq!(e.code(), b"ERR");
}

#[test]
fn options_parse_in_upstream_order() {
    let argv = |a: &[&str]| -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    };
    let base = ["MIGRATE", "h", "1", "", "0", "100"];
    let with = |rest: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(rest);
        argv(&v)
    };
    let a = with(&["auth2", "u", "p", "AUTH", "q", "copy", "KEYS", "a", "b"]);
    let o = Opts::parse(&a).unwrap();
    assert!(o.copy && !o.replace);
    assert_eq!(o.username.map(|b| &b[..]), Some(&b"u"[..]));
    assert_eq!(o.password.map(|b| &b[..]), Some(&b"q"[..]));
    assert_eq!(o.keys.len(), 2);
    assert_eq!(Opts::parse(&with(&["KEYS"])).unwrap().keys.len(), 0);
    assert_eq!(Opts::parse(&with(&[])).unwrap().keys.len(), 1);
    assert_eq!(Opts::parse(&with(&["AUTH2", "u"])).err(), Some(SYNTAX));
    let mut named = base.to_vec();
    named[3] = "k";
    named.extend_from_slice(&["REPLACE", "KEYS", "a"]);
    assert_eq!(Opts::parse(&argv(&named)).err(), Some(KEYS_NEED_EMPTY_KEY));
}

#[test]
fn reply_lines_are_read_like_sync_read_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let mut long = vec![b'+'; 1500];
    long.extend_from_slice(b"\r\n");
    server.write_all(b"+OK\r\n:1\n\r\n").unwrap();
    server.write_all(&long).unwrap();
    server.write_all(b"\n").unwrap();
    let mut s = MigrateSocket {
        stream: client,
        last_dbid: -1,
        last_use: 0,
        pending: Vec::new(),
    };
    let t = Duration::from_millis(500);
    assert_eq!(read_line(&mut s, t).unwrap(), b"+OK");
    assert_eq!(read_line(&mut s, t).unwrap(), b":1");
    // A lone CR before the LF is a line, empty once the CR goes.
    assert_eq!(read_line(&mut s, t).unwrap(), b"");
    assert_eq!(read_line(&mut s, t).unwrap().len(), LINE_MAX);
    assert_eq!(read_line(&mut s, t).unwrap().len(), 1500 - LINE_MAX);
    // A bare LF fails, as upstream's zero-length read does.
    assert_eq!(read_line(&mut s, t), Err(IoFail::Other));
    assert_eq!(
        read_line(&mut s, Duration::from_millis(50)),
        Err(IoFail::Timeout)
    );
    drop(server);
    assert_eq!(read_line(&mut s, t), Err(IoFail::Other));
}
