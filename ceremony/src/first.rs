//! Opening a ceremony: phase 1's first contribution and one circuit's phase-2 start, by
//! one party in one step.
//!
//! Deriving a start from phase 1 is public but slow (four group FFTs of the circuit's
//! domain, minutes at 2^17 on two cores). The party that makes phase 1's *first*
//! contribution holds τ, α and β for a moment anyway, and while it does, every element
//! of the start is a known scalar times a generator: `Lⱼ(τ)` in the field, the column
//! sums in the field, then fixed-base multiplications (seconds). The result is exactly
//! [`derive_start_from_shape`](crate::derive_start_from_shape) of the resulting phase 1,
//! so nobody need trust this shortcut: `check::verify_key` checks the start against
//! phase 1 like any other key. It gives its maker no power the first contribution did
//! not already give, and it is only valid while phase 1 has that one contribution.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::scalar_mul::ScalarMul;
use ark_ec::AffineRepr;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::EvaluationDomain;
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

use crate::derive::{h_query, transpose, R1csShape};
use crate::error::CeremonyError;
use crate::phase1::{self, Phase1Secrets};
use crate::transcript::{Phase1Transcript, Phase2Transcript, Transcript};

impl Transcript {
    /// A fresh phase 1 of `2^power` points with one contribution (fresh secrets from
    /// `rng`, dropped before returning), and `shape`'s phase-2 start from it, made with
    /// those secrets instead of the group FFTs. Phase 2 has no contribution yet.
    pub fn opened<R: Rng + CryptoRng + ?Sized>(
        power: u32,
        shape: &R1csShape,
        rng: &mut R,
    ) -> Result<Self, CeremonyError> {
        let secrets = Phase1Secrets::random(rng);
        Self::opened_with(power, shape, secrets, rng)
    }

    pub(crate) fn opened_with<R: Rng + CryptoRng + ?Sized>(
        power: u32,
        shape: &R1csShape,
        secrets: Phase1Secrets,
        rng: &mut R,
    ) -> Result<Self, CeremonyError> {
        let mut phase1 = Phase1Transcript::new(power)?;
        let n = shape.domain_size()?;
        if n > phase1.state.size() {
            return Err(CeremonyError::DomainTooSmall {
                needed: n,
                available: phase1.state.size(),
            });
        }
        let (state, contribution) =
            phase1::contribute_with(&phase1.state, &phase1.hash(), secrets, rng)?;
        phase1.push(state, contribution);
        let key = start_from_secrets(&phase1.state, shape, &secrets)?;
        Ok(Self {
            phase2: Phase2Transcript {
                circuit_digest: shape.digest(),
                contributions: Vec::new(),
                key,
            },
            phase1,
        })
    }
}

/// `shape`'s phase-2 start (γ = δ = 1) over `phase1`, whose only contribution's secrets
/// are `secrets`: the same key [`crate::derive_start_from_shape`] derives, element for
/// element.
fn start_from_secrets(
    phase1: &phase1::Phase1State,
    shape: &R1csShape,
    secrets: &Phase1Secrets,
) -> Result<ProvingKey<Bn254>, CeremonyError> {
    let domain = shape.domain()?;
    let n = domain.size();
    let lagrange = domain.evaluate_all_lagrange_coefficients(secrets.tau);
    let cols = field_columns(shape, &lagrange);
    let (alpha, beta) = (secrets.alpha, secrets.beta);
    let abc: Vec<Fr> = (0..cols.u.len())
        .into_par_iter()
        .map(|i| beta * cols.u[i] + alpha * cols.v[i] + cols.w[i])
        .collect();
    let g1 = G1Projective::from(G1Affine::generator());
    let g2 = G2Projective::from(G2Affine::generator());
    let split = shape.num_instance;
    let vk = VerifyingKey::<Bn254> {
        alpha_g1: phase1.alpha_tau_g1[0],
        beta_g2: phase1.beta_g2,
        gamma_g2: G2Affine::generator(),
        delta_g2: G2Affine::generator(),
        gamma_abc_g1: g1.batch_mul(&abc[..split]),
    };
    Ok(ProvingKey {
        vk,
        beta_g1: phase1.beta_tau_g1[0],
        delta_g1: G1Affine::generator(),
        a_query: g1.batch_mul(&cols.u),
        b_g1_query: g1.batch_mul(&cols.v),
        b_g2_query: g2.batch_mul(&cols.v),
        h_query: h_query(phase1, n),
        l_query: g1.batch_mul(&abc[split..]),
    })
}

/// `uᵢ(τ)`, `vᵢ(τ)`, `wᵢ(τ)` per variable, in the field.
struct FieldColumns {
    u: Vec<Fr>,
    v: Vec<Fr>,
    w: Vec<Fr>,
}

/// The column sums of the A, B, C matrices against `Lⱼ(τ)`, plus arkworks' extra
/// instance rows (`A[constraints + i][i] = 1`), as `qap_columns` takes them in the group.
fn field_columns(shape: &R1csShape, lagrange: &[Fr]) -> FieldColumns {
    let vars = shape.num_instance + shape.num_witness;
    let [a, b, c] = &shape.matrices;
    let sum = |matrix| {
        transpose(matrix, vars)
            .par_iter()
            .map(|column| column.iter().map(|&(row, k)| k * lagrange[row]).sum())
            .collect::<Vec<Fr>>()
    };
    let mut u = sum(a);
    for (var, u) in u.iter_mut().enumerate().take(shape.num_instance) {
        *u += lagrange[shape.num_constraints + var];
    }
    FieldColumns {
        u,
        v: sum(b),
        w: sum(c),
    }
}
