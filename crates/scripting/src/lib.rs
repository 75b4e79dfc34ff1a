//! Lua scripting as upstream Redis 7.0 (issue 16), as a library the engine
//! calls; it knows nothing of the engine and reaches the server only
//! through the [`Host`] trait.
//!
//! # What exists
//! - [`Interpreter`]: one Lua 5.1 state (mlua, vendored, `Send`) with
//!   7.0.15's sandbox: base (without `print`, `dofile`, `loadfile`,
//!   `getfenv`, `setfenv`, `newproxy`), `coroutine`, `table`, `string`,
//!   `math`, `bit`, `struct`, `cjson`, `cmsgpack` and `redis`. The globals
//!   and every library table are read-only (`Attempt to modify a readonly
//!   table`, also through `rawset`/`setmetatable`); reading a missing
//!   global fails with `Script attempted to access nonexistent global
//!   variable '<name>'`; chunks made by `loadstring`/`load` see the same
//!   globals; `pcall` returns the text of `{err=...}` errors like 7.0's;
//!   the base functions the sandbox replaces are C-like (`baselib`: named
//!   as called in argument errors, located in the script even when
//!   tail-called); `math.random` runs on upstream's rand48 ([`rand48`]),
//!   *not* reset between scripts, exactly as the reference, and shared with
//!   the function engine once both are given one [`RandSource`].
//! - The `redis` library: `call`, `pcall`, `acl_check_cmd`, `log` (through
//!   [`Host`]), `error_reply`, `status_reply`, `sha1hex`, `setresp`,
//!   `set_repl`, `replicate_commands`, `breakpoint`/`debug` (for LDB),
//!   `LOG_*`, `REPL_*`, `REDIS_VERSION`, `REDIS_VERSION_NUM`, with the
//!   reference's error texts and error values (tables or strings, as seen
//!   through `pcall`).
//! - [`bitlib`]: LuaBitOp's `bit` library; `struct` (pack/unpack/size).
//! - [`convert`]: RESP ↔ Lua conversions for RESP2 and RESP3.
//! - The script cache: [`Interpreter::load`] (`SCRIPT LOAD`, compile errors
//!   `ERR Error compiling script (new function): user_script:1: ...`),
//!   [`Interpreter::exists`], [`Interpreter::flush`], [`Interpreter::eval`],
//!   [`Interpreter::evalsha`] (`NOSCRIPT ...`); scripts are keyed by the
//!   SHA-1 of their body (`redis_common::sha1`) and compiled as chunk
//!   `@user_script` (upstream registers them as `f_<sha>`; the name is
//!   internal and not visible to scripts).
//! - [`functions`]: the function engine ([`FunctionEngine`]: `FUNCTION
//!   LOAD|DELETE|FLUSH|LIST|DUMP|RESTORE|STATS` data and `FCALL`), its own
//!   Lua state built from the same sandbox; see its module documentation
//!   for the semantics and what the engine must do.
//! - [`shebang`]: `#!lua flags=...` parsing with 7.0's errors; the shebang
//!   line is left out of the compiled code but still counts as line 1.
//! - Errors that end a script become `<err> script: <sha>, on
//!   @user_script:<line>.` where `<err>` is the `err` of an error table or
//!   `ERR <message>` for anything else.
//!
//! # What the engine must do to wire `EVAL`/`EVALSHA`/`SCRIPT`
//! - Keep one [`Interpreter`] in the server state and implement [`Host`]
//!   for a per-call context: `call` dispatches `argv` as the script's client
//!   (ACL, `This Redis command is not allowed from script` for `noscript`
//!   commands, `Write commands are not allowed from read-only scripts.` when
//!   the script's [`ScriptFlags`] say `no-writes` or `EVAL_RO` runs it, OOM,
//!   cluster checks; `Unknown Redis command called from script` for unknown
//!   commands), produces the reply for [`CallContext::resp`] and propagates
//!   effects according to [`CallContext::repl`] (wrapped in MULTI/EXEC as
//!   upstream's effects replication does).
//! - `EVAL`/`EVALSHA`/`EVAL_RO`/`EVALSHA_RO`: parse numkeys, check the
//!   script's flags with [`Interpreter::script`] after [`Interpreter::load`],
//!   then [`Interpreter::eval`]/[`Interpreter::evalsha`] (or, with one cache
//!   lookup, [`Interpreter::find`] for the flags and [`Interpreter::run`]);
//!   the returned frame is the reply (encode it for the client's protocol).
//! - `SCRIPT LOAD|EXISTS|FLUSH` map onto [`Interpreter::load`],
//!   [`Interpreter::exists`], [`Interpreter::flush`]; `INFO`'s
//!   `number_of_cached_scripts` is [`Interpreter::cached_scripts`].
//!
//! # What the engine must do to wire `FUNCTION`/`FCALL`
//! See [`functions`]: keep one [`FunctionEngine`] beside the
//! [`Interpreter`] and share the generator
//! (`engine.set_rand_source(interp.rand_source())`).
//!
//! # Missing
//! The Lua debugger (LDB). Known differences from the reference: `#`,
//! `ipairs` and `unpack` see `_G` and the library tables as empty (they
//! are proxies; `pairs`, `next` and `rawget` see through them); `pairs(t)`
//! returns Lua's own `next`, not the global one; `error({})` (which
//! crashes the reference) gives `ERR unknown error`.

mod baselib;
pub mod bitlib;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod functions;
pub mod host;
pub mod interp;
mod ldb;
mod ldb_raw;
pub mod rand48;
mod raw;
mod redislib;
pub mod shebang;
mod structlib;

pub use functions::{FoundFunction, FunctionEngine, FunctionInfo, LibraryInfo, RestorePolicy};
pub use host::{CallContext, Host, LdbInput, ReplFlags};
pub use interp::{FoundScript, Interpreter, ShaHash, REDIS_VERSION, REDIS_VERSION_NUM};
pub use rand48::RandSource;
pub use shebang::ScriptFlags;

#[cfg(test)]
mod scale_tests;
#[cfg(test)]
mod structtests;
#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
