//! The setup ceremony from the command line (`merit ceremony`, issue #24): the flow around
//! the `merit-ceremony` crate, on files and on IPFS.
//!
//! Two kinds of file, each the crate's canonical encoding (arkworks compressed) and
//! nothing else:
//! - a **phase-1 transcript** (`Phase1Transcript`): the powers of tau for `2^power`
//!   points, every contribution and the final powers; one per domain size, shared by every
//!   circuit that fits it;
//! - a **transcript** (`Transcript`): a phase 1 and one circuit's phase 2 (every δ
//!   contribution and the final key). This is what a project's keys come from: it is
//!   self-contained, so anyone checks it from the file (or its CID) and the spec alone.
//!
//! Whoever receives a file verifies it before building on it ([`check_phase1`],
//! [`check_transcript`]); keys are only ever taken from a transcript that verified in
//! full ([`verified_keys`]): both phases have a contribution, every contribution's proof
//! of knowledge chains from the start, and the final key is the spec's round circuit's key
//! from phase 1. The round circuit is `merit_prover::round::RoundCircuit::blank` of the
//! spec's `RuleParams`, the circuit `merit_prover::round::setup_round` sets up.
//!
//! The module by job: `files` (a path or a CID; reading, writing, publishing, decoding),
//! `transcript` (circuits, each phase's checks, starts and contributions, keys from a
//! verified transcript), `create` (a new project's or proof shape's keys and what is
//! recorded), `recorded` (a recorded setup checked from chain + IPFS alone) and
//! `contribute` (a phase-2 contribution to a project's setup). Everything is used from
//! here: `ceremony::Source`, `ceremony::check_transcript`, … .

use merit_ceremony::{CeremonyError, Digest};

mod contribute;
mod create;
mod files;
mod recorded;
mod transcript;

pub use contribute::*;
pub use create::*;
pub use files::*;
pub use recorded::*;
pub use transcript::*;

/// The largest transcript fetched from IPFS (a 2^21 phase 1 with a phase 2 is under 1 GB).
pub const MAX_TRANSCRIPT_BYTES: usize = 2 << 30;

/// What the ceremony's commands refuse, naming the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyCliError {
    /// A file that cannot be read.
    #[error("reading {what}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file that cannot be written.
    #[error("writing {what}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Bytes that are not the kind of file asked for (or a point not in its group).
    #[error("{what} is not a {expected}{hint}")]
    Malformed {
        what: String,
        expected: &'static str,
        /// What the bytes are instead, where that is known (leading "; ").
        hint: String,
        #[source]
        source: CeremonyError,
    },
    /// A contribution, or a final state, fails a check: the error names the phase, the
    /// contribution (from 0) and the check.
    #[error("{what} does not verify")]
    Refused {
        what: String,
        #[source]
        source: CeremonyError,
    },
    /// A phase 2 run for another circuit than the spec's round circuit.
    #[error("{what} is phase 2 of another circuit, not of {circuit} (circuit digest {expected}, the transcript's {got})")]
    WrongCircuit {
        what: String,
        circuit: String,
        expected: String,
        got: String,
    },
    /// A transcript built on another phase 1 than the one the caller named.
    #[error("{what} is built on phase 1 {got}, not on the phase 1 given ({expected})")]
    OtherPhase1 {
        what: String,
        expected: String,
        got: String,
    },
    /// A phase with no contribution yet whose state is not the starting one: nobody
    /// proved knowledge of whatever secret changed it.
    #[error("{what} has no phase-{phase} contribution, yet its state is not the starting state")]
    NotFresh { what: String, phase: u8 },
    /// The circuit (the spec's round circuit) cannot be built.
    #[error("{circuit}: {message}")]
    Circuit { circuit: String, message: String },
    /// Deriving phase 2's start failed (phase 1 too small for the circuit, …).
    #[error("deriving the start of phase 2 for {circuit} from {what}")]
    Derive {
        what: String,
        circuit: String,
        #[source]
        source: CeremonyError,
    },
    /// A phase-1 size the ceremony does not support.
    #[error("phase 1 for 2^{power} points")]
    Power {
        power: u32,
        #[source]
        source: CeremonyError,
    },
    /// The IPFS daemon (to fetch a CID or publish a file).
    #[error("{what} in IPFS")]
    Ipfs {
        what: String,
        #[source]
        source: merit_storage::StorageError,
    },
    /// A project whose owner recorded no ceremony: its keys come from a setup somebody
    /// ran alone, who could forge every round.
    #[error("project {project}'s keys come from no recorded ceremony: whoever ran their setup could forge every round (its owner records one with `merit project create --ceremony`)")]
    NoSetupRecorded { project: u32 },
    /// A chunked project: its keys are its proof shape's, shared by every project of the
    /// shape, so they are re-randomised in the shape's own ceremony, not per project.
    #[error("project {project} is chunked: its keys are proof shape {shape}'s, shared by every project of that shape; contribute to the shape's ceremony before it is registered, not to a project")]
    ShapeKeys { project: u32, shape: u32 },
    /// A proof shape whose registrant recorded no ceremony: whoever ran its setup could
    /// forge every round of every project of the shape.
    #[error("proof shape {shape}'s keys come from no recorded ceremony: whoever ran its setup could forge every round of its projects (register one from a ceremony with `merit project create --chunk C --shape-ceremony CHUNK,DECISION`)")]
    NoShapeSetupRecorded { shape: u32 },
    /// A shape's recorded transcript verifies, but is not what the shape uses or records.
    #[error("proof shape {shape}'s recorded {circuit} transcript {cid} {problem}")]
    NotTheShapesKeys {
        shape: u32,
        circuit: &'static str,
        cid: String,
        problem: &'static str,
    },
    /// The recorded transcript verifies, but is not what the project uses or records.
    #[error("project {project}'s recorded transcript {cid} {problem}")]
    NotTheProjectsKeys {
        project: u32,
        cid: String,
        problem: &'static str,
    },
    /// The chain, to read the project or its setup record.
    #[error("reading project {project} from the chain")]
    Chain {
        project: u32,
        #[source]
        source: merit_chain::ChainError,
    },
    /// The chain, to read a proof shape's setup record.
    #[error("reading proof shape {shape}'s setup from the chain")]
    ShapeChain {
        shape: u32,
        #[source]
        source: merit_chain::ChainError,
    },
    /// The project's spec, to build its round circuit.
    #[error("project {project}'s spec")]
    Spec {
        project: u32,
        #[source]
        source: merit_trainer::node::NodeError,
    },
}

impl CeremonyCliError {
    /// A refusal of the user's input (a file that is missing or not what was asked for),
    /// as opposed to a transcript that does not verify or a failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::Read { .. } | Self::Malformed { .. })
    }
}

type Result<T, E = CeremonyCliError> = std::result::Result<T, E>;

/// Lower-case hex of a digest.
pub fn hex_digest(d: &Digest) -> String {
    hex::encode(d)
}

/// The 32 bytes of a digest printed by [`hex_digest`] (zeros if it is not one: never, for
/// a summary this module wrote).
fn digest_of_hex(hex_text: &str) -> Digest {
    let mut out = [0u8; 32];
    if let Ok(bytes) = hex::decode(hex_text) {
        if bytes.len() == 32 {
            out.copy_from_slice(&bytes);
        }
    }
    out
}

#[cfg(test)]
mod tests;
