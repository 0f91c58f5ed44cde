//! `merit-chain`: the one place that speaks to the chain.
//!
//! * [`bundle`] reads cargo-contract's `.contract` artifact (wasm + ABI selectors).
//! * [`client`] wraps subxt: dry-runs (`ContractsApi_call`) to read, signed extrinsics
//!   to write, and decodes pallet-contracts results without a generated runtime API.
//! * [`marketplace`] is the typed API of our contract; the rest of Merit calls this and
//!   never builds a selector or decodes a byte itself.

pub mod bundle;
pub mod client;
pub mod error;
pub mod marketplace;

pub use bundle::ContractBundle;
pub use client::{dev_signer, ChainClient, Signer, DEV_ACCOUNTS};
pub use error::ChainError;
pub use marketplace::Marketplace;
pub use subxt::utils::AccountId32;
