//! The library behind the `merit` binary: devnet management, contract builds and the demo.
//! End-to-end tests drive the same code the user runs.

pub mod accounts;
pub mod ceremony;
pub mod chain;
pub mod contract;
pub mod devnet;
pub mod env;
pub mod network;
pub mod owner;
pub mod process;
pub mod project;
pub mod report;
/// The simulation engine lives in its own crate (`sim/`); the CLI only wires it.
pub use merit_sim as simulate;
pub mod story;
pub mod ticker;
pub mod tools;
pub mod validation;
