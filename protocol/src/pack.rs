//! Packing fixed-point vectors into BN254 scalar-field elements.
//!
//! 15 values per element, each as 16-bit offset binary (`v + 32768`), value j of a chunk at
//! bits 16j..16j+16 (little-endian): 240 bits, below the 254-bit modulus, so every chunk
//! is a valid element and every 16-bit pattern a valid value. The last chunk is padded
//! with the value 0 (offset binary 0x8000). The vector's length is committed separately
//! (see `commit`), so padding never makes two vectors equal.

use alloc::vec::Vec;
use ark_bn254::Fr;
use ark_ff::{BigInt, PrimeField};

pub const VALUES_PER_ELEMENT: usize = 15;
const OFFSET: i32 = 1 << 15;
/// The offset-binary encoding of the value 0, used for padding.
pub const PADDING: u16 = 0x8000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnpackError {
    /// `len` values cannot come from `elements` elements.
    LengthMismatch { len: usize, elements: usize },
    /// Element `index` has bits at or above bit 240.
    HighBits { index: usize },
    /// Element `index` has a padding slot that is not the value 0.
    BadPadding { index: usize },
}

impl core::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::LengthMismatch { len, elements } => {
                write!(f, "{len} values do not pack into {elements} elements")
            }
            Self::HighBits { index } => write!(f, "element {index} has bits above bit 240"),
            Self::BadPadding { index } => write!(f, "element {index} has non-zero padding"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UnpackError {}

/// Number of elements `len` values pack into.
pub const fn packed_len(len: usize) -> usize {
    len.div_ceil(VALUES_PER_ELEMENT)
}

#[inline]
fn encode(v: i16) -> u64 {
    (i32::from(v) + OFFSET) as u64
}

#[inline]
fn decode(u: u64) -> i16 {
    (u as i32 - OFFSET) as i16
}

/// Packs one chunk of at most 15 values (padded with 0) into an element.
pub fn pack_chunk(chunk: &[i16]) -> Fr {
    debug_assert!(chunk.len() <= VALUES_PER_ELEMENT);
    let mut limbs = [0u64; 4];
    for j in 0..VALUES_PER_ELEMENT {
        let u = chunk.get(j).map_or(u64::from(PADDING), |&v| encode(v));
        let bit = 16 * j;
        limbs[bit / 64] |= u << (bit % 64);
    }
    Fr::from_bigint(BigInt(limbs)).expect("240 bits are below the modulus")
}

/// Packs a vector.
pub fn pack(values: &[i16]) -> Vec<Fr> {
    values.chunks(VALUES_PER_ELEMENT).map(pack_chunk).collect()
}

/// The inverse of `pack`, strict: wrong lengths, stray high bits and non-zero padding are
/// refused, so exactly one element sequence encodes each vector.
pub fn unpack(elements: &[Fr], len: usize) -> Result<Vec<i16>, UnpackError> {
    if packed_len(len) != elements.len() {
        return Err(UnpackError::LengthMismatch {
            len,
            elements: elements.len(),
        });
    }
    let mut out = Vec::with_capacity(len);
    for (index, e) in elements.iter().enumerate() {
        let limbs = e.into_bigint().0;
        if limbs[3] >> 48 != 0 {
            return Err(UnpackError::HighBits { index });
        }
        for j in 0..VALUES_PER_ELEMENT {
            let bit = 16 * j;
            let u = (limbs[bit / 64] >> (bit % 64)) & 0xffff;
            if out.len() < len {
                out.push(decode(u));
            } else if u != u64::from(PADDING) {
                return Err(UnpackError::BadPadding { index });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_offset_binary_little_endian() {
        let e = pack_chunk(&[i16::MIN, -1, 0, 1, i16::MAX]);
        let limbs = e.into_bigint().0;
        assert_eq!(limbs[0] & 0xffff, 0x0000); // -32768
        assert_eq!((limbs[0] >> 16) & 0xffff, 0x7fff); // -1
        assert_eq!((limbs[0] >> 32) & 0xffff, 0x8000); // 0
        assert_eq!((limbs[0] >> 48) & 0xffff, 0x8001); // 1
        assert_eq!(limbs[1] & 0xffff, 0xffff); // 32767
        assert_eq!((limbs[1] >> 16) & 0xffff, u64::from(PADDING));
    }

    #[test]
    fn every_length_round_trips() {
        for len in 0..=100usize {
            let v: Vec<i16> = (0..len).map(|i| (i as i16).wrapping_mul(2749)).collect();
            let p = pack(&v);
            assert_eq!(p.len(), packed_len(len));
            assert_eq!(unpack(&p, len).unwrap(), v, "len {len}");
        }
    }

    #[test]
    fn strict_unpacking() {
        let p = pack(&[1, 2, 3]);
        assert_eq!(
            unpack(&p, 16),
            Err(UnpackError::LengthMismatch {
                len: 16,
                elements: 1
            })
        );
        assert_eq!(
            unpack(&p, 0),
            Err(UnpackError::LengthMismatch {
                len: 0,
                elements: 1
            })
        );
        // Claiming fewer values than were packed exposes non-zero "padding".
        assert_eq!(unpack(&p, 2), Err(UnpackError::BadPadding { index: 0 }));
        let high = Fr::from_bigint(BigInt([0, 0, 0, 1 << 50])).unwrap();
        assert_eq!(unpack(&[high], 1), Err(UnpackError::HighBits { index: 0 }));
    }

    proptest! {
        #[test]
        fn pack_unpack_round_trip(v in proptest::collection::vec(any::<i16>(), 0..200)) {
            prop_assert_eq!(unpack(&pack(&v), v.len()).unwrap(), v);
        }

        #[test]
        fn different_vectors_of_equal_length_pack_differently(
            v in proptest::collection::vec(any::<i16>(), 1..60), i in any::<proptest::sample::Index>(), d in 1i16..) {
            let mut w = v.clone();
            let k = i.index(w.len());
            w[k] = w[k].wrapping_add(d);
            prop_assert_ne!(pack(&v), pack(&w));
        }
    }
}
