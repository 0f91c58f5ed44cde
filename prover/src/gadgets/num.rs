//! Small integer gadgets on raw R1CS variables: products, bit decompositions, comparisons,
//! zero tests. The round circuit synthesises millions of constraints, so these work on
//! `Variable`s and `LinearCombination`s directly (no `FpVar` bookkeeping, no symbolic LCs) and carry the
//! witness value next to the linear combination.
//!
//! Every value is a field element standing for a (possibly negative) integer; the gadgets
//! that compare state the integer range their inputs must lie in. A witness outside that
//! range cannot satisfy the bit decomposition, so it is refused, never misread.

use crate::cs::Cs;
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use ark_relations::gr1cs::{LinearCombination, SynthesisError, Variable};
use ark_relations::lc;

pub type Lc = LinearCombination<Fr>;
pub type Result<T> = core::result::Result<T, SynthesisError>;

/// A linear combination with its value.
#[derive(Clone, Debug)]
pub struct Num {
    pub lc: Lc,
    pub val: Fr,
}

impl Num {
    pub fn constant(v: Fr) -> Self {
        Num {
            lc: lc!() + (v, Variable::One),
            val: v,
        }
    }
    pub fn var(v: Variable, val: Fr) -> Self {
        Num { lc: lc!() + v, val }
    }
    pub fn add(&self, o: &Num) -> Num {
        Num {
            lc: &self.lc + &o.lc,
            val: self.val + o.val,
        }
    }
    pub fn sub(&self, o: &Num) -> Num {
        Num {
            lc: &self.lc - &o.lc,
            val: self.val - o.val,
        }
    }
    pub fn scale(&self, k: Fr) -> Num {
        Num {
            lc: &self.lc * k,
            val: self.val * k,
        }
    }
    pub fn add_const(&self, k: Fr) -> Num {
        Num {
            lc: self.lc.clone() + (k, Variable::One),
            val: self.val + k,
        }
    }
    /// `1 − self` (for bits).
    pub fn not(&self) -> Num {
        Num::constant(Fr::ONE).sub(self)
    }
}

/// The field element standing for the integer `v`.
pub fn fr_i128(v: i128) -> Fr {
    if v >= 0 {
        Fr::from(v as u128)
    } else {
        -Fr::from(v.unsigned_abs())
    }
}

/// `2^k`.
pub fn pow2(k: usize) -> Fr {
    Fr::from(2u64).pow([k as u64])
}

/// Smallest `L` with `x ≤ 2^L`.
pub fn log2_ceil(x: u64) -> usize {
    if x <= 1 {
        0
    } else {
        64 - (x - 1).leading_zeros() as usize
    }
}

pub fn witness(cs: &Cs, val: Fr) -> Result<Num> {
    let v = cs.new_witness_variable(|| Ok(val))?;
    Ok(Num::var(v, val))
}

pub fn enforce_eq(cs: &Cs, a: &Lc, b: &Lc) -> Result<()> {
    cs.enforce_constraint(a - b, lc!() + Variable::One, lc!())
}

/// `a · b` as a new variable (one constraint).
pub fn mul(cs: &Cs, a: &Num, b: &Num) -> Result<Num> {
    let c = witness(cs, a.val * b.val)?;
    cs.enforce_constraint(a.lc.clone(), b.lc.clone(), c.lc.clone())?;
    Ok(c)
}

/// Enforces `a · b = 0` (one constraint).
pub fn enforce_zero_product(cs: &Cs, a: &Num, b: &Num) -> Result<()> {
    cs.enforce_constraint(a.lc.clone(), b.lc.clone(), lc!())
}

/// A boolean witness (one constraint).
pub fn boolean(cs: &Cs, b: bool) -> Result<Num> {
    let v = cs.new_witness_variable(|| Ok(Fr::from(b)))?;
    cs.enforce_constraint(lc!() + v, lc!() + v - Variable::One, lc!())?;
    Ok(Num::var(v, Fr::from(b)))
}

/// The low `n` bits of `val` (as an integer below the modulus).
pub fn bits_of(val: &Fr, n: usize) -> Vec<bool> {
    let b = val.into_bigint();
    (0..n).map(|i| b.get_bit(i)).collect()
}

/// Decomposes `x` into `n` bits, little-endian (`n + 1` constraints): proves `0 ≤ x < 2^n`.
pub fn to_bits(cs: &Cs, x: &Num, n: usize) -> Result<Vec<Num>> {
    let bits = bits_of(&x.val, n)
        .into_iter()
        .map(|b| boolean(cs, b))
        .collect::<Result<Vec<_>>>()?;
    let mut sum = lc!();
    let mut k = Fr::ONE;
    for b in &bits {
        sum = sum + (k, &b.lc);
        k.double_in_place();
    }
    enforce_eq(cs, &sum, &x.lc)?;
    Ok(bits)
}

/// Proves `0 ≤ x < 2^n` (`n + 1` constraints).
pub fn range_check(cs: &Cs, x: &Num, n: usize) -> Result<()> {
    to_bits(cs, x, n).map(|_| ())
}

/// The bit `[a ≤ b]`, for integers with `|b − a| < 2^m` (`m + 2` constraints).
pub fn is_le(cs: &Cs, a: &Num, b: &Num, m: usize) -> Result<Num> {
    let t = b.sub(a).add_const(pow2(m));
    let mut bits = to_bits(cs, &t, m + 1)?;
    Ok(bits.pop().expect("m + 1 ≥ 1 bits"))
}

/// The bit `[x = 0]` (two constraints).
pub fn is_zero(cs: &Cs, x: &Num) -> Result<Num> {
    let z = witness(cs, Fr::from(x.val == Fr::ZERO))?;
    let inv = witness(cs, x.val.inverse().unwrap_or(Fr::ZERO))?;
    // x·inv = 1 − z and x·z = 0: z = 1 forces x = 0; x = 0 forces z = 1.
    cs.enforce_constraint(x.lc.clone(), inv.lc.clone(), z.not().lc)?;
    enforce_zero_product(cs, x, &z)?;
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    fn le_holds(a: i128, b: i128, m: usize) -> Option<bool> {
        let cs = Cs::new_ref();
        let x = witness(&cs, fr_i128(a)).unwrap();
        let y = witness(&cs, fr_i128(b)).unwrap();
        let c = is_le(&cs, &x, &y, m).unwrap();
        cs.is_satisfied().unwrap().then_some(c.val == Fr::ONE)
    }

    #[test]
    fn is_le_matches_integers_and_refuses_out_of_range() {
        assert_eq!(le_holds(3, 5, 4), Some(true));
        assert_eq!(le_holds(5, 5, 4), Some(true));
        assert_eq!(le_holds(6, 5, 4), Some(false));
        assert_eq!(le_holds(-7, -8, 4), Some(false));
        // |b − a| = 16 is not below 2^4: no satisfying decomposition.
        assert_eq!(le_holds(0, 16, 4), None);
    }

    #[test]
    fn is_zero_and_range() {
        for v in [0i128, 1, -1, 12345] {
            let cs = Cs::new_ref();
            let x = witness(&cs, fr_i128(v)).unwrap();
            let z = is_zero(&cs, &x).unwrap();
            assert!(cs.is_satisfied().unwrap());
            assert_eq!(z.val == Fr::ONE, v == 0);
        }
        let cs = Cs::new_ref();
        let x = witness(&cs, fr_i128(-1)).unwrap();
        range_check(&cs, &x, 8).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        assert_eq!(log2_ceil(8), 3);
        assert_eq!(log2_ceil(9), 4);
        assert_eq!(log2_ceil(1), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn comparison_agrees_with_native(a in -(1i128 << 40)..(1 << 40), b in -(1i128 << 40)..(1 << 40)) {
            prop_assert_eq!(le_holds(a, b, 42), Some(a <= b));
        }
    }
}
