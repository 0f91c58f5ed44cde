//! The aggregator node: bond, watch the project, aggregate each round, until it ends.

use crate::error::{AggregatorError, Result};
use crate::project::ProjectContext;
use crate::round::{Aggregator, RoundDone, RoundStep};
use merit_chain::client::account_of;
use merit_protocol::abi::Phase;
use std::time::Duration;

/// What a node run ended with.
#[derive(Debug, Clone)]
pub struct NodeSummary {
    pub project: u32,
    /// The project's final phase (Finished, Aborted or Cancelled).
    pub phase: Phase,
    /// The rounds this run finalised.
    pub rounds: Vec<RoundDone>,
}

/// The wait after `failures` transient failures in a row: `base · 2^(failures−1)`, at
/// most `16 · base`.
pub fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.saturating_sub(1).min(4))
}

/// Runs the aggregator for one project until the project ends: bonds if the bond is not
/// posted, polls the phase, and in Aggregate does the round (`Aggregator::aggregate_round`).
/// A node or IPFS daemon that does not answer is retried with backoff
/// (`config.max_retries` in a row); anything else (a wrong key, a contract refusal such as
/// `DeadlinePassed`) ends the run with its error. Restarting it resumes from the state file.
pub async fn run_aggregator(agg: &Aggregator<'_>) -> Result<NodeSummary> {
    let project = agg.config.project;
    let me = account_of(agg.signer).0;
    let mut ctx: Option<ProjectContext> = None;
    let mut rounds = Vec::new();
    let mut failures = 0u32;
    let mut last_phase = None;
    loop {
        let step: Result<Option<Phase>> = async {
            let view = agg.market.project(project).await?;
            if view.params.aggregator != me {
                return Err(AggregatorError::NotOurProject {
                    project,
                    aggregator: hex::encode(view.params.aggregator),
                });
            }
            if last_phase != Some((view.phase, view.round)) {
                tracing::info!(project, phase = ?view.phase, round = view.round, deadline = view.phase_deadline, "project phase");
                last_phase = Some((view.phase, view.round));
            }
            if view.phase.is_terminal() {
                return Ok(Some(view.phase));
            }
            if view.phase == Phase::Open && !view.aggregator_bonded {
                tracing::info!(project, bond = view.params.aggregator_bond, "posting the bond");
                agg.market
                    .bond(agg.signer, project, view.params.aggregator_bond)
                    .await?;
            }
            if view.phase == Phase::Aggregate {
                if ctx.is_none() {
                    ctx = Some(ProjectContext::load(agg.market, agg.ipfs, &view, agg.config.max_key_bytes).await?);
                }
                let c = ctx.as_ref().expect("loaded above");
                if let RoundStep::Finalized(done) = agg.aggregate_round(c).await? {
                    rounds.push(*done);
                }
            }
            Ok(None)
        }
        .await;
        match step {
            Ok(Some(phase)) => {
                return Ok(NodeSummary {
                    project,
                    phase,
                    rounds,
                })
            }
            Ok(None) => {
                failures = 0;
                tokio::time::sleep(agg.config.poll).await;
            }
            Err(e) if e.is_transient() && failures < agg.config.max_retries => {
                failures += 1;
                let wait = backoff(agg.config.backoff, failures);
                tracing::warn!(
                    project,
                    error = %e.with_causes(),
                    failures,
                    ?wait,
                    "transient failure; retrying"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Duration::from_millis(100);
        let got: Vec<u128> = (1..=7).map(|f| backoff(b, f).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1600, 1600, 1600]);
    }
}
