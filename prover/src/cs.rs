//! The constraint sink every gadget writes to.
//!
//! For setup and for tests it is plainly arkworks' constraint system. For proving it is a
//! *recording* one: arkworks keeps only the assignment (no linear combinations, no
//! matrices), and each constraint is evaluated the moment it is enforced, keeping
//! `⟨A_k, z⟩`, `⟨B_k, z⟩` and `⟨C_k, z⟩`. Those three numbers per constraint are all the
//! Groth16 witness map needs (`crate::groth16`): the proving key already holds what the
//! matrices would give. This is what keeps proving memory at a few hundred bytes per
//! constraint instead of kilobytes, and it checks the witness on the way (the first
//! failing constraint is kept).

use ark_bn254::Fr;
use ark_relations::gr1cs::{
    ConstraintSystem, ConstraintSystemRef, LinearCombination, SynthesisError, SynthesisMode,
};
use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::rc::Rc;

/// What a recording synthesis keeps.
#[derive(Debug, Default)]
pub struct Evaluations {
    pub a: Vec<Fr>,
    pub b: Vec<Fr>,
    pub c: Vec<Fr>,
    /// The first constraint with `a·b ≠ c`, if any.
    pub first_unsatisfied: Option<usize>,
}

/// arkworks' constraint system, optionally recording evaluations.
#[derive(Clone)]
pub struct Cs {
    ark: ConstraintSystemRef<Fr>,
    record: Option<Rc<RefCell<Evaluations>>>,
    /// Constraints enforced through this sink (arkworks 0.6 counts none when it builds no
    /// matrices).
    count: Rc<Cell<usize>>,
}

impl Deref for Cs {
    type Target = ConstraintSystemRef<Fr>;
    fn deref(&self) -> &Self::Target {
        &self.ark
    }
}

impl Cs {
    /// A fresh arkworks constraint system (keeps every constraint; for tests). Linear
    /// combinations are evaluated when checked, not cached when enforced, so a test that
    /// alters the assignment afterwards is judged on the altered values.
    pub fn new_ref() -> Self {
        let ark = ConstraintSystem::<Fr>::new_ref();
        ark.set_mode(SynthesisMode::Prove {
            construct_matrices: true,
            generate_lc_assignments: false,
        });
        Self::wrap(ark)
    }

    /// Gadgets over the given system (what `ConstraintSynthesizer` hands out).
    pub fn wrap(ark: ConstraintSystemRef<Fr>) -> Self {
        Self {
            ark,
            record: None,
            count: Rc::default(),
        }
    }

    fn assignment_only() -> ConstraintSystemRef<Fr> {
        let ark = ConstraintSystem::<Fr>::new_ref();
        ark.set_mode(SynthesisMode::Prove {
            construct_matrices: false,
            generate_lc_assignments: false,
        });
        ark
    }

    /// A system that keeps the assignment and each constraint's evaluations only.
    pub fn recording() -> Self {
        Self {
            record: Some(Rc::default()),
            ..Self::wrap(Self::assignment_only())
        }
    }

    /// A system that keeps the assignment and counts constraints (`bench::count`).
    pub fn counting() -> Self {
        Self::wrap(Self::assignment_only())
    }

    /// Constraints enforced through this sink.
    pub fn constraints(&self) -> usize {
        self.count.get()
    }

    /// Enforces `a · b = c`.
    pub fn enforce_constraint(
        &self,
        a: LinearCombination<Fr>,
        b: LinearCombination<Fr>,
        c: LinearCombination<Fr>,
    ) -> Result<(), SynthesisError> {
        if let Some(rec) = &self.record {
            let sys = self.ark.borrow().ok_or(SynthesisError::MissingCS)?;
            let z = &sys.assignments;
            let eval = |l: &LinearCombination<Fr>| -> Result<Fr, SynthesisError> {
                let mut acc = Fr::from(0u64);
                for (coeff, v) in l.0.iter() {
                    let x = match v.index() {
                        _ if v.is_one() => Fr::from(1u64),
                        _ if v.is_zero() => continue,
                        Some(i) if v.is_witness() => z.witness_assignment[i],
                        Some(i) if v.is_instance() => z.instance_assignment[i],
                        _ => return Err(SynthesisError::AssignmentMissing),
                    };
                    acc += *coeff * x;
                }
                Ok(acc)
            };
            let (va, vb, vc) = (eval(&a)?, eval(&b)?, eval(&c)?);
            drop(sys);
            let mut r = rec.borrow_mut();
            if r.first_unsatisfied.is_none() && va * vb != vc {
                r.first_unsatisfied = Some(r.a.len());
            }
            r.a.push(va);
            r.b.push(vb);
            r.c.push(vc);
        }
        self.count.set(self.count.get() + 1);
        self.ark
            .enforce_r1cs_constraint(move || a, move || b, move || c)
    }

    /// The recorded evaluations and the assignment `(instance, witness)`, leaving the
    /// system empty; `None` if this system was not recording.
    pub fn take_recording(&self) -> Option<(Evaluations, Vec<Fr>, Vec<Fr>)> {
        let rec = self.record.as_ref()?;
        let evals = std::mem::take(&mut *rec.borrow_mut());
        let mut sys = self.ark.borrow_mut()?;
        let instance = std::mem::take(&mut sys.assignments.instance_assignment);
        let witness = std::mem::take(&mut sys.assignments.witness_assignment);
        Some((evals, instance, witness))
    }
}
