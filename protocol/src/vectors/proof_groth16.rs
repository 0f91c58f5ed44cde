//! `proof-groth16.json`: a Groth16 verifying key and proofs against it (SPEC.md §12). The
//! file is written by a test (`tests.rs`: the prover needs dev-dependencies).

use serde::{Deserialize, Serialize};

/// A Groth16 proof and its verifying key in bytes (`test-vectors/proof-groth16.json`,
/// SPEC.md §12). Written by a test (the prover needs dev-dependencies).
pub const PROOF_JSON: &str = include_str!("../../test-vectors/proof-groth16.json");

/// `proof-groth16.json`: one verifying key (one public input) and proofs against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofVectors {
    pub format: String,
    /// What the toy circuit states (the check of §12 does not depend on it).
    pub statement: String,
    /// The compressed verifying key, hex (`verifier::VK_LEN` bytes).
    pub verifying_key: String,
    pub cases: Vec<ProofCase>,
}

/// A proof, its public input, and what a verifier answers: `"accept"`, `"reject"` (valid
/// points, the pairing equation fails) or `"malformed"` (the bytes are not a proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofCase {
    pub name: String,
    pub proof: String,
    pub public_input: String,
    pub result: String,
}
