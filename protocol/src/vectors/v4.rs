//! `v4.json`: chunked rounds (protocol v4, SPEC.md §9), and the sample round it shares
//! with `round-v3.json`.

use super::hex32;
use crate::commit::Commitment;
use crate::poseidon;
use serde::{Deserialize, Serialize};

/// The protocol-v4 vectors (`test-vectors/v4.json`, protocol/SPEC.md §9).
pub const V4_JSON: &str = include_str!("../../test-vectors/v4.json");

/// `v4.json`: chunked rounds (SPEC.md §9, schema in §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4Vectors {
    pub format: String,
    pub chunked_rounds: Vec<ChunkedRoundVector>,
}

/// One chunked round: its inputs (the parameters, the previous model and the updates),
/// what the rule of §6 gives, and every value of §9 a verifier recomputes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkedRoundVector {
    pub name: String,
    pub project: u32,
    pub round: u32,
    /// `N`, `D`, `C`, `K = ⌈D/C⌉`, `f`.
    pub slots: usize,
    pub dim: usize,
    pub chunk: usize,
    pub chunk_count: usize,
    pub byzantine: usize,
    /// `B²`, `ρ²` and `τ` of §6 (integers; `P_dec` hashes `min(B², D·2^30)`, `ρ²`, `τ`).
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    /// One account per slot (32-byte hex).
    pub trainers: Vec<String>,
    /// `g`: D values.
    pub prev: Vec<i16>,
    /// Per slot: D values, or `null` for a slot that is not present.
    pub updates: Vec<Option<Vec<i16>>>,
    /// What §6 gives for these inputs.
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
    pub new_model: Vec<i16>,
    /// `c_k(g)`, `c_k(g')`, `c_k(u_i)` (an empty list for a slot that is not present).
    pub prev_chunk_commitments: Vec<String>,
    pub new_chunk_commitments: Vec<String>,
    pub update_chunk_commitments: Vec<Vec<String>>,
    /// `commit_model_v4(g)`, `commit_model_v4(g')`, and `commit_update_v4(account_i, u_i)`
    /// per slot (`null` for a slot that is not present).
    pub prev_model_commitment: String,
    pub new_model_commitment: String,
    pub update_commitments: Vec<Option<String>>,
    /// `G_k` per chunk (`N(N+1)/2` signed integers, `i ≤ j` row by row), and `G = Σ_k G_k`.
    pub grams: Vec<Vec<i64>>,
    pub gram_totals: Vec<i64>,
    /// `P_0 … P_{K−1}` and `P_dec`.
    pub chunk_inputs: Vec<String>,
    pub decision_input: String,
}

/// A chunked round through the rule and the verifier's path (`chunked::public_inputs`, the
/// contract's checks), every value written out.
pub fn chunked_round_vector(
    name: &str,
    (project, round): (u32, u32),
    params: crate::rule::RuleParams,
    chunk: usize,
    trainers: &[[u8; 32]],
    prev: Vec<i16>,
    updates: Vec<Option<Vec<i16>>>,
) -> ChunkedRoundVector {
    use crate::chunked::{self, Chunking, Stored, Submission};
    let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
    let o = crate::rule::run(&params, &prev, &refs).expect("a valid round");
    let shape = Chunking::new(params.dim, chunk).expect("a chunked shape");
    let wide = poseidon::wide::config();
    let fe = |x: &crate::Fr| hex32(&poseidon::to_bytes(x));
    let chunks_of = |v: &[i16]| shape.commit_chunks(&wide, v).expect("D values");
    let as_commitments =
        |cs: &[crate::Fr]| -> Vec<Commitment> { cs.iter().map(Commitment::from_field).collect() };
    let prev_chunks = chunks_of(&prev);
    let new_chunks = chunks_of(&o.new_model);
    let update_chunks: Vec<Vec<crate::Fr>> = updates
        .iter()
        .map(|u| u.as_deref().map(chunks_of).unwrap_or_default())
        .collect();
    let update_commitments: Vec<Option<Commitment>> = updates
        .iter()
        .zip(&update_chunks)
        .zip(trainers)
        .map(|((u, cs), a)| {
            u.as_ref()
                .map(|_| chunked::commit_update(a, params.dim, cs))
        })
        .collect();
    let zero = alloc::vec![0i16; params.dim];
    let grams: Vec<Vec<i64>> = (0..shape.count())
        .map(|k| {
            let slices: Vec<Vec<i16>> = updates
                .iter()
                .map(|u| shape.slice(u.as_deref().unwrap_or(&zero), k))
                .collect();
            chunked::partial_gram(&slices.iter().map(Vec::as_slice).collect::<Vec<_>>())
        })
        .collect();
    let gram_totals =
        chunked::sum_grams(params.slots, chunk, &grams).expect("partial sums in range");
    let sub = Submission {
        updates: update_chunks.iter().map(|cs| as_commitments(cs)).collect(),
        prev_model: as_commitments(&prev_chunks),
        new_model: as_commitments(&new_chunks),
        grams: grams.clone(),
        accepted: o.decision.accepted.clone(),
        scores: o.decision.scores.clone(),
    };
    let prev_model = chunked::commit_model(params.dim, &prev_chunks);
    let inputs = chunked::public_inputs(
        &Stored {
            project,
            round,
            params,
            chunk,
            trainers,
            updates: &update_commitments,
            model: prev_model,
        },
        &sub,
    )
    .expect("an honest submission");
    let from_updates = chunked::decision_input_of_updates(
        project,
        round,
        params,
        &updates,
        &o.decision.accepted,
        &o.decision.scores,
    );
    assert_eq!(from_updates, Ok(inputs.decision), "merit verify's P_dec");
    ChunkedRoundVector {
        name: name.into(),
        project,
        round,
        slots: params.slots,
        dim: params.dim,
        chunk,
        chunk_count: shape.count(),
        byzantine: params.byzantine,
        norm_bound_sq: params.norm_bound_sq,
        band_sq_milli: params.band_sq_milli,
        duplicate_milli: params.duplicate_milli,
        trainers: trainers.iter().map(hex32).collect(),
        prev,
        updates,
        accepted: o.decision.accepted,
        scores: o.decision.scores,
        new_model: o.new_model,
        prev_chunk_commitments: prev_chunks.iter().map(fe).collect(),
        new_chunk_commitments: new_chunks.iter().map(fe).collect(),
        update_chunk_commitments: update_chunks
            .iter()
            .map(|cs| cs.iter().map(fe).collect())
            .collect(),
        prev_model_commitment: hex32(&prev_model.0),
        new_model_commitment: hex32(&inputs.new_model.0),
        update_commitments: update_commitments
            .iter()
            .map(|c| c.map(|c| hex32(&c.0)))
            .collect(),
        grams,
        gram_totals,
        chunk_inputs: inputs.chunks.iter().map(fe).collect(),
        decision_input: fe(&inputs.decision),
    }
}

/// The rounds of `v4.json`. The first: D = 40 in chunks of 16 (K = 3; the last chunk is 8
/// values and 8 of padding, its second element 1 value and 14 of padding), five slots with
/// `f = 1`: three honest updates around one direction, slot 2 committed but is not present,
/// slot 4 flips the sign (Krum drops it; its Gram entries with the others are negative).
/// The second: the same round with no norm ceiling (`B² = 2^64 − 1`, so `P_dec` hashes
/// `D·2^30`), `ρ² = 9000` and `τ = 950` (no pair is that close): the same outcome, the same
/// `P_k`, another `P_dec`.
pub fn v4_vectors() -> V4Vectors {
    use crate::rule::RuleParams;
    let chunk = 16usize;
    let (params, prev, updates, trainers) = sample_round();
    let first = chunked_round_vector(
        "D 40 in chunks of 16, five slots: three honest, one not present, one sign flip",
        (11, 4),
        params,
        chunk,
        &trainers,
        prev.clone(),
        updates.clone(),
    );
    let second = chunked_round_vector(
        "the same round with no norm ceiling (P_dec hashes D·2^30), rho 3, tau 0.95: same outcome",
        (11, 4),
        RuleParams {
            norm_bound_sq: u64::MAX,
            band_sq_milli: 9_000,
            duplicate_milli: 950,
            ..params
        },
        chunk,
        &trainers,
        prev,
        updates,
    );
    V4Vectors {
        format: "merit test vectors v4".into(),
        chunked_rounds: alloc::vec![first, second],
    }
}

/// The round of `v4.json` and `round-v3.json`: its parameters, the previous model, the
/// updates (slot 2 not present) and the accounts.
pub type SampleRound = (
    crate::rule::RuleParams,
    Vec<i16>,
    Vec<Option<Vec<i16>>>,
    Vec<[u8; 32]>,
);

pub(super) fn sample_round() -> SampleRound {
    let dim = 40usize;
    // A linear congruential generator keeps it reproducible without a crate.
    let mut state: u64 = 0x0004_c4a7;
    let mut next = move |m: i64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % (2 * m as u64 + 1)) as i64 - m
    };
    let dir: Vec<i64> = (0..dim).map(|_| next(120)).collect();
    let prev: Vec<i16> = (0..dim).map(|_| next(3000) as i16).collect();
    let mut updates: Vec<Option<Vec<i16>>> = (0..3)
        .map(|_| Some(dir.iter().map(|&d| (d + next(40)) as i16).collect()))
        .collect();
    updates.insert(2, None);
    updates.push(Some(dir.iter().map(|&d| (-d + next(10)) as i16).collect()));
    let trainers: Vec<[u8; 32]> = (0..5u8)
        .map(|i| core::array::from_fn(|j| (j as u8).wrapping_mul(17).wrapping_add(0x31 * i + 1)))
        .collect();
    // A spec's B² (norm_bound 4.5 at scale 2^8: ⌊1152²⌋); ρ = 6; no duplicate filter.
    let params = crate::rule::RuleParams::new(5, dim, 1, 1_327_104);
    (params, prev, updates, trainers)
}
