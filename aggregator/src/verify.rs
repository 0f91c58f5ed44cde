//! `merit verify`: recompute a finalised round from chain + IPFS alone.
//!
//! Each check becomes one [`VerifyItem`] that agrees, disagrees, or was skipped (with
//! why). The contract verified the round's proof against the round hash it rebuilt from
//! its own storage, and recorded that hash (`RoundRecord::public_input`); so recomputing
//! that hash from the chain and the re-run rule binds everything the proof said. The proof
//! bytes themselves are not on chain: given the round report's CID (logged by the
//! aggregator, and kept in its state file), `verify` also re-checks the proof with the
//! on-chain verifying key through the contract's own code (`merit_protocol::verifier`).

use crate::check::{fetch_and_check, FetchPolicy};
use crate::error::{AggregatorError, Result};
use crate::project::{check_model, fetch_bounded, load_spec};
use crate::report::RoundReport;
use crate::rules::ProvenRule;
use crate::state::slot_accounts;
use merit_chain::Marketplace;
use merit_protocol::abi::SlotView;
use merit_protocol::chunked::{self, Scheme};
use merit_protocol::commit::{CommitError, Commitment, Committer, RoundInputs};
use merit_protocol::{poseidon, verifier};
use merit_storage::IpfsStore;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Agree,
    Disagree,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyItem {
    pub what: String,
    pub status: ItemStatus,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub project: u32,
    pub round: u32,
    pub items: Vec<VerifyItem>,
}

impl VerifyReport {
    /// No item disagrees.
    pub fn agrees(&self) -> bool {
        self.items.iter().all(|i| i.status != ItemStatus::Disagree)
    }

    fn push(&mut self, what: impl Into<String>, status: ItemStatus, detail: impl Into<String>) {
        self.items.push(VerifyItem {
            what: what.into(),
            status,
            detail: detail.into(),
        });
    }

    fn check(&mut self, what: impl Into<String>, ok: bool, detail: impl Into<String>) {
        let status = if ok {
            ItemStatus::Agree
        } else {
            ItemStatus::Disagree
        };
        self.push(what, status, detail);
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub fetch: FetchPolicy,
    /// The round report's CID, to re-verify the proof bytes it holds.
    pub report_cid: Option<String>,
}

/// Recomputes `round` of `project` from chain + IPFS and compares it with what the chain
/// recorded. `Err` only when the round cannot be examined at all (not finalised, chain or
/// IPFS unreachable, an unreadable spec); every finding is an item.
pub async fn verify_round(
    market: &Marketplace,
    ipfs: &IpfsStore,
    project: u32,
    round: u32,
    opts: &VerifyOptions,
) -> Result<VerifyReport> {
    let view = market.project(project).await?;
    let record = market
        .round_record(project, round)
        .await?
        .ok_or(AggregatorError::NotFinalized { project, round })?;
    let (prev_cid, prev_commitment) = if round == 0 {
        (view.params.model_cid.clone(), view.params.model_commitment)
    } else {
        let r = market.round_record(project, round - 1).await?.ok_or(
            AggregatorError::NotFinalized {
                project,
                round: round - 1,
            },
        )?;
        (r.model_cid, r.model_commitment)
    };
    let (_, params) = load_spec(ipfs, &view).await?;
    let scheme = Scheme::of(view.chunked.as_ref()).map_err(AggregatorError::Chunking)?;
    let n = params.slots;
    let max = opts.fetch.max_bytes;
    let mut rep = VerifyReport {
        project,
        round,
        items: Vec::new(),
    };

    let prev_name = String::from_utf8_lossy(&prev_cid).into_owned();
    let prev = match fetch_bounded(ipfs, &prev_cid, max, "the previous model").await {
        Ok(b) => check_model(&prev_name, &b, &prev_commitment, &scheme, params.dim),
        Err(e) => Err(e),
    };
    rep.check(
        "previous model",
        prev.is_ok(),
        match &prev {
            Ok(_) => format!("{prev_name} opens the on-chain commitment"),
            Err(e) => e.with_causes(),
        },
    );

    // Every revealed slot: does the chain's set-aside mark match what the file shows?
    let slots = market.round_slots(project, round).await?;
    let mut updates = vec![None; n];
    let mut all_open = true;
    for s in &slots {
        let (Some(cid), Some(cm)) = (&s.cid, s.commitment) else {
            continue;
        };
        let what = format!("slot {}", s.slot);
        if s.answered {
            // A set-aside answered on chain: the update is read from the chain, not IPFS.
            let (v, opens) = crate::check::answered_update(
                market,
                &scheme,
                params.dim,
                (project, round),
                s,
                &cm,
            )
            .await?;
            all_open &= opens;
            rep.check(
                what,
                opens,
                if opens {
                    "set aside, then answered on chain: the posted update opens its commitment"
                } else {
                    "answered on chain, but the posted update does not open its commitment"
                },
            );
            if let Some(u) = updates.get_mut(s.slot as usize) {
                *u = Some(v);
            }
            continue;
        }
        let r =
            fetch_and_check(ipfs, &scheme, &s.account, &cm, cid, params.dim, &opts.fetch).await?;
        match (r, s.set_aside) {
            (Ok(v), false) => {
                rep.check(what, true, "the update opens its commitment");
                if let Some(u) = updates.get_mut(s.slot as usize) {
                    *u = Some(v);
                }
            }
            (Ok(_), true) => rep.check(
                what,
                false,
                "set aside on chain, but the update opens its commitment",
            ),
            (Err(reason), true) => rep.check(what, true, format!("set aside: {reason}")),
            (Err(reason), false) => {
                all_open = false;
                rep.check(what, false, format!("counted as present, but {reason}"));
            }
        }
    }

    // The rule, re-run on what the statement counted as present.
    match (&prev, all_open) {
        (Ok(prev), true) => match ProvenRule(params).run(&prev.values, &updates) {
            Ok(o) => {
                rep.check(
                    "accept bits",
                    o.decision.accepted == record.accepted,
                    format!(
                        "recomputed {:?}, recorded {:?}",
                        o.decision.accepted, record.accepted
                    ),
                );
                rep.check(
                    "scores",
                    o.decision.scores == record.scores,
                    format!(
                        "recomputed {:?}, recorded {:?}",
                        o.decision.scores, record.scores
                    ),
                );
                let c = scheme.commit_model(&o.new_model).unwrap_or_default();
                rep.check(
                    "new model commitment",
                    c == record.model_commitment,
                    format!(
                        "recomputed {}, recorded {}",
                        hex::encode(c.0),
                        hex::encode(record.model_commitment.0)
                    ),
                );
            }
            Err(e) => rep.check("rule", false, format!("the rule refuses the round: {e}")),
        },
        _ => rep.push(
            "rule",
            ItemStatus::Skipped,
            "the previous model or a present update could not be opened",
        ),
    }

    let new_name = String::from_utf8_lossy(&record.model_cid).into_owned();
    let new = match fetch_bounded(ipfs, &record.model_cid, max, "the new model").await {
        Ok(b) => {
            check_model(&new_name, &b, &record.model_commitment, &scheme, params.dim).map(|_| ())
        }
        Err(e) => Err(e),
    };
    rep.check(
        "new model file",
        new.is_ok(),
        match &new {
            Ok(()) => format!("{new_name} opens the recorded commitment"),
            Err(e) => e.with_causes(),
        },
    );

    // The round hash, from chain state alone (as the contract builds it); for a chunked
    // round, the decision's input over the Gram totals of the opened updates (the chunk
    // proofs bound those totals to the commitments when the contract checked them).
    let input = match &view.chunked {
        None => chain_public_input(
            project,
            round,
            prev_commitment,
            &slots,
            n,
            &record.scores,
            &record.accepted,
            record.model_commitment,
        )
        .map_err(|e| e.to_string()),
        Some(_) if !all_open => Err("a present update could not be opened".into()),
        Some(_) => chunked::decision_input_of_updates(
            project,
            round,
            params,
            &updates,
            &record.accepted,
            &record.scores,
        )
        .map_err(|e| e.to_string()),
    };
    let vk = match &view.chunked {
        None => view.verifying_key.clone(),
        Some(c) => market.shape(c.shape).await?.decision_key,
    };
    let input = match input {
        Ok(h) => {
            rep.check(
                "public input",
                poseidon::to_bytes(&h) == record.public_input,
                format!(
                    "rebuilt {}, recorded {}",
                    hex::encode(poseidon::to_bytes(&h)),
                    hex::encode(record.public_input)
                ),
            );
            Some(h)
        }
        Err(e) => {
            rep.check("public input", false, e.to_string());
            None
        }
    };

    match (&opts.report_cid, input) {
        (Some(cid), Some(h)) => {
            let r = verify_report_proof(ipfs, cid, project, round, &record.model_cid, &vk, &h).await;
            match r {
                Ok(()) => rep.check("proof", true, format!("the proof in {cid} verifies")),
                Err(why) => rep.check("proof", false, why),
            }
        }
        (Some(_), None) => rep.push("proof", ItemStatus::Skipped, "no public input"),
        (None, _) => rep.push(
            "proof",
            ItemStatus::Skipped,
            "checked by the contract at finalisation against the recorded public input; pass the report CID to re-verify the bytes",
        ),
    }
    Ok(rep)
}

/// The round hash exactly as the contract's `finalize_round` builds it: `n` slots in
/// slot order, unfilled ones with the zero account, slots that are not present (no reveal,
/// or set aside) with the zero commitment.
#[allow(clippy::too_many_arguments)]
pub fn chain_public_input(
    project: u32,
    round: u32,
    prev_model: Commitment,
    slots: &[SlotView],
    n: usize,
    scores: &[u32],
    accepted: &[bool],
    new_model: Commitment,
) -> std::result::Result<merit_protocol::Fr, CommitError> {
    let trainers = slot_accounts(slots, n);
    let mut commitments = vec![Commitment::default(); n];
    for s in slots.iter().filter(|s| s.present()) {
        if let (Some(c), Some(cm)) = (commitments.get_mut(s.slot as usize), s.commitment) {
            *c = cm;
        }
    }
    Committer::new().round_public_input(&RoundInputs {
        project,
        round,
        prev_model,
        trainers: &trainers,
        updates: &commitments,
        scores,
        accepted,
        new_model,
    })
}

async fn verify_report_proof(
    ipfs: &IpfsStore,
    cid: &str,
    project: u32,
    round: u32,
    model_cid: &[u8],
    prepared_vk: &[u8],
    input: &merit_protocol::Fr,
) -> std::result::Result<(), String> {
    let bytes = fetch_bounded(ipfs, cid.as_bytes(), 16 << 20, "the round report")
        .await
        .map_err(|e| e.with_causes())?;
    let report = RoundReport::from_json(&bytes).map_err(|e| format!("the report: {e}"))?;
    if report.project != project || report.round != round {
        return Err(format!(
            "the report is for project {} round {}",
            report.project, report.round
        ));
    }
    if report.new_model.cid.as_bytes() != model_cid {
        return Err("the report names another new model than the chain".into());
    }
    let proof = hex::decode(&report.proof).map_err(|e| format!("proof hex: {e}"))?;
    match verifier::verify(prepared_vk, &proof, input) {
        Ok(true) => Ok(()),
        Ok(false) => Err("the proof does not verify for the rebuilt public input".into()),
        Err(e) => Err(e.to_string()),
    }
}
