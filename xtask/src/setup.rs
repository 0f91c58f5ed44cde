//! `cargo xtask setup`: installs, idempotently, everything Merit's devnet and tests need.
//!
//! Versions are pinned on purpose: ink! 5.1.1, cargo-contract 5.0.3 and contracts-node
//! 0.42.0 are the last releases of the pallet-contracts line (ink! is frozen upstream), so
//! "latest" would only ever mean "something that no longer fits". The recipes here are
//! the ones measured in `docs/environment.md`.

use std::fs;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_VERSION: &str = "0.42.0";
pub const CARGO_CONTRACT_VERSION: &str = "5.0.3";
const NODE_CRATE_SHA256: &str = "eec86b7f9619375abb6ea559856b72bfedffe89c6097fa04853da7779ef4da72";
const JS_IPFS: &str = "ipfs@0.66.1";
/// Without this cut-off npm picks transitive packages that need Node.js 22.
const JS_IPFS_BEFORE: &str = "2024-12-20";
const NODE_BUILD_DEBS: &[&str] = &["clang", "libclang-dev", "protobuf-compiler", "cmake", "g++"];

/// Where tools are unpacked and built; shared with `merit` (see cli/src/tools.rs).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MERIT_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/tmp".into());
    home.join(".cache").join("merit").join("tools")
}

/// What a command needs installed. The IPFS daemon always; the node and the contract
/// tools (cargo-contract, wasm target, rust-src) only when asked for, since the embedded
/// chain and the committed contract bundle need neither.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub node: bool,
    pub contract_tools: bool,
}

type Step = (&'static str, fn(&Path) -> Result<String, String>);

pub fn run(needs: Needs) -> Result<(), String> {
    let started = Instant::now();
    let tools = tools_dir();
    fs::create_dir_all(&tools).map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
    println!("==> setup (tools in {})", tools.display());

    let mut steps: Vec<Step> = vec![("IPFS daemon (Kubo RPC API)", ipfs_daemon)];
    if needs.node {
        steps.push(("substrate-contracts-node 0.42.0", contracts_node));
    }
    if needs.contract_tools {
        steps.push((
            "rustup target wasm32-unknown-unknown + rust-src",
            rust_pieces,
        ));
        steps.push(("cargo-contract 5.0.3", cargo_contract));
        steps.push((
            "cargo wrapper for cargo-contract on Rust >= 1.92",
            cargo_wrapper,
        ));
    }
    for (i, (name, step)) in steps.iter().enumerate() {
        let t = Instant::now();
        println!("[{}/{}] {name}", i + 1, steps.len());
        let detail = step(&tools)?;
        println!("      ok: {detail} ({:.1}s)", t.elapsed().as_secs_f32());
    }
    println!("==> setup done in {:.1}s", started.elapsed().as_secs_f32());
    Ok(())
}

/// Whether a substrate-contracts-node is there to use (MERIT_NODE_BIN, or on PATH).
pub fn node_installed() -> bool {
    match std::env::var_os("MERIT_NODE_BIN") {
        Some(bin) => output(&bin.to_string_lossy(), &["--version"]).is_some(),
        None => output("substrate-contracts-node", &["--version"])
            .is_some_and(|v| v.contains(NODE_VERSION)),
    }
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_quiet(what: &str, cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: could not start {:?}: {e}", cmd.get_program()))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{what} failed ({status})"))
}

fn rust_pieces(_: &Path) -> Result<String, String> {
    let targets = output("rustup", &["target", "list", "--installed"])
        .ok_or("rustup not found: install Rust with rustup (https://rustup.rs) first")?;
    let mut did = Vec::new();
    if !targets
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        run_quiet(
            "rustup target add",
            Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        )?;
        did.push("added wasm32-unknown-unknown");
    }
    let components = output("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    if !components.lines().any(|l| l.trim().starts_with("rust-src")) {
        run_quiet(
            "rustup component add",
            Command::new("rustup").args(["component", "add", "rust-src"]),
        )?;
        did.push("added rust-src");
    }
    Ok(if did.is_empty() {
        "already installed".into()
    } else {
        did.join(", ")
    })
}

/// Installs missing Debian packages (needs root + apt-get); otherwise says what to install.
fn ensure_debs(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !output("dpkg-query", &["-W", "-f=${Status}", p])
                .is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = output("id", &["-u"]).is_some_and(|s| s.trim() == "0");
    if !is_root || output("apt-get", &["--version"]).is_none() {
        return Err(format!(
            "missing system packages: {} (install them, e.g. `sudo apt-get install {}`)",
            missing.join(" "),
            missing.join(" ")
        ));
    }
    println!("      apt-get install {}", missing.join(" "));
    run_quiet(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    run_quiet(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn contracts_node(tools: &Path) -> Result<String, String> {
    if let Some(bin) = std::env::var_os("MERIT_NODE_BIN") {
        let bin = bin.to_string_lossy().into_owned();
        let v = output(&bin, &["--version"]).ok_or_else(|| {
            format!("MERIT_NODE_BIN={bin} does not run (`{bin} --version` failed)")
        })?;
        return Ok(format!("using MERIT_NODE_BIN: {}", v.trim()));
    }
    if let Some(v) = output("substrate-contracts-node", &["--version"]) {
        if v.contains(NODE_VERSION) {
            return Ok(format!("already installed: {}", v.trim()));
        }
        println!("      found {}, want {NODE_VERSION}: rebuilding", v.trim());
    }
    ensure_debs(NODE_BUILD_DEBS)?;

    // The runtime is compiled a second time, to wasm, in a nested cargo project that cannot
    // see the package's lock file under `cargo install`; point it at an unpacked copy whose
    // lock has sp-io 38.0.2 (38.0.0 does not build on Rust >= 1.92). docs/environment.md.
    let src = tools.join("contracts-node-src");
    if !src.join("Cargo.lock").exists() {
        let krate = tools.join(format!("contracts-node-{NODE_VERSION}.crate"));
        run_quiet(
            "download contracts-node from crates.io",
            Command::new("curl")
                .args(["-sSfL", "-o"])
                .arg(&krate)
                .arg(format!(
                "https://static.crates.io/crates/contracts-node/contracts-node-{NODE_VERSION}.crate"
            )),
        )?;
        let sum = output("sha256sum", &[&krate.to_string_lossy()]).unwrap_or_default();
        if !sum.starts_with(NODE_CRATE_SHA256) {
            return Err(format!(
                "{} has an unexpected sha256 ({sum})",
                krate.display()
            ));
        }
        let _ = fs::remove_dir_all(&src);
        fs::create_dir_all(&src).map_err(|e| e.to_string())?;
        run_quiet(
            "unpack contracts-node",
            Command::new("tar")
                .arg("xzf")
                .arg(&krate)
                .arg("-C")
                .arg(&src)
                .arg("--strip-components=1"),
        )?;
    }
    let lock = fs::read_to_string(src.join("Cargo.lock")).map_err(|e| e.to_string())?;
    if lock.contains("name = \"sp-io\"\nversion = \"38.0.0\"") {
        run_quiet(
            "pin sp-io 38.0.2 in the wasm builder's lock",
            Command::new("cargo")
                .args(["update", "-p", "sp-io@38.0.0", "--precise", "38.0.2"])
                .current_dir(&src),
        )?;
    }
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "contracts-node",
        "--version",
        NODE_VERSION,
        "--locked",
    ])
    .env("WASM_BUILD_WORKSPACE_HINT", &src)
    // The --dev chain needs neither the relay nor the parachain runtime blob.
    .env("SKIP_ROCOCO_RUNTIME_WASM_BUILD", "1")
    .env("SKIP_CONTRACTS_PARACHAIN_RUNTIME_WASM_BUILD", "1")
    // A stable target dir lets an interrupted first build resume.
    .env("CARGO_TARGET_DIR", tools.join("target-contracts-node"));
    long_build(
        "contracts-node (first time: over an hour on 2 cores)",
        cmd,
        &tools.join("contracts-node-build.log"),
    )?;
    let v = output("substrate-contracts-node", &["--version"])
        .ok_or("substrate-contracts-node built but is not on PATH (add ~/.cargo/bin to PATH)")?;
    Ok(format!("built {}", v.trim()))
}

fn cargo_contract(tools: &Path) -> Result<String, String> {
    if let Some(v) = output("cargo-contract", &["--version"]) {
        if v.contains(CARGO_CONTRACT_VERSION) {
            return Ok(format!("already installed: {}", v.trim()));
        }
        println!(
            "      found {}, want {CARGO_CONTRACT_VERSION}: reinstalling",
            v.trim()
        );
    }
    ensure_debs(&["cmake", "g++"])?;
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "cargo-contract",
        "--version",
        CARGO_CONTRACT_VERSION,
        "--locked",
        "--force",
    ])
    .env("CARGO_TARGET_DIR", tools.join("target-cargo-contract"));
    long_build(
        "cargo-contract (first time: ~40 min on 2 cores)",
        cmd,
        &tools.join("cargo-contract-build.log"),
    )?;
    Ok("installed".into())
}

/// cargo-contract 5.0.3 passes `-Zbuild-std-features=panic_immediate_abort`, which core
/// rejects since Rust 1.92; this wrapper (set as CARGO for cargo-contract) swaps it for the
/// new `-Cpanic=immediate-abort` strategy. `merit contract build` uses it.
pub const CARGO_WRAPPER: &str = r#"#!/usr/bin/env bash
# Written by `cargo xtask setup`. See xtask/src/setup.rs (cargo_wrapper) for why.
set -euo pipefail
args=()
dropped=0
for a in "$@"; do
  if [ "$a" = "-Zbuild-std-features=panic_immediate_abort" ]; then dropped=1; else args+=("$a"); fi
done
if [ "$dropped" = 1 ]; then
  extra=$'-Zunstable-options\x1f-Cpanic=immediate-abort'
  if [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
    export CARGO_ENCODED_RUSTFLAGS="${CARGO_ENCODED_RUSTFLAGS}"$'\x1f'"${extra}"
  else
    export CARGO_ENCODED_RUSTFLAGS="${extra}"
  fi
fi
exec "${MERIT_REAL_CARGO:-cargo}" "${args[@]}"
"#;

fn cargo_wrapper(tools: &Path) -> Result<String, String> {
    let path = tools.join("cargo-for-cargo-contract.sh");
    if fs::read_to_string(&path).ok().as_deref() == Some(CARGO_WRAPPER) {
        return Ok(format!("{} up to date", path.display()));
    }
    fs::write(&path, CARGO_WRAPPER).map_err(|e| format!("write {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    Ok(format!("wrote {}", path.display()))
}

fn ipfs_daemon(tools: &Path) -> Result<String, String> {
    if let Ok(api) = std::env::var("MERIT_IPFS_API") {
        return Ok(format!("using the running daemon at MERIT_IPFS_API={api}"));
    }
    if let Ok(bin) = std::env::var("MERIT_IPFS_BIN") {
        return Ok(format!("using MERIT_IPFS_BIN={bin}"));
    }
    if let Some(v) = output("ipfs", &["--version"]) {
        return Ok(format!("using Kubo on PATH: {}", v.trim()));
    }
    let jsipfs = tools
        .join("ipfs")
        .join("node_modules")
        .join(".bin")
        .join("jsipfs");
    if jsipfs.exists() {
        return Ok(format!("already installed: {}", jsipfs.display()));
    }
    // Kubo binaries cannot be downloaded on these machines; js-ipfs from npm serves the
    // same /api/v0 RPC API (docs/environment.md).
    if output("npm", &["--version"]).is_none() {
        ensure_debs(&["nodejs", "npm"])?;
    }
    let prefix = tools.join("ipfs");
    fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("npm");
    cmd.args([
        "install",
        JS_IPFS,
        &format!("--before={JS_IPFS_BEFORE}"),
        "--no-audit",
        "--no-fund",
        "--prefix",
    ])
    .arg(&prefix);
    long_build("js-ipfs from npm", cmd, &tools.join("ipfs-npm.log"))?;
    if !jsipfs.exists() {
        return Err(format!(
            "npm finished but {} is missing; see {}",
            jsipfs.display(),
            tools.join("ipfs-npm.log").display()
        ));
    }
    Ok(format!("installed {}", jsipfs.display()))
}

/// Runs a long command with its output in `log`, printing a heartbeat every 30 s.
fn long_build(what: &str, mut cmd: Command, log: &Path) -> Result<(), String> {
    println!("      building {what}; log: {}", log.display());
    let file = fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("{what}: could not start {:?}: {e}", cmd.get_program()))?;
    let started = Instant::now();
    let mut last_beat = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                println!(
                    "      {what}: done in {:.1} min",
                    started.elapsed().as_secs_f32() / 60.0
                );
                return Ok(());
            }
            return Err(format!(
                "{what} failed ({status}); last lines of {}:\n{}",
                log.display(),
                tail(log, 15)
            ));
        }
        if last_beat.elapsed() >= Duration::from_secs(30) {
            last_beat = Instant::now();
            println!(
                "      … {:>4.1} min: {}",
                started.elapsed().as_secs_f32() / 60.0,
                tail(log, 1).trim()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let all: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
