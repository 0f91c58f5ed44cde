//! One round, end to end: check every reveal, set aside what does not open, run the
//! proven rule, prove, publish the new model and the report, finalise — restart-safe
//! through the state file (`state`).

use crate::check::{fetch_and_check, FetchPolicy, SetAsideReason};
use crate::error::{AggregatorError, Result};
use crate::project::ProjectContext;
use crate::project::ProvingKeys;
use crate::report::{
    slot_reports, Evaluator, ModelRef, RoundReport, SlotCheck, SlotFacts, Timings, Validation,
    REPORT_VERSION,
};
use crate::state::{
    decide, pending_set_asides, slot_accounts, Decision, Prepared, StateFile, StatementKey,
    StoredFinalization,
};
use merit_chain::marketplace::{ChunkedProofs, Finalization, MarketEvent, CHUNK_PROOFS_PER_CALL};
use merit_chain::{Marketplace, Signer};
use merit_protocol::abi::{MarketError, Phase, ProjectView, SlotView};
use merit_protocol::commit::Commitment;
use merit_protocol::fixed;
use merit_protocol::format::{Kind, ModelFile};
use merit_protocol::rule::RoundOutcome;
use merit_prover::chunked::{proof_bytes, prove_chunked, ChunkedRound};
use merit_prover::keys::compressed;
use merit_prover::round::{prove_round, RoundWitness};
use merit_storage::IpfsStore;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The aggregator's settings.
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    pub project: u32,
    /// Where `project-<id>.json` state files live.
    pub state_dir: PathBuf,
    /// Fetching updates and models.
    pub fetch: FetchPolicy,
    /// Largest proving key file read.
    pub max_key_bytes: usize,
    /// How often the node reads the project's phase.
    pub poll: Duration,
    /// Transient failures (node or IPFS not answering) tolerated in a row.
    pub max_retries: u32,
    /// First wait after a transient failure; doubled each time, capped at 16×.
    pub backoff: Duration,
}

impl AggregatorConfig {
    pub fn new(project: u32, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            project,
            state_dir: state_dir.into(),
            fetch: FetchPolicy::default(),
            max_key_bytes: 1 << 31,
            poll: Duration::from_secs(2),
            max_retries: 8,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Who acts and with what: the chain and IPFS handles, the aggregator's key, the settings
/// and an optional validation hook. The caller constructs the `Marketplace`.
pub struct Aggregator<'a> {
    pub market: &'a Marketplace,
    pub ipfs: &'a IpfsStore,
    pub signer: &'a Signer,
    pub config: AggregatorConfig,
    pub evaluator: Option<&'a dyn Evaluator>,
}

/// A round this node finalised.
#[derive(Debug, Clone)]
pub struct RoundDone {
    pub round: u32,
    pub finalization: Finalization,
    /// CID of the round report in IPFS.
    pub report_cid: String,
    /// Set only when the report was computed in this run (not resumed from the state file).
    pub report: Option<RoundReport>,
    /// The stored proof was sent without proving again.
    pub resumed: bool,
    pub events: Vec<MarketEvent>,
}

/// What [`Aggregator::aggregate_round`] did.
#[derive(Debug, Clone)]
pub enum RoundStep {
    Finalized(Box<RoundDone>),
    /// The chain had moved past the round already.
    AlreadyFinalized,
    /// The project is not aggregating this round.
    NotReady,
}

/// The witness for a round: the slots the chain counts as present (revealed, not set
/// aside) with their checked values, every other slot absent. A present slot whose update
/// did not open is an error: it must be set aside first.
pub fn round_witness(
    params: merit_protocol::rule::RuleParams,
    project: u32,
    round: u32,
    slots: &[SlotView],
    mut values: Vec<Option<Vec<i16>>>,
    prev_model: Vec<i16>,
) -> Result<RoundWitness> {
    let n = params.slots;
    values.resize(n, None);
    let mut updates = vec![None; n];
    for s in slots.iter().filter(|s| s.present()) {
        let i = s.slot as usize;
        match values.get_mut(i).and_then(Option::take) {
            Some(v) => updates[i] = Some(v),
            None => return Err(AggregatorError::Unopened { slot: s.slot }),
        }
    }
    RoundWitness::new(
        params,
        project,
        round,
        slot_accounts(slots, n),
        prev_model,
        updates,
    )
    .map_err(AggregatorError::Witness)
}

/// What proving a round gives, whichever statement the project uses.
struct Proven {
    claims: merit_prover::round::RoundClaims,
    /// The public input of the (decision) proof.
    public: merit_protocol::Fr,
    /// The (decision) proof, compressed.
    proof: Vec<u8>,
    chunked: Option<ChunkedProofs>,
}

/// Proves the round: one proof of the v3 statement, or (chunked) every chunk proof one
/// after another, each using every core, then the decision proof. The chunk proofs are
/// independent: `merit_prover::chunked::ChunkedRound::chunk_witness` is all another
/// process or machine needs to prove chunk `k` (docs/chunked-rounds.md).
async fn prove_statement(
    keys: &ProvingKeys,
    witness: RoundWitness,
    project: u32,
    round: u32,
) -> Result<Proven> {
    match keys {
        ProvingKeys::Whole(pk) => {
            let pk = pk.clone();
            let (proof, claims, public) =
                tokio::task::spawn_blocking(move || prove_round(&pk, witness))
                    .await
                    .expect("the prover does not panic")
                    .map_err(AggregatorError::Prove)?;
            Ok(Proven {
                claims,
                public,
                proof: compressed(&proof),
                chunked: None,
            })
        }
        ProvingKeys::Chunked {
            chunk_size,
            chunk,
            decision,
        } => {
            let (chunk_pk, decision_pk, size) = (chunk.clone(), decision.clone(), *chunk_size);
            let done = tokio::task::spawn_blocking(move || {
                let cut = ChunkedRound::new(witness, size)?;
                let count = cut.count();
                let (proofs, _) = prove_chunked(&chunk_pk, &decision_pk, &cut, |k, took| {
                    tracing::info!(
                        project,
                        round,
                        chunk = k,
                        of = count,
                        seconds = took.as_secs_f64(),
                        "chunk proved"
                    );
                })?;
                Ok::<_, merit_prover::ProverError>((proofs, cut.claims()))
            })
            .await
            .expect("the prover does not panic")
            .map_err(AggregatorError::Prove)?;
            let (proofs, claims) = done;
            let public = proofs.decision_input;
            // Chunks in order, then the decision proof.
            let mut chunk_proofs = proof_bytes(&proofs);
            let decision = chunk_proofs.pop().expect("the decision proof comes last");
            Ok(Proven {
                claims,
                public,
                proof: decision,
                chunked: Some(ChunkedProofs {
                    chunk_proofs,
                    submission: proofs.submission,
                }),
            })
        }
    }
}

/// A round proven (or resumed) and saved, ready for `finalize_round`.
#[derive(Debug, Clone)]
pub struct PreparedRound {
    pub round: u32,
    pub finalization: Finalization,
    pub report_cid: String,
    /// Set only when the report was computed in this run.
    pub report: Option<RoundReport>,
    /// Taken from the state file without proving again.
    pub resumed: bool,
}

/// What [`Aggregator::prepare_round`] did.
#[derive(Debug, Clone)]
pub enum Prepare {
    Ready(Box<PreparedRound>),
    AlreadyFinalized,
    NotReady,
}

/// A slot after checking: facts for the report and, if it opened, its values.
struct Checked {
    facts: Vec<SlotFacts>,
    values: Vec<Option<Vec<i16>>>,
    failed: Vec<(u32, SetAsideReason)>,
}

impl Aggregator<'_> {
    fn state_file(&self) -> StateFile {
        StateFile::new(&self.config.state_dir, self.config.project)
    }

    /// Fetches and checks every slot of `round`. Slots the chain already marks set aside
    /// are not fetched again.
    async fn check_slots(
        &self,
        ctx: &ProjectContext,
        round: u32,
        slots: &[SlotView],
        known: &std::collections::BTreeMap<u32, SetAsideReason>,
    ) -> Result<Checked> {
        let n = ctx.params.slots;
        let mut facts: Vec<SlotFacts> = (0..n)
            .map(|_| SlotFacts {
                account: [0; 32],
                cid: None,
                commitment: None,
                check: SlotCheck::Unfilled,
            })
            .collect();
        let mut values = vec![None; n];
        let mut failed = Vec::new();
        for s in slots {
            let i = s.slot as usize;
            if i >= n {
                continue;
            }
            let f = &mut facts[i];
            f.account = s.account;
            f.cid = s.cid.clone();
            f.commitment = s.commitment;
            f.check = match (&s.cid, s.commitment) {
                (None, _) | (_, None) => SlotCheck::NotRevealed,
                (Some(_), _) if s.set_aside => SlotCheck::SetAside {
                    reason: known.get(&s.slot).cloned(),
                },
                // Its set-aside was answered: the update is on chain, and opened there.
                (Some(_), Some(cm)) if s.answered => {
                    let v = self.answered_update(ctx, round, s, &cm).await?;
                    values[i] = Some(v);
                    SlotCheck::Ok
                }
                (Some(cid), Some(cm)) => {
                    let r = fetch_and_check(
                        self.ipfs,
                        &ctx.scheme,
                        &s.account,
                        &cm,
                        cid,
                        ctx.params.dim,
                        &self.config.fetch,
                    )
                    .await?;
                    match r {
                        Ok(v) => {
                            values[i] = Some(v);
                            SlotCheck::Ok
                        }
                        Err(reason) => {
                            tracing::warn!(project = ctx.project, round, slot = s.slot, %reason, "reveal does not open");
                            failed.push((s.slot, reason.clone()));
                            SlotCheck::SetAside {
                                reason: Some(reason),
                            }
                        }
                    }
                }
            };
        }
        Ok(Checked {
            facts,
            values,
            failed,
        })
    }

    /// The update that answered `slot`'s set-aside, read from the chain and checked
    /// against its commitment once more (the contract checked it already).
    async fn answered_update(
        &self,
        ctx: &ProjectContext,
        round: u32,
        slot: &SlotView,
        commitment: &Commitment,
    ) -> Result<Vec<i16>> {
        let (values, opens) = crate::check::answered_update(
            self.market,
            &ctx.scheme,
            ctx.params.dim,
            (ctx.project, round),
            slot,
            commitment,
        )
        .await?;
        if !opens {
            return Err(AggregatorError::BadFile {
                what: format!("the answer of slot {} in round {round}", slot.slot),
                problem: "the update read from the chain does not open its commitment".into(),
            });
        }
        tracing::info!(
            project = ctx.project,
            round,
            slot = slot.slot,
            "set-aside answered on chain: the slot is back in the round"
        );
        Ok(values)
    }

    /// Whether the chain's statement for `round` differs from the one the stored proof is
    /// for (an answered set-aside puts a slot back between proving and sending).
    async fn statement_moved(&self, round: u32) -> Result<bool> {
        let project = self.config.project;
        let state = self.state_file().load(project)?;
        let Some(prepared) = state.rounds.get(&round).and_then(|r| r.prepared.as_ref()) else {
            return Ok(false);
        };
        let view = self.market.project(project).await?;
        let slots = self.market.round_slots(project, round).await?;
        let n = prepared.statement.slots.len();
        let now = StatementKey::from_chain(round, &view.model_commitment, &slots, n);
        Ok(now != prepared.statement)
    }

    /// Does the current round if the project is aggregating it: the whole of a round,
    /// restart-safe ([`Aggregator::prepare_round`], then `finalize_round` unless the chain
    /// has moved past the round).
    pub async fn aggregate_round(&self, ctx: &ProjectContext) -> Result<RoundStep> {
        let p = match self.prepare_round(ctx).await? {
            Prepare::Ready(p) => p,
            Prepare::AlreadyFinalized => return Ok(RoundStep::AlreadyFinalized),
            Prepare::NotReady => return Ok(RoundStep::NotReady),
        };
        self.finalize_prepared(*p).await
    }

    /// Everything up to sending `finalize_round`: checks every reveal, sends the set-asides
    /// the chain does not hold yet, and proves — or, if the state file holds a proof for
    /// exactly today's statement, reuses it. The result is saved in the state file before
    /// it is returned, so a crash after this never costs a second proof.
    pub async fn prepare_round(&self, ctx: &ProjectContext) -> Result<Prepare> {
        let project = self.config.project;
        let view = self.market.project(project).await?;
        if view.phase != Phase::Aggregate {
            return Ok(Prepare::NotReady);
        }
        let round = view.round;
        let file = self.state_file();
        let mut state = file.load(project)?;
        let t_fetch = Instant::now();
        tracing::info!(project, round, "aggregating: checking reveals");
        let slots = self.market.round_slots(project, round).await?;
        let known = state.round_mut(round).set_asides.clone();
        let checked = self.check_slots(ctx, round, &slots, &known).await?;

        // Set aside what does not open (the reason is saved first, for the report).
        let wanted: Vec<u32> = checked.failed.iter().map(|(s, _)| *s).collect();
        for (slot, reason) in &checked.failed {
            state
                .round_mut(round)
                .set_asides
                .insert(*slot, reason.clone());
        }
        file.save(&state)?;
        for slot in pending_set_asides(&slots, &wanted) {
            tracing::info!(project, round, slot, "setting aside");
            match self
                .market
                .set_aside(self.signer, project, round, slot)
                .await
            {
                Ok(()) => {}
                Err(e) => {
                    let e = AggregatorError::from(e);
                    if e.market_error() != Some(MarketError::AlreadySetAside) {
                        return Err(e);
                    }
                }
            }
        }
        let slots = if wanted.is_empty() {
            slots
        } else {
            self.market.round_slots(project, round).await?
        };
        let fetch_s = t_fetch.elapsed().as_secs_f64();

        // The statement as the contract will rebuild it.
        let prev_model = crate::project::fetch_model(
            self.ipfs,
            &view.model_cid,
            &view.model_commitment,
            &ctx.scheme,
            ctx.params.dim,
            self.config.fetch.max_bytes,
        )
        .await?;
        let key = StatementKey::from_chain(round, &view.model_commitment, &slots, ctx.params.slots);
        let prepared = match decide(
            view.round,
            view.phase,
            round,
            state.rounds.get(&round),
            &key,
        ) {
            Decision::AlreadyFinalized => return Ok(Prepare::AlreadyFinalized),
            Decision::Wait => return Ok(Prepare::NotReady),
            Decision::Resume(p) => {
                tracing::info!(project, round, report = %p.report_cid, "resuming with the stored proof");
                (*p, None)
            }
            Decision::Prove => {
                let (p, report) = self
                    .prove(ctx, &view, &slots, checked, &prev_model, fetch_s)
                    .await?;
                state.round_mut(round).prepared = Some(p.clone());
                file.save(&state)?;
                (p, Some(report))
            }
        };
        let (prepared, report) = prepared;
        let finalization = prepared
            .finalization
            .to_finalization(round)
            .ok_or_else(|| AggregatorError::BadFile {
                what: file.path().display().to_string(),
                problem: "the stored finalisation does not decode".into(),
            })?;
        Ok(Prepare::Ready(Box::new(PreparedRound {
            round,
            finalization,
            report_cid: prepared.report_cid,
            resumed: report.is_none(),
            report,
        })))
    }

    /// Sends a prepared round's `finalize_round`, after reading the round again (never
    /// twice), and records it in the state file.
    pub async fn finalize_prepared(&self, p: PreparedRound) -> Result<RoundStep> {
        let project = self.config.project;
        let round = p.round;
        let now = self.market.project(project).await?;
        if now.round != round {
            return Ok(RoundStep::AlreadyFinalized);
        }
        tracing::info!(project, round, report = %p.report_cid, "finalising");
        let sent = match &p.finalization.chunked {
            None => {
                self.market
                    .finalize_round_weighed(self.signer, project, &p.finalization)
                    .await
            }
            Some(c) => {
                tracing::info!(
                    project,
                    round,
                    chunks = c.chunk_proofs.len(),
                    "sending the chunked round"
                );
                self.market
                    .finalize_chunked(self.signer, project, &p.finalization, CHUNK_PROOFS_PER_CALL)
                    .await
                    .map(|(events, w)| {
                        tracing::info!(
                            project,
                            round,
                            calls = w.verify.len() + 2,
                            heaviest_ref_time = w.heaviest().ref_time,
                            "chunked round verified on chain"
                        );
                        (events, w.heaviest())
                    })
            }
        };
        let (events, weight) = match sent {
            Ok(done) => done,
            Err(e) => {
                let e = AggregatorError::from(e);
                if e.market_error() == Some(MarketError::AnswerWindowOpen) {
                    // A set-aside can still be answered: keep the proof (it stays valid if
                    // nobody answers) and look again at the next poll.
                    tracing::info!(
                        project,
                        round,
                        "a set-aside can still be answered; waiting before finalising"
                    );
                    return Ok(RoundStep::NotReady);
                }
                let moved = self.market.project(project).await.map(|v| v.round != round);
                if matches!(moved, Ok(true)) {
                    return Ok(RoundStep::AlreadyFinalized);
                }
                if self.statement_moved(round).await? {
                    // A set-aside was answered after the proof was made: the slot is back,
                    // so the next poll proves the round's new statement.
                    tracing::info!(
                        project,
                        round,
                        "the round's statement changed since the proof; proving again"
                    );
                    return Ok(RoundStep::NotReady);
                }
                return Err(e);
            }
        };
        let file = self.state_file();
        let mut state = file.load(project)?;
        let r = state.round_mut(round);
        r.finalized = true;
        r.weight = Some((weight.ref_time, weight.proof_size));
        file.save(&state)?;
        tracing::info!(project, round, report = %p.report_cid, "round finalised");
        Ok(RoundStep::Finalized(Box::new(RoundDone {
            round,
            finalization: p.finalization,
            report_cid: p.report_cid,
            resumed: p.resumed,
            report: p.report,
            events,
        })))
    }

    /// Runs the rule on the present slots, proves, publishes the new model and the report.
    async fn prove(
        &self,
        ctx: &ProjectContext,
        view: &ProjectView,
        slots: &[SlotView],
        checked: Checked,
        prev_model: &ModelFile,
        fetch_s: f64,
    ) -> Result<(Prepared, RoundReport)> {
        let (project, round) = (view.id, view.round);
        let n = ctx.params.slots;
        let facts = with_set_asides(checked.facts, slots);
        let t_rule = Instant::now();
        let witness = round_witness(
            ctx.params,
            project,
            round,
            slots,
            checked.values,
            prev_model.values.clone(),
        )?;
        let outcome = witness.outcome.clone();
        let rule_s = t_rule.elapsed().as_secs_f64();
        tracing::info!(
            project,
            round,
            accepted = outcome.decision.accepted_count,
            "rule done; proving"
        );

        let t_prove = Instant::now();
        let proven = prove_statement(&ctx.keys, witness, project, round).await?;
        let prove_s = t_prove.elapsed().as_secs_f64();
        tracing::info!(project, round, seconds = prove_s, "proved");
        let (claims, public, proof_bytes) = (proven.claims, proven.public, proven.proof);

        let (new_model, model_cid) = self.publish_model(prev_model, &outcome).await?;
        let (validation, evaluate_s) = self.evaluate(&new_model)?;
        let report = RoundReport {
            version: REPORT_VERSION,
            project,
            round,
            rule: ctx.params.into(),
            prev_model: ModelRef::new(
                String::from_utf8_lossy(&view.model_cid),
                &view.model_commitment,
            ),
            slots: slot_reports(&facts, &outcome),
            median_norm_sq: outcome.decision.median_norm,
            byzantine_left: outcome.decision.byzantine_left,
            krum_ran: outcome.decision.krum_ran,
            accepted_count: outcome.decision.accepted_count,
            new_model: ModelRef::new(model_cid.clone(), &claims.new_model),
            validation,
            public_input: hex::encode(Commitment::from_field(&public).0),
            proof: hex::encode(&proof_bytes),
            timings: Timings {
                fetch_s,
                rule_s,
                prove_s,
                evaluate_s,
            },
        };
        let report_cid = self.publish_report(&report).await?;
        tracing::info!(project, round, report = %report_cid, model = %model_cid, "round report published");
        let finalization = Finalization {
            round,
            model_cid: model_cid.into_bytes(),
            model_commitment: claims.new_model,
            scores: claims.scores,
            accepted: claims.accepted,
            proof: proof_bytes,
            chunked: proven.chunked,
        };
        let prepared = Prepared {
            statement: StatementKey::from_chain(round, &view.model_commitment, slots, n),
            finalization: StoredFinalization::from_finalization(&finalization),
            report_cid,
        };
        Ok((prepared, report))
    }

    /// The new global model (the previous one's tensors, the rule's values) into IPFS.
    async fn publish_model(
        &self,
        prev_model: &ModelFile,
        outcome: &RoundOutcome,
    ) -> Result<(ModelFile, String)> {
        let new_model = ModelFile {
            kind: Kind::Model,
            scale_bits: prev_model.scale_bits,
            tensors: prev_model.tensors.clone(),
            floats: fixed::dequantise_all(&outcome.new_model, prev_model.scale_bits).ok(),
            values: outcome.new_model.clone(),
        };
        let cid = self
            .ipfs
            .add(new_model.encode())
            .await
            .map_err(AggregatorError::storage("publishing the new model"))?
            .to_string();
        Ok((new_model, cid))
    }

    /// The new model on the owner's validation set, when one was given, and how long
    /// that took.
    fn evaluate(&self, model: &ModelFile) -> Result<(Option<Validation>, Option<f64>)> {
        let Some(ev) = self.evaluator else {
            return Ok((None, None));
        };
        let t = Instant::now();
        let v = ev.evaluate(model).map_err(AggregatorError::Evaluator)?;
        Ok((Some(v), Some(t.elapsed().as_secs_f64())))
    }

    /// The round report into IPFS; returns its CID.
    async fn publish_report(&self, report: &RoundReport) -> Result<String> {
        Ok(self
            .ipfs
            .add(report.to_json().map_err(AggregatorError::Report)?)
            .await
            .map_err(AggregatorError::storage("publishing the round report"))?
            .to_string())
    }
}

/// The checks' facts with every slot the chain has set aside marked so (a set-aside
/// another party made, or one this aggregator made on an earlier pass).
fn with_set_asides(mut facts: Vec<SlotFacts>, slots: &[SlotView]) -> Vec<SlotFacts> {
    for s in slots.iter().filter(|s| s.set_aside) {
        if let Some(f) = facts.get_mut(s.slot as usize) {
            if !matches!(f.check, SlotCheck::SetAside { .. }) {
                f.check = SlotCheck::SetAside { reason: None };
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::proving_key_matches;
    use crate::verify::chain_public_input;
    use merit_protocol::commit::Committer;
    use merit_protocol::rule::RuleParams;
    use merit_protocol::verifier;
    use merit_prover::round::setup_round;
    use merit_prover::SetupMode;

    /// The aggregator's witness, proven, gives exactly the statement the contract rebuilds
    /// from its storage, and the proof verifies under the contract's verifier — with a
    /// set-aside slot and an unfilled one in the round.
    #[test]
    fn the_proven_statement_is_the_one_the_chain_rebuilds() {
        let params = RuleParams::new(5, 2, 0, 10_000);
        let (pk, vk) = setup_round(params, SetupMode::InsecureDeterministicForTests(5)).unwrap();
        let c = Committer::new();
        let ups: [[i16; 2]; 4] = [[3, 1], [2, 2], [4, 0], [-9, 9]];
        let slots: Vec<SlotView> = (0..4u32)
            .map(|i| {
                let account = [i as u8 + 1; 32];
                SlotView {
                    slot: i,
                    trainer: i,
                    account,
                    commitment: Some(c.commit_update(&account, &ups[i as usize])),
                    cid: Some(b"bafy".to_vec()),
                    // Slot 3's reveal did not open; slot 4 is unfilled.
                    set_aside: i == 3,
                    answer_until: 0,
                    answered: false,
                }
            })
            .collect();
        let values = vec![
            Some(ups[0].to_vec()),
            Some(ups[1].to_vec()),
            Some(ups[2].to_vec()),
            None,
        ];
        let prev = vec![10i16, -10];
        let w = round_witness(params, 7, 2, &slots, values.clone(), prev.clone()).unwrap();
        assert_eq!(w.present, vec![true, true, true, false, false]);
        let (proof, claims, public) = prove_round(&pk, w).unwrap();
        assert_eq!(claims.accepted, vec![true, true, true, false, false]);
        let rebuilt = chain_public_input(
            7,
            2,
            c.commit_model(&prev),
            &slots,
            5,
            &claims.scores,
            &claims.accepted,
            claims.new_model,
        )
        .unwrap();
        assert_eq!(rebuilt, public);

        let mut vk_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut vk_bytes).unwrap();
        let on_chain = verifier::prepare(&vk_bytes).unwrap();
        assert!(proving_key_matches(&pk, &on_chain).unwrap());
        let mut proof_bytes = Vec::new();
        ark_serialize::CanonicalSerialize::serialize_compressed(&proof, &mut proof_bytes).unwrap();
        assert_eq!(
            verifier::verify(&on_chain, &proof_bytes, &rebuilt),
            Ok(true)
        );
        // Another round number is another statement.
        let other = chain_public_input(
            7,
            3,
            c.commit_model(&prev),
            &slots,
            5,
            &claims.scores,
            &claims.accepted,
            claims.new_model,
        )
        .unwrap();
        assert_eq!(verifier::verify(&on_chain, &proof_bytes, &other), Ok(false));

        // A key from another setup is refused.
        let (pk2, _) = setup_round(params, SetupMode::InsecureDeterministicForTests(6)).unwrap();
        assert!(!proving_key_matches(&pk2, &on_chain).unwrap());

        // A slot the chain counts as present must have opened.
        let mut unopened = values;
        unopened[1] = None;
        assert!(matches!(
            round_witness(params, 7, 2, &slots, unopened, prev),
            Err(AggregatorError::Unopened { slot: 1 })
        ));
    }
}
