//! Poseidon over the BN254 scalar field, in two widths: the narrow sponge hashes the
//! round's public input (the contract computes it, so it stays cheap to run in wasm), the
//! wide one commits to vectors (protocol v3: the circuit rebuilds those commitments for
//! every parameter of every slot, and a wide sponge costs about a third of the narrow
//! one's constraints per absorbed element: 38.3 against 121.5).
//!
//! Narrow parameters (fixed since format version 1):
//! - state width t = 3: rate 2, capacity 1; S-box x^5 (alpha = 5);
//! - 8 full rounds and 57 partial rounds (the Poseidon paper's choice for 128-bit security
//!   at t = 3 over a 254-bit field, as used by circomlib);
//! - round constants and MDS matrix from the reference Grain LFSR
//!   (`find_poseidon_ark_and_mds::<Fr>(254, 2, 8, 57, 0)` in ark-crypto-primitives 0.5 and 0.6, whose Grain LFSR is the same).
//!
//! Wide parameters ([`wide`], since protocol v3): t = 17 (rate 16, capacity 1), x^5,
//! 8 full and 68 partial rounds (circomlib's choice for t = 17), constants from the same
//! Grain LFSR (`find_poseidon_ark_and_mds::<Fr>(254, 16, 8, 68, 0)`).
//!
//! The constants are compiled in (poseidon_constants.rs, poseidon_wide_constants.rs) so
//! the contract never spends gas regenerating them (it links only the narrow ones); a test
//! checks they equal the Grain LFSR output. The sponge itself is ark-crypto-primitives'
//! `PoseidonSponge`; its R1CS twin is the prover's own `gadgets::poseidon`, built from the
//! very same configs and tested against this one.

use crate::poseidon_constants::{ARK, MDS};
use alloc::vec::Vec;
use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::PoseidonConfig;
use ark_ff::{BigInteger, Field, PrimeField};

pub const FULL_ROUNDS: usize = 8;
pub const PARTIAL_ROUNDS: usize = 57;
pub const ALPHA: u64 = 5;
pub const RATE: usize = 2;
pub const CAPACITY: usize = 1;

fn fr(limbs: &[u64; 4]) -> Fr {
    Fr::from_bigint(ark_ff::BigInt(*limbs)).expect("constants are canonical")
}

/// A configuration of width `T` (capacity 1, x^5) from compiled constants.
fn config_of<const T: usize>(
    partial_rounds: usize,
    ark: &[[[u64; 4]; T]],
    mds: &[[[u64; 4]; T]],
) -> PoseidonConfig<Fr> {
    let rows = |m: &[[[u64; 4]; T]]| -> Vec<Vec<Fr>> {
        m.iter().map(|row| row.iter().map(fr).collect()).collect()
    };
    PoseidonConfig::new(
        FULL_ROUNDS,
        partial_rounds,
        ALPHA,
        rows(mds),
        rows(ark),
        T - CAPACITY,
        CAPACITY,
    )
}

/// The narrow configuration: the round's public input.
pub fn config() -> PoseidonConfig<Fr> {
    config_of(PARTIAL_ROUNDS, &ARK, &MDS)
}

/// The wide sponge of vector commitments (protocol v3).
pub mod wide {
    use super::{config_of, Fr, PoseidonConfig};
    use crate::poseidon_wide_constants::{ARK, MDS};

    pub const FULL_ROUNDS: usize = super::FULL_ROUNDS;
    pub const PARTIAL_ROUNDS: usize = 68;
    pub const RATE: usize = 16;

    /// The wide configuration: commitments to models and updates.
    pub fn config() -> PoseidonConfig<Fr> {
        config_of(PARTIAL_ROUNDS, &ARK, &MDS)
    }
}

/// Absorbs `inputs` in order and squeezes one element. The sponge does not pad: callers
/// must frame their input so that no two messages differ only by trailing zeros (every
/// Merit hash starts with a domain tag and carries its lengths).
///
/// The same duplex sponge as ark-crypto-primitives' `PoseidonSponge` (a test holds them
/// equal), written so that it allocates only its state, once: the contract runs on a bump
/// allocator that never frees, and the sponge's permutation allocates a vector in every
/// round, which a chunked round's few hundred permutations would run out of memory on.
pub fn hash(config: &PoseidonConfig<Fr>, inputs: &[Fr]) -> Fr {
    let mut sponge = Sponge::new(config);
    for x in inputs {
        sponge.absorb(config, x);
    }
    sponge.finish(config)
}

/// The sponge of [`hash`] one element at a time, whose state can be stored between calls
/// ([`Sponge::save`], [`Sponge::resume`]): the contract absorbs a long vector over several
/// calls when no single call can carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sponge {
    state: Vec<Fr>,
    scratch: Vec<Fr>,
    /// Elements already absorbed into the current block, as the sponge's Absorbing mode.
    filled: usize,
}

impl Sponge {
    pub fn new(config: &PoseidonConfig<Fr>) -> Self {
        let width = config.rate + config.capacity;
        Self {
            state: alloc::vec![Fr::from(0u64); width],
            scratch: alloc::vec![Fr::from(0u64); width],
            filled: 0,
        }
    }

    /// A sponge saved by [`Sponge::save`]; `None` if the state does not fit `config` or an
    /// element is not canonical.
    pub fn resume(config: &PoseidonConfig<Fr>, state: &[[u8; 32]], filled: u32) -> Option<Self> {
        let width = config.rate + config.capacity;
        let filled = filled as usize;
        if state.len() != width || filled > config.rate {
            return None;
        }
        let state = state.iter().map(from_bytes).collect::<Option<Vec<_>>>()?;
        Some(Self {
            state,
            scratch: alloc::vec![Fr::from(0u64); width],
            filled,
        })
    }

    /// The state to store: each element's canonical bytes, and the block's fill.
    pub fn save(&self) -> (Vec<[u8; 32]>, u32) {
        (
            self.state.iter().map(to_bytes).collect(),
            self.filled as u32,
        )
    }

    pub fn absorb(&mut self, config: &PoseidonConfig<Fr>, x: &Fr) {
        if self.filled == config.rate {
            permute(config, &mut self.state, &mut self.scratch);
            self.filled = 0;
        }
        self.state[config.capacity + self.filled] += x;
        self.filled += 1;
    }

    /// Squeezes the one output element.
    pub fn finish(mut self, config: &PoseidonConfig<Fr>) -> Fr {
        permute(config, &mut self.state, &mut self.scratch);
        self.state[config.capacity]
    }
}

/// The Poseidon permutation: half the full rounds, the partial rounds (S-box on the first
/// element only), the other half of the full rounds; each round adds its constants, applies
/// the S-box and multiplies by the MDS matrix.
fn permute(config: &PoseidonConfig<Fr>, state: &mut [Fr], next: &mut [Fr]) {
    let half = config.full_rounds / 2;
    for r in 0..config.full_rounds + config.partial_rounds {
        for (s, c) in state.iter_mut().zip(&config.ark[r]) {
            *s += c;
        }
        let full = r < half || r >= half + config.partial_rounds;
        let boxed = if full { state.len() } else { 1 };
        for s in state.iter_mut().take(boxed) {
            *s = s.pow([config.alpha]);
        }
        for (n, row) in next.iter_mut().zip(&config.mds) {
            *n = row.iter().zip(state.iter()).map(|(m, s)| *m * s).sum();
        }
        state.copy_from_slice(next);
    }
}

/// A domain tag: the tag's bytes read as a little-endian integer (tags are < 31 bytes).
pub fn domain_tag(tag: &str) -> Fr {
    debug_assert!(tag.len() < 31);
    Fr::from_le_bytes_mod_order(tag.as_bytes())
}

/// An element's canonical 32-byte little-endian encoding.
pub fn to_bytes(x: &Fr) -> [u8; 32] {
    let v: Vec<u8> = x.into_bigint().to_bytes_le();
    let mut out = [0u8; 32];
    out.copy_from_slice(&v);
    out
}

/// Decodes a canonical encoding; `None` if the integer is not below the field modulus.
pub fn from_bytes(bytes: &[u8; 32]) -> Option<Fr> {
    let mut limbs = [0u64; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        *l = u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    Fr::from_bigint(ark_ff::BigInt(limbs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_crypto_primitives::sponge::poseidon::find_poseidon_ark_and_mds;

    fn grain(rate: usize, full: usize, partial: usize) -> (Vec<Vec<Fr>>, Vec<Vec<Fr>>) {
        find_poseidon_ark_and_mds::<Fr>(254, rate, full as u64, partial as u64, 0)
    }

    /// `hash` is ark-crypto-primitives' sponge, bit for bit, at every length around the
    /// block boundaries of both widths.
    #[test]
    fn hash_is_the_ark_sponge() {
        use ark_crypto_primitives::sponge::poseidon::PoseidonSponge;
        use ark_crypto_primitives::sponge::{CryptographicSponge, FieldBasedCryptographicSponge};
        for c in [config(), wide::config()] {
            for len in 0..40u64 {
                let inputs: Vec<Fr> = (0..len).map(|i| Fr::from(i * 7919 + len)).collect();
                let mut sponge = PoseidonSponge::new(&c);
                sponge.absorb(&inputs);
                let want = sponge.squeeze_native_field_elements(1)[0];
                assert_eq!(
                    hash(&c, &inputs),
                    want,
                    "width {}, {len} inputs",
                    c.rate + 1
                );
            }
        }
    }

    #[test]
    fn compiled_constants_are_the_grain_lfsr_output() {
        let (ark, mds) = grain(RATE, FULL_ROUNDS, PARTIAL_ROUNDS);
        let c = config();
        assert_eq!(c.ark, ark);
        assert_eq!(c.mds, mds);
        let (ark, mds) = grain(wide::RATE, wide::FULL_ROUNDS, wide::PARTIAL_ROUNDS);
        let c = wide::config();
        assert_eq!((c.ark.len(), c.mds.len()), (76, 17));
        assert_eq!(c.ark, ark);
        assert_eq!(c.mds, mds);
    }

    /// Regenerates poseidon_constants.rs and poseidon_wide_constants.rs:
    /// `cargo test -p merit-protocol -- --ignored write_constants`.
    #[test]
    #[ignore]
    fn write_constants() {
        let row = |r: &Vec<Fr>| {
            let cells: Vec<String> = r
                .iter()
                .map(|x| format!("{:?}", x.into_bigint().0))
                .collect();
            format!("    [{}],\n", cells.join(", "))
        };
        for (file, (ark, mds)) in [
            (
                "poseidon_constants.rs",
                grain(RATE, FULL_ROUNDS, PARTIAL_ROUNDS),
            ),
            (
                "poseidon_wide_constants.rs",
                grain(wide::RATE, wide::FULL_ROUNDS, wide::PARTIAL_ROUNDS),
            ),
        ] {
            let t = mds.len();
            let mut s = String::from(
                "// Generated by `write_constants` in poseidon.rs; checked by a test there.\n",
            );
            s += &format!("pub static ARK: [[[u64; 4]; {t}]; {}] = [\n", ark.len());
            ark.iter().for_each(|r| s += &row(r));
            s += &format!("];\npub static MDS: [[[u64; 4]; {t}]; {t}] = [\n");
            mds.iter().for_each(|r| s += &row(r));
            s += "];\n";
            let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
            std::fs::write(path, s).unwrap();
        }
    }

    #[test]
    fn bytes_round_trip_and_reject_non_canonical() {
        let x = domain_tag("merit/test");
        assert_eq!(from_bytes(&to_bytes(&x)), Some(x));
        assert_eq!(from_bytes(&[0xff; 32]), None);
    }

    #[test]
    fn hash_depends_on_every_input_and_on_order() {
        let c = config();
        let a = [Fr::from(1u64), Fr::from(2u64), Fr::from(3u64)];
        let h = hash(&c, &a);
        assert_ne!(h, hash(&c, &[a[0], a[2], a[1]]));
        assert_ne!(h, hash(&c, &a[..2]));
    }

    #[test]
    fn the_bare_sponge_does_not_pad_so_every_caller_prefixes_lengths() {
        // Absorbing a trailing zero within the rate leaves the state as it was. This is
        // why `commit` hashes (tag, …, length, data): see commit.rs.
        let c = config();
        let a = [Fr::from(1u64), Fr::from(2u64), Fr::from(3u64)];
        assert_eq!(hash(&c, &a), hash(&c, &[a[0], a[1], a[2], Fr::from(0u64)]));
    }
}
