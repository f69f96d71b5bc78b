//! Spectral radius of a square matrix by power iteration.
//!
//! Random reservoir matrices usually have a complex-conjugate pair of largest eigenvalues, so
//! the iterate never settles on one eigenvector. Its growth rate still converges to the
//! spectral radius: after a burn-in, `rho = (|W^(k+m) v| / |W^k v|)^(1/m)`, summed in logs.

use crate::rng::Rng;

const BURN_IN: usize = 300;
const MEASURED: usize = 1200;

/// Estimated spectral radius (largest eigenvalue modulus) of the `n x n` row-major matrix `w`.
/// Returns 0 when the iterate vanishes (a nilpotent or zero matrix).
pub fn spectral_radius(w: &[f64], n: usize) -> f64 {
    assert_eq!(w.len(), n * n, "spectral_radius: w must be n x n");
    let sparse = Csr::from_dense(w, n);
    let mut rng = Rng::new(0x5EED_5EED);
    let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let mut next = vec![0.0; n];
    let mut log_growth = 0.0;
    for step in 0..BURN_IN + MEASURED {
        sparse.mul(&v, &mut next);
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return 0.0;
        }
        if step >= BURN_IN {
            log_growth += norm.ln();
        }
        for (vi, ni) in v.iter_mut().zip(&next) {
            *vi = ni / norm;
        }
    }
    (log_growth / MEASURED as f64).exp()
}

/// Compressed sparse rows, so that sparse reservoirs are cheap to iterate.
struct Csr {
    row_start: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f64>,
}

impl Csr {
    fn from_dense(w: &[f64], n: usize) -> Self {
        let mut row_start = Vec::with_capacity(n + 1);
        let (mut cols, mut vals) = (Vec::new(), Vec::new());
        row_start.push(0);
        for row in w.chunks_exact(n) {
            for (j, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                cols.push(j);
                vals.push(v);
            }
            row_start.push(cols.len());
        }
        Self {
            row_start,
            cols,
            vals,
        }
    }

    fn mul(&self, x: &[f64], y: &mut [f64]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let range = self.row_start[i]..self.row_start[i + 1];
            *yi = self.cols[range.clone()]
                .iter()
                .zip(&self.vals[range])
                .map(|(&j, &v)| v * x[j])
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::spectral_radius;

    #[test]
    fn diagonal_matrix_gives_its_largest_modulus() {
        let w = [0.5, 0.0, 0.0, 0.0, -1.5, 0.0, 0.0, 0.0, 1.0];
        assert!((spectral_radius(&w, 3) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn rotation_pair_gives_its_modulus() {
        // Eigenvalues 0.8 * exp(+-i 0.7) plus a smaller real one: the iterate keeps rotating.
        let (c, s) = (0.8 * 0.7f64.cos(), 0.8 * 0.7f64.sin());
        let w = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 0.3];
        assert!((spectral_radius(&w, 3) - 0.8).abs() < 1e-3);
    }

    #[test]
    fn nilpotent_and_zero_matrices_give_zero() {
        assert_eq!(spectral_radius(&[0.0, 1.0, 0.0, 0.0], 2), 0.0);
        assert_eq!(spectral_radius(&[0.0; 9], 3), 0.0);
    }
}
