//! `merit-chain`: the one place that speaks to the chain.
//!
//! * [`backend`] is the seam: [`ChainBackend`] is implemented by the node client here
//!   and by the embedded chain (`merit-chain-embedded`); the typed API sits on top.
//! * [`bundle`] reads cargo-contract's `.contract` artifact (wasm + ABI selectors).
//! * [`client`] wraps subxt: dry-runs (`ContractsApi_call`) to read, signed extrinsics
//!   to write, and decodes pallet-contracts results without a generated runtime API.
//! * [`marketplace`] is the typed API of our contract; the rest of Merit calls this and
//!   never builds a selector or decodes a byte itself.

pub mod backend;
pub mod bundle;
pub mod client;
pub mod error;
pub mod marketplace;
pub mod units;

pub use backend::{BackendKind, ChainBackend, ContractEvent, DryRun, ExecReturn};
pub use bundle::ContractBundle;
pub use client::{account_of, dev_signer, ChainClient, Finality, Signer, Weight, DEV_ACCOUNTS};
pub use error::{with_causes, ChainError, FeeShortfall};
pub use marketplace::{Answered, Marketplace};
pub use subxt::utils::AccountId32;
pub use units::Units;
