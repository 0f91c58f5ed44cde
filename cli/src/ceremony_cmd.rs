//! `merit ceremony`: flags and printing over `merit_cli::ceremony` (the flow).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use merit_cli::ceremony::{self as flow, Expect, Source};
use merit_cli::network::At;
use merit_protocol::spec::ProjectSpec;
use merit_storage::IpfsStore;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum CeremonyCmd {
    /// Powers of tau, once per domain size: start, contribute, verify
    #[command(subcommand)]
    Phase1(Phase1Cmd),
    /// One circuit (a spec's round circuit, or a chunked shape's chunk or decision
    /// circuit): derive its start from a phase 1, contribute, verify
    #[command(subcommand)]
    Phase2(Phase2Cmd),
    /// Open a ceremony in one step: a fresh phase 1 of 2^POWER points with your
    /// contribution, and the circuit's phase-2 start, made while your phase-1 secrets are
    /// still at hand (seconds, instead of `phase2 new`'s group FFTs; the very start
    /// `phase2 new` would derive, and every check re-verifies it against phase 1). Then
    /// others contribute to phase 2 as usual; a later phase-1 contribution needs
    /// `phase2 new` again. Your secrets are dropped, never written, but until someone
    /// else contributes to phase 1 you alone could forge: use it where phase 1 is yours to
    /// open (a local chain, a demo), not for a phase 1 others must trust
    ///
    /// Example: merit ceremony open --spec spec.json --power 17 --out t-0.bin
    Open {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// log2 of phase 1's domain (the circuit's domain or larger)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=24))]
        power: u32,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        io: Io,
    },
    /// Write a circuit's key files (round.vk and round.pk for --spec; chunk.* or decision.*
    /// for a shape's circuits), taken from a transcript that verifies in full against it
    ///
    /// Example: merit ceremony keys --spec spec.json --transcript t2.bin --out-dir keys/
    Keys(KeysArgs),
    /// Re-check a project's keys from chain + IPFS alone: the ceremony transcript its
    /// owner recorded, verified against the round circuit of the project's spec, must end
    /// at the recorded head and give exactly the verifying key the contract stores (what
    /// `merit trainer run` checks before it stakes)
    ///
    /// Example: merit ceremony verify --project 0
    Verify(ProjectArgs),
    /// Add your own phase-2 contribution to a project's keys before it starts (its owner,
    /// its aggregator or a joined trainer): verifies the recorded transcript, multiplies δ
    /// by a fresh secret from the OS, puts the new transcript and proving key into IPFS and
    /// posts the link, which the contract checks before it moves δ in the project's key.
    /// Afterwards nobody who contributed before you can forge its rounds alone (`trainer
    /// run` does this on joining unless --no-contribute)
    ///
    /// Example: merit ceremony contribute --project 0 --key //Bob
    Contribute(ContributeArgs),
}

#[derive(Args)]
pub struct ContributeArgs {
    /// Project id
    #[arg(long)]
    project: u32,
    /// Who signs: the project's owner, its aggregator or a joined trainer — a dev account name (alice … ferdie, //Bob//stash), file:PATH (a file only you can read: a secret URI, mnemonic, 0x seed or polkadot-js keystore, password in $MERIT_KEY_PASSWORD[_FILE]) or env:NAME; a secret typed here is visible to other users
    #[arg(long)]
    key: String,
    /// Print the outcome as one JSON object
    #[arg(long)]
    json: bool,
}

/// Which circuit a phase 2 (or its keys) is for: one of the three flags.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct CircuitArgs {
    /// The project spec (JSON) whose round circuit it is for
    #[arg(long)]
    spec: Option<PathBuf>,
    /// A chunked proof shape's chunk circuit, for SLOTS slots in chunks of CHUNK (what
    /// `project create --chunk` proves with)
    #[arg(long, value_name = "SLOTS,CHUNK", value_parser = parse_shape)]
    chunk_shape: Option<(u32, u32)>,
    /// A chunked proof shape's decision circuit, for SLOTS slots
    #[arg(long, value_name = "SLOTS", value_parser = clap::value_parser!(u32).range(1..=64))]
    decision_shape: Option<u32>,
}

fn parse_shape(s: &str) -> Result<(u32, u32), String> {
    let (slots, chunk) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?} is not SLOTS,CHUNK (e.g. 8,8192)"))?;
    let number = |t: &str| {
        t.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{t:?} in {s:?} is not a positive number"))
    };
    Ok((number(slots)?, number(chunk)?))
}

impl CircuitArgs {
    /// Reads the spec file, if that is the choice (a bad one is a usage error); the circuit
    /// itself is built later, on a blocking thread.
    fn choice(&self) -> Result<Choice> {
        Ok(match (&self.spec, self.chunk_shape, self.decision_shape) {
            (Some(path), ..) => Choice::Round(read_spec(path)?, path.display().to_string()),
            (None, Some((slots, chunk)), _) => Choice::Chunk(slots as usize, chunk as usize),
            (None, None, Some(slots)) => Choice::Decision(slots as usize),
            (None, None, None) => unreachable!("clap requires one of the three"),
        })
    }
}

/// The circuit [`CircuitArgs`] names, ready to build.
enum Choice {
    Round(ProjectSpec, String),
    Chunk(usize, usize),
    Decision(usize),
}

impl Choice {
    fn build(self) -> Result<flow::Circuit, flow::CeremonyCliError> {
        match self {
            Self::Round(spec, name) => flow::Circuit::round(&spec, &name),
            Self::Chunk(slots, chunk) => flow::Circuit::chunk(slots, chunk),
            Self::Decision(slots) => flow::Circuit::decision(slots),
        }
    }

    /// The key files' stem: round, chunk or decision.
    fn stem(&self) -> &'static str {
        match self {
            Self::Round(..) => "round",
            Self::Chunk(..) => "chunk",
            Self::Decision(..) => "decision",
        }
    }
}

#[derive(Args)]
pub struct ProjectArgs {
    /// Project id
    #[arg(long)]
    project: u32,
    /// Print the outcome as one JSON object
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum Phase1Cmd {
    /// A fresh phase 1 for 2^POWER points (nobody's secret yet: contribute to it)
    ///
    /// Example: merit ceremony phase1 new --power 12 --out p1-0.bin
    New {
        /// log2 of the domain: the round circuit's constraints + 1, rounded up to a power
        /// of two (`phase2 new` says when it is too small)
        #[arg(long)]
        power: u32,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        io: Io,
    },
    /// Verify a phase 1, add a contribution with fresh secrets from the OS, write it
    ///
    /// Example: merit ceremony phase1 contribute --in p1-0.bin --out p1-1.bin --ipfs
    Contribute {
        #[command(flatten)]
        input: Input,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        io: Io,
    },
    /// Verify a phase 1: every contribution's proofs and the final powers (exit status 1
    /// if it does not verify)
    ///
    /// Example: merit ceremony phase1 verify p1-2.bin
    Verify {
        /// The phase-1 file, or its CID
        #[arg(value_name = "FILE|CID")]
        transcript: String,
        #[command(flatten)]
        io: Io,
    },
}

#[derive(Subcommand)]
pub enum Phase2Cmd {
    /// Derive phase 2's start for the spec's round circuit from a verified phase 1 (the
    /// expensive step: group FFTs of the circuit's domain; anyone can redo it)
    ///
    /// Example: merit ceremony phase2 new --spec spec.json --phase1 p1-2.bin --out t-0.bin
    New {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// The phase-1 file, or its CID
        #[arg(long, value_name = "FILE|CID")]
        phase1: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        io: Io,
    },
    /// Verify a transcript against the spec, add a contribution (fresh δ from the OS), write it
    ///
    /// Example: merit ceremony phase2 contribute --spec spec.json --in t-0.bin --out t-1.bin
    Contribute {
        #[command(flatten)]
        circuit: CircuitArgs,
        #[command(flatten)]
        input: Input,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        io: Io,
    },
    /// Re-check a transcript: phase 1, the circuit, every phase-2 contribution and the
    /// final key against phase 1 (exit status 1 naming the failed check and contribution)
    ///
    /// Example: merit ceremony phase2 verify --spec spec.json --phase1 p1-2.bin t-2.bin
    Verify {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// The phase 1 the transcript must be built on (file or CID; compared by hash
        /// chain head); default: whichever it holds (checked in full either way)
        #[arg(long, value_name = "FILE|CID")]
        phase1: Option<String>,
        /// The transcript file, or its CID
        #[arg(value_name = "FILE|CID")]
        transcript: String,
        #[command(flatten)]
        io: Io,
    },
}

#[derive(Args)]
pub struct KeysArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// The transcript file, or its CID
    #[arg(long, value_name = "FILE|CID")]
    transcript: String,
    /// Where the .vk and .pk files go (created if missing)
    #[arg(long)]
    out_dir: PathBuf,
    #[command(flatten)]
    publish: Publish,
    #[command(flatten)]
    io: Io,
}

/// `--in FILE` or `--cid CID`.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Input {
    /// The file received
    #[arg(long = "in", value_name = "FILE")]
    file: Option<PathBuf>,
    /// The CID received (fetched from IPFS)
    #[arg(long, value_name = "CID")]
    cid: Option<String>,
}

impl Input {
    fn source(&self) -> Source {
        match (&self.file, &self.cid) {
            (Some(f), _) => Source::File(f.clone()),
            (None, Some(c)) => Source::Cid(c.clone()),
            (None, None) => unreachable!("clap requires one of them"),
        }
    }
}

/// `--ipfs`, for the commands that write a file.
#[derive(Args)]
pub struct Publish {
    /// Also put the file written (by `keys`: the proving key) into IPFS, pinned, and print
    /// its CID
    #[arg(long)]
    ipfs: bool,
}

/// A transcript written: its hash-chain head (hex), its size and, if published, its CID.
struct Written {
    hash: String,
    size: usize,
    cid: Option<String>,
}

impl Written {
    /// The head under `label` (`hash`, or `new hash` after a contribution) and the CID,
    /// aligned.
    fn print(&self, label: &str) {
        println!("  {label} {}", self.hash);
        if let Some(cid) = &self.cid {
            println!("  {:width$} {cid}", "cid", width = label.len());
        }
    }
}

#[derive(Args)]
pub struct Io {
    /// Print the outcome as one JSON object
    #[arg(long)]
    json: bool,
}

impl Io {
    /// The IPFS daemon: `--ipfs-api` (or its environment / config value), else the devnet's.
    fn store(&self, at: &At) -> Result<IpfsStore> {
        at.ipfs()
            .context("the IPFS daemon (to fetch a CID, or publish with --ipfs)")
    }

    async fn read(&self, at: &At, source: &Source) -> Result<Vec<u8>> {
        source.read(|| self.store(at)).await
    }

    /// Writes an encoded transcript to `out` (and, with `--ipfs`, into IPFS): what every
    /// command that writes one reports.
    async fn write_encoded(
        &self,
        at: &At,
        publish: &Publish,
        out: &Path,
        hash: merit_ceremony::Digest,
        bytes: Vec<u8>,
        what: &str,
    ) -> Result<Written> {
        let size = bytes.len();
        let cid = self.write(at, publish, out, bytes, what).await?;
        Ok(Written {
            hash: flow::hex_digest(&hash),
            size,
            cid,
        })
    }

    /// Writes `bytes` to `out` and, with `--ipfs`, puts them into IPFS.
    async fn write(
        &self,
        at: &At,
        publish: &Publish,
        out: &Path,
        bytes: Vec<u8>,
        what: &str,
    ) -> Result<Option<String>> {
        flow::write_file(out, &bytes)?;
        if !publish.ipfs {
            return Ok(None);
        }
        let store = self.store(at)?;
        Ok(Some(flow::publish(&store, bytes, what).await?))
    }
}

fn read_spec(path: &Path) -> Result<ProjectSpec> {
    let what = format!("--spec {}", path.display());
    let bytes = std::fs::read(path).map_err(crate::exit::bad_input(what.clone()))?;
    let text = String::from_utf8(bytes).map_err(crate::exit::bad_input(what.clone()))?;
    ProjectSpec::from_json(&text).map_err(crate::exit::bad_input(what))
}

/// Runs the heavy work off the async runtime's threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, flow::CeremonyCliError> + Send + 'static,
) -> Result<T> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .context("the ceremony thread")??)
}

fn print_json(value: serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string(&value)?);
    Ok(())
}

fn short(hash: &str) -> &str {
    &hash[..16.min(hash.len())]
}

pub async fn run(at: &At, cmd: CeremonyCmd) -> Result<()> {
    match cmd {
        CeremonyCmd::Phase1(Phase1Cmd::New {
            power,
            out,
            publish,
            io,
        }) => {
            let t = flow::phase1_new(power)?;
            let written = io
                .write_encoded(
                    at,
                    &publish,
                    &out,
                    t.hash(),
                    t.to_bytes(),
                    "the phase-1 transcript",
                )
                .await?;
            let Written { hash, size, cid } = &written;
            if io.json {
                return print_json(serde_json::json!({
                    "out": out, "power": power, "contributions": 0, "hash": hash,
                    "bytes": size, "cid": cid,
                }));
            }
            println!(
                "phase 1 for 2^{power} points written to {} ({size} bytes): no contribution yet",
                out.display()
            );
            written.print("hash");
            Ok(())
        }
        CeremonyCmd::Phase1(Phase1Cmd::Contribute {
            input,
            out,
            publish,
            io,
        }) => {
            let source = input.source();
            let what = source.describe();
            let bytes = io.read(at, &source).await?;
            let (t, received, seconds) = blocking(move || {
                let mut t = flow::read_phase1(&bytes, &what)?;
                let received = flow::check_phase1(&t, &what, true)?;
                let seconds = flow::phase1_contribute(&mut t)?;
                Ok((t, received, seconds))
            })
            .await?;
            let written = io
                .write_encoded(
                    at,
                    &publish,
                    &out,
                    t.hash(),
                    t.to_bytes(),
                    "the phase-1 transcript",
                )
                .await?;
            let Written { hash, size, cid } = &written;
            if io.json {
                return print_json(serde_json::json!({
                    "received": received, "out": out, "power": t.power,
                    "contributions": t.contributions.len(), "hash": hash,
                    "contribute_seconds": seconds, "bytes": size, "cid": cid,
                }));
            }
            println!(
                "verified {}: phase 1 for 2^{} points, {} contribution(s), hash {} ({:.2} s)",
                source.describe(),
                received.power,
                received.contributions,
                short(&received.hash),
                received.verify_seconds
            );
            println!(
                "contributed #{} in {seconds:.2} s (the secrets were dropped, never written); wrote {} ({size} bytes)",
                t.contributions.len(),
                out.display()
            );
            written.print("new hash");
            Ok(())
        }
        CeremonyCmd::Phase1(Phase1Cmd::Verify { transcript, io }) => {
            let source = Source::parse(&transcript);
            let what = source.describe();
            let bytes = io.read(at, &source).await?;
            let summary = blocking(move || {
                let t = flow::read_phase1(&bytes, &what)?;
                flow::check_phase1(&t, &what, false)
            })
            .await?;
            if io.json {
                let mut v = serde_json::to_value(&summary)?;
                v["verified"] = true.into();
                return print_json(v);
            }
            println!(
                "{}: phase 1 for 2^{} points, {} contribution(s), hash chain head {} ({:.2} s)",
                source.describe(),
                summary.power,
                summary.contributions,
                summary.hash,
                summary.verify_seconds
            );
            println!("OK");
            Ok(())
        }
        CeremonyCmd::Open {
            circuit,
            power,
            out,
            publish,
            io,
        } => {
            let choice = circuit.choice()?;
            let (t, seconds) = blocking(move || flow::open(&choice.build()?, power)).await?;
            let written = io
                .write_encoded(at, &publish, &out, t.hash(), t.to_bytes(), "the transcript")
                .await?;
            let Written { hash, size, cid } = &written;
            if io.json {
                return print_json(serde_json::json!({
                    "out": out, "power": power,
                    "phase1_contributions": 1, "phase2_contributions": 0,
                    "circuit_digest": flow::hex_digest(&t.phase2.circuit_digest),
                    "hash": hash, "open_seconds": seconds, "bytes": size, "cid": cid,
                }));
            }
            println!(
                "opened: phase 1 for 2^{power} points with your contribution (the secrets \
                 were dropped, never written) and phase 2's start, in {seconds:.2} s; wrote {} \
                 ({size} bytes)",
                out.display()
            );
            written.print("hash");
            Ok(())
        }
        CeremonyCmd::Phase2(Phase2Cmd::New {
            circuit,
            phase1,
            out,
            publish,
            io,
        }) => {
            let choice = circuit.choice()?;
            let source = Source::parse(&phase1);
            let what = source.describe();
            let bytes = io.read(at, &source).await?;
            let (t, seconds) = blocking(move || {
                let p1 = flow::read_phase1(&bytes, &what)?;
                let circuit = choice.build()?;
                flow::phase2_new(&circuit, p1, &what)
            })
            .await?;
            let written = io
                .write_encoded(at, &publish, &out, t.hash(), t.to_bytes(), "the transcript")
                .await?;
            let Written { hash, size, cid } = &written;
            if io.json {
                return print_json(serde_json::json!({
                    "out": out, "power": t.phase1.power,
                    "phase1_contributions": t.phase1.contributions.len(),
                    "phase2_contributions": 0,
                    "circuit_digest": flow::hex_digest(&t.phase2.circuit_digest),
                    "hash": hash, "derive_seconds": seconds, "bytes": size, "cid": cid,
                }));
            }
            println!(
                "phase 2 started (derived from phase 1 in {seconds:.2} s); \
                 wrote {} ({size} bytes): no contribution yet",
                out.display()
            );
            written.print("hash");
            Ok(())
        }
        CeremonyCmd::Phase2(Phase2Cmd::Contribute {
            circuit,
            input,
            out,
            publish,
            io,
        }) => {
            let choice = circuit.choice()?;
            let source = input.source();
            let what = source.describe();
            let bytes = io.read(at, &source).await?;
            let (t, received, seconds) = blocking(move || {
                let mut t = flow::read_transcript(&bytes, &what)?;
                let circuit = choice.build()?;
                let fresh = Expect {
                    phase1_hash: None,
                    allow_fresh_phase2: true,
                    phase1_verified: false,
                };
                let received = flow::check_transcript(&t, &circuit, &what, fresh)?;
                let seconds = flow::phase2_contribute(&mut t);
                Ok((t, received, seconds))
            })
            .await?;
            let written = io
                .write_encoded(at, &publish, &out, t.hash(), t.to_bytes(), "the transcript")
                .await?;
            let Written { hash, size, cid } = &written;
            if io.json {
                return print_json(serde_json::json!({
                    "received": received, "out": out,
                    "phase2_contributions": t.phase2.contributions.len(), "hash": hash,
                    "contribute_seconds": seconds, "bytes": size, "cid": cid,
                }));
            }
            println!(
                "verified {}: {} phase-1 and {} phase-2 contribution(s), hash {} ({:.2} s)",
                source.describe(),
                received.phase1_contributions,
                received.phase2_contributions,
                short(&received.hash),
                received.verify_seconds
            );
            println!(
                "contributed phase-2 #{} in {seconds:.2} s (δ' was dropped, never written); wrote {} ({size} bytes)",
                t.phase2.contributions.len(),
                out.display()
            );
            written.print("new hash");
            Ok(())
        }
        CeremonyCmd::Phase2(Phase2Cmd::Verify {
            circuit,
            phase1,
            transcript,
            io,
        }) => {
            let choice = circuit.choice()?;
            let source = Source::parse(&transcript);
            let what = source.describe();
            let bytes = io.read(at, &source).await?;
            let pinned = match &phase1 {
                Some(p) => {
                    let s = Source::parse(p);
                    Some((io.read(at, &s).await?, s.describe()))
                }
                None => None,
            };
            let summary = blocking(move || {
                // The transcript must hold the phase 1 named: the same hash chain head. Its
                // own phase 1 is then checked in full, so the named file need not be.
                let pin = match pinned {
                    Some((bytes, name)) => Some(flow::read_phase1(&bytes, &name)?.hash()),
                    None => None,
                };
                let t = flow::read_transcript(&bytes, &what)?;
                let circuit = choice.build()?;
                let name = circuit.name.clone();
                flow::verified_keys(&t, &circuit, &what, pin.as_ref()).map(|(.., s)| (s, name))
            })
            .await?;
            let (summary, label) = summary;
            if io.json {
                let mut v = serde_json::to_value(&summary)?;
                v["verified"] = true.into();
                return print_json(v);
            }
            println!(
                "{}: {label} ({} constraints, domain {}, digest {}) from phase 1 for 2^{} points",
                source.describe(),
                summary.constraints,
                summary.domain,
                short(&summary.circuit_digest),
                summary.power
            );
            println!(
                "  phase 1: {} contribution(s), hash {}",
                summary.phase1_contributions, summary.phase1_hash
            );
            println!(
                "  phase 2: {} contribution(s), hash chain head {}",
                summary.phase2_contributions, summary.hash
            );
            println!("OK ({:.2} s)", summary.verify_seconds);
            Ok(())
        }
        CeremonyCmd::Verify(a) => {
            let (market, ipfs) = (at.marketplace().await?, at.ipfs()?);
            let view = market.project(a.project).await?;
            if let Some(c) = &view.chunked {
                let shape = market.shape(c.shape).await?;
                // Everything from chain + IPFS, phase 1 included, whatever this node
                // verified before.
                let memo = flow::Phase1Memo::none();
                let checked = flow::check_shape_setup(&market, &ipfs, &shape, &memo).await?;
                if a.json {
                    let mut v = serde_json::to_value(&checked)?;
                    let counts = checked.counts();
                    v["phase1_contributions"] = counts.phase1_contributions.into();
                    v["phase2_contributions"] = counts.phase2_contributions.into();
                    return print_json(v);
                }
                println!(
                    "project {}'s keys are proof shape {}'s, verified: chunk circuit {} + {} contributions (head {}), decision circuit {} + {} (head {}), the verifying keys the shape stores",
                    a.project,
                    c.shape,
                    checked.chunk.phase1_contributions,
                    checked.chunk.phase2_contributions,
                    short(&checked.chunk.hash),
                    checked.decision.phase1_contributions,
                    checked.decision.phase2_contributions,
                    short(&checked.decision.hash),
                );
                return Ok(());
            }
            let memo = flow::Phase1Memo::none();
            let checked = flow::project_transcript(&market, &ipfs, a.project, &memo).await?;
            let s = checked.summary;
            if a.json {
                let mut v = serde_json::to_value(&s)?;
                v["transcript_cid"] = checked.cid.into();
                return print_json(v);
            }
            println!(
                "project {}'s keys verified: {} phase-1 and {} phase-2 contributions, head {}, the verifying key the contract stores ({:.1}s)",
                a.project,
                s.phase1_contributions,
                s.phase2_contributions,
                short(&s.hash),
                s.verify_seconds
            );
            Ok(())
        }
        CeremonyCmd::Contribute(a) => {
            let signer = crate::signer_flag("--key", &a.key)?;
            let (market, ipfs) = (at.marketplace().await?, at.ipfs()?);
            let memo = flow::Phase1Memo::in_data_dir(&at.data_dir);
            let c = flow::contribute_to_project(&market, &ipfs, &signer, a.project, &memo).await?;
            if a.json {
                return print_json(serde_json::to_value(&c)?);
            }
            println!(
                "contributed to project {}'s keys: {} phase-2 contributions, head {} (verify {:.1}s, contribute {:.1}s); transcript {}",
                c.project,
                c.phase2_contributions,
                short(&c.head),
                c.verify_seconds,
                c.contribute_seconds,
                c.transcript_cid
            );
            Ok(())
        }
        CeremonyCmd::Keys(a) => {
            let choice = a.circuit.choice()?;
            let stem = choice.stem();
            let source = Source::parse(&a.transcript);
            let what = source.describe();
            let bytes = a.io.read(at, &source).await?;
            let files = blocking(move || {
                let circuit = choice.build()?;
                flow::key_files(&bytes, &circuit, &what)
            })
            .await?;
            std::fs::create_dir_all(&a.out_dir)
                .with_context(|| format!("creating {}", a.out_dir.display()))?;
            let vk_path = a.out_dir.join(format!("{stem}.vk"));
            let pk_path = a.out_dir.join(format!("{stem}.pk"));
            flow::write_file(&vk_path, &files.verifying_key_file)?;
            let pk_size = files.proving_key_file.len();
            let pk_cid =
                a.io.write(
                    at,
                    &a.publish,
                    &pk_path,
                    files.proving_key_file,
                    "the proving key",
                )
                .await?;
            let s = &files.summary;
            if a.io.json {
                return print_json(serde_json::json!({
                    "verifying_key": vk_path, "proving_key": pk_path, "proving_key_cid": pk_cid,
                    "setup_contributions": s.setup_contributions, "setup_verified": true,
                    "hash": s.hash, "verify_seconds": s.verify_seconds,
                }));
            }
            println!(
                "verified {}: {} phase-1 + {} phase-2 contributions, hash chain head {} ({:.2} s)",
                source.describe(),
                s.phase1_contributions,
                s.phase2_contributions,
                s.hash,
                s.verify_seconds
            );
            println!(
                "  verifying key {} ({} bytes)",
                vk_path.display(),
                files.verifying_key_file.len()
            );
            println!("  proving key   {} ({pk_size} bytes)", pk_path.display());
            if let Some(cid) = pk_cid {
                println!(
                    "  proving key CID {cid} (merit project create --vk … --proving-key-cid {cid})"
                );
            }
            Ok(())
        }
    }
}
