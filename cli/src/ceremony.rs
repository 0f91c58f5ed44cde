//! The setup ceremony from the command line (`merit ceremony`, issue #24): the flow around
//! the `merit-ceremony` crate, on files and on IPFS.
//!
//! Two kinds of file, each the crate's canonical encoding (arkworks compressed) and
//! nothing else:
//! - a **phase-1 transcript** (`Phase1Transcript`): the powers of tau for `2^power`
//!   points, every contribution and the final powers; one per domain size, shared by every
//!   circuit that fits it;
//! - a **transcript** (`Transcript`): a phase 1 and one circuit's phase 2 (every δ
//!   contribution and the final key). This is what a project's keys come from: it is
//!   self-contained, so anyone checks it from the file (or its CID) and the spec alone.
//!
//! Whoever receives a file verifies it before building on it ([`check_phase1`],
//! [`check_transcript`]); keys are only ever taken from a transcript that verified in
//! full ([`verified_keys`]): both phases have a contribution, every contribution's proof
//! of knowledge chains from the start, and the final key is the spec's round circuit's key
//! from phase 1. The round circuit is `merit_prover::round::RoundCircuit::blank` of the
//! spec's `RuleParams`, the circuit `merit_prover::round::setup_round` sets up.

use ark_groth16::{ProvingKey, VerifyingKey};
use ark_serialize::CanonicalSerialize;
use merit_ceremony::{CeremonyError, Digest, Phase1State, Phase1Transcript, R1csShape, Transcript};
use merit_protocol::rule::RuleParams;
use merit_protocol::spec::ProjectSpec;
use merit_prover::ark_bn254::Bn254;
use merit_prover::round::RoundCircuit;
use merit_storage::IpfsStore;
use rand::rngs::OsRng;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The largest transcript fetched from IPFS (a 2^21 phase 1 with a phase 2 is under 1 GB).
pub const MAX_TRANSCRIPT_BYTES: usize = 2 << 30;

/// What the ceremony's commands refuse, naming the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyCliError {
    /// A file that cannot be read.
    #[error("reading {what}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file that cannot be written.
    #[error("writing {what}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Bytes that are not the kind of file asked for (or a point not in its group).
    #[error("{what} is not a {expected}{hint}")]
    Malformed {
        what: String,
        expected: &'static str,
        /// What the bytes are instead, where that is known (leading "; ").
        hint: String,
        #[source]
        source: CeremonyError,
    },
    /// A contribution, or a final state, fails a check: the error names the phase, the
    /// contribution (from 0) and the check.
    #[error("{what} does not verify")]
    Refused {
        what: String,
        #[source]
        source: CeremonyError,
    },
    /// A phase 2 run for another circuit than the spec's round circuit.
    #[error("{what} is phase 2 of another circuit, not of {circuit} (circuit digest {expected}, the transcript's {got})")]
    WrongCircuit {
        what: String,
        circuit: String,
        expected: String,
        got: String,
    },
    /// A transcript built on another phase 1 than the one the caller named.
    #[error("{what} is built on phase 1 {got}, not on the phase 1 given ({expected})")]
    OtherPhase1 {
        what: String,
        expected: String,
        got: String,
    },
    /// A phase with no contribution yet whose state is not the starting one: nobody
    /// proved knowledge of whatever secret changed it.
    #[error("{what} has no phase-{phase} contribution, yet its state is not the starting state")]
    NotFresh { what: String, phase: u8 },
    /// The circuit (the spec's round circuit) cannot be built.
    #[error("{circuit}: {message}")]
    Circuit { circuit: String, message: String },
    /// Deriving phase 2's start failed (phase 1 too small for the circuit, …).
    #[error("deriving the start of phase 2 for {circuit} from {what}")]
    Derive {
        what: String,
        circuit: String,
        #[source]
        source: CeremonyError,
    },
    /// A phase-1 size the ceremony does not support.
    #[error("phase 1 for 2^{power} points")]
    Power {
        power: u32,
        #[source]
        source: CeremonyError,
    },
    /// The IPFS daemon (to fetch a CID or publish a file).
    #[error("{what} in IPFS")]
    Ipfs {
        what: String,
        #[source]
        source: merit_storage::StorageError,
    },
    /// A project whose owner recorded no ceremony: its keys come from a setup somebody
    /// ran alone, who could forge every round.
    #[error("project {project}'s keys come from no recorded ceremony: whoever ran their setup could forge every round (its owner records one with `merit project create --ceremony`)")]
    NoSetupRecorded { project: u32 },
    /// A chunked project: its keys are its proof shape's, shared by every project of the
    /// shape, so they are re-randomised in the shape's own ceremony, not per project.
    #[error("project {project} is chunked: its keys are proof shape {shape}'s, shared by every project of that shape; contribute to the shape's ceremony before it is registered, not to a project")]
    ShapeKeys { project: u32, shape: u32 },
    /// A proof shape whose registrant recorded no ceremony: whoever ran its setup could
    /// forge every round of every project of the shape.
    #[error("proof shape {shape}'s keys come from no recorded ceremony: whoever ran its setup could forge every round of its projects (register one from a ceremony with `merit project create --chunk C --shape-ceremony CHUNK,DECISION`)")]
    NoShapeSetupRecorded { shape: u32 },
    /// A shape's recorded transcript verifies, but is not what the shape uses or records.
    #[error("proof shape {shape}'s recorded {circuit} transcript {cid} {problem}")]
    NotTheShapesKeys {
        shape: u32,
        circuit: &'static str,
        cid: String,
        problem: &'static str,
    },
    /// The recorded transcript verifies, but is not what the project uses or records.
    #[error("project {project}'s recorded transcript {cid} {problem}")]
    NotTheProjectsKeys {
        project: u32,
        cid: String,
        problem: &'static str,
    },
    /// The chain, to read the project or its setup record.
    #[error("reading project {project} from the chain")]
    Chain {
        project: u32,
        #[source]
        source: merit_chain::ChainError,
    },
    /// The chain, to read a proof shape's setup record.
    #[error("reading proof shape {shape}'s setup from the chain")]
    ShapeChain {
        shape: u32,
        #[source]
        source: merit_chain::ChainError,
    },
    /// The project's spec, to build its round circuit.
    #[error("project {project}'s spec")]
    Spec {
        project: u32,
        #[source]
        source: merit_trainer::node::NodeError,
    },
}

impl CeremonyCliError {
    /// A refusal of the user's input (a file that is missing or not what was asked for),
    /// as opposed to a transcript that does not verify or a failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::Read { .. } | Self::Malformed { .. })
    }
}

type Result<T, E = CeremonyCliError> = std::result::Result<T, E>;

/// Where a file comes from: a path, or a CID in IPFS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Cid(String),
}

impl Source {
    /// `FILE|CID`: an existing path is a file; otherwise something that parses as a CID is
    /// one; anything else is a file (whose reading will say it is missing).
    pub fn parse(s: &str) -> Self {
        let path = Path::new(s);
        if !path.exists() && merit_storage::parse_cid(s).is_ok() {
            Source::Cid(s.to_string())
        } else {
            Source::File(path.to_path_buf())
        }
    }

    /// How errors name it.
    pub fn describe(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Cid(c) => format!("ipfs://{c}"),
        }
    }

    /// Its bytes: the file's, or the CID's from the store `ipfs` gives (asked only for a CID).
    pub async fn read(
        &self,
        ipfs: impl FnOnce() -> anyhow::Result<IpfsStore>,
    ) -> anyhow::Result<Vec<u8>> {
        match self {
            Source::File(path) => Ok(read_file(path)?),
            Source::Cid(cid) => {
                let store = ipfs()?;
                let parsed = merit_storage::parse_cid(cid).map_err(|e| CeremonyCliError::Ipfs {
                    what: format!("the CID {cid}"),
                    source: e,
                })?;
                Ok(store
                    .get(&parsed, MAX_TRANSCRIPT_BYTES)
                    .await
                    .map_err(|e| CeremonyCliError::Ipfs {
                        what: format!("fetching {cid}"),
                        source: e,
                    })?)
            }
        }
    }
}

/// Reads a whole file, naming it on failure.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CeremonyCliError::Read {
        what: path.display().to_string(),
        source: e,
    })
}

/// Writes a file (through a temporary file and a rename, so a half-written transcript is
/// never left under the name).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |e| CeremonyCliError::Write {
        what: path.display().to_string(),
        source: e,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Puts `bytes` into IPFS (pinned) and returns the CID.
pub async fn publish(ipfs: &IpfsStore, bytes: Vec<u8>, what: &str) -> Result<String> {
    ipfs.add(bytes)
        .await
        .map(|cid| cid.to_string())
        .map_err(|e| CeremonyCliError::Ipfs {
            what: format!("putting {what}"),
            source: e,
        })
}

/// Lower-case hex of a digest.
pub fn hex_digest(d: &Digest) -> String {
    hex::encode(d)
}

fn refused(what: &str) -> impl FnOnce(CeremonyError) -> CeremonyCliError + '_ {
    move |source| CeremonyCliError::Refused {
        what: what.to_string(),
        source,
    }
}

/// Decodes a phase-1 transcript: every point checked in its group, no byte left over.
pub fn read_phase1(bytes: &[u8], what: &str) -> Result<Phase1Transcript> {
    let malformed = |source, hint: &str| CeremonyCliError::Malformed {
        what: what.to_string(),
        expected: "phase-1 transcript",
        hint: hint.to_string(),
        source,
    };
    let t = Phase1Transcript::from_bytes(bytes).map_err(|e| malformed(e, ""))?;
    let used = t.compressed_size();
    if used != bytes.len() {
        return Err(malformed(
            CeremonyError::Decode(format!(
                "{} bytes follow the phase-1 transcript",
                bytes.len() - used
            )),
            "; a transcript with a phase 2 begins with its phase 1: phase-1 commands take \
             the phase-1 file",
        ));
    }
    Ok(t)
}

/// Decodes a transcript (phase 1 and phase 2): every point checked in its group, no byte
/// left over. A phase-1 file is named as one.
pub fn read_transcript(bytes: &[u8], what: &str) -> Result<Transcript> {
    let malformed = |source, hint: &str| CeremonyCliError::Malformed {
        what: what.to_string(),
        expected: "ceremony transcript (phase 1 and phase 2)",
        hint: hint.to_string(),
        source,
    };
    match Transcript::from_bytes(bytes) {
        Ok(t) if t.compressed_size() == bytes.len() => Ok(t),
        Ok(t) => Err(malformed(
            CeremonyError::Decode(format!(
                "{} bytes follow the transcript",
                bytes.len() - t.compressed_size()
            )),
            "",
        )),
        Err(e) => {
            let phase1_only = Phase1Transcript::from_bytes(bytes)
                .is_ok_and(|p| p.compressed_size() == bytes.len());
            Err(malformed(
                e,
                if phase1_only {
                    "; it is a phase-1 transcript: start phase 2 from it with `merit ceremony \
                     phase2 new`"
                } else {
                    ""
                },
            ))
        }
    }
}

/// A phase 1, as its checks found it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Phase1Summary {
    /// log2 of the domain size.
    pub power: u32,
    pub contributions: usize,
    /// The hash chain's head (hex).
    pub hash: String,
    /// Size of the encoded transcript.
    pub bytes: usize,
    /// Seconds the checks took.
    pub verify_seconds: f64,
}

/// Checks a phase 1: every contribution and the final powers (`Phase1Transcript::verify`),
/// or, with no contribution and `allow_fresh`, that it is exactly the starting state.
pub fn check_phase1(t: &Phase1Transcript, what: &str, allow_fresh: bool) -> Result<Phase1Summary> {
    let started = Instant::now();
    if t.contributions.is_empty() && allow_fresh {
        let start = Phase1State::identity(t.power).map_err(refused(what))?;
        if t.state != start {
            return Err(CeremonyCliError::NotFresh {
                what: what.to_string(),
                phase: 1,
            });
        }
    } else {
        t.verify(&mut OsRng).map_err(refused(what))?;
    }
    Ok(Phase1Summary {
        power: t.power,
        contributions: t.contributions.len(),
        hash: hex_digest(&t.hash()),
        bytes: t.compressed_size(),
        verify_seconds: started.elapsed().as_secs_f64(),
    })
}

/// A fresh phase 1 for `2^power` points (τ = α = β = 1; nobody's secret yet).
pub fn phase1_new(power: u32) -> Result<Phase1Transcript> {
    Phase1Transcript::new(power).map_err(|source| CeremonyCliError::Power { power, source })
}

/// Adds a contribution with fresh secrets from the OS; returns the seconds it took. The
/// caller checked `t` first ([`check_phase1`]); the secrets are dropped on return.
pub fn phase1_contribute(t: &mut Phase1Transcript) -> Result<f64> {
    let started = Instant::now();
    t.contribute(&mut OsRng)
        .map_err(refused("the phase-1 transcript"))?;
    Ok(started.elapsed().as_secs_f64())
}

/// The spec's round circuit with no witness (the shape `setup_round` sets up).
pub fn round_circuit(spec: &ProjectSpec, spec_name: &str) -> Result<RoundCircuit> {
    let circuit = |message: String| CeremonyCliError::Circuit {
        circuit: format!("the round circuit of {spec_name}"),
        message,
    };
    spec.validate().map_err(|e| circuit(e.to_string()))?;
    RoundCircuit::blank(RuleParams::from_spec(spec)).map_err(|e| circuit(e.to_string()))
}

/// The circuit a phase 2 is run for, as R1CS matrices, with the name errors use.
pub struct Circuit {
    /// `the round circuit of spec.json`.
    pub name: String,
    pub shape: R1csShape,
}

impl Circuit {
    /// A chunked proof shape's chunk circuit: `slots` slots, chunks of `chunk` parameters
    /// (what `merit_prover::chunked::setup_chunk` sets up).
    pub fn chunk(slots: usize, chunk: usize) -> Result<Self> {
        use merit_prover::chunked::{ChunkCircuit, ChunkWitness};
        Self::of(
            &format!("the chunk circuit of shape ({slots} slots, chunks of {chunk})"),
            ChunkCircuit::new(ChunkWitness::blank(slots, chunk)),
        )
    }

    /// A chunked proof shape's decision circuit for `slots` slots (`setup_decision`).
    pub fn decision(slots: usize) -> Result<Self> {
        use merit_prover::chunked::{DecisionCircuit, DecisionWitness};
        let name = format!("the decision circuit of {slots} slots");
        let witness = DecisionWitness::blank(slots).map_err(|e| CeremonyCliError::Circuit {
            circuit: name.clone(),
            message: e.to_string(),
        })?;
        Self::of(&name, DecisionCircuit::new(witness))
    }

    /// The spec's round circuit (what `merit project create` proves rounds with).
    pub fn round(spec: &ProjectSpec, spec_name: &str) -> Result<Self> {
        let circuit = round_circuit(spec, spec_name)?;
        Self::of(&format!("the round circuit of {spec_name}"), circuit)
    }

    /// Any other circuit (tests: `merit_ceremony::synthetic`).
    pub fn of<
        C: merit_prover::ark_relations::gr1cs::ConstraintSynthesizer<merit_prover::ark_bn254::Fr>,
    >(
        name: &str,
        circuit: C,
    ) -> Result<Self> {
        let shape = merit_ceremony::synthesize(circuit).map_err(|e| CeremonyCliError::Circuit {
            circuit: name.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            name: name.to_string(),
            shape,
        })
    }
}

/// A transcript, as its checks found it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TranscriptSummary {
    /// Phase 1's domain: log2 of its size.
    pub power: u32,
    /// The round circuit: constraints, and its QAP domain's size.
    pub constraints: usize,
    pub domain: usize,
    /// The circuit's digest (hex), which phase 2's hash chain starts from.
    pub circuit_digest: String,
    pub phase1_contributions: usize,
    pub phase2_contributions: usize,
    /// Both phases' contributions together.
    pub setup_contributions: usize,
    /// Phase 1's hash chain head (hex).
    pub phase1_hash: String,
    /// The whole hash chain's head, phase 1 then phase 2 (hex).
    pub hash: String,
    /// Size of the encoded transcript.
    pub bytes: usize,
    /// Seconds the checks took.
    pub verify_seconds: f64,
}

fn summary(t: &Transcript, shape: &R1csShape, started: Instant) -> TranscriptSummary {
    TranscriptSummary {
        power: t.phase1.power,
        constraints: shape.num_constraints,
        domain: shape.domain_size().unwrap_or(0),
        circuit_digest: hex_digest(&t.phase2.circuit_digest),
        phase1_contributions: t.phase1.contributions.len(),
        phase2_contributions: t.phase2.contributions.len(),
        setup_contributions: t.phase1.contributions.len() + t.phase2.contributions.len(),
        phase1_hash: hex_digest(&t.phase1.hash()),
        hash: hex_digest(&t.hash()),
        bytes: t.compressed_size(),
        verify_seconds: started.elapsed().as_secs_f64(),
    }
}

/// What a transcript must be built on, besides its circuit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// Phase 1's hash chain head, when the caller trusts one phase 1 in particular.
    pub phase1_hash: Option<&'a Digest>,
    /// Accept a phase 2 with no contribution yet if it is exactly the derived start
    /// (δ = 1): for contributing to it, never for taking keys from it.
    pub allow_fresh_phase2: bool,
}

fn check_circuit(t: &Transcript, circuit: &Circuit, what: &str) -> Result<()> {
    let expected = circuit.shape.digest();
    if t.phase2.circuit_digest != expected {
        return Err(CeremonyCliError::WrongCircuit {
            what: what.to_string(),
            circuit: circuit.name.clone(),
            expected: hex_digest(&expected),
            got: hex_digest(&t.phase2.circuit_digest),
        });
    }
    Ok(())
}

fn check_phase1_pin(t: &Transcript, what: &str, expect: Expect<'_>) -> Result<()> {
    if let Some(expected) = expect.phase1_hash {
        let got = t.phase1.hash();
        if got != *expected {
            return Err(CeremonyCliError::OtherPhase1 {
                what: what.to_string(),
                expected: hex_digest(expected),
                got: hex_digest(&got),
            });
        }
    }
    Ok(())
}

/// Checks a whole transcript for the spec's round circuit (`shape`): phase 1 (every
/// contribution, the final powers), the circuit, every phase-2 contribution's link from
/// δ = 1, and the final key against phase 1 and the circuit. With
/// `expect.allow_fresh_phase2`, a phase 2 with no contribution must be exactly the start
/// derived from phase 1 (its key checked against phase 1, δ = 1).
pub fn check_transcript(
    t: &Transcript,
    circuit: &Circuit,
    what: &str,
    expect: Expect<'_>,
) -> Result<TranscriptSummary> {
    let started = Instant::now();
    let shape = &circuit.shape;
    check_phase1_pin(t, what, expect)?;
    check_circuit(t, circuit, what)?;
    t.phase1.verify(&mut OsRng).map_err(refused(what))?;
    if t.phase2.contributions.is_empty() && expect.allow_fresh_phase2 {
        // δ = 1: the generators, which phase 1's zeroth powers are (checked just above).
        let key = &t.phase2.key;
        if key.delta_g1 != t.phase1.state.tau_g1[0] || key.vk.delta_g2 != t.phase1.state.tau_g2[0] {
            return Err(CeremonyCliError::NotFresh {
                what: what.to_string(),
                phase: 2,
            });
        }
        merit_ceremony::verify_key(&t.phase1.state, shape, key, &mut OsRng)
            .map_err(refused(what))?;
    } else {
        t.phase2
            .verify(&t.phase1.hash(), &t.phase1.state, shape, &mut OsRng)
            .map_err(|e| match e {
                // Checked above; kept for completeness.
                CeremonyError::CircuitMismatch => CeremonyCliError::WrongCircuit {
                    what: what.to_string(),
                    circuit: circuit.name.clone(),
                    expected: hex_digest(&shape.digest()),
                    got: hex_digest(&t.phase2.circuit_digest),
                },
                other => refused(what)(other),
            })?;
    }
    Ok(summary(t, shape, started))
}

/// Phase 2's start for the spec's round circuit, from a phase 1 that verifies and has at
/// least one contribution (deriving is the expensive step: four group FFTs of the
/// circuit's domain). Returns the transcript and the seconds the derivation took.
pub fn phase2_new(
    circuit: &Circuit,
    phase1: Phase1Transcript,
    what: &str,
) -> Result<(Transcript, f64)> {
    check_phase1(&phase1, what, false)?;
    let started = Instant::now();
    let phase2 =
        merit_ceremony::Phase2Transcript::new(&phase1.state, &circuit.shape).map_err(|source| {
            CeremonyCliError::Derive {
                what: what.to_string(),
                circuit: circuit.name.clone(),
                source,
            }
        })?;
    Ok((
        Transcript { phase1, phase2 },
        started.elapsed().as_secs_f64(),
    ))
}

/// Adds a phase-2 contribution with a fresh δ' from the OS; returns the seconds it took.
/// The caller checked `t` first ([`check_transcript`] with `allow_fresh_phase2`).
pub fn phase2_contribute(t: &mut Transcript) -> f64 {
    let started = Instant::now();
    t.contribute_phase2(&mut OsRng);
    started.elapsed().as_secs_f64()
}

/// The circuit's keys, taken from a transcript that verified in full (both phases
/// contributed to, every check passed): never from anything else.
pub fn verified_keys(
    t: &Transcript,
    circuit: &Circuit,
    what: &str,
    phase1_hash: Option<&Digest>,
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>, TranscriptSummary)> {
    let summary = check_transcript(
        t,
        circuit,
        what,
        Expect {
            phase1_hash,
            allow_fresh_phase2: false,
        },
    )?;
    let pk = t.phase2.key.clone();
    let vk = pk.vk.clone();
    Ok((pk, vk, summary))
}

/// The key files `merit ceremony keys` writes, in the formats the rest of Merit reads.
#[derive(Debug)]
pub struct KeyFiles {
    /// `keys::write_verifying_key`.
    pub verifying_key_file: Vec<u8>,
    /// `keys::write_proving_key`.
    pub proving_key_file: Vec<u8>,
    /// arkworks-compressed verifying key, as `create_project` takes it.
    pub verifying_key: Vec<u8>,
    /// The key's `[δ]G1` (compressed), which the setup record carries for the next link.
    pub delta_g1: [u8; 32],
    pub summary: TranscriptSummary,
}

/// Verifies the transcript for the spec and returns its keys as files.
pub fn key_files(transcript_bytes: &[u8], circuit: &Circuit, what: &str) -> Result<KeyFiles> {
    let t = read_transcript(transcript_bytes, what)?;
    let (pk, vk, summary) = verified_keys(&t, circuit, what, None)?;
    Ok(KeyFiles {
        verifying_key_file: merit_prover::keys::write_verifying_key(&vk),
        proving_key_file: merit_prover::keys::write_proving_key(&pk),
        verifying_key: merit_prover::keys::compressed(&vk),
        delta_g1: merit_protocol::setup_link::encode_delta_g1(&pk.delta_g1),
        summary,
    })
}

/// What a project records about the setup its keys come from (`Posted`, `--json`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SetupRecord {
    /// Phase-1 plus phase-2 contributions of the ceremony the keys were taken from (0:
    /// the owner's own setup, or brought keys).
    pub setup_contributions: usize,
    /// The keys were taken from a ceremony transcript that verified here.
    pub setup_verified: bool,
    /// Where that transcript is in IPFS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_transcript_cid: Option<String>,
    /// Seconds its verification took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_verify_seconds: Option<f64>,
}

/// A project's round keys from a ceremony (`merit project create --ceremony`).
pub struct ProjectKeys {
    /// What the owner records on chain about the transcript (`record_setup`).
    pub record: merit_protocol::abi::SetupRecord,
    /// arkworks-compressed verifying key, as `create_project` takes it.
    pub verifying_key: Vec<u8>,
    /// The proving key file's CID.
    pub proving_key_cid: String,
    pub setup: SetupRecord,
}

/// Verifies the transcript against the spec (on a blocking thread: minutes for real
/// shapes), puts the transcript and the proving key file into IPFS.
pub async fn project_keys(
    ipfs: &IpfsStore,
    spec: &ProjectSpec,
    transcript: Vec<u8>,
    what: &str,
) -> anyhow::Result<ProjectKeys> {
    use anyhow::Context;
    let bar = indicatif::ProgressBar::new_spinner()
        .with_message(format!("verifying the ceremony transcript {what}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let started = Instant::now();
    let (spec2, what2) = (spec.clone(), what.to_string());
    let (files, transcript) = tokio::task::spawn_blocking(move || {
        let circuit = Circuit::round(&spec2, "the project's spec")?;
        key_files(&transcript, &circuit, &what2).map(|f| (f, transcript))
    })
    .await
    .context("the verification thread")??;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let transcript_cid = publish(ipfs, transcript, "the ceremony transcript").await?;
    let proving_key_cid = publish(ipfs, files.proving_key_file, "the proving key").await?;
    let record = merit_protocol::abi::SetupRecord {
        transcript_cid: transcript_cid.clone().into_bytes(),
        head: digest_of_hex(&files.summary.hash),
        phase1_contributions: files.summary.phase1_contributions as u32,
        phase2_contributions: files.summary.phase2_contributions as u32,
        delta_g1: files.delta_g1,
    };
    Ok(ProjectKeys {
        record,
        verifying_key: files.verifying_key,
        proving_key_cid,
        setup: SetupRecord {
            setup_contributions: files.summary.setup_contributions,
            setup_verified: true,
            setup_transcript_cid: Some(transcript_cid),
            setup_verify_seconds: Some(seconds),
        },
    })
}

/// The 32 bytes of a digest printed by [`hex_digest`] (zeros if it is not one: never, for
/// a summary this module wrote).
fn digest_of_hex(hex_text: &str) -> Digest {
    let mut out = [0u8; 32];
    if let Ok(bytes) = hex::decode(hex_text) {
        if bytes.len() == 32 {
            out.copy_from_slice(&bytes);
        }
    }
    out
}

/// Checks a project's keys from chain + IPFS alone, as a trainer does before it stakes:
/// the recorded transcript is fetched, verified in full against the round circuit of the
/// project's spec, its hash-chain head must be the recorded one, and the verifying key it
/// gives must be exactly the one the contract stores. A chunked project's keys are its
/// proof shape's: both of the shape's recorded transcripts are checked so.
pub async fn check_project_setup(
    market: &merit_chain::Marketplace,
    ipfs: &IpfsStore,
    project: u32,
) -> Result<SetupCounts> {
    let chain = |source| CeremonyCliError::Chain { project, source };
    let view = market.project(project).await.map_err(chain)?;
    if let Some(c) = &view.chunked {
        let shape = market.shape(c.shape).await.map_err(chain)?;
        return Ok(check_shape_setup(market, ipfs, &shape).await?.counts());
    }
    let s = project_transcript(market, ipfs, project).await?.summary;
    Ok(SetupCounts {
        phase1_contributions: s.phase1_contributions,
        phase2_contributions: s.phase2_contributions,
    })
}

/// A project's recorded transcript, verified as [`check_project_setup`] says.
pub struct ProjectTranscript {
    pub transcript: Transcript,
    pub summary: TranscriptSummary,
    /// The recorded CID it was fetched from.
    pub cid: String,
}

/// Fetches a recorded transcript from IPFS and verifies it in full against `circuit` (on a
/// blocking thread); returns it, its verifying key and its summary.
async fn fetch_verified(
    ipfs: &IpfsStore,
    cid: &str,
    circuit: impl FnOnce() -> Result<Circuit> + Send + 'static,
    what: String,
) -> Result<(Transcript, VerifyingKey<Bn254>, TranscriptSummary)> {
    let parsed = merit_storage::parse_cid(cid).map_err(|source| CeremonyCliError::Ipfs {
        what: format!("the recorded CID {cid}"),
        source,
    })?;
    let bytes = ipfs
        .get(&parsed, MAX_TRANSCRIPT_BYTES)
        .await
        .map_err(|source| CeremonyCliError::Ipfs {
            what: format!("fetching {cid}"),
            source,
        })?;
    tokio::task::spawn_blocking(move || {
        let circuit = circuit()?;
        let t = read_transcript(&bytes, &what)?;
        let (_, vk, summary) = verified_keys(&t, &circuit, &what, None)?;
        Ok::<_, CeremonyCliError>((t, vk, summary))
    })
    .await
    .map_err(|e| CeremonyCliError::Circuit {
        circuit: "the verification thread".into(),
        message: e.to_string(),
    })?
}

/// Whether `vk`, prepared as the contract prepares keys, is the stored `prepared`.
fn same_key(vk: &VerifyingKey<Bn254>, prepared: &[u8]) -> bool {
    merit_protocol::verifier::prepare(&merit_prover::keys::compressed(vk))
        .is_ok_and(|p| p == prepared)
}

/// Fetches and verifies a project's recorded transcript ([`check_project_setup`]).
pub async fn project_transcript(
    market: &merit_chain::Marketplace,
    ipfs: &IpfsStore,
    project: u32,
) -> Result<ProjectTranscript> {
    let chain = |source| CeremonyCliError::Chain { project, source };
    let view = market.project(project).await.map_err(chain)?;
    if let Some(c) = &view.chunked {
        return Err(CeremonyCliError::ShapeKeys {
            project,
            shape: c.shape,
        });
    }
    let record = market
        .setup(project)
        .await
        .map_err(chain)?
        .ok_or(CeremonyCliError::NoSetupRecorded { project })?;
    let spec = merit_trainer::node::load_spec(ipfs, &view)
        .await
        .map_err(|source| CeremonyCliError::Spec { project, source })?;
    let cid = String::from_utf8_lossy(&record.transcript_cid).into_owned();
    let what = format!("project {project}'s transcript {cid}");
    let (transcript, vk, summary) = fetch_verified(
        ipfs,
        &cid,
        move || Circuit::round(&spec, "the project's spec"),
        what,
    )
    .await?;
    let wrong = |problem| CeremonyCliError::NotTheProjectsKeys {
        project,
        cid: cid.clone(),
        problem,
    };
    if digest_of_hex(&summary.hash) != record.head {
        return Err(wrong("does not end at the recorded hash-chain head"));
    }
    if !same_key(&vk, &view.verifying_key) {
        return Err(wrong(
            "gives another verifying key than the one the project stores",
        ));
    }
    Ok(ProjectTranscript {
        transcript,
        summary,
        cid,
    })
}

/// A proof shape's two recorded transcripts, as their checks found them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShapeCheck {
    pub shape: u32,
    pub chunk: TranscriptSummary,
    pub chunk_transcript_cid: String,
    pub decision: TranscriptSummary,
    pub decision_transcript_cid: String,
}

/// Checks a proof shape's keys from chain + IPFS alone: both recorded transcripts verify
/// in full against the shape's chunk and decision circuits, end at the recorded heads and
/// give exactly the verifying keys the shape stores.
pub async fn check_shape_setup(
    market: &merit_chain::Marketplace,
    ipfs: &IpfsStore,
    shape: &merit_protocol::abi::ShapeView,
) -> Result<ShapeCheck> {
    let id = shape.id;
    let setup = market
        .shape_setup(id)
        .await
        .map_err(|source| CeremonyCliError::ShapeChain { shape: id, source })?
        .ok_or(CeremonyCliError::NoShapeSetupRecorded { shape: id })?;
    let (slots, chunk) = (shape.slots as usize, shape.chunk as usize);
    let mut checked = Vec::new();
    for (circuit, record, stored) in [
        ("chunk", &setup.chunk, &shape.chunk_key),
        ("decision", &setup.decision, &shape.decision_key),
    ] {
        let cid = String::from_utf8_lossy(&record.transcript_cid).into_owned();
        let what = format!("proof shape {id}'s {circuit} transcript {cid}");
        let build = move || match circuit {
            "chunk" => Circuit::chunk(slots, chunk),
            _ => Circuit::decision(slots),
        };
        let (_, vk, summary) = fetch_verified(ipfs, &cid, build, what).await?;
        let wrong = |problem| CeremonyCliError::NotTheShapesKeys {
            shape: id,
            circuit,
            cid: cid.clone(),
            problem,
        };
        if digest_of_hex(&summary.hash) != record.head {
            return Err(wrong("does not end at the recorded hash-chain head"));
        }
        if !same_key(&vk, stored) {
            return Err(wrong(
                "gives another verifying key than the one the shape stores",
            ));
        }
        checked.push((summary, cid));
    }
    let (decision, decision_transcript_cid) = checked.pop().expect("two transcripts");
    let (chunk, chunk_transcript_cid) = checked.pop().expect("two transcripts");
    Ok(ShapeCheck {
        shape: id,
        chunk,
        chunk_transcript_cid,
        decision,
        decision_transcript_cid,
    })
}

/// How many contributed to a project's keys: for a chunked project, the fewer of its two
/// transcripts'.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SetupCounts {
    pub phase1_contributions: usize,
    pub phase2_contributions: usize,
}

impl ShapeCheck {
    pub fn counts(&self) -> SetupCounts {
        SetupCounts {
            phase1_contributions: self
                .chunk
                .phase1_contributions
                .min(self.decision.phase1_contributions),
            phase2_contributions: self
                .chunk
                .phase2_contributions
                .min(self.decision.phase2_contributions),
        }
    }
}

/// The keys of a new proof shape, from one ceremony transcript per circuit.
pub struct ShapeKeys {
    /// `keys::write_shape_keys` of the two proving keys.
    pub key_file: Vec<u8>,
    /// arkworks-compressed verifying keys, as `register_shape` takes them.
    pub chunk_key: Vec<u8>,
    pub decision_key: Vec<u8>,
    /// What the registrant records on chain (`record_shape_setup`).
    pub record: merit_protocol::abi::ShapeSetup,
    pub setup: SetupRecord,
}

/// Verifies a chunk transcript and a decision transcript against the shape's circuits (on
/// a blocking thread) and puts both into IPFS; returns the shape's key file and records.
pub async fn shape_keys(
    ipfs: &IpfsStore,
    (slots, chunk): (u32, u32),
    chunk_transcript: (Vec<u8>, String),
    decision_transcript: (Vec<u8>, String),
) -> anyhow::Result<ShapeKeys> {
    use anyhow::Context;
    let started = Instant::now();
    let (n, c) = (slots as usize, chunk as usize);
    let (chunk_t, decision_t, chunk_bytes, decision_bytes) =
        tokio::task::spawn_blocking(move || {
            let check = |(bytes, what): &(Vec<u8>, String), circuit: Result<Circuit>| {
                let circuit = circuit?;
                let t = read_transcript(bytes, what)?;
                let (pk, vk, summary) = verified_keys(&t, &circuit, what, None)?;
                Ok::<_, CeremonyCliError>((pk, vk, summary))
            };
            let chunk_t = check(&chunk_transcript, Circuit::chunk(n, c))?;
            let decision_t = check(&decision_transcript, Circuit::decision(n))?;
            Ok::<_, CeremonyCliError>((
                chunk_t,
                decision_t,
                chunk_transcript.0,
                decision_transcript.0,
            ))
        })
        .await
        .context("the verification thread")??;
    let seconds = started.elapsed().as_secs_f64();
    let chunk_cid = publish(ipfs, chunk_bytes, "the chunk circuit's transcript").await?;
    let decision_cid = publish(ipfs, decision_bytes, "the decision circuit's transcript").await?;
    let record =
        |(pk, _, summary): &(ProvingKey<Bn254>, VerifyingKey<Bn254>, TranscriptSummary),
         cid: &str| merit_protocol::abi::SetupRecord {
            transcript_cid: cid.as_bytes().to_vec(),
            head: digest_of_hex(&summary.hash),
            phase1_contributions: summary.phase1_contributions as u32,
            phase2_contributions: summary.phase2_contributions as u32,
            delta_g1: merit_protocol::setup_link::encode_delta_g1(&pk.delta_g1),
        };
    let contributions = chunk_t
        .2
        .setup_contributions
        .min(decision_t.2.setup_contributions);
    Ok(ShapeKeys {
        key_file: merit_prover::keys::write_shape_keys(slots, chunk, &chunk_t.0, &decision_t.0),
        chunk_key: merit_prover::keys::compressed(&chunk_t.1),
        decision_key: merit_prover::keys::compressed(&decision_t.1),
        record: merit_protocol::abi::ShapeSetup {
            chunk: record(&chunk_t, &chunk_cid),
            decision: record(&decision_t, &decision_cid),
        },
        setup: SetupRecord {
            setup_contributions: contributions,
            setup_verified: true,
            setup_transcript_cid: Some(chunk_cid),
            setup_verify_seconds: Some(seconds),
        },
    })
}

/// What a contribution to a project's setup did (`merit ceremony contribute`, and a
/// trainer node before its project starts).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contributed {
    pub project: u32,
    /// The project's phase-2 contributions, this one included.
    pub phase2_contributions: usize,
    /// The new hash-chain head, as the contract now records it.
    pub head: String,
    pub transcript_cid: String,
    pub proving_key_cid: String,
    /// Seconds spent verifying what was there, and contributing.
    pub verify_seconds: f64,
    pub contribute_seconds: f64,
    /// The weight of the `contribute_setup` call (the contract's link check).
    pub ref_time: u64,
    pub proof_size: u64,
}

/// The contract's own refusals that cost a transcript's verification to reach, asked
/// first: the project must be Open and the signer one of its parties.
async fn ensure_setup_party(
    market: &merit_chain::Marketplace,
    signer: &merit_chain::Signer,
    project: u32,
) -> anyhow::Result<()> {
    use merit_protocol::abi::{MarketError, Phase};
    let refused = |error| merit_chain::ChainError::Contract {
        message: "contribute_setup",
        error,
    };
    let view = market.project(project).await?;
    if view.phase != Phase::Open {
        return Err(refused(MarketError::WrongPhase).into());
    }
    let me = merit_chain::account_of(signer).0;
    let party = me == view.owner
        || me == view.params.aggregator
        || market
            .trainers(project)
            .await?
            .iter()
            .any(|t| t.account == me);
    if !party {
        return Err(refused(MarketError::NotSetupParty).into());
    }
    Ok(())
}

/// How many times a contribution is rebuilt when another party's lands first.
const CONTRIBUTE_ATTEMPTS: u32 = 4;

/// Adds a phase-2 contribution to a project's recorded setup: verifies the recorded
/// transcript, multiplies δ by a fresh secret from the OS (never written), puts the new
/// transcript and proving key into IPFS and posts the link, which the contract checks
/// before it moves δ in the project's verifying key. If another party's contribution lands
/// first, it starts again on theirs. Afterwards the contributor needs to trust no earlier
/// phase-2 party: the key's δ holds its secret.
pub async fn contribute_to_project(
    market: &merit_chain::Marketplace,
    ipfs: &IpfsStore,
    signer: &merit_chain::Signer,
    project: u32,
) -> anyhow::Result<Contributed> {
    use anyhow::Context;
    ensure_setup_party(market, signer, project).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let checked = project_transcript(market, ipfs, project).await?;
        let verify_seconds = checked.summary.verify_seconds;
        let mut t = checked.transcript;
        let (t, contribute_seconds, key_file) = tokio::task::spawn_blocking(move || {
            let seconds = phase2_contribute(&mut t);
            let key_file = merit_prover::keys::write_proving_key(&t.phase2.key);
            (t, seconds, key_file)
        })
        .await
        .context("the contribution thread")?;
        let link = t
            .phase2
            .contributions
            .last()
            .expect("a contribution was just added")
            .link();
        let transcript_cid = publish(ipfs, t.to_bytes(), "the new transcript").await?;
        let proving_key_cid = publish(ipfs, key_file, "the new proving key").await?;
        let contribution = merit_protocol::abi::SetupContribution {
            link: link.encode(),
            transcript_cid: transcript_cid.clone().into_bytes(),
            proving_key_cid: proving_key_cid.clone().into_bytes(),
        };
        match market
            .contribute_setup(signer, project, &contribution)
            .await
        {
            Ok(weight) => {
                return Ok(Contributed {
                    ref_time: weight.ref_time,
                    proof_size: weight.proof_size,
                    project,
                    phase2_contributions: t.phase2.contributions.len(),
                    head: hex_digest(&t.hash()),
                    transcript_cid,
                    proving_key_cid,
                    verify_seconds,
                    contribute_seconds,
                })
            }
            Err(merit_chain::ChainError::Contract {
                error: merit_protocol::abi::MarketError::StaleSetupLink,
                ..
            }) if attempt < CONTRIBUTE_ATTEMPTS => {
                tracing::info!(
                    project,
                    attempt,
                    "another contribution landed first; contributing on top of it"
                );
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "posting the setup contribution to project {project} (transcript {})",
                    checked.cid
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The flow on a synthetic circuit of 2^8 points (the round circuit's fixed part alone,
    //! its Poseidon hashes, needs 2^14: `cli/tests/ceremony.rs` runs that through the binary).

    use super::*;
    use merit_ceremony::synthetic::Squarings;
    use merit_prover::ark_bn254::Fr;

    const TINY: &str = include_str!("../tests/fixtures/tiny-spec.json");
    const OTHER: &str = include_str!("../tests/fixtures/tiny-other-spec.json");
    /// 253 constraints + 3 instance rows: a domain of 2^8.
    const SQUARINGS: usize = 253;
    const POWER: u32 = 8;

    fn squarings(n: usize) -> Circuit {
        Circuit::of(&format!("{n} squarings"), Squarings::shape(n)).unwrap()
    }

    /// A phase 1 of 2^power with `n` contributions.
    fn phase1(power: u32, n: usize) -> Phase1Transcript {
        let mut t = phase1_new(power).unwrap();
        for _ in 0..n {
            phase1_contribute(&mut t).unwrap();
        }
        t
    }

    /// A transcript for 253 squarings with `p1` and `p2` contributions.
    fn transcript(p1: usize, p2: usize) -> Transcript {
        let (mut t, _) = phase2_new(&squarings(SQUARINGS), phase1(POWER, p1), "p1").unwrap();
        for _ in 0..p2 {
            phase2_contribute(&mut t);
        }
        t
    }

    fn chain(e: CeremonyCliError) -> String {
        format!("{:#}", anyhow::Error::from(e))
    }

    #[test]
    fn the_tiny_shapes_circuits_fit_2_to_the_14() {
        let chunk = Circuit::chunk(3, 6).unwrap();
        let decision = Circuit::decision(3).unwrap();
        eprintln!(
            "chunk {} constraints, decision {} constraints",
            chunk.shape.num_constraints, decision.shape.num_constraints
        );
        assert!(chunk.shape.domain_size().unwrap() <= 1 << 14);
        assert!(decision.shape.domain_size().unwrap() <= 1 << 14);
        assert_ne!(
            chunk.shape.digest(),
            Circuit::chunk(3, 7).unwrap().shape.digest()
        );
    }

    #[test]
    fn the_tiny_specs_round_circuits_differ_and_fit_2_to_the_14() {
        let tiny = Circuit::round(&ProjectSpec::from_json(TINY).unwrap(), "tiny.json").unwrap();
        let other = Circuit::round(&ProjectSpec::from_json(OTHER).unwrap(), "o.json").unwrap();
        assert_eq!(tiny.shape.domain_size().unwrap(), 1 << 14);
        assert_eq!(other.shape.domain_size().unwrap(), 1 << 14);
        assert_ne!(tiny.shape.digest(), other.shape.digest());
        assert_eq!(tiny.name, "the round circuit of tiny.json");
        // A spec that does not validate has no round circuit.
        let mut bad = ProjectSpec::from_json(TINY).unwrap();
        bad.version = 9;
        let e = Circuit::round(&bad, "bad.json").err().unwrap();
        assert!(
            e.to_string().starts_with("the round circuit of bad.json: "),
            "{e}"
        );
    }

    #[test]
    fn a_whole_ceremony_gives_keys_that_prove_and_verify() {
        let circuit = squarings(SQUARINGS);
        // A fresh phase 1 is accepted to contribute to, never to derive from.
        let fresh = phase1(POWER, 0);
        check_phase1(&fresh, "fresh", true).unwrap();
        let e = check_phase1(&fresh, "fresh", false).unwrap_err();
        assert!(
            matches!(
                e,
                CeremonyCliError::Refused {
                    source: CeremonyError::NoContributions { phase: 1 },
                    ..
                }
            ),
            "{e}"
        );
        assert!(phase2_new(&circuit, fresh, "fresh").is_err());

        let p1 = phase1(POWER, 2);
        let p1 = read_phase1(&p1.to_bytes(), "p1").unwrap();
        assert_eq!(check_phase1(&p1, "p1", false).unwrap().contributions, 2);
        let (mut t, _) = phase2_new(&circuit, p1.clone(), "p1").unwrap();
        let fresh2 = Expect {
            phase1_hash: None,
            allow_fresh_phase2: true,
        };
        check_transcript(&t, &circuit, "t", fresh2).unwrap();
        // Keys are never taken from a phase 2 nobody contributed to.
        let e = verified_keys(&t, &circuit, "t", None).unwrap_err();
        assert!(
            matches!(
                e,
                CeremonyCliError::Refused {
                    source: CeremonyError::NoContributions { phase: 2 },
                    ..
                }
            ),
            "{e}"
        );
        phase2_contribute(&mut t);
        // Contributing to a transcript with contributions checks them all.
        check_transcript(&t, &circuit, "t", fresh2).unwrap();
        phase2_contribute(&mut t);
        let files = key_files(&t.to_bytes(), &circuit, "t").unwrap();
        let s = &files.summary;
        assert_eq!(
            (
                s.phase1_contributions,
                s.phase2_contributions,
                s.setup_contributions
            ),
            (2, 2, 4)
        );
        assert_eq!((s.power, s.domain, s.constraints), (POWER, 256, SQUARINGS));
        assert_eq!(s.hash, hex_digest(&t.hash()));
        let vk = merit_prover::keys::read_verifying_key(&files.verifying_key_file).unwrap();
        let pk = merit_prover::keys::read_proving_key(&files.proving_key_file).unwrap();
        assert_eq!(pk.vk, vk);
        assert_eq!(files.verifying_key, merit_prover::keys::compressed(&vk));
        assert_eq!(vk.delta_g2, t.phase2.contributions[1].delta_g2);

        // The derived keys prove and verify; a false output does not verify.
        let x = Fr::from(3u64);
        let honest = Squarings::honest(SQUARINGS, x);
        let inputs = honest.public_inputs().unwrap();
        let proof = ark_groth16::Groth16::<Bn254>::create_random_proof_with_reduction(
            honest, &pk, &mut OsRng,
        )
        .unwrap();
        assert!(merit_prover::verify(&vk, &proof, &inputs).unwrap());
        let wrong = [inputs[0], inputs[1] + Fr::from(1u64)];
        assert!(!merit_prover::verify(&vk, &proof, &wrong).unwrap());

        // Pinned to its own phase 1: accepted; to another: refused by name.
        verified_keys(&t, &circuit, "t", Some(&p1.hash())).unwrap();
        let other = phase1(POWER, 1).hash();
        let e = verified_keys(&t, &circuit, "t", Some(&other)).unwrap_err();
        assert!(matches!(e, CeremonyCliError::OtherPhase1 { .. }), "{e}");
        // Another circuit: refused by name, before any pairing.
        let e = key_files(&t.to_bytes(), &squarings(100), "t.bin").unwrap_err();
        assert!(matches!(e, CeremonyCliError::WrongCircuit { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("t.bin is phase 2 of another circuit, not of 100 squarings"),
            "{e}"
        );
        // A circuit larger than phase 1: deriving says so.
        let e = phase2_new(&squarings(300), p1, "p1.bin").err().unwrap();
        assert!(
            chain(e).contains("needs a domain of 512 points but phase 1 has 256"),
            "domain too small"
        );
    }

    #[test]
    fn a_tampered_or_misplaced_file_is_refused_by_name() {
        let t = transcript(1, 2);
        let good = t.to_bytes();
        // Contribution i of phase 2 starts after phase 1, the circuit digest (32 bytes) and
        // the vector's length (8): parent 32, δ in G1 32 and G2 64, proof 32 + 32.
        let start = t.phase1.compressed_size() + 32 + 8 + 192;

        // The second contribution's proof response, one bit changed: its proof of
        // knowledge fails, and the error names contribution 1 and that check.
        let mut bad = good.clone();
        bad[start + 160] ^= 1;
        let text = chain(key_files(&bad, &squarings(SQUARINGS), "bad.bin").unwrap_err());
        assert!(
            text.starts_with("bad.bin does not verify: phase 2 contribution 1: the proof of knowledge of delta does not verify"),
            "{text}"
        );
        // Its parent hash changed: the link is refused.
        let mut bad = good.clone();
        bad[start] ^= 1;
        let text = chain(key_files(&bad, &squarings(SQUARINGS), "bad.bin").unwrap_err());
        assert!(
            text.contains("phase 2 contribution 1: the contribution names a different previous transcript hash"),
            "{text}"
        );
        // A phase-1 contribution's parent (after the power, 4 bytes, and the length, 8).
        let mut bad = good.clone();
        bad[4 + 8] ^= 1;
        let text = chain(key_files(&bad, &squarings(SQUARINGS), "bad.bin").unwrap_err());
        assert!(text.contains("phase 1 contribution 0: "), "{text}");

        // Files of the wrong kind, truncated, or with bytes left over.
        let e = read_transcript(&t.phase1.to_bytes(), "p1.bin").unwrap_err();
        assert!(e.is_bad_input());
        assert!(e.to_string().contains("it is a phase-1 transcript"), "{e}");
        let e = read_phase1(&good, "t.bin").unwrap_err();
        assert!(e.to_string().contains("phase-1 commands take"), "{e}");
        let e = read_transcript(&good[..good.len() - 1], "cut.bin").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cut.bin is not a ceremony transcript"),
            "{e}"
        );
        let mut long = good.clone();
        long.push(0);
        assert!(read_transcript(&long, "long.bin")
            .unwrap_err()
            .is_bad_input());
        assert!(read_transcript(b"not a transcript", "x")
            .unwrap_err()
            .is_bad_input());

        // A start with no contribution but a changed state: nobody proved its secret.
        let mut forged = phase1_new(POWER).unwrap();
        forged.state = t.phase1.state.clone();
        let e = check_phase1(&forged, "forged", true).unwrap_err();
        assert!(
            matches!(e, CeremonyCliError::NotFresh { phase: 1, .. }),
            "{e}"
        );
        let mut forged = transcript(1, 0);
        forged.phase2.key = t.phase2.key.clone();
        let fresh2 = Expect {
            phase1_hash: None,
            allow_fresh_phase2: true,
        };
        let e = check_transcript(&forged, &squarings(SQUARINGS), "f", fresh2).unwrap_err();
        assert!(
            matches!(e, CeremonyCliError::NotFresh { phase: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn sources_are_files_or_cids() {
        assert_eq!(
            Source::parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"),
            Source::Cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".into())
        );
        assert_eq!(
            Source::parse("no/such/file.bin"),
            Source::File("no/such/file.bin".into())
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_file(&dir.path().join("missing")),
            Err(CeremonyCliError::Read { .. })
        ));
        let path = dir.path().join("f.bin");
        write_file(&path, b"abc").unwrap();
        assert_eq!(read_file(&path).unwrap(), b"abc");
    }
}
