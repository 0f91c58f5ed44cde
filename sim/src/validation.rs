//! Issue #23's *validation-gated* candidates (simulation only: no circuit, no SPEC text).
//!
//! Every score read from one round's geometry pays a good forecaster of the consensus
//! (README, "Against the `adaptive` attacker"), so these rules ask a question the public
//! history cannot answer: does the update help the owner's model on rows nobody else
//! holds? Two pieces:
//!
//! - **Server momentum.** The new model is the inner rule's model plus `β` times the
//!   last global change (`β` = [`MOMENTUM_MILLI`] per mille; FedAvgM's heavy ball). The
//!   server itself now applies what the public history predicts, so sending that again is
//!   worth nothing, or less.
//! - **A validation gate.** The owner holds a validation set. From the point
//!   `b = g + β·(last change)`, the utility of a set `S` of accepted updates is
//!   `L(b) − L(b + mean(S))` (mean softmax cross-entropy on the validation set); each
//!   accepted slot's Shapley value is estimated over [`PERMUTATIONS`] random orders (seeded
//!   from the round's model, so every run agrees), and a slot is paid its inner rule's
//!   score only when that value is positive. A candidate the inner rule pays but did not
//!   accept is paid when adding it to the accepted set lowers the loss.
//!
//! The inner rule (protocol v2, or the v5 candidate) decides acceptance and the scores.
//! What an attacker may know: a copy of the rule ([`Rule::fork`]) scores with the
//! `forecast` set instead of the owner's, rows from the same distribution that are not the
//! owner's (the simulator gives it the other half of the test split).

use merit_aggregator::rules::{ProtocolV5, ProvenRule, Rule, RuleOutcome};
use merit_protocol::rule::v5::V5Params;
use merit_protocol::rule::{RuleError, RuleParams};
use merit_trainer::data::Dataset;
use merit_trainer::learner::{CandleModel, LearnError};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// `β` per mille: the share of the last global change the server applies again.
pub const MOMENTUM_MILLI: u32 = 900;
/// Random orders for the Shapley estimate of each round.
pub const PERMUTATIONS: usize = 20;

/// The rule inside the gate.
#[derive(Debug, Clone)]
enum Inner {
    V2(ProvenRule),
    V5(Box<ProtocolV5>),
}

impl Inner {
    /// Acceptance, model and scores in parts per million.
    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        match self {
            Self::V2(r) => {
                let mut o = r.aggregate(prev, updates)?;
                // v2 scores per mille.
                o.scores.iter_mut().for_each(|s| *s *= 1000);
                Ok(o)
            }
            Self::V5(r) => r.aggregate(prev, updates),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ValidationGate {
    inner: Inner,
    learner: CandleModel,
    validation: Dataset,
    forecast: Dataset,
    scale_bits: u8,
    /// The last global change, real units (none before the first round).
    last_change: Option<Vec<f64>>,
}

impl ValidationGate {
    /// Gates protocol v2 (`v5 = false`) or the v5 candidate. Refuses a validation or
    /// forecast set the model cannot read.
    pub fn new(
        params: RuleParams,
        v5: bool,
        learner: CandleModel,
        validation: Dataset,
        forecast: Dataset,
        scale_bits: u8,
    ) -> Result<Self, LearnError> {
        let zeros = vec![0.0; params.dim];
        learner.evaluate(&zeros, &validation)?;
        learner.evaluate(&zeros, &forecast)?;
        let inner = if v5 {
            Inner::V5(Box::new(ProtocolV5::new(V5Params::new(params))))
        } else {
            Inner::V2(ProvenRule(params))
        };
        Ok(Self {
            inner,
            learner,
            validation,
            forecast,
            scale_bits,
            last_change: None,
        })
    }

    fn loss(&self, model: &[f32]) -> Result<f64, RuleError> {
        self.learner
            .evaluate(model, &self.validation)
            .map(|(_, loss)| f64::from(loss))
            .map_err(|_| RuleError::BadParams("the validation set does not fit the model"))
    }

    /// Each accepted slot's Shapley value of the validation utility from `base`, and the
    /// loss with every accepted update (where each order ends).
    fn shapley(
        &self,
        base: &[f64],
        updates: &[Option<Vec<i16>>],
        accepted: &[usize],
        seed: u64,
    ) -> Result<(Vec<f64>, f64), RuleError> {
        let mut phi = vec![0.0; updates.len()];
        let mut full = f64::NAN;
        let at = |set: &[usize]| self.loss(&self.moved(base, updates, set));
        let start = at(&[])?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..PERMUTATIONS {
            let mut order = accepted.to_vec();
            order.shuffle(&mut rng);
            let (mut prefix, mut before) = (Vec::with_capacity(order.len()), start);
            for &i in &order {
                prefix.push(i);
                let after = at(&prefix)?;
                phi[i] += before - after;
                before = after;
            }
            full = before;
        }
        Ok((phi, full))
    }

    /// `base + mean(set)` in real units.
    fn moved(&self, base: &[f64], updates: &[Option<Vec<i16>>], set: &[usize]) -> Vec<f32> {
        let unit = f64::from(1u32 << self.scale_bits);
        let n = set.len().max(1) as f64;
        base.iter()
            .enumerate()
            .map(|(j, &b)| {
                let sum: f64 = set
                    .iter()
                    .filter_map(|&k| updates[k].as_ref())
                    .map(|u| f64::from(u[j]))
                    .sum();
                (b + sum / n / unit) as f32
            })
            .collect()
    }
}

impl Rule for ValidationGate {
    fn name(&self) -> &'static str {
        match self.inner {
            Inner::V2(_) => "validation-gate",
            Inner::V5(_) => "v5-validation-gate",
        }
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, RuleError> {
        let out = self.inner.aggregate(prev, updates)?;
        let unit = f64::from(1u32 << self.scale_bits);
        let beta = f64::from(MOMENTUM_MILLI) / 1000.0;
        let momentum: Vec<f64> = match &self.last_change {
            Some(c) => c.iter().map(|x| beta * x).collect(),
            None => vec![0.0; prev.len()],
        };
        let base: Vec<f64> = prev
            .iter()
            .zip(&momentum)
            .map(|(&g, m)| f64::from(g) / unit + m)
            .collect();
        let accepted: Vec<usize> = (0..updates.len()).filter(|&i| out.accepted[i]).collect();
        let mut scores = vec![0u32; updates.len()];
        if !accepted.is_empty() {
            let seed = prev
                .iter()
                .fold(0u64, |h, &v| h.wrapping_mul(31).wrapping_add(v as u64));
            let (phi, full) = self.shapley(&base, updates, &accepted, seed)?;
            for i in 0..updates.len() {
                let helps = if out.accepted[i] {
                    phi[i] > 0.0
                } else if out.scores[i] > 0 {
                    let mut with = accepted.clone();
                    with.push(i);
                    self.loss(&self.moved(&base, updates, &with))? < full
                } else {
                    false
                };
                scores[i] = if helps { out.scores[i] } else { 0 };
            }
        }
        let new_model = out
            .new_model
            .iter()
            .zip(&momentum)
            .enumerate()
            .map(|(index, (&g, m))| {
                let v = (f64::from(g) + m * unit).floor();
                i16::try_from(v as i64).map_err(|_| RuleError::ModelOverflow { index })
            })
            .collect::<Result<Vec<i16>, _>>()?;
        self.last_change = Some(
            new_model
                .iter()
                .zip(prev)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)) / unit)
                .collect(),
        );
        Ok(RuleOutcome {
            new_model,
            accepted: out.accepted,
            scores,
        })
    }

    /// An attacker's copy: the same history, the forecast set in place of the owner's.
    fn fork(&self) -> Option<Box<dyn Rule>> {
        let mut copy = self.clone();
        copy.validation = self.forecast.clone();
        Some(Box::new(copy))
    }
}
