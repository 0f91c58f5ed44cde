//! A recorded setup checked from chain + IPFS alone, as a trainer does before it stakes:
//! a project's transcript, or a proof shape's two.

use super::{digest_of_hex, read_transcript_recalling, verified_keys_as, Expect, Phase1Memo};
use super::{CeremonyCliError, Circuit, Result, TranscriptSummary, MAX_TRANSCRIPT_BYTES};
use ark_groth16::VerifyingKey;
use merit_ceremony::Transcript;
use merit_prover::ark_bn254::Bn254;
use merit_storage::IpfsStore;

/// Checks a project's keys from chain + IPFS alone, as a trainer does before it stakes:
/// the recorded transcript is fetched, verified in full against the round circuit of the
/// project's spec, its hash-chain head must be the recorded one, and the verifying key it
/// gives must be exactly the one the contract stores. A chunked project's keys are its
/// proof shape's: both of the shape's recorded transcripts are checked so.
pub async fn check_project_setup(
    market: &merit_chain::Marketplace,
    ipfs: &IpfsStore,
    project: u32,
    memo: &Phase1Memo,
) -> Result<SetupCounts> {
    let chain = |source| CeremonyCliError::Chain { project, source };
    let view = market.project(project).await.map_err(chain)?;
    if let Some(c) = &view.chunked {
        let shape = market.shape(c.shape).await.map_err(chain)?;
        return Ok(check_shape_setup(market, ipfs, &shape, memo)
            .await?
            .counts());
    }
    let s = project_transcript(market, ipfs, project, memo)
        .await?
        .summary;
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
/// blocking thread; phase 1 from `memo` if it verified before); returns it, its verifying
/// key and its summary.
async fn fetch_verified(
    ipfs: &IpfsStore,
    cid: &str,
    circuit: impl FnOnce() -> Result<Circuit> + Send + 'static,
    what: String,
    memo: &Phase1Memo,
) -> Result<(Transcript, VerifyingKey<Bn254>, TranscriptSummary)> {
    let memo = memo.clone();
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
        let read = read_transcript_recalling(&bytes, &what, &memo)?;
        let expect = Expect {
            phase1_verified: read.phase1_verified,
            ..Expect::default()
        };
        let (_, vk, summary) = verified_keys_as(&read.transcript, &circuit, &what, expect)?;
        read.remember_phase1(&memo);
        Ok::<_, CeremonyCliError>((read.transcript, vk, summary))
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
    memo: &Phase1Memo,
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
        memo,
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
    memo: &Phase1Memo,
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
        let (_, vk, summary) = fetch_verified(ipfs, &cid, build, what, memo).await?;
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
