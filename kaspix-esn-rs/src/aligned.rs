//! Float buffers that start on a cache line.
//!
//! The step loop reads W and the per-unit vectors 32 bytes (one AVX2 vector) at a time. The
//! allocator only promises 16-byte alignment, and where a buffer lands decides whether half of
//! those reads straddle two cache lines; measured, that alone swung the loop by 1.5-2x from one
//! build to the next. Every buffer the loop walks is therefore placed on a 64-byte boundary.

use std::ops::{Deref, DerefMut};

use crate::real::Real;

/// The boundary, in bytes: a cache line.
const ALIGN: usize = 64;

/// A fixed-length slice of `T` whose first element is 64-byte aligned.
#[derive(Debug)]
pub struct Aligned<T> {
    buf: Vec<T>,
    start: usize,
}

impl<T: Clone> Aligned<T> {
    /// A copy of `values`, aligned (when `T`'s size divides the allocator's misalignment, as
    /// for f32 and f64).
    pub fn from_slice(values: &[T]) -> Self {
        let Some(first) = values.first() else {
            return Self {
                buf: Vec::new(),
                start: 0,
            };
        };
        let size = size_of::<T>().max(1);
        let mut buf = Vec::with_capacity(values.len() + ALIGN / size);
        // The allocation does not move below: the capacity covers every push.
        let misalign = (ALIGN - buf.as_ptr() as usize % ALIGN) % ALIGN;
        let start = if misalign % size == 0 {
            misalign / size
        } else {
            0
        };
        buf.resize(start, first.clone());
        buf.extend_from_slice(values);
        Self { buf, start }
    }
}

impl<T: Real> Aligned<T> {
    /// `len` zeros, aligned.
    pub fn zeros(len: usize) -> Self {
        Self::from_slice(&vec![T::ZERO; len])
    }
}

impl<T: Clone> Clone for Aligned<T> {
    fn clone(&self) -> Self {
        Self::from_slice(self) // a plain copy of `buf` would lose the alignment
    }
}

impl<T> Deref for Aligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.buf[self.start..]
    }
}

impl<T> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::{ALIGN, Aligned};

    #[test]
    fn copies_are_aligned_and_equal() {
        for len in [1, 3, 64, 1000] {
            let values: Vec<f64> = (0..len).map(|i| i as f64).collect();
            let a = Aligned::from_slice(&values);
            assert_eq!(&*a, values.as_slice());
            assert_eq!(a.as_ptr() as usize % ALIGN, 0);
            let b = a.clone();
            assert_eq!(&*b, values.as_slice());
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
            let z = Aligned::<f32>::zeros(len);
            assert_eq!(z.len(), len);
            assert_eq!(z.as_ptr() as usize % ALIGN, 0);
        }
    }
}
