//! `merit-aggregator`: the round aggregator.
//!
//! First slice: fetching revealed updates. A revealed CID comes from the chain, so it is
//! untrusted input: it is parsed strictly and fetched with a hard size bound. Checking the
//! update against its commitment, the outlier filter, aggregation, scores and the proof
//! come with the aggregator and prover issues.

use merit_storage::{parse_cid, IpfsStore, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    #[error("slot {slot}: {source}")]
    Fetch {
        slot: usize,
        #[source]
        source: StorageError,
    },
}

/// Fetches the update revealed by `slot` as `cid`, refusing more than `max_bytes`.
pub async fn fetch_update(
    store: &IpfsStore,
    slot: usize,
    cid: &str,
    max_bytes: usize,
) -> Result<Vec<u8>, AggregatorError> {
    let wrap = |source| AggregatorError::Fetch { slot, source };
    let cid = parse_cid(cid).map_err(wrap)?;
    store.get(&cid, max_bytes).await.map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_revealed_cid_names_the_slot_and_the_cid() {
        let store = IpfsStore::new("http://127.0.0.1:9").unwrap();
        let e = fetch_update(&store, 3, "Qm-not-a-cid", 1024)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("slot 3") && e.contains("Qm-not-a-cid"), "{e}");
    }
}
