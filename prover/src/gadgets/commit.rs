//! Poseidon commitments in-circuit: twins of `merit_protocol::commit::Committer`'s
//! `commit_update` and `commit_model`, over already-packed elements and with the very same
//! `PoseidonConfig` (the wide sponge, `merit_protocol::poseidon::wide::config`).

use super::num::{Num, Result};
use super::poseidon::Plan;
use crate::cs::Cs;
use merit_protocol::commit::{TAG_MODEL, TAG_UPDATE};
use merit_protocol::poseidon::domain_tag;

/// `commit_update(account, v)` where `account` is the two halves
/// (`merit_protocol::commit::account_elements`), `len` is `v.len()` and `packed` is `pack(v)`;
/// `plan` is the wide sponge's.
pub fn commit_update_var(
    cs: &Cs,
    plan: &Plan,
    account: &[Num; 2],
    len: &Num,
    packed: &[Num],
) -> Result<Num> {
    let mut msg = Vec::with_capacity(packed.len() + 4);
    msg.push(Num::constant(domain_tag(TAG_UPDATE)));
    msg.extend(account.iter().cloned());
    msg.push(len.clone());
    msg.extend(packed.iter().cloned());
    plan.hash(cs, &msg)
}

/// `commit_model(v)`, with `len = v.len()` and `packed = pack(v)`.
pub fn commit_model_var(cs: &Cs, plan: &Plan, len: &Num, packed: &[Num]) -> Result<Num> {
    let mut msg = Vec::with_capacity(packed.len() + 2);
    msg.push(Num::constant(domain_tag(TAG_MODEL)));
    msg.push(len.clone());
    msg.extend(packed.iter().cloned());
    plan.hash(cs, &msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::num::{enforce_eq, witness};
    use ark_bn254::Fr;
    use ark_relations::lc;

    use merit_protocol::commit::account_elements;
    use merit_protocol::poseidon::{self, from_bytes};
    use merit_protocol::vectors::{parse_hex32, Vectors, VECTORS_JSON};

    fn fr(hex: &str) -> Fr {
        from_bytes(&parse_hex32(hex).expect("hex")).expect("canonical")
    }

    /// Builds both commitments of `case` in-circuit from witnesses and pins them to the
    /// expected values; returns whether the system is satisfied.
    fn satisfied(case: &merit_protocol::vectors::Case, update: Fr, model: Fr) -> bool {
        let cs = Cs::new_ref();
        let plan = Plan::new(&poseidon::wide::config());
        let packed: Vec<Num> = case
            .packed
            .iter()
            .map(|h| witness(&cs, fr(h)).unwrap())
            .collect();
        let acct = account_elements(&parse_hex32(&case.account).unwrap());
        let account = [
            witness(&cs, acct[0]).unwrap(),
            witness(&cs, acct[1]).unwrap(),
        ];
        let len = witness(&cs, Fr::from(case.values.len() as u64)).unwrap();
        let u = commit_update_var(&cs, &plan, &account, &len, &packed).unwrap();
        let m = commit_model_var(&cs, &plan, &len, &packed).unwrap();
        for (got, want) in [(u, update), (m, model)] {
            let pinned = cs.new_input_variable(|| Ok(want)).unwrap();
            enforce_eq(&cs, &got.lc, &(lc!() + pinned)).unwrap();
        }
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn gadgets_agree_with_the_protocol_test_vectors() {
        let v: Vectors = serde_json::from_str(VECTORS_JSON).unwrap();
        assert!(!v.cases.is_empty());
        for case in &v.cases {
            assert!(
                satisfied(
                    case,
                    fr(&case.update_commitment),
                    fr(&case.model_commitment)
                ),
                "{case:?}"
            );
        }
    }

    #[test]
    fn a_wrong_commitment_leaves_the_circuit_unsatisfied() {
        let v: Vectors = serde_json::from_str(VECTORS_JSON).unwrap();
        let case = &v.cases[1];
        let good_u = fr(&case.update_commitment);
        let good_m = fr(&case.model_commitment);
        assert!(!satisfied(case, good_u + Fr::from(1u64), good_m));
        assert!(!satisfied(case, good_u, good_m + Fr::from(1u64)));
        // Another trainer's account cannot reproduce this commitment.
        let mut other = case.clone();
        other.account = v.cases[2].account.clone();
        assert!(!satisfied(&other, good_u, good_m));
    }
}
