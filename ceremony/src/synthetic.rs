//! A synthetic circuit of any size, for tests and benchmarks: repeated squaring.
//!
//! Public `x` and `y`; witnesses `w₁ … w_{n−1}` with `w₁ = x²`, `wᵢ₊₁ = wᵢ²` and
//! `y = w_{n−1}²`, so `y = x^(2^n)` in `n` constraints and 3 instance variables
//! (the constant 1, `x`, `y`): `n + 3` rows, so `n = 2^k − 3` fills a domain of `2^k`.

use ark_bn254::Fr;
use ark_ff::Field;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError, Variable};
use ark_relations::lc;

/// `y = x^(2^constraints)` by repeated squaring.
#[derive(Clone, Debug)]
pub struct Squarings {
    /// Number of R1CS constraints (at least 1).
    pub constraints: usize,
    /// The public input x and output y, and the witness, or `None` in setup.
    pub values: Option<(Fr, Fr)>,
}

impl Squarings {
    /// The circuit's shape only, for setup.
    pub fn shape(constraints: usize) -> Self {
        Self {
            constraints,
            values: None,
        }
    }

    /// An honest instance: `y` computed from `x`.
    pub fn honest(constraints: usize, x: Fr) -> Self {
        Self {
            constraints,
            values: Some((x, Self::output(constraints, x))),
        }
    }

    /// `x^(2^constraints)`.
    pub fn output(constraints: usize, x: Fr) -> Fr {
        (0..constraints).fold(x, |acc, _| acc.square())
    }

    /// The public inputs as the verifier passes them: `[x, y]`.
    pub fn public_inputs(&self) -> Option<Vec<Fr>> {
        self.values.map(|(x, y)| vec![x, y])
    }
}

impl ConstraintSynthesizer<Fr> for Squarings {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        if self.constraints == 0 {
            return Err(SynthesisError::Unsatisfiable);
        }
        let x_value = self.values.map(|(x, _)| x);
        let x = cs.new_input_variable(|| x_value.ok_or(SynthesisError::AssignmentMissing))?;
        let y = cs.new_input_variable(|| {
            self.values
                .map(|(_, y)| y)
                .ok_or(SynthesisError::AssignmentMissing)
        })?;
        let mut current: Variable = x;
        let mut value = x_value;
        for _ in 1..self.constraints {
            value = value.map(|v| v.square());
            let next =
                cs.new_witness_variable(|| value.ok_or(SynthesisError::AssignmentMissing))?;
            cs.enforce_r1cs_constraint(|| lc![current], || lc![current], || lc![next])?;
            current = next;
        }
        cs.enforce_r1cs_constraint(|| lc![current], || lc![current], || lc![y])?;
        Ok(())
    }
}
