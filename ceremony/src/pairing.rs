//! Small pairing and multi-scalar-multiplication helpers shared by both phases.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{pairing::Pairing, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInteger, One, PrimeField, UniformRand, Zero};
use rand::{CryptoRng, Rng};

/// `e(a, b) == e(c, d)`, as one multi-pairing `e(a, b) · e(-c, d) == 1`.
pub(crate) fn pairings_equal(
    a: impl Into<G1Affine>,
    b: impl Into<G2Affine>,
    c: impl Into<G1Affine>,
    d: impl Into<G2Affine>,
) -> bool {
    let c: G1Affine = c.into();
    let lhs = [a.into(), -c];
    let rhs = [b.into(), d.into()];
    Bn254::multi_pairing(lhs, rhs).is_zero()
}

/// `n` verifier-chosen random scalars for a random linear combination.
///
/// A cheating prover must guess them in advance: a false batched equation holds with
/// probability at most about `1/r` for uniformly random weights.
pub(crate) fn random_weights<R: Rng + CryptoRng + ?Sized>(n: usize, rng: &mut R) -> Vec<Fr> {
    (0..n).map(|_| Fr::rand(rng)).collect()
}

/// `Σ wᵢ·Pᵢ` in G1 (over the shorter of the two slices).
pub(crate) fn msm_g1(bases: &[G1Affine], weights: &[Fr]) -> G1Projective {
    let n = bases.len().min(weights.len());
    G1Projective::msm_unchecked(&bases[..n], &weights[..n])
}

/// `Σ wᵢ·Qᵢ` in G2 (over the shorter of the two slices).
pub(crate) fn msm_g2(bases: &[G2Affine], weights: &[Fr]) -> G2Projective {
    let n = bases.len().min(weights.len());
    G2Projective::msm_unchecked(&bases[..n], &weights[..n])
}

/// `c · P`, cheap for the small or small-negative coefficients R1CS matrices mostly hold.
///
/// Scalar multiplication costs one doubling per bit, so `c` or `-c`, whichever is
/// shorter, is used (`-1` costs a negation, not 254 doublings); scalars over 64 bits go
/// to `full` (GLV).
pub(crate) fn mul_small<G: CurveGroup<ScalarField = Fr>>(
    point: G,
    c: Fr,
    full: impl Fn(G, Fr) -> G,
) -> G {
    if c.is_one() {
        return point;
    }
    let negated = -c;
    if negated.is_one() {
        return -point;
    }
    let (positive, negative) = (c.into_bigint(), negated.into_bigint());
    let (scalar, bits, is_negative) = if negative.num_bits() < positive.num_bits() {
        (negated, negative, true)
    } else {
        (c, positive, false)
    };
    let product = if bits.num_bits() <= 64 {
        point.mul_bigint(bits)
    } else {
        full(point, scalar)
    };
    if is_negative {
        -product
    } else {
        product
    }
}
