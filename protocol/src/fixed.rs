//! Fixed point: model parameters as signed 16-bit integers with a per-project scale 2^-s.
//!
//! `q = clamp(round_half_even(x · 2^s), i16::MIN, i16::MAX)`, computed in f64 (exact for
//! every f32 and every s ≤ 15), so the result never depends on the platform. NaN and ±∞
//! are refused with the index where they occur: they are never silently mapped.

use alloc::vec::Vec;

pub use crate::limits::MAX_SCALE_BITS;

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

/// Why an update could not be clipped and quantised ([`clip_and_quantise`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipError {
    /// The clip norm is NaN, infinite, zero or negative.
    BadClipNorm { clip_norm: f32 },
    /// A value of the delta is not finite, or the scale is out of range.
    Quant(QuantError),
}

impl core::fmt::Display for ClipError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadClipNorm { clip_norm } => {
                write!(f, "clip norm {clip_norm} is not a positive finite number")
            }
            Self::Quant(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClipError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Quant(e) => Some(e),
            Self::BadClipNorm { .. } => None,
        }
    }
}

impl From<QuantError> for ClipError {
    fn from(e: QuantError) -> Self {
        Self::Quant(e)
    }
}

/// The L2 norm of `xs`, summed in f64 in index order (so every party gets the same bits).
/// NaN if any value is NaN. Needs `std` for the square root.
#[cfg(feature = "std")]
pub fn l2_norm(xs: &[f32]) -> f64 {
    xs.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Clips `delta` to L2 norm `clip_norm` (in real units), leaving it unchanged when its
/// norm is already at most `clip_norm`, and otherwise scaling every value by
/// `clip_norm / ‖delta‖` (computed in f64, each result rounded once to f32).
///
/// NaN and ±∞ are refused by index before any arithmetic.
#[cfg(feature = "std")]
pub fn clip(delta: &[f32], clip_norm: f32) -> Result<Vec<f32>, ClipError> {
    if !(clip_norm.is_finite() && clip_norm > 0.0) {
        return Err(ClipError::BadClipNorm { clip_norm });
    }
    if let Some((index, &value)) = delta.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(QuantError::NotFinite { index, value }.into());
    }
    let norm = l2_norm(delta);
    if norm <= f64::from(clip_norm) {
        return Ok(delta.to_vec());
    }
    let factor = f64::from(clip_norm) / norm;
    Ok(delta
        .iter()
        .map(|&x| (f64::from(x) * factor) as f32)
        .collect())
}

/// What a trainer commits to: its delta `local − global` clipped to `clip_norm`
/// ([`clip`]) and then quantised by [`quantise_all`] (×2^s, round half to even,
/// saturate). After dequantising, the norm is at most `clip_norm + √D · 2^-s / 2`.
#[cfg(feature = "std")]
pub fn clip_and_quantise(
    delta: &[f32],
    clip_norm: f32,
    scale_bits: u8,
) -> Result<Vec<i16>, ClipError> {
    check_scale(scale_bits)?;
    let clipped = clip(delta, clip_norm)?;
    Ok(quantise_all(&clipped, scale_bits)?)
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

    #[test]
    fn clip_and_quantise_leaves_short_deltas_alone() {
        // Exactly representable at s = 10, norm well under 4: same as quantise_all.
        let delta: Vec<f32> = (-8..8).map(|i| i as f32 / 1024.0).collect();
        let q = clip_and_quantise(&delta, 4.0, 10).unwrap();
        assert_eq!(q, quantise_all(&delta, 10).unwrap());
        assert_eq!(dequantise_all(&q, 10).unwrap(), delta);
        assert_eq!(clip_and_quantise(&[0.0; 5], 1.0, 10).unwrap(), vec![0; 5]);
    }

    #[test]
    fn clipping_actually_clips_and_keeps_the_direction() {
        // Norm 5 (a 3-4-5 triangle), clipped to 1: becomes (0.6, 0.8).
        let q = clip_and_quantise(&[3.0, 4.0], 1.0, 10).unwrap();
        assert_eq!(q, vec![614, 819]); // 0.6·1024 = 614.4, 0.8·1024 = 819.2
        let big: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * 0.37).collect();
        let clipped = clip(&big, 2.5).unwrap();
        assert!(
            (l2_norm(&clipped) - 2.5).abs() < 1e-5,
            "{}",
            l2_norm(&clipped)
        );
        let ratio = clipped[0] / big[0];
        for (c, b) in clipped.iter().zip(&big) {
            assert!((c - b * ratio).abs() < 1e-6);
        }
        let back = dequantise_all(&clip_and_quantise(&big, 2.5, 10).unwrap(), 10).unwrap();
        let slack = (big.len() as f64).sqrt() / 2048.0;
        assert!(l2_norm(&back) <= 2.5 + slack);
    }

    #[test]
    fn clip_refuses_nan_infinity_and_bad_norms() {
        assert!(matches!(
            clip_and_quantise(&[0.1, f32::NAN], 1.0, 10),
            Err(ClipError::Quant(QuantError::NotFinite { index: 1, .. }))
        ));
        assert!(matches!(
            clip_and_quantise(&[f32::INFINITY], 1.0, 10),
            Err(ClipError::Quant(QuantError::NotFinite { index: 0, .. }))
        ));
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(matches!(
                clip_and_quantise(&[0.1], bad, 10),
                Err(ClipError::BadClipNorm { .. })
            ));
        }
        assert_eq!(
            clip_and_quantise(&[0.1], 1.0, 16),
            Err(ClipError::Quant(QuantError::BadScale { scale_bits: 16 }))
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
        fn clipped_updates_respect_the_bound(xs in proptest::collection::vec(-50f32..50.0, 1..64), c in 0.01f32..10.0) {
            let q = clip_and_quantise(&xs, c, 10).unwrap();
            let back = dequantise_all(&q, 10).unwrap();
            let slack = (xs.len() as f64).sqrt() / 2048.0;
            prop_assert!(l2_norm(&back) <= f64::from(c) + slack + 1e-9);
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
