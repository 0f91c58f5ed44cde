//! Protocol v5's new steps (SPEC.md §6a), each the constraint twin of a function in
//! `merit_protocol::rule::v5`: the ramps (`ramp`), the capped mean's weight
//! (`mean_weight`), the score in parts per million (`score_ppm`) and Krum's distance floor
//! (`distance_floor`). The round circuit does not use them yet: it proves v2; these are
//! the pieces a v5 round circuit is built from, each tested against its native twin.
//! Every claim is the prover's; the constraints admit exactly the native value.

use super::divide::floor_div;
use super::num::{
    enforce_eq, enforce_zero_product, is_le, is_zero, log2_ceil, mul, range_check, witness, Num,
    Result,
};
use crate::cs::Cs;
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field, PrimeField};
use ark_relations::lc;

/// Bits of a per-mille value in `[0, 1000]`.
const MILLE_BITS: usize = 10;
/// Bits of a score in parts per million, `[0, 10⁶]`.
const PPM_BITS: usize = 20;
/// `|b − a|` for two per-mille cosines (`[−1000, 1000]`) or ramp ends: below `2^12`.
const COSINE_DIFF_BITS: usize = 12;

fn fr_i64(v: i64) -> Fr {
    super::num::fr_i128(i128::from(v))
}

/// A witness `v` with `0 ≤ v ≤ max < 2^bits` (two range checks).
fn bounded(cs: &Cs, v: u64, max: u64, bits: usize) -> Result<Num> {
    let x = witness(cs, Fr::from(v))?;
    range_check(cs, &x, bits)?;
    range_check(cs, &Num::constant(Fr::from(max)).sub(&x), bits)?;
    Ok(x)
}

fn enforce_true(cs: &Cs, bit: &Num) -> Result<()> {
    enforce_eq(cs, &bit.lc, &(lc!() + ark_relations::gr1cs::Variable::One))
}

/// `r = clamp(⌊1000·(c − lo) / (hi − lo)⌋, 0, 1000)` for a per-mille `c ∈ [−1000, 1000]`
/// and constant ends `−1000 ≤ lo < hi ≤ 1000` (twin of `v5::ramp`). `claim` is the prover's
/// `r`. Below `lo` (inclusive) `r = 0`, from `hi` on `r = 1000`, and between them
/// `1000·(c − lo) = (hi − lo)·r + rem` with `0 ≤ rem < hi − lo`.
pub fn ramp(cs: &Cs, c: &Num, lo: i32, hi: i32, claim: u32) -> Result<Num> {
    assert!(lo < hi, "a ramp needs lo < hi");
    let h = i64::from(hi) - i64::from(lo);
    let r = bounded(cs, u64::from(claim), 1000, MILLE_BITS)?;
    let lo_c = Num::constant(fr_i64(lo.into()));
    let hi_c = Num::constant(fr_i64(hi.into()));
    let bottom = is_le(cs, c, &lo_c, COSINE_DIFF_BITS)?;
    let top = is_le(cs, &hi_c, c, COSINE_DIFF_BITS)?;
    enforce_zero_product(cs, &bottom, &r)?;
    enforce_zero_product(cs, &top, &r.add_const(-Fr::from(1000u64)))?;
    // mid = 1 − bottom − top (exclusive since lo < hi).
    let mid = bottom.add(&top).not();
    let t = c.sub(&lo_c).scale(Fr::from(1000u64));
    let h_bits = log2_ceil(h as u64);
    let rem_val = if mid.val == Fr::ONE {
        t.val - Fr::from(h as u64) * r.val
    } else {
        Fr::ZERO
    };
    let rem = witness(cs, rem_val)?;
    range_check(cs, &rem, h_bits)?;
    range_check(cs, &Num::constant(Fr::from(h as u64 - 1)).sub(&rem), h_bits)?;
    let gap = t.sub(&r.scale(Fr::from(h as u64))).sub(&rem);
    enforce_zero_product(cs, &mid, &gap)?;
    Ok(r)
}

/// The integer a field element stands for, for values well inside `±2^126` (what every
/// quantity of the rule is): elements above `(r − 1)/2` are negative.
pub fn to_i128(x: &Fr) -> i128 {
    let half = Fr::from(-1i64).into_bigint().0; // r − 1
    let b = x.into_bigint().0;
    let small = |limbs: &[u64; 4]| limbs[2] == 0 && limbs[3] == 0;
    if small(&b) {
        (u128::from(b[0]) | (u128::from(b[1]) << 64)) as i128
    } else {
        let n = (-*x).into_bigint().0;
        debug_assert!(small(&n) && half[3] != 0, "not a small integer");
        -((u128::from(n[0]) | (u128::from(n[1]) << 64)) as i128)
    }
}

/// `c = sign(g)·s`, `s` the per-mille cosine of `|g|` against `na·nb` capped at 1000, and
/// `c = 0` when `g = 0` or either norm is 0: the twin of `rule::signed_cosine` for *any*
/// inputs (no Cauchy–Schwarz assumed, unlike v2's pair cosines), which v5 needs for the
/// partial correlation of truncated per-mille cosines. The claim is the native value of the
/// inputs' witnesses. Needs `|g| < 2^g_bits`, `na, nb < 2^m`, `2^20·g²` and `2^20·na·nb`
/// below `2^m`.
pub fn signed_cosine(cs: &Cs, g: &Num, na: &Num, nb: &Num, g_bits: usize, m: usize) -> Result<Num> {
    let claim = merit_protocol::rule::signed_cosine(
        to_i128(&g.val) as i64,
        to_i128(&na.val) as u64,
        to_i128(&nb.val) as u64,
    );
    signed_cosine_claimed(cs, g, na, nb, claim, g_bits, m)
}

/// [`signed_cosine`] with the prover's claim given (what a cheating prover controls).
fn signed_cosine_claimed(
    cs: &Cs,
    g: &Num,
    na: &Num,
    nb: &Num,
    claim: i32,
    g_bits: usize,
    m: usize,
) -> Result<Num> {
    let one = Num::constant(Fr::ONE);
    let neg = is_le(cs, g, &one.scale(-Fr::ONE), g_bits)?;
    let abs = g.sub(&mul(cs, &neg, g)?.scale(Fr::from(2u64)));
    let s = bounded(cs, u64::from(claim.unsigned_abs()), 1000, MILLE_BITS)?;
    let nonzero = is_le(cs, &one, &abs, g_bits)?;
    let a_pos = is_le(cs, &one, na, m)?;
    let b_pos = is_le(cs, &one, nb, m)?;
    let pos = mul(cs, &mul(cs, &nonzero, &a_pos)?, &b_pos)?;
    enforce_zero_product(cs, &pos.not(), &s)?;
    let x = mul(cs, na, nb)?;
    let y = mul(cs, &abs, &abs)?.scale(Fr::from(1_000_000u64));
    let sq = mul(cs, &s, &s)?;
    let lower = mul(cs, &sq, &x)?;
    enforce_zero_product(cs, &pos, &is_le(cs, &lower, &y, m)?.not())?;
    let next = sq.add(&s.scale(Fr::from(2u64))).add_const(Fr::ONE);
    let upper = mul(cs, &next, &x)?;
    let above = is_le(cs, &y.add_const(Fr::ONE), &upper, m)?;
    let capped = is_zero(cs, &s.add_const(-Fr::from(1000u64)))?;
    let open = mul(cs, &pos, &capped.not())?;
    enforce_zero_product(cs, &open, &above.not())?;
    Ok(s.sub(&mul(cs, &neg, &s)?.scale(Fr::from(2u64))))
}

/// The capped mean's weight (twin of `v5::mean_weight`): `w ∈ [0, 1000]` with
/// `w²·norm ≤ 10⁶·median`, and `w = 1000` or `(w + 1)²·norm > 10⁶·median`. Needs
/// `10⁶·median` and `(w + 1)²·norm` below `2^m`.
pub fn mean_weight(cs: &Cs, norm: &Num, median: &Num, claim: u32, m: usize) -> Result<Num> {
    let w = bounded(cs, u64::from(claim), 1000, MILLE_BITS)?;
    let sq = mul(cs, &w, &w)?;
    let lhs = mul(cs, &sq, norm)?;
    let rhs = median.scale(Fr::from(1_000_000u64));
    enforce_true(cs, &is_le(cs, &lhs, &rhs, m)?)?;
    let next = sq.add(&w.scale(Fr::from(2u64))).add_const(Fr::ONE);
    let upper = mul(cs, &next, norm)?;
    let above = is_le(cs, &rhs.add_const(Fr::ONE), &upper, m)?;
    let capped = is_zero(cs, &w.add_const(-Fr::from(1000u64)))?;
    enforce_zero_product(cs, &capped.not(), &above.not())?;
    Ok(w)
}

/// The score in parts per million (twin of `v5::score_ppm`): with `pos = 0`, `q = 0`;
/// with `pos = 1`, `q ∈ [0, 10⁶]` with `q·den ≤ num` and `q = 10⁶` or
/// `(q + 1)·den > num`, where `num = 10⁶·uo²·r` and `den = oo·norm·mult`. Needs both sides
/// below `2^m` (`m = 192` covers the rule's limits) and `den > 0` where `pos = 1`.
#[allow(clippy::too_many_arguments)] // the formula's five inputs, the gate, the claim, the width
pub fn score_ppm(
    cs: &Cs,
    pos: &Num,
    uo: &Num,
    oo: &Num,
    norm: &Num,
    r: &Num,
    mult: &Num,
    claim: u32,
    m: usize,
) -> Result<Num> {
    let q = bounded(cs, u64::from(claim), 1_000_000, PPM_BITS)?;
    enforce_zero_product(cs, &pos.not(), &q)?;
    let uo2 = mul(cs, uo, uo)?;
    let num = mul(cs, &uo2, r)?.scale(Fr::from(1_000_000u64));
    let den = mul(cs, &mul(cs, oo, norm)?, mult)?;
    let lower = mul(cs, &q, &den)?;
    let fits = is_le(cs, &lower, &num, m)?;
    enforce_zero_product(cs, pos, &fits.not())?;
    let upper = lower.add(&den);
    let above = is_le(cs, &num.add_const(Fr::ONE), &upper, m)?;
    let capped = is_zero(cs, &q.add_const(-Fr::from(1_000_000u64)))?;
    let open = mul(cs, pos, &capped.not())?;
    enforce_zero_product(cs, &open, &above.not())?;
    Ok(q)
}

/// Krum's distance floor (twin of `v5::distance_floor`): of the `pairs` distances (each in
/// `[0, 2000]`) whose `member` bit is set, `φ` is the element at position
/// `min(⌊P·q/1000⌋, P − 1)` in ascending order, `P = Σ member`, proven by rank counts:
/// fewer than `pos + 1` members lie below `φ` and at least `pos + 1` lie at or below it.
/// With `active = 0` (Krum did not run) or `quantile_milli = 0`, `φ = 0`. `count_bits`
/// bounds `P`.
pub fn distance_floor(
    cs: &Cs,
    pairs: &[Num],
    member: &[Num],
    active: &Num,
    quantile_milli: u32,
    claim: u64,
    count_bits: usize,
) -> Result<Num> {
    if quantile_milli == 0 {
        return Ok(Num::constant(Fr::ZERO));
    }
    let phi = bounded(cs, claim, 2000, COSINE_DIFF_BITS)?;
    enforce_zero_product(cs, &active.not(), &phi)?;
    let p = member.iter().fold(Num::constant(Fr::ZERO), |s, b| s.add(b));
    // pos = ⌊P·q/1000⌋, less one when that is P (q = 1000).
    let scaled = p.scale(Fr::from(u64::from(quantile_milli)));
    let p_val = p.val.into_bigint().0[0];
    let pos0_val = p_val * u64::from(quantile_milli) / 1000;
    let pos0 = witness(cs, Fr::from(pos0_val))?;
    range_check(cs, &pos0, count_bits)?;
    floor_div(
        cs,
        &scaled,
        &Num::constant(Fr::from(1000u64)),
        &pos0,
        MILLE_BITS,
    )?;
    let at_end = is_le(cs, &p, &pos0, count_bits + 1)?;
    let pos = pos0.sub(&at_end);
    let mut below = Num::constant(Fr::ZERO);
    let mut at_most = Num::constant(Fr::ZERO);
    for (v, b) in pairs.iter().zip(member) {
        let lt = is_le(cs, v, &phi.add_const(-Fr::ONE), COSINE_DIFF_BITS)?;
        let le = is_le(cs, v, &phi, COSINE_DIFF_BITS)?;
        below = below.add(&mul(cs, b, &lt)?);
        at_most = at_most.add(&mul(cs, b, &le)?);
    }
    let few_below = is_le(cs, &below, &pos, count_bits + 1)?;
    let enough = is_le(cs, &pos.add_const(Fr::ONE), &at_most, count_bits + 1)?;
    enforce_zero_product(cs, active, &few_below.not())?;
    enforce_zero_product(cs, active, &enough.not())?;
    Ok(phi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::num::{boolean, fr_i128};
    use merit_protocol::rule::v5;
    use proptest::prelude::*;

    fn w(cs: &Cs, v: i128) -> Num {
        witness(cs, fr_i128(v)).unwrap()
    }

    fn ramp_holds(c: i32, lo: i32, hi: i32, claim: u32) -> bool {
        let cs = Cs::new_ref();
        let x = w(&cs, c.into());
        ramp(&cs, &x, lo, hi, claim).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn weight_holds(norm: u64, median: u64, claim: u32) -> bool {
        let cs = Cs::new_ref();
        let (n, m) = (w(&cs, norm.into()), w(&cs, median.into()));
        mean_weight(&cs, &n, &m, claim, 80).unwrap();
        cs.is_satisfied().unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    fn score_holds(
        pos: bool,
        uo: u128,
        oo: u128,
        norm: u64,
        r: u32,
        mult: u32,
        claim: u32,
    ) -> bool {
        let cs = Cs::new_ref();
        let p = boolean(&cs, pos).unwrap();
        let ins = [
            w(&cs, uo as i128),
            w(&cs, oo as i128),
            w(&cs, norm.into()),
            w(&cs, r.into()),
            w(&cs, mult.into()),
        ];
        score_ppm(
            &cs, &p, &ins[0], &ins[1], &ins[2], &ins[3], &ins[4], claim, 192,
        )
        .unwrap();
        cs.is_satisfied().unwrap()
    }

    fn floor_holds(pairs: &[(u64, bool)], active: bool, q: u32, claim: u64) -> bool {
        let cs = Cs::new_ref();
        let vals: Vec<Num> = pairs.iter().map(|&(v, _)| w(&cs, v.into())).collect();
        let mem: Vec<Num> = pairs
            .iter()
            .map(|&(_, b)| boolean(&cs, b).unwrap())
            .collect();
        let a = boolean(&cs, active).unwrap();
        distance_floor(&cs, &vals, &mem, &a, q, claim, 7).unwrap();
        cs.is_satisfied().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn only_the_native_ramp_passes(c in -1000i32..=1000, lo in -1000i32..1000, span in 1i32..=2000, d in -2i64..=2) {
            let hi = (lo + span).min(1000);
            prop_assume!(lo < hi);
            let r = v5::ramp(c, lo, hi);
            let claim = i64::from(r) + d;
            prop_assume!((0..=1000).contains(&claim));
            prop_assert_eq!(ramp_holds(c, lo, hi, claim as u32), d == 0);
        }

        #[test]
        fn only_the_native_weight_passes(norm in 1u64..1 << 50, median in 1u64..1 << 50, d in -2i64..=2) {
            let wt = v5::mean_weight(norm, median);
            let claim = i64::from(wt) + d;
            prop_assume!((0..=1000).contains(&claim));
            prop_assert_eq!(weight_holds(norm, median, claim as u32), d == 0);
        }

        #[test]
        fn only_the_native_score_passes(
            oo in 1u128..1 << 80,
            norm in 1u64..1 << 40,
            shift in 0u32..12,
            r in 0u32..=1000,
            mult in 1000u32..=8000,
            d in -2i64..=2,
        ) {
            // A Gram-like input: uo² ≤ norm·oo.
            let uo = ((oo * u128::from(norm)) as f64).sqrt() as u128 >> shift;
            prop_assume!(uo > 0 && uo * uo <= oo * u128::from(norm));
            let q = v5::score_ppm(uo, oo, norm, r, mult);
            let claim = i64::from(q) + d;
            prop_assume!((0..=1_000_000).contains(&claim));
            prop_assert_eq!(score_holds(true, uo, oo, norm, r, mult, claim as u32), d == 0);
        }

        #[test]
        fn only_the_native_floor_passes(
            pairs in proptest::collection::vec((0u64..=2000, any::<bool>()), 1..30),
            q in 1u32..=1000,
            d in -3i64..=3,
        ) {
            let members: Vec<u64> = pairs.iter().filter(|p| p.1).map(|p| p.0).collect();
            prop_assume!(!members.is_empty());
            let phi = v5::distance_floor(&members, q);
            let claim = phi as i64 + d;
            prop_assume!((0..=2000).contains(&claim));
            // Another claim passes only when it sits in the same rank gap, i.e. names
            // the same order statistic: never, since φ is one of the values.
            prop_assert_eq!(floor_holds(&pairs, true, q, claim as u64), d == 0);
        }
    }

    fn cosine_holds(g: i64, na: u64, nb: u64, claim_shift: i32) -> bool {
        let cs = Cs::new_ref();
        let ins = [w(&cs, g.into()), w(&cs, na.into()), w(&cs, nb.into())];
        let native = merit_protocol::rule::signed_cosine(g, na, nb);
        let c = signed_cosine_claimed(
            &cs,
            &ins[0],
            &ins[1],
            &ins[2],
            native + claim_shift,
            40,
            110,
        )
        .unwrap();
        if claim_shift == 0 {
            assert_eq!(c.val, fr_i128(native.into()));
        }
        cs.is_satisfied().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_general_cosine_is_the_native_one(g in -(1i64 << 36)..1 << 36, na in 0u64..1 << 36, nb in 0u64..1 << 36) {
            // No Cauchy–Schwarz: |g| may exceed √(na·nb), and norms may be 0.
            prop_assert!(cosine_holds(g, na, nb, 0));
            let native = merit_protocol::rule::signed_cosine(g, na, nb);
            for d in [-2, -1, 1, 2] {
                if (-1000..=1000).contains(&(native + d)) {
                    prop_assert!(!cosine_holds(g, na, nb, d), "claim {} passed", native + d);
                }
            }
        }

        #[test]
        fn to_i128_reads_back_the_integer(v in any::<i64>()) {
            prop_assert_eq!(to_i128(&fr_i128(v.into())), i128::from(v));
        }
    }

    #[test]
    fn the_general_cosine_caps_and_zeroes() {
        // |g| far beyond √(na·nb): capped at ±1000, as natively.
        assert!(cosine_holds(-500, 4, 4, 0) && cosine_holds(500, 4, 4, 0));
        // A zero norm with a nonzero g: 0.
        assert!(cosine_holds(7, 0, 9, 0) && !cosine_holds(7, 0, 9, 1));
        assert!(!cosine_holds(-500, 4, 4, 1) && !cosine_holds(500, 4, 4, -1));
    }

    #[test]
    fn gated_off_values_are_zero() {
        assert!(score_holds(false, 5, 5, 5, 1000, 1000, 0));
        assert!(!score_holds(false, 5, 5, 5, 1000, 1000, 1));
        // A lone update in full agreement earns the whole million; 10⁶ is the cap.
        assert!(score_holds(true, 4, 4, 4, 1000, 1000, 1_000_000));
        assert!(!score_holds(true, 4, 4, 4, 1000, 1000, 999_999));
        assert!(floor_holds(&[(5, true), (9, true)], false, 250, 0));
        assert!(!floor_holds(&[(5, true), (9, true)], false, 250, 5));
        assert!(weight_holds(0, 7, 1000));
        assert!(ramp_holds(-1000, 600, 850, 0) && ramp_holds(1000, 600, 850, 1000));
    }

    #[test]
    fn constraint_counts() {
        let count = |f: &dyn Fn(&Cs)| {
            let cs = Cs::new_ref();
            f(&cs);
            cs.constraints()
        };
        let r = count(&|cs| {
            ramp(cs, &w(cs, 700), 600, 850, v5::ramp(700, 600, 850)).unwrap();
        });
        let s = count(&|cs| {
            let one = boolean(cs, true).unwrap();
            let x = w(cs, 3);
            score_ppm(
                cs,
                &one,
                &x,
                &x,
                &x,
                &w(cs, 1000),
                &w(cs, 1000),
                1_000_000,
                192,
            )
            .unwrap();
        });
        let wt = count(&|cs| {
            mean_weight(
                cs,
                &w(cs, 4000),
                &w(cs, 3000),
                v5::mean_weight(4000, 3000),
                80,
            )
            .unwrap();
        });
        let f = count(&|cs| {
            let pairs: Vec<Num> = (0..28).map(|k| w(cs, 40 * k)).collect();
            let mem: Vec<Num> = (0..28).map(|_| boolean(cs, true).unwrap()).collect();
            let on = boolean(cs, true).unwrap();
            distance_floor(cs, &pairs, &mem, &on, 250, 280, 7).unwrap();
        });
        eprintln!("constraints: ramp {r}, mean weight {wt}, score {s}, floor over 28 pairs {f}");
        // Per slot or per pair of slots, a few hundred each: nothing per parameter.
        assert!(
            r < 100 && wt < 300 && s < 700 && f < 2000,
            "{r} {wt} {s} {f}"
        );
    }
}
