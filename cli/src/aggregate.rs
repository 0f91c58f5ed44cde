//! `merit aggregator run` and `merit verify`: flag parsing and printing only; the flows
//! live in `merit-aggregator`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use merit_aggregator::state::StateFile;
use merit_aggregator::{
    run_aggregator, verify_round, Aggregator, AggregatorConfig, ItemStatus, VerifyOptions,
};
use merit_cli::network::At;
use merit_cli::validation::ValidationSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub enum AggregatorCmd {
    /// Run the aggregator node for a project until the project ends
    ///
    /// Example: merit aggregator run --project 0 --from //Charlie --validation shards/validation.csv
    Run(RunArgs),
}

#[derive(Args)]
pub struct RunArgs {
    #[arg(long)]
    project: u32,
    /// Who signs, the project's aggregator — a dev account name (charlie), file:PATH (a file
    /// only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password
    /// in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to others
    #[arg(long, default_value = "charlie")]
    from: String,
    /// Where the restart-safe state lives (default: <data dir>/aggregator)
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How often to read the project's phase, in milliseconds
    #[arg(long, default_value_t = 2000)]
    poll_ms: u64,
    /// A labelled CSV (the spec's features and classes) on which every new model's
    /// accuracy and loss go into the round report (reported, not proven)
    #[arg(long)]
    validation: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long)]
    project: u32,
    /// The round to check (default: the last finalised one)
    #[arg(long)]
    round: Option<u32>,
    /// CID of the round report, to re-verify the proof bytes (default: from the local
    /// aggregator's state file, if it ran here)
    #[arg(long)]
    report: Option<String>,
    /// Where a local aggregator keeps its state (default: <data dir>/aggregator)
    #[arg(long)]
    state_dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn state_dir(data: &Path, flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| data.join("aggregator"))
}

pub async fn run(at: &At, cmd: AggregatorCmd) -> Result<()> {
    let AggregatorCmd::Run(a) = cmd;
    let signer = crate::signer_flag("--from", &a.from)?;
    let market = at.marketplace().await?;
    let ipfs = at.ipfs()?;
    let mut config = AggregatorConfig::new(a.project, state_dir(&at.data_dir, a.state_dir));
    config.poll = Duration::from_millis(a.poll_ms);
    let validation = match &a.validation {
        Some(path) => {
            let view = market.project(a.project).await?;
            let (spec, _) = merit_aggregator::project::load_spec(&ipfs, &view)
                .await
                .with_context(|| format!("the spec of project {}", a.project))?;
            Some(ValidationSet::load(&spec, path).map_err(crate::exit::bad_input("--validation"))?)
        }
        None => None,
    };
    let agg = Aggregator {
        market: &market,
        ipfs: &ipfs,
        signer: &signer,
        config,
        evaluator: validation
            .as_ref()
            .map(|v| v as &dyn merit_aggregator::Evaluator),
    };
    println!("aggregating project {} as {}", a.project, a.from);
    let summary = run_aggregator(&agg)
        .await
        .with_context(|| format!("aggregator for project {}", a.project))?;
    for r in &summary.rounds {
        println!(
            "round {}: model {}, report {}{}",
            r.round,
            String::from_utf8_lossy(&r.finalization.model_cid),
            r.report_cid,
            if r.resumed { " (resumed)" } else { "" }
        );
    }
    println!("project {} ended: {:?}", summary.project, summary.phase);
    Ok(())
}

pub async fn verify(at: &At, a: VerifyArgs) -> Result<()> {
    // A malformed --report is the user's mistake (2), not a round that disagrees (1).
    if let Some(cid) = &a.report {
        merit_storage::parse_cid(cid).map_err(crate::exit::bad_input("--report"))?;
    }
    let market = at.marketplace().await?;
    let ipfs = at.ipfs()?;
    let round = match a.round {
        Some(r) => r,
        None => match market.project(a.project).await?.round.checked_sub(1) {
            Some(r) => r,
            None => {
                return Err(crate::exit::NothingToDo(format!(
                    "project {} has no finalised round yet: nothing to verify",
                    a.project
                ))
                .into())
            }
        },
    };
    let report_cid = a.report.or_else(|| {
        let file = StateFile::new(&state_dir(&at.data_dir, a.state_dir.clone()), a.project);
        let state = file.load(a.project).ok()?;
        Some(
            state
                .rounds
                .get(&round)?
                .prepared
                .as_ref()?
                .report_cid
                .clone(),
        )
    });
    let opts = VerifyOptions {
        report_cid,
        ..Default::default()
    };
    let rep = verify_round(&market, &ipfs, a.project, round, &opts).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        println!("project {} round {}", rep.project, rep.round);
        for i in &rep.items {
            let mark = match i.status {
                ItemStatus::Agree => "agree   ",
                ItemStatus::Disagree => "DISAGREE",
                ItemStatus::Skipped => "skipped ",
            };
            println!("  {mark} {:<22} {}", i.what, i.detail);
        }
    }
    if !rep.agrees() {
        bail!(
            "round {round} of project {} does not recompute (see DISAGREE above)",
            a.project
        );
    }
    Ok(())
}
