//! The round circuit: one Groth16 statement for a whole round (docs/design.md, "The round
//! statement"), the constraint twin of `merit_protocol::rule::run`.
//!
//! Public input: the single round hash `merit_protocol::commit::Committer::round_public_input`.
//! Witness: the previous model `g`, every slot's update (zero for an absent slot), the
//! presence bits, Krum's neighbour/threshold hints, the claimed scores and the new model.
//! The circuit
//! 1. range-checks and packs `g`, every `u_i` and `g_new` (16 bits per value) and rebuilds
//!    `C_prev`, `H_i = commit_update(trainer_i, u_i)`, `C_new`; the slot's public
//!    commitment is `C_i = present_i · H_i` (so an absent slot is exactly `C_i = 0`, and a
//!    present one must open its commitment);
//! 2. computes the Gram matrix `⟨u_i, u_k⟩`, several pairs per product (`gram_matrix`:
//!    one row's partners packed into one field element); every selection step below reads
//!    only the Gram matrix, so it costs nothing per parameter;
//! 3. in bound = present ∧ `1 ≤ ‖u_i‖² ≤ B²`; the lower median `m` of the in-bound norms
//!    (the prover's value, pinned by two rank counts); eligible = in bound ∧ within the
//!    band `ρ²` around `m`; per-pair signed per-mille cosines (the cosine gadget on `|g|`);
//!    duplicates (eligible pairs at `c ≥ τ`) dropped with `f' = max(0, f − d)`; Krum
//!    scores over the candidates with `k = n − f' − 2` angular distances `1000 − c` by the
//!    k-smallest gadget; accept bits by rank (`keep = n − f'`), all zero when
//!    `n < f' + 3`;
//! 4. `S = Σ accept_i·u_i` per coordinate (one product per parameter per slot),
//!    `cnt·(g_new − g) + r = S` with `0 ≤ r < cnt` (divisor 1 when nothing is accepted);
//! 5. `⟨u_i, S⟩ = Σ_k accept_k ⟨u_i, u_k⟩`, `‖S‖²`, and from them the leave-one-out
//!    `⟨u_i, S − u_i⟩` and `‖S − u_i‖²`, and the cosine score bound;
//! 6. hashes everything in `round_elements` order and equates it to the public input.
//!
//! Constraint count per parameter (protocol v3): `16(N+2)` range bits, about `2.6(N+2)`
//! for the wide Poseidon sponge (38.3 per absorbed element of 15 values), `N·⌈(⌊N/2⌋+1)/p⌉`
//! Gram products with `p` pairs packed per product (`p = 5` up to 2^18 parameters, so 8
//! products at N = 8), `N` mask products and `2⌈log₂N⌉ + 2` for the division; the rule's selection adds
//! a few hundred constraints per pair of slots, independent of `D`.

use crate::cs::Cs;
use crate::gadgets::commit::{commit_model_var, commit_update_var};
use crate::gadgets::cosine::cosine_score;
use crate::gadgets::divide::floor_div;
use crate::gadgets::num::{
    boolean, enforce_eq, enforce_zero_product, is_le, is_zero, log2_ceil, mul, witness, Num,
    Result as GResult,
};
use crate::gadgets::poseidon::Plan;
use crate::gadgets::select::{k_smallest_sum, keep_lowest};
use crate::gadgets::vector::{alloc_vector, gram_matrix, masked_sum, pack_var, VecVar};
use crate::{Keys, ProverError, SetupMode};
use ark_bn254::{Bn254, Fr};
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError, Variable};
use merit_protocol::abi::AccountBytes;
use merit_protocol::commit::{
    account_elements, CommitError, Commitment, Committer, RoundInputs, TAG_ROUND,
};
use merit_protocol::poseidon::{self, domain_tag};
use merit_protocol::rule::{self, RoundOutcome, RuleError, RuleParams, SCORE_SCALE};

/// Bits of a cosine's magnitude (at most 1000 < 2^10); angular distances take one more.
const COSINE_BITS: usize = 10;
use std::sync::Arc;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoundError {
    #[error("round rule: {0}")]
    Rule(RuleError),
    #[error("{got} trainer accounts for {expected} slots")]
    Trainers { expected: usize, got: usize },
    #[error("round input: {0}")]
    Commit(CommitError),
}

/// Everything the prover knows about a round; built from the native rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundWitness {
    pub params: RuleParams,
    pub project: u32,
    pub round: u32,
    /// One per slot (the zero account for an unfilled slot).
    pub trainers: Vec<AccountBytes>,
    pub prev_model: Vec<i16>,
    /// One per slot; an absent slot holds zeros.
    pub updates: Vec<Vec<i16>>,
    pub present: Vec<bool>,
    /// The rule's results: claims (accept bits, scores, new model) and Krum hints.
    pub outcome: RoundOutcome,
}

/// What the round publishes, i.e. what the contract hashes into the public input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundClaims {
    pub prev_model: Commitment,
    pub updates: Vec<Commitment>,
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    pub new_model: Commitment,
}

impl RoundClaims {
    pub fn inputs<'a>(
        &'a self,
        project: u32,
        round: u32,
        trainers: &'a [AccountBytes],
    ) -> RoundInputs<'a> {
        RoundInputs {
            project,
            round,
            prev_model: self.prev_model,
            trainers,
            updates: &self.updates,
            scores: &self.scores,
            accepted: &self.accepted,
            new_model: self.new_model,
        }
    }
}

impl RoundWitness {
    /// Runs the rule on a round. `updates[i]` is `None` for an absent slot.
    pub fn new(
        params: RuleParams,
        project: u32,
        round: u32,
        trainers: Vec<AccountBytes>,
        prev_model: Vec<i16>,
        updates: Vec<Option<Vec<i16>>>,
    ) -> Result<Self, RoundError> {
        if trainers.len() != params.slots {
            return Err(RoundError::Trainers {
                expected: params.slots,
                got: trainers.len(),
            });
        }
        let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
        let outcome = rule::run(&params, &prev_model, &refs).map_err(RoundError::Rule)?;
        let present = updates.iter().map(Option::is_some).collect();
        let updates = updates
            .into_iter()
            .map(|u| u.unwrap_or_else(|| vec![0; params.dim]))
            .collect();
        Ok(Self {
            params,
            project,
            round,
            trainers,
            prev_model,
            updates,
            present,
            outcome,
        })
    }

    /// A witness of the right shape (every slot absent, zero model): what setup synthesises.
    pub fn blank(params: RuleParams) -> Result<Self, RoundError> {
        Self::new(
            params,
            0,
            0,
            vec![[0; 32]; params.slots],
            vec![0; params.dim],
            vec![None; params.slots],
        )
    }

    /// The commitments, scores and accept bits the aggregator submits.
    pub fn claims(&self, c: &Committer) -> RoundClaims {
        RoundClaims {
            prev_model: c.commit_model(&self.prev_model),
            updates: commit_slots(
                c,
                &self.trainers,
                &(0..self.params.slots)
                    .map(|i| self.present[i].then_some(self.updates[i].as_slice()))
                    .collect::<Vec<_>>(),
            ),
            scores: self.outcome.decision.scores.clone(),
            accepted: self.outcome.decision.accepted.clone(),
            new_model: c.commit_model(&self.outcome.new_model),
        }
    }

    /// The public input for these claims.
    pub fn public_input(&self, c: &Committer) -> Result<Fr, RoundError> {
        let claims = self.claims(c);
        c.round_public_input(&claims.inputs(self.project, self.round, &self.trainers))
            .map_err(RoundError::Commit)
    }
}

/// Each slot's public commitment: its trainer's update commitment, or zero for a slot
/// with no update (`None`).
pub(crate) fn commit_slots(
    c: &Committer,
    trainers: &[AccountBytes],
    vectors: &[Option<&[i16]>],
) -> Vec<Commitment> {
    trainers
        .iter()
        .zip(vectors)
        .map(|(t, v)| v.map_or_else(Commitment::default, |v| c.commit_update(t, v)))
        .collect()
}

/// The round statement as a `ConstraintSynthesizer`.
#[derive(Debug, Clone)]
pub struct RoundCircuit {
    pub witness: Arc<RoundWitness>,
    /// The single public input (the round hash).
    pub public_input: Fr,
}

impl RoundCircuit {
    /// The circuit for `witness`, with the public input its own claims give.
    pub fn new(witness: RoundWitness) -> Result<Self, RoundError> {
        let public_input = witness.public_input(&Committer::new())?;
        Ok(Self {
            witness: Arc::new(witness),
            public_input,
        })
    }

    /// The shape only, for setup.
    pub fn blank(params: RuleParams) -> Result<Self, RoundError> {
        Self::new(RoundWitness::blank(params)?)
    }
}

/// Bit widths of the comparisons, from the shape (see each gadget's range condition).
pub(crate) struct Widths {
    norm: usize,
    pub(crate) krum: usize,
    pub(crate) count: usize,
    dot: usize,
    cosine: usize,
    pub(crate) rem: usize,
    pub(crate) band: usize,
    pair_cosine: usize,
}

impl Widths {
    pub(crate) fn new(p: &RuleParams) -> Self {
        Self::for_shape(p.slots, p.dim)
    }

    /// The widths for `slots` vectors of at most `dim` values.
    pub(crate) fn for_shape(slots: usize, dim: usize) -> Self {
        let ld = log2_ceil(dim as u64);
        let ln = log2_ceil(slots as u64);
        Self {
            // ‖u‖² ≤ D·2^30.
            norm: 31 + ld,
            // Krum scores sum at most N angular distances of at most 2000 each.
            krum: COSINE_BITS + 1 + ln,
            // counts, ranks and n − f are within ±2N.
            count: ln + 3,
            // |⟨u, S⟩| ≤ N·D·2^30.
            dot: 31 + ld + ln,
            // 2^20·‖u‖²·‖S‖² ≤ 2^(80 + 2ld + 2ln).
            cosine: 82 + 2 * ld + 2 * ln,
            // remainders and divisor − 1 − r are < N ≤ 2^ln.
            rem: ln,
            band: 61 + ld,
            pair_cosine: 82 + 2 * ld,
        }
    }
}

/// `c = sign(g)·s` with `s` the per-mille cosine of `|g|` against `norm_a·norm_b`
/// (`merit_protocol::rule::signed_cosine`); `claim` is the prover's `c`.
fn signed_cosine(
    cs: &Cs,
    g: &Num,
    norm_a: &Num,
    norm_b: &Num,
    claim: i32,
    wd: &Widths,
) -> GResult<Num> {
    // neg = [g ≤ −1]; |g| = g − 2·neg·g.
    let neg = is_le(cs, g, &constant(0).add_const(-Fr::from(1u64)), wd.dot)?;
    let neg_g = mul(cs, &neg, g)?;
    let abs = g.sub(&neg_g.scale(Fr::from(2u64)));
    let pos = is_le(cs, &constant(1), &abs, wd.dot)?;
    let s = cosine_score(
        cs,
        &pos,
        &abs,
        norm_a,
        norm_b,
        claim.unsigned_abs(),
        wd.pair_cosine,
    )?;
    let neg_s = mul(cs, &neg, &s)?;
    Ok(s.sub(&neg_s.scale(Fr::from(2u64))))
}

pub(crate) fn constant(v: u64) -> Num {
    Num::constant(Fr::from(v))
}

pub(crate) fn sum_of(xs: &[Num]) -> Num {
    xs.iter().fold(constant(0), |s, x| s.add(x))
}

impl crate::Circuit for RoundCircuit {
    fn synthesize(&self, cs: &Cs) -> Result<(), SynthesisError> {
        synthesize(cs, &self.witness, self.public_input)
    }
}

impl ConstraintSynthesizer<Fr> for RoundCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        synthesize(&Cs::wrap(cs), &self.witness, self.public_input)
    }
}

fn synthesize(cs: &Cs, w: &RoundWitness, public: Fr) -> GResult<()> {
    let p = w.params;
    let (n, dim) = (p.slots, p.dim);
    let wd = Widths::new(&p);
    let narrow = Plan::new(&poseidon::config());
    let wide = Plan::new(&poseidon::wide::config());
    let o = &w.outcome;
    let public = cs.new_input_variable(|| Ok(public))?;
    let len = constant(dim as u64);

    // 1. Vectors and commitments.
    let g = alloc_vector(cs, &w.prev_model)?;
    let c_prev = commit_model_var(cs, &wide, &len, &pack_var(&g))?;
    let values: Vec<&[i16]> = w.updates.iter().map(Vec::as_slice).collect();
    let OpenedSlots {
        vectors: updates,
        accounts,
        present,
        commitments,
    } = open_slots(cs, &wide, &len, &values, &w.trainers, &w.present)?;

    // 2. Gram matrix: gram[i][k] = ⟨u_i, u_k⟩, several products per constraint.
    let gram = gram_matrix(cs, &updates)?;

    // 3, 5. The rule's selection and the scores, from the Gram matrix alone.
    let rule = RuleVars::constants(&p);
    let (accept, scores) = select_and_score(cs, &present, &gram, &rule, &Hints::of(o), &wd)?;

    // 4. Mean and new model.
    let g_new = new_model_var(cs, &accept, &updates, &g, &o.new_model, wd.rem)?;
    let c_new = commit_model_var(cs, &wide, &len, &pack_var(&g_new))?;

    // 6. The round hash, in `Committer::round_elements` order.
    let mut elems: Vec<Num> = vec![
        Num::constant(domain_tag(TAG_ROUND)),
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
    let h = narrow.hash(cs, &elems)?;
    enforce_eq(cs, &h.lc, &(ark_relations::lc!() + public))
}

/// Slots opened against their public commitments.
pub(crate) struct OpenedSlots {
    /// Each slot's vector, range-checked.
    pub vectors: Vec<VecVar>,
    /// Each slot's account, as its two field elements.
    pub accounts: Vec<[Num; 2]>,
    pub present: Vec<Num>,
    /// `C_i = present_i · H(account_i, v_i)`: zero exactly for an absent slot.
    pub commitments: Vec<Num>,
}

/// Allocates every slot's vector and account and proves its commitment (step 1).
pub(crate) fn open_slots(
    cs: &Cs,
    wide: &Plan,
    len: &Num,
    values: &[&[i16]],
    trainers: &[AccountBytes],
    present: &[bool],
) -> GResult<OpenedSlots> {
    let n = values.len();
    let mut out = OpenedSlots {
        vectors: Vec::with_capacity(n),
        accounts: Vec::with_capacity(n),
        present: Vec::with_capacity(n),
        commitments: Vec::with_capacity(n),
    };
    for i in 0..n {
        let v = alloc_vector(cs, values[i])?;
        let [lo, hi] = account_elements(&trainers[i]);
        let acct = [witness(cs, lo)?, witness(cs, hi)?];
        let h = commit_update_var(cs, wide, &acct, len, &pack_var(&v))?;
        let p = boolean(cs, present[i])?;
        out.commitments.push(mul(cs, &p, &h)?);
        out.present.push(p);
        out.accounts.push(acct);
        out.vectors.push(v);
    }
    Ok(out)
}

/// Step 4 over a run of coordinates: allocates the new model `g'` (range-checked) and
/// proves `cnt·(g' − g) + r = Σ accept_i·u_i` with `0 ≤ r < cnt` per coordinate (divisor 1
/// when nothing is accepted). `rem_bits` bounds the remainders (`⌈log₂N⌉`).
pub(crate) fn new_model_var(
    cs: &Cs,
    accept: &[Num],
    updates: &[VecVar],
    g: &VecVar,
    new_model: &[i16],
    rem_bits: usize,
) -> GResult<VecVar> {
    let cnt = sum_of(accept);
    let none = is_zero(cs, &cnt)?;
    let divisor = cnt.add(&none);
    let sums = masked_sum(cs, accept, updates, &cnt)?;
    let g_new = alloc_vector(cs, new_model)?;
    for (j, s) in sums.iter().enumerate() {
        let q = Num {
            lc: ark_relations::lc!() + g_new.vars[j] - g.vars[j],
            val: Fr::from(i64::from(new_model[j]) - i64::from(g.values[j])),
        };
        floor_div(cs, s, &divisor, &q, rem_bits)?;
    }
    Ok(g_new)
}

/// The rule's parameters as circuit values: constants in the round circuit (its key is
/// per project), hashed witnesses in the chunked decision circuit (one key per `N`).
pub(crate) struct RuleVars {
    /// `min(B², D·2^30)`.
    pub bound: Num,
    /// `ρ²` per mille.
    pub band: Num,
    /// `τ` per mille.
    pub tau: Num,
    /// `f`.
    pub budget: Num,
}

impl RuleVars {
    /// The parameters as constants (a key per parameter set, as the round circuits are).
    pub(crate) fn constants(p: &RuleParams) -> Self {
        Self {
            bound: constant(p.norm_bound_sq.min(p.max_norm_sq())),
            band: Num::constant(Fr::from(u64::from(p.band_sq_milli))),
            tau: Num::constant(Fr::from(u64::from(p.duplicate_milli))),
            budget: constant(p.byzantine as u64),
        }
    }
}

/// The prover's hints for the selection, from the native rule.
pub(crate) struct Hints<'a> {
    pub median_norm: u64,
    pub bounded: usize,
    pub cosines: &'a [Vec<i32>],
    pub neighbours: &'a [Vec<bool>],
    pub thresholds: &'a [u64],
    pub scores: &'a [u32],
}

impl<'a> Hints<'a> {
    pub fn of_decision(d: &'a rule::Decision) -> Self {
        Self {
            median_norm: d.median_norm,
            bounded: d.in_bound.iter().filter(|&&b| b).count(),
            cosines: &d.cosines,
            neighbours: &d.neighbours,
            thresholds: &d.thresholds,
            scores: &d.scores,
        }
    }

    pub fn of(o: &'a RoundOutcome) -> Self {
        Self {
            median_norm: o.decision.median_norm,
            bounded: o.decision.in_bound.iter().filter(|&&b| b).count(),
            cosines: &o.decision.cosines,
            neighbours: &o.decision.neighbours,
            thresholds: &o.decision.thresholds,
            scores: &o.decision.scores,
        }
    }
}

/// For a symmetric matrix `M` (a Gram matrix) and bits `b`: every row's `Σ_k b_k·M_ik`
/// (`⟨v_i, S⟩` for `S` the sum of the chosen vectors) and `Σ_i b_i·(row sum)_i` (`‖S‖²`);
/// `N² + N` products.
pub(crate) fn masked_row_sums(cs: &Cs, bits: &[Num], m: &[Vec<Num>]) -> GResult<(Vec<Num>, Num)> {
    let mut rows = Vec::with_capacity(m.len());
    for row in m {
        let terms = bits
            .iter()
            .zip(row)
            .map(|(b, x)| mul(cs, b, x))
            .collect::<GResult<Vec<_>>>()?;
        rows.push(sum_of(&terms));
    }
    let total = bits
        .iter()
        .zip(&rows)
        .map(|(b, r)| mul(cs, b, r))
        .collect::<GResult<Vec<_>>>()?;
    Ok((rows, sum_of(&total)))
}

/// `x · k`: a scaling when `k` is a constant, else one product.
fn times(cs: &Cs, x: &Num, k: &Num) -> GResult<Num> {
    match k.lc.0.as_slice() {
        [(c, Variable::One)] => Ok(x.scale(*c)),
        _ => mul(cs, x, k),
    }
}

/// Steps 3a–3e of the round statement, shared by v2 and v5: from the presence bits and
/// the Gram matrix, the candidates Krum chooses from.
pub(crate) struct Candidates {
    /// `‖u_i‖²` (the Gram matrix's diagonal).
    pub norms: Vec<Num>,
    /// `m`, the lower median of the in-bound norms.
    pub median: Num,
    /// `c_ik`, per mille, every pair.
    pub cosines: Vec<Vec<Num>>,
    /// Eligible and not a duplicate.
    pub candidates: Vec<Num>,
    /// `f' = max(0, f − d)`.
    pub f_left: Num,
    /// `Σ candidates`.
    pub n_cand: Num,
    /// `[n ≥ f' + 3]`: whether Krum runs.
    pub enough: Num,
}

/// Steps 3 and 5 of the round statement: from the presence bits and the Gram matrix,
/// the accept bits and the scores (both constrained to the rule's).
pub(crate) fn select_and_score(
    cs: &Cs,
    present: &[Num],
    gram: &[Vec<Num>],
    rule: &RuleVars,
    o: &Hints<'_>,
    wd: &Widths,
) -> GResult<(Vec<Num>, Vec<Num>)> {
    let n = present.len();
    let Candidates {
        norms,
        cosines,
        candidates,
        f_left,
        n_cand,
        enough,
        ..
    } = select_candidates(cs, present, gram, rule, o, wd)?;
    let thousand = Fr::from(u64::from(SCORE_SCALE));

    // 3f. Multi-Krum on angular distances a_ik = 1000 − c_ik over the candidates.
    let neighbours_wanted = n_cand.sub(&f_left).add_const(-Fr::from(2u64));
    let mut scored = Vec::with_capacity(n); // candidate ∧ Krum ran
    let mut krum = Vec::with_capacity(n);
    for i in 0..n {
        let t = mul(cs, &candidates[i], &enough)?;
        let count = mul(cs, &t, &neighbours_wanted)?;
        let others: Vec<usize> = (0..n).filter(|&k| k != i).collect();
        let dists: Vec<Num> = others
            .iter()
            .map(|&k| Num::constant(thousand).sub(&cosines[i][k]))
            .collect();
        let members: Vec<Num> = others.iter().map(|&k| candidates[k].clone()).collect();
        let chosen: Vec<bool> = others.iter().map(|&k| o.neighbours[i][k]).collect();
        krum.push(k_smallest_sum(
            cs,
            &dists,
            &members,
            &count,
            &chosen,
            Fr::from(o.thresholds[i]),
            COSINE_BITS + 1,
        )?);
        scored.push(t);
    }
    let keep = n_cand.sub(&f_left);
    let accept = keep_lowest(cs, &krum, &scored, &keep, wd.krum, wd.count)?;

    // 5. Leave-one-out scores from the Gram matrix: ⟨u_i, S⟩ = Σ_k accept_k⟨u_i, u_k⟩,
    // ‖S‖² = Σ_k accept_k⟨u_k, S⟩, then ⟨u_i, S − u_i⟩ and ‖S − u_i‖².
    let (dots, sum_norm) = masked_row_sums(cs, &accept, gram)?;
    let mut scores = Vec::with_capacity(n);
    for i in 0..n {
        let others_dot = dots[i].sub(&norms[i]);
        let others_norm = sum_norm.sub(&dots[i].scale(Fr::from(2u64))).add(&norms[i]);
        let positive = is_le(cs, &constant(1), &others_dot, wd.dot)?;
        let pos = mul(cs, &accept[i], &positive)?;
        scores.push(cosine_score(
            cs,
            &pos,
            &others_dot,
            &norms[i],
            &others_norm,
            o.scores[i],
            wd.cosine,
        )?);
    }

    Ok((accept, scores))
}

/// Steps 3a–3e (see [`Candidates`]).
pub(crate) fn select_candidates(
    cs: &Cs,
    present: &[Num],
    gram: &[Vec<Num>],
    rule: &RuleVars,
    o: &Hints<'_>,
    wd: &Widths,
) -> GResult<Candidates> {
    let n = present.len();
    let norms: Vec<Num> = (0..n).map(|i| gram[i][i].clone()).collect();
    let bound = rule.bound.clone();
    // 3a. Ceiling: in bound = present ∧ 1 ≤ ‖u‖² ≤ B².
    let mut in_bound = Vec::with_capacity(n);
    for i in 0..n {
        let nonzero = is_le(cs, &constant(1), &norms[i], wd.norm)?;
        let under = is_le(cs, &norms[i], &bound, wd.norm)?;
        let t = mul(cs, &present[i], &nonzero)?;
        in_bound.push(mul(cs, &t, &under)?);
    }

    // 3b. The lower median m of the in-bound norms, from the prover's value: with
    // p = Σ in_bound and r = ⌈p/2⌉, #{norm ≤ m} ≥ r and #{norm ≥ m} ≥ p − r + 1 pin m to
    // the r-th smallest; m = 0 when p = 0.
    let p_count = sum_of(&in_bound);
    let median = witness(cs, Fr::from(o.median_norm))?;
    let bounded = o.bounded;
    let p_odd = boolean(cs, bounded % 2 == 1)?;
    let rank = witness(cs, Fr::from(bounded.div_ceil(2) as u64))?;
    // 2r = p + odd.
    enforce_eq(cs, &rank.scale(Fr::from(2u64)).lc, &p_count.add(&p_odd).lc)?;
    let mut at_most = constant(0);
    let mut at_least = constant(0);
    for i in 0..n {
        let le = is_le(cs, &norms[i], &median, wd.norm)?;
        let ge = is_le(cs, &median, &norms[i], wd.norm)?;
        at_most = at_most.add(&mul(cs, &in_bound[i], &le)?);
        at_least = at_least.add(&mul(cs, &in_bound[i], &ge)?);
    }
    let none = is_zero(cs, &p_count)?;
    let low_ok = is_le(cs, &rank, &at_most, wd.count)?;
    let high_ok = is_le(
        cs,
        &p_count.sub(&rank).add_const(Fr::from(1u64)),
        &at_least,
        wd.count,
    )?;
    enforce_zero_product(cs, &none.not(), &low_ok.not())?;
    enforce_zero_product(cs, &none.not(), &high_ok.not())?;
    enforce_zero_product(cs, &none, &median)?;

    // 3c. Band: 1000·‖u‖² ≤ ρ²·m and 1000·m ≤ ρ²·‖u‖².
    let thousand = Fr::from(u64::from(SCORE_SCALE));
    let mut eligible = Vec::with_capacity(n);
    for i in 0..n {
        let up = is_le(
            cs,
            &norms[i].scale(thousand),
            &times(cs, &median, &rule.band)?,
            wd.band,
        )?;
        let down = is_le(
            cs,
            &median.scale(thousand),
            &times(cs, &norms[i], &rule.band)?,
            wd.band,
        )?;
        let t = mul(cs, &in_bound[i], &up)?;
        eligible.push(mul(cs, &t, &down)?);
    }

    // 3d. Per-mille cosines c_ik (truncated toward zero) from the Gram matrix.
    let mut cosines: Vec<Vec<Num>> = vec![vec![constant(0); n]; n];
    for i in 0..n {
        for k in i + 1..n {
            let c = signed_cosine(cs, &gram[i][k], &norms[i], &norms[k], o.cosines[i][k], wd)?;
            cosines[i][k] = c.clone();
            cosines[k][i] = c;
        }
    }

    // 3e. Duplicates: eligible with another eligible slot at c ≥ τ; f' = max(0, f − d).
    let mut twins: Vec<Vec<Option<Num>>> = vec![vec![None; n]; n];
    for i in 0..n {
        for k in i + 1..n {
            // c ≥ τ, both eligible (c ∈ [−1000, 1000], τ ≤ 1001: 12 bits).
            let close = is_le(cs, &rule.tau, &cosines[i][k], COSINE_BITS + 1)?;
            let both = mul(cs, &eligible[i], &eligible[k])?;
            let t = mul(cs, &both, &close)?;
            twins[i][k] = Some(t.clone());
            twins[k][i] = Some(t);
        }
    }
    let mut duplicate = Vec::with_capacity(n);
    for i in 0..n {
        let count = sum_of(&twins[i].iter().flatten().cloned().collect::<Vec<_>>());
        let alone = is_zero(cs, &count)?;
        duplicate.push(mul(cs, &eligible[i], &alone.not())?);
    }
    let dups = sum_of(&duplicate);
    let budget = rule.budget.clone();
    let within = is_le(cs, &dups, &budget, wd.count)?;
    let f_left = mul(cs, &within, &budget.sub(&dups))?;
    let mut candidates = Vec::with_capacity(n);
    for i in 0..n {
        candidates.push(eligible[i].sub(&duplicate[i]));
    }
    let n_cand = sum_of(&candidates);
    let enough = is_le(cs, &f_left.add_const(Fr::from(3u64)), &n_cand, wd.count)?;
    Ok(Candidates {
        norms,
        median,
        cosines,
        candidates,
        f_left,
        n_cand,
        enough,
    })
}

/// Setup for a round shape.
pub fn setup_round(params: RuleParams, mode: SetupMode) -> Result<Keys, ProverError> {
    let blank = RoundCircuit::blank(params).map_err(|e| ProverError::Round(e.to_string()))?;
    crate::setup(blank, mode)
}

/// Proves a round: returns the proof, the claims it proves and the public input.
pub fn prove_round(
    pk: &ProvingKey<Bn254>,
    witness: RoundWitness,
) -> Result<(Proof<Bn254>, RoundClaims, Fr), ProverError> {
    let claims = witness.claims(&Committer::new());
    let circuit = RoundCircuit::new(witness).map_err(|e| ProverError::Round(e.to_string()))?;
    let public = circuit.public_input;
    let proof = crate::prove(pk, &circuit)?;
    Ok((proof, claims, public))
}

/// Verifies a round proof against the inputs the contract holds.
pub fn verify_round(
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    inputs: &RoundInputs<'_>,
) -> Result<bool, ProverError> {
    let h = Committer::new()
        .round_public_input(inputs)
        .map_err(|e| ProverError::Round(e.to_string()))?;
    crate::verify(vk, proof, &[h])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{self, Slot};
    use crate::{check_witness, keys};

    fn circuit_for(w: &RoundWitness, claims: &RoundClaims) -> RoundCircuit {
        let h = Committer::new()
            .round_public_input(&claims.inputs(w.project, w.round, &w.trainers))
            .unwrap();
        RoundCircuit {
            witness: Arc::new(w.clone()),
            public_input: h,
        }
    }

    fn refused(w: &RoundWitness, claims: &RoundClaims) -> bool {
        matches!(
            check_witness(circuit_for(w, claims)),
            Err(ProverError::Unsatisfied(_))
        )
    }

    fn attacked() -> RoundWitness {
        sample::attacked(11)
    }

    #[test]
    fn honest_round_proves_and_verifies() {
        let w = attacked();
        let o = &w.outcome;
        assert_eq!(o.decision.eligible, [true, false, true, false, true]);
        assert!(!o.decision.krum_ran, "3 eligible < f + 3: nothing accepted");
        let p = sample::params(4, 30, 0);
        let kinds = [Slot::Honest, Slot::Honest, Slot::Noise, Slot::Honest];
        let w = sample::round(p, 5, &kinds).unwrap();
        assert_eq!(w.outcome.decision.accepted, [true, true, false, true]);
        // Honest updates near cosine 0.7 with one another score ≈ 0.8 against the others.
        assert!(
            w.outcome.decision.scores.iter().all(|&s| s == 0 || s > 700),
            "{:?}",
            w.outcome.decision.scores
        );
        let (pk, vk) = setup_round(p, SetupMode::InsecureDeterministicForTests(4)).unwrap();
        let (proof, claims, public) = prove_round(&pk, w.clone()).unwrap();
        let inputs = claims.inputs(w.project, w.round, &w.trainers);
        assert!(verify_round(&vk, &proof, &inputs).unwrap());
        assert!(crate::verify(&vk, &proof, &[public]).unwrap());
        // The files round-trip and a changed score does not verify.
        let vk2 = keys::read_verifying_key(&keys::write_verifying_key(&vk)).unwrap();
        let proof2 = keys::read_proof(&keys::write_proof(&proof)).unwrap();
        assert!(verify_round(&vk2, &proof2, &inputs).unwrap());
        let mut scores = claims.scores.clone();
        scores[0] += 1;
        let bad = RoundInputs {
            scores: &scores,
            ..inputs.clone()
        };
        assert!(!verify_round(&vk, &proof, &bad).unwrap());
        let mut accepted = claims.accepted.clone();
        accepted[2] = true;
        let bad = RoundInputs {
            accepted: &accepted,
            ..inputs
        };
        assert!(!verify_round(&vk, &proof, &bad).unwrap());
    }

    #[test]
    fn the_shape_does_not_depend_on_the_witness() {
        let p = sample::params(4, 17, 0);
        let blank = crate::bench::count(&RoundCircuit::blank(p).unwrap()).unwrap();
        let kinds = [Slot::Honest, Slot::Zero, Slot::Absent, Slot::SignFlip];
        let real =
            crate::bench::count(&RoundCircuit::new(sample::round(p, 1, &kinds).unwrap()).unwrap())
                .unwrap();
        assert!(blank.0 > 1000 && blank.1 > 1000, "{blank:?}");
        assert_eq!((blank.0, blank.1), (real.0, real.1));
        // The count is the constraint system's own.
        let cs = Cs::new_ref();
        crate::Circuit::synthesize(&RoundCircuit::blank(p).unwrap(), &cs).unwrap();
        assert_eq!(cs.num_constraints(), blank.0);
    }

    /// Differential: native claims satisfy the circuit on random rounds with attacks (and the
    /// hash binds every claim, so the circuit computed exactly the native results).
    #[test]
    fn native_rule_and_circuit_agree_on_random_rounds() {
        let mut krum_rounds = 0;
        for seed in 0..10u64 {
            let (n, f) = if seed % 2 == 0 { (5, 1) } else { (4, 0) };
            let dim = 20 + (seed as usize * 7) % 30;
            let p = sample::params(n, dim, f);
            let kinds = sample::random_slots(n, f + 1, seed);
            let w = sample::round(p, seed, &kinds).unwrap();
            krum_rounds += usize::from(w.outcome.decision.krum_ran);
            let c = RoundCircuit::new(w.clone()).unwrap();
            check_witness(c).unwrap_or_else(|e| panic!("seed {seed} {kinds:?}: {e}"));
        }
        assert!(krum_rounds >= 5);
        // Every attack kind at least once, each with Krum running.
        for (seed, kind) in [
            Slot::SignFlip,
            Slot::Scaled,
            Slot::Noise,
            Slot::Copy,
            Slot::Zero,
        ]
        .into_iter()
        .enumerate()
        {
            let p = sample::params(5, 24, 1);
            let kinds = [Slot::Honest, Slot::Honest, kind, Slot::Honest, Slot::Honest];
            let w = sample::round(p, 100 + seed as u64, &kinds).unwrap();
            assert!(w.outcome.decision.krum_ran);
            if matches!(kind, Slot::SignFlip | Slot::Scaled | Slot::Noise) {
                assert!(!w.outcome.decision.accepted[2], "{kind:?} accepted");
            }
            check_witness(RoundCircuit::new(w).unwrap()).unwrap();
        }
    }

    /// A Krum round where an outlier within the norm bound is rejected.
    fn krum_round() -> (RoundWitness, RoundClaims, usize, usize) {
        let p = sample::params(5, 26, 1);
        let kinds = [
            Slot::Honest,
            Slot::SignFlip,
            Slot::Honest,
            Slot::Honest,
            Slot::Honest,
        ];
        let w = sample::round(p, 21, &kinds).unwrap();
        assert!(w.outcome.decision.krum_ran);
        assert!(w.outcome.decision.eligible[1] && !w.outcome.decision.accepted[1]);
        let honest = (0..5).find(|&i| w.outcome.decision.accepted[i]).unwrap();
        let claims = w.claims(&Committer::new());
        assert!(!refused(&w, &claims));
        (w, claims, 1, honest)
    }

    #[test]
    fn a_changed_update_value_is_refused() {
        let (mut w, claims, _, honest) = krum_round();
        w.updates[honest][3] = w.updates[honest][3].wrapping_add(1);
        assert!(refused(&w, &claims));
    }

    #[test]
    fn a_swapped_trainer_order_is_refused() {
        let (w, claims, _, _) = krum_round();
        let mut swapped = w.clone();
        swapped.updates.swap(0, 2);
        assert!(refused(&swapped, &claims));
        // Swapping accounts with the updates cannot reopen the others' commitments either.
        swapped.trainers.swap(0, 2);
        assert!(refused(&swapped, &claims));
    }

    #[test]
    fn an_accepted_outlier_is_refused() {
        let (w, mut claims, outlier, _) = krum_round();
        claims.accepted[outlier] = true;
        assert!(refused(&w, &claims));
        // Even with a matching (wrong) Krum hint.
        let mut w2 = w.clone();
        w2.outcome.decision.neighbours[outlier] = vec![false; 5];
        w2.outcome.decision.thresholds[outlier] = 0;
        assert!(refused(&w2, &claims));
    }

    #[test]
    fn a_rejected_honest_trainer_is_refused() {
        let (w, mut claims, _, honest) = krum_round();
        claims.accepted[honest] = false;
        claims.scores[honest] = 0;
        assert!(refused(&w, &claims));
    }

    #[test]
    fn a_score_off_by_one_is_refused() {
        let (w, _, _, honest) = krum_round();
        for delta in [-1i64, 1] {
            let mut w2 = w.clone();
            w2.outcome.decision.scores[honest] =
                (i64::from(w.outcome.decision.scores[honest]) + delta) as u32;
            let claims = w2.claims(&Committer::new());
            assert!(refused(&w2, &claims), "{delta}");
        }
        // A rejected slot cannot be given a score.
        let mut w2 = w.clone();
        w2.outcome.decision.scores[1] = 1;
        let claims = w2.claims(&Committer::new());
        assert!(refused(&w2, &claims));
    }

    #[test]
    fn a_wrong_mean_coordinate_is_refused() {
        let (w, _, _, _) = krum_round();
        for delta in [-1i16, 1] {
            let mut w2 = w.clone();
            w2.outcome.new_model[5] += delta;
            let claims = w2.claims(&Committer::new());
            assert!(refused(&w2, &claims), "{delta}");
        }
    }

    #[test]
    fn a_wrong_previous_model_is_refused() {
        let (w, claims, _, _) = krum_round();
        let mut w2 = w.clone();
        w2.prev_model[0] += 1;
        assert!(refused(&w2, &claims));
        // Or the claim names another previous model than the witness opens.
        let mut c2 = claims.clone();
        c2.prev_model = Committer::new().commit_model(&w2.prev_model);
        assert!(refused(&w, &c2));
    }

    #[test]
    fn a_wrong_median_hint_is_refused() {
        let (w, claims, _, _) = krum_round();
        for delta in [-1i64, 1] {
            let mut w2 = w.clone();
            w2.outcome.decision.median_norm =
                (w.outcome.decision.median_norm as i64 + delta) as u64;
            assert!(refused(&w2, &claims), "{delta}");
        }
    }

    #[test]
    fn a_wrong_cosine_hint_is_refused() {
        let (w, claims, _, _) = krum_round();
        for delta in [-1i32, 1] {
            let mut w2 = w.clone();
            w2.outcome.decision.cosines[0][2] += delta;
            w2.outcome.decision.cosines[2][0] += delta;
            assert!(refused(&w2, &claims), "{delta}");
        }
    }

    #[test]
    fn duplicates_cannot_be_accepted() {
        // Slot 2 copies slot 0: with τ = 0.95 both are dropped, and f' = max(0, 1 − 2) = 0.
        let p = RuleParams {
            duplicate_milli: 950,
            ..sample::params(5, 28, 1)
        };
        let kinds = [
            Slot::Honest,
            Slot::Honest,
            Slot::Copy,
            Slot::Honest,
            Slot::Honest,
        ];
        let w = sample::round(p, 8, &kinds).unwrap();
        let o = &w.outcome;
        assert_eq!(o.decision.duplicate, [true, false, true, false, false]);
        assert_eq!((o.decision.byzantine_left, o.decision.krum_ran), (0, true));
        assert_eq!(o.decision.accepted, [false, true, false, true, true]);
        let claims = w.claims(&Committer::new());
        assert!(!refused(&w, &claims));
        let mut bad = claims.clone();
        bad.accepted[0] = true;
        assert!(refused(&w, &bad));
        // Nor can the prover hide the duplicate by claiming a lower cosine.
        let mut w2 = w.clone();
        w2.outcome.decision.cosines[0][2] = 900;
        w2.outcome.decision.cosines[2][0] = 900;
        assert!(refused(&w2, &claims));
    }

    #[test]
    fn an_update_outside_the_band_cannot_be_accepted() {
        // No ceiling: only the band (ρ = 6) keeps the 8× update out.
        let p = RuleParams {
            norm_bound_sq: u64::MAX,
            ..sample::params(5, 27, 1)
        };
        let kinds = [
            Slot::Honest,
            Slot::Honest,
            Slot::Scaled,
            Slot::Honest,
            Slot::Honest,
        ];
        let w = sample::round(p, 4, &kinds).unwrap();
        assert!(w.outcome.decision.in_bound[2] && !w.outcome.decision.eligible[2]);
        let mut claims = w.claims(&Committer::new());
        assert!(!refused(&w, &claims));
        claims.accepted[2] = true;
        assert!(refused(&w, &claims));
    }

    #[test]
    fn absent_and_present_slots_cannot_be_exchanged() {
        let w = attacked();
        let mut claims = w.claims(&Committer::new());
        assert!(!refused(&w, &claims));
        // Claiming the absent slot's (zero) update as a real commitment.
        claims.updates[3] = Committer::new().commit_update(&w.trainers[3], &w.updates[3]);
        assert!(refused(&w, &claims));
        // Hiding a present slot as absent.
        let mut w2 = w.clone();
        w2.present[0] = false;
        let claims = w.claims(&Committer::new());
        assert!(refused(&w2, &claims));
    }
}
