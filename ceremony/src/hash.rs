//! Hashing: the transcript's hash chain, digests of states, and Fiat–Shamir challenges.

use ark_bn254::Fr;
use ark_ff::PrimeField;
use ark_serialize::CanonicalSerialize;
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// Domain separator of the phase-1 hash chain.
pub(crate) const PHASE1_DOMAIN: &[u8] = b"merit-ceremony/v1/phase1";
/// Domain separator of the phase-2 hash chain.
pub(crate) const PHASE2_DOMAIN: &[u8] = b"merit-ceremony/v1/phase2";
/// Domain separator of a contribution's link in the chain.
pub(crate) const LINK_DOMAIN: &[u8] = b"merit-ceremony/v1/link";
/// Domain separator of the proof-of-knowledge challenges.
pub(crate) const DLOG_DOMAIN: &[u8] = b"merit-ceremony/v1/dlog";
/// Domain separator of a circuit's digest.
pub(crate) const CIRCUIT_DOMAIN: &[u8] = b"merit-ceremony/v1/circuit";
/// Domain separator of a digest of a serialised object (a state or a key).
pub(crate) const OBJECT_DOMAIN: &[u8] = b"merit-ceremony/v1/object";

/// SHA-256 over length-prefixed parts, so no two part lists collide by concatenation.
pub(crate) fn hash_parts(domain: &[u8], parts: &[&[u8]]) -> Digest {
    let mut hasher = Sha256::new();
    absorb(&mut hasher, domain);
    for part in parts {
        absorb(&mut hasher, part);
    }
    hasher.finalize().into()
}

fn absorb(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// The compressed canonical encoding of a value.
///
/// Serialising into a `Vec` cannot fail for the arkworks types used here.
pub(crate) fn compressed<T: CanonicalSerialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(value.compressed_size());
    value
        .serialize_compressed(&mut bytes)
        .expect("serialising into a Vec never fails");
    bytes
}

/// Digest of a serialisable object (a phase-1 state, a proving key).
pub fn digest_of<T: CanonicalSerialize>(value: &T) -> Digest {
    hash_parts(OBJECT_DOMAIN, &[&compressed(value)])
}

/// A scalar from a digest-based challenge: 512 bits reduced mod r, so the bias is negligible.
pub(crate) fn challenge_scalar(domain: &[u8], parts: &[&[u8]]) -> Fr {
    let first = hash_parts(domain, parts);
    let second = hash_parts(domain, &[&first]);
    let mut wide = [0u8; 64];
    wide[..32].copy_from_slice(&first);
    wide[32..].copy_from_slice(&second);
    Fr::from_le_bytes_mod_order(&wide)
}
