//! The PRNG behind `math.random`: upstream replaces C's `rand()` with its
//! own rand48 (a 48-bit linear congruential generator, `x = a·x + c mod
//! 2^48` with `a = 0x5DEECE66D`, `c = 0xB`, output the top 31 bits), so that
//! scripts see the same sequence on every platform. In 7.0 the state is
//! process-wide and is *not* reset before each script: it starts from the
//! rand48 default state and only `math.randomseed` (srand48 semantics:
//! `x = seed << 16 | 0x330E`) moves it elsewhere.

/// `REDIS_LRAND48_MAX`, the divisor `math.random` uses (`INT32_MAX`).
pub const LRAND48_MAX: i64 = i32::MAX as i64;

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

/// rand48 generator state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rand48 {
    x: u64,
}

impl Default for Rand48 {
    /// The state of a generator never seeded (`0x1234ABCD330E`).
    fn default() -> Self {
        Rand48 {
            x: 0x1234_ABCD_330E,
        }
    }
}

impl Rand48 {
    /// A generator seeded like `srand48(seed)`: only the low 32 bits count.
    pub fn seeded(seed: i32) -> Self {
        Rand48 {
            x: (u64::from(seed as u32) << 16) | 0x330E,
        }
    }

    /// The raw 48-bit state (to keep it across interpreters).
    pub fn state(&self) -> u64 {
        self.x
    }

    /// A generator at a raw state (see [`Rand48::state`]).
    pub fn from_state(x: u64) -> Self {
        Rand48 { x: x & MASK }
    }

    /// The next value in `0..2^31`, like `lrand48()`.
    pub fn next_u31(&mut self) -> i64 {
        self.x = (A.wrapping_mul(self.x).wrapping_add(C)) & MASK;
        (self.x >> 17) as i64
    }

    /// What Lua's `math.random()` returns with no argument: a number in
    /// `[0, 1)`.
    pub fn next_float(&mut self) -> f64 {
        (self.next_u31() % LRAND48_MAX) as f64 / LRAND48_MAX as f64
    }
}

/// A generator shared by several Lua states: upstream has one rand48 state
/// per process, so `EVAL` scripts and functions draw from the same
/// sequence (a `math.random()` in a function moves the next `EVAL`'s
/// value). Clones share the state.
#[derive(Clone, Debug)]
pub struct RandSource {
    state: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RandSource {
    fn default() -> Self {
        RandSource::new()
    }
}

impl RandSource {
    /// A new source at the rand48 default state.
    pub fn new() -> RandSource {
        RandSource {
            state: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
                Rand48::default().state(),
            )),
        }
    }

    /// The current generator.
    pub fn get(&self) -> Rand48 {
        Rand48::from_state(self.state.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Stores `g` as the current generator.
    pub fn set(&self, g: Rand48) {
        self.state
            .store(g.state(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether both handles share one state.
    pub fn same(&self, other: &RandSource) -> bool {
        std::sync::Arc::ptr_eq(&self.state, &other.state)
    }
}
