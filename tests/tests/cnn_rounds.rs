//! A convolutional network, end to end: a chunked project whose model is a small CNN on the
//! UCI digits as 1 × 8 × 8 images, on a real chain (the embedded one) and a real IPFS
//! daemon. Three trainer nodes train it with candle for two rounds; the aggregator proves
//! every chunk and the decision of each round; everyone claims; `verify_round` agrees for
//! both rounds; and the model the rounds produced classifies held-out digits better than
//! the one the owner posted. The figures (parameters, chunks, setup and round times,
//! accuracy) are printed for the README.

use merit_aggregator::VerifyOptions;
use merit_chain::client::account_of;
use merit_chain::dev_signer;
use merit_cli::chain::ChainChoice;
use merit_cli::owner;
use merit_protocol::abi::{Deadlines, Phase};
use merit_protocol::spec::ProjectSpec;
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{Nodes, TestEnv};
use merit_trainer::data::{self, Dataset, Partition};
use merit_trainer::learner::{CandleModel, Learner};
use merit_trainer::node::load_global;
use std::time::{Duration, Instant};

const TRAINERS: usize = 3;

/// conv 4 × 3 × 3 (same size) → ReLU → pool 2 → conv 8 × 3 × 3 → ReLU → pool 2 → linear:
/// 40 + 296 + 330 = 666 parameters, in 3 chunks of 256.
const SPEC: &str = r#"{
  "version": 2,
  "task": { "name": "digits-cnn", "kind": "classification" },
  "features": { "inputs": 64, "classes": 10 },
  "model": { "type": "cnn", "input": { "channels": 1, "height": 8, "width": 8 },
    "layers": [
      { "type": "conv2d", "out_channels": 4, "kernel": 3, "padding": 1 },
      { "type": "relu" }, { "type": "max_pool2d", "size": 2 },
      { "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1 },
      { "type": "relu" }, { "type": "max_pool2d", "size": 2 },
      { "type": "flatten" }, { "type": "linear", "out": 10 } ],
    "classes": 10 },
  "training": { "local_epochs": 4, "batch_size": 16, "learning_rate": 0.1,
                "optimizer": "sgd", "clip_norm": 4.0 },
  "fixed_point": { "scale_bits": 10 },
  "rounds": 2,
  "aggregation": { "rule": "angular_krum", "norm_bound": 4.5, "byzantine": 0, "slots": 3 },
  "max_rejected_rounds": 1
}"#;
const CHUNK: u32 = 256;

/// The owner's held-out fifth and one IID share per trainer, features scaled to [0, 1].
fn digits() -> (Dataset, Vec<Dataset>) {
    let path = match std::env::var_os("MERIT_DIGITS") {
        Some(p) => p.into(),
        None => merit_cli::tools::digits_csv().expect("the digits"),
    };
    let mut d = data::load_csv(&path, 64, 10).expect("the digits CSV");
    d.scale(16.0);
    let all: Vec<usize> = (0..d.len()).collect();
    let (train, test) = data::stratified_split(&d, &all, data::TEST_FRACTION, data::HOLDOUT_SEED);
    let shares = data::partition(&d, &train, TRAINERS, Partition::Iid, 10, 7).unwrap();
    (
        d.select(&test),
        shares.iter().map(|s| d.select(s)).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chunked_cnn_project_learns_over_two_proven_rounds() {
    let env = TestEnv::up(ChainChoice::Embedded).await;
    let spec = ProjectSpec::from_json(SPEC).unwrap();
    let d = spec.parameter_count();
    assert_eq!(d, 666);
    let (test, shares) = digits();
    let owner_signer = dev_signer("alice").unwrap();
    let aggregator = dev_signer("charlie").unwrap();
    let trainers = ["bob", "dave", "eve"].map(|n| dev_signer(n).unwrap());
    let dir = tempfile::tempdir().unwrap();

    let posted = owner::post_project(
        &env.market,
        &env.ipfs,
        &owner_signer,
        owner::PostProject {
            spec: spec.clone(),
            model: None,
            seed: 11,
            keys: owner::RoundKeysSource::Chunked {
                chunk: CHUNK,
                shape: None,
            },
            pool: POOL,
            min_trainers: TRAINERS as u32,
            trainer_stake: STAKE,
            aggregator: account_of(&aggregator).0,
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
    .unwrap();
    let id = posted.project;
    let view = env.market.project(id).await.unwrap();
    let statement = view.chunked.expect("a chunked project");
    assert_eq!((statement.chunk, statement.dim), (CHUNK, 666));
    let learner = CandleModel::from_spec(&spec);
    let initial = load_global(&env.ipfs, &view, &spec).await.unwrap();
    let before = learner.accuracy(&initial.params, &test).unwrap();

    let nodes = Nodes::start(
        &env,
        id,
        &spec,
        &aggregator,
        trainers.into_iter().zip(shares).collect(),
        dir.path(),
        Duration::from_millis(200),
    )
    .await;
    let started = Instant::now();
    env.market.start(&owner_signer, id).await.unwrap();
    let (earned, summary) = nodes.finish(Duration::from_secs(900)).await;
    let rounds_took = started.elapsed().as_secs_f64();
    assert_eq!(summary.phase, Phase::Finished);
    let v = env.market.project(id).await.unwrap();
    assert_eq!((v.phase, v.round), (Phase::Finished, 2));
    for round in 0..2 {
        let record = env.market.round_record(id, round).await.unwrap().unwrap();
        assert!(
            record.accepted.iter().all(|a| *a),
            "round {round}: {record:?}"
        );
        let r = merit_aggregator::verify_round(
            &env.market,
            &env.ipfs,
            id,
            round,
            &VerifyOptions::default(),
        )
        .await
        .unwrap();
        assert!(r.agrees(), "round {round}: verify disagrees: {r:?}");
    }
    assert!(earned.iter().all(|e| e.claimed > STAKE), "{earned:?}");
    assert!(env.market.claim(&aggregator, id).await.unwrap() >= FEE);

    // The model the two rounds made, as any trainer would load it.
    let last = load_global(&env.ipfs, &v, &spec).await.unwrap();
    let after = learner.accuracy(&last.params, &test).unwrap();
    eprintln!(
        "CNN project {id}: {d} parameters in {} chunks of {CHUNK}, {TRAINERS} trainers; shape \
         setup {:.1} s; two rounds (train, commit, reveal, prove, verify on chain) {rounds_took:.1} s; \
         held-out accuracy {:.1} % → {:.1} % ({} rows)",
        d.div_ceil(u64::from(CHUNK)),
        posted.setup_seconds.unwrap_or(0.0),
        100.0 * before,
        100.0 * after,
        test.len()
    );
    assert!(
        after >= before + 0.3,
        "two rounds should teach the CNN something: {before} → {after}"
    );
}
