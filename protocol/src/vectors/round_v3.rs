//! `round-v3.json`: `v4.json`'s round end to end as a v3 project proves it (SPEC.md §4–6).

use super::hex32;
use super::v4::sample_round;
use crate::commit::{Commitment, Committer, RoundInputs};
use crate::poseidon;
use serde::{Deserialize, Serialize};

/// The end-to-end v3 round (`test-vectors/round-v3.json`, SPEC.md §4–6).
pub const ROUND_V3_JSON: &str = include_str!("../../test-vectors/round-v3.json");

/// `round-v3.json`: rounds from the updates to the public input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV3Vectors {
    pub format: String,
    pub rounds: Vec<RoundV3Vector>,
}

/// One v3 round: the rule's parameters, the previous model, the accounts and updates (`null`:
/// not present); what §6 gives; the commitments of §4; the public input of §5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV3Vector {
    pub name: String,
    pub project: u32,
    pub round: u32,
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    pub trainers: Vec<String>,
    pub prev: Vec<i16>,
    pub updates: Vec<Option<Vec<i16>>>,
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
    pub new_model: Vec<i16>,
    pub prev_model_commitment: String,
    /// §5's `C_i`: the update's commitment, the zero commitment when not present.
    pub update_commitments: Vec<String>,
    pub new_model_commitment: String,
    pub public_input: String,
}

/// The rounds of `round-v3.json`: `v4.json`'s round, as a v3 project proves it.
pub fn round_v3_vectors() -> RoundV3Vectors {
    let (params, prev, updates, trainers) = sample_round();
    let (project, round) = (11, 4);
    let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
    let o = crate::rule::run(&params, &prev, &refs).expect("a valid round");
    let c = Committer::new();
    let commitments: Vec<Commitment> = updates
        .iter()
        .zip(&trainers)
        .map(|(u, a)| {
            u.as_ref()
                .map_or(Commitment::default(), |u| c.commit_update(a, u))
        })
        .collect();
    let r = RoundInputs {
        project,
        round,
        prev_model: c.commit_model(&prev),
        trainers: &trainers,
        updates: &commitments,
        scores: &o.decision.scores,
        accepted: &o.decision.accepted,
        new_model: c.commit_model(&o.new_model),
    };
    let public_input = c.round_public_input(&r).expect("consistent round");
    RoundV3Vectors {
        format: "merit round vectors v3".into(),
        rounds: alloc::vec![RoundV3Vector {
            name: "D 40, five slots: three honest, one not present, one sign flip".into(),
            project,
            round,
            slots: params.slots,
            dim: params.dim,
            byzantine: params.byzantine,
            norm_bound_sq: params.norm_bound_sq,
            band_sq_milli: params.band_sq_milli,
            duplicate_milli: params.duplicate_milli,
            trainers: trainers.iter().map(hex32).collect(),
            prev: prev.clone(),
            updates: updates.clone(),
            accepted: o.decision.accepted.clone(),
            scores: o.decision.scores.clone(),
            new_model: o.new_model.clone(),
            prev_model_commitment: hex32(&r.prev_model.0),
            update_commitments: commitments.iter().map(|c| hex32(&c.0)).collect(),
            new_model_commitment: hex32(&r.new_model.0),
            public_input: hex32(&poseidon::to_bytes(&public_input)),
        }],
    }
}
