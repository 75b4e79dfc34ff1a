//! `MODULE`: this server loads no modules (they are C shared objects
//! written against upstream's module API), so `LIST` is empty and `LOAD`,
//! `LOADEX` and `UNLOAD` fail with upstream's replies and log lines. The
//! command exists so `enable-module-command` gates it in the dispatcher
//! exactly as upstream does.

use bytes::Bytes;
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::table::Handler;

use crate::args::is;

/// The help lines after the first, which names the command as sent.
const HELP: &[&str] = &[
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
    "HELP",
    "    Prints this help.",
];

const LOAD_FAILED: CmdError =
    CmdError::fixed("ERR Error loading the extension. Please check the server logs.");

/// # Format
/// `MODULE HELP`
pub fn help(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    ctx.array(HELP.len() + 1);
    ctx.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in HELP {
        ctx.simple(l);
    }
    Ok(())
}

/// # Format
/// `MODULE LIST`
pub fn list(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.array(0);
    Ok(())
}

/// Why loading `path` fails here, in the words of upstream's loader for
/// the cases it can tell without loading anything: a missing file or a
/// directory (the dynamic loader's texts) and a file without execute
/// permission (upstream checks that first).
fn load_failure(path: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            "It does not have execute permissions.".to_string()
        }
        Ok(m) if m.is_dir() => format!("{path}: cannot read file data: Is a directory"),
        Ok(_) => format!("{path}: this server cannot load modules"),
        Err(e) => {
            let reason = e.to_string();
            let reason = reason.split(" (os error").next().unwrap_or_default();
            format!("{path}: cannot open shared object file: {reason}")
        }
    }
}

/// Logs why `path` was not loaded and answers like upstream.
fn refuse_load(ctx: &mut Ctx, path: &[u8]) -> CmdResult {
    let path = String::from_utf8_lossy(path);
    let why = load_failure(&path);
    ctx.st
        .log_warning(&format!("Module {path} failed to load: {why}"));
    Err(LOAD_FAILED)
}

/// # Format
/// `MODULE LOAD path [arg ...]`
pub fn load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    refuse_load(ctx, &argv[2])
}

/// # Format
/// `MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]`
pub fn loadex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // The options are checked before loading, as upstream does, with its
    // notice-level log lines.
    let mut i = 3;
    while i < argv.len() {
        if is(&argv[i], "config") {
            if argv.len() - i < 3 {
                ctx.st
                    .log_notice("CONFIG specified without name value pair");
                return Err(LOAD_FAILED);
            }
            i += 3;
        } else if is(&argv[i], "args") {
            // Everything after ARGS belongs to the module.
            break;
        } else {
            let at = String::from_utf8_lossy(&argv[i]);
            ctx.st.log_notice(&format!(
                "Syntax Error from arguments to loadex around {at}."
            ));
            return Err(LOAD_FAILED);
        }
    }
    refuse_load(ctx, &argv[2])
}

/// # Format
/// `MODULE UNLOAD name`
pub fn unload(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Err(CmdError::fixed(
        "ERR Error unloading module: no such module with that name",
    ))
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("module|help", help),
    ("module|list", list),
    ("module|load", load),
    ("module|loadex", loadex),
    ("module|unload", unload),
];
