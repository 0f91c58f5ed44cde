//! Selection gadgets for Multi-Krum: the sum of the `k` smallest of a row of distances, and
//! the `keep` lowest scores with ties broken by index. Twins of
//! `merit_protocol::rule::{k_smallest, keep_lowest}`.

use super::num::{boolean, enforce_eq, enforce_zero_product, is_le, mul, witness, Num, Result};
use crate::cs::Cs;
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_relations::lc;

/// The sum of the `count` smallest `values[k]` over the `member`s (bits), proven with the
/// prover's hint: which members are `chosen` and the `threshold` (the `count`-th smallest).
///
/// Constraints: chosen ⊆ members, `Σ chosen = count`, every chosen value `≤ threshold` and
/// every unchosen member `≥ threshold`. Whatever ties the hint picks, the sum is the same.
/// Values (and the threshold) must be non-negative and below `2^m`.
pub fn k_smallest_sum(
    cs: &Cs,
    values: &[Num],
    member: &[Num],
    count: &Num,
    chosen: &[bool],
    threshold: Fr,
    m: usize,
) -> Result<Num> {
    let tau = witness(cs, threshold)?;
    let mut picked = lc!();
    let mut sum = Num::constant(Fr::ZERO);
    for k in 0..values.len() {
        let s = boolean(cs, chosen[k])?;
        enforce_zero_product(cs, &s, &member[k].not())?;
        let below = is_le(cs, &values[k], &tau, m)?;
        enforce_zero_product(cs, &s, &below.not())?;
        let above = is_le(cs, &tau, &values[k], m)?;
        enforce_zero_product(cs, &member[k].sub(&s), &above.not())?;
        picked = picked + &s.lc;
        sum = sum.add(&mul(cs, &s, &values[k])?);
    }
    enforce_eq(cs, &picked, &count.lc)?;
    Ok(sum)
}

/// Accept bits: of the `member`s, the `keep` with the lowest `scores`, ties by index.
///
/// `j` precedes `i` when `score_j < score_i`, or equal and `j < i` (one comparison per
/// pair); `rank_i` counts the members preceding `i`, and `i` is kept when it is a member
/// with `rank_i < keep`. Scores must be non-negative and below `2^m`; `|keep| < 2^c − N`.
pub fn keep_lowest(
    cs: &Cs,
    scores: &[Num],
    member: &[Num],
    keep: &Num,
    m: usize,
    c: usize,
) -> Result<Vec<Num>> {
    let n = scores.len();
    // prec[j][i] = [j precedes i].
    let mut prec: Vec<Vec<Option<Num>>> = vec![vec![None; n]; n];
    for a in 0..n {
        for b in a + 1..n {
            let ab = is_le(cs, &scores[a], &scores[b], m)?;
            prec[b][a] = Some(ab.not());
            prec[a][b] = Some(ab);
        }
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut rank = Num::constant(Fr::ZERO);
        for (j, row) in prec.iter().enumerate() {
            if let Some(p) = &row[i] {
                if j != i {
                    rank = rank.add(&mul(cs, &member[j], p)?);
                }
            }
        }
        let below = is_le(cs, &rank.add_const(Fr::ONE), keep, c)?;
        out.push(mul(cs, &member[i], &below)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use merit_protocol::rule;
    use proptest::prelude::*;

    fn nums(cs: &Cs, v: &[u64]) -> Vec<Num> {
        v.iter()
            .map(|&x| witness(cs, Fr::from(x)).unwrap())
            .collect()
    }
    fn bits(cs: &Cs, v: &[bool]) -> Vec<Num> {
        v.iter().map(|&x| boolean(cs, x).unwrap()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn k_smallest_agrees_with_native(
            vals in proptest::collection::vec(0u64..20, 1..7),
            mem in proptest::collection::vec(any::<bool>(), 7),
            k in 0usize..7,
        ) {
            let n = vals.len();
            let idx: Vec<usize> = (0..n).filter(|&i| mem[i]).collect();
            prop_assume!(k <= idx.len());
            let sub: Vec<u64> = idx.iter().map(|&i| vals[i]).collect();
            let (want, chosen_sub, tau) = rule::k_smallest(&sub, k);
            let mut chosen = vec![false; n];
            for c in chosen_sub { chosen[idx[c]] = true; }
            let cs = Cs::new_ref();
            let v = nums(&cs, &vals);
            let m = bits(&cs, &mem[..n]);
            let count = witness(&cs, Fr::from(k as u64)).unwrap();
            let s = k_smallest_sum(&cs, &v, &m, &count, &chosen, Fr::from(tau), 8).unwrap();
            prop_assert!(cs.is_satisfied().unwrap());
            prop_assert_eq!(s.val, Fr::from(want));
            // A hint that skips a smaller member (when one exists) is refused.
            if k >= 1 && k < idx.len() {
                let worst = *idx.iter().filter(|&&i| !chosen[i]).max_by_key(|&&i| (vals[i], i)).unwrap();
                let best = *idx.iter().filter(|&&i| chosen[i]).min_by_key(|&&i| (vals[i], i)).unwrap();
                if vals[worst] > vals[best] {
                    let mut bad = chosen.clone();
                    bad[worst] = true;
                    bad[best] = false;
                    for t in [tau, vals[worst]] {
                        let cs = Cs::new_ref();
                        let v = nums(&cs, &vals);
                        let m = bits(&cs, &mem[..n]);
                        let count = witness(&cs, Fr::from(k as u64)).unwrap();
                        k_smallest_sum(&cs, &v, &m, &count, &bad, Fr::from(t), 8).unwrap();
                        prop_assert!(!cs.is_satisfied().unwrap());
                    }
                }
            }
        }

        #[test]
        fn keep_lowest_agrees_with_native(
            scores in proptest::collection::vec(0u64..6, 1..7),
            mem in proptest::collection::vec(any::<bool>(), 7),
            keep in 0usize..7,
        ) {
            let n = scores.len();
            let want = rule::keep_lowest(&scores, &mem[..n], keep);
            let cs = Cs::new_ref();
            let s = nums(&cs, &scores);
            let m = bits(&cs, &mem[..n]);
            let k = witness(&cs, Fr::from(keep as u64)).unwrap();
            let got = keep_lowest(&cs, &s, &m, &k, 4, 5).unwrap();
            prop_assert!(cs.is_satisfied().unwrap());
            let got: Vec<bool> = got.iter().map(|b| b.val == Fr::ONE).collect();
            prop_assert_eq!(got, want);
        }
    }
}
