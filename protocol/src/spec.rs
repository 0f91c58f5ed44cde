//! `ProjectSpec`: the JSON document (in IPFS, its CID on chain) that tells trainers and the
//! aggregator what to train and how rounds are judged. Versioned; `validate` reports every
//! problem at once so an owner fixes a spec in one pass.

use crate::abi::{MAX_ROUNDS, MAX_SLOTS};
use crate::fixed::MAX_SCALE_BITS;
use crate::format::MAX_PARAMS;
use serde::{Deserialize, Serialize};

pub use crate::model::{CnnLayer, ImageShape, ModelArch};

/// 2: the angular Multi-Krum rule with a leave-one-out score (protocol v2).
pub const SPEC_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub version: u32,
    pub task: Task,
    pub features: FeatureSchema,
    pub model: ModelArch,
    pub training: Training,
    pub fixed_point: FixedPoint,
    pub rounds: u32,
    pub aggregation: Aggregation,
    /// A trainer rejected in more rounds than this forfeits its stake.
    pub max_rejected_rounds: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub name: String,
    pub kind: TaskKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Classification,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSchema {
    /// Number of input features.
    pub inputs: u32,
    /// Optional names, one per input.
    #[serde(default)]
    pub names: Vec<String>,
    pub classes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub local_epochs: u32,
    pub batch_size: u32,
    pub learning_rate: f32,
    pub optimizer: Optimizer,
    /// Updates are clipped to this L2 norm (in real units) before quantisation.
    pub clip_norm: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPoint {
    /// Parameters are i16 multiples of 2^-scale_bits.
    pub scale_bits: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AggregationJson", into = "AggregationJson")]
pub enum Aggregation {
    /// `protocol::rule`: norm ceiling, a length band around the median, a duplicate filter,
    /// Multi-Krum on directions (keep n − f), the mean, leave-one-out cosine scores.
    AngularKrum {
        /// L2 ceiling B on an update, in real units.
        norm_bound: f32,
        /// Byzantine budget f.
        byzantine: u32,
        /// Circuit slots N (the most trainers a round can have).
        slots: u32,
        /// ρ: an eligible update's length is within a factor ρ of the median's.
        norm_band: f32,
        /// τ: updates at this cosine or above are duplicates (above 1: no filter).
        duplicate_cosine: f32,
    },
}

/// ρ when the spec leaves `norm_band` out.
pub const DEFAULT_NORM_BAND: f32 = 6.0;
/// τ when the spec leaves `duplicate_cosine` out: above 1, no duplicate filter (see
/// `rule::DEFAULT_DUPLICATE_MILLI` for why).
pub const DEFAULT_DUPLICATE_COSINE: f32 = 1.01;

fn default_norm_band() -> f32 {
    DEFAULT_NORM_BAND
}

fn default_duplicate_cosine() -> f32 {
    DEFAULT_DUPLICATE_COSINE
}

/// The JSON form of [`Aggregation`]: `{"rule": "angular_krum", "norm_bound": …, …}`.
///
/// A plain struct instead of serde's internally tagged enum: that buffers the fields before
/// it reads the tag, and buffered floats cannot be read back when serde_json's
/// `arbitrary_precision` feature is on — which a polkadot-sdk crate (sp-genesis-builder)
/// turns on in every build that includes the embedded chain. The protocol's tests run with
/// that feature on (dev-dependency) so this stays fixed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregationJson {
    rule: String,
    norm_bound: f32,
    byzantine: u32,
    slots: u32,
    #[serde(default = "default_norm_band")]
    norm_band: f32,
    #[serde(default = "default_duplicate_cosine")]
    duplicate_cosine: f32,
}

impl TryFrom<AggregationJson> for Aggregation {
    type Error = String;

    fn try_from(j: AggregationJson) -> Result<Self, String> {
        match j.rule.as_str() {
            "angular_krum" => Ok(Self::AngularKrum {
                norm_bound: j.norm_bound,
                byzantine: j.byzantine,
                slots: j.slots,
                norm_band: j.norm_band,
                duplicate_cosine: j.duplicate_cosine,
            }),
            "multi_krum" => Err(
                "\"multi_krum\" is protocol v1's rule; v2 proves \"angular_krum\" \
                 (set \"rule\": \"angular_krum\" and \"version\": 2, see protocol/SPEC.md)"
                    .into(),
            ),
            other => Err(format!(
                "unknown aggregation rule {other:?} (this version knows \"angular_krum\")"
            )),
        }
    }
}

impl From<Aggregation> for AggregationJson {
    fn from(a: Aggregation) -> Self {
        let Aggregation::AngularKrum {
            norm_bound,
            byzantine,
            slots,
            norm_band,
            duplicate_cosine,
        } = a;
        Self {
            rule: "angular_krum".into(),
            norm_bound,
            byzantine,
            slots,
            norm_band,
            duplicate_cosine,
        }
    }
}

/// One thing wrong with a spec, with the JSON path of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("the spec is not valid JSON for ProjectSpec v{SPEC_VERSION}: {0}")]
    Json(String),
    #[error("the spec has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  - {}: {}", p.field, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<SpecProblem>),
}

impl ProjectSpec {
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let spec: Self = serde_json::from_str(text).map_err(|e| SpecError::Json(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a spec serialises")
    }

    /// The least `norm_bound` under which every update clipped to `clip_norm` stays in
    /// bound after quantisation: rounding moves each of the D coordinates by at most half
    /// a unit, so `‖q‖ ≤ clip_norm·2^s + √D/2` units (rounded up to the next 1/1000).
    /// `None` when `clip_norm` or `scale_bits` is itself invalid.
    pub fn least_norm_bound(&self) -> Option<f32> {
        let clip = self.training.clip_norm;
        let bits = self.fixed_point.scale_bits;
        if !(clip.is_finite() && clip > 0.0) || bits > MAX_SCALE_BITS {
            return None;
        }
        let scale = f64::from(1u32 << bits.min(15));
        let worst = f64::from(clip) * scale + (self.parameter_count() as f64).sqrt() / 2.0;
        Some(((worst / scale) * 1000.0).ceil() as f32 / 1000.0)
    }

    /// Number of model parameters (weights and biases of every layer).
    pub fn parameter_count(&self) -> u64 {
        self.model.parameter_count()
    }

    /// The model's tensors in file order (`ModelArch::tensor_shapes`, SPEC.md §7.1); their
    /// lengths add up to `parameter_count`.
    pub fn tensor_shapes(&self) -> Vec<crate::format::TensorShape> {
        self.model.tensor_shapes()
    }

    /// Checks everything, returning every problem found.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut p = Vec::new();
        let mut bad = |field: &'static str, message: String| p.push(SpecProblem { field, message });
        if self.version != SPEC_VERSION {
            bad(
                "version",
                format!(
                    "{} is not supported (expected {SPEC_VERSION})",
                    self.version
                ),
            );
        }
        if self.task.name.trim().is_empty() {
            bad("task.name", "is empty".into());
        }
        if self.features.inputs == 0 {
            bad("features.inputs", "must be at least 1".into());
        }
        if !self.features.names.is_empty()
            && self.features.names.len() != self.features.inputs as usize
        {
            bad(
                "features.names",
                format!(
                    "has {} names for {} inputs",
                    self.features.names.len(),
                    self.features.inputs
                ),
            );
        }
        if self.features.classes < 2 {
            bad(
                "features.classes",
                "a classifier needs at least 2 classes".into(),
            );
        }
        let inputs = self.model.input_features();
        if inputs != u64::from(self.features.inputs) {
            bad(
                "model.input",
                format!(
                    "takes {inputs} features but features.inputs is {}",
                    self.features.inputs
                ),
            );
        }
        let classes = self.model.classes();
        if classes != self.features.classes {
            bad(
                "model.classes",
                format!(
                    "is {classes} but features.classes is {}",
                    self.features.classes
                ),
            );
        }
        let layers_field = match self.model {
            ModelArch::Mlp { .. } => "model.hidden",
            ModelArch::Cnn { .. } => "model.layers",
        };
        for problem in self.model.plan().problems {
            bad(layers_field, problem);
        }
        let params = self.parameter_count();
        if params > MAX_PARAMS {
            bad(
                "model",
                format!("has {params} parameters (limit {MAX_PARAMS})"),
            );
        }
        let t = &self.training;
        if t.local_epochs == 0 {
            bad("training.local_epochs", "must be at least 1".into());
        }
        if t.batch_size == 0 {
            bad("training.batch_size", "must be at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            bad(
                "training.learning_rate",
                format!("{} is not a positive number", t.learning_rate),
            );
        }
        if !(t.clip_norm.is_finite() && t.clip_norm > 0.0) {
            bad(
                "training.clip_norm",
                format!("{} is not a positive number", t.clip_norm),
            );
        }
        if self.fixed_point.scale_bits > MAX_SCALE_BITS {
            bad(
                "fixed_point.scale_bits",
                format!("{} is above {MAX_SCALE_BITS}", self.fixed_point.scale_bits),
            );
        }
        if self.rounds == 0 || self.rounds > MAX_ROUNDS {
            bad(
                "rounds",
                format!("{} is outside 1..={MAX_ROUNDS}", self.rounds),
            );
        }
        let Aggregation::AngularKrum {
            norm_bound,
            byzantine,
            slots,
            norm_band,
            duplicate_cosine,
        } = &self.aggregation;
        if !(norm_bound.is_finite() && *norm_bound > 0.0) {
            bad(
                "aggregation.norm_bound",
                format!("{norm_bound} is not a positive number"),
            );
        }
        if let Some(least) = self.least_norm_bound() {
            if *norm_bound < least {
                bad(
                    "aggregation.norm_bound",
                    format!(
                        "{norm_bound} is below {least}: an update clipped to training.clip_norm {} \
                         can quantise to a length above it and go unpaid",
                        t.clip_norm
                    ),
                );
            }
        }
        if !(norm_band.is_finite() && (1.0..=1000.0).contains(norm_band)) {
            bad(
                "aggregation.norm_band",
                format!("{norm_band} is outside 1..=1000"),
            );
        }
        if !(duplicate_cosine.is_finite() && *duplicate_cosine > 0.0) {
            bad(
                "aggregation.duplicate_cosine",
                format!(
                    "{duplicate_cosine} is not a positive number (above 1 turns the filter off)"
                ),
            );
        }
        if *slots == 0 || *slots > MAX_SLOTS {
            bad(
                "aggregation.slots",
                format!("{slots} is outside 1..={MAX_SLOTS}"),
            );
        }
        // Krum scores sum the n − f − 2 nearest distances: at least one is needed.
        if u64::from(*slots) < 2 * u64::from(*byzantine) + 3 {
            bad(
                "aggregation.byzantine",
                format!(
                    "Multi-Krum needs slots >= 2f + 3; {slots} slots allow f <= {}",
                    slots.saturating_sub(3) / 2
                ),
            );
        }
        if self.max_rejected_rounds > self.rounds {
            bad(
                "max_rejected_rounds",
                format!(
                    "{} exceeds rounds ({})",
                    self.max_rejected_rounds, self.rounds
                ),
            );
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn digits() -> ProjectSpec {
        ProjectSpec {
            version: SPEC_VERSION,
            task: Task {
                name: "digits".into(),
                kind: TaskKind::Classification,
            },
            features: FeatureSchema {
                inputs: 64,
                names: vec![],
                classes: 10,
            },
            model: ModelArch::Mlp {
                input: 64,
                hidden: vec![32],
                classes: 10,
            },
            training: Training {
                local_epochs: 1,
                batch_size: 32,
                learning_rate: 0.05,
                optimizer: Optimizer::Sgd,
                clip_norm: 4.0,
            },
            fixed_point: FixedPoint { scale_bits: 10 },
            rounds: 3,
            aggregation: Aggregation::AngularKrum {
                norm_bound: 4.5,
                byzantine: 1,
                slots: 8,
                norm_band: 6.0,
                duplicate_cosine: 0.95,
            },
            max_rejected_rounds: 1,
        }
    }

    #[test]
    fn a_good_spec_round_trips_through_json() {
        let s = digits();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(ProjectSpec::from_json(&s.to_json()).unwrap(), s);
        assert_eq!(s.parameter_count(), 64 * 32 + 32 + 32 * 10 + 10);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut s = digits();
        s.version = 1;
        s.model = ModelArch::Mlp {
            input: 63,
            hidden: vec![0],
            classes: 9,
        };
        s.training.learning_rate = f32::NAN;
        s.fixed_point.scale_bits = 16;
        s.aggregation = Aggregation::AngularKrum {
            norm_bound: -1.0,
            byzantine: 3,
            slots: 8,
            norm_band: 0.5,
            duplicate_cosine: f32::NAN,
        };
        let Err(SpecError::Invalid(problems)) = s.validate() else {
            panic!("must be invalid")
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        for f in [
            "version",
            "model.input",
            "model.classes",
            "model.hidden",
            "training.learning_rate",
            "fixed_point.scale_bits",
            "aggregation.norm_bound",
            "aggregation.byzantine",
            "aggregation.norm_band",
            "aggregation.duplicate_cosine",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let text = SpecError::Invalid(problems).to_string();
        assert!(text.contains("10 problem(s)"), "{text}");
    }

    #[test]
    fn a_norm_bound_that_a_clipped_update_can_exceed_is_refused() {
        let mut s = digits();
        s.aggregation = Aggregation::AngularKrum {
            norm_bound: s.training.clip_norm,
            byzantine: 1,
            slots: 8,
            norm_band: 6.0,
            duplicate_cosine: 0.95,
        };
        let Err(SpecError::Invalid(problems)) = s.validate() else {
            panic!("a bound equal to clip_norm must be refused")
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "aggregation.norm_bound");
        assert!(problems[0].message.contains("clip_norm 4"), "{problems:?}");
        // D = 2410, s = 10: 4 + √2410 / 2 / 1024 = 4.02397…
        assert_eq!(s.least_norm_bound(), Some(4.024));
    }

    /// The measurement (about half of 2,000 random updates clipped to exactly
    /// `clip_norm` fell out of bound when both were 4.0) must not happen to a valid spec.
    #[test]
    fn every_update_clipped_under_a_valid_spec_stays_in_bound() {
        use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
        let s = digits();
        assert_eq!(s.validate(), Ok(()));
        let bound_sq = crate::rule::RuleParams::from_spec(&s).norm_bound_sq;
        let dim = s.parameter_count() as usize;
        let mut rng = StdRng::seed_from_u64(7);
        for trial in 0..2_000 {
            let delta: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let q = crate::fixed::clip_and_quantise(&delta, s.training.clip_norm, 10).unwrap();
            let n = crate::rule::norm_sq(&q);
            assert!(n <= bound_sq, "trial {trial}: ‖q‖² = {n} > B² = {bound_sq}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_json_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(&digits().to_json()).unwrap();
        v["surprise"] = serde_json::json!(1);
        assert!(
            matches!(ProjectSpec::from_json(&v.to_string()), Err(SpecError::Json(m)) if m.contains("surprise"))
        );
        assert!(matches!(
            ProjectSpec::from_json("{"),
            Err(SpecError::Json(_))
        ));
        let mut v: serde_json::Value = serde_json::from_str(&digits().to_json()).unwrap();
        v["aggregation"]["rule"] = serde_json::json!("fed_avg");
        assert!(
            matches!(ProjectSpec::from_json(&v.to_string()), Err(SpecError::Json(m)) if m.contains("fed_avg"))
        );
        let mut v: serde_json::Value = serde_json::from_str(&digits().to_json()).unwrap();
        v["aggregation"]["extra"] = serde_json::json!(2);
        assert!(
            matches!(ProjectSpec::from_json(&v.to_string()), Err(SpecError::Json(m)) if m.contains("extra"))
        );
    }

    #[test]
    fn the_aggregation_keeps_its_json_form() {
        let v: serde_json::Value = serde_json::from_str(&digits().to_json()).unwrap();
        let a = &v["aggregation"];
        assert_eq!(a["rule"], "angular_krum");
        assert_eq!(a.as_object().unwrap().len(), 6, "{a}");
    }

    #[test]
    fn the_band_and_duplicate_threshold_default_and_v1_is_named() {
        let mut v: serde_json::Value = serde_json::from_str(&digits().to_json()).unwrap();
        let a = v["aggregation"].as_object_mut().unwrap();
        a.remove("norm_band");
        a.remove("duplicate_cosine");
        let s = ProjectSpec::from_json(&v.to_string()).unwrap();
        let Aggregation::AngularKrum {
            norm_band,
            duplicate_cosine,
            ..
        } = s.aggregation;
        assert_eq!((norm_band, duplicate_cosine), (6.0, 1.01));
        assert_eq!(
            crate::rule::RuleParams::from_spec(&s).duplicate_milli,
            crate::rule::DUPLICATES_OFF
        );
        v["aggregation"]["rule"] = serde_json::json!("multi_krum");
        let err = ProjectSpec::from_json(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("angular_krum") && err.contains("v1"), "{err}");
    }
}

#[cfg(test)]
mod example_tests {
    #[test]
    fn the_shipped_example_spec_is_valid() {
        let text = include_str!("../../examples/digits-spec.json");
        let spec = super::ProjectSpec::from_json(text).unwrap();
        assert_eq!(spec.parameter_count(), 2_410);
    }

    #[test]
    fn tensor_shapes_cover_every_parameter_in_linear_layout() {
        let text = include_str!("../../examples/digits-spec.json");
        let spec = super::ProjectSpec::from_json(text).unwrap();
        let shapes = spec.tensor_shapes();
        let names: Vec<&str> = shapes.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["l0.weight", "l0.bias", "l1.weight", "l1.bias"]);
        assert_eq!(shapes[0].dims, vec![32, 64]);
        assert_eq!(shapes[3].dims, vec![10]);
        assert_eq!(
            shapes.iter().map(|t| t.len()).sum::<u64>(),
            spec.parameter_count()
        );
        let r = crate::rule::RuleParams::from_spec(&spec);
        assert_eq!((r.slots, r.dim, r.byzantine), (8, 2_410, 1));
        // norm bound 4.5 at scale 2^-10: (4.5 · 1024)² units².
        assert_eq!(r.norm_bound_sq, 4608 * 4608);
        assert_eq!((r.band_sq_milli, r.duplicate_milli), (36_000, 950));
    }
}
