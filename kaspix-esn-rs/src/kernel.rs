//! The time-step loop of the reservoir.
//!
//! W is stored by columns, each padded to a multiple of [`BLOCK`] rows, so that `W x` is a sum
//! of scaled columns: every row keeps its own accumulator, the loop vectorises without any
//! reordering of sums, and a block of accumulators stays in registers for the whole product.
//! On x86-64 the same loop is also compiled for AVX2 with fused multiply-adds and picked at run
//! time. A fused multiply-add rounds once instead of twice, so the two paths agree to rounding
//! (about 1e-16 relative in float64), not bit for bit.

use crate::error::{InputError, Result};
use crate::real::Real;
use crate::weights::Weights;

/// Units computed together in registers; the padded unit count is a multiple of it.
const BLOCK: usize = 64;

/// A reservoir's weights laid out for the step loop, in float type `T`.
#[derive(Debug, Clone)]
pub struct Kernel<T> {
    n: usize,
    padded: usize,
    n_inputs: usize,
    /// Column j of W at `[j * padded, (j + 1) * padded)`, zero-padded.
    w_cols: Vec<T>,
    /// Column c of W_in at `[c * padded, (c + 1) * padded)`, zero-padded.
    w_in_cols: Vec<T>,
    bias: Vec<T>,
    leak: Vec<T>,
    keep: Vec<T>,
}

impl<T: Real> Kernel<T> {
    /// Lays out `weights` (rounded to `T`). Padding units have zero weights and zero leak, so
    /// their state stays exactly 0.
    pub fn new(weights: &Weights) -> Self {
        let (n, n_inputs) = (weights.n_units(), weights.n_inputs());
        let padded = n.div_ceil(BLOCK) * BLOCK;
        let columns = |matrix: &[f64], n_cols: usize| {
            let mut cols = vec![T::ZERO; n_cols * padded];
            for (i, row) in matrix.chunks_exact(n_cols).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    cols[j * padded + i] = T::from_f64(v);
                }
            }
            cols
        };
        let padded_vec = |values: &[f64], fill: f64| {
            let mut out = vec![T::from_f64(fill); padded];
            out.iter_mut()
                .zip(values)
                .for_each(|(o, &v)| *o = T::from_f64(v));
            out
        };
        let keep: Vec<f64> = weights.leak_rates().iter().map(|a| 1.0 - a).collect();
        Self {
            n,
            padded,
            n_inputs,
            w_cols: columns(weights.w(), n),
            w_in_cols: columns(weights.w_in(), n_inputs),
            bias: padded_vec(weights.bias(), 0.0),
            leak: padded_vec(weights.leak_rates(), 0.0),
            keep: padded_vec(&keep, 1.0),
        }
    }

    /// Number of units N.
    pub fn n_units(&self) -> usize {
        self.n
    }

    /// Number of input channels C.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Runs the reservoir over `signal` (T steps x C channels, row-major) from `initial_state`
    /// (N values; zeros when `None`) and writes the T x N states to `out`.
    pub fn run(&self, signal: &[T], initial_state: Option<&[T]>, out: &mut [T]) -> Result<()> {
        self.check(signal, initial_state, out.len())?;
        self.run_checked(signal, initial_state, out);
        Ok(())
    }

    /// Checks the arguments of [`Kernel::run`] (`out_len` is the output's length); returns the
    /// number of steps.
    pub fn check(
        &self,
        signal: &[T],
        initial_state: Option<&[T]>,
        out_len: usize,
    ) -> Result<usize> {
        let c = self.n_inputs;
        if signal.is_empty() {
            return Err(InputError::new(
                "signal is empty (0 time steps); pass at least one sample",
            ));
        }
        if signal.len() % c != 0 {
            return Err(InputError(format!(
                "signal has {} values, not a whole number of steps of {c} channels",
                signal.len()
            )));
        }
        let steps = signal.len() / c;
        if let Some(i) = signal.iter().position(|v| !v.finite()) {
            return Err(InputError(format!(
                "signal contains NaN or inf at step {}, channel {}; clean or interpolate the signal first",
                i / c,
                i % c
            )));
        }
        if let Some(x0) = initial_state {
            if x0.len() != self.n {
                return Err(InputError(format!(
                    "initial_state must have {} values (one per unit), got {}",
                    self.n,
                    x0.len()
                )));
            }
            if let Some(i) = x0.iter().position(|v| !v.finite()) {
                return Err(InputError(format!(
                    "initial_state contains NaN or inf at unit {i}"
                )));
            }
        }
        if out_len != steps * self.n {
            return Err(InputError(format!(
                "output buffer must hold {steps} x {} values, has {out_len}",
                self.n
            )));
        }
        Ok(steps)
    }

    /// [`Kernel::run`] after [`Kernel::check`] has passed.
    pub(crate) fn run_checked(&self, signal: &[T], initial_state: Option<&[T]>, out: &mut [T]) {
        let mut x = vec![T::ZERO; self.padded];
        if let Some(x0) = initial_state {
            x[..self.n].copy_from_slice(x0);
        }
        let mut pre = vec![T::ZERO; self.padded];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the running CPU supports AVX2 and FMA, checked on the line above.
            unsafe { steps_avx2_fma(self, signal, &mut x, &mut pre, out) };
            return;
        }
        steps::<T, FUSED_BASELINE>(self, signal, &mut x, &mut pre, out);
    }
}

/// Whether the build target itself guarantees a hardware fused multiply-add (without one,
/// `mul_add` is a slow library call).
const FUSED_BASELINE: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

/// [`steps`] compiled for AVX2 with fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn steps_avx2_fma<T: Real>(k: &Kernel<T>, signal: &[T], x: &mut [T], pre: &mut [T], out: &mut [T]) {
    steps::<T, true>(k, signal, x, pre, out);
}

/// The step loop: `pre = b + W_in u + W x`, then `x = (1 - a) x + a tanh(pre)`, one output row
/// per input row. `FUSED` picks fused multiply-adds for the products.
#[inline(always)]
fn steps<T: Real, const FUSED: bool>(
    k: &Kernel<T>,
    signal: &[T],
    x: &mut [T],
    pre: &mut [T],
    out: &mut [T],
) {
    let (n, padded) = (k.n, k.padded);
    for (u, row) in signal.chunks_exact(k.n_inputs).zip(out.chunks_exact_mut(n)) {
        for start in (0..padded).step_by(BLOCK) {
            let block = start..start + BLOCK;
            let mut acc = [T::ZERO; BLOCK];
            acc.copy_from_slice(&k.bias[block.clone()]);
            for (&uc, col) in u.iter().zip(k.w_in_cols.chunks_exact(padded)) {
                add_scaled::<T, FUSED>(&mut acc, col[block.clone()].try_into().unwrap(), uc);
            }
            for (&xj, col) in x[..n].iter().zip(k.w_cols.chunks_exact(padded)) {
                add_scaled::<T, FUSED>(&mut acc, col[block.clone()].try_into().unwrap(), xj);
            }
            pre[block].copy_from_slice(&acc);
        }
        for (((xi, &p), &a), &keep) in x.iter_mut().zip(pre.iter()).zip(&k.leak).zip(&k.keep) {
            *xi = keep * *xi + a * p.activation();
        }
        row.copy_from_slice(&x[..n]);
    }
}

/// `acc += col * s`, element by element.
#[inline(always)]
fn add_scaled<T: Real, const FUSED: bool>(acc: &mut [T; BLOCK], col: &[T; BLOCK], s: T) {
    for (a, &c) in acc.iter_mut().zip(col) {
        *a = if FUSED { c.mul_add(s, *a) } else { *a + c * s };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::ReservoirConfig;

    /// The textbook update, row by row, for comparison.
    fn naive(w: &Weights, signal: &[f64]) -> Vec<f64> {
        let (n, c) = (w.n_units(), w.n_inputs());
        let mut x = vec![0.0; n];
        let mut out = Vec::new();
        for u in signal.chunks_exact(c) {
            let pre: Vec<f64> = (0..n)
                .map(|i| {
                    let wx: f64 = (0..n).map(|j| w.w()[i * n + j] * x[j]).sum();
                    let wu: f64 = (0..c).map(|k| w.w_in()[i * c + k] * u[k]).sum();
                    wx + wu + w.bias()[i]
                })
                .collect();
            for i in 0..n {
                let a = w.leak_rates()[i];
                x[i] = (1.0 - a) * x[i] + a * pre[i].tanh();
            }
            out.extend_from_slice(&x);
        }
        out
    }

    fn sine(steps: usize, channels: usize) -> Vec<f64> {
        (0..steps * channels)
            .map(|i| (0.05 * i as f64).sin() * 0.8)
            .collect()
    }

    #[test]
    fn matches_the_textbook_update_for_several_sizes() {
        for (n, c) in [(1, 1), (5, 2), (33, 1), (64, 3), (70, 1)] {
            let w = ReservoirConfig {
                n_units: n,
                n_inputs: c,
                sparsity: 0.5,
                seed: n as u64,
                ..Default::default()
            }
            .build()
            .unwrap();
            let signal = sine(300, c);
            let mut out = vec![0.0; 300 * n];
            Kernel::<f64>::new(&w).run(&signal, None, &mut out).unwrap();
            let want = naive(&w, &signal);
            let err = out
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-13, "n={n} c={c}: {err:e}");
        }
    }

    #[test]
    fn float32_tracks_float64() {
        let w = ReservoirConfig {
            n_units: 64,
            ..Default::default()
        }
        .build()
        .unwrap();
        let signal = sine(2000, 1);
        let mut out64 = vec![0.0; 2000 * 64];
        Kernel::<f64>::new(&w)
            .run(&signal, None, &mut out64)
            .unwrap();
        let signal32: Vec<f32> = signal.iter().map(|&v| v as f32).collect();
        let mut out32 = vec![0.0f32; 2000 * 64];
        Kernel::<f32>::new(&w)
            .run(&signal32, None, &mut out32)
            .unwrap();
        let err = out32
            .iter()
            .zip(&out64)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-4, "{err:e}");
    }

    #[test]
    fn dispatched_fused_and_unfused_paths_agree_to_rounding() {
        let w = ReservoirConfig {
            n_units: 40,
            n_inputs: 2,
            ..Default::default()
        }
        .build()
        .unwrap();
        let signal = sine(500, 2);
        let k = Kernel::<f64>::new(&w);
        let mut dispatched = vec![0.0; 500 * 40];
        k.run(&signal, None, &mut dispatched).unwrap();
        for fused in [false, true] {
            let (mut x, mut pre) = (vec![0.0; k.padded], vec![0.0; k.padded]);
            let mut other = vec![0.0; 500 * 40];
            if fused {
                steps::<f64, true>(&k, &signal, &mut x, &mut pre, &mut other);
            } else {
                steps::<f64, false>(&k, &signal, &mut x, &mut pre, &mut other);
            }
            let err = other
                .iter()
                .zip(&dispatched)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-14, "fused={fused}: {err:e}");
        }
    }

    #[test]
    fn initial_state_is_the_state_before_the_first_step() {
        let w = ReservoirConfig {
            n_units: 8,
            ..Default::default()
        }
        .build()
        .unwrap();
        let k = Kernel::<f64>::new(&w);
        let signal = sine(20, 1);
        let mut whole = vec![0.0; 20 * 8];
        k.run(&signal, None, &mut whole).unwrap();
        let mut tail = vec![0.0; 10 * 8];
        k.run(&signal[10..], Some(&whole[9 * 8..10 * 8]), &mut tail)
            .unwrap();
        assert_eq!(&whole[10 * 8..], tail.as_slice());
    }

    #[test]
    fn rejects_bad_arguments() {
        let w = ReservoirConfig {
            n_units: 4,
            n_inputs: 2,
            ..Default::default()
        }
        .build()
        .unwrap();
        let k = Kernel::<f64>::new(&w);
        let mut out = vec![0.0; 8];
        let err = |r: Result<()>| r.unwrap_err().0;
        assert!(err(k.run(&[], None, &mut out)).contains("empty"));
        assert!(err(k.run(&[0.0; 3], None, &mut out)).contains("whole number of steps"));
        assert!(
            err(k.run(&[0.0, 0.0, f64::NAN, 0.0], None, &mut out)).contains("step 1, channel 0")
        );
        assert!(
            err(k.run(&[0.0; 4], Some(&[0.0; 3]), &mut out)).contains("initial_state must have 4")
        );
        assert!(
            err(k.run(&[0.0; 4], Some(&[f64::INFINITY; 4]), &mut out))
                .contains("initial_state contains")
        );
        assert!(err(k.run(&[0.0; 2], None, &mut out)).contains("output buffer"));
    }
}
