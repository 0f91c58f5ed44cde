//! `merit`: Merit's command-line front end.

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use merit_cli::accounts;
use merit_cli::devnet::{self, DevnetInfo, DevnetOptions, UpOutcome};
use merit_cli::{owner, project};
use merit_protocol::abi::Deadlines;
use merit_protocol::spec::ProjectSpec;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod aggregate;
mod bench;
mod ceremony_cmd;
mod config;
mod data;
mod exit;
mod sim;
mod trainer;

#[derive(Parser)]
#[command(
    name = "merit",
    version,
    about = "Collaborative ML where trainers are paid by proven contribution",
    after_help = config::AFTER_HELP
)]
struct Cli {
    /// Directory holding the devnet (devnet.json, chain data, logs)
    #[arg(long, global = true, env = "MERIT_HOME", default_value = ".merit")]
    data_dir: PathBuf,
    /// Config file of flag defaults (`from = "alice"`); default: <data dir>/config.toml
    #[arg(long, global = true, env = "MERIT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// A local chain + IPFS daemon with the marketplace deployed: substrate-contracts-node
    /// where it is installed, else the embedded chain kept in a file
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
    /// Run the whole story: an owner posts a digits project, five trainer nodes (three of
    /// them simulated attackers) and the aggregator run every round with proofs verified on
    /// chain, everyone claims, and the report is written
    ///
    /// By default on the embedded chain (in-process pallet-contracts), the roles as tasks of
    /// this process. With --devnet, on the devnet (`merit devnet up`, brought up if needed),
    /// the roles as `merit trainer run` / `merit aggregator run` processes; --node is
    /// --devnet on substrate-contracts-node.
    ///
    /// Example: merit demo --json > summary.json && xdg-open .merit/demo/report/report.html
    Demo {
        /// On the devnet's substrate-contracts-node, roles as separate processes
        #[arg(long)]
        node: bool,
        /// On the devnet (whichever chain it runs), roles as separate processes
        #[arg(long)]
        devnet: bool,
        /// The digits CSV (default: fetched once into the tools directory)
        #[arg(long, env = "MERIT_DIGITS")]
        digits: Option<PathBuf>,
        /// Rounds to run (five reach 90 %+ test accuracy on digits)
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Print the summary as one JSON object
        #[arg(long)]
        json: bool,
        /// Where the project report goes (default: <data dir>/demo/report)
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Benchmarks (proving time and memory; training speed and accuracy; Multi-Krum
    /// against Flower)
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// The aggregator node
    #[command(subcommand)]
    Aggregator(aggregate::AggregatorCmd),
    /// Re-check a finalised round from chain + IPFS alone (exit status 1 on any disagreement)
    ///
    /// Example: merit verify --project 0 --round 1
    Verify(aggregate::VerifyArgs),
    /// Rounds in memory (no chain, no proofs) with the nodes' trainer and rule code:
    /// accuracy under attack and each trainer's score, for experiments
    ///
    /// Example: merit simulate --data digits.csv --trainers 10 --alpha 0.5 --attack label-flip:0.2
    Simulate(sim::SimulateArgs),
    /// A setup ceremony nobody holds the secret of: powers of tau (phase 1), then per
    /// spec the round circuit's phase 2; keys derived from a transcript that verifies
    ///
    /// Example: merit ceremony phase2 verify --spec spec.json t-2.bin
    #[command(subcommand)]
    Ceremony(ceremony_cmd::CeremonyCmd),
    /// Print a shell completion script
    ///
    /// Example: merit completions bash > ~/.local/share/bash-completion/completions/merit
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum DevnetCmd {
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

#[derive(Subcommand)]
enum ContractCmd {
    /// Rebuild the committed bundle (contracts/bundle/) with cargo-contract, only when its
    /// sources changed
    ///
    /// Example: merit contract build
    Build {
        #[arg(long)]
        force: bool,
    },
    /// Whether the committed bundle matches its sources (exit status 3 if not)
    ///
    /// Example: merit contract check || merit contract build
    Check,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
enum ProjectCmd {
    /// Post a project and escrow its reward pool
    ///
    /// Example: merit project create --spec examples/digits-spec.json --pool 5000000000000000
    /// --aggregator charlie --fee 250000000000000 --bond 1000000000000
    Create(CreateArgs),
    /// Show one project: phase, round, deadlines, trainers, this round's commits and
    /// reveals, set-asides, scores per round and, once ended, payouts
    ///
    /// Example: merit project status 0 --json
    Status {
        id: u32,
        #[arg(long)]
        json: bool,
    },
    /// Start a project once enough trainers joined and the aggregator bonded (owner only)
    ///
    /// Example: merit project start 0 --from alice
    Start(Signed),
    /// Cancel a project before it starts: everyone's deposit comes back by claim (the owner
    /// any time before `start`; anyone once the join deadline passed with the project not ready)
    ///
    /// Example: merit project cancel 0 --from alice && merit project claim 0 --from alice
    Cancel(Signed),
    /// End a project whose aggregator let the aggregation deadline pass (anyone): proven
    /// rounds are still paid, the aggregator's bond goes to the owner
    ///
    /// Example: merit project abort 0 --from bob
    Abort(Signed),
    /// Collect everything the signer is owed by an ended project (every role at once)
    ///
    /// Example: merit project claim 0 --from alice
    Claim(Signed),
    /// List the proof shapes registered on chain for chunked projects (slots, chunk size,
    /// the key file's CID): a project of a listed shape opens with no setup
    ///
    /// Example: merit project shapes --json
    Shapes {
        #[arg(long)]
        json: bool,
    },
    /// Write the project's report: a self-contained HTML page with plots and report.json
    ///
    /// Example: merit project report 0 --out report/ --aggregator-state .merit/aggregator
    Report(ReportArgs),
}

#[derive(Args)]
struct Signed {
    /// Project id
    id: u32,
    /// Who signs — a dev account name (alice … ferdie, //Bob//stash), file:PATH (a file only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to other users
    #[arg(long, env = "MERIT_FROM", default_value = "alice")]
    from: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// Project id
    id: u32,
    /// Directory to write report.html and report.json into (created if missing)
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// The aggregator's state directory: its round reports (validation accuracy and loss,
    /// proof times) and the weights its rounds used on chain
    #[arg(long, env = "MERIT_AGGREGATOR_STATE")]
    aggregator_state: Option<PathBuf>,
    /// Label trainers: a JSON object {"<SS58 or dev name>": "label", …}; labels that end in
    /// "(simulated)" are drawn as attackers
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The owner's labelled holdout CSV: the initial model and every round's model are
    /// evaluated on it where the aggregator's reports do not say
    #[arg(long, env = "MERIT_VALIDATION")]
    validation: Option<PathBuf>,
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
    /// Prove rounds in chunks of this many parameters (protocol v4; any model size, memory
    /// bounded by the chunk): reuses a proof shape of the spec's slots and this chunk size
    /// registered on chain, or sets one up and registers it
    #[arg(long, conflicts_with = "vk", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    chunk: Option<u32>,
    /// With `--chunk`: the registered proof shape to use (`merit project shapes`); default:
    /// one you registered, else a fresh setup. Whoever ran a shape's setup could forge its
    /// proofs: name another's shape only if you trust its setup
    #[arg(long, requires = "chunk")]
    shape: Option<u32>,
    /// Take the round circuit's keys from this setup-ceremony transcript (`merit ceremony
    /// phase2`; a file or a CID): verified against the spec in full, then it and the
    /// proving key go into IPFS
    #[arg(long, value_name = "FILE|CID", conflicts_with_all = ["vk", "chunk"])]
    ceremony: Option<String>,
    /// With `--chunk`: register a new proof shape whose keys come from these two ceremony
    /// transcripts (`merit ceremony phase2 --chunk-shape SLOTS,CHUNK` and
    /// `--decision-shape SLOTS`; files or CIDs), both verified in full, then recorded on
    /// chain for every trainer of the shape's projects to check
    #[arg(long, value_name = "CHUNK,DECISION", requires = "chunk", conflicts_with = "shape", value_parser = transcript_pair)]
    shape_ceremony: Option<(String, String)>,
    #[arg(long, default_value_t = 2)]
    min_trainers: u32,
    /// Stake each trainer deposits with `join`
    #[arg(long, default_value_t = 1_000_000_000_000)]
    stake: u128,
    /// Aggregator: a dev account name, a secret URI or an SS58 address
    #[arg(long, env = "MERIT_AGGREGATOR", default_value = "charlie")]
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
    /// Who signs (the owner) — a dev account name (alice … ferdie, //Bob//stash), file:PATH (a file only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to other users
    #[arg(long, env = "MERIT_FROM", default_value = "alice")]
    from: String,
    #[arg(long)]
    json: bool,
}

fn main() {
    // Before anything else runs (and before any thread exists): the config file's values
    // become the defaults of the flags' environment variables, so a flag beats the
    // environment, which beats the file.
    if let Err(e) = config::apply(&Cli::command()) {
        eprintln!("error: {e:#}");
        std::process::exit(exit::USAGE);
    }
    let cli = Cli::parse();
    let stderr_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MERIT_LOG")
                // The trainer node reports each phase at info level.
                .unwrap_or_else(|_| "warn,merit_trainer=info,merit_aggregator=info".into()),
        )
        .with_ansi(stderr_tty && std::env::var_os("NO_COLOR").is_none())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILURE);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        if let Some(hint) = exit::hint(&e) {
            eprintln!("hint: {hint}");
        }
        std::process::exit(exit::code(&e));
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
        Cmd::Devnet(DevnetCmd::Tick {
            block_time_ms,
            state,
            rpc_url,
        }) => {
            let target = match (state, rpc_url) {
                (Some(path), _) => merit_cli::ticker::TickTarget::Embedded(path),
                (None, Some(url)) => merit_cli::ticker::TickTarget::Node(url),
                (None, None) => unreachable!("clap requires one of them"),
            };
            merit_cli::ticker::run(&target, Duration::from_millis(block_time_ms)).await?;
            Ok(())
        }
        Cmd::Devnet(DevnetCmd::Status { json }) => {
            let s = devnet::status(&data).await?;
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
            let s = project::status(&info.marketplace().await?, id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&project::to_json(&s))?);
            } else {
                print!("{}", project::render_table(&s));
            }
            Ok(())
        }
        Cmd::Project(ProjectCmd::Start(a)) => project_action(&data, a, Action::Start).await,
        Cmd::Project(ProjectCmd::Cancel(a)) => project_action(&data, a, Action::Cancel).await,
        Cmd::Project(ProjectCmd::Abort(a)) => project_action(&data, a, Action::Abort).await,
        Cmd::Project(ProjectCmd::Claim(a)) => project_action(&data, a, Action::Claim).await,
        Cmd::Project(ProjectCmd::Report(a)) => project_report(&data, a).await,
        Cmd::Project(ProjectCmd::Shapes { json }) => {
            let info = DevnetInfo::read(&data)?;
            let shapes = info.marketplace().await?.shapes().await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&project::shapes_json(&shapes))?
                );
            } else {
                print!("{}", project::render_shapes(&shapes));
            }
            Ok(())
        }
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "merit", &mut std::io::stdout());
            Ok(())
        }
        Cmd::Demo {
            node,
            devnet,
            digits,
            rounds,
            json,
            report,
        } => {
            let report = report.unwrap_or_else(|| data.join("demo").join("report"));
            let digits = match digits {
                Some(d) => d,
                None => merit_cli::tools::digits_csv().context("fetching the digits")?,
            };
            let on = match (node, devnet) {
                (true, _) => Some(Some(merit_cli::chain::ChainChoice::Node)),
                (false, true) => Some(None),
                (false, false) => None,
            };
            demo(&data, on, digits, rounds, json, report).await
        }
        Cmd::Bench(b) => bench::run(b),
        Cmd::Aggregator(c) => aggregate::run(&data, c).await,
        Cmd::Verify(a) => aggregate::verify(&data, a).await,
        Cmd::Trainer(t) => trainer::run(&data, t).await,
        Cmd::Data(d) => data::run(d),
        Cmd::Simulate(a) => sim::run(a),
        Cmd::Ceremony(c) => ceremony_cmd::run(&data, c).await,
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

/// `--block-time SECONDS` as the ticker's period; 0 turns the ticker off.
fn block_time(secs: f64) -> Result<Option<Duration>> {
    if !(0.0..=3600.0).contains(&secs) {
        anyhow::bail!("--block-time {secs}: give seconds between 0 (off) and 3600");
    }
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs).max(Duration::from_millis(1))))
}

async fn devnet_up(data: &PathBuf, a: UpArgs) -> Result<()> {
    let mut opts = DevnetOptions::new(data);
    opts.rpc_port = a.rpc_port;
    opts.node_bin = a.node_bin;
    opts.ipfs_bin = a.ipfs_bin;
    opts.ipfs_api = a.ipfs_api;
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

/// The key a flag names (`--from`, `--key`): a bad one is a usage error naming the flag.
pub(crate) fn signer_flag(flag: &str, value: &str) -> Result<merit_chain::Signer> {
    accounts::signer(value).with_context(|| flag.to_string())
}

/// A file a flag names, read whole: a missing or unreadable one is a usage error.
fn read_flag_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(exit::bad_input(format!("{flag} {}", path.display())))
}

/// `CHUNK,DECISION`: two transcripts, each a file or a CID.
fn transcript_pair(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once(',') {
        Some((c, d)) if !c.is_empty() && !d.is_empty() => Ok((c.to_string(), d.to_string())),
        _ => Err(format!(
            "{s:?}: give the chunk circuit's transcript and the decision circuit's, as CHUNK,DECISION"
        )),
    }
}

async fn project_create(data: &std::path::Path, a: CreateArgs) -> Result<()> {
    // The flags and the files they name first: a mistake there is the user's (exit 2)
    // whatever state the devnet is in.
    let signer = signer_flag("--from", &a.from)?;
    let aggregator = accounts::account(&a.aggregator).context("--aggregator")?;
    let spec_flag = format!("--spec {}", a.spec.display());
    let text = String::from_utf8(read_flag_file("--spec", &a.spec)?)
        .map_err(exit::bad_input(spec_flag.clone()))?;
    let spec = ProjectSpec::from_json(&text).map_err(exit::bad_input(spec_flag))?;
    let model = match &a.model {
        Some(path) => Some(
            merit_protocol::format::ModelFile::parse(&read_flag_file("--model", path)?)
                .map_err(exit::bad_input(format!("--model {}", path.display())))?,
        ),
        None => None,
    };
    let keys = match (&a.vk, &a.proving_key_cid, a.chunk) {
        (Some(path), Some(cid), _) => owner::RoundKeysSource::Existing {
            verifying_key_file: read_flag_file("--vk", path)?,
            proving_key_cid: cid.clone(),
        },
        (_, _, Some(chunk)) => owner::RoundKeysSource::Chunked {
            chunk,
            shape: a.shape,
        },
        _ => owner::RoundKeysSource::Setup,
    };
    let ceremony = a
        .ceremony
        .as_deref()
        .map(merit_cli::ceremony::Source::parse);
    let ceremony_file = match &ceremony {
        Some(source @ merit_cli::ceremony::Source::File(path)) => {
            Some((read_flag_file("--ceremony", path)?, source.describe()))
        }
        _ => None,
    };
    let shape_ceremony = a.shape_ceremony.as_ref().map(|(c, d)| {
        (
            merit_cli::ceremony::Source::parse(c),
            merit_cli::ceremony::Source::parse(d),
        )
    });
    let info = DevnetInfo::read(data)?;
    let market = info.marketplace().await?;
    let keys = match (shape_ceremony, keys) {
        (Some((c, d)), owner::RoundKeysSource::Chunked { chunk, .. }) => {
            let read = |source: merit_cli::ceremony::Source| {
                let info = &info;
                async move {
                    let bytes = match &source {
                        merit_cli::ceremony::Source::File(path) => {
                            read_flag_file("--shape-ceremony", path)?
                        }
                        _ => source.read(|| Ok(info.ipfs()?)).await?,
                    };
                    Ok::<_, anyhow::Error>((bytes, source.describe()))
                }
            };
            owner::RoundKeysSource::ShapeCeremony {
                chunk,
                chunk_transcript: read(c).await?,
                decision_transcript: read(d).await?,
            }
        }
        (_, keys) => keys,
    };
    let keys = match (ceremony_file, &ceremony) {
        (Some((transcript, name)), _) => owner::RoundKeysSource::Ceremony { transcript, name },
        (None, Some(source)) => owner::RoundKeysSource::Ceremony {
            transcript: source.read(|| Ok(info.ipfs()?)).await?,
            name: source.describe(),
        },
        (None, None) => keys,
    };
    let posted = owner::post_project(
        &market,
        &info.ipfs()?,
        &signer,
        owner::PostProject {
            spec,
            model,
            seed: rand::random(),
            keys,
            pool: a.pool,
            min_trainers: a.min_trainers,
            trainer_stake: a.stake,
            aggregator: aggregator.0,
            aggregator_fee: a.fee,
            aggregator_bond: a.bond,
            deadlines: Deadlines {
                join: a.join_blocks,
                commit: a.commit_blocks,
                reveal: a.reveal_blocks,
                aggregate: a.aggregate_blocks,
            },
        },
    )
    .await?;
    if a.json {
        println!("{}", serde_json::to_string(&posted)?);
    } else {
        println!("project {} created; {} escrowed", posted.project, a.pool);
        println!(
            "  spec {}, initial model {}",
            posted.spec_cid, posted.model_cid
        );
        println!(
            "  proving key (for the aggregator) {}",
            posted.proving_key_cid
        );
        if let Some(s) = posted.shape {
            println!("  rounds proven in chunks with proof shape {s}");
        }
        if let Some(cid) = &posted.setup.setup_transcript_cid {
            println!(
                "  keys from the ceremony transcript {cid}: {} contributions, verified in {:.1} s",
                posted.setup.setup_contributions,
                posted.setup.setup_verify_seconds.unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Action {
    Start,
    Cancel,
    Abort,
    Claim,
}

/// One of the messages that move a project along or pay it out.
async fn project_action(data: &std::path::Path, a: Signed, action: Action) -> Result<()> {
    let signer = signer_flag("--from", &a.from)?;
    let info = DevnetInfo::read(data)?;
    let market = info.marketplace().await?;
    let amount = match action {
        Action::Start => market.start(&signer, a.id).await.map(|()| None),
        Action::Cancel => market.cancel(&signer, a.id).await.map(|()| None),
        Action::Abort => market.abort(&signer, a.id).await.map(|()| None),
        Action::Claim => market.claim(&signer, a.id).await.map(Some),
    }?;
    let done = match action {
        Action::Start => "started",
        Action::Cancel => "cancelled",
        Action::Abort => "aborted",
        Action::Claim => "claimed",
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "project": a.id, "done": done,
                "amount": amount.map(|v: u128| v.to_string()) })
        );
    } else {
        match amount {
            Some(v) => println!(
                "project {}: {done} {} for {}",
                a.id,
                project::thousands(v),
                a.from
            ),
            None => println!("project {}: {done}", a.id),
        }
    }
    Ok(())
}

async fn project_report(data: &std::path::Path, a: ReportArgs) -> Result<()> {
    let info = DevnetInfo::read(data)?;
    let market = info.marketplace().await?;
    let labels = match &a.labels {
        Some(p) => merit_cli::report::Labels::read(p).map_err(|e| exit::BadInput {
            what: "--labels".into(),
            source: e.into(),
        })?,
        None => merit_cli::report::Labels::default(),
    };
    let ipfs = info.ipfs()?;
    let validation = match &a.validation {
        Some(path) => {
            let view = market.project(a.id).await?;
            let spec = merit_trainer::node::load_spec(&ipfs, &view).await?;
            Some(
                merit_cli::validation::ValidationSet::load(&spec, path)
                    .map_err(exit::bad_input("--validation"))?,
            )
        }
        None => None,
    };
    let report = merit_cli::report::gather(
        &market,
        &ipfs,
        a.id,
        a.aggregator_state.as_deref(),
        &labels,
        validation
            .as_ref()
            .map(|v| v as &dyn merit_aggregator::report::Evaluator),
    )
    .await?;
    let written = merit_cli::report::write(&report, &a.out)?;
    println!("{}", written.html.display());
    println!("{}", written.json.display());
    Ok(())
}

/// The whole story (`merit_cli::story`): on an embedded chain of its own with the roles
/// as tasks (`devnet` None), or on the devnet (brought up on the chain asked for if it is
/// not running) with the roles as processes.
async fn demo(
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
