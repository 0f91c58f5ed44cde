//! `merit`: Merit's command-line front end.

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use merit_cli::accounts;
use std::path::PathBuf;

mod aggregate;
mod bench;
mod ceremony_cmd;
mod config;
mod data;
mod demo_cmd;
mod devnet_cmd;
mod exit;
mod project_cmd;
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
    /// A `[networks.NAME]` table of the config file: its url, contract and ipfs-api
    #[arg(long, global = true, env = "MERIT_NETWORK", value_name = "NAME")]
    network: Option<String>,
    #[command(flatten)]
    endpoints: merit_cli::network::Endpoints,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// A local chain + IPFS daemon with the marketplace deployed: substrate-contracts-node
    /// where it is installed, else the embedded chain kept in a file
    #[command(subcommand)]
    Devnet(devnet_cmd::DevnetCmd),
    /// The marketplace contract
    #[command(subcommand)]
    Contract(ContractCmd),
    /// Projects on the marketplace
    #[command(subcommand)]
    Project(project_cmd::ProjectCmd),
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
        /// Rounds to run
        #[arg(long, default_value_t = merit_cli::story::DEFAULT_ROUNDS)]
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
    /// Upload and instantiate the committed bundle on the chain at --url (any
    /// pallet-contracts chain), and record its address in <data dir>/deployments.json,
    /// where later commands given the same --url find it
    ///
    /// Example: merit contract deploy --url ws://127.0.0.1:9944 --from file:owner.key
    Deploy {
        /// Who pays for the upload: a dev account (alice), `file:PATH`, `env:NAME`, a
        /// keystore JSON, or a secret URI
        #[arg(long, env = "MERIT_FROM")]
        from: String,
        /// Print the deployment as one JSON object
        #[arg(long)]
        json: bool,
    },
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
                // The trainer node reports each phase at info level; the chain client each
                // fee it estimates (none on dev chains).
                .unwrap_or_else(|_| {
                    "warn,merit_trainer=info,merit_aggregator=info,merit_chain=info".into()
                }),
        )
        .with_ansi(stderr_tty && !merit_cli::env::no_color())
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
    let at = merit_cli::network::At::new(&data, cli.endpoints);
    match cli.command {
        Cmd::Devnet(c) => devnet_cmd::run(&at, c).await,
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
                Freshness::Stale { recorded, now } => Err(exit::Status {
                    code: exit::STALE_BUNDLE,
                    message: format!("stale: the bundle was built from inputs {recorded}, the sources are now {now}; run `merit contract build`"),
                }
                .into()),
                Freshness::Missing => Err(exit::Status {
                    code: exit::STALE_BUNDLE,
                    message: "missing: no committed bundle; run `merit contract build`".into(),
                }
                .into()),
            }
        }
        Cmd::Contract(ContractCmd::Deploy { from, json }) => {
            contract_deploy(&at, &from, json).await
        }
        Cmd::Contract(ContractCmd::Build { force }) => {
            let b = merit_cli::contract::build(force)?;
            println!("{}", b.display());
            Ok(())
        }
        Cmd::Project(c) => project_cmd::run(&at, c).await,
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
            demo_cmd::run(&data, on, digits, rounds, json, report).await
        }
        Cmd::Bench(b) => bench::run(b),
        Cmd::Aggregator(c) => aggregate::run(&at, c).await,
        Cmd::Verify(a) => aggregate::verify(&at, a).await,
        Cmd::Trainer(t) => trainer::run(&at, t).await,
        Cmd::Data(d) => data::run(d),
        Cmd::Simulate(a) => sim::run(a),
        Cmd::Ceremony(c) => ceremony_cmd::run(&at, c).await,
    }
}

/// `merit contract deploy`: the committed bundle onto --url's chain, recorded.
async fn contract_deploy(at: &merit_cli::network::At, from: &str, json: bool) -> Result<()> {
    let url = at
        .chain_url()?
        .ok_or(merit_cli::network::NetworkError::NoUrl)?;
    let signer = signer_flag("--from", from)?;
    let d = merit_cli::network::deploy(&at.data_dir, &url, at.endpoints.finality, &signer).await?;
    if json {
        println!("{}", serde_json::to_string(&d)?);
    } else {
        println!(
            "deployed the marketplace at {} on {} (code {}, block {}); recorded in {}",
            d.deployment.address,
            d.deployment.url,
            d.deployment.code_hash,
            d.deployment.block,
            d.recorded_in.display()
        );
    }
    Ok(())
}

/// The key a flag names (`--from`, `--key`): a bad one is a usage error naming the flag.
pub(crate) fn signer_flag(flag: &str, value: &str) -> Result<merit_chain::Signer> {
    accounts::signer(value).with_context(|| flag.to_string())
}

/// A file a flag names, read whole: a missing or unreadable one is a usage error.
pub(crate) fn read_flag_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(exit::bad_input(format!("{flag} {}", path.display())))
}
