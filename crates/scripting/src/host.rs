//! The narrow interface through which scripts reach the server: the engine
//! implements [`Host`], and `redis.call`/`redis.pcall`/`redis.acl_check_cmd`
//! /`redis.log` go through it, so a script's command passes the same checks
//! as a client's.

use bytes::Bytes;
use redis_common::log::LogLevel;
use redis_resp::{Frame, Protocol};

/// `redis.set_repl` flags (`REPL_NONE` 0, `REPL_AOF` 1, `REPL_REPLICA` 2,
/// `REPL_ALL` 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplFlags {
    pub aof: bool,
    pub replica: bool,
}

impl ReplFlags {
    /// `REPL_ALL`, the state at the start of every script.
    pub const ALL: ReplFlags = ReplFlags {
        aof: true,
        replica: true,
    };

    pub(crate) fn from_bits(bits: u8) -> ReplFlags {
        ReplFlags {
            aof: bits & 1 != 0,
            replica: bits & 2 != 0,
        }
    }
}

/// What the host needs to know to run one command of a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// The protocol the script selected (`redis.setresp`): the reply
    /// should be produced for it (RESP3 frames are downgraded otherwise).
    pub resp: Protocol,
    /// Where the command's effects are propagated (`redis.set_repl`).
    pub repl: ReplFlags,
    /// `redis.pcall` rather than `redis.call` (informational: both get the
    /// error reply back as a frame).
    pub pcall: bool,
}

/// What [`Host::ldb_poll`] got from the debugging client.
#[derive(Debug, PartialEq, Eq)]
pub enum LdbInput {
    /// Bytes the client sent.
    Data(Vec<u8>),
    /// Nothing within the wait.
    Nothing,
    /// The client is gone.
    Closed,
    /// The script must stop with this error (`SCRIPT KILL`, shutdown).
    Stop(Vec<u8>),
}

/// Implemented by the engine for the duration of one script run.
pub trait Host {
    /// Runs `argv` as the script's client would and returns the reply. Error
    /// replies carry the full line without `-`, e.g.
    /// `ERR Unknown Redis command called from script`,
    /// `ERR This Redis command is not allowed from script`,
    /// `ERR Write commands are not allowed from read-only scripts.`.
    fn call(&mut self, argv: Vec<Bytes>, ctx: &CallContext) -> Frame;

    /// `redis.acl_check_cmd`: whether the script's user may run `argv`;
    /// `None` when the command does not exist.
    fn acl_check_cmd(&mut self, argv: &[Bytes]) -> Option<bool>;

    /// `redis.log`: a line for the server log (the engine applies the
    /// configured verbosity).
    fn log(&mut self, level: LogLevel, msg: &str);

    /// Called while a script runs, every [`TICK_INSTRUCTIONS`] Lua
    /// instructions: the host checks the time limit, serves what may be
    /// served while a script is busy, and decides whether the script must
    /// stop. `Some(error)` (e.g. `ERR Script killed by user with SCRIPT
    /// KILL...`) ends it: the error is raised in the script, and raised
    /// again at every instruction of the script's own code afterwards, so
    /// `pcall` cannot keep it alive.
    fn tick(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// The Lua debugger's console (`SCRIPT DEBUG SYNC`): bytes for the
    /// debugging client.
    fn ldb_send(&mut self, _bytes: &[u8]) {}

    /// The Lua debugger waits for its client: the next bytes it sent,
    /// within `wait` (zero: only what is there). The host serves what may
    /// be served meanwhile (as for a busy script) and says when the script
    /// must stop.
    fn ldb_poll(&mut self, _wait: std::time::Duration) -> LdbInput {
        LdbInput::Closed
    }
}

/// How many Lua instructions run between two [`Host::tick`] calls
/// (upstream's count hook uses the same period).
pub const TICK_INSTRUCTIONS: u32 = 100_000;
