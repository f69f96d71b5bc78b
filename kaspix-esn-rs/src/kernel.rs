//! The time-step loop of the reservoir.
//!
//! W is stored by columns, each padded to a multiple of [`BLOCK`] rows, so that `W x` is a sum
//! of scaled columns: every row keeps its own accumulator, the loop vectorises without any
//! reordering of sums, and a block of accumulators stays in registers for the whole product.
//! float64 takes 32 rows at a time, and keeps a sparse W in blocks of 4 rows instead
//! ([`crate::sparse`]), which sums in the same order. Every buffer the loop walks starts on a cache line ([`crate::aligned`]).
//! On x86-64 the same loop is also compiled for AVX2 with fused multiply-adds and picked at run
//! time. A fused multiply-add rounds once instead of twice, so the two paths agree to rounding
//! (about 1e-16 relative in float64), not bit for bit.

use crate::aligned::Aligned;
use crate::error::{InputError, Result};
use crate::real::Real;
use crate::sparse::{BlockSparse, GROUP_ROWS};
use crate::weights::Weights;

/// Units computed together in registers; the padded unit count is a multiple of it.
const BLOCK: usize = 64;

/// Units computed together in registers in float64: 8 AVX2 registers of 4 (64 would need 16,
/// every register there is, and spill).
const WIDE_BLOCK: usize = 32;

/// A reservoir's weights laid out for the step loop, in float type `T`.
#[derive(Debug, Clone)]
pub struct Kernel<T> {
    n: usize,
    padded: usize,
    n_inputs: usize,
    /// Column j of W at `[j * padded, (j + 1) * padded)`, zero-padded.
    w_cols: Aligned<T>,
    /// W in blocks, used instead of `w_cols` when `T::WIDE` and W is sparse enough.
    w_sparse: Option<BlockSparse<T>>,
    /// Column c of W_in at `[c * padded, (c + 1) * padded)`, zero-padded.
    w_in_cols: Aligned<T>,
    bias: Aligned<T>,
    leak: Aligned<T>,
    keep: Aligned<T>,
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
            Aligned::from_slice(&cols)
        };
        let padded_vec = |values: &[f64], fill: f64| {
            let mut out = vec![T::from_f64(fill); padded];
            out.iter_mut()
                .zip(values)
                .for_each(|(o, &v)| *o = T::from_f64(v));
            Aligned::from_slice(&out)
        };
        let keep: Vec<f64> = weights.leak_rates().iter().map(|a| 1.0 - a).collect();
        Self {
            n,
            padded,
            n_inputs,
            w_cols: columns(weights.w(), n),
            w_sparse: if T::WIDE {
                BlockSparse::new(weights.w(), n, padded)
            } else {
                None
            },
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

    /// Whether `W x` uses the block-sparse layout ([`crate::sparse`]).
    pub fn is_block_sparse(&self) -> bool {
        self.w_sparse.is_some()
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
        let mut x = Aligned::zeros(self.padded);
        if let Some(x0) = initial_state {
            x[..self.n].copy_from_slice(x0);
        }
        let mut pre = Aligned::zeros(self.padded);
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
/// per input row. `FUSED` picks fused multiply-adds for the products. float64 (`T::WIDE`)
/// takes [`WIDE_BLOCK`] rows at a time, or W in blocks ([`steps_sparse`]) when it is sparse.
#[inline(always)]
fn steps<T: Real, const FUSED: bool>(
    k: &Kernel<T>,
    signal: &[T],
    x: &mut [T],
    pre: &mut [T],
    out: &mut [T],
) {
    if !T::WIDE {
        steps_dense::<T, FUSED, BLOCK>(k, signal, x, pre, out);
    } else if let Some(w) = &k.w_sparse {
        steps_sparse::<T, FUSED>(k, w, signal, x, pre, out);
    } else {
        steps_dense::<T, FUSED, WIDE_BLOCK>(k, signal, x, pre, out);
    }
}

/// [`steps`] with the dense columns of W, `ROWS` rows at a time (a divisor of [`BLOCK`]).
#[inline(always)]
fn steps_dense<T: Real, const FUSED: bool, const ROWS: usize>(
    k: &Kernel<T>,
    signal: &[T],
    x: &mut [T],
    pre: &mut [T],
    out: &mut [T],
) {
    let (n, padded) = (k.n, k.padded);
    for (u, row) in signal.chunks_exact(k.n_inputs).zip(out.chunks_exact_mut(n)) {
        for start in (0..padded).step_by(ROWS) {
            let block = start..start + ROWS;
            let mut acc = [T::ZERO; ROWS];
            acc.copy_from_slice(&k.bias[block.clone()]);
            for (&uc, col) in u.iter().zip(k.w_in_cols.chunks_exact(padded)) {
                let col = col[block.clone()].try_into().unwrap();
                add_scaled::<T, FUSED, ROWS>(&mut acc, col, uc);
            }
            for (&xj, col) in x[..n].iter().zip(k.w_cols.chunks_exact(padded)) {
                let col = col[block.clone()].try_into().unwrap();
                add_scaled::<T, FUSED, ROWS>(&mut acc, col, xj);
            }
            pre[block].copy_from_slice(&acc);
        }
        update::<T, FUSED>(k, x, pre, row);
    }
}

/// `x = (1 - a) x + a tanh(pre)`, and the new state into `row`.
#[inline(always)]
fn update<T: Real, const FUSED: bool>(k: &Kernel<T>, x: &mut [T], pre: &[T], row: &mut [T]) {
    for (((xi, &p), &a), &keep) in x.iter_mut().zip(pre).zip(k.leak.iter()).zip(k.keep.iter()) {
        *xi = keep * *xi + a * p.activation::<FUSED>();
    }
    row.copy_from_slice(&x[..k.n]);
}

/// [`steps`] with W in blocks ([`BlockSparse`]), [`GROUP_ROWS`] rows at a time; every row sums
/// its terms in the same order as the dense loop.
#[inline(always)]
fn steps_sparse<T: Real, const FUSED: bool>(
    k: &Kernel<T>,
    w: &BlockSparse<T>,
    signal: &[T],
    x: &mut [T],
    pre: &mut [T],
    out: &mut [T],
) {
    let padded = k.padded;
    for (u, row) in signal
        .chunks_exact(k.n_inputs)
        .zip(out.chunks_exact_mut(k.n))
    {
        for (g, start) in (0..padded).step_by(GROUP_ROWS).enumerate() {
            let block = start..start + GROUP_ROWS;
            let mut acc = [T::ZERO; GROUP_ROWS];
            acc.copy_from_slice(&k.bias[block.clone()]);
            for (&uc, col) in u.iter().zip(k.w_in_cols.chunks_exact(padded)) {
                let col = col[block.clone()].try_into().unwrap();
                add_scaled::<T, FUSED, GROUP_ROWS>(&mut acc, col, uc);
            }
            w.add_product::<FUSED>(g, &mut acc, x);
            pre[block].copy_from_slice(&acc);
        }
        update::<T, FUSED>(k, x, pre, row);
    }
}

/// `acc += col * s`, element by element.
#[inline(always)]
fn add_scaled<T: Real, const FUSED: bool, const LEN: usize>(
    acc: &mut [T; LEN],
    col: &[T; LEN],
    s: T,
) {
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

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn matches_the_textbook_update_for_several_sizes() {
        for (n, c, sparsity) in [
            (1, 1, 0.5),
            (5, 2, 0.5),
            (33, 1, 0.5),
            (64, 3, 0.5),
            (70, 1, 0.5),
            (64, 1, 0.9),
            (100, 2, 0.95),
        ] {
            let w = ReservoirConfig {
                n_units: n,
                n_inputs: c,
                sparsity,
                seed: n as u64,
                ..Default::default()
            }
            .build()
            .unwrap();
            let signal = sine(300, c);
            let mut out = vec![0.0; 300 * n];
            Kernel::<f64>::new(&w).run(&signal, None, &mut out).unwrap();
            let err = max_abs_diff(&out, &naive(&w, &signal));
            assert!(err < 1e-13, "n={n} c={c}: {err:e}");
        }
    }

    #[test]
    fn long_loud_runs_stay_within_1e_12_of_the_textbook_update_with_exact_tanh() {
        // 48,000 steps: a chirp with noise bursts, then a loud input that drives every unit
        // deep into saturation and back, where tanh's error would show most.
        let w = ReservoirConfig {
            n_units: 64,
            spectral_radius: 0.99,
            ..Default::default()
        }
        .build()
        .unwrap();
        let audio: Vec<f64> = (0..48_000)
            .map(|i| {
                let t = i as f64 / 48_000.0;
                let burst = if (i / 4_000) % 3 == 0 { 0.3 } else { 0.0 };
                0.6 * (std::f64::consts::TAU * (100.0 + 2_000.0 * t) * t).sin()
                    + burst * (i as f64 * 1.7).sin()
            })
            .collect();
        let loud: Vec<f64> = (0..48_000)
            .map(|i| 40.0 * (i as f64 * 0.37).sin() * (i as f64 * 0.0011).cos())
            .collect();
        let k = Kernel::<f64>::new(&w);
        assert!(k.is_block_sparse());
        for signal in [audio, loud] {
            let mut out = vec![0.0; signal.len() * 64];
            k.run(&signal, None, &mut out).unwrap();
            let err = max_abs_diff(&out, &naive(&w, &signal));
            assert!(err <= 1e-12, "{err:e}");
        }
    }

    #[test]
    fn block_sparse_and_dense_layouts_give_the_same_states() {
        for (n, c, sparsity) in [(64, 1, 0.9), (40, 2, 0.9), (130, 1, 0.95), (7, 1, 0.5)] {
            let w = ReservoirConfig {
                n_units: n,
                n_inputs: c,
                sparsity,
                seed: 3,
                ..Default::default()
            }
            .build()
            .unwrap();
            let sparse = Kernel::<f64>::new(&w);
            assert!(sparse.is_block_sparse(), "n={n} sparsity={sparsity}");
            let dense = Kernel {
                w_sparse: None,
                ..sparse.clone()
            };
            let signal = sine(400, c);
            let (mut a, mut b) = (vec![0.0; 400 * n], vec![0.0; 400 * n]);
            sparse.run(&signal, None, &mut a).unwrap();
            dense.run(&signal, None, &mut b).unwrap();
            assert_eq!(a, b, "n={n} c={c}");
        }
        let dense = ReservoirConfig {
            sparsity: 0.0,
            ..Default::default()
        };
        assert!(!Kernel::<f64>::new(&dense.build().unwrap()).is_block_sparse());
        assert!(
            !Kernel::<f32>::new(&ReservoirConfig::default().build().unwrap()).is_block_sparse()
        );
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
        for sparsity in [0.0, 0.9] {
            let w = ReservoirConfig {
                n_units: 40,
                n_inputs: 2,
                sparsity,
                ..Default::default()
            }
            .build()
            .unwrap();
            let signal = sine(500, 2);
            let k = Kernel::<f64>::new(&w);
            assert_eq!(k.is_block_sparse(), sparsity > 0.0);
            let mut dispatched = vec![0.0; 500 * 40];
            k.run(&signal, None, &mut dispatched).unwrap();
            for fused in [false, true] {
                let (mut x, mut pre) = (Aligned::zeros(k.padded), Aligned::zeros(k.padded));
                let mut other = vec![0.0; 500 * 40];
                if fused {
                    steps::<f64, true>(&k, &signal, &mut x, &mut pre, &mut other);
                } else {
                    steps::<f64, false>(&k, &signal, &mut x, &mut pre, &mut other);
                }
                let err = max_abs_diff(&other, &dispatched);
                assert!(err < 1e-14, "sparsity={sparsity} fused={fused}: {err:e}");
            }
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
