//! `merit bench`: thin front end over `merit_prover::bench`, `merit_trainer::bench` and
//! `merit_aggregator::bench`.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Setup, prove and verify the round circuit for one shape on a random realistic round
    /// (or, with --raw, the bare Groth16 prover on K synthetic constraints)
    ///
    /// Example: merit bench prove --slots 8 --params 8192 --json
    Prove(ProveArgs),
    /// Central training of the spec's model (any the spec describes) on a labelled CSV's
    /// training split (features divided by their largest value, then the fixed stratified
    /// 80/20), with the spec's optimiser, learning rate and batch size: mean epoch seconds,
    /// final test accuracy on the held-out 20 %, parameters, threads (set
    /// RAYON_NUM_THREADS to change them)
    ///
    /// Example: merit bench train --spec examples/mnist-mlp-spec.json --data mnist.csv --epochs 10 --json
    Train(TrainArgs),
    /// Multi-Krum as Flower's `aggregate_krum` computes it (pairwise distances, scores,
    /// keep n − f, mean), natively on f32 and on i16 fixed point (2^-10, exact integers),
    /// on seeded updates: best-of-reps seconds, threads (RAYON_NUM_THREADS), whether both
    /// selections agree; with --flower also Flower itself on the same inputs and the ratio
    ///
    /// Example: merit bench aggregate --trainers 64 --params 1048576 --flower --json
    ///
    /// --flower runs bench/krum_flower.py with ~/.cache/merit/flower-venv/bin/python (or
    /// --python): set it up as bench/README.md says.
    Aggregate(AggregateArgs),
    /// A chunked round (protocol v4): setup of the chunk shape (N, C) and of the
    /// decision shape N, every chunk proof in turn and the decision proof, then the
    /// contract's check (one batched pairing check) against one-by-one verification:
    /// time per chunk and in all, peak memory while proving
    ///
    /// Example: merit bench chunked --slots 8 --params 79510 --chunk 8192 --json
    Chunked(ChunkedArgs),
}

#[derive(Args)]
pub struct ChunkedArgs {
    /// Slots N
    #[arg(long, default_value_t = 8)]
    slots: usize,
    /// Parameters D (79,510: the 784-100-10 MLP)
    #[arg(long, default_value_t = 79_510)]
    params: usize,
    /// Parameters per chunk C
    #[arg(long, default_value_t = 8192)]
    chunk: usize,
    /// Seed of the random round
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object: chunks, chunk_constraints, setup_chunk_s, chunk_prove_s (per
    /// chunk), decision_prove_s, prove_s, prove_peak_rss_mib, verify_batched_ms, …
    #[arg(long)]
    json: bool,
}

fn chunked(a: ChunkedArgs) -> Result<()> {
    let report = merit_prover::bench::chunked(a.slots, a.params, a.chunk, a.seed)?;
    if a.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    Ok(())
}

#[derive(Args)]
pub struct AggregateArgs {
    /// Updates N
    #[arg(long, default_value_t = 64)]
    trainers: usize,
    /// Parameters D per update
    #[arg(long, default_value_t = 1 << 20)]
    params: usize,
    /// Byzantine budget f (Flower's num_malicious; Multi-Krum keeps N − f); the last f
    /// updates are generated as attackers. Default min(N/4, (N−3)/2); at most (N−3)/2
    #[arg(long)]
    byzantine: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Repetitions of each timing (the best is reported), Flower's included
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Also run Flower's aggregate_krum (bench/krum_flower.py) on the same inputs
    #[arg(long)]
    flower: bool,
    /// The Python with flwr installed
    #[arg(long, env = "MERIT_FLOWER_PYTHON")]
    python: Option<std::path::PathBuf>,
    /// One JSON object: krum_f32_s, krum_fixed_s, threads, same_selection (and with
    /// --flower: flower_s, ratio = flower_s / krum_f32_s)
    #[arg(long)]
    json: bool,
}

fn aggregate(a: AggregateArgs) -> Result<()> {
    use anyhow::Context;
    use merit_aggregator::bench;
    let n = a.trainers;
    if n < 3 || a.params == 0 {
        bail!("need at least 3 trainers and 1 parameter");
    }
    let f = a.byzantine.unwrap_or((n / 4).min((n - 3) / 2));
    if 2 * f + 3 > n {
        bail!(
            "--byzantine {f} needs at least 2f + 3 = {} trainers",
            2 * f + 3
        );
    }
    let updates = bench::generate(n, a.params, f, a.seed)?;
    let r = bench::run(&updates, f, a.seed, a.reps);
    let mut out = serde_json::to_value(&r)?;
    if a.flower {
        let dir = std::env::temp_dir().join(format!("merit-krum-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let flower = run_flower(&a, f, r.threads, &updates.f32s, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        let (mut fl, mean) = flower?;
        let flower_s = fl["flower_s"]
            .as_f64()
            .context("flower_s in the script's output")?;
        fl["ratio"] = (flower_s / r.krum_f32_s).into();
        fl["flower_max_abs_diff"] = bench::max_abs_diff(&mean, &r.mean_f32).into();
        if let (Some(o), Some(fl)) = (out.as_object_mut(), fl.as_object()) {
            o.extend(fl.clone());
        }
    }
    if a.json {
        println!("{out}");
        return Ok(());
    }
    println!(
        "Multi-Krum, {} updates × {} params, f = {} ({} attackers), keep {}, {} thread(s), {}, best of {}:\n  f32   {:.6} s\n  fixed {:.6} s (i16 at 2^-{}, exact)\n  same selection: {}, attackers kept: {}",
        r.trainers, r.params, r.byzantine, r.attackers, r.to_keep, r.threads, r.simd, r.reps,
        r.krum_f32_s, r.krum_fixed_s, r.scale_bits, r.same_selection, r.attackers_selected
    );
    if a.flower {
        println!(
            "  Flower {} aggregate_krum (numpy {}): {:.6} s, {:.1}× the f32 time; means differ by at most {:.2e}",
            out["flwr"].as_str().unwrap_or("?"),
            out["numpy"].as_str().unwrap_or("?"),
            out["flower_s"].as_f64().unwrap_or(f64::NAN),
            out["ratio"].as_f64().unwrap_or(f64::NAN),
            out["flower_max_abs_diff"].as_f64().unwrap_or(f64::NAN),
        );
    }
    Ok(())
}

/// Writes the f32 updates for `bench/krum_flower.py`, runs it with as many BLAS/OpenMP
/// threads as rayon has, and returns its JSON and Flower's Multi-Krum mean.
fn run_flower(
    a: &AggregateArgs,
    f: usize,
    threads: usize,
    values: &[f32],
    dir: &std::path::Path,
) -> Result<(serde_json::Value, Vec<f32>)> {
    use anyhow::Context;
    let (input, output) = (dir.join("updates.f32"), dir.join("mean.f32"));
    let file = std::fs::File::create(&input)?;
    merit_aggregator::bench::write_f32_le(values, std::io::BufWriter::new(file))?;
    let python = match &a.python {
        Some(p) => p.clone(),
        None => merit_cli::env::home()
            .unwrap_or_default()
            .join(".cache/merit/flower-venv/bin/python"),
    };
    let script = [
        "bench/krum_flower.py",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/krum_flower.py"),
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists())
    .context("bench/krum_flower.py not found (run from the repository root)")?;
    let t = threads.to_string();
    let res = std::process::Command::new(&python)
        .arg(&script)
        .args([
            "--trainers",
            &a.trainers.to_string(),
            "--params",
            &a.params.to_string(),
        ])
        .args(["--byzantine", &f.to_string(), "--reps", &a.reps.to_string()])
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .envs(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"].map(|k| (k, &t)))
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| {
            format!(
                "running {} (see bench/README.md for the venv)",
                python.display()
            )
        })?;
    if !res.status.success() {
        bail!(
            "{} {} failed: {}",
            python.display(),
            script.display(),
            res.status
        );
    }
    let json = serde_json::from_slice(&res.stdout).context("the script's JSON")?;
    let mean = merit_aggregator::bench::read_f32_le(std::fs::File::open(&output)?)?;
    Ok((json, mean))
}

#[derive(Args)]
pub struct TrainArgs {
    /// The labelled CSV, the spec's feature columns then the label (`merit data
    /// fetch-digits --out digits.csv`, `merit data fetch-mnist --out mnist.csv`)
    #[arg(long, default_value = "digits.csv")]
    data: std::path::PathBuf,
    /// A ProjectSpec JSON (default: examples/digits-spec.json)
    #[arg(long)]
    spec: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 100)]
    epochs: u32,
    /// Seed of the initial model and of the batch order
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object: epoch_s, epochs_s, test_accuracy, train_accuracy, threads,
    /// parameters, optimizer, learning_rate, batch_size, train_rows, test_rows, epochs
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
    let spec = merit_protocol::spec::ProjectSpec::from_json(&text).with_context(|| {
        format!(
            "the spec {}",
            a.spec
                .as_deref()
                .unwrap_or("examples/digits-spec.json".as_ref())
                .display()
        )
    })?;
    let d = merit_trainer::data::load_csv(
        &a.data,
        spec.features.inputs as usize,
        spec.features.classes as usize,
    )
    .map_err(crate::exit::bad_input("--data"))?;
    let (train, test) = merit_trainer::bench::holdout(&d);
    let r = merit_trainer::bench::central(&spec, &train, &test, a.epochs, a.seed)
        .context("training")?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} epochs of {} parameters on {} rows ({}, lr {}, batch {}), {} thread(s): {:.4} s/epoch, test accuracy {:.2} % ({} rows), train {:.2} %",
            r.epochs,
            r.parameters,
            r.train_rows,
            format!("{:?}", r.optimizer).to_lowercase(),
            r.learning_rate,
            r.batch_size,
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
    /// Protocol v5's round circuit (the second of two rounds) instead of v3's
    #[arg(long, conflicts_with = "raw")]
    v5: bool,
    /// One JSON object: constraints, setup_s, prove_s, verify_ms, proof_bytes, peak_rss_mib
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCmd) -> Result<()> {
    let a = match cmd {
        BenchCmd::Prove(a) => a,
        BenchCmd::Train(a) => return train(a),
        BenchCmd::Aggregate(a) => return aggregate(a),
        BenchCmd::Chunked(a) => return chunked(a),
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
        if a.v5 {
            merit_prover::bench::round_v5(a.slots, a.params, a.seed)?
        } else {
            merit_prover::bench::round(a.slots, a.params, a.seed)?
        }
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
    fn chunked_bench_runs_a_small_shape_and_refuses_a_bad_one() {
        run(BenchCmd::Chunked(ChunkedArgs {
            slots: 4,
            params: 20,
            chunk: 8,
            seed: 2,
            json: true,
        }))
        .unwrap();
        let e = run(BenchCmd::Chunked(ChunkedArgs {
            slots: 4,
            params: 20,
            chunk: 0,
            seed: 2,
            json: false,
        }))
        .unwrap_err();
        assert!(e.to_string().contains("chunks of 0"), "{e}");
    }

    #[test]
    fn raw_bench_runs_and_round_needs_no_constraints_flag() {
        run(BenchCmd::Prove(ProveArgs {
            slots: 2,
            params: 2,
            raw: true,
            constraints: Some(16),
            seed: 1,
            v5: false,
            json: true,
        }))
        .unwrap();
        assert!(run(BenchCmd::Prove(ProveArgs {
            slots: 2,
            params: 2,
            raw: false,
            constraints: Some(16),
            seed: 1,
            v5: false,
            json: true,
        }))
        .is_err());
    }

    fn aggregate_args(trainers: usize, byzantine: Option<usize>) -> AggregateArgs {
        AggregateArgs {
            trainers,
            params: 100,
            byzantine,
            seed: 1,
            reps: 1,
            flower: false,
            python: None,
            json: true,
        }
    }

    #[test]
    fn aggregate_bench_runs_and_checks_the_budget() {
        run(BenchCmd::Aggregate(aggregate_args(8, None))).unwrap();
        run(BenchCmd::Aggregate(aggregate_args(9, Some(3)))).unwrap();
        assert!(run(BenchCmd::Aggregate(aggregate_args(8, Some(3)))).is_err());
        assert!(run(BenchCmd::Aggregate(aggregate_args(2, None))).is_err());
    }
}
