//! `file-v1.json`: the Model/Update file (SPEC.md §7) in its bytes, and files a parser
//! MUST refuse.

use super::{hex32, hex_encode};
use crate::commit::Committer;
use crate::fixed;
use serde::{Deserialize, Serialize};

/// The model/update file vectors (`test-vectors/file-v1.json`, protocol/SPEC.md §7).
pub const FILE_V1_JSON: &str = include_str!("../../test-vectors/file-v1.json");

/// `file-v1.json`: files in their bytes, and files a parser MUST refuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVectors {
    pub format: String,
    pub files: Vec<FileVector>,
    pub invalid: Vec<InvalidFile>,
}

/// A valid file: its fields, its bytes, and the v3 commitment its values open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVector {
    pub name: String,
    /// `"model"` or `"update"`.
    pub kind: String,
    pub scale_bits: u8,
    pub tensors: Vec<TensorVector>,
    pub values: Vec<i16>,
    pub floats: Option<Vec<f32>>,
    /// The trainer's account, for an update.
    pub account: Option<String>,
    /// `commit_update(account, values)` for an update, `commit_model(values)` for a model
    /// (§4, v3).
    pub commitment: String,
    pub bytes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorVector {
    pub name: String,
    pub dims: Vec<u32>,
}

/// Bytes a strict parser refuses; `error` is this implementation's name for why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidFile {
    pub name: String,
    pub bytes: String,
    pub error: String,
}

fn file_vector(name: &str, f: &crate::format::ModelFile, account: Option<[u8; 32]>) -> FileVector {
    use crate::format::Kind;
    let c = Committer::new();
    let commitment = match (f.kind, account) {
        (Kind::Update, Some(a)) => c.commit_update(&a, &f.values),
        (Kind::Model, None) => c.commit_model(&f.values),
        _ => panic!("an update has an account, a model none"),
    };
    FileVector {
        name: name.into(),
        kind: match f.kind {
            Kind::Model => "model",
            Kind::Update => "update",
        }
        .into(),
        scale_bits: f.scale_bits,
        tensors: f
            .tensors
            .iter()
            .map(|t| TensorVector {
                name: t.name.clone(),
                dims: t.dims.clone(),
            })
            .collect(),
        values: f.values.clone(),
        floats: f.floats.clone(),
        account: account.as_ref().map(hex32),
        commitment: hex32(&commitment.0),
        bytes: hex_encode(&f.encode()),
    }
}

/// The files of `file-v1.json`: a model with floats (two tensors, the MLP's layout), an
/// update without floats (a rank-3 tensor, a non-ASCII name, the extremes of i16), and
/// one small update mutated field by field into files a parser MUST refuse.
pub fn file_vectors() -> FileVectors {
    use crate::format::{Kind, ModelFile, TensorShape};
    let shape = |name: &str, dims: &[u32]| TensorShape {
        name: name.into(),
        dims: dims.to_vec(),
    };
    let floats: Vec<f32> = (0..9).map(|i| (i as f32 - 4.0) / 7.0).collect();
    let model = ModelFile {
        kind: Kind::Model,
        scale_bits: 8,
        tensors: vec![shape("l0.weight", &[3, 2]), shape("l0.bias", &[3])],
        values: fixed::quantise_all(&floats, 8).expect("finite"),
        floats: Some(floats),
    };
    let update = ModelFile {
        kind: Kind::Update,
        scale_bits: 12,
        tensors: vec![shape("Δ/w", &[2, 1, 3])],
        values: vec![-32768, 32767, 0, -1, 1, 4095],
        floats: None,
    };
    let account: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5a);
    let small = ModelFile {
        kind: Kind::Update,
        scale_bits: 10,
        tensors: vec![shape("w", &[2])],
        values: vec![1, -1],
        floats: Some(vec![0.001, -0.001]),
    };
    // The small file's layout: magic 0..8, version 8..10, kind 10, scale 11, tensor count
    // 12..14, name length 14..16, name 16, rank 17, dims 18..22, L 22..30, values 30..34,
    // float flag 34, floats 35..43.
    let base = small.encode();
    assert_eq!(base.len(), 43);
    let at = |offset: usize, with: &[u8]| {
        let mut b = base.clone();
        b[offset..offset + with.len()].copy_from_slice(with);
        b
    };
    let mutations: Vec<(&str, Vec<u8>)> = vec![
        ("bad magic", at(0, b"m")),
        ("version 2", at(8, &2u16.to_le_bytes())),
        ("kind 2", at(10, &[2])),
        ("scale 16", at(11, &[16])),
        ("no tensors", at(12, &0u16.to_le_bytes())),
        ("257 tensors", at(12, &257u16.to_le_bytes())),
        ("empty tensor name", at(14, &0u16.to_le_bytes())),
        ("tensor name not UTF-8", at(16, &[0xff])),
        ("rank 0", at(17, &[0])),
        ("rank 9", at(17, &[9])),
        ("a zero dim", at(18, &0u32.to_le_bytes())),
        ("L disagrees with the shapes", at(22, &3u64.to_le_bytes())),
        ("L above 2^24", at(22, &((1u64 << 24) + 1).to_le_bytes())),
        ("float flag 2", at(34, &[2])),
        ("a NaN float", at(35, &f32::NAN.to_le_bytes())),
        (
            "an infinite float",
            at(39, &f32::NEG_INFINITY.to_le_bytes()),
        ),
        ("floats after flag 0", at(34, &[0])),
        ("truncated by one byte", base[..42].to_vec()),
        ("one trailing byte", [&base[..], &[0]].concat()),
        ("empty file", Vec::new()),
    ];
    let invalid = mutations
        .into_iter()
        .map(|(name, bytes)| InvalidFile {
            name: name.into(),
            error: format!(
                "{:?}",
                ModelFile::parse(&bytes).expect_err("a mutated file is refused")
            ),
            bytes: hex_encode(&bytes),
        })
        .collect();
    FileVectors {
        format: "merit file vectors v1".into(),
        files: vec![
            file_vector("model with floats", &model, None),
            file_vector("update without floats", &update, Some(account)),
            file_vector(
                "the small update the invalid files mutate",
                &small,
                Some(account),
            ),
        ],
        invalid,
    }
}
