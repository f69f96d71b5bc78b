//! The two float types the reservoir runs in, and their activation functions.
//!
//! Both activations are branch-free (no library call), so the per-step loop over the units
//! vectorises. float64 uses [`tanh_f64`] (`expm1` by range reduction and a degree-13
//! polynomial), within [`TANH_F64_MAX_ERROR`] of the exact tanh (1.5 float64 ulps of 1), so
//! its states match a numpy reference to rounding. float32 uses a rational approximation whose
//! largest error against the exact tanh is [`TANH_F32_MAX_ERROR`].

use std::ops::{Add, AddAssign, Mul};

/// Largest absolute difference between [`tanh_f32`] and the exact tanh over all of f32,
/// measured over every float32 in [0, 9] (4.11e-7 near x = 5.83, about 7 float32 ulps of
/// values near 1); beyond that the clamp holds it within the same bound.
pub const TANH_F32_MAX_ERROR: f64 = 4.2e-7;

/// Largest absolute difference between [`tanh_f64`] (or [`tanh_f64_fused`]) and the platform's
/// exact tanh: measured 3.33e-16 near x = 0.99 (1.5 float64 ulps of values near 1) over a
/// uniform sweep of [0, 25] (4 million points) and every 2^33-th float64 from 1e-300 to 25
/// (half a million per binade); the tests repeat a coarser sweep. The relative error stays
/// below [`TANH_F64_MAX_REL_ERROR`], so tiny inputs keep their full precision.
pub const TANH_F64_MAX_ERROR: f64 = 4e-16;

/// Largest relative difference between [`tanh_f64`] (or [`tanh_f64_fused`]) and the platform's
/// exact tanh: measured 5.82e-16 near x = 0.19 (5.51e-16 fused), about 2.6 ulps, over the same
/// sweep as [`TANH_F64_MAX_ERROR`].
pub const TANH_F64_MAX_REL_ERROR: f64 = 7e-16;

/// A float type the reservoir can run in (implemented for f32 and f64).
pub trait Real:
    Copy + Send + Sync + PartialOrd + Add<Output = Self> + Mul<Output = Self> + AddAssign + 'static
{
    /// Zero.
    const ZERO: Self;
    /// Whether this is an 8-byte float (f64): half as many values fit in a vector register and
    /// a dense 64 x 64 W (32 KiB) overflows the L1 cache, so the step loop sums fewer rows at a
    /// time and keeps a sparse W in blocks ([`crate::sparse`]). f32's loop is the plain one.
    const WIDE: bool;
    /// `self * a + b` with a single rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Conversion from float64 (rounding to nearest for f32).
    fn from_f64(value: f64) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// The activation: [`tanh_f64`] for f64 ([`tanh_f64_fused`] when `FUSED`) and
    /// [`tanh_f32`] for f32.
    fn activation<const FUSED: bool>(self) -> Self;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const WIDE: bool = true;

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
    fn activation<const FUSED: bool>(self) -> Self {
        tanh_f64_with::<FUSED>(self)
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const WIDE: bool = false;

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
    fn activation<const FUSED: bool>(self) -> Self {
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

/// tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|), branch-free, so loops over it
/// vectorise; max absolute error [`TANH_F64_MAX_ERROR`] and relative error
/// [`TANH_F64_MAX_REL_ERROR`] against the exact tanh; odd, never above 1 in magnitude, NaN for
/// NaN. Plain multiplies and adds; [`tanh_f64_fused`] is the same with fused multiply-adds.
///
/// `expm1(2y)`: `2y = q ln2 + r` with `q` the nearest integer and `|r| <= ln2 / 2` (Cody-Waite
/// split of ln2, exact for the `q <= 58` that occur), `expm1(r)` by its Taylor polynomial to
/// degree 13 (truncation below 1e-17 relative, evaluated by Estrin's scheme for a short
/// dependency chain), then `expm1(2y) = 2^q expm1(r) + (2^q - 1)`, exact products and one
/// rounding; for `q = 0` it is `expm1(r)` itself, which keeps the relative accuracy of small
/// inputs. `|x|` is clamped to 20, where tanh is 1 in float64.
#[inline(always)]
pub fn tanh_f64(x: f64) -> f64 {
    tanh_f64_with::<false>(x)
}

/// [`tanh_f64`] with fused multiply-adds: the same bounds, results may differ by rounding.
/// Fast where the CPU has FMA instructions (the reservoir uses it only there); elsewhere each
/// fused multiply-add is a slow library call.
#[inline(always)]
pub fn tanh_f64_fused(x: f64) -> f64 {
    tanh_f64_with::<true>(x)
}

/// [`tanh_f64`] (`FUSED` false) or [`tanh_f64_fused`] (`FUSED` true).
#[inline(always)]
fn tanh_f64_with<const FUSED: bool>(x: f64) -> f64 {
    const CLAMP: f64 = 20.0;
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO (fdlibm's split); LN2_HI has 21 trailing zero bits, so q * LN2_HI
    // is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 0.693147180369123816...
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770e-10
    // Adding 1.5 * 2^52 rounds to an integer, which then sits in the low bits of the result.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    // 1/k! for k = 3, 4, ..., 13: expm1(r) = r + r^2 / 2 + r^3 (C[0] + C[1] r + ... + C[10] r^10).
    const C: [f64; 11] = [
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let fma = |a: f64, b: f64, c: f64| if FUSED { a.mul_add(b, c) } else { a * b + c };
    let y = x.abs();
    let y = if y > CLAMP { CLAMP } else { y }; // NaN stays NaN
    let y2 = y + y;
    let shifted = fma(y2, LOG2E, SHIFTER);
    let q = shifted - SHIFTER;
    let r = fma(-q, LN2_LO, fma(-q, LN2_HI, y2));
    let (r2, r4) = (r * r, r * r * (r * r));
    let p01 = fma(fma(C[3], r, C[2]), r2, fma(C[1], r, C[0]));
    let p23 = fma(fma(C[7], r, C[6]), r2, fma(C[5], r, C[4]));
    let p4 = fma(C[10], r2, fma(C[9], r, C[8]));
    let p = fma(fma(p4, r4, p23), r4, p01);
    let expm1_r = fma(r2, fma(r, p, 0.5), r);
    // 2^q from the bits of `shifted`: its low bits hold q, 0 <= q <= 58.
    let two_q = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    let e = fma(expm1_r, two_q, two_q - 1.0);
    (e / (e + 2.0)).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::{
        TANH_F32_MAX_ERROR, TANH_F64_MAX_ERROR, TANH_F64_MAX_REL_ERROR, tanh_f32, tanh_f64,
        tanh_f64_fused,
    };

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

    #[test]
    fn tanh_f64_error_is_bounded() {
        // A dense uniform sweep of [0, 25] (beyond 20 both are 1), then every bit pattern in
        // steps of 2^38 (2^14 values per binade) from 1e-300 to 25, which covers the small
        // inputs where only a relative bound is meaningful. Plain and fused variants alike.
        for tanh in [tanh_f64 as fn(f64) -> f64, tanh_f64_fused] {
            let (mut worst_abs, mut worst_rel) = (0.0f64, 0.0f64);
            let mut check = |x: f64| {
                let (approx, exact) = (tanh(x), x.tanh());
                worst_abs = worst_abs.max((approx - exact).abs());
                if exact != 0.0 {
                    worst_rel = worst_rel.max(((approx - exact) / exact).abs());
                }
                assert!(approx.abs() <= 1.0, "|tanh({x})| = {approx} > 1");
                assert_eq!(tanh(-x).to_bits(), (-approx).to_bits(), "not odd at {x}");
            };
            let n = 2_000_000;
            for i in 0..=n {
                check(25.0 * i as f64 / n as f64);
            }
            let (mut bits, top) = (1e-300f64.to_bits(), 25.0f64.to_bits());
            while bits <= top {
                check(f64::from_bits(bits));
                bits += 1 << 38;
            }
            assert!(
                worst_abs <= TANH_F64_MAX_ERROR,
                "max abs error {worst_abs:e}"
            );
            assert!(
                worst_rel <= TANH_F64_MAX_REL_ERROR,
                "max rel error {worst_rel:e}"
            );
            assert!(
                worst_abs > TANH_F64_MAX_ERROR / 2.0 && worst_rel > TANH_F64_MAX_REL_ERROR / 2.0,
                "bounds are far too loose: {worst_abs:e}, {worst_rel:e}"
            );
            for x in [20.0, 22.0, 1e3, 1e300, f64::MAX, f64::INFINITY] {
                assert_eq!(tanh(x), 1.0);
                assert_eq!(tanh(-x), -1.0);
            }
            assert_eq!(tanh(0.0).to_bits(), 0.0f64.to_bits());
            assert_eq!(tanh(-0.0).to_bits(), (-0.0f64).to_bits());
            assert_eq!(tanh(5e-324), 5e-324);
            assert!(tanh(f64::NAN).is_nan());
        }
    }
}
