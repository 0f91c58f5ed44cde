//! `round-v5.json`: `rule-v5.json`'s cases as a v5 project proves them (SPEC.md §6a, "The
//! v5 round statement"): per round, the commitments, the reference bits, the Gram hashes,
//! last round's part of the statement and the public input.

use super::hex32;
use super::rule_v5::{rule_v5_vectors, RuleV5Case};
use crate::abi::AccountBytes;
use crate::commit::v5::{gram_hash, round_v5_public_input, PreviousInputs, RoundInputsV5};
use crate::commit::{Commitment, Committer, RoundInputs};
use crate::poseidon;
use crate::rule::v5::{self, V5Params};
use crate::rule::RuleParams;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The v5 round statements (`test-vectors/round-v5.json`, SPEC.md §6a).
pub const ROUND_V5_JSON: &str = include_str!("../../test-vectors/round-v5.json");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV5Vectors {
    pub format: String,
    pub cases: Vec<RoundV5Case>,
}

/// One `rule-v5.json` case (by name) as project `project`, slot `k` held by `trainers[k]`
/// in every round, its rounds numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV5Case {
    pub name: String,
    pub project: u32,
    pub trainers: Vec<String>,
    pub rounds: Vec<RoundV5Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV5Statement {
    pub round: u32,
    pub prev_model_commitment: String,
    pub update_commitments: Vec<String>,
    pub new_model_commitment: String,
    /// Present and not stale.
    pub reference: Vec<bool>,
    /// `gram_hash` of this round's Gram matrix.
    pub gram_hash: String,
    pub public_input: String,
}

impl RuleV5Case {
    /// The parameters the case was run with.
    pub fn params(&self) -> V5Params {
        V5Params {
            rule: RuleParams {
                norm_bound_sq: self.norm_bound_sq,
                band_sq_milli: self.band_sq_milli,
                duplicate_milli: self.duplicate_milli,
                ..RuleParams::new(self.slots, self.dim, self.byzantine, self.norm_bound_sq)
            },
            stale_milli: self.stale_milli,
            public_milli: self.public_milli,
            floor_quantile_milli: self.floor_quantile_milli,
            copy_lo_milli: self.copy_lo_milli,
            copy_hi_milli: self.copy_hi_milli,
            self_lo_milli: self.self_lo_milli,
            self_hi_milli: self.self_hi_milli,
        }
    }
}

/// The accounts of `round-v5.json`: slot `k` is `[k + 1; 32]`.
pub fn round_v5_trainers(slots: usize) -> Vec<AccountBytes> {
    (0..slots).map(|k| [k as u8 + 1; 32]).collect()
}

/// The project number of `round-v5.json`'s cases.
pub const ROUND_V5_PROJECT: u32 = 5;

/// What a round publishes that the next one reads: commitments, reference and accept bits,
/// the Gram hash.
type Published = (Vec<Commitment>, Vec<bool>, Vec<bool>, Commitment);

fn statements(c: &RuleV5Case) -> Vec<RoundV5Statement> {
    let committer = Committer::new();
    let trainers = round_v5_trainers(c.slots);
    let mut history = v5::Rounds::new(c.params());
    let mut model = c.prev.clone();
    let mut last: Option<Published> = None;
    let mut out = Vec::new();
    for (t, r) in c.rounds.iter().enumerate() {
        let o = history.step(&model, &r.updates).expect("a vector round");
        let commitments: Vec<Commitment> = r
            .updates
            .iter()
            .zip(&trainers)
            .map(|(u, a)| {
                u.as_ref()
                    .map_or_else(Commitment::default, |u| committer.commit_update(a, u))
            })
            .collect();
        let gram = gram_hash(&o.previous.gram);
        let round = t as u32 + 1;
        let inputs = RoundInputsV5 {
            round: RoundInputs {
                project: ROUND_V5_PROJECT,
                round,
                prev_model: committer.commit_model(&model),
                trainers: &trainers,
                updates: &commitments,
                scores: &o.decision.scores,
                accepted: &o.decision.accepted,
                new_model: committer.commit_model(&o.new_model),
            },
            reference: &o.previous.reference,
            gram_hash: gram,
            previous: last.as_ref().map(|(u, rf, acc, g)| PreviousInputs {
                trainers: &trainers,
                updates: u,
                reference: rf,
                accepted: acc,
                gram_hash: *g,
            }),
        };
        let public = round_v5_public_input(&inputs).expect("consistent lists");
        out.push(RoundV5Statement {
            round,
            prev_model_commitment: hex32(&inputs.round.prev_model.0),
            update_commitments: commitments.iter().map(|c| hex32(&c.0)).collect(),
            new_model_commitment: hex32(&inputs.round.new_model.0),
            reference: o.previous.reference.clone(),
            gram_hash: hex32(&gram.0),
            public_input: hex32(&poseidon::to_bytes(&public)),
        });
        last = Some((
            commitments,
            o.previous.reference.clone(),
            o.decision.accepted.clone(),
            gram,
        ));
        model = o.new_model;
    }
    out
}

/// The statements of `round-v5.json`, one case per `rule-v5.json` case.
pub fn round_v5_vectors() -> RoundV5Vectors {
    RoundV5Vectors {
        format: "merit round vectors v5".into(),
        cases: rule_v5_vectors()
            .cases
            .iter()
            .map(|c| RoundV5Case {
                name: c.name.clone(),
                project: ROUND_V5_PROJECT,
                trainers: round_v5_trainers(c.slots).iter().map(hex32).collect(),
                rounds: statements(c),
            })
            .collect(),
    }
}
