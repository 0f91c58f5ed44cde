//! `merit simulate`: flags and the spec merged into a `SimConfig` (flags win), then
//! `merit_cli::simulate::simulate`, then a table or one JSON object.

use anyhow::{Context, Result};
use clap::Args;
use merit_cli::simulate::{self, Attack, RuleKind, SimConfig};
use merit_protocol::spec::ProjectSpec;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct SimulateArgs {
    /// A ProjectSpec JSON (default: examples/digits-spec.json)
    #[arg(long)]
    spec: Option<PathBuf>,
    /// The labelled CSV (`merit data fetch-digits --out digits.csv`)
    #[arg(long, default_value = "digits.csv")]
    data: PathBuf,
    /// Trainers who join (at most 64 unless --per-round samples them)
    #[arg(long, default_value_t = 10)]
    trainers: usize,
    /// Each round draws K slots from everyone who joined (protocol::draw, seeded by --seed
    /// and the round); only they train and are aggregated, and pay is also reported per
    /// participation. Default: everyone, every round
    #[arg(long, value_name = "K")]
    per_round: Option<usize>,
    /// KIND:FRACTION — the last ⌈FRACTION·trainers⌉ trainers behave as KIND (label-flip,
    /// sign-flip, scale:K, noise:SIGMA, free-rider, zero, copy:SLOT, replay,
    /// stale-copy[:SLOT], grief:SLOT, public-copy, lazy:FRACTION, sybil:K, sybil-search:K,
    /// adaptive, exec);
    /// e.g. sign-flip:0.2, scale:10:0.2, sybil:3:0.1, lazy:0.1:0.1
    #[arg(long)]
    attack: Option<Attack>,
    /// Runs CMD (with `sh -c`) each round for the `exec` attackers: it reads the JSON file
    /// named by $MERIT_ATTACKER_INPUT and prints their updates (docs/attacker-exec.md)
    #[arg(long, value_name = "CMD")]
    attacker_exec: Option<String>,
    /// Seconds the --attacker-exec program has per round
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    attacker_timeout: u64,
    /// Rounds (default: the spec's)
    #[arg(long)]
    rounds: Option<u32>,
    // The help lists the names as `RuleKind` spells them.
    #[arg(long, default_value_t = RuleKind::Proven, help = RuleKind::names())]
    rule: RuleKind,
    /// f: Multi-Krum's Byzantine budget and the trimmed mean's trim (default: the spec's)
    #[arg(long)]
    byzantine: Option<usize>,
    /// Dirichlet concentration for a non-IID split by label; IID when absent
    #[arg(long)]
    alpha: Option<f64>,
    /// Power-law data sizes: trainer t holds a share ∝ (t+1)^-EXP (IID by label); wins
    /// over --alpha
    #[arg(long, value_name = "EXP")]
    power_law: Option<f64>,
    /// Also train every honest trainer alone and report the Pearson correlation of total
    /// score with standalone accuracy
    #[arg(long)]
    fairness: bool,
    /// ρ: the length band around the median (default: the spec's)
    #[arg(long)]
    norm_band: Option<f32>,
    /// τ: the duplicate cosine, above 1 for none (default: the spec's)
    #[arg(long)]
    duplicate_cosine: Option<f32>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Local epochs per round (default: the spec's)
    #[arg(long)]
    local_epochs: Option<u32>,
    /// One JSON object at the end (final_accuracy, clean_accuracy, attacker_score_share,
    /// groups, sybil_group_vs_original, lazy_vs_twin, grief_victim_pay_loss, per_trainer
    /// with twin_score, …; with --per-round also per_round, draws, fairness_total and
    /// per_trainer's drawn and pay_per_participation)
    #[arg(long)]
    json: bool,
}

pub fn run(a: SimulateArgs) -> Result<()> {
    let text = match &a.spec {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => include_str!("../../examples/digits-spec.json").to_string(),
    };
    let mut spec = ProjectSpec::from_json(&text)?;
    if let Some(e) = a.local_epochs {
        spec.training.local_epochs = e;
    }
    let merit_protocol::spec::Aggregation::AngularKrum {
        norm_band,
        duplicate_cosine,
        ..
    } = &mut spec.aggregation;
    if let Some(b) = a.norm_band {
        *norm_band = b;
    }
    if let Some(t) = a.duplicate_cosine {
        *duplicate_cosine = t;
    }
    spec.validate()?;
    let data = merit_trainer::data::load_csv(
        &a.data,
        spec.features.inputs as usize,
        spec.features.classes as usize,
    )?;
    let mut cfg = SimConfig::new(spec, data, a.trainers);
    cfg.attack = a.attack;
    cfg.rule = a.rule;
    cfg.alpha = a.alpha;
    cfg.power_law = a.power_law;
    cfg.fairness = a.fairness;
    cfg.seed = a.seed;
    cfg.per_round = a.per_round;
    cfg.attacker_exec = a.attacker_exec.map(|command| simulate::exec::ExecConfig {
        command,
        timeout: std::time::Duration::from_secs(a.attacker_timeout),
    });
    if let Some(r) = a.rounds {
        cfg.rounds = r;
    }
    if let Some(f) = a.byzantine {
        cfg.byzantine = f;
    }
    let chatty = !a.json && std::io::stderr().is_terminal();
    let report = simulate::simulate_with_progress(&cfg, &mut |clean, round, acc| {
        if chatty {
            let run = if clean { "without attackers" } else { "" };
            eprintln!("round {round:>3} {run}: test accuracy {:.2} %", 100.0 * acc);
        }
    })?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: SimulateArgs,
    }

    #[test]
    fn flags_parse_into_typed_values() {
        let c = Cli::try_parse_from([
            "simulate",
            "--attack",
            "scale:10:0.2",
            "--rule",
            "trimmed-mean",
            "--alpha",
            "0.5",
            "--rounds",
            "3",
            "--attacker-exec",
            "python3 bench/attacker_example.py",
        ])
        .unwrap();
        let attack = c.a.attack.unwrap();
        assert_eq!(attack.to_string(), "scale:10:0.2");
        assert_eq!(c.a.rule, RuleKind::TrimmedMean);
        assert_eq!(
            (c.a.alpha, c.a.rounds, c.a.trainers),
            (Some(0.5), Some(3), 10)
        );
        assert!(!c.a.json && c.a.byzantine.is_none() && c.a.per_round.is_none());
        assert_eq!(
            (c.a.attacker_exec.as_deref(), c.a.attacker_timeout),
            (Some("python3 bench/attacker_example.py"), 60)
        );
        let sampled =
            Cli::try_parse_from(["simulate", "--trainers", "100", "--per-round", "10"]).unwrap();
        assert_eq!((sampled.a.trainers, sampled.a.per_round), (100, Some(10)));
        let sybil = Cli::try_parse_from(["simulate", "--attack", "sybil:3:0.1"]).unwrap();
        assert_eq!(sybil.a.attack.unwrap().to_string(), "sybil:3:0.1");
        for bad in [
            ["simulate", "--attack", "scale:10"],
            ["simulate", "--rule", "krum"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_rule_flag_lists_every_name_and_defaults_to_proven() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let rule = cmd.get_arguments().find(|a| a.get_id() == "rule").unwrap();
        assert_eq!(
            rule.get_help().unwrap().to_string(),
            "proven, multi-krum-v1, fedavg, median, trimmed-mean, reputation, v5, validation-gate \
             or v5-validation-gate"
        );
        assert!(rule.get_long_help().is_none());
        assert_eq!(rule.get_default_values(), ["proven"]);
        let c = Cli::try_parse_from(["simulate"]).unwrap();
        assert_eq!(c.a.rule, RuleKind::Proven);
    }
}
