//! The corruptions' random numbers.

/// SplitMix64: tiny, fast and, unlike a library RNG, guaranteed to produce the same stream in
/// every future build, which reproducible reports depend on.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }

    /// Poisson with mean `lambda`: Knuth's product of uniforms below 30, the normal
    /// approximation above (its variance is within 2 % there, which is all noise needs).
    pub fn poisson(&mut self, lambda: f32) -> f32 {
        if lambda <= 0.0 {
            return 0.0;
        }
        if lambda >= 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0);
        }
        let limit = (-lambda).exp();
        let mut k = 0.0;
        let mut p = self.unit();
        while p > limit {
            k += 1.0;
            p *= self.unit();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_has_its_mean_and_variance() {
        for lambda in [0.5f32, 3.0, 12.0, 60.0] {
            let mut rng = SplitMix64::new(7);
            let xs: Vec<f32> = (0..40_000).map(|_| rng.poisson(lambda)).collect();
            let mean = xs.iter().sum::<f32>() / xs.len() as f32;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
            assert!((mean / lambda - 1.0).abs() < 0.03, "{lambda}: mean {mean}");
            assert!((var / lambda - 1.0).abs() < 0.05, "{lambda}: variance {var}");
        }
    }
}
