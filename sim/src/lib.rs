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
//!    node does (`TrainerNode::compute_update`): [`CandleModel`] trains on its shard (batch
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
//! Sampled rounds (`per_round: Some(K)`, `merit simulate --per-round K`, issue #26): each
//! round draws its `K` slots from all the accounts with `protocol::draw` ([`round_draws`]:
//! the seed chain `protocol::draw::round_seed(0, round, previous, seed LE)`, so the draws
//! depend on the seed alone and every rule, and the clean twin, sees the same ones); only
//! the drawn accounts train, the rule runs with `N = K`, and scores accrue per account (0 in
//! a round it was not drawn). Everything a behaviour reads by slot (`copy:SLOT`,
//! `grief:SLOT`, last round's reveals) is then by account, i.e. its index among all who
//! joined; `replay` is absent after its first participation. Without `per_round` every
//! account is drawn every round, in order, and the run is what it always was.
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
//! - `sybil-search:K`: the same group, but each account keeps its own jitter direction
//!   for the whole run and the group picks, each round, the cosine of
//!   [`behaviour::SYBIL_SEARCH_COSINES`] that the rule pays its drawn copies most on the
//!   public information ([`redteam::sybil_search`]).
//! - `grief:SLOT`: SLOT's previous-round reveal plus small noise ([`behaviour::grief`]).
//! - `adaptive`: searches public vectors for the update the rule pays best ([`redteam`]).
//! - `exec`: an external program answers ([`exec`], `--attacker-exec`).
//!
//! Training seeds follow the trainer (so a sybil's honest update is its twin's), noise
//! seeds the slot.

pub mod exec;
pub mod redteam;
mod report;
pub mod validation;

pub use report::{GroupReport, SimReport, TrainerReport};

use merit_aggregator::rules::{
    FedAvg, Median, MultiKrumV1, ProtocolV5, ProvenRule, Reputation, Rule, TrimmedMean,
};
use merit_protocol::draw::{self, DrawError};
use merit_protocol::fixed::{self, ClipError, QuantError};
use merit_protocol::rule::{v5, RuleError, RuleParams};
use merit_protocol::spec::ProjectSpec;
use merit_trainer::behaviour::{self, BadBehaviour, Behaviour};
use merit_trainer::data::{self, DataError, Dataset, Partition};
use merit_trainer::learner::{self, CandleModel, LearnError, Learner};
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
    #[error("--per-round {per_round}: a round draws between 1 and {max} slots")]
    PerRound { per_round: usize, max: usize },
    #[error("the {rule} rule keeps state by slot, which means nothing when each round draws other trainers into the slots")]
    StatefulRuleSampled { rule: RuleKind },
    #[error("drawing a round's slots")]
    Draw(#[from] DrawError),
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
    /// Protocol v5's exact rule ([`ProtocolV5`], `merit_protocol::rule::v5`; not yet proven).
    V5,
    /// Protocol v2 with server momentum and an owner-held validation gate
    /// ([`validation::ValidationGate`], simulation only).
    ValidationGate,
    /// The v5 candidate behind the same momentum and gate.
    V5ValidationGate,
}

impl RuleKind {
    pub const ALL: [RuleKind; 9] = [
        Self::Proven,
        Self::MultiKrumV1,
        Self::FedAvg,
        Self::Median,
        Self::TrimmedMean,
        Self::Reputation,
        Self::V5,
        Self::ValidationGate,
        Self::V5ValidationGate,
    ];

    /// The rule's command-line name: the one place each name is written (`FromStr`,
    /// `Display`, JSON, [`BadRule`] and `merit simulate --help` all read it).
    fn as_str(self) -> &'static str {
        match self {
            Self::Proven => "proven",
            Self::MultiKrumV1 => "multi-krum-v1",
            Self::FedAvg => "fedavg",
            Self::Median => "median",
            Self::TrimmedMean => "trimmed-mean",
            Self::Reputation => "reputation",
            Self::V5 => "v5",
            Self::ValidationGate => "validation-gate",
            Self::V5ValidationGate => "v5-validation-gate",
        }
    }

    /// Every name in [`RuleKind::ALL`]'s order: `proven, multi-krum-v1, …, v5,
    /// validation-gate or v5-validation-gate` (the `--rule` flag's help).
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
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
            Self::V5 => Box::new(ProtocolV5::new(v5::V5Params::new(params))),
            // Without the run's validation rows the gate cannot be built: `simulate` builds
            // it; here (tests of vector-only rules) each stands for its inner rule.
            Self::ValidationGate => Box::new(ProvenRule(params)),
            Self::V5ValidationGate => Box::new(ProtocolV5::new(v5::V5Params::new(params))),
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
#[error("unknown rule {0:?}: expected {names}", names = RuleKind::names())]
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
    /// `Some(K)`: each round draws `K` slots from all the accounts (`protocol::draw`);
    /// `None`: every account is in every round.
    pub per_round: Option<usize>,
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
            per_round: None,
        }
    }
}

/// One slot of a run: whose data and which behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Account {
    trainer: usize,
    behaviour: Behaviour,
}

/// One account per trainer, `K` for a `sybil:K` or `sybil-search:K` trainer, in trainer order.
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
    /// Per round, per account (0 when not drawn).
    scores: Vec<Vec<u32>>,
    accepts: Vec<u32>,
    /// Per account: rounds drawn into.
    drawn: Vec<u32>,
    draws: Vec<Vec<usize>>,
}

/// Each round's slots as indices into the `joined` accounts, slot order: with
/// `per_round: Some(K)`, `protocol::draw::draw` of `K` among `joined` from the seed chain
/// `s_r = round_seed(0, r, s_{r−1}, seed as u64 LE)` (`s_{−1}` = 32 zero bytes; SPEC.md
/// §13); with `None`, everyone in order.
pub fn round_draws(
    seed: u64,
    rounds: u32,
    joined: usize,
    per_round: Option<usize>,
) -> Result<Vec<Vec<usize>>, DrawError> {
    let mut previous = [0u8; 32];
    (0..rounds)
        .map(|round| match per_round {
            None => Ok((0..joined).collect()),
            Some(k) => {
                previous = draw::round_seed(0, round, &previous, &seed.to_le_bytes());
                let slots = u32::try_from(k).unwrap_or(u32::MAX);
                let joined = u32::try_from(joined).unwrap_or(u32::MAX);
                let d = draw::draw(&previous, joined, slots)?;
                Ok(d.into_iter().map(|a| a as usize).collect())
            }
        })
        .collect()
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
    match cfg.per_round {
        None if n > max => return Err(SimError::TooManyTrainers { trainers: n, max }),
        Some(k) if k == 0 || k > max => return Err(SimError::PerRound { per_round: k, max }),
        _ => {}
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
    let sampled = cfg.per_round.is_some_and(|k| k < accounts.len());
    if sampled
        && matches!(
            cfg.rule,
            RuleKind::Reputation | RuleKind::V5 | RuleKind::V5ValidationGate
        )
    {
        return Err(SimError::StatefulRuleSampled { rule: cfg.rule });
    }
    if accounts.len() > max && cfg.per_round.is_none() {
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
            let total_score = scores.iter().map(|&s| u64::from(s)).sum();
            TrainerReport {
                slot,
                trainer: t,
                behaviour: acc.behaviour.to_string(),
                attacker: t >= n - attackers,
                samples: shards[t].len(),
                total_score,
                accepts: run.accepts[slot],
                scores,
                standalone_accuracy: standalone[t],
                twin_score: twin.as_ref().map(|tw| tw[t]),
                drawn: cfg.per_round.map(|_| run.drawn[slot]),
                pay_per_participation: cfg
                    .per_round
                    .and_then(|_| ratio(total_score, u64::from(run.drawn[slot]))),
            }
        })
        .collect();
    // Pearson of a pay measure and standalone accuracy over the honest trainers that have
    // both.
    let fairness_of = |pay: fn(&TrainerReport) -> Option<f64>| {
        let (x, y): (Vec<f64>, Vec<f64>) = per_trainer
            .iter()
            .filter_map(|t| Some((pay(t)?, f64::from(t.standalone_accuracy?))))
            .unzip();
        pearson(&x, &y)
    };
    let total_pay: fn(&TrainerReport) -> Option<f64> = |t| Some(t.total_score as f64);
    let fairness = cfg.fairness.then(|| match cfg.per_round {
        None => fairness_of(total_pay),
        Some(_) => fairness_of(|t| t.pay_per_participation),
    });
    let fairness_total = (cfg.fairness && cfg.per_round.is_some())
        .then(|| fairness_of(total_pay))
        .flatten();
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
    let sybil_group_vs_original =
        vs_twin(|b| matches!(b, Behaviour::Sybil(_) | Behaviour::SybilSearch(_)));
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
        fairness_total,
        per_round: cfg.per_round,
        draws: cfg.per_round.map(|_| run.draws.clone()),
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
    let mut learner = CandleModel::from_spec(spec);
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
    let joined = accounts.len();
    let draws = round_draws(cfg.seed, cfg.rounds, joined, cfg.per_round)?;
    // Slots per round: `K`, or everyone when there are no more than `K`.
    let slots = cfg.per_round.map_or(joined, |k| k.min(joined));
    let (clip, scale) = (spec.training.clip_norm, spec.fixed_point.scale_bits);
    let unit = f64::from(1u32 << scale);
    let mut model = fixed::quantise_all(&learner::init_params(spec, cfg.seed), scale)?;
    let params = RuleParams {
        slots,
        byzantine: cfg.byzantine,
        ..RuleParams::from_spec(spec)
    };
    let mut rule = match cfg.rule {
        RuleKind::ValidationGate | RuleKind::V5ValidationGate => {
            // The owner's validation rows: every second test row; an attacker forecasts
            // with the others (the test accuracy still reads all of them: the gate changes
            // pay, not what is learnt from).
            let pick = |first: usize| -> Vec<usize> { (first..test.len()).step_by(2).collect() };
            Box::new(validation::ValidationGate::new(
                params,
                cfg.rule == RuleKind::V5ValidationGate,
                CandleModel::from_spec(spec),
                test.select(&pick(0)),
                test.select(&pick(1)),
                scale,
            )?) as Box<dyn Rule>
        }
        k => k.build(params),
    };
    let mut learner = CandleModel::from_spec(spec);
    // Lazy and adaptive attackers train one epoch.
    let mut cheap = CandleModel::from_spec(spec).with_epochs(1);
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
        accepts: vec![0; joined],
        drawn: vec![0; joined],
        draws: Vec::new(),
    };
    // Per account: its reveal in the previous round (`None`: absent or not drawn).
    let mut previous: Vec<Option<Vec<i16>>> = vec![None; joined];
    // Per account: drawn into an earlier round.
    let mut took_part = vec![false; joined];
    let mut previous_model: Option<Vec<i16>> = None;
    let mut history: Vec<exec::PastRound> = Vec::new();
    for (round, drawn) in (0..cfg.rounds).zip(draws) {
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
        // Each sybil group's copies (by trainer), made when its first account is drawn.
        let mut copies: std::collections::HashMap<usize, Vec<Vec<i16>>> = Default::default();
        // The exec attackers' slots and honest updates, answered after the loop.
        let (mut exec_slots, mut exec_honest) = (Vec::new(), Vec::new());
        // `slot`: the round's slot; `a`: the account in it (the same without sampling).
        for (slot, &a) in drawn.iter().enumerate() {
            let acc = &accounts[a];
            let b = acc.behaviour;
            let shard = &shards[acc.trainer];
            let train_seed = round_seed(cfg.seed, 0, round, acc.trainer as u32);
            let noise_rng = |account: usize| {
                let seed = round_seed(cfg.seed, 0, round, account as u32);
                rand::rngs::StdRng::seed_from_u64(seed ^ NOISE_SALT)
            };
            let mut rng = noise_rng(a);
            let train = |l: &mut CandleModel, data: &Dataset| -> Result<Vec<f32>, SimError> {
                let local = l.train(&global, data, train_seed, &mut |_, _| {})?;
                Ok(local.iter().zip(&global).map(|(l, g)| l - g).collect())
            };
            let noise = |rng: &mut rand::rngs::StdRng| {
                let zeros = vec![0.0; global.len()];
                behaviour::shape_update(Behaviour::FreeRider, &zeros, clip, scale, rng)
            };
            let u = match b {
                // Reveals another slot's file: it does not open this slot's commitment.
                Behaviour::Copy(target) if target as usize != a => None,
                // A replayed update has the commitment it had when first committed, which
                // the contract refuses (`MarketError::ReplayedUpdate`): the slot is absent
                // in every round after its first.
                Behaviour::Replay if took_part[a] => None,
                Behaviour::StaleCopy(target) => {
                    let pick = previous.iter().enumerate().find(|(k, u)| {
                        *k != a && u.is_some() && target.is_none_or(|t| t as usize == *k)
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
                Behaviour::Sybil(k) | Behaviour::SybilSearch(k) => {
                    // The group's first account seeds its copies, drawn or not.
                    let first = accounts
                        .iter()
                        .position(|x| x.trainer == acc.trainer)
                        .unwrap_or(a);
                    if let std::collections::hash_map::Entry::Vacant(vacant) =
                        copies.entry(acc.trainer)
                    {
                        let honest =
                            fixed::clip_and_quantise(&train(&mut learner, shard)?, clip, scale)?;
                        let made = if let Behaviour::Sybil(_) = b {
                            let mut rng = noise_rng(first);
                            behaviour::sybil_copies(&honest, k as usize, clip, scale, &mut rng)?
                        } else {
                            // Each account keeps its jitter direction for the whole run.
                            let seed = round_seed(cfg.seed, 0, u32::MAX, first as u32);
                            let directions = behaviour::sybil_directions(
                                k as usize,
                                honest.len(),
                                &mut rand::rngs::StdRng::seed_from_u64(seed ^ NOISE_SALT),
                            );
                            // The group's slots this round, with each one's copy index.
                            let group: Vec<(usize, usize)> = drawn
                                .iter()
                                .enumerate()
                                .filter(|(_, &d)| accounts[d].trainer == acc.trainer)
                                .map(|(s, &d)| (s, d - first))
                                .collect();
                            let proxies: Vec<Option<Vec<i16>>> =
                                drawn.iter().map(|&d| previous[d].clone()).collect();
                            let public = redteam::Public {
                                model: &model,
                                change: change.as_deref(),
                                proxies: &proxies,
                                median,
                            };
                            redteam::sybil_search(
                                &build,
                                &public,
                                &group,
                                &honest,
                                &directions,
                                clip,
                                scale,
                            )?
                            .copies
                        };
                        vacant.insert(made);
                    }
                    copies
                        .get(&acc.trainer)
                        .and_then(|c| c.get(a - first))
                        .cloned()
                }
                Behaviour::Adaptive | Behaviour::AdaptiveDamage => {
                    let rows = behaviour::lazy_rows(shard.len(), redteam::CHEAP_FRACTION, &mut rng);
                    let own = train(&mut cheap, &shard.select(&rows))?;
                    // Colluders that chose already this round are known; the rest are
                    // guessed by their previous reveal.
                    let mut proxies: Vec<Option<Vec<i16>>> =
                        drawn.iter().map(|&d| previous[d].clone()).collect();
                    let mut colluders = Vec::new();
                    for (k, u) in updates.iter().enumerate() {
                        if accounts[drawn[k]].behaviour == b {
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
        let mut scores = vec![0u32; joined];
        for (slot, &a) in drawn.iter().enumerate() {
            run.accepts[a] += u32::from(out.accepted[slot]);
            run.drawn[a] += 1;
            took_part[a] = true;
            scores[a] = out.scores[slot];
        }
        if cfg.attacker_exec.is_some() {
            history.push(exec::PastRound {
                round,
                reveals: updates.clone(),
                accepted: out.accepted.clone(),
                scores: out.scores.clone(),
            });
        }
        run.scores.push(scores);
        previous_model = Some(std::mem::replace(&mut model, out.new_model));
        previous = vec![None; joined];
        for (&a, u) in drawn.iter().zip(updates) {
            previous[a] = u;
        }
        run.draws.push(drawn);
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

#[cfg(test)]
mod tests;
