//! The public input of a protocol v5 round (SPEC.md §6a, "The v5 round statement").
//!
//! v5's rule reads last round's reveals and three of its results, so the statement carries
//! them; the contract fills that part from what it stored when it accepted last round, and
//! the circuit opens last round's commitments and last round's Gram matrix against it.
//!
//! ```text
//! round_v5_public_input = H(TAG_ROUND_V5, project, round, N, C_prev,
//!                           (acct_lo, acct_hi)_1..N, C_1..C_N,
//!                           score_1..score_N, accept_1..accept_N, C_new,
//!                           reference_1..reference_N, gram_hash,
//!                           has_previous,
//!                           (acct'_lo, acct'_hi)_1..N, C'_1..C'_N,
//!                           reference'_1..reference'_N, accept'_1..accept'_N, gram_hash')
//! gram_hash(G)          = H(TAG_GRAM, N, G_00, G_01, …, G_0(N−1), G_11, …, G_(N−1)(N−1))
//! ```
//! Primed values are last round's (all zero in a project's first v5 round, with
//! `has_previous = 0`). `reference_i` = present and not stale: which reveals the next
//! round's stale filter compares against. `gram_hash` commits to this round's whole Gram
//! matrix `G_ik = ⟨u_i, u_k⟩` (absent slots are zero vectors), upper triangle row by row,
//! each entry as a signed integer in the field; the next round's `P`.

use super::{round_elements, CommitError, Commitment, RoundInputs};
use crate::abi::AccountBytes;
use crate::poseidon::{self, domain_tag};
use alloc::vec::Vec;
use ark_bn254::Fr;

pub const TAG_ROUND_V5: &str = "merit/round/v5";
pub const TAG_GRAM: &str = "merit/gram/v5";

/// What last round published that this round's statement reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousInputs<'a> {
    pub trainers: &'a [AccountBytes],
    pub updates: &'a [Commitment],
    pub reference: &'a [bool],
    pub accepted: &'a [bool],
    pub gram_hash: Commitment,
}

/// The inputs of a v5 round: v3's, this round's reference bits and Gram hash, and last
/// round's (`None` in a project's first v5 round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundInputsV5<'a> {
    pub round: RoundInputs<'a>,
    pub reference: &'a [bool],
    pub gram_hash: Commitment,
    pub previous: Option<PreviousInputs<'a>>,
}

/// A signed integer as a field element (negative values are `r − |v|`).
pub fn signed_element(v: i64) -> Fr {
    let x = Fr::from(v.unsigned_abs());
    if v < 0 {
        -x
    } else {
        x
    }
}

/// `gram_hash(G)` for a square matrix (the module's formula).
pub fn gram_hash(gram: &[Vec<i64>]) -> Commitment {
    let n = gram.len();
    let mut e = Vec::with_capacity(2 + n * (n + 1) / 2);
    e.push(domain_tag(TAG_GRAM));
    e.push(Fr::from(n as u64));
    for (i, row) in gram.iter().enumerate() {
        e.extend(row[i..].iter().map(|&g| signed_element(g)));
    }
    Commitment::from_field(&poseidon::hash(&poseidon::config(), &e))
}

/// The field elements the v5 round hash absorbs, in order (the circuit rebuilds the same).
pub fn round_v5_elements(r: &RoundInputsV5<'_>) -> Result<Vec<Fr>, CommitError> {
    let n = r.round.updates.len();
    let mut e = round_elements(&r.round)?;
    e[0] = domain_tag(TAG_ROUND_V5);
    let mismatch = |got: usize| CommitError::SlotCountMismatch {
        trainers: r.round.trainers.len(),
        updates: n,
        scores: r.round.scores.len(),
        accepted: got,
    };
    if r.reference.len() != n {
        return Err(mismatch(r.reference.len()));
    }
    let field = |c: &Commitment, slot: Option<usize>| {
        c.to_field().ok_or(CommitError::NonCanonical { slot })
    };
    e.extend(r.reference.iter().map(|&b| Fr::from(b)));
    e.push(field(&r.gram_hash, None)?);
    match &r.previous {
        None => {
            e.push(Fr::from(0u64));
            // accounts (2N), commitments, reference and accept bits (N each), the Gram hash.
            e.extend(core::iter::repeat_n(Fr::from(0u64), 5 * n + 1));
        }
        Some(p) => {
            for len in [
                p.trainers.len(),
                p.updates.len(),
                p.reference.len(),
                p.accepted.len(),
            ] {
                if len != n {
                    return Err(mismatch(len));
                }
            }
            e.push(Fr::from(1u64));
            for a in p.trainers {
                e.extend(super::account_elements(a));
            }
            for (slot, c) in p.updates.iter().enumerate() {
                e.push(field(c, Some(slot))?);
            }
            e.extend(p.reference.iter().map(|&b| Fr::from(b)));
            e.extend(p.accepted.iter().map(|&b| Fr::from(b)));
            e.push(field(&p.gram_hash, None)?);
        }
    }
    Ok(e)
}

/// The single public input of a v5 round's Groth16 proof.
pub fn round_v5_public_input(r: &RoundInputsV5<'_>) -> Result<Fr, CommitError> {
    Ok(poseidon::hash(&poseidon::config(), &round_v5_elements(r)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(
        c: &'a [Commitment],
        bits: &'a [bool],
        previous: Option<PreviousInputs<'a>>,
    ) -> RoundInputsV5<'a> {
        RoundInputsV5 {
            round: RoundInputs {
                project: 1,
                round: 2,
                prev_model: Commitment::default(),
                trainers: &[[1; 32], [2; 32]],
                updates: c,
                scores: &[5, 6],
                accepted: bits,
                new_model: Commitment::default(),
            },
            reference: bits,
            gram_hash: gram_hash(&[vec![4, -1], vec![-1, 9]]),
            previous,
        }
    }

    #[test]
    fn every_previous_field_changes_the_input() {
        let c = [Commitment::default(); 2];
        let bits = [true, false];
        let prev = PreviousInputs {
            trainers: &[[1; 32], [2; 32]],
            updates: &c,
            reference: &bits,
            accepted: &bits,
            gram_hash: Commitment::default(),
        };
        let base = round_v5_public_input(&inputs(&c, &bits, Some(prev.clone()))).unwrap();
        let first = round_v5_public_input(&inputs(&c, &bits, None)).unwrap();
        assert_ne!(base, first);
        let flipped = [false, false];
        for changed in [
            PreviousInputs {
                reference: &flipped,
                ..prev.clone()
            },
            PreviousInputs {
                accepted: &flipped,
                ..prev.clone()
            },
            PreviousInputs {
                trainers: &[[1; 32], [3; 32]],
                ..prev.clone()
            },
            PreviousInputs {
                gram_hash: gram_hash(&[vec![1]]),
                ..prev.clone()
            },
        ] {
            let h = round_v5_public_input(&inputs(&c, &bits, Some(changed))).unwrap();
            assert_ne!(h, base);
        }
        // Same length as with a previous round (SPEC.md: 11N + 9): the circuit has one shape.
        assert_eq!(
            round_v5_elements(&inputs(&c, &bits, None)).unwrap().len(),
            11 * 2 + 9
        );
        assert_eq!(
            round_v5_elements(&inputs(&c, &bits, None)).unwrap().len(),
            round_v5_elements(&inputs(&c, &bits, Some(prev)))
                .unwrap()
                .len()
        );
    }

    #[test]
    fn gram_hash_reads_the_sign_and_the_upper_triangle() {
        let g = gram_hash(&[vec![4, -1], vec![-1, 9]]);
        assert_ne!(g, gram_hash(&[vec![4, 1], vec![1, 9]]));
        // The lower triangle is not read (the matrix is symmetric by construction).
        assert_eq!(g, gram_hash(&[vec![4, -1], vec![7, 9]]));
    }

    #[test]
    fn short_lists_are_refused() {
        let c = [Commitment::default(); 2];
        let bits = [true, false];
        let mut r = inputs(&c, &bits, None);
        r.reference = &[true];
        assert!(matches!(
            round_v5_public_input(&r),
            Err(CommitError::SlotCountMismatch { accepted: 1, .. })
        ));
    }
}
