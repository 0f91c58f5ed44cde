//! Fixed-point vectors in-circuit: range-checked allocation, packing, packed Gram products
//! and masked sums. Twins of `merit_protocol::pack` and `merit_protocol::rule::{dot, norm_sq}`.
//!
//! A value `v` is allocated as its offset-binary form `e = v + 2^15`, a variable proven to
//! lie in `[0, 2^16)` by 15 bits plus one constraint for the top bit (16 constraints per
//! value). That range check is what soundness needs: the commitment binds the packed
//! element `Σ_j e_j·2^16j`, and only with every `e_j < 2^16` is that sum's decomposition
//! unique, i.e. are the values the circuit computes with the committed ones. Products of
//! offsets are small non-negative integers (< 2^32), which keeps the prover's MSMs cheap;
//! signed quantities are recovered linearly (`u·w = e·e' − 2^15(e + e') + 2^30`).

use super::num::{enforce_eq, log2_ceil, pow2, range_check, witness, Lc, Num, Result};
use crate::cs::Cs;
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_relations::gr1cs::{SynthesisError, Variable};
use ark_relations::lc;
use merit_protocol::pack::{pack_chunk, PADDING, VALUES_PER_ELEMENT};

pub const OFFSET: i64 = 1 << 15;

/// A vector of range-checked values: one variable per offset value, plus `Σ e_j`.
#[derive(Clone, Debug)]
pub struct VecVar {
    pub vars: Vec<Variable>,
    pub values: Vec<i16>,
    /// `Σ_j e_j` as one variable.
    pub sum: Num,
}

impl VecVar {
    pub fn len(&self) -> usize {
        self.vars.len()
    }
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
    pub fn offset(&self, j: usize) -> u64 {
        (i64::from(self.values[j]) + OFFSET) as u64
    }
}

/// Allocates `values` with a 16-bit range check each (16 constraints per value).
pub fn alloc_vector(cs: &Cs, values: &[i16]) -> Result<VecVar> {
    let mut vars = Vec::with_capacity(values.len());
    let mut total: u64 = 0;
    let mut sum_lc = lc!();
    for &v in values {
        let e = (i64::from(v) + OFFSET) as u64;
        total += e;
        let ev = range16(cs, e)?;
        sum_lc = sum_lc + ev;
        vars.push(ev);
    }
    let sum = witness(cs, Fr::from(total))?;
    enforce_eq(cs, &sum_lc, &sum.lc)?;
    Ok(VecVar {
        vars,
        values: values.to_vec(),
        sum,
    })
}

/// One offset value `e`, proven to lie in `[0, 2^16)` (16 constraints).
pub fn range16(cs: &Cs, e: u64) -> Result<Variable> {
    let ev = cs.new_witness_variable(|| Ok(Fr::from(e)))?;
    let mut low = lc!();
    let mut k = Fr::ONE;
    for t in 0..15 {
        let b = (e >> t) & 1;
        let bv = cs.new_witness_variable(|| Ok(Fr::from(b)))?;
        cs.enforce_constraint(lc!() + bv, lc!() + bv - Variable::One, lc!())?;
        low += (k, bv);
        k.double_in_place();
    }
    // The rest, e − low, must be 0 or 2^15.
    let rest = lc!() + ev - &low;
    cs.enforce_constraint(rest.clone(), rest - (pow2(15), Variable::One), lc!())?;
    Ok(ev)
}

/// The packed elements of `v` (`pack(v)`): linear in the offsets, no constraints.
pub fn pack_var(v: &VecVar) -> Vec<Num> {
    let mut out = Vec::with_capacity(v.len().div_ceil(VALUES_PER_ELEMENT));
    for (c, chunk) in v.vars.chunks(VALUES_PER_ELEMENT).enumerate() {
        let start = c * VALUES_PER_ELEMENT;
        let mut l = lc!();
        let mut padding = Fr::ZERO;
        for j in 0..VALUES_PER_ELEMENT {
            let k = pow2(16 * j);
            match chunk.get(j) {
                Some(&var) => l += (k, var),
                None => padding += k * Fr::from(u64::from(PADDING)),
            }
        }
        l += (padding, Variable::One);
        let val = pack_chunk(&v.values[start..start + chunk.len()]);
        out.push(Num { lc: l, val });
    }
    out
}

/// Bits of one offset Gram entry: `Σ_j e_j·e'_j < D·2^32 ≤ 2^(32 + ⌈log₂D⌉)`.
pub fn gram_entry_bits(dim: usize) -> usize {
    32 + log2_ceil(dim as u64)
}

/// How many Gram entries one product can carry side by side without wrapping: entries of
/// `s` bits at offsets `0, s, 2s, …` stay below `2^253 < r` while `p·s ≤ 253`.
pub fn pairs_per_product(dim: usize) -> usize {
    253 / gram_entry_bits(dim)
}

/// The signed inner products `⟨a, b_m⟩` for every `b_m`, from one product per coordinate:
/// `e_a · Σ_m 2^(s·m) e_(b_m)`, whose sum over the coordinates is `Σ_m 2^(s·m) G_m` with
/// `G_m = Σ e_a·e_(b_m) < 2^s`. The prover splits that total into the `G_m` (each proven
/// below `2^s`); as the total is below `2^253 < r`, the split is the integers' one, so each
/// `G_m` is the true offset product. `D` constraints plus `(s + 1)` per entry. More partners
/// than `pairs_per_product(D)` would wrap around the modulus and are refused
/// (`SynthesisError::Unsatisfiable`) before anything is allocated.
pub fn packed_dots(cs: &Cs, a: &VecVar, bs: &[&VecVar]) -> Result<Vec<Num>> {
    let dim = a.len();
    let s = gram_entry_bits(dim);
    if bs.is_empty() || bs.len() > pairs_per_product(dim) || bs.iter().any(|b| b.len() != dim) {
        return Err(SynthesisError::Unsatisfiable);
    }
    let shifts: Vec<Fr> = (0..bs.len()).map(|m| pow2(s * m)).collect();
    let mut total = lc!();
    let mut entries = vec![0u128; bs.len()];
    let mut signed_vals = vec![0i128; bs.len()];
    for j in 0..dim {
        let ea = a.offset(j);
        let mut right = lc!();
        let mut prod = Fr::ZERO;
        for (m, b) in bs.iter().enumerate() {
            right += (shifts[m], b.vars[j]);
            let p = ea * b.offset(j);
            entries[m] += u128::from(p);
            signed_vals[m] += i128::from(a.values[j]) * i128::from(b.values[j]);
            prod += shifts[m] * Fr::from(p);
        }
        let pv = cs.new_witness_variable(|| Ok(prod))?;
        cs.enforce_constraint(lc!() + a.vars[j], right, lc!() + pv)?;
        total = total + pv;
    }
    let off = Fr::from(OFFSET as u64);
    let d_c2 = Fr::from(dim as u64) * off * off;
    let mut split = lc!();
    let mut out = Vec::with_capacity(bs.len());
    for (m, b) in bs.iter().enumerate() {
        let g = witness(cs, Fr::from(entries[m]))?;
        range_check(cs, &g, s)?;
        split = split + (shifts[m], &g.lc);
        // Σ u·w = Σ e·e' − 2^15 (Σ e + Σ e') + D·2^30.
        let signed: Lc = g.lc - (off, &a.sum.lc) - (off, &b.sum.lc) + (d_c2, Variable::One);
        out.push(Num {
            lc: signed,
            val: super::num::fr_i128(signed_vals[m]),
        });
    }
    enforce_eq(cs, &total, &split)?;
    Ok(out)
}

/// The Gram matrix `G[i][k] = ⟨v_i, v_k⟩` of `vs`, every pair computed once. Row `i`
/// takes itself and the slots `i+1 … i+⌊(N−1)/2⌋` (mod N), plus `i + N/2` for `i < N/2`
/// when N is even (a round-robin tournament: each unordered pair in exactly one row), and
/// packs them `pairs_per_product(D)` to a product: at N = 8 one product per slot per
/// parameter instead of 4.5.
pub fn gram_matrix(cs: &Cs, vs: &[VecVar]) -> Result<Vec<Vec<Num>>> {
    let n = vs.len();
    let Some(first) = vs.first() else {
        return Ok(Vec::new());
    };
    let per = pairs_per_product(first.len()).max(1);
    let mut gram: Vec<Vec<Option<Num>>> = vec![vec![None; n]; n];
    for i in 0..n {
        let mut row = vec![i];
        row.extend((1..=(n - 1) / 2).map(|d| (i + d) % n));
        if n.is_multiple_of(2) && i < n / 2 {
            row.push(i + n / 2);
        }
        for group in row.chunks(per) {
            let bs: Vec<&VecVar> = group.iter().map(|&k| &vs[k]).collect();
            for (&k, d) in group.iter().zip(packed_dots(cs, &vs[i], &bs)?) {
                gram[k][i] = Some(d.clone());
                gram[i][k] = Some(d);
            }
        }
    }
    Ok(gram
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|x| x.expect("every pair lies in one row"))
                .collect()
        })
        .collect())
}

/// The cross matrix `X[i][k] = ⟨a_i, b_k⟩` (not symmetric): each row packs its partners
/// `pairs_per_product(D)` to a product, `N·⌈N/p⌉` products per coordinate.
pub fn cross_matrix(cs: &Cs, a: &[VecVar], b: &[VecVar]) -> Result<Vec<Vec<Num>>> {
    let Some(first) = a.first() else {
        return Ok(Vec::new());
    };
    let per = pairs_per_product(first.len()).max(1);
    let refs: Vec<&VecVar> = b.iter().collect();
    a.iter()
        .map(|ai| {
            let mut row = Vec::with_capacity(b.len());
            for group in refs.chunks(per) {
                row.extend(packed_dots(cs, ai, group)?);
            }
            Ok(row)
        })
        .collect()
}

/// `Σ_i w_i · u_i` per coordinate for weights `w_i` (any field values), `N` products per
/// coordinate; `total = Σ w_i`. Twin of the capped mean's numerator (`rule::v5`).
pub fn weighted_sum(cs: &Cs, weights: &[Num], vectors: &[VecVar], total: &Num) -> Result<Vec<Num>> {
    let dim = vectors.first().map_or(0, |v| v.len());
    let off = Fr::from(OFFSET as u64);
    let mut out = Vec::with_capacity(dim);
    for j in 0..dim {
        let mut l = lc!();
        let mut val = Fr::ZERO;
        for (i, v) in vectors.iter().enumerate() {
            let p = weights[i].val * Fr::from(v.offset(j));
            let pv = cs.new_witness_variable(|| Ok(p))?;
            cs.enforce_constraint(weights[i].lc.clone(), lc!() + v.vars[j], lc!() + pv)?;
            l = l + pv;
            val += weights[i].val * super::num::fr_i128(i128::from(v.values[j]));
        }
        // Σ w·u = Σ w·e − 2^15·Σ w.
        l = l - (off, &total.lc);
        out.push(Num { lc: l, val });
    }
    Ok(out)
}

/// `Σ_i bit_i · u_i` per coordinate, as linear combinations over fresh products
/// (`N` constraints per coordinate); `count = Σ bit_i`. Returns the sums' LCs and values.
pub fn masked_sum(cs: &Cs, bits: &[Num], vectors: &[VecVar], count: &Num) -> Result<Vec<Num>> {
    let dim = vectors.first().map_or(0, |v| v.len());
    let on: Vec<bool> = bits.iter().map(|b| b.val == Fr::ONE).collect();
    let off = Fr::from(OFFSET as u64);
    let mut out = Vec::with_capacity(dim);
    for j in 0..dim {
        let mut l = lc!();
        let mut val: i64 = 0;
        for (i, v) in vectors.iter().enumerate() {
            let p = if on[i] { v.offset(j) } else { 0 };
            let pv = cs.new_witness_variable(|| Ok(Fr::from(p)))?;
            cs.enforce_constraint(bits[i].lc.clone(), lc!() + v.vars[j], lc!() + pv)?;
            l = l + pv;
            if on[i] {
                val += i64::from(v.values[j]);
            }
        }
        // Σ bit·u = Σ bit·e − 2^15·count.
        l = l - (off, &count.lc);
        out.push(Num {
            lc: l,
            val: super::num::fr_i128(i128::from(val)),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::num::{boolean, fr_i128};

    use merit_protocol::pack::pack;
    use merit_protocol::rule;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn packing_dot_and_sum_agree_with_protocol(
            a in proptest::collection::vec(any::<i16>(), 1..40),
            seed in any::<u64>(),
            m in proptest::collection::vec(any::<bool>(), 3),
        ) {
            let b: Vec<i16> = a.iter().enumerate().map(|(i, &x)| x.wrapping_mul(31).wrapping_add((seed >> (i % 48)) as i16)).collect();
            let cs = Cs::new_ref();
            let va = alloc_vector(&cs, &a).unwrap();
            let vb = alloc_vector(&cs, &b).unwrap();
            let packed = pack_var(&va);
            let want = pack(&a);
            prop_assert_eq!(packed.len(), want.len());
            for (p, w) in packed.iter().zip(&want) {
                prop_assert_eq!(p.val, *w);
            }
            let d = packed_dots(&cs, &va, &[&vb]).unwrap().remove(0);
            prop_assert_eq!(d.val, fr_i128(i128::from(rule::dot(&a, &b))));
            let n = packed_dots(&cs, &va, &[&va]).unwrap().remove(0);
            prop_assert_eq!(n.val, Fr::from(rule::norm_sq(&a)));
            let bits: Vec<Num> = m.iter().map(|&x| boolean(&cs, x).unwrap()).collect();
            let count = bits.iter().fold(Num::constant(Fr::ZERO), |s, b| s.add(b));
            let vs = [va.clone(), vb.clone(), va.clone()];
            let sums = masked_sum(&cs, &bits, &vs, &count).unwrap();
            for j in 0..a.len() {
                let w: i64 = [&a, &b, &a].iter().zip(&m).filter(|(_, &x)| x).map(|(v, _)| i64::from(v[j])).sum();
                prop_assert_eq!(sums[j].val, fr_i128(i128::from(w)));
            }
            prop_assert!(cs.is_satisfied().unwrap());
        }
    }

    fn vec_of(seed: u64, dim: usize, extreme: bool) -> Vec<i16> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match (extreme, x % 3) {
                    (true, 0) => i16::MIN,
                    (true, 1) => i16::MAX,
                    _ => x as i16,
                }
            })
            .collect()
    }

    #[test]
    fn the_packed_gram_matrix_is_the_native_one_for_every_slot_count() {
        for n in 1usize..=9 {
            for (dim, extreme) in [(1, true), (7, false), (33, true)] {
                let cs = Cs::new_ref();
                let raw: Vec<Vec<i16>> = (0..n)
                    .map(|i| vec_of(i as u64 * 31 + dim as u64, dim, extreme))
                    .collect();
                let vs: Vec<VecVar> = raw.iter().map(|v| alloc_vector(&cs, v).unwrap()).collect();
                let before = cs.num_constraints();
                let g = gram_matrix(&cs, &vs).unwrap();
                let products = n * ((n / 2 + 1).div_ceil(pairs_per_product(dim)));
                // One product per coordinate per group, plus each entry's split.
                assert!(
                    cs.num_constraints() - before
                        <= products * dim + n * n * (gram_entry_bits(dim) + 2)
                );
                for i in 0..n {
                    for k in 0..n {
                        assert_eq!(
                            g[i][k].val,
                            fr_i128(i128::from(rule::dot(&raw[i], &raw[k]))),
                            "n={n} dim={dim} ({i},{k})"
                        );
                    }
                }
                assert!(cs.is_satisfied().unwrap(), "n={n} dim={dim}");
            }
        }
    }

    #[test]
    fn more_partners_than_fit_below_the_modulus_are_refused() {
        let cs = Cs::new_ref();
        let v = alloc_vector(&cs, &[1, 2, 3]).unwrap();
        let p = pairs_per_product(3);
        assert_eq!((gram_entry_bits(3), p), (34, 7));
        assert_eq!(pairs_per_product(8192), 5);
        assert_eq!(pairs_per_product(1 << 19), 4);
        let too_many = vec![&v; p + 1];
        assert!(matches!(
            packed_dots(&cs, &v, &too_many),
            Err(SynthesisError::Unsatisfiable)
        ));
        assert!(packed_dots(&cs, &v, &too_many[..p]).is_ok());
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn a_gram_entry_shifted_into_its_neighbour_is_unprovable() {
        // Moving 2^s from one entry's slot into the next keeps the packed total the same;
        // only the entries' range checks tell the two splits apart.
        let cs = Cs::new_ref();
        let a = alloc_vector(&cs, &vec_of(1, 5, false)).unwrap();
        let b = alloc_vector(&cs, &vec_of(2, 5, false)).unwrap();
        let out = packed_dots(&cs, &a, &[&a, &b]).unwrap();
        assert!(cs.is_satisfied().unwrap());
        let s = gram_entry_bits(5);
        let var_of = |n: &Num| match n.lc.0.iter().find(|(c, _)| *c == Fr::ONE) {
            Some((_, v)) if v.is_witness() => v.index().expect("a witness has an index"),
            _ => panic!("entry variable"),
        };
        let (g0, g1) = (var_of(&out[0]), var_of(&out[1]));
        {
            let mut sys = cs.borrow_mut().unwrap();
            let w = &mut sys.assignments.witness_assignment;
            // g0 + 2^s (its low s bits are unchanged, so its bits stay as they are), g1 − 1
            // with g1's bits recomputed: the split still adds up to the total.
            w[g0] += pow2(s);
            w[g1] -= Fr::ONE;
            let bits = crate::gadgets::num::bits_of(&w[g1], s);
            for (t, b) in bits.into_iter().enumerate() {
                w[g1 + 1 + t] = Fr::from(b);
            }
        }
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn a_value_off_the_16_bit_range_is_refused() {
        for (e, ok) in [
            (0u64, true),
            (0xffff, true),
            (0x1_0000, false),
            (0x1_8005, false),
        ] {
            let cs = Cs::new_ref();
            let _ = range16(&cs, e).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), ok, "{e:#x}");
        }
        // A negative offset (a field element near the modulus) is refused too.
        let cs = Cs::new_ref();
        let v = cs.new_witness_variable(|| Ok(-Fr::ONE)).unwrap();
        let _ = v;
        let x = witness(&cs, -Fr::ONE).unwrap();
        crate::gadgets::num::range_check(&cs, &x, 16).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
