//! LZF compression as stored in RDB strings (encoding `11000011`).
//!
//! The stream is a sequence of instructions, each starting with a control
//! byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes follows;
//! - otherwise a back reference: length field `L = c >> 5` (when 7, one more
//!   byte is added to it), offset `((c & 31) << 8 | next byte) + 1` bytes
//!   back from the current end of the output; `L + 2` bytes are copied
//!   (the source may overlap the destination, which repeats a pattern).

/// Longest literal run one control byte can announce.
const MAX_LITERAL: usize = 32;
/// Longest match one back reference can copy (7 + 255 + 2).
const MAX_MATCH: usize = 264;
/// Farthest a back reference can reach.
const MAX_OFFSET: usize = 8192;
/// Largest hash table (log2) for the compressor's 3-byte match finder;
/// short inputs use a table sized to them, since clearing a big table per
/// small string would dominate the cost of saving many small keys.
const HASH_LOG_MAX: u32 = 14;
/// Smallest hash table (log2).
const HASH_LOG_MIN: u32 = 6;

/// Why an LZF stream could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LzfError {
    /// The output would exceed the declared uncompressed length.
    #[error("LZF output larger than declared")]
    OutputOverflow,
    /// A literal run or back-reference length reads past the input.
    #[error("LZF input truncated")]
    InputTruncated,
    /// A back reference points before the start of the output.
    #[error("LZF back reference out of range")]
    BadReference,
    /// The stream ended before producing the declared length.
    #[error("LZF output shorter than declared")]
    ShortOutput,
}

fn hash3(a: u8, b: u8, c: u8, log: u32) -> usize {
    let v = (a as u32) << 16 | (b as u32) << 8 | c as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - log)) as usize
}

/// Compresses `input`; returns `None` when the result would not be
/// smaller than `max_out` bytes (the caller then stores the string raw).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(max_out.min(n + n / 16 + 16));
    let log = (usize::BITS - n.leading_zeros()).clamp(HASH_LOG_MIN, HASH_LOG_MAX);
    let mut table = vec![usize::MAX; 1 << log];
    // Position of the pending literal run's control byte, and its length.
    let mut lit_start = 0usize;
    let mut lit_len = 0usize;
    let mut ip = 0usize;

    // Emits the literal bytes input[lit_start..lit_start+lit_len].
    fn flush(out: &mut Vec<u8>, input: &[u8], start: usize, len: usize) {
        let mut s = start;
        let mut left = len;
        while left > 0 {
            let run = left.min(MAX_LITERAL);
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
            left -= run;
        }
    }

    while ip + 2 < n {
        let h = hash3(input[ip], input[ip + 1], input[ip + 2], log);
        let cand = table[h];
        table[h] = ip;
        if cand != usize::MAX
            && ip - cand <= MAX_OFFSET
            && input[cand] == input[ip]
            && input[cand + 1] == input[ip + 1]
            && input[cand + 2] == input[ip + 2]
        {
            let max_len = (n - ip).min(MAX_MATCH);
            let mut len = 3;
            while len < max_len && input[cand + len] == input[ip + len] {
                len += 1;
            }
            flush(&mut out, input, lit_start, lit_len);
            let off = ip - cand - 1;
            let l = len - 2;
            if l < 7 {
                out.push(((l << 5) | (off >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (off >> 8)) as u8);
                out.push((l - 7) as u8);
            }
            out.push((off & 0xff) as u8);
            if out.len() >= max_out {
                return None;
            }
            // Index the positions inside the match so later data can refer
            // to them too.
            let end = ip + len;
            let mut p = ip + 1;
            while p < end && p + 2 < n {
                table[hash3(input[p], input[p + 1], input[p + 2], log)] = p;
                p += 1;
            }
            ip = end;
            lit_start = ip;
            lit_len = 0;
        } else {
            lit_len += 1;
            ip += 1;
        }
        if out.len() + lit_len + lit_len / MAX_LITERAL + 1 >= max_out {
            return None;
        }
    }
    lit_len += n - ip;
    flush(&mut out, input, lit_start, lit_len);
    if out.len() >= max_out {
        return None;
    }
    Some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    // One compressed byte expands to at most ~88 bytes (a 3-byte reference
    // copying 264), so a larger claim is corrupt: refuse before allocating.
    if out_len > input.len().saturating_mul(90).saturating_add(64) {
        return Err(LzfError::OutputOverflow);
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError::InputTruncated)?;
            if out.len() + run > out_len {
                return Err(LzfError::OutputOverflow);
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError::InputTruncated)? as usize;
                ip += 1;
            }
            let low = *input.get(ip).ok_or(LzfError::InputTruncated)? as usize;
            ip += 1;
            let back = ((ctrl & 0x1f) << 8 | low) + 1;
            let len = len + 2;
            if back > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > out_len {
                return Err(LzfError::OutputOverflow);
            }
            let start = out.len() - back;
            // Byte by byte: the source may overlap what is being written.
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::ShortOutput);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "lzf_tests.rs"]
mod tests;
