//! The marketplace on a real substrate-contracts-node (through `merit-chain`, subxt) with
//! updates in a real IPFS daemon and real round proofs from `merit-prover`: a full 2-round
//! project with 3 honest trainers and a fourth that poisons round 0 and reveals a copied
//! CID in round 1 (set aside by the aggregator), paid out by claims;
//! forged, misclaimed and replayed proofs refused by the contract itself; and the abort
//! path. Multi-Krum accepts nothing unless `n ≥ f + 3` updates are eligible
//! (`merit_protocol::rule`), so every proven round here has at least three.

use merit_chain::client::{account_of, Weight};
use merit_chain::marketplace::{Finalization, MarketEvent};
use merit_chain::{dev_signer, ChainError, Marketplace, Signer};
use merit_protocol::abi::{Deadlines, MarketError, Phase, ProjectParams};
use merit_protocol::commit::Committer;
use merit_protocol::format::{Kind, ModelFile};
use merit_protocol::reward;
use merit_protocol::rule::RuleParams;
use merit_prover::ark_bn254::Bn254;
use merit_prover::round::{prove_round, setup_round, RoundWitness};
use merit_prover::SetupMode;
use merit_storage::{parse_cid, IpfsStore};
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{backends, test_rule, TestEnv};

const DIM: usize = 16;
const SLOTS: usize = 4;
/// The block limit of the dev runtime (2 s of ref_time).
const BLOCK_REF_TIME: f64 = 2e12;

type ProvingKey = ark_groth16::ProvingKey<Bn254>;

struct World {
    market: Marketplace,
    ipfs: IpfsStore,
    owner: Signer,
    aggregator: Signer,
    trainers: Vec<Signer>,
    stranger: Signer,
    rule: RuleParams,
    pk: ProvingKey,
    vk: Vec<u8>,
}

impl World {
    async fn new(env: &TestEnv) -> Self {
        let rule = test_rule(SLOTS, DIM);
        let (pk, vk) = setup_round(rule, SetupMode::InsecureDeterministicForTests(11)).unwrap();
        let mut vk_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut vk_bytes).unwrap();
        Self {
            market: env.market.clone(),
            ipfs: env.ipfs.clone(),
            owner: dev_signer("alice").unwrap(),
            aggregator: dev_signer("charlie").unwrap(),
            trainers: ["bob", "dave", "eve", "ferdie"]
                .map(|n| dev_signer(n).unwrap())
                .to_vec(),
            // The owner: neither a trainer nor the aggregator.
            stranger: dev_signer("alice").unwrap(),
            rule,
            pk,
            vk: vk_bytes,
        }
    }

    fn initial_model() -> Vec<i16> {
        (0..DIM as i16).map(|i| i * 3 - 20).collect()
    }

    async fn create(&self, rounds: u32, deadlines: Deadlines) -> u32 {
        let model = file(Kind::Model, Self::initial_model());
        let model_cid = self.ipfs.add(model.encode()).await.unwrap();
        let params = ProjectParams {
            spec_cid: b"bafkreie2e-spec".to_vec(),
            model_cid: model_cid.to_string().into_bytes(),
            model_commitment: Committer::new().commit_model(&model.values),
            proving_key_cid: b"bafkreie2e-proving-key".to_vec(),
            rounds,
            min_trainers: 2,
            slots: SLOTS as u32,
            trainer_stake: STAKE,
            aggregator: account_of(&self.aggregator).0,
            aggregator_fee: FEE,
            aggregator_bond: BOND,
            max_rejected_rounds: 0,
            deadlines,
        };
        self.market
            .create_project(&self.owner, &params, &self.vk, POOL)
            .await
            .unwrap()
    }

    /// A trainer commits to `update` and puts its file into IPFS; returns the CID.
    async fn commit(&self, project: u32, round: u32, who: usize, update: &[i16]) -> String {
        let me = account_of(&self.trainers[who]).0;
        let c = Committer::new().commit_update(&me, update);
        self.market
            .commit_update(&self.trainers[who], project, round, c)
            .await
            .unwrap();
        let cid = self
            .ipfs
            .add(file(Kind::Update, update.to_vec()).encode())
            .await
            .unwrap();
        cid.to_string()
    }

    async fn reveal(&self, project: u32, round: u32, who: usize, cid: &str) {
        self.market
            .reveal_update(&self.trainers[who], project, round, cid.as_bytes())
            .await
            .unwrap();
    }

    /// The aggregator's side of a round: fetch every revealed update from IPFS, check it
    /// against its on-chain commitment (setting aside a reveal that does not open), run
    /// the rule, prove it, publish the new model.
    async fn aggregate(&self, project: u32, prev_model: &[i16]) -> (Finalization, Vec<i16>) {
        let v = self.market.project(project).await.unwrap();
        let mut trainers = vec![[0u8; 32]; SLOTS];
        let mut updates = vec![None; SLOTS];
        for s in self.market.round_slots(project, v.round).await.unwrap() {
            trainers[s.slot as usize] = s.account;
            if let Some(cid) = s.cid {
                let cid = parse_cid(std::str::from_utf8(&cid).unwrap()).unwrap();
                let bytes = self.ipfs.get(&cid, 1 << 20).await.unwrap();
                let values = ModelFile::parse(&bytes).unwrap().values;
                if Some(Committer::new().commit_update(&s.account, &values)) == s.commitment {
                    updates[s.slot as usize] = Some(values);
                } else {
                    self.market
                        .set_aside(&self.aggregator, project, v.round, s.slot)
                        .await
                        .unwrap();
                }
            }
        }
        let w = RoundWitness::new(
            self.rule,
            project,
            v.round,
            trainers,
            prev_model.to_vec(),
            updates,
        )
        .unwrap();
        let new_model = w.outcome.new_model.clone();
        let (proof, claims, _) = prove_round(&self.pk, w).unwrap();
        let mut proof_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&proof, &mut proof_bytes).unwrap();
        let model_cid = self
            .ipfs
            .add(file(Kind::Model, new_model.clone()).encode())
            .await
            .unwrap();
        let f = Finalization {
            chunked: None,
            round: v.round,
            model_cid: model_cid.to_string().into_bytes(),
            model_commitment: claims.new_model,
            scores: claims.scores,
            accepted: claims.accepted,
            proof: proof_bytes,
        };
        (f, new_model)
    }

    async fn blocks(&self, n: usize) {
        self.market
            .advance_blocks(&self.stranger, n as u32)
            .await
            .unwrap();
    }
}

fn file(kind: Kind, values: Vec<i16>) -> ModelFile {
    merit_tests::flat_file(kind, values)
}

/// The protocol's settlement for the trainers' totals as the chain reports them.
fn expected_claims(
    totals: &[merit_protocol::abi::TrainerView],
    outcome: reward::Outcome,
) -> reward::Claims {
    merit_tests::Escrow {
        pool: POOL,
        fee: FEE,
        bond: BOND,
        stake: STAKE,
        max_rejected_rounds: 0,
    }
    .settle(totals, outcome)
}

async fn assert_claims(m: &Marketplace, id: u32, w: &World, want: &reward::Claims) {
    let mut parties = vec![
        ("owner", &w.owner, want.owner),
        ("aggregator", &w.aggregator, want.aggregator),
    ];
    for (t, owed) in w.trainers.iter().zip(&want.trainers) {
        parties.push(("trainer", t, *owed));
    }
    for (role, signer, owed) in parties {
        let got = m.claimable(id, &account_of(signer)).await.unwrap();
        if role == "owner" {
            // The score split's rounding remainder (under a unit per trainer) is credited
            // to the owner with the last scored trainer's claim.
            let short = owed - got;
            assert!(short < w.trainers.len() as u128, "owner short by {short}");
        } else {
            assert_eq!(got, owed, "{role} {}", account_of(signer));
        }
    }
}

fn refused(e: ChainError) -> MarketError {
    match e {
        ChainError::Contract { error, .. } => error,
        other => panic!("expected a contract refusal, got {other}"),
    }
}

fn honest_update(who: usize, round: u32) -> Vec<i16> {
    (0..DIM)
        .map(|i| ((i as i32 * 7 + who as i32 * 4 + round as i32 * 5) % 41 - 20) as i16)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_project_on_chain_with_real_proofs_pays_out_exactly() {
    let mut transcripts = Vec::new();
    for backend in backends() {
        let env = TestEnv::up(backend).await;
        eprintln!("full project on the {} chain", env.kind());
        transcripts.push((env.kind(), full_project(&env).await));
    }
    // Where both chains ran (the node is installed), they must agree.
    if let [(_, embedded), (_, node)] = &transcripts[..] {
        embedded.assert_equivalent(node);
    }
}

/// What one run of the full project saw, to compare the embedded chain with the node:
/// every refusal by name, the contract's finalisation events, the claims, and weights.
#[derive(Debug, Default)]
struct Transcript {
    refusals: Vec<MarketError>,
    events: Vec<MarketEvent>,
    claims: Vec<u128>,
    weights: Vec<Weight>,
}

impl Transcript {
    fn refused(&mut self, e: ChainError) -> MarketError {
        let e = refused(e);
        self.refusals.push(e);
        e
    }

    /// Same errors, events and money; `finalize_round`'s ref_time within 1 %. Round proofs
    /// are randomised, so a forged proof (one flipped byte) may decode to an invalid point
    /// (`MalformedProof`) in one run and to a valid but wrong one (`BadProof`) in another:
    /// those two count as the same refusal, and weights differ by a few millionths.
    fn assert_equivalent(&self, node: &Transcript) {
        let forged = |v: &[MarketError]| -> Vec<MarketError> {
            v.iter()
                .map(|e| match e {
                    MarketError::MalformedProof => MarketError::BadProof,
                    other => *other,
                })
                .collect()
        };
        assert_eq!(
            forged(&self.refusals),
            forged(&node.refusals),
            "refusals differ"
        );
        assert_eq!(self.events, node.events, "events differ");
        assert_eq!(self.claims, node.claims, "claims differ");
        assert_eq!(self.weights.len(), node.weights.len());
        for (e, n) in self.weights.iter().zip(&node.weights) {
            let gap = (e.ref_time as f64 - n.ref_time as f64).abs() / n.ref_time as f64;
            assert!(
                gap <= 0.01,
                "finalize_round ref_time: embedded {} vs node {} ({:.2} %)",
                e.ref_time,
                n.ref_time,
                100.0 * gap
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_embedded_runs_agree_as_the_equivalence_check_demands() {
    // The embedded-vs-node check compares two runs of the same story; two runs on the
    // embedded chain must pass it too, or the check itself would be wrong.
    let a = full_project(&TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await).await;
    let b = full_project(&TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await).await;
    a.assert_equivalent(&b);
    assert!(a.refusals.len() >= 20 && a.events.len() >= 3 && a.claims.len() >= 5);
}

async fn full_project(env: &TestEnv) -> Transcript {
    let mut t = Transcript::default();
    let w = World::new(env).await;
    let m = &w.market;
    let chain = m;
    let escrow_before = chain.free_balance(m.address()).await.unwrap();

    let deadlines = Deadlines {
        join: 50,
        commit: 20,
        reveal: 20,
        aggregate: 20,
    };
    let id = w.create(2, deadlines).await;
    // Join, bond, start; a wrong stake is refused by name and costs nothing.
    let e = m.join(&w.trainers[0], id, STAKE - 1).await.unwrap_err();
    assert_eq!(t.refused(e), MarketError::WrongValue);
    for (i, t) in w.trainers.iter().enumerate() {
        assert_eq!(m.join(t, id, STAKE).await.unwrap(), i as u32);
    }
    let e = m.start(&w.owner, id).await.unwrap_err();
    assert_eq!(
        t.refused(e),
        MarketError::NotReady,
        "the bond is still missing"
    );
    let e = m.bond(&w.stranger, id, BOND).await.unwrap_err();
    assert_eq!(t.refused(e), MarketError::NotAggregator);
    m.bond(&w.aggregator, id, BOND).await.unwrap();
    m.start(&w.owner, id).await.unwrap();
    assert_eq!(
        chain.free_balance(m.address()).await.unwrap(),
        escrow_before + POOL + BOND + 4 * STAKE
    );

    let mut model = World::initial_model();
    let mut weights: Vec<Weight> = Vec::new();
    for round in 0..2u32 {
        // Round 0: trainer 3 sends a scaled (poisoned) update.
        let mut cids = Vec::new();
        for who in 0..SLOTS {
            let mut u = honest_update(who, round);
            if round == 0 && who == 3 {
                u.iter_mut().for_each(|x| *x = x.saturating_mul(100));
            }
            cids.push(w.commit(id, round, who, &u).await);
        }
        assert_eq!(m.project(id).await.unwrap().phase, Phase::Reveal);
        // Someone else's CID cannot be revealed by a non-committer; a reveal is the committer's.
        let e = m
            .reveal_update(&w.stranger, id, round, cids[0].as_bytes())
            .await
            .unwrap_err();
        assert_eq!(t.refused(e), MarketError::NotTrainer);
        // Round 1: trainer 3 reveals trainer 0's file instead of its own.
        for (who, cid) in cids.iter().enumerate() {
            let cid = if round == 1 && who == 3 {
                &cids[0]
            } else {
                cid
            };
            w.reveal(id, round, who, cid).await;
        }
        assert_eq!(m.project(id).await.unwrap().phase, Phase::Aggregate);
        if round == 1 {
            let e = m.set_aside(&w.stranger, id, round, 3).await.unwrap_err();
            assert_eq!(t.refused(e), MarketError::NotAggregator);
        }

        let (f, new_model) = w.aggregate(id, &model).await;
        let set_aside: Vec<bool> = m
            .round_slots(id, round)
            .await
            .unwrap()
            .iter()
            .map(|s| s.set_aside)
            .collect();
        assert_eq!(set_aside, [false, false, false, round == 1]);
        assert!(!f.accepted[3], "round {round}: slot 3 is not accepted");
        assert_eq!(f.scores[3], 0);
        if round == 1 {
            // The copied reveal did not open against trainer 3's commitment.
            let e = m.set_aside(&w.aggregator, id, round, 3).await.unwrap_err();
            assert_eq!(t.refused(e), MarketError::AlreadySetAside);
            let e = m.set_aside(&w.aggregator, id, round, 7).await.unwrap_err();
            assert_eq!(t.refused(e), MarketError::NotRevealed);
            // The round cannot close while trainer 3 may answer; the copied file does not
            // answer it (it does not open trainer 3's commitment), so its window runs out.
            let e = m.finalize_round(&w.aggregator, id, &f).await.unwrap_err();
            assert_eq!(t.refused(e), MarketError::AnswerWindowOpen);
            let e = m
                .answer_set_aside(&w.trainers[3], id, (round, 3), &honest_update(0, 1), None)
                .await
                .unwrap_err();
            assert_eq!(t.refused(e), MarketError::AnswerDoesNotOpen);
            w.blocks(deadlines.reveal as usize + 1).await;
        }
        assert!(f.accepted[..3].iter().all(|&a| a), "{:?}", f.accepted);
        assert!(f.scores[..3].iter().all(|&s| s > 0), "{:?}", f.scores);

        // Refused by the contract's own proof check, each by name, changing nothing:
        let mut forged = f.clone();
        forged.proof[10] ^= 0x01;
        let e = t.refused(
            m.finalize_round(&w.aggregator, id, &forged)
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(e, MarketError::BadProof | MarketError::MalformedProof),
            "{e:?}"
        );
        let mut inflated = f.clone();
        let s0 = inflated.scores[0];
        inflated.scores[0] = if s0 < 1000 { s0 + 1 } else { s0 - 1 };
        let e = m
            .finalize_round(&w.aggregator, id, &inflated)
            .await
            .unwrap_err();
        assert_eq!(t.refused(e), MarketError::BadProof);
        let mut other_model = f.clone();
        other_model.model_commitment = Committer::new().commit_model(&[1, 2, 3]);
        let e = m
            .finalize_round(&w.aggregator, id, &other_model)
            .await
            .unwrap_err();
        assert_eq!(t.refused(e), MarketError::BadProof);
        let mut short = f.clone();
        short.scores.pop();
        let e = m
            .finalize_round(&w.aggregator, id, &short)
            .await
            .unwrap_err();
        assert_eq!(t.refused(e), MarketError::BadLengths);
        let e = m.finalize_round(&w.stranger, id, &f).await.unwrap_err();
        assert_eq!(t.refused(e), MarketError::NotAggregator);
        assert_eq!(m.project(id).await.unwrap().round, round);

        weights.push(m.estimate_finalize(&w.aggregator, id, &f).await.unwrap());
        let events = m.finalize_round(&w.aggregator, id, &f).await.unwrap();
        t.events.extend(events.iter().cloned());
        assert!(events.iter().any(|e| matches!(
            e,
            MarketEvent::RoundFinalized(e) if e.round == round && e.scores == f.scores
        )));
        // Replaying the accepted proof is refused.
        let e = m.finalize_round(&w.aggregator, id, &f).await.unwrap_err();
        assert_eq!(t.refused(e), MarketError::WrongPhase);
        let rec = m.round_record(id, round).await.unwrap().expect("recorded");
        assert_eq!(rec.model_commitment, f.model_commitment);
        model = new_model;
    }
    for (round, wt) in weights.iter().enumerate() {
        eprintln!(
            "finalize_round (round {round}, {SLOTS} slots): ref_time {} ({:.1} % of the block), proof_size {}",
            wt.ref_time,
            100.0 * wt.ref_time as f64 / BLOCK_REF_TIME,
            wt.proof_size
        );
    }

    let v = m.project(id).await.unwrap();
    assert_eq!((v.phase, v.round), (Phase::Finished, 2));
    let totals = m.trainers(id).await.unwrap();
    // Rejected once (round 0, proven); the set-aside round 1 is no rejection.
    assert_eq!(
        (totals[3].rejected_rounds, totals[3].missed_reveal),
        (1, false)
    );
    assert_eq!(totals[3].total_score, 0);
    // Claims are exactly the protocol's settlement of the chain's totals.
    let want = expected_claims(&totals, reward::Outcome::Finished);
    assert_claims(m, id, &w, &want).await;
    // Trainer 3 scored nothing and was rejected with max_rejected_rounds = 0: its stake is
    // forfeited, so it has nothing to claim.
    assert_eq!(want.trainers[3], 0);

    // Claims: everyone collects; the sum is every deposit, the escrow drains to where it was.
    let mut paid = 0u128;
    // Trainers first: the last scored one's claim credits the owner the split's remainder.
    let mut everyone: Vec<_> = w.trainers.iter().collect();
    everyone.extend([&w.owner, &w.aggregator]);
    for s in everyone {
        let owed = m.claimable(id, &account_of(s)).await.unwrap();
        match m.claim(s, id).await {
            Ok(got) => {
                assert_eq!(got, owed);
                t.claims.push(got);
                paid += got;
            }
            Err(e) => {
                assert_eq!(owed, 0);
                assert_eq!(t.refused(e), MarketError::NothingToClaim);
            }
        }
    }
    assert_eq!(paid, POOL + BOND + 4 * STAKE);
    let e = m.claim(&w.trainers[0], id).await.unwrap_err();
    assert_eq!(t.refused(e), MarketError::NothingToClaim);
    assert_eq!(
        chain.free_balance(m.address()).await.unwrap(),
        escrow_before
    );
    t.weights = weights;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_aggregator_is_aborted_and_proven_work_is_still_paid() {
    for backend in backends() {
        let env = TestEnv::up(backend).await;
        eprintln!("silent aggregator on the {} chain", env.kind());
        silent_aggregator(&env).await;
    }
}

async fn silent_aggregator(env: &TestEnv) {
    let w = World::new(env).await;
    let m = &w.market;
    let chain = m;
    let escrow_before = chain.free_balance(m.address()).await.unwrap();
    let deadlines = Deadlines {
        join: 50,
        commit: 20,
        reveal: 3,
        aggregate: 6,
    };
    let id = w.create(3, deadlines).await;
    m.bond(&w.aggregator, id, BOND).await.unwrap();
    for t in &w.trainers[..3] {
        m.join(t, id, STAKE).await.unwrap();
    }
    m.start(&w.owner, id).await.unwrap();

    // Round 0 is proven.
    let model = World::initial_model();
    let mut cids = Vec::new();
    for who in 0..3 {
        cids.push(w.commit(id, 0, who, &honest_update(who, 0)).await);
    }
    for (who, cid) in cids.iter().enumerate() {
        w.reveal(id, 0, who, cid).await;
    }
    let (f, _) = w.aggregate(id, &model).await;
    m.finalize_round(&w.aggregator, id, &f).await.unwrap();

    // Round 1: trainer 2 commits and never reveals; the aggregator then goes silent.
    let c0 = w.commit(id, 1, 0, &honest_update(0, 1)).await;
    let c1 = w.commit(id, 1, 1, &honest_update(1, 1)).await;
    w.commit(id, 1, 2, &honest_update(2, 1)).await;
    w.reveal(id, 1, 0, &c0).await;
    w.reveal(id, 1, 1, &c1).await;
    let e = m.abort(&w.stranger, id).await.unwrap_err();
    assert_eq!(refused(e), MarketError::WrongPhase);
    w.blocks(4).await; // past the reveal deadline
    assert_eq!(m.project(id).await.unwrap().phase, Phase::Aggregate);
    let e = m.abort(&w.stranger, id).await.unwrap_err();
    assert_eq!(refused(e), MarketError::TooEarly);
    w.blocks(5).await; // past the aggregation deadline
    m.abort(&w.stranger, id).await.unwrap();
    assert_eq!(m.project(id).await.unwrap().phase, Phase::Aborted);
    assert!(m.trainers(id).await.unwrap()[2].missed_reveal);

    // One of three rounds proven: a third of the fee and of the rewards are paid; the bond
    // and the rest go back to the owner; trainer 2's stake is forfeited.
    let totals = m.trainers(id).await.unwrap();
    let want = expected_claims(
        &totals,
        reward::Outcome::Aborted {
            rounds_done: 1,
            rounds_total: 3,
            aggregator_at_fault: true,
        },
    );
    assert_eq!(want.aggregator, FEE / 3);
    assert_claims(m, id, &w, &want).await;
    let mut paid = 0;
    let mut everyone: Vec<_> = w.trainers[..3].iter().collect();
    everyone.extend([&w.owner, &w.aggregator]);
    for s in everyone {
        paid += m.claim(s, id).await.unwrap();
    }
    assert_eq!(paid, POOL + BOND + 3 * STAKE);
    assert_eq!(
        chain.free_balance(m.address()).await.unwrap(),
        escrow_before
    );
}
