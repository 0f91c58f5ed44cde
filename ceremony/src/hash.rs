//! Hashing: the transcript's hash chain, digests of states, and Fiat–Shamir challenges.

use ark_serialize::CanonicalSerialize;
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// Domain separator of the phase-1 hash chain.
pub(crate) const PHASE1_DOMAIN: &[u8] = b"merit-ceremony/v1/phase1";
/// Domain separator of the phase-2 hash chain.
pub(crate) const PHASE2_DOMAIN: &[u8] = b"merit-ceremony/v1/phase2";
/// Domain separator of a contribution's link in the chain (the contract's, too).
pub(crate) use merit_protocol::setup_link::LINK_DOMAIN;
/// Domain separator of a circuit's digest.
pub(crate) const CIRCUIT_DOMAIN: &[u8] = b"merit-ceremony/v1/circuit";
/// Domain separator of a digest of a serialised object (a state or a key).
pub(crate) const OBJECT_DOMAIN: &[u8] = b"merit-ceremony/v1/object";

/// SHA-256 over length-prefixed parts (`merit_protocol::setup_link::framed`), so no two
/// part lists collide by concatenation.
pub(crate) fn hash_parts(domain: &[u8], parts: &[&[u8]]) -> Digest {
    sha256(&merit_protocol::setup_link::framed(domain, parts))
}

/// Plain SHA-256.
pub(crate) fn sha256(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
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
