//! `merit`: Merit's command-line front end.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use merit_chain::client::account_of;
use merit_chain::{dev_signer, AccountId32};
use merit_cli::devnet::{self, DevnetInfo, DevnetOptions, UpOutcome};
use merit_cli::owner;
use merit_protocol::abi::Deadlines;
use merit_protocol::spec::ProjectSpec;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod aggregate;
mod bench;
mod data;
mod sim;
mod trainer;

#[derive(Parser)]
#[command(
    name = "merit",
    version,
    about = "Collaborative ML where trainers are paid by proven contribution"
)]
struct Cli {
    /// Directory holding the devnet (devnet.json, chain data, logs)
    #[arg(long, global = true, env = "MERIT_HOME", default_value = ".merit")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// A local chain + IPFS daemon with the marketplace deployed
    #[command(subcommand)]
    Devnet(DevnetCmd),
    /// The marketplace contract
    #[command(subcommand)]
    Contract(ContractCmd),
    /// Projects on the marketplace
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Trainer nodes: train on local data, commit, reveal, get paid
    #[command(subcommand)]
    Trainer(trainer::TrainerCmd),
    /// Data sets: split among trainers, fetch the digits
    #[command(subcommand)]
    Data(data::DataCmd),
    /// Run the demo: on the embedded chain (in-process pallet-contracts) by default, or on
    /// the devnet's substrate-contracts-node with --node (brought up if needed)
    ///
    /// Example: merit data fetch-digits --out digits.csv && merit demo --digits digits.csv
    Demo {
        /// Use the devnet's substrate-contracts-node instead of the embedded chain
        #[arg(long)]
        node: bool,
        /// The digits CSV (`merit data fetch-digits --out FILE`)
        #[arg(long, env = "MERIT_DIGITS", default_value = "digits.csv")]
        digits: PathBuf,
        /// Rounds to run
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Print the summary as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks (proving time and memory; training speed and accuracy; Multi-Krum
    /// against Flower)
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// The aggregator node
    #[command(subcommand)]
    Aggregator(aggregate::AggregatorCmd),
    /// Re-check a finalised round from chain + IPFS alone (exit status 1 on any disagreement)
    Verify(aggregate::VerifyArgs),
    /// Rounds in memory (no chain, no proofs) with the nodes' trainer and rule code:
    /// accuracy under attack and each trainer's score, for experiments
    Simulate(sim::SimulateArgs),
}

#[derive(Subcommand)]
enum DevnetCmd {
    /// Start substrate-contracts-node and IPFS on loopback and deploy the contract
    Up(UpArgs),
    /// Stop the processes `up` started
    Down {
        /// Also delete the data directory
        #[arg(long)]
        purge: bool,
    },
    /// Report each part's health (exit status 1 if any is down)
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct UpArgs {
    /// Node RPC port (default: a free one)
    #[arg(long)]
    rpc_port: Option<u16>,
    /// substrate-contracts-node binary
    #[arg(long, env = "MERIT_NODE_BIN")]
    node_bin: Option<PathBuf>,
    /// IPFS daemon binary (Kubo `ipfs` or `jsipfs`)
    #[arg(long, env = "MERIT_IPFS_BIN")]
    ipfs_bin: Option<PathBuf>,
    /// Use this running IPFS daemon (Kubo RPC API URL) instead of starting one
    #[arg(long, env = "MERIT_IPFS_API")]
    ipfs_api: Option<String>,
    /// Deploy this prebuilt .contract bundle instead of building the contract
    #[arg(long)]
    bundle: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ContractCmd {
    /// Rebuild the committed bundle (contracts/bundle/) with cargo-contract, only when its
    /// sources changed
    Build {
        #[arg(long)]
        force: bool,
    },
    /// Whether the committed bundle matches its sources (exit status 3 if not)
    Check,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
enum ProjectCmd {
    /// Post a project and escrow its reward pool
    Create(CreateArgs),
    /// Show one project
    Status {
        id: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct CreateArgs {
    /// A ProjectSpec JSON file: validated, put into IPFS, and its CID posted. The spec fixes
    /// the model, the rounds, the slots (max trainers) and the round rule.
    #[arg(long)]
    spec: PathBuf,
    /// Reward pool, in the chain's smallest unit
    #[arg(long)]
    pool: u128,
    /// Initial model file (Merit model format); default: a seeded initialisation of the spec's model
    #[arg(long)]
    model: Option<PathBuf>,
    /// Round-circuit verifying key file (from an earlier setup of this spec's shape);
    /// default: run a fresh trusted setup now and put the proving key into IPFS
    #[arg(long, requires = "proving_key_cid")]
    vk: Option<PathBuf>,
    /// With `--vk`: the CID of the matching proving key file already in IPFS (posted on
    /// chain so the aggregator can find it)
    #[arg(long, requires = "vk")]
    proving_key_cid: Option<String>,
    #[arg(long, default_value_t = 2)]
    min_trainers: u32,
    /// Stake each trainer deposits with `join`
    #[arg(long, default_value_t = 1_000_000_000_000)]
    stake: u128,
    /// Aggregator: a dev account name or an SS58 address
    #[arg(long, default_value = "charlie")]
    aggregator: String,
    /// Aggregator's fee, paid out of the pool pro rata per finalised round
    #[arg(long, default_value_t = 0)]
    fee: u128,
    /// Bond the aggregator must deposit before the project can start
    #[arg(long, default_value_t = 0)]
    bond: u128,
    /// Blocks for joining, committing, revealing and aggregating
    #[arg(long, default_value_t = 100)]
    join_blocks: u32,
    #[arg(long, default_value_t = 50)]
    commit_blocks: u32,
    #[arg(long, default_value_t = 50)]
    reveal_blocks: u32,
    #[arg(long, default_value_t = 50)]
    aggregate_blocks: u32,
    /// Dev account that signs (the owner)
    #[arg(long, default_value = "alice")]
    from: String,
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MERIT_LOG")
                // The trainer node reports each phase at info level.
                .unwrap_or_else(|_| "warn,merit_trainer=info,merit_aggregator=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let data = cli.data_dir;
    match cli.command {
        Cmd::Devnet(DevnetCmd::Up(a)) => devnet_up(&data, a).await,
        Cmd::Devnet(DevnetCmd::Down { purge }) => {
            let r = devnet::down(&data)?;
            for s in &r.stopped {
                println!("stopped {s}");
            }
            if r.stopped.is_empty() {
                println!("nothing was running in {}", data.display());
            }
            if purge && data.exists() {
                std::fs::remove_dir_all(&data)
                    .with_context(|| format!("removing {}", data.display()))?;
                println!("removed {}", data.display());
            }
            Ok(())
        }
        Cmd::Devnet(DevnetCmd::Status { json }) => {
            let s = devnet::status(&data).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("devnet    {}", s.data_dir.display());
                for (name, p) in [
                    ("node", &s.node),
                    ("ipfs", &s.ipfs),
                    ("contract", &s.contract),
                ] {
                    println!(
                        "{name:<9} {:<8} {}",
                        if p.running { "up" } else { "DOWN" },
                        p.detail
                    );
                }
            }
            if !s.healthy() {
                std::process::exit(1);
            }
            Ok(())
        }
        Cmd::Contract(ContractCmd::Check) => {
            use merit_cli::contract::Freshness;
            match merit_cli::contract::freshness()? {
                Freshness::Fresh => {
                    println!(
                        "fresh: {}",
                        merit_cli::contract::committed_bundle().display()
                    );
                    Ok(())
                }
                Freshness::Stale { recorded, now } => {
                    eprintln!("stale: the bundle was built from inputs {recorded}, the sources are now {now}; run `merit contract build`");
                    std::process::exit(3)
                }
                Freshness::Missing => {
                    eprintln!("missing: no committed bundle; run `merit contract build`");
                    std::process::exit(3)
                }
            }
        }
        Cmd::Contract(ContractCmd::Build { force }) => {
            let b = merit_cli::contract::build(force)?;
            println!("{}", b.display());
            Ok(())
        }
        Cmd::Project(ProjectCmd::Create(a)) => project_create(&data, a).await,
        Cmd::Project(ProjectCmd::Status { id, json }) => {
            let info = DevnetInfo::read(&data)?;
            let p = info.marketplace().await?.project(id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&project_json(&p))?);
            } else {
                print_project(&p);
            }
            Ok(())
        }
        Cmd::Demo {
            node,
            digits,
            rounds,
            json,
        } => demo(&data, node, digits, rounds, json).await,
        Cmd::Bench(b) => bench::run(b),
        Cmd::Aggregator(c) => aggregate::run(&data, c).await,
        Cmd::Verify(a) => aggregate::verify(&data, a).await,
        Cmd::Trainer(t) => trainer::run(&data, t).await,
        Cmd::Data(d) => data::run(d),
        Cmd::Simulate(a) => sim::run(a),
    }
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

async fn devnet_up(data: &PathBuf, a: UpArgs) -> Result<()> {
    let mut opts = DevnetOptions::new(data);
    opts.rpc_port = a.rpc_port;
    opts.node_bin = a.node_bin;
    opts.ipfs_bin = a.ipfs_bin;
    opts.ipfs_api = a.ipfs_api;
    opts.bundle = a.bundle;
    let started = Instant::now();
    let pb = (!a.json)
        .then(|| spinner("starting substrate-contracts-node and IPFS, deploying the marketplace"));
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
    println!(
        "  node      {}  (pid {}, log {})",
        info.node.rpc_url,
        info.node.pid,
        info.node.log.display()
    );
    match info.ipfs.pid {
        Some(pid) => println!("  ipfs      {}  (pid {pid})", info.ipfs.api_url),
        None => println!("  ipfs      {}  (external)", info.ipfs.api_url),
    }
    println!(
        "  contract  {}  (code hash {})",
        info.contract.address, info.contract.code_hash
    );
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

fn account_arg(s: &str) -> Result<AccountId32> {
    if let Ok(signer) = dev_signer(s) {
        return Ok(account_of(&signer));
    }
    s.parse::<AccountId32>().map_err(|e| {
        anyhow::anyhow!("{s:?} is neither a dev account name nor an SS58 address ({e:?})")
    })
}

async fn project_create(data: &std::path::Path, a: CreateArgs) -> Result<()> {
    let info = DevnetInfo::read(data)?;
    let text = std::fs::read_to_string(&a.spec)
        .with_context(|| format!("reading {}", a.spec.display()))?;
    let spec = ProjectSpec::from_json(&text).with_context(|| format!("in {}", a.spec.display()))?;
    let model = match &a.model {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let m = merit_protocol::format::ModelFile::parse(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if m.values.len() as u64 != spec.parameter_count() {
                bail!(
                    "{} holds {} parameters; the spec's model has {}",
                    path.display(),
                    m.values.len(),
                    spec.parameter_count()
                );
            }
            m
        }
        None => owner::initial_model(&spec, rand::random())?,
    };
    let (verifying_key, pk_cid) = match &a.vk {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let vk = owner::verifying_key_from_file(&bytes)
                .with_context(|| format!("in {}", path.display()))?;
            let cid = a.proving_key_cid.as_deref().unwrap_or_default();
            let cid = merit_storage::parse_cid(cid).context("--proving-key-cid")?;
            (vk, cid.to_string())
        }
        None => {
            let keys = owner::setup_round(&spec)?;
            let cid = info
                .ipfs()?
                .add(keys.proving_key_file)
                .await
                .context("putting the proving key into IPFS")?;
            tracing::info!(seconds = keys.seconds, %cid, "round circuit setup");
            (keys.verifying_key, cid.to_string())
        }
    };
    let ipfs = info.ipfs()?;
    let spec_cid = ipfs
        .add(spec.to_json().into_bytes())
        .await
        .context("putting the spec into IPFS")?;
    let model_cid = ipfs
        .add(model.encode())
        .await
        .context("putting the initial model into IPFS")?;
    let params = owner::project_params(owner::ParamsFor {
        spec: &spec,
        spec_cid: spec_cid.to_string(),
        model: &model,
        model_cid: model_cid.to_string(),
        proving_key_cid: pk_cid.clone(),
        min_trainers: a.min_trainers,
        trainer_stake: a.stake,
        aggregator: account_arg(&a.aggregator)?.0,
        aggregator_fee: a.fee,
        aggregator_bond: a.bond,
        deadlines: Deadlines {
            join: a.join_blocks,
            commit: a.commit_blocks,
            reveal: a.reveal_blocks,
            aggregate: a.aggregate_blocks,
        },
    });
    let market = info.marketplace().await?;
    let owner = dev_signer(&a.from)?;
    let id = market
        .create_project(&owner, &params, &verifying_key, a.pool)
        .await
        .context("create_project")?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "project": id, "spec_cid": spec_cid.to_string(),
                "model_cid": model_cid.to_string(), "proving_key_cid": pk_cid })
        );
    } else {
        println!("project {id} created; {} escrowed", a.pool);
        println!("  spec {spec_cid}, initial model {model_cid}");
        println!("  proving key (for the aggregator) {pk_cid}");
    }
    Ok(())
}

fn project_json(p: &merit_protocol::abi::ProjectView) -> serde_json::Value {
    serde_json::json!({
        "id": p.id,
        "owner": AccountId32(p.owner).to_string(),
        "aggregator": AccountId32(p.params.aggregator).to_string(),
        "spec_cid": String::from_utf8_lossy(&p.params.spec_cid),
        "rounds": p.params.rounds,
        "min_trainers": p.params.min_trainers,
        "max_trainers": p.params.max_trainers,
        "trainer_stake": p.params.trainer_stake.to_string(),
        "pool": p.pool.to_string(),
        "phase": format!("{:?}", p.phase),
        "round": p.round,
        "created_at": p.created_at,
        "phase_deadline": p.phase_deadline,
        "trainers": p.trainers,
        "committed": p.committed,
        "revealed": p.revealed,
        "aggregator_bonded": p.aggregator_bonded,
        "aggregator_fee": p.params.aggregator_fee.to_string(),
        "aggregator_bond": p.params.aggregator_bond.to_string(),
        "model_cid": String::from_utf8_lossy(&p.model_cid),
        "model_commitment": hex::encode(p.model_commitment.0),
        "proving_key_cid": String::from_utf8_lossy(&p.params.proving_key_cid),
    })
}

fn print_project(p: &merit_protocol::abi::ProjectView) {
    println!(
        "project {}  ({:?}, round {}/{})",
        p.id, p.phase, p.round, p.params.rounds
    );
    println!("  owner       {}", AccountId32(p.owner));
    println!("  aggregator  {}", AccountId32(p.params.aggregator));
    println!(
        "  spec        {}",
        String::from_utf8_lossy(&p.params.spec_cid)
    );
    println!("  pool        {}", p.pool);
    println!(
        "  trainers    {}..={} slots, stake {}",
        p.params.min_trainers, p.params.max_trainers, p.params.trainer_stake
    );
    println!(
        "  joined      {} trainer(s); this round {} committed, {} revealed",
        p.trainers, p.committed, p.revealed
    );
    println!("  model       {}", String::from_utf8_lossy(&p.model_cid));
    println!(
        "  created at  block #{}; current phase ends after block #{}",
        p.created_at, p.phase_deadline
    );
}

/// The whole story (`merit_cli::story`), on the embedded chain or the devnet's node.
async fn demo(data: &PathBuf, node: bool, digits: PathBuf, rounds: u32, json: bool) -> Result<()> {
    // Either the devnet (node + IPFS, left running), or the embedded chain with an IPFS
    // daemon of its own that stops when the demo ends.
    let (market, ipfs, _daemon) = if node {
        let info = match DevnetInfo::read(data) {
            Ok(i) if i.processes_alive() => i,
            _ => {
                eprintln!("bringing the devnet up first…");
                match devnet::up(&DevnetOptions::new(data)).await? {
                    UpOutcome::Started(i) | UpOutcome::AlreadyRunning(i) => i,
                }
            }
        };
        (info.marketplace().await?, info.ipfs()?, None)
    } else {
        let daemon = devnet::IpfsDaemon::start(&data.join("demo"), Duration::from_secs(90))
            .await
            .context("starting an IPFS daemon for the demo")?;
        let (_, market) = merit_cli::chain::embedded_marketplace(None).await?;
        (market, daemon.store()?, Some(daemon))
    };
    eprintln!(
        "== Merit demo on the {} chain: an owner, 5 trainer nodes (2 honest; label-flip, \
         free-rider and copier are SIMULATED attackers), an aggregator proving every round ==",
        market.backend_kind()
    );
    let work = tempfile_dir(data)?;
    let opts = merit_cli::story::StoryOptions {
        digits,
        work_dir: work,
        rounds,
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
