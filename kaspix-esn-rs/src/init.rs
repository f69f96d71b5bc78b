//! Random reservoirs from a seed: sparse or dense W scaled to a spectral radius, uniform W_in
//! and bias, leak rates given or logarithmically spaced.

use crate::error::{InputError, Result};
use crate::rng::Rng;
use crate::spectral::spectral_radius;
use crate::weights::Weights;

/// Default leak-rate range: time constants from 1 to 100 samples.
pub const DEFAULT_LEAK_RANGE: (f64, f64) = (0.01, 1.0);

/// How the per-unit leak rates are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum LeakRates {
    /// `n_units` rates spaced logarithmically from the first to the second value (inclusive),
    /// so that the units form a bank of time scales.
    LogSpaced(f64, f64),
    /// The same rate for every unit.
    Constant(f64),
    /// One rate per unit.
    PerUnit(Vec<f64>),
}

/// Settings of a random reservoir. `build` turns them into [`Weights`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReservoirConfig {
    /// Number of units N.
    pub n_units: usize,
    /// Number of input channels C.
    pub n_inputs: usize,
    /// Per-unit leak rates.
    pub leak_rates: LeakRates,
    /// Target spectral radius of W.
    pub spectral_radius: f64,
    /// Fraction of W's entries that are zero, in [0, 1); 0 gives a dense W.
    pub sparsity: f64,
    /// W_in is uniform in [-input_scaling, input_scaling].
    pub input_scaling: f64,
    /// b is uniform in [-bias_scaling, bias_scaling].
    pub bias_scaling: f64,
    /// Seed of the random stream; the same seed gives the same weights on every platform.
    pub seed: u64,
}

impl Default for ReservoirConfig {
    fn default() -> Self {
        Self {
            n_units: 64,
            n_inputs: 1,
            leak_rates: LeakRates::LogSpaced(DEFAULT_LEAK_RANGE.0, DEFAULT_LEAK_RANGE.1),
            spectral_radius: 0.9,
            sparsity: 0.9,
            input_scaling: 1.0,
            bias_scaling: 0.1,
            seed: 0,
        }
    }
}

impl ReservoirConfig {
    /// Draws the weights: first W's nonzero positions (exactly round((1 - sparsity) N^2) of
    /// them) and standard-normal values, rescaled to the target spectral radius; then W_in, then b.
    pub fn build(&self) -> Result<Weights> {
        self.check()?;
        let n = self.n_units;
        let leak_rates = match &self.leak_rates {
            LeakRates::LogSpaced(lo, hi) => log_leak_rates(n, *lo, *hi)?,
            LeakRates::Constant(a) => vec![*a; n],
            LeakRates::PerUnit(rates) => rates.clone(),
        };
        let mut rng = Rng::new(self.seed);
        let w = self.recurrent_matrix(&mut rng)?;
        let w_in = (0..n * self.n_inputs)
            .map(|_| self.input_scaling * rng.symmetric())
            .collect();
        let bias = (0..n)
            .map(|_| self.bias_scaling * rng.symmetric())
            .collect();
        Weights::new(n, self.n_inputs, w, w_in, bias, leak_rates)
    }

    fn check(&self) -> Result<()> {
        let fail = |msg: String| Err(InputError(msg));
        if self.n_units == 0 {
            return fail("n_units must be at least 1".into());
        }
        if self.n_inputs == 0 {
            return fail("n_inputs must be at least 1".into());
        }
        if !(self.spectral_radius.is_finite() && self.spectral_radius > 0.0) {
            return fail(format!(
                "spectral_radius must be a finite number > 0, got {}",
                self.spectral_radius
            ));
        }
        if !(0.0..1.0).contains(&self.sparsity) {
            return fail(format!(
                "sparsity must lie in [0, 1) (fraction of zero weights), got {}",
                self.sparsity
            ));
        }
        for (name, value) in [
            ("input_scaling", self.input_scaling),
            ("bias_scaling", self.bias_scaling),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return fail(format!("{name} must be a finite number >= 0, got {value}"));
            }
        }
        Ok(())
    }

    fn recurrent_matrix(&self, rng: &mut Rng) -> Result<Vec<f64>> {
        let n = self.n_units;
        let total = n * n;
        let nonzero = ((1.0 - self.sparsity) * total as f64).round() as usize;
        let mut positions: Vec<usize> = (0..total).collect();
        for k in 0..nonzero {
            let pick = k + rng.below(total - k); // partial Fisher-Yates shuffle
            positions.swap(k, pick);
        }
        let mut w = vec![0.0; total];
        for &p in &positions[..nonzero] {
            w[p] = rng.normal();
        }
        let rho = spectral_radius(&w, n);
        if rho == 0.0 {
            return Err(InputError(format!(
                "W with sparsity {} has {nonzero} nonzero weights among {n} units and spectral radius 0, \
                 so it cannot be scaled; lower sparsity, raise n_units or change the seed",
                self.sparsity
            )));
        }
        let scale = self.spectral_radius / rho;
        w.iter_mut().for_each(|v| *v *= scale);
        Ok(w)
    }
}

/// `n` leak rates spaced logarithmically from `lo` to `hi` inclusive (`lo` alone when n = 1).
pub fn log_leak_rates(n: usize, lo: f64, hi: f64) -> Result<Vec<f64>> {
    if n == 0 {
        return Err(InputError::new("log_leak_rates needs n >= 1"));
    }
    if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
        return Err(InputError(format!(
            "log-spaced leak rates need 0 < low <= high <= 1, got low={lo}, high={hi}"
        )));
    }
    let steps = (n - 1).max(1) as f64;
    let ratio = (hi / lo).ln();
    Ok((0..n)
        .map(|i| {
            if i + 1 == n && n > 1 {
                hi
            } else {
                lo * (ratio * i as f64 / steps).exp()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_leak_rates_span_the_range_geometrically() {
        let a = log_leak_rates(5, 0.01, 1.0).unwrap();
        assert_eq!((a[0], a[4]), (0.01, 1.0));
        for pair in a.windows(2) {
            assert!((pair[1] / pair[0] - 10f64.sqrt()).abs() < 1e-12);
        }
        assert_eq!(log_leak_rates(1, 0.2, 0.5).unwrap(), vec![0.2]);
        assert!(log_leak_rates(3, 0.0, 1.0).is_err());
        assert!(log_leak_rates(3, 0.5, 0.1).is_err());
    }

    #[test]
    fn build_is_seeded_sparse_and_scaled() {
        let cfg = ReservoirConfig {
            n_units: 40,
            sparsity: 0.75,
            spectral_radius: 1.2,
            ..Default::default()
        };
        let a = cfg.build().unwrap();
        assert_eq!(a, cfg.build().unwrap());
        assert_ne!(
            a,
            ReservoirConfig {
                seed: 1,
                ..cfg.clone()
            }
            .build()
            .unwrap()
        );
        assert_eq!(a.w().iter().filter(|v| **v != 0.0).count(), 400);
        assert!((spectral_radius(a.w(), 40) - 1.2).abs() < 1e-9);
        assert!(a.w_in().iter().all(|v| v.abs() <= 1.0));
        assert!(a.bias().iter().all(|v| v.abs() <= 0.1));
        assert_eq!(
            a.leak_rates(),
            log_leak_rates(40, 0.01, 1.0).unwrap().as_slice()
        );
    }

    #[test]
    fn dense_when_sparsity_is_zero() {
        let w = ReservoirConfig {
            n_units: 8,
            sparsity: 0.0,
            ..Default::default()
        }
        .build()
        .unwrap();
        assert!(w.w().iter().all(|v| *v != 0.0));
    }

    #[test]
    fn rejects_bad_settings_with_clear_messages() {
        let bad = |cfg: ReservoirConfig| cfg.build().unwrap_err().0;
        let base = ReservoirConfig::default();
        assert!(
            bad(ReservoirConfig {
                sparsity: 1.0,
                ..base.clone()
            })
            .contains("sparsity must lie in [0, 1)")
        );
        assert!(
            bad(ReservoirConfig {
                spectral_radius: -1.0,
                ..base.clone()
            })
            .contains("spectral_radius")
        );
        assert!(
            bad(ReservoirConfig {
                input_scaling: f64::NAN,
                ..base.clone()
            })
            .contains("input_scaling")
        );
        assert!(
            bad(ReservoirConfig {
                n_units: 0,
                ..base.clone()
            })
            .contains("n_units")
        );
        assert!(
            bad(ReservoirConfig {
                leak_rates: LeakRates::Constant(2.0),
                ..base.clone()
            })
            .contains("(0, 1]")
        );
        assert!(
            bad(ReservoirConfig {
                leak_rates: LeakRates::PerUnit(vec![0.5; 3]),
                ..base.clone()
            })
            .contains("leak_rates")
        );
        let empty = ReservoirConfig {
            n_units: 2,
            sparsity: 0.9,
            ..base
        };
        assert!(bad(empty).contains("cannot be scaled"));
    }
}
