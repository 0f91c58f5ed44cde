//! The one seam between the typed contract API and a chain.
//!
//! Two backends implement [`ChainBackend`]: the node over RPC ([`crate::ChainClient`],
//! subxt) and the embedded chain (`merit-chain-embedded`: the node's own pallet-contracts
//! runtime, in-process). [`crate::Marketplace`] is written against this trait only, so a
//! contract refusal, a weight or an event reads the same on both.
//!
//! The split follows ink_e2e's `ChainBackend`/`ContractsBackend`: accounts and blocks on
//! one side, upload/instantiate/dry-run/call on the other; here one trait is enough.

use crate::client::{Signer, Weight};
use crate::error::Result;
use async_trait::async_trait;
use subxt::utils::AccountId32;

/// `pallet_contracts::ExecReturnValue`: the contract's flags and its own return bytes.
#[derive(parity_scale_codec::Decode, Debug, Clone, PartialEq, Eq)]
pub struct ExecReturn {
    pub flags: u32,
    pub data: Vec<u8>,
}

impl ExecReturn {
    pub fn reverted(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// What a dry-run reports.
#[derive(Debug, Clone)]
pub struct DryRun<T> {
    /// The gas (weight) the call needs, as `ContractsApi_call` reports it.
    pub gas_required: Weight,
    pub result: T,
}

/// One `Contracts::ContractEmitted` event: the emitting contract, the event record's
/// topics (the first is the ink! event's signature topic) and the SCALE payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractEvent {
    pub contract: AccountId32,
    pub topics: Vec<[u8; 32]>,
    pub data: Vec<u8>,
}

/// Which kind of chain a backend drives, for logs and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// pallet-contracts executed in this process (`merit-chain-embedded`).
    Embedded,
    /// A node reached over RPC (substrate-contracts-node or any pallet-contracts chain).
    Node,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Node => "node",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chain with pallet-contracts: accounts, blocks, and the contract calls Merit makes.
///
/// Writes are done once included in a block (each write builds one on the embedded chain,
/// as the dev node's instant seal does); reads are dry-runs at the current best block.
#[async_trait]
pub trait ChainBackend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// Number of the best block.
    async fn best_block_number(&self) -> Result<u32>;

    /// Free balance of `who` at the best block.
    async fn free_balance(&self, who: &AccountId32) -> Result<u128>;

    /// Dry-runs a contract call (`ContractsApi_call`); the contract's bytes come back
    /// untouched. A pallet-level failure is `ChainError::Dispatch`.
    async fn dry_run_call(
        &self,
        origin: &AccountId32,
        dest: &AccountId32,
        value: u128,
        input: Vec<u8>,
        what: &str,
    ) -> Result<DryRun<ExecReturn>>;

    /// Signs and applies `Contracts::call` with `gas` plus a margin; returns the
    /// contract events the call emitted, in order.
    async fn call(
        &self,
        signer: &Signer,
        dest: &AccountId32,
        value: u128,
        gas: Weight,
        input: Vec<u8>,
        what: &str,
    ) -> Result<Vec<ContractEvent>>;

    /// Uploads and instantiates `code` (`Contracts::instantiate_with_code`); returns the
    /// new contract's address.
    async fn instantiate_with_code(
        &self,
        signer: &Signer,
        code: &[u8],
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<AccountId32>;

    /// Lets `n` blocks pass (block-number deadlines are how the contract measures time).
    async fn advance_blocks(&self, signer: &Signer, n: u32) -> Result<()>;

    /// Sends `value` from `signer` to `to` (`Balances::transfer_keep_alive`): how a funded
    /// account pays for other accounts' stakes and fees (many trainers in a test, the
    /// weight benchmark).
    async fn transfer(&self, signer: &Signer, to: &AccountId32, value: u128) -> Result<()>;
}
