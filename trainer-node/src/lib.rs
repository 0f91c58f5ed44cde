//! `merit-trainer`: the trainer node.
//!
//! First slice: publishing an update. The node puts its update file into IPFS pinned,
//! checks the daemon really holds the pin, and gets back the CID it will reveal on chain.
//! Local training with candle and the commit/reveal loop come with the trainer-node issue.

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

    #[tokio::test]
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
