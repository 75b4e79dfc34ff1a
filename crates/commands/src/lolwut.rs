//! `LOLWUT`: the server version, optionally under a piece of computer art.
//!
//! `LOLWUT [VERSION v [arg …]]` replies with a verbatim string (`=…txt:` in
//! RESP3, a bulk string in RESP2):
//! - `VERSION 5 [columns [squares-per-row [squares-per-col]]]`: a homage to
//!   Georg Nees's "Schotter" (1968) drawn in braille characters (each one a
//!   2×4 pixel cell): a grid of squares, the lower the row the more its
//!   squares are turned and shifted. Defaults 66, 8, 12; clamped to
//!   1..=1000, 1..=200, 1..=200.
//! - `VERSION 6 [columns [rows]]`: a city skyline in three depths of grey,
//!   one ANSI-coloured blank per cell. Defaults 80, 20; both clamped to
//!   1..=1000.
//! - anything else (no `VERSION`, other versions, `VERSION` without a
//!   value): the version line alone.
//!
//! The art is random on every call, as 7.0's; everything else matches it:
//! the canvas size for given arguments, the captions, the line breaks.
//! Arguments past the ones a version reads are ignored; the ones it reads
//! (and the version) must be integers
//! (`ERR value is not an integer or out of range`).
//!
//! Canvas size of version 5, as 7.0 computes it (in `f32`): the canvas is
//! `2 × columns` pixels wide with a padding of 2 pixels (none when the
//! width is 4 or less); a square's side is the padded width divided by the
//! squares per row, and the height is `side × squares-per-col + 2 × padding`
//! truncated. Each braille row covers 4 pixel rows and ends with a newline,
//! except a last row that starts on the last pixel row; the caption follows
//! after one more newline.

use std::f64::consts::FRAC_PI_4;

use bytes::Bytes;
use rand::Rng;

use crate::args::{self, is};
use redis_engine::ctx::Ctx;
use redis_engine::error::{CmdError, CmdResult};
use redis_engine::state::REDIS_VERSION;
use redis_engine::table::Handler;

/// What a `LOLWUT` call draws, its arguments parsed and clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Art {
    /// The version line alone.
    Plain,
    /// Version 5: squares in braille characters.
    Schotter {
        cols: usize,
        per_row: usize,
        per_col: usize,
    },
    /// Version 6: a skyline of coloured cells.
    Skyline { cols: usize, rows: usize },
}

/// Reads `LOLWUT [VERSION v [arg …]]`.
pub fn parse(argv: &[Bytes]) -> Result<Art, CmdError> {
    let version = match argv {
        [_, kw, v, ..] if is(kw, "version") => args::int(v)?,
        _ => return Ok(Art::Plain),
    };
    let extra = argv.get(3..).unwrap_or_default();
    // The `i`-th argument after the version, or its default, clamped to
    // `1..=max`.
    let nth = |i: usize, default: i64, max: i64| -> Result<usize, CmdError> {
        let v = match extra.get(i) {
            Some(a) => args::int(a)?,
            None => default,
        };
        Ok(usize::try_from(v.clamp(1, max)).unwrap_or(1))
    };
    Ok(match version {
        5 => Art::Schotter {
            cols: nth(0, 66, 1000)?,
            per_row: nth(1, 8, 200)?,
            per_col: nth(2, 12, 200)?,
        },
        6 => Art::Skyline {
            cols: nth(0, 80, 1000)?,
            rows: nth(1, 20, 1000)?,
        },
        _ => Art::Plain,
    })
}

/// The whole reply text for `art`, drawn with `rng`.
pub fn render<R: Rng>(art: Art, rng: &mut R) -> Vec<u8> {
    match art {
        Art::Plain => format!("Redis ver. {REDIS_VERSION}\n").into_bytes(),
        Art::Schotter {
            cols,
            per_row,
            per_col,
        } => {
            let mut out = schotter(cols, per_row, per_col, rng).to_text();
            out.extend_from_slice(
                format!(
                    "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {REDIS_VERSION}\n"
                )
                .as_bytes(),
            );
            out
        }
        Art::Skyline { cols, rows } => {
            let mut out = skyline(cols, rows, rng).to_text();
            out.extend_from_slice(
                format!(
                    "Dedicated to the 8 bit game developers of past and present.\n\
                     Original 8 bit image from Plaguemon by hikikomori. Redis ver. {REDIS_VERSION}\n"
                )
                .as_bytes(),
            );
            out
        }
    }
}

/// # Format
/// `LOLWUT [VERSION version [argument …]]`
pub fn lolwut(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let art = parse(argv)?;
    let text = render(art, &mut rand::thread_rng());
    ctx.verbatim(&text);
    Ok(())
}

// ---------------------------------------------------------------------------
// Version 5: braille canvas and squares.

/// The pixel size of a version 5 canvas and the layout of its squares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// Canvas width in pixels (two per character).
    pub width: usize,
    /// Canvas height in pixels (four per character row).
    pub height: usize,
    /// Blank margin around the grid, in pixels.
    pub pad: usize,
    /// A square's side in pixels.
    pub side: f32,
}

impl Layout {
    /// The layout for `cols` characters and a grid of `per_row` ×
    /// `per_col` squares (all at least 1), computed in `f32` so the
    /// truncated height is the reference's to the pixel.
    pub fn new(cols: usize, per_row: usize, per_col: usize) -> Layout {
        let width = cols.saturating_mul(2);
        let pad = if width > 4 { 2 } else { 0 };
        let side = (width - 2 * pad) as f32 / per_row.max(1) as f32;
        // `as` saturates (and maps NaN to 0): no overflow whatever the input.
        let height = (side * per_col as f32 + (2 * pad) as f32) as usize;
        Layout {
            width,
            height,
            pad,
            side,
        }
    }
}

/// A monochrome pixel canvas stored as braille cells (2×4 pixels each, one
/// byte of dots per cell).
#[derive(Debug, Clone)]
pub struct Braille {
    width: usize,
    height: usize,
    cols: usize,
    cells: Vec<u8>,
}

/// The dot bit of the pixel at `(dx, dy)` inside a braille cell (Unicode's
/// dot numbering: 1-2-3-7 down the left column, 4-5-6-8 down the right).
const DOTS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];

impl Braille {
    /// A blank canvas of `width` × `height` pixels.
    pub fn new(width: usize, height: usize) -> Braille {
        let cols = width.div_ceil(2);
        let rows = height.div_ceil(4);
        Braille {
            width,
            height,
            cols,
            cells: vec![0; cols.saturating_mul(rows)],
        }
    }

    /// The number of character rows.
    pub fn rows(&self) -> usize {
        self.height.div_ceil(4)
    }

    /// Sets the pixel at `(x, y)`; pixels off the canvas are ignored.
    pub fn set(&mut self, x: usize, y: usize) {
        if x >= self.width || y >= self.height {
            return;
        }
        if let Some(c) = self.cells.get_mut((y / 4) * self.cols + x / 2) {
            *c |= DOTS[x % 2][y % 4];
        }
    }

    /// Whether the pixel at `(x, y)` is set.
    pub fn get(&self, x: usize, y: usize) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        self.cells
            .get((y / 4) * self.cols + x / 2)
            .is_some_and(|c| c & DOTS[x % 2][y % 4] != 0)
    }

    /// Sets the pixel nearest to `(x, y)`.
    fn plot(&mut self, x: f64, y: f64) {
        let (x, y) = (x.round(), y.round());
        if x >= 0.0 && y >= 0.0 && x < self.width as f64 && y < self.height as f64 {
            self.set(x as usize, y as usize);
        }
    }

    /// Draws a straight segment, one pixel per step along its longer axis.
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64)) {
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        if !(dx.is_finite() && dy.is_finite()) {
            return;
        }
        // The canvas is at most a few hundred thousand pixels on a side,
        // so the step count stays small; the bound only guards the cast.
        let steps = dx.abs().max(dy.abs()).ceil().clamp(1.0, 4_000_000.0);
        let n = steps as u64;
        for i in 0..=n {
            let t = i as f64 / steps;
            self.plot(from.0 + dx * t, from.1 + dy * t);
        }
    }

    /// Draws the outline of a square centred on `(cx, cy)` with half-side
    /// `half`, turned by `angle` radians.
    pub fn square(&mut self, cx: f64, cy: f64, half: f64, angle: f64) {
        let (sin, cos) = angle.sin_cos();
        let corner = |sx: f64, sy: f64| {
            let (x, y) = (sx * half, sy * half);
            (cx + x * cos - y * sin, cy + x * sin + y * cos)
        };
        let corners = [
            corner(-1.0, -1.0),
            corner(1.0, -1.0),
            corner(1.0, 1.0),
            corner(-1.0, 1.0),
        ];
        for i in 0..4 {
            self.line(corners[i], corners[(i + 1) % 4]);
        }
    }

    /// The canvas as text: one braille character per cell, a newline after
    /// each row except a last row that starts on the last pixel row (as
    /// the reference prints it).
    pub fn to_text(&self) -> Vec<u8> {
        let rows = self.rows();
        let mut out = Vec::with_capacity(rows.saturating_mul(self.cols.saturating_mul(3) + 1));
        for (row, cells) in self.cells.chunks(self.cols.max(1)).enumerate() {
            for &b in cells {
                // U+2800 + b in UTF-8.
                out.extend_from_slice(&[0xE2, 0xA0 | (b >> 6), 0x80 | (b & 0x3F)]);
            }
            if row * 4 + 1 != self.height {
                out.push(b'\n');
            }
        }
        out
    }
}

/// Version 5: `per_row` × `per_col` squares on a canvas `cols` characters
/// wide. The first row is a neat grid; each row below turns its squares
/// by a random angle and shifts them by a random offset, both bounded by
/// a disorder that grows linearly down the rows.
pub fn schotter<R: Rng>(cols: usize, per_row: usize, per_col: usize, rng: &mut R) -> Braille {
    let layout = Layout::new(cols, per_row, per_col);
    let mut canvas = Braille::new(layout.width, layout.height);
    let side = f64::from(layout.side);
    let pad = layout.pad as f64;
    let per_col_f = per_col.max(1) as f64;
    for row in 0..per_col {
        let disorder = row as f64 / per_col_f;
        let cy = pad + side * (row as f64 + 0.5);
        for col in 0..per_row {
            let cx = pad + side * (col as f64 + 0.5);
            let angle = rng.gen_range(-1.0..=1.0) * disorder * FRAC_PI_4;
            let shift = disorder * side * 0.3;
            let dx = rng.gen_range(-1.0..=1.0) * shift;
            let dy = rng.gen_range(-1.0..=1.0) * shift;
            canvas.square(cx + dx, cy + dy, side / 2.0, angle);
        }
    }
    canvas
}

// ---------------------------------------------------------------------------
// Version 6: a skyline of coloured cells.

/// The four shades of a version 6 cell, lightest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    /// The sky, and lit windows of the nearest buildings.
    White,
    /// The far buildings, and lit windows.
    Light,
    /// The middle buildings, and dark windows.
    Dark,
    /// The near buildings and the street.
    Black,
}

impl Shade {
    /// The ANSI foreground;background codes of the shade.
    pub fn codes(self) -> &'static str {
        match self {
            Shade::White => "97;107",
            Shade::Light => "37;47",
            Shade::Dark => "90;100",
            Shade::Black => "30;40",
        }
    }
}

/// A grid of coloured cells.
#[derive(Debug, Clone)]
pub struct Cells {
    pub cols: usize,
    pub rows: usize,
    pub cells: Vec<Shade>,
}

impl Cells {
    fn new(cols: usize, rows: usize) -> Cells {
        Cells {
            cols,
            rows,
            cells: vec![Shade::White; cols.saturating_mul(rows)],
        }
    }

    /// The shade at `(x, y)` (white off the grid).
    pub fn get(&self, x: usize, y: usize) -> Shade {
        if x >= self.cols || y >= self.rows {
            return Shade::White;
        }
        self.cells
            .get(y * self.cols + x)
            .copied()
            .unwrap_or(Shade::White)
    }

    fn set(&mut self, x: i64, y: usize, shade: Shade) {
        let Ok(x) = usize::try_from(x) else { return };
        if x >= self.cols || y >= self.rows {
            return;
        }
        if let Some(c) = self.cells.get_mut(y * self.cols + x) {
            *c = shade;
        }
    }

    /// The grid as text: each cell a blank coloured by an ANSI escape
    /// (`ESC[0;fg;bgm ESC[0m`), each row ended by a newline.
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.cells.len().saturating_mul(19) + self.rows);
        for row in self.cells.chunks(self.cols.max(1)) {
            for shade in row {
                out.extend_from_slice(b"\x1b[0;");
                out.extend_from_slice(shade.codes().as_bytes());
                out.extend_from_slice(b"m \x1b[0m");
            }
            out.push(b'\n');
        }
        out
    }
}

/// One depth of the skyline: its colour, the range of building heights
/// (as fractions of the canvas height), the widest gap between two
/// buildings, and how likely a window is lit (`None`: no windows).
struct Depth {
    shade: Shade,
    heights: (f64, f64),
    max_gap: i64,
    windows: Option<(Shade, f64)>,
}

const DEPTHS: [Depth; 3] = [
    Depth {
        shade: Shade::Light,
        heights: (0.45, 0.9),
        max_gap: 2,
        windows: None,
    },
    Depth {
        shade: Shade::Dark,
        heights: (0.3, 0.7),
        max_gap: 4,
        windows: Some((Shade::Light, 0.2)),
    },
    Depth {
        shade: Shade::Black,
        heights: (0.15, 0.55),
        max_gap: 6,
        windows: Some((Shade::Light, 0.5)),
    },
];

/// Version 6: a skyline `cols` cells wide and `rows` high. Three rows of
/// buildings, back to front (light grey, dark grey, black), each front
/// one lower on average and with windows, some lit; a black street along
/// the bottom when there is room for one; a white sky above.
pub fn skyline<R: Rng>(cols: usize, rows: usize, rng: &mut R) -> Cells {
    let mut grid = Cells::new(cols, rows);
    let width = i64::try_from(cols).unwrap_or(i64::MAX);
    for depth in &DEPTHS {
        let mut x = -rng.gen_range(0..4i64);
        while x < width {
            let w = rng.gen_range(3..=9i64);
            let frac = rng.gen_range(depth.heights.0..=depth.heights.1);
            let h = ((rows as f64 * frac).round() as usize).clamp(1, rows);
            building(&mut grid, x, w, h, depth, rng);
            x = x.saturating_add(w + rng.gen_range(0..=depth.max_gap));
        }
    }
    if rows >= 6 {
        for x in 0..width {
            grid.set(x, rows - 1, Shade::Black);
        }
    }
    grid
}

/// Draws one building `w` cells wide from column `x` (possibly partly off
/// the grid), `h` cells high above the bottom row, with an occasional
/// spire on the far ones and a grid of windows on the nearer ones: two
/// cells wide, one apart, on every other floor.
fn building<R: Rng>(grid: &mut Cells, x: i64, w: i64, h: usize, depth: &Depth, rng: &mut R) {
    let rows = grid.rows;
    let top = rows - h.min(rows);
    for y in top..rows {
        for bx in x..x + w {
            grid.set(bx, y, depth.shade);
        }
    }
    if depth.windows.is_none() && top >= 3 && rng.gen_bool(0.3) {
        let spire = x + w / 2;
        for y in top - rng.gen_range(1..=2)..top {
            grid.set(spire, y, depth.shade);
        }
    }
    let Some((lit, chance)) = depth.windows else {
        return;
    };
    if w < 4 {
        return;
    }
    for y in (top + 1..rows.saturating_sub(1)).step_by(2) {
        for i in (1..w - 2).step_by(3) {
            let shade = if rng.gen_bool(chance) {
                lit
            } else if depth.shade == Shade::Black {
                Shade::Dark
            } else {
                continue;
            };
            grid.set(x + i, y, shade);
            grid.set(x + i + 1, y, shade);
        }
    }
}

pub const COMMANDS: &[(&str, Handler)] = &[("lolwut", lolwut)];

#[cfg(test)]
#[path = "lolwut_tests.rs"]
mod tests;
