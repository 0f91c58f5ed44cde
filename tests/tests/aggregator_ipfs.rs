//! The aggregator's IPFS side against a real daemon (Kubo RPC API), started for each test
//! on a free loopback port: fetching and checking reveals, models, the spec and the
//! proving key. The flow on a chain is in `product_loop.rs`.

use merit_aggregator::check::{fetch_and_check, fetch_revealed, FetchPolicy, Fetched};
use merit_aggregator::project::{fetch_model, load_proving_key, load_spec};
use merit_aggregator::{AggregatorError, SetAsideReason};
use merit_cli::devnet::IpfsDaemon;
use merit_protocol::abi::{Deadlines, Phase, ProjectParams, ProjectView};
use merit_protocol::chunked::Scheme;
use merit_protocol::commit::{Commitment, Committer};
use merit_protocol::format::Kind;
use merit_protocol::rule::RuleParams;
use merit_protocol::verifier;
use merit_prover::round::setup_round;
use merit_prover::{keys, SetupMode};
use merit_storage::IpfsStore;
use std::time::Duration;

/// A fresh daemon and its store; the daemon stops, then its directory goes, on drop.
async fn store() -> ((IpfsDaemon, tempfile::TempDir), IpfsStore) {
    let dir = tempfile::tempdir().unwrap();
    let d = IpfsDaemon::start(dir.path(), Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("IPFS daemon: {e}"));
    let s = d.store().unwrap();
    ((d, dir), s)
}

fn file(kind: Kind, values: Vec<i16>) -> Vec<u8> {
    merit_tests::flat_file(kind, values).encode()
}

fn view(spec_cid: &str, pk_cid: &str, verifying_key: Vec<u8>, slots: u32) -> ProjectView {
    ProjectView {
        id: 0,
        owner: [1; 32],
        params: ProjectParams {
            spec_cid: spec_cid.as_bytes().to_vec(),
            model_cid: b"unused".to_vec(),
            model_commitment: Commitment([1; 32]),
            proving_key_cid: pk_cid.as_bytes().to_vec(),
            rounds: 1,
            min_trainers: 1,
            slots,
            trainer_stake: 1,
            aggregator: [2; 32],
            aggregator_fee: 0,
            aggregator_bond: 0,
            max_rejected_rounds: 0,
            deadlines: Deadlines {
                join: 1,
                commit: 1,
                reveal: 1,
                aggregate: 1,
            },
        },
        pool: 1,
        phase: Phase::Aggregate,
        round: 0,
        created_at: 0,
        phase_deadline: 9,
        trainers: 0,
        drawn: 0,
        committed: 0,
        revealed: 0,
        aggregator_bonded: true,
        model_cid: b"unused".to_vec(),
        model_commitment: Commitment([1; 32]),
        verifying_key,
        chunked: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveals_are_fetched_checked_and_given_a_reason() {
    let (_daemon, ipfs) = store().await;
    let c = Committer::new();
    let (me, other) = ([7u8; 32], [8u8; 32]);
    let u = vec![1i16, -2, 3];
    let policy = FetchPolicy {
        max_bytes: 1 << 16,
        attempts: 2,
        backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    };
    let cid = ipfs
        .add(file(Kind::Update, u.clone()))
        .await
        .unwrap()
        .to_string();
    let mine = c.commit_update(&me, &u);
    let check = |account, commitment, cid: String| {
        let (ipfs, c) = (&ipfs, &c);
        async move {
            fetch_and_check(
                ipfs,
                &Scheme::Whole(c.clone()),
                &account,
                &commitment,
                cid.as_bytes(),
                3,
                &policy,
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(check(me, mine, cid.clone()).await, Ok(u.clone()));
    // The same file revealed by another trainer does not open its commitment.
    let theirs = c.commit_update(&other, &u);
    assert_eq!(
        check(other, theirs, cid.clone()).await.map(|_| ()),
        Ok(()),
        "the other trainer's own commitment to the same values opens"
    );
    assert_eq!(
        check(other, mine, cid.clone()).await,
        Err(SetAsideReason::WrongCommitment)
    );
    let garbage = ipfs.add(b"not a model".to_vec()).await.unwrap().to_string();
    assert!(matches!(
        check(me, mine, garbage).await,
        Err(SetAsideReason::Malformed { .. })
    ));
    let big = ipfs.add(vec![0u8; 1 << 17]).await.unwrap().to_string();
    assert_eq!(
        check(me, mine, big).await,
        Err(SetAsideReason::TooLarge { limit: 1 << 16 })
    );
    // A well-formed CID that nobody provides: retried, then set aside as unreachable.
    let nobody = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    match fetch_revealed(&ipfs, nobody.as_bytes(), &policy)
        .await
        .unwrap()
    {
        Fetched::Failed(SetAsideReason::Unreachable { .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_open_their_commitment_or_are_refused() {
    let (_daemon, ipfs) = store().await;
    let c = Committer::new();
    let g = vec![5i16, 6, 7, 8];
    let cid = ipfs
        .add(file(Kind::Model, g.clone()))
        .await
        .unwrap()
        .to_string();
    let m = fetch_model(
        &ipfs,
        cid.as_bytes(),
        &c.commit_model(&g),
        &Scheme::Whole(c.clone()),
        4,
        1 << 16,
    )
    .await
    .unwrap();
    assert_eq!(m.values, g);
    let e = fetch_model(
        &ipfs,
        cid.as_bytes(),
        &c.commit_model(&[0; 4]),
        &Scheme::Whole(c.clone()),
        4,
        1 << 16,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, AggregatorError::ModelMismatch { .. }), "{e}");
    let upd = ipfs
        .add(file(Kind::Update, g.clone()))
        .await
        .unwrap()
        .to_string();
    let e = fetch_model(
        &ipfs,
        upd.as_bytes(),
        &c.commit_model(&g),
        &Scheme::Whole(c.clone()),
        4,
        1 << 16,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, AggregatorError::BadFile { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_and_the_proving_key_are_found_from_the_project_and_checked() {
    let (_daemon, ipfs) = store().await;
    let spec = include_str!("../../examples/digits-spec.json");
    let spec_cid = ipfs
        .add(spec.as_bytes().to_vec())
        .await
        .unwrap()
        .to_string();

    let params = RuleParams::new(3, 1, 0, 100);
    let (pk, vk) = setup_round(params, SetupMode::InsecureDeterministicForTests(9)).unwrap();
    let (_, vk_other) = setup_round(params, SetupMode::InsecureDeterministicForTests(10)).unwrap();
    let prepared = |vk: &ark_groth16::VerifyingKey<merit_prover::ark_bn254::Bn254>| {
        let mut b = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(vk, &mut b).unwrap();
        verifier::prepare(&b).unwrap()
    };
    let pk_cid = ipfs
        .add(keys::write_proving_key(&pk))
        .await
        .unwrap()
        .to_string();

    // The digits spec has 8 slots.
    let (s, rule) = load_spec(&ipfs, &view(&spec_cid, &pk_cid, vec![], 8))
        .await
        .unwrap();
    assert_eq!(
        (rule.slots, rule.dim, rule.byzantine),
        (8, 64 * 32 + 32 + 32 * 10 + 10, 1)
    );
    assert_eq!(s.rounds, 3);
    let e = load_spec(&ipfs, &view(&spec_cid, &pk_cid, vec![], 4))
        .await
        .unwrap_err();
    assert!(matches!(e, AggregatorError::Shape(_)), "{e}");

    let v = view(&spec_cid, &pk_cid, prepared(&vk), 8);
    let got = load_proving_key(&ipfs, &v, 1 << 24).await.unwrap();
    assert_eq!(got.vk, vk);
    let v = view(&spec_cid, &pk_cid, prepared(&vk_other), 8);
    let e = load_proving_key(&ipfs, &v, 1 << 24).await.unwrap_err();
    assert!(matches!(e, AggregatorError::KeyMismatch { .. }), "{e}");
    // A spec CID where the key should be: named by the key reader.
    let v = view(&spec_cid, &spec_cid, prepared(&vk), 8);
    let e = load_proving_key(&ipfs, &v, 1 << 24).await.unwrap_err();
    assert!(matches!(e, AggregatorError::ProvingKey { .. }), "{e}");
}
