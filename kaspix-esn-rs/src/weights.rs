//! The matrices and rates that define a reservoir, checked once on construction.

use crate::error::{InputError, Result, ensure_finite};

/// Everything that defines a leaky-integrator reservoir, in float64, row-major:
/// `x[t] = (1 - a) * x[t-1] + a * tanh(W x[t-1] + W_in u[t] + b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    n_units: usize,
    n_inputs: usize,
    w: Vec<f64>,
    w_in: Vec<f64>,
    bias: Vec<f64>,
    leak_rates: Vec<f64>,
}

impl Weights {
    /// Checks shapes and values: `w` is `n_units x n_units`, `w_in` is `n_units x n_inputs`
    /// (both row-major), `bias` and `leak_rates` have `n_units` entries, everything is finite and
    /// every leak rate lies in (0, 1].
    pub fn new(
        n_units: usize,
        n_inputs: usize,
        w: Vec<f64>,
        w_in: Vec<f64>,
        bias: Vec<f64>,
        leak_rates: Vec<f64>,
    ) -> Result<Self> {
        if n_units == 0 {
            return Err(InputError::new("n_units must be at least 1"));
        }
        if n_inputs == 0 {
            return Err(InputError::new("n_inputs must be at least 1"));
        }
        let expect = |name: &str, len: usize, want: usize, shape: String| {
            if len == want {
                Ok(())
            } else {
                Err(InputError(format!(
                    "{name} must have shape {shape} ({want} values), got {len} values"
                )))
            }
        };
        expect(
            "w",
            w.len(),
            n_units * n_units,
            format!("({n_units}, {n_units})"),
        )?;
        expect(
            "w_in",
            w_in.len(),
            n_units * n_inputs,
            format!("({n_units}, {n_inputs})"),
        )?;
        expect("bias", bias.len(), n_units, format!("({n_units},)"))?;
        expect(
            "leak_rates",
            leak_rates.len(),
            n_units,
            format!("({n_units},)"),
        )?;
        ensure_finite(&w, "w")?;
        ensure_finite(&w_in, "w_in")?;
        ensure_finite(&bias, "bias")?;
        check_leak_rates(&leak_rates)?;
        Ok(Self {
            n_units,
            n_inputs,
            w,
            w_in,
            bias,
            leak_rates,
        })
    }

    /// Number of reservoir units N.
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// Number of input channels C.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Recurrent matrix W, N x N row-major (`w[i * N + j]` is the weight from unit j to unit i).
    pub fn w(&self) -> &[f64] {
        &self.w
    }

    /// Input matrix W_in, N x C row-major.
    pub fn w_in(&self) -> &[f64] {
        &self.w_in
    }

    /// Bias b, N values.
    pub fn bias(&self) -> &[f64] {
        &self.bias
    }

    /// Per-unit leak rates a, N values in (0, 1].
    pub fn leak_rates(&self) -> &[f64] {
        &self.leak_rates
    }
}

/// `Err` unless every leak rate is finite and in (0, 1].
pub fn check_leak_rates(leak_rates: &[f64]) -> Result<()> {
    match leak_rates.iter().position(|&a| !(a > 0.0 && a <= 1.0)) {
        None => Ok(()),
        Some(i) => Err(InputError(format!(
            "leak rates must lie in (0, 1], got {} at unit {i}; a = 1 is a unit without memory, small a a slow unit",
            leak_rates[i]
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::Weights;

    fn build(w_len: usize, leak: f64, bias0: f64) -> crate::error::Result<Weights> {
        Weights::new(
            2,
            1,
            vec![0.1; w_len],
            vec![1.0, -1.0],
            vec![bias0, 0.0],
            vec![leak, 1.0],
        )
    }

    #[test]
    fn accepts_consistent_weights() {
        let w = build(4, 0.5, 0.0).unwrap();
        assert_eq!((w.n_units(), w.n_inputs()), (2, 1));
        assert_eq!(w.leak_rates(), &[0.5, 1.0]);
    }

    #[test]
    fn rejects_wrong_shapes_bad_leaks_and_non_finite_values() {
        assert!(
            build(3, 0.5, 0.0)
                .unwrap_err()
                .0
                .contains("w must have shape (2, 2)")
        );
        assert!(build(4, 0.0, 0.0).unwrap_err().0.contains("(0, 1]"));
        assert!(build(4, 1.5, 0.0).unwrap_err().0.contains("(0, 1]"));
        assert!(build(4, f64::NAN, 0.0).unwrap_err().0.contains("(0, 1]"));
        assert!(
            build(4, 0.5, f64::INFINITY)
                .unwrap_err()
                .0
                .contains("bias contains a non-finite")
        );
        assert!(Weights::new(0, 1, vec![], vec![], vec![], vec![]).is_err());
    }
}
