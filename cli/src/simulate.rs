//! `merit simulate`: federated rounds in memory — no chain, no IPFS, no proofs — with the
//! same trainer and rule code as the nodes. Flower's simulation engine is the model: any
//! [`Rule`] (the seam, like Flower's `Strategy`) runs against simulated trainers.
//!
//! One run, for a [`SimConfig`]:
//!
//! 1. The data set goes through the owner's holdout (`merit_trainer::bench::holdout`:
//!    features scaled to [-1, 1], the fixed stratified 80/20 train/test split); the
//!    training part is partitioned among the trainers, IID or Dirichlet(α) by label
//!    (`merit_trainer::data::partition`, at least [`MIN_ROWS`] rows each, `seed`).
//! 2. The initial model is `init_params(spec, seed)`, quantised at the spec's scale.
//! 3. Each round every trainer starts from the global model and produces its update as a
//!    node does (`TrainerNode::compute_update`): [`CandleMlp`] trains on its shard (batch
//!    order seeded by `node::round_seed(seed, 0, round, slot)`), the delta is clipped and
//!    quantised by `protocol::fixed::clip_and_quantise`, then shaped by its
//!    [`Behaviour`] (`behaviour::shape_update`; `stale-copy` from the
//!    previous round's updates). A `copy:SLOT` trainer reveals another slot's file, which
//!    does not open its own commitment, so the aggregator sets it aside: here it is simply
//!    absent (copying itself, it is the zero update it committed to). A `replay` trainer
//!    resends its first update, whose commitment the contract refuses after the first
//!    round (`MarketError::ReplayedUpdate`): absent too. A `free-rider` sends Gaussian
//!    noise as long as the median of last round's reveals (public), so that only the
//!    rule, not the length band, can catch it (the node's free-rider uses a fixed length).
//! 4. The chosen rule aggregates the round (for `proven`: exactly `protocol::rule::run`
//!    through [`ProvenRule`]), the global model advances, and test accuracy is measured.
//!
//! The attackers are the *last* `⌈fraction · n⌉` trainers. With any attacker, the same
//! seed and split are run again with every trainer honest, for `clean_accuracy`.

use merit_aggregator::rules::{
    FedAvg, Median, MultiKrumV1, ProvenRule, Reputation, Rule, TrimmedMean,
};
use merit_protocol::fixed::{self, ClipError, QuantError};
use merit_protocol::rule::{RuleError, RuleParams};
use merit_protocol::spec::ProjectSpec;
use merit_trainer::behaviour::{self, BadBehaviour, Behaviour};
use merit_trainer::data::{self, DataError, Dataset, Partition};
use merit_trainer::learner::{self, CandleMlp, LearnError, Learner};
use merit_trainer::node::round_seed;
use rand::SeedableRng;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Each trainer gets at least this many training rows.
pub const MIN_ROWS: usize = 10;
/// The reputation rule's decay `α` (`r ← α r + (1 − α) cos`).
pub const REPUTATION_ALPHA: f64 = 0.8;
/// The reputation below which the reputation rule leaves a trainer out.
pub const REPUTATION_THRESHOLD: f64 = 0.2;
/// The node's salt for a round's behaviour noise (`TrainerNode::compute_update`).
const NOISE_SALT: u64 = 0x006e_6f69_7365;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("need at least one trainer")]
    NoTrainers,
    #[error("{trainers} trainers: the proven rule has at most {max} slots")]
    TooManyTrainers { trainers: usize, max: usize },
    #[error("the data has {found:?} (features, classes); the spec's model takes {expected:?}")]
    DataShape {
        found: (usize, usize),
        expected: (usize, usize),
    },
    #[error("splitting the data")]
    Data(#[from] DataError),
    #[error("training")]
    Learn(#[from] LearnError),
    #[error("clipping and quantising an update")]
    Clip(#[from] ClipError),
    #[error("quantising the model")]
    Quant(#[from] QuantError),
    #[error("the {rule} rule refused round {round}")]
    Rule {
        rule: &'static str,
        round: u32,
        #[source]
        source: RuleError,
    },
}

/// Which [`Rule`] aggregates the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `protocol::rule::run` (ceiling, band, duplicates, angular Multi-Krum with `f`, mean,
    /// leave-one-out cosine scores).
    Proven,
    /// Protocol v1's rule (Euclidean Multi-Krum, cosine against the sum), for comparison.
    MultiKrumV1,
    FedAvg,
    Median,
    /// Trims `f` values at each end of every coordinate.
    TrimmedMean,
    /// RFFL-style, with [`REPUTATION_ALPHA`] and [`REPUTATION_THRESHOLD`].
    Reputation,
}

impl RuleKind {
    pub const ALL: [RuleKind; 6] = [
        Self::Proven,
        Self::MultiKrumV1,
        Self::FedAvg,
        Self::Median,
        Self::TrimmedMean,
        Self::Reputation,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Proven => "proven",
            Self::MultiKrumV1 => "multi-krum-v1",
            Self::FedAvg => "fedavg",
            Self::Median => "median",
            Self::TrimmedMean => "trimmed-mean",
            Self::Reputation => "reputation",
        }
    }

    /// The rule itself, for `params` (`f` = `params.byzantine`).
    pub fn build(self, params: RuleParams) -> Box<dyn Rule> {
        match self {
            Self::Proven => Box::new(ProvenRule(params)),
            Self::MultiKrumV1 => Box::new(MultiKrumV1(params)),
            Self::FedAvg => Box::new(FedAvg),
            Self::Median => Box::new(Median),
            Self::TrimmedMean => Box::new(TrimmedMean {
                trim: params.byzantine,
            }),
            Self::Reputation => Box::new(Reputation::new(REPUTATION_ALPHA, REPUTATION_THRESHOLD)),
        }
    }
}

/// As its command-line name (`proven`, `fedavg`, …).
impl Serialize for RuleKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown rule {0:?}: expected proven, multi-krum-v1, fedavg, median, trimmed-mean or reputation"
)]
pub struct BadRule(pub String);

impl FromStr for RuleKind {
    type Err = BadRule;

    fn from_str(s: &str) -> Result<Self, BadRule> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| BadRule(s.into()))
    }
}

/// `KIND:FRACTION`: the last `⌈fraction · n⌉` trainers behave as `KIND`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attack {
    pub behaviour: Behaviour,
    /// In `[0, 1]`.
    pub fraction: f64,
}

impl Attack {
    /// How many of `trainers` attack: `⌈fraction · trainers⌉`.
    pub fn count(&self, trainers: usize) -> usize {
        // The small slack keeps 0.2 · 10 = 2.0000000000000004 at 2.
        ((self.fraction * trainers as f64) - 1e-9).ceil().max(0.0) as usize
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadAttack {
    #[error("attack {0:?}: expected KIND:FRACTION, e.g. label-flip:0.2 or scale:10:0.3")]
    Shape(String),
    #[error("attack {0:?}: the fraction must be a number in [0, 1]")]
    Fraction(String),
    #[error(transparent)]
    Behaviour(#[from] BadBehaviour),
}

impl FromStr for Attack {
    type Err = BadAttack;

    fn from_str(s: &str) -> Result<Self, BadAttack> {
        let (kind, fraction) = s
            .rsplit_once(':')
            .ok_or_else(|| BadAttack::Shape(s.into()))?;
        let fraction: f64 = fraction
            .parse()
            .ok()
            .filter(|f: &f64| (0.0..=1.0).contains(f))
            .ok_or_else(|| BadAttack::Fraction(s.into()))?;
        Ok(Self {
            behaviour: kind.parse()?,
            fraction,
        })
    }
}

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.behaviour, self.fraction)
    }
}

/// Everything a simulation needs. The spec's rounds, local epochs and `byzantine` are
/// already overridden by the caller where it wants to.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub spec: ProjectSpec,
    /// The whole labelled data set, unscaled (the holdout scales it).
    pub data: Dataset,
    pub trainers: usize,
    pub attack: Option<Attack>,
    pub rounds: u32,
    pub rule: RuleKind,
    /// `f`: Multi-Krum's Byzantine budget, the trimmed mean's trim.
    pub byzantine: usize,
    /// `None`: IID; `Some(α)`: Dirichlet(α) by label.
    pub alpha: Option<f64>,
    /// Trainer `t` holds a share `∝ (t + 1)^−exponent` (IID by label); wins over `alpha`.
    pub power_law: Option<f64>,
    /// Also train each honest trainer alone and report the fairness correlation.
    pub fairness: bool,
    /// Seeds the initial model, the partition, batch orders and behaviour noise.
    pub seed: u64,
}

impl SimConfig {
    /// A configuration from a spec: its rounds and `byzantine`, IID, seed 1, no attack,
    /// the proven rule.
    pub fn new(spec: ProjectSpec, data: Dataset, trainers: usize) -> Self {
        let merit_protocol::spec::Aggregation::AngularKrum { byzantine, .. } = spec.aggregation;
        Self {
            rounds: spec.rounds,
            byzantine: byzantine as usize,
            spec,
            data,
            trainers,
            attack: None,
            rule: RuleKind::Proven,
            alpha: None,
            power_law: None,
            fairness: false,
            seed: 1,
        }
    }
}

/// One trainer over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainerReport {
    pub slot: usize,
    /// `honest` or the attack's behaviour.
    pub behaviour: String,
    pub attacker: bool,
    /// Training rows in its shard.
    pub samples: usize,
    /// Sum of its per-mille round scores.
    pub total_score: u64,
    /// Rounds in which the rule accepted its update.
    pub accepts: u32,
    /// Its score in each round.
    pub scores: Vec<u32>,
    /// Test accuracy of a model trained on this trainer's data alone (with `fairness`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standalone_accuracy: Option<f32>,
}

/// What a simulation measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    pub rule: RuleKind,
    pub rounds: u32,
    pub trainers: usize,
    pub attack: Option<String>,
    pub attackers: usize,
    pub byzantine: usize,
    pub alpha: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_law: Option<f64>,
    pub seed: u64,
    pub local_epochs: u32,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Test accuracy of the initial model.
    pub initial_accuracy: f32,
    /// Test accuracy after each round.
    pub accuracy: Vec<f32>,
    pub final_accuracy: f32,
    /// Final accuracy of the same seed and split with every trainer honest.
    pub clean_accuracy: f32,
    /// The attackers' share of all scores over all rounds (0 when no score was given).
    pub attacker_score_share: f64,
    /// The attackers' share of the trainers.
    pub attacker_headcount_share: f64,
    /// Pearson correlation, over the honest trainers, of total score and standalone
    /// accuracy (RFFL's fairness; with `fairness`, `None` when undefined).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness: Option<f64>,
    pub per_trainer: Vec<TrainerReport>,
}

/// One run's outcome (attacked or clean).
struct Run {
    initial_accuracy: f32,
    accuracy: Vec<f32>,
    scores: Vec<Vec<u32>>,
    accepts: Vec<u32>,
}

/// Runs the simulation of `cfg`, and, if it has attackers, the same without them.
pub fn simulate(cfg: &SimConfig) -> Result<SimReport, SimError> {
    simulate_with_progress(cfg, &mut |_, _, _| {})
}

/// [`simulate`], calling `progress(clean, round, accuracy)` after every round (`clean`:
/// the honest baseline run).
pub fn simulate_with_progress(
    cfg: &SimConfig,
    progress: &mut dyn FnMut(bool, u32, f32),
) -> Result<SimReport, SimError> {
    let n = cfg.trainers;
    if n == 0 {
        return Err(SimError::NoTrainers);
    }
    let max = merit_protocol::abi::MAX_SLOTS as usize;
    if n > max {
        return Err(SimError::TooManyTrainers { trainers: n, max });
    }
    let expected = (
        cfg.spec.features.inputs as usize,
        cfg.spec.features.classes as usize,
    );
    if (cfg.data.inputs, cfg.data.classes) != expected {
        return Err(SimError::DataShape {
            found: (cfg.data.inputs, cfg.data.classes),
            expected,
        });
    }
    let (train, test) = merit_trainer::bench::holdout(&cfg.data);
    let all: Vec<usize> = (0..train.len()).collect();
    let how = match (cfg.power_law, cfg.alpha) {
        (Some(exponent), _) => Partition::PowerLaw { exponent },
        (None, Some(alpha)) => Partition::Dirichlet { alpha },
        (None, None) => Partition::Iid,
    };
    let parts = data::partition(&train, &all, n, how, MIN_ROWS, cfg.seed)?;
    let shards: Vec<Dataset> = parts.iter().map(|p| train.select(p)).collect();

    let attackers = cfg.attack.map_or(0, |a| a.count(n).min(n));
    let behaviours: Vec<Behaviour> = (0..n)
        .map(|i| match cfg.attack {
            Some(a) if i >= n - attackers => a.behaviour,
            _ => Behaviour::Honest,
        })
        .collect();
    let run = run_rounds(cfg, &shards, &test, &behaviours, &mut |r, a| {
        progress(false, r, a)
    })?;
    let final_accuracy = run.accuracy.last().copied().unwrap_or(run.initial_accuracy);
    let clean_accuracy = if attackers == 0 {
        final_accuracy
    } else {
        let honest = vec![Behaviour::Honest; n];
        let clean = run_rounds(cfg, &shards, &test, &honest, &mut |r, a| {
            progress(true, r, a)
        })?;
        clean
            .accuracy
            .last()
            .copied()
            .unwrap_or(clean.initial_accuracy)
    };

    let standalone: Vec<Option<f32>> = if cfg.fairness {
        (0..n)
            .map(|i| {
                (behaviours[i] == Behaviour::Honest)
                    .then(|| standalone_accuracy(cfg, &shards[i], &test))
                    .transpose()
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![None; n]
    };
    let per_trainer: Vec<TrainerReport> = (0..n)
        .map(|i| {
            let scores: Vec<u32> = run.scores.iter().map(|round| round[i]).collect();
            TrainerReport {
                slot: i,
                behaviour: behaviours[i].to_string(),
                attacker: i >= n - attackers,
                samples: shards[i].len(),
                total_score: scores.iter().map(|&s| u64::from(s)).sum(),
                accepts: run.accepts[i],
                scores,
                standalone_accuracy: standalone[i],
            }
        })
        .collect();
    let fairness = cfg.fairness.then(|| {
        let (x, y): (Vec<f64>, Vec<f64>) = per_trainer
            .iter()
            .filter_map(|t| Some((t.total_score as f64, f64::from(t.standalone_accuracy?))))
            .unzip();
        pearson(&x, &y)
    });
    let total: u64 = per_trainer.iter().map(|t| t.total_score).sum();
    let by_attackers: u64 = per_trainer
        .iter()
        .filter(|t| t.attacker)
        .map(|t| t.total_score)
        .sum();
    Ok(SimReport {
        rule: cfg.rule,
        rounds: cfg.rounds,
        trainers: n,
        attack: cfg.attack.filter(|_| attackers > 0).map(|a| a.to_string()),
        attackers,
        byzantine: cfg.byzantine,
        alpha: cfg.alpha,
        power_law: cfg.power_law,
        seed: cfg.seed,
        local_epochs: cfg.spec.training.local_epochs,
        train_rows: train.len(),
        test_rows: test.len(),
        initial_accuracy: run.initial_accuracy,
        accuracy: run.accuracy,
        final_accuracy,
        clean_accuracy,
        attacker_score_share: if total == 0 {
            0.0
        } else {
            by_attackers as f64 / total as f64
        },
        attacker_headcount_share: attackers as f64 / n as f64,
        fairness: fairness.flatten(),
        per_trainer,
    })
}

/// The test accuracy of a model trained on `shard` alone for as many epochs as the
/// federation ran (`rounds × local_epochs`), from the same initial model.
fn standalone_accuracy(cfg: &SimConfig, shard: &Dataset, test: &Dataset) -> Result<f32, SimError> {
    let spec = &cfg.spec;
    let scale = spec.fixed_point.scale_bits;
    let mut learner = CandleMlp::from_spec(spec);
    let init = fixed::quantise_all(&learner::init_params(spec, cfg.seed), scale)?;
    let mut params = fixed::dequantise_all(&init, scale)?;
    for round in 0..cfg.rounds {
        let seed = round_seed(cfg.seed, 0, round, u32::MAX);
        params = learner.train(&params, shard, seed, &mut |_, _| {})?;
    }
    Ok(learner.accuracy(&params, test)?)
}

/// Pearson's correlation coefficient; `None` with fewer than two points or no spread.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 || n != y.len() {
        return None;
    }
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

fn run_rounds(
    cfg: &SimConfig,
    shards: &[Dataset],
    test: &Dataset,
    behaviours: &[Behaviour],
    progress: &mut dyn FnMut(u32, f32),
) -> Result<Run, SimError> {
    let spec = &cfg.spec;
    let n = shards.len();
    let (clip, scale) = (spec.training.clip_norm, spec.fixed_point.scale_bits);
    let mut model = fixed::quantise_all(&learner::init_params(spec, cfg.seed), scale)?;
    let params = RuleParams {
        slots: n,
        byzantine: cfg.byzantine,
        ..RuleParams::from_spec(spec)
    };
    let mut rule = cfg.rule.build(params);
    let mut learner = CandleMlp::from_spec(spec);
    // A label-flipper trains on flipped labels, as the node flips its data once.
    let shards: Vec<Dataset> = shards
        .iter()
        .zip(behaviours)
        .map(|(s, &b)| {
            let mut s = s.clone();
            if b == Behaviour::LabelFlip {
                let classes = s.classes;
                s.labels
                    .iter_mut()
                    .for_each(|l| *l = behaviour::flip_label(*l, classes));
            }
            s
        })
        .collect();

    let initial_accuracy = learner.accuracy(&fixed::dequantise_all(&model, scale)?, test)?;
    let mut run = Run {
        initial_accuracy,
        accuracy: Vec::new(),
        scores: Vec::new(),
        accepts: vec![0; n],
    };
    let mut previous: Vec<Option<Vec<i16>>> = vec![None; n];
    for round in 0..cfg.rounds {
        let global = fixed::dequantise_all(&model, scale)?;
        let mut updates: Vec<Option<Vec<i16>>> = Vec::with_capacity(n);
        for (slot, (&b, shard)) in behaviours.iter().zip(&shards).enumerate() {
            let seed = round_seed(cfg.seed, 0, round, slot as u32);
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ NOISE_SALT);
            let u = match b {
                // Reveals another slot's file: it does not open this slot's commitment.
                Behaviour::Copy(target) if target as usize != slot => None,
                // A replayed update has the commitment it had when first committed, which
                // the contract refuses (`MarketError::ReplayedUpdate`): the slot is absent
                // in every round after its first.
                Behaviour::Replay if round > 0 => None,
                Behaviour::StaleCopy(target) => {
                    let pick = previous.iter().enumerate().find(|(k, u)| {
                        *k != slot && u.is_some() && target.is_none_or(|t| t as usize == *k)
                    });
                    Some(match pick {
                        Some((_, Some(v))) => behaviour::stale_copy(v, clip, scale, &mut rng)?,
                        _ => {
                            let zeros = vec![0.0; global.len()];
                            behaviour::shape_update(
                                Behaviour::FreeRider,
                                &zeros,
                                clip,
                                scale,
                                &mut rng,
                            )?
                        }
                    })
                }
                Behaviour::FreeRider if previous.iter().any(Option::is_some) => {
                    // Noise of a typical honest length: the median of last round's reveals.
                    let mut norms: Vec<f64> = previous
                        .iter()
                        .flatten()
                        .map(|u| (merit_protocol::rule::norm_sq(u) as f64).sqrt())
                        .collect();
                    norms.sort_by(f64::total_cmp);
                    let median = norms[norms.len().div_ceil(2) - 1] / f64::from(1u32 << scale);
                    let noise = behaviour::noise_of_norm(global.len(), median, &mut rng);
                    Some(fixed::clip_and_quantise(&noise, clip, scale)?)
                }
                _ => {
                    let delta: Vec<f32> = if b.trains() || b == Behaviour::Replay {
                        let local = learner.train(&global, shard, seed, &mut |_, _| {})?;
                        local.iter().zip(&global).map(|(l, g)| l - g).collect()
                    } else {
                        vec![0.0; global.len()]
                    };
                    Some(behaviour::shape_update(b, &delta, clip, scale, &mut rng)?)
                }
            };
            updates.push(u);
        }
        let out = rule
            .aggregate(&model, &updates)
            .map_err(|source| SimError::Rule {
                rule: rule.name(),
                round,
                source,
            })?;
        for (a, &ok) in run.accepts.iter_mut().zip(&out.accepted) {
            *a += u32::from(ok);
        }
        run.scores.push(out.scores);
        model = out.new_model;
        previous = updates;
        let acc = learner.accuracy(&fixed::dequantise_all(&model, scale)?, test)?;
        run.accuracy.push(acc);
        progress(round, acc);
    }
    Ok(run)
}

impl SimReport {
    /// A readable summary: the setting, accuracies, then one line per trainer.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} trainers, {}, {} round(s) of {} local epoch(s), rule {} (f = {}), seed {}, attack {}",
            self.trainers,
            match (self.power_law, self.alpha) {
                (Some(e), _) => format!("power-law sizes (exponent {e})"),
                (None, Some(a)) => format!("Dirichlet({a})"),
                (None, None) => "IID".to_string(),
            },
            self.rounds,
            self.local_epochs,
            self.rule,
            self.byzantine,
            self.seed,
            self.attack.as_deref().unwrap_or("none"),
        );
        let _ = writeln!(
            s,
            "test accuracy: initial {:.2} %, final {:.2} %, without attackers {:.2} % ({} test rows)",
            100.0 * self.initial_accuracy,
            100.0 * self.final_accuracy,
            100.0 * self.clean_accuracy,
            self.test_rows
        );
        let _ = writeln!(
            s,
            "attackers: {} of {} ({:.1} % of the trainers), {:.1} % of the score",
            self.attackers,
            self.trainers,
            100.0 * self.attacker_headcount_share,
            100.0 * self.attacker_score_share
        );
        if let Some(r) = self.fairness {
            let _ = writeln!(
                s,
                "fairness: Pearson {r:.3} between honest trainers' total scores and standalone accuracies"
            );
        }
        let total: u64 = self.per_trainer.iter().map(|t| t.total_score).sum();
        let _ = writeln!(
            s,
            "{:>4}  {:<14} {:>7}  {:>7}  {:>11}  {:>7}  {:>10}",
            "slot", "behaviour", "samples", "accepts", "total score", "share", "standalone"
        );
        for t in &self.per_trainer {
            let share = if total == 0 {
                0.0
            } else {
                100.0 * t.total_score as f64 / total as f64
            };
            let alone = t
                .standalone_accuracy
                .map_or(String::new(), |a| format!("{:.2} %", 100.0 * a));
            let _ = writeln!(
                s,
                "{:>4}  {:<14} {:>7}  {:>4}/{:<2}  {:>11}  {:>6.1}%  {:>10}",
                t.slot, t.behaviour, t.samples, t.accepts, self.rounds, t.total_score, share, alone
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_protocol::spec::ModelArch;

    /// The example spec, shrunk to 4 features, 3 classes and an 8-unit hidden layer.
    fn spec() -> ProjectSpec {
        let mut s = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json"))
            .expect("the example spec");
        s.features.inputs = 4;
        s.features.classes = 3;
        s.model = ModelArch::Mlp {
            input: 4,
            hidden: vec![8],
            classes: 3,
        };
        s.training.batch_size = 8;
        s.training.learning_rate = 0.3;
        s.training.local_epochs = 2;
        s
    }

    /// Three Gaussian blobs in 4-D (class `l` centred on axis `l`, σ = 0.3), seeded.
    fn blobs(rows: usize, seed: u64) -> Dataset {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut d = Dataset::new(4, 3);
        for i in 0..rows {
            let l = i % 3;
            let mut x = behaviour::gaussian(4, 0.3, &mut rng);
            x[l] += 1.0;
            d.push(&x, l as u32);
        }
        d
    }

    fn config(rule: RuleKind, attack: Option<&str>) -> SimConfig {
        let mut c = SimConfig::new(spec(), blobs(300, 5), 5);
        c.rounds = 4;
        c.rule = rule;
        c.attack = attack.map(|a| a.parse().unwrap());
        c
    }

    #[test]
    fn attacks_and_rules_parse() {
        let a: Attack = "scale:10:0.2".parse().unwrap();
        assert_eq!(a.behaviour, Behaviour::Scale(10.0));
        assert_eq!((a.fraction, a.count(10)), (0.2, 2));
        let a: Attack = "label-flip:0.25".parse().unwrap();
        assert_eq!((a.behaviour, a.count(10)), (Behaviour::LabelFlip, 3));
        assert_eq!("zero:0".parse::<Attack>().unwrap().count(10), 0);
        assert_eq!("zero:1".parse::<Attack>().unwrap().count(7), 7);
        for bad in ["zero", "zero:1.5", "zero:-0.1", "zero:x", "sybil:0.1"] {
            assert!(bad.parse::<Attack>().is_err(), "{bad}");
        }
        for k in RuleKind::ALL {
            assert_eq!(k.to_string().parse::<RuleKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.to_string());
        }
        assert_eq!(RuleKind::FedAvg.to_string(), "fedavg");
        assert!("krum".parse::<RuleKind>().is_err());
    }

    #[test]
    fn honest_rounds_improve_on_the_initial_model() {
        for rule in [RuleKind::Proven, RuleKind::FedAvg] {
            let r = simulate(&config(rule, None)).unwrap();
            assert!(
                r.final_accuracy > r.initial_accuracy + 0.2,
                "{rule}: {} -> {}",
                r.initial_accuracy,
                r.final_accuracy
            );
            assert_eq!(r.clean_accuracy, r.final_accuracy, "no attackers");
            assert_eq!((r.attackers, r.attacker_score_share), (0, 0.0));
            assert_eq!(r.accuracy.len(), 4);
        }
    }

    #[test]
    fn fairness_on_a_power_law_split() {
        let mut c = config(RuleKind::Proven, None);
        c.power_law = Some(1.0);
        c.fairness = true;
        let r = simulate(&c).unwrap();
        let sizes: Vec<usize> = r.per_trainer.iter().map(|t| t.samples).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert!(r.per_trainer.iter().all(|t| t
            .standalone_accuracy
            .is_some_and(|a| (0.0..=1.0).contains(&a))));
        let f = r.fairness.expect("defined with five trainers");
        assert!((-1.0..=1.0).contains(&f), "{f}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["power_law"], 1.0);
        assert!(json["per_trainer"][0]["standalone_accuracy"].is_number());
        // Without --fairness nothing is trained alone.
        c.fairness = false;
        assert!(simulate(&c).unwrap().fairness.is_none());
    }

    #[test]
    fn pearson_is_the_textbook_correlation() {
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        let r = pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.8).abs() < 1e-12, "{r}");
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None, "no spread");
        assert_eq!(pearson(&[1.0], &[1.0]), None);
    }

    #[test]
    fn free_riders_earn_less_than_their_headcount_under_the_proven_rule() {
        for attack in ["zero:0.4", "free-rider:0.4"] {
            let r = simulate(&config(RuleKind::Proven, Some(attack))).unwrap();
            assert_eq!(r.attackers, 2);
            assert!(r.per_trainer[3].attacker && !r.per_trainer[2].attacker);
            assert!(
                r.attacker_score_share < r.attacker_headcount_share,
                "{attack}: {} of the score for {} of the trainers",
                r.attacker_score_share,
                r.attacker_headcount_share
            );
            if attack.starts_with("zero") {
                // cos(0, S) is 0 by definition: a zero update never scores.
                assert_eq!(r.attacker_score_share, 0.0);
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_report() {
        let c = config(RuleKind::Median, Some("noise:1:0.2"));
        assert_eq!(simulate(&c).unwrap(), simulate(&c).unwrap());
    }

    #[test]
    fn copiers_are_absent_and_the_json_has_the_documented_keys() {
        let r = simulate(&config(RuleKind::TrimmedMean, Some("copy:0:0.2"))).unwrap();
        let last = &r.per_trainer[4];
        assert_eq!((last.behaviour.as_str(), last.accepts), ("copy:0", 0));
        let v = serde_json::to_value(&r).unwrap();
        for key in [
            "final_accuracy",
            "clean_accuracy",
            "attacker_score_share",
            "rounds",
            "rule",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["rule"], "trimmed-mean");
        let t = &v["per_trainer"][4];
        for key in ["behaviour", "total_score", "accepts", "samples"] {
            assert!(t.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn a_wrong_data_shape_is_refused() {
        let mut c = config(RuleKind::FedAvg, None);
        c.data = Dataset::new(5, 3);
        assert!(matches!(simulate(&c), Err(SimError::DataShape { .. })));
        c.trainers = 0;
        assert!(matches!(simulate(&c), Err(SimError::NoTrainers)));
    }
}
