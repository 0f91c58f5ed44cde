//! Merit's shared definitions. Everything that the contract, the chain client, the prover,
//! the trainer node and the aggregator must agree on bit for bit lives here, once.
//!
//! The crate is `no_std` (with `alloc`) so the ink! contract can use it unchanged.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod abi;
