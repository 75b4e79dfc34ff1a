//! Command metadata as data: the table behind `COMMAND INFO`, `COMMAND DOCS`
//! and `COMMAND GETKEYS`.
//!
//! The metadata is recorded from the reference server by `data/gen.py` into
//! `data/commands.json` (schema documented at the top of that script) and
//! embedded at compile time. It is parsed once, on first use, into
//! [`CommandMeta`] values. The JSON keeps the RESP type of every value, so
//! [`info_frame`] and [`docs_frame`] rebuild the reference replies exactly;
//! the encoder then downgrades sets and maps to arrays for RESP2.
//!
//! [`get_keys`] finds key positions the way the reference does for
//! `COMMAND GETKEYS`: it prefers the key specs and, when a spec cannot be
//! applied to the given arguments, falls back to per-command extraction for
//! the commands that have one upstream (numkeys commands, SORT, MIGRATE,
//! GEORADIUS*, XREAD*).
//!
//! Nothing here panics on client input: lookups return `Option`, key
//! extraction returns `Result`, and all index arithmetic is checked.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde_json::value::RawValue;

use bytes::Bytes;
use redis_resp::Frame;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The embedded metadata; regenerate with `data/gen.py --port PORT`.
const COMMANDS_JSON: &str = include_str!("../data/commands.json");

/// Subcommands we add beyond 7.0 (later releases' additions), each with
/// its parent's name, in the same format; `COMMAND INFO`/`DOCS` of the
/// parent list them (an intended difference from the 7.0 reference).
const EXTENSIONS_JSON: &str = include_str!("../data/extensions.json");

/// One entry of [`EXTENSIONS_JSON`].
#[derive(Deserialize)]
struct Extension<'a> {
    parent: String,
    #[serde(borrow)]
    command: RawCommand<'a>,
}

/// `COMMAND GETKEYS` error texts, as the reference sends them after `-ERR `.
pub const ERR_INVALID_COMMAND: &str = "Invalid command specified";
pub const ERR_NO_KEYS: &str = "The command has no key arguments";
pub const ERR_BAD_ARITY: &str = "Invalid number of arguments specified for command";
pub const ERR_BAD_ARGS: &str = "Invalid arguments specified for command";

/// Why the embedded `commands.json` does not parse (a build defect the
/// unit tests rule out; the server refuses to start on it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// The file is not the JSON `data/gen.py` writes.
    #[error("commands.json: {0}")]
    Json(String),
    /// A command's docs are not a map.
    #[error("{0}: docs is not a map")]
    DocsNotMap(String),
    /// A key spec of `command` is malformed.
    #[error("{command}: {error}")]
    KeySpec {
        command: String,
        error: Box<MetaError>,
    },
    #[error("key spec without begin_search")]
    NoBeginSearch,
    #[error("keyword spec without keyword")]
    NoKeyword,
    #[error("key spec without find_keys")]
    NoFindKeys,
    /// A key spec field that must be an integer is missing or is not one.
    #[error("key spec lacks integer {0}")]
    NoInteger(&'static str),
}

/// One RESP value in the lossless form recorded in `commands.json`.
///
/// JSON strings are bulk strings, numbers integers, arrays arrays and objects
/// maps (in document order); `{"+": s}`, `{"~": [..]}` and `{"_": null}` tag
/// simple strings, sets and nulls.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    Bulk(String),
    Integer(i64),
    Array(Vec<MetaValue>),
    Map(Vec<(String, MetaValue)>),
    Simple(String),
    Set(Vec<MetaValue>),
    Null,
}

impl MetaValue {
    /// The RESP frame of this value (RESP3 types; the encoder downgrades).
    pub fn to_frame(&self) -> Frame {
        match self {
            MetaValue::Bulk(s) => Frame::Bulk(Bytes::copy_from_slice(s.as_bytes())),
            MetaValue::Integer(n) => Frame::Integer(*n),
            MetaValue::Array(v) => Frame::Array(v.iter().map(MetaValue::to_frame).collect()),
            MetaValue::Set(v) => Frame::Set(v.iter().map(MetaValue::to_frame).collect()),
            MetaValue::Map(m) => Frame::Map(
                m.iter()
                    .map(|(k, v)| {
                        (
                            Frame::Bulk(Bytes::copy_from_slice(k.as_bytes())),
                            v.to_frame(),
                        )
                    })
                    .collect(),
            ),
            MetaValue::Simple(s) => Frame::Simple(Bytes::copy_from_slice(s.as_bytes())),
            MetaValue::Null => Frame::Null,
        }
    }

    /// The value under `key` if this is a map.
    fn get(&self, key: &str) -> Option<&MetaValue> {
        match self {
            MetaValue::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Bulk(s) | MetaValue::Simple(s) => Some(s),
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            MetaValue::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The strings of a set or array of strings (flags, doc_flags).
    fn string_list(&self) -> Vec<String> {
        match self {
            MetaValue::Set(v) | MetaValue::Array(v) => v
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for MetaValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MetaValueVisitor)
    }
}

/// Visitor implementing the tagged encoding; a custom one is needed because
/// map order is significant and `serde_json::Value` would sort the keys.
struct MetaValueVisitor;

impl<'de> Visitor<'de> for MetaValueVisitor {
    type Value = MetaValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a RESP value in commands.json form")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MetaValue, E> {
        Ok(MetaValue::Bulk(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<MetaValue, E> {
        Ok(MetaValue::Bulk(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<MetaValue, E> {
        Ok(MetaValue::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<MetaValue, E> {
        i64::try_from(v)
            .map(MetaValue::Integer)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<MetaValue, E> {
        Ok(MetaValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MetaValue, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<MetaValue>()? {
            out.push(v);
        }
        Ok(MetaValue::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetaValue, A::Error> {
        let mut pairs: Vec<(String, MetaValue)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, MetaValue>()? {
            pairs.push((k, v));
        }
        // A single-entry object with a tag key is a typed scalar/collection;
        // gen.py guarantees no real map uses these keys.
        if pairs.len() == 1 {
            match (pairs[0].0.as_str(), &pairs[0].1) {
                ("+", MetaValue::Bulk(s)) => return Ok(MetaValue::Simple(s.clone())),
                ("~", MetaValue::Array(v)) => return Ok(MetaValue::Set(v.clone())),
                ("_", MetaValue::Null) => return Ok(MetaValue::Null),
                ("+" | "~" | "_", _) => return Err(de::Error::custom("malformed type tag")),
                _ => {}
            }
        }
        Ok(MetaValue::Map(pairs))
    }
}

/// Where a key spec starts looking for keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// A fixed argument index.
    Index(i64),
    /// Just after `keyword`, searched from `startfrom` (negative: from the
    /// end, backwards).
    Keyword { keyword: String, startfrom: i64 },
    /// The spec cannot locate keys by itself.
    Unknown,
}

/// How a key spec finds keys from where the search began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `lastkey` (relative; negative counts from the end), every
    /// `keystep`; a nonzero `limit` takes 1/limit of the remaining args.
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    /// The key count is at `keynumidx`, keys start at `firstkey`.
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
    Unknown,
}

/// A parsed key spec (the raw map is kept for the `COMMAND INFO` reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// As upstream spells them, e.g. `RO`, `access`, `incomplete`, `not_key`.
    pub flags: Vec<String>,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
    /// The flags the per-command checks (ACL, key extraction) ask about,
    /// as bits ([`KeySpec::NOT_KEY`] …), so that they compare no strings.
    bits: u8,
}

impl KeySpec {
    pub const NOT_KEY: u8 = 1;
    pub const INCOMPLETE: u8 = 2;
    pub const VARIABLE_FLAGS: u8 = 4;
    /// `access`: the command reads the key's value.
    pub const ACCESS: u8 = 8;
    /// `insert`, `delete` or `update`: it writes it.
    pub const WRITE: u8 = 16;

    /// A spec with these flags (the bits are derived from them).
    pub fn new(flags: Vec<String>, begin_search: BeginSearch, find_keys: FindKeys) -> KeySpec {
        let has = |f: &str| flags.iter().any(|x| x.eq_ignore_ascii_case(f));
        let mut bits = 0;
        for (flag, bit) in [
            ("not_key", Self::NOT_KEY),
            ("incomplete", Self::INCOMPLETE),
            ("variable_flags", Self::VARIABLE_FLAGS),
            ("access", Self::ACCESS),
            ("insert", Self::WRITE),
            ("delete", Self::WRITE),
            ("update", Self::WRITE),
        ] {
            if has(flag) {
                bits |= bit;
            }
        }
        KeySpec {
            flags,
            begin_search,
            find_keys,
            bits,
        }
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }

    /// Whether the spec has one of `bits` ([`KeySpec::NOT_KEY`] …).
    #[inline]
    pub fn has_bits(&self, bits: u8) -> bool {
        self.bits & bits != 0
    }

    fn parse(v: &MetaValue) -> Result<KeySpec, MetaError> {
        let flags = v
            .get("flags")
            .map(MetaValue::string_list)
            .unwrap_or_default();
        let bs = v.get("begin_search").ok_or(MetaError::NoBeginSearch)?;
        let bs_spec = bs.get("spec");
        let int = |m: Option<&MetaValue>, k: &'static str| -> Result<i64, MetaError> {
            m.and_then(|m| m.get(k))
                .and_then(MetaValue::as_int)
                .ok_or(MetaError::NoInteger(k))
        };
        let begin_search = match bs.get("type").and_then(MetaValue::as_str) {
            Some("index") => BeginSearch::Index(int(bs_spec, "index")?),
            Some("keyword") => BeginSearch::Keyword {
                keyword: bs_spec
                    .and_then(|s| s.get("keyword"))
                    .and_then(MetaValue::as_str)
                    .ok_or(MetaError::NoKeyword)?
                    .to_owned(),
                startfrom: int(bs_spec, "startfrom")?,
            },
            _ => BeginSearch::Unknown,
        };
        let fk = v.get("find_keys").ok_or(MetaError::NoFindKeys)?;
        let fk_spec = fk.get("spec");
        let find_keys = match fk.get("type").and_then(MetaValue::as_str) {
            Some("range") => FindKeys::Range {
                lastkey: int(fk_spec, "lastkey")?,
                keystep: int(fk_spec, "keystep")?,
                limit: int(fk_spec, "limit")?,
            },
            Some("keynum") => FindKeys::Keynum {
                keynumidx: int(fk_spec, "keynumidx")?,
                firstkey: int(fk_spec, "firstkey")?,
                keystep: int(fk_spec, "keystep")?,
            },
            _ => FindKeys::Unknown,
        };
        Ok(KeySpec::new(flags, begin_search, find_keys))
    }
}

/// Metadata of one command or subcommand.
#[derive(Clone, Debug)]
pub struct CommandMeta {
    /// Lowercase; subcommands are `parent|sub`, e.g. `config|get`.
    pub name: String,
    /// Positive: exact argc (name included); negative: at least -arity.
    pub arity: i64,
    /// Command flags as upstream names them (`write`, `readonly`, ...).
    pub flags: Vec<String>,
    pub first_key: i64,
    pub last_key: i64,
    pub step: i64,
    /// ACL categories without the leading `@`.
    pub acl_categories: Vec<String>,
    /// Command tips, e.g. `nondeterministic_output`.
    pub tips: Vec<String>,
    pub key_specs: Vec<KeySpec>,
    /// In the reference's order (it is also the order of the replies).
    pub subcommands: Vec<CommandMeta>,
    /// Docs fields most callers want; the full docs live in `docs`.
    pub group: String,
    pub summary: String,
    pub since: String,
    pub complexity: String,
    /// e.g. `deprecated`, `syscmd`.
    pub doc_flags: Vec<String>,
    raw_key_specs: Vec<MetaValue>,
    /// The COMMAND DOCS map minus `subcommands` (rebuilt from `subcommands`),
    /// kept as a slice of the embedded JSON and parsed on demand: the
    /// parsed trees of all commands cost over a megabyte of heap that would
    /// count against `maxmemory` for a reply that is rarely asked for.
    docs_raw: &'static RawValue,
    /// Lowercase subcommand name (after the `|`) to index in `subcommands`.
    sub_index: HashMap<String, usize>,
}

impl CommandMeta {
    /// Whether the command has `flag` (upstream spelling, e.g. "denyoom").
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Whether the command is in ACL category `cat` (without `@`).
    pub fn in_category(&self, cat: &str) -> bool {
        self.acl_categories.iter().any(|c| c == cat)
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// The full COMMAND DOCS value map (without `subcommands`), verbatim.
    pub fn docs(&self) -> Vec<(String, MetaValue)> {
        match serde_json::from_str::<MetaValue>(self.docs_raw.get()) {
            Ok(MetaValue::Map(m)) => m,
            _ => Vec::new(),
        }
    }

    /// The key specs as recorded (maps), verbatim.
    pub fn raw_key_specs(&self) -> &[MetaValue] {
        &self.raw_key_specs
    }

    /// Whether any key spec designates real keys (`COMMAND GETKEYS` refuses
    /// commands without one, e.g. SPUBLISH whose spec is `not_key`).
    pub fn has_keys(&self) -> bool {
        self.key_specs.iter().any(|s| !s.has_bits(KeySpec::NOT_KEY))
    }
}

/// The JSON record shape (see `data/gen.py`).
#[derive(Deserialize)]
struct RawCommand<'a> {
    name: String,
    arity: i64,
    flags: Vec<String>,
    first_key: i64,
    last_key: i64,
    step: i64,
    acl_categories: Vec<String>,
    tips: Vec<String>,
    key_specs: Vec<MetaValue>,
    #[serde(borrow)]
    subcommands: Vec<RawCommand<'a>>,
    #[serde(borrow)]
    docs: &'a RawValue,
}

impl RawCommand<'static> {
    fn into_meta(self) -> Result<CommandMeta, MetaError> {
        let key_specs = self
            .key_specs
            .iter()
            .map(KeySpec::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| MetaError::KeySpec {
                command: self.name.clone(),
                error: Box::new(e),
            })?;
        let docs = match serde_json::from_str::<MetaValue>(self.docs.get()) {
            Ok(MetaValue::Map(m)) => m,
            _ => return Err(MetaError::DocsNotMap(self.name.clone())),
        };
        let doc_str = |k: &str| {
            docs.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let doc_flags = docs
            .iter()
            .find(|(n, _)| n == "doc_flags")
            .map(|(_, v)| v.string_list())
            .unwrap_or_default();
        let subcommands = self
            .subcommands
            .into_iter()
            .map(RawCommand::into_meta)
            .collect::<Result<Vec<_>, _>>()?;
        let mut sub_index = HashMap::new();
        for (i, s) in subcommands.iter().enumerate() {
            let short = s.name.rsplit('|').next().unwrap_or(&s.name);
            sub_index.insert(short.to_ascii_lowercase(), i);
        }
        Ok(CommandMeta {
            group: doc_str("group"),
            summary: doc_str("summary"),
            since: doc_str("since"),
            complexity: doc_str("complexity"),
            doc_flags,
            name: self.name.to_ascii_lowercase(),
            arity: self.arity,
            flags: self.flags,
            first_key: self.first_key,
            last_key: self.last_key,
            step: self.step,
            acl_categories: self.acl_categories,
            tips: self.tips,
            key_specs,
            subcommands,
            raw_key_specs: self.key_specs,
            docs_raw: self.docs,
            sub_index,
        })
    }
}

struct Table {
    commands: Vec<CommandMeta>,
    index: HashMap<Vec<u8>, usize>,
}

fn parse_table(json: &'static str) -> Result<Table, MetaError> {
    let raw: Vec<RawCommand<'static>> =
        serde_json::from_str(json).map_err(|e| MetaError::Json(e.to_string()))?;
    let mut commands = raw
        .into_iter()
        .map(RawCommand::into_meta)
        .collect::<Result<Vec<_>, _>>()?;
    let extensions: Vec<Extension<'static>> =
        serde_json::from_str(EXTENSIONS_JSON).map_err(|e| MetaError::Json(e.to_string()))?;
    for ext in extensions {
        let sub = ext.command.into_meta()?;
        if let Some(parent) = commands.iter_mut().find(|c| c.name == ext.parent) {
            let short = sub
                .name
                .rsplit('|')
                .next()
                .unwrap_or(&sub.name)
                .to_ascii_lowercase();
            parent.sub_index.insert(short, parent.subcommands.len());
            parent.subcommands.push(sub);
        }
    }
    let index = commands
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_bytes().to_vec(), i))
        .collect();
    Ok(Table { commands, index })
}

fn table() -> &'static Result<Table, MetaError> {
    static TABLE: OnceLock<Result<Table, MetaError>> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(COMMANDS_JSON))
}

/// Parses the embedded table (once) and reports whether it is usable. The
/// server should call this at startup and refuse to start on `Err`; the unit
/// tests guarantee the embedded file parses, so this is a safety net rather
/// than a `panic!` in a library.
pub fn check() -> Result<usize, &'static MetaError> {
    match table() {
        Ok(t) => Ok(t.commands.len()),
        Err(e) => Err(e),
    }
}

/// All top-level commands, sorted by name (empty if [`check`] fails).
pub fn all() -> &'static [CommandMeta] {
    match table() {
        Ok(t) => &t.commands,
        Err(_) => &[],
    }
}

/// Looks a top-level command up by name, ASCII case-insensitively.
pub fn find(name: &[u8]) -> Option<&'static CommandMeta> {
    let t = table().as_ref().ok()?;
    // Names are short; lowercasing into a small stack buffer avoids an
    // allocation on this per-request path.
    let mut buf = [0u8; 32];
    let i = if name.len() <= buf.len() {
        let b = &mut buf[..name.len()];
        b.copy_from_slice(name);
        b.make_ascii_lowercase();
        t.index.get(&b[..])
    } else {
        t.index.get(&name.to_ascii_lowercase())
    }?;
    t.commands.get(*i)
}

/// Looks a subcommand (e.g. `get` of `config`) up, case-insensitively.
pub fn find_sub<'a>(parent: &'a CommandMeta, sub: &[u8]) -> Option<&'a CommandMeta> {
    let sub = std::str::from_utf8(sub).ok()?.to_ascii_lowercase();
    parent
        .sub_index
        .get(&sub)
        .and_then(|i| parent.subcommands.get(*i))
}

/// Resolves the command an argument vector invokes, as the reference does:
/// a container command with at least one more argument resolves to its
/// subcommand (None if that does not exist); otherwise to itself.
pub fn lookup_argv(argv: &[Bytes]) -> Option<&'static CommandMeta> {
    let base = find(argv.first()?)?;
    match argv.get(1) {
        Some(sub) if !base.subcommands.is_empty() => find_sub(base, sub),
        _ => Some(base),
    }
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn simple(s: &str) -> Frame {
    Frame::Simple(Bytes::copy_from_slice(s.as_bytes()))
}

/// The `COMMAND INFO` entry of one command (one element of the reply array).
pub fn info_frame(m: &CommandMeta) -> Frame {
    // "No subcommands" is an empty *set* upstream, a non-empty list an array.
    let subs = if m.subcommands.is_empty() {
        Frame::Set(Vec::new())
    } else {
        Frame::Array(m.subcommands.iter().map(info_frame).collect())
    };
    Frame::Array(vec![
        bulk(&m.name),
        Frame::Integer(m.arity),
        Frame::Set(m.flags.iter().map(|f| simple(f)).collect()),
        Frame::Integer(m.first_key),
        Frame::Integer(m.last_key),
        Frame::Integer(m.step),
        Frame::Set(
            m.acl_categories
                .iter()
                .map(|c| simple(&format!("@{c}")))
                .collect(),
        ),
        Frame::Set(m.tips.iter().map(|t| bulk(t)).collect()),
        Frame::Set(m.raw_key_specs.iter().map(MetaValue::to_frame).collect()),
        subs,
    ])
}

/// The `COMMAND DOCS` value of one command (the reply is a map from the
/// command name to this value).
pub fn docs_frame(m: &CommandMeta) -> Frame {
    let mut pairs: Vec<(Frame, Frame)> = m
        .docs()
        .iter()
        .map(|(k, v)| (bulk(k), v.to_frame()))
        .collect();
    if !m.subcommands.is_empty() {
        let subs = m
            .subcommands
            .iter()
            .map(|s| (bulk(&s.name), docs_frame(s)))
            .collect();
        pairs.push((bulk("subcommands"), Frame::Map(subs)));
    }
    Frame::Map(pairs)
}

/// `COMMAND GETKEYS` in full: resolves the command in `argv` (name first),
/// checks it has keys and its arity, then extracts the key positions.
/// Errors are the reference's texts, to be sent after `-ERR `.
pub fn command_getkeys(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    let m = lookup_argv(argv).ok_or(ERR_INVALID_COMMAND)?;
    get_keys(m, argv)
}

/// Positions in `argv` (command name at 0) of the key arguments of `m`.
///
/// Follows the reference: key specs first; if one cannot be applied, the
/// command's own extraction rule if it has one; no keys at all is an error
/// unless the command is `no_mandatory_keys`.
pub fn get_keys(m: &CommandMeta, argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    if !m.has_keys() {
        return Err(ERR_NO_KEYS);
    }
    if !m.arity_ok(argv.len()) {
        return Err(ERR_BAD_ARITY);
    }
    let keys = keys_from_specs(m, argv).unwrap_or_else(|| keys_fallback(m, argv));
    if keys.is_empty() && !m.has_flag("no_mandatory_keys") {
        return Err(ERR_BAD_ARGS);
    }
    Ok(keys)
}

/// Strict integer parsing as used for numkeys in key specs: optional `-`,
/// digits only, no `+`, spaces or leading zeros tricks beyond what i64 takes.
fn parse_strict(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Lenient C-`atoi`-like parsing used by the per-command fallbacks: leading
/// whitespace, optional sign, then as many digits as there are (saturating).
fn parse_lenient(b: &[u8]) -> i64 {
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Pushes `first..=last` every `step` (all already validated against argc).
fn push_range(out: &mut Vec<usize>, first: i64, last: i64, step: i64) {
    let step = usize::try_from(step.max(1)).unwrap_or(1);
    if let (Ok(f), Ok(l)) = (usize::try_from(first), usize::try_from(last)) {
        out.extend((f..=l).step_by(step));
    }
}

/// Applies every key spec; None when one of them cannot be applied.
fn keys_from_specs(m: &CommandMeta, argv: &[Bytes]) -> Option<Vec<usize>> {
    Some(
        spec_keys(m, argv)?
            .into_iter()
            .map(|(pos, _)| pos)
            .collect(),
    )
}

/// The key positions of `m` in `argv` (command name at 0), each with the
/// key spec that found it, in spec order, for ACL checks. When the specs
/// cannot be applied, the per-command extraction's keys come with the
/// first spec (first key) or the last (the others). Empty when the
/// command has no keys or its arguments are malformed.
pub fn keys_with_specs<'a>(
    m: &'a CommandMeta,
    argv: &[Bytes],
) -> Vec<(usize, Option<&'a KeySpec>)> {
    if !m.has_keys() || !m.arity_ok(argv.len()) {
        return Vec::new();
    }
    match spec_keys(m, argv) {
        Some(keys) => keys
            .into_iter()
            .map(|(pos, i)| (pos, m.key_specs.get(i)))
            .collect(),
        // The per-command extractions list the main key first and what
        // they find later (SORT's and GEORADIUS's STORE) after it, which
        // the first and the last specs describe.
        None => keys_fallback(m, argv)
            .into_iter()
            .enumerate()
            .map(|(i, pos)| {
                let spec = if i == 0 {
                    m.key_specs.first()
                } else {
                    m.key_specs.last()
                };
                (pos, spec)
            })
            .collect(),
    }
}

/// `COMMAND GETKEYSANDFLAGS`: the key positions [`get_keys`] finds (with
/// its errors), each with the flags upstream reports for it — its key
/// spec's, or for the commands whose spec says `variable_flags` (`SET`,
/// `BITFIELD`) the ones these arguments give.
pub fn get_keys_and_flags(
    m: &CommandMeta,
    argv: &[Bytes],
) -> Result<Vec<(usize, Vec<&'static str>)>, &'static str> {
    get_keys(m, argv)?;
    Ok(keys_with_specs(m, argv)
        .into_iter()
        .map(|(pos, spec)| (pos, key_flags(m, argv, spec)))
        .collect())
}

/// The flags of one key, in upstream's reply order.
fn key_flags(m: &CommandMeta, argv: &[Bytes], spec: Option<&KeySpec>) -> Vec<&'static str> {
    const ORDER: [&str; 9] = [
        "RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
    ];
    let Some(spec) = spec else {
        return Vec::new();
    };
    if spec.has_flag("variable_flags") {
        if let Some(f) = variable_key_flags(m, argv) {
            return f.names().to_vec();
        }
    }
    // The per-command extractions give their keys definite flags: an
    // `incomplete` spec's marker is not among them.
    ORDER
        .iter()
        .copied()
        .filter(|f| spec.flags.iter().any(|g| g == f))
        .collect()
}

/// The flags upstream's key functions give the key of a command whose
/// spec says `variable_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VariableFlags {
    /// `RW access update`: `SET … GET`, a writing `BITFIELD`.
    ReadWrite,
    /// `OW update`: a plain `SET`.
    Overwrite,
    /// `RO access`: a `BITFIELD` with only `GET`/`OVERFLOW`.
    ReadOnly,
}

impl VariableFlags {
    /// The flag names, in `COMMAND GETKEYSANDFLAGS` order.
    pub(crate) fn names(self) -> &'static [&'static str] {
        match self {
            VariableFlags::ReadWrite => &["RW", "access", "update"],
            VariableFlags::Overwrite => &["OW", "update"],
            VariableFlags::ReadOnly => &["RO", "access"],
        }
    }

    /// Whether the key is read (`access`).
    pub(crate) fn reads(self) -> bool {
        self != VariableFlags::Overwrite
    }

    /// Whether the key is written (`insert`, `delete` or `update`).
    pub(crate) fn writes(self) -> bool {
        self != VariableFlags::ReadOnly
    }
}

/// What upstream's key functions report for `SET` (reads with `GET`) and
/// `BITFIELD` (writes unless it only has `GET` and `OVERFLOW`).
pub(crate) fn variable_key_flags(m: &CommandMeta, argv: &[Bytes]) -> Option<VariableFlags> {
    let is = |a: &Bytes, w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    match m.name.as_str() {
        "set" => Some(if argv.iter().skip(3).any(|a| is(a, "get")) {
            VariableFlags::ReadWrite
        } else {
            VariableFlags::Overwrite
        }),
        "bitfield" => {
            let mut j = 2;
            while j < argv.len() {
                let rem = argv.len() - j - 1;
                let a = &argv[j];
                if is(a, "get") && rem >= 2 {
                    j += 2;
                } else if is(a, "overflow") && rem >= 1 {
                    j += 1;
                } else {
                    return Some(VariableFlags::ReadWrite);
                }
                j += 1;
            }
            Some(VariableFlags::ReadOnly)
        }
        _ => None,
    }
}

/// [`keys_from_specs`] with the index of the spec of each key.
fn spec_keys(m: &CommandMeta, argv: &[Bytes]) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    each_spec_key(m, argv, |pos, spec| out.push((pos, spec)))?;
    Some(out)
}

/// Calls `f` with the position of each key the specs find and the index
/// of its spec, in order, allocating nothing (the per-command checks run
/// it). None when a spec cannot be applied: `f` may have been called for
/// the keys of the specs before it, which the caller then drops.
pub(crate) fn each_spec_key(
    m: &CommandMeta,
    argv: &[Bytes],
    mut f: impl FnMut(usize, usize),
) -> Option<()> {
    let argc = i64::try_from(argv.len()).ok()?;
    let arg = |i: i64| usize::try_from(i).ok().and_then(|i| argv.get(i));
    for (spec_idx, spec) in m.key_specs.iter().enumerate() {
        if spec.has_bits(KeySpec::NOT_KEY) {
            continue;
        }
        // The reference does not trust incomplete specs for extraction.
        if spec.has_bits(KeySpec::INCOMPLETE) {
            return None;
        }
        let mut first = match &spec.begin_search {
            BeginSearch::Index(i) => *i,
            BeginSearch::Keyword { keyword, startfrom } => {
                // The keyword must be followed by something (so the last
                // argument is never checked); backwards searches stop
                // before the command name's neighbour at index 1.
                let found = if *startfrom > 0 {
                    (*startfrom..argc - 1).find(|&i| {
                        arg(i).is_some_and(|a| a.eq_ignore_ascii_case(keyword.as_bytes()))
                    })
                } else {
                    (2..=argc + startfrom).rev().find(|&i| {
                        arg(i).is_some_and(|a| a.eq_ignore_ascii_case(keyword.as_bytes()))
                    })
                };
                match found {
                    Some(i) => i + 1,
                    // An optional keyword that is absent: no keys from here.
                    None => continue,
                }
            }
            BeginSearch::Unknown => return None,
        };
        let (last, step) = match &spec.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if *lastkey >= 0 {
                    first + lastkey
                } else if *limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, *keystep)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                if *keynumidx >= argc - first {
                    return None;
                }
                let n = parse_strict(arg(first + keynumidx)?)?;
                if n < 0 {
                    return None;
                }
                first += firstkey;
                (first.checked_add(n)?.checked_sub(1)?, *keystep)
            }
            FindKeys::Unknown => return None,
        };
        if first < 1 || first >= argc || last >= argc || last < first {
            return None;
        }
        let step = usize::try_from(step.max(1)).unwrap_or(1);
        if let (Ok(first), Ok(last)) = (usize::try_from(first), usize::try_from(last)) {
            for pos in (first..=last).step_by(step) {
                f(pos, spec_idx);
            }
        }
    }
    Some(())
}

/// Per-command extraction for when the specs cannot be applied; mirrors the
/// behaviour of the reference's dedicated key functions (observed through
/// `COMMAND GETKEYS`). Commands without one have no keys in that case.
fn keys_fallback(m: &CommandMeta, argv: &[Bytes]) -> Vec<usize> {
    let argc = argv.len();
    let is = |i: usize, w: &str| {
        argv.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    match m.name.as_str() {
        "sort" => {
            // Skip the arguments of BY/GET/LIMIT so a pattern named "store"
            // is not mistaken for the option; the last STORE wins.
            let mut keys = vec![1];
            let mut store = None;
            let mut i = 2;
            while i < argc {
                if is(i, "limit") {
                    i += 2;
                } else if is(i, "get") || is(i, "by") {
                    i += 1;
                } else if is(i, "store") {
                    if i + 1 < argc {
                        store = Some(i + 1);
                    }
                    i += 1;
                }
                i += 1;
            }
            keys.extend(store);
            keys
        }
        "sort_ro" => vec![1],
        "migrate" => {
            // One key at 3 unless KEYS (with at least one name) follows, in
            // which case the key slot must be empty and KEYS lists them.
            let mut i = 6;
            while i < argc {
                if is(i, "auth") {
                    i += 1;
                } else if is(i, "auth2") {
                    i += 2;
                } else if is(i, "keys") && i + 1 < argc {
                    if argv.get(3).is_some_and(|k| !k.is_empty()) {
                        return Vec::new();
                    }
                    return (i + 1..argc).collect();
                }
                i += 1;
            }
            vec![3]
        }
        "georadius" | "georadiusbymember" => {
            // The key, then the last STORE/STOREDIST that has an argument,
            // looked for where the options start (the specs' startfrom).
            let start = m
                .key_specs
                .iter()
                .find_map(|s| match &s.begin_search {
                    BeginSearch::Keyword { startfrom, .. } => usize::try_from(*startfrom).ok(),
                    _ => None,
                })
                .unwrap_or(2);
            let mut keys = vec![1];
            let mut store = None;
            let mut i = start;
            while i < argc {
                if (is(i, "store") || is(i, "storedist")) && i + 1 < argc {
                    store = Some(i + 1);
                    i += 1;
                }
                i += 1;
            }
            keys.extend(store);
            keys
        }
        "xread" | "xreadgroup" => {
            // Half of what follows STREAMS are keys; it must be even.
            let Some(pos) = (1..argc).find(|&i| is(i, "streams")) else {
                return Vec::new();
            };
            let n = argc - pos - 1;
            if n == 0 || n % 2 != 0 {
                return Vec::new();
            }
            (pos + 1..=pos + n / 2).collect()
        }
        _ => keynum_fallback(m, argv),
    }
}

/// Lenient numkeys extraction for commands with a keynum spec: the count is
/// read like C `atoi`, the counted keys come first and fixed keys (e.g. the
/// destination of ZUNIONSTORE) after them; a bad count means no keys.
fn keynum_fallback(m: &CommandMeta, argv: &[Bytes]) -> Vec<usize> {
    let Ok(argc) = i64::try_from(argv.len()) else {
        return Vec::new();
    };
    let mut counted = None;
    let mut fixed = Vec::new();
    for spec in &m.key_specs {
        match (&spec.begin_search, &spec.find_keys) {
            (
                BeginSearch::Index(idx),
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    keystep,
                },
            ) => counted = Some((*idx, *keynumidx, *firstkey, *keystep)),
            (BeginSearch::Index(idx), FindKeys::Range { lastkey: 0, .. }) => fixed.push(*idx),
            _ => {}
        }
    }
    let Some((idx, keynumidx, firstkey, keystep)) = counted else {
        return Vec::new();
    };
    let Some(raw) = usize::try_from(idx + keynumidx)
        .ok()
        .and_then(|i| argv.get(i))
    else {
        return Vec::new();
    };
    let n = parse_lenient(raw);
    let first = idx + firstkey;
    if n < 1 || n > argc - first {
        return Vec::new();
    }
    let mut out = Vec::new();
    push_range(&mut out, first, first + (n - 1) * keystep.max(1), keystep);
    out.extend(
        fixed
            .into_iter()
            .filter(|&i| i >= 1 && i < argc)
            .filter_map(|i| usize::try_from(i).ok()),
    );
    out
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
