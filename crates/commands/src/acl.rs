//! `ACL` and its subcommands (upstream 7.0's `aclCommand`): users are
//! `redis-acl`'s model behind the engine's [`redis_engine::acl::Acl`].

use bytes::Bytes;
use redis_acl::{genpass, AclError, Catalog, Category, Value};
use redis_resp::Frame;

use crate::args;
use crate::keys::reply_help;
use redis_engine::ctx::Ctx;
use redis_engine::error::{subcommand_syntax, CmdError, CmdResult};
use redis_engine::table::Handler;

/// `ACL HELP`.
const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

const NO_ACLFILE: CmdError = CmdError::fixed("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");

/// An `ERR` reply from ACL model text; CR/LF (rule text is echoed) become
/// spaces, as upstream's `addReplyErrorSdsSafe`.
fn err_bytes(text: &[u8]) -> CmdError {
    let mut out = b"ERR ".to_vec();
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    CmdError(Bytes::from(out))
}

fn acl_err(e: &AclError) -> CmdError {
    err_bytes(&e.to_bytes())
}

/// The frame of an ACL model reply value.
fn frame_of(v: Value) -> Frame {
    match v {
        Value::Bulk(b) => Frame::Bulk(Bytes::from(b)),
        Value::Integer(i) => Frame::Integer(i),
        Value::Double(d) => Frame::Double(d),
        Value::Array(a) => Frame::Array(a.into_iter().map(frame_of).collect()),
        Value::Set(a) => Frame::Set(a.into_iter().map(frame_of).collect()),
        Value::Map(m) => Frame::Map(
            m.into_iter()
                .map(|(k, v)| (frame_of(k), frame_of(v)))
                .collect(),
        ),
    }
}

/// # Format
/// `ACL SETUSER username [rule ...]`
pub fn setuser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Nothing about the user shows in MONITOR or the slow log.
    for i in 2..argv.len() {
        ctx.redact_arg(i);
    }
    let acl = &mut ctx.st.acl;
    acl.users
        .set_user(&argv[2], &argv[3..], &acl.catalog)
        .map_err(|e| acl_err(&e))?;
    ctx.st.acl_users_changed(ctx.client, Some(&[]));
    ctx.ok();
    Ok(())
}

/// # Format
/// `ACL GETUSER username`
pub fn getuser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let acl = &ctx.st.acl;
    match acl.users.get(&argv[2]).map(|u| u.getuser(&acl.catalog)) {
        Some(v) => ctx.frame(&frame_of(v)),
        None => ctx.null(),
    }
    Ok(())
}

/// # Format
/// `ACL DELUSER username [username ...]`
pub fn deluser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let deleted = ctx
        .st
        .acl
        .users
        .delete(&argv[2..])
        .map_err(|e| acl_err(&e))?;
    ctx.st.acl_users_changed(ctx.client, Some(&deleted));
    ctx.int(deleted.len() as i64);
    Ok(())
}

/// # Format
/// `ACL USERS`
pub fn users(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx
        .st
        .acl
        .users
        .names()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    ctx.bulk_array(names.iter());
    Ok(())
}

/// # Format
/// `ACL LIST`
pub fn list(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let acl = &ctx.st.acl;
    let lines = acl.users.list(&acl.catalog);
    ctx.bulk_array(lines.iter());
    Ok(())
}

/// # Format
/// `ACL WHOAMI`
pub fn whoami(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let name = ctx.client.user.clone();
    ctx.bulk(name.as_bytes());
    Ok(())
}

/// # Format
/// `ACL CAT [category]`
pub fn cat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {
            ctx.bulk_array(Category::ALL.iter().map(|c| c.name()));
            Ok(())
        }
        3 => {
            let Some(c) = Category::from_name(&argv[2]) else {
                return Err(CmdError::msg(format!(
                    "ERR Unknown category '{}'",
                    redis_engine::error::truncated(&argv[2], 128)
                )));
            };
            let cat = &ctx.st.acl.catalog;
            let names: Vec<String> = cat
                .commands_in_category(c)
                .into_iter()
                .map(|id| cat.full_name(id))
                .collect();
            ctx.bulk_array(names.iter());
            Ok(())
        }
        _ => Err(subcommand_syntax(&argv[1], "acl")),
    }
}

/// # Format
/// `ACL LOG [count | RESET]`
pub fn log(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = match argv.len() {
        2 => None,
        3 if args::is(&argv[2], "reset") => {
            ctx.st.acl.log.reset();
            ctx.ok();
            return Ok(());
        }
        3 => Some(args::int(&argv[2])?),
        _ => return Err(subcommand_syntax(&argv[1], "acl")),
    };
    let v = ctx.st.acl.log.reply(count, ctx.now);
    ctx.frame(&frame_of(v));
    Ok(())
}

/// # Format
/// `ACL GENPASS [bits]`
pub fn genpass_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let bits = match argv.len() {
        2 => None,
        3 => Some(args::int(&argv[2])?),
        _ => return Err(subcommand_syntax(&argv[1], "acl")),
    };
    let p = genpass(bits).map_err(|e| acl_err(&e))?;
    ctx.bulk(p.as_bytes());
    Ok(())
}

/// # Format
/// `ACL DRYRUN username command [arg ...]`
pub fn dryrun(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.st.acl.users.get(&argv[2]) else {
        return Err(CmdError::msg(format!(
            "ERR User '{}' not found",
            redis_engine::error::truncated(&argv[2], 128)
        )));
    };
    let target = &argv[3..];
    let Ok(cmd) = ctx.st.registry.resolve(target) else {
        return Err(CmdError::msg(format!(
            "ERR Command '{}' not found",
            redis_engine::error::truncated(&argv[3], 128)
        )));
    };
    if !cmd.meta.arity_ok(target.len()) {
        return Err(redis_engine::error::wrong_arity(&cmd.full_name));
    }
    match redis_engine::acl::check_user(user, cmd, target) {
        Ok(()) => ctx.ok(),
        Err((d, object)) => {
            let msg = d.dryrun_message(&cmd.full_name, &object);
            ctx.bulk(&msg);
        }
    }
    Ok(())
}

fn aclfile(ctx: &Ctx) -> Result<String, CmdError> {
    let f = ctx.st.config.get_str("aclfile");
    if f.is_empty() {
        return Err(NO_ACLFILE);
    }
    Ok(f.to_string())
}

/// # Format
/// `ACL LOAD`
pub fn load(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx)?;
    ctx.st
        .acl_load_file(&path)
        .map_err(|e| err_bytes(e.as_bytes()))?;
    ctx.st.acl_users_changed(ctx.client, None);
    ctx.ok();
    Ok(())
}

/// # Format
/// `ACL SAVE`
pub fn save(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx)?;
    if let Err(e) = ctx.st.acl_save_file(&path) {
        ctx.st.log_warning(&e);
        return Err(CmdError::fixed("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.ok();
    Ok(())
}

/// # Format
/// `ACL HELP`
pub fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

/// The commands this module serves.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("acl|setuser", setuser),
    ("acl|getuser", getuser),
    ("acl|deluser", deluser),
    ("acl|users", users),
    ("acl|list", list),
    ("acl|whoami", whoami),
    ("acl|cat", cat),
    ("acl|log", log),
    ("acl|genpass", genpass_cmd),
    ("acl|dryrun", dryrun),
    ("acl|load", load),
    ("acl|save", save),
    ("acl|help", help),
];
