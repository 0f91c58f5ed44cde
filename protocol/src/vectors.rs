//! Test vectors: inputs → quantised values → packed elements → commitments → the round's
//! public input, as JSON (`protocol/test-vectors/v1.json`). Every crate that must agree
//! with `protocol` without re-implementing it (the prover's gadgets, the contract) checks
//! itself against this file.

use crate::commit::{Commitment, Committer, RoundInputs};
use crate::{fixed, pack, poseidon};
use serde::{Deserialize, Serialize};

/// The committed file.
pub const V1_JSON: &str = include_str!("../test-vectors/v1.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vectors {
    pub format: String,
    pub poseidon: PoseidonParams,
    pub cases: Vec<Case>,
    pub round: Round,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoseidonParams {
    pub width: usize,
    pub rate: usize,
    pub full_rounds: usize,
    pub partial_rounds: usize,
    pub alpha: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub scale_bits: u8,
    pub floats: Vec<f32>,
    pub values: Vec<i16>,
    /// Packed elements, canonical little-endian hex.
    pub packed: Vec<String>,
    pub account: String,
    pub update_commitment: String,
    pub model_commitment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub project: u32,
    pub round: u32,
    pub prev_model: String,
    pub trainers: Vec<String>,
    pub updates: Vec<String>,
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    pub new_model: String,
    pub public_input: String,
}

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

/// Computes every derived field of the vectors from their inputs.
pub fn compute(
    inputs: &[(u8, Vec<f32>, [u8; 32])],
    round: (u32, u32, Vec<u32>, Vec<bool>),
) -> Vectors {
    let c = Committer::new();
    let cases: Vec<Case> = inputs
        .iter()
        .map(|(s, floats, account)| {
            let values = fixed::quantise_all(floats, *s).expect("finite inputs");
            Case {
                scale_bits: *s,
                floats: floats.clone(),
                packed: pack::pack(&values)
                    .iter()
                    .map(|e| hex32(&poseidon::to_bytes(e)))
                    .collect(),
                account: hex32(account),
                update_commitment: hex32(&c.commit_update(account, &values).0),
                model_commitment: hex32(&c.commit_model(&values).0),
                values,
            }
        })
        .collect();
    let updates: Vec<Commitment> = cases
        .iter()
        .map(|k| parse_commitment(&k.update_commitment))
        .collect();
    let prev = parse_commitment(&cases[0].model_commitment);
    let new = parse_commitment(&cases[cases.len() - 1].model_commitment);
    let trainers: Vec<[u8; 32]> = inputs.iter().map(|(_, _, a)| *a).collect();
    let (project, round_no, scores, accepted) = round;
    let inputs = RoundInputs {
        project,
        round: round_no,
        prev_model: prev,
        trainers: &trainers,
        updates: &updates,
        scores: &scores,
        accepted: &accepted,
        new_model: new,
    };
    let public_input = c.round_public_input(&inputs).expect("consistent round");
    Vectors {
        format: "merit test vectors v1".into(),
        poseidon: PoseidonParams {
            width: poseidon::RATE + poseidon::CAPACITY,
            rate: poseidon::RATE,
            full_rounds: poseidon::FULL_ROUNDS,
            partial_rounds: poseidon::PARTIAL_ROUNDS,
            alpha: poseidon::ALPHA,
        },
        round: Round {
            project,
            round: round_no,
            prev_model: hex32(&prev.0),
            trainers: trainers.iter().map(hex32).collect(),
            updates: updates.iter().map(|u| hex32(&u.0)).collect(),
            scores,
            accepted,
            new_model: hex32(&new.0),
            public_input: hex32(&poseidon::to_bytes(&public_input)),
        },
        cases,
    }
}

/// The inputs of v1.json.
pub fn v1_inputs() -> (
    Vec<(u8, Vec<f32>, [u8; 32])>,
    (u32, u32, Vec<u32>, Vec<bool>),
) {
    let mut account = [0u8; 32];
    account
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    let cases = vec![
        (10, vec![], [0u8; 32]),
        (10, vec![0.0, 0.5, -0.5, 1.0, -1.0], account),
        (
            12,
            (0..15).map(|i| i as f32 / 100.0 - 0.07).collect(),
            [0xab; 32],
        ),
        (
            8,
            (0..47)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 3.0)
                .collect(),
            account,
        ),
        (
            15,
            vec![0.999, -1.0, 2.0, -3.0, 1e-6, -1e-6, 0.000_015_258_789],
            [0xff; 32],
        ),
    ];
    (
        cases,
        (
            7,
            2,
            vec![1000, 0, 731, 0, 12],
            vec![true, false, true, false, true],
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_vectors_match_this_build() {
        let (inputs, round) = v1_inputs();
        let want = compute(&inputs, round);
        let have: Vectors = serde_json::from_str(V1_JSON).expect("v1.json parses");
        assert_eq!(
            have, want,
            "protocol output changed: commitments are frozen for format v1"
        );
    }

    /// Rewrites v1.json: `cargo test -p merit-protocol -- --ignored write_vectors`.
    #[test]
    #[ignore]
    fn write_vectors() {
        let (inputs, round) = v1_inputs();
        let v = compute(&inputs, round);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/v1.json");
        std::fs::write(path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    }
}
