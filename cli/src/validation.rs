//! The aggregator's validation hook: a held-out labelled CSV on which every new global
//! model's accuracy and loss go into the round report (reported, not proven).

use merit_aggregator::{Evaluator, Validation};
use merit_protocol::fixed;
use merit_protocol::format::ModelFile;
use merit_protocol::spec::ProjectSpec;
use merit_trainer::data::{self, Dataset};
use merit_trainer::learner::CandleModel;
use std::path::Path;

/// The spec's model evaluated on a fixed data set.
pub struct ValidationSet {
    learner: CandleModel,
    data: Dataset,
}

impl ValidationSet {
    pub fn new(spec: &ProjectSpec, data: Dataset) -> Self {
        Self {
            learner: CandleModel::from_spec(spec),
            data,
        }
    }

    /// Loads a labelled CSV with the spec's feature and class counts (errors name the
    /// file, line and column).
    pub fn load(spec: &ProjectSpec, path: &Path) -> Result<Self, data::DataError> {
        let d = data::load_csv(
            path,
            spec.features.inputs as usize,
            spec.features.classes as usize,
        )?;
        Ok(Self::new(spec, d))
    }
}

impl Evaluator for ValidationSet {
    fn evaluate(
        &self,
        model: &ModelFile,
    ) -> Result<Validation, Box<dyn std::error::Error + Send + Sync>> {
        let params = fixed::dequantise_all(&model.values, model.scale_bits)?;
        let (accuracy, loss) = self.learner.evaluate(&params, &self.data)?;
        Ok(Validation {
            accuracy: f64::from(accuracy),
            loss: f64::from(loss),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_protocol::format::Kind;

    #[test]
    fn a_model_is_scored_on_the_validation_rows() {
        let spec = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json")).unwrap();
        let mut d = Dataset::new(64, 10);
        for i in 0..20 {
            d.push(&[i as f32 / 20.0; 64], (i % 10) as u32);
        }
        let v = ValidationSet::new(&spec, d);
        let params = merit_trainer::learner::init_params(&spec, 1);
        let model = ModelFile {
            kind: Kind::Model,
            scale_bits: 10,
            tensors: spec.tensor_shapes(),
            values: fixed::quantise_all(&params, 10).unwrap(),
            floats: None,
        };
        let r = v.evaluate(&model).unwrap();
        assert!((0.0..=1.0).contains(&r.accuracy), "{r:?}");
        // Ten balanced classes and an untrained model: about ln 10 ≈ 2.3 nats.
        assert!(r.loss.is_finite() && r.loss > 1.0 && r.loss < 5.0, "{r:?}");
        // A model of the wrong length is refused, not misread.
        let short = ModelFile {
            values: vec![0; 3],
            ..model
        };
        assert!(v.evaluate(&short).is_err());
    }
}
