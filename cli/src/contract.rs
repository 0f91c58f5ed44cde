//! Building the marketplace contract with cargo-contract, only when its bundle is stale.

use crate::tools::{tools_dir, which};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ContractBuildError {
    #[error(
        "contract sources not found at {0} (set MERIT_CONTRACT_SRC, or pass a prebuilt --bundle)"
    )]
    NoSource(PathBuf),
    #[error("{0} not found: run `cargo xtask setup`")]
    MissingTool(String),
    #[error("cargo-contract failed ({0}); its output is above")]
    Failed(std::process::ExitStatus),
    #[error("no contract bundle at {0}: run `merit contract build` (needs cargo-contract 5.0.3)")]
    NoBundle(PathBuf),
    #[error("the committed contract bundle was built from other sources (recorded inputs {recorded}, now {now}): run `merit contract build` and commit contracts/bundle/")]
    Stale { recorded: String, now: String },
    #[error("reading or writing the contract's files")]
    Io(#[from] std::io::Error),
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the repo")
        .to_path_buf()
}

/// The contract's cargo project.
pub fn source_dir() -> PathBuf {
    crate::env::contract_src().unwrap_or_else(|| repo_root().join("contracts").join("marketplace"))
}

/// The bundle every command deploys: the committed one (MERIT_CONTRACT_BUNDLE overrides).
pub fn default_bundle() -> PathBuf {
    crate::env::contract_bundle().unwrap_or_else(committed_bundle)
}

/// The committed bundle and the record of what it was built from.
pub fn committed_dir() -> PathBuf {
    repo_root().join("contracts").join("bundle")
}

pub fn committed_bundle() -> PathBuf {
    committed_dir().join("marketplace.contract")
}

fn stamp_path() -> PathBuf {
    committed_dir().join("marketplace.inputs.json")
}

/// What `contracts/bundle/marketplace.inputs.json` records beside the bundle: the hash of
/// the inputs (the freshness test compares only this) and the tools that built it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct BundleStamp {
    /// sha256 over the contract's sources, its Cargo.lock and the protocol sources it
    /// compiles ([`inputs_hash`]).
    pub inputs_sha256: String,
    pub cargo_contract: String,
    pub rustc: String,
}

/// The files the contract's wasm is compiled from, relative to the repo root, sorted:
/// the contract's manifest, lock and sources (its unit tests excluded), and
/// `protocol`'s manifest and sources. What `protocol` inherits from the workspace manifest
/// counts too ([`inherited_lines`]).
pub fn input_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "target" || name.starts_with('.') || name == "tests.rs" {
                continue;
            }
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else if name.ends_with(".rs") || name == "Cargo.toml" || name == "Cargo.lock" {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, &root.join("contracts").join("marketplace"), &mut out)?;
    walk(root, &root.join("protocol").join("src"), &mut out)?;
    out.push(PathBuf::from("protocol/Cargo.toml"));
    out.sort();
    Ok(out)
}

/// sha256 over every input file: its path (with `/`), a NUL, its length as u64 LE, its
/// bytes; then the workspace manifest's lines that `protocol` inherits.
pub fn inputs_hash(root: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut feed = |name: &str, bytes: &[u8]| {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for rel in input_files(root)? {
        let name = rel.to_string_lossy().replace('\\', "/");
        feed(&name, &std::fs::read(root.join(&rel))?);
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let protocol = std::fs::read_to_string(root.join("protocol").join("Cargo.toml"))?;
    feed(
        "Cargo.toml#inherited",
        inherited_lines(&manifest, &protocol).as_bytes(),
    );
    Ok(hex::encode(h.finalize()))
}

/// The lines of the workspace manifest that `protocol` inherits: all of
/// `[workspace.package]`, and the `[workspace.dependencies]` entries it names with
/// `workspace = true`. Other workspace changes (a new dependency of another crate, a
/// profile) do not touch the contract and must not make its bundle stale.
fn inherited_lines(workspace: &str, member: &str) -> String {
    let key = |line: &str| {
        line.split(['=', '.'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let inherited: std::collections::BTreeSet<String> = member
        .lines()
        .filter(|l| l.replace(' ', "").contains("workspace=true"))
        .map(key)
        .collect();
    let mut section = "";
    let mut out = String::new();
    for line in workspace.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t;
            continue;
        }
        let keep = match section {
            "[workspace.package]" => !t.is_empty() && !t.starts_with('#'),
            "[workspace.dependencies]" => inherited.contains(&key(t)),
            _ => false,
        };
        if keep {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

/// Whether the committed bundle was built from the sources as they are now.
pub fn freshness() -> Result<Freshness, ContractBuildError> {
    let root = repo_root();
    let now = inputs_hash(&root)?;
    let stamp: Option<BundleStamp> = std::fs::read_to_string(stamp_path())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    Ok(match stamp {
        Some(s) if s.inputs_sha256 == now && committed_bundle().exists() => Freshness::Fresh,
        Some(s) => Freshness::Stale {
            recorded: s.inputs_sha256,
            now,
        },
        None => Freshness::Missing,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale { recorded: String, now: String },
    Missing,
}

/// The committed bundle, or an error that says to rebuild it when its sources changed.
pub fn fresh_bundle() -> Result<PathBuf, ContractBuildError> {
    match freshness()? {
        Freshness::Fresh => Ok(committed_bundle()),
        Freshness::Stale { recorded, now } => Err(ContractBuildError::Stale { recorded, now }),
        Freshness::Missing => Err(ContractBuildError::NoBundle(committed_bundle())),
    }
}

/// Rust >= 1.92 rejects the `panic_immediate_abort` std feature cargo-contract 5.0.3 asks
/// for; there the build goes through the wrapper `cargo xtask setup` writes.
fn needs_cargo_wrapper() -> bool {
    let out = Command::new("rustc").arg("--version").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let minor = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 92)
}

/// Builds the contract (release) with cargo-contract unless the committed bundle is
/// fresh, then commits the result to `contracts/bundle/` with its stamp; returns the path.
pub fn build(force: bool) -> Result<PathBuf, ContractBuildError> {
    let src = source_dir();
    let manifest = src.join("Cargo.toml");
    if !manifest.exists() {
        return Err(ContractBuildError::NoSource(src));
    }
    if !force && freshness()? == Freshness::Fresh {
        tracing::info!(bundle = %committed_bundle().display(), "contract bundle is up to date");
        return Ok(committed_bundle());
    }
    let cargo_contract = which("cargo-contract")
        .ok_or_else(|| ContractBuildError::MissingTool("cargo-contract 5.0.3".into()))?;
    let mut cmd = Command::new(&cargo_contract);
    cmd.args(["contract", "build", "--release", "--manifest-path"])
        .arg(&manifest);
    if needs_cargo_wrapper() {
        let wrapper = tools_dir().join("cargo-for-cargo-contract.sh");
        if !wrapper.exists() {
            return Err(ContractBuildError::MissingTool(
                wrapper.display().to_string(),
            ));
        }
        let real = which("cargo").ok_or_else(|| ContractBuildError::MissingTool("cargo".into()))?;
        cmd.env("CARGO", wrapper).env("MERIT_REAL_CARGO", real);
    }
    // cargo-contract's report goes to our stderr: stdout stays the caller's (`--json`).
    {
        use std::os::fd::AsFd;
        cmd.stdout(std::io::stderr().as_fd().try_clone_to_owned()?);
    }
    let status = cmd.status()?;
    if !status.success() {
        return Err(ContractBuildError::Failed(status));
    }
    let built = src.join("target").join("ink").join("marketplace.contract");
    if !built.exists() {
        return Err(ContractBuildError::NoBundle(built));
    }
    std::fs::create_dir_all(committed_dir())?;
    std::fs::copy(&built, committed_bundle())?;
    let version = |cmd: &Path, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let stamp = BundleStamp {
        inputs_sha256: inputs_hash(&repo_root())?,
        cargo_contract: version(&cargo_contract, "--version"),
        rustc: version(Path::new("rustc"), "--version"),
    };
    let json = serde_json::to_string_pretty(&stamp).expect("a stamp serialises");
    std::fs::write(stamp_path(), json + "\n")?;
    Ok(committed_bundle())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_hash_follows_sources_but_not_tests_or_targets() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let c = root.join("contracts").join("marketplace");
        std::fs::create_dir_all(c.join("target")).unwrap();
        std::fs::create_dir_all(root.join("protocol").join("src")).unwrap();
        std::fs::write(c.join("lib.rs"), "contract").unwrap();
        std::fs::write(c.join("Cargo.lock"), "lock").unwrap();
        std::fs::write(
            root.join("protocol").join("Cargo.toml"),
            "[dependencies]\nark-ff = { workspace = true }\n",
        )
        .unwrap();
        std::fs::write(root.join("protocol").join("src").join("lib.rs"), "p").unwrap();
        let ws = "[workspace.dependencies]\nark-ff = \"0.5\"\n";
        std::fs::write(root.join("Cargo.toml"), ws).unwrap();
        let h0 = inputs_hash(root).unwrap();
        // Neither build outputs, the contract's unit tests, profiles nor other crates'
        // dependencies count.
        std::fs::write(c.join("target").join("junk.rs"), "x").unwrap();
        std::fs::write(c.join("tests.rs"), "x").unwrap();
        let other = format!("{ws}candle-core = \"0.8\"\n[profile.dev]\nopt-level = 1\n");
        std::fs::write(root.join("Cargo.toml"), other).unwrap();
        assert_eq!(inputs_hash(root).unwrap(), h0);
        // Sources, the lock and the protocol do.
        for f in [
            c.join("lib.rs"),
            c.join("Cargo.lock"),
            root.join("protocol").join("src").join("lib.rs"),
        ] {
            let old = std::fs::read(&f).unwrap();
            std::fs::write(&f, "changed").unwrap();
            assert_ne!(inputs_hash(root).unwrap(), h0, "{}", f.display());
            std::fs::write(&f, old).unwrap();
        }
        std::fs::write(root.join("Cargo.toml"), ws.replace("0.5", "0.6")).unwrap();
        assert_ne!(
            inputs_hash(root).unwrap(),
            h0,
            "inherited dependencies count"
        );
    }

    /// The committed bundle must be built from the sources as they are: a contract or
    /// protocol change without `merit contract build` fails here, by name.
    #[test]
    fn committed_bundle_matches_its_sources() {
        match freshness().unwrap() {
            Freshness::Fresh => {}
            Freshness::Stale { recorded, now } => panic!(
                "contracts/bundle/marketplace.contract was built from other sources \
                 (recorded inputs {recorded}, now {now}): run `merit contract build` \
                 (needs cargo-contract 5.0.3: `cargo xtask setup --contract-tools`) and commit \
                 contracts/bundle/"
            ),
            Freshness::Missing => panic!(
                "no committed contract bundle: run `merit contract build` and commit contracts/bundle/"
            ),
        }
    }
}
