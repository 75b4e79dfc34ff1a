//! Lua scripting as upstream Redis 7.0 (issue 16), as a library the engine
//! calls; it knows nothing of the engine and reaches the server only
//! through the [`Host`] trait.
//!
//! # What exists
//! - [`Interpreter`]: one Lua 5.1 state (mlua, vendored, `Send`) with
//!   7.0.15's sandbox: base (without `print`, `dofile`, `loadfile`,
//!   `getfenv`, `setfenv`, `newproxy`), `coroutine`, `table`, `string`,
//!   `math`, `bit`, `struct` and `redis`. The globals and every library
//!   table are read-only (`Attempt to modify a readonly table`, also through
//!   `rawset`/`setmetatable`); reading a missing global fails with `Script
//!   attempted to access nonexistent global variable '<name>'`; chunks made
//!   by `loadstring`/`load` see the same globals; `pcall` returns the text
//!   of `{err=...}` errors like 7.0's; `math.random` runs on upstream's
//!   rand48 ([`rand48`]), process-wide and *not* reset between scripts,
//!   exactly as the reference.
//! - The `redis` library: `call`, `pcall`, `acl_check_cmd`, `log` (through
//!   [`Host`]), `error_reply`, `status_reply`, `sha1hex`, `setresp`,
//!   `set_repl`, `replicate_commands`, `breakpoint`/`debug` (no-ops),
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
//!   then [`Interpreter::eval`]/[`Interpreter::evalsha`]; the returned frame
//!   is the reply (encode it for the client's protocol).
//! - `SCRIPT LOAD|EXISTS|FLUSH` map onto [`Interpreter::load`],
//!   [`Interpreter::exists`], [`Interpreter::flush`]; `INFO`'s
//!   `number_of_cached_scripts` is [`Interpreter::cached_scripts`].
//!
//! # Missing
//! The `cjson` and `cmsgpack` libraries; `FUNCTION`/`FCALL` (libraries,
//! `redis.register_function`, no `loadstring` there); busy scripts
//! (`lua-time-limit`, `BUSY`, `SCRIPT KILL`: needs an instruction-count hook
//! and a way for the engine to serve other clients meanwhile — a script that
//! loops forever now blocks its caller forever); the Lua debugger (LDB);
//! memory accounting (`used_memory_lua`). Known differences from the
//! reference: `#`, `ipairs` and `unpack` see `_G` and the library tables as
//! empty (they are proxies; `pairs`, `next` and `rawget` see through them);
//! `getmetatable(_G)` also shows `__newindex`; `-0.0` passed to
//! `redis.call` becomes `"0"` (mlua hands integral numbers over as
//! integers), not `"-0"`; `error({})` (which crashes the reference) gives
//! `ERR unknown error`.

pub mod bitlib;
pub mod convert;
pub mod host;
pub mod interp;
pub mod rand48;
mod redislib;
pub mod shebang;
mod structlib;

pub use host::{CallContext, Host, ReplFlags};
pub use interp::{Interpreter, REDIS_VERSION, REDIS_VERSION_NUM};
pub use shebang::ScriptFlags;

#[cfg(test)]
mod structtests;
#[cfg(test)]
mod tests;
