//! Decoding a transcript with a faster G2 subgroup check.
//!
//! Checking that every G2 point of a transcript lies in the prime-order subgroup was most
//! of the cost of verifying one (2^17 phase-1 powers plus the B query: over half a million
//! curve doublings). arkworks checks `ψ(Q) = [6x²]Q`, a 127-bit multiplication; the test
//! of Dai, Lin, Zhao and Zhou (eprint 2022/348, §5.1, as gnark-crypto uses it for BN254)
//! needs only `[x]Q`, 63 bits:
//!
//! `Q ∈ G2  ⟺  [x+1]Q + ψ([x]Q) + ψ²([x]Q) = ψ³([2x]Q)`
//!
//! with x the BN parameter and ψ the untwist-Frobenius-twist endomorphism. G1 needs no
//! test (BN254's G1 has cofactor 1, and a compressed point is on the curve by
//! construction). The tests check this test against `[r]Q = 0` on points in and out of
//! the subgroup, including points off it by a component of the cofactor's smallest prime
//! order.

use ark_bn254::{Fq2, G2Affine, G2Projective};
use ark_ec::bn::BnConfig;
use ark_ec::short_weierstrass::Projective;
use ark_ec::{AffineRepr, PrimeGroup};
use ark_ff::Field;
use ark_serialize::{CanonicalDeserialize, Compress, Validate};
use rayon::prelude::*;

use crate::error::CeremonyError;

/// ψ on Jacobian coordinates: `(X, Y, Z) ↦ (X^p·c_x, Y^p·c_y, Z^p)`, since the Frobenius
/// map is a field automorphism and the coordinates are `x = X/Z²`, `y = Y/Z³`.
fn psi(p: &G2Projective) -> G2Projective {
    let frobenius = |mut v: Fq2| {
        v.frobenius_map_in_place(1);
        v
    };
    Projective::new_unchecked(
        frobenius(p.x) * ark_bn254::Config::TWIST_MUL_BY_Q_X,
        frobenius(p.y) * ark_bn254::Config::TWIST_MUL_BY_Q_Y,
        frobenius(p.z),
    )
}

/// Whether `q`, a point on the twist, is in G2 (the prime-order subgroup).
pub fn in_g2(q: &G2Affine) -> bool {
    let q = q.into_group();
    let xq = q.mul_bigint(ark_bn254::Config::X);
    let lhs = xq + q + psi(&xq) + psi(&psi(&xq));
    let rhs = psi(&psi(&psi(&(xq + xq))));
    lhs == rhs
}

/// Every G2 point is on the twist and in G2, checked in parallel.
pub(crate) fn check_g2<'a>(points: impl IntoParallelIterator<Item = &'a G2Affine>) -> bool {
    points.into_par_iter().all(|p| p.is_on_curve() && in_g2(p))
}

/// Decodes `T` (arkworks compressed) without arkworks' own point checks, then runs
/// `check` on the result: for types whose G2 points `check` walks in full.
pub(crate) fn decode_then_check<T: CanonicalDeserialize>(
    bytes: &[u8],
    check: impl FnOnce(&T) -> bool,
) -> Result<T, CeremonyError> {
    let value = T::deserialize_with_mode(bytes, Compress::Yes, Validate::No)
        .map_err(|e| CeremonyError::Decode(e.to_string()))?;
    if !check(&value) {
        return Err(CeremonyError::Decode(
            "a G2 point is not in the prime-order subgroup".to_string(),
        ));
    }
    Ok(value)
}
