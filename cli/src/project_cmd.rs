//! `merit project`: flags and printing over `merit_cli::owner` and `merit_cli::project`.

use crate::{exit, read_flag_file, signer_flag};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use merit_cli::accounts;
use merit_cli::network::At;
use merit_cli::{owner, project};
use merit_protocol::abi::Deadlines;
use merit_protocol::spec::ProjectSpec;
use std::path::PathBuf;

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum ProjectCmd {
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
pub struct Signed {
    /// Project id
    id: u32,
    /// Who signs — a dev account name (alice … ferdie, //Bob//stash), file:PATH (a file only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to other users
    #[arg(long, env = "MERIT_FROM", default_value = "alice")]
    from: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ReportArgs {
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
pub struct CreateArgs {
    /// A ProjectSpec JSON file: validated, put into IPFS, and its CID posted. The spec fixes
    /// the model, the rounds, the slots per round and the round rule.
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

/// `CHUNK,DECISION`: two transcripts, each a file or a CID.
fn transcript_pair(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once(',') {
        Some((c, d)) if !c.is_empty() && !d.is_empty() => Ok((c.to_string(), d.to_string())),
        _ => Err(format!(
            "{s:?}: give the chunk circuit's transcript and the decision circuit's, as CHUNK,DECISION"
        )),
    }
}

async fn project_create(at: &At, a: CreateArgs) -> Result<()> {
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
    let market = at.marketplace().await?;
    let keys = match (shape_ceremony, keys) {
        (Some((c, d)), owner::RoundKeysSource::Chunked { chunk, .. }) => {
            let read = |source: merit_cli::ceremony::Source| async move {
                let bytes = match &source {
                    merit_cli::ceremony::Source::File(path) => {
                        read_flag_file("--shape-ceremony", path)?
                    }
                    _ => source.read(|| Ok(at.ipfs()?)).await?,
                };
                Ok::<_, anyhow::Error>((bytes, source.describe()))
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
            transcript: source.read(|| Ok(at.ipfs()?)).await?,
            name: source.describe(),
        },
        (None, None) => keys,
    };
    let posted = owner::post_project(
        &market,
        &at.ipfs()?,
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
async fn project_action(at: &At, a: Signed, action: Action) -> Result<()> {
    let signer = signer_flag("--from", &a.from)?;
    let market = at.marketplace().await?;
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

async fn project_report(at: &At, a: ReportArgs) -> Result<()> {
    let market = at.marketplace().await?;
    let labels = match &a.labels {
        Some(p) => merit_cli::report::Labels::read(p).map_err(|e| exit::BadInput {
            what: "--labels".into(),
            source: e.into(),
        })?,
        None => merit_cli::report::Labels::default(),
    };
    let ipfs = at.ipfs()?;
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

pub async fn run(at: &At, cmd: ProjectCmd) -> Result<()> {
    match cmd {
        ProjectCmd::Create(a) => project_create(at, a).await,
        ProjectCmd::Status { id, json } => {
            let s = project::status(&at.marketplace().await?, id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&project::to_json(&s))?);
            } else {
                print!("{}", project::render_table(&s));
            }
            Ok(())
        }
        ProjectCmd::Start(a) => project_action(at, a, Action::Start).await,
        ProjectCmd::Cancel(a) => project_action(at, a, Action::Cancel).await,
        ProjectCmd::Abort(a) => project_action(at, a, Action::Abort).await,
        ProjectCmd::Claim(a) => project_action(at, a, Action::Claim).await,
        ProjectCmd::Report(a) => project_report(at, a).await,
        ProjectCmd::Shapes { json } => {
            let shapes = at.marketplace().await?.shapes().await?;
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
    }
}
