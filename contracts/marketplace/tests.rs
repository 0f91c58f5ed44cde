//! Off-chain unit tests (`#[ink::test]`): every message and refusal, the money rules, and
//! a property test over random message sequences. Proofs are real Groth16 proofs, made for
//! a one-constraint circuit whose public input is the round hash: the contract's part of
//! the statement (rebuilding that hash from its own state and checking the proof against
//! it) is what is under test here; the round circuit itself is the prover's.

use crate::marketplace::Marketplace;
use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, ProvingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_relations::lc;
use ark_serialize::CanonicalSerialize;
use ark_snark::SNARK;
use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
use ink::env::test;
use ink::env::DefaultEnvironment as Env;
use ink::primitives::AccountId;
use merit_protocol::abi::{
    Deadlines, MarketError, Phase, ProjectParams, ProjectView, MAX_ROUND_SCORE,
};
use merit_protocol::commit::{Commitment, Committer, RoundInputs};
use merit_protocol::reward;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

type Balance = u128;
type Result<T> = core::result::Result<T, MarketError>;

const CONTRACT: [u8; 32] = [0xc0; 32];
const OWNER: [u8; 32] = [1; 32];
const AGG: [u8; 32] = [2; 32];
const T: [[u8; 32]; 4] = [[11; 32], [12; 32], [13; 32], [14; 32]];
const STRANGER: [u8; 32] = [9; 32];
/// What the contract account holds before any project: the off-chain engine's existential deposit.
const ED: Balance = 1_000_000;
const START_BALANCE: Balance = 1 << 80;
const POOL: Balance = 1_000_000;
const STAKE: Balance = 5_000;
const FEE: Balance = 100_000;
const BOND: Balance = 7_000;

fn acc(a: [u8; 32]) -> AccountId {
    AccountId::from(a)
}

fn balance(a: [u8; 32]) -> Balance {
    test::get_account_balance::<Env>(acc(a)).unwrap_or_default()
}

/// "I know w with w = h" for public h: enough to bind a proof to one public input.
#[derive(Clone)]
struct Echo(Fr);

impl ConstraintSynthesizer<Fr> for Echo {
    fn generate_constraints(
        self,
        cs: ConstraintSystemRef<Fr>,
    ) -> core::result::Result<(), SynthesisError> {
        let w = cs.new_witness_variable(|| Ok(self.0))?;
        let h = cs.new_input_variable(|| Ok(self.0))?;
        cs.enforce_r1cs_constraint(
            || lc!() + w,
            || lc!() + ark_relations::gr1cs::Variable::One,
            || lc!() + h,
        )
    }
}

struct Keys {
    pk: ProvingKey<Bn254>,
    vk: Vec<u8>,
}

fn keys(seed: u64) -> Keys {
    let mut rng = StdRng::seed_from_u64(seed);
    let (pk, vk) =
        Groth16::<Bn254>::circuit_specific_setup(Echo(Fr::from(0u64)), &mut rng).unwrap();
    let mut bytes = Vec::new();
    vk.serialize_compressed(&mut bytes).unwrap();
    Keys { pk, vk: bytes }
}

fn prove(pk: &ProvingKey<Bn254>, input: Fr) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(42);
    let proof = Groth16::<Bn254>::prove(pk, Echo(input), &mut rng).unwrap();
    let mut bytes = Vec::new();
    proof.serialize_compressed(&mut bytes).unwrap();
    bytes
}

fn params(slots: u32, rounds: u32) -> ProjectParams {
    let c = Committer::new();
    ProjectParams {
        spec_cid: b"bafkreispec".to_vec(),
        model_cid: b"bafkreimodel0".to_vec(),
        model_commitment: c.commit_model(&[1, 2, 3]),
        proving_key_cid: b"bafkreiprovingkey".to_vec(),
        rounds,
        min_trainers: 2,
        slots,
        trainer_stake: STAKE,
        aggregator: AGG,
        aggregator_fee: FEE,
        aggregator_bond: BOND,
        max_rejected_rounds: 0,
        deadlines: Deadlines {
            join: 10,
            commit: 5,
            reveal: 5,
            aggregate: 5,
        },
    }
}

/// A contract in a fresh off-chain environment, with funded accounts.
fn fresh() -> Marketplace {
    test::set_callee::<Env>(acc(CONTRACT));
    test::set_account_balance::<Env>(acc(CONTRACT), ED);
    for a in [OWNER, AGG, STRANGER].iter().chain(T.iter()) {
        test::set_account_balance::<Env>(acc(*a), START_BALANCE);
    }
    Marketplace::new()
}

fn events() -> usize {
    test::recorded_events().count()
}

/// Calls a message as `who` transferring `value`, the way the chain would: the value moves
/// in first, and a refusal reverts the transfer. A refusal must also leave the project's
/// view, the event log and the claims as they were; this helper checks that every time.
fn call<R>(
    c: &mut Marketplace,
    who: [u8; 32],
    value: Balance,
    project: u32,
    f: impl FnOnce(&mut Marketplace) -> Result<R>,
) -> Result<R> {
    let round = c.project(project).map_or(0, |v| v.round);
    let before = (
        balance(who),
        balance(CONTRACT),
        c.project(project),
        events(),
        claimable_all(c, project),
        c.round_slots(project, round),
    );
    test::set_caller::<Env>(acc(who));
    if value > 0 {
        test::transfer_in::<Env>(value);
    } else {
        test::set_value_transferred::<Env>(0);
    }
    let out = f(c);
    test::set_value_transferred::<Env>(0);
    if out.is_err() {
        test::set_account_balance::<Env>(acc(who), before.0);
        test::set_account_balance::<Env>(acc(CONTRACT), before.1);
        assert_eq!(
            c.project(project),
            before.2,
            "a refused message changed the project"
        );
        assert_eq!(events(), before.3, "a refused message emitted an event");
        assert_eq!(
            claimable_all(c, project),
            before.4,
            "a refused message changed claims"
        );
        assert_eq!(
            c.round_slots(project, round),
            before.5,
            "a refused message changed the round's slots"
        );
    }
    out
}

fn claimable_all(c: &Marketplace, project: u32) -> Vec<Balance> {
    [OWNER, AGG, STRANGER]
        .iter()
        .chain(T.iter())
        .map(|a| c.claimable(project, acc(*a)).unwrap_or_default())
        .collect()
}

fn advance(blocks: u32) {
    for _ in 0..blocks {
        test::advance_block::<Env>();
    }
}

fn view(c: &Marketplace, id: u32) -> ProjectView {
    c.project(id).expect("project exists")
}

/// Creates, bonds, joins `n` trainers and starts; returns the id.
fn started(c: &mut Marketplace, k: &Keys, slots: u32, n: usize, rounds: u32) -> u32 {
    let id = call(c, OWNER, POOL, 0, |c| {
        c.create_project(params(slots, rounds), k.vk.clone())
    })
    .unwrap();
    call(c, AGG, BOND, id, |c| c.bond(id)).unwrap();
    for (i, t) in T.iter().take(n).enumerate() {
        assert_eq!(call(c, *t, STAKE, id, |c| c.join(id)), Ok(i as u32));
    }
    call(c, OWNER, 0, id, |c| c.start(id)).unwrap();
    id
}

fn update_commitment(who: [u8; 32], round: u32) -> Commitment {
    Committer::new().commit_update(&who, &[round as i16, who[0] as i16, 7])
}

fn commit_all(c: &mut Marketplace, id: u32, who: &[[u8; 32]]) {
    let round = view(c, id).round;
    for t in who {
        call(c, *t, 0, id, |c| {
            c.commit_update(id, round, update_commitment(*t, round))
        })
        .unwrap();
    }
}

fn reveal_all(c: &mut Marketplace, id: u32, who: &[[u8; 32]]) {
    let round = view(c, id).round;
    for t in who {
        call(c, *t, 0, id, |c| {
            c.reveal_update(id, round, b"bafkreiupdate".to_vec())
        })
        .unwrap();
    }
}

/// The round hash exactly as the contract should rebuild it for `round`, from its getters.
fn statement(
    c: &Marketplace,
    id: u32,
    round: u32,
    prev_model: Commitment,
    scores: &[u32],
    accepted: &[bool],
    new_model: Commitment,
) -> Fr {
    let n = view(c, id).params.slots as usize;
    let mut trainers = vec![[0u8; 32]; n];
    let mut updates = vec![Commitment::default(); n];
    for s in c.round_slots(id, round).unwrap() {
        trainers[s.slot as usize] = s.account;
        if s.present() {
            updates[s.slot as usize] = s.commitment.unwrap();
        }
    }
    Committer::new()
        .round_public_input(&RoundInputs {
            project: id,
            round,
            prev_model,
            trainers: &trainers,
            updates: &updates,
            scores,
            accepted,
            new_model,
        })
        .unwrap()
}

/// The statement of the current round.
fn round_input(
    c: &Marketplace,
    id: u32,
    scores: &[u32],
    accepted: &[bool],
    new_model: Commitment,
) -> Fr {
    let p = view(c, id);
    statement(
        c,
        id,
        p.round,
        p.model_commitment,
        scores,
        accepted,
        new_model,
    )
}

fn new_model(round: u32) -> Commitment {
    Committer::new().commit_model(&[round as i16 + 10, 4, 5])
}

/// Finalises the current round with an honest proof.
fn finalize(
    c: &mut Marketplace,
    k: &Keys,
    id: u32,
    scores: &[u32],
    accepted: &[bool],
) -> Result<()> {
    let round = view(c, id).round;
    let m = new_model(round);
    let proof = prove(&k.pk, round_input(c, id, scores, accepted, m));
    call(c, AGG, 0, id, |c| {
        c.finalize_round(
            id,
            round,
            b"bafkreinext".to_vec(),
            m,
            scores.to_vec(),
            accepted.to_vec(),
            proof,
        )
    })
}

fn claim_everything(c: &mut Marketplace, id: u32) -> Balance {
    let mut total = 0;
    // Trainers first: the last scored trainer's claim credits the owner the score split's
    // rounding remainder.
    for a in T.iter().chain([OWNER, AGG, STRANGER].iter()) {
        let owed = c.claimable(id, acc(*a)).unwrap();
        let before = balance(*a);
        match call(c, *a, 0, id, |c| c.claim(id)) {
            Ok(got) => {
                assert_eq!(got, owed);
                assert_eq!(balance(*a), before + got);
                total += got;
            }
            Err(e) => {
                assert_eq!(e, MarketError::NothingToClaim);
                assert_eq!(owed, 0);
            }
        }
    }
    total
}

// ---- create / bond / join / start / cancel ------------------------------------------------

#[ink::test]
fn create_escrows_the_pool_and_reads_back() {
    let k = keys(1);
    let mut c = fresh();
    assert_eq!(c.project_count(), 0);
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(4, 2), k.vk.clone())
    });
    assert_eq!(id, Ok(0));
    assert_eq!(balance(CONTRACT), ED + POOL);
    let v = view(&c, 0);
    assert_eq!(v.owner, OWNER);
    assert_eq!(v.pool, POOL);
    assert_eq!(v.phase, Phase::Open);
    assert_eq!(v.params, params(4, 2));
    assert_eq!(v.model_commitment, params(4, 2).model_commitment);
    assert_eq!(v.phase_deadline, v.created_at + 10);
    assert!(!v.aggregator_bonded);
    // The view exposes the key exactly as prepared, so anyone can check a proving key
    // against it and verify proofs with the contract's own code path.
    assert_eq!(
        v.verifying_key,
        merit_protocol::verifier::prepare(&k.vk).unwrap()
    );
    assert_eq!(v.params.proving_key_cid, b"bafkreiprovingkey".to_vec());
    assert_eq!(c.project_count(), 1);
    assert_eq!(events(), 1);
    assert_eq!(c.project(1), Err(MarketError::NoSuchProject));
}

#[ink::test]
fn create_refuses_bad_input_by_name() {
    let k = keys(1);
    let mut c = fresh();
    let create = |c: &mut Marketplace, value, p: ProjectParams, vk: Vec<u8>| {
        call(c, OWNER, value, 0, |c| c.create_project(p, vk))
    };
    assert_eq!(
        create(&mut c, 0, params(4, 2), k.vk.clone()),
        Err(MarketError::EmptyPool)
    );
    assert_eq!(
        create(&mut c, FEE - 1, params(4, 2), k.vk.clone()),
        Err(MarketError::FeeAbovePool)
    );
    let mut p = params(4, 2);
    p.rounds = 0;
    assert_eq!(
        create(&mut c, POOL, p, k.vk.clone()),
        Err(MarketError::BadRounds)
    );
    let mut p = params(4, 2);
    p.model_commitment = Commitment([0xff; 32]);
    assert_eq!(
        create(&mut c, POOL, p, k.vk.clone()),
        Err(MarketError::BadCommitment)
    );
    let mut p = params(4, 2);
    p.proving_key_cid.clear();
    assert_eq!(
        create(&mut c, POOL, p, k.vk.clone()),
        Err(MarketError::BadProvingKeyCid)
    );
    let mut p = params(4, 2);
    p.proving_key_cid = vec![b'a'; 129];
    assert_eq!(
        create(&mut c, POOL, p, k.vk.clone()),
        Err(MarketError::BadProvingKeyCid)
    );
    let mut p = params(4, 2);
    p.deadlines.commit = 0;
    assert_eq!(
        create(&mut c, POOL, p, k.vk.clone()),
        Err(MarketError::BadDeadlines)
    );
    assert_eq!(
        create(&mut c, POOL, params(4, 2), vec![]),
        Err(MarketError::BadVerifyingKey)
    );
    let mut vk = k.vk.clone();
    vk[..32].fill(0xff);
    assert_eq!(
        create(&mut c, POOL, params(4, 2), vk),
        Err(MarketError::BadVerifyingKey)
    );
    // A key for a circuit with two public inputs.
    #[derive(Clone)]
    struct Two;
    impl ConstraintSynthesizer<Fr> for Two {
        fn generate_constraints(
            self,
            cs: ConstraintSystemRef<Fr>,
        ) -> core::result::Result<(), SynthesisError> {
            let a = cs.new_input_variable(|| Ok(Fr::from(1u64)))?;
            let b = cs.new_input_variable(|| Ok(Fr::from(1u64)))?;
            cs.enforce_r1cs_constraint(
                || lc!() + a,
                || lc!() + ark_relations::gr1cs::Variable::One,
                || lc!() + b,
            )
        }
    }
    let (_, vk2) =
        Groth16::<Bn254>::circuit_specific_setup(Two, &mut StdRng::seed_from_u64(3)).unwrap();
    let mut vk2_bytes = Vec::new();
    vk2.serialize_compressed(&mut vk2_bytes).unwrap();
    assert_eq!(
        create(&mut c, POOL, params(4, 2), vk2_bytes),
        Err(MarketError::WrongInputCount)
    );
    assert_eq!(c.project_count(), 0);
    assert_eq!(balance(CONTRACT), ED);
}

#[ink::test]
fn bond_join_and_start_rules() {
    let k = keys(1);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    // Bond: only the aggregator, exactly the bond, once.
    assert_eq!(
        call(&mut c, STRANGER, BOND, id, |c| c.bond(id)),
        Err(MarketError::NotAggregator)
    );
    assert_eq!(
        call(&mut c, AGG, BOND + 1, id, |c| c.bond(id)),
        Err(MarketError::WrongValue)
    );
    assert_eq!(call(&mut c, AGG, BOND, id, |c| c.bond(id)), Ok(()));
    assert_eq!(
        call(&mut c, AGG, BOND, id, |c| c.bond(id)),
        Err(MarketError::AlreadyBonded)
    );
    assert_eq!(
        call(&mut c, AGG, 0, 9, |c| c.bond(9)),
        Err(MarketError::NoSuchProject)
    );
    // Join: exact stake, once, while slots last.
    assert_eq!(
        call(&mut c, T[0], STAKE - 1, id, |c| c.join(id)),
        Err(MarketError::WrongValue)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.join(id)),
        Err(MarketError::WrongValue)
    );
    assert_eq!(call(&mut c, T[0], STAKE, id, |c| c.join(id)), Ok(0));
    assert_eq!(
        call(&mut c, T[0], STAKE, id, |c| c.join(id)),
        Err(MarketError::AlreadyJoined)
    );
    // Start needs min_trainers (2).
    assert_eq!(
        call(&mut c, OWNER, 0, id, |c| c.start(id)),
        Err(MarketError::NotReady)
    );
    assert_eq!(call(&mut c, T[1], STAKE, id, |c| c.join(id)), Ok(1));
    assert_eq!(call(&mut c, T[2], STAKE, id, |c| c.join(id)), Ok(2));
    // More trainers than slots may join: each round draws its slots' trainers.
    assert_eq!(call(&mut c, T[3], STAKE, id, |c| c.join(id)), Ok(3));
    // Anyone but the owner waits for the join deadline: before it, the project is the
    // owner's to start, and the refusal says so.
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.start(id)),
        Err(MarketError::NotOwner)
    );
    advance(11);
    assert_eq!(
        call(&mut c, STRANGER, STAKE, id, |c| c.join(id)),
        Err(MarketError::DeadlinePassed)
    );
    assert_eq!(call(&mut c, STRANGER, 0, id, |c| c.start(id)), Ok(()));
    let v = view(&c, id);
    assert_eq!(
        (v.phase, v.trainers, v.drawn, v.round),
        (Phase::Commit, 4, 3, 0)
    );
    assert_eq!(
        call(&mut c, OWNER, 0, id, |c| c.start(id)),
        Err(MarketError::WrongPhase)
    );
    assert_eq!(
        call(&mut c, T[3], STAKE, id, |c| c.join(id)),
        Err(MarketError::WrongPhase)
    );
    assert_eq!(
        call(&mut c, OWNER, 0, id, |c| c.cancel(id)),
        Err(MarketError::WrongPhase)
    );
    assert_eq!(balance(CONTRACT), ED + POOL + BOND + 4 * STAKE);
    let ts = c.trainers(id, 0).unwrap();
    assert_eq!(
        ts.iter().map(|t| t.account).collect::<Vec<_>>(),
        T[..4].to_vec()
    );
}

#[ink::test]
fn the_owner_and_the_aggregator_may_not_join_their_own_project() {
    let k = keys(1);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    for who in [OWNER, AGG] {
        assert_eq!(
            call(&mut c, who, STAKE, id, |c| c.join(id)),
            Err(MarketError::ConflictOfInterest)
        );
    }
    assert_eq!(call(&mut c, T[0], STAKE, id, |c| c.join(id)), Ok(0));
    assert_eq!(view(&c, id).trainers, 1);
}

#[ink::test]
fn stakes_and_bonds_nobody_could_pay_are_refused_at_creation() {
    let k = keys(1);
    let mut c = fresh();
    let mut p = params(3, 1);
    p.trainer_stake = u128::MAX;
    assert_eq!(
        call(&mut c, OWNER, POOL, 0, |c| c
            .create_project(p, k.vk.clone())),
        Err(MarketError::DepositTooLarge)
    );
    let mut p = params(3, 1);
    p.aggregator_bond = merit_protocol::abi::MAX_DEPOSIT + 1;
    assert_eq!(
        call(&mut c, OWNER, POOL, 0, |c| c
            .create_project(p, k.vk.clone())),
        Err(MarketError::DepositTooLarge)
    );
    let mut p = params(3, 1);
    p.trainer_stake = merit_protocol::abi::MAX_DEPOSIT;
    assert_eq!(
        call(&mut c, OWNER, POOL, 0, |c| c
            .create_project(p, k.vk.clone())),
        Ok(0)
    );
}

#[ink::test]
fn start_needs_the_aggregators_bond() {
    let k = keys(1);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    call(&mut c, T[0], STAKE, id, |c| c.join(id)).unwrap();
    call(&mut c, T[1], STAKE, id, |c| c.join(id)).unwrap();
    assert_eq!(
        call(&mut c, OWNER, 0, id, |c| c.start(id)),
        Err(MarketError::NotReady)
    );
    // Not ready after the deadline: anyone may cancel, and every deposit comes back;
    // before it, only the owner.
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.cancel(id)),
        Err(MarketError::NotOwner)
    );
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.start(id)),
        Err(MarketError::NotOwner)
    );
    advance(11);
    assert_eq!(call(&mut c, STRANGER, 0, id, |c| c.cancel(id)), Ok(()));
    assert_eq!(view(&c, id).phase, Phase::Cancelled);
    assert_eq!(c.claimable(id, acc(OWNER)), Ok(POOL));
    assert_eq!(c.claimable(id, acc(T[0])), Ok(STAKE));
    assert_eq!(claim_everything(&mut c, id), POOL + 2 * STAKE);
    assert_eq!(balance(CONTRACT), ED);
}

#[ink::test]
fn owner_cancel_returns_every_deposit_and_a_ready_project_is_only_the_owners_to_cancel() {
    let k = keys(1);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    call(&mut c, AGG, BOND, id, |c| c.bond(id)).unwrap();
    call(&mut c, T[0], STAKE, id, |c| c.join(id)).unwrap();
    call(&mut c, T[1], STAKE, id, |c| c.join(id)).unwrap();
    advance(11);
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.cancel(id)),
        Err(MarketError::NotOwner)
    );
    // Nothing to claim before the end.
    assert_eq!(
        call(&mut c, OWNER, 0, id, |c| c.claim(id)),
        Err(MarketError::WrongPhase)
    );
    assert_eq!(call(&mut c, OWNER, 0, id, |c| c.cancel(id)), Ok(()));
    assert_eq!(c.claimable(id, acc(AGG)), Ok(BOND));
    assert_eq!(claim_everything(&mut c, id), POOL + BOND + 2 * STAKE);
    assert_eq!(
        call(&mut c, OWNER, 0, id, |c| c.claim(id)),
        Err(MarketError::NothingToClaim)
    );
    assert_eq!(balance(CONTRACT), ED);
}

// ---- commit / reveal --------------------------------------------------------------------

#[ink::test]
fn commit_and_reveal_rules() {
    let k = keys(1);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 2), k.vk.clone())
    })
    .unwrap();
    let cm = update_commitment(T[0], 0);
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(id, 0, cm)),
        Err(MarketError::WrongPhase)
    );
    call(&mut c, AGG, BOND, id, |c| c.bond(id)).unwrap();
    for t in &T[..3] {
        call(&mut c, *t, STAKE, id, |c| c.join(id)).unwrap();
    }
    call(&mut c, OWNER, 0, id, |c| c.start(id)).unwrap();

    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.commit_update(id, 0, cm)),
        Err(MarketError::NotTrainer)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(id, 1, cm)),
        Err(MarketError::WrongRound)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(
            id,
            0,
            Commitment::default()
        )),
        Err(MarketError::BadCommitment)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(
            id,
            0,
            Commitment([0xff; 32])
        )),
        Err(MarketError::BadCommitment)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(id, 0, cm)),
        Ok(())
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(id, 0, cm)),
        Err(MarketError::AlreadyCommitted)
    );
    // Reveal waits for the commit phase to end.
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.reveal_update(
            id,
            0,
            b"bafy".to_vec()
        )),
        Err(MarketError::WrongPhase)
    );
    let cm1 = update_commitment(T[1], 0);
    assert_eq!(
        call(&mut c, T[1], 0, id, |c| c.commit_update(id, 0, cm1)),
        Ok(())
    );
    assert_eq!(view(&c, id).committed, 2);
    // T[2] never commits: the commit deadline moves the round to Reveal by itself.
    advance(6);
    let v = view(&c, id);
    assert_eq!(v.phase, Phase::Reveal);
    let cm2 = update_commitment(T[2], 0);
    assert_eq!(
        call(&mut c, T[2], 0, id, |c| c.commit_update(id, 0, cm2)),
        Err(MarketError::WrongPhase)
    );
    assert_eq!(
        call(&mut c, T[2], 0, id, |c| c.reveal_update(
            id,
            0,
            b"bafy".to_vec()
        )),
        Err(MarketError::NotCommitted)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.reveal_update(id, 0, vec![])),
        Err(MarketError::BadCid)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.reveal_update(
            id,
            0,
            vec![b'a'; 129]
        )),
        Err(MarketError::BadCid)
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.reveal_update(
            id,
            0,
            b"bafy0".to_vec()
        )),
        Ok(())
    );
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.reveal_update(
            id,
            0,
            b"bafy0".to_vec()
        )),
        Err(MarketError::AlreadyRevealed)
    );
    // The last committer's reveal ends the phase early.
    assert_eq!(
        call(&mut c, T[1], 0, id, |c| c.reveal_update(
            id,
            0,
            b"bafy1".to_vec()
        )),
        Ok(())
    );
    assert_eq!(view(&c, id).phase, Phase::Aggregate);
    let slots = c.round_slots(id, 0).unwrap();
    assert_eq!(slots.len(), 3);
    assert_eq!(slots[0].commitment, Some(cm));
    assert_eq!(slots[1].cid.as_deref(), Some(&b"bafy1"[..]));
    assert_eq!((slots[2].commitment, slots[2].cid.clone()), (None, None));
    assert_eq!(c.round_slots(id, 1), Err(MarketError::WrongRound));
}

#[ink::test]
fn everyone_committing_opens_reveal_early() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 2, 1);
    commit_all(&mut c, id, &T[..2]);
    let v = view(&c, id);
    assert_eq!(v.phase, Phase::Reveal);
    assert_eq!(v.phase_deadline, ink::env::block_number::<Env>() + 5);
}

// ---- finalize ---------------------------------------------------------------------------

#[ink::test]
fn finalize_checks_caller_round_lengths_scores_and_the_proof() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 4, 3, 2);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..2]); // T[2] committed and did not reveal
    assert_eq!(view(&c, id).phase, Phase::Reveal);
    advance(6);
    assert_eq!(view(&c, id).phase, Phase::Aggregate);

    let scores = vec![900, 0, 0, 0];
    let accepted = vec![true, false, false, false];
    let m = new_model(0);
    let good = prove(&k.pk, round_input(&c, id, &scores, &accepted, m));
    let fin = |c: &mut Marketplace,
               who,
               round,
               s: Vec<u32>,
               a: Vec<bool>,
               model: Commitment,
               proof: Vec<u8>| {
        call(c, who, 0, id, |c| {
            c.finalize_round(id, round, b"bafkreinext".to_vec(), model, s, a, proof)
        })
    };
    assert_eq!(
        fin(
            &mut c,
            STRANGER,
            0,
            scores.clone(),
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::NotAggregator)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            1,
            scores.clone(),
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::WrongRound)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores[..3].to_vec(),
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::BadLengths)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            vec![true; 5],
            m,
            good.clone()
        ),
        Err(MarketError::BadLengths)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            vec![MAX_ROUND_SCORE + 1, 0, 0, 0],
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::BadScore)
    );
    // Slot 2 did not reveal and slot 3 is empty: neither can be accepted or scored.
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            vec![900, 0, 1, 0],
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::BadScore)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            vec![true, false, false, true],
            m,
            good.clone()
        ),
        Err(MarketError::BadScore)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            Commitment::default(),
            good.clone()
        ),
        Err(MarketError::BadCommitment)
    );
    // Proofs: malformed, forged, or honest for another statement.
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            m,
            good[..100].to_vec()
        ),
        Err(MarketError::MalformedProof)
    );
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            m,
            vec![0xff; 128]
        ),
        Err(MarketError::MalformedProof)
    );
    let mut forged = good.clone();
    forged[5] ^= 1;
    assert!(matches!(
        fin(&mut c, AGG, 0, scores.clone(), accepted.clone(), m, forged),
        Err(MarketError::BadProof | MarketError::MalformedProof)
    ));
    // Claiming a higher score than was proven.
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            vec![901, 0, 0, 0],
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::BadProof)
    );
    // Claiming another new model than was proven.
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            new_model(7),
            good.clone()
        ),
        Err(MarketError::BadProof)
    );
    // A proof under another project's key (same statement).
    let other = keys(2);
    let foreign = prove(&other.pk, round_input(&c, id, &scores, &accepted, m));
    assert_eq!(
        fin(&mut c, AGG, 0, scores.clone(), accepted.clone(), m, foreign),
        Err(MarketError::BadProof)
    );

    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            m,
            good.clone()
        ),
        Ok(())
    );
    let v = view(&c, id);
    assert_eq!(
        (v.round, v.phase, v.model_commitment),
        (1, Phase::Commit, m)
    );
    assert_eq!(v.model_cid, b"bafkreinext".to_vec());
    let rec = c.round_record(id, 0).unwrap().expect("recorded");
    assert_eq!(rec.scores, scores);
    assert_eq!(
        rec.public_input,
        merit_protocol::poseidon::to_bytes(&statement(
            &c,
            id,
            0,
            params(4, 2).model_commitment,
            &scores,
            &accepted,
            m
        ))
    );
    let ts = c.trainers(id, 0).unwrap();
    assert_eq!(ts[0].total_score, 900);
    assert_eq!(ts[1].rejected_rounds, 1);
    assert!(ts[2].missed_reveal);
    assert!(!ts[0].missed_reveal && ts[0].rejected_rounds == 0);
    assert_eq!(c.round_record(id, 1), Ok(None));

    // Replay: the same proof again, for the round it was made for and for the next one.
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::WrongPhase)
    );
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..3]);
    assert_eq!(
        fin(
            &mut c,
            AGG,
            0,
            scores.clone(),
            accepted.clone(),
            m,
            good.clone()
        ),
        Err(MarketError::WrongRound)
    );
    assert_eq!(
        fin(&mut c, AGG, 1, scores.clone(), accepted.clone(), m, good),
        Err(MarketError::BadProof)
    );
}

#[ink::test]
fn a_reveal_the_aggregator_cannot_open_is_set_aside_without_penalty() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 4, 3, 2);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..2]); // T[2] committed and did not reveal
    let aside = |c: &mut Marketplace, who, round, slot| {
        call(c, who, 0, id, |c| c.set_aside(id, round, slot))
    };
    assert_eq!(aside(&mut c, AGG, 0, 1), Err(MarketError::WrongPhase));
    advance(6);
    assert_eq!(view(&c, id).phase, Phase::Aggregate);
    // The proof the aggregator would make with slot 1 present.
    let scores = vec![900, 0, 0, 0];
    let accepted = vec![true, false, false, false];
    let m = new_model(0);
    let with_slot_1 = prove(&k.pk, round_input(&c, id, &scores, &accepted, m));

    assert_eq!(
        aside(&mut c, STRANGER, 0, 1),
        Err(MarketError::NotAggregator)
    );
    assert_eq!(aside(&mut c, T[1], 0, 1), Err(MarketError::NotAggregator));
    assert_eq!(aside(&mut c, AGG, 1, 1), Err(MarketError::WrongRound));
    for no_reveal in [2, 3, 99] {
        assert_eq!(
            aside(&mut c, AGG, 0, no_reveal),
            Err(MarketError::NotRevealed),
            "slot {no_reveal}"
        );
    }
    let before = events();
    aside(&mut c, AGG, 0, 1).unwrap();
    assert_eq!(events(), before + 1);
    let slots = c.round_slots(id, 0).unwrap();
    assert_eq!(
        slots.iter().map(|s| s.set_aside).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert!(slots[1].cid.is_some(), "the reveal itself stays on record");
    assert_eq!(aside(&mut c, AGG, 0, 1), Err(MarketError::AlreadySetAside));
    // Nobody answers the set-aside (see `a_false_set_aside_is_answered_on_chain…`).
    while ink::env::block_number::<Env>() <= slots[1].answer_until {
        advance(1);
    }

    // The set-aside slot is absent from the statement: a proof with it present no longer
    // verifies, and it can be neither scored nor accepted.
    let fin = |c: &mut Marketplace, s: Vec<u32>, a: Vec<bool>, proof: Vec<u8>| {
        call(c, AGG, 0, id, |c| {
            c.finalize_round(id, 0, b"bafkreinext".to_vec(), m, s, a, proof)
        })
    };
    assert_eq!(
        fin(&mut c, scores.clone(), accepted.clone(), with_slot_1),
        Err(MarketError::BadProof)
    );
    let proof = |c: &Marketplace, s: &[u32], a: &[bool]| prove(&k.pk, round_input(c, id, s, a, m));
    let scored = vec![900, 5, 0, 0];
    let p = proof(&c, &scored, &accepted);
    assert_eq!(
        fin(&mut c, scored, accepted.clone(), p),
        Err(MarketError::BadScore)
    );
    let taken = vec![true, true, false, false];
    let p = proof(&c, &scores, &taken);
    assert_eq!(
        fin(&mut c, scores.clone(), taken, p),
        Err(MarketError::BadScore)
    );
    let p = proof(&c, &scores, &accepted);
    fin(&mut c, scores.clone(), accepted.clone(), p).unwrap();

    // No penalty for the set-aside trainer (the claim is the aggregator's word); the one
    // that did not reveal still forfeits.
    let t = c.trainers(id, 0).unwrap();
    assert_eq!(t[0].total_score, 900);
    assert_eq!(
        (t[1].total_score, t[1].rejected_rounds, t[1].missed_reveal),
        (0, 0, false)
    );
    assert!(t[2].missed_reveal);

    // Round 1: past the aggregation deadline nothing can be set aside any more.
    commit_all(&mut c, id, &T[..3]);
    assert_eq!(aside(&mut c, AGG, 1, 0), Err(MarketError::WrongPhase));
    reveal_all(&mut c, id, &T[..3]);
    assert_eq!(view(&c, id).phase, Phase::Aggregate);
    advance(6);
    assert_eq!(aside(&mut c, AGG, 1, 0), Err(MarketError::DeadlinePassed));
}

#[ink::test]
fn a_full_project_pays_by_score_and_conserves_every_deposit() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 3, 2);
    let deposits = POOL + BOND + 3 * STAKE;
    for round in 0..2 {
        commit_all(&mut c, id, &T[..3]);
        reveal_all(&mut c, id, &T[..3]);
        assert_eq!(view(&c, id).round, round);
        // Slot 2 is an outlier both rounds; slot 0 contributes three times slot 1.
        finalize(&mut c, &k, id, &[750, 250, 0], &[true, true, false]).unwrap();
    }
    let v = view(&c, id);
    assert_eq!((v.phase, v.round), (Phase::Finished, 2));
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(
            id,
            2,
            update_commitment(T[0], 2)
        )),
        Err(MarketError::WrongPhase)
    );
    // max_rejected_rounds = 0: slot 2 forfeits its stake into the rewards.
    let rewards = POOL - FEE + STAKE;
    assert_eq!(c.claimable(id, acc(T[0])), Ok(rewards * 3 / 4 + STAKE));
    assert_eq!(c.claimable(id, acc(T[1])), Ok(rewards / 4 + STAKE));
    assert_eq!(c.claimable(id, acc(T[2])), Ok(0));
    assert_eq!(c.claimable(id, acc(AGG)), Ok(FEE + BOND));
    assert_eq!(claim_everything(&mut c, id), deposits);
    assert_eq!(balance(CONTRACT), ED);
    // A second claim finds nothing.
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.claim(id)),
        Err(MarketError::NothingToClaim)
    );
}

#[ink::test]
fn an_earlier_rounds_update_cannot_be_committed_again() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 3, 3);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..3]);
    finalize(&mut c, &k, id, &[500, 500, 0], &[true, true, false]).unwrap();
    let replay = update_commitment(T[0], 0);
    let before = events();
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(id, 1, replay)),
        Err(MarketError::ReplayedUpdate)
    );
    assert_eq!(events(), before, "a refused commit emits nothing");
    assert_eq!(view(&c, id).committed, 0, "and writes nothing");
    // A new update is fine; two rounds later the first one is still refused.
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(
            id,
            1,
            update_commitment(T[0], 1)
        )),
        Ok(())
    );
    commit_all(&mut c, id, &T[1..3]);
    reveal_all(&mut c, id, &T[..3]);
    finalize(&mut c, &k, id, &[500, 500, 0], &[true, true, false]).unwrap();
    assert_eq!(
        call(&mut c, T[0], 0, id, |c| c.commit_update(id, 2, replay)),
        Err(MarketError::ReplayedUpdate)
    );
}

#[ink::test]
fn a_missed_aggregation_deadline_lets_anyone_abort_and_proven_work_is_paid() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 3, 4);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..3]);
    finalize(&mut c, &k, id, &[500, 500, 0], &[true, true, true]).unwrap();
    // Round 1: T[2] commits and never reveals; the aggregator then goes silent.
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..2]);
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.abort(id)),
        Err(MarketError::WrongPhase)
    );
    advance(6); // reveal deadline
    assert_eq!(view(&c, id).phase, Phase::Aggregate);
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.abort(id)),
        Err(MarketError::TooEarly)
    );
    advance(5);
    assert_eq!(
        call(&mut c, AGG, 0, id, |c| {
            c.finalize_round(
                id,
                1,
                b"bafy".to_vec(),
                new_model(1),
                vec![0; 3],
                vec![false; 3],
                vec![0; 128],
            )
        }),
        Err(MarketError::DeadlinePassed)
    );
    assert_eq!(call(&mut c, STRANGER, 0, id, |c| c.abort(id)), Ok(()));
    assert_eq!(view(&c, id).phase, Phase::Aborted);
    assert!(c.trainers(id, 0).unwrap()[2].missed_reveal);
    // 1 of 4 rounds proven: a quarter of the rewards and of the fee; T[2]'s stake is
    // forfeited into the paid part; the bond goes to the owner.
    let proven = (POOL - FEE) / 4;
    let fee = FEE / 4;
    assert_eq!(c.claimable(id, acc(AGG)), Ok(fee));
    assert_eq!(c.claimable(id, acc(T[0])), Ok((proven + STAKE) / 2 + STAKE));
    assert_eq!(c.claimable(id, acc(T[2])), Ok(0));
    let owner = c.claimable(id, acc(OWNER)).unwrap();
    assert_eq!(owner, POOL - fee - proven + BOND + (proven + STAKE) % 2);
    assert_eq!(claim_everything(&mut c, id), POOL + BOND + 3 * STAKE);
    assert_eq!(balance(CONTRACT), ED);
    assert_eq!(
        call(&mut c, STRANGER, 0, id, |c| c.abort(id)),
        Err(MarketError::WrongPhase)
    );
}

#[ink::test]
fn a_round_nobody_committed_to_still_reaches_aggregation() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 2, 2, 1);
    advance(6);
    let v = view(&c, id);
    assert_eq!((v.phase, v.committed), (Phase::Aggregate, 0));
    finalize(&mut c, &k, id, &[0, 0], &[false, false]).unwrap();
    assert_eq!(view(&c, id).phase, Phase::Finished);
    // No scores at all: the rewards go back to the owner, stakes to the trainers.
    assert_eq!(c.claimable(id, acc(OWNER)), Ok(POOL - FEE));
    assert_eq!(claim_everything(&mut c, id), POOL + BOND + 2 * STAKE);
    assert_eq!(balance(CONTRACT), ED);
}

// ---- answering a set-aside ------------------------------------------------------------------

/// The update `update_commitment(who, round)` commits to.
fn update_values(who: [u8; 32], round: u32) -> Vec<i16> {
    vec![round as i16, who[0] as i16, 7]
}

fn answer(
    c: &mut Marketplace,
    who: [u8; 32],
    id: u32,
    (round, slot, piece): (u32, u32, u32),
    values: Vec<i16>,
) -> Result<u32> {
    // A v3 project does not store the update's length: the answer names it.
    let dim = view(c, id).chunked.map_or(values.len() as u32, |s| s.dim);
    call(c, who, 0, id, |c| {
        c.answer_set_aside(id, round, slot, dim, piece, values)
    })
}

#[ink::test]
fn a_false_set_aside_is_answered_on_chain_and_the_slot_is_back_in_the_round() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 3, 2);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..3]);
    assert_eq!(
        answer(&mut c, T[1], id, (0, 1, 0), update_values(T[1], 0)),
        Err(MarketError::NotSetAside)
    );
    let deadline = view(&c, id).phase_deadline;
    call(&mut c, AGG, 0, id, |c| c.set_aside(id, 0, 1)).unwrap();
    let now = ink::env::block_number::<Env>();
    let until = c.round_slots(id, 0).unwrap()[1].answer_until;
    assert_eq!(until, now + 5, "deadlines.reveal blocks to answer");
    // The aggregator keeps a whole aggregation window after the answer window.
    assert_eq!(view(&c, id).phase_deadline, deadline.max(until + 5));

    // The round cannot close while the set-aside can be answered.
    let scores = [500, 0, 500];
    let accepted = [true, false, true];
    assert_eq!(
        finalize(&mut c, &k, id, &scores, &accepted),
        Err(MarketError::AnswerWindowOpen)
    );

    // Data that does not open the commitment, or comes in the wrong piece, changes
    // nothing (`call` checks the view, the events, the claims and the slots).
    let wrong = [
        (update_values(T[0], 0), MarketError::AnswerDoesNotOpen),
        (vec![0, 12, 8], MarketError::AnswerDoesNotOpen),
        (update_values(T[1], 1), MarketError::AnswerDoesNotOpen),
        (Vec::new(), MarketError::BadLengths),
    ];
    for (values, error) in wrong {
        assert_eq!(
            answer(&mut c, T[1], id, (0, 1, 0), values.clone()),
            Err(error),
            "{values:?}"
        );
    }
    assert_eq!(
        answer(&mut c, T[1], id, (0, 1, 1), update_values(T[1], 0)),
        Err(MarketError::BadAnswerPiece { expected: 0 })
    );
    assert_eq!(
        answer(&mut c, T[0], id, (0, 0, 0), update_values(T[0], 0)),
        Err(MarketError::NotSetAside)
    );
    assert_eq!(
        answer(&mut c, T[1], id, (1, 1, 0), update_values(T[1], 0)),
        Err(MarketError::WrongRound)
    );

    assert_eq!(c.answer_piece(id, 0, 1, 0), Err(MarketError::NotSetAside));
    // Anyone may answer with the committed update: the slot is back in the statement and
    // the aggregator has a new aggregation window from now.
    let without_slot_1 = prove(&k.pk, round_input(&c, id, &scores, &accepted, new_model(0)));
    advance(2);
    let before = events();
    assert_eq!(
        answer(&mut c, STRANGER, id, (0, 1, 0), update_values(T[1], 0)),
        Ok(0)
    );
    assert_eq!(events(), before + 1);
    let slot = &c.round_slots(id, 0).unwrap()[1];
    assert!(slot.answered && !slot.set_aside && slot.present());
    // The posted update is on chain for the aggregator; the slot cannot be set aside again.
    assert_eq!(c.answer_piece(id, 0, 1, 0), Ok(update_values(T[1], 0)));
    assert_eq!(
        call(&mut c, AGG, 0, id, |c| c.set_aside(id, 0, 1)),
        Err(MarketError::AlreadySetAside)
    );
    let now = ink::env::block_number::<Env>();
    assert!(view(&c, id).phase_deadline >= now + 5);
    assert_eq!(
        answer(&mut c, T[1], id, (0, 1, 0), update_values(T[1], 0)),
        Err(MarketError::AlreadyAnswered)
    );
    // A proof without slot 1 no longer fits; with it, the round closes and pays it.
    assert_eq!(
        call(&mut c, AGG, 0, id, |c| c.finalize_round(
            id,
            0,
            b"bafkreinext".to_vec(),
            new_model(0),
            scores.to_vec(),
            accepted.to_vec(),
            without_slot_1
        )),
        Err(MarketError::BadProof)
    );
    finalize(&mut c, &k, id, &[400, 300, 300], &[true, true, true]).unwrap();
    assert_eq!(c.trainers(id, 0).unwrap()[1].total_score, 300);
}

#[ink::test]
fn an_unanswered_set_aside_lets_the_round_close_after_its_window() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 3, 1);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..3]);
    call(&mut c, AGG, 0, id, |c| c.set_aside(id, 0, 2)).unwrap();
    let until = c.round_slots(id, 0).unwrap()[2].answer_until;
    while ink::env::block_number::<Env>() <= until {
        advance(1);
    }
    assert_eq!(
        answer(&mut c, T[2], id, (0, 2, 0), update_values(T[2], 0)),
        Err(MarketError::AnswerWindowClosed)
    );
    finalize(&mut c, &k, id, &[500, 500, 0], &[true, true, false]).unwrap();
    assert_eq!(view(&c, id).phase, Phase::Finished);
    assert_eq!(claim_everything(&mut c, id), POOL + BOND + 3 * STAKE);
}

#[ink::test]
fn an_aggregator_that_will_not_prove_an_answered_slot_pays_it_the_bond() {
    let k = keys(1);
    let mut c = fresh();
    let id = started(&mut c, &k, 3, 3, 2);
    commit_all(&mut c, id, &T[..3]);
    reveal_all(&mut c, id, &T[..3]);
    call(&mut c, AGG, 0, id, |c| c.set_aside(id, 0, 1)).unwrap();
    answer(&mut c, T[1], id, (0, 1, 0), update_values(T[1], 0)).unwrap();
    // The aggregator goes silent rather than score slot 1; anyone aborts after the deadline.
    while ink::env::block_number::<Env>() <= view(&c, id).phase_deadline {
        advance(1);
    }
    call(&mut c, STRANGER, 0, id, |c| c.abort(id)).unwrap();
    // Nothing was proven: stakes come back, the pool goes back to the owner, and the bond
    // goes to the trainer it wronged instead of the owner.
    assert_eq!(c.claimable(id, acc(T[1])), Ok(STAKE + BOND));
    assert_eq!(c.claimable(id, acc(T[0])), Ok(STAKE));
    assert_eq!(c.claimable(id, acc(OWNER)), Ok(POOL));
    assert_eq!(c.claimable(id, acc(AGG)), Ok(0));
    assert_eq!(claim_everything(&mut c, id), POOL + BOND + 3 * STAKE);
    assert_eq!(balance(CONTRACT), ED);
}

#[ink::test]
fn the_owner_records_the_setup_once_before_anyone_joins() {
    use merit_protocol::abi::SetupRecord;
    // Ceremony keys use the standard generators (arkworks' own setup draws random ones).
    let k = keys_with_secrets([3, 5, 7, 11]);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    let record = SetupRecord {
        transcript_cid: b"bafkreitranscript".to_vec(),
        head: [7; 32],
        phase1_contributions: 2,
        phase2_contributions: 3,
        delta_g1: delta_g1_of(&k.pk),
    };
    let rec =
        |c: &mut Marketplace, who, r: SetupRecord| call(c, who, 0, id, |c| c.record_setup(id, r));
    assert_eq!(c.setup(id), Ok(None));
    assert_eq!(
        rec(&mut c, T[0], record.clone()),
        Err(MarketError::NotOwner)
    );
    let no_cid = SetupRecord {
        transcript_cid: Vec::new(),
        ..record.clone()
    };
    assert_eq!(rec(&mut c, OWNER, no_cid), Err(MarketError::BadCid));
    // A [δ]G1 that is not the stored key's δ would let a link prove over the wrong base.
    let other_delta = SetupRecord {
        delta_g1: delta_g1_of(&keys_with_secrets([3, 5, 7, 13]).pk),
        ..record.clone()
    };
    assert_eq!(
        rec(&mut c, OWNER, other_delta),
        Err(MarketError::BadSetupDelta)
    );
    let not_a_point = SetupRecord {
        delta_g1: [0xff; 32],
        ..record.clone()
    };
    assert_eq!(
        rec(&mut c, OWNER, not_a_point),
        Err(MarketError::BadSetupDelta)
    );
    let before = events();
    rec(&mut c, OWNER, record.clone()).unwrap();
    assert_eq!(events(), before + 1);
    assert_eq!(c.setup(id), Ok(Some(record.clone())));
    assert_eq!(
        rec(&mut c, OWNER, record.clone()),
        Err(MarketError::SetupNotRecordable)
    );
    // Once someone has joined, trainers may have staked on what was there: no record.
    let other = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    call(&mut c, T[0], STAKE, other, |c| c.join(other)).unwrap();
    assert_eq!(
        call(&mut c, OWNER, 0, other, |c| c.record_setup(other, record)),
        Err(MarketError::SetupNotRecordable)
    );
    assert_eq!(c.setup(99), Err(MarketError::NoSuchProject));
}

fn delta_g1_of(pk: &ProvingKey<Bn254>) -> [u8; 32] {
    merit_protocol::setup_link::encode_delta_g1(&pk.delta_g1)
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// What an honest phase-2 contributor does: multiplies δ by a fresh `d`, divides the L and
/// H queries by it, and publishes the link on top of `head`.
fn contribute(pk: &ProvingKey<Bn254>, head: &[u8; 32], seed: u64) -> (ProvingKey<Bn254>, Vec<u8>) {
    use ark_ec::CurveGroup;
    use ark_ff::{Field, UniformRand};
    let mut rng = StdRng::seed_from_u64(seed);
    let (d, nonce) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
    let link = merit_protocol::setup_link::Link::contribute(
        &pk.delta_g1,
        &pk.vk.delta_g2,
        head,
        d,
        nonce,
        sha,
    );
    let inverse = d.inverse().unwrap();
    let mut next = pk.clone();
    next.delta_g1 = link.delta_g1;
    next.vk.delta_g2 = link.delta_g2;
    next.l_query = pk
        .l_query
        .iter()
        .map(|p| (*p * inverse).into_affine())
        .collect();
    next.h_query = pk
        .h_query
        .iter()
        .map(|p| (*p * inverse).into_affine())
        .collect();
    (next, link.encode())
}

/// Keys whose secrets the test knows, as a single party's setup would.
fn keys_with_secrets(secrets: [u64; 4]) -> Keys {
    let [alpha, beta, gamma, delta] = secrets.map(Fr::from);
    let mut rng = StdRng::seed_from_u64(3);
    let pk = Groth16::<Bn254>::generate_parameters_with_qap(
        Echo(Fr::from(0u64)),
        alpha,
        beta,
        gamma,
        delta,
        <ark_bn254::G1Projective as ark_ec::PrimeGroup>::generator(),
        <ark_bn254::G2Projective as ark_ec::PrimeGroup>::generator(),
        &mut rng,
    )
    .unwrap();
    let mut vk = Vec::new();
    pk.vk.serialize_compressed(&mut vk).unwrap();
    Keys { pk, vk }
}

/// A proof of `input` made from the secrets alone, with no witness: `A = [a]`, `B = [b]`,
/// `C = [(ab − αβ)/δ] − (γ/δ)·Σ xᵢ·ICᵢ`, which satisfies
/// `e(A, B) = e(α, β)·e(Σxᵢ·ICᵢ, γ)·e(C, δ)` for any statement.
fn forge(k: &Keys, secrets: [u64; 4], input: Fr) -> Vec<u8> {
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::Field;
    let [alpha, beta, gamma, delta] = secrets.map(Fr::from);
    let (a, b) = (Fr::from(5u64), Fr::from(9u64));
    let g1 = ark_bn254::G1Affine::generator();
    let ic = k.pk.vk.gamma_abc_g1[0].into_group() + k.pk.vk.gamma_abc_g1[1] * input;
    let inv_delta = delta.inverse().unwrap();
    let c = g1 * ((a * b - alpha * beta) * inv_delta) - ic * (gamma * inv_delta);
    let proof = ark_groth16::Proof::<Bn254> {
        a: (g1 * a).into_affine(),
        b: (ark_bn254::G2Affine::generator() * b).into_affine(),
        c: c.into_affine(),
    };
    let mut bytes = Vec::new();
    proof.serialize_compressed(&mut bytes).unwrap();
    bytes
}

fn contribution(link: Vec<u8>, n: u8) -> merit_protocol::abi::SetupContribution {
    merit_protocol::abi::SetupContribution {
        link,
        transcript_cid: format!("bafkreitranscript{n}").into_bytes(),
        proving_key_cid: format!("bafkreiprovingkey{n}").into_bytes(),
    }
}

#[ink::test]
fn a_setup_contribution_moves_delta_and_only_a_checked_link_is_taken() {
    use merit_protocol::abi::SetupRecord;
    // Ceremony keys use the standard generators (arkworks' own setup draws random ones).
    let k = keys_with_secrets([3, 5, 7, 11]);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(3, 1), k.vk.clone())
    })
    .unwrap();
    let head = [7u8; 32];
    let (pk1, link1) = contribute(&k.pk, &head, 10);
    let con = |c: &mut Marketplace, who, x| call(c, who, 0, id, |c| c.contribute_setup(id, x));
    assert_eq!(
        con(&mut c, OWNER, contribution(link1.clone(), 1)),
        Err(MarketError::NoSetupRecorded)
    );
    let record = SetupRecord {
        transcript_cid: b"bafkreitranscript0".to_vec(),
        head,
        phase1_contributions: 1,
        phase2_contributions: 1,
        delta_g1: delta_g1_of(&k.pk),
    };
    call(&mut c, OWNER, 0, id, |c| c.record_setup(id, record.clone())).unwrap();
    call(&mut c, T[0], STAKE, id, |c| c.join(id)).unwrap();
    assert_eq!(
        con(&mut c, STRANGER, contribution(link1.clone(), 1)),
        Err(MarketError::NotSetupParty)
    );
    // Tampered links change nothing (`call` checks the view, events and claims stay).
    let mut flipped = link1.clone();
    flipped[150] ^= 1;
    assert!(matches!(
        con(&mut c, T[0], contribution(flipped, 1)),
        Err(MarketError::BadSetupLink)
    ));
    assert_eq!(
        con(&mut c, T[0], contribution(link1[..100].to_vec(), 1)),
        Err(MarketError::BadSetupLink)
    );
    let (_, on_other_head) = contribute(&k.pk, &[8u8; 32], 10);
    assert_eq!(
        con(&mut c, T[0], contribution(on_other_head, 1)),
        Err(MarketError::StaleSetupLink)
    );
    assert_eq!(
        con(&mut c, T[0], contribution(link1.clone(), 1)).map(|_| ()),
        Ok(())
    );
    assert!(matches!(
        test::recorded_events().last().map(|e| e.topics.len()),
        Some(n) if n >= 2
    ));
    let after = c.setup(id).unwrap().unwrap();
    let link = merit_protocol::setup_link::Link::decode(&link1).unwrap();
    assert_eq!(after.head, link.head(sha));
    assert_eq!(after.delta_g1, delta_g1_of(&pk1));
    assert_eq!(after.phase2_contributions, 2);
    assert_eq!(after.transcript_cid, b"bafkreitranscript1".to_vec());
    let mut moved_vk = Vec::new();
    pk1.vk.serialize_compressed(&mut moved_vk).unwrap();
    assert_eq!(
        view(&c, id).verifying_key,
        merit_protocol::verifier::prepare(&moved_vk).unwrap()
    );
    assert_eq!(
        view(&c, id).params.proving_key_cid,
        b"bafkreiprovingkey1".to_vec()
    );
    // The same link again is built on a head that is no longer the chain's.
    assert_eq!(
        con(&mut c, T[0], contribution(link1, 1)),
        Err(MarketError::StaleSetupLink)
    );
    // The owner and the aggregator may contribute too, each on the new head.
    let (pk2, link2) = contribute(&pk1, &after.head, 11);
    con(&mut c, AGG, contribution(link2, 2)).unwrap();
    let head2 = c.setup(id).unwrap().unwrap().head;
    let (_, link3) = contribute(&pk2, &head2, 12);
    con(&mut c, OWNER, contribution(link3, 3)).unwrap();
    assert_eq!(c.setup(id).unwrap().unwrap().phase2_contributions, 4);
}

#[ink::test]
fn a_shapes_registrant_records_its_two_transcripts_once() {
    use merit_protocol::abi::{SetupRecord, ShapeSetup};
    let (chunk, decision) = (
        keys_with_secrets([3, 5, 7, 11]),
        keys_with_secrets([2, 9, 4, 6]),
    );
    let mut c = fresh();
    let shape = call(&mut c, OWNER, 0, 0, |c| {
        c.register_shape(
            3,
            6,
            chunk.vk.clone(),
            decision.vk.clone(),
            b"bafkreishapekeys".to_vec(),
        )
    })
    .unwrap();
    let record = |k: &Keys, cid: &[u8]| SetupRecord {
        transcript_cid: cid.to_vec(),
        head: [4; 32],
        phase1_contributions: 2,
        phase2_contributions: 1,
        delta_g1: delta_g1_of(&k.pk),
    };
    let setup = ShapeSetup {
        chunk: record(&chunk, b"bafkreichunk"),
        decision: record(&decision, b"bafkreidecision"),
    };
    let rec = |c: &mut Marketplace, who, s: ShapeSetup| {
        call(c, who, 0, 0, |c| c.record_shape_setup(shape, s))
    };
    assert_eq!(c.shape_setup(shape), Ok(None));
    assert_eq!(c.shape_setup(7), Err(MarketError::NoSuchShape));
    assert_eq!(
        rec(&mut c, T[0], setup.clone()),
        Err(MarketError::NotShapeRegistrant)
    );
    // Each [δ]G1 must be its own key's: swapped, both are refused.
    let swapped = ShapeSetup {
        chunk: setup.decision.clone(),
        decision: setup.chunk.clone(),
    };
    assert_eq!(rec(&mut c, OWNER, swapped), Err(MarketError::BadSetupDelta));
    let no_cid = ShapeSetup {
        decision: SetupRecord {
            transcript_cid: Vec::new(),
            ..setup.decision.clone()
        },
        ..setup.clone()
    };
    assert_eq!(rec(&mut c, OWNER, no_cid), Err(MarketError::BadCid));
    let before = events();
    rec(&mut c, OWNER, setup.clone()).unwrap();
    assert_eq!(events(), before + 1);
    assert_eq!(c.shape_setup(shape), Ok(Some(setup.clone())));
    assert_eq!(
        rec(&mut c, OWNER, setup),
        Err(MarketError::SetupNotRecordable)
    );
    assert_eq!(
        call(&mut c, OWNER, 0, 0, |c| c.record_shape_setup(
            9,
            c.shape_setup(shape).unwrap().unwrap()
        )),
        Err(MarketError::NoSuchShape)
    );
}

#[ink::test]
fn a_single_party_key_forges_a_round_until_someone_contributes() {
    use merit_protocol::abi::SetupRecord;
    let secrets = [3, 5, 7, 11];
    let k = keys_with_secrets(secrets);
    let mut c = fresh();
    let mut rounds = Vec::new();
    for contributes in [false, true] {
        let id = call(&mut c, OWNER, POOL, 0, |c| {
            c.create_project(params(2, 1), k.vk.clone())
        })
        .unwrap();
        let record = SetupRecord {
            transcript_cid: b"bafkreitranscript0".to_vec(),
            head: [1; 32],
            phase1_contributions: 1,
            phase2_contributions: 1,
            delta_g1: delta_g1_of(&k.pk),
        };
        call(&mut c, OWNER, 0, id, |c| c.record_setup(id, record)).unwrap();
        call(&mut c, AGG, BOND, id, |c| c.bond(id)).unwrap();
        for t in &T[..2] {
            call(&mut c, *t, STAKE, id, |c| c.join(id)).unwrap();
        }
        let mut honest_pk = k.pk.clone();
        if contributes {
            let (pk, link) = contribute(&k.pk, &[1; 32], 20);
            call(&mut c, T[1], 0, id, |c| {
                c.contribute_setup(id, contribution(link, 1))
            })
            .unwrap();
            honest_pk = pk;
        }
        call(&mut c, OWNER, 0, id, |c| c.start(id)).unwrap();
        commit_all(&mut c, id, &T[..2]);
        reveal_all(&mut c, id, &T[..2]);
        // Whoever knows the secrets scores trainer 0 everything and trainer 1 nothing.
        let (scores, accepted) = ([MAX_ROUND_SCORE, 0], [true, false]);
        let m = new_model(0);
        let input = round_input(&c, id, &scores, &accepted, m);
        let finalize = |c: &mut Marketplace, proof: Vec<u8>| {
            call(c, AGG, 0, id, |c| {
                c.finalize_round(
                    id,
                    0,
                    b"bafkreinext".to_vec(),
                    m,
                    scores.to_vec(),
                    accepted.to_vec(),
                    proof,
                )
            })
        };
        let forged = finalize(&mut c, forge(&k, secrets, input));
        rounds.push(forged.clone());
        if contributes {
            assert_eq!(forged, Err(MarketError::BadProof));
            // The key still works for whoever holds the contributed proving key.
            finalize(&mut c, prove(&honest_pk, input)).unwrap();
        }
    }
    assert_eq!(rounds[0], Ok(()));
}

#[ink::test]
fn one_account_in_several_roles_claims_the_sum_once() {
    let k = keys(1);
    let mut c = fresh();
    let mut p = params(2, 1);
    p.aggregator = OWNER;
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(p, k.vk.clone())
    })
    .unwrap();
    call(&mut c, OWNER, BOND, id, |c| c.bond(id)).unwrap();
    call(&mut c, OWNER, 0, id, |c| c.cancel(id)).unwrap();
    assert_eq!(c.claimable(id, acc(OWNER)), Ok(POOL + BOND));
    assert_eq!(call(&mut c, OWNER, 0, id, |c| c.claim(id)), Ok(POOL + BOND));
    assert_eq!(balance(CONTRACT), ED);
}

// ---- property test ------------------------------------------------------------------------

/// One step of a random session.
#[derive(Debug, Clone)]
enum Step {
    Bond {
        who: usize,
        exact: bool,
    },
    Join {
        who: usize,
        exact: bool,
    },
    Start {
        who: usize,
    },
    Cancel {
        who: usize,
    },
    Commit {
        who: usize,
        wrong_round: bool,
    },
    Reveal {
        who: usize,
    },
    Finalize {
        who: usize,
        honest: bool,
        seed: u64,
    },
    /// `revealed`: pick among the round's revealed slots (by `slot`, modulo), else any slot.
    SetAside {
        who: usize,
        revealed: bool,
        slot: u32,
    },
    Abort {
        who: usize,
    },
    /// Answers slot `slot`'s set-aside in this round or the previous one, with the
    /// committed update (`honest`) or another.
    Answer {
        who: usize,
        slot: u32,
        previous: bool,
        honest: bool,
    },
    Claim {
        who: usize,
    },
    Wait {
        blocks: u32,
    },
}

/// What the random sessions got through (the generator must reach each of these).
static SET_ASIDE: AtomicU32 = AtomicU32::new(0);
static REVEALED: AtomicU32 = AtomicU32::new(0);
static FINALIZED: AtomicU32 = AtomicU32::new(0);
static ANSWERED: AtomicU32 = AtomicU32::new(0);

const ACTORS: [[u8; 32]; 7] = [OWNER, AGG, STRANGER, T[0], T[1], T[2], T[3]];

/// A trainer (ACTORS[3..]) four times in five, anyone otherwise.
fn trainer_mostly() -> impl proptest::strategy::Strategy<Value = usize> {
    use proptest::prelude::*;
    (prop::bool::weighted(0.8), 3..ACTORS.len(), 0..ACTORS.len())
        .prop_map(|(trainer, t, anyone)| if trainer { t } else { anyone })
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let who = 0..ACTORS.len();
    prop_oneof![
        // Biased towards the callers that move a project on, so sessions reach rounds.
        1 => (prop::bool::weighted(0.8), who.clone(), prop::bool::weighted(0.8))
            .prop_map(|(agg, other, exact)| Step::Bond { who: if agg { 1 } else { other }, exact }),
        3 => (who.clone(), prop::bool::weighted(0.9)).prop_map(|(who, exact)| Step::Join { who, exact }),
        1 => (prop::bool::weighted(0.6), who.clone())
            .prop_map(|(owner, other)| Step::Start { who: if owner { 0 } else { other } }),
        1 => who.clone().prop_map(|who| Step::Cancel { who }),
        4 => (trainer_mostly(), prop::bool::weighted(0.1)).prop_map(|(who, wrong_round)| Step::Commit { who, wrong_round }),
        4 => trainer_mostly().prop_map(|who| Step::Reveal { who }),
        3 => (prop::bool::weighted(0.8), prop::bool::weighted(0.8), any::<u64>())
            .prop_map(|(agg, honest, seed)| Step::Finalize { who: if agg { 1 } else { 2 }, honest, seed }),
        2 => (prop::bool::weighted(0.8), prop::bool::weighted(0.8), 0u32..5)
            .prop_map(|(agg, revealed, slot)| Step::SetAside { who: if agg { 1 } else { 2 }, revealed, slot }),
        1 => who.clone().prop_map(|who| Step::Abort { who }),
        2 => (who.clone(), 0u32..4, any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(who, slot, previous, honest)| Step::Answer { who, slot, previous, honest }),
        2 => who.clone().prop_map(|who| Step::Claim { who }),
        2 => (1u32..6).prop_map(|blocks| Step::Wait { blocks }),
    ]
}

/// Applies a step; returns how much value entered (+) or left (−) the contract.
fn apply(c: &mut Marketplace, k: &Keys, id: u32, s: &Step) -> i128 {
    let v = view(c, id);
    let me = |w: usize| ACTORS[w];
    match *s {
        Step::Bond { who, exact } => {
            let value = if exact { BOND } else { BOND + 1 };
            call(c, me(who), value, id, |c| c.bond(id)).map_or(0, |_| value as i128)
        }
        Step::Join { who, exact } => {
            let value = if exact { STAKE } else { STAKE - 1 };
            call(c, me(who), value, id, |c| c.join(id)).map_or(0, |_| value as i128)
        }
        Step::Start { who } => call(c, me(who), 0, id, |c| c.start(id)).map_or(0, |_| 0),
        Step::Cancel { who } => call(c, me(who), 0, id, |c| c.cancel(id)).map_or(0, |_| 0),
        Step::Commit { who, wrong_round } => {
            let round = v.round + u32::from(wrong_round);
            let cm = update_commitment(me(who), round);
            call(c, me(who), 0, id, |c| c.commit_update(id, round, cm)).map_or(0, |_| 0)
        }
        Step::Reveal { who } => {
            let r = call(c, me(who), 0, id, |c| {
                c.reveal_update(id, v.round, b"bafkreiupdate".to_vec())
            });
            if r.is_ok() {
                REVEALED.fetch_add(1, Relaxed);
            }
            0
        }
        Step::Finalize { who, honest, seed } => {
            let mut rng = StdRng::seed_from_u64(seed);
            let n = v.params.slots as usize;
            // The aggregator's flow: set aside some reveals it "could not open", then prove.
            if v.phase == Phase::Aggregate && who == 1 {
                for s in c.round_slots(id, v.round).unwrap() {
                    if s.present() && rng.gen_bool(0.3) {
                        let r = call(c, AGG, 0, id, |c| c.set_aside(id, v.round, s.slot));
                        // Refused only once the aggregation deadline has passed, or
                        // for a slot whose set-aside was answered.
                        match r {
                            Ok(()) => {
                                SET_ASIDE.fetch_add(1, Relaxed);
                            }
                            Err(MarketError::AlreadySetAside) => assert!(s.answered),
                            Err(e) => assert_eq!(e, MarketError::DeadlinePassed),
                        }
                    }
                }
            }
            let slots = c
                .round_slots(id, v.round.min(v.params.rounds - 1))
                .unwrap_or_default();
            let mut scores = vec![0u32; n];
            let mut accepted = vec![false; n];
            for s in slots.iter().filter(|s| s.present()) {
                accepted[s.slot as usize] = rng.gen_bool(0.7);
                if accepted[s.slot as usize] {
                    scores[s.slot as usize] = rng.gen_range(0..=MAX_ROUND_SCORE);
                }
            }
            let m = new_model(v.round);
            let proof = if v.phase == Phase::Aggregate {
                let mut p = prove(&k.pk, round_input(c, id, &scores, &accepted, m));
                if !honest {
                    scores[0] = scores[0].saturating_add(1).min(MAX_ROUND_SCORE);
                    let byte = rng.gen_range(0..p.len());
                    p[byte] ^= 1 << rng.gen_range(0..8);
                }
                p
            } else {
                vec![0; 128]
            };
            let r = call(c, me(who), 0, id, |c| {
                c.finalize_round(
                    id,
                    v.round,
                    b"bafkreinext".to_vec(),
                    m,
                    scores,
                    accepted,
                    proof,
                )
            });
            if r.is_ok() {
                FINALIZED.fetch_add(1, Relaxed);
                assert!(
                    honest && who == 1,
                    "a dishonest or foreign finalisation was accepted"
                );
            }
            0
        }
        Step::SetAside {
            who,
            revealed,
            slot,
        } => {
            let shown: Vec<u32> = c
                .round_slots(id, v.round)
                .unwrap_or_default()
                .iter()
                .filter(|s| s.cid.is_some())
                .map(|s| s.slot)
                .collect();
            let slot = match shown.len() {
                n if revealed && n > 0 => shown[slot as usize % n],
                _ => slot,
            };
            let r = call(c, me(who), 0, id, |c| c.set_aside(id, v.round, slot));
            if r.is_ok() {
                SET_ASIDE.fetch_add(1, Relaxed);
                assert_eq!(who, 1, "only the aggregator sets a reveal aside");
                assert!(c.round_slots(id, v.round).unwrap()[slot as usize].set_aside);
            }
            0
        }
        Step::Abort { who } => call(c, me(who), 0, id, |c| c.abort(id)).map_or(0, |_| 0),
        Step::Answer {
            who,
            slot,
            previous,
            honest,
        } => {
            let round = if previous {
                v.round.saturating_sub(1)
            } else {
                v.round
            };
            let target = c.round_slots(id, round).ok().and_then(|s| {
                s.iter()
                    .find(|s| s.slot == slot)
                    .map(|s| (s.account, s.set_aside))
            });
            let values = match target {
                Some((account, _)) if honest => update_values(account, round),
                _ => vec![1, 2, 3],
            };
            let dim = values.len() as u32;
            let r = call(c, me(who), 0, id, |c| {
                c.answer_set_aside(id, round, slot, dim, 0, values)
            });
            if r.is_ok() {
                ANSWERED.fetch_add(1, Relaxed);
                assert!(
                    honest && target.is_some_and(|t| t.1),
                    "only the committed update answers a set-aside"
                );
                assert_eq!((v.phase, v.round), (Phase::Aggregate, round));
                let now = &c.round_slots(id, round).unwrap()[slot as usize];
                assert!(now.present() && now.answered);
            }
            0
        }
        Step::Claim { who } => {
            call(c, me(who), 0, id, |c| c.claim(id)).map_or(0, |got| -(got as i128))
        }
        Step::Wait { blocks } => {
            advance(blocks);
            0
        }
    }
}

/// Invariants after every step.
fn check(c: &Marketplace, id: u32, deposits: i128, paid: i128) {
    let v = view(c, id);
    assert_eq!(
        balance(CONTRACT) as i128,
        ED as i128 + deposits - paid,
        "contract balance"
    );
    assert!(v.drawn <= v.params.slots && v.drawn <= v.trainers);
    assert!(v.revealed <= v.committed && v.committed <= v.drawn);
    // Once started, every round has its draw: `drawn` distinct joined trainers.
    if v.phase != Phase::Open && v.phase != Phase::Cancelled && v.round < v.params.rounds {
        let d = c
            .round_draw(id, v.round)
            .unwrap()
            .expect("a started round is drawn");
        assert_eq!(d.trainers.len() as u32, v.drawn);
        assert_eq!(v.drawn, v.trainers.min(v.params.slots));
        let mut seen = d.trainers.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), d.trainers.len(), "a trainer drawn twice");
        assert!(d.trainers.iter().all(|&t| t < v.trainers));
    }
    assert!(v.round <= v.params.rounds);
    let owed: i128 = claimable_all(c, id).iter().map(|&b| b as i128).sum();
    if v.phase.is_terminal() {
        // Everything ever deposited is either paid or claimable, exactly, but for the
        // score split's rounding remainder (under 1 per trainer), which the owner is
        // credited with the last scored trainer's claim; the drain shows it exact.
        let remainder = deposits - owed - paid;
        assert!(
            (0..i128::from(v.trainers.max(1))).contains(&remainder),
            "conservation: {remainder} unaccounted"
        );
    } else {
        assert_eq!(owed, 0, "claims before the end");
        assert_eq!(paid, 0);
    }
}

#[test]
fn random_sessions_conserve_money_and_keep_invariants() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let k = keys(7);
    let cases = std::env::var("MERIT_CONTRACT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    // `ready`: how many trainers a scripted opening joins before the random steps (bond,
    // joins, start); below 2 the session starts from a bare Open project. Random steps
    // alone rarely get a project started, and the rounds are where the money moves.
    let strategy = (
        1u32..=3,
        2u32..=3,
        0usize..=5,
        proptest::collection::vec(step(), 1..100),
    );
    let terminal = std::cell::Cell::new(0u32);
    let started = std::cell::Cell::new(0u32);
    runner
        .run(&strategy, |(rounds, slots, ready, steps)| {
            test::run_test::<Env, _>(|_| {
                let mut c = fresh();
                let id = call(&mut c, OWNER, POOL, 0, |c| {
                    c.create_project(params(slots, rounds), k.vk.clone())
                })
                .unwrap();
                let mut deposits = POOL as i128;
                let mut paid = 0i128;
                // Up to 4 trainers for 2 or 3 slots: rounds draw from more than they hold.
                let joined = ready.min(T.len());
                let opening: Vec<Step> = if joined >= 2 {
                    let joins = (0..joined).map(|i| Step::Join {
                        who: 3 + i,
                        exact: true,
                    });
                    std::iter::once(Step::Bond {
                        who: 1,
                        exact: true,
                    })
                    .chain(joins)
                    .chain(std::iter::once(Step::Start { who: 0 }))
                    .collect()
                } else {
                    Vec::new()
                };
                for (i, s) in opening.iter().chain(&steps).enumerate() {
                    let flow = apply(&mut c, &k, id, s);
                    if flow > 0 {
                        deposits += flow;
                    } else {
                        paid -= flow;
                    }
                    check(&c, id, deposits, paid);
                    if i + 1 == opening.len() {
                        assert_eq!(view(&c, id).phase, Phase::Commit, "the opening starts");
                        started.set(started.get() + 1);
                    }
                }
                // Drive the project to an end the way the public could, then drain it.
                let v = view(&c, id);
                if !v.phase.is_terminal() {
                    if v.phase == Phase::Open {
                        call(&mut c, OWNER, 0, id, |c| c.cancel(id)).unwrap();
                    } else {
                        advance(3 * 5 + 2);
                        call(&mut c, STRANGER, 0, id, |c| c.abort(id)).unwrap();
                    }
                } else {
                    terminal.set(terminal.get() + 1);
                }
                check(&c, id, deposits, paid);
                paid += claim_everything(&mut c, id) as i128;
                check(&c, id, deposits, paid);
                assert_eq!(
                    balance(CONTRACT),
                    ED,
                    "the contract keeps only its existential deposit"
                );
                Ok(())
            })
            .unwrap();
            prop_assert!(true);
            Ok(())
        })
        .unwrap();
    // The generator must actually reach ends on its own, not only through the drain.
    eprintln!(
        "{} of {cases} random sessions ended by themselves",
        terminal.get()
    );
    assert!(terminal.get() > 0, "no random session ended by itself");
    let (revealed, set_aside, finalized) = (
        REVEALED.load(Relaxed),
        SET_ASIDE.load(Relaxed),
        FINALIZED.load(Relaxed),
    );
    let answered = ANSWERED.load(Relaxed);
    eprintln!(
        "{} sessions opened with a started project; {revealed} reveals, {set_aside} set aside, \
         {answered} answered, {finalized} rounds finalised",
        started.get()
    );
    assert!(
        revealed > 0 && set_aside > 0 && answered > 0 && finalized > 0,
        "the random sessions must reach reveals, set-asides, answers and finalisations"
    );
}

/// Chunked rounds (protocol v4): shapes, chunked projects and the three-step finalisation.
/// The circuits are the one-constraint `Echo`, one setup for the chunk shape and another for
/// the decision shape: under test is the contract's side, i.e. that it rebuilds each `P_k`
/// and `P_dec` from its own storage and the submission, refuses a submission that does not
/// open the stored commitments, and accepts a proof only for its own chunk of its own round.
mod chunked {
    use super::*;
    use merit_protocol::abi::{ChunkedParams, PendingRound};
    use merit_protocol::chunked::{
        self as v4, ChunkInputs, Chunking, PublicInputs, Stored, Submission,
    };
    use merit_protocol::poseidon;
    use merit_protocol::rule::RuleParams;

    const DIM: usize = 40;
    const CHUNK: u32 = 16;
    const SLOTS: u32 = 4;
    const KEYS_CID: &[u8] = b"bafkreishapekeys";

    struct Setup {
        chunk: Keys,
        decision: Keys,
    }

    fn shape_keys() -> Setup {
        Setup {
            chunk: keys(101),
            decision: keys(102),
        }
    }

    fn shaping() -> Chunking {
        Chunking::new(DIM, CHUNK as usize).unwrap()
    }

    fn chunk_commitments(values: &[i16]) -> Vec<Fr> {
        shaping()
            .commit_chunks(&poseidon::wide::config(), values)
            .unwrap()
    }

    fn model(seed: i16) -> Vec<i16> {
        (0..DIM as i16).map(|i| (i * 3 + seed) % 50 - 20).collect()
    }

    fn update(who: [u8; 32], round: u32) -> Vec<i16> {
        (0..DIM as i16)
            .map(|i| (i * who[0] as i16 + round as i16 * 7) % 90 - 45)
            .collect()
    }

    fn rule() -> RuleParams {
        RuleParams::new(SLOTS as usize, DIM, 1, 1 << 40)
    }

    fn register(c: &mut Marketplace, s: &Setup) -> u32 {
        call(c, STRANGER, 0, 0, |c| {
            c.register_shape(
                SLOTS,
                CHUNK,
                s.chunk.vk.clone(),
                s.decision.vk.clone(),
                KEYS_CID.to_vec(),
            )
        })
        .unwrap()
    }

    fn chunked_params(rounds: u32) -> ProjectParams {
        ProjectParams {
            model_commitment: v4::commit_model(DIM, &chunk_commitments(&model(0))),
            proving_key_cid: KEYS_CID.to_vec(),
            ..params(SLOTS, rounds)
        }
    }

    /// A chunked project with trainers 0..3 joined (slot 3 stays empty), started.
    fn started_chunked(c: &mut Marketplace, shape: u32, rounds: u32) -> u32 {
        let id = call(c, OWNER, POOL, 0, |c| {
            c.create_chunked_project(
                chunked_params(rounds),
                ChunkedParams::new(shape, CHUNK, &rule()),
            )
        })
        .unwrap();
        call(c, AGG, BOND, id, |c| c.bond(id)).unwrap();
        for t in T.iter().take(3) {
            call(c, *t, STAKE, id, |c| c.join(id)).unwrap();
        }
        call(c, OWNER, 0, id, |c| c.start(id)).unwrap();
        id
    }

    /// Trainers commit v4 and reveal; the project is then aggregating.
    fn commit_and_reveal(c: &mut Marketplace, id: u32, who: &[[u8; 32]]) {
        let round = view(c, id).round;
        for t in who {
            let h = v4::commit_update(t, DIM, &chunk_commitments(&update(*t, round)));
            call(c, *t, 0, id, |c| c.commit_update(id, round, h)).unwrap();
        }
        reveal_all(c, id, who);
    }

    /// What an honest aggregator submits for the current round (the Echo circuits do not
    /// check the rule, so the scores are any that fit the slots).
    fn honest(c: &Marketplace, id: u32, prev: &[i16], next: &[i16]) -> Submission {
        let round = view(c, id).round;
        let shape = shaping();
        let mut updates = vec![Vec::new(); SLOTS as usize];
        let mut vecs = vec![vec![0i16; DIM]; SLOTS as usize];
        let mut scores = vec![0u32; SLOTS as usize];
        let mut accepted = vec![false; SLOTS as usize];
        for s in c.round_slots(id, round).unwrap() {
            if s.present() {
                let i = s.slot as usize;
                let u = update(s.account, round);
                updates[i] = chunk_commitments(&u)
                    .iter()
                    .map(Commitment::from_field)
                    .collect();
                vecs[i] = u;
                scores[i] = 500 + s.slot;
                accepted[i] = true;
            }
        }
        let grams = (0..shape.count())
            .map(|k| {
                let slices: Vec<Vec<i16>> = vecs.iter().map(|v| shape.slice(v, k)).collect();
                let refs: Vec<&[i16]> = slices.iter().map(|v| v.as_slice()).collect();
                v4::partial_gram(&refs)
            })
            .collect();
        let commits = |v: &[i16]| -> Vec<Commitment> {
            chunk_commitments(v)
                .iter()
                .map(Commitment::from_field)
                .collect()
        };
        Submission {
            updates,
            prev_model: commits(prev),
            new_model: commits(next),
            grams,
            accepted,
            scores,
        }
    }

    /// The public inputs as the contract should compute them, from its getters.
    fn inputs(c: &Marketplace, id: u32, sub: &Submission) -> PublicInputs {
        let p = view(c, id);
        let n = SLOTS as usize;
        let mut trainers = vec![[0u8; 32]; n];
        let mut updates = vec![None; n];
        for s in c.round_slots(id, p.round).unwrap() {
            trainers[s.slot as usize] = s.account;
            if s.present() {
                updates[s.slot as usize] = s.commitment;
            }
        }
        v4::public_inputs(
            &Stored {
                project: id,
                round: p.round,
                params: rule(),
                chunk: CHUNK as usize,
                trainers: &trainers,
                updates: &updates,
                model: p.model_commitment,
            },
            sub,
        )
        .unwrap()
    }

    struct Round {
        sub: Submission,
        inputs: PublicInputs,
        decision: Vec<u8>,
        chunks: Vec<Vec<u8>>,
    }

    fn honest_round(c: &Marketplace, s: &Setup, id: u32, prev: &[i16], next: &[i16]) -> Round {
        let sub = honest(c, id, prev, next);
        let inputs = inputs(c, id, &sub);
        Round {
            decision: prove(&s.decision.pk, inputs.decision),
            chunks: inputs
                .chunks
                .iter()
                .map(|x| prove(&s.chunk.pk, *x))
                .collect(),
            sub,
            inputs,
        }
    }

    fn submit(c: &mut Marketplace, id: u32, sub: &Submission, decision: &[u8]) -> Result<()> {
        let round = view(c, id).round;
        call(c, AGG, 0, id, |c| {
            c.submit_chunked_round(
                id,
                round,
                b"bafkreichunkednext".to_vec(),
                sub.clone(),
                decision.to_vec(),
            )
        })
    }

    /// `verify_chunk_proofs`, also checking that a refusal leaves the pending round as it was.
    fn verify(c: &mut Marketplace, id: u32, first: u32, proofs: &[&Vec<u8>]) -> Result<u32> {
        let round = view(c, id).round;
        let before: Option<PendingRound> = c.pending_round(id).unwrap();
        let proofs: Vec<Vec<u8>> = proofs.iter().map(|p| (*p).clone()).collect();
        let out = call(c, AGG, 0, id, |c| {
            c.verify_chunk_proofs(id, round, first, proofs)
        });
        if out.is_err() {
            assert_eq!(
                c.pending_round(id).unwrap(),
                before,
                "a refusal changed the pending round"
            );
        }
        out
    }

    fn finalize_chunked(c: &mut Marketplace, id: u32) -> Result<()> {
        let round = view(c, id).round;
        call(c, AGG, 0, id, |c| c.finalize_chunked_round(id, round))
    }

    fn ready(rounds: u32) -> (Marketplace, Setup, u32) {
        let mut c = fresh();
        let s = shape_keys();
        let shape = register(&mut c, &s);
        let id = started_chunked(&mut c, shape, rounds);
        commit_and_reveal(&mut c, id, &T[..3]);
        assert_eq!(view(&c, id).phase, Phase::Aggregate);
        (c, s, id)
    }

    #[ink::test]
    fn shapes_are_registered_once_and_checked() {
        let mut c = fresh();
        let s = shape_keys();
        let reg = |c: &mut Marketplace, slots, chunk, ck: Vec<u8>, cid: &[u8]| {
            call(c, STRANGER, 0, 0, |c| {
                c.register_shape(slots, chunk, ck, s.decision.vk.clone(), cid.to_vec())
            })
        };
        let ck = || s.chunk.vk.clone();
        assert_eq!(
            reg(&mut c, 0, CHUNK, ck(), KEYS_CID),
            Err(MarketError::BadShape)
        );
        assert_eq!(
            reg(&mut c, 65, CHUNK, ck(), KEYS_CID),
            Err(MarketError::BadShape)
        );
        assert_eq!(
            reg(&mut c, SLOTS, 0, ck(), KEYS_CID),
            Err(MarketError::BadShape)
        );
        assert_eq!(
            reg(&mut c, SLOTS, (1 << 16) + 1, ck(), KEYS_CID),
            Err(MarketError::BadShape)
        );
        assert_eq!(
            reg(&mut c, SLOTS, CHUNK, ck(), b""),
            Err(MarketError::BadCid)
        );
        assert_eq!(
            reg(&mut c, SLOTS, CHUNK, vec![7; 40], KEYS_CID),
            Err(MarketError::BadVerifyingKey)
        );
        assert_eq!(c.shape_count(), 0);
        assert_eq!(c.shape(0), Err(MarketError::NoSuchShape));
        let id = register(&mut c, &s);
        let v = c.shape(id).unwrap();
        assert_eq!(
            (v.slots, v.chunk, v.keys_cid.as_slice()),
            (SLOTS, CHUNK, KEYS_CID)
        );
        assert_eq!(v.registered_by, STRANGER);
        assert_eq!(
            v.chunk_key,
            merit_protocol::verifier::prepare(&s.chunk.vk).unwrap()
        );
        assert_eq!(c.shape_count(), 1);
    }

    #[ink::test]
    fn chunked_projects_name_an_existing_shape_that_fits() {
        let mut c = fresh();
        let s = shape_keys();
        let shape = register(&mut c, &s);
        let create = |c: &mut Marketplace, p: ProjectParams, cp: ChunkedParams| {
            call(c, OWNER, POOL, 0, |c| c.create_chunked_project(p, cp))
        };
        let good = ChunkedParams::new(shape, CHUNK, &rule());
        assert_eq!(
            create(
                &mut c,
                chunked_params(1),
                ChunkedParams { shape: 9, ..good }
            ),
            Err(MarketError::NoSuchShape)
        );
        let mut other_slots = chunked_params(1);
        other_slots.slots = 3;
        assert_eq!(
            create(&mut c, other_slots, good),
            Err(MarketError::BadShape)
        );
        assert_eq!(
            create(&mut c, chunked_params(1), ChunkedParams { dim: 0, ..good }),
            Err(MarketError::BadShape)
        );
        assert_eq!(
            create(
                &mut c,
                chunked_params(1),
                ChunkedParams {
                    byzantine: 4,
                    ..good
                }
            ),
            Err(MarketError::BadRuleParams)
        );
        let mut other_keys = chunked_params(1);
        other_keys.proving_key_cid = b"bafkreiotherkeys".to_vec();
        assert_eq!(
            create(&mut c, other_keys, good),
            Err(MarketError::BadProvingKeyCid)
        );
        assert_eq!(c.project_count(), 0);
        let id = create(&mut c, chunked_params(1), good).unwrap();
        let v = view(&c, id);
        assert_eq!(v.chunked, Some(good));
        assert!(v.verifying_key.is_empty());
        // A second project of the same shape needs no keys of its own.
        let id2 = create(&mut c, chunked_params(2), good).unwrap();
        assert_eq!(view(&c, id2).chunked, Some(good));
    }

    #[ink::test]
    fn an_honest_chunked_round_verifies_in_batches_and_is_applied() {
        let (mut c, s, id) = ready(2);
        let r = honest_round(&c, &s, id, &model(0), &model(1));
        assert_eq!(r.chunks.len(), 3);
        assert_eq!(
            finalize_chunked(&mut c, id),
            Err(MarketError::NothingSubmitted)
        );
        submit(&mut c, id, &r.sub, &r.decision).unwrap();
        let pending = c.pending_round(id).unwrap().unwrap();
        assert_eq!(pending.verified, vec![false; 3]);
        assert_eq!(pending.model_commitment, r.inputs.new_model);
        assert_eq!(verify(&mut c, id, 0, &[&r.chunks[0], &r.chunks[1]]), Ok(1));
        assert_eq!(
            finalize_chunked(&mut c, id),
            Err(MarketError::ChunkUnverified { chunk: 2 })
        );
        assert_eq!(verify(&mut c, id, 2, &[&r.chunks[2]]), Ok(0));
        finalize_chunked(&mut c, id).unwrap();
        let v = view(&c, id);
        assert_eq!((v.round, v.phase), (1, Phase::Commit));
        assert_eq!(v.model_commitment, r.inputs.new_model);
        assert_eq!(c.pending_round(id).unwrap(), None);
        let rec = c.round_record(id, 0).unwrap().unwrap();
        assert_eq!(rec.public_input, poseidon::to_bytes(&r.inputs.decision));
        assert_eq!(rec.scores, r.sub.scores);
        let totals: Vec<u32> = c
            .trainers(id, 0)
            .unwrap()
            .iter()
            .map(|t| t.total_score)
            .collect();
        assert_eq!(totals, vec![500, 501, 502]);

        // Round 1 starts from the new model: a submission opening the old one is refused.
        commit_and_reveal(&mut c, id, &T[..3]);
        let stale = honest(&c, id, &model(0), &model(2));
        assert_eq!(
            submit(&mut c, id, &stale, &r.decision),
            Err(MarketError::ModelChunksMismatch)
        );
        // The round-0 chunk proofs do not verify for round 1 (a replay).
        let r1 = honest_round(&c, &s, id, &model(1), &model(2));
        submit(&mut c, id, &r1.sub, &r1.decision).unwrap();
        assert_eq!(
            verify(&mut c, id, 0, &[&r.chunks[0]]),
            Err(MarketError::BadChunkProof { chunk: 0 })
        );
        assert_eq!(
            verify(
                &mut c,
                id,
                0,
                &[&r1.chunks[0], &r1.chunks[1], &r1.chunks[2]]
            ),
            Ok(0)
        );
        finalize_chunked(&mut c, id).unwrap();
        assert_eq!(view(&c, id).phase, Phase::Finished);
    }

    #[ink::test]
    fn reordered_dropped_duplicated_and_foreign_chunks_are_refused_by_name() {
        let (mut c, s, id) = ready(1);
        let r = honest_round(&c, &s, id, &model(0), &model(1));
        assert_eq!(
            verify(&mut c, id, 0, &[&r.chunks[0]]),
            Err(MarketError::NothingSubmitted)
        );
        submit(&mut c, id, &r.sub, &r.decision).unwrap();
        let [p0, p1, p2] = [&r.chunks[0], &r.chunks[1], &r.chunks[2]];
        // Reordered.
        assert_eq!(
            verify(&mut c, id, 0, &[p1, p0]),
            Err(MarketError::BadChunkProof { chunk: 0 })
        );
        assert_eq!(
            verify(&mut c, id, 0, &[p0, p2, p1]),
            Err(MarketError::BadChunkProof { chunk: 1 })
        );
        // Dropped: chunk 1 left out of a batch, or never sent before finalising.
        assert_eq!(
            verify(&mut c, id, 0, &[p0, p2]),
            Err(MarketError::BadChunkProof { chunk: 1 })
        );
        assert_eq!(verify(&mut c, id, 0, &[p0]), Ok(2));
        assert_eq!(verify(&mut c, id, 2, &[p2]), Ok(1));
        assert_eq!(
            finalize_chunked(&mut c, id),
            Err(MarketError::ChunkUnverified { chunk: 1 })
        );
        // Duplicated: the same proof again, or under another index.
        assert_eq!(
            verify(&mut c, id, 0, &[p0]),
            Err(MarketError::ChunkAlreadyVerified { chunk: 0 })
        );
        assert_eq!(
            verify(&mut c, id, 1, &[p0]),
            Err(MarketError::BadChunkProof { chunk: 1 })
        );
        assert_eq!(
            verify(&mut c, id, 3, &[p1]),
            Err(MarketError::NoSuchChunk { chunk: 3 })
        );
        assert_eq!(verify(&mut c, id, 1, &[]), Err(MarketError::BadChunkCount));
        // Foreign: chunk 1 of the same updates, but for another project or round.
        let foreign = |project: u32, round: u32| {
            let updates: Vec<Fr> = r
                .sub
                .updates
                .iter()
                .map(|u| u.get(1).map_or(Fr::from(0u64), |c| c.to_field().unwrap()))
                .collect();
            let input = v4::chunk_public_input(&ChunkInputs {
                project,
                round,
                index: 1,
                updates: &updates,
                prev_model: r.sub.prev_model[1].to_field().unwrap(),
                new_model: r.sub.new_model[1].to_field().unwrap(),
                accepted: &r.sub.accepted,
                gram: &r.sub.grams[1],
            })
            .unwrap();
            assert_eq!(
                (project, round) == (id, 0),
                input == r.inputs.chunks[1],
                "the foreign input differs only by its project or round"
            );
            prove(&s.chunk.pk, input)
        };
        for (project, round) in [(id + 1, 0), (id, 1)] {
            assert_eq!(
                verify(&mut c, id, 1, &[&foreign(project, round)]),
                Err(MarketError::BadChunkProof { chunk: 1 })
            );
        }
        // A chunk proof under the decision key (another shape's key).
        assert_eq!(
            verify(&mut c, id, 1, &[&prove(&s.decision.pk, r.inputs.chunks[1])]),
            Err(MarketError::BadChunkProof { chunk: 1 })
        );
        assert_eq!(
            verify(&mut c, id, 1, &[&vec![0xff; 128]]),
            Err(MarketError::MalformedProof)
        );
        assert_eq!(verify(&mut c, id, 1, &[&foreign(id, 0)]), Ok(0));
        finalize_chunked(&mut c, id).unwrap();
        assert_eq!(view(&c, id).phase, Phase::Finished);
    }

    #[ink::test]
    fn wrong_partial_sums_and_decisions_over_other_totals_are_refused() {
        let (mut c, s, id) = ready(1);
        let r = honest_round(&c, &s, id, &model(0), &model(1));

        // Slot 3 is unfilled: a non-zero Gram entry in its column, (0, 3), is refused.
        let mut ghost = r.sub.clone();
        ghost.grams[0][3] = 1;
        assert_eq!(
            submit(&mut c, id, &ghost, &r.decision),
            Err(MarketError::AbsentSlotChunks { slot: 3 })
        );

        // A wrong partial sum, with a decision proven over the totals it gives: the
        // decision verifies, but chunk 1's proof (of the true sums) does not.
        let mut wrong = r.sub.clone();
        wrong.grams[1][0] += 1;
        let wrong_inputs = inputs(&c, id, &wrong);
        submit(
            &mut c,
            id,
            &wrong,
            &prove(&s.decision.pk, wrong_inputs.decision),
        )
        .unwrap();
        assert_eq!(verify(&mut c, id, 0, &[&r.chunks[0]]), Ok(2));
        assert_eq!(
            verify(&mut c, id, 1, &[&r.chunks[1]]),
            Err(MarketError::BadChunkProof { chunk: 1 })
        );

        // Sums moved between chunks keep the totals, so the decision verifies; both chunks
        // it touched no longer do.
        let mut moved = r.sub.clone();
        moved.grams[0][0] += 5;
        moved.grams[2][0] -= 5;
        submit(&mut c, id, &moved, &r.decision).unwrap();
        assert_eq!(
            c.pending_round(id).unwrap().unwrap().verified,
            vec![false; 3]
        );
        assert_eq!(
            verify(&mut c, id, 0, &[&r.chunks[0]]),
            Err(MarketError::BadChunkProof { chunk: 0 })
        );
        assert_eq!(
            verify(&mut c, id, 1, &[&r.chunks[1], &r.chunks[2]]),
            Err(MarketError::BadChunkProof { chunk: 2 })
        );

        // A decision proof over other totals than the submission's.
        assert_eq!(
            submit(&mut c, id, &wrong, &r.decision),
            Err(MarketError::BadDecisionProof)
        );
        // Over other scores.
        let mut rescored = r.sub.clone();
        rescored.scores[0] = 999;
        assert_eq!(
            submit(&mut c, id, &rescored, &r.decision),
            Err(MarketError::BadDecisionProof)
        );
        // An entry no chunk of 16-bit values can have.
        let mut huge = r.sub.clone();
        huge.grams[2][1] = (i64::from(CHUNK) << 30) + 1;
        assert_eq!(
            submit(&mut c, id, &huge, &r.decision),
            Err(MarketError::GramOutOfRange { chunk: 2 })
        );
        assert_eq!(
            submit(&mut c, id, &r.sub, &vec![1; 128]),
            Err(MarketError::MalformedProof)
        );

        // The honest submission replaces the pending one and goes through.
        submit(&mut c, id, &r.sub, &r.decision).unwrap();
        let all: Vec<&Vec<u8>> = r.chunks.iter().collect();
        assert_eq!(verify(&mut c, id, 0, &all), Ok(0));
        finalize_chunked(&mut c, id).unwrap();
    }

    #[ink::test]
    fn submissions_must_open_the_stored_commitments() {
        let (mut c, s, id) = ready(1);
        let r = honest_round(&c, &s, id, &model(0), &model(1));
        let refused = |c: &mut Marketplace, f: &dyn Fn(&mut Submission), want: MarketError| {
            let mut sub = r.sub.clone();
            f(&mut sub);
            assert_eq!(submit(c, id, &sub, &r.decision), Err(want));
            assert_eq!(c.pending_round(id).unwrap(), None);
        };
        // A slot's chunks swapped, or another slot's chunks.
        refused(
            &mut c,
            &|s| s.updates[1].swap(0, 2),
            MarketError::UpdateChunksMismatch { slot: 1 },
        );
        refused(
            &mut c,
            &|s| s.updates[0] = s.updates[2].clone(),
            MarketError::UpdateChunksMismatch { slot: 0 },
        );
        // A chunk dropped from a slot, or a model chunk too many.
        refused(
            &mut c,
            &|s| {
                s.updates[2].pop();
            },
            MarketError::BadChunkCount,
        );
        refused(
            &mut c,
            &|s| s.new_model.push(s.new_model[0]),
            MarketError::BadChunkCount,
        );
        refused(
            &mut c,
            &|s| {
                s.grams.pop();
            },
            MarketError::BadChunkCount,
        );
        // Chunks for the empty slot 3; none for present slot 0.
        refused(
            &mut c,
            &|s| s.updates[3] = s.updates[0].clone(),
            MarketError::AbsentSlotChunks { slot: 3 },
        );
        refused(
            &mut c,
            &|s| s.updates[0].clear(),
            MarketError::AbsentSlotChunks { slot: 0 },
        );
        refused(
            &mut c,
            &|s| s.prev_model.swap(0, 1),
            MarketError::ModelChunksMismatch,
        );
        refused(
            &mut c,
            &|s| s.updates[1][0] = Commitment([0xff; 32]),
            MarketError::BadCommitment,
        );
        refused(&mut c, &|s| s.scores[3] = 1, MarketError::BadScore);
        refused(
            &mut c,
            &|s| {
                s.accepted.pop();
            },
            MarketError::BadLengths,
        );

        // Wrong caller, round and kind of project.
        let round = view(&c, id).round;
        let sub = r.sub.clone();
        let d = r.decision.clone();
        assert_eq!(
            call(&mut c, T[0], 0, id, |c| c.submit_chunked_round(
                id,
                round,
                b"bafkreix".to_vec(),
                sub.clone(),
                d.clone()
            )),
            Err(MarketError::NotAggregator)
        );
        assert_eq!(
            call(&mut c, AGG, 0, id, |c| c.submit_chunked_round(
                id,
                round + 1,
                b"bafkreix".to_vec(),
                sub.clone(),
                d.clone()
            )),
            Err(MarketError::WrongRound)
        );
        let m = new_model(0);
        assert_eq!(
            call(&mut c, AGG, 0, id, |c| c.finalize_round(
                id,
                round,
                b"bafkreix".to_vec(),
                m,
                vec![0; 4],
                vec![false; 4],
                d.clone()
            )),
            Err(MarketError::WrongStatement)
        );
        let k = keys(7);
        let v3 = started(&mut c, &k, 4, 2, 1);
        assert_eq!(
            call(&mut c, AGG, 0, v3, |c| c.verify_chunk_proofs(
                v3,
                0,
                0,
                vec![d.clone()]
            )),
            Err(MarketError::WrongPhase)
        );
        commit_all(&mut c, v3, &T[..2]);
        reveal_all(&mut c, v3, &T[..2]);
        assert_eq!(
            call(&mut c, AGG, 0, v3, |c| c.submit_chunked_round(
                v3,
                0,
                b"bafkreix".to_vec(),
                sub.clone(),
                d.clone()
            )),
            Err(MarketError::WrongStatement)
        );
    }

    #[ink::test]
    fn a_chunked_set_aside_is_answered_chunk_by_chunk() {
        let (mut c, s, id) = ready(1);
        call(&mut c, AGG, 0, id, |c| c.set_aside(id, 0, 2)).unwrap();
        let values = update(T[2], 0);
        let piece =
            |k: usize| values[k * CHUNK as usize..((k + 1) * CHUNK as usize).min(DIM)].to_vec();
        assert_eq!(shaping().count(), 3);
        // Out of order, or a chunk of the wrong length: refused, nothing stored.
        assert_eq!(
            answer(&mut c, T[2], id, (0, 2, 1), piece(1)),
            Err(MarketError::BadAnswerPiece { expected: 0 })
        );
        assert_eq!(
            answer(&mut c, T[2], id, (0, 2, 0), piece(2)),
            Err(MarketError::BadAnswerPiece { expected: 0 })
        );
        assert_eq!(answer(&mut c, T[2], id, (0, 2, 0), piece(0)), Ok(2));
        assert_eq!(
            answer(&mut c, T[2], id, (0, 2, 2), piece(2)),
            Err(MarketError::BadAnswerPiece { expected: 1 })
        );
        assert_eq!(answer(&mut c, T[2], id, (0, 2, 1), piece(1)), Ok(1));
        // A last chunk that is not the committed one: the set-aside stands.
        let mut forged = piece(2);
        forged[0] += 1;
        assert_eq!(
            answer(&mut c, T[2], id, (0, 2, 2), forged),
            Err(MarketError::AnswerDoesNotOpen)
        );
        // No submission while the set-aside can be answered.
        let without = honest_round(&c, &s, id, &model(0), &model(1));
        assert_eq!(
            submit(&mut c, id, &without.sub, &without.decision),
            Err(MarketError::AnswerWindowOpen)
        );
        // Restarting from 0 works; the whole update opens the commitment: slot 2 is back.
        assert_eq!(answer(&mut c, STRANGER, id, (0, 2, 0), piece(0)), Ok(2));
        assert_eq!(answer(&mut c, STRANGER, id, (0, 2, 1), piece(1)), Ok(1));
        assert_eq!(answer(&mut c, STRANGER, id, (0, 2, 2), piece(2)), Ok(0));
        assert!(c.round_slots(id, 0).unwrap()[2].present());
        assert_eq!(
            answer(&mut c, T[2], id, (0, 2, 0), piece(0)),
            Err(MarketError::AlreadyAnswered)
        );
        // The round closes with slot 2 in it, and only so.
        assert_eq!(
            submit(&mut c, id, &without.sub, &without.decision),
            Err(MarketError::AbsentSlotChunks { slot: 2 })
        );
        let r = honest_round(&c, &s, id, &model(0), &model(1));
        submit(&mut c, id, &r.sub, &r.decision).unwrap();
        let all: Vec<&Vec<u8>> = r.chunks.iter().collect();
        assert_eq!(verify(&mut c, id, 0, &all), Ok(0));
        finalize_chunked(&mut c, id).unwrap();
        assert!(c.round_record(id, 0).unwrap().unwrap().accepted[2]);
    }

    #[ink::test]
    fn setting_a_slot_aside_drops_the_pending_submission() {
        let (mut c, s, id) = ready(1);
        let r = honest_round(&c, &s, id, &model(0), &model(1));
        submit(&mut c, id, &r.sub, &r.decision).unwrap();
        assert_eq!(verify(&mut c, id, 0, &[&r.chunks[0]]), Ok(2));
        call(&mut c, AGG, 0, id, |c| c.set_aside(id, 0, 2)).unwrap();
        assert_eq!(c.pending_round(id).unwrap(), None);
        assert_eq!(
            verify(&mut c, id, 1, &[&r.chunks[1]]),
            Err(MarketError::NothingSubmitted)
        );
        // Nobody answers the set-aside; its window passes.
        let until = c.round_slots(id, 0).unwrap()[2].answer_until;
        while ink::env::block_number::<Env>() <= until {
            advance(1);
        }
        // The old submission no longer fits the statement: slot 2 is absent now.
        assert_eq!(
            submit(&mut c, id, &r.sub, &r.decision),
            Err(MarketError::BadScore)
        );
        let mut unscored = r.sub.clone();
        (unscored.scores[2], unscored.accepted[2]) = (0, false);
        assert_eq!(
            submit(&mut c, id, &unscored, &r.decision),
            Err(MarketError::AbsentSlotChunks { slot: 2 })
        );
        let again = honest_round(&c, &s, id, &model(0), &model(1));
        submit(&mut c, id, &again.sub, &again.decision).unwrap();
        let all: Vec<&Vec<u8>> = again.chunks.iter().collect();
        assert_eq!(verify(&mut c, id, 0, &all), Ok(0));
        finalize_chunked(&mut c, id).unwrap();
        let rec = c.round_record(id, 0).unwrap().unwrap();
        assert_eq!(rec.scores, vec![500, 501, 0, 0]);
    }
}

/// Sampled rounds (SPEC §13): 4 trainers, 2 slots, 3 rounds. Each round draws 2 of them
/// with the seed the contract chains (`draw::round_seed` of the previous seed and the
/// initial model or the last round's public input); only the drawn commit, the others are
/// refused by name and lose nothing, and the settlement pays by score, each trainer's
/// claim worked out when it claims.
#[ink::test]
fn each_round_draws_its_slots_from_everyone_who_joined() {
    use merit_protocol::draw;
    let k = keys(11);
    let mut c = fresh();
    let id = started(&mut c, &k, 2, 4, 3);
    let mut seed = [0u8; 32];
    let mut entropy = params(2, 3).model_commitment.0;
    let mut drawn_rounds = [0u32; 4];
    let mut scores_of = [0u32; 4];
    for round in 0..3u32 {
        let v = view(&c, id);
        assert_eq!((v.round, v.drawn, v.trainers), (round, 2, 4));
        seed = draw::round_seed(id, round, &seed, &entropy);
        let d = c.round_draw(id, round).unwrap().unwrap();
        assert_eq!(d.seed, seed, "round {round}'s seed");
        assert_eq!(
            d.trainers,
            draw::draw(&seed, 4, 2).unwrap(),
            "round {round}"
        );
        let drawn: Vec<[u8; 32]> = d.trainers.iter().map(|&i| T[i as usize]).collect();
        let slots = c.round_slots(id, round).unwrap();
        assert_eq!(slots.len(), 2);
        for (s, &i) in slots.iter().zip(&d.trainers) {
            assert_eq!((s.trainer, s.account), (i, T[i as usize]));
        }
        for (i, t) in T.iter().enumerate() {
            if !d.trainers.contains(&(i as u32)) {
                let before = balance(*t);
                assert_eq!(
                    call(&mut c, *t, 0, id, |c| c.commit_update(
                        id,
                        round,
                        update_commitment(*t, round)
                    )),
                    Err(MarketError::NotDrawn),
                    "trainer {i} was not drawn in round {round}"
                );
                assert_eq!(balance(*t), before);
            }
        }
        commit_all(&mut c, id, &drawn);
        // Both drawn committed: Reveal starts early, without the others.
        assert_eq!(view(&c, id).phase, Phase::Reveal);
        reveal_all(&mut c, id, &drawn);
        let scores = [300 + round, 100];
        finalize(&mut c, &k, id, &scores, &[true, true]).unwrap();
        for (slot, &i) in d.trainers.iter().enumerate() {
            drawn_rounds[i as usize] += 1;
            scores_of[i as usize] += scores[slot];
        }
        entropy = c.round_record(id, round).unwrap().unwrap().public_input;
    }
    let v = view(&c, id);
    assert_eq!(v.phase, Phase::Finished);
    // Two distinct draws of 2 among 4 over three rounds, from these seeds.
    let ts = c.trainers(id, 0).unwrap();
    for (t, i) in ts.iter().zip(0..) {
        assert_eq!(
            t.rounds_drawn, drawn_rounds[i],
            "trainer {i}'s participations"
        );
        assert_eq!(t.total_score, scores_of[i]);
    }
    // Each trainer's claim is `reward::settle`'s, though no message walked the trainers.
    let want = reward::settle(&reward::settlement_of(&v, &ts).unwrap()).unwrap();
    for (i, t) in T.iter().enumerate() {
        assert_eq!(
            c.claimable(id, acc(*t)).unwrap(),
            want.trainers[i],
            "trainer {i}"
        );
    }
    let before = balance(CONTRACT);
    let paid = claim_everything(&mut c, id);
    assert_eq!(paid, want.total().unwrap());
    assert_eq!(balance(CONTRACT), before - paid);
    assert_eq!(balance(CONTRACT), ED, "the escrow drains");
}

/// Any number may join: the trainers read in pages of `TRAINERS_PER_PAGE` (each page fits
/// ink!'s return buffer), and `trainer_of` finds one by account without a walk.
#[ink::test]
fn trainers_read_in_pages_and_one_by_account() {
    use merit_protocol::abi::TRAINERS_PER_PAGE;
    let k = keys(12);
    let mut c = fresh();
    let id = call(&mut c, OWNER, POOL, 0, |c| {
        c.create_project(params(2, 1), k.vk.clone())
    })
    .unwrap();
    let joined = TRAINERS_PER_PAGE + 3;
    let accounts: Vec<[u8; 32]> = (0..joined)
        .map(|i| {
            let mut a = [0x70; 32];
            a[..4].copy_from_slice(&i.to_le_bytes());
            a
        })
        .collect();
    for (i, a) in accounts.iter().enumerate() {
        test::set_account_balance::<Env>(acc(*a), START_BALANCE);
        assert_eq!(call(&mut c, *a, STAKE, id, |c| c.join(id)), Ok(i as u32));
    }
    let first = c.trainers(id, 0).unwrap();
    let rest = c.trainers(id, TRAINERS_PER_PAGE).unwrap();
    assert_eq!(first.len() as u32, TRAINERS_PER_PAGE);
    assert_eq!(rest.len(), 3);
    assert!(c.trainers(id, joined).unwrap().is_empty());
    let all: Vec<[u8; 32]> = first.iter().chain(&rest).map(|t| t.account).collect();
    assert_eq!(all, accounts);
    let t = c.trainer_of(id, acc(accounts[130])).unwrap().unwrap();
    assert_eq!((t.slot, t.account), (130, accounts[130]));
    assert_eq!(c.trainer_of(id, acc(STRANGER)).unwrap(), None);
    // A page is what a dry-run can return: well within ink!'s 16 KiB buffer.
    assert!(ink::scale::Encode::encoded_size(&first) < 8 * 1024);
}
