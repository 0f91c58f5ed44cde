//! Central training of the spec's model on one data set (`merit bench train`): the
//! baseline a federated run is compared with, and candle's speed on this machine.

use crate::data::{self, Dataset, HOLDOUT_SEED, TEST_FRACTION};
use crate::learner::{self, CandleModel, LearnError, Learner};
use merit_protocol::spec::ProjectSpec;
use std::time::Instant;

#[derive(Debug, Clone, serde::Serialize)]
pub struct CentralReport {
    /// Mean wall seconds per epoch.
    pub epoch_s: f64,
    /// Seconds of every epoch, in order.
    pub epochs_s: Vec<f64>,
    /// Accuracy on the held-out test split after the last epoch.
    pub test_accuracy: f32,
    pub train_accuracy: f32,
    pub threads: usize,
    /// Parameters of the spec's model.
    pub parameters: usize,
    pub optimizer: merit_protocol::spec::Optimizer,
    pub learning_rate: f32,
    pub batch_size: u32,
    pub train_rows: usize,
    pub test_rows: usize,
    pub epochs: u32,
}

/// The holdout: features divided by their largest absolute value (as
/// `merit data split` does), then the fixed stratified 80/20 train/test split.
pub fn holdout(d: &Dataset) -> (Dataset, Dataset) {
    let mut d = d.clone();
    let max = d.features.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max > 0.0 {
        d.scale(max);
    }
    let all: Vec<usize> = (0..d.len()).collect();
    let (train, test) = data::stratified_split(&d, &all, TEST_FRACTION, HOLDOUT_SEED);
    (d.select(&train), d.select(&test))
}

/// Trains the spec's model (its optimiser, learning rate and batch size) from a seeded
/// initialisation for `epochs` passes over `train`, timing each epoch.
pub fn central(
    spec: &ProjectSpec,
    train: &Dataset,
    test: &Dataset,
    epochs: u32,
    seed: u64,
) -> Result<CentralReport, LearnError> {
    let mut params = learner::init_params(spec, seed);
    let mut m = CandleModel::from_spec(spec).with_epochs(1);
    let mut epochs_s = Vec::with_capacity(epochs as usize);
    for e in 0..epochs {
        let t = Instant::now();
        params = m.train(&params, train, seed ^ u64::from(e), &mut |_, _| {})?;
        epochs_s.push(t.elapsed().as_secs_f64());
    }
    Ok(CentralReport {
        epoch_s: epochs_s.iter().sum::<f64>() / f64::from(epochs.max(1)),
        epochs_s,
        test_accuracy: m.accuracy(&params, test)?,
        train_accuracy: m.accuracy(&params, train)?,
        threads: learner::threads(),
        parameters: m.parameter_count(),
        optimizer: spec.training.optimizer,
        learning_rate: spec.training.learning_rate,
        batch_size: spec.training.batch_size,
        train_rows: train.len(),
        test_rows: test.len(),
        epochs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::tests::{blobs, small_spec};

    #[test]
    fn central_training_reports_every_epoch_and_learns() {
        let (train, test) = holdout(&blobs(150, 4));
        assert_eq!((train.len(), test.len()), (120, 30));
        let r = central(&small_spec(), &train, &test, 5, 1).unwrap();
        assert_eq!(r.epochs_s.len(), 5);
        assert!(r.test_accuracy >= 0.9, "{r:?}");
        assert!(r.threads >= 1);
        assert_eq!(r.parameters, 4 * 8 + 8 + 8 * 3 + 3);
    }

    #[test]
    fn every_example_spec_trains_centrally() {
        for (text, parameters) in [
            (include_str!("../../examples/digits-spec.json"), 2_410),
            (include_str!("../../examples/mnist-mlp-spec.json"), 25_450),
            // LeNet-5's 61,706, as PyTorch counts them (bench/train_torch.py).
            (include_str!("../../examples/mnist-cnn-spec.json"), 61_706),
        ] {
            let spec = ProjectSpec::from_json(text).unwrap();
            let (inputs, classes) = (
                spec.features.inputs as usize,
                spec.features.classes as usize,
            );
            // 5 rows per class, unscaled pixel-like values 0..=255.
            let mut d = Dataset::new(inputs, classes);
            for r in 0..5 * classes {
                let row: Vec<f32> = (0..inputs).map(|p| ((r * 7 + p) % 256) as f32).collect();
                d.push(&row, (r % classes) as u32);
            }
            let (train, test) = holdout(&d);
            assert!(train.features.iter().all(|x| (0.0..=1.0).contains(x)));
            let r = central(&spec, &train, &test, 1, 1).unwrap();
            assert_eq!((r.parameters, r.epochs_s.len()), (parameters, 1));
            assert_eq!(r.parameters as u64, spec.parameter_count());
            assert_eq!((r.train_rows, r.test_rows), (4 * classes, classes));
        }
    }
}
