//! `merit bench`: thin front end over `merit_prover::bench` and `merit_trainer::bench`.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Setup, prove and verify the round circuit for one shape on a random realistic round
    /// (or, with --raw, the bare Groth16 prover on K synthetic constraints)
    Prove(ProveArgs),
    /// Central training of the spec's MLP on the digits' training split (fixed stratified
    /// 80/20), with the spec's optimiser, learning rate and batch size: mean epoch seconds,
    /// final test accuracy, threads (set RAYON_NUM_THREADS to change them)
    Train(TrainArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// The labelled CSV (`merit data fetch-digits --out digits.csv`)
    #[arg(long, default_value = "digits.csv")]
    data: std::path::PathBuf,
    /// A ProjectSpec JSON (default: examples/digits-spec.json)
    #[arg(long)]
    spec: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 100)]
    epochs: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object: epoch_s, test_accuracy, threads (and more)
    #[arg(long)]
    json: bool,
}

fn train(a: TrainArgs) -> Result<()> {
    use anyhow::Context;
    let text = match &a.spec {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => include_str!("../../examples/digits-spec.json").to_string(),
    };
    let spec = merit_protocol::spec::ProjectSpec::from_json(&text)?;
    let d = merit_trainer::data::load_csv(
        &a.data,
        spec.features.inputs as usize,
        spec.features.classes as usize,
    )?;
    let (train, test) = merit_trainer::bench::holdout(&d);
    let r = merit_trainer::bench::central(&spec, &train, &test, a.epochs, a.seed)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} epochs on {} rows ({:?}, lr {}, batch {}), {} thread(s): {:.4} s/epoch, test accuracy {:.2} % ({} rows), train {:.2} %",
            r.epochs,
            r.train_rows,
            spec.training.optimizer,
            spec.training.learning_rate,
            spec.training.batch_size,
            r.threads,
            r.epoch_s,
            100.0 * r.test_accuracy,
            r.test_rows,
            100.0 * r.train_accuracy
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct ProveArgs {
    /// Slots N
    #[arg(long, default_value_t = 8)]
    slots: usize,
    /// Parameters D
    #[arg(long, default_value_t = 8192)]
    params: usize,
    /// The bare ark-groth16 prover on a synthetic circuit instead of the round circuit
    #[arg(long, requires = "constraints")]
    raw: bool,
    /// Constraints K of the synthetic circuit (with --raw)
    #[arg(long)]
    constraints: Option<usize>,
    /// Seed of the random round
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object: constraints, setup_s, prove_s, verify_ms, proof_bytes, peak_rss_mib
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCmd) -> Result<()> {
    let a = match cmd {
        BenchCmd::Prove(a) => a,
        BenchCmd::Train(a) => return train(a),
    };
    let report = if a.raw {
        let Some(k) = a.constraints else {
            bail!("--raw needs --constraints K")
        };
        merit_prover::bench::raw(k)?
    } else {
        if a.constraints.is_some() {
            bail!(
                "--constraints is for --raw; the round circuit's size follows --slots and --params"
            );
        }
        merit_prover::bench::round(a.slots, a.params, a.seed)?
    };
    if a.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bench_runs_and_round_needs_no_constraints_flag() {
        run(BenchCmd::Prove(ProveArgs {
            slots: 2,
            params: 2,
            raw: true,
            constraints: Some(16),
            seed: 1,
            json: true,
        }))
        .unwrap();
        assert!(run(BenchCmd::Prove(ProveArgs {
            slots: 2,
            params: 2,
            raw: false,
            constraints: Some(16),
            seed: 1,
            json: true,
        }))
        .is_err());
    }
}
