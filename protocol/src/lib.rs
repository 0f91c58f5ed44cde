//! Merit's shared definitions. Everything that the contract, the chain client, the prover,
//! the trainer node and the aggregator must agree on bit for bit lives here, once:
//!
//! - [`abi`]: the contract's parameters, views, phases and errors (SCALE);
//! - [`limits`]: every shared size limit, with the arithmetic each keeps safe asserted;
//! - [`events`]: the contract's events, emitted by it and decoded by clients;
//! - [`fixed`]: f32 ↔ i16 fixed point with scale 2^-s;
//! - [`pack`]: 15 values per BN254 scalar-field element;
//! - [`poseidon`], [`commit`]: commitments and the round's public input;
//! - [`format`]: the Model / Update file;
//! - [`reward`]: payouts, forfeits, conservation;
//! - [`rule`]: the round rule (norm bound, Multi-Krum, mean, scores) in integers;
//! - [`answer`]: a set-aside's update posted on chain in pieces and opened (SPEC §11);
//! - [`chunked`]: chunked rounds (v4): chunk commitments, partial Gram sums, the
//!   chunk and decision proofs' public inputs;
//! - [`verifier`] (feature `groth16`): the contract's Groth16 check, key prepared once;
//! - [`setup_link`] (feature `groth16`): a phase-2 ceremony contribution's link, which the
//!   contract checks before it moves δ in a project's verifying key;
//! - `spec` (with `std`): the JSON `ProjectSpec`; `model` (with `std`): its model's layers,
//!   shapes and flat parameter order.
//!
//! The crate is `no_std` (with `alloc`) so the ink! contract can use it unchanged.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod abi;
pub mod answer;
pub mod chunked;
pub mod commit;
pub mod draw;
pub mod events;
pub mod fixed;
pub mod format;
pub mod limits;
#[cfg(feature = "std")]
pub mod model;
pub mod pack;
pub mod poseidon;
#[rustfmt::skip]
mod poseidon_constants;
#[rustfmt::skip]
mod poseidon_wide_constants;
pub mod reward;
pub mod rule;
#[cfg(feature = "groth16")]
pub mod setup_link;
#[cfg(feature = "std")]
pub mod spec;
#[cfg(feature = "std")]
pub mod vectors;
#[cfg(feature = "groth16")]
pub mod verifier;

pub use ark_bn254::Fr;
