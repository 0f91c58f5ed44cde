//! Local training. [`Learner`] is the seam: global parameters in, new local parameters out,
//! both flat f32 vectors in the spec's file order (`ProjectSpec::tensor_shapes`: per layer
//! `l{i}.weight` `[out, in]` row-major, then `l{i}.bias` `[out]`). The node loop only sees
//! the trait, so it is tested without candle; [`CandleModel`] is the real implementation.

use crate::data::Dataset;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW, SGD};
use candle_nn::Module;
use merit_protocol::spec::{ModelArch, Optimizer as SpecOptimizer, ProjectSpec};
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("candle")]
    Candle(#[from] candle_core::Error),
    #[error("the global model has {found} parameters; the spec's model has {expected}")]
    ParamCount { found: usize, expected: usize },
    #[error("the data has {found} features per row; the spec's model takes {expected}")]
    Inputs { found: usize, expected: usize },
    #[error("the data has {found} classes; the spec's model has {expected}")]
    Classes { found: usize, expected: usize },
    #[error("no training data")]
    NoData,
}

/// Called after every batch with (batches done, batches in total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Trains a model from given parameters on local data.
pub trait Learner {
    /// Number of parameters in the flat vector.
    fn parameter_count(&self) -> usize;

    /// Starts from `global`, trains on `data` (batch order drawn from `seed`), returns the
    /// new parameters in the same flat order.
    fn train(
        &mut self,
        global: &[f32],
        data: &Dataset,
        seed: u64,
        progress: Progress<'_>,
    ) -> Result<Vec<f32>, LearnError>;

    /// Share of `data` classified correctly by `params`.
    fn accuracy(&self, params: &[f32], data: &Dataset) -> Result<f32, LearnError>;
}

/// The spec's MLP (ReLU between layers, softmax cross-entropy) on candle's CPU backend.
#[derive(Debug, Clone)]
pub struct CandleModel {
    /// Layer widths: input, hidden…, classes.
    widths: Vec<usize>,
    epochs: u32,
    batch_size: usize,
    learning_rate: f64,
    optimizer: SpecOptimizer,
    device: Device,
}

impl CandleModel {
    /// The model, optimiser and hyper-parameters of `spec.training` (local epochs per round).
    pub fn from_spec(spec: &ProjectSpec) -> Self {
        let ModelArch::Mlp {
            input,
            hidden,
            classes,
        } = &spec.model;
        let mut widths = vec![*input as usize];
        widths.extend(hidden.iter().map(|&h| h as usize));
        widths.push(*classes as usize);
        Self {
            widths,
            epochs: spec.training.local_epochs,
            batch_size: spec.training.batch_size as usize,
            learning_rate: f64::from(spec.training.learning_rate),
            optimizer: spec.training.optimizer,
            device: Device::Cpu,
        }
    }

    /// The same model trained for `epochs` passes per call (central benchmarks).
    pub fn with_epochs(mut self, epochs: u32) -> Self {
        self.epochs = epochs;
        self
    }

    /// (rows, cols) of each tensor in file order; biases are (out, 1).
    fn shapes(&self) -> Vec<(usize, usize)> {
        self.widths
            .windows(2)
            .flat_map(|w| [(w[1], w[0]), (w[1], 1)])
            .collect()
    }

    fn vars(&self, params: &[f32]) -> Result<Vec<Var>, LearnError> {
        let expected = self.parameter_count();
        if params.len() != expected {
            return Err(LearnError::ParamCount {
                found: params.len(),
                expected,
            });
        }
        let mut at = 0;
        let mut vars = Vec::new();
        for (i, (r, c)) in self.shapes().into_iter().enumerate() {
            let n = r * c;
            let slice = &params[at..at + n];
            at += n;
            let t = if i % 2 == 0 {
                Tensor::from_slice(slice, (r, c), &self.device)?
            } else {
                Tensor::from_slice(slice, r, &self.device)?
            };
            vars.push(Var::from_tensor(&t)?);
        }
        Ok(vars)
    }

    fn forward(&self, tensors: &[Tensor], x: &Tensor) -> candle_core::Result<Tensor> {
        let layers = tensors.len() / 2;
        let mut h = x.clone();
        for l in 0..layers {
            let lin =
                candle_nn::Linear::new(tensors[2 * l].clone(), Some(tensors[2 * l + 1].clone()));
            h = lin.forward(&h)?;
            if l + 1 < layers {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    fn check_data(&self, data: &Dataset) -> Result<(), LearnError> {
        let (inputs, classes) = (self.widths[0], *self.widths.last().expect("widths"));
        if data.inputs != inputs {
            return Err(LearnError::Inputs {
                found: data.inputs,
                expected: inputs,
            });
        }
        if data.classes != classes {
            return Err(LearnError::Classes {
                found: data.classes,
                expected: classes,
            });
        }
        if data.is_empty() {
            return Err(LearnError::NoData);
        }
        Ok(())
    }

    fn batch(&self, data: &Dataset, idx: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
        let mut xs = Vec::with_capacity(idx.len() * data.inputs);
        let mut ys = Vec::with_capacity(idx.len());
        for &i in idx {
            xs.extend_from_slice(data.row(i));
            ys.push(data.labels[i]);
        }
        Ok((
            Tensor::from_vec(xs, (idx.len(), data.inputs), &self.device)?,
            Tensor::from_vec(ys, idx.len(), &self.device)?,
        ))
    }

    fn run_epochs(
        &self,
        vars: &[Var],
        data: &Dataset,
        seed: u64,
        progress: Progress<'_>,
    ) -> Result<(), LearnError> {
        enum Opt {
            Sgd(SGD),
            Adam(AdamW),
        }
        let mut opt = match self.optimizer {
            SpecOptimizer::Sgd => Opt::Sgd(SGD::new(vars.to_vec(), self.learning_rate)?),
            // Plain Adam: candle's AdamW with no weight decay (its default is 0.01).
            SpecOptimizer::Adam => Opt::Adam(AdamW::new(
                vars.to_vec(),
                ParamsAdamW {
                    lr: self.learning_rate,
                    weight_decay: 0.0,
                    ..ParamsAdamW::default()
                },
            )?),
        };
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let bs = self.batch_size.max(1);
        let per_epoch = data.len().div_ceil(bs) as u64;
        let total = per_epoch * u64::from(self.epochs);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut done = 0;
        for _ in 0..self.epochs {
            order.shuffle(&mut rng);
            for idx in order.chunks(bs) {
                let (x, y) = self.batch(data, idx)?;
                let logits = self.forward(&tensors, &x)?;
                let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
                match &mut opt {
                    Opt::Sgd(o) => o.backward_step(&loss)?,
                    Opt::Adam(o) => o.backward_step(&loss)?,
                }
                done += 1;
                progress(done, total);
            }
        }
        Ok(())
    }

    fn flatten(vars: &[Var]) -> Result<Vec<f32>, LearnError> {
        let mut out = Vec::new();
        for v in vars {
            out.extend(v.as_tensor().flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }
}

impl Learner for CandleModel {
    fn parameter_count(&self) -> usize {
        self.shapes().iter().map(|(r, c)| r * c).sum()
    }

    fn train(
        &mut self,
        global: &[f32],
        data: &Dataset,
        seed: u64,
        progress: Progress<'_>,
    ) -> Result<Vec<f32>, LearnError> {
        self.check_data(data)?;
        let vars = self.vars(global)?;
        self.run_epochs(&vars, data, seed, progress)?;
        Self::flatten(&vars)
    }

    fn accuracy(&self, params: &[f32], data: &Dataset) -> Result<f32, LearnError> {
        let (logits, y) = self.logits(params, data)?;
        Self::share_correct(&logits, &y, data.len())
    }
}

impl CandleModel {
    /// Accuracy and mean softmax cross-entropy of `params` on `data` (what an aggregator
    /// reports for a new model on its validation file).
    pub fn evaluate(&self, params: &[f32], data: &Dataset) -> Result<(f32, f32), LearnError> {
        let (logits, y) = self.logits(params, data)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?.to_scalar::<f32>()?;
        Ok((Self::share_correct(&logits, &y, data.len())?, loss))
    }

    /// The logits of every row of `data` under `params`, and the labels.
    fn logits(&self, params: &[f32], data: &Dataset) -> Result<(Tensor, Tensor), LearnError> {
        self.check_data(data)?;
        let tensors: Vec<Tensor> = self
            .vars(params)?
            .iter()
            .map(|v| v.as_tensor().clone())
            .collect();
        let all: Vec<usize> = (0..data.len()).collect();
        let (x, y) = self.batch(data, &all)?;
        Ok((self.forward(&tensors, &x)?, y))
    }

    fn share_correct(logits: &Tensor, y: &Tensor, rows: usize) -> Result<f32, LearnError> {
        let correct = logits
            .argmax(1)?
            .eq(y)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        Ok(correct / rows as f32)
    }
}

/// A seeded initial model in file order: weights uniform in ±1/√fan_in, biases zero (the
/// rule `merit project create` uses for the owner's initial model).
pub fn init_params(spec: &ProjectSpec, seed: u64) -> Vec<f32> {
    use rand::Rng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(spec.parameter_count() as usize);
    for t in spec.tensor_shapes() {
        let n = t.len() as usize;
        if t.dims.len() == 2 {
            let bound = 1.0 / (t.dims[1] as f32).sqrt();
            out.extend((0..n).map(|_| rng.gen_range(-bound..=bound)));
        } else {
            out.extend(std::iter::repeat_n(0.0, n));
        }
    }
    out
}

/// Number of threads candle's CPU kernels use (`RAYON_NUM_THREADS`, else every core).
pub fn threads() -> usize {
    candle_core::utils::get_num_threads()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn small_spec() -> ProjectSpec {
        let mut s = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json"))
            .expect("the example spec");
        s.features.inputs = 4;
        s.features.classes = 3;
        s.model = ModelArch::Mlp {
            input: 4,
            hidden: vec![8],
            classes: 3,
        };
        s.training.batch_size = 8;
        s.training.learning_rate = 0.5;
        s
    }

    /// Three well-separated blobs in 4-D, seeded.
    pub(crate) fn blobs(rows: usize, seed: u64) -> Dataset {
        use rand::Rng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut d = Dataset::new(4, 3);
        for i in 0..rows {
            let l = (i % 3) as u32;
            let mut x = [0f32; 4];
            for (k, v) in x.iter_mut().enumerate() {
                *v = rng.gen_range(-0.2..0.2) + if k == l as usize { 1.0 } else { 0.0 };
            }
            d.push(&x, l);
        }
        d
    }

    #[test]
    fn flat_order_is_the_spec_file_order() {
        let spec = small_spec();
        let m = CandleModel::from_spec(&spec);
        assert_eq!(m.parameter_count() as u64, spec.parameter_count());
        let params: Vec<f32> = (0..m.parameter_count()).map(|i| i as f32).collect();
        let vars = m.vars(&params).unwrap();
        // l0.weight [8, 4]: element (1, 0) is flat index 4; l0.bias follows at 32.
        let w0 = vars[0].as_tensor().to_vec2::<f32>().unwrap();
        assert_eq!((w0.len(), w0[0].len(), w0[1][0]), (8, 4, 4.0));
        assert_eq!(vars[1].as_tensor().to_vec1::<f32>().unwrap()[0], 32.0);
        let dims: Vec<Vec<u32>> = spec.tensor_shapes().into_iter().map(|t| t.dims).collect();
        let ours: Vec<Vec<u32>> = vars
            .iter()
            .map(|v| v.as_tensor().dims().iter().map(|&d| d as u32).collect())
            .collect();
        assert_eq!(ours, dims);
        assert_eq!(CandleModel::flatten(&vars).unwrap(), params);
    }

    #[test]
    fn training_learns_and_is_bit_identical_for_the_same_seed() {
        let spec = small_spec();
        let data = blobs(90, 1);
        let init = init_params(&spec, 3);
        let mut m = CandleModel::from_spec(&spec).with_epochs(20);
        let before = m.accuracy(&init, &data).unwrap();
        let mut calls = 0;
        let a = m.train(&init, &data, 7, &mut |_, _| calls += 1).unwrap();
        assert_eq!(calls, 20 * 12, "one progress call per batch (90 rows / 8)");
        let after = m.accuracy(&a, &data).unwrap();
        assert!(after >= 0.95 && after > before, "{before} -> {after}");
        let b = m.train(&init, &data, 7, &mut |_, _| {}).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
        let c = m.train(&init, &data, 8, &mut |_, _| {}).unwrap();
        assert_ne!(bits(&a), bits(&c), "another seed, another batch order");
    }

    #[test]
    fn adam_trains_too() {
        let mut spec = small_spec();
        spec.training.optimizer = SpecOptimizer::Adam;
        spec.training.learning_rate = 0.01;
        let data = blobs(90, 2);
        let init = init_params(&spec, 3);
        let mut m = CandleModel::from_spec(&spec).with_epochs(20);
        let p = m.train(&init, &data, 1, &mut |_, _| {}).unwrap();
        assert!(m.accuracy(&p, &data).unwrap() >= 0.95);
    }

    #[test]
    fn mismatched_inputs_are_refused() {
        let spec = small_spec();
        let mut m = CandleModel::from_spec(&spec);
        let init = init_params(&spec, 1);
        let e = m.train(&init[1..], &blobs(9, 1), 1, &mut |_, _| {});
        assert!(matches!(e, Err(LearnError::ParamCount { .. })));
        let e = m.train(&init, &Dataset::new(5, 3), 1, &mut |_, _| {});
        assert!(matches!(e, Err(LearnError::Inputs { found: 5, .. })));
        let e = m.train(&init, &Dataset::new(4, 3), 1, &mut |_, _| {});
        assert!(matches!(e, Err(LearnError::NoData)));
    }
}
