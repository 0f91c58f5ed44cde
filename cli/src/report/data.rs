//! What a project report shows: everything the HTML page and `report.json` hold.
//! Gathered from the chain (project, trainers, round records, the settlement) and the
//! aggregator's round reports in IPFS (validation, timings) — see `report::gather`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    pub project: u32,
    /// "embedded" or "node".
    pub chain: String,
    /// The project's phase when the report was made (Finished, Aborted, Cancelled, Commit…).
    pub phase: String,
    /// Rounds the spec asked for.
    pub rounds_planned: u32,
    pub spec_cid: String,
    pub model_cid: String,
    pub owner: String,
    pub aggregator: String,
    pub pool: u128,
    pub trainer_stake: u128,
    /// Validation before any round (round "0" on the plot's x axis), if known.
    pub initial_validation: Option<Validation>,
    /// One per finalised round, in order.
    pub rounds: Vec<RoundRow>,
    /// One per trainer, in slot order.
    pub trainers: Vec<TrainerRow>,
    pub aggregator_fee: u128,
    pub owner_refund: u128,
    /// Unix seconds when the report was made.
    pub generated_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Fraction in [0, 1].
    pub accuracy: f64,
    pub loss: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRow {
    /// 0-based round index.
    pub round: u32,
    pub finalized_at_block: u32,
    pub accepted: u32,
    pub model_cid: String,
    /// The round report's CID, where known.
    pub report_cid: Option<String>,
    /// The new model on the owner's validation set, where the report carries it.
    pub validation: Option<Validation>,
    /// Seconds the aggregator spent proving the round, where known.
    pub prove_seconds: Option<f64>,
    /// `finalize_round`'s weight as the chain measured it, where known.
    pub ref_time: Option<u64>,
    pub proof_size: Option<u64>,
}

/// How one trainer's slot came out in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotOutcome {
    Accepted,
    Rejected,
    SetAside,
    /// Did not commit or did not reveal.
    Missing,
    /// The round's draw did not pick the trainer (a sampled project).
    NotDrawn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundScore {
    pub round: u32,
    /// Per-mille contribution score as recorded on chain.
    pub score: u32,
    pub outcome: SlotOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerRow {
    pub slot: u32,
    /// SS58 address.
    pub account: String,
    /// A label the owner supplied (e.g. "honest", "label-flip (simulated)"); None if unknown.
    pub label: Option<String>,
    /// Marked as a simulated attacker (coloured differently on the plots).
    pub attacker: bool,
    pub scores: Vec<RoundScore>,
    pub total_score: u32,
    pub rejected_rounds: u32,
    pub missed_reveal: bool,
    /// Reward paid (or owed) at settlement, stake excluded.
    pub reward: u128,
    pub stake: u128,
    pub stake_returned: bool,
}
