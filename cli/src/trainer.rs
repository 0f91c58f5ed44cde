//! `merit trainer run`: thin front end over `merit_trainer::node`.

use anyhow::Result;
use clap::{Args, Subcommand};
use merit_cli::devnet::DevnetInfo;
use merit_trainer::behaviour::Behaviour;
use merit_trainer::learner::CandleMlp;
use merit_trainer::node::{self, NodeConfig, TrainerNode};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub enum TrainerCmd {
    /// Join a project (exact stake), then train, publish, commit and reveal every round on
    /// local data, and claim at the end; safe to stop and restart
    ///
    /// Example: merit trainer run --project 0 --key //Bob --data shards/trainer-0.csv
    Run(RunArgs),
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
    /// The trainer's key: a dev account name (bob, dave, …) or a secret URI (`//Bob`, a
    /// mnemonic, `0x…` seed)
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
}

pub async fn run(data_dir: &Path, cmd: TrainerCmd) -> Result<()> {
    let TrainerCmd::Run(a) = cmd;
    let signer = crate::signer_flag("--key", &a.key)?;
    let info = DevnetInfo::read(data_dir)?;
    let market = info.marketplace().await?;
    let ipfs = info.ipfs()?;
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
        a.state_dir.unwrap_or_else(|| data_dir.join("trainer")),
    );
    cfg.behaviour = a.behaviour;
    cfg.seed = a.seed;
    cfg.poll = Duration::from_millis(a.poll_ms);
    let rows = data.len();
    let learner = CandleMlp::from_spec(&spec);
    let node = TrainerNode::new(&market, &ipfs, &signer, data, learner, cfg)?;
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
