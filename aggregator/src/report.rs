//! The round report: everything the aggregator computed for a round, as JSON, published
//! to IPFS (schema: `aggregator/README.md`, "RoundReport v2").

use crate::check::SetAsideReason;
use merit_protocol::abi::AccountBytes;
use merit_protocol::commit::Commitment;
use merit_protocol::format::ModelFile;
use merit_protocol::rule::{RoundOutcome, RuleParams};
use serde::{Deserialize, Serialize};

/// 2: protocol v2's rule (angular Krum, band, duplicates, leave-one-out cosines).
pub const REPORT_VERSION: u32 = 2;

/// The report of one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    /// Always [`REPORT_VERSION`].
    pub version: u32,
    pub project: u32,
    pub round: u32,
    pub rule: RuleSummary,
    pub prev_model: ModelRef,
    /// One per slot (N = slots), in slot order.
    pub slots: Vec<SlotReport>,
    /// `m`: the lower median of the in-bound `‖u‖²` (the band's centre).
    pub median_norm_sq: u64,
    /// `f'`: the Byzantine budget left after the duplicates.
    pub byzantine_left: usize,
    /// Whether Multi-Krum ran (at least `f' + 3` candidates).
    pub krum_ran: bool,
    pub accepted_count: usize,
    pub new_model: ModelRef,
    /// Filled when the aggregator was given an [`Evaluator`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// The round hash (the proof's only public input), 32 bytes little-endian, hex.
    pub public_input: String,
    /// arkworks-compressed Groth16 proof (what `finalize_round` takes), hex.
    pub proof: String,
    pub timings: Timings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    /// ρ² per mille.
    pub band_sq_milli: u32,
    /// τ per mille (1001: no duplicate filter).
    pub duplicate_milli: u32,
}

impl From<RuleParams> for RuleSummary {
    fn from(p: RuleParams) -> Self {
        Self {
            slots: p.slots,
            dim: p.dim,
            byzantine: p.byzantine,
            norm_bound_sq: p.norm_bound_sq,
            band_sq_milli: p.band_sq_milli,
            duplicate_milli: p.duplicate_milli,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    pub cid: String,
    /// 32 bytes, hex.
    pub commitment: String,
}

impl ModelRef {
    pub fn new(cid: impl Into<String>, commitment: &Commitment) -> Self {
        Self {
            cid: cid.into(),
            commitment: hex::encode(commitment.0),
        }
    }
}

/// What the aggregator found when it checked a slot's reveal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SlotCheck {
    /// No trainer holds this slot.
    Unfilled,
    /// The trainer did not reveal this round (or did not commit).
    NotRevealed,
    /// The update was fetched and opens its commitment.
    Ok,
    /// The reveal was set aside (now, or before a restart: then the reason may be lost).
    SetAside {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<SetAsideReason>,
    },
}

impl SlotCheck {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotReport {
    pub slot: u32,
    /// 32 bytes, hex (zeros for an unfilled slot).
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
    pub check: SlotCheck,
    /// `‖u‖²` in fixed-point units squared (0 unless present).
    pub norm_sq: u64,
    /// Present, non-zero and within the ceiling `B²`.
    pub in_bound: bool,
    /// In bound and within the length band around the median.
    pub eligible: bool,
    /// Eligible with an eligible near-copy (dropped).
    pub duplicate: bool,
    /// Multi-Krum score: a sum of angular distances (0 where Krum did not score the slot).
    pub krum_score: u64,
    /// Per-mille cosine `c_ik` to every slot `k` (0 against an absent or zero slot).
    pub cosines: Vec<i32>,
    /// `cos(u_i, S − u_i)` against the other accepted updates, as a float for reading
    /// (the score is the exact integer); absent unless accepted and defined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosine: Option<f64>,
    pub accepted: bool,
    /// Per-mille contribution score, as submitted on chain.
    pub score: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub accuracy: f64,
    pub loss: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    pub fetch_s: f64,
    pub rule_s: f64,
    pub prove_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_s: Option<f64>,
}

/// Evaluates a model on held-out data. The CLI fills it with the trainer-side evaluation;
/// this crate only calls it.
pub trait Evaluator: Send + Sync {
    fn evaluate(
        &self,
        model: &ModelFile,
    ) -> Result<Validation, Box<dyn std::error::Error + Send + Sync>>;
}

/// What a slot looked like on chain and to the checks, for [`slot_reports`].
#[derive(Debug, Clone)]
pub struct SlotFacts {
    pub account: AccountBytes,
    pub cid: Option<Vec<u8>>,
    pub commitment: Option<Commitment>,
    pub check: SlotCheck,
}

/// Per-slot report lines from the chain facts and the rule's outcome.
pub fn slot_reports(facts: &[SlotFacts], o: &RoundOutcome) -> Vec<SlotReport> {
    facts
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let denom =
                (o.decision.norms[i] as f64).sqrt() * (o.decision.others_norms[i] as f64).sqrt();
            SlotReport {
                slot: i as u32,
                account: hex::encode(f.account),
                cid: f
                    .cid
                    .as_ref()
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
                commitment: f.commitment.map(|c| hex::encode(c.0)),
                check: f.check.clone(),
                norm_sq: o.decision.norms[i],
                in_bound: o.decision.in_bound[i],
                eligible: o.decision.eligible[i],
                duplicate: o.decision.duplicate[i],
                krum_score: o.decision.krum[i],
                cosines: o.decision.cosines[i].clone(),
                cosine: (o.decision.accepted[i] && denom > 0.0)
                    .then(|| o.decision.others_dots[i] as f64 / denom),
                accepted: o.decision.accepted[i],
                score: o.decision.scores[i],
            }
        })
        .collect()
}

impl RoundReport {
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(self)
    }

    /// Parses a report, refusing other versions.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let r: Self = serde_json::from_slice(bytes)?;
        if r.version != REPORT_VERSION {
            return Err(serde::de::Error::custom(format!(
                "round report version {} (this build reads {REPORT_VERSION})",
                r.version
            )));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_protocol::rule;

    #[test]
    fn a_report_round_trips_and_names_its_fields() {
        let p = RuleParams {
            duplicate_milli: 950,
            ..RuleParams::new(3, 2, 0, 100)
        };
        let u = [1i16, 2];
        let o = rule::run(&p, &[0, 0], &[Some(&u), None, Some(&u)]).unwrap();
        let facts = vec![
            SlotFacts {
                account: [1; 32],
                cid: Some(b"bafy1".to_vec()),
                commitment: Some(Commitment([3; 32])),
                check: SlotCheck::Ok,
            },
            SlotFacts {
                account: [2; 32],
                cid: Some(b"bafy2".to_vec()),
                commitment: Some(Commitment([4; 32])),
                check: SlotCheck::SetAside {
                    reason: Some(SetAsideReason::WrongCommitment),
                },
            },
            SlotFacts {
                account: [5; 32],
                cid: Some(b"bafy3".to_vec()),
                commitment: Some(Commitment([6; 32])),
                check: SlotCheck::SetAside {
                    reason: Some(SetAsideReason::WrongLength {
                        expected: 2,
                        got: 3,
                    }),
                },
            },
        ];
        let r = RoundReport {
            version: REPORT_VERSION,
            project: 1,
            round: 2,
            rule: p.into(),
            prev_model: ModelRef::new("bafyprev", &Commitment([7; 32])),
            slots: slot_reports(&facts, &o),
            median_norm_sq: o.decision.median_norm,
            byzantine_left: o.decision.byzantine_left,
            krum_ran: o.decision.krum_ran,
            accepted_count: o.decision.accepted_count,
            new_model: ModelRef::new("bafynew", &Commitment([8; 32])),
            validation: Some(Validation {
                accuracy: 0.875,
                loss: 0.25,
            }),
            public_input: hex::encode([9u8; 32]),
            proof: hex::encode([1u8; 128]),
            timings: Timings::default(),
        };
        let bytes = r.to_json().unwrap();
        assert_eq!(RoundReport::from_json(&bytes).unwrap(), r);
        let j: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(j["version"], 2);
        assert_eq!(j["slots"][1]["check"]["status"], "set_aside");
        assert_eq!(j["slots"][1]["check"]["reason"]["kind"], "wrong_commitment");
        assert_eq!(j["slots"][0]["norm_sq"], 5);
        assert_eq!(j["slots"][0]["cosines"][0], 1000);
        assert_eq!(j["slots"][0]["cosines"][1], 0);
        // Slots 0 and 2 are identical: both duplicates, and nothing is left for Krum.
        assert_eq!(j["slots"][2]["cosines"][0], 1000);
        assert_eq!(j["slots"][0]["duplicate"], true);
        assert_eq!(j["median_norm_sq"], 5);
        assert_eq!(j["krum_ran"], false);
        assert_eq!(j["slots"][0]["accepted"], false);
        assert_eq!(j["slots"][0]["score"], 0);
        assert_eq!(j["validation"]["accuracy"], 0.875);
        assert_eq!(j["slots"][2]["check"]["reason"]["got"], 3);
        let mut wrong = j.clone();
        wrong["version"] = 1.into();
        assert!(RoundReport::from_json(&serde_json::to_vec(&wrong).unwrap()).is_err());
    }
}
