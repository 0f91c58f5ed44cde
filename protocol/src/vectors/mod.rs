//! Test vectors: inputs → quantised values → packed elements → commitments → the round's
//! public input, as JSON (`protocol/test-vectors/v3.json`). Every crate that must agree
//! with `protocol` without re-implementing it (the prover's gadgets, the contract) checks
//! itself against this file.
//!
//! One module per committed file under `protocol/test-vectors/`, each with the file's
//! `include_str!` text, its serde types and the function that computes it from this build
//! (a test compares the two; an ignored test rewrites the file):
//!
//! - `v3` (`v3.json`): commitments and round hashes (protocol v3);
//! - `constants` (`poseidon-bn254-t3.json`, `-t17.json`): the Poseidon constants;
//! - `rule_v2` (`rule-v2.json`): the round rule's intermediates;
//! - `rule_v5` (`rule-v5.json`): protocol v5's rule over two-round sequences;
//! - `params_v2` (`params-v2.json`): the rule's parameters from a spec;
//! - `v4` (`v4.json`): chunked rounds (protocol v4);
//! - `round_v3` (`round-v3.json`): `v4.json`'s round as a v3 project proves it;
//! - `round_v5` (`round-v5.json`): `rule-v5.json`'s cases as a v5 project proves them;
//! - `file_v1` (`file-v1.json`): the Model/Update file;
//! - `proof_groth16` (`proof-groth16.json`): Groth16 bytes (its generator is a test);
//! - `draw_v1` (`draw-v1.json`): round seeds and draws (SPEC.md §13).
//!
//! The modules are private: every item is used from here (`vectors::Vectors`,
//! `vectors::V4_JSON`, …).

use crate::commit::Commitment;

mod constants;
mod draw_v1;
mod file_v1;
mod params_v2;
mod proof_groth16;
mod round_v3;
mod round_v5;
mod rule_v2;
mod rule_v5;
mod v3;
mod v4;

pub use constants::*;
pub use draw_v1::*;
pub use file_v1::*;
pub use params_v2::*;
pub use proof_groth16::*;
pub use round_v3::*;
pub use round_v5::*;
pub use rule_v2::*;
pub use rule_v5::*;
pub use v3::*;
pub use v4::*;

pub fn hex32(bytes: &[u8; 32]) -> String {
    hex_encode(bytes)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn parse_commitment(s: &str) -> Commitment {
    Commitment(parse_hex32(s).expect("64 hex digits"))
}

#[cfg(test)]
mod tests;
