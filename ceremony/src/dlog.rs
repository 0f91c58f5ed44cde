//! Schnorr proof of knowledge of a discrete logarithm in G1, bound to a context.
//!
//! Statement: `result = x · base` for public `base`, `result`. The prover picks `k`,
//! sends `K = k · base`, derives `c = H(context, base, result, K)` and answers
//! `s = k + c·x`. The verifier checks `s · base = K + c · result`. In the random-oracle
//! model this is a proof of knowledge of `x` (the extractor rewinds for two challenges),
//! and since `context` is the previous transcript hash, a proof cannot be replayed from
//! another transcript or another position in this one.

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::UniformRand;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, Rng};

use crate::hash::{challenge_scalar, compressed, Digest, DLOG_DOMAIN};

/// A non-interactive Schnorr proof that the prover knows `x` with `result = x · base`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct DlogProof {
    /// The commitment `K = k · base`.
    pub commitment: G1Affine,
    /// The response `s = k + c·x`.
    pub response: Fr,
}

/// The Fiat–Shamir challenge: binds the context, a label naming the secret, the statement and `K`.
fn challenge(
    context: &Digest,
    label: &[u8],
    base: &G1Affine,
    result: &G1Affine,
    commitment: &G1Affine,
) -> Fr {
    challenge_scalar(
        DLOG_DOMAIN,
        &[
            context,
            label,
            &compressed(base),
            &compressed(result),
            &compressed(commitment),
        ],
    )
}

impl DlogProof {
    /// Proves knowledge of `x` with `result = x · base`.
    pub fn prove<R: Rng + CryptoRng + ?Sized>(
        context: &Digest,
        label: &[u8],
        base: &G1Affine,
        result: &G1Affine,
        x: Fr,
        rng: &mut R,
    ) -> Self {
        let k = Fr::rand(rng);
        let commitment = (*base * k).into_affine();
        let c = challenge(context, label, base, result, &commitment);
        Self {
            commitment,
            response: k + c * x,
        }
    }

    /// Checks the proof: `s · base = K + c · result`.
    pub fn verify(
        &self,
        context: &Digest,
        label: &[u8],
        base: &G1Affine,
        result: &G1Affine,
    ) -> bool {
        if base.is_zero() {
            return false;
        }
        let c = challenge(context, label, base, result, &self.commitment);
        let lhs: G1Projective = *base * self.response;
        let rhs: G1Projective = self.commitment.into_group() + *result * c;
        lhs == rhs
    }
}
