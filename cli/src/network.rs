//! Where a command finds the chain, the marketplace and IPFS: the devnet (`devnet.json`),
//! or any pallet-contracts chain named by `--url`, `--contract` and `--ipfs-api`.
//!
//! The flags are global and each has an environment variable, so a config file holding
//! `url`, `contract` and `ipfs-api` (`--config testnet.toml`, or a `[networks.NAME]` table
//! chosen with `--network NAME`) is a named network. What `merit contract deploy` deploys
//! is recorded in `<data dir>/deployments.json`, and `--url` alone then finds its
//! marketplace there.

use crate::devnet::{DevnetError, DevnetInfo};
use merit_chain::{AccountId32, ChainBackend, ChainClient, ContractBundle, Finality, Marketplace};
use merit_chain_embedded::EmbeddedChain;
use merit_storage::IpfsStore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The deployments file in a data directory.
pub const DEPLOYMENTS_FILE: &str = "deployments.json";

/// The endpoint flags, as parsed (each also from its environment variable or the config).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Endpoints {
    /// The chain: `ws://…` / `wss://…` (a node's RPC), or `embedded:PATH` (an embedded
    /// chain kept in that file); default: the devnet's
    #[arg(long, global = true, env = "MERIT_URL", value_name = "URL")]
    pub url: Option<String>,
    /// The marketplace's address (SS58) on that chain; default: the devnet's, or the last
    /// one `merit contract deploy` recorded for --url
    #[arg(long, global = true, env = "MERIT_CONTRACT", value_name = "ADDR")]
    pub contract: Option<String>,
    /// The IPFS daemon's RPC API; default: the devnet's
    #[arg(long, global = true, env = "MERIT_IPFS_API", value_name = "URL")]
    pub ipfs_api: Option<String>,
    /// With --url: a write is done once its block is the best one, or once finalised
    #[arg(long, global = true, env = "MERIT_FINALITY", value_name = "best|finalized", default_value_t = Finality::Best)]
    pub finality: Finality,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "this command needs --url (ws://…, wss://… or embedded:PATH); the devnet deploys its own"
    )]
    NoUrl,
    #[error("--url {0}: expected ws://, wss:// or embedded:PATH")]
    BadUrl(String),
    #[error("--contract {address}: not an SS58 address ({reason})")]
    BadContract { address: String, reason: String },
    #[error(
        "no marketplace on {url}: pass --contract ADDR (or deploy one with \
         `merit contract deploy --url {url} --from KEY`)"
    )]
    NoContract { url: String },
    #[error("no IPFS daemon given for --url {url}: pass --ipfs-api URL (or MERIT_IPFS_API)")]
    NoIpfs { url: String },
    #[error(
        "no Merit marketplace answers at {address} on {url} (a wrong --contract, another \
         chain, or a contract of another version)"
    )]
    NotAMarketplace {
        url: String,
        address: String,
        #[source]
        source: Box<merit_chain::ChainError>,
    },
    #[error("{path}: {reason}")]
    BadDeployments { path: PathBuf, reason: String },
    #[error(transparent)]
    Devnet(Box<DevnetError>),
    #[error(transparent)]
    Chain(#[from] merit_chain::ChainError),
    #[error(transparent)]
    Storage(#[from] merit_storage::StorageError),
    #[error(transparent)]
    Build(#[from] crate::contract::ContractBuildError),
    #[error("I/O on {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

type Result<T, E = NetworkError> = std::result::Result<T, E>;

/// Boxed: a devnet error is large, and every `Result` here stays small.
impl From<DevnetError> for NetworkError {
    fn from(e: DevnetError) -> Self {
        Self::Devnet(Box::new(e))
    }
}

/// A chain endpoint: a node's RPC, or an embedded chain's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainUrl {
    Rpc(String),
    Embedded(PathBuf),
}

impl ChainUrl {
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("embedded:") {
            if path.is_empty() {
                return Err(NetworkError::BadUrl(url.into()));
            }
            let path = std::path::absolute(path).map_err(|source| NetworkError::Io {
                path: path.into(),
                source,
            })?;
            return Ok(Self::Embedded(path));
        }
        if url.starts_with("ws://") || url.starts_with("wss://") {
            return Ok(Self::Rpc(url.into()));
        }
        Err(NetworkError::BadUrl(url.into()))
    }

    /// The form recorded and compared: `ws…` as given, `embedded:` with an absolute path.
    pub fn canonical(&self) -> String {
        match self {
            Self::Rpc(u) => u.clone(),
            Self::Embedded(p) => format!("embedded:{}", p.display()),
        }
    }

    /// Connects (a node, whose writes wait for `finality`) or opens (an embedded chain's
    /// file, created when missing; its writes are final at once).
    pub async fn connect(&self, finality: Finality) -> Result<Arc<dyn ChainBackend>> {
        Ok(match self {
            Self::Rpc(u) => Arc::new(ChainClient::connect(u).await?.with_finality(finality)),
            Self::Embedded(p) => Arc::new(EmbeddedChain::open(p)?),
        })
    }
}

/// One `merit contract deploy`, as `deployments.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    /// The chain, canonical (see [`ChainUrl::canonical`]).
    pub url: String,
    /// SS58.
    pub address: String,
    pub code_hash: String,
    pub block: u32,
    /// Who paid for it (SS58).
    pub deployer: String,
}

/// Every deployment recorded in `data_dir`, oldest first (none when the file is absent).
pub fn deployments(data_dir: &Path) -> Result<Vec<Deployment>> {
    let path = data_dir.join(DEPLOYMENTS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(NetworkError::Io { path, source }),
    };
    serde_json::from_str(&text).map_err(|e| NetworkError::BadDeployments {
        path,
        reason: e.to_string(),
    })
}

/// Appends `d` to `data_dir`'s deployments (written whole, then renamed into place).
pub fn record_deployment(data_dir: &Path, d: &Deployment) -> Result<()> {
    let mut all = deployments(data_dir)?;
    all.push(d.clone());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NetworkError::Io { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let path = data_dir.join(DEPLOYMENTS_FILE);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(&all).expect("deployments serialise");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

/// Where a command runs: its data directory and the endpoint flags, resolved on use (a
/// command that never talks to a chain never needs a devnet).
#[derive(Debug, Clone)]
pub struct At {
    pub data_dir: PathBuf,
    pub endpoints: Endpoints,
}

impl At {
    pub fn new(data_dir: impl Into<PathBuf>, endpoints: Endpoints) -> Self {
        Self {
            data_dir: data_dir.into(),
            endpoints,
        }
    }

    /// The chain given by `--url`, if any.
    pub fn chain_url(&self) -> Result<Option<ChainUrl>> {
        self.endpoints
            .url
            .as_deref()
            .map(ChainUrl::parse)
            .transpose()
    }

    /// The marketplace: on `--url`'s chain at `--contract` (or the last one deployed there
    /// from this data dir), else on the devnet (its own contract unless `--contract`).
    pub async fn marketplace(&self) -> Result<Marketplace> {
        let Some(url) = self.chain_url()? else {
            let info = DevnetInfo::read(&self.data_dir)?;
            return match &self.endpoints.contract {
                None => Ok(info.marketplace().await?),
                Some(address) => {
                    let account = parse_address(address)?;
                    let client = info.backend().await?;
                    let url = info
                        .node
                        .as_ref()
                        .map(|n| n.rpc_url.clone())
                        .unwrap_or_else(|| "the devnet".into());
                    checked_marketplace(client, &url, address, account).await
                }
            };
        };
        let canonical = url.canonical();
        let address = match &self.endpoints.contract {
            Some(a) => a.clone(),
            None => deployments(&self.data_dir)?
                .into_iter()
                .rev()
                .find(|d| d.url == canonical)
                .map(|d| d.address)
                .ok_or_else(|| NetworkError::NoContract {
                    url: canonical.clone(),
                })?,
        };
        let account = parse_address(&address)?;
        checked_marketplace(
            url.connect(self.endpoints.finality).await?,
            &canonical,
            &address,
            account,
        )
        .await
    }

    /// The IPFS daemon: `--ipfs-api`, else the devnet's (with `--url`, it must be given).
    pub fn ipfs(&self) -> Result<IpfsStore> {
        if let Some(api) = &self.endpoints.ipfs_api {
            return Ok(IpfsStore::new(api)?);
        }
        if let Some(url) = self.chain_url()? {
            return Err(NetworkError::NoIpfs {
                url: url.canonical(),
            });
        }
        Ok(DevnetInfo::read(&self.data_dir)?.ipfs()?)
    }
}

/// The committed bundle's marketplace at `address`, checked to answer a getter so that a
/// wrong address fails here, by name, and not at the first call.
async fn checked_marketplace(
    client: Arc<dyn ChainBackend>,
    url: &str,
    address: &str,
    account: AccountId32,
) -> Result<Marketplace> {
    let bundle = Arc::new(ContractBundle::load(&crate::contract::default_bundle())?);
    let reader = merit_chain::client::account_of(&merit_chain::client::dev_signer("alice")?);
    let market = Marketplace::at(client, bundle, account, reader);
    market
        .project_count()
        .await
        .map_err(|source| NetworkError::NotAMarketplace {
            url: url.into(),
            address: address.into(),
            source: Box::new(source),
        })?;
    Ok(market)
}

fn parse_address(address: &str) -> Result<AccountId32> {
    address.parse().map_err(|e| NetworkError::BadContract {
        address: address.into(),
        reason: format!("{e:?}"),
    })
}

/// What `merit contract deploy` did.
#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    #[serde(flatten)]
    pub deployment: Deployment,
    /// Where it was recorded.
    pub recorded_in: PathBuf,
}

/// Uploads and instantiates the committed bundle on `url`'s chain from `signer`, and
/// records it in `data_dir`'s deployments.
pub async fn deploy(
    data_dir: &Path,
    url: &ChainUrl,
    finality: Finality,
    signer: &merit_chain::Signer,
) -> Result<Deployed> {
    let bundle_path = crate::contract::default_bundle();
    let bundle = Arc::new(ContractBundle::load(&bundle_path)?);
    let client = url.connect(finality).await?;
    let salt: [u8; 16] = rand::random();
    let market = Marketplace::deploy(client.clone(), bundle.clone(), signer, salt.to_vec()).await?;
    let deployment = Deployment {
        url: url.canonical(),
        address: market.address().to_string(),
        code_hash: format!("0x{}", hex::encode(bundle.code_hash)),
        block: client.best_block_number().await?,
        deployer: merit_chain::client::account_of(signer).to_string(),
    };
    record_deployment(data_dir, &deployment)?;
    Ok(Deployed {
        deployment,
        recorded_in: data_dir.join(DEPLOYMENTS_FILE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_a_node_or_an_embedded_file() {
        assert_eq!(
            ChainUrl::parse("ws://127.0.0.1:9944").unwrap(),
            ChainUrl::Rpc("ws://127.0.0.1:9944".into())
        );
        assert!(matches!(
            ChainUrl::parse("wss://rpc.example.org").unwrap(),
            ChainUrl::Rpc(_)
        ));
        let ChainUrl::Embedded(p) = ChainUrl::parse("embedded:chain.state").unwrap() else {
            panic!("embedded")
        };
        assert!(p.is_absolute() && p.ends_with("chain.state"));
        for bad in ["http://127.0.0.1:9944", "127.0.0.1:9944", "embedded:", ""] {
            let e = ChainUrl::parse(bad).unwrap_err();
            assert!(e.to_string().contains("expected ws://"), "{bad}: {e}");
        }
    }

    #[test]
    fn deployments_are_appended_and_found_by_url() {
        let dir = tempfile::tempdir().unwrap();
        assert!(deployments(dir.path()).unwrap().is_empty());
        let d = |url: &str, address: &str| Deployment {
            url: url.into(),
            address: address.into(),
            code_hash: "0x00".into(),
            block: 1,
            deployer: "alice".into(),
        };
        record_deployment(dir.path(), &d("ws://a", "A1")).unwrap();
        record_deployment(dir.path(), &d("ws://b", "B1")).unwrap();
        record_deployment(dir.path(), &d("ws://a", "A2")).unwrap();
        let all = deployments(dir.path()).unwrap();
        assert_eq!(all.len(), 3);
        let last_a = all.iter().rev().find(|x| x.url == "ws://a").unwrap();
        assert_eq!(last_a.address, "A2");

        std::fs::write(dir.path().join(DEPLOYMENTS_FILE), "{not json").unwrap();
        let e = deployments(dir.path()).unwrap_err();
        assert!(e.to_string().contains(DEPLOYMENTS_FILE), "{e}");
    }

    #[tokio::test]
    async fn with_url_but_no_contract_or_ipfs_the_error_names_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let at = At::new(
            dir.path(),
            Endpoints {
                url: Some("ws://127.0.0.1:1".into()),
                ..Default::default()
            },
        );
        let Err(e) = at.marketplace().await else {
            panic!("no contract")
        };
        assert!(e.to_string().contains("pass --contract"), "{e}");
        let Err(e) = at.ipfs() else { panic!("no ipfs") };
        assert!(e.to_string().contains("--ipfs-api"), "{e}");
        let at = At::new(
            dir.path(),
            Endpoints {
                url: Some("ws://127.0.0.1:1".into()),
                contract: Some("not-an-address".into()),
                ..Default::default()
            },
        );
        let Err(e) = at.marketplace().await else {
            panic!("bad address")
        };
        assert!(e.to_string().contains("not-an-address"), "{e}");
    }
}
