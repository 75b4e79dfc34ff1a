//! Replication commands (upstream `replication.c`, command half):
//! `REPLICAOF`/`SLAVEOF`, `REPLCONF`, `PSYNC`, `SYNC`, `ROLE`, `WAIT` and
//! `FAILOVER`. Replica links, the backlog and full syncs are the engine's
//! (`redis_engine::replication`, `redis_engine::replica`); the protocol
//! decisions (PSYNC, replica states) come from `redis_replication`.

use bytes::{Bytes, BytesMut};

use crate::args::{self, is};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX};
use redis_engine::failover::Failover;
use redis_engine::replication::ReplicaLink;
use redis_engine::table::Handler;
use redis_replication::psync::{self, PsyncDecision, PsyncRequest};
use redis_replication::{replica_name, ReplicaState};

/// # Format
/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]`
pub fn failover(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut to, mut force, mut abort, mut timeout) = (None, false, false, None);
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "to") && i + 2 < argv.len() && to.is_none() {
            let port = args::int(&argv[i + 2])?;
            to = Some((String::from_utf8_lossy(&argv[i + 1]).into_owned(), port));
            i += 3;
        } else if is(a, "force") && !force {
            force = true;
            i += 1;
        } else if is(a, "abort") && !abort {
            abort = true;
            i += 1;
        } else if is(a, "timeout") && i + 1 < argv.len() && timeout.is_none() {
            let t = args::int(&argv[i + 1])?;
            if t <= 0 {
                return Err(CmdError::fixed(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            timeout = Some(t);
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    if abort {
        if to.is_some() || force || timeout.is_some() {
            return Err(CmdError::fixed(
                "ERR FAILOVER abort is not valid with other arguments.",
            ));
        }
        if ctx.st.failover.take().is_none() {
            return Err(CmdError::fixed("ERR No failover in progress."));
        }
        ctx.st.pause = None;
        ctx.st.log_notice("FAILOVER aborted by user.");
        ctx.ok();
        return Ok(());
    }
    if ctx.st.master.is_some() {
        return Err(CmdError::fixed(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    if ctx
        .st
        .repl
        .replicas
        .iter()
        .all(|r| r.state != ReplicaState::Online)
    {
        return Err(CmdError::fixed("ERR FAILOVER requires connected replicas."));
    }
    if ctx.st.failover.is_some() {
        return Err(CmdError::fixed("ERR FAILOVER already in progress."));
    }
    if force && (timeout.is_none() || to.is_none()) {
        return Err(CmdError::fixed(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    let target = match to {
        Some((host, port)) => {
            let found = ctx.st.repl.replicas.iter().any(|r| {
                r.state == ReplicaState::Online
                    && i64::from(r.listening_port) == port
                    && r.ip == host
            });
            if !found {
                return Err(CmdError::fixed(
                    "ERR FAILOVER target HOST and PORT is not a replica.",
                ));
            }
            (host, port as u16)
        }
        None => {
            // The replica with the highest acknowledged offset.
            let Some(best) = ctx
                .st
                .repl
                .replicas
                .iter()
                .filter(|r| r.state == ReplicaState::Online)
                .max_by_key(|r| r.ack_offset)
            else {
                return Err(CmdError::fixed("ERR FAILOVER requires connected replicas."));
            };
            (best.ip.clone(), best.listening_port)
        }
    };
    let now = ctx.now;
    ctx.st.failover = Some(Failover {
        host: target.0.clone(),
        port: target.1,
        deadline: timeout.map(|t| now + t),
        force,
        offset: ctx.st.repl.ids.master_repl_offset,
    });
    // Writes stop while the target catches up (upstream pauses them too).
    ctx.st.pause = Some((i64::MAX, true));
    ctx.st.request_acks();
    ctx.st
        .log_notice(&format!("FAILOVER requested to {}:{}.", target.0, target.1));
    ctx.ok();
    Ok(())
}

/// The caller as upstream's "MASTER MODE enabled" lines describe it.
fn client_text(ctx: &Ctx) -> String {
    ctx.st
        .clients
        .get(&ctx.client.id)
        .map(|c| {
            format!(
                "id={} addr={} laddr={} fd={} name={}",
                c.id,
                c.addr,
                c.laddr,
                c.fd,
                String::from_utf8_lossy(&c.name)
            )
        })
        .unwrap_or_default()
}

/// # Format
/// `REPLICAOF host port | NO ONE` (also `SLAVEOF`)
pub fn replicaof(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.st.cluster_enabled() {
        return Err(CmdError::fixed(
            "ERR REPLICAOF not allowed in cluster mode.",
        ));
    }
    let who = client_text(ctx);
    if is(&argv[1], "no") && is(&argv[2], "one") {
        if ctx.st.master.is_some() {
            ctx.st.become_primary(ctx.now);
            ctx.st
                .log_notice(&format!("MASTER MODE enabled (user request from '{who}')"));
        }
        ctx.ok();
        return Ok(());
    }
    let port = args::int_or(&argv[2], CmdError::fixed("ERR Invalid master port"))?;
    let Ok(port) = u16::try_from(port) else {
        return Err(CmdError::fixed("ERR Invalid master port"));
    };
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some(m) = &ctx.st.master {
        if m.host.eq_ignore_ascii_case(&host) && m.port == port {
            ctx.st.log_notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    let was_primary = ctx.st.master.is_none();
    ctx.st.become_replica(host.clone(), port, ctx.now);
    if let Some(m) = ctx.st.master.as_mut() {
        // A primary turned replica offers its own history (upstream
        // caches itself as the master to continue).
        m.has_history |= was_primary;
    }
    ctx.st.log_notice(&format!(
        "REPLICAOF {host}:{port} enabled (user request from '{who}')"
    ));
    ctx.ok();
    Ok(())
}

/// # Format
/// `REPLCONF option value [option value ...]`
pub fn replconf(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(SYNTAX);
    }
    let id = ctx.client.id;
    let mut reply = true;
    for pair in argv[1..].chunks_exact(2) {
        let (k, v) = (&pair[0], &pair[1]);
        if is(k, "listening-port") {
            let p = args::int(v)?;
            ctx.client.repl_listening_port = u16::try_from(p).unwrap_or(0);
        } else if is(k, "ip-address") {
            ctx.client.repl_ip = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "capa") {
            if is(v, "eof") {
                ctx.client.repl_capa_eof = true;
            } else if is(v, "psync2") {
                ctx.client.repl_capa_psync2 = true;
            }
        } else if is(k, "rdb-only") {
            match args::int(v) {
                Ok(n @ 0..=1) => ctx.client.repl_rdb_only = n == 1,
                _ => {
                    return Err(CmdError::fixed(
                        "ERR value is out of range, value must between 0 and 1",
                    ))
                }
            }
        } else if is(k, "rdb-filter-only") {
        } else if is(k, "ack") {
            // Acknowledgements get no reply.
            reply = false;
            let off = args::int(v).unwrap_or(0);
            let now = ctx.now;
            let r = &mut ctx.st.repl;
            if let Some(l) = r.replicas.iter_mut().find(|l| l.client_id == id) {
                l.ack_offset = l.ack_offset.max(off);
                l.last_ack_ms = now;
                if l.stream_on_ack && l.state == ReplicaState::Online {
                    // The replica loaded the RDB: the stream starts now.
                    l.stream_on_ack = false;
                    let rest = l.pending.split().freeze();
                    if !rest.is_empty() {
                        l.send(rest);
                    }
                }
            }
            ctx.st.check_wait_clients();
        } else if is(k, "getack") {
            reply = false;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                redis_engine::error::truncated(k, 128)
            )));
        }
    }
    if reply {
        ctx.ok();
    }
    Ok(())
}

/// # Format
/// `SYNC`
///
/// The pre-PSYNC full synchronization (old replicas, `redis-cli --rdb` and
/// `--replica`): no `+FULLRESYNC` line, the RDB follows directly, as a
/// `$<len>` bulk or, when the client sent `REPLCONF capa eof`, in the
/// EOF-marked form; then the command stream (unless `rdb-only`).
pub fn sync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.is_replica_link {
        return Ok(());
    }
    sync_checks(ctx)?;
    start_full_sync(ctx, true);
    Ok(())
}

/// Refusals shared by `SYNC` and `PSYNC`, then upstream's first line.
fn sync_checks(ctx: &mut Ctx) -> CmdResult {
    let failing_over =
        ctx.st.failover.is_some() || ctx.st.master.as_ref().is_some_and(|m| m.failover);
    if failing_over {
        return Err(CmdError::fixed(
            "NOMASTERLINK Can't SYNC while failing over",
        ));
    }
    if let Some(m) = &ctx.st.master {
        if !m.state.is_up() {
            return Err(CmdError::fixed(
                "NOMASTERLINK Can't SYNC while not connected with my master",
            ));
        }
    }
    if !ctx.out.is_empty() {
        return Err(CmdError::fixed(
            "ERR SYNC and PSYNC are invalid with pending output",
        ));
    }
    let name = link_name(ctx);
    ctx.st.log_notice(&psync::sync_request_line(&name));
    Ok(())
}

/// # Format
/// `PSYNC replicationid offset [FAILOVER]`
pub fn psync(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.is_replica_link {
        return Ok(());
    }
    if argv.len() > 3 && is(&argv[3], "failover") {
        // Our primary hands over (FAILOVER): promote, then serve its PSYNC.
        if !argv[1].eq_ignore_ascii_case(ctx.st.repl.ids.replid.as_bytes()) {
            return Err(CmdError::fixed(
                "ERR PSYNC FAILOVER replid must match my replid.",
            ));
        }
        let who = client_text(ctx);
        ctx.st.become_primary(ctx.now);
        ctx.st.log_notice(&format!(
            "MASTER MODE enabled (failover request from '{who}')"
        ));
    }
    sync_checks(ctx)?;
    let Ok(offset) = args::int(&argv[2]) else {
        let name = link_name(ctx);
        ctx.st.log_warning(&format!(
            "Replica {name} asks for synchronization but with a wrong offset"
        ));
        return Err(CmdError::fixed(
            "ERR value is not an integer or out of range",
        ));
    };
    let wanted = String::from_utf8_lossy(&argv[1]).into_owned();
    let decision = psync::decide(
        &PsyncRequest {
            replid: &wanted,
            offset,
        },
        &ctx.st.repl.ids,
        &ctx.st.repl.backlog,
    );
    let name = link_name(ctx);
    for (level, line) in decision.log_lines(&name) {
        ctx.st.log(level, &line);
    }
    match decision {
        PsyncDecision::Continue { offset, .. } => {
            let mut link = new_link(ctx, false);
            link.state = ReplicaState::Online;
            link.ack_offset = offset - 1;
            let r = &mut ctx.st.repl;
            let id = link.capa_psync2.then_some(r.ids.replid.as_str());
            ctx.out
                .extend_from_slice(psync::continue_reply(id).as_bytes());
            for chunk in r.backlog.read_from(offset).unwrap_or_default() {
                ctx.out.extend_from_slice(&chunk);
            }
            r.replicas.push(link);
            r.sync_partial_ok += 1;
        }
        PsyncDecision::FullResync(reason) => {
            if reason.counts_as_partial_err() {
                ctx.st.repl.sync_partial_err += 1;
            }
            start_full_sync(ctx, false);
        }
    }
    Ok(())
}

/// The caller's address as a replica link will have it.
fn link_address(ctx: &Ctx) -> String {
    ctx.client
        .repl_ip
        .clone()
        .or_else(|| {
            ctx.st
                .clients
                .get(&ctx.client.id)
                .and_then(|c| c.addr.rsplit_once(':').map(|(h, _)| h.to_string()))
        })
        .unwrap_or_default()
}

/// `ip:port` of the caller as upstream's log lines name a replica.
fn link_name(ctx: &Ctx) -> String {
    replica_name(&link_address(ctx), ctx.client.repl_listening_port)
}

/// Registers the caller as a replica link (marking the client).
fn new_link(ctx: &mut Ctx, pre_psync: bool) -> ReplicaLink {
    let id = ctx.client.id;
    let ip = link_address(ctx);
    let port = ctx.client.repl_listening_port;
    ctx.client.is_replica_link = true;
    if let Some(c) = ctx.st.clients.get_mut(&id) {
        c.is_replica = true;
    }
    ReplicaLink {
        client_id: id,
        ip,
        listening_port: port,
        state: ReplicaState::WaitBgsave,
        ack_offset: 0,
        last_ack_ms: ctx.now,
        pending: BytesMut::new(),
        signal: ctx.client.signal.clone(),
        capa_eof: ctx.client.repl_capa_eof,
        capa_psync2: ctx.client.repl_capa_psync2,
        pre_psync,
        rdb_only: ctx.client.repl_rdb_only,
        stream_on_ack: false,
        wait_since_ms: ctx.now,
    }
}

/// Queues the caller for a full synchronization (a `PSYNC` that could not
/// continue, or `SYNC`), creating the backlog for a first replica.
fn start_full_sync(ctx: &mut Ctx, pre_psync: bool) {
    let link = new_link(ctx, pre_psync);
    ctx.st.repl.sync_full += 1;
    ctx.st.repl.replicas.push(link);
    ctx.st.create_backlog_for_first_replica();
    if ctx.st.diskless_sync_delay(ctx.now).is_some() {
        ctx.st.log_notice("Delay next BGSAVE for diskless SYNC");
    }
    ctx.st.start_replica_sync(ctx.now);
}

/// # Format
/// `ROLE`
pub fn role(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let offset = ctx.st.repl.ids.master_repl_offset;
    match ctx.st.master.clone() {
        Some(m) => {
            ctx.array(5);
            ctx.bulk(b"slave");
            ctx.bulk(m.host.as_bytes());
            ctx.int(i64::from(m.port));
            ctx.bulk(m.state.role_word().as_bytes());
            // The offset of the link to the primary, -1 without one.
            ctx.int(if m.state.is_up() { offset } else { -1 });
        }
        None => {
            let links: Vec<(String, u16, i64)> = ctx
                .st
                .repl
                .replicas
                .iter()
                .filter(|l| l.state == ReplicaState::Online)
                .map(|l| (l.ip.clone(), l.listening_port, l.ack_offset))
                .collect();
            ctx.array(3);
            ctx.bulk(b"master");
            ctx.int(offset);
            ctx.array(links.len());
            for (ip, port, ack) in links {
                ctx.array(3);
                ctx.bulk(ip.as_bytes());
                ctx.bulk(port.to_string().as_bytes());
                ctx.bulk(ack.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

/// # Format
/// `WAIT numreplicas timeout`
pub fn wait(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.st.master.is_some() {
        return Err(CmdError::fixed("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let n = args::int(&argv[1])?;
    let timeout = args::int(&argv[2])?;
    if timeout < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    let offset = ctx.st.repl.ids.master_repl_offset;
    let acked = ctx.st.replicas_acked(offset) as i64;
    if acked >= n || ctx.cannot_block() {
        ctx.int(acked);
        return Ok(());
    }
    let deadline = if timeout == 0 {
        None
    } else {
        Some(ctx.now + timeout)
    };
    ctx.st.request_acks();
    ctx.block(
        &[],
        deadline,
        "wait",
        redis_engine::blocking::TimeoutReply::NullArray,
        argv,
    );
    ctx.st.wait_clients.push((ctx.client.id, n, offset));
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("replconf", replconf),
    ("psync", psync),
    ("sync", sync),
    ("role", role),
    ("wait", wait),
    ("failover", failover),
];
