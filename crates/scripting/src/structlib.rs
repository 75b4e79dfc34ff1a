//! The `struct` library upstream bundles (`struct.pack`, `struct.unpack`,
//! `struct.size`), with its format language: `>`/`<` endianness (little by
//! default), `!n` alignment (default 1, `!` alone 8), ` ` ignored; `b`/`B`
//! char, `h`/`H` short (2), `l`/`L` long and `T` size_t (8), `i`/`I` int
//! with an optional size (default 4, at most 32), `f` float, `d` double,
//! `x` a zero byte, `s` zero-terminated string, `cN` fixed-size string
//! (`c0`: the whole string when packing, the length given by the previous
//! value when unpacking). Lower case is signed. Integers go through the C
//! conversions of a 64-bit `long`, as on the reference's platform.

use mlua::{Lua, Table, Value, Variadic};

use crate::redislib::{arg_error, raise_here};

/// Largest integer size.
const MAX_INT_SIZE: usize = 32;
/// `!` without a number.
const MAX_ALIGN: usize = 8;

#[derive(Clone, Copy)]
struct Header {
    big: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            big: false,
            align: 1,
        }
    }
}

/// A reader over the format string.
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = self.s.get(self.i).copied();
        self.i += 1;
        c
    }

    /// The digits after an option, or `default` when there are none.
    fn num(&mut self, lua: &Lua, default: usize) -> mlua::Result<usize> {
        let Some(c) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) else {
            return Ok(default);
        };
        let mut a: i32 = i32::from(c - b'0');
        self.i += 1;
        while let Some(&c) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) {
            let d = i32::from(c - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(raise_here(lua, "integral size overflow"));
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a as usize)
    }
}

/// The size of option `opt` (reading its number, if any).
fn opt_size(lua: &Lua, opt: u8, fmt: &mut Fmt) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(lua, 1)?,
        b'i' | b'I' => {
            let sz = fmt.num(lua, 4)?;
            if sz > MAX_INT_SIZE {
                return Err(raise_here(
                    lua,
                    &format!("integral size {sz} is larger than limit of {MAX_INT_SIZE}"),
                ));
            }
            sz
        }
        _ => 0,
    })
}

/// Padding needed before an item of `size` at offset `len`.
fn to_align(lua: &Lua, len: usize, h: &Header, opt: u8, size: usize) -> mlua::Result<usize> {
    let mut align = size;
    if align <= 1 || opt == b'c' {
        return Ok(0);
    }
    if align > h.align {
        align = h.align;
    }
    if align & align.wrapping_neg() != align {
        return Err(arg_error(
            lua,
            1,
            "format asks for alignment not power of 2",
        ));
    }
    Ok(align.wrapping_sub(len & align.wrapping_sub(1)) & align.wrapping_sub(1))
}

/// `>`, `<`, `!n`, ` `; anything else is an invalid option.
fn control(lua: &Lua, opt: u8, fmt: &mut Fmt, h: &mut Header) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.big = true,
        b'<' => h.big = false,
        b'!' => {
            let a = fmt.num(lua, MAX_ALIGN)?;
            if a & a.wrapping_sub(1) != 0 {
                return Err(raise_here(
                    lua,
                    &format!("alignment {a} is not a power of 2"),
                ));
            }
            h.align = a;
        }
        _ => {
            return Err(arg_error(
                lua,
                1,
                &format!("invalid format option '{}'", char::from(opt)),
            ))
        }
    }
    Ok(())
}

/// `luaL_checkstring` of argument `i` (1-based); `nil_for_missing` makes a
/// missing argument read as `nil` (how `pack` reports its data arguments).
fn check_bytes(
    lua: &Lua,
    args: &[Value],
    i: usize,
    nil_for_missing: bool,
) -> mlua::Result<Vec<u8>> {
    let got = match args.get(i - 1) {
        None if nil_for_missing => "nil",
        None => "no value",
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Integer(_))) => {
            if let Some(s) = lua.coerce_string(v.clone())? {
                return Ok(s.as_bytes().to_vec());
            }
            v.type_name()
        }
        Some(v) => v.type_name(),
    };
    Err(arg_error(lua, i, &format!("string expected, got {got}")))
}

fn check_number(lua: &Lua, args: &[Value], i: usize, nil_for_missing: bool) -> mlua::Result<f64> {
    let got = match args.get(i - 1) {
        None if nil_for_missing => "nil",
        None => "no value",
        Some(v) => match lua.coerce_number(v.clone())? {
            Some(n) => return Ok(n),
            None => v.type_name(),
        },
    };
    Err(arg_error(lua, i, &format!("number expected, got {got}")))
}

/// C's conversion of a double to `unsigned long` as struct does it
/// (`(long)n` below `LONG_MAX`, `(unsigned long)n` above, x86-64 results
/// for what C leaves undefined).
fn to_ulong(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n < TWO63 {
        return (n as i64) as u64;
    }
    let m = n - TWO63;
    let low = if m < TWO63 {
        m as i64 as u64
    } else {
        0x8000_0000_0000_0000
    };
    low ^ 0x8000_0000_0000_0000
}

fn put_integer(out: &mut Vec<u8>, n: f64, big: bool, size: usize) {
    let mut value = to_ulong(n);
    let mut buf = vec![0u8; size];
    for b in buf.iter_mut() {
        *b = (value & 0xff) as u8;
        value >>= 8;
    }
    if big {
        buf.reverse();
    }
    out.extend_from_slice(&buf);
}

fn get_integer(data: &[u8], big: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: u8| l = (l << 8) | u64::from(b);
    if big {
        data.iter().take(size).for_each(|&b| push(b));
    } else {
        data.iter().take(size).rev().for_each(|&b| push(b));
    }
    if !signed {
        return l as f64;
    }
    let shift = ((size * 8).wrapping_sub(1) & 63) as u32;
    let mask = u64::MAX.wrapping_shl(shift);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    let fmt_bytes = check_bytes(lua, &args, 1, false)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::default();
    let mut out = Vec::new();
    let mut arg = 2;
    while let Some(opt) = fmt.next() {
        let mut size = opt_size(lua, opt, &mut fmt)?;
        let pad = to_align(lua, out.len(), &h, opt, size)?;
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg, true)?;
                arg += 1;
                put_integer(&mut out, n, h.big, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(lua, &args, arg, true)? as f32;
                arg += 1;
                let b = if h.big {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'd' => {
                let n = check_number(lua, &args, arg, true)?;
                arg += 1;
                let b = if h.big {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = check_bytes(lua, &args, arg, true)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error(lua, arg, "string too short"));
                }
                out.extend_from_slice(s.get(..size).unwrap_or_default());
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(lua, opt, &mut fmt, &mut h)?,
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Variadic<Value>> {
    let fmt_bytes = check_bytes(lua, &args, 1, false)?;
    let data = check_bytes(lua, &args, 2, false)?;
    let ld = data.len();
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => check_number(lua, &args, 3, false)?,
    };
    let start = start as i64;
    if start <= 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    let mut pos = (start - 1) as usize;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::default();
    let mut out: Vec<Value> = Vec::new();
    let too_short = |lua: &Lua| arg_error(lua, 2, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = opt_size(lua, opt, &mut fmt)?;
        pos = pos.wrapping_add(to_align(lua, pos, &h, opt, size)?);
        if size > ld || pos > ld - size {
            return Err(too_short(lua));
        }
        let here = data.get(pos..).unwrap_or_default();
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(get_integer(here, h.big, signed, size)));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(here.get(..4).unwrap_or(&[0; 4]));
                let v = if h.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                out.push(Value::Number(f64::from(v)));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(here.get(..8).unwrap_or(&[0; 8]));
                let v = if h.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(v @ (Value::Number(_) | Value::Integer(_) | Value::String(_))) => {
                            lua.coerce_number(v.clone())?
                        }
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(raise_here(lua, "format 'c0' needs a previous size"));
                    };
                    size = n as usize;
                    out.pop();
                    if size > ld || pos > ld - size {
                        return Err(too_short(lua));
                    }
                }
                let s = data.get(pos..pos + size).unwrap_or_default();
                out.push(Value::String(lua.create_string(s)?));
            }
            b's' => {
                let Some(end) = here.iter().position(|&c| c == 0) else {
                    return Err(raise_here(lua, "unfinished string in data"));
                };
                size = end + 1;
                out.push(Value::String(lua.create_string(&here[..end])?));
            }
            _ => control(lua, opt, &mut fmt, &mut h)?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(Variadic::from_iter(out))
}

fn size(lua: &Lua, args: Variadic<Value>) -> mlua::Result<f64> {
    let fmt_bytes = check_bytes(lua, &args, 1, false)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = opt_size(lua, opt, &mut fmt)?;
        pos = pos.wrapping_add(to_align(lua, pos, &h, opt, size)?);
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as f64)
}

/// Builds the `struct` table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}
