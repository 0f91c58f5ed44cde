//! A phase-2 contribution to a project's recorded setup (`merit ceremony contribute`, and
//! a trainer node before its project starts), posted as a link the contract checks.

use super::{hex_digest, phase2_contribute, project_transcript, publish};
use merit_storage::IpfsStore;

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
        || market.trainer_of(project, &me).await?.is_some();
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
    memo: &super::Phase1Memo,
) -> anyhow::Result<Contributed> {
    use anyhow::Context;
    ensure_setup_party(market, signer, project).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let checked = project_transcript(market, ipfs, project, memo).await?;
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
