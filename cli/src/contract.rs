//! Building the marketplace contract with cargo-contract, only when its bundle is stale.

use crate::tools::{tools_dir, which};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

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
    #[error("cargo-contract succeeded but {0} is missing")]
    NoBundle(PathBuf),
    #[error("I/O: {0}")]
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
    std::env::var_os("MERIT_CONTRACT_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("contracts").join("marketplace"))
}

/// Where cargo-contract leaves the bundle (MERIT_CONTRACT_BUNDLE overrides).
pub fn default_bundle() -> PathBuf {
    std::env::var_os("MERIT_CONTRACT_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            source_dir()
                .join("target")
                .join("ink")
                .join("marketplace.contract")
        })
}

fn newest_mtime(dir: &Path, newest: &mut SystemTime) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            newest_mtime(&path, newest)?;
        } else {
            *newest = (*newest).max(entry.metadata()?.modified()?);
        }
    }
    Ok(())
}

/// True when the bundle is missing or older than any contract or protocol source.
pub fn is_stale(bundle: &Path, sources: &[PathBuf]) -> std::io::Result<bool> {
    let Ok(built) = bundle.metadata().and_then(|m| m.modified()) else {
        return Ok(true);
    };
    let mut newest = SystemTime::UNIX_EPOCH;
    for s in sources {
        if s.exists() {
            newest_mtime(s, &mut newest)?;
        }
    }
    Ok(newest > built)
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

/// Builds the contract (release) unless its bundle is fresh; returns the bundle path.
pub fn build(force: bool) -> Result<PathBuf, ContractBuildError> {
    let src = source_dir();
    let manifest = src.join("Cargo.toml");
    if !manifest.exists() {
        return Err(ContractBuildError::NoSource(src));
    }
    let bundle = src.join("target").join("ink").join("marketplace.contract");
    let protocol = src.join("..").join("..").join("protocol");
    if !force && !is_stale(&bundle, &[src.clone(), protocol])? {
        tracing::info!(bundle = %bundle.display(), "contract bundle is up to date");
        return Ok(bundle);
    }
    let cargo_contract = which("cargo-contract")
        .ok_or_else(|| ContractBuildError::MissingTool("cargo-contract 5.0.3".into()))?;
    let mut cmd = Command::new(cargo_contract);
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
    let status = cmd.status()?;
    if !status.success() {
        return Err(ContractBuildError::Failed(status));
    }
    if !bundle.exists() {
        return Err(ContractBuildError::NoBundle(bundle));
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_follows_source_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("target")).unwrap();
        std::fs::write(src.join("lib.rs"), "old").unwrap();
        let bundle = dir.path().join("x.contract");
        assert!(
            is_stale(&bundle, &[src.clone()]).unwrap(),
            "missing bundle is stale"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&bundle, "{}").unwrap();
        assert!(!is_stale(&bundle, &[src.clone()]).unwrap());
        // Build outputs under target/ never make the bundle stale.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(src.join("target").join("junk"), "x").unwrap();
        assert!(!is_stale(&bundle, &[src.clone()]).unwrap());
        std::fs::write(src.join("lib.rs"), "new").unwrap();
        assert!(is_stale(&bundle, &[src]).unwrap());
    }
}
