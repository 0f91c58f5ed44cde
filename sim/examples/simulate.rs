//! `merit simulate --json` on a release build of the simulation engine alone, for sweeps:
//! the same runs seed for seed as the CLI, about 20 times faster than its debug build, and
//! without building the chain. `bench/redteam_table.py` and `bench/rule_table.py` call it
//! when `MERIT` points here:
//!
//! ```sh
//! cargo build --release -p merit-sim --example simulate
//! MERIT=target/release/examples/simulate DATA=digits.csv python3 bench/redteam_table.py v5
//! ```
//!
//! It reads the flags those scripts pass (`--data`, `--trainers`, `--rule`, `--attack`,
//! `--alpha`, `--power-law`, `--fairness`, `--seed`, `--per-round`, `--rounds`,
//! `--local-epochs`, `--byzantine`, `--duplicate-cosine`) on the example digits spec, ignores
//! `simulate` and `--json`, and prints the report as JSON.

use merit_protocol::spec::{Aggregation, ProjectSpec};
use merit_sim::{simulate, SimConfig};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("simulate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "simulate" && a != "--json")
        .collect();
    let flag = |k: &str| -> Option<&str> {
        let i = args.iter().position(|a| a == k)?;
        args.get(i + 1).map(String::as_str)
    };
    fn parse<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        v.parse().map_err(|e| format!("{k} {v:?}: {e}"))
    }
    let opt = |k: &'static str| flag(k).map(|v| (k, v));
    let mut spec = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json"))
        .map_err(|e| e.to_string())?;
    if let Some((k, v)) = opt("--local-epochs") {
        spec.training.local_epochs = parse(k, v)?;
    }
    let Aggregation::AngularKrum {
        duplicate_cosine, ..
    } = &mut spec.aggregation;
    if let Some((k, v)) = opt("--duplicate-cosine") {
        *duplicate_cosine = parse(k, v)?;
    }
    let data = flag("--data").ok_or("--data FILE is required")?;
    let data = merit_trainer::data::load_csv(
        std::path::Path::new(data),
        spec.features.inputs as usize,
        spec.features.classes as usize,
    )
    .map_err(|e| format!("{data}: {e}"))?;
    let trainers = parse("--trainers", flag("--trainers").unwrap_or("10"))?;
    let mut cfg = SimConfig::new(spec, data, trainers);
    if let Some((k, v)) = opt("--rule") {
        cfg.rule = parse(k, v)?;
    }
    if let Some((k, v)) = opt("--attack") {
        cfg.attack = Some(parse(k, v)?);
    }
    if let Some((k, v)) = opt("--alpha") {
        cfg.alpha = Some(parse(k, v)?);
    }
    if let Some((k, v)) = opt("--power-law") {
        cfg.power_law = Some(parse(k, v)?);
    }
    if let Some((k, v)) = opt("--seed") {
        cfg.seed = parse(k, v)?;
    }
    if let Some((k, v)) = opt("--per-round") {
        cfg.per_round = Some(parse(k, v)?);
    }
    if let Some((k, v)) = opt("--rounds") {
        cfg.rounds = parse(k, v)?;
    }
    if let Some((k, v)) = opt("--byzantine") {
        cfg.byzantine = parse(k, v)?;
    }
    cfg.fairness = args.iter().any(|a| a == "--fairness");
    let report = simulate(&cfg).map_err(|e| e.to_string())?;
    serde_json::to_string(&report).map_err(|e| e.to_string())
}
