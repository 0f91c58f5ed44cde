//! `merit-trainer`: the trainer node.
//!
//! - [`access`]: the marketplace and the content store as traits (real: `Marketplace`,
//!   `IpfsStore`), so the node is tested with in-memory fakes;
//! - [`data`]: the plain CSV a trainer trains on; the owner's IID / Dirichlet split;
//! - [`fetch`]: the UCI digits out of scikit-learn's wheel, checksum-pinned;
//! - [`learner`]: the [`learner::Learner`] seam and [`learner::CandleModel`] (candle, CPU);
//! - [`behaviour`]: simulated misbehaviour (label-flip, scale, copy, …), for tests only;
//! - [`state`]: the restart-safe state file and the pure commit/reveal decision;
//! - [`node`]: the flow on chain + IPFS ([`node::TrainerNode`], [`node::run_trainer`]);
//! - [`bench`]: central training of the spec's model (`merit bench train`);
//! - [`UpdatePublisher`]: puts an update file into IPFS pinned and checks the pin.

pub mod access;
pub mod behaviour;
pub mod bench;
pub mod data;
pub mod fetch;
pub mod learner;
pub mod node;
pub mod state;

use merit_storage::{Cid, IpfsStore, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    #[error("the update is empty: there is nothing to publish")]
    EmptyUpdate,
    #[error("the update is {len} bytes; the limit is {limit}")]
    UpdateTooLarge { len: usize, limit: usize },
    #[error("IPFS accepted {cid} but does not list it as pinned; it could be garbage-collected before the aggregator fetches it")]
    NotPinned { cid: Cid },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Publishes update files for one trainer.
pub struct UpdatePublisher {
    store: IpfsStore,
    max_update_bytes: usize,
}

impl UpdatePublisher {
    pub fn new(store: IpfsStore, max_update_bytes: usize) -> Self {
        Self {
            store,
            max_update_bytes,
        }
    }

    /// Adds `update` to IPFS, pinned, and returns the CID to reveal.
    pub async fn publish(&self, update: Vec<u8>) -> Result<Cid, TrainerError> {
        if update.is_empty() {
            return Err(TrainerError::EmptyUpdate);
        }
        if update.len() > self.max_update_bytes {
            return Err(TrainerError::UpdateTooLarge {
                len: update.len(),
                limit: self.max_update_bytes,
            });
        }
        let cid = self.store.add(update).await?;
        if !self.store.is_pinned(&cid).await? {
            return Err(TrainerError::NotPinned { cid });
        }
        tracing::info!(%cid, "update published");
        Ok(cid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn empty_and_oversized_updates_are_refused_before_any_upload() {
        // Port 9 (discard) on loopback is never an IPFS daemon: the checks must fire first.
        let p = UpdatePublisher::new(IpfsStore::new("http://127.0.0.1:9").unwrap(), 4);
        assert!(matches!(
            p.publish(vec![]).await,
            Err(TrainerError::EmptyUpdate)
        ));
        assert!(matches!(
            p.publish(vec![1; 5]).await,
            Err(TrainerError::UpdateTooLarge { len: 5, limit: 4 })
        ));
    }
}
