//! Keys for a new project or proof shape from ceremony transcripts (`merit project create
//! --ceremony` / `--shape-ceremony`): verified, put into IPFS, and what the owner records.

use super::{digest_of_hex, key_files, publish, read_transcript, verified_keys};
use super::{CeremonyCliError, Circuit, Result, TranscriptSummary};
use ark_groth16::{ProvingKey, VerifyingKey};
use merit_protocol::spec::ProjectSpec;
use merit_prover::ark_bn254::Bn254;
use merit_storage::IpfsStore;
use std::time::Instant;

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
    published_keys(ipfs, files, transcript, seconds).await
}

/// A project's round keys from a ceremony its owner contributes to now (`merit demo`):
/// the transcript is verified once (a phase 2 with no contribution yet must be exactly
/// the start phase 1 gives), the owner's δ' is multiplied in, and the keys are taken from
/// the result, which is put into IPFS with the proving key. What is recorded on chain is
/// what [`project_keys`] records for a transcript verified after the fact.
pub async fn contribute_project_keys(
    ipfs: &IpfsStore,
    spec: &ProjectSpec,
    transcript: Vec<u8>,
    what: &str,
    memo: &super::Phase1Memo,
) -> anyhow::Result<ProjectKeys> {
    use anyhow::Context;
    let started = Instant::now();
    let (spec2, what2, memo) = (spec.clone(), what.to_string(), memo.clone());
    let (files, transcript) = tokio::task::spawn_blocking(move || {
        let circuit = Circuit::round(&spec2, "the project's spec")?;
        let read = super::read_transcript_recalling(&transcript, &what2, &memo)?;
        let expect = super::Expect {
            phase1_hash: None,
            allow_fresh_phase2: true,
            phase1_verified: read.phase1_verified,
        };
        super::check_transcript(&read.transcript, &circuit, &what2, expect)?;
        read.remember_phase1(&memo);
        let mut t = read.transcript;
        super::phase2_contribute(&mut t);
        let files = super::own_key_files(&t, &circuit, started);
        Ok::<_, CeremonyCliError>((files, t.to_bytes()))
    })
    .await
    .context("the verification thread")??;
    let seconds = started.elapsed().as_secs_f64();
    published_keys(ipfs, files, transcript, seconds).await
}

/// Puts a verified transcript and its proving key into IPFS; what the owner records.
async fn published_keys(
    ipfs: &IpfsStore,
    files: super::KeyFiles,
    transcript: Vec<u8>,
    seconds: f64,
) -> anyhow::Result<ProjectKeys> {
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
