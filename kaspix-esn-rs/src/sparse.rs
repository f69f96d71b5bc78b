//! A sparse W laid out in blocks of [`QUAD`] rows x 1 column, for the step loop.
//!
//! A dense float64 W of 64 units is 32 KiB, more than the L1 cache of most cores, so the dense
//! product `W x` runs at L2 speed. At the default sparsity (90 % zeros) about two blocks in three
//! are all zero; keeping only the others shrinks W about threefold and the product with it.
//! Rows are taken [`GROUP`] blocks (`GROUP_ROWS` rows) at a time, whose sums stay in registers;
//! each block row of a group gets as many slots as the fullest one, the spare slots hold
//! zeros. Within a row the nonzero blocks come in column order, and a zero weight adds
//! exactly nothing, so every row's sum is the dense column-order sum: the same result.

use crate::aligned::Aligned;
use crate::real::Real;

/// Rows per block: one 256-bit vector of float64.
pub const QUAD: usize = 4;
/// Blocks of rows summed together in registers.
pub const GROUP: usize = 8;
/// Rows per group.
pub const GROUP_ROWS: usize = QUAD * GROUP;

/// The blocks with a nonzero weight, by groups of [`GROUP_ROWS`] rows.
#[derive(Debug, Clone)]
pub struct BlockSparse<T> {
    /// For each group: its first slot and its number of slots.
    groups: Vec<(usize, usize)>,
    /// Slot s holds one block per block row of its group: its column, `cols[s * GROUP + b]`.
    cols: Vec<usize>,
    /// The weights of those blocks, `vals[(s * GROUP + b) * QUAD + i]` for row `i` of block `b`.
    vals: Aligned<T>,
}

impl<T: Real> BlockSparse<T> {
    /// Lays out the row-major `n x n` matrix `w` over `padded` rows (a multiple of
    /// [`GROUP_ROWS`]; rows from `n` on are zero). `None` when it would keep more than half the
    /// blocks of the dense layout, where the dense product is the faster one.
    pub fn new(w: &[f64], n: usize, padded: usize) -> Option<Self> {
        debug_assert!(padded % GROUP_ROWS == 0 && padded >= n && w.len() == n * n);
        let weight = |row: usize, col: usize| if row < n { w[row * n + col] } else { 0.0 };
        let (mut groups, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for first_row in (0..padded).step_by(GROUP_ROWS) {
            // The nonzero blocks of each block row, in column order.
            let rows: Vec<Vec<usize>> = (0..GROUP)
                .map(|b| {
                    let top = first_row + b * QUAD;
                    (0..n)
                        .filter(|&j| (top..top + QUAD).any(|i| weight(i, j) != 0.0))
                        .collect()
                })
                .collect();
            let slots = rows.iter().map(Vec::len).max().unwrap_or(0);
            groups.push((cols.len() / GROUP, slots));
            for s in 0..slots {
                for (b, blocks) in rows.iter().enumerate() {
                    let top = first_row + b * QUAD;
                    match blocks.get(s) {
                        Some(&j) => {
                            cols.push(j);
                            vals.extend((top..top + QUAD).map(|i| T::from_f64(weight(i, j))));
                        }
                        None => {
                            cols.push(0);
                            vals.extend([T::ZERO; QUAD]);
                        }
                    }
                }
            }
        }
        let dense_blocks = n * padded / QUAD;
        (2 * cols.len() <= dense_blocks).then(|| Self {
            groups,
            cols,
            vals: Aligned::from_slice(&vals),
        })
    }

    /// Number of blocks stored, spare slots included.
    pub fn n_blocks(&self) -> usize {
        self.cols.len()
    }

    /// `acc += W[rows of group g, :] x`, the group's rows in order. `FUSED` picks fused
    /// multiply-adds.
    #[inline(always)]
    pub fn add_product<const FUSED: bool>(&self, g: usize, acc: &mut [T; GROUP_ROWS], x: &[T]) {
        let (first, slots) = self.groups[g];
        let cols = &self.cols[first * GROUP..(first + slots) * GROUP];
        let vals = &self.vals[first * GROUP_ROWS..(first + slots) * GROUP_ROWS];
        for (slot_cols, slot_vals) in cols.chunks_exact(GROUP).zip(vals.chunks_exact(GROUP_ROWS)) {
            for ((&j, block), sums) in slot_cols
                .iter()
                .zip(slot_vals.chunks_exact(QUAD))
                .zip(acc.chunks_exact_mut(QUAD))
            {
                let xj = x[j];
                for (a, &wv) in sums.iter_mut().zip(block) {
                    *a = if FUSED {
                        wv.mul_add(xj, *a)
                    } else {
                        *a + wv * xj
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_nonzero_blocks_and_declines_dense_matrices() {
        let n = 40;
        let mut w = vec![0.0; n * n];
        w[5 * n + 7] = 2.0; // row 5 (group 0, block 1), column 7
        w[39 * n + 1] = -1.0; // row 39 (group 1, block 1)
        w[39 * n + 30] = 3.0;
        let sparse = BlockSparse::<f64>::new(&w, n, 64).unwrap();
        assert_eq!(sparse.groups, vec![(0, 1), (1, 2)]);
        assert_eq!(sparse.n_blocks(), 3 * GROUP);
        let mut acc = [1.0; GROUP_ROWS];
        let x: Vec<f64> = (0..64).map(|j| j as f64).collect();
        sparse.add_product::<false>(0, &mut acc, &x);
        let mut want = [1.0; GROUP_ROWS];
        want[5] += 2.0 * 7.0;
        assert_eq!(acc, want);
        let mut acc = [0.0; GROUP_ROWS];
        sparse.add_product::<true>(1, &mut acc, &x);
        assert_eq!(acc[39 - 32], -1.0 + 3.0 * 30.0);
        assert_eq!(acc.iter().filter(|&&v| v != 0.0).count(), 1);
        assert!(BlockSparse::<f64>::new(&vec![0.5; n * n], n, 64).is_none());
    }
}
