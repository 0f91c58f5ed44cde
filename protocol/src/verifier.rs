//! Groth16 (BN254) verification as the contract runs it, with the key prepared once.
//!
//! `prepare` validates a verifying key (points on the curve and in the prime-order
//! subgroups, exactly one public input) and computes `e(α, β)` once; the result is stored
//! uncompressed, so a later `verify` neither decompresses nor re-checks it and costs one
//! multi-pairing (about a third less than arkworks' plain `verify`, ENVIRONMENT.md). Proofs
//! come in arkworks' compressed encoding and are fully validated before use.
//!
//! This is the contract's code path, kept here so the prover's tests can check that what it
//! proves is exactly what the contract accepts.

use alloc::vec::Vec;
use ark_bn254::{Bn254, Fq12, Fr};
use ark_ec::pairing::Pairing;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

/// Public inputs of the round circuit: the single round hash.
pub const PUBLIC_INPUTS: usize = 1;
/// Length of a compressed proof (A ∈ G1, B ∈ G2, C ∈ G1).
pub const PROOF_LEN: usize = 128;
/// Length of a compressed verifying key with one public input.
pub const VK_LEN: usize = 32 + 3 * 64 + 8 + (PUBLIC_INPUTS + 1) * 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierError {
    /// The verifying key does not decode to valid points.
    BadVerifyingKey,
    /// The key is for a circuit with another number of public inputs.
    WrongInputCount { found: usize },
    /// The proof is not `PROOF_LEN` bytes of valid compressed points.
    MalformedProof,
    /// A stored key that does not decode (never written by `prepare`).
    CorruptStoredKey,
}

impl core::fmt::Display for VerifierError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadVerifyingKey => f.write_str("the verifying key is not a valid BN254 Groth16 key"),
            Self::WrongInputCount { found } => write!(
                f,
                "the verifying key takes {found} public inputs; the round circuit has {PUBLIC_INPUTS}"
            ),
            Self::MalformedProof => {
                write!(f, "the proof is not {PROOF_LEN} bytes of valid compressed points")
            }
            Self::CorruptStoredKey => f.write_str("the stored verifying key does not decode"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VerifierError {}

/// Validates a compressed verifying key and returns its prepared, storable form.
pub fn prepare(compressed_vk: &[u8]) -> Result<Vec<u8>, VerifierError> {
    let mut rd = compressed_vk;
    let vk = VerifyingKey::<Bn254>::deserialize_compressed(&mut rd)
        .map_err(|_| VerifierError::BadVerifyingKey)?;
    if !rd.is_empty() {
        return Err(VerifierError::BadVerifyingKey);
    }
    let inputs = vk.gamma_abc_g1.len().saturating_sub(1);
    if inputs != PUBLIC_INPUTS {
        return Err(VerifierError::WrongInputCount { found: inputs });
    }
    let alpha_beta: Fq12 = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
    let mut out = Vec::with_capacity(vk.uncompressed_size() + alpha_beta.uncompressed_size());
    vk.serialize_uncompressed(&mut out)
        .map_err(|_| VerifierError::BadVerifyingKey)?;
    alpha_beta
        .serialize_uncompressed(&mut out)
        .map_err(|_| VerifierError::BadVerifyingKey)?;
    Ok(out)
}

/// Checks `proof` (compressed) for the public input `input` under a key from `prepare`.
/// `Ok(false)` is a well-formed proof of something else.
pub fn verify(prepared: &[u8], proof: &[u8], input: &Fr) -> Result<bool, VerifierError> {
    if proof.len() != PROOF_LEN {
        return Err(VerifierError::MalformedProof);
    }
    let proof =
        Proof::<Bn254>::deserialize_compressed(proof).map_err(|_| VerifierError::MalformedProof)?;
    let mut rd = prepared;
    // Unchecked: `prepare` validated these bytes before they were stored.
    let vk = VerifyingKey::<Bn254>::deserialize_uncompressed_unchecked(&mut rd)
        .map_err(|_| VerifierError::CorruptStoredKey)?;
    let alpha_g1_beta_g2 = Fq12::deserialize_uncompressed_unchecked(&mut rd)
        .map_err(|_| VerifierError::CorruptStoredKey)?;
    let pvk = PreparedVerifyingKey {
        gamma_g2_neg_pc: (-vk.gamma_g2).into(),
        delta_g2_neg_pc: (-vk.delta_g2).into(),
        alpha_g1_beta_g2,
        vk,
    };
    Groth16::<Bn254>::verify_proof(&pvk, &proof, core::slice::from_ref(input))
        .map_err(|_| VerifierError::CorruptStoredKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_groth16::ProvingKey;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
    use ark_relations::lc;
    use ark_snark::SNARK;
    use ark_std::rand::SeedableRng;

    /// "I know x with x·x = y" for public y (and optionally a second public input).
    #[derive(Clone)]
    struct Square {
        x: u64,
        extra_input: bool,
    }

    impl ConstraintSynthesizer<Fr> for Square {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            let x = cs.new_witness_variable(|| Ok(Fr::from(self.x)))?;
            let y = cs.new_input_variable(|| Ok(Fr::from(self.x * self.x)))?;
            if self.extra_input {
                let _ = cs.new_input_variable(|| Ok(Fr::from(1u64)))?;
            }
            cs.enforce_r1cs_constraint(|| lc!() + x, || lc!() + x, || lc!() + y)
        }
    }

    fn keys(extra_input: bool) -> (ProvingKey<Bn254>, Vec<u8>) {
        let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(5);
        let (pk, vk) =
            Groth16::<Bn254>::circuit_specific_setup(Square { x: 0, extra_input }, &mut rng)
                .unwrap();
        let mut bytes = Vec::new();
        vk.serialize_compressed(&mut bytes).unwrap();
        (pk, bytes)
    }

    fn proof(pk: &ProvingKey<Bn254>, x: u64) -> Vec<u8> {
        let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(x);
        let p = Groth16::<Bn254>::prove(
            pk,
            Square {
                x,
                extra_input: false,
            },
            &mut rng,
        )
        .unwrap();
        let mut bytes = Vec::new();
        p.serialize_compressed(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn prepared_key_verifies_honest_proofs_only() {
        let (pk, vk) = keys(false);
        assert_eq!(vk.len(), VK_LEN);
        let prepared = prepare(&vk).unwrap();
        let p = proof(&pk, 7);
        assert_eq!(p.len(), PROOF_LEN);
        assert_eq!(verify(&prepared, &p, &Fr::from(49u64)), Ok(true));
        assert_eq!(verify(&prepared, &p, &Fr::from(50u64)), Ok(false));
        // A proof of another statement under the same key.
        assert_eq!(
            verify(&prepared, &proof(&pk, 8), &Fr::from(49u64)),
            Ok(false)
        );
    }

    #[test]
    fn bad_keys_and_proofs_are_named() {
        let (pk, vk) = keys(false);
        let prepared = prepare(&vk).unwrap();
        assert_eq!(
            prepare(&vk[..vk.len() - 1]),
            Err(VerifierError::BadVerifyingKey)
        );
        let mut long = vk.clone();
        long.push(0);
        assert_eq!(prepare(&long), Err(VerifierError::BadVerifyingKey));
        // α's x-coordinate all ones: not a field element, so not a point.
        let mut not_a_point = vk.clone();
        not_a_point[..32].fill(0xff);
        assert_eq!(prepare(&not_a_point), Err(VerifierError::BadVerifyingKey));
        let (_, two_inputs) = keys(true);
        assert_eq!(
            prepare(&two_inputs),
            Err(VerifierError::WrongInputCount { found: 2 })
        );

        let p = proof(&pk, 7);
        let y = Fr::from(49u64);
        assert_eq!(
            verify(&prepared, &p[..127], &y),
            Err(VerifierError::MalformedProof)
        );
        assert_eq!(
            verify(&prepared, &[0xff; 128], &y),
            Err(VerifierError::MalformedProof)
        );
        // Every single-bit flip is either refused as malformed or fails to verify.
        for byte in (0..PROOF_LEN).step_by(9) {
            let mut forged = p.clone();
            forged[byte] ^= 0x04;
            assert_ne!(
                verify(&prepared, &forged, &y),
                Ok(true),
                "flip in byte {byte}"
            );
        }
        assert_eq!(
            verify(&prepared[..100], &p, &y),
            Err(VerifierError::CorruptStoredKey)
        );
    }
}
