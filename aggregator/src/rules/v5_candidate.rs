//! A candidate for protocol v5's rule (issue #23), for simulation only: not in
//! `protocol::rule`, not proven (`merit simulate --rule v5-candidate`; README, "Candidate
//! rule v5"). It keeps v2's ceiling, length band, duplicate filter and angular Multi-Krum,
//! and changes the rest; every decision reads Gram-type matrices only (inner products of
//! this round's updates with each other and with last round's public reveals):
//!
//! 1. **Stale filter**, before the duplicate filter: an update is treated as absent when
//!    its per-mille cosine is `≥ stale_milli` to *another* account's previous-round reveal
//!    (that reveal not stale itself, so a griefer's copy of the victim's round `t − 2`
//!    cannot flag the victim in `t`), or `≥ public_milli` to `d_i`, last round's accepted
//!    sum without slot `i`'s own part of it (a public copy of the last change). Resubmitting
//!    a victim's old reveal then no longer drops the victim as its duplicate.
//! 2. **Krum with a distance floor**: angular distances below the `floor_quantile_milli`
//!    quantile of all candidate pairs' are raised to it, so near-copies are no nearer
//!    neighbours than a typical pair (sybils no longer vote each other in).
//! 3. **Capped mean**: `Δ = ⌊Σ w_k·u_k / Σ w_k⌋` over the accepted, with weight
//!    `w_k = min(1, γ·m/‖u_k‖)` (`m` the median length, `γ = clip_milli / 1000`): no
//!    accepted update pulls with more than `γ·m` (v2 let one pull with up to `ρ·m`).
//! 4. **Score**, for every Krum candidate (eligible, not stale, not a duplicate), accepted
//!    or not (on IID data Krum keeps the most central updates round after round):
//!    - `κ_ik` ∈ [0, 1]: a ramp from `copy_lo` to `copy_hi` on the partial correlation of
//!      `u_i` and `u_k` given the candidates' sum `S`,
//!      `(c_ik − c_iS·c_kS) / √((1 − c_iS²)(1 − c_kS²))`: near-copies share what `S` does
//!      not explain, two honest updates of one distribution (IID) are alike through `S`;
//!    - multiplicity `m_i = 1 + Σ_{k candidate, k≠i} κ_ik`, consensus
//!      `O_i = Σ_{k accepted, k≠i} (1 − κ_ik)·u_k` (its near-copies left out);
//!    - `score_i = ⌊10⁶ · max(0, cos(u_i, O_i))² / m_i⌋`, in parts per million. `K` copies
//!      of an update with independent jitter to cosine `c` are each other's `κ = 1`, so each
//!      earns `c²/K` of what the original would: the group `c²` of it.
//!    - times a **self-consistency ramp**: 0 at a per-mille cosine `self_lo_milli` of
//!      `u_i` to the slot's *own* previous-round reveal (absent: no pay), 1 at
//!      `self_hi_milli`. An honest update points where its own data pointed last round
//!      (cosine 0.95–0.97); one epoch on a tenth of the rows (`lazy:0.1`) does not. The
//!      inner product is the cross Gram matrix's diagonal, which the stale filter needs
//!      anyway. It does not stop an update that mixes in its own previous reveal (the red
//!      team's `adaptive` search tries that).
//!
//! Kept as options, measured and left off: removing from the score what `d_i` explains
//! (`residual`; honest non-IID residuals are anti-correlated, so honest pay collapses),
//! and `loo` variants of `d_i`.

use super::{check_lengths, Rule, RuleOutcome};
use merit_protocol::rule::{self, RuleError, RuleParams};

/// Scores are in parts per million of a lone, fully agreeing update.
pub const SCORE_SCALE: f64 = 1e6;

/// The candidate's own parameters (the rest are v2's [`RuleParams`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V5Params {
    /// Stale at per-mille cosine `≥` this to another account's previous reveal; 0: off.
    pub stale_milli: u32,
    /// Remove from the score what `d_i` explains: `⟨u_i, O_i⟩ − ⟨u_i, d_i⟩⟨d_i, O_i⟩/‖d_i‖²`
    /// (measured worse; off).
    pub residual: bool,
    /// Divide pay among near-copies (the ramp kernel below).
    pub replication: bool,
    /// The kernel `κ_ik` is 0 up to a partial correlation (of `u_i` and `u_k` given
    /// the candidates' sum) of `lo` per mille and rises linearly to 1 at `hi`.
    pub copy_lo_milli: u32,
    pub copy_hi_milli: u32,
    /// `γ` per mille for the capped mean; 0: the plain floored mean (v2).
    pub clip_milli: u32,
    /// What `d_i` leaves out of `P`: 0 nothing, 1 `p_i`, 2 `p_i`'s own (unexplained) part.
    pub loo: u8,
    /// Stale at per-mille cosine `≥` this to the leave-one-out previous change `d_i`; 0: off.
    pub public_milli: u32,
    /// Score every candidate (eligible, not stale, not a duplicate), not only those Krum
    /// keeps: on IID data Krum keeps the most central updates round after round.
    pub pay_candidates: bool,
    /// Pay `cos²` instead of `cos` (sharper: a noisier, lazier update earns less; and no
    /// square root to prove).
    pub squared: bool,
    /// Krum's angular distances are raised to at least this quantile (per mille) of all
    /// candidate pairs' distances, so near-copies are no nearer neighbours than a typical
    /// pair; 0: off (v2's Krum).
    pub floor_quantile_milli: u32,
    /// Pay times a ramp from 0 at this per-mille cosine of the update to the slot's own
    /// previous reveal (absent: 0) to 1 at `self_hi_milli`; `self_hi_milli == 0`: off.
    pub self_lo_milli: u32,
    pub self_hi_milli: u32,
}

impl Default for V5Params {
    fn default() -> Self {
        Self {
            stale_milli: 950,
            residual: false,
            replication: true,
            copy_lo_milli: 300,
            copy_hi_milli: 700,
            clip_milli: 1000,
            loo: 2,
            public_milli: 980,
            floor_quantile_milli: 250,
            pay_candidates: true,
            squared: true,
            self_lo_milli: 600,
            self_hi_milli: 850,
        }
    }
}

/// What the rule keeps from the previous round (all public: reveals and accept bits).
#[derive(Debug, Clone)]
struct Last {
    reveals: Vec<Option<Vec<i16>>>,
    /// Present and not stale: a reference for the stale filter.
    reference: Vec<bool>,
    accepted: Vec<bool>,
    /// Each slot's previous reveal minus what its `d_i` explained (`loo = 2`).
    own: Vec<Vec<f64>>,
}

/// The v5 candidate; stateful across rounds (the previous round's reveals).
#[derive(Debug, Clone)]
pub struct V5Candidate {
    pub params: RuleParams,
    pub v5: V5Params,
    last: Option<Last>,
}

/// Per-round details beyond [`RuleOutcome`], for tests and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V5Outcome {
    pub outcome: RuleOutcome,
    pub stale: Vec<bool>,
    /// `m_i` per mille (1000 = alone).
    pub multiplicity: Vec<u32>,
    /// The self-consistency ramp per mille (1000: full pay; 1000 for all in a first round
    /// or with the ramp off).
    pub consistency: Vec<u32>,
}

impl V5Params {
    /// The self-consistency ramp per mille for a per-mille cosine `c` to the slot's own
    /// previous reveal.
    pub fn consistency_milli(&self, c: i32) -> u32 {
        if self.self_hi_milli == 0 {
            return 1000;
        }
        let (lo, hi) = (i64::from(self.self_lo_milli), i64::from(self.self_hi_milli));
        if hi <= lo {
            return if i64::from(c) >= hi { 1000 } else { 0 };
        }
        ((i64::from(c) - lo) * 1000 / (hi - lo)).clamp(0, 1000) as u32
    }
}

/// `⌊√x⌋`.
fn isqrt(x: u128) -> u128 {
    if x < 2 {
        return x;
    }
    let mut r = (x as f64).sqrt() as u128;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

impl V5Candidate {
    pub fn new(params: RuleParams, v5: V5Params) -> Self {
        Self {
            params,
            v5,
            last: None,
        }
    }

    /// Aggregates one round and says which slots were stale and each one's multiplicity.
    pub fn run(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<V5Outcome, RuleError> {
        check_lengths(prev, updates)?;
        let n = updates.len();
        let zero = vec![0i16; prev.len()];
        let vec_of = |u: &Option<Vec<i16>>| -> Vec<i16> { u.clone().unwrap_or(zero.clone()) };
        let cur: Vec<Vec<i16>> = updates.iter().map(vec_of).collect();
        let norms: Vec<u64> = cur.iter().map(|u| rule::norm_sq(u)).collect();

        // Cross inner products with the previous reveals: X[i][k] = ⟨u_i, p_k⟩.
        let last = self.last.as_ref().filter(|l| l.reveals.len() == n);
        let prev_vecs: Vec<Vec<i16>> = last.map_or(vec![zero.clone(); n], |l| {
            l.reveals.iter().map(vec_of).collect()
        });
        let x: Vec<Vec<i64>> = cur
            .iter()
            .map(|u| prev_vecs.iter().map(|p| rule::dot(u, p)).collect())
            .collect();

        // d_i as a vector (simulation; in a circuit its inner products come from the
        // cross Gram matrix X and the carried `own` parts).
        let dim = prev.len();
        let p_sum: Vec<f64> = (0..dim)
            .map(|j| {
                last.map_or(0.0, |l| {
                    (0..n)
                        .filter(|&k| l.accepted[k])
                        .map(|k| f64::from(prev_vecs[k][j]))
                        .sum()
                })
            })
            .collect();
        let d_of = |i: usize| -> Vec<f64> {
            let Some(l) = last.filter(|l| l.accepted[i]) else {
                return p_sum.clone();
            };
            match self.v5.loo {
                0 => p_sum.clone(),
                1 => p_sum
                    .iter()
                    .zip(&prev_vecs[i])
                    .map(|(p, &v)| p - f64::from(v))
                    .collect(),
                _ => p_sum.iter().zip(&l.own[i]).map(|(p, v)| p - v).collect(),
            }
        };
        let dotf =
            |a: &[f64], b: &[i16]| -> f64 { a.iter().zip(b).map(|(x, &y)| x * f64::from(y)).sum() };
        // 1. Stale: within τ_s of another account's (non-stale) previous reveal.
        let mut stale = vec![false; n];
        if let (Some(l), true) = (last, self.v5.stale_milli > 0) {
            for i in (0..n).filter(|&i| updates[i].is_some()) {
                stale[i] = (0..n).filter(|&k| k != i && l.reference[k]).any(|k| {
                    let c = rule::signed_cosine(x[i][k], norms[i], rule::norm_sq(&prev_vecs[k]));
                    c >= self.v5.stale_milli as i32
                });
            }
        }
        // 1b. Stale: within τ_p of the previous change without its own part.
        if let (Some(_), true) = (last, self.v5.public_milli > 0) {
            for i in (0..n).filter(|&i| updates[i].is_some()) {
                let d = d_of(i);
                let dd: f64 = d.iter().map(|x| x * x).sum();
                let c = dotf(&d, &cur[i]) / (dd.sqrt() * (norms[i] as f64).sqrt());
                stale[i] |= dd > 0.0 && 1000.0 * c >= f64::from(self.v5.public_milli);
            }
        }
        let filtered: Vec<Option<&[i16]>> = updates
            .iter()
            .zip(&stale)
            .map(|(u, &s)| if s { None } else { u.as_deref() })
            .collect();
        let o = rule::run(&self.params, prev, &filtered)?;
        let candidates = o.decision.candidates.clone();
        let accepted = if self.v5.floor_quantile_milli == 0 || !o.decision.krum_ran {
            o.decision.accepted.clone()
        } else {
            // Krum again on v2's candidates and f', distances floored at a quantile.
            let cand: Vec<usize> = (0..n).filter(|&i| candidates[i]).collect();
            let dist = |i: usize, k: usize| (1000 - i64::from(o.decision.cosines[i][k])) as u64;
            let mut all: Vec<u64> = Vec::new();
            for (a, &i) in cand.iter().enumerate() {
                for &k in &cand[a + 1..] {
                    all.push(dist(i, k));
                }
            }
            all.sort_unstable();
            let q = (all.len() * self.v5.floor_quantile_milli as usize / 1000).min(all.len() - 1);
            let floor = all[q];
            let f = o.decision.byzantine_left;
            let k = cand.len() - f - 2;
            let mut krum = vec![0u64; n];
            for &i in &cand {
                let ds: Vec<u64> = cand
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| dist(i, j).max(floor))
                    .collect();
                krum[i] = rule::k_smallest(&ds, k).0;
            }
            rule::keep_lowest(&krum, &candidates, cand.len() - f)
        };
        let acc: Vec<usize> = (0..n).filter(|&i| accepted[i]).collect();

        // 2. The mean, weighted so that no update pulls with more than γ·m.
        let new_model = if acc.is_empty() {
            prev.to_vec()
        } else {
            let med = o.decision.median_norm;
            let gamma = u128::from(self.v5.clip_milli);
            // w_k = min(1000, ⌊γ·√(med/‖u_k‖²)⌋) per mille.
            let w: Vec<i64> = acc
                .iter()
                .map(|&k| {
                    if gamma == 0 {
                        return 1000;
                    }
                    let n_k = u128::from(norms[k].max(1));
                    isqrt(gamma * gamma * u128::from(med) / n_k).min(1000) as i64
                })
                .collect();
            let total: i64 = w.iter().sum::<i64>().max(1);
            let mut out = Vec::with_capacity(prev.len());
            for (j, &g) in prev.iter().enumerate() {
                let s: i64 = acc
                    .iter()
                    .zip(&w)
                    .map(|(&k, &wk)| wk * i64::from(cur[k][j]))
                    .sum();
                let d = rule::floor_div(s, total).0;
                out.push(
                    i16::try_from(i64::from(g) + d)
                        .map_err(|_| RuleError::ModelOverflow { index: j })?,
                );
            }
            out
        };

        // 3. Scores, from the Gram matrices only.
        let gram = |i: usize, k: usize| -> i64 { rule::dot(&cur[i], &cur[k]) };
        let mut g: Vec<Vec<i64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|k| if i == k { norms[i] as i64 } else { 0 })
                    .collect()
            })
            .collect();
        let cand: Vec<usize> = (0..n).filter(|&i| candidates[i]).collect();
        for (a, &i) in cand.iter().enumerate() {
            for &k in &cand[a + 1..] {
                let v = gram(i, k);
                g[i][k] = v;
                g[k][i] = v;
            }
        }
        // κ per mille.
        let mut kappa = vec![vec![0i64; n]; n];
        if self.v5.replication {
            // Partial correlation of i and k given the candidates' sum S: near-copies
            // share what S does not explain; two honest updates on the same
            // distribution (IID) are alike mostly through S.
            let s_dot: Vec<f64> = (0..n)
                .map(|i| cand.iter().map(|&k| g[i][k] as f64).sum())
                .collect();
            let s_norm: f64 = cand.iter().map(|&i| s_dot[i]).sum::<f64>().max(1.0);
            let c_s = |i: usize| s_dot[i] / ((norms[i] as f64).sqrt() * s_norm.sqrt()).max(1.0);
            let (lo, hi) = (
                f64::from(self.v5.copy_lo_milli) / 1000.0,
                f64::from(self.v5.copy_hi_milli) / 1000.0,
            );
            for &i in &cand {
                for &k in cand.iter().filter(|&&k| k != i) {
                    let c = g[i][k] as f64
                        / ((norms[i] as f64).sqrt() * (norms[k] as f64).sqrt()).max(1.0);
                    let (a, b) = (c_s(i), c_s(k));
                    let rest = ((1.0 - a * a).max(0.0) * (1.0 - b * b).max(0.0)).sqrt();
                    let rho = if rest > 1e-9 { (c - a * b) / rest } else { 0.0 };
                    kappa[i][k] = (1000.0 * ((rho - lo) / (hi - lo)).clamp(0.0, 1.0)) as i64;
                }
            }
        }
        let residual = self.v5.residual && last.is_some();
        // The self-consistency ramp: the cosine to its own previous reveal (0 if absent).
        let consistency: Vec<u32> = (0..n)
            .map(|i| match last {
                Some(_) => self.v5.consistency_milli(rule::signed_cosine(
                    x[i][i],
                    norms[i],
                    rule::norm_sq(&prev_vecs[i]),
                )),
                None => 1000,
            })
            .collect();
        let mut own_parts = vec![Vec::new(); n];
        let mut scores = vec![0u32; n];
        let mut multiplicity = vec![1000u32; n];
        for i in 0..n {
            let d = d_of(i);
            let dd: f64 = d.iter().map(|x| x * x).sum();
            let ud_i = dotf(&d, &cur[i]);
            // What is its own: u_i minus its projection on d_i (all of u_i without d_i).
            own_parts[i] = if dd > 0.0 && self.v5.loo == 2 {
                cur[i]
                    .iter()
                    .zip(&d)
                    .map(|(&v, &x)| f64::from(v) - ud_i / dd * x)
                    .collect()
            } else {
                cur[i].iter().map(|&v| f64::from(v)).collect()
            };
            if !(accepted[i] || self.v5.pay_candidates && candidates[i]) {
                continue;
            }
            let w = |k: usize| 1000 - kappa[i][k];
            let others: Vec<usize> = acc.iter().copied().filter(|&k| k != i).collect();
            // Multiplicity over every candidate, accepted or not, so that K lottery
            // tickets for acceptance do not pay more than one.
            let m_i = 1000
                + cand
                    .iter()
                    .map(|&k| if k == i { 0 } else { kappa[i][k] })
                    .sum::<i64>();
            multiplicity[i] = m_i as u32;
            // ⟨u_i, O_i⟩ and ‖O_i‖², O_i scaled by 1000.
            let uo: i128 = others
                .iter()
                .map(|&k| i128::from(w(k)) * i128::from(g[i][k]))
                .sum();
            let oo: i128 = others
                .iter()
                .map(|&k| {
                    others
                        .iter()
                        .map(|&l| i128::from(w(k)) * i128::from(w(l)) * i128::from(g[k][l]))
                        .sum::<i128>()
                })
                .sum();
            if uo <= 0 || oo <= 0 || norms[i] == 0 {
                continue;
            }
            let mut num = uo as f64;
            if residual && dd > 0.0 {
                let do_: f64 = others
                    .iter()
                    .map(|&k| w(k) as f64 * dotf(&d, &cur[k]))
                    .sum();
                num -= ud_i * do_ / dd;
            }
            if num <= 0.0 {
                continue;
            }
            let mut r = num / ((norms[i] as f64).sqrt() * (oo as f64).sqrt());
            if self.v5.squared {
                r *= r;
            }
            // Parts per million: per-mille scores divided by m_i would round away.
            let s = (SCORE_SCALE * r * f64::from(consistency[i]) / m_i as f64).floor();
            scores[i] = s.clamp(0.0, SCORE_SCALE) as u32;
        }

        self.last = Some(Last {
            reveals: updates.to_vec(),
            reference: (0..n).map(|i| updates[i].is_some() && !stale[i]).collect(),
            accepted: accepted.clone(),
            own: own_parts,
        });
        Ok(V5Outcome {
            outcome: RuleOutcome {
                new_model,
                accepted,
                scores,
            },
            stale,
            multiplicity,
            consistency,
        })
    }
}

impl Rule for V5Candidate {
    fn name(&self) -> &'static str {
        "v5-candidate"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        Ok(self.run(prev, updates)?.outcome)
    }

    fn fork(&self) -> Option<Box<dyn Rule>> {
        Some(Box::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ProvenRule;

    const DIM: usize = 256;

    /// A seeded vector with coordinates uniform in `[−1, 1)` (xorshift; no rand here).
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

    fn unit(v: &[f64]) -> Vec<f64> {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    /// `a·x̂ + b·ŷ`, quantised at length about 4000 (fixed-point units).
    fn mix(a: f64, x: &[f64], b: f64, y: &[f64]) -> Vec<i16> {
        let (x, y) = (unit(x), unit(y));
        let v: Vec<f64> = x.iter().zip(&y).map(|(p, q)| a * p + b * q).collect();
        unit(&v)
            .iter()
            .map(|z| (4000.0 * z).round() as i16)
            .collect()
    }

    fn params(slots: usize) -> RuleParams {
        RuleParams::new(slots, DIM, 1, 1 << 40)
    }

    /// Non-IID-like honest updates: a shared direction plus a larger private one
    /// (pairwise cosines about 0.2).
    fn honest(count: usize, round: u64) -> Vec<Option<Vec<i16>>> {
        let shared = noise(1_000 + round);
        (0..count)
            .map(|k| Some(mix(0.45, &shared, 0.9, &noise(k as u64))))
            .collect()
    }

    fn cosine(a: &[i16], b: &[i16]) -> f64 {
        rule::dot(a, b) as f64 / ((rule::norm_sq(a) as f64) * (rule::norm_sq(b) as f64)).sqrt()
    }

    fn pay(v5: V5Params, updates: &[Option<Vec<i16>>]) -> Vec<u32> {
        let mut r = V5Candidate::new(params(updates.len()), v5);
        r.run(&vec![0; DIM], updates).unwrap().outcome.scores
    }

    #[test]
    fn sybil_clones_share_one_payout() {
        // The original alone: six others and trainer 6.
        let alone = honest(7, 0);
        let original = alone[6].clone().unwrap();
        // Three copies of it, each jittered to cosine ≈ 0.93 (the red team's sybil:3).
        let mut with = alone[..6].to_vec();
        for j in 0..3u64 {
            let o: Vec<f64> = original.iter().map(|&v| f64::from(v)).collect();
            let copy = mix(0.93, &o, 0.37, &noise(50 + j));
            assert!(cosine(&copy, &original) > 0.9);
            with.push(Some(copy));
        }
        let v5 = V5Params::default();
        let solo = u64::from(pay(v5, &alone)[6]);
        assert!(solo > 0);
        let group: u64 = pay(v5, &with)[6..].iter().map(|&s| u64::from(s)).sum();
        assert!(group <= solo, "group {group} > original {solo}");
        // Without the replication kernel the copies pay each other: well over one share.
        let off = V5Params {
            replication: false,
            ..v5
        };
        let solo_off = u64::from(pay(off, &alone)[6]);
        let group_off: u64 = pay(off, &with)[6..].iter().map(|&s| u64::from(s)).sum();
        assert!(group_off > 2 * solo_off, "{group_off} vs {solo_off}");
    }

    /// Round 1: six honest updates. Round 2: each honest trainer moves a little from its
    /// round-1 direction, and slot 5 resubmits slot 0's round-1 reveal plus 1 % noise.
    fn grief_rounds(v5: V5Params, duplicate_milli: u32) -> (V5Outcome, Vec<Option<Vec<i16>>>) {
        let p = RuleParams {
            duplicate_milli,
            ..params(6)
        };
        let mut rule = V5Candidate::new(p, v5);
        let first = honest(6, 0);
        rule.run(&vec![0; DIM], &first).unwrap();
        let mut second: Vec<Option<Vec<i16>>> = first
            .iter()
            .enumerate()
            .map(|(k, u)| {
                let u: Vec<f64> = u.as_ref().unwrap().iter().map(|&v| f64::from(v)).collect();
                Some(mix(0.96, &u, 0.28, &noise(200 + k as u64)))
            })
            .collect();
        let victim: Vec<f64> = first[0]
            .as_ref()
            .unwrap()
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        second[5] = Some(mix(1.0, &victim, 0.01, &noise(300)));
        let own = cosine(second[0].as_ref().unwrap(), first[0].as_ref().unwrap());
        assert!(
            own > 0.95,
            "the victim's own drift {own} is at τ like an honest one"
        );
        (rule.run(&vec![0; DIM], &second).unwrap(), second)
    }

    #[test]
    fn a_stale_copy_of_another_accounts_previous_reveal_is_flagged() {
        let (o, _) = grief_rounds(V5Params::default(), 950);
        assert_eq!(o.stale, [false, false, false, false, false, true]);
        assert_eq!(o.outcome.scores[5], 0);
        assert!(o.outcome.scores[0] > 0, "the victim keeps its pay");
        // Without the stale filter the copy and the victim are duplicates: both dropped.
        let off = V5Params {
            stale_milli: 0,
            ..V5Params::default()
        };
        let (o, _) = grief_rounds(off, 950);
        assert_eq!((o.outcome.scores[0], o.outcome.scores[5]), (0, 0));
        assert!(!o.outcome.accepted[0]);
    }

    #[test]
    fn a_public_copy_of_the_last_change_is_flagged() {
        let mut rule = V5Candidate::new(params(6), V5Params::default());
        // The copier sent nothing of its own last round (as a public copier never does),
        // so `d_5` is the whole last change.
        let mut first = honest(6, 0);
        first[5] = None;
        let out = rule.run(&vec![0; DIM], &first).unwrap().outcome;
        let change: Vec<f64> = (0..DIM)
            .map(|j| {
                (0..6)
                    .filter(|&k| out.accepted[k])
                    .map(|k| f64::from(first[k].as_ref().unwrap()[j]))
                    .sum()
            })
            .collect();
        let mut second = honest(6, 1);
        second[5] = Some(mix(1.0, &change, 0.05, &noise(400)));
        let o = rule.run(&vec![0; DIM], &second).unwrap();
        assert!(
            o.stale[5] && !o.stale[..5].iter().any(|&s| s),
            "{:?}",
            o.stale
        );
        assert_eq!(o.outcome.scores[5], 0);
    }

    #[test]
    fn an_update_unlike_its_own_last_one_earns_nothing() {
        let zero = vec![0; DIM];
        let run = |v5: V5Params| {
            let mut rule = V5Candidate::new(params(6), v5);
            let mut first = honest(6, 0);
            // Slot 4 sends nothing in round 1.
            first[4] = None;
            let o = rule.run(&zero, &first).unwrap();
            assert!(
                o.consistency.iter().all(|&c| c == 1000),
                "first round: no ramp"
            );
            // Round 2: slots 0–3 move a little from their own last update (cosine ≈ 0.96);
            // slot 5 sends one of the same kind with another private direction (a jump, as
            // a lazy or fresh-noise update does); slot 4 is back.
            let mut second: Vec<Option<Vec<i16>>> = (0..6)
                .map(|k| {
                    let u = first[k].clone().unwrap_or_else(|| vec![1; DIM]);
                    let u: Vec<f64> = u.iter().map(|&v| f64::from(v)).collect();
                    Some(mix(0.96, &u, 0.28, &noise(500 + k as u64)))
                })
                .collect();
            second[4] = honest(6, 1)[4].clone();
            second[5] = Some(mix(0.45, &noise(1_001), 0.9, &noise(77)));
            rule.run(&zero, &second).unwrap()
        };
        let on = run(V5Params::default());
        assert_eq!(on.consistency[..4], [1000; 4], "{:?}", on.consistency);
        assert_eq!(on.consistency[4..], [0, 0], "absent last round, and a jump");
        assert!(
            on.outcome.scores[..4].iter().all(|&s| s > 0),
            "{:?}",
            on.outcome.scores
        );
        assert_eq!(on.outcome.scores[4..], [0, 0]);
        // Without the ramp both are paid.
        let off = run(V5Params {
            self_hi_milli: 0,
            ..V5Params::default()
        });
        assert!(off.outcome.scores[4] > 0 && off.outcome.scores[5] > 0);
        assert_eq!(off.outcome.scores[..4], on.outcome.scores[..4]);
    }

    #[test]
    fn the_consistency_ramp_rises_from_lo_to_hi() {
        let v5 = V5Params::default();
        assert_eq!(v5.consistency_milli(-900), 0);
        assert_eq!(v5.consistency_milli(600), 0);
        assert_eq!(v5.consistency_milli(725), 500);
        assert_eq!(v5.consistency_milli(850), 1000);
        assert_eq!(v5.consistency_milli(999), 1000);
        let off = V5Params {
            self_hi_milli: 0,
            ..v5
        };
        assert_eq!(off.consistency_milli(-1000), 1000);
    }

    #[test]
    fn honest_iid_updates_get_near_equal_pay() {
        // IID: one shared direction, equal private noise (pairwise cosines about 0.8).
        let shared = noise(7);
        let ups: Vec<Option<Vec<i16>>> = (0..8)
            .map(|k| Some(mix(1.0, &shared, 0.5, &noise(20 + k))))
            .collect();
        let s = pay(V5Params::default(), &ups);
        let (lo, hi) = (*s.iter().min().unwrap(), *s.iter().max().unwrap());
        assert!(lo > 0 && f64::from(hi) <= 1.25 * f64::from(lo), "{s:?}");
        // v2 pays only Krum's keepers: with f = 1 one honest trainer gets nothing.
        let v2 = ProvenRule(params(8))
            .aggregate(&vec![0; DIM], &ups)
            .unwrap();
        assert_eq!(v2.scores.iter().filter(|&&x| x == 0).count(), 1);
    }

    #[test]
    fn a_long_accepted_update_moves_the_mean_by_at_most_its_capped_length() {
        // Five updates in one direction, one five times as long: all accepted.
        let d = noise(9);
        let mut ups: Vec<Option<Vec<i16>>> = (0..5)
            .map(|k| Some(mix(1.0, &d, 0.2, &noise(60 + k))))
            .collect();
        let long: Vec<i16> = ups[4].as_ref().unwrap().iter().map(|&v| v * 5).collect();
        ups[4] = Some(long);
        let step = |v5| {
            let mut r = V5Candidate::new(RuleParams::new(5, DIM, 0, 1 << 40), v5);
            let o = r.run(&vec![0; DIM], &ups).unwrap().outcome;
            assert!(o.accepted.iter().all(|&a| a));
            (rule::norm_sq(&o.new_model) as f64).sqrt()
        };
        let capped = step(V5Params::default());
        let plain = step(V5Params {
            clip_milli: 0,
            ..V5Params::default()
        });
        // Plain: about (4 + 5)/5 of a length-4000 step. Capped: the long one weighs
        // 4000/20000 = 0.2, so the step is at most (5 · 4000)/(4 + 0.2).
        assert!(plain > 6500.0, "{plain}");
        assert!(capped <= 1.01 * 5.0 * 4000.0 / 4.2, "{capped}");
    }
}
