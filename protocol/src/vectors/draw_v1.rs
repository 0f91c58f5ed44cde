//! `draw-v1.json`: round seeds and draws (protocol/SPEC.md §13), with each draw's
//! candidates and the rejection rule at its edges.

use super::{hex32, hex_encode};
use crate::draw::{self, Seed};
use crate::poseidon;
use ark_bn254::Fr;
use ark_ff::PrimeField;
use serde::{Deserialize, Serialize};

/// Round seeds and draws (protocol/SPEC.md §13).
pub const DRAW_V1_JSON: &str = include_str!("../../test-vectors/draw-v1.json");

/// At most this many of a draw's candidates are listed.
pub const LISTED_CANDIDATES: u64 = 20;

/// `draw-v1.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawVectors {
    pub format: String,
    /// `TAG_DRAW`, `TAG_SEED` (the strings; §3.2 makes them field elements).
    pub tag_draw: String,
    pub tag_seed: String,
    pub seeds: Vec<SeedCase>,
    pub acceptance: Vec<AcceptCase>,
    pub draws: Vec<DrawCase>,
}

/// `round_seed(project, round, previous, entropy) = seed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedCase {
    pub name: String,
    pub project: u32,
    pub round: u32,
    pub previous: String,
    /// Any number of bytes, hex.
    pub entropy: String,
    pub seed: String,
}

/// The rejection rule alone: a 64-bit value (a decimal string: JSON numbers lose bits
/// above 2^53) and the trainer it names among `joined`, `null` when rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptCase {
    pub joined: u32,
    pub value: String,
    pub trainer: Option<u32>,
}

/// One draw: the slots' trainers in slot order, how many candidates it hashed, and its
/// first [`LISTED_CANDIDATES`] candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawCase {
    pub name: String,
    pub seed: String,
    pub joined: u32,
    pub slots: u32,
    pub drawn: Vec<u32>,
    /// Candidates hashed (0 when `joined ≤ slots`: everybody, in join order).
    pub tries: u64,
    pub candidates: Vec<CandidateCase>,
}

/// Candidate `i`: `h_i` (§3.1 hex), its low 64 bits (decimal string) and the trainer
/// they name (`null`: rejected); a repeat is listed like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateCase {
    pub i: u64,
    pub hash: String,
    pub value: String,
    pub trainer: Option<u32>,
}

fn seed_case(name: &str, project: u32, round: u32, previous: &Seed, entropy: &[u8]) -> SeedCase {
    SeedCase {
        name: name.into(),
        project,
        round,
        previous: hex32(previous),
        entropy: hex_encode(entropy),
        seed: hex32(&draw::round_seed(project, round, previous, entropy)),
    }
}

/// `h_i`, written out from §13 rather than through `draw`'s private helper.
fn candidate_hash(seed: &Seed, joined: u32, i: u64) -> [u8; 32] {
    let inputs = [
        poseidon::domain_tag(draw::TAG_DRAW),
        Fr::from_le_bytes_mod_order(&seed[..16]),
        Fr::from_le_bytes_mod_order(&seed[16..]),
        Fr::from(u64::from(joined)),
        Fr::from(i),
    ];
    poseidon::to_bytes(&poseidon::hash(&poseidon::config(), &inputs))
}

fn draw_case(name: &str, seed: &Seed, joined: u32, slots: u32) -> DrawCase {
    let (drawn, tries) = draw::draw_counted(seed, joined, slots).expect("a valid draw");
    let candidates = (0..tries.min(LISTED_CANDIDATES))
        .map(|i| {
            let hash = candidate_hash(seed, joined, i);
            let value = u64::from_le_bytes(hash[..8].try_into().expect("8 bytes"));
            let trainer = draw::candidate(seed, joined, i);
            assert_eq!(
                trainer,
                Some((value % u64::from(joined)) as u32).filter(|_| {
                    let range = 1u128 << 64;
                    u128::from(value) < range - range % u128::from(joined)
                }),
                "§13's rule"
            );
            CandidateCase {
                i,
                hash: hex32(&hash),
                value: value.to_string(),
                trainer,
            }
        })
        .collect();
    DrawCase {
        name: name.into(),
        seed: hex32(seed),
        joined,
        slots,
        drawn,
        tries,
        candidates,
    }
}

/// The rejection rule's edges: the largest accepted and the smallest rejected value for a
/// few `J` (`2^64 mod J` of them are rejected; none for a power of two).
fn acceptance_cases() -> Vec<AcceptCase> {
    let mut out = Vec::new();
    for joined in [1u32, 3, 10, 1 << 20, 1_000_003, 3 << 30, u32::MAX] {
        let rem = ((1u128 << 64) % u128::from(joined)) as u64;
        let first_rejected = 0u64.wrapping_sub(rem);
        let mut values = vec![0, 1, u64::from(joined), u64::MAX];
        if rem != 0 {
            values.extend([first_rejected - 1, first_rejected]);
        }
        for value in values {
            let accepted = rem == 0 || value < first_rejected;
            out.push(AcceptCase {
                joined,
                value: value.to_string(),
                trainer: accepted.then(|| (value % u64::from(joined)) as u32),
            });
        }
    }
    out
}

/// The file's cases: seeds without and with entropy (pieces of 16 bytes, a short last
/// piece), the simulation's first seeds, and draws from the smallest to the largest `J`,
/// the worst case (64 of 65), prefixes, and the named edges (`J ≤ N`, `N = 0`, `J = 0`).
pub fn draw_vectors() -> DrawVectors {
    let zero = [0u8; 32];
    let first = draw::round_seed(1, 0, &zero, &[]);
    // Two revealed commitments and a block number, as the contract will fold them.
    let mut entropy = Vec::new();
    entropy.extend((0u8..32).map(|b| b.wrapping_mul(7)));
    entropy.extend((0u8..32).map(|b| 0xff - b));
    entropy.extend(1234u32.to_le_bytes());
    let second = draw::round_seed(1, 1, &first, &entropy);
    // `merit simulate --seed 1 --per-round K`'s rounds 0 and 1.
    let sim0 = draw::round_seed(0, 0, &zero, &1u64.to_le_bytes());
    let sim1 = draw::round_seed(0, 1, &sim0, &1u64.to_le_bytes());
    let seeds = vec![
        seed_case(
            "a first round: zero previous seed, no entropy",
            1,
            0,
            &zero,
            &[],
        ),
        seed_case(
            "the next round: 64 + 4 bytes of entropy (a 4-byte last piece)",
            1,
            1,
            &first,
            &entropy,
        ),
        seed_case(
            "16 bytes of entropy: one whole piece",
            9,
            5,
            &second,
            &[0xab; 16],
        ),
        seed_case(
            "17 bytes of entropy: a 1-byte last piece",
            9,
            5,
            &second,
            &[0xab; 17],
        ),
        seed_case(
            "one zero byte of entropy (the length frames it)",
            9,
            5,
            &second,
            &[0],
        ),
        seed_case(
            "the simulation's round 0 (seed 1)",
            0,
            0,
            &zero,
            &1u64.to_le_bytes(),
        ),
        seed_case(
            "the simulation's round 1 (seed 1)",
            0,
            1,
            &sim0,
            &1u64.to_le_bytes(),
        ),
        seed_case(
            "large project and round numbers",
            u32::MAX,
            u32::MAX,
            &[0xff; 32],
            &[0xff; 40],
        ),
    ];
    let draws = vec![
        draw_case("3 of 10", &first, 10, 3),
        draw_case("2 of 3", &first, 3, 2),
        draw_case(
            "10 of 100, the simulation's round 0 (one repeat skipped)",
            &sim0,
            100,
            10,
        ),
        draw_case("10 of 100, the simulation's round 1", &sim1, 100, 10),
        draw_case("64 of 65: the worst case", &second, 65, 64),
        draw_case("64 of 1000", &second, 1000, 64),
        draw_case("8 of 1000, a prefix of the 64", &second, 1000, 8),
        draw_case("10 of 1,000,000", &second, 1_000_000, 10),
        draw_case("64 of 2^32 − 1", &[0xff; 32], u32::MAX, 64),
        draw_case("J = N: everybody, in join order", &first, 5, 5),
        draw_case("J < N: everybody, in join order", &first, 3, 8),
        draw_case("N = 0: nobody", &first, 1000, 0),
        draw_case("J = 0: nobody", &first, 0, 4),
    ];
    DrawVectors {
        format: "merit draw vectors v1".into(),
        tag_draw: draw::TAG_DRAW.into(),
        tag_seed: draw::TAG_SEED.into(),
        seeds,
        acceptance: acceptance_cases(),
        draws,
    }
}
