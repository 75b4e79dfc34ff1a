//! The latency histogram: an HDR histogram with the bucket layout, value
//! equivalence and the two iterators (percentiles, linear steps) that
//! upstream's report is printed from, so our report has the same rows for
//! the same samples.
//!
//! Layout (Gil Tene's HDR scheme): values are grouped into buckets whose
//! resolution doubles from one bucket to the next; each bucket has
//! `sub_bucket_count` slots, the first bucket's resolution is the largest
//! power of two not above the lowest discernible value (8 µs for upstream's
//! 10 µs), and `sub_bucket_count` is the smallest power of two that holds
//! `2 * 10^precision` so every value keeps `precision` significant digits.
//!
//! Recording goes through [`AtomicHistogram`] (shared by the worker
//! threads; one add per batch of replies); reports read a [`Histogram`]
//! snapshot of it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Bucket geometry for one (lowest, highest, significant figures) triple.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    unit_magnitude: u32,
    sub_bucket_half_count_magnitude: u32,
    sub_bucket_count: i64,
    sub_bucket_half_count: i64,
    sub_bucket_mask: i64,
    counts_len: usize,
}

impl Layout {
    /// `sigfigs` is clamped to 1..=5 (the scheme's valid range).
    pub fn new(lowest: i64, highest: i64, sigfigs: u32) -> Layout {
        let sigfigs = sigfigs.clamp(1, 5);
        let single_unit = 2 * 10i64.pow(sigfigs);
        // Smallest power of two holding `single_unit` (never an exact power).
        let count_magnitude = 64 - (single_unit - 1).leading_zeros();
        let sub_bucket_half_count_magnitude = count_magnitude.max(1) - 1;
        let unit_magnitude = 63 - lowest.max(1).leading_zeros();
        let sub_bucket_count = 1i64 << (sub_bucket_half_count_magnitude + 1);
        let sub_bucket_half_count = sub_bucket_count / 2;
        let sub_bucket_mask = (sub_bucket_count - 1) << unit_magnitude;
        // Buckets needed so that `highest` is trackable.
        let mut smallest_untrackable = sub_bucket_count << unit_magnitude;
        let mut bucket_count: i64 = 1;
        while smallest_untrackable <= highest {
            if smallest_untrackable > i64::MAX / 2 {
                bucket_count += 1;
                break;
            }
            smallest_untrackable <<= 1;
            bucket_count += 1;
        }
        let counts_len = usize::try_from((bucket_count + 1) * sub_bucket_half_count).unwrap_or(0);
        Layout {
            unit_magnitude,
            sub_bucket_half_count_magnitude,
            sub_bucket_count,
            sub_bucket_half_count,
            sub_bucket_mask,
            counts_len,
        }
    }

    /// Upstream's layout: 10 µs to 3 s at `precision` significant figures.
    pub fn latency(precision: i32) -> Layout {
        Layout::new(10, 3_000_000, u32::try_from(precision).unwrap_or(1))
    }

    fn bucket_index(&self, v: i64) -> i64 {
        let pow2ceiling = 64 - i64::from((v | self.sub_bucket_mask).leading_zeros());
        pow2ceiling
            - i64::from(self.unit_magnitude)
            - i64::from(self.sub_bucket_half_count_magnitude + 1)
    }

    fn sub_bucket_index(&self, v: i64, bucket: i64) -> i64 {
        v >> (bucket + i64::from(self.unit_magnitude))
    }

    /// Slot of `v`, or `None` when it is out of range.
    fn index_of(&self, v: i64) -> Option<usize> {
        if v < 0 {
            return None;
        }
        let b = self.bucket_index(v);
        let sb = self.sub_bucket_index(v, b);
        let base = (b + 1) << self.sub_bucket_half_count_magnitude;
        let idx = base + (sb - self.sub_bucket_half_count);
        usize::try_from(idx).ok().filter(|&i| i < self.counts_len)
    }

    /// Lowest value of slot `index`.
    pub fn value_at_index(&self, index: usize) -> i64 {
        let index = index as i64;
        let mut b = (index >> self.sub_bucket_half_count_magnitude) - 1;
        let mut sb = (index & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count;
        if b < 0 {
            sb -= self.sub_bucket_half_count;
            b = 0;
        }
        sb << (b + i64::from(self.unit_magnitude))
    }

    fn equivalent_range(&self, v: i64) -> i64 {
        let b = self.bucket_index(v);
        let sb = self.sub_bucket_index(v, b);
        let adjusted = if sb >= self.sub_bucket_count {
            b + 1
        } else {
            b
        };
        1i64 << (i64::from(self.unit_magnitude) + adjusted)
    }

    pub fn lowest_equivalent(&self, v: i64) -> i64 {
        let b = self.bucket_index(v);
        let sb = self.sub_bucket_index(v, b);
        sb << (b + i64::from(self.unit_magnitude))
    }

    pub fn highest_equivalent(&self, v: i64) -> i64 {
        self.lowest_equivalent(v) + self.equivalent_range(v) - 1
    }

    fn median_equivalent(&self, v: i64) -> i64 {
        self.lowest_equivalent(v) + (self.equivalent_range(v) >> 1)
    }
}

/// A histogram owned by one reader: the report's view.
#[derive(Debug, Clone)]
pub struct Histogram {
    layout: Layout,
    counts: Vec<u64>,
    total: u64,
    min: i64,
    max: i64,
}

impl Histogram {
    #[cfg(test)]
    pub fn new(layout: Layout) -> Histogram {
        Histogram {
            layout,
            counts: vec![0; layout.counts_len],
            total: 0,
            min: i64::MAX,
            max: 0,
        }
    }

    /// Records `count` samples of `value`; false when out of range.
    #[cfg(test)]
    pub fn record(&mut self, value: i64, count: u64) -> bool {
        let Some(i) = self.layout.index_of(value) else {
            return false;
        };
        self.counts[i] += count;
        self.total += count;
        if value != 0 && value < self.min {
            self.min = value;
        }
        self.max = self.max.max(value);
        true
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Smallest recorded value (lowest equivalent); `i64::MAX` when empty.
    pub fn min(&self) -> i64 {
        if self.counts.first().is_some_and(|&c| c > 0) {
            return 0;
        }
        if self.min == i64::MAX {
            return i64::MAX;
        }
        self.layout.lowest_equivalent(self.min)
    }

    /// Largest recorded value (highest equivalent); 0 when empty.
    pub fn max(&self) -> i64 {
        if self.max == 0 {
            return 0;
        }
        self.layout.highest_equivalent(self.max)
    }

    /// Mean of the median equivalents; NaN when empty.
    pub fn mean(&self) -> f64 {
        let mut total: i64 = 0;
        let mut seen: u64 = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            if seen >= self.total {
                break;
            }
            if c != 0 {
                seen += c;
                total = total
                    .wrapping_add((c as i64).wrapping_mul(
                        self.layout.median_equivalent(self.layout.value_at_index(i)),
                    ));
            }
        }
        total as f64 / self.total as f64
    }

    /// The value at `percentile` (highest equivalent of its slot; lowest
    /// for 0); 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> i64 {
        let requested = percentile.min(100.0);
        let wanted = (((requested / 100.0) * self.total as f64) + 0.5) as i64;
        let wanted = wanted.max(1) as u64;
        let mut running = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            running += c;
            if running >= wanted {
                let v = self.layout.value_at_index(i);
                return if percentile == 0.0 {
                    self.layout.lowest_equivalent(v)
                } else {
                    self.layout.highest_equivalent(v)
                };
            }
        }
        0
    }

    /// Rows of "Latency by percentile distribution": (percentile, highest
    /// equivalent value, cumulative count) for each step, with half the
    /// remaining distance per tick (0, 50, 75, 87.5, ... 100).
    pub fn percentile_rows(&self, ticks_per_half_distance: i64) -> Vec<(f64, i64, u64)> {
        let mut it = Cursor::new(self);
        let mut rows = Vec::new();
        let mut seen_last = false;
        let mut to = 0.0f64;
        loop {
            if !it.has_next() {
                if seen_last {
                    break;
                }
                seen_last = true;
                rows.push((100.0, it.highest_equivalent, it.cumulative));
                continue;
            }
            if it.index == -1 && !it.basic_next() {
                break;
            }
            let mut reported = false;
            loop {
                let current = (100.0 * it.cumulative as f64) / self.total as f64;
                if it.count != 0 && to <= current {
                    rows.push((to, it.highest_equivalent, it.cumulative));
                    let temp = ((100.0 / (100.0 - to)).ln() / 2f64.ln()) as i64 + 1;
                    let half_distance = 2f64.powf(temp as f64) as i64;
                    let ticks = ticks_per_half_distance * half_distance;
                    to += 100.0 / ticks as f64;
                    reported = true;
                    break;
                }
                if !it.basic_next() {
                    break;
                }
            }
            if !reported {
                // The C iterator reports its current state once more here.
                rows.push((to, it.highest_equivalent, it.cumulative));
            }
        }
        rows
    }

    /// Rows of "Cumulative distribution of latencies": (highest equivalent
    /// value, cumulative count) at every `step` µs, the step becoming
    /// `wide_step` once the value passes `wide_after` µs.
    pub fn linear_rows(&self, step: i64, wide_after: i64, wide_step: i64) -> Vec<(i64, u64)> {
        let mut it = Cursor::new(self);
        let mut rows = Vec::new();
        let mut units = step;
        let mut level = step;
        let mut level_lowest = self.layout.lowest_equivalent(level);
        loop {
            let more = it.has_next()
                || (it.index < self.counts.len() as i64
                    && self.layout.value_at_index((it.index + 1) as usize) > level_lowest);
            if !more {
                break;
            }
            loop {
                if it.value >= level_lowest {
                    level += units;
                    level_lowest = self.layout.lowest_equivalent(level);
                    break;
                }
                if !it.move_next() {
                    break;
                }
            }
            rows.push((it.highest_equivalent, it.cumulative));
            if it.highest_equivalent > wide_after {
                units = wide_step;
            }
            if it.index >= self.counts.len() as i64 {
                break;
            }
        }
        rows
    }
}

/// Walking state shared by the iterators (the C `hdr_iter` fields).
struct Cursor<'a> {
    h: &'a Histogram,
    index: i64,
    count: u64,
    cumulative: u64,
    value: i64,
    highest_equivalent: i64,
}

impl<'a> Cursor<'a> {
    fn new(h: &'a Histogram) -> Cursor<'a> {
        Cursor {
            h,
            index: -1,
            count: 0,
            cumulative: 0,
            value: 0,
            highest_equivalent: 0,
        }
    }

    fn has_next(&self) -> bool {
        self.cumulative < self.h.total
    }

    fn move_next(&mut self) -> bool {
        self.index += 1;
        let Some(&c) = usize::try_from(self.index)
            .ok()
            .and_then(|i| self.h.counts.get(i))
        else {
            return false;
        };
        self.count = c;
        self.cumulative += c;
        let v = self.h.layout.value_at_index(self.index as usize);
        self.value = v;
        self.highest_equivalent = self.h.layout.highest_equivalent(v);
        true
    }

    fn basic_next(&mut self) -> bool {
        if !self.has_next() || self.index >= self.h.counts.len() as i64 {
            return false;
        }
        self.move_next();
        true
    }
}

/// The recording side, shared by the worker threads.
#[derive(Debug)]
pub struct AtomicHistogram {
    layout: Layout,
    counts: Vec<AtomicU64>,
    total: AtomicU64,
    min: AtomicI64,
    max: AtomicI64,
}

impl AtomicHistogram {
    pub fn new(layout: Layout) -> AtomicHistogram {
        AtomicHistogram {
            layout,
            counts: (0..layout.counts_len).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            min: AtomicI64::new(i64::MAX),
            max: AtomicI64::new(0),
        }
    }

    /// Records `count` samples of `value` (out of range: dropped).
    pub fn record(&self, value: i64, count: u64) {
        let Some(i) = self.layout.index_of(value) else {
            return;
        };
        self.counts[i].fetch_add(count, Ordering::Relaxed);
        self.total.fetch_add(count, Ordering::Relaxed);
        if value != 0 && value < self.min.load(Ordering::Relaxed) {
            self.min.fetch_min(value, Ordering::Relaxed);
        }
        if value > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(value, Ordering::Relaxed);
        }
    }

    /// A consistent-enough copy for reporting.
    pub fn snapshot(&self) -> Histogram {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        Histogram {
            layout: self.layout,
            total: counts.iter().sum(),
            counts,
            min: self.min.load(Ordering::Relaxed),
            max: self.max.load(Ordering::Relaxed),
        }
    }

    /// Empties it (the per-second histogram, after each progress line).
    pub fn reset(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
        self.total.store(0, Ordering::Relaxed);
        self.min.store(i64::MAX, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "hdr_tests.rs"]
mod tests;
