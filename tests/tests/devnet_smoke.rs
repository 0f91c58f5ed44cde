//! The devnet smoke test: a real chain (the embedded one in its file, and
//! substrate-contracts-node where installed) and a real IPFS daemon, started on free
//! loopback ports, the marketplace deployed, real calls, real files, then down.

use merit_chain::client::account_of;
use merit_chain::{dev_signer, ChainError};
use merit_cli::chain::ChainChoice;
use merit_cli::devnet::{self, DevnetOptions, UpOutcome};
use merit_protocol::abi::{Deadlines, MarketError, Phase, ProjectParams};
use merit_protocol::commit::Committer;
use merit_storage::{parse_cid, IpfsStore, StorageError};
use merit_tests::TestDevnet;

fn params(aggregator: [u8; 32], spec_cid: &str) -> ProjectParams {
    ProjectParams {
        spec_cid: spec_cid.as_bytes().to_vec(),
        model_cid: spec_cid.as_bytes().to_vec(),
        model_commitment: Committer::new().commit_model(&[1, 2, 3]),
        proving_key_cid: spec_cid.as_bytes().to_vec(),
        rounds: 2,
        min_trainers: 2,
        slots: 3,
        trainer_stake: 1_000,
        aggregator,
        aggregator_fee: 0,
        aggregator_bond: 0,
        max_rejected_rounds: 0,
        deadlines: Deadlines {
            join: 10,
            commit: 10,
            reveal: 10,
            aggregate: 10,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_up_contract_call_ipfs_round_trip_and_down() {
    for backend in merit_tests::backends() {
        eprintln!("devnet smoke test on the {} chain", backend.as_str());
        smoke(backend).await;
    }
}

async fn smoke(backend: ChainChoice) {
    let net = TestDevnet::up_with(Some(backend)).await;
    let info = net.info.clone();
    assert!(info.processes_alive());
    assert_eq!(info.chain_kind(), backend);
    if let Some(node) = &info.node {
        assert!(node.rpc_url.starts_with("ws://127.0.0.1:"));
    }
    assert!(info.ipfs.api_url.starts_with("http://127.0.0.1:"));

    let status = devnet::status(net.data_dir()).await.unwrap();
    assert!(status.healthy(), "{status:?}");

    // --- the contract answers real calls with real values ---
    let market = info.marketplace().await.unwrap();
    assert_eq!(market.project_count().await.unwrap(), 0);
    let alice = dev_signer("alice").unwrap();
    let charlie = account_of(&dev_signer("charlie").unwrap());
    let chain = market.clone();
    let escrow_before = chain.free_balance(market.address()).await.unwrap();

    // The spec lives in IPFS; the chain holds its CID.
    let ipfs = info.ipfs().unwrap();
    let spec = br#"{"task":"smoke"}"#.to_vec();
    let spec_cid = ipfs.add(spec.clone()).await.unwrap();

    let pool = 7_000_000_000_000u128;
    let p = params(charlie.0, &spec_cid.to_string());
    let vk = merit_tests::test_verifying_key(3, 4);
    let id = market.create_project(&alice, &p, &vk, pool).await.unwrap();
    assert_eq!(id, 0);
    assert_eq!(market.project_count().await.unwrap(), 1);
    let view = market.project(id).await.unwrap();
    assert_eq!(view.params, p);
    assert_eq!(view.pool, pool);
    assert_eq!(view.phase, Phase::Open);
    assert_eq!(view.owner, account_of(&alice).0);
    assert_eq!(
        chain.free_balance(market.address()).await.unwrap(),
        escrow_before + pool
    );

    // Refusals come back by name and change nothing.
    let e = market.create_project(&alice, &p, &vk, 0).await.unwrap_err();
    assert!(
        matches!(
            e,
            ChainError::Contract {
                error: MarketError::EmptyPool,
                ..
            }
        ),
        "{e}"
    );
    let mut bad = p.clone();
    bad.rounds = 0;
    let e = market
        .create_project(&alice, &bad, &vk, pool)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ChainError::Contract {
                error: MarketError::BadRounds,
                ..
            }
        ),
        "{e}"
    );
    let e = market.project(42).await.unwrap_err();
    assert!(
        matches!(
            e,
            ChainError::Contract {
                error: MarketError::NoSuchProject,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("NoSuchProject"), "{e}");
    assert_eq!(market.project_count().await.unwrap(), 1);
    assert_eq!(
        chain.free_balance(market.address()).await.unwrap(),
        escrow_before + pool
    );

    // --- IPFS: add and read back through ipfs-api-backend-hyper ---
    let cid_on_chain = parse_cid(std::str::from_utf8(&view.params.spec_cid).unwrap()).unwrap();
    assert_eq!(ipfs.get(&cid_on_chain, 1 << 20).await.unwrap(), spec);
    assert!(ipfs.is_pinned(&cid_on_chain).await.unwrap());
    let big = vec![7u8; 300_000];
    let big_cid = ipfs.add(big.clone()).await.unwrap();
    assert_eq!(ipfs.get(&big_cid, big.len()).await.unwrap(), big);
    let e = ipfs.get(&big_cid, 1_000).await.unwrap_err();
    assert!(
        matches!(e, StorageError::TooLarge { limit: 1_000, .. }),
        "{e}"
    );

    // The trainer's publish and the aggregator's fetch meet in the same daemon.
    let publisher = merit_trainer::UpdatePublisher::new(ipfs.clone(), 1 << 20);
    let update = (0..=255u8).cycle().take(10_000).collect::<Vec<_>>();
    let update_cid = publisher.publish(update.clone()).await.unwrap();
    let policy = merit_aggregator::check::FetchPolicy::default();
    match merit_aggregator::check::fetch_revealed(&ipfs, update_cid.to_string().as_bytes(), &policy)
        .await
        .unwrap()
    {
        merit_aggregator::check::Fetched::Bytes(b) => assert_eq!(b, update),
        other => panic!("expected the published bytes, got {other:?}"),
    }
    match merit_aggregator::check::fetch_revealed(&ipfs, b"bafy-garbage", &policy)
        .await
        .unwrap()
    {
        merit_aggregator::check::Fetched::Failed(
            merit_aggregator::SetAsideReason::MalformedCid { .. },
        ) => {}
        other => panic!("a malformed CID is the content's fault: {other:?}"),
    }

    // --- `up` on a running devnet reuses it ---
    match devnet::up(&DevnetOptions::new(net.data_dir()))
        .await
        .unwrap()
    {
        UpOutcome::AlreadyRunning(again) => assert_eq!(again, info),
        UpOutcome::Started(_) => panic!("a second up must not start a second devnet"),
    }

    // --- down stops exactly what up started ---
    let report = devnet::down(net.data_dir()).unwrap();
    let processes = if backend == ChainChoice::Node { 2 } else { 1 };
    assert_eq!(report.stopped.len(), processes, "{report:?}");
    assert!(!info.processes_alive());
    for pid in [info.node.as_ref().map(|n| n.pid), info.ipfs.pid]
        .into_iter()
        .flatten()
    {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                stat.contains(") Z")
            },
            "pid {pid} still running"
        );
    }
    let after = devnet::status(net.data_dir()).await.unwrap();
    assert!(!after.ipfs.running && !after.healthy(), "{after:?}");

    // A daemon that is down is named, with its URL; so is the chain.
    let e = IpfsStore::new(&info.ipfs.api_url)
        .unwrap()
        .version()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::Unreachable { url, .. } if *url == info.ipfs.api_url),
        "{e}"
    );
    match &info.node {
        Some(node) => {
            assert!(!after.node.running);
            let e = merit_chain::ChainClient::connect(&node.rpc_url)
                .await
                .err()
                .expect("node is down");
            assert!(e.to_string().contains(&node.rpc_url), "{e}");
        }
        None => {
            // The embedded chain is a file: it outlives `down`, and the next `up` keeps the
            // marketplace it holds, with its project and its escrow.
            assert!(after.node.running, "{after:?}");
            // Ask for the embedded chain by name: where the node is installed, a plain `up`
            // would start the node instead.
            let mut opts = DevnetOptions::new(net.data_dir());
            opts.chain = Some(ChainChoice::Embedded);
            let again = match devnet::up(&opts).await.unwrap() {
                UpOutcome::Started(i) => i,
                UpOutcome::AlreadyRunning(_) => panic!("it was down"),
            };
            assert_eq!(again.contract, info.contract);
            let kept = again.marketplace().await.unwrap();
            assert_eq!(kept.address(), market.address());
            assert_eq!(kept.project_count().await.unwrap(), 1);
            assert_eq!(
                kept.free_balance(kept.address()).await.unwrap(),
                escrow_before + pool
            );
        }
    }
}
