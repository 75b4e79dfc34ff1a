//! Test helpers shared by the black-box tests: spawn a server (ours or the
//! reference `redis-server`) on a free loopback port with a private temp
//! dir, talk to it over a raw synchronous TCP connection that returns reply
//! bytes exactly as sent, and compare replies with readable diffs.
//!
//! Also: bounded runs of tools and processes killed by PID on drop
//! ([`process`]), and scratch directories removed on drop ([`dir`]).
//!
//! Replies are scanned by the testkit itself, never by the crates under
//! test, so a broken reply decoder cannot hide behind the same broken
//! decoder in the tests; only the request encoder is redis-resp's.

pub mod cluster;
pub mod conn;
pub mod dir;
pub mod netns;
pub mod process;
pub mod resp;
pub mod sentinel;
pub mod server;

pub use conn::Conn;
pub use dir::TempDir;
pub use process::{require_tool, run_bounded, run_bounded_with_input, ChildGuard};
pub use resp::{escape, reply_len, ScanError};
pub use server::{ServerKind, TestServer};

/// Runs `scenario` on a fresh reference server, then on a fresh server of
/// ours (both with the same extra arguments), and asserts that the two
/// transcripts of raw replies are identical, step by step.
pub fn same_on_both(args: &[&str], scenario: impl Fn(&TestServer) -> Vec<Vec<u8>>) {
    let reference = TestServer::start(ServerKind::Reference, args);
    let expected = scenario(&reference);
    drop(reference);
    let ours = TestServer::start(ServerKind::Ours, args);
    let got = scenario(&ours);
    assert_eq!(expected.len(), got.len(), "transcript lengths differ");
    for (i, (e, g)) in expected.iter().zip(got.iter()).enumerate() {
        assert_resp_eq!(g, e, "step {i}; our log:\n{}", ours.log_contents());
    }
}

/// Asserts that two byte strings (anything `AsRef<[u8]>`) are equal and, when
/// they are not, prints both with `\r\n` and other control bytes escaped so
/// that RESP framing differences are visible in the panic message.
#[macro_export]
macro_rules! assert_resp_eq {
    ($left:expr, $right:expr $(,)?) => {{
        let (left_val, right_val) = (&$left, &$right);
        let l: &[u8] = ::core::convert::AsRef::<[u8]>::as_ref(left_val);
        let r: &[u8] = ::core::convert::AsRef::<[u8]>::as_ref(right_val);
        if l != r {
            panic!(
                "RESP replies differ\n  left:  {}\n  right: {}",
                $crate::escape(l),
                $crate::escape(r)
            );
        }
    }};
    ($left:expr, $right:expr, $($fmt:tt)+) => {{
        let (left_val, right_val) = (&$left, &$right);
        let l: &[u8] = ::core::convert::AsRef::<[u8]>::as_ref(left_val);
        let r: &[u8] = ::core::convert::AsRef::<[u8]>::as_ref(right_val);
        if l != r {
            panic!(
                "RESP replies differ: {}\n  left:  {}\n  right: {}",
                format_args!($($fmt)+),
                $crate::escape(l),
                $crate::escape(r)
            );
        }
    }};
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
