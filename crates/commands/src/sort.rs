//! `SORT` and `SORT_RO` (upstream `sort.c`).
//!
//! Sorts the elements of a list, set or sorted set, numerically by default
//! (each element, or the value its `BY` pattern names, read like C's
//! `strtod`) or as strings with `ALPHA`. `BY` with a pattern that has no
//! `*` means "don't sort": lists and sorted sets then keep their own order
//! (reversed by `DESC`). `GET` patterns fetch other keys or hash fields per
//! element; `STORE` saves the result as a list.
//!
//! Observable upstream details kept here: a sorted set in the listpack
//! encoding is converted to a skiplist by any SORT on it; an unsorted set is
//! sorted alphabetically anyway when the result is stored (so replicas see
//! the same list); a missing `BY` key sorts as 0 (or first under `ALPHA`).

use std::cmp::Ordering;

use bytes::Bytes;
use redis_storage::list::ListValue;
use redis_storage::zset::{Limits, ZSetValue};
use redis_storage::Value;

use crate::args::{is, Args};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The SORT commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

/// Parsed options.
#[derive(Default)]
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a Bytes>,
    by: Option<&'a Bytes>,
    dont_sort: bool,
    gets: Vec<&'a Bytes>,
}

impl<'a> Opts<'a> {
    /// Parses the options after the key; an option missing its values is
    /// a syntax error, SORT_RO knows no STORE.
    /// `full_access`: the user may read every key (else BY and GET are
    /// refused, as upstream).
    fn parse(mut a: Args<'a>, read_only: bool, full_access: bool) -> Result<Opts<'a>, CmdError> {
        let mut o = Opts {
            limit_count: -1,
            ..Opts::default()
        };
        while let Some(opt) = a.next_opt() {
            let left = a.len();
            if is(opt, "asc") {
                o.desc = false;
            } else if is(opt, "desc") {
                o.desc = true;
            } else if is(opt, "alpha") {
                o.alpha = true;
            } else if is(opt, "limit") && left >= 2 {
                o.limit_start = a.int()?;
                o.limit_count = a.int()?;
            } else if !read_only && is(opt, "store") && left >= 1 {
                o.store = Some(a.key()?);
            } else if is(opt, "by") && left >= 1 {
                let p = a.bytes()?;
                if !full_access {
                    return Err(CmdError::fixed(
                        "ERR BY option of SORT denied due to insufficient ACL permissions.",
                    ));
                }
                // A pattern that names no key per element cannot order
                // anything: it only means "keep the natural order".
                o.dont_sort = !p.contains(&b'*');
                o.by = Some(p);
            } else if is(opt, "get") && left >= 1 {
                if !full_access {
                    return Err(CmdError::fixed(
                        "ERR GET option of SORT denied due to insufficient ACL permissions.",
                    ));
                }
                o.gets.push(a.bytes()?);
            } else {
                return Err(SYNTAX);
            }
        }
        Ok(o)
    }
}

/// Resolves a `BY`/`GET` pattern for one element (upstream
/// `lookupKeyByPattern`): `#` is the element itself; otherwise the first
/// `*` is replaced by the element, and a `->field` suffix after it reads
/// that field of a hash instead of a string value.
fn lookup_pattern(ctx: &mut Ctx, pattern: &[u8], elem: &Bytes) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(elem.clone());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = pattern.get(star + 1..).unwrap_or(&[]);
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(f) if f + 2 < after.len() => (&after[..f], Some(&after[f + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    // Read lookups even for STORE: 7.0 counts these in keyspace_hits and
    // keyspace_misses either way.
    let e = ctx.st.ks.lookup_read(db, &key, now, lru)?;
    match (&e.value, field) {
        (Value::Hash(h), Some(f)) => h.get(f).map(Bytes::copy_from_slice),
        (Value::Str(s), None) => Some(s.to_bytes()),
        _ => None,
    }
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `f * 2^e` with at most one rounding for representable results.
fn ldexp(mut f: f64, mut e: i64) -> f64 {
    let pow2 = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    while e > 1000 && f.is_finite() {
        f *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 && f != 0.0 {
        f *= pow2(-1000);
        e += 1000;
    }
    if f == 0.0 || !f.is_finite() {
        return f;
    }
    f * pow2(e)
}

/// The hexadecimal form of `strtod` (`0x1.8p3`), `s` starting after the
/// `0x`. Returns the value, the bytes used and whether it is out of range
/// (overflow, or an inexact result below the normal range).
fn parse_hex(s: &[u8]) -> Option<(f64, usize, bool)> {
    let hex = |c: u8| (c as char).to_digit(16).map(u64::from);
    let (mut m, mut e, mut sticky, mut digits) = (0u64, 0i64, false, 0usize);
    let mut i = 0;
    let mut seen_dot = false;
    while let Some(&c) = s.get(i) {
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = hex(c) {
            digits += 1;
            if m < 1 << 60 {
                m = m * 16 + d;
                if seen_dot {
                    e -= 4;
                }
            } else {
                sticky |= d != 0;
                if !seen_dot {
                    e += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut k = i + 1;
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
        let start = k;
        let mut x: i64 = 0;
        while let Some(d) = s.get(k).filter(|c| c.is_ascii_digit()) {
            x = (x * 10 + i64::from(d - b'0')).min(1 << 40);
            k += 1;
        }
        if k > start {
            e += if neg { -x } else { x };
            i = k;
        }
    }
    if m == 0 {
        return Some((0.0, i, false));
    }
    if sticky {
        // Below the rounding position: only breaks ties.
        m |= 1;
    }
    let v = ldexp(m as f64, e);
    let tz = i64::from(m.trailing_zeros());
    let tiny = v.abs() < f64::MIN_POSITIVE;
    let inexact_tiny = tiny && (sticky || e + tz < -1074);
    Some((v, i, v.is_infinite() || inexact_tiny))
}

/// Reads a score the way upstream's SORT uses `strtod`: leading C spaces,
/// decimal or hexadecimal forms, `inf`/`infinity`; the whole string must
/// be used (up to a NUL byte), and NaN or out-of-range values (`ERANGE`)
/// are errors. The empty string is 0.
fn parse_score(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    while s.get(i).is_some_and(|&c| is_c_space(c)) {
        i += 1;
    }
    let num_start = i;
    let neg = match s.get(i) {
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
    let rest = s.get(i..).unwrap_or(&[]);
    let starts = |p: &[u8]| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
    let sign = if neg { -1.0 } else { 1.0 };
    // (value, end, out of range); `None` = nothing converted.
    let parsed: Option<(f64, usize, bool)> = if starts(b"infinity") {
        Some((f64::INFINITY * sign, i + 8, false))
    } else if starts(b"inf") {
        Some((f64::INFINITY * sign, i + 3, false))
    } else if starts(b"nan") {
        // NaN is refused whatever follows.
        return None;
    } else if (starts(b"0x") || starts(b"0X")) && parse_hex(&rest[2..]).is_some() {
        parse_hex(&rest[2..]).map(|(v, n, r)| (v * sign, i + 2 + n, r))
    } else {
        let mut k = i;
        let mut digits = 0;
        let mut nonzero = false;
        let mut seen_dot = false;
        while let Some(&c) = s.get(k) {
            if c.is_ascii_digit() {
                digits += 1;
                nonzero |= c != b'0';
            } else if c == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            k += 1;
        }
        if digits == 0 {
            None
        } else {
            if matches!(s.get(k), Some(b'e' | b'E')) {
                let mut x = k + 1;
                if matches!(s.get(x), Some(b'+' | b'-')) {
                    x += 1;
                }
                if s.get(x).is_some_and(u8::is_ascii_digit) {
                    while s.get(x).is_some_and(u8::is_ascii_digit) {
                        x += 1;
                    }
                    k = x;
                }
            }
            let text = std::str::from_utf8(s.get(num_start..k).unwrap_or(&[])).ok()?;
            // Rust's grammar rejects a lone trailing/leading dot only when
            // there are no digits, which was excluded above.
            let v: f64 = text.parse().ok()?;
            let tiny = nonzero && v.abs() < f64::MIN_POSITIVE;
            Some((v, k, v.is_infinite() || tiny))
        }
    };
    match parsed {
        // Nothing converted: strtod points back at the very start.
        None => match s.first() {
            None | Some(0) => Some(0.0),
            Some(_) => None,
        },
        Some((v, end, out_of_range)) => {
            let tail_ok = matches!(s.get(end), None | Some(0));
            (tail_ok && !out_of_range && !v.is_nan()).then_some(v)
        }
    }
}

/// Compares like C's `strcmp` (upstream compares with `strcoll` in the
/// C locale): bytes up to the first NUL.
fn c_string_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let cut = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    a[..cut(a)].cmp(&b[..cut(b)])
}

/// One element to sort with its sort key.
struct Item {
    elem: Bytes,
    score: f64,
    cmp: Option<Bytes>,
}

/// # Format
/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern
///  ...]] [ASC | DESC] [ALPHA] [STORE destination]`
pub fn sort(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

/// # Format
/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET
///  pattern ...]] [ASC | DESC] [ALPHA]`
pub fn sort_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The elements to sort, in the container's own order, and its kind.
enum Source {
    List,
    Set,
    ZSet,
}

/// SORT and SORT_RO: parse, check the source's type, load the elements
/// (only the LIMIT range when nothing is sorted), sort, then reply or store.
fn sort_generic(ctx: &mut Ctx, argv: &[Bytes], read_only: bool) -> CmdResult {
    let full_access = ctx.st.acl_full_key_read(ctx.client, argv);
    let mut o = Opts::parse(Args::new(&argv[2..]), read_only, full_access)?;
    let key = &argv[1];
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    let kind = {
        match ctx.st.ks.lookup_read(db, key, now, lru).map(|e| &e.value) {
            None | Some(Value::List(_)) => Source::List,
            Some(Value::Set(_)) => Source::Set,
            Some(Value::ZSet(_)) => Source::ZSet,
            Some(_) => return Err(WRONGTYPE),
        }
    };
    // A stored result, or one a script sees, must not depend on a set's
    // internal order (replicas and AOF replay must get the same result).
    let for_script = ctx.caller == redis_engine::dispatch::Caller::Script;
    if o.dont_sort && matches!(kind, Source::Set) && (o.store.is_some() || for_script) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    if matches!(kind, Source::ZSet) {
        to_skiplist(ctx, key);
    }
    let total = match ctx.st.ks.dbs[db].get(key).map(|e| &e.value) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    let (mut start, mut end) = limit_range(&o, total);

    // Lists and sorted sets that are not sorted only load the selected
    // range, in their own order (backwards for DESC).
    let ranged = o.dont_sort && !matches!(kind, Source::Set);
    let elems = load_elems(ctx, key, ranged, o.desc, start, end);
    if ranged && end >= start {
        // The loaded vector already is the selected range.
        end -= start;
        start = 0;
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    let conversion_error = !o.dont_sort && !sort_items(ctx, &mut items, &o);

    let count = (end - start + 1).max(0);
    let output_len = o.gets.len().max(1) as i64 * count;
    if conversion_error {
        return Err(CmdError::fixed(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let selected = items
        .get(start.max(0) as usize..(start + count).max(0) as usize)
        .unwrap_or(&[]);
    match o.store {
        None => {
            ctx.array(output_len as usize);
            for it in selected {
                if o.gets.is_empty() {
                    ctx.bulk(&it.elem);
                }
                for g in &o.gets {
                    match lookup_pattern(ctx, g, &it.elem) {
                        Some(v) => ctx.bulk(&v),
                        None => ctx.null(),
                    }
                }
            }
        }
        Some(dest) => {
            let mut out: Vec<Bytes> = Vec::with_capacity(output_len as usize);
            for it in selected {
                if o.gets.is_empty() {
                    out.push(it.elem.clone());
                }
                for g in &o.gets {
                    out.push(lookup_pattern(ctx, g, &it.elem).unwrap_or_default());
                }
            }
            store_sorted(ctx, dest, &out);
            ctx.int(output_len);
        }
    }
    Ok(())
}

/// The inclusive `[start, end]` ranks LIMIT selects among `total` elements,
/// as upstream: an offset past the end selects nothing.
fn limit_range(o: &Opts, total: i64) -> (i64, i64) {
    let mut start = o.limit_start.max(0);
    let mut end = if o.limit_count < 0 {
        total - 1
    } else {
        start.saturating_add(o.limit_count) - 1
    };
    if start >= total {
        start = total - 1;
        end = total - 2;
    }
    if end >= total {
        end = total - 1;
    }
    (start, end)
}

/// The elements of `key`: all of them, or with `ranged` only ranks
/// `start..=end` of a list or sorted set in its own order (reversed by
/// `desc`).
fn load_elems(ctx: &Ctx, key: &[u8], ranged: bool, desc: bool, start: i64, end: i64) -> Vec<Bytes> {
    let value = ctx.st.ks.dbs[ctx.db()].get(key).map(|e| &e.value);
    match value {
        Some(Value::List(_) | Value::ZSet(_)) if ranged && end < start => Vec::new(),
        Some(Value::List(l)) if ranged => {
            let (s, e) = (start as usize, end as usize);
            let n = l.len();
            if desc {
                l.range(n - 1 - e, n - 1 - s)
                    .rev()
                    .map(Bytes::copy_from_slice)
                    .collect()
            } else {
                l.range(s, e).map(Bytes::copy_from_slice).collect()
            }
        }
        Some(Value::ZSet(z)) if ranged => {
            let (s, e) = (start as usize, end as usize);
            let n = z.len();
            if desc {
                let mut v: Vec<Bytes> =
                    z.range(n - 1 - e, n - s).into_iter().map(|x| x.0).collect();
                v.reverse();
                v
            } else {
                z.range(s, e + 1).into_iter().map(|x| x.0).collect()
            }
        }
        Some(Value::List(l)) => l.iter().map(Bytes::copy_from_slice).collect(),
        Some(Value::Set(s)) => s.iter().map(|m| m.to_bytes()).collect(),
        Some(Value::ZSet(z)) => z.to_vec().into_iter().map(|x| x.0).collect(),
        _ => Vec::new(),
    }
}

/// Computes each item's sort key (through BY) and sorts; false if a
/// numeric sort met a value that is not a number (the sort still runs, as
/// upstream, which reports the error afterwards).
fn sort_items(ctx: &mut Ctx, items: &mut [Item], o: &Opts) -> bool {
    let mut ok = true;
    for it in items.iter_mut() {
        let by_val = match o.by {
            Some(p) => match lookup_pattern(ctx, p, &it.elem) {
                Some(v) => v,
                None => continue,
            },
            None => it.elem.clone(),
        };
        if o.alpha {
            if o.by.is_some() {
                it.cmp = Some(by_val);
            }
        } else {
            match parse_score(&by_val) {
                Some(v) => it.score = v,
                None => ok = false,
            }
        }
    }
    let (alpha, by, store) = (o.alpha, o.by.is_some(), o.store.is_some());
    let cmp = |a: &Item, b: &Item| -> Ordering {
        let c = if !alpha {
            a.score
                .partial_cmp(&b.score)
                .filter(|c| c.is_ne())
                .unwrap_or_else(|| a.elem.cmp(&b.elem))
        } else if by {
            match (&a.cmp, &b.cmp) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) if store => x.cmp(y),
                (Some(x), Some(y)) => c_string_cmp(x, y),
            }
        } else if store {
            a.elem.cmp(&b.elem)
        } else {
            c_string_cmp(&a.elem, &b.elem)
        };
        if o.desc {
            c.reverse()
        } else {
            c
        }
    };
    items.sort_by(cmp);
    ok
}

/// STORE: the result replaces `dest` as a list; an empty result deletes it.
fn store_sorted(ctx: &mut Ctx, dest: &Bytes, out: &[Bytes]) {
    let (db, lru) = (ctx.db(), ctx.lru());
    if out.is_empty() {
        if ctx.st.ks.dbs[db].delete(dest) {
            ctx.changed(1);
            ctx.key_event(db, dest, 'g', "del");
        }
    } else {
        let mut l = ListValue::new();
        l.extend_back(out);
        ctx.st.ks.dbs[db].set(dest, Value::List(l), false, lru);
        ctx.changed(out.len() as u64);
        ctx.key_event(db, dest, 'l', "sortstore");
    }
}

/// Upstream converts a listpack sorted set to a skiplist before sorting
/// it, which `OBJECT ENCODING` shows afterwards; do the same.
fn to_skiplist(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let limits = Limits {
        max_entries: 0,
        max_value: 0,
    };
    let Some(e) = ctx.st.ks.dbs[db].get_mut(key) else {
        return;
    };
    let Value::ZSet(z) = &mut e.value else {
        return;
    };
    if z.encoding() == "skiplist" {
        return;
    }
    let mut big = ZSetValue::with_hint(usize::MAX, usize::MAX, limits);
    z.for_each(|m, s| {
        big.insert(m, s, limits);
    });
    *z = big;
}

#[cfg(test)]
#[path = "sort_tests.rs"]
mod tests;
