//! `merit devnet status`: each part of a devnet asked whether it is alive and answering.

use super::{io, is_ours, marker, DevnetInfo, Result, TickerInfo};
use merit_chain::{with_causes, ChainBackend, ChainClient};
use merit_chain_embedded::EmbeddedChain;
use merit_storage::IpfsStore;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct PartStatus {
    pub running: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub data_dir: PathBuf,
    pub node: PartStatus,
    pub ipfs: PartStatus,
    pub contract: PartStatus,
    /// The ticker; running also when there is none, since then blocks come only with
    /// transactions by choice.
    pub clock: PartStatus,
    pub info: DevnetInfo,
}

impl StatusReport {
    pub fn healthy(&self) -> bool {
        self.node.running && self.ipfs.running && self.contract.running && self.clock.running
    }
}

fn clock_status(ticker: Option<&TickerInfo>, marker: &str) -> PartStatus {
    match ticker {
        None => PartStatus {
            running: true,
            detail: "blocks only with transactions (no --block-time)".into(),
        },
        Some(t) if is_ours(t.pid, marker) => PartStatus {
            running: true,
            detail: format!("a block every {} ms (pid {})", t.block_time_ms, t.pid),
        },
        Some(t) => PartStatus {
            running: false,
            detail: format!(
                "ticker not running (pid {} gone; see {})",
                t.pid,
                t.log.display()
            ),
        },
    }
}

/// Asks each part whether it is alive and answering.
pub async fn status(data_dir: &Path) -> Result<StatusReport> {
    let data = std::path::absolute(data_dir).map_err(io(data_dir))?;
    let info = DevnetInfo::read(&data)?;
    let marker = marker(&data);
    let mut chain_up = false;
    let node = match (&info.node, &info.embedded) {
        (Some(n), _) if !is_ours(n.pid, &marker) => PartStatus {
            running: false,
            detail: format!("not running (pid {} gone)", n.pid),
        },
        (Some(n), _) => match ChainClient::connect(&n.rpc_url).await {
            Ok(c) => match (c.best_block_number().await, c.health().await) {
                (Ok(b), Ok((peers, syncing))) => {
                    chain_up = true;
                    PartStatus {
                        running: true,
                        detail: format!(
                            "pid {}  {}  best block #{b}, {peers} peers{}",
                            n.pid,
                            n.rpc_url,
                            if syncing { ", syncing" } else { "" }
                        ),
                    }
                }
                (Err(e), _) | (_, Err(e)) => PartStatus {
                    running: false,
                    detail: format!("pid {} alive but RPC fails: {}", n.pid, with_causes(&e)),
                },
            },
            Err(e) => PartStatus {
                running: false,
                detail: with_causes(&e),
            },
        },
        (None, Some(e)) => match EmbeddedChain::open(&e.state).and_then(|c| c.best_block()) {
            Ok(b) => {
                chain_up = true;
                PartStatus {
                    running: true,
                    detail: format!("embedded chain {}  best block #{b}", e.state.display()),
                }
            }
            Err(err) => PartStatus {
                running: false,
                detail: with_causes(&err),
            },
        },
        (None, None) => PartStatus {
            running: false,
            detail: "devnet.json names no chain".into(),
        },
    };
    let ipfs_alive = info.ipfs.pid.is_none_or(|p| is_ours(p, &marker));
    let ipfs = if !ipfs_alive {
        PartStatus {
            running: false,
            detail: format!("not running (pid {} gone)", info.ipfs.pid.unwrap_or(0)),
        }
    } else {
        match IpfsStore::new(&info.ipfs.api_url)?.version().await {
            Ok(v) => PartStatus {
                running: true,
                detail: format!(
                    "{}  {}  version {v}",
                    info.ipfs
                        .pid
                        .map(|p| format!("pid {p}"))
                        .unwrap_or_else(|| "external".into()),
                    info.ipfs.api_url
                ),
            },
            Err(e) => PartStatus {
                running: false,
                detail: with_causes(&e),
            },
        }
    };
    let contract = match chain_up {
        false => PartStatus {
            running: false,
            detail: "unknown (chain down)".into(),
        },
        true => match info.marketplace().await {
            Ok(m) => match m.project_count().await {
                Ok(n) => PartStatus {
                    running: true,
                    detail: format!("{}  {n} project(s)", info.contract.address),
                },
                Err(e) => PartStatus {
                    running: false,
                    detail: format!("{}: {}", info.contract.address, with_causes(&e)),
                },
            },
            Err(e) => PartStatus {
                running: false,
                detail: with_causes(&e),
            },
        },
    };
    let clock = clock_status(info.ticker.as_ref(), &marker);
    Ok(StatusReport {
        data_dir: data,
        node,
        ipfs,
        contract,
        clock,
        info,
    })
}
