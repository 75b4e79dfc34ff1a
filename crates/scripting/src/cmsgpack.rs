//! The `cmsgpack` library upstream bundles for scripts (lua-cmsgpack 0.4.0
//! as shipped with Redis 7.0): `pack`, `unpack`, `unpack_one`,
//! `unpack_limit`, `_NAME`, `_VERSION`, `_COPYRIGHT`, `_DESCRIPTION`,
//! written from the MessagePack specification and the reference server's
//! observable behaviour.
//!
//! # Encoding (`pack`)
//! Every argument is encoded and the results are concatenated. `nil` and
//! values MessagePack cannot carry (functions, threads, userdata) become
//! `nil` (`c0`). A number that is an exact 64-bit integer uses the
//! smallest integer form (positive fixint, `uint8`..`uint64`, negative
//! fixint, `int8`..`int64`); any other number (fractions, ±inf, NaN,
//! integers beyond ±2^63) is a `float32` when it survives a round trip
//! through a C `float`, else a `float64`. Strings are fixstr, `str8`,
//! `str16` or `str32`. A table whose keys are exactly the integers 1..n is
//! an array (fixarray, `array16`, `array32`; `{}` is an empty array), any
//! other table a map (fixmap, `map16`, `map32`) in `next` order. Tables
//! nested 16 deep (each argument starts at depth 0) encode as `nil`, which
//! also bounds cyclic tables.
//!
//! # Decoding (`unpack`, `unpack_one`, `unpack_limit`)
//! `unpack(s)` returns every value of the stream; `unpack_one(s [, off])`
//! and `unpack_limit(s, limit [, off])` return the offset of the next value
//! (`-1` when the input is exhausted) followed by at most 1 / `limit`
//! values (`limit` 0 with offset 0 decodes everything and returns no
//! offset). Integers decode to Lua numbers (`uint64` goes through a signed
//! 64-bit integer, as upstream: `cf ff..ff` is `-1`). The `bin` and `ext`
//! families and `c1` are "Bad data format in input.", truncated input is
//! "Missing bytes in input.". Upstream runs out of C stack slots
//! (`LUAI_MAXCSTACK`, 8000) on deep nesting or long streams; the same
//! accounting is done here so the same inputs fail with the same `stack
//! overflow (...)` messages. Decoding is iterative and keeps only a few
//! Lua references alive, whatever the nesting; nothing is allocated from a
//! declared length.
//!
//! # Errors
//! Errors are Lua errors carrying [`Raise::Message`] with upstream's text:
//! `luaL_error`-style messages get the caller's position (`user_script:1:
//! ...`) through [`raise_here`]; argument errors are `luaL_argerror`'s
//! `bad argument #<n> to '<name>' (<msg>)` (or `calling '<name>' on bad
//! self (<msg>)` for method calls); errors upstream raises from inside
//! `lua_settable` (`table index is nil`, `table index is NaN`) carry no
//! position, as upstream's.
//!
//! # Known differences
//! - One call returns at most 7900 values, of which at most 4000 strings or
//!   tables (upstream: 7999); beyond that the call fails with upstream's
//!   `stack overflow (too many return values at once; use unpack_one or
//!   unpack_limit instead.)`. mlua needs one live reference per returned
//!   string/table and panics when they run out.
//! - `pack` output is limited to 512 MiB (upstream grows its buffer until
//!   the allocator gives up, which gets the reference server OOM-killed on
//!   e.g. a table holding itself 8 times); beyond that it raises `not
//!   enough memory`.
//! - mlua hands a number argument below 2^-52 in magnitude (other than 0)
//!   over as the integer 0, so `pack(1e-300)` gives `00` and
//!   `unpack(1e-300)` decodes the string `"0"`. Such numbers inside tables,
//!   as keys or values, are read exactly.
//! - mlua turns every argument into a live reference before `pack` runs:
//!   thousands of string/table arguments (upstream rejects more than 4000
//!   with `Too many arguments for MessagePack pack.`) can exhaust mlua's
//!   ~8000 reference slots, which panics inside mlua as for any Rust
//!   callback.

use mlua::{Either, Lua, MultiValue, Table, Value, Variadic};

use crate::redislib::{raise_here, Raise};

/// Tables nested this deep are encoded as `nil` (`LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: usize = 16;
/// Lua 5.1's `LUAI_MAXCSTACK`: stack slots a C function may use.
const MAX_C_STACK: i64 = 8000;
/// Most values one call returns (mlua itself stops short of 8000).
const MAX_RESULTS: i64 = 7900;
/// Most strings/tables one call returns (each is a live mlua reference).
const MAX_REF_RESULTS: usize = 4000;
/// Largest `pack` output.
const MAX_OUTPUT: usize = 512 << 20;

const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// Builds the `cmsgpack` table.
// Until the interpreter installs it, only the tests call this.
#[allow(dead_code)]
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("unpack_one", lua.create_function(unpack_one)?)?;
    t.raw_set("unpack_limit", lua.create_function(unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

/// An error raised without position, as from inside the Lua core.
fn raw_error(msg: &str) -> mlua::Error {
    mlua::Error::external(Raise::Message(msg.to_string()))
}

/// `luaL_argerror(L, narg, msg)`, including its method-call adjustment.
fn arg_error(lua: &Lua, narg: i64, msg: &str) -> mlua::Error {
    let (name, method) = match lua.inspect_stack(0) {
        Some(d) => {
            let n = d.names();
            (
                n.name.map(|s| s.into_owned()),
                n.name_what == Some("method"),
            )
        }
        None => (None, false),
    };
    let name = name.unwrap_or_else(|| "?".to_string());
    let mut narg = narg;
    if method {
        narg -= 1;
        if narg == 0 {
            return raise_here(lua, &format!("calling '{name}' on bad self ({msg})"));
        }
    }
    raise_here(lua, &format!("bad argument #{narg} to '{name}' ({msg})"))
}

/// `luaL_typename`.
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

/// `luaL_checklstring(L, 1)`: strings, and numbers as Lua formats them.
fn check_string(lua: &Lua, args: &[Value]) -> mlua::Result<mlua::String> {
    let v = args.first();
    if let Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) = v {
        if let Some(s) = lua.coerce_string(v.clone())? {
            return Ok(s);
        }
    }
    Err(arg_error(
        lua,
        1,
        &format!("string expected, got {}", type_name(v)),
    ))
}

/// C's `(lua_Integer)d` on x86-64: truncation, out of range (and NaN)
/// giving the "integer indefinite" value `i64::MIN`.
fn to_integer(d: f64) -> i64 {
    if d.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// `luaL_checkinteger(L, i)` (1-based `i`).
fn check_integer(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<i64> {
    let v = args.get(i - 1);
    if let Some(v) = v {
        if let Some(n) = lua.coerce_number(v.clone())? {
            return Ok(to_integer(n));
        }
    }
    Err(arg_error(
        lua,
        i as i64,
        &format!("number expected, got {}", type_name(v)),
    ))
}

/// `luaL_optinteger(L, i, 0)`.
fn opt_integer(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<i64> {
    match args.get(i - 1) {
        None | Some(Value::Nil) => Ok(0),
        Some(_) => check_integer(lua, args, i),
    }
}

// ---------------------------------------------------------------------------
// Encoding

struct Encoder {
    buf: Vec<u8>,
    /// Output size limit ([`MAX_OUTPUT`]).
    max: usize,
}

impl Encoder {
    fn put(&mut self, bytes: &[u8]) -> mlua::Result<()> {
        if self.buf.len().saturating_add(bytes.len()) > self.max
            || self.buf.try_reserve(bytes.len()).is_err()
        {
            return Err(raw_error("not enough memory"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn tagged(&mut self, tag: u8, body: &[u8]) -> mlua::Result<()> {
        self.put(&[tag])?;
        self.put(body)
    }

    fn integer(&mut self, i: i64) -> mlua::Result<()> {
        if i >= 0 {
            if i <= 0x7f {
                self.put(&[i as u8])
            } else if i <= 0xff {
                self.tagged(0xcc, &[i as u8])
            } else if i <= 0xffff {
                self.tagged(0xcd, &(i as u16).to_be_bytes())
            } else if i <= 0xffff_ffff {
                self.tagged(0xce, &(i as u32).to_be_bytes())
            } else {
                self.tagged(0xcf, &(i as u64).to_be_bytes())
            }
        } else if i >= -32 {
            self.put(&[i as i8 as u8])
        } else if i >= -128 {
            self.tagged(0xd0, &[i as i8 as u8])
        } else if i >= -32768 {
            self.tagged(0xd1, &(i as i16).to_be_bytes())
        } else if i >= -2_147_483_648 {
            self.tagged(0xd2, &(i as i32).to_be_bytes())
        } else {
            self.tagged(0xd3, &i.to_be_bytes())
        }
    }

    fn number(&mut self, d: f64) -> mlua::Result<()> {
        let i = to_integer(d);
        if d.is_finite() && i as f64 == d {
            return self.integer(i);
        }
        let f = d as f32;
        if f64::from(f) == d {
            self.tagged(0xca, &f.to_bits().to_be_bytes())
        } else {
            self.tagged(0xcb, &d.to_bits().to_be_bytes())
        }
    }

    fn bytes(&mut self, s: &[u8]) -> mlua::Result<()> {
        let n = s.len();
        if n < 32 {
            self.put(&[0xa0 | n as u8])?;
        } else if n <= 0xff {
            self.tagged(0xd9, &[n as u8])?;
        } else if n <= 0xffff {
            self.tagged(0xda, &(n as u16).to_be_bytes())?;
        } else {
            self.tagged(0xdb, &(n as u32).to_be_bytes())?;
        }
        self.put(s)
    }

    /// A container header: `fix` is the fix-form base (0x90 / 0x80),
    /// `wide` the 16-bit form's tag (its 32-bit form follows it).
    fn header(&mut self, fix: u8, wide: u8, n: usize) -> mlua::Result<()> {
        if n < 16 {
            self.put(&[fix | n as u8])
        } else if n <= 0xffff {
            self.tagged(wide, &(n as u16).to_be_bytes())
        } else {
            self.tagged(wide + 1, &(n as u32).to_be_bytes())
        }
    }

    fn value(&mut self, v: &Value, level: usize) -> mlua::Result<()> {
        match v {
            Value::Boolean(b) => self.put(&[if *b { 0xc3 } else { 0xc2 }]),
            Value::Integer(i) => self.number(*i as f64),
            Value::Number(d) => self.number(*d),
            Value::String(s) => self.bytes(&s.as_bytes()),
            Value::Table(t) if level < MAX_NESTING => self.table(t, level),
            _ => self.put(&[0xc0]),
        }
    }

    fn table(&mut self, t: &Table, level: usize) -> mlua::Result<()> {
        let (count, array) = shape(t)?;
        if array {
            self.header(0x90, 0xdc, count)?;
            for i in 1..=count {
                let v = match t.raw_get(i)? {
                    // Possibly a number below 2^-52 (see `fix_zero`).
                    Value::Integer(0) => fix_zero(Value::Integer(0), t.raw_get(i).ok().flatten()),
                    v => v,
                };
                self.value(&v, level + 1)?;
            }
            return Ok(());
        }
        self.header(0x80, 0xde, count)?;
        let mut exact: Option<Vec<(Option<f64>, Option<f64>)>> = None;
        let mut i = 0usize;
        t.for_each(|k: Value, v: Value| {
            let (k, v) = if matches!(k, Value::Integer(0)) || matches!(v, Value::Integer(0)) {
                if exact.is_none() {
                    exact = Some(exact_numbers(t)?);
                }
                let (ek, ev) = exact
                    .as_ref()
                    .and_then(|e| e.get(i).copied())
                    .unwrap_or((None, None));
                (fix_zero(k, ek), fix_zero(v, ev))
            } else {
                (k, v)
            };
            i += 1;
            self.value(&k, level + 1)?;
            self.value(&v, level + 1)
        })
    }
}

/// A number mlua handed over as `Integer(0)`, given its exact value `d`:
/// mlua turns numbers below 2^-52 in magnitude into the integer 0.
fn fix_zero(v: Value, d: Option<f64>) -> Value {
    match (v, d) {
        (Value::Integer(0), Some(d)) => Value::Number(d),
        (v, _) => v,
    }
}

/// The exact numeric value of every key and value of `t`, in `next`
/// order (`f64` reads numbers straight from the Lua stack). Only entries
/// already known to be numbers may be looked up here: numeric strings
/// convert too.
fn exact_numbers(t: &Table) -> mlua::Result<Vec<(Option<f64>, Option<f64>)>> {
    let mut out = Vec::new();
    t.for_each(|k: Either<f64, Value>, v: Either<f64, Value>| {
        out.push((k.left(), v.left()));
        Ok(())
    })?;
    Ok(out)
}

/// The number of entries of `t`, and whether its keys are exactly the
/// integers 1..n (each representable as a C `int`). `for_each` keeps the
/// key on the Lua stack, so even keys mlua cannot represent iterate.
fn shape(t: &Table) -> mlua::Result<(usize, bool)> {
    let mut count = 0usize;
    let mut max = 0usize;
    let mut array = true;
    t.for_each(|k: Value, _: Value| {
        count += 1;
        if array {
            let d = match k {
                Value::Integer(i) => i as f64,
                Value::Number(d) => d,
                _ => f64::NAN,
            };
            if d > 0.0 && d < 2_147_483_648.0 && d.trunc() == d {
                max = max.max(d as usize);
            } else {
                array = false;
            }
        }
        Ok(())
    })?;
    Ok((count, array && max == count))
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    if args.is_empty() {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    // Upstream's `lua_checkstack(L, nargs)`.
    if 2 * args.len() as i64 > MAX_C_STACK {
        return Err(arg_error(
            lua,
            0,
            "Too many arguments for MessagePack pack.",
        ));
    }
    let mut enc = Encoder {
        buf: Vec::new(),
        max: MAX_OUTPUT,
    };
    for v in args.iter() {
        enc.value(v, 0)?;
    }
    lua.create_string(&enc.buf)
}

// ---------------------------------------------------------------------------
// Decoding

/// Why decoding stopped.
enum Fail {
    /// Truncated input.
    Eof,
    /// A type byte this library does not decode.
    BadFormat,
    /// Out of (modelled) C stack: `stack overflow (<what>)`.
    Stack(&'static str),
    /// An error raised without position (`table index is nil`).
    Raw(&'static str),
    /// A Lua API error.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Fail {
        Fail::Lua(e)
    }
}

/// Where a map's pending key is.
enum Key {
    /// The key has not been decoded yet.
    Absent,
    /// Decoded and held here (strings and tables: innermost container
    /// only).
    Held(Value),
    /// Decoded and parked in the stash while a nested value is decoded.
    Parked,
}

/// A container being filled.
struct Open {
    map: bool,
    /// Elements (array) or pairs (map) still to come.
    left: u64,
    /// Next array index.
    index: u64,
    key: Key,
    /// C stack slots in use upstream once the table is pushed.
    used: i64,
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    /// Open containers, outermost first.
    open: Vec<Open>,
    /// The innermost open container's table.
    cur: Option<Table>,
    /// Lua table parking the outer containers (slot `2d+1`) and their
    /// pending keys (slot `2d+2`), so that only a few references are live.
    stash: Option<Table>,
}

impl<'a> Decoder<'a> {
    fn left(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// `mp_cur_need`: `n` more bytes must be there.
    fn need(&self, n: u64) -> Result<(), Fail> {
        if (self.left() as u64) < n {
            Err(Fail::Eof)
        } else {
            Ok(())
        }
    }

    /// The `n` bytes after the type byte (their presence checked).
    fn body<const N: usize>(&self) -> Result<[u8; N], Fail> {
        self.need(1 + N as u64)?;
        let mut out = [0u8; N];
        let start = self.pos + 1;
        if let Some(src) = self.data.get(start..start + N) {
            out.copy_from_slice(src);
        }
        Ok(out)
    }

    fn stash(&mut self) -> mlua::Result<Table> {
        if let Some(t) = &self.stash {
            return Ok(t.clone());
        }
        let t = self.lua.create_table()?;
        self.stash = Some(t.clone());
        Ok(t)
    }

    /// Decodes one complete value; `used` is the C stack slots upstream has
    /// in use when it starts.
    fn value(&mut self, used: i64) -> Result<Value, Fail> {
        loop {
            let used = match self.open.last() {
                None => used,
                Some(o) => o.used + i64::from(!o.map || !matches!(o.key, Key::Absent)),
            };
            if let Some(v) = self.item(used)? {
                if let Some(done) = self.deliver(v)? {
                    return Ok(done);
                }
            }
        }
    }

    /// Decodes a scalar (or empty container) into `Some`, or opens a
    /// container and returns `None`.
    fn item(&mut self, used: i64) -> Result<Option<Value>, Fail> {
        self.need(1)?;
        if used + 1 > MAX_C_STACK {
            return Err(Fail::Stack(TOO_MANY));
        }
        let tag = self.data.get(self.pos).copied().unwrap_or(0xc1);
        let (v, size) = match tag {
            0x00..=0x7f => (Value::Number(f64::from(tag)), 1),
            0xe0..=0xff => (Value::Number(f64::from(tag as i8)), 1),
            0xc0 => (Value::Nil, 1),
            0xc2 => (Value::Boolean(false), 1),
            0xc3 => (Value::Boolean(true), 1),
            0xcc => (Value::Number(f64::from(self.body::<1>()?[0])), 2),
            0xcd => (
                Value::Number(f64::from(u16::from_be_bytes(self.body()?))),
                3,
            ),
            0xce => (
                Value::Number(f64::from(u32::from_be_bytes(self.body()?))),
                5,
            ),
            0xcf => (
                Value::Number(u64::from_be_bytes(self.body()?) as i64 as f64),
                9,
            ),
            0xd0 => (Value::Number(f64::from(self.body::<1>()?[0] as i8)), 2),
            0xd1 => (
                Value::Number(f64::from(i16::from_be_bytes(self.body()?))),
                3,
            ),
            0xd2 => (
                Value::Number(f64::from(i32::from_be_bytes(self.body()?))),
                5,
            ),
            0xd3 => (Value::Number(i64::from_be_bytes(self.body()?) as f64), 9),
            0xca => (
                Value::Number(f64::from(f32::from_bits(u32::from_be_bytes(self.body()?)))),
                5,
            ),
            0xcb => (
                Value::Number(f64::from_bits(u64::from_be_bytes(self.body()?))),
                9,
            ),
            0xa0..=0xbf => return self.string(1, u64::from(tag & 0x1f)).map(Some),
            0xd9 => {
                let n = self.body::<1>()?[0];
                return self.string(2, u64::from(n)).map(Some);
            }
            0xda => {
                let n = u16::from_be_bytes(self.body()?);
                return self.string(3, u64::from(n)).map(Some);
            }
            0xdb => {
                let n = u32::from_be_bytes(self.body()?);
                return self.string(5, u64::from(n)).map(Some);
            }
            0x90..=0x9f => return self.container(false, 1, u64::from(tag & 0x0f), used),
            0xdc => {
                let n = u16::from_be_bytes(self.body()?);
                return self.container(false, 3, u64::from(n), used);
            }
            0xdd => {
                let n = u32::from_be_bytes(self.body()?);
                return self.container(false, 5, u64::from(n), used);
            }
            0x80..=0x8f => return self.container(true, 1, u64::from(tag & 0x0f), used),
            0xde => {
                let n = u16::from_be_bytes(self.body()?);
                return self.container(true, 3, u64::from(n), used);
            }
            0xdf => {
                let n = u32::from_be_bytes(self.body()?);
                return self.container(true, 5, u64::from(n), used);
            }
            // c1 (never used), bin 8/16/32, ext 8/16/32, fixext 1..16.
            _ => return Err(Fail::BadFormat),
        };
        self.pos += size;
        Ok(Some(v))
    }

    fn string(&mut self, header: usize, len: u64) -> Result<Value, Fail> {
        self.need(header as u64 + len)?;
        let start = self.pos + header;
        let end = start + len as usize;
        let bytes = self.data.get(start..end).unwrap_or_default();
        let s = self.lua.create_string(bytes)?;
        self.pos = end;
        Ok(Value::String(s))
    }

    fn container(
        &mut self,
        map: bool,
        header: usize,
        n: u64,
        used: i64,
    ) -> Result<Option<Value>, Fail> {
        self.pos += header;
        let t = self.lua.create_table()?;
        // Upstream checks for the index slot once the table is pushed.
        if !map && used + 2 > MAX_C_STACK {
            return Err(Fail::Stack("in function mp_decode_to_lua_array"));
        }
        if n == 0 {
            return Ok(Some(Value::Table(t)));
        }
        if let Some(cur) = self.cur.take() {
            let depth = self.open.len() as u64;
            let stash = self.stash()?;
            stash.raw_set((2 * depth).saturating_sub(1), cur)?;
            if let Some(o) = self.open.last_mut() {
                // Only strings and tables hold references (and reading a
                // number back through mlua could round it).
                if let Key::Held(k @ (Value::String(_) | Value::Table(_))) = &o.key {
                    stash.raw_set(2 * depth, k.clone())?;
                    o.key = Key::Parked;
                }
            }
        }
        self.open.push(Open {
            map,
            left: n,
            index: 1,
            key: Key::Absent,
            used: used + 1,
        });
        self.cur = Some(t);
        Ok(None)
    }

    /// Stores a finished value into the open containers, closing those it
    /// completes; returns the value once nothing is open.
    fn deliver(&mut self, v: Value) -> Result<Option<Value>, Fail> {
        let mut v = v;
        loop {
            let depth = self.open.len() as u64;
            let Some(o) = self.open.last_mut() else {
                return Ok(Some(v));
            };
            let Some(cur) = self.cur.clone() else {
                return Err(Fail::Lua(mlua::Error::runtime("cmsgpack: lost container")));
            };
            if !o.map {
                cur.raw_set(o.index as f64, v)?;
                o.index += 1;
            } else {
                let k = match std::mem::replace(&mut o.key, Key::Absent) {
                    Key::Absent => {
                        o.key = Key::Held(v);
                        return Ok(None);
                    }
                    Key::Held(k) => k,
                    Key::Parked => {
                        let Some(stash) = &self.stash else {
                            return Err(Fail::Lua(mlua::Error::runtime("cmsgpack: lost key")));
                        };
                        let k: Value = stash.raw_get(2 * depth)?;
                        stash.raw_set(2 * depth, Value::Nil)?;
                        k
                    }
                };
                match k {
                    Value::Nil => return Err(Fail::Raw("table index is nil")),
                    Value::Number(d) if d.is_nan() => return Err(Fail::Raw("table index is NaN")),
                    _ => {}
                }
                cur.raw_set(k, v)?;
            }
            o.left -= 1;
            if o.left > 0 {
                return Ok(None);
            }
            self.open.pop();
            v = Value::Table(cur);
            self.cur = None;
            if depth > 1 {
                let stash = self.stash()?;
                let parent: Table = stash.raw_get(2 * depth - 3)?;
                stash.raw_set(2 * depth - 3, Value::Nil)?;
                self.cur = Some(parent);
            }
        }
    }
}

/// `mp_unpack_full`: decodes up to `limit` values from `offset` (all of
/// them when both are 0); `used` is the C stack slots upstream has in use
/// (its arguments).
fn unpack_full(
    lua: &Lua,
    s: &mlua::String,
    limit: i64,
    offset: i64,
    used: i64,
) -> mlua::Result<MultiValue> {
    let bytes = s.as_bytes();
    let len = bytes.len();
    let all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(raise_here(
            lua,
            &format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(raise_here(
            lua,
            &format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        ));
    }
    let mut dec = Decoder {
        lua,
        data: &bytes,
        pos: offset as usize,
        open: Vec::new(),
        cur: None,
        stash: None,
    };
    let reserve = i64::from(!all);
    let mut out: Vec<Value> = Vec::new();
    let mut refs = 0usize;
    let mut cnt: i64 = 0;
    while dec.left() > 0 && (all || cnt < limit) {
        if cnt + 1 + reserve > MAX_RESULTS {
            return Err(raise_here(lua, &format!("stack overflow ({TOO_MANY})")));
        }
        let v = match dec.value(used + cnt) {
            Ok(v) => v,
            Err(Fail::Eof) => return Err(raise_here(lua, "Missing bytes in input.")),
            Err(Fail::BadFormat) => return Err(raise_here(lua, "Bad data format in input.")),
            Err(Fail::Stack(what)) => {
                return Err(raise_here(lua, &format!("stack overflow ({what})")))
            }
            Err(Fail::Raw(msg)) => return Err(raw_error(msg)),
            Err(Fail::Lua(e)) => return Err(e),
        };
        if matches!(v, Value::String(_) | Value::Table(_)) {
            refs += 1;
            if refs > MAX_REF_RESULTS {
                return Err(raise_here(lua, &format!("stack overflow ({TOO_MANY})")));
            }
        }
        out.push(v);
        cnt += 1;
    }
    if !all {
        if used + cnt + 1 > MAX_C_STACK {
            return Err(raise_here(
                lua,
                "stack overflow (in function mp_unpack_full)",
            ));
        }
        let next = if dec.left() == 0 {
            -1.0
        } else {
            dec.pos as f64
        };
        out.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_iter(out))
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let s = check_string(lua, &args)?;
    unpack_full(lua, &s, 0, 0, args.len() as i64)
}

fn unpack_one(lua: &Lua, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let offset = opt_integer(lua, &args, 2)?;
    let s = check_string(lua, &args)?;
    unpack_full(lua, &s, 1, offset, 1)
}

fn unpack_limit(lua: &Lua, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let limit = check_integer(lua, &args, 2)?;
    let offset = opt_integer(lua, &args, 3)?;
    let s = check_string(lua, &args)?;
    unpack_full(lua, &s, limit, offset, 1)
}

#[cfg(test)]
#[path = "cmsgpack_tests.rs"]
mod tests;
