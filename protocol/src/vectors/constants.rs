//! `poseidon-bn254-t3.json` and `poseidon-bn254-t17.json`: every constant of the two
//! Poseidon permutations and a few bare hashes, for re-implementers (protocol/SPEC.md).

use super::hex32;
use crate::poseidon;
use serde::{Deserialize, Serialize};

/// Poseidon's constants and a few bare hashes, for re-implementers (protocol/SPEC.md).
pub const POSEIDON_JSON: &str = include_str!("../../test-vectors/poseidon-bn254-t3.json");
/// The same for the wide sponge of vector commitments.
pub const POSEIDON_WIDE_JSON: &str = include_str!("../../test-vectors/poseidon-bn254-t17.json");

/// `poseidon-bn254-t3.json` / `-t17.json`: every constant of the permutation, as canonical 32-byte
/// little-endian hex, and example hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoseidonConstants {
    /// The BN254 scalar field modulus r, decimal.
    pub modulus: String,
    pub width: usize,
    pub rate: usize,
    pub capacity: usize,
    pub full_rounds: usize,
    pub partial_rounds: usize,
    pub alpha: u64,
    /// One row of `width` round constants per round, `full_rounds + partial_rounds` rows.
    pub ark: Vec<Vec<String>>,
    /// `mds[i][j]`: new `state[i] = Σ_j mds[i][j] · state[j]`.
    pub mds: Vec<Vec<String>>,
    pub examples: Vec<HashExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashExample {
    pub inputs: Vec<String>,
    pub hash: String,
}

/// Computes `poseidon-bn254-t3.json` from the compiled constants.
pub fn poseidon_constants() -> PoseidonConstants {
    constants_of(&poseidon::config(), poseidon::PARTIAL_ROUNDS)
}

/// Computes `poseidon-bn254-t17.json` from the compiled constants.
pub fn poseidon_wide_constants() -> PoseidonConstants {
    constants_of(&poseidon::wide::config(), poseidon::wide::PARTIAL_ROUNDS)
}

fn constants_of(
    c: &ark_crypto_primitives::sponge::poseidon::PoseidonConfig<crate::Fr>,
    partial_rounds: usize,
) -> PoseidonConstants {
    use ark_ff::PrimeField;
    let row =
        |r: &alloc::vec::Vec<crate::Fr>| r.iter().map(|x| hex32(&poseidon::to_bytes(x))).collect();
    let examples = [
        &[][..],
        &[1u64][..],
        &[1, 2][..],
        &[1, 2, 3][..],
        &[1, 2, 3, 0][..],
        &(1..=17).collect::<alloc::vec::Vec<u64>>()[..],
        &(1..=33).collect::<alloc::vec::Vec<u64>>()[..],
    ]
    .iter()
    .map(|xs| {
        let fs: alloc::vec::Vec<crate::Fr> = xs.iter().map(|&x| crate::Fr::from(x)).collect();
        HashExample {
            inputs: fs.iter().map(|x| hex32(&poseidon::to_bytes(x))).collect(),
            hash: hex32(&poseidon::to_bytes(&poseidon::hash(c, &fs))),
        }
    })
    .collect();
    PoseidonConstants {
        modulus: crate::Fr::MODULUS.to_string(),
        width: c.rate + c.capacity,
        rate: c.rate,
        capacity: c.capacity,
        full_rounds: c.full_rounds,
        partial_rounds,
        alpha: c.alpha,
        ark: c.ark.iter().map(row).collect(),
        mds: c.mds.iter().map(row).collect(),
        examples,
    }
}
