//! A devnet's life: `down` and `up` any number of times keep every project, stake and
//! escrow (the marketplace is deployed once per chain), and with a block time the chain
//! makes blocks on its own, so a project whose people all went silent still reaches its
//! deadlines, ends, and pays everyone back. Real chains (embedded, and the node where
//! installed), real IPFS daemons, real `merit devnet tick` processes.

use merit_chain::client::account_of;
use merit_chain::{dev_signer, ChainError, Marketplace, Signer};
use merit_cli::chain::ChainChoice;
use merit_cli::devnet::{self, DevnetError, DevnetInfo, DevnetOptions, UpOutcome};
use merit_protocol::abi::{Deadlines, MarketError, Phase, ProjectParams};
use merit_protocol::commit::Committer;
use merit_tests::TestDevnet;
use std::path::Path;
use std::time::{Duration, Instant};

const STAKE: u128 = 1_000_000;
const BOND: u128 = 3_000_000;
const POOL: u128 = 7_000_000_000;

fn params(aggregator: &Signer, min_trainers: u32, deadlines: Deadlines) -> ProjectParams {
    let cid = b"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".to_vec();
    ProjectParams {
        spec_cid: cid.clone(),
        model_cid: cid.clone(),
        model_commitment: Committer::new().commit_model(&[1, 2, 3]),
        proving_key_cid: cid,
        rounds: 2,
        min_trainers,
        slots: 3,
        trainer_stake: STAKE,
        aggregator: account_of(aggregator).0,
        aggregator_fee: 0,
        aggregator_bond: BOND,
        max_rejected_rounds: 0,
        deadlines,
    }
}

fn signer(name: &str) -> Signer {
    dev_signer(name).unwrap()
}

async fn up_again(data: &Path, backend: ChainChoice) -> Result<DevnetInfo, DevnetError> {
    let mut opts = DevnetOptions::new(data);
    opts.chain = Some(backend);
    match devnet::up(&opts).await? {
        UpOutcome::Started(info) => Ok(info),
        UpOutcome::AlreadyRunning(_) => panic!("the devnet was down"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_and_up_keep_every_project_and_balance_mid_round() {
    for backend in merit_tests::backends() {
        eprintln!("devnet down/up on the {} chain", backend.as_str());
        keeps_projects(backend).await;
    }
}

async fn keeps_projects(backend: ChainChoice) {
    let net = TestDevnet::up_with(Some(backend)).await;
    let first = net.info.clone();
    let market = first.marketplace().await.unwrap();
    let (alice, bob, dave, charlie) = (
        signer("alice"),
        signer("bob"),
        signer("dave"),
        signer("charlie"),
    );
    let wide = Deadlines {
        join: 1_000,
        commit: 1_000,
        reveal: 1_000,
        aggregate: 1_000,
    };
    let vk = merit_tests::test_verifying_key(3, 4);
    let id = market
        .create_project(&alice, &params(&charlie, 2, wide), &vk, POOL)
        .await
        .unwrap();
    market.join(&bob, id, STAKE).await.unwrap();
    market.join(&dave, id, STAKE).await.unwrap();
    market.bond(&charlie, id, BOND).await.unwrap();
    market.start(&alice, id).await.unwrap();
    let commitment = Committer::new().commit_model(&[4, 5, 6]);
    market.commit_update(&bob, id, 0, commitment).await.unwrap();

    // Mid-round: one trainer committed, one did not yet.
    let before = market.project(id).await.unwrap();
    assert_eq!((before.phase, before.committed), (Phase::Commit, 1));
    let escrow = market.free_balance(market.address()).await.unwrap();
    let slots = market.round_slots(id, 0).await.unwrap();

    for cycle in 0..2 {
        devnet::down(net.data_dir()).unwrap();
        let info = up_again(net.data_dir(), backend).await.unwrap();
        assert_eq!(info.contract, first.contract, "cycle {cycle}");
        let m = info.marketplace().await.unwrap();
        assert_eq!(m.project_count().await.unwrap(), 1, "cycle {cycle}");
        let now = m.project(id).await.unwrap();
        assert_eq!(now, before, "cycle {cycle}");
        assert_eq!(m.round_slots(id, 0).await.unwrap(), slots, "cycle {cycle}");
        assert_eq!(m.free_balance(m.address()).await.unwrap(), escrow);
    }

    // The project goes on where it stood.
    let info = DevnetInfo::read(net.data_dir()).unwrap();
    let m = info.marketplace().await.unwrap();
    m.commit_update(&dave, id, 0, commitment).await.unwrap();
    assert_eq!(m.project(id).await.unwrap().committed, 2);

    // New contract code: `up` refuses to strand the old marketplace's funds unasked, and
    // with --redeploy keeps the old one listed, still holding its project and escrow.
    devnet::down(net.data_dir()).unwrap();
    let path = net.data_dir().join(devnet::INFO_FILE);
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edited["contract"]["code_hash"] = "0xfeed".into();
    std::fs::write(&path, edited.to_string()).unwrap();
    let e = up_again(net.data_dir(), backend).await.unwrap_err();
    assert!(
        matches!(&e, DevnetError::ContractChanged { address, .. } if *address == first.contract.address),
        "{e}"
    );
    assert!(e.to_string().contains("--redeploy"), "{e}");
    let mut opts = DevnetOptions::new(net.data_dir());
    opts.chain = Some(backend);
    opts.redeploy = true;
    let info = match devnet::up(&opts).await.unwrap() {
        UpOutcome::Started(info) => info,
        UpOutcome::AlreadyRunning(_) => panic!("the devnet was down"),
    };
    assert_ne!(info.contract.address, first.contract.address);
    assert_eq!(info.retired_contracts.len(), 1);
    assert_eq!(info.retired_contracts[0].address, first.contract.address);
    let fresh = info.marketplace().await.unwrap();
    assert_eq!(fresh.project_count().await.unwrap(), 0);
    let old = Marketplace::at(
        fresh.backend().clone(),
        std::sync::Arc::new(merit_chain::ContractBundle::load(&info.contract.bundle).unwrap()),
        m.address().clone(),
        account_of(&alice),
    );
    assert_eq!(old.project(id).await.unwrap().committed, 2);
    assert_eq!(old.free_balance(old.address()).await.unwrap(), escrow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_projects_reach_their_deadlines_on_their_own_and_pay_everyone_back() {
    for backend in merit_tests::backends() {
        eprintln!("a ticking devnet on the {} chain", backend.as_str());
        silent_projects(backend).await;
    }
}

/// Waits, sending nothing, until the chain passes `project`'s current deadline.
async fn wait_past_deadline(m: &Marketplace, project: u32, phase: Phase) {
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let view = m.project(project).await.unwrap();
        let now = m.best_block_number().await.unwrap();
        if view.phase == phase && now > view.phase_deadline {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "the chain stood still at block {now}: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Everyone named claims what the contract says it is owed; returns the total paid.
async fn claim_all(m: &Marketplace, project: u32, names: &[&str]) -> u128 {
    let mut paid = 0;
    for name in names {
        let s = signer(name);
        let owed = m.claimable(project, &account_of(&s)).await.unwrap();
        if owed > 0 {
            assert_eq!(m.claim(&s, project).await.unwrap(), owed, "{name}");
            paid += owed;
        }
    }
    paid
}

async fn silent_projects(backend: ChainChoice) {
    let net = TestDevnet::up_configured(|opts| {
        opts.chain = Some(backend);
        opts.block_time = Some(Duration::from_millis(250));
    })
    .await;
    let info = net.info.clone();
    let ticker = info.ticker.clone().expect("a ticker runs");
    assert_eq!(ticker.block_time_ms, 250);
    let status = devnet::status(net.data_dir()).await.unwrap();
    assert!(status.healthy() && status.clock.running, "{status:?}");

    let m = info.marketplace().await.unwrap();
    let escrow = m.free_balance(m.address()).await.unwrap();
    let (alice, bob, dave, charlie, eve) = (
        signer("alice"),
        signer("bob"),
        signer("dave"),
        signer("charlie"),
        signer("eve"),
    );
    let vk = merit_tests::test_verifying_key(3, 4);

    // 1. Too few trainers join, then everyone goes silent: the join deadline passes with
    //    no transaction, and a stranger may cancel.
    let short = Deadlines {
        join: 12,
        commit: 4,
        reveal: 4,
        aggregate: 4,
    };
    let lonely = m
        .create_project(&alice, &params(&charlie, 2, short), &vk, POOL)
        .await
        .unwrap();
    m.join(&bob, lonely, STAKE).await.unwrap();
    wait_past_deadline(&m, lonely, Phase::Open).await;
    m.cancel(&eve, lonely).await.unwrap();
    assert_eq!(m.project(lonely).await.unwrap().phase, Phase::Cancelled);
    let paid = claim_all(&m, lonely, &["alice", "bob", "charlie", "dave", "eve"]).await;
    assert_eq!(paid, POOL + STAKE);

    // 2. A started project whose trainers and aggregator all vanish: commit, reveal and
    //    aggregation deadlines pass on their own, and a stranger may abort.
    let wide_join = Deadlines { join: 200, ..short };
    let started = m
        .create_project(&alice, &params(&charlie, 2, wide_join), &vk, POOL)
        .await
        .unwrap();
    m.join(&bob, started, STAKE).await.unwrap();
    m.join(&dave, started, STAKE).await.unwrap();
    m.bond(&charlie, started, BOND).await.unwrap();
    m.start(&alice, started).await.unwrap();
    let e = m.abort(&eve, started).await.unwrap_err();
    assert!(
        matches!(
            e,
            ChainError::Contract {
                error: MarketError::WrongPhase | MarketError::TooEarly,
                ..
            }
        ),
        "{e}"
    );
    wait_past_deadline(&m, started, Phase::Aggregate).await;
    m.abort(&eve, started).await.unwrap();
    assert_eq!(m.project(started).await.unwrap().phase, Phase::Aborted);
    let paid = claim_all(&m, started, &["alice", "bob", "charlie", "dave", "eve"]).await;
    assert_eq!(paid, POOL + 2 * STAKE + BOND);

    // The escrow drains: the contract holds what it held before either project.
    assert_eq!(m.free_balance(m.address()).await.unwrap(), escrow);

    // `down` stops the ticker with the rest; no block is made while the devnet is down.
    let report = devnet::down(net.data_dir()).unwrap();
    assert!(
        report.stopped.iter().any(|s| s.starts_with("ticker")),
        "{report:?}"
    );
    assert!(!info.processes_alive());
    if let Some(embedded) = &info.embedded {
        let chain = merit_chain_embedded::EmbeddedChain::open(&embedded.state).unwrap();
        let stopped_at = chain.best_block().unwrap();
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(chain.best_block().unwrap(), stopped_at, "blocks while down");
    }
}
