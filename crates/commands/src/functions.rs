//! Functions (upstream `functions.c`): `FUNCTION LOAD|DELETE|FLUSH|LIST|
//! DUMP|RESTORE|STATS|KILL|HELP` and `FCALL`/`FCALL_RO`. The libraries live
//! in `redis-scripting`'s function engine, kept by the engine's
//! [`redis_engine::script`]; `FUNCTION` commands that change them are
//! propagated as sent, `FCALL` by its effects.

use bytes::Bytes;
use redis_common::glob::string_match;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::script::{self, FcallRequest, ScriptKind};
use redis_engine::table::Handler;
use redis_resp::Frame;
use redis_scripting::RestorePolicy;

fn frame_error(f: Frame) -> CmdError {
    match f {
        Frame::Error(e) => CmdError(e),
        _ => CmdError::fixed("ERR functions are not available"),
    }
}

/// A `numkeys` of `FCALL` as upstream's strict parser reads it: an
/// optional `-`, then digits without leading zeros (`-0`, `+1` and `01`
/// are refused).
fn strict_int(n: &[u8]) -> Option<i64> {
    let digits = n.strip_prefix(b"-").unwrap_or(n);
    let canonical = match digits {
        [] => false,
        [b'0'] => n.len() == 1,
        [b'0', ..] => false,
        d => d.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// `numkeys` of `FCALL`: a bad number is upstream's own error.
fn split_keys(argv: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), CmdError> {
    let rest = argv.get(3..).unwrap_or_default();
    let Some(numkeys) = argv.get(2).and_then(|n| strict_int(n)) else {
        return Err(CmdError::fixed("ERR Bad number of keys provided"));
    };
    if numkeys < 0 {
        return Err(CmdError::fixed("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > rest.len() as u64 {
        return Err(CmdError::fixed(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(rest.split_at(numkeys as usize))
}

fn fcall_generic(ctx: &mut Ctx, argv: &[Bytes], read_only: bool) -> CmdResult {
    // Only the function's effects are propagated.
    ctx.rewrite = Some(Vec::new());
    // The function is looked up before its arguments are read: a bad
    // `numkeys` is reported only for a function that exists.
    script::fcall(
        ctx,
        FcallRequest {
            name: &argv[1],
            read_only,
            split: split_keys(argv),
            argv,
        },
    )
}

/// # Format
/// `FCALL function numkeys [key ...] [arg ...]`
pub fn fcall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, argv, false)
}

/// # Format
/// `FCALL_RO function numkeys [key ...] [arg ...]`
pub fn fcall_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

/// # Format
/// `FUNCTION LOAD [REPLACE] function-code`
pub fn function_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (code, opts) = match argv[2..].split_last() {
        Some(x) => x,
        None => return Err(CmdError::fixed("ERR wrong number of arguments")),
    };
    let mut replace = false;
    for o in opts {
        if o.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(o)
            )));
        }
    }
    let name = ctx
        .st
        .scripting
        .functions_mut()?
        .load(code, replace)
        .map_err(frame_error);
    write_load_log(ctx);
    let name = name?;
    ctx.dirty += 1;
    ctx.bulk(name.as_bytes());
    Ok(())
}

/// Writes what libraries logged while loading (`redis.log`) to the log.
fn write_load_log(ctx: &mut Ctx) {
    for (level, line) in ctx.st.scripting.take_load_log() {
        ctx.st.log(level, &line);
    }
}

/// # Format
/// `FUNCTION DELETE library-name`
pub fn function_delete(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.st
        .scripting
        .functions_mut()?
        .delete(&argv[2])
        .map_err(frame_error)?;
    ctx.dirty += 1;
    ctx.ok();
    Ok(())
}

/// # Format
/// `FUNCTION FLUSH [ASYNC|SYNC]`
pub fn function_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ok = match &argv[2..] {
        [] => true,
        [m] => m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async"),
        _ => return Err(CmdError::fixed(
            "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.",
        )),
    };
    if !ok {
        return Err(CmdError::fixed(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    ctx.st
        .scripting
        .functions_mut()?
        .flush()
        .map_err(frame_error)?;
    ctx.dirty += 1;
    ctx.ok();
    Ok(())
}

/// # Format
/// `FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]`
pub fn function_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut pattern: Option<&Bytes> = None;
    let mut with_code = false;
    let mut i = 2;
    while let Some(a) = argv.get(i) {
        if a.eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
            i += 1;
        } else if a.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some(p) = argv.get(i + 1) else {
                return Err(CmdError::fixed("ERR library name argument was not given"));
            };
            pattern = Some(p);
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    let libs: Vec<_> = ctx
        .st
        .scripting
        .functions()?
        .libraries()
        .into_iter()
        .filter(|l| pattern.is_none_or(|p| string_match(p, l.name.as_bytes(), false)))
        .collect();
    let mut items = Vec::with_capacity(libs.len());
    for lib in libs {
        let mut fields = vec![
            (Frame::bulk("library_name"), Frame::bulk(lib.name.clone())),
            (Frame::bulk("engine"), Frame::bulk(lib.engine)),
        ];
        let funcs = lib
            .functions
            .iter()
            .map(|f| {
                Frame::Map(vec![
                    (Frame::bulk("name"), Frame::bulk(f.name.clone())),
                    (
                        Frame::bulk("description"),
                        f.description.clone().map_or(Frame::Null, Frame::Bulk),
                    ),
                    (
                        Frame::bulk("flags"),
                        Frame::Set(flag_names(&f.flags).into_iter().map(Frame::bulk).collect()),
                    ),
                ])
            })
            .collect();
        fields.push((Frame::bulk("functions"), Frame::Array(funcs)));
        if with_code {
            fields.push((Frame::bulk("library_code"), Frame::Bulk(lib.code.clone())));
        }
        items.push(Frame::Map(fields));
    }
    ctx.frame(&Frame::Array(items));
    Ok(())
}

/// The names `FUNCTION LIST` shows for a function's flags, in upstream's
/// order.
fn flag_names(f: &redis_scripting::shebang::ScriptFlags) -> Vec<&'static str> {
    let mut v = Vec::new();
    if f.no_writes {
        v.push("no-writes");
    }
    if f.allow_oom {
        v.push("allow-oom");
    }
    if f.allow_stale {
        v.push("allow-stale");
    }
    if f.no_cluster {
        v.push("no-cluster");
    }
    if f.allow_cross_slot_keys {
        v.push("allow-cross-slot-keys");
    }
    v
}

/// # Format
/// `FUNCTION DUMP`
pub fn function_dump(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let compress = ctx.st.config.get_bool("rdbcompression");
    let codes = ctx.st.scripting.functions()?.codes();
    let refs: Vec<&[u8]> = codes.iter().map(|c| &c[..]).collect();
    let payload = redis_rdb::functions_payload(&refs, compress);
    ctx.bulk(&payload);
    Ok(())
}

/// # Format
/// `FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]`
pub fn function_restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::fixed(
            "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.",
        ));
    }
    let policy =
        match argv.get(3) {
            None => RestorePolicy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"append") => RestorePolicy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"replace") => RestorePolicy::Replace,
            Some(p) if p.eq_ignore_ascii_case(b"flush") => RestorePolicy::Flush,
            Some(_) => return Err(CmdError::fixed(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes =
        redis_rdb::parse_functions_payload(&argv[2]).map_err(|e| CmdError::msg(e.to_string()))?;
    let codes: Vec<Bytes> = codes.into_iter().map(Bytes::from).collect();
    let restored = ctx
        .st
        .scripting
        .functions_mut()?
        .restore(&codes, policy)
        .map_err(frame_error);
    write_load_log(ctx);
    restored?;
    ctx.dirty += 1;
    ctx.ok();
    Ok(())
}

/// # Format
/// `FUNCTION STATS`
pub fn function_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let running = match ctx.st.scripting.run.as_ref() {
        Some(r) if r.kind == ScriptKind::Eval => {
            return Err(CmdError::fixed(script::BUSY_EVAL));
        }
        Some(r) => Frame::Map(vec![
            (Frame::bulk("name"), Frame::Bulk(r.name.clone())),
            (
                Frame::bulk("command"),
                Frame::Array(r.argv.iter().cloned().map(Frame::Bulk).collect()),
            ),
            (
                Frame::bulk("duration_ms"),
                Frame::Integer(r.start.elapsed().as_millis() as i64),
            ),
        ]),
        None => Frame::Null,
    };
    let (functions, libraries) = ctx.st.scripting.functions()?.counts();
    let reply = Frame::Map(vec![
        (Frame::bulk("running_script"), running),
        (
            Frame::bulk("engines"),
            Frame::Map(vec![(
                Frame::bulk("LUA"),
                Frame::Map(vec![
                    (
                        Frame::bulk("libraries_count"),
                        Frame::Integer(libraries as i64),
                    ),
                    (
                        Frame::bulk("functions_count"),
                        Frame::Integer(functions as i64),
                    ),
                ]),
            )]),
        ),
    ]);
    ctx.frame(&reply);
    Ok(())
}

/// # Format
/// `FUNCTION KILL`
pub fn function_kill(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.st.scripting.kill(ScriptKind::Function)?;
    ctx.ok();
    Ok(())
}

/// # Format
/// `FUNCTION HELP`
pub fn function_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::keys::reply_help(ctx, crate::help::FUNCTION);
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("fcall", fcall),
    ("fcall_ro", fcall_ro),
    ("function|load", function_load),
    ("function|delete", function_delete),
    ("function|flush", function_flush),
    ("function|list", function_list),
    ("function|dump", function_dump),
    ("function|restore", function_restore),
    ("function|stats", function_stats),
    ("function|kill", function_kill),
    ("function|help", function_help),
];
