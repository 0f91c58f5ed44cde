//! The ceremony's tests: honest runs prove and verify, each tampering is refused by name,
//! and a single party's toxic waste forges until one more honest contribution — in phase 2
//! for the δ it chose, in phase 1 for τ, α, β (which phase 2 cannot undo).

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, One, UniformRand};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_serialize::CanonicalSerialize;
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::Digest as _;

use crate::dlog::DlogProof;
use crate::phase1::{self, Phase1Secrets};
use crate::phase2;
use crate::synthetic::Squarings;
use crate::*;

/// log2 of the test domain: 16 points, room for 13 squarings.
const POWER: u32 = 4;
/// Constraints of the test circuit: 10 + 3 rows fit 16.
const CONSTRAINTS: usize = 10;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A phase 1 with `parties` honest contributions.
fn phase1_with(parties: usize, seed: u64) -> Phase1Transcript {
    let mut rng = rng(seed);
    let mut phase1 = Phase1Transcript::new(POWER).unwrap();
    for _ in 0..parties {
        phase1.contribute(&mut rng).unwrap();
    }
    phase1
}

/// Two phase-1 and two phase-2 honest contributions for the test circuit.
fn honest_transcript(seed: u64) -> Transcript {
    let mut rng = rng(seed + 1000);
    let mut transcript =
        Transcript::new(phase1_with(2, seed), Squarings::shape(CONSTRAINTS)).unwrap();
    transcript.contribute_phase2(&mut rng);
    transcript.contribute_phase2(&mut rng);
    transcript
}

fn verify(
    transcript: &Transcript,
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>), CeremonyError> {
    verify_transcript(transcript, Squarings::shape(CONSTRAINTS), &mut rng(99))
}

fn phase1_error(contribution: usize, check: Phase1Check) -> CeremonyError {
    CeremonyError::Phase1 {
        contribution,
        check,
    }
}

fn phase2_error(contribution: usize, check: Phase2Check) -> CeremonyError {
    CeremonyError::Phase2 {
        contribution,
        check,
    }
}

/// Proves the honest statement with `pk` and checks it verifies with `vk`.
fn proves_and_verifies(pk: &ProvingKey<Bn254>, vk: &VerifyingKey<Bn254>) -> bool {
    let x = Fr::from(3u64);
    let circuit = Squarings::honest(CONSTRAINTS, x);
    let inputs = circuit.public_inputs().unwrap();
    let proof = Groth16::<Bn254>::prove(pk, circuit, &mut rng(5)).unwrap();
    Groth16::<Bn254>::verify(vk, &inputs, &proof).unwrap()
}

#[test]
fn group_ifft_gives_the_lagrange_basis_at_tau() {
    let secrets = Phase1Secrets {
        tau: Fr::from(7u64),
        alpha: Fr::from(11u64),
        beta: Fr::from(13u64),
    };
    let identity = Phase1State::identity(POWER).unwrap();
    let parent = phase1::initial_hash(POWER);
    let (state, _) = phase1::contribute_with(&identity, &parent, secrets, &mut rng(1)).unwrap();
    for n in [4usize, 16] {
        let basis = lagrange_basis(&state, n).unwrap();
        let domain = GeneralEvaluationDomain::<Fr>::new(n).unwrap();
        let expected = domain.evaluate_all_lagrange_coefficients(secrets.tau);
        let g = G1Affine::generator();
        for (j, l) in expected.iter().enumerate() {
            assert_eq!(basis.g1[j], g * l, "L_{j}(tau) in G1, n = {n}");
            assert_eq!(basis.alpha_g1[j], g * (*l * secrets.alpha));
            assert_eq!(basis.beta_g1[j], g * (*l * secrets.beta));
            assert_eq!(basis.g2[j], G2Affine::generator() * l);
        }
    }
}

#[test]
fn a_published_lagrange_basis_is_checked_and_reused() {
    let phase1 = phase1_with(2, 25);
    let shape = synthesize(Squarings::shape(CONSTRAINTS)).unwrap();
    let n = shape.domain_size().unwrap();
    let basis = lagrange_basis(&phase1.state, n).unwrap();
    basis.verify(&phase1.state, &mut rng(26)).unwrap();
    assert_eq!(
        derive_start_with_basis(&phase1.state, &basis, &shape).unwrap(),
        derive_start_from_shape(&phase1.state, &shape).unwrap()
    );

    let mut wrong = basis.clone();
    wrong.alpha_g1.swap(0, 1);
    assert_eq!(
        wrong.verify(&phase1.state, &mut rng(27)),
        Err(CeremonyError::LagrangeBasis)
    );
    let mut wrong = basis.clone();
    wrong.g2[3] = G2Affine::generator();
    assert_eq!(
        wrong.verify(&phase1.state, &mut rng(28)),
        Err(CeremonyError::LagrangeBasis)
    );
    let other = phase1_with(1, 29);
    assert_eq!(
        basis.verify(&other.state, &mut rng(30)),
        Err(CeremonyError::LagrangeBasis)
    );
    let small = lagrange_basis(&phase1.state, n / 2).unwrap();
    assert_eq!(
        derive_start_with_basis(&phase1.state, &small, &shape).unwrap_err(),
        CeremonyError::LagrangeBasis
    );
}

#[test]
fn honest_two_party_ceremony_verifies_and_its_keys_prove() {
    let transcript = honest_transcript(1);
    let (pk, vk) = verify(&transcript).unwrap();
    assert_eq!(pk.vk, vk);
    assert!(proves_and_verifies(&pk, &vk));

    // A wrong public output is refused.
    let x = Fr::from(3u64);
    let circuit = Squarings::honest(CONSTRAINTS, x);
    let proof = Groth16::<Bn254>::prove(&pk, circuit, &mut rng(6)).unwrap();
    let wrong = [x, Squarings::output(CONSTRAINTS, x) + Fr::one()];
    assert!(!Groth16::<Bn254>::verify(&vk, &wrong, &proof).unwrap());

    // Only delta changed in the verifying key, relative to the derived start.
    let start = derive_start(&transcript.phase1.state, Squarings::shape(CONSTRAINTS)).unwrap();
    assert_eq!(start.vk.gamma_abc_g1, vk.gamma_abc_g1);
    assert_eq!(start.vk.alpha_g1, vk.alpha_g1);
    assert_eq!(start.vk.beta_g2, vk.beta_g2);
    assert_eq!(start.vk.gamma_g2, vk.gamma_g2);
    assert_ne!(start.vk.delta_g2, vk.delta_g2);
}

#[test]
fn transcript_round_trips_through_bytes() {
    let transcript = honest_transcript(2);
    let bytes = transcript.to_bytes();
    let decoded = Transcript::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, transcript);
    assert_eq!(decoded.hash(), transcript.hash());
    let phase1 = Phase1Transcript::from_bytes(&transcript.phase1.to_bytes()).unwrap();
    let phase2 = Phase2Transcript::from_bytes(&transcript.phase2.to_bytes()).unwrap();
    assert_eq!(Transcript { phase1, phase2 }, transcript);
    let (pk, vk) =
        verify_transcript_bytes(&bytes, Squarings::shape(CONSTRAINTS), &mut rng(3)).unwrap();
    assert!(proves_and_verifies(&pk, &vk));
    assert!(matches!(
        Transcript::from_bytes(&bytes[..bytes.len() - 1]),
        Err(CeremonyError::Decode(_))
    ));
}

#[test]
fn single_steps_verify_with_full_states() {
    let mut rng = rng(4);
    let identity = Phase1State::identity(POWER).unwrap();
    let h0 = phase1::initial_hash(POWER);
    let (one, c1) = phase1::contribute(&identity, &h0, &mut rng).unwrap();
    phase1::verify(&identity, &one, &c1, &h0, &mut rng).unwrap();
    let (two, c2) = phase1::contribute(&one, &c1.hash(), &mut rng).unwrap();
    phase1::verify(&one, &two, &c2, &c1.hash(), &mut rng).unwrap();
    // A step checked against the wrong predecessor fails its proofs of knowledge.
    assert_eq!(
        phase1::verify(&identity, &two, &c2, &c1.hash(), &mut rng),
        Err(Phase1Check::ProofOfKnowledge(Secret::Tau))
    );

    let start = derive_start(&two, Squarings::shape(CONSTRAINTS)).unwrap();
    let circuit = synthesize(Squarings::shape(CONSTRAINTS)).unwrap().digest();
    let p0 = phase2::initial_hash(&c2.hash(), &circuit);
    let (k1, d1) = phase2::contribute(&start, &p0, &mut rng);
    phase2::verify(&start, &k1, &d1, &p0, &mut rng).unwrap();
    let (k2, d2) = phase2::contribute(&k1, &d1.hash(), &mut rng);
    phase2::verify(&k1, &k2, &d2, &d1.hash(), &mut rng).unwrap();
    assert!(proves_and_verifies(&k2, &k2.vk));

    // A modified L element is caught by the step check too.
    let mut bad = k2.clone();
    bad.l_query[1] = (bad.l_query[1] + G1Affine::generator()).into_affine();
    assert_eq!(
        phase2::verify(&k1, &bad, &d2, &d1.hash(), &mut rng),
        Err(Phase2Check::QueriesNotScaled)
    );
}

#[test]
fn swapped_powers_are_refused() {
    let honest = honest_transcript(5);
    let mut t = honest.clone();
    t.phase1.state.tau_g1.swap(3, 4);
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(1, Phase1Check::TauPowersG1)
    );

    let mut t = honest.clone();
    t.phase1.state.tau_g2.swap(2, 5);
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(1, Phase1Check::TauPowersG2)
    );

    let mut t = honest.clone();
    t.phase1.state.alpha_tau_g1.swap(1, 2);
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(1, Phase1Check::AlphaPowers)
    );

    let mut t = honest.clone();
    t.phase1.state.beta_g2 = (t.phase1.state.beta_g2 * Fr::from(2u64)).into_affine();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(1, Phase1Check::BetaG1G2)
    );

    let mut t = honest;
    t.phase1.state.tau_g1.pop();
    assert_eq!(verify(&t).unwrap_err(), phase1_error(1, Phase1Check::Shape));
}

#[test]
fn proofs_of_knowledge_from_another_transcript_are_refused() {
    let ours = honest_transcript(6);
    let theirs = honest_transcript(7);

    // Only the proof grafted: it was bound to another parent hash and base.
    let mut t = ours.clone();
    t.phase1.contributions[1].alpha_proof = theirs.phase1.contributions[1].alpha_proof.clone();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(1, Phase1Check::ProofOfKnowledge(Secret::Alpha))
    );

    // A whole contribution grafted: it names the other transcript's hash.
    let mut t = ours.clone();
    t.phase1.contributions[1] = theirs.phase1.contributions[1].clone();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(1, Phase1Check::Parent)
    );

    // Phase 2: the proof alone, then the whole contribution.
    let mut t = ours.clone();
    t.phase2.contributions[0].proof = theirs.phase2.contributions[0].proof.clone();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(0, Phase2Check::ProofOfKnowledge)
    );
    let mut t = ours;
    t.phase2.contributions[0] = theirs.phase2.contributions[0].clone();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(0, Phase2Check::Parent)
    );
}

#[test]
fn a_delta_not_linked_to_the_previous_one_is_refused() {
    // The attacker replaces the last contribution by one whose δ it knows outright:
    // δ = d, the queries divided by d from the start, a proof of d over the generator.
    let honest = honest_transcript(8);
    let mut rng = rng(9);
    let start = derive_start(&honest.phase1.state, Squarings::shape(CONSTRAINTS)).unwrap();
    let parent = honest.phase2.contributions[0].hash();
    let d = Fr::rand(&mut rng);
    let (forged_key, mut forged) = phase2::contribute_with(&start, &parent, d, &mut rng);
    forged.proof = DlogProof::prove(
        &parent,
        b"delta",
        &G1Affine::generator(),
        &forged.delta_g1,
        d,
        &mut rng,
    );
    let mut t = honest.clone();
    t.phase2.contributions[1] = forged;
    t.phase2.key = forged_key;
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::ProofOfKnowledge)
    );

    // δ in G2 not matching δ in G1.
    let mut t = honest.clone();
    let twice = (t.phase2.key.vk.delta_g2 * Fr::from(2u64)).into_affine();
    t.phase2.contributions[1].delta_g2 = twice;
    t.phase2.key.vk.delta_g2 = twice;
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::DeltaG1G2)
    );

    // The key's δ not the last contribution's.
    let mut t = honest;
    t.phase2.key.delta_g1 = t.phase2.contributions[0].delta_g1;
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::HeadMismatch)
    );
}

#[test]
fn modified_key_elements_are_refused() {
    let honest = honest_transcript(10);
    let g = G1Affine::generator();

    let mut t = honest.clone();
    t.phase2.key.l_query[2] = (t.phase2.key.l_query[2] + g).into_affine();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::QueriesNotScaled)
    );

    let mut t = honest.clone();
    t.phase2.key.h_query[0] = (t.phase2.key.h_query[0] * Fr::from(3u64)).into_affine();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::QueriesNotScaled)
    );

    let mut t = honest.clone();
    t.phase2.key.vk.gamma_abc_g1[1] = (t.phase2.key.vk.gamma_abc_g1[1] + g).into_affine();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::IcQuery)
    );

    let mut t = honest.clone();
    t.phase2.key.a_query[3] = g;
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::AQuery)
    );

    let mut t = honest.clone();
    t.phase2.key.b_g1_query.swap(2, 3);
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::BG1Query)
    );

    let mut t = honest.clone();
    t.phase2.key.b_g2_query[4] = G2Affine::generator();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::BG2Query)
    );

    let mut t = honest.clone();
    t.phase2.key.vk.alpha_g1 = g;
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::FixedElements)
    );

    let mut t = honest;
    t.phase2.key.l_query.pop();
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(1, Phase2Check::KeyShape)
    );

    // The step check (full previous key at hand) names any other change `Unchanged`.
    let phase1 = phase1_with(1, 15);
    let prev = derive_start(&phase1.state, Squarings::shape(CONSTRAINTS)).unwrap();
    let mut bad = prev.clone();
    bad.a_query[3] = g;
    let parent = [0u8; 32];
    let (next, contribution) = phase2::contribute(&bad, &parent, &mut rng(16));
    assert_eq!(
        phase2::verify(&prev, &next, &contribution, &parent, &mut rng(17)),
        Err(Phase2Check::Unchanged)
    );
}

#[test]
fn derived_start_passes_the_check_against_phase_1() {
    // Two independent computations agree: deriving (group FFTs) and checking (field FFTs).
    let phase1 = phase1_with(2, 18);
    for constraints in [1, 5, CONSTRAINTS, 13] {
        let shape = synthesize(Squarings::shape(constraints)).unwrap();
        let start = derive_start_from_shape(&phase1.state, &shape).unwrap();
        check::verify_key(&phase1.state, &shape, &start, &mut rng(19)).unwrap();
        let (key, _) = phase2::contribute(&start, &[0u8; 32], &mut rng(20));
        check::verify_key(&phase1.state, &shape, &key, &mut rng(21)).unwrap();
        let mut wrong = key.clone();
        wrong.a_query[0] = G1Affine::generator();
        assert_eq!(
            check::verify_key(&phase1.state, &shape, &wrong, &mut rng(21)),
            Err(CeremonyError::Key(Phase2Check::AQuery))
        );
    }
}

#[test]
fn reordered_contributions_are_refused() {
    let honest = honest_transcript(11);
    let mut t = honest.clone();
    t.phase1.contributions.swap(0, 1);
    assert_eq!(
        verify(&t).unwrap_err(),
        phase1_error(0, Phase1Check::Parent)
    );

    let mut t = honest;
    t.phase2.contributions.swap(0, 1);
    assert_eq!(
        verify(&t).unwrap_err(),
        phase2_error(0, Phase2Check::Parent)
    );
}

#[test]
fn phases_without_contributions_and_wrong_circuits_are_refused() {
    let phase1 = Phase1Transcript::new(POWER).unwrap();
    assert_eq!(
        phase1.verify(&mut rng(12)).unwrap_err(),
        CeremonyError::NoContributions { phase: 1 }
    );
    let t = Transcript::new(phase1_with(1, 12), Squarings::shape(CONSTRAINTS)).unwrap();
    assert_eq!(
        verify(&t).unwrap_err(),
        CeremonyError::NoContributions { phase: 2 }
    );

    let honest = honest_transcript(13);
    assert_eq!(
        verify_transcript(&honest, Squarings::shape(CONSTRAINTS - 1), &mut rng(13)).unwrap_err(),
        CeremonyError::CircuitMismatch
    );
    assert_eq!(
        derive_start(&honest.phase1.state, Squarings::shape(14)).unwrap_err(),
        CeremonyError::DomainTooSmall {
            needed: 32,
            available: 16
        }
    );
    let mut short = honest.phase1.state.clone();
    short.tau_g2.pop();
    assert_eq!(
        derive_start(&short, Squarings::shape(CONSTRAINTS)).unwrap_err(),
        CeremonyError::MalformedPhase1
    );
    assert_eq!(
        Phase1State::identity(0).unwrap_err(),
        CeremonyError::UnsupportedPower(0)
    );
}

/// The Groth16 simulator: with α, β, δ (γ = 1) anyone can "prove" any public input.
///
/// `A = [a]`, `B = [b]`, `C = [(ab − αβ)/δ] − (1/δ)·Σxᵢ·ICᵢ` satisfies
/// `e(A, B) = e(α, β)·e(Σxᵢ·ICᵢ, G2)·e(C, δ)`.
fn forge(vk: &VerifyingKey<Bn254>, alpha: Fr, beta: Fr, delta: Fr, inputs: &[Fr]) -> Proof<Bn254> {
    let mut rng = rng(77);
    let (a, b) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
    let mut public: G1Projective = vk.gamma_abc_g1[0].into_group();
    for (x, ic) in inputs.iter().zip(&vk.gamma_abc_g1[1..]) {
        public += *ic * x;
    }
    let delta_inverse = delta.inverse().unwrap();
    let c = (G1Affine::generator() * (a * b - alpha * beta) - public) * delta_inverse;
    Proof {
        a: (G1Affine::generator() * a).into_affine(),
        b: (G2Affine::generator() * b).into_affine(),
        c: c.into_affine(),
    }
}

#[test]
fn single_party_toxic_waste_forges_until_one_more_honest_contribution() {
    let mut rng = rng(14);
    // One party runs the whole ceremony and keeps its secrets.
    let secrets = Phase1Secrets {
        tau: Fr::rand(&mut rng),
        alpha: Fr::rand(&mut rng),
        beta: Fr::rand(&mut rng),
    };
    let mut phase1 = Phase1Transcript::new(POWER).unwrap();
    let (state, contribution) =
        phase1::contribute_with(&phase1.state, &phase1.hash(), secrets, &mut rng).unwrap();
    phase1.push(state, contribution);
    let mut t = Transcript::new(phase1, Squarings::shape(CONSTRAINTS)).unwrap();
    let delta = Fr::rand(&mut rng);
    let parent = t.phase2.hash(&t.phase1.hash());
    let (key, contribution) = phase2::contribute_with(&t.phase2.key, &parent, delta, &mut rng);
    t.phase2.push(key, contribution);
    let (pk, vk) = verify(&t).unwrap();
    assert!(proves_and_verifies(&pk, &vk));

    // A false statement: y is not x^(2^n).
    let x = Fr::from(3u64);
    let false_inputs = [x, Fr::from(7u64)];
    assert_ne!(Squarings::output(CONSTRAINTS, x), false_inputs[1]);
    let forged = forge(&vk, secrets.alpha, secrets.beta, delta, &false_inputs);
    assert!(Groth16::<Bn254>::verify(&vk, &false_inputs, &forged).unwrap());

    // One honest phase-2 contribution later, the same forgery (and a fresh one from
    // the same secrets) no longer verifies; honest proofs still do.
    t.contribute_phase2(&mut rng);
    let (pk, vk) = verify(&t).unwrap();
    assert!(!Groth16::<Bn254>::verify(&vk, &false_inputs, &forged).unwrap());
    let again = forge(&vk, secrets.alpha, secrets.beta, delta, &false_inputs);
    assert!(!Groth16::<Bn254>::verify(&vk, &false_inputs, &again).unwrap());
    assert!(proves_and_verifies(&pk, &vk));
}

/// The forgery open to whoever knows phase 1's τ, α, β, whatever phase 2 did: the H
/// query's first element is `[Z(τ)/δ]` with `Z(τ) = τⁿ − 1` known, which gives `[1/δ]`;
/// then `A = α·G1 + β⁻¹·(Σxᵢ·ICᵢ + G1)`, `B = β·G2`, `C = [1/δ]` satisfy
/// `e(A, B) = e(α, β)·e(Σxᵢ·ICᵢ, G2)·e(C, δ)`.
fn forge_from_phase1(
    pk: &ProvingKey<Bn254>,
    secrets: Phase1Secrets,
    inputs: &[Fr],
) -> Proof<Bn254> {
    let n = pk.h_query.len() as u64 + 1;
    let z = secrets.tau.pow([n]) - Fr::one();
    let one_over_delta = pk.h_query[0] * z.inverse().unwrap();
    let mut public: G1Projective = pk.vk.gamma_abc_g1[0].into_group();
    for (x, ic) in inputs.iter().zip(&pk.vk.gamma_abc_g1[1..]) {
        public += *ic * x;
    }
    let a = G1Affine::generator() * secrets.alpha
        + (public + G1Affine::generator()) * secrets.beta.inverse().unwrap();
    Proof {
        a: a.into_affine(),
        b: (G2Affine::generator() * secrets.beta).into_affine(),
        c: one_over_delta.into_affine(),
    }
}

#[test]
fn phase_one_secrets_forge_after_any_phase_two_and_one_honest_phase_one_contribution_ends_it() {
    let mut rng = rng(15);
    let secrets = Phase1Secrets {
        tau: Fr::rand(&mut rng),
        alpha: Fr::rand(&mut rng),
        beta: Fr::rand(&mut rng),
    };
    let x = Fr::from(3u64);
    let false_inputs = [x, Fr::from(7u64)];
    assert_ne!(Squarings::output(CONSTRAINTS, x), false_inputs[1]);
    let ceremony = |honest_phase1: bool, rng: &mut ChaCha20Rng| {
        let mut phase1 = Phase1Transcript::new(POWER).unwrap();
        let (state, c) =
            phase1::contribute_with(&phase1.state, &phase1.hash(), secrets, rng).unwrap();
        phase1.push(state, c);
        if honest_phase1 {
            phase1.contribute(rng).unwrap();
        }
        let mut t = Transcript::new(phase1, Squarings::shape(CONSTRAINTS)).unwrap();
        // Phase 2 entirely honest: two contributions nobody keeps.
        t.contribute_phase2(rng);
        t.contribute_phase2(rng);
        verify(&t).unwrap()
    };
    // Whoever alone ran phase 1 forges, however many honest phase-2 contributions follow:
    // phase 2 re-randomises only δ.
    let (pk, vk) = ceremony(false, &mut rng);
    let forged = forge_from_phase1(&pk, secrets, &false_inputs);
    assert!(Groth16::<Bn254>::verify(&vk, &false_inputs, &forged).unwrap());
    // One honest phase-1 contribution after it, and the same secrets forge nothing.
    let (pk, vk) = ceremony(true, &mut rng);
    let forged = forge_from_phase1(&pk, secrets, &false_inputs);
    assert!(!Groth16::<Bn254>::verify(&vk, &false_inputs, &forged).unwrap());
    assert!(proves_and_verifies(&pk, &vk));
}

/// One public input, as the contract's keys have (the round hash `h`): "I know w with
/// w² = h".
#[derive(Clone)]
struct KnowsRoot(Option<Fr>);

impl ark_relations::gr1cs::ConstraintSynthesizer<Fr> for KnowsRoot {
    fn generate_constraints(
        self,
        cs: ark_relations::gr1cs::ConstraintSystemRef<Fr>,
    ) -> Result<(), ark_relations::gr1cs::SynthesisError> {
        use ark_relations::gr1cs::SynthesisError;
        let w = self.0;
        let h =
            cs.new_input_variable(|| w.map(|w| w * w).ok_or(SynthesisError::AssignmentMissing))?;
        let w = cs.new_witness_variable(|| w.ok_or(SynthesisError::AssignmentMissing))?;
        cs.enforce_r1cs_constraint(
            || ark_relations::lc!() + w,
            || ark_relations::lc!() + w,
            || ark_relations::lc!() + h,
        )
    }
}

/// The threat end to end on the contract's own verifier (`merit_protocol::verifier`, the
/// code the contract runs): whoever alone ran phase 1 makes the contract accept a round
/// statement with the scores it likes, after two honest phase-2 contributions; once one
/// honest party contributed to phase 1 too, the same forgery is refused.
#[test]
fn a_phase_one_party_forges_a_round_the_contracts_verifier_accepts_until_phase_one_is_shared() {
    use merit_protocol::commit::{Commitment, Committer, RoundInputs};
    use merit_protocol::verifier;
    let mut rng = rng(16);
    let secrets = Phase1Secrets {
        tau: Fr::rand(&mut rng),
        alpha: Fr::rand(&mut rng),
        beta: Fr::rand(&mut rng),
    };
    let c = Committer::new();
    let round = |scores: &[u32]| {
        c.round_public_input(&RoundInputs {
            project: 0,
            round: 0,
            prev_model: c.commit_model(&[1, 2, 3]),
            trainers: &[[11; 32], [12; 32], [13; 32]],
            updates: &[
                Commitment([5; 32]),
                Commitment([6; 32]),
                Commitment([7; 32]),
            ],
            scores,
            accepted: &[true, true, true],
            new_model: c.commit_model(&[4, 5, 6]),
        })
        .unwrap()
    };
    // What the honest trainers earned, and what the owner and the aggregator would rather
    // record: nothing for them, everything for an accomplice.
    let forged_input = round(&[0, 0, 1000]);
    assert_ne!(forged_input, round(&[400, 350, 250]));
    let attempt = |honest_phase1: bool, rng: &mut ChaCha20Rng| {
        let mut phase1 = Phase1Transcript::new(POWER).unwrap();
        let (state, contribution) =
            phase1::contribute_with(&phase1.state, &phase1.hash(), secrets, rng).unwrap();
        phase1.push(state, contribution);
        if honest_phase1 {
            phase1.contribute(rng).unwrap();
        }
        let mut t = Transcript::new(phase1, KnowsRoot(None)).unwrap();
        t.contribute_phase2(rng);
        t.contribute_phase2(rng);
        let (pk, vk) = verify_transcript(&t, KnowsRoot(None), rng).unwrap();
        let mut vk_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut vk_bytes).unwrap();
        let prepared = verifier::prepare(&vk_bytes).unwrap();
        // The key works for honest proofs.
        let w = Fr::from(9u64);
        let honest = Groth16::<Bn254>::prove(&pk, KnowsRoot(Some(w)), rng).unwrap();
        let mut bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&honest, &mut bytes).unwrap();
        assert_eq!(verifier::verify(&prepared, &bytes, &(w * w)), Ok(true));
        let forged = forge_from_phase1(&pk, secrets, &[forged_input]);
        let mut bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&forged, &mut bytes).unwrap();
        verifier::verify(&prepared, &bytes, &forged_input)
    };
    assert_eq!(
        attempt(false, &mut rng),
        Ok(true),
        "the single phase-1 party forges"
    );
    assert_eq!(
        attempt(true, &mut rng),
        Ok(false),
        "one honest phase-1 contribution ends it"
    );
}

/// Constraints with large and negative coefficients, to exercise every multiplication path:
/// `(k₁·x) · 1 = w` and `(w + k₂) · (−3·x) = y`.
#[derive(Clone)]
struct BigCoefficients {
    x: Option<Fr>,
    y: Option<Fr>,
}

const K1: u64 = 0x1234_5678_9abc_def1;

fn k2() -> Fr {
    -Fr::from(2u64).pow([200u64])
}

impl BigCoefficients {
    fn honest(x: Fr) -> Self {
        let w = x * Fr::from(K1);
        Self {
            x: Some(x),
            y: Some((w + k2()) * (-Fr::from(3u64) * x)),
        }
    }
}

impl ark_relations::gr1cs::ConstraintSynthesizer<Fr> for BigCoefficients {
    fn generate_constraints(
        self,
        cs: ark_relations::gr1cs::ConstraintSystemRef<Fr>,
    ) -> Result<(), ark_relations::gr1cs::SynthesisError> {
        use ark_relations::gr1cs::{SynthesisError, Variable};
        use ark_relations::lc;
        let missing = || SynthesisError::AssignmentMissing;
        let x = cs.new_input_variable(|| self.x.ok_or_else(missing))?;
        let y = cs.new_input_variable(|| self.y.ok_or_else(missing))?;
        let w = cs.new_witness_variable(|| self.x.map(|x| x * Fr::from(K1)).ok_or_else(missing))?;
        cs.enforce_r1cs_constraint(|| lc![(Fr::from(K1), x)], || lc![Variable::One], || lc![w])?;
        cs.enforce_r1cs_constraint(
            || lc![(Fr::one(), w), (k2(), Variable::One)],
            || lc![(-Fr::from(3u64), x)],
            || lc![y],
        )?;
        Ok(())
    }
}

#[test]
fn large_and_negative_coefficients_prove_and_verify() {
    let mut rng = rng(22);
    let setup = BigCoefficients { x: None, y: None };
    let mut t = Transcript::new(phase1_with(1, 22), setup.clone()).unwrap();
    t.contribute_phase2(&mut rng);
    let (pk, vk) = verify_transcript(&t, setup, &mut rng).unwrap();
    let x = Fr::from(5u64);
    let circuit = BigCoefficients::honest(x);
    let inputs = [x, circuit.y.unwrap()];
    let proof = Groth16::<Bn254>::prove(&pk, circuit, &mut rng).unwrap();
    assert!(Groth16::<Bn254>::verify(&vk, &inputs, &proof).unwrap());
    assert!(!Groth16::<Bn254>::verify(&vk, &[x, inputs[1] + Fr::one()], &proof).unwrap());
}

#[test]
fn dlog_proofs_bind_context_label_and_statement() {
    let mut rng = rng(23);
    let base = (G1Affine::generator() * Fr::rand(&mut rng)).into_affine();
    let x = Fr::rand(&mut rng);
    let result = (base * x).into_affine();
    let context = [7u8; 32];
    let proof = DlogProof::prove(&context, b"tau", &base, &result, x, &mut rng);
    assert!(proof.verify(&context, b"tau", &base, &result));
    assert!(!proof.verify(&[8u8; 32], b"tau", &base, &result));
    assert!(!proof.verify(&context, b"beta", &base, &result));
    assert!(!proof.verify(&context, b"tau", &result, &base));
    let wrong = DlogProof::prove(&context, b"tau", &base, &result, x + Fr::one(), &mut rng);
    assert!(!wrong.verify(&context, b"tau", &base, &result));
    assert!(!proof.verify(&context, b"tau", &G1Affine::zero(), &result));
}

#[test]
fn the_contract_sized_link_check_accepts_each_honest_contribution_only_in_place() {
    let t = honest_transcript(24);
    let mut parent = phase2::initial_hash(&t.phase1.hash(), &t.phase2.circuit_digest);
    let mut delta = G1Affine::generator();
    for contribution in &t.phase2.contributions {
        phase2::verify_link(&delta, contribution, &parent).unwrap();
        assert_eq!(
            phase2::verify_link(&delta, contribution, &[0u8; 32]),
            Err(Phase2Check::Parent)
        );
        // What the contract reads is the transcript's own encoding of the contribution,
        // and its head is the transcript's hash chain.
        let mut bytes = Vec::new();
        contribution.serialize_compressed(&mut bytes).unwrap();
        assert_eq!(bytes, contribution.link().encode());
        let link = merit_protocol::setup_link::Link::decode(&bytes).unwrap();
        let sha = |b: &[u8]| -> [u8; 32] { sha2::Sha256::digest(b).into() };
        link.check(&delta, &parent, sha).unwrap();
        assert_eq!(link.head(sha), contribution.hash());
        delta = contribution.delta_g1;
        parent = contribution.hash();
    }
    assert_eq!(parent, t.hash());
}

#[test]
fn an_opened_ceremony_is_the_derived_start_and_verifies_like_any_other() {
    let secrets = Phase1Secrets {
        tau: Fr::from(5u64).inverse().unwrap(),
        alpha: Fr::from(17u64),
        beta: -Fr::from(3u64),
    };
    let shape = synthesize(Squarings::shape(CONSTRAINTS)).unwrap();
    let opened = Transcript::opened_with(POWER, &shape, secrets, &mut rng(40)).unwrap();
    // Phase 1 exactly as a first contribution with the same secrets makes it (the
    // identity state's fixed-base path), and the start exactly the derived one.
    let identity = Phase1State::identity(POWER).unwrap();
    let (state, _) = phase1::contribute_with(
        &identity,
        &phase1::initial_hash(POWER),
        secrets,
        &mut rng(41),
    )
    .unwrap();
    assert_eq!(opened.phase1.state, state);
    let g = G1Affine::generator();
    for (i, p) in opened.phase1.state.tau_g1.iter().enumerate() {
        assert_eq!(
            *p,
            g * secrets.tau.pow([i as u64]),
            "[tau^{i}] from the fixed-base path"
        );
    }
    assert_eq!(
        opened.phase2.key,
        derive_start_from_shape(&opened.phase1.state, &shape).unwrap()
    );
    assert!(opened.phase2.contributions.is_empty());
    opened.phase1.verify(&mut rng(42)).unwrap();
    verify_key(
        &opened.phase1.state,
        &shape,
        &opened.phase2.key,
        &mut rng(43),
    )
    .unwrap();

    // Then it is a ceremony like any other: a phase-2 contribution, a full check, keys
    // that prove.
    let mut t = Transcript::opened(POWER, &shape, &mut rng(44)).unwrap();
    t.contribute_phase2(&mut rng(45));
    let (pk, vk) = verify_transcript(&t, Squarings::shape(CONSTRAINTS), &mut rng(46)).unwrap();
    assert!(proves_and_verifies(&pk, &vk));

    // A circuit too big for the phase 1 asked for is refused before any work.
    let big = synthesize(Squarings::shape(40)).unwrap();
    assert!(matches!(
        Transcript::opened(POWER, &big, &mut rng(47)),
        Err(CeremonyError::DomainTooSmall { .. })
    ));
}

/// A point on the twist, usually outside G2 (the twist's order is r times a cofactor).
fn twist_point(rng: &mut ChaCha20Rng) -> G2Affine {
    use ark_bn254::{Fq, Fq2};
    loop {
        let x = Fq2::new(Fq::rand(rng), Fq::rand(rng));
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, rand::Rng::gen(rng)) {
            return p;
        }
    }
}

/// `[r]Q = 0`: the definition the fast test must agree with.
fn in_g2_by_definition(q: &G2Affine) -> bool {
    use ark_ec::PrimeGroup;
    use ark_ff::{PrimeField, Zero};
    q.into_group().mul_bigint(Fr::MODULUS).is_zero()
}

#[test]
fn the_fast_g2_subgroup_test_agrees_with_the_definition() {
    use ark_ec::PrimeGroup;
    use ark_ff::{PrimeField, Zero};
    let rng = &mut rng(50);
    let g2 = ark_bn254::G2Projective::generator();
    for _ in 0..40 {
        let inside = (g2 * Fr::rand(rng)).into_affine();
        assert!(in_g2_by_definition(&inside));
        assert!(subgroup::in_g2(&inside));
        let random = twist_point(rng);
        assert_eq!(subgroup::in_g2(&random), in_g2_by_definition(&random));
        assert!(
            !subgroup::in_g2(&random),
            "a random twist point is almost never in G2"
        );
        assert!(subgroup::in_g2(&random.clear_cofactor()));
    }
    // Off G2 by a component of each small prime order dividing the cofactor
    // h = 10069 · 5864401 · 1875725156269 · q: T = [r·h/ℓ]R has order ℓ (or is 0).
    let h = num_bigint::BigUint::parse_bytes(
        b"21888242871839275222246405745257275088844257914179612981679871602714643921549",
        10,
    )
    .unwrap();
    let r: num_bigint::BigUint = Fr::MODULUS.into();
    for ell in [10069u64, 5864401, 1875725156269] {
        let cofactor_part = (&r * &h) / num_bigint::BigUint::from(ell);
        let t = twist_point(rng)
            .into_group()
            .mul_bigint(cofactor_part.to_u64_digits());
        if t.is_zero() {
            continue;
        }
        let bad = ((g2 * Fr::rand(rng)) + t).into_affine();
        assert!(!in_g2_by_definition(&bad), "order {ell}");
        assert!(
            !subgroup::in_g2(&bad),
            "a component of order {ell} is caught"
        );
    }
}

#[test]
fn a_transcript_with_a_g2_point_outside_g2_is_refused_on_decoding() {
    let t = honest_transcript(51);
    let bytes = t.to_bytes();
    assert_eq!(Transcript::from_bytes(&bytes).unwrap(), t);
    let outside = twist_point(&mut rng(52));
    assert!(!in_g2_by_definition(&outside));
    for which in ["tau_g2", "b_g2_query", "delta_g2"] {
        let mut bad = t.clone();
        match which {
            "tau_g2" => bad.phase1.state.tau_g2[1] = outside,
            "b_g2_query" => bad.phase2.key.b_g2_query[0] = outside,
            _ => bad.phase2.key.vk.delta_g2 = outside,
        }
        let err = Transcript::from_bytes(&bad.to_bytes()).unwrap_err();
        assert!(
            matches!(&err, CeremonyError::Decode(m) if m.contains("not in the prime-order subgroup")),
            "{which}: {err:?}"
        );
    }
    let mut bad = t.phase1.clone();
    bad.state.beta_g2 = outside;
    assert!(Phase1Transcript::from_bytes(&bad.to_bytes()).is_err());
    let mut bad = t.phase2.clone();
    bad.key.vk.gamma_g2 = outside;
    assert!(Phase2Transcript::from_bytes(&bad.to_bytes()).is_err());
}

#[test]
fn phase_one_is_found_in_a_transcript_and_a_party_reads_its_own_copy_back() {
    let t = honest_transcript(53);
    let bytes = t.to_bytes();
    let len = Transcript::phase1_len(&bytes).unwrap();
    assert_eq!(len, t.phase1.compressed_size());
    assert_eq!(&bytes[..len], &t.phase1.to_bytes()[..]);
    let again = Transcript::with_phase1(
        Phase1Transcript::from_own_copy(&t.phase1.to_own_copy()).unwrap(),
        &bytes[len..],
    )
    .unwrap();
    assert_eq!(again, t);
    // A copy damaged in a coordinate compression drops (β G2's y, the last bytes) is
    // refused: the point is no longer on its curve.
    let mut damaged = t.phase1.to_own_copy();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(Phase1Transcript::from_own_copy(&damaged).is_err());
    // Cut anywhere inside phase 1: no length; a phase-1 file alone is all phase 1.
    for cut in [0, 3, 11, len / 2, len - 1] {
        assert_eq!(Transcript::phase1_len(&bytes[..cut]), None, "cut at {cut}");
    }
    assert_eq!(Transcript::phase1_len(&t.phase1.to_bytes()), Some(len));
    // A phase 2 decoded on its own is checked like the whole transcript.
    let mut bad = t.clone();
    bad.phase2.key.b_g2_query[0] = twist_point(&mut rng(54));
    let bad = bad.to_bytes();
    assert!(Transcript::with_phase1(t.phase1.clone(), &bad[len..]).is_err());
}
