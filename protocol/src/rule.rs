//! The round rule in exact integer arithmetic — *angular Multi-Krum with a leave-one-out
//! score* (protocol v2; docs/design.md, "The round statement"; normative text in SPEC.md).
//!
//! This is the definition; the prover's `RoundCircuit` is its constraint twin and the
//! aggregator runs it natively. Everything is integer maths on the i16 fixed-point vectors,
//! so both sides agree bit for bit. Why this rule and not plain Multi-Krum with a cosine
//! score against the sum (protocol v1): on non-IID data honest updates are nearly
//! orthogonal and differ mostly in *length* (trainers with more data take more SGD steps),
//! so Euclidean Krum kept the shortest updates and dropped the trainers with the most data,
//! while the score `cos(u_i, S)` credited every accepted update with its own share of `S`
//! (noise scored ≈ ‖u_i‖/‖S‖). Here lengths only have to lie in a band around the median,
//! Krum compares *directions*, and a trainer is scored against the others' sum.
//!
//! With `N` slots, dimension `D`, Byzantine budget `f`, the squared ceiling `B²`, the band
//! `ρ²` (per mille: `band_sq_milli`) and the duplicate cosine `τ` (per mille):
//!
//! 1. **Presence and ceiling.** A slot is *present* when its update was revealed. An absent
//!    slot is the zero vector in every sum below and is never accepted. `norm_i = ‖u_i‖²`.
//!    A slot is *in bound* when present and `0 < norm_i ≤ B²` (a zero update never is).
//! 2. **Median norm.** `m` is the lower median of the in-bound norms: with `p` in-bound
//!    slots, the `⌈p/2⌉`-th smallest (1-based); `m = 0` when `p = 0`.
//! 3. **Band.** A slot is *eligible* when in bound and
//!    `1000·norm_i ≤ ρ²·m` and `1000·m ≤ ρ²·norm_i` (its length within a factor `ρ` of
//!    the median's, both ways).
//! 4. **Cosines.** For every pair, `c_ik` is the per-mille cosine truncated toward zero:
//!    `c_ik = sign(g)·s` with `g = ⟨u_i, u_k⟩` and `s` the largest integer in `[0, 1000]`
//!    with `s²·norm_i·norm_k ≤ 10⁶·g²`; `c_ik = 0` when `g = 0` (so whenever a norm is 0).
//!    The angular distance is `a_ik = 1000 − c_ik ∈ [0, 2000]`.
//! 5. **Duplicates.** An eligible slot is a *duplicate* when some other eligible slot has
//!    `c_ik ≥ τ`. Duplicates are dropped and each one uses up one unit of the budget:
//!    `f' = max(0, f − d)` with `d` duplicates. (Identical colluders sit at distance 0 from
//!    each other, so Krum alone would keep them; commit–reveal means an honest trainer
//!    cannot be copied within its round.) `τ = 1001` turns the filter off.
//! 6. **Multi-Krum on directions** over the *candidates* `E'` (eligible, not duplicate),
//!    `n = |E'|`. If `n < f' + 3` nothing is accepted (the round keeps the model and every
//!    score is 0). Otherwise with `k = n − f' − 2`, the Krum score of `i ∈ E'` is the sum
//!    of the `k` smallest `a_ik` over `k ∈ E', k ≠ i`; the `n − f'` candidates with the
//!    lowest Krum scores are accepted, ties by slot order (lower slot first).
//!    `neighbours[i]` is one choice of the `k` nearest (ties by slot order) and
//!    `thresholds[i]` the `k`-th smallest distance (the circuit's hint); both are all
//!    false / 0 outside Krum.
//! 7. **Mean.** `cnt = Σ accept_i`, `S = Σ_{accepted} u_i`, `Δ_j = ⌊S_j / cnt⌋` rounded
//!    toward −∞ (`S_j = cnt·Δ_j + r_j`, `0 ≤ r_j < cnt`); `Δ = 0` with nothing accepted.
//!    `g_new = g + Δ`; a value leaving the i16 range refuses the round
//!    ([`RuleError::ModelOverflow`]): the circuit range-checks `g_new`.
//! 8. **Leave-one-out score.** For accepted `i`, with `O_i = S − u_i` (the others' sum),
//!    `score_i = ⌊1000 · max(0, cos(u_i, O_i))⌋` — no credit for agreeing with oneself —
//!    computed without square roots from `⟨u_i, O_i⟩ = ⟨u_i, S⟩ − norm_i` and
//!    `‖O_i‖² = ‖S‖² − 2⟨u_i, S⟩ + norm_i` ([`cosine_score`]); 0 for a rejected slot.
//!
//! Everything after step 1 is a function of the Gram matrix `⟨u_i, u_k⟩`, so the circuit
//! pays per parameter only for the Gram products, the mean and the commitments.
//!
//! Limits: `1 ≤ N ≤ MAX_SLOTS`, `1 ≤ D ≤ MAX_DIM` (2^20) keep every intermediate within
//! 64 bits (norms < 2^50, `‖S‖²` < 2^62, `|⟨u_i, S⟩|` < 2^56; checked at compile time in
//! `limits`); products use 128 or 256 bits.

pub mod v5;

use crate::abi::MAX_SLOTS;
use alloc::vec;
use alloc::vec::Vec;

pub use crate::limits::MAX_DIM;
/// Scores and cosines are per mille.
pub const SCORE_SCALE: u32 = 1000;
/// `ρ² = 36` (lengths within 6× of the median, both ways), unless the spec says otherwise:
/// on a power-law split with a 10× spread of data, the largest honest update measured up
/// to 6× the median length, and a 10×-scaled update is kept out.
pub const DEFAULT_BAND_SQ_MILLI: u32 = 36_000;
/// No duplicate filter unless the spec asks for one: on an easy task with IID data honest
/// updates can be nearly parallel (cosine > 0.99 in our end-to-end tests' toy task), and
/// dropping them all would leave only the outliers. On non-IID data (honest pairs measured
/// at most 0.87 on digits) a spec should set `duplicate_cosine` to about 0.95.
pub const DEFAULT_DUPLICATE_MILLI: u32 = DUPLICATES_OFF;
/// The largest band the rule accepts (`ρ ≤ 1000`).
pub const MAX_BAND_SQ_MILLI: u32 = 1_000_000_000;
/// A duplicate threshold above every cosine: the filter is off.
pub const DUPLICATES_OFF: u32 = SCORE_SCALE + 1;

/// The rule's parameters; the circuit shape is exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleParams {
    /// N: slots (the project's slots per round).
    pub slots: usize,
    /// D: parameters per vector.
    pub dim: usize,
    /// f: Byzantine budget.
    pub byzantine: usize,
    /// B²: the squared L2 ceiling in fixed-point units squared (`‖u‖² ≤ B²` passes).
    pub norm_bound_sq: u64,
    /// ρ² in per mille: eligible lengths lie within a factor ρ of the median's.
    pub band_sq_milli: u32,
    /// τ: the per-mille cosine from which two updates are duplicates
    /// ([`DUPLICATES_OFF`] disables the filter).
    pub duplicate_milli: u32,
}

impl RuleParams {
    /// The parameters with the default band and duplicate threshold.
    pub fn new(slots: usize, dim: usize, byzantine: usize, norm_bound_sq: u64) -> Self {
        Self {
            slots,
            dim,
            byzantine,
            norm_bound_sq,
            band_sq_milli: DEFAULT_BAND_SQ_MILLI,
            duplicate_milli: DEFAULT_DUPLICATE_MILLI,
        }
    }

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
        if !(SCORE_SCALE..=MAX_BAND_SQ_MILLI).contains(&self.band_sq_milli) {
            return Err(RuleError::BadParams(
                "the band ρ² must be in 1000..=10^9 per mille (ρ in 1..=1000)",
            ));
        }
        if self.duplicate_milli > DUPLICATES_OFF {
            return Err(RuleError::BadParams(
                "the duplicate cosine must be at most 1001 per mille (1001 = off)",
            ));
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

    /// `1000·ρ²` rounded to the nearest integer for a real band ρ, clamped to the accepted
    /// range (rounding, so that an `f32` such as 2.5 maps to exactly 6250).
    #[cfg(feature = "std")]
    pub fn band_sq_milli_from_real(rho: f32) -> u32 {
        let v = (f64::from(rho) * f64::from(rho) * 1000.0).round();
        if v.is_nan() {
            return SCORE_SCALE;
        }
        v.clamp(f64::from(SCORE_SCALE), f64::from(MAX_BAND_SQ_MILLI)) as u32
    }

    /// `1000·τ` rounded to the nearest integer for a real duplicate cosine τ (the `f32`
    /// 0.99 is 0.9900000095…, so rounding, not ceiling); above 1000: off.
    #[cfg(feature = "std")]
    pub fn duplicate_milli_from_real(tau: f32) -> u32 {
        let v = (f64::from(tau) * 1000.0).round();
        if v.is_nan() || v > f64::from(SCORE_SCALE) {
            return DUPLICATES_OFF;
        }
        v.max(0.0) as u32
    }

    /// The parameters a project's spec fixes: `slots`, `byzantine`, `D = parameter_count`,
    /// `B² = ⌊(norm_bound · 2^s)²⌋`, `ρ² = round(1000·norm_band²)` and
    /// `τ = round(1000·duplicate_cosine)`.
    /// Not checked here: call [`RuleParams::check`].
    #[cfg(feature = "std")]
    pub fn from_spec(spec: &crate::spec::ProjectSpec) -> Self {
        let crate::spec::Aggregation::AngularKrum {
            norm_bound,
            byzantine,
            slots,
            norm_band,
            duplicate_cosine,
        } = &spec.aggregation;
        Self {
            slots: *slots as usize,
            dim: usize::try_from(spec.parameter_count()).unwrap_or(usize::MAX),
            byzantine: *byzantine as usize,
            norm_bound_sq: Self::norm_bound_sq_from_real(*norm_bound, spec.fixed_point.scale_bits),
            band_sq_milli: Self::band_sq_milli_from_real(*norm_band),
            duplicate_milli: Self::duplicate_milli_from_real(*duplicate_cosine),
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

/// Everything the rule computes; the witness and the round report read it: what it decides
/// from the Gram matrix (`decision`, steps 1–6 and 8) and the mean (step 7, `mean_step`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundOutcome {
    pub decision: Decision,
    /// `S = Σ_{accepted} u_i`.
    pub sum: Vec<i64>,
    /// `Δ = ⌊S / cnt⌋` (0 with no accepted update).
    pub mean: Vec<i16>,
    /// `r = S − cnt·Δ` (in `0..cnt`).
    pub remainders: Vec<u32>,
    pub new_model: Vec<i16>,
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

/// `‖a − b‖²` (the Euclidean distance of protocol v1's Krum, kept for comparisons).
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

/// `⌊1000 · max(0, cos)⌋` for `dot = ⟨u, v⟩`, `norm = ‖u‖²`, `sum_norm = ‖v‖²`: the
/// largest `s ≤ 1000` with `s²·norm·sum_norm ≤ 10⁶·dot²`, 0 when `dot ≤ 0` or a norm is 0.
pub fn cosine_score(dot: i64, norm: u64, sum_norm: u64) -> u32 {
    if dot <= 0 || norm == 0 || sum_norm == 0 {
        return 0;
    }
    let x = u128::from(norm) * u128::from(sum_norm);
    let d = dot as u128;
    let y = wide_mul(d * d, 1_000_000);
    largest_fitting(SCORE_SCALE, |s| {
        wide_mul(u128::from(s) * u128::from(s), x) <= y
    })
}

/// The largest `s` in `0..=max` with `fits(s)`, for a `fits` that holds at 0 and, once
/// false, stays false (a binary search).
pub fn largest_fitting(max: u32, fits: impl Fn(u32) -> bool) -> u32 {
    let (mut lo, mut hi) = (0u32, max);
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

/// The per-mille cosine of two vectors from their inner product and squared norms,
/// truncated toward zero (module documentation, step 4).
pub fn signed_cosine(g: i64, norm_a: u64, norm_b: u64) -> i32 {
    let s = cosine_score(g.saturating_abs(), norm_a, norm_b) as i32;
    if g < 0 {
        -s
    } else {
        s
    }
}

/// The lower median of `values` (the `⌈p/2⌉`-th smallest); 0 when empty.
pub fn lower_median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        0
    } else {
        v[v.len().div_ceil(2) - 1]
    }
}

/// Whether `norm` lies within the band `ρ²` (per mille) around the median norm `m`.
pub fn within_band(norm: u64, median: u64, band_sq_milli: u32) -> bool {
    let (n, m, b) = (
        u128::from(norm),
        u128::from(median),
        u128::from(band_sq_milli),
    );
    let scale = u128::from(SCORE_SCALE);
    scale * n <= b * m && scale * m <= b * n
}

/// Runs the round rule. `updates` has one entry per slot; `None` is an absent slot.
pub fn run(
    params: &RuleParams,
    prev: &[i16],
    updates: &[Option<&[i16]>],
) -> Result<RoundOutcome, RuleError> {
    params.check()?;
    let (n_slots, dim) = (params.slots, params.dim);
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
    let vecs = slot_vectors(updates, &zero)?;
    let present: Vec<bool> = updates.iter().map(Option::is_some).collect();
    // The Gram matrix: every later step but the mean reads only this.
    let gram = gram_matrix(&vecs);
    let d = decide(params, &present, &gram)?;
    let m = mean_step(prev, &vecs, &d.accepted, 0)?;
    Ok(RoundOutcome {
        decision: d,
        sum: m.sum,
        mean: m.mean,
        remainders: m.remainders,
        new_model: m.new_model,
    })
}

/// One vector per slot, `zero` for an absent one; a present update must have `zero`'s
/// length ([`RuleError::UpdateLength`] names the first that does not).
pub fn slot_vectors<'a>(
    updates: &[Option<&'a [i16]>],
    zero: &'a [i16],
) -> Result<Vec<&'a [i16]>, RuleError> {
    updates
        .iter()
        .enumerate()
        .map(|(slot, u)| match u {
            Some(u) if u.len() != zero.len() => Err(RuleError::UpdateLength {
                slot,
                expected: zero.len(),
                got: u.len(),
            }),
            Some(u) => Ok(*u),
            None => Ok(zero),
        })
        .collect()
}

/// `G_ik = ⟨u_i, u_k⟩`, each pair computed once.
pub fn gram_matrix(vecs: &[&[i16]]) -> Vec<Vec<i64>> {
    let n = vecs.len();
    let mut gram = vec![vec![0i64; n]; n];
    for i in 0..n {
        for k in i..n {
            let g = dot(vecs[i], vecs[k]);
            gram[i][k] = g;
            gram[k][i] = g;
        }
    }
    gram
}

/// What the rule decides from the Gram matrix alone: every step but the mean (so a round
/// cut into chunks decides from the sum of the chunks' partial Gram matrices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub present: Vec<bool>,
    /// `‖u_i‖²` (0 for an absent slot).
    pub norms: Vec<u64>,
    /// Present with `0 < ‖u_i‖² ≤ B²`.
    pub in_bound: Vec<bool>,
    /// `m`: the lower median of the in-bound norms (0 if none).
    pub median_norm: u64,
    /// In bound and within the band around `m`.
    pub eligible: Vec<bool>,
    /// `c_ik`, the per-mille cosines (step 4), for every pair of slots.
    pub cosines: Vec<Vec<i32>>,
    /// Eligible with an eligible near-copy (`c_ik ≥ τ`).
    pub duplicate: Vec<bool>,
    /// `f' = max(0, f − duplicates)`.
    pub byzantine_left: usize,
    /// Eligible and not a duplicate: Krum's candidates.
    pub candidates: Vec<bool>,
    /// Whether Krum ran (`n ≥ f' + 3` candidates).
    pub krum_ran: bool,
    /// Krum scores: sums of angular distances (0 where Krum did not score the slot).
    pub krum: Vec<u64>,
    pub neighbours: Vec<Vec<bool>>,
    pub thresholds: Vec<u64>,
    pub accepted: Vec<bool>,
    pub accepted_count: usize,
    /// `⟨u_i, S⟩`.
    pub dots: Vec<i64>,
    /// `‖S‖²`.
    pub sum_norm: u64,
    /// `⟨u_i, S − u_i⟩` for accepted slots (0 otherwise).
    pub others_dots: Vec<i64>,
    /// `‖S − u_i‖²` for accepted slots (0 otherwise).
    pub others_norms: Vec<u64>,
    pub scores: Vec<u32>,
}

impl Decision {
    /// `a_ik = 1000 − c_ik`, the angular distances Krum sums.
    pub fn angular_distance(&self, i: usize, k: usize) -> u64 {
        (i64::from(SCORE_SCALE) - i64::from(self.cosines[i][k])) as u64
    }
}

/// Steps 1–6 and 8 of the rule from `gram[i][k] = ⟨u_i, u_k⟩` (zero rows for absent slots).
pub fn decide(
    params: &RuleParams,
    present: &[bool],
    gram: &[Vec<i64>],
) -> Result<Decision, RuleError> {
    params.check()?;
    let (n_slots, f) = (params.slots, params.byzantine);
    if present.len() != n_slots || gram.len() != n_slots || gram.iter().any(|r| r.len() != n_slots)
    {
        return Err(RuleError::SlotCount {
            expected: n_slots,
            got: gram.len().min(present.len()),
        });
    }
    let present = present.to_vec();
    let norms: Vec<u64> = (0..n_slots).map(|i| gram[i][i].max(0) as u64).collect();

    // 1–3. Ceiling, median, band.
    let in_bound: Vec<bool> = (0..n_slots)
        .map(|i| present[i] && norms[i] > 0 && norms[i] <= params.norm_bound_sq)
        .collect();
    let bounded: Vec<u64> = (0..n_slots)
        .filter(|&i| in_bound[i])
        .map(|i| norms[i])
        .collect();
    let median_norm = lower_median(&bounded);
    let eligible: Vec<bool> = (0..n_slots)
        .map(|i| in_bound[i] && within_band(norms[i], median_norm, params.band_sq_milli))
        .collect();

    // 4–5. Cosines and duplicates.
    let cosines: Vec<Vec<i32>> = (0..n_slots)
        .map(|i| {
            (0..n_slots)
                .map(|k| signed_cosine(gram[i][k], norms[i], norms[k]))
                .collect()
        })
        .collect();
    let duplicate: Vec<bool> = (0..n_slots)
        .map(|i| {
            eligible[i]
                && (0..n_slots).any(|k| {
                    k != i && eligible[k] && cosines[i][k] >= params.duplicate_milli as i32
                })
        })
        .collect();
    let dups = duplicate.iter().filter(|&&d| d).count();
    let byzantine_left = f.saturating_sub(dups);
    let candidates: Vec<bool> = (0..n_slots).map(|i| eligible[i] && !duplicate[i]).collect();

    // 6. Multi-Krum on angular distances.
    let n = candidates.iter().filter(|&&c| c).count();
    let krum_ran = n >= byzantine_left + 3;
    let mut krum = vec![0u64; n_slots];
    let mut neighbours = vec![vec![false; n_slots]; n_slots];
    let mut thresholds = vec![0u64; n_slots];
    let angular = |i: usize, k: usize| (i64::from(SCORE_SCALE) - i64::from(cosines[i][k])) as u64;
    let accepted = if krum_ran {
        let k = n - byzantine_left - 2;
        for i in (0..n_slots).filter(|&i| candidates[i]) {
            let others: Vec<usize> = (0..n_slots).filter(|&j| j != i && candidates[j]).collect();
            let ds: Vec<u64> = others.iter().map(|&j| angular(i, j)).collect();
            let (sum, chosen, threshold) = k_smallest(&ds, k);
            krum[i] = sum;
            thresholds[i] = threshold;
            for c in chosen {
                neighbours[i][others[c]] = true;
            }
        }
        keep_lowest(&krum, &candidates, n - byzantine_left)
    } else {
        vec![false; n_slots]
    };
    let accepted_count = accepted.iter().filter(|&&a| a).count();

    // 8. Leave-one-out scores, from the Gram matrix.
    let dots: Vec<i64> = (0..n_slots)
        .map(|i| {
            (0..n_slots)
                .filter(|&k| accepted[k])
                .map(|k| gram[i][k])
                .sum()
        })
        .collect();
    let sum_norm: u64 = (0..n_slots)
        .filter(|&k| accepted[k])
        .map(|k| dots[k])
        .sum::<i64>() as u64;
    let mut others_dots = vec![0i64; n_slots];
    let mut others_norms = vec![0u64; n_slots];
    let mut scores = vec![0u32; n_slots];
    for i in (0..n_slots).filter(|&i| accepted[i]) {
        let nu = norms[i] as i64;
        others_dots[i] = dots[i] - nu;
        others_norms[i] = (sum_norm as i64 - 2 * dots[i] + nu) as u64;
        scores[i] = cosine_score(others_dots[i], norms[i], others_norms[i]);
    }

    Ok(Decision {
        present,
        norms,
        in_bound,
        median_norm,
        eligible,
        cosines,
        duplicate,
        byzantine_left,
        candidates,
        krum_ran,
        krum,
        neighbours,
        thresholds,
        accepted,
        accepted_count,
        dots,
        sum_norm,
        others_dots,
        others_norms,
        scores,
    })
}

/// Step 7 over a run of coordinates: `S`, `Δ = ⌊S / cnt⌋`, the remainders and
/// `g + Δ`. `offset` is the run's first coordinate in the whole model (errors name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeanStep {
    pub sum: Vec<i64>,
    pub mean: Vec<i16>,
    pub remainders: Vec<u32>,
    pub new_model: Vec<i16>,
}

/// Step 7 of the rule on `prev` and the slots' values over the same coordinates.
pub fn mean_step(
    prev: &[i16],
    vecs: &[&[i16]],
    accepted: &[bool],
    offset: usize,
) -> Result<MeanStep, RuleError> {
    let dim = prev.len();
    let n_slots = vecs.len();
    let accepted_count = accepted.iter().filter(|&&a| a).count();
    let mut sum = vec![0i64; dim];
    for u in (0..n_slots).filter(|&i| accepted[i]).map(|i| vecs[i]) {
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
        let g = i16::try_from(g).map_err(|_| RuleError::ModelOverflow { index: offset + j })?;
        mean.push(q as i16);
        remainders.push(r as u32);
        new_model.push(g);
    }

    Ok(MeanStep {
        sum,
        mean,
        remainders,
        new_model,
    })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index loops mirror the rule's maths
mod tests;
