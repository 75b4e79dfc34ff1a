//! Shared helpers for the RDB tests: a small RESP reply parser, command
//! helpers over the testkit connection, the reference server with DEBUG
//! enabled, and the reference `redis-check-rdb` run bounded in time.

#![allow(dead_code)]

use redis_testkit::{Conn, ServerKind, TestServer};

/// A parsed RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b.clone(),
            Reply::Status(s) => s.as_bytes().to_vec(),
            Reply::Int(i) => i.to_string().into_bytes(),
            other => panic!("not a string reply: {other:?}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("not an integer reply: {other:?}"),
        }
    }

    pub fn array(&self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(a)) => a.clone(),
            other => panic!("not an array reply: {other:?}"),
        }
    }

    pub fn strings(&self) -> Vec<Vec<u8>> {
        self.array().iter().map(Reply::bytes).collect()
    }
}

fn line(buf: &[u8], pos: &mut usize) -> String {
    let start = *pos;
    let end = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("CRLF")
        + start;
    *pos = end + 2;
    String::from_utf8_lossy(&buf[start..end]).into_owned()
}

fn parse_at(buf: &[u8], pos: &mut usize) -> Reply {
    let t = buf[*pos];
    *pos += 1;
    let l = line(buf, pos);
    match t {
        b'+' => Reply::Status(l),
        b'-' => Reply::Error(l),
        b':' => Reply::Int(l.parse().expect("int")),
        b'$' => {
            let n: i64 = l.parse().expect("bulk len");
            if n < 0 {
                return Reply::Bulk(None);
            }
            let n = n as usize;
            let b = buf[*pos..*pos + n].to_vec();
            *pos += n + 2;
            Reply::Bulk(Some(b))
        }
        b'*' => {
            let n: i64 = l.parse().expect("array len");
            if n < 0 {
                return Reply::Array(None);
            }
            Reply::Array(Some((0..n).map(|_| parse_at(buf, pos)).collect()))
        }
        other => panic!("unexpected reply type {}", other as char),
    }
}

/// Parses one complete RESP2 reply.
pub fn parse(buf: &[u8]) -> Reply {
    let mut pos = 0;
    parse_at(buf, &mut pos)
}

/// Sends a command and parses the reply.
pub fn cmd<A: AsRef<[u8]>>(c: &mut Conn, args: &[A]) -> Reply {
    parse(&c.cmd_bytes(args))
}

/// Sends a command and asserts it did not fail.
pub fn ok<A: AsRef<[u8]>>(c: &mut Conn, args: &[A]) -> Reply {
    let r = cmd(c, args);
    if let Reply::Error(e) = &r {
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect();
        panic!("{shown:?} failed: {e}");
    }
    r
}

/// Starts a reference server with DEBUG enabled (the testkit fails the
/// test when /usr/bin/redis-server is missing). Dropping it kills the
/// process by PID.
pub fn reference(extra: &[&str]) -> TestServer {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    TestServer::start(ServerKind::Reference, &args)
}

/// The reference checker; the test fails when it is missing.
pub const CHECK_RDB: &str = "/usr/bin/redis-check-rdb";

/// Runs `bin` (ours or [`CHECK_RDB`]) on `path`, bounded in time. It runs
/// in the file's directory and is given the bare name, so reports that
/// name the file are the same wherever the test dir is.
pub fn check_rdb(bin: &str, path: &std::path::Path) -> std::process::Output {
    let bin = redis_testkit::require_tool(bin, "apt-get install redis-tools");
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        panic!("{} is not a file path", path.display());
    };
    redis_testkit::run_bounded(
        std::process::Command::new(bin).arg(name).current_dir(dir),
        std::time::Duration::from_secs(60),
    )
}
