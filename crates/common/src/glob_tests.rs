//! Tests of `glob.rs`.

use super::string_match;

fn m(p: &str, s: &str) -> bool {
    string_match(p.as_bytes(), s.as_bytes(), false)
}

#[test]
fn basics() {
    assert!(m("*", "abc"));
    assert!(!m("*", ""));
    assert!(m("", ""));
    assert!(!m("", "a"));
    assert!(m("h?llo", "hello"));
    assert!(m("h*llo", "hllo"));
    assert!(m("h[ae]llo", "hallo"));
    assert!(!m("h[^e]llo", "hello"));
    assert!(m("h[a-b]llo", "hbllo"));
    assert!(m("[z-a]", "q"));
    assert!(m("a\\*c", "a*c"));
    assert!(!m("a\\*c", "abc"));
    assert!(m("\\", "\\"));
    assert!(m("[a", "a"));
    assert!(m("a*", "a"));
    assert!(m("a**", "a"));
    assert!(!m("a\\", "a"));
}

#[test]
fn nocase() {
    assert!(string_match(b"HELLO", b"hello", true));
    assert!(string_match(b"[A-C]x", b"bX", true));
    assert!(!string_match(b"[\\M]", b"m", true));
}

#[test]
fn no_exponential_blowup() {
    let pattern = format!("{}b", "a*".repeat(200));
    let s = "a".repeat(20_000);
    let t = std::time::Instant::now();
    assert!(!string_match(pattern.as_bytes(), s.as_bytes(), false));
    assert!(t.elapsed().as_secs() < 5);
    let pattern = "*".repeat(5000) + "x";
    assert!(string_match(pattern.as_bytes(), b"yyyyyx", false));
}

#[test]
fn prefix_patterns() {
    // The `prefix*` fast path agrees with the general matcher's answers.
    assert!(string_match(b"key:*", b"key:1", false));
    assert!(string_match(b"key:*", b"key:", false));
    assert!(!string_match(b"key:*", b"ke", false));
    assert!(!string_match(b"key:*", b"kez:1", false));
    assert!(!string_match(b"key:*", b"", false));
    assert!(string_match(b"*", b"a", false));
    assert!(!string_match(b"*", b"", false));
    // Specials before the star, or case folding, take the general path.
    assert!(string_match(b"k?y:*", b"kay:1", false));
    assert!(string_match(b"k[ae]y:*", b"key:1", false));
    assert!(string_match(b"k\\?y*", b"k?y1", false));
    assert!(!string_match(b"k\\?y*", b"kay1", false));
    assert!(string_match(b"KEY:*", b"key:1", true));
    assert!(string_match(b"a**", b"abc", false));
}
