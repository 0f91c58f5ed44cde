//! `merit devnet up | down | status`: a local chain and IPFS daemon on loopback, the
//! marketplace contract deployed, and `devnet.json` describing it all.
//!
//! The chain is substrate-contracts-node where it is installed, and otherwise the embedded
//! chain (the node's pallet-contracts runtime) kept in `chain.state`, which every `merit`
//! process opens in turn (`merit_chain_embedded::EmbeddedChain::open`): no process to run,
//! and the chain survives `down` and `up` as the node's database does.
//!
//! Layout of a data directory:
//! ```text
//! devnet.json        endpoints, contract address, dev accounts (what other commands read)
//! node.pid ipfs.pid ticker.pid   the process groups `down` stops
//! node/ ipfs/        chain database and IPFS repo
//! chain.state        the embedded chain (instead of node/)
//! logs/node.log logs/ipfs.log logs/ticker.log
//! ```
//!
//! The marketplace is deployed once per chain: a later `up` on the same chain (after
//! `down`, or after a daemon died) finds it and keeps it, with every project, stake, bond
//! and escrowed pool in it. With a block time set, a ticker process ([`crate::ticker`])
//! makes a block every block time, so deadlines pass even when nobody sends a transaction.

use crate::chain::ChainChoice;
use crate::process::{free_port, is_ours, log_tail, port_is_free, spawn_logged, stop_group};
use crate::ticker::TickTarget;
use crate::{contract, tools};
use merit_chain::{
    dev_signer, ChainBackend, ChainClient, ContractBundle, Marketplace, DEV_ACCOUNTS,
};
use merit_chain_embedded::EmbeddedChain;
use merit_storage::IpfsStore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod status;
pub use status::{status, PartStatus, StatusReport};

pub const INFO_FILE: &str = "devnet.json";
const INFO_VERSION: u32 = 2;
/// The embedded chain's file in a data directory.
pub const CHAIN_FILE: &str = "chain.state";

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("{0}")]
    MissingTool(String),
    #[error("port {0} on 127.0.0.1 is already in use (pick another with --rpc-port, or leave it out for a free one)")]
    PortInUse(u16),
    #[error("{what} exited while starting ({status}); last lines of {log}:\n{tail}")]
    Died {
        what: &'static str,
        status: String,
        log: String,
        tail: String,
    },
    #[error("{what} did not answer within {secs} s; last lines of {log}:\n{tail}")]
    Timeout {
        what: &'static str,
        secs: u64,
        log: String,
        tail: String,
    },
    #[error("no IPFS daemon answers at {url}: {reason}")]
    ExternalIpfs { url: String, reason: String },
    #[error(
        "the devnet's marketplace {address} runs other code ({deployed}) than the bundle \
         ({bundle}), and its projects may hold funds: `merit devnet up --redeploy` deploys the \
         new bundle beside it (the old contract stays on chain, listed in devnet.json), \
         `merit devnet down --purge` starts a new chain"
    )]
    ContractChanged {
        address: String,
        deployed: String,
        bundle: String,
    },
    #[error("no devnet in {0}: run `merit devnet up`")]
    NotFound(PathBuf),
    #[error("{path} is not a devnet description: {reason}")]
    BadInfo { path: PathBuf, reason: String },
    #[error(transparent)]
    Contract(#[from] contract::ContractBuildError),
    #[error(transparent)]
    Chain(#[from] merit_chain::ChainError),
    #[error(transparent)]
    Storage(#[from] merit_storage::StorageError),
    #[error("I/O on {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

type Result<T, E = DevnetError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevnetError + '_ {
    move |source| DevnetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `up` needs to know; everything has a sensible default.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    pub data_dir: PathBuf,
    /// Node RPC port; a free one when `None`.
    pub rpc_port: Option<u16>,
    pub node_bin: Option<PathBuf>,
    pub ipfs_bin: Option<PathBuf>,
    /// Use this running daemon instead of starting one.
    pub ipfs_api: Option<String>,
    /// A prebuilt bundle; otherwise the contract is built when stale.
    pub bundle: Option<PathBuf>,
    pub start_timeout: Duration,
    /// The node, the embedded chain, or (`None`) the node where installed.
    pub chain: Option<ChainChoice>,
    /// A block every this long, made by the ticker process; `None`: blocks only with
    /// transactions.
    pub block_time: Option<Duration>,
    /// The `merit` binary that runs the ticker; found by [`tools::merit_bin`] when `None`.
    pub merit_bin: Option<PathBuf>,
    /// Deploy the bundle even where the chain already holds a marketplace of other code.
    pub redeploy: bool,
}

impl DevnetOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            chain: None,
            data_dir: data_dir.into(),
            rpc_port: None,
            node_bin: crate::env::node_bin(),
            ipfs_bin: crate::env::ipfs_bin(),
            ipfs_api: crate::env::ipfs_api(),
            bundle: None,
            start_timeout: Duration::from_secs(90),
            block_time: None,
            merit_bin: None,
            redeploy: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeInfo {
    pub rpc_url: String,
    pub rpc_port: u16,
    pub p2p_port: u16,
    pub pid: u32,
    pub bin: PathBuf,
    pub log: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IpfsInfo {
    pub api_url: String,
    /// `None` when the daemon is external (MERIT_IPFS_API) and not ours to stop.
    pub pid: Option<u32>,
    pub bin: Option<PathBuf>,
    pub log: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContractInfo {
    /// SS58 address.
    pub address: String,
    pub code_hash: String,
    pub bundle: PathBuf,
    pub deployed_at_block: u32,
}

/// The process that makes the devnet's blocks on their own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TickerInfo {
    pub pid: u32,
    pub block_time_ms: u64,
    pub log: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountInfo {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddedInfo {
    /// The chain's file (`chain.state`).
    pub state: PathBuf,
}

/// `devnet.json`: what every other command reads to find the devnet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DevnetInfo {
    pub version: u32,
    pub data_dir: PathBuf,
    /// The node, when the devnet runs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeInfo>,
    /// The embedded chain's file, when the devnet has no node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedInfo>,
    pub ipfs: IpfsInfo,
    pub contract: ContractInfo,
    /// Marketplaces an `up --redeploy` replaced; still on chain with whatever they hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_contracts: Vec<ContractInfo>,
    /// The block maker; `None` when blocks come only with transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticker: Option<TickerInfo>,
    pub accounts: Vec<AccountInfo>,
}

impl DevnetInfo {
    pub fn read(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(INFO_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DevnetError::NotFound(data_dir.into()))
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let info: Self = serde_json::from_str(&text).map_err(|e| DevnetError::BadInfo {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if info.version != INFO_VERSION {
            return Err(DevnetError::BadInfo {
                path,
                reason: format!("version {} (expected {INFO_VERSION})", info.version),
            });
        }
        Ok(info)
    }

    fn write(&self) -> Result<()> {
        let path = self.data_dir.join(INFO_FILE);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("DevnetInfo serialises");
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// The deployed marketplace, with dry-runs sent from alice.
    pub async fn marketplace(&self) -> Result<Marketplace> {
        self.marketplace_on(self.backend().await?)
    }

    /// This devnet's chain: its node over RPC, or its embedded chain's file.
    pub async fn backend(&self) -> Result<Arc<dyn ChainBackend>> {
        match (&self.node, &self.embedded) {
            (Some(node), _) => Ok(Arc::new(ChainClient::connect(&node.rpc_url).await?)),
            (None, Some(e)) => Ok(Arc::new(EmbeddedChain::open(&e.state)?)),
            (None, None) => Err(DevnetError::BadInfo {
                path: self.data_dir.join(INFO_FILE),
                reason: "names neither a node nor an embedded chain".into(),
            }),
        }
    }

    /// Which chain this devnet runs.
    pub fn chain_kind(&self) -> ChainChoice {
        if self.node.is_some() {
            ChainChoice::Node
        } else {
            ChainChoice::Embedded
        }
    }

    /// The deployed marketplace on `client`, this devnet's chain.
    pub fn marketplace_on(&self, client: Arc<dyn ChainBackend>) -> Result<Marketplace> {
        let bundle = Arc::new(ContractBundle::load(&self.contract.bundle)?);
        let address = self
            .contract
            .address
            .parse()
            .map_err(|e| DevnetError::BadInfo {
                path: self.data_dir.join(INFO_FILE),
                reason: format!("contract address {}: {e:?}", self.contract.address),
            })?;
        let reader = merit_chain::client::account_of(&dev_signer("alice")?);
        Ok(Marketplace::at(client, bundle, address, reader))
    }

    pub fn ipfs(&self) -> Result<IpfsStore> {
        Ok(IpfsStore::new(&self.ipfs.api_url)?)
    }

    /// Whether every process this devnet started is still running.
    pub fn processes_alive(&self) -> bool {
        let marker = marker(&self.data_dir);
        self.node.as_ref().is_none_or(|n| is_ours(n.pid, &marker))
            && self.ipfs.pid.is_none_or(|p| is_ours(p, &marker))
            && self.ticker.as_ref().is_none_or(|t| is_ours(t.pid, &marker))
    }
}

/// The string that identifies our processes (it appears in their arguments or environment).
fn marker(data_dir: &Path) -> String {
    data_dir.display().to_string()
}

#[derive(Debug)]
pub enum UpOutcome {
    Started(DevnetInfo),
    AlreadyRunning(DevnetInfo),
}

/// Processes started by an `up` in progress; stopped again if `up` fails half-way.
struct Started {
    marker: String,
    children: Vec<Child>,
    armed: bool,
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.armed {
            for c in &mut self.children {
                stop_group(c.id(), &self.marker, Duration::from_secs(5));
                let _ = c.wait();
            }
        }
    }
}

/// Everything `up` resolves before it starts a process (step 1), so that a missing tool,
/// a taken port or a stale bundle fails with nothing to clean up.
struct Plan {
    choice: ChainChoice,
    node_bin: Option<PathBuf>,
    ipfs_bin: Option<PathBuf>,
    bundle_path: PathBuf,
    bundle: Arc<ContractBundle>,
    rpc_port: u16,
    p2p_port: u16,
    merit_bin: Option<PathBuf>,
}

/// The chain and IPFS as started (step 2): their PIDs, logs and endpoints.
struct Running {
    node_pid: Option<u32>,
    node_log: PathBuf,
    rpc_url: String,
    state: PathBuf,
    api_url: String,
    ipfs_pid: Option<u32>,
    ipfs_log: PathBuf,
}

pub async fn up(opts: &DevnetOptions) -> Result<UpOutcome> {
    let data = std::path::absolute(&opts.data_dir).map_err(io(&opts.data_dir))?;
    std::fs::create_dir_all(data.join("logs")).map_err(io(&data))?;
    // What a previous `up` deployed on this data dir's chain: kept, not replaced.
    let previous = match DevnetInfo::read(&data) {
        Ok(info) if info.processes_alive() => return Ok(UpOutcome::AlreadyRunning(info)),
        // Leftovers of a devnet that was stopped or half-died: clear them before starting.
        Ok(info) => {
            down(&data)?;
            Some(info)
        }
        Err(DevnetError::BadInfo { .. }) | Err(DevnetError::NotFound(_)) => {
            down(&data)?;
            None
        }
        Err(e) => return Err(e),
    };
    let plan = plan(opts, &data)?;
    let mut started = Started {
        marker: marker(&data),
        children: Vec::new(),
        armed: true,
    };
    let running = start_chain_and_ipfs(opts, &plan, &data, &mut started).await?;
    let client = wait_ready(opts, &running, &mut started).await?;
    let (contract, retired_contracts) =
        keep_or_deploy(previous, &client, &plan, opts.redeploy).await?;
    let ticker = start_clock(opts, &plan, &running, &data, &mut started)?;
    let info = DevnetInfo {
        version: INFO_VERSION,
        data_dir: data.clone(),
        node: match (running.node_pid, plan.node_bin) {
            (Some(pid), Some(bin)) => Some(NodeInfo {
                rpc_url: running.rpc_url,
                rpc_port: plan.rpc_port,
                p2p_port: plan.p2p_port,
                pid,
                bin,
                log: running.node_log,
            }),
            _ => None,
        },
        embedded: running.node_pid.is_none().then_some(EmbeddedInfo {
            state: running.state,
        }),
        ipfs: IpfsInfo {
            api_url: running.api_url,
            pid: running.ipfs_pid,
            bin: plan.ipfs_bin,
            log: running.ipfs_pid.map(|_| running.ipfs_log),
        },
        contract,
        retired_contracts,
        ticker,
        accounts: dev_accounts(),
    };
    info.write()?;
    started.armed = false;
    Ok(UpOutcome::Started(info))
}

/// Step 1: which chain, the binaries, the bundle (built if stale), the ports.
fn plan(opts: &DevnetOptions, data: &Path) -> Result<Plan> {
    let choice = match opts.chain {
        Some(c) => c,
        // A node binary named explicitly means the node, and a missing one is an error.
        None if opts.node_bin.is_some() || tools::node_bin(None).is_ok() => ChainChoice::Node,
        None => ChainChoice::Embedded,
    };
    let node_bin = match choice {
        ChainChoice::Node => {
            Some(tools::node_bin(opts.node_bin.as_deref()).map_err(DevnetError::MissingTool)?)
        }
        ChainChoice::Embedded => None,
    };
    let ipfs_bin = match &opts.ipfs_api {
        Some(_) => None,
        None => Some(tools::ipfs_bin(opts.ipfs_bin.as_deref()).map_err(DevnetError::MissingTool)?),
    };
    let bundle_path = match &opts.bundle {
        Some(b) => b.clone(),
        None => contract::build(false)?,
    };
    let bundle = Arc::new(ContractBundle::load(&bundle_path)?);
    let rpc_port = match opts.rpc_port {
        Some(p) if !port_is_free(p) => return Err(DevnetError::PortInUse(p)),
        Some(p) => p,
        None => free_port().map_err(io(data))?,
    };
    let p2p_port = free_port().map_err(io(data))?;
    let merit_bin = match opts.block_time {
        Some(_) => {
            Some(tools::merit_bin(opts.merit_bin.as_deref()).map_err(DevnetError::MissingTool)?)
        }
        None => None,
    };
    Ok(Plan {
        choice,
        node_bin,
        ipfs_bin,
        bundle_path,
        bundle,
        rpc_port,
        p2p_port,
        merit_bin,
    })
}

/// Step 2: the node as a process (or nothing: the embedded chain is a file), and IPFS:
/// ours, or the user's (which must answer now).
async fn start_chain_and_ipfs(
    opts: &DevnetOptions,
    plan: &Plan,
    data: &Path,
    started: &mut Started,
) -> Result<Running> {
    let node_log = data.join("logs").join("node.log");
    let node_child = match &plan.node_bin {
        Some(bin) => Some(start_node(
            bin,
            data,
            plan.rpc_port,
            plan.p2p_port,
            &node_log,
        )?),
        None => None,
    };
    let node_pid = node_child.as_ref().map(Child::id);
    started.children.extend(node_child);
    let ipfs_log = data.join("logs").join("ipfs.log");
    let (api_url, ipfs_pid) = match (&opts.ipfs_api, &plan.ipfs_bin) {
        (Some(url), _) => {
            check_external_ipfs(url).await?;
            (url.clone(), None)
        }
        (None, Some(bin)) => {
            let (child, url) = spawn_ipfs(bin, data, &ipfs_log)?;
            let pid = child.id();
            started.children.push(child);
            (url, Some(pid))
        }
        (None, None) => unreachable!("an IPFS binary was resolved in the plan"),
    };
    Ok(Running {
        node_pid,
        node_log,
        rpc_url: format!("ws://127.0.0.1:{}", plan.rpc_port),
        state: data.join(CHAIN_FILE),
        api_url,
        ipfs_pid,
        ipfs_log,
    })
}

/// Step 3: the node answers `system_health` and a best block (or the embedded chain's
/// file opens), and our IPFS daemon answers `/api/v0/version`.
async fn wait_ready(
    opts: &DevnetOptions,
    running: &Running,
    started: &mut Started,
) -> Result<Arc<dyn ChainBackend>> {
    let deadline = Instant::now() + opts.start_timeout;
    let timeout = opts.start_timeout;
    let client: Arc<dyn ChainBackend> = match running.node_pid {
        Some(_) => {
            let node_child = &mut started.children[0];
            let rpc_url = &running.rpc_url;
            Arc::new(
                wait_until(
                    "substrate-contracts-node",
                    node_child,
                    &running.node_log,
                    deadline,
                    timeout,
                    async || node_ready(rpc_url).await,
                )
                .await?,
            )
        }
        None => Arc::new(EmbeddedChain::open(&running.state)?),
    };
    if running.ipfs_pid.is_some() {
        let store = IpfsStore::new(&running.api_url)?;
        let ipfs_child = started.children.last_mut().expect("the IPFS daemon");
        wait_until(
            "IPFS daemon",
            ipfs_child,
            &running.ipfs_log,
            deadline,
            timeout,
            async || store.version().await.ok(),
        )
        .await?;
    }
    Ok(client)
}

/// Step 4: the marketplace a previous `up` deployed on this chain when it still answers
/// with the bundle's code; a refusal to strand one of other code unless `redeploy`;
/// otherwise a fresh deployment. Returns it and the retired ones.
async fn keep_or_deploy(
    previous: Option<DevnetInfo>,
    client: &Arc<dyn ChainBackend>,
    plan: &Plan,
    redeploy: bool,
) -> Result<(ContractInfo, Vec<ContractInfo>)> {
    let (bundle, bundle_path) = (&plan.bundle, &plan.bundle_path);
    let Some(p) = previous.filter(|p| p.chain_kind() == plan.choice) else {
        return Ok((deploy(client, bundle, bundle_path).await?, Vec::new()));
    };
    let code_hash = code_hash_hex(bundle);
    match existing_marketplace(&p, client, bundle).await {
        // The same code: keep it, and with it every project (the bundle's path may have
        // moved).
        Some(c) if c.code_hash == code_hash => {
            let bundle = absolute_bundle(bundle_path)?;
            Ok((ContractInfo { bundle, ..c }, p.retired_contracts))
        }
        Some(c) if !redeploy => Err(DevnetError::ContractChanged {
            address: c.address,
            deployed: c.code_hash,
            bundle: code_hash,
        }),
        Some(c) => {
            let mut retired = p.retired_contracts;
            retired.push(c);
            Ok((deploy(client, bundle, bundle_path).await?, retired))
        }
        // The chain was reset (its file or database deleted): nothing to keep.
        None => Ok((deploy(client, bundle, bundle_path).await?, Vec::new())),
    }
}

/// Step 5, last: the clock makes blocks only once everything above stands.
fn start_clock(
    opts: &DevnetOptions,
    plan: &Plan,
    running: &Running,
    data: &Path,
    started: &mut Started,
) -> Result<Option<TickerInfo>> {
    let (Some(every), Some(bin)) = (opts.block_time, &plan.merit_bin) else {
        return Ok(None);
    };
    let target = match running.node_pid {
        Some(_) => TickTarget::Node(running.rpc_url.clone()),
        None => TickTarget::Embedded(running.state.clone()),
    };
    let log = data.join("logs").join("ticker.log");
    let child = start_ticker(bin, data, &target, every, &log)?;
    let info = TickerInfo {
        pid: child.id(),
        block_time_ms: every.as_millis() as u64,
        log,
    };
    started.children.push(child);
    Ok(Some(info))
}

/// The dev accounts, by name and address, as `devnet.json` lists them.
fn dev_accounts() -> Vec<AccountInfo> {
    DEV_ACCOUNTS
        .iter()
        .map(|n| {
            let s = dev_signer(n).expect("dev account");
            AccountInfo {
                name: (*n).into(),
                address: merit_chain::client::account_of(&s).to_string(),
            }
        })
        .collect()
}

fn code_hash_hex(bundle: &ContractBundle) -> String {
    format!("0x{}", hex::encode(bundle.code_hash))
}

fn absolute_bundle(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(io(path))
}

/// Uploads and instantiates the marketplace (alice). A random salt gives a fresh address
/// even where the chain holds a marketplace of the same code already.
async fn deploy(
    client: &Arc<dyn ChainBackend>,
    bundle: &Arc<ContractBundle>,
    bundle_path: &Path,
) -> Result<ContractInfo> {
    let alice = dev_signer("alice")?;
    let salt: [u8; 16] = rand::random();
    let market = Marketplace::deploy(client.clone(), bundle.clone(), &alice, salt.to_vec()).await?;
    Ok(ContractInfo {
        address: market.address().to_string(),
        code_hash: code_hash_hex(bundle),
        bundle: absolute_bundle(bundle_path)?,
        deployed_at_block: client.best_block_number().await?,
    })
}

/// The previous `up`'s marketplace, if the chain still holds it (it answers a getter).
/// Its code hash is the one that `up` recorded: the chain's code at an address never
/// changes, since the contract cannot `set_code_hash`.
async fn existing_marketplace(
    previous: &DevnetInfo,
    client: &Arc<dyn ChainBackend>,
    bundle: &Arc<ContractBundle>,
) -> Option<ContractInfo> {
    let address = previous.contract.address.parse().ok()?;
    let reader = merit_chain::client::account_of(&dev_signer("alice").ok()?);
    let market = Marketplace::at(client.clone(), bundle.clone(), address, reader);
    market.project_count().await.ok()?;
    Some(previous.contract.clone())
}

/// Starts `merit devnet tick` for `target` and records its PID.
fn start_ticker(
    merit: &Path,
    data: &Path,
    target: &TickTarget,
    every: Duration,
    log: &Path,
) -> Result<Child> {
    let mut cmd = Command::new(merit);
    // The data dir in its arguments marks the process as this devnet's (`is_ours`).
    cmd.arg("--data-dir").arg(data).args([
        "devnet",
        "tick",
        "--block-time-ms",
        &every.as_millis().to_string(),
    ]);
    match target {
        TickTarget::Embedded(state) => cmd.arg("--state").arg(state),
        TickTarget::Node(url) => cmd.arg("--rpc-url").arg(url),
    };
    let child = spawn_logged(cmd, log).map_err(io(merit))?;
    std::fs::write(data.join("ticker.pid"), child.id().to_string()).map_err(io(data))?;
    Ok(child)
}

/// Starts substrate-contracts-node `--dev` on loopback and records its PID.
fn start_node(bin: &Path, data: &Path, rpc_port: u16, p2p_port: u16, log: &Path) -> Result<Child> {
    let mut node = Command::new(bin);
    node.arg("--dev")
        .arg("--base-path")
        .arg(data.join("node"))
        .args(["--rpc-port", &rpc_port.to_string()])
        .args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{p2p_port}")])
        .args([
            "--no-mdns",
            "--no-prometheus",
            "--no-telemetry",
            "--no-hardware-benchmarks",
        ]);
    let child = spawn_logged(node, log).map_err(io(bin))?;
    std::fs::write(data.join("node.pid"), child.id().to_string()).map_err(io(data))?;
    Ok(child)
}

fn died(what: &'static str, status: std::process::ExitStatus, log: &Path) -> DevnetError {
    DevnetError::Died {
        what,
        status: status.to_string(),
        log: log.display().to_string(),
        tail: log_tail(log, 12),
    }
}

fn timed_out(what: &'static str, timeout: Duration, log: &Path) -> DevnetError {
    DevnetError::Timeout {
        what,
        secs: timeout.as_secs(),
        log: log.display().to_string(),
        tail: log_tail(log, 12),
    }
}

/// Polls `ready` until it succeeds, the process dies, or the deadline passes.
async fn wait_until<T, F: AsyncFnMut() -> Option<T>>(
    what: &'static str,
    child: &mut Child,
    log: &Path,
    deadline: Instant,
    timeout: Duration,
    mut ready: F,
) -> Result<T> {
    loop {
        if let Some(status) = child.try_wait().map_err(io(log))? {
            return Err(died(what, status, log));
        }
        if let Some(v) = ready().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(timed_out(what, timeout, log));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn node_ready(url: &str) -> Option<ChainClient> {
    let client = ChainClient::connect(url).await.ok()?;
    client.best_block_number().await.ok()?;
    Some(client)
}

/// A daemon the user runs (not ours to start or stop) must answer before we rely on it.
async fn check_external_ipfs(url: &str) -> Result<()> {
    IpfsStore::new(url)?
        .version()
        .await
        .map_err(|e| DevnetError::ExternalIpfs {
            url: url.into(),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// Initialises (once) and starts an offline IPFS daemon under `data/ipfs` on a free
/// loopback port, writing `data/ipfs.pid`; returns the child and its API URL.
fn spawn_ipfs(bin: &Path, data: &Path, log: &Path) -> Result<(Child, String)> {
    let repo = data.join("ipfs");
    let api_port = free_port().map_err(io(data))?;
    init_ipfs_repo(bin, &repo, log, api_port)?;
    let mut daemon = Command::new(bin);
    daemon.args(["daemon", "--offline"]).env("IPFS_PATH", &repo);
    let child = spawn_logged(daemon, log).map_err(io(bin))?;
    std::fs::write(data.join("ipfs.pid"), child.id().to_string()).map_err(io(data))?;
    Ok((child, format!("http://127.0.0.1:{api_port}")))
}

/// An IPFS daemon on its own, for runs whose chain lives in-process (the embedded chain):
/// started on a free loopback port under `data_dir`, stopped when dropped.
pub struct IpfsDaemon {
    pub api_url: String,
    data: PathBuf,
    child: Option<Child>,
}

impl IpfsDaemon {
    /// The user's daemon at `MERIT_IPFS_API` if set (never stopped by us), else ours.
    pub async fn start(data_dir: &Path, timeout: Duration) -> Result<Self> {
        let data = std::path::absolute(data_dir).map_err(io(data_dir))?;
        std::fs::create_dir_all(data.join("logs")).map_err(io(&data))?;
        if let Some(url) = crate::env::ipfs_api() {
            check_external_ipfs(&url).await?;
            return Ok(Self {
                api_url: url,
                data,
                child: None,
            });
        }
        let bin =
            tools::ipfs_bin(crate::env::ipfs_bin().as_deref()).map_err(DevnetError::MissingTool)?;
        let log = data.join("logs").join("ipfs.log");
        let (child, api_url) = spawn_ipfs(&bin, &data, &log)?;
        let mut me = Self {
            api_url,
            data,
            child: Some(child),
        };
        let store = IpfsStore::new(&me.api_url)?;
        let child = me.child.as_mut().expect("just started");
        wait_until(
            "IPFS daemon",
            child,
            &log,
            Instant::now() + timeout,
            timeout,
            async || store.version().await.ok(),
        )
        .await?;
        Ok(me)
    }

    pub fn store(&self) -> Result<IpfsStore> {
        Ok(IpfsStore::new(&self.api_url)?)
    }
}

impl Drop for IpfsDaemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_group(c.id(), &marker(&self.data), Duration::from_secs(5));
            let _ = c.wait();
            let _ = std::fs::remove_file(self.data.join("ipfs.pid"));
        }
    }
}

/// `init`s the repo once, then points its API at `api_port` on loopback and turns off
/// everything that would listen publicly or reach out (swarm, gateway, delegates, mDNS).
fn init_ipfs_repo(bin: &Path, repo: &Path, log: &Path, api_port: u16) -> Result<()> {
    let config = repo.join("config");
    if !config.exists() {
        let out = Command::new(bin)
            .arg("init")
            .env("IPFS_PATH", repo)
            .output()
            .map_err(io(bin))?;
        std::fs::write(log, [&out.stdout[..], &out.stderr[..]].concat()).map_err(io(log))?;
        if !out.status.success() {
            return Err(died("ipfs init", out.status, log));
        }
    }
    let text = std::fs::read_to_string(&config).map_err(io(&config))?;
    let gateway = free_port().map_err(io(repo))?;
    let rpc = free_port().map_err(io(repo))?;
    let patched = loopback_ipfs_config(&text, api_port, gateway, rpc).map_err(|reason| {
        DevnetError::BadInfo {
            path: config.clone(),
            reason,
        }
    })?;
    std::fs::write(&config, patched).map_err(io(&config))
}

/// Rewrites an IPFS repo config (Kubo or js-ipfs) for a private loopback devnet.
pub fn loopback_ipfs_config(
    text: &str,
    api: u16,
    gateway: u16,
    rpc: u16,
) -> std::result::Result<String, String> {
    use serde_json::{json, Value};
    let mut c: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = c.as_object_mut().ok_or("not a JSON object")?;
    let addresses = obj.entry("Addresses").or_insert_with(|| json!({}));
    let a = addresses
        .as_object_mut()
        .ok_or("Addresses is not an object")?;
    a.insert("API".into(), json!(format!("/ip4/127.0.0.1/tcp/{api}")));
    a.insert(
        "Gateway".into(),
        json!(format!("/ip4/127.0.0.1/tcp/{gateway}")),
    );
    if a.contains_key("RPC") {
        a.insert("RPC".into(), json!(format!("/ip4/127.0.0.1/tcp/{rpc}")));
    }
    a.insert("Swarm".into(), json!([]));
    if a.contains_key("Delegates") {
        a.insert("Delegates".into(), json!([]));
    }
    obj.insert("Bootstrap".into(), json!([]));
    if let Some(mdns) = obj
        .get_mut("Discovery")
        .and_then(|d| d.get_mut("MDNS"))
        .and_then(Value::as_object_mut)
    {
        mdns.insert("Enabled".into(), json!(false));
    }
    Ok(serde_json::to_string_pretty(&c).expect("JSON serialises"))
}

/// What `down` did.
#[derive(Debug, Default, Serialize)]
pub struct DownReport {
    pub stopped: Vec<String>,
    pub already_stopped: Vec<String>,
}

/// Stops exactly the processes this data dir's PID files name (and their children).
pub fn down(data_dir: &Path) -> Result<DownReport> {
    let data = std::path::absolute(data_dir).map_err(io(data_dir))?;
    let marker = marker(&data);
    let mut report = DownReport::default();
    // The ticker first: it would fail its ticks once the chain is gone.
    for name in ["ticker", "ipfs", "node"] {
        let pid_file = data.join(format!("{name}.pid"));
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            continue;
        };
        match text.trim().parse::<u32>() {
            Ok(pid) if is_ours(pid, &marker) => {
                if !stop_group(pid, &marker, Duration::from_secs(10)) {
                    return Err(DevnetError::Io {
                        path: pid_file,
                        source: std::io::Error::other(format!(
                            "{name} (pid {pid}) survived SIGKILL"
                        )),
                    });
                }
                report.stopped.push(format!("{name} (pid {pid})"));
            }
            _ => report.already_stopped.push(name.into()),
        }
        std::fs::remove_file(&pid_file).map_err(io(&pid_file))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
