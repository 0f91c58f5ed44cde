//! The contribution score without square roots: twin of
//! `merit_protocol::rule::cosine_score`.

use super::num::{boolean, enforce_zero_product, is_le, mul, witness, Num, Result};
use crate::cs::Cs;
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_relations::lc;

/// Bits of a score (scores are at most 1000 < 2^10).
pub const SCORE_BITS: usize = 10;

/// The score `s` for `dot = ⟨u, S⟩`, `norm = ‖u‖²`, `sum_norm = ‖S‖²`, where `pos` is the
/// bit "accepted and `dot > 0`": with `pos = 0`, `s = 0`; with `pos = 1`, `s` is the
/// integer with `s²·norm·sum_norm ≤ 10⁶·dot² < (s+1)²·norm·sum_norm`. `score` is the
/// prover's claim (10 bits). Needs `2^20·norm·sum_norm < 2^m` and `dot² ≤ norm·sum_norm`
/// (true for real vectors).
pub fn cosine_score(
    cs: &Cs,
    pos: &Num,
    dot: &Num,
    norm: &Num,
    sum_norm: &Num,
    score: u32,
    m: usize,
) -> Result<Num> {
    let mut s = lc!();
    let mut k = Fr::ONE;
    for t in 0..SCORE_BITS {
        s = s + (k, &boolean(cs, (score >> t) & 1 == 1)?.lc);
        k.double_in_place();
    }
    let s = Num {
        lc: s,
        val: Fr::from(score & ((1 << SCORE_BITS) - 1)),
    };
    enforce_zero_product(cs, &s, &pos.not())?;
    let x = mul(cs, norm, sum_norm)?;
    let million = Fr::from(1_000_000u64);
    let y = witness(cs, dot.val * dot.val * million)?;
    cs.enforce_constraint(dot.lc.clone(), (&dot.lc) * million, y.lc.clone())?;
    let sq = mul(cs, &s, &s)?;
    let lower = mul(cs, &sq, &x)?;
    let s1sq = sq.add(&s.scale(Fr::from(2u64))).add_const(Fr::ONE);
    let upper = mul(cs, &s1sq, &x)?;
    let ok_low = is_le(cs, &lower, &y, m)?;
    let ok_up = is_le(cs, &y.add_const(Fr::ONE), &upper, m)?;
    enforce_zero_product(cs, pos, &ok_low.not())?;
    enforce_zero_product(cs, pos, &ok_up.not())?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::num::fr_i128;

    use merit_protocol::rule;
    use proptest::prelude::*;

    fn holds(dot: i64, nu: u64, ns: u64, pos: bool, score: u32) -> bool {
        let cs = Cs::new_ref();
        let p = boolean(&cs, pos).unwrap();
        let d = witness(&cs, fr_i128(dot.into())).unwrap();
        let a = witness(&cs, Fr::from(nu)).unwrap();
        let b = witness(&cs, Fr::from(ns)).unwrap();
        cosine_score(&cs, &p, &d, &a, &b, score, 110).unwrap();
        cs.is_satisfied().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn only_the_native_score_passes(dot in 1i64..1 << 30, nu in 1u64..1 << 40, ns in 1u64..1 << 40, d in -1i32..=1) {
            prop_assume!((dot as u128) * (dot as u128) <= u128::from(nu) * u128::from(ns));
            let s = rule::cosine_score(dot, nu, ns);
            let claim = i64::from(s) + i64::from(d);
            prop_assume!((0..1024).contains(&claim));
            prop_assert_eq!(holds(dot, nu, ns, true, claim as u32), d == 0);
        }
    }

    #[test]
    fn not_positive_means_zero() {
        assert!(holds(-5, 10, 10, false, 0));
        assert!(!holds(-5, 10, 10, false, 1));
        assert!(holds(3, 3, 3, true, 1000));
        assert!(!holds(3, 3, 3, true, 999));
    }
}
