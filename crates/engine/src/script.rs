//! Scripts on the engine's side (upstream `script.c` and the engine half
//! of `eval.c`): the Lua interpreter lives in [`Scripting`]; a run is
//! prepared (the shebang flags checked against the server's state, as
//! upstream's `scriptPrepareForRun`), the script's `redis.call`s go through
//! the dispatcher as [`Caller::Script`] on a client of its own, their
//! effects are collected and propagated as one transaction, and a script
//! that runs past `busy-reply-threshold` makes the server *busy*.
//!
//! # Busy scripts
//! The script holds the server lock while it runs. Connections see
//! [`ScriptWatch`] (shared outside the lock): while a script runs they
//! wait for the lock as they would behind any command, but once it is busy
//! they hand their work (a batch with its client, a close...) to the script
//! through [`ScriptWatch::with_state`]. The script's periodic hook ([`Host::tick`])
//! serves them with the dispatcher, which answers `-BUSY` to everything but
//! the `allow_busy` commands (`SCRIPT KILL`, `FUNCTION KILL`, `SHUTDOWN
//! NOSAVE`, `AUTH`, `HELLO`, `MULTI`…), as upstream's
//! `processEventsWhileBlocked`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use redis_common::log::LogLevel;
use redis_resp::{Frame, Protocol};
use redis_scripting::shebang::ScriptFlags;
use redis_scripting::{CallContext, FunctionEngine, Host, Interpreter, RestorePolicy, ShaHash};

use crate::client::Client;
use crate::ctx::Ctx;
use crate::dispatch::Caller;
use crate::error::{CmdError, CmdResult};
use crate::replication::Targets;
use crate::State;

/// The id of the client scripts run their commands as (`CLIENT LIST` does
/// not show it; `MONITOR` shows it as `lua`).
pub const SCRIPT_CLIENT_ID: u64 = u64::MAX;

/// Upstream's `shared.slowevalerr`.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Upstream's `shared.slowscripterr`.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Which kind of script runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptKind {
    Eval,
    Function,
}

/// The script being run (upstream's `scriptRunCtx`).
#[derive(Debug)]
pub struct ScriptRun {
    pub kind: ScriptKind,
    /// The SHA-1 of an `EVAL` script (lower-case hex), or the function's
    /// name as registered.
    pub name: Bytes,
    pub start: Instant,
    /// `_RO` variants and `no-writes` scripts (`SCRIPT_READ_ONLY`).
    pub read_only: bool,
    pub flags: ScriptFlags,
    /// Run for our primary or the AOF: never refused, never killed.
    pub obey: bool,
    /// A write command was called (`SCRIPT_WRITE_DIRTY`): unkillable.
    pub wrote: bool,
    /// `SCRIPT KILL`/`FUNCTION KILL` asked it to stop.
    pub killed: bool,
    /// `SHUTDOWN NOSAVE` while it ran: stop it whatever it did.
    pub shutdown: bool,
    /// Past `busy-reply-threshold`: the server is busy.
    pub timed_out: bool,
    /// The OOM state computed before the script's command ran
    /// (upstream's `pre_command_oom_state`).
    pub oom: bool,
    /// Cluster mode: the slot of the keys the script declared or first
    /// touched (its commands must stay in it).
    pub slot: Option<u16>,
    /// The command that runs a function (`FUNCTION STATS`), copied when
    /// the run turns busy (only then can a client ask); empty for `EVAL`
    /// scripts.
    pub argv: Vec<Bytes>,
    /// Replayed from the AOF being loaded: its commands run as loading
    /// runs them (no statistics, no propagation).
    pub loading: bool,
    /// Busy ticks that called the busy hook (see [`set_busy_hook`]).
    pub release_tries: u8,
}

/// Work a connection hands to a busy script (its batch, its close...): run
/// by the script's periodic hook with the server state, as upstream's
/// `processEventsWhileBlocked` serves clients.
pub type Job = Box<dyn FnOnce(&mut State) + Send>;

/// How a caller got at the server state.
pub enum Access<'a> {
    /// The lock is held.
    Locked(MutexGuard<'a, State>),
    /// A script holds it and is busy: hand the work over
    /// ([`ScriptWatch::submit`]) or skip it.
    Busy,
    /// The lock is poisoned (a thread panicked holding it).
    Poisoned,
}

/// What connections and tasks may know of a running script without the
/// lock.
#[derive(Default)]
pub struct ScriptWatch {
    /// Scripts announced or running (an offloaded script announces itself
    /// before it takes the lock).
    running: AtomicUsize,
    busy: AtomicBool,
    /// The busy script is under the Lua debugger: clients wait (retrying)
    /// instead of being answered `-BUSY`, as upstream blocks them.
    debugging: AtomicBool,
    /// Callers committed to a blocking `lock()`: a script about to start
    /// lets them through first, so none of them waits behind it.
    waiters: AtomicUsize,
    queue: Mutex<Vec<Job>>,
}

impl std::fmt::Debug for ScriptWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptWatch")
            .field("running", &self.running())
            .field("busy", &self.busy())
            .finish()
    }
}

impl ScriptWatch {
    fn queue(&self) -> MutexGuard<'_, Vec<Job>> {
        match self.queue.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A script holds (or is about to take) the server lock.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst) > 0
    }

    /// The running script is past `busy-reply-threshold`.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Locks `state` for a caller that must not wait behind a busy script:
    /// while a script runs it waits as it would behind any command, but
    /// gives up with [`Access::Busy`] once the script is busy.
    pub fn access<'a>(&self, state: &'a Mutex<State>) -> Access<'a> {
        loop {
            self.waiters.fetch_add(1, Ordering::SeqCst);
            if !self.running() {
                let locked = state.lock();
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return match locked {
                    Ok(g) => Access::Locked(g),
                    Err(_) => Access::Poisoned,
                };
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            match state.try_lock() {
                Ok(g) => return Access::Locked(g),
                Err(std::sync::TryLockError::Poisoned(_)) => return Access::Poisoned,
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if self.busy() {
                return Access::Busy;
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }

    /// Runs `f` on the state: under the lock, or — while a script is busy
    /// — handed to the script, waiting for it to be done.
    pub fn with_state<R: Send + 'static>(
        &self,
        state: &Mutex<State>,
        f: impl FnOnce(&mut State) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut job: Job = match self.access(state) {
            Access::Locked(mut g) => return Some(f(&mut g)),
            Access::Poisoned => return None,
            Access::Busy => Box::new(move |st: &mut State| {
                let _ = tx.send(f(st));
            }),
        };
        loop {
            match self.submit(job) {
                Ok(()) => return rx.recv().ok(),
                Err(back) => job = back,
            }
            match self.access(state) {
                Access::Locked(mut g) => {
                    job(&mut g);
                    return rx.recv().ok();
                }
                Access::Poisoned => return None,
                Access::Busy => {}
            }
        }
    }

    /// Hands `job` to the busy script; given back when the script is no
    /// longer busy.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        let mut q = self.queue();
        if !self.busy() {
            return Err(job);
        }
        q.push(job);
        Ok(())
    }

    /// For a thread about to run a script: announces it (so callers stop
    /// committing to a blocking lock), then takes the lock once no
    /// committed caller is left waiting. Pair with [`ScriptWatch::retire`].
    pub fn lock_for_script<'a>(&self, state: &'a Mutex<State>) -> Option<MutexGuard<'a, State>> {
        self.running.fetch_add(1, Ordering::SeqCst);
        loop {
            let Ok(g) = state.lock() else {
                self.running.fetch_sub(1, Ordering::SeqCst);
                return None;
            };
            if self.waiters.load(Ordering::SeqCst) == 0 {
                return Some(g);
            }
            drop(g);
            std::thread::yield_now();
        }
    }

    /// Ends what [`ScriptWatch::lock_for_script`] announced.
    pub fn retire(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    fn start(&self) {
        self.running.fetch_add(1, Ordering::SeqCst);
    }

    /// The running script is a `SCRIPT DEBUG SYNC` session.
    pub fn debugging(&self) -> bool {
        self.debugging.load(Ordering::Acquire)
    }

    fn set_debugging(&self) {
        self.debugging.store(true, Ordering::Release);
        self.set_busy();
    }

    fn set_busy(&self) {
        let _q = self.queue();
        self.busy.store(true, Ordering::Release);
    }

    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.queue())
    }

    /// The script ended: no longer busy; what is still queued is returned
    /// to be run now.
    fn end(&self) -> Vec<Job> {
        let left = {
            let mut q = self.queue();
            self.busy.store(false, Ordering::Release);
            self.debugging.store(false, Ordering::Release);
            std::mem::take(&mut *q)
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
        left
    }
}

/// Called on a busy script's first ticks: see [`set_busy_hook`].
static BUSY_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// How many ticks of a busy run call the hook.
const BUSY_RELEASE_TRIES: u8 = 3;

/// Installs what a script does on its thread once it is busy, before it
/// serves the handed-over requests: the server hands the other work of
/// that thread (other connections, when the script runs in line on a
/// runtime worker) to another thread. Set once at startup.
pub fn set_busy_hook(hook: fn()) {
    let _ = BUSY_HOOK.set(hook);
}

/// What the Lua debugger's console got (see
/// [`redis_scripting::Host::ldb_poll`]).
pub use redis_scripting::LdbInput;

/// The Lua debugger's console, as the connection provides it.
pub trait LdbConsole: Send + std::fmt::Debug {
    /// Bytes for the debugging client.
    fn send(&mut self, bytes: &[u8]);
    /// The client's next bytes, waiting up to `wait`.
    fn poll(&mut self, wait: std::time::Duration) -> LdbInput;
}

/// How `SCRIPT DEBUG` debugs a client's next `EVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdbMode {
    /// `SYNC`: the session holds the server, and its changes stay.
    Sync,
    /// `YES`: the session runs on a copy of the dataset
    /// ([`crate::script_fork`]), blocks nobody, and its changes go with it
    /// (upstream forks for it).
    Forked,
}

/// Starts a debugging session for the `EVAL` of `body`: the console is
/// lent to the run. In `SYNC` mode other clients wait while it lasts, as
/// upstream blocks them. Pair with [`debug_end`].
pub fn debug_begin(ctx: &mut Ctx, body: &[u8], console: Box<dyn LdbConsole>) -> CmdResult {
    ctx.st.log_warning(match ctx.client.ldb {
        Some(LdbMode::Forked) => "Redis forked for debugging eval",
        _ => "Redis synchronous debugging eval session started",
    });
    let timeout = ctx.st.config.get_int("busy-reply-threshold").max(0) as u64;
    ctx.st.scripting.ldb_console = Some(console);
    ctx.st
        .scripting
        .interp()?
        .debug_begin(body, timeout)
        .map_err(interp_error)
}

/// Ends the session [`debug_begin`] started: the console gets its last
/// lines (`<endsession>`), the script's reply follows and the connection
/// closes after it, as upstream signals the end of a session.
pub fn debug_end(ctx: &mut Ctx) {
    let tail = match ctx.st.scripting.interp() {
        Ok(i) => i.debug_end(),
        Err(_) => Vec::new(),
    };
    if let Some(mut c) = ctx.st.scripting.ldb_console.take() {
        c.send(&tail);
    }
    ctx.st.log_warning(match ctx.client.ldb {
        Some(LdbMode::Forked) => "Lua debugging session child exiting",
        _ => "Redis synchronous debugging eval session ended",
    });
    ctx.client.close_after_reply = true;
}

/// Scripting state kept in [`State`].
#[derive(Debug, Default)]
pub struct Scripting {
    /// The console of a `SCRIPT DEBUG SYNC` session in progress.
    ldb_console: Option<Box<dyn LdbConsole>>,
    /// The `EVAL` interpreter, created on first use; taken out while a
    /// script runs (the run borrows the server state).
    interp: Option<Interpreter>,
    /// The function libraries and their Lua state, created on first use;
    /// taken out while a function runs.
    functions: Option<FunctionEngine>,
    /// Function and library counts kept for `INFO` while the engine is
    /// taken out.
    function_counts: (usize, usize),
    /// How the next RDB load treats the libraries we have (`DEBUG RELOAD
    /// NOFLUSH [MERGE]`: keep them, and fail or replace on a clash);
    /// replaced by the file's when unset.
    pub rdb_policy: Option<RestorePolicy>,
    /// The script running now.
    pub run: Option<ScriptRun>,
    pub watch: Arc<ScriptWatch>,
    /// `DEBUG set-disable-deny-scripts`: scripts may call `noscript`
    /// commands (tests only).
    pub disable_deny: bool,
    /// The client scripts call commands as, kept between runs.
    client: Option<Client>,
    /// Scripts cached by `EVAL`/`SCRIPT LOAD`, kept in step for `INFO`
    /// while the interpreter is taken out.
    cached: usize,
    /// Scripts (SHA-1s, function names) whose last run was quick: they run
    /// on the connection's thread. Any other is run on a thread of its
    /// own, so that connections can be answered if it turns out busy.
    quick: HashSet<Sha, ShaHash>,
    /// Functions (by name) whose last run was quick, as `quick`.
    quick_functions: HashSet<Vec<u8>, ShaHash>,
    /// The script that just ended, and when it started: the dispatcher
    /// notes how long it ran with the clock it reads at the end of the
    /// command anyway ([`Scripting::note_ended`]).
    ended: Option<(ScriptKind, Bytes, Instant)>,
    /// The buffer scripts' commands write their replies into, kept
    /// between calls.
    reply_buf: BytesMut,
}

/// A script id as 40 lower-case hex digits, on the stack.
type Sha = [u8; 40];

/// `id` lower-cased as a [`Sha`], if it has the length of one.
fn sha_key(id: &[u8]) -> Option<Sha> {
    let mut key: Sha = id.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// A run shorter than this marks its script as quick.
const QUICK_RUN: std::time::Duration = std::time::Duration::from_millis(2);

/// `redis.call` from a non-`EVAL` context or a broken interpreter.
fn interp_error(e: Frame) -> CmdError {
    match e {
        Frame::Error(t) => CmdError(t),
        _ => CmdError::fixed("ERR scripting is not available"),
    }
}

impl Scripting {
    /// The `EVAL` interpreter (created on first use).
    pub fn interp(&mut self) -> Result<&mut Interpreter, CmdError> {
        if self.interp.is_none() {
            self.interp = Some(Interpreter::new().map_err(interp_error)?);
        }
        self.interp
            .as_mut()
            .ok_or_else(|| CmdError::fixed("ERR scripting is not available"))
    }

    /// The function engine (created on first use), to change libraries:
    /// what was learnt of the old functions' run times is forgotten.
    pub fn functions_mut(&mut self) -> Result<&mut FunctionEngine, CmdError> {
        self.quick_functions.clear();
        self.functions()
    }

    /// The function engine (created on first use).
    pub fn functions(&mut self) -> Result<&mut FunctionEngine, CmdError> {
        if self.functions.is_none() {
            let mut engine = FunctionEngine::new().map_err(interp_error)?;
            // One `math.random` generator for scripts and functions, as
            // upstream.
            engine.set_rand_source(self.interp()?.rand_source());
            self.functions = Some(engine);
        }
        self.functions
            .as_mut()
            .ok_or_else(|| CmdError::fixed("ERR functions are not available"))
    }

    /// The library codes, for RDB files and `FUNCTION DUMP`.
    pub fn function_codes(&self) -> Vec<Bytes> {
        self.functions
            .as_ref()
            .map(FunctionEngine::codes)
            .unwrap_or_default()
    }

    /// Takes the libraries of a state loaded aside (startup loading, a
    /// full sync).
    pub fn adopt_functions(&mut self, other: &mut Scripting) {
        std::mem::swap(&mut self.functions, &mut other.functions);
        self.quick_functions.clear();
        if let (Some(f), Some(i)) = (self.functions.as_mut(), self.interp.as_ref()) {
            f.set_rand_source(i.rand_source());
        }
    }

    /// What libraries logged with `redis.log` while they loaded.
    pub fn take_load_log(&mut self) -> Vec<(LogLevel, String)> {
        self.functions
            .as_mut()
            .map(FunctionEngine::take_load_log)
            .unwrap_or_default()
    }

    /// Loads the libraries of an RDB file: they replace ours, unless
    /// [`Scripting::rdb_policy`] says otherwise (`DEBUG RELOAD NOFLUSH`).
    pub fn load_functions(&mut self, codes: &[Bytes]) -> CmdResult {
        let policy = self.rdb_policy.take().unwrap_or(RestorePolicy::Flush);
        if codes.is_empty() && (self.functions.is_none() || policy != RestorePolicy::Flush) {
            return Ok(());
        }
        self.functions_mut()?
            .restore(codes, policy)
            .map_err(interp_error)
    }

    /// Whether a connection should run `argv` on a thread of its own (see
    /// [`ScriptWatch`]): a script command whose script is not known to be
    /// quick.
    pub fn should_offload(&self, argv: &[Bytes]) -> bool {
        let (Some(name), Some(script)) = (argv.first(), argv.get(1)) else {
            return false;
        };
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("debug") && script.eq_ignore_ascii_case(b"loadaof") {
            // An AOF may hold scripts (written by older servers) that
            // run for long while it loads.
            return true;
        }
        if is("evalsha") || is("evalsha_ro") {
            return sha_key(script).is_none_or(|k| !self.quick.contains(&k));
        }
        if is("eval") || is("eval_ro") {
            let sha = redis_common::sha1::sha1_hex(script);
            return sha_key(sha.as_bytes()).is_none_or(|k| !self.quick.contains(&k));
        }
        if is("fcall") || is("fcall_ro") {
            return !self.quick_functions.contains(script.as_ref());
        }
        false
    }

    /// Called by the dispatcher with the clock it read after a command: if
    /// that command ran a script, remembers whether the run was quick.
    pub fn note_ended(&mut self, end: Instant) {
        if let Some((kind, name, start)) = self.ended.take() {
            self.note_duration(kind, &name, end.saturating_duration_since(start));
        }
    }

    /// Remembers whether a script's run was quick (the set changes only
    /// when that changes: no allocation on the hot path).
    fn note_duration(&mut self, kind: ScriptKind, name: &[u8], took: std::time::Duration) {
        let quick = took < QUICK_RUN;
        match kind {
            ScriptKind::Eval => {
                let Some(key) = sha_key(name) else {
                    return;
                };
                if quick {
                    self.quick.insert(key);
                } else {
                    self.quick.remove(&key);
                }
            }
            ScriptKind::Function => {
                if quick {
                    if !self.quick_functions.contains(name) {
                        self.quick_functions.insert(name.to_vec());
                    }
                } else {
                    self.quick_functions.remove(name);
                }
            }
        }
    }

    /// `SCRIPT FLUSH`: a new interpreter with an empty cache.
    pub fn flush(&mut self) -> CmdResult {
        if let Some(i) = self.interp.as_mut() {
            i.flush().map_err(interp_error)?;
        }
        self.quick.clear();
        Ok(())
    }

    /// The figures of `INFO memory`'s script lines.
    pub fn memory(&self) -> ScriptMemory {
        let (vm_eval, scripts_eval) = self
            .interp
            .as_ref()
            .map_or((0, 0), |i| (i.used_memory(), i.scripts_memory()));
        let (functions, libraries) = self
            .functions
            .as_ref()
            .map_or(self.function_counts, FunctionEngine::counts);
        let (vm_functions, functions_memory) = self
            .functions
            .as_ref()
            .map_or((0, 0), |f| (f.used_memory(), f.libraries_memory()));
        ScriptMemory {
            vm_eval,
            scripts_eval,
            cached_scripts: self.cached_scripts(),
            functions,
            libraries,
            vm_functions,
            functions_memory,
        }
    }

    /// `INFO`'s `number_of_cached_scripts`.
    pub fn cached_scripts(&self) -> usize {
        self.interp
            .as_ref()
            .map_or(self.cached, Interpreter::cached_scripts)
    }

    /// True while a script is past its time limit (the dispatcher refuses
    /// all but `allow_busy` commands).
    pub fn busy(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.timed_out)
    }

    /// The `-BUSY` error for the running script's kind.
    pub fn busy_error(&self) -> CmdError {
        match self.run.as_ref().map(|r| r.kind) {
            Some(ScriptKind::Function) => CmdError::fixed(BUSY_FUNCTION),
            _ => CmdError::fixed(BUSY_EVAL),
        }
    }

    /// `SCRIPT KILL` (`eval`) / `FUNCTION KILL`: upstream's `scriptKill`.
    pub fn kill(&mut self, kind: ScriptKind) -> CmdResult {
        let Some(run) = self.run.as_mut() else {
            return Err(CmdError::fixed(
                "NOTBUSY No scripts in execution right now.",
            ));
        };
        if run.obey {
            return Err(CmdError::fixed("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed."));
        }
        if run.wrote {
            return Err(CmdError::fixed("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
        }
        if run.kind != kind {
            return Err(match run.kind {
                ScriptKind::Eval => CmdError::fixed(BUSY_EVAL),
                ScriptKind::Function => CmdError::fixed(BUSY_FUNCTION),
            });
        }
        run.killed = true;
        Ok(())
    }
}

/// Memory and counts of scripts and functions, for `INFO memory`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptMemory {
    /// The `EVAL` Lua state (`used_memory_vm_eval`, `used_memory_lua`).
    pub vm_eval: usize,
    /// The script cache (`used_memory_scripts_eval`).
    pub scripts_eval: usize,
    pub cached_scripts: usize,
    pub functions: usize,
    pub libraries: usize,
    /// The functions' Lua state (`used_memory_vm_functions`).
    pub vm_functions: usize,
    /// The function libraries (`used_memory_functions`).
    pub functions_memory: usize,
}

/// One `EVAL`-family request, parsed.
#[derive(Debug)]
pub struct EvalRequest<'a> {
    /// The body (`EVAL`) or the SHA-1 (`EVALSHA`).
    pub script: &'a Bytes,
    pub by_sha: bool,
    /// `EVAL_RO` / `EVALSHA_RO`.
    pub read_only: bool,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The shebang flags of the script an `EVAL`-family command names, if it
/// is known (cached, or an `EVAL` body with a valid shebang). The
/// dispatcher derives the command's flags from them (upstream's
/// `evalGetCommandFlags`).
pub fn eval_flags(st: &State, argv: &[Bytes], by_sha: bool) -> Option<ScriptFlags> {
    let script = argv.get(1)?;
    if by_sha && script.len() != 40 {
        return None;
    }
    let interp = st.scripting.interp.as_ref();
    let known = if by_sha {
        interp.and_then(|i| i.script_flags(script))
    } else {
        let sha = redis_common::sha1::sha1_hex(script);
        interp.and_then(|i| i.script_flags(sha.as_bytes()))
    };
    match known {
        Some(f) => Some(f),
        None if by_sha => None,
        None => redis_scripting::shebang::parse(script)
            .ok()
            .map(|p| p.flags),
    }
}

/// Runs `EVAL`, `EVALSHA`, `EVAL_RO` or `EVALSHA_RO` and writes the reply.
pub fn eval(ctx: &mut Ctx, req: EvalRequest) -> CmdResult {
    ctx.st.scripting.interp()?;
    let mut interp = match ctx.st.scripting.interp.take() {
        Some(i) => i,
        None => return Err(CmdError::fixed("ERR scripting is not available")),
    };
    let result = eval_with(ctx, &mut interp, req);
    ctx.st.scripting.interp = Some(interp);
    ctx.st.scripting.cached = 0;
    result
}

/// [`eval`] with the interpreter taken out of the state.
fn eval_with(ctx: &mut Ctx, interp: &mut Interpreter, req: EvalRequest) -> CmdResult {
    let loaded;
    let sha: &[u8] = if req.by_sha {
        req.script
    } else {
        loaded = interp.load(req.script).map_err(interp_error)?;
        loaded.as_bytes()
    };
    let interp = &*interp;
    let Some(found) = interp.find(sha) else {
        return Err(CmdError::fixed(NOSCRIPT));
    };
    let flags = found.flags();
    prepare_run(ctx, flags, req.read_only)?;
    ctx.st.scripting.cached = interp.cached_scripts();
    // The id as sent is usually the lower-case one: shared, not copied.
    let name = if req.script.as_ref() == found.sha().as_slice() {
        req.script.clone()
    } else {
        Bytes::copy_from_slice(found.sha())
    };
    let run = ScriptRun {
        kind: ScriptKind::Eval,
        name,
        // The command's own start (no clock read of its own).
        start: ctx.st.clock_mark,
        read_only: req.read_only || flags.no_writes,
        flags,
        obey: ctx.caller == Caller::Primary
            || ctx.caller == Caller::AofLoad
            || ctx.client.is_master,
        wrote: false,
        killed: false,
        shutdown: false,
        timed_out: false,
        oom: ctx.st.pre_command_oom,
        slot: None,
        argv: Vec::new(),
        loading: ctx.caller == Caller::AofLoad,
        release_tries: 0,
    };
    let reply = run_script(ctx, run, req.keys, &[], |host| {
        interp.run(host, found, req.keys, req.args)
    });
    if matches!(reply, Frame::Error(_)) {
        ctx.st.error_counted = interp.last_error_counted();
    }
    reply_frame(ctx, reply)
}

/// One `FCALL`/`FCALL_RO` request, parsed.
#[derive(Debug)]
pub struct FcallRequest<'a> {
    pub name: &'a Bytes,
    pub read_only: bool,
    /// The keys and the arguments, or the error of a bad `numkeys`
    /// (reported only once the function is known to exist).
    pub split: Result<(&'a [Bytes], &'a [Bytes]), CmdError>,
    /// The whole command (`FUNCTION STATS` shows it).
    pub argv: &'a [Bytes],
}

/// The flags of the function an `FCALL` names, if it exists.
pub fn fcall_flags(st: &State, argv: &[Bytes]) -> Option<ScriptFlags> {
    let name = argv.get(1)?;
    st.scripting.functions.as_ref()?.function_flags(name)
}

/// Runs `FCALL` or `FCALL_RO` and writes the reply (`ERR Function not
/// found` first, then the error of a bad `numkeys`).
pub fn fcall(ctx: &mut Ctx, req: FcallRequest) -> CmdResult {
    ctx.st.scripting.functions()?;
    let engine = match ctx.st.scripting.functions.take() {
        Some(e) => e,
        None => return Err(CmdError::fixed("ERR functions are not available")),
    };
    let result = fcall_with(ctx, &engine, req);
    ctx.st.scripting.functions = Some(engine);
    result
}

/// [`fcall`] with the function engine taken out of the state.
fn fcall_with(ctx: &mut Ctx, engine: &FunctionEngine, req: FcallRequest) -> CmdResult {
    let Some(found) = engine.find(req.name) else {
        return Err(CmdError::fixed("ERR Function not found"));
    };
    let (keys, args) = req.split?;
    let info = found.info();
    let mut flags = info.flags;
    flags.shebang = true;
    prepare_run(ctx, flags, req.read_only)?;
    ctx.st.scripting.function_counts = engine.counts();
    // The name as sent is usually the registered one: shared, not copied.
    let name = if req.name.as_ref() == info.name.as_bytes() {
        req.name.clone()
    } else {
        Bytes::copy_from_slice(info.name.as_bytes())
    };
    let run = ScriptRun {
        kind: ScriptKind::Function,
        name,
        // The command's own start (no clock read of its own).
        start: ctx.st.clock_mark,
        read_only: req.read_only || flags.no_writes,
        flags,
        obey: ctx.caller == Caller::Primary
            || ctx.caller == Caller::AofLoad
            || ctx.client.is_master,
        wrote: false,
        killed: false,
        shutdown: false,
        timed_out: false,
        oom: ctx.st.pre_command_oom,
        slot: None,
        argv: Vec::new(),
        loading: ctx.caller == Caller::AofLoad,
        release_tries: 0,
    };
    let reply = run_script(ctx, run, keys, req.argv, |host| {
        engine.call_found(host, found, keys, args)
    });
    if matches!(reply, Frame::Error(_)) {
        ctx.st.error_counted = engine.last_error_counted();
    }
    reply_frame(ctx, reply)
}

/// Writes a script's result: an error result is the command's error.
pub fn reply_frame(ctx: &mut Ctx, frame: Frame) -> CmdResult {
    if let Frame::Error(e) = frame {
        return Err(CmdError(e));
    }
    let proto = ctx.client.proto;
    frame.encode(proto, ctx.out);
    Ok(())
}

/// Upstream's `scriptPrepareForRun` checks, for scripts that declared
/// flags (a script without a shebang is checked command by command).
fn prepare_run(ctx: &mut Ctx, flags: ScriptFlags, ro_command: bool) -> CmdResult {
    let st = &*ctx.st;
    let obey =
        ctx.caller == Caller::Primary || ctx.caller == Caller::AofLoad || ctx.client.is_master;
    let stale = st
        .master
        .as_ref()
        .is_some_and(|m| !m.state.is_up() && !st.cached.replica_serve_stale_data);
    if !flags.shebang {
        if stale && !obey {
            return Err(CmdError::fixed(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ));
        }
        return Ok(());
    }
    if flags.no_cluster && st.cluster.is_some() {
        return Err(CmdError::fixed(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if !flags.allow_oom
        && !flags.no_writes
        && st.cached.maxmemory > 0
        && st.pre_command_oom
        && !obey
    {
        return Err(CmdError::fixed(
            "OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    if stale && !flags.allow_stale && !obey {
        return Err(CmdError::fixed(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        ));
    }
    if !flags.no_writes {
        if st.rejects_writes() && !obey {
            return Err(CmdError::fixed(
                "READONLY Can not run script with write flag on readonly replica",
            ));
        }
        if !obey {
            if let Some(e) = st.disk_error() {
                if e.0.starts_with(b"MISCONF Redis is configured to save RDB") {
                    return Err(CmdError::fixed("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts."));
                }
                return Err(e);
            }
        }
        if ro_command {
            return Err(CmdError::fixed(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let now = ctx.now;
        if st.master.is_none() && !ctx.st.enough_good_replicas(now) {
            return Err(CmdError::fixed(
                "NOREPLICAS Not enough good replicas to write.",
            ));
        }
    }
    Ok(())
}

/// Runs a script with the engine as its host: sets the run up, collects
/// its effects into one transaction, and tears it down (serving what
/// connections handed over while it was busy). `command` is what
/// [`ScriptRun::argv`] becomes if the run turns busy.
pub fn run_script(
    ctx: &mut Ctx,
    run: ScriptRun,
    keys: &[Bytes],
    command: &[Bytes],
    body: impl FnOnce(&mut dyn Host) -> Frame,
) -> Frame {
    let mut sclient = ctx
        .st
        .scripting
        .client
        .take()
        .unwrap_or_else(|| Client::detached(SCRIPT_CLIENT_ID));
    sclient.db = ctx.client.db;
    sclient.proto = Protocol::Resp2;
    sclient.authenticated = true;
    if sclient.user != ctx.client.user {
        sclient.user.clone_from(&ctx.client.user);
    }
    sclient.is_master = ctx.client.is_master;
    sclient.multi = None;
    sclient.asking = ctx.client.asking;
    sclient.readonly = ctx.client.readonly;
    let mut run = run;
    if run.slot.is_none() && ctx.st.cluster.is_some() {
        run.slot = keys.first().map(|k| redis_cluster::slot::key_hash_slot(k));
    }
    ctx.st.scripting.run = Some(run);
    ctx.st.scripting.watch.start();
    // Effects go out together, after the script (7.0's effects
    // replication); inside EXEC the transaction already collects them.
    let own_wrap = ctx.st.repl.exec_ops.is_none();
    if own_wrap {
        ctx.st.begin_exec_propagation();
    }
    let reply = {
        let mut host = EngineHost {
            st: &mut *ctx.st,
            sclient: &mut sclient,
            now: ctx.now,
            command,
        };
        body(&mut host)
    };
    ctx.st.repl.targets = Targets::ALL;
    let run = ctx.st.scripting.run.take();
    let shutdown = run.as_ref().is_some_and(|r| r.shutdown);
    if let Some(r) = run {
        // How long it ran is noted with the dispatcher's clock read at the
        // end of the command ([`Scripting::note_ended`]).
        ctx.st.scripting.ended = Some((r.kind, r.name, r.start));
    }
    if own_wrap {
        if shutdown {
            ctx.st.abandon_exec_propagation();
        } else {
            ctx.st.end_exec_propagation();
        }
    }
    ctx.st.scripting.client = Some(sclient);
    let watch = Arc::clone(&ctx.st.scripting.watch);
    for job in watch.end() {
        job(ctx.st);
    }
    reply
}

/// The largest reply buffer kept between scripts' commands.
const REPLY_BUF_KEPT: usize = 16 * 1024;

/// The reply a script's command wrote, as a frame: the usual one-line and
/// bulk replies are read directly (no copy of the whole buffer into
/// shared memory), anything else through the decoder.
fn reply_frame_of(out: &mut BytesMut) -> Frame {
    if let Some(f) = plain_reply(out) {
        return f;
    }
    // Attributes are not shown to scripts: the reply is what follows.
    loop {
        match redis_resp::decode(out) {
            Ok(Some(Frame::Attribute(_))) => continue,
            Ok(Some(f)) => return f,
            _ => return Frame::Null,
        }
    }
}

/// `out` as a frame when it holds exactly one status, error, integer,
/// null or bulk reply (`None`: anything else, left to the decoder).
fn plain_reply(out: &[u8]) -> Option<Frame> {
    let (&kind, rest) = out.split_first()?;
    let cr = rest.iter().position(|&b| b == b'\r')?;
    let (line, after) = rest.split_at(cr);
    let after = after.strip_prefix(b"\r\n")?;
    let int = || {
        std::str::from_utf8(line)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
    };
    match kind {
        b'+' if after.is_empty() => Some(Frame::Simple(if line == b"OK" {
            Bytes::from_static(b"OK")
        } else {
            Bytes::copy_from_slice(line)
        })),
        b'-' if after.is_empty() => Some(Frame::Error(Bytes::copy_from_slice(line))),
        b':' if after.is_empty() => int().map(Frame::Integer),
        b'_' if after.is_empty() && line.is_empty() => Some(Frame::Null),
        b'$' => match int()? {
            -1 if after.is_empty() => Some(Frame::Null),
            n if n >= 0 => {
                let n = usize::try_from(n).ok()?;
                let payload = after.get(..n)?;
                (after.get(n..)? == b"\r\n").then(|| Frame::Bulk(Bytes::copy_from_slice(payload)))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The engine as a script's host: one per run.
struct EngineHost<'a> {
    st: &'a mut State,
    sclient: &'a mut Client,
    now: i64,
    /// The command that runs the script.
    command: &'a [Bytes],
}

impl EngineHost<'_> {
    /// A debugging session holds the server for as long as its user
    /// wants: other connections wait without holding a thread (they retry
    /// instead of handing their requests over), and the little work that
    /// is still handed over (closes) is served while the debugger waits.
    fn debug_busy(&mut self) {
        if let Some(run) = self.st.scripting.run.as_mut() {
            if !run.timed_out {
                run.timed_out = true;
                self.st.scripting.watch.set_debugging();
            }
        }
    }

    /// Runs the work connections handed over while the script is busy.
    fn serve_busy_requests(&mut self) {
        let watch = Arc::clone(&self.st.scripting.watch);
        for job in watch.take() {
            job(self.st);
        }
    }
}

impl Host for EngineHost<'_> {
    fn call(&mut self, argv: Vec<Bytes>, cctx: &CallContext) -> Frame {
        self.sclient.proto = cctx.resp;
        self.st.repl.targets = Targets {
            aof: cctx.repl.aof,
            replicas: cctx.repl.replica,
        };
        // One buffer for the replies of all the scripts' commands.
        let mut out = std::mem::take(&mut self.st.scripting.reply_buf);
        out.clear();
        if out.capacity() < 128 {
            out.reserve(128);
        }
        self.st.script_call(self.sclient, argv, &mut out, self.now);
        self.st.repl.targets = Targets::ALL;
        let frame = reply_frame_of(&mut out);
        // A large reply's room is not kept.
        if out.capacity() <= REPLY_BUF_KEPT {
            self.st.scripting.reply_buf = out;
        }
        frame
    }

    fn acl_check_cmd(&mut self, argv: &[Bytes]) -> Option<bool> {
        // The script's user (the caller's), checked without logging.
        let cmd = self.st.registry.resolve(argv).ok()?;
        if !self.st.acl_needs_check(self.sclient) {
            return Some(true);
        }
        let Some(user) = self.st.acl.users.get(self.sclient.user.as_bytes()) else {
            return Some(false);
        };
        Some(crate::acl::check_user(user, cmd, argv).is_ok())
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        self.st.log(level, msg);
    }

    fn ldb_send(&mut self, bytes: &[u8]) {
        self.debug_busy();
        if let Some(c) = self.st.scripting.ldb_console.as_mut() {
            c.send(bytes);
        }
    }

    fn ldb_poll(&mut self, wait: std::time::Duration) -> LdbInput {
        self.debug_busy();
        self.serve_busy_requests();
        if self.st.shutdown.is_some() {
            if let Some(run) = self.st.scripting.run.as_mut() {
                run.shutdown = true;
            }
            return LdbInput::Stop(b"Script killed by a server shutdown".to_vec());
        }
        match self.st.scripting.ldb_console.as_mut() {
            Some(c) => c.poll(wait),
            None => LdbInput::Closed,
        }
    }

    fn tick(&mut self) -> Option<Vec<u8>> {
        let threshold = self.st.config.get_int("busy-reply-threshold");
        let run = self.st.scripting.run.as_mut()?;
        if !run.timed_out {
            let elapsed = run.start.elapsed().as_millis() as i64;
            if threshold <= 0 || elapsed < threshold {
                return None;
            }
            run.timed_out = true;
            if run.kind == ScriptKind::Function {
                run.argv = self.command.to_vec();
            }
            let what = match run.kind {
                ScriptKind::Eval => "SCRIPT KILL",
                ScriptKind::Function => "FUNCTION KILL",
            };
            let name = String::from_utf8_lossy(&run.name).into_owned();
            self.st.log_warning(&format!(
                "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {what} command. Script name is: {name}."
            ));
            self.st.scripting.watch.set_busy();
        }
        // The first busy ticks release the thread's other work, if it has
        // any (see `set_busy_hook`).
        if let Some(run) = self.st.scripting.run.as_mut() {
            if run.release_tries < BUSY_RELEASE_TRIES {
                run.release_tries += 1;
                if let Some(hook) = BUSY_HOOK.get() {
                    hook();
                }
            }
        }
        self.serve_busy_requests();
        let run = self.st.scripting.run.as_mut()?;
        if self.st.shutdown.is_some() {
            run.shutdown = true;
        }
        if run.shutdown {
            return Some(b"ERR Script killed by a server shutdown".to_vec());
        }
        if run.killed {
            // Upstream's texts name SCRIPT KILL for functions too.
            self.st
                .log_warning("Lua script killed by user with SCRIPT KILL.");
            return Some(b"ERR Script killed by user with SCRIPT KILL...".to_vec());
        }
        None
    }
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
