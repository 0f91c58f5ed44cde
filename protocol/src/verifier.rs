//! Groth16 (BN254) verification as the contract runs it, with the key prepared once.
//!
//! `prepare` validates a verifying key (points on the curve and in the prime-order
//! subgroups, exactly one public input) and computes `e(α, β)` once; the result is stored
//! uncompressed, so a later `verify` neither decompresses nor re-checks it and costs one
//! multi-pairing (about a third less than arkworks' plain `verify`, docs/environment.md). Proofs
//! come in arkworks' compressed encoding and are fully validated before use.
//!
//! This is the contract's code path, kept here so the prover's tests can check that what it
//! proves is exactly what the contract accepts.

use alloc::vec::Vec;
use ark_bn254::{Bn254, Fq12, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::{Pairing, PairingOutput};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField, Zero};
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

/// One proof of a batch: its prepared key (from `prepare`), the compressed proof and its
/// public input.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    pub key: &'a [u8],
    pub proof: &'a [u8],
    pub input: Fr,
}

const TAG_BATCH: &str = "merit/batch/v4";

/// The weights `ρ_j` of a batch: `ρ_0 = 1` and 128-bit `ρ_j` from a Poseidon hash of every
/// proof and input (Fiat–Shamir: fixed only once the proofs are), so a batch of proofs
/// that are not all valid passes with probability about 2^-128.
pub fn batch_weights(items: &[BatchItem<'_>]) -> Vec<Fr> {
    let config = crate::poseidon::config();
    let mut e = Vec::with_capacity(1 + items.len() * 6);
    e.push(crate::poseidon::domain_tag(TAG_BATCH));
    for item in items {
        e.push(item.input);
        // 31 bytes per element: below the modulus whatever the bytes.
        e.extend(item.proof.chunks(31).map(Fr::from_le_bytes_mod_order));
    }
    let seed = crate::poseidon::hash(&config, &e);
    (0..items.len())
        .map(|j| {
            if j == 0 {
                return Fr::from(1u64);
            }
            let h = crate::poseidon::hash(&config, &[seed, Fr::from(j as u64)]);
            Fr::from_le_bytes_mod_order(&h.into_bigint().to_bytes_le()[..16])
        })
        .collect()
}

/// Checks every proof of a batch with one multi-pairing: with the weights of
/// `batch_weights`, `Π_j e(ρ_j A_j, B_j) · Π_keys e(−Σ ρ_j IC_j, γ) e(−Σ ρ_j C_j, δ)
/// = Π_keys e(α, β)^(Σ ρ_j)`: `J + 2·(keys)` Miller loops and one final exponentiation
/// instead of `3J` and `J`. `Ok(false)` when any proof fails (`verify` names which).
pub fn verify_batch(items: &[BatchItem<'_>]) -> Result<bool, VerifierError> {
    struct Key {
        bytes_at: usize,
        vk: VerifyingKey<Bn254>,
        alpha_beta: Fq12,
        rho_sum: Fr,
        ic: G1Projective,
        c: G1Projective,
    }
    let weights = batch_weights(items);
    let mut keys: Vec<Key> = Vec::new();
    let mut g1: Vec<G1Affine> = Vec::with_capacity(items.len() + 4);
    let mut g2: Vec<G2Affine> = Vec::with_capacity(items.len() + 4);
    let mut a_scaled: Vec<G1Projective> = Vec::with_capacity(items.len());
    for (j, (item, rho)) in items.iter().zip(&weights).enumerate() {
        if item.proof.len() != PROOF_LEN {
            return Err(VerifierError::MalformedProof);
        }
        let proof = Proof::<Bn254>::deserialize_compressed(item.proof)
            .map_err(|_| VerifierError::MalformedProof)?;
        let at = match keys.iter().position(|k| items[k.bytes_at].key == item.key) {
            Some(at) => at,
            None => {
                let mut rd = item.key;
                let vk = VerifyingKey::<Bn254>::deserialize_uncompressed_unchecked(&mut rd)
                    .map_err(|_| VerifierError::CorruptStoredKey)?;
                let alpha_beta = Fq12::deserialize_uncompressed_unchecked(&mut rd)
                    .map_err(|_| VerifierError::CorruptStoredKey)?;
                if vk.gamma_abc_g1.len() != PUBLIC_INPUTS + 1 {
                    return Err(VerifierError::CorruptStoredKey);
                }
                keys.push(Key {
                    bytes_at: j,
                    vk,
                    alpha_beta,
                    rho_sum: Fr::zero(),
                    ic: G1Projective::zero(),
                    c: G1Projective::zero(),
                });
                keys.len() - 1
            }
        };
        let key = &mut keys[at];
        key.rho_sum += rho;
        let ic = key.vk.gamma_abc_g1[0].into_group() + key.vk.gamma_abc_g1[1] * item.input;
        key.ic += ic * rho;
        key.c += proof.c * rho;
        a_scaled.push(if j == 0 {
            proof.a.into_group()
        } else {
            proof.a * rho
        });
        g2.push(proof.b);
    }
    g1.extend(G1Projective::normalize_batch(&a_scaled));
    let mut expected = PairingOutput::<Bn254>::zero();
    for key in &keys {
        let [ic, c] = [-key.ic, -key.c].map(|p| p.into_affine());
        g1.extend([ic, c]);
        g2.extend([key.vk.gamma_g2, key.vk.delta_g2]);
        expected += PairingOutput::<Bn254>(key.alpha_beta) * key.rho_sum;
    }
    let got = Bn254::final_exponentiation(Bn254::multi_miller_loop(g1, g2))
        .ok_or(VerifierError::CorruptStoredKey)?;
    Ok(got == expected)
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
    fn a_batch_passes_only_when_every_proof_does() {
        let (pk, vk) = keys(false);
        let prepared = prepare(&vk).unwrap();
        // A second key (another setup of the same circuit): batches mix shapes.
        let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(99);
        let (pk2, vk2) = Groth16::<Bn254>::circuit_specific_setup(
            Square {
                x: 0,
                extra_input: false,
            },
            &mut rng,
        )
        .unwrap();
        let mut vk2_bytes = Vec::new();
        vk2.serialize_compressed(&mut vk2_bytes).unwrap();
        let prepared2 = prepare(&vk2_bytes).unwrap();
        let proofs: Vec<Vec<u8>> = (2..6).map(|x| proof(&pk, x)).collect();
        let other = proof(&pk2, 9);
        let mut items: Vec<BatchItem> = proofs
            .iter()
            .zip(2u64..)
            .map(|(p, x)| BatchItem {
                key: &prepared,
                proof: p,
                input: Fr::from(x * x),
            })
            .collect();
        items.push(BatchItem {
            key: &prepared2,
            proof: &other,
            input: Fr::from(81u64),
        });
        assert_eq!(verify_batch(&items), Ok(true));
        assert_eq!(verify_batch(&items[..1]), Ok(true));
        // One wrong input, two proofs swapped, a proof under the other key: refused.
        for bad in 0..items.len() {
            let mut wrong = items.clone();
            wrong[bad].input += Fr::from(1u64);
            assert_eq!(verify_batch(&wrong), Ok(false), "input {bad}");
        }
        let mut swapped = items.clone();
        swapped.swap(0, 1);
        let (a, b) = (swapped[0].input, swapped[1].input);
        swapped[0].input = b;
        swapped[1].input = a;
        assert_eq!(verify_batch(&swapped), Ok(false));
        let mut crossed = items.clone();
        crossed[4].key = &prepared;
        assert_eq!(verify_batch(&crossed), Ok(false));
        let mut short = items.clone();
        short[2].proof = &other[..100];
        assert_eq!(verify_batch(&short), Err(VerifierError::MalformedProof));
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
