//! Our random number generator for grouping and subsampling: numpy's legacy `RandomState`.
//!
//! Upstream draws every grouping and subsampling decision from numpy's global legacy RNG
//! (`np.random.seed(s)` = MT19937 `init_genrand(s)`). Reproducing that stream exactly lets a seed
//! mean the same groups here as upstream: `RandomState(42).choice(30, 5, replace=False)` is
//! `[27, 15, 23, 17, 8]` in both. The generator itself is `rand_mt` (the reference MT19937); this
//! module adds numpy's legacy algorithms on top of it:
//! - `random_sample`: 53-bit doubles `((a >> 5) * 2^26 + (b >> 6)) / 2^53`,
//! - `random_interval(max)`: masked rejection sampling on 32-bit draws (64-bit above 2^32),
//! - `shuffle`/`permutation`: Fisher–Yates from the end, `j = random_interval(i)`,
//! - `choice(n, k, replace=False)` = `permutation(n)[..k]`; `replace=True` = `randint(0, n, k)`
//!   (masked rejection).
//!
//! Simulation noise does not need numpy parity and uses ChaCha (see [`crate::simulate`]).

use rand_mt::Mt;

/// numpy's legacy `RandomState`, for the draws grouping and subsampling make.
#[derive(Clone)]
pub struct NumpyRandomState {
    mt: Mt,
}

impl std::fmt::Debug for NumpyRandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NumpyRandomState")
    }
}

impl NumpyRandomState {
    /// `np.random.RandomState(seed)` / `np.random.seed(seed)` for an integer seed.
    pub fn new(seed: u32) -> Self {
        NumpyRandomState { mt: Mt::new(seed) }
    }

    /// A generator seeded from the operating system (upstream's unseeded global RNG).
    pub fn from_entropy() -> Self {
        Self::new(rand::random::<u32>())
    }

    /// The next raw 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    /// `random_sample()`: a double in [0, 1) with 53 random bits.
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// A uniform integer in `[0, max]` by masked rejection (numpy's `random_interval`).
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// Shuffles in place like `RandomState.shuffle` on a 1-d array.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.random_interval(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }

    /// `choice(n, k, replace=False)`: `k` distinct indices of `0..n` (requires `k <= n`).
    pub fn choice_without_replacement(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut p = self.permutation(n);
        p.truncate(k.min(n));
        p
    }

    /// `choice(n, k, replace=True)`: `k` indices of `0..n` (requires `n >= 1`).
    pub fn choice_with_replacement(&mut self, n: usize, k: usize) -> Vec<usize> {
        (0..k)
            .map(|_| self.random_interval((n - 1) as u64) as usize)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by numpy 2.4 (legacy RandomState).
    #[test]
    fn matches_numpy_legacy_streams() {
        assert_eq!(
            NumpyRandomState::new(42).choice_without_replacement(30, 5),
            vec![27, 15, 23, 17, 8]
        );
        let mut rs = NumpyRandomState::new(42);
        let a = [3, 9, 4, 7, 1];
        let picked: Vec<i32> = rs
            .choice_without_replacement(5, 3)
            .into_iter()
            .map(|i| a[i])
            .collect();
        assert_eq!(picked, vec![9, 1, 4]);
        assert_eq!(rs.choice_with_replacement(5, 4), vec![4, 4, 1, 2]);
        assert_eq!(rs.random_sample(), 0.09997491581800289);
        let mut rs = NumpyRandomState::new(0);
        let u: Vec<f64> = (0..3).map(|_| rs.uniform(0.0, 100.0)).collect();
        assert_eq!(
            u,
            vec![54.88135039273247, 71.51893663724195, 60.276337607164386]
        );
    }
}
