//! Commitments and the round's public input, all Poseidon (see `poseidon`).
//!
//! ```text
//! commit_update(account, v) = W(TAG_UPDATE, account_lo, account_hi, len(v), pack(v)…)
//! commit_model(v)           = W(TAG_MODEL, len(v), pack(v)…)
//! round_public_input        = H(TAG_ROUND, project, round, N, C_prev,
//!                               (acct_lo, acct_hi)_1..N, C_1..C_N,
//!                               score_1..score_N, accept_1..accept_N, C_new)
//! ```
//! `W` is the wide Poseidon sponge (t = 17, since protocol v3), `H` the narrow one (t = 3):
//! vectors are long and re-hashed in-circuit, the round hash is short and hashed by the
//! contract.
//!
//! The round hash carries each slot's account (docs/design.md lists only the commitments): the
//! circuit opens `C_i` with `trainer_i`'s account, and that account must be fixed by the
//! public input, or a trainer who copied another's commitment could have it opened with
//! the original owner's account. Unfilled slots have the zero account and `C_i = 0`.
//! The account (32 bytes) enters as two 128-bit halves, little-endian, so that copying
//! another trainer's revealed update cannot reproduce that trainer's commitment. Every
//! message starts with its own domain tag and carries its lengths, which is the framing
//! the padding-free sponge needs.

pub mod v5;

use crate::abi::AccountBytes;
use crate::pack::{pack_chunk, VALUES_PER_ELEMENT};
use crate::poseidon::{self, domain_tag};
use alloc::vec::Vec;
use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::{PoseidonConfig, PoseidonSponge};
use ark_crypto_primitives::sponge::{CryptographicSponge, FieldBasedCryptographicSponge};
use ark_ff::PrimeField;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

pub const TAG_UPDATE: &str = "merit/update/v3";
pub const TAG_MODEL: &str = "merit/model/v3";
pub const TAG_ROUND: &str = "merit/round/v3";

/// A commitment: a field element in canonical little-endian bytes.
#[derive(
    Encode, Decode, TypeInfo, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default,
)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct Commitment(pub [u8; 32]);

impl Commitment {
    pub fn from_field(x: &Fr) -> Self {
        Self(poseidon::to_bytes(x))
    }

    /// The field element, or `None` if the bytes are not a canonical element.
    pub fn to_field(&self) -> Option<Fr> {
        poseidon::from_bytes(&self.0)
    }
}

/// The account as two field elements (low and high 16 bytes, little-endian).
pub fn account_elements(account: &AccountBytes) -> [Fr; 2] {
    [
        Fr::from_le_bytes_mod_order(&account[..16]),
        Fr::from_le_bytes_mod_order(&account[16..]),
    ]
}

/// What the round's public input hashes (docs/design.md, "The round statement").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundInputs<'a> {
    pub project: u32,
    pub round: u32,
    pub prev_model: Commitment,
    /// One per slot, in join order; an unfilled slot has the zero account.
    pub trainers: &'a [AccountBytes],
    /// One per slot; an absent slot's (no reveal) commitment is `Commitment::default()`.
    pub updates: &'a [Commitment],
    pub scores: &'a [u32],
    pub accepted: &'a [bool],
    pub new_model: Commitment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitError {
    /// Slot lists of different lengths.
    SlotCountMismatch {
        trainers: usize,
        updates: usize,
        scores: usize,
        accepted: usize,
    },
    /// A commitment that is not a field element (which slot; `None` = a model).
    NonCanonical { slot: Option<usize> },
}

impl core::fmt::Display for CommitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::SlotCountMismatch { trainers, updates, scores, accepted } => write!(
                f,
                "slot lists differ in length: {trainers} trainers, {updates} commitments, {scores} scores, {accepted} accept bits"
            ),
            Self::NonCanonical { slot: Some(s) } => write!(f, "slot {s}'s commitment is not a field element"),
            Self::NonCanonical { slot: None } => write!(f, "a model commitment is not a field element"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CommitError {}

/// Holds both Poseidon configurations so that repeated commitments do not rebuild them.
#[derive(Clone)]
pub struct Committer {
    config: PoseidonConfig<Fr>,
    vectors: PoseidonConfig<Fr>,
}

impl Default for Committer {
    fn default() -> Self {
        Self::new()
    }
}

impl Committer {
    pub fn new() -> Self {
        Self {
            config: poseidon::config(),
            vectors: poseidon::wide::config(),
        }
    }

    /// The narrow sponge's configuration (the round hash).
    pub fn config(&self) -> &PoseidonConfig<Fr> {
        &self.config
    }

    /// The wide sponge's configuration (commitments to vectors).
    pub fn vector_config(&self) -> &PoseidonConfig<Fr> {
        &self.vectors
    }

    fn absorb_vector(sponge: &mut PoseidonSponge<Fr>, values: &[i16]) {
        sponge.absorb(&Fr::from(values.len() as u64));
        // Pack and absorb chunk by chunk: no packed copy of a large vector is kept.
        for chunk in values.chunks(VALUES_PER_ELEMENT) {
            sponge.absorb(&pack_chunk(chunk));
        }
    }

    fn squeeze(mut sponge: PoseidonSponge<Fr>) -> Fr {
        sponge.squeeze_native_field_elements(1)[0]
    }

    /// A trainer's commitment to its update.
    pub fn commit_update(&self, account: &AccountBytes, values: &[i16]) -> Commitment {
        let mut sponge = PoseidonSponge::new(&self.vectors);
        sponge.absorb(&domain_tag(TAG_UPDATE));
        sponge.absorb(&account_elements(account).as_slice());
        Self::absorb_vector(&mut sponge, values);
        Commitment::from_field(&Self::squeeze(sponge))
    }

    /// The commitment to a global model.
    pub fn commit_model(&self, values: &[i16]) -> Commitment {
        let mut sponge = PoseidonSponge::new(&self.vectors);
        sponge.absorb(&domain_tag(TAG_MODEL));
        Self::absorb_vector(&mut sponge, values);
        Commitment::from_field(&Self::squeeze(sponge))
    }

    /// The field elements the round hash absorbs, in order (the circuit rebuilds the same).
    pub fn round_elements(&self, r: &RoundInputs<'_>) -> Result<Vec<Fr>, CommitError> {
        round_elements(r)
    }

    /// The single public input of the round's Groth16 proof.
    pub fn round_public_input(&self, r: &RoundInputs<'_>) -> Result<Fr, CommitError> {
        Ok(poseidon::hash(&self.config, &round_elements(r)?))
    }
}

/// The single public input of the round's Groth16 proof, with only the narrow sponge built
/// (what the contract calls: it never commits to a vector).
pub fn round_public_input(r: &RoundInputs<'_>) -> Result<Fr, CommitError> {
    Ok(poseidon::hash(&poseidon::config(), &round_elements(r)?))
}

/// The field elements the round hash absorbs, in order (the circuit rebuilds the same).
pub fn round_elements(r: &RoundInputs<'_>) -> Result<Vec<Fr>, CommitError> {
    {
        let n = r.updates.len();
        if r.trainers.len() != n || r.scores.len() != n || r.accepted.len() != n {
            return Err(CommitError::SlotCountMismatch {
                trainers: r.trainers.len(),
                updates: n,
                scores: r.scores.len(),
                accepted: r.accepted.len(),
            });
        }
        let model = |c: &Commitment| c.to_field().ok_or(CommitError::NonCanonical { slot: None });
        let mut e = Vec::with_capacity(5 * n + 6);
        e.push(domain_tag(TAG_ROUND));
        e.push(Fr::from(r.project));
        e.push(Fr::from(r.round));
        e.push(Fr::from(n as u64));
        e.push(model(&r.prev_model)?);
        for a in r.trainers {
            e.extend(account_elements(a));
        }
        for (slot, c) in r.updates.iter().enumerate() {
            e.push(
                c.to_field()
                    .ok_or(CommitError::NonCanonical { slot: Some(slot) })?,
            );
        }
        e.extend(r.scores.iter().map(|&s| Fr::from(s)));
        e.extend(r.accepted.iter().map(|&a| Fr::from(a)));
        e.push(model(&r.new_model)?);
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domains_are_separated() {
        let c = Committer::new();
        let v = [1i16, -2, 3];
        // Same vector, model vs update by the zero account: different commitments.
        assert_ne!(c.commit_model(&v), c.commit_update(&[0; 32], &v));
    }

    #[test]
    fn trailing_zero_values_change_the_commitment() {
        let c = Committer::new();
        assert_ne!(c.commit_model(&[5, 0]), c.commit_model(&[5]));
        assert_ne!(c.commit_model(&[]), c.commit_model(&[0]));
    }

    #[test]
    fn round_input_checks_slot_lists() {
        let c = Committer::new();
        let u = [Commitment::default(); 2];
        let r = RoundInputs {
            project: 1,
            round: 0,
            prev_model: Commitment::default(),
            trainers: &[[1; 32], [2; 32]],
            updates: &u,
            scores: &[1, 2],
            accepted: &[true],
            new_model: Commitment::default(),
        };
        assert_eq!(
            c.round_public_input(&r),
            Err(CommitError::SlotCountMismatch {
                trainers: 2,
                updates: 2,
                scores: 2,
                accepted: 1
            })
        );
        assert_eq!(
            c.round_public_input(&RoundInputs {
                trainers: &[[1; 32]],
                accepted: &[true, false],
                ..r.clone()
            }),
            Err(CommitError::SlotCountMismatch {
                trainers: 1,
                updates: 2,
                scores: 2,
                accepted: 2
            })
        );
        let bad = [Commitment::default(), Commitment([0xff; 32])];
        let r = RoundInputs {
            updates: &bad,
            accepted: &[true, false],
            ..r
        };
        assert_eq!(
            c.round_public_input(&r),
            Err(CommitError::NonCanonical { slot: Some(1) })
        );
    }

    #[test]
    fn round_input_depends_on_every_field() {
        let c = Committer::new();
        let m0 = c.commit_model(&[1, 2]);
        let m1 = c.commit_model(&[2, 3]);
        let u = [
            c.commit_update(&[1; 32], &[1]),
            c.commit_update(&[2; 32], &[1]),
        ];
        let base = RoundInputs {
            project: 7,
            round: 1,
            prev_model: m0,
            trainers: &[[1; 32], [2; 32]],
            updates: &u,
            scores: &[500, 0],
            accepted: &[true, false],
            new_model: m1,
        };
        let h = c.round_public_input(&base).unwrap();
        let swapped = [u[1], u[0]];
        let variants = [
            RoundInputs {
                project: 8,
                ..base.clone()
            },
            RoundInputs {
                round: 2,
                ..base.clone()
            },
            RoundInputs {
                prev_model: m1,
                ..base.clone()
            },
            RoundInputs {
                updates: &swapped,
                ..base.clone()
            },
            RoundInputs {
                trainers: &[[2; 32], [1; 32]],
                ..base.clone()
            },
            RoundInputs {
                scores: &[501, 0],
                ..base.clone()
            },
            RoundInputs {
                accepted: &[true, true],
                ..base.clone()
            },
            RoundInputs {
                new_model: m0,
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(c.round_public_input(&v).unwrap(), h, "{v:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn commitment_changes_with_value_account_or_length(
            v in proptest::collection::vec(any::<i16>(), 1..40),
            account in any::<[u8; 32]>(),
            i in any::<proptest::sample::Index>(),
            d in 1i16..,
            flip in 0usize..256,
        ) {
            let c = Committer::new();
            let base = c.commit_update(&account, &v);
            let mut w = v.clone();
            let k = i.index(w.len());
            w[k] = w[k].wrapping_add(d);
            prop_assert_ne!(c.commit_update(&account, &w), base);
            let mut other = account;
            other[flip / 8] ^= 1 << (flip % 8);
            prop_assert_ne!(c.commit_update(&other, &v), base);
            prop_assert_ne!(c.commit_update(&account, &v[..v.len() - 1]), base);
            let mut longer = v.clone();
            longer.push(0);
            prop_assert_ne!(c.commit_update(&account, &longer), base);
        }
    }
}
