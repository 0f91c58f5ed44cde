//! `cargo xtask setup | test | demo`: the two README commands and what they stand on.
//!
//! Everything here is idempotent: each step first checks whether what it would install is
//! already there (right version on PATH, or pointed at by an environment variable) and
//! skips itself if so. Long builds stream to a log file under the tools directory and
//! print a heartbeat so a first run never looks hung.

mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup          install what Merit needs (wasm target, rust-src, contracts-node 0.42.0,
                 cargo-contract 5.0.3, an IPFS daemon); skips what is already there
  test           setup, build the contract, run every test (unit + devnet end-to-end)
  demo [--keep]  setup, bring a devnet up, run the demo, bring it down (--keep leaves it up)

environment:
  MERIT_TOOLS_DIR  where tools are built and kept (default ~/.cache/merit/tools)
  MERIT_NODE_BIN   use this substrate-contracts-node instead of building one
  MERIT_IPFS_API   use this running IPFS daemon (Kubo RPC API URL) instead of starting one
  MERIT_IPFS_BIN   use this `ipfs`/`jsipfs` binary to start a devnet daemon";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("test") => test(),
        Some("demo") => demo(args.iter().any(|a| a == "--keep")),
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!(
            "unknown command {:?}\n\n{USAGE}",
            other.unwrap_or("(none)")
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs a command in the foreground, inheriting stdio; an error names the command.
fn run_step(what: &str, mut cmd: Command) -> Result<(), String> {
    println!("==> {what}");
    let started = std::time::Instant::now();
    let status = cmd
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("{what}: could not start {:?}: {e}", cmd.get_program()))?;
    // Per-step wall time, so a slow CI run shows where its minutes went.
    let took = std::time::Duration::from_secs(started.elapsed().as_secs());
    if status.success() {
        println!("==> {what}: done in {took:.0?}");
        Ok(())
    } else {
        Err(format!("{what} failed ({status}) after {took:.0?}"))
    }
}

fn merit_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join("merit")
}

fn build_cli_and_contract() -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--package", "merit-cli", "--bin", "merit"]);
    run_step("build the merit CLI", build)?;
    let mut contract = Command::new(merit_bin());
    contract.args(["contract", "build"]);
    contract.env("MERIT_TOOLS_DIR", setup::tools_dir());
    run_step(
        "build the marketplace contract (cargo-contract, skipped when fresh)",
        contract,
    )
}

fn test() -> Result<(), String> {
    let started = std::time::Instant::now();
    setup::run()?;
    build_cli_and_contract()?;

    // ink! unit tests run natively in the contract's own cargo project.
    let mut contract_tests = cargo();
    contract_tests.args([
        "test",
        "--manifest-path",
        "contracts/marketplace/Cargo.toml",
    ]);
    run_step("contract unit tests (#[ink::test])", contract_tests)?;

    // Every workspace test; the end-to-end ones start their own devnet on free loopback
    // ports and bring it down when they finish, pass or fail.
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--no-fail-fast"]);
    tests.env("MERIT_TOOLS_DIR", setup::tools_dir());
    run_step("workspace tests (unit + devnet end-to-end)", tests)?;

    println!(
        "==> all tests passed in {:.0?}",
        std::time::Duration::from_secs(started.elapsed().as_secs())
    );
    Ok(())
}

fn demo(keep: bool) -> Result<(), String> {
    setup::run()?;
    build_cli_and_contract()?;
    let merit = |args: &[&str]| {
        let mut c = Command::new(merit_bin());
        c.args(args).env("MERIT_TOOLS_DIR", setup::tools_dir());
        c
    };
    run_step("merit devnet up", merit(&["devnet", "up"]))?;
    let story = run_step("merit demo", merit(&["demo"]));
    if keep {
        println!("==> devnet left running (`merit devnet down` stops it)");
    } else {
        run_step("merit devnet down", merit(&["devnet", "down"]))?;
    }
    story
}
