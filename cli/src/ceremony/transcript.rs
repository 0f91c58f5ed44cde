//! A transcript on one machine: the circuit its phase 2 is for, the checks of each phase,
//! each phase's start and contributions, and keys from a transcript that verified in full
//! (`merit ceremony phase1|phase2|keys|verify`).

use super::{hex_digest, read_transcript, CeremonyCliError, Result};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_serialize::CanonicalSerialize;
use merit_ceremony::{CeremonyError, Digest, Phase1State, Phase1Transcript, R1csShape, Transcript};
use merit_protocol::rule::RuleParams;
use merit_protocol::spec::ProjectSpec;
use merit_prover::ark_bn254::Bn254;
use merit_prover::round::RoundCircuit;
use rand::rngs::OsRng;
use std::time::Instant;

fn refused(what: &str) -> impl FnOnce(CeremonyError) -> CeremonyCliError + '_ {
    move |source| CeremonyCliError::Refused {
        what: what.to_string(),
        source,
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
    /// Phase 1 passed its checks before ([`super::Phase1Memo`]): skip them.
    pub phase1_verified: bool,
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
    if !expect.phase1_verified {
        t.phase1.verify(&mut OsRng).map_err(refused(what))?;
    }
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

/// Opens a ceremony for `circuit` in one step: a fresh phase 1 of `2^power` points with
/// your contribution (fresh secrets from the OS), and the circuit's phase-2 start, made
/// while the secrets are still at hand instead of by the group FFTs (seconds instead of
/// minutes; the same start [`phase2_new`] would derive, which every check re-verifies).
/// Returns the transcript and the seconds it took.
pub fn open(circuit: &Circuit, power: u32) -> Result<(Transcript, f64)> {
    let started = Instant::now();
    let t =
        Transcript::opened(power, &circuit.shape, &mut OsRng).map_err(|source| match source {
            CeremonyError::UnsupportedPower(_) => CeremonyCliError::Power { power, source },
            source => CeremonyCliError::Derive {
                what: format!("a new phase 1 for 2^{power} points"),
                circuit: circuit.name.clone(),
                source,
            },
        })?;
    Ok((t, started.elapsed().as_secs_f64()))
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
    let expect = Expect {
        phase1_hash,
        ..Expect::default()
    };
    verified_keys_as(t, circuit, what, expect)
}

/// [`verified_keys`] with what the caller knows of the transcript (never a fresh phase 2).
pub fn verified_keys_as(
    t: &Transcript,
    circuit: &Circuit,
    what: &str,
    expect: Expect<'_>,
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>, TranscriptSummary)> {
    let expect = Expect {
        allow_fresh_phase2: false,
        ..expect
    };
    let summary = check_transcript(t, circuit, what, expect)?;
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
    Ok(files_of(&pk, &vk, summary))
}

/// The key files of a transcript the caller verified and then contributed to itself
/// (its own last step needs no check), with the seconds since `started`.
pub fn own_key_files(t: &Transcript, circuit: &Circuit, started: Instant) -> KeyFiles {
    let pk = &t.phase2.key;
    files_of(pk, &pk.vk, summary(t, &circuit.shape, started))
}

fn files_of(
    pk: &ProvingKey<Bn254>,
    vk: &VerifyingKey<Bn254>,
    summary: TranscriptSummary,
) -> KeyFiles {
    KeyFiles {
        verifying_key_file: merit_prover::keys::write_verifying_key(vk),
        proving_key_file: merit_prover::keys::write_proving_key(pk),
        verifying_key: merit_prover::keys::compressed(vk),
        delta_g1: merit_protocol::setup_link::encode_delta_g1(&pk.delta_g1),
        summary,
    }
}
