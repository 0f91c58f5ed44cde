//! Poseidon commitments in-circuit: twins of `merit_protocol::commit::Committer`'s
//! `commit_update` and `commit_model`, over already-packed elements and with the very same
//! `PoseidonConfig` (`merit_protocol::poseidon::config`).

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::constraints::CryptographicSpongeVar;
use ark_crypto_primitives::sponge::poseidon::constraints::PoseidonSpongeVar;
use ark_crypto_primitives::sponge::poseidon::PoseidonConfig;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use merit_protocol::commit::{TAG_MODEL, TAG_UPDATE};
use merit_protocol::poseidon::domain_tag;

fn squeeze_one(mut sponge: PoseidonSpongeVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    Ok(sponge.squeeze_field_elements(1)?.remove(0))
}

/// `commit_update(account, v)` where `account` is the two halves
/// (`merit_protocol::commit::account_elements`), `len` is `v.len()` and `packed` is `pack(v)`.
pub fn commit_update_var(
    cs: ConstraintSystemRef<Fr>,
    config: &PoseidonConfig<Fr>,
    account: &[FpVar<Fr>; 2],
    len: &FpVar<Fr>,
    packed: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config);
    sponge.absorb(&FpVar::Constant(domain_tag(TAG_UPDATE)))?;
    sponge.absorb(&account.as_slice())?;
    sponge.absorb(len)?;
    sponge.absorb(&packed)?;
    squeeze_one(sponge)
}

/// `commit_model(v)`, with `len = v.len()` and `packed = pack(v)`.
pub fn commit_model_var(
    cs: ConstraintSystemRef<Fr>,
    config: &PoseidonConfig<Fr>,
    len: &FpVar<Fr>,
    packed: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config);
    sponge.absorb(&FpVar::Constant(domain_tag(TAG_MODEL)))?;
    sponge.absorb(len)?;
    sponge.absorb(&packed)?;
    squeeze_one(sponge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_r1cs_std::alloc::AllocVar;
    use ark_r1cs_std::eq::EqGadget;
    use ark_relations::r1cs::ConstraintSystem;
    use merit_protocol::commit::account_elements;
    use merit_protocol::poseidon::{self, from_bytes};
    use merit_protocol::vectors::{parse_hex32, Vectors, V1_JSON};

    fn fr(hex: &str) -> Fr {
        from_bytes(&parse_hex32(hex).expect("hex")).expect("canonical")
    }

    /// Builds both commitments of `case` in-circuit from witnesses and pins them to the
    /// expected values; returns whether the system is satisfied.
    fn satisfied(case: &merit_protocol::vectors::Case, update: Fr, model: Fr) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let config = poseidon::config();
        let packed: Vec<FpVar<Fr>> = case
            .packed
            .iter()
            .map(|h| FpVar::new_witness(cs.clone(), || Ok(fr(h))).unwrap())
            .collect();
        let acct = account_elements(&parse_hex32(&case.account).unwrap());
        let account = [
            FpVar::new_witness(cs.clone(), || Ok(acct[0])).unwrap(),
            FpVar::new_witness(cs.clone(), || Ok(acct[1])).unwrap(),
        ];
        let len =
            FpVar::new_witness(cs.clone(), || Ok(Fr::from(case.values.len() as u64))).unwrap();
        let u = commit_update_var(cs.clone(), &config, &account, &len, &packed).unwrap();
        let m = commit_model_var(cs.clone(), &config, &len, &packed).unwrap();
        u.enforce_equal(&FpVar::new_input(cs.clone(), || Ok(update)).unwrap())
            .unwrap();
        m.enforce_equal(&FpVar::new_input(cs.clone(), || Ok(model)).unwrap())
            .unwrap();
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn gadgets_agree_with_the_protocol_test_vectors() {
        let v: Vectors = serde_json::from_str(V1_JSON).unwrap();
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
        let v: Vectors = serde_json::from_str(V1_JSON).unwrap();
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
