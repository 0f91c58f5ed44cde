//! Local training. [`Learner`] is the seam: global parameters in, new local parameters out,
//! both flat f32 vectors in the spec's file order (`ProjectSpec::tensor_shapes`: per layer
//! with parameters `l{i}.weight` — `[out, in]`, or `[out, in, k, k]` for a convolution —
//! row-major, then `l{i}.bias` `[out]`). The node loop only sees
//! the trait, so it is tested without candle; [`CandleModel`] is the real implementation.

use crate::data::Dataset;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW, SGD};
use candle_nn::Module;
use merit_protocol::model::{Activation, Op, Plan};
use merit_protocol::spec::{Optimizer as SpecOptimizer, ProjectSpec};
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
    #[error("the spec's model cannot run: {0}")]
    Model(String),
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

/// The spec's model (an MLP or a CNN, `merit_protocol::model`) with softmax
/// cross-entropy, on candle's CPU backend.
#[derive(Debug, Clone)]
pub struct CandleModel {
    /// The layers as they run; `problems` non-empty for a spec that was never validated.
    plan: Plan,
    classes: usize,
    epochs: u32,
    batch_size: usize,
    learning_rate: f64,
    optimizer: SpecOptimizer,
    device: Device,
}

impl CandleModel {
    /// The model, optimiser and hyper-parameters of `spec.training` (local epochs per round).
    pub fn from_spec(spec: &ProjectSpec) -> Self {
        Self {
            plan: spec.model.plan(),
            classes: spec.model.classes() as usize,
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

    /// Dims of each tensor in file order: per layer with parameters, weight then bias.
    fn shapes(&self) -> Vec<Vec<usize>> {
        self.plan
            .ops
            .iter()
            .filter_map(Op::parameter_dims)
            .flat_map(|(w, b)| [w, b])
            .map(|d| d.into_iter().map(|x| x as usize).collect())
            .collect()
    }

    fn vars(&self, params: &[f32]) -> Result<Vec<Var>, LearnError> {
        if let Some(problem) = self.plan.problems.first() {
            return Err(LearnError::Model(problem.clone()));
        }
        let expected = self.parameter_count();
        if params.len() != expected {
            return Err(LearnError::ParamCount {
                found: params.len(),
                expected,
            });
        }
        let mut at = 0;
        let mut vars = Vec::new();
        for dims in self.shapes() {
            let n: usize = dims.iter().product();
            let t = Tensor::from_slice(&params[at..at + n], dims, &self.device)?;
            at += n;
            vars.push(Var::from_tensor(&t)?);
        }
        Ok(vars)
    }

    /// The plan's layers on a batch `x` of flat rows; `tensors` in file order.
    fn forward(&self, tensors: &[Tensor], x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = match self.plan.input {
            Activation::Image {
                channels,
                height,
                width,
            } => x.reshape((
                x.dim(0)?,
                channels as usize,
                height as usize,
                width as usize,
            ))?,
            Activation::Flat(_) => x.clone(),
        };
        let mut params = tensors.chunks(2);
        let mut next = || {
            params
                .next()
                .expect("the plan's shapes give two tensors per layer")
        };
        for op in &self.plan.ops {
            h = match *op {
                Op::Conv2d {
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let [w, b] = next() else { unreachable!() };
                    conv2d(&h, w, b, kernel as usize, stride as usize, padding as usize)?
                }
                Op::MaxPool2d { size } => max_pool2d(&h, size as usize)?,
                Op::Relu => h.relu()?,
                Op::Flatten => h.flatten_from(1)?,
                Op::Linear { .. } => {
                    let [w, b] = next() else { unreachable!() };
                    candle_nn::Linear::new(w.clone(), Some(b.clone())).forward(&h)?
                }
            };
        }
        Ok(h)
    }

    fn check_data(&self, data: &Dataset) -> Result<(), LearnError> {
        let (inputs, classes) = (self.plan.input.len() as usize, self.classes);
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

/// A convolution as patches times weights (im2col), from ops whose gradients candle gets
/// right: its own `conv2d` returned wrong kernel gradients here (a finite-difference test
/// caught it), so training would quietly learn less.
/// `x` is `[batch, in, h, w]`, `w` `[out, in, k, k]`, `b` `[out]`.
fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    k: usize,
    stride: usize,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let x = if padding > 0 {
        x.pad_with_zeros(2, padding, padding)?
            .pad_with_zeros(3, padding, padding)?
    } else {
        x.clone()
    };
    let (batch, channels, h, wd) = x.dims4()?;
    let (oh, ow) = ((h - k) / stride + 1, (wd - k) / stride + 1);
    let every =
        |n: usize| Tensor::arange_step(0u32, (n * stride) as u32, stride as u32, x.device());
    let (rows, cols) = (every(oh)?, every(ow)?);
    let mut taps = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            let mut t =
                x.narrow(2, i, (oh - 1) * stride + 1)?
                    .narrow(3, j, (ow - 1) * stride + 1)?;
            if stride > 1 {
                t = t
                    .contiguous()?
                    .index_select(&rows, 2)?
                    .index_select(&cols, 3)?;
            }
            taps.push(t);
        }
    }
    // [batch, in, k·k, oh, ow] → [batch, in·k·k, oh·ow], in the weight's (in, i, j) order.
    let patches = Tensor::stack(&taps, 2)?.reshape((batch, channels * k * k, oh * ow))?;
    let out = w.dim(0)?;
    w.reshape((out, channels * k * k))?
        .broadcast_matmul(&patches)?
        .reshape((batch, out, oh, ow))?
        .broadcast_add(&b.reshape((1, out, 1, 1))?)
}

/// Max over `size × size` windows that tile the image (the spec makes sure they do). The
/// gradient goes to the first maximum of each window only, as PyTorch's: candle's
/// `max_pool2d` gradient came out a quarter of the true one for 2 × 2 windows, and a plain
/// `max` reduction hands the whole gradient to every tied element (whole windows tie on
/// an image's blank background).
fn max_pool2d(x: &Tensor, size: usize) -> candle_core::Result<Tensor> {
    let (batch, channels, h, w) = x.dims4()?;
    let (oh, ow) = (h / size, w / size);
    let windows = x
        .reshape((batch, channels, oh, size, ow, size))?
        .permute((0, 1, 2, 4, 3, 5))?
        .reshape((batch, channels, oh, ow, size * size))?;
    let first = windows.argmax_keepdim(4)?;
    windows.gather(&first, 4)?.squeeze(4)
}

impl Learner for CandleModel {
    fn parameter_count(&self) -> usize {
        self.shapes()
            .iter()
            .map(|d| d.iter().product::<usize>())
            .sum()
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

/// A seeded initial model in file order: weights uniform in ±1/√fan_in (fan_in: every dim
/// but the first, `in · k · k` for a convolution), biases zero (the rule `merit project
/// create` uses for the owner's initial model).
pub fn init_params(spec: &ProjectSpec, seed: u64) -> Vec<f32> {
    use rand::Rng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(spec.parameter_count() as usize);
    for t in spec.tensor_shapes() {
        let n = t.len() as usize;
        if t.dims.len() >= 2 {
            let fan_in: u32 = t.dims[1..].iter().product();
            let bound = 1.0 / (fan_in as f32).sqrt();
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
    use merit_protocol::spec::ModelArch;

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

    /// 1 × 6 × 6 images of a bright horizontal bar, vertical bar or diagonal (3 classes),
    /// at a random place, with noise.
    fn bars(rows: usize, seed: u64) -> Dataset {
        use rand::Rng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut d = Dataset::new(36, 3);
        for i in 0..rows {
            let l = (i % 3) as u32;
            let at = rng.gen_range(0..6);
            let mut x = [0f32; 36];
            for (k, v) in x.iter_mut().enumerate() {
                let (y, c) = (k / 6, k % 6);
                let on = match l {
                    0 => y == at,
                    1 => c == at,
                    _ => y == c,
                };
                *v = rng.gen_range(0.0..0.3) + if on { 1.0 } else { 0.0 };
            }
            d.push(&x, l);
        }
        d
    }

    fn small_cnn() -> ProjectSpec {
        let mut s = small_spec();
        s.features.inputs = 36;
        s.model = serde_json::from_value(serde_json::json!({
            "type": "cnn", "input": {"channels": 1, "height": 6, "width": 6},
            "layers": [
                {"type": "conv2d", "out_channels": 4, "kernel": 3, "padding": 1},
                {"type": "relu"}, {"type": "max_pool2d", "size": 2},
                {"type": "conv2d", "out_channels": 4, "kernel": 2, "stride": 1},
                {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out": 3}],
            "classes": 3
        }))
        .unwrap();
        s.training.learning_rate = 0.3;
        s.validate().expect("the small CNN spec is valid");
        s
    }

    #[test]
    fn a_convolution_is_pytorchs_cross_correlation_in_file_order() {
        // One 2 × 2 kernel over a 3 × 3 image, no padding: out[y][x] = Σ k[i][j]·in[y+i][x+j]
        // + bias, then flatten and a linear layer that sums the 4 outputs.
        let mut s = small_spec();
        s.features.inputs = 9;
        s.features.classes = 2;
        s.model = serde_json::from_value(serde_json::json!({
            "type": "cnn", "input": {"channels": 1, "height": 3, "width": 3},
            "layers": [{"type": "conv2d", "out_channels": 1, "kernel": 2},
                {"type": "flatten"}, {"type": "linear", "out": 2}],
            "classes": 2
        }))
        .unwrap();
        let m = CandleModel::from_spec(&s);
        // l0.weight [1,1,2,2] = 1 2 3 4, l0.bias = 10, l1.weight [2,4], l1.bias [2].
        let mut params = vec![1.0, 2.0, 3.0, 4.0, 10.0];
        params.extend([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(params.len(), m.parameter_count());
        let tensors: Vec<Tensor> = m
            .vars(&params)
            .unwrap()
            .iter()
            .map(|v| v.as_tensor().clone())
            .collect();
        let x =
            Tensor::from_vec((1..=9).map(|v| v as f32).collect(), (1, 9), &Device::Cpu).unwrap();
        let out = m.forward(&tensors, &x).unwrap().to_vec2::<f32>().unwrap();
        // Windows (1 2 4 5), (2 3 5 6), (4 5 7 8), (5 6 8 9) against 1 2 3 4: 37 47 67 77.
        let conv = [37.0, 47.0, 67.0, 77.0].map(|v: f32| v + 10.0);
        assert_eq!(out[0], vec![conv.iter().sum::<f32>(), conv[0]]);
    }

    #[test]
    fn a_cnn_keeps_the_spec_file_order() {
        let spec = small_cnn();
        let m = CandleModel::from_spec(&spec);
        assert_eq!(m.parameter_count() as u64, spec.parameter_count());
        let params: Vec<f32> = (0..m.parameter_count()).map(|i| i as f32).collect();
        let vars = m.vars(&params).unwrap();
        let dims: Vec<Vec<u32>> = spec.tensor_shapes().into_iter().map(|t| t.dims).collect();
        let ours: Vec<Vec<u32>> = vars
            .iter()
            .map(|v| v.as_tensor().dims().iter().map(|&d| d as u32).collect())
            .collect();
        assert_eq!(ours, dims);
        // l0.weight [4, 1, 3, 3]: element (1, 0, 2, 0) is flat index 9 + 6.
        let w = vars[0].as_tensor().to_vec3::<f32>().ok();
        assert!(w.is_none(), "rank 4");
        let w = vars[0]
            .as_tensor()
            .flatten_from(1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(w[1][6], 15.0);
        assert_eq!(CandleModel::flatten(&vars).unwrap(), params);
    }

    #[test]
    fn a_cnn_learns_and_is_bit_identical_for_the_same_seed() {
        let spec = small_cnn();
        let data = bars(120, 1);
        let init = init_params(&spec, 3);
        let mut m = CandleModel::from_spec(&spec).with_epochs(30);
        let before = m.accuracy(&init, &data).unwrap();
        let a = m.train(&init, &data, 7, &mut |_, _| {}).unwrap();
        let after = m.accuracy(&a, &data).unwrap();
        assert!(after >= 0.95 && after > before, "{before} -> {after}");
        let held_out = m.accuracy(&a, &bars(60, 2)).unwrap();
        assert!(held_out >= 0.9, "held out {held_out}");
        let b = m.train(&init, &data, 7, &mut |_, _| {}).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn a_model_that_cannot_run_is_refused_by_name() {
        let mut spec = small_cnn();
        spec.model = serde_json::from_value(serde_json::json!({
            "type": "cnn", "input": {"channels": 1, "height": 6, "width": 6},
            "layers": [{"type": "linear", "out": 3}], "classes": 3
        }))
        .unwrap();
        let mut m = CandleModel::from_spec(&spec);
        let e = m.train(&[], &bars(3, 1), 1, &mut |_, _| {}).unwrap_err();
        assert!(
            e.to_string()
                .contains("layer 0 (linear) needs a flat input"),
            "{e}"
        );
    }

    /// Candle's own conv2d and max_pool2d gradients were wrong (see `conv2d`); ours are
    /// checked against finite differences, stride and padding included. (No ReLU right
    /// before a padded convolution and a pool in the second net: windows that tie are not
    /// differentiable at all.)
    #[test]
    fn cnn_gradients_match_finite_differences() {
        let strided = serde_json::json!({
            "type": "cnn", "input": {"channels": 1, "height": 6, "width": 6},
            "layers": [{"type": "conv2d", "out_channels": 2, "kernel": 2, "stride": 2},
                {"type": "conv2d", "out_channels": 2, "kernel": 2, "padding": 1},
                {"type": "max_pool2d", "size": 2}, {"type": "relu"},
                {"type": "flatten"}, {"type": "linear", "out": 3}],
            "classes": 3
        });
        let mut other = small_cnn();
        other.model = serde_json::from_value(strided).unwrap();
        for spec in [small_cnn(), other] {
            let m = CandleModel::from_spec(&spec);
            let data = bars(6, 4);
            let params = init_params(&spec, 5);
            let all: Vec<usize> = (0..data.len()).collect();
            let (x, y) = m.batch(&data, &all).unwrap();
            let loss = |p: &[f32]| {
                let t: Vec<Tensor> = m
                    .vars(p)
                    .unwrap()
                    .iter()
                    .map(|v| v.as_tensor().clone())
                    .collect();
                candle_nn::loss::cross_entropy(&m.forward(&t, &x).unwrap(), &y).unwrap()
            };
            let vars = m.vars(&params).unwrap();
            let t: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
            let grads = candle_nn::loss::cross_entropy(&m.forward(&t, &x).unwrap(), &y)
                .unwrap()
                .backward()
                .unwrap();
            let mut analytic = Vec::new();
            for v in &vars {
                let g = grads
                    .get(v.as_tensor())
                    .expect("every parameter has a gradient");
                analytic.extend(g.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            }
            let h = 1e-3f32;
            let value = |p: &[f32]| f64::from(loss(p).to_scalar::<f32>().unwrap());
            let at = value(&params);
            for (i, &a) in analytic.iter().enumerate() {
                let (mut up, mut down) = (params.clone(), params.clone());
                up[i] += h;
                down[i] -= h;
                let (above, below) = (value(&up), value(&down));
                let h = f64::from(h);
                // Central, or one side where a ReLU or a window's maximum switches within h
                // (there the true gradient is one of the two one-sided ones).
                let differences = [
                    (above - below) / (2.0 * h),
                    (above - at) / h,
                    (at - below) / h,
                ];
                let a = f64::from(a);
                assert!(
                    differences
                        .iter()
                        .any(|n| (n - a).abs() <= 2e-3 + 0.05 * n.abs()),
                    "parameter {i}: analytic {a}, central and one-sided {differences:?}"
                );
            }
        }
    }
}
