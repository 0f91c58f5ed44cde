//! The protocol v5 round circuit: the constraint twin of `merit_protocol::rule::v5::run`
//! (SPEC.md §6a), public input `merit_protocol::commit::v5::round_v5_public_input`.
//!
//! Witness: v3's (the previous model, every slot's update, presence bits, the new model),
//! last round's reveals `p_k` with their accounts and presence, last round's Gram matrix
//! `P`, and the rule's claims. The circuit
//! 1. opens `C_prev`, every `C_i = present_i·H(acct_i, u_i)` (as v3) and every
//!    `C'_k = present'_k·H(acct'_k, p_k)`; an absent slot's vector is proven zero
//!    (`‖u_i‖² = 0`) so the published Gram hash describes the round truthfully;
//! 2. computes `G` (v3's packed Gram matrix) and `X_ik = ⟨u_i, p_k⟩` (`N·⌈N/p⌉` more
//!    products per parameter), zeroes `X`'s columns of last round's absent slots, hashes
//!    `G` into `gram_hash` and opens `P` against last round's `gram_hash'`;
//! 3. from then on reads only `G`, `X` and `P`: the stale filter, v2's selection on the
//!    masked `G` (`round::select_candidates`), Krum with the distance floor, the capped
//!    mean's weights, the replication kernel, the self-consistency ramp and the scores in
//!    parts per million (`gadgets::v5`);
//! 4. proves the capped mean per coordinate: `W·(g_new − g) + r = Σ w_k·u_k`, `0 ≤ r < W`
//!    (`W = Σ w_k`, divisor 1 when nothing is accepted);
//! 5. hashes everything in `round_v5_elements` order and equates it to the public input.
//!
//! Per parameter it costs v3's `16(N+2) + 2.6(N+2) + N·⌈(⌊N/2⌋+1)/p⌉ + N + …` plus `16N`
//! range bits and `2.6N` sponge for the reveals, and `N·⌈N/p⌉` cross products; the rest is
//! per slot or per pair of slots.

use crate::cs::Cs;
use crate::gadgets::commit::commit_model_var;
use crate::gadgets::divide::floor_div;
use crate::gadgets::num::{
    boolean, enforce_eq, enforce_zero_product, is_le, is_zero, log2_ceil, mul, witness, Num,
    Result as GResult,
};
use crate::gadgets::poseidon::Plan;
use crate::gadgets::select::{k_smallest_sum, keep_lowest};
use crate::gadgets::v5 as g5;
use crate::gadgets::vector::{alloc_vector, cross_matrix, gram_matrix, pack_var, weighted_sum};
use crate::round::{
    commit_slots, constant, masked_row_sums, open_slots, select_candidates, sum_of, Candidates,
    Hints, OpenedSlots, RuleVars, Widths,
};
use crate::{Keys, ProverError, SetupMode};
use ark_bn254::{Bn254, Fr};
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use merit_protocol::abi::AccountBytes;
use merit_protocol::commit::v5::{
    gram_hash, round_v5_public_input, signed_element, PreviousInputs, RoundInputsV5, TAG_GRAM,
    TAG_ROUND_V5,
};
use merit_protocol::commit::{CommitError, Commitment, Committer, RoundInputs};
use merit_protocol::poseidon::{self, domain_tag};
use merit_protocol::rule::v5::{self, Previous, RoundOutcomeV5, V5Params};
use merit_protocol::rule::{k_smallest, RuleError, SCORE_SCALE};
use std::sync::Arc;

/// Bits of a per-mille cosine's distance from another (`[−1000, 1001]`).
const COSINE_DIFF_BITS: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoundV5Error {
    #[error("round rule: {0}")]
    Rule(RuleError),
    #[error("{got} trainer accounts for {expected} slots")]
    Trainers { expected: usize, got: usize },
    #[error("round input: {0}")]
    Commit(CommitError),
}

/// Last round as this round's statement reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRound {
    /// One per slot (the zero account for an unfilled slot).
    pub trainers: Vec<AccountBytes>,
    /// One per slot; `None` for a slot that did not reveal.
    pub reveals: Vec<Option<Vec<i16>>>,
    /// What it decided: reference and accept bits, and its Gram matrix.
    pub decided: Previous,
}

/// Everything the prover knows about a v5 round; built by running the native rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundWitnessV5 {
    pub params: V5Params,
    pub project: u32,
    pub round: u32,
    pub trainers: Vec<AccountBytes>,
    pub prev_model: Vec<i16>,
    /// One per slot; an absent slot holds zeros.
    pub updates: Vec<Vec<i16>>,
    pub present: Vec<bool>,
    pub last: Option<LastRound>,
    pub outcome: RoundOutcomeV5,
}

/// What a v5 round publishes for last round's part of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastClaims {
    pub trainers: Vec<AccountBytes>,
    pub updates: Vec<Commitment>,
    pub reference: Vec<bool>,
    pub accepted: Vec<bool>,
    pub gram_hash: Commitment,
}

/// What a v5 round publishes: what the contract hashes into the public input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundClaimsV5 {
    pub prev_model: Commitment,
    pub updates: Vec<Commitment>,
    /// In parts per million.
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    pub new_model: Commitment,
    pub reference: Vec<bool>,
    pub gram_hash: Commitment,
    pub last: Option<LastClaims>,
}

impl RoundClaimsV5 {
    pub fn inputs<'a>(
        &'a self,
        project: u32,
        round: u32,
        trainers: &'a [AccountBytes],
    ) -> RoundInputsV5<'a> {
        RoundInputsV5 {
            round: RoundInputs {
                project,
                round,
                prev_model: self.prev_model,
                trainers,
                updates: &self.updates,
                scores: &self.scores,
                accepted: &self.accepted,
                new_model: self.new_model,
            },
            reference: &self.reference,
            gram_hash: self.gram_hash,
            previous: self.last.as_ref().map(|l| PreviousInputs {
                trainers: &l.trainers,
                updates: &l.updates,
                reference: &l.reference,
                accepted: &l.accepted,
                gram_hash: l.gram_hash,
            }),
        }
    }
}

impl RoundWitnessV5 {
    /// Runs v5 on a round. `updates[i]` is `None` for an absent slot; `last` is `None` in a
    /// project's first v5 round.
    pub fn new(
        params: V5Params,
        project: u32,
        round: u32,
        trainers: Vec<AccountBytes>,
        prev_model: Vec<i16>,
        updates: Vec<Option<Vec<i16>>>,
        last: Option<LastRound>,
    ) -> Result<Self, RoundV5Error> {
        let n = params.rule.slots;
        for got in std::iter::once(trainers.len()).chain(last.as_ref().map(|l| l.trainers.len())) {
            if got != n {
                return Err(RoundV5Error::Trainers { expected: n, got });
            }
        }
        let now: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
        let then: Option<Vec<Option<&[i16]>>> = last
            .as_ref()
            .map(|l| l.reveals.iter().map(|u| u.as_deref()).collect());
        let outcome = v5::run(
            &params,
            &prev_model,
            &now,
            then.as_deref().zip(last.as_ref().map(|l| &l.decided)),
        )
        .map_err(RoundV5Error::Rule)?;
        let present = updates.iter().map(Option::is_some).collect();
        let updates = updates
            .into_iter()
            .map(|u| u.unwrap_or_else(|| vec![0; params.rule.dim]))
            .collect();
        Ok(Self {
            params,
            project,
            round,
            trainers,
            prev_model,
            updates,
            present,
            last,
            outcome,
        })
    }

    /// A witness of the right shape (every slot absent, zero model, no last round).
    pub fn blank(params: V5Params) -> Result<Self, RoundV5Error> {
        let n = params.rule.slots;
        Self::new(
            params,
            0,
            0,
            vec![[0; 32]; n],
            vec![0; params.rule.dim],
            vec![None; n],
            None,
        )
    }

    /// What the next round reads of this one.
    pub fn as_last(&self) -> LastRound {
        LastRound {
            trainers: self.trainers.clone(),
            reveals: (0..self.params.rule.slots)
                .map(|i| self.present[i].then(|| self.updates[i].clone()))
                .collect(),
            decided: self.outcome.previous.clone(),
        }
    }

    fn present_updates(&self) -> Vec<Option<&[i16]>> {
        (0..self.params.rule.slots)
            .map(|i| self.present[i].then_some(self.updates[i].as_slice()))
            .collect()
    }

    /// The commitments, scores and bits the aggregator submits.
    pub fn claims(&self, c: &Committer) -> RoundClaimsV5 {
        let d = &self.outcome.decision;
        RoundClaimsV5 {
            prev_model: c.commit_model(&self.prev_model),
            updates: commit_slots(c, &self.trainers, &self.present_updates()),
            scores: d.scores.clone(),
            accepted: d.accepted.clone(),
            new_model: c.commit_model(&self.outcome.new_model),
            reference: self.outcome.previous.reference.clone(),
            gram_hash: gram_hash(&self.outcome.previous.gram),
            last: self.last.as_ref().map(|l| {
                let reveals: Vec<Option<&[i16]>> = l.reveals.iter().map(|u| u.as_deref()).collect();
                LastClaims {
                    trainers: l.trainers.clone(),
                    updates: commit_slots(c, &l.trainers, &reveals),
                    reference: l.decided.reference.clone(),
                    accepted: l.decided.accepted.clone(),
                    gram_hash: gram_hash(&l.decided.gram),
                }
            }),
        }
    }

    /// The public input for these claims.
    pub fn public_input(&self, c: &Committer) -> Result<Fr, RoundV5Error> {
        let claims = self.claims(c);
        round_v5_public_input(&claims.inputs(self.project, self.round, &self.trainers))
            .map_err(RoundV5Error::Commit)
    }
}

/// The v5 round statement as a `ConstraintSynthesizer`.
#[derive(Debug, Clone)]
pub struct RoundCircuitV5 {
    pub witness: Arc<RoundWitnessV5>,
    pub public_input: Fr,
}

impl RoundCircuitV5 {
    pub fn new(witness: RoundWitnessV5) -> Result<Self, RoundV5Error> {
        let public_input = witness.public_input(&Committer::new())?;
        Ok(Self {
            witness: Arc::new(witness),
            public_input,
        })
    }

    pub fn blank(params: V5Params) -> Result<Self, RoundV5Error> {
        Self::new(RoundWitnessV5::blank(params)?)
    }
}

impl crate::Circuit for RoundCircuitV5 {
    fn synthesize(&self, cs: &Cs) -> Result<(), SynthesisError> {
        synthesize(cs, &self.witness, self.public_input)
    }
}

impl ConstraintSynthesizer<Fr> for RoundCircuitV5 {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        synthesize(&Cs::wrap(cs), &self.witness, self.public_input)
    }
}

/// The v5 widths beyond v3's, from the shape (each gadget's range condition).
struct WidthsV5 {
    /// `|g|` of a cosine: `|⟨u, d⟩| ≤ N·D·2^30`.
    g: usize,
    /// A cosine's comparison: `2^20·‖u‖²·‖d‖² ≤ 2^(82 + 2·ld + 2·ln)`.
    cosine: usize,
    /// `|uo| ≤ 1000·N·D·2^30`.
    uo: usize,
    /// `oo ≤ 10⁶·N²·D·2^30`.
    oo: usize,
    /// The score's sides: `10⁶·uo²·1000` and `10⁶·oo·‖u‖²·1000·N`.
    score: usize,
    /// The capped mean's divisor `Σ w ≤ 1000·N`.
    weight_sum: usize,
    /// A pair count `N(N−1)/2`.
    pairs: usize,
}

impl WidthsV5 {
    fn new(n: usize, dim: usize) -> Self {
        let ld = log2_ceil(dim as u64);
        let ln = log2_ceil(n as u64);
        Self {
            g: 32 + ld + ln,
            cosine: 84 + 2 * ld + 2 * ln,
            uo: 42 + ld + ln,
            oo: 52 + ld + 2 * ln,
            score: 115 + 2 * ld + 3 * ln,
            weight_sum: log2_ceil(1000 * n as u64),
            pairs: log2_ceil((n * n.saturating_sub(1) / 2) as u64 + 1) + 1,
        }
    }
}

fn boolean_all(cs: &Cs, bits: &[bool]) -> GResult<Vec<Num>> {
    bits.iter().map(|&b| boolean(cs, b)).collect()
}

/// `a ∨ b` for bits.
fn or(cs: &Cs, a: &Num, b: &Num) -> GResult<Num> {
    Ok(mul(cs, &a.not(), &b.not())?.not())
}

/// `gram_hash` of a symmetric matrix of field values.
fn gram_hash_var(cs: &Cs, plan: &Plan, m: &[Vec<Num>]) -> GResult<Num> {
    let n = m.len();
    let mut e = vec![Num::constant(domain_tag(TAG_GRAM)), constant(n as u64)];
    for (i, row) in m.iter().enumerate() {
        e.extend(row[i..].iter().cloned());
    }
    plan.hash(cs, &e)
}

#[allow(clippy::needless_range_loop)] // slot-by-slot matrices read clearest by index
fn synthesize(cs: &Cs, w: &RoundWitnessV5, public: Fr) -> GResult<()> {
    let p = w.params;
    let (n, dim) = (p.rule.slots, p.rule.dim);
    let wd = Widths::new(&p.rule);
    let w5 = WidthsV5::new(n, dim);
    let narrow = Plan::new(&poseidon::config());
    let wide = Plan::new(&poseidon::wide::config());
    let o = &w.outcome;
    let d = &o.decision;
    let public = cs.new_input_variable(|| Ok(public))?;
    let len = constant(dim as u64);
    let thousand = Fr::from(u64::from(SCORE_SCALE));

    // 1. This round's vectors and commitments (as v3).
    let g = alloc_vector(cs, &w.prev_model)?;
    let c_prev = commit_model_var(cs, &wide, &len, &pack_var(&g))?;
    let values: Vec<&[i16]> = w.updates.iter().map(Vec::as_slice).collect();
    let OpenedSlots {
        vectors: updates,
        accounts,
        present,
        commitments,
    } = open_slots(cs, &wide, &len, &values, &w.trainers, &w.present)?;

    // 1b. Last round's reveals, opened against its commitments.
    let blank_last = LastRound {
        trainers: vec![[0; 32]; n],
        reveals: vec![None; n],
        decided: Previous {
            reference: vec![false; n],
            accepted: vec![false; n],
            gram: vec![vec![0; n]; n],
        },
    };
    let last = w.last.as_ref().unwrap_or(&blank_last);
    let has_last = boolean(cs, w.last.is_some())?;
    let zero = vec![0i16; dim];
    let values: Vec<&[i16]> = last
        .reveals
        .iter()
        .map(|r| r.as_deref().unwrap_or(&zero))
        .collect();
    let revealed: Vec<bool> = last.reveals.iter().map(Option::is_some).collect();
    let OpenedSlots {
        vectors: reveals,
        accounts: last_accounts,
        present: last_present,
        commitments: last_commitments,
    } = open_slots(cs, &wide, &len, &values, &last.trainers, &revealed)?;
    let last_reference = boolean_all(cs, &last.decided.reference)?;
    let last_accepted = boolean_all(cs, &last.decided.accepted)?;

    // 2. G, X (columns of last round's absent slots zeroed), the Gram hashes and P.
    let gram = gram_matrix(cs, &updates)?;
    for i in 0..n {
        // An absent slot's vector is zero, so G (published through its hash) is the round's.
        enforce_zero_product(cs, &present[i].not(), &gram[i][i])?;
    }
    let raw_cross = cross_matrix(cs, &updates, &reveals)?;
    let mut x = vec![vec![constant(0); n]; n];
    for i in 0..n {
        for k in 0..n {
            x[i][k] = mul(cs, &last_present[k], &raw_cross[i][k])?;
        }
    }
    let gram_h = gram_hash_var(cs, &narrow, &gram)?;
    let mut pm = vec![vec![constant(0); n]; n];
    for i in 0..n {
        for k in i..n {
            let v = witness(cs, signed_element(last.decided.gram[i][k]))?;
            pm[i][k] = v.clone();
            pm[k][i] = v;
        }
    }
    let last_gram_h = witness(
        cs,
        if w.last.is_some() {
            gram_hash(&last.decided.gram)
                .to_field()
                .expect("a hash is a field element")
        } else {
            Fr::from(0u64)
        },
    )?;
    let p_h = gram_hash_var(cs, &narrow, &pm)?;
    enforce_zero_product(cs, &has_last, &p_h.sub(&last_gram_h))?;

    // 3. Stale: a copy of another reference's last reveal, or of d_i.
    let tau_s = constant(u64::from(p.stale_milli));
    let tau_p = constant(u64::from(p.public_milli));
    // Σ_l acc'_l·P_kl per row, and ‖Σ_{k∈A'} p_k‖².
    let (row_sums, p_sum) = masked_row_sums(cs, &last_accepted, &pm)?;
    let mut live = Vec::with_capacity(n);
    for i in 0..n {
        let mut hits = Vec::with_capacity(n);
        for k in (0..n).filter(|&k| k != i) {
            let c = g5::signed_cosine(cs, &x[i][k], &gram[i][i], &pm[k][k], w5.g, w5.cosine)?;
            let close = is_le(cs, &tau_s, &c, COSINE_DIFF_BITS)?;
            hits.push(mul(cs, &last_reference[k], &close)?);
        }
        let copies_other = is_zero(cs, &sum_of(&hits))?.not();
        let ud_all = sum_of(
            &(0..n)
                .map(|k| mul(cs, &last_accepted[k], &x[i][k]))
                .collect::<GResult<Vec<_>>>()?,
        );
        let ud = ud_all.sub(&mul(cs, &last_accepted[i], &x[i][i])?);
        let own = row_sums[i].scale(Fr::from(2u64)).sub(&pm[i][i]);
        let dd = p_sum.sub(&mul(cs, &last_accepted[i], &own)?);
        let dd_pos = is_le(cs, &constant(1), &dd, w5.cosine)?;
        let c = g5::signed_cosine(cs, &ud, &gram[i][i], &dd, w5.g, w5.cosine)?;
        let close = is_le(cs, &tau_p, &c, COSINE_DIFF_BITS)?;
        let copies_public = mul(cs, &dd_pos, &close)?;
        let stale = mul(cs, &present[i], &or(cs, &copies_other, &copies_public)?)?;
        live.push(present[i].sub(&stale));
    }

    // 4. v2's selection on the Gram matrix with the stale slots zeroed.
    let mut masked = vec![vec![constant(0); n]; n];
    for i in 0..n {
        masked[i][i] = mul(cs, &live[i], &gram[i][i])?;
        for k in i + 1..n {
            let both = mul(cs, &live[i], &live[k])?;
            let v = mul(cs, &both, &gram[i][k])?;
            masked[i][k] = v.clone();
            masked[k][i] = v;
        }
    }
    let rule = RuleVars::constants(&p.rule);
    let Candidates {
        norms,
        median,
        cosines,
        candidates,
        f_left,
        n_cand,
        enough,
    } = select_candidates(cs, &live, &masked, &rule, &Hints::of_decision(&d.base), &wd)?;

    // 5. Krum with the distance floor φ: distances max(a_ik, φ).
    let mut pair_dist = Vec::new();
    let mut pair_member = Vec::new();
    let mut dist = vec![vec![constant(0); n]; n];
    for i in 0..n {
        for k in i + 1..n {
            let a = Num::constant(thousand).sub(&cosines[i][k]);
            pair_member.push(mul(cs, &candidates[i], &candidates[k])?);
            pair_dist.push(a.clone());
            dist[i][k] = a.clone();
            dist[k][i] = a;
        }
    }
    let floor = g5::distance_floor(
        cs,
        &pair_dist,
        &pair_member,
        &enough,
        p.floor_quantile_milli,
        d.floor,
        w5.pairs,
    )?;
    for i in 0..n {
        for k in i + 1..n {
            let a = dist[i][k].clone();
            let below = is_le(cs, &a, &floor, COSINE_DIFF_BITS)?;
            let v = a.add(&mul(cs, &below, &floor.sub(&a))?);
            dist[i][k] = v.clone();
            dist[k][i] = v;
        }
    }
    let cand: Vec<usize> = (0..n).filter(|&i| d.base.candidates[i]).collect();
    let neighbours_wanted = n_cand.sub(&f_left).add_const(-Fr::from(2u64));
    let mut scored = Vec::with_capacity(n);
    let mut krum = Vec::with_capacity(n);
    for i in 0..n {
        let t = mul(cs, &candidates[i], &enough)?;
        let count = mul(cs, &t, &neighbours_wanted)?;
        let others: Vec<usize> = (0..n).filter(|&k| k != i).collect();
        // The hint: which candidates are i's floored-nearest (`v5::decide_v5`'s k_smallest).
        let (chosen, threshold) = if d.base.krum_ran && d.base.candidates[i] {
            let mates: Vec<usize> = cand.iter().copied().filter(|&k| k != i).collect();
            let ds: Vec<u64> = mates
                .iter()
                .map(|&k| d.base.angular_distance(i, k).max(d.floor))
                .collect();
            let (_, idx, thr) = k_smallest(&ds, cand.len() - d.base.byzantine_left - 2);
            let picked: Vec<usize> = idx.iter().map(|&j| mates[j]).collect();
            (others.iter().map(|k| picked.contains(k)).collect(), thr)
        } else {
            (vec![false; n - 1], 0)
        };
        let dists: Vec<Num> = others.iter().map(|&k| dist[i][k].clone()).collect();
        let members: Vec<Num> = others.iter().map(|&k| candidates[k].clone()).collect();
        krum.push(k_smallest_sum(
            cs,
            &dists,
            &members,
            &count,
            &chosen,
            Fr::from(threshold),
            COSINE_DIFF_BITS,
        )?);
        scored.push(t);
    }
    let keep = n_cand.sub(&f_left);
    let accept = keep_lowest(cs, &krum, &scored, &keep, wd.krum, wd.count)?;

    // 6. The capped mean: w_k = accept_k·mean_weight(‖u_k‖², m).
    let mut weights = Vec::with_capacity(n);
    for k in 0..n {
        let norm_val = d.base.norms[k];
        let claim = v5::mean_weight(norm_val, d.base.median_norm);
        let wk = g5::mean_weight(cs, &norms[k], &median, claim, wd.band)?;
        weights.push(mul(cs, &accept[k], &wk)?);
    }
    let total = sum_of(&weights);
    let nothing = is_zero(cs, &total)?;
    let divisor = total.add(&nothing);
    let sums = weighted_sum(cs, &weights, &updates, &total)?;
    let g_new = alloc_vector(cs, &o.new_model)?;
    for (j, s) in sums.iter().enumerate() {
        let q = Num {
            lc: ark_relations::lc!() + g_new.vars[j] - g.vars[j],
            val: Fr::from(i64::from(o.new_model[j]) - i64::from(g.values[j])),
        };
        floor_div(cs, s, &divisor, &q, w5.weight_sum)?;
    }
    let c_new = commit_model_var(cs, &wide, &len, &pack_var(&g_new))?;

    // 7. The replication kernel over the candidates.
    let (s_dot, s_norm) = masked_row_sums(cs, &candidates, &masked)?;
    let mut align = Vec::with_capacity(n);
    for i in 0..n {
        let a = g5::signed_cosine(cs, &s_dot[i], &norms[i], &s_norm, w5.g, w5.cosine)?;
        align.push(mul(cs, &candidates[i], &a)?);
    }
    let million = Fr::from(1_000_000u64);
    let slack: Vec<Num> = align
        .iter()
        .map(|a| Ok(Num::constant(million).sub(&mul(cs, a, a)?)))
        .collect::<GResult<_>>()?;
    let mut kappa = vec![vec![constant(0); n]; n];
    for i in 0..n {
        for k in i + 1..n {
            let num = cosines[i][k]
                .scale(thousand)
                .sub(&mul(cs, &align[i], &align[k])?);
            // |num| ≤ 2·10⁶ < 2^21; the norms are at most 10⁶ < 2^20.
            let rho = g5::signed_cosine(cs, &num, &slack[i], &slack[k], 22, 64)?;
            let claim = v5::ramp(
                g5::to_i128(&rho.val) as i32,
                p.copy_lo_milli,
                p.copy_hi_milli,
            );
            let r = g5::ramp(cs, &rho, p.copy_lo_milli, p.copy_hi_milli, claim)?;
            let both = mul(cs, &candidates[i], &candidates[k])?;
            let v = mul(cs, &both, &r)?;
            kappa[i][k] = v.clone();
            kappa[k][i] = v;
        }
    }
    let multiplicity: Vec<Num> = (0..n)
        .map(|i| sum_of(&kappa[i]).add_const(thousand))
        .collect();

    // 8. Self-consistency: the ramp of cos(u_i, p_i); 1000 without a last round.
    let mut consistency = Vec::with_capacity(n);
    for i in 0..n {
        if p.self_hi_milli == 0 {
            consistency.push(Num::constant(thousand));
            continue;
        }
        let c = g5::signed_cosine(cs, &x[i][i], &gram[i][i], &pm[i][i], w5.g, w5.cosine)?;
        let claim = v5::ramp(g5::to_i128(&c.val) as i32, p.self_lo_milli, p.self_hi_milli);
        let r = g5::ramp(cs, &c, p.self_lo_milli, p.self_hi_milli, claim)?;
        let gap = mul(cs, &has_last, &r.add_const(-thousand))?;
        consistency.push(gap.add_const(thousand));
    }

    // 9. Scores in parts per million: the squared cosine to the others' consensus with
    // i's near-copies weighed out, over the multiplicity, times the ramp.
    let mut scores = Vec::with_capacity(n);
    for i in 0..n {
        let mut omega = Vec::with_capacity(n);
        for k in 0..n {
            omega.push(if k == i {
                constant(0)
            } else {
                mul(cs, &accept[k], &Num::constant(thousand).sub(&kappa[i][k]))?
            });
        }
        let uo = sum_of(
            &(0..n)
                .map(|k| mul(cs, &omega[k], &masked[i][k]))
                .collect::<GResult<Vec<_>>>()?,
        );
        let mut oo_terms = Vec::with_capacity(n);
        for l in 0..n {
            let t = sum_of(
                &(0..n)
                    .map(|k| mul(cs, &omega[k], &masked[k][l]))
                    .collect::<GResult<Vec<_>>>()?,
            );
            oo_terms.push(mul(cs, &omega[l], &t)?);
        }
        let oo = sum_of(&oo_terms);
        let uo_pos = is_le(cs, &constant(1), &uo, w5.uo)?;
        let oo_pos = is_le(cs, &constant(1), &oo, w5.oo)?;
        let pos = mul(cs, &mul(cs, &scored[i], &uo_pos)?, &oo_pos)?;
        scores.push(g5::score_ppm(
            cs,
            &pos,
            &uo,
            &oo,
            &norms[i],
            &consistency[i],
            &multiplicity[i],
            d.scores[i],
            w5.score,
        )?);
    }

    // 10. The round hash, in `round_v5_elements` order.
    let mut elems: Vec<Num> = vec![
        Num::constant(domain_tag(TAG_ROUND_V5)),
        witness(cs, Fr::from(w.project))?,
        witness(cs, Fr::from(w.round))?,
        constant(n as u64),
        c_prev,
    ];
    for a in &accounts {
        elems.extend(a.iter().cloned());
    }
    elems.extend(commitments.iter().chain(&scores).chain(&accept).cloned());
    elems.push(c_new);
    elems.extend(live.iter().cloned());
    elems.push(gram_h);
    elems.push(has_last);
    for a in &last_accounts {
        elems.extend(a.iter().cloned());
    }
    elems.extend(
        last_commitments
            .iter()
            .chain(&last_reference)
            .chain(&last_accepted)
            .cloned(),
    );
    elems.push(last_gram_h);
    let h = narrow.hash(cs, &elems)?;
    enforce_eq(cs, &h.lc, &(ark_relations::lc!() + public))?;
    Ok(())
}

/// Setup for a v5 round shape.
pub fn setup_round_v5(params: V5Params, mode: SetupMode) -> Result<Keys, ProverError> {
    let blank = RoundCircuitV5::blank(params).map_err(|e| ProverError::Round(e.to_string()))?;
    crate::setup(blank, mode)
}

/// Proves a v5 round: the proof, the claims it proves and the public input.
pub fn prove_round_v5(
    pk: &ProvingKey<Bn254>,
    witness: RoundWitnessV5,
) -> Result<(Proof<Bn254>, RoundClaimsV5, Fr), ProverError> {
    let claims = witness.claims(&Committer::new());
    let circuit = RoundCircuitV5::new(witness).map_err(|e| ProverError::Round(e.to_string()))?;
    let public = circuit.public_input;
    let proof = crate::prove(pk, &circuit)?;
    Ok((proof, claims, public))
}

/// Verifies a v5 round proof against the inputs the contract holds.
pub fn verify_round_v5(
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    inputs: &RoundInputsV5<'_>,
) -> Result<bool, ProverError> {
    let h = round_v5_public_input(inputs).map_err(|e| ProverError::Round(e.to_string()))?;
    crate::verify(vk, proof, &[h])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_witness;
    use merit_protocol::rule::RuleParams;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    const N: usize = 6;
    const D: usize = 24;

    fn params() -> V5Params {
        V5Params::new(RuleParams::new(N, D, 1, 1 << 26))
    }

    /// Two rounds: five honest trainers (a shared direction, a bias of their own kept
    /// across rounds, fresh noise) and slot 5 absent; then in round 2 four of them, a
    /// griefer in slot 4 sending slot 0's round-1 reveal and a sybil in slot 5 sending
    /// slot 1's update with jitter (a near-copy below the duplicate threshold).
    fn two_rounds(seed: u64) -> (RoundWitnessV5, RoundWitnessV5) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut draw =
            |scale: f64| -> Vec<f64> { (0..D).map(|_| rng.gen_range(-scale..scale)).collect() };
        let shared = draw(300.0);
        let bias: Vec<Vec<f64>> = (0..5).map(|_| draw(250.0)).collect();
        let honest = |t: usize, noise: &[f64]| -> Vec<i16> {
            (0..D)
                .map(|j| (shared[j] + bias[t][j] + noise[j]).round() as i16)
                .collect()
        };
        let noise: Vec<Vec<f64>> = (0..9).map(|_| draw(60.0)).collect();
        let jitter = draw(200.0);
        let trainers: Vec<AccountBytes> = (0..N).map(|i| [i as u8 + 1; 32]).collect();
        let r1: Vec<Option<Vec<i16>>> = vec![
            Some(honest(0, &noise[0])),
            Some(honest(1, &noise[1])),
            Some(honest(2, &noise[2])),
            Some(honest(3, &noise[3])),
            Some(honest(4, &noise[4])),
            None,
        ];
        let first = RoundWitnessV5::new(
            params(),
            7,
            1,
            trainers.clone(),
            vec![3; D],
            r1.clone(),
            None,
        )
        .unwrap();
        let one = honest(1, &noise[6]);
        let sybil: Vec<i16> = one
            .iter()
            .zip(&jitter)
            .map(|(&v, &e)| v + e.round() as i16)
            .collect();
        let r2 = vec![
            Some(honest(0, &noise[5])),
            Some(one),
            Some(honest(2, &noise[7])),
            Some(honest(3, &noise[8])),
            r1[0].clone(),
            Some(sybil),
        ];
        let second = RoundWitnessV5::new(
            params(),
            7,
            2,
            trainers,
            first.outcome.new_model.clone(),
            r2,
            Some(first.as_last()),
        )
        .unwrap();
        (first, second)
    }

    fn circuit_for(w: &RoundWitnessV5, claims: &RoundClaimsV5) -> RoundCircuitV5 {
        let public =
            round_v5_public_input(&claims.inputs(w.project, w.round, &w.trainers)).unwrap();
        RoundCircuitV5 {
            witness: Arc::new(w.clone()),
            public_input: public,
        }
    }

    fn holds(w: &RoundWitnessV5, claims: &RoundClaimsV5) -> bool {
        match check_witness(circuit_for(w, claims)) {
            Ok(()) => true,
            Err(ProverError::Unsatisfied(_)) => false,
            Err(e) => panic!("synthesis failed: {e}"),
        }
    }

    #[test]
    fn the_native_outcome_satisfies_the_circuit_over_two_rounds() {
        // Two seeds here; the committed vectors add five more sequences.
        for seed in 1..=2 {
            let (first, second) = two_rounds(seed);
            let c = Committer::new();
            assert!(holds(&first, &first.claims(&c)), "seed {seed}, round 1");
            assert!(holds(&second, &second.claims(&c)), "seed {seed}, round 2");
            let d = &second.outcome.decision;
            // The griefer's copy of slot 0's last reveal is stale, and so out.
            assert!(
                d.stale[4] && !d.accepted[4] && d.scores[4] == 0,
                "seed {seed}: {d:?}"
            );
            assert!(
                d.accepted.iter().filter(|&&a| a).count() >= 3,
                "seed {seed}"
            );
            assert!(d.scores.iter().any(|&s| s > 0), "seed {seed}");
        }
    }

    #[test]
    fn every_step_is_exercised_somewhere() {
        // Over a few seeds the second round shows each of v5's paths at least once.
        let (mut kappa, mut ramp_mid, mut floor, mut weight_cut) = (false, false, false, false);
        for seed in 1..=4 {
            let d = two_rounds(seed).1.outcome.decision;
            kappa |= d.multiplicity.iter().any(|&m| m > 1000);
            ramp_mid |= d.consistency.iter().any(|&r| r > 0 && r < 1000);
            floor |= d.floor > 0;
            weight_cut |= d.weights.iter().any(|&w| w > 0 && w < 1000);
        }
        assert!(
            kappa && ramp_mid && floor && weight_cut,
            "{kappa} {ramp_mid} {floor} {weight_cut}"
        );
    }

    #[test]
    fn the_circuit_agrees_with_the_committed_v5_vectors() {
        use merit_protocol::vectors::{
            hex32, round_v5_trainers, RoundV5Vectors, RuleV5Vectors, ROUND_V5_JSON,
            ROUND_V5_PROJECT, RULE_V5_JSON,
        };
        let rules: RuleV5Vectors = serde_json::from_str(RULE_V5_JSON).unwrap();
        let statements: RoundV5Vectors = serde_json::from_str(ROUND_V5_JSON).unwrap();
        for (c, s) in rules.cases.iter().zip(&statements.cases) {
            let trainers = round_v5_trainers(c.slots);
            let (mut model, mut last) = (c.prev.clone(), None);
            for (t, (r, want)) in c.rounds.iter().zip(&s.rounds).enumerate() {
                let w = RoundWitnessV5::new(
                    c.params(),
                    ROUND_V5_PROJECT,
                    t as u32 + 1,
                    trainers.clone(),
                    model,
                    r.updates.clone(),
                    last,
                )
                .unwrap();
                assert_eq!(w.outcome.decision.scores, r.scores, "{} round {t}", c.name);
                let circuit = RoundCircuitV5::new(w.clone()).unwrap();
                let public = merit_protocol::poseidon::to_bytes(&circuit.public_input);
                assert_eq!(hex32(&public), want.public_input, "{} round {t}", c.name);
                check_witness(circuit).unwrap_or_else(|e| panic!("{} round {t}: {e}", c.name));
                last = Some(w.as_last());
                model = w.outcome.new_model;
            }
        }
    }

    #[test]
    fn a_claim_other_than_the_rules_is_refused() {
        let (_, w) = two_rounds(2);
        let c = Committer::new();
        let honest = w.claims(&c);
        let paid = (0..N).find(|&i| honest.scores[i] > 0).unwrap();
        let mut claims = honest.clone();
        claims.scores[paid] += 1;
        assert!(!holds(&w, &claims), "a score one ppm higher");
        // The claimed witness changed the same way (a prover who lies consistently).
        let mut lying = w.clone();
        lying.outcome.decision.scores[paid] += 1;
        assert!(!holds(&lying, &lying.claims(&c)), "a lying witness");
        let mut claims = honest.clone();
        claims.reference[4] = true;
        assert!(!holds(&w, &claims), "the stale slot claimed a reference");
        let mut claims = honest.clone();
        let kept = (0..N).find(|&i| honest.accepted[i]).unwrap();
        claims.accepted[kept] = false;
        assert!(!holds(&w, &claims), "an accepted slot dropped");
        let mut claims = honest.clone();
        claims.gram_hash = gram_hash(&[vec![1]]);
        assert!(!holds(&w, &claims), "a wrong Gram hash");
    }

    #[test]
    fn last_round_cannot_be_rewritten() {
        let (_, w) = two_rounds(3);
        let c = Committer::new();
        let honest = w.claims(&c);
        // Another last-round Gram matrix, against the hash the contract stored: refused.
        let mut forged = w.clone();
        forged.last.as_mut().unwrap().decided.gram[0][0] += 1;
        assert!(!holds(&forged, &honest), "a forged P");
        // Another last reveal for slot 0 (which would unstale the griefer): refused.
        let mut forged = w.clone();
        forged.last.as_mut().unwrap().reveals[0].as_mut().unwrap()[0] += 1;
        assert!(!holds(&forged, &honest), "a forged last reveal");
        // Pretending there was no last round: the statement says there was.
        let mut claims = honest.clone();
        claims.last = None;
        assert!(!holds(&w, &claims), "the last round dropped");
    }

    #[test]
    fn an_absent_slot_must_hold_zeros() {
        let (w, _) = two_rounds(1);
        let mut forged = w.clone();
        forged.updates[5][0] = 9; // slot 5 is absent in round 1
        assert!(!holds(&forged, &w.claims(&Committer::new())));
    }

    #[test]
    fn a_v5_round_proves_and_verifies() {
        let (first, second) = two_rounds(4);
        let (pk, vk) =
            setup_round_v5(params(), SetupMode::InsecureDeterministicForTests(5)).unwrap();
        for w in [first, second] {
            let (proof, claims, public) = prove_round_v5(&pk, w.clone()).unwrap();
            let inputs = claims.inputs(w.project, w.round, &w.trainers);
            assert!(verify_round_v5(&vk, &proof, &inputs).unwrap());
            assert!(crate::verify(&vk, &proof, &[public]).unwrap());
            let mut scores = claims.scores.clone();
            scores[0] += 1;
            let mut changed = inputs.clone();
            changed.round.scores = &scores;
            assert!(!verify_round_v5(&vk, &proof, &changed).unwrap());
        }
    }

    #[test]
    fn the_v5_benchmark_proves_a_small_shape() {
        let r = crate::bench::round_v5(5, 12, 3).unwrap();
        assert!(r.constraints > 0 && r.proof_bytes == 128, "{r:?}");
    }

    #[test]
    fn constraints_per_parameter_against_v3() {
        // The per-parameter cost is the difference between two dimensions (the rest is
        // per slot or per pair and does not move); N = 8, as the measure.
        let per_param = |v5_round: bool| {
            let at = |dim: usize| {
                let p = RuleParams::new(8, dim, 2, 1 << 40);
                let count = if v5_round {
                    crate::bench::count(&RoundCircuitV5::blank(V5Params::new(p)).unwrap())
                } else {
                    crate::bench::count(&crate::round::RoundCircuit::blank(p).unwrap())
                };
                count.unwrap().0 as f64
            };
            (at(2048) - at(1024)) / 1024.0
        };
        let (v3, v5) = (per_param(false), per_param(true));
        eprintln!("constraints per parameter at N = 8: v3 {v3:.1}, v5 {v5:.1}");
        // The bound: at most +100 % per parameter.
        assert!(v5 <= 2.0 * v3, "v3 {v3}, v5 {v5}");
        assert!(
            v5 > v3,
            "v5 opens last round's reveals: it cannot cost less"
        );
    }
}
