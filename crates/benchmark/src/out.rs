//! Writing to stdout the way upstream's `printf`/`fflush` pairs do, and
//! C's `%.Nf` for the values upstream prints from C floats.

use std::io::Write;

/// Writes `s` to stdout and flushes (progress lines end in `\r`, not
/// `\n`). A closed stdout is ignored, as upstream ignores `SIGPIPE`.
pub fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// C's `printf("%.Nf", v)` on x86-64 glibc: NaN prints as `-nan` (the
/// sign the hardware gives 0/0), infinities as `inf`/`-inf`.
pub fn fixed(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        "-nan".to_string()
    } else {
        format!("{v:.decimals$}")
    }
}

/// [`fixed`], right-aligned in `width` (C's `%W.Nf`).
pub fn fixed_w(v: f64, width: usize, decimals: usize) -> String {
    format!("{:>width$}", fixed(v, decimals))
}

/// Upstream's "clean line": `printf("%*s\r", last_printed_bytes, " ")`.
pub fn clean_line(last_printed_bytes: usize) -> String {
    format!("{:>last_printed_bytes$}\r", " ")
}

#[cfg(test)]
#[path = "out_tests.rs"]
mod tests;
