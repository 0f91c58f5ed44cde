//! The product loop on a real chain (the embedded one, and the node where installed) and a
//! real IPFS daemon: the owner posts a project (spec, initial model, round-circuit setup,
//! proving key in IPFS); three trainer nodes (`merit-trainer`, candle on private data, one
//! of them label-flipping) and the aggregator node (`merit-aggregator`, real Groth16
//! proofs verified by the contract) run as concurrent tasks until the project ends; claims
//! equal the protocol's settlement of the chain's totals, and `verify_round` agrees on
//! every round. Then the same story with a trainer node killed right after it committed
//! and restarted from its state file, and the aggregator killed mid-project and restarted.

use merit_aggregator::VerifyOptions;
use merit_chain::client::account_of;
use merit_chain::{dev_signer, Marketplace, Signer};
use merit_cli::owner;
use merit_protocol::abi::{Deadlines, Phase};
use merit_protocol::reward;
use merit_protocol::spec::ProjectSpec;
use merit_storage::IpfsStore;
use merit_tests::amounts::{BOND, FEE, POOL, STAKE};
use merit_tests::{
    backends, blobs, blobs_spec, spawn_aggregator, spawn_trainer, trainer_config, AggregatorTask,
    TestEnv, TrainerTask,
};
use merit_trainer::behaviour::Behaviour;
use merit_trainer::node::Earnings;
use std::path::Path;
use std::time::Duration;

struct Story {
    market: Marketplace,
    ipfs: IpfsStore,
    spec: ProjectSpec,
    owner: Signer,
    aggregator: Signer,
    trainers: Vec<(Signer, Behaviour)>,
    dir: tempfile::TempDir,
}

impl Story {
    fn new(env: &TestEnv) -> Self {
        Self {
            market: env.market.clone(),
            ipfs: env.ipfs.clone(),
            // The small MLP (4-3-3: 27 parameters) over four slots, so setup and proofs
            // take seconds: 2 rounds, f = 0, 2 local epochs.
            spec: blobs_spec(2, 4, 0, 2, 2),
            owner: dev_signer("alice").unwrap(),
            aggregator: dev_signer("charlie").unwrap(),
            trainers: vec![
                (dev_signer("bob").unwrap(), Behaviour::Honest),
                (dev_signer("dave").unwrap(), Behaviour::Honest),
                (dev_signer("eve").unwrap(), Behaviour::LabelFlip),
            ],
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The owner's side (`owner::post_project`, as `merit project create` does it): spec,
    /// initial model and proving key into IPFS, escrow on chain.
    async fn post(&self) -> u32 {
        self.post_with(3, 200).await
    }

    async fn post_with(&self, min_trainers: u32, phase_blocks: u32) -> u32 {
        owner::post_project(
            &self.market,
            &self.ipfs,
            &self.owner,
            owner::PostProject {
                spec: self.spec.clone(),
                model: None,
                seed: 7,
                keys: owner::RoundKeysSource::Setup,
                pool: POOL,
                min_trainers,
                trainer_stake: STAKE,
                aggregator: account_of(&self.aggregator).0,
                aggregator_fee: FEE,
                aggregator_bond: BOND,
                deadlines: Deadlines {
                    join: phase_blocks,
                    commit: phase_blocks,
                    reveal: phase_blocks,
                    aggregate: phase_blocks,
                },
            },
        )
        .await
        .unwrap()
        .project
    }

    fn trainer_task(&self, project: u32, who: usize) -> TrainerTask {
        let (signer, behaviour) = &self.trainers[who];
        let state_dir = self.dir.path().join(format!("trainer-{who}"));
        let mut cfg = trainer_config(project, state_dir, who as u64, Duration::from_millis(100));
        cfg.behaviour = *behaviour;
        let data = blobs(100 + who as u64, 90);
        spawn_trainer(&self.market, &self.ipfs, signer, &self.spec, data, cfg)
    }

    fn aggregator_task(&self, project: u32) -> AggregatorTask {
        let state_dir = self.dir.path().join("aggregator");
        let poll = Duration::from_millis(100);
        spawn_aggregator(
            &self.market,
            &self.ipfs,
            &self.aggregator,
            project,
            state_dir,
            poll,
        )
    }

    /// The owner starts the project once every trainer joined and the bond is in.
    async fn start_when_ready(&self, project: u32) {
        for _ in 0..600 {
            let v = self.market.project(project).await.unwrap();
            if v.trainers as usize == self.trainers.len() && v.aggregator_bonded {
                self.market.start(&self.owner, project).await.unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("trainers never joined or the aggregator never bonded");
    }

    /// Claims of the owner and the aggregator; the trainers' nodes claimed their own.
    async fn settle_and_check(&self, project: u32, earned: &[Earnings], escrow_before: u128) {
        let v = self.market.project(project).await.unwrap();
        assert_eq!((v.phase, v.round), (Phase::Finished, 2));
        let totals = self.market.trainers(project).await.unwrap();
        let want = merit_tests::Escrow {
            pool: POOL,
            fee: FEE,
            bond: BOND,
            stake: STAKE,
            max_rejected_rounds: 2,
        }
        .settle(&totals, reward::Outcome::Finished);
        // Slots go by join order, which the concurrent nodes race for.
        for t in &totals {
            let e = earned
                .iter()
                .find(|e| e.slot == Some(t.slot))
                .unwrap_or_else(|| panic!("no node reported slot {}", t.slot));
            assert_eq!(t.total_score, e.total_score);
            assert!(!t.missed_reveal, "slot {} missed a reveal", t.slot);
            assert_eq!(e.claimed, want.trainers[t.slot as usize], "slot {}", t.slot);
        }
        let honest: u32 = totals
            .iter()
            .filter(|t| {
                self.trainers
                    .iter()
                    .any(|(s, b)| account_of(s).0 == t.account && b.is_honest())
            })
            .map(|t| t.total_score)
            .sum();
        assert!(honest > 0, "the honest trainers scored: {totals:?}");
        let paid_owner = self.market.claim(&self.owner, project).await.unwrap();
        let paid_agg = self.market.claim(&self.aggregator, project).await.unwrap();
        assert_eq!(paid_owner, want.owner);
        assert_eq!(paid_agg, want.aggregator);
        let paid: u128 = paid_owner + paid_agg + earned.iter().map(|e| e.claimed).sum::<u128>();
        assert_eq!(
            paid,
            POOL + BOND + 3 * STAKE,
            "every deposit is paid out once"
        );
        assert_eq!(
            self.market
                .free_balance(self.market.address())
                .await
                .unwrap(),
            escrow_before,
            "the escrow drains back to its existential deposit"
        );
        for round in 0..2 {
            let r = merit_aggregator::verify_round(
                &self.market,
                &self.ipfs,
                project,
                round,
                &VerifyOptions::default(),
            )
            .await
            .unwrap();
            assert!(r.agrees(), "verify disagrees on round {round}: {r:?}");
        }
    }
}

impl Story {
    /// `merit project status` and `merit project report` on the ended project: the
    /// settlement they show is what the claims paid, and the report carries every round's
    /// weight and proving time from the aggregator's state and reports.
    async fn check_status_and_report(&self, project: u32) {
        let status = merit_cli::project::status(&self.market, project)
            .await
            .unwrap();
        let claims = status.claims.clone().expect("an ended project has claims");
        let unclaimed = status.unclaimed.clone().expect("and unclaimed amounts");
        assert_eq!(unclaimed.owner, 0, "the owner claimed");
        assert!(unclaimed.trainers.iter().all(|&u| u == 0), "{unclaimed:?}");
        let table = merit_cli::project::render_table(&status);
        assert!(
            table.contains("Finished") && table.contains("r1"),
            "{table}"
        );
        let json = merit_cli::project::to_json(&status);
        assert_eq!(json["claims"]["owner"], claims.owner.to_string());

        let mut labels = merit_cli::report::Labels::default();
        for (s, b) in &self.trainers {
            let label = if b.is_honest() {
                "honest".to_string()
            } else {
                format!("{b} (simulated)")
            };
            labels.insert(account_of(s).0, label);
        }
        let agg_state = self.dir.path().join("aggregator");
        let data = merit_cli::report::gather(
            &self.market,
            &self.ipfs,
            project,
            Some(&agg_state),
            &labels,
            None,
        )
        .await
        .unwrap();
        assert_eq!(data.phase, "Finished");
        assert_eq!(data.rounds.len(), 2);
        for r in &data.rounds {
            assert!(r.ref_time.is_some_and(|t| t > 1_000_000_000), "{r:?}");
            assert!(r.proof_size.is_some() && r.report_cid.is_some(), "{r:?}");
            assert!(r.prove_seconds.is_some_and(|t| t > 0.0), "{r:?}");
        }
        assert_eq!(data.owner_refund, claims.owner);
        assert_eq!(data.aggregator_fee, claims.aggregator);
        for t in &data.trainers {
            let claim = claims.trainers[t.slot as usize];
            let stake = if t.stake_returned { t.stake } else { 0 };
            assert_eq!(t.reward + stake, claim, "slot {}", t.slot);
            assert_eq!(t.scores.len(), 2);
            assert_eq!(t.scores.iter().map(|s| s.score).sum::<u32>(), t.total_score);
        }
        assert_eq!(data.trainers.iter().filter(|t| t.attacker).count(), 1);
        let out = self.dir.path().join("report");
        let written = merit_cli::report::write(&data, &out).unwrap();
        let html = std::fs::read_to_string(&written.html).unwrap();
        assert!(html.contains("<svg"), "the report has plots");
        let back: merit_cli::report::data::ReportData =
            serde_json::from_slice(&std::fs::read(&written.json).unwrap()).unwrap();
        assert_eq!(back, data);
    }
}

/// Waits for the trainer nodes and then the aggregator. If any node stops with an error,
/// or the aggregator stops before the project ended, while the others still wait (the
/// embedded chain only moves when someone writes, so they would wait forever), fails at
/// once; and never waits past `LIVENESS`. An aggregator that stops because the project
/// ended may well finish before the trainers have claimed.
async fn finish(
    trainers: Vec<TrainerTask>,
    mut agg: AggregatorTask,
) -> (Vec<Earnings>, merit_aggregator::NodeSummary) {
    const LIVENESS: Duration = Duration::from_secs(1200);
    let started = std::time::Instant::now();
    let mut pending: Vec<Option<TrainerTask>> = trainers.into_iter().map(Some).collect();
    let mut done: Vec<Option<Earnings>> = pending.iter().map(|_| None).collect();
    let mut agg_summary: Option<merit_aggregator::NodeSummary> = None;
    while done.iter().any(Option::is_none) {
        for (i, slot) in pending.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|t| t.is_finished()) {
                let t = slot.take().expect("checked");
                let e = t
                    .await
                    .expect("trainer task panicked")
                    .unwrap_or_else(|e| panic!("trainer node {i} failed: {e}"));
                done[i] = Some(e);
            }
        }
        if agg_summary.is_none() && agg.is_finished() {
            match (&mut agg).await.expect("aggregator task panicked") {
                Err(e) => panic!("the aggregator node stopped early: {e}"),
                Ok(s) if !s.phase.is_terminal() => {
                    panic!(
                        "the aggregator ended ({:?}) before the project did",
                        s.phase
                    )
                }
                Ok(s) => agg_summary = Some(s),
            }
        }
        assert!(
            started.elapsed() < LIVENESS,
            "the project did not end within {LIVENESS:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let summary = match agg_summary {
        Some(s) => s,
        None => tokio::time::timeout(Duration::from_secs(300), agg)
            .await
            .expect("the aggregator did not stop after the project ended")
            .expect("aggregator task panicked")
            .unwrap_or_else(|e| panic!("the aggregator node failed: {e}")),
    };
    (
        done.into_iter().map(|e| e.expect("all done")).collect(),
        summary,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trainer_and_aggregator_nodes_run_a_project_to_its_payout() {
    for backend in backends() {
        let env = TestEnv::up(backend).await;
        eprintln!("product loop on the {} chain", env.kind());
        let story = Story::new(&env);
        let escrow_before = story
            .market
            .free_balance(story.market.address())
            .await
            .unwrap();
        let id = story.post().await;
        let agg = story.aggregator_task(id);
        let trainers: Vec<_> = (0..3).map(|w| story.trainer_task(id, w)).collect();
        story.start_when_ready(id).await;
        let (earned, summary) = finish(trainers, agg).await;
        assert_eq!(summary.phase, Phase::Finished);
        assert_eq!(summary.rounds.len(), 2);
        story.settle_and_check(id, &earned, escrow_before).await;
        story.check_status_and_report(id).await;
    }
}

/// Waits until `who` has committed in `round` (read from the chain).
async fn committed(market: &Marketplace, project: u32, round: u32, who: &Signer) {
    let me = account_of(who).0;
    for _ in 0..12_000 {
        if let Ok(slots) = market.round_slots(project, round).await {
            if slots
                .iter()
                .any(|s| s.account == me && s.commitment.is_some())
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no commitment from {} in round {round}", account_of(who));
}

fn state_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_nodes_restart_from_their_state_and_the_project_still_pays() {
    let env = TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await;
    let story = Story::new(&env);
    let escrow_before = story
        .market
        .free_balance(story.market.address())
        .await
        .unwrap();
    let id = story.post().await;
    let mut agg = story.aggregator_task(id);
    let mut trainers: Vec<_> = (0..3).map(|w| story.trainer_task(id, w)).collect();
    story.start_when_ready(id).await;

    // Trainer 1 dies right after its round-0 commitment landed (as `kill -9` would leave
    // it: no chance to clean up), then comes back from its state file.
    committed(&story.market, id, 0, &story.trainers[1].0).await;
    let dead = trainers.remove(1);
    dead.abort();
    assert!(dead.await.unwrap_err().is_cancelled());
    assert!(state_files(&story.dir.path().join("trainer-1")) > 0);
    trainers.insert(1, story.trainer_task(id, 1));

    // The aggregator dies once round 1 is under way and comes back too.
    committed(&story.market, id, 1, &story.trainers[0].0).await;
    agg.abort();
    assert!(agg.await.unwrap_err().is_cancelled());
    agg = story.aggregator_task(id);

    let (earned, summary) = finish(trainers, agg).await;
    assert_eq!(summary.phase, Phase::Finished);
    // No commitment was made twice (the contract would refuse it and the node would fail),
    // no reveal was lost: every slot revealed every round.
    for round in 0..2 {
        let slots = story.market.round_slots(id, round).await.unwrap();
        assert!(
            slots.iter().all(|s| s.cid.is_some()),
            "round {round}: {slots:?}"
        );
    }
    story.settle_and_check(id, &earned, escrow_before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_cancelled_before_start_returns_every_deposit() {
    let env = TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await;
    let story = Story::new(&env);
    let m = &story.market;
    let escrow_before = m.free_balance(m.address()).await.unwrap();
    let id = story.post().await;
    let bob = &story.trainers[0].0;
    m.join(bob, id, STAKE).await.unwrap();
    m.bond(&story.aggregator, id, BOND).await.unwrap();

    // Before the join deadline only the owner may cancel, and a trainer is told so.
    let e = m.cancel(bob, id).await.unwrap_err();
    assert!(
        matches!(
            e,
            merit_chain::ChainError::Contract {
                error: merit_protocol::abi::MarketError::NotOwner,
                ..
            }
        ),
        "{e}"
    );
    m.cancel(&story.owner, id).await.unwrap();
    let e = m.join(&story.trainers[1].0, id, STAKE).await.unwrap_err();
    assert!(e.to_string().contains("WrongPhase"), "{e}");

    let status = merit_cli::project::status(m, id).await.unwrap();
    assert_eq!(status.view.phase, Phase::Cancelled);
    let claims = status.claims.expect("a cancelled project has claims");
    assert_eq!(
        (claims.owner, claims.aggregator, claims.trainers.clone()),
        (POOL, BOND, vec![STAKE])
    );
    assert_eq!(m.claim(&story.owner, id).await.unwrap(), POOL);
    assert_eq!(m.claim(&story.aggregator, id).await.unwrap(), BOND);
    assert_eq!(m.claim(bob, id).await.unwrap(), STAKE);
    let e = m.claim(bob, id).await.unwrap_err();
    assert!(e.to_string().contains("NothingToClaim"), "{e}");
    assert_eq!(m.free_balance(m.address()).await.unwrap(), escrow_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trainer_that_commits_and_never_reveals_loses_its_stake() {
    let env = TestEnv::up(merit_cli::chain::ChainChoice::Embedded).await;
    let mut story = Story::new(&env);
    story.spec.rounds = 1;
    story.spec.max_rejected_rounds = 1;
    // Three honest trainer nodes (the rule needs three candidates to accept anyone with
    // f = 0), and Eve, who joins and commits by hand and then is never heard from again.
    story.trainers = vec![
        (dev_signer("bob").unwrap(), Behaviour::Honest),
        (dev_signer("dave").unwrap(), Behaviour::Honest),
        (dev_signer("ferdie").unwrap(), Behaviour::Honest),
    ];
    let eve = dev_signer("eve").unwrap();
    let m = story.market.clone();
    let escrow_before = m.free_balance(m.address()).await.unwrap();
    // Short phases: the reveal phase waits for its deadline when someone never reveals.
    let id = story.post_with(4, 20).await;
    m.join(&eve, id, STAKE).await.unwrap();
    let agg = story.aggregator_task(id);
    let trainers: Vec<_> = (0..3).map(|w| story.trainer_task(id, w)).collect();
    for _ in 0..600 {
        let v = m.project(id).await.unwrap();
        if v.trainers == 4 && v.aggregator_bonded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    m.start(&story.owner, id).await.unwrap();
    let update = vec![3i16; story.spec.parameter_count() as usize];
    let commitment =
        merit_protocol::commit::Committer::new().commit_update(&account_of(&eve).0, &update);
    m.commit_update(&eve, id, 0, commitment).await.unwrap();
    // Blocks only pass when someone writes on the embedded chain: let the reveal deadline
    // pass (the others reveal meanwhile).
    loop {
        let v = m.project(id).await.unwrap();
        match v.phase {
            Phase::Reveal if v.revealed == 3 => m.advance_blocks(&story.owner, 2).await.unwrap(),
            Phase::Commit | Phase::Reveal => {}
            _ => break,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (earned, summary) = finish(trainers, agg).await;
    assert_eq!(summary.phase, Phase::Finished);

    let totals = m.trainers(id).await.unwrap();
    let eve_slot = totals
        .iter()
        .find(|t| t.account == account_of(&eve).0)
        .expect("eve joined");
    assert!(eve_slot.missed_reveal, "{eve_slot:?}");
    assert_eq!(eve_slot.total_score, 0);
    let want = merit_tests::Escrow {
        pool: POOL,
        fee: FEE,
        bond: BOND,
        stake: STAKE,
        max_rejected_rounds: 1,
    }
    .settle(&totals, reward::Outcome::Finished);
    assert_eq!(
        want.trainers[eve_slot.slot as usize], 0,
        "forfeited, unpaid"
    );
    for e in &earned {
        let slot = e.slot.expect("joined") as usize;
        assert_eq!(e.claimed, want.trainers[slot]);
        assert!(e.claimed > STAKE, "an honest trainer is paid: {e:?}");
    }
    let e = m.claim(&eve, id).await.unwrap_err();
    assert!(e.to_string().contains("NothingToClaim"), "{e}");
    let paid =
        m.claim(&story.owner, id).await.unwrap() + m.claim(&story.aggregator, id).await.unwrap();
    assert_eq!(paid, want.owner + want.aggregator);
    // Eve's stake went to the honest trainers and the owner; nothing stays behind.
    assert_eq!(m.free_balance(m.address()).await.unwrap(), escrow_before);
}
