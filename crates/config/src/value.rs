//! Typed directive values: parsing from arguments (with upstream's exact
//! error texts), formatting for `CONFIG GET`, and formatting for
//! `CONFIG REWRITE`.

use crate::table::{Directive, Kind, Special};
use redis_common::units::{parse_bool, parse_memory_u64};

/// Keyspace notification class bits (`notify-keyspace-events`).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m (not part of A)
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n (not part of A)
    /// What `A` stands for.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Class letters in the order upstream prints them when not all of `A`
/// is set.
const NOTIFY_LETTERS: [(char, u32); 11] = [
    ('g', notify::GENERIC),
    ('$', notify::STRING),
    ('l', notify::LIST),
    ('s', notify::SET),
    ('h', notify::HASH),
    ('z', notify::ZSET),
    ('x', notify::EXPIRED),
    ('e', notify::EVICTED),
    ('t', notify::STREAM),
    ('d', notify::MODULE),
    ('n', notify::NEW),
];

/// The letters of every flag in `bits`, `A` not used.
pub(crate) fn notify_letters(bits: u32) -> String {
    let mut s = String::new();
    for (c, f) in NOTIFY_LETTERS.iter().copied().chain([
        ('m', notify::KEY_MISS),
        ('K', notify::KEYSPACE),
        ('E', notify::KEYEVENT),
    ]) {
        if bits & f != 0 {
            s.push(c);
        }
    }
    s
}

/// One class of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Class names as `CONFIG GET` prints them, and as rewrite writes them.
pub const BUFFER_CLASSES_GET: [&str; 3] = ["normal", "slave", "pubsub"];
pub const BUFFER_CLASSES_REWRITE: [&str; 3] = ["normal", "replica", "pubsub"];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// `maxmemory-clients`: non-negative bytes, negative = percentage.
    MemPct(i64),
    Enum(&'static str),
    Str(String),
    Save(Vec<(u64, u64)>),
    Bind(Vec<String>),
    Cobl([BufferLimit; 3]),
    Notify(u32),
    Oom([i64; 3]),
    Percentiles(Vec<f64>),
    ReplicaOf(Option<(String, u16)>),
}

/// Strict integer syntax of upstream's `string2ll`: optional `-`, no `+`,
/// no leading zeros, no `-0`, no white space.
pub(crate) fn parse_strict_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.starts_with('0') && (digits.len() > 1 || s.starts_with('-')) {
        return None;
    }
    s.parse().ok()
}

/// Lenient `strtol`-style integer (leading `+`, leading zeros allowed), as
/// used by upstream for `save` and `oom-score-adj-values`.
fn parse_lenient_i64(s: &str) -> Option<i64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn range_err(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

/// Enum directives that take a set of their names, space separated
/// (upstream's multi-argument enums): `shutdown-on-sigint`,
/// `shutdown-on-sigterm`.
pub(crate) fn is_flag_enum(def: &Directive) -> bool {
    matches!(def.name, "shutdown-on-sigint" | "shutdown-on-sigterm")
}

/// A set of flags among `names` (the first, `default`, meaning none),
/// stored as the names given, in table order; `default` when none is.
fn parse_flag_enum(names: &[&str], s: &str) -> Result<Value, String> {
    let mut given = vec![false; names.len()];
    let mut any = false;
    for w in s.split_whitespace() {
        let i = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(w))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            })?;
        given[i] = true;
        any = true;
    }
    if !any {
        return Err(format!(
            "argument(s) must be one of the following: {}",
            names.join(", ")
        ));
    }
    let has = |n: &str| names.iter().zip(&given).any(|(m, g)| *g && *m == n);
    if has("save") && has("nosave") {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".to_string());
    }
    let set: Vec<&str> = names
        .iter()
        .zip(&given)
        .skip(1)
        .filter(|(_, g)| **g)
        .map(|(n, _)| *n)
        .collect();
    Ok(Value::Str(if set.is_empty() {
        names.first().copied().unwrap_or_default().to_string()
    } else {
        set.join(" ")
    }))
}

/// Parses a scalar directive from its single textual argument.
/// `current` is needed by kinds that merge (`client-output-buffer-limit`).
pub(crate) fn parse(def: &Directive, args: &[String], current: &Value) -> Result<Value, String> {
    let one = || -> Result<&str, String> {
        match args {
            [v] => Ok(v.as_str()),
            _ => Err("wrong number of arguments".to_string()),
        }
    };
    match def.kind {
        Kind::Bool => parse_bool(one()?)
            .map(Value::Bool)
            .ok_or_else(|| "argument must be 'yes' or 'no'".to_string()),
        Kind::Int { min, max } => {
            let v = parse_strict_i64(one()?)
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(range_err(min, max));
            }
            // Upstream accepts any `hz` in range but clamps what it stores.
            let v = if def.name == "hz" { v.clamp(1, 500) } else { v };
            Ok(Value::Int(v))
        }
        Kind::Memory { min, max } => {
            let v = parse_memory_u64(one()?)
                .ok_or_else(|| "argument must be a memory value".to_string())?;
            match i64::try_from(v) {
                Ok(v) if v >= min && v <= max => Ok(Value::Int(v)),
                _ => Err(range_err(min, max)),
            }
        }
        Kind::MemoryU64 => parse_memory_u64(one()?)
            .map(Value::UInt)
            .ok_or_else(|| "argument must be a memory value".to_string()),
        Kind::MemoryPercent => {
            let s = one()?;
            let bad = || "argument must be a memory or percent value".to_string();
            // Percentages are stored negated, like upstream; a byte count
            // beyond i64::MAX therefore wraps into the percentage range and
            // is rejected the same way upstream rejects it.
            let v: i64 = if let Some(p) = s.strip_suffix('%') {
                let p = parse_strict_i64(p).filter(|p| *p >= 0).ok_or_else(bad)?;
                p.checked_neg().ok_or_else(bad)?
            } else {
                parse_memory_u64(s).ok_or_else(bad)? as i64
            };
            if v < -100 || v == i64::MIN {
                return Err("percentage argument must be less or equal to 100".to_string());
            }
            Ok(Value::MemPct(v))
        }
        Kind::Octal => {
            // strtol(base 8) syntax: optional sign, octal digits only.
            let s = one()?;
            let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err("argument couldn't be parsed as an octal number".to_string());
            }
            let v = i64::from_str_radix(digits, 8).unwrap_or(i64::MAX);
            let v = if s.starts_with('-') { -v } else { v };
            if !(0..=0o777).contains(&v) {
                return Err(range_err(0, 777));
            }
            Ok(Value::Int(v))
        }
        Kind::Enum(names) if is_flag_enum(def) => parse_flag_enum(names, one()?),
        Kind::Enum(names) => {
            let s = one()?;
            let found = names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(s))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )
                })?;
            // `relative` is a synonym of `yes`, and upstream prints the
            // first name that carries the value.
            Ok(Value::Enum(
                if def.name == "oom-score-adj" && found == "relative" {
                    "yes"
                } else {
                    found
                },
            ))
        }
        Kind::String => Ok(Value::Str(one()?.to_string())),
        Kind::ProcTitleTemplate => {
            let s = one()?;
            if !valid_proc_title_template(s) {
                return Err("template format is invalid or contains unknown variables".to_string());
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::Special(sp) => parse_special(sp, args, current),
    }
}

fn valid_proc_title_template(s: &str) -> bool {
    const VARS: [&str; 7] = [
        "{title}",
        "{listen-addr}",
        "{server-mode}",
        "{port}",
        "{tls-port}",
        "{unixsocket}",
        "{config-file}",
    ];
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return false;
        };
        if !VARS.contains(&&rest[open..open + close + 1]) {
            return false;
        }
        rest = &rest[open + close + 1..];
    }
    // Observed from 7.0.15: "", "{title}" are refused while "x", "{port}"
    // and "title}" are accepted, i.e. the template must produce something
    // besides the title itself.
    !s.replace("{title}", "").trim_matches(' ').is_empty()
}

fn parse_special(sp: Special, args: &[String], current: &Value) -> Result<Value, String> {
    match sp {
        Special::Save => {
            let bad = || "Invalid save parameters".to_string();
            if args.is_empty() || (args.len() == 1 && args[0].is_empty()) {
                return Ok(Value::Save(Vec::new()));
            }
            if args.len() % 2 != 0 {
                return Err(bad());
            }
            let mut points = Vec::new();
            for pair in args.chunks(2) {
                let secs = parse_lenient_i64(&pair[0])
                    .filter(|v| *v >= 1)
                    .ok_or_else(bad)?;
                let changes = parse_lenient_i64(&pair[1])
                    .filter(|v| *v >= 0)
                    .ok_or_else(bad)?;
                points.push((secs as u64, changes as u64));
            }
            Ok(Value::Save(points))
        }
        Special::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".to_string());
            }
            Ok(Value::Bind(args.to_vec()))
        }
        Special::ClientOutputBufferLimit => {
            let mut limits = match current {
                Value::Cobl(l) => *l,
                _ => {
                    [BufferLimit {
                        hard: 0,
                        soft: 0,
                        soft_seconds: 0,
                    }; 3]
                }
            };
            // An empty CONFIG SET value is accepted and changes nothing.
            if args.is_empty() {
                return Ok(Value::Cobl(limits));
            }
            if args.len() % 4 != 0 {
                return Err("Wrong number of arguments in buffer limit configuration.".to_string());
            }
            for group in args.chunks(4) {
                let class = match group[0].to_ascii_lowercase().as_str() {
                    "normal" => 0,
                    "replica" | "slave" => 1,
                    "pubsub" => 2,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration."
                                .to_string(),
                        )
                    }
                };
                let bad = || {
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string()
                };
                let hard = parse_memory_u64(&group[1]).ok_or_else(bad)?;
                let soft = parse_memory_u64(&group[2]).ok_or_else(bad)?;
                let secs = parse_lenient_i64(&group[3])
                    .filter(|v| *v >= 0)
                    .ok_or_else(bad)?;
                limits[class] = BufferLimit {
                    hard,
                    soft,
                    soft_seconds: secs as u64,
                };
            }
            Ok(Value::Cobl(limits))
        }
        Special::NotifyKeyspaceEvents => {
            let [s] = args else {
                return Err("wrong number of arguments".to_string());
            };
            let mut flags = 0;
            for c in s.chars() {
                flags |= match c {
                    'A' => notify::ALL,
                    'K' => notify::KEYSPACE,
                    'E' => notify::KEYEVENT,
                    'm' => notify::KEY_MISS,
                    _ => NOTIFY_LETTERS
                        .iter()
                        .find(|(l, _)| *l == c)
                        .map(|(_, f)| *f)
                        .ok_or_else(|| {
                            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
                        })?,
                };
            }
            Ok(Value::Notify(flags))
        }
        Special::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".to_string());
            }
            let mut out = [0i64; 3];
            for (o, a) in out.iter_mut().zip(args) {
                *o = parse_lenient_i64(a)
                    .filter(|v| (-2000..=2000).contains(v))
                    .ok_or_else(|| {
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .to_string()
                    })?;
            }
            Ok(Value::Oom(out))
        }
        Special::LatencyPercentiles => {
            let mut out = Vec::new();
            for a in args {
                // strtod would accept "nan", but upstream then rejects it.
                let v: f64 = a
                    .parse()
                    .ok()
                    .filter(|v: &f64| !v.is_nan())
                    .ok_or_else(|| {
                        "Invalid latency-tracking-info-percentiles parameters".to_string()
                    })?;
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                out.push(v);
            }
            Ok(Value::Percentiles(out))
        }
        Special::ReplicaOf => {
            let [host, port] = args else {
                return Err("wrong number of arguments".to_string());
            };
            if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
                return Ok(Value::ReplicaOf(None));
            }
            let port = parse_lenient_i64(port)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| "Invalid master port".to_string())?;
            Ok(Value::ReplicaOf(Some((host.clone(), port))))
        }
        Special::Dir => {
            let [dir] = args else {
                return Err("wrong number of arguments".to_string());
            };
            // Upstream chdir()s right away; this crate has no business
            // changing the process state, so it validates and stores the
            // absolute path and leaves the chdir to the server.
            let abs = std::fs::canonicalize(dir).map_err(|e| io_reason(&e))?;
            if !abs.is_dir() {
                return Err("Not a directory".to_string());
            }
            Ok(Value::Str(abs.to_string_lossy().into_owned()))
        }
    }
}

/// The `strerror` text of an I/O error, without Rust's "(os error N)".
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Formats a value the way `CONFIG GET` prints it.
pub(crate) fn format_get(def: &Directive, v: &Value) -> String {
    match v {
        Value::Bool(b) => redis_common::units::format_bool(*b).to_string(),
        Value::Int(i) if def.kind == Kind::Octal => format!("{i:o}"),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::MemPct(i) if *i < 0 => format!("{}%", -i),
        Value::MemPct(i) => i.to_string(),
        Value::Enum(s) => s.to_string(),
        Value::Str(s) => s.clone(),
        Value::Save(p) => p
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Bind(a) => a.join(" "),
        Value::Cobl(l) => BUFFER_CLASSES_GET
            .iter()
            .zip(l)
            .map(|(n, l)| format!("{n} {} {} {}", l.hard, l.soft, l.soft_seconds))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Notify(f) => format_notify(*f),
        Value::Oom(o) => format!("{} {} {}", o[0], o[1], o[2]),
        Value::Percentiles(p) => p
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        Value::ReplicaOf(Some((h, p))) => format!("{h} {p}"),
        Value::ReplicaOf(None) => String::new(),
    }
}

/// Upstream's flag-to-string conversion, including its quirk of dropping
/// `n` when `A` is printed.
fn format_notify(f: u32) -> String {
    let mut s = String::new();
    if f & notify::ALL == notify::ALL {
        s.push('A');
    } else {
        for (c, bit) in NOTIFY_LETTERS {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    if f & notify::KEYSPACE != 0 {
        s.push('K');
    }
    if f & notify::KEYEVENT != 0 {
        s.push('E');
    }
    if f & notify::KEY_MISS != 0 {
        s.push('m');
    }
    s
}

/// Memory as upstream's rewrite prints it: the largest binary unit that
/// divides the value exactly.
pub(crate) fn format_memory(v: u64) -> String {
    const KB: u64 = 1024;
    match v {
        0 => "0".to_string(),
        v if v % (KB * KB * KB) == 0 => format!("{}gb", v / (KB * KB * KB)),
        v if v % (KB * KB) == 0 => format!("{}mb", v / (KB * KB)),
        v if v % KB == 0 => format!("{}kb", v / KB),
        v => v.to_string(),
    }
}

/// Quotes a string like upstream's `sdscatrepr`.
pub(crate) fn repr(s: &str) -> String {
    let mut out = String::from("\"");
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The lines `CONFIG REWRITE` writes for a value (without the name for
/// multi-line directives handled here).
pub(crate) fn format_rewrite(
    def: &Directive,
    v: &Value,
    default: &Value,
    force_all: bool,
) -> Vec<String> {
    let name = def.name;
    let line = |rest: String| vec![format!("{name} {rest}")];
    match (def.kind, v) {
        (Kind::Memory { .. }, Value::Int(i)) => line(format_memory(*i as u64)),
        (Kind::MemoryU64, Value::UInt(u)) => line(format_memory(*u)),
        (_, Value::MemPct(i)) if *i >= 0 => line(format_memory(*i as u64)),
        // Upstream writes a set of flags as separate words.
        (_, Value::Str(s)) if is_flag_enum(def) => line(s.clone()),
        (_, Value::Str(s)) => line(repr(s)),
        (_, Value::Save(p)) if p.is_empty() => line("\"\"".to_string()),
        (_, Value::Save(p)) => p.iter().map(|(s, c)| format!("save {s} {c}")).collect(),
        (_, Value::Bind(a)) if a.is_empty() => vec!["bind".to_string()],
        (_, Value::Cobl(l)) => {
            let defaults = match default {
                Value::Cobl(d) => *d,
                _ => *l,
            };
            (0..3)
                .filter(|&i| force_all || l[i] != defaults[i])
                .map(|i| {
                    format!(
                        "{name} {} {} {} {}",
                        BUFFER_CLASSES_REWRITE[i],
                        format_memory(l[i].hard),
                        format_memory(l[i].soft),
                        l[i].soft_seconds
                    )
                })
                .collect()
        }
        (_, Value::Notify(f)) => line(repr(&format_notify(*f))),
        (_, Value::ReplicaOf(None)) => Vec::new(),
        _ => line(format_get(def, v)),
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
