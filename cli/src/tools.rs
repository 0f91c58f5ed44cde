//! Where Merit's external tools are found: an explicit setting first, then PATH, then what
//! `cargo xtask setup` installed under the tools directory.

use std::path::{Path, PathBuf};

/// Where `cargo xtask setup` keeps tools (kept in step with xtask/src/setup.rs).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = crate::env::tools_dir() {
        return dir;
    }
    let home = crate::env::home().unwrap_or_else(|| "/tmp".into());
    home.join(".cache").join("merit").join("tools")
}

/// The first directory on PATH holding an executable `name`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = crate::env::search_path()?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// substrate-contracts-node: `explicit` (flag / MERIT_NODE_BIN), else PATH.
pub fn node_bin(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if is_executable(p) {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "node binary {} does not exist or is not executable",
                p.display()
            ))
        };
    }
    which("substrate-contracts-node")
        .ok_or_else(|| "substrate-contracts-node not found on PATH: run `cargo xtask setup` (or set MERIT_NODE_BIN)".into())
}

/// The `merit` binary, for the processes a devnet keeps running (its ticker): `explicit`,
/// else `MERIT_BIN`, else this process when it is `merit`, else the `merit` that cargo
/// built beside this test binary (`target/<profile>/deps/..`), else PATH.
pub fn merit_bin(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit
        .map(Path::to_path_buf)
        .or_else(crate::env::merit_bin)
    {
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!(
                "merit binary {} does not exist or is not executable",
                p.display()
            ))
        };
    }
    let exe = std::env::current_exe().ok();
    if let Some(exe) = exe
        .as_ref()
        .filter(|e| e.file_name() == Some("merit".as_ref()))
    {
        return Ok(exe.clone());
    }
    exe.as_ref()
        .and_then(|e| e.parent()?.parent())
        .map(|profile| profile.join("merit"))
        .filter(|p| is_executable(p))
        .or_else(|| which("merit"))
        .ok_or_else(|| {
            "the merit binary (the devnet's ticker runs it) was not found: \
             `cargo build -p merit-cli`, or set MERIT_BIN"
                .into()
        })
}

/// An IPFS daemon binary speaking the Kubo RPC API: explicit, Kubo's `ipfs` on PATH, or
/// the js-ipfs that setup installs.
pub fn ipfs_bin(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if is_executable(p) {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "IPFS binary {} does not exist or is not executable",
                p.display()
            ))
        };
    }
    if let Some(kubo) = which("ipfs") {
        return Ok(kubo);
    }
    let js = tools_dir()
        .join("ipfs")
        .join("node_modules")
        .join(".bin")
        .join("jsipfs");
    if is_executable(&js) {
        return Ok(js);
    }
    Err(format!(
        "no IPFS daemon binary: neither `ipfs` (Kubo) on PATH nor {}; run `cargo xtask setup`, \
         or point at a running daemon with MERIT_IPFS_API",
        js.display()
    ))
}

/// The UCI digits CSV in the tools directory, fetched the first time from the scikit-learn
/// wheel on PyPI (sha256-checked, then left alone; `merit data fetch-digits` does the same
/// by hand).
pub fn digits_csv() -> Result<PathBuf, merit_trainer::fetch::FetchError> {
    let path = tools_dir().join("digits.csv");
    merit_trainer::fetch::fetch_digits("python3", &path)?;
    Ok(path)
}
