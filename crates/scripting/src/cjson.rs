//! The `cjson` library upstream bundles for scripts (lua-cjson 2.1.0 as
//! shipped with Redis 7.0), written from lua-cjson's manual and the
//! reference server's observable behaviour.
//!
//! # The table
//! [`create`] builds a table with `encode`, `decode`, `encode_sparse_array`,
//! `encode_max_depth`, `decode_max_depth`, `encode_number_precision`,
//! `encode_keep_buffer`, `encode_invalid_numbers`, `decode_invalid_numbers`,
//! `new`, `null`, `_NAME` (`"cjson"`) and `_VERSION` (`"2.1.0"`), inserted
//! in upstream's order so that `pairs` visits them in the same order. Each
//! table has its own configuration, shared by its functions (upstream keeps
//! it in their upvalue); `new()` returns a fresh table with the defaults.
//! `null` is a light userdata holding `NULL`, as upstream's: `decode`
//! returns it for JSON `null` and `encode` writes it as `null`.
//!
//! # Encoding
//! Numbers are formatted as C's `%.<precision>g` (default precision 14);
//! NaN and ±inf raise `Cannot serialise number: must not be NaN or Inf`
//! unless `encode_invalid_numbers` is `on` (`nan`, `inf`, `-inf`) or
//! `null` (`null`). Strings escape `"`, `\`, `/`, the control characters
//! (`\b \t \n \f \r`, others `\u00XX`) and DEL; other bytes are copied. A
//! table whose keys are all positive integers is an array of length `max`
//! unless it is excessively sparse (`encode_sparse_array`); any other table
//! (and `{}`) is an object visited in `next` order, number keys written as
//! quoted numbers. As upstream (where the largest key is kept in a C
//! `int`), a key of 2^31 or more counts as `INT_MIN`. Nesting is limited by
//! `encode_max_depth` and, like upstream, by the 8000 Lua stack slots a C
//! function may use (1 per array level, 2 per object level), so very deep
//! tables fail at the same depth as upstream. Cycles are caught by the same
//! limits.
//!
//! # Decoding
//! The input ends at its first NUL byte (upstream scans a C string); input
//! whose first or second byte is NUL is "JSON parser does not support
//! UTF-16 or UTF-32". Numbers are parsed as glibc's `strtod` does (so
//! `decode_invalid_numbers`, on by default, also admits hex, `inf`,
//! `infinity`, `nan`, a leading `+`); `\uXXXX` escapes (with surrogate
//! pairs) become UTF-8; nesting is limited by `decode_max_depth` and the
//! same 8000-slot accounting (1 per array, 2 per object, upstream checks for
//! 2 resp. 3 free slots). Errors carry upstream's token names and
//! positions. Decoding and encoding are iterative and keep only a few Lua
//! references alive whatever the nesting (mlua panics when its reference
//! stack runs out).
//!
//! # Errors
//! Every error is a Lua error carrying [`Raise::Message`] with upstream's
//! text, exactly as `luaL_error` builds it: the caller's position comes
//! first (`user_script:1: Cannot serialise function: type not supported`,
//! nothing when called through `pcall`), added here by [`raise_here`], so
//! nothing has to be prefixed by the caller. Argument errors are
//! `luaL_argerror`'s `bad argument #<n> to '<name>' (<msg>)` (`calling
//! '<name>' on bad self (<msg>)` for method calls). Output beyond 512 MiB
//! raises `not enough memory` without position (upstream would abort).
//!
//! # Known differences
//! - mlua hands a Lua number in (-2.2e-16, 2.2e-16) to a Rust function as
//!   integer 0, so `cjson.encode(-0)` gives `0` (upstream `-0`) and
//!   `cjson.encode(1e-20)` gives `0`; `cjson.decode(-0)` (a number where a
//!   string is expected) likewise decodes `"0"`. Numbers inside tables are
//!   read exactly (through `f64`) and encode as upstream. The argument
//!   itself cannot be read that way without losing the difference between
//!   `encode()` and `encode(nil)`, which matters more.
//! - `encode_keep_buffer` is kept and reported but changes nothing
//!   observable (upstream it only decides whether a buffer is reused).
//!
//! Object key order is not a difference: it is `next` order, and this
//! interpreter builds and hashes tables as upstream's Lua 5.1.5 does (the
//! reference cases in the tests compare whole encoded objects).

use std::sync::{Arc, Mutex, PoisonError};

use mlua::{Either, FromLua, IntoLua, LightUserData, Lua, MultiValue, Table, Value};

use crate::redislib::{raise_here, Raise};

/// Lua 5.1's `LUAI_MAXCSTACK`: stack slots a C function may use.
const MAX_C_STACK: usize = 8000;
/// Encoded output beyond this raises `not enough memory`.
const MAX_OUTPUT: usize = 512 << 20;

/// One table's settings (upstream's `json_config_t`).
#[derive(Debug, Clone, Copy)]
struct Config {
    encode_sparse_convert: bool,
    encode_sparse_ratio: i32,
    encode_sparse_safe: i32,
    encode_max_depth: i32,
    /// 0 `off`, 1 `on`, 2 `null`.
    encode_invalid_numbers: usize,
    encode_number_precision: i32,
    encode_keep_buffer: bool,
    decode_invalid_numbers: bool,
    decode_max_depth: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            encode_sparse_convert: false,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            decode_invalid_numbers: true,
            decode_max_depth: 1000,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn load(cfg: &Shared) -> Config {
    *cfg.lock().unwrap_or_else(PoisonError::into_inner)
}

fn store(cfg: &Shared, c: Config) {
    *cfg.lock().unwrap_or_else(PoisonError::into_inner) = c;
}

/// Builds the `cjson` table (see the module documentation).
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    type Func = fn(&Lua, &Shared, MultiValue) -> mlua::Result<MultiValue>;
    let funcs: [(&str, Func); 9] = [
        ("encode", encode_fn),
        ("decode", decode_fn),
        ("encode_sparse_array", encode_sparse_array),
        ("encode_max_depth", encode_max_depth),
        ("decode_max_depth", decode_max_depth),
        ("encode_number_precision", encode_number_precision),
        ("encode_keep_buffer", encode_keep_buffer),
        ("encode_invalid_numbers", encode_invalid_numbers),
        ("decode_invalid_numbers", decode_invalid_numbers),
    ];
    for (name, f) in funcs {
        let cfg = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| f(lua, &cfg, args))?,
        )?;
    }
    t.raw_set(
        "new",
        lua.create_function(|lua, _: MultiValue| create(lua))?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `cjson.null`: a light userdata holding `NULL`.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

// ---------------------------------------------------------------------------
// Errors and argument checks

/// An error raised without position, as from inside the Lua core.
fn raw_error(msg: &str) -> mlua::Error {
    mlua::Error::external(Raise::Message(msg.to_string()))
}

/// `luaL_argerror(L, narg, msg)`, including its method-call adjustment.
fn arg_error(lua: &Lua, narg: usize, msg: &str) -> mlua::Error {
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

/// `lua_typename` of a value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// The arguments of an option function, padded with `nil` to `n` (upstream's
/// `json_arg_init`).
fn option_args(lua: &Lua, args: MultiValue, n: usize) -> mlua::Result<Vec<Value>> {
    if args.len() > n {
        return Err(arg_error(lua, n + 1, "found too many arguments"));
    }
    let mut v: Vec<Value> = args.into_iter().collect();
    v.resize(n, Value::Nil);
    Ok(v)
}

/// `(lua_Integer)d` as x86-64 computes it: out of range and NaN give the
/// "integer indefinite" value.
fn to_lua_integer(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// `(int)d` as x86-64 computes it (`cvttsd2si` to 32 bits).
fn to_c_int(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// `luaL_checkinteger` of argument `i`.
fn check_integer(lua: &Lua, v: &Value, i: usize) -> mlua::Result<i64> {
    match v {
        Value::Integer(n) => return Ok(*n),
        Value::Number(n) => return Ok(to_lua_integer(*n)),
        Value::String(_) => {
            if let Some(n) = lua.coerce_number(v.clone())? {
                return Ok(to_lua_integer(n));
            }
        }
        _ => {}
    }
    Err(arg_error(
        lua,
        i,
        &format!("number expected, got {}", type_name(v)),
    ))
}

/// `json_integer_option`: sets `setting` from argument `i` unless it is
/// `nil` (upstream reports a bad range as argument #1 whatever `i` is).
fn integer_option(
    lua: &Lua,
    args: &[Value],
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<()> {
    let v = args.get(i - 1).unwrap_or(&Value::Nil);
    if !v.is_nil() {
        // `int value = luaL_checkinteger(...)` keeps the low 32 bits.
        let value = check_integer(lua, v, i)? as i32;
        if value < min || value > max {
            return Err(arg_error(
                lua,
                1,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(())
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// `json_enum_option`: booleans, or one of `options` by name (index into
/// `options`).
fn enum_option(
    lua: &Lua,
    args: &[Value],
    i: usize,
    setting: &mut usize,
    options: &[&str],
) -> mlua::Result<()> {
    let v = args.get(i - 1).unwrap_or(&Value::Nil);
    match v {
        Value::Nil => {}
        Value::Boolean(b) => *setting = usize::from(*b),
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            let s = match lua.coerce_string(v.clone())? {
                Some(s) => s.as_bytes().to_vec(),
                None => Vec::new(),
            };
            // `luaL_checkoption` compares C strings.
            let s = match s.iter().position(|&b| b == 0) {
                Some(n) => &s[..n],
                None => &s[..],
            };
            match options.iter().position(|o| o.as_bytes() == s) {
                Some(n) => *setting = n,
                None => {
                    return Err(arg_error(
                        lua,
                        i,
                        &format!("invalid option '{}'", String::from_utf8_lossy(s)),
                    ))
                }
            }
        }
        _ => {
            return Err(arg_error(
                lua,
                i,
                &format!("string expected, got {}", type_name(v)),
            ))
        }
    }
    Ok(())
}

/// What an enum option returns: a boolean for `off`/`on`, else its name.
fn enum_value(lua: &Lua, setting: usize, options: &[&str]) -> mlua::Result<Value> {
    if setting < 2 {
        Ok(Value::Boolean(setting == 1))
    } else {
        Ok(Value::String(lua.create_string(
            options.get(setting).copied().unwrap_or("?"),
        )?))
    }
}

/// Runs `f` on a copy of the configuration and stores whatever it changed,
/// also when it fails half-way (upstream sets options one by one).
fn configure(
    cfg: &Shared,
    f: impl FnOnce(&mut Config) -> mlua::Result<MultiValue>,
) -> mlua::Result<MultiValue> {
    let mut c = load(cfg);
    let r = f(&mut c);
    store(cfg, c);
    r
}

fn encode_sparse_array(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    let args = option_args(lua, args, 3)?;
    configure(cfg, |c| {
        let mut convert = usize::from(c.encode_sparse_convert);
        enum_option(lua, &args, 1, &mut convert, BOOL_OPTIONS)?;
        c.encode_sparse_convert = convert == 1;
        integer_option(lua, &args, 2, &mut c.encode_sparse_ratio, 0, i32::MAX)?;
        integer_option(lua, &args, 3, &mut c.encode_sparse_safe, 0, i32::MAX)?;
        Ok(MultiValue::from_iter([
            Value::Boolean(c.encode_sparse_convert),
            Value::Integer(c.encode_sparse_ratio.into()),
            Value::Integer(c.encode_sparse_safe.into()),
        ]))
    })
}

fn int_setting(
    lua: &Lua,
    cfg: &Shared,
    args: MultiValue,
    field: fn(&mut Config) -> &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<MultiValue> {
    let args = option_args(lua, args, 1)?;
    configure(cfg, |c| {
        let setting = field(c);
        integer_option(lua, &args, 1, setting, min, max)?;
        Ok(MultiValue::from_iter([Value::Integer((*setting).into())]))
    })
}

fn encode_max_depth(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    int_setting(lua, cfg, args, |c| &mut c.encode_max_depth, 1, i32::MAX)
}

fn decode_max_depth(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    int_setting(lua, cfg, args, |c| &mut c.decode_max_depth, 1, i32::MAX)
}

fn encode_number_precision(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    int_setting(lua, cfg, args, |c| &mut c.encode_number_precision, 1, 14)
}

fn bool_setting(
    lua: &Lua,
    cfg: &Shared,
    args: MultiValue,
    field: fn(&mut Config) -> &mut bool,
) -> mlua::Result<MultiValue> {
    let args = option_args(lua, args, 1)?;
    configure(cfg, |c| {
        let setting = field(c);
        let mut v = usize::from(*setting);
        enum_option(lua, &args, 1, &mut v, BOOL_OPTIONS)?;
        *setting = v == 1;
        Ok(MultiValue::from_iter([Value::Boolean(*setting)]))
    })
}

fn encode_keep_buffer(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    bool_setting(lua, cfg, args, |c| &mut c.encode_keep_buffer)
}

fn decode_invalid_numbers(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    bool_setting(lua, cfg, args, |c| &mut c.decode_invalid_numbers)
}

const INVALID_NUMBER_OPTIONS: &[&str] = &["off", "on", "null"];

fn encode_invalid_numbers(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    let args = option_args(lua, args, 1)?;
    configure(cfg, |c| {
        enum_option(
            lua,
            &args,
            1,
            &mut c.encode_invalid_numbers,
            INVALID_NUMBER_OPTIONS,
        )?;
        Ok(MultiValue::from_iter([enum_value(
            lua,
            c.encode_invalid_numbers,
            INVALID_NUMBER_OPTIONS,
        )?]))
    })
}

// ---------------------------------------------------------------------------
// Exact reads of Lua values

/// Any value but a number. Reading a slot as `Either<NotNumber, f64>` gets
/// numbers through `f64`, which keeps them exact (mlua's generic `Value`
/// conversion turns `-0` and numbers in (-2.2e-16, 2.2e-16) into integer 0).
struct NotNumber(Value);

impl FromLua for NotNumber {
    fn from_lua(value: Value, _: &Lua) -> mlua::Result<NotNumber> {
        match value {
            Value::Integer(_) | Value::Number(_) => Err(mlua::Error::UserDataTypeMismatch),
            v => Ok(NotNumber(v)),
        }
    }
}

impl IntoLua for NotNumber {
    fn into_lua(self, _: &Lua) -> mlua::Result<Value> {
        Ok(self.0)
    }
}

type Exact = Either<NotNumber, f64>;

/// A value to encode: a number (exact) or anything else.
enum Item {
    Num(f64),
    Other(Value),
}

impl From<Exact> for Item {
    fn from(e: Exact) -> Item {
        match e {
            Either::Left(NotNumber(v)) => Item::from(v),
            Either::Right(n) => Item::Num(n),
        }
    }
}

impl From<Value> for Item {
    fn from(v: Value) -> Item {
        match v {
            Value::Integer(n) => Item::Num(n as f64),
            Value::Number(n) => Item::Num(n),
            v => Item::Other(v),
        }
    }
}

// ---------------------------------------------------------------------------
// Number formatting and parsing

/// C's `printf("%.<prec>g", x)` for finite and infinite `x` (NaN gives
/// `nan`, as lua-cjson writes it). Also the Lua debugger's `%g`.
pub(crate) fn format_g(x: f64, prec: usize) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let p = prec.max(1);
    let e = format!("{:.*e}", p - 1, x);
    let (mant, exp) = match e.split_once('e') {
        Some((m, x)) => (m, x.parse::<i32>().unwrap_or(0)),
        None => (e.as_str(), 0),
    };
    let neg = mant.starts_with('-');
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let mut out = String::with_capacity(p + 8);
    if neg {
        out.push('-');
    }
    let push_frac = |out: &mut String, frac: &[u8]| {
        let end = frac.iter().rposition(|&d| d != b'0').map_or(0, |n| n + 1);
        if end > 0 {
            out.push('.');
            out.extend(frac[..end].iter().map(|&d| char::from(d)));
        }
    };
    if exp < -4 || exp >= p as i32 {
        out.push(char::from(digits.first().copied().unwrap_or(b'0')));
        push_frac(&mut out, digits.get(1..).unwrap_or(&[]));
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp >= 0 {
        let split = (exp as usize + 1).min(digits.len());
        out.extend(digits[..split].iter().map(|&d| char::from(d)));
        push_frac(&mut out, &digits[split..]);
    } else {
        let mut frac = vec![b'0'; (-exp - 1) as usize];
        frac.extend_from_slice(&digits);
        out.push('0');
        push_frac(&mut out, &frac);
    }
    out
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn hex_digit(c: Option<&u8>) -> Option<u64> {
    c.and_then(|&c| char::from(c).to_digit(16)).map(u64::from)
}

/// `m * 2^e` (plus a sticky fraction below `m`'s last bit) rounded to the
/// nearest double, ties to even.
fn compose_binary(m: u64, e: i64, sticky: bool) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let lz = m.leading_zeros();
    let m = u128::from(m << lz);
    let mut exp = e - i64::from(lz) + 63;
    if exp > 1023 {
        return f64::INFINITY;
    }
    let shift: i64 = if exp >= -1022 { 11 } else { 11 + (-1022 - exp) };
    if shift > 64 {
        return 0.0;
    }
    let shift = shift as u32;
    let mut q = m >> shift;
    let r = m & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if r > half || (r == half && (sticky || q & 1 == 1)) {
        q += 1;
    }
    if exp >= -1022 {
        if q == 1u128 << 53 {
            q >>= 1;
            exp += 1;
            if exp > 1023 {
                return f64::INFINITY;
            }
        }
        let bits = (((exp + 1023) as u64) << 52) | ((q as u64) & ((1u64 << 52) - 1));
        f64::from_bits(bits)
    } else {
        f64::from_bits(q as u64)
    }
}

/// glibc's hexadecimal `strtod` body after `0x`: the value and the bytes
/// used, or `None` without a hex digit.
fn parse_hex(s: &[u8]) -> Option<(f64, usize)> {
    let mut m: u64 = 0;
    let mut e: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut j = 0;
    while let Some(d) = hex_digit(s.get(j)) {
        any = true;
        if m >> 60 == 0 {
            m = m * 16 + d;
        } else {
            e += 4;
            sticky |= d != 0;
        }
        j += 1;
    }
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        let mut frac = false;
        while let Some(d) = hex_digit(s.get(k)) {
            frac = true;
            if m >> 60 == 0 {
                m = m * 16 + d;
                e -= 4;
            } else {
                sticky |= d != 0;
            }
            k += 1;
        }
        if any || frac {
            any = true;
            j = k;
        }
    }
    if !any {
        return None;
    }
    if matches!(s.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            let mut x: i64 = 0;
            while let Some(&c) = s.get(k).filter(|c| c.is_ascii_digit()) {
                x = (x * 10 + i64::from(c - b'0')).min(1 << 40);
                k += 1;
            }
            e += if neg { -x } else { x };
            j = k;
        }
    }
    Some((compose_binary(m, e, sticky), j))
}

/// glibc's `strtod` (C locale) at the start of `s`: the value and the bytes
/// it used, or `None` when no conversion could be done.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let (neg, i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let rest = &s[i..];
    let sign = |v: f64| if neg { -v } else { v };
    if starts_with_ignore_case(rest, b"inf") {
        let n = if starts_with_ignore_case(&rest[3..], b"inity") {
            8
        } else {
            3
        };
        return Some((sign(f64::INFINITY), i + n));
    }
    if starts_with_ignore_case(rest, b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let mut j = 4;
            while rest
                .get(j)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                j += 1;
            }
            if rest.get(j) == Some(&b')') {
                n = j + 1;
            }
        }
        return Some((sign(f64::NAN), i + n));
    }
    if rest.first() == Some(&b'0') && matches!(rest.get(1), Some(b'x' | b'X')) {
        if let Some((v, n)) = parse_hex(&rest[2..]) {
            return Some((sign(v), i + 2 + n));
        }
    }
    let digits = |from: usize| {
        rest.get(from..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    let int = digits(0);
    let mut j = int;
    if rest.get(j) == Some(&b'.') {
        let frac = digits(j + 1);
        if int + frac > 0 {
            j += 1 + frac;
        }
    }
    if j == 0 {
        return None;
    }
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let n = digits(k);
        if n > 0 {
            j = k + n;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).ok()?;
    let v = text.parse::<f64>().ok()?;
    Some((sign(v), i + j))
}

// ---------------------------------------------------------------------------
// Encoding

fn encode_fn(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let value = args.into_iter().next().unwrap_or(Value::Nil);
    let out = Encoder {
        lua,
        cfg: load(cfg),
        out: Vec::new(),
        frames: Vec::new(),
        slots: 1,
        ancestors: None,
        current: None,
    }
    .run(Item::from(value))?;
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(&out)?,
    )]))
}

/// A table being encoded.
enum EncodeFrame {
    /// Elements `next..=len` are still to be written.
    Array { len: i64, next: i64 },
    /// A snapshot of the last `n` key/value pairs (keys at odd, values at
    /// even indices), of which `next..n` are still to be written; `comma`
    /// once a pair has been written.
    Object { n: i64, next: i64, comma: bool },
}

impl EncodeFrame {
    /// Lua stack slots upstream holds for this level.
    fn slots(&self) -> usize {
        match self {
            EncodeFrame::Array { .. } => 1,
            EncodeFrame::Object { .. } => 2,
        }
    }
}

struct Encoder<'l> {
    lua: &'l Lua,
    cfg: Config,
    out: Vec<u8>,
    frames: Vec<EncodeFrame>,
    /// Lua stack slots upstream would be using (the argument, then each
    /// open level).
    slots: usize,
    /// Lua table holding the tables of the open levels but the innermost,
    /// by depth (so that the number of live references stays small).
    ancestors: Option<Table>,
    /// The table of the innermost open level.
    current: Option<Table>,
}

enum Step {
    Element(i64),
    Pair(i64, bool),
    Close(u8),
}

impl Encoder<'_> {
    fn run(mut self, top: Item) -> mlua::Result<Vec<u8>> {
        self.value(top)?;
        loop {
            let step = match self.frames.last_mut() {
                None => break,
                Some(EncodeFrame::Array { len, next }) => {
                    if *next <= *len {
                        *next += 1;
                        Step::Element(*next - 1)
                    } else {
                        Step::Close(b']')
                    }
                }
                Some(EncodeFrame::Object { n, next, comma }) => {
                    if *next < *n {
                        *next += 1;
                        Step::Pair(*next - 1, std::mem::replace(comma, true))
                    } else {
                        Step::Close(b'}')
                    }
                }
            };
            match step {
                Step::Element(i) => {
                    if i > 1 {
                        self.out.push(b',');
                    }
                    let v: Exact = self.current()?.raw_get(i)?;
                    self.value(Item::from(v))?;
                }
                Step::Pair(i, comma) => {
                    if comma {
                        self.out.push(b',');
                    }
                    let t = self.current()?;
                    let k: Exact = t.raw_get(2 * i + 1)?;
                    let v: Exact = t.raw_get(2 * i + 2)?;
                    self.key(Item::from(k))?;
                    self.value(Item::from(v))?;
                }
                Step::Close(c) => {
                    self.out.push(c);
                    self.close()?;
                }
            }
            if self.out.len() > MAX_OUTPUT {
                return Err(raw_error("not enough memory"));
            }
        }
        Ok(self.out)
    }

    fn current(&self) -> mlua::Result<Table> {
        match &self.current {
            Some(t) => Ok(t.clone()),
            None => Err(mlua::Error::runtime("cjson: no open table")),
        }
    }

    /// `json_encode_exception`.
    fn fail(&self, type_name: &str, reason: &str) -> mlua::Error {
        raise_here(self.lua, &format!("Cannot serialise {type_name}: {reason}"))
    }

    fn value(&mut self, item: Item) -> mlua::Result<()> {
        match item {
            Item::Num(n) => self.number(n),
            Item::Other(v) => match v {
                Value::Nil => {
                    self.out.extend_from_slice(b"null");
                    Ok(())
                }
                Value::Boolean(b) => {
                    self.out
                        .extend_from_slice(if b { &b"true"[..] } else { &b"false"[..] });
                    Ok(())
                }
                Value::String(s) => {
                    self.string(&s.as_bytes());
                    Ok(())
                }
                Value::LightUserData(p) if p.0.is_null() => {
                    self.out.extend_from_slice(b"null");
                    Ok(())
                }
                Value::Table(t) => self.open(t),
                Value::Integer(n) => self.number(n as f64),
                Value::Number(n) => self.number(n),
                other => Err(self.fail(type_name(&other), "type not supported")),
            },
        }
    }

    fn key(&mut self, item: Item) -> mlua::Result<()> {
        match item {
            Item::Num(n) => {
                self.out.push(b'"');
                self.number(n)?;
                self.out.extend_from_slice(b"\":");
                Ok(())
            }
            Item::Other(Value::String(s)) => {
                self.string(&s.as_bytes());
                self.out.push(b':');
                Ok(())
            }
            Item::Other(other) => {
                Err(self.fail(type_name(&other), "table key must be a number or string"))
            }
        }
    }

    fn number(&mut self, n: f64) -> mlua::Result<()> {
        if !n.is_finite() {
            match self.cfg.encode_invalid_numbers {
                0 => return Err(self.fail("number", "must not be NaN or Inf")),
                1 => {}
                _ => {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        let prec = usize::try_from(self.cfg.encode_number_precision).unwrap_or(14);
        self.out.extend_from_slice(format_g(n, prec).as_bytes());
        Ok(())
    }

    fn string(&mut self, s: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &c in s {
            let esc: &[u8] = match c {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'/' => b"\\/",
                8 => b"\\b",
                9 => b"\\t",
                10 => b"\\n",
                12 => b"\\f",
                13 => b"\\r",
                0..=0x1f | 0x7f => {
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(c >> 4)]);
                    self.out.push(HEX[usize::from(c & 15)]);
                    continue;
                }
                _ => {
                    self.out.push(c);
                    continue;
                }
            };
            self.out.extend_from_slice(esc);
        }
        self.out.push(b'"');
    }

    /// Starts a table: upstream's depth and stack check, then array or
    /// object.
    fn open(&mut self, t: Table) -> mlua::Result<()> {
        let depth = self.frames.len() + 1;
        let max = usize::try_from(self.cfg.encode_max_depth).unwrap_or(0);
        if depth > max || self.slots + 3 > MAX_C_STACK {
            return Err(raise_here(
                self.lua,
                &format!("Cannot serialise, excessive nesting ({depth})"),
            ));
        }
        let len = self.array_length(&t)?;
        let (frame, table) = if len > 0 {
            self.out.push(b'[');
            (
                EncodeFrame::Array {
                    len: i64::from(len),
                    next: 1,
                },
                t,
            )
        } else {
            self.out.push(b'{');
            match self.object_start(&t)? {
                (Some(snapshot), n, comma) => (EncodeFrame::Object { n, next: 0, comma }, snapshot),
                (None, _, _) => {
                    self.out.push(b'}');
                    return Ok(());
                }
            }
        };
        if let Some(parent) = self.current.take() {
            let ancestors = match &self.ancestors {
                Some(a) => a.clone(),
                None => {
                    let a = self.lua.create_table()?;
                    self.ancestors = Some(a.clone());
                    a
                }
            };
            ancestors.raw_set(self.frames.len() as i64, parent)?;
        }
        self.slots += frame.slots();
        self.frames.push(frame);
        self.current = Some(table);
        Ok(())
    }

    fn close(&mut self) -> mlua::Result<()> {
        if let Some(f) = self.frames.pop() {
            self.slots -= f.slots();
        }
        self.current = match (&self.ancestors, self.frames.len()) {
            (_, 0) => None,
            (Some(a), n) => Some(a.raw_get(n as i64)?),
            (None, _) => None,
        };
        Ok(())
    }

    /// `lua_array_length`: the largest key when every key is a positive
    /// integer (kept in a C `int`), -1 (or 0) for an object; raises on an
    /// excessively sparse array unless conversion is on.
    fn array_length(&self, t: &Table) -> mlua::Result<i32> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        let mut object = false;
        let r = t.for_each(|k: Exact, _: bool| {
            if let Either::Right(k) = k {
                if k != 0.0 && k.floor() == k && k >= 1.0 {
                    if k > f64::from(max) {
                        max = to_c_int(k);
                    }
                    items = items.wrapping_add(1);
                    return Ok(());
                }
            }
            object = true;
            Err(mlua::Error::UserDataTypeMismatch)
        });
        if object {
            return Ok(-1);
        }
        r?;
        let c = &self.cfg;
        if c.encode_sparse_ratio > 0
            && max > items.wrapping_mul(c.encode_sparse_ratio)
            && max > c.encode_sparse_safe
        {
            if !c.encode_sparse_convert {
                return Err(self.fail("table", "excessively sparse array"));
            }
            return Ok(-1);
        }
        Ok(max)
    }

    /// Writes the pairs of object `t` in `next` order up to the first whose
    /// value is a table; the pairs from there on are read exactly into a new
    /// Lua table (keys at odd, values at even indices), returned with their
    /// number and whether a pair was written.
    fn object_start(&mut self, t: &Table) -> mlua::Result<(Option<Table>, i64, bool)> {
        let mut snapshot: Option<Table> = None;
        let mut n: i64 = 0;
        let mut comma = false;
        t.for_each(|k: Exact, v: Exact| {
            if snapshot.is_none() && !matches!(v, Either::Left(NotNumber(Value::Table(_)))) {
                if comma {
                    self.out.push(b',');
                }
                comma = true;
                self.key(Item::from(k))?;
                self.value(Item::from(v))?;
                if self.out.len() > MAX_OUTPUT {
                    return Err(raw_error("not enough memory"));
                }
                return Ok(());
            }
            let s = match &snapshot {
                Some(s) => s.clone(),
                None => {
                    let s = self.lua.create_table()?;
                    snapshot = Some(s.clone());
                    s
                }
            };
            s.raw_set(2 * n + 1, k)?;
            s.raw_set(2 * n + 2, v)?;
            n += 1;
            Ok(())
        })?;
        Ok((snapshot, n, comma))
    }
}

// ---------------------------------------------------------------------------
// Decoding

fn decode_fn(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let v = args.into_iter().next().unwrap_or(Value::Nil);
    let text = match &v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v.clone())? {
            Some(s) => s.as_bytes().to_vec(),
            None => Vec::new(),
        },
        other => {
            return Err(arg_error(
                lua,
                1,
                &format!("string expected, got {}", type_name(other)),
            ))
        }
    };
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(raise_here(
            lua,
            "JSON parser does not support UTF-16 or UTF-32",
        ));
    }
    // Upstream scans a C string: everything from the first NUL is unseen.
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let c = load(cfg);
    let value = Decoder {
        lua,
        data: &text[..end],
        pos: 0,
        index: 0,
        buf: Vec::new(),
        invalid_numbers: c.decode_invalid_numbers,
        max_depth: usize::try_from(c.decode_max_depth).unwrap_or(0),
        frames: Vec::new(),
        slots: 1,
        ancestors: None,
        current: None,
    }
    .run()?;
    Ok(MultiValue::from_iter([value]))
}

/// A token (`json_token_type_t`); a string token's text is in the
/// decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    /// How upstream's errors name the token.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str => "T_STRING",
            Token::Num(_) => "T_NUMBER",
            Token::Bool(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(msg) => msg,
        }
    }
}

/// A container being decoded.
enum DecodeFrame {
    /// The index the next element goes to.
    Array(i64),
    /// The key the value being parsed goes to.
    Object(Vec<u8>),
}

impl DecodeFrame {
    fn slots(&self) -> usize {
        match self {
            DecodeFrame::Array(_) => 1,
            DecodeFrame::Object(_) => 2,
        }
    }
}

struct Decoder<'l, 'd> {
    lua: &'l Lua,
    data: &'d [u8],
    pos: usize,
    /// Where the last token starts (or where its error was found).
    index: usize,
    buf: Vec<u8>,
    invalid_numbers: bool,
    max_depth: usize,
    frames: Vec<DecodeFrame>,
    /// Lua stack slots upstream would be using.
    slots: usize,
    ancestors: Option<Table>,
    current: Option<Table>,
}

impl Decoder<'_, '_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        self.index = self.pos;
        let c = self.at(self.pos);
        let single = match c {
            0 => return Token::End,
            b'{' => Token::ObjBegin,
            b'}' => Token::ObjEnd,
            b'[' => Token::ArrBegin,
            b']' => Token::ArrEnd,
            b':' => Token::Colon,
            b',' => Token::Comma,
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return Token::Error("invalid number");
                }
                return self.number_token();
            }
            _ => {
                let rest = &self.data[self.pos..];
                for (word, token) in [
                    (&b"true"[..], Token::Bool(true)),
                    (&b"false"[..], Token::Bool(false)),
                    (&b"null"[..], Token::Null),
                ] {
                    if rest.starts_with(word) {
                        self.pos += word.len();
                        return token;
                    }
                }
                if self.invalid_numbers && self.is_invalid_number() {
                    return self.number_token();
                }
                return Token::Error("invalid token");
            }
        };
        self.pos += 1;
        single
    }

    /// `json_is_invalid_number`: numbers JSON does not allow (leading `+`,
    /// hex, leading zeros, inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        // A signed `char` comparison: bytes from 0x80 are below '9' too.
        if (c as i8) <= b'9' as i8 {
            return false;
        }
        let rest = self.data.get(p..).unwrap_or(&[]);
        starts_with_ignore_case(rest, b"inf") || starts_with_ignore_case(rest, b"nan")
    }

    fn number_token(&mut self) -> Token {
        match strtod(&self.data[self.pos..]) {
            Some((v, n)) if n > 0 => {
                self.pos += n;
                Token::Num(v)
            }
            _ => Token::Error("invalid number"),
        }
    }

    fn string_token(&mut self) -> Token {
        self.pos += 1;
        self.buf.clear();
        loop {
            let start = self.pos;
            while !matches!(self.at(self.pos), 0 | b'"' | b'\\') {
                self.pos += 1;
            }
            self.buf.extend_from_slice(&self.data[start..self.pos]);
            match self.at(self.pos) {
                b'"' => {
                    self.pos += 1;
                    return Token::Str;
                }
                b'\\' => {
                    let c = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape() {
                            Some(n) => {
                                self.pos += n;
                                continue;
                            }
                            None => {
                                self.index = self.pos;
                                return Token::Error("invalid unicode escape code");
                            }
                        },
                        _ => {
                            self.index = self.pos;
                            return Token::Error("invalid escape code");
                        }
                    };
                    self.buf.push(c);
                    self.pos += 2;
                }
                _ => {
                    self.index = self.pos;
                    return Token::Error("unexpected end of string");
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = v * 16 + char::from(self.at(at + i)).to_digit(16)?;
        }
        Some(v)
    }

    /// The `\uXXXX` escape (or surrogate pair) at `pos` appended as UTF-8;
    /// returns its length.
    fn unicode_escape(&mut self) -> Option<usize> {
        let mut cp = self.hex4(self.pos + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return None;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let b = &mut self.buf;
        if cp < 0x80 {
            b.push(cp as u8);
        } else if cp < 0x800 {
            b.push(0xC0 | (cp >> 6) as u8);
            b.push(0x80 | (cp & 0x3F) as u8);
        } else if cp < 0x10000 {
            b.push(0xE0 | (cp >> 12) as u8);
            b.push(0x80 | ((cp >> 6) & 0x3F) as u8);
            b.push(0x80 | (cp & 0x3F) as u8);
        } else {
            b.push(0xF0 | (cp >> 18) as u8);
            b.push(0x80 | ((cp >> 12) & 0x3F) as u8);
            b.push(0x80 | ((cp >> 6) & 0x3F) as u8);
            b.push(0x80 | (cp & 0x3F) as u8);
        }
        Some(len)
    }

    /// `json_throw_parse_error`.
    fn parse_error(&self, expected: &str, found: Token) -> mlua::Error {
        raise_here(
            self.lua,
            &format!(
                "Expected {expected} but found {} at character {}",
                found.name(),
                self.index + 1
            ),
        )
    }

    /// `json_decode_descend`: a new container needing `needed` free stack
    /// slots.
    fn descend(&self, needed: usize) -> mlua::Result<()> {
        let depth = self.frames.len() + 1;
        if depth > self.max_depth || self.slots + needed > MAX_C_STACK {
            return Err(raise_here(
                self.lua,
                &format!(
                    "Found too many nested data structures ({depth}) at character {}",
                    self.pos
                ),
            ));
        }
        Ok(())
    }

    fn push(&mut self, frame: DecodeFrame, table: Table) -> mlua::Result<()> {
        if let Some(parent) = self.current.take() {
            let ancestors = match &self.ancestors {
                Some(a) => a.clone(),
                None => {
                    let a = self.lua.create_table()?;
                    self.ancestors = Some(a.clone());
                    a
                }
            };
            ancestors.raw_set(self.frames.len() as i64, parent)?;
        }
        self.slots += frame.slots();
        self.frames.push(frame);
        self.current = Some(table);
        Ok(())
    }

    /// Ends the innermost container; returns it.
    fn pop(&mut self) -> mlua::Result<Value> {
        if let Some(f) = self.frames.pop() {
            self.slots -= f.slots();
        }
        let done = self.current.take();
        self.current = match (&self.ancestors, self.frames.len()) {
            (_, 0) => None,
            (Some(a), n) => Some(a.raw_get(n as i64)?),
            (None, _) => None,
        };
        Ok(done.map_or(Value::Nil, Value::Table))
    }

    fn current(&self) -> mlua::Result<Table> {
        match &self.current {
            Some(t) => Ok(t.clone()),
            None => Err(mlua::Error::runtime("cjson: no open table")),
        }
    }

    /// After `{` or `,` in an object: the key and the colon; returns the
    /// token starting the value.
    fn object_key(&mut self, token: Token) -> mlua::Result<Token> {
        if token != Token::Str {
            return Err(self.parse_error("object key string", token));
        }
        let key = std::mem::take(&mut self.buf);
        if let Some(DecodeFrame::Object(k)) = self.frames.last_mut() {
            *k = key;
        }
        let token = self.next_token();
        if token != Token::Colon {
            return Err(self.parse_error("colon", token));
        }
        Ok(self.next_token())
    }

    fn run(mut self) -> mlua::Result<Value> {
        let mut token = self.next_token();
        loop {
            let mut value = match token {
                Token::Str => Value::String(self.lua.create_string(&self.buf)?),
                Token::Num(n) => Value::Number(n),
                Token::Bool(b) => Value::Boolean(b),
                Token::Null => null(),
                Token::ObjBegin => {
                    self.descend(3)?;
                    let t = self.lua.create_table()?;
                    token = self.next_token();
                    if token == Token::ObjEnd {
                        Value::Table(t)
                    } else {
                        self.push(DecodeFrame::Object(Vec::new()), t)?;
                        token = self.object_key(token)?;
                        continue;
                    }
                }
                Token::ArrBegin => {
                    self.descend(2)?;
                    let t = self.lua.create_table()?;
                    token = self.next_token();
                    if token == Token::ArrEnd {
                        Value::Table(t)
                    } else {
                        self.push(DecodeFrame::Array(1), t)?;
                        continue;
                    }
                }
                other => return Err(self.parse_error("value", other)),
            };
            // Store the finished value, closing containers as they end.
            loop {
                match self.frames.last_mut() {
                    None => {
                        let token = self.next_token();
                        if token != Token::End {
                            return Err(self.parse_error("the end", token));
                        }
                        return Ok(value);
                    }
                    Some(DecodeFrame::Array(i)) => {
                        let index = *i;
                        *i += 1;
                        self.current()?.raw_set(index, value)?;
                        token = self.next_token();
                        if token == Token::ArrEnd {
                            value = self.pop()?;
                            continue;
                        }
                        if token != Token::Comma {
                            return Err(self.parse_error("comma or array end", token));
                        }
                        token = self.next_token();
                        break;
                    }
                    Some(DecodeFrame::Object(key)) => {
                        let key = self.lua.create_string(&key)?;
                        self.current()?.raw_set(key, value)?;
                        token = self.next_token();
                        if token == Token::ObjEnd {
                            value = self.pop()?;
                            continue;
                        }
                        if token != Token::Comma {
                            return Err(self.parse_error("comma or object end", token));
                        }
                        token = self.next_token();
                        token = self.object_key(token)?;
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "cjson_tests.rs"]
mod tests;
