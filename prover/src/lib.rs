//! `merit-prover`: Groth16 over BN254 for Merit.
//!
//! The proof-system plumbing every circuit needs: setup (random, or a clearly named
//! deterministic mode for tests), prove (`record`, one synthesis, then `groth16`), verify,
//! and key files with a versioned header (`keys`). On it: the round circuit (`round`: the
//! rule's checks, the aggregate and the scores, from the R1CS `gadgets`, each tested
//! against its `merit-protocol` twin), chunked rounds (`chunked`: a proof per chunk and one
//! for the decision), sample rounds with attacks (`sample`) and `bench`.

pub mod bench;
pub mod chunked;
pub mod cs;
pub mod gadgets;
pub mod groth16;
pub mod keys;
pub mod round;
pub mod round_v5;
pub mod sample;

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, Matrix, SynthesisError, R1CS_PREDICATE_LABEL};
use ark_snark::SNARK;
use rand::SeedableRng;

pub use ark_bn254;
pub use ark_relations;

#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    #[error("circuit synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),
    #[error("the witness does not satisfy the circuit (first failing constraint: {0})")]
    Unsatisfied(String),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("round: {0}")]
    Round(String),
    #[error("chunked round: {0}")]
    Chunk(merit_protocol::chunked::ChunkError),
    #[error("{got} public inputs for a verifying key of {expected}")]
    PublicInputs { expected: usize, got: usize },
}

/// Where the toxic waste of a setup comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupMode {
    /// Fresh randomness from the OS; what projects use.
    Random,
    /// Reproducible keys from a seed. Anyone who knows the seed can forge proofs:
    /// for tests and benchmarks only, never for a real project.
    InsecureDeterministicForTests(u64),
}

pub type Keys = (ProvingKey<Bn254>, VerifyingKey<Bn254>);

/// Circuit-specific Groth16 setup.
pub fn setup<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
    mode: SetupMode,
) -> Result<Keys, ProverError> {
    let keys = match mode {
        SetupMode::Random => {
            Groth16::<Bn254>::circuit_specific_setup(circuit, &mut rand::rngs::OsRng)?
        }
        SetupMode::InsecureDeterministicForTests(seed) => {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            Groth16::<Bn254>::circuit_specific_setup(circuit, &mut rng)?
        }
    };
    Ok(keys)
}

/// A synthesised, checked circuit: its matrices and full assignment, ready for arkworks'
/// own prover (the `raw` benchmark's baseline and the differential test of `groth16`).
pub struct Prepared {
    /// `[A, B, C]`.
    pub matrices: Vec<Matrix<Fr>>,
    /// `[1, public inputs…, witnesses…]`.
    pub assignment: Vec<Fr>,
    pub num_instance: usize,
    pub num_constraints: usize,
}

/// Synthesises `circuit` once, inlines its linear combinations, checks the witness (a false
/// statement is refused by name: the first failing constraint) and extracts the matrices.
pub fn prepare<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Prepared, ProverError> {
    use ark_relations::gr1cs::{ConstraintSystem, OptimizationGoal, SynthesisMode};
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    let matrices = cs
        .to_matrices()?
        .remove(R1CS_PREDICATE_LABEL)
        .ok_or(SynthesisError::PredicateNotFound)?;
    let (assignment, num_instance, num_constraints) = {
        let mut inner = cs.borrow_mut().ok_or(SynthesisError::MissingCS)?;
        let mut assignment = std::mem::take(&mut inner.assignments.instance_assignment);
        let num_instance = assignment.len();
        assignment.append(&mut inner.assignments.witness_assignment);
        (assignment, num_instance, inner.num_constraints())
    };
    drop(cs);
    if let Some(k) = first_unsatisfied(&matrices, &assignment, num_constraints) {
        return Err(ProverError::Unsatisfied(format!(
            "constraint {k} of {num_constraints}"
        )));
    }
    Ok(Prepared {
        matrices,
        assignment,
        num_instance,
        num_constraints,
    })
}

/// The first constraint `⟨A_k, z⟩·⟨B_k, z⟩ ≠ ⟨C_k, z⟩`, evaluated on the matrices (much
/// cheaper than walking the constraint system's linear-combination map).
fn first_unsatisfied(m: &[Matrix<Fr>], z: &[Fr], n: usize) -> Option<usize> {
    let eval = |row: &[(Fr, usize)]| row.iter().map(|(c, i)| *c * z[*i]).sum::<Fr>();
    (0..n).find(|&k| eval(&m[0][k]) * eval(&m[1][k]) != eval(&m[2][k]))
}

/// Proves a prepared circuit (witness map, FFTs and MSMs).
pub fn prove_prepared<R: rand::RngCore + rand::CryptoRng>(
    pk: &ProvingKey<Bn254>,
    p: &Prepared,
    rng: &mut R,
) -> Result<Proof<Bn254>, ProverError> {
    use ark_std::UniformRand;
    let r = Fr::rand(rng);
    let s = Fr::rand(rng);
    Ok(Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
        pk,
        r,
        s,
        &p.matrices,
        p.num_instance,
        p.num_constraints,
        &p.assignment,
    )?)
}

/// A circuit written with Merit's gadgets: it synthesises into any [`cs::Cs`], plain (setup,
/// tests) or recording (proving).
pub trait Circuit {
    fn synthesize(&self, cs: &cs::Cs) -> Result<(), SynthesisError>;
}

/// Synthesises `circuit` once into a recording system: the assignment and each
/// constraint's evaluations, no matrices. A false statement is refused by name (the first
/// failing constraint).
pub fn record<C: Circuit>(circuit: &C) -> Result<groth16::Recorded, ProverError> {
    let cs = cs::Cs::recording();
    circuit.synthesize(&cs)?;
    let (evals, instance, witness) = cs.take_recording().ok_or(SynthesisError::MissingCS)?;
    if let Some(k) = evals.first_unsatisfied {
        return Err(ProverError::Unsatisfied(format!(
            "constraint {k} of {}",
            evals.a.len()
        )));
    }
    Ok(groth16::Recorded {
        evals,
        instance,
        witness,
    })
}

/// Proves `circuit` (with its witness) under `pk`; proofs are randomised (zero knowledge).
///
/// The circuit is synthesised once and the witness checked on the way: a false statement
/// is refused by name (the failing constraint) instead of yielding a proof that cannot
/// verify.
pub fn prove<C: Circuit>(pk: &ProvingKey<Bn254>, circuit: &C) -> Result<Proof<Bn254>, ProverError> {
    use ark_std::UniformRand;
    let rec = record(circuit)?;
    let mut rng = rand::rngs::OsRng;
    let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
    Ok(groth16::prove(pk, rec, r, s)?.0)
}

/// Synthesises `circuit` and reports the first unsatisfied constraint, if any.
pub fn check_witness<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<(), ProverError> {
    use ark_relations::gr1cs::ConstraintSystem;
    let cs = ConstraintSystem::<Fr>::new_ref();
    circuit.generate_constraints(cs.clone())?;
    match cs.which_is_unsatisfied()? {
        None => Ok(()),
        Some(name) => Err(ProverError::Unsatisfied(name)),
    }
}

/// Verifies `proof` for `public` inputs; `Ok(false)` for a well-formed but wrong proof.
pub fn verify(
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    public: &[Fr],
) -> Result<bool, ProverError> {
    // arkworks 0.6 reads missing inputs as zeros: refuse a wrong count here.
    if public.len() + 1 != vk.gamma_abc_g1.len() {
        return Err(ProverError::PublicInputs {
            expected: vk.gamma_abc_g1.len().saturating_sub(1),
            got: public.len(),
        });
    }
    Ok(Groth16::<Bn254>::verify(vk, public, proof)?)
}

#[cfg(test)]
pub(crate) mod test_circuit {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystemRef;
    use ark_relations::lc;

    /// "I know x with x·x = y" for public y: the smallest circuit that exercises the plumbing.
    #[derive(Clone)]
    pub struct Square {
        pub x: Option<Fr>,
        pub y: Option<Fr>,
    }

    impl Circuit for Square {
        fn synthesize(&self, cs: &crate::cs::Cs) -> Result<(), SynthesisError> {
            let x = cs.new_witness_variable(|| self.x.ok_or(SynthesisError::AssignmentMissing))?;
            let y = cs.new_input_variable(|| self.y.ok_or(SynthesisError::AssignmentMissing))?;
            cs.enforce_constraint(lc!() + x, lc!() + x, lc!() + y)
        }
    }

    impl ConstraintSynthesizer<Fr> for Square {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            self.synthesize(&crate::cs::Cs::wrap(cs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_circuit::Square;
    use super::*;

    #[test]
    fn honest_proof_verifies_and_wrong_input_does_not() {
        let (pk, vk) = setup(
            Square { x: None, y: None },
            SetupMode::InsecureDeterministicForTests(1),
        )
        .unwrap();
        let proof = prove(
            &pk,
            &Square {
                x: Some(Fr::from(7u64)),
                y: Some(Fr::from(49u64)),
            },
        )
        .unwrap();
        assert!(verify(&vk, &proof, &[Fr::from(49u64)]).unwrap());
        assert!(!verify(&vk, &proof, &[Fr::from(50u64)]).unwrap());
        // A missing or extra input is refused by name, not read as zero.
        for inputs in [&[][..], &[Fr::from(49u64), Fr::from(0u64)][..]] {
            let e = verify(&vk, &proof, inputs).unwrap_err();
            assert!(
                matches!(e, ProverError::PublicInputs { expected: 1, .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn a_false_statement_is_refused_before_proving() {
        let (pk, _) = setup(
            Square { x: None, y: None },
            SetupMode::InsecureDeterministicForTests(2),
        )
        .unwrap();
        // 7·7 ≠ 50.
        let e = prove(
            &pk,
            &Square {
                x: Some(Fr::from(7u64)),
                y: Some(Fr::from(50u64)),
            },
        )
        .unwrap_err();
        assert!(matches!(e, ProverError::Unsatisfied(_)), "{e}");
    }

    #[test]
    fn deterministic_setup_is_reproducible_and_random_is_not() {
        let c = Square { x: None, y: None };
        let a = setup(c.clone(), SetupMode::InsecureDeterministicForTests(9))
            .unwrap()
            .1;
        let b = setup(c.clone(), SetupMode::InsecureDeterministicForTests(9))
            .unwrap()
            .1;
        let r = setup(c, SetupMode::Random).unwrap().1;
        assert_eq!(a, b);
        assert_ne!(a, r);
    }
}
