//! `merit-aggregator`: the round aggregator.
//!
//! For each round of a project it reads the chain (`round_slots`), fetches every revealed
//! update from IPFS with a size bound, checks it strictly against its on-chain commitment
//! (`check`), sets aside what does not open, runs the rule the circuit proves (`rules`),
//! proves the round (`merit_prover`), publishes the new model and a round report
//! (`report`) to IPFS and finalises on chain (`round`). `node::run_aggregator` is the
//! long-running node; `state` makes it restart-safe; `verify` recomputes a finalised
//! round from chain + IPFS alone. See `aggregator/README.md`.
//!
//! The crate never constructs a `Marketplace`: callers pass one in.

pub mod bench;
pub mod check;
pub mod error;
pub mod node;
pub mod project;
pub mod report;
pub mod round;
pub mod rules;
pub mod state;
pub mod verify;

pub use check::{FetchPolicy, SetAsideReason};
pub use error::AggregatorError;
pub use node::{run_aggregator, NodeSummary};
pub use project::ProjectContext;
pub use report::{Evaluator, RoundReport, Validation};
pub use round::{Aggregator, AggregatorConfig, Prepare, PreparedRound, RoundDone, RoundStep};
pub use rules::{FedAvg, Median, ProvenRule, Reputation, Rule, RuleOutcome, TrimmedMean};
pub use verify::{verify_round, ItemStatus, VerifyItem, VerifyOptions, VerifyReport};
