//! Schnorr proof of knowledge of a discrete logarithm in G1, bound to a context.
//!
//! Statement: `result = x · base` for public `base`, `result`. The prover picks `k`,
//! sends `K = k · base`, derives `c = H(context, label, base, result, K)` and answers
//! `s = k + c·x`. The verifier checks `s · base = K + c · result`. In the random-oracle
//! model this is a proof of knowledge of `x` (the extractor rewinds for two challenges),
//! and since `context` is the previous transcript hash, a proof cannot be replayed from
//! another transcript or another position in this one.

use ark_bn254::{Fr, G1Affine};
use ark_ff::UniformRand;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, Rng};

use crate::hash::{sha256, Digest};
use merit_protocol::setup_link;

/// A non-interactive Schnorr proof that the prover knows `x` with `result = x · base`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct DlogProof {
    /// The commitment `K = k · base`.
    pub commitment: G1Affine,
    /// The response `s = k + c·x`.
    pub response: Fr,
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
        let p =
            setup_link::DlogProof::prove(context, label, base, result, x, Fr::rand(rng), sha256);
        Self {
            commitment: p.commitment,
            response: p.response,
        }
    }

    /// Checks the proof: `s · base = K + c · result` (the contract's check,
    /// `merit_protocol::setup_link::DlogProof::verify`).
    pub fn verify(
        &self,
        context: &Digest,
        label: &[u8],
        base: &G1Affine,
        result: &G1Affine,
    ) -> bool {
        setup_link::DlogProof {
            commitment: self.commitment,
            response: self.response,
        }
        .verify(context, label, base, result, sha256)
    }
}
