//! What a simulation reports: per account, per group, for the whole run, and the
//! readable table `merit simulate` prints.

use crate::RuleKind;
use serde::Serialize;

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
    /// With `per_round`: the rounds it was drawn into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drawn: Option<u32>,
    /// With `per_round`: `total_score / drawn`, its pay per participation (absent when it
    /// was never drawn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_per_participation: Option<f64>,
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
    /// accuracy (RFFL's fairness; with `fairness`, `None` when undefined). With
    /// `per_round`, of pay per participation and standalone accuracy, over the honest
    /// trainers drawn at least once: every trainer is drawn with the same probability, so
    /// expected pay is proportional to it, while total scores also carry the luck of the
    /// draw (`fairness_total`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness: Option<f64>,
    /// With `per_round` and `fairness`: the correlation of *total* score (draw luck
    /// included) and standalone accuracy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness_total: Option<f64>,
    /// `K`: slots drawn per round from all the accounts (absent: everyone, every round).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_round: Option<usize>,
    /// With `per_round`: each round's drawn accounts (`per_trainer[*].slot`), slot order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draws: Option<Vec<Vec<usize>>>,
    /// Accounts (slots) in the attacked run: `trainers` unless there are sybils.
    pub accounts: usize,
    /// One per attacking trainer.
    pub groups: Vec<GroupReport>,
    /// `sybil:K`, `sybil-search:K`: the sybil groups' total score ÷ their trainers' total in
    /// the twin run.
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

impl TrainerReport {
    /// Its share of all score (per cent) and its standalone accuracy, as the tables print.
    fn share_and_alone(&self, total: u64) -> (f64, String) {
        let share = if total == 0 {
            0.0
        } else {
            100.0 * self.total_score as f64 / total as f64
        };
        let alone = self
            .standalone_accuracy
            .map_or(String::new(), |a| format!("{:.2} %", 100.0 * a));
        (share, alone)
    }
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
        if let Some(k) = self.per_round {
            let _ = writeln!(
                s,
                "sampled rounds: {k} of the {} accounts drawn into each round (protocol::draw)",
                self.accounts
            );
        }
        match (self.fairness, self.per_round) {
            (Some(r), None) => {
                let _ = writeln!(
                    s,
                    "fairness: Pearson {r:.3} between honest trainers' total scores and standalone accuracies"
                );
            }
            (Some(r), Some(_)) => {
                let _ = writeln!(
                    s,
                    "fairness: Pearson {r:.3} between honest trainers' pay per participation and standalone accuracies{}",
                    self.fairness_total
                        .map_or(String::new(), |t| format!(" ({t:.3} with total scores)"))
                );
            }
            (None, _) => {}
        }
        let total: u64 = self.per_trainer.iter().map(|t| t.total_score).sum();
        if self.per_round.is_some() {
            return self.sampled_table(s, total);
        }
        let _ = writeln!(
            s,
            "{:>4}  {:<14} {:>7}  {:>7}  {:>11}  {:>7}  {:>10}",
            "slot", "behaviour", "samples", "accepts", "total score", "share", "standalone"
        );
        for t in &self.per_trainer {
            let (share, alone) = t.share_and_alone(total);
            let _ = writeln!(
                s,
                "{:>4}  {:<14} {:>7}  {:>4}/{:<2}  {:>11}  {:>6.1}%  {:>10}",
                t.slot, t.behaviour, t.samples, t.accepts, self.rounds, t.total_score, share, alone
            );
        }
        s
    }

    /// The per-account table of a sampled run: accepts out of rounds drawn, and pay per
    /// participation.
    fn sampled_table(&self, mut s: String, total: u64) -> String {
        use std::fmt::Write;
        let _ = writeln!(
            s,
            "{:>4}  {:<14} {:>7}  {:>9}  {:>11}  {:>7}  {:>9}  {:>10}",
            "slot",
            "behaviour",
            "samples",
            "accepts",
            "total score",
            "share",
            "per round",
            "standalone"
        );
        for t in &self.per_trainer {
            let (share, alone) = t.share_and_alone(total);
            let per = t
                .pay_per_participation
                .map_or("-".to_string(), |p| format!("{p:.1}"));
            let _ = writeln!(
                s,
                "{:>4}  {:<14} {:>7}  {:>4}/{:<4}  {:>11}  {:>6.1}%  {:>9}  {:>10}",
                t.slot,
                t.behaviour,
                t.samples,
                t.accepts,
                t.drawn.unwrap_or(0),
                t.total_score,
                share,
                per,
                alone
            );
        }
        s
    }
}
