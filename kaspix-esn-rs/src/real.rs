//! The two float types the reservoir runs in, and their activation functions.
//!
//! float64 uses the exact `tanh` of the platform's libm, so its states match a numpy reference
//! to rounding. float32 uses a rational approximation that vectorises (no branches, no
//! library call); its largest error against the exact tanh is [`TANH_F32_MAX_ERROR`].

use std::ops::{Add, AddAssign, Mul};

/// Largest absolute difference between [`tanh_f32`] and the exact tanh over all of f32,
/// measured over every float32 in [0, 9] (4.11e-7 near x = 5.83, about 7 float32 ulps of
/// values near 1); beyond that the clamp holds it within the same bound.
pub const TANH_F32_MAX_ERROR: f64 = 4.2e-7;

/// A float type the reservoir can run in (implemented for f32 and f64).
pub trait Real:
    Copy + Send + Sync + PartialOrd + Add<Output = Self> + Mul<Output = Self> + AddAssign + 'static
{
    /// Zero.
    const ZERO: Self;
    /// `self * a + b` with a single rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Conversion from float64 (rounding to nearest for f32).
    fn from_f64(value: f64) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// The activation: tanh, exact for f64 and [`tanh_f32`] for f32.
    fn activation(self) -> Self;
}

impl Real for f64 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }

    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }

    #[inline(always)]
    fn activation(self) -> Self {
        self.tanh()
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }

    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }

    #[inline(always)]
    fn activation(self) -> Self {
        tanh_f32(self)
    }
}

/// tanh as a 13/6 rational function of the input clamped to [-7.905, 7.905] (the coefficients
/// of Eigen's float `ptanh`). Branch-free, so loops over it vectorise; max absolute error
/// [`TANH_F32_MAX_ERROR`], odd, and never above 1 in magnitude.
#[inline(always)]
#[allow(clippy::excessive_precision)] // the published coefficients, rounded by the compiler
pub fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let x = if x > CLAMP { CLAMP } else { x };
    let x = if x < -CLAMP { -CLAMP } else { x };
    let x2 = x * x;
    let mut p = x2 * -2.760_768_477_423_55e-16 + 2.000_187_904_824_77e-13;
    p = x2 * p + -8.604_671_522_137_35e-11;
    p = x2 * p + 5.122_297_090_371_14e-8;
    p = x2 * p + 1.485_722_357_179_79e-5;
    p = x2 * p + 6.372_619_288_754_36e-4;
    p = x2 * p + 4.893_524_558_917_86e-3;
    p *= x;
    let mut q = x2 * 1.198_258_394_667_02e-6 + 1.185_347_056_866_54e-4;
    q = x2 * q + 2.268_434_632_439e-3;
    q = x2 * q + 4.893_525_185_543_85e-3;
    p / q
}

#[cfg(test)]
mod tests {
    use super::{TANH_F32_MAX_ERROR, tanh_f32};

    #[test]
    fn tanh_f32_error_is_bounded() {
        // Every f32 in [0, 10] (about 1.1e9 values) is too many for a quick test; a stride of 97
        // bit patterns still covers every binade densely. Beyond 10 the clamp makes it constant.
        let mut worst = 0.0f64;
        let top = 10.0f32.to_bits();
        let mut bits = 0u32;
        while bits <= top {
            let x = f32::from_bits(bits);
            let approx = tanh_f32(x);
            worst = worst.max((approx as f64 - (x as f64).tanh()).abs());
            assert!(approx.abs() <= 1.0, "|tanh_f32({x})| = {approx} > 1");
            assert_eq!(tanh_f32(-x), -approx, "not odd at {x}");
            bits += 97;
        }
        assert!(worst <= TANH_F32_MAX_ERROR, "max error {worst:e}");
        assert!(
            worst > TANH_F32_MAX_ERROR / 20.0,
            "bound {TANH_F32_MAX_ERROR:e} is far too loose: {worst:e}"
        );
        for x in [10.0f32, 1e3, 1e30, f32::MAX] {
            assert!((tanh_f32(x) as f64 - 1.0).abs() <= TANH_F32_MAX_ERROR);
            assert_eq!(tanh_f32(-x), -tanh_f32(x));
        }
    }
}
