//! The aggregator's typed errors. Each keeps its source so a caller can act on it.

use merit_chain::ChainError;
use merit_protocol::abi::MarketError;
use merit_protocol::format::FormatError;
use merit_protocol::rule::RuleError;
use merit_protocol::spec::SpecError;
use merit_protocol::verifier::VerifierError;
use merit_prover::keys::KeyError;
use merit_prover::round::RoundError;
use merit_prover::ProverError;
use merit_storage::StorageError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    /// Boxed: subxt's error is large, and this enum travels through every `?`.
    #[error("chain")]
    Chain(#[source] Box<ChainError>),
    #[error("IPFS, {what}")]
    Storage {
        what: String,
        #[source]
        source: StorageError,
    },
    #[error("{what} is not a valid Merit model file")]
    Format {
        what: String,
        #[source]
        source: FormatError,
    },
    #[error("{what}: {problem}")]
    BadFile { what: String, problem: String },
    #[error("the project spec {cid}")]
    Spec {
        cid: String,
        #[source]
        source: SpecError,
    },
    #[error("the spec's round shape does not fit the project: {0}")]
    Shape(String),
    #[error("the spec's rule parameters")]
    RuleParams(#[source] RuleError),
    #[error("the proving key at {cid}")]
    ProvingKey {
        cid: String,
        #[source]
        source: KeyError,
    },
    #[error("the proving key at {cid} is not for the verifying key stored on chain")]
    KeyMismatch { cid: String },
    #[error("the verifying key on chain")]
    VerifyingKey(#[source] VerifierError),
    #[error("the current model {cid} does not open the model commitment on chain")]
    ModelMismatch { cid: String },
    #[error("the chunked statement")]
    Chunking(#[source] merit_protocol::chunked::ChunkError),
    #[error("building the round witness")]
    Witness(#[source] RoundError),
    #[error("proving the round")]
    Prove(#[source] ProverError),
    #[error(
        "this node's account is not project {project}'s aggregator ({})",
        ss58_of_hex(aggregator)
    )]
    NotOurProject { project: u32, aggregator: String },
    #[error(
        "slot {slot} counts as present on chain but its update did not open (set it aside first)"
    )]
    Unopened { slot: u32 },
    #[error("round {round} of project {project} is not finalised")]
    NotFinalized { project: u32, round: u32 },
    #[error("state file {path}")]
    StateIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path}")]
    StateJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("round report")]
    Report(#[source] serde_json::Error),
    #[error("the validation evaluator failed")]
    Evaluator(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = AggregatorError> = std::result::Result<T, E>;

impl From<ChainError> for AggregatorError {
    fn from(e: ChainError) -> Self {
        Self::Chain(Box::new(e))
    }
}

/// An account given as 64 hex digits, as SS58 (as the CLI names accounts everywhere).
fn ss58_of_hex(account: &str) -> String {
    let mut bytes = [0u8; 32];
    match hex::decode_to_slice(account.trim_start_matches("0x"), &mut bytes) {
        Ok(()) => merit_chain::AccountId32(bytes).to_string(),
        Err(_) => account.to_string(),
    }
}

impl AggregatorError {
    /// This error and each of its causes, once each (`a: b: c`), for a log line: the
    /// `Display` of an error leaves its cause to `source()`.
    pub fn with_causes(&self) -> String {
        merit_chain::with_causes(self)
    }

    pub(crate) fn storage(what: impl Into<String>) -> impl FnOnce(StorageError) -> Self {
        let what = what.into();
        move |source| Self::Storage { what, source }
    }

    /// Worth retrying later: the node or the IPFS daemon did not answer, or the chain
    /// dropped a transaction. Everything else (a wrong key, a bad spec, a contract
    /// refusal) will fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Chain(c) => matches!(
                **c,
                ChainError::Connect { .. } | ChainError::Rpc(_) | ChainError::Dispatch { .. }
            ),
            Self::Storage { source, .. } => matches!(source, StorageError::Unreachable { .. }),
            _ => false,
        }
    }

    /// The contract's refusal, if this is one.
    pub fn market_error(&self) -> Option<MarketError> {
        match self {
            Self::Chain(c) => match **c {
                ChainError::Contract { error, .. } => Some(error),
                _ => None,
            },
            _ => None,
        }
    }
}
