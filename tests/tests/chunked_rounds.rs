//! Chunked rounds (protocol v4) on a real chain (the embedded one) and a real IPFS daemon.
//!
//! 1. A project whose model has more than 50k parameters (a 64-900-3 MLP, 61,203
//!    parameters, 8 chunks of 8,192): the owner posts it with `--chunk` (the proof shape is
//!    set up once and registered; its key file goes into IPFS), three trainer nodes train
//!    with candle and commit v4, the aggregator node proves every chunk and the decision
//!    and closes the round in several extrinsics; claims pay out, `verify_round` agrees.
//!    A second project of the same shape then opens with no setup at all.
//! 2. What the contract's chunked messages weigh for the 79,510-parameter shape (N = 8,
//!    K = 10): the weight depends on N and K, not on the chunk size, so 10 chunks of 16
//!    parameters, proven with real circuits, measure it in seconds.

use merit_aggregator::VerifyOptions;
use merit_chain::client::account_of;
use merit_chain::marketplace::{ChunkedProofs, Finalization, CHUNK_PROOFS_PER_CALL};
use merit_chain::{dev_signer, Signer};
use merit_cli::chain::ChainChoice;
use merit_cli::owner;
use merit_protocol::abi::{ChunkedParams, Deadlines, MarketError, Phase, ProjectParams};
use merit_protocol::chunked::Scheme;
use merit_protocol::rule::RuleParams;
use merit_protocol::spec::ProjectSpec;
use merit_prover::chunked::{prove_chunked, setup_chunk, setup_decision, ChunkedRound};
use merit_prover::keys::compressed;
use merit_prover::round::RoundWitness;
use merit_prover::SetupMode;
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{Nodes, TestEnv};
use merit_trainer::data::Dataset;
use std::time::Duration;

/// pallet-contracts' normal-extrinsic budget on both chains: 75 % of a 2e12 block.
const NORMAL_BUDGET: u64 = 1_500_000_000_000;

/// 64 inputs, 900 hidden units, 3 classes: 61,203 parameters, above the 50k of the issue.
const SPEC: &str = r#"{
  "version": 2,
  "task": { "name": "blobs64", "kind": "classification" },
  "features": { "inputs": 64, "classes": 3 },
  "model": { "type": "mlp", "input": 64, "hidden": [900], "classes": 3 },
  "training": { "local_epochs": 1, "batch_size": 16, "learning_rate": 0.05,
                "optimizer": "sgd", "clip_norm": 4.0 },
  "fixed_point": { "scale_bits": 10 },
  "rounds": 1,
  "aggregation": { "rule": "angular_krum", "norm_bound": 4.5, "byzantine": 0, "slots": 3 },
  "max_rejected_rounds": 1
}"#;
const CHUNK: u32 = 8_192;

/// Three Gaussian blobs in 64-d; `seed` makes each trainer's sample its own.
fn blobs(seed: u64, n: usize) -> Dataset {
    let mut d = Dataset::new(64, 3);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    for i in 0..n {
        let label = (i % 3) as u32;
        let row: Vec<f32> = (0..64)
            .map(|j| if j % 3 == label as usize { 1.0 } else { 0.0 } + 0.4 * next())
            .collect();
        d.push(&row, label);
    }
    d
}

async fn post(
    env: &TestEnv,
    spec: &ProjectSpec,
    owner_signer: &Signer,
    aggregator: &Signer,
    shape: Option<u32>,
) -> owner::Posted {
    owner::post_project(
        &env.market,
        &env.ipfs,
        owner_signer,
        owner::PostProject {
            spec: spec.clone(),
            model: None,
            seed: 11,
            keys: owner::RoundKeysSource::Chunked {
                chunk: CHUNK,
                shape,
            },
            pool: POOL,
            min_trainers: 3,
            trainer_stake: STAKE,
            aggregator: account_of(aggregator).0,
            aggregator_fee: FEE,
            aggregator_bond: BOND,
            deadlines: Deadlines {
                join: 500,
                commit: 500,
                reveal: 500,
                aggregate: 500,
            },
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chunked_project_above_50k_parameters_runs_end_to_end() {
    let env = TestEnv::up(ChainChoice::Embedded).await;
    let spec = ProjectSpec::from_json(SPEC).unwrap();
    assert_eq!(spec.parameter_count(), 61_203);
    let owner_signer = dev_signer("alice").unwrap();
    let aggregator = dev_signer("charlie").unwrap();
    let trainers = ["bob", "dave", "eve"].map(|n| dev_signer(n).unwrap());
    let dir = tempfile::tempdir().unwrap();

    let t = std::time::Instant::now();
    let posted = post(&env, &spec, &owner_signer, &aggregator, None).await;
    eprintln!(
        "posted project {} (shape {:?}, setup {:?} s) in {:.1} s",
        posted.project,
        posted.shape,
        posted.setup_seconds,
        t.elapsed().as_secs_f64()
    );
    assert!(
        posted.setup_seconds.is_some(),
        "the first project of the shape sets it up"
    );
    let id = posted.project;
    let view = env.market.project(id).await.unwrap();
    let statement = view.chunked.expect("a chunked project");
    assert_eq!((statement.chunk, statement.dim), (CHUNK, 61_203));
    assert!(view.verifying_key.is_empty(), "no key of its own");
    let shape = env.market.shape(statement.shape).await.unwrap();
    assert_eq!((shape.slots, shape.chunk), (3, CHUNK));
    assert_eq!(shape.keys_cid, view.params.proving_key_cid);

    let nodes = Nodes::start(
        &env,
        id,
        &spec,
        &aggregator,
        trainers
            .iter()
            .enumerate()
            .map(|(who, s)| (s.clone(), blobs(200 + who as u64, 60)))
            .collect(),
        dir.path(),
        Duration::from_millis(200),
    )
    .await;
    env.market.start(&owner_signer, id).await.unwrap();
    let (earned, summary) = nodes.finish(Duration::from_secs(1500)).await;
    assert_eq!(summary.phase, Phase::Finished);
    let v = env.market.project(id).await.unwrap();
    assert_eq!((v.phase, v.round), (Phase::Finished, 1));
    let record = env.market.round_record(id, 0).await.unwrap().unwrap();
    assert!(record.accepted.iter().all(|a| *a), "{record:?}");
    assert!(earned.iter().all(|e| e.claimed > STAKE), "{earned:?}");
    assert!(env.market.claim(&aggregator, id).await.unwrap() >= FEE);
    // The new model opens its v4 commitment, and the round re-verifies from chain + IPFS.
    let r =
        merit_aggregator::verify_round(&env.market, &env.ipfs, id, 0, &VerifyOptions::default())
            .await
            .unwrap();
    assert!(r.agrees(), "verify disagrees: {r:?}");
    let table = merit_cli::project::render_table(
        &merit_cli::project::status(&env.market, id).await.unwrap(),
    );
    assert!(
        table.contains("chunked: shape 0, 61,203 parameters in 8 chunks of 8,192"),
        "{table}"
    );

    // A second project of the same shape: no setup, the same keys; another owner names the
    // shape it trusts, and a shape of another size is refused by name.
    let again = post(&env, &spec, &owner_signer, &aggregator, None).await;
    assert_eq!(again.setup_seconds, None);
    assert_eq!(again.shape, posted.shape);
    assert_eq!(again.proving_key_cid, posted.proving_key_cid);
    let ferdie = dev_signer("ferdie").unwrap();
    let theirs = post(&env, &spec, &ferdie, &aggregator, posted.shape).await;
    assert_eq!((theirs.setup_seconds, theirs.shape), (None, posted.shape));
    let wider = ProjectSpec::from_json(&SPEC.replace(r#""slots": 3"#, r#""slots": 4"#)).unwrap();
    let e = owner::post_project(
        &env.market,
        &env.ipfs,
        &ferdie,
        owner::PostProject {
            spec: wider,
            model: None,
            seed: 1,
            keys: owner::RoundKeysSource::Chunked {
                chunk: CHUNK,
                shape: posted.shape,
            },
            pool: POOL,
            min_trainers: 3,
            trainer_stake: STAKE,
            aggregator: account_of(&aggregator).0,
            aggregator_fee: FEE,
            aggregator_bond: BOND,
            deadlines: Deadlines {
                join: 5,
                commit: 5,
                reveal: 5,
                aggregate: 5,
            },
        },
    )
    .await
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("is for 3 slots in chunks of 8192"),
        "{e:#}"
    );
    assert_eq!(env.market.shape_count().await.unwrap(), 1);
    let listed = merit_cli::project::render_shapes(&env.market.shapes().await.unwrap());
    let keys = String::from_utf8_lossy(&shape.keys_cid).into_owned();
    assert!(
        listed.contains("8,192") && listed.contains(&keys),
        "{listed}"
    );
}

/// Proves one honest round of an N = 8 project with K = 10 chunks of 16 parameters and
/// sends it: the weight of every chunked message for the 79,510-parameter shape (the
/// contract's work depends on N and K only). Every call must fit in a block; the figures
/// are printed for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunked_messages_fit_the_block_for_ten_chunks_and_eight_slots() {
    const N: usize = 8;
    const C: usize = 16;
    const D: usize = 160;
    let env = TestEnv::up(ChainChoice::Embedded).await;
    let m = &env.market;
    let (owner_signer, agg) = (dev_signer("alice").unwrap(), dev_signer("charlie").unwrap());
    let joiners = ["bob", "dave", "eve", "ferdie"].map(|n| dev_signer(n).unwrap());
    let (chunk_pk, chunk_vk) =
        setup_chunk(N, C, SetupMode::InsecureDeterministicForTests(1)).unwrap();
    let (decision_pk, decision_vk) =
        setup_decision(N, SetupMode::InsecureDeterministicForTests(2)).unwrap();
    let key = compressed::<ark_groth16::VerifyingKey<merit_prover::ark_bn254::Bn254>>;
    let cid = b"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".to_vec();
    let shape = m
        .register_shape(
            &owner_signer,
            N as u32,
            C as u32,
            &key(&chunk_vk),
            &key(&decision_vk),
            &cid,
        )
        .await
        .unwrap();
    let rule = RuleParams::new(N, D, 1, 1 << 40);
    let statement = ChunkedParams::new(shape, C as u32, &rule);
    let scheme = Scheme::of(Some(&statement)).unwrap();
    let model: Vec<i16> = (0..D as i16).map(|i| i % 17 - 8).collect();
    let params = ProjectParams {
        spec_cid: cid.clone(),
        model_cid: cid.clone(),
        model_commitment: scheme.commit_model(&model).unwrap(),
        proving_key_cid: cid.clone(),
        rounds: 1,
        min_trainers: 4,
        slots: N as u32,
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
    let id = m
        .create_chunked_project(&owner_signer, &params, &statement, POOL)
        .await
        .unwrap();
    m.bond(&agg, id, BOND).await.unwrap();
    let mut accounts = vec![[0u8; 32]; N];
    let mut updates = vec![None; N];
    for (i, t) in joiners.iter().enumerate() {
        let slot = m.join(t, id, STAKE).await.unwrap() as usize;
        accounts[slot] = account_of(t).0;
        let u: Vec<i16> = (0..D).map(|j| ((j * (i + 3)) % 41) as i16 - 20).collect();
        updates[slot] = Some(u);
    }
    m.start(&owner_signer, id).await.unwrap();
    for (slot, t) in joiners.iter().enumerate() {
        let u = updates[slot].as_ref().unwrap();
        let c = scheme.commit_update(&accounts[slot], u).unwrap();
        m.commit_update(t, id, 0, c).await.unwrap();
    }
    for t in &joiners {
        m.reveal_update(t, id, 0, &cid).await.unwrap();
    }
    let witness = RoundWitness::new(rule, id, 0, accounts, model, updates).unwrap();
    let round = ChunkedRound::new(witness, C).unwrap();
    assert_eq!(round.count(), 10);
    let (proofs, _) = prove_chunked(&chunk_pk, &decision_pk, &round, |_, _| {}).unwrap();
    let compress = compressed::<ark_groth16::Proof<merit_prover::ark_bn254::Bn254>>;
    let chunk_proofs: Vec<Vec<u8>> = proofs.chunks.iter().map(compress).collect();
    let claims = round.claims();

    // A batch in the wrong order is refused by name before anything is spent on it.
    let pct = |w: u64| 100.0 * w as f64 / NORMAL_BUDGET as f64;
    let submit = m
        .submit_chunked_round(
            &agg,
            id,
            0,
            &cid,
            &proofs.submission,
            &compress(&proofs.decision),
        )
        .await
        .unwrap();
    eprintln!(
        "submit_chunked_round (4 of 8 slots present, K = 10): ref_time {} ({:.1} % of the normal budget), proof_size {}",
        submit.ref_time,
        pct(submit.ref_time),
        submit.proof_size
    );
    assert!(
        submit.ref_time < NORMAL_BUDGET,
        "a call must fit in a block"
    );
    let swapped = [chunk_proofs[1].clone(), chunk_proofs[0].clone()];
    let e = m
        .verify_chunk_proofs(&agg, id, 0, 0, &swapped)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            merit_chain::ChainError::Contract {
                error: MarketError::BadChunkProof { chunk: 0 },
                ..
            }
        ),
        "{e}"
    );

    // Weights per batch size: 1 and 2 proofs per call sent here; then the client's
    // `finalize_chunked`, as the aggregator node calls it, resumes from what the chain
    // holds (no second submission) and sends the rest in calls of CHUNK_PROOFS_PER_CALL.
    let mut first = 0usize;
    for size in [1usize, 2] {
        let (remaining, w) = m
            .verify_chunk_proofs(
                &agg,
                id,
                0,
                first as u32,
                &chunk_proofs[first..first + size],
            )
            .await
            .unwrap();
        eprintln!(
            "verify_chunk_proofs of {size}: ref_time {} ({:.1} % of the normal budget), proof_size {}",
            w.ref_time,
            pct(w.ref_time),
            w.proof_size
        );
        assert!(w.ref_time < NORMAL_BUDGET, "a call must fit in a block");
        first += size;
        assert_eq!(remaining as usize, 10 - first);
    }
    // `merit project status` shows the round half verified.
    let table = merit_cli::project::render_table(&merit_cli::project::status(m, id).await.unwrap());
    assert!(table.contains("chunk proofs verified: 3 of 10"), "{table}");
    let finalization = Finalization {
        round: 0,
        model_cid: cid.clone(),
        model_commitment: claims.new_model,
        scores: claims.scores.clone(),
        accepted: claims.accepted.clone(),
        proof: compress(&proofs.decision),
        chunked: Some(ChunkedProofs {
            submission: proofs.submission.clone(),
            chunk_proofs: chunk_proofs.clone(),
        }),
    };
    let (events, weights) = m
        .finalize_chunked(&agg, id, &finalization, CHUNK_PROOFS_PER_CALL)
        .await
        .unwrap();
    assert_eq!(
        weights.submit, None,
        "the chain held the submission already"
    );
    assert_eq!(weights.verify.len(), 3, "7 proofs left, in calls of 3");
    for (w, size) in weights.verify.iter().zip([3, 3, 1]) {
        eprintln!(
            "verify_chunk_proofs of {size}: ref_time {} ({:.1} % of the normal budget), proof_size {}",
            w.ref_time,
            pct(w.ref_time),
            w.proof_size
        );
    }
    // The per-call batch is chosen so that every call stays within a quarter of the budget
    // (weights are deterministic: this is the constant's contract, not a timing).
    assert!(
        weights.heaviest().ref_time <= NORMAL_BUDGET / 4,
        "{weights:?}"
    );
    let fin = weights.finalize.unwrap();
    eprintln!(
        "finalize_chunked_round: ref_time {} ({:.1} %), proof_size {}",
        fin.ref_time,
        pct(fin.ref_time),
        fin.proof_size
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, merit_chain::marketplace::MarketEvent::RoundFinalized(_))));
    let record = m.round_record(id, 0).await.unwrap().unwrap();
    assert_eq!(record.model_commitment, claims.new_model);
    assert_eq!(m.pending_round(id).await.unwrap(), None);
    assert_eq!(m.project(id).await.unwrap().phase, Phase::Finished);
}
