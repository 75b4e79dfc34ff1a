//! Conversions between RESP values and Lua values, as upstream 7.0 does
//! them for `redis.call` replies (RESP → Lua) and script results (Lua →
//! RESP).
//!
//! RESP → Lua: integer → number; bulk → string; null → `false` when the
//! script speaks RESP2, `nil` in RESP3; array → table; status → `{ok=s}`;
//! error → `{err=s}`; map → `{map={k=v}}`; set → `{set={m=true}}`;
//! double → `{double=n}`; big number → `{big_number=s}`; boolean → boolean;
//! verbatim → `{verbatim_string={format=f, string=s}}`; attributes are
//! dropped.
//!
//! Lua → RESP: number → integer (truncated; out of range and NaN give
//! `i64::MIN` as the C cast does on x86); string → bulk; `true` → `:1`
//! (RESP2) or `#t` (RESP3); `false` → null (RESP2) or `#f` (RESP3); `nil`
//! → null; tables: `err`, `ok`, `double`, `big_number`, `map`, `set`,
//! `verbatim_string` fields first, else an array up to the first `nil`.

use bytes::Bytes;
use mlua::{Lua, Table, Value};
use redis_resp::{Frame, Protocol};

use crate::raw::Scalar;

/// Nesting deeper than this is refused (self-referencing tables).
const MAX_DEPTH: usize = 1000;

/// Replaces CR and LF by spaces, as upstream does for status and error
/// lines built from script values.
pub fn one_line(text: &[u8]) -> Bytes {
    Bytes::from(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect::<Vec<u8>>(),
    )
}

/// Whether a script's result (or the error that ended it) is a command's
/// error reply the server counted already: an error table carrying
/// `ignore_error_stats_update`, as `redis.call`/`redis.pcall` build them.
pub fn error_counted(value: &Value) -> bool {
    let Value::Table(t) = value else {
        return false;
    };
    matches!(t.raw_get::<Value>("err"), Ok(Value::String(_)))
        && matches!(
            t.raw_get::<Value>("ignore_error_stats_update"),
            Ok(Value::Boolean(true))
        )
}

/// The integer a Lua number becomes in a reply (`(long long)` cast).
pub fn number_to_integer(n: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// A script's return value as a reply; `resp` is the protocol the script
/// selected with `redis.setresp` (2 unless changed).
pub fn lua_to_frame(value: &Value, resp: Protocol) -> Frame {
    to_frame(value, resp, 0)
}

/// A run's value read as a [`Scalar`] as a reply (as [`lua_to_frame`]
/// would make it of the same value).
pub(crate) fn scalar_to_frame(value: Scalar, resp: Protocol) -> Frame {
    match value {
        Scalar::Nil => Frame::Null,
        Scalar::Boolean(true) => match resp {
            Protocol::Resp2 => Frame::Integer(1),
            Protocol::Resp3 => Frame::Boolean(true),
        },
        Scalar::Boolean(false) => match resp {
            Protocol::Resp2 => Frame::Null,
            Protocol::Resp3 => Frame::Boolean(false),
        },
        Scalar::Number(n) => Frame::Integer(number_to_integer(n)),
        Scalar::Bulk(b) => Frame::Bulk(b),
        Scalar::Status(s) => Frame::Simple(one_line_owned(s)),
        Scalar::Error { text, .. } => Frame::Error(one_line_owned(text)),
    }
}

/// [`one_line`] without a copy when there is nothing to replace.
fn one_line_owned(text: Bytes) -> Bytes {
    if text.iter().any(|&c| c == b'\r' || c == b'\n') {
        one_line(&text)
    } else {
        text
    }
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn to_frame(value: &Value, resp: Protocol, depth: usize) -> Frame {
    if depth > MAX_DEPTH {
        return Frame::error("ERR reached lua stack limit");
    }
    match value {
        Value::Nil => Frame::Null,
        Value::Boolean(true) => match resp {
            Protocol::Resp2 => Frame::Integer(1),
            Protocol::Resp3 => Frame::Boolean(true),
        },
        Value::Boolean(false) => match resp {
            Protocol::Resp2 => Frame::Null,
            Protocol::Resp3 => Frame::Boolean(false),
        },
        Value::Integer(i) => Frame::Integer(*i),
        Value::Number(n) => Frame::Integer(number_to_integer(*n)),
        Value::String(s) => Frame::Bulk(Bytes::from(s.as_bytes().to_vec())),
        Value::Table(t) => table_to_frame(t, resp, depth),
        _ => Frame::Null,
    }
}

fn table_to_frame(t: &Table, resp: Protocol, depth: usize) -> Frame {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Some(e) = bytes_of(&field("err")) {
        return Frame::Error(one_line(&e));
    }
    if let Some(s) = bytes_of(&field("ok")) {
        return Frame::Simple(one_line(&s));
    }
    if let Value::Number(n) = field("double") {
        return Frame::Double(n);
    }
    if let Value::Integer(n) = field("double") {
        return Frame::Double(n as f64);
    }
    if let Some(s) = bytes_of(&field("big_number")) {
        // Upstream maps CR and LF to spaces (the text goes on one line).
        return Frame::BigNumber(one_line(&s));
    }
    if let Value::Table(m) = field("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((to_frame(&k, resp, depth + 1), to_frame(&v, resp, depth + 1)));
        }
        return Frame::Map(pairs);
    }
    if let Value::Table(s) = field("set") {
        let mut items = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            items.push(to_frame(&k, resp, depth + 1));
        }
        return Frame::Set(items);
    }
    if let Value::Table(v) = field("verbatim_string") {
        let format = bytes_of(&v.raw_get::<Value>("format").unwrap_or(Value::Nil));
        let text = bytes_of(&v.raw_get::<Value>("string").unwrap_or(Value::Nil));
        if let (Some(format), Some(text)) = (format, text) {
            if let [a, b, c] = format[..] {
                return Frame::Verbatim {
                    format: [a, b, c],
                    text: Bytes::from(text),
                };
            }
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        if v.is_nil() {
            break;
        }
        items.push(to_frame(&v, resp, depth + 1));
    }
    Frame::Array(items)
}

/// A command's reply as `redis.call` hands it to the script. `resp` is the
/// script's protocol: RESP3 frames are first downgraded for a RESP2 script.
pub fn frame_to_lua(lua: &Lua, frame: Frame, resp: Protocol) -> mlua::Result<Value> {
    let frame = frame.downgrade(resp);
    to_lua(lua, frame, resp)
}

fn str_value(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

fn wrap(lua: &Lua, key: &str, value: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(key, value)?;
    Ok(Value::Table(t))
}

fn to_lua(lua: &Lua, frame: Frame, resp: Protocol) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Simple(s) => wrap(lua, "ok", str_value(lua, &s)?)?,
        Frame::Error(e) => wrap(lua, "err", str_value(lua, &e)?)?,
        Frame::Integer(i) => Value::Number(i as f64),
        Frame::Bulk(b) => str_value(lua, &b)?,
        Frame::Null | Frame::NullArray => match resp {
            Protocol::Resp2 => Value::Boolean(false),
            Protocol::Resp3 => Value::Nil,
        },
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table()?;
            let mut i = 0;
            for item in items {
                if matches!(item, Frame::Attribute(_)) {
                    continue;
                }
                i += 1;
                t.raw_set(i, to_lua(lua, item, resp)?)?;
            }
            Value::Table(t)
        }
        Frame::Double(d) => wrap(lua, "double", Value::Number(d))?,
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(n) => wrap(lua, "big_number", str_value(lua, &n)?)?,
        Frame::Verbatim { format, text } => {
            let v = lua.create_table()?;
            v.raw_set("format", lua.create_string(format)?)?;
            v.raw_set("string", lua.create_string(&text)?)?;
            wrap(lua, "verbatim_string", Value::Table(v))?
        }
        Frame::Map(pairs) => {
            let m = lua.create_table()?;
            for (k, v) in pairs {
                let k = to_lua(lua, k, resp)?;
                if k.is_nil() {
                    continue;
                }
                m.raw_set(k, to_lua(lua, v, resp)?)?;
            }
            wrap(lua, "map", Value::Table(m))?
        }
        Frame::Set(items) => {
            let s = lua.create_table()?;
            for item in items {
                let k = to_lua(lua, item, resp)?;
                if k.is_nil() {
                    continue;
                }
                s.raw_set(k, true)?;
            }
            wrap(lua, "set", Value::Table(s))?
        }
        Frame::Attribute(_) => Value::Nil,
    })
}
