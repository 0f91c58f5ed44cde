//! Checking a circuit's key against phase 1 without re-deriving it.
//!
//! Every query element of a key with γ = 1 is a *linear* function of the phase-1 powers:
//! `Q = F(T)`. For verifier-chosen random weights ρ, `⟨ρ, Q⟩ = ⟨ρ, F(T)⟩ = ⟨Fᵀρ, T⟩`,
//! and `Fᵀρ` is computed in the field: the matrices' columns weighted by ρ give one
//! weight per QAP row, and the Lagrange basis turns row weights into power weights by an
//! inverse FFT (`Lⱼ(X) = (1/n)Σₖ ω^{-jk}Xᵏ`, a symmetric matrix). So each query costs
//! two MSMs and a field FFT instead of the group FFTs that deriving it takes, and a key
//! with any wrong element passes except with probability ~1/r.
//!
//! The L and H queries carry `1/δ`: `e(⟨ρ, L‖H⟩, [δ]G2) = e(⟨Fᵀρ, T⟩, G2)`.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{pairing::Pairing, AffineRepr, CurveGroup};
use ark_ff::UniformRand;
use ark_groth16::ProvingKey;
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::Matrix;
use ark_std::Zero;
use rand::{CryptoRng, Rng};

use crate::derive::R1csShape;
use crate::error::{CeremonyError, Phase2Check};
use crate::pairing::{msm_g1, msm_g2, pairings_equal, random_weights};
use crate::phase1::Phase1State;

/// Row weights `rⱼ = Σᵢ ρᵢ·M[j][i]` over the n rows of the QAP domain.
fn row_weights(matrix: &Matrix<Fr>, weights: &[Fr], n: usize) -> Vec<Fr> {
    let mut rows = vec![Fr::zero(); n];
    for (row, terms) in matrix.iter().enumerate() {
        for &(coeff, var) in terms {
            rows[row] += coeff * weights[var];
        }
    }
    rows
}

/// The A matrix's row weights, with arkworks' extra rows `A[constraints + i][i] = 1`.
fn a_row_weights(shape: &R1csShape, weights: &[Fr], n: usize) -> Vec<Fr> {
    let mut rows = row_weights(&shape.matrices[0], weights, n);
    for (i, w) in weights.iter().enumerate().take(shape.num_instance) {
        rows[shape.num_constraints + i] += w;
    }
    rows
}

/// The circuit's QAP domain and its size, checked against phase 1.
fn domain(
    shape: &R1csShape,
    phase1: &Phase1State,
) -> Result<(GeneralEvaluationDomain<Fr>, usize), CeremonyError> {
    if !phase1.has_shape() {
        return Err(CeremonyError::MalformedPhase1);
    }
    let n = shape.domain_size()?;
    if n > phase1.size() {
        return Err(CeremonyError::DomainTooSmall {
            needed: n,
            available: phase1.size(),
        });
    }
    let domain = GeneralEvaluationDomain::<Fr>::new(n).ok_or(CeremonyError::Synthesis(format!(
        "no evaluation domain of size {n}"
    )))?;
    Ok((domain, n))
}

/// `⟨ρ, (βu + αv + w)(τ)⟩` in G1, from row weights by inverse FFTs (γ = δ = 1 form).
fn expected_abc(
    phase1: &Phase1State,
    domain: &GeneralEvaluationDomain<Fr>,
    rows: [Vec<Fr>; 3],
    n: usize,
) -> G1Projective {
    let [a, b, c] = rows.map(|r| domain.ifft(&r));
    msm_g1(&phase1.beta_tau_g1[..n], &a)
        + msm_g1(&phase1.alpha_tau_g1[..n], &b)
        + msm_g1(&phase1.tau_g1[..n], &c)
}

/// Checks that `key` is the key phase 1 gives this circuit, with γ = 1 and any δ.
///
/// One batched check ([`batched_check`]) decides; only when it fails do the separate
/// checks run, to name what is wrong. A failed check comes back as
/// `CeremonyError::Key(check)`; a transcript's verification renames it to the
/// contribution that produced the key.
pub fn verify_key<R: Rng + CryptoRng + ?Sized>(
    phase1: &Phase1State,
    shape: &R1csShape,
    key: &ProvingKey<Bn254>,
    rng: &mut R,
) -> Result<(), CeremonyError> {
    let (domain, n) = domain(shape, phase1)?;
    let vars = shape.num_instance + shape.num_witness;
    check_shape(shape, key, vars, n).map_err(CeremonyError::Key)?;
    check_fixed(phase1, key).map_err(CeremonyError::Key)?;
    if batched_check(phase1, shape, key, &domain, n, rng) {
        return Ok(());
    }
    name_the_failure(phase1, shape, key, &domain, n, rng).map_err(CeremonyError::Key)?;
    Err(CeremonyError::Key(Phase2Check::NotFromPhase1))
}

/// All of a key's queries against phase 1 in one 3-pairing product.
///
/// With independent random weights: `P₁ = ⟨ρa, A⟩ + ⟨ρb, B₁⟩ + ⟨ρic, IC⟩` must equal its
/// expected value `E₁` (a G1 equality), `P₂ = ⟨ρl, L⟩ + ⟨σ, H⟩` must satisfy
/// `e(P₂, [δ]₂) = e(E₂, G₂)`, and `e(⟨ρb, B₁⟩, G₂) = e(G₁, ⟨ρb, B₂⟩)` ties B in G2 to B in
/// G1. With fresh random `r, r₂`:
/// `e(P₂, [δ]₂) · e(r·P₁ − (r·E₁ + E₂) + r₂·⟨ρb, B₁⟩, G₂) · e(−r₂·G₁, ⟨ρb, B₂⟩) = 1`.
/// `r·E₁ + E₂` is one MSM per phase-1 vector (τ, α, β), since both are linear in the
/// powers: about half the work of the separate checks.
fn batched_check<R: Rng + CryptoRng + ?Sized>(
    phase1: &Phase1State,
    shape: &R1csShape,
    key: &ProvingKey<Bn254>,
    domain: &GeneralEvaluationDomain<Fr>,
    n: usize,
    rng: &mut R,
) -> bool {
    let vars = shape.num_instance + shape.num_witness;
    let rho_a = random_weights(vars, rng);
    let rho_b = random_weights(vars, rng);
    let rho_ic = random_weights(shape.num_instance, rng);
    let rho_l = random_weights(shape.num_witness, rng);
    let sigma = random_weights(n - 1, rng);
    let [r, r2] = [Fr::rand(rng), Fr::rand(rng)];

    // μ weights IC (scaled by r) and L together: they cover disjoint variables.
    let mu: Vec<Fr> = rho_ic
        .iter()
        .map(|w| r * w)
        .chain(rho_l.iter().copied())
        .collect();
    let [_, b, c] = &shape.matrices;
    let mut tau_rows = a_row_weights(shape, &rho_a, n);
    let b_rows = row_weights(b, &rho_b, n);
    let c_rows = row_weights(c, &mu, n);
    for ((t, b), c) in tau_rows.iter_mut().zip(&b_rows).zip(&c_rows) {
        *t = r * (*t + b) + c;
    }
    let mut tau_coeffs = domain.ifft(&tau_rows);
    tau_coeffs.resize(2 * n - 1, Fr::zero());
    for (i, s) in sigma.iter().enumerate() {
        tau_coeffs[i] -= s;
        tau_coeffs[i + n] += s;
    }
    let alpha_coeffs = domain.ifft(&row_weights(b, &mu, n));
    let beta_coeffs = domain.ifft(&a_row_weights(shape, &mu, n));
    let expected = msm_g1(&phase1.tau_g1[..2 * n - 1], &tau_coeffs)
        + msm_g1(&phase1.alpha_tau_g1[..n], &alpha_coeffs)
        + msm_g1(&phase1.beta_tau_g1[..n], &beta_coeffs);

    let b1 = msm_g1(&key.b_g1_query, &rho_b);
    let p1 = msm_g1(&key.a_query, &rho_a) + b1 + msm_g1(&key.vk.gamma_abc_g1, &rho_ic);
    let p2 = msm_g1(&key.l_query, &rho_l) + msm_g1(&key.h_query, &sigma);
    let b2 = msm_g2(&key.b_g2_query, &rho_b);
    let g1_side = [
        p2.into_affine(),
        (p1 * r - expected + b1 * r2).into_affine(),
        (G1Affine::generator() * (-r2)).into_affine(),
    ];
    let g2_side = [key.vk.delta_g2, G2Affine::generator(), b2.into_affine()];
    Bn254::multi_pairing(g1_side, g2_side).is_zero()
}

/// The separate checks, run only to name what a failed batched check found.
fn name_the_failure<R: Rng + CryptoRng + ?Sized>(
    phase1: &Phase1State,
    shape: &R1csShape,
    key: &ProvingKey<Bn254>,
    domain: &GeneralEvaluationDomain<Fr>,
    n: usize,
    rng: &mut R,
) -> Result<(), Phase2Check> {
    let vars = shape.num_instance + shape.num_witness;

    // A and B: one weight per variable, compared without pairings.
    let rho = random_weights(vars, rng);
    let a_coeffs = domain.ifft(&a_row_weights(shape, &rho, n));
    if msm_g1(&key.a_query, &rho) != msm_g1(&phase1.tau_g1[..n], &a_coeffs) {
        return Err(Phase2Check::AQuery);
    }
    let rho = random_weights(vars, rng);
    let b_coeffs = domain.ifft(&row_weights(&shape.matrices[1], &rho, n));
    if msm_g1(&key.b_g1_query, &rho) != msm_g1(&phase1.tau_g1[..n], &b_coeffs) {
        return Err(Phase2Check::BG1Query);
    }
    if msm_g2(&key.b_g2_query, &rho) != msm_g2(&phase1.tau_g2[..n], &b_coeffs) {
        return Err(Phase2Check::BG2Query);
    }

    // IC (γ = 1): weights on the instance variables only.
    let mut rho = random_weights(shape.num_instance, rng);
    let claimed = msm_g1(&key.vk.gamma_abc_g1, &rho);
    rho.resize(vars, Fr::zero());
    if claimed != expected_for(shape, phase1, domain, &rho, n) {
        return Err(Phase2Check::IcQuery);
    }

    // L ‖ H over δ: weights on the witness variables and on the H powers.
    let mut rho = vec![Fr::zero(); shape.num_instance];
    let l_weights = random_weights(shape.num_witness, rng);
    rho.extend_from_slice(&l_weights);
    let h_weights = random_weights(n - 1, rng);
    let claimed = msm_g1(&key.l_query, &l_weights) + msm_g1(&key.h_query, &h_weights);
    let expected = expected_for(shape, phase1, domain, &rho, n) + expected_h(phase1, &h_weights, n);
    if !pairings_equal(claimed, key.vk.delta_g2, expected, G2Affine::generator()) {
        return Err(Phase2Check::QueriesNotScaled);
    }
    Ok(())
}

/// `⟨ρ, (βu + αv + w)(τ)⟩` for variable weights ρ.
fn expected_for(
    shape: &R1csShape,
    phase1: &Phase1State,
    domain: &GeneralEvaluationDomain<Fr>,
    rho: &[Fr],
    n: usize,
) -> G1Projective {
    let rows = [
        a_row_weights(shape, rho, n),
        row_weights(&shape.matrices[1], rho, n),
        row_weights(&shape.matrices[2], rho, n),
    ];
    expected_abc(phase1, domain, rows, n)
}

/// `Σᵢ σᵢ·[τⁱZ(τ)] = Σᵢ σᵢ·([τ^{i+n}] − [τⁱ])`.
fn expected_h(phase1: &Phase1State, sigma: &[Fr], n: usize) -> G1Projective {
    let high = msm_g1(&phase1.tau_g1[n..2 * n - 1], sigma);
    let low = msm_g1(&phase1.tau_g1[..n - 1], sigma);
    high - low
}

/// The key's vectors have the circuit's lengths.
fn check_shape(
    shape: &R1csShape,
    key: &ProvingKey<Bn254>,
    vars: usize,
    n: usize,
) -> Result<(), Phase2Check> {
    let ok = key.a_query.len() == vars
        && key.b_g1_query.len() == vars
        && key.b_g2_query.len() == vars
        && key.vk.gamma_abc_g1.len() == shape.num_instance
        && key.l_query.len() == shape.num_witness
        && key.h_query.len() == n - 1;
    if ok {
        Ok(())
    } else {
        Err(Phase2Check::KeyShape)
    }
}

/// α, β come from phase 1, γ is the generator, and δ is the same in G1 and G2.
fn check_fixed(phase1: &Phase1State, key: &ProvingKey<Bn254>) -> Result<(), Phase2Check> {
    let fixed = key.vk.alpha_g1 == phase1.alpha_tau_g1[0]
        && key.beta_g1 == phase1.beta_tau_g1[0]
        && key.vk.beta_g2 == phase1.beta_g2
        && key.vk.gamma_g2 == G2Affine::generator();
    if !fixed {
        return Err(Phase2Check::FixedElements);
    }
    if key.delta_g1.is_zero()
        || !pairings_equal(
            key.delta_g1,
            G2Affine::generator(),
            G1Affine::generator(),
            key.vk.delta_g2,
        )
    {
        return Err(Phase2Check::DeltaG1G2);
    }
    Ok(())
}
