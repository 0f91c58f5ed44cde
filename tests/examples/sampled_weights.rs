//! Benchmark (issue #26): the weights of `join`, of the draw (`start` draws round 0, a
//! round's `finalize_round` draws the next), of `finalize_round` and of `claim`, with
//! different numbers of joined trainers, on the embedded chain with a real IPFS daemon.
//! No message loops over the joined trainers, so the figures should not grow with them.
//!
//! ```sh
//! MERIT_TOOLS_DIR=~/.cache/merit/tools cargo run -p merit-tests --example sampled_weights -- 10 1000
//! ```
//!
//! Per count: a project of 5 slots and 2 rounds; that many funded accounts join; only the
//! trainers each round draws run a trainer node (candle on a private sample, the product
//! loop's small MLP); an aggregator node proves both rounds. Prints one row per count.

use merit_chain::client::{account_of, Weight};
use merit_chain::{dev_signer, Signer};
use merit_cli::owner;
use merit_protocol::abi::{Deadlines, Phase};
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{blobs, blobs_spec, spawn_aggregator, spawn_trainer, trainer_config, TestEnv};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

struct Row {
    joined: usize,
    join: Weight,
    start: Weight,
    finalize: Vec<Weight>,
    claim: Weight,
    seconds: f64,
}

fn trainer(i: usize) -> Signer {
    merit_cli::accounts::signer(&format!("//Alice//bench//{i}")).expect("a dev derivation")
}

fn show(w: &Weight) -> String {
    format!("{:>7.2}e9 / {:>7}", w.ref_time as f64 / 1e9, w.proof_size)
}

async fn measure(joined: usize) -> Row {
    let started = Instant::now();
    let env = TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await;
    let market = env.market.clone();
    let (alice, aggregator) = (dev_signer("alice").unwrap(), dev_signer("charlie").unwrap());
    // The product loop's small MLP, 2 rounds, 1 local epoch, f = 1.
    let spec = blobs_spec(2, 5, 1, 1, 2);
    let blocks = 10 * joined as u32 + 400;
    let id = owner::post_project(
        &market,
        &env.ipfs,
        &alice,
        owner::PostProject {
            spec: spec.clone(),
            model: None,
            seed: 7,
            keys: owner::RoundKeysSource::Setup,
            pool: POOL,
            min_trainers: joined as u32,
            trainer_stake: STAKE,
            aggregator: account_of(&aggregator).0,
            aggregator_fee: FEE,
            aggregator_bond: BOND,
            deadlines: Deadlines {
                join: blocks,
                commit: 400,
                reveal: 400,
                aggregate: 400,
            },
        },
    )
    .await
    .expect("posted")
    .project;
    let signers: Vec<Signer> = (0..joined).map(trainer).collect();
    let mut join = None;
    for (i, s) in signers.iter().enumerate() {
        market
            .transfer(&alice, &account_of(s), 100 * STAKE)
            .await
            .expect("funded");
        if i + 1 == joined {
            // The last join, with everyone else in already.
            join = Some(
                market
                    .weigh::<u32>(&account_of(s), "join", id, STAKE)
                    .await
                    .expect("join weighs"),
            );
        }
        market.join(s, id, STAKE).await.expect("joined");
    }
    market.bond(&aggregator, id, BOND).await.expect("bonded");
    let start = market
        .weigh::<()>(&account_of(&alice), "start", id, 0)
        .await
        .expect("start weighs");
    let dir = tempfile::tempdir().unwrap();
    let poll = Duration::from_millis(200);
    let agg_dir = dir.path().join("aggregator");
    let agg = spawn_aggregator(&market, &env.ipfs, &aggregator, id, agg_dir, poll);
    market.start(&alice, id).await.expect("started");
    // Nodes only for the drawn: a node that is never drawn would only poll.
    let mut running = BTreeSet::new();
    let mut nodes = Vec::new();
    loop {
        let v = market.project(id).await.expect("the project reads");
        if v.phase.is_terminal() {
            break;
        }
        if let Some(d) = market
            .round_draw(id, v.round)
            .await
            .expect("the draw reads")
        {
            for t in d.trainers.into_iter().filter(|t| running.insert(*t)) {
                let seed = u64::from(t);
                let cfg = trainer_config(id, dir.path().join(format!("t{t}")), seed, poll);
                let data = blobs(seed, 45);
                let signer = &signers[t as usize];
                nodes.push(spawn_trainer(&market, &env.ipfs, signer, &spec, data, cfg));
            }
        }
        tokio::time::sleep(poll).await;
    }
    let summary = agg.await.unwrap().expect("the aggregator ran");
    assert_eq!(summary.phase, Phase::Finished);
    for n in nodes {
        n.await.unwrap().expect("a drawn node ran");
    }
    let state = merit_aggregator::state::StateFile::new(&dir.path().join("aggregator"), id)
        .load(id)
        .expect("the aggregator's state");
    let finalize = state
        .rounds
        .values()
        .filter_map(|r| r.weight)
        .map(|(ref_time, proof_size)| Weight {
            ref_time,
            proof_size,
        })
        .collect();
    // A trainer that was never drawn (or the last one) claims its stake.
    let never = (0..joined).find(|i| !running.contains(&(*i as u32)));
    let claimer = &signers[never.unwrap_or(joined - 1)];
    let claim = market
        .weigh::<u128>(&account_of(claimer), "claim", id, 0)
        .await
        .expect("claim weighs");
    Row {
        joined,
        join: join.expect("at least one joined"),
        start,
        finalize,
        claim,
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("counts of joined trainers"))
        .collect();
    let counts = if counts.is_empty() {
        vec![10, 1000]
    } else {
        counts
    };
    println!("weights as ref_time / proof_size (5 slots, 2 rounds, embedded chain)");
    println!(
        "{:>7}  {:>20}  {:>20}  {:>20}  {:>20}  {:>20}  {:>6}",
        "joined",
        "join",
        "start (draw r0)",
        "finalize r0 (+draw)",
        "finalize r1 (+end)",
        "claim",
        "s"
    );
    for n in counts {
        let r = measure(n).await;
        let f = |i: usize| r.finalize.get(i).map_or("-".into(), show);
        println!(
            "{:>7}  {}  {}  {}  {}  {}  {:>6.0}",
            r.joined,
            show(&r.join),
            show(&r.start),
            f(0),
            f(1),
            show(&r.claim),
            r.seconds
        );
    }
}
