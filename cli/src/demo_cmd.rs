//! `merit demo`: brings the chain up as asked and runs `merit_cli::story`.

use anyhow::{Context, Result};
use merit_cli::devnet::{self, DevnetInfo, DevnetOptions, UpOutcome};
use std::path::PathBuf;
use std::time::Duration;

/// The whole story (`merit_cli::story`): on an embedded chain of its own with the roles
/// as tasks (`devnet` None), or on the devnet (brought up on the chain asked for if it is
/// not running) with the roles as processes.
pub async fn run(
    data: &PathBuf,
    devnet: Option<Option<merit_cli::chain::ChainChoice>>,
    digits: PathBuf,
    rounds: u32,
    json: bool,
    report_dir: PathBuf,
) -> Result<()> {
    use merit_cli::story::RoleRunner;
    // Either the devnet (left running), or the embedded chain with an IPFS daemon of its
    // own that stops when the demo ends.
    let (market, ipfs, _daemon, roles) = match devnet {
        Some(choice) => {
            let info = match DevnetInfo::read(data) {
                Ok(i) if i.processes_alive() && choice.is_none_or(|c| c == i.chain_kind()) => i,
                _ => {
                    eprintln!("bringing the devnet up first…");
                    let mut opts = DevnetOptions::new(data);
                    opts.chain = choice;
                    if DevnetInfo::read(data).is_ok() {
                        devnet::down(data)?;
                    }
                    match devnet::up(&opts).await? {
                        UpOutcome::Started(i) | UpOutcome::AlreadyRunning(i) => i,
                    }
                }
            };
            let roles = RoleRunner::Processes {
                exe: std::env::current_exe().context("finding the merit binary")?,
                data_dir: info.data_dir.clone(),
            };
            (info.marketplace().await?, info.ipfs()?, None, roles)
        }
        None => {
            let daemon = devnet::IpfsDaemon::start(&data.join("demo"), Duration::from_secs(90))
                .await
                .context("starting an IPFS daemon for the demo")?;
            let (_, market) = merit_cli::chain::embedded_marketplace(None).await?;
            (market, daemon.store()?, Some(daemon), RoleRunner::Tasks)
        }
    };
    eprintln!(
        "== Merit demo on the {} chain: an owner, 5 trainer nodes (2 honest; label-flip, \
         free-rider and copier are SIMULATED attackers) and an aggregator proving every \
         round, as {} ==",
        market.backend_kind(),
        match roles {
            RoleRunner::Tasks => "tasks of this process",
            RoleRunner::Processes { .. } => "separate processes",
        }
    );
    let work = tempfile_dir(data)?;
    let opts = merit_cli::story::StoryOptions {
        digits,
        work_dir: work,
        report_dir,
        rounds,
        roles,
        ceremony: true,
    };
    let summary = merit_cli::story::run(&market, &ipfs, &opts).await?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        merit_cli::story::print_table(&summary);
    }
    Ok(())
}

/// A fresh directory for the demo's node state under the data dir.
fn tempfile_dir(data: &std::path::Path) -> Result<PathBuf> {
    let dir = data.join("demo").join(format!(
        "run-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
