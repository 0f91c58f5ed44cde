//! `merit trainer run` and `merit trainer answer`: thin front ends over `merit_trainer::node`
//! and the marketplace client.

use anyhow::Result;
use clap::{Args, Subcommand};
use merit_cli::network::At;
use merit_trainer::behaviour::Behaviour;
use merit_trainer::learner::CandleModel;
use merit_trainer::node::{self, NodeConfig, TrainerNode};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand)]
pub enum TrainerCmd {
    /// Join a project (exact stake), then train, publish, commit and reveal every round on
    /// local data, and claim at the end; safe to stop and restart
    ///
    /// Example: merit trainer run --project 0 --key //Bob --data shards/trainer-0.csv
    Run(RunArgs),
    /// Answer the aggregator's set-aside of a slot while its round aggregates: post the
    /// update the slot committed to on chain (in pieces), which puts the slot back in the
    /// round if it opens the commitment. `trainer run` does this on its own; this is for
    /// anyone holding the update file
    ///
    /// Example: merit trainer answer --project 0 --slot 2 --update update.mdl --key //Bob
    Answer(AnswerArgs),
}

#[derive(Args)]
pub struct AnswerArgs {
    /// Project id
    #[arg(long)]
    project: u32,
    /// The set-aside slot
    #[arg(long)]
    slot: u32,
    /// The update file the slot committed to (the node keeps its own under its state dir)
    #[arg(long)]
    update: PathBuf,
    /// Who signs (and pays the fees) — a dev account name (alice … ferdie, //Bob//stash), file:PATH (a file only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to other users
    #[arg(long)]
    key: String,
}

#[derive(Args)]
pub struct RunArgs {
    /// Project id
    #[arg(long)]
    project: u32,
    /// Local training data: CSV, no header, the spec's feature columns then the label
    /// (`merit data split` writes these); `.gz` is read too
    #[arg(long)]
    data: PathBuf,
    /// The trainer's key — a dev account name (alice … ferdie, //Bob//stash), file:PATH (a file only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to other users
    #[arg(long)]
    key: String,
    /// FOR SIMULATIONS ONLY: honest | label-flip | sign-flip | scale:K | noise:SIGMA |
    /// free-rider | zero | copy:SLOT | replay | stale-copy[:SLOT]
    #[arg(long, default_value = "honest")]
    behaviour: Behaviour,
    /// Where the restart-safe state file lives (default: <data-dir>/trainer)
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Seed of batch order and noise (same seed + data + threads → same update)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Poll interval in milliseconds
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Print what was earned as one JSON object
    #[arg(long)]
    json: bool,
    /// Join without checking the project's keys against a recorded ceremony (by default
    /// the node refuses, staking nothing, a project whose keys it cannot verify: whoever
    /// ran a setup alone could forge every round)
    #[arg(long)]
    trust_keys: bool,
    /// Do not add a phase-2 contribution to the project's keys after joining (by default
    /// the node does, while the project is Open, so that it need trust nobody who set
    /// the keys up before it; only phase 1's parties remain). --trust-keys skips it too
    #[arg(long)]
    no_contribute: bool,
}

pub async fn run(at: &At, cmd: TrainerCmd) -> Result<()> {
    let a = match cmd {
        TrainerCmd::Run(a) => a,
        TrainerCmd::Answer(a) => return answer(at, a).await,
    };
    let signer = crate::signer_flag("--key", &a.key)?;
    let market = at.marketplace().await?;
    let ipfs = at.ipfs()?;
    let view = market.project(a.project).await?;
    let spec = node::load_spec(&ipfs, &view).await?;
    let data = merit_trainer::data::load_csv(
        &a.data,
        spec.features.inputs as usize,
        spec.features.classes as usize,
    )
    .map_err(crate::exit::bad_input("--data (the training data)"))?;
    let mut cfg = NodeConfig::new(
        a.project,
        a.state_dir.unwrap_or_else(|| at.data_dir.join("trainer")),
    );
    cfg.behaviour = a.behaviour;
    cfg.seed = a.seed;
    cfg.poll = Duration::from_millis(a.poll_ms);
    let me = merit_chain::account_of(&signer);
    let joined = market.trainer_of(a.project, &me.0).await?.is_some();
    if a.trust_keys {
        eprintln!("--trust-keys: project {}'s keys are not checked", a.project);
    } else if !joined {
        // Before anything is staked: a key nobody can vouch for is refused.
        let memo = merit_cli::ceremony::Phase1Memo::in_data_dir(&at.data_dir);
        let s = merit_cli::ceremony::check_project_setup(&market, &ipfs, a.project, &memo).await?;
        eprintln!(
            "project {}'s keys verified: a ceremony of {} phase-1 and {} phase-2 contributions",
            a.project, s.phase1_contributions, s.phase2_contributions
        );
    }
    let rows = data.len();
    let learner = CandleModel::from_spec(&spec);
    let mut node = TrainerNode::new(&market, &ipfs, &signer, data, learner, cfg)?;
    // A chunked project's keys are its shape's, shared with other projects: not ours to
    // re-randomise.
    if !joined && !a.no_contribute && !a.trust_keys && view.chunked.is_none() {
        // Join first (only parties may contribute), then add our own δ before the start.
        match node.step().await {
            Ok(node::Step::Joined { slot }) => {
                eprintln!("joined project {} in slot {slot}", a.project);
                let memo = merit_cli::ceremony::Phase1Memo::in_data_dir(&at.data_dir);
                contribute(&market, &ipfs, &signer, a.project, &memo).await;
            }
            Ok(_) => {}
            // The run below retries what may pass.
            Err(e) if e.is_transient() => {}
            Err(e) => return Err(e.into()),
        }
    }
    eprintln!(
        "trainer {} on project {} ({} rows, behaviour {}); state in {}",
        merit_chain::AccountId32(node.account()),
        a.project,
        rows,
        a.behaviour,
        node.state().path().display()
    );
    let earned = node::run_trainer(node).await?;
    if a.json {
        println!("{}", serde_json::to_string(&earned)?);
    } else {
        println!(
            "project {} {}: total score {}, rejected in {} round(s); claimed {}",
            earned.project,
            earned.phase,
            earned.total_score,
            earned.rejected_rounds,
            earned.claimed
        );
    }
    Ok(())
}

/// The node's own phase-2 contribution after joining. A project that started meanwhile
/// (or a contribution refused) is not a reason to stop: the keys were verified before
/// staking, so the node says so and trains.
async fn contribute(
    market: &merit_chain::Marketplace,
    ipfs: &merit_storage::IpfsStore,
    signer: &merit_chain::Signer,
    project: u32,
    memo: &merit_cli::ceremony::Phase1Memo,
) {
    match merit_cli::ceremony::contribute_to_project(market, ipfs, signer, project, memo).await {
        Ok(c) => eprintln!(
            "contributed to project {project}'s keys: {} phase-2 contributions now, head {} ({:.1}s)",
            c.phase2_contributions, c.head, c.contribute_seconds
        ),
        Err(e) => eprintln!(
            "not contributing to project {project}'s keys (they were verified before staking): {e:#}"
        ),
    }
}

/// `merit trainer answer`: reads the update file, checks it against the project's shape and
/// the slot's set-aside, and posts it piece by piece.
async fn answer(at: &At, a: AnswerArgs) -> Result<()> {
    let signer = crate::signer_flag("--key", &a.key)?;
    let what = format!("--update {}", a.update.display());
    let bytes = std::fs::read(&a.update).map_err(crate::exit::bad_input(what.clone()))?;
    let file =
        merit_protocol::format::ModelFile::parse(&bytes).map_err(crate::exit::bad_input(what))?;
    let market = at.marketplace().await?;
    let view = market.project(a.project).await?;
    let round = view.round;
    let chunk = view.chunked.map(|c| c.chunk as usize);
    // The contract judges the rest by name: not set aside, answered already, the window
    // closed, an update that does not open the commitment.
    let answered = market
        .answer_set_aside(&signer, a.project, (round, a.slot), &file.values, chunk)
        .await?;
    let heaviest = answered
        .weights
        .iter()
        .map(|w| w.ref_time)
        .max()
        .unwrap_or(0);
    println!(
        "slot {} of project {} answered in round {round} ({} call(s), heaviest ref_time {heaviest}): it is back in the round",
        a.slot,
        a.project,
        answered.weights.len()
    );
    Ok(())
}
