//! Key and proof files: an 8-byte magic, a little-endian u16 format version, then the
//! arkworks compressed encoding. The header makes a wrong or future file fail by name
//! instead of as "invalid point".

use ark_bn254::Bn254;
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

pub const FORMAT_VERSION: u16 = 1;
pub const VK_MAGIC: &[u8; 8] = b"MERIT-VK";
pub const PK_MAGIC: &[u8; 8] = b"MERIT-PK";
pub const PROOF_MAGIC: &[u8; 8] = b"MERIT-PF";
pub const SHAPE_MAGIC: &[u8; 8] = b"MERIT-SK";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a Merit {expected} file (magic {found:?})")]
    BadMagic {
        expected: &'static str,
        found: Vec<u8>,
    },
    #[error(
        "{what} file format version {found} is not supported (this build reads {FORMAT_VERSION})"
    )]
    UnsupportedVersion { what: &'static str, found: u16 },
    #[error("{what} file is truncated ({len} bytes)")]
    Truncated { what: &'static str, len: usize },
    #[error("{what} body does not decode: {reason}")]
    Malformed { what: &'static str, reason: String },
}

fn encode<T: CanonicalSerialize>(magic: &[u8; 8], value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + value.compressed_size());
    out.extend_from_slice(magic);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    value
        .serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

fn decode<T: CanonicalDeserialize>(
    magic: &[u8; 8],
    what: &'static str,
    bytes: &[u8],
) -> Result<T, KeyError> {
    decode_with(magic, what, bytes, ark_serialize::Validate::Yes)
}

fn decode_with<T: CanonicalDeserialize>(
    magic: &[u8; 8],
    what: &'static str,
    bytes: &[u8],
    validate: ark_serialize::Validate,
) -> Result<T, KeyError> {
    if bytes.len() < 10 {
        return Err(KeyError::Truncated {
            what,
            len: bytes.len(),
        });
    }
    if &bytes[..8] != magic {
        return Err(KeyError::BadMagic {
            expected: what,
            found: bytes[..8].to_vec(),
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != FORMAT_VERSION {
        return Err(KeyError::UnsupportedVersion {
            what,
            found: version,
        });
    }
    let mut body = &bytes[10..];
    let value = T::deserialize_with_mode(&mut body, ark_serialize::Compress::Yes, validate)
        .map_err(|e| KeyError::Malformed {
            what,
            reason: e.to_string(),
        })?;
    if !body.is_empty() {
        return Err(KeyError::Malformed {
            what,
            reason: format!("{} trailing bytes", body.len()),
        });
    }
    Ok(value)
}

/// A key or proof in arkworks' compressed encoding, without a header: what the contract
/// takes (verifying keys, proofs).
pub fn compressed<T: CanonicalSerialize>(x: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.compressed_size());
    x.serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

pub fn write_verifying_key(vk: &VerifyingKey<Bn254>) -> Vec<u8> {
    encode(VK_MAGIC, vk)
}
pub fn read_verifying_key(bytes: &[u8]) -> Result<VerifyingKey<Bn254>, KeyError> {
    decode(VK_MAGIC, "verifying key", bytes)
}
pub fn write_proving_key(pk: &ProvingKey<Bn254>) -> Vec<u8> {
    encode(PK_MAGIC, pk)
}
/// Points are decompressed but not subgroup-checked: the G2 checks of a real key's
/// hundreds of thousands of points took minutes, and a key with bad points can only make
/// its holder's proofs fail the contract's check (the verifying key, which the contract
/// uses, is fully validated). Callers compare the embedded verifying key with the chain's.
pub fn read_proving_key(bytes: &[u8]) -> Result<ProvingKey<Bn254>, KeyError> {
    decode_with(PK_MAGIC, "proving key", bytes, ark_serialize::Validate::No)
}
pub fn write_proof(proof: &Proof<Bn254>) -> Vec<u8> {
    encode(PROOF_MAGIC, proof)
}
pub fn read_proof(bytes: &[u8]) -> Result<Proof<Bn254>, KeyError> {
    decode(PROOF_MAGIC, "proof", bytes)
}

/// A proof shape's key file (chunked rounds): the shape `(N, C)` and the proving keys of
/// its chunk circuit and of its decision circuit. One file per shape, content-addressed in
/// IPFS and named on chain by `register_shape`; every project of the shape proves with it.
pub struct ShapeKeys {
    pub slots: u32,
    pub chunk: u32,
    pub chunk_key: ProvingKey<Bn254>,
    pub decision_key: ProvingKey<Bn254>,
}

pub fn write_shape_keys(
    slots: u32,
    chunk: u32,
    chunk_key: &ProvingKey<Bn254>,
    decision_key: &ProvingKey<Bn254>,
) -> Vec<u8> {
    encode(SHAPE_MAGIC, &(slots, chunk, chunk_key, decision_key))
}

/// Points are not subgroup-checked, as in [`read_proving_key`]: callers compare the
/// embedded verifying keys with the shape's on chain.
pub fn read_shape_keys(bytes: &[u8]) -> Result<ShapeKeys, KeyError> {
    let (slots, chunk, chunk_key, decision_key) =
        decode_with(SHAPE_MAGIC, "shape key", bytes, ark_serialize::Validate::No)?;
    Ok(ShapeKeys {
        slots,
        chunk,
        chunk_key,
        decision_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_circuit::Square;
    use crate::{prove, setup, verify, SetupMode};
    use ark_bn254::Fr;

    #[test]
    fn keys_and_proofs_round_trip_and_still_verify() {
        let (pk, vk) = setup(
            Square { x: None, y: None },
            SetupMode::InsecureDeterministicForTests(3),
        )
        .unwrap();
        let pk2 = read_proving_key(&write_proving_key(&pk)).unwrap();
        let vk2 = read_verifying_key(&write_verifying_key(&vk)).unwrap();
        assert_eq!(vk, vk2);
        let proof = prove(
            &pk2,
            &Square {
                x: Some(Fr::from(3u64)),
                y: Some(Fr::from(9u64)),
            },
        )
        .unwrap();
        let proof2 = read_proof(&write_proof(&proof)).unwrap();
        assert!(verify(&vk2, &proof2, &[Fr::from(9u64)]).unwrap());
    }

    #[test]
    fn shape_key_files_round_trip_and_are_not_proving_keys() {
        let keys = |seed| {
            setup(
                Square { x: None, y: None },
                SetupMode::InsecureDeterministicForTests(seed),
            )
            .unwrap()
            .0
        };
        let (a, b) = (keys(5), keys(6));
        let file = write_shape_keys(8, 8192, &a, &b);
        let back = read_shape_keys(&file).unwrap();
        assert_eq!((back.slots, back.chunk), (8, 8192));
        assert_eq!(
            (back.chunk_key.vk, back.decision_key.vk),
            (a.vk, b.vk.clone())
        );
        assert!(matches!(
            read_shape_keys(&write_proving_key(&b)),
            Err(KeyError::BadMagic { .. })
        ));
        assert!(matches!(
            read_shape_keys(&file[..file.len() - 3]),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn bad_files_fail_by_name() {
        let (_, vk) = setup(
            Square { x: None, y: None },
            SetupMode::InsecureDeterministicForTests(4),
        )
        .unwrap();
        let good = write_verifying_key(&vk);

        assert_eq!(
            read_verifying_key(&good[..5]),
            Err(KeyError::Truncated {
                what: "verifying key",
                len: 5
            })
        );
        assert!(matches!(
            read_proving_key(&good),
            Err(KeyError::BadMagic {
                expected: "proving key",
                ..
            })
        ));

        let mut future = good.clone();
        future[8] = 2;
        assert_eq!(
            read_verifying_key(&future),
            Err(KeyError::UnsupportedVersion {
                what: "verifying key",
                found: 2
            })
        );

        let mut cut = good.clone();
        cut.truncate(good.len() - 1);
        assert!(matches!(
            read_verifying_key(&cut),
            Err(KeyError::Malformed { .. })
        ));

        let mut long = good.clone();
        long.push(0);
        let e = read_verifying_key(&long).unwrap_err();
        assert!(e.to_string().contains("trailing"), "{e}");

        // alpha_g1's x-coordinate set to all ones: not a field element, so not a point.
        let mut corrupt = good;
        corrupt[10..42].fill(0xff);
        assert!(matches!(
            read_verifying_key(&corrupt),
            Err(KeyError::Malformed { .. })
        ));
    }
}
