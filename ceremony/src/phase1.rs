//! Phase 1: powers of tau for a domain of `N = 2^power` points.
//!
//! The state holds `[τ^i]G1` (i < 2N−1), `[τ^i]G2` (i < N), `[ατ^i]G1`, `[βτ^i]G1`
//! (i < N) and `[β]G2`. A contribution multiplies in fresh τ', α', β' and publishes the
//! new `[τ]G1`, `[α]G1`, `[β]G1` with Schnorr proofs of knowledge of the ratios τ', α', β'
//! to the previous ones, bound to the previous transcript hash. The state's internal
//! consistency (every vector really is the powers of one τ) is checked with random
//! linear combinations and a handful of pairings, whatever N is.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::scalar_mul::ScalarMul;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{UniformRand, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

use crate::dlog::DlogProof;
use crate::error::{CeremonyError, Phase1Check, Secret};
use crate::fft::{mul_g1, mul_g2};
use crate::hash::{compressed, hash_parts, Digest, LINK_DOMAIN, PHASE1_DOMAIN};
use crate::pairing::{msm_g1, msm_g2, pairings_equal, random_weights};

/// The largest supported `power` (BN254's scalar field has 2-adicity 28; 2^24 points
/// already need about 3 GB of state).
pub const MAX_POWER: u32 = 24;

/// The powers of tau for a domain of `2^power` points.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase1State {
    /// log2 of the domain size N.
    pub power: u32,
    /// `[τ^i]G1` for i < 2N−1 (the H query needs degree up to 2N−2).
    pub tau_g1: Vec<G1Affine>,
    /// `[τ^i]G2` for i < N.
    pub tau_g2: Vec<G2Affine>,
    /// `[ατ^i]G1` for i < N.
    pub alpha_tau_g1: Vec<G1Affine>,
    /// `[βτ^i]G1` for i < N.
    pub beta_tau_g1: Vec<G1Affine>,
    /// `[β]G2`.
    pub beta_g2: G2Affine,
}

/// What one phase-1 contribution publishes besides the new state.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase1Contribution {
    /// The transcript hash this contribution was built on.
    pub parent: Digest,
    /// The new `[τ]G1`.
    pub tau_g1: G1Affine,
    /// The new `[α]G1`.
    pub alpha_g1: G1Affine,
    /// The new `[β]G1`.
    pub beta_g1: G1Affine,
    /// Knowledge of τ' with new `[τ]G1` = τ' · previous `[τ]G1`.
    pub tau_proof: DlogProof,
    /// Knowledge of α' with new `[α]G1` = α' · previous `[α]G1`.
    pub alpha_proof: DlogProof,
    /// Knowledge of β' with new `[β]G1` = β' · previous `[β]G1`.
    pub beta_proof: DlogProof,
}

/// The three G1 elements a contribution's proofs link: `[τ]`, `[α]`, `[β]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Heads {
    pub tau: G1Affine,
    pub alpha: G1Affine,
    pub beta: G1Affine,
}

impl Heads {
    /// The heads of the identity state: all three are the generator.
    pub(crate) fn identity() -> Self {
        let g = G1Affine::generator();
        Self {
            tau: g,
            alpha: g,
            beta: g,
        }
    }
}

/// A contributor's secrets; dropped after contributing (tests keep them to show the threat).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Phase1Secrets {
    pub tau: Fr,
    pub alpha: Fr,
    pub beta: Fr,
}

impl Phase1Secrets {
    /// Fresh non-zero secrets.
    pub(crate) fn random<R: Rng + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            tau: nonzero_scalar(rng),
            alpha: nonzero_scalar(rng),
            beta: nonzero_scalar(rng),
        }
    }
}

/// A uniformly random non-zero scalar.
pub(crate) fn nonzero_scalar<R: Rng + CryptoRng + ?Sized>(rng: &mut R) -> Fr {
    loop {
        let x = Fr::rand(rng);
        if !x.is_zero() {
            return x;
        }
    }
}

/// Labels separating the three proofs' challenges.
const TAU_LABEL: &[u8] = b"tau";
const ALPHA_LABEL: &[u8] = b"alpha";
const BETA_LABEL: &[u8] = b"beta";

/// The hash a phase-1 chain starts from: fixes the domain size.
pub fn initial_hash(power: u32) -> Digest {
    hash_parts(PHASE1_DOMAIN, &[&power.to_le_bytes()])
}

impl Phase1Contribution {
    /// A record of the right shape and nothing in it (for encoded sizes).
    pub(crate) fn empty() -> Self {
        let zero = DlogProof {
            commitment: G1Affine::zero(),
            response: Fr::zero(),
        };
        Self {
            parent: [0; 32],
            tau_g1: G1Affine::zero(),
            alpha_g1: G1Affine::zero(),
            beta_g1: G1Affine::zero(),
            tau_proof: zero.clone(),
            alpha_proof: zero.clone(),
            beta_proof: zero,
        }
    }

    /// The transcript hash after this contribution: `H(parent, contribution)`.
    pub fn hash(&self) -> Digest {
        hash_parts(LINK_DOMAIN, &[&self.parent, &compressed(self)])
    }

    pub(crate) fn heads(&self) -> Heads {
        Heads {
            tau: self.tau_g1,
            alpha: self.alpha_g1,
            beta: self.beta_g1,
        }
    }
}

impl Phase1State {
    /// The starting state, τ = α = β = 1: every element is a generator.
    pub fn identity(power: u32) -> Result<Self, CeremonyError> {
        if power == 0 || power > MAX_POWER {
            return Err(CeremonyError::UnsupportedPower(power));
        }
        let n = 1usize << power;
        let g1 = G1Affine::generator();
        let g2 = G2Affine::generator();
        Ok(Self {
            power,
            tau_g1: vec![g1; 2 * n - 1],
            tau_g2: vec![g2; n],
            alpha_tau_g1: vec![g1; n],
            beta_tau_g1: vec![g1; n],
            beta_g2: g2,
        })
    }

    /// Whether this is the starting state (every element a generator).
    pub fn is_identity(&self) -> bool {
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        self.beta_g2 == g2
            && self.tau_g1.par_iter().all(|p| *p == g1)
            && self.tau_g2.par_iter().all(|p| *p == g2)
            && self.alpha_tau_g1.par_iter().all(|p| *p == g1)
            && self.beta_tau_g1.par_iter().all(|p| *p == g1)
    }

    /// The domain size N.
    pub fn size(&self) -> usize {
        1usize << self.power
    }

    /// `[τ]G1`, `[α]G1`, `[β]G1`, or `None` when the vectors are too short.
    pub(crate) fn heads(&self) -> Option<Heads> {
        Some(Heads {
            tau: *self.tau_g1.get(1)?,
            alpha: *self.alpha_tau_g1.first()?,
            beta: *self.beta_tau_g1.first()?,
        })
    }

    /// Whether every vector has the length `power` asks for.
    pub fn has_shape(&self) -> bool {
        if self.power == 0 || self.power > MAX_POWER {
            return false;
        }
        let n = self.size();
        self.tau_g1.len() == 2 * n - 1
            && self.tau_g2.len() == n
            && self.alpha_tau_g1.len() == n
            && self.beta_tau_g1.len() == n
    }
}

/// Contributes fresh random secrets on top of `prev`, built on transcript hash `parent`.
///
/// Returns the new state and the contribution to publish; the secrets are dropped.
pub fn contribute<R: Rng + CryptoRng + ?Sized>(
    prev: &Phase1State,
    parent: &Digest,
    rng: &mut R,
) -> Result<(Phase1State, Phase1Contribution), CeremonyError> {
    let secrets = Phase1Secrets::random(rng);
    contribute_with(prev, parent, secrets, rng)
}

/// Contributes the given secrets: multiplies them into every power and proves knowledge.
pub(crate) fn contribute_with<R: Rng + CryptoRng + ?Sized>(
    prev: &Phase1State,
    parent: &Digest,
    secrets: Phase1Secrets,
    rng: &mut R,
) -> Result<(Phase1State, Phase1Contribution), CeremonyError> {
    let prev_heads = prev
        .heads()
        .filter(|_| prev.has_shape())
        .ok_or(CeremonyError::Phase1 {
            contribution: 0,
            check: Phase1Check::Shape,
        })?;
    let next = multiply_in(prev, &secrets);
    let heads = next.heads().expect("multiply_in keeps the shape");
    let contribution = Phase1Contribution {
        parent: *parent,
        tau_g1: heads.tau,
        alpha_g1: heads.alpha,
        beta_g1: heads.beta,
        tau_proof: DlogProof::prove(
            parent,
            TAU_LABEL,
            &prev_heads.tau,
            &heads.tau,
            secrets.tau,
            rng,
        ),
        alpha_proof: DlogProof::prove(
            parent,
            ALPHA_LABEL,
            &prev_heads.alpha,
            &heads.alpha,
            secrets.alpha,
            rng,
        ),
        beta_proof: DlogProof::prove(
            parent,
            BETA_LABEL,
            &prev_heads.beta,
            &heads.beta,
            secrets.beta,
            rng,
        ),
    };
    Ok((next, contribution))
}

/// `[x^i]` for i < n.
fn powers(x: Fr, n: usize) -> Vec<Fr> {
    let mut out = Vec::with_capacity(n);
    let mut acc = Fr::from(1u64);
    for _ in 0..n {
        out.push(acc);
        acc *= x;
    }
    out
}

/// `Pᵢ · sᵢ` for every i, in parallel with GLV, back in affine form.
fn scale_each_g1(points: &[G1Affine], scalars: &[Fr]) -> Vec<G1Affine> {
    let projective: Vec<G1Projective> = points
        .par_iter()
        .zip(scalars.par_iter())
        .map(|(p, s)| mul_g1(p.into_group(), *s))
        .collect();
    G1Projective::normalize_batch(&projective)
}

/// `Qᵢ · sᵢ` for every i in G2, in parallel.
fn scale_each_g2(points: &[G2Affine], scalars: &[Fr]) -> Vec<G2Affine> {
    let projective: Vec<G2Projective> = points
        .par_iter()
        .zip(scalars.par_iter())
        .map(|(p, s)| mul_g2(p.into_group(), *s))
        .collect();
    G2Projective::normalize_batch(&projective)
}

/// The new state: `[τ^i] → [(ττ')^i]`, `[ατ^i] → [αα'(ττ')^i]`, `[βτ^i] → [ββ'(ττ')^i]`.
fn multiply_in(prev: &Phase1State, secrets: &Phase1Secrets) -> Phase1State {
    let n = prev.size();
    let tau_powers = powers(secrets.tau, 2 * n - 1);
    let alpha_powers: Vec<Fr> = tau_powers[..n].iter().map(|t| *t * secrets.alpha).collect();
    let beta_powers: Vec<Fr> = tau_powers[..n].iter().map(|t| *t * secrets.beta).collect();
    if prev.is_identity() {
        // The first contribution: every base is the generator, so fixed-base tables
        // give the same points several times faster.
        let g1 = G1Projective::from(G1Affine::generator());
        let g2 = G2Projective::from(G2Affine::generator());
        return Phase1State {
            power: prev.power,
            tau_g1: g1.batch_mul(&tau_powers),
            tau_g2: g2.batch_mul(&tau_powers[..n]),
            alpha_tau_g1: g1.batch_mul(&alpha_powers),
            beta_tau_g1: g1.batch_mul(&beta_powers),
            beta_g2: mul_g2(prev.beta_g2.into_group(), secrets.beta).into_affine(),
        };
    }
    Phase1State {
        power: prev.power,
        tau_g1: scale_each_g1(&prev.tau_g1, &tau_powers),
        tau_g2: scale_each_g2(&prev.tau_g2, &tau_powers[..n]),
        alpha_tau_g1: scale_each_g1(&prev.alpha_tau_g1, &alpha_powers),
        beta_tau_g1: scale_each_g1(&prev.beta_tau_g1, &beta_powers),
        beta_g2: mul_g2(prev.beta_g2.into_group(), secrets.beta).into_affine(),
    }
}

/// Checks one step: `contribution` links `prev` to `next` and `next` is consistent.
///
/// `parent` is the transcript hash `prev` was reached at (`initial_hash` for the
/// identity state, else the previous contribution's `hash()`). `rng` draws the
/// verifier's random weights and must be unpredictable to the contributor.
pub fn verify<R: Rng + CryptoRng + ?Sized>(
    prev: &Phase1State,
    next: &Phase1State,
    contribution: &Phase1Contribution,
    parent: &Digest,
    rng: &mut R,
) -> Result<(), Phase1Check> {
    if !prev.has_shape() || !next.has_shape() || prev.power != next.power {
        return Err(Phase1Check::Shape);
    }
    let prev_heads = prev.heads().ok_or(Phase1Check::Shape)?;
    verify_link(&prev_heads, contribution, parent)?;
    check_heads(next, contribution)?;
    check_consistency(next, rng)
}

/// Checks a contribution's parent hash and its three proofs of knowledge against the
/// previous heads. Cheap: three Schnorr verifications, no pairing.
pub(crate) fn verify_link(
    prev: &Heads,
    contribution: &Phase1Contribution,
    parent: &Digest,
) -> Result<(), Phase1Check> {
    if contribution.parent != *parent {
        return Err(Phase1Check::Parent);
    }
    let checks = [
        (
            Secret::Tau,
            TAU_LABEL,
            &prev.tau,
            &contribution.tau_g1,
            &contribution.tau_proof,
        ),
        (
            Secret::Alpha,
            ALPHA_LABEL,
            &prev.alpha,
            &contribution.alpha_g1,
            &contribution.alpha_proof,
        ),
        (
            Secret::Beta,
            BETA_LABEL,
            &prev.beta,
            &contribution.beta_g1,
            &contribution.beta_proof,
        ),
    ];
    for (secret, label, base, result, proof) in checks {
        if result.is_zero() {
            return Err(Phase1Check::Degenerate(secret));
        }
        if !proof.verify(parent, label, base, result) {
            return Err(Phase1Check::ProofOfKnowledge(secret));
        }
    }
    Ok(())
}

/// Checks that the state's `[τ]`, `[α]`, `[β]` are the ones the contribution published.
pub(crate) fn check_heads(
    state: &Phase1State,
    contribution: &Phase1Contribution,
) -> Result<(), Phase1Check> {
    match state.heads() {
        Some(heads) if heads == contribution.heads() => Ok(()),
        Some(_) => Err(Phase1Check::HeadMismatch),
        None => Err(Phase1Check::Shape),
    }
}

/// Checks that a state is the powers of a single τ, α, β.
///
/// With random weights `ρᵢ` (fresh for each vector), a vector `Pᵢ` of G1 points is a
/// geometric sequence of ratio τ exactly when `e(Σρᵢ·Pᵢ, [τ]G2) = e(Σρᵢ·Pᵢ₊₁, G2)`
/// (up to probability ~1/r): two MSMs and one 2-pairing product per vector, instead of one
/// pairing per element. Likewise for G2 against `[τ]G1`. `[τ]` and `[β]` are compared
/// across groups with one pairing equation each.
pub fn check_consistency<R: Rng + CryptoRng + ?Sized>(
    state: &Phase1State,
    rng: &mut R,
) -> Result<(), Phase1Check> {
    if !state.has_shape() {
        return Err(Phase1Check::Shape);
    }
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    if state.tau_g1[0] != g1 || state.tau_g2[0] != g2 {
        return Err(Phase1Check::Generators);
    }
    let heads = state.heads().ok_or(Phase1Check::Shape)?;
    for (secret, head) in [
        (Secret::Tau, heads.tau),
        (Secret::Alpha, heads.alpha),
        (Secret::Beta, heads.beta),
    ] {
        if head.is_zero() {
            return Err(Phase1Check::Degenerate(secret));
        }
    }
    let tau_g2 = state.tau_g2[1];
    if !pairings_equal(heads.tau, g2, g1, tau_g2) {
        return Err(Phase1Check::TauG1G2);
    }
    if !pairings_equal(heads.beta, g2, g1, state.beta_g2) {
        return Err(Phase1Check::BetaG1G2);
    }
    if !is_geometric_g1(&state.tau_g1, tau_g2, rng) {
        return Err(Phase1Check::TauPowersG1);
    }
    if !is_geometric_g1(&state.alpha_tau_g1, tau_g2, rng) {
        return Err(Phase1Check::AlphaPowers);
    }
    if !is_geometric_g1(&state.beta_tau_g1, tau_g2, rng) {
        return Err(Phase1Check::BetaPowers);
    }
    if !is_geometric_g2(&state.tau_g2, heads.tau, rng) {
        return Err(Phase1Check::TauPowersG2);
    }
    Ok(())
}

/// `Pᵢ₊₁ = τ·Pᵢ` for all i, given `[τ]G2`: `e(Σρᵢ·Pᵢ, [τ]G2) = e(Σρᵢ·Pᵢ₊₁, G2)`.
fn is_geometric_g1<R: Rng + CryptoRng + ?Sized>(
    points: &[G1Affine],
    tau_g2: G2Affine,
    rng: &mut R,
) -> bool {
    if points.len() < 2 {
        return true;
    }
    let weights = random_weights(points.len() - 1, rng);
    let low = msm_g1(&points[..points.len() - 1], &weights);
    let high = msm_g1(&points[1..], &weights);
    pairings_equal(low, tau_g2, high, G2Affine::generator())
}

/// `Qᵢ₊₁ = τ·Qᵢ` for all i in G2, given `[τ]G1`: `e([τ]G1, Σρᵢ·Qᵢ) = e(G1, Σρᵢ·Qᵢ₊₁)`.
fn is_geometric_g2<R: Rng + CryptoRng + ?Sized>(
    points: &[G2Affine],
    tau_g1: G1Affine,
    rng: &mut R,
) -> bool {
    if points.len() < 2 {
        return true;
    }
    let weights = random_weights(points.len() - 1, rng);
    let low = msm_g2(&points[..points.len() - 1], &weights);
    let high = msm_g2(&points[1..], &weights);
    pairings_equal(tau_g1, low, G1Affine::generator(), high)
}
