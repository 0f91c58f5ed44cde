//! `params-v2.json`: project specs and the rule parameters SPEC.md §6 derives from them.

use serde::{Deserialize, Serialize};

/// The rule's parameters from spec JSON (`test-vectors/params-v2.json`, SPEC.md §6).
pub const PARAMS_V2_JSON: &str = include_str!("../../test-vectors/params-v2.json");

/// `params-v2.json`: project specs and the rule parameters §6 derives from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamVectors {
    pub format: String,
    pub cases: Vec<ParamCase>,
}

/// One spec (JSON text, read as it stands) and what §6 makes of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamCase {
    pub name: String,
    pub spec: String,
    /// `D`, the model's parameter count.
    pub dim: u64,
    /// The least `norm_bound` the spec may have (binary32).
    pub least_norm_bound: f32,
    /// The spec's fields refused by validation, in the order it reports them; empty: valid.
    pub refused: Vec<String>,
    pub slots: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
}

/// The cases of `params-v2.json`: the example spec, the defaults, ties, a decimal whose
/// binary64 reading is a binary32 tie, the edges of the band and the filter, `norm_bound`
/// below and at its least value, saturation, refused values (whose parameters are still
/// what §6's formulas give), and two convolutional models (their `D` by §7.1).
pub fn param_vectors() -> ParamVectors {
    use crate::rule::RuleParams;
    use crate::spec::ProjectSpec;
    let spec = |clip: &str, scale: u8, hidden: &str, aggregation: &str| {
        format!(
            r#"{{"version": 2, "task": {{"name": "digits", "kind": "classification"}},
 "features": {{"inputs": 64, "classes": 10}},
 "model": {{"type": "mlp", "input": 64, "hidden": [{hidden}], "classes": 10}},
 "training": {{"local_epochs": 1, "batch_size": 32, "learning_rate": 0.05, "optimizer": "sgd", "clip_norm": {clip}}},
 "fixed_point": {{"scale_bits": {scale}}}, "rounds": 3,
 "aggregation": {{"rule": "angular_krum", {aggregation}}},
 "max_rejected_rounds": 1}}"#
        )
    };
    let cnn = |image: &str, layers: &str| {
        let dims: Vec<u32> = image.split(", ").map(|d| d.parse().unwrap()).collect();
        format!(
            r#"{{"version": 2, "task": {{"name": "images", "kind": "classification"}},
 "features": {{"inputs": {}, "classes": 10}},
 "model": {{"type": "cnn", "input": {{"channels": {}, "height": {}, "width": {}}},
 "layers": [{layers}], "classes": 10}},
 "training": {{"local_epochs": 1, "batch_size": 32, "learning_rate": 0.05, "optimizer": "sgd", "clip_norm": 4.0}},
 "fixed_point": {{"scale_bits": 10}}, "rounds": 3,
 "aggregation": {{"rule": "angular_krum", "norm_bound": 4.5, "byzantine": 1, "slots": 8}},
 "max_rejected_rounds": 1}}"#,
            dims.iter().product::<u32>(),
            dims[0],
            dims[1],
            dims[2]
        )
    };
    let cases = [
        (
            "the example spec",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.5, "byzantine": 1, "slots": 8, "norm_band": 6.0, "duplicate_cosine": 0.95"#,
            ),
        ),
        (
            "defaults (no norm_band, no duplicate_cosine); B² truncated",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.7, "byzantine": 1, "slots": 8"#,
            ),
        ),
        (
            "ties go away from zero: 1562.5 and 937.5",
            spec(
                "1.0",
                8,
                "16, 8",
                r#""norm_bound": 2.0, "byzantine": 2, "slots": 7, "norm_band": 1.25, "duplicate_cosine": 0.9375"#,
            ),
        ),
        (
            "a decimal just below a binary32 midpoint reads as 0.9375 through binary64",
            spec(
                "1.0",
                8,
                "16, 8",
                r#""norm_bound": 2.0, "byzantine": 2, "slots": 7, "norm_band": 1.25, "duplicate_cosine": 0.9374999701976776123046874999999"#,
            ),
        ),
        (
            "the widest band; 1000.4 per mille rounds to 1000, so the filter stays on",
            spec(
                "0.5",
                12,
                "32",
                r#""norm_bound": 0.6, "byzantine": 0, "slots": 3, "norm_band": 1000.0, "duplicate_cosine": 1.0004"#,
            ),
        ),
        (
            "norm_bound at its least value",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.024, "byzantine": 1, "slots": 8"#,
            ),
        ),
        (
            "norm_bound equal to clip_norm: refused",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.0, "byzantine": 1, "slots": 8"#,
            ),
        ),
        (
            "B² saturates",
            spec(
                "4.0",
                15,
                "32",
                r#""norm_bound": 1e15, "byzantine": 1, "slots": 8, "duplicate_cosine": 2.5"#,
            ),
        ),
        (
            "out of range: band, cosine, Byzantine budget",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.5, "byzantine": 1, "slots": 4, "norm_band": 0.5, "duplicate_cosine": 0.0"#,
            ),
        ),
        (
            "a LeNet-style CNN on 28 × 28 images (SPEC.md §7.1): D = 61,706",
            cnn(
                "1, 28, 28",
                r#"{"type": "conv2d", "out_channels": 6, "kernel": 5, "padding": 2}, {"type": "relu"},
  {"type": "max_pool2d", "size": 2}, {"type": "conv2d", "out_channels": 16, "kernel": 5},
  {"type": "relu"}, {"type": "max_pool2d", "size": 2}, {"type": "flatten"},
  {"type": "linear", "out": 120}, {"type": "relu"}, {"type": "linear", "out": 84},
  {"type": "relu"}, {"type": "linear", "out": 10}"#,
            ),
        ),
        (
            "a CNN with a strided convolution on 3 × 9 × 7 images: sides floor((h + 2p − k)/s) + 1",
            cnn(
                "3, 9, 7",
                r#"{"type": "conv2d", "out_channels": 4, "kernel": 3, "stride": 2, "padding": 1},
  {"type": "relu"}, {"type": "conv2d", "out_channels": 2, "kernel": 2}, {"type": "flatten"},
  {"type": "linear", "out": 10}"#,
            ),
        ),
    ];
    let cases = cases
        .into_iter()
        .map(|(name, text)| {
            let s: ProjectSpec = serde_json::from_str(&text).expect("the spec parses");
            let refused = match s.validate() {
                Ok(()) => Vec::new(),
                Err(crate::spec::SpecError::Invalid(ps)) => {
                    ps.iter().map(|p| p.field.to_string()).collect()
                }
                Err(e) => panic!("{e}"),
            };
            let p = RuleParams::from_spec(&s);
            ParamCase {
                name: name.into(),
                dim: s.parameter_count(),
                least_norm_bound: s.least_norm_bound().expect("clip_norm and scale are valid"),
                refused,
                slots: p.slots,
                byzantine: p.byzantine,
                norm_bound_sq: p.norm_bound_sq,
                band_sq_milli: p.band_sq_milli,
                duplicate_milli: p.duplicate_milli,
                spec: text,
            }
        })
        .collect();
    ParamVectors {
        format: "merit parameter vectors v2".into(),
        cases,
    }
}
