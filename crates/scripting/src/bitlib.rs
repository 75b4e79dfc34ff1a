//! The `bit` library upstream bundles (LuaBitOp semantics): numbers are
//! normalised to signed 32-bit integers the way LuaBitOp does it (adding
//! 2^52 + 2^51 and keeping the low 32 bits of the double, so fractions
//! round to nearest-even and large values wrap), and every result is a
//! signed 32-bit number.

use mlua::{Lua, Table, Value, Variadic};

use crate::redislib::arg_error;

/// LuaBitOp's normalisation of a Lua number to 32 bits.
pub fn tobit(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `i` (1-based) as 32 bits, or LuaBitOp's `luaL_checknumber` error.
fn arg(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<u32> {
    let got = match args.get(i - 1) {
        None => "no value",
        Some(v) => match lua.coerce_number(v.clone())? {
            Some(n) => return Ok(tobit(n)),
            None => v.type_name(),
        },
    };
    Err(arg_error(lua, i, &format!("number expected, got {got}")))
}

fn ret(b: u32) -> f64 {
    f64::from(b as i32)
}

fn hex(b: u32, n: i32) -> String {
    let (digits, n) = if n < 0 {
        (b"0123456789ABCDEF", n.unsigned_abs())
    } else {
        (b"0123456789abcdef", n as u32)
    };
    let n = n.min(8);
    (0..n)
        .rev()
        .map(|i| char::from(digits[((b >> (4 * i)) & 15) as usize]))
        .collect()
}

type Unary = fn(u32) -> u32;
type Shift = fn(u32, u32) -> u32;
type Fold = fn(u32, u32) -> u32;

/// Builds the `bit` table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&str, Unary); 3] = [
        ("tobit", |b| b),
        ("bnot", |b| !b),
        ("bswap", |b| b.swap_bytes()),
    ];
    for (name, f) in unary {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| Ok(ret(f(arg(lua, &args, 1)?))))?,
        )?;
    }
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let mut acc = arg(lua, &args, 1)?;
                for i in 2..=args.len() {
                    acc = f(acc, arg(lua, &args, i)?);
                }
                Ok(ret(acc))
            })?,
        )?;
    }
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |b, n| b << (n & 31)),
        ("rshift", |b, n| b >> (n & 31)),
        ("arshift", |b, n| ((b as i32) >> (n & 31)) as u32),
        ("rol", |b, n| b.rotate_left(n & 31)),
        ("ror", |b, n| b.rotate_right(n & 31)),
    ];
    for (name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let b = arg(lua, &args, 1)?;
                let n = arg(lua, &args, 2)?;
                Ok(ret(f(b, n)))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let b = arg(lua, &args, 1)?;
            let n = if args.len() >= 2 && !args[1].is_nil() {
                arg(lua, &args, 2)? as i32
            } else {
                8
            };
            Ok(hex(b, n))
        })?,
    )?;
    Ok(t)
}
