//! Poseidon in R1CS on raw linear combinations: the constraint twin of
//! `merit_protocol::poseidon::hash` (ark-crypto-primitives' `PoseidonSponge`; SPEC.md
//! §3.3–3.5), for any width.
//!
//! Why not ark-crypto-primitives' `PoseidonSpongeVar`: it builds every MDS sum as a chain of
//! symbolic linear combinations, which at t = 17 held about 3 GiB for a round of 8 slots ×
//! 8,192 parameters and took seconds to inline. Here the linear layers are folded ahead of
//! time. After the first S-box layer every state element is a fixed affine combination of
//! the S-box outputs so far, and its coefficients depend only on the configuration: a
//! [`Plan`] computes them once, and each permutation only instantiates them. Every S-box is
//! three constraints (`x²`, `x⁴`, `x⁵`), as in the arkworks gadget.

use super::num::{mul, Num, Result};
use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::PoseidonConfig;
use ark_ff::{AdditiveGroup, Field};

use crate::cs::Cs;
use ark_relations::gr1cs::Variable;
use ark_relations::lc;

/// `Σ coeff · y[index] + constant`, over the S-box outputs `y` of one permutation.
#[derive(Clone, Debug)]
struct Affine {
    terms: Vec<(usize, Fr)>,
    constant: Fr,
}

/// A configuration's permutation, with its linear layers folded.
#[derive(Clone, Debug)]
pub struct Plan {
    width: usize,
    rate: usize,
    /// Round 0's constants: its S-boxes take the input state element by element.
    first: Vec<Fr>,
    /// Every later S-box input, in the order the S-boxes run.
    sboxes: Vec<Affine>,
    /// The state after the last round.
    output: Vec<Affine>,
}

impl Plan {
    pub fn new(c: &PoseidonConfig<Fr>) -> Self {
        assert_eq!(c.alpha, 5, "the S-box gadget is x^5");
        assert!(c.full_rounds >= 2, "round 0 must be a full round");
        let t = c.rate + c.capacity;
        let half = c.full_rounds / 2;
        let rounds = c.full_rounds + c.partial_rounds;
        let k_max = t * c.full_rounds + c.partial_rounds;
        // Dense rows over y; `lo` is the first y any row can still refer to (a full S-box
        // layer replaces every element, so older outputs drop out).
        let unit = |i: usize| {
            let mut r = vec![Fr::ZERO; k_max];
            r[i] = Fr::ONE;
            (r, Fr::ZERO)
        };
        let mut state: Vec<(Vec<Fr>, Fr)> = (0..t).map(unit).collect();
        let mut lo = 0;
        let mut next = t;
        let mut sboxes = Vec::new();
        let affine = |row: &(Vec<Fr>, Fr), lo: usize, hi: usize| Affine {
            terms: (lo..hi)
                .filter(|&k| row.0[k] != Fr::ZERO)
                .map(|k| (k, row.0[k]))
                .collect(),
            constant: row.1,
        };
        for r in 0..rounds {
            if r > 0 {
                for (j, s) in state.iter_mut().enumerate() {
                    s.1 += c.ark[r][j];
                }
                let full = r < half || r >= half + c.partial_rounds;
                let touched = if full { t } else { 1 };
                let layer = next;
                for s in state.iter_mut().take(touched) {
                    sboxes.push(affine(s, lo, next));
                    *s = unit(next);
                    next += 1;
                }
                if full {
                    lo = layer;
                }
            }
            let mut mixed = Vec::with_capacity(t);
            for i in 0..t {
                let mut row = vec![Fr::ZERO; k_max];
                let mut constant = Fr::ZERO;
                for (j, s) in state.iter().enumerate() {
                    let m = c.mds[i][j];
                    for (r, x) in row[lo..next].iter_mut().zip(&s.0[lo..next]) {
                        *r += m * x;
                    }
                    constant += m * s.1;
                }
                mixed.push((row, constant));
            }
            state = mixed;
        }
        Plan {
            width: t,
            rate: c.rate,
            first: c.ark[0].clone(),
            sboxes,
            output: state.iter().map(|s| affine(s, lo, next)).collect(),
        }
    }

    /// The permutation of `state` (`width` elements).
    pub fn permute(&self, cs: &Cs, state: &[Num]) -> Result<Vec<Num>> {
        assert_eq!(state.len(), self.width);
        let mut y: Vec<(Variable, Fr)> = Vec::with_capacity(self.width + self.sboxes.len());
        for (s, k) in state.iter().zip(&self.first) {
            y.push(sbox(cs, &s.add_const(*k))?);
        }
        let eval = |a: &Affine, y: &[(Variable, Fr)]| {
            let mut l = lc!() + (a.constant, Variable::One);
            let mut val = a.constant;
            for &(k, coeff) in &a.terms {
                l += (coeff, y[k].0);
                val += coeff * y[k].1;
            }
            Num { lc: l, val }
        };
        for a in &self.sboxes {
            let x = eval(a, &y);
            y.push(sbox(cs, &x)?);
        }
        Ok(self.output.iter().map(|a| eval(a, &y)).collect())
    }

    /// The sponge of SPEC.md §3.4 over `msg`: absorb `rate` elements at a time into
    /// positions `1..=rate` (no padding), permute between blocks and once to squeeze, and
    /// output position 1.
    pub fn hash(&self, cs: &Cs, msg: &[Num]) -> Result<Num> {
        let mut state = vec![Num::constant(Fr::ZERO); self.width];
        let blocks: Vec<&[Num]> = msg.chunks(self.rate).collect();
        for (b, block) in blocks.iter().enumerate() {
            for (i, m) in block.iter().enumerate() {
                state[1 + i] = state[1 + i].add(m);
            }
            if b + 1 < blocks.len() {
                state = self.permute(cs, &state)?;
            }
        }
        state = self.permute(cs, &state)?;
        Ok(state.swap_remove(1))
    }
}

/// `x⁵` as a new variable (three constraints).
fn sbox(cs: &Cs, x: &Num) -> Result<(Variable, Fr)> {
    let x2 = mul(cs, x, x)?;
    let x4 = mul(cs, &x2, &x2)?;
    let val = x4.val * x.val;
    let x5 = cs.new_witness_variable(|| Ok(val))?;
    cs.enforce_constraint(x4.lc, x.lc.clone(), lc!() + x5)?;
    Ok((x5, val))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::num::witness;

    use merit_protocol::poseidon::{self, wide};

    fn check(config: &PoseidonConfig<Fr>, len: usize) {
        let plan = Plan::new(config);
        let cs = Cs::new_ref();
        let msg: Vec<Fr> = (0..len as u64)
            .map(|i| Fr::from(i * i + 7) - Fr::from(3u64))
            .collect();
        let vars: Vec<Num> = msg.iter().map(|m| witness(&cs, *m).unwrap()).collect();
        let h = plan.hash(&cs, &vars).unwrap();
        assert_eq!(
            h.val,
            poseidon::hash(config, &msg),
            "t={} len={len}",
            plan.width
        );
        // Pin the output: the constraints themselves must compute the hash.
        let out = cs.new_input_variable(|| Ok(h.val)).unwrap();
        crate::gadgets::num::enforce_eq(&cs, &h.lc, &(lc!() + out)).unwrap();
        assert!(cs.is_satisfied().unwrap());
        let perms = len.div_ceil(plan.rate).max(1);
        let sboxes = config.full_rounds * plan.width + config.partial_rounds;
        assert_eq!(cs.num_constraints(), perms * sboxes * 3 + 1);
        // A wrong message element leaves the system unsatisfied.
        if len > 0 {
            let mut sys = cs.borrow_mut().unwrap();
            sys.assignments.witness_assignment[0] += Fr::ONE;
        }
        if len > 0 {
            assert!(!cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn both_sponges_agree_with_the_native_hash_across_block_boundaries() {
        for len in [0, 1, 2, 3, 5] {
            check(&poseidon::config(), len);
        }
        for len in [0, 1, 15, 16, 17, 33, 40] {
            check(&wide::config(), len);
        }
    }

    #[test]
    fn the_committed_poseidon_examples_hold_in_circuit() {
        use merit_protocol::vectors::{parse_hex32, PoseidonConstants, POSEIDON_WIDE_JSON};
        let v: PoseidonConstants = serde_json::from_str(POSEIDON_WIDE_JSON).unwrap();
        let plan = Plan::new(&wide::config());
        for ex in &v.examples {
            let cs = Cs::new_ref();
            let fr = |h: &String| poseidon::from_bytes(&parse_hex32(h).unwrap()).unwrap();
            let msg: Vec<Num> = ex
                .inputs
                .iter()
                .map(|h| witness(&cs, fr(h)).unwrap())
                .collect();
            assert_eq!(plan.hash(&cs, &msg).unwrap().val, fr(&ex.hash));
            assert!(cs.is_satisfied().unwrap());
        }
    }
}
