//! Fixed point: model parameters as signed 16-bit integers with a per-project scale 2^-s.
//!
//! `q = clamp(round_half_even(x · 2^s), i16::MIN, i16::MAX)`, computed in f64 (exact for
//! every f32 and every s ≤ 15), so the result never depends on the platform. NaN and ±∞
//! are refused with the index where they occur: they are never silently mapped.

use alloc::vec::Vec;

/// Largest allowed scale exponent: with s = 15, values in [-1, 1) are representable.
pub const MAX_SCALE_BITS: u8 = 15;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuantError {
    /// `values[index]` is NaN or infinite.
    NotFinite { index: usize, value: f32 },
    /// The scale exponent is above `MAX_SCALE_BITS`.
    BadScale { scale_bits: u8 },
}

impl core::fmt::Display for QuantError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFinite { index, value } => {
                write!(f, "parameter {index} is {value}, not a finite number")
            }
            Self::BadScale { scale_bits } => {
                write!(
                    f,
                    "scale 2^-{scale_bits} is out of range (0..={MAX_SCALE_BITS})"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for QuantError {}

fn check_scale(scale_bits: u8) -> Result<f64, QuantError> {
    if scale_bits > MAX_SCALE_BITS {
        return Err(QuantError::BadScale { scale_bits });
    }
    Ok(f64::from(1u32 << scale_bits))
}

#[inline]
fn quantise_one(x: f32, scale: f64) -> i16 {
    // Saturate first (out-of-range parameters clip instead of wrapping), then round half to
    // even by hand: `core` has no f64 rounding, and in this range every step is exact.
    let y = (f64::from(x) * scale).clamp(-40_000.0, 40_000.0);
    let t = y as i64; // toward zero
    let frac = y - t as f64;
    let away = if y < 0.0 { -1 } else { 1 };
    let r = if frac.abs() > 0.5 || (frac.abs() == 0.5 && t % 2 != 0) {
        t + away
    } else {
        t
    };
    r.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// Quantises one value.
pub fn quantise(x: f32, scale_bits: u8) -> Result<i16, QuantError> {
    let scale = check_scale(scale_bits)?;
    if !x.is_finite() {
        return Err(QuantError::NotFinite { index: 0, value: x });
    }
    Ok(quantise_one(x, scale))
}

/// Quantises a whole vector, refusing the first non-finite value by index.
pub fn quantise_all(xs: &[f32], scale_bits: u8) -> Result<Vec<i16>, QuantError> {
    let scale = check_scale(scale_bits)?;
    let mut out = Vec::with_capacity(xs.len());
    for (index, &x) in xs.iter().enumerate() {
        if !x.is_finite() {
            return Err(QuantError::NotFinite { index, value: x });
        }
        out.push(quantise_one(x, scale));
    }
    Ok(out)
}

/// The real value a fixed-point value stands for (exact).
pub fn dequantise(q: i16, scale_bits: u8) -> Result<f32, QuantError> {
    let scale = check_scale(scale_bits)?;
    Ok((f64::from(q) / scale) as f32)
}

pub fn dequantise_all(qs: &[i16], scale_bits: u8) -> Result<Vec<f32>, QuantError> {
    let scale = check_scale(scale_bits)?;
    Ok(qs.iter().map(|&q| (f64::from(q) / scale) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_is_half_to_even_and_saturating() {
        // s = 1: step 0.5. 0.25·2 = 0.5 → 0 (even); 0.75·2 = 1.5 → 2 (even).
        assert_eq!(quantise(0.25, 1), Ok(0));
        assert_eq!(quantise(0.75, 1), Ok(2));
        assert_eq!(quantise(-0.75, 1), Ok(-2));
        assert_eq!(quantise(1e30, 8), Ok(i16::MAX));
        assert_eq!(quantise(-1e30, 8), Ok(i16::MIN));
        assert_eq!(quantise(f32::MAX, 15), Ok(i16::MAX));
        assert_eq!(
            quantise(1.0, 15),
            Ok(i16::MAX),
            "1.0 at s = 15 saturates to 32767"
        );
        assert_eq!(quantise(-1.0, 15), Ok(i16::MIN));
    }

    #[test]
    fn nan_and_infinity_are_refused_by_index() {
        let xs = [0.5, 1.0, f32::NAN, f32::INFINITY];
        assert!(matches!(
            quantise_all(&xs, 8),
            Err(QuantError::NotFinite { index: 2, .. })
        ));
        assert!(matches!(
            quantise_all(&xs[3..], 8),
            Err(QuantError::NotFinite { index: 0, .. })
        ));
        assert!(matches!(
            quantise(f32::NEG_INFINITY, 8),
            Err(QuantError::NotFinite { .. })
        ));
        assert_eq!(
            quantise_all(&[1.0], 16),
            Err(QuantError::BadScale { scale_bits: 16 })
        );
    }

    proptest! {
        #[test]
        fn representable_values_round_trip_exactly(q in any::<i16>(), s in 0u8..=MAX_SCALE_BITS) {
            let x = dequantise(q, s).unwrap();
            prop_assert_eq!(quantise(x, s).unwrap(), q);
        }

        #[test]
        fn quantisation_error_is_at_most_half_a_step(x in -100.0f32..100.0, s in 0u8..=8) {
            let q = quantise(x, s).unwrap();
            let back = dequantise(q, s).unwrap();
            let step = 1.0 / f64::from(1u32 << s);
            prop_assert!((f64::from(back) - f64::from(x)).abs() <= step / 2.0 + 1e-9);
        }

        #[test]
        fn hand_rounding_matches_std_round_ties_even(x in any::<f32>().prop_filter("finite", |x| x.is_finite()), s in 0u8..=MAX_SCALE_BITS) {
            let want = (f64::from(x) * f64::from(1u32 << s)).round_ties_even().clamp(-32768.0, 32767.0) as i16;
            prop_assert_eq!(quantise(x, s).unwrap(), want);
        }

        #[test]
        fn quantise_all_agrees_with_quantise(xs in proptest::collection::vec(-1e6f32..1e6, 0..64), s in 0u8..=15) {
            let all = quantise_all(&xs, s).unwrap();
            for (x, q) in xs.iter().zip(&all) {
                prop_assert_eq!(quantise(*x, s).unwrap(), *q);
            }
        }
    }
}
