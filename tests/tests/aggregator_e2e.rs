//! The aggregator node end to end, on the embedded chain and a real IPFS daemon: the node
//! bonds, aggregates a 2-round project in which one trainer reveals another's file in
//! round 0 (set aside with its reason), and ends with the project; `verify_round` agrees
//! with every round, item by item, including the proof bytes from the round report; another
//! round's report does not verify; a restarted node does nothing. And a node that dies
//! between proving and finalising sends the stored proof on restart without proving again.

use merit_aggregator::report::SlotCheck;
use merit_aggregator::state::StateFile;
use merit_aggregator::{
    run_aggregator, verify_round, Aggregator, AggregatorConfig, ItemStatus, RoundStep,
    VerifyOptions,
};
use merit_chain::{account_of, dev_signer, Marketplace};
use merit_cli::chain::embedded_marketplace;
use merit_cli::devnet::IpfsDaemon;
use merit_protocol::abi::{Deadlines, Phase, ProjectParams};
use merit_protocol::commit::Committer;
use merit_protocol::format::{Kind, ModelFile};
use merit_protocol::rule::RuleParams;
use merit_protocol::spec::ProjectSpec;
use merit_prover::round::setup_round;
use merit_prover::{keys, SetupMode};
use merit_storage::IpfsStore;
use std::time::Duration;

const SPEC: &str = r#"{
  "version": 2,
  "task": { "name": "tiny", "kind": "classification" },
  "features": { "inputs": 2, "classes": 2 },
  "model": { "type": "mlp", "input": 2, "hidden": [2], "classes": 2 },
  "training": { "local_epochs": 1, "batch_size": 4, "learning_rate": 0.1, "optimizer": "sgd", "clip_norm": 4.0 },
  "fixed_point": { "scale_bits": 10 },
  "rounds": 2,
  "aggregation": { "rule": "angular_krum", "norm_bound": 4.5, "byzantine": 0, "slots": 4 },
  "max_rejected_rounds": 1
}"#;

const STAKE: u128 = 1_000_000_000_000;
const BOND: u128 = 2_000_000_000_000;
/// The reveal deadline, which is also how long a set-aside can be answered.
const ANSWER_WINDOW: u32 = 30;

fn update(who: usize, round: u32, dim: usize) -> Vec<i16> {
    (0..dim)
        .map(|i| ((i * 7 + who * 4 + round as usize * 5) % 41) as i16 - 20)
        .collect()
}

fn file(kind: Kind, spec: &ProjectSpec, values: Vec<i16>) -> Vec<u8> {
    ModelFile {
        kind,
        scale_bits: 10,
        tensors: spec.tensor_shapes(),
        values,
        floats: None,
    }
    .encode()
}

async fn wait_for(
    market: &Marketplace,
    id: u32,
    f: impl Fn(&merit_protocol::abi::ProjectView) -> bool,
) {
    for _ in 0..3000 {
        let v = market.project(id).await.unwrap();
        if f(&v) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting");
}

async fn trainers_side(
    market: &Marketplace,
    ipfs: &IpfsStore,
    id: u32,
    spec: &ProjectSpec,
    dim: usize,
) {
    let owner = dev_signer("alice").unwrap();
    let ts: Vec<_> = ["bob", "dave", "eve", "ferdie"]
        .iter()
        .map(|n| dev_signer(n).unwrap())
        .collect();
    for t in &ts {
        market.join(t, id, STAKE).await.unwrap();
    }
    wait_for(market, id, |v| v.aggregator_bonded).await;
    market.start(&owner, id).await.unwrap();
    let c = Committer::new();
    for round in 0..2u32 {
        wait_for(market, id, |v| v.round == round && v.phase == Phase::Commit).await;
        let mut cids = Vec::new();
        for (who, t) in ts.iter().enumerate() {
            let u = update(who, round, dim);
            market
                .commit_update(t, id, round, c.commit_update(&account_of(t).0, &u))
                .await
                .unwrap();
            cids.push(
                ipfs.add(file(Kind::Update, spec, u))
                    .await
                    .unwrap()
                    .to_string(),
            );
        }
        for (who, t) in ts.iter().enumerate() {
            // In round 0 ferdie reveals bob's file: it does not open ferdie's commitment.
            let cid = if round == 0 && who == 3 {
                &cids[0]
            } else {
                &cids[who]
            };
            market
                .reveal_update(t, id, round, cid.as_bytes())
                .await
                .unwrap();
        }
        if round == 0 {
            // The aggregator sets ferdie's reveal aside; bob's file does not answer it
            // either, so ferdie's answer window runs out and the round can close.
            let set_aside = async {
                for _ in 0..3000 {
                    if market.round_slots(id, 0).await.unwrap()[3].set_aside {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!("slot 3 was never set aside");
            };
            set_aside.await;
            let e = market
                .answer_set_aside(&ts[3], id, (0, 3), &update(0, 0, dim), None)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    merit_chain::ChainError::Contract {
                        error: merit_protocol::abi::MarketError::AnswerDoesNotOpen,
                        ..
                    }
                ),
                "{e}"
            );
            market
                .advance_blocks(&owner, ANSWER_WINDOW + 1)
                .await
                .unwrap();
        }
    }
}

/// Posts a project for `SPEC` (with `rounds` and the aggregator's `bond`); returns its id.
async fn create(
    market: &Marketplace,
    ipfs: &IpfsStore,
    spec: &ProjectSpec,
    rounds: u32,
    bond: u128,
) -> u32 {
    let rule = RuleParams::from_spec(spec);
    let dim = rule.dim;
    let (pk, vk) = setup_round(rule, SetupMode::InsecureDeterministicForTests(3)).unwrap();
    let mut vk_bytes = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut vk_bytes).unwrap();
    let pk_cid = ipfs
        .add(keys::write_proving_key(&pk))
        .await
        .unwrap()
        .to_string();
    let spec_cid = ipfs
        .add(spec.to_json().into_bytes())
        .await
        .unwrap()
        .to_string();
    let g: Vec<i16> = (0..dim as i16).map(|i| i * 3 - 20).collect();
    let model_cid = ipfs
        .add(file(Kind::Model, spec, g.clone()))
        .await
        .unwrap()
        .to_string();
    let charlie = dev_signer("charlie").unwrap();
    let params = ProjectParams {
        spec_cid: spec_cid.into_bytes(),
        model_cid: model_cid.into_bytes(),
        model_commitment: Committer::new().commit_model(&g),
        proving_key_cid: pk_cid.into_bytes(),
        rounds,
        min_trainers: 2,
        slots: 4,
        trainer_stake: STAKE,
        aggregator: account_of(&charlie).0,
        aggregator_fee: 0,
        aggregator_bond: bond,
        max_rejected_rounds: 1,
        deadlines: Deadlines {
            join: 1000,
            commit: 1000,
            reveal: ANSWER_WINDOW,
            aggregate: 1000,
        },
    };
    let alice = dev_signer("alice").unwrap();
    let id = market
        .create_project(&alice, &params, &vk_bytes, 9_000_000_000_000_000)
        .await
        .unwrap();
    let v = market.project(id).await.unwrap();
    assert_eq!(
        v.verifying_key,
        merit_protocol::verifier::prepare(&vk_bytes).unwrap()
    );
    id
}

async fn env(dir: &std::path::Path) -> (IpfsDaemon, IpfsStore, Marketplace) {
    let daemon = IpfsDaemon::start(dir, Duration::from_secs(90))
        .await
        .unwrap();
    let ipfs = daemon.store().unwrap();
    let (_chain, market) = embedded_marketplace(None).await.unwrap();
    (daemon, ipfs, market)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregator_runs_a_project_and_verify_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, ipfs, market) = env(dir.path()).await;
    let spec = ProjectSpec::from_json(SPEC).unwrap();
    let dim = RuleParams::from_spec(&spec).dim;
    let charlie = dev_signer("charlie").unwrap();
    let id = create(&market, &ipfs, &spec, 2, BOND).await;
    let state_dir = dir.path().join("agg");
    let mut config = AggregatorConfig::new(id, &state_dir);
    config.poll = Duration::from_millis(100);
    let agg = Aggregator {
        market: &market,
        ipfs: &ipfs,
        signer: &charlie,
        config,
        evaluator: None,
    };
    let (summary, ()) = tokio::join!(
        run_aggregator(&agg),
        trainers_side(&market, &ipfs, id, &spec, dim)
    );
    let summary = summary.unwrap();
    assert_eq!(summary.phase, Phase::Finished);
    assert_eq!(summary.rounds.len(), 2);
    let r0 = &summary.rounds[0];
    let rep0 = r0.report.as_ref().unwrap();
    assert_eq!(
        rep0.slots[3].check,
        SlotCheck::SetAside {
            reason: Some(merit_aggregator::SetAsideReason::WrongCommitment)
        }
    );
    assert_eq!(r0.finalization.accepted, vec![true, true, true, false]);
    println!(
        "round 0 report {} scores {:?}",
        r0.report_cid, r0.finalization.scores
    );
    assert!(market.round_slots(id, 0).await.unwrap()[3].set_aside);
    assert_eq!(summary.rounds[1].finalization.accepted, vec![true; 4]);

    for (round, done) in summary.rounds.iter().enumerate() {
        let rep = verify_round(
            &market,
            &ipfs,
            id,
            round as u32,
            &VerifyOptions {
                report_cid: Some(done.report_cid.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for i in &rep.items {
            println!("round {round}: {:?} {} — {}", i.status, i.what, i.detail);
        }
        assert!(rep.agrees());
        assert!(rep.items.iter().all(|i| i.status == ItemStatus::Agree));
    }
    // The other round's report does not verify this round.
    let wrong = verify_round(
        &market,
        &ipfs,
        id,
        0,
        &VerifyOptions {
            report_cid: Some(summary.rounds[1].report_cid.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!wrong.agrees());

    // Restarting after the end does nothing; the state file records both rounds.
    let again = run_aggregator(&agg).await.unwrap();
    assert!(again.rounds.is_empty());
    let st = StateFile::new(&state_dir, id).load(id).unwrap();
    assert!(st.rounds[&0].finalized && st.rounds[&1].finalized);
    assert!(matches!(
        agg.aggregate_round(
            &merit_aggregator::ProjectContext::load(
                &market,
                &ipfs,
                &market.project(id).await.unwrap(),
                1 << 30
            )
            .await
            .unwrap()
        )
        .await
        .unwrap(),
        RoundStep::NotReady
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_aggregator_sends_the_stored_proof_without_proving_again() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, ipfs, market) = env(dir.path()).await;
    let spec = ProjectSpec::from_json(SPEC).unwrap();
    let dim = RuleParams::from_spec(&spec).dim;
    // One round, no bond: the project can start at once.
    let id = create(&market, &ipfs, &spec, 1, 0).await;
    let owner = dev_signer("alice").unwrap();
    let ts: Vec<_> = ["bob", "dave", "eve"]
        .iter()
        .map(|n| dev_signer(n).unwrap())
        .collect();
    for t in &ts {
        market.join(t, id, STAKE).await.unwrap();
    }
    market.start(&owner, id).await.unwrap();
    let c = Committer::new();
    let mut cids = Vec::new();
    for (who, t) in ts.iter().enumerate() {
        let u = update(who, 0, dim);
        market
            .commit_update(t, id, 0, c.commit_update(&account_of(t).0, &u))
            .await
            .unwrap();
        cids.push(
            ipfs.add(file(Kind::Update, &spec, u))
                .await
                .unwrap()
                .to_string(),
        );
    }
    for (t, cid) in ts.iter().zip(&cids) {
        market
            .reveal_update(t, id, 0, cid.as_bytes())
            .await
            .unwrap();
    }
    assert_eq!(market.project(id).await.unwrap().phase, Phase::Aggregate);

    let charlie = dev_signer("charlie").unwrap();
    let state_dir = dir.path().join("agg");
    let node = || Aggregator {
        market: &market,
        ipfs: &ipfs,
        signer: &charlie,
        config: AggregatorConfig::new(id, &state_dir),
        evaluator: None,
    };
    let ctx = merit_aggregator::ProjectContext::load(
        &market,
        &ipfs,
        &market.project(id).await.unwrap(),
        1 << 30,
    )
    .await
    .unwrap();
    // Proven and saved, then the process "dies" before finalising.
    let first = match node().prepare_round(&ctx).await.unwrap() {
        merit_aggregator::Prepare::Ready(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(!first.resumed && first.report.is_some());
    // A new node with the same state file sends the stored proof.
    let done = match node().aggregate_round(&ctx).await.unwrap() {
        RoundStep::Finalized(d) => d,
        other => panic!("{other:?}"),
    };
    assert!(done.resumed && done.report.is_none());
    assert_eq!(done.finalization, first.finalization);
    assert_eq!(done.report_cid, first.report_cid);
    assert_eq!(market.project(id).await.unwrap().phase, Phase::Finished);
    // And never a second time.
    assert!(matches!(
        node().aggregate_round(&ctx).await.unwrap(),
        RoundStep::NotReady
    ));
    let rep = verify_round(
        &market,
        &ipfs,
        id,
        0,
        &VerifyOptions {
            report_cid: Some(done.report_cid.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(rep.agrees(), "{rep:?}");
}
