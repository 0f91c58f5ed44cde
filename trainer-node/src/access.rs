//! The two services the node uses, as traits: the marketplace contract and the content
//! store. The real implementations are `merit_chain::Marketplace` and
//! `merit_storage::IpfsStore` (below); tests drive the same node code with in-memory fakes.

use crate::{TrainerError, UpdatePublisher};
use merit_chain::{AccountId32, Answered, ChainError, Marketplace, Signer};
use merit_protocol::abi::{ProjectView, SlotView, TrainerView};
use merit_protocol::commit::Commitment;
use merit_storage::{parse_cid, IpfsStore, StorageError};
use std::future::Future;

/// The part of the marketplace's typed API a trainer calls (same names and meaning as
/// `merit_chain::Marketplace`).
pub trait MarketAccess {
    fn project(&self, id: u32) -> impl Future<Output = Result<ProjectView, ChainError>>;
    /// The trainer `account` joined `project` as, if it did.
    fn trainer_of(
        &self,
        project: u32,
        account: &[u8; 32],
    ) -> impl Future<Output = Result<Option<TrainerView>, ChainError>>;
    fn round_slots(
        &self,
        project: u32,
        round: u32,
    ) -> impl Future<Output = Result<Vec<SlotView>, ChainError>>;
    fn join(
        &self,
        signer: &Signer,
        project: u32,
        stake: u128,
    ) -> impl Future<Output = Result<u32, ChainError>>;
    fn commit_update(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        commitment: Commitment,
    ) -> impl Future<Output = Result<(), ChainError>>;
    fn reveal_update(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        cid: &[u8],
    ) -> impl Future<Output = Result<(), ChainError>>;
    fn claimable(
        &self,
        project: u32,
        account: &AccountId32,
    ) -> impl Future<Output = Result<u128, ChainError>>;
    fn claim(
        &self,
        signer: &Signer,
        project: u32,
    ) -> impl Future<Output = Result<u128, ChainError>>;
    /// Posts `values`, the update `slot` committed to in `round`, against its set-aside
    /// (whole, or in chunks of `chunk` for a chunked project).
    fn answer_set_aside(
        &self,
        signer: &Signer,
        project: u32,
        round_and_slot: (u32, u32),
        values: &[i16],
        chunk: Option<usize>,
    ) -> impl Future<Output = Result<Answered, ChainError>>;
}

impl MarketAccess for Marketplace {
    fn project(&self, id: u32) -> impl Future<Output = Result<ProjectView, ChainError>> {
        Marketplace::project(self, id)
    }
    fn trainer_of(
        &self,
        project: u32,
        account: &[u8; 32],
    ) -> impl Future<Output = Result<Option<TrainerView>, ChainError>> {
        Marketplace::trainer_of(self, project, account)
    }
    fn round_slots(
        &self,
        project: u32,
        round: u32,
    ) -> impl Future<Output = Result<Vec<SlotView>, ChainError>> {
        Marketplace::round_slots(self, project, round)
    }
    fn join(
        &self,
        signer: &Signer,
        project: u32,
        stake: u128,
    ) -> impl Future<Output = Result<u32, ChainError>> {
        Marketplace::join(self, signer, project, stake)
    }
    fn commit_update(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        commitment: Commitment,
    ) -> impl Future<Output = Result<(), ChainError>> {
        Marketplace::commit_update(self, signer, project, round, commitment)
    }
    fn reveal_update(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        cid: &[u8],
    ) -> impl Future<Output = Result<(), ChainError>> {
        Marketplace::reveal_update(self, signer, project, round, cid)
    }
    fn claimable(
        &self,
        project: u32,
        account: &AccountId32,
    ) -> impl Future<Output = Result<u128, ChainError>> {
        Marketplace::claimable(self, project, account)
    }
    fn claim(
        &self,
        signer: &Signer,
        project: u32,
    ) -> impl Future<Output = Result<u128, ChainError>> {
        Marketplace::claim(self, signer, project)
    }
    fn answer_set_aside(
        &self,
        signer: &Signer,
        project: u32,
        (round, slot): (u32, u32),
        values: &[i16],
        chunk: Option<usize>,
    ) -> impl Future<Output = Result<Answered, ChainError>> {
        Marketplace::answer_set_aside(self, signer, project, (round, slot), values, chunk)
    }
}

/// Content-addressed storage: publish pinned, fetch bounded.
pub trait BlobStore {
    /// Stores `bytes` pinned; returns the CID (as text) to reveal.
    fn publish(&self, bytes: Vec<u8>) -> impl Future<Output = Result<String, TrainerError>>;
    /// The content of `cid`, refused past `limit` bytes.
    fn fetch(&self, cid: &str, limit: usize)
        -> impl Future<Output = Result<Vec<u8>, StorageError>>;
}

impl BlobStore for IpfsStore {
    async fn publish(&self, bytes: Vec<u8>) -> Result<String, TrainerError> {
        let cid = UpdatePublisher::new(self.clone(), crate::node::MAX_FILE_BYTES)
            .publish(bytes)
            .await?;
        Ok(cid.to_string())
    }

    async fn fetch(&self, cid: &str, limit: usize) -> Result<Vec<u8>, StorageError> {
        self.get(&parse_cid(cid)?, limit).await
    }
}
