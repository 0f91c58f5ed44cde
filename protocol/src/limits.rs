//! Every size limit the parties share, in one place, each with the arithmetic it keeps safe
//! checked by the compiler (`const` assertions below): change a limit and the build says
//! which argument broke. The other modules re-export the limits they use, so
//! `abi::MAX_SLOTS`, `rule::MAX_DIM`, `chunked::MAX_CHUNK` and `format::MAX_PARAMS` are
//! these.
//!
//! Values are `i16` (SPEC §3): `|v| ≤ 2^15`. The rule computes in `i64` (SPEC §6), the
//! contract's balances are `u128`.

/// Most trainer slots a project may have; bounds storage and the circuit shape (N).
pub const MAX_SLOTS: u32 = 64;
/// Largest model the rule (and the single round circuit) supports (D).
pub const MAX_DIM: usize = 1 << 20;
/// Largest chunk of a chunked round (C).
pub const MAX_CHUNK: usize = 1 << 16;
/// 16 Mi parameters in a model file: far above what a round circuit can prove, far below a
/// memory hazard.
pub const MAX_PARAMS: u64 = 1 << 24;
/// Largest fixed-point scale exponent: with s = 15, values in [-1, 1) are representable.
pub const MAX_SCALE_BITS: u8 = 15;
/// Longest CID the contract stores (a CIDv1 base32 string is ~60 bytes).
pub const MAX_CID_LEN: usize = 128;
/// Most rounds a project may run.
pub const MAX_ROUNDS: u32 = 1_000;
/// Longest phase, in blocks (about 70 days at 6 s blocks).
pub const MAX_PHASE_BLOCKS: u32 = 1_000_000;
/// Largest stake or bond a project may ask (2^96 ≈ 7.9e28): above the total issuance of
/// any Substrate chain in use, so a larger one could never be paid and would make a project
/// nobody can join or bond.
pub const MAX_DEPOSIT: u128 = 1 << 96;
/// Most trainers one `trainers` read returns: a page of `TrainerView`s (49 bytes each)
/// stays within ink!'s 16 KiB return buffer; clients page through any number joined.
pub const TRAINERS_PER_PAGE: u32 = 128;
/// Highest contribution score of one trainer in one round (⌊1000 × cos⌋).
pub const MAX_ROUND_SCORE: u32 = 1_000;

/// `|v| ≤ 2^15` for an `i16` value.
const VALUE: u128 = 1 << 15;

/// `2^bits` as `u128`, for the bounds below.
const fn pow2(bits: u32) -> u128 {
    1 << bits
}

// The rule in i64 (rule.rs): a squared norm `‖u‖² ≤ D·2^30`, below 2^50;
const _: () = assert!(MAX_DIM as u128 * VALUE * VALUE <= pow2(50));
// the sum of the slots' updates `|S_j| ≤ N·2^15`, so `‖S‖² ≤ D·N²·2^30`, below 2^62;
const _: () = assert!(MAX_DIM as u128 * (MAX_SLOTS as u128 * VALUE).pow(2) <= pow2(62));
// `|⟨u_i, S⟩| ≤ D·2^15·N·2^15`, below 2^56;
const _: () = assert!(MAX_DIM as u128 * VALUE * MAX_SLOTS as u128 * VALUE <= pow2(56));
// and all of it inside i64 with room for the sums the rule forms from them.
const _: () = assert!(pow2(62) < i64::MAX as u128);

// Chunked rounds: a chunk's partial Gram entry `|Σ_c u_ic·u_kc| ≤ C·2^30`, below 2^46, and
// a total over the chunks is an entry of the whole Gram matrix (≤ 2^50 above); a chunk is
// never longer than the largest model.
const _: () = assert!(MAX_CHUNK as u128 * VALUE * VALUE <= pow2(46));
const _: () = assert!(MAX_CHUNK <= MAX_DIM);

// A model file may be larger than one round circuit proves (chunked rounds), never smaller.
const _: () = assert!(MAX_PARAMS >= MAX_DIM as u64);

// The contract's escrow: the pool, `N` stakes and a bond, each at most MAX_DEPOSIT, sum
// far inside u128, so no checked addition of deposits can fail for a valid project.
const _: () = assert!((MAX_SLOTS as u128 + 2) * MAX_DEPOSIT < u128::MAX / 2);

// A round's scores: N slots of at most MAX_ROUND_SCORE over MAX_ROUNDS rounds fit u32.
const _: () =
    assert!(MAX_SLOTS as u64 * MAX_ROUND_SCORE as u64 * MAX_ROUNDS as u64 <= u32::MAX as u64);
