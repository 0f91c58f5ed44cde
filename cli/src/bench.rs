//! `merit bench`: thin front end over `merit_prover::bench`.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Setup, prove and verify the round circuit for one shape on a random realistic round
    /// (or, with --raw, the bare Groth16 prover on K synthetic constraints)
    Prove(ProveArgs),
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
    let BenchCmd::Prove(a) = cmd;
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
