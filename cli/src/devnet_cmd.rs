//! `merit devnet`: flags and printing over `merit_cli::devnet`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use merit_cli::devnet::{self, DevnetOptions, UpOutcome};
use merit_cli::network::At;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum DevnetCmd {
    /// Start the chain and IPFS on loopback and deploy the contract
    ///
    /// Example: merit devnet up && merit devnet status
    Up(UpArgs),
    /// Stop the processes `up` started (the embedded chain's file stays, as the node's
    /// database does, unless --purge)
    ///
    /// Example: merit devnet down --purge
    Down {
        /// Also delete the data directory
        #[arg(long)]
        purge: bool,
    },
    /// Report each part's health (exit status 1 if any is down)
    ///
    /// Example: merit devnet status --json
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Make a block every block time (the process `up --block-time` starts)
    #[command(hide = true)]
    Tick {
        #[arg(long)]
        block_time_ms: u64,
        /// The embedded chain's file
        #[arg(long, conflicts_with = "rpc_url", required_unless_present = "rpc_url")]
        state: Option<PathBuf>,
        /// The node's RPC URL
        #[arg(long)]
        rpc_url: Option<String>,
    },
}

#[derive(Args)]
pub struct UpArgs {
    /// Node RPC port (default: a free one)
    #[arg(long)]
    rpc_port: Option<u16>,
    /// substrate-contracts-node binary
    #[arg(long, env = "MERIT_NODE_BIN")]
    node_bin: Option<PathBuf>,
    /// IPFS daemon binary (Kubo `ipfs` or `jsipfs`)
    #[arg(long, env = "MERIT_IPFS_BIN")]
    ipfs_bin: Option<PathBuf>,
    /// Deploy this prebuilt .contract bundle instead of building the contract
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Run substrate-contracts-node (it must be installed: `cargo xtask setup --node`)
    #[arg(long, conflicts_with = "embedded")]
    node: bool,
    /// Keep the chain in <data dir>/chain.state (the embedded chain), even where the node
    /// is installed
    #[arg(long)]
    embedded: bool,
    /// Seconds between blocks, made whether or not anybody sends a transaction (so
    /// deadlines pass on their own); 0: a block only with each transaction
    #[arg(long, default_value_t = 6.0, env = "MERIT_BLOCK_TIME")]
    block_time: f64,
    /// Deploy the contract bundle even though the chain holds a marketplace of other code
    /// (the old one stays on chain with its projects)
    #[arg(long)]
    redeploy: bool,
    #[arg(long)]
    json: bool,
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("template"),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// `--block-time SECONDS` as the ticker's period; 0 turns the ticker off.
fn block_time(secs: f64) -> Result<Option<Duration>> {
    if !(0.0..=3600.0).contains(&secs) {
        anyhow::bail!("--block-time {secs}: give seconds between 0 (off) and 3600");
    }
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs).max(Duration::from_millis(1))))
}

async fn devnet_up(data: &Path, a: UpArgs, ipfs_api: Option<String>) -> Result<()> {
    let mut opts = DevnetOptions::new(data);
    opts.rpc_port = a.rpc_port;
    opts.node_bin = a.node_bin;
    opts.ipfs_bin = a.ipfs_bin;
    // --ipfs-api (global): use that running daemon instead of starting one.
    opts.ipfs_api = ipfs_api;
    opts.bundle = a.bundle;
    opts.redeploy = a.redeploy;
    opts.block_time = block_time(a.block_time)?;
    opts.chain = if a.node {
        Some(merit_cli::chain::ChainChoice::Node)
    } else if a.embedded {
        Some(merit_cli::chain::ChainChoice::Embedded)
    } else {
        None
    };
    let started = Instant::now();
    let pb = (!a.json).then(|| spinner("starting the chain and IPFS, deploying the marketplace"));
    let outcome = devnet::up(&opts).await;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let (info, fresh) = match outcome? {
        UpOutcome::Started(i) => (i, true),
        UpOutcome::AlreadyRunning(i) => (i, false),
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "started": fresh, "devnet": info })
        );
        return Ok(());
    }
    if fresh {
        println!(
            "devnet up in {:.1}s ({})",
            started.elapsed().as_secs_f32(),
            info.data_dir.display()
        );
    } else {
        println!(
            "devnet already running in {}: reusing it (`merit devnet down` to stop)",
            info.data_dir.display()
        );
    }
    match (&info.node, &info.embedded) {
        (Some(n), _) => println!(
            "  node      {}  (pid {}, log {})",
            n.rpc_url,
            n.pid,
            n.log.display()
        ),
        (None, Some(e)) => println!(
            "  chain     embedded, in {} (no node installed; `--node` asks for one)",
            e.state.display()
        ),
        (None, None) => {}
    }
    match info.ipfs.pid {
        Some(pid) => println!("  ipfs      {}  (pid {pid})", info.ipfs.api_url),
        None => println!("  ipfs      {}  (external)", info.ipfs.api_url),
    }
    println!(
        "  contract  {}  (code hash {}, deployed at block #{})",
        info.contract.address, info.contract.code_hash, info.contract.deployed_at_block
    );
    for old in &info.retired_contracts {
        println!(
            "  retired   {}  (code hash {}; its projects stay there)",
            old.address, old.code_hash
        );
    }
    match &info.ticker {
        Some(t) => println!(
            "  clock     a block every {} ms (pid {}, log {})",
            t.block_time_ms,
            t.pid,
            t.log.display()
        ),
        None => println!("  clock     a block only with each transaction (--block-time 0)"),
    }
    println!(
        "  accounts  {}",
        info.accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

pub async fn run(at: &At, cmd: DevnetCmd) -> Result<()> {
    let data = at.data_dir.as_path();
    match cmd {
        DevnetCmd::Up(a) => devnet_up(data, a, at.endpoints.ipfs_api.clone()).await,
        DevnetCmd::Down { purge } => {
            let r = devnet::down(data)?;
            for s in &r.stopped {
                println!("stopped {s}");
            }
            if r.stopped.is_empty() {
                println!("nothing was running in {}", data.display());
            }
            if purge && data.exists() {
                std::fs::remove_dir_all(data)
                    .with_context(|| format!("removing {}", data.display()))?;
                println!("removed {}", data.display());
            }
            Ok(())
        }
        DevnetCmd::Tick {
            block_time_ms,
            state,
            rpc_url,
        } => {
            let target = match (state, rpc_url) {
                (Some(path), _) => merit_cli::ticker::TickTarget::Embedded(path),
                (None, Some(url)) => merit_cli::ticker::TickTarget::Node(url),
                (None, None) => unreachable!("clap requires one of them"),
            };
            merit_cli::ticker::run(&target, Duration::from_millis(block_time_ms)).await?;
            Ok(())
        }
        DevnetCmd::Status { json } => {
            let s = devnet::status(data).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("devnet    {}", s.data_dir.display());
                for (name, p) in [
                    ("chain", &s.node),
                    ("ipfs", &s.ipfs),
                    ("contract", &s.contract),
                    ("clock", &s.clock),
                ] {
                    println!(
                        "{name:<9} {:<8} {}",
                        if p.running { "up" } else { "DOWN" },
                        p.detail
                    );
                }
            }
            if !s.healthy() {
                return Err(crate::exit::Status {
                    code: crate::exit::FAILURE,
                    message: "the devnet is not healthy: a part above is DOWN (`merit devnet up` restarts it)".into(),
                }
                .into());
            }
            Ok(())
        }
    }
}
