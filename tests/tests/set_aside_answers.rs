//! Answering a set-aside (SPEC §11) on a real chain (the embedded one, or both where the
//! node is installed) with real round proofs:
//!
//! 1. The aggregator sets aside a reveal it could open. The round cannot close during the
//!    answer window; an update that does not open the commitment changes nothing; the
//!    trainer's update, posted on chain, puts the slot back; the proof without it is then
//!    refused, and the round closes only with the slot scored, from the update read back
//!    from the chain.
//! 2. An aggregator that will not prove the answered slot is aborted, and its bond pays
//!    the trainer it set aside, not the owner.
//! 3. A chunked update answered chunk by chunk; and, as a benchmark (`--ignored`), what an
//!    answer weighs for a v3 update of 8,192 values and a chunked one of 79,510 in chunks
//!    of 8,192 (printed; the README carries the figures).

use merit_chain::client::{account_of, Weight};
use merit_chain::marketplace::{Finalization, MarketEvent};
use merit_chain::{dev_signer, ChainError, Marketplace, Signer};
use merit_cli::chain::ChainChoice;
use merit_protocol::abi::{ChunkedParams, Deadlines, MarketError, Phase, ProjectParams};
use merit_protocol::answer::Layout;
use merit_protocol::chunked::Scheme;
use merit_protocol::commit::Committer;
use merit_protocol::rule::RuleParams;
use merit_prover::ark_bn254::Bn254;
use merit_prover::round::{prove_round, setup_round, RoundWitness};
use merit_prover::SetupMode;
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{backends, test_rule, test_verifying_key, TestEnv};

const DIM: usize = 16;
const SLOTS: usize = 4;
const CID: &[u8] = b"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
/// The answer window (the reveal deadline) and the aggregation window, in blocks.
const REVEAL: u32 = 8;
const AGGREGATE: u32 = 12;

type ProvingKey = ark_groth16::ProvingKey<Bn254>;

fn refused(e: ChainError) -> MarketError {
    match e {
        ChainError::Contract { error, .. } => error,
        other => panic!("expected a contract refusal, got {other}"),
    }
}

fn update(who: usize) -> Vec<i16> {
    (0..DIM)
        .map(|i| ((i as i32 * 7 + who as i32 * 4) % 41 - 20) as i16)
        .collect()
}

fn model() -> Vec<i16> {
    (0..DIM as i16).map(|i| i * 3 - 20).collect()
}

struct Round {
    market: Marketplace,
    owner: Signer,
    aggregator: Signer,
    trainers: Vec<Signer>,
    accounts: Vec<[u8; 32]>,
    pk: ProvingKey,
    id: u32,
}

impl Round {
    /// A started 2-round project with four trainers that all committed and revealed
    /// round 0 (the CIDs do not matter here: the aggregator's claim is what is tested).
    async fn aggregating(env: &TestEnv) -> Self {
        let market = env.market.clone();
        let rule = test_rule(SLOTS, DIM);
        let (pk, vk) = setup_round(rule, SetupMode::InsecureDeterministicForTests(21)).unwrap();
        let mut vk_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut vk_bytes).unwrap();
        let owner = dev_signer("alice").unwrap();
        let aggregator = dev_signer("charlie").unwrap();
        let trainers: Vec<Signer> = ["bob", "dave", "eve", "ferdie"]
            .map(|n| dev_signer(n).unwrap())
            .to_vec();
        let accounts: Vec<[u8; 32]> = trainers.iter().map(|t| account_of(t).0).collect();
        let params = ProjectParams {
            spec_cid: CID.to_vec(),
            model_cid: CID.to_vec(),
            model_commitment: Committer::new().commit_model(&model()),
            proving_key_cid: CID.to_vec(),
            rounds: 2,
            min_trainers: 2,
            slots: SLOTS as u32,
            trainer_stake: STAKE,
            aggregator: account_of(&aggregator).0,
            aggregator_fee: FEE,
            aggregator_bond: BOND,
            max_rejected_rounds: 1,
            deadlines: Deadlines {
                join: 50,
                commit: 20,
                reveal: REVEAL,
                aggregate: AGGREGATE,
            },
        };
        let id = market
            .create_project(&owner, &params, &vk_bytes, POOL)
            .await
            .unwrap();
        market.bond(&aggregator, id, BOND).await.unwrap();
        for t in &trainers {
            market.join(t, id, STAKE).await.unwrap();
        }
        market.start(&owner, id).await.unwrap();
        let c = Committer::new();
        for (who, t) in trainers.iter().enumerate() {
            let cm = c.commit_update(&accounts[who], &update(who));
            market.commit_update(t, id, 0, cm).await.unwrap();
        }
        for t in &trainers {
            market.reveal_update(t, id, 0, CID).await.unwrap();
        }
        assert_eq!(market.project(id).await.unwrap().phase, Phase::Aggregate);
        Self {
            market,
            owner,
            aggregator,
            trainers,
            accounts,
            pk,
            id,
        }
    }

    /// The aggregator's proof of round 0 over the slots the chain counts as present, with
    /// `updates` for them.
    async fn prove(&self, updates: Vec<Option<Vec<i16>>>) -> Finalization {
        let w = RoundWitness::new(
            test_rule(SLOTS, DIM),
            self.id,
            0,
            self.accounts.clone(),
            model(),
            updates,
        )
        .unwrap();
        let (proof, claims, _) = prove_round(&self.pk, w).unwrap();
        let mut proof_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&proof, &mut proof_bytes).unwrap();
        Finalization {
            chunked: None,
            round: 0,
            model_cid: CID.to_vec(),
            model_commitment: claims.new_model,
            scores: claims.scores,
            accepted: claims.accepted,
            proof: proof_bytes,
        }
    }

    async fn blocks(&self, n: u32) {
        self.market.advance_blocks(&self.owner, n).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_set_aside_is_answered_on_chain_and_the_round_must_score_the_slot() {
    for backend in backends() {
        let env = TestEnv::up(backend).await;
        eprintln!("answering a set-aside on the {} chain", env.kind());
        let r = Round::aggregating(&env).await;
        let m = &r.market;
        // The aggregator claims it cannot open slot 1, which opens, and proves without it.
        m.set_aside(&r.aggregator, r.id, 0, 1).await.unwrap();
        let slots = m.round_slots(r.id, 0).await.unwrap();
        assert!(slots[1].set_aside && slots[1].answer_until > 0);
        let mut present: Vec<Option<Vec<i16>>> = (0..SLOTS).map(|w| Some(update(w))).collect();
        present[1] = None;
        let without = r.prove(present).await;
        let e = m.finalize_round(&r.aggregator, r.id, &without).await;
        assert_eq!(refused(e.unwrap_err()), MarketError::AnswerWindowOpen);

        // Another trainer's update does not answer it, and changes nothing.
        let e = m
            .answer_set_aside(&r.trainers[1], r.id, (0, 1), &update(0), None)
            .await
            .unwrap_err();
        assert_eq!(refused(e), MarketError::AnswerDoesNotOpen);
        assert!(m.round_slots(r.id, 0).await.unwrap()[1].set_aside);

        // The trainer's own update does: the slot is back in the round.
        let answered = m
            .answer_set_aside(&r.trainers[1], r.id, (0, 1), &update(1), None)
            .await
            .unwrap();
        let w = answered.weights[0];
        eprintln!(
            "answer_set_aside, {DIM} values: ref_time {} proof_size {}",
            w.ref_time, w.proof_size
        );
        let slot = m.round_slots(r.id, 0).await.unwrap()[1].clone();
        assert!(slot.answered && !slot.set_aside && slot.present());
        let read_back = m.answered_update(r.id, (0, 1), DIM, None).await.unwrap();
        assert_eq!(read_back, update(1));
        let e = m.set_aside(&r.aggregator, r.id, 0, 1).await.unwrap_err();
        assert_eq!(refused(e), MarketError::AlreadySetAside);

        // The proof without slot 1 is refused; the one with it (from the chain's copy)
        // closes the round and scores it.
        let e = m.finalize_round(&r.aggregator, r.id, &without).await;
        assert_eq!(refused(e.unwrap_err()), MarketError::BadProof);
        let with = r
            .prove(
                (0..SLOTS)
                    .map(|w| Some(if w == 1 { read_back.clone() } else { update(w) }))
                    .collect(),
            )
            .await;
        assert!(with.accepted[1] && with.scores[1] > 0, "{:?}", with.scores);
        let events = m.finalize_round(&r.aggregator, r.id, &with).await.unwrap();
        assert!(events
            .iter()
            .any(|e| matches!(e, MarketEvent::RoundFinalized(f) if f.scores == with.scores)));
        assert_eq!(
            m.trainers(r.id).await.unwrap()[1].total_score,
            with.scores[1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregator_that_will_not_score_an_answered_slot_pays_it_the_bond() {
    for backend in backends() {
        let env = TestEnv::up(backend).await;
        let r = Round::aggregating(&env).await;
        let m = &r.market;
        m.set_aside(&r.aggregator, r.id, 0, 2).await.unwrap();
        m.answer_set_aside(&r.trainers[2], r.id, (0, 2), &update(2), None)
            .await
            .unwrap();
        // The aggregator goes silent; after its (extended) deadline anyone aborts.
        let e = m.abort(&r.owner, r.id).await.unwrap_err();
        assert_eq!(refused(e), MarketError::TooEarly);
        r.blocks(REVEAL + AGGREGATE + 2).await;
        m.abort(&r.owner, r.id).await.unwrap();
        let owed = |who: usize| {
            let acc = account_of(&r.trainers[who]);
            async move { m.claimable(r.id, &acc).await.unwrap() }
        };
        assert_eq!(
            owed(2).await,
            STAKE + BOND,
            "the bond pays the wronged trainer"
        );
        assert_eq!(owed(0).await, STAKE);
        let owner = m.claimable(r.id, &account_of(&r.owner)).await.unwrap();
        assert_eq!(
            owner, POOL,
            "nothing was proven: the pool, and not the bond"
        );
        assert_eq!(m.claim(&r.trainers[2], r.id).await.unwrap(), STAKE + BOND);
    }
}

/// A project of `n` slots (three joined) whose slot 0 commits `values` and is set aside;
/// returns the weight of each piece of its answer.
async fn answer_weights(env: &TestEnv, dim: usize, chunk: Option<usize>) -> Vec<Weight> {
    let m = &env.market;
    let owner = dev_signer("alice").unwrap();
    let agg = dev_signer("charlie").unwrap();
    let joiners = ["bob", "dave", "eve"].map(|n| dev_signer(n).unwrap());
    let n = 8;
    let rule = RuleParams::new(n, dim, 1, 1 << 40);
    let values: Vec<i16> = (0..dim).map(|i| ((i * 13) % 401) as i16 - 200).collect();
    let model: Vec<i16> = (0..dim).map(|i| (i % 17) as i16 - 8).collect();
    let (scheme, statement) = match chunk {
        None => (Scheme::of(None).unwrap(), None),
        Some(c) => {
            // Any valid keys do to register a shape; nothing is proven here.
            let key = test_verifying_key(2, 4);
            let shape = m
                .register_shape(&owner, n as u32, c as u32, &key, &key, CID)
                .await
                .unwrap();
            let statement = ChunkedParams::new(shape, c as u32, &rule);
            (Scheme::of(Some(&statement)).unwrap(), Some(statement))
        }
    };
    let params = ProjectParams {
        spec_cid: CID.to_vec(),
        model_cid: CID.to_vec(),
        model_commitment: scheme.commit_model(&model).unwrap(),
        proving_key_cid: CID.to_vec(),
        rounds: 1,
        min_trainers: 3,
        slots: n as u32,
        trainer_stake: STAKE,
        aggregator: account_of(&agg).0,
        aggregator_fee: FEE,
        aggregator_bond: BOND,
        max_rejected_rounds: 1,
        deadlines: Deadlines {
            join: 100,
            commit: 100,
            reveal: 100,
            aggregate: 100,
        },
    };
    let id = match &statement {
        None => {
            let vk = test_verifying_key(2, 4);
            m.create_project(&owner, &params, &vk, POOL).await.unwrap()
        }
        Some(s) => m
            .create_chunked_project(&owner, &params, s, POOL)
            .await
            .unwrap(),
    };
    m.bond(&agg, id, BOND).await.unwrap();
    for t in &joiners {
        m.join(t, id, STAKE).await.unwrap();
    }
    m.start(&owner, id).await.unwrap();
    for (i, t) in joiners.iter().enumerate() {
        let mut u = values.clone();
        u[0] = i as i16;
        let c = scheme.commit_update(&account_of(t).0, &u).unwrap();
        m.commit_update(t, id, 0, c).await.unwrap();
    }
    for t in &joiners {
        m.reveal_update(t, id, 0, CID).await.unwrap();
    }
    m.set_aside(&agg, id, 0, 0).await.unwrap();
    let mut mine = values.clone();
    mine[0] = 0;
    let answered = m
        .answer_set_aside(&joiners[0], id, (0, 0), &mine, chunk)
        .await
        .unwrap();
    assert!(m.round_slots(id, 0).await.unwrap()[0].answered);
    assert_eq!(answered.weights.len(), Layout { dim, chunk }.piece_count());
    answered.weights
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_update_is_answered_chunk_by_chunk() {
    let env = TestEnv::up(ChainChoice::Embedded).await;
    // Three chunks, the last one short: three calls, one per chunk.
    let w = answer_weights(&env, 40, Some(16)).await;
    assert_eq!(w.len(), 3);
}

/// A benchmark, not a test (minutes on 2 cores): `cargo test -p merit-tests --test
/// set_aside_answers -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints what answers weigh for real model sizes (README)"]
async fn answers_for_real_model_sizes_fit_the_block() {
    // The contract's weight does not depend on the backend: the embedded chain measures it.
    let env = TestEnv::up(ChainChoice::Embedded).await;
    const NORMAL_BUDGET: u64 = 1_500_000_000_000;
    for (dim, chunk) in [(8_192, None), (79_510, Some(8_192))] {
        let w = answer_weights(&env, dim, chunk).await;
        let total: u64 = w.iter().map(|w| w.ref_time).sum();
        let heaviest = w.iter().map(|w| w.ref_time).max().unwrap();
        eprintln!(
            "answer of {dim} values{}: {} calls, ref_time total {total} ({:.2} % of a 2e12 block), heaviest call {heaviest}, proof_size max {}",
            chunk.map_or(String::new(), |c| format!(" in chunks of {c}")),
            w.len(),
            100.0 * total as f64 / 2e12,
            w.iter().map(|w| w.proof_size).max().unwrap()
        );
        assert!(heaviest < NORMAL_BUDGET, "one piece must fit one extrinsic");
    }
}
