//! The base functions the sandbox replaces (`rawset`, `rawget`, `next`,
//! `pairs`, `setmetatable`, `getmetatable`, `pcall`, `xpcall`,
//! `loadstring`, `load`), written as Rust (C-like) functions so that, as
//! upstream's C ones, they keep the calling script's frame when they are
//! tail-called (`return rawset(t, k, v)` still locates its error in the
//! script) and name themselves as the script called them in argument
//! errors (`bad argument #1 to 'rawset' (table expected, got number)`).
//!
//! They check their arguments as Lua 5.1's do and then either act on the
//! tables themselves or hand over to a Lua helper of the prelude, which
//! registers those helpers and its proxy tables with `B.init`.

use mlua::{Function, Lua, MultiValue, Table, Value, Variadic};

use crate::redislib::{arg_error, raise, raise_here};

/// Registry slot of the prelude's sandbox table (`backing`, `libs` and the
/// Lua helpers).
const SANDBOX_KEY: &str = "redis_scripting_sandbox";

const RO: &str = "Attempt to modify a readonly table";

fn sandbox(lua: &Lua) -> mlua::Result<Table> {
    lua.named_registry_value::<Table>(SANDBOX_KEY)
}

fn helper(lua: &Lua, name: &str) -> mlua::Result<Function> {
    sandbox(lua)?.raw_get::<Function>(name)
}

/// `lua_typename` of an argument (`no value` when it is missing).
fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_checktype(L, i, LUA_TTABLE)`.
fn check_table(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<Table> {
    match args.get(i - 1) {
        Some(Value::Table(t)) => Ok(t.clone()),
        other => Err(arg_error(
            lua,
            i,
            &format!("table expected, got {}", type_name(other)),
        )),
    }
}

/// `luaL_checkany(L, i)`.
fn check_any(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<()> {
    match args.get(i - 1) {
        Some(_) => Ok(()),
        None => Err(arg_error(lua, i, "value expected")),
    }
}

/// `luaL_optstring(L, i, ...)`: absent, nil, a string or a number.
fn check_opt_string(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<()> {
    match args.get(i - 1) {
        None | Some(Value::Nil | Value::String(_) | Value::Integer(_) | Value::Number(_)) => Ok(()),
        other => Err(arg_error(
            lua,
            i,
            &format!("string expected, got {}", type_name(other)),
        )),
    }
}

/// The table a read-only proxy stands for, if `t` is one.
fn backing(lua: &Lua, t: &Table) -> mlua::Result<Option<Table>> {
    let b: Table = sandbox(lua)?.raw_get("backing")?;
    Ok(match b.raw_get::<Value>(t.clone())? {
        Value::Table(real) => Some(real),
        _ => None,
    })
}

/// Runs a Lua helper; its Lua errors (strings) are raised again as they
/// are, errors of Rust functions keep their value.
fn relay(lua: &Lua, name: &str, args: impl mlua::IntoLuaMulti) -> mlua::Result<MultiValue> {
    helper(lua, name)?.call(args).map_err(|e| match e {
        // mlua adds a traceback to the message.
        mlua::Error::RuntimeError(msg) => {
            raise(msg.split("\nstack traceback:").next().unwrap_or_default())
        }
        other => other,
    })
}

/// Adds the functions to the bridge table `b` as `g_<name>` (the prelude
/// installs them as globals) with `g_init`, which takes the prelude's
/// sandbox table.
pub(crate) fn install(lua: &Lua, b: &Table) -> mlua::Result<()> {
    b.raw_set(
        "g_init",
        lua.create_function(|lua, t: Table| lua.set_named_registry_value(SANDBOX_KEY, t))?,
    )?;
    b.raw_set(
        "g_rawset",
        lua.create_function(|lua, args: Variadic<Value>| {
            let t = check_table(lua, &args, 1)?;
            check_any(lua, &args, 2)?;
            check_any(lua, &args, 3)?;
            if backing(lua, &t)?.is_some() {
                return Err(raise(RO));
            }
            let k = args.get(1).cloned().unwrap_or(Value::Nil);
            match k {
                Value::Nil => return Err(raise("table index is nil")),
                Value::Number(n) if n.is_nan() => return Err(raise("table index is NaN")),
                _ => {}
            }
            t.raw_set(k, args.get(2).cloned().unwrap_or(Value::Nil))?;
            Ok(t)
        })?,
    )?;
    b.raw_set(
        "g_rawget",
        lua.create_function(|lua, args: Variadic<Value>| {
            let t = check_table(lua, &args, 1)?;
            check_any(lua, &args, 2)?;
            let t = backing(lua, &t)?.unwrap_or(t);
            t.raw_get::<Value>(args.get(1).cloned().unwrap_or(Value::Nil))
        })?,
    )?;
    b.raw_set(
        "g_setmetatable",
        lua.create_function(|lua, args: Variadic<Value>| {
            let t = check_table(lua, &args, 1)?;
            let mt = match args.get(1) {
                Some(Value::Nil) => None,
                Some(Value::Table(m)) => Some(m.clone()),
                _ => return Err(arg_error(lua, 2, "nil or table expected")),
            };
            if backing(lua, &t)?.is_some() {
                return Err(raise(RO));
            }
            if let Some(old) = t.metatable() {
                if !old.raw_get::<Value>("__metatable")?.is_nil() {
                    return Err(raise_here(lua, "cannot change a protected metatable"));
                }
            }
            t.set_metatable(mt);
            Ok(t)
        })?,
    )?;
    b.raw_set(
        "g_getmetatable",
        lua.create_function(|lua, args: Variadic<Value>| {
            check_any(lua, &args, 1)?;
            let v = args.first().cloned().unwrap_or(Value::Nil);
            if let Value::Table(t) = &v {
                let libs: Table = sandbox(lua)?.raw_get("libs")?;
                if !libs.raw_get::<Value>(t.clone())?.is_nil() {
                    return Ok(MultiValue::from_vec(vec![Value::Nil]));
                }
            }
            relay(lua, "getmetatable", v)
        })?,
    )?;
    b.raw_set(
        "g_next",
        lua.create_function(|lua, args: Variadic<Value>| {
            let t = check_table(lua, &args, 1)?;
            let t = backing(lua, &t)?.unwrap_or(t);
            relay(lua, "next", (t, args.get(1).cloned().unwrap_or(Value::Nil)))
        })?,
    )?;
    b.raw_set(
        "g_pairs",
        lua.create_function(|lua, args: Variadic<Value>| {
            let t = check_table(lua, &args, 1)?;
            let t = backing(lua, &t)?.unwrap_or(t);
            Ok((helper(lua, "next")?, t, Value::Nil))
        })?,
    )?;
    b.raw_set(
        "g_pcall",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                // What 7.0.15's pcall answers when given nothing to call.
                let msg = lua.create_string("attempt to call a boolean value")?;
                return Ok(MultiValue::from_vec(vec![
                    Value::Boolean(false),
                    Value::String(msg),
                ]));
            }
            relay(lua, "pcall", args)
        })?,
    )?;
    b.raw_set(
        "g_xpcall",
        lua.create_function(|lua, args: Variadic<Value>| {
            check_any(lua, &args, 2)?;
            relay(lua, "xpcall", args)
        })?,
    )?;
    b.raw_set(
        "g_loadstring",
        lua.create_function(|lua, args: Variadic<Value>| {
            match args.first() {
                Some(Value::String(_) | Value::Integer(_) | Value::Number(_)) => {}
                other => {
                    return Err(arg_error(
                        lua,
                        1,
                        &format!("string expected, got {}", type_name(other)),
                    ))
                }
            }
            check_opt_string(lua, &args, 2)?;
            if let Some(Value::String(src)) = args.first() {
                if src.as_bytes().first() == Some(&0x1b) {
                    // Upstream's Lua refuses precompiled chunks: it parses
                    // them as text, which fails on the signature byte.
                    let name = match args.get(1) {
                        Some(Value::String(n)) => n.as_bytes().to_vec(),
                        _ => src.as_bytes().to_vec(),
                    };
                    let mut msg = chunk_id(&name);
                    msg.extend_from_slice(b":1: unexpected symbol near 'char(27)'");
                    return Ok(MultiValue::from_vec(vec![
                        Value::Nil,
                        Value::String(lua.create_string(&msg)?),
                    ]));
                }
            }
            relay(lua, "loadstring", args)
        })?,
    )?;
    b.raw_set(
        "g_load",
        lua.create_function(|lua, args: Variadic<Value>| {
            match args.first() {
                Some(Value::Function(_)) => {}
                other => {
                    return Err(arg_error(
                        lua,
                        1,
                        &format!("function expected, got {}", type_name(other)),
                    ))
                }
            }
            check_opt_string(lua, &args, 2)?;
            relay(lua, "load", args)
        })?,
    )?;
    Ok(())
}

/// How Lua 5.1 names a chunk in messages (`luaO_chunkid`): `=name` as is,
/// `@file` as the file (its tail when long), source text as
/// `[string "first line..."]`; C string rules, so a NUL ends the name.
fn chunk_id(name: &[u8]) -> Vec<u8> {
    const ID_SIZE: usize = 60;
    let name = name.split(|&c| c == 0).next().unwrap_or_default();
    match name.split_first() {
        Some((b'=', rest)) => rest.iter().take(ID_SIZE - 1).copied().collect(),
        Some((b'@', rest)) => {
            let room = ID_SIZE - b" '...' ".len() - 1;
            if rest.len() > room {
                let mut out = b"...".to_vec();
                out.extend_from_slice(rest.get(rest.len() - room..).unwrap_or_default());
                out
            } else {
                rest.to_vec()
            }
        }
        _ => {
            let line = name
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .unwrap_or(name.len());
            let len = line.min(ID_SIZE - b" [string \"...\"] ".len() - 1);
            let mut out = b"[string \"".to_vec();
            out.extend_from_slice(name.get(..len).unwrap_or_default());
            if len < name.len() {
                out.extend_from_slice(b"...");
            }
            out.extend_from_slice(b"\"]");
            out
        }
    }
}
