//! Geospatial commands (upstream `geo.c`, `geohash.c`,
//! `geohash_helper.c`): `GEOADD`, `GEODIST`, `GEOHASH`, `GEOPOS`,
//! `GEOSEARCH`, `GEOSEARCHSTORE`, `GEORADIUS`, `GEORADIUSBYMEMBER` and the
//! `_RO` variants.
//!
//! # Model
//! Positions live in ordinary sorted sets: the score of a member is its
//! 52-bit geohash — 26 bits of longitude (range -180..180) and 26 of
//! latitude (range ±85.05112878, the Web Mercator limit) interleaved, the
//! latitude in the even bits. Because the interleaving keeps nearby cells
//! in nearby score ranges, a search looks at the cell containing the
//! centre, at a resolution chosen from the radius, plus its eight
//! neighbours, and filters each cell's score range by the exact distance.
//!
//! The cell choice, the neighbour order and the distance formula follow
//! upstream step by step: which cells are scanned, and in which order,
//! shows in unsorted replies and in what a search near a cell edge finds,
//! and the floating-point formulas decide what prints. Decoded coordinates
//! print like upstream's `addReplyHumanLongDouble` (17 decimals, trailing
//! zeros removed; RESP3 doubles), distances with `%.4f`.

use std::cmp::Ordering;

use bytes::{BufMut, Bytes};
use redis_resp::Protocol;
use redis_storage::zset::{Limits, ZSetValue};
use redis_storage::Value;

use crate::args::{self, is, Args};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult, NOT_FLOAT, SYNTAX, WRONGTYPE};
use redis_engine::table::Handler;

/// The geospatial commands and their handlers.
pub const COMMANDS: &[(&str, Handler)] = &[
    ("geoadd", geoadd),
    ("geodist", geodist),
    ("geohash", geohash),
    ("geopos", geopos),
    ("geosearch", geosearch),
    ("geosearchstore", geosearchstore),
    ("georadius", georadius),
    ("georadius_ro", georadius_ro),
    ("georadiusbymember", georadiusbymember),
    ("georadiusbymember_ro", georadiusbymember_ro),
];

// ---------------------------------------------------------------------------
// Geohash arithmetic

const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const LAT_MIN: f64 = -85.051_128_78;
const LAT_MAX: f64 = 85.051_128_78;
/// Resolution of stored positions (bits per coordinate).
const STEP_MAX: u8 = 26;
const EARTH_RADIUS_IN_METERS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;
const R_D: f64 = 180.0 / std::f64::consts::PI;

#[derive(Clone, Copy, Debug)]
struct Range {
    min: f64,
    max: f64,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A cell: `step` bits per coordinate, interleaved in `bits`. The zero
/// value (`bits` and `step` both 0) marks an excluded neighbour.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Hash {
    bits: u64,
    step: u8,
}

impl Hash {
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug)]
struct Area {
    lon: Range,
    lat: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` into the low 32 bits.
fn squash(v: u64) -> u64 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    (x | (x >> 16)) & 0x0000_0000_ffff_ffff
}

/// Latitude cell in the even bits, longitude cell in the odd bits.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// Inverse of [`interleave`]: latitude in the low half, longitude high.
fn deinterleave(v: u64) -> u64 {
    squash(v) | (squash(v >> 1) << 32)
}

/// The cell of a point at `step` bits of resolution; `None` outside the
/// indexable area or the ranges.
fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Hash {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

/// The rectangle a cell covers; `None` for the zero cell.
fn decode(hash: Hash) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave(hash.bits);
    let lat_scale = LAT_RANGE.max - LAT_RANGE.min;
    let lon_scale = LONG_RANGE.max - LONG_RANGE.min;
    let ilat = sep as u32;
    let ilon = (sep >> 32) as u32;
    let div = (1u64 << hash.step.min(63)) as f64;
    Some(Area {
        lat: Range {
            min: LAT_RANGE.min + (f64::from(ilat) / div) * lat_scale,
            max: LAT_RANGE.min + (f64::from(ilat.wrapping_add(1)) / div) * lat_scale,
        },
        lon: Range {
            min: LONG_RANGE.min + (f64::from(ilon) / div) * lon_scale,
            max: LONG_RANGE.min + (f64::from(ilon.wrapping_add(1)) / div) * lon_scale,
        },
    })
}

/// The centre of a cell, clamped to the valid ranges.
fn area_center(a: &Area) -> [f64; 2] {
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [lon, lat]
}

/// The 52-bit score of a position.
fn score_of(lon: f64, lat: f64) -> Option<f64> {
    let h = encode(LONG_RANGE, LAT_RANGE, lon, lat, STEP_MAX)?;
    Some(h.bits as f64)
}

/// C's `(uint64_t)` cast of a double as x86-64 compilers emit it (scores
/// set with `ZADD` can be negative or huge; the cast decides which cell
/// such a score decodes to, and upstream's replies show it).
fn c_double_to_u64(x: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    // `cvttsd2si` yields this "integer indefinite" value when out of range.
    const INDEFINITE: u64 = 1 << 63;
    let cvt = |v: f64| {
        if (-TWO63..TWO63).contains(&v) {
            v as i64 as u64
        } else {
            INDEFINITE
        }
    };
    if x >= TWO63 {
        cvt(x - TWO63) ^ (1 << 63)
    } else {
        cvt(x)
    }
}

/// The position (centre of the 26-bit cell) a score stands for.
fn decode_score(score: f64) -> [f64; 2] {
    let h = Hash {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    decode(h).map_or([0.0, 0.0], |a| area_center(&a))
}

/// Moves a cell one step east (`d > 0`) or west: longitude bits only.
fn move_x(h: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64.checked_shr(shift).unwrap_or(0);
    h.bits = x | y;
}

/// Moves a cell one step north (`d > 0`) or south: latitude bits only.
fn move_y(h: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        y = y.wrapping_add(zz.wrapping_add(1));
    } else {
        y |= zz;
        y = y.wrapping_sub(zz.wrapping_add(1));
    }
    y &= 0x5555_5555_5555_5555u64.checked_shr(shift).unwrap_or(0);
    h.bits = x | y;
}

fn moved(h: Hash, dx: i8, dy: i8) -> Hash {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// The eight neighbours of a cell.
#[derive(Clone, Copy, Debug, Default)]
struct Neighbors {
    north: Hash,
    south: Hash,
    east: Hash,
    west: Hash,
    north_east: Hash,
    north_west: Hash,
    south_east: Hash,
    south_west: Hash,
}

fn neighbors(h: Hash) -> Neighbors {
    Neighbors {
        east: moved(h, 1, 0),
        west: moved(h, -1, 0),
        south: moved(h, 0, -1),
        north: moved(h, 0, 1),
        north_west: moved(h, -1, 1),
        south_west: moved(h, -1, -1),
        north_east: moved(h, 1, 1),
        south_east: moved(h, 1, -1),
    }
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (lat2 * D_R - lat1 * D_R).abs()
}

/// Great-circle distance in meters (haversine), as upstream computes it.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = lon1 * D_R;
    let lon2r = lon2 * D_R;
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = lat1 * D_R;
    let lat2r = lat2 * D_R;
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// Cell resolution for a search of `range` meters at latitude `lat`.
fn estimate_steps(range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut range = range;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Radius, in the request's unit.
    Circle(f64),
    /// Width and height, in the request's unit.
    Box(f64, f64),
}

#[derive(Clone, Copy, Debug)]
struct Search {
    center: [f64; 2],
    shape: Shape,
    /// Meters per unit.
    conversion: f64,
}

impl Search {
    /// Distance from the centre if the point is inside the shape.
    fn within(&self, xy: [f64; 2]) -> Option<f64> {
        let [x1, y1] = self.center;
        let [x2, y2] = xy;
        match self.shape {
            Shape::Circle(r) => {
                let d = distance(x1, y1, x2, y2);
                (d <= r * self.conversion).then_some(d)
            }
            Shape::Box(w, h) => {
                if lat_distance(y2, y1) > h * self.conversion / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > w * self.conversion / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, x2, y2))
            }
        }
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` of the searched area.
    fn bounding_box(&self) -> [f64; 4] {
        let [lon, lat] = self.center;
        let (h, w) = match self.shape {
            Shape::Circle(r) => (r, r),
            Shape::Box(w, h) => (h / 2.0, w / 2.0),
        };
        let height = self.conversion * h;
        let width = self.conversion * w;
        let lat_delta = (height / EARTH_RADIUS_IN_METERS) * R_D;
        let long_delta_top =
            (width / EARTH_RADIUS_IN_METERS / ((lat + lat_delta) * D_R).cos()) * R_D;
        let long_delta_bottom =
            (width / EARTH_RADIUS_IN_METERS / ((lat - lat_delta) * D_R).cos()) * R_D;
        let southern = lat < 0.0;
        let min_lon = if southern {
            lon - long_delta_bottom
        } else {
            lon - long_delta_top
        };
        let max_lon = if southern {
            lon + long_delta_bottom
        } else {
            lon + long_delta_top
        };
        [min_lon, lat - lat_delta, max_lon, lat + lat_delta]
    }

    /// The centre cell and the neighbours worth scanning, in upstream's scan
    /// order (centre, N, S, E, W, NE, NW, SE, SW); excluded ones are zero.
    fn cells(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let [lon, lat] = self.center;
        let radius = match self.shape {
            Shape::Circle(r) => r,
            Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = estimate_steps(radius, lat);
        let locate = |steps: u8| {
            let hash = encode(LONG_RANGE, LAT_RANGE, lon, lat, steps).unwrap_or_default();
            let n = neighbors(hash);
            (hash, n, decode(hash))
        };
        let (mut hash, mut n, mut area) = locate(steps);

        // A cell too coarse near the edge of the area: one level up.
        let decrease = decode(n.north).is_some_and(|a| a.lat.max < max_lat)
            || decode(n.south).is_some_and(|a| a.lat.min > min_lat)
            || decode(n.east).is_some_and(|a| a.lon.max < max_lon)
            || decode(n.west).is_some_and(|a| a.lon.min > min_lon);
        if steps > 1 && decrease {
            steps -= 1;
            (hash, n, area) = locate(steps);
        }

        // Drop the neighbours the searched area cannot reach.
        if let (true, Some(a)) = (steps >= 2, area) {
            let z = Hash::default();
            if a.lat.min < min_lat {
                (n.south, n.south_west, n.south_east) = (z, z, z);
            }
            if a.lat.max > max_lat {
                (n.north, n.north_east, n.north_west) = (z, z, z);
            }
            if a.lon.min < min_lon {
                (n.west, n.south_west, n.north_west) = (z, z, z);
            }
            if a.lon.max > max_lon {
                (n.east, n.south_east, n.north_east) = (z, z, z);
            }
        }
        [
            hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ]
    }
}

/// One search hit.
#[derive(Clone, Debug)]
struct Point {
    member: Bytes,
    score: f64,
    dist: f64,
    xy: [f64; 2],
}

/// Appends the members of `z` inside cell `h` that are within the search,
/// stopping once `limit` (0: none) points were collected.
fn points_in_cell(z: &ZSetValue, h: Hash, s: &Search, out: &mut Vec<Point>, limit: usize) {
    let shift = 52u32.saturating_sub(u32::from(h.step) * 2);
    let min = (h.bits << shift) as f64;
    let max = (h.bits.wrapping_add(1) << shift) as f64;
    let start = z.count_prefix(|sc, _| sc < min);
    let end = z.count_prefix(|sc, _| sc < max);
    for (member, score) in z.range(start, end) {
        let xy = decode_score(score);
        if let Some(dist) = s.within(xy) {
            out.push(Point {
                member,
                score,
                dist,
                xy,
            });
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
    }
}

/// Every member within the search, in scan order.
fn search_points(z: &ZSetValue, s: &Search, limit: usize) -> Vec<Point> {
    let cells = s.cells();
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, &c) in cells.iter().enumerate() {
        if c.is_zero() {
            continue;
        }
        // Huge radii can make neighbours coincide; scan each range once.
        // (Upstream compares with the last scanned cell only when that was
        // not the centre.)
        if let Some(l) = last.filter(|&l| l > 0) {
            if cells.get(l) == Some(&c) {
                continue;
            }
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        points_in_cell(z, c, s, &mut out, limit);
        last = Some(i);
    }
    out
}

// ---------------------------------------------------------------------------
// Partial sort

/// Sorts `v` so that at least positions `lo..=hi` hold what a full sort
/// would put there: Bentley and McIlroy's three-way quicksort ("Engineering
/// a Sort Function", 1993: insertion sort below 7 elements, median of three
/// or Tukey's ninther above 40, equal keys gathered at both ends and swapped
/// to the middle), skipping partitions that lie entirely outside the wanted
/// range. This is the algorithm upstream's `pqsort` uses; implementing the
/// same steps makes the order of equal distances identical.
fn partial_sort<T>(v: &mut [T], lo: usize, hi: usize, cmp: fn(&T, &T) -> Ordering) {
    // Upstream compares byte addresses of the range with those of each
    // partition; any element size gives the same answers, 2 is enough to
    // keep the last byte of an element apart from the next one.
    const ES: usize = 2;
    let lrange = lo * ES;
    let rrange = (hi + 1) * ES - 1;
    let outside = |start: usize, len: usize| {
        let l = start * ES;
        let r = (start + len) * ES - 1;
        (lrange < l && rrange < l) || (lrange > r && rrange > r)
    };
    let mut stack = vec![(0usize, v.len())];
    while let Some((mut a, mut n)) = stack.pop() {
        while let Some(s) = v.get_mut(a..a + n) {
            if n < 7 {
                for m in 1..n {
                    let mut l = m;
                    while l > 0 && cmp(&s[l - 1], &s[l]) == Ordering::Greater {
                        s.swap(l, l - 1);
                        l -= 1;
                    }
                }
                break;
            }
            let mut pm = n / 2;
            if n > 7 {
                let mut pl = 0;
                let mut pn = n - 1;
                if n > 40 {
                    let d = n / 8;
                    pl = med3(s, pl, pl + d, pl + 2 * d, cmp);
                    pm = med3(s, pm - d, pm, pm + d, cmp);
                    pn = med3(s, pn - 2 * d, pn - d, pn, cmp);
                }
                pm = med3(s, pl, pm, pn, cmp);
            }
            s.swap(0, pm);
            // Invariant: [0] pivot, [1..pa) equal, [pa..pb) less,
            // (pc..=pd] greater, (pd..n) equal.
            let (mut pa, mut pb) = (1usize, 1usize);
            let (mut pc, mut pd) = (n as isize - 1, n as isize - 1);
            loop {
                while pb as isize <= pc {
                    let c = cmp(&s[pb], &s[0]);
                    if c == Ordering::Greater {
                        break;
                    }
                    if c == Ordering::Equal {
                        s.swap(pa, pb);
                        pa += 1;
                    }
                    pb += 1;
                }
                while pb as isize <= pc {
                    let c = cmp(&s[pc as usize], &s[0]);
                    if c == Ordering::Less {
                        break;
                    }
                    if c == Ordering::Equal {
                        s.swap(pc as usize, pd as usize);
                        pd -= 1;
                    }
                    pc -= 1;
                }
                if pb as isize > pc {
                    break;
                }
                s.swap(pb, pc as usize);
                pb += 1;
                pc -= 1;
            }
            let r = pa.min(pb - pa);
            vecswap(s, 0, pb - r, r);
            let (pc, pd) = (pc as usize, pd as usize);
            let r = (pd - pc).min(n - pd - 1);
            vecswap(s, pb, n - r, r);
            let left = pb - pa;
            if left > 1 && !outside(a, left) {
                stack.push((a, left));
            }
            let right = pd - pc;
            if right > 1 && !outside(a + n - right, right) {
                a += n - right;
                n = right;
                continue;
            }
            break;
        }
    }
}

fn med3<T>(s: &[T], a: usize, b: usize, c: usize, cmp: fn(&T, &T) -> Ordering) -> usize {
    let lt = |x: usize, y: usize| cmp(&s[x], &s[y]) == Ordering::Less;
    let gt = |x: usize, y: usize| cmp(&s[x], &s[y]) == Ordering::Greater;
    if lt(a, b) {
        if lt(b, c) {
            b
        } else if lt(a, c) {
            c
        } else {
            a
        }
    } else if gt(b, c) {
        b
    } else if lt(a, c) {
        a
    } else {
        c
    }
}

/// Swaps the `n` elements starting at `a` with those starting at `b`.
fn vecswap<T>(s: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        s.swap(a + i, b + i);
    }
}

// ---------------------------------------------------------------------------
// Argument parsing and replies

/// Parses a double like upstream's `getDoubleFromObject`: `strtod` over the
/// whole argument, no leading space, no NaN, and no overflow to infinity or
/// underflow to zero.
fn parse_double(a: &[u8]) -> Option<f64> {
    let v = args::parse_f64(a)?;
    let lower = a.to_ascii_lowercase();
    if v.is_infinite() && !lower.windows(3).any(|w| w == b"inf") {
        return None;
    }
    if v == 0.0 {
        let mantissa = lower.split(|&c| c == b'e').next().unwrap_or_default();
        if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

fn double_or(a: &[u8], e: CmdError) -> Result<f64, CmdError> {
    parse_double(a).ok_or(e)
}

/// `ERR invalid longitude,latitude pair` check of two arguments.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], CmdError> {
    let x = double_or(lon, NOT_FLOAT)?;
    let y = double_or(lat, NOT_FLOAT)?;
    if !(LONG_MIN..=LONG_MAX).contains(&x) || !(LAT_MIN..=LAT_MAX).contains(&y) {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok([x, y])
}

/// Meters per unit.
fn parse_unit(u: &[u8]) -> Result<f64, CmdError> {
    if u.eq_ignore_ascii_case(b"m") {
        Ok(1.0)
    } else if u.eq_ignore_ascii_case(b"km") {
        Ok(1000.0)
    } else if u.eq_ignore_ascii_case(b"ft") {
        Ok(0.3048)
    } else if u.eq_ignore_ascii_case(b"mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::fixed(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// `radius unit`.
fn parse_radius(r: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let d = double_or(r, CmdError::fixed("ERR need numeric radius"))?;
    if d < 0.0 {
        return Err(CmdError::fixed("ERR radius cannot be negative"));
    }
    Ok((d, parse_unit(unit)?))
}

/// `width height unit`.
fn parse_box(w: &[u8], h: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = double_or(w, CmdError::fixed("ERR need numeric width"))?;
    let h = double_or(h, CmdError::fixed("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::fixed("ERR height or width cannot be negative"));
    }
    Ok((w, h, parse_unit(unit)?))
}

/// A distance as upstream's `addReplyDoubleDistance`: `%.4f` in a bulk.
fn reply_distance(ctx: &mut Ctx, d: f64) {
    let s = format!("{d:.4}");
    ctx.bulk(s.as_bytes());
}

/// `%.17Lf` with trailing zeros (and a trailing dot) removed.
fn human_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// A coordinate as upstream's `addReplyHumanLongDouble`: bulk in RESP2,
/// double in RESP3.
fn reply_coord(ctx: &mut Ctx, d: f64) {
    let s = human_double(d);
    match ctx.proto() {
        Protocol::Resp2 => ctx.bulk(s.as_bytes()),
        Protocol::Resp3 => {
            ctx.out.put_u8(b',');
            ctx.out.extend_from_slice(s.as_bytes());
            ctx.out.extend_from_slice(b"\r\n");
        }
    }
}

/// Reads a sorted set for the geo commands: `Ok(None)` if missing.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c ZSetValue>, CmdError> {
    let (db, now, lru) = (ctx.db(), ctx.now, ctx.lru());
    match ctx.st.ks.lookup_read(db, key, now, lru) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

// ---------------------------------------------------------------------------
// Commands

/// # Format
/// `GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]`
///
/// Runs as the `ZADD` it turns into (scores are the geohashes), and is
/// propagated as that `ZADD`.
pub fn geoadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut a = Args::new(&argv[2..]);
    while let Some(i) = a.keyword(&["nx", "xx", "ch"]) {
        match i {
            0 => nx = true,
            1 => xx = true,
            _ => {}
        }
    }
    let longidx = 2 + a.taken();
    let rest = argv.get(longidx..).unwrap_or_default();
    if rest.len() % 3 != 0 || (xx && nx) {
        return Err(SYNTAX);
    }
    let mut zargv: Vec<Bytes> = Vec::with_capacity(longidx + rest.len() / 3 * 2);
    zargv.push(Bytes::from_static(b"zadd"));
    zargv.extend(argv.iter().take(longidx).skip(1).cloned());
    for t in rest.chunks_exact(3) {
        let [lon, lat] = parse_lonlat(&t[0], &t[1])?;
        let score = score_of(lon, lat).unwrap_or(0.0) as u64;
        zargv.push(Bytes::from(score.to_string()));
        zargv.push(t[2].clone());
    }
    crate::zset::zadd(ctx, &zargv)?;
    ctx.propagate_as(zargv);
    Ok(())
}

/// # Format
/// `GEODIST key member1 member2 [M | KM | FT | MI]`
pub fn geodist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let to_meter = match argv.len() {
        5 => parse_unit(&argv[4])?,
        n if n > 5 => return Err(SYNTAX),
        _ => 1.0,
    };
    let scores = match read(ctx, &argv[1])? {
        None => None,
        Some(z) => z.score(&argv[2]).zip(z.score(&argv[3])),
    };
    match scores {
        None => ctx.null(),
        Some((s1, s2)) => {
            let [x1, y1] = decode_score(s1);
            let [x2, y2] = decode_score(s2);
            reply_distance(ctx, distance(x1, y1, x2, y2) / to_meter);
        }
    }
    Ok(())
}

/// # Format
/// `GEOHASH key [member [member ...]]`
///
/// Standard 11-character geohashes (re-encoded with the -90..90 latitude
/// range; the last character is always `0`).
pub fn geohash(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let members = argv.get(2..).unwrap_or_default();
    let scores: Vec<Option<f64>> = match read(ctx, &argv[1])? {
        None => vec![None; members.len()],
        Some(z) => members.iter().map(|m| z.score(m)).collect(),
    };
    ctx.array(scores.len());
    for s in scores {
        let Some(s) = s else {
            ctx.null();
            continue;
        };
        let [lon, lat] = decode_score(s);
        let r_lon = Range {
            min: -180.0,
            max: 180.0,
        };
        let r_lat = Range {
            min: -90.0,
            max: 90.0,
        };
        let bits = encode(r_lon, r_lat, lon, lat, 26).map_or(0, |h| h.bits);
        let mut buf = [b'0'; 11];
        for (i, c) in buf.iter_mut().enumerate().take(10) {
            let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
            *c = ALPHABET.get(idx as usize).copied().unwrap_or(b'0');
        }
        ctx.bulk(&buf);
    }
    Ok(())
}

/// # Format
/// `GEOPOS key [member [member ...]]`
pub fn geopos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let members = argv.get(2..).unwrap_or_default();
    let scores: Vec<Option<f64>> = match read(ctx, &argv[1])? {
        None => vec![None; members.len()],
        Some(z) => members.iter().map(|m| z.score(m)).collect(),
    };
    ctx.array(scores.len());
    for s in scores {
        match s {
            None => ctx.null_array(),
            Some(s) => {
                let [lon, lat] = decode_score(s);
                ctx.array(2);
                reply_coord(ctx, lon);
                reply_coord(ctx, lat);
            }
        }
    }
    Ok(())
}

/// Which command a search runs for (upstream's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS / GEORADIUS_RO.
    Coords {
        ro: bool,
    },
    /// GEORADIUSBYMEMBER / GEORADIUSBYMEMBER_RO.
    Member {
        ro: bool,
    },
    GeoSearch,
    GeoSearchStore,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// The outcome of parsing and searching, computed while the source set is
/// borrowed; replies and stores happen afterwards.
struct Outcome {
    store: Option<(Bytes, bool)>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    /// `None` when the source key does not exist.
    points: Option<Vec<Point>>,
    conversion: f64,
}

/// A parsed GEORADIUS*/GEOSEARCH* request.
struct Query {
    center: [f64; 2],
    /// `None` for GEORADIUSBYMEMBER on a missing key (nothing to search).
    shape: Option<Shape>,
    /// Meters per unit.
    conversion: f64,
    /// The destination and whether it stores distances.
    store: Option<(Bytes, bool)>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    sort: Sort,
    /// 0 = no COUNT.
    count: i64,
}

impl Query {
    /// Parses the center, shape and options of `kind` with upstream's
    /// errors and order. A FROMMEMBER/BYMEMBER member is looked up in `z`
    /// while parsing, as upstream does (its error comes where it appears).
    fn parse(z: Option<&ZSetValue>, argv: &[Bytes], kind: Kind) -> Result<Query, CmdError> {
        let not_found = || CmdError::fixed("ERR could not decode requested zset member");
        let mut q = Query {
            center: [0.0; 2],
            shape: None,
            conversion: 1.0,
            store: None,
            withdist: false,
            withhash: false,
            withcoord: false,
            any: false,
            sort: Sort::None,
            count: 0,
        };
        let base = match kind {
            Kind::Coords { .. } => {
                q.center = parse_lonlat(&argv[2], &argv[3])?;
                let (r, c) = parse_radius(&argv[4], &argv[5])?;
                q.shape = Some(Shape::Circle(r));
                q.conversion = c;
                6
            }
            Kind::Member { .. } => {
                if let Some(z) = z {
                    let s = z.score(&argv[2]).ok_or_else(not_found)?;
                    q.center = decode_score(s);
                    let (r, c) = parse_radius(&argv[3], &argv[4])?;
                    q.shape = Some(Shape::Circle(r));
                    q.conversion = c;
                }
                5
            }
            Kind::GeoSearch => 2,
            Kind::GeoSearchStore => {
                q.store = Some((argv[1].clone(), false));
                3
            }
        };
        let geosearch = matches!(kind, Kind::GeoSearch | Kind::GeoSearchStore);
        let nostore = matches!(kind, Kind::Coords { ro: true } | Kind::Member { ro: true });
        let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
        let mut a = Args::new(argv.get(base..).unwrap_or_default());
        while let Some(opt) = a.next_opt() {
            let left = a.len();
            if is(opt, "withdist") {
                q.withdist = true;
            } else if is(opt, "withhash") {
                q.withhash = true;
            } else if is(opt, "withcoord") {
                q.withcoord = true;
            } else if is(opt, "any") {
                q.any = true;
            } else if is(opt, "asc") {
                q.sort = Sort::Asc;
            } else if is(opt, "desc") {
                q.sort = Sort::Desc;
            } else if is(opt, "count") && left >= 1 {
                q.count = a.int()?;
                if q.count <= 0 {
                    return Err(CmdError::fixed("ERR COUNT must be > 0"));
                }
            } else if (is(opt, "store") || is(opt, "storedist"))
                && left >= 1
                && !nostore
                && !geosearch
            {
                q.store = Some((a.key()?.clone(), is(opt, "storedist")));
            } else if is(opt, "storedist") && kind == Kind::GeoSearchStore {
                if let Some(s) = q.store.as_mut() {
                    s.1 = true;
                }
            } else if is(opt, "frommember") && left >= 1 && geosearch && !fromloc {
                let member = a.bytes()?;
                if let Some(z) = z {
                    q.center = decode_score(z.score(member).ok_or_else(not_found)?);
                }
                frommember = true;
            } else if is(opt, "fromlonlat") && left >= 2 && geosearch && !frommember {
                let (lon, lat) = (a.bytes()?, a.bytes()?);
                q.center = parse_lonlat(lon, lat)?;
                fromloc = true;
            } else if is(opt, "byradius") && left >= 2 && geosearch && !bybox {
                let (r, unit) = (a.bytes()?, a.bytes()?);
                let (r, c) = parse_radius(r, unit)?;
                q.shape = Some(Shape::Circle(r));
                q.conversion = c;
                byradius = true;
            } else if is(opt, "bybox") && left >= 3 && geosearch && !byradius {
                let (w, h, unit) = (a.bytes()?, a.bytes()?, a.bytes()?);
                let (w, h, c) = parse_box(w, h, unit)?;
                q.shape = Some(Shape::Box(w, h));
                q.conversion = c;
                bybox = true;
            } else {
                return Err(SYNTAX);
            }
        }
        if q.store.is_some() && (q.withdist || q.withhash || q.withcoord) {
            let what = if kind == Kind::GeoSearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            };
            return Err(CmdError::msg(format!(
                "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
            )));
        }
        let name = String::from_utf8_lossy(&argv[0]).into_owned();
        if geosearch && !(frommember || fromloc) {
            return Err(CmdError::msg(format!(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
            )));
        }
        if geosearch && !(byradius || bybox) {
            return Err(CmdError::msg(format!(
                "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
            )));
        }
        if q.any && q.count == 0 {
            return Err(CmdError::fixed(
                "ERR the ANY argument requires COUNT argument",
            ));
        }
        Ok(q)
    }
}

/// Parses, then searches `z` (borrowed) for the points to reply or store.
fn search_generic(z: Option<&ZSetValue>, argv: &[Bytes], kind: Kind) -> Result<Outcome, CmdError> {
    let q = Query::parse(z, argv, kind)?;
    let Query {
        center,
        shape,
        conversion,
        store,
        withdist,
        withhash,
        withcoord,
        any,
        mut sort,
        count,
    } = q;
    let mut out = Outcome {
        store,
        withdist,
        withhash,
        withcoord,
        points: None,
        conversion,
    };
    let (Some(z), Some(shape)) = (z, shape) else {
        return Ok(out);
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let search = Search {
        center,
        shape,
        conversion,
    };
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let mut points = search_points(z, &search, if any { count } else { 0 });
    let cmp: fn(&Point, &Point) -> Ordering = match sort {
        Sort::Asc => |a, b| a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal),
        Sort::Desc => |a, b| b.dist.partial_cmp(&a.dist).unwrap_or(Ordering::Equal),
        Sort::None => |_, _| Ordering::Equal,
    };
    let returned = if count == 0 {
        points.len()
    } else {
        count.min(points.len())
    };
    if sort != Sort::None {
        if returned == points.len() {
            // Upstream sorts with the C library's qsort, a stable merge sort
            // in glibc: equal distances keep their scan order.
            points.sort_by(cmp);
        } else if returned > 0 {
            // ... and with its partial quicksort when only the first
            // `count` are needed, whose placement of equal distances shows
            // in the reply; see [`partial_sort`].
            partial_sort(&mut points, 0, returned - 1, cmp);
        }
    }
    points.truncate(returned);
    out.points = Some(points);
    Ok(out)
}

fn georadius_generic(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    let src = if kind == Kind::GeoSearchStore {
        &argv[2]
    } else {
        &argv[1]
    };
    let z = read(ctx, src)?;
    let out = search_generic(z, argv, kind)?;
    let db = ctx.db();
    let Some(mut points) = out.points else {
        // Missing source: an empty reply, or an emptied destination.
        match out.store {
            Some((dst, _)) => {
                if ctx.st.ks.dbs[db].delete(&dst) {
                    ctx.key_event(db, &dst, 'g', "del");
                    ctx.changed(1);
                }
                ctx.int(0);
            }
            None => ctx.array(0),
        }
        return Ok(());
    };
    for p in &mut points {
        p.dist /= out.conversion;
    }
    let Some((dst, storedist)) = out.store else {
        let opts =
            usize::from(out.withdist) + usize::from(out.withhash) + usize::from(out.withcoord);
        ctx.array(points.len());
        for p in &points {
            if opts > 0 {
                ctx.array(opts + 1);
            }
            ctx.bulk(&p.member);
            if out.withdist {
                reply_distance(ctx, p.dist);
            }
            if out.withhash {
                ctx.int(p.score as i64);
            }
            if out.withcoord {
                ctx.array(2);
                reply_coord(ctx, p.xy[0]);
                reply_coord(ctx, p.xy[1]);
            }
        }
        return Ok(());
    };
    if points.is_empty() {
        if ctx.st.ks.dbs[db].delete(&dst) {
            ctx.key_event(db, &dst, 'g', "del");
            ctx.changed(1);
        }
        ctx.int(0);
        return Ok(());
    }
    let limits = Limits {
        max_entries: usize::try_from(ctx.st.config.get_int("zset-max-listpack-entries"))
            .unwrap_or(0),
        max_value: usize::try_from(ctx.st.config.get_int("zset-max-listpack-value")).unwrap_or(0),
    };
    let maxlen = points.iter().map(|p| p.member.len()).max().unwrap_or(0);
    let mut zs = ZSetValue::with_hint(points.len(), maxlen, limits);
    for p in &points {
        zs.insert(&p.member, if storedist { p.dist } else { p.score }, limits);
    }
    zs.shrink_to_fit_limits(limits);
    let lru = ctx.lru();
    ctx.st.ks.dbs[db].set(&dst, Value::ZSet(zs), false, lru);
    let event = if matches!(kind, Kind::GeoSearch | Kind::GeoSearchStore) {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    ctx.key_event(db, &dst, 'z', event);
    ctx.changed(points.len() as u64);
    ctx.int(points.len() as i64);
    Ok(())
}

/// # Format
/// `GEORADIUS key longitude latitude radius <M | KM | FT | MI> [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key |
/// STOREDIST key]`
pub fn georadius(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    georadius_generic(ctx, argv, Kind::Coords { ro: false })
}

/// # Format
/// `GEORADIUS_RO key longitude latitude radius <M | KM | FT | MI>
/// [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]`
pub fn georadius_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    georadius_generic(ctx, argv, Kind::Coords { ro: true })
}

/// # Format
/// `GEORADIUSBYMEMBER key member radius <M | KM | FT | MI> [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key |
/// STOREDIST key]`
pub fn georadiusbymember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    georadius_generic(ctx, argv, Kind::Member { ro: false })
}

/// # Format
/// `GEORADIUSBYMEMBER_RO key member radius <M | KM | FT | MI> [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]`
pub fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    georadius_generic(ctx, argv, Kind::Member { ro: true })
}

/// # Format
/// `GEOSEARCH key <FROMMEMBER member | FROMLONLAT longitude latitude>
/// <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT |
/// MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`
pub fn geosearch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    georadius_generic(ctx, argv, Kind::GeoSearch)
}

/// # Format
/// `GEOSEARCHSTORE destination source <FROMMEMBER member | FROMLONLAT
/// longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width
/// height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]`
pub fn geosearchstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    georadius_generic(ctx, argv, Kind::GeoSearchStore)
}

#[cfg(test)]
#[path = "geo_tests.rs"]
mod tests;
