//! The dispatcher: the one path every command takes, whoever sends it.
//!
//! [`State::call`] resolves the command, runs upstream 7.0's
//! `processCommand` checks in their order for the callers that get them,
//! queues inside `MULTI`, and hands the rest to [`State::execute`]
//! (upstream's `call()`): the handler, then statistics, the slow log,
//! MONITOR, keyspace misses, expiry deletions and the single propagation
//! point. The caller kind ([`Caller`]) decides which checks apply and what
//! happens after the handler, the way upstream's client flags and
//! `CMD_CALL_*` flags do; no other code runs a handler.
//!
//! The check order (each one only where it applies): lookup → arity →
//! protected commands → authentication → `NO_MULTI` → ACL → (cluster
//! redirection) → OOM → MISCONF → NOREPLICAS → READONLY → pub/sub context
//! → MASTERDOWN → LOADING → (busy script) → replica keyspace access →
//! client pause → MULTI queueing. Hooks not implemented yet are marked
//! where they go.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::client::{Client, MultiState, ReplyMode};
use crate::ctx::Ctx;
use crate::error::{self, CmdError};
use crate::table::{flags, Cmd, Special};
use crate::State;
use redis_acl::LogContext;
use redis_scripting::shebang::ScriptFlags;

/// Who runs a command. Upstream encodes this in client flags
/// (`CLIENT_MASTER`, the AOF's fake client) and `call()` flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A connected client: every check, then the full `call()`.
    Client,
    /// Our primary's replication stream (upstream's "must obey" client):
    /// the same checks except READONLY, a disk write error is logged
    /// instead of refused, it is never postponed by `CLIENT PAUSE`; its
    /// writes reach our AOF but not our own stream, which relays the
    /// primary's bytes unchanged.
    Primary,
    /// A command queued by `MULTI`, run by `EXEC`: checked when queued.
    Exec,
    /// A blocked client's command run again once a key it waits on is
    /// ready: checked when it first ran.
    BlockedRetry,
    /// A command a Lua script calls (`redis.call`/`redis.pcall`): the
    /// script checks of [`State::script_call`], then the full `call()`;
    /// its propagation is collected for the script's transaction.
    Script,
    /// A command read from the append-only file at startup: no checks, no
    /// statistics, no propagation (upstream's fake AOF client with
    /// `CMD_CALL_NONE`). A command with the wrong number of arguments is
    /// skipped: upstream's loader does not check, our handlers rely on it.
    AofLoad,
}

impl Caller {
    /// Statistics, latency, the slow log and MONITOR see this caller.
    fn observed(self) -> bool {
        !matches!(self, Caller::AofLoad)
    }
}

/// What became of a request.
#[derive(Debug)]
pub enum Called {
    /// It ran, was queued or was rejected; carries the full name of the
    /// command it resolved to, if any (`CLIENT LIST`'s `cmd=`).
    Done(Option<&'static str>),
    /// `CLIENT PAUSE` holds it: the connection retries it when the pause
    /// ends, keeping what it sent after it waiting too.
    Postponed(Vec<Bytes>),
}

/// What the checks decided.
enum Verdict {
    Run,
    Queue,
    Reject(CmdError),
    /// A cluster redirection (`-MOVED`, `-ASK`, ...).
    Redirect(CmdError),
    Postpone,
    /// The client was closed (client eviction): no reply, nothing runs.
    Drop,
}

/// The RDB MISCONF text (upstream `shared.bgsaveerr`).
const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The flags of a command as the checks see them: `EXEC` stands for the
/// union of what it queued (upstream's `mstate.cmd_flags`), and for the
/// "deny" checks of flags a command must *have* (STALE, LOADING), for
/// whether any queued command lacks them (`mstate.cmd_inv_flags`).
struct Effective {
    write: bool,
    read: bool,
    denyoom: bool,
    may_replicate: bool,
    deny_stale: bool,
    deny_loading: bool,
    deny_async_loading: bool,
}

fn may_replicate(cmd: &Cmd) -> bool {
    cmd.has(flags::MAY_REPLICATE)
}

impl State {
    /// The flags a queued command adds to its transaction's (upstream's
    /// `getCommandFlags`): a script that declared flags counts as the
    /// command they describe, so EXEC on a replica that became read-only
    /// meanwhile is refused for a writing script too.
    fn queued_flags(&self, cmd: &Cmd, argv: &[Bytes]) -> (u32, bool) {
        let script = match cmd.special {
            Special::Eval => crate::script::eval_flags(self, argv, false),
            Special::EvalSha => crate::script::eval_flags(self, argv, true),
            Special::Fcall => crate::script::fcall_flags(self, argv),
            _ => None,
        };
        let Some(f) = script.filter(|f| f.shebang) else {
            return (cmd.flags, may_replicate(cmd));
        };
        let mut bits = cmd.flags & !(flags::STALE | flags::DENYOOM | flags::WRITE);
        if !f.allow_oom && !f.no_writes {
            bits |= flags::DENYOOM;
        }
        if !f.no_writes {
            bits |= flags::WRITE;
        }
        if f.allow_stale {
            bits |= flags::STALE;
        }
        (bits, !f.no_writes)
    }
}

impl Effective {
    fn of(cmd: &Cmd, client: &Client, script: Option<ScriptFlags>) -> Effective {
        let mut e = Effective {
            write: cmd.has(flags::WRITE),
            read: cmd.has(flags::READONLY),
            denyoom: cmd.has(flags::DENYOOM),
            may_replicate: cmd.has(flags::WRITE) || may_replicate(cmd),
            deny_stale: !cmd.has(flags::STALE),
            deny_loading: !cmd.has(flags::LOADING),
            deny_async_loading: cmd.has(flags::NO_ASYNC_LOADING),
        };
        if let Some(f) = script.filter(|f| f.shebang) {
            // A script that declared flags is checked as the command its
            // flags describe (upstream's `scriptFlagsToCmdFlags`).
            e.write = !f.no_writes;
            e.denyoom = !f.no_writes && !f.allow_oom;
            e.deny_stale = !f.allow_stale;
            e.may_replicate = e.write;
        }
        if cmd.special == Special::Exec {
            if let Some(m) = &client.multi {
                e.write |= m.flags & flags::WRITE != 0;
                e.read |= m.flags & flags::READONLY != 0;
                e.denyoom |= m.flags & flags::DENYOOM != 0;
                e.may_replicate |= m.flags & flags::WRITE != 0 || m.may_replicate;
                e.deny_stale |= m.inv_flags & flags::STALE != 0;
                e.deny_loading |= m.inv_flags & flags::LOADING != 0;
                e.deny_async_loading |= m.flags & flags::NO_ASYNC_LOADING != 0;
            }
        }
        e
    }
}

impl State {
    /// Runs one request for `client` as `caller`, appending its reply to
    /// `out` (see the module docs for the order of the checks).
    pub fn call(
        &mut self,
        caller: Caller,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
    ) -> Called {
        // Client-side caching follows the top-level command's client
        // (upstream's `current_client`).
        let top = matches!(
            caller,
            Caller::Client | Caller::Primary | Caller::BlockedRetry
        );
        let saved = top.then(|| self.tracking_enter(client.id));
        let called = self.call_checked(caller, client, argv, out, now);
        if let Some(saved) = saved {
            let keep_caching = client.multi.is_some()
                || matches!(&called, Called::Postponed(_))
                || matches!(&called, Called::Done(Some(n)) if n.starts_with("client|"));
            self.tracking_leave(saved, keep_caching, out);
        }
        // `ASKING` lasts one command (or one transaction), as upstream's
        // `resetClient`.
        if client.asking
            && client.multi.is_none()
            && matches!(called, Called::Done(name) if name != Some("asking"))
        {
            client.asking = false;
        }
        called
    }

    fn call_checked(
        &mut self,
        caller: Caller,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
    ) -> Called {
        let reg = self.registry;
        let cmd = match reg.resolve(&argv) {
            Ok(c) => c,
            Err((e, idx)) => {
                self.reject(caller, client, out, e, idx);
                return Called::Done(None);
            }
        };
        let name = Some(cmd.full_name.as_str());
        if !self.postponed.is_empty() && self.postponed.remove(&client.id) {
            // The pause that held this client is over (or no longer
            // applies to it): it is no longer blocked.
            if let Some(info) = self.clients.get_mut(&client.id) {
                info.blocked = false;
            }
        }
        let verdict = match caller {
            Caller::Client | Caller::Primary => self.check(caller, cmd, client, &argv, now),
            // ACL rules may have changed since the command was queued.
            Caller::Exec if self.acl_needs_check(client) => {
                match self.acl_check_command(client, cmd, &argv, LogContext::Multi, now) {
                    Ok(()) => Verdict::Run,
                    Err(d) => Verdict::Reject(CmdError::msg(crate::acl::exec_denied_message(d))),
                }
            }
            Caller::Exec | Caller::BlockedRetry | Caller::Script => Verdict::Run,
            Caller::AofLoad => {
                if !arity_ok(cmd, argv.len()) {
                    return Called::Done(name);
                }
                if client.multi.is_some() && cmd.special != Special::Exec {
                    Verdict::Queue
                } else {
                    Verdict::Run
                }
            }
        };
        if matches!(
            caller,
            Caller::Client | Caller::Primary | Caller::BlockedRetry
        ) {
            self.tracking_checked(caller == Caller::Client, out);
        }
        match verdict {
            Verdict::Redirect(e) => {
                // Upstream discards a redirected transaction (a plain
                // redirection, not EXECABORT) and flags one being queued.
                if cmd.special == Special::Exec && client.multi.is_some() {
                    self.discard_transaction(client);
                }
                self.reject(caller, client, out, e, Some(cmd.idx));
            }
            Verdict::Reject(e) => {
                if cmd.special == Special::Exec && client.multi.is_some() {
                    // Upstream's execCommandAbort: the transaction is
                    // discarded with the reason.
                    self.discard_transaction(client);
                    let text = String::from_utf8_lossy(&e.0).into_owned();
                    let e = CmdError::msg(format!(
                        "EXECABORT Transaction discarded because of: {text}"
                    ));
                    self.reject(caller, client, out, e, Some(cmd.idx));
                } else {
                    self.reject(caller, client, out, e, Some(cmd.idx));
                }
            }
            Verdict::Postpone => {
                if self.postponed.insert(client.id) {
                    if let Some(info) = self.clients.get_mut(&client.id) {
                        info.blocked = true;
                    }
                }
                return Called::Postponed(argv);
            }
            Verdict::Drop => return Called::Done(None),
            Verdict::Queue => {
                let (bits, may_repl) = self.queued_flags(cmd, &argv);
                if let Some(m) = client.multi.as_mut() {
                    m.flags |= bits;
                    m.inv_flags |= !bits;
                    m.may_replicate |= may_repl;
                    m.bytes += argv.iter().map(Bytes::len).sum::<usize>();
                    m.queue.push(argv);
                }
                if client.reply_mode == ReplyMode::On {
                    out.extend_from_slice(b"+QUEUED\r\n");
                }
            }
            Verdict::Run => {
                self.execute(caller, cmd, client, argv, out, now);
                // Blocked clients are served after the command that readied
                // their keys, not from inside EXEC or another retry (the
                // outer call drains them).
                if !self.blocking.ready.is_empty()
                    && matches!(caller, Caller::Client | Caller::Primary)
                    && self.scripting.run.is_none()
                {
                    // At the time of the service, not of the command's
                    // start: a key that expired meanwhile (EXEC with DEBUG
                    // SLEEP) serves nobody, as upstream.
                    self.serve_blocked(crate::state::now_ms());
                }
            }
        }
        Called::Done(name)
    }

    /// The checks of upstream's `processCommand`, in its order, for a
    /// resolved command.
    fn check(
        &mut self,
        caller: Caller,
        cmd: &'static Cmd,
        client: &mut Client,
        argv: &[Bytes],
        now: i64,
    ) -> Verdict {
        let argc = argv.len();
        if !arity_ok(cmd, argc) {
            return Verdict::Reject(error::wrong_arity(&cmd.full_name));
        }
        if let Some(e) = self.protected_check(cmd, client) {
            return Verdict::Reject(e);
        }
        if !client.authenticated && self.acl_auth_required() && !cmd.has(flags::NO_AUTH) {
            return Verdict::Reject(error::NOAUTH);
        }
        if client.multi.is_some() && cmd.has(flags::NO_MULTI) {
            return Verdict::Reject(CmdError::fixed(
                "ERR Command not allowed inside a transaction",
            ));
        }
        if caller == Caller::Client && self.acl_needs_check(client) {
            let context = if client.multi.is_some() {
                LogContext::Multi
            } else {
                LogContext::TopLevel
            };
            if let Err(d) = self.acl_check_command(client, cmd, argv, context, now) {
                return Verdict::Reject(CmdError::msg(d.noperm_message(&cmd.full_name)));
            }
        }
        if self.cluster.is_some() && caller == Caller::Client {
            if let Some(e) = self.cluster_redirect(cmd, client, argv, now) {
                return Verdict::Redirect(e);
            }
        }
        // Client eviction (upstream's `evictClients` at this point): the
        // replies of the commands before this one count; if this very
        // client goes, its command is not run and gets no reply.
        let busy = self.scripting.busy();
        if self.cached.maxmemory_clients > 0 && !busy && self.evict_clients(Some(client.id)) {
            client.close_after_reply = true;
            return Verdict::Drop;
        }
        let script = match cmd.special {
            Special::Eval => crate::script::eval_flags(self, argv, false),
            Special::EvalSha => crate::script::eval_flags(self, argv, true),
            Special::Fcall => crate::script::fcall_flags(self, argv),
            _ => None,
        };
        let eff = Effective::of(cmd, client, script);
        if !busy {
            self.pre_command_oom = false;
        }
        // Nothing is evicted under a running script (upstream skips this
        // while busy).
        if self.cached.maxmemory > 0 && !busy {
            let out_of_memory = !self.perform_evictions(now);
            self.pre_command_oom = out_of_memory;
            // Queueing inside MULTI takes memory too: only the commands
            // that end or leave the transaction pass.
            let reject_on_oom = eff.denyoom
                || (client.multi.is_some()
                    && !matches!(
                        cmd.special,
                        Special::Exec | Special::Discard | Special::Quit | Special::Reset
                    ));
            if out_of_memory && reject_on_oom {
                return Verdict::Reject(CmdError::fixed(
                    "OOM command not allowed when used memory > 'maxmemory'.",
                ));
            }
        }
        if eff.write || cmd.special == Special::Ping {
            if let Some(e) = self.disk_error() {
                if caller != Caller::Primary {
                    return Verdict::Reject(e);
                }
                // `replica-ignore-disk-write-errors no` (the default): a
                // replica that cannot persist its primary's writes stops
                // rather than diverge from its own files.
                if cmd.special != Special::Ping
                    && !self.config.get_bool("replica-ignore-disk-write-errors")
                {
                    self.panic_exit("Replica was unable to write command to disk.");
                    return Verdict::Drop;
                }
                self.log_replica_disk_error(now);
            }
        }
        if eff.write && self.master.is_none() && !self.enough_good_replicas(now) {
            return Verdict::Reject(CmdError::fixed(
                "NOREPLICAS Not enough good replicas to write.",
            ));
        }
        if eff.write && caller != Caller::Primary && self.rejects_writes() {
            return Verdict::Reject(CmdError::fixed(
                "READONLY You can't write against a read only replica.",
            ));
        }
        if client.in_pubsub_context()
            && !matches!(
                cmd.special,
                Special::Ping | Special::Subscription | Special::Quit | Special::Reset
            )
        {
            let name = &cmd.full_name;
            return Verdict::Reject(CmdError::msg(format!(
                "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )));
        }
        if let Some(m) = &self.master {
            if !m.state.is_up() && !self.cached.replica_serve_stale_data && eff.deny_stale {
                return Verdict::Reject(CmdError::fixed(
                    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
                ));
            }
        }
        if (self.persistence.loading && eff.deny_loading)
            || (self.persistence.async_loading && eff.deny_async_loading)
        {
            return Verdict::Reject(CmdError::fixed(
                "LOADING Redis is loading the dataset in memory",
            ));
        }
        if busy && !cmd.has(flags::ALLOW_BUSY) {
            return Verdict::Reject(self.scripting.busy_error());
        }
        if client.is_replica_link && (eff.may_replicate || eff.write || eff.read) {
            return Verdict::Reject(CmdError::fixed(
                "ERR Replica can't interact with the keyspace",
            ));
        }
        if caller == Caller::Client && !client.is_replica_link {
            if let Some((deadline, write_only)) = self.pause {
                if now < deadline && (!write_only || eff.may_replicate) {
                    return Verdict::Postpone;
                }
            }
        }
        if client.multi.is_some()
            && !matches!(
                cmd.special,
                Special::Exec
                    | Special::Discard
                    | Special::Multi
                    | Special::Watch
                    | Special::Quit
                    | Special::Reset
            )
        {
            return Verdict::Queue;
        }
        Verdict::Run
    }

    /// `enable-debug-command` / `enable-module-command`: `no`, `yes`, or
    /// `local` (loopback and Unix socket connections only).
    fn protected_check(&self, cmd: &Cmd, client: &Client) -> Option<CmdError> {
        // Upstream's internal PROTECTED flag (not shown by COMMAND INFO):
        // DEBUG, and the MODULE subcommands that load or unload code
        // (LIST and HELP stay open).
        let (setting, name, option) = match cmd.full_name.as_str() {
            "debug" => (&self.cached.enable_debug, "DEBUG", "enable-debug-command"),
            "module|load" | "module|loadex" | "module|unload" => (
                &self.cached.enable_module,
                "MODULE",
                "enable-module-command",
            ),
            _ => return None,
        };
        let allowed = match setting.as_str() {
            "yes" => true,
            "local" => client.is_local,
            _ => false,
        };
        if allowed {
            return None;
        }
        Some(CmdError::msg(format!(
            "ERR {name} command not allowed. If the {option} option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
        )))
    }

    /// Why writes are refused for a persistence error, if they are
    /// (upstream `writeCommandsDeniedByDiskError`).
    pub fn disk_error(&self) -> Option<CmdError> {
        if self.cached.stop_writes_on_bgsave_error
            && !self.persistence.last_bgsave_ok
            && !self.config.save_points().is_empty()
        {
            return Some(CmdError::fixed(MISCONF_RDB));
        }
        let reason = self.aof.as_ref()?.write_error.as_ref()?;
        Some(CmdError::msg(format!(
            "MISCONF Errors writing to the AOF file: {reason}"
        )))
    }

    /// Stops the server the way upstream's `serverPanic` does for a
    /// broken replication invariant: the reason is logged and the process
    /// exits with status 1 at once, without saving.
    pub fn panic_exit(&mut self, msg: &str) {
        self.log_warning("------------------------------------------------");
        self.log_warning("!!! Software Failure. Press left mouse button to continue");
        self.log_warning(&format!("Guru Meditation: {msg}"));
        self.shutdown = Some(crate::state::ShutdownRequest {
            nosave: true,
            save: false,
            now: true,
            force: true,
            exit_code: 1,
        });
        self.shutdown_notify.notify_one();
    }

    /// A command from our primary (or read from the AOF) failed: upstream
    /// logs it as critical, and with `propagation-error-behavior panic`
    /// (or `panic-on-replicas`, for the primary's commands only) stops,
    /// unless this is a writable replica.
    fn propagated_command_failed(&mut self, caller: Caller, name: &str, e: &CmdError) {
        let from_primary = caller != Caller::AofLoad;
        let text = String::from_utf8_lossy(&e.0).into_owned();
        let (who, to) = if from_primary {
            ("replica", "master")
        } else {
            ("AOF-loading-client", "server")
        };
        self.log_warning(&format!(
            "== CRITICAL == This {who} is sending an error to its {to}: '{text}' after processing the command '{name}'"
        ));
        // As upstream: a writable replica is expected to diverge from its
        // primary, so its errors never stop it; AOF loading stops only
        // with `panic`.
        let panic = match self.config.get_enum("propagation-error-behavior") {
            "panic" => !from_primary || self.cached.replica_read_only,
            "panic-on-replicas" => from_primary && self.cached.replica_read_only,
            _ => false,
        };
        if panic {
            self.panic_exit(&format!(
                "This {who} panicked sending an error to its {to} after processing the command '{name}'"
            ));
        }
    }

    /// A replica applies its primary's writes even when it cannot persist
    /// them; upstream says so every 10 seconds at most.
    fn log_replica_disk_error(&mut self, now: i64) {
        if now - self.last_disk_error_log_ms > 10_000 {
            self.last_disk_error_log_ms = now;
            self.log_warning(
                "Replica is applying a command even though it is unable to write to disk.",
            );
        }
    }

    /// Ends a transaction without running it (`DISCARD`, an aborted
    /// `EXEC`): the queue and the watches go.
    pub fn discard_transaction(&mut self, client: &mut Client) {
        client.multi = None;
        let watched = std::mem::take(&mut client.watched);
        self.unwatch_all(client.id, &watched);
    }

    /// Rejects a command before execution: counts it and flags a
    /// transaction so that its `EXEC` fails.
    fn reject(
        &mut self,
        caller: Caller,
        client: &mut Client,
        out: &mut BytesMut,
        e: CmdError,
        idx: Option<usize>,
    ) {
        if caller.observed() {
            if let Some(s) = idx.and_then(|i| self.cmdstats.get_mut(i)) {
                s.rejected += 1;
            }
        }
        if let Some(m) = client.multi.as_mut() {
            m.error = true;
        }
        self.reply_error(caller, client, out, &e, idx);
    }

    /// Counts an error reply in `INFO errorstats`.
    pub fn count_error(&mut self, e: &CmdError) {
        if std::mem::take(&mut self.error_counted) {
            return;
        }
        self.stats.total_error_replies += 1;
        let code = String::from_utf8_lossy(e.code()).into_owned();
        *self.errorstats.entry(code).or_insert(0) += 1;
    }

    /// Writes an error reply and counts it. An error for our primary is
    /// not expected (it means the replica diverges, e.g. a command renamed
    /// or removed here only): logged as upstream does, with the latest
    /// replication stream. `idx` is the statistics slot of the command
    /// that failed, if it was resolved.
    fn reply_error(
        &mut self,
        caller: Caller,
        client: &Client,
        out: &mut BytesMut,
        e: &CmdError,
        idx: Option<usize>,
    ) {
        if caller == Caller::Primary || (caller == Caller::Exec && client.is_master) {
            // Inside a transaction upstream names the EXEC being run.
            let name = if caller == Caller::Exec {
                "exec"
            } else {
                idx.and_then(|i| self.registry.names.get(i))
                    .map_or("<unknown>", |n| n.as_str())
            };
            self.log_error_to_primary(e, name);
        }
        self.count_error(e);
        if client.reply_mode == ReplyMode::On {
            out.extend_from_slice(b"-");
            out.extend_from_slice(&e.0);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Upstream's warning for an error a replica sends its primary, and
    /// the last 256 bytes of the replication stream applied so far.
    fn log_error_to_primary(&mut self, e: &CmdError, cmd_name: &str) {
        // Upstream logs a plain error without its `ERR ` prefix and an
        // error with its own code as `-CODE ...`.
        let text = match e.0.strip_prefix(b"ERR ") {
            Some(rest) => String::from_utf8_lossy(rest).into_owned(),
            None => format!("-{}", String::from_utf8_lossy(&e.0)),
        };
        let text: String = text.chars().take(4096).collect();
        self.stats.unexpected_error_replies += 1;
        self.log_warning(&format!(
            "== CRITICAL == This replica is sending an error to its master: '{text}' after processing the command '{cmd_name}'"
        ));
        let backlog = &self.repl.backlog;
        let len = backlog.histlen().min(256);
        if len == 0 {
            return;
        }
        let from = backlog.next_offset() - len as i64;
        let tail: Vec<u8> = backlog
            .read_from(from)
            .unwrap_or_default()
            .iter()
            .flat_map(|b| b.iter().copied())
            .collect();
        let shown = redis_common::repr::repr(&tail);
        self.log_warning(&format!(
            "Latest backlog is: '{}'",
            String::from_utf8_lossy(&shown)
        ));
    }

    /// Runs a command that passed its checks (upstream `call()`): the
    /// handler with a frozen "now", then — as the caller kind says —
    /// statistics, latency, the slow log, MONITOR, `keymiss` events,
    /// expiry deletions and propagation.
    pub fn execute(
        &mut self,
        caller: Caller,
        cmd: &Cmd,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
    ) {
        let Some(handler) = cmd.handler else { return };
        // On a replica, an ordinary client's write (`replica-read-only no`)
        // deletes the expired keys it meets; the primary's never does.
        self.ks.local_writes = self.ks.is_replica
            && caller != Caller::Primary
            && caller != Caller::AofLoad
            && !client.is_master;
        // The primary's stream on a replica, and the AOF being loaded, see
        // every stored key as live (upstream: `expireIfNeeded` for the
        // master client, `keyIsExpired` while loading).
        self.ks.expiry_frozen = caller == Caller::AofLoad
            || (self.ks.is_replica && (caller == Caller::Primary || client.is_master));
        if self.notify_flags.wants('n') && cmd.has(flags::WRITE) {
            self.note_new_candidates(cmd, client.db, &argv, now);
        }
        if matches!(
            cmd.special,
            Special::Eval | Special::EvalSha | Special::Fcall
        ) && caller.observed()
            && !self.monitors.is_empty()
        {
            // MONITOR shows a script before the commands it calls.
            self.feed_monitors(client, &argv, now);
        }
        self.tracking_before(cmd, client.id, &argv);
        let mark = out.len();
        let start = self.clock_mark;
        let (res, dirty, rewrite, force_repl, push_reply, redact) = {
            let mut ctx = Ctx {
                st: self,
                client,
                out,
                now,
                caller,
                rewrite: None,
                dirty: 0,
                force_repl: false,
                push_reply: false,
                redact: Vec::new(),
            };
            let r = handler(&mut ctx, &argv);
            (
                r,
                ctx.dirty,
                ctx.rewrite,
                ctx.force_repl,
                ctx.push_reply,
                ctx.redact,
            )
        };
        self.ks.expiry_frozen = false;
        if let Err(e) = &res {
            if caller == Caller::AofLoad || caller == Caller::Primary || client.is_master {
                self.propagated_command_failed(caller, &cmd.full_name, e);
            }
        }
        if caller == Caller::AofLoad {
            // Loading neither propagates nor notifies expiry deletions,
            // and nobody reads the reply.
            self.ks.expired.clear();
            self.new_candidates.clear();
            self.dirty += dirty;
            return;
        }
        self.tracking_after(cmd, client.id, &argv, caller == Caller::Script);
        // One clock read per command: the end of this one starts the next.
        let end = Instant::now();
        self.clock_mark = end;
        // A script that ran in this command: its duration, with this clock.
        self.scripting.note_ended(end);
        let usec = end.saturating_duration_since(start).as_micros() as u64;
        if self.cached.latency_tracking {
            if let Some(h) = self.latency.get_mut(cmd.idx) {
                h.record(usec);
            }
        }
        if self.cached.latency_monitor_threshold > 0 {
            let event = if cmd.has(flags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            self.latency_monitor.add_if_needed(
                self.cached.latency_monitor_threshold,
                event,
                usec / 1000,
                crate::state::unix_secs(),
            );
        }
        if let Some(s) = self.cmdstats.get_mut(cmd.idx) {
            // A blocked command is one call, counted when it blocked; its
            // retries (served, or ended by an error) add their time and
            // failure only, as upstream's unblock accounting does.
            if caller != Caller::BlockedRetry {
                s.calls += 1;
            }
            s.usec += usec;
            if res.is_err() {
                s.failed += 1;
            }
        }
        if caller != Caller::BlockedRetry {
            self.stats.total_commands += 1;
        }
        if let Err(e) = &res {
            self.reply_error(caller, client, out, e, Some(cmd.idx));
        }
        // CLIENT REPLY OFF/SKIP: drop whatever this command wrote.
        match client.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off if push_reply => {}
            ReplyMode::Off => out.truncate(mark),
            ReplyMode::SkipThis => {
                if !push_reply {
                    out.truncate(mark);
                }
                client.reply_mode = ReplyMode::On;
            }
            ReplyMode::Skip => client.reply_mode = ReplyMode::SkipThis,
        }
        self.dirty += dirty;
        self.new_candidates.clear();
        if !self.ks.missed.is_empty() {
            self.notify_misses(Some((client.id, &mut *out)));
        }
        self.drain_expired();
        // Like upstream, any command that changed the dataset is propagated
        // (PFCOUNT refreshing its cached cardinality is not flagged as a
        // write). The primary's stream goes on to our replicas unchanged
        // (see the replica link); the AOF gets the commands as applied.
        // A transaction from the primary runs its commands as `Exec`, on
        // the primary's client: the client says where writes go.
        let from_primary = caller == Caller::Primary || client.is_master;
        if dirty > 0 && self.ks.local_writes {
            self.track_replica_expires(cmd, client.db, &argv);
        }
        self.ks.local_writes = false;
        if dirty > 0 {
            match &rewrite {
                Some(list) => {
                    // Several commands for one (XREADGROUP's consumer and
                    // group updates) go out as a transaction, as 7.0 wraps
                    // whatever one command propagates more than once.
                    let wrap = list.len() > 1 && !from_primary && self.repl.exec_ops.is_none();
                    if wrap {
                        self.begin_exec_propagation();
                    }
                    for a in list {
                        self.propagate_from(from_primary, client.db, a);
                    }
                    if wrap {
                        self.end_exec_propagation();
                    }
                }
                None => self.propagate_from(from_primary, client.db, &argv),
            }
        } else if force_repl && !from_primary {
            self.feed_replicas_only(client.db, &argv);
        }
        if self.save_after_command {
            self.save_after_command = false;
            self.save_after_flushall();
        }
        // What MONITOR and the slow log show: passwords redacted.
        let shown: std::borrow::Cow<'_, [Bytes]> = if redact.is_empty() {
            std::borrow::Cow::Borrowed(&argv[..])
        } else {
            let mut v = argv.to_vec();
            for i in redact {
                if let Some(a) = v.get_mut(i) {
                    *a = Bytes::from_static(b"(redacted)");
                }
            }
            std::borrow::Cow::Owned(v)
        };
        if !self.monitors.is_empty() && !cmd.has(flags::SKIP_MONITOR) && !cmd.has(flags::ADMIN) {
            self.feed_monitors(client, &shown, now);
        }
        if !cmd.has(flags::SKIP_SLOWLOG) {
            self.slowlog_push(client, &shown, usec, now);
        }
    }

    /// A writable replica remembers the keys its own clients gave a
    /// deadline: its primary will never expire them, so its cron does.
    fn track_replica_expires(&mut self, cmd: &Cmd, db: usize, argv: &[Bytes]) {
        let Ok(positions) = crate::meta::get_keys(cmd.meta, argv) else {
            return;
        };
        for i in positions {
            let Some(k) = argv.get(i) else { continue };
            if self.ks.dbs[db].expire_at(k).is_some() {
                self.ks.replica_expires.insert((db, k.clone()));
            }
        }
    }

    /// Records which keys of a write command are absent before it runs.
    fn note_new_candidates(&mut self, cmd: &Cmd, db: usize, argv: &[Bytes], now: i64) {
        self.new_candidates.clear();
        let Ok(positions) = crate::meta::get_keys(cmd.meta, argv) else {
            return;
        };
        for i in positions {
            if let Some(k) = argv.get(i) {
                if !self.ks.exists(db, k, now) {
                    self.new_candidates.push((db, k.clone()));
                }
            }
        }
    }

    /// Publishes the `keymiss` events recorded by read lookups.
    pub fn notify_misses(&mut self, mut me: Option<(u64, &mut BytesMut)>) {
        for (db, key) in std::mem::take(&mut self.ks.missed) {
            let reborrow = me.as_mut().map(|(id, out)| (*id, &mut **out));
            crate::pubsub::notify(self, db, &key, 'm', "keymiss", reborrow);
        }
    }

    /// Propagates the deletions done by expiry since the last drain.
    pub fn drain_expired(&mut self) {
        if self.ks.expired.is_empty() {
            return;
        }
        let list = std::mem::take(&mut self.ks.expired);
        // With `lazyfree-lazy-expire` the deletion goes out as `UNLINK`,
        // as upstream propagates it.
        let cmd: &'static [u8] = if self.ks.lazy_expire {
            b"UNLINK"
        } else {
            b"DEL"
        };
        for (db, key) in list {
            self.touch_expired_key(db, &key);
            crate::pubsub::notify(self, db, &key, 'x', "expired", None);
            self.propagate(db, &[Bytes::from_static(cmd), key]);
        }
    }

    /// Propagates a command that ran; writes applied from our primary go
    /// to the AOF only (the primary's stream is relayed as received).
    fn propagate_from(&mut self, from_primary: bool, db: usize, argv: &[Bytes]) {
        if !from_primary {
            self.propagate(db, argv);
        } else if self.aof.is_some() {
            self.aof_command(db, argv);
        }
    }

    /// The single propagation point feeding the AOF and replicas, in
    /// execution order: the replication stream (backlog and replicas) and
    /// the append-only file.
    pub fn propagate(&mut self, db: usize, argv: &[Bytes]) {
        if self.master.is_some() {
            // A replica relays its primary's stream unchanged: what it does
            // on its own (a writable replica's client writes, evictions
            // with `replica-ignore-maxmemory no`) reaches its AOF only, as
            // upstream, or its offset would drift from its primary's.
            if self.aof.is_some() {
                self.aof_command(db, argv);
            }
            return;
        }
        self.feed_command(db, argv);
    }
}

impl State {
    /// A command called by a script (upstream's `scriptCall`): resolved,
    /// checked as upstream checks a script's commands, then run as
    /// [`Caller::Script`]. Errors are written to `out` like replies (the
    /// script raises them or hands them to `pcall`); they are not counted
    /// as the script's own (that is the script's final reply).
    pub fn script_call(
        &mut self,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
    ) {
        // A refusal is an error reply of its own (counted in errorstats,
        // and as a rejected call of the command once it is known); the
        // script's final error, if it is this one, is not counted again.
        let failed = std::cell::Cell::new(false);
        let idx = std::cell::Cell::new(None);
        let mark = out.len();
        self.script_call_checked(client, argv, out, now, &failed, &idx);
        if failed.get() {
            let end = out.len().saturating_sub(2);
            let text = out.get(mark + 1..end).unwrap_or_default();
            self.count_error(&CmdError(Bytes::copy_from_slice(text)));
            if let Some(s) = idx.get().and_then(|i| self.cmdstats.get_mut(i)) {
                s.rejected += 1;
            }
        }
    }

    /// [`State::script_call`]'s checks and the call; a refusal sets
    /// `failed` (and `idx` is the command's statistics slot once known).
    fn script_call_checked(
        &mut self,
        client: &mut Client,
        argv: Vec<Bytes>,
        out: &mut BytesMut,
        now: i64,
        failed: &std::cell::Cell<bool>,
        idx: &std::cell::Cell<Option<usize>>,
    ) {
        let fail = |out: &mut BytesMut, text: &[u8]| {
            out.extend_from_slice(b"-");
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
            failed.set(true);
        };
        let reg = self.registry;
        let Ok(cmd) = reg.resolve(&argv) else {
            fail(out, b"ERR Unknown Redis command called from script");
            return;
        };
        idx.set(Some(cmd.idx));
        if !arity_ok(cmd, argv.len()) {
            fail(
                out,
                b"ERR Wrong number of args calling Redis command from script",
            );
            return;
        }
        if cmd.has(flags::NOSCRIPT) && !self.scripting.disable_deny {
            fail(out, b"ERR This Redis command is not allowed from script");
            return;
        }
        if self.acl_needs_check(client) {
            if let Err(d) = self.acl_check_command(client, cmd, &argv, LogContext::Lua, now) {
                fail(out, crate::acl::script_denied_message(d).as_bytes());
                return;
            }
        }
        let Some(run) = self.scripting.run.as_ref() else {
            fail(out, b"ERR redis.call called outside of a script");
            return;
        };
        let (read_only, obey, wrote, oom, allow_oom, loading) = (
            run.read_only,
            run.obey,
            run.wrote,
            run.oom,
            run.flags.allow_oom,
            run.loading,
        );
        // A stale replica (link down, `replica-serve-stale-data no`) lets
        // an `allow-stale` script run only the commands flagged stale.
        let stale = self
            .master
            .as_ref()
            .is_some_and(|m| !m.state.is_up() && !self.cached.replica_serve_stale_data);
        if stale && !obey && !cmd.has(flags::STALE) {
            fail(out, b"ERR Can not execute the command on a stale replica");
            return;
        }
        // A read-only script may not run what could replicate either
        // (PUBLISH).
        if read_only && (cmd.has(flags::WRITE) || cmd.has(flags::MAY_REPLICATE)) {
            fail(
                out,
                b"ERR Write commands are not allowed from read-only scripts.",
            );
            return;
        }
        // Only scripts without flags get here unchecked: the others were
        // checked before they started.
        if cmd.has(flags::WRITE) && !obey {
            if self.rejects_writes() {
                fail(
                    out,
                    b"READONLY You can't write against a read only replica.",
                );
                return;
            }
            if let Some(e) = self.disk_error() {
                fail(out, &e.0);
                return;
            }
            // Like OOM, only before the script's first write: a script
            // that started writing may finish (its effects go out as one
            // transaction).
            if !wrote && self.master.is_none() && !self.enough_good_replicas(now) {
                fail(out, b"NOREPLICAS Not enough good replicas to write.");
                return;
            }
        }
        // Out of memory: refused only before the script's first write (it
        // cannot stop halfway through its effects).
        if !allow_oom
            && self.cached.maxmemory > 0
            && !obey
            && !wrote
            && oom
            && cmd.has(flags::DENYOOM)
        {
            fail(
                out,
                b"OOM command not allowed when used memory > 'maxmemory'.",
            );
            return;
        }
        if let Some(e) = self.script_cluster_check(cmd, client, &argv, now) {
            fail(out, &e.0);
            return;
        }
        if cmd.has(flags::WRITE) {
            if let Some(run) = self.scripting.run.as_mut() {
                run.wrote = true;
            }
        }
        let caller = if loading {
            Caller::AofLoad
        } else {
            Caller::Script
        };
        self.execute(caller, cmd, client, argv, out, now);
    }
}

/// True when `argc` arguments (the name included) fit the command's arity.
fn arity_ok(cmd: &Cmd, argc: usize) -> bool {
    let arity = cmd.meta.arity;
    let argc = argc as i64;
    !((arity > 0 && argc != arity) || (arity < 0 && argc < -arity))
}

impl MultiState {
    /// A new, empty transaction.
    pub fn new() -> MultiState {
        MultiState::default()
    }
}
