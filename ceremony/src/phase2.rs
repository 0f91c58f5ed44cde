//! Phase 2 (Bowe–Gabizon–Miers): each contribution multiplies δ by a fresh secret δ'.
//!
//! `[δ]G1` and `[δ]G2` are multiplied by δ'; the L query (`[(βuᵢ+αvᵢ+wᵢ)(τ)/δ]`) and the H
//! query (`[τⁱZ(τ)/δ]`) are divided by it. Nothing else changes, so the verifying key
//! changes only in `δ_g2`. The contribution publishes the new δ in both groups and a
//! Schnorr proof of knowledge of δ' with new `[δ]G1` = δ' · previous `[δ]G1`, bound to the
//! previous transcript hash.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, UniformRand, Zero};
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

use crate::dlog::DlogProof;
use crate::error::{CeremonyError, Phase2Check};
use crate::fft::mul_g1;
use crate::hash::{hash_parts, sha256, Digest, PHASE2_DOMAIN};
use crate::pairing::{msm_g1, pairings_equal, random_weights};
use crate::phase1::nonzero_scalar;
use merit_protocol::setup_link::{Link, LinkError};

/// What one phase-2 contribution publishes besides the new key.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase2Contribution {
    /// The transcript hash this contribution was built on.
    pub parent: Digest,
    /// The new `[δ]G1`.
    pub delta_g1: G1Affine,
    /// The new `[δ]G2` (the only element of the verifying key that changes).
    pub delta_g2: G2Affine,
    /// Knowledge of δ' with new `[δ]G1` = δ' · previous `[δ]G1`.
    pub proof: DlogProof,
}

impl Phase2Contribution {
    /// The same contribution as the contract reads it (`merit_protocol::setup_link`): the
    /// encodings are identical, field by field.
    pub fn link(&self) -> Link {
        Link {
            parent: self.parent,
            delta_g1: self.delta_g1,
            delta_g2: self.delta_g2,
            commitment: self.proof.commitment,
            response: self.proof.response,
        }
    }

    fn from_link(link: Link) -> Self {
        Self {
            parent: link.parent,
            delta_g1: link.delta_g1,
            delta_g2: link.delta_g2,
            proof: DlogProof {
                commitment: link.commitment,
                response: link.response,
            },
        }
    }

    /// The transcript hash after this contribution: `H(parent, contribution)`.
    pub fn hash(&self) -> Digest {
        self.link().head(sha256)
    }
}

/// The hash a circuit's phase-2 chain starts from: binds phase 1's final hash and the
/// circuit's digest (`R1csShape::digest`), so a contribution to another circuit or
/// another phase 1 fails.
pub fn initial_hash(phase1_hash: &Digest, circuit_digest: &Digest) -> Digest {
    hash_parts(PHASE2_DOMAIN, &[phase1_hash, circuit_digest])
}

/// Contributes a fresh random δ' on top of `prev`, built on transcript hash `parent`.
pub fn contribute<R: Rng + CryptoRng + ?Sized>(
    prev: &ProvingKey<Bn254>,
    parent: &Digest,
    rng: &mut R,
) -> (ProvingKey<Bn254>, Phase2Contribution) {
    let delta = nonzero_scalar(rng);
    contribute_with(prev, parent, delta, rng)
}

/// Contributes the given δ': scales δ up and the L and H queries down, proves knowledge.
pub(crate) fn contribute_with<R: Rng + CryptoRng + ?Sized>(
    prev: &ProvingKey<Bn254>,
    parent: &Digest,
    delta: Fr,
    rng: &mut R,
) -> (ProvingKey<Bn254>, Phase2Contribution) {
    let inverse = delta.inverse().expect("delta is non-zero");
    let link = Link::contribute(
        &prev.delta_g1,
        &prev.vk.delta_g2,
        parent,
        delta,
        Fr::rand(rng),
        sha256,
    );
    let mut next = prev.clone();
    next.delta_g1 = link.delta_g1;
    next.vk.delta_g2 = link.delta_g2;
    next.l_query = scale_all(&prev.l_query, inverse);
    next.h_query = scale_all(&prev.h_query, inverse);
    (next, Phase2Contribution::from_link(link))
}

/// `s · Pᵢ` for every i, in parallel, with GLV (an affine point's own `*` is plain
/// double-and-add, about 1.4 times slower).
fn scale_all(points: &[G1Affine], s: Fr) -> Vec<G1Affine> {
    let projective: Vec<G1Projective> = points
        .par_iter()
        .map(|p| mul_g1(p.into_group(), s))
        .collect();
    G1Projective::normalize_batch(&projective)
}

/// Checks one step: `contribution` links `prev` to `next`, only δ, L and H changed, and
/// L and H were divided by exactly the δ' that δ was multiplied by.
pub fn verify<R: Rng + CryptoRng + ?Sized>(
    prev: &ProvingKey<Bn254>,
    next: &ProvingKey<Bn254>,
    contribution: &Phase2Contribution,
    parent: &Digest,
    rng: &mut R,
) -> Result<(), Phase2Check> {
    verify_link(&prev.delta_g1, contribution, parent)?;
    check_heads(next, contribution)?;
    check_unchanged(prev, next)?;
    check_queries_scaled(prev, next, rng)
}

/// The cheap part of a contribution's check, the contract's own (`merit_protocol::
/// setup_link`): its parent hash, a non-identity δ, the proof of knowledge of δ' over the
/// previous `[δ]G1`, and `e([δ]G1, G2) = e(G1, [δ]G2)`.
pub fn verify_link(
    prev_delta_g1: &G1Affine,
    contribution: &Phase2Contribution,
    parent: &Digest,
) -> Result<(), Phase2Check> {
    contribution
        .link()
        .check(prev_delta_g1, parent, sha256)
        .map_err(|e| match e {
            LinkError::Parent => Phase2Check::Parent,
            // A typed contribution is never malformed; a zero δ is the only way to be.
            LinkError::Degenerate | LinkError::Malformed => Phase2Check::Degenerate,
            LinkError::ProofOfKnowledge => Phase2Check::ProofOfKnowledge,
            LinkError::DeltaG1G2 => Phase2Check::DeltaG1G2,
        })
}

/// Checks that the key's δ is the contribution's.
pub(crate) fn check_heads(
    key: &ProvingKey<Bn254>,
    contribution: &Phase2Contribution,
) -> Result<(), Phase2Check> {
    if key.delta_g1 != contribution.delta_g1 || key.vk.delta_g2 != contribution.delta_g2 {
        return Err(Phase2Check::HeadMismatch);
    }
    Ok(())
}

/// Checks that every element but δ, L and H is the same in both keys, and that L and H
/// kept their lengths.
pub(crate) fn check_unchanged(
    before: &ProvingKey<Bn254>,
    after: &ProvingKey<Bn254>,
) -> Result<(), Phase2Check> {
    let same = before.vk.alpha_g1 == after.vk.alpha_g1
        && before.vk.beta_g2 == after.vk.beta_g2
        && before.vk.gamma_g2 == after.vk.gamma_g2
        && before.vk.gamma_abc_g1 == after.vk.gamma_abc_g1
        && before.beta_g1 == after.beta_g1
        && before.a_query == after.a_query
        && before.b_g1_query == after.b_g1_query
        && before.b_g2_query == after.b_g2_query
        && before.l_query.len() == after.l_query.len()
        && before.h_query.len() == after.h_query.len();
    if same {
        Ok(())
    } else {
        Err(Phase2Check::Unchanged)
    }
}

/// Checks `afterᵢ = beforeᵢ · δ_before/δ_after` for every L and H element at once.
///
/// With random weights ρ over L ‖ H: `e(Σρᵢ·afterᵢ, [δ_after]G2) = e(Σρᵢ·beforeᵢ,
/// [δ_before]G2)`. Two MSMs and one 2-pairing product; a single wrong element makes it
/// fail except with probability ~1/r.
pub(crate) fn check_queries_scaled<R: Rng + CryptoRng + ?Sized>(
    before: &ProvingKey<Bn254>,
    after: &ProvingKey<Bn254>,
    rng: &mut R,
) -> Result<(), Phase2Check> {
    let (l, h) = (before.l_query.len(), before.h_query.len());
    if after.l_query.len() != l || after.h_query.len() != h {
        return Err(Phase2Check::Unchanged);
    }
    let weights = random_weights(l + h, rng);
    let before_sum =
        msm_g1(&before.l_query, &weights[..l]) + msm_g1(&before.h_query, &weights[l..]);
    let after_sum = msm_g1(&after.l_query, &weights[..l]) + msm_g1(&after.h_query, &weights[l..]);
    if before_sum.is_zero() && after_sum.is_zero() {
        return Ok(());
    }
    if pairings_equal(after_sum, after.vk.delta_g2, before_sum, before.vk.delta_g2) {
        Ok(())
    } else {
        Err(Phase2Check::QueriesNotScaled)
    }
}

/// Maps a step check to the ceremony error naming contribution `index`.
pub(crate) fn at(index: usize) -> impl Fn(Phase2Check) -> CeremonyError {
    move |check| CeremonyError::Phase2 {
        contribution: index,
        check,
    }
}
