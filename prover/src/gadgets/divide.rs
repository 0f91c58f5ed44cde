//! Integer division with remainder: twin of `merit_protocol::rule::floor_div`.

use super::num::{bits_of, boolean, Num, Result};
use crate::cs::Cs;
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_relations::lc;

/// Proves `q = ⌊sum / divisor⌋` (toward −∞): `sum = divisor·q + r` with `0 ≤ r < divisor`.
///
/// `divisor` must lie in `1..=2^bits` and the caller must already bound `q` so that
/// `|divisor·q + r|` stays far below the modulus (then the equation holds over the
/// integers and `q`, `r` are unique). `2·bits + 2` constraints.
pub fn floor_div(cs: &Cs, sum: &Num, divisor: &Num, q: &Num, bits: usize) -> Result<()> {
    let r_val = sum.val - divisor.val * q.val;
    let mut r = lc!();
    let mut k = Fr::ONE;
    for b in bits_of(&r_val, bits) {
        r = r + (k, &boolean(cs, b)?.lc);
        k.double_in_place();
    }
    let r = Num { lc: r, val: r_val };
    cs.enforce_constraint(divisor.lc.clone(), q.lc.clone(), sum.sub(&r).lc)?;
    // divisor − 1 − r ≥ 0.
    let slack = divisor.sub(&r).add_const(-Fr::ONE);
    super::num::range_check(cs, &slack, bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::num::{fr_i128, witness};

    use merit_protocol::rule;
    use proptest::prelude::*;

    fn holds(sum: i64, d: i64, q: i64) -> bool {
        let cs = Cs::new_ref();
        let s = witness(&cs, fr_i128(sum.into())).unwrap();
        let dv = witness(&cs, fr_i128(d.into())).unwrap();
        let qv = witness(&cs, fr_i128(q.into())).unwrap();
        floor_div(&cs, &s, &dv, &qv, 4).unwrap();
        cs.is_satisfied().unwrap()
    }

    proptest! {
        #[test]
        fn only_the_floor_quotient_passes(sum in -300_000i64..300_000, d in 1i64..=16, dq in -2i64..=2) {
            let (q, _) = rule::floor_div(sum, d);
            prop_assert_eq!(holds(sum, d, q + dq), dq == 0);
        }
    }
}
