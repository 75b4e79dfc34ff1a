//! Glob-style pattern matching with the exact semantics of upstream's
//! `stringmatchlen` (used by `KEYS`, `SCAN MATCH`, `CONFIG GET`, `PSUBSCRIBE`
//! and ACL patterns).
//!
//! Supported syntax: `*` (any run of bytes), `?` (one byte), `[abc]`,
//! `[^abc]`, `[a-z]` (reversed ranges such as `[z-a]` are accepted), `\x`
//! to quote `x` both inside and outside brackets. An unterminated `[` ends
//! the class at the end of the pattern, a trailing `\` is a literal
//! backslash.
//!
//! Upstream recurses once per `*` and needed a nesting limit plus a
//! "skip longer matches" shortcut to survive patterns like `a*a*a*a*…b`.
//! Since every non-`*` element consumes exactly one byte, remembering only
//! the most recent `*` and retrying from there is enough to get the same
//! answers, so this implementation is iterative and runs in
//! O(pattern × string) time with no recursion at all.

/// Returns whether `s` matches `pattern`; `nocase` folds ASCII case.
///
/// One upstream quirk is kept on purpose: the empty string never matches a
/// non-empty pattern, not even `*` (callers such as `KEYS *` special-case
/// the lone `*` themselves).
pub fn string_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    if s.is_empty() {
        return pattern.is_empty();
    }
    // The common `prefix*` (ACL key patterns, `SCAN MATCH user:*`) is a
    // prefix comparison.
    if let Some((b'*', head)) = pattern.split_last() {
        if !nocase && !head.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\')) {
            return s.starts_with(head);
        }
    }
    let fold = |c: u8| if nocase { c.to_ascii_lowercase() } else { c };
    let (mut p, mut i) = (0usize, 0usize);
    // Position in the pattern just after the last `*` seen, and the string
    // position that star is currently assumed to stop at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if i == s.len() {
            // Trailing stars match the empty rest of the string.
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
        } else if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            star = Some((p, i));
            continue;
        } else if p < pattern.len() {
            if let Some(next) = match_one(pattern, p, s[i], nocase, &fold) {
                p = next;
                i += 1;
                continue;
            }
        }
        // Mismatch: let the last star swallow one more byte, if it can.
        match star {
            Some((sp, si)) if si + 1 < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the single pattern element at `p` (never `*`) against `c`.
/// Returns the pattern index after the element on success.
fn match_one(
    pattern: &[u8],
    p: usize,
    c: u8,
    nocase: bool,
    fold: &dyn Fn(u8) -> u8,
) -> Option<usize> {
    let n = pattern.len();
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => {
            let mut j = p + 1;
            let negate = j < n && pattern[j] == b'^';
            if negate {
                j += 1;
            }
            let mut hit = false;
            loop {
                if j >= n {
                    // Unterminated class: it simply ends with the pattern.
                    break;
                }
                if pattern[j] == b'\\' && n - j >= 2 {
                    j += 1;
                    // Upstream compares quoted bytes inside a class exactly,
                    // even in nocase mode.
                    if pattern[j] == c {
                        hit = true;
                    }
                } else if pattern[j] == b']' {
                    j += 1;
                    break;
                } else if n - j >= 3 && pattern[j + 1] == b'-' {
                    let (mut lo, mut hi) = (pattern[j], pattern[j + 2]);
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    let (lo, hi, x) = if nocase {
                        (
                            lo.to_ascii_lowercase(),
                            hi.to_ascii_lowercase(),
                            c.to_ascii_lowercase(),
                        )
                    } else {
                        (lo, hi, c)
                    };
                    if x >= lo && x <= hi {
                        hit = true;
                    }
                    j += 2;
                } else if fold(pattern[j]) == fold(c) {
                    hit = true;
                }
                j += 1;
            }
            if hit != negate {
                Some(j.min(n))
            } else {
                None
            }
        }
        b'\\' if n - p >= 2 => (fold(pattern[p + 1]) == fold(c)).then_some(p + 2),
        other => (fold(other) == fold(c)).then_some(p + 1),
    }
}

#[cfg(test)]
#[path = "glob_tests.rs"]
mod tests;
