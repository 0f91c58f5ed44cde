//! `merit project report`: what happened in a project, as a self-contained HTML page with
//! SVG plots ([`render`]) and `report.json` ([`data::ReportData`]).
//!
//! Everything that decides money comes from the chain: the round records, the trainers'
//! totals and the settlement (`reward::settlement_of`, the contract's own computation).
//! What the chain does not hold comes from the aggregator: its round reports in IPFS
//! (validation accuracy and loss, proving time) and, in its state directory, the weight
//! each `finalize_round` was given. Without the aggregator's directory those columns are
//! empty, not guessed.

pub mod data;
pub mod render;

use anyhow::{Context, Result};
use data::{ReportData, RoundRow, RoundScore, SlotOutcome, TrainerRow, Validation};
use merit_aggregator::report::{Evaluator, RoundReport};
use merit_aggregator::state::StateFile;
use merit_chain::{AccountId32, Marketplace};
use merit_protocol::format::ModelFile;
use merit_storage::IpfsStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The largest round report this reads (they hold every slot's cosines and the proof).
const MAX_REPORT_BYTES: usize = 16 << 20;

/// Owner-supplied names for trainers; a label ending in "(simulated)" marks a simulated
/// attacker.
#[derive(Debug, Clone, Default)]
pub struct Labels(BTreeMap<[u8; 32], String>);

impl Labels {
    pub fn insert(&mut self, account: [u8; 32], label: impl Into<String>) {
        self.0.insert(account, label.into());
    }

    /// A JSON object `{"<account>": "label"}`; accounts as SS58, dev names or secret URIs.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let map: BTreeMap<String, String> = serde_json::from_str(&text).with_context(|| {
            format!("{}: expected {{\"<account>\": \"label\"}}", path.display())
        })?;
        let mut out = Self::default();
        for (who, label) in map {
            let a =
                crate::accounts::account(&who).with_context(|| format!("in {}", path.display()))?;
            out.insert(a.0, label);
        }
        Ok(out)
    }

    fn get(&self, a: &[u8; 32]) -> Option<&String> {
        self.0.get(a)
    }

    pub fn is_attacker(label: &str) -> bool {
        label.trim_end().ends_with("(simulated)")
    }
}

/// How slot `slot` came out in a finalised round, from the chain's record and (where
/// known) the aggregator's report.
fn outcome(accepted: bool, report: Option<&RoundReport>, slot: usize) -> SlotOutcome {
    use merit_aggregator::report::SlotCheck;
    if accepted {
        return SlotOutcome::Accepted;
    }
    match report.and_then(|r| r.slots.get(slot)).map(|s| &s.check) {
        Some(SlotCheck::SetAside { .. }) => SlotOutcome::SetAside,
        Some(SlotCheck::NotRevealed | SlotCheck::Unfilled) => SlotOutcome::Missing,
        _ => SlotOutcome::Rejected,
    }
}

/// Reads the project from the chain (and the aggregator's reports where given).
pub async fn gather(
    market: &Marketplace,
    ipfs: &IpfsStore,
    id: u32,
    aggregator_state: Option<&Path>,
    labels: &Labels,
    evaluator: Option<&dyn Evaluator>,
) -> Result<ReportData> {
    let status = crate::project::status(market, id).await?;
    let v = &status.view;
    let state = match aggregator_state {
        Some(dir) => Some(
            StateFile::new(dir, id)
                .load(id)
                .with_context(|| format!("reading the aggregator's state in {}", dir.display()))?,
        ),
        None => None,
    };
    let mut reports: Vec<Option<RoundReport>> = Vec::new();
    let mut rounds = Vec::new();
    for (r, rec) in status.records.iter().enumerate() {
        let r = r as u32;
        let saved = state.as_ref().and_then(|s| s.rounds.get(&r));
        let report_cid = saved
            .and_then(|s| s.prepared.as_ref())
            .map(|p| p.report_cid.clone());
        let report = match &report_cid {
            Some(cid) => {
                let c = merit_storage::parse_cid(cid)?;
                let bytes = ipfs
                    .get(&c, MAX_REPORT_BYTES)
                    .await
                    .with_context(|| format!("fetching round {r}'s report {cid}"))?;
                Some(
                    RoundReport::from_json(&bytes)
                        .with_context(|| format!("round {r}'s report {cid}"))?,
                )
            }
            None => None,
        };
        rounds.push(RoundRow {
            round: r,
            finalized_at_block: rec.finalized_at,
            accepted: rec.accepted.iter().filter(|&&a| a).count() as u32,
            model_cid: String::from_utf8_lossy(&rec.model_cid).into_owned(),
            report_cid,
            validation: report
                .as_ref()
                .and_then(|x| x.validation)
                .map(|x| Validation {
                    accuracy: x.accuracy,
                    loss: x.loss,
                }),
            prove_seconds: report.as_ref().map(|x| x.timings.prove_s),
            ref_time: saved.and_then(|s| s.weight).map(|w| w.0),
            proof_size: saved.and_then(|s| s.weight).map(|w| w.1),
        });
        reports.push(report);
    }
    // The owner's own holdout, where given: the initial model, and every round the
    // aggregator's reports do not cover.
    let mut initial_validation = None;
    if let Some(e) = evaluator {
        initial_validation =
            Some(evaluate(ipfs, e, &v.params.model_cid, "the initial model").await?);
        for row in rounds.iter_mut().filter(|r| r.validation.is_none()) {
            let what = format!("round {}'s model", row.round);
            row.validation = Some(evaluate(ipfs, e, row.model_cid.as_bytes(), &what).await?);
        }
    }
    let trainers = status
        .trainers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = labels.get(&t.account).cloned();
            TrainerRow {
                slot: t.slot,
                account: AccountId32(t.account).to_string(),
                attacker: label.as_deref().is_some_and(Labels::is_attacker),
                label,
                scores: status
                    .records
                    .iter()
                    .enumerate()
                    .map(|(r, rec)| match status.slot_in(r, t) {
                        Some(s) => RoundScore {
                            round: r as u32,
                            score: rec.scores.get(s).copied().unwrap_or_default(),
                            outcome: outcome(
                                rec.accepted.get(s).copied().unwrap_or_default(),
                                reports[r].as_ref(),
                                s,
                            ),
                        },
                        None => RoundScore {
                            round: r as u32,
                            score: 0,
                            outcome: SlotOutcome::NotDrawn,
                        },
                    })
                    .collect(),
                total_score: t.total_score,
                rejected_rounds: t.rejected_rounds,
                missed_reveal: t.missed_reveal,
                // The claim is reward plus the stake unless forfeited.
                reward: status.claims.as_ref().map_or(0, |c| {
                    let claim = c.trainers.get(i).copied().unwrap_or_default();
                    claim.saturating_sub(if status.stake_forfeited(t) {
                        0
                    } else {
                        v.params.trainer_stake
                    })
                }),
                stake: v.params.trainer_stake,
                stake_returned: !status.stake_forfeited(t),
            }
        })
        .collect();
    Ok(ReportData {
        project: id,
        chain: market.backend_kind().to_string(),
        phase: format!("{:?}", v.phase),
        rounds_planned: v.params.rounds,
        spec_cid: String::from_utf8_lossy(&v.params.spec_cid).into_owned(),
        model_cid: String::from_utf8_lossy(&v.model_cid).into_owned(),
        owner: AccountId32(v.owner).to_string(),
        aggregator: AccountId32(v.params.aggregator).to_string(),
        pool: v.pool,
        trainer_stake: v.params.trainer_stake,
        initial_validation,
        rounds,
        trainers,
        aggregator_fee: status.claims.as_ref().map_or(0, |c| c.aggregator),
        owner_refund: status.claims.as_ref().map_or(0, |c| c.owner),
        generated_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    })
}

/// A model file from IPFS, evaluated.
async fn evaluate(
    ipfs: &IpfsStore,
    e: &dyn Evaluator,
    cid: &[u8],
    what: &str,
) -> Result<Validation> {
    let cid = String::from_utf8_lossy(cid);
    let c = merit_storage::parse_cid(&cid).with_context(|| format!("{what}'s CID"))?;
    let bytes = ipfs
        .get(&c, MAX_REPORT_BYTES)
        .await
        .with_context(|| format!("fetching {what} {cid}"))?;
    let model = ModelFile::parse(&bytes).map_err(|e| anyhow::anyhow!("{what} {cid}: {e}"))?;
    let v = e
        .evaluate(&model)
        .map_err(|e| anyhow::anyhow!("evaluating {what}: {e}"))?;
    Ok(Validation {
        accuracy: v.accuracy,
        loss: v.loss,
    })
}

/// Where [`write`] put the report.
pub struct Written {
    pub html: PathBuf,
    pub json: PathBuf,
}

/// Writes `report.html` and `report.json` into `dir` (created if missing).
pub fn write(d: &ReportData, dir: &Path) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let html = dir.join("report.html");
    let json = dir.join("report.json");
    std::fs::write(&html, render::render_html(d))
        .with_context(|| format!("writing {}", html.display()))?;
    std::fs::write(&json, render::render_json(d))
        .with_context(|| format!("writing {}", json.display()))?;
    Ok(Written { html, json })
}
