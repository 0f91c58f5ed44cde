//! Fixed-point vectors in-circuit: range-checked allocation, packing, dot products and
//! masked sums. Twins of `merit_protocol::pack` and `merit_protocol::rule::{dot, norm_sq}`.
//!
//! A value `v` is allocated as its offset-binary form `e = v + 2^15`, a variable proven to
//! lie in `[0, 2^16)` by 15 bits plus one constraint for the top bit (16 constraints per
//! value). That range check is what soundness needs: the commitment binds the packed
//! element `Σ_j e_j·2^16j`, and only with every `e_j < 2^16` is that sum's decomposition
//! unique, i.e. are the values the circuit computes with the committed ones. Products of
//! offsets are small non-negative integers (< 2^32), which keeps the prover's MSMs cheap;
//! signed quantities are recovered linearly (`u·w = e·e' − 2^15(e + e') + 2^30`).

use super::num::{enforce_eq, pow2, witness, Lc, Num, Result};
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::lc;
use ark_relations::r1cs::{ConstraintSystemRef, Variable};
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
pub fn alloc_vector(cs: &ConstraintSystemRef<Fr>, values: &[i16]) -> Result<VecVar> {
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
pub fn range16(cs: &ConstraintSystemRef<Fr>, e: u64) -> Result<Variable> {
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
pub fn pack_var(cs: &ConstraintSystemRef<Fr>, v: &VecVar) -> Result<Vec<FpVar<Fr>>> {
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
        out.push(Num { lc: l, val }.to_fpvar(cs)?);
    }
    Ok(out)
}

/// The signed inner product `⟨a, b⟩` as one variable (`D + 1` constraints; `D` for a norm).
pub fn dot(cs: &ConstraintSystemRef<Fr>, a: &VecVar, b: &VecVar) -> Result<Num> {
    assert_eq!(a.len(), b.len(), "dot of vectors of different lengths");
    let mut prods = lc!();
    let mut total: i128 = 0;
    for j in 0..a.len() {
        let p = a.offset(j) * b.offset(j);
        let pv = cs.new_witness_variable(|| Ok(Fr::from(p)))?;
        cs.enforce_constraint(lc!() + a.vars[j], lc!() + b.vars[j], lc!() + pv)?;
        prods = prods + pv;
        total += i128::from(a.values[j]) * i128::from(b.values[j]);
    }
    // Σ u·w = Σ e·e' − 2^15 (Σ e + Σ e') + D·2^30.
    let off = Fr::from(OFFSET as u64);
    let d_c2 = Fr::from(a.len() as u64) * off * off;
    let signed: Lc = prods - (off, &a.sum.lc) - (off, &b.sum.lc) + (d_c2, Variable::One);
    let out = witness(cs, super::num::fr_i128(total))?;
    enforce_eq(cs, &signed, &out.lc)?;
    Ok(out)
}

/// `Σ_i bit_i · u_i` per coordinate, as linear combinations over fresh products
/// (`N` constraints per coordinate); `count = Σ bit_i`. Returns the sums' LCs and values.
pub fn masked_sum(
    cs: &ConstraintSystemRef<Fr>,
    bits: &[Num],
    vectors: &[VecVar],
    count: &Num,
) -> Result<Vec<Num>> {
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
    use ark_r1cs_std::R1CSVar;
    use ark_relations::r1cs::ConstraintSystem;
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
            let cs = ConstraintSystem::<Fr>::new_ref();
            let va = alloc_vector(&cs, &a).unwrap();
            let vb = alloc_vector(&cs, &b).unwrap();
            let packed = pack_var(&cs, &va).unwrap();
            let want = pack(&a);
            prop_assert_eq!(packed.len(), want.len());
            for (p, w) in packed.iter().zip(&want) {
                prop_assert_eq!(p.value().unwrap(), *w);
            }
            let d = dot(&cs, &va, &vb).unwrap();
            prop_assert_eq!(d.val, fr_i128(i128::from(rule::dot(&a, &b))));
            let n = dot(&cs, &va, &va).unwrap();
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

    #[test]
    fn a_value_off_the_16_bit_range_is_refused() {
        for (e, ok) in [
            (0u64, true),
            (0xffff, true),
            (0x1_0000, false),
            (0x1_8005, false),
        ] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            range16(&cs, e).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), ok, "{e:#x}");
        }
        // A negative offset (a field element near the modulus) is refused too.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v = cs.new_witness_variable(|| Ok(-Fr::ONE)).unwrap();
        let _ = v;
        let x = witness(&cs, -Fr::ONE).unwrap();
        crate::gadgets::num::range_check(&cs, &x, 16).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
