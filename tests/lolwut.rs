//! `LOLWUT` against the reference. The plain version line and the errors
//! must be byte-identical; the art of versions 5 and 6 is random on both
//! servers, so it is compared by shape: the reply type, the number of
//! lines, each line's kind and length (braille characters for version 5,
//! ANSI-coloured cells for version 6), and the caption lines verbatim.

use redis_testkit::{escape, Conn, ServerKind, TestServer};

/// Calls whose replies must be identical on both servers.
const EXACT: &[&[&str]] = &[
    &["LOLWUT"],
    &["lolwut"],
    &["LOLWUT", "VERSION"],
    &["LOLWUT", "foo"],
    &["LOLWUT", "foo", "5"],
    &["LOLWUT", "foo", "bar", "baz"],
    &["LOLWUT", "VERSION", "7"],
    &["LOLWUT", "VERSION", "4"],
    &["LOLWUT", "VERSION", "0"],
    &["LOLWUT", "VERSION", "-5"],
    &["LOLWUT", "VERSION", "7", "1", "2", "3"],
    &["LOLWUT", "VERSION", "9223372036854775807"],
    &["LOLWUT", "VERSION", "-9223372036854775808"],
    // Errors.
    &["LOLWUT", "VERSION", "abc"],
    &["LOLWUT", "VERSION", "4.9"],
    &["LOLWUT", "VERSION", "5.9"],
    &["LOLWUT", "VERSION", "+5"],
    &["LOLWUT", "VERSION", "05"],
    &["LOLWUT", "VERSION", "-0"],
    &["LOLWUT", "VERSION", ""],
    &["LOLWUT", "VERSION", "99999999999999999999"],
    &["LOLWUT", "VERSION", "5", "x"],
    &["LOLWUT", "VERSION", "5", "1.5"],
    &["LOLWUT", "VERSION", "5", "66", "x"],
    &["LOLWUT", "VERSION", "5", "66", "8", "x"],
    &["LOLWUT", "VERSION", "5", "99999999999999999999"],
    &["LOLWUT", "VERSION", "6", "x"],
    &["LOLWUT", "VERSION", "6", "80", "x"],
    &["LOLWUT", "VERSION", "6", "80", "-"],
];

/// Arguments after `LOLWUT VERSION` whose art is compared by shape.
const SHAPED: &[&[&str]] = &[
    &["5"],
    &["5", "10"],
    &["5", "1"],
    &["5", "2"],
    &["5", "3"],
    &["5", "5"],
    &["5", "33"],
    &["5", "0"],
    &["5", "-1"],
    &["5", "1001"],
    &["5", "66", "1"],
    &["5", "66", "3"],
    &["5", "66", "0"],
    &["5", "66", "201"],
    &["5", "66", "8", "1"],
    &["5", "66", "8", "0"],
    &["5", "66", "8", "40"],
    &["5", "66", "8", "12", "x"],
    &["5", "1", "25", "25"],
    &["5", "1", "41", "41"],
    &["5", "1", "49", "49"],
    &["5", "1", "61", "183"],
    &["5", "1", "200", "1"],
    &["5", "3", "200", "1"],
    &["5", "-9223372036854775808", "9223372036854775807", "3"],
    &["5", "1000", "200", "1"],
    &["5", "77", "13", "7"],
    &["6"],
    &["6", "1"],
    &["6", "0"],
    &["6", "-1"],
    &["6", "10"],
    &["6", "1001"],
    &["6", "80", "1"],
    &["6", "80", "0"],
    &["6", "80", "-3"],
    &["6", "80", "100"],
    &["6", "80", "1001"],
    &["6", "80", "20", "x"],
    &["6", "3", "3"],
    &["6", "120", "40"],
];

/// One line of a reply, reduced to what both servers must agree on.
#[derive(Debug, PartialEq)]
enum Line {
    /// Only braille characters (U+2800..U+28FF), this many.
    Braille(usize),
    /// Only blanks coloured with `ESC[0;fg;bgm … ESC[0m` in one of the
    /// four greys, this many.
    Cells(usize),
    /// Anything else, verbatim.
    Text(String),
}

fn classify(line: &str) -> Line {
    if !line.is_empty() && line.chars().all(|c| ('\u{2800}'..='\u{28FF}').contains(&c)) {
        return Line::Braille(line.chars().count());
    }
    let mut rest = line;
    let mut cells = 0;
    while let Some(tail) = rest.strip_prefix("\x1b[0;") {
        let Some(end) = tail.find("m \x1b[0m") else {
            break;
        };
        if !["97;107", "37;47", "90;100", "30;40"].contains(&&tail[..end]) {
            break;
        }
        rest = &tail[end + 6..];
        cells += 1;
    }
    if cells > 0 && rest.is_empty() {
        Line::Cells(cells)
    } else {
        Line::Text(line.to_string())
    }
}

/// The reply's framing (`$len` or `=len` with `txt:`) checked and its
/// lines classified.
fn shape(reply: &[u8]) -> (char, Vec<Line>) {
    let kind = char::from(reply[0]);
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    let len: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    let mut body = &reply[nl + 1..reply.len() - 2];
    assert_eq!(body.len(), len, "length of {}", escape(&reply[..nl]));
    if kind == '=' {
        body = body.strip_prefix(b"txt:").unwrap();
    }
    let text = std::str::from_utf8(body).unwrap();
    (kind, text.split('\n').map(classify).collect())
}

fn both() -> (TestServer, TestServer) {
    (
        TestServer::start(ServerKind::Reference, &[]),
        TestServer::start(ServerKind::Ours, &[]),
    )
}

fn compare_exact(r: &mut Conn, o: &mut Conn, failures: &mut Vec<String>) {
    for args in EXACT {
        let (a, b) = (r.cmd(args), o.cmd(args));
        if a != b {
            failures.push(format!(
                "{}\n  reference: {}\n  ours:      {}",
                args.join(" "),
                escape(&a),
                escape(&b)
            ));
        }
    }
}

fn compare_shapes(r: &mut Conn, o: &mut Conn, failures: &mut Vec<String>) {
    for tail in SHAPED {
        let mut args = vec!["LOLWUT", "VERSION"];
        args.extend_from_slice(tail);
        let (a, b) = (r.cmd(&args), o.cmd(&args));
        let (sa, sb) = (shape(&a), shape(&b));
        if sa != sb {
            failures.push(format!(
                "{}\n  reference: {:?}\n  ours:      {:?}",
                args.join(" "),
                sa,
                sb
            ));
        }
    }
}

#[test]
fn lolwut_matches_the_reference_in_resp2_and_resp3() {
    let (reference, ours) = both();
    let (mut r, mut o) = (reference.conn(), ours.conn());
    let mut failures = Vec::new();
    compare_exact(&mut r, &mut o, &mut failures);
    compare_shapes(&mut r, &mut o, &mut failures);
    // The same in RESP3, where the text is a verbatim string.
    assert!(r.cmd(&["HELLO", "3"]).starts_with(b"%"));
    assert!(o.cmd(&["HELLO", "3"]).starts_with(b"%"));
    compare_exact(&mut r, &mut o, &mut failures);
    compare_shapes(&mut r, &mut o, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn lolwut_art_has_its_captions() {
    let ours = TestServer::start(ServerKind::Ours, &[]);
    let mut o = ours.conn();
    let (kind, lines) = shape(&o.cmd(&["LOLWUT", "VERSION", "5"]));
    assert_eq!(kind, '$');
    assert_eq!(lines.len(), 49 + 3);
    assert!(lines[..49].iter().all(|l| *l == Line::Braille(66)));
    assert_eq!(
        lines[49..],
        [
            Line::Text(String::new()),
            Line::Text("Georg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15".into()),
            Line::Text(String::new()),
        ]
    );
    let (_, lines) = shape(&o.cmd(&["LOLWUT", "VERSION", "6"]));
    assert_eq!(lines.len(), 20 + 3);
    assert!(lines[..20].iter().all(|l| *l == Line::Cells(80)));
    assert_eq!(
        lines[20],
        Line::Text("Dedicated to the 8 bit game developers of past and present.".into())
    );
    assert_eq!(
        lines[21],
        Line::Text("Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15".into())
    );
    o.cmd(&["HELLO", "3"]);
    assert_eq!(
        o.cmd(&["LOLWUT"]),
        b"=22\r\ntxt:Redis ver. 7.0.15\n\r\n".to_vec()
    );
}
