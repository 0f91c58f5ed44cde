//! From phase 1 to a circuit's keys: the phase-2 starting point, with γ = δ = 1.
//!
//! arkworks' Groth16 (LibsnarkReduction) uses the evaluation domain of size
//! `n ≥ constraints + public inputs` and adds one extra "A" row per instance variable
//! (row `constraints + i` has `A = xᵢ`, `B = C = 0`), which makes the public inputs
//! linearly independent. For variable i, `uᵢ, vᵢ, wᵢ` are the column sums of the A, B, C
//! matrices against the Lagrange basis, so everything the keys need is a linear
//! combination of `[Lⱼ(τ)]`, `[αLⱼ(τ)]`, `[βLⱼ(τ)]` in G1 and `[Lⱼ(τ)]` in G2. Those come
//! from the first n powers by an inverse FFT in the group (`Lⱼ(X) = (1/n)Σᵢ ω^{-ij} Xⁱ`).
//! The H query is `[τⁱ Z(τ)] = [τ^{i+n}] − [τⁱ]` for `i < n − 1` (`Z(X) = Xⁿ − 1`).

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain, Radix2EvaluationDomain};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisMode,
    R1CS_PREDICATE_LABEL,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_std::Zero;
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

use crate::error::CeremonyError;
use crate::fft::{group_ifft, mul_g1, mul_g2};
use crate::hash::{compressed, hash_parts, Digest, CIRCUIT_DOMAIN};
use crate::pairing::{msm_g1, msm_g2, mul_small, random_weights};
use crate::phase1::Phase1State;

/// A circuit's R1CS as arkworks' Groth16 sees it.
pub struct R1csShape {
    /// Public inputs, counting the constant `1`.
    pub num_instance: usize,
    /// Private witnesses.
    pub num_witness: usize,
    /// R1CS constraints.
    pub num_constraints: usize,
    /// The A, B and C matrices, one row per constraint, columns = instance ‖ witness.
    pub matrices: [Matrix<Fr>; 3],
}

impl R1csShape {
    /// The QAP domain's size: `constraints + instance`, rounded up as arkworks rounds it.
    pub fn domain_size(&self) -> Result<usize, CeremonyError> {
        Ok(self.domain()?.size())
    }

    pub(crate) fn domain(&self) -> Result<GeneralEvaluationDomain<Fr>, CeremonyError> {
        GeneralEvaluationDomain::<Fr>::new(self.num_constraints + self.num_instance).ok_or(
            CeremonyError::Synthesis("no evaluation domain that large".to_string()),
        )
    }

    fn num_variables(&self) -> usize {
        self.num_instance + self.num_witness
    }

    /// A digest of the circuit: its sizes and every matrix entry, in order.
    ///
    /// Phase 2's hash chain starts from it, so contributions to one circuit cannot be
    /// replayed onto another.
    pub fn digest(&self) -> Digest {
        let sizes = [self.num_instance, self.num_witness, self.num_constraints]
            .map(|x| (x as u64).to_le_bytes())
            .concat();
        let mut entries = Vec::new();
        for matrix in &self.matrices {
            entries.extend_from_slice(&(matrix.len() as u64).to_le_bytes());
            for row in matrix {
                entries.extend_from_slice(&(row.len() as u64).to_le_bytes());
                for (coeff, var) in row {
                    entries.extend_from_slice(&compressed(coeff));
                    entries.extend_from_slice(&(*var as u64).to_le_bytes());
                }
            }
        }
        hash_parts(CIRCUIT_DOMAIN, &[&sizes, &entries])
    }
}

/// Synthesises the circuit in setup mode, as arkworks' generator does, and reads its matrices.
pub fn synthesize<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<R1csShape, CeremonyError> {
    let synthesis =
        |e: ark_relations::gr1cs::SynthesisError| CeremonyError::Synthesis(e.to_string());
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit
        .generate_constraints(cs.clone())
        .map_err(synthesis)?;
    cs.finalize();
    let mut all = cs.to_matrices().map_err(synthesis)?;
    if all.len() != 1 {
        return Err(CeremonyError::Synthesis(
            "only plain R1CS circuits (one predicate) are supported".to_string(),
        ));
    }
    let matrices = all
        .remove(R1CS_PREDICATE_LABEL)
        .ok_or_else(|| CeremonyError::Synthesis("the circuit has no R1CS predicate".to_string()))?;
    let [a, b, c]: [Matrix<Fr>; 3] = matrices
        .try_into()
        .map_err(|_| CeremonyError::Synthesis("R1CS must have three matrices".to_string()))?;
    Ok(R1csShape {
        num_instance: cs.num_instance_variables(),
        num_witness: cs.num_witness_variables(),
        num_constraints: cs.num_constraints(),
        matrices: [a, b, c],
    })
}

/// The Lagrange basis over a domain of n points, evaluated at τ, in the groups.
///
/// It depends only on phase 1 and n: computing it (four group FFTs) is most of the cost
/// of deriving a key, so it can be computed once per domain size, published, and checked
/// by anyone with [`LagrangeBasis::verify`] (MSMs and field FFTs only).
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct LagrangeBasis {
    /// `[Lⱼ(τ)]G1`.
    pub g1: Vec<G1Affine>,
    /// `[Lⱼ(τ)]G2`.
    pub g2: Vec<G2Affine>,
    /// `[αLⱼ(τ)]G1`.
    pub alpha_g1: Vec<G1Affine>,
    /// `[βLⱼ(τ)]G1`.
    pub beta_g1: Vec<G1Affine>,
}

/// Group inverse FFT of the first n powers: `[Lⱼ(τ)] = (1/n)Σᵢ ω^{-ij}[τⁱ]`.
pub fn lagrange_basis(phase1: &Phase1State, n: usize) -> Result<LagrangeBasis, CeremonyError> {
    check_fits(phase1, n)?;
    let no_domain = || CeremonyError::Synthesis(format!("no evaluation domain of size {n}"));
    let ifft_g1 = |points: &[G1Affine]| {
        let mut v: Vec<G1Projective> = points[..n].iter().map(|p| p.into_group()).collect();
        group_ifft(&mut v, mul_g1).ok_or_else(no_domain)?;
        Ok::<_, CeremonyError>(G1Projective::normalize_batch(&v))
    };
    let mut g2: Vec<G2Projective> = phase1.tau_g2[..n].iter().map(|p| p.into_group()).collect();
    group_ifft(&mut g2, mul_g2).ok_or_else(no_domain)?;
    Ok(LagrangeBasis {
        g1: ifft_g1(&phase1.tau_g1)?,
        g2: G2Projective::normalize_batch(&g2),
        alpha_g1: ifft_g1(&phase1.alpha_tau_g1)?,
        beta_g1: ifft_g1(&phase1.beta_tau_g1)?,
    })
}

/// A well-formed phase 1 with at least n powers.
fn check_fits(phase1: &Phase1State, n: usize) -> Result<(), CeremonyError> {
    if !phase1.has_shape() {
        return Err(CeremonyError::MalformedPhase1);
    }
    if n > phase1.size() {
        return Err(CeremonyError::DomainTooSmall {
            needed: n,
            available: phase1.size(),
        });
    }
    Ok(())
}

impl LagrangeBasis {
    /// The domain size.
    pub fn size(&self) -> usize {
        self.g1.len()
    }

    /// Checks this is phase 1's Lagrange basis: for random ρ,
    /// `Σⱼ ρⱼ·[Lⱼ] = Σᵢ IFFT(ρ)ᵢ·[τⁱ]` (the inverse-DFT matrix is symmetric), for each of
    /// the four vectors. Two MSMs and one field FFT per vector.
    pub fn verify<R: Rng + CryptoRng + ?Sized>(
        &self,
        phase1: &Phase1State,
        rng: &mut R,
    ) -> Result<(), CeremonyError> {
        let n = self.size();
        check_fits(phase1, n)?;
        let domain = Radix2EvaluationDomain::<Fr>::new(n)
            .filter(|d| d.size() == n)
            .ok_or(CeremonyError::LagrangeBasis)?;
        if self.g2.len() != n || self.alpha_g1.len() != n || self.beta_g1.len() != n {
            return Err(CeremonyError::LagrangeBasis);
        }
        let pairs_g1 = [
            (&self.g1, &phase1.tau_g1),
            (&self.alpha_g1, &phase1.alpha_tau_g1),
            (&self.beta_g1, &phase1.beta_tau_g1),
        ];
        for (basis, powers) in pairs_g1 {
            let rho = random_weights(n, rng);
            if msm_g1(basis, &rho) != msm_g1(&powers[..n], &domain.ifft(&rho)) {
                return Err(CeremonyError::LagrangeBasis);
            }
        }
        let rho = random_weights(n, rng);
        if msm_g2(&self.g2, &rho) != msm_g2(&phase1.tau_g2[..n], &domain.ifft(&rho)) {
            return Err(CeremonyError::LagrangeBasis);
        }
        Ok(())
    }
}

/// Per-variable query columns: `[uᵢ(τ)]G1`, `[vᵢ(τ)]G1`, `[vᵢ(τ)]G2` and
/// `[βuᵢ(τ) + αvᵢ(τ) + wᵢ(τ)]G1`.
struct Columns {
    a_g1: Vec<G1Projective>,
    b_g1: Vec<G1Projective>,
    b_g2: Vec<G2Projective>,
    abc_g1: Vec<G1Projective>,
}

/// Column sums of the matrices against the Lagrange basis, plus arkworks' extra
/// instance rows (`A[constraints + i][i] = 1`).
///
/// Column by column (the matrices transposed), variables in parallel: a short column is
/// summed term by term (most R1CS coefficients are ±1 or small, see [`mul_small`]), a long
/// one (the constant `1`'s, the hash states') by one multi-scalar multiplication. The
/// result is the same sum whichever way it is taken.
fn qap_columns(shape: &R1csShape, basis: &LagrangeBasis) -> Columns {
    let vars = shape.num_variables();
    let [a, b, c] = &shape.matrices;
    let (a, b, c) = (transpose(a, vars), transpose(b, vars), transpose(c, vars));
    let column = |var: usize| {
        let mut a_g1 = lincomb_g1(&basis.g1, &a[var]);
        let b_g1 = lincomb_g1(&basis.g1, &b[var]);
        let b_g2 = lincomb_g2(&basis.g2, &b[var]);
        let mut abc_g1 = lincomb_g1(&basis.beta_g1, &a[var])
            + lincomb_g1(&basis.alpha_g1, &b[var])
            + lincomb_g1(&basis.g1, &c[var]);
        if var < shape.num_instance {
            let row = shape.num_constraints + var;
            a_g1 += basis.g1[row];
            abc_g1 += basis.beta_g1[row];
        }
        (a_g1, b_g1, b_g2, abc_g1)
    };
    // Short columns in parallel, term by term; long ones one after another, each MSM
    // parallel inside (rayon work nested in rayon work can exhaust a worker's stack).
    let long = |var: &usize| [&a, &b, &c].iter().any(|m| m[*var].len() >= MSM_FROM);
    let mut sums: Vec<_> = (0..vars)
        .into_par_iter()
        .map(|var| (!long(&var)).then(|| column(var)))
        .collect();
    for var in (0..vars).filter(long) {
        sums[var] = Some(column(var));
    }
    let mut cols = Columns {
        a_g1: Vec::with_capacity(vars),
        b_g1: Vec::with_capacity(vars),
        b_g2: Vec::with_capacity(vars),
        abc_g1: Vec::with_capacity(vars),
    };
    for (a_g1, b_g1, b_g2, abc_g1) in sums.into_iter().flatten() {
        cols.a_g1.push(a_g1);
        cols.b_g1.push(b_g1);
        cols.b_g2.push(b_g2);
        cols.abc_g1.push(abc_g1);
    }
    cols
}

/// Columns at least this long are summed by one MSM instead of term by term.
const MSM_FROM: usize = 16;

/// A matrix's entries by column: `out[var]` lists `(row, coefficient)`.
pub(crate) fn transpose(matrix: &Matrix<Fr>, vars: usize) -> Vec<Vec<(usize, Fr)>> {
    let mut out = vec![Vec::new(); vars];
    for (row, terms) in matrix.iter().enumerate() {
        for &(coeff, var) in terms {
            out[var].push((row, coeff));
        }
    }
    out
}

/// `Σ coeff·points[row]` over one column, in G1.
fn lincomb_g1(points: &[G1Affine], column: &[(usize, Fr)]) -> G1Projective {
    if column.len() >= MSM_FROM {
        let (bases, scalars): (Vec<G1Affine>, Vec<Fr>) =
            column.iter().map(|&(row, c)| (points[row], c)).unzip();
        return msm_g1(&bases, &scalars);
    }
    column.iter().fold(G1Projective::zero(), |acc, &(row, c)| {
        acc + mul_small(points[row].into_group(), c, mul_g1)
    })
}

/// `Σ coeff·points[row]` over one column, in G2.
fn lincomb_g2(points: &[G2Affine], column: &[(usize, Fr)]) -> G2Projective {
    if column.len() >= MSM_FROM {
        let (bases, scalars): (Vec<G2Affine>, Vec<Fr>) =
            column.iter().map(|&(row, c)| (points[row], c)).unzip();
        return msm_g2(&bases, &scalars);
    }
    column.iter().fold(G2Projective::zero(), |acc, &(row, c)| {
        acc + mul_small(points[row].into_group(), c, mul_g2)
    })
}

/// `[τⁱ Z(τ)]G1 = [τ^{i+n}] − [τⁱ]` for i < n − 1: the H query with δ = 1.
pub(crate) fn h_query(phase1: &Phase1State, n: usize) -> Vec<G1Affine> {
    let projective: Vec<G1Projective> = (0..n.saturating_sub(1))
        .map(|i| phase1.tau_g1[i + n].into_group() - phase1.tau_g1[i])
        .collect();
    G1Projective::normalize_batch(&projective)
}

/// The phase-2 starting key for `shape` from `phase1`: γ = δ = 1, so anyone can
/// recompute it, and it is secure only after at least one phase-2 contribution.
pub fn derive_start_from_shape(
    phase1: &Phase1State,
    shape: &R1csShape,
) -> Result<ProvingKey<Bn254>, CeremonyError> {
    let basis = lagrange_basis(phase1, shape.domain_size()?)?;
    derive_start_with_basis(phase1, &basis, shape)
}

/// The phase-2 starting key from a Lagrange basis already computed (and, if it came
/// from elsewhere, checked with [`LagrangeBasis::verify`]) for the circuit's domain.
pub fn derive_start_with_basis(
    phase1: &Phase1State,
    basis: &LagrangeBasis,
    shape: &R1csShape,
) -> Result<ProvingKey<Bn254>, CeremonyError> {
    let n = shape.domain_size()?;
    check_fits(phase1, n)?;
    if basis.size() != n {
        return Err(CeremonyError::LagrangeBasis);
    }
    let cols = qap_columns(shape, basis);
    let split = shape.num_instance;
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let vk = VerifyingKey::<Bn254> {
        alpha_g1: phase1.alpha_tau_g1[0],
        beta_g2: phase1.beta_g2,
        gamma_g2: g2,
        delta_g2: g2,
        gamma_abc_g1: G1Projective::normalize_batch(&cols.abc_g1[..split]),
    };
    Ok(ProvingKey {
        vk,
        beta_g1: phase1.beta_tau_g1[0],
        delta_g1: g1,
        a_query: G1Projective::normalize_batch(&cols.a_g1),
        b_g1_query: G1Projective::normalize_batch(&cols.b_g1),
        b_g2_query: G2Projective::normalize_batch(&cols.b_g2),
        h_query: h_query(phase1, n),
        l_query: G1Projective::normalize_batch(&cols.abc_g1[split..]),
    })
}

/// Synthesises `circuit` and derives its phase-2 starting key from `phase1`.
pub fn derive_start<C: ConstraintSynthesizer<Fr>>(
    phase1: &Phase1State,
    circuit: C,
) -> Result<ProvingKey<Bn254>, CeremonyError> {
    let shape = synthesize(circuit)?;
    derive_start_from_shape(phase1, &shape)
}
