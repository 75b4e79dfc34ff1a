//! A small log-linear latency histogram for `INFO latencystats`: eight
//! linear sub-buckets per power of two of microseconds, so percentiles are
//! exact to about 12% at any scale with 512 bytes per command.

/// Latency histogram in microseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    buckets: Box<[u64; 64 * 8]>,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: Box::new([0; 64 * 8]),
            count: 0,
        }
    }
}

fn index(us: u64) -> usize {
    let v = us.max(1);
    let msb = 63 - v.leading_zeros() as usize;
    let sub = if msb >= 3 {
        ((v >> (msb - 3)) & 7) as usize
    } else {
        ((v << (3 - msb)) & 7) as usize
    };
    (msb * 8 + sub).min(64 * 8 - 1)
}

fn upper(i: usize) -> f64 {
    let msb = i / 8;
    let sub = (i % 8) as f64;
    let base = (1u64 << msb) as f64;
    base + base * (sub + 1.0) / 8.0
}

impl Histogram {
    /// Records one sample.
    pub fn record(&mut self, us: u64) {
        self.buckets[index(us)] += 1;
        self.count += 1;
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Cumulative counts at power-of-two bounds for `LATENCY HISTOGRAM`:
    /// (bound in µs, samples at or below it), for each bound where the
    /// count grows.
    pub fn cumulative_pow2(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut seen = 0;
        for msb in 0..64 {
            let n: u64 = self.buckets[msb * 8..msb * 8 + 8].iter().sum();
            if n == 0 {
                continue;
            }
            seen += n;
            // Samples in [2^msb, 2^(msb+1)) are integers below 2^(msb+1).
            let bound = 1u64.checked_shl(msb as u32 + 1).unwrap_or(u64::MAX);
            out.push((bound, seen));
        }
        out
    }

    /// The value at percentile `p` (0–100), as a bucket upper bound.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let target = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return upper(i);
            }
        }
        upper(64 * 8 - 1)
    }
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
