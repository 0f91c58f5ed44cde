//! Aggregation rules behind one trait, the way Flower's `Strategy` is the one seam for
//! FedAvg, Krum, FedMedian and FedTrimmedAvg.
//!
//! Only [`ProvenRule`] ever runs on chain: it is `merit_protocol::rule::run`, the exact
//! rule the round circuit proves. [`ProtocolV5`] is protocol v5's exact rule
//! (`merit_protocol::rule::v5`), defined but not yet proven. The others are for
//! experiments (`merit simulate`, comparisons) and are never proven. Every rule works on
//! the fixed-point vectors (`i16`), takes one entry per slot (`None` = absent) and returns
//! the new model, accept bits and per-mille contribution scores (v5: parts per million).
//! Unless a rule says otherwise, a score is `⌊1000 · max(0, cos(u_i, R))⌋` for an accepted
//! slot, with `R` the rule's aggregate direction, computed with the protocol's exact
//! integer cosine.

use merit_protocol::rule::{self, cosine_score, v5, RoundOutcome, RuleError, RuleParams};

/// What any rule decides for a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    pub new_model: Vec<i16>,
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
}

/// An aggregation rule. `&mut self` lets a rule keep state across rounds (reputations).
pub trait Rule {
    /// A short name for reports and logs.
    fn name(&self) -> &'static str;
    /// Aggregates one round: `prev` is the global model, `updates` one entry per slot.
    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError>;
    /// A copy with the same state, for attackers who know the history (the red team's
    /// search); `None`: a stateless rule, or one whose copy should start afresh.
    fn fork(&self) -> Option<Box<dyn Rule>> {
        None
    }
}

/// The rule the circuit proves (protocol v2: ceiling, length band, duplicate filter,
/// Multi-Krum on directions, floored mean, leave-one-out cosine scores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenRule(pub RuleParams);

impl ProvenRule {
    /// Everything the protocol rule computes (norms, distances, Krum scores …).
    pub fn run(
        &self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RoundOutcome, RuleError> {
        let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
        rule::run(&self.0, prev, &refs)
    }
}

impl Rule for ProvenRule {
    fn name(&self) -> &'static str {
        "angular-krum (proven)"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        let o = self.run(prev, updates)?;
        Ok(RuleOutcome {
            new_model: o.new_model,
            accepted: o.decision.accepted,
            scores: o.decision.scores,
        })
    }
}

/// Protocol v5's rule (`merit_protocol::rule::v5`, SPEC.md §6a): exact integers like v2,
/// not yet proven. It keeps the previous round's reveals (public) as its state; scores are
/// in parts per million.
#[derive(Debug, Clone)]
pub struct ProtocolV5(pub v5::Rounds);

impl ProtocolV5 {
    pub fn new(params: v5::V5Params) -> Self {
        Self(v5::Rounds::new(params))
    }
}

impl Rule for ProtocolV5 {
    fn name(&self) -> &'static str {
        "v5"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        let o = self.0.step(prev, updates)?;
        Ok(RuleOutcome {
            new_model: o.new_model,
            accepted: o.decision.accepted,
            scores: o.decision.scores,
        })
    }

    fn fork(&self) -> Option<Box<dyn Rule>> {
        Some(Box::new(self.clone()))
    }
}

/// Protocol v1's rule, for comparisons only (never proven now): norm bound, Multi-Krum on
/// Euclidean distances `‖u_i − u_k‖²` (keep n − f, nothing when fewer than f + 3 pass the
/// bound), floored mean, and `⌊1000·max(0, cos(u_i, S))⌋` against the accepted sum `S`
/// *including* `u_i`. Only `slots`, `byzantine` and `norm_bound_sq` of the parameters
/// are read. `merit simulate --rule multi-krum-v1` shows why v2 replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiKrumV1(pub RuleParams);

impl Rule for MultiKrumV1 {
    fn name(&self) -> &'static str {
        "multi-krum-v1"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        check_lengths(prev, updates)?;
        let (n_slots, f) = (updates.len(), self.0.byzantine);
        let eligible: Vec<bool> = updates
            .iter()
            .map(|u| {
                u.as_ref()
                    .is_some_and(|u| rule::norm_sq(u) <= self.0.norm_bound_sq)
            })
            .collect();
        let n = eligible.iter().filter(|&&e| e).count();
        let accepted = if n >= f + 3 {
            let mut krum = vec![0u64; n_slots];
            for i in (0..n_slots).filter(|&i| eligible[i]) {
                let ds: Vec<u64> = (0..n_slots)
                    .filter(|&k| k != i && eligible[k])
                    .map(|k| match (&updates[i], &updates[k]) {
                        (Some(a), Some(b)) => rule::sq_distance(a, b),
                        _ => 0,
                    })
                    .collect();
                krum[i] = rule::k_smallest(&ds, n - f - 2).0;
            }
            rule::keep_lowest(&krum, &eligible, n - f)
        } else {
            vec![false; n_slots]
        };
        mean_of_accepted(prev, updates, accepted)
    }
}

fn check_lengths(prev: &[i16], updates: &[Option<Vec<i16>>]) -> Result<(), RuleError> {
    for (slot, u) in updates.iter().enumerate() {
        if let Some(u) = u {
            if u.len() != prev.len() {
                return Err(RuleError::UpdateLength {
                    slot,
                    expected: prev.len(),
                    got: u.len(),
                });
            }
        }
    }
    Ok(())
}

/// `prev + delta`, refusing to leave the i16 range (like the proven rule).
fn apply(prev: &[i16], delta: &[i64]) -> Result<Vec<i16>, RuleError> {
    prev.iter()
        .zip(delta)
        .enumerate()
        .map(|(index, (&g, &d))| {
            i16::try_from(i64::from(g) + d).map_err(|_| RuleError::ModelOverflow { index })
        })
        .collect()
}

/// Scores of accepted slots against the direction `r`.
fn scores_against(updates: &[Option<Vec<i16>>], accepted: &[bool], r: &[i64]) -> Vec<u32> {
    let r_norm: u64 = r.iter().map(|&x| (x * x) as u64).sum();
    updates
        .iter()
        .zip(accepted)
        .map(|(u, &a)| match u {
            Some(u) if a => {
                let dot: i64 = u.iter().zip(r).map(|(&v, &x)| i64::from(v) * x).sum();
                cosine_score(dot, rule::norm_sq(u), r_norm)
            }
            _ => 0,
        })
        .collect()
}

/// Federated averaging (McMahan et al.), unweighted: every present update is accepted,
/// `Δ = ⌊Σ u_i / n⌋` (toward −∞, as the proven rule), scores against `Σ u_i`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FedAvg;

impl Rule for FedAvg {
    fn name(&self) -> &'static str {
        "fedavg"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        check_lengths(prev, updates)?;
        let accepted = updates.iter().map(Option::is_some).collect();
        mean_of_accepted(prev, updates, accepted)
    }
}

/// `prev` plus the floored mean of the accepted updates (toward −∞, as the proven rule),
/// scored against their sum.
fn mean_of_accepted(
    prev: &[i16],
    updates: &[Option<Vec<i16>>],
    accepted: Vec<bool>,
) -> Result<RuleOutcome, RuleError> {
    let count = accepted.iter().filter(|&&a| a).count() as i64;
    let mut sum = vec![0i64; prev.len()];
    for (u, _) in updates.iter().zip(&accepted).filter(|(_, &a)| a) {
        for (s, &v) in sum.iter_mut().zip(u.iter().flatten()) {
            *s += i64::from(v);
        }
    }
    let delta: Vec<i64> = sum
        .iter()
        .map(|&s| rule::floor_div(s, count.max(1)).0)
        .collect();
    Ok(RuleOutcome {
        new_model: apply(prev, &delta)?,
        scores: scores_against(updates, &accepted, &sum),
        accepted,
    })
}

/// The per-coordinate values of the present updates, sorted.
fn column(updates: &[&Vec<i16>], j: usize) -> Vec<i64> {
    let mut c: Vec<i64> = updates.iter().map(|u| i64::from(u[j])).collect();
    c.sort_unstable();
    c
}

/// Coordinate-wise median (Yin et al. 2018; Flower's FedMedian): every present update is
/// accepted; `Δ_j` is the median of the `j`-th values, for an even count the floored mean
/// of the two middle ones. Scores against `2Δ` (exact before flooring).
#[derive(Debug, Clone, Copy, Default)]
pub struct Median;

impl Rule for Median {
    fn name(&self) -> &'static str {
        "coordinate-median"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        check_lengths(prev, updates)?;
        let accepted: Vec<bool> = updates.iter().map(Option::is_some).collect();
        let present: Vec<&Vec<i16>> = updates.iter().flatten().collect();
        let mut twice = vec![0i64; prev.len()];
        if !present.is_empty() {
            for (j, t) in twice.iter_mut().enumerate() {
                let c = column(&present, j);
                let m = c.len() / 2;
                *t = if c.len() % 2 == 1 {
                    2 * c[m]
                } else {
                    c[m - 1] + c[m]
                };
            }
        }
        let delta: Vec<i64> = twice.iter().map(|&t| rule::floor_div(t, 2).0).collect();
        Ok(RuleOutcome {
            new_model: apply(prev, &delta)?,
            scores: scores_against(updates, &accepted, &twice),
            accepted,
        })
    }
}

/// Coordinate-wise trimmed mean (Yin et al. 2018; Flower's FedTrimmedAvg with a count
/// instead of a fraction): per coordinate drop the `trim` lowest and `trim` highest values
/// and take the floored mean of the rest. Every present update is accepted; with
/// `n ≤ 2·trim` present updates nothing is accepted and the model stays. Scores against
/// the trimmed sum.
#[derive(Debug, Clone, Copy)]
pub struct TrimmedMean {
    pub trim: usize,
}

impl Rule for TrimmedMean {
    fn name(&self) -> &'static str {
        "trimmed-mean"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        check_lengths(prev, updates)?;
        let present: Vec<&Vec<i16>> = updates.iter().flatten().collect();
        let n = present.len();
        if n <= 2 * self.trim {
            return Ok(RuleOutcome {
                new_model: prev.to_vec(),
                accepted: vec![false; updates.len()],
                scores: vec![0; updates.len()],
            });
        }
        let kept = (n - 2 * self.trim) as i64;
        let sums: Vec<i64> = (0..prev.len())
            .map(|j| column(&present, j)[self.trim..n - self.trim].iter().sum())
            .collect();
        let delta: Vec<i64> = sums.iter().map(|&s| rule::floor_div(s, kept).0).collect();
        let accepted: Vec<bool> = updates.iter().map(Option::is_some).collect();
        Ok(RuleOutcome {
            new_model: apply(prev, &delta)?,
            scores: scores_against(updates, &accepted, &sums),
            accepted,
        })
    }
}

/// An RFFL-style reputation rule (after Xu & Lyu, "A Reputation Mechanism Is All You Need:
/// Collaborative Fairness and Adversarial Robustness in Federated Learning", 2021),
/// simplified to fixed-size slots:
///
/// 1. the *reliable* slots are the present ones whose reputation is at least `threshold`
///    (a slot never seen starts at reputation 1);
/// 2. `Δ = Σ_reliable r_i u_i / Σ_reliable r_i`, rounded half to even (0 if none);
/// 3. `cos_i = cos(u_i, Δ)` for every present slot (unrounded `Δ`);
/// 4. `r_i ← α r_i + (1 − α) max(0, cos_i)` for present slots (absent ones keep theirs);
/// 5. accepted = reliable; score = `⌊1000 · max(0, cos_i)⌋` for accepted slots.
///
/// Floating point, so experiments only.
#[derive(Debug, Clone)]
pub struct Reputation {
    pub alpha: f64,
    pub threshold: f64,
    reputations: Vec<f64>,
}

impl Reputation {
    pub fn new(alpha: f64, threshold: f64) -> Self {
        Self {
            alpha,
            threshold,
            reputations: Vec::new(),
        }
    }

    /// Current reputations, one per slot seen so far.
    pub fn reputations(&self) -> &[f64] {
        &self.reputations
    }
}

fn cosine(u: &[i16], d: &[f64]) -> f64 {
    let dot: f64 = u.iter().zip(d).map(|(&v, &x)| f64::from(v) * x).sum();
    let nu: f64 = u
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    let nd: f64 = d.iter().map(|x| x * x).sum::<f64>().sqrt();
    if nu == 0.0 || nd == 0.0 {
        0.0
    } else {
        dot / (nu * nd)
    }
}

impl Rule for Reputation {
    fn name(&self) -> &'static str {
        "reputation (rffl-style)"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        check_lengths(prev, updates)?;
        if self.reputations.len() < updates.len() {
            self.reputations.resize(updates.len(), 1.0);
        }
        let reliable: Vec<bool> = updates
            .iter()
            .zip(&self.reputations)
            .map(|(u, &r)| u.is_some() && r >= self.threshold)
            .collect();
        let mut delta = vec![0f64; prev.len()];
        let weight: f64 = (0..updates.len())
            .filter(|&i| reliable[i])
            .map(|i| self.reputations[i])
            .sum();
        if weight > 0.0 {
            for (i, u) in updates.iter().enumerate() {
                if let (true, Some(u)) = (reliable[i], u) {
                    let w = self.reputations[i] / weight;
                    for (d, &v) in delta.iter_mut().zip(u) {
                        *d += w * f64::from(v);
                    }
                }
            }
        }
        let rounded: Vec<i64> = delta.iter().map(|d| d.round_ties_even() as i64).collect();
        let mut scores = vec![0u32; updates.len()];
        for (i, u) in updates.iter().enumerate() {
            if let Some(u) = u {
                let c = cosine(u, &delta).max(0.0);
                self.reputations[i] = self.alpha * self.reputations[i] + (1.0 - self.alpha) * c;
                if reliable[i] {
                    scores[i] = (1000.0 * c).floor().min(1000.0) as u32;
                }
            }
        }
        Ok(RuleOutcome {
            new_model: apply(prev, &rounded)?,
            accepted: reliable,
            scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[i16]) -> Option<Vec<i16>> {
        Some(v.to_vec())
    }

    #[test]
    fn proven_rule_is_the_protocol_rule() {
        // Four directions 25–30° apart and one pointing away; f = 1 → keep n − f = 4.
        let p = RuleParams::new(5, 2, 1, 1 << 20);
        let ups = vec![s(&[5, 0]), s(&[4, 2]), s(&[3, 4]), s(&[1, 5]), s(&[-3, 1])];
        let o = ProvenRule(p).aggregate(&[10, 10], &ups).unwrap();
        assert_eq!(o.accepted, vec![true, true, true, true, false]);
        // S = (13, 11), Δ = (⌊13/4⌋, ⌊11/4⌋) = (3, 2).
        assert_eq!(o.new_model, vec![13, 12]);
        // Leave-one-out: (5,0) against (8, 11): 40/(5·√185) = 0.58817 → 588.
        assert_eq!(o.scores[0], 588);
        assert_eq!(o.scores[4], 0);
        let full = ProvenRule(p).run(&[10, 10], &ups).unwrap();
        assert_eq!(full.decision.scores, o.scores);
    }

    #[test]
    fn v1_rule_scores_against_the_sum_with_itself() {
        // Euclidean Krum keeps the four short updates; the far one is out.
        let p = RuleParams::new(5, 2, 1, 1 << 20);
        let ups = vec![
            s(&[2, 0]),
            s(&[2, 2]),
            s(&[4, 0]),
            s(&[4, 2]),
            s(&[100, -100]),
        ];
        let o = MultiKrumV1(p).aggregate(&[10, 10], &ups).unwrap();
        assert_eq!(o.accepted, vec![true, true, true, true, false]);
        assert_eq!(o.new_model, vec![13, 11]);
        // cos((2,0),(12,4)) = 24/(2·√160) = 0.9487 → 948.
        assert_eq!(o.scores[0], 948);
        assert_eq!(o.scores[4], 0);
    }

    #[test]
    fn fedavg_floors_the_mean_and_accepts_every_present_update() {
        let ups = vec![s(&[1, -1]), None, s(&[2, -2])];
        let o = FedAvg.aggregate(&[0, 0], &ups).unwrap();
        // Σ = (3, −3) over 2: ⌊1.5⌋ = 1, ⌊−1.5⌋ = −2.
        assert_eq!(o.new_model, vec![1, -2]);
        assert_eq!(o.accepted, vec![true, false, true]);
        assert_eq!(o.scores, vec![1000, 0, 1000]);
    }

    #[test]
    fn median_ignores_one_outlier() {
        let ups = vec![s(&[1, 5]), s(&[2, 6]), s(&[1000, -1000])];
        let o = Median.aggregate(&[0, 0], &ups).unwrap();
        assert_eq!(o.new_model, vec![2, 5]);
        // Even count: the floored mean of the middle two: (1+2)/2 → 1, (5+6)/2 → 5.
        let o = Median.aggregate(&[0, 0], &ups[..2]).unwrap();
        assert_eq!(o.new_model, vec![1, 5]);
        // The outlier points away from (4, 10)·… : cos((1000,−1000),(2,5)) < 0 → 0.
        let o = Median.aggregate(&[0, 0], &ups).unwrap();
        assert_eq!(o.scores[2], 0);
        assert!(o.scores[0] > 900);
    }

    #[test]
    fn trimmed_mean_drops_the_extremes_per_coordinate() {
        let ups = vec![s(&[1, 9]), s(&[2, 8]), s(&[3, 7]), s(&[-50, 50])];
        let o = TrimmedMean { trim: 1 }.aggregate(&[0, 0], &ups).unwrap();
        // Column 0 sorted −50,1,2,3 → keep 1,2 → 1; column 1: 7,8,9,50 → keep 8,9 → 8.
        assert_eq!(o.new_model, vec![1, 8]);
        // Too few to trim: model unchanged, nothing accepted.
        let o = TrimmedMean { trim: 2 }.aggregate(&[5, 5], &ups).unwrap();
        assert_eq!(o.new_model, vec![5, 5]);
        assert_eq!(o.accepted, vec![false; 4]);
    }

    #[test]
    fn reputation_excludes_a_persistent_opponent() {
        let mut r = Reputation::new(0.5, 0.6);
        let ups = vec![s(&[10, 0]), s(&[10, 0]), s(&[-10, 0])];
        // Round 1: all reliable (r = 1); Δ = (10+10−10)/3 = (3.33, 0) → (3, 0).
        let o = r.aggregate(&[0, 0], &ups).unwrap();
        assert_eq!(o.new_model, vec![3, 0]);
        assert_eq!(o.accepted, vec![true, true, true]);
        assert_eq!(o.scores, vec![1000, 1000, 0]);
        // r = 0.5·1 + 0.5·cos: 1, 1, 0.5 → the third falls below 0.6.
        assert_eq!(r.reputations(), &[1.0, 1.0, 0.5]);
        let o = r.aggregate(&[3, 0], &ups).unwrap();
        assert_eq!(o.accepted, vec![true, true, false]);
        assert_eq!(o.new_model, vec![13, 0]);
    }

    #[test]
    fn rules_refuse_a_wrong_length_and_overflow() {
        let ups = vec![s(&[1, 2, 3])];
        for mut rule in [
            Box::new(FedAvg) as Box<dyn Rule>,
            Box::new(Median),
            Box::new(TrimmedMean { trim: 0 }),
            Box::new(Reputation::new(0.9, 0.1)),
        ] {
            assert!(matches!(
                rule.aggregate(&[0, 0], &ups),
                Err(RuleError::UpdateLength { slot: 0, .. })
            ));
            assert_eq!(
                rule.aggregate(&[i16::MAX], &[s(&[1])]),
                Err(RuleError::ModelOverflow { index: 0 }),
                "{}",
                rule.name()
            );
        }
    }
}
