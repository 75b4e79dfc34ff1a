//! Checks `string_match` against answers recorded from redis-server 7.0.15:
//! `KEYS pattern` (case-sensitive) and `CONFIG GET pattern` (nocase).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use redis_common::glob::string_match;

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn check(data: &str, header: &str, nocase: bool) {
    let mut lines = data.lines().filter(|l| !l.starts_with("# Generated"));
    let subjects: Vec<Vec<u8>> = lines
        .next()
        .unwrap()
        .strip_prefix(header)
        .unwrap()
        .split(',')
        .map(unhex)
        .collect();
    let mut cases = 0;
    for line in lines {
        let (pat, expected) = line.split_once(' ').unwrap_or((line, ""));
        let pat = unhex(pat);
        let mut expected: Vec<Vec<u8>> = expected
            .split(',')
            .filter(|x| !x.is_empty())
            // CONFIG GET echoes a glob-free name in the caller's spelling,
            // so compare names case-folded in nocase mode.
            .map(|x| {
                if nocase {
                    unhex(x).to_ascii_lowercase()
                } else {
                    unhex(x)
                }
            })
            .collect();
        expected.sort();
        let mut got: Vec<Vec<u8>> = subjects
            .iter()
            .filter(|k| string_match(&pat, k, nocase))
            .cloned()
            .collect();
        // `KEYS *` is special-cased by the server to return every key,
        // including the empty one that the matcher itself rejects.
        if pat == b"*" && subjects.iter().any(|k| k.is_empty()) {
            got.push(Vec::new());
        }
        got.sort();
        assert_eq!(got, expected, "pattern {:?}", String::from_utf8_lossy(&pat));
        cases += 1;
    }
    assert!(cases > 10);
}

#[test]
fn keys_reference() {
    check(include_str!("glob_keys_reference.txt"), "# keys: ", false);
}

#[test]
fn config_get_reference() {
    check(include_str!("glob_nocase_reference.txt"), "# names: ", true);
}
