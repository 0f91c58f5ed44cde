//! Groth16 proving from a recorded synthesis (`crate::cs::Cs::recording`): the witness map
//! from each constraint's evaluations, then the five MSMs. It computes exactly what
//! ark-groth16's `create_proof_with_reduction_and_matrices` computes (LibsnarkReduction;
//! a test holds the two to the same proof for the same `r`, `s`), without the constraint
//! matrices, and it times each step for `merit bench prove`.

use crate::cs::Evaluations;
use crate::ProverError;
use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::VariableBaseMSM;
use ark_ff::{FftField, Field, PrimeField, Zero};
use ark_groth16::{Proof, ProvingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::SynthesisError;
use std::time::Instant;

/// Seconds spent in each step of one proof.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Steps {
    /// Evaluations to the quotient `h`: three inverse FFTs, three coset FFTs, one inverse.
    pub witness_map_s: f64,
    pub msm_h_s: f64,
    pub msm_l_s: f64,
    pub msm_a_s: f64,
    pub msm_b_g1_s: f64,
    pub msm_b_g2_s: f64,
}

/// A witness, recorded: every constraint's `⟨A,z⟩, ⟨B,z⟩, ⟨C,z⟩` and the assignment.
pub struct Recorded {
    pub evals: Evaluations,
    /// `[1, public inputs…]`.
    pub instance: Vec<Fr>,
    pub witness: Vec<Fr>,
}

/// The QAP quotient `h = (A·B − C) / Z` in coefficient form, from the evaluations. The
/// instance rows (`A` = the instance assignment after the constraints) are the
/// LibsnarkReduction's, which is what the proving key was generated for.
pub fn witness_map(mut evals: Evaluations, instance: &[Fr]) -> Result<Vec<Fr>, ProverError> {
    let nc = evals.a.len();
    let domain = GeneralEvaluationDomain::<Fr>::new(nc + instance.len())
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let size = domain.size();
    let coset = domain
        .get_coset(Fr::GENERATOR)
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let mut a = std::mem::take(&mut evals.a);
    let mut b = std::mem::take(&mut evals.b);
    let mut c = std::mem::take(&mut evals.c);
    a.resize(size, Fr::zero());
    a[nc..nc + instance.len()].copy_from_slice(instance);
    b.resize(size, Fr::zero());
    c.resize(size, Fr::zero());
    for v in [&mut a, &mut b] {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    }
    for (x, y) in a.iter_mut().zip(&b) {
        *x *= y;
    }
    drop(b);
    domain.ifft_in_place(&mut c);
    coset.fft_in_place(&mut c);
    let z_inv = domain
        .evaluate_vanishing_polynomial(Fr::GENERATOR)
        .inverse()
        .ok_or(SynthesisError::DivisionByZero)?;
    for (x, y) in a.iter_mut().zip(&c) {
        *x -= y;
        *x *= z_inv;
    }
    drop(c);
    coset.ifft_in_place(&mut a);
    Ok(a)
}

fn timed<T>(t: &mut f64, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *t = start.elapsed().as_secs_f64();
    out
}

/// The proof for randomness `r`, `s`.
pub fn prove(
    pk: &ProvingKey<Bn254>,
    rec: Recorded,
    r: Fr,
    s: Fr,
) -> Result<(Proof<Bn254>, Steps), ProverError> {
    let mut t = Steps::default();
    let Recorded {
        evals,
        instance,
        witness,
    } = rec;
    let h = timed(&mut t.witness_map_s, || witness_map(evals, &instance))?;
    let h: Vec<_> = h.into_iter().map(|x| x.into_bigint()).collect();
    let h_acc = timed(&mut t.msm_h_s, || G1Projective::msm_bigint(&pk.h_query, &h));
    drop(h);
    // The public inputs then the witnesses, as bigints (the A and B queries skip the
    // constant one, which their first element stands for).
    let z: Vec<_> = instance[1..]
        .iter()
        .chain(&witness)
        .map(|x| x.into_bigint())
        .collect();
    drop(witness);
    let aux = &z[instance.len() - 1..];
    let l_acc = timed(&mut t.msm_l_s, || {
        G1Projective::msm_bigint(&pk.l_query, aux)
    });
    let g_a = timed(&mut t.msm_a_s, || {
        pk.delta_g1 * r
            + pk.a_query[0]
            + G1Projective::msm_bigint(&pk.a_query[1..], &z)
            + pk.vk.alpha_g1
    });
    let g1_b = timed(&mut t.msm_b_g1_s, || {
        pk.delta_g1 * s
            + pk.b_g1_query[0]
            + G1Projective::msm_bigint(&pk.b_g1_query[1..], &z)
            + pk.beta_g1
    });
    let g2_b = timed(&mut t.msm_b_g2_s, || {
        pk.vk.delta_g2 * s
            + pk.b_g2_query[0]
            + G2Projective::msm_bigint(&pk.b_g2_query[1..], &z)
            + pk.vk.beta_g2
    });
    let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l_acc + h_acc;
    use ark_ec::CurveGroup;
    Ok((
        Proof {
            a: g_a.into_affine(),
            b: g2_b.into_affine(),
            c: g_c.into_affine(),
        },
        t,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round::RoundCircuit;
    use crate::sample;
    use crate::test_circuit::Square;
    use crate::{prepare, record, setup, verify, Circuit, SetupMode};
    use ark_groth16::Groth16;
    use ark_relations::gr1cs::ConstraintSynthesizer;

    /// Same keys, same `r` and `s`: arkworks' prover (from the matrices) and ours (from the
    /// recording) must give the very same proof, and it must verify.
    fn same_as_arkworks<C: Circuit + ConstraintSynthesizer<Fr> + Clone>(
        blank: C,
        circuit: C,
        public: Fr,
    ) {
        let (pk, vk) = setup(blank, SetupMode::InsecureDeterministicForTests(5)).unwrap();
        let (r, s) = (Fr::from(11u64), Fr::from(13u64));
        let p = prepare(circuit.clone()).unwrap();
        let theirs = Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
            &pk,
            r,
            s,
            &p.matrices,
            p.num_instance,
            p.num_constraints,
            &p.assignment,
        )
        .unwrap();
        let (ours, steps) = prove(&pk, record(&circuit).unwrap(), r, s).unwrap();
        assert_eq!(ours, theirs);
        assert!(verify(&vk, &ours, &[public]).unwrap());
        assert!(!verify(&vk, &ours, &[public + Fr::from(1u64)]).unwrap());
        assert!(steps.witness_map_s > 0.0);
    }

    #[test]
    fn the_recorded_prover_gives_arkworks_proof() {
        let sq = |x: u64| Square {
            x: Some(Fr::from(x)),
            y: Some(Fr::from(x * x)),
        };
        same_as_arkworks(sq(0), sq(7), Fr::from(49u64));
        let w = sample::attacked(3);
        let blank = RoundCircuit::blank(w.params).unwrap();
        let c = RoundCircuit::new(w).unwrap();
        let public = c.public_input;
        same_as_arkworks(blank, c, public);
    }

    #[test]
    fn a_false_witness_is_refused_with_its_constraint() {
        let e = record(&Square {
            x: Some(Fr::from(7u64)),
            y: Some(Fr::from(50u64)),
        })
        .err()
        .expect("refused");
        assert_eq!(e.to_string(), "the witness does not satisfy the circuit (first failing constraint: constraint 0 of 1)");
    }
}
