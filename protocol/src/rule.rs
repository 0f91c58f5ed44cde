//! The round rule in exact integer arithmetic: norm bound, Multi-Krum, the mean of the
//! accepted updates and the contribution scores (DESIGN.md, "The round statement").
//!
//! This is the definition; the prover's `RoundCircuit` is its constraint twin and the
//! aggregator runs it natively. Everything is integer maths on the i16 fixed-point vectors,
//! so both sides agree bit for bit. With `N` slots, dimension `D`, Byzantine budget `f`
//! and the squared norm bound `B²` (in fixed-point units squared):
//!
//! 1. **Presence.** A slot is *present* when its update was revealed (`Some`). An absent
//!    slot is treated as the zero vector in every sum below and is never accepted.
//! 2. **Norm bound.** `norm_i = ‖u_i‖² = Σ_j u_ij²`. A slot is *eligible* when it is present
//!    and `norm_i ≤ B²`.
//! 3. **Multi-Krum over the eligible set `E`**, `n = |E|`. Krum runs only over eligible
//!    updates: an update over the norm bound neither gets a Krum score nor counts as anyone's
//!    neighbour. If `n ≤ f + 2` (so `n − f − 2 < 1`), Krum cannot run and *no update is
//!    accepted* (the round keeps the previous model and every score is 0). Otherwise, with
//!    `k = n − f − 2` and `d_ik = ‖u_i − u_k‖²`, the Krum score of `i ∈ E` is the sum of
//!    the `k` smallest `d_ik` over `k ∈ E, k ≠ i`; the `n − f` eligible slots with the
//!    lowest Krum scores are accepted, ties broken by slot order (lower slot first).
//!    `neighbours[i]` is one choice of the `k` nearest (ties by slot order) and
//!    `thresholds[i]` the `k`-th smallest distance (the circuit's hint); both are all
//!    false / 0 outside Krum.
//! 4. **Mean.** `cnt = Σ accept_i`, `S_j = Σ_{accepted i} u_ij` and the mean
//!    `Δ_j = ⌊S_j / cnt⌋`, rounded toward −∞ (so `S_j = cnt·Δ_j + r_j` with
//!    `0 ≤ r_j < cnt`); with no accepted update `Δ = 0` (and `r = 0`). The new model is
//!    `g_new = g + Δ`. If some `g_j + Δ_j` leaves the i16 range the round is refused
//!    ([`RuleError::ModelOverflow`]): the circuit range-checks `g_new`, so such a round
//!    cannot be proven; choose the fixed-point scale with headroom.
//! 5. **Scores.** The cosine is taken against the exact (rational) mean, i.e. against `S`,
//!    which has the same direction as `Δ` before flooring:
//!    `score_i = ⌊1000 · max(0, cos(u_i, S))⌋` for accepted `i`, 0 otherwise. Without
//!    square roots: with `dot_i = ⟨u_i, S⟩`, if `dot_i ≤ 0` the score is 0 (this covers a
//!    zero update and `S = 0`); otherwise it is the unique integer `s ∈ [0, 1000]` with
//!    `s² · norm_i · ‖S‖² ≤ 10⁶ · dot_i² < (s+1)² · norm_i · ‖S‖²`.
//!
//! Limits: `1 ≤ N ≤ MAX_SLOTS`, `1 ≤ D ≤ MAX_DIM` (2^20) keep every intermediate within
//! u64 (norms < 2^50, distances < 2^52, Krum scores < 2^58, `‖S‖²` < 2^62); the score test
//! uses 256-bit products.

use crate::abi::MAX_SLOTS;
use alloc::vec;
use alloc::vec::Vec;

/// Largest dimension the rule (and the circuit) supports.
pub const MAX_DIM: usize = 1 << 20;
/// Scores are per mille.
pub const SCORE_SCALE: u32 = 1000;

/// The rule's parameters; the circuit shape is exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleParams {
    /// N: slots (the contract's max trainers).
    pub slots: usize,
    /// D: parameters per vector.
    pub dim: usize,
    /// f: Byzantine budget.
    pub byzantine: usize,
    /// B²: the squared L2 bound in fixed-point units squared (`‖u‖² ≤ B²` passes).
    pub norm_bound_sq: u64,
}

impl RuleParams {
    /// Checks the limits of the module documentation.
    pub fn check(&self) -> Result<(), RuleError> {
        if self.slots == 0 || self.slots > MAX_SLOTS as usize {
            return Err(RuleError::BadParams("slots must be in 1..=MAX_SLOTS"));
        }
        if self.dim == 0 || self.dim > MAX_DIM {
            return Err(RuleError::BadParams("dim must be in 1..=MAX_DIM"));
        }
        if self.byzantine >= self.slots {
            return Err(RuleError::BadParams("byzantine must be below slots"));
        }
        Ok(())
    }

    /// `B²` for a real-valued bound `b` at scale 2^-`scale_bits` (rounded down, saturating).
    pub fn norm_bound_sq_from_real(b: f32, scale_bits: u8) -> u64 {
        let units = f64::from(b) * f64::from(1u32 << scale_bits.min(15));
        if units.is_nan() || units <= 0.0 {
            return 0;
        }
        let sq = units * units;
        if sq >= u64::MAX as f64 {
            u64::MAX
        } else {
            sq as u64
        }
    }

    /// The parameters a project's spec fixes: `slots`, `byzantine`, `D = parameter_count`
    /// and `B² = ⌊(norm_bound · 2^s)²⌋`. Not checked here: call [`RuleParams::check`].
    #[cfg(feature = "std")]
    pub fn from_spec(spec: &crate::spec::ProjectSpec) -> Self {
        let crate::spec::Aggregation::MultiKrum {
            norm_bound,
            byzantine,
            slots,
        } = &spec.aggregation;
        Self {
            slots: *slots as usize,
            dim: usize::try_from(spec.parameter_count()).unwrap_or(usize::MAX),
            byzantine: *byzantine as usize,
            norm_bound_sq: Self::norm_bound_sq_from_real(*norm_bound, spec.fixed_point.scale_bits),
        }
    }

    /// The largest possible `‖u‖²` for this dimension (D · 2^30).
    pub fn max_norm_sq(&self) -> u64 {
        (self.dim as u64) << 30
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    BadParams(&'static str),
    /// The update list does not have one entry per slot.
    SlotCount {
        expected: usize,
        got: usize,
    },
    /// The previous model has the wrong length.
    ModelLength {
        expected: usize,
        got: usize,
    },
    /// A present update has the wrong length.
    UpdateLength {
        slot: usize,
        expected: usize,
        got: usize,
    },
    /// `g_j + Δ_j` is outside the i16 range.
    ModelOverflow {
        index: usize,
    },
}

impl core::fmt::Display for RuleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadParams(m) => write!(f, "bad rule parameters: {m}"),
            Self::SlotCount { expected, got } => {
                write!(f, "{got} slot entries for {expected} slots")
            }
            Self::ModelLength { expected, got } => {
                write!(
                    f,
                    "the previous model has {got} values, expected {expected}"
                )
            }
            Self::UpdateLength {
                slot,
                expected,
                got,
            } => write!(
                f,
                "slot {slot}'s update has {got} values, expected {expected}"
            ),
            Self::ModelOverflow { index } => write!(
                f,
                "new model value {index} leaves the i16 range (choose a smaller scale)"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RuleError {}

/// Everything the rule computes; the witness and the round report read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundOutcome {
    pub present: Vec<bool>,
    /// `‖u_i‖²` (0 for an absent slot).
    pub norms: Vec<u64>,
    /// Present and within the norm bound.
    pub eligible: Vec<bool>,
    /// `‖u_i − u_k‖²` for every pair of slots (absent slots count as zero vectors).
    pub distances: Vec<Vec<u64>>,
    /// Whether Krum ran (`n ≥ f + 3` eligible updates).
    pub krum_ran: bool,
    /// Krum scores (0 where Krum did not score the slot).
    pub krum: Vec<u64>,
    pub neighbours: Vec<Vec<bool>>,
    pub thresholds: Vec<u64>,
    pub accepted: Vec<bool>,
    pub accepted_count: usize,
    /// `S = Σ_{accepted} u_i`.
    pub sum: Vec<i64>,
    /// `Δ = ⌊S / cnt⌋` (0 with no accepted update).
    pub mean: Vec<i16>,
    /// `r = S − cnt·Δ` (in `0..cnt`).
    pub remainders: Vec<u32>,
    pub new_model: Vec<i16>,
    /// `⟨u_i, S⟩`.
    pub dots: Vec<i64>,
    /// `‖S‖²`.
    pub sum_norm: u64,
    pub scores: Vec<u32>,
}

/// `⟨a, b⟩` (a and b of equal length).
pub fn dot(a: &[i16], b: &[i16]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i64::from(x) * i64::from(y))
        .sum()
}

/// `‖a‖²`.
pub fn norm_sq(a: &[i16]) -> u64 {
    dot(a, a) as u64
}

/// `‖a − b‖²`.
pub fn sq_distance(a: &[i16], b: &[i16]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i64::from(x) - i64::from(y);
            (d * d) as u64
        })
        .sum()
}

/// The sum of the `k` smallest of `values` (all of them if fewer), the chosen indices (the
/// `k` smallest, ties by position) and the `k`-th smallest value (0 if `k = 0`).
pub fn k_smallest(values: &[u64], k: usize) -> (u64, Vec<usize>, u64) {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by_key(|&i| (values[i], i));
    idx.truncate(k);
    let sum = idx.iter().map(|&i| values[i]).sum();
    let threshold = idx.last().map_or(0, |&i| values[i]);
    (sum, idx, threshold)
}

/// Keeps the `keep` lowest `scores` among the `candidates` (ties by slot order).
pub fn keep_lowest(scores: &[u64], candidates: &[bool], keep: usize) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..scores.len()).filter(|&i| candidates[i]).collect();
    idx.sort_by_key(|&i| (scores[i], i));
    let mut out = vec![false; scores.len()];
    for &i in idx.iter().take(keep) {
        out[i] = true;
    }
    out
}

/// `(⌊s / c⌋, s mod c)` rounded toward −∞, so `0 ≤ r < c`. `c` must be positive.
pub fn floor_div(s: i64, c: i64) -> (i64, i64) {
    debug_assert!(c > 0);
    (s.div_euclid(c), s.rem_euclid(c))
}

/// `a · b` as a 256-bit number (hi, lo).
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
    let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u128::from(u64::MAX)) + (p10 & u128::from(u64::MAX));
    let lo = (p00 & u128::from(u64::MAX)) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// The contribution score for `dot = ⟨u, S⟩`, `norm = ‖u‖²`, `sum_norm = ‖S‖²`
/// (module documentation, step 5), for an accepted update.
pub fn cosine_score(dot: i64, norm: u64, sum_norm: u64) -> u32 {
    if dot <= 0 || norm == 0 || sum_norm == 0 {
        return 0;
    }
    let x = u128::from(norm) * u128::from(sum_norm);
    let d = dot as u128;
    let y = wide_mul(d * d, 1_000_000);
    // Largest s in 0..=1000 with s²·x ≤ y.
    let fits = |s: u32| wide_mul(u128::from(s) * u128::from(s), x) <= y;
    let (mut lo, mut hi) = (0u32, SCORE_SCALE);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Runs the round rule. `updates` has one entry per slot; `None` is an absent slot.
pub fn run(
    params: &RuleParams,
    prev: &[i16],
    updates: &[Option<&[i16]>],
) -> Result<RoundOutcome, RuleError> {
    params.check()?;
    let (n_slots, dim, f) = (params.slots, params.dim, params.byzantine);
    if updates.len() != n_slots {
        return Err(RuleError::SlotCount {
            expected: n_slots,
            got: updates.len(),
        });
    }
    if prev.len() != dim {
        return Err(RuleError::ModelLength {
            expected: dim,
            got: prev.len(),
        });
    }
    let zero = vec![0i16; dim];
    let mut vecs: Vec<&[i16]> = Vec::with_capacity(n_slots);
    for (slot, u) in updates.iter().enumerate() {
        match u {
            Some(u) if u.len() != dim => {
                return Err(RuleError::UpdateLength {
                    slot,
                    expected: dim,
                    got: u.len(),
                })
            }
            Some(u) => vecs.push(u),
            None => vecs.push(&zero),
        }
    }
    let present: Vec<bool> = updates.iter().map(Option::is_some).collect();
    let norms: Vec<u64> = vecs.iter().map(|u| norm_sq(u)).collect();
    let eligible: Vec<bool> = (0..n_slots)
        .map(|i| present[i] && norms[i] <= params.norm_bound_sq)
        .collect();
    let mut distances = vec![vec![0u64; n_slots]; n_slots];
    for i in 0..n_slots {
        for k in i + 1..n_slots {
            let d = sq_distance(vecs[i], vecs[k]);
            distances[i][k] = d;
            distances[k][i] = d;
        }
    }

    let n = eligible.iter().filter(|&&e| e).count();
    let krum_ran = n >= f + 3;
    let mut krum = vec![0u64; n_slots];
    let mut neighbours = vec![vec![false; n_slots]; n_slots];
    let mut thresholds = vec![0u64; n_slots];
    let accepted = if krum_ran {
        let k = n - f - 2;
        for i in (0..n_slots).filter(|&i| eligible[i]) {
            let others: Vec<usize> = (0..n_slots).filter(|&j| j != i && eligible[j]).collect();
            let ds: Vec<u64> = others.iter().map(|&j| distances[i][j]).collect();
            let (sum, chosen, threshold) = k_smallest(&ds, k);
            krum[i] = sum;
            thresholds[i] = threshold;
            for c in chosen {
                neighbours[i][others[c]] = true;
            }
        }
        keep_lowest(&krum, &eligible, n - f)
    } else {
        vec![false; n_slots]
    };
    let accepted_count = accepted.iter().filter(|&&a| a).count();

    let mut sum = vec![0i64; dim];
    for (i, u) in vecs.iter().enumerate().filter(|(i, _)| accepted[*i]) {
        let _ = i;
        for (s, &v) in sum.iter_mut().zip(u.iter()) {
            *s += i64::from(v);
        }
    }
    let divisor = accepted_count.max(1) as i64;
    let mut mean = Vec::with_capacity(dim);
    let mut remainders = Vec::with_capacity(dim);
    let mut new_model = Vec::with_capacity(dim);
    for (j, &s) in sum.iter().enumerate() {
        let (q, r) = floor_div(s, divisor);
        // |q| ≤ 2^15 since it is the floored mean of i16 values.
        let g = i64::from(prev[j]) + q;
        let g = i16::try_from(g).map_err(|_| RuleError::ModelOverflow { index: j })?;
        mean.push(q as i16);
        remainders.push(r as u32);
        new_model.push(g);
    }
    let sum_norm: u64 = sum.iter().map(|&s| (s * s) as u64).sum();
    let dots: Vec<i64> = vecs
        .iter()
        .map(|u| u.iter().zip(&sum).map(|(&v, &s)| i64::from(v) * s).sum())
        .collect();
    let scores = (0..n_slots)
        .map(|i| {
            if accepted[i] {
                cosine_score(dots[i], norms[i], sum_norm)
            } else {
                0
            }
        })
        .collect();

    Ok(RoundOutcome {
        present,
        norms,
        eligible,
        distances,
        krum_ran,
        krum,
        neighbours,
        thresholds,
        accepted,
        accepted_count,
        sum,
        mean,
        remainders,
        new_model,
        dots,
        sum_norm,
        scores,
    })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index loops mirror the rule's maths
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(slots: usize, dim: usize, f: usize, b2: u64) -> RuleParams {
        RuleParams {
            slots,
            dim,
            byzantine: f,
            norm_bound_sq: b2,
        }
    }

    #[test]
    fn hand_computed_round() {
        // 5 slots, D = 2, f = 1 → k = n − f − 2 = 2 neighbours, keep n − f = 4... with the
        // outlier and one absent slot: n = 4 eligible, k = 1, keep 3.
        let p = params(5, 2, 1, 10_000);
        let g = [10i16, -10];
        let u0 = [2i16, 0];
        let u1 = [3i16, 1];
        let u2 = [2i16, 1];
        let u3 = [-50i16, 40]; // eligible (norm 4100) but far away
        let ups = [
            Some(&u0[..]),
            Some(&u1[..]),
            None,
            Some(&u2[..]),
            Some(&u3[..]),
        ];
        let o = run(&p, &g, &ups).unwrap();
        assert_eq!(o.present, [true, true, false, true, true]);
        assert_eq!(o.norms, [4, 10, 0, 5, 4100]);
        assert_eq!(o.eligible, [true, true, false, true, true]);
        assert_eq!(o.distances[0][1], 2);
        assert_eq!(o.distances[0][3], 1);
        assert_eq!(o.distances[1][3], 1);
        assert!(o.krum_ran);
        // k = 1: nearest eligible neighbour.
        assert_eq!(o.krum[0], 1);
        assert_eq!(o.krum[1], 1);
        assert_eq!(o.krum[3], 1);
        assert_eq!(o.krum[4], 52 * 52 + 39 * 39); // to u2 = (2, 1): 52² + 39² = 4225
        assert_eq!(o.thresholds[0], 1);
        assert!(o.neighbours[0][3] && !o.neighbours[0][1]);
        // keep 3 lowest: slots 0, 1, 3 (all 1), the outlier out.
        assert_eq!(o.accepted, [true, true, false, true, false]);
        assert_eq!(o.sum, [7, 2]);
        // ⌊7/3⌋ = 2 r 1; ⌊2/3⌋ = 0 r 2.
        assert_eq!(o.mean, [2, 0]);
        assert_eq!(o.remainders, [1, 2]);
        assert_eq!(o.new_model, [12, -10]);
        // S = (7, 2), ‖S‖² = 53. u0 = (2,0): cos = 14/(2·√53) = 0.96152 → 961.
        assert_eq!(o.dots[0], 14);
        assert_eq!(o.scores[0], 961);
        // u1 = (3,1): 23/(√10·√53) = 0.99905 → 999.
        assert_eq!(o.scores[1], 999);
        // u2 = (2,1): 16/(√5·√53) = 0.98287 → 982.
        assert_eq!(o.scores[3], 982);
        assert_eq!(o.scores[2], 0);
        assert_eq!(o.scores[4], 0);
    }

    #[test]
    fn bound_from_real_units() {
        // 4.0 at scale 2^-8: 1024 units, squared.
        assert_eq!(RuleParams::norm_bound_sq_from_real(4.0, 8), 1 << 20);
        assert_eq!(RuleParams::norm_bound_sq_from_real(-1.0, 8), 0);
        assert_eq!(RuleParams::norm_bound_sq_from_real(f32::NAN, 8), 0);
        assert_eq!(RuleParams::norm_bound_sq_from_real(f32::MAX, 15), u64::MAX);
    }

    #[test]
    fn negative_means_round_toward_minus_infinity() {
        let p = params(3, 1, 0, u64::MAX);
        let o = run(
            &p,
            &[0],
            &[Some(&[-1][..]), Some(&[-1][..]), Some(&[1][..])],
        )
        .unwrap();
        // n = 3 ≥ f + 3: k = 1, keep 3: all accepted. S = -1, ⌊-1/3⌋ = -1, r = 2.
        assert_eq!(o.accepted, [true, true, true]);
        assert_eq!(o.mean, [-1]);
        assert_eq!(o.remainders, [2]);
        assert_eq!(floor_div(-7, 2), (-4, 1));
        assert_eq!(floor_div(7, 2), (3, 1));
    }

    #[test]
    fn too_few_eligible_accepts_nothing() {
        // f = 1: Krum needs n ≥ 4 eligible; the norm bound leaves 3.
        let p = params(4, 2, 1, 100);
        let ups = [
            Some(&[1i16, 1][..]),
            Some(&[1, 2][..]),
            Some(&[100, 100][..]),
            Some(&[2, 1][..]),
        ];
        let o = run(&p, &[5, 5], &ups).unwrap();
        assert_eq!(o.eligible, [true, true, false, true]);
        assert!(!o.krum_ran);
        assert_eq!(o.accepted, [false; 4]);
        assert_eq!(o.accepted_count, 0);
        assert_eq!(o.new_model, [5, 5]);
        assert_eq!(o.mean, [0, 0]);
        assert_eq!(o.scores, [0; 4]);
        assert_eq!(o.krum, [0; 4]);
    }

    #[test]
    fn zero_update_and_zero_sum_score_zero() {
        assert_eq!(cosine_score(0, 0, 10), 0);
        assert_eq!(cosine_score(5, 10, 0), 0);
        assert_eq!(cosine_score(-5, 10, 10), 0);
        // Parallel vectors score exactly 1000.
        assert_eq!(cosine_score(10, 10, 10), 1000);
        // Opposite: 0.
        let p = params(3, 2, 0, u64::MAX);
        let o = run(
            &p,
            &[0, 0],
            &[Some(&[0, 0][..]), Some(&[3, 4][..]), Some(&[3, 4][..])],
        )
        .unwrap();
        assert_eq!(o.accepted, [true, true, true]);
        assert_eq!(o.scores, [0, 1000, 1000]);
        // ⌊6/3⌋ = 2, ⌊8/3⌋ = 2 r 2.
        assert_eq!(o.mean, [2, 2]);
    }

    #[test]
    fn ties_are_broken_by_slot_order() {
        // Four identical updates, f = 1: keep 3, the last one loses the tie.
        let p = params(4, 1, 1, u64::MAX);
        let u = [7i16];
        let o = run(&p, &[0], &[Some(&u[..]); 4]).unwrap();
        assert_eq!(o.krum, [0; 4]);
        assert_eq!(o.accepted, [true, true, true, false]);
        assert_eq!(o.new_model, [7]);
    }

    #[test]
    fn overflow_is_refused_and_bad_input_is_typed() {
        let p = params(3, 1, 0, u64::MAX);
        let big = [30_000i16];
        assert_eq!(
            run(&p, &[10_000], &[Some(&big[..]); 3]),
            Err(RuleError::ModelOverflow { index: 0 })
        );
        assert_eq!(
            run(&p, &[0], &[Some(&big[..]); 2]),
            Err(RuleError::SlotCount {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            run(&p, &[0, 0], &[None; 3]),
            Err(RuleError::ModelLength {
                expected: 1,
                got: 2
            })
        );
        assert_eq!(
            run(&p, &[0], &[None, Some(&[1, 2][..]), None]),
            Err(RuleError::UpdateLength {
                slot: 1,
                expected: 1,
                got: 2
            })
        );
        assert!(matches!(
            run(&params(0, 1, 0, 0), &[0], &[]),
            Err(RuleError::BadParams(_))
        ));
        assert!(matches!(
            run(&params(2, 1, 2, 0), &[0], &[None, None]),
            Err(RuleError::BadParams(_))
        ));
    }

    #[test]
    fn extreme_values_stay_exact() {
        // Largest norms and sums: every value at the i16 extremes.
        let p = params(3, 4, 0, u64::MAX);
        let a = [i16::MIN; 4];
        let o = run(&p, &[i16::MAX; 4], &[Some(&a[..]); 3]).unwrap();
        assert_eq!(o.norms[0], 4 << 30);
        assert_eq!(o.mean, [i16::MIN; 4]);
        assert_eq!(o.new_model, [-1; 4]);
        assert_eq!(o.scores, [1000; 3]);
    }

    /// Floating-point check of the cosine score (away from integer boundaries).
    fn float_score(u: &[i16], s: &[i64]) -> f64 {
        let d: f64 = u
            .iter()
            .zip(s)
            .map(|(&a, &b)| f64::from(a) * b as f64)
            .sum();
        let nu: f64 = u.iter().map(|&a| f64::from(a).powi(2)).sum::<f64>().sqrt();
        let ns: f64 = s.iter().map(|&b| (b as f64).powi(2)).sum::<f64>().sqrt();
        1000.0 * d / (nu * ns)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn invariants_hold(
            n in 1usize..8, f in 0usize..3, dim in 1usize..12,
            seed in proptest::collection::vec(any::<i16>(), 8 * 12),
            prev in proptest::collection::vec(-1000i16..1000, 12),
            absent in proptest::collection::vec(any::<bool>(), 8),
            scale in 0u32..15,
            b2 in any::<u64>(),
        ) {
            prop_assume!(f < n);
            let p = params(n, dim, f, b2 >> (scale + 10));
            let vecs: Vec<Vec<i16>> = (0..n).map(|i| seed[i * 12..i * 12 + dim].iter().map(|&v| v >> scale).collect()).collect();
            let ups: Vec<Option<&[i16]>> = (0..n).map(|i| (!absent[i]).then(|| &vecs[i][..])).collect();
            let o = run(&p, &prev[..dim], &ups).unwrap();
            let n_el = o.eligible.iter().filter(|&&e| e).count();
            if n_el >= f + 3 {
                prop_assert_eq!(o.accepted_count, n_el - f);
            } else {
                prop_assert_eq!(o.accepted_count, 0);
            }
            for i in 0..n {
                prop_assert!(!o.accepted[i] || o.eligible[i]);
                prop_assert!(o.scores[i] <= 1000);
                prop_assert!(o.accepted[i] || o.scores[i] == 0);
                if o.accepted[i] && o.dots[i] > 0 {
                    let fl = float_score(&vecs[i], &o.sum);
                    prop_assert!((f64::from(o.scores[i]) - fl.floor()).abs() <= 1.0, "{} vs {}", o.scores[i], fl);
                }
                // Rejected eligible slots never beat an accepted one.
                for k in 0..n {
                    if o.accepted[i] && o.eligible[k] && !o.accepted[k] {
                        prop_assert!(o.krum[i] < o.krum[k] || (o.krum[i] == o.krum[k] && i < k));
                    }
                }
            }
            let cnt = o.accepted_count.max(1) as i64;
            for j in 0..dim {
                prop_assert_eq!(o.sum[j], cnt * i64::from(o.mean[j]) + i64::from(o.remainders[j]));
                prop_assert!(i64::from(o.remainders[j]) < cnt);
                prop_assert_eq!(i32::from(o.new_model[j]), i32::from(prev[j]) + i32::from(o.mean[j]));
            }
        }

        #[test]
        fn wide_mul_is_exact(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), d in any::<u64>()) {
            // (a·2^64 + b)(c·2^64 + d) checked against a manual schoolbook in u128 pieces.
            let x = (u128::from(a) << 64) | u128::from(b);
            let y = (u128::from(c) << 64) | u128::from(d);
            let (hi, lo) = wide_mul(x, y);
            prop_assert_eq!(lo, x.wrapping_mul(y));
            // hi via the identity on the top limbs.
            let top = u128::from(a) * u128::from(c);
            prop_assert!(hi >= top);
        }

        #[test]
        fn score_is_the_unique_floor(dot in 1i64..1 << 40, nu in 1u64..1 << 40, ns in 1u64..1 << 40) {
            // Make the inputs Cauchy–Schwarz consistent: dot² ≤ nu·ns.
            prop_assume!((dot as u128) * (dot as u128) <= u128::from(nu) * u128::from(ns));
            let s = cosine_score(dot, nu, ns);
            let x = u128::from(nu) * u128::from(ns);
            let y = wide_mul((dot as u128) * (dot as u128), 1_000_000);
            prop_assert!(wide_mul(u128::from(s) * u128::from(s), x) <= y);
            prop_assert!(s == 1000 || wide_mul(u128::from(s + 1) * u128::from(s + 1), x) > y);
        }
    }
}
