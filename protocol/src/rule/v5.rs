//! Protocol v5's round rule in exact integer arithmetic (issue #23; SPEC.md §6a). Not yet
//! proven: the round circuit still proves v2 ([`super::run`]); this is the definition its
//! twin will follow, and what `merit simulate --rule v5` runs.
//!
//! v5 keeps v2's ceiling, band, duplicate filter and Krum candidates, caps the mean, and
//! reads one more input: the previous round's reveals of the same slots (public once
//! revealed). Everything it decides is a function of three Gram-type matrices, so the
//! circuit's extra cost per parameter is only the inner products:
//! `G_ik = ⟨u_i, u_k⟩` (this round), `X_ik = ⟨u_i, p_k⟩` (this round against the previous
//! reveals `p_k`, zero where absent) and `P_kl = ⟨p_k, p_l⟩` (carried in [`Previous`]).
//! Cosines are v2's per-mille [`signed_cosine`]s of an inner product and two squared norms.
//!
//! 1. **Stale** (only with a previous round): a present slot `i` is stale when, for some
//!    `k ≠ i` whose previous reveal was a *reference* (present and not stale itself),
//!    `cos(u_i, p_k) ≥ τ_s`; or when `cos(u_i, d_i) ≥ τ_p`, with `d_i` the previous round's
//!    accepted sum without `p_i`:
//!    `⟨u_i, d_i⟩ = Σ_{k∈A} X_ik − [i∈A]·X_ii` and
//!    `‖d_i‖² = Σ_{k,l∈A} P_kl − [i∈A]·(2·Σ_{k∈A} P_ik − P_ii)` (`A`: previously accepted;
//!    `‖d_i‖² = 0`: not stale). A stale slot counts as absent from here on.
//! 2. **v2's steps 1–6** ([`super::decide`]) on the Gram matrix with the stale slots' rows
//!    and columns zeroed: ceiling, median, band, cosines, duplicates, candidates, `f'`.
//! 3. **Krum with a distance floor**: when Krum runs, the `P = n(n−1)/2` angular distances
//!    between candidates `a_ik = 1000 − c_ik` sorted ascending give the floor
//!    `φ = a_(q)` with `q = min(⌊P·q_milli / 1000⌋, P − 1)` (0-based); Krum sums the `k`
//!    smallest `max(a_ik, φ)` and keeps the `n − f'` lowest, ties by slot order. Near-copies
//!    are then no nearer neighbours than a typical pair.
//! 4. **Capped mean**: `Δ_j = ⌊Σ_{k∈A} w_k·u_kj / Σ_{k∈A} w_k⌋` with `w_k` the largest
//!    integer in `[0, 1000]` with `w_k²·n_k ≤ 10⁶·m` (`m` step 2's median norm): an update
//!    longer than the median pulls with the median's length only (v2's mean lets one pull
//!    with up to `ρ` times it, which a colluding group uses to steer the model).
//! 5. **Replication kernel**: with `s_i = Σ_{k∈C} G_ik` (`C` the candidates),
//!    `‖S_C‖² = Σ_{i∈C} s_i` and `a_i = cos(u_i, S_C)`, the partial correlation of two
//!    candidates given the candidates' sum is `ρ_ik = cos(1000·c_ik − a_i·a_k,
//!    10⁶ − a_i², 10⁶ − a_k²)` read as a per-mille cosine of a "dot" and two "norms" (0
//!    when either norm is 0), and `κ_ik = clamp(⌊1000·(ρ_ik − lo) / (hi − lo)⌋, 0, 1000)`.
//!    Near-copies share what `S_C` does not explain (`κ = 1000`); two honest updates of one
//!    distribution are alike through `S_C` (`κ = 0`). Multiplicity
//!    `m_i = 1000 + Σ_{k∈C, k≠i} κ_ik`.
//! 6. **Self-consistency** (only with a previous round): `r_i =
//!    clamp(⌊1000·(cos(u_i, p_i) − σ_lo) / (σ_hi − σ_lo)⌋, 0, 1000)`; with no own previous
//!    reveal the cosine is 0. An honest update points where its own data pointed last round.
//!    Without a previous round (or with `σ_hi = 0`) `r_i = 1000`.
//! 7. **Score**, in parts per million, for every candidate `i` when Krum ran: with weights
//!    `w_ik = 1000 − κ_ik`, `uo_i = Σ_{k∈A', k≠i} w_ik·G_ik` and
//!    `oo_i = Σ_{k,l∈A', k,l≠i} w_ik·w_il·G_kl` (`A'` this round's accepted: the others'
//!    consensus with `i`'s near-copies left out), `score_i =
//!    ⌊10⁶·uo_i²·r_i / (G_ii·oo_i·m_i)⌋` when `uo_i > 0` and `oo_i > 0`, else 0: the
//!    squared cosine to the consensus, divided among near-copies, times the ramp. Paying
//!    every candidate, not only Krum's keepers, keeps honest IID pay even.
//!
//! Intermediates: `|uo| < 2^66`, `oo < 2^82` (N ≤ 64, D ≤ 2^20); the score's numerator and
//! denominator are compared in 320 bits ([`Wide`]).

use super::{
    decide, floor_div, gram_matrix, k_smallest, keep_lowest, largest_fitting, signed_cosine,
    slot_vectors, Decision, RuleError, RuleParams, SCORE_SCALE,
};
use alloc::vec;
use alloc::vec::Vec;

/// v5's scores are in parts per million of a lone, fully agreeing update.
pub const SCORE_SCALE_V5: u32 = 1_000_000;

/// v5's parameters beyond v2's, per mille (SPEC.md §6a gives the defaults' reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V5Params {
    pub rule: RuleParams,
    /// `τ_s`: stale at a cosine this high to another slot's previous reveal (1001: off).
    pub stale_milli: u32,
    /// `τ_p`: stale at a cosine this high to `d_i` (1001: off).
    pub public_milli: u32,
    /// Krum's distance floor: the quantile of candidate pairs' distances (0: no floor).
    pub floor_quantile_milli: u32,
    /// The replication kernel's ramp on `ρ_ik`, from `lo` (κ = 0) to `hi` (κ = 1000).
    pub copy_lo_milli: i32,
    pub copy_hi_milli: i32,
    /// The self-consistency ramp, from `σ_lo` (0) to `σ_hi` (1000); `σ_hi = 0`: off.
    pub self_lo_milli: i32,
    pub self_hi_milli: i32,
}

impl V5Params {
    /// v2's parameters with v5's defaults: the values measured in the README's table.
    pub fn new(rule: RuleParams) -> Self {
        Self {
            rule,
            stale_milli: 950,
            public_milli: 980,
            floor_quantile_milli: 250,
            copy_lo_milli: 300,
            copy_hi_milli: 700,
            self_lo_milli: 600,
            self_hi_milli: 850,
        }
    }

    pub fn check(&self) -> Result<(), RuleError> {
        self.rule.check()?;
        if self.stale_milli > 1001 || self.public_milli > 1001 {
            return Err(RuleError::BadParams(
                "the stale cosines must be at most 1001 per mille (1001 = off)",
            ));
        }
        if self.floor_quantile_milli > 1000 {
            return Err(RuleError::BadParams(
                "the distance floor's quantile must be at most 1000 per mille",
            ));
        }
        if !(-1000..=1000).contains(&self.copy_lo_milli)
            || !(-1000..=1000).contains(&self.copy_hi_milli)
            || self.copy_lo_milli >= self.copy_hi_milli
        {
            return Err(RuleError::BadParams(
                "the replication ramp needs -1000 <= lo < hi <= 1000 per mille",
            ));
        }
        if self.self_hi_milli != 0
            && (!(-1000..=1000).contains(&self.self_lo_milli)
                || !(-1000..=1000).contains(&self.self_hi_milli)
                || self.self_lo_milli >= self.self_hi_milli)
        {
            return Err(RuleError::BadParams(
                "the self-consistency ramp needs -1000 <= lo < hi <= 1000 per mille (hi = 0: off)",
            ));
        }
        Ok(())
    }
}

/// What v5 keeps from one round for the next: all of it public once the round is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    /// Present and not stale: what the stale filter compares against.
    pub reference: Vec<bool>,
    pub accepted: Vec<bool>,
    /// `P_kl = ⟨p_k, p_l⟩` for every pair of slots (zero rows where absent).
    pub gram: Vec<Vec<i64>>,
}

/// Everything v5 decides from `G`, `X` and `P` (steps 1–3 and 5–7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionV5 {
    pub stale: Vec<bool>,
    /// v2's steps 1–6 with the stale slots absent (its `accepted` and `scores` are v2's,
    /// not v5's: read the fields below).
    pub base: Decision,
    /// `φ`, Krum's distance floor (0 when Krum did not run or the floor is off).
    pub floor: u64,
    /// Krum scores with the floor (0 where Krum did not score the slot).
    pub krum: Vec<u64>,
    pub accepted: Vec<bool>,
    /// `w_k`, the mean's weights per mille (step 4; 0 outside the accepted).
    pub weights: Vec<u32>,
    /// `a_i = cos(u_i, S_C)` per mille (0 outside the candidates).
    pub alignment: Vec<i32>,
    /// `κ_ik` per mille (0 outside candidate pairs and on the diagonal).
    pub kappa: Vec<Vec<i32>>,
    /// `m_i` per mille.
    pub multiplicity: Vec<u32>,
    /// `r_i` per mille.
    pub consistency: Vec<u32>,
    /// Scores in parts per million.
    pub scores: Vec<u32>,
}

/// A v5 round: the decision, the new model, and what the next round needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundOutcomeV5 {
    pub decision: DecisionV5,
    pub new_model: Vec<i16>,
    pub previous: Previous,
}

/// Runs v5 on vectors: `previous` is the last round's reveals and what it decided (`None`
/// in a project's first round). `updates` and `previous.0` hold one entry per slot.
pub fn run(
    params: &V5Params,
    prev_model: &[i16],
    updates: &[Option<&[i16]>],
    previous: Option<(&[Option<&[i16]>], &Previous)>,
) -> Result<RoundOutcomeV5, RuleError> {
    params.check()?;
    let (n, dim) = (params.rule.slots, params.rule.dim);
    let zero = vec![0i16; dim];
    let vecs = vectors(updates, n, &zero)?;
    if prev_model.len() != dim {
        return Err(RuleError::ModelLength {
            expected: dim,
            got: prev_model.len(),
        });
    }
    let present: Vec<bool> = updates.iter().map(Option::is_some).collect();
    let gram = gram_matrix(&vecs);
    let cross = match previous {
        Some((reveals, last)) => {
            let pv = vectors(reveals, n, &zero)?;
            Some((cross_gram(&vecs, &pv), last))
        }
        None => None,
    };
    let decision = decide_v5(
        params,
        &present,
        &gram,
        cross.as_ref().map(|(x, p)| (x.as_slice(), *p)),
    )?;
    let new_model = capped_mean(prev_model, &vecs, &decision.accepted, &decision.weights)?;
    let previous = Previous {
        reference: (0..n).map(|i| present[i] && !decision.stale[i]).collect(),
        accepted: decision.accepted.clone(),
        gram,
    };
    Ok(RoundOutcomeV5 {
        decision,
        new_model,
        previous,
    })
}

/// One entry per slot, then v2's [`slot_vectors`].
fn vectors<'a>(
    updates: &[Option<&'a [i16]>],
    n: usize,
    zero: &'a [i16],
) -> Result<Vec<&'a [i16]>, RuleError> {
    if updates.len() != n {
        return Err(RuleError::SlotCount {
            expected: n,
            got: updates.len(),
        });
    }
    slot_vectors(updates, zero)
}

/// A project's rounds under v5: it keeps the last round's reveals and [`Previous`], so each
/// [`Rounds::step`] is [`run`] with the history it needs.
#[derive(Debug, Clone)]
pub struct Rounds {
    pub params: V5Params,
    last: Option<(Vec<Option<Vec<i16>>>, Previous)>,
}

impl Rounds {
    pub fn new(params: V5Params) -> Self {
        Self { params, last: None }
    }

    /// The next round from `prev_model`; on success it becomes the history.
    pub fn step(
        &mut self,
        prev_model: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RoundOutcomeV5, RuleError> {
        let now: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
        let last: Option<(Vec<Option<&[i16]>>, &Previous)> = self
            .last
            .as_ref()
            .map(|(r, p)| (r.iter().map(|u| u.as_deref()).collect(), p));
        let o = run(
            &self.params,
            prev_model,
            &now,
            last.as_ref().map(|(r, p)| (r.as_slice(), *p)),
        )?;
        self.last = Some((updates.to_vec(), o.previous.clone()));
        Ok(o)
    }
}

/// Step 4: `g + ⌊Σ_{accepted} w_k·u_k / Σ_{accepted} w_k⌋` (the model unchanged with
/// nothing accepted).
pub fn capped_mean(
    prev: &[i16],
    vecs: &[&[i16]],
    accepted: &[bool],
    weights: &[u32],
) -> Result<Vec<i16>, RuleError> {
    let acc: Vec<usize> = (0..vecs.len()).filter(|&k| accepted[k]).collect();
    let total: i64 = acc
        .iter()
        .map(|&k| i64::from(weights[k]))
        .sum::<i64>()
        .max(1);
    prev.iter()
        .enumerate()
        .map(|(j, &g)| {
            let s: i64 = acc
                .iter()
                .map(|&k| i64::from(weights[k]) * i64::from(vecs[k][j]))
                .sum();
            i16::try_from(i64::from(g) + floor_div(s, total).0)
                .map_err(|_| RuleError::ModelOverflow { index: j })
        })
        .collect()
}

/// `w`: the largest integer in `[0, 1000]` with `w²·norm ≤ 10⁶·median` (1000 for a zero
/// norm, which is never accepted).
pub fn mean_weight(norm: u64, median: u64) -> u32 {
    if norm == 0 {
        return 1000;
    }
    largest_fitting(1000, |w| {
        u128::from(w) * u128::from(w) * u128::from(norm) <= 1_000_000 * u128::from(median)
    })
}

/// `X_ik = ⟨a_i, b_k⟩`.
fn cross_gram(a: &[&[i16]], b: &[&[i16]]) -> Vec<Vec<i64>> {
    a.iter()
        .map(|x| b.iter().map(|y| super::dot(x, y)).collect())
        .collect()
}

fn check_square(m: &[Vec<i64>], n: usize) -> Result<(), RuleError> {
    if m.len() != n || m.iter().any(|r| r.len() != n) {
        return Err(RuleError::SlotCount {
            expected: n,
            got: m.len(),
        });
    }
    Ok(())
}

/// Step 3's floor `φ`: the element at 0-based position `min(⌊P·q/1000⌋, P − 1)` of the
/// `P` pair distances sorted ascending; 0 when `q = 0` or there are no pairs.
pub fn distance_floor(pairs: &[u64], quantile_milli: u32) -> u64 {
    if quantile_milli == 0 || pairs.is_empty() {
        return 0;
    }
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    let q = (sorted.len() * quantile_milli as usize / 1000).min(sorted.len() - 1);
    sorted[q]
}

/// `clamp(⌊1000·(c − lo) / (hi − lo)⌋, 0, 1000)` for `lo < hi`.
pub fn ramp(c: i32, lo: i32, hi: i32) -> u32 {
    let v = (i64::from(c) - i64::from(lo)) * 1000;
    v.div_euclid(i64::from(hi) - i64::from(lo)).clamp(0, 1000) as u32
}

/// Steps 1–3 and 5–7 from `gram` (this round), and `cross = (X, previous)` after a first
/// round.
pub fn decide_v5(
    params: &V5Params,
    present: &[bool],
    gram: &[Vec<i64>],
    cross: Option<(&[Vec<i64>], &Previous)>,
) -> Result<DecisionV5, RuleError> {
    params.check()?;
    let n = params.rule.slots;
    check_square(gram, n)?;
    if present.len() != n {
        return Err(RuleError::SlotCount {
            expected: n,
            got: present.len(),
        });
    }
    if let Some((x, last)) = cross {
        check_square(x, n)?;
        check_square(&last.gram, n)?;
        if [&last.reference, &last.accepted]
            .iter()
            .any(|v| v.len() != n)
        {
            return Err(RuleError::SlotCount {
                expected: n,
                got: last.reference.len(),
            });
        }
    }
    let norm = |i: usize| gram[i][i].max(0) as u64;

    // 1. Stale.
    let mut stale = vec![false; n];
    if let Some((x, last)) = cross {
        let acc: Vec<usize> = (0..n).filter(|&k| last.accepted[k]).collect();
        let p_sum: i64 = acc
            .iter()
            .flat_map(|&k| acc.iter().map(move |&l| (k, l)))
            .map(|(k, l)| last.gram[k][l])
            .sum();
        for i in (0..n).filter(|&i| present[i]) {
            let copies_other = (0..n).any(|k| {
                k != i
                    && last.reference[k]
                    && signed_cosine(x[i][k], norm(i), last.gram[k][k].max(0) as u64)
                        >= params.stale_milli as i32
            });
            let mut ud: i64 = acc.iter().map(|&k| x[i][k]).sum();
            let mut dd = p_sum;
            if last.accepted[i] {
                ud -= x[i][i];
                dd -= 2 * acc.iter().map(|&k| last.gram[i][k]).sum::<i64>() - last.gram[i][i];
            }
            let copies_public =
                dd > 0 && signed_cosine(ud, norm(i), dd as u64) >= params.public_milli as i32;
            stale[i] = copies_other || copies_public;
        }
    }

    // 2. v2's steps 1–6 with the stale slots absent.
    let live: Vec<bool> = (0..n).map(|i| present[i] && !stale[i]).collect();
    let masked: Vec<Vec<i64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|k| if live[i] && live[k] { gram[i][k] } else { 0 })
                .collect()
        })
        .collect();
    let base = decide(&params.rule, &live, &masked)?;
    let cand: Vec<usize> = (0..n).filter(|&i| base.candidates[i]).collect();

    // 3. Krum with a distance floor.
    let mut floor = 0u64;
    let mut krum = vec![0u64; n];
    let accepted = if base.krum_ran {
        let mut pairs: Vec<u64> = Vec::new();
        for (a, &i) in cand.iter().enumerate() {
            for &k in &cand[a + 1..] {
                pairs.push(base.angular_distance(i, k));
            }
        }
        floor = distance_floor(&pairs, params.floor_quantile_milli);
        let k = cand.len() - base.byzantine_left - 2;
        for &i in &cand {
            let ds: Vec<u64> = cand
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| base.angular_distance(i, j).max(floor))
                .collect();
            krum[i] = k_smallest(&ds, k).0;
        }
        keep_lowest(&krum, &base.candidates, cand.len() - base.byzantine_left)
    } else {
        vec![false; n]
    };
    let acc: Vec<usize> = (0..n).filter(|&i| accepted[i]).collect();

    // 4. The capped mean's weights (the mean itself reads the vectors).
    let weights: Vec<u32> = (0..n)
        .map(|i| {
            if accepted[i] {
                mean_weight(norm(i), base.median_norm)
            } else {
                0
            }
        })
        .collect();

    // 5. The replication kernel over the candidates.
    let s_dot: Vec<i64> = (0..n)
        .map(|i| cand.iter().map(|&k| masked[i][k]).sum())
        .collect();
    let s_norm = cand.iter().map(|&i| s_dot[i]).sum::<i64>().max(0) as u64;
    let mut alignment = vec![0i32; n];
    for &i in &cand {
        alignment[i] = signed_cosine(s_dot[i], norm(i), s_norm);
    }
    let scale = i64::from(SCORE_SCALE);
    let mut kappa = vec![vec![0i32; n]; n];
    for &i in &cand {
        for &k in cand.iter().filter(|&&k| k != i) {
            let (a, b) = (i64::from(alignment[i]), i64::from(alignment[k]));
            let num = scale * i64::from(base.cosines[i][k]) - a * b;
            let rho = signed_cosine(
                num,
                (scale * scale - a * a) as u64,
                (scale * scale - b * b) as u64,
            );
            kappa[i][k] = ramp(rho, params.copy_lo_milli, params.copy_hi_milli) as i32;
        }
    }
    let multiplicity: Vec<u32> = (0..n)
        .map(|i| 1000 + (0..n).map(|k| kappa[i][k] as u32).sum::<u32>())
        .collect();

    // 6. Self-consistency.
    let consistency: Vec<u32> = (0..n)
        .map(|i| match cross {
            Some((x, last)) if params.self_hi_milli != 0 => {
                let c = signed_cosine(x[i][i], norm(i), last.gram[i][i].max(0) as u64);
                ramp(c, params.self_lo_milli, params.self_hi_milli)
            }
            _ => 1000,
        })
        .collect();

    // 7. Scores.
    let mut scores = vec![0u32; n];
    if base.krum_ran {
        for &i in &cand {
            let w = |k: usize| i128::from(1000 - kappa[i][k]);
            let others: Vec<usize> = acc.iter().copied().filter(|&k| k != i).collect();
            let uo: i128 = others
                .iter()
                .map(|&k| w(k) * i128::from(masked[i][k]))
                .sum();
            let oo: i128 = others
                .iter()
                .flat_map(|&k| others.iter().map(move |&l| (k, l)))
                .map(|(k, l)| w(k) * w(l) * i128::from(masked[k][l]))
                .sum();
            if uo <= 0 || oo <= 0 {
                continue;
            }
            scores[i] = score_ppm(
                uo as u128,
                oo as u128,
                norm(i),
                consistency[i],
                multiplicity[i],
            );
        }
    }

    Ok(DecisionV5 {
        stale,
        base,
        floor,
        krum,
        accepted,
        weights,
        alignment,
        kappa,
        multiplicity,
        consistency,
        scores,
    })
}

/// `⌊10⁶·uo²·r / (norm·oo·m)⌋`, at most 10⁶ (Cauchy–Schwarz bounds it for real vectors;
/// the clamp only guards inputs that are not a Gram matrix).
pub fn score_ppm(uo: u128, oo: u128, norm: u64, r: u32, m: u32) -> u32 {
    let num = Wide::from(uo)
        .times(uo)
        .times(u128::from(SCORE_SCALE_V5))
        .times(u128::from(r));
    let den = Wide::from(oo).times(u128::from(norm)).times(u128::from(m));
    if den.is_zero() {
        return 0;
    }
    largest_fitting(SCORE_SCALE_V5, |q| den.times(u128::from(q)) <= num)
}

/// An unsigned 320-bit number, little-endian 64-bit limbs: products here stay below
/// 2^190, so nothing overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wide([u64; 5]);

impl From<u128> for Wide {
    fn from(v: u128) -> Self {
        Wide([v as u64, (v >> 64) as u64, 0, 0, 0])
    }
}

impl Wide {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    /// `self · b`; panics on overflow past 320 bits (unreachable within the rule's limits).
    pub fn times(self, b: u128) -> Self {
        let mut out = [0u64; 5];
        for (j, bj) in [b as u64, (b >> 64) as u64].into_iter().enumerate() {
            if bj == 0 {
                continue;
            }
            let mut carry = 0u128;
            for i in 0..5 - j {
                let t = u128::from(self.0[i]) * u128::from(bj) + u128::from(out[i + j]) + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            assert!(
                carry == 0 && self.0[5 - j..].iter().all(|&l| l == 0),
                "Wide overflow"
            );
        }
        Wide(out)
    }
}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wide {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index loops mirror the rule's maths
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIM: usize = 64;

    /// A seeded vector with coordinates in `[−1, 1)` (xorshift).
    fn noise(seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..DIM)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// `a·x̂ + b·ŷ`, quantised at length about 2000.
    fn mix(a: f64, x: &[f64], b: f64, y: &[f64]) -> Vec<i16> {
        let unit = |v: &[f64]| {
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.iter().map(|x| x / n).collect::<Vec<f64>>()
        };
        let (x, y) = (unit(x), unit(y));
        let v: Vec<f64> = x.iter().zip(&y).map(|(p, q)| a * p + b * q).collect();
        unit(&v)
            .iter()
            .map(|z| (2000.0 * z).round() as i16)
            .collect()
    }

    fn params(slots: usize) -> V5Params {
        V5Params::new(RuleParams::new(slots, DIM, 1, 1 << 40))
    }

    /// Honest non-IID-like updates of `count` slots in round `t`: a shared direction and a
    /// private one per slot that drifts slowly (own-round cosine ≈ 0.95).
    fn honest(count: usize, t: u64) -> Vec<Vec<i16>> {
        let shared = mix(1.0, &noise(1_000), 0.25, &noise(1_000 + t));
        let shared: Vec<f64> = shared.iter().map(|&v| f64::from(v)).collect();
        (0..count)
            .map(|k| {
                let own = mix(1.0, &noise(k as u64), 0.25, &noise(100 * k as u64 + t));
                let own: Vec<f64> = own.iter().map(|&v| f64::from(v)).collect();
                mix(0.45, &shared, 0.9, &own)
            })
            .collect()
    }

    fn opts(v: &[Vec<i16>]) -> Vec<Option<&[i16]>> {
        v.iter().map(|u| Some(&u[..])).collect()
    }

    fn cos(a: &[i16], b: &[i16]) -> f64 {
        let d = super::super::dot(a, b) as f64;
        d / ((super::super::norm_sq(a) as f64) * (super::super::norm_sq(b) as f64)).sqrt()
    }

    #[test]
    fn a_first_round_pays_every_candidate_its_squared_consensus_cosine() {
        let p = params(6);
        let ups = honest(6, 0);
        let o = run(&p, &[0; DIM], &opts(&ups), None).unwrap();
        let d = &o.decision;
        assert_eq!(d.stale, [false; 6]);
        assert_eq!(d.consistency, [1000; 6]);
        assert!(d.base.krum_ran);
        assert_eq!(d.accepted.iter().filter(|&&a| a).count(), 5, "n − f = 5");
        // Honest pairs agree through the shared direction only: no replication.
        assert!(d.kappa.iter().flatten().all(|&k| k == 0), "{:?}", d.kappa);
        assert_eq!(d.multiplicity, [1000; 6]);
        for i in 0..6 {
            // Recompute cos²(u_i, O_i) in floating point.
            let o_i: Vec<f64> = (0..DIM)
                .map(|j| {
                    (0..6)
                        .filter(|&k| k != i && d.accepted[k])
                        .map(|k| f64::from(ups[k][j]))
                        .sum()
                })
                .collect();
            let uo: f64 = (0..DIM).map(|j| f64::from(ups[i][j]) * o_i[j]).sum();
            let oo: f64 = o_i.iter().map(|x| x * x).sum();
            let c2 = uo * uo / (super::super::norm_sq(&ups[i]) as f64 * oo);
            let want = (1e6 * c2).floor() as i64;
            assert!(
                (i64::from(d.scores[i]) - want).abs() <= 1,
                "slot {i}: {} against {want}",
                d.scores[i]
            );
            assert!(d.scores[i] > 0, "the rejected candidate is paid too");
        }
        // The capped mean: weights from the median norm, 1000 up to the median's length.
        let acc: Vec<usize> = (0..6).filter(|&i| d.accepted[i]).collect();
        let m = d.base.median_norm;
        for &k in &acc {
            let (w, n) = (u64::from(d.weights[k]), super::super::norm_sq(&ups[k]));
            assert!(
                w * w * n <= 1_000_000 * m && (w == 1000 || (w + 1) * (w + 1) * n > 1_000_000 * m)
            );
            assert_eq!(w == 1000, n <= m, "slot {k}");
        }
        let total: i64 = acc.iter().map(|&k| i64::from(d.weights[k])).sum();
        let s0: i64 = acc
            .iter()
            .map(|&k| i64::from(d.weights[k]) * i64::from(ups[k][0]))
            .sum();
        assert_eq!(i64::from(o.new_model[0]), s0.div_euclid(total));
    }

    #[test]
    fn jittered_copies_are_one_update_paid_once() {
        let p = params(7);
        let mut ups = honest(4, 0);
        let orig = ups[0].clone();
        let orig_f: Vec<f64> = orig.iter().map(|&v| f64::from(v)).collect();
        for s in 0..3 {
            ups.push(mix(1.0, &orig_f, 0.12, &noise(500 + s)));
        }
        ups.remove(0);
        // Slots 3, 4, 5 are the copies; slot 6 an extra honest trainer.
        ups.push(honest(5, 0)[4].clone());
        let o = run(&p, &[0; DIM], &opts(&ups), None).unwrap();
        let d = &o.decision;
        for (i, k) in [(3, 4), (3, 5), (4, 5)] {
            assert!(cos(&ups[i], &ups[k]) > 0.97);
            assert_eq!(d.kappa[i][k], 1000, "copies {i} and {k}");
        }
        assert!(d.kappa[0][1] == 0 && d.kappa[0][3] == 0);
        assert!(d.multiplicity[3] >= 3000 && d.multiplicity[0] == 1000);
        let group: u32 = (3..6).map(|i| d.scores[i]).sum();
        let honest_mean = (0..3).map(|i| d.scores[i]).sum::<u32>() / 3;
        assert!(
            group < 2 * honest_mean,
            "the three copies earn {group}, an honest slot {honest_mean}"
        );
    }

    /// Round 0 honest, then round 1 with slot 0 replaced by an attacker's update.
    fn second_round(attack: impl Fn(&[Vec<i16>], &[Vec<i16>], &[bool]) -> Vec<i16>) -> DecisionV5 {
        let p = params(6);
        let r0 = honest(6, 0);
        let first = run(&p, &[0; DIM], &opts(&r0), None).unwrap();
        let mut r1 = honest(6, 1);
        r1[0] = attack(&r0, &r1, &first.decision.accepted);
        run(
            &p,
            &first.new_model,
            &opts(&r1),
            Some((&opts(&r0), &first.previous)),
        )
        .unwrap()
        .decision
    }

    #[test]
    fn an_honest_second_round_is_self_consistent_and_nobody_is_stale() {
        let d = second_round(|_, r1, _| r1[0].clone());
        assert_eq!(d.stale, [false; 6]);
        assert!(
            d.consistency.iter().all(|&r| r == 1000),
            "{:?}",
            d.consistency
        );
        assert!(d.scores.iter().all(|&s| s > 0), "{:?}", d.scores);
    }

    #[test]
    fn a_griefers_copy_of_a_victims_last_reveal_is_stale_and_the_victim_is_kept() {
        let d = second_round(|r0, _, _| {
            let v: Vec<f64> = r0[3].iter().map(|&x| f64::from(x)).collect();
            mix(1.0, &v, 0.01, &noise(77))
        });
        assert!(d.stale[0], "the copy of slot 3's round-0 reveal");
        assert!(!d.stale[3] && !d.base.duplicate[3]);
        assert!(d.scores[3] > 0 && d.scores[0] == 0);
    }

    #[test]
    fn the_last_public_change_is_stale_and_an_update_unlike_its_own_last_one_earns_nothing() {
        // d_0: slot 0 was accepted in round 0, so its own reveal is left out of the sum.
        let d = second_round(|r0, _, accepted| {
            let sum: Vec<f64> = (0..DIM)
                .map(|j| {
                    (1..6)
                        .filter(|&k| accepted[k])
                        .map(|k| f64::from(r0[k][j]))
                        .sum()
                })
                .collect();
            mix(1.0, &sum, 0.05, &noise(9))
        });
        assert!(d.stale[0]);
        assert_eq!(d.scores[0], 0);

        // Fresh noise: not stale, a candidate, but at cosine ≈ 0 to its own last reveal.
        let d = second_round(|_, _, _| mix(1.0, &noise(4242), 0.0, &noise(1)));
        assert!(!d.stale[0]);
        assert_eq!(d.consistency[0], 0);
        assert_eq!(d.scores[0], 0);
    }

    #[test]
    fn honest_iid_updates_get_near_equal_pay() {
        // IID: one shared direction, equal private noise (pairwise cosines about 0.8).
        let shared = noise(7);
        let ups: Vec<Vec<i16>> = (0..8)
            .map(|k| mix(1.0, &shared, 0.5, &noise(20 + k)))
            .collect();
        let s = run(&params(8), &[0; DIM], &opts(&ups), None)
            .unwrap()
            .decision
            .scores;
        let (lo, hi) = (*s.iter().min().unwrap(), *s.iter().max().unwrap());
        assert!(lo > 0 && f64::from(hi) <= 1.25 * f64::from(lo), "{s:?}");
        // v2 pays only Krum's keepers: with f = 1 one honest trainer gets nothing.
        let v2 = super::super::run(&params(8).rule, &[0; DIM], &opts(&ups)).unwrap();
        assert_eq!(v2.decision.scores.iter().filter(|&&x| x == 0).count(), 1);
    }

    #[test]
    fn a_long_accepted_update_moves_the_mean_by_at_most_the_medians_length() {
        // Five updates in one direction, one five times as long: all accepted (f = 0).
        let d = noise(9);
        let mut ups: Vec<Vec<i16>> = (0..5).map(|k| mix(1.0, &d, 0.2, &noise(60 + k))).collect();
        ups[4] = ups[4].iter().map(|&v| v * 5).collect();
        let p = V5Params::new(RuleParams::new(5, DIM, 0, 1 << 40));
        let o = run(&p, &[0; DIM], &opts(&ups), None).unwrap();
        assert!(o.decision.accepted.iter().all(|&a| a));
        // The lower median is one of the short ones: they weigh about 1000.
        assert!(
            o.decision.weights[..4].iter().all(|&w| w >= 990),
            "{:?}",
            o.decision.weights
        );
        assert!(
            (195..=205).contains(&o.decision.weights[4]),
            "{:?}",
            o.decision.weights
        );
        let step = (super::super::norm_sq(&o.new_model) as f64).sqrt();
        // v2's mean: about (4 + 5)/5 of a length-2000 step; capped: at most 5·2000/4.2.
        let v2 = super::super::run(&p.rule, &[0; DIM], &opts(&ups)).unwrap();
        assert!((super::super::norm_sq(&v2.new_model) as f64).sqrt() > 3300.0);
        assert!(step <= 1.01 * 5.0 * 2000.0 / 4.2, "{step}");
    }

    #[test]
    fn bad_parameters_and_shapes_are_refused_by_name() {
        let mut p = params(4);
        p.copy_lo_milli = 700;
        assert!(matches!(p.check(), Err(RuleError::BadParams(m)) if m.contains("replication")));
        let mut p = params(4);
        p.stale_milli = 1002;
        assert!(matches!(p.check(), Err(RuleError::BadParams(m)) if m.contains("stale")));
        let p = params(4);
        let ups = honest(3, 0);
        assert_eq!(
            run(&p, &[0; DIM], &opts(&ups), None).unwrap_err(),
            RuleError::SlotCount {
                expected: 4,
                got: 3
            }
        );
        let ups = honest(4, 0);
        let short = [1i16; 3];
        let mut o = opts(&ups);
        o[2] = Some(&short);
        assert!(matches!(
            run(&p, &[0; DIM], &o, None),
            Err(RuleError::UpdateLength { slot: 2, .. })
        ));
    }

    #[test]
    fn ramp_is_floored_and_clamped() {
        assert_eq!(ramp(600, 600, 850), 0);
        assert_eq!(ramp(849, 600, 850), 996);
        assert_eq!(ramp(850, 600, 850), 1000);
        assert_eq!(ramp(-1000, 300, 700), 0);
        assert_eq!(ramp(301, 300, 700), 2);
    }

    proptest! {
        #[test]
        fn score_ppm_is_the_exact_floor(
            uo in 1u128..(1u128 << 66),
            oo in 1u128..(1u128 << 82),
            norm in 1u64..(1u64 << 50),
            r in 0u32..=1000,
            m in 1000u32..=64_000,
        ) {
            let q = score_ppm(uo, oo, norm, r, m);
            let num = Wide::from(uo).times(uo).times(1_000_000).times(u128::from(r));
            let den = Wide::from(oo).times(u128::from(norm)).times(u128::from(m));
            prop_assert!(den.times(u128::from(q)) <= num);
            if q < SCORE_SCALE_V5 {
                prop_assert!(den.times(u128::from(q) + 1) > num);
            }
        }

        #[test]
        fn wide_products_match_u128_where_they_fit(a in any::<u64>(), b in any::<u64>()) {
            let w = Wide::from(u128::from(a)).times(u128::from(b));
            prop_assert_eq!(w, Wide::from(u128::from(a) * u128::from(b)));
        }
    }
}
