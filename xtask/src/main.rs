//! `cargo xtask setup | test | demo`: the two README commands and what they stand on.
//!
//! Everything here is idempotent: each step first checks whether what it would install is
//! already there (right version on PATH, or pointed at by an environment variable) and
//! skips itself if so. Long builds stream to a log file under the tools directory and
//! print a heartbeat so a first run never looks hung.

mod lanes;
mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command> [--node]

commands:
  setup [--node] [--contract-tools]
                 install what is missing: an IPFS daemon always; substrate-contracts-node
                 0.42.0 with --node; cargo-contract 5.0.3 (+ wasm target, rust-src) with
                 --contract-tools
  test [--node]  setup, check the committed contract bundle (rebuilt only if its sources
                 changed), fmt, clippy, then every test: unit, the contract's, and the
                 end-to-end story on the embedded chain, and on the node too where it is
                 installed (--node installs it first)
  demo [--node] [--keep]
                 setup, run the demo on the embedded chain (in-process pallet-contracts),
                 or with --node on a devnet node brought up for it (--keep leaves it up)

The embedded chain is substrate-contracts-node's own pallet-contracts runtime, run
in-process: nothing to build or start. The node is used where it is installed.

environment:
  MERIT_TOOLS_DIR  where tools are built and kept (default ~/.cache/merit/tools)
  MERIT_NODE_BIN   use this substrate-contracts-node instead of building one
  MERIT_IPFS_API   use this running IPFS daemon (Kubo RPC API URL) instead of starting one
  MERIT_IPFS_BIN   use this `ipfs`/`jsipfs` binary to start a devnet daemon
  MERIT_TEST_LANES how many test binaries `test` runs at a time (default 2)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(setup::Needs {
            node: flag("--node"),
            contract_tools: flag("--contract-tools"),
        }),
        Some("test") => test(flag("--node")),
        Some("demo") => demo(flag("--node"), flag("--keep")),
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

/// Cargo for the test and demo builds: not incremental, since a fresh clone's test run
/// would otherwise write about 1.8 GB of incremental state that it never reuses.
fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env("CARGO_INCREMENTAL", "0");
    c
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

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn merit_bin() -> PathBuf {
    target_dir().join("debug").join("merit")
}

/// Below this much free space a fresh build and test run is likely to fail part-way.
const LOW_DISK_GB: f64 = 8.0;

/// Says how much room the build has, and warns when it is short: a full disk otherwise
/// shows up minutes later as a compiler panic about a `.bc` file.
fn report_disk() {
    let target = target_dir();
    // The target directory may not exist yet on a fresh clone; its parent does.
    let probe = if target.exists() {
        target
    } else {
        workspace_root()
    };
    let Ok(out) = Command::new("df").arg("-Pk").arg(&probe).output() else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let free_kib = text
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|field| field.parse::<u64>().ok());
    let Some(free_kib) = free_kib else { return };
    let free_gb = free_kib as f64 / (1024.0 * 1024.0);
    println!("==> disk: {free_gb:.1} GiB free for {}", probe.display());
    if free_gb < LOW_DISK_GB {
        eprintln!(
            "xtask: warning: only {free_gb:.1} GiB free; a build and test run from a fresh \
             clone needs about {LOW_DISK_GB:.0} GiB (see the README)"
        );
    }
}

fn merit(args: &[&str]) -> Command {
    let mut c = Command::new(merit_bin());
    c.args(args).env("MERIT_TOOLS_DIR", setup::tools_dir());
    c
}

/// Builds the CLI, then makes sure the committed contract bundle matches its sources:
/// only when it does not are cargo-contract installed (if missing) and the bundle rebuilt.
fn build_cli_and_contract() -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--package", "merit-cli", "--bin", "merit"]);
    run_step("build the merit CLI", build)?;
    let fresh = merit(&["contract", "check"])
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("merit contract check: {e}"))?;
    if fresh.success() {
        println!("==> committed contract bundle matches its sources");
        return Ok(());
    }
    println!("==> the contract's sources changed: rebuilding its bundle (needs cargo-contract)");
    setup::run(setup::Needs {
        node: false,
        contract_tools: true,
    })?;
    run_step(
        "build the marketplace contract (cargo-contract)",
        merit(&["contract", "build"]),
    )
}

/// Which chain the end-to-end tests and the demo use, said once, plainly.
fn announce_chain(node: bool) {
    if node {
        println!("==> chain: substrate-contracts-node (and the embedded chain for the tests)");
    } else {
        println!(
            "==> chain: embedded (the node's pallet-contracts runtime, in-process; \
             pass --node to build and use substrate-contracts-node)"
        );
    }
}

/// Installs what is missing while the CLI compiles: the two share no inputs, and on a
/// fresh machine the npm install of the IPFS daemon would otherwise add minutes.
fn setup_while_building(needs: setup::Needs) -> Result<(), String> {
    let setup = std::thread::spawn(move || setup::run(needs));
    let built = build_cli_and_contract();
    let installed = setup.join().map_err(|_| "setup panicked".to_string())?;
    built.and(installed)
}

fn test(want_node: bool) -> Result<(), String> {
    let started = std::time::Instant::now();
    let node = want_node || setup::node_installed();
    announce_chain(node);
    report_disk();
    setup_while_building(setup::Needs {
        node: want_node,
        contract_tools: false,
    })?;

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_step("cargo fmt --check", fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_step("cargo clippy -D warnings", clippy)?;

    // The demo's end-to-end tests train on the UCI digits: fetched once, as for the demo.
    let digits = fetch_digits()?;

    // ink! unit tests run natively in the contract's own cargo project: built here, run
    // below beside the workspace's tests.
    let contract_tests = || {
        let mut c = cargo();
        c.args([
            "test",
            "--manifest-path",
            "contracts/marketplace/Cargo.toml",
        ]);
        // The contract is its own workspace with cargo's default (full) debuginfo: line
        // tables are enough for its tests and halve its target directory.
        c.env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only");
        c
    };
    let mut build = contract_tests();
    build.arg("--no-run");
    run_step("build the contract unit tests (#[ink::test])", build)?;

    // Every workspace test; the end-to-end ones start their own IPFS daemon (and devnet
    // node, where installed) on free loopback ports and stop them when they finish.
    let env = |c: &mut Command| {
        c.env("MERIT_TOOLS_DIR", setup::tools_dir());
        c.env("MERIT_DIGITS", &digits);
        // The devnet's ticker runs as a `merit` process: the one just built.
        c.env("MERIT_BIN", merit_bin());
        if !node {
            c.env("MERIT_CHAIN", "embedded");
        }
    };
    let mut build = cargo();
    build.args([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    let mut jobs = build_test_binaries(build)?;
    let mut contract = contract_tests();
    contract.current_dir(workspace_root());
    jobs.push(lanes::Job {
        label: "contract unit tests".into(),
        cmd: contract,
    });
    let mut doc = cargo();
    doc.args(["test", "--workspace", "--doc"]);
    doc.current_dir(workspace_root());
    jobs.push(lanes::Job {
        label: "doc-tests".into(),
        cmd: doc,
    });
    for job in &mut jobs {
        env(&mut job.cmd);
    }
    let lanes = std::env::var("MERIT_TEST_LANES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TEST_LANES);
    println!("==> every test: unit, the contract's and end-to-end, {lanes} binaries at a time");
    let started_tests = std::time::Instant::now();
    lanes::run(
        lanes::slow_first(jobs),
        lanes,
        &target_dir().join("xtask-tests"),
    )?;
    println!(
        "==> tests: done in {:.0?}",
        std::time::Duration::from_secs(started_tests.elapsed().as_secs())
    );

    println!(
        "==> all tests passed in {:.0?}",
        std::time::Duration::from_secs(started.elapsed().as_secs())
    );
    Ok(())
}

/// Test binaries run side by side (`MERIT_TEST_LANES` overrides): two fill a 2-core
/// machine, since even the slowest binaries leave part of it idle (`lanes`).
const TEST_LANES: usize = 2;

/// Builds every workspace test binary (compiler messages on the terminal as usual) and
/// returns them as jobs.
fn build_test_binaries(mut build: Command) -> Result<Vec<lanes::Job>, String> {
    let what = "build the workspace tests";
    println!("==> {what}");
    let started = std::time::Instant::now();
    let out = build
        .current_dir(workspace_root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{what}: could not start cargo: {e}"))?;
    let took = std::time::Duration::from_secs(started.elapsed().as_secs());
    if !out.status.success() {
        return Err(format!("{what} failed ({}) after {took:.0?}", out.status));
    }
    let jobs = lanes::test_binaries(&String::from_utf8_lossy(&out.stdout), &workspace_root());
    println!("==> {what}: {} binaries in {took:.0?}", jobs.len());
    if jobs.is_empty() {
        return Err(format!("{what}: cargo reported no test binary"));
    }
    Ok(jobs)
}

/// The UCI digits, once, from the scikit-learn wheel on PyPI (sha256-checked).
fn fetch_digits() -> Result<std::path::PathBuf, String> {
    let digits = setup::tools_dir().join("digits.csv");
    if !digits.exists() {
        let out = digits.to_string_lossy().into_owned();
        run_step(
            "merit data fetch-digits",
            merit(&["data", "fetch-digits", "--out", &out]),
        )?;
    }
    Ok(digits)
}

fn demo(node: bool, keep: bool) -> Result<(), String> {
    announce_chain(node);
    setup_while_building(setup::Needs {
        node,
        contract_tools: false,
    })?;
    let digits = fetch_digits()?;
    let digits = digits.to_string_lossy().into_owned();
    if !node {
        return run_step(
            "merit demo (embedded chain)",
            merit(&["demo", "--digits", &digits]),
        );
    }
    run_step("merit devnet up", merit(&["devnet", "up"]))?;
    let story = run_step(
        "merit demo --node",
        merit(&["demo", "--node", "--digits", &digits]),
    );
    if keep {
        println!("==> devnet left running (`merit devnet down` stops it)");
    } else {
        run_step("merit devnet down", merit(&["devnet", "down"]))?;
    }
    story
}
