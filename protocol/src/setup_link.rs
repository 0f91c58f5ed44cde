//! One phase-2 contribution's link, as the contract checks it (SPEC §10.6).
//!
//! A phase-2 contribution multiplies the key's δ by a fresh secret δ' and publishes the new
//! `[δ]G1`, `[δ]G2` with a Schnorr proof of knowledge of δ' over the previous `[δ]G1`,
//! bound to the previous transcript hash. The whole key (its L and H queries) is far too
//! large for a contract; this link is 192 bytes and costs one 2-pairing product and three
//! G1 scalar multiplications, so the contract checks every link of a project's chain and
//! moves `δ_g2` in the stored verifying key itself. The ceremony crate builds and checks
//! links with these same functions.
//!
//! Hashing is SHA-256 given by the caller (the contract uses the chain's host function), over
//! length-prefixed parts ([`framed`]), so no two part lists collide by concatenation.

use alloc::vec::Vec;
use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{PrimeField, Zero};
use ark_groth16::VerifyingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

/// Length of an encoded link: parent 32, `[δ]G1` 32, `[δ]G2` 64, the proof's `K` 32 and `s` 32.
pub const LINK_LEN: usize = 192;
/// Length of a compressed G1 point (a recorded `[δ]G1`).
pub const G1_LEN: usize = 32;

/// Domain separator of a contribution's link in the hash chain.
pub const LINK_DOMAIN: &[u8] = b"merit-ceremony/v1/link";
/// Domain separator of the proof-of-knowledge challenges.
pub const DLOG_DOMAIN: &[u8] = b"merit-ceremony/v1/dlog";
/// The label of the δ proof's challenge.
pub const DELTA_LABEL: &[u8] = b"delta";

/// A 32-byte SHA-256 digest.
pub type Digest = [u8; 32];

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not `LINK_LEN` bytes of canonical compressed points in their subgroups.
    Malformed,
    /// It was built on another transcript hash than the chain's head.
    Parent,
    /// Its δ is the identity.
    Degenerate,
    /// The proof of knowledge of δ' does not verify over the previous `[δ]G1`.
    ProofOfKnowledge,
    /// `[δ]G1` and `[δ]G2` hold different δ.
    DeltaG1G2,
}

impl core::fmt::Display for LinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the link is not 192 bytes of valid compressed points",
            Self::Parent => "the link was built on another transcript hash than the chain's head",
            Self::Degenerate => "the link's new delta is the identity",
            Self::ProofOfKnowledge => {
                "the proof of knowledge of delta does not verify over the previous delta"
            }
            Self::DeltaG1G2 => "the link's delta differs between G1 and G2",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LinkError {}

/// A phase-2 contribution's public part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Link {
    /// The transcript hash it was built on.
    pub parent: Digest,
    /// The new `[δ]G1`.
    pub delta_g1: G1Affine,
    /// The new `[δ]G2`, the only element of the verifying key that changes.
    pub delta_g2: G2Affine,
    /// The proof's commitment `K = k · previous [δ]G1`.
    pub commitment: G1Affine,
    /// The proof's response `s = k + c·δ'`.
    pub response: Fr,
}

impl Link {
    /// Reads a link, checking every point is canonical, on the curve and in its subgroup.
    pub fn decode(bytes: &[u8]) -> Result<Self, LinkError> {
        if bytes.len() != LINK_LEN {
            return Err(LinkError::Malformed);
        }
        Self::deserialize_compressed(bytes).map_err(|_| LinkError::Malformed)
    }

    /// The `LINK_LEN` bytes (arkworks' compressed encoding, field by field).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LINK_LEN);
        self.serialize_compressed(&mut out)
            .expect("serialising into a Vec never fails");
        out
    }

    /// Builds the link that multiplies δ by `delta` (non-zero) on top of
    /// (`prev_g1`, `prev_g2`), proving knowledge with the nonce `nonce` (fresh and secret:
    /// reusing one with another δ' reveals both).
    pub fn contribute(
        prev_g1: &G1Affine,
        prev_g2: &G2Affine,
        parent: &Digest,
        delta: Fr,
        nonce: Fr,
        sha256: impl Fn(&[u8]) -> Digest,
    ) -> Self {
        let delta_g1 = (*prev_g1 * delta).into_affine();
        let delta_g2 = (*prev_g2 * delta).into_affine();
        let proof = DlogProof::prove(
            parent,
            DELTA_LABEL,
            prev_g1,
            &delta_g1,
            delta,
            nonce,
            sha256,
        );
        Self {
            parent: *parent,
            delta_g1,
            delta_g2,
            commitment: proof.commitment,
            response: proof.response,
        }
    }

    /// The chain's hash after this link: `H(LINK_DOMAIN, parent, encode())`.
    pub fn head(&self, sha256: impl Fn(&[u8]) -> Digest) -> Digest {
        sha256(&framed(LINK_DOMAIN, &[&self.parent, &self.encode()]))
    }

    /// Checks the link against the chain it extends: its parent is `head`, its δ is not the
    /// identity, it proves knowledge of δ' with new `[δ]G1` = δ' · `prev_g1`, and
    /// `e([δ]G1, G2) = e(G1, [δ]G2)`.
    pub fn check(
        &self,
        prev_g1: &G1Affine,
        head: &Digest,
        sha256: impl Fn(&[u8]) -> Digest,
    ) -> Result<(), LinkError> {
        if self.parent != *head {
            return Err(LinkError::Parent);
        }
        if self.delta_g1.is_zero() || self.delta_g2.is_zero() {
            return Err(LinkError::Degenerate);
        }
        let proof = DlogProof {
            commitment: self.commitment,
            response: self.response,
        };
        if !proof.verify(head, DELTA_LABEL, prev_g1, &self.delta_g1, sha256) {
            return Err(LinkError::ProofOfKnowledge);
        }
        if !same_delta(&self.delta_g1, &self.delta_g2) {
            return Err(LinkError::DeltaG1G2);
        }
        Ok(())
    }
}

/// A Schnorr proof that the prover knows `x` with `result = x · base` (G1), bound to a
/// context and a label naming the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlogProof {
    /// `K = k · base`.
    pub commitment: G1Affine,
    /// `s = k + c·x`.
    pub response: Fr,
}

impl DlogProof {
    /// Proves knowledge of `x` with `result = x · base`, with the nonce `k` (fresh and
    /// secret: the same `k` for two statements reveals `x`): `K = k · base`, `s = k + c·x`.
    pub fn prove(
        context: &Digest,
        label: &[u8],
        base: &G1Affine,
        result: &G1Affine,
        x: Fr,
        k: Fr,
        sha256: impl Fn(&[u8]) -> Digest,
    ) -> Self {
        let commitment = (*base * k).into_affine();
        let c = challenge(context, label, base, result, &commitment, sha256);
        Self {
            commitment,
            response: k + c * x,
        }
    }

    /// `s · base = K + c · result`, with `c` the Fiat–Shamir [`challenge`].
    pub fn verify(
        &self,
        context: &Digest,
        label: &[u8],
        base: &G1Affine,
        result: &G1Affine,
        sha256: impl Fn(&[u8]) -> Digest,
    ) -> bool {
        if base.is_zero() {
            return false;
        }
        let c = challenge(context, label, base, result, &self.commitment, sha256);
        *base * self.response == self.commitment.into_group() + *result * c
    }
}

/// The challenge `c`: 512 bits (`h₁ = H(DLOG_DOMAIN, context, label, base, result, K)`,
/// `h₂ = H(DLOG_DOMAIN, h₁)`, little-endian `h₁ ‖ h₂`) reduced mod r, so its bias is
/// negligible.
pub fn challenge(
    context: &Digest,
    label: &[u8],
    base: &G1Affine,
    result: &G1Affine,
    commitment: &G1Affine,
    sha256: impl Fn(&[u8]) -> Digest,
) -> Fr {
    let first = sha256(&framed(
        DLOG_DOMAIN,
        &[
            context,
            label,
            &compressed_g1(base),
            &compressed_g1(result),
            &compressed_g1(commitment),
        ],
    ));
    let second = sha256(&framed(DLOG_DOMAIN, &[&first]));
    let mut wide = [0u8; 64];
    wide[..32].copy_from_slice(&first);
    wide[32..].copy_from_slice(&second);
    Fr::from_le_bytes_mod_order(&wide)
}

/// The hashed bytes of a domain and its parts: each as its length (u64 little-endian)
/// followed by its bytes.
pub fn framed(domain: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let total = core::iter::once(domain)
        .chain(parts.iter().copied())
        .map(|p| 8 + p.len())
        .sum();
    let mut out = Vec::with_capacity(total);
    for part in core::iter::once(domain).chain(parts.iter().copied()) {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn compressed_g1(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    p.serialize_compressed(&mut out[..])
        .expect("a G1 point is 32 bytes compressed");
    out
}

/// `e(g1, G2) = e(G1, g2)`: both points carry the same exponent.
pub fn same_delta(g1: &G1Affine, g2: &G2Affine) -> bool {
    Bn254::multi_pairing([*g1, -G1Affine::generator()], [G2Affine::generator(), *g2]).is_zero()
}

/// Reads a recorded `[δ]G1` (compressed, checked, not the identity).
pub fn decode_delta_g1(bytes: &[u8]) -> Result<G1Affine, LinkError> {
    if bytes.len() != G1_LEN {
        return Err(LinkError::Malformed);
    }
    let p = G1Affine::deserialize_compressed(bytes).map_err(|_| LinkError::Malformed)?;
    if p.is_zero() {
        return Err(LinkError::Degenerate);
    }
    Ok(p)
}

/// The compressed `[δ]G1` a setup record stores.
pub fn encode_delta_g1(p: &G1Affine) -> [u8; G1_LEN] {
    compressed_g1(p)
}

/// The `δ_g2` of a verifying key prepared by `verifier::prepare`.
pub fn prepared_delta_g2(prepared: &[u8]) -> Option<G2Affine> {
    let mut rd = prepared;
    VerifyingKey::<Bn254>::deserialize_uncompressed_unchecked(&mut rd)
        .ok()
        .map(|vk| vk.delta_g2)
}

/// A prepared verifying key with its `δ_g2` replaced; `e(α, β)` and everything else kept.
pub fn with_delta_g2(prepared: &[u8], delta_g2: G2Affine) -> Option<Vec<u8>> {
    let mut rd = prepared;
    let mut vk = VerifyingKey::<Bn254>::deserialize_uncompressed_unchecked(&mut rd).ok()?;
    vk.delta_g2 = delta_g2;
    let mut out = Vec::with_capacity(prepared.len());
    vk.serialize_uncompressed(&mut out).ok()?;
    out.extend_from_slice(rd);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::G2Projective;
    use ark_ec::PrimeGroup;
    use ark_ff::UniformRand;
    use ark_std::test_rng;

    /// A stand-in SHA-256 is not good enough here: the links must hash as the ceremony's.
    fn sha(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        sha2::Sha256::digest(bytes).into()
    }

    fn start() -> (G1Affine, G2Affine, Digest) {
        (G1Affine::generator(), G2Affine::generator(), [7u8; 32])
    }

    #[test]
    fn an_honest_link_checks_and_extends_the_chain() {
        let rng = &mut test_rng();
        let (g1, g2, head) = start();
        let link = Link::contribute(&g1, &g2, &head, Fr::rand(rng), Fr::rand(rng), sha);
        assert_eq!(link.encode().len(), LINK_LEN);
        assert_eq!(Link::decode(&link.encode()).unwrap(), link);
        link.check(&g1, &head, sha).unwrap();
        let next = link.head(sha);
        assert_ne!(next, head);
        // A second link on top of the first.
        let again = Link::contribute(
            &link.delta_g1,
            &link.delta_g2,
            &next,
            Fr::rand(rng),
            Fr::rand(rng),
            sha,
        );
        again.check(&link.delta_g1, &next, sha).unwrap();
        assert_eq!(
            again.check(&g1, &next, sha),
            Err(LinkError::ProofOfKnowledge)
        );
    }

    #[test]
    fn every_tampering_is_refused_by_name() {
        let rng = &mut test_rng();
        let (g1, g2, head) = start();
        let link = Link::contribute(&g1, &g2, &head, Fr::rand(rng), Fr::rand(rng), sha);
        assert_eq!(link.check(&g1, &[8u8; 32], sha), Err(LinkError::Parent));
        // A δ₂ for another δ: the proof holds, the pairing does not.
        let other_g2 = (G2Projective::generator() * Fr::rand(rng)).into_affine();
        let split = Link {
            delta_g2: other_g2,
            ..link
        };
        assert_eq!(split.check(&g1, &head, sha), Err(LinkError::DeltaG1G2));
        // A δ₁ moved without knowing the ratio.
        let moved = Link {
            delta_g1: (link.delta_g1 + g1).into_affine(),
            ..link
        };
        assert_eq!(
            moved.check(&g1, &head, sha),
            Err(LinkError::ProofOfKnowledge)
        );
        let answered = Link {
            response: link.response + Fr::from(1u64),
            ..link
        };
        assert_eq!(
            answered.check(&g1, &head, sha),
            Err(LinkError::ProofOfKnowledge)
        );
        let zero = Link {
            delta_g1: G1Affine::zero(),
            ..link
        };
        assert_eq!(zero.check(&g1, &head, sha), Err(LinkError::Degenerate));
        let mut bytes = link.encode();
        assert_eq!(Link::decode(&bytes[..100]), Err(LinkError::Malformed));
        bytes[40] ^= 0x5a;
        assert!(matches!(
            Link::decode(&bytes).map(|l| l.check(&g1, &head, sha)),
            Err(LinkError::Malformed) | Ok(Err(_))
        ));
    }

    #[test]
    fn a_prepared_key_moves_only_its_delta() {
        let rng = &mut test_rng();
        let vk = VerifyingKey::<Bn254> {
            alpha_g1: (G1Affine::generator() * Fr::rand(rng)).into_affine(),
            beta_g2: (G2Affine::generator() * Fr::rand(rng)).into_affine(),
            gamma_g2: G2Affine::generator(),
            delta_g2: (G2Affine::generator() * Fr::rand(rng)).into_affine(),
            gamma_abc_g1: alloc::vec![G1Affine::generator(); 2],
        };
        let mut compressed = Vec::new();
        vk.serialize_compressed(&mut compressed).unwrap();
        let prepared = crate::verifier::prepare(&compressed).unwrap();
        assert_eq!(prepared_delta_g2(&prepared), Some(vk.delta_g2));
        let new_delta = (G2Affine::generator() * Fr::rand(rng)).into_affine();
        let moved = with_delta_g2(&prepared, new_delta).unwrap();
        let mut expected_vk = vk.clone();
        expected_vk.delta_g2 = new_delta;
        let mut expected = Vec::new();
        expected_vk.serialize_compressed(&mut expected).unwrap();
        assert_eq!(moved, crate::verifier::prepare(&expected).unwrap());
    }

    #[test]
    fn recorded_deltas_round_trip_and_pair() {
        let rng = &mut test_rng();
        let d = Fr::rand(rng);
        let g1 = (G1Affine::generator() * d).into_affine();
        let g2 = (G2Affine::generator() * d).into_affine();
        assert_eq!(decode_delta_g1(&encode_delta_g1(&g1)).unwrap(), g1);
        assert!(same_delta(&g1, &g2));
        assert!(!same_delta(&G1Affine::generator(), &g2));
        assert_eq!(
            decode_delta_g1(&encode_delta_g1(&G1Affine::zero())),
            Err(LinkError::Degenerate)
        );
        assert_eq!(decode_delta_g1(&[1u8; 5]), Err(LinkError::Malformed));
    }
}
