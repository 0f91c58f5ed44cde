//! Which chain a run uses: the embedded chain (the node's pallet-contracts runtime,
//! in-process) or a substrate-contracts-node, and a deployed marketplace on it.

use crate::{contract, tools};
use merit_chain::{dev_signer, ChainBackend, ContractBundle, Marketplace};
use merit_chain_embedded::EmbeddedChain;
use std::path::Path;
use std::sync::Arc;

/// The chain a run asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainChoice {
    /// In-process pallet-contracts; nothing to install or start.
    Embedded,
    /// substrate-contracts-node, started on loopback (`merit devnet`).
    Node,
}

impl ChainChoice {
    /// `MERIT_CHAIN=embedded|node` if set; otherwise the node where it is installed and
    /// the embedded chain where it is not.
    pub fn from_env() -> Result<Self, String> {
        match crate::env::chain().as_deref() {
            Some("embedded") => Ok(Self::Embedded),
            Some("node") => Ok(Self::Node),
            Some(other) => Err(format!(
                "MERIT_CHAIN={other}: expected `embedded` or `node`"
            )),
            None if tools::node_bin(None).is_ok() => Ok(Self::Node),
            None => Ok(Self::Embedded),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Node => "node",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChainSetupError {
    #[error(transparent)]
    Contract(#[from] contract::ContractBuildError),
    #[error(transparent)]
    Chain(#[from] merit_chain::ChainError),
}

/// A fresh embedded chain with the marketplace deployed (by alice) from `bundle`, or else
/// the bundle every command deploys (`contract::default_bundle`). A committed bundle whose
/// sources changed since is still deployed, with a warning: the unit test
/// `committed_bundle_matches_its_sources` is what refuses it before anything lands.
pub async fn embedded_marketplace(
    bundle: Option<&Path>,
) -> Result<(Arc<EmbeddedChain>, Marketplace), ChainSetupError> {
    let path = match bundle {
        Some(p) => p.to_path_buf(),
        None => {
            if let contract::Freshness::Stale { .. } = contract::freshness()? {
                eprintln!(
                    "warning: the committed contract bundle predates its sources; \
                     run `merit contract build`"
                );
            }
            contract::default_bundle()
        }
    };
    let bundle = Arc::new(ContractBundle::load(&path)?);
    let chain = Arc::new(EmbeddedChain::new());
    let backend: Arc<dyn ChainBackend> = chain.clone();
    let alice = dev_signer("alice")?;
    let market = Marketplace::deploy(backend, bundle, &alice, b"merit".to_vec()).await?;
    Ok((chain, market))
}
