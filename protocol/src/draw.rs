//! The draw (SPEC.md §13, v1): which of the `J` trainers who joined a project fill a
//! round's `N` slots, from a 32-byte seed, and the round's seed itself.
//!
//! [`draw`] hashes a counter `i = 0, 1, …` with the seed and `J`,
//! `h_i = H(TAG_DRAW, seed_lo, seed_hi, J, i)` (the narrow Poseidon sponge of
//! [`crate::poseidon::hash`]), reads the low 64 bits of `h_i` as `x`, rejects `x` at or above
//! the largest multiple of `J` that fits in 64 bits (so `x mod J` has no modulo bias),
//! skips trainers already drawn, and stops at `N` distinct trainers: slot `k` is the
//! `k`-th distinct trainer drawn. It never walks the `J` trainers, so it costs `O(N)`
//! hashes in expectation (`J·(H_J − H_{J−N})` with `H` the harmonic numbers: `N` and a
//! little for `J ≫ N`, about 245 at worst, 64 slots among 65),
//! and a draw of `N` slots is the first `N` slots of a draw of more. With `J ≤ N`
//! everybody is drawn, in join order, without hashing.
//!
//! [`round_seed`] chains a project's seeds: `seed_r = H(TAG_SEED, project, round,
//! seed_{r−1}, entropy)`. What the contract feeds it, and what that lets a trainer steer,
//! is on [`round_seed`].
//!
//! Poseidon, not SHA-256, because the contract, the simulation and every client already
//! link it from this crate (`no_std`, no host function, no new dependency). A candidate
//! hashes 5 elements, 3 narrow permutations: a draw of 64 slots from many trainers is about
//! 200.

use crate::limits::MAX_SLOTS;
use crate::poseidon;
use alloc::vec::Vec;
use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::PoseidonConfig;
use ark_ff::PrimeField;

/// The draw's candidates: `H(TAG_DRAW, seed_lo, seed_hi, J, i)`.
pub const TAG_DRAW: &str = "merit/draw/v1";
/// A round's seed: `H(TAG_SEED, project, round, prev_lo, prev_hi, len, entropy…)`.
pub const TAG_SEED: &str = "merit/seed/v1";
/// The most candidates one draw hashes before it gives up ([`DrawError::Exhausted`]).
/// A draw needs more only with probability below 2^-128 (the worst case, 64 of 65, needs
/// about 245 on average), so this bounds the contract's cost without ever being reached.
pub const MAX_CANDIDATES: u64 = 4096;
/// Entropy is absorbed in pieces of this many bytes, each read as a LE integer.
pub const ENTROPY_PIECE: usize = 16;

/// A draw's seed (any 32 bytes; [`round_seed`] gives canonical field-element encodings).
pub type Seed = [u8; 32];

/// Why a draw is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawError {
    /// More slots than a round can have ([`MAX_SLOTS`]).
    TooManySlots { slots: u32, max: u32 },
    /// [`MAX_CANDIDATES`] candidates gave fewer than `slots` distinct trainers (probability
    /// below 2^-128 for any seed nobody searched for it).
    Exhausted { drawn: u32, slots: u32 },
}

impl core::fmt::Display for DrawError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooManySlots { slots, max } => {
                write!(f, "a draw of {slots} slots: a round has at most {max}")
            }
            Self::Exhausted { drawn, slots } => write!(
                f,
                "{MAX_CANDIDATES} candidates drew only {drawn} of {slots} distinct trainers"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DrawError {}

/// The seed's two halves as field elements, low half first (as an account, SPEC §3.2).
fn halves(seed: &Seed) -> [Fr; 2] {
    [
        Fr::from_le_bytes_mod_order(&seed[..16]),
        Fr::from_le_bytes_mod_order(&seed[16..]),
    ]
}

/// `h_i = H(TAG_DRAW, seed_lo, seed_hi, J, i)` and its low 64 bits (bytes 0..8 of its
/// 32-byte LE encoding).
fn candidate_value(config: &PoseidonConfig<Fr>, seed: &[Fr; 2], joined: u32, i: u64) -> u64 {
    let h = poseidon::hash(
        config,
        &[
            poseidon::domain_tag(TAG_DRAW),
            seed[0],
            seed[1],
            Fr::from(joined),
            Fr::from(i),
        ],
    );
    let bytes = poseidon::to_bytes(&h);
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Whether `x`, a uniform `bits`-bit value, names a trainer among `joined`: `x mod J` when
/// `x` is below the largest multiple of `J` that fits in `bits` bits, `2^bits − (2^bits mod
/// J)`, else `None` (rejected), so that every trainer has the same number of values. The
/// draw uses `bits = 64`; the tests also run it narrower, where modulo bias shows.
fn accept_bits(x: u64, joined: u32, bits: u32) -> Option<u32> {
    let range = 1u128 << bits;
    let bound = range - range % u128::from(joined);
    (u128::from(x) < bound).then(|| (x % u64::from(joined)) as u32)
}

fn accept(x: u64, joined: u32) -> Option<u32> {
    accept_bits(x, joined, 64)
}

/// Candidate `i` of a draw among `joined` trainers: the trainer it names, or `None` when
/// its 64-bit value is rejected (or `joined` is 0). Repeats are not filtered here.
pub fn candidate(seed: &Seed, joined: u32, i: u64) -> Option<u32> {
    if joined == 0 {
        return None;
    }
    let x = candidate_value(&poseidon::config(), &halves(seed), joined, i);
    accept(x, joined)
}

/// The `slots` trainers (indices in join order, `0..joined`) who fill a round's slots, slot
/// `k` first; see the module. `joined ≤ slots`: all of them, in join order (none when
/// `joined` or `slots` is 0).
pub fn draw(seed: &Seed, joined: u32, slots: u32) -> Result<Vec<u32>, DrawError> {
    Ok(draw_counted(seed, joined, slots)?.0)
}

/// [`draw`] and how many candidates it hashed (0 when it drew everybody).
pub fn draw_counted(seed: &Seed, joined: u32, slots: u32) -> Result<(Vec<u32>, u64), DrawError> {
    if slots > MAX_SLOTS {
        return Err(DrawError::TooManySlots {
            slots,
            max: MAX_SLOTS,
        });
    }
    if joined <= slots {
        return Ok(((0..joined).collect(), 0));
    }
    let config = poseidon::config();
    let halves = halves(seed);
    let mut out: Vec<u32> = Vec::with_capacity(slots as usize);
    let mut i = 0u64;
    while out.len() < slots as usize {
        if i == MAX_CANDIDATES {
            return Err(DrawError::Exhausted {
                drawn: out.len() as u32,
                slots,
            });
        }
        let x = candidate_value(&config, &halves, joined, i);
        i += 1;
        if let Some(t) = accept(x, joined) {
            // At most 64 drawn: a linear scan beats any set.
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    Ok((out, i))
}

/// Round `round`'s seed for project `project`: `H(TAG_SEED, project, round, prev_lo,
/// prev_hi, len(entropy), e_0, e_1, …)` as its 32-byte encoding (SPEC §3.1), where
/// `prev_lo`/`prev_hi` are `previous`'s halves read as LE integers and `e_k` is entropy
/// bytes `16k .. 16k + 16` read as a LE integer (the last piece may be shorter).
///
/// What the contract feeds it (`marketplace::draw_round`, SPEC §13): `previous` is the
/// previous round's seed (32 zero bytes for round 0); `entropy` is the initial model
/// commitment for round 0, and for a later round the public input of the round before it as
/// recorded. No block number, so a message's draw and gas do not depend on the block it
/// lands in.
///
/// What that lets someone steer:
/// - Nobody can pick a later round's outcome: the public input binds every revealed update,
///   which the others' commitments hide until the reveal phase, so a committer cannot grind
///   its commitment, and the aggregator's outcome is proven.
/// - The last revealer sees the others' reveals and can compute the seed with and without
///   its own: withholding re-rolls the draw, one bit of choice per forfeited stake (`k`
///   colluding last revealers: `2^k` seeds for `k` stakes).
/// - Round 0's seed is known at creation: whoever knows when joining stops can see which
///   join positions round 0 draws, and a joiner can aim for one; round 0 only.
pub fn round_seed(project: u32, round: u32, previous: &Seed, entropy: &[u8]) -> Seed {
    let config = poseidon::config();
    let mut sponge = poseidon::Sponge::new(&config);
    let [lo, hi] = halves(previous);
    for x in [
        poseidon::domain_tag(TAG_SEED),
        Fr::from(project),
        Fr::from(round),
        lo,
        hi,
        Fr::from(entropy.len() as u64),
    ] {
        sponge.absorb(&config, &x);
    }
    for piece in entropy.chunks(ENTROPY_PIECE) {
        sponge.absorb(&config, &Fr::from_le_bytes_mod_order(piece));
    }
    poseidon::to_bytes(&sponge.finish(&config))
}

#[cfg(test)]
mod tests;
