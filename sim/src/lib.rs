//! The engine behind `merit simulate` (re-exported as `merit_cli::simulate`): federated
//! rounds in memory — no chain, no IPFS, no proofs — with the same trainer and rule code as
//! the nodes. Flower's simulation engine is the model: any
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
//! seed and split are run again with every trainer honest, for `clean_accuracy` and each
//! trainer's *twin* pay (`twin_score`): what it earns there, honest and alone.
//!
//! The red team (issue #23), all from public information unless it trains:
//! - `public-copy`: last round's global change (public: the models are), rescaled to the
//!   median length of last round's reveals, jittered ([`behaviour::public_copy`]).
//! - `lazy:FRACTION`: one epoch on that fraction of its rows, rescaled to that median.
//! - `sybil:K`: one trainer's honest update from `K` accounts (slots), each jittered to
//!   cosine [`behaviour::SYBIL_COSINE`]; a run has `n − attackers + K·attackers` slots.
//! - `grief:SLOT`: SLOT's previous-round reveal plus small noise ([`behaviour::grief`]).
//! - `adaptive`: searches public vectors for the update the rule pays best ([`redteam`]).
//! - `exec`: an external program answers ([`exec`], `--attacker-exec`).
//!
//! Training seeds follow the trainer (so a sybil's honest update is its twin's), noise
//! seeds the slot.

pub mod exec;
pub mod redteam;

use merit_aggregator::rules::{
    FedAvg, Median, MultiKrumV1, ProvenRule, Reputation, Rule, TrimmedMean, V5Candidate, V5Params,
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
    #[error("grief:{victim}: there is no slot {victim} among {slots}")]
    GriefTarget { victim: u32, slots: usize },
    #[error("{accounts} accounts (slots) with the sybils: the proven rule has at most {max}")]
    TooManyAccounts { accounts: usize, max: usize },
    #[error("the exec attack needs --attacker-exec CMD, and --attacker-exec needs --attack exec:FRACTION")]
    ExecUnpaired,
    #[error("the adaptive attacker's search")]
    Search(#[from] redteam::SearchError),
    #[error(transparent)]
    Exec(#[from] exec::ExecError),
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
    /// Issue #23's candidate for protocol v5 ([`V5Candidate`], simulation only).
    V5Candidate,
}

impl RuleKind {
    pub const ALL: [RuleKind; 7] = [
        Self::Proven,
        Self::MultiKrumV1,
        Self::FedAvg,
        Self::Median,
        Self::TrimmedMean,
        Self::Reputation,
        Self::V5Candidate,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Proven => "proven",
            Self::MultiKrumV1 => "multi-krum-v1",
            Self::FedAvg => "fedavg",
            Self::Median => "median",
            Self::TrimmedMean => "trimmed-mean",
            Self::Reputation => "reputation",
            Self::V5Candidate => "v5-candidate",
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
            Self::V5Candidate => Box::new(V5Candidate::new(params, V5Params::default())),
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
    "unknown rule {0:?}: expected proven, multi-krum-v1, fedavg, median, trimmed-mean, reputation or v5-candidate"
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
    /// The program that plays the `exec` attackers.
    pub attacker_exec: Option<exec::ExecConfig>,
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
            attacker_exec: None,
        }
    }
}

/// One account (slot) over the whole run; a `sybil:K` trainer has `K`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainerReport {
    pub slot: usize,
    /// The trainer whose data it holds (its index in the split).
    pub trainer: usize,
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
    /// Its trainer's total score in the twin run (same seed, everyone honest, one account
    /// each); present when the run had attackers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twin_score: Option<u64>,
}

/// One attacking trainer and all its accounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    pub trainer: usize,
    pub behaviour: String,
    pub slots: Vec<usize>,
    /// The accounts' total score.
    pub total_score: u64,
    /// Its share of all scores.
    pub score_share: f64,
    /// The trainer's total score in the twin run.
    pub twin_score: u64,
    /// `total_score / twin_score` (`None` when the twin earned nothing).
    pub vs_twin: Option<f64>,
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
    /// Accounts (slots) in the attacked run: `trainers` unless there are sybils.
    pub accounts: usize,
    /// One per attacking trainer.
    pub groups: Vec<GroupReport>,
    /// `sybil:K`: the sybil groups' total score ÷ their trainers' total in the twin run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sybil_group_vs_original: Option<f64>,
    /// `lazy:FRACTION`: the lazy trainers' total score ÷ their full-effort twins' total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lazy_vs_twin: Option<f64>,
    /// `grief:SLOT`: `1 − victim's score ÷ its score in the twin run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grief_victim_pay_loss: Option<f64>,
    pub per_trainer: Vec<TrainerReport>,
}

/// One slot of a run: whose data and which behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Account {
    trainer: usize,
    behaviour: Behaviour,
}

/// One account per trainer, `K` for a `sybil:K` trainer, in trainer order.
fn accounts_of(behaviours: &[Behaviour]) -> Vec<Account> {
    behaviours
        .iter()
        .enumerate()
        .flat_map(|(trainer, &behaviour)| {
            std::iter::repeat_n(Account { trainer, behaviour }, behaviour.accounts())
        })
        .collect()
}

/// `a / b`, `None` when `b` is 0.
fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
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
    let accounts = accounts_of(&behaviours);
    if accounts.len() > max {
        return Err(SimError::TooManyAccounts {
            accounts: accounts.len(),
            max,
        });
    }
    let uses_exec = attackers > 0 && behaviours.contains(&Behaviour::Exec);
    if uses_exec != cfg.attacker_exec.is_some() {
        return Err(SimError::ExecUnpaired);
    }
    if let Some(&Behaviour::Grief(victim)) = behaviours.last().filter(|_| attackers > 0) {
        if victim as usize >= accounts.len() {
            return Err(SimError::GriefTarget {
                victim,
                slots: accounts.len(),
            });
        }
    }
    let run = run_rounds(cfg, &shards, &test, &accounts, &mut |r, a| {
        progress(false, r, a)
    })?;
    let final_accuracy = run.accuracy.last().copied().unwrap_or(run.initial_accuracy);
    let (clean_accuracy, twin) = if attackers == 0 {
        (final_accuracy, None)
    } else {
        let honest = accounts_of(&vec![Behaviour::Honest; n]);
        let clean = run_rounds(cfg, &shards, &test, &honest, &mut |r, a| {
            progress(true, r, a)
        })?;
        let totals: Vec<u64> = (0..n)
            .map(|i| clean.scores.iter().map(|round| u64::from(round[i])).sum())
            .collect();
        (
            clean
                .accuracy
                .last()
                .copied()
                .unwrap_or(clean.initial_accuracy),
            Some(totals),
        )
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
    let per_trainer: Vec<TrainerReport> = accounts
        .iter()
        .enumerate()
        .map(|(slot, acc)| {
            let t = acc.trainer;
            let scores: Vec<u32> = run.scores.iter().map(|round| round[slot]).collect();
            TrainerReport {
                slot,
                trainer: t,
                behaviour: acc.behaviour.to_string(),
                attacker: t >= n - attackers,
                samples: shards[t].len(),
                total_score: scores.iter().map(|&s| u64::from(s)).sum(),
                accepts: run.accepts[slot],
                scores,
                standalone_accuracy: standalone[t],
                twin_score: twin.as_ref().map(|tw| tw[t]),
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
    let groups: Vec<GroupReport> = (n - attackers..n)
        .map(|t| {
            let mine: Vec<&TrainerReport> = per_trainer.iter().filter(|r| r.trainer == t).collect();
            let total_score = mine.iter().map(|r| r.total_score).sum();
            let twin_score = twin.as_ref().map_or(0, |tw| tw[t]);
            GroupReport {
                trainer: t,
                behaviour: behaviours[t].to_string(),
                slots: mine.iter().map(|r| r.slot).collect(),
                total_score,
                score_share: ratio(total_score, total).unwrap_or(0.0),
                twin_score,
                vs_twin: ratio(total_score, twin_score),
            }
        })
        .collect();
    let vs_twin = |pick: fn(Behaviour) -> bool| {
        let g: Vec<&GroupReport> = groups
            .iter()
            .filter(|g| pick(behaviours[g.trainer]))
            .collect();
        if g.is_empty() {
            return None;
        }
        ratio(
            g.iter().map(|g| g.total_score).sum(),
            g.iter().map(|g| g.twin_score).sum(),
        )
    };
    let sybil_group_vs_original = vs_twin(|b| matches!(b, Behaviour::Sybil(_)));
    let lazy_vs_twin = vs_twin(|b| matches!(b, Behaviour::Lazy(_)));
    let grief_victim_pay_loss = match (behaviours.last(), &twin) {
        (Some(&Behaviour::Grief(v)), Some(_)) if attackers > 0 => {
            let victim = &per_trainer[v as usize];
            victim
                .twin_score
                .and_then(|tw| ratio(victim.total_score, tw))
                .map(|r| 1.0 - r)
        }
        _ => None,
    };
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
        accounts: accounts.len(),
        groups,
        sybil_group_vs_original,
        lazy_vs_twin,
        grief_victim_pay_loss,
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
    accounts: &[Account],
    progress: &mut dyn FnMut(u32, f32),
) -> Result<Run, SimError> {
    let spec = &cfg.spec;
    let slots = accounts.len();
    let (clip, scale) = (spec.training.clip_norm, spec.fixed_point.scale_bits);
    let unit = f64::from(1u32 << scale);
    let mut model = fixed::quantise_all(&learner::init_params(spec, cfg.seed), scale)?;
    let params = RuleParams {
        slots,
        byzantine: cfg.byzantine,
        ..RuleParams::from_spec(spec)
    };
    let mut rule = cfg.rule.build(params);
    let mut learner = CandleMlp::from_spec(spec);
    // Lazy and adaptive attackers train one epoch.
    let mut cheap = CandleMlp::from_spec(spec).with_epochs(1);
    // A label-flipper trains on flipped labels, as the node flips its data once.
    let shards: Vec<Dataset> = shards
        .iter()
        .enumerate()
        .map(|(t, s)| {
            let mut s = s.clone();
            if accounts
                .iter()
                .any(|a| a.trainer == t && a.behaviour == Behaviour::LabelFlip)
            {
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
        accepts: vec![0; slots],
    };
    let mut previous: Vec<Option<Vec<i16>>> = vec![None; slots];
    let mut previous_model: Option<Vec<i16>> = None;
    let mut history: Vec<exec::PastRound> = Vec::new();
    for round in 0..cfg.rounds {
        // The adaptive attackers' rule: the run's, with its history where it keeps one.
        let build = || rule.fork().unwrap_or_else(|| cfg.rule.build(params));
        let global = fixed::dequantise_all(&model, scale)?;
        // Public: last round's global change and the median length of its reveals.
        let change: Option<Vec<f32>> = previous_model.as_ref().map(|p| {
            model
                .iter()
                .zip(p)
                .map(|(&a, &b)| ((i32::from(a) - i32::from(b)) as f64 / unit) as f32)
                .collect()
        });
        let median = median_length(&previous).map(|m| m / unit);
        let mut updates: Vec<Option<Vec<i16>>> = Vec::with_capacity(slots);
        // A sybil group's copies, made at its first slot.
        let mut copies: Vec<Vec<i16>> = Vec::new();
        // The exec attackers' slots and honest updates, answered after the loop.
        let (mut exec_slots, mut exec_honest) = (Vec::new(), Vec::new());
        for (slot, acc) in accounts.iter().enumerate() {
            let b = acc.behaviour;
            let shard = &shards[acc.trainer];
            let train_seed = round_seed(cfg.seed, 0, round, acc.trainer as u32);
            let seed = round_seed(cfg.seed, 0, round, slot as u32);
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ NOISE_SALT);
            let train = |l: &mut CandleMlp, data: &Dataset| -> Result<Vec<f32>, SimError> {
                let local = l.train(&global, data, train_seed, &mut |_, _| {})?;
                Ok(local.iter().zip(&global).map(|(l, g)| l - g).collect())
            };
            let noise = |rng: &mut rand::rngs::StdRng| {
                let zeros = vec![0.0; global.len()];
                behaviour::shape_update(Behaviour::FreeRider, &zeros, clip, scale, rng)
            };
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
                        _ => noise(&mut rng)?,
                    })
                }
                Behaviour::Grief(victim) => Some(match &previous[victim as usize] {
                    Some(v) => behaviour::grief(v, clip, scale, &mut rng)?,
                    None => noise(&mut rng)?,
                }),
                Behaviour::FreeRider if median.is_some() => {
                    // Noise of a typical honest length: the median of last round's reveals.
                    let m = median.unwrap_or_default();
                    let v = behaviour::noise_of_norm(global.len(), m, &mut rng);
                    Some(fixed::clip_and_quantise(&v, clip, scale)?)
                }
                Behaviour::PublicCopy => Some(match (&change, median) {
                    (Some(c), Some(m)) if fixed::l2_norm(c) > 0.0 => {
                        behaviour::public_copy(c, m, clip, scale, &mut rng)?
                    }
                    _ => noise(&mut rng)?,
                }),
                Behaviour::Lazy(fraction) => {
                    let rows = behaviour::lazy_rows(shard.len(), fraction, &mut rng);
                    let delta = train(&mut cheap, &shard.select(&rows))?;
                    let delta = match median {
                        Some(m) => behaviour::rescale(&delta, m),
                        None => delta,
                    };
                    Some(fixed::clip_and_quantise(&delta, clip, scale)?)
                }
                Behaviour::Sybil(k) => {
                    if slot == 0 || accounts[slot - 1].trainer != acc.trainer {
                        let honest =
                            fixed::clip_and_quantise(&train(&mut learner, shard)?, clip, scale)?;
                        copies =
                            behaviour::sybil_copies(&honest, k as usize, clip, scale, &mut rng)?;
                        copies.reverse();
                    }
                    copies.pop()
                }
                Behaviour::Adaptive | Behaviour::AdaptiveDamage => {
                    let rows = behaviour::lazy_rows(shard.len(), redteam::CHEAP_FRACTION, &mut rng);
                    let own = train(&mut cheap, &shard.select(&rows))?;
                    // Colluders that chose already this round are known; the rest are
                    // guessed by their previous reveal.
                    let mut proxies = previous.clone();
                    let mut colluders = Vec::new();
                    for (k, u) in updates.iter().enumerate() {
                        if accounts[k].behaviour == b {
                            proxies[k] = u.clone();
                            colluders.push(k);
                        }
                    }
                    let goal = if b == Behaviour::Adaptive {
                        redteam::Goal::Pay
                    } else {
                        redteam::Goal::Damage
                    };
                    let public = redteam::Public {
                        model: &model,
                        change: change.as_deref(),
                        proxies: &proxies,
                        median,
                    };
                    let choice = redteam::search(
                        &build, slot, &public, &own, goal, &colluders, clip, scale, &mut rng,
                    )?;
                    Some(choice.update)
                }
                Behaviour::Exec => {
                    let h = fixed::clip_and_quantise(&train(&mut learner, shard)?, clip, scale)?;
                    exec_slots.push(slot);
                    exec_honest.push(h);
                    None
                }
                _ => {
                    let delta: Vec<f32> = if b.trains() || b == Behaviour::Replay {
                        train(&mut learner, shard)?
                    } else {
                        vec![0.0; global.len()]
                    };
                    Some(behaviour::shape_update(b, &delta, clip, scale, &mut rng)?)
                }
            };
            updates.push(u);
        }
        if let (Some(x), false) = (&cfg.attacker_exec, exec_slots.is_empty()) {
            let file = exec::RoundFile {
                format: exec::FORMAT,
                round,
                rounds: cfg.rounds,
                rule: cfg.rule.to_string(),
                params: exec::ParamsJson {
                    slots,
                    dim: params.dim,
                    byzantine: params.byzantine,
                    norm_bound_sq: params.norm_bound_sq,
                    band_sq_milli: params.band_sq_milli,
                    duplicate_milli: params.duplicate_milli,
                },
                scale_bits: scale,
                clip_norm: clip,
                attackers: &exec_slots,
                global_model: &model,
                previous_global_model: previous_model.as_deref(),
                history: &history,
                honest_updates: &exec_honest,
            };
            for (slot, u) in exec_slots.iter().zip(exec::ask(x, &file)?) {
                updates[*slot] = u;
            }
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
        if cfg.attacker_exec.is_some() {
            history.push(exec::PastRound {
                round,
                reveals: updates.clone(),
                accepted: out.accepted.clone(),
                scores: out.scores.clone(),
            });
        }
        run.scores.push(out.scores);
        previous_model = Some(std::mem::replace(&mut model, out.new_model));
        previous = updates;
        let acc = learner.accuracy(&fixed::dequantise_all(&model, scale)?, test)?;
        run.accuracy.push(acc);
        progress(round, acc);
    }
    Ok(run)
}

/// The lower median of the present updates' lengths (fixed-point units); `None` if none.
fn median_length(updates: &[Option<Vec<i16>>]) -> Option<f64> {
    let mut norms: Vec<f64> = updates
        .iter()
        .flatten()
        .map(|u| (merit_protocol::rule::norm_sq(u) as f64).sqrt())
        .collect();
    norms.sort_by(f64::total_cmp);
    norms.get(norms.len().div_ceil(2).checked_sub(1)?).copied()
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
        for (name, r) in [
            (
                "sybil group ÷ the original alone",
                self.sybil_group_vs_original,
            ),
            ("lazy trainer ÷ its full-effort twin", self.lazy_vs_twin),
            ("grief victim's pay lost", self.grief_victim_pay_loss),
        ] {
            if let Some(r) = r {
                let _ = writeln!(s, "{name}: {r:.3}");
            }
        }
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
    use merit_aggregator::rules::RuleOutcome;
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

    #[test]
    fn sybils_take_k_slots_and_are_compared_with_their_twin() {
        let r = simulate(&config(RuleKind::Proven, Some("sybil:3:0.2"))).unwrap();
        assert_eq!((r.attackers, r.accounts, r.per_trainer.len()), (1, 7, 7));
        let trainers: Vec<usize> = r.per_trainer.iter().map(|t| t.trainer).collect();
        assert_eq!(trainers, [0, 1, 2, 3, 4, 4, 4]);
        assert!(r.per_trainer[4..]
            .iter()
            .all(|t| t.attacker && t.behaviour == "sybil:3"));
        let g = &r.groups[0];
        assert_eq!((g.trainer, g.slots.as_slice()), (4, &[4, 5, 6][..]));
        let group: u64 = r.per_trainer[4..].iter().map(|t| t.total_score).sum();
        assert_eq!(g.total_score, group);
        assert_eq!(Some(g.twin_score), r.per_trainer[4].twin_score);
        assert!(g.twin_score > 0, "the honest twin earns");
        assert_eq!(r.sybil_group_vs_original, ratio(group, g.twin_score));
        assert!((r.attacker_score_share - g.score_share).abs() < 1e-12);
        assert!(r.lazy_vs_twin.is_none() && r.grief_victim_pay_loss.is_none());
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["sybil_group_vs_original"].is_number());
        assert!(v["groups"][0]["score_share"].is_number());
    }

    #[test]
    fn lazy_and_grief_report_their_twin_ratios() {
        let r = simulate(&config(RuleKind::Proven, Some("lazy:0.1:0.2"))).unwrap();
        let g = &r.groups[0];
        assert_eq!(r.lazy_vs_twin, ratio(g.total_score, g.twin_score));
        assert!(r.lazy_vs_twin.is_some());
        let r = simulate(&config(RuleKind::Proven, Some("grief:1:0.2"))).unwrap();
        let victim = &r.per_trainer[1];
        let twin = victim.twin_score.expect("a twin run");
        let loss = r.grief_victim_pay_loss.expect("grief");
        assert!((loss - (1.0 - victim.total_score as f64 / twin as f64)).abs() < 1e-12);
        let mut c = config(RuleKind::Proven, Some("grief:9:0.2"));
        assert!(matches!(
            simulate(&c),
            Err(SimError::GriefTarget {
                victim: 9,
                slots: 5
            })
        ));
        c.attack = Some("sybil:16:1".parse().unwrap());
        assert!(matches!(
            simulate(&c),
            Err(SimError::TooManyAccounts { accounts: 80, .. })
        ));
    }

    #[test]
    fn public_copy_and_adaptive_run_without_training_their_own_share() {
        for attack in ["public-copy:0.2", "adaptive:0.4", "adaptive:damage:0.4"] {
            let r = simulate(&config(RuleKind::Proven, Some(attack))).unwrap();
            assert_eq!(r.accuracy.len(), 4, "{attack}");
            assert!(r.groups.iter().all(|g| g.twin_score > 0), "{attack}");
        }
    }

    /// The v5 candidate keeps history; the adaptive search forks it with that history, and
    /// a griefer's copy of slot 0's previous reveal is stale instead of dropping slot 0.
    #[test]
    fn the_v5_candidate_runs_against_the_red_team() {
        let r = simulate(&config(RuleKind::V5Candidate, Some("adaptive:0.2"))).unwrap();
        assert_eq!(
            (r.rule.to_string().as_str(), r.accuracy.len()),
            ("v5-candidate", 4)
        );
        let r = simulate(&config(RuleKind::V5Candidate, Some("grief:0:0.2"))).unwrap();
        let griefer = &r.per_trainer[4];
        // Round 0 has no previous reveal to copy (it sends noise); later rounds are stale.
        assert!(griefer.scores[1..].iter().all(|&s| s == 0), "{griefer:?}");
        assert!(r.per_trainer[0].total_score > 0);
    }

    /// A public change `d` and six previous reveals that lean along it, with noise `sigma`.
    fn leaning_reveals(
        dim: usize,
        sigma: f64,
        rng: &mut rand::rngs::StdRng,
    ) -> (Vec<f32>, Vec<Option<Vec<i16>>>) {
        let d: Vec<f32> = (0..dim).map(|i| ((i % 5) as f32 - 2.0) * 0.05).collect();
        let proxies = (0..6)
            .map(|_| {
                let e = behaviour::gaussian(dim, sigma, rng);
                let v: Vec<f32> = d.iter().zip(&e).map(|(a, b)| a + b).collect();
                Some(fixed::quantise_all(&v, 10).unwrap())
            })
            .collect();
        (d, proxies)
    }

    /// Pays an update only within cosine 0.9 of `target` (a stand-in for a rule that pays
    /// self-consistency with one's own previous reveal).
    struct PaysNear {
        target: Vec<i16>,
    }

    impl Rule for PaysNear {
        fn name(&self) -> &'static str {
            "pays-near"
        }

        fn aggregate(
            &mut self,
            prev: &[i16],
            updates: &[Option<Vec<i16>>],
        ) -> Result<RuleOutcome, merit_protocol::rule::RuleError> {
            use merit_protocol::rule::{dot, norm_sq};
            let t = norm_sq(&self.target) as f64;
            let scores = updates
                .iter()
                .map(|u| {
                    u.as_ref().map_or(0, |u| {
                        let c = dot(u, &self.target) as f64 / (norm_sq(u) as f64 * t).sqrt();
                        if c >= 0.9 {
                            1000
                        } else {
                            0
                        }
                    })
                })
                .collect();
            Ok(RuleOutcome {
                new_model: prev.to_vec(),
                accepted: vec![true; updates.len()],
                scores,
            })
        }
    }

    /// The attacker's own previous reveal is among what it searches: against a rule that
    /// pays only updates near it, the search finds one.
    #[test]
    fn the_adaptive_search_tries_its_own_previous_reveal() {
        let dim = 64;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (d, mut proxies) = leaning_reveals(dim, 0.04, &mut rng);
        // Its own last reveal: a direction of its own, far from `d` and the others.
        let mine = behaviour::gaussian(dim, 0.1, &mut rng);
        proxies[5] = Some(fixed::quantise_all(&mine, 10).unwrap());
        let target = proxies[5].clone().unwrap();
        let build = || -> Box<dyn Rule> {
            Box::new(PaysNear {
                target: target.clone(),
            })
        };
        let model = vec![0i16; dim];
        let public = redteam::Public {
            model: &model,
            change: Some(&d),
            proxies: &proxies,
            median: Some(fixed::l2_norm(&d)),
        };
        let own = behaviour::gaussian(dim, 0.05, &mut rng);
        let choice = redteam::search(
            &build,
            5,
            &public,
            &own,
            redteam::Goal::Pay,
            &[],
            100.0,
            10,
            &mut rng,
        )
        .unwrap();
        assert_eq!(choice.predicted_score, 1000);
    }

    /// Six slots whose previous reveals all lean along `d`; the search must find a
    /// candidate the rule pays, and pay it at least as well as `d`'s pure noise.
    #[test]
    fn the_adaptive_search_finds_what_the_rule_pays() {
        let dim = 64;
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let (d, proxies) = leaning_reveals(dim, 0.04, &mut rng);
        let params = RuleParams::new(6, dim, 1, 1 << 40);
        let build = || RuleKind::Proven.build(params);
        let model = vec![0i16; dim];
        let public = redteam::Public {
            model: &model,
            change: Some(&d),
            proxies: &proxies,
            median: Some(fixed::l2_norm(&d)),
        };
        let own = behaviour::gaussian(dim, 0.05, &mut rng);
        let pay = redteam::Goal::Pay;
        let choice =
            redteam::search(&build, 5, &public, &own, pay, &[], 100.0, 10, &mut rng).unwrap();
        assert!(choice.tried > 20, "{}", choice.tried);
        let mut updates = proxies.clone();
        updates[5] = Some(choice.update.clone());
        let scored = build().aggregate(&model, &updates).unwrap().scores[5];
        assert_eq!(scored, choice.predicted_score, "the rule's own score");
        updates[5] = Some(fixed::quantise_all(&own, 10).unwrap());
        let own_score = build().aggregate(&model, &updates).unwrap().scores[5];
        assert!(
            choice.predicted_score > own_score.max(500),
            "{} vs its own noise {own_score}",
            choice.predicted_score
        );
    }

    /// The damaging colluder's choice is admitted and harms at least as much as the
    /// best-paid candidate would (the same seed draws the same noise direction, so the
    /// pay search's candidates are among the damage search's).
    #[test]
    fn the_damage_search_harms_more_than_the_pay_search_while_accepted() {
        let dim = 64;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (d, proxies) = leaning_reveals(dim, 0.06, &mut rng);
        let params = RuleParams::new(6, dim, 1, 1 << 40);
        let build = || RuleKind::Proven.build(params);
        let model = vec![0i16; dim];
        let public = redteam::Public {
            model: &model,
            change: Some(&d),
            proxies: &proxies,
            median: Some(fixed::l2_norm(&d)),
        };
        let own: Vec<f32> = d.iter().map(|x| x * 0.5).collect();
        let search = |goal| {
            let mut r = rand::rngs::StdRng::seed_from_u64(12);
            redteam::search(&build, 5, &public, &own, goal, &[], 100.0, 10, &mut r).unwrap()
        };
        let (pay, harm) = (search(redteam::Goal::Pay), search(redteam::Goal::Damage));
        let outcome = |u: &[i16]| {
            let mut updates = proxies.clone();
            updates[5] = Some(u.to_vec());
            build().aggregate(&model, &updates).unwrap()
        };
        assert!(outcome(&harm.update).accepted[5], "stays accepted");
        // The model's step along the honest direction d: smaller with the damaging choice.
        let along = |u: &[i16]| -> f64 {
            let o = outcome(u);
            o.new_model
                .iter()
                .zip(&d)
                .map(|(&n, &x)| f64::from(n) * f64::from(x))
                .sum()
        };
        assert!(
            along(&harm.update) < along(&pay.update),
            "{} vs {}",
            along(&harm.update),
            along(&pay.update)
        );
        assert!(harm.tried > pay.tried);
    }

    fn exec_config(command: &str, secs: u64) -> SimConfig {
        let mut c = config(RuleKind::Proven, Some("exec:0.4"));
        c.rounds = 2;
        c.attacker_exec = Some(exec::ExecConfig {
            command: command.into(),
            timeout: std::time::Duration::from_secs(secs),
        });
        c
    }

    #[test]
    fn the_example_attacker_program_plays_two_rounds() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/attacker_example.py");
        let r = simulate(&exec_config(&format!("python3 {script}"), 60)).unwrap();
        assert_eq!((r.attackers, r.accuracy.len()), (2, 2));
        assert!(r.per_trainer[3..].iter().all(|t| t.behaviour == "exec"));
        // Round 0 sends its honest update, which the rule accepts like its twin's.
        assert!(r.per_trainer[3..].iter().any(|t| t.scores[0] > 0), "{r:?}");
        // Unpaired flags are refused.
        let mut c = exec_config("true", 1);
        c.attack = Some("zero:0.2".parse().unwrap());
        assert!(matches!(simulate(&c), Err(SimError::ExecUnpaired)));
        c.attacker_exec = None;
        c.attack = Some("exec:0.2".parse().unwrap());
        assert!(matches!(simulate(&c), Err(SimError::ExecUnpaired)));
    }

    #[test]
    fn bad_attacker_answers_are_clear_errors() {
        use exec::ExecError as E;
        let py = |body: &str| format!("python3 -c '{body}'");
        type Check = fn(&E) -> bool;
        let cases: Vec<(String, Check)> = vec![
            ("exit 3".into(), |e| matches!(e, E::Exit { .. })),
            ("echo nope".into(), |e| {
                matches!(e, E::NotJson { round: 0, .. })
            }),
            ("sleep 5".into(), |e| {
                matches!(e, E::Timeout { round: 0, .. })
            }),
            (py(r#"print("{\"updates\": [[1, 2], [3]]}")"#), |e| {
                matches!(
                    e,
                    E::Length {
                        slot: 3,
                        got: 2,
                        ..
                    }
                )
            }),
            (
                py(r#"import json; print(json.dumps({"updates": [[float("nan")]] * 2}))"#),
                |e| matches!(e, E::NotFinite { round: 0 }),
            ),
            (py(r#"print("{\"updates\": []}")"#), |e| {
                matches!(
                    e,
                    E::Count {
                        expected: 2,
                        got: 0,
                        ..
                    }
                )
            }),
        ];
        for (cmd, ok) in cases {
            match simulate(&exec_config(&cmd, 1)) {
                Err(SimError::Exec(e)) => assert!(ok(&e), "{cmd}: {e}"),
                other => panic!("{cmd}: {other:?}"),
            }
        }
    }
}
