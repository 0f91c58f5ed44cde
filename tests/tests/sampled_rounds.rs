//! Sampled rounds end to end (issue #26) on the embedded chain and a real IPFS daemon:
//! 40 trainer nodes join one project whose rounds have 5 slots. Each of its 4 rounds draws
//! 5 of the 40 (the contract's draw, SPEC §13); only those train, commit and reveal, the
//! others wait and lose nothing; the aggregator node proves every round and the contract
//! verifies it; every node claims what the protocol's settlement of the chain's totals
//! says, the owner and the aggregator claim theirs, and the escrow drains.

use merit_chain::client::account_of;
use merit_chain::{dev_signer, Signer};
use merit_cli::owner;
use merit_protocol::abi::{Deadlines, Phase};
use merit_protocol::{draw, reward};
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{blobs, blobs_spec, Escrow, Nodes, TestEnv};
use std::collections::BTreeSet;
use std::time::Duration;

const TRAINERS: usize = 40;
const SLOTS: usize = 5;
const ROUNDS: u32 = 4;

/// A trainer's own key (`//Alice//trainer//{i}`), funded by Alice for its stake and fees.
fn trainer(i: usize) -> Signer {
    merit_cli::accounts::signer(&format!("//Alice//trainer//{i}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_trainers_five_slots_every_round_drawn_proven_and_paid() {
    let env = TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await;
    let market = &env.market;
    let (alice, aggregator) = (dev_signer("alice").unwrap(), dev_signer("charlie").unwrap());
    let signers: Vec<Signer> = (0..TRAINERS).map(trainer).collect();
    for s in &signers {
        market
            .transfer(&alice, &account_of(s), 100 * STAKE)
            .await
            .unwrap();
    }
    let escrow_before = market.free_balance(market.address()).await.unwrap();
    // The product loop's small MLP, 1 local epoch, f = 1.
    let spec = blobs_spec(ROUNDS, SLOTS as u32, 1, 1, 4);
    let blocks = 400;
    let id = owner::post_project(
        market,
        &env.ipfs,
        &alice,
        owner::PostProject {
            spec: spec.clone(),
            model: None,
            seed: 7,
            keys: owner::RoundKeysSource::Setup,
            pool: POOL,
            min_trainers: TRAINERS as u32,
            trainer_stake: STAKE,
            aggregator: account_of(&aggregator).0,
            aggregator_fee: FEE,
            aggregator_bond: BOND,
            deadlines: Deadlines {
                join: blocks,
                commit: blocks,
                reveal: blocks,
                aggregate: blocks,
            },
        },
    )
    .await
    .unwrap()
    .project;
    let dir = tempfile::tempdir().unwrap();
    let shares = signers
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), blobs(300 + i as u64, 45)))
        .collect();
    // Forty nodes on two cores: each polls twice a second.
    let poll = Duration::from_millis(500);
    let nodes = Nodes::start(&env, id, &spec, &aggregator, shares, dir.path(), poll).await;
    let v = market.project(id).await.unwrap();
    assert_eq!(v.trainers as usize, TRAINERS, "everyone joined: no cap");
    market.start(&alice, id).await.unwrap();
    let (earned, summary) = nodes.finish(Duration::from_secs(900)).await;
    assert_eq!(summary.phase, Phase::Finished);
    assert_eq!(summary.rounds.len(), ROUNDS as usize);

    // Every round drew 5 distinct trainers with the seed the contract chained, and the
    // proven round's slots are exactly those trainers.
    let v = market.project(id).await.unwrap();
    assert_eq!((v.phase, v.round), (Phase::Finished, ROUNDS));
    let totals = market.trainers(id).await.unwrap();
    let mut drawn_ever = BTreeSet::new();
    let mut participations = [0u32; TRAINERS];
    for round in 0..ROUNDS {
        let d = market.round_draw(id, round).await.unwrap().expect("drawn");
        assert_eq!(
            d.trainers,
            draw::draw(&d.seed, TRAINERS as u32, SLOTS as u32).unwrap()
        );
        let slots = market.round_slots(id, round).await.unwrap();
        assert_eq!(slots.len(), SLOTS);
        for (s, &t) in slots.iter().zip(&d.trainers) {
            assert_eq!(s.account, totals[t as usize].account, "round {round}");
            assert!(s.present(), "round {round}: drawn trainer {t} revealed");
            participations[t as usize] += 1;
            drawn_ever.insert(t);
        }
        let rec = market.round_record(id, round).await.unwrap().unwrap();
        assert_eq!(rec.scores.len(), SLOTS);
    }
    assert!(
        drawn_ever.len() > SLOTS,
        "the draws differ between rounds: {drawn_ever:?}"
    );
    let want = Escrow {
        pool: POOL,
        fee: FEE,
        bond: BOND,
        stake: STAKE,
        max_rejected_rounds: 4,
    }
    .settle(&totals, reward::Outcome::Finished);
    for t in &totals {
        let i = t.slot as usize;
        assert_eq!(
            t.rounds_drawn, participations[i],
            "trainer {i}'s participations"
        );
        if t.rounds_drawn == 0 {
            assert_eq!(t.total_score, 0);
            assert_eq!(
                want.trainers[i], STAKE,
                "a trainer never drawn gets its stake back"
            );
        }
        let e = earned
            .iter()
            .find(|e| e.slot == Some(t.slot))
            .unwrap_or_else(|| panic!("no node reported trainer {i}"));
        assert!(!t.missed_reveal, "trainer {i} missed a reveal");
        assert_eq!(e.claimed, want.trainers[i], "trainer {i}'s claim");
    }
    // The owner last: the last scored trainer's claim credited it the split's remainder.
    let paid_owner = market.claim(&alice, id).await.unwrap();
    let paid_agg = market.claim(&aggregator, id).await.unwrap();
    assert_eq!((paid_owner, paid_agg), (want.owner, want.aggregator));
    let paid = paid_owner + paid_agg + earned.iter().map(|e| e.claimed).sum::<u128>();
    assert_eq!(paid, POOL + BOND + TRAINERS as u128 * STAKE);
    assert_eq!(
        market.free_balance(market.address()).await.unwrap(),
        escrow_before,
        "the escrow drains back to its existential deposit"
    );
    // `merit project status` shows each round's draw.
    let status = merit_cli::project::status(market, id).await.unwrap();
    assert_eq!(status.draws.len(), ROUNDS as usize);
    let table = merit_cli::project::render_table(&status);
    assert!(table.contains("draw r3"), "{table}");
    let json = merit_cli::project::to_json(&status);
    assert_eq!(json["draws"].as_array().unwrap().len(), ROUNDS as usize);
}
