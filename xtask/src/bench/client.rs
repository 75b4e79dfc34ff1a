//! A small RESP2 client for the benchmark: single commands, INFO fields,
//! and a pipelined bulk loader that sends exactly the same command stream
//! to both servers (so memory and load figures compare like with like).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed reply; only what the benchmark needs to look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// Appends one command in RESP multibulk form to `out`.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Result<Client, String> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        // Generous: a SAVE of a million keys or a slow load must not time out.
        s.set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, s),
            writer,
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut l = Vec::new();
        self.reader
            .read_until(b'\n', &mut l)
            .map_err(|e| format!("read: {e}"))?;
        if !l.ends_with(b"\r\n") {
            return Err("connection closed mid-reply".into());
        }
        l.truncate(l.len() - 2);
        String::from_utf8(l).map_err(|_| "non-UTF-8 reply header".into())
    }

    pub fn read_reply(&mut self) -> Result<Reply, String> {
        let l = self.line()?;
        let (kind, rest) = l.split_at_checked(1).ok_or("empty reply line")?;
        let num = || {
            rest.parse::<i64>()
                .map_err(|_| format!("bad length in {l:?}"))
        };
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(num()?),
            "$" => {
                let n = num()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.reader
                        .read_exact(&mut b)
                        .map_err(|e| format!("read: {e}"))?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n = num()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut v = Vec::new();
                    for _ in 0..n {
                        v.push(self.read_reply()?);
                    }
                    Reply::Array(Some(v))
                }
            }
            _ => return Err(format!("unexpected reply {l:?}")),
        })
    }

    /// One command; an error reply is returned as `Err`.
    pub fn cmd(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut out = Vec::new();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        encode(&mut out, &a);
        self.send(&out)?;
        match self.read_reply()? {
            Reply::Error(e) => Err(format!("{args:?}: -{e}")),
            r => Ok(r),
        }
    }

    /// `INFO <section>` as text.
    pub fn info(&mut self, section: &str) -> Result<String, String> {
        match self.cmd(&["INFO", section])? {
            Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
            r => Err(format!("INFO {section}: unexpected {r:?}")),
        }
    }

    /// A numeric INFO field.
    pub fn info_num(&mut self, section: &str, field: &str) -> Result<f64, String> {
        let text = self.info(section)?;
        info_field(&text, field)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("INFO {section} has no numeric {field}"))
    }

    pub fn dbsize(&mut self) -> Result<i64, String> {
        match self.cmd(&["DBSIZE"])? {
            Reply::Int(n) => Ok(n),
            r => Err(format!("DBSIZE: unexpected {r:?}")),
        }
    }

    /// Sends `count` commands built by `gen(i, out)` in pipelined batches
    /// and checks that none failed. Batches are small enough that neither
    /// side's socket buffer can fill up while the other waits.
    pub fn load(&mut self, count: u64, gen: &dyn Fn(u64, &mut Vec<u8>)) -> Result<(), String> {
        const BATCH: u64 = 500;
        let mut buf = Vec::with_capacity(256 * 1024);
        let mut i = 0;
        while i < count {
            let end = (i + BATCH).min(count);
            buf.clear();
            for j in i..end {
                gen(j, &mut buf);
            }
            self.send(&buf)?;
            for _ in i..end {
                if let Reply::Error(e) = self.read_reply()? {
                    return Err(format!("loader: -{e}"));
                }
            }
            i = end;
        }
        Ok(())
    }
}

/// The value of `field:` in INFO text.
pub fn info_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// The datasets used by the memory, persistence and replication sections;
/// keys use redis-benchmark's `key:<12 digits>` form so that
/// `redis-benchmark -r N` overwrites the loaded string keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// `SET key:… v<9 digits>`: 10-byte values that are not integers.
    Strings,
    /// `HSET hash:… field:0 v… … field:9 v…`.
    Hashes,
    /// `RPUSH list:… v… ×10`.
    Lists,
    /// `ZADD zset:… 0 member:0 … 9 member:9`.
    ZSets,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Strings => "strings",
            Dataset::Hashes => "hashes",
            Dataset::Lists => "lists",
            Dataset::ZSets => "zsets",
        }
    }

    /// Appends the command that creates item `i`.
    pub fn command(self, i: u64, out: &mut Vec<u8>) {
        match self {
            Dataset::Strings => {
                let k = format!("key:{i:012}");
                let v = format!("v{i:09}");
                encode(out, &[b"SET", k.as_bytes(), v.as_bytes()]);
            }
            Dataset::Hashes => {
                let k = format!("hash:{i:012}");
                let parts: Vec<String> = (0..10)
                    .flat_map(|j| [format!("field:{j}"), format!("v{:09}", i * 10 + j)])
                    .collect();
                let mut a: Vec<&[u8]> = vec![b"HSET", k.as_bytes()];
                a.extend(parts.iter().map(|p| p.as_bytes()));
                encode(out, &a);
            }
            Dataset::Lists => {
                let k = format!("list:{i:012}");
                let parts: Vec<String> = (0..10).map(|j| format!("v{:09}", i * 10 + j)).collect();
                let mut a: Vec<&[u8]> = vec![b"RPUSH", k.as_bytes()];
                a.extend(parts.iter().map(|p| p.as_bytes()));
                encode(out, &a);
            }
            Dataset::ZSets => {
                let k = format!("zset:{i:012}");
                let parts: Vec<String> = (0..10)
                    .flat_map(|j| [j.to_string(), format!("member:{j}")])
                    .collect();
                let mut a: Vec<&[u8]> = vec![b"ZADD", k.as_bytes()];
                a.extend(parts.iter().map(|p| p.as_bytes()));
                encode(out, &a);
            }
        }
    }

    /// Loads items `0..count` into the server behind `c`.
    pub fn load(self, c: &mut Client, count: u64) -> Result<(), String> {
        c.load(count, &|i, out| self.command(i, out))
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
