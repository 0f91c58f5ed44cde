//! Every environment variable the library reads, in one place, each by name.
//!
//! The flags' own variables (`[env: MERIT_…]` in `--help`) are clap's, and the config file
//! fills them (`config`); these are the settings with no flag: where tools live and which
//! ones to use, the chain the tests pick, the contract's sources, and secrets a user puts
//! in the environment on purpose (`env:NAME` keys, keystore passwords).

use std::ffi::OsString;
use std::path::PathBuf;

/// A variable's value as text, `None` when unset or not UTF-8.
fn text(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A variable's value as a path, `None` when unset.
fn path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from)
}

/// `MERIT_TOOLS_DIR`: where `cargo xtask setup` keeps tools.
pub fn tools_dir() -> Option<PathBuf> {
    path("MERIT_TOOLS_DIR")
}

/// `HOME`.
pub fn home() -> Option<PathBuf> {
    path("HOME")
}

/// `PATH`, as the OS gives it.
pub fn search_path() -> Option<OsString> {
    std::env::var_os("PATH")
}

/// `MERIT_BIN`: the `merit` binary a devnet's ticker runs.
pub fn merit_bin() -> Option<PathBuf> {
    path("MERIT_BIN")
}

/// `MERIT_NODE_BIN`: a substrate-contracts-node to use instead of the one on PATH.
pub fn node_bin() -> Option<PathBuf> {
    path("MERIT_NODE_BIN")
}

/// `MERIT_IPFS_BIN`: an `ipfs`/`jsipfs` binary for the devnet to start.
pub fn ipfs_bin() -> Option<PathBuf> {
    path("MERIT_IPFS_BIN")
}

/// `MERIT_IPFS_API`: a running IPFS daemon's RPC API, not ours to start or stop.
pub fn ipfs_api() -> Option<String> {
    text("MERIT_IPFS_API")
}

/// `MERIT_CHAIN`: `embedded` or `node`, the chain the demo and the tests pick.
pub fn chain() -> Option<String> {
    text("MERIT_CHAIN")
}

/// `MERIT_CONTRACT_SRC`: the contract's cargo project, to build the bundle from.
pub fn contract_src() -> Option<PathBuf> {
    path("MERIT_CONTRACT_SRC")
}

/// `MERIT_CONTRACT_BUNDLE`: a bundle to deploy instead of the committed one.
pub fn contract_bundle() -> Option<PathBuf> {
    path("MERIT_CONTRACT_BUNDLE")
}

/// The secret an `env:NAME` key names.
pub fn secret(name: &str) -> Option<String> {
    text(name)
}

/// `NO_COLOR`: set, in any form, turns colour off.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some()
}
