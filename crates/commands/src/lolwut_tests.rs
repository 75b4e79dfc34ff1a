//! Unit tests of `lolwut.rs`: argument parsing, the canvas dimensions
//! (checked against sizes observed on Redis 7.0.15) and the text layout.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

fn argv(s: &str) -> Vec<Bytes> {
    s.split_whitespace()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

const NOT_INT: &[u8] = b"ERR value is not an integer or out of range";

#[test]
fn plain_forms() {
    for s in [
        "LOLWUT",
        "LOLWUT VERSION",
        "LOLWUT foo",
        "LOLWUT foo 5",
        "LOLWUT foo bar",
        "LOLWUT VERSION 7",
        "LOLWUT VERSION 4",
        "LOLWUT VERSION 0",
        "LOLWUT VERSION -5",
        "LOLWUT VERSION 7 x y z",
        "LOLWUT VERSION 9223372036854775807",
        "LOLWUT VERSION -9223372036854775808",
    ] {
        assert_eq!(parse(&argv(s)).unwrap(), Art::Plain, "{s}");
    }
    assert_eq!(render(Art::Plain, &mut rng()), b"Redis ver. 7.0.15\n");
}

#[test]
fn non_integers_are_rejected() {
    for s in [
        "LOLWUT VERSION abc",
        "LOLWUT VERSION 4.9",
        "LOLWUT VERSION 5.9",
        "LOLWUT VERSION +5",
        "LOLWUT VERSION 05",
        "LOLWUT VERSION -0",
        "LOLWUT VERSION 99999999999999999999",
        "LOLWUT VERSION 5 x",
        "LOLWUT VERSION 5 1.5",
        "LOLWUT VERSION 5 66 x",
        "LOLWUT VERSION 5 66 8 x",
        "LOLWUT VERSION 6 x",
        "LOLWUT VERSION 6 80 x",
    ] {
        assert_eq!(&parse(&argv(s)).unwrap_err().0[..], NOT_INT, "{s}");
    }
}

#[test]
fn defaults_clamps_and_ignored_arguments() {
    let five = |cols, per_row, per_col| Art::Schotter {
        cols,
        per_row,
        per_col,
    };
    let six = |cols, rows| Art::Skyline { cols, rows };
    for (s, art) in [
        ("LOLWUT VERSION 5", five(66, 8, 12)),
        ("LOLWUT version 5 10", five(10, 8, 12)),
        ("LOLWUT VERSION 5 0 0 0", five(1, 1, 1)),
        ("LOLWUT VERSION 5 -1 -1 -1", five(1, 1, 1)),
        ("LOLWUT VERSION 5 1001 201 201", five(1000, 200, 200)),
        (
            "LOLWUT VERSION 5 -9223372036854775808 9223372036854775807 3",
            five(1, 200, 3),
        ),
        ("LOLWUT VERSION 5 66 8 12 x", five(66, 8, 12)),
        ("LOLWUT VERSION 6", six(80, 20)),
        ("LOLWUT VeRsIoN 6 3", six(3, 20)),
        ("LOLWUT VERSION 6 0 -3", six(1, 1)),
        ("LOLWUT VERSION 6 1001 1001", six(1000, 1000)),
        ("LOLWUT VERSION 6 80 20 x", six(80, 20)),
    ] {
        assert_eq!(parse(&argv(s)).unwrap(), art, "{s}");
    }
}

/// `(columns, squares per row, squares per column)` → (braille rows,
/// whether the last row has no newline of its own), as observed on the
/// reference. The `1 41 41` and `1 61 183` cases only come out right in
/// `f32` arithmetic.
const OBSERVED: &[((usize, usize, usize), usize, bool)] = &[
    ((66, 8, 12), 49, false),
    ((1, 8, 12), 1, false),
    ((2, 8, 12), 2, false),
    ((3, 8, 12), 2, false),
    ((4, 8, 12), 3, false),
    ((5, 8, 12), 4, true),
    ((10, 8, 12), 7, false),
    ((20, 8, 12), 15, false),
    ((33, 8, 12), 25, true),
    ((100, 8, 12), 75, false),
    ((1000, 8, 12), 750, false),
    ((66, 1, 12), 385, false),
    ((66, 3, 12), 129, false),
    ((66, 200, 12), 3, false),
    ((66, 8, 1), 5, false),
    ((66, 8, 200), 801, false),
    ((1, 1, 1), 1, false),
    ((3, 200, 200), 2, false),
    ((1000, 1, 200), 99801, false),
    ((1000, 200, 1), 4, true),
    ((1, 25, 25), 1, false),
    ((1, 41, 41), 1, true),
    ((1, 49, 49), 1, false),
    ((1, 61, 183), 2, true),
    ((1, 50, 25), 1, true),
    ((1, 200, 1), 0, false),
];

#[test]
fn canvas_heights_match_the_reference() {
    for &((cols, per_row, per_col), rows, open_end) in OBSERVED {
        let l = Layout::new(cols, per_row, per_col);
        assert_eq!(l.width, cols * 2);
        assert_eq!(l.height.div_ceil(4), rows, "{cols} {per_row} {per_col}");
        assert_eq!(
            l.height % 4 == 1,
            open_end,
            "{cols} {per_row} {per_col}: height {}",
            l.height
        );
    }
    assert_eq!(Layout::new(2, 8, 12).pad, 0);
    assert_eq!(Layout::new(3, 8, 12).pad, 2);
}

/// The braille rows of a version 5 reply and the text after them.
fn split_schotter(text: &str) -> (Vec<&str>, &str) {
    let at = text.find("\nGeorg").unwrap();
    let canvas = &text[..at];
    let rows = if canvas.is_empty() {
        Vec::new()
    } else {
        canvas.trim_end_matches('\n').split('\n').collect()
    };
    (rows, &text[at..])
}

#[test]
fn schotter_text_layout() {
    for &((cols, per_row, per_col), rows, open_end) in OBSERVED {
        if cols * rows > 20_000 {
            continue;
        }
        let art = Art::Schotter {
            cols,
            per_row,
            per_col,
        };
        let text = String::from_utf8(render(art, &mut rng())).unwrap();
        let (lines, rest) = split_schotter(&text);
        assert_eq!(lines.len(), rows, "{cols} {per_row} {per_col}");
        for l in &lines {
            assert_eq!(l.chars().count(), cols);
            assert!(l.chars().all(|c| ('\u{2800}'..='\u{28FF}').contains(&c)));
        }
        // An empty line before the caption unless the last row is open.
        let empty_line = rows > 0 && !open_end;
        assert_eq!(
            text.contains("\n\nGeorg"),
            empty_line,
            "{cols} {per_row} {per_col}"
        );
        assert_eq!(
            rest,
            "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"
        );
    }
}

#[test]
fn schotter_first_row_is_a_neat_grid() {
    // 66 columns, 8 squares of 16 pixels: the top edge runs along pixel
    // row 2 from x = 2 to x = 130, the verticals every 16 pixels.
    let c = schotter(66, 8, 12, &mut rng());
    for x in 2..=130 {
        assert!(c.get(x, 2), "x {x}");
    }
    for k in 0..=8 {
        for y in 2..18 {
            assert!(c.get(2 + 16 * k, y), "k {k} y {y}");
        }
    }
    assert!(!c.get(0, 0) && !c.get(1, 2) && !c.get(131, 0));
}

#[test]
fn braille_dots() {
    let mut b = Braille::new(4, 5);
    assert_eq!(b.rows(), 2);
    b.set(0, 0);
    b.set(1, 3);
    b.set(3, 4);
    b.set(4, 0); // off the canvas
    b.set(0, 5);
    assert!(b.get(0, 0) && b.get(1, 3) && b.get(3, 4) && !b.get(4, 0));
    // Row 0: dots 1 and 8, then blank; row 1: dot 4 of the second cell.
    // The last row starts on the last pixel row: no newline after it.
    assert_eq!(
        String::from_utf8(b.to_text()).unwrap(),
        "\u{2881}\u{2800}\n\u{2800}\u{2808}"
    );
    let mut all = Braille::new(2, 4);
    for x in 0..2 {
        for y in 0..4 {
            all.set(x, y);
        }
    }
    assert_eq!(String::from_utf8(all.to_text()).unwrap(), "\u{28FF}\n");
}

#[test]
fn braille_lines_and_squares() {
    let mut b = Braille::new(20, 20);
    b.line((1.0, 1.0), (8.0, 1.0));
    assert!((1..=8).all(|x| b.get(x, 1)));
    b.line((f64::NAN, 0.0), (f64::INFINITY, 3.0));
    b.line((-1e300, -5.0), (1e300, 5.0));
    let mut s = Braille::new(20, 20);
    s.square(10.0, 10.0, 4.0, 0.0);
    for i in 6..=14 {
        assert!(s.get(i, 6) && s.get(i, 14) && s.get(6, i) && s.get(14, i));
    }
    assert!(!s.get(10, 10));
}

/// Splits a version 6 row into its cells' colour codes.
fn cells_of(line: &str) -> Vec<&str> {
    line.split("\x1b[0m")
        .filter(|c| !c.is_empty())
        .map(|c| {
            let codes = c
                .strip_prefix("\x1b[0;")
                .unwrap()
                .strip_suffix("m ")
                .unwrap();
            assert!(
                ["97;107", "37;47", "90;100", "30;40"].contains(&codes),
                "{codes}"
            );
            codes
        })
        .collect()
}

#[test]
fn skyline_text_layout() {
    for (cols, rows) in [
        (80, 20),
        (1, 1),
        (2, 2),
        (3, 3),
        (5, 5),
        (7, 4),
        (120, 40),
        (10, 1000),
    ] {
        let text = String::from_utf8(render(Art::Skyline { cols, rows }, &mut rng())).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), rows + 3, "{cols} {rows}");
        for l in &lines[..rows] {
            assert_eq!(cells_of(l).len(), cols, "{cols} {rows}");
        }
        assert_eq!(
            lines[rows..],
            [
                "Dedicated to the 8 bit game developers of past and present.",
                "Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15",
                ""
            ]
        );
    }
}

#[test]
fn skyline_has_sky_buildings_and_a_street() {
    let mut r = rng();
    for _ in 0..20 {
        let g = skyline(80, 20, &mut r);
        assert!((0..80).all(|x| g.get(x, 0) == Shade::White), "sky");
        assert!((0..80).all(|x| g.get(x, 19) == Shade::Black), "street");
        for shade in [Shade::Light, Shade::Dark, Shade::Black] {
            assert!(g.cells.contains(&shade));
        }
    }
}

#[test]
fn extreme_sizes_do_not_panic() {
    let mut r = rng();
    let _ = skyline(1000, 1, &mut r);
    let _ = skyline(1, 1000, &mut r);
    let _ = schotter(1000, 200, 200, &mut r);
    let _ = schotter(1, 200, 1, &mut r);
    let _ = Layout::new(0, 0, 0);
    let _ = Braille::new(0, 0).to_text();
}
